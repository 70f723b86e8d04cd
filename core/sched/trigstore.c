/*
 * sched/trigstore.c - the triggers table (schema migration 6) through the
 * scheduler's own connection (sched/store.c).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "sched/sched_internal.h"
#include "sched/triggers.h"
#include "util/error.h"

#define TRIG_COLS "id, name, kind, target, workflow, options, state," \
                  " created_ms, coalesce(last_fire_ms, 0)," \
                  " coalesce(last_run, '')"

void orri_trigger_list_free(struct orri_trigger *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].name);
        free(v[i].kind);
        free(v[i].target);
        free(v[i].workflow);
        free(v[i].options);
        free(v[i].state);
        free(v[i].last_run);
    }
    free(v);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return strdup(t ? (const char *)t : "");
}

/* Run `sql` (bound by `bind`) and collect the rows. */
static int select_rows(struct orri_sched *s, const char *sql,
                       const char *name, struct orri_trigger **out,
                       size_t *n, struct orr_error *e)
{
    struct orri_trigger *v = NULL;
    size_t len = 0, cap = 0;
    sqlite3_stmt *st = NULL;
    *out = NULL;
    *n = 0;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        rc = orri_sched_sqlfail(s, rc, e, "listing triggers");
        goto fail;
    }
    if (name)
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 8;
            struct orri_trigger *nv = realloc(v, nc * sizeof *v);
            if (!nv) {
                rc = orr_fail(e, ORR_ENOMEM, "out of memory");
                goto fail;
            }
            v = nv;
            cap = nc;
        }
        struct orri_trigger *t = &v[len++];
        memset(t, 0, sizeof *t);
        t->id = sqlite3_column_int64(st, 0);
        t->name = col_dup(st, 1);
        t->kind = col_dup(st, 2);
        t->target = col_dup(st, 3);
        t->workflow = col_dup(st, 4);
        t->options = col_dup(st, 5);
        t->state = col_dup(st, 6);
        t->created_ms = sqlite3_column_int64(st, 7);
        t->last_fire_ms = sqlite3_column_int64(st, 8);
        t->last_run = col_dup(st, 9);
        if (!t->name || !t->kind || !t->target || !t->workflow ||
            !t->options || !t->state || !t->last_run) {
            rc = orr_fail(e, ORR_ENOMEM, "out of memory");
            goto fail;
        }
    }
    if (rc != SQLITE_DONE) {
        rc = orri_sched_sqlfail(s, rc, e, "listing triggers");
        goto fail;
    }
    sqlite3_finalize(st);
    *out = v;
    *n = len;
    return ORR_OK;
fail:
    sqlite3_finalize(st);
    orri_trigger_list_free(v, len);
    return rc;
}

int orri_trig_list(struct orri_sched *s, struct orri_trigger **out,
                   size_t *n, struct orr_error *e)
{
    return select_rows(s, "SELECT " TRIG_COLS " FROM triggers ORDER BY id",
                       NULL, out, n, e);
}

int orri_trig_get(struct orri_sched *s, const char *name,
                  struct orri_trigger **out, struct orr_error *e)
{
    size_t n = 0;
    int rc = select_rows(s, "SELECT " TRIG_COLS " FROM triggers"
                         " WHERE name = ?1", name, out, &n, e);
    if (!rc && !n)
        rc = orr_fail(e, ORR_ENOTFOUND, "no trigger named '%s'", name);
    return rc;
}

/* One statement with text/int64 binds: "t" text, "i" int64, "n" null. */
static int exec_bound(struct orri_sched *s, const char *sql,
                      const char *types, const char *doing,
                      struct orr_error *e, ...)
{
    sqlite3_stmt *st = NULL;
    va_list ap;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return orri_sched_sqlfail(s, rc, e, doing);
    va_start(ap, e);
    for (int i = 0; types[i]; i++) {
        if (types[i] == 't')
            sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1,
                              SQLITE_TRANSIENT);
        else if (types[i] == 'i')
            sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        else
            sqlite3_bind_null(st, i + 1);
    }
    va_end(ap);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return orri_sched_sqlfail(s, rc, e, doing);
    return ORR_OK;
}

int orri_trig_upsert(struct orri_sched *s, const struct orri_trigger *t,
                     int64_t now_ms, enum orri_trig_change *how,
                     struct orr_error *e)
{
    struct orri_trigger *old = NULL;
    struct orr_error ignore = {0};
    int rc = orri_trig_get(s, t->name, &old, &ignore);
    *how = ORRI_TRIG_UNCHANGED;
    if (rc == ORR_ENOTFOUND) {
        rc = exec_bound(s, "INSERT INTO triggers (name, kind, target,"
                        " workflow, options, state, created_ms)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", "tttttti",
                        "adding the trigger", e, t->name, t->kind,
                        t->target, t->workflow, t->options,
                        t->state ? t->state : "{}", now_ms);
        if (!rc)
            *how = ORRI_TRIG_CREATED;
        return rc;
    }
    if (rc)
        return orr_fail(e, rc, "%s", ignore.msg);
    int restart = strcmp(old->kind, t->kind) || strcmp(old->target, t->target);
    int changed = restart || strcmp(old->workflow, t->workflow) ||
                  strcmp(old->options, t->options);
    if (restart)
        rc = exec_bound(s, "UPDATE triggers SET kind = ?2, target = ?3,"
                        " workflow = ?4, options = ?5, state = ?6,"
                        " last_fire_ms = NULL, last_run = NULL,"
                        " created_ms = ?7 WHERE id = ?1", "ittttti",
                        "updating the trigger", e, old->id, t->kind,
                        t->target, t->workflow, t->options,
                        t->state ? t->state : "{}", now_ms);
    else if (changed)
        rc = exec_bound(s, "UPDATE triggers SET workflow = ?2,"
                        " options = ?3 WHERE id = ?1", "itt",
                        "updating the trigger", e, old->id, t->workflow,
                        t->options);
    if (!rc && changed)
        *how = ORRI_TRIG_UPDATED;
    orri_trigger_list_free(old, 1);
    return rc;
}

int orri_trig_remove(struct orri_sched *s, const char *name,
                     struct orr_error *e)
{
    int rc = exec_bound(s, "DELETE FROM triggers WHERE name = ?1", "t",
                        "removing the trigger", e, name);
    if (!rc && !sqlite3_changes(s->db))
        rc = orr_fail(e, ORR_ENOTFOUND, "no trigger named '%s'", name);
    return rc;
}

int orri_trig_fired(struct orri_sched *s, int64_t id, int64_t fire_ms,
                    const char *state_patch, struct orr_error *e)
{
    return exec_bound(s, "UPDATE triggers SET last_fire_ms = ?2,"
                      " state = json_patch(state, ?3) WHERE id = ?1",
                      "iit", "recording the firing", e, id, fire_ms,
                      state_patch ? state_patch : "{}");
}

int orri_trig_run_started(struct orri_sched *s, int64_t id,
                          const char *run_id, long pid,
                          struct orr_error *e)
{
    return exec_bound(s, "UPDATE triggers SET last_run = ?2,"
                      " state = json_set(state, '$.pid', ?3) WHERE id = ?1",
                      "iti", "recording the run", e, id, run_id,
                      (int64_t)pid);
}

int orri_trig_run_ended(struct orri_sched *s, int64_t id, long pid,
                        struct orr_error *e)
{
    return exec_bound(s, "UPDATE triggers SET"
                      " state = json_remove(state, '$.pid')"
                      " WHERE id = ?1 AND json_extract(state, '$.pid') = ?2",
                      "ii", "recording the end of the run", e, id,
                      (int64_t)pid);
}

int orri_trig_quality_alerts(struct orri_sched *s, int64_t window_id,
                             int64_t *n, struct orr_error *e)
{
    sqlite3_stmt *st = NULL;
    *n = 0;
    int rc = sqlite3_prepare_v2(s->db,
        "SELECT count(*) FROM monitor_values WHERE window_id = ?1"
        " AND alert != 0 AND metric IN ('accuracy', 'roc_auc', 'pr_auc',"
        " 'f1', 'precision', 'recall', 'log_loss', 'rmse', 'mae', 'r2')",
        -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, window_id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *n = sqlite3_column_int64(st, 0);
            rc = SQLITE_DONE;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return orri_sched_sqlfail(s, rc, e, "reading the monitor window");
    return ORR_OK;
}

int orri_trig_window_span(struct orri_sched *s, int64_t window_id,
                          int64_t *start_ms, int64_t *end_ms,
                          struct orr_error *e)
{
    sqlite3_stmt *st = NULL;
    *start_ms = *end_ms = 0;
    int rc = sqlite3_prepare_v2(s->db, "SELECT start_ms, end_ms FROM"
                                " monitor_windows WHERE id = ?1", -1, &st,
                                NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, window_id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *start_ms = sqlite3_column_int64(st, 0);
            *end_ms = sqlite3_column_int64(st, 1);
            rc = SQLITE_DONE;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return orri_sched_sqlfail(s, rc, e, "reading the monitor window");
    return ORR_OK;
}
