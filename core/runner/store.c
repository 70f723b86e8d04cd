/*
 * runner/store.c - the orchestration store: the runner's own SQLite
 * connection to the site's metadata database.
 *
 * Why a connection of its own: the runner records a step begin, its end,
 * its input and output events and a cache entry for every step; one
 * autocommit transaction each would dominate the per-step overhead, so
 * these writes are grouped into one transaction per scheduling round.
 * Its tables (orch_*) belong to the metadata schema (migration 3): an
 * older database is migrated through orr_meta_open before this
 * connection prepares anything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "runner/orch_internal.h"
#include "util/error.h"
#include "util/path.h"

#define BUSY_TIMEOUT_MS 10000

/* The orch_* tables come with schema migration 3 (core/meta/schema.c). */
#define OSTORE_SCHEMA 3

enum {
    Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_RUN_PUT, Q_RUN_GET, Q_RUN_REOPEN,
    Q_STEP_INSERT, Q_STEP_END, Q_OSTEP_PUT, Q_OSTEP_RUNNING, Q_ART_INSERT,
    Q_ART_GET, Q_EVENT, Q_COPY, Q_OSTEP_GET, Q_OSTEP_NAMES, Q_CACHE_GET,
    Q_CACHE_PUT, Q_STEP_CHECK, Q_LOGGED_M, Q_LOGGED_P, Q_METRICS_ART,
    Q_COUNT
};

static const char *const sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_RUN_PUT] =
        "INSERT INTO orch_runs (run_uuid, workflow, script_digest,"
        " script_path, params_json, updated_ms) VALUES (?1,?2,?3,?4,?5,?6)"
        " ON CONFLICT (run_uuid) DO UPDATE SET updated_ms = excluded.updated_ms",
    [Q_RUN_GET] =
        "SELECT o.workflow, o.script_digest, o.script_path, o.params_json,"
        " r.status FROM orch_runs o JOIN runs r ON r.uuid = o.run_uuid"
        " WHERE o.run_uuid = ?1",
    [Q_RUN_REOPEN] =
        "UPDATE runs SET status = 'running', end_ms = NULL WHERE uuid = ?1",
    [Q_STEP_INSERT] =
        "INSERT INTO steps (run_id, name, status, start_ms)"
        " SELECT id, ?2, 'running', ?3 FROM runs WHERE uuid = ?1",
    [Q_STEP_END] =
        "UPDATE steps SET status = ?2, end_ms = ?3 WHERE id = ?1",
    [Q_OSTEP_PUT] =
        "INSERT INTO orch_steps (run_uuid, name, step_id, status, cached,"
        " attempts, cache_key, output, output_size, log, error, duration_ms,"
        " seq) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?3)"
        " ON CONFLICT (run_uuid, name) DO UPDATE SET"
        "  step_id = excluded.step_id, status = excluded.status,"
        "  cached = excluded.cached, attempts = excluded.attempts,"
        "  cache_key = excluded.cache_key, output = excluded.output,"
        "  output_size = excluded.output_size, log = excluded.log,"
        "  error = excluded.error, duration_ms = excluded.duration_ms",
    [Q_OSTEP_RUNNING] =
        "INSERT INTO orch_steps (run_uuid, name, step_id, status, attempts,"
        " seq) VALUES (?1, ?2, ?3, 'running', ?4, ?3)"
        " ON CONFLICT (run_uuid, name) DO UPDATE SET"
        "  step_id = excluded.step_id, status = 'running',"
        "  attempts = excluded.attempts, output = NULL, log = NULL,"
        "  error = NULL",
    [Q_ART_INSERT] =
        "INSERT INTO artifacts (digest, size, kind, name, created_ms)"
        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (digest) DO NOTHING",
    [Q_ART_GET] = "SELECT id FROM artifacts WHERE digest = ?1",
    [Q_EVENT] =
        "INSERT INTO events (step_id, artifact_id, direction, time_ms)"
        " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
    [Q_COPY] =
        "INSERT INTO events (step_id, artifact_id, direction, time_ms)"
        " SELECT ?2, artifact_id, 1, ?3 FROM events"
        " WHERE step_id = ?1 AND direction = 1 ON CONFLICT DO NOTHING",
    [Q_OSTEP_GET] =
        "SELECT step_id, status, cached, attempts, output, output_size, log,"
        " error, duration_ms FROM orch_steps WHERE run_uuid = ?1"
        " AND name = ?2",
    [Q_OSTEP_NAMES] =
        "SELECT name FROM orch_steps WHERE run_uuid = ?1 ORDER BY seq",
    [Q_CACHE_GET] =
        "SELECT output, output_size, plugins, step_id, run_uuid"
        " FROM orch_cache WHERE cache_key = ?1",
    [Q_CACHE_PUT] =
        "INSERT INTO orch_cache (cache_key, output, output_size, plugins,"
        " run_uuid, step_id, created_ms) VALUES (?1,?2,?3,?4,?5,?6,?7)"
        " ON CONFLICT (cache_key) DO UPDATE SET output = excluded.output,"
        "  output_size = excluded.output_size, plugins = excluded.plugins,"
        "  run_uuid = excluded.run_uuid, step_id = excluded.step_id,"
        "  created_ms = excluded.created_ms",
    [Q_STEP_CHECK] =
        "SELECT s.name, s.status FROM steps s JOIN runs r ON r.id = s.run_id"
        " WHERE s.id = ?1 AND r.uuid = ?2",
    [Q_LOGGED_M] =
        "SELECT k.name, s.n FROM metric_series s"
        " JOIN metric_keys k ON k.id = s.key_id"
        " WHERE s.run_id = (SELECT id FROM runs WHERE uuid = ?1)",
    [Q_LOGGED_P] =
        "SELECT key, value FROM run_params"
        " WHERE run_id = (SELECT id FROM runs WHERE uuid = ?1)",
    [Q_METRICS_ART] =
        "SELECT a.digest FROM events e JOIN artifacts a ON a.id = e.artifact_id"
        " WHERE e.step_id = ?1 AND e.direction = 1 AND a.kind = 'metrics'",
};

struct orri_ostore {
    sqlite3      *db;
    sqlite3_stmt *q[Q_COUNT];
    int           depth;        /* nested begin count                      */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sqlfail(struct orri_ostore *s, int rc, struct orr_error *e,
                   const char *what)
{
    int code = rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? ORR_EBUSY :
               rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB ? ORR_ECORRUPT :
               rc == SQLITE_NOMEM ? ORR_ENOMEM : ORR_EIO;
    return orr_fail(e, code, "%s: %s", what,
                    s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
}

/* Step a statement to completion (rows ignored) and reset it. */
static int run_q(struct orri_ostore *s, int id, struct orr_error *e,
                 const char *what)
{
    sqlite3_stmt *st = s->q[id];
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return sqlfail(s, rc, e, what);
    return ORR_OK;
}

/* Every path that opens this store (the runner, --resume, `orrery step`,
 * `orrery logs`) may meet a database older than the orch_* tables: the
 * metadata store's own open migrates it (and checks it is ours), once,
 * through a short-lived connection, so no caller has to remember to. */
static int ensure_schema(struct orri_ostore *s, const char *db_path,
                         struct orr_error *e)
{
    sqlite3_stmt *st = NULL;
    int64_t version = 0;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st,
                                NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        version = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return sqlfail(s, rc, e, "reading the schema version");
    if (version >= OSTORE_SCHEMA)
        return ORR_OK;
    struct orr_meta *m = NULL;
    rc = orr_meta_open(&m, db_path, e);
    orr_meta_close(m);
    if (rc)
        orr_error_prefix(e, "migrating the metadata store");
    return rc;
}

int orri_ostore_open(struct orri_ostore **out, const char *db_path,
                     struct orr_error *e)
{
    *out = NULL;
    struct orri_ostore *s = calloc(1, sizeof *s);
    if (!s)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    int rc = sqlite3_open_v2(db_path, &s->db, SQLITE_OPEN_READWRITE |
                             SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = sqlfail(s, rc, e, "opening the metadata store");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    rc = sqlite3_exec(s->db, "PRAGMA foreign_keys = ON;"
                      "PRAGMA synchronous = NORMAL;", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = sqlfail(s, rc, e, "opening the metadata store");
        goto fail;
    }
    rc = ensure_schema(s, db_path, e);
    if (rc)
        goto fail;
    for (int i = 0; i < Q_COUNT; i++) {
        rc = sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                &s->q[i], NULL);
        if (rc != SQLITE_OK) {
            rc = sqlfail(s, rc, e, "preparing the orchestration store");
            goto fail;
        }
    }
    *out = s;
    return ORR_OK;
fail:
    orri_ostore_close(s);
    return rc;
}

void orri_ostore_close(struct orri_ostore *s)
{
    if (!s)
        return;
    if (s->depth > 0)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(s->q[i]);
    sqlite3_close(s->db);
    free(s);
}

int orri_ostore_begin(struct orri_ostore *s, struct orr_error *e)
{
    if (s->depth++ > 0)
        return ORR_OK;
    int rc = run_q(s, Q_BEGIN, e, "starting a transaction");
    if (rc)
        s->depth = 0;
    return rc;
}

int orri_ostore_commit(struct orri_ostore *s, struct orr_error *e)
{
    if (s->depth == 0 || --s->depth > 0)
        return ORR_OK;
    int rc = run_q(s, Q_COMMIT, e, "committing");
    if (rc)
        orri_ostore_rollback(s);
    return rc;
}

void orri_ostore_rollback(struct orri_ostore *s)
{
    s->depth = 0;
    if (!sqlite3_get_autocommit(s->db))
        run_q(s, Q_ROLLBACK, &(struct orr_error){0}, "rollback");
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

int orri_ostore_run_put(struct orri_ostore *s, const char *run,
                        const char *workflow, const char *script_digest,
                        const char *script_path, const char *params_json,
                        struct orr_error *e)
{
    sqlite3_stmt *st = s->q[Q_RUN_PUT];
    bind_text(st, 1, run);
    bind_text(st, 2, workflow);
    bind_text(st, 3, script_digest);
    bind_text(st, 4, script_path);
    bind_text(st, 5, params_json);
    sqlite3_bind_int64(st, 6, now_ms());
    return run_q(s, Q_RUN_PUT, e, "recording the run's recipe");
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

int orri_ostore_run_get(struct orri_ostore *s, const char *run,
                        struct orri_orun *out, struct orr_error *e)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = s->q[Q_RUN_GET];
    bind_text(st, 1, run);
    int rc = sqlite3_step(st);
    int status = ORR_OK;
    if (rc == SQLITE_ROW) {
        copy_col(out->workflow, sizeof out->workflow, st, 0);
        copy_col(out->script_digest, sizeof out->script_digest, st, 1);
        copy_col(out->script_path, sizeof out->script_path, st, 2);
        const unsigned char *p = sqlite3_column_text(st, 3);
        out->params_json = strdup(p ? (const char *)p : "{}");
        copy_col(out->status, sizeof out->status, st, 4);
        if (!out->params_json)
            status = orr_fail(e, ORR_ENOMEM, "out of memory");
    } else if (rc == SQLITE_DONE) {
        status = orr_fail(e, ORR_ENOTFOUND, "no run %s started by the "
                          "runner in this site", run);
    } else {
        status = sqlfail(s, rc, e, "reading a run");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return status;
}

int orri_ostore_run_reopen(struct orri_ostore *s, const char *run,
                           struct orr_error *e)
{
    bind_text(s->q[Q_RUN_REOPEN], 1, run);
    return run_q(s, Q_RUN_REOPEN, e, "reopening the run");
}

int orri_ostore_step_begin(struct orri_ostore *s, const char *run,
                           const char *name, int64_t *step_id,
                           struct orr_error *e)
{
    sqlite3_stmt *st = s->q[Q_STEP_INSERT];
    bind_text(st, 1, run);
    bind_text(st, 2, name);
    sqlite3_bind_int64(st, 3, now_ms());
    int rc = run_q(s, Q_STEP_INSERT, e, "recording a step");
    if (!rc && sqlite3_changes(s->db) != 1)
        rc = orr_fail(e, ORR_ENOTFOUND, "recording step '%s': no run %s",
                      name, run);
    if (!rc)
        *step_id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

int orri_ostore_step_check(struct orri_ostore *s, const char *run,
                           const char *name, int64_t step_id,
                           struct orr_error *e)
{
    sqlite3_stmt *st = s->q[Q_STEP_CHECK];
    sqlite3_bind_int64(st, 1, step_id);
    bind_text(st, 2, run);
    int rc = sqlite3_step(st);
    int status = ORR_OK;
    if (rc == SQLITE_ROW) {
        const char *n = (const char *)sqlite3_column_text(st, 0);
        const char *v = (const char *)sqlite3_column_text(st, 1);
        if (!n || strcmp(n, name))
            status = orr_fail(e, ORR_EINVAL, "step row %lld of run %s is "
                              "step '%s', not '%s'", (long long)step_id, run,
                              n ? n : "?", name);
        else if (!v || strcmp(v, "running"))
            status = orr_fail(e, ORR_EINVAL, "step row %lld ('%s' of run "
                              "%s) is %s, not a running execution",
                              (long long)step_id, name, run, v ? v : "?");
    } else if (rc == SQLITE_DONE) {
        status = orr_fail(e, ORR_ENOTFOUND, "run %s has no step row %lld",
                          run, (long long)step_id);
    } else {
        status = sqlfail(s, rc, e, "reading a step");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return status;
}

int orri_ostore_step_running(struct orri_ostore *s, const char *run,
                             const char *name, int64_t step_id,
                             int attempts, struct orr_error *e)
{
    sqlite3_stmt *st = s->q[Q_OSTEP_RUNNING];
    bind_text(st, 1, run);
    bind_text(st, 2, name);
    sqlite3_bind_int64(st, 3, step_id);
    sqlite3_bind_int(st, 4, attempts);
    return run_q(s, Q_OSTEP_RUNNING, e, "recording a step");
}

int orri_ostore_step_end(struct orri_ostore *s, const char *run,
                         const struct orri_ostep *x, struct orr_error *e)
{
    int rc = ORR_OK;
    if (x->step_id > 0) {
        sqlite3_stmt *st = s->q[Q_STEP_END];
        sqlite3_bind_int64(st, 1, x->step_id);
        /* steps.status knows no 'skipped': a step that never ran is a
         * cancelled execution there; orch_steps keeps the nuance. */
        bind_text(st, 2, strcmp(x->status, "skipped") ? x->status
                                                       : "cancelled");
        sqlite3_bind_int64(st, 3, now_ms());
        rc = run_q(s, Q_STEP_END, e, "ending a step");
    }
    if (rc)
        return rc;
    sqlite3_stmt *st = s->q[Q_OSTEP_PUT];
    bind_text(st, 1, run);
    bind_text(st, 2, x->name);
    if (x->step_id > 0)
        sqlite3_bind_int64(st, 3, x->step_id);
    else
        sqlite3_bind_int64(st, 3, 0);
    bind_text(st, 4, x->status);
    sqlite3_bind_int(st, 5, x->cached);
    sqlite3_bind_int(st, 6, x->attempts);
    bind_text(st, 7, x->cache_key);
    bind_text(st, 8, x->output && *x->output ? x->output : NULL);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)x->output_size);
    bind_text(st, 10, x->log && *x->log ? x->log : NULL);
    bind_text(st, 11, x->error);
    sqlite3_bind_double(st, 12, x->duration_ms);
    return run_q(s, Q_OSTEP_PUT, e, "recording a step's end");
}

int orri_ostore_event(struct orri_ostore *s, int64_t step_id, int output,
                      const char *digest, uint64_t size, const char *kind,
                      const char *name, struct orr_error *e)
{
    sqlite3_stmt *st = s->q[Q_ART_INSERT];
    bind_text(st, 1, digest);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
    bind_text(st, 3, kind);
    bind_text(st, 4, name);
    sqlite3_bind_int64(st, 5, now_ms());
    int rc = run_q(s, Q_ART_INSERT, e, "recording an artifact");
    if (rc)
        return rc;
    int64_t id = sqlite3_changes(s->db) ? sqlite3_last_insert_rowid(s->db)
                                        : 0;
    if (!id) {
        st = s->q[Q_ART_GET];
        bind_text(st, 1, digest);
        int src = sqlite3_step(st);
        if (src == SQLITE_ROW)
            id = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (src != SQLITE_ROW)
            return sqlfail(s, src, e, "finding an artifact");
    }
    st = s->q[Q_EVENT];
    sqlite3_bind_int64(st, 1, step_id);
    sqlite3_bind_int64(st, 2, id);
    sqlite3_bind_int(st, 3, output ? 1 : 0);
    sqlite3_bind_int64(st, 4, now_ms());
    return run_q(s, Q_EVENT, e, "recording a lineage event");
}

int orri_ostore_copy_outputs(struct orri_ostore *s, int64_t from, int64_t to,
                             struct orr_error *e)
{
    sqlite3_stmt *st = s->q[Q_COPY];
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    sqlite3_bind_int64(st, 3, now_ms());
    return run_q(s, Q_COPY, e, "recording a cached step's outputs");
}

int orri_ostore_step_get(struct orri_ostore *s, const char *run,
                         const char *name, struct orri_ostep_rec *out,
                         struct orr_error *e)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = s->q[Q_OSTEP_GET];
    bind_text(st, 1, run);
    bind_text(st, 2, name);
    int rc = sqlite3_step(st), status = ORR_OK;
    if (rc == SQLITE_ROW) {
        out->step_id = sqlite3_column_int64(st, 0);
        copy_col(out->status, sizeof out->status, st, 1);
        out->cached = sqlite3_column_int(st, 2);
        out->attempts = sqlite3_column_int(st, 3);
        copy_col(out->output, sizeof out->output, st, 4);
        out->output_size = (uint64_t)sqlite3_column_int64(st, 5);
        copy_col(out->log, sizeof out->log, st, 6);
        copy_col(out->error, sizeof out->error, st, 7);
        out->duration_ms = sqlite3_column_double(st, 8);
    } else if (rc == SQLITE_DONE) {
        status = orr_fail(e, ORR_ENOTFOUND, "run %s has no step '%s'", run,
                          name);
    } else {
        status = sqlfail(s, rc, e, "reading a step");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return status;
}

int orri_ostore_step_names(struct orri_ostore *s, const char *run,
                           int (*fn)(void *ud, const char *name), void *ud,
                           struct orr_error *e)
{
    sqlite3_stmt *st = s->q[Q_OSTEP_NAMES];
    bind_text(st, 1, run);
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW)
        stop = fn(ud, (const char *)sqlite3_column_text(st, 0));
    int status = stop ? stop :
                 rc == SQLITE_DONE ? ORR_OK : sqlfail(s, rc, e, "listing");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return status;
}

int orri_ostore_cache_get(struct orri_ostore *s, const char *key,
                          struct orri_cache_hit *out, struct orr_error *e)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = s->q[Q_CACHE_GET];
    bind_text(st, 1, key);
    int rc = sqlite3_step(st), status = ORR_OK;
    if (rc == SQLITE_ROW) {
        copy_col(out->output, sizeof out->output, st, 0);
        out->output_size = (uint64_t)sqlite3_column_int64(st, 1);
        copy_col(out->plugins, sizeof out->plugins, st, 2);
        out->step_id = sqlite3_column_int64(st, 3);
        copy_col(out->run, sizeof out->run, st, 4);
    } else if (rc == SQLITE_DONE) {
        status = ORR_ENOTFOUND;
    } else {
        status = sqlfail(s, rc, e, "reading the step cache");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return status;
}

int orri_ostore_cache_put(struct orri_ostore *s, const char *key,
                          const char *output, uint64_t output_size,
                          const char *plugins, const char *run,
                          int64_t step_id, struct orr_error *e)
{
    sqlite3_stmt *st = s->q[Q_CACHE_PUT];
    bind_text(st, 1, key);
    bind_text(st, 2, output);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)output_size);
    bind_text(st, 4, plugins ? plugins : "");
    bind_text(st, 5, run);
    sqlite3_bind_int64(st, 6, step_id);
    sqlite3_bind_int64(st, 7, now_ms());
    return run_q(s, Q_CACHE_PUT, e, "recording a cache entry");
}

/* Rows of a two-column query into obj[col 0] = col 1 (an integer when
 * `integers`). */
static int rows_into(struct orri_ostore *s, int q, const char *run,
                     json_t *obj, int integers, struct orr_error *e)
{
    sqlite3_stmt *st = s->q[q];
    bind_text(st, 1, run);
    int rc, bad = 0;
    while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        const char *v = (const char *)sqlite3_column_text(st, 1);
        json_t *jv = integers ? json_integer(sqlite3_column_int64(st, 1))
                              : json_string(v ? v : "");
        bad = !k || json_object_set_new(obj, k, jv);
    }
    int status = bad ? orr_fail(e, ORR_ENOMEM, "out of memory") :
                 rc == SQLITE_DONE ? ORR_OK :
                 sqlfail(s, rc, e, "reading what a run logged");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return status;
}

int orri_ostore_logged(struct orri_ostore *s, const char *run, json_t **out,
                       struct orr_error *e)
{
    json_t *m = json_object(), *p = json_object();
    *out = json_pack("{s:o, s:o}", "m", m, "p", p);
    if (!*out || !m || !p)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    int rc = rows_into(s, Q_LOGGED_M, run, m, 1, e);
    if (!rc)
        rc = rows_into(s, Q_LOGGED_P, run, p, 0, e);
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int orri_ostore_metrics_of(struct orri_ostore *s, int64_t step_id,
                           char digest[ORR_DIGEST_HEX_LEN + 1],
                           struct orr_error *e)
{
    sqlite3_stmt *st = s->q[Q_METRICS_ART];
    sqlite3_bind_int64(st, 1, step_id);
    int rc = sqlite3_step(st), status = ORR_OK;
    digest[0] = '\0';
    if (rc == SQLITE_ROW)
        copy_col(digest, ORR_DIGEST_HEX_LEN + 1, st, 0);
    else if (rc == SQLITE_DONE)
        status = ORR_ENOTFOUND;
    else
        status = sqlfail(s, rc, e, "reading a step's metrics");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return status;
}

int orri_log_dir(char *out, size_t cap, const char *db_path, const char *run,
                 struct orr_error *e)
{
    char dir[4096];
    int rc = orri_path_dirname(dir, sizeof dir, db_path, e);
    if (rc)
        return rc;
    int n = snprintf(out, cap, "%s/logs/%s", dir, run);
    if (n < 0 || (size_t)n >= cap)
        return orr_fail(e, ORR_EINVAL, "log folder path too long");
    return ORR_OK;
}
