/*
 * test_drift.c - monitor-drift through the real loader: the plugin is
 * found on ORRERY_PLUGIN_PATH by the registry (as the core finds the
 * site's default monitor "drift"), opened with a configuration tree, and
 * its profile/analyze are checked against SciPy 1.10 and NumPy versions
 * of Evidently's formulas (drift_ref.py run by /usr/bin/python3), on
 * synthetic fixtures and on real data (tests/drift/data: penguins and
 * Seattle weather), plus bad input and overrides.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "config/cfg.h"
#include "data/table.h"
#include "plugin/registry.h"
#include "test.h"

static char tmpdir[256];
static struct orr_registry *reg;
static const struct orr_backend *be;

/* --- plumbing ------------------------------------------------------------ */

static const struct orr_backend *backend(void)
{
    struct orr_error e = {0};
    if (be)
        return be;
    const char *dir = getenv("ORRERY_PLUGIN_PATH");
    CHECK(dir != NULL);
    if (!reg && orr_registry_new(&reg, &dir, dir ? 1 : 0, &e) != ORR_OK) {
        fprintf(stderr, "registry: %s\n", e.msg);
        return NULL;
    }
    int rc = orr_registry_find(reg, ORR_KIND_MONITOR, "drift", &be, &e);
    CHECK_INT(rc, ORR_OK);
    if (rc)
        fprintf(stderr, "find drift: %s\n", e.msg);
    return be;
}

static void *open_inst(const struct orr_cfg *cfg)
{
    struct orr_error e = {0};
    const struct orr_backend *b = backend();
    if (!b)
        return NULL;
    void *self = calloc(1, b->self_size);
    int rc = b->ops.monitor.open(self, cfg, &e);
    if (rc) {
        fprintf(stderr, "open: %s\n", e.msg);
        b->ops.monitor.close(self);
        free(self);
        return NULL;
    }
    return self;
}

static void close_inst(void *self)
{
    if (!self)
        return;
    be->ops.monitor.close(self);
    free(self);
}

/* A small table builder. */
struct tab {
    struct orr_column cols[16];
    struct orr_table  t;
};

static void tab_init(struct tab *t, size_t rows)
{
    memset(t, 0, sizeof *t);
    t->t.size = sizeof t->t;
    t->t.rows = rows;
    t->t.columns = t->cols;
    t->t.target = ORR_NO_TARGET;
}

static void tab_num(struct tab *t, const char *name, const double *v)
{
    struct orr_column *c = &t->cols[t->t.cols++];
    c->size = sizeof *c;
    c->name = name;
    c->type = ORR_COL_F64;
    c->data = v;
}

static void tab_cat(struct tab *t, const char *name, const int32_t *codes,
                    const char *const *dict, size_t n)
{
    struct orr_column *c = &t->cols[t->t.cols++];
    c->size = sizeof *c;
    c->name = name;
    c->type = ORR_COL_CATEGORY;
    c->data = codes;
    c->dict = dict;
    c->dict_len = n;
}

/* What the sink received. */
struct rec {
    char   feature[64], metric[32], method[32];
    double value, threshold;
    int    alert;
};

struct got {
    struct rec r[512];
    size_t     n;
};

static int collect(void *ctx, const struct orr_monitor_value *v)
{
    struct got *g = ctx;
    if (g->n >= sizeof g->r / sizeof g->r[0])
        return 1;
    struct rec *r = &g->r[g->n++];
    snprintf(r->feature, sizeof r->feature, "%s",
             v->feature ? v->feature : "");
    snprintf(r->metric, sizeof r->metric, "%s", v->metric);
    snprintf(r->method, sizeof r->method, "%s", v->method ? v->method : "");
    r->value = v->value;
    r->threshold = v->threshold;
    r->alert = v->alert;
    return 0;
}

static const struct rec *find(const struct got *g, const char *feature,
                              const char *metric)
{
    for (size_t i = 0; i < g->n; i++)
        if (!strcmp(g->r[i].feature, feature ? feature : "") &&
            !strcmp(g->r[i].metric, metric))
            return &g->r[i];
    return NULL;
}

static double val(const struct got *g, const char *feature,
                  const char *metric)
{
    const struct rec *r = find(g, feature, metric);
    if (!r)
        fprintf(stderr, "  no %s/%s\n", feature ? feature : "-", metric);
    return r ? r->value : NAN;
}

static const char *meth(const struct got *g, const char *feature)
{
    const struct rec *r = find(g, feature, "drift_score");
    return r ? r->method : "(none)";
}

static const char *method_of(const struct got *g, const char *feature,
                             const char *metric)
{
    const struct rec *r = find(g, feature, metric);
    return r ? r->method : "(none)";
}

static double thr_of(const struct got *g, const char *feature,
                     const char *metric)
{
    const struct rec *r = find(g, feature, metric);
    return r ? r->threshold : NAN;
}

static int alert_of(const struct got *g, const char *feature,
                    const char *metric)
{
    const struct rec *r = find(g, feature, metric);
    return r ? r->alert : -1;
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    orr_registry_free(reg);
}

/* A scratch directory for profiles and fixtures, removed at exit. */
static void path_in_tmp(char *out, size_t cap, const char *name)
{
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/orr-drift-XXXXXX");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            exit(1);
        }
        atexit(teardown);
    }
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static int do_profile(void *self, const struct orr_table *t,
                      const struct orr_matrix *pred, const char *name)
{
    struct orr_error e = {0};
    char p[512];
    path_in_tmp(p, sizeof p, name);
    int rc = be->ops.monitor.profile(self, t, pred, p, &e);
    if (rc)
        fprintf(stderr, "profile: %s\n", e.msg);
    return rc;
}

static int do_analyze(void *self, const char *profile,
                      const struct orr_table *cur,
                      const struct orr_matrix *pred, const double *labels,
                      const struct orr_cfg *thr, struct got *g,
                      struct orr_error *e)
{
    char p[512];
    path_in_tmp(p, sizeof p, profile);
    struct orr_monitor_window w = {0};
    w.size = sizeof w;
    w.model = "m";
    w.version = "1";
    w.reference_profile = p;
    w.current = cur;
    w.predictions = pred;
    w.labels = labels;
    w.thresholds = thr;
    struct orr_monitor_sink sink = {g, collect};
    g->n = 0;
    return be->ops.monitor.analyze(self, &w, &sink, e);
}

/* splitmix64 and Box-Muller: fixtures identical on every platform. */
static uint64_t rng_state;

static double unif(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(void)
{
    return sqrt(-2 * log(unif())) * cos(6.283185307179586 * unif());
}

static double *normals(size_t n, double mu, double sd, uint64_t seed)
{
    double *v = malloc(n * sizeof *v);
    rng_state = seed;
    for (size_t i = 0; i < n; i++)
        v[i] = mu + sd * normal();
    return v;
}

/* SciPy's numbers for two samples (drift_ref.py). */
struct pyref {
    double ks_d, ks_p, ks_p_asymp, wd_norm, psi, js, chi_stat, chi_p, z_p;
    int    ok;
};

static void write_nums(const char *path, const double *v, size_t n)
{
    FILE *f = fopen(path, "w");
    for (size_t i = 0; f && i < n; i++)
        fprintf(f, "%.17g\n", v[i]);
    if (f)
        fclose(f);
}

static void write_labels(const char *path, const int32_t *codes,
                         const char *const *dict, size_t n)
{
    FILE *f = fopen(path, "w");
    for (size_t i = 0; f && i < n; i++)
        if (codes[i] >= 0)
            fprintf(f, "%s\n", dict[codes[i]]);
    if (f)
        fclose(f);
}

static struct pyref run_py(const char *kind)
{
    struct pyref r;
    char cmd[2048], line[256], rp[512], cp[512];
    memset(&r, 0, sizeof r);
    path_in_tmp(rp, sizeof rp, "ref.txt");
    path_in_tmp(cp, sizeof cp, "cur.txt");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %s %s",
             ORR_DRIFT_REF_PY, kind, rp, cp);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    while (p && fgets(line, sizeof line, p)) {
        char key[64];
        double x;
        if (sscanf(line, "%63s %lf", key, &x) != 2)
            continue;
#define K(name) if (!strcmp(key, #name)) r.name = x
        K(ks_d); K(ks_p); K(ks_p_asymp); K(wd_norm); K(psi); K(js);
        K(chi_stat); K(chi_p); K(z_p);
#undef K
        r.ok = 1;
    }
    if (p)
        CHECK_INT(pclose(p), 0);
    CHECK(r.ok);
    return r;
}

static struct pyref py_numeric(const double *ref, size_t n1,
                               const double *cur, size_t n2)
{
    char rp[512], cp[512];
    path_in_tmp(rp, sizeof rp, "ref.txt");
    path_in_tmp(cp, sizeof cp, "cur.txt");
    write_nums(rp, ref, n1);
    write_nums(cp, cur, n2);
    return run_py("numeric");
}

/* Relative agreement. */
#define CHECK_REL(a, b, tol)                                                 \
    do {                                                                     \
        double ra_ = (a), rb_ = (b);                                         \
        double rs_ = fabs(rb_) > 1e-300 ? fabs(rb_) : 1e-300;                \
        if (!(fabs(ra_ - rb_) / rs_ <= (tol))) {                             \
            fprintf(stderr, "%s:%d: %s == %.17g, expected %.17g (rel %g)\n", \
                    __FILE__, __LINE__, #a, ra_, rb_,                        \
                    fabs(ra_ - rb_) / rs_);                                  \
            test_failed_ = 1;                                                \
        }                                                                    \
    } while (0)

static struct orr_cfg *cfg_method(const char *method)
{
    struct orr_cfg *c = orr_cfg_new_table();
    if (method)
        orr_cfg_set_str(c, "method", method, "test");
    return c;
}

/* Analyse one numeric column x (ref vs cur) with `method`. */
static int analyze_one(const double *ref, size_t n1, const double *cur,
                       size_t n2, const char *method, struct orr_cfg *extra,
                       struct got *g)
{
    struct orr_cfg *cfg = extra ? extra : cfg_method(method);
    if (extra && method)
        orr_cfg_set_str(cfg, "method", method, "test");
    void *self = open_inst(cfg);
    struct tab rt, ct;
    struct orr_error e = {0};
    int rc = -1;
    if (!self)
        goto out;
    tab_init(&rt, n1);
    tab_num(&rt, "x", ref);
    tab_init(&ct, n2);
    tab_num(&ct, "x", cur);
    if (do_profile(self, &rt.t, NULL, "one.json"))
        goto out;
    rc = do_analyze(self, "one.json", &ct.t, NULL, NULL, NULL, g, &e);
    if (rc)
        fprintf(stderr, "analyze: %s\n", e.msg);
out:
    close_inst(self);
    orr_cfg_free(cfg);
    return rc;
}

/* --- profile ------------------------------------------------------------- */

static void test_profile_format(void)
{
    enum { N = 200 };
    double x[N], y[N], pv[N];
    int32_t c[N], t[N];
    const char *cd[] = {"red", "green", "blue"};
    const char *td[] = {"no", "yes"};
    rng_state = 7;
    for (int i = 0; i < N; i++) {
        x[i] = i % 10 == 0 ? NAN : normal();
        y[i] = i % 50 == 0 ? INFINITY : (double)(i % 7);
        c[i] = i % 17 == 0 ? -1 : i % 3;
        t[i] = i % 2;
        pv[i] = unif();
    }
    struct tab tb;
    tab_init(&tb, N);
    tab_num(&tb, "x", x);
    tab_num(&tb, "y", y);
    tab_cat(&tb, "colour", c, cd, 3);
    tab_cat(&tb, "label", t, td, 2);
    tb.t.target = 3;
    /* Predictions on a held-out set of another size. */
    struct orr_matrix pm = {N / 2, 1, pv, N / 2};
    void *self = open_inst(NULL);
    CHECK(self != NULL);
    if (!self)
        return;
    CHECK_INT(do_profile(self, &tb.t, &pm, "fmt.json"), ORR_OK);
    char p[512];
    path_in_tmp(p, sizeof p, "fmt.json");
    json_error_t je;
    json_t *root = json_load_file(p, 0, &je);
    CHECK(root != NULL);
    CHECK_STR(json_string_value(json_object_get(root, "format")), "drift/1");
    CHECK_INT(json_integer_value(json_object_get(root, "rows")), N);
    json_t *feats = json_object_get(root, "features");
    CHECK_INT(json_array_size(feats), 3);   /* the target is not a feature */
    json_t *fx = json_array_get(feats, 0);
    CHECK_STR(json_string_value(json_object_get(fx, "name")), "x");
    CHECK_STR(json_string_value(json_object_get(fx, "type")), "numeric");
    CHECK_INT(json_integer_value(json_object_get(fx, "missing")), 20);
    json_t *h = json_object_get(fx, "histogram");
    size_t ne = json_array_size(json_object_get(h, "edges"));
    size_t nc = json_array_size(json_object_get(h, "counts"));
    CHECK_INT(ne, nc + 1);
    json_int_t sum = 0;
    for (size_t i = 0; i < nc; i++)
        sum += json_integer_value(
            json_array_get(json_object_get(h, "counts"), i));
    CHECK_INT(sum, N - 20);
    CHECK_NEAR(json_real_value(json_array_get(json_object_get(h, "edges"),
                                              0)),
               json_real_value(json_object_get(fx, "min")), 0);
    CHECK(json_object_get(json_object_get(fx, "quantiles"), "0.5") != NULL);
    CHECK(json_is_true(json_object_get(json_object_get(fx, "summary"),
                                       "exact")));
    /* inf counts as missing, like NaN */
    json_t *fy = json_array_get(feats, 1);
    CHECK_INT(json_integer_value(json_object_get(fy, "missing")), 4);
    CHECK_INT(json_integer_value(json_object_get(fy, "distinct")), 7);
    json_t *fc = json_array_get(feats, 2);
    CHECK_STR(json_string_value(json_object_get(fc, "type")), "categorical");
    json_t *cats = json_object_get(fc, "categories");
    CHECK_INT(json_integer_value(json_object_get(cats, "red")) +
                  json_integer_value(json_object_get(cats, "green")) +
                  json_integer_value(json_object_get(cats, "blue")),
              N - 12);
    json_t *tg = json_object_get(root, "target");
    CHECK_STR(json_string_value(json_object_get(tg, "name")), "label");
    CHECK_STR(json_string_value(json_object_get(tg, "task")),
              "classification");
    CHECK_INT(json_array_size(json_object_get(tg, "classes")), 2);
    json_t *pr = json_array_get(json_object_get(root, "predictions"), 0);
    CHECK_STR(json_string_value(json_object_get(pr, "name")), "prediction");
    CHECK(json_object_get(pr, "histogram") != NULL);
    CHECK_INT(json_integer_value(json_object_get(pr, "count")), N / 2);
    json_decref(root);
    close_inst(self);
}

/* A large reference stays small: the approximate summary. */
static void test_profile_bounded_and_approx(void)
{
    enum { N1 = 200000, N2 = 5000 };
    double *ref = normals(N1, 0, 1, 11), *cur = normals(N2, 0.1, 1.2, 12);
    struct got *g = calloc(1, sizeof *g);
    CHECK_INT(analyze_one(ref, N1, cur, N2, "ks", NULL, g), ORR_OK);
    char p[512];
    struct stat st;
    path_in_tmp(p, sizeof p, "one.json");
    CHECK(stat(p, &st) == 0);
    CHECK(st.st_size < 160 * 1024);     /* 4097 knots, one feature */
    struct pyref py = py_numeric(ref, N1, cur, N2);
    /* Documented bound: |D - D_exact| <= 1/(K-1) + 1/n. */
    double bound = 1.0 / 4096 + 1.0 / N1;
    CHECK_NEAR(val(g, "x", "statistic"), py.ks_d, bound);
    CHECK_STR(method_of(g, "x", "statistic"), "ks_asymp");
    CHECK_INT(alert_of(g, "x", "drift_score"), 1);
    CHECK_INT(analyze_one(ref, N1, cur, N2, "wasserstein", NULL, g), ORR_OK);
    /* |W - W_exact| <= (1/(K-1) + 1/n) (max - min) / std */
    CHECK_NEAR(val(g, "x", "drift_score"), py.wd_norm, bound * 10);
    CHECK_NEAR(val(g, "x", "drift_score"), py.wd_norm, 2e-3);
    CHECK_INT(analyze_one(ref, N1, cur, N2, "psi", NULL, g), ORR_OK);
    CHECK_NEAR(val(g, "x", "drift_score"), py.psi, 1e-3);
    CHECK_INT(analyze_one(ref, N1, cur, N2, "jensenshannon", NULL, g),
              ORR_OK);
    CHECK_NEAR(val(g, "x", "drift_score"), py.js, 1e-3);
    free(ref);
    free(cur);
    free(g);
}

/* --- agreement with SciPy ------------------------------------------------- */

static void check_ks(size_t n1, size_t n2, double shift, int round_to,
                     uint64_t seed, const char *mode)
{
    double *ref = normals(n1, 0, 1, seed), *cur = normals(n2, shift, 1,
                                                          seed + 1);
    if (round_to)   /* ties */
        for (size_t i = 0; i < n1 + n2; i++) {
            double *v = i < n1 ? &ref[i] : &cur[i - n1];
            *v = round(*v * round_to) / round_to;
        }
    struct got *g = calloc(1, sizeof *g);
    struct orr_cfg *c = cfg_method(NULL);
    orr_cfg_set_int(c, "exact_max", 50000, "test");
    CHECK_INT(analyze_one(ref, n1, cur, n2, "ks", c, g), ORR_OK);
    struct pyref py = py_numeric(ref, n1, cur, n2);
    printf("  ks %zu vs %zu: D %.6g p %.6g (SciPy %.6g, rel. diff %.1e)\n",
           n1, n2, val(g, "x", "statistic"), val(g, "x", "p_value"),
           py.ks_p, fabs(val(g, "x", "p_value") - py.ks_p) / py.ks_p);
    CHECK_STR(meth(g, "x"), "ks");
    CHECK_STR(method_of(g, "x", "statistic"), mode);
    CHECK_REL(val(g, "x", "statistic"), py.ks_d, 1e-12);
    /* Exact mode gives SciPy's bits; the asymptotic sums differ from
     * SciPy's in rounding only (seen: <= 4e-12). */
    CHECK_REL(val(g, "x", "p_value"), py.ks_p, 1e-9);
    CHECK_INT(alert_of(g, "x", "drift_score"), py.ks_p <= 0.05);
    free(ref);
    free(cur);
    free(g);
}

static void test_ks_exact(void)
{
    check_ks(200, 150, 0.3, 0, 21, "ks_exact");    /* inside method   */
    check_ks(500, 500, 0.15, 0, 23, "ks_exact");   /* square formula  */
    check_ks(300, 120, 0.0, 10, 25, "ks_exact");   /* ties            */
    check_ks(1000, 37, 0.5, 0, 27, "ks_exact");
}

static void test_ks_asymp(void)
{
    /* The regimes of SciPy's kstwo.sf (n = round(n1 n2 / (n1 + n2))):
     * n D^2 < 2.2 with n x^1.5 > 1.4: Pelz-Good; n D^2 >= 2.2: Smirnov's
     * one-sided sum; n <= 140: Durbin's matrix (SciPy: Durbin or
     * Pomeranz, both exact). */
    check_ks(12000, 11000, 0.0, 0, 37, "ks_asymp");    /* Pelz-Good  */
    check_ks(12000, 11000, 0.02, 0, 31, "ks_asymp");   /* smirnov    */
    check_ks(20000, 15000, 0.06, 0, 33, "ks_asymp");   /* smirnov    */
    check_ks(15000, 100, 0.1, 0, 35, "ks_asymp");      /* Durbin     */
}

static void test_distances_vs_scipy(void)
{
    enum { N1 = 800, N2 = 600 };
    double *ref = normals(N1, 0, 1, 41), *cur = normals(N2, 0.2, 1.1, 42);
    struct got *g = calloc(1, sizeof *g);
    struct pyref py = py_numeric(ref, N1, cur, N2);
    CHECK_INT(analyze_one(ref, N1, cur, N2, "wasserstein", NULL, g), ORR_OK);
    CHECK_REL(val(g, "x", "drift_score"), py.wd_norm, 1e-9);
    CHECK_INT(analyze_one(ref, N1, cur, N2, "psi", NULL, g), ORR_OK);
    CHECK_REL(val(g, "x", "drift_score"), py.psi, 1e-9);
    CHECK_INT(analyze_one(ref, N1, cur, N2, "jensenshannon", NULL, g),
              ORR_OK);
    CHECK_REL(val(g, "x", "drift_score"), py.js, 1e-9);
    printf("  wd %.6g psi %.6g js %.6g\n", py.wd_norm, py.psi, py.js);
    /* Discrete values (<= 20 distinct): per-value frequencies. */
    for (size_t i = 0; i < N1; i++)
        ref[i] = floor(fabs(ref[i]) * 4);
    for (size_t i = 0; i < N2; i++)
        cur[i] = floor(fabs(cur[i]) * 4);
    py = py_numeric(ref, N1, cur, N2);
    CHECK_INT(analyze_one(ref, N1, cur, N2, "psi", NULL, g), ORR_OK);
    CHECK_REL(val(g, "x", "drift_score"), py.psi, 1e-9);
    CHECK_INT(analyze_one(ref, N1, cur, N2, "jensenshannon", NULL, g),
              ORR_OK);
    CHECK_REL(val(g, "x", "drift_score"), py.js, 1e-9);
    CHECK_INT(analyze_one(ref, N1, cur, N2, "chisquare", NULL, g), ORR_OK);
    CHECK_REL(val(g, "x", "p_value"), py.chi_p, 1e-9);
    CHECK_REL(val(g, "x", "statistic"), py.chi_stat, 1e-9);
    CHECK_INT(analyze_one(ref, N1, cur, N2, "z", NULL, g), ORR_OK);
    CHECK_REL(val(g, "x", "p_value"), py.z_p, 1e-9);
    free(ref);
    free(cur);
    free(g);
}

/* --- real data ---------------------------------------------------------- */

static struct orr_dataset *load(const char *file, const char *target)
{
    char p[1024];
    struct orr_error e = {0};
    struct orr_dataset *ds = NULL;
    struct orr_csv_options o = {0};
    o.target = target;
    snprintf(p, sizeof p, "%s/%s", ORR_DRIFT_DATA, file);
    int rc = orr_dataset_load_csv(p, &o, &ds, &e);
    CHECK_INT(rc, ORR_OK);
    if (rc)
        fprintf(stderr, "load %s: %s\n", p, e.msg);
    return ds;
}

/* Rows of `ds` whose column `col` (categorical) starts with `prefix`. */
static struct orr_dataset *rows_where(const struct orr_dataset *ds,
                                      const char *col, const char *prefix,
                                      int every, int phase)
{
    size_t j = orr_dataset_column(ds, col), n = 0, k = 0;
    size_t *idx = malloc(ds->view.rows * sizeof *idx);
    struct orr_dataset *out = NULL;
    struct orr_error e = {0};
    const struct orr_column *c = &ds->view.columns[j];
    for (size_t i = 0; i < ds->view.rows; i++) {
        const int32_t code = ((const int32_t *)c->data)[i];
        if (code >= 0 && !strncmp(c->dict[code], prefix, strlen(prefix))) {
            /* A fixed pseudo-random half when every == 2. */
            int keep = every <= 1 ||
                       (int)((k++ * 2654435761u >> 7) % (unsigned)every) ==
                           phase;
            if (keep)
                idx[n++] = i;
        }
    }
    CHECK_INT(orr_dataset_take(ds, idx, n, &out, &e), ORR_OK);
    free(idx);
    return out;
}

static void numeric_of(const struct orr_dataset *ds, const char *name,
                       const char *file)
{
    size_t j = orr_dataset_column(ds, name);
    char p[512];
    path_in_tmp(p, sizeof p, file);
    write_nums(p, ds->view.columns[j].data, ds->view.rows);
}

static void test_seattle(void)
{
    struct orr_dataset *all = load("seattle-weather.csv", NULL);
    if (!all)
        return;
    struct orr_dataset *y12 = rows_where(all, "date", "2012/", 1, 0);
    struct orr_dataset *y15 = rows_where(all, "date", "2015/", 1, 0);
    struct orr_dataset *a = rows_where(all, "date", "2012/", 2, 0);
    struct orr_dataset *b = rows_where(all, "date", "2012/", 2, 1);
    struct got *g = calloc(1, sizeof *g);
    struct orr_error e = {0};
    void *self = open_inst(NULL);
    CHECK(y12 && y15 && a && b && self);
    if (!y12 || !y15 || !a || !b || !self)
        goto out;
    CHECK_INT(y12->view.rows, 366);
    CHECK_INT(do_profile(self, &y12->view, NULL, "sea12.json"), ORR_OK);
    CHECK_INT(do_analyze(self, "sea12.json", &y15->view, NULL, NULL, NULL, g,
                         &e), ORR_OK);
    /* 366 reference rows: Evidently's small-data choice, KS. */
    CHECK_STR(meth(g, "temp_max"), "ks");
    CHECK_INT(alert_of(g, "temp_max", "drift_score"), 1);
    CHECK_INT(alert_of(g, "temp_min", "drift_score"), 1);
    CHECK_STR(meth(g, "weather"), "chisquare");
    printf("  seattle 2012 vs 2015: temp_max p %.3g, temp_min p %.3g, "
           "share %.2f\n", val(g, "temp_max", "p_value"),
           val(g, "temp_min", "p_value"), val(g, NULL, "drift_share"));
    const char *cols[] = {"temp_max", "temp_min", "wind", "precipitation"};
    for (size_t i = 0; i < 4; i++) {
        numeric_of(y12, cols[i], "ref.txt");
        numeric_of(y15, cols[i], "cur.txt");
        struct pyref py = run_py("numeric");
        CHECK_REL(val(g, cols[i], "p_value"), py.ks_p, 1e-9);
        CHECK_REL(val(g, cols[i], "statistic"), py.ks_d, 1e-12);
    }
    /* Two halves of 2012: no drift in the temperatures. */
    CHECK_INT(do_profile(self, &a->view, NULL, "sea12a.json"), ORR_OK);
    CHECK_INT(do_analyze(self, "sea12a.json", &b->view, NULL, NULL, NULL, g,
                         &e), ORR_OK);
    printf("  seattle 2012 halves (%zu/%zu): temp_max p %.3g, temp_min p "
           "%.3g\n", a->view.rows, b->view.rows,
           val(g, "temp_max", "p_value"), val(g, "temp_min", "p_value"));
    CHECK_INT(alert_of(g, "temp_max", "drift_score"), 0);
    CHECK_INT(alert_of(g, "temp_min", "drift_score"), 0);
    CHECK_INT(alert_of(g, NULL, "dataset_drift"), 0);
    numeric_of(a, "temp_max", "ref.txt");
    numeric_of(b, "temp_max", "cur.txt");
    struct pyref py = run_py("numeric");
    CHECK_REL(val(g, "temp_max", "p_value"), py.ks_p, 1e-9);
out:
    close_inst(self);
    orr_dataset_free(all);
    orr_dataset_free(y12);
    orr_dataset_free(y15);
    orr_dataset_free(a);
    orr_dataset_free(b);
    free(g);
}

static void test_penguins_categorical(void)
{
    struct orr_dataset *all = load("penguins.csv", NULL);
    if (!all)
        return;
    /* The numeric year column: reference 2007-2008, current 2009. */
    size_t jy = orr_dataset_column(all, "year");
    size_t *ia = malloc(all->view.rows * sizeof *ia), na = 0;
    size_t *ib = malloc(all->view.rows * sizeof *ib), nb = 0;
    const double *yv = all->view.columns[jy].data;
    for (size_t i = 0; i < all->view.rows; i++) {
        if (yv[i] < 2009)
            ia[na++] = i;
        else
            ib[nb++] = i;
    }
    struct orr_dataset *a = NULL, *b = NULL;
    struct orr_error e = {0};
    CHECK_INT(orr_dataset_take(all, ia, na, &a, &e), ORR_OK);
    CHECK_INT(orr_dataset_take(all, ib, nb, &b, &e), ORR_OK);
    struct got *g = calloc(1, sizeof *g);
    const char *methods[] = {NULL, "jensenshannon", "psi"};
    for (size_t m = 0; m < 3; m++) {
        struct orr_cfg *c = cfg_method(methods[m]);
        void *self = open_inst(c);
        CHECK_INT(do_profile(self, &a->view, NULL, "peng.json"), ORR_OK);
        CHECK_INT(do_analyze(self, "peng.json", &b->view, NULL, NULL, NULL,
                             g, &e), ORR_OK);
        const char *cols[] = {"species", "island", "sex"};
        for (size_t k = 0; k < 3; k++) {
            size_t j = orr_dataset_column(a, cols[k]);
            char rp[512], cp[512];
            path_in_tmp(rp, sizeof rp, "ref.txt");
            path_in_tmp(cp, sizeof cp, "cur.txt");
            const struct orr_column *ca = &a->view.columns[j];
            const struct orr_column *cb = &b->view.columns[j];
            write_labels(rp, ca->data, (const char *const *)ca->dict,
                         a->view.rows);
            write_labels(cp, cb->data, (const char *const *)cb->dict,
                         b->view.rows);
            struct pyref py = run_py("categorical");
            if (m == 0 && k < 2) {      /* 3 labels: chi-square */
                CHECK_STR(meth(g, cols[k]), "chisquare");
                CHECK_REL(val(g, cols[k], "p_value"), py.chi_p, 1e-9);
                CHECK_REL(val(g, cols[k], "statistic"), py.chi_stat, 1e-9);
            } else if (m == 0) {        /* sex: binary, z-test */
                CHECK_STR(meth(g, cols[k]), "z");
                CHECK_REL(val(g, cols[k], "p_value"), py.z_p, 1e-9);
            } else if (m == 1) {
                CHECK_STR(meth(g, cols[k]), "jensenshannon");
                CHECK_REL(val(g, cols[k], "drift_score"), py.js, 1e-9);
            } else {
                CHECK_STR(meth(g, cols[k]), "psi");
                CHECK_REL(val(g, cols[k], "drift_score"), py.psi, 1e-9);
            }
        }
        /* Missing values: penguins has NA in sex. */
        CHECK(val(g, "sex", "missing_rate") >= 0);
        close_inst(self);
        orr_cfg_free(c);
    }
    free(ia);
    free(ib);
    free(g);
    orr_dataset_free(all);
    orr_dataset_free(a);
    orr_dataset_free(b);
}

/* --- choice, overrides -------------------------------------------------- */

static void test_auto_choice(void)
{
    enum { BIG = 3000, SMALL = 500, CUR = 2000 };
    double *big = normals(BIG, 0, 1, 51), *small = normals(SMALL, 0, 1, 52);
    double *cur = normals(CUR, 0, 1, 53);
    double bin_r[BIG], bin_c[CUR], few_r[BIG], few_c[CUR];
    int32_t cr[BIG], cc[CUR], br[BIG], bc[CUR];
    const char *dict[] = {"a", "b", "c", "d"};
    for (size_t i = 0; i < BIG; i++) {
        bin_r[i] = (double)(i % 2);
        few_r[i] = (double)(i % 4);
        cr[i] = (int32_t)(i % 4);
        br[i] = (int32_t)(i % 2);
    }
    for (size_t i = 0; i < CUR; i++) {
        bin_c[i] = (double)(i % 2);
        few_c[i] = (double)(i % 4);
        cc[i] = (int32_t)(i % 4);
        bc[i] = (int32_t)(i % 2);
    }
    struct got *g = calloc(1, sizeof *g);
    struct orr_error e = {0};
    for (int large = 0; large < 2; large++) {
        size_t n = large ? BIG : SMALL;
        struct tab rt, ct;
        tab_init(&rt, n);
        tab_num(&rt, "num", large ? big : small);
        tab_num(&rt, "binary", bin_r);
        tab_num(&rt, "few", few_r);
        tab_cat(&rt, "cat", cr, dict, 4);
        tab_cat(&rt, "cat2", br, dict, 2);
        tab_init(&ct, CUR);
        tab_num(&ct, "num", cur);
        tab_num(&ct, "binary", bin_c);
        tab_num(&ct, "few", few_c);
        tab_cat(&ct, "cat", cc, dict, 4);
        tab_cat(&ct, "cat2", bc, dict, 2);
        void *self = open_inst(NULL);
        CHECK_INT(do_profile(self, &rt.t, NULL, "auto.json"), ORR_OK);
        CHECK_INT(do_analyze(self, "auto.json", &ct.t, NULL, NULL, NULL, g,
                             &e), ORR_OK);
        if (!large) {
            CHECK_STR(meth(g, "num"), "ks");
            CHECK_STR(meth(g, "few"), "chisquare");
            CHECK_STR(meth(g, "binary"), "z");
            CHECK_STR(meth(g, "cat"), "chisquare");
            CHECK_STR(meth(g, "cat2"), "z");
            CHECK_NEAR(thr_of(g, "num", "drift_score"), 0.05, 0);
        } else {
            CHECK_STR(meth(g, "num"), "wasserstein");
            CHECK_STR(meth(g, "few"), "jensenshannon");
            CHECK_STR(meth(g, "binary"), "jensenshannon");
            CHECK_STR(meth(g, "cat"), "jensenshannon");
            CHECK_NEAR(thr_of(g, "num", "drift_score"), 0.1, 0);
            CHECK_NEAR(val(g, "cat", "drift_score"), 0, 1e-12);
        }
        CHECK_NEAR(val(g, NULL, "drift_share"), 0, 0);
        CHECK_NEAR(thr_of(g, NULL, "drift_share"), 0.5, 0);
        CHECK_INT(alert_of(g, NULL, "dataset_drift"), 0);
        close_inst(self);
    }
    free(big);
    free(small);
    free(cur);
    free(g);
}

static void test_overrides(void)
{
    enum { N1 = 600, N2 = 400 };
    double *r1 = normals(N1, 0, 1, 61), *c1 = normals(N2, 0.4, 1, 62);
    double *r2 = normals(N1, 0, 1, 63), *c2 = normals(N2, 0, 1, 64);
    struct orr_cfg *cfg = orr_cfg_new_table();
    orr_cfg_set_str(cfg, "method", "psi", "test");
    orr_cfg_set_num(cfg, "psi_threshold", 0.2, "test");
    orr_cfg_set_num(cfg, "drift_share", 0.4, "test");
    struct orr_cfg *pf = orr_cfg_set_table(cfg, "per_feature", "test");
    struct orr_cfg *fb = orr_cfg_set_table(pf, "b", "test");
    orr_cfg_set_str(fb, "method", "ks", "test");
    orr_cfg_set_num(fb, "threshold", 0.01, "test");
    struct tab rt, ct;
    tab_init(&rt, N1);
    tab_num(&rt, "a", r1);
    tab_num(&rt, "b", r2);
    tab_init(&ct, N2);
    tab_num(&ct, "a", c1);
    tab_num(&ct, "b", c2);
    struct got *g = calloc(1, sizeof *g);
    struct orr_error e = {0};
    void *self = open_inst(cfg);
    CHECK_INT(do_profile(self, &rt.t, NULL, "ov.json"), ORR_OK);
    CHECK_INT(do_analyze(self, "ov.json", &ct.t, NULL, NULL, NULL, g, &e),
              ORR_OK);
    CHECK_STR(meth(g, "a"), "psi");
    CHECK_NEAR(thr_of(g, "a", "drift_score"), 0.2, 0);
    CHECK_STR(meth(g, "b"), "ks");
    CHECK_NEAR(thr_of(g, "b", "drift_score"), 0.01, 0);
    CHECK_NEAR(thr_of(g, NULL, "drift_share"), 0.4, 0);
    double psi_a = val(g, "a", "drift_score");
    CHECK_INT(alert_of(g, "a", "drift_score"), psi_a >= 0.2);
    /* The window's thresholds win over the site's. */
    struct orr_cfg *thr = orr_cfg_new_table();
    orr_cfg_set_num(thr, "psi", psi_a + 1, "test");
    orr_cfg_set_num(thr, "drift_share", 0.9, "test");
    CHECK_INT(do_analyze(self, "ov.json", &ct.t, NULL, NULL, thr, g, &e),
              ORR_OK);
    CHECK_NEAR(thr_of(g, "a", "drift_score"), psi_a + 1, 0);
    CHECK_INT(alert_of(g, "a", "drift_score"), 0);
    CHECK_NEAR(thr_of(g, NULL, "drift_share"), 0.9, 0);
    orr_cfg_set_str(thr, "method", "wasserstein", "test");
    CHECK_INT(do_analyze(self, "ov.json", &ct.t, NULL, NULL, thr, g, &e),
              ORR_OK);
    CHECK_STR(meth(g, "a"), "wasserstein");
    CHECK_STR(meth(g, "b"), "ks");      /* per-feature still wins */
    orr_cfg_set_str(thr, "method", "nonsense", "test");
    CHECK_INT(do_analyze(self, "ov.json", &ct.t, NULL, NULL, thr, g, &e),
              ORR_ECONFIG);
    CHECK_CONTAINS(e.msg, "unknown method 'nonsense'");
    close_inst(self);
    /* A bad site method is refused at open. */
    orr_cfg_set_str(cfg, "method", "bogus", "test");
    void *bad = calloc(1, be->self_size);
    CHECK_INT(be->ops.monitor.open(bad, cfg, &e), ORR_ECONFIG);
    CHECK_CONTAINS(e.msg, "bogus");
    be->ops.monitor.close(bad);
    free(bad);
    orr_cfg_free(thr);
    orr_cfg_free(cfg);
    free(r1);
    free(c1);
    free(r2);
    free(c2);
    free(g);
}

static int refuse(void *ctx, const struct orr_monitor_value *v)
{
    (void)v;
    ++*(int *)ctx;
    return 7;
}

/* --- bad input ----------------------------------------------------------- */

static void test_bad_input(void)
{
    enum { N = 300 };
    double x[N], k[N], nanv[N], cur_k[N], cur_x[N];
    rng_state = 71;
    for (size_t i = 0; i < N; i++) {
        x[i] = normal();
        k[i] = 3.0;
        nanv[i] = NAN;
        cur_k[i] = 3.0;
        cur_x[i] = normal() + 10;   /* all out of range */
    }
    struct tab rt, ct;
    tab_init(&rt, N);
    tab_num(&rt, "x", x);
    tab_num(&rt, "constant", k);
    tab_num(&rt, "gone", x);
    tab_num(&rt, "empty", nanv);
    tab_num(&rt, "nan_now", x);
    tab_init(&ct, N);
    tab_num(&ct, "x", cur_x);
    tab_num(&ct, "constant", cur_k);
    tab_num(&ct, "empty", nanv);
    tab_num(&ct, "nan_now", nanv);
    struct got *g = calloc(1, sizeof *g);
    struct orr_error e = {0};
    void *self = open_inst(NULL);
    CHECK_INT(do_profile(self, &rt.t, NULL, "bad.json"), ORR_OK);
    CHECK_INT(do_analyze(self, "bad.json", &ct.t, NULL, NULL, NULL, g, &e),
              ORR_OK);
    /* absent feature: reported, alerting, not a crash */
    CHECK_NEAR(val(g, "gone", "feature_absent"), 1, 0);
    CHECK_INT(alert_of(g, "gone", "feature_absent"), 1);
    CHECK(find(g, "gone", "drift_score") == NULL);
    /* constant on both sides: a defined, quiet result */
    CHECK_STR(meth(g, "constant"), "z");
    CHECK_NEAR(val(g, "constant", "drift_score"), 1, 0);
    CHECK_INT(alert_of(g, "constant", "drift_score"), 0);
    /* all-NaN in both: not enough data, no drift alert */
    CHECK_NEAR(val(g, "empty", "not_enough_data"), 0, 0);
    CHECK_INT(alert_of(g, "empty", "not_enough_data"), 0);
    CHECK_STR(method_of(g, "empty", "not_enough_data"),
              "reference_empty");
    CHECK_INT(alert_of(g, "empty", "missing_rate"), 0);
    /* NaN now, values in the reference: a missing-rate alert only */
    CHECK_NEAR(val(g, "nan_now", "missing_rate"), 1, 0);
    CHECK_INT(alert_of(g, "nan_now", "missing_rate"), 1);
    CHECK(find(g, "nan_now", "drift_score") == NULL);
    /* out of range */
    CHECK_NEAR(val(g, "x", "out_of_range_share"), 1, 0);
    CHECK_INT(alert_of(g, "x", "out_of_range_share"), 1);
    CHECK_INT(alert_of(g, "x", "drift_score"), 1);
    for (size_t i = 0; i < g->n; i++)
        if (g->r[i].alert)
            CHECK(!isnan(g->r[i].value));
    /* x and constant evaluated, x drifted: share 1/2 */
    CHECK_NEAR(val(g, NULL, "drift_share"), 0.5, 0);
    /* too few rows: not enough data, nothing else */
    ct.t.rows = 10;
    CHECK_INT(do_analyze(self, "bad.json", &ct.t, NULL, NULL, NULL, g, &e),
              ORR_OK);
    CHECK_INT(g->n, 1);
    CHECK_STR(g->r[0].metric, "not_enough_data");
    CHECK_NEAR(g->r[0].value, 10, 0);
    CHECK_NEAR(g->r[0].threshold, 30, 0);
    CHECK_INT(g->r[0].alert, 0);
    /* no window at all */
    CHECK_INT(do_analyze(self, "bad.json", NULL, NULL, NULL, NULL, g, &e),
              ORR_OK);
    CHECK_INT(g->n, 1);
    CHECK_STR(g->r[0].metric, "not_enough_data");
    /* type mismatch: a categorical column where the profile has numbers */
    int32_t codes[N] = {0};
    const char *d[] = {"z"};
    struct tab mt;
    tab_init(&mt, N);
    tab_cat(&mt, "x", codes, d, 1);
    CHECK_INT(do_analyze(self, "bad.json", &mt.t, NULL, NULL, NULL, g, &e),
              ORR_OK);
    CHECK_INT(alert_of(g, "x", "type_mismatch"), 1);
    CHECK(find(g, NULL, "not_enough_data") != NULL);
    /* min_rows from the window's thresholds */
    struct orr_cfg *thr = orr_cfg_new_table();
    orr_cfg_set_int(thr, "min_rows", 5, "test");
    ct.t.rows = 10;
    CHECK_INT(do_analyze(self, "bad.json", &ct.t, NULL, NULL, thr, g, &e),
              ORR_OK);
    CHECK(find(g, "x", "drift_score") != NULL);
    orr_cfg_free(thr);
    /* profile missing */
    CHECK_INT(do_analyze(self, "nope.json", &ct.t, NULL, NULL, NULL, g, &e),
              ORR_ENOTFOUND);
    CHECK_CONTAINS(e.msg, "nope.json");
    /* profile corrupt: not JSON, wrong format, damaged summary */
    char p[512];
    path_in_tmp(p, sizeof p, "corrupt.json");
    FILE *f = fopen(p, "w");
    fputs("{\"format\": \"drift/1\", \"features\": [", f);
    fclose(f);
    CHECK_INT(do_analyze(self, "corrupt.json", &ct.t, NULL, NULL, NULL, g,
                         &e), ORR_ECORRUPT);
    CHECK_CONTAINS(e.msg, "not valid JSON");
    f = fopen(p, "w");
    fputs("{\"format\": \"other/3\", \"features\": []}", f);
    fclose(f);
    CHECK_INT(do_analyze(self, "corrupt.json", &ct.t, NULL, NULL, NULL, g,
                         &e), ORR_ECORRUPT);
    CHECK_CONTAINS(e.msg, "not a drift/1 profile");
    f = fopen(p, "w");
    fputs("{\"format\":\"drift/1\",\"features\":[{\"name\":\"x\",\"type\":"
          "\"numeric\",\"missing\":0,\"count\":3,\"min\":0,\"max\":1,"
          "\"std\":1,\"summary\":{\"exact\":true,\"knots\":3,\"v\":\"AAA=\","
          "\"le\":\"AAA=\"}}]}", f);
    fclose(f);
    CHECK_INT(do_analyze(self, "corrupt.json", &ct.t, NULL, NULL, NULL, g,
                         &e), ORR_ECORRUPT);
    CHECK_CONTAINS(e.msg, "summary");
    /* A sink that refuses stops analyze at once, with a clear error. */
    {
        char pp[512];
        int calls = 0;
        path_in_tmp(pp, sizeof pp, "bad.json");
        struct orr_monitor_window w = {0};
        w.size = sizeof w;
        w.reference_profile = pp;
        w.current = &ct.t;
        struct orr_monitor_sink no = {&calls, refuse};
        CHECK_INT(be->ops.monitor.analyze(self, &w, &no, &e), ORR_ECANCELED);
        CHECK_INT(calls, 1);
        CHECK_CONTAINS(e.msg, "sink refused");
    }
    close_inst(self);
    free(g);
}

static void test_predictions_labels_threads(void)
{
    enum { N1 = 700, N2 = 500 };
    double *feat[6], *cfeat[6], *pr = normals(N1, 0.5, 0.1, 81),
                                *pc = normals(N2, 0.7, 0.1, 82);
    double y[N1], lab[N2];
    const char *names[] = {"f0", "f1", "f2", "f3", "f4", "f5"};
    struct tab rt, ct;
    tab_init(&rt, N1);
    tab_init(&ct, N2);
    for (int j = 0; j < 6; j++) {
        feat[j] = normals(N1, 0, 1, 90 + (uint64_t)j);
        cfeat[j] = normals(N2, j < 3 ? 0.5 : 0, 1, 100 + (uint64_t)j);
        tab_num(&rt, names[j], feat[j]);
        tab_num(&ct, names[j], cfeat[j]);
    }
    for (size_t i = 0; i < N1; i++)
        y[i] = feat[0][i] * 2 + 1;
    for (size_t i = 0; i < N2; i++)
        lab[i] = i % 3 ? cfeat[0][i] * 2 + 1 : NAN;
    tab_num(&rt, "y", y);
    rt.t.target = 6;
    struct orr_matrix pmr = {N1, 1, pr, N1}, pmc = {N2, 1, pc, N2};
    struct got *g1 = calloc(1, sizeof *g1), *g4 = calloc(1, sizeof *g4);
    struct orr_error e = {0};
    struct orr_cfg *c1 = orr_cfg_new_table(), *c4 = orr_cfg_new_table();
    orr_cfg_set_int(c1, "threads", 1, "test");
    orr_cfg_set_int(c4, "threads", 4, "test");
    void *s1 = open_inst(c1), *s4 = open_inst(c4);
    CHECK_INT(do_profile(s1, &rt.t, &pmr, "pl.json"), ORR_OK);
    CHECK_INT(do_analyze(s1, "pl.json", &ct.t, &pmc, lab, NULL, g1, &e),
              ORR_OK);
    CHECK_INT(do_analyze(s4, "pl.json", &ct.t, &pmc, lab, NULL, g4, &e),
              ORR_OK);
    CHECK_INT(g1->n, g4->n);
    CHECK(memcmp(g1->r, g4->r, g1->n * sizeof g1->r[0]) == 0);
    CHECK_INT(alert_of(g1, "prediction", "drift_score"), 1);
    CHECK(find(g1, "prediction", "missing_rate") == NULL);
    CHECK(find(g1, "y", "label_drift") != NULL);
    CHECK(find(g1, "y", "drift_score") == NULL);   /* not a feature */
    CHECK_NEAR(val(g1, NULL, "drift_share"), 0.5, 0);
    CHECK_INT(alert_of(g1, NULL, "drift_share"), 1);
    CHECK_NEAR(val(g1, NULL, "dataset_drift"), 1, 0);
    CHECK_INT(alert_of(g1, NULL, "dataset_drift"), 0);  /* one alert */
    CHECK_NEAR(val(g1, NULL, "n_drifted_features"), 3, 0);
    /* Predictions alone (no inputs logged): prediction drift, no
     * feature reported absent. */
    CHECK_INT(do_analyze(s1, "pl.json", NULL, &pmc, NULL, NULL, g1, &e),
              ORR_OK);
    CHECK_INT(alert_of(g1, "prediction", "drift_score"), 1);
    CHECK(find(g1, "f0", "feature_absent") == NULL);
    CHECK(find(g1, NULL, "not_enough_data") != NULL);
    close_inst(s1);
    close_inst(s4);
    orr_cfg_free(c1);
    orr_cfg_free(c4);
    for (int j = 0; j < 6; j++) {
        free(feat[j]);
        free(cfeat[j]);
    }
    free(pr);
    free(pc);
    free(g1);
    free(g4);
}

TEST_MAIN({"profile_format", test_profile_format},
          {"profile_bounded_and_approx", test_profile_bounded_and_approx},
          {"ks_exact", test_ks_exact},
          {"ks_asymp", test_ks_asymp},
          {"distances_vs_scipy", test_distances_vs_scipy},
          {"seattle", test_seattle},
          {"penguins_categorical", test_penguins_categorical},
          {"auto_choice", test_auto_choice},
          {"overrides", test_overrides},
          {"bad_input", test_bad_input},
          {"predictions_labels_threads", test_predictions_labels_threads})
