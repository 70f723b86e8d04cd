/*
 * meta/predictions.c - batched inserts into the prediction log, labels.
 */
#include "meta/predictions.h"

#include <sqlite3.h>

#include "meta/meta_internal.h"
#include "util/error.h"

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

int orri_predictions_insert(struct orr_meta *m,
                            const struct orri_prediction_row *rows, size_t n,
                            struct orr_error *e)
{
    static const char q[] =
        "INSERT INTO predictions (request_id, model, version, ts_ms,"
        " latency_us, inputs, outputs) VALUES (?, ?, ?, ?, ?, ?, ?)";
    if (n == 0)
        return ORR_OK;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&m->lock);
    int rc = orri_meta_begin(m, e);
    if (rc)
        goto fail;
    int src = sqlite3_prepare_v2(m->db, q, -1, &st, NULL);
    for (size_t i = 0; src == SQLITE_OK && i < n; i++) {
        const struct orri_prediction_row *r = &rows[i];
        bind_text(st, 1, r->request_id);
        bind_text(st, 2, r->model);
        bind_text(st, 3, r->version);
        sqlite3_bind_int64(st, 4, r->ts_ms);
        sqlite3_bind_int64(st, 5, r->latency_us);
        bind_text(st, 6, r->inputs);
        bind_text(st, 7, r->outputs);
        src = sqlite3_step(st);
        if (src == SQLITE_DONE)
            src = SQLITE_OK;
        sqlite3_reset(st);
    }
    if (src != SQLITE_OK) {
        rc = orri_meta_sqlfail(m, src, e, "logging predictions");
        orri_meta_rollback(m);
        goto fail;
    }
    rc = orri_meta_commit(m, e);
fail:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

int orri_predictions_label(struct orr_meta *m, const char *model,
                           const char *request_id, const char *label,
                           struct orr_error *e)
{
    static const char q[] =
        "UPDATE predictions SET label = ?, label_ts_ms = ?"
        " WHERE request_id = ? AND (?4 IS NULL OR model = ?4)";
    sqlite3_stmt *st = NULL;
    int rc = ORR_OK;
    pthread_mutex_lock(&m->lock);
    int src = sqlite3_prepare_v2(m->db, q, -1, &st, NULL);
    if (src == SQLITE_OK) {
        bind_text(st, 1, label);
        sqlite3_bind_int64(st, 2, orri_meta_now_ms());
        bind_text(st, 3, request_id);
        bind_text(st, 4, model);
        src = sqlite3_step(st);
    }
    if (src != SQLITE_DONE)
        rc = orri_meta_sqlfail(m, src, e, "labelling a prediction");
    else if (sqlite3_changes(m->db) == 0)
        rc = orr_fail(e, ORR_ENOTFOUND, "no prediction with request id "
                      "'%s'%s%s", request_id, model ? " for model " : "",
                      model ? model : "");
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->lock);
    return rc;
}
