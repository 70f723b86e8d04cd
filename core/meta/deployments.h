/*
 * meta/deployments.h - the `deployments` table (schema migration 2): one
 * row per model version a server puts behind a name, from the moment it
 * serves ('running') until it is replaced or the server stops
 * ('stopped'), or it could not be deployed ('failed').
 *
 * Thread-safe: every call takes the store's lock.
 */
#ifndef ORRI_META_DEPLOYMENTS_H
#define ORRI_META_DEPLOYMENTS_H

#include <stdint.h>

#include <orrery/status.h>

struct orr_meta;

/* Record that `version` of registered model `model` serves now; `alias`
 * (the alias followed, or NULL), `server` (the backend name) and `url`
 * (or NULL) describe where.  *id gets the row, for orri_deployment_end.
 * ORR_ENOTFOUND when the model is not registered. */
int orri_deployment_begin(struct orr_meta *m, const char *model,
                          int64_t version, const char *alias,
                          const char *server, const char *url, int64_t *id,
                          struct orr_error *e);

/* Close row `id` with `status` ("stopped" or "failed") now.  A row
 * already closed is left as it is. */
int orri_deployment_end(struct orr_meta *m, int64_t id, const char *status,
                        struct orr_error *e);

#endif
