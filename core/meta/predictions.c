/*
 * meta/predictions.c - batched inserts into the prediction log, labels,
 * and the decoding of stored rows (binary, or legacy JSON).
 */
#include "meta/predictions.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "meta/meta_internal.h"
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

/* Rows go in statements of MULTI rows: a busy server's log writer spends
 * its time in SQLite, and one statement per row costs a third more. */
#define MULTI 32
#define ROW_SQL "(?, ?, ?, ?, ?, ?, ?, ?, ?)"

int orri_predictions_insert(struct orr_meta *m,
                            const struct orri_prediction_row *rows, size_t n,
                            struct orr_error *e)
{
    static const char head[] =
        "INSERT INTO predictions (request_id, model, version, ts_ms,"
        " latency_us, inputs, outputs, input_cols, output_cols) VALUES ";
    if (n == 0)
        return ORR_OK;
    char q[sizeof head + MULTI * (sizeof ROW_SQL + 1)];
    size_t len = 0;
    memcpy(q, head, sizeof head - 1);
    len = sizeof head - 1;
    sqlite3_stmt *st1 = NULL, *stm = NULL;
    /* On big-endian hosts each row converts through its own scratch,
     * which must live until the step: one row a statement there. */
    int multi = HOST_LE && n >= MULTI;
    void *scratch[2] = {NULL, NULL};
    pthread_mutex_lock(&m->lock);
    int rc = orri_meta_begin(m, e);
    if (rc)
        goto fail;
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
            src = bind_row(stm, 9 * k, &rows[i + (size_t)k], scratch);
        if (src == SQLITE_OK)
            src = sqlite3_step(stm);
        if (src == SQLITE_DONE)
            src = SQLITE_OK;
        sqlite3_reset(stm);
        i += MULTI;
    }
    for (; src == SQLITE_OK && i < n; i++) {
        src = bind_row(st1, 0, &rows[i], scratch);
        if (src == SQLITE_OK)
            src = sqlite3_step(st1);
        if (src == SQLITE_DONE)
            src = SQLITE_OK;
        sqlite3_reset(st1);
    }
    if (src != SQLITE_OK) {
        rc = orri_meta_sqlfail(m, src, e, "logging predictions");
        orri_meta_rollback(m);
        goto fail;
    }
    rc = orri_meta_commit(m, e);
fail:
    sqlite3_finalize(st1);
    sqlite3_finalize(stm);
    pthread_mutex_unlock(&m->lock);
    free(scratch[0]);
    free(scratch[1]);
    return rc;
}

/* Store labels with the lock held and a transaction open. */
static int put_locked(struct orr_meta *m, const struct orri_label_row *rows,
                      size_t n, int64_t *matched, struct orr_error *e)
{
    static const char qi[] =
        "INSERT OR REPLACE INTO labels (request_id, model, label, ts_ms)"
        " VALUES (?, coalesce(?, ''), json(?), ?)";
    static const char qm[] =
        "SELECT EXISTS (SELECT 1 FROM predictions WHERE request_id = ?1"
        " AND (coalesce(?2, '') = '' OR model = ?2))";
    sqlite3_stmt *si = NULL, *sm = NULL;
    int64_t now = orri_meta_now_ms(), hits = 0;
    int rc = ORR_OK;
    int src = sqlite3_prepare_v2(m->db, qi, -1, &si, NULL);
    if (src == SQLITE_OK)
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
        bind_text(sm, 1, r->request_id);
        bind_text(sm, 2, model);
        src = sqlite3_step(sm);
        if (src == SQLITE_ROW) {
            hits += sqlite3_column_int(sm, 0);
            src = SQLITE_OK;
        }
        sqlite3_reset(sm);
    }
    if (src != SQLITE_OK && src != SQLITE_DONE)
        rc = orri_meta_sqlfail(m, src, e, "storing labels");
    else if (matched)
        *matched = hits;
fail:
    sqlite3_finalize(si);
    sqlite3_finalize(sm);
    return rc;
}

int orri_labels_put(struct orr_meta *m, const struct orri_label_row *rows,
                    size_t n, int64_t *matched, struct orr_error *e)
{
    if (matched)
        *matched = 0;
    if (n == 0)
        return ORR_OK;
    pthread_mutex_lock(&m->lock);
    int rc = orri_meta_begin(m, e);
    if (!rc) {
        rc = put_locked(m, rows, n, matched, e);
        if (rc)
            orri_meta_rollback(m);
        else
            rc = orri_meta_commit(m, e);
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

int orri_predictions_label(struct orr_meta *m, const char *model,
                           const char *request_id, const char *label,
                           struct orr_error *e)
{
    struct orri_label_row r = {request_id, model, label};
    int64_t matched = 0;
    int rc = orri_labels_put(m, &r, 1, &matched, e);
    if (rc)
        return rc;
    if (!matched)
        return orr_fail(e, ORR_ENOTFOUND, "no prediction with request id "
                        "'%s'%s%s yet: label kept, joins when the "
                        "prediction arrives", request_id,
                        model ? " for model " : "", model ? model : "");
    return ORR_OK;
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
