/*
 * config/site.h - the site configuration: which backends a site uses and
 * how they are configured.
 *
 * The site file is Lua, evaluated in a sandbox (no io, os, require, load of
 * bytecode, debug, package; `env("NAME")` reads an environment variable and
 * marks the value secret).  It is found, first match wins:
 *   0. the explicit path (--site), an error if unreadable,
 *   1. $ORRERY_SITE (an error if set non-empty but unreadable),
 *   2. ./orrery.site.lua,
 *   3. $XDG_CONFIG_HOME/orrery/site.lua (~/.config when unset),
 *   4. /etc/orrery/site.lua.
 * With no file, the embedded defaults serve alone.  The file's values are
 * merged over the defaults.  Layout (every key optional):
 *
 *     root         = ".orrery"              -- site directory
 *     plugin_path  = { "/opt/orrery/plugins" }
 *     log_level    = "warn"
 *     storage      = { backend = "fs", root = ".orrery/blobs" }
 *     metadata     = { path = ".orrery/orrery.db" }
 *     orchestrator = { backend = "local", jobs = 2 }
 *     trainer      = { xgboost = { nthread = 4 } }   -- per-backend tables
 *     server       = { backend = "http", host = "127.0.0.1", port = 8080 }
 *     monitor      = { backend = "drift" }
 *
 * Relative paths in the configuration resolve against the current
 * directory (the site is the directory orrery runs in unless configured).
 */
#ifndef ORRI_CONFIG_SITE_H
#define ORRI_CONFIG_SITE_H

#include <orrery/plugin.h>
#include <orrery/status.h>

#include "api.h"
#include "config/cfg.h"

struct orr_site {
    char           *path;   /* the file loaded, or NULL (defaults only)    */
    struct orr_cfg *root;   /* effective configuration: defaults + file    */
    char           *dir;    /* absolute site directory (root, resolved)    */
    char           *db_path;      /* absolute metadata database path       */
};

/* Load the site configuration.  `explicit_path` (from --site) overrides
 * the search; NULL searches.  Errors: ORR_ECONFIG with "file:line: msg"
 * for syntax and runtime errors in the file. */
ORR_API int orr_site_load(struct orr_site **out, const char *explicit_path,
                          struct orr_error *e);
ORR_API void orr_site_free(struct orr_site *s);

/* The backend a site selected for `kind` ("fs" for storage, ...): the
 * `backend` key of the kind's section, or the embedded default.  NULL for
 * kinds without a site-wide selection (trainers are chosen per call). */
ORR_API const char *orr_site_backend(const struct orr_site *s,
                                     enum orr_kind kind);

/* The configuration node an instance of (kind, name) is opened with:
 * section[name] if that is a table, else the kind's section itself when
 * its `backend` is `name`, else NULL. */
ORR_API const struct orr_cfg *orr_site_backend_cfg(const struct orr_site *s,
                                                   enum orr_kind kind,
                                                   const char *name);

/* The site's own plugin directories (plugin_path), in order; may be 0. */
ORR_API size_t orr_site_plugin_paths(const struct orr_site *s,
                                     const char **out, size_t cap);

/* The files the search looked at, in order, as absolute paths (only the
 * given one for --site or $ORRERY_SITE); when a file was found it is the
 * last.  Returns how many were written to `out` (at most `cap`). */
ORR_API size_t orr_site_searched(const struct orr_site *s, const char **out,
                                 size_t cap);

/* Section name of a kind in the file ("storage", "orchestrator", ...). */
ORR_API const char *orr_kind_name(enum orr_kind kind);
/* Inverse of orr_kind_name; -1 if unknown. */
ORR_API int orr_kind_from_name(const char *name);

#endif
