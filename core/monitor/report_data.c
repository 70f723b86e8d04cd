/*
 * monitor/report_data.c - read the monitoring tables into struct
 * orri_report (report.h), and the report as JSON.
 *
 * A connection of its own, read-only, after orr_meta_open has checked
 * and migrated the file (as core/sched/store.c does): the report never
 * writes.  Every query is prepared with bound parameters.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "meta/meta.h"
#include "monitor/report.h"
#include "util/error.h"
#include "util/path.h"

#define BUSY_TIMEOUT_MS 10000
/* Alerts listed at most (open ones first). */
#define MAX_ALERTS 50
/* Bins or categories read from one histogram at most. */
#define MAX_BINS 1000

/* The reader: the connection and what is being filled. */
struct rd {
    sqlite3            *db;
    struct orri_report *r;
    struct orr_error   *e;
};

static int sqlfail(struct rd *d, const char *doing)
{
    return orr_fail(d->e, ORR_EIO, "reading monitoring results (%s): %s",
                    doing, sqlite3_errmsg(d->db));
}

static int nomem(struct rd *d)
{
    return orr_fail(d->e, ORR_ENOMEM, "out of memory");
}

static char *col_str(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? strdup((const char *)s) : NULL;
}

static double col_num(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL
               ? NAN : sqlite3_column_double(st, i);
}

static int is_quality_metric(const char *m)
{
    static const char *const names[] = {
        "accuracy", "auc", "roc_auc", "pr_auc", "rmse", "mae", "mse",
        "r2", "f1", "precision", "recall", "log_loss", "logloss",
        "brier", "mape", "balanced_accuracy",
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(m, names[i]))
            return 1;
    return 0;
}

static int lower_is_better(const char *m)
{
    return !strcmp(m, "rmse") || !strcmp(m, "mae") || !strcmp(m, "mse") ||
           !strcmp(m, "log_loss") || !strcmp(m, "logloss") ||
           !strcmp(m, "brier") || !strcmp(m, "mape");
}

static int is_drift_share(const char *m)
{
    return !strcmp(m, "drift_share") || !strcmp(m, "dataset_drift_share") ||
           !strcmp(m, "share_of_drifted_features");
}

static int is_absent_metric(const char *m)
{
    return !strcmp(m, "absent") || !strcmp(m, "feature_absent");
}

/* ---- histograms ---------------------------------------------------------- */

static void hist_free(struct orri_report_hist *h)
{
    if (h->labels)
        for (size_t i = 0; i < h->n_bins; i++)
            free(h->labels[i]);
    free(h->labels);
    free(h->edges);
    free(h->counts);
    memset(h, 0, sizeof *h);
    h->missing = NAN;
}

static int hist_numeric(struct orri_report_hist *h, json_t *obj)
{
    json_t *edges = json_object_get(obj, "edges");
    json_t *counts = json_object_get(obj, "counts");
    size_t k = json_array_size(counts);
    if (k == 0 || k > MAX_BINS || json_array_size(edges) != k + 1)
        return 0;
    h->edges = malloc((k + 1) * sizeof *h->edges);
    h->counts = malloc(k * sizeof *h->counts);
    if (!h->edges || !h->counts)
        return -1;
    for (size_t i = 0; i <= k; i++) {
        json_t *v = json_array_get(edges, i);
        double x = json_number_value(v);
        if (!json_is_number(v) || !isfinite(x) ||
            (i > 0 && x < h->edges[i - 1]))
            return 0;
        h->edges[i] = x;
    }
    for (size_t i = 0; i < k; i++) {
        json_t *v = json_array_get(counts, i);
        double x = json_number_value(v);
        if (!json_is_number(v) || !isfinite(x) || x < 0)
            return 0;
        h->counts[i] = x;
    }
    h->n_bins = k;
    h->kind = 1;
    return 0;
}

static int hist_categorical(struct orri_report_hist *h, json_t *obj)
{
    size_t k = json_object_size(obj);
    if (k == 0 || k > MAX_BINS)
        return 0;
    h->labels = calloc(k, sizeof *h->labels);
    h->counts = malloc(k * sizeof *h->counts);
    if (!h->labels || !h->counts)
        return -1;
    const char *key;
    json_t *v;
    size_t n = 0;
    json_object_foreach(obj, key, v) {
        double x = json_number_value(v);
        if (!json_is_number(v) || !isfinite(x) || x < 0)
            continue;
        h->labels[n] = strdup(key);
        if (!h->labels[n])
            return -1;
        h->counts[n++] = x;
    }
    h->n_bins = n;
    h->kind = n ? 2 : 0;
    return 0;
}

/* Parse one stored histogram; malformed content leaves kind 0 (the chart
 * says "no data") rather than failing the whole report. */
static int hist_parse(struct orri_report_hist *h, const char *text,
                      int *output)
{
    hist_free(h);
    if (!text)
        return 0;
    json_t *root = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return 0;
    }
    int rc = 0;
    if (output)
        *output = json_is_true(json_object_get(root, "output"));
    json_t *miss = json_object_get(root, "missing");
    if (json_is_number(miss))
        h->missing = json_number_value(miss);
    json_t *hist = json_object_get(root, "histogram");
    json_t *cats = json_object_get(root, "categories");
    if (json_is_object(hist))
        rc = hist_numeric(h, hist);
    else if (json_is_object(cats))
        rc = hist_categorical(h, cats);
    else if (json_object_get(root, "edges"))
        rc = hist_numeric(h, root);
    json_decref(root);
    if (h->kind == 0) {
        double missing = h->missing;
        hist_free(h);
        h->missing = missing;
    }
    return rc;
}

/* ---- collecting ---------------------------------------------------------- */

static void check_free(struct orri_report_check *c)
{
    free(c->metric);
    free(c->method);
}

static struct orri_report_feature *feature_get(struct rd *d,
                                               const char *name)
{
    struct orri_report *r = d->r;
    for (size_t i = 0; i < r->n_features; i++)
        if (!strcmp(r->features[i].name, name))
            return &r->features[i];
    struct orri_report_feature *f =
        realloc(r->features, (r->n_features + 1) * sizeof *f);
    if (!f)
        return NULL;
    r->features = f;
    f = &r->features[r->n_features];
    memset(f, 0, sizeof *f);
    f->score = f->threshold = f->missing_rate = NAN;
    f->reference.missing = f->current.missing = NAN;
    f->drifted = -1;
    f->seq = r->n_features;
    f->name = strdup(name);
    f->history = malloc(r->n_windows * sizeof *f->history);
    f->history_threshold = malloc(r->n_windows * sizeof *f->history);
    f->history_alert = calloc(r->n_windows, 1);
    if (!f->name || !f->history || !f->history_threshold ||
        !f->history_alert) {
        free(f->name);
        free(f->history);
        free(f->history_threshold);
        free(f->history_alert);
        return NULL;
    }
    for (size_t i = 0; i < r->n_windows; i++)
        f->history[i] = f->history_threshold[i] = NAN;
    r->n_features++;
    return f;
}

static struct orri_report_quality *quality_get(struct rd *d,
                                               const char *metric)
{
    struct orri_report *r = d->r;
    for (size_t i = 0; i < r->n_quality; i++)
        if (!strcmp(r->quality[i].metric, metric))
            return &r->quality[i];
    struct orri_report_quality *q =
        realloc(r->quality, (r->n_quality + 1) * sizeof *q);
    if (!q)
        return NULL;
    r->quality = q;
    q = &r->quality[r->n_quality];
    memset(q, 0, sizeof *q);
    q->value = q->threshold = q->registered = NAN;
    q->lower_is_better = lower_is_better(metric);
    q->metric = strdup(metric);
    q->history = malloc(r->n_windows * sizeof *q->history);
    q->history_alert = calloc(r->n_windows, 1);
    if (!q->metric || !q->history || !q->history_alert) {
        free(q->metric);
        free(q->history);
        free(q->history_alert);
        return NULL;
    }
    for (size_t i = 0; i < r->n_windows; i++)
        q->history[i] = NAN;
    r->n_quality++;
    return q;
}

static int push_check(struct orri_report_check **arr, size_t *n,
                      sqlite3_stmt *st)
{
    struct orri_report_check *a = realloc(*arr, (*n + 1) * sizeof *a);
    if (!a)
        return -1;
    *arr = a;
    struct orri_report_check *c = &a[*n];
    c->metric = col_str(st, 1);
    c->method = col_str(st, 2);
    c->value = col_num(st, 3);
    c->threshold = col_num(st, 4);
    c->alert = sqlite3_column_int(st, 5) != 0;
    (*n)++;
    return c->metric ? 0 : -1;
}

/* The values of window `wi` (latest: also fill the latest figures). */
static int read_values(struct rd *d, sqlite3_stmt *st, size_t wi)
{
    struct orri_report *r = d->r;
    struct orri_report_window *w = &r->windows[wi];
    int latest = wi + 1 == r->n_windows;
    int n_scored = 0, n_drifted = 0, has_share = 0;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, w->id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *feature = (const char *)sqlite3_column_text(st, 0);
        const char *metric = (const char *)sqlite3_column_text(st, 1);
        if (!metric)
            continue;
        double value = col_num(st, 3);
        double thr = col_num(st, 4);
        int alert = sqlite3_column_int(st, 5) != 0;
        if (!feature) {
            /* The first share stored wins ("dataset_drift" is the
             * backend's 0/1 verdict, listed with the other values). */
            if (is_drift_share(metric) && !has_share) {
                w->drift_share = value;
                w->drift_share_threshold = thr;
                w->drift_share_alert = alert;
                has_share = 1;
            } else if (is_quality_metric(metric)) {
                struct orri_report_quality *q = quality_get(d, metric);
                if (!q)
                    return nomem(d);
                q->history[wi] = value;
                q->history_alert[wi] = (unsigned char)alert;
                if (latest) {
                    q->value = value;
                    q->threshold = thr;
                    q->alert = alert;
                }
            } else if (latest &&
                       push_check(&r->dataset, &r->n_dataset, st)) {
                return nomem(d);
            }
            continue;
        }
        struct orri_report_feature *f = feature_get(d, feature);
        if (!f)
            return nomem(d);
        if (!strcmp(metric, "drift_score")) {
            f->history[wi] = value;
            f->history_threshold[wi] = thr;
            f->history_alert[wi] = (unsigned char)alert;
            if (!isnan(value)) {
                n_scored++;
                n_drifted += alert;
            }
            if (latest) {
                free(f->method);
                f->method = col_str(st, 2);
                f->score = value;
                f->threshold = thr;
                f->drifted = isnan(value) ? -1 : alert;
            }
        } else if (!latest) {
            continue;
        } else if (!strcmp(metric, "missing_rate")) {
            f->missing_rate = value;
        } else if (is_absent_metric(metric)) {
            f->absent = !isnan(value) && value != 0;
        } else if (push_check(&f->checks, &f->n_checks, st)) {
            return nomem(d);
        }
    }
    if (rc != SQLITE_DONE)
        return sqlfail(d, "values");
    if (!has_share && n_scored > 0) {
        w->drift_share = (double)n_drifted / n_scored;
        w->drift_share_alert = !strcmp(w->status, "drift");
    }
    return ORR_OK;
}

static int read_windows(struct rd *d, const char *model, int last)
{
    struct orri_report *r = d->r;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->db,
        "SELECT id, version, monitor, start_ms, end_ms, created_ms, n_rows,"
        " n_labelled, status, message FROM monitor_windows WHERE model = ?1"
        " ORDER BY created_ms DESC, id DESC LIMIT ?2", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sqlfail(d, "windows");
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, last);
    r->windows = calloc((size_t)last, sizeof *r->windows);
    if (!r->windows) {
        rc = nomem(d);
        goto fail;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct orri_report_window *w = &r->windows[r->n_windows++];
        w->id = sqlite3_column_int64(st, 0);
        w->version = col_str(st, 1);
        w->monitor = col_str(st, 2);
        w->start_ms = sqlite3_column_int64(st, 3);
        w->end_ms = sqlite3_column_int64(st, 4);
        w->created_ms = sqlite3_column_int64(st, 5);
        w->n_rows = sqlite3_column_int64(st, 6);
        w->n_labelled = sqlite3_column_int64(st, 7);
        const char *s = (const char *)sqlite3_column_text(st, 8);
        snprintf(w->status, sizeof w->status, "%s", s ? s : "error");
        w->message = col_str(st, 9);
        w->drift_share = w->drift_share_threshold = NAN;
        if (!w->version || !w->monitor) {
            rc = nomem(d);
            goto fail;
        }
    }
    if (rc != SQLITE_DONE) {
        rc = sqlfail(d, "windows");
        goto fail;
    }
    /* Oldest first. */
    for (size_t i = 0; i < r->n_windows / 2; i++) {
        struct orri_report_window t = r->windows[i];
        r->windows[i] = r->windows[r->n_windows - 1 - i];
        r->windows[r->n_windows - 1 - i] = t;
    }
    rc = ORR_OK;
fail:
    sqlite3_finalize(st);
    return rc;
}

static int read_all_values(struct rd *d)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->db,
        "SELECT feature, metric, method, value, threshold, alert"
        " FROM monitor_values WHERE window_id = ?1 ORDER BY rowid",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sqlfail(d, "values");
    /* Latest first, so the latest window decides the order of features
     * and metrics. */
    for (size_t i = d->r->n_windows; i-- > 0;) {
        rc = read_values(d, st, i);
        if (rc)
            break;
    }
    sqlite3_finalize(st);
    return rc;
}

/* The histograms of the latest window that has any: the reference
 * distributions still show for a window without data. */
static int read_histograms(struct rd *d, const char *model)
{
    struct orri_report *r = d->r;
    const struct orri_report_window *latest = orri_report_latest(r);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->db,
        "SELECT h.window_id, h.feature, h.reference, h.current"
        " FROM monitor_histograms h WHERE h.window_id = ("
        "  SELECT w.id FROM monitor_windows w WHERE w.model = ?1"
        "  AND w.created_ms <= ?2 AND EXISTS (SELECT 1 FROM"
        "  monitor_histograms x WHERE x.window_id = w.id)"
        "  ORDER BY w.created_ms DESC, w.id DESC LIMIT 1)"
        " ORDER BY h.feature", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sqlfail(d, "histograms");
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, latest->created_ms);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        if (!name)
            continue;
        struct orri_report_feature *f = feature_get(d, name);
        if (!f) {
            rc = nomem(d);
            goto fail;
        }
        int own = sqlite3_column_int64(st, 0) == latest->id;
        if (hist_parse(&f->reference,
                       (const char *)sqlite3_column_text(st, 2),
                       &f->output) ||
            (own && hist_parse(&f->current,
                               (const char *)sqlite3_column_text(st, 3),
                               NULL))) {
            rc = nomem(d);
            goto fail;
        }
    }
    rc = rc == SQLITE_DONE ? ORR_OK : sqlfail(d, "histograms");
fail:
    sqlite3_finalize(st);
    return rc;
}

/* The registration value of a quality metric: the same key, or the
 * usual spellings of it in a training run's metrics. */
static double registered_value(json_t *metrics, const char *metric)
{
    static const char *const prefixes[] = {
        "", "test_", "eval_", "val_", "valid_", "holdout_",
    };
    const char *alt = !strcmp(metric, "auc") ? "roc_auc"
                    : !strcmp(metric, "roc_auc") ? "auc" : NULL;
    for (size_t p = 0; p < sizeof prefixes / sizeof *prefixes; p++) {
        for (int a = 0; a < 2; a++) {
            const char *m = a ? alt : metric;
            if (!m)
                continue;
            char key[160];
            snprintf(key, sizeof key, "%s%s", prefixes[p], m);
            json_t *v = json_object_get(metrics, key);
            if (json_is_number(v))
                return json_number_value(v);
        }
    }
    return NAN;
}

static int read_registration(struct rd *d)
{
    struct orri_report *r = d->r;
    const struct orri_report_window *w = orri_report_latest(r);
    if (r->n_quality == 0)
        return ORR_OK;
    const char *v = w->version;
    if (*v == 'v')
        v++;
    char *end;
    errno = 0;
    long long version = strtoll(v, &end, 10);
    if (errno || end == v || *end)
        return ORR_OK;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->db,
        "SELECT v.metrics FROM model_versions v JOIN registered_models m"
        " ON m.id = v.model_id WHERE m.name = ?1 AND v.version = ?2",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sqlfail(d, "registration");
    sqlite3_bind_text(st, 1, r->model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, version);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        json_t *metrics = text ? json_loads(text, 0, NULL) : NULL;
        for (size_t i = 0; i < r->n_quality; i++)
            r->quality[i].registered =
                registered_value(metrics, r->quality[i].metric);
        json_decref(metrics);
        rc = SQLITE_DONE;
    }
    rc = rc == SQLITE_DONE ? ORR_OK : sqlfail(d, "registration");
    sqlite3_finalize(st);
    return rc;
}

static int read_alerts(struct rd *d)
{
    struct orri_report *r = d->r;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->db,
        "SELECT a.id, a.severity, a.title, a.created_ms,"
        " a.acknowledged_ms IS NULL, coalesce(a.delivered_ms, 0)"
        " FROM alerts a WHERE a.model_id ="
        " (SELECT id FROM registered_models WHERE name = ?1)"
        " OR a.window_id IN (SELECT id FROM monitor_windows"
        " WHERE model = ?1)"
        " ORDER BY a.acknowledged_ms IS NOT NULL,"
        " CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1"
        " ELSE 2 END, a.created_ms DESC, a.id DESC LIMIT ?2", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sqlfail(d, "alerts");
    sqlite3_bind_text(st, 1, r->model, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, MAX_ALERTS);
    r->alerts = calloc(MAX_ALERTS, sizeof *r->alerts);
    if (!r->alerts) {
        rc = nomem(d);
        goto fail;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct orri_report_alert *a = &r->alerts[r->n_alerts++];
        a->id = sqlite3_column_int64(st, 0);
        const char *s = (const char *)sqlite3_column_text(st, 1);
        snprintf(a->severity, sizeof a->severity, "%s", s ? s : "info");
        a->title = col_str(st, 2);
        a->created_ms = sqlite3_column_int64(st, 3);
        a->open = sqlite3_column_int(st, 4);
        a->delivered_ms = sqlite3_column_int64(st, 5);
        r->n_open_alerts += a->open != 0;
        if (!a->title) {
            rc = nomem(d);
            goto fail;
        }
    }
    rc = rc == SQLITE_DONE ? ORR_OK : sqlfail(d, "alerts");
fail:
    sqlite3_finalize(st);
    return rc;
}

/* Drifted first, farthest past the threshold first (a drifted distance
 * is above its threshold, a drifted p-value below it: either way the
 * ratio of the larger to the smaller), then features the data lacks,
 * then the rest in the order the monitor stored them. */
static double feature_rank(const struct orri_report_feature *f)
{
    if (f->drifted == 1) {
        double s = fabs(f->score), t = fabs(f->threshold);
        double ratio = s >= t ? s / t : t / s;
        return isfinite(ratio) ? 3.0e6 + fmin(ratio, 1.0e6) : 4.0e6;
    }
    return f->absent ? 2.0e6 : 0.0;
}

static int feature_cmp(const void *a, const void *b)
{
    const struct orri_report_feature *x = a, *y = b;
    double rx = feature_rank(x), ry = feature_rank(y);
    if (rx != ry)
        return rx > ry ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static void model_name(char *out, size_t cap, const char *uri)
{
    const char *s = strncmp(uri, "models:/", 8) ? uri : uri + 8;
    size_t n = strcspn(s, "/@");
    snprintf(out, cap, "%.*s", (int)n, s);
}

int orri_report_load(const char *db_path, const char *model, int last,
                     struct orri_report **out, struct orr_error *e)
{
    *out = NULL;
    if (last <= 0)
        last = ORRI_REPORT_DEFAULT_LAST;
    if (last > ORRI_REPORT_MAX_LAST)
        last = ORRI_REPORT_MAX_LAST;
    struct orr_meta *m = NULL;
    int rc = orr_meta_open(&m, db_path, e);
    orr_meta_close(m);
    if (rc)
        return rc;
    struct rd d = { .e = e };
    d.r = calloc(1, sizeof *d.r);
    if (!d.r)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    struct timeval tv;
    gettimeofday(&tv, NULL);
    d.r->generated_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    rc = sqlite3_open_v2(db_path, &d.db, SQLITE_OPEN_READONLY |
                         SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = sqlfail(&d, "opening the metadata store");
        goto fail;
    }
    sqlite3_busy_timeout(d.db, BUSY_TIMEOUT_MS);
    d.r->model = strdup(model);
    if (!d.r->model) {
        rc = nomem(&d);
        goto fail;
    }
    rc = read_windows(&d, model, last);
    if (!rc && d.r->n_windows == 0) {
        char name[256];
        model_name(name, sizeof name, model);
        if (strcmp(name, model) && *name) {
            free(d.r->model);
            free(d.r->windows);
            d.r->windows = NULL;
            d.r->model = strdup(name);
            rc = d.r->model ? read_windows(&d, name, last) : nomem(&d);
        }
    }
    if (rc)
        goto fail;
    if (d.r->n_windows == 0) {
        rc = orr_fail(e, ORR_ENOTFOUND, "no monitoring windows yet: run "
                      "`orrery monitor run %s`", model);
        goto fail;
    }
    rc = read_all_values(&d);
    if (!rc)
        rc = read_histograms(&d, d.r->model);
    if (!rc)
        rc = read_registration(&d);
    if (!rc)
        rc = read_alerts(&d);
    if (rc)
        goto fail;
    if (d.r->n_features > 1)
        qsort(d.r->features, d.r->n_features, sizeof *d.r->features,
              feature_cmp);
    sqlite3_close(d.db);
    *out = d.r;
    return ORR_OK;
fail:
    sqlite3_close(d.db);
    orri_report_free(d.r);
    return rc;
}

void orri_report_free(struct orri_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_windows; i++) {
        free(r->windows[i].version);
        free(r->windows[i].monitor);
        free(r->windows[i].message);
    }
    free(r->windows);
    for (size_t i = 0; i < r->n_features; i++) {
        struct orri_report_feature *f = &r->features[i];
        free(f->name);
        free(f->method);
        for (size_t j = 0; j < f->n_checks; j++)
            check_free(&f->checks[j]);
        free(f->checks);
        hist_free(&f->reference);
        hist_free(&f->current);
        free(f->history);
        free(f->history_threshold);
        free(f->history_alert);
    }
    free(r->features);
    for (size_t i = 0; i < r->n_quality; i++) {
        free(r->quality[i].metric);
        free(r->quality[i].history);
        free(r->quality[i].history_alert);
    }
    free(r->quality);
    for (size_t i = 0; i < r->n_dataset; i++)
        check_free(&r->dataset[i]);
    free(r->dataset);
    for (size_t i = 0; i < r->n_alerts; i++)
        free(r->alerts[i].title);
    free(r->alerts);
    free(r->model);
    free(r);
}

const struct orri_report_window *
orri_report_latest(const struct orri_report *r)
{
    return r && r->n_windows ? &r->windows[r->n_windows - 1] : NULL;
}

/* ---- JSON ---------------------------------------------------------------- */

static json_t *num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *series(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, num(v[i]));
    return a;
}

static json_t *flags(const unsigned char *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_boolean(v[i]));
    return a;
}

static json_t *checks_json(const struct orri_report_check *c, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:o, s:o, s:o, s:b}",
            "metric", c[i].metric, "method", str_or_null(c[i].method),
            "value", num(c[i].value), "threshold", num(c[i].threshold),
            "alert", c[i].alert));
    return a;
}

static json_t *hist_json(const struct orri_report_hist *h)
{
    if (h->kind == 0)
        return json_null();
    json_t *o = json_object();
    json_t *counts = series(h->counts, h->n_bins);
    json_object_set_new(o, "type", json_string(h->kind == 1 ? "numeric"
                                                           : "categorical"));
    if (h->kind == 1) {
        json_object_set_new(o, "edges", series(h->edges, h->n_bins + 1));
    } else {
        json_t *l = json_array();
        for (size_t i = 0; l && i < h->n_bins; i++)
            json_array_append_new(l, json_string(h->labels[i]));
        json_object_set_new(o, "labels", l);
    }
    json_object_set_new(o, "counts", counts);
    json_object_set_new(o, "missing", num(h->missing));
    return o;
}

static json_t *window_json(const struct orri_report_window *w)
{
    return json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:o,"
                     " s:o, s:o, s:b}",
        "id", (json_int_t)w->id, "version", w->version,
        "monitor", w->monitor, "start_ms", (json_int_t)w->start_ms,
        "end_ms", (json_int_t)w->end_ms,
        "created_ms", (json_int_t)w->created_ms,
        "rows", (json_int_t)w->n_rows,
        "labelled", (json_int_t)w->n_labelled, "status", w->status,
        "message", str_or_null(w->message),
        "drift_share", num(w->drift_share),
        "drift_share_threshold", num(w->drift_share_threshold),
        "drift_share_alert", w->drift_share_alert);
}

json_t *orri_report_json(const struct orri_report *r)
{
    json_t *doc = json_object();
    json_t *windows = json_array();
    json_t *features = json_array();
    json_t *quality = json_array();
    json_t *alerts = json_array();
    if (!doc || !windows || !features || !quality || !alerts)
        goto fail;
    for (size_t i = 0; i < r->n_windows; i++)
        json_array_append_new(windows, window_json(&r->windows[i]));
    for (size_t i = 0; i < r->n_features; i++) {
        const struct orri_report_feature *f = &r->features[i];
        json_array_append_new(features, json_pack(
            "{s:s, s:o, s:o, s:o, s:o, s:o, s:b, s:b, s:o, s:o, s:o, s:o,"
            " s:o, s:o}",
            "name", f->name, "method", str_or_null(f->method),
            "score", num(f->score), "threshold", num(f->threshold),
            "drifted", f->drifted < 0 ? json_null()
                                      : json_boolean(f->drifted),
            "missing_rate", num(f->missing_rate), "absent", f->absent,
            "output", f->output,
            "checks", checks_json(f->checks, f->n_checks),
            "reference", hist_json(&f->reference),
            "current", hist_json(&f->current),
            "score_history", series(f->history, r->n_windows),
            "threshold_history",
            series(f->history_threshold, r->n_windows),
            "alert_history", flags(f->history_alert, r->n_windows)));
    }
    for (size_t i = 0; i < r->n_quality; i++) {
        const struct orri_report_quality *q = &r->quality[i];
        json_array_append_new(quality, json_pack(
            "{s:s, s:o, s:o, s:b, s:o, s:b, s:o, s:o}",
            "metric", q->metric, "value", num(q->value),
            "threshold", num(q->threshold), "alert", q->alert,
            "registered", num(q->registered),
            "lower_is_better", q->lower_is_better,
            "history", series(q->history, r->n_windows),
            "alert_history", flags(q->history_alert, r->n_windows)));
    }
    for (size_t i = 0; i < r->n_alerts; i++) {
        const struct orri_report_alert *a = &r->alerts[i];
        json_array_append_new(alerts, json_pack(
            "{s:I, s:s, s:s, s:I, s:b, s:o}",
            "id", (json_int_t)a->id, "severity", a->severity,
            "title", a->title, "created_ms", (json_int_t)a->created_ms,
            "open", a->open, "delivered_ms",
            a->delivered_ms ? json_integer(a->delivered_ms) : json_null()));
    }
    const struct orri_report_window *w = orri_report_latest(r);
    json_object_set_new(doc, "model", json_string(r->model));
    json_object_set_new(doc, "latest", w ? window_json(w) : json_null());
    json_object_set_new(doc, "windows", windows);
    json_object_set_new(doc, "features", features);
    json_object_set_new(doc, "quality", quality);
    json_object_set_new(doc, "dataset", checks_json(r->dataset,
                                                    r->n_dataset));
    json_object_set_new(doc, "alerts", alerts);
    json_object_set_new(doc, "open_alerts",
                        json_integer((json_int_t)r->n_open_alerts));
    json_object_set_new(doc, "generated_ms",
                        json_integer(r->generated_ms));
    return doc;
fail:
    json_decref(doc);
    json_decref(windows);
    json_decref(features);
    json_decref(quality);
    json_decref(alerts);
    return NULL;
}

/* ---- writing ------------------------------------------------------------- */

int orri_report_write_file(const char *path, const char *data, size_t len,
                           struct orr_error *e)
{
    char dir[4096], tmp[4200];
    int rc = orri_path_dirname(dir, sizeof dir, path, e);
    if (rc)
        return rc;
    rc = orri_mkdir_p(dir, e);
    if (rc)
        return rc;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >=
        sizeof tmp)
        return orr_fail(e, ORR_EINVAL, "path too long: %s", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return orr_fail(e, ORR_EIO, "cannot create %s: %s", tmp,
                        strerror(errno));
    /* mkstemp creates 0600; a report is meant to be read like any file. */
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = orr_fail(e, ORR_EIO, "cannot write %s: %s", tmp,
                          strerror(errno));
            goto fail;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0) {
        rc = orr_fail(e, ORR_EIO, "cannot sync %s: %s", tmp,
                      strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = orr_fail(e, ORR_EIO, "cannot write %s: %s", tmp,
                      strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = orr_fail(e, ORR_EIO, "cannot rename %s to %s: %s", tmp, path,
                      strerror(errno));
        goto fail;
    }
    return ORR_OK;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rc;
}
