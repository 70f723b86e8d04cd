/*
 * plugin/model.h - a loaded model: the runtime of a trainer's flavor plus
 * the runtime's own state, reference-counted.
 *
 * Servers and monitors receive these as the opaque `struct orr_model` of
 * the SDK and drive them through the host table (model_retain,
 * model_release, model_info, model_predict, which are these functions).
 * The model holds no reference to the core: release every model before
 * closing the core (the runtime's code is unloaded with the registry).
 *
 * Threads: retain/release/info/predict may be called from any thread;
 * predict runs concurrently on one model (runtimes must allow it).
 */
#ifndef ORRI_PLUGIN_MODEL_H
#define ORRI_PLUGIN_MODEL_H

#include <stdatomic.h>

#include <orrery/plugin.h>

#include "api.h"
#include "plugin/registry.h"

struct orr_core;

struct orr_model {
    const struct orr_backend *backend;  /* trainer with a flavor           */
    void                     *model;    /* model_size zeroed bytes         */
    atomic_size_t             refs;
};

/* Load the model files in `dir` with the runtime of `flavor` (the trainer
 * whose ops.flavor matches, loaded lazily).  The new model has one
 * reference, owned by the caller. */
ORR_API int orr_model_load(struct orr_core *core, const char *flavor,
                           const char *dir, struct orr_model **out,
                           struct orr_error *e);
/* The same with the runtime given (a trainer backend with a flavor). */
ORR_API int orr_model_load_backend(const struct orr_backend *b,
                                   const char *dir, struct orr_model **out,
                                   struct orr_error *e);

ORR_API void orr_model_retain(struct orr_model *m);
/* Drop a reference; the last one unloads and frees.  NULL ok. */
ORR_API void orr_model_release(struct orr_model *m);

/* Describe the model.  `info->size` is the caller's sizeof; only that many
 * bytes are written, so callers built against an older SDK are safe. */
ORR_API int orr_model_info(const struct orr_model *m,
                           struct orr_model_info *info, struct orr_error *e);
/* Predict `x` into `y` (see orr_trainer_ops.predict). */
ORR_API int orr_model_predict(const struct orr_model *m,
                              const struct orr_matrix *x,
                              struct orr_matrix *y, struct orr_error *e);

#endif
