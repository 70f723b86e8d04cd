/*
 * tests/bench/tracking/bench_tracking.c - tracking throughput beside the
 * raw-SQLite floor.  Prints one line per figure; checks that no point
 * was lost (exit 1 otherwise).
 *
 *   bench_tracking [SCRATCH_DIR]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core.h"
#include "meta/query.h"
#include "runner/runner.h"

#define C_POINTS   1000000L
#define LUA_POINTS 1000000L
#define RUNS       10000
#define LIST_RUNS  100000
#define LIST_KEYS  20

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct orr_error *e)
{
    fprintf(stderr, "bench_tracking: %s: %s\n", what, e ? e->msg : "");
    exit(1);
}

static struct orr_meta *open_db(const char *path)
{
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    if (orr_meta_open(&m, path, &e))
        die("open", &e);
    return m;
}

static void c_logging(const char *dir)
{
    char path[600], run[ORR_RUN_ID_SIZE];
    snprintf(path, sizeof path, "%.500s/c.db", dir);
    struct orr_meta *m = open_db(path);
    struct orr_error e = {0};
    struct orr_run_spec spec = {.workflow = "bench"};
    if (orr_meta_run_begin(m, &spec, run, &e))
        die("run", &e);
    double t0 = now_s();
    for (long i = 0; i < C_POINTS; i++)
        if (orr_meta_log_metric(m, run, "loss", (double)i, i, &e))
            die("log", &e);
    if (orr_meta_flush(m, &e))
        die("flush", &e);
    double dt = now_s() - t0;
    struct orr_run_summary s;
    if (orr_meta_run_summary(m, run, &s, &e) || s.n_metrics != C_POINTS)
        die("C points lost", &e);
    printf("C   log_metric, 1 series, %ld points (flush included): "
           "%.2f M points/s\n", C_POINTS, C_POINTS / dt / 1e6);
    t0 = now_s();
    for (int i = 0; i < RUNS; i++) {
        if (orr_meta_run_begin(m, &spec, run, &e) ||
            orr_meta_run_end(m, run, ORR_RUN_SUCCEEDED, &e))
            die("runs", &e);
    }
    dt = now_s() - t0;
    printf("C   run_begin + run_end, %d runs: %.0f runs/s\n", RUNS,
           RUNS / dt);
    orr_meta_close(m);
}

static void lua_logging(const char *dir)
{
    char wf[600], site[600];
    snprintf(wf, sizeof wf, "%.500s/bench.lua", dir);
    snprintf(site, sizeof site, "%.500s/bench.site.lua", dir);
    FILE *f = fopen(wf, "w");
    if (!f)
        die("writing the workflow", NULL);
    fprintf(f, "local orrery = require 'orrery'\n"
               "local wf = orrery.workflow { name = 'bench' }\n"
               "wf:step('log', function(ctx)\n"
               "  for i = 1, %ld do ctx:log_metric('loss', i, i) end\n"
               "end)\nreturn wf\n", LUA_POINTS);
    fclose(f);
    f = fopen(site, "w");
    if (!f)
        die("writing the site", NULL);
    fprintf(f, "metadata = { path = '%s/lua.db' }\n"
               "storage = { backend = 'fs', root = '%s/blobs' }\n", dir,
            dir);
    fclose(f);
    struct orr_core *core = NULL;
    struct orr_error e = {0};
    struct orr_core_options copt = {.site_path = site};
    if (orr_core_open(&core, &copt, &e))
        die("core", &e);
    struct orr_run_options opt = {.script_path = wf, .print_stderr = 1};
    struct orr_run_report *rep = NULL;
    double t0 = now_s();
    if (orr_workflow_run(core, &opt, &rep, &e))
        die("lua run", &e);
    double dt = now_s() - t0;
    struct orr_meta *m = NULL;
    struct orr_run_summary s;
    if (orr_core_meta(core, &m, &e) ||
        orr_meta_run_summary(m, rep->run_id, &s, &e) ||
        s.n_metrics != LUA_POINTS)
        die("Lua points lost", &e);
    printf("Lua ctx:log_metric loop, %ld points (whole run): "
           "%.2f M points/s\n", LUA_POINTS, LUA_POINTS / dt / 1e6);
    orr_run_report_free(rep);
    orr_core_close(core);
}

static void exec_sql(sqlite3 *db, const char *q)
{
    char *err = NULL;
    if (sqlite3_exec(db, q, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "bench_tracking: %s: %s\n", q, err);
        exit(1);
    }
}

/* 100,000 runs x 20 metric series, filled through SQL in one transaction
 * (the store's own path would take minutes of setup for this figure). */
static void list_bench(const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%.500s/list.db", dir);
    orr_meta_close(open_db(path));          /* creates the schema */
    sqlite3 *db = NULL;
    sqlite3_open(path, &db);
    exec_sql(db, "PRAGMA synchronous = OFF; BEGIN");
    sqlite3_stmt *r = NULL, *k = NULL, *s = NULL, *p = NULL;
    sqlite3_prepare_v2(db, "INSERT INTO runs (uuid, workflow, status,"
                       " start_ms, end_ms) VALUES (printf('%032x', ?1),"
                       " 'wf', 'succeeded', ?1, ?1 + 10)", -1, &r, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO metric_series VALUES (?1, ?2, 1, 0,"
                       " 0, ?3, ?3, ?3)", -1, &s, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO run_params VALUES (?1, 'depth', ?2)",
                       -1, &p, NULL);
    for (int i = 0; i < LIST_KEYS; i++) {
        char q[96];
        snprintf(q, sizeof q, "INSERT INTO metric_keys (name) VALUES "
                 "('m%d')", i);
        exec_sql(db, q);
    }
    srand(7);
    for (int i = 1; i <= LIST_RUNS; i++) {
        sqlite3_bind_int64(r, 1, i);
        sqlite3_step(r);
        sqlite3_reset(r);
        char d[8];
        snprintf(d, sizeof d, "%d", i % 8);
        sqlite3_bind_int64(p, 1, i);
        sqlite3_bind_text(p, 2, d, -1, SQLITE_TRANSIENT);
        sqlite3_step(p);
        sqlite3_reset(p);
        for (int j = 1; j <= LIST_KEYS; j++) {
            sqlite3_bind_int64(s, 1, i);
            sqlite3_bind_int64(s, 2, j);
            sqlite3_bind_double(s, 3, rand() / (double)RAND_MAX);
            sqlite3_step(s);
            sqlite3_reset(s);
        }
    }
    sqlite3_finalize(r);
    sqlite3_finalize(s);
    sqlite3_finalize(p);
    exec_sql(db, "COMMIT; ANALYZE");
    sqlite3_close(db);
    (void)k;

    struct orr_meta *m = open_db(path);
    struct orr_error e = {0};
    static const char *const filters[] = {
        "metrics.m0 > 0.95",
        "metrics.m0 > 0.95 and params.depth = 4",
        "metrics.m3 > 0.5 and metrics.m7 < 0.1",
    };
    for (size_t f = 0; f < sizeof filters / sizeof *filters; f++) {
        struct orr_runs_query q = {.filter = filters[f],
                                   .order_by = "metrics.m0", .limit = 20};
        double best = 1e9;
        size_t n = 0;
        for (int rep = 0; rep < 5; rep++) {
            struct orr_run_list *l = NULL;
            double t0 = now_s();
            if (orr_meta_runs_list(m, &q, &l, &e))
                die("list", &e);
            double dt = now_s() - t0;
            best = dt < best ? dt : best;
            n = l->n;
            orr_run_list_free(l);
        }
        printf("runs list over %d runs x %d metrics, \"%s\" order by "
               "metrics.m0 limit 20: %.1f ms (%zu rows)\n", LIST_RUNS,
               LIST_KEYS, filters[f], best * 1e3, n);
    }
    orr_meta_close(m);
}

/* The floor: the same 1,000,000 points as plain rows, one prepared
 * statement, one transaction, WAL, synchronous = NORMAL. */
static void raw_floor(const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%.500s/raw.db", dir);
    sqlite3 *db = NULL;
    sqlite3_open(path, &db);
    exec_sql(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                 "CREATE TABLE p (run INTEGER, key INTEGER, step INTEGER,"
                 " time_ms INTEGER, value REAL)");
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "INSERT INTO p VALUES (1, 1, ?1, ?2, ?3)", -1,
                       &st, NULL);
    double t0 = now_s();
    exec_sql(db, "BEGIN");
    for (long i = 0; i < C_POINTS; i++) {
        sqlite3_bind_int64(st, 1, i);
        sqlite3_bind_int64(st, 2, 1700000000000 + i);
        sqlite3_bind_double(st, 3, (double)i);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    exec_sql(db, "COMMIT");
    double dt = now_s() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    printf("raw SQLite floor, %ld rows, one prepared statement, one "
           "transaction: %.2f M rows/s\n", C_POINTS, C_POINTS / dt / 1e6);
}

int main(int argc, char **argv)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/orr-bench-tracking-XXXXXX",
             argc > 1 ? argv[1] : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    c_logging(dir);
    lua_logging(dir);
    raw_floor(dir);
    list_bench(dir);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_tracking: could not remove %s\n", dir);
    return 0;
}
