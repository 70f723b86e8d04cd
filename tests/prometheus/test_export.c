/*
 * test_export.c - core/monitor/export.c: the Prometheus text of the
 * monitor's figures, from rows inserted the way schema migration 6 says
 * (a store created by orr_meta_open).  Checks the latest window per
 * (model, version), the families (HELP/TYPE once each, samples grouped),
 * label escaping (quotes, backslashes, newlines), NaN/+Inf/-Inf, open
 * alerts with zeros, the horizon, attach/detach counting, no store, and
 * concurrent scrapes.  Prints the time of one scrape of a larger store.
 */
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "meta/meta.h"
#include "monitor/export.h"
#include "util/buf.h"
#include "test.h"

static char dir[64], db_path[128];

static void on_text(void *ctx, const char *text, size_t len)
{
    orri_buf_append(ctx, text, len);
}

/* One scrape: the text (free it), NULL on error. */
static char *scrape(int *rc_out)
{
    struct orr_buf b = ORR_BUF_INIT;
    struct orr_error e = {0};
    int rc = orri_monitor_export_metrics(on_text, &b, &e);
    if (rc)
        fprintf(stderr, "export: %s\n", e.msg);
    if (rc_out)
        *rc_out = rc;
    return orri_buf_take(&b);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static sqlite3 *db;

static void exec(const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "%s\n  in: %s\n", err, sql);
        CHECK(0);
    }
    sqlite3_free(err);
}

static int64_t window(const char *model, const char *version,
                      int64_t created, int64_t rows)
{
    sqlite3_stmt *st;
    CHECK(sqlite3_prepare_v2(db, "INSERT INTO monitor_windows (model, "
                             "version, monitor, start_ms, end_ms, n_rows, "
                             "n_labelled, status, created_ms) VALUES "
                             "(?, ?, 'drift', ?, ?, ?, ?, 'drift', ?)",
                             -1, &st, NULL) == SQLITE_OK);
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, version, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, created - 3600000);
    sqlite3_bind_int64(st, 4, created);
    sqlite3_bind_int64(st, 5, rows);
    sqlite3_bind_int64(st, 6, rows / 2);
    sqlite3_bind_int64(st, 7, created);
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
    return sqlite3_last_insert_rowid(db);
}

static void value(int64_t w, const char *feature, const char *metric,
                  const char *method, double v, int null_value, int alert)
{
    sqlite3_stmt *st;
    CHECK(sqlite3_prepare_v2(db, "INSERT INTO monitor_values (window_id, "
                             "feature, metric, method, value, threshold, "
                             "alert) VALUES (?, ?, ?, ?, ?, 0.1, ?)", -1,
                             &st, NULL) == SQLITE_OK);
    sqlite3_bind_int64(st, 1, w);
    if (feature)
        sqlite3_bind_text(st, 2, feature, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, metric, -1, SQLITE_STATIC);
    if (method)
        sqlite3_bind_text(st, 4, method, -1, SQLITE_STATIC);
    if (!null_value)
        sqlite3_bind_double(st, 5, v);
    sqlite3_bind_int(st, 6, alert);
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
}

/* A fresh store (migrated by orr_meta_open) with a known content. */
static void seed(void)
{
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    snprintf(dir, sizeof dir, "/tmp/orr-export-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(db_path, sizeof db_path, "%s/orrery.db", dir);
    CHECK_INT(orr_meta_open(&m, db_path, &e), ORR_OK);
    orr_meta_close(m);
    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    int64_t now = 1800000000000LL;
    exec("INSERT INTO registered_models (name, created_ms, updated_ms)"
         " VALUES ('cancer', 0, 0), ('house', 0, 0)");
    /* cancer 2: an old window, then the latest. */
    int64_t old = window("cancer", "2", now - 7200000, 10);
    value(old, "mean radius", "drift_score", "ks", 0.9, 0, 1);
    int64_t w = window("cancer", "2", now, 500);
    value(w, "mean radius", "drift_score", "ks", 0.25, 0, 1);
    value(w, "mean radius", "drift_score", "psi", INFINITY, 0, 1);
    value(w, "odd \"name\"\\x\ny", "drift_score", "wasserstein", -INFINITY,
          0, 0);
    value(w, "texture", "drift_score", "ks", 0, 1, 0);      /* NaN */
    value(w, NULL, "drift_share", NULL, 0.5, 0, 1);
    value(w, "texture", "missing_rate", NULL, 0.125, 0, 0);
    value(w, NULL, "accuracy", NULL, 0.875, 0, 0);
    value(w, "prediction", "drift_score", "jensenshannon", 0.03125, 0, 0);
    value(w, "mean radius", "p_value", "ks", 0.25, 0, 0);
    value(w, "mean radius", "statistic", "ks_exact", 0.375, 0, 0);
    value(w, NULL, "dataset_drift", "share", 1, 0, 1);
    value(w, NULL, "n_drifted_features", "count", 3, 0, 0);
    /* cancer 1: its latest window is recent enough to stay. */
    int64_t w1 = window("cancer", "1", now - 86400000, 7);
    value(w1, "mean radius", "drift_score", "ks", 0.0625, 0, 0);
    /* house 4: a window without values; house 3: beyond the horizon. */
    window("house", "4", now, 0);
    int64_t w3 = window("house", "3", now - ORRI_EXPORT_HORIZON_MS - 1, 9);
    value(w3, "rooms", "drift_score", "ks", 0.75, 0, 1);
    /* Alerts: 2 critical open for cancer, 1 acknowledged, 1 warning
     * without a model. */
    exec("INSERT INTO alerts (model_id, severity, title, created_ms) VALUES"
         " ((SELECT id FROM registered_models WHERE name = 'cancer'),"
         "  'critical', 'drift', 1),"
         " ((SELECT id FROM registered_models WHERE name = 'cancer'),"
         "  'critical', 'drift again', 2),"
         " (NULL, 'warning', 'orphan', 3)");
    exec("INSERT INTO alerts (model_id, severity, title, created_ms,"
         " acknowledged_ms) VALUES ((SELECT id FROM registered_models"
         " WHERE name = 'cancer'), 'info', 'seen', 4, 5)");
}

static void test_detached(void)
{
    int rc = -1;
    char *t = scrape(&rc);
    CHECK_INT(rc, ORR_OK);
    CHECK_STR(t, "");
    free(t);
    orri_monitor_export_detach();       /* without attach: nothing */
}

static void test_text(void)
{
    struct orr_error e = {0};
    seed();
    CHECK_INT(orri_monitor_export_attach_path(db_path, &e), ORR_OK);
    int rc = -1;
    char *t = scrape(&rc);
    CHECK_INT(rc, ORR_OK);
    CHECK_CONTAINS(t, "orrery_monitor_drift_score{model=\"cancer\","
                      "version=\"2\",feature=\"mean radius\",method=\"ks\"}"
                      " 0.25\n");
    CHECK_CONTAINS(t, "feature=\"mean radius\",method=\"psi\"} +Inf\n");
    CHECK_CONTAINS(t, "feature=\"odd \\\"name\\\"\\\\x\\ny\","
                      "method=\"wasserstein\"} -Inf\n");
    CHECK_CONTAINS(t, "feature=\"texture\",method=\"ks\"} NaN\n");
    CHECK_CONTAINS(t, "orrery_monitor_feature_drifted{model=\"cancer\","
                      "version=\"2\",feature=\"mean radius\",method=\"ks\"}"
                      " 1\n");
    CHECK_CONTAINS(t, "orrery_monitor_drift_threshold{model=\"cancer\","
                      "version=\"2\",feature=\"mean radius\",method=\"ks\"}"
                      " 0.1\n");
    CHECK_CONTAINS(t, "orrery_monitor_dataset_drift_share{model=\"cancer\","
                      "version=\"2\"} 0.5\n");
    CHECK_CONTAINS(t, "orrery_monitor_data_quality{model=\"cancer\","
                      "version=\"2\",feature=\"texture\","
                      "metric=\"missing_rate\"} 0.125\n");
    CHECK_CONTAINS(t, "orrery_monitor_quality{model=\"cancer\",version=\"2\","
                      "metric=\"accuracy\"} 0.875\n");
    CHECK_CONTAINS(t, "feature=\"prediction\",method=\"jensenshannon\"} "
                      "0.03125\n");
    CHECK_CONTAINS(t, "orrery_monitor_drift_p_value{model=\"cancer\","
                      "version=\"2\",feature=\"mean radius\",method=\"ks\"}"
                      " 0.25\n");
    CHECK_CONTAINS(t, "orrery_monitor_drift_statistic{model=\"cancer\","
                      "version=\"2\",feature=\"mean radius\","
                      "method=\"ks_exact\"} 0.375\n");
    CHECK_CONTAINS(t, "orrery_monitor_dataset_drift{model=\"cancer\","
                      "version=\"2\"} 1\n");
    CHECK_CONTAINS(t, "orrery_monitor_drifted_features{model=\"cancer\","
                      "version=\"2\"} 3\n");
    CHECK_CONTAINS(t, "orrery_monitor_window_rows{model=\"cancer\","
                      "version=\"2\"} 500\n");
    CHECK_CONTAINS(t, "orrery_monitor_labelled_rows{model=\"cancer\","
                      "version=\"2\"} 250\n");
    CHECK_CONTAINS(t, "orrery_monitor_window_end_timestamp_seconds{model="
                      "\"cancer\",version=\"2\"} 1800000000\n");
    CHECK_CONTAINS(t, "orrery_monitor_window_status{model=\"cancer\","
                      "version=\"2\",status=\"drift\",monitor=\"drift\"} 1\n");
    /* The older window of version 2 is not exported; version 1's is. */
    CHECK(!strstr(t, " 0.9\n"));
    CHECK_CONTAINS(t, "version=\"1\",feature=\"mean radius\",method=\"ks\"}"
                      " 0.0625\n");
    /* house 4 has rows figures and no values; house 3 is too old. */
    CHECK_CONTAINS(t, "orrery_monitor_window_rows{model=\"house\","
                      "version=\"4\"} 0\n");
    CHECK(!strstr(t, "version=\"3\""));
    CHECK(!strstr(t, "rooms"));
    /* Alerts: open only, zeros for every monitored model. */
    CHECK_CONTAINS(t, "orrery_monitor_alerts_open{model=\"cancer\","
                      "severity=\"critical\"} 2\n");
    CHECK_CONTAINS(t, "orrery_monitor_alerts_open{model=\"cancer\","
                      "severity=\"info\"} 0\n");
    CHECK_CONTAINS(t, "orrery_monitor_alerts_open{model=\"house\","
                      "severity=\"warning\"} 0\n");
    CHECK_CONTAINS(t, "orrery_monitor_alerts_open{model=\"\","
                      "severity=\"warning\"} 1\n");
    /* HELP and TYPE once per family, and each family's samples
     * together, right after its TYPE line. */
    static const char *const fam[] = {
        "orrery_monitor_drift_score", "orrery_monitor_feature_drifted",
        "orrery_monitor_dataset_drift_share", "orrery_monitor_quality",
        "orrery_monitor_window_rows", "orrery_monitor_alerts_open"};
    for (size_t i = 0; i < sizeof fam / sizeof *fam; i++) {
        char help[128], type[128];
        snprintf(help, sizeof help, "# HELP %s ", fam[i]);
        snprintf(type, sizeof type, "# TYPE %s gauge\n", fam[i]);
        CHECK_INT(count(t, help), 1);
        CHECK_INT(count(t, type), 1);
    }
    const char *prev = NULL;
    for (const char *line = t; line && *line;) {
        const char *nl = strchr(line, '\n');
        CHECK(nl != NULL);
        if (!nl)
            break;
        if (strncmp(line, "# ", 2)) {
            size_t n = strcspn(line, "{ ");
            CHECK(prev && !strncmp(line, prev, n) && prev[n] == ' ');
        } else if (!strncmp(line, "# TYPE ", 7)) {
            prev = line + 7;
        }
        line = nl + 1;
    }
    free(t);

    /* Counted attaches; another store is refused. */
    CHECK_INT(orri_monitor_export_attach_path(db_path, &e), ORR_OK);
    CHECK_INT(orri_monitor_export_attach_path("/tmp/other.db", &e),
              ORR_EBUSY);
    CHECK_CONTAINS(e.msg, "another metadata store is attached");
    orri_monitor_export_detach();
    t = scrape(NULL);
    CHECK_CONTAINS(t, "orrery_monitor_drift_score");
    free(t);
    orri_monitor_export_detach();
    t = scrape(NULL);
    CHECK_STR(t, "");
    free(t);
    sqlite3_close(db);
    db = NULL;
}

static void test_bad_store(void)
{
    struct orr_error e = {0};
    CHECK_INT(orri_monitor_export_attach_path("/nonexistent/dir/x.db", &e),
              ORR_EIO);
    CHECK_CONTAINS(e.msg, "opening the metadata store");
    /* A database without the monitor tables. */
    char p[160];
    snprintf(p, sizeof p, "%s/empty.db", dir);
    sqlite3 *d = NULL;
    CHECK(sqlite3_open(p, &d) == SQLITE_OK);
    sqlite3_exec(d, "CREATE TABLE t (x)", NULL, NULL, NULL);
    sqlite3_close(d);
    CHECK_INT(orri_monitor_export_attach_path(p, &e), ORR_EIO);
    CHECK_CONTAINS(e.msg, "preparing the metrics export");
    CHECK_CONTAINS(e.msg, "no such table");
    test_detached();
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static void *scraper(void *arg)
{
    int *bad = arg;
    for (int i = 0; i < 200; i++) {
        int rc = -1;
        char *t = scrape(&rc);
        if (rc || !t || !strstr(t, "orrery_monitor_alerts_open"))
            (*bad)++;
        free(t);
    }
    return NULL;
}

/* Scrapes from several threads at once (ASan/UBSan builds check the
 * rest), then a larger store: 50 models x 30 features x 200 windows. */
static void test_threads_and_size(void)
{
    struct orr_error e = {0};
    seed();
    CHECK_INT(orri_monitor_export_attach_path(db_path, &e), ORR_OK);
    pthread_t th[4];
    int bad[4] = {0};
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, scraper, &bad[i]);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(bad[i], 0);
    }
    exec("BEGIN");
    for (int m = 0; m < 50; m++) {
        char name[32];
        snprintf(name, sizeof name, "model%02d", m);
        for (int k = 0; k < 200; k++) {
            int64_t w = window(name, k < 100 ? "1" : "2",
                               1800000000000LL + k * 60000, 1000);
            if (k != 99 && k != 199)
                continue;
            for (int f = 0; f < 30; f++) {
                char feat[16];
                snprintf(feat, sizeof feat, "f%02d", f);
                value(w, feat, "drift_score", "ks", f / 64.0, 0, 0);
            }
        }
    }
    exec("COMMIT");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = -1;
    char *t = NULL;
    for (int i = 0; i < 10; i++) {
        free(t);
        t = scrape(&rc);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_INT(rc, ORR_OK);
    /* 50 models x 2 versions x 30 features, plus cancer's. */
    CHECK_INT(count(t, "orrery_monitor_drift_score{model=\"model"), 3000);
    printf("scrape of 10,000 windows, 3,000 drift scores: %.2f ms, "
           "%zu bytes\n",
           ((double)(t1.tv_sec - t0.tv_sec) * 1e3 +
            (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) / 10, strlen(t));
    free(t);
    orri_monitor_export_detach();
    sqlite3_close(db);
    db = NULL;
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

TEST_MAIN({"detached", test_detached}, {"text", test_text},
          {"bad_store", test_bad_store},
          {"threads_and_size", test_threads_and_size})
