/*
 * monitor/window.c - reading one window of the prediction log: chunks
 * (and the legacy rows before them) scattered straight into the window's
 * columns (legacy JSON rows decoded), labels
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

#include "meta/pcols.h"
#include "meta/predictions.h"
#include "meta/psegment.h"
#include "monitor/internal.h"
#include "util/error.h"
#include "util/log.h"

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

/* One logged prediction being added to the window. */
struct pred {
    const unsigned char *x;     /* nr x nc little-endian doubles          */
    size_t               nr, nc;
    const unsigned char *yb;    /* onr x onc little-endian, or NULL       */
    const double        *yd;    /* onr x onc host doubles, or NULL        */
    size_t               onr, onc;
    int64_t              ts;
    const char          *id, *version;
};

/* Add one prediction's rows (skipped when of another column count). */
static int add_pred(struct orri_mon_rows *r, size_t *cap, int64_t count,
                    const struct labidx *ix, const struct pred *p)
{
    r->n_requests++;
    if (!p->nr)
        return ORR_OK;
    if (!r->cols)
        r->cols = p->nc;
    if (p->nc != r->cols) {
        r->n_skipped++;
        return ORR_OK;
    }
    if (!r->version[0])
        snprintf(r->version, sizeof r->version, "%s",
                 p->version ? p->version : "");
    /* Outputs: their column count is fixed by the first row. */
    if (!r->out_cols && r->rows == 0)
        r->out_cols = p->onc;
    if (count && !*cap && count <= 50000000 && grow(r, cap, (size_t)count))
        return ORR_ENOMEM;
    if (grow(r, cap, r->rows + p->nr))
        return ORR_ENOMEM;
    scatter(r, p->x, p->nr, p->nc);
    size_t oc = r->out_cols, nr = p->nr;
    double *yd = r->y + r->rows * oc;
    if (p->onc == oc && p->onr == nr && p->yb) {
        orri_f64_from_le(yd, p->yb, nr * oc);
    } else {
        for (size_t i = 0; i < nr; i++)
            for (size_t c = 0; c < oc; c++)
                yd[i * oc + c] = p->onc == oc && i < p->onr && p->yd
                               ? p->yd[i * p->onc + c] : NAN;
    }
    for (size_t i = 0; i < nr; i++)
        r->label[r->rows + i] = NAN;
    if (!r->end_ms || p->ts > r->end_ms)
        r->end_ms = p->ts;
    if (!r->start_ms || p->ts < r->start_ms)
        r->start_ms = p->ts;
    if (ix->n && p->id) {
        const char *lj = labidx_get(ix, p->id);
        if (lj && join_label(r, *cap, r->rows, nr, lj))
            return ORR_ENOMEM;
    }
    r->rows += nr;
    return ORR_OK;
}

/* Chunks whose payload could not be read from their segment (missing
 * or short file, checksum mismatch, a refused name): skipped, counted,
 * one warning per window naming the first. */
struct skips {
    int64_t          chunks, preds;
    struct orr_error first;
};

/* The payload (`len` bytes) of a chunk stored in segment `seg` (schema
 * 8) into *data: layout 0 checked whole, layout 1 (schema 9) record by
 * record, the `n` records rec_len[] long.  ORR_ECORRUPT (in `sk`) when
 * it cannot be read, does not match its checksum or has a layout this
 * version does not know. */
static int read_segment(sqlite3 *db, struct orri_pseg_reader **rd,
                        const char *seg, int64_t off, size_t len,
                        uint64_t check, int64_t layout,
                        const size_t *rec_len, size_t n,
                        const unsigned char **data, struct skips *sk,
                        struct orr_error *e)
{
    struct orr_error se = {0};
    int rc;
    if (layout != 0 && layout != 1) {
        rc = orr_fail(&se, ORR_ECORRUPT, "segment %.80s: payload layout "
                      "%lld unknown (upgrade orrery)", seg,
                      (long long)layout);
        goto skip;
    }
    if (!*rd) {
        char dir[4096];
        if (!orri_pseg_dir(db, dir, sizeof dir))
            rc = orr_fail(&se, ORR_ECORRUPT, "segment %s: the store has "
                          "no directory", seg);
        else if ((rc = orri_pseg_reader_new(dir, rd, &se)))
            return orr_fail(e, rc, "%s", se.msg);
        if (rc)
            goto skip;
    }
    rc = layout ? orri_pseg_read_records(*rd, seg, off, len, check,
                                         rec_len, n, data, &se)
                : orri_pseg_read(*rd, seg, off, len, check, data, &se);
    if (rc == ORR_ENOMEM)
        return orr_fail(e, rc, "%s", se.msg);
    if (!rc)
        return ORR_OK;
skip:
    if (!sk->chunks)
        sk->first = se;
    sk->chunks++;
    return ORR_ECORRUPT;
}

/* `p` (of *cap items), or a new array with room for n items of `size`
 * in its place (contents not kept); NULL on no memory (p freed). */
static void *room(void *p, size_t *cap, size_t n, size_t size)
{
    if (p && *cap >= n)
        return p;
    free(p);
    p = malloc(n * size);
    *cap = p ? n : 0;
    return p;
}

/* Chunks (schema 7), newest first: by id for a count window (the
 * `+model` keeps the planner off the time index, whose order is not the
 * log's), by the time index for a time window.  Their payload is inline
 * (migration 7) or in a segment file (migration 8, meta/psegment.h),
 * checked against its checksum before use, inputs of all then outputs
 * of all (layout 0) or each prediction's inputs then outputs (layout 1,
 * migration 9); each chunk's predictions are read newest first. */
static int load_chunks(sqlite3 *db, const char *model, const char *version,
                       int64_t count, int64_t from_ms, int64_t to_ms,
                       struct orri_mon_rows *r, size_t *cap,
                       const struct labidx *ix, struct orr_error *e)
{
    static const char qn[] =
        "SELECT version, n, input_cols, output_cols, request_ids, ts_ms,"
        " rows, inputs, outputs, segment, seg_offset, seg_bytes, seg_check,"
        " seg_layout, cols_layout FROM prediction_chunks"
        " WHERE +model = ?1 AND (?2 IS NULL OR version = ?2)"
        " ORDER BY id DESC";
    static const char qt[] =
        "SELECT version, n, input_cols, output_cols, request_ids, ts_ms,"
        " rows, inputs, outputs, segment, seg_offset, seg_bytes, seg_check,"
        " seg_layout, cols_layout FROM prediction_chunks"
        " WHERE model = ?1 AND (?2 IS NULL OR version = ?2)"
        " AND ts_max >= ?3 AND ts_min <= ?4 ORDER BY ts_max DESC";
    sqlite3_stmt *st = NULL;
    const char **ids = NULL;
    size_t ids_cap = 0, *rec = NULL, rec_cap = 0;
    struct orri_pseg_reader *rd = NULL;
    struct skips sk = {0};
    struct orr_buf pc_ids = ORR_BUF_INIT, pc_ts = ORR_BUF_INIT,
                   pc_rows = ORR_BUF_INIT;
    int rc = ORR_OK;
    int src = sqlite3_prepare_v2(db, count ? qn : qt, -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
        if (version)
            sqlite3_bind_text(st, 2, version, -1, SQLITE_STATIC);
        if (!count) {
            sqlite3_bind_int64(st, 3, from_ms);
            sqlite3_bind_int64(st, 4, to_ms);
        }
    }
    while (src == SQLITE_OK && (!count || r->n_requests < count) &&
           (src = sqlite3_step(st)) == SQLITE_ROW) {
        src = SQLITE_OK;
        const char *ver = (const char *)sqlite3_column_text(st, 0);
        int64_t n = sqlite3_column_int64(st, 1);
        int64_t ic = sqlite3_column_int64(st, 2);
        int64_t oc = sqlite3_column_int64(st, 3);
        const char *idb = sqlite3_column_blob(st, 4);
        size_t idlen = (size_t)sqlite3_column_bytes(st, 4);
        const unsigned char *tsb = sqlite3_column_blob(st, 5);
        size_t tslen = (size_t)sqlite3_column_bytes(st, 5);
        const unsigned char *rwb = sqlite3_column_blob(st, 6);
        size_t rwlen = (size_t)sqlite3_column_bytes(st, 6);
        const unsigned char *in = sqlite3_column_blob(st, 7);
        size_t inlen = (size_t)sqlite3_column_bytes(st, 7);
        const unsigned char *out = sqlite3_column_blob(st, 8);
        size_t outlen = (size_t)sqlite3_column_bytes(st, 8);
        const char *seg = (const char *)sqlite3_column_text(st, 9);
        int64_t seg_off = sqlite3_column_int64(st, 10);
        int64_t seg_bytes = sqlite3_column_int64(st, 11);
        uint64_t seg_check = (uint64_t)sqlite3_column_int64(st, 12);
        /* NULL: layout 0, as every chunk before migration 9. */
        int64_t layout = sqlite3_column_int64(st, 13);
        /* Compact small columns (migration 10) read as plain ones; a
         * malformed one fails the checks below. */
        if (sqlite3_column_int(st, 14) == ORRI_PCOLS_COMPACT && n > 0 &&
            n <= INT32_MAX) {
            int xr = orri_pcols_expand_ids(idb, idlen, (size_t)n, &pc_ids);
            if (!xr)
                xr = orri_pcols_expand_i64(tsb, tslen, (size_t)n, 1, &pc_ts);
            if (!xr)
                xr = orri_pcols_expand_i64(rwb, rwlen, (size_t)n, 0,
                                           &pc_rows);
            if (xr == ORR_ENOMEM) {
                rc = orr_fail(e, ORR_ENOMEM, "out of memory");
                goto fail;
            }
            idb = xr ? NULL : pc_ids.data;
            idlen = xr ? 0 : pc_ids.len;
            tsb = (const unsigned char *)pc_ts.data;
            tslen = xr ? 0 : pc_ts.len;
            rwb = (const unsigned char *)pc_rows.data;
            rwlen = xr ? 0 : pc_rows.len;
        }
        /* Check the chunk whole before reading any of it. */
        size_t total = 0, k = 0;
        int ok = n > 0 && ic > 0 && oc >= 0 && n <= INT32_MAX &&
                 tslen == 8 * (size_t)n && rwlen == 8 * (size_t)n &&
                 idb && idlen && !idb[idlen - 1];
        for (int64_t i = 0; ok && i < n; i++) {
            int64_t nr = orri_i64_from_le(rwb + 8 * i);
            ok = nr > 0 && (uint64_t)nr < SIZE_MAX / 8 / (size_t)ic -
                 total;
            total += ok ? (size_t)nr : 0;
        }
        if (ok && seg) {
            /* In a segment: inputs then outputs, nothing inline. */
            size_t want = total * (size_t)ic * 8;
            ok = !inlen && !outlen && (!oc || total <= (SIZE_MAX - want) /
                                               8 / (size_t)oc);
            if (ok && oc)
                want += total * (size_t)oc * 8;
            ok = ok && seg_bytes >= 0 && (uint64_t)seg_bytes == want;
            if (ok) {
                inlen = total * (size_t)ic * 8;
                outlen = want - inlen;
            }
        } else {
            ok = ok && inlen == total * (size_t)ic * 8 &&
                 (oc ? outlen == total * (size_t)oc * 8 : !outlen);
        }
        if (ok && ix->n) {
            if (!(ids = room(ids, &ids_cap, (size_t)n, sizeof *ids))) {
                rc = orr_fail(e, ORR_ENOMEM, "out of memory");
                goto fail;
            }
            for (const char *id = idb; ok && id < idb + idlen;
                 id += strlen(id) + 1)
                if ((ok = k < (size_t)n))
                    ids[k++] = id;
            ok = ok && k == (size_t)n;
        }
        if (!ok) {
            rc = orr_fail(e, ORR_ECORRUPT, "prediction log of %s: a chunk "
                          "of %lld predictions is damaged", model,
                          (long long)n);
            goto fail;
        }
        if (seg && layout == 1) {
            /* Record by record: prediction i's rows x (ic + oc). */
            if (!(rec = room(rec, &rec_cap, (size_t)n, sizeof *rec))) {
                rc = orr_fail(e, ORR_ENOMEM, "out of memory");
                goto fail;
            }
            for (int64_t i = 0; i < n; i++)
                rec[i] = (size_t)orri_i64_from_le(rwb + 8 * i) *
                         (size_t)(ic + oc) * 8;
        }
        if (seg) {
            const unsigned char *pay = NULL;
            rc = read_segment(db, &rd, seg, seg_off, inlen + outlen,
                              seg_check, layout, rec, (size_t)n, &pay, &sk,
                              e);
            if (rc == ORR_ECORRUPT) {
                /* Not this chunk: the others still make the window. */
                sk.preds += n;
                rc = ORR_OK;
                continue;
            }
            if (rc)
                goto fail;
            in = pay;
            out = oc ? pay + inlen : NULL;
        }
        int rec1 = seg && layout == 1;
        size_t off = total;
        for (int64_t i = n - 1; i >= 0 && (!count || r->n_requests < count);
             i--) {
            size_t nr = (size_t)orri_i64_from_le(rwb + 8 * i);
            off -= nr;
            /* Layout 1: the record of prediction i starts after the
             * `off` rows before it, its outputs after its inputs. */
            const unsigned char *x = rec1 ? in + off * (size_t)(ic + oc) * 8
                                          : in + off * (size_t)ic * 8;
            struct pred p = {
                .x = x, .nr = nr, .nc = (size_t)ic,
                .yb = !oc ? NULL : rec1 ? x + nr * (size_t)ic * 8
                                        : out + off * (size_t)oc * 8,
                .onr = oc ? nr : 0, .onc = (size_t)oc,
                .ts = orri_i64_from_le(tsb + 8 * i),
                .id = ix->n ? ids[i] : NULL, .version = ver};
            if (!count && (p.ts < from_ms || p.ts > to_ms))
                continue;
            if (add_pred(r, cap, count, ix, &p)) {
                rc = orr_fail(e, ORR_ENOMEM, "out of memory reading the "
                              "window");
                goto fail;
            }
        }
    }
    if (src != SQLITE_OK && src != SQLITE_DONE && src != SQLITE_ROW)
        rc = orri_mon_sqlfail(db, src, e, "reading the prediction log");
    if (!rc && sk.chunks)
        orr_log(ORR_LOG_WARN, "monitor", "prediction log of %s: %lld "
                "chunk(s) of %lld predictions skipped (payload unreadable"
                " or damaged); the first: %s", model, (long long)sk.chunks,
                (long long)sk.preds, sk.first.msg);
fail:
    orri_pseg_reader_free(rd);
    free(rec);
    free(ids);
    orri_buf_free(&pc_ids);
    orri_buf_free(&pc_ts);
    orri_buf_free(&pc_rows);
    sqlite3_finalize(st);
    return rc;
}

/* Legacy rows (`predictions`, before schema 7): the count window walks
 * the table backwards by rowid ("+model" keeps the planner off the
 * (model, ts_ms) index, whose order would need a temporary B-tree of the
 * whole window: 10 times slower at 1e6 rows); the time window walks that
 * index backwards.  They are older than every chunk. */
static int load_rows(sqlite3 *db, const char *model, const char *version,
                     int64_t count, int64_t from_ms, int64_t to_ms,
                     struct orri_mon_rows *r, size_t *cap,
                     const struct labidx *ix, struct orr_error *e)
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
    sqlite3_stmt *st = NULL;
    double *tmp_in = NULL, *tmp_out = NULL;
    int rc = ORR_OK;
    int src = sqlite3_prepare_v2(db, count ? qn : qt, -1, &st, NULL);
    if (src != SQLITE_OK) {
        rc = orri_mon_sqlfail(db, src, e, "reading the prediction log");
        goto fail;
    }
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    if (version)
        sqlite3_bind_text(st, 2, version, -1, SQLITE_STATIC);
    if (count) {
        sqlite3_bind_int64(st, 3, count - r->n_requests);
    } else {
        sqlite3_bind_int64(st, 3, from_ms);
        sqlite3_bind_int64(st, 4, to_ms);
    }
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        int text = sqlite3_column_int(st, 7);
        int64_t icols = sqlite3_column_int64(st, 5);
        int64_t ocols = sqlite3_column_int64(st, 6);
        const void *in = sqlite3_column_blob(st, 3);
        size_t in_len = (size_t)sqlite3_column_bytes(st, 3);
        struct pred p = {.ts = sqlite3_column_int64(st, 2),
                         .version = (const char *)sqlite3_column_text(st, 1),
                         .id = (const char *)sqlite3_column_text(st, 0)};
        p.x = in;
        free(tmp_in);
        tmp_in = NULL;
        /* Binary rows are scattered into the columns as they are; legacy
         * JSON rows decode first. */
        if (text || icols <= 0) {
            rc = orri_predictions_decode(in, in_len, text, icols, &tmp_in,
                                         &p.nr, &p.nc, e);
            if (rc)
                goto fail;
            if (!HOST_LE)
                orri_f64_to_le(tmp_in, tmp_in, p.nr * p.nc);
            p.x = (const unsigned char *)tmp_in;
        } else if (in_len % (8 * (size_t)icols) == 0) {
            p.nc = (size_t)icols;
            p.nr = in_len / 8 / p.nc;
        }
        const unsigned char *ob = sqlite3_column_blob(st, 4);
        size_t ob_len = (size_t)sqlite3_column_bytes(st, 4);
        free(tmp_out);
        tmp_out = NULL;
        if (ob && ob_len && !text && ocols > 0 &&
            ob_len % (8 * (size_t)ocols) == 0) {
            p.onc = (size_t)ocols;
            p.onr = ob_len / 8 / p.onc;
            p.yb = ob;
        } else if (ob && ob_len) {
            rc = orri_predictions_decode(ob, ob_len, text, ocols, &tmp_out,
                                         &p.onr, &p.onc, e);
            if (rc)
                goto fail;
            p.yd = tmp_out;
        }
        if (add_pred(r, cap, count, ix, &p)) {
            rc = orr_fail(e, ORR_ENOMEM, "out of memory reading the window");
            goto fail;
        }
    }
    if (src != SQLITE_DONE)
        rc = orri_mon_sqlfail(db, src, e, "reading the prediction log");
fail:
    free(tmp_in);
    free(tmp_out);
    sqlite3_finalize(st);
    return rc;
}

int orri_mon_window_load(sqlite3 *db, const char *model, const char *version,
                         size_t cols, int64_t count, int64_t span_ms,
                         int64_t now_ms, struct orri_mon_rows *out,
                         struct orr_error *e)
{
    struct orri_mon_rows *r = out;
    memset(r, 0, sizeof *r);
    struct labidx ix = {0};
    size_t cap = 0;
    r->cols = cols;
    int64_t from = now_ms - span_ms;
    int rc = load_labels(db, model, &ix, e);
    if (!rc)
        rc = load_chunks(db, model, version, count, from, now_ms, r, &cap,
                         &ix, e);
    if (!rc && (!count || r->n_requests < count))
        rc = load_rows(db, model, version, count, from, now_ms, r, &cap,
                       &ix, e);
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
