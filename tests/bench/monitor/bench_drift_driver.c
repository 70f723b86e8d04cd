/*
 * bench_drift_driver.c - drift on F features of N_REF reference and N_CUR
 * current values (tests/bench/monitor/bench_drift.sh runs it).
 *
 *   bench_drift_driver [F] [N_REF] [N_CUR] [REPEATS]
 *
 * Prints, in ms per feature (best of REPEATS, wall and CPU time):
 *   orrery profile        monitor-drift `profile` of the reference (once,
 *                         at registration; not part of monitoring)
 *   orrery ks / psi       a fresh instance (so the profile file is read and
 *                         parsed) + `analyze` with method ks, resp. psi,
 *                         with threads = 1 and the default 2
 *   orrery wasserstein    the same with the normed Wasserstein distance
 *                         (Evidently's default above 1000 reference rows;
 *                         it sorts the window)
 *   floor ks+psi          the plain C floor of issue 7: radix sort of both
 *                         sides, merge for the KS statistic, 10 reference
 *                         quantile bins for PSI, one thread
 * The plugin is found on ORRERY_PLUGIN_PATH by the real registry.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/cfg.h"
#include "plugin/registry.h"

static uint64_t rng;

static double unif(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Best of the repeats, wall and CPU time: the machine may be shared, and
 * the minimum is the least disturbed run. */
struct best {
    double wall, cpu;
};

static void keep_best(struct best *b, double wall, double cpu)
{
    if (wall < b->wall)
        b->wall = wall;
    if (cpu < b->cpu)
        b->cpu = cpu;
}

/* --- the plain C floor ---------------------------------------------------- */

static uint64_t key_of(double x)
{
    uint64_t u;
    memcpy(&u, &x, 8);
    return (u >> 63) ? ~u : (u | 0x8000000000000000ull);
}

static double value_of(uint64_t k)
{
    uint64_t u = (k >> 63) ? (k & 0x7fffffffffffffffull) : ~k;
    double x;
    memcpy(&x, &u, 8);
    return x;
}

/* LSD radix, 8 passes of 8 bits: the textbook version. */
static void floor_sort(double *a, size_t n, uint64_t *k, uint64_t *t)
{
    for (size_t i = 0; i < n; i++)
        k[i] = key_of(a[i]);
    for (unsigned p = 0; p < 8; p++) {
        size_t c[257] = {0};
        for (size_t i = 0; i < n; i++)
            c[((k[i] >> (8 * p)) & 255) + 1]++;
        for (int b = 0; b < 256; b++)
            c[b + 1] += c[b];
        for (size_t i = 0; i < n; i++)
            t[c[(k[i] >> (8 * p)) & 255]++] = k[i];
        uint64_t *s = k;
        k = t;
        t = s;
    }
    for (size_t i = 0; i < n; i++)
        a[i] = value_of(k[i]);
}

static double floor_ks_psi(const double *ref, const double *cur, size_t n1,
                           size_t n2, double *psi_out)
{
    double *a = malloc(n1 * 8), *b = malloc(n2 * 8);
    size_t nm = n1 > n2 ? n1 : n2;
    uint64_t *k = malloc(nm * 8), *t = malloc(nm * 8);
    memcpy(a, ref, n1 * 8);
    memcpy(b, cur, n2 * 8);
    floor_sort(a, n1, k, t);
    floor_sort(b, n2, k, t);
    size_t i = 0, j = 0;
    double d = 0;
    while (i < n1 && j < n2) {
        double x = a[i] <= b[j] ? a[i] : b[j];
        while (i < n1 && a[i] == x)
            i++;
        while (j < n2 && b[j] == x)
            j++;
        double diff = fabs((double)i / (double)n1 - (double)j / (double)n2);
        if (diff > d)
            d = diff;
    }
    /* PSI over 10 reference quantile bins. */
    double psi = 0;
    size_t pr = 0, pc = 0;
    for (int q = 1; q <= 10; q++) {
        size_t ir = q == 10 ? n1 : (size_t)((double)n1 * q / 10);
        double e = q == 10 ? INFINITY : a[ir];
        size_t lo = pc, hi = n2;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (b[mid] < e)
                lo = mid + 1;
            else
                hi = mid;
        }
        double r = (double)(ir - pr) / (double)n1 + 1e-4;
        double c = (double)(lo - pc) / (double)n2 + 1e-4;
        psi += (r - c) * log(r / c);
        pr = ir;
        pc = lo;
    }
    *psi_out = psi;
    free(a);
    free(b);
    free(k);
    free(t);
    return d;
}

/* --- Orrery --------------------------------------------------------------- */

static const struct orr_backend *be;

static int sink_count(void *ctx, const struct orr_monitor_value *v)
{
    (void)v;
    ++*(size_t *)ctx;
    return 0;
}

static void run_analyze(const struct orr_table *cur, const char *profile,
                        const char *method, int threads, size_t *values,
                        struct best *b)
{
    struct orr_cfg *cfg = orr_cfg_new_table();
    struct orr_error e = {0};
    orr_cfg_set_str(cfg, "method", method, "bench");
    orr_cfg_set_int(cfg, "threads", threads, "bench");
    double t0 = now_ms(), c0 = cpu_ms();
    void *self = calloc(1, be->self_size);
    if (be->ops.monitor.open(self, cfg, &e)) {
        fprintf(stderr, "open: %s\n", e.msg);
        exit(1);
    }
    struct orr_monitor_window w = {0};
    w.size = sizeof w;
    w.reference_profile = profile;
    w.current = cur;
    struct orr_monitor_sink sink = {values, sink_count};
    *values = 0;
    if (be->ops.monitor.analyze(self, &w, &sink, &e)) {
        fprintf(stderr, "analyze: %s\n", e.msg);
        exit(1);
    }
    be->ops.monitor.close(self);
    free(self);
    keep_best(b, now_ms() - t0, cpu_ms() - c0);
    orr_cfg_free(cfg);
}

int main(int argc, char **argv)
{
    size_t F = argc > 1 ? strtoul(argv[1], NULL, 10) : 20;
    size_t n1 = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
    size_t n2 = argc > 3 ? strtoul(argv[3], NULL, 10) : 1000000;
    int reps = argc > 4 ? (int)strtol(argv[4], NULL, 10) : 3;
    struct orr_error e = {0};
    struct orr_registry *reg = NULL;
    const char *dir = getenv("ORRERY_PLUGIN_PATH");
    if (F < 1 || F > 64 || !n1 || !n2 || reps < 1 || !dir) {
        fprintf(stderr, "usage: bench_drift_driver [F<=64] [N_REF] [N_CUR] "
                        "[REPEATS] (ORRERY_PLUGIN_PATH set)\n");
        return 2;
    }
    if (orr_registry_new(&reg, &dir, 1, &e) ||
        orr_registry_find(reg, ORR_KIND_MONITOR, "drift", &be, &e)) {
        fprintf(stderr, "drift plugin: %s\n", e.msg);
        return 1;
    }
    /* Data: half the features drift a little. */
    double *ref[64], *cur[64];
    struct orr_column rc[64], cc[64];
    char names[64][16];
    rng = 42;
    for (size_t f = 0; f < F; f++) {
        ref[f] = malloc(n1 * 8);
        cur[f] = malloc(n2 * 8);
        for (size_t i = 0; i < n1; i++)
            ref[f][i] = sqrt(-2 * log(unif())) * cos(6.283185307179586 *
                                                     unif()) * (1 + f);
        for (size_t i = 0; i < n2; i++)
            cur[f][i] = (sqrt(-2 * log(unif())) *
                             cos(6.283185307179586 * unif()) +
                         (f % 2 ? 0.01 : 0)) * (1 + f);
        snprintf(names[f], sizeof names[f], "f%zu", f);
        memset(&rc[f], 0, sizeof rc[f]);
        rc[f].size = sizeof rc[f];
        rc[f].name = names[f];
        rc[f].type = ORR_COL_F64;
        rc[f].data = ref[f];
        cc[f] = rc[f];
        cc[f].data = cur[f];
    }
    struct orr_table rt = {sizeof rt, n1, F, rc, ORR_NO_TARGET, NULL};
    struct orr_table ct = {sizeof ct, n2, F, cc, ORR_NO_TARGET, NULL};
    char profile[] = "/tmp/orr-bench-drift-XXXXXX";
    int fd = mkstemp(profile);
    if (fd < 0)
        return 1;
    close(fd);

    struct orr_cfg *pcfg = orr_cfg_new_table();
    void *self = calloc(1, be->self_size);
    be->ops.monitor.open(self, pcfg, &e);
    double t0 = now_ms();
    if (be->ops.monitor.profile(self, &rt, NULL, profile, &e)) {
        fprintf(stderr, "profile: %s\n", e.msg);
        return 1;
    }
    double tprof = now_ms() - t0;
    be->ops.monitor.close(self);
    free(self);
    orr_cfg_free(pcfg);
    FILE *pf = fopen(profile, "rb");
    fseek(pf, 0, SEEK_END);
    long psize = ftell(pf);
    fclose(pf);

    printf("features %zu, reference %zu, current %zu, best of %d\n", F,
           n1, n2, reps);
    printf("%-30s %12s %12s\n", "ms per feature", "wall", "cpu");
    printf("%-30s %12.1f %12s  (profile %.0f KiB/feature)\n",
           "orrery profile (registration)", tprof / (double)F, "",
           (double)psize / 1024.0 / (double)F);
    size_t nv = 0;
    struct best ks1 = {INFINITY, INFINITY}, psi1 = ks1, ks2 = ks1,
                psi2 = ks1, fl = ks1, rd = ks1, wd1 = ks1;
    /* The reference side alone: a fresh instance reading the profile for
     * a 100-row window. */
    struct orr_table tiny = ct;
    tiny.rows = 100;
    for (int r = 0; r < reps; r++)
        run_analyze(&tiny, profile, "ks", 1, &nv, &rd);
    printf("%-30s %12.2f %12.2f  (reference side: profile read + parse)\n",
           "orrery 100-row window", rd.wall / (double)F, rd.cpu / (double)F);
    double psi = 0, d = 0;
    for (int r = 0; r < reps; r++) {
        run_analyze(&ct, profile, "ks", 1, &nv, &ks1);
        run_analyze(&ct, profile, "psi", 1, &nv, &psi1);
        run_analyze(&ct, profile, "ks", 2, &nv, &ks2);
        run_analyze(&ct, profile, "psi", 2, &nv, &psi2);
        run_analyze(&ct, profile, "wasserstein", 1, &nv, &wd1);
        t0 = now_ms();
        double c0 = cpu_ms();
        for (size_t f = 0; f < F; f++)
            d += floor_ks_psi(ref[f], cur[f], n1, n2, &psi);
        keep_best(&fl, now_ms() - t0, cpu_ms() - c0);
    }
    double dF = (double)F;
#define ROW(label, w, c)                                                     \
    printf("%-30s %12.1f %12.1f\n", label, (w) / dF, (c) / dF)
    ROW("orrery ks (1 thread)", ks1.wall, ks1.cpu);
    ROW("orrery psi (1 thread)", psi1.wall, psi1.cpu);
    ROW("orrery ks+psi (1 thread)", ks1.wall + psi1.wall,
        ks1.cpu + psi1.cpu);
    ROW("orrery ks+psi (2 threads)", ks2.wall + psi2.wall,
        ks2.cpu + psi2.cpu);
    ROW("floor ks+psi (C, 1 thread)", fl.wall, fl.cpu);
    ROW("orrery wasserstein (1 thread)", wd1.wall, wd1.cpu);
#undef ROW
    printf("orrery ks+psi, all %zu features: %.2f s (1 thread), %.2f s "
           "(2 threads); floor %.2f s  (check %.3g)\n", F,
           (ks1.wall + psi1.wall) / 1000, (ks2.wall + psi2.wall) / 1000,
           fl.wall / 1000, d + psi);
    remove(profile);
    for (size_t f = 0; f < F; f++) {
        free(ref[f]);
        free(cur[f]);
    }
    orr_registry_free(reg);
    return 0;
}
