/*
 * meta/schema.c - the schema of the metadata store and its forward
 * migrations.
 *
 * PRAGMA user_version holds the schema version (number of migrations
 * applied); PRAGMA application_id marks the file as Orrery's, so a foreign
 * SQLite database is refused rather than having our tables added to it.
 * Migrations are append-only: a released entry is never edited, a change
 * is a new entry.  They run in one BEGIN IMMEDIATE transaction, so a crash
 * or a concurrent opener sees either the old schema or the new one.
 * docs/metadata.md explains each table.
 */
#include <stdio.h>
#include <string.h>

#include "meta/meta_internal.h"
#include "util/error.h"

/* 'ORRY' */
#define ORRI_APPLICATION_ID 0x4F525259

static const char *const migrations[] = {
    /* 1: runs, steps, params, tags, artifacts, lineage events, metrics. */
    "CREATE TABLE runs ("
    "  id          INTEGER PRIMARY KEY,"
    "  uuid        TEXT NOT NULL UNIQUE,"
    "  workflow    TEXT NOT NULL,"
    "  script_path TEXT,"
    "  script_hash TEXT,"
    "  user        TEXT,"
    "  host        TEXT,"
    "  git_commit  TEXT,"
    "  git_dirty   INTEGER,"
    "  status      TEXT NOT NULL CHECK (status IN"
    "                ('running','succeeded','failed','cancelled')),"
    "  start_ms    INTEGER NOT NULL,"
    "  end_ms      INTEGER);"
    "CREATE INDEX runs_start    ON runs (start_ms);"
    "CREATE INDEX runs_workflow ON runs (workflow, start_ms);"
    "CREATE INDEX runs_status   ON runs (status, start_ms);"
    "CREATE INDEX runs_user     ON runs (user, start_ms);"

    "CREATE TABLE run_params ("
    "  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
    "  key    TEXT NOT NULL,"
    "  value  TEXT NOT NULL,"
    "  PRIMARY KEY (run_id, key)) WITHOUT ROWID;"
    "CREATE INDEX run_params_kv ON run_params (key, value);"

    "CREATE TABLE run_tags ("
    "  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
    "  key    TEXT NOT NULL,"
    "  value  TEXT NOT NULL,"
    "  PRIMARY KEY (run_id, key)) WITHOUT ROWID;"
    "CREATE INDEX run_tags_kv ON run_tags (key, value);"

    "CREATE TABLE steps ("
    "  id       INTEGER PRIMARY KEY,"
    "  run_id   INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
    "  name     TEXT NOT NULL,"
    "  status   TEXT NOT NULL CHECK (status IN"
    "             ('running','succeeded','failed','cancelled')),"
    "  start_ms INTEGER NOT NULL,"
    "  end_ms   INTEGER);"
    "CREATE INDEX steps_run ON steps (run_id, name);"

    "CREATE TABLE artifacts ("
    "  id         INTEGER PRIMARY KEY,"
    "  digest     TEXT NOT NULL UNIQUE,"
    "  size       INTEGER NOT NULL,"
    "  kind       TEXT NOT NULL,"
    "  name       TEXT,"
    "  uri        TEXT,"
    "  created_ms INTEGER NOT NULL);"
    "CREATE INDEX artifacts_kind ON artifacts (kind, created_ms);"

    /* direction: 0 = the step read the artifact, 1 = it wrote it. */
    "CREATE TABLE events ("
    "  step_id     INTEGER NOT NULL REFERENCES steps (id) ON DELETE CASCADE,"
    "  artifact_id INTEGER NOT NULL REFERENCES artifacts (id),"
    "  direction   INTEGER NOT NULL CHECK (direction IN (0, 1)),"
    "  time_ms     INTEGER NOT NULL,"
    "  PRIMARY KEY (step_id, artifact_id, direction)) WITHOUT ROWID;"
    "CREATE INDEX events_artifact ON events (artifact_id, direction);"

    "CREATE TABLE metric_keys ("
    "  id   INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE);"

    /* Points of one series in chunks: codec 1 = n * (int64 step, int64
     * time_ms, float64 value) little-endian, in logging order. */
    "CREATE TABLE metric_chunks ("
    "  id       INTEGER PRIMARY KEY,"
    "  run_id   INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
    "  key_id   INTEGER NOT NULL REFERENCES metric_keys (id),"
    "  n        INTEGER NOT NULL,"
    "  min_step INTEGER NOT NULL,"
    "  max_step INTEGER NOT NULL,"
    "  codec    INTEGER NOT NULL,"
    "  data     BLOB NOT NULL);"
    "CREATE INDEX metric_chunks_series"
    "  ON metric_chunks (run_id, key_id, min_step);"

    /* One row per series, for lists and filters: count, latest point
     * (highest step, then latest logged), min and max.  NULL values are
     * NaN (or no finite point for min/max); chunks keep exact bits. */
    "CREATE TABLE metric_series ("
    "  run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
    "  key_id     INTEGER NOT NULL REFERENCES metric_keys (id),"
    "  n          INTEGER NOT NULL,"
    "  last_step  INTEGER NOT NULL,"
    "  last_ms    INTEGER NOT NULL,"
    "  last_value REAL,"
    "  min_value  REAL,"
    "  max_value  REAL,"
    "  PRIMARY KEY (run_id, key_id)) WITHOUT ROWID;"
    "CREATE INDEX metric_series_key ON metric_series (key_id, last_value);",
};

#define N_MIGRATIONS ((int)(sizeof migrations / sizeof *migrations))

int orri_meta_schema_version(void)
{
    return N_MIGRATIONS;
}

/* Read the version; refuse a foreign or newer database. */
static int check_identity(struct orr_meta *m, int64_t *version,
                          struct orr_error *e)
{
    /* One statement, so one snapshot: another process may be creating
     * the schema right now.  Parsing the schema is also what detects most
     * corruption.  Open-time only, hence not in the statement cache. */
    static const char q[] =
        "SELECT (SELECT application_id FROM pragma_application_id),"
        " (SELECT user_version FROM pragma_user_version),"
        " (SELECT count(*) FROM sqlite_schema"
        "  WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\')";
    int64_t app = 0, n_tables = 0;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(m->db, q, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            app = sqlite3_column_int64(st, 0);
            *version = sqlite3_column_int64(st, 1);
            n_tables = sqlite3_column_int64(st, 2);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return orri_meta_sqlfail(m, rc, e, "reading the schema");
    if (app != ORRI_APPLICATION_ID && (app != 0 || *version != 0 ||
                                       n_tables != 0))
        return orr_fail(e, ORR_EINVAL,
                        "%s is not an Orrery metadata database (an SQLite "
                        "database of another application): move it away "
                        "or set metadata.path", m->path);
    if (*version > N_MIGRATIONS)
        return orr_fail(e, ORR_EUNSUPPORTED,
                        "database %s has schema version %lld, this orrery "
                        "understands up to %d: upgrade orrery", m->path,
                        (long long)*version, N_MIGRATIONS);
    return ORR_OK;
}

int orri_meta_check_schema(struct orr_meta *m, struct orr_error *e)
{
    int64_t version = 0;
    return check_identity(m, &version, e);
}

int orri_meta_migrate(struct orr_meta *m, struct orr_error *e)
{
    int64_t version = 0;
    int rc = check_identity(m, &version, e);
    if (rc || version == N_MIGRATIONS)
        return rc;
    rc = orri_meta_begin(m, e);
    if (rc)
        return rc;
    /* Another process may have migrated while we waited for the lock. */
    rc = check_identity(m, &version, e);
    for (int v = (int)version; !rc && v < N_MIGRATIONS; v++) {
        int src = sqlite3_exec(m->db, migrations[v], NULL, NULL, NULL);
        if (src != SQLITE_OK) {
            char what[64];
            snprintf(what, sizeof what, "schema migration %d", v + 1);
            rc = orri_meta_sqlfail(m, src, e, what);
        }
    }
    if (!rc && version < N_MIGRATIONS) {
        /* PRAGMA takes no bound parameters; both values are integers. */
        char sql[96];
        snprintf(sql, sizeof sql,
                 "PRAGMA user_version = %d; PRAGMA application_id = %d",
                 N_MIGRATIONS, ORRI_APPLICATION_ID);
        int src = sqlite3_exec(m->db, sql, NULL, NULL, NULL);
        if (src != SQLITE_OK)
            rc = orri_meta_sqlfail(m, src, e, "recording the schema version");
    }
    if (!rc)
        return orri_meta_commit(m, e);
    orri_meta_rollback(m);
    return rc;
}
