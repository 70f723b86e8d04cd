/*
 * monitor/run.c - one monitor window: the rows of the prediction log
 * (window.c) as a table with the model's features, handed with the
 * reference profile to the site backend's `analyze`; the figures, the
 * current histograms over the profile's bins, the model quality on
 * labelled rows against registration, the window's status and its
 * (deduplicated) alerts stored in one transaction.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <orrery/trainer.h>

#include "config/cfg.h"
#include "core.h"
#include "data/model_io.h"
#include "data/table.h"
#include "meta/registry.h"
#include "monitor/internal.h"
#include "monitor/monitor.h"
#include "plugin/model.h"
#include "storage/artifacts.h"
#include "util/error.h"
#include "util/log.h"

/* Defaults (docs/monitoring.md): Evidently's dataset drift share; a 10%
 * relative quality drop; 30 rows before any statistic is meaningful. */
#define DEF_DRIFT_SHARE  0.5
#define DEF_QUALITY_DROP 0.1
#define DEF_MIN_ROWS     30
#define DEF_MIN_LABELS   30

struct value {
    char  *feature, *metric, *method;
    double value, threshold;
    int    alert;
};

struct values {
    struct value *v;
    size_t        n, cap;
};

static int values_add(struct values *vs, const char *feature,
                      const char *metric, const char *method, double value,
                      double threshold, int alert)
{
    if (vs->n == vs->cap) {
        size_t cap = vs->cap ? vs->cap * 2 : 64;
        struct value *v = realloc(vs->v, cap * sizeof *v);
        if (!v)
            return ORR_ENOMEM;
        vs->v = v;
        vs->cap = cap;
    }
    struct value *v = &vs->v[vs->n];
    v->feature = feature ? strdup(feature) : NULL;
    v->metric = strdup(metric ? metric : "");
    v->method = method ? strdup(method) : NULL;
    v->value = value;
    v->threshold = threshold;
    v->alert = alert;
    vs->n++;
    return (feature && !v->feature) || !v->metric ? ORR_ENOMEM : ORR_OK;
}

static void values_free(struct values *vs)
{
    for (size_t i = 0; i < vs->n; i++) {
        free(vs->v[i].feature);
        free(vs->v[i].metric);
        free(vs->v[i].method);
    }
    free(vs->v);
}

static int sink_value(void *ctx, const struct orr_monitor_value *v)
{
    return values_add(ctx, v->feature, v->metric, v->method, v->value,
                      v->threshold, v->alert);
}

/* ---- the current table -------------------------------------------------- */

struct table {
    struct orr_column *cols;
    size_t             n;
    int32_t          **codes;
    uint8_t          **miss;
    char            ***dict;
    size_t            *dict_len;
    json_t           **pf;      /* the profile's feature object, borrowed  */
};

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->codes[i]);
        free(t->miss[i]);
        if (t->dict[i])
            for (size_t k = 0; k < t->dict_len[i]; k++)
                free(t->dict[i][k]);
        free(t->dict[i]);
    }
    free(t->cols);
    free(t->codes);
    free(t->miss);
    free(t->dict);
    free(t->dict_len);
    free(t->pf);
}

/* Prediction drift is not a feature's: only table columns count. */
static int table_has(const struct table *t, const char *name)
{
    for (size_t c = 0; c < t->n; c++)
        if (!strcmp(t->cols[c].name, name))
            return 1;
    return 0;
}

static size_t find_input(const struct orr_model_info *mi, const char *name)
{
    for (size_t j = 0; mi->feature_names && j < mi->n_features; j++)
        if (mi->feature_names[j] && !strcmp(mi->feature_names[j], name))
            return j;
    return (size_t)-1;
}

/* Column `c` of the table: input column j of the window, in place (the
 * window is column-major); a mask only when a value is missing. */
static int numeric_col(struct table *t, size_t c, const struct orri_mon_rows
                       *r, size_t j)
{
    const double *d = r->x + j * r->stride;
    uint8_t *m = NULL;
    for (size_t i = 0; i < r->rows; i++) {
        if (isnan(d[i])) {
            if (!m && !(m = calloc(r->rows, 1)))
                return ORR_ENOMEM;
            m[i] = 1;
        }
    }
    t->miss[c] = m;
    t->cols[c].type = ORR_COL_F64;
    t->cols[c].data = d;
    t->cols[c].missing = m;
    return ORR_OK;
}

/* A categorical feature from one-hot inputs "NAME=LABEL"; the dictionary
 * is the profile's categories, then labels only the model knows. */
static int category_col(struct table *t, size_t c, const char *name,
                        const struct orri_mon_rows *r,
                        const struct orr_model_info *mi, json_t *cats,
                        int *found)
{
    size_t nl = strlen(name), nd = json_object_size(cats), k = 0;
    size_t nin = mi->n_features;
    char **dict = calloc(nd + nin + 1, sizeof *dict);
    size_t *col_of = calloc(nd + nin + 1, sizeof *col_of);
    int32_t *codes = malloc((r->rows ? r->rows : 1) * sizeof *codes);
    uint8_t *m = calloc(r->rows ? r->rows : 1, 1);
    int rc = ORR_OK;
    *found = 0;
    if (!dict || !col_of || !codes || !m)
        goto oom;
    const char *key;
    json_t *val;
    json_object_foreach(cats, key, val) {
        if (!(dict[k] = strdup(key)))
            goto oom;
        col_of[k++] = (size_t)-1;
    }
    for (size_t j = 0; mi->feature_names && j < nin; j++) {
        const char *f = mi->feature_names[j];
        if (!f || strncmp(f, name, nl) || f[nl] != '=')
            continue;
        *found = 1;
        size_t d = 0;
        while (d < k && strcmp(dict[d], f + nl + 1))
            d++;
        if (d == k) {
            if (!(dict[k] = strdup(f + nl + 1)))
                goto oom;
            k++;
        }
        col_of[d] = j;
    }
    for (size_t i = 0; i < r->rows; i++) {
        codes[i] = -1;
        for (size_t d = 0; d < k; d++)
            if (col_of[d] != (size_t)-1 &&
                r->x[col_of[d] * r->stride + i] == 1.0) {
                codes[i] = (int32_t)d;
                break;
            }
        m[i] = codes[i] < 0;
    }
    free(col_of);
    t->codes[c] = codes;
    t->miss[c] = m;
    t->dict[c] = dict;
    t->dict_len[c] = k;
    t->cols[c].type = ORR_COL_CATEGORY;
    t->cols[c].data = codes;
    t->cols[c].missing = m;
    t->cols[c].dict = (const char *const *)dict;
    t->cols[c].dict_len = k;
    return rc;
oom:
    if (dict)
        for (size_t d = 0; d < k; d++)
            free(dict[d]);
    free(dict);
    free(col_of);
    free(codes);
    free(m);
    return ORR_ENOMEM;
}

/* The profile's features present in the window: numeric from the input
 * of the same name, categorical from one-hot inputs; an absent one is
 * reported as the value "absent".  No profile feature list: every input
 * as a numeric column. */
static int build_table(struct table *t, json_t *profile,
                       const struct orri_mon_rows *r,
                       const struct orr_model_info *mi, struct values *vs,
                       char *absent, size_t absent_cap)
{
    json_t *feats = json_object_get(profile, "features");
    size_t nf = json_is_array(feats) ? json_array_size(feats)
                                     : mi->n_features;
    size_t cap = nf ? nf : 1;
    t->cols = calloc(cap, sizeof *t->cols);
    t->codes = calloc(cap, sizeof *t->codes);
    t->miss = calloc(cap, sizeof *t->miss);
    t->dict = calloc(cap, sizeof *t->dict);
    t->dict_len = calloc(cap, sizeof *t->dict_len);
    t->pf = calloc(cap, sizeof *t->pf);
    if (!t->cols || !t->codes || !t->miss || !t->dict ||
        !t->dict_len || !t->pf)
        return ORR_ENOMEM;
    for (size_t i = 0; i < nf; i++) {
        json_t *f = json_is_array(feats) ? json_array_get(feats, i) : NULL;
        const char *name = f ? json_string_value(json_object_get(f, "name"))
                         : mi->feature_names ? mi->feature_names[i] : NULL;
        if (!name)
            continue;
        const char *type = json_string_value(json_object_get(f, "type"));
        size_t c = t->n;
        t->cols[c].size = sizeof t->cols[c];
        t->cols[c].name = name;
        t->pf[c] = f;
        size_t j = find_input(mi, name);
        int rc = ORR_OK, found = j != (size_t)-1;
        if (found && (!type || strcmp(type, "categorical")))
            rc = numeric_col(t, c, r, j);
        else if (type && !strcmp(type, "categorical"))
            rc = category_col(t, c, name, r, mi,
                              json_object_get(f, "categories"), &found);
        else
            found = 0;
        if (rc)
            return rc;
        if (!found) {
            /* A categorical feature none of whose labels is an input. */
            free(t->codes[c]);
            free(t->miss[c]);
            if (t->dict[c])
                for (size_t k = 0; k < t->dict_len[c]; k++)
                    free(t->dict[c][k]);
            free(t->dict[c]);
            t->codes[c] = NULL;
            t->miss[c] = NULL;
            t->dict[c] = NULL;
            t->dict_len[c] = 0;
            if (values_add(vs, name, "absent", NULL, 1, NAN, 0))
                return ORR_ENOMEM;
            size_t len = strlen(absent);
            if (len + strlen(name) + 3 < absent_cap)
                snprintf(absent + len, absent_cap - len, "%s%s",
                         len ? ", " : "", name);
            continue;
        }
        t->n++;
    }
    return ORR_OK;
}

/* ---- histograms ---------------------------------------------------------- */

static json_t *hist_current(const double *x, size_t stride, size_t n,
                            json_t *edges)
{
    size_t ne = json_array_size(edges);
    if (ne < 2)
        return NULL;
    double *e = malloc(ne * sizeof *e);
    uint64_t *cnt = calloc(ne - 1, sizeof *cnt);
    json_t *out = NULL;
    if (!e || !cnt)
        goto done;
    for (size_t k = 0; k < ne; k++)
        e[k] = json_number_value(json_array_get(edges, k));
    /* Values outside the reference's range count in the outer bins.
     * Profiles' bins are usually of equal width: guess the bin from the
     * width, then settle it against the edges (exact for any edges). */
    size_t k = ne - 1;
    double w = (e[k] - e[0]) / (double)k;
    double inv = w > 0 && isfinite(w) ? 1.0 / w : 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i * stride];
        if (isnan(v))
            continue;
        double g = (v - e[0]) * inv;
        size_t lo = g <= 0 ? 0 : g >= (double)(k - 1) ? k - 1 : (size_t)g;
        int steps = 0;
        while (lo > 0 && v < e[lo] && steps++ < 2)
            lo--;
        while (lo + 1 < k && v >= e[lo + 1] && steps++ < 4)
            lo++;
        if ((lo > 0 && v < e[lo]) || (lo + 1 < k && v >= e[lo + 1])) {
            size_t a = 0, b = k;    /* uneven edges: bisect */
            while (b - a > 1) {
                size_t mid = (a + b) / 2;
                if (v < e[mid])
                    b = mid;
                else
                    a = mid;
            }
            lo = a;
        }
        cnt[lo]++;
    }
    json_t *counts = json_array();
    for (size_t b = 0; counts && b < k; b++)
        json_array_append_new(counts, json_integer((json_int_t)cnt[b]));
    out = json_pack("{s:{s:O,s:o}}", "histogram", "edges", edges,
                    "counts", counts);
done:
    free(e);
    free(cnt);
    return out;
}

static json_t *cats_current(const struct orr_column *c, size_t n)
{
    uint64_t *cnt = calloc(c->dict_len + 1, sizeof *cnt);
    if (!cnt)
        return NULL;
    const int32_t *codes = c->data;
    for (size_t i = 0; i < n; i++)
        if (codes[i] >= 0 && (size_t)codes[i] < c->dict_len)
            cnt[codes[i]]++;
    json_t *o = json_object();
    for (size_t k = 0; o && k < c->dict_len; k++)
        json_object_set_new(o, c->dict[k], json_integer((json_int_t)cnt[k]));
    free(cnt);
    return json_pack("{s:o}", "categories", o);
}

static json_t *ref_shape(json_t *pf)
{
    json_t *h = json_object_get(pf, "histogram");
    if (h)
        return json_pack("{s:O}", "histogram", h);
    json_t *c = json_object_get(pf, "categories");
    return c ? json_pack("{s:O}", "categories", c) : NULL;
}

struct hist {
    char   *feature;
    char   *ref, *cur;
};

static int hist_add(struct hist **hs, size_t *n, const char *feature,
                    json_t *ref, json_t *cur)
{
    int rc = ORR_OK;
    if (ref && cur) {
        struct hist *h = realloc(*hs, (*n + 1) * sizeof *h);
        if (!h) {
            rc = ORR_ENOMEM;
        } else {
            *hs = h;
            h[*n].feature = strdup(feature);
            h[*n].ref = json_dumps(ref, JSON_COMPACT);
            h[*n].cur = json_dumps(cur, JSON_COMPACT);
            (*n)++;
        }
    }
    json_decref(ref);
    json_decref(cur);
    return rc;
}

/* ---- thresholds ---------------------------------------------------------- */

struct limits {
    double drift_share, quality_drop;
    int64_t min_rows, min_labels;
};

static struct orr_cfg *thresholds_cfg(const char *js, struct limits *lim,
                                      const struct orr_cfg *site,
                                      struct orr_error *e, int *rc)
{
    lim->drift_share = orr_cfg_num(site, "monitor.thresholds.drift_share",
                                   DEF_DRIFT_SHARE);
    lim->quality_drop = orr_cfg_num(site, "monitor.thresholds.quality_drop",
                                    DEF_QUALITY_DROP);
    lim->min_rows = orr_cfg_int(site, "monitor.thresholds.min_rows",
                                DEF_MIN_ROWS);
    lim->min_labels = orr_cfg_int(site, "monitor.thresholds.min_labels",
                                  DEF_MIN_LABELS);
    *rc = ORR_OK;
    if (!js || !js[0])
        return NULL;
    json_error_t je;
    json_t *j = json_loads(js, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        *rc = orr_fail(e, ORR_EINVAL, "thresholds: not a JSON object: %s",
                       je.text);
        return NULL;
    }
    struct orr_cfg *c = orr_cfg_new_table();
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) {
        if (json_is_integer(v))
            orr_cfg_set_int(c, k, json_integer_value(v), "thresholds");
        else if (json_is_number(v))
            orr_cfg_set_num(c, k, json_number_value(v), "thresholds");
        else if (json_is_string(v))
            orr_cfg_set_str(c, k, json_string_value(v), "thresholds");
        else if (json_is_boolean(v))
            orr_cfg_set_bool(c, k, json_is_true(v), "thresholds");
    }
    json_decref(j);
    lim->drift_share = orr_cfg_num(c, "drift_share", lim->drift_share);
    lim->quality_drop = orr_cfg_num(c, "quality_drop", lim->quality_drop);
    lim->min_rows = orr_cfg_int(c, "min_rows", lim->min_rows);
    lim->min_labels = orr_cfg_int(c, "min_labels", lim->min_labels);
    return c;
}

/* ---- registration metrics ----------------------------------------------- */

struct refmetric {
    const char *want;
    double      value;
    int         exact;
};

static int match_metric(void *ctx, const char *key, double value)
{
    struct refmetric *rm = ctx;
    size_t kl = strlen(key), wl = strlen(rm->want);
    if (!strcmp(key, rm->want)) {
        rm->value = value;
        rm->exact = 1;
    } else if (!rm->exact && isnan(rm->value) && kl > wl &&
               !strcmp(key + kl - wl, rm->want) &&
               strchr("_./", key[kl - wl - 1])) {
        rm->value = value;
    }
    return 0;
}

/* ---- storing ------------------------------------------------------- */

static int store_window(sqlite3 *db, const struct orri_monitor_result *r,
                        const char *monitor, int64_t start_ms, int64_t end_ms,
                        const struct values *vs, const struct hist *hs,
                        size_t nh, struct orr_error *e)
{
    static const char qw[] =
        "INSERT INTO monitor_windows (model, version, monitor, start_ms,"
        " end_ms, n_rows, n_labelled, status, message, created_ms)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    static const char qv[] =
        "INSERT INTO monitor_values (window_id, feature, metric, method,"
        " value, threshold, alert) VALUES (?, ?, ?, ?, ?, ?, ?)";
    static const char qh[] =
        "INSERT OR REPLACE INTO monitor_histograms (window_id, feature,"
        " reference, current) VALUES (?, ?, ?, ?)";
    sqlite3_stmt *sw = NULL, *sv = NULL, *sh = NULL;
    int src = sqlite3_prepare_v2(db, qw, -1, &sw, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(db, qv, -1, &sv, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(db, qh, -1, &sh, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(sw, 1, r->model, -1, SQLITE_STATIC);
        sqlite3_bind_text(sw, 2, r->version, -1, SQLITE_STATIC);
        sqlite3_bind_text(sw, 3, monitor, -1, SQLITE_STATIC);
        sqlite3_bind_int64(sw, 4, start_ms);
        sqlite3_bind_int64(sw, 5, end_ms);
        sqlite3_bind_int64(sw, 6, r->n_rows);
        sqlite3_bind_int64(sw, 7, r->n_labelled);
        sqlite3_bind_text(sw, 8, r->status, -1, SQLITE_STATIC);
        if (r->message[0])
            sqlite3_bind_text(sw, 9, r->message, -1, SQLITE_STATIC);
        sqlite3_bind_int64(sw, 10, orri_now_ms());
        src = sqlite3_step(sw);
        if (src == SQLITE_DONE)
            src = SQLITE_OK;
    }
    int64_t wid = sqlite3_last_insert_rowid(db);
    for (size_t i = 0; vs && src == SQLITE_OK && i < vs->n; i++) {
        const struct value *v = &vs->v[i];
        sqlite3_bind_int64(sv, 1, wid);
        if (v->feature)
            sqlite3_bind_text(sv, 2, v->feature, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(sv, 2);
        sqlite3_bind_text(sv, 3, v->metric, -1, SQLITE_STATIC);
        if (v->method)
            sqlite3_bind_text(sv, 4, v->method, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(sv, 4);
        if (isnan(v->value))
            sqlite3_bind_null(sv, 5);
        else
            sqlite3_bind_double(sv, 5, v->value);
        if (isnan(v->threshold))
            sqlite3_bind_null(sv, 6);
        else
            sqlite3_bind_double(sv, 6, v->threshold);
        sqlite3_bind_int(sv, 7, v->alert != 0);
        src = sqlite3_step(sv);
        sqlite3_reset(sv);
        sqlite3_clear_bindings(sv);
        if (src == SQLITE_DONE)
            src = SQLITE_OK;
    }
    for (size_t i = 0; src == SQLITE_OK && i < nh; i++) {
        sqlite3_bind_int64(sh, 1, wid);
        sqlite3_bind_text(sh, 2, hs[i].feature, -1, SQLITE_STATIC);
        sqlite3_bind_text(sh, 3, hs[i].ref, -1, SQLITE_STATIC);
        sqlite3_bind_text(sh, 4, hs[i].cur, -1, SQLITE_STATIC);
        src = sqlite3_step(sh);
        sqlite3_reset(sh);
        if (src == SQLITE_DONE)
            src = SQLITE_OK;
    }
    sqlite3_finalize(sw);
    sqlite3_finalize(sv);
    sqlite3_finalize(sh);
    if (src != SQLITE_OK)
        return orri_mon_sqlfail(db, src, e, "storing the window");
    ((struct orri_monitor_result *)r)->window_id = wid;
    return ORR_OK;
}

static const char *site_monitor(struct orr_core *core)
{
    const char *b = orr_site_backend(orr_core_site(core), ORR_KIND_MONITOR);
    return b ? b : "";
}

static int exec(sqlite3 *db, const char *sql, struct orr_error *e)
{
    int src = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return src == SQLITE_OK ? ORR_OK : orri_mon_sqlfail(db, src, e, sql);
}

static int is_share(const char *metric)
{
    return !strcmp(metric, "drift_share") ||
           !strcmp(metric, "dataset_drift_share") ||
           !strcmp(metric, "share_of_drifted_features") ||
           !strcmp(metric, "dataset_drift");
}

/* Raise the window's alerts (deduplicated: model|feature|metric). */
static int raise_alerts(sqlite3 *db, struct orri_monitor_result *r,
                        const struct values *vs, struct orr_error *e)
{
    for (size_t i = 0; i < vs->n; i++) {
        const struct value *v = &vs->v[i];
        if (!v->alert)
            continue;
        int quality = !strcmp(v->method ? v->method : "", "labels");
        /* A drifting feature is information; the dataset drifting or
         * the data failing a check is a warning; the model getting worse
         * on real outcomes is critical. */
        const char *sev = quality ? "critical"
                        : v->feature && !strcmp(v->metric, "drift_score")
                        ? "info" : "warning";
        char key[512], title[512], details[1024];
        snprintf(key, sizeof key, "%s|%s|%s", r->model,
                 v->feature ? v->feature : "", v->metric);
        if (quality)
            snprintf(title, sizeof title, "%s: %s worsened to %.4g "
                     "(limit %.4g)", r->model, v->metric, v->value,
                     v->threshold);
        else if (!v->feature)
            snprintf(title, sizeof title, "%s: dataset drift, %s = %.4g "
                     "(threshold %.4g)", r->model, v->metric, v->value,
                     v->threshold);
        else
            snprintf(title, sizeof title, "%s: %s of '%s' = %.4g "
                     "(threshold %.4g%s%s)", r->model, v->metric,
                     v->feature, v->value, v->threshold,
                     v->method ? ", " : "", v->method ? v->method : "");
        /* NaN (no value, no threshold) is null, never a fake 0. */
        json_t *d = json_pack("{s:s,s:s,s:s?,s:s,s:s?,s:o,s:o,s:I,s:s}",
                              "model", r->model, "version", r->version,
                              "feature", v->feature, "metric", v->metric,
                              "method", v->method,
                              "value", isnan(v->value) ? json_null()
                                                      : json_real(v->value),
                              "threshold", isnan(v->threshold)
                                  ? json_null() : json_real(v->threshold),
                              "window_id", (json_int_t)r->window_id,
                              "dedup_key", key);
        char *ds = d ? json_dumps(d, JSON_COMPACT) : NULL;
        json_decref(d);
        snprintf(details, sizeof details, "%s", ds ? ds : "{}");
        free(ds);
        int raised = 0;
        int rc = orri_mon_alert_raise(db, r->model, r->version, r->window_id,
                                      sev, key, title, details, &raised, e);
        if (rc)
            return rc;
        r->n_alerts += raised;
    }
    return ORR_OK;
}

/* Phase times at debug level (ORRERY_LOG=debug): where a window's
 * second goes. */
static void phase(const char *what, int64_t *t)
{
    int64_t now = orri_now_ms();
    orr_log(ORR_LOG_DEBUG, "monitor", "%s: %lld ms", what,
            (long long)(now - *t));
    *t = now;
}

/* ---- the run ------------------------------------------------------- */

static void set_msg(struct orri_monitor_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_msg(struct orri_monitor_result *r, const char *fmt, ...)
{
    size_t len = strlen(r->message);
    if (len + 3 >= sizeof r->message)
        return;
    if (len) {
        memcpy(r->message + len, "; ", 3);
        len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message + len, sizeof r->message - len, fmt, ap);
    va_end(ap);
}

/* Class index of each labelled row (classification), from numbers or
 * class names as the manifest lists them. */
static void label_classes(struct orri_mon_rows *w,
                          const struct orr_model_manifest *mf, size_t k)
{
    for (size_t i = 0; i < w->rows; i++) {
        const char *text = w->label_text ? w->label_text[i] : NULL;
        char buf[64];
        if (!text && isnan(w->label[i]))
            continue;
        if (!text) {
            orri_format_number(buf, sizeof buf, w->label[i]);
            text = buf;
        }
        double cls = NAN;
        for (size_t c = 0; c < mf->n_classes; c++)
            if (!strcmp(mf->classes[c], text))
                cls = (double)c;
        if (isnan(cls) && !mf->n_classes && !isnan(w->label[i]) &&
            w->label[i] >= 0 && w->label[i] < (double)k)
            cls = w->label[i];
        w->label[i] = cls;
    }
}

int orri_monitor_run(struct orr_core *core, const char *model,
                     const struct orri_monitor_opts *o,
                     struct orri_monitor_result *r, struct orr_error *e)
{
    struct orri_monitor_opts defo = {0};
    if (!o)
        o = &defo;
    memset(r, 0, sizeof *r);
    r->drift_share = NAN;
    snprintf(r->status, sizeof r->status, "error");
    if (!model || !model[0])
        return orr_fail(e, ORR_EINVAL, "monitor run: no model given");
    const char *name = !strncmp(model, "models:/", 8) ? model + 8 : model;
    int fixed = strpbrk(name, "/@") != NULL;
    int64_t count = 0, span = 0;
    int64_t now = o->now_ms ? o->now_ms : orri_now_ms();
    struct orr_meta *m = NULL;
    sqlite3 *db = NULL;
    struct orri_mon_rows w = {0};
    struct orr_model_version v;
    struct orr_model *mdl = NULL;
    struct orr_model_manifest mf = {0};
    struct orr_instance *mon = NULL, *st = NULL;
    struct orr_cfg *thr = NULL;
    struct limits lim;
    struct values vs = {0};
    struct table t = {0};
    struct hist *hs = NULL;
    size_t nh = 0;
    json_t *profile = NULL;
    char tmp[4096] = "", ppath[4200], digest[65];
    int rc = orri_mon_window_parse(o->window, &count, &span, e);
    if (!rc)
        thr = thresholds_cfg(o->thresholds_json, &lim,
                             orr_core_site(core)->root, e, &rc);
    if (!rc)
        rc = orr_core_meta(core, &m, e);
    if (!rc && fixed)
        rc = orr_registry_resolve(m, name, &v, e);
    if (!rc)
        rc = orri_mon_db_open(core, &db, e);
    if (rc)
        goto fail;
    snprintf(r->model, sizeof r->model, "%.*s", (int)strcspn(name, "/@"),
             name);
    if (fixed)
        snprintf(r->version, sizeof r->version, "%lld",
                 (long long)v.version);
    int64_t tph = orri_now_ms();
    rc = orri_mon_window_load(db, r->model, fixed ? r->version : NULL, 0,
                              count, span, now, &w, e);
    if (rc)
        goto fail;
    phase("window read", &tph);
    r->n_rows = (int64_t)w.rows;
    r->n_labelled = w.n_labelled;
    if (!fixed && w.version[0])
        snprintf(r->version, sizeof r->version, "%s", w.version);
    if (w.n_skipped)
        set_msg(r, "%lld logged predictions skipped (another column count)",
                (long long)w.n_skipped);
    if (w.rows < (size_t)(lim.min_rows > 0 ? lim.min_rows : 1)) {
        snprintf(r->status, sizeof r->status, "no_data");
        if (!w.rows)
            set_msg(r, "no data: no prediction of '%s' logged in the "
                    "window (%s)", r->model, o->window ? o->window : "1h");
        else
            set_msg(r, "not enough data: %zu rows, need %lld (min_rows)",
                    w.rows, (long long)lim.min_rows);
        int64_t start = w.start_ms ? w.start_ms : now - span;
        rc = store_window(db, r, site_monitor(core), start,
                          w.end_ms ? w.end_ms : now, NULL, NULL, 0, e);
        goto fail;
    }
    if (!fixed) {
        char uri[ORR_MODEL_NAME_MAX + 40];
        snprintf(uri, sizeof uri, "%s/%s", r->model, r->version);
        if ((rc = orr_registry_resolve(m, uri, &v, e)))
            goto fail;
    }
    rc = orri_mon_profile_digest(db, v.name, v.version, digest, e);
    if (!rc && !digest[0])
        rc = orr_fail(e, ORR_ENOTFOUND, "%s/%lld has no reference profile: "
                      "run `orrery monitor profile models:/%s/%lld`", v.name,
                      (long long)v.version, v.name, (long long)v.version);
    if (!rc)
        rc = orr_instance_open(core, ORR_KIND_MONITOR, NULL, NULL, &mon, e);
    if (!rc && !mon->backend->ops.monitor.analyze)
        rc = orr_fail(e, ORR_EUNSUPPORTED, "monitor backend '%s' does not "
                      "analyze windows", mon->backend->name);
    if (!rc)
        rc = orr_model_open(core, v.artifact, &mdl, &mf, e);
    struct orr_model_info mi = {.size = sizeof mi};
    if (!rc)
        rc = orr_model_info(mdl, &mi, e);
    if (!rc)
        rc = orr_core_storage(core, &st, e);
    if (!rc)
        rc = orr_tempdir(tmp, sizeof tmp, "orrery-monitor", e);
    if (rc)
        goto fail;
    snprintf(ppath, sizeof ppath, "%s/profile.json", tmp);
    if ((rc = orr_storage_get_file(st, digest, ppath, e)))
        goto fail;
    json_error_t je;
    profile = json_load_file(ppath, 0, &je);
    phase("model and profile loaded", &tph);
    if (w.cols != mi.n_features) {
        rc = orr_fail(e, ORR_EINVAL, "the logged inputs have %zu columns, "
                      "%s/%lld reads %zu features", w.cols, v.name,
                      (long long)v.version, mi.n_features);
        goto fail;
    }
    char absent[200] = "";
    rc = build_table(&t, profile, &w, &mi, &vs, absent, sizeof absent);
    if (rc) {
        rc = orr_fail(e, rc, "out of memory building the window");
        goto fail;
    }
    if (absent[0])
        set_msg(r, "feature absent: %s", absent);
    phase("table built", &tph);
    /* Labels become class indices for classification. */
    int task = (int)mi.task;
    size_t k = task == ORR_TASK_BINARY ? 2 : mi.n_outputs;
    if (task == ORR_TASK_BINARY || task == ORR_TASK_MULTICLASS)
        label_classes(&w, &mf, k);
    struct orr_table cur = {.size = sizeof cur, .rows = w.rows,
                            .cols = t.n, .columns = t.cols,
                            .target = ORR_NO_TARGET};
    struct orr_matrix pm = {.rows = w.rows, .cols = w.out_cols,
                            .data = w.y, .capacity = w.rows * w.out_cols};
    struct orr_monitor_window win = {
        .size = sizeof win, .model = v.name, .version = r->version,
        .reference_profile = ppath, .current = &cur,
        .predictions = w.out_cols ? &pm : NULL,
        .labels = w.n_labelled ? w.label : NULL,
        .start = w.start_ms / 1000, .end = w.end_ms / 1000,
        .thresholds = thr};
    struct orr_monitor_sink sink = {&vs, sink_value};
    rc = mon->backend->ops.monitor.analyze(mon->self, &win, &sink, e);
    if (rc)
        goto fail;
    phase("analyze", &tph);
    /* Histograms of the window over the profile's bins. */
    for (size_t c = 0; !rc && c < t.n; c++) {
        json_t *pf = t.pf[c];
        json_t *edges = json_object_get(json_object_get(pf, "histogram"),
                                        "edges");
        json_t *curj = t.cols[c].type == ORR_COL_CATEGORY
                     ? cats_current(&t.cols[c], w.rows)
                     : edges ? hist_current(t.cols[c].data, 1, w.rows, edges)
                     : NULL;
        rc = hist_add(&hs, &nh, t.cols[c].name, ref_shape(pf), curj);
    }
    json_t *preds = json_object_get(profile, "predictions");
    for (size_t j = 0; !rc && j < json_array_size(preds) &&
                       j < w.out_cols; j++) {
        json_t *pf = json_array_get(preds, j);
        const char *pn = json_string_value(json_object_get(pf, "name"));
        char fname[160];
        snprintf(fname, sizeof fname, "%s", pn ? pn : "prediction");
        json_t *edges = json_object_get(json_object_get(pf, "histogram"),
                                        "edges");
        /* Marked so the report tells the model's outputs from its
         * features (a drifted prediction is not a drifted feature). */
        json_t *ref = ref_shape(pf);
        json_t *pcur = edges ? hist_current(w.y + j, w.out_cols, w.rows,
                                            edges) : NULL;
        if (ref && json_object_set_new(ref, "output", json_true())) {
            json_decref(ref);
            json_decref(pcur);
            rc = ORR_ENOMEM;
        } else {
            rc = hist_add(&hs, &nh, fname, ref, pcur);
        }
    }
    if (rc) {
        rc = orr_fail(e, rc, "out of memory");
        goto fail;
    }
    phase("histograms", &tph);
    /* Dataset drift: the backend's share, else the share of features
     * whose drift score is past its threshold. */
    int drifted = 0, scored = 0, share_alert = -1;
    for (size_t i = 0; i < vs.n; i++) {
        if (vs.v[i].feature && !strcmp(vs.v[i].metric, "drift_score") &&
            table_has(&t, vs.v[i].feature)) {
            scored++;
            drifted += vs.v[i].alert != 0;
        } else if (!vs.v[i].feature && is_share(vs.v[i].metric) &&
                   share_alert < 0) {
            r->drift_share = vs.v[i].value;
            share_alert = vs.v[i].alert != 0;
        }
    }
    r->n_features_drifted = drifted;
    if (share_alert < 0 && scored) {
        r->drift_share = (double)drifted / scored;
        share_alert = r->drift_share >= lim.drift_share;
        if ((rc = values_add(&vs, NULL, "drift_share", "share",
                             r->drift_share, lim.drift_share,
                             share_alert)))
            goto oom;
    }
    /* Model quality on the labelled rows, against registration. */
    size_t n_lab = 0;
    for (size_t i = 0; i < w.rows; i++)
        n_lab += !isnan(w.label[i]);
    r->n_labelled = (int64_t)n_lab;
    if (n_lab && n_lab < (size_t)lim.min_labels) {
        set_msg(r, "quality: %zu labelled rows, need %lld (min_labels)",
                n_lab, (long long)lim.min_labels);
    } else if (n_lab) {
        struct orri_mon_quality q[8];
        size_t nq = 0;
        struct orr_error qe = {0};
        if (orri_mon_quality(task, w.y, w.out_cols, w.label, w.rows, k, q,
                             &nq, &qe))
            set_msg(r, "quality: %s", qe.msg);
        for (size_t i = 0; i < nq; i++) {
            struct refmetric rm = {q[i].metric, NAN, 0};
            orr_registry_metrics(m, v.name, v.version, match_metric, &rm,
                                 &qe);
            double lim_v = NAN;
            int alert = 0;
            if (!isnan(rm.value) && !isnan(q[i].value)) {
                double d = fabs(rm.value) * lim.quality_drop;
                lim_v = q[i].higher_is_better ? rm.value - d : rm.value + d;
                alert = q[i].higher_is_better ? q[i].value < lim_v
                                              : q[i].value > lim_v;
            }
            if ((rc = values_add(&vs, NULL, q[i].metric, "labels",
                                 q[i].value, lim_v, alert)))
                goto oom;
        }
    }
    snprintf(r->status, sizeof r->status, "%s",
             share_alert == 1 ? "drift" : "ok");
    if ((rc = exec(db, "BEGIN IMMEDIATE", e)))
        goto fail;
    rc = store_window(db, r, mon->backend->name, w.start_ms, w.end_ms, &vs,
                      hs, nh, e);
    if (!rc)
        rc = raise_alerts(db, r, &vs, e);
    if (rc) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        r->window_id = 0;
        goto fail;
    }
    if ((rc = exec(db, "COMMIT", e)))
        goto fail;
    phase("quality and store", &tph);
    if (o->notify) {
        int sent = 0;
        struct orr_error ne = {0};
        if (orri_monitor_deliver_alerts(core, 100, &sent, &ne))
            set_msg(r, "alerts kept for a later delivery: %s", ne.msg);
    }
    goto fail;
oom:
    rc = orr_fail(e, ORR_ENOMEM, "out of memory");
fail:
    if (rc && !strcmp(r->status, "error") && !r->message[0])
        snprintf(r->message, sizeof r->message, "%s", e->msg);
    /* A window that was read but could not be analysed is recorded as an
     * error, so the report shows why monitoring stopped. */
    if (rc && db && w.rows && !r->window_id) {
        struct orr_error se = {0};
        snprintf(r->status, sizeof r->status, "error");
        snprintf(r->message, sizeof r->message, "%s", e->msg);
        store_window(db, r, site_monitor(core), w.start_ms, w.end_ms, NULL,
                     NULL, 0, &se);
    }
    for (size_t i = 0; i < nh; i++) {
        free(hs[i].feature);
        free(hs[i].ref);
        free(hs[i].cur);
    }
    free(hs);
    table_free(&t);
    values_free(&vs);
    json_decref(profile);
    if (tmp[0])
        orr_tempdir_remove(tmp);
    orr_model_release(mdl);
    orr_model_manifest_clear(&mf);
    orr_instance_close(mon);
    orr_cfg_free(thr);
    orri_mon_rows_free(&w);
    orri_mon_db_close(db);
    return rc;
}
