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

    /* 2: the model registry (models, versions, the datasets a version was
     * trained on, aliases with their audit trail), deployments, alerts,
     * and the index lineage needs to find the runs of a script. */
    "CREATE INDEX runs_script ON runs (script_hash);"

    /* last_version only grows: a deleted version's number is never
     * given again, so models:/x/3 always meant the same bytes. */
    "CREATE TABLE registered_models ("
    "  id           INTEGER PRIMARY KEY,"
    "  name         TEXT NOT NULL UNIQUE,"
    "  description  TEXT,"
    "  last_version INTEGER NOT NULL DEFAULT 0,"
    "  created_ms   INTEGER NOT NULL,"
    "  updated_ms   INTEGER NOT NULL);"
    "CREATE INDEX registered_models_updated"
    "  ON registered_models (updated_ms);"

    /* metrics: the run's latest metric values when the version was
     * registered (a JSON object), kept for when the run is deleted. */
    "CREATE TABLE model_versions ("
    "  id          INTEGER PRIMARY KEY,"
    "  model_id    INTEGER NOT NULL"
    "                REFERENCES registered_models (id) ON DELETE CASCADE,"
    "  version     INTEGER NOT NULL CHECK (version >= 1),"
    "  run_id      INTEGER REFERENCES runs (id) ON DELETE SET NULL,"
    "  artifact_id INTEGER NOT NULL REFERENCES artifacts (id),"
    "  flavor      TEXT,"
    "  description TEXT,"
    "  status      TEXT NOT NULL DEFAULT 'ready'"
    "                CHECK (status IN ('ready','archived')),"
    "  created_ms  INTEGER NOT NULL,"
    "  metrics     TEXT CHECK (metrics IS NULL OR json_valid(metrics)),"
    "  UNIQUE (model_id, version));"
    "CREATE INDEX model_versions_run      ON model_versions (run_id);"
    "CREATE INDEX model_versions_artifact ON model_versions (artifact_id);"
    "CREATE INDEX model_versions_created  ON model_versions (created_ms);"

    "CREATE TABLE model_version_datasets ("
    "  version_id  INTEGER NOT NULL"
    "                REFERENCES model_versions (id) ON DELETE CASCADE,"
    "  artifact_id INTEGER NOT NULL REFERENCES artifacts (id),"
    "  PRIMARY KEY (version_id, artifact_id)) WITHOUT ROWID;"
    "CREATE INDEX model_version_datasets_artifact"
    "  ON model_version_datasets (artifact_id);"

    /* No cascade from versions: deleting a version an alias points to
     * is refused by the foreign key unless the alias goes first. */
    "CREATE TABLE model_aliases ("
    "  model_id   INTEGER NOT NULL"
    "               REFERENCES registered_models (id) ON DELETE CASCADE,"
    "  alias      TEXT NOT NULL,"
    "  version_id INTEGER NOT NULL REFERENCES model_versions (id),"
    "  updated_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (model_id, alias)) WITHOUT ROWID;"
    "CREATE INDEX model_aliases_version ON model_aliases (version_id);"

    /* The audit trail: version numbers, not row ids, so the history
     * still reads right after a version is deleted.  NULL old_version:
     * the alias was created; NULL new_version: it was deleted. */
    "CREATE TABLE alias_events ("
    "  id          INTEGER PRIMARY KEY,"
    "  model_id    INTEGER NOT NULL"
    "                REFERENCES registered_models (id) ON DELETE CASCADE,"
    "  alias       TEXT NOT NULL,"
    "  old_version INTEGER,"
    "  new_version INTEGER,"
    "  user        TEXT,"
    "  reason      TEXT,"
    "  time_ms     INTEGER NOT NULL);"
    "CREATE INDEX alias_events_model ON alias_events (model_id, id);"
    "CREATE INDEX alias_events_alias ON alias_events (model_id, alias, id);"

    "CREATE TABLE deployments ("
    "  id         INTEGER PRIMARY KEY,"
    "  model_id   INTEGER NOT NULL"
    "               REFERENCES registered_models (id) ON DELETE CASCADE,"
    "  version    INTEGER NOT NULL,"
    "  version_id INTEGER REFERENCES model_versions (id) ON DELETE SET NULL,"
    "  alias      TEXT,"
    "  server     TEXT NOT NULL,"
    "  url        TEXT,"
    "  status     TEXT NOT NULL CHECK (status IN"
    "               ('starting','running','stopped','failed')),"
    "  started_ms INTEGER NOT NULL,"
    "  stopped_ms INTEGER);"
    "CREATE INDEX deployments_model   ON deployments (model_id, started_ms);"
    "CREATE INDEX deployments_version ON deployments (version_id);"
    "CREATE INDEX deployments_status  ON deployments (status, started_ms);"

    "CREATE TABLE alerts ("
    "  id              INTEGER PRIMARY KEY,"
    "  model_id        INTEGER"
    "                    REFERENCES registered_models (id) ON DELETE CASCADE,"
    "  version_id      INTEGER"
    "                    REFERENCES model_versions (id) ON DELETE SET NULL,"
    "  severity        TEXT NOT NULL CHECK (severity IN"
    "                    ('info','warning','critical')),"
    "  title           TEXT NOT NULL,"
    "  details         TEXT CHECK (details IS NULL OR json_valid(details)),"
    "  created_ms      INTEGER NOT NULL,"
    "  acknowledged_ms INTEGER);"
    "CREATE INDEX alerts_model   ON alerts (model_id, created_ms);"
    "CREATE INDEX alerts_version ON alerts (version_id);"
    "CREATE INDEX alerts_open    ON alerts (created_ms)"
    "  WHERE acknowledged_ms IS NULL;",

    /* 3: the runner's tables (orch_*: created on the fly by the runner
     * before this migration, hence IF NOT EXISTS, so such databases
     * migrate with their rows) and named dataset versions, which were
     * artifacts of kind 'dataset-version' (uri 'artifact:DIGEST') before:
     * version N of a name was its N-th such row. */
    "CREATE TABLE IF NOT EXISTS orch_runs ("
    "  run_uuid      TEXT PRIMARY KEY,"
    "  workflow      TEXT NOT NULL,"
    "  script_digest TEXT NOT NULL,"
    "  script_path   TEXT NOT NULL,"
    "  params_json   TEXT NOT NULL,"
    "  updated_ms    INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS orch_steps ("
    "  run_uuid    TEXT NOT NULL,"
    "  name        TEXT NOT NULL,"
    "  step_id     INTEGER,"
    "  status      TEXT NOT NULL,"
    "  cached      INTEGER NOT NULL DEFAULT 0,"
    "  attempts    INTEGER NOT NULL DEFAULT 0,"
    "  cache_key   TEXT,"
    "  output      TEXT,"
    "  output_size INTEGER,"
    "  log         TEXT,"
    "  error       TEXT,"
    "  duration_ms REAL,"
    "  seq         INTEGER NOT NULL,"
    "  PRIMARY KEY (run_uuid, name)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS orch_cache ("
    "  cache_key   TEXT PRIMARY KEY,"
    "  output      TEXT NOT NULL,"
    "  output_size INTEGER NOT NULL,"
    "  plugins     TEXT NOT NULL,"
    "  run_uuid    TEXT NOT NULL,"
    "  step_id     INTEGER NOT NULL,"
    "  created_ms  INTEGER NOT NULL) WITHOUT ROWID;"

    "CREATE TABLE dataset_versions ("
    "  name        TEXT    NOT NULL,"
    "  version     INTEGER NOT NULL CHECK (version >= 1),"
    "  artifact_id INTEGER NOT NULL REFERENCES artifacts (id),"
    "  created_ms  INTEGER NOT NULL,"
    "  PRIMARY KEY (name, version)) WITHOUT ROWID;"
    "CREATE INDEX dataset_versions_artifact"
    "  ON dataset_versions (artifact_id);"
    "INSERT INTO dataset_versions (name, version, artifact_id, created_ms)"
    "  SELECT v.name, row_number() OVER (PARTITION BY v.name ORDER BY v.id),"
    "         d.id, v.created_ms"
    "  FROM artifacts v JOIN artifacts d ON d.digest = substr(v.uri, 10)"
    "  WHERE v.kind = 'dataset-version' AND v.uri LIKE 'artifact:%';",

    /* 4: the prediction log written by servers (core/serve), read by
     * monitoring.  Model and version are names, not row ids: a log
     * outlives the registry entries it mentions.  inputs/outputs are JSON
     * arrays of rows; label is JSON posted later by request id. */
    "CREATE TABLE predictions ("
    "  id          INTEGER PRIMARY KEY,"
    "  request_id  TEXT NOT NULL,"
    "  model       TEXT NOT NULL,"
    "  version     TEXT NOT NULL,"
    "  ts_ms       INTEGER NOT NULL,"
    "  latency_us  INTEGER NOT NULL,"
    "  inputs      TEXT,"
    "  outputs     TEXT,"
    "  label       TEXT,"
    "  label_ts_ms INTEGER);"
    "CREATE INDEX predictions_model   ON predictions (model, ts_ms);"
    "CREATE INDEX predictions_request ON predictions (request_id);",

    /* 5: cron schedules (core/sched, `orrery schedule`).  Times are Unix
     * seconds, cron fields are evaluated in UTC; params is a JSON object
     * of strings; last_fire_s is NULL until the scheduler first fires or
     * skips past a fire time. */
    "CREATE TABLE schedules ("
    "  id          INTEGER PRIMARY KEY,"
    "  name        TEXT NOT NULL UNIQUE,"
    "  workflow    TEXT NOT NULL,"
    "  cron        TEXT NOT NULL,"
    "  params      TEXT NOT NULL DEFAULT '{}',"
    "  created_s   INTEGER NOT NULL,"
    "  last_fire_s INTEGER);",

    /* 6: monitoring (core/monitor, `orrery monitor`).
     * Predictions: rows logged from now on keep inputs/outputs as BLOBs of
     * little-endian IEEE-754 doubles, row-major, with their column counts
     * in input_cols/output_cols (rows = bytes / 8 / cols); rows logged
     * before keep JSON text there with NULL counts.  Reading 1e6 logged
     * rows must not parse 3e7 numbers from text.
     * Labels live in their own table keyed by request id, so a label that
     * arrives before its prediction is written (or for an id never seen)
     * is kept, not lost, and joins once the prediction is there; the old
     * predictions.label column is copied over and no longer written.
     * A model version's reference profile is an artifact written at
     * registration by the monitor backend's `profile`.
     * A monitor window is one `orrery monitor run`: its figures in
     * monitor_values, the current-window histograms the report draws in
     * monitor_histograms (JSON, same bins as the profile's).
     * Alerts gain a dedup key (an open alert with the same key is not
     * raised again), the window that raised them, and delivery state for
     * the notifying backends (retried until delivered). */
    "ALTER TABLE predictions ADD COLUMN input_cols  INTEGER;"
    "ALTER TABLE predictions ADD COLUMN output_cols INTEGER;"

    "CREATE TABLE labels ("
    "  request_id  TEXT NOT NULL,"
    "  model       TEXT NOT NULL DEFAULT '',"
    "  label       TEXT NOT NULL CHECK (json_valid(label)),"
    "  ts_ms       INTEGER NOT NULL,"
    "  PRIMARY KEY (request_id, model)) WITHOUT ROWID;"
    "INSERT OR REPLACE INTO labels (request_id, model, label, ts_ms)"
    "  SELECT request_id, model, label, coalesce(label_ts_ms, ts_ms)"
    "  FROM predictions WHERE label IS NOT NULL AND json_valid(label);"

    "ALTER TABLE model_versions ADD COLUMN profile_artifact_id INTEGER"
    "  REFERENCES artifacts (id);"

    "CREATE TABLE monitor_windows ("
    "  id          INTEGER PRIMARY KEY,"
    "  model       TEXT NOT NULL,"
    "  version     TEXT NOT NULL,"
    "  monitor     TEXT NOT NULL,"
    "  start_ms    INTEGER NOT NULL,"
    "  end_ms      INTEGER NOT NULL,"
    "  n_rows      INTEGER NOT NULL,"
    "  n_labelled  INTEGER NOT NULL DEFAULT 0,"
    "  status      TEXT NOT NULL CHECK (status IN"
    "                ('ok','drift','no_data','error')),"
    "  message     TEXT,"
    "  created_ms  INTEGER NOT NULL);"
    "CREATE INDEX monitor_windows_model"
    "  ON monitor_windows (model, created_ms);"
    "CREATE TABLE monitor_values ("
    "  window_id   INTEGER NOT NULL"
    "                REFERENCES monitor_windows (id) ON DELETE CASCADE,"
    "  feature     TEXT,"
    "  metric      TEXT NOT NULL,"
    "  method      TEXT,"
    "  value       REAL,"
    "  threshold   REAL,"
    "  alert       INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX monitor_values_window ON monitor_values (window_id);"
    "CREATE TABLE monitor_histograms ("
    "  window_id   INTEGER NOT NULL"
    "                REFERENCES monitor_windows (id) ON DELETE CASCADE,"
    "  feature     TEXT NOT NULL,"
    "  reference   TEXT NOT NULL CHECK (json_valid(reference)),"
    "  current     TEXT NOT NULL CHECK (json_valid(current)),"
    "  PRIMARY KEY (window_id, feature)) WITHOUT ROWID;"

    "ALTER TABLE alerts ADD COLUMN dedup_key TEXT;"
    "ALTER TABLE alerts ADD COLUMN window_id INTEGER"
    "  REFERENCES monitor_windows (id) ON DELETE SET NULL;"
    "ALTER TABLE alerts ADD COLUMN delivered_ms INTEGER;"
    "ALTER TABLE alerts ADD COLUMN delivery_attempts INTEGER NOT NULL"
    "  DEFAULT 0;"
    "ALTER TABLE alerts ADD COLUMN delivery_error TEXT;"
    "CREATE INDEX alerts_dedup ON alerts (dedup_key)"
    "  WHERE acknowledged_ms IS NULL;"
    "CREATE INDEX alerts_undelivered ON alerts (created_ms)"
    "  WHERE delivered_ms IS NULL;"

    /* Feedback-loop triggers declared by workflows (orrery.on_drift,
     * on_schedule, on_new_data) and evaluated by `orrery scheduler`;
     * state is the trigger's own JSON memory (last dataset version seen,
     * last window acted on) so a restart neither misses nor repeats. */
    "CREATE TABLE triggers ("
    "  id          INTEGER PRIMARY KEY,"
    "  name        TEXT NOT NULL UNIQUE,"
    "  kind        TEXT NOT NULL CHECK (kind IN"
    "                ('drift','schedule','new_data')),"
    "  target      TEXT NOT NULL,"
    "  workflow    TEXT NOT NULL,"
    "  options     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(options)),"
    "  state       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(state)),"
    "  created_ms  INTEGER NOT NULL,"
    "  last_fire_ms INTEGER,"
    "  last_run    TEXT);",

    /* 7: the prediction log in chunks.  One row per batch of up to 1024
     * predictions of one model/version/column count, as the log writer
     * (core/serve/plog.c) commits them: a row per prediction with two
     * indexes cost a loaded server a quarter of its throughput (2.8 us
     * CPU per prediction, mostly B-tree inserts), a chunk costs its
     * bytes (about 1 us).  Columns, n predictions each, little-endian: request_ids
     * (NUL-terminated strings, in order), ts_ms and latency_us (int64),
     * rows (int64 input rows of each prediction), inputs / outputs
     * (doubles, row-major, input_cols / output_cols wide; outputs NULL
     * when none were logged).  ts_min/ts_max bound the chunk for windows
     * by time; windows by count read the newest chunks.  `predictions`
     * keeps the rows logged before (and those a chunk cannot hold) and
     * is still read; its request index answers for them, chunks have
     * none: their id columns are scanned (meta/predictions.c), and the
     * server remembers the ids it logged (serve/plog.c). */
    "CREATE TABLE prediction_chunks ("
    "  id          INTEGER PRIMARY KEY,"
    "  model       TEXT NOT NULL,"
    "  version     TEXT NOT NULL,"
    "  n           INTEGER NOT NULL CHECK (n > 0),"
    "  ts_min      INTEGER NOT NULL,"
    "  ts_max      INTEGER NOT NULL,"
    "  input_cols  INTEGER NOT NULL,"
    "  output_cols INTEGER NOT NULL,"
    "  request_ids BLOB NOT NULL,"
    "  ts_ms       BLOB NOT NULL,"
    "  latency_us  BLOB NOT NULL,"
    "  rows        BLOB NOT NULL,"
    "  inputs      BLOB NOT NULL,"
    "  outputs     BLOB);"
    "CREATE INDEX prediction_chunks_time"
    "  ON prediction_chunks (model, ts_max);",

    /* 8: chunk payloads in segment files (meta/psegment.h).  SQLite
     * writes a chunk's bytes twice (WAL, then checkpoint) and cost the
     * log writer ~1.5 us of CPU per KiB: a third of a server's
     * throughput at 64-row requests; appended to a plain file they cost
     * ~0.25 us per KiB.  `segment` (a plain file name in the directory
     * `predictions/` beside the database; NULL: payload inline as in
     * migration 7) holds the chunk's inputs then outputs bytes at
     * `seg_offset`, `seg_bytes` long, with `seg_check` the 64-bit
     * checksum of those bytes (as int64); `inputs` is then X'' and
     * `outputs` NULL.  The small columns (ids, times, latencies, rows)
     * stay inline: matching labels reads no file. */
    "ALTER TABLE prediction_chunks ADD COLUMN segment TEXT;"
    "ALTER TABLE prediction_chunks ADD COLUMN seg_offset INTEGER;"
    "ALTER TABLE prediction_chunks ADD COLUMN seg_bytes INTEGER;"
    "ALTER TABLE prediction_chunks ADD COLUMN seg_check INTEGER;",

    /* 9: the order of a segment chunk's payload.  Layout 0 (NULL, every
     * chunk before): the inputs of all its predictions, then their
     * outputs, `seg_check` the checksum of those bytes.  Layout 1:
     * prediction by prediction, each its inputs then its outputs, as a
     * serving thread appends them to its lane's ring (serve/plog.c); the
     * writer thread mirrors the ring into the file with O_DIRECT, no
     * copy, no hashing, so `seg_check` is the fold of the per-record
     * checksums the serving threads took while copying
     * (orri_pseg_record_check, orri_pseg_fold): regrouping the bytes into layout 0, or hashing
     * them in the writer, cost the log writer as much as the write. */
    "ALTER TABLE prediction_chunks ADD COLUMN seg_layout INTEGER;",

    /* 10: compact small columns (meta/pcols.h).  `cols_layout` NULL:
     * plain, as every chunk before; 1: ids front-coded against the id
     * before, times as varint deltas, latencies and row counts as
     * varints: about 8 bytes a prediction instead of 48, which SQLite
     * writes twice; at 100,000 1-row predictions a second the plain
     * columns were most of the log writer's CPU. */
    "ALTER TABLE prediction_chunks ADD COLUMN cols_layout INTEGER;",
};

#define N_MIGRATIONS ((int)(sizeof migrations / sizeof *migrations))

int orri_meta_test_schema_limit;

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
    int target = N_MIGRATIONS;
    if (orri_meta_test_schema_limit > 0 &&
        orri_meta_test_schema_limit < N_MIGRATIONS)
        target = orri_meta_test_schema_limit;
    int rc = check_identity(m, &version, e);
    if (rc || version >= target)
        return rc;
    rc = orri_meta_begin(m, e);
    if (rc)
        return rc;
    /* Another process may have migrated while we waited for the lock. */
    rc = check_identity(m, &version, e);
    for (int v = (int)version; !rc && v < target; v++) {
        int src = sqlite3_exec(m->db, migrations[v], NULL, NULL, NULL);
        if (src != SQLITE_OK) {
            char what[64];
            snprintf(what, sizeof what, "schema migration %d", v + 1);
            rc = orri_meta_sqlfail(m, src, e, what);
        }
    }
    if (!rc && version < target) {
        /* PRAGMA takes no bound parameters; both values are integers. */
        char sql[96];
        snprintf(sql, sizeof sql,
                 "PRAGMA user_version = %d; PRAGMA application_id = %d",
                 target, ORRI_APPLICATION_ID);
        int src = sqlite3_exec(m->db, sql, NULL, NULL, NULL);
        if (src != SQLITE_OK)
            rc = orri_meta_sqlfail(m, src, e, "recording the schema version");
    }
    if (!rc)
        return orri_meta_commit(m, e);
    orri_meta_rollback(m);
    return rc;
}
