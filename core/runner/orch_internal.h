/*
 * runner/orch_internal.h - what the files of core/runner/ share: SHA-256
 * for cache keys, the orchestration store (the runner's own SQLite
 * connection: step records, cache entries, the run's recipe for
 * `orrery step` and --resume) and step execution shared by the pool
 * workers and `orrery step`.
 *
 * Not an API: only core/runner/ and core/cli/cmd_{step,logs}.c use it.
 */
#ifndef ORRI_RUNNER_ORCH_INTERNAL_H
#define ORRI_RUNNER_ORCH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <orrery/status.h>
#include <orrery/storage.h>

#include "meta/meta.h"

/* --- SHA-256 (sha256.c) ------------------------------------------------ */

struct orri_sha256 {
    uint32_t      h[8];
    uint64_t      len;
    unsigned char buf[64];
    size_t        n;
};
void orri_sha256_init(struct orri_sha256 *c);
void orri_sha256_update(struct orri_sha256 *c, const void *data, size_t len);
/* Hash a length-prefixed field (unambiguous concatenation). */
void orri_sha256_field(struct orri_sha256 *c, const void *data, size_t len);
/* Finish and write 64 lower-case hex digits and a NUL. */
void orri_sha256_hex(struct orri_sha256 *c, char out[65]);

/* --- the orchestration store (store.c) ----------------------------------
 *
 * Tables of schema migration 3 (core/meta/schema.c; opening the store
 * migrates an older database first):
 *   orch_runs  (run_uuid PK, workflow, script_digest, script_path,
 *               params_json, updated_ms)
 *   orch_steps (run_uuid, name PK; step_id, status, cached, attempts,
 *               cache_key, output, output_size, log, error, duration_ms)
 *   orch_cache (cache_key PK; output, output_size, plugins, run_uuid,
 *               step_id, created_ms)
 * Step rows, their lineage events and cache entries are written through
 * this connection in batched transactions (one per scheduling round). */
struct orri_ostore;

int  orri_ostore_open(struct orri_ostore **out, const char *db_path,
                      struct orr_error *e);
void orri_ostore_close(struct orri_ostore *s);               /* NULL ok */
/* Group the writes that follow into one transaction (nesting counted). */
int  orri_ostore_begin(struct orri_ostore *s, struct orr_error *e);
int  orri_ostore_commit(struct orri_ostore *s, struct orr_error *e);
void orri_ostore_rollback(struct orri_ostore *s);

struct orri_orun {
    char  workflow[256];
    char  script_digest[ORR_DIGEST_HEX_LEN + 1];
    char  script_path[4096];
    char  status[16];           /* runs.status                             */
    char *params_json;          /* malloc'ed                               */
};
int orri_ostore_run_put(struct orri_ostore *s, const char *run,
                        const char *workflow, const char *script_digest,
                        const char *script_path, const char *params_json,
                        struct orr_error *e);
/* ORR_ENOTFOUND "no run RUN" when the run is unknown or was not started
 * by the runner. */
int orri_ostore_run_get(struct orri_ostore *s, const char *run,
                        struct orri_orun *out, struct orr_error *e);
/* runs.status back to running for --resume. */
int orri_ostore_run_reopen(struct orri_ostore *s, const char *run,
                           struct orr_error *e);

/* Insert a steps row (status running) for the run; its id in *step_id. */
int orri_ostore_step_begin(struct orri_ostore *s, const char *run,
                           const char *name, int64_t *step_id,
                           struct orr_error *e);
/* steps row end + the orch_steps record of this execution. */
struct orri_ostep {
    const char *name;
    int64_t     step_id;
    const char *status;         /* succeeded, failed, cancelled, skipped   */
    int         cached;
    int         attempts;
    const char *cache_key;      /* or NULL                                 */
    const char *output;         /* value digest or NULL                    */
    uint64_t    output_size;
    const char *log;            /* log digest or NULL                      */
    const char *error;          /* or NULL                                 */
    double      duration_ms;
};
int orri_ostore_step_end(struct orri_ostore *s, const char *run,
                         const struct orri_ostep *st, struct orr_error *e);
/* ORR_OK if step_id is a running `steps` row of step `name` in `run` (the
 * row a runner began for a job that `orrery step` executes); ORR_EINVAL
 * or ORR_ENOTFOUND saying what it is instead. */
int orri_ostore_step_check(struct orri_ostore *s, const char *run,
                           const char *name, int64_t step_id,
                           struct orr_error *e);
/* Mark a step running in orch_steps (so `orrery logs` can follow it). */
int orri_ostore_step_running(struct orri_ostore *s, const char *run,
                             const char *name, int64_t step_id,
                             int attempts, struct orr_error *e);
/* An artifact (once per digest) and its event on step_id. */
int orri_ostore_event(struct orri_ostore *s, int64_t step_id, int output,
                      const char *digest, uint64_t size, const char *kind,
                      const char *name, struct orr_error *e);
/* Copy the output events of step `from` to step `to` (a cache hit). */
int orri_ostore_copy_outputs(struct orri_ostore *s, int64_t from, int64_t to,
                             struct orr_error *e);

/* The orch_steps record of (run, name); ORR_ENOTFOUND if none.  Strings
 * are copied into the fixed buffers. */
struct orri_ostep_rec {
    int64_t  step_id;
    char     status[16];
    int      cached;
    int      attempts;
    char     output[ORR_DIGEST_HEX_LEN + 1];
    uint64_t output_size;
    char     log[ORR_DIGEST_HEX_LEN + 1];
    char     error[512];
    double   duration_ms;
};
int orri_ostore_step_get(struct orri_ostore *s, const char *run,
                         const char *name, struct orri_ostep_rec *out,
                         struct orr_error *e);
/* Names of the run's steps with a record, in start order; fn's non-zero
 * return stops the walk. */
int orri_ostore_step_names(struct orri_ostore *s, const char *run,
                           int (*fn)(void *ud, const char *name), void *ud,
                           struct orr_error *e);

/* Cache: ORR_ENOTFOUND on a miss. */
struct orri_cache_hit {
    char     output[ORR_DIGEST_HEX_LEN + 1];
    uint64_t output_size;
    char     plugins[512];
    int64_t  step_id;
    char     run[ORR_RUN_ID_SIZE];  /* the run that executed it          */
};
int orri_ostore_cache_get(struct orri_ostore *s, const char *key,
                          struct orri_cache_hit *out, struct orr_error *e);
int orri_ostore_cache_put(struct orri_ostore *s, const char *key,
                          const char *output, uint64_t output_size,
                          const char *plugins, const char *run,
                          int64_t step_id, struct orr_error *e);

/* What a run logged so far: {"m": {metric: points}, "p": {param: value}}
 * (a worker compares it before and after its step: see runner.c). */
int orri_ostore_logged(struct orri_ostore *s, const char *run, json_t **out,
                       struct orr_error *e);
/* The digest of the "metrics" artifact step_id output (what the step
 * logged, for cache hits); ORR_ENOTFOUND if it has none. */
int orri_ostore_metrics_of(struct orri_ostore *s, int64_t step_id,
                           char digest[ORR_DIGEST_HEX_LEN + 1],
                           struct orr_error *e);

/* The folder of per-step log files for a run, under the site's metadata
 * folder: DIR/logs/RUN.  Writes into out. */
int orri_log_dir(char *out, size_t cap, const char *db_path, const char *run,
                 struct orr_error *e);

#endif
