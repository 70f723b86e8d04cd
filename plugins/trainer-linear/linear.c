/*
 * trainer-linear - the default trainer: linear regression (ridge, closed
 * form by Cholesky) and L2-regularised logistic regression (binary, and
 * multinomial softmax), on standardised features, solved with L-BFGS.
 * No dependency beyond jansson for the model file.
 *
 * Features: every column but the target.  Numeric columns are one input
 * each; categorical columns are one-hot encoded over the labels seen in
 * training, inputs named "COLUMN=LABEL".  Missing values (and NaN) take
 * the training mean of the input.  Inputs are standardised with the
 * training mean and population standard deviation (scale 1 when it is 0).
 *
 * Objectives (w excludes the intercept, which is not penalised):
 *   logistic:  C * sum_i logloss_i + ||w||^2 / 2      (sklearn's lbfgs)
 *   linear:    ||y - Xw - b||^2 + alpha ||w||^2        (sklearn's Ridge)
 * The logistic objective is divided by n*C for the solver (same optimum,
 * gradients of order 1).  Everything is sequential or split into fixed
 * row blocks reduced in order, so a fit is deterministic: the same data
 * and params give the same bytes in model.json.
 *
 * The model format (model.json) is documented in docs/training.md.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <orrery/host.h>
#include <orrery/plugin.h>

#define FORMAT "orrery-linear"
#define LBFGS_M 10
#define MAX_THREADS 64

static const struct orr_host *H;

/* --- the model ----------------------------------------------------------- */

struct lmodel {
    enum orr_task task;
    size_t        d;            /* inputs                                   */
    size_t        k;            /* rows of coef: 1 (regression, binary) or K */
    size_t        n_out;
    char        **inputs;       /* d names                                  */
    char        **outputs;      /* n_out names                              */
    double       *mean;         /* d: training mean (imputation, centring)  */
    double       *scale;        /* d                                        */
    double       *coef;         /* k x d, standardised space                */
    double       *intercept;    /* k                                        */
    /* Folded for prediction: raw-space coefficients and intercepts. */
    double       *rcoef;
    double       *rintercept;
};

static void lmodel_clear(struct lmodel *m)
{
    if (m->inputs)
        for (size_t j = 0; j < m->d; j++)
            free(m->inputs[j]);
    if (m->outputs)
        for (size_t j = 0; j < m->n_out; j++)
            free(m->outputs[j]);
    free(m->inputs);
    free(m->outputs);
    free(m->mean);
    free(m->scale);
    free(m->coef);
    free(m->intercept);
    free(m->rcoef);
    free(m->rintercept);
    memset(m, 0, sizeof *m);
}

/* --- design matrix -------------------------------------------------------- */

struct input {
    size_t  col;                /* table column                             */
    int32_t level;              /* -1: numeric; else the one-hot level      */
};

struct design {
    size_t        n, d;
    struct input *in;
    char        **names;
    double       *x;            /* n x d standardised, row-major            */
    double       *mean, *scale;
};

static void design_free(struct design *D)
{
    if (D->names)
        for (size_t j = 0; j < D->d; j++)
            free(D->names[j]);
    free(D->names);
    free(D->in);
    free(D->x);
    free(D->mean);
    free(D->scale);
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* Raw value of input j at row r: NAN when missing. */
static double raw_value(const struct orr_table *t, const struct input *in,
                        size_t r)
{
    const struct orr_column *c = &t->columns[in->col];
    if (c->missing && c->missing[r])
        return NAN;
    switch (c->type) {
    case ORR_COL_F64: return ((const double *)c->data)[r];
    case ORR_COL_F32: return ((const float *)c->data)[r];
    case ORR_COL_I64:
    case ORR_COL_TIME: return (double)((const int64_t *)c->data)[r];
    case ORR_COL_CATEGORY: {
        int32_t code = ((const int32_t *)c->data)[r];
        return code < 0 ? NAN : code == in->level;
    }
    }
    return NAN;
}

static int build_design(const struct orr_table *t, struct design *D,
                        struct orr_error *e)
{
    memset(D, 0, sizeof *D);
    size_t n = t->rows, cap = 0;
    D->n = n;
    for (size_t c = 0; c < t->cols; c++) {
        const struct orr_column *col = &t->columns[c];
        if (c == t->target)
            continue;
        size_t add = 1;
        uint8_t *seen = NULL;
        if (col->type == ORR_COL_CATEGORY) {
            /* Only labels present in training become inputs. */
            seen = calloc(col->dict_len ? col->dict_len : 1, 1);
            if (!seen)
                return H->fail(e, ORR_ENOMEM, "out of memory");
            const int32_t *codes = col->data;
            for (size_t r = 0; r < n; r++)
                if (codes[r] >= 0 && (size_t)codes[r] < col->dict_len)
                    seen[codes[r]] = 1;
            add = 0;
            for (size_t l = 0; l < col->dict_len; l++)
                add += seen[l];
        }
        if (D->d + add > cap) {
            cap = (D->d + add) * 2;
            void *a = realloc(D->in, cap * sizeof *D->in);
            if (a)
                D->in = a;
            void *b = realloc(D->names, cap * sizeof *D->names);
            if (b)
                D->names = b;
            if (!a || !b) {
                free(seen);
                return H->fail(e, ORR_ENOMEM, "out of memory");
            }
        }
        if (col->type != ORR_COL_CATEGORY) {
            D->in[D->d].col = c;
            D->in[D->d].level = -1;
            if (!(D->names[D->d] = dupstr(col->name)))
                return H->fail(e, ORR_ENOMEM, "out of memory");
            D->d++;
            continue;
        }
        for (size_t l = 0; l < col->dict_len; l++) {
            if (!seen[l])
                continue;
            size_t len = strlen(col->name) + strlen(col->dict[l]) + 2;
            char *name = malloc(len);
            if (!name) {
                free(seen);
                return H->fail(e, ORR_ENOMEM, "out of memory");
            }
            snprintf(name, len, "%s=%s", col->name, col->dict[l]);
            D->in[D->d].col = c;
            D->in[D->d].level = (int32_t)l;
            D->names[D->d++] = name;
        }
        free(seen);
    }
    if (D->d == 0)
        return H->fail(e, ORR_EINVAL, "no feature columns besides the "
                       "target");
    size_t d = D->d;
    if (n > SIZE_MAX / sizeof(double) / d)
        return H->fail(e, ORR_EINVAL, "training matrix too large");
    D->x = malloc(n * d * sizeof *D->x);
    D->mean = calloc(d, sizeof *D->mean);
    D->scale = calloc(d, sizeof *D->scale);
    if (!D->x || !D->mean || !D->scale)
        return H->fail(e, ORR_ENOMEM, "out of memory (%zu x %zu inputs)",
                       n, d);
    /* Row-major passes (the matrix is row-major): raw values and sums,
     * then imputation and squared deviations, then standardisation. */
    size_t *cnt = calloc(d, sizeof *cnt);
    double *ss = calloc(d, sizeof *ss);
    if (!cnt || !ss) {
        free(cnt);
        free(ss);
        return H->fail(e, ORR_ENOMEM, "out of memory");
    }
    int rc = ORR_OK;
    for (size_t r = 0; r < n && !rc; r++) {
        double *xr = D->x + r * d;
        for (size_t j = 0; j < d; j++) {
            double v = raw_value(t, &D->in[j], r);
            if (isinf(v)) {
                rc = H->fail(e, ORR_EINVAL, "column '%s', row %zu: "
                             "infinite value",
                             t->columns[D->in[j].col].name, r + 1);
                break;
            }
            if (!isnan(v)) {
                D->mean[j] += v;
                cnt[j]++;
            }
            xr[j] = v;
        }
    }
    for (size_t j = 0; j < d && !rc; j++) {
        if (!cnt[j])
            rc = H->fail(e, ORR_EINVAL, "column '%s' has no value in the "
                         "training data", t->columns[D->in[j].col].name);
        else
            D->mean[j] /= (double)cnt[j];
    }
    for (size_t r = 0; r < n && !rc; r++) {
        double *xr = D->x + r * d;
        for (size_t j = 0; j < d; j++) {
            if (isnan(xr[j]))
                xr[j] = D->mean[j];
            double dv = xr[j] - D->mean[j];
            ss[j] += dv * dv;
        }
    }
    for (size_t j = 0; j < d && !rc; j++) {
        double sd = sqrt(ss[j] / (double)n);
        D->scale[j] = sd > 0 ? sd : 1.0;
        ss[j] = 1.0 / D->scale[j];
    }
    for (size_t r = 0; r < n && !rc; r++) {
        double *xr = D->x + r * d;
        for (size_t j = 0; j < d; j++)
            xr[j] = (xr[j] - D->mean[j]) * ss[j];
    }
    free(cnt);
    free(ss);
    return rc;
}

/* --- target --------------------------------------------------------------- */

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

static const char *const *g_dict;

static int cmp_label(const void *pa, const void *pb)
{
    return strcmp(g_dict[*(const int32_t *)pa], g_dict[*(const int32_t *)pb]);
}

static void fmt_num(char *out, size_t cap, double v)
{
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, cap, "%.0f", v);
        return;
    }
    for (int p = 15; p <= 17; p++) {
        snprintf(out, cap, "%.*g", p, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* Class index per row and class labels (sorted like sklearn's classes_). */
static int class_target(const struct orr_table *t, size_t *y, char ***labels,
                        size_t *k, struct orr_error *e)
{
    const struct orr_column *c = &t->columns[t->target];
    size_t n = t->rows, nk = 0;
    *labels = NULL;
    if (c->type == ORR_COL_CATEGORY) {
        const int32_t *codes = c->data;
        int32_t *used = malloc((c->dict_len + 1) * sizeof *used);
        size_t *map = malloc((c->dict_len + 1) * sizeof *map);
        uint8_t *seen = calloc(c->dict_len + 1, 1);
        if (!used || !map || !seen) {
            free(used);
            free(map);
            free(seen);
            return H->fail(e, ORR_ENOMEM, "out of memory");
        }
        for (size_t r = 0; r < n; r++)
            if (codes[r] >= 0 && !seen[codes[r]]) {
                seen[codes[r]] = 1;
                used[nk++] = codes[r];
            }
        g_dict = c->dict;
        qsort(used, nk, sizeof *used, cmp_label);
        char **l = calloc(nk ? nk : 1, sizeof *l);
        for (size_t i = 0; l && i < nk; i++) {
            map[used[i]] = i;
            l[i] = dupstr(c->dict[used[i]]);
        }
        for (size_t r = 0; r < n; r++)
            y[r] = map[codes[r]];
        free(used);
        free(map);
        free(seen);
        *labels = l;
    } else {
        double *u = malloc((n ? n : 1) * sizeof *u);
        if (!u)
            return H->fail(e, ORR_ENOMEM, "out of memory");
        for (size_t r = 0; r < n; r++)
            u[r] = raw_value(t, &(struct input){t->target, -1}, r);
        qsort(u, n, sizeof *u, cmp_double);
        for (size_t r = 0; r < n; r++)
            if (r == 0 || u[r] != u[nk - 1])
                u[nk++] = u[r];
        char **l = calloc(nk ? nk : 1, sizeof *l);
        for (size_t i = 0; l && i < nk; i++) {
            char buf[40];
            fmt_num(buf, sizeof buf, u[i]);
            l[i] = dupstr(buf);
        }
        for (size_t r = 0; r < n; r++) {
            double v = raw_value(t, &(struct input){t->target, -1}, r);
            size_t lo = 0, hi = nk;
            while (lo + 1 < hi) {
                size_t mid = (lo + hi) / 2;
                if (u[mid] <= v)
                    lo = mid;
                else
                    hi = mid;
            }
            y[r] = lo;
        }
        free(u);
        *labels = l;
    }
    *k = nk;
    if (!*labels)
        return H->fail(e, ORR_ENOMEM, "out of memory");
    for (size_t i = 0; i < nk; i++)
        if (!(*labels)[i])
            return H->fail(e, ORR_ENOMEM, "out of memory");
    return ORR_OK;
}

/* --- L-BFGS --------------------------------------------------------------- */

typedef double (*objective_fn)(void *ctx, const double *x, double *g);
typedef void (*iter_fn)(void *ctx, size_t it, double f);

/* Four partial sums: independent chains keep the FPU busy (a single sum
 * is bound by the add latency).  Fixed order, so still deterministic. */
static double dot(const double *a, const double *b, size_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static double norm_inf(const double *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(a[i]) > m)
            m = fabs(a[i]);
    return m;
}

/* Minimise fn from x (updated in place).  Two-loop recursion with memory
 * LBFGS_M; backtracking line search on the Armijo condition, pairs kept
 * only when s'y > 0 (so the inverse Hessian stays positive definite).
 * Stops when |g|_inf <= tol, when no step decreases f (converged to
 * machine precision), or after max_iter iterations. */
static int lbfgs(objective_fn fn, void *ctx, double *x, size_t p,
                 size_t max_iter, double tol, iter_fn on_iter,
                 size_t *iters, int *converged)
{
    double *mem = calloc(p * (4 + 2 * LBFGS_M) + 2 * LBFGS_M, sizeof *mem);
    if (!mem)
        return ORR_ENOMEM;
    double *g = mem, *d = g + p, *xn = d + p, *gn = xn + p;
    double *S = gn + p, *Y = S + p * LBFGS_M;
    double *rho = Y + p * LBFGS_M, *alpha = rho + LBFGS_M;
    size_t head = 0, stored = 0, it = 0;
    double f = fn(ctx, x, g);
    *converged = 0;
    while (it < max_iter) {
        if (norm_inf(g, p) <= tol) {
            *converged = 1;
            break;
        }
        /* d = -H g */
        for (size_t i = 0; i < p; i++)
            d[i] = -g[i];
        for (size_t k = 0; k < stored; k++) {
            size_t j = (head + LBFGS_M - 1 - k) % LBFGS_M;
            alpha[j] = rho[j] * dot(S + j * p, d, p);
            for (size_t i = 0; i < p; i++)
                d[i] -= alpha[j] * Y[j * p + i];
        }
        if (stored) {
            size_t j = (head + LBFGS_M - 1) % LBFGS_M;
            double gamma = dot(S + j * p, Y + j * p, p) /
                           dot(Y + j * p, Y + j * p, p);
            for (size_t i = 0; i < p; i++)
                d[i] *= gamma;
        } else {
            double gn0 = sqrt(dot(g, g, p));
            for (size_t i = 0; i < p; i++)
                d[i] /= gn0 > 1 ? gn0 : 1;
        }
        for (size_t k = stored; k-- > 0;) {
            size_t j = (head + LBFGS_M - 1 - k) % LBFGS_M;
            double b = rho[j] * dot(Y + j * p, d, p);
            for (size_t i = 0; i < p; i++)
                d[i] += S[j * p + i] * (alpha[j] - b);
        }
        double gd = dot(g, d, p);
        if (gd >= 0) {      /* not a descent direction: restart */
            for (size_t i = 0; i < p; i++)
                d[i] = -g[i];
            gd = -dot(g, g, p);
            stored = 0;
        }
        double step = 1.0, fn_ = 0;
        int ok = 0;
        for (int ls = 0; ls < 60; ls++) {
            for (size_t i = 0; i < p; i++)
                xn[i] = x[i] + step * d[i];
            fn_ = fn(ctx, xn, gn);
            if (fn_ <= f + 1e-4 * step * gd) {
                ok = 1;
                break;
            }
            step *= 0.5;
        }
        if (!ok) {
            *converged = 1;     /* no decrease left at double precision */
            break;
        }
        double *s = S + head * p, *y = Y + head * p;
        for (size_t i = 0; i < p; i++) {
            s[i] = xn[i] - x[i];
            y[i] = gn[i] - g[i];
        }
        double sy = dot(s, y, p);
        if (sy > 1e-16 * dot(y, y, p)) {
            rho[head] = 1.0 / sy;
            head = (head + 1) % LBFGS_M;
            if (stored < LBFGS_M)
                stored++;
        }
        double fprev = f;
        memcpy(x, xn, p * sizeof *x);
        memcpy(g, gn, p * sizeof *g);
        f = fn_;
        it++;
        if (on_iter)
            on_iter(ctx, it, f);
        if (fprev - f <= 1e-16 * fabs(f) && norm_inf(g, p) <= tol * 1e3) {
            *converged = 1;
            break;
        }
    }
    *iters = it;
    free(mem);
    return ORR_OK;
}

/* --- logistic objective (binary and multinomial), threaded ------------ */

struct logit {
    const double *x;
    const size_t *y;
    size_t        n, d, k;      /* k = 1: binary (y in {0,1}); else K    */
    double        lambda;       /* 1 / (C n)                              */
    unsigned      threads;
    struct orr_run *run;
    /* per-thread partial results */
    double       *part_g;       /* threads x p                            */
    double       *part_f;
};

struct logit_job {
    struct logit *L;
    const double *w;
    size_t        lo, hi, t;
};

/* Loss and gradient over rows [lo, hi) into part t (unscaled sums). */
static void *logit_block(void *arg)
{
    struct logit_job *j = arg;
    const struct logit *L = j->L;
    size_t d = L->d, k = L->k, p = k * (d + 1);
    double *g = L->part_g + j->t * p, f = 0;
    memset(g, 0, p * sizeof *g);
    double z[256];
    double *zz = k <= 256 ? z : malloc(k * sizeof *zz);
    if (!zz) {
        L->part_f[j->t] = NAN;
        return NULL;
    }
    for (size_t r = j->lo; r < j->hi; r++) {
        const double *xr = L->x + r * d;
        for (size_t c = 0; c < k; c++) {
            const double *w = j->w + c * (d + 1);
            zz[c] = w[d] + dot(w, xr, d);
        }
        if (k == 1) {
            double t = L->y[r] ? 1.0 : 0.0, zv = zz[0];
            /* log(1 + exp(-s z)), s = +-1, stably */
            double m = t ? -zv : zv;
            f += m > 0 ? m + log1p(exp(-m)) : log1p(exp(m));
            double pr = zv >= 0 ? 1 / (1 + exp(-zv)) :
                        exp(zv) / (1 + exp(zv));
            double diff = pr - t;
            for (size_t i = 0; i < d; i++)
                g[i] += diff * xr[i];
            g[d] += diff;
        } else {
            double mx = zz[0];
            for (size_t c = 1; c < k; c++)
                if (zz[c] > mx)
                    mx = zz[c];
            double se = 0;
            for (size_t c = 0; c < k; c++)
                se += exp(zz[c] - mx);
            double lse = mx + log(se);
            f += lse - zz[L->y[r]];
            for (size_t c = 0; c < k; c++) {
                double diff = exp(zz[c] - lse) - (c == L->y[r]);
                double *gc = g + c * (d + 1);
                for (size_t i = 0; i < d; i++)
                    gc[i] += diff * xr[i];
                gc[d] += diff;
            }
        }
    }
    if (zz != z)
        free(zz);
    L->part_f[j->t] = f;
    return NULL;
}

static double logit_fn(void *ctx, const double *w, double *g)
{
    struct logit *L = ctx;
    size_t d = L->d, k = L->k, p = k * (d + 1);
    unsigned T = L->threads;
    struct logit_job jobs[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    size_t per = (L->n + T - 1) / T;
    unsigned started = 0;
    for (unsigned t = 0; t < T; t++) {
        jobs[t] = (struct logit_job){L, w, t * per,
                                     (t + 1) * per < L->n ? (t + 1) * per :
                                     L->n, t};
        if (jobs[t].lo > jobs[t].hi)
            jobs[t].lo = jobs[t].hi;
    }
    for (unsigned t = 1; t < T; t++)
        if (pthread_create(&tid[t], NULL, logit_block, &jobs[t]) == 0)
            started |= 1u << (t < 32 ? t : 0);
        else
            logit_block(&jobs[t]);
    logit_block(&jobs[0]);
    for (unsigned t = 1; t < T; t++)
        if (t < 32 && (started & (1u << t)))
            pthread_join(tid[t], NULL);
    /* Reduce in thread order: deterministic for a given thread count. */
    double f = 0;
    memset(g, 0, p * sizeof *g);
    for (unsigned t = 0; t < T; t++) {
        f += L->part_f[t];
        const double *pg = L->part_g + t * p;
        for (size_t i = 0; i < p; i++)
            g[i] += pg[i];
    }
    double inv_n = 1.0 / (double)L->n, reg = 0;
    for (size_t i = 0; i < p; i++)
        g[i] *= inv_n;
    for (size_t c = 0; c < k; c++)
        for (size_t i = 0; i < d; i++) {
            double wi = w[c * (d + 1) + i];
            reg += wi * wi;
            g[c * (d + 1) + i] += L->lambda * wi;
        }
    return f * inv_n + 0.5 * L->lambda * reg;
}

static void logit_iter(void *ctx, size_t it, double f)
{
    struct logit *L = ctx;
    struct orr_error e = {0};
    H->log_metric(L->run, "train_loss", f, (int64_t)it, &e);
}

/* --- linear regression ---------------------------------------------------- */

/* Solve A x = b (A symmetric positive definite, d x d) by Cholesky; A is
 * overwritten.  Returns 0, or -1 if A is not positive definite. */
static int cholesky_solve(double *A, double *b, size_t d)
{
    for (size_t j = 0; j < d; j++) {
        double s = A[j * d + j];
        for (size_t k = 0; k < j; k++)
            s -= A[j * d + k] * A[j * d + k];
        if (!(s > 0))
            return -1;
        double l = sqrt(s);
        A[j * d + j] = l;
        for (size_t i = j + 1; i < d; i++) {
            double t = A[i * d + j];
            for (size_t k = 0; k < j; k++)
                t -= A[i * d + k] * A[j * d + k];
            A[i * d + j] = t / l;
        }
    }
    for (size_t i = 0; i < d; i++) {
        double t = b[i];
        for (size_t k = 0; k < i; k++)
            t -= A[i * d + k] * b[k];
        b[i] = t / A[i * d + i];
    }
    for (size_t i = d; i-- > 0;) {
        double t = b[i];
        for (size_t k = i + 1; k < d; k++)
            t -= A[k * d + i] * b[k];
        b[i] = t / A[i * d + i];
    }
    return 0;
}

static int fit_linear(const struct design *D, const double *y, double alpha,
                      struct lmodel *m, struct orr_run *run,
                      struct orr_error *e)
{
    size_t n = D->n, d = D->d;
    double *A = calloc(d * d, sizeof *A), *A0 = calloc(d * d, sizeof *A0);
    double *b = calloc(d, sizeof *b);
    if (!A || !A0 || !b) {
        free(A);
        free(A0);
        free(b);
        return H->fail(e, ORR_ENOMEM, "out of memory");
    }
    double ybar = 0;
    for (size_t r = 0; r < n; r++)
        ybar += y[r];
    ybar /= (double)n;
    for (size_t r = 0; r < n; r++) {
        const double *xr = D->x + r * d;
        double yc = y[r] - ybar;
        for (size_t i = 0; i < d; i++) {
            b[i] += xr[i] * yc;
            for (size_t j = 0; j <= i; j++)
                A0[i * d + j] += xr[i] * xr[j];
        }
    }
    double jitter = 0, trace = 0;
    for (size_t i = 0; i < d; i++)
        trace += A0[i * d + i];
    double *b0 = malloc(d * sizeof *b0);
    if (!b0) {
        free(A);
        free(A0);
        free(b);
        return H->fail(e, ORR_ENOMEM, "out of memory");
    }
    memcpy(b0, b, d * sizeof *b);
    int rc = -1;
    for (int attempt = 0; attempt < 8 && rc; attempt++) {
        for (size_t i = 0; i < d; i++)
            for (size_t j = 0; j <= i; j++)
                A[i * d + j] = A[j * d + i] = A0[i * d + j];
        for (size_t i = 0; i < d; i++) {
            /* Constant inputs (all zero once standardised) get weight 0. */
            A[i * d + i] += alpha + jitter + (A0[i * d + i] == 0 ? 1 : 0);
        }
        memcpy(b, b0, d * sizeof *b);
        rc = cholesky_solve(A, b, d);
        jitter = jitter ? jitter * 100 : 1e-12 * (trace > 0 ? trace : 1);
    }
    free(A);
    free(A0);
    free(b0);
    if (rc) {
        free(b);
        return H->fail(e, ORR_EINVAL, "the inputs are linearly dependent; "
                       "set alpha > 0");
    }
    m->coef = b;
    m->intercept = malloc(sizeof *m->intercept);
    if (!m->intercept)
        return H->fail(e, ORR_ENOMEM, "out of memory");
    m->intercept[0] = ybar;
    double se = 0;
    for (size_t r = 0; r < n; r++) {
        double z = ybar + dot(b, D->x + r * d, d) - y[r];
        se += z * z;
    }
    struct orr_error le = {0};
    H->log_metric(run, "train_rmse", sqrt(se / (double)n), 0, &le);
    return ORR_OK;
}

/* --- writing and reading model.json --------------------------------------- */

static const char *task_name(enum orr_task t)
{
    return t == ORR_TASK_BINARY ? "binary" :
           t == ORR_TASK_MULTICLASS ? "multiclass" : "regression";
}

static json_t *num_array(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

static json_t *str_array(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static int write_model(const char *dir, const struct lmodel *m,
                       const char *target, const struct orr_cfg *params,
                       size_t iters, int converged, struct orr_error *e)
{
    json_t *root = json_object();
    json_t *coef = json_array();
    json_t *inputs = json_array();
    if (!root || !coef || !inputs) {
        json_decref(root);
        json_decref(coef);
        json_decref(inputs);
        return H->fail(e, ORR_ENOMEM, "out of memory");
    }
    for (size_t c = 0; c < m->k; c++)
        json_array_append_new(coef, num_array(m->coef + c * m->d, m->d));
    for (size_t j = 0; j < m->d; j++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(m->inputs[j]));
        json_object_set_new(o, "mean", json_real(m->mean[j]));
        json_object_set_new(o, "scale", json_real(m->scale[j]));
        json_array_append_new(inputs, o);
    }
    json_object_set_new(root, "format", json_string(FORMAT));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "task", json_string(task_name(m->task)));
    json_object_set_new(root, "target", json_string(target));
    json_object_set_new(root, "inputs", inputs);
    json_object_set_new(root, "outputs", str_array(m->outputs, m->n_out));
    json_object_set_new(root, "coef", coef);
    json_object_set_new(root, "intercept", num_array(m->intercept, m->k));
    json_object_set_new(root, "iterations", json_integer((json_int_t)iters));
    json_object_set_new(root, "converged", json_boolean(converged));
    json_t *p = json_object();
    const char *keys[] = {"C", "alpha", "max_iter", "tol"};
    for (size_t i = 0; p && i < sizeof keys / sizeof *keys; i++) {
        const char *v = H->cfg_str(params, keys[i], NULL);
        double dv = H->cfg_num(params, keys[i], NAN);
        if (v)
            json_object_set_new(p, keys[i], json_string(v));
        else if (!isnan(dv))
            json_object_set_new(p, keys[i], json_real(dv));
    }
    json_object_set_new(root, "params", p);
    char path[4096];
    snprintf(path, sizeof path, "%s/model.json", dir);
    int rc = json_dump_file(root, path, JSON_INDENT(1) | JSON_SORT_KEYS |
                                            JSON_REAL_PRECISION(17));
    json_decref(root);
    if (rc)
        return H->fail(e, ORR_EIO, "cannot write %s", path);
    return ORR_OK;
}

/* Precompute raw-space coefficients (standardisation folded in). */
static void fold(struct lmodel *m)
{
    for (size_t c = 0; c < m->k; c++) {
        double b = m->intercept[c];
        for (size_t j = 0; j < m->d; j++) {
            double w = m->coef[c * m->d + j] / m->scale[j];
            m->rcoef[c * m->d + j] = w;
            b -= w * m->mean[j];
        }
        m->rintercept[c] = b;
    }
}

static int read_doubles(json_t *a, double *out, size_t n)
{
    if (!json_is_array(a) || json_array_size(a) != n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_number(v))
            return -1;
        out[i] = json_number_value(v);
        if (!isfinite(out[i]))
            return -1;
    }
    return 0;
}

static int load_model(struct lmodel *m, const char *dir, struct orr_error *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/model.json", dir);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return H->fail(e, ORR_ECORRUPT, "%s: %s (line %d)", path, je.text,
                       je.line);
    int rc = ORR_ECORRUPT;
    const char *fmt = json_string_value(json_object_get(root, "format"));
    const char *task = json_string_value(json_object_get(root, "task"));
    json_t *inputs = json_object_get(root, "inputs");
    json_t *outputs = json_object_get(root, "outputs");
    json_t *coef = json_object_get(root, "coef");
    if (!fmt || strcmp(fmt, FORMAT) ||
        json_integer_value(json_object_get(root, "version")) != 1 || !task ||
        !json_is_array(inputs) || !json_is_array(outputs) ||
        !json_is_array(coef) || json_array_size(inputs) == 0) {
        H->fail(e, rc, "%s: not an %s version 1 model", path, FORMAT);
        goto done;
    }
    m->task = !strcmp(task, "binary") ? ORR_TASK_BINARY :
              !strcmp(task, "multiclass") ? ORR_TASK_MULTICLASS :
              !strcmp(task, "regression") ? ORR_TASK_REGRESSION :
              ORR_TASK_UNKNOWN;
    m->d = json_array_size(inputs);
    m->k = json_array_size(coef);
    m->n_out = json_array_size(outputs);
    size_t want_k = m->task == ORR_TASK_MULTICLASS ? m->n_out : 1;
    if (m->task == ORR_TASK_UNKNOWN || m->k != want_k || m->n_out == 0 ||
        (m->task == ORR_TASK_MULTICLASS && m->n_out < 3)) {
        H->fail(e, rc, "%s: inconsistent task, outputs and coef", path);
        goto done;
    }
    m->inputs = calloc(m->d, sizeof *m->inputs);
    m->outputs = calloc(m->n_out, sizeof *m->outputs);
    m->mean = calloc(m->d, sizeof *m->mean);
    m->scale = calloc(m->d, sizeof *m->scale);
    m->coef = calloc(m->k * m->d, sizeof *m->coef);
    m->intercept = calloc(m->k, sizeof *m->intercept);
    m->rcoef = calloc(m->k * m->d, sizeof *m->rcoef);
    m->rintercept = calloc(m->k, sizeof *m->rintercept);
    if (!m->inputs || !m->outputs || !m->mean || !m->scale || !m->coef ||
        !m->intercept || !m->rcoef || !m->rintercept) {
        rc = H->fail(e, ORR_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t j = 0; j < m->d; j++) {
        json_t *o = json_array_get(inputs, j);
        const char *name = json_string_value(json_object_get(o, "name"));
        json_t *mu = json_object_get(o, "mean"), *sc = json_object_get(o,
                                                                  "scale");
        if (!name || !json_is_number(mu) || !json_is_number(sc) ||
            !(json_number_value(sc) > 0) ||
            !isfinite(json_number_value(mu))) {
            H->fail(e, rc, "%s: input %zu malformed", path, j + 1);
            goto done;
        }
        if (!(m->inputs[j] = dupstr(name))) {
            rc = H->fail(e, ORR_ENOMEM, "out of memory");
            goto done;
        }
        m->mean[j] = json_number_value(mu);
        m->scale[j] = json_number_value(sc);
    }
    for (size_t j = 0; j < m->n_out; j++) {
        const char *name = json_string_value(json_array_get(outputs, j));
        if (!name || !(m->outputs[j] = dupstr(name))) {
            H->fail(e, rc, "%s: outputs malformed", path);
            goto done;
        }
    }
    for (size_t c = 0; c < m->k; c++)
        if (read_doubles(json_array_get(coef, c), m->coef + c * m->d, m->d)) {
            H->fail(e, rc, "%s: coef row %zu malformed", path, c + 1);
            goto done;
        }
    if (read_doubles(json_object_get(root, "intercept"), m->intercept,
                     m->k)) {
        H->fail(e, rc, "%s: intercept malformed", path);
        goto done;
    }
    fold(m);
    rc = ORR_OK;
done:
    json_decref(root);
    return rc;
}

/* --- fit ------------------------------------------------------------------ */

struct trainer { int unused; };

static int t_open(void *self, const struct orr_cfg *cfg, struct orr_error *e)
{
    (void)self;
    (void)cfg;
    (void)e;
    return ORR_OK;
}

static void t_close(void *self)
{
    (void)self;
}

static int decide_task(const struct orr_table *t, const struct orr_cfg *p,
                       int *classify, struct orr_error *e)
{
    const char *task = H->cfg_str(p, "task", "auto");
    const struct orr_column *c = &t->columns[t->target];
    if (!strcmp(task, "classification")) {
        *classify = 1;
    } else if (!strcmp(task, "regression")) {
        if (c->type == ORR_COL_CATEGORY)
            return H->fail(e, ORR_EINVAL, "task = \"regression\" needs a "
                           "numeric target; '%s' is categorical", c->name);
        *classify = 0;
    } else if (!strcmp(task, "auto")) {
        /* Categorical, or numeric with at most two distinct integers. */
        *classify = c->type == ORR_COL_CATEGORY;
        if (!*classify) {
            double a = NAN, b = NAN;
            int ok = 1;
            for (size_t r = 0; ok && r < t->rows; r++) {
                double v = raw_value(t, &(struct input){t->target, -1}, r);
                if (isnan(v) || v != floor(v))
                    ok = 0;
                else if (isnan(a) || v == a)
                    a = v;
                else if (isnan(b) || v == b)
                    b = v;
                else
                    ok = 0;
            }
            *classify = ok;
        }
    } else {
        return H->fail(e, ORR_EINVAL, "task must be \"auto\", "
                       "\"classification\" or \"regression\" (got \"%s\")",
                       task);
    }
    return ORR_OK;
}

static int t_fit(void *self, const struct orr_fit_request *req,
                 struct orr_fit_result *res, struct orr_error *e)
{
    (void)self;
    const struct orr_table *t = req->train;
    const struct orr_cfg *p = req->params;
    if (!t || t->target == ORR_NO_TARGET || t->target >= t->cols)
        return H->fail(e, ORR_EINVAL, "the training data has no target "
                       "column");
    if (t->rows < 2)
        return H->fail(e, ORR_EINVAL, "at least 2 training rows needed "
                       "(got %zu)", t->rows);
    const struct orr_column *tc = &t->columns[t->target];
    for (size_t r = 0; tc->missing && r < t->rows; r++)
        if (tc->missing[r])
            return H->fail(e, ORR_EINVAL, "target '%s' is missing in "
                           "training row %zu", tc->name, r + 1);
    double C = H->cfg_num(p, "C", 1.0);
    double alpha = H->cfg_num(p, "alpha", 0.0);
    int64_t max_iter = H->cfg_int(p, "max_iter", 1000);
    double tol = H->cfg_num(p, "tol", 1e-10);
    if (!(C > 0) || !(alpha >= 0) || max_iter < 1 || !(tol > 0))
        return H->fail(e, ORR_EINVAL, "bad parameters: need C > 0, "
                       "alpha >= 0, max_iter >= 1, tol > 0");
    int classify;
    int rc = decide_task(t, p, &classify, e);
    if (rc)
        return rc;
    struct design D;
    struct lmodel m = {0};
    size_t *y = NULL, k = 0, iters = 0;
    char **labels = NULL;
    double *w = NULL, *yr = NULL;
    struct logit L = {0};
    int converged = 1;
    rc = build_design(t, &D, e);
    if (rc)
        goto done;
    m.d = D.d;
    m.inputs = D.names;
    D.names = NULL;
    m.mean = D.mean;
    m.scale = D.scale;
    D.mean = D.scale = NULL;
    if (classify) {
        y = malloc(t->rows * sizeof *y);
        if (!y) {
            rc = H->fail(e, ORR_ENOMEM, "out of memory");
            goto done;
        }
        rc = class_target(t, y, &labels, &k, e);
        if (rc)
            goto done;
        if (k < 2) {
            rc = H->fail(e, ORR_EINVAL, "target '%s' has a single class "
                         "('%s') in the training data: nothing to learn",
                         tc->name, labels[0]);
            goto done;
        }
        m.task = k == 2 ? ORR_TASK_BINARY : ORR_TASK_MULTICLASS;
        m.k = k == 2 ? 1 : k;
        size_t np = m.k * (D.d + 1);
        w = calloc(np, sizeof *w);
        unsigned T = req->threads ? req->threads : 1;
        if (T > MAX_THREADS)
            T = MAX_THREADS;
        if (T > 1 && t->rows < 20000)
            T = 1;          /* not worth a thread */
        L = (struct logit){.x = D.x, .y = y, .n = t->rows, .d = D.d,
                           .k = m.k, .lambda = 1.0 / (C * (double)t->rows),
                           .threads = T, .run = req->run};
        L.part_g = calloc(T * np, sizeof *L.part_g);
        L.part_f = calloc(T, sizeof *L.part_f);
        if (!w || !L.part_g || !L.part_f) {
            rc = H->fail(e, ORR_ENOMEM, "out of memory");
            goto done;
        }
        rc = lbfgs(logit_fn, &L, w, np, (size_t)max_iter, tol, logit_iter,
                   &iters, &converged);
        if (rc) {
            H->fail(e, rc, "out of memory");
            goto done;
        }
        m.coef = calloc(m.k * D.d, sizeof *m.coef);
        m.intercept = calloc(m.k, sizeof *m.intercept);
        if (!m.coef || !m.intercept) {
            rc = H->fail(e, ORR_ENOMEM, "out of memory");
            goto done;
        }
        for (size_t c = 0; c < m.k; c++) {
            memcpy(m.coef + c * D.d, w + c * (D.d + 1), D.d * sizeof *w);
            m.intercept[c] = w[c * (D.d + 1) + D.d];
        }
        if (k == 2) {
            m.n_out = 1;
            m.outputs = calloc(1, sizeof *m.outputs);
            if (m.outputs)
                m.outputs[0] = dupstr(labels[1]);
        } else {
            m.n_out = k;
            m.outputs = calloc(k, sizeof *m.outputs);
            for (size_t c = 0; m.outputs && c < k; c++)
                m.outputs[c] = dupstr(labels[c]);
        }
        if (!m.outputs || !m.outputs[0]) {
            rc = H->fail(e, ORR_ENOMEM, "out of memory");
            goto done;
        }
        if (!converged)
            H->log(ORR_LOG_WARN, "linear", "L-BFGS stopped after %zu "
                   "iterations without converging (raise max_iter)", iters);
    } else {
        m.task = ORR_TASK_REGRESSION;
        m.k = 1;
        yr = malloc(t->rows * sizeof *yr);
        if (!yr) {
            rc = H->fail(e, ORR_ENOMEM, "out of memory");
            goto done;
        }
        for (size_t r = 0; r < t->rows; r++) {
            yr[r] = raw_value(t, &(struct input){t->target, -1}, r);
            if (!isfinite(yr[r])) {
                rc = H->fail(e, ORR_EINVAL, "target '%s' is not finite in "
                             "training row %zu", tc->name, r + 1);
                goto done;
            }
        }
        rc = fit_linear(&D, yr, alpha, &m, req->run, e);
        if (rc)
            goto done;
        m.n_out = 1;
        m.outputs = calloc(1, sizeof *m.outputs);
        if (!m.outputs || !(m.outputs[0] = dupstr(tc->name))) {
            rc = H->fail(e, ORR_ENOMEM, "out of memory");
            goto done;
        }
    }
    rc = write_model(req->out_dir, &m, tc->name, p, iters, converged, e);
    if (rc)
        goto done;
    snprintf(res->flavor, sizeof res->flavor, "linear");
    res->task = m.task;
    res->n_features = m.d;
    res->n_outputs = m.n_out;
done:
    design_free(&D);
    lmodel_clear(&m);
    free(y);
    free(yr);
    free(w);
    free(L.part_g);
    free(L.part_f);
    if (labels)
        for (size_t c = 0; c < k; c++)
            free(labels[c]);
    free(labels);
    return rc;
}

/* --- runtime ------------------------------------------------------------- */

static int r_load(void *model, const char *dir, struct orr_error *e)
{
    return load_model(model, dir, e);
}

static int r_info(const void *model, struct orr_model_info *info,
                  struct orr_error *e)
{
    (void)e;
    const struct lmodel *m = model;
    info->task = m->task;
    info->n_features = m->d;
    info->feature_names = (const char *const *)m->inputs;
    info->n_outputs = m->n_out;
    info->output_names = (const char *const *)m->outputs;
    return ORR_OK;
}

static int r_predict(const void *model, const struct orr_matrix *x,
                     struct orr_matrix *y, struct orr_error *e)
{
    const struct lmodel *m = model;
    size_t d = m->d, k = m->k;
    if (x->cols != d)
        return H->fail(e, ORR_EINVAL, "expected %zu inputs per row, got %zu",
                       d, x->cols);
    if (x->rows > y->capacity / m->n_out)
        return H->fail(e, ORR_EINVAL, "output capacity %zu < %zu", y->capacity,
                       x->rows * m->n_out);
    for (size_t r = 0; r < x->rows; r++) {
        const double *xr = x->data + r * d;
        double *out = y->data + r * m->n_out;
        for (size_t c = 0; c < k; c++) {
            const double *w = m->rcoef + c * d;
            double z = m->rintercept[c];
            for (size_t j = 0; j < d; j++) {
                double v = xr[j];
                if (isnan(v))
                    v = m->mean[j];
                else if (isinf(v))
                    return H->fail(e, ORR_EINVAL, "row %zu, input '%s': "
                                   "infinite value", r + 1, m->inputs[j]);
                z += w[j] * v;
            }
            out[c] = z;
        }
        if (m->task == ORR_TASK_BINARY) {
            double z = out[0];
            out[0] = z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
        } else if (m->task == ORR_TASK_MULTICLASS) {
            double mx = out[0], s = 0;
            for (size_t c = 1; c < k; c++)
                if (out[c] > mx)
                    mx = out[c];
            for (size_t c = 0; c < k; c++)
                s += (out[c] = exp(out[c] - mx));
            for (size_t c = 0; c < k; c++)
                out[c] /= s;
        }
    }
    y->rows = x->rows;
    y->cols = m->n_out;
    return ORR_OK;
}

static void r_unload(void *model)
{
    lmodel_clear(model);
}

static const struct orr_trainer_ops ops = {
    .version = ORR_TRAINER_OPS_V1,
    .name = "linear",
    .summary = "linear and logistic regression (L2, L-BFGS), no dependency",
    .self_size = sizeof(struct trainer),
    .open = t_open,
    .close = t_close,
    .fit = t_fit,
    .flavor = "linear",
    .model_size = sizeof(struct lmodel),
    .load = r_load,
    .info = r_info,
    .predict = r_predict,
    .unload = r_unload,
};

static int init(const struct orr_host *host, struct orr_registry *reg,
                struct orr_error *e)
{
    H = host;
    return host->add_trainer(reg, &ops, e);
}

static void fini(void)
{
}

ORR_PLUGIN("trainer-linear", "0.1.0", "Apache-2.0",
           "linear/logistic regression trainer and runtime", init, fini)
