/*
 * bench_registry.c - how long registering a model version and moving an
 * alias take (MLflow 2.12.2, SQLite backend: create version ~5 ms,
 * set alias ~3 ms; target here: < 0.2 ms each).
 *
 *     bench_registry [dir] [n]     (default: a fresh dir, n = 5000)
 *
 * Each operation is its own transaction (WAL, synchronous=NORMAL) with
 * its audit event, as the CLI and Lua do it; the figures are per call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "meta/registry.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct orr_error *e)
{
    fprintf(stderr, "bench_registry: %s: %s\n", what, e->msg);
    exit(1);
}

int main(int argc, char **argv)
{
    char dir[512], path[600];
    if (argc > 1) {
        snprintf(dir, sizeof dir, "%s", argv[1]);
    } else {
        snprintf(dir, sizeof dir, "/tmp/orr-bench-registry-XXXXXX");
        if (!mkdtemp(dir))
            return 1;
    }
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 5000;
    if (n < 10)
        n = 10;
    snprintf(path, sizeof path, "%s/orrery.db", dir);
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    if (orr_meta_open(&m, path, &e))
        die("open", &e);
    char run[ORR_RUN_ID_SIZE];
    struct orr_run_spec spec = {.workflow = "bench"};
    if (orr_meta_run_begin(m, &spec, run, &e))
        die("run", &e);
    for (int k = 0; k < 20; k++) {
        char key[16];
        snprintf(key, sizeof key, "m%d", k);
        orr_meta_log_metric(m, run, key, k * 0.5, 0, &e);
    }
    int64_t step = 0;
    static const char ds[] = "dddddddddddddddddddddddddddddddddddddddddddddd"
                             "dddddddddddddddddd";
    if (orr_meta_step_begin(m, run, "train", &step, &e) ||
        orr_meta_artifact(m, step, ORR_EVENT_INPUT, ds, 100, "dataset",
                          "d.csv", &e) ||
        orr_meta_step_end(m, step, ORR_RUN_SUCCEEDED, &e))
        die("setup", &e);

    /* Distinct model artifacts, recorded on the fly (size given). */
    char (*digests)[ORR_DIGEST_HEX_LEN + 1] = calloc((size_t)n,
                                                     sizeof *digests);
    for (long i = 0; i < n; i++)
        snprintf(digests[i], sizeof digests[i], "%064lx", (unsigned long)i + 1);
    const char *dsets[] = {ds};
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        struct orr_model_version_spec s = {
            .name = "bench", .run_id = run, .artifact = digests[i],
            .artifact_size = 1000, .flavor = "linear", .datasets = dsets,
            .n_datasets = 1,
        };
        int64_t v = 0;
        if (orr_registry_register(m, &s, &v, &e))
            die("register", &e);
    }
    double t_reg = now_s() - t0;

    t0 = now_s();
    for (long i = 0; i < n; i++)
        if (orr_registry_alias_set(m, "bench", "champion", 1 + i % n,
                                   "bench", &e))
            die("alias", &e);
    double t_alias = now_s() - t0;

    t0 = now_s();
    struct orr_model_version v;
    for (long i = 0; i < n; i++)
        if (orr_registry_resolve(m, "models:/bench@champion", &v, &e))
            die("resolve", &e);
    double t_res = now_s() - t0;
    orr_meta_close(m);

    printf("register version (run, 1 dataset, metric snapshot of 20): "
           "%.1f us/op (%.0f/s)  [MLflow ~5 ms]\n", t_reg / n * 1e6,
           n / t_reg);
    printf("move alias + audit event:                                "
           "%.1f us/op (%.0f/s)  [MLflow ~3 ms]\n", t_alias / n * 1e6,
           n / t_alias);
    printf("resolve models:/name@alias:                              "
           "%.1f us/op (%.0f/s)\n", t_res / n * 1e6, n / t_res);
    free(digests);
    if (argc <= 1) {
        unlink(path);
        char p2[700];
        snprintf(p2, sizeof p2, "%s-wal", path);
        unlink(p2);
        snprintf(p2, sizeof p2, "%s-shm", path);
        unlink(p2);
        rmdir(dir);
    }
    return 0;
}
