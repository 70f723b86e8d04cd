/*
 * tests/monitor/fakemon.c - a tiny, predictable monitor plugin for the
 * core's monitoring tests, so they do not depend on the statistics of
 * monitor-drift:
 *   "fakedrift": profile writes per numeric column the mean, std and a
 *     4-bin histogram, per categorical the counts, plus a feature "ghost"
 *     no model reads (to exercise "feature absent"); analyze reports per
 *     column drift_score = |mean - reference mean| / reference std
 *     (method "meanshift", threshold `score`, default 0.5) and
 *     missing_rate (threshold 0.5);
 *   "fakehook": notify appends "severity|title" lines to the file `path`
 *     and fails ("receiver down") while `path`.down exists.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <orrery/orrery.h>

static const struct orr_host *H;

struct fake {
    double score;
};

static int fd_open(void *self, const struct orr_cfg *cfg, struct orr_error *e)
{
    (void)e;
    ((struct fake *)self)->score = H->cfg_num(cfg, "score", 0.5);
    return ORR_OK;
}

static void fd_close(void *self)
{
    (void)self;
}

static double at(const struct orr_column *c, size_t i)
{
    if (c->missing && c->missing[i])
        return NAN;
    return c->type == ORR_COL_F64 ? ((const double *)c->data)[i] : NAN;
}

static json_t *numeric(const char *name, const double *v, size_t stride,
                       size_t n)
{
    double s = 0, s2 = 0, lo = INFINITY, hi = -INFINITY;
    size_t k = 0, miss = 0;
    for (size_t i = 0; i < n; i++) {
        double x = v[i * stride];
        if (isnan(x)) {
            miss++;
            continue;
        }
        s += x;
        s2 += x * x;
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
        k++;
    }
    double mean = k ? s / k : 0, var = k ? s2 / k - mean * mean : 0;
    json_t *edges = json_array(), *counts = json_array();
    size_t cnt[4] = {0};
    for (size_t i = 0; k && i < n; i++) {
        double x = v[i * stride];
        if (isnan(x))
            continue;
        int b = hi > lo ? (int)((x - lo) / (hi - lo) * 4) : 0;
        cnt[b > 3 ? 3 : b]++;
    }
    for (int b = 0; b <= 4; b++)
        json_array_append_new(edges, json_real(k ? lo + (hi - lo) * b / 4
                                                 : b));
    for (int b = 0; b < 4; b++)
        json_array_append_new(counts, json_integer((json_int_t)cnt[b]));
    return json_pack("{s:s,s:s,s:I,s:f,s:f,s:{s:o,s:o}}", "name", name,
                     "type", "numeric", "missing", (json_int_t)miss,
                     "mean", mean, "std", var > 0 ? sqrt(var) : 0.0,
                     "histogram", "edges", edges, "counts", counts);
}

static int fd_profile(void *self, const struct orr_table *ref,
                      const struct orr_matrix *pred, const char *out,
                      struct orr_error *e)
{
    (void)self;
    json_t *feats = json_array();
    double *tmp = malloc((ref->rows ? ref->rows : 1) * sizeof *tmp);
    for (size_t c = 0; c < ref->cols; c++) {
        const struct orr_column *col = &ref->columns[c];
        if (col->type == ORR_COL_CATEGORY) {
            json_t *cats = json_object();
            const int32_t *codes = col->data;
            for (size_t d = 0; d < col->dict_len; d++) {
                json_int_t n = 0;
                for (size_t i = 0; i < ref->rows; i++)
                    n += codes[i] == (int32_t)d;
                json_object_set_new(cats, col->dict[d], json_integer(n));
            }
            json_array_append_new(feats, json_pack("{s:s,s:s,s:o}", "name",
                                                   col->name, "type",
                                                   "categorical",
                                                   "categories", cats));
            continue;
        }
        for (size_t i = 0; i < ref->rows; i++)
            tmp[i] = at(col, i);
        json_array_append_new(feats, numeric(col->name, tmp, 1, ref->rows));
    }
    free(tmp);
    json_t *ghost = numeric("ghost", NULL, 1, 0);
    json_array_append_new(feats, ghost);
    json_t *preds = json_array();
    for (size_t j = 0; pred && j < pred->cols; j++)
        json_array_append_new(preds, numeric("prediction", pred->data + j,
                                             pred->cols, pred->rows));
    json_t *doc = json_pack("{s:s,s:I,s:o,s:o}", "format", "fake/1", "rows",
                            (json_int_t)ref->rows, "features", feats,
                            "predictions", preds);
    int rc = json_dump_file(doc, out, JSON_COMPACT);
    json_decref(doc);
    return rc ? H->fail(e, ORR_EIO, "writing %s", out) : ORR_OK;
}

static int fd_analyze(void *self, const struct orr_monitor_window *w,
                      const struct orr_monitor_sink *sink,
                      struct orr_error *e)
{
    struct fake *f = self;
    json_error_t je;
    json_t *p = json_load_file(w->reference_profile, 0, &je);
    if (!p)
        return H->fail(e, ORR_ECORRUPT, "profile: %s", je.text);
    double thr = H->cfg_num(w->thresholds, "score", f->score);
    int rc = ORR_OK;
    for (size_t c = 0; !rc && w->current && c < w->current->cols; c++) {
        const struct orr_column *col = &w->current->columns[c];
        json_t *ref = NULL, *x;
        size_t i;
        json_array_foreach(json_object_get(p, "features"), i, x)
            if (!strcmp(json_string_value(json_object_get(x, "name")),
                        col->name))
                ref = x;
        if (!ref || col->type != ORR_COL_F64)
            continue;
        double s = 0;
        size_t k = 0;
        for (size_t r = 0; r < w->current->rows; r++) {
            double v = at(col, r);
            if (!isnan(v)) {
                s += v;
                k++;
            }
        }
        double sd = json_number_value(json_object_get(ref, "std"));
        double mr = json_number_value(json_object_get(ref, "mean"));
        double score = k ? fabs(s / k - mr) / (sd > 0 ? sd : 1) : NAN;
        double miss = w->current->rows
                    ? 1.0 - (double)k / (double)w->current->rows : 0;
        struct orr_monitor_value v = {
            sizeof v, col->name, "drift_score", "meanshift", score, thr,
            !isnan(score) && score > thr};
        rc = sink->value(sink->ctx, &v);
        struct orr_monitor_value m = {
            sizeof m, col->name, "missing_rate", "quality", miss, 0.5,
            miss > 0.5};
        if (!rc)
            rc = sink->value(sink->ctx, &m);
    }
    json_decref(p);
    return rc ? H->fail(e, ORR_EIO, "sink refused a value") : ORR_OK;
}

static const struct orr_monitor_ops fakedrift = {
    .version = ORR_MONITOR_OPS_VERSION, .name = "fakedrift",
    .summary = "test monitor: mean shift", .self_size = sizeof(struct fake),
    .open = fd_open, .close = fd_close, .profile = fd_profile,
    .analyze = fd_analyze};

struct hook {
    char path[1024];
};

static int fh_open(void *self, const struct orr_cfg *cfg, struct orr_error *e)
{
    struct hook *h = self;
    const char *p = H->cfg_str(cfg, "path", NULL);
    if (!p)
        return H->fail(e, ORR_ECONFIG, "fakehook: no path");
    snprintf(h->path, sizeof h->path, "%s", p);
    return ORR_OK;
}

static int fh_notify(void *self, const struct orr_alert *a,
                     struct orr_error *e)
{
    struct hook *h = self;
    char down[1100];
    snprintf(down, sizeof down, "%s.down", h->path);
    if (access(down, F_OK) == 0)
        return H->fail(e, ORR_EIO, "receiver down");
    FILE *f = fopen(h->path, "a");
    if (!f)
        return H->fail(e, ORR_EIO, "cannot open %s", h->path);
    fprintf(f, "%d|%s|%s\n", (int)a->severity, a->model, a->title);
    fclose(f);
    return ORR_OK;
}

static const struct orr_monitor_ops fakehook = {
    .version = ORR_MONITOR_OPS_VERSION, .name = "fakehook",
    .summary = "test notifier: appends to a file",
    .self_size = sizeof(struct hook), .open = fh_open, .close = fd_close,
    .notify = fh_notify};

static int init(const struct orr_host *h, struct orr_registry *r,
                struct orr_error *e)
{
    H = h;
    int rc = h->add_monitor(r, &fakedrift, e);
    return rc ? rc : h->add_monitor(r, &fakehook, e);
}

ORR_PLUGIN("monitor-fakemon", "1.0.0", "Apache-2.0",
           "monitor fixture for tests/monitor", init, NULL)
