/*
 * orrery/conformance/test_host.h - a stand-alone host for driving a plugin
 * without the Orrery core.
 *
 * A plugin only ever talks to the core through struct orr_host.  This file
 * provides a small implementation of that table - memory, logging, errors,
 * configuration over a flat key=value list, and registration that simply
 * records the vtables - so a plugin's own tests, the conformance suites
 * and benchmarks can load a plugin and call its backends directly:
 *
 *     struct orr_test_plugin *p;
 *     struct orr_error e = {0};
 *     if (orr_test_plugin_load("build/plugins/storage-fs.so", &p, &e))
 *         ... e.msg says why ...
 *     const struct orr_storage_ops *ops = orr_test_plugin_storage(p, "fs");
 *     struct orr_cfg *cfg = orr_test_cfg_new();
 *     orr_test_cfg_set(cfg, "root", "/tmp/blobs");
 *     void *self;
 *     orr_test_storage_open(orr_test_host(), ops, cfg, &self, &e);
 *     ...
 *     orr_test_storage_close(orr_test_host(), ops, self);
 *     orr_test_cfg_free(cfg);
 *     orr_test_plugin_unload(p);
 *
 * Members that need a site (metrics, artifacts, HTTP, models) are inert:
 * metric/param/tag logging succeeds and records nothing; the rest fail
 * with ORR_EUNSUPPORTED.  Everything here is thread-safe except loading
 * and unloading plugins and editing a configuration that is in use.
 */
#ifndef ORRERY_CONFORMANCE_TEST_HOST_H
#define ORRERY_CONFORMANCE_TEST_HOST_H

#include <stddef.h>
#include <stdio.h>

#include <orrery/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The host table (static; valid for the life of the process). */
const struct orr_host *orr_test_host(void);

/* Where host->log writes (default stderr) and the most verbose level
 * shown (default ORR_LOG_WARN).  `f` NULL silences the log. */
void orr_test_host_set_log(FILE *f, int max_level);

/* ---- configuration: a flat table of string values ---------------------
 * cfg_str returns the string; cfg_int/cfg_num parse it (the default when
 * it does not parse whole); cfg_bool accepts true/false/1/0/yes/no/on/off.
 * cfg_child returns NULL (no nested tables). */
struct orr_cfg *orr_test_cfg_new(void);                 /* NULL on ENOMEM */
void orr_test_cfg_free(struct orr_cfg *cfg);             /* NULL ok        */
/* Set (or replace) `key`; ORR_OK or ORR_ENOMEM. */
int orr_test_cfg_set(struct orr_cfg *cfg, const char *key, const char *value);
/* Set from "key=value"; ORR_EINVAL when there is no '=' or no key. */
int orr_test_cfg_parse(struct orr_cfg *cfg, const char *assignment);

/* ---- registration ------------------------------------------------------
 * A registry records what a plugin's init registers.  add_storage refuses
 * (ORR_EABI / ORR_EINVAL, like the core's loader) a vtable whose version
 * is 0 or newer than this SDK's, whose name is empty, or that lacks a
 * mandatory member. */
struct orr_registry *orr_test_registry_new(void);       /* NULL on ENOMEM */
void orr_test_registry_free(struct orr_registry *r);     /* NULL ok        */
size_t orr_test_registry_count(const struct orr_registry *r,
                               enum orr_kind kind);
/* The i-th vtable of `kind` (cast to the kind's ops struct), or NULL. */
const void *orr_test_registry_at(const struct orr_registry *r,
                                 enum orr_kind kind, size_t i);
/* The storage backend called `name` (NULL: the first one), or NULL. */
const struct orr_storage_ops *
orr_test_registry_storage(const struct orr_registry *r, const char *name);

/* ---- plugins -----------------------------------------------------------
 * Load a plugin file (dlopen RTLD_NOW | RTLD_LOCAL), check its descriptor
 * and ABI like the core does, and run its init against orr_test_host()
 * and a fresh registry. */
struct orr_test_plugin;
int orr_test_plugin_load(const char *path, struct orr_test_plugin **out,
                         struct orr_error *e);
/* Calls fini, then unloads.  Close every instance first.  NULL ok. */
void orr_test_plugin_unload(struct orr_test_plugin *p);
const struct orr_plugin_desc *
orr_test_plugin_desc(const struct orr_test_plugin *p);
struct orr_registry *orr_test_plugin_registry(const struct orr_test_plugin *p);
/* Shorthand for orr_test_registry_storage(orr_test_plugin_registry(p), n). */
const struct orr_storage_ops *
orr_test_plugin_storage(const struct orr_test_plugin *p, const char *name);

/* ---- storage instances -------------------------------------------------
 * Allocate self_size zeroed bytes with host->calloc and call open; on
 * failure close and free (as the core does) and set *self to NULL. */
int orr_test_storage_open(const struct orr_host *host,
                          const struct orr_storage_ops *ops,
                          const struct orr_cfg *cfg, void **self,
                          struct orr_error *e);
void orr_test_storage_close(const struct orr_host *host,
                            const struct orr_storage_ops *ops,
                            void *self);                  /* NULL ok        */

#ifdef __cplusplus
}
#endif
#endif /* ORRERY_CONFORMANCE_TEST_HOST_H */
