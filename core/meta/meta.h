/*
 * meta/meta.h - the metadata store (SQLite): runs, steps, params, tags,
 * metrics and artifacts with their lineage events.
 *
 * One database per site, WAL mode, a busy timeout so several processes can
 * write, foreign keys on, a schema version with forward migrations (a
 * database newer than the binary is refused with a clear message).  All
 * SQL is prepared with bound parameters.
 *
 * Metric points are buffered in memory and committed in batched
 * transactions (at least every 100 ms while logging, and on flush, step
 * end and close), so logging never waits on a disk sync.
 */
#ifndef ORRI_META_META_H
#define ORRI_META_META_H

#include <stddef.h>
#include <stdint.h>

#include <orrery/status.h>
#include <orrery/storage.h>

#include "api.h"

struct orr_meta;

/* Run ids are 32 lower-case hex digits (random); NUL included. */
#define ORR_RUN_ID_SIZE 33

enum orr_run_status {
    ORR_RUN_RUNNING = 0,
    ORR_RUN_SUCCEEDED,
    ORR_RUN_FAILED,
    ORR_RUN_CANCELLED
};

struct orr_run_spec {
    const char *workflow;       /* workflow name                            */
    const char *script_path;    /* absolute path of the workflow file       */
    const char *script_hash;    /* hex SHA-256 of its text, or NULL         */
    const char *user;           /* or NULL: taken from the environment      */
    const char *host;           /* or NULL: gethostname()                   */
    const char *git_commit;     /* HEAD of the workflow's repository, or
                                   NULL outside a repository               */
    int         git_dirty;      /* with git_commit: 1 if tracked files had
                                   uncommitted changes                      */
};

/* Open or create the database (and its directory), apply migrations.
 * Refuses, without writing to it, a file that is not an Orrery database
 * or whose schema is newer than this binary.  One orr_meta may be used
 * from several threads (calls are serialised); use one per process after
 * fork(). */
ORR_API int orr_meta_open(struct orr_meta **out, const char *db_path,
                          struct orr_error *e);
/* Flushes buffered points, then closes.  NULL ok. */
ORR_API void orr_meta_close(struct orr_meta *m);
ORR_API int orr_meta_flush(struct orr_meta *m, struct orr_error *e);

ORR_API int orr_meta_run_begin(struct orr_meta *m,
                               const struct orr_run_spec *spec,
                               char run_id[ORR_RUN_ID_SIZE],
                               struct orr_error *e);
ORR_API int orr_meta_run_end(struct orr_meta *m, const char *run_id,
                             enum orr_run_status status, struct orr_error *e);

ORR_API int orr_meta_step_begin(struct orr_meta *m, const char *run_id,
                                const char *step, int64_t *step_id,
                                struct orr_error *e);
ORR_API int orr_meta_step_end(struct orr_meta *m, int64_t step_id,
                              enum orr_run_status status,
                              struct orr_error *e);

ORR_API int orr_meta_log_param(struct orr_meta *m, const char *run_id,
                               const char *key, const char *value,
                               struct orr_error *e);
ORR_API int orr_meta_set_tag(struct orr_meta *m, const char *run_id,
                             const char *key, const char *value,
                             struct orr_error *e);
/* Buffered; NaN and +-Inf are stored faithfully.  Keys are 1 to 250
 * bytes (ORR_EINVAL otherwise).  The buffer is committed when it holds
 * 10,000 points or when 100 ms passed since the last commit (checked on
 * each call, and by a flusher thread for a process that stopped logging:
 * see meta/query.h), and on flush, step end, run end,
 * summary, series read and close.  If that commit fails the error is
 * returned, the point stays buffered and the next commit retries it. */
ORR_API int orr_meta_log_metric(struct orr_meta *m, const char *run_id,
                                const char *key, double value, int64_t step,
                                struct orr_error *e);

enum orr_event_dir { ORR_EVENT_INPUT = 0, ORR_EVENT_OUTPUT };

/* Record an artifact (once per digest) and, when step_id > 0, the event
 * linking it to that step as input or output. */
ORR_API int orr_meta_artifact(struct orr_meta *m, int64_t step_id,
                              enum orr_event_dir dir, const char *digest,
                              uint64_t size, const char *kind,
                              const char *name, struct orr_error *e);

/* One metric point as read back. */
struct orr_metric_point {
    int64_t step;
    int64_t time_ms;        /* Unix ms when it was logged                   */
    double  value;          /* bit-exact, NaN and +-Inf included            */
};

/* Call fn for every point of the series (run_id, key) in step order (equal
 * steps from one process in the order they were logged), after flushing
 * this connection's buffer.  fn returning non-zero stops
 * the walk and that value is returned.  ORR_ENOTFOUND when the run or the
 * series does not exist.  fn may call into `m`. */
ORR_API int orr_meta_metric_series(struct orr_meta *m, const char *run_id,
                                   const char *key,
                                   int (*fn)(void *ctx,
                                             const struct orr_metric_point *p),
                                   void *ctx, struct orr_error *e);

/* Counts for summaries and tests. */
struct orr_run_summary {
    char     status[16];
    size_t   n_steps;
    size_t   n_params;
    size_t   n_metrics;     /* points                                        */
    size_t   n_artifacts;   /* distinct artifacts in events                 */
};
ORR_API int orr_meta_run_summary(struct orr_meta *m, const char *run_id,
                                 struct orr_run_summary *out,
                                 struct orr_error *e);

#endif
