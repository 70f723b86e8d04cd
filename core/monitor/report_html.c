/*
 * monitor/report_html.c - the report as one self-contained HTML page:
 * inline CSS, inline SVG drawn here, no script, no external resource (it
 * opens from a mail attachment or an air-gapped host the same way).
 *
 * Every string from the store goes through orri_svg_text (feature names,
 * metric names, messages and alert titles are user data).  Element ids
 * are generated (f3-dist), never derived from names.  Each chart is an
 * <svg role="img"> with a <title> and a <desc> summarising it in words,
 * and each feature card carries its numbers in a <details> table.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "monitor/report.h"
#include "monitor/svg.h"
#include "util/error.h"

/* Categories drawn before the rest are pooled as "other". */
#define MAX_CATEGORIES 12

#define DIST_W 320
#define DIST_H 160
#define TREND_W 320
#define TREND_H 110
#define WIDE_W 720
#define WIDE_H 200

static const char CSS[] =
    ":root{--ref:#8d99a8;--cur:#2f6fde;--bad:#d9480f;--ok:#2b8a3e;"
    "--warn:#c08400;--ink:#1d2430;--mute:#5c6675;--line:#e3e7ed;"
    "--bg:#f6f7f9}"
    "*{box-sizing:border-box}"
    "body{margin:0;background:var(--bg);color:var(--ink);"
    "font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}"
    "header.top{background:#fff;border-bottom:1px solid var(--line);"
    "padding:20px 32px}"
    "header.top h1{margin:0 12px 0 0;font-size:26px;display:inline}"
    ".ver{color:var(--mute);font-weight:400;font-size:18px}"
    ".badge{display:inline-block;padding:3px 12px;border-radius:999px;"
    "font-weight:600;font-size:14px;color:#fff;vertical-align:4px}"
    ".st-ok{background:var(--ok)}.st-drift{background:var(--bad)}"
    ".st-no_data{background:#868e96}.st-error{background:#a51d1d}"
    ".st-alerts{background:#d9480f}"
    "dl.facts{display:flex;flex-wrap:wrap;gap:4px 28px;margin:12px 0 0}"
    "dl.facts div{display:flex;gap:6px}dl.facts dt{color:var(--mute)}"
    "dl.facts dd{margin:0;font-weight:600}"
    ".msg{margin:10px 0 0;padding:8px 12px;background:#fff4e6;"
    "border-left:4px solid var(--warn)}"
    "main{max-width:1180px;margin:0 auto;padding:8px 32px 40px}"
    "h2{font-size:19px;margin:28px 0 10px}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fit,"
    "minmax(200px,1fr));gap:12px}"
    ".kpi{background:#fff;border:1px solid var(--line);border-radius:8px;"
    "padding:12px 16px}.kpi .v{font-size:26px;font-weight:700}"
    ".kpi .l{color:var(--mute);font-size:13px}"
    ".kpi.bad .v{color:var(--bad)}.kpi.good .v{color:var(--ok)}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,"
    "minmax(350px,1fr));gap:14px}"
    ".card{background:#fff;border:1px solid var(--line);border-radius:8px;"
    "padding:12px 14px}"
    ".card.drifted{border-color:var(--bad);box-shadow:inset 4px 0 0 "
    "var(--bad)}.card.absent{border-style:dashed}"
    ".card h3{margin:0;font-size:16px;overflow-wrap:anywhere}"
    ".pill{display:inline-block;font-size:12px;font-weight:600;"
    "padding:1px 8px;border-radius:999px;margin-left:6px;color:#fff;"
    "vertical-align:2px}.pill.d{background:var(--bad)}"
    ".pill.a{background:#868e96}.pill.k{background:var(--ok)}"
    ".pill.o{background:#495057}"
    ".meta{margin:2px 0 6px;color:var(--mute);font-size:13px}"
    "svg.chart{display:block;max-width:100%;height:auto}"
    "svg text{font:11px system-ui,sans-serif;fill:var(--mute)}"
    "svg .grid{stroke:var(--line);stroke-width:1}"
    "svg .axis{stroke:#b8c0cc;stroke-width:1}"
    "svg .ref{fill:var(--ref)}svg .cur{fill:var(--cur)}"
    "svg .cur.bad{fill:var(--bad)}"
    "svg .line{fill:none;stroke:var(--cur);stroke-width:2}"
    "svg .pt{fill:var(--cur)}svg .pt.bad{fill:var(--bad)}"
    "svg .pt.nd{fill:#fff;stroke:#868e96;stroke-width:1.5}"
    "svg .thr{stroke:var(--bad);stroke-width:1.5;stroke-dasharray:5 4;"
    "fill:none}svg .reg{stroke:var(--ok);stroke-width:1.5;"
    "stroke-dasharray:2 3;fill:none}"
    "svg .note{font-size:13px;fill:var(--mute)}"
    ".legend{display:flex;flex-wrap:wrap;gap:16px;color:var(--mute);"
    "font-size:13px;margin:0 0 10px}"
    ".sw{display:inline-block;width:12px;height:12px;border-radius:2px;"
    "vertical-align:-1px;margin-right:5px}"
    ".sw.ref{background:var(--ref)}.sw.cur{background:var(--cur)}"
    ".sw.thr{height:0;border-top:2px dashed var(--bad);width:18px}"
    ".sw.reg{height:0;border-top:2px dotted var(--ok);width:18px}"
    "details{font-size:13px;margin-top:4px}summary{cursor:pointer;"
    "color:var(--mute)}"
    "table{border-collapse:collapse;width:100%;background:#fff}"
    "th,td{text-align:left;padding:5px 10px;border-bottom:1px solid "
    "var(--line)}th{font-weight:600;color:var(--mute);font-size:13px}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".sev-critical{color:var(--bad);font-weight:700}"
    ".sev-warning{color:var(--warn);font-weight:700}"
    ".panel{background:#fff;border:1px solid var(--line);"
    "border-radius:8px;padding:12px 14px;margin-bottom:12px}"
    "footer{color:var(--mute);font-size:12px;text-align:center;"
    "padding:0 0 24px}"
    "@media print{body{background:#fff}.card,.kpi,.panel{break-inside:"
    "avoid}}";

struct page {
    struct orri_svg_out o;
    const struct orri_report *r;
};

static void fmt_time(char *out, size_t cap, int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm) || !strftime(out, cap, "%Y-%m-%d %H:%M", &tm))
        snprintf(out, cap, "?");
}

static void fmt_short_time(char *out, size_t cap, int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm) || !strftime(out, cap, "%m-%d %H:%M", &tm))
        snprintf(out, cap, "?");
}

static const char *status_class(const char *s)
{
    return !strcmp(s, "ok") ? "ok" : !strcmp(s, "drift") ? "drift"
         : !strcmp(s, "no_data") ? "no_data" : "error";
}

static const char *status_label(const char *s)
{
    return !strcmp(s, "ok") ? "OK" : !strcmp(s, "drift") ? "Drift"
         : !strcmp(s, "no_data") ? "No data" : "Error";
}

static double total(const struct orri_report_hist *h)
{
    double t = 0;
    for (size_t i = 0; i < h->n_bins; i++)
        t += h->counts[i];
    return t;
}

/* ---- distributions ------------------------------------------------------- */

/* One slot of a distribution chart: a bin or a category. */
struct slot {
    char   label[48];       /* short axis label (UTF-8, may be cut)      */
    const char *full;       /* category name, NULL for numeric bins      */
    double lo, hi;          /* numeric bins                               */
    double ref, cur;        /* shares                                     */
};

static int slot_cmp(const void *a, const void *b)
{
    const struct slot *x = a, *y = b;
    double kx = fmax(x->ref, x->cur), ky = fmax(y->ref, y->cur);
    return (kx < ky) - (kx > ky);
}

/* Cut `s` to at most `max` code points (… marks the cut). */
static void short_label(char *out, size_t cap, const char *s, size_t max)
{
    size_t n = 0, cps = 0;
    while (s[n] && cps < max) {
        size_t k = 1;
        while ((s[n + k] & 0xc0) == 0x80)
            k++;
        n += k;
        cps++;
    }
    snprintf(out, cap, "%.*s%s", (int)n, s, s[n] ? "\xe2\x80\xa6" : "");
}

static double share_of(const struct orri_report_hist *h, const char *label,
                       double tot)
{
    for (size_t i = 0; h->kind == 2 && i < h->n_bins; i++)
        if (!strcmp(h->labels[i], label))
            return tot > 0 ? h->counts[i] / tot : 0;
    return 0;
}

/* The slots of a feature; *n_out slots in a malloc'd array (NULL: none
 * or ENOMEM, *failed tells). */
static struct slot *make_slots(const struct orri_report_feature *f,
                               size_t *n_out, int *failed)
{
    const struct orri_report_hist *rf = &f->reference, *cu = &f->current;
    double tr = total(rf), tc = total(cu);
    *n_out = 0;
    struct slot *s = NULL;
    if (rf->kind == 1 || (rf->kind == 0 && cu->kind == 1)) {
        const struct orri_report_hist *b = rf->kind == 1 ? rf : cu;
        int same = cu->kind == 1 && cu->n_bins == b->n_bins;
        s = calloc(b->n_bins, sizeof *s);
        if (!s)
            goto nomem;
        for (size_t i = 0; i < b->n_bins; i++) {
            s[i].lo = b->edges[i];
            s[i].hi = b->edges[i + 1];
            s[i].ref = rf->kind == 1 && tr > 0 ? rf->counts[i] / tr : 0;
            s[i].cur = same && tc > 0 ? cu->counts[i] / tc : 0;
            orri_svg_num(s[i].label, sizeof s[i].label, s[i].lo, 0);
        }
        *n_out = b->n_bins;
        return s;
    }
    if (rf->kind != 2 && cu->kind != 2)
        return NULL;
    /* Categories of both sides, each once. */
    size_t cap = rf->n_bins + cu->n_bins, n = 0;
    s = calloc(cap + 1, sizeof *s);
    if (!s)
        goto nomem;
    const struct orri_report_hist *sides[2] = { rf, cu };
    for (int k = 0; k < 2; k++) {
        const struct orri_report_hist *h = sides[k];
        for (size_t i = 0; h->kind == 2 && i < h->n_bins; i++) {
            size_t j = 0;
            while (j < n && strcmp(s[j].full, h->labels[i]))
                j++;
            if (j < n)
                continue;
            s[n].full = h->labels[i];
            s[n].ref = share_of(rf, h->labels[i], tr);
            s[n].cur = share_of(cu, h->labels[i], tc);
            short_label(s[n].label, sizeof s[n].label, h->labels[i], 8);
            n++;
        }
    }
    qsort(s, n, sizeof *s, slot_cmp);
    if (n > MAX_CATEGORIES) {
        struct slot *other = &s[MAX_CATEGORIES - 1];
        for (size_t j = MAX_CATEGORIES; j < n; j++) {
            other->ref += s[j].ref;
            other->cur += s[j].cur;
        }
        other->full = NULL;
        snprintf(other->label, sizeof other->label, "other (%zu)",
                 n - MAX_CATEGORIES + 1);
        n = MAX_CATEGORIES;
    }
    *n_out = n;
    return s;
nomem:
    *failed = 1;
    free(s);
    return NULL;
}

static void slot_name(struct page *p, const struct slot *s, int numeric)
{
    char a[32], b[32];
    if (numeric) {
        orri_svg_num(a, sizeof a, s->lo, 0);
        orri_svg_num(b, sizeof b, s->hi, 0);
        orri_svg_printf(&p->o, "[%s, %s)", a, b);
    } else if (s->full) {
        orri_svg_text(&p->o, s->full);
    } else {
        orri_svg_text(&p->o, s->label);
    }
}

static void dist_chart(struct page *p, size_t idx,
                       const struct orri_report_feature *f,
                       const struct slot *s, size_t n, int numeric)
{
    struct orri_svg_out *o = &p->o;
    const double l = 44, r = DIST_W - 8, t = 10, b = DIST_H - 30;
    int drifted = f->drifted == 1;
    orri_svg_printf(o, "<svg class=\"chart dist\" role=\"img\""
                    " aria-labelledby=\"f%zu-dt f%zu-dd\" width=\"%d\""
                    " height=\"%d\" viewBox=\"0 0 %d %d\">",
                    idx, idx, DIST_W, DIST_H, DIST_W, DIST_H);
    orri_svg_printf(o, "<title id=\"f%zu-dt\">Distribution of ", idx);
    orri_svg_text(o, f->name);
    orri_svg_puts(o, ": reference vs current</title>");
    orri_svg_printf(o, "<desc id=\"f%zu-dd\">", idx);
    if (n == 0) {
        orri_svg_puts(o, "No distribution was stored for this feature.");
    } else {
        size_t big = 0;
        for (size_t i = 1; i < n; i++)
            if (fabs(s[i].cur - s[i].ref) > fabs(s[big].cur - s[big].ref))
                big = i;
        char a[32], c[32];
        orri_svg_printf(o, "Share of values in %zu %s, reference beside"
                        " current. ", n, numeric ? "bins" : "categories");
        if (f->current.kind == 0) {
            orri_svg_puts(o, "No current data in this window.");
        } else {
            orri_svg_num(a, sizeof a, s[big].ref, 1);
            orri_svg_num(c, sizeof c, s[big].cur, 1);
            orri_svg_puts(o, "Largest difference in ");
            slot_name(p, &s[big], numeric);
            orri_svg_printf(o, ": reference %s, current %s.", a, c);
        }
    }
    orri_svg_puts(o, "</desc>");
    if (n == 0) {
        orri_svg_printf(o, "<text class=\"note\" x=\"%d\" y=\"%d\""
                        " text-anchor=\"middle\">no distribution"
                        " stored</text></svg>", DIST_W / 2, DIST_H / 2);
        return;
    }
    double top = 0;
    for (size_t i = 0; i < n; i++)
        top = fmax(top, fmax(s[i].ref, s[i].cur));
    double lo = 0, hi = top > 0 ? top : 1, ticks[8];
    size_t nt = orri_svg_ticks(&lo, &hi, 3, ticks, 8);
    struct orri_scale ys = { lo, hi, b, t };
    orri_svg_y_axis(o, &ys, ticks, nt, l, r, 1);
    double slot = (r - l) / (double)n;
    double gap = slot > 8 ? slot * 0.12 : 0.5;
    double bw = (slot - 2 * gap) / 2;
    for (size_t i = 0; i < n; i++) {
        double x = l + slot * (double)i + gap;
        double yr = orri_scale_map(&ys, s[i].ref);
        double yc = orri_scale_map(&ys, s[i].cur);
        char a[32], c[32];
        orri_svg_num(a, sizeof a, s[i].ref, 1);
        orri_svg_num(c, sizeof c, s[i].cur, 1);
        orri_svg_printf(o, "<g><title>");
        slot_name(p, &s[i], numeric);
        orri_svg_printf(o, ": reference %s, current %s</title>", a, c);
        orri_svg_printf(o, "<rect class=\"ref\" x=\"%.1f\" y=\"%.1f\""
                        " width=\"%.1f\" height=\"%.1f\"/>",
                        x, yr, bw, b - yr);
        if (f->current.kind != 0)
            orri_svg_printf(o, "<rect class=\"cur%s\" x=\"%.1f\""
                            " y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
                            drifted ? " bad" : "", x + bw, yc, bw, b - yc);
        orri_svg_puts(o, "</g>");
    }
    orri_svg_printf(o, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\""
                    " x2=\"%.1f\" y2=\"%.1f\"/>", l, b, r, b);
    if (numeric) {
        /* The outer edges and the middle one: enough to read the range. */
        size_t marks[3] = { 0, n / 2, n };
        for (int k = 0; k < 3; k++) {
            if (k == 1 && (n < 4))
                continue;
            double edge = marks[k] < n ? s[marks[k]].lo : s[n - 1].hi;
            char lab[32];
            orri_svg_num(lab, sizeof lab, edge, 0);
            orri_svg_printf(o, "<text class=\"tick\" x=\"%.1f\""
                            " y=\"%.1f\" text-anchor=\"%s\">%s</text>",
                            l + slot * (double)marks[k], b + 14,
                            k == 0 ? "start" : k == 2 ? "end" : "middle",
                            lab);
        }
    } else {
        int every = n > 6 ? 2 : 1;
        for (size_t i = 0; i < n; i += (size_t)every) {
            orri_svg_printf(o, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\""
                            " text-anchor=\"middle\">",
                            l + slot * ((double)i + 0.5),
                            b + 14 + (double)((i / (size_t)every) % 2) * 11);
            orri_svg_text(o, s[i].label);
            orri_svg_puts(o, "</text>");
        }
    }
    if (f->current.kind == 0)
        orri_svg_printf(o, "<text class=\"note\" x=\"%.1f\" y=\"%.1f\""
                        " text-anchor=\"end\">no current data</text>",
                        r, t + 12);
    orri_svg_puts(o, "</svg>");
}

static void dist_table(struct page *p, const struct orri_report_feature *f,
                       const struct slot *s, size_t n, int numeric)
{
    struct orri_svg_out *o = &p->o;
    if (n == 0 && f->n_checks == 0)
        return;
    orri_svg_puts(o, "<details><summary>Data</summary>");
    if (f->n_checks) {
        orri_svg_puts(o, "<table><thead><tr><th scope=\"col\">check</th>"
                      "<th scope=\"col\">value</th><th scope=\"col\">"
                      "threshold</th></tr></thead><tbody>");
        for (size_t j = 0; j < f->n_checks; j++) {
            const struct orri_report_check *c = &f->checks[j];
            char v[32], t[32];
            orri_svg_num(v, sizeof v, c->value, 0);
            orri_svg_num(t, sizeof t, c->threshold, 0);
            orri_svg_puts(o, "<tr><td>");
            orri_svg_text(o, c->metric);
            orri_svg_printf(o, "%s</td><td class=\"n\">%s</td>"
                            "<td class=\"n\">%s</td></tr>",
                            c->alert ? " (alert)" : "", v, t);
        }
        orri_svg_puts(o, "</tbody></table>");
    }
    if (n == 0) {
        orri_svg_puts(o, "</details>");
        return;
    }
    orri_svg_printf(o, "<table><thead><tr>"
                    "<th scope=\"col\">%s</th><th scope=\"col\">reference"
                    "</th><th scope=\"col\">current</th></tr></thead>"
                    "<tbody>", numeric ? "bin" : "category");
    for (size_t i = 0; i < n; i++) {
        char a[32], c[32];
        orri_svg_num(a, sizeof a, s[i].ref, 1);
        orri_svg_num(c, sizeof c, s[i].cur, 1);
        orri_svg_puts(o, "<tr><td>");
        slot_name(p, &s[i], numeric);
        orri_svg_printf(o, "</td><td class=\"n\">%s</td><td class=\"n\">"
                        "%s</td></tr>", a, c);
    }
    orri_svg_puts(o, "</tbody></table></details>");
}

/* ---- lines over windows -------------------------------------------------- */

struct trend {
    const char   *cls;          /* extra class: "trend", "share", ...    */
    const char   *id;           /* unique element id prefix              */
    const double *v;            /* per window                            */
    const double *thr;          /* per window, or NULL                   */
    const unsigned char *alert; /* per window: flagged by the monitor    */
    double        reg;          /* registration value, NaN: none         */
    int           pct;
    int           from_zero;    /* the y axis starts at 0                */
    int           w, h;
};

/* Whether a point is past its threshold is the monitor's call (a p-value
 * drifts below its threshold, a distance above): its stored flag. */
static int past(const struct trend *c, size_t i)
{
    return c->alert && isfinite(c->v[i]) && c->alert[i];
}

static void trend_chart(struct page *p, const struct trend *c,
                        const char *title_a, const char *name,
                        const char *title_b)
{
    struct orri_svg_out *o = &p->o;
    const struct orri_report *r = p->r;
    size_t n = r->n_windows;
    const double l = 44, rt = c->w - 10, t = 10, b = c->h - 22;
    double lo = INFINITY, hi = -INFINITY;
    size_t n_val = 0, n_past = 0;
    for (size_t i = 0; i < n; i++) {
        double ts[3] = { c->v[i], c->thr ? c->thr[i] : NAN, c->reg };
        for (int k = 0; k < 3; k++)
            if (isfinite(ts[k])) {
                lo = fmin(lo, ts[k]);
                hi = fmax(hi, ts[k]);
            }
        n_val += isfinite(c->v[i]);
        n_past += past(c, i);
    }
    if (!isfinite(lo)) {
        lo = 0;
        hi = 1;
    }
    if (lo > 0 && (c->pct || c->from_zero))
        lo = 0;
    if (c->pct)
        hi = fmax(hi, lo + 0.1);
    double ticks[8];
    size_t nt = orri_svg_ticks(&lo, &hi, 3, ticks, 8);
    struct orri_scale ys = { lo, hi, b, t };
    struct orri_scale xs = { 0, n > 1 ? (double)(n - 1) : 1, l + 6,
                             rt - 6 };
    orri_svg_printf(o, "<svg class=\"chart %s\" role=\"img\""
                    " aria-labelledby=\"%s-t %s-d\" width=\"%d\""
                    " height=\"%d\" viewBox=\"0 0 %d %d\">"
                    "<title id=\"%s-t\">", c->cls, c->id, c->id, c->w, c->h,
                    c->w, c->h, c->id);
    orri_svg_text(o, title_a);
    orri_svg_text(o, name);
    orri_svg_text(o, title_b);
    orri_svg_printf(o, "</title><desc id=\"%s-d\">", c->id);
    char a[32], z[32], th[32];
    double first = NAN, last = NAN;
    for (size_t i = 0; i < n; i++)
        if (isfinite(c->v[i])) {
            if (isnan(first))
                first = c->v[i];
            last = c->v[i];
        }
    orri_svg_num(a, sizeof a, first, c->pct);
    orri_svg_num(z, sizeof z, last, c->pct);
    if (n_val == 0)
        orri_svg_printf(o, "No value in the last %zu windows.", n);
    else
        orri_svg_printf(o, "%zu of the last %zu windows have a value, from"
                        " %s (oldest) to %s (latest).", n_val, n, a, z);
    if (c->thr && isfinite(c->thr[n - 1])) {
        orri_svg_num(th, sizeof th, c->thr[n - 1], c->pct);
        orri_svg_printf(o, " Threshold %s.", th);
    }
    if (c->alert)
        orri_svg_printf(o, " Flagged in %zu window%s.", n_past,
                        n_past == 1 ? "" : "s");
    if (isfinite(c->reg)) {
        orri_svg_num(th, sizeof th, c->reg, c->pct);
        orri_svg_printf(o, " At registration: %s.", th);
    }
    orri_svg_puts(o, "</desc>");
    orri_svg_y_axis(o, &ys, ticks, nt, l, rt, c->pct);
    orri_svg_printf(o, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\""
                    " x2=\"%.1f\" y2=\"%.1f\"/>", l, b, rt, b);
    /* Thresholds as a step line: they may change between windows. */
    if (c->thr) {
        struct orr_buf d = ORR_BUF_INIT;
        int pen = 0;
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(c->thr[i])) {
                pen = 0;
                continue;
            }
            double x0 = n > 1 ? orri_scale_map(&xs, (double)i - 0.5)
                              : l;
            double x1 = n > 1 ? orri_scale_map(&xs, (double)i + 0.5)
                              : rt;
            double y = orri_scale_map(&ys, c->thr[i]);
            if (orri_buf_printf(&d, "%s%.1f %.1f L%.1f %.1f ",
                                pen ? "L" : "M", x0, y, x1, y))
                o->failed = 1;
            pen = 1;
        }
        if (d.len)
            orri_svg_printf(o, "<path class=\"thr\" d=\"%s\"/>", d.data);
        orri_buf_free(&d);
    }
    if (isfinite(c->reg)) {
        double y = orri_scale_map(&ys, c->reg);
        orri_svg_printf(o, "<line class=\"reg\" x1=\"%.1f\" y1=\"%.1f\""
                        " x2=\"%.1f\" y2=\"%.1f\"/>", l, y, rt, y);
    }
    struct orr_buf d = ORR_BUF_INIT;
    int pen = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(c->v[i])) {
            pen = 0;
            continue;
        }
        if (orri_buf_printf(&d, "%s%.1f %.1f ", pen ? "L" : "M",
                            orri_scale_map(&xs, (double)i),
                            orri_scale_map(&ys, c->v[i])))
            o->failed = 1;
        pen = 1;
    }
    if (d.len)
        orri_svg_printf(o, "<path class=\"line\" d=\"%s\"/>", d.data);
    orri_buf_free(&d);
    for (size_t i = 0; i < n; i++) {
        const struct orri_report_window *w = &r->windows[i];
        double x = orri_scale_map(&xs, (double)i);
        char when[32], val[32];
        fmt_short_time(when, sizeof when, w->end_ms);
        orri_svg_num(val, sizeof val, c->v[i], c->pct);
        if (!isfinite(c->v[i])) {
            orri_svg_printf(o, "<circle class=\"pt nd\" cx=\"%.1f\""
                            " cy=\"%.1f\" r=\"3\"><title>window #%lld"
                            " (%s): no value</title></circle>", x, b,
                            (long long)w->id, when);
            continue;
        }
        int bad = past(c, i);
        orri_svg_printf(o, "<circle class=\"pt%s\" cx=\"%.1f\" cy=\"%.1f\""
                        " r=\"%s\"><title>window #%lld (%s): %s</title>"
                        "</circle>", bad ? " bad" : "", x,
                        orri_scale_map(&ys, c->v[i]),
                        i + 1 == n ? "4" : "2.5", (long long)w->id, when,
                        val);
    }
    char t0[32], t1[32];
    fmt_short_time(t0, sizeof t0, r->windows[0].end_ms);
    fmt_short_time(t1, sizeof t1, r->windows[n - 1].end_ms);
    orri_svg_printf(o, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\""
                    " text-anchor=\"start\">%s</text>", l, b + 14, t0);
    if (n > 1)
        orri_svg_printf(o, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\""
                        " text-anchor=\"end\">%s</text>", rt, b + 14, t1);
    orri_svg_puts(o, "</svg>");
}

/* ---- page parts ---------------------------------------------------------- */

static void header(struct page *p, const struct orri_report_window *w)
{
    struct orri_svg_out *o = &p->o;
    char a[32], b[32];
    fmt_time(a, sizeof a, w->start_ms);
    fmt_time(b, sizeof b, w->end_ms);
    orri_svg_puts(o, "<header class=\"top\"><h1>");
    orri_svg_text(o, p->r->model);
    orri_svg_puts(o, " <span class=\"ver\">version ");
    orri_svg_text(o, w->version);
    orri_svg_printf(o, "</span></h1><span class=\"badge st-%s\""
                    " role=\"status\" aria-label=\"Window status: %s\">%s"
                    "</span>", status_class(w->status),
                    status_label(w->status), status_label(w->status));
    /* The window's status speaks of dataset drift only: a window can be
     * "ok" while its model quality fell, so open alerts get a badge too. */
    if (p->r->n_open_alerts)
        orri_svg_printf(o, " <span class=\"badge st-alerts\" role=\"status\">"
                        "%zu open alert%s</span>", p->r->n_open_alerts,
                        p->r->n_open_alerts == 1 ? "" : "s");
    orri_svg_printf(o, "<dl class=\"facts\"><div><dt>Window</dt><dd>#%lld,"
                    " %s \xe2\x86\x92 %s UTC</dd></div>"
                    "<div><dt>Rows</dt><dd>%lld</dd></div>"
                    "<div><dt>Labelled</dt><dd>%lld</dd></div>"
                    "<div><dt>Monitor</dt><dd>", (long long)w->id, a, b,
                    (long long)w->n_rows, (long long)w->n_labelled);
    orri_svg_text(o, w->monitor);
    orri_svg_printf(o, "</dd></div><div><dt>Windows shown</dt><dd>%zu"
                    "</dd></div></dl>", p->r->n_windows);
    if (w->message && *w->message) {
        orri_svg_puts(o, "<p class=\"msg\">");
        orri_svg_text(o, w->message);
        orri_svg_puts(o, "</p>");
    }
    orri_svg_puts(o, "</header>");
}

static void kpis(struct page *p, const struct orri_report_window *w)
{
    struct orri_svg_out *o = &p->o;
    const struct orri_report *r = p->r;
    int scored = 0, drifted = 0, absent = 0;
    for (size_t i = 0; i < r->n_features; i++) {
        if (r->features[i].output)
            continue;
        scored += r->features[i].drifted >= 0;
        drifted += r->features[i].drifted == 1;
        absent += r->features[i].absent;
    }
    char v[32];
    orri_svg_num(v, sizeof v, w->drift_share, 1);
    int share_bad = isfinite(w->drift_share_threshold)
                        ? w->drift_share >= w->drift_share_threshold
                        : drifted > 0;
    orri_svg_printf(o, "<section aria-label=\"Summary\"><div class=\"cards\">"
                    "<div class=\"kpi %s\"><div class=\"v\">%s</div>"
                    "<div class=\"l\">dataset drift share",
                    isnan(w->drift_share) ? "" : share_bad ? "bad" : "good",
                    v);
    if (isfinite(w->drift_share_threshold)) {
        orri_svg_num(v, sizeof v, w->drift_share_threshold, 1);
        orri_svg_printf(o, " (threshold %s)", v);
    }
    orri_svg_printf(o, "</div></div><div class=\"kpi %s\"><div class=\"v\">"
                    "%d / %d</div><div class=\"l\">features drifted%s"
                    "</div></div>", drifted ? "bad" : "good", drifted,
                    scored, absent ? ", some absent" : "");
    for (size_t i = 0; i < r->n_quality && i < 2; i++) {
        const struct orri_report_quality *q = &r->quality[i];
        double delta = q->value - q->registered;
        int worse = q->alert || (isfinite(delta) &&
                    (q->lower_is_better ? delta > 0 : delta < 0));
        orri_svg_num(v, sizeof v, q->value, 0);
        orri_svg_printf(o, "<div class=\"kpi%s\"><div class=\"v\">%s</div>"
                        "<div class=\"l\">", worse ? " bad" : "", v);
        orri_svg_text(o, q->metric);
        if (isfinite(q->registered)) {
            orri_svg_num(v, sizeof v, q->registered, 0);
            orri_svg_printf(o, " (%s at registration)", v);
        }
        orri_svg_puts(o, "</div></div>");
    }
    orri_svg_printf(o, "<div class=\"kpi %s\"><div class=\"v\">%zu</div>"
                    "<div class=\"l\">open alerts</div></div></div>"
                    "</section>", r->n_open_alerts ? "bad" : "good",
                    r->n_open_alerts);
}

static void legend(struct page *p, int reg)
{
    orri_svg_puts(&p->o, "<p class=\"legend\" aria-hidden=\"true\">"
                  "<span><span class=\"sw ref\"></span>reference</span>"
                  "<span><span class=\"sw cur\"></span>current</span>"
                  "<span><span class=\"sw thr\"></span>threshold</span>");
    if (reg)
        orri_svg_puts(&p->o, "<span><span class=\"sw reg\"></span>at "
                      "registration</span>");
    orri_svg_puts(&p->o, "</p>");
}

static void feature_card(struct page *p, size_t idx,
                         const struct orri_report_feature *f)
{
    struct orri_svg_out *o = &p->o;
    orri_svg_printf(o, "<article class=\"card%s%s\" aria-labelledby=\"f%zu-h\">"
                    "<h3 id=\"f%zu-h\">", f->drifted == 1 ? " drifted" : "",
                    f->absent ? " absent" : "", idx, idx);
    orri_svg_text(o, f->name);
    if (f->drifted == 1)
        orri_svg_puts(o, "<span class=\"pill d\">drifted</span>");
    else if (f->absent)
        orri_svg_puts(o, "<span class=\"pill a\">absent</span>");
    else if (f->drifted == 0)
        orri_svg_puts(o, "<span class=\"pill k\">stable</span>");
    if (f->output)
        orri_svg_puts(o, "<span class=\"pill o\">model output</span>");
    orri_svg_puts(o, "</h3><p class=\"meta\">");
    char v[32];
    if (f->absent)
        orri_svg_puts(o, "absent from the current data \xc2\xb7 ");
    if (f->method) {
        orri_svg_text(o, f->method);
        orri_svg_puts(o, " ");
    }
    orri_svg_num(v, sizeof v, f->score, 0);
    orri_svg_printf(o, "score %s", v);
    if (isfinite(f->threshold)) {
        orri_svg_num(v, sizeof v, f->threshold, 0);
        orri_svg_printf(o, " (threshold %s)", v);
    }
    orri_svg_num(v, sizeof v, f->missing_rate, 1);
    orri_svg_printf(o, " \xc2\xb7 missing %s", v);
    for (size_t j = 0; j < f->n_checks; j++) {
        const struct orri_report_check *c = &f->checks[j];
        if (!c->alert)
            continue;
        orri_svg_puts(o, " \xc2\xb7 ");
        orri_svg_text(o, c->metric);
        orri_svg_num(v, sizeof v, c->value, 0);
        orri_svg_printf(o, " %s (alert)", v);
    }
    orri_svg_puts(o, "</p>");
    size_t n = 0;
    int failed = 0;
    struct slot *s = make_slots(f, &n, &failed);
    if (failed)
        o->failed = 1;
    int numeric = f->reference.kind == 1 ||
                  (f->reference.kind == 0 && f->current.kind == 1);
    dist_chart(p, idx, f, s, n, numeric);
    char id[32];
    snprintf(id, sizeof id, "f%zu-tr", idx);
    struct trend c = { "trend", id, f->history, f->history_threshold,
                       f->history_alert, NAN, 0, 1, TREND_W, TREND_H };
    trend_chart(p, &c, "Drift score of ", f->name, " over time");
    dist_table(p, f, s, n, numeric);
    free(s);
    orri_svg_puts(o, "</article>");
}

static void over_time(struct page *p)
{
    struct orri_svg_out *o = &p->o;
    const struct orri_report *r = p->r;
    size_t n = r->n_windows;
    double *share = malloc(n * sizeof *share);
    double *thr = malloc(n * sizeof *thr);
    unsigned char *flag = malloc(n ? n : 1);
    if (!share || !thr || !flag) {
        o->failed = 1;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        share[i] = r->windows[i].drift_share;
        thr[i] = r->windows[i].drift_share_threshold;
        flag[i] = (unsigned char)r->windows[i].drift_share_alert;
    }
    orri_svg_puts(o, "<section aria-labelledby=\"h-share\"><h2 id=\"h-share\">"
                  "Dataset drift over time</h2><div class=\"panel\">");
    struct trend c = { "share", "share", share, thr, flag, NAN, 1, 1,
                       WIDE_W, WIDE_H };
    trend_chart(p, &c, "Share of drifted features", "", " per window");
    orri_svg_puts(o, "</div></section>");
    orri_svg_puts(o, "<section aria-labelledby=\"h-quality\"><h2"
                  " id=\"h-quality\">Model quality over time</h2>");
    if (r->n_quality == 0) {
        orri_svg_puts(o, "<p>No quality figures yet: they need labels"
                      " joined to the logged predictions (<code>orrery"
                      " monitor labels FILE</code> or the server's feedback"
                      " endpoint).</p>");
    } else {
        legend(p, 1);
        orri_svg_puts(o, "<div class=\"grid\">");
    }
    for (size_t i = 0; i < r->n_quality; i++) {
        const struct orri_report_quality *q = &r->quality[i];
        char id[32];
        snprintf(id, sizeof id, "q%zu", i);
        for (size_t k = 0; k < n; k++)
            thr[k] = k + 1 == n ? q->threshold : NAN;
        orri_svg_puts(o, "<div class=\"panel\"><h3>");
        orri_svg_text(o, q->metric);
        orri_svg_puts(o, "</h3>");
        struct trend t = { "quality", id, q->history,
                           isfinite(q->threshold) ? thr : NULL,
                           q->history_alert, q->registered, 0,
                           q->lower_is_better, TREND_W, TREND_H };
        trend_chart(p, &t, "", q->metric, " per window vs registration");
        orri_svg_puts(o, "</div>");
    }
    if (r->n_quality)
        orri_svg_puts(o, "</div>");
    orri_svg_puts(o, "</section>");
done:
    free(share);
    free(thr);
    free(flag);
}

static void dataset_values(struct page *p)
{
    struct orri_svg_out *o = &p->o;
    const struct orri_report *r = p->r;
    if (r->n_dataset == 0)
        return;
    orri_svg_puts(o, "<section aria-labelledby=\"h-ds\"><h2 id=\"h-ds\">"
                  "Other checks</h2><table><thead><tr><th scope=\"col\">"
                  "check</th><th scope=\"col\">method</th><th scope=\"col\">"
                  "value</th><th scope=\"col\">threshold</th><th"
                  " scope=\"col\">alert</th></tr></thead><tbody>");
    for (size_t i = 0; i < r->n_dataset; i++) {
        const struct orri_report_check *c = &r->dataset[i];
        char v[32], t[32];
        orri_svg_num(v, sizeof v, c->value, 0);
        orri_svg_num(t, sizeof t, c->threshold, 0);
        orri_svg_puts(o, "<tr><td>");
        orri_svg_text(o, c->metric);
        orri_svg_puts(o, "</td><td>");
        orri_svg_text(o, c->method ? c->method : "\xe2\x80\x93");
        orri_svg_printf(o, "</td><td class=\"n\">%s</td><td class=\"n\">%s"
                        "</td><td>%s</td></tr>", v, t,
                        c->alert ? "yes" : "no");
    }
    orri_svg_puts(o, "</tbody></table></section>");
}

static void alerts(struct page *p)
{
    struct orri_svg_out *o = &p->o;
    const struct orri_report *r = p->r;
    orri_svg_puts(o, "<section aria-labelledby=\"h-alerts\"><h2"
                  " id=\"h-alerts\">Alerts</h2>");
    if (r->n_alerts == 0) {
        orri_svg_puts(o, "<p>No alerts.</p></section>");
        return;
    }
    orri_svg_puts(o, "<table><thead><tr><th scope=\"col\">raised (UTC)</th>"
                  "<th scope=\"col\">severity</th><th scope=\"col\">alert"
                  "</th><th scope=\"col\">state</th></tr></thead><tbody>");
    for (size_t i = 0; i < r->n_alerts; i++) {
        const struct orri_report_alert *a = &r->alerts[i];
        char when[32];
        fmt_time(when, sizeof when, a->created_ms);
        const char *sev = !strcmp(a->severity, "critical") ? "critical"
                        : !strcmp(a->severity, "warning") ? "warning"
                        : "info";
        orri_svg_printf(o, "<tr><td>%s</td><td class=\"sev-%s\">%s</td>"
                        "<td>", when, sev, sev);
        orri_svg_text(o, a->title);
        orri_svg_printf(o, "</td><td>%s%s</td></tr>",
                        a->open ? "open" : "acknowledged",
                        a->delivered_ms ? ", delivered" : "");
    }
    orri_svg_puts(o, "</tbody></table></section>");
}

int orri_report_html(const struct orri_report *r, char **html,
                     struct orr_error *e)
{
    *html = NULL;
    const struct orri_report_window *w = orri_report_latest(r);
    if (!w)
        return orr_fail(e, ORR_ENOTFOUND, "no monitoring windows yet");
    struct page p = { .r = r };
    struct orri_svg_out *o = &p.o;
    char gen[32];
    fmt_time(gen, sizeof gen, r->generated_ms);
    orri_svg_puts(o, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
                  "<meta charset=\"utf-8\"><meta name=\"viewport\""
                  " content=\"width=device-width, initial-scale=1\">"
                  "<title>Monitoring report: ");
    orri_svg_text(o, r->model);
    orri_svg_printf(o, "</title><style>%s</style></head>\n<body>", CSS);
    header(&p, w);
    orri_svg_puts(o, "<main>");
    kpis(&p, w);
    orri_svg_puts(o, "<section aria-labelledby=\"h-features\"><h2"
                  " id=\"h-features\">Features</h2>");
    if (r->n_features == 0) {
        orri_svg_puts(o, "<p>No per-feature figures were stored.</p>");
    } else {
        orri_svg_puts(o, "<p class=\"meta\">Drifted features first. Each"
                      " card: the share of values per bin, reference"
                      " beside current, and the drift score across the"
                      " windows shown.</p>");
        legend(&p, 0);
        orri_svg_puts(o, "<div class=\"grid\">");
        for (size_t i = 0; i < r->n_features; i++)
            feature_card(&p, i, &r->features[i]);
        orri_svg_puts(o, "</div>");
    }
    orri_svg_puts(o, "</section>");
    over_time(&p);
    dataset_values(&p);
    alerts(&p);
    orri_svg_printf(o, "</main><footer>Generated by orrery monitor report at"
                    " %s UTC from the site's metadata store.</footer>"
                    "</body></html>\n", gen);
    if (o->failed) {
        orri_buf_free(&o->buf);
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    *html = orri_buf_take(&o->buf);
    if (!*html)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    return ORR_OK;
}
