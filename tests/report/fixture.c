/*
 * tests/report/fixture.c - fill a site's metadata store with monitoring
 * results for the report tests, the way `orrery monitor run` stores them
 * (schema migration 6), without running a monitor:
 *
 *   report_fixture DB drift    model "cancer": 6 windows, drift in the
 *                              latest, a hostile feature name, a feature
 *                              absent from the data, quality vs
 *                              registration, open and acknowledged alerts
 *   report_fixture DB nodata   model "quiet": one window with data, then
 *                              a window with status no_data
 *   report_fixture DB empty    the store only (no window)
 *
 * The store is created through the core's meta API (so it is migrated
 * like any site's); rows go in through prepared statements.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "meta/meta.h"

#define HOUR_MS 3600000LL
#define BASE_MS 1795000000000LL

static sqlite3 *db;

static int fail(const char *what)
{
    fprintf(stderr, "report_fixture: %s: %s\n", what, sqlite3_errmsg(db));
    return 1;
}

static int exec(const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "report_fixture: %s: %s\n", sql, msg);
        sqlite3_free(msg);
        return 1;
    }
    return 0;
}

static long long window(const char *model, const char *version, int hour,
                        long long rows, long long labelled,
                        const char *status, const char *message)
{
    sqlite3_stmt *st = NULL;
    long long id = -1;
    if (sqlite3_prepare_v2(db,
            "INSERT INTO monitor_windows (model, version, monitor, start_ms,"
            " end_ms, n_rows, n_labelled, status, message, created_ms)"
            " VALUES (?1, ?2, 'drift', ?3, ?4, ?5, ?6, ?7, ?8, ?4)", -1, &st,
            NULL) != SQLITE_OK)
        return fail("prepare window");
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, version, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, BASE_MS + (hour - 1) * HOUR_MS);
    sqlite3_bind_int64(st, 4, BASE_MS + hour * HOUR_MS);
    sqlite3_bind_int64(st, 5, rows);
    sqlite3_bind_int64(st, 6, labelled);
    sqlite3_bind_text(st, 7, status, -1, SQLITE_STATIC);
    if (message)
        sqlite3_bind_text(st, 8, message, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_DONE)
        id = sqlite3_last_insert_rowid(db);
    else
        fail("insert window");
    sqlite3_finalize(st);
    return id;
}

static int value(long long w, const char *feature, const char *metric,
                 const char *method, double v, double thr, int alert)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
            "INSERT INTO monitor_values (window_id, feature, metric, method,"
            " value, threshold, alert) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            -1, &st, NULL) != SQLITE_OK)
        return fail("prepare value");
    sqlite3_bind_int64(st, 1, w);
    if (feature)
        sqlite3_bind_text(st, 2, feature, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, metric, -1, SQLITE_STATIC);
    if (method)
        sqlite3_bind_text(st, 4, method, -1, SQLITE_STATIC);
    if (!isnan(v))
        sqlite3_bind_double(st, 5, v);
    if (!isnan(thr))
        sqlite3_bind_double(st, 6, thr);
    sqlite3_bind_int(st, 7, alert);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : fail("insert value");
    sqlite3_finalize(st);
    return rc;
}

static int hist(long long w, const char *feature, const char *ref,
                const char *cur)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
            "INSERT INTO monitor_histograms (window_id, feature, reference,"
            " current) VALUES (?1, ?2, ?3, ?4)", -1, &st, NULL) != SQLITE_OK)
        return fail("prepare histogram");
    sqlite3_bind_int64(st, 1, w);
    sqlite3_bind_text(st, 2, feature, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, ref, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, cur, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : fail("insert histogram");
    sqlite3_finalize(st);
    return rc;
}

static int alert(long long w, const char *sev, const char *title, int hour,
                 int acked)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
            "INSERT INTO alerts (model_id, severity, title, details,"
            " created_ms, acknowledged_ms, dedup_key, window_id)"
            " VALUES ((SELECT id FROM registered_models WHERE name ="
            " 'cancer'), ?1, ?2, '{}', ?3, ?4, ?2, ?5)", -1, &st,
            NULL) != SQLITE_OK)
        return fail("prepare alert");
    sqlite3_bind_text(st, 1, sev, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, title, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, BASE_MS + hour * HOUR_MS);
    if (acked)
        sqlite3_bind_int64(st, 4, BASE_MS + (hour + 1) * HOUR_MS);
    sqlite3_bind_int64(st, 5, w);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : fail("insert alert");
    sqlite3_finalize(st);
    return rc;
}

#define HOSTILE "<script>alert(1)</script>"

static const char REF_RADIUS[] =
    "{\"name\":\"mean radius\",\"type\":\"numeric\",\"missing\":0,"
    "\"histogram\":{\"edges\":[6,8,10,12,14,16,18,20,22,24,28],"
    "\"counts\":[12,60,120,150,100,60,30,20,10,5]}}";
static const char REF_TEXTURE[] =
    "{\"histogram\":{\"edges\":[9,12,15,18,21,24,27,30,33,40],"
    "\"counts\":[10,40,90,120,110,60,30,20,9]}}";
static const char REF_CAT[] =
    "{\"type\":\"categorical\",\"categories\":{\"low\":200,\"mid\":250,"
    "\"high\":117,\"<b>bold</b>\":3}}";
/* A model output, as core/monitor/run.c marks it. */
static const char REF_PRED[] =
    "{\"histogram\":{\"edges\":[0,0.25,0.5,0.75,1],"
    "\"counts\":[200,60,50,259]},\"output\":true}";
static const char REF_ABSENT[] =
    "{\"edges\":[0,1,2,3,4],\"counts\":[5,10,10,5]}";

static int drift(void)
{
    if (exec("INSERT INTO artifacts (digest, size, kind, created_ms) VALUES"
             " ('00aa', 1, 'model', 0);"
             "INSERT INTO registered_models (name, last_version, created_ms,"
             " updated_ms) VALUES ('cancer', 1, 0, 0);"
             "INSERT INTO model_versions (model_id, version, artifact_id,"
             " created_ms, metrics) VALUES (1, 1, 1, 0,"
             " '{\"accuracy\":0.956,\"roc_auc\":0.991,\"rows\":569}');"))
        return 1;
    /* Five calm windows, then the drifted one. */
    static const double radius_ks[] = { 0.04, 0.05, 0.03, 0.06, 0.09, 0.31 };
    static const double texture_psi[] = { 0.02, 0.03, 0.02, 0.05, 0.04,
                                          0.06 };
    static const double cat_chi[] = { 0.4, 0.5, 0.3, 0.6, 0.2, 0.02 };
    static const double acc[] = { 0.95, 0.94, 0.955, 0.93, 0.92, 0.88 };
    static const double auc[] = { 0.99, 0.985, 0.99, 0.98, 0.975, 0.95 };
    long long w = 0;
    for (int i = 0; i < 6; i++) {
        int latest = i == 5;
        w = window("cancer", "1", i + 1, 1000 + 10 * i, 800,
                   latest ? "drift" : "ok", NULL);
        if (w < 0)
            return 1;
        if (value(w, "mean radius", "drift_score", "ks", radius_ks[i], 0.1,
                  radius_ks[i] > 0.1) ||
            value(w, "mean radius", "missing_rate", NULL, 0.0, NAN, 0) ||
            value(w, "texture", "drift_score", "psi", texture_psi[i], 0.1,
                  0) ||
            value(w, "texture", "missing_rate", NULL, 0.012, 0.05, 0) ||
            value(w, HOSTILE, "drift_score", "chisquare", cat_chi[i], 0.05,
                  cat_chi[i] < 0.05) ||
            value(w, HOSTILE, "missing_rate", NULL, 0.0, NAN, 0) ||
            value(w, NULL, "accuracy", NULL, acc[i], 0.9, acc[i] < 0.9) ||
            value(w, NULL, "roc_auc", NULL, auc[i], NAN, 0) ||
            value(w, NULL, "prediction_drift", "psi", 0.05 + 0.04 * i, 0.2,
                  0.05 + 0.04 * i > 0.2) ||
            /* Drifted in the latest window: not a drifted feature. */
            value(w, "prediction", "drift_score", "psi", 0.05 + 0.04 * i,
                  0.2, 0.05 + 0.04 * i > 0.2))
            return 1;
        if (!latest &&
            (value(w, "worst area", "drift_score", "wasserstein", 0.02, 0.1,
                   0) ||
             value(w, NULL, "drift_share", NULL, 0.0, 0.5, 0)))
            return 1;
        if (latest &&
            (value(w, "worst area", "drift_score", NULL, NAN, 0.1, 0) ||
             value(w, "worst area", "absent", NULL, 1, NAN, 1) ||
             value(w, "texture", "out_of_range_rate", NULL, 0.08, 0.05, 1) ||
             value(w, NULL, "drift_share", NULL, 2.0 / 3.0, 0.5, 1)))
            return 1;
    }
    if (hist(w, "mean radius", REF_RADIUS,
             "{\"histogram\":{\"edges\":[6,8,10,12,14,16,18,20,22,24,28],"
             "\"counts\":[2,10,30,60,90,110,120,80,40,20]},\"missing\":0}") ||
        hist(w, "texture", REF_TEXTURE,
             "{\"histogram\":{\"edges\":[9,12,15,18,21,24,27,30,33,40],"
             "\"counts\":[11,42,88,118,112,58,33,19,8]}}") ||
        hist(w, HOSTILE, REF_CAT,
             "{\"categories\":{\"low\":120,\"mid\":260,\"high\":200,"
             "\"unseen\":40}}") ||
        hist(w, "worst area", REF_ABSENT, "null") ||
        hist(w, "prediction", REF_PRED,
             "{\"histogram\":{\"edges\":[0,0.25,0.5,0.75,1],"
             "\"counts\":[90,30,40,240]}}"))
        return 1;
    return alert(w, "critical", "Drift in 2 of 3 features <img src=x>", 6,
                 0) ||
           alert(w, "warning", "accuracy 0.88 below 0.9", 6, 0) ||
           alert(w - 2, "warning", "old warning, acknowledged", 4, 1);
}

static int nodata(void)
{
    long long w = window("quiet", "2", 1, 500, 0, "ok", NULL);
    if (w < 0 ||
        value(w, "x", "drift_score", "ks", 0.05, 0.1, 0) ||
        value(w, NULL, "drift_share", NULL, 0.0, 0.5, 0) ||
        hist(w, "x", REF_TEXTURE, REF_TEXTURE))
        return 1;
    return window("quiet", "2", 2, 3, 0, "no_data",
                  "not enough data: 3 rows, need 30") < 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: report_fixture DB drift|nodata|empty\n");
        return 2;
    }
    struct orr_error e = {0};
    struct orr_meta *m = NULL;
    if (orr_meta_open(&m, argv[1], &e)) {
        fprintf(stderr, "report_fixture: %s\n", e.msg);
        return 1;
    }
    orr_meta_close(m);
    if (sqlite3_open(argv[1], &db) != SQLITE_OK)
        return fail("open");
    int rc = exec("BEGIN");
    if (!rc && !strcmp(argv[2], "drift"))
        rc = drift();
    else if (!rc && !strcmp(argv[2], "nodata"))
        rc = nodata();
    else if (!rc && strcmp(argv[2], "empty"))
        rc = 2;
    if (!rc)
        rc = exec("COMMIT");
    sqlite3_close(db);
    return rc;
}
