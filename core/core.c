/*
 * core.c - the core object: site, registry, lazily opened storage and
 * metadata.
 */
#include "core.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin/host.h"
#include "util/error.h"
#include "util/install_dirs.h"

#define MAX_PLUGIN_DIRS 64

struct orr_core {
    struct orr_site     *site;
    struct orr_registry *registry;
    struct orr_instance *storage;
    struct orr_meta     *meta;
    char                *env_path;      /* copy of $ORRERY_PLUGIN_PATH      */
    char                 own_dir[4096]; /* this binary's plugin directory  */
    const char          *dirs[MAX_PLUGIN_DIRS];
    size_t               n_dirs;
};

static void add_dir(struct orr_core *c, const char *d)
{
    if (d && *d && c->n_dirs < MAX_PLUGIN_DIRS)
        c->dirs[c->n_dirs++] = d;
}

static void build_search_path(struct orr_core *c)
{
    const char *site_dirs[MAX_PLUGIN_DIRS];
    size_t n = orr_site_plugin_paths(c->site, site_dirs, MAX_PLUGIN_DIRS);
    for (size_t i = 0; i < n && i < MAX_PLUGIN_DIRS; i++)
        add_dir(c, site_dirs[i]);
    const char *env = getenv("ORRERY_PLUGIN_PATH");
    if (env && *env && (c->env_path = strdup(env))) {
        char *save = NULL;
        for (char *tok = strtok_r(c->env_path, ":", &save); tok;
             tok = strtok_r(NULL, ":", &save))
            add_dir(c, tok);
    }
    /* The build tree's plugins when run from it, else the install's. */
    add_dir(c, orri_install_dir(ORRI_DIR_PLUGINS, c->own_dir,
                                sizeof c->own_dir));
}

ORR_API int orr_core_open(struct orr_core **out,
                          const struct orr_core_options *opt,
                          struct orr_error *e)
{
    *out = NULL;
    struct orr_core *c = calloc(1, sizeof *c);
    if (!c)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    int rc = orr_site_load(&c->site, opt ? opt->site_path : NULL, e);
    if (rc)
        goto fail;
    build_search_path(c);
    rc = orr_registry_new(&c->registry, c->dirs, c->n_dirs, e);
    if (rc)
        goto fail;
    orri_host_bind(c);
    *out = c;
    return ORR_OK;
fail:
    orr_core_close(c);
    return rc;
}

ORR_API void orr_core_close(struct orr_core *c)
{
    if (!c)
        return;
    orr_instance_close(c->storage);
    orr_meta_close(c->meta);
    orr_registry_free(c->registry);
    orri_host_bind(NULL);
    orr_site_free(c->site);
    free(c->env_path);
    free(c);
}

ORR_API const struct orr_site *orr_core_site(const struct orr_core *c)
{
    return c->site;
}

ORR_API struct orr_registry *orr_core_registry(struct orr_core *c)
{
    return c->registry;
}

ORR_API int orr_core_storage(struct orr_core *c, struct orr_instance **out,
                             struct orr_error *e)
{
    if (!c->storage) {
        int rc = orr_instance_open(c, ORR_KIND_STORAGE, NULL, NULL,
                                   &c->storage, e);
        if (rc)
            return rc;
    }
    *out = c->storage;
    return ORR_OK;
}

ORR_API int orr_core_meta(struct orr_core *c, struct orr_meta **out,
                          struct orr_error *e)
{
    if (!c->meta) {
        int rc = orr_meta_open(&c->meta, c->site->db_path, e);
        if (rc)
            return rc;
    }
    *out = c->meta;
    return ORR_OK;
}

ORR_API size_t orr_core_plugin_dirs(const struct orr_core *c,
                                    const char **out, size_t cap)
{
    size_t n = c->n_dirs < cap ? c->n_dirs : cap;
    memcpy(out, c->dirs, n * sizeof *out);
    return c->n_dirs;
}
