/*
 * monitor-drift - the default monitor backend "drift": reference
 * profiles (profile.c), per-feature drift between a profile and a window
 * of production data, prediction and label drift, and data-quality checks.
 *
 * Methods and defaults follow Evidently's data drift preset (the method
 * chosen by feature type and reference size, the thresholds, the dataset
 * drift share); the values follow SciPy 1.10.  docs/monitor-drift.md has
 * the details, the profile format and the configuration.
 *
 * Features are analysed in parallel (`threads`, default 2); values reach
 * the sink afterwards from the calling thread, in profile order, so the
 * output is the same whatever the thread count.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <orrery/host.h>
#include <orrery/plugin.h>

#include "drift.h"
#include "stats.h"

const struct orr_host *drift_host;
#define H drift_host

#define MAX_THREADS 64
#define MAX_VALUES 8

enum method {
    M_AUTO = 0, M_KS, M_CHISQUARE, M_Z, M_WASSERSTEIN, M_JS, M_PSI, M_COUNT
};

static const char *const method_name[M_COUNT] = {
    "auto", "ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi"};

/* Evidently's defaults: p-value thresholds for the tests, distance
 * thresholds for the rest. */
static const double method_default[M_COUNT] = {
    NAN, 0.05, 0.05, 0.05, 0.1, 0.1, 0.1};

static int is_test(enum method m)
{
    return m == M_KS || m == M_CHISQUARE || m == M_Z;
}

struct drift_self {
    const struct orr_cfg *cfg;
    struct dprofile_opts  popt;
    pthread_mutex_t       lock;     /* guards the cached profile           */
    int                   lock_ok;
    char                 *cached_path;
    struct timespec       cached_mtime;
    off_t                 cached_size;
    struct dprofile      *cached;
};

/* --- settings ------------------------------------------------------------- */

struct settings {
    const struct orr_cfg *cfg, *thr;    /* site cfg, window overrides      */
    double drift_share;
    double min_rows;
    double missing_margin;
    double range_threshold;
    double auto_ref_rows;
    double psi_bins;
    int    threads;
};

/* A number from the window's overrides first, then the site's. */
static double num2(const struct settings *s, const char *key, double def)
{
    return H->cfg_num(s->thr, key, H->cfg_num(s->cfg, key, def));
}

static int parse_method(const char *name, enum method *m)
{
    if (!name)
        return 0;
    for (int i = 0; i < M_COUNT; i++)
        if (!strcmp(name, method_name[i])) {
            *m = (enum method)i;
            return 1;
        }
    /* Evidently's names for the same tests. */
    if (!strcmp(name, "wasserstein_normed") || !strcmp(name, "wd"))
        *m = M_WASSERSTEIN;
    else if (!strcmp(name, "js") || !strcmp(name, "jensen_shannon"))
        *m = M_JS;
    else if (!strcmp(name, "chi2") || !strcmp(name, "chi_square"))
        *m = M_CHISQUARE;
    else if (!strcmp(name, "kolmogorov_smirnov"))
        *m = M_KS;
    else
        return -1;
    return 1;
}

/* The per-feature override table of a node: node.per_feature[name]. */
static const struct orr_cfg *per_feature(const struct orr_cfg *node,
                                         const char *name)
{
    const struct orr_cfg *pf = H->cfg_child(node, "per_feature");
    return pf && name && !strchr(name, '.') ? H->cfg_child(pf, name) : NULL;
}

/* The method asked for a feature (M_AUTO if none); -1 and a message on
 * an unknown name. */
static int feature_method(const struct settings *s, const char *name,
                          int categorical, enum method *m,
                          struct orr_error *e)
{
    const struct orr_cfg *nodes[6] = {
        per_feature(s->thr, name), per_feature(s->cfg, name), s->thr,
        s->thr, s->cfg, s->cfg};
    const char *keys[6] = {"method", "method",
                           categorical ? "categorical_method"
                                       : "numeric_method",
                           "method",
                           categorical ? "categorical_method"
                                       : "numeric_method",
                           "method"};
    *m = M_AUTO;
    for (int i = 0; i < 6; i++) {
        const char *v = H->cfg_str(nodes[i], keys[i], NULL);
        int r = parse_method(v, m);
        if (r < 0)
            return H->fail(e, ORR_ECONFIG,
                           "monitor drift: unknown method '%s' (known: ks, "
                           "chisquare, z, wasserstein, jensenshannon, psi, "
                           "auto)", v);
        if (r > 0)
            return ORR_OK;
    }
    return ORR_OK;
}

static double feature_threshold(const struct settings *s, const char *name,
                                enum method m)
{
    char k1[48], k2[48];
    double def = method_default[m];
    snprintf(k1, sizeof k1, "%s_threshold", method_name[m]);
    snprintf(k2, sizeof k2, "%s", method_name[m]);
    double t = H->cfg_num(s->cfg, k2, H->cfg_num(s->cfg, k1, def));
    t = H->cfg_num(s->thr, k2, H->cfg_num(s->thr, k1, t));
    t = H->cfg_num(per_feature(s->cfg, name), "threshold", t);
    return H->cfg_num(per_feature(s->thr, name), "threshold", t);
}

static void settings_init(struct settings *s, const struct orr_cfg *cfg,
                          const struct orr_cfg *thr)
{
    s->cfg = cfg;
    s->thr = thr;
    s->drift_share = num2(s, "drift_share", 0.5);
    s->min_rows = num2(s, "min_rows", 30);
    s->missing_margin = num2(s, "missing_margin", 0.1);
    s->range_threshold = num2(s, "out_of_range_threshold", 0.1);
    s->auto_ref_rows = num2(s, "auto_reference_rows", 1000);
    s->psi_bins = num2(s, "psi_bins", 30);
    if (!(s->psi_bins >= 1 && s->psi_bins <= 100000))
        s->psi_bins = 30;
    s->threads = (int)num2(s, "threads", 2);
    if (s->threads < 1)
        s->threads = 1;
    if (s->threads > MAX_THREADS)
        s->threads = MAX_THREADS;
}

/* --- one job: a feature, a prediction output or the labels ---------------- */

struct job {
    const struct dfeat *ref;
    const char         *name;       /* reported feature name              */
    int                 kind;       /* 0 feature, 1 prediction, 2 label    */
    /* Current data: a table column, a matrix column or the labels. */
    const struct orr_column *col;
    size_t                   rows;
    const struct orr_matrix *mat;
    size_t                   mat_col;
    const double            *labels;
    enum method         method;     /* asked for (M_AUTO: choose)          */
    /* Results. */
    int                 status;
    char                err[ORR_ERROR_MSG_SIZE];
    int                 drift_evaluated, drifted;
    size_t              n_values;
    struct orr_monitor_value values[MAX_VALUES];
};

static void put(struct job *j, const char *metric, const char *method,
                double value, double threshold, int alert)
{
    if (j->n_values >= MAX_VALUES)
        return;
    struct orr_monitor_value *v = &j->values[j->n_values++];
    memset(v, 0, sizeof *v);
    v->size = sizeof *v;
    v->feature = j->name;
    v->metric = j->kind == 2 && !strcmp(metric, "drift_score")
                    ? "label_drift" : metric;
    v->method = method;
    v->value = value;
    v->threshold = threshold;
    v->alert = alert;
}

/* Paired frequencies over the union of keys, ref then current. */
struct freq {
    size_t  k;
    double *r, *c;
};

static void freq_free(struct freq *f)
{
    free(f->r);
    free(f->c);
}

static int freq_alloc(struct freq *f, size_t cap)
{
    f->k = 0;
    f->r = calloc(cap ? cap : 1, sizeof *f->r);
    f->c = calloc(cap ? cap : 1, sizeof *f->c);
    return f->r && f->c ? 0 : -1;
}

/* Numeric keys: each distinct value of the reference (exact summary) and
 * of the sorted current values. */
static int freq_numeric(const struct dfeat *ref, const double *c, size_t n,
                        struct freq *f)
{
    size_t i = 0, j = 0;
    if (freq_alloc(f, ref->m + n))
        return -1;
    while (i < n || j < ref->m) {
        double x = i < n && (j >= ref->m || c[i] <= ref->v[j]) ? c[i]
                                                                : ref->v[j];
        double rc = 0, cc = 0;
        if (j < ref->m && ref->v[j] == x) {
            rc = ref->le[j] - ref->lt[j];
            j++;
        }
        while (i < n && c[i] == x) {
            cc++;
            i++;
        }
        f->r[f->k] = rc;
        f->c[f->k] = cc;
        f->k++;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, *(char *const *)b);
}

/* Categorical keys: the profile's labels, then labels new in `col`. */
static int freq_categorical(const struct dfeat *ref,
                            const struct orr_column *col, size_t rows,
                            struct freq *f, double *n_cur, double *missing,
                            double *new_share)
{
    size_t *cnt = calloc(col->dict_len + 1, sizeof *cnt);
    const int32_t *codes = col->data;
    double newc = 0;
    *missing = 0;
    *n_cur = 0;
    if (!cnt || freq_alloc(f, ref->n_cat + col->dict_len)) {
        free(cnt);
        return -1;
    }
    for (size_t i = 0; i < rows; i++) {
        int32_t k = codes[i];
        if ((col->missing && col->missing[i]) || k < 0 ||
            (size_t)k >= col->dict_len)
            (*missing)++;
        else
            cnt[k]++;
    }
    for (size_t k = 0; k < ref->n_cat; k++) {
        f->r[k] = ref->cat_count[k];
        f->c[k] = 0;
    }
    f->k = ref->n_cat;
    for (size_t k = 0; k < col->dict_len; k++) {
        if (!cnt[k])
            continue;
        const char *label = col->dict[k] ? col->dict[k] : "";
        char **hit = bsearch(label, ref->cat, ref->n_cat, sizeof *ref->cat,
                             cmp_str);
        *n_cur += (double)cnt[k];
        if (hit) {
            f->c[hit - ref->cat] += (double)cnt[k];
            continue;
        }
        /* A label new to the reference. */
        f->r[f->k] = 0;
        f->c[f->k] = (double)cnt[k];
        f->k++;
        newc += (double)cnt[k];
    }
    *new_share = *n_cur > 0 ? newc / *n_cur : 0;
    free(cnt);
    return 0;
}

/* Drop keys absent from both sides (profile labels never seen). */
static void freq_compact(struct freq *f)
{
    size_t o = 0;
    for (size_t i = 0; i < f->k; i++)
        if (f->r[i] > 0 || f->c[i] > 0) {
            f->r[o] = f->r[i];
            f->c[o] = f->c[i];
            o++;
        }
    f->k = o;
}

/* Evidently's chi-square: scipy.stats.chisquare(f_obs = current counts,
 * f_exp = reference counts * n_cur / n_ref). */
static double chisquare(const struct freq *f, double n_ref, double n_cur,
                        double *stat)
{
    double knorm = n_cur / n_ref, s = 0;
    if (f->k < 2) {
        *stat = 0;
        return 1.0;     /* one category on both sides: nothing to test */
    }
    for (size_t i = 0; i < f->k; i++) {
        double ex = f->r[i] * knorm, d = f->c[i] - ex;
        s += d * d / ex;
    }
    *stat = s;
    return drift_chi2_sf(s, (double)(f->k - 1));
}

/* Evidently's proportion difference z-test (binary features). */
static double ztest(const struct freq *f, double n1, double n2, double *z)
{
    if (f->k < 2) {
        *z = 0;
        return 1.0;
    }
    double p1 = f->r[0] / n1, p2 = f->c[0] / n2;
    double P = (p1 * n1 + p2 * n2) / (n1 + n2);
    *z = (p1 - p2) / sqrt(P * (1 - P) * (1.0 / n1 + 1.0 / n2));
    return drift_norm_2sf(*z);
}

/* Evidently's get_binned_data(feel_zeroes=True) zero replacement. */
static void feel_zeroes(double *p, size_t k)
{
    double mn = INFINITY;
    for (size_t i = 0; i < k; i++)
        if (p[i] != 0 && p[i] < mn)
            mn = p[i];
    if (!isfinite(mn))
        return;
    double rep = mn <= 0.0001 ? mn / 1e6 : 0.0001;
    for (size_t i = 0; i < k; i++)
        if (p[i] == 0)
            p[i] = rep;
}

static double psi(const struct freq *f, double n1, double n2)
{
    double *r = malloc(f->k * sizeof *r), *c = malloc(f->k * sizeof *c);
    double s = 0;
    if (!r || !c) {
        free(r);
        free(c);
        return NAN;
    }
    for (size_t i = 0; i < f->k; i++) {
        r[i] = f->r[i] / n1;
        c[i] = f->c[i] / n2;
    }
    feel_zeroes(r, f->k);
    feel_zeroes(c, f->k);
    for (size_t i = 0; i < f->k; i++)
        s += (r[i] - c[i]) * log(r[i] / c[i]);
    free(r);
    free(c);
    return s;
}

static double rel_entr(double x, double y)
{
    if (x > 0 && y > 0)
        return x * log(x / y);
    if (x == 0 && y >= 0)
        return 0;
    return INFINITY;
}

/* scipy.spatial.distance.jensenshannon of the two percent vectors
 * (natural log, as Evidently). */
static double jensenshannon(const struct freq *f, double n1, double n2)
{
    double sp = 0, sq = 0, l = 0, r = 0;
    for (size_t i = 0; i < f->k; i++) {
        sp += f->r[i] / n1;
        sq += f->c[i] / n2;
    }
    for (size_t i = 0; i < f->k; i++) {
        double p = f->r[i] / n1 / sp, q = f->c[i] / n2 / sq,
               m = (p + q) / 2.0;
        l += rel_entr(p, m);
        r += rel_entr(q, m);
    }
    return sqrt((l + r) / 2.0);
}

/* Equal-width bins over the union's range (numpy.histogram_bin_edges),
 * reference counts from the summary, current counted in one pass (no
 * sort): bin i holds e[i] <= x < e[i+1], the last one also hi, as
 * numpy.histogram with explicit edges. */
static int freq_binned(const struct dfeat *ref, const double *c, size_t n,
                       double cmin, double cmax, size_t bins, struct freq *f)
{
    double lo = fmin(ref->min, cmin), hi = fmax(ref->max, cmax);
    double *e = NULL;
    size_t *cnt = NULL;
    if (lo == hi) {
        lo -= 0.5;
        hi += 0.5;
    }
    e = malloc((bins + 1) * sizeof *e);
    cnt = calloc(bins, sizeof *cnt);
    if (!e || !cnt || freq_alloc(f, bins)) {
        free(e);
        free(cnt);
        return -1;
    }
    double step = (hi - lo) / (double)bins, norm = (double)bins / (hi - lo);
    for (size_t b = 0; b < bins; b++)
        e[b] = (double)b * step + lo;
    e[bins] = hi;
    for (size_t i = 0; i < n; i++) {
        double x = c[i], g = (x - lo) * norm;
        size_t k = g <= 0 ? 0 : g >= (double)(bins - 1) ? bins - 1
                                                         : (size_t)g;
        while (k > 0 && x < e[k])
            k--;
        while (k + 1 < bins && x >= e[k + 1])
            k++;
        cnt[k]++;
    }
    double prev_r = 0;
    for (size_t b = 0; b < bins; b++) {
        double cr = b + 1 == bins ? ref->count
                                  : drift_ref_count(ref, e[b + 1], 0);
        f->r[b] = cr - prev_r;
        f->c[b] = (double)cnt[b];
        prev_r = cr;
    }
    f->k = bins;
    free(e);
    free(cnt);
    return 0;
}

/* Count the current values against the knots without sorting them:
 * cnt[2j] = #(v[j-1] < x < v[j]) (cnt[0]: below the first knot, cnt[2m]:
 * above the last), cnt[2j+1] = #(x == v[j]).  A table over [v0, v(m-1)]
 * gives, for a value's slot, the first knot that can be >= it, so a value
 * costs a multiply, a lookup and a short scan (a sentinel +inf ends it)
 * rather than a binary search. */
static int knot_counts(const struct dfeat *ref, const double *c, size_t n,
                       size_t *cnt)
{
    size_t m = ref->m, T = m < 2 ? 1 : 8 * m;
    double lo = ref->v[0], hi = ref->v[m - 1];
    if (T > (1u << 22))
        T = 1u << 22;
    uint32_t *tab = malloc(T * sizeof *tab);
    double *v = malloc((m + 1) * sizeof *v);
    if (!tab || !v) {
        free(tab);
        free(v);
        return -1;
    }
    memcpy(v, ref->v, m * sizeof *v);
    v[m] = INFINITY;
    double scale = hi > lo ? (double)T / (hi - lo) : 0, top = (double)(T - 1);
    size_t j = 0;
    for (size_t sl = 0; sl < T; sl++) {
        /* First knot whose slot is >= sl: every knot before it is below
         * any value of slot sl (slots are monotone in the value). */
        while (j < m) {
            double g = (v[j] - lo) * scale;
            g = g < 0 ? 0 : g > top ? top : g;
            if ((size_t)g >= sl)
                break;
            j++;
        }
        tab[sl] = (uint32_t)j;
    }
    memset(cnt, 0, (2 * m + 1) * sizeof *cnt);
    for (size_t i = 0; i < n; i++) {
        double x = c[i], g = (x - lo) * scale;
        g = g < 0 ? 0 : g > top ? top : g;
        size_t k = tab[(size_t)g];
        while (v[k] < x)
            k++;
        cnt[2 * k + (v[k] == x)]++;
    }
    free(tab);
    free(v);
    return 0;
}

/* The two-sample KS statistic from knot counts.  With an exact summary
 * the reference CDF is flat between knots, so the extremes SciPy finds at
 * the data points are the values just before and at each knot: the same
 * numbers, computed the same way.  With an approximate summary it is the
 * exact deviation at every knot, at most one knot's gap below the truth. */
static double ks_from_counts(const struct dfeat *ref, const size_t *cnt,
                             size_t n2)
{
    double n1 = ref->count, dn2 = (double)n2, maxd = 0, mind = 0;
    size_t cum = 0;
    for (size_t j = 0; j < ref->m; j++) {
        cum += cnt[2 * j];
        double a = ref->lt[j] / n1 - (double)cum / dn2;
        cum += cnt[2 * j + 1];
        double b = ref->le[j] / n1 - (double)cum / dn2;
        if (a > maxd) maxd = a;
        if (a < mind) mind = a;
        if (b > maxd) maxd = b;
        if (b < mind) mind = b;
    }
    double mins = -mind > 1 ? 1 : -mind;
    return mins > maxd ? mins : maxd;
}

/* The Wasserstein-1 distance between the summary and sorted current
 * values, in one merge walk.  With an exact summary it equals SciPy's;
 * otherwise the reference CDF is linear between knots. */
static double wasserstein(const struct dfeat *ref, const double *c,
                          size_t n2)
{
    double n1 = ref->count, dn2 = (double)n2, w = 0;
    size_t i = 0, j = 0;
    double prev_x = 0, prev_fr = 0, prev_fc = 0;
    int started = 0;
    long jb = -1;   /* last knot <= the current point */
    while (i < n2 || j < ref->m) {
        double x = i < n2 && (j >= ref->m || c[i] <= ref->v[j]) ? c[i]
                                                                 : ref->v[j];
        double fr_left, fr;
        if (j < ref->m && ref->v[j] == x) {
            fr_left = ref->lt[j];
            fr = ref->le[j];
            jb = (long)j;
            j++;
        } else if (jb < 0) {
            fr_left = fr = 0;
        } else if ((size_t)jb + 1 >= ref->m) {
            fr_left = fr = n1;
        } else {
            size_t k = (size_t)jb;
            double gp = ref->lt[k + 1] - ref->le[k];
            fr = gp == 0 ? ref->le[k]
                         : ref->le[k] + gp * (x - ref->v[k]) /
                                            (ref->v[k + 1] - ref->v[k]);
            fr_left = fr;
        }
        while (i < n2 && c[i] == x)
            i++;
        double a = fr_left / n1, b = fr / n1, fcv = (double)i / dn2;
        if (started) {
            /* [prev_x, x): current flat at prev_fc, reference linear from
             * prev_fr to a. */
            double width = x - prev_x, f0 = prev_fr - prev_fc,
                   f1 = a - prev_fc;
            if (f0 == f1)
                w += fabs(f0) * width;
            else if ((f0 >= 0) == (f1 >= 0))
                w += width * (fabs(f0) + fabs(f1)) / 2;
            else
                w += width * (f0 * f0 + f1 * f1) /
                     (2 * (fabs(f0) + fabs(f1)));
        }
        started = 1;
        prev_x = x;
        prev_fr = b;
        prev_fc = fcv;
    }
    return w;
}

/* Distinct values of reference and current together, counted up to
 * cap + 1 (Evidently's n_unique decides between tests). */
static size_t union_distinct(const struct dfeat *ref, const double *c,
                             size_t n, size_t cap)
{
    double seen[16];
    size_t k = 0;
    if (!ref->exact || ref->m > cap || cap >= 16)
        return cap + 1;
    for (size_t i = 0; i < n && ref->m + k <= cap; i++) {
        double x = c[i];
        int known = 0;
        for (size_t j = 0; j < ref->m && !known; j++)
            known = ref->v[j] == x;
        for (size_t j = 0; j < k && !known; j++)
            known = seen[j] == x;
        if (!known)
            seen[k++] = x;
    }
    return ref->m + k;
}

/* Run the drift method on frequencies; fill the job's values. */
static void emit_freq_method(struct job *jb, enum method m, double thr,
                             const struct freq *f, double n1, double n2)
{
    double v, stat;
    int alert;
    switch (m) {
    case M_Z:
        v = ztest(f, n1, n2, &stat);
        alert = v < thr;
        break;
    case M_CHISQUARE:
        v = chisquare(f, n1, n2, &stat);
        alert = v < thr;
        break;
    case M_PSI:
        v = psi(f, n1, n2);
        stat = NAN;
        alert = v >= thr;
        break;
    default:
        v = jensenshannon(f, n1, n2);
        stat = NAN;
        alert = v >= thr;
        m = M_JS;
        break;
    }
    if (isnan(v)) {
        put(jb, "not_enough_data", method_name[m], n2, NAN, 0);
        return;
    }
    jb->drift_evaluated = 1;
    jb->drifted = alert;
    put(jb, "drift_score", method_name[m], v, thr, alert);
    if (is_test(m)) {
        put(jb, "p_value", method_name[m], v, thr, 0);
        put(jb, "statistic", method_name[m], stat, NAN, 0);
    }
}

/* Scratch a worker reuses from feature to feature: the values of one
 * column and the sort's keys (no page faults per feature). */
struct wbuf {
    double   *vals;
    uint64_t *keys;
    size_t    cap;
};

static int sort_values(struct wbuf *wb, double *c, size_t n)
{
    if (!wb->keys && !(wb->keys = malloc((wb->cap ? wb->cap : 1) * 2 *
                                         sizeof *wb->keys)))
        return -1;
    drift_sort(c, n, wb->keys);
    return 0;
}

static void run_numeric(struct job *jb, const struct settings *s,
                        double *c, size_t n, size_t missing, struct wbuf *wb)
{
    const struct dfeat *ref = jb->ref;
    double rows = (double)(n + missing);
    struct freq f = {0, NULL, NULL};
    size_t *cnt = NULL;

    if (jb->kind == 0) {
        double ref_rate = ref->count + ref->missing > 0
                              ? ref->missing / (ref->count + ref->missing)
                              : 0;
        double rate = rows > 0 ? (double)missing / rows : 0;
        put(jb, "missing_rate", "quality", rate, ref_rate + s->missing_margin,
            rate > ref_rate + s->missing_margin);
    }
    if ((double)n < s->min_rows || ref->count < 1 || ref->m == 0) {
        put(jb, "not_enough_data",
            ref->count < 1 ? "reference_empty" : "count", (double)n,
            s->min_rows, 0);
        return;
    }
    double cmin = c[0], cmax = c[0], out = 0;
    for (size_t i = 0; i < n; i++) {
        double x = c[i];
        cmin = x < cmin ? x : cmin;
        cmax = x > cmax ? x : cmax;
        out += x < ref->min || x > ref->max;
    }
    if (jb->kind == 0) {
        double share = out / (double)n;
        put(jb, "out_of_range_share", "range", share, s->range_threshold,
            share > s->range_threshold);
    }
    enum method m = jb->method;
    if (m == M_AUTO) {
        size_t distinct = union_distinct(ref, c, n, 5);
        if (ref->count <= s->auto_ref_rows)
            m = distinct > 5 ? M_KS : distinct > 2 ? M_CHISQUARE : M_Z;
        else
            m = distinct > 5 ? M_WASSERSTEIN : M_JS;
    }
    double thr = feature_threshold(s, jb->name, m);
    if (m == M_KS) {
        cnt = malloc((2 * ref->m + 1) * sizeof *cnt);
        if (!cnt || knot_counts(ref, c, n, cnt))
            goto oom;
        double d = ks_from_counts(ref, cnt, n);
        int exact;
        double p = drift_ks_pvalue((size_t)ref->count, n, &d, &exact);
        free(cnt);
        jb->drift_evaluated = 1;
        jb->drifted = p <= thr;
        put(jb, "drift_score", "ks", p, thr, jb->drifted);
        put(jb, "p_value", "ks", p, thr, 0);
        put(jb, "statistic", exact ? "ks_exact" : "ks_asymp", d, NAN, 0);
        return;
    }
    if (m == M_WASSERSTEIN) {
        if (sort_values(wb, c, n))
            goto oom;
        double norm = ref->std > 0.001 ? ref->std : 0.001;
        double v = wasserstein(ref, c, n) / norm;
        jb->drift_evaluated = 1;
        jb->drifted = v >= thr;
        put(jb, "drift_score", "wasserstein", v, thr, jb->drifted);
        return;
    }
    /* Frequencies: per value when the reference has at most 20 distinct
     * values (always for the tests), else equal-width bins (PSI, JS). */
    int per_value = ref->exact && ref->distinct <= 20;
    if (m == M_CHISQUARE || m == M_Z)
        per_value = 1;
    if (per_value && !ref->exact) {
        put(jb, "not_enough_data", "summary_not_exact", (double)n, NAN, 0);
        return;
    }
    if (per_value) {
        if (sort_values(wb, c, n) || freq_numeric(ref, c, n, &f))
            goto oom;
    } else if (freq_binned(ref, c, n, cmin, cmax, (size_t)s->psi_bins, &f)) {
        goto oom;
    }
    emit_freq_method(jb, m, thr, &f, ref->count, (double)n);
    freq_free(&f);
    return;
oom:
    free(cnt);
    freq_free(&f);
    jb->status = ORR_ENOMEM;
    snprintf(jb->err, sizeof jb->err, "feature %s: out of memory", jb->name);
}

static void run_categorical(struct job *jb, const struct settings *s)
{
    const struct dfeat *ref = jb->ref;
    struct freq f = {0, NULL, NULL};
    double n, missing, new_share;
    if (freq_categorical(ref, jb->col, jb->rows, &f, &n, &missing,
                         &new_share)) {
        freq_free(&f);
        jb->status = ORR_ENOMEM;
        snprintf(jb->err, sizeof jb->err, "feature %s: out of memory",
                 jb->name);
        return;
    }
    double ref_rate = ref->count + ref->missing > 0
                          ? ref->missing / (ref->count + ref->missing)
                          : 0;
    double rate = jb->rows ? missing / (double)jb->rows : 0;
    put(jb, "missing_rate", "quality", rate, ref_rate + s->missing_margin,
        rate > ref_rate + s->missing_margin);
    if (n < s->min_rows || ref->count < 1) {
        put(jb, "not_enough_data",
            ref->count < 1 ? "reference_empty" : "count", n, s->min_rows, 0);
        freq_free(&f);
        return;
    }
    put(jb, "out_of_range_share", "new_category", new_share,
        s->range_threshold, new_share > s->range_threshold);
    freq_compact(&f);
    enum method m = jb->method;
    if (m == M_KS || m == M_WASSERSTEIN)
        m = M_AUTO;     /* not defined on labels: choose as Evidently */
    if (m == M_AUTO) {
        if (ref->count <= s->auto_ref_rows)
            m = f.k > 2 ? M_CHISQUARE : M_Z;
        else
            m = M_JS;
    }
    emit_freq_method(jb, m, feature_threshold(s, jb->name, m), &f,
                     ref->count, n);
    freq_free(&f);
}

static void run_job(struct job *jb, const struct settings *s,
                    struct wbuf *wb)
{
    size_t n = 0;
    if (jb->kind == 0 && jb->ref->categorical) {
        if (jb->col->type != ORR_COL_CATEGORY) {
            put(jb, "type_mismatch", "schema", 1, NAN, 1);
            return;
        }
        run_categorical(jb, s);
        return;
    }
    if (jb->kind == 0 && jb->col->type == ORR_COL_CATEGORY) {
        put(jb, "type_mismatch", "schema", 1, NAN, 1);
        return;
    }
    if (!wb->vals &&
        !(wb->vals = malloc((wb->cap ? wb->cap : 1) * sizeof *wb->vals))) {
        jb->status = ORR_ENOMEM;
        snprintf(jb->err, sizeof jb->err, "feature %s: out of memory",
                 jb->name);
        return;
    }
    double *c = wb->vals;
    if (jb->kind == 0) {
        n = drift_column_into(jb->col, jb->rows, c);
    } else if (jb->kind == 1) {
        n = drift_matrix_into(jb->mat, jb->mat_col, c);
    } else {
        for (size_t i = 0; i < jb->rows; i++)
            if (isfinite(jb->labels[i]))
                c[n++] = jb->labels[i] + 0.0;
    }
    run_numeric(jb, s, c, n, jb->rows - n, wb);
}

struct pool {
    struct job            *jobs;
    size_t                 n, next, max_rows;
    const struct settings *s;
    pthread_mutex_t        lock;
};

static void *worker(void *arg)
{
    struct pool *p = arg;
    struct wbuf wb = {NULL, NULL, p->max_rows};
    for (;;) {
        pthread_mutex_lock(&p->lock);
        size_t i = p->next++;
        pthread_mutex_unlock(&p->lock);
        if (i >= p->n)
            break;
        run_job(&p->jobs[i], p->s, &wb);
    }
    free(wb.vals);
    free(wb.keys);
    return NULL;
}

static void run_jobs(struct job *jobs, size_t n, const struct settings *s)
{
    struct pool p = {jobs, n, 0, 0, s, PTHREAD_MUTEX_INITIALIZER};
    pthread_t th[MAX_THREADS];
    int started = 0;
    int want = s->threads < (int)n ? s->threads : (int)n;
    for (size_t i = 0; i < n; i++)
        if (jobs[i].rows > p.max_rows)
            p.max_rows = jobs[i].rows;
    for (int t = 1; t < want; t++) {
        if (pthread_create(&th[started], NULL, worker, &p) != 0)
            break;      /* fewer threads: the calling thread still works */
        started++;
    }
    worker(&p);
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    pthread_mutex_destroy(&p.lock);
}

/* --- the profile cache ---------------------------------------------------- */

/* The profile at `path`, parsed once and kept while the file's mtime and
 * size stay the same.  Returned under self->lock (the caller unlocks). */
static int get_profile(struct drift_self *self, const char *path,
                       const struct dprofile **out, struct orr_error *e)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return H->fail(e, errno == ENOENT ? ORR_ENOTFOUND : ORR_EIO,
                       "reference profile %s: %s", path, strerror(errno));
    if (self->cached && self->cached_path &&
        !strcmp(self->cached_path, path) &&
        self->cached_mtime.tv_sec == st.st_mtim.tv_sec &&
        self->cached_mtime.tv_nsec == st.st_mtim.tv_nsec &&
        self->cached_size == st.st_size) {
        *out = self->cached;
        return ORR_OK;
    }
    struct dprofile *p = NULL;
    int rc = drift_profile_read(path, &p, e);
    if (rc)
        return rc;
    char *dup = strdup(path);
    if (!dup) {
        drift_profile_free(p);
        return H->fail(e, ORR_ENOMEM, "out of memory");
    }
    drift_profile_free(self->cached);
    free(self->cached_path);
    self->cached = p;
    self->cached_path = dup;
    self->cached_mtime = st.st_mtim;
    self->cached_size = st.st_size;
    *out = p;
    return ORR_OK;
}

/* --- the vtable ----------------------------------------------------------- */

static int drift_open(void *vself, const struct orr_cfg *cfg,
                      struct orr_error *e)
{
    struct drift_self *self = vself;
    self->cfg = cfg;
    self->popt.exact_max = (size_t)H->cfg_int(cfg, "exact_max", 10000);
    self->popt.quantiles = (size_t)H->cfg_int(cfg, "quantiles", 4097);
    self->popt.hist_bins = (size_t)H->cfg_int(cfg, "histogram_bins", 20);
    if (self->popt.quantiles < 2 || self->popt.quantiles > 1000000 ||
        self->popt.exact_max > 1000000 || self->popt.hist_bins < 1 ||
        self->popt.hist_bins > 10000)
        return H->fail(e, ORR_ECONFIG,
                       "monitor drift: quantiles must be 2..1000000, "
                       "exact_max 0..1000000, histogram_bins 1..10000");
    const char *m = H->cfg_str(cfg, "method", NULL);
    enum method dummy;
    if (parse_method(m, &dummy) < 0)
        return H->fail(e, ORR_ECONFIG,
                       "monitor drift: unknown method '%s' (known: ks, "
                       "chisquare, z, wasserstein, jensenshannon, psi, "
                       "auto)", m);
    if (pthread_mutex_init(&self->lock, NULL) != 0)
        return H->fail(e, ORR_ENOMEM, "monitor drift: mutex");
    self->lock_ok = 1;
    return ORR_OK;
}

static void drift_close(void *vself)
{
    struct drift_self *self = vself;
    if (!self)
        return;
    drift_profile_free(self->cached);
    free(self->cached_path);
    if (self->lock_ok)
        pthread_mutex_destroy(&self->lock);
    self->cached = NULL;
    self->cached_path = NULL;
    self->lock_ok = 0;
}

static int drift_profile(void *vself, const struct orr_table *reference,
                         const struct orr_matrix *predictions,
                         const char *out_path, struct orr_error *e)
{
    struct drift_self *self = vself;
    if (!reference || !out_path)
        return H->fail(e, ORR_EINVAL,
                       "monitor drift: profile needs a reference table and "
                       "an output path");
    /* Predictions may come from a held-out set of another size. */
    if (predictions && predictions->rows && !predictions->data)
        return H->fail(e, ORR_EINVAL,
                       "monitor drift: predictions without data");
    return drift_profile_write(reference, predictions, &self->popt, out_path,
                               e);
}

static int sink_put(const struct orr_monitor_sink *sink,
                    const struct orr_monitor_value *v, struct orr_error *e)
{
    int r = sink->value(sink->ctx, v);
    if (r)
        return H->fail(e, ORR_ECANCELED,
                       "monitor drift: the sink refused %s/%s (%d)",
                       v->feature ? v->feature : "-", v->metric, r);
    return ORR_OK;
}

static int emit(const struct orr_monitor_sink *sink, const char *feature,
                const char *metric, const char *method, double value,
                double threshold, int alert, struct orr_error *e)
{
    struct orr_monitor_value v = {sizeof v, feature, metric, method,
                                  value, threshold, alert};
    return sink_put(sink, &v, e);
}

static const struct orr_column *find_column(const struct orr_table *t,
                                            const char *name)
{
    for (size_t j = 0; t && j < t->cols; j++)
        if (t->columns[j].name && !strcmp(t->columns[j].name, name))
            return &t->columns[j];
    return NULL;
}

static int drift_analyze(void *vself, const struct orr_monitor_window *w,
                         const struct orr_monitor_sink *sink,
                         struct orr_error *e)
{
    struct drift_self *self = vself;
    const struct dprofile *p = NULL;
    struct settings s;
    struct job *jobs = NULL;
    size_t n_jobs = 0;
    int rc, locked = 0;

    if (!w || !sink || !sink->value)
        return H->fail(e, ORR_EINVAL, "monitor drift: no window or sink");
    if (!w->reference_profile)
        return H->fail(e, ORR_EINVAL,
                       "monitor drift: the window has no reference profile");
    settings_init(&s, self->cfg, w->thresholds);
    pthread_mutex_lock(&self->lock);
    locked = 1;
    rc = get_profile(self, w->reference_profile, &p, e);
    if (rc)
        goto out;
    /* A window may carry only predictions (inputs not logged): then
     * there is prediction drift and no feature to call absent. */
    size_t rows = w->current ? w->current->rows : 0;
    size_t any = rows;
    if (!w->current && w->predictions && w->predictions->data)
        any = w->predictions->rows;
    if ((double)any < s.min_rows) {
        rc = emit(sink, NULL, "not_enough_data", "count", (double)any,
                  s.min_rows, 0, e);
        goto out;
    }
    size_t cap = p->n_feat + p->n_pred + 1;
    jobs = calloc(cap, sizeof *jobs);
    if (!jobs) {
        rc = H->fail(e, ORR_ENOMEM, "monitor drift: out of memory");
        goto out;
    }
    /* Schema first: absent features are reported, never analysed. */
    for (size_t i = 0; w->current && i < p->n_feat; i++) {
        const struct dfeat *f = &p->feat[i];
        const struct orr_column *c = find_column(w->current, f->name);
        struct job *jb = &jobs[n_jobs++];
        jb->ref = f;
        jb->name = f->name;
        jb->kind = 0;
        jb->col = c;
        jb->rows = rows;
        if (!c) {
            put(jb, "feature_absent", "schema", 1, NAN, 1);
            continue;
        }
        if ((rc = feature_method(&s, f->name, f->categorical, &jb->method,
                                 e)))
            goto out;
    }
    const struct orr_matrix *pm = w->predictions;
    for (size_t j = 0; pm && pm->data && pm->rows && j < p->n_pred; j++) {
        struct job *jb = &jobs[n_jobs++];
        size_t col = j;
        if (p->n_pred == 1)
            col = 0;
        if (col >= pm->cols) {
            n_jobs--;
            break;
        }
        jb->ref = &p->pred[j];
        jb->name = p->pred[j].name;
        jb->kind = 1;
        jb->mat = pm;
        jb->mat_col = col;
        jb->rows = pm->rows;
        if ((rc = feature_method(&s, jb->name, 0, &jb->method, e)))
            goto out;
    }
    if (w->labels && w->current && p->target && !p->target->categorical) {
        struct job *jb = &jobs[n_jobs++];
        jb->ref = p->target;
        jb->name = p->target->name;
        jb->kind = 2;
        jb->labels = w->labels;
        jb->rows = rows;
        if ((rc = feature_method(&s, jb->name, 0, &jb->method, e)))
            goto out;
    }
    /* The jobs that need computing (absent features have their value). */
    {
        size_t k = 0;
        struct job **todo = calloc(n_jobs ? n_jobs : 1, sizeof *todo);
        struct job *flat;
        if (!todo) {
            rc = H->fail(e, ORR_ENOMEM, "monitor drift: out of memory");
            goto out;
        }
        for (size_t i = 0; i < n_jobs; i++)
            if (!(jobs[i].kind == 0 && !jobs[i].col))
                todo[k++] = &jobs[i];
        /* Run in place: the pool walks an array of jobs, so give it a
         * compacted copy and copy back. */
        flat = calloc(k ? k : 1, sizeof *flat);
        if (!flat) {
            free(todo);
            rc = H->fail(e, ORR_ENOMEM, "monitor drift: out of memory");
            goto out;
        }
        for (size_t i = 0; i < k; i++)
            flat[i] = *todo[i];
        run_jobs(flat, k, &s);
        for (size_t i = 0; i < k; i++)
            *todo[i] = flat[i];
        free(flat);
        free(todo);
    }
    size_t evaluated = 0, drifted = 0;
    for (size_t i = 0; i < n_jobs; i++) {
        struct job *jb = &jobs[i];
        if (jb->status) {
            rc = H->fail(e, jb->status, "monitor drift: %s", jb->err);
            goto out;
        }
        for (size_t v = 0; v < jb->n_values; v++) {
            jb->values[v].feature = jb->name;
            if ((rc = sink_put(sink, &jb->values[v], e)))
                goto out;
        }
        if (jb->kind == 0 && jb->drift_evaluated) {
            evaluated++;
            drifted += (size_t)jb->drifted;
        }
    }
    if (evaluated == 0) {
        rc = emit(sink, NULL, "not_enough_data", "no_feature_evaluated", 0,
                  NAN, 0, e);
        goto out;
    }
    double share = (double)drifted / (double)evaluated;
    int ds = share >= s.drift_share;
    if ((rc = emit(sink, NULL, "drift_share", "share", share, s.drift_share,
                   ds, e)))
        goto out;
    if ((rc = emit(sink, NULL, "n_drifted_features", "count",
                   (double)drifted, NAN, 0, e)))
        goto out;
    /* The alert rides on drift_share; a second one here would raise two
     * alerts for one event. */
    rc = emit(sink, NULL, "dataset_drift", "share", ds ? 1.0 : 0.0,
              s.drift_share, 0, e);
out:
    if (locked)
        pthread_mutex_unlock(&self->lock);
    free(jobs);
    return rc;
}

static const struct orr_monitor_ops drift_ops = {
    ORR_MONITOR_OPS_V1,
    "drift",
    "per-feature drift (KS, chi-square, PSI, Wasserstein, Jensen-Shannon) "
    "and data quality against a stored reference profile",
    sizeof(struct drift_self),
    drift_open,
    drift_close,
    drift_profile,
    drift_analyze,
    NULL,
};

static int drift_init(const struct orr_host *h, struct orr_registry *r,
                      struct orr_error *e)
{
    drift_host = h;
    return h->add_monitor(r, &drift_ops, e);
}

ORR_PLUGIN("monitor-drift", "1.0.0", "Apache-2.0",
           "the default monitor: reference profiles, drift tests, data "
           "quality", drift_init, NULL)
