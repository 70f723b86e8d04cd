/*
 * plugin/registry.h - finding, loading and checking plugins; the backends
 * they registered.
 *
 * Plugins are found on a search path (in order: the site's plugin_path,
 * $ORRERY_PLUGIN_PATH (colon-separated), the build tree's plugins/ when
 * the running binary lives in the build tree, the install directory) and
 * loaded lazily: asking for a backend of kind K named N first tries files
 * named "K-N.so" on the path, then every "K-*.so", then every other
 * "*.so" not yet tried.  A command that needs one backend loads one
 * plugin.
 *
 * Loading (RTLD_NOW | RTLD_LOCAL; plugins stay resident until the
 * registry is freed) refuses, with the file name and the exact reason, a
 * file whose `orr_plugin_describe` symbol is missing, whose ABI major
 * differs or minor is newer than the core's, whose name/version/license/
 * summary/init is empty, whose name is already loaded, whose init fails,
 * or whose init registers a vtable newer than the core knows or with a
 * NULL mandatory member.  Everything a refused plugin registered is rolled
 * back.
 *
 * Status codes of refusals: ORR_EABI (not a plugin, dlopen failure, ABI
 * version, vtable version), ORR_EINVAL (missing descriptor field, NULL
 * mandatory member, empty backend name), ORR_EEXIST (plugin or backend
 * name taken), ORR_ENOTFOUND (no such file), or the status init returned.
 *
 * A registry is not thread-safe: use it from one thread at a time (lookups
 * may load plugins).  Backends and plugin infos it hands out stay valid
 * until orr_registry_free.
 */
#ifndef ORRI_PLUGIN_REGISTRY_H
#define ORRI_PLUGIN_REGISTRY_H

#include <stddef.h>

#include <orrery/plugin.h>

#include "api.h"

struct orr_plugin_info {
    const char *path;       /* file it was loaded from                      */
    const char *name;
    const char *version;
    const char *license;
    const char *summary;
    unsigned    abi_major;
    unsigned    abi_minor;
};

/* A backend as the host keeps it: a zeroed copy of the plugin's vtable
 * holding exactly the members its version covers. */
struct orr_backend {
    enum orr_kind kind;
    const char   *name;         /* ops' name                                */
    const char   *summary;      /* ops' summary (may be "")                 */
    unsigned      ops_version;  /* as the plugin declared                   */
    size_t        self_size;
    const struct orr_plugin_info *plugin;
    union {
        struct orr_storage_ops      storage;
        struct orr_orchestrator_ops orchestrator;
        struct orr_trainer_ops      trainer;
        struct orr_server_ops       server;
        struct orr_monitor_ops      monitor;
    } ops;
};

struct orr_refusal {
    const char *path;
    int         code;           /* ORR_EABI, ORR_EINVAL, ...                */
    const char *reason;         /* "ABI major 2, core has 1", ...           */
};

/* `dirs` are copied.  Nothing is loaded yet. */
ORR_API int orr_registry_new(struct orr_registry **out,
                             const char *const *dirs, size_t n_dirs,
                             struct orr_error *e);
/* Calls every plugin's fini, then unloads them.  NULL ok. */
ORR_API void orr_registry_free(struct orr_registry *r);

/* Load one file now, through all the checks above.  A refusal is both
 * returned (with the reason in `e`) and recorded for orrery plugins. */
ORR_API int orr_registry_load_file(struct orr_registry *r, const char *path,
                                   struct orr_error *e);

/* Load every plugin on the search path (for `orrery plugins`).  Refusals
 * are recorded, not returned. */
ORR_API void orr_registry_load_all(struct orr_registry *r);

/* Find backend `name` of `kind`, loading plugins lazily.  ORR_ENOTFOUND
 * with "unknown storage backend 'x' (known: fs, s3)" when absent. */
ORR_API int orr_registry_find(struct orr_registry *r, enum orr_kind kind,
                              const char *name,
                              const struct orr_backend **out,
                              struct orr_error *e);

/* Enumerate what is loaded, registered and refused (stable order). */
ORR_API size_t orr_registry_plugin_count(const struct orr_registry *r);
ORR_API const struct orr_plugin_info *
orr_registry_plugin_at(const struct orr_registry *r, size_t i);
ORR_API size_t orr_registry_backend_count(const struct orr_registry *r);
ORR_API const struct orr_backend *
orr_registry_backend_at(const struct orr_registry *r, size_t i);
ORR_API size_t orr_registry_refusal_count(const struct orr_registry *r);
ORR_API const struct orr_refusal *
orr_registry_refusal_at(const struct orr_registry *r, size_t i);
/* The search path, in order. */
ORR_API size_t orr_registry_dir_count(const struct orr_registry *r);
ORR_API const char *orr_registry_dir_at(const struct orr_registry *r,
                                        size_t i);

/* Find the trainer whose runtime handles `flavor` (ops.trainer.flavor),
 * loading plugins lazily like orr_registry_find (first
 * "trainer-<flavor>.so", then every "trainer-*.so", then the rest).
 * ORR_ENOTFOUND with the known flavors when absent. */
ORR_API int orr_registry_find_flavor(struct orr_registry *r,
                                     const char *flavor,
                                     const struct orr_backend **out,
                                     struct orr_error *e);

/* The host table's add_* members: validate a vtable registered by the
 * plugin whose init is running, and keep a host-side copy of the members
 * its version covers.  Fails (and marks the plugin for refusal, even if
 * its init ignores the status) when called outside an init, for a vtable
 * newer than the core knows, a NULL mandatory member, an empty name or a
 * name already registered for the kind. */
int orri_registry_add(struct orr_registry *r, enum orr_kind kind,
                      const void *ops, struct orr_error *e);

/* Normalise a status returned by plugin code: out-of-range values become
 * ORR_EBACKEND, and `e` gets the code and, if the plugin left it empty, the
 * status text.  Returns the normalised status.  `e` may be NULL. */
int orri_plugin_status(int rc, struct orr_error *e);

#endif
