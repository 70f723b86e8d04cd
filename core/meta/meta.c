/*
 * meta/meta.c - the metadata store: opening the database, runs, steps,
 * params, tags, artifacts with their lineage events, and summaries.
 *
 * Metric buffering lives in metrics.c, the schema in schema.c.  Every
 * statement is prepared once at open (m->st) and used with bound
 * parameters.  A single write is its own transaction; multi-statement
 * writes use BEGIN IMMEDIATE so they never fail half-way on a lock
 * upgrade.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "meta/meta_internal.h"
#include "meta/query.h"
#include "util/error.h"
#include "util/path.h"

/* SQLite's busy handler waits this long for a lock; BEGIN IMMEDIATE and
 * single writes then retry this many times more before giving up. */
#define BUSY_TIMEOUT_MS 5000
#define BUSY_RETRIES    5

/* Longest param or tag value in bytes. */
#define VALUE_MAX (64 * 1024)

static const char *const sql[ORRI_ST_COUNT] = {
    [ORRI_ST_BEGIN] = "BEGIN IMMEDIATE",
    [ORRI_ST_COMMIT] = "COMMIT",
    [ORRI_ST_ROLLBACK] = "ROLLBACK",
    [ORRI_ST_RUN_INSERT] =
        "INSERT INTO runs (uuid, workflow, script_path, script_hash, user,"
        " host, status, start_ms, git_commit, git_dirty) VALUES (?1, ?2,"
        " ?3, ?4, ?5, ?6, 'running', ?7, ?8, ?9)",
    [ORRI_ST_RUN_END] =
        "UPDATE runs SET status = ?2, end_ms = ?3 WHERE id = ?1",
    [ORRI_ST_RUN_ROWID] = "SELECT id FROM runs WHERE uuid = ?1",
    [ORRI_ST_STEP_INSERT] =
        "INSERT INTO steps (run_id, name, status, start_ms)"
        " VALUES (?1, ?2, 'running', ?3)",
    [ORRI_ST_STEP_END] =
        "UPDATE steps SET status = ?2, end_ms = ?3 WHERE id = ?1",
    [ORRI_ST_PARAM_UPSERT] =
        "INSERT INTO run_params (run_id, key, value) VALUES (?1, ?2, ?3)"
        " ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
    [ORRI_ST_TAG_UPSERT] =
        "INSERT INTO run_tags (run_id, key, value) VALUES (?1, ?2, ?3)"
        " ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
    [ORRI_ST_ARTIFACT_INSERT] =
        "INSERT INTO artifacts (digest, size, kind, name, created_ms)"
        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (digest) DO NOTHING",
    [ORRI_ST_ARTIFACT_GET] = "SELECT id, size FROM artifacts WHERE digest = ?1",
    [ORRI_ST_EVENT_INSERT] =
        "INSERT INTO events (step_id, artifact_id, direction, time_ms)"
        " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
    [ORRI_ST_KEY_INSERT] =
        "INSERT INTO metric_keys (name) VALUES (?1)"
        " ON CONFLICT (name) DO NOTHING",
    [ORRI_ST_KEY_GET] = "SELECT id FROM metric_keys WHERE name = ?1",
    [ORRI_ST_CHUNK_INSERT] =
        "INSERT INTO metric_chunks (run_id, key_id, n, min_step, max_step,"
        " codec, data) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)",
    /* In an upsert, the right-hand sides all see the row's old values. */
    [ORRI_ST_SERIES_UPSERT] =
        "INSERT INTO metric_series (run_id, key_id, n, last_step, last_ms,"
        " last_value, min_value, max_value)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        " ON CONFLICT (run_id, key_id) DO UPDATE SET"
        "  n = n + excluded.n,"
        "  last_step = max(last_step, excluded.last_step),"
        "  last_ms = CASE WHEN excluded.last_step >= last_step"
        "    THEN excluded.last_ms ELSE last_ms END,"
        "  last_value = CASE WHEN excluded.last_step >= last_step"
        "    THEN excluded.last_value ELSE last_value END,"
        "  min_value = CASE WHEN excluded.min_value IS NULL THEN min_value"
        "    WHEN min_value IS NULL THEN excluded.min_value"
        "    ELSE min(min_value, excluded.min_value) END,"
        "  max_value = CASE WHEN excluded.max_value IS NULL THEN max_value"
        "    WHEN max_value IS NULL THEN excluded.max_value"
        "    ELSE max(max_value, excluded.max_value) END",
    [ORRI_ST_CHUNK_READ] =
        "SELECT n, codec, data FROM metric_chunks"
        " WHERE run_id = ?1 AND key_id = ?2 ORDER BY min_step, id",
    [ORRI_ST_SUM_RUN] = "SELECT status FROM runs WHERE id = ?1",
    [ORRI_ST_SUM_STEPS] = "SELECT count(*) FROM steps WHERE run_id = ?1",
    [ORRI_ST_SUM_PARAMS] =
        "SELECT count(*) FROM run_params WHERE run_id = ?1",
    [ORRI_ST_SUM_POINTS] =
        "SELECT coalesce(sum(n), 0) FROM metric_series WHERE run_id = ?1",
    [ORRI_ST_SUM_ARTIFACTS] =
        "SELECT count(DISTINCT e.artifact_id) FROM steps s"
        " JOIN events e ON e.step_id = s.id WHERE s.run_id = ?1",
};

/* ---- helpers shared with schema.c and metrics.c ----------------------- */

int orri_meta_sqlfail(struct orr_meta *m, int rc, struct orr_error *e,
                      const char *what)
{
    const char *msg = m->db ? sqlite3_errmsg(m->db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_NOTADB:
        return orr_fail(e, ORR_EINVAL,
                        "%s is not an Orrery metadata database (%s): move "
                        "it away or set metadata.path", m->path, msg);
    case SQLITE_CORRUPT:
        return orr_fail(e, ORR_ECORRUPT,
                        "%s is corrupt (%s): restore it from a backup or "
                        "move it away", m->path, msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return orr_fail(e, ORR_EBUSY,
                        "%s: database %s is locked by another process (%s)",
                        what, m->path, msg);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return orr_fail(e, ORR_EPERM, "%s: cannot write %s (%s)", what,
                        m->path, msg);
    case SQLITE_NOMEM:
        return orr_fail(e, ORR_ENOMEM, "%s: out of memory", what);
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
        return orr_fail(e, ORR_EINVAL, "%s: %s", what, msg);
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_PROTOCOL:
        return orr_fail(e, ORR_EIO, "%s: %s: %s", what, m->path, msg);
    default:
        return orr_fail(e, ORR_EBACKEND, "%s: %s (%s)", what, msg, m->path);
    }
}

/* sqlite3_step, retried when the busy timeout ran out (the statement
 * keeps its bindings across the reset). */
static int step_retry(sqlite3_stmt *st)
{
    for (int i = 0;; i++) {
        int rc = sqlite3_step(st);
        if ((rc & 0xff) != SQLITE_BUSY || i == BUSY_RETRIES)
            return rc;
        sqlite3_reset(st);
    }
}

int orri_meta_exec(struct orr_meta *m, enum orri_stmt id,
                   struct orr_error *e, const char *what)
{
    sqlite3_stmt *st = m->st[id];
    int rc = step_retry(st);
    int status = ORR_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        status = orri_meta_sqlfail(m, rc, e, what);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return status;
}

int orri_meta_begin(struct orr_meta *m, struct orr_error *e)
{
    return orri_meta_exec(m, ORRI_ST_BEGIN, e, "starting a transaction");
}

int orri_meta_commit(struct orr_meta *m, struct orr_error *e)
{
    int rc = orri_meta_exec(m, ORRI_ST_COMMIT, e, "committing");
    if (rc)
        orri_meta_rollback(m);
    return rc;
}

void orri_meta_rollback(struct orr_meta *m)
{
    if (!sqlite3_get_autocommit(m->db)) {
        sqlite3_step(m->st[ORRI_ST_ROLLBACK]);
        sqlite3_reset(m->st[ORRI_ST_ROLLBACK]);
    }
}

static int is_run_id(const char *s)
{
    if (!s)
        return 0;
    for (int i = 0; i < ORR_RUN_ID_SIZE - 1; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[ORR_RUN_ID_SIZE - 1] == '\0';
}

static size_t run_slot(const char *uuid)
{
    size_t h = 0;
    for (int i = 0; i < 6; i++)
        h = h << 4 | (size_t)(uuid[i] <= '9' ? uuid[i] - '0'
                                              : uuid[i] - 'a' + 10);
    return h & (ORRI_RUN_CACHE - 1);
}

void orri_meta_run_cache_put(struct orr_meta *m, const char *uuid,
                             int64_t rowid)
{
    size_t home = run_slot(uuid), j = home;
    for (int i = 0; i < ORRI_RUN_PROBE; i++) {
        j = (home + (size_t)i) & (ORRI_RUN_CACHE - 1);
        if (!m->runs[j].rowid)
            break;
        j = home;                   /* all taken: evict the home slot */
    }
    memcpy(m->runs[j].uuid, uuid, ORR_RUN_ID_SIZE);
    m->runs[j].rowid = rowid;
}

int orri_meta_run_rowid(struct orr_meta *m, const char *uuid,
                        int64_t *rowid, struct orr_error *e)
{
    if (!is_run_id(uuid))
        return orr_fail(e, ORR_EINVAL, "'%.40s' is not a run id (32 "
                        "lower-case hex digits)", uuid ? uuid : "(null)");
    size_t home = run_slot(uuid);
    for (int i = 0; i < ORRI_RUN_PROBE; i++) {
        const struct orri_run_cache *c =
            &m->runs[(home + (size_t)i) & (ORRI_RUN_CACHE - 1)];
        if (c->rowid && !memcmp(c->uuid, uuid, ORR_RUN_ID_SIZE)) {
            *rowid = c->rowid;
            return ORR_OK;
        }
    }
    sqlite3_stmt *st = m->st[ORRI_ST_RUN_ROWID];
    sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
    int rc = step_retry(st);
    int status = ORR_OK;
    if (rc == SQLITE_ROW) {
        *rowid = sqlite3_column_int64(st, 0);
        orri_meta_run_cache_put(m, uuid, *rowid);
    } else if (rc == SQLITE_DONE) {
        status = orr_fail(e, ORR_ENOTFOUND, "no run %s in %s", uuid,
                          m->path);
    } else {
        status = orri_meta_sqlfail(m, rc, e, "looking up a run");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return status;
}

int orri_meta_check_key(const char *key, size_t len, const char *what,
                        struct orr_error *e)
{
    if (!key || len == 0)
        return orr_fail(e, ORR_EINVAL, "empty %s key", what);
    if (len > ORRI_KEY_MAX)
        return orr_fail(e, ORR_EINVAL, "%s key '%.40s...' is %zu bytes "
                        "long; the limit is %d", what, key, len,
                        ORRI_KEY_MAX);
    return ORR_OK;
}

/* ---- open / close ----------------------------------------------------- */

static int exec_pragma(struct orr_meta *m, const char *pragma,
                       struct orr_error *e)
{
    int rc = sqlite3_exec(m->db, pragma, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return orri_meta_sqlfail(m, rc, e, pragma);
    return ORR_OK;
}

/* Switch to WAL once per database (the mode is stored in the file).  The
 * switch needs an exclusive lock and SQLite reports contention on it at
 * once, without its busy handler, so wait here. */
static int set_wal(struct orr_meta *m, struct orr_error *e)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(m->db, "PRAGMA journal_mode = WAL", -1, &st,
                                NULL);
    for (int waited = 0; rc == SQLITE_OK;) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
            rc = SQLITE_OK;
            break;
        }
        sqlite3_reset(st);
        if ((rc & 0xff) != SQLITE_BUSY || waited >= BUSY_TIMEOUT_MS)
            break;
        sqlite3_sleep(10);
        waited += 10;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return orri_meta_sqlfail(m, rc, e, "switching to WAL mode");
    return ORR_OK;
}

/* After a failure to open or write at open time, say plainly when the
 * cause is a directory or file we may not write. */
static int explain_access(struct orr_meta *m, const char *dir, int rc,
                          struct orr_error *e)
{
    if (rc != ORR_EIO && rc != ORR_EPERM)
        return rc;
    if (access(dir, W_OK) != 0)
        return orr_fail(e, ORR_EPERM, "cannot open %s for writing: "
                        "directory %s is not writable (SQLite keeps -wal "
                        "and -shm files beside the database)", m->path,
                        dir);
    if (access(m->path, W_OK) != 0 && errno != ENOENT)
        return orr_fail(e, ORR_EPERM, "cannot open %s for writing: %s",
                        m->path, strerror(errno));
    return rc;
}

ORR_API int orr_meta_open(struct orr_meta **out, const char *db_path,
                          struct orr_error *e)
{
    *out = NULL;
    if (!db_path || !*db_path)
        return orr_fail(e, ORR_EINVAL, "no metadata database path");
    struct orr_meta *m = calloc(1, sizeof *m);
    char dir[4096];
    int rc = ORR_ENOMEM;
    if (!m || pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return orr_fail(e, ORR_ENOMEM, "opening %s: out of memory", db_path);
    }
    m->path = strdup(db_path);
    m->chunk = malloc(ORRI_CHUNK_POINTS * ORRI_POINT_BYTES);
    if (!m->path || !m->chunk) {
        orr_fail(e, rc, "opening %s: out of memory", db_path);
        goto fail;
    }
    rc = orri_path_dirname(dir, sizeof dir, db_path, e);
    if (!rc)
        rc = orri_mkdir_p(dir, e);
    if (rc) {
        orr_error_prefix(e, "metadata database %s", db_path);
        goto fail;
    }
    if (access(db_path, F_OK) != 0 && access(dir, W_OK) != 0) {
        rc = orr_fail(e, ORR_EPERM, "cannot create metadata database %s: "
                      "directory %s is not writable", db_path, dir);
        goto fail;
    }
    /* One orr_meta is serialised by m->lock, so SQLite's own mutexes on
     * the connection would only cost time. */
    int src = sqlite3_open_v2(db_path, &m->db, SQLITE_OPEN_READWRITE |
                              SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                              NULL);
    if (src != SQLITE_OK) {
        rc = orri_meta_sqlfail(m, src, e, "opening the metadata database");
        rc = explain_access(m, dir, rc, e);
        goto fail;
    }
    sqlite3_extended_result_codes(m->db, 1);
    sqlite3_busy_timeout(m->db, BUSY_TIMEOUT_MS);
    /* Reads first: a foreign, newer, or damaged file is refused before
     * anything (even the journal mode) is written to it. */
    rc = orri_meta_check_schema(m, e);
    if (!rc)
        rc = set_wal(m, e);
    if (!rc)
        rc = exec_pragma(m, "PRAGMA synchronous = NORMAL", e);
    if (!rc)
        rc = exec_pragma(m, "PRAGMA foreign_keys = ON", e);
    if (rc) {
        rc = explain_access(m, dir, rc, e);
        goto fail;
    }
    /* Statements need the tables, so they exist only once BEGIN/COMMIT
     * for the migration are prepared. */
    for (int i = ORRI_ST_BEGIN; i <= ORRI_ST_ROLLBACK; i++) {
        src = sqlite3_prepare_v3(m->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                 &m->st[i], NULL);
        if (src != SQLITE_OK) {
            rc = orri_meta_sqlfail(m, src, e, "preparing a statement");
            goto fail;
        }
    }
    rc = orri_meta_migrate(m, e);
    if (rc) {
        rc = explain_access(m, dir, rc, e);
        goto fail;
    }
    for (int i = ORRI_ST_ROLLBACK + 1; i < ORRI_ST_COUNT; i++) {
        src = sqlite3_prepare_v3(m->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                 &m->st[i], NULL);
        if (src != SQLITE_OK) {
            rc = orri_meta_sqlfail(m, src, e, "preparing a statement");
            goto fail;
        }
    }
    m->last_commit_ms = orri_now_ms();
    rc = orri_meta_attach(m, e);
    if (rc)
        goto fail;
    *out = m;
    return ORR_OK;
fail:
    orr_meta_close(m);
    return rc;
}

ORR_API void orr_meta_close(struct orr_meta *m)
{
    if (!m)
        return;
    orri_meta_detach(m);        /* before m->lock: the flusher's order */
    pthread_mutex_lock(&m->lock);
    /* Fully opened: flush (errors are lost here; callers who care call
     * orr_meta_flush first) and let SQLite refresh its statistics. */
    int opened = m->db && m->st[ORRI_ST_COUNT - 1];
    if (opened)
        orri_meta_flush_locked(m, NULL);
    orri_meta_metrics_free(m);
    for (int i = 0; i < ORRI_ST_COUNT; i++)
        sqlite3_finalize(m->st[i]);
    if (opened)
        sqlite3_exec(m->db, "PRAGMA optimize", NULL, NULL, NULL);
    sqlite3_close(m->db);
    pthread_mutex_unlock(&m->lock);
    pthread_mutex_destroy(&m->lock);
    free(m->chunk);
    free(m->path);
    free(m);
}

ORR_API int orr_meta_flush(struct orr_meta *m, struct orr_error *e)
{
    pthread_mutex_lock(&m->lock);
    int rc = orri_meta_flush_locked(m, e);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* ---- runs and steps --------------------------------------------------- */

static const char *status_text(enum orr_run_status s)
{
    switch (s) {
    case ORR_RUN_RUNNING:   return "running";
    case ORR_RUN_SUCCEEDED: return "succeeded";
    case ORR_RUN_FAILED:    return "failed";
    case ORR_RUN_CANCELLED: return "cancelled";
    }
    return NULL;
}

static int random_id(char out[ORR_RUN_ID_SIZE], struct orr_error *e)
{
    unsigned char raw[(ORR_RUN_ID_SIZE - 1) / 2];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return orr_fail(e, ORR_EIO, "getrandom: %s", strerror(errno));
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[ORR_RUN_ID_SIZE - 1] = '\0';
    return ORR_OK;
}

static const char *current_user(char *buf, size_t cap)
{
    const char *u = getenv("USER");
    if (u && *u)
        return u;
    struct passwd pw, *res = NULL;
    if (getpwuid_r(geteuid(), &pw, buf, cap, &res) == 0 && res &&
        res->pw_name)
        return res->pw_name;
    return NULL;
}

ORR_API int orr_meta_run_begin(struct orr_meta *m,
                               const struct orr_run_spec *spec,
                               char run_id[ORR_RUN_ID_SIZE],
                               struct orr_error *e)
{
    if (!spec || !spec->workflow || !*spec->workflow)
        return orr_fail(e, ORR_EINVAL, "a run needs a workflow name");
    char id[ORR_RUN_ID_SIZE], pwbuf[1024], host[256];
    int rc = random_id(id, e);
    if (rc)
        return rc;
    const char *user = spec->user ? spec->user
                                  : current_user(pwbuf, sizeof pwbuf);
    const char *hostname = spec->host;
    if (!hostname && gethostname(host, sizeof host) == 0) {
        host[sizeof host - 1] = '\0';
        hostname = host;
    }
    pthread_mutex_lock(&m->lock);
    sqlite3_stmt *st = m->st[ORRI_ST_RUN_INSERT];
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, spec->workflow, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, spec->script_path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, spec->script_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, hostname, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, orri_now_ms());
    if (spec->git_commit && spec->git_commit[0]) {
        sqlite3_bind_text(st, 8, spec->git_commit, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 9, spec->git_dirty != 0);
    } else {
        sqlite3_bind_null(st, 8);
        sqlite3_bind_null(st, 9);
    }
    rc = orri_meta_exec(m, ORRI_ST_RUN_INSERT, e, "recording a run");
    if (!rc) {
        orri_meta_run_cache_put(m, id, sqlite3_last_insert_rowid(m->db));
        orri_meta_track(m, 0, sqlite3_last_insert_rowid(m->db), 1);
        memcpy(run_id, id, ORR_RUN_ID_SIZE);
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* Set status and end time on a run or step row; ENOTFOUND if absent. */
static int finish_row(struct orr_meta *m, enum orri_stmt id, int64_t rowid,
                      enum orr_run_status status, const char *what,
                      struct orr_error *e)
{
    const char *text = status_text(status);
    if (!text)
        return orr_fail(e, ORR_EINVAL, "%s: bad status %d", what,
                        (int)status);
    sqlite3_stmt *st = m->st[id];
    sqlite3_bind_int64(st, 1, rowid);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    if (status == ORR_RUN_RUNNING)
        sqlite3_bind_null(st, 3);
    else
        sqlite3_bind_int64(st, 3, orri_now_ms());
    int rc = orri_meta_exec(m, id, e, what);
    if (!rc && sqlite3_changes(m->db) == 0)
        rc = orr_fail(e, ORR_ENOTFOUND, "%s: no such row in %s", what,
                      m->path);
    return rc;
}

ORR_API int orr_meta_run_end(struct orr_meta *m, const char *run_id,
                             enum orr_run_status status, struct orr_error *e)
{
    int64_t rowid = 0;
    pthread_mutex_lock(&m->lock);
    int rc = orri_meta_run_rowid(m, run_id, &rowid, e);
    if (!rc)
        rc = orri_meta_flush_locked(m, e);
    if (!rc)
        rc = finish_row(m, ORRI_ST_RUN_END, rowid, status, "ending a run", e);
    if (!rc && status != ORR_RUN_RUNNING)
        orri_meta_track(m, 0, rowid, 0);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

ORR_API int orr_meta_step_begin(struct orr_meta *m, const char *run_id,
                                const char *step, int64_t *step_id,
                                struct orr_error *e)
{
    if (!step || !*step)
        return orr_fail(e, ORR_EINVAL, "a step needs a name");
    int64_t rowid = 0;
    pthread_mutex_lock(&m->lock);
    int rc = orri_meta_run_rowid(m, run_id, &rowid, e);
    if (!rc) {
        sqlite3_stmt *st = m->st[ORRI_ST_STEP_INSERT];
        sqlite3_bind_int64(st, 1, rowid);
        sqlite3_bind_text(st, 2, step, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, orri_now_ms());
        rc = orri_meta_exec(m, ORRI_ST_STEP_INSERT, e, "recording a step");
    }
    if (!rc) {
        *step_id = sqlite3_last_insert_rowid(m->db);
        orri_meta_track(m, 1, *step_id, 1);
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

ORR_API int orr_meta_step_end(struct orr_meta *m, int64_t step_id,
                              enum orr_run_status status,
                              struct orr_error *e)
{
    pthread_mutex_lock(&m->lock);
    int rc = orri_meta_flush_locked(m, e);
    if (!rc)
        rc = finish_row(m, ORRI_ST_STEP_END, step_id, status,
                        "ending a step", e);
    if (!rc && status != ORR_RUN_RUNNING)
        orri_meta_track(m, 1, step_id, 0);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* ---- params and tags -------------------------------------------------- */

static int upsert_kv(struct orr_meta *m, enum orri_stmt id, const char *what,
                     const char *run_id, const char *key, const char *value,
                     struct orr_error *e)
{
    int rc = orri_meta_check_key(key, key ? strlen(key) : 0, what, e);
    if (rc)
        return rc;
    if (!value)
        return orr_fail(e, ORR_EINVAL, "%s '%s' has no value", what, key);
    size_t vlen = strlen(value);
    if (vlen > VALUE_MAX)
        return orr_fail(e, ORR_EINVAL, "%s '%s': value of %zu bytes; the "
                        "limit is %d", what, key, vlen, VALUE_MAX);
    int64_t rowid = 0;
    pthread_mutex_lock(&m->lock);
    rc = orri_meta_run_rowid(m, run_id, &rowid, e);
    if (!rc) {
        sqlite3_stmt *st = m->st[id];
        sqlite3_bind_int64(st, 1, rowid);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, value, (int)vlen, SQLITE_STATIC);
        rc = orri_meta_exec(m, id, e, what);
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

ORR_API int orr_meta_log_param(struct orr_meta *m, const char *run_id,
                               const char *key, const char *value,
                               struct orr_error *e)
{
    return upsert_kv(m, ORRI_ST_PARAM_UPSERT, "param", run_id, key, value, e);
}

ORR_API int orr_meta_set_tag(struct orr_meta *m, const char *run_id,
                             const char *key, const char *value,
                             struct orr_error *e)
{
    return upsert_kv(m, ORRI_ST_TAG_UPSERT, "tag", run_id, key, value, e);
}

/* ---- artifacts and lineage -------------------------------------------- */

static int artifact_locked(struct orr_meta *m, int64_t step_id,
                           enum orr_event_dir dir, const char *digest,
                           uint64_t size, const char *kind, const char *name,
                           struct orr_error *e)
{
    int64_t now = orri_now_ms();
    sqlite3_stmt *st = m->st[ORRI_ST_ARTIFACT_INSERT];
    sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)size);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    int rc = orri_meta_exec(m, ORRI_ST_ARTIFACT_INSERT, e,
                            "recording an artifact");
    if (rc)
        return rc;
    st = m->st[ORRI_ST_ARTIFACT_GET];
    sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    int64_t art_id = 0, old_size = 0;
    if (src == SQLITE_ROW) {
        art_id = sqlite3_column_int64(st, 0);
        old_size = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (src != SQLITE_ROW)
        return src == SQLITE_DONE
                   ? orr_fail(e, ORR_EBACKEND, "artifact %s vanished", digest)
                   : orri_meta_sqlfail(m, src, e, "reading an artifact");
    /* A digest names content, so two sizes mean a broken caller or a
     * broken store: refuse rather than record a contradiction. */
    if ((uint64_t)old_size != size)
        return orr_fail(e, ORR_ECORRUPT, "artifact %s was recorded with "
                        "size %lld, now %llu", digest, (long long)old_size,
                        (unsigned long long)size);
    if (step_id <= 0)
        return ORR_OK;
    st = m->st[ORRI_ST_EVENT_INSERT];
    sqlite3_bind_int64(st, 1, step_id);
    sqlite3_bind_int64(st, 2, art_id);
    sqlite3_bind_int(st, 3, dir == ORR_EVENT_OUTPUT ? 1 : 0);
    sqlite3_bind_int64(st, 4, now);
    src = step_retry(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (src == SQLITE_CONSTRAINT_FOREIGNKEY)
        return orr_fail(e, ORR_ENOTFOUND, "no step %lld in %s",
                        (long long)step_id, m->path);
    if (src != SQLITE_DONE)
        return orri_meta_sqlfail(m, src, e, "recording a lineage event");
    return ORR_OK;
}

ORR_API int orr_meta_artifact(struct orr_meta *m, int64_t step_id,
                              enum orr_event_dir dir, const char *digest,
                              uint64_t size, const char *kind,
                              const char *name, struct orr_error *e)
{
    if (!digest || !*digest)
        return orr_fail(e, ORR_EINVAL, "an artifact needs a digest");
    if (!kind || !*kind)
        return orr_fail(e, ORR_EINVAL, "artifact %s needs a kind", digest);
    if (dir != ORR_EVENT_INPUT && dir != ORR_EVENT_OUTPUT)
        return orr_fail(e, ORR_EINVAL, "artifact %s: bad direction %d",
                        digest, (int)dir);
    if (size > INT64_MAX)
        return orr_fail(e, ORR_EINVAL, "artifact %s: size out of range",
                        digest);
    pthread_mutex_lock(&m->lock);
    int rc = orri_meta_begin(m, e);
    if (!rc) {
        rc = artifact_locked(m, step_id, dir, digest, size, kind, name, e);
        if (!rc)
            rc = orri_meta_commit(m, e);
        else
            orri_meta_rollback(m);
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* ---- summaries -------------------------------------------------------- */

static int count_query(struct orr_meta *m, enum orri_stmt id, int64_t run,
                       size_t *out, struct orr_error *e)
{
    sqlite3_stmt *st = m->st[id];
    sqlite3_bind_int64(st, 1, run);
    int src = step_retry(st);
    int rc = ORR_OK;
    if (src == SQLITE_ROW)
        *out = (size_t)sqlite3_column_int64(st, 0);
    else
        rc = orri_meta_sqlfail(m, src, e, "summarising a run");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

ORR_API int orr_meta_run_summary(struct orr_meta *m, const char *run_id,
                                 struct orr_run_summary *out,
                                 struct orr_error *e)
{
    memset(out, 0, sizeof *out);
    int64_t run = 0;
    pthread_mutex_lock(&m->lock);
    /* Count this process's buffered points too. */
    int rc = orri_meta_run_rowid(m, run_id, &run, e);
    if (!rc)
        rc = orri_meta_flush_locked(m, e);
    if (!rc) {
        sqlite3_stmt *st = m->st[ORRI_ST_SUM_RUN];
        sqlite3_bind_int64(st, 1, run);
        int src = step_retry(st);
        if (src == SQLITE_ROW)
            snprintf(out->status, sizeof out->status, "%s",
                     (const char *)sqlite3_column_text(st, 0));
        else if (src == SQLITE_DONE)
            rc = orr_fail(e, ORR_ENOTFOUND, "no run %s in %s", run_id,
                          m->path);
        else
            rc = orri_meta_sqlfail(m, src, e, "summarising a run");
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    if (!rc)
        rc = count_query(m, ORRI_ST_SUM_STEPS, run, &out->n_steps, e);
    if (!rc)
        rc = count_query(m, ORRI_ST_SUM_PARAMS, run, &out->n_params, e);
    if (!rc)
        rc = count_query(m, ORRI_ST_SUM_POINTS, run, &out->n_metrics, e);
    if (!rc)
        rc = count_query(m, ORRI_ST_SUM_ARTIFACTS, run, &out->n_artifacts,
                         e);
    pthread_mutex_unlock(&m->lock);
    return rc;
}
