/*
 * monitor/export.c - Prometheus text of the monitor's figures.
 *
 * Reads through a read-only connection of its own (WAL readers never
 * block the writers, and the shared connection's lock is held by the
 * prediction log for whole batches), with two statements prepared at
 * attach.  Samples are grouped per family in memory because the text
 * format wants every family's samples together, while the rows arrive
 * per window.
 */
#include "monitor/export.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "config/site.h"
#include "core.h"
#include "util/buf.h"
#include "util/error.h"

/* The latest window per (model, version), with its values.  The models
 * are walked through the (model, created_ms) index one by one (a skip
 * scan: O(models * log windows)); per model only the windows within the
 * horizon of its newest are read, grouped by version (the bare columns
 * of a max() group come from the row holding the max). */
static const char q_windows[] =
    "WITH RECURSIVE models(name) AS ("
    "   SELECT (SELECT min(model) FROM monitor_windows)"
    "   UNION ALL"
    "   SELECT (SELECT min(model) FROM monitor_windows WHERE model > name)"
    "   FROM models WHERE name IS NOT NULL),"
    " latest(id, created) AS ("
    "   SELECT w.id, max(w.created_ms)"
    "   FROM models m JOIN monitor_windows w ON w.model = m.name"
    "    AND w.created_ms >= (SELECT max(created_ms) FROM monitor_windows"
    "                         WHERE model = m.name) - ?1"
    "   WHERE m.name IS NOT NULL"
    "   GROUP BY w.model, w.version)"
    " SELECT w.id, w.model, w.version, w.monitor, w.end_ms, w.n_rows,"
    "        w.n_labelled, w.status, v.feature, v.metric, v.method,"
    "        v.value, v.threshold, v.alert"
    " FROM latest l JOIN monitor_windows w ON w.id = l.id"
    " LEFT JOIN monitor_values v ON v.window_id = w.id"
    " ORDER BY w.model, w.version, w.id";

/* Open alerts per model and severity (the partial index alerts_open). */
static const char q_alerts[] =
    "SELECT coalesce(m.name, ''), a.severity, count(*)"
    " FROM alerts a LEFT JOIN registered_models m ON m.id = a.model_id"
    " WHERE a.acknowledged_ms IS NULL"
    " GROUP BY 1, 2 ORDER BY 1, 2";

enum fam {
    F_DRIFT, F_DRIFTED, F_THRESHOLD, F_STAT, F_PVALUE, F_SHARE, F_DATASET,
    F_N_DRIFTED, F_PRED_DRIFT, F_DATA, F_QUALITY, F_ROWS, F_LABELLED, F_END,
    F_STATUS, F_ALERTS, F_COUNT
};

static const struct {
    const char *name, *help;
} fams[F_COUNT] = {
    [F_DRIFT] = {"orrery_monitor_drift_score",
                 "Drift score of a feature in the latest window, by test."},
    [F_DRIFTED] = {"orrery_monitor_feature_drifted",
                   "1 if the feature's drift score is past its threshold."},
    [F_THRESHOLD] = {"orrery_monitor_drift_threshold",
                     "Threshold the drift score is compared with."},
    [F_STAT] = {"orrery_monitor_drift_statistic",
                "Test statistic behind a feature's drift score."},
    [F_PVALUE] = {"orrery_monitor_drift_p_value",
                  "p-value of a feature's drift test."},
    [F_SHARE] = {"orrery_monitor_dataset_drift_share",
                 "Share of the features drifted in the latest window."},
    [F_DATASET] = {"orrery_monitor_dataset_drift",
                   "1 if the drift share is past its threshold."},
    [F_N_DRIFTED] = {"orrery_monitor_drifted_features",
                     "Features drifted in the latest window."},
    [F_PRED_DRIFT] = {"orrery_monitor_prediction_drift_score",
                      "Drift score of the model's predictions, by test."},
    [F_DATA] = {"orrery_monitor_data_quality",
                "Data-quality figure of a feature in the latest window."},
    [F_QUALITY] = {"orrery_monitor_quality",
                   "Model quality on the latest window's labelled rows."},
    [F_ROWS] = {"orrery_monitor_window_rows",
                "Logged rows in the latest window."},
    [F_LABELLED] = {"orrery_monitor_labelled_rows",
                    "Rows of the latest window with a label."},
    [F_END] = {"orrery_monitor_window_end_timestamp_seconds",
               "End of the latest window, Unix time."},
    [F_STATUS] = {"orrery_monitor_window_status",
                  "1 for the latest window's status (ok, drift, no_data, "
                  "error)."},
    [F_ALERTS] = {"orrery_monitor_alerts_open",
                  "Alerts raised and not acknowledged."},
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static sqlite3 *db;
static sqlite3_stmt *st_windows, *st_alerts;
static char *db_file;
static unsigned refs;

static void close_db(void)
{
    sqlite3_finalize(st_windows);
    sqlite3_finalize(st_alerts);
    sqlite3_close(db);
    free(db_file);
    st_windows = st_alerts = NULL;
    db = NULL;
    db_file = NULL;
}

int orri_monitor_export_attach_path(const char *db_path, struct orr_error *e)
{
    int rc = ORR_OK;
    pthread_mutex_lock(&lock);
    if (refs) {
        if (strcmp(db_file, db_path))
            rc = orr_fail(e, ORR_EBUSY, "metrics export: another metadata "
                          "store is attached");
        else
            refs++;
        goto out;
    }
    db_file = strdup(db_path);
    if (!db_file) {
        rc = orr_fail(e, ORR_ENOMEM, "out of memory");
        goto out;
    }
    int src = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY |
                              SQLITE_OPEN_NOMUTEX, NULL);
    const char *what = "opening the metadata store";
    if (src == SQLITE_OK) {
        sqlite3_busy_timeout(db, 2000);
        what = "preparing the metrics export";
        src = sqlite3_prepare_v3(db, q_windows, -1,
                                 SQLITE_PREPARE_PERSISTENT, &st_windows,
                                 NULL);
    }
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v3(db, q_alerts, -1, SQLITE_PREPARE_PERSISTENT,
                                 &st_alerts, NULL);
    if (src != SQLITE_OK) {
        rc = orr_fail(e, ORR_EIO, "metrics export: %s: %s", what,
                      db ? sqlite3_errmsg(db) : sqlite3_errstr(src));
        close_db();
        goto out;
    }
    refs = 1;
out:
    pthread_mutex_unlock(&lock);
    return rc;
}

int orri_monitor_export_attach(struct orr_core *core, struct orr_error *e)
{
    struct orr_meta *meta;
    /* Opening the store through the core migrates it first. */
    int rc = orr_core_meta(core, &meta, e);
    if (rc)
        return rc;
    return orri_monitor_export_attach_path(orr_core_site(core)->db_path, e);
}

void orri_monitor_export_detach(void)
{
    pthread_mutex_lock(&lock);
    if (refs && --refs == 0)
        close_db();
    pthread_mutex_unlock(&lock);
}

/* ---- text ---------------------------------------------------------------- */

/* Copy `s` to `o` with \, " and newline escaped, as the format requires
 * of label values; returns the end.  `o` has room for 2 * strlen(s). */
static char *put_escaped(char *o, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') {
            *o++ = '\\';
            *o++ = *s;
        } else if (*s == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else {
            *o++ = *s;
        }
    }
    return o;
}

/* Shortest text that reads back to the same double; NaN, +Inf, -Inf as
 * the format spells them. */
static void fmt_value(double v, char out[32])
{
    if (isnan(v)) {
        snprintf(out, 32, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, 32, "%s", v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* Models seen, with their open alerts per severity. */
struct model_alerts {
    char   *name;
    int64_t n[3];               /* info, warning, critical               */
};

struct export {
    struct orr_buf       fam[F_COUNT];
    struct model_alerts *models;
    size_t               n_models, cap_models;
};

/* One sample: NAME{k1="v1",...} VALUE.  `kv` holds n label name/value
 * pairs; a NULL value is written as "".  Written in place (a scrape
 * writes thousands of these; printf per piece was most of its time). */
static int sample(struct export *x, enum fam f, const char *const *kv,
                  size_t n, double v)
{
    struct orr_buf *b = &x->fam[f];
    const char *name = fams[f].name;
    /* The family's HELP and TYPE before its first sample. */
    if (!b->len && orri_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n",
                                   name, fams[f].help, name))
        return ORR_ENOMEM;
    char num[32];
    fmt_value(v, num);
    size_t need = strlen(name) + strlen(num) + 4;
    for (size_t i = 0; i < n; i++)
        need += strlen(kv[2 * i]) + 2 * strlen(kv[2 * i + 1] ? kv[2 * i + 1]
                                                              : "") + 4;
    if (orri_buf_reserve(b, need))
        return ORR_ENOMEM;
    char *o = b->data + b->len;
    size_t len = strlen(name);
    memcpy(o, name, len);
    o += len;
    for (size_t i = 0; i < n; i++) {
        *o++ = i ? ',' : '{';
        len = strlen(kv[2 * i]);
        memcpy(o, kv[2 * i], len);
        o += len;
        *o++ = '=';
        *o++ = '"';
        o = put_escaped(o, kv[2 * i + 1] ? kv[2 * i + 1] : "");
        *o++ = '"';
    }
    if (n)
        *o++ = '}';
    *o++ = ' ';
    len = strlen(num);
    memcpy(o, num, len);
    o += len;
    *o++ = '\n';
    *o = '\0';
    b->len = (size_t)(o - b->data);
    return ORR_OK;
}

static struct model_alerts *model_slot(struct export *x, const char *name)
{
    for (size_t i = x->n_models; i-- > 0;)
        if (!strcmp(x->models[i].name, name))
            return &x->models[i];
    if (x->n_models == x->cap_models) {
        size_t cap = x->cap_models ? 2 * x->cap_models : 16;
        void *p = realloc(x->models, cap * sizeof *x->models);
        if (!p)
            return NULL;
        x->models = p;
        x->cap_models = cap;
    }
    struct model_alerts *m = &x->models[x->n_models];
    memset(m, 0, sizeof *m);
    if (!(m->name = strdup(name)))
        return NULL;
    x->n_models++;
    return m;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static double col_num(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL
               ? NAN : sqlite3_column_double(st, i);
}

static int is_share(const char *metric)
{
    return !strcmp(metric, "drift_share") ||
           !strcmp(metric, "dataset_drift_share") ||
           !strcmp(metric, "share_of_drifted_features");
}

/* The figures of one window, once per window. */
static int window_samples(struct export *x, sqlite3_stmt *st)
{
    const char *model = col_text(st, 1), *version = col_text(st, 2);
    const char *mv[] = {"model", model, "version", version};
    const char *stv[] = {"model", model, "version", version, "status",
                         col_text(st, 7), "monitor", col_text(st, 3)};
    int rc = sample(x, F_ROWS, mv, 2, (double)sqlite3_column_int64(st, 5));
    if (!rc)
        rc = sample(x, F_LABELLED, mv, 2,
                    (double)sqlite3_column_int64(st, 6));
    if (!rc)
        rc = sample(x, F_END, mv, 2,
                    (double)sqlite3_column_int64(st, 4) / 1000.0);
    if (!rc)
        rc = sample(x, F_STATUS, stv, 4, 1.0);
    if (!rc && !model_slot(x, model ? model : ""))
        rc = ORR_ENOMEM;
    return rc;
}

/* One monitor_values row, into the family its metric belongs to. */
static int value_sample(struct export *x, sqlite3_stmt *st)
{
    const char *model = col_text(st, 1), *version = col_text(st, 2);
    const char *feature = col_text(st, 8), *metric = col_text(st, 9);
    const char *method = col_text(st, 10);
    double v = col_num(st, 11), thr = col_num(st, 12);
    int alert = sqlite3_column_int(st, 13) != 0;
    int rc = ORR_OK;
    if (!metric)
        return ORR_OK;                  /* a window without values */
    if (!strcmp(metric, "drift_score") && feature) {
        const char *kv[] = {"model", model, "version", version,
                            "feature", feature, "method", method};
        rc = sample(x, F_DRIFT, kv, 4, v);
        if (!rc)
            rc = sample(x, F_DRIFTED, kv, 4, alert);
        if (!rc && !isnan(thr))
            rc = sample(x, F_THRESHOLD, kv, 4, thr);
    } else if (!strcmp(metric, "drift_score") ||
               !strcmp(metric, "prediction_drift")) {
        const char *kv[] = {"model", model, "version", version,
                            "method", method};
        rc = sample(x, F_PRED_DRIFT, kv, 3, v);
    } else if (feature && (!strcmp(metric, "statistic") ||
                           !strcmp(metric, "p_value"))) {
        const char *kv[] = {"model", model, "version", version,
                            "feature", feature, "method", method};
        rc = sample(x, metric[0] == 's' ? F_STAT : F_PVALUE, kv, 4, v);
    } else if (!feature && (is_share(metric) ||
                            !strcmp(metric, "dataset_drift") ||
                            !strcmp(metric, "n_drifted_features"))) {
        const char *kv[] = {"model", model, "version", version};
        rc = sample(x, is_share(metric) ? F_SHARE
                       : metric[0] == 'd' ? F_DATASET : F_N_DRIFTED,
                    kv, 2, v);
    } else if (feature) {
        const char *kv[] = {"model", model, "version", version,
                            "feature", feature, "metric", metric};
        rc = sample(x, F_DATA, kv, 4, v);
    } else {
        const char *kv[] = {"model", model, "version", version,
                            "metric", metric};
        rc = sample(x, F_QUALITY, kv, 3, v);
    }
    return rc;
}

static int step_fail(int src, struct orr_error *e)
{
    return orr_fail(e, src == SQLITE_BUSY ? ORR_EBUSY : ORR_EIO,
                    "metrics export: reading the monitor tables: %s",
                    sqlite3_errmsg(db));
}

static int read_windows(struct export *x, struct orr_error *e)
{
    sqlite3_stmt *st = st_windows;
    int64_t last = 0;
    int rc = ORR_OK, src;
    sqlite3_bind_int64(st, 1, ORRI_EXPORT_HORIZON_MS);
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (id != last)
            rc = window_samples(x, st);
        last = id;
        if (!rc)
            rc = value_sample(x, st);
    }
    if (rc)
        rc = orr_fail(e, rc, "metrics export: out of memory");
    else if (src != SQLITE_DONE)
        rc = step_fail(src, e);
    sqlite3_reset(st);
    return rc;
}

static int sev_index(const char *sev)
{
    return !strcmp(sev, "critical") ? 2 : !strcmp(sev, "warning") ? 1 : 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct model_alerts *)a)->name,
                  ((const struct model_alerts *)b)->name);
}

static int read_alerts(struct export *x, struct orr_error *e)
{
    static const char *const sev[] = {"info", "warning", "critical"};
    sqlite3_stmt *st = st_alerts;
    int rc = ORR_OK, src;
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *s = col_text(st, 1);
        struct model_alerts *m = model_slot(x, col_text(st, 0));
        if (!m)
            rc = ORR_ENOMEM;
        else
            m->n[sev_index(s ? s : "")] += sqlite3_column_int64(st, 2);
    }
    if (rc)
        rc = orr_fail(e, rc, "metrics export: out of memory");
    else if (src != SQLITE_DONE)
        rc = step_fail(src, e);
    sqlite3_reset(st);
    /* Zeros too, for every model monitored, so `> 0` alert rules and
     * dashboards see a series before the first alert. */
    if (x->n_models)
        qsort(x->models, x->n_models, sizeof *x->models, by_name);
    for (size_t i = 0; i < x->n_models && !rc; i++)
        for (int k = 0; k < 3 && !rc; k++) {
            const char *kv[] = {"model", x->models[i].name, "severity",
                                sev[k]};
            rc = sample(x, F_ALERTS, kv, 2, (double)x->models[i].n[k]);
            if (rc)
                rc = orr_fail(e, rc, "metrics export: out of memory");
        }
    return rc;
}

static void emit(struct export *x,
                 void (*write)(void *ctx, const char *text, size_t len),
                 void *ctx)
{
    for (int f = 0; f < F_COUNT; f++)
        if (x->fam[f].len)
            write(ctx, x->fam[f].data, x->fam[f].len);
}

int orri_monitor_export_metrics(void (*write)(void *ctx, const char *text,
                                              size_t len),
                                void *ctx, struct orr_error *e)
{
    struct export x = {0};
    int rc = ORR_OK;
    if (!write)
        return orr_fail(e, ORR_EINVAL, "metrics export: no writer");
    pthread_mutex_lock(&lock);
    if (!refs)
        goto out;
    rc = read_windows(&x, e);
    if (!rc)
        rc = read_alerts(&x, e);
out:
    pthread_mutex_unlock(&lock);
    /* Only whole figures are written: nothing after an error. */
    if (!rc)
        emit(&x, write, ctx);
    for (int f = 0; f < F_COUNT; f++)
        orri_buf_free(&x.fam[f]);
    for (size_t i = 0; i < x.n_models; i++)
        free(x.models[i].name);
    free(x.models);
    return rc;
}
