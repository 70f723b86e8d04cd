/*
 * bench_meta.c - how fast the metadata store takes metric points and runs.
 *
 *     bench_meta [dir]      (default: a fresh directory under /tmp)
 *
 * Prints one line per measurement:
 *   1. 1,000,000 orr_meta_log_metric calls, 1 run x 10 keys interleaved,
 *      final flush included;
 *   2. the same with 100 runs x 20 keys interleaved (2,000 series);
 *   3. runs created and finished (orr_meta_run_begin + run_end);
 *   4. 8 processes x 100,000 points into one database at once, checked
 *      for loss afterwards;
 *   5. reading a 100,000-point series back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "meta/meta.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct orr_error *e)
{
    fprintf(stderr, "bench_meta: %s: %s\n", what, e->msg);
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

static void new_run(struct orr_meta *m, char id[ORR_RUN_ID_SIZE])
{
    struct orr_run_spec spec = {.workflow = "bench"};
    struct orr_error e = {0};
    if (orr_meta_run_begin(m, &spec, id, &e))
        die("run_begin", &e);
}

static void log_points(const char *path, int n_runs, int n_keys, long total,
                       const char *label)
{
    struct orr_meta *m = open_db(path);
    char (*runs)[ORR_RUN_ID_SIZE] = calloc((size_t)n_runs, sizeof *runs);
    char keys[64][32];
    for (int r = 0; r < n_runs; r++)
        new_run(m, runs[r]);
    for (int k = 0; k < n_keys; k++)
        snprintf(keys[k], sizeof keys[k], "train/metric_%02d", k);
    struct orr_error e = {0};
    long per_series = total / (n_runs * n_keys);
    double t0 = now_s();
    for (long s = 0; s < per_series; s++)
        for (int r = 0; r < n_runs; r++)
            for (int k = 0; k < n_keys; k++)
                if (orr_meta_log_metric(m, runs[r], keys[k],
                                        (double)s * 0.001 + k, s, &e))
                    die("log_metric", &e);
    if (orr_meta_flush(m, &e))
        die("flush", &e);
    double dt = now_s() - t0;
    long n = per_series * n_runs * n_keys;
    printf("%-44s %9ld points %8.3f s %10.0f points/s\n", label, n, dt,
           (double)n / dt);
    orr_meta_close(m);
    free(runs);
}

static void runs_per_second(const char *path, int n)
{
    struct orr_meta *m = open_db(path);
    struct orr_error e = {0};
    char id[ORR_RUN_ID_SIZE];
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        new_run(m, id);
        if (orr_meta_run_end(m, id, ORR_RUN_SUCCEEDED, &e))
            die("run_end", &e);
    }
    double dt = now_s() - t0;
    printf("%-44s %9d runs   %8.3f s %10.0f runs/s\n",
           "run_begin + run_end", n, dt, (double)n / dt);
    orr_meta_close(m);
}

static int count_cb(void *ctx, const struct orr_metric_point *p)
{
    (void)p;
    ++*(long *)ctx;
    return 0;
}

static void concurrent(const char *path, int procs, long each)
{
    struct orr_meta *m = open_db(path);
    char run[ORR_RUN_ID_SIZE];
    new_run(m, run);
    orr_meta_close(m);
    fflush(NULL);
    double t0 = now_s();
    pid_t pid[64];
    for (int p = 0; p < procs; p++) {
        pid[p] = fork();
        if (pid[p] == 0) {
            struct orr_meta *w = open_db(path);
            struct orr_error e = {0};
            char key[32];
            snprintf(key, sizeof key, "worker_%d", p);
            for (long i = 0; i < each; i++)
                if (orr_meta_log_metric(w, run, key, (double)i, i, &e))
                    die("log_metric", &e);
            if (orr_meta_flush(w, &e))
                die("flush", &e);
            orr_meta_close(w);
            _exit(0);
        }
    }
    int failed = 0;
    for (int p = 0; p < procs; p++) {
        int st = 0;
        waitpid(pid[p], &st, 0);
        failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    double dt = now_s() - t0;
    m = open_db(path);
    long got = 0;
    struct orr_error e = {0};
    for (int p = 0; p < procs; p++) {
        char key[32];
        snprintf(key, sizeof key, "worker_%d", p);
        if (orr_meta_metric_series(m, run, key, count_cb, &got, &e))
            die("series", &e);
    }
    long n = each * procs;
    printf("%-44s %9ld points %8.3f s %10.0f points/s (%s)\n",
           "8 processes x 100,000 points, concurrently", n, dt,
           (double)n / dt, !failed && got == n ? "none lost" : "LOST POINTS");
    double t1 = now_s();
    long read = 0;
    if (orr_meta_metric_series(m, run, "worker_0", count_cb, &read, &e))
        die("series", &e);
    double rt = now_s() - t1;
    printf("%-44s %9ld points %8.3f s %10.0f points/s\n",
           "read one 100,000-point series", read, rt, (double)read / rt);
    orr_meta_close(m);
}

int main(int argc, char **argv)
{
    char dir[256], path[512];
    if (argc > 1) {
        snprintf(dir, sizeof dir, "%s", argv[1]);
    } else {
        snprintf(dir, sizeof dir, "/tmp/orr-bench-meta-XXXXXX");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            return 1;
        }
    }
    snprintf(path, sizeof path, "%s/a.db", dir);
    log_points(path, 1, 10, 1000000, "log_metric, 1 run x 10 keys");
    snprintf(path, sizeof path, "%s/b.db", dir);
    log_points(path, 100, 20, 1000000, "log_metric, 100 runs x 20 keys");
    snprintf(path, sizeof path, "%s/c.db", dir);
    runs_per_second(path, 10000);
    snprintf(path, sizeof path, "%s/d.db", dir);
    concurrent(path, 8, 100000);
    if (argc > 1) {
        printf("databases left in %s\n", dir);
        return 0;
    }
    /* A directory of our own: leave nothing behind in /tmp. */
    static const char *const dbs[] = {"a", "b", "c", "d"};
    static const char *const ext[] = {".db", ".db-wal", ".db-shm",
                                      ".db-journal"};
    for (size_t i = 0; i < sizeof dbs / sizeof *dbs; i++)
        for (size_t j = 0; j < sizeof ext / sizeof *ext; j++) {
            snprintf(path, sizeof path, "%s/%s%s", dir, dbs[i], ext[j]);
            unlink(path);
        }
    if (rmdir(dir))
        perror(dir);
    return 0;
}
