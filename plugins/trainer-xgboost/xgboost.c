/*
 * trainer-xgboost - gradient-boosted trees through the XGBoost C API, and
 * the "xgboost" model runtime.
 *
 * Fit: every key of the params table is an XGBoost parameter passed to
 * XGBoosterSetParam, except the few the plugin handles itself
 * (num_boost_round, early_stopping_rounds, threads, task, eval_train).
 * Unknown parameters are errors: validate_parameters is on, and
 * XGBoost's "might not be used" warning (caught through its log callback)
 * fails the fit.
 * The booster is updated one round at a time so each round's train and
 * validation metrics reach the run as they happen, and so early stopping
 * is ours (on the last metric of the validation set, like xgb.train).
 *
 * Features: numeric columns as they are, categorical columns one-hot over
 * the labels seen in training (inputs "COLUMN=LABEL", like the linear
 * trainer, so the core builds prediction inputs the same way); a missing
 * value is NaN, which XGBoost treats as missing (a missing label makes
 * every indicator of its column NaN).
 *
 * Runtime: model.json (XGBoost's JSON format) and orrery-xgboost.json (the
 * inputs, outputs and task).  Predictions come from the native evaluator
 * (native.h), which reproduces XGBoost's predictor bit for bit without
 * its per-call costs; a model it does not cover (dart, categorical
 * splits, other objectives) goes through the C API, as follows, and the
 * log says so.  The booster gets nthread = 1 after loading
 * (nthread is not saved): serving parallelism comes from the callers'
 * threads.  XGBoost allows concurrent prediction on one booster; the
 * buffer it returns is the calling thread's scratch, valid until that
 * thread's next call, so it is copied out at once.  In-place prediction
 * wants a proxy DMatrix, which one call at a time may use: each model keeps
 * a small pool of them (a mutex held only to pop and push), so there are
 * as many as the highest number of concurrent calls, created on first
 * need, reused, and freed at unload.  (A per-thread proxy freed by a
 * thread-exit destructor would make XGBoost construct its thread-local
 * error store after the thread's C++ TLS destructors ran: a leak.)
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <xgboost/c_api.h>

#include <orrery/host.h>
#include <orrery/plugin.h>

#include "native.h"

#define FORMAT "orrery-xgboost"
#define SIDECAR "orrery-xgboost.json"
#define WHO "xgboost"

static const struct orr_host *H;

/* --- errors and XGBoost's log --------------------------------------------- */

/* XGBoost's messages start "[hh:mm:ss] /path/file.cc:123: " and may end
 * with a stack trace: keep the first line of the message itself. */
static void clean_msg(const char *raw, char *out, size_t cap)
{
    const char *s = raw ? raw : "unknown error";
    if (s[0] == '[') {
        const char *p = strstr(s, "] ");
        if (p)
            s = p + 2;
        if (!strncmp(s, "WARNING: ", 9))
            s += 9;
        const char *c = strstr(s, ": ");
        if (c && memchr(s, ':', (size_t)(c - s)) && c - s < 300 &&
            !memchr(s, ' ', (size_t)(c - s)))
            s = c + 2;
    }
    s += strspn(s, " \n");        /* the message may start on a new line */
    size_t n = strcspn(s, "\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

static int xfail(struct orr_error *e, const char *what)
{
    char msg[768];
    clean_msg(XGBGetLastError(), msg, sizeof msg);
    return H->fail(e, ORR_EBACKEND, "%s: %s", what, msg);
}

/* Messages XGBoost logs while a fit runs on this thread are collected
 * (for "parameters might not be used") and forwarded to the host log. */
static _Thread_local char *tl_log;
static _Thread_local size_t tl_log_len;

static void on_xgb_log(const char *msg)
{
    char clean[1024];
    clean_msg(msg, clean, sizeof clean);
    H->log(ORR_LOG_WARN, WHO, "%s", clean);
    size_t n = strlen(msg);
    if (tl_log_len > ((size_t)1 << 20))
        return;
    char *p = realloc(tl_log, tl_log_len + n + 2);
    if (!p)
        return;
    tl_log = p;
    memcpy(tl_log + tl_log_len, msg, n);
    tl_log_len += n;
    tl_log[tl_log_len++] = '\n';
    tl_log[tl_log_len] = '\0';
}

static void log_reset(void)
{
    free(tl_log);
    tl_log = NULL;
    tl_log_len = 0;
}

/* "Parameters: { "a", "b" } are not used." (or "might not be used") ->
 * fail naming them. */
static int check_unused(struct orr_error *e)
{
    const char *p = tl_log ? strstr(tl_log, "Parameters: {") : NULL;
    if (!p || (!strstr(p, "not be used") && !strstr(p, "not used")))
        return ORR_OK;
    p += strlen("Parameters: {");
    const char *end = strchr(p, '}');
    size_t n = end ? (size_t)(end - p) : strcspn(p, "\n");
    char names[512];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < sizeof names; i++)
        if (p[i] != '"' && !(p[i] == ' ' && (o == 0 || i + 1 == n)))
            names[o++] = p[i];
    while (o && names[o - 1] == ' ')
        o--;
    names[o] = '\0';
    return H->fail(e, ORR_EINVAL, "unknown XGBoost parameter(s): %s (not "
                   "an XGBoost parameter, or not used by this booster and "
                   "objective)", names);
}

/* --- inputs ------------------------------------------------------------- */

struct input {
    char   *name;       /* "col" or "col=label"                           */
    char   *col;        /* column name                                    */
    char   *label;      /* one-hot label, or NULL for a numeric column    */
};

struct inputs {
    struct input *v;
    size_t        n;
};

static void inputs_free(struct inputs *in)
{
    for (size_t j = 0; j < in->n; j++) {
        free(in->v[j].name);
        free(in->v[j].col);
        free(in->v[j].label);
    }
    free(in->v);
    in->v = NULL;
    in->n = 0;
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static int add_input(struct inputs *in, size_t *cap, const char *col,
                     const char *label)
{
    if (in->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        void *p = realloc(in->v, nc * sizeof *in->v);
        if (!p)
            return -1;
        in->v = p;
        *cap = nc;
    }
    struct input *x = &in->v[in->n];
    memset(x, 0, sizeof *x);
    size_t len = strlen(col) + (label ? strlen(label) + 1 : 0) + 1;
    x->name = malloc(len);
    x->col = dupstr(col);
    x->label = label ? dupstr(label) : NULL;
    in->n++;
    if (!x->name || !x->col || (label && !x->label))
        return -1;
    snprintf(x->name, len, label ? "%s=%s" : "%s", col, label ? label : "");
    return 0;
}

/* The model's inputs from the training table: every column but the
 * target; categorical ones over the labels present. */
static int make_inputs(const struct orr_table *t, struct inputs *in,
                       struct orr_error *e)
{
    size_t cap = 0;
    for (size_t c = 0; c < t->cols; c++) {
        const struct orr_column *col = &t->columns[c];
        if (c == t->target)
            continue;
        if (col->type != ORR_COL_CATEGORY) {
            if (add_input(in, &cap, col->name, NULL))
                return H->fail(e, ORR_ENOMEM, "out of memory");
            continue;
        }
        uint8_t *seen = calloc(col->dict_len + 1, 1);
        if (!seen)
            return H->fail(e, ORR_ENOMEM, "out of memory");
        const int32_t *codes = col->data;
        for (size_t r = 0; r < t->rows; r++)
            if (codes[r] >= 0 && (size_t)codes[r] < col->dict_len)
                seen[codes[r]] = 1;
        for (size_t l = 0; l < col->dict_len; l++)
            if (seen[l] && add_input(in, &cap, col->name, col->dict[l])) {
                free(seen);
                return H->fail(e, ORR_ENOMEM, "out of memory");
            }
        free(seen);
    }
    if (!in->n)
        return H->fail(e, ORR_EINVAL, "no feature columns besides the "
                       "target");
    return ORR_OK;
}

static double cell(const struct orr_column *c, size_t r)
{
    if (c->missing && c->missing[r])
        return NAN;
    switch (c->type) {
    case ORR_COL_F64: return ((const double *)c->data)[r];
    case ORR_COL_F32: return ((const float *)c->data)[r];
    case ORR_COL_I64:
    case ORR_COL_TIME: return (double)((const int64_t *)c->data)[r];
    case ORR_COL_CATEGORY: {
        int32_t code = ((const int32_t *)c->data)[r];
        return code < 0 ? NAN : code;
    }
    }
    return NAN;
}

/* The first infinite value, column by column (the error names it). */
static int find_inf(const struct orr_column *const *cols, size_t d, size_t n,
                    size_t *col, size_t *row)
{
    for (size_t j = 0; j < d; j++)
        for (size_t r = 0; r < n; r++)
            if (isinf(cell(cols[j], r))) {
                *col = j;
                *row = r;
                return 1;
            }
    return 0;
}

/* rows x inputs as float32 (XGBoost's storage type), NaN = missing.
 * Filled in blocks of rows, each column's values of the block at a time:
 * the writes stay in a small window (a column at a time over all rows
 * would touch a new cache line per value, and cost about a second per
 * million rows of 50 inputs). */
static int fill_matrix(const struct orr_table *t, const struct inputs *in,
                       const char *which, float **out, struct orr_error *e)
{
    size_t n = t->rows, d = in->n;
    *out = NULL;
    if (n > SIZE_MAX / sizeof(float) / d)
        return H->fail(e, ORR_EINVAL, "%s matrix too large", which);
    float *x = malloc((n ? n : 1) * d * sizeof *x);
    const struct orr_column **cols = calloc(d, sizeof *cols);
    int32_t *level = calloc(d, sizeof *level);
    int rc = ORR_OK;
    if (!x || !cols || !level) {
        rc = H->fail(e, ORR_ENOMEM, "out of memory (%zu x %zu inputs)", n,
                     d);
        goto done;
    }
    for (size_t j = 0; j < d; j++) {
        const struct input *ij = &in->v[j];
        const struct orr_column *col = NULL;
        for (size_t c = 0; c < t->cols && !col; c++)
            if (c != t->target && !strcmp(t->columns[c].name, ij->col))
                col = &t->columns[c];
        if (!col || (col->type == ORR_COL_CATEGORY) != (ij->label != NULL)) {
            rc = H->fail(e, ORR_EINVAL, "the %s data has no %s column "
                         "'%s'", which, ij->label ? "categorical" :
                         "numeric", ij->col);
            goto done;
        }
        cols[j] = col;
        level[j] = -1;
        if (ij->label)
            for (size_t l = 0; l < col->dict_len; l++)
                if (!strcmp(col->dict[l], ij->label))
                    level[j] = (int32_t)l;
    }
    int inf = 0;
    for (size_t r0 = 0; r0 < n; r0 += 256) {
        size_t r1 = n - r0 < 256 ? n : r0 + 256;
        for (size_t j = 0; j < d; j++) {
            const struct orr_column *col = cols[j];
            if (col->type == ORR_COL_F64 && !in->v[j].label) {
                const double *v = col->data;
                const uint8_t *miss = col->missing;
                for (size_t r = r0; r < r1; r++) {
                    double a = miss && miss[r] ? NAN : v[r];
                    inf |= isinf(a);
                    x[r * d + j] = (float)a;
                }
                continue;
            }
            for (size_t r = r0; r < r1; r++) {
                double a = cell(col, r);
                if (in->v[j].label && !isnan(a))
                    a = (int32_t)a == level[j];
                inf |= isinf(a);
                x[r * d + j] = (float)a;
            }
        }
    }
    size_t bj = 0, br = 0;
    if (inf && find_inf(cols, d, n, &bj, &br))
        rc = H->fail(e, ORR_EINVAL, "%s data, column '%s', row %zu: "
                     "infinite value", which, in->v[bj].col, br + 1);
done:
    free(cols);
    free(level);
    if (rc) {
        free(x);
        return rc;
    }
    *out = x;
    return ORR_OK;
}

/* --- target -------------------------------------------------------------- */

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
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

struct labels {
    char  **v;
    size_t  n;
};

static void labels_free(struct labels *l)
{
    for (size_t i = 0; l->v && i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* Class index per row into y, class labels in the order the core uses
 * for the manifest (numbers ascending; labels by their bytes). */
static int class_target(const struct orr_table *t, float *y,
                        struct labels *out, struct orr_error *e)
{
    const struct orr_column *c = &t->columns[t->target];
    size_t n = t->rows, k = 0;
    int rc = ORR_OK;
    if (c->type == ORR_COL_CATEGORY) {
        const int32_t *codes = c->data;
        size_t *rank = calloc(c->dict_len + 1, sizeof *rank);
        uint8_t *seen = calloc(c->dict_len + 1, 1);
        out->v = calloc(c->dict_len + 1, sizeof *out->v);
        if (!rank || !seen || !out->v) {
            rc = H->fail(e, ORR_ENOMEM, "out of memory");
            goto cat_done;
        }
        for (size_t r = 0; r < n; r++)
            if (codes[r] >= 0 && (size_t)codes[r] < c->dict_len)
                seen[codes[r]] = 1;
        /* Rank each present label among the present ones (by bytes). */
        for (size_t a = 0; a < c->dict_len; a++) {
            if (!seen[a])
                continue;
            size_t before = 0;
            for (size_t b = 0; b < c->dict_len; b++)
                before += seen[b] && strcmp(c->dict[b], c->dict[a]) < 0;
            rank[a] = before;
            k++;
        }
        for (size_t a = 0; a < c->dict_len; a++)
            if (seen[a] && !(out->v[rank[a]] = dupstr(c->dict[a]))) {
                rc = H->fail(e, ORR_ENOMEM, "out of memory");
                goto cat_done;
            }
        out->n = k;
        for (size_t r = 0; r < n; r++)
            y[r] = (float)rank[codes[r]];
cat_done:
        free(rank);
        free(seen);
        return rc;
    }
    double *u = malloc((n ? n : 1) * sizeof *u);
    if (!u)
        return H->fail(e, ORR_ENOMEM, "out of memory");
    for (size_t r = 0; r < n; r++)
        u[r] = cell(c, r);
    qsort(u, n, sizeof *u, cmp_double);
    for (size_t r = 0; r < n; r++)
        if (r == 0 || u[r] != u[k - 1])
            u[k++] = u[r];
    out->v = calloc(k ? k : 1, sizeof *out->v);
    for (size_t i = 0; out->v && i < k; i++) {
        char buf[40];
        fmt_num(buf, sizeof buf, u[i]);
        if (!(out->v[i] = dupstr(buf)))
            break;
        out->n = i + 1;
    }
    if (!out->v || out->n != k) {
        free(u);
        return H->fail(e, ORR_ENOMEM, "out of memory");
    }
    for (size_t r = 0; r < n; r++) {
        double v = cell(c, r);
        size_t lo = 0, hi = k;
        while (lo + 1 < hi) {
            size_t mid = (lo + hi) / 2;
            if (u[mid] <= v)
                lo = mid;
            else
                hi = mid;
        }
        y[r] = (float)lo;
    }
    free(u);
    return ORR_OK;
}

/* Numeric target with at most two distinct integers (like linear's auto). */
static int two_integers(const struct orr_table *t)
{
    const struct orr_column *c = &t->columns[t->target];
    double a = NAN, b = NAN;
    for (size_t r = 0; r < t->rows; r++) {
        double v = cell(c, r);
        if (isnan(v) || v != floor(v))
            return 0;
        if (isnan(a) || v == a)
            a = v;
        else if (isnan(b) || v == b)
            b = v;
        else
            return 0;
    }
    return 1;
}

/* Map the valid set's target to the training classes. */
static int valid_classes(const struct orr_table *v, const struct labels *cl,
                         float *y, struct orr_error *e)
{
    const struct orr_column *c = &v->columns[v->target];
    for (size_t r = 0; r < v->rows; r++) {
        char buf[40];
        const char *label = buf;
        if (c->type == ORR_COL_CATEGORY) {
            int32_t code = ((const int32_t *)c->data)[r];
            label = code >= 0 && (size_t)code < c->dict_len ?
                    c->dict[code] : "";
        } else {
            fmt_num(buf, sizeof buf, cell(c, r));
        }
        size_t k = 0;
        while (k < cl->n && strcmp(cl->v[k], label))
            k++;
        if (k == cl->n)
            return H->fail(e, ORR_EINVAL, "validation row %zu: label '%s' "
                           "of '%s' is not in the training data", r + 1,
                           label, c->name);
        y[r] = (float)k;
    }
    return ORR_OK;
}

/* --- parameters ------------------------------------------------------- */

/* Keys the plugin handles instead of XGBoost. */
static int ours(const char *key)
{
    static const char *const keys[] = {
        "num_boost_round", "num_round", "early_stopping_rounds", "threads",
        "task", "eval_train", NULL
    };
    for (size_t i = 0; keys[i]; i++)
        if (!strcmp(key, keys[i]))
            return 1;
    return 0;
}

struct setp {
    BoosterHandle         b;
    const struct orr_cfg *params;
    const char           *key;    /* while iterating a list value          */
    struct orr_error     *e;
    int                   rc;
};

static int set_one(struct setp *s, const char *key, const char *value)
{
    if (XGBoosterSetParam(s->b, key, value)) {
        char msg[512];
        clean_msg(XGBGetLastError(), msg, sizeof msg);
        s->rc = H->fail(s->e, ORR_EINVAL, "XGBoost parameter '%s' = '%s': "
                        "%s", key, value, msg);
        return 1;
    }
    return 0;
}

static int set_list_item(void *ctx, const char *key, const char *value)
{
    struct setp *s = ctx;
    (void)key;
    if (!value) {
        s->rc = H->fail(s->e, ORR_EINVAL, "XGBoost parameter '%s': nested "
                        "tables are not supported", s->key);
        return 1;
    }
    return set_one(s, s->key, value);
}

static int set_param(void *ctx, const char *key, const char *value)
{
    struct setp *s = ctx;
    if (ours(key))
        return 0;
    if (value)
        return set_one(s, key, value);
    /* A list (eval_metric = {"logloss", "auc"}): XGBoost appends. */
    s->key = key;
    return H->cfg_each(H->cfg_child(s->params, key), set_list_item, s);
}

/* Metrics where larger is better (XGBoost's own list for early stopping). */
static int maximize(const char *metric)
{
    static const char *const up[] = {"auc", "aucpr", "map", "ndcg", "pre",
                                     NULL};
    for (size_t i = 0; up[i]; i++) {
        size_t n = strlen(up[i]);
        if (!strncmp(metric, up[i], n) &&
            (metric[n] == '\0' || metric[n] == '@' || metric[n] == '-'))
            return 1;
    }
    return 0;
}

/* Parse "[3]\ttrain-logloss:0.1\tvalid-logloss:0.2": log each metric and
 * return the last one of the valid set (the early-stopping metric). */
static void log_round(struct orr_run *run, const char *s, int64_t round,
                      double *last_valid, char *metric, size_t cap)
{
    const char *p = strchr(s, '\t');
    while (p && *p) {
        p++;
        size_t n = strcspn(p, "\t");
        char tok[256];
        if (n >= sizeof tok)
            n = sizeof tok - 1;
        memcpy(tok, p, n);
        tok[n] = '\0';
        char *colon = strrchr(tok, ':');
        if (colon) {
            *colon = '\0';
            double v = strtod(colon + 1, NULL);
            struct orr_error le = {0};
            H->log_metric(run, tok, v, round, &le);
            if (!strncmp(tok, "valid-", 6)) {
                *last_valid = v;
                size_t m = strlen(tok + 6);
                if (m >= cap)
                    m = cap - 1;
                memcpy(metric, tok + 6, m);
                metric[m] = '\0';
            }
        }
        p += n;
    }
}

/* --- the model ----------------------------------------------------------- */

struct xmodel {
    struct xgbn_model *native;      /* the native evaluator, or NULL      */
    BoosterHandle b;                /* the C API, when native is NULL     */
    enum orr_task task;
    int           margin_softmax;   /* multi:softmax: softmax of margins */
    struct inputs in;
    const char  **names;            /* the inputs' names, for info        */
    char        **outputs;
    size_t        n_out;
    char          config[160];
    pthread_mutex_t lock;           /* guards the proxy pool              */
    int           have_lock;
    DMatrixHandle *pool;            /* idle proxies                       */
    size_t        n_pool, cap_pool;
};

static void xmodel_clear(struct xmodel *m)
{
    xgbn_free(m->native);
    if (m->b)
        XGBoosterFree(m->b);
    inputs_free(&m->in);
    free(m->names);
    for (size_t i = 0; i < m->n_pool; i++)
        XGDMatrixFree(m->pool[i]);
    free(m->pool);
    if (m->have_lock)
        pthread_mutex_destroy(&m->lock);
    for (size_t i = 0; m->outputs && i < m->n_out; i++)
        free(m->outputs[i]);
    free(m->outputs);
    memset(m, 0, sizeof *m);
}

static const char *task_name(enum orr_task t)
{
    return t == ORR_TASK_BINARY ? "binary" :
           t == ORR_TASK_MULTICLASS ? "multiclass" : "regression";
}

static int write_sidecar(const char *dir, enum orr_task task,
                         const char *objective, const char *target,
                         const struct inputs *in, char *const *outputs,
                         size_t n_out, int rounds, int best,
                         struct orr_error *e)
{
    json_t *root = json_object(), *ins = json_array(), *outs = json_array();
    if (!root || !ins || !outs) {
        json_decref(root);
        json_decref(ins);
        json_decref(outs);
        return H->fail(e, ORR_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j < in->n; j++)
        json_array_append_new(ins, json_string(in->v[j].name));
    for (size_t j = 0; j < n_out; j++)
        json_array_append_new(outs, json_string(outputs[j]));
    json_object_set_new(root, "format", json_string(FORMAT));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "task", json_string(task_name(task)));
    json_object_set_new(root, "objective", json_string(objective));
    json_object_set_new(root, "target", json_string(target));
    json_object_set_new(root, "inputs", ins);
    json_object_set_new(root, "outputs", outs);
    json_object_set_new(root, "rounds", json_integer(rounds));
    if (best >= 0)
        json_object_set_new(root, "best_iteration", json_integer(best));
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, SIDECAR);
    int rc = json_dump_file(root, path, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(root);
    if (rc)
        return H->fail(e, ORR_EIO, "cannot write %s", path);
    return ORR_OK;
}

static int load_sidecar(struct xmodel *m, const char *dir,
                        struct orr_error *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, SIDECAR);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return H->fail(e, ORR_ECORRUPT, "%s: %s (line %d)", path, je.text,
                       je.line);
    int rc = ORR_ECORRUPT;
    const char *fmt = json_string_value(json_object_get(root, "format"));
    const char *task = json_string_value(json_object_get(root, "task"));
    const char *obj = json_string_value(json_object_get(root, "objective"));
    json_t *ins = json_object_get(root, "inputs");
    json_t *outs = json_object_get(root, "outputs");
    if (!fmt || strcmp(fmt, FORMAT) || !task || !obj ||
        json_integer_value(json_object_get(root, "version")) != 1 ||
        !json_is_array(ins) || !json_array_size(ins) ||
        !json_is_array(outs) || !json_array_size(outs)) {
        H->fail(e, rc, "%s: not an %s version 1 file", path, FORMAT);
        goto done;
    }
    m->task = !strcmp(task, "binary") ? ORR_TASK_BINARY :
              !strcmp(task, "multiclass") ? ORR_TASK_MULTICLASS :
              !strcmp(task, "regression") ? ORR_TASK_REGRESSION :
              ORR_TASK_UNKNOWN;
    m->margin_softmax = !strcmp(obj, "multi:softmax");
    m->n_out = json_array_size(outs);
    if (m->task == ORR_TASK_UNKNOWN ||
        (m->task != ORR_TASK_MULTICLASS && m->n_out != 1) ||
        (m->task == ORR_TASK_MULTICLASS && m->n_out < 2)) {
        H->fail(e, rc, "%s: inconsistent task and outputs", path);
        goto done;
    }
    size_t cap = 0;
    for (size_t j = 0; j < json_array_size(ins); j++) {
        const char *name = json_string_value(json_array_get(ins, j));
        if (!name) {
            H->fail(e, rc, "%s: input %zu malformed", path, j + 1);
            goto done;
        }
        /* Only the names matter at prediction time. */
        if (add_input(&m->in, &cap, name, NULL)) {
            rc = H->fail(e, ORR_ENOMEM, "out of memory");
            goto done;
        }
    }
    m->names = calloc(m->in.n, sizeof *m->names);
    for (size_t j = 0; m->names && j < m->in.n; j++)
        m->names[j] = m->in.v[j].name;
    if (!m->names ||
        !(m->outputs = calloc(m->n_out, sizeof *m->outputs))) {
        rc = H->fail(e, ORR_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t j = 0; j < m->n_out; j++) {
        const char *name = json_string_value(json_array_get(outs, j));
        if (!name || !(m->outputs[j] = dupstr(name))) {
            H->fail(e, rc, "%s: outputs malformed", path);
            goto done;
        }
    }
    rc = ORR_OK;
done:
    json_decref(root);
    return rc;
}

/* --- fit ---------------------------------------------------------------- */

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

static int make_dmatrix(const float *x, size_t n, size_t d, const float *y,
                        int threads, DMatrixHandle *out, struct orr_error *e)
{
    if (XGDMatrixCreateFromMat_omp(x, n, d, NAN, out, threads))
        return xfail(e, "XGBoost DMatrix");
    if (XGDMatrixSetFloatInfo(*out, "label", y, n))
        return xfail(e, "XGBoost labels");
    return ORR_OK;
}

/* Everything a fit allocates, freed on one path. */
struct fit {
    struct inputs in;
    struct labels classes;
    float        *x, *y, *vx, *vy;
    DMatrixHandle dtrain, dvalid;
    BoosterHandle b;
    char        **outputs;
    size_t        n_out;
};

static void fit_free(struct fit *f)
{
    inputs_free(&f->in);
    labels_free(&f->classes);
    free(f->x);
    free(f->y);
    free(f->vx);
    free(f->vy);
    if (f->dtrain)
        XGDMatrixFree(f->dtrain);
    if (f->dvalid)
        XGDMatrixFree(f->dvalid);
    if (f->b)
        XGBoosterFree(f->b);
    for (size_t i = 0; f->outputs && i < f->n_out; i++)
        free(f->outputs[i]);
    free(f->outputs);
}

static int check_target(const struct orr_table *t, const char *which,
                        struct orr_error *e)
{
    if (!t || t->target == ORR_NO_TARGET || t->target >= t->cols)
        return H->fail(e, ORR_EINVAL, "the %s data has no target column",
                       which);
    const struct orr_column *tc = &t->columns[t->target];
    for (size_t r = 0; tc->missing && r < t->rows; r++)
        if (tc->missing[r])
            return H->fail(e, ORR_EINVAL, "target '%s' is missing in %s "
                           "row %zu", tc->name, which, r + 1);
    return ORR_OK;
}

static int t_fit(void *self, const struct orr_fit_request *req,
                 struct orr_fit_result *res, struct orr_error *e)
{
    (void)self;
    const struct orr_table *t = req->train, *v = req->valid;
    const struct orr_cfg *p = req->params;
    struct fit f = {0};
    int rc = check_target(t, "training", e);
    if (rc)
        return rc;
    if (v && (rc = check_target(v, "validation", e)))
        return rc;
    if (t->rows < 2)
        return H->fail(e, ORR_EINVAL, "at least 2 training rows needed "
                       "(got %zu)", t->rows);
    const struct orr_column *tc = &t->columns[t->target];
    int64_t rounds = H->cfg_int(p, "num_boost_round",
                                H->cfg_int(p, "num_round", 10));
    int64_t patience = H->cfg_int(p, "early_stopping_rounds", 0);
    /* Evaluating the training set every round costs about as much as a
     * third of the fit: eval_train = false keeps the validation set only
     * (and evaluates nothing without one). */
    int eval_train = H->cfg_bool(p, "eval_train", 1);
    if (rounds < 1 || rounds > 1000000 || patience < 0)
        return H->fail(e, ORR_EINVAL, "bad parameters: need 1 <= "
                       "num_boost_round <= 1000000, early_stopping_rounds "
                       ">= 0");
    if (patience && !v)
        return H->fail(e, ORR_EINVAL, "early_stopping_rounds needs a "
                       "validation set (valid = dataset in the params)");
    int classify = tc->type == ORR_COL_CATEGORY || two_integers(t);
    const char *objective = H->cfg_str(p, "objective", NULL);
    enum orr_task task;
    if (!objective) {
        objective = !classify ? "reg:squarederror" : NULL;   /* set below */
        task = classify ? ORR_TASK_BINARY : ORR_TASK_REGRESSION;
    } else if (!strcmp(objective, "binary:logistic")) {
        task = ORR_TASK_BINARY;
    } else if (!strcmp(objective, "multi:softprob") ||
               !strcmp(objective, "multi:softmax")) {
        task = ORR_TASK_MULTICLASS;
    } else if (!strncmp(objective, "binary:", 7) ||
               !strncmp(objective, "multi:", 6)) {
        return H->fail(e, ORR_EINVAL, "objective '%s' does not predict "
                       "probabilities; use binary:logistic, multi:softprob "
                       "or multi:softmax", objective);
    } else {
        task = ORR_TASK_REGRESSION;
    }
    if ((rc = make_inputs(t, &f.in, e)))
        goto done;
    size_t n = t->rows, d = f.in.n;
    if ((rc = fill_matrix(t, &f.in, "training", &f.x, e)))
        goto done;
    f.y = malloc(n * sizeof *f.y);
    if (v && !rc) {
        f.vy = malloc((v->rows ? v->rows : 1) * sizeof *f.vy);
        rc = fill_matrix(v, &f.in, "validation", &f.vx, e);
    }
    if (rc)
        goto done;
    if (!f.y || (v && !f.vy)) {
        rc = H->fail(e, ORR_ENOMEM, "out of memory");
        goto done;
    }
    if (task != ORR_TASK_REGRESSION) {
        if ((rc = class_target(t, f.y, &f.classes, e)))
            goto done;
        if (f.classes.n < 2) {
            rc = H->fail(e, ORR_EINVAL, "target '%s' has a single class "
                         "('%s') in the training data: nothing to learn",
                         tc->name, f.classes.n ? f.classes.v[0] : "");
            goto done;
        }
        if (!objective)
            objective = f.classes.n == 2 ? "binary:logistic" :
                                           "multi:softprob";
        task = !strcmp(objective, "binary:logistic") ? ORR_TASK_BINARY :
                                                       ORR_TASK_MULTICLASS;
        if (task == ORR_TASK_BINARY && f.classes.n != 2) {
            rc = H->fail(e, ORR_EINVAL, "objective 'binary:logistic' needs "
                         "2 classes; target '%s' has %zu (use "
                         "multi:softprob)", tc->name, f.classes.n);
            goto done;
        }
        if (task == ORR_TASK_MULTICLASS && f.classes.n < 3) {
            rc = H->fail(e, ORR_EINVAL, "objective '%s' with 2 classes: use "
                         "binary:logistic", objective);
            goto done;
        }
        if (v && (rc = valid_classes(v, &f.classes, f.vy, e)))
            goto done;
        f.n_out = task == ORR_TASK_BINARY ? 1 : f.classes.n;
        f.outputs = calloc(f.n_out, sizeof *f.outputs);
        for (size_t i = 0; f.outputs && i < f.n_out; i++)
            f.outputs[i] = dupstr(f.classes.v[task == ORR_TASK_BINARY ? 1 :
                                                 i]);
    } else {
        if (tc->type == ORR_COL_CATEGORY) {
            rc = H->fail(e, ORR_EINVAL, "objective '%s' needs a numeric "
                         "target; '%s' is categorical", objective, tc->name);
            goto done;
        }
        for (size_t r = 0; r < n; r++)
            f.y[r] = (float)cell(tc, r);
        for (size_t r = 0; v && r < v->rows; r++)
            f.vy[r] = (float)cell(&v->columns[v->target], r);
        f.n_out = 1;
        f.outputs = calloc(1, sizeof *f.outputs);
        if (f.outputs)
            f.outputs[0] = dupstr(tc->name);
    }
    if (!f.outputs || !f.outputs[f.n_out - 1]) {
        rc = H->fail(e, ORR_ENOMEM, "out of memory");
        goto done;
    }
    int threads = req->threads ? (int)req->threads : 1;
    if ((rc = make_dmatrix(f.x, n, d, f.y, threads, &f.dtrain, e)))
        goto done;
    if (v && (rc = make_dmatrix(f.vx, v->rows, d, f.vy, threads, &f.dvalid,
                                e)))
        goto done;
    DMatrixHandle cache[2] = {f.dtrain, f.dvalid};
    if (XGBoosterCreate(cache, v ? 2 : 1, &f.b)) {
        rc = xfail(e, "XGBoost booster");
        goto done;
    }
    /* Ours first, so explicit params (nthread, seed) override them. */
    char buf[64];
    struct setp sp = {.b = f.b, .params = p, .e = e};
    snprintf(buf, sizeof buf, "%d", threads);
    set_one(&sp, "validate_parameters", "1");
    set_one(&sp, "nthread", buf);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)req->seed);
    set_one(&sp, "seed", buf);
    set_one(&sp, "objective", objective);
    if (task == ORR_TASK_MULTICLASS && !H->cfg_str(p, "num_class", NULL)) {
        snprintf(buf, sizeof buf, "%zu", f.classes.n);
        set_one(&sp, "num_class", buf);
    }
    if (!sp.rc)
        H->cfg_each(p, set_param, &sp);
    if ((rc = sp.rc))
        goto done;
    /* The rounds. */
    XGBRegisterLogCallback(on_xgb_log);
    log_reset();
    DMatrixHandle evals[2] = {f.dtrain, f.dvalid};
    const char *names[2] = {"train", "valid"};
    size_t first = eval_train ? 0 : 1;
    bst_ulong n_evals = (eval_train ? 1 : 0) + (v ? 1 : 0);
    double best = NAN;
    int best_it = -1, it;
    char metric[128] = "";
    for (it = 0; it < rounds; it++) {
        if (XGBoosterUpdateOneIter(f.b, it, f.dtrain)) {
            char msg[768];
            clean_msg(XGBGetLastError(), msg, sizeof msg);
            rc = H->fail(e, ORR_EINVAL, "XGBoost round %d: %s%s%s%s", it,
                         msg, strstr(msg, "objective") ?
                         " (parameter 'objective' = '" : "",
                         strstr(msg, "objective") ? objective : "",
                         strstr(msg, "objective") ? "')" : "");
            goto done;
        }
        if (it == 0 && (rc = check_unused(e)))
            goto done;
        const char *out = NULL;
        if (!n_evals)
            continue;
        if (XGBoosterEvalOneIter(f.b, it, evals + first, names + first,
                                 n_evals, &out)) {
            rc = xfail(e, "XGBoost evaluation");
            goto done;
        }
        double last = NAN;
        log_round(req->run, out, it, &last, metric, sizeof metric);
        if (!patience)
            continue;
        int up = maximize(metric);
        if (best_it < 0 || (up ? last > best : last < best)) {
            best = last;
            best_it = it;
        } else if (it - best_it >= patience) {
            H->log(ORR_LOG_INFO, WHO, "early stop at round %d: best valid-%s "
                   "%.6g at round %d", it, metric, best, best_it);
            it++;
            break;
        }
    }
    int kept = it;
    if (patience && best_it >= 0 && best_it + 1 < it) {
        /* Keep the best model: drop the rounds after it. */
        BoosterHandle sliced = NULL;
        if (XGBoosterSlice(f.b, 0, best_it + 1, 1, &sliced)) {
            rc = xfail(e, "XGBoost slice");
            goto done;
        }
        XGBoosterFree(f.b);
        f.b = sliced;
        kept = best_it + 1;
    }
    if (patience && best_it >= 0) {
        snprintf(buf, sizeof buf, "%d", best_it);
        XGBoosterSetAttr(f.b, "best_iteration", buf);
        snprintf(buf, sizeof buf, "%.17g", best);
        XGBoosterSetAttr(f.b, "best_score", buf);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/model.json", req->out_dir);
    if (XGBoosterSaveModel(f.b, path)) {
        rc = xfail(e, "XGBoost save");
        goto done;
    }
    rc = write_sidecar(req->out_dir, task, objective, tc->name, &f.in,
                       f.outputs, f.n_out, kept, patience ? best_it : -1, e);
    if (rc)
        goto done;
    snprintf(res->flavor, sizeof res->flavor, "xgboost");
    res->task = task;
    res->n_features = d;
    res->n_outputs = f.n_out;
done:
    log_reset();
    fit_free(&f);
    return rc;
}

/* --- runtime ------------------------------------------------------------ */

/* Take an idle proxy or make one; give it back after the call. */
static int proxy_get(struct xmodel *m, DMatrixHandle *out,
                     struct orr_error *e)
{
    *out = NULL;
    pthread_mutex_lock(&m->lock);
    if (m->n_pool)
        *out = m->pool[--m->n_pool];
    pthread_mutex_unlock(&m->lock);
    if (!*out && XGProxyDMatrixCreate(out))
        return xfail(e, "XGBoost proxy");
    return ORR_OK;
}

static void proxy_put(struct xmodel *m, DMatrixHandle p)
{
    pthread_mutex_lock(&m->lock);
    if (m->n_pool == m->cap_pool) {
        size_t nc = m->cap_pool ? m->cap_pool * 2 : 8;
        void *np = realloc(m->pool, nc * sizeof *m->pool);
        if (np) {
            m->pool = np;
            m->cap_pool = nc;
        }
    }
    if (m->n_pool < m->cap_pool) {
        m->pool[m->n_pool++] = p;
        p = NULL;
    }
    pthread_mutex_unlock(&m->lock);
    if (p)
        XGDMatrixFree(p);
}

static int r_predict(const void *model, const struct orr_matrix *x,
                     struct orr_matrix *y, struct orr_error *e);

/* The native evaluator unless ORRERY_XGB_PREDICTOR=capi; a model it
 * cannot run (dart, gblinear, categorical splits, other objectives) goes
 * through the C API, and the log says which and why. */
static int load_native(struct xmodel *m, const char *path,
                       struct orr_error *e)
{
    const char *want = getenv("ORRERY_XGB_PREDICTOR");
    if (want && !strcmp(want, "capi")) {
        H->log(ORR_LOG_INFO, WHO, "%s: C API predictor "
               "(ORRERY_XGB_PREDICTOR=capi)", path);
        return ORR_OK;
    }
    char why[256];
    int rc = xgbn_load(path, &m->native, why, sizeof why);
    if (rc == XGBN_ENOMEM)
        return H->fail(e, ORR_ENOMEM, "out of memory");
    if (rc) {
        H->log(rc == XGBN_UNSUPPORTED ? ORR_LOG_INFO : ORR_LOG_WARN, WHO,
               "%s: C API predictor (native evaluator: %s%s)", path,
               rc == XGBN_UNSUPPORTED ? "not supported: " : "", why);
        return ORR_OK;
    }
    size_t groups = xgbn_groups(m->native);
    if (xgbn_features(m->native) != m->in.n ||
        groups != (m->task == ORR_TASK_MULTICLASS ? m->n_out : 1) ||
        m->n_out != (m->task == ORR_TASK_MULTICLASS ? groups : 1))
        return H->fail(e, ORR_ECORRUPT, "%s: %zu features and %zu outputs, "
                       "but %s names %zu inputs and %zu outputs", path,
                       xgbn_features(m->native), groups, SIDECAR, m->in.n,
                       m->n_out);
    H->log(ORR_LOG_INFO, WHO, "%s: native evaluator (%zu trees, %s)", path,
           xgbn_trees(m->native), xgbn_objective(m->native));
    return ORR_OK;
}

static int r_load(void *model, const char *dir, struct orr_error *e)
{
    struct xmodel *m = model;
    if (pthread_mutex_init(&m->lock, NULL))
        return H->fail(e, ORR_ENOMEM, "pthread_mutex_init failed");
    m->have_lock = 1;
    int rc = load_sidecar(m, dir, e);
    if (rc)
        return rc;
    char path[4096];
    snprintf(path, sizeof path, "%s/model.json", dir);
    if ((rc = load_native(m, path, e)) || m->native)
        return rc;
    bst_ulong nf = 0;
    if (XGBoosterCreate(NULL, 0, &m->b))
        return xfail(e, "XGBoost booster");
    if (XGBoosterLoadModel(m->b, path))
        return xfail(e, path);
    /* nthread is not saved: one thread per call, callers parallelise. */
    if (XGBoosterSetParam(m->b, "nthread", "1") ||
        XGBoosterGetNumFeature(m->b, &nf))
        return xfail(e, path);
    if (nf != m->in.n)
        return H->fail(e, ORR_ECORRUPT, "%s: %llu features, but %s names "
                       "%zu inputs", path, (unsigned long long)nf, SIDECAR,
                       m->in.n);
    snprintf(m->config, sizeof m->config,
             "{\"type\": %d, \"training\": false, \"iteration_begin\": 0, "
             "\"iteration_end\": 0, \"strict_shape\": false, "
             "\"cache_id\": 0, \"missing\": NaN}", m->margin_softmax);
    /* One prediction now configures the booster (lazily done otherwise,
     * on the first of possibly many concurrent calls) and checks it. */
    double *row = malloc(m->in.n * sizeof *row), out[64];
    double *yb = m->n_out <= 64 ? out : malloc(m->n_out * sizeof *yb);
    if (!row || !yb) {
        free(row);
        if (yb != out)
            free(yb);
        return H->fail(e, ORR_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j < m->in.n; j++)
        row[j] = NAN;
    struct orr_matrix xm = {1, m->in.n, row, 0};
    struct orr_matrix ym = {0, 0, yb, m->n_out};
    rc = r_predict(m, &xm, &ym, e);
    free(row);
    if (yb != out)
        free(yb);
    return rc;
}

static int r_info(const void *model, struct orr_model_info *info,
                  struct orr_error *e)
{
    (void)e;
    const struct xmodel *m = model;
    info->task = m->task;
    info->n_features = m->in.n;
    info->feature_names = m->names;
    info->n_outputs = m->n_out;
    info->output_names = (const char *const *)m->outputs;
    return ORR_OK;
}

/* multi:softmax is served as the softmax of its margins (in double). */
static void softmax_rows(double *yd, size_t rows, size_t k)
{
    for (size_t r = 0; r < rows; r++) {
        double *o = yd + r * k, mx = o[0], s = 0;
        for (size_t c = 1; c < k; c++)
            if (o[c] > mx)
                mx = o[c];
        for (size_t c = 0; c < k; c++)
            s += (o[c] = exp(o[c] - mx));
        for (size_t c = 0; c < k; c++)
            o[c] /= s;
    }
}

static int r_predict(const void *model, const struct orr_matrix *x,
                     struct orr_matrix *y, struct orr_error *e)
{
    /* The model is shared; only its proxy pool changes, under its lock. */
    struct xmodel *m = (struct xmodel *)model;
    if (x->cols != m->in.n)
        return H->fail(e, ORR_EINVAL, "expected %zu inputs per row, got %zu",
                       m->in.n, x->cols);
    if (x->rows > y->capacity / m->n_out)
        return H->fail(e, ORR_EINVAL, "output capacity %zu < %zu",
                       y->capacity, x->rows * m->n_out);
    y->rows = x->rows;
    y->cols = m->n_out;
    if (x->rows == 0)
        return ORR_OK;
    if (m->native) {
        if (xgbn_predict(m->native, x->data, x->rows, m->margin_softmax,
                         y->data))
            return H->fail(e, ORR_ENOMEM, "out of memory");
        if (m->margin_softmax)
            softmax_rows(y->data, x->rows, m->n_out);
        return ORR_OK;
    }
    DMatrixHandle proxy;
    int rc = proxy_get(m, &proxy, e);
    if (rc)
        return rc;
    char arr[160];
    snprintf(arr, sizeof arr, "{\"data\": [%llu, true], \"shape\": [%zu, "
             "%zu], \"typestr\": \"<f8\", \"version\": 3}",
             (unsigned long long)(uintptr_t)x->data, x->rows, x->cols);
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    const float *out = NULL;
    int bad = XGBoosterPredictFromDense(m->b, arr, m->config, proxy, &shape,
                                        &dim, &out);
    proxy_put(m, proxy);
    if (bad)
        return xfail(e, "XGBoost predict");
    size_t total = 1;
    for (bst_ulong i = 0; i < dim; i++)
        total *= shape[i];
    if (total != x->rows * m->n_out)
        return H->fail(e, ORR_EBACKEND, "XGBoost returned %zu values for "
                       "%zu rows x %zu outputs", total, x->rows, m->n_out);
    double *yd = y->data;
    for (size_t i = 0; i < total; i++)
        yd[i] = out[i];
    if (m->margin_softmax)
        softmax_rows(yd, x->rows, m->n_out);
    return ORR_OK;
}

static void r_unload(void *model)
{
    xmodel_clear(model);
}

static const struct orr_trainer_ops ops = {
    .version = ORR_TRAINER_OPS_V1,
    .name = "xgboost",
    .summary = "gradient-boosted trees (XGBoost C API)",
    .self_size = sizeof(struct trainer),
    .open = t_open,
    .close = t_close,
    .fit = t_fit,
    .flavor = "xgboost",
    .model_size = sizeof(struct xmodel),
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

ORR_PLUGIN("trainer-xgboost", "0.1.0", "Apache-2.0",
           "XGBoost trainer and runtime (gradient-boosted trees)", init, fini)
