/*
 * orrery/orchestrator.h - the orchestrator backend interface.
 *
 * The core's DAG runner decides *what* runs and in which order; an
 * orchestrator decides *where and how*: a process pool on this machine, an
 * `sbatch` job on a Slurm cluster, a pod...  The runner submits one job per
 * step once the step's inputs exist, then polls (or waits) for completion.
 *
 * A job can be executed two ways, and the backend picks the one it can do:
 *   - `argv`: a command line (`orrery step RUN STEP ...`) that runs the step
 *     anywhere the site's storage and metadata are reachable.  Remote
 *     backends (Slurm, Kubernetes) use this.
 *   - `invoke`: a host callback that runs the step in the calling process
 *     (or in a child forked from it, which inherits the loaded workflow).
 *     Local backends use this to avoid a fork+exec and a re-parse per step.
 * Both produce the same outputs: the step reads its inputs from storage and
 * writes its outputs back, so a job is isolated from the runner.
 *
 * Compatibility: `version` first, members appended only; struct
 * orr_job_spec and struct orr_job_status carry `size` for the same reason.
 */
#ifndef ORRERY_ORCHESTRATOR_H
#define ORRERY_ORCHESTRATOR_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct orr_cfg;

#define ORR_ORCHESTRATOR_OPS_V1 1u
#define ORR_ORCHESTRATOR_OPS_VERSION ORR_ORCHESTRATOR_OPS_V1

/* Backend job identifiers ("12345", "12345_7", "local-3"), NUL included. */
#define ORR_JOB_ID_SIZE 64

/* Runs one step in the calling process; returns ORR_OK or a status with `e`
 * filled.  Provided by the host in orr_job_spec. */
typedef int (*orr_invoke_fn)(void *invoke_ctx, struct orr_error *e);

/* What to run and with which resources.  All members are borrowed for the
 * duration of submit; a backend that needs them later copies them. */
struct orr_job_spec {
    size_t             size;        /* sizeof(struct orr_job_spec)          */
    const char        *run_id;      /* metadata run id                       */
    const char        *step;        /* step name, unique within the run      */
    const char *const *argv;        /* NULL-terminated command line          */
    const char *const *envp;        /* NULL-terminated "K=V" to add, or NULL */
    const char        *workdir;     /* directory to run in, or NULL          */
    const char        *log_path;    /* file for stdout+stderr, or NULL       */
    orr_invoke_fn      invoke;      /* in-process execution, or NULL         */
    void              *invoke_ctx;
    /* Resources, 0 = unspecified.  The backend maps them to its own
     * notions (Slurm: --cpus-per-task, --mem, --gres=gpu:N, --time). */
    unsigned           cpus;
    uint64_t           memory_mb;
    unsigned           gpus;
    uint64_t           time_limit_s; /* hard wall-clock limit                */
    /* Jobs (ids returned by submit) that must succeed before this one
     * starts; backends that cannot express this return ORR_EUNSUPPORTED
     * when `n_after` > 0 and the runner then submits in order. */
    const char *const *after;
    size_t             n_after;
    /* > 1 submits a job array of this many tasks (sweeps); each task sees
     * its index in ORRERY_ARRAY_INDEX. */
    unsigned           array_size;
};

enum orr_job_state {
    ORR_JOB_PENDING = 0,
    ORR_JOB_RUNNING,
    ORR_JOB_SUCCEEDED,
    ORR_JOB_FAILED,        /* non-zero exit status or failing invoke       */
    ORR_JOB_CANCELLED,
    ORR_JOB_TIMEOUT,       /* killed at its time limit                     */
    ORR_JOB_OOM,           /* killed for exceeding its memory              */
    ORR_JOB_LOST           /* the backend no longer knows the job          */
};

struct orr_job_status {
    size_t             size;        /* sizeof(struct orr_job_status)        */
    enum orr_job_state state;
    int                exit_code;   /* valid when finished by exiting       */
    int                term_signal; /* signal that ended it, or 0           */
    char               reason[128]; /* backend's words on failure, or ""    */
};

struct orr_orchestrator_ops {
    unsigned    version;    /* ORR_ORCHESTRATOR_OPS_V1                       */
    const char *name;       /* "local", "slurm"                               */
    const char *summary;
    size_t      self_size;

    /* Mandatory. */
    int  (*open)(void *self, const struct orr_cfg *cfg, struct orr_error *e);
    void (*close)(void *self);   /* copes with a half-open self; does not
                                    cancel jobs that outlive the runner   */

    /* How many jobs can run at once (the runner's default --jobs).
     * Mandatory. */
    unsigned (*capacity)(void *self);

    /* Start (or queue) a job; write its id into `job_id`.  Mandatory. */
    int (*submit)(void *self, const struct orr_job_spec *spec,
                  char job_id[ORR_JOB_ID_SIZE], struct orr_error *e);

    /* Current state of a job, without blocking.  Mandatory. */
    int (*poll)(void *self, const char *job_id, struct orr_job_status *st,
                struct orr_error *e);

    /* Stop a job (its whole process group / all array tasks).  Mandatory. */
    int (*cancel)(void *self, const char *job_id, struct orr_error *e);

    /* Optional: block until one of the backend's unfinished jobs finishes
     * or `timeout_ms` passes (-1 = no limit); write that job's id, or ""
     * on timeout.  Lets local backends sleep in waitpid instead of polling. */
    int (*wait_any)(void *self, int timeout_ms,
                    char job_id[ORR_JOB_ID_SIZE], struct orr_error *e);
};

#ifdef __cplusplus
}
#endif
#endif /* ORRERY_ORCHESTRATOR_H */
