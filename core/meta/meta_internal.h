/*
 * meta/meta_internal.h - what the files of core/meta/ share: the layout of
 * struct orr_meta, the prepared-statement cache, the metric buffer and
 * helpers for SQLite errors and write transactions.
 *
 * Not part of any API: only the files of core/meta/ include it.
 *
 * Locking: every public orr_meta_* function takes m->lock for its whole
 * duration and calls the orri_meta_* helpers below, which expect it held.
 */
#ifndef ORRI_META_META_INTERNAL_H
#define ORRI_META_META_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "meta/meta.h"
#include "util/clock.h"

/* Statements prepared once at open.  Order matches orri_meta_sql[]. */
enum orri_stmt {
    ORRI_ST_BEGIN,
    ORRI_ST_COMMIT,
    ORRI_ST_ROLLBACK,
    ORRI_ST_RUN_INSERT,
    ORRI_ST_RUN_END,
    ORRI_ST_RUN_ROWID,
    ORRI_ST_STEP_INSERT,
    ORRI_ST_STEP_END,
    ORRI_ST_PARAM_UPSERT,
    ORRI_ST_TAG_UPSERT,
    ORRI_ST_ARTIFACT_INSERT,
    ORRI_ST_ARTIFACT_GET,
    ORRI_ST_EVENT_INSERT,
    ORRI_ST_KEY_INSERT,
    ORRI_ST_KEY_GET,
    ORRI_ST_CHUNK_INSERT,
    ORRI_ST_SERIES_UPSERT,
    ORRI_ST_CHUNK_READ,
    ORRI_ST_SUM_RUN,
    ORRI_ST_SUM_STEPS,
    ORRI_ST_SUM_PARAMS,
    ORRI_ST_SUM_POINTS,
    ORRI_ST_SUM_ARTIFACTS,
    ORRI_ST_COUNT
};

/* Metric points per chunk row, and the buffer limits (meta.h promises a
 * commit at least every ORRI_FLUSH_MS while logging). */
#define ORRI_CHUNK_POINTS   1024
#ifndef ORRI_FLUSH_POINTS
#define ORRI_FLUSH_POINTS   10000
#endif
#define ORRI_FLUSH_MS       100
/* Points kept while commits keep failing before log_metric refuses more. */
#define ORRI_BUFFER_HARD_MAX 1000000
/* Bytes per point in a codec-1 chunk: step, time, value bits (LE). */
#define ORRI_POINT_BYTES    24
#define ORRI_CODEC_RAW24LE  1
/* Longest metric, param and tag key in bytes. */
#define ORRI_KEY_MAX        250

struct orri_point {
    int64_t step;
    int64_t time_ms;
    double  value;
};

/* A metric key interned for this connection.  db_id is its row in
 * metric_keys once known (0 before); gen tells which flush transaction
 * resolved it, so a rollback can forget ids it never committed. */
struct orri_key {
    char    *name;
    size_t   len;
    uint64_t hash;
    int64_t  db_id;
    uint64_t gen;
};

/* Points buffered for one (run, key) series. */
struct orri_series {
    int64_t            run;     /* runs.id                                */
    uint32_t           key;     /* index into m->keys                     */
    struct orri_point *pts;
    size_t             n, cap;
};

/* A recently used run: its public id and its runs.id row. */
struct orri_run_cache {
    char    uuid[ORR_RUN_ID_SIZE];
    int64_t rowid;
};
/* Slots of the run cache (a power of 2), probed linearly this far. */
#define ORRI_RUN_CACHE 1024
#define ORRI_RUN_PROBE 4

struct orr_meta {
    pthread_mutex_t       lock;
    sqlite3              *db;
    char                 *path;
    sqlite3_stmt         *st[ORRI_ST_COUNT];

    /* Run ids are random, so their first hex digits are a fine hash. */
    struct orri_run_cache runs[ORRI_RUN_CACHE];

    /* Interned metric keys, and an open-addressing index over them whose
     * slots hold key index + 1 (0 = empty); capacities are powers of 2. */
    struct orri_key      *keys;
    size_t                n_keys, cap_keys;
    uint32_t             *key_slots;
    size_t                n_key_slots;

    /* Buffered series, indexed the same way by (run, key). */
    struct orri_series   *series;
    size_t                n_series, cap_series;
    uint32_t             *series_slots;
    size_t                n_series_slots;

    size_t                pending;      /* buffered points                */
    int64_t               last_commit_ms;
    uint64_t              gen;          /* flush transactions started     */
    unsigned char        *chunk;        /* ORRI_CHUNK_POINTS * 24 bytes   */
    /* flusher.c: this store's entry in the process's flusher (timed
     * commits, signals) and the runs/steps it has open. */
    struct orri_flusher  *flusher;
};

/* Fill `e` for the SQLite result `rc` as "<what>: <sqlite message>" with
 * the matching status (ECORRUPT, EBUSY, EPERM, ...); returns the status. */
int orri_meta_sqlfail(struct orr_meta *m, int rc, struct orr_error *e,
                      const char *what);

/* Step a statement that returns no row (or whose rows are ignored),
 * retrying on SQLITE_BUSY; always resets it.  ORR_OK or the status. */
int orri_meta_exec(struct orr_meta *m, enum orri_stmt id,
                   struct orr_error *e, const char *what);

/* BEGIN IMMEDIATE with retries beyond the busy timeout; COMMIT; ROLLBACK
 * (never fails: errors leave nothing to undo). */
int  orri_meta_begin(struct orr_meta *m, struct orr_error *e);
int  orri_meta_commit(struct orr_meta *m, struct orr_error *e);
void orri_meta_rollback(struct orr_meta *m);

/* runs.id of the run `uuid` (32 hex digits): ORR_EINVAL if malformed,
 * ORR_ENOTFOUND if absent.  Cached. */
int orri_meta_run_rowid(struct orr_meta *m, const char *uuid,
                        int64_t *rowid, struct orr_error *e);
void orri_meta_run_cache_put(struct orr_meta *m, const char *uuid,
                             int64_t rowid);

/* ORR_OK if `key` is a valid key ("<what> key"); else ORR_EINVAL. */
int orri_meta_check_key(const char *key, size_t len, const char *what,
                        struct orr_error *e);

/* metrics.c: commit the buffer now (m->lock held). */
int  orri_meta_flush_locked(struct orr_meta *m, struct orr_error *e);
/* metrics.c: free the buffer (points not flushed are dropped). */
void orri_meta_metrics_free(struct orr_meta *m);

/* schema.c: read-only check run before anything is written: refuse a
 * foreign database or one newer than this binary. */
int orri_meta_check_schema(struct orr_meta *m, struct orr_error *e);
/* schema.c: bring the database to the current schema, or refuse it. */
int orri_meta_migrate(struct orr_meta *m, struct orr_error *e);
/* schema.c: the schema version this binary writes. */
int orri_meta_schema_version(void);
/* schema.c, for tests only: when > 0, orr_meta_open migrates no further
 * than this version (to build an old database the next open upgrades). */
extern int orri_meta_test_schema_limit;

#endif
