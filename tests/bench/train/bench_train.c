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
 *                                         parses a byte: read the file
 *                                         mapped and write a table of COLS
 *                                         columns of ROWS doubles, as the
 *                                         loader does (see floor_half);
 *                                         a 5th argument `table`: the
 *                                         table alone, the file unread
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
#include <sys/mman.h>
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

/*
 * The floor: what any loader of this file into a table of doubles pays
 * before it parses a byte, done the loader's way (csv.c) - the text
 * mapped and populated 8 MiB ahead, released behind; each MiB of it read
 * through (its line breaks counted); the columns allocated as the loader
 * allocates them, faulted in a chunk's rows ahead with
 * MADV_POPULATE_WRITE, and every value of every row written.  Two
 * threads, half the file each.  A loader's time over this is its
 * parsing; this over `wc -l` is the table's memory and the mapping.
 */
#ifndef MADV_POPULATE_READ              /* Linux 5.14; glibc < 2.35 */
#define MADV_POPULATE_READ  22
#endif
#define FLOOR_CHUNK  ((size_t)1 << 20)
#define FLOOR_WINDOW ((size_t)8 << 20)

struct half {
    int         fd;
    off_t       from, to;
    size_t      rows, cols;     /* the table's share of this half         */
    size_t      lines;          /* line breaks read                       */
    double    **table;          /* the columns written                    */
    int         table_only;     /* no text: rows spread evenly on it      */
    int         failed;
};

/* Line breaks in [p, e), every byte read, as fast as `wc -l` reads them
 * (its AVX2 loop; memchr a line was slower, a call per line). */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("avx2,popcnt")))
static size_t count_lines(const char *p, const char *e)
{
    size_t n = 0;
    const __m256i lf = _mm256_set1_epi8('\n');
    for (; e - p >= 64; p += 64) {
        __builtin_prefetch(p + 2048);
        __m256i a = _mm256_loadu_si256((const __m256i *)p);
        __m256i b = _mm256_loadu_si256((const __m256i *)(p + 32));
        n += (size_t)__builtin_popcount(
                 (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, lf))) +
             (size_t)__builtin_popcount(
                 (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, lf)));
    }
    for (; p < e; p++)
        n += *p == '\n';
    return n;
}
#else
static size_t count_lines(const char *p, const char *e)
{
    size_t n = 0;
    for (; (p = memchr(p, '\n', (size_t)(e - p))); p++)
        n++;
    return n;
}
#endif

static void *floor_half(void *arg)
{
    struct half *h = arg;
    off_t base = h->from & ~(off_t)4095;
    size_t len = (size_t)(h->to - base), at = (size_t)(h->from - base);
    char *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, h->fd, base);
    double **t = calloc(h->cols, sizeof *t);
    h->failed = map == MAP_FAILED || !t;
    for (size_t c = 0; !h->failed && c < h->cols; c++)
        h->failed = !(t[c] = orri_col_alloc(h->rows * sizeof **t));
    size_t ready = 0, done = 0, row = 0;
    while (!h->failed && at < len) {
        size_t end = len - at < FLOOR_CHUNK ? len : at + FLOOR_CHUNK;
        if (end > ready && !h->table_only) {
            size_t from = (ready > at ? ready : at) & ~(size_t)4095;
            ready = len - end < FLOOR_WINDOW ? len : end + FLOOR_WINDOW;
            (void)madvise(map + from, ready - from, MADV_POPULATE_READ);
        }
        size_t k = h->table_only ?
            (h->rows * end + len - 1) / len - (h->rows * at + len - 1) / len :
            count_lines(map + at, map + end);
        h->lines += k;
        if (k > h->rows - row)
            k = h->rows - row;
        double v = (double)h->lines;    /* no conversion a value */
        for (size_t c = 0; c < h->cols; c++)
            orri_col_populate(t[c] + row, t[c] + row + k);
        /* 8 rows of every column in turn, a cache line each, as the
         * loader writes them (csv_avx512.c, unstage8) */
        for (size_t i = row; i < row + k; i += 8) {
            size_t n = row + k - i < 8 ? row + k - i : 8;
            for (size_t c = 0; c < h->cols; c++)
                for (size_t j = 0; j < n; j++)
                    t[c][i + j] = v;
        }
        row += k;
        at = end;
        if (at - done >= FLOOR_WINDOW && !h->table_only) {
            size_t to = at - at % FLOOR_WINDOW;
            (void)madvise(map + done, to - done, MADV_DONTNEED);
            done = to;
        }
    }
    h->table = t;               /* freed untimed: a loader returns it */
    if (map != MAP_FAILED)
        munmap(map, len);
    return NULL;
}

static int floor_time(const char *path, size_t rows, size_t cols,
                      int table_only)
{
    int fd = open(path, O_RDONLY);
    off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
    if (size <= 0) {
        fprintf(stderr, "floor: cannot read %s\n", path);
        if (fd >= 0)
            close(fd);
        return 1;
    }
    struct half h[2] = {
        {fd, 0, size / 2, rows / 2, cols, 0, NULL, table_only, 0},
        {fd, size / 2, size, rows - rows / 2, cols, 0, NULL, table_only, 0}};
    pthread_t th;
    double t0 = now();
    if (pthread_create(&th, NULL, floor_half, &h[1])) {
        close(fd);
        return 1;
    }
    floor_half(&h[0]);
    pthread_join(th, NULL);
    double secs = now() - t0;
    close(fd);
    for (int i = 0; i < 2; i++) {
        for (size_t c = 0; h[i].table && c < cols; c++)
            free(h[i].table[c]);
        free(h[i].table);
    }
    printf("lines %zu\nfloor_s %.3f\n", h[0].lines + h[1].lines, secs);
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
                          strtoul(argv[4], NULL, 10),
                          argc > 5 && !strcmp(argv[5], "table"));
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
