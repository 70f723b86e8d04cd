/*
 * data/dataset.c - datasets: subsets, splits, canonical bytes, classes,
 * model input matrices (see data/table.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "data/table.h"
#include "storage/artifacts.h"
#include "util/error.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the canonical dataset layout is written from little-endian memory"
#endif

#define MAGIC "ORRDS01\n"
#define FETCH_MAX ((size_t)64 << 30)

void orri_format_number(char *out, size_t cap, double v)
{
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, cap, "%.0f", v);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

ORR_API void orr_dataset_free(struct orr_dataset *ds)
{
    if (!ds)
        return;
    for (size_t i = 0; i < ds->view.cols; i++) {
        if (ds->f64)
            free(ds->f64[i]);
        if (ds->codes)
            free(ds->codes[i]);
        if (ds->missing)
            free(ds->missing[i]);
        if (ds->dict && ds->dict[i]) {
            for (size_t k = 0; k < ds->cols[i].dict_len; k++)
                free(ds->dict[i][k]);
            free(ds->dict[i]);
        }
        if (ds->names)
            free(ds->names[i]);
    }
    free(ds->f64);
    free(ds->codes);
    free(ds->missing);
    free(ds->dict);
    free(ds->names);
    free(ds->cols);
    free(ds->source);
    free(ds);
}

ORR_API size_t orr_dataset_column(const struct orr_dataset *ds,
                                  const char *name)
{
    for (size_t i = 0; i < ds->view.cols; i++)
        if (!strcmp(ds->names[i], name))
            return i;
    return (size_t)-1;
}

ORR_API int orr_dataset_set_target(struct orr_dataset *ds, const char *name,
                                   struct orr_error *e)
{
    size_t i = orr_dataset_column(ds, name);
    if (i == (size_t)-1) {
        char list[512] = "";
        size_t used = 0;
        for (size_t k = 0; k < ds->view.cols && used < sizeof list - 8; k++)
            used += (size_t)snprintf(list + used, sizeof list - used,
                                     "%s%s", k ? ", " : "", ds->names[k]);
        return orr_fail(e, ORR_EINVAL, "%s: no target column '%s' "
                        "(columns: %s)", ds->source ? ds->source : "dataset",
                        name, list);
    }
    ds->view.target = i;
    return ORR_OK;
}

/* An empty dataset with n columns, ready for filling. */
static struct orr_dataset *alloc_ds(size_t nc, size_t rows)
{
    struct orr_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return NULL;
    size_t n = nc ? nc : 1;
    ds->cols = calloc(n, sizeof *ds->cols);
    ds->f64 = calloc(n, sizeof *ds->f64);
    ds->codes = calloc(n, sizeof *ds->codes);
    ds->missing = calloc(n, sizeof *ds->missing);
    ds->dict = calloc(n, sizeof *ds->dict);
    ds->names = calloc(n, sizeof *ds->names);
    ds->view.size = sizeof ds->view;
    ds->view.rows = rows;
    ds->view.cols = 0;          /* grows as columns are filled            */
    ds->view.columns = ds->cols;
    ds->view.target = ORR_NO_TARGET;
    if (!ds->cols || !ds->f64 || !ds->codes || !ds->missing || !ds->dict ||
        !ds->names) {
        orr_dataset_free(ds);
        return NULL;
    }
    return ds;
}

/* Append to `dst` a column named `name` of type `type` with `dict_len`
 * labels copied from `dict`; its arrays are allocated, not filled. */
static int add_col(struct orr_dataset *dst, const char *name,
                   enum orr_column_type type, const char *const *dict,
                   size_t dict_len, int with_missing)
{
    size_t i = dst->view.cols, rows = dst->view.rows;
    size_t r = rows ? rows : 1;
    struct orr_column *v = &dst->cols[i];
    v->size = sizeof *v;
    v->type = type;
    dst->view.cols++;           /* counted now so free() sees it          */
    if (!(dst->names[i] = strdup(name)))
        return ORR_ENOMEM;
    v->name = dst->names[i];
    if (with_missing) {
        if (!(dst->missing[i] = calloc(r, 1)))
            return ORR_ENOMEM;
        v->missing = dst->missing[i];
    }
    if (type == ORR_COL_CATEGORY) {
        if (!(dst->codes[i] = malloc(r * sizeof(int32_t))))
            return ORR_ENOMEM;
        v->data = dst->codes[i];
        if (!(dst->dict[i] = calloc(dict_len ? dict_len : 1,
                                    sizeof(char *))))
            return ORR_ENOMEM;
        for (size_t k = 0; k < dict_len; k++) {
            if (!(dst->dict[i][k] = strdup(dict[k])))
                return ORR_ENOMEM;
            v->dict_len = k + 1;
        }
        v->dict = (const char *const *)dst->dict[i];
    } else {
        if (!(dst->f64[i] = malloc(r * sizeof(double))))
            return ORR_ENOMEM;
        v->data = dst->f64[i];
    }
    return ORR_OK;
}

/* Build a dataset from columns `which` (n_cols) of `ds`, rows `idx`. */
static int subset(const struct orr_dataset *ds, const size_t *which,
                  size_t n_cols, const size_t *idx, size_t n,
                  struct orr_dataset **out, struct orr_error *e)
{
    struct orr_dataset *d = alloc_ds(n_cols, n);
    if (!d)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    for (size_t j = 0; j < n_cols; j++) {
        size_t c = which[j];
        const struct orr_column *src = &ds->cols[c];
        int miss = 0;
        if (src->missing)
            for (size_t r = 0; r < n && !miss; r++)
                miss = src->missing[idx ? idx[r] : r];
        if (add_col(d, src->name, src->type, src->dict, src->dict_len,
                    miss)) {
            orr_dataset_free(d);
            return orr_fail(e, ORR_ENOMEM, "out of memory");
        }
        if (c == ds->view.target)
            d->view.target = j;
        for (size_t r = 0; r < n; r++) {
            size_t s = idx ? idx[r] : r;
            if (src->type == ORR_COL_CATEGORY)
                d->codes[j][r] = ((const int32_t *)src->data)[s];
            else
                d->f64[j][r] = ((const double *)src->data)[s];
            if (miss)
                d->missing[j][r] = src->missing[s];
        }
    }
    if (ds->source && !(d->source = strdup(ds->source))) {
        orr_dataset_free(d);
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    *out = d;
    return ORR_OK;
}

ORR_API int orr_dataset_take(const struct orr_dataset *ds,
                             const size_t *idx, size_t n,
                             struct orr_dataset **out, struct orr_error *e)
{
    size_t nc = ds->view.cols;
    size_t *which = malloc((nc ? nc : 1) * sizeof *which);
    if (!which)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    for (size_t i = 0; i < nc; i++)
        which[i] = i;
    for (size_t r = 0; r < n; r++)
        if (idx[r] >= ds->view.rows) {
            free(which);
            return orr_fail(e, ORR_EINVAL, "row %zu out of range", idx[r]);
        }
    int rc = subset(ds, which, nc, idx, n, out, e);
    free(which);
    return rc;
}

ORR_API int orr_dataset_select(const struct orr_dataset *ds,
                               const char *const *names, size_t n,
                               struct orr_dataset **out,
                               struct orr_error *e)
{
    if (n == 0)
        return orr_fail(e, ORR_EINVAL, "select: no columns named");
    size_t *which = malloc(n * sizeof *which);
    if (!which)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        which[i] = orr_dataset_column(ds, names[i]);
        int dup = 0;
        for (size_t k = 0; k < i; k++)
            dup |= which[k] == which[i];
        if (which[i] == (size_t)-1 || dup) {
            free(which);
            return orr_fail(e, ORR_EINVAL, "select: %s column '%s'",
                            dup ? "duplicate" : "no", names[i]);
        }
    }
    int rc = subset(ds, which, n, NULL, ds->view.rows, out, e);
    free(which);
    return rc;
}

/* --- PRNG: splitmix64 seeds xoshiro256** (Blackman & Vigna) ------------ */

struct rng { uint64_t s[4]; };

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, bound) without modulo bias. */
static uint64_t rng_below(struct rng *r, uint64_t bound)
{
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t x = rng_next(r);
        if (x >= threshold)
            return x % bound;
    }
}

static void shuffle(struct rng *r, size_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(r, i);
        size_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* Sort context for time splits. */
static const struct orr_column *g_sort_col;

static int cmp_rows(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    const struct orr_column *c = g_sort_col;
    int r;
    if (c->type == ORR_COL_CATEGORY) {
        const int32_t *codes = c->data;
        r = strcmp(c->dict[codes[a]], c->dict[codes[b]]);
    } else {
        const double *v = c->data;
        r = (v[a] > v[b]) - (v[a] < v[b]);
    }
    return r ? r : (a > b) - (a < b);       /* stable */
}

static int cmp_size(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    return (a > b) - (a < b);
}

ORR_API int orr_dataset_split(const struct orr_dataset *ds,
                              const struct orr_split_options *opt,
                              struct orr_dataset **train,
                              struct orr_dataset **test,
                              struct orr_error *e)
{
    *train = *test = NULL;
    size_t n = ds->view.rows;
    if (!(opt->test > 0 && opt->test < 1))
        return orr_fail(e, ORR_EINVAL, "split: test must be a fraction "
                        "between 0 and 1 (got %g)", opt->test);
    uint8_t *is_test = calloc(n ? n : 1, 1);
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    size_t *tr = malloc((n ? n : 1) * sizeof *tr);
    size_t *te = malloc((n ? n : 1) * sizeof *te);
    char **labels = NULL;
    size_t n_classes = 0, *cls = NULL;
    int rc = ORR_OK;
    if (!is_test || !order || !tr || !te) {
        rc = orr_fail(e, ORR_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    struct rng r;
    rng_seed(&r, opt->seed);
    if (opt->kind == ORR_SPLIT_RANDOM) {
        shuffle(&r, order, n);
        size_t k = (size_t)ceil(opt->test * (double)n);
        for (size_t i = 0; i < k && i < n; i++)
            is_test[order[i]] = 1;
    } else if (opt->kind == ORR_SPLIT_STRATIFIED) {
        if (ds->view.target == ORR_NO_TARGET) {
            rc = orr_fail(e, ORR_EINVAL, "split: stratify needs a target "
                          "(give target = ... to ctx:dataset)");
            goto fail;
        }
        rc = orr_dataset_classes(ds, &labels, &n_classes, &cls, e);
        if (rc)
            goto fail;
        for (size_t c = 0; c < n_classes; c++) {
            size_t m = 0;
            for (size_t i = 0; i < n; i++)
                if (cls[i] == c)
                    order[m++] = i;
            shuffle(&r, order, m);
            size_t k = (size_t)llround(opt->test * (double)m);
            for (size_t i = 0; i < k; i++)
                is_test[order[i]] = 1;
        }
    } else {
        size_t c = opt->by ? orr_dataset_column(ds, opt->by) : (size_t)-1;
        if (c == (size_t)-1) {
            rc = orr_fail(e, ORR_EINVAL, "split: time split needs by = an "
                          "existing column (got '%s')",
                          opt->by ? opt->by : "");
            goto fail;
        }
        const struct orr_column *col = &ds->cols[c];
        for (size_t i = 0; col->missing && i < n; i++)
            if (col->missing[i]) {
                rc = orr_fail(e, ORR_EINVAL, "split: column '%s' is missing "
                              "in row %zu", opt->by, i + 1);
                goto fail;
            }
        g_sort_col = col;
        qsort(order, n, sizeof *order, cmp_rows);
        size_t k = (size_t)ceil(opt->test * (double)n);
        for (size_t i = n - (k < n ? k : n); i < n; i++)
            is_test[order[i]] = 1;
    }
    size_t ntr = 0, nte = 0;
    if (opt->kind == ORR_SPLIT_TIME) {
        /* Keep time order in each part. */
        for (size_t i = 0; i < n; i++)
            if (is_test[order[i]])
                te[nte++] = order[i];
            else
                tr[ntr++] = order[i];
    } else {
        for (size_t i = 0; i < n; i++)
            if (is_test[i])
                te[nte++] = i;
            else
                tr[ntr++] = i;
        qsort(te, nte, sizeof *te, cmp_size);
    }
    if (!ntr || !nte) {
        rc = orr_fail(e, ORR_EINVAL, "split: %zu rows give an empty %s part "
                      "with test = %g", n, ntr ? "test" : "train", opt->test);
        goto fail;
    }
    rc = orr_dataset_take(ds, tr, ntr, train, e);
    if (!rc)
        rc = orr_dataset_take(ds, te, nte, test, e);
    if (rc) {
        orr_dataset_free(*train);
        *train = NULL;
    }
fail:
    free(is_test);
    free(order);
    free(tr);
    free(te);
    orr_dataset_free_labels(labels, n_classes);
    free(cls);
    return rc;
}

/* --- canonical bytes ------------------------------------------------------ */

static json_t *header_json(const struct orr_dataset *ds, struct orr_error *e)
{
    json_t *cols = json_array();
    json_t *h = json_object();
    if (!cols || !h)
        goto oom;
    for (size_t i = 0; i < ds->view.cols; i++) {
        const struct orr_column *c = &ds->cols[i];
        json_t *o = json_object();
        json_t *name = json_string(c->name);
        if (!o || json_array_append_new(cols, o))
            goto oom;
        if (!name) {
            orr_fail(e, ORR_EINVAL, "column name '%s' is not UTF-8", c->name);
            goto fail;
        }
        json_object_set_new(o, "name", name);
        json_object_set_new(o, "type", json_string(
            c->type == ORR_COL_CATEGORY ? "category" : "f64"));
        if (c->type == ORR_COL_CATEGORY) {
            json_t *d = json_array();
            if (!d || json_object_set_new(o, "dict", d))
                goto oom;
            for (size_t k = 0; k < c->dict_len; k++) {
                json_t *l = json_string(c->dict[k]);
                if (!l) {
                    orr_fail(e, ORR_EINVAL, "column '%s': label '%s' is not "
                             "UTF-8", c->name, c->dict[k]);
                    goto fail;
                }
                json_array_append_new(d, l);
            }
        }
    }
    json_object_set_new(h, "columns", cols);
    json_object_set_new(h, "rows", json_integer((json_int_t)ds->view.rows));
    json_object_set_new(h, "target", ds->view.target == ORR_NO_TARGET ?
                        json_null() :
                        json_string(ds->cols[ds->view.target].name));
    return h;
oom:
    orr_fail(e, ORR_ENOMEM, "out of memory");
fail:
    json_decref(cols);
    json_decref(h);
    return NULL;
}

ORR_API int orr_dataset_write_canonical(const struct orr_dataset *ds,
                                        FILE *f, struct orr_error *e)
{
    json_t *h = header_json(ds, e);
    if (!h)
        return e ? e->code : ORR_EINVAL;
    char *text = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(h);
    if (!text)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    uint64_t hl = strlen(text);
    size_t rows = ds->view.rows;
    int ok = fwrite(MAGIC, 1, 8, f) == 8 && fwrite(&hl, 8, 1, f) == 1 &&
             fwrite(text, 1, hl, f) == hl;
    free(text);
    static const uint8_t zeros[4096];
    for (size_t i = 0; ok && i < ds->view.cols; i++) {
        const struct orr_column *c = &ds->cols[i];
        size_t w = c->type == ORR_COL_CATEGORY ? 4 : 8;
        ok = fwrite(c->data, w, rows, f) == rows;
        if (!ok)
            break;
        if (c->missing) {
            ok = fwrite(c->missing, 1, rows, f) == rows;
        } else {
            for (size_t k = 0; ok && k < rows; k += sizeof zeros) {
                size_t m = rows - k < sizeof zeros ? rows - k : sizeof zeros;
                ok = fwrite(zeros, 1, m, f) == m;
            }
        }
    }
    if (!ok || fflush(f))
        return orr_fail(e, ORR_EIO, "writing dataset bytes: %s",
                        strerror(errno));
    return ORR_OK;
}

ORR_API int orr_dataset_read_canonical(const void *data, size_t len,
                                       struct orr_dataset **out,
                                       struct orr_error *e)
{
    const unsigned char *p = data;
    *out = NULL;
    uint64_t hl;
    if (len < 16 || memcmp(p, MAGIC, 8))
        return orr_fail(e, ORR_ECORRUPT, "not a stored dataset");
    memcpy(&hl, p + 8, 8);
    if (hl > len - 16)
        return orr_fail(e, ORR_ECORRUPT, "dataset header truncated");
    json_error_t je;
    json_t *h = json_loadb((const char *)p + 16, hl, 0, &je);
    json_t *cols = h ? json_object_get(h, "columns") : NULL;
    json_t *jrows = h ? json_object_get(h, "rows") : NULL;
    if (!json_is_array(cols) || !json_is_integer(jrows) ||
        json_integer_value(jrows) < 0) {
        json_decref(h);
        return orr_fail(e, ORR_ECORRUPT, "dataset header malformed");
    }
    size_t rows = (size_t)json_integer_value(jrows);
    size_t nc = json_array_size(cols);
    size_t off = 16 + hl;
    int rc = ORR_OK;
    struct orr_dataset *ds = alloc_ds(nc, rows);
    if (!ds) {
        json_decref(h);
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nc && !rc; i++) {
        json_t *c = json_array_get(cols, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *type = json_string_value(json_object_get(c, "type"));
        json_t *dict = json_object_get(c, "dict");
        int cat = type && !strcmp(type, "category");
        if (!name || !type || (!cat && strcmp(type, "f64")) ||
            (cat && !json_is_array(dict))) {
            rc = orr_fail(e, ORR_ECORRUPT, "dataset column %zu malformed", i);
            break;
        }
        size_t nd = cat ? json_array_size(dict) : 0;
        const char **labels = calloc(nd ? nd : 1, sizeof *labels);
        if (!labels) {
            rc = orr_fail(e, ORR_ENOMEM, "out of memory");
            break;
        }
        for (size_t k = 0; k < nd; k++)
            labels[k] = json_string_value(json_array_get(dict, k));
        for (size_t k = 0; k < nd && !rc; k++)
            if (!labels[k])
                rc = orr_fail(e, ORR_ECORRUPT, "dataset label malformed");
        size_t w = cat ? 4 : 8;
        if (!rc && (rows > (len - off) / (w + 1)))
            rc = orr_fail(e, ORR_ECORRUPT, "dataset data truncated");
        if (!rc && add_col(ds, name, cat ? ORR_COL_CATEGORY : ORR_COL_F64,
                           labels, nd, 1))
            rc = orr_fail(e, ORR_ENOMEM, "out of memory");
        free(labels);
        if (rc)
            break;
        memcpy(cat ? (void *)ds->codes[i] : (void *)ds->f64[i], p + off,
               rows * w);
        off += rows * w;
        memcpy(ds->missing[i], p + off, rows);
        off += rows;
        int any = 0;
        for (size_t r = 0; r < rows; r++) {
            if (ds->missing[i][r] > 1 ||
                (cat && (ds->codes[i][r] < -1 ||
                         ds->codes[i][r] >= (int32_t)nd))) {
                rc = orr_fail(e, ORR_ECORRUPT, "dataset column '%s' has bad "
                              "values", name);
                break;
            }
            any |= ds->missing[i][r];
        }
        if (!any) {     /* as loaded from CSV: no mask when nothing misses */
            free(ds->missing[i]);
            ds->missing[i] = NULL;
            ds->cols[i].missing = NULL;
        }
    }
    json_t *t = json_object_get(h, "target");
    if (!rc && json_is_string(t))
        rc = orr_dataset_set_target(ds, json_string_value(t), e);
    if (!rc && off != len)
        rc = orr_fail(e, ORR_ECORRUPT, "dataset has trailing bytes");
    json_decref(h);
    if (rc) {
        orr_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return ORR_OK;
}

ORR_API int orr_dataset_store(struct orr_dataset *ds, struct orr_instance *st,
                              uint64_t *size, struct orr_error *e)
{
    if (ds->hash[0] && !size)
        return ORR_OK;
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/orrery-ds-XXXXXX",
             dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return orr_fail(e, ORR_EIO, "temporary file in %s: %s",
                        dir && *dir ? dir : "/tmp", strerror(errno));
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(path);
        return orr_fail(e, ORR_EIO, "fdopen: %s", strerror(errno));
    }
    int rc = orr_dataset_write_canonical(ds, f, e);
    long n = ftell(f);
    if (fclose(f) && !rc)
        rc = orr_fail(e, ORR_EIO, "writing %s: %s", path, strerror(errno));
    char digest[ORR_DIGEST_HEX_LEN + 1];
    if (!rc)
        rc = orr_storage_put_file(st, path, digest, e);
    unlink(path);
    if (rc)
        return rc;
    memcpy(ds->hash, digest, sizeof ds->hash);
    ds->view.content_hash = ds->hash;
    if (size)
        *size = n > 0 ? (uint64_t)n : 0;
    return ORR_OK;
}

ORR_API int orr_dataset_fetch(struct orr_instance *st, const char *digest,
                              struct orr_dataset **out, struct orr_error *e)
{
    void *data = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = orr_storage_get_buf(st, digest, FETCH_MAX, &data, &len, e);
    if (!rc)
        rc = orr_dataset_read_canonical(data, len, out, e);
    free(data);
    if (rc) {
        orr_error_prefix(e, "dataset %.12s", digest);
        return rc;
    }
    memcpy((*out)->hash, digest, sizeof (*out)->hash);
    (*out)->view.content_hash = (*out)->hash;
    return ORR_OK;
}

/* --- classes and model inputs --------------------------------------------- */

ORR_API void orr_dataset_free_labels(char **labels, size_t n)
{
    if (!labels)
        return;
    for (size_t i = 0; i < n; i++)
        free(labels[i]);
    free(labels);
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

static const char *const *g_dict;

static int cmp_code(const void *pa, const void *pb)
{
    return strcmp(g_dict[*(const int32_t *)pa], g_dict[*(const int32_t *)pb]);
}

ORR_API int orr_dataset_classes(const struct orr_dataset *ds,
                                char ***labels, size_t *n_classes,
                                size_t **row_class, struct orr_error *e)
{
    *labels = NULL;
    *n_classes = 0;
    *row_class = NULL;
    if (ds->view.target == ORR_NO_TARGET)
        return orr_fail(e, ORR_EINVAL, "the dataset has no target column");
    const struct orr_column *c = &ds->cols[ds->view.target];
    size_t n = ds->view.rows;
    for (size_t i = 0; c->missing && i < n; i++)
        if (c->missing[i])
            return orr_fail(e, ORR_EINVAL, "target '%s' is missing in row "
                            "%zu", c->name, i + 1);
    size_t *rc_ = malloc((n ? n : 1) * sizeof *rc_);
    char **out = NULL;
    size_t k = 0;
    if (!rc_)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    if (c->type == ORR_COL_CATEGORY) {
        const int32_t *codes = c->data;
        size_t nd = c->dict_len;
        int32_t *used = malloc((nd ? nd : 1) * sizeof *used);
        size_t *map = malloc((nd ? nd : 1) * sizeof *map);
        uint8_t *seen = calloc(nd ? nd : 1, 1);
        if (!used || !map || !seen)
            goto oom_cat;
        for (size_t i = 0; i < n; i++)
            if (!seen[codes[i]]) {
                seen[codes[i]] = 1;
                used[k++] = codes[i];
            }
        g_dict = c->dict;
        qsort(used, k, sizeof *used, cmp_code);
        out = calloc(k ? k : 1, sizeof *out);
        if (!out)
            goto oom_cat;
        for (size_t j = 0; j < k; j++) {
            map[used[j]] = j;
            if (!(out[j] = strdup(c->dict[used[j]])))
                goto oom_cat;
        }
        for (size_t i = 0; i < n; i++)
            rc_[i] = map[codes[i]];
        free(used);
        free(map);
        free(seen);
        goto done;
oom_cat:
        free(used);
        free(map);
        free(seen);
        orr_dataset_free_labels(out, k);
        free(rc_);
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    } else {
        const double *v = c->data;
        double *u = malloc((n ? n : 1) * sizeof *u);
        if (!u) {
            free(rc_);
            return orr_fail(e, ORR_ENOMEM, "out of memory");
        }
        memcpy(u, v, n * sizeof *u);
        qsort(u, n, sizeof *u, cmp_double);
        for (size_t i = 0; i < n; i++)
            if (i == 0 || u[i] != u[k - 1])
                u[k++] = u[i];
        out = calloc(k ? k : 1, sizeof *out);
        for (size_t j = 0; out && j < k; j++) {
            char buf[40];
            orri_format_number(buf, sizeof buf, u[j]);
            if (!(out[j] = strdup(buf))) {
                orr_dataset_free_labels(out, k);
                out = NULL;
            }
        }
        if (!out) {
            free(u);
            free(rc_);
            return orr_fail(e, ORR_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
            size_t lo = 0, hi = k;
            while (lo + 1 < hi) {
                size_t mid = (lo + hi) / 2;
                if (u[mid] <= v[i])
                    lo = mid;
                else
                    hi = mid;
            }
            rc_[i] = lo;
        }
        free(u);
    }
done:
    *labels = out;
    *n_classes = k;
    *row_class = rc_;
    return ORR_OK;
}

ORR_API int orr_dataset_matrix(const struct orr_dataset *ds,
                               const char *const *names, size_t n,
                               double **data, struct orr_error *e)
{
    size_t rows = ds->view.rows;
    *data = NULL;
    if (n && rows > SIZE_MAX / sizeof(double) / n)
        return orr_fail(e, ORR_EINVAL, "input matrix too large");
    double *x = malloc((rows && n ? rows * n : 1) * sizeof *x);
    if (!x)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    for (size_t j = 0; j < n; j++) {
        const char *name = names[j];
        size_t c = orr_dataset_column(ds, name);
        const struct orr_column *col = NULL;
        int32_t level = -2;
        if (c != (size_t)-1) {
            col = &ds->cols[c];
            if (col->type == ORR_COL_CATEGORY) {
                free(x);
                return orr_fail(e, ORR_EINVAL, "column '%s' is categorical "
                                "but the model takes it as a number", name);
            }
        } else {
            /* "COL=LABEL": try each '=' (column names may contain one). */
            for (const char *eq = strchr(name, '='); eq && !col;
                 eq = strchr(eq + 1, '=')) {
                for (size_t k = 0; k < ds->view.cols; k++) {
                    const struct orr_column *cc = &ds->cols[k];
                    if (cc->type == ORR_COL_CATEGORY &&
                        strlen(cc->name) == (size_t)(eq - name) &&
                        !strncmp(cc->name, name, (size_t)(eq - name))) {
                        col = cc;
                        level = -1;         /* label not in this data */
                        for (size_t d = 0; d < cc->dict_len; d++)
                            if (!strcmp(cc->dict[d], eq + 1))
                                level = (int32_t)d;
                        break;
                    }
                }
            }
        }
        if (!col) {
            free(x);
            return orr_fail(e, ORR_EINVAL, "the data has no column for the "
                            "model input '%s'", name);
        }
        for (size_t r = 0; r < rows; r++) {
            double v;
            if (col->missing && col->missing[r])
                v = NAN;
            else if (level == -2)
                v = ((const double *)col->data)[r];
            else
                v = ((const int32_t *)col->data)[r] == level;
            x[r * n + j] = v;
        }
    }
    *data = x;
    return ORR_OK;
}
