/*
 * serve/serve.h - the host side of model serving: registry URIs to loaded
 * models, a server backend to expose them, and alias following.
 *
 * A served model is named by a registry URI (models:/NAME/3,
 * models:/NAME@ALIAS, models:/NAME for the latest version); its served
 * name is the registered model name.  Each is loaded with the runtime of
 * its flavor (orr_model_open), so serving knows no flavor by name.
 *
 * Alias following: URIs that name an alias or the latest version are
 * re-resolved by orr_serve_poll (or by the watcher thread of
 * orr_serve_watch every poll_ms).  When the version moved, the new one is
 * loaded and checked (model_info, same number of features as the one
 * serving) and deployed through the server backend, which swaps it in
 * atomically.  A version that fails is logged (ORR_LOG_ERROR), not
 * retried until the URI moves again, and the old one keeps serving.
 *
 * Threads: one thread drives an orr_serve (open, start, stop, close);
 * the watcher is the only other thread touching the core while it runs.
 */
#ifndef ORRI_SERVE_SERVE_H
#define ORRI_SERVE_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include <orrery/server.h>
#include <orrery/status.h>
#include <orrery/trainer.h>

#include "api.h"

struct orr_core;
struct orr_serve;

/* One served model as it stands (copied out; see orr_serve_model). */
struct orr_serve_model {
    char          uri[256];     /* as given                               */
    char          name[129];    /* served name: the registered model      */
    int64_t       version;      /* version serving now                    */
    int           follows;      /* 1: an alias or latest, re-resolved     */
    char          flavor[ORR_FLAVOR_SIZE];
    enum orr_task task;
    size_t        n_features, n_outputs;
    enum orr_deploy_role role;  /* primary, canary or shadow              */
    double        traffic_percent; /* canary: share of requests, 0..100   */
};

/* Resolve and load every URI (all or nothing).  ORR_EINVAL when two URIs
 * name the same model. */
ORR_API int orr_serve_open(struct orr_core *core, const char *const *uris,
                           size_t n, struct orr_serve **out,
                           struct orr_error *e);
/* Before start: add a canary (`pct` percent of the requests for its
 * name, sticky per X-Request-Key) or a shadow (a copy of every request,
 * after the answer; its result only metered and logged) of a model
 * already opened as primary under the same name.  ORR_EINVAL when there
 * is no such primary, the role is taken, or the feature counts differ. */
ORR_API int orr_serve_add(struct orr_serve *s, const char *uri,
                          enum orr_deploy_role role, double pct,
                          struct orr_error *e);
ORR_API size_t orr_serve_count(const struct orr_serve *s);
/* A snapshot of model i (thread-safe against the watcher). */
ORR_API void orr_serve_model(struct orr_serve *s, size_t i,
                             struct orr_serve_model *out);

/* Before start: set the backend option `path` (dotted, e.g.
 * "access_log" or "batch.cancer.max_rows") over the site's server
 * configuration.  `value` is read as true/false, an integer, else text. */
ORR_API int orr_serve_set(struct orr_serve *s, const char *path,
                          const char *value, struct orr_error *e);

/* Open the site's server backend (`backend` NULL: the site's choice),
 * start it with `spec` and deploy every model. */
ORR_API int orr_serve_start(struct orr_serve *s, const char *backend,
                            const struct orr_serve_spec *spec,
                            struct orr_error *e);
/* The port bound, after start. */
ORR_API unsigned orr_serve_port(struct orr_serve *s);

/* One pass of alias following; *switched gets how many models moved to
 * a new version.  A model that failed to load or deploy is logged and
 * does not fail the pass. */
ORR_API int orr_serve_poll(struct orr_serve *s, int *switched,
                           struct orr_error *e);
/* Run orr_serve_poll every `poll_ms` on a thread until stop. */
ORR_API int orr_serve_watch(struct orr_serve *s, int poll_ms,
                            struct orr_error *e);

/* Stop the watcher, then the server (draining up to drain_ms). */
ORR_API int orr_serve_stop(struct orr_serve *s, int drain_ms,
                           struct orr_error *e);
/* Stops if needed, releases the models and the backend.  NULL ok. */
ORR_API void orr_serve_close(struct orr_serve *s);

#endif
