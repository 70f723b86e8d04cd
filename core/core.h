/*
 * core.h - the Orrery core: one site configuration, one plugin registry,
 * and, opened on first use, the site's storage and metadata store.
 *
 * This is liborrery's entry point for embedders and for the CLI.  One core
 * per process is the supported use (the host table acts on it).
 */
#ifndef ORRI_CORE_H
#define ORRI_CORE_H

#include <orrery/plugin.h>

#include "api.h"
#include "config/site.h"
#include "meta/meta.h"
#include "plugin/instance.h"
#include "plugin/registry.h"

struct orr_core;

struct orr_core_options {
    const char *site_path;  /* --site, or NULL to search                    */
};

ORR_API int orr_core_open(struct orr_core **out,
                          const struct orr_core_options *opt,
                          struct orr_error *e);
/* Closes storage and metadata (flushing), then the registry.  NULL ok. */
ORR_API void orr_core_close(struct orr_core *core);

ORR_API const struct orr_site *orr_core_site(const struct orr_core *core);
ORR_API struct orr_registry *orr_core_registry(struct orr_core *core);

/* The site's storage instance, opened (and the plugin loaded) on first
 * call; owned by the core. */
ORR_API int orr_core_storage(struct orr_core *core, struct orr_instance **out,
                             struct orr_error *e);
/* The site's metadata store, opened on first call; owned by the core. */
ORR_API int orr_core_meta(struct orr_core *core, struct orr_meta **out,
                          struct orr_error *e);

/* The plugin search path the core uses (for diagnostics). */
ORR_API size_t orr_core_plugin_dirs(const struct orr_core *core,
                                    const char **out, size_t cap);

#endif
