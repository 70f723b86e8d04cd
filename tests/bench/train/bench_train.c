/*
 * bench_train - the training benchmarks' driver (see bench_train.sh).
 *
 *   bench_train gen FILE ROWS COLS SEED   synthetic classification CSV
 *   bench_train load FILE [PARTS [PATH]]  time orr_dataset_load_csv
 *                                         (PARTS 1: one parser, no split;
 *                                         PATH libcsv: no fast path;
 *                                         read: read(), not mapped;
 *                                         scalar: no AVX-512 row loop)
 *   bench_train fit FILE C THREADS        load, then time the linear fit
 *   bench_train predict FILE              rows/s for 1, 64, 10000 rows
 *   bench_train floor FILE ROWS COLS      what any loader pays before it
 *                                         parses a byte: read the file and
 *                                         fault in COLS columns of ROWS
 *                                         doubles (allocated as the loader
 *                                         does), on two threads, half each
 *
 * ORR_BENCH_HUGE=1 in the environment turns on the loader's huge pages
 * for column arrays (orri_col_set_huge; off by default), for load and
 * floor alike.
 *
 * Prints "key value" lines.  The fit and predict modes run the real
 * trainer-linear plugin through the registry (ORRERY_PLUGIN_PATH), with a
 * core opened in the current directory.
 */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/cfg.h"
#include "core.h"
#include "data/colmem.h"
#include "data/csv_internal.h"
#include "data/model_io.h"
#include "data/table.h"
#include "plugin/model.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t state = 42;

static double unif(void)
{
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static double gauss(void)
{
    double u = unif(), v = unif();
    return sqrt(-2 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

static int gen(const char *path, long rows, long cols, uint64_t seed)
{
    state = seed;
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    double *w = malloc((size_t)cols * sizeof *w);
    double *x = malloc((size_t)cols * sizeof *x);
    for (long j = 0; j < cols; j++) {
        w[j] = gauss();
        fprintf(f, "x%ld,", j);
    }
    fprintf(f, "y\n");
    for (long r = 0; r < rows; r++) {
        double z = 0;
        for (long j = 0; j < cols; j++) {
            x[j] = gauss();
            z += w[j] * x[j];
        }
        z += 2 * gauss();       /* label noise: not separable */
        for (long j = 0; j < cols; j++)
            fprintf(f, "%.6f,", x[j]);
        fprintf(f, "%d\n", z > 0);
    }
    free(w);
    free(x);
    return fclose(f) != 0;
}

static struct orr_dataset *load(const char *path, double *secs)
{
    struct orr_csv_options o = {.target = "y"};
    struct orr_dataset *ds = NULL;
    struct orr_error e = {0};
    double t0 = now();
    if (orr_dataset_load_csv(path, &o, &ds, &e)) {
        fprintf(stderr, "load: %s\n", e.msg);
        exit(1);
    }
    *secs = now() - t0;
    return ds;
}

struct half {
    const char *path;
    off_t       from, to;
    size_t      rows, cols;     /* of the table's memory to fault in      */
    int         failed;
};

static void *floor_half(void *arg)
{
    struct half *h = arg;
    int fd = open(h->path, O_RDONLY);
    char *buf = malloc((size_t)1 << 20);
    h->failed = fd < 0 || !buf;
    for (off_t at = h->from; !h->failed && at < h->to;) {
        size_t want = (size_t)(h->to - at) < ((size_t)1 << 20)
                    ? (size_t)(h->to - at) : (size_t)1 << 20;
        ssize_t k = pread(fd, buf, want, at);
        h->failed = k <= 0;
        at += k > 0 ? k : 0;
    }
    /* The columns as the loader allocates them (orri_col_alloc), one
     * write a page: what storing the parsed values costs at least. */
    size_t bytes = h->rows * sizeof(double);
    char **t = calloc(h->cols, sizeof *t);
    h->failed |= !t;
    for (size_t c = 0; t && c < h->cols; c++) {
        if (!(t[c] = orri_col_alloc(bytes))) {
            h->failed = 1;
            break;
        }
        for (size_t i = 0; i < bytes; i += 4096)
            t[c][i] = 1;
    }
    for (size_t c = 0; t && c < h->cols; c++)
        free(t[c]);
    free(t);
    free(buf);
    if (fd >= 0)
        close(fd);
    return NULL;
}

static int floor_time(const char *path, size_t rows, size_t cols)
{
    int fd = open(path, O_RDONLY);
    off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
    if (fd >= 0)
        close(fd);
    if (size < 0) {
        fprintf(stderr, "floor: cannot read %s\n", path);
        return 1;
    }
    struct half h[2] = {{path, 0, size / 2, rows / 2, cols, 0},
                        {path, size / 2, size, rows - rows / 2, cols, 0}};
    pthread_t th;
    double t0 = now();
    if (pthread_create(&th, NULL, floor_half, &h[1]))
        return 1;
    floor_half(&h[0]);
    pthread_join(th, NULL);
    printf("floor_s %.3f\n", now() - t0);
    return h[0].failed || h[1].failed;
}

int main(int argc, char **argv)
{
    const char *huge = getenv("ORR_BENCH_HUGE");
    orri_col_set_huge(huge && !strcmp(huge, "1"));
    if (argc >= 6 && !strcmp(argv[1], "gen"))
        return gen(argv[2], strtol(argv[3], NULL, 10),
                   strtol(argv[4], NULL, 10),
                   (uint64_t)strtoull(argv[5], NULL, 10));
    if (argc >= 5 && !strcmp(argv[1], "floor"))
        return floor_time(argv[2], strtoul(argv[3], NULL, 10),
                          strtoul(argv[4], NULL, 10));
    if (argc < 3) {
        fprintf(stderr, "usage: see the header of bench_train.c\n");
        return 2;
    }
    double secs;
    if (!strcmp(argv[1], "load") && argc > 3 && !strcmp(argv[3], "1"))
        orri_csv_set_parallel_min(SIZE_MAX);
    if (!strcmp(argv[1], "load") && argc > 4 && !strcmp(argv[4], "libcsv"))
        orri_csv_set_fast_path(0);
    if (!strcmp(argv[1], "load") && argc > 4 && !strcmp(argv[4], "read"))
        orri_csv_set_map(0);
    if (!strcmp(argv[1], "load") && argc > 4 && !strcmp(argv[4], "scalar"))
        orri_csv_set_simd(0);
    struct orr_dataset *ds = load(argv[2], &secs);
    printf("rows %zu\ncols %zu\nload_s %.3f\n", ds->view.rows,
           ds->view.cols, secs);
    if (!strcmp(argv[1], "load")) {
        orr_dataset_free(ds);
        return 0;
    }
    struct orr_core *core = NULL;
    struct orr_instance *inst = NULL;
    struct orr_error e = {0};
    struct orr_core_options co = {0};
    char dir[4096];
    if (orr_core_open(&core, &co, &e) ||
        orr_instance_open(core, ORR_KIND_TRAINER, "linear", NULL, &inst,
                          &e) ||
        orr_tempdir(dir, sizeof dir, "bench-fit", &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    struct orr_cfg *p = orr_cfg_new_table();
    orr_cfg_set_num(p, "C", argc > 3 ? strtod(argv[3], NULL) : 1.0,
                    "bench");
    orr_cfg_set_num(p, "tol", 1e-6, "bench");
    struct orr_fit_request req = {
        .size = sizeof req, .train = &ds->view, .params = p,
        .out_dir = dir,
        .threads = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 1,
    };
    struct orr_fit_result res = {.size = sizeof res};
    double t0 = now();
    int rc = inst->backend->ops.trainer.fit(inst->self, &req, &res, &e);
    double fit_s = now() - t0;
    if (rc) {
        fprintf(stderr, "fit: %s\n", e.msg);
        return 1;
    }
    char mpath[4200];
    snprintf(mpath, sizeof mpath, "%s/model.json", dir);
    json_t *mj = json_load_file(mpath, 0, NULL);
    printf("iterations %lld\n",
           (long long)json_integer_value(json_object_get(mj, "iterations")));
    json_decref(mj);
    struct orr_model *m = NULL;
    struct orr_model_manifest mf = {.task = res.task};
    snprintf(mf.flavor, sizeof mf.flavor, "linear");
    size_t *cls = NULL;
    orr_dataset_classes(ds, &mf.classes, &mf.n_classes, &cls, &e);
    free(cls);
    if (orr_model_load(core, "linear", dir, &m, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    if (!strcmp(argv[1], "fit")) {
        json_t *j = NULL;
        if (orr_model_evaluate(m, &mf, ds, &j, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        printf("fit_s %.3f\ntrain_accuracy %.6f\n", fit_s,
               json_number_value(json_object_get(j, "accuracy")));
        json_decref(j);
    } else {
        struct orr_model_info info = {.size = sizeof info};
        orr_model_info(m, &info, &e);
        double *x = NULL;
        orr_dataset_matrix(ds, info.feature_names, info.n_features, &x, &e);
        size_t batches[] = {1, 64, 10000};
        double *y = malloc(10000 * sizeof *y);
        for (size_t b = 0; b < 3; b++) {
            size_t bs = batches[b], done = 0;
            double t1 = now();
            while (now() - t1 < 1.0) {
                for (int k = 0; k < 100; k++) {
                    size_t off = (done % (ds->view.rows - bs + 1));
                    struct orr_matrix xm = {bs, info.n_features,
                                            x + off * info.n_features, 0};
                    struct orr_matrix ym = {0, 0, y, 10000};
                    orr_model_predict(m, &xm, &ym, &e);
                    done += bs;
                }
            }
            printf("predict_batch_%zu_rows_per_s %.0f\n", bs,
                   (double)done / (now() - t1));
        }
        free(x);
        free(y);
    }
    orr_model_release(m);
    orr_model_manifest_clear(&mf);
    orr_tempdir_remove(dir);
    orr_cfg_free(p);
    orr_instance_close(inst);
    orr_core_close(core);
    orr_dataset_free(ds);
    return 0;
}
