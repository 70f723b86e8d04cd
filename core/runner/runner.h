/*
 * runner/runner.h - running a Lua workflow: the DAG of its steps,
 * executed through an orchestrator instance, recorded in the metadata
 * store.
 *
 * The runner decides what runs and in which order; the orchestrator (the
 * site's choice, "local" by default) decides where and how.  Each ready
 * step becomes an orr_job_spec whose `invoke` runs the step's Lua function
 * in this process (and whose argv, `orrery step RUN STEP`, is there for
 * backends that run steps elsewhere).  Values a step returns are stored as
 * JSON blobs and handed, decoded, to the steps that take it as input.
 *
 * Steps never run in the runner's process: the orchestrator's workers do
 * (see docs/orchestration.md for the execution model, the step cache,
 * retries, resume and cancel).
 */
#ifndef ORRI_RUNNER_RUNNER_H
#define ORRI_RUNNER_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include <orrery/status.h>
#include <orrery/storage.h>

#include "api.h"
#include "meta/meta.h"

struct orr_core;

/* --- the DAG checks (dag.c), independent of Lua ------------------------ */

/* An input index that names no step of the workflow. */
#define ORRI_DAG_BAD_INPUT ((size_t)-1)

struct orri_dag_node {
    const char   *name;
    const size_t *inputs;       /* indices into the node array             */
    size_t        n_inputs;
};

/* Check a workflow's steps before anything runs and write a topological
 * order (declaration order among ready steps) into `order` (n entries).
 * Errors (ORR_EINVAL, naming the workflow and the step): no steps,
 * an empty or duplicate step name, an input that is not a step of this
 * workflow, a step that depends on itself, a cycle. */
int orri_dag_order(const char *workflow, const struct orri_dag_node *nodes,
                   size_t n, size_t *order, struct orr_error *e);

/* --- running ------------------------------------------------------------ */

struct orr_run_report;

/* What a progress callback is told about. */
enum orr_run_event {
    ORR_EV_STARTED = 0,         /* the run has an id; steps not yet run    */
    ORR_EV_STEP_RUNNING,        /* a step (attempt) was handed to a worker */
    ORR_EV_STEP_RETRY,          /* an attempt failed; another is scheduled */
    ORR_EV_STEP_DONE,           /* final state reached (cache hits too)    */
    ORR_EV_FINISHED
};

struct orr_run_options {
    const char        *script_path;  /* the workflow file (NULL: resume)   */
    const char *const *params;       /* "key=value" overrides, or NULL      */
    size_t             n_params;
    int                print_stderr; /* 1: Lua print() goes to stderr       */
    /* Orchestration (all optional, 0 = default). */
    unsigned           jobs;         /* steps at once; 0: backend capacity  */
    int                no_cache;     /* 1: run every step                   */
    const char        *resume;       /* run id to continue, or NULL         */
    /* Set (from a signal handler) to cancel the run: running steps are
     * killed, the run ends "cancelled".  Checked between events. */
    volatile int      *cancel;
    /* Called in the runner's process (never concurrently).  `step` is an
     * index into report->steps or (size_t)-1; `log_path` is the step's
     * captured output on ORR_EV_STEP_DONE / _RETRY (may be NULL). */
    void             (*progress)(void *ud, enum orr_run_event ev,
                                 const struct orr_run_report *report,
                                 size_t step, const char *log_path);
    void              *progress_ud;
    /* Run id to reproduce, or NULL: a new run of that run's recorded
     * script and params, every step executed (no cache); each step's
     * report gets the original output in `original` (tag
     * orrery.reproduces on the new run). */
    const char        *reproduce;
};

enum orr_step_status {
    ORR_STEP_PENDING = 0,       /* never started (the run stopped early)   */
    ORR_STEP_SUCCEEDED,
    ORR_STEP_FAILED,
    ORR_STEP_SKIPPED,           /* an input's step failed                  */
    ORR_STEP_RUNNING,           /* while the run goes on                   */
    ORR_STEP_CANCELLED          /* stopped by a cancel                     */
};

/* "pending", "succeeded", "failed", "skipped", "running", "cancelled". */
ORR_API const char *orr_step_status_name(enum orr_step_status s);

struct orr_step_artifact {
    char     digest[ORR_DIGEST_HEX_LEN + 1];
    char    *name;
    char    *kind;
    uint64_t size;
};

struct orr_step_report {
    char                    *name;
    enum orr_step_status     status;
    double                   duration_ms;
    char                    *error;     /* "pipeline.lua:23: ...", or NULL */
    char                    *skipped_because; /* failed input, or NULL      */
    char                     output[ORR_DIGEST_HEX_LEN + 1]; /* value blob */
    uint64_t                 output_size;
    struct orr_step_artifact *artifacts;    /* stored with ctx:store       */
    size_t                   n_artifacts;
    int                      cached;    /* outputs reused from an earlier
                                           execution (or resumed)          */
    int                      attempts;  /* executions (retries + 1)        */
    char                     log[ORR_DIGEST_HEX_LEN + 1]; /* or ""         */
    /* With opt.reproduce: the output the original run recorded for this
     * step ("" if it has none: the step did not succeed there). */
    char                     original[ORR_DIGEST_HEX_LEN + 1];
};

struct orr_run_report {
    char                    run_id[ORR_RUN_ID_SIZE];
    char                    *workflow;
    char                    *script;        /* absolute path                */
    char                     script_digest[ORR_DIGEST_HEX_LEN + 1];
    char                    *orchestrator;  /* backend name                 */
    enum orr_run_status      status;
    double                   duration_ms;
    struct orr_step_report  *steps;         /* declaration order            */
    size_t                   n_steps;
};

/* Load and run the workflow file.  Returns ORR_OK if every step succeeded.
 * Errors before the run starts (missing file, syntax error "file:line:",
 * a script that raises or returns no workflow, DAG errors, unknown
 * backends, bad --param) return their status with *out == NULL.  Once
 * the run has started *out is set even when a step fails; the return is
 * then ORR_ESCRIPT (or the failing step's status) with "step 'x' failed:
 * file:line: message" in `e`.  Free *out with orr_run_report_free. */
ORR_API int orr_workflow_run(struct orr_core *core,
                             const struct orr_run_options *opt,
                             struct orr_run_report **out,
                             struct orr_error *e);
ORR_API void orr_run_report_free(struct orr_run_report *r);   /* NULL ok */

/* Execute one step of a recorded run in this process, as remote backends
 * do (`orrery step RUN STEP`): the workflow script is read back from
 * storage, params from the run, inputs from the outputs its input steps
 * recorded; the output, log and lineage are recorded as for a pool
 * worker.  *output receives the value's digest. */
struct orr_step_options {
    const char *run_id;
    const char *step;
    /* The `steps` row the submitting runner began for this execution, or
     * 0: a new execution (and row) of its own.  With a row, the step
     * checks the row is a running execution of STEP in RUN and records
     * into it, so one execution is one row whichever process runs it. */
    int64_t     step_id;
    /* 1: look the step up in the step cache first (a job submitted before
     * its inputs ended, whose key the runner could not compute). */
    int         cache;
    int         print_stderr;
};
ORR_API int orr_step_run(struct orr_core *core,
                         const struct orr_step_options *opt,
                         char output[ORR_DIGEST_HEX_LEN + 1],
                         struct orr_error *e);

/* Parse a --param value as the workflow sees it: "true"/"false" become
 * booleans, numbers (Lua syntax) numbers, anything else stays a string.
 * Exposed for tests. */
enum orri_param_type { ORRI_PARAM_STRING, ORRI_PARAM_INTEGER,
                       ORRI_PARAM_NUMBER, ORRI_PARAM_BOOLEAN };
enum orri_param_type orri_param_classify(const char *text);

#endif
