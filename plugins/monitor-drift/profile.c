/*
 * profile.c - the "drift/1" reference profile: computed from a reference
 * table (and the model's predictions on held-out data), written as JSON
 * with jansson, read back for every window.
 *
 * The reference summary of a numeric column (the knots behind KS,
 * Wasserstein, PSI and Jensen-Shannon) is stored as base64 of
 * little-endian IEEE doubles inside the JSON, so a profile parses in
 * about the time of a memcpy and stays bounded: at most `exact_max`
 * knots when exact, `quantiles` knots otherwise (docs/monitor-drift.md).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "drift.h"
#include "stats.h"

#define H drift_host

/* --- base64 of doubles ---------------------------------------------------- */

static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_doubles(const double *v, size_t n)
{
    size_t nb = n * 8, out_len = (nb + 2) / 3 * 4;
    unsigned char *raw = malloc(nb ? nb : 1);
    char *out = malloc(out_len + 1);
    if (!raw || !out) {
        free(raw);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &v[i], 8);
        for (int b = 0; b < 8; b++)
            raw[i * 8 + (size_t)b] = (unsigned char)(u >> (8 * b));
    }
    size_t o = 0;
    for (size_t i = 0; i < nb; i += 3) {
        uint32_t t = (uint32_t)raw[i] << 16;
        if (i + 1 < nb)
            t |= (uint32_t)raw[i + 1] << 8;
        if (i + 2 < nb)
            t |= raw[i + 2];
        out[o++] = B64[(t >> 18) & 63];
        out[o++] = B64[(t >> 12) & 63];
        out[o++] = i + 1 < nb ? B64[(t >> 6) & 63] : '=';
        out[o++] = i + 2 < nb ? B64[t & 63] : '=';
    }
    out[o] = '\0';
    free(raw);
    return out;
}

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decode exactly `n` doubles; -1 if the text is not that. */
static int unb64_doubles(const char *s, size_t len, double *v, size_t n)
{
    size_t nb = n * 8;
    if (len != (nb + 2) / 3 * 4)
        return -1;
    unsigned char *raw = malloc(nb + 3);
    if (!raw)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int a = b64_val(s[i]), b = b64_val(s[i + 1]);
        int c = s[i + 2] == '=' ? 0 : b64_val(s[i + 2]);
        int d = s[i + 3] == '=' ? 0 : b64_val(s[i + 3]);
        if (a < 0 || b < 0 || c < 0 || d < 0) {
            free(raw);
            return -1;
        }
        uint32_t t = (uint32_t)a << 18 | (uint32_t)b << 12 |
                     (uint32_t)c << 6 | (uint32_t)d;
        raw[o++] = (unsigned char)(t >> 16);
        raw[o++] = (unsigned char)(t >> 8);
        raw[o++] = (unsigned char)t;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t u = 0;
        for (int b = 0; b < 8; b++)
            u |= (uint64_t)raw[i * 8 + (size_t)b] << (8 * b);
        memcpy(&v[i], &u, 8);
    }
    free(raw);
    return 0;
}

/* --- column values -------------------------------------------------------- */

static size_t keep_present(double *buf, size_t rows, const uint8_t *mask)
{
    size_t k = 0;
    for (size_t i = 0; i < rows; i++) {
        double x = buf[i];
        if ((mask && mask[i]) || !isfinite(x))
            continue;
        buf[k++] = x + 0.0;     /* -0.0 + 0.0 == +0.0 */
    }
    return k;
}

size_t drift_column_into(const struct orr_column *c, size_t rows,
                         double *buf)
{
    switch (c->type) {
    case ORR_COL_F64: {
        /* The common case in one pass. */
        const double *src = c->data;
        size_t k = 0;
        for (size_t i = 0; i < rows; i++) {
            double x = src[i];
            if (isfinite(x) && !(c->missing && c->missing[i]))
                buf[k++] = x + 0.0;
        }
        return k;
    }
    case ORR_COL_F32:
        for (size_t i = 0; i < rows; i++)
            buf[i] = ((const float *)c->data)[i];
        break;
    case ORR_COL_I64:
    case ORR_COL_TIME:
        for (size_t i = 0; i < rows; i++)
            buf[i] = (double)((const int64_t *)c->data)[i];
        break;
    case ORR_COL_CATEGORY:
        return 0;
    }
    return keep_present(buf, rows, c->missing);
}

size_t drift_matrix_into(const struct orr_matrix *x, size_t col,
                         double *buf)
{
    for (size_t i = 0; i < x->rows; i++)
        buf[i] = x->data[i * x->cols + col];
    return keep_present(buf, x->rows, NULL);
}

double *drift_column_values(const struct orr_column *c, size_t rows,
                            size_t *n, size_t *missing, int *oom)
{
    double *buf = malloc((rows ? rows : 1) * sizeof *buf);
    *oom = !buf;
    *n = buf ? drift_column_into(c, rows, buf) : 0;
    *missing = rows - *n;
    return buf;
}

double *drift_matrix_values(const struct orr_matrix *x, size_t col,
                            size_t *n, size_t *missing, int *oom)
{
    double *buf = malloc((x->rows ? x->rows : 1) * sizeof *buf);
    *oom = !buf;
    *n = buf ? drift_matrix_into(x, col, buf) : 0;
    *missing = x->rows - *n;
    return buf;
}

/* --- knots ---------------------------------------------------------------- */

long drift_knot_below(const struct dfeat *f, double x, int le_side)
{
    size_t lo = 0, hi = f->m;   /* first knot > x (or >= x) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (le_side ? f->v[mid] <= x : f->v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

double drift_ref_count(const struct dfeat *f, double x, int le_side)
{
    long j = drift_knot_below(f, x, le_side);
    if (j < 0)
        return 0;
    size_t k = (size_t)j;
    if (f->v[k] == x)           /* only when le_side */
        return f->le[k];
    if (k + 1 >= f->m)
        return f->count;
    double gap = f->lt[k + 1] - f->le[k];
    if (gap == 0)
        return f->le[k];
    return f->le[k] + gap * (x - f->v[k]) / (f->v[k + 1] - f->v[k]);
}

/* --- writing -------------------------------------------------------------- */

static int jset(json_t *o, const char *k, json_t *v)
{
    return v ? json_object_set_new(o, k, v) : -1;
}

static json_t *jnum(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

/* numpy.quantile's default (linear) on sorted data. */
static double quantile(const double *s, size_t n, double p)
{
    double h = (double)(n - 1) * p;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n)
        return s[n - 1];
    return s[lo] + (h - (double)lo) * (s[lo + 1] - s[lo]);
}

static size_t upper_bound(const double *s, size_t n, double x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t lower_bound(const double *s, size_t n, double x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The members shared by numeric features, predictions and a numeric
 * target: statistics, chart histogram, quantiles and the summary. */
static int numeric_json(json_t *o, double *s, size_t n, size_t missing,
                        const struct dprofile_opts *opt, size_t *distinct_out)
{
    int rc = -1;
    double *kv = NULL, *kle = NULL, *klt = NULL;
    char *b = NULL;
    uint64_t *tmp = malloc((n ? n : 1) * 2 * sizeof *tmp);
    if (!tmp)
        return -1;
    drift_sort(s, n, tmp);
    free(tmp);
    double mean = NAN, sd = NAN, sum = 0;
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        sum += s[i];
        if (i == 0 || s[i] != s[i - 1])
            distinct++;
    }
    if (n) {
        mean = sum / (double)n;
        double ss = 0;
        for (size_t i = 0; i < n; i++)
            ss += (s[i] - mean) * (s[i] - mean);
        sd = sqrt(ss / (double)n);
    }
    *distinct_out = distinct;
    if (jset(o, "type", json_string("numeric")) ||
        jset(o, "missing", json_integer((json_int_t)missing)) ||
        jset(o, "count", json_integer((json_int_t)n)) ||
        jset(o, "missing_rate",
             jnum(n + missing ? (double)missing / (double)(n + missing)
                              : NAN)) ||
        jset(o, "mean", jnum(mean)) || jset(o, "std", jnum(sd)) ||
        jset(o, "min", jnum(n ? s[0] : NAN)) ||
        jset(o, "max", jnum(n ? s[n - 1] : NAN)) ||
        jset(o, "distinct", json_integer((json_int_t)distinct)))
        goto out;
    if (n) {
        static const double qs[] = {0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99};
        json_t *q = json_object();
        if (jset(o, "quantiles", q))
            goto out;
        for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
            char key[16];
            snprintf(key, sizeof key, "%g", qs[i]);
            if (jset(q, key, json_real(quantile(s, n, qs[i]))))
                goto out;
        }
        /* Chart histogram: equal width over [min, max]. */
        size_t k = s[0] == s[n - 1] ? 1 : opt->hist_bins;
        json_t *h = json_object(), *ed = json_array(), *ct = json_array();
        if (jset(o, "histogram", h) || jset(h, "edges", ed) ||
            jset(h, "counts", ct))
            goto out;
        size_t prev = 0;
        for (size_t i = 0; i <= k; i++) {
            double e = i == k ? s[n - 1]
                              : s[0] + (double)i * ((s[n - 1] - s[0]) /
                                                    (double)k);
            if (json_array_append_new(ed, json_real(e)))
                goto out;
            if (i == 0)
                continue;
            size_t c = i == k ? n : lower_bound(s, n, e);
            if (json_array_append_new(ct, json_integer((json_int_t)(c -
                                                                    prev))))
                goto out;
            prev = c;
        }
        /* The reference summary. */
        int exact = distinct <= opt->exact_max;
        size_t cap = exact ? distinct : opt->quantiles, m = 0;
        kv = malloc(cap * sizeof *kv);
        kle = malloc(cap * sizeof *kle);
        klt = malloc(cap * sizeof *klt);
        if (!kv || !kle || !klt)
            goto out;
        for (size_t i = 0; i < cap; i++) {
            size_t r = exact ? 0
                             : (size_t)floor((double)i * (double)(n - 1) /
                                             (double)(cap - 1));
            double x;
            if (exact) {
                r = m ? (size_t)kle[m - 1] : 0;
                x = s[r];
            } else {
                x = s[r];
                if (m && kv[m - 1] == x)
                    continue;
            }
            kv[m] = x;
            klt[m] = (double)lower_bound(s, n, x);
            kle[m] = (double)upper_bound(s, n, x);
            m++;
        }
        json_t *sm = json_object();
        if (jset(o, "summary", sm) || jset(sm, "exact", json_boolean(exact)) ||
            jset(sm, "knots", json_integer((json_int_t)m)))
            goto out;
        if (!(b = b64_doubles(kv, m)) || jset(sm, "v", json_string(b)))
            goto out;
        free(b);
        if (!(b = b64_doubles(kle, m)) || jset(sm, "le", json_string(b)))
            goto out;
        free(b);
        b = NULL;
        if (!exact) {
            if (!(b = b64_doubles(klt, m)) || jset(sm, "lt", json_string(b)))
                goto out;
        }
    }
    rc = 0;
out:
    free(b);
    free(kv);
    free(kle);
    free(klt);
    return rc;
}

static int categorical_json(json_t *o, const struct orr_column *c,
                            size_t rows, json_t **classes)
{
    size_t *cnt = calloc(c->dict_len + 1, sizeof *cnt), missing = 0;
    const int32_t *codes = c->data;
    int rc = -1;
    if (!cnt)
        return -1;
    for (size_t i = 0; i < rows; i++) {
        int32_t k = codes[i];
        if ((c->missing && c->missing[i]) || k < 0 ||
            (size_t)k >= c->dict_len)
            missing++;
        else
            cnt[k]++;
    }
    json_t *cats = json_object();
    if (jset(o, "type", json_string("categorical")) ||
        jset(o, "missing", json_integer((json_int_t)missing)) ||
        jset(o, "count", json_integer((json_int_t)(rows - missing))) ||
        jset(o, "missing_rate",
             jnum(rows ? (double)missing / (double)rows : NAN)) ||
        jset(o, "categories", cats))
        goto out;
    if (classes && !(*classes = json_array()))
        goto out;
    for (size_t k = 0; k < c->dict_len; k++) {
        const char *label = c->dict[k] ? c->dict[k] : "";
        json_t *prev = json_object_get(cats, label);
        json_int_t add = (json_int_t)cnt[k];
        if (prev)   /* a dictionary that repeats a label: add up */
            add += json_integer_value(prev);
        if (jset(cats, label, json_integer(add)))
            goto out;
        if (classes && cnt[k] && !prev &&
            json_array_append_new(*classes, json_string(label)))
            goto out;
    }
    rc = 0;
out:
    free(cnt);
    return rc;
}

static json_t *column_json(const struct orr_column *c, size_t rows,
                           const struct dprofile_opts *opt, int is_target)
{
    json_t *o = json_object();
    if (!o || jset(o, "name", json_string(c->name ? c->name : "")))
        goto fail;
    if (c->type == ORR_COL_CATEGORY) {
        json_t *classes = NULL;
        if (categorical_json(o, c, rows, is_target ? &classes : NULL)) {
            json_decref(classes);
            goto fail;
        }
        if (is_target && (jset(o, "task", json_string("classification")) ||
                          jset(o, "classes", classes)))
            goto fail;
        return o;
    }
    size_t n, missing, distinct = 0;
    int oom;
    double *s = drift_column_values(c, rows, &n, &missing, &oom);
    if (!s)
        goto fail;
    if (numeric_json(o, s, n, missing, opt, &distinct)) {
        free(s);
        goto fail;
    }
    if (is_target) {
        /* Integer labels with few distinct values: a classification
         * target; the classes are those values. */
        int integral = n > 0;
        for (size_t i = 0; i < n && integral; i++)
            integral = s[i] == floor(s[i]);
        int cls = integral && distinct <= 20;
        json_t *classes = json_array();
        if (jset(o, "task",
                 json_string(cls ? "classification" : "regression")) ||
            !classes) {
            json_decref(classes);
            free(s);
            goto fail;
        }
        for (size_t i = 0; cls && i < n; i++)
            if (i == 0 || s[i] != s[i - 1])
                json_array_append_new(classes, json_real(s[i]));
        if (jset(o, "classes", classes)) {
            free(s);
            goto fail;
        }
    }
    free(s);
    return o;
fail:
    json_decref(o);
    return NULL;
}

int drift_profile_write(const struct orr_table *ref,
                        const struct orr_matrix *pred,
                        const struct dprofile_opts *opt, const char *path,
                        struct orr_error *e)
{
    json_t *root = json_object(), *feats = json_array(), *preds =
                                                             json_array();
    int rc = ORR_ENOMEM;
    char tmp_path[4096];
    if (!root || !feats || !preds) {
        json_decref(feats);
        json_decref(preds);
        goto fail;
    }
    if (jset(root, "format", json_string("drift/1")) ||
        jset(root, "rows", json_integer((json_int_t)ref->rows)) ||
        jset(root, "features", feats)) {
        json_decref(preds);
        goto fail;
    }
    if (jset(root, "predictions", preds))
        goto fail;
    for (size_t j = 0; j < ref->cols; j++) {
        const struct orr_column *c = &ref->columns[j];
        if (c->type == ORR_COL_TIME && j != ref->target)
            continue;           /* timestamps are not features */
        json_t *f = column_json(c, ref->rows, opt, j == ref->target);
        if (!f)
            goto fail;
        if (j == ref->target ? jset(root, "target", f)
                             : json_array_append_new(feats, f))
            goto fail;
    }
    for (size_t j = 0; pred && j < pred->cols; j++) {
        char name[32];
        size_t n, missing, distinct;
        int oom;
        if (pred->cols == 1)
            snprintf(name, sizeof name, "prediction");
        else
            snprintf(name, sizeof name, "prediction_%zu", j);
        json_t *f = json_object();
        double *s = drift_matrix_values(pred, j, &n, &missing, &oom);
        if (!f || !s || jset(f, "name", json_string(name)) ||
            numeric_json(f, s, n, missing, opt, &distinct) ||
            json_array_append_new(preds, f)) {
            free(s);
            goto fail;
        }
        free(s);
    }
    /* Write beside, then rename: a reader never sees half a profile. */
    if ((size_t)snprintf(tmp_path, sizeof tmp_path, "%s.tmp", path) >=
        sizeof tmp_path) {
        rc = H->fail(e, ORR_EINVAL, "profile path too long: %s", path);
        goto out;
    }
    if (json_dump_file(root, tmp_path, JSON_COMPACT | JSON_REAL_PRECISION(17))
        != 0) {
        rc = H->fail(e, ORR_EIO, "write profile %s: %s", path,
                     strerror(errno));
        remove(tmp_path);
        goto out;
    }
    if (rename(tmp_path, path) != 0) {
        rc = H->fail(e, ORR_EIO, "write profile %s: %s", path,
                     strerror(errno));
        remove(tmp_path);
        goto out;
    }
    rc = ORR_OK;
    goto out;
fail:
    rc = H->fail(e, ORR_ENOMEM, "profile %s: out of memory", path);
out:
    json_decref(root);
    return rc;
}

/* --- reading -------------------------------------------------------------- */

static void feat_clear(struct dfeat *f)
{
    free(f->name);
    free(f->v);
    free(f->le);
    free(f->lt);
    for (size_t i = 0; i < f->n_cat; i++)
        free(f->cat[i]);
    free(f->cat);
    free(f->cat_count);
    memset(f, 0, sizeof *f);
}

void drift_profile_free(struct dprofile *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_feat; i++)
        feat_clear(&p->feat[i]);
    for (size_t i = 0; i < p->n_pred; i++)
        feat_clear(&p->pred[i]);
    if (p->target)
        feat_clear(p->target);
    free(p->target);
    free(p->feat);
    free(p->pred);
    free(p);
}

static double jget_num(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int load_b64(const json_t *sm, const char *k, size_t m, double **out)
{
    const json_t *s = json_object_get(sm, k);
    if (!json_is_string(s))
        return -1;
    *out = malloc((m ? m : 1) * sizeof **out);
    if (!*out)
        return -1;
    return unb64_doubles(json_string_value(s), json_string_length(s), *out,
                         m);
}

struct label_count {
    const char *label;      /* borrowed from the JSON object */
    double      count;
};

static int cmp_label(const void *a, const void *b)
{
    return strcmp(((const struct label_count *)a)->label,
                  ((const struct label_count *)b)->label);
}

/* Parse one feature; a message in `why` on failure. */
static int feat_load(const json_t *o, struct dfeat *f, const char **why)
{
    const json_t *name = json_object_get(o, "name");
    const char *type = json_string_value(json_object_get(o, "type"));
    *why = "feature without name or type";
    if (!json_is_string(name) || !type)
        return -1;
    if (!(f->name = strdup(json_string_value(name)))) {
        *why = "out of memory";
        return -1;
    }
    f->missing = jget_num(o, "missing");
    f->count = jget_num(o, "count");
    *why = "feature without counts";
    if (!(f->missing >= 0) || !(f->count >= 0))
        return -1;
    if (!strcmp(type, "categorical")) {
        const json_t *cats = json_object_get(o, "categories");
        const char *k;
        const json_t *v;
        f->categorical = 1;
        *why = "categorical feature without categories";
        if (!json_is_object(cats))
            return -1;
        size_t n = json_object_size(cats), i = 0;
        struct label_count *lc = calloc(n ? n : 1, sizeof *lc);
        f->cat = calloc(n ? n : 1, sizeof *f->cat);
        f->cat_count = calloc(n ? n : 1, sizeof *f->cat_count);
        *why = "out of memory";
        if (!lc || !f->cat || !f->cat_count) {
            free(lc);
            return -1;
        }
        json_object_foreach((json_t *)cats, k, v) {
            lc[i].label = k;
            lc[i].count = json_is_number(v) ? json_number_value(v) : 0;
            i++;
        }
        /* Sorted by label for bsearch; the labels are copied. */
        qsort(lc, n, sizeof *lc, cmp_label);
        for (i = 0; i < n; i++) {
            if (!(f->cat[i] = strdup(lc[i].label))) {
                free(lc);
                return -1;
            }
            f->cat_count[i] = lc[i].count;
            f->n_cat = i + 1;
        }
        free(lc);
        return 0;
    }
    *why = "unknown feature type";
    if (strcmp(type, "numeric"))
        return -1;
    f->mean = jget_num(o, "mean");
    f->std = jget_num(o, "std");
    f->min = jget_num(o, "min");
    f->max = jget_num(o, "max");
    f->distinct = jget_num(o, "distinct");
    if (f->count == 0)
        return 0;
    const json_t *sm = json_object_get(o, "summary");
    const json_t *knots = json_object_get(sm, "knots");
    *why = "numeric feature without a valid summary";
    if (!json_is_object(sm) || !json_is_integer(knots) ||
        json_integer_value(knots) < 1 || !isfinite(f->min) ||
        !isfinite(f->max) || !isfinite(f->std))
        return -1;
    f->m = (size_t)json_integer_value(knots);
    f->exact = json_is_true(json_object_get(sm, "exact"));
    if (load_b64(sm, "v", f->m, &f->v) || load_b64(sm, "le", f->m, &f->le))
        return -1;
    if (f->exact) {
        if (!(f->lt = malloc(f->m * sizeof *f->lt)))
            return -1;
        for (size_t j = 0; j < f->m; j++)
            f->lt[j] = j ? f->le[j - 1] : 0;
    } else if (load_b64(sm, "lt", f->m, &f->lt)) {
        return -1;
    }
    for (size_t j = 0; j < f->m; j++)
        if ((j && !(f->v[j] > f->v[j - 1])) || !(f->lt[j] <= f->le[j]) ||
            (j && f->lt[j] < f->le[j - 1]) || !isfinite(f->v[j]))
            return -1;
    if (f->le[f->m - 1] != f->count)
        return -1;
    return 0;
}

int drift_profile_read(const char *path, struct dprofile **out,
                       struct orr_error *e)
{
    json_error_t je;
    struct dprofile *p = NULL;
    const char *why = NULL;
    int rc;
    FILE *fp = fopen(path, "rb");
    *out = NULL;
    if (!fp)
        return H->fail(e, errno == ENOENT ? ORR_ENOTFOUND : ORR_EIO,
                       "reference profile %s: %s", path, strerror(errno));
    /* One read and json_loadb: json_loadf reads a character at a time,
     * which made parsing the base64 summaries the slow part. */
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 1 << 16;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(fp);
                return H->fail(e, ORR_ENOMEM,
                               "reference profile %s: out of memory", path);
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (got == 0)
            break;
    }
    int read_err = ferror(fp);
    fclose(fp);
    if (read_err) {
        free(buf);
        return H->fail(e, ORR_EIO, "reference profile %s: read error", path);
    }
    json_t *root = json_loadb(buf, len, 0, &je);
    free(buf);
    if (!root)
        return H->fail(e, ORR_ECORRUPT,
                       "reference profile %s: not valid JSON (line %d: %s)",
                       path, je.line, je.text);
    const char *fmt = json_string_value(json_object_get(root, "format"));
    const json_t *feats = json_object_get(root, "features");
    const json_t *preds = json_object_get(root, "predictions");
    const json_t *tgt = json_object_get(root, "target");
    if (!fmt || strcmp(fmt, "drift/1") || !json_is_array(feats)) {
        rc = H->fail(e, ORR_ECORRUPT,
                     "reference profile %s: not a drift/1 profile (format "
                     "'%s')", path, fmt ? fmt : "missing");
        goto out;
    }
    p = calloc(1, sizeof *p);
    if (!p)
        goto oom;
    p->rows = jget_num(root, "rows");
    p->n_feat = json_array_size(feats);
    p->feat = calloc(p->n_feat ? p->n_feat : 1, sizeof *p->feat);
    p->n_pred = json_array_size(preds);
    p->pred = calloc(p->n_pred ? p->n_pred : 1, sizeof *p->pred);
    if (!p->feat || !p->pred)
        goto oom;
    for (size_t i = 0; i < p->n_feat; i++)
        if (feat_load(json_array_get(feats, i), &p->feat[i], &why))
            goto corrupt;
    for (size_t i = 0; i < p->n_pred; i++)
        if (feat_load(json_array_get(preds, i), &p->pred[i], &why))
            goto corrupt;
    if (json_is_object(tgt)) {
        if (!(p->target = calloc(1, sizeof *p->target)))
            goto oom;
        if (feat_load(tgt, p->target, &why))
            goto corrupt;
    }
    *out = p;
    p = NULL;
    rc = ORR_OK;
    goto out;
corrupt:
    rc = H->fail(e, ORR_ECORRUPT, "reference profile %s: %s", path,
                 why ? why : "invalid summary");
    goto out;
oom:
    rc = H->fail(e, ORR_ENOMEM, "reference profile %s: out of memory", path);
out:
    drift_profile_free(p);
    json_decref(root);
    return rc;
}
