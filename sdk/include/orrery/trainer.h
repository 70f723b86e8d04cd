/*
 * orrery/trainer.h - the trainer backend interface and the model runtime.
 *
 * A trainer fits a model on a dataset with parameters and writes the model
 * files into a directory the host gives it; the host turns that directory
 * into an artifact and records it.  While fitting, the trainer reports
 * per-iteration metrics through the host table (`log_metric` on the run
 * handle it receives), so they appear live in the run.
 *
 * A trainer usually also provides the *model runtime* for the format it
 * writes, its "flavor" ("linear", "xgboost", ...): load a model directory,
 * describe it, predict.  Serving and evaluation find a runtime by flavor and
 * know no flavor by name.  A trainer that delegates to other runtimes (for
 * example one running an external program that writes a "linear" model)
 * leaves `flavor` NULL and names the produced flavor in its fit result.
 *
 * Threads: `fit` runs on one thread.  `predict` may be called concurrently
 * from many threads on the same loaded model and must be safe for that;
 * `load` and `unload` are never concurrent with predict on the same model
 * (the host swaps in a freshly loaded model instead of reloading one in
 * use).
 *
 * Compatibility: `version` first, members appended only; request/result
 * structs carry `size`.
 */
#ifndef ORRERY_TRAINER_H
#define ORRERY_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "table.h"

#ifdef __cplusplus
extern "C" {
#endif

struct orr_cfg;
struct orr_run;     /* opaque: the run a fit logs to (see host.h)           */

#define ORR_TRAINER_OPS_V1 1u
#define ORR_TRAINER_OPS_VERSION ORR_TRAINER_OPS_V1

#define ORR_FLAVOR_SIZE 32

enum orr_task {
    ORR_TASK_UNKNOWN = 0,
    ORR_TASK_REGRESSION,
    ORR_TASK_BINARY,        /* one output: probability of the positive class */
    ORR_TASK_MULTICLASS,    /* one output per class: probabilities            */
    ORR_TASK_RANKING
};

/* Everything a fit needs; borrowed for the duration of fit. */
struct orr_fit_request {
    size_t                  size;       /* sizeof(struct orr_fit_request)   */
    const struct orr_table *train;      /* with its target column set       */
    const struct orr_table *valid;      /* evaluation set, or NULL          */
    const struct orr_cfg   *params;     /* user parameters (host accessors) */
    struct orr_run         *run;        /* where to log metrics, or NULL    */
    const char             *out_dir;    /* existing, empty; write model here */
    uint64_t                seed;       /* for anything random              */
    unsigned                threads;    /* threads the step may use (>= 1)  */
};

/* What the trainer reports about the model it wrote. */
struct orr_fit_result {
    size_t        size;                 /* sizeof(struct orr_fit_result)    */
    char          flavor[ORR_FLAVOR_SIZE]; /* runtime that loads out_dir    */
    enum orr_task task;
    size_t        n_features;
    size_t        n_outputs;
};

/* What a loaded model tells its callers (the server checks requests
 * against it).  Strings are owned by the loaded model. */
struct orr_model_info {
    size_t             size;            /* sizeof(struct orr_model_info)    */
    enum orr_task      task;
    size_t             n_features;
    const char *const *feature_names;   /* n_features entries, or NULL      */
    size_t             n_outputs;
    const char *const *output_names;    /* n_outputs entries, or NULL       */
};

struct orr_trainer_ops {
    unsigned    version;    /* ORR_TRAINER_OPS_V1                            */
    const char *name;       /* trainer name as workflows use it: "linear"    */
    const char *summary;
    size_t      self_size;  /* per trainer instance                          */

    /* Mandatory. */
    int  (*open)(void *self, const struct orr_cfg *cfg, struct orr_error *e);
    void (*close)(void *self);
    int  (*fit)(void *self, const struct orr_fit_request *req,
                struct orr_fit_result *res, struct orr_error *e);

    /* The model runtime.  If `flavor` is non-NULL, model_size, load, info,
     * predict and unload are mandatory; otherwise they are ignored. */
    const char *flavor;
    size_t      model_size; /* bytes the host zero-allocates per model       */

    /* Load the model files in `dir` (as fit wrote them). */
    int  (*load)(void *model, const char *dir, struct orr_error *e);
    /* Describe a loaded model; `info->size` is set by the caller. */
    int  (*info)(const void *model, struct orr_model_info *info,
                 struct orr_error *e);
    /* Predict `x` (rows x n_features) into `y` (rows x n_outputs; the
     * runtime sets y->rows and y->cols and fails with ORR_EINVAL if
     * y->capacity is too small).  Thread-safe on one model. */
    int  (*predict)(const void *model, const struct orr_matrix *x,
                    struct orr_matrix *y, struct orr_error *e);
    /* Release a loaded (or half-loaded) model. */
    void (*unload)(void *model);
};

#ifdef __cplusplus
}
#endif
#endif /* ORRERY_TRAINER_H */
