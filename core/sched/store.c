/*
 * sched/store.c - the schedules table, through a connection of its own
 * (as core/runner/store.c does) so the scheduler needs no orr_meta.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "meta/meta.h"
#include "sched/sched_internal.h"
#include "sched/store.h"
#include "util/error.h"

#define BUSY_TIMEOUT_MS 10000

int orri_sched_sqlfail(struct orri_sched *s, int rc, struct orr_error *e,
                       const char *doing)
{
    int code = rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? ORR_EBUSY
             : rc == SQLITE_CONSTRAINT ? ORR_EEXIST : ORR_EIO;
    return orr_fail(e, code, "%s: %s", doing,
                    s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
}

int orri_sched_open(struct orri_sched **out, const char *db_path,
                    struct orr_error *e)
{
    *out = NULL;
    /* The metadata store's open migrates (and identifies) the file. */
    struct orr_meta *m = NULL;
    int rc = orr_meta_open(&m, db_path, e);
    orr_meta_close(m);
    if (rc)
        return rc;
    struct orri_sched *s = calloc(1, sizeof *s);
    if (!s)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    rc = sqlite3_open_v2(db_path, &s->db, SQLITE_OPEN_READWRITE |
                         SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = orri_sched_sqlfail(s, rc, e, "opening the metadata store");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    *out = s;
    return ORR_OK;
fail:
    orri_sched_close(s);
    return rc;
}

void orri_sched_close(struct orri_sched *s)
{
    if (!s)
        return;
    sqlite3_close(s->db);
    free(s);
}

int orri_sched_add(struct orri_sched *s, const struct orri_schedule *sc,
                   int64_t *id, struct orr_error *e)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
        "INSERT INTO schedules (name, workflow, cron, params, created_s)"
        " VALUES (?1, ?2, ?3, ?4, ?5)", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, sc->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, sc->workflow, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, sc->cron, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, sc->params, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, sc->created_s);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_CONSTRAINT)
        return orr_fail(e, ORR_EEXIST, "a schedule named '%s' exists "
                        "already", sc->name);
    if (rc != SQLITE_DONE)
        return orri_sched_sqlfail(s, rc, e, "adding the schedule");
    *id = sqlite3_last_insert_rowid(s->db);
    return ORR_OK;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return strdup(t ? (const char *)t : "");
}

void orri_sched_list_free(struct orri_schedule *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].name);
        free(v[i].workflow);
        free(v[i].cron);
        free(v[i].params);
    }
    free(v);
}

int orri_sched_list(struct orri_sched *s, struct orri_schedule **out,
                    size_t *n, struct orr_error *e)
{
    struct orri_schedule *v = NULL;
    size_t len = 0, cap = 0;
    sqlite3_stmt *st = NULL;
    *out = NULL;
    *n = 0;
    int rc = sqlite3_prepare_v2(s->db,
        "SELECT id, name, workflow, cron, params, created_s,"
        " coalesce(last_fire_s, 0) FROM schedules ORDER BY id", -1, &st,
        NULL);
    if (rc != SQLITE_OK) {
        rc = orri_sched_sqlfail(s, rc, e, "listing schedules");
        goto fail;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 8;
            struct orri_schedule *nv = realloc(v, nc * sizeof *v);
            if (!nv) {
                rc = orr_fail(e, ORR_ENOMEM, "out of memory");
                goto fail;
            }
            v = nv;
            cap = nc;
        }
        struct orri_schedule *sc = &v[len++];
        sc->id = sqlite3_column_int64(st, 0);
        sc->name = col_dup(st, 1);
        sc->workflow = col_dup(st, 2);
        sc->cron = col_dup(st, 3);
        sc->params = col_dup(st, 4);
        sc->created_s = sqlite3_column_int64(st, 5);
        sc->last_fire_s = sqlite3_column_int64(st, 6);
        if (!sc->name || !sc->workflow || !sc->cron || !sc->params) {
            rc = orr_fail(e, ORR_ENOMEM, "out of memory");
            goto fail;
        }
    }
    if (rc != SQLITE_DONE) {
        rc = orri_sched_sqlfail(s, rc, e, "listing schedules");
        goto fail;
    }
    sqlite3_finalize(st);
    *out = v;
    *n = len;
    return ORR_OK;
fail:
    sqlite3_finalize(st);
    orri_sched_list_free(v, len);
    return rc;
}

int orri_sched_remove(struct orri_sched *s, const char *id_or_name,
                      struct orr_error *e)
{
    sqlite3_stmt *st = NULL;
    char *end = NULL;
    long long id = strtoll(id_or_name, &end, 10);
    int by_id = *id_or_name >= '0' && *id_or_name <= '9' && !*end;
    int changed = 0;
    /* A name that looks like a number still works when no id matches. */
    for (int pass = by_id ? 0 : 1; pass < 2 && !changed; pass++) {
        int rc = sqlite3_prepare_v2(s->db, pass == 0
            ? "DELETE FROM schedules WHERE id = ?1"
            : "DELETE FROM schedules WHERE name = ?1", -1, &st, NULL);
        if (rc == SQLITE_OK) {
            if (pass == 0)
                sqlite3_bind_int64(st, 1, id);
            else
                sqlite3_bind_text(st, 1, id_or_name, -1, SQLITE_STATIC);
            rc = sqlite3_step(st);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return orri_sched_sqlfail(s, rc, e, "removing the schedule");
        changed = sqlite3_changes(s->db);
    }
    if (!changed)
        return orr_fail(e, ORR_ENOTFOUND, "no schedule with id or name "
                        "'%s'", id_or_name);
    return ORR_OK;
}

int orri_sched_set_last(struct orri_sched *s, int64_t id, int64_t fire_s,
                        struct orr_error *e)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
        "UPDATE schedules SET last_fire_s = ?2 WHERE id = ?1", -1, &st,
        NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, fire_s);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return orri_sched_sqlfail(s, rc, e, "recording the fire time");
    return ORR_OK;
}
