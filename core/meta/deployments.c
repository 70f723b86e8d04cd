/*
 * meta/deployments.c - deployment rows: opened when a version serves,
 * closed when it is replaced or the server stops.
 */
#include "meta/deployments.h"

#include <sqlite3.h>

#include "meta/meta_internal.h"
#include "util/error.h"

static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

int orri_deployment_begin(struct orr_meta *m, const char *model,
                          int64_t version, const char *alias,
                          const char *server, const char *url, int64_t *id,
                          struct orr_error *e)
{
    static const char q[] =
        "INSERT INTO deployments (model_id, version, version_id, alias,"
        " server, url, status, started_ms)"
        " SELECT r.id, ?2, (SELECT v.id FROM model_versions v"
        "   WHERE v.model_id = r.id AND v.version = ?2),"
        " ?3, ?4, ?5, 'running', ?6"
        " FROM registered_models r WHERE r.name = ?1";
    sqlite3_stmt *st = NULL;
    int rc = ORR_OK;
    *id = 0;
    pthread_mutex_lock(&m->lock);
    int src = sqlite3_prepare_v2(m->db, q, -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, version);
        bind_opt(st, 3, alias);
        bind_opt(st, 4, server);
        bind_opt(st, 5, url);
        sqlite3_bind_int64(st, 6, orri_now_ms());
        src = sqlite3_step(st);
    }
    if (src != SQLITE_DONE)
        rc = orri_meta_sqlfail(m, src, e, "recording a deployment");
    else if (sqlite3_changes(m->db) == 0)
        rc = orr_fail(e, ORR_ENOTFOUND, "no registered model '%s'", model);
    else
        *id = sqlite3_last_insert_rowid(m->db);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

int orri_deployment_end(struct orr_meta *m, int64_t id, const char *status,
                        struct orr_error *e)
{
    static const char q[] =
        "UPDATE deployments SET status = ?2, stopped_ms = ?3"
        " WHERE id = ?1 AND stopped_ms IS NULL";
    sqlite3_stmt *st = NULL;
    int rc = ORR_OK;
    pthread_mutex_lock(&m->lock);
    int src = sqlite3_prepare_v2(m->db, q, -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, orri_now_ms());
        src = sqlite3_step(st);
    }
    if (src != SQLITE_DONE)
        rc = orri_meta_sqlfail(m, src, e, "closing a deployment");
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->lock);
    return rc;
}
