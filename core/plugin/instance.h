/*
 * plugin/instance.h - an open instance of a backend.
 *
 * The host allocates `self_size` zeroed bytes, calls the backend's open
 * with the site's configuration for it, and on close calls close then
 * frees.  Close is also called after a failed open (backends must cope
 * with a half-open self).
 */
#ifndef ORRI_PLUGIN_INSTANCE_H
#define ORRI_PLUGIN_INSTANCE_H

#include <orrery/plugin.h>

#include "api.h"
#include "plugin/registry.h"

struct orr_core;

struct orr_instance {
    const struct orr_backend *backend;
    void                     *self;
};

/* Open backend `name` of `kind` (NULL: the site's choice for the kind),
 * configured from the site (orr_site_backend_cfg) or from `cfg` when
 * non-NULL. */
ORR_API int orr_instance_open(struct orr_core *core, enum orr_kind kind,
                              const char *name, const struct orr_cfg *cfg,
                              struct orr_instance **out, struct orr_error *e);
ORR_API void orr_instance_close(struct orr_instance *inst);   /* NULL ok */

#endif
