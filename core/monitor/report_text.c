/*
 * monitor/report_text.c - the report as a terminal table, 80 columns.
 *
 * Strings from the store are user data: control characters (an escape
 * sequence in a feature name would drive the terminal) and invalid UTF-8
 * are written as '?', and long names are cut with an ellipsis so the
 * columns hold.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "monitor/report.h"

#define RESET  "\033[0m"
#define BOLD   "\033[1m"
#define DIM    "\033[2m"
#define RED    "\033[31m"
#define GREEN  "\033[32m"
#define YELLOW "\033[33m"

#define NAME_W   24
#define METHOD_W 11
#define TITLE_W  48
/* Open alerts listed; `orrery monitor alerts` lists them all. */
#define MAX_ALERTS_SHOWN 10

struct tx {
    FILE *f;
    int   color;
};

static void on(const struct tx *t, const char *code)
{
    if (t->color)
        fputs(code, t->f);
}

static void off(const struct tx *t)
{
    if (t->color)
        fputs(RESET, t->f);
}

/* Bytes of the UTF-8 sequence at `s` if valid and printable, else 0. */
static size_t seq_len(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x20 || c == 0x7f)
        return 0;
    size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 && c >= 0xc2 ? 2
             : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 && c <= 0xf4
             ? 4 : 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    /* C1 controls (U+0080..U+009F) act on terminals too. */
    if (n == 2 && c == 0xc2 && s[1] < 0xa0)
        return 0;
    return n;
}

/* Columns `s` takes once cleaned (one per code point). */
static size_t width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = seq_len(p);
        p += n ? n : 1;
        w++;
    }
    return w;
}

/* Write `s` cleaned, cut to `max` columns (… marks a cut), padded to
 * `pad` columns (0: no padding). */
static void put(const struct tx *t, const char *s, size_t max, size_t pad)
{
    if (!s)
        s = "";
    size_t w = width(s), used = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (w > max && used + 1 == max) {
            fputs("\xe2\x80\xa6", t->f);
            used++;
            break;
        }
        if (used == max)
            break;
        size_t n = seq_len(p);
        if (n)
            fwrite(p, 1, n, t->f);
        else
            fputc('?', t->f);
        p += n ? n : 1;
        used++;
    }
    for (; used < pad; used++)
        fputc(' ', t->f);
}

static void fmt_num(char *out, size_t cap, double x)
{
    if (isnan(x))
        snprintf(out, cap, "\xe2\x80\x93");
    else if (fabs(x) >= 1e5 || (x != 0 && fabs(x) < 1e-3))
        snprintf(out, cap, "%.3g", x);
    else
        snprintf(out, cap, "%.4f", x);
}

static void fmt_pct(char *out, size_t cap, double x)
{
    if (isnan(x))
        snprintf(out, cap, "\xe2\x80\x93");
    else
        snprintf(out, cap, "%.1f%%", x * 100);
}

static void fmt_time(char *out, size_t cap, int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm) || !strftime(out, cap, "%Y-%m-%d %H:%M", &tm))
        snprintf(out, cap, "?");
}

/* A number right-aligned in `w` columns (the dash is 3 bytes, 1 column). */
static void rjust(const struct tx *t, const char *s, int w)
{
    int cols = (int)width(s);
    for (int i = cols; i < w; i++)
        fputc(' ', t->f);
    fputs(s, t->f);
}

static const char *status_color(const char *status)
{
    return !strcmp(status, "ok") ? GREEN
         : !strcmp(status, "no_data") ? YELLOW : RED;
}

static void header(const struct tx *t, const struct orri_report *r,
                   const struct orri_report_window *w)
{
    char a[32], b[32];
    on(t, BOLD);
    fputs("Model ", t->f);
    put(t, r->model, 40, 0);
    fputs("  version ", t->f);
    put(t, w->version, 12, 0);
    off(t);
    fputs("  monitor ", t->f);
    put(t, w->monitor, 16, 0);
    fputc('\n', t->f);
    fmt_time(a, sizeof a, w->start_ms);
    fmt_time(b, sizeof b, w->end_ms);
    fprintf(t->f, "Window #%lld  %s \xe2\x86\x92 %s UTC  %lld rows"
            " (%lld labelled)\n", (long long)w->id, a, b,
            (long long)w->n_rows, (long long)w->n_labelled);
    fputs("Status ", t->f);
    on(t, BOLD);
    on(t, status_color(w->status));
    for (const char *p = w->status; *p; p++)
        fputc(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p, t->f);
    off(t);
    if (w->message && *w->message) {
        fputs("  ", t->f);
        put(t, w->message, 60, 0);
    }
    fputs("\n\n", t->f);
}

static void features(const struct tx *t, const struct orri_report *r)
{
    if (r->n_features == 0) {
        fputs("No per-feature figures in this window.\n\n", t->f);
        return;
    }
    on(t, BOLD);
    fprintf(t->f, "%-*s %-*s %9s %10s  %-7s %8s\n", NAME_W, "feature",
            METHOD_W, "method", "score", "threshold", "drifted",
            "missing");
    off(t);
    for (size_t i = 0; i < r->n_features; i++) {
        const struct orri_report_feature *f = &r->features[i];
        char score[32], thr[32], miss[32];
        fmt_num(score, sizeof score, f->score);
        fmt_num(thr, sizeof thr, f->threshold);
        fmt_pct(miss, sizeof miss, f->missing_rate);
        if (f->absent)
            snprintf(score, sizeof score, "absent");
        put(t, f->name, NAME_W, NAME_W);
        fputc(' ', t->f);
        put(t, f->method ? f->method : "\xe2\x80\x93", METHOD_W, METHOD_W);
        fputc(' ', t->f);
        rjust(t, score, 9);
        fputc(' ', t->f);
        rjust(t, thr, 10);
        fputs("  ", t->f);
        if (f->drifted == 1) {
            on(t, RED);
            fputs("\xe2\x9c\x93 yes  ", t->f);
        } else if (f->drifted == 0) {
            on(t, GREEN);
            fputs("\xe2\x9c\x97 no   ", t->f);
        } else {
            on(t, DIM);
            fputs("\xe2\x80\x93      ", t->f);
        }
        off(t);
        fputc(' ', t->f);
        rjust(t, miss, 8);
        fputc('\n', t->f);
        if (f->output)
            fputs("    a model output: not counted among the features\n",
                  t->f);
        /* Only failed checks: the rest is in --json and the HTML. */
        for (size_t j = 0; j < f->n_checks; j++) {
            const struct orri_report_check *c = &f->checks[j];
            if (!c->alert)
                continue;
            fmt_num(score, sizeof score, c->value);
            fmt_num(thr, sizeof thr, c->threshold);
            fputs("    ", t->f);
            put(t, c->metric, 30, 0);
            fprintf(t->f, " %s (threshold %s)", score, thr);
            on(t, RED);
            fputs("  ALERT", t->f);
            off(t);
            fputc('\n', t->f);
        }
    }
    fputc('\n', t->f);
}

static void dataset(const struct tx *t, const struct orri_report *r,
                    const struct orri_report_window *w)
{
    int scored = 0, drifted = 0, absent = 0;
    for (size_t i = 0; i < r->n_features; i++) {
        if (r->features[i].output)
            continue;
        scored += r->features[i].drifted >= 0;
        drifted += r->features[i].drifted == 1;
        absent += r->features[i].absent;
    }
    char share[32], thr[32];
    fmt_pct(share, sizeof share, w->drift_share);
    fmt_pct(thr, sizeof thr, w->drift_share_threshold);
    fprintf(t->f, "Dataset drift: %s", share);
    if (scored)
        fprintf(t->f, " (%d of %d features drifted)", drifted, scored);
    if (!isnan(w->drift_share_threshold))
        fprintf(t->f, ", threshold %s", thr);
    fputc('\n', t->f);
    if (absent)
        fprintf(t->f, "  %d feature%s absent from the current data\n",
                absent, absent > 1 ? "s" : "");
    for (size_t i = 0; i < r->n_dataset; i++) {
        const struct orri_report_check *c = &r->dataset[i];
        char v[32];
        fmt_num(v, sizeof v, c->value);
        fputs("  ", t->f);
        put(t, c->metric, 30, 0);
        if (c->method) {
            fputs(" (", t->f);
            put(t, c->method, 16, 0);
            fputc(')', t->f);
        }
        fprintf(t->f, ": %s", v);
        if (!isnan(c->threshold)) {
            fmt_num(v, sizeof v, c->threshold);
            fprintf(t->f, ", threshold %s", v);
        }
        if (c->alert) {
            on(t, RED);
            fputs("  ALERT", t->f);
            off(t);
        }
        fputc('\n', t->f);
    }
    fputc('\n', t->f);
}

static void quality(const struct tx *t, const struct orri_report *r)
{
    if (r->n_quality == 0) {
        fputs("Model quality: no labelled predictions in this window.\n\n",
              t->f);
        return;
    }
    on(t, BOLD);
    fprintf(t->f, "%-*s %10s %11s %10s %10s\n", NAME_W, "quality",
            "current", "registered", "change", "threshold");
    off(t);
    for (size_t i = 0; i < r->n_quality; i++) {
        const struct orri_report_quality *q = &r->quality[i];
        char v[32], reg[32], d[32], thr[32];
        fmt_num(v, sizeof v, q->value);
        fmt_num(reg, sizeof reg, q->registered);
        fmt_num(thr, sizeof thr, q->threshold);
        double delta = q->value - q->registered;
        if (isnan(delta))
            snprintf(d, sizeof d, "\xe2\x80\x93");
        else
            snprintf(d, sizeof d, "%+.4f", delta);
        int worse = !isnan(delta) &&
                    (q->lower_is_better ? delta > 0 : delta < 0);
        put(t, q->metric, NAME_W, NAME_W);
        fputc(' ', t->f);
        rjust(t, v, 10);
        fputc(' ', t->f);
        rjust(t, reg, 11);
        fputc(' ', t->f);
        if (worse || q->alert)
            on(t, RED);
        rjust(t, d, 10);
        off(t);
        fputc(' ', t->f);
        rjust(t, thr, 10);
        fputc('\n', t->f);
    }
    fputc('\n', t->f);
}

static void alerts(const struct tx *t, const struct orri_report *r)
{
    if (r->n_open_alerts == 0) {
        fputs("Open alerts: none\n", t->f);
        return;
    }
    on(t, BOLD);
    fprintf(t->f, "Open alerts (%zu)\n", r->n_open_alerts);
    off(t);
    size_t shown = 0;
    for (size_t i = 0; i < r->n_alerts && shown < MAX_ALERTS_SHOWN; i++) {
        const struct orri_report_alert *a = &r->alerts[i];
        if (!a->open)
            continue;
        shown++;
        char when[32];
        fmt_time(when, sizeof when, a->created_ms);
        fputs("  ", t->f);
        on(t, !strcmp(a->severity, "critical") ? RED
            : !strcmp(a->severity, "warning") ? YELLOW : DIM);
        fprintf(t->f, "%-8s", a->severity);
        off(t);
        fprintf(t->f, "  %s  ", when);
        put(t, a->title, TITLE_W, 0);
        fputc('\n', t->f);
    }
    if (r->n_open_alerts > shown)
        fprintf(t->f, "  ... and %zu more: orrery monitor alerts --model ",
                r->n_open_alerts - shown);
    if (r->n_open_alerts > shown) {
        put(t, r->model, 20, 0);
        fputc('\n', t->f);
    }
}

int orri_report_text(const struct orri_report *r, FILE *out, int color)
{
    struct tx t = { out, color };
    const struct orri_report_window *w = orri_report_latest(r);
    if (!w)
        return ORR_ENOTFOUND;
    header(&t, r, w);
    features(&t, r);
    dataset(&t, r, w);
    quality(&t, r);
    alerts(&t, r);
    return ferror(out) ? ORR_EIO : ORR_OK;
}
