/*
 * test_meta_metrics.c - core/meta: metric buffering, commits, faithful
 * values, bad keys, and concurrent writers losing no point.
 */
#define _XOPEN_SOURCE 700
#include "meta_test_util.h"

#include <float.h>
#include <sys/wait.h>
#include <time.h>

#include "test.h"

struct fixture {
    char            dir[256];
    char            path[512];
    struct orr_meta *m;
    char            run[ORR_RUN_ID_SIZE];
};

static void setup(struct fixture *f)
{
    tmp_dir(f->dir, sizeof f->dir);
    snprintf(f->path, sizeof f->path, "%s/orrery.db", f->dir);
    f->m = open_ok(f->path);
    new_run(f->m, f->run);
}

static void teardown(struct fixture *f)
{
    orr_meta_close(f->m);
    tmp_rm(f->dir);
}

static size_t count_points(const char *path, const char *run,
                           const char *key)
{
    struct orr_meta *m = open_ok(path);
    struct collected c = {0};
    struct orr_error e = {0};
    int rc = orr_meta_metric_series(m, run, key, collect, &c, &e);
    orr_meta_close(m);
    free(c.p);
    return rc == ORR_OK ? c.n : 0;
}

static int same_bits(double a, double b)
{
    return !memcmp(&a, &b, sizeof a);
}

static void test_faithful_values(void)
{
    struct fixture f;
    setup(&f);
    struct orr_error e = {0};
    const double v[] = {NAN, INFINITY, -INFINITY, -0.0, 0.0, 1e-300,
                        DBL_MAX, -DBL_MIN, 4.9e-324, 0.1};
    const size_t n = sizeof v / sizeof *v;
    /* Logged in reverse step order: read back in step order. */
    for (size_t i = 0; i < n; i++)
        CHECK_INT(orr_meta_log_metric(f.m, f.run, "x", v[i],
                                      (int64_t)(n - 1 - i), &e), ORR_OK);
    CHECK_INT(orr_meta_log_metric(f.m, f.run, "x", -NAN, -5, &e), ORR_OK);
    orr_meta_close(f.m);
    f.m = open_ok(f.path);          /* from disk, not from the buffer */

    struct collected c = {0};
    CHECK_INT(orr_meta_metric_series(f.m, f.run, "x", collect, &c, &e),
              ORR_OK);
    CHECK_INT(c.n, n + 1);
    if (c.n == n + 1) {
        double mnan = -NAN;
        CHECK(same_bits(c.p[0].value, mnan));
        CHECK_INT(c.p[0].step, -5);
        for (size_t i = 0; i < n; i++) {
            CHECK_INT(c.p[i + 1].step, (int64_t)i);
            CHECK(same_bits(c.p[i + 1].value, v[n - 1 - i]));
            CHECK(c.p[i + 1].time_ms > 1600000000000LL);
        }
        CHECK(isnan(c.p[n].value));
        CHECK(isinf(c.p[n - 1].value) && c.p[n - 1].value > 0);
        CHECK(isinf(c.p[n - 2].value) && c.p[n - 2].value < 0);
    }
    free(c.p);

    /* The summary row: latest = highest step (NaN at step 9 -> NULL),
     * min and max over the non-NaN values. */
    CHECK_INT(sql_int(f.path, "SELECT last_step FROM metric_series"), 9);
    CHECK_INT(sql_int(f.path, "SELECT last_value IS NULL FROM"
                              " metric_series"), 1);
    CHECK_INT(sql_int(f.path, "SELECT min_value = -9e999 AND"
                              " max_value = 9e999 FROM metric_series"), 1);
    teardown(&f);
}

static void test_many_points(void)
{
    struct fixture f;
    setup(&f);
    struct orr_error e = {0};
    /* 100,000 points, two keys interleaved. */
    int bad = 0;
    for (int i = 0; i < 50000; i++) {
        bad |= orr_meta_log_metric(f.m, f.run, "loss", 1.0 / (i + 1), i, &e);
        bad |= orr_meta_log_metric(f.m, f.run, "acc", i * 0.5, i, &e);
    }
    CHECK_INT(bad, 0);
    struct orr_run_summary s;
    CHECK_INT(orr_meta_run_summary(f.m, f.run, &s, &e), ORR_OK);
    CHECK_INT(s.n_metrics, 100000);

    struct collected c = {0};
    CHECK_INT(orr_meta_metric_series(f.m, f.run, "acc", collect, &c, &e),
              ORR_OK);
    CHECK_INT(c.n, 50000);
    int wrong = 0;
    for (size_t i = 0; i < c.n; i++)
        wrong += c.p[i].step != (int64_t)i || c.p[i].value != i * 0.5;
    CHECK_INT(wrong, 0);
    c.n = 0;
    CHECK_INT(orr_meta_metric_series(f.m, f.run, "loss", collect, &c, &e),
              ORR_OK);
    CHECK_INT(c.n, 50000);
    wrong = 0;
    for (size_t i = 0; i < c.n; i++)
        wrong += c.p[i].value != 1.0 / (double)(i + 1);
    CHECK_INT(wrong, 0);
    free(c.p);
    /* Chunks hold at most 1,024 points. */
    CHECK_INT(sql_int(f.path, "SELECT max(n) <= 1024 AND sum(n) = 100000"
                              " FROM metric_chunks"), 1);
    CHECK_INT(sql_int(f.path, "SELECT n FROM metric_series s JOIN"
                              " metric_keys k ON k.id = s.key_id WHERE"
                              " k.name = 'acc'"), 50000);
    teardown(&f);
}

static int stop_at_three(void *ctx, const struct orr_metric_point *p)
{
    (void)p;
    return ++*(int *)ctx == 3 ? 42 : 0;
}

static void test_bad_keys_and_missing(void)
{
    struct fixture f;
    setup(&f);
    struct orr_error e = {0};
    CHECK_INT(orr_meta_log_metric(f.m, f.run, "", 1, 0, &e), ORR_EINVAL);
    CHECK_STR(e.msg, "empty metric key");
    CHECK_INT(orr_meta_log_metric(f.m, f.run, NULL, 1, 0, &e), ORR_EINVAL);
    char key[300];
    memset(key, 'k', 251);
    key[251] = '\0';
    CHECK_INT(orr_meta_log_metric(f.m, f.run, key, 1, 0, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "is 251 bytes long; the limit is 250");
    key[250] = '\0';
    CHECK_INT(orr_meta_log_metric(f.m, f.run, key, 1, 0, &e), ORR_OK);
    CHECK_INT(orr_meta_log_metric(f.m, "bad", "k", 1, 0, &e), ORR_EINVAL);
    CHECK_INT(orr_meta_log_metric(f.m, "0123456789abcdef0123456789abcdef",
                                  "k", 1, 0, &e), ORR_ENOTFOUND);

    struct collected c = {0};
    CHECK_INT(orr_meta_metric_series(f.m, f.run, key, collect, &c, &e),
              ORR_OK);
    CHECK_INT(c.n, 1);
    CHECK_INT(orr_meta_metric_series(f.m, f.run, "never", collect, &c, &e),
              ORR_ENOTFOUND);
    CHECK_CONTAINS(e.msg, "has no metric 'never'");
    /* A key known from another run is still missing in this one. */
    char other[ORR_RUN_ID_SIZE];
    new_run(f.m, other);
    CHECK_INT(orr_meta_metric_series(f.m, other, key, collect, &c, &e),
              ORR_ENOTFOUND);
    free(c.p);

    /* A callback stops the walk with its own value. */
    for (int i = 0; i < 10; i++)
        orr_meta_log_metric(f.m, f.run, "s", i, i, &e);
    int seen = 0;
    CHECK_INT(orr_meta_metric_series(f.m, f.run, "s", stop_at_three, &seen,
                                     &e), 42);
    CHECK_INT(seen, 3);
    teardown(&f);
}

/* When points become visible to other connections. */
static void test_commit_points(void)
{
    struct fixture f;
    setup(&f);
    struct orr_error e = {0};
    int64_t step = 0;
    CHECK_INT(orr_meta_step_begin(f.m, f.run, "train", &step, &e), ORR_OK);
    /* The 10,000th buffered point commits the buffer. */
    for (int i = 0; i < 10000; i++)
        orr_meta_log_metric(f.m, f.run, "a", i, i, &e);
    CHECK_INT(count_points(f.path, f.run, "a"), 10000);

    /* Step end commits. */
    orr_meta_log_metric(f.m, f.run, "b", 1, 1, &e);
    CHECK_INT(orr_meta_step_end(f.m, step, ORR_RUN_SUCCEEDED, &e), ORR_OK);
    CHECK_INT(count_points(f.path, f.run, "b"), 1);

    /* Points are committed within 100 ms without any further call: by
     * the next log call 100 ms after the last commit, or by the flusher
     * thread (meta/flusher.c).  Waiting up to 10 s keeps this from
     * depending on the machine's speed. */
    CHECK_INT(orr_meta_flush(f.m, &e), ORR_OK);
    orr_meta_log_metric(f.m, f.run, "c", 1, 1, &e);
    struct timespec ts = {0, 150 * 1000000L};
    nanosleep(&ts, NULL);
    orr_meta_log_metric(f.m, f.run, "c", 2, 2, &e);
    for (int i = 0; i < 1000 && count_points(f.path, f.run, "c") != 2; i++) {
        struct timespec tick = {0, 10 * 1000000L};
        nanosleep(&tick, NULL);
    }
    CHECK_INT(count_points(f.path, f.run, "c"), 2);

    /* Flush, run end and close commit. */
    orr_meta_log_metric(f.m, f.run, "d", 1, 1, &e);
    CHECK_INT(orr_meta_flush(f.m, &e), ORR_OK);
    CHECK_INT(count_points(f.path, f.run, "d"), 1);
    orr_meta_log_metric(f.m, f.run, "d", 2, 2, &e);
    CHECK_INT(orr_meta_run_end(f.m, f.run, ORR_RUN_SUCCEEDED, &e), ORR_OK);
    CHECK_INT(count_points(f.path, f.run, "d"), 2);
    orr_meta_log_metric(f.m, f.run, "d", 3, 3, &e);
    orr_meta_close(f.m);
    f.m = NULL;
    CHECK_INT(count_points(f.path, f.run, "d"), 3);
    tmp_rm(f.dir);
}

/* Two connections in one process, interleaving commits on one series. */
static void test_two_connections(void)
{
    struct fixture f;
    setup(&f);
    struct orr_meta *m2 = open_ok(f.path);
    struct orr_error e = {0};
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        bad |= orr_meta_log_metric(f.m, f.run, "loss", i, 2 * i, &e);
        bad |= orr_meta_log_metric(m2, f.run, "loss", i, 2 * i + 1, &e);
        if (i % 3001 == 0) {
            bad |= orr_meta_flush(m2, &e);
            bad |= orr_meta_log_param(f.m, f.run, "i", "x", &e);
        }
    }
    CHECK_INT(bad, 0);
    orr_meta_close(m2);
    struct collected c = {0};
    CHECK_INT(orr_meta_metric_series(f.m, f.run, "loss", collect, &c, &e),
              ORR_OK);
    CHECK_INT(c.n, 40000);
    int wrong = 0;
    for (size_t i = 0; i < c.n; i++)
        wrong += c.p[i].step != (int64_t)i;
    CHECK_INT(wrong, 0);
    free(c.p);
    teardown(&f);
}

/* Two processes, each 20,000 points to a shared series and its own. */
static void test_forked_writers(void)
{
    struct fixture f;
    setup(&f);
    orr_meta_close(f.m);
    f.m = NULL;
    pid_t pids[2];
    fflush(NULL);
    for (int w = 0; w < 2; w++) {
        pids[w] = fork();
        if (pids[w] == 0) {
            struct orr_meta *m = NULL;
            struct orr_error e = {0};
            int rc = orr_meta_open(&m, f.path, &e);
            char own[16];
            snprintf(own, sizeof own, "worker%d", w);
            for (int i = 0; !rc && i < 20000; i++) {
                rc = orr_meta_log_metric(m, f.run, "shared", w, 2 * i + w,
                                         &e);
                if (!rc)
                    rc = orr_meta_log_metric(m, f.run, own, i, i, &e);
            }
            if (!rc)
                rc = orr_meta_flush(m, &e);
            if (rc)
                fprintf(stderr, "worker %d: %s\n", w, e.msg);
            orr_meta_close(m);
            _exit(rc ? 1 : 0);
        }
    }
    for (int w = 0; w < 2; w++) {
        int st = 0;
        CHECK(waitpid(pids[w], &st, 0) == pids[w]);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    struct orr_meta *m = open_ok(f.path);
    struct orr_error e = {0};
    struct collected c = {0};
    CHECK_INT(orr_meta_metric_series(m, f.run, "shared", collect, &c, &e),
              ORR_OK);
    CHECK_INT(c.n, 40000);
    int wrong = 0;
    for (size_t i = 0; i < c.n; i++)
        wrong += c.p[i].step != (int64_t)i || c.p[i].value != (double)(i % 2);
    CHECK_INT(wrong, 0);
    free(c.p);
    CHECK_INT(count_points(f.path, f.run, "worker0"), 20000);
    CHECK_INT(count_points(f.path, f.run, "worker1"), 20000);
    struct orr_run_summary s;
    CHECK_INT(orr_meta_run_summary(m, f.run, &s, &e), ORR_OK);
    CHECK_INT(s.n_metrics, 80000);
    orr_meta_close(m);
    tmp_rm(f.dir);
}

/* Threads share one orr_meta: calls are serialised, nothing is lost. */
#include <pthread.h>

struct thread_arg {
    struct fixture *f;
    int             t;
    int             rc;
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    struct orr_error e = {0};
    for (int i = 0; !a->rc && i < 10000; i++)
        a->rc = orr_meta_log_metric(a->f->m, a->f->run, "t", a->t,
                                    4 * i + a->t, &e);
    return NULL;
}

static void test_threads(void)
{
    struct fixture f;
    setup(&f);
    pthread_t th[4];
    struct thread_arg args[4];
    for (int t = 0; t < 4; t++) {
        args[t] = (struct thread_arg){&f, t, 0};
        pthread_create(&th[t], NULL, thread_main, &args[t]);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        CHECK_INT(args[t].rc, 0);
    }
    struct orr_error e = {0};
    struct collected c = {0};
    CHECK_INT(orr_meta_metric_series(f.m, f.run, "t", collect, &c, &e),
              ORR_OK);
    CHECK_INT(c.n, 40000);
    int wrong = 0;
    for (size_t i = 0; i < c.n; i++)
        wrong += c.p[i].step != (int64_t)i;
    CHECK_INT(wrong, 0);
    free(c.p);
    teardown(&f);
}

/* More runs than the run cache holds and more series than the buffer
 * keeps between commits: both are only caches. */
static void test_many_runs_and_series(void)
{
    struct fixture f;
    setup(&f);
    enum { RUNS = 2000 };
    static char ids[RUNS][ORR_RUN_ID_SIZE];
    for (int r = 0; r < RUNS; r++)
        new_run(f.m, ids[r]);
    struct orr_error e = {0};
    int bad = 0;
    for (int round = 0; round < 2; round++)
        for (int r = 0; r < RUNS; r++)
            for (int k = 0; k < 3; k++) {
                const char *key = k == 0 ? "a" : k == 1 ? "b" : "c";
                bad |= orr_meta_log_metric(f.m, ids[r], key, r, round, &e);
            }
    CHECK_INT(bad, 0);
    CHECK_INT(orr_meta_flush(f.m, &e), ORR_OK);
    CHECK_INT(sql_int(f.path, "SELECT sum(n) FROM metric_series"),
              RUNS * 3 * 2);
    CHECK_INT(sql_int(f.path, "SELECT count(*) FROM metric_series"),
              RUNS * 3);
    struct orr_run_summary s;
    CHECK_INT(orr_meta_run_summary(f.m, ids[1234], &s, &e), ORR_OK);
    CHECK_INT(s.n_metrics, 6);
    struct collected c = {0};
    CHECK_INT(orr_meta_metric_series(f.m, ids[77], "b", collect, &c, &e),
              ORR_OK);
    CHECK_INT(c.n, 2);
    if (c.n == 2)
        CHECK(c.p[0].value == 77 && c.p[1].step == 1);
    free(c.p);
    teardown(&f);
}

/* A failed commit is rolled back whole; the points stay buffered and the
 * next commit writes each exactly once, with key ids that exist. */
static void test_failed_commit_retried(void)
{
    struct fixture f;
    setup(&f);
    struct orr_error e = {0};
    CHECK_INT(sql_exec(f.path, "CREATE TRIGGER refuse BEFORE INSERT ON"
                               " metric_chunks BEGIN SELECT RAISE(ABORT,"
                               " 'disk on fire'); END"), SQLITE_OK);
    for (int i = 0; i < 5; i++)
        CHECK_INT(orr_meta_log_metric(f.m, f.run, "fresh", i, i, &e),
                  ORR_OK);
    CHECK(orr_meta_flush(f.m, &e) != ORR_OK);
    CHECK_CONTAINS(e.msg, "disk on fire");
    CHECK_INT(sql_int(f.path, "SELECT count(*) FROM metric_keys"), 0);
    CHECK_INT(sql_exec(f.path, "DROP TRIGGER refuse"), SQLITE_OK);
    CHECK_INT(orr_meta_log_metric(f.m, f.run, "fresh", 5, 5, &e), ORR_OK);
    CHECK_INT(orr_meta_flush(f.m, &e), ORR_OK);
    CHECK_INT(count_points(f.path, f.run, "fresh"), 6);
    CHECK_INT(sql_int(f.path, "SELECT n FROM metric_series"), 6);
    teardown(&f);
}

TEST_MAIN({"faithful_values", test_faithful_values},
          {"failed_commit_retried", test_failed_commit_retried},
          {"many_runs_and_series", test_many_runs_and_series},
          {"many_points", test_many_points},
          {"bad_keys_and_missing", test_bad_keys_and_missing},
          {"commit_points", test_commit_points},
          {"two_connections", test_two_connections},
          {"forked_writers", test_forked_writers},
          {"threads", test_threads})
