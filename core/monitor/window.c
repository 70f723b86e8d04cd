/*
 * monitor/window.c - reading one window of the prediction log: binary
 * rows copied straight into one matrix (legacy JSON rows decoded), labels
 * joined by request id through an in-memory index of the model's labels,
 * so a window without labels costs no lookup per row.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta/predictions.h"
#include "monitor/internal.h"
#include "util/error.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define HOST_LE 0
#else
#define HOST_LE 1
#endif

int orri_mon_window_parse(const char *spec, int64_t *count, int64_t *span_ms,
                          struct orr_error *e)
{
    *count = 0;
    *span_ms = 0;
    if (!spec || !spec[0])
        spec = "1h";
    errno = 0;
    char *end = NULL;
    long long v = strtoll(spec, &end, 10);
    if (end == spec || errno || v <= 0 || !isdigit((unsigned char)spec[0]))
        goto bad;
    if (!*end) {
        *count = v;
        return ORR_OK;
    }
    if (end[1])
        goto bad;
    int64_t unit = *end == 's' ? 1000 : *end == 'm' ? 60000
                 : *end == 'h' ? 3600000 : *end == 'd' ? 86400000 : 0;
    if (!unit || v > INT64_MAX / unit)
        goto bad;
    *span_ms = v * unit;
    return ORR_OK;
bad:
    return orr_fail(e, ORR_EINVAL, "bad window '%s': a row count (10000) "
                    "or a span (90s, 30m, 1h, 2d)", spec);
}

/* ---- the label index: request id -> JSON text ----------------------- */

struct lab {
    char *id, *json;
};

struct labidx {
    struct lab *slots;
    size_t      cap, n;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void labidx_free(struct labidx *ix)
{
    for (size_t i = 0; i < ix->cap; i++) {
        free(ix->slots[i].id);
        free(ix->slots[i].json);
    }
    free(ix->slots);
}

static const char *labidx_get(const struct labidx *ix, const char *id)
{
    if (!ix->n)
        return NULL;
    for (size_t i = hash_str(id) & (ix->cap - 1);; i = (i + 1) &
                                                      (ix->cap - 1)) {
        if (!ix->slots[i].id)
            return NULL;
        if (!strcmp(ix->slots[i].id, id))
            return ix->slots[i].json;
    }
}

/* A model-specific label wins over one posted for any model. */
static int labidx_put(struct labidx *ix, const char *id, const char *json,
                      int specific)
{
    if ((ix->n + 1) * 2 > ix->cap) {
        size_t cap = ix->cap ? ix->cap * 2 : 64;
        struct lab *s = calloc(cap, sizeof *s);
        if (!s)
            return ORR_ENOMEM;
        for (size_t i = 0; i < ix->cap; i++) {
            if (!ix->slots[i].id)
                continue;
            size_t j = hash_str(ix->slots[i].id) & (cap - 1);
            while (s[j].id)
                j = (j + 1) & (cap - 1);
            s[j] = ix->slots[i];
        }
        free(ix->slots);
        ix->slots = s;
        ix->cap = cap;
    }
    size_t i = hash_str(id) & (ix->cap - 1);
    while (ix->slots[i].id && strcmp(ix->slots[i].id, id))
        i = (i + 1) & (ix->cap - 1);
    if (ix->slots[i].id && !specific)
        return ORR_OK;
    char *j = strdup(json);
    if (!j)
        return ORR_ENOMEM;
    if (!ix->slots[i].id) {
        ix->slots[i].id = strdup(id);
        if (!ix->slots[i].id) {
            free(j);
            return ORR_ENOMEM;
        }
        ix->n++;
    }
    free(ix->slots[i].json);
    ix->slots[i].json = j;
    return ORR_OK;
}

static int load_labels(sqlite3 *db, const char *model, struct labidx *ix,
                       struct orr_error *e)
{
    static const char q[] =
        "SELECT request_id, label, model <> '' FROM labels"
        " WHERE model = ?1 OR model = ''";
    sqlite3_stmt *st = NULL;
    int rc = ORR_OK;
    int src = sqlite3_prepare_v2(db, q, -1, &st, NULL);
    if (src == SQLITE_OK)
        sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *js = (const char *)sqlite3_column_text(st, 1);
        if (id && js && labidx_put(ix, id, js, sqlite3_column_int(st, 2))) {
            rc = orr_fail(e, ORR_ENOMEM, "out of memory");
            break;
        }
        src = SQLITE_OK;
    }
    if (!rc && src != SQLITE_DONE)
        rc = orri_mon_sqlfail(db, src, e, "reading labels");
    sqlite3_finalize(st);
    return rc;
}

/* ---- rows --------------------------------------------------------------- */

/* Room for `need` rows; columns move to their new stride. */
static int grow(struct orri_mon_rows *r, size_t *cap, size_t need)
{
    if (need <= *cap)
        return ORR_OK;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    double *x = malloc(c * (r->cols ? r->cols : 1) * sizeof *x);
    if (!x)
        return ORR_ENOMEM;
    for (size_t k = 0; r->x && k < r->cols; k++)
        memcpy(x + k * c, r->x + k * r->stride, r->rows * sizeof *x);
    free(r->x);
    r->x = x;
    r->stride = c;
    double *y = realloc(r->y, c * (r->out_cols ? r->out_cols : 1) *
                        sizeof *y);
    if (!y)
        return ORR_ENOMEM;
    r->y = y;
    double *l = realloc(r->label, c * sizeof *l);
    if (!l)
        return ORR_ENOMEM;
    r->label = l;
    if (r->label_text) {
        char **t = realloc(r->label_text, c * sizeof *t);
        if (!t)
            return ORR_ENOMEM;
        memset(t + *cap, 0, (c - *cap) * sizeof *t);
        r->label_text = t;
    }
    *cap = c;
    return ORR_OK;
}

/* Scatter `nr` rows of `nc` little-endian doubles into the columns. */
static void scatter(struct orri_mon_rows *r, const unsigned char *src,
                    size_t nr, size_t nc)
{
    for (size_t i = 0; i < nr; i++) {
        double v[64];
        for (size_t c0 = 0; c0 < nc; c0 += 64) {
            size_t m = nc - c0 < 64 ? nc - c0 : 64;
            orri_f64_from_le(v, src + (i * nc + c0) * 8, m);
            for (size_t c = 0; c < m; c++)
                r->x[(c0 + c) * r->stride + r->rows + i] = v[c];
        }
    }
}

/* One label scalar into row `i`. */
static int set_label(struct orri_mon_rows *r, size_t cap, size_t i,
                     const json_t *v)
{
    if (json_is_number(v)) {
        r->label[i] = json_number_value(v);
    } else if (json_is_boolean(v)) {
        r->label[i] = json_is_true(v) ? 1.0 : 0.0;
    } else if (json_is_string(v)) {
        if (!r->label_text) {
            r->label_text = calloc(cap, sizeof *r->label_text);
            if (!r->label_text)
                return ORR_ENOMEM;
        }
        r->label_text[i] = strdup(json_string_value(v));
        if (!r->label_text[i])
            return ORR_ENOMEM;
    } else {
        return ORR_OK;
    }
    r->n_labelled++;
    return ORR_OK;
}

/* Labels of one request's rows [first, first + n): a scalar for one row,
 * an array for several (a scalar then labels the first row only). */
static int join_label(struct orri_mon_rows *r, size_t cap, size_t first,
                      size_t n, const char *text)
{
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!j)
        return ORR_OK;
    int rc = ORR_OK;
    if (json_is_array(j)) {
        for (size_t k = 0; !rc && k < n && k < json_array_size(j); k++)
            rc = set_label(r, cap, first + k, json_array_get(j, k));
    } else if (json_is_object(j) && n == 1) {
        /* {"label": x} or {"y": x}: the object's only member. */
        if (json_object_size(j) == 1)
            rc = set_label(r, cap, first,
                           json_object_iter_value(json_object_iter(j)));
    } else {
        rc = set_label(r, cap, first, j);
    }
    json_decref(j);
    return rc;
}

/* The count window walks the table backwards by rowid ("+model" keeps
 * the planner off the (model, ts_ms) index, whose order would need a
 * temporary B-tree of the whole window: 10 times slower at 1e6 rows);
 * the time window walks that index backwards. */
int orri_mon_window_load(sqlite3 *db, const char *model, const char *version,
                         size_t cols, int64_t count, int64_t span_ms,
                         int64_t now_ms, struct orri_mon_rows *out,
                         struct orr_error *e)
{
    static const char qn[] =
        "SELECT request_id, version, ts_ms, inputs, outputs, input_cols,"
        " output_cols, typeof(inputs) = 'text' FROM predictions"
        " WHERE +model = ?1 AND (?2 IS NULL OR version = ?2)"
        " ORDER BY id DESC LIMIT ?3";
    static const char qt[] =
        "SELECT request_id, version, ts_ms, inputs, outputs, input_cols,"
        " output_cols, typeof(inputs) = 'text' FROM predictions"
        " WHERE model = ?1 AND (?2 IS NULL OR version = ?2)"
        " AND ts_ms >= ?3 AND ts_ms <= ?4 ORDER BY ts_ms DESC";
    struct orri_mon_rows *r = out;
    memset(r, 0, sizeof *r);
    struct labidx ix = {0};
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    double *tmp_in = NULL, *tmp_out = NULL;
    int rc = load_labels(db, model, &ix, e);
    if (rc)
        goto fail;
    int src = sqlite3_prepare_v2(db, count ? qn : qt, -1, &st, NULL);
    if (src != SQLITE_OK) {
        rc = orri_mon_sqlfail(db, src, e, "reading the prediction log");
        goto fail;
    }
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    if (version)
        sqlite3_bind_text(st, 2, version, -1, SQLITE_STATIC);
    if (count) {
        sqlite3_bind_int64(st, 3, count);
    } else {
        sqlite3_bind_int64(st, 3, now_ms - span_ms);
        sqlite3_bind_int64(st, 4, now_ms);
    }
    r->cols = cols;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        r->n_requests++;
        int text = sqlite3_column_int(st, 7);
        int64_t icols = sqlite3_column_int64(st, 5);
        int64_t ocols = sqlite3_column_int64(st, 6);
        const void *in = sqlite3_column_blob(st, 3);
        size_t in_len = (size_t)sqlite3_column_bytes(st, 3);
        size_t nr = 0, nc = 0;
        const unsigned char *xin = in;
        free(tmp_in);
        tmp_in = NULL;
        /* Binary rows are scattered into the columns as they are; legacy
         * JSON rows decode first. */
        if (text || icols <= 0) {
            rc = orri_predictions_decode(in, in_len, text, icols, &tmp_in,
                                         &nr, &nc, e);
            if (rc)
                goto fail;
            if (!HOST_LE)
                orri_f64_to_le(tmp_in, tmp_in, nr * nc);
            xin = (const unsigned char *)tmp_in;
        } else if (in_len % (8 * (size_t)icols) == 0) {
            nc = (size_t)icols;
            nr = in_len / 8 / nc;
        }
        if (!nr)
            continue;
        if (!r->cols)
            r->cols = nc;
        if (nc != r->cols) {
            r->n_skipped++;
            continue;
        }
        if (!r->version[0]) {
            const char *v = (const char *)sqlite3_column_text(st, 1);
            snprintf(r->version, sizeof r->version, "%s", v ? v : "");
        }
        /* Outputs: their column count is fixed by the first row. */
        const unsigned char *ob = sqlite3_column_blob(st, 4);
        size_t ob_len = (size_t)sqlite3_column_bytes(st, 4);
        size_t onr = 0, onc = 0;
        const double *yout = NULL;
        free(tmp_out);
        tmp_out = NULL;
        if (ob && ob_len && !text && ocols > 0 && HOST_LE &&
            ob_len % (8 * (size_t)ocols) == 0) {
            onc = (size_t)ocols;
            onr = ob_len / 8 / onc;
        } else if (ob && ob_len) {
            rc = orri_predictions_decode(ob, ob_len, text, ocols, &tmp_out,
                                         &onr, &onc, e);
            if (rc)
                goto fail;
            yout = tmp_out;
        }
        if (!r->out_cols && r->rows == 0)
            r->out_cols = onc;
        if (count && !cap && count <= 50000000) {
            rc = grow(r, &cap, (size_t)count);
            if (rc)
                goto oom;
        }
        if ((rc = grow(r, &cap, r->rows + nr)))
            goto oom;
        scatter(r, xin, nr, nc);
        size_t oc = r->out_cols;
        double *yd = r->y + r->rows * oc;
        if (onc == oc && onr == nr && !yout) {
            memcpy(yd, ob, nr * oc * sizeof *yd);
        } else {
            for (size_t i = 0; i < nr; i++)
                for (size_t c = 0; c < oc; c++)
                    yd[i * oc + c] = onc == oc && i < onr
                                   ? (yout ? yout[i * onc + c] : NAN) : NAN;
        }
        for (size_t i = 0; i < nr; i++)
            r->label[r->rows + i] = NAN;
        int64_t ts = sqlite3_column_int64(st, 2);
        if (!r->end_ms || ts > r->end_ms)
            r->end_ms = ts;
        if (!r->start_ms || ts < r->start_ms)
            r->start_ms = ts;
        if (ix.n) {
            const char *id = (const char *)sqlite3_column_text(st, 0);
            const char *lj = id ? labidx_get(&ix, id) : NULL;
            if (lj && (rc = join_label(r, cap, r->rows, nr, lj)))
                goto oom;
        }
        r->rows += nr;
    }
    if (src != SQLITE_DONE) {
        rc = orri_mon_sqlfail(db, src, e, "reading the prediction log");
        goto fail;
    }
    rc = ORR_OK;
    goto fail;
oom:
    rc = orr_fail(e, ORR_ENOMEM, "out of memory reading the window");
fail:
    free(tmp_in);
    free(tmp_out);
    sqlite3_finalize(st);
    labidx_free(&ix);
    if (rc)
        orri_mon_rows_free(r);
    return rc;
}

void orri_mon_rows_free(struct orri_mon_rows *r)
{
    if (!r)
        return;
    if (r->label_text)
        for (size_t i = 0; i < r->rows; i++)
            free(r->label_text[i]);
    free(r->label_text);
    free(r->x);
    free(r->y);
    free(r->label);
    memset(r, 0, sizeof *r);
}
