/*
 * meta/predictions.c - the prediction log written in chunks (legacy rows
 * for what a chunk cannot hold), labels matched against both, and the
 * decoding of stored rows (binary, or legacy JSON).
 */
#include "meta/predictions.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <jansson.h>
#include <sqlite3.h>

#include "meta/meta_internal.h"
#include "meta/pcols.h"
#include "meta/psegment.h"
#include "util/error.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define HOST_LE 0
#else
#define HOST_LE 1
#endif

void orri_f64_to_le(void *dst, const double *src, size_t n)
{
    if (HOST_LE) {
        memcpy(dst, src, n * sizeof(double));
        return;
    }
    unsigned char *d = dst;
    for (size_t i = 0; i < n; i++) {
        unsigned char b[8];
        memcpy(b, &src[i], 8);
        for (int k = 0; k < 8; k++)
            d[8 * i + (size_t)k] = b[7 - k];
    }
}

void orri_f64_from_le(double *dst, const void *src, size_t n)
{
    if (HOST_LE) {
        memcpy(dst, src, n * sizeof(double));
        return;
    }
    const unsigned char *s = src;
    for (size_t i = 0; i < n; i++) {
        unsigned char b[8];
        for (int k = 0; k < 8; k++)
            b[k] = s[8 * i + (size_t)(7 - k)];
        memcpy(&dst[i], b, 8);
    }
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Bind a matrix as a little-endian BLOB (through `scratch` on big-endian
 * hosts) and its column count; NULL for an absent one. */
static int bind_matrix(sqlite3_stmt *st, int i, int icols, const double *v,
                       size_t rows, size_t cols, void **scratch)
{
    if (!v || !cols) {
        sqlite3_bind_null(st, i);
        sqlite3_bind_null(st, icols);
        return SQLITE_OK;
    }
    size_t bytes = rows * cols * sizeof(double);
    const void *p = v;
    if (!HOST_LE) {
        free(*scratch);
        *scratch = malloc(bytes ? bytes : 1);
        if (!*scratch)
            return SQLITE_NOMEM;
        orri_f64_to_le(*scratch, v, rows * cols);
        p = *scratch;
    }
    sqlite3_bind_int64(st, icols, (sqlite3_int64)cols);
    return sqlite3_bind_blob64(st, i, p, bytes, SQLITE_STATIC);
}

/* Bind row `r` at parameter offset `o` (9 parameters a row). */
static int bind_row(sqlite3_stmt *st, int o,
                    const struct orri_prediction_row *r, void **scratch)
{
    bind_text(st, o + 1, r->request_id);
    bind_text(st, o + 2, r->model);
    bind_text(st, o + 3, r->version);
    sqlite3_bind_int64(st, o + 4, r->ts_ms);
    sqlite3_bind_int64(st, o + 5, r->latency_us);
    if (!r->in) {
        bind_text(st, o + 6, r->inputs);
        bind_text(st, o + 7, r->outputs);
        sqlite3_bind_null(st, o + 8);
        sqlite3_bind_null(st, o + 9);
        return SQLITE_OK;
    }
    int src = bind_matrix(st, o + 6, o + 8, r->in, r->in_rows, r->in_cols,
                          &scratch[0]);
    if (src == SQLITE_OK)
        src = bind_matrix(st, o + 7, o + 9, r->out, r->out_rows,
                          r->out_cols, &scratch[1]);
    return src;
}

/* Rows go in statements of MULTI rows: one statement per row costs a
 * third more.  Only legacy rows go there now (JSON text, or outputs of
 * another row count than the inputs); the lock is held, a transaction
 * open. */
#define MULTI 32
#define ROW_SQL "(?, ?, ?, ?, ?, ?, ?, ?, ?)"

static int insert_rows(struct orr_meta *m,
                       const struct orri_prediction_row *const *rows,
                       size_t n, struct orr_error *e)
{
    static const char head[] =
        "INSERT INTO predictions (request_id, model, version, ts_ms,"
        " latency_us, inputs, outputs, input_cols, output_cols) VALUES ";
    char q[sizeof head + MULTI * (sizeof ROW_SQL + 1)];
    size_t len = 0;
    memcpy(q, head, sizeof head - 1);
    len = sizeof head - 1;
    sqlite3_stmt *st1 = NULL, *stm = NULL;
    /* On big-endian hosts each row converts through its own scratch,
     * which must live until the step: one row a statement there. */
    int multi = HOST_LE && n >= MULTI;
    void *scratch[2] = {NULL, NULL};
    int rc = ORR_OK;
    memcpy(q + len, ROW_SQL, sizeof ROW_SQL);
    int src = sqlite3_prepare_v2(m->db, q, -1, &st1, NULL);
    if (src == SQLITE_OK && multi) {
        for (int k = 1; k < MULTI; k++) {
            q[len + (sizeof ROW_SQL - 1) * (size_t)k + (size_t)k - 1] = ',';
            memcpy(q + len + (sizeof ROW_SQL - 1) * (size_t)k + (size_t)k,
                   ROW_SQL, sizeof ROW_SQL);
        }
        src = sqlite3_prepare_v2(m->db, q, -1, &stm, NULL);
    }
    size_t i = 0;
    while (src == SQLITE_OK && multi && n - i >= MULTI) {
        for (int k = 0; src == SQLITE_OK && k < MULTI; k++)
            src = bind_row(stm, 9 * k, rows[i + (size_t)k], scratch);
        if (src == SQLITE_OK)
            src = sqlite3_step(stm);
        if (src == SQLITE_DONE)
            src = SQLITE_OK;
        sqlite3_reset(stm);
        i += MULTI;
    }
    for (; src == SQLITE_OK && i < n; i++) {
        src = bind_row(st1, 0, rows[i], scratch);
        if (src == SQLITE_OK)
            src = sqlite3_step(st1);
        if (src == SQLITE_DONE)
            src = SQLITE_OK;
        sqlite3_reset(st1);
    }
    if (src != SQLITE_OK)
        rc = orri_meta_sqlfail(m, src, e, "logging predictions");
    sqlite3_finalize(st1);
    sqlite3_finalize(stm);
    free(scratch[0]);
    free(scratch[1]);
    return rc;
}

/* ---- chunks (schema migration 7) ---------------------------------------- */

/* A growable byte buffer; `oom` sticks. */
struct buf {
    unsigned char *p;
    size_t         len, cap;
    int            oom;
};

static void buf_put(struct buf *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->len + n)
            c *= 2;
        unsigned char *p = realloc(b->p, c);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = c;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

void orri_i64_to_le(void *dst, int64_t v)
{
    unsigned char *d = dst;
    uint64_t u = (uint64_t)v;
    for (int k = 0; k < 8; k++)
        d[k] = (unsigned char)(u >> (8 * k));
}

static void buf_i64(struct buf *b, int64_t v)
{
    unsigned char le[8];
    orri_i64_to_le(le, v);
    buf_put(b, le, 8);
}

static void buf_f64(struct buf *b, const double *v, size_t n)
{
    if (HOST_LE) {
        buf_put(b, v, n * sizeof *v);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char le[8];
        orri_f64_to_le(le, &v[i], 1);
        buf_put(b, le, 8);
    }
}

int64_t orri_i64_from_le(const void *src)
{
    const unsigned char *s = src;
    uint64_t u = 0;
    for (int k = 0; k < 8; k++)
        u |= (uint64_t)s[k] << (8 * k);
    return (int64_t)u;
}

/* Rows of one chunk share model, version and column counts. */
static int same_chunk(const struct orri_prediction_row *a,
                      const struct orri_prediction_row *b)
{
    return a->in_cols == b->in_cols &&
           (a->out ? a->out_cols : 0) == (b->out ? b->out_cols : 0) &&
           !strcmp(a->model ? a->model : "", b->model ? b->model : "") &&
           !strcmp(a->version ? a->version : "",
                   b->version ? b->version : "");
}

/* A row a chunk can hold: binary inputs, outputs absent or of as many
 * rows as the inputs. */
static int chunkable(const struct orri_prediction_row *r)
{
    return r->in && r->in_cols && r->in_rows &&
           (!r->out || !r->out_cols || r->out_rows == r->in_rows);
}

/* One chunk of a batch: its rows g[g0, g0 + n), its small columns at
 * offsets of the batch's `meta` buffer (ids, then ts, latency and rows,
 * 8 * n bytes each), its payload (inputs then outputs, in_len + out_len
 * bytes) at `seg` in the batch's segment bytes, or at `pay` in the
 * batch's `pay` buffer when it goes inline. */
struct chunk_desc {
    size_t   g0, n;
    size_t   ids, ids_len, ts;
    size_t   pay, seg, in_len, out_len;
    size_t   oc;
    int64_t  tmin, tmax;
    uint64_t check;
};

/* Chunks hold at most CHUNK_MAX predictions: a window by count reads
 * whole chunks, a label scan reads their ids. */
#define CHUNK_MAX 1024

struct orri_pred_scratch {
    struct buf                         meta, pay;
    struct chunk_desc                 *cd;
    const struct orri_prediction_row **g;
    unsigned char                     *done;
    size_t                             cap;
    int                                dir_known, has_dir;
    char                               dir[4096];
    struct orri_pseg_writer           *seg;
    int                                failing;   /* segments failing   */
    int                                reported;  /* ... and said so    */
    struct orr_error                   seg_err;
    /* The chunk INSERTs of orri_predictions_write (chunk_sql8) and
     * orri_predictions_commit (chunk_sql), prepared once per scratch (one
     * writer, one store): preparing one per batch was a tenth of the log
     * writer's CPU.  Finalized with the scratch, which goes before the
     * store.  And orri_predictions_commit's compact small columns of a
     * chunk (pcols.h). */
    sqlite3_stmt                      *insert, *commit;
    struct orri_pcols                  cols;
};

const char *orri_pred_scratch_seg_error(struct orri_pred_scratch *sc)
{
    if (!sc || !sc->failing || sc->reported)
        return NULL;
    sc->reported = 1;
    return sc->seg_err.msg;
}

void orri_pred_scratch_free(struct orri_pred_scratch *sc)
{
    if (!sc)
        return;
    free(sc->meta.p);
    free(sc->pay.p);
    free(sc->cd);
    free(sc->g);
    free(sc->done);
    orri_pseg_writer_free(sc->seg);
    sqlite3_finalize(sc->insert);
    sqlite3_finalize(sc->commit);
    orri_pcols_free(&sc->cols);
    free(sc);
}

/* Lay out the small columns of the chunk of the `n` rows of g[g0...]
 * and size its payload (no lock needed: no store access). */
static void build_chunk(struct orri_pred_scratch *sc, struct chunk_desc *d,
                        size_t g0, size_t n)
{
    const struct orri_prediction_row *const *g = sc->g + g0;
    const struct orri_prediction_row *r0 = g[0];
    size_t oc = r0->out ? r0->out_cols : 0, rows = 0;
    d->g0 = g0;
    d->n = n;
    d->oc = oc;
    d->tmin = d->tmax = r0->ts_ms;
    d->ids = sc->meta.len;
    for (size_t i = 0; i < n; i++) {
        const char *id = g[i]->request_id ? g[i]->request_id : "";
        buf_put(&sc->meta, id, strlen(id) + 1);
    }
    d->ids_len = sc->meta.len - d->ids;
    d->ts = sc->meta.len;
    for (size_t i = 0; i < n; i++)
        buf_i64(&sc->meta, g[i]->ts_ms);
    for (size_t i = 0; i < n; i++)
        buf_i64(&sc->meta, g[i]->latency_us);
    for (size_t i = 0; i < n; i++) {
        buf_i64(&sc->meta, (int64_t)g[i]->in_rows);
        rows += g[i]->in_rows;
        d->tmin = g[i]->ts_ms < d->tmin ? g[i]->ts_ms : d->tmin;
        d->tmax = g[i]->ts_ms > d->tmax ? g[i]->ts_ms : d->tmax;
    }
    d->in_len = rows * r0->in_cols * sizeof(double);
    d->out_len = rows * oc * sizeof(double);
}

/* The payload of every chunk into `pay`, little-endian: for chunks kept
 * inline, and on big-endian hosts for segments too. */
static int fill_pay(struct orri_pred_scratch *sc, size_t n_chunks)
{
    sc->pay.len = 0;
    for (size_t c = 0; c < n_chunks; c++) {
        struct chunk_desc *d = &sc->cd[c];
        const struct orri_prediction_row *const *g = sc->g + d->g0;
        d->pay = sc->pay.len;
        for (size_t i = 0; i < d->n; i++)
            buf_f64(&sc->pay, g[i]->in, g[i]->in_rows * g[i]->in_cols);
        for (size_t i = 0; d->oc && i < d->n; i++)
            buf_f64(&sc->pay, g[i]->out, g[i]->in_rows * d->oc);
    }
    return sc->pay.oom ? ORR_ENOMEM : ORR_OK;
}

/* The chunk INSERT of orri_predictions_commit, and of
 * orri_predictions_write, which names the columns of schema 8 only: what
 * it writes (layout 0, plain columns) needs no later one, and so it
 * writes into a store of schema 8 as well (test_psegment's older
 * binary).  insert_stored binds what the statement has. */
static const char chunk_sql[] =
    "INSERT INTO prediction_chunks (model, version, n, ts_min, ts_max,"
    " input_cols, output_cols, request_ids, ts_ms, latency_us, rows,"
    " inputs, outputs, segment, seg_offset, seg_bytes, seg_check,"
    " seg_layout, cols_layout) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
    " ?, ?, ?, ?, ?, ?, ?, ?)";
static const char chunk_sql8[] =
    "INSERT INTO prediction_chunks (model, version, n, ts_min, ts_max,"
    " input_cols, output_cols, request_ids, ts_ms, latency_us, rows,"
    " inputs, outputs, segment, seg_offset, seg_bytes, seg_check)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/* A chunk as stored: `c` (its small columns as given there are ignored)
 * with the small columns' bytes as stored, `cols_layout` saying how, and
 * the payload inline (c->segment NULL) or not. */
struct stored {
    const struct orri_chunk_row *c;
    const void                  *col[4];    /* ids, ts, latency, rows  */
    size_t                       len[4];
    int                          cols_layout;
    const void                  *in, *out;  /* inline payload          */
    size_t                       in_len, out_len;
};

/* Insert chunk `s` with chunk_sql or chunk_sql8 (lock held, transaction
 * open).  Layout 0 and plain columns are NULL, as before migrations 9
 * and 10: one spelling per layout. */
static int insert_stored(struct orr_meta *m, sqlite3_stmt *st,
                         const struct stored *s, struct orr_error *e)
{
    const struct orri_chunk_row *c = s->c;
    bind_text(st, 1, c->model ? c->model : "");
    bind_text(st, 2, c->version ? c->version : "");
    sqlite3_bind_int64(st, 3, (sqlite3_int64)c->n);
    sqlite3_bind_int64(st, 4, c->ts_min);
    sqlite3_bind_int64(st, 5, c->ts_max);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)c->in_cols);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)c->out_cols);
    for (int k = 0; k < 4; k++)
        sqlite3_bind_blob64(st, 8 + k, s->col[k], s->len[k], SQLITE_STATIC);
    if (c->segment) {
        /* A zero-length blob, not NULL: `inputs` is NOT NULL. */
        sqlite3_bind_blob64(st, 12, "", 0, SQLITE_STATIC);
        sqlite3_bind_null(st, 13);
        sqlite3_bind_text(st, 14, c->segment, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 15, c->seg_offset);
        sqlite3_bind_int64(st, 16, c->seg_bytes);
        sqlite3_bind_int64(st, 17, (sqlite3_int64)c->seg_check);
    } else {
        sqlite3_bind_blob64(st, 12, s->in, s->in_len, SQLITE_STATIC);
        if (c->out_cols)
            sqlite3_bind_blob64(st, 13, s->out, s->out_len, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 13);
        for (int i = 14; i <= 17; i++)
            sqlite3_bind_null(st, i);
    }
    if (sqlite3_bind_parameter_count(st) >= 19) {
        if (c->seg_layout)
            sqlite3_bind_int(st, 18, c->seg_layout);
        else
            sqlite3_bind_null(st, 18);
        if (s->cols_layout)
            sqlite3_bind_int(st, 19, s->cols_layout);
        else
            sqlite3_bind_null(st, 19);
    }
    int src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src != SQLITE_DONE)
        return orri_meta_sqlfail(m, src, e, "logging predictions");
    return ORR_OK;
}

/* Write chunk `d` (lock held, transaction open): its payload inline, or
 * where `seg` (NULL: inline) holds it, the batch's bytes at `base`;
 * plain small columns, layout 0. */
static int insert_chunk(struct orr_meta *m, sqlite3_stmt *st,
                        const struct orri_pred_scratch *sc,
                        const struct chunk_desc *d, const char *seg,
                        int64_t base, struct orr_error *e)
{
    const struct orri_prediction_row *r0 = sc->g[d->g0];
    const unsigned char *mp = sc->meta.p, *pp = sc->pay.p;
    size_t n8 = 8 * d->n;
    struct orri_chunk_row c = {
        .model = r0->model, .version = r0->version, .n = d->n,
        .ts_min = d->tmin, .ts_max = d->tmax, .in_cols = r0->in_cols,
        .out_cols = d->oc, .segment = seg,
        .seg_offset = base + (int64_t)d->seg,
        .seg_bytes = (int64_t)(d->in_len + d->out_len),
        .seg_check = d->check};
    struct stored s = {
        .c = &c,
        .col = {mp + d->ids, mp + d->ts, mp + d->ts + n8, mp + d->ts + 2 * n8},
        .len = {d->ids_len, n8, n8, n8},
        .in_len = d->in_len, .out_len = d->out_len};
    if (!seg) {
        s.in = pp + d->pay;
        s.out = pp + d->pay + d->in_len;
    }
    return insert_stored(m, st, &s, e);
}

/* Pieces of payload on their way to the segment: each is hashed, then
 * written with the others of its group while they are still in cache
 * (the payload of a batch of 64-row requests is tens of MB: copied into
 * one buffer, hashed, then copied by write(), it crossed memory five
 * times and cost the writer ~35 us a request). */
#define GROUP_PIECES 256
#define GROUP_BYTES  (256u << 10)

struct pieces {
    struct orri_pseg_writer *w;
    struct iovec             iov[GROUP_PIECES];
    int                      n;
    size_t                   bytes;
};

static int pieces_flush(struct pieces *pc, struct orr_error *e)
{
    int rc = pc->n ? orri_pseg_writev(pc->w, pc->iov, pc->n, e) : ORR_OK;
    pc->n = 0;
    pc->bytes = 0;
    return rc;
}

static int piece(struct pieces *pc, struct orri_pseg_hash *h,
                 const void *p, size_t len, struct orr_error *e)
{
    if (orri_pseg_staged(pc->w))
        return orri_pseg_put(pc->w, h, p, len, e);
    orri_pseg_hash_update(h, p, len);
    pc->iov[pc->n].iov_base = (void *)(uintptr_t)p;
    pc->iov[pc->n].iov_len = len;
    pc->n++;
    pc->bytes += len;
    if (pc->n == GROUP_PIECES || pc->bytes >= GROUP_BYTES)
        return pieces_flush(pc, e);
    return ORR_OK;
}

/* Append the payload of the batch's chunks to the writer's segment file,
 * taking each chunk's checksum on the way: *seg and *base say where,
 * *seg NULL when the store has no directory or the file could not be
 * written (the chunks then go inline: a full disk there costs speed, not
 * predictions). */
static void write_segment(struct orr_meta *m, struct orri_pred_scratch *sc,
                          size_t n_chunks, const char **seg, int64_t *base)
{
    *seg = NULL;
    *base = 0;
    if (!sc->dir_known) {
        pthread_mutex_lock(&m->lock);
        sc->has_dir = orri_pseg_dir(m->db, sc->dir, sizeof sc->dir);
        pthread_mutex_unlock(&m->lock);
        sc->dir_known = 1;
    }
    size_t total = 0;
    for (size_t c = 0; c < n_chunks; c++) {
        sc->cd[c].seg = total;
        total += sc->cd[c].in_len + sc->cd[c].out_len;
    }
    if (!sc->has_dir || !total)
        return;
    /* Big-endian hosts convert first. */
    if (!HOST_LE && fill_pay(sc, n_chunks))
        return;
    struct pieces pcs = {.n = 0}, *pc = &pcs;
    struct orr_error se = {0};
    const char *name = NULL;
    int rc = !sc->seg ? orri_pseg_writer_new(sc->dir, &sc->seg, &se)
                      : ORR_OK;
    if (!rc)
        rc = orri_pseg_reserve(sc->seg, total, &name, base, &se);
    pc->w = sc->seg;
    for (size_t c = 0; !rc && c < n_chunks; c++) {
        struct chunk_desc *d = &sc->cd[c];
        const struct orri_prediction_row *const *g = sc->g + d->g0;
        struct orri_pseg_hash h;
        orri_pseg_hash_init(&h);
        if (!HOST_LE)
            rc = piece(pc, &h, sc->pay.p + d->pay, d->in_len + d->out_len,
                       &se);
        for (size_t i = 0; HOST_LE && !rc && i < d->n; i++)
            rc = piece(pc, &h, g[i]->in,
                       g[i]->in_rows * g[i]->in_cols * sizeof(double), &se);
        for (size_t i = 0; HOST_LE && d->oc && !rc && i < d->n; i++)
            rc = piece(pc, &h, g[i]->out,
                       g[i]->in_rows * d->oc * sizeof(double), &se);
        d->check = orri_pseg_hash_final(&h);
    }
    if (!rc)
        rc = pieces_flush(pc, &se);
    if (!rc)
        rc = orri_pseg_end(sc->seg, &se);
    if (rc) {
        sc->seg_err = se;
        sc->failing = 1;
        return;
    }
    sc->failing = sc->reported = 0;
    *seg = name;
}

/* Inserts chunk `c` of a batch (lock held, transaction open). */
typedef int (*chunk_insert)(struct orr_meta *m, sqlite3_stmt *st,
                            const void *ctx, size_t c, struct orr_error *e);

/* One transaction, all or none, the store's lock held: the `n_legacy`
 * rows g[...] as legacy rows, then `n_chunks` chunks through *st
 * (prepared from `sql` on first use and kept: the caller's scratch
 * finalizes it). */
static int transact(struct orr_meta *m,
                    const struct orri_prediction_row *const *g,
                    size_t n_legacy, sqlite3_stmt **st, const char *sql,
                    size_t n_chunks, chunk_insert insert, const void *ctx,
                    struct orr_error *e)
{
    pthread_mutex_lock(&m->lock);
    int rc = orri_meta_begin(m, e);
    if (rc)
        goto out;
    if (n_legacy)
        rc = insert_rows(m, g, n_legacy, e);
    int src = SQLITE_OK;
    if (!rc && n_chunks && !*st)
        src = sqlite3_prepare_v3(m->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                 st, NULL);
    if (src != SQLITE_OK)
        rc = orri_meta_sqlfail(m, src, e, "logging predictions");
    for (size_t c = 0; !rc && c < n_chunks; c++)
        rc = insert(m, *st, ctx, c, e);
    if (rc)
        orri_meta_rollback(m);
    else
        rc = orri_meta_commit(m, e);
out:
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* Chunks orri_predictions_write laid out in its scratch. */
struct laid_out {
    const struct orri_pred_scratch *sc;
    const char                     *seg;
    int64_t                         base;
};

static int insert_laid(struct orr_meta *m, sqlite3_stmt *st, const void *ctx,
                       size_t c, struct orr_error *e)
{
    const struct laid_out *lo = ctx;
    return insert_chunk(m, st, lo->sc, &lo->sc->cd[c], lo->seg, lo->base, e);
}

int orri_predictions_write(struct orr_meta *m,
                           const struct orri_prediction_row *rows, size_t n,
                           struct orri_pred_scratch **scratch,
                           struct orr_error *e)
{
    if (n == 0)
        return ORR_OK;
    struct orri_pred_scratch *sc = *scratch;
    if (!sc && !(sc = *scratch = calloc(1, sizeof *sc)))
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    if (sc->cap < n) {
        free(sc->g);
        free(sc->done);
        free(sc->cd);
        sc->g = malloc(n * sizeof *sc->g);
        sc->done = malloc(n);
        sc->cd = malloc(n * sizeof *sc->cd);
        sc->cap = sc->g && sc->done && sc->cd ? n : 0;
        if (!sc->cap)
            return orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    const struct orri_prediction_row **g = sc->g;
    unsigned char *done = sc->done;
    memset(done, 0, n);
    /* Legacy rows first, in their order, at g[0, n_legacy). */
    size_t k = 0, n_legacy, n_chunks = 0;
    for (size_t i = 0; i < n; i++)
        if (!chunkable(&rows[i])) {
            g[k++] = &rows[i];
            done[i] = 1;
        }
    n_legacy = k;
    /* Group the rest by chunk, keeping their order within a group: a
     * shadowed deployment interleaves two versions.  All is laid out
     * before the store is touched: the payload goes to its segment
     * first, the rows that point at it are committed after (a crash in
     * between leaves bytes nothing refers to). */
    sc->meta.len = sc->pay.len = 0;
    sc->meta.oom = sc->pay.oom = 0;
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        size_t g0 = k;
        for (size_t j = i; j < n && k - g0 < CHUNK_MAX; j++)
            if (!done[j] && same_chunk(&rows[i], &rows[j])) {
                g[k++] = &rows[j];
                done[j] = 1;
            }
        build_chunk(sc, &sc->cd[n_chunks++], g0, k - g0);
    }
    if (sc->meta.oom)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    const char *seg = NULL;
    int64_t base = 0;
    if (n_chunks) {
        write_segment(m, sc, n_chunks, &seg, &base);
        if (!seg && fill_pay(sc, n_chunks))
            return orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    struct laid_out lo = {sc, seg, base};
    return transact(m, g, n_legacy, &sc->insert, chunk_sql8, n_chunks,
                    insert_laid, &lo, e);
}

/* ---- chunks laid out by their writer (schema migration 9) -------------- */

/* Check chunk `c` (number `i` of the call) before anything is written: a
 * window refuses a malformed chunk whole, and misses predictions whose
 * time is outside [ts_min, ts_max].  ORR_EINVAL saying what is wrong. */
static int check_chunk(const struct orri_chunk_row *c, size_t i,
                       struct orr_error *e)
{
    char why[200] = "";
    const unsigned char *ids = c->ids;
    uint64_t total = 0, width = (uint64_t)c->in_cols + c->out_cols;
    size_t strings = 0;
    if (!c->n || c->n > INT32_MAX) {
        snprintf(why, sizeof why, "%zu predictions (1 to %d)", c->n,
                 INT32_MAX);
    } else if (!c->in_cols || c->in_cols > INT32_MAX ||
               c->out_cols > INT32_MAX) {
        snprintf(why, sizeof why, "%zu input and %zu output columns (at "
                 "least one input column)", c->in_cols, c->out_cols);
    } else if (!ids || !c->ids_len || !c->ts || !c->latency || !c->rows) {
        snprintf(why, sizeof why, "a column (ids, ts, latency, rows) "
                 "missing");
    } else if (!orri_pseg_name_ok(c->segment)) {
        snprintf(why, sizeof why, "segment name '%.80s' refused (a plain "
                 "file name of predictions/)",
                 c->segment ? c->segment : "(none)");
    } else if (c->seg_layout != 0 && c->seg_layout != 1) {
        snprintf(why, sizeof why, "segment layout %d unknown (0 or 1)",
                 c->seg_layout);
    } else if (c->seg_offset < 0 || c->ts_min > c->ts_max) {
        snprintf(why, sizeof why, "segment offset %lld, times [%lld, "
                 "%lld]", (long long)c->seg_offset, (long long)c->ts_min,
                 (long long)c->ts_max);
    }
    for (size_t k = 0; !why[0] && k < c->ids_len; k++)
        strings += !ids[k];
    if (!why[0] && (ids[c->ids_len - 1] || strings != c->n))
        snprintf(why, sizeof why, "%zu request ids for %zu predictions "
                 "(each NUL-terminated)", strings, c->n);
    const unsigned char *rw = c->rows, *ts = c->ts;
    for (size_t k = 0; !why[0] && k < c->n; k++) {
        int64_t nr = orri_i64_from_le(rw + 8 * k);
        int64_t t = orri_i64_from_le(ts + 8 * k);
        if (nr <= 0 || (uint64_t)nr > (UINT64_MAX >> 1) / 8 / width - total)
            snprintf(why, sizeof why, "prediction %zu of %lld rows", k,
                     (long long)nr);
        else if (t < c->ts_min || t > c->ts_max)
            snprintf(why, sizeof why, "prediction %zu at %lld, outside "
                     "[ts_min %lld, ts_max %lld]", k, (long long)t,
                     (long long)c->ts_min, (long long)c->ts_max);
        else
            total += (uint64_t)nr;
    }
    if (!why[0] && (c->seg_bytes < 0 ||
                    (uint64_t)c->seg_bytes != total * width * 8))
        snprintf(why, sizeof why, "seg_bytes %lld, not the %llu bytes of "
                 "its %llu rows of %zu + %zu doubles", (long long)c->seg_bytes,
                 (unsigned long long)(total * width * 8),
                 (unsigned long long)total, c->in_cols, c->out_cols);
    if (!why[0])
        return ORR_OK;
    return orr_fail(e, ORR_EINVAL, "logging predictions: chunk %zu (model "
                    "'%.80s'): %s; nothing written", i,
                    c->model ? c->model : "", why);
}

/* Insert chunk `c` (lock held, transaction open), its small columns
 * compact. */
static int commit_chunk(struct orr_meta *m, sqlite3_stmt *st,
                        const struct orri_chunk_row *c,
                        struct orri_pcols *cols, struct orr_error *e)
{
    if (orri_pcols_encode(c->n, c->ids, c->ts, c->latency, c->rows, cols))
        return orr_fail(e, ORR_ENOMEM, "logging predictions: out of "
                        "memory");
    struct stored s = {.c = c, .cols_layout = ORRI_PCOLS_COMPACT};
    for (int k = 0; k < 4; k++) {
        s.col[k] = cols->buf.data + cols->off[k];
        s.len[k] = cols->len[k];
    }
    return insert_stored(m, st, &s, e);
}

/* The chunks orri_predictions_commit was given. */
struct given {
    const struct orri_chunk_row *chunks;
    struct orri_pcols           *cols;
};

static int insert_given(struct orr_meta *m, sqlite3_stmt *st,
                        const void *ctx, size_t c, struct orr_error *e)
{
    const struct given *g = ctx;
    return commit_chunk(m, st, &g->chunks[c], g->cols, e);
}

int orri_predictions_commit(struct orr_meta *m,
                            const struct orri_chunk_row *chunks,
                            size_t n_chunks,
                            const struct orri_prediction_row *rows,
                            size_t n_rows,
                            struct orri_pred_scratch **scratch,
                            struct orr_error *e)
{
    if (!n_chunks && !n_rows)
        return ORR_OK;
    for (size_t c = 0; c < n_chunks; c++) {
        int rc = check_chunk(&chunks[c], c, e);
        if (rc)
            return rc;
    }
    struct orri_pred_scratch *local = NULL;
    struct orri_pred_scratch **scp = scratch ? scratch : &local;
    struct orri_pred_scratch *sc = *scp;
    if (!sc && !(sc = *scp = calloc(1, sizeof *sc)))
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    const struct orri_prediction_row **g = NULL;
    if (n_rows && !(g = malloc(n_rows * sizeof *g))) {
        orri_pred_scratch_free(local);
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n_rows; i++)
        g[i] = &rows[i];
    struct given gv = {chunks, &sc->cols};
    int rc = transact(m, g, n_rows, &sc->commit, chunk_sql, n_chunks,
                      insert_given, &gv, e);
    free(g);
    orri_pred_scratch_free(local);
    return rc;
}

int orri_predictions_insert(struct orr_meta *m,
                            const struct orri_prediction_row *rows, size_t n,
                            struct orr_error *e)
{
    struct orri_pred_scratch *sc = NULL;
    int rc = orri_predictions_write(m, rows, n, &sc, e);
    orri_pred_scratch_free(sc);
    return rc;
}

/* ---- labels -------------------------------------------------------------- */

/* The labels of a batch not matched by a legacy row, by request id. */
struct idset {
    size_t *slot;               /* index + 1 into the rows; 0: empty      */
    size_t  cap;
};

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Mark the labels whose id is logged in a chunk of their model: one pass
 * over the chunks' id columns, newest first, through `newest`
 * predictions at most (0: all).  The ids come before the inputs in the
 * row, so the inputs are not read. */
static int match_chunks(struct orr_meta *m, const struct orri_label_row *rows,
                        unsigned char *hit, const struct idset *set,
                        int64_t newest, struct orr_error *e)
{
    static const char q[] =
        "SELECT model, n, request_ids, cols_layout FROM prediction_chunks"
        " ORDER BY id DESC";
    sqlite3_stmt *st = NULL;
    struct orr_buf plain = ORR_BUF_INIT;
    int64_t seen = 0;
    int src = sqlite3_prepare_v2(m->db, q, -1, &st, NULL);
    while (src == SQLITE_OK && (!newest || seen < newest) &&
           (src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *model = (const char *)sqlite3_column_text(st, 0);
        int64_t n = sqlite3_column_int64(st, 1);
        const char *ids = sqlite3_column_blob(st, 2);
        size_t len = (size_t)sqlite3_column_bytes(st, 2);
        seen += n;
        src = SQLITE_OK;
        /* A malformed chunk is skipped here as a window skips it. */
        if (ids && n > 0 &&
            sqlite3_column_int(st, 3) == ORRI_PCOLS_COMPACT) {
            int xr = orri_pcols_expand_ids(ids, len, (size_t)n, &plain);
            if (xr == ORR_ENOMEM) {
                src = SQLITE_NOMEM;
                break;
            }
            if (xr)
                continue;
            ids = plain.data;
            len = plain.len;
        }
        if (!model || !ids || !len || ids[len - 1])
            continue;
        for (const char *id = ids; id < ids + len; id += strlen(id) + 1) {
            for (size_t i = hash_id(id) & (set->cap - 1); set->slot[i];
                 i = (i + 1) & (set->cap - 1)) {
                const struct orri_label_row *r = &rows[set->slot[i] - 1];
                if (!strcmp(r->request_id, id) &&
                    (!r->model || !r->model[0] || !strcmp(r->model, model)))
                    hit[set->slot[i] - 1] = 1;
            }
        }
    }
    int rc = src == SQLITE_DONE || src == SQLITE_OK ? ORR_OK
           : orri_meta_sqlfail(m, src, e, "matching labels");
    sqlite3_finalize(st);
    orri_buf_free(&plain);
    return rc;
}

/* Store labels with the lock held and a transaction open; with `matched`,
 * count those with a logged prediction: legacy rows through their
 * request index, chunks by a scan of the `newest` predictions (0: all). */
static int put_locked(struct orr_meta *m, const struct orri_label_row *rows,
                      size_t n, int64_t newest, int64_t *matched,
                      struct orr_error *e)
{
    static const char qi[] =
        "INSERT OR REPLACE INTO labels (request_id, model, label, ts_ms)"
        " VALUES (?, coalesce(?, ''), json(?), ?)";
    static const char qm[] =
        "SELECT EXISTS (SELECT 1 FROM predictions WHERE request_id = ?1"
        " AND (coalesce(?2, '') = '' OR model = ?2))";
    sqlite3_stmt *si = NULL, *sm = NULL;
    int64_t now = orri_now_ms(), hits = 0;
    struct idset set = {0};
    unsigned char *hit = NULL;
    size_t pending = 0;
    int rc = ORR_OK;
    if (matched) {
        hit = calloc(n, 1);
        for (set.cap = 16; set.cap < 2 * n; set.cap *= 2)
            ;
        set.slot = calloc(set.cap, sizeof *set.slot);
        if (!hit || !set.slot) {
            rc = orr_fail(e, ORR_ENOMEM, "out of memory");
            goto fail;
        }
    }
    int src = sqlite3_prepare_v2(m->db, qi, -1, &si, NULL);
    if (src == SQLITE_OK && matched)
        src = sqlite3_prepare_v2(m->db, qm, -1, &sm, NULL);
    for (size_t i = 0; src == SQLITE_OK && i < n; i++) {
        const struct orri_label_row *r = &rows[i];
        const char *model = r->model && r->model[0] ? r->model : NULL;
        json_t *j = r->label ? json_loads(r->label, JSON_DECODE_ANY |
                                          JSON_ALLOW_NUL, NULL) : NULL;
        json_decref(j);
        if (!j || !r->request_id || !r->request_id[0]) {
            rc = orr_fail(e, ORR_EINVAL, "label for request '%s': %s",
                          r->request_id ? r->request_id : "",
                          !j ? "not JSON" : "no request id");
            goto fail;
        }
        bind_text(si, 1, r->request_id);
        bind_text(si, 2, model);
        bind_text(si, 3, r->label);
        sqlite3_bind_int64(si, 4, now);
        src = sqlite3_step(si);
        sqlite3_reset(si);
        if (src != SQLITE_DONE)
            break;
        src = SQLITE_OK;
        if (!matched)
            continue;
        bind_text(sm, 1, r->request_id);
        bind_text(sm, 2, model);
        src = sqlite3_step(sm);
        if (src == SQLITE_ROW) {
            hit[i] = (unsigned char)sqlite3_column_int(sm, 0);
            src = SQLITE_OK;
        }
        sqlite3_reset(sm);
        if (!hit[i]) {
            size_t k = hash_id(r->request_id) & (set.cap - 1);
            while (set.slot[k])
                k = (k + 1) & (set.cap - 1);
            set.slot[k] = i + 1;
            pending++;
        }
    }
    if (src != SQLITE_OK && src != SQLITE_DONE) {
        rc = orri_meta_sqlfail(m, src, e, "storing labels");
        goto fail;
    }
    if (pending && (rc = match_chunks(m, rows, hit, &set, newest, e)))
        goto fail;
    for (size_t i = 0; matched && i < n; i++)
        hits += hit[i];
    if (matched)
        *matched = hits;
fail:
    sqlite3_finalize(si);
    sqlite3_finalize(sm);
    free(set.slot);
    free(hit);
    return rc;
}

int orri_labels_put_recent(struct orr_meta *m,
                           const struct orri_label_row *rows, size_t n,
                           int64_t newest, int64_t *matched,
                           struct orr_error *e)
{
    if (matched)
        *matched = 0;
    if (n == 0)
        return ORR_OK;
    pthread_mutex_lock(&m->lock);
    int rc = orri_meta_begin(m, e);
    if (!rc) {
        rc = put_locked(m, rows, n, newest, matched, e);
        if (rc)
            orri_meta_rollback(m);
        else
            rc = orri_meta_commit(m, e);
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

int orri_labels_put(struct orr_meta *m, const struct orri_label_row *rows,
                    size_t n, int64_t *matched, struct orr_error *e)
{
    return orri_labels_put_recent(m, rows, n, 0, matched, e);
}

int orri_predictions_label_recent(struct orr_meta *m, const char *model,
                                  const char *request_id, const char *label,
                                  int64_t newest, struct orr_error *e)
{
    struct orri_label_row r = {request_id, model, label};
    int64_t matched = 0;
    int rc = orri_labels_put_recent(m, &r, 1, newest, &matched, e);
    if (rc)
        return rc;
    if (!matched)
        return orr_fail(e, ORR_ENOTFOUND, "no prediction with request id "
                        "'%s'%s%s yet: label kept, joins when the "
                        "prediction arrives", request_id,
                        model ? " for model " : "", model ? model : "");
    return ORR_OK;
}

int orri_predictions_label(struct orr_meta *m, const char *model,
                           const char *request_id, const char *label,
                           struct orr_error *e)
{
    return orri_predictions_label_recent(m, model, request_id, label, 0,
                                         e);
}

static int decode_json(const char *text, size_t len, double **out,
                       size_t *rows, size_t *ncols, struct orr_error *e)
{
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    if (!j || !json_is_array(j)) {
        json_decref(j);
        return orr_fail(e, ORR_ECORRUPT, "logged rows: not a JSON array");
    }
    size_t nr = json_array_size(j), nc = 0;
    if (nr) {
        json_t *r0 = json_array_get(j, 0);
        nc = json_is_array(r0) ? json_array_size(r0) : 1;
    }
    double *v = malloc((nr * nc > 0 ? nr * nc : 1) * sizeof *v);
    if (!v) {
        json_decref(j);
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    for (size_t r = 0; r < nr; r++) {
        json_t *row = json_array_get(j, r);
        for (size_t c = 0; c < nc; c++) {
            json_t *x = json_is_array(row) ? json_array_get(row, c)
                      : c == 0 ? row : NULL;
            v[r * nc + c] = json_is_number(x) ? json_number_value(x) : NAN;
        }
    }
    json_decref(j);
    *out = v;
    *rows = nr;
    *ncols = nc;
    return ORR_OK;
}

int orri_predictions_decode(const void *data, size_t len, int is_text,
                            int64_t cols, double **out, size_t *rows,
                            size_t *ncols, struct orr_error *e)
{
    *out = NULL;
    *rows = *ncols = 0;
    if (!data || !len)
        return ORR_OK;
    if (is_text || cols <= 0)
        return decode_json(data, len, out, rows, ncols, e);
    size_t c = (size_t)cols;
    if (len % (8 * c))
        return orr_fail(e, ORR_ECORRUPT, "logged rows: %zu bytes are not "
                        "rows of %zu doubles", len, c);
    double *v = malloc(len);
    if (!v)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    orri_f64_from_le(v, data, len / 8);
    *out = v;
    *rows = len / 8 / c;
    *ncols = c;
    return ORR_OK;
}
