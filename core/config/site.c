/*
 * config/site.c - finding, checking and resolving the site configuration.
 *
 * The Lua evaluation is sandbox.c's; this file owns the schema of the
 * top level, the embedded defaults and what is derived from them (site
 * directory, database path, plugin directories, log level).
 */
#include "config/site.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/sandbox.h"
#include "util/error.h"
#include "util/log.h"
#include "util/path.h"

#define DEFAULT  "default"
#define PATH_CAP 4096

/* struct orr_site plus what only this file reads; orr_site_free takes
 * the public pointer and finds the rest. */
struct site_impl {
    struct orr_site pub;            /* first member                      */
    char          **plugin_dirs;
    size_t          n_plugin_dirs;
    char           *searched[8];
    size_t          n_searched;
};

static const char *const kind_names[ORR_KIND_COUNT] = {
    [ORR_KIND_STORAGE] = "storage",
    [ORR_KIND_ORCHESTRATOR] = "orchestrator",
    [ORR_KIND_TRAINER] = "trainer",
    [ORR_KIND_SERVER] = "server",
    [ORR_KIND_MONITOR] = "monitor",
};

/* Embedded default backend per kind; NULL: chosen per call. */
static const char *const default_backend[ORR_KIND_COUNT] = {
    [ORR_KIND_STORAGE] = "fs",
    [ORR_KIND_ORCHESTRATOR] = "local",
    [ORR_KIND_TRAINER] = NULL,
    [ORR_KIND_SERVER] = "http",
    [ORR_KIND_MONITOR] = "drift",
};

static const char *const top_keys[] = {
    "root", "plugin_path", "log_level", "storage", "metadata",
    "orchestrator", "trainer", "server", "monitor",
};
#define N_TOP_KEYS (sizeof top_keys / sizeof *top_keys)

ORR_API const char *orr_kind_name(enum orr_kind kind)
{
    return (unsigned)kind < ORR_KIND_COUNT ? kind_names[kind] : "?";
}

ORR_API int orr_kind_from_name(const char *name)
{
    for (int i = 0; name && i < ORR_KIND_COUNT; i++)
        if (!strcmp(name, kind_names[i]))
            return i;
    return -1;
}

/* ---- the search ------------------------------------------------------ */

static int add_searched(struct site_impl *si, const char *path,
                        struct orr_error *e)
{
    char abs[PATH_CAP];
    if (orri_path_absolute(abs, sizeof abs, path, e))
        return e ? e->code : ORR_EINVAL;
    if (si->n_searched == sizeof si->searched / sizeof *si->searched)
        return ORR_OK;
    if (!(si->searched[si->n_searched] = strdup(abs)))
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    si->n_searched++;
    return ORR_OK;
}

/* A path the user named must exist as a readable regular file. */
static int check_given(const char *path, const char *what,
                       struct orr_error *e)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return orr_fail(e, errno == ENOENT ? ORR_ENOTFOUND : ORR_EIO,
                        "%scannot read site file %s: %s", what, path,
                        strerror(errno));
    if (!S_ISREG(st.st_mode))
        return orr_fail(e, ORR_EIO, "%ssite file %s is not a regular file",
                        what, path);
    if (access(path, R_OK) != 0)
        return orr_fail(e, ORR_EPERM, "%scannot read site file %s: %s",
                        what, path, strerror(errno));
    return ORR_OK;
}

/* Sets *display to the file to load (as named: relative or absolute),
 * or leaves it NULL when there is none. */
static int locate(struct site_impl *si, const char *explicit_path,
                  char **display, struct orr_error *e)
{
    const char *env = getenv("ORRERY_SITE");
    const char *given = explicit_path;
    const char *what = "";
    int rc;
    *display = NULL;
    if (explicit_path && !explicit_path[0])
        return orr_fail(e, ORR_EINVAL, "--site: empty file name");
    if (!given && env && env[0]) {
        given = env;
        what = "$ORRERY_SITE: ";
    }
    if (given) {
        if ((rc = add_searched(si, given, e)) ||
            (rc = check_given(given, what, e)))
            return rc;
        return (*display = strdup(given)) ? ORR_OK
               : orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    char xdg[PATH_CAP] = "";
    const char *cfg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    /* The XDG spec says to ignore a relative XDG_CONFIG_HOME. */
    if (cfg && cfg[0] == '/')
        snprintf(xdg, sizeof xdg, "%s/orrery/site.lua", cfg);
    else if (home && home[0])
        snprintf(xdg, sizeof xdg, "%s/.config/orrery/site.lua", home);
    const char *cands[] = {"orrery.site.lua", xdg, "/etc/orrery/site.lua"};
    for (size_t i = 0; i < sizeof cands / sizeof *cands; i++) {
        if (!cands[i][0])
            continue;
        if ((rc = add_searched(si, cands[i], e)))
            return rc;
        if (orri_path_is_file(cands[i]))
            return (*display = strdup(cands[i])) ? ORR_OK
                   : orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    return ORR_OK;
}

/* ---- the schema ------------------------------------------------------ */

static const char *type_text(const struct orr_cfg *c)
{
    switch (c->type) {
    case ORR_CFG_STRING:  return "a string";
    case ORR_CFG_NUMBER:  return "a number";
    case ORR_CFG_INTEGER: return "an integer";
    case ORR_CFG_BOOLEAN: return "a boolean";
    case ORR_CFG_TABLE:   return "a table";
    }
    return "a value";
}

/* Edit distance, case-insensitive, for "did you mean". */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[64];
    if (la >= 64 || lb >= 64)
        return 64;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) !=
                          tolower((unsigned char)b[j - 1]);
            size_t best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The closest of `words` to `key` if it is close enough, else NULL. */
static const char *suggest(const char *key, const char *const *words,
                           size_t n)
{
    size_t len = strlen(key), limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (size_t i = 0; i < n; i++) {
        size_t d = distance(key, words[i]);
        if (d < best_d) {
            best_d = d;
            best = words[i];
        }
    }
    return best;
}

static int valid_backend_name(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!isalnum((unsigned char)s[n]) && s[n] != '-' && s[n] != '_')
            return 0;
    return n > 0 && n < 64;
}

static int check_section(const struct orr_cfg *c, const char *o,
                         struct orr_error *e)
{
    if (c->type != ORR_CFG_TABLE)
        return orr_fail(e, ORR_ECONFIG, "%s: %s must be a table, not %s", o,
                        c->key, type_text(c));
    if (!strcmp(c->key, "trainer"))
        return ORR_OK;
    if (!strcmp(c->key, "metadata")) {
        const struct orr_cfg *p = orr_cfg_get(c, "path");
        if (p && (p->type != ORR_CFG_STRING || !p->v.str[0]))
            return orr_fail(e, ORR_ECONFIG, "%s: metadata.path must be a "
                            "non-empty string, not %s", o, type_text(p));
        return ORR_OK;
    }
    const struct orr_cfg *b = orr_cfg_get(c, "backend");
    if (b && b->type != ORR_CFG_STRING)
        return orr_fail(e, ORR_ECONFIG, "%s: %s.backend must be a string, "
                        "not %s", o, c->key, type_text(b));
    if (b && !valid_backend_name(b->v.str))
        return orr_fail(e, ORR_ECONFIG, "%s: %s.backend '%s' is not a "
                        "backend name (letters, digits, '-', '_')", o,
                        c->key, b->v.str);
    if (!b) {
        /* A mistyped `backend` would silently keep the default. */
        static const char *const bk[] = {"backend"};
        for (size_t i = 0; i < c->n_items; i++)
            if (suggest(c->items[i]->key, bk, 1))
                orr_log(ORR_LOG_WARN, "site", "%s: %s.%s: did you mean "
                        "'%s.backend'?", o, c->key, c->items[i]->key,
                        c->key);
    }
    return ORR_OK;
}

static int check_plugin_path(const struct orr_cfg *c, const char *o,
                             struct orr_error *e)
{
    if (c->type == ORR_CFG_STRING && c->v.str[0])
        return ORR_OK;
    if (c->type != ORR_CFG_TABLE || (c->n_items && !c->is_array))
        return orr_fail(e, ORR_ECONFIG, "%s: plugin_path must be a list of "
                        "directories, not %s", o, type_text(c));
    for (size_t i = 0; i < c->n_items; i++)
        if (c->items[i]->type != ORR_CFG_STRING || !c->items[i]->v.str[0])
            return orr_fail(e, ORR_ECONFIG, "%s: plugin_path[%zu] must be a "
                            "non-empty string, not %s", o, i + 1,
                            type_text(c->items[i]));
    return ORR_OK;
}

static int validate(const struct orr_cfg *file, const char *display,
                    struct orr_error *e)
{
    for (size_t i = 0; i < file->n_items; i++) {
        const struct orr_cfg *c = file->items[i];
        const char *o = c->origin ? c->origin : display;
        size_t k = 0;
        int rc = ORR_OK;
        while (k < N_TOP_KEYS && strcmp(c->key, top_keys[k]))
            k++;
        if (k == N_TOP_KEYS) {
            const char *s = suggest(c->key, top_keys, N_TOP_KEYS);
            char hint[64] = "";
            if (s)
                snprintf(hint, sizeof hint, " (did you mean '%s'?)", s);
            return orr_fail(e, ORR_ECONFIG,
                            "%s: unknown key '%s'%s; a site file sets root, "
                            "plugin_path, log_level, storage, metadata, "
                            "orchestrator, trainer, server, monitor "
                            "(make other variables 'local')", o, c->key,
                            hint);
        }
        if (!strcmp(c->key, "root")) {
            if (c->type != ORR_CFG_STRING || !c->v.str[0])
                rc = orr_fail(e, ORR_ECONFIG, "%s: root must be a non-empty "
                              "string, not %s", o, type_text(c));
        } else if (!strcmp(c->key, "log_level")) {
            if (c->type != ORR_CFG_STRING ||
                orr_log_level_from_name(c->v.str) < 0)
                rc = orr_fail(e, ORR_ECONFIG, "%s: log_level must be one of "
                              "\"error\", \"warn\", \"info\", \"debug\"", o);
        } else if (!strcmp(c->key, "plugin_path")) {
            rc = check_plugin_path(c, o, e);
        } else {
            rc = check_section(c, o, e);
        }
        if (rc)
            return rc;
    }
    return ORR_OK;
}

/* ---- defaults and derived values ------------------------------------ */

static int default_under(struct orr_cfg *t, const char *key,
                         const char *root, const char *leaf)
{
    char p[PATH_CAP];
    if (orri_path_join(p, sizeof p, root, leaf, NULL))
        return ORR_EINVAL;
    return orr_cfg_set_str(t, key, p, DEFAULT) ? ORR_OK : ORR_ENOMEM;
}

/* The embedded defaults.  Paths derive from `root` so that setting root
 * alone moves everything; a section whose file selects another backend
 * gets only its `backend` default, since the default's other keys (fs's
 * root, http's port) belong to the default backend. */
static struct orr_cfg *make_defaults(const char *root,
                                     const struct orr_cfg *file)
{
    struct orr_cfg *t = orr_cfg_new_table(), *sec;
    int ok = t != NULL;
    ok = ok && orr_cfg_set_str(t, "root", root, DEFAULT);
    ok = ok && orr_cfg_set_str(t, "log_level", "warn", DEFAULT);
    for (int k = 0; ok && k < ORR_KIND_COUNT; k++) {
        const char *def = default_backend[k];
        if (!def)
            continue;
        const char *name = kind_names[k];
        const char *chosen = def;
        if (file) {
            char path[64];
            snprintf(path, sizeof path, "%s.backend", name);
            chosen = orr_cfg_str(file, path, def);
        }
        ok = (sec = orr_cfg_set_table(t, name, DEFAULT)) &&
             orr_cfg_set_str(sec, "backend", def, DEFAULT);
        if (!ok || strcmp(chosen, def))
            continue;
        if (k == ORR_KIND_STORAGE)
            ok = !default_under(sec, "root", root, "blobs");
        if (k == ORR_KIND_SERVER)
            ok = orr_cfg_set_str(sec, "host", "127.0.0.1", DEFAULT) &&
                 orr_cfg_set_int(sec, "port", 8080, DEFAULT);
    }
    ok = ok && (sec = orr_cfg_set_table(t, "metadata", DEFAULT)) &&
         !default_under(sec, "path", root, "orrery.db");
    if (!ok) {
        orr_cfg_free(t);
        return NULL;
    }
    return t;
}

static int resolve_plugin_dirs(struct site_impl *si, const struct orr_cfg *pp,
                               struct orr_error *e)
{
    char base[PATH_CAP], joined[PATH_CAP], abs[PATH_CAP];
    size_t n = pp->type == ORR_CFG_TABLE ? pp->n_items : 1;
    int rc;
    if (!n)
        return ORR_OK;
    if ((rc = orri_path_dirname(base, sizeof base, si->pub.path, e)))
        return rc;
    if (!(si->plugin_dirs = calloc(n, sizeof *si->plugin_dirs)))
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *d = pp->type == ORR_CFG_TABLE ? pp->items[i]->v.str
                                                  : pp->v.str;
        if ((rc = orri_path_join(joined, sizeof joined, base, d, e)) ||
            (rc = orri_path_absolute(abs, sizeof abs, joined, e)))
            return rc;
        if (!(si->plugin_dirs[i] = strdup(abs)))
            return orr_fail(e, ORR_ENOMEM, "out of memory");
        si->n_plugin_dirs = i + 1;
    }
    return ORR_OK;
}

static int resolve(struct site_impl *si, const struct orr_cfg *file,
                   struct orr_error *e)
{
    struct orr_site *s = &si->pub;
    char abs[PATH_CAP];
    int rc;
    if ((rc = orri_path_absolute(abs, sizeof abs,
                                 orr_cfg_str(s->root, "root", ".orrery"), e)))
        return rc;
    if (!(s->dir = strdup(abs)))
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    if ((rc = orri_path_absolute(abs, sizeof abs,
                                 orr_cfg_str(s->root, "metadata.path",
                                             ".orrery/orrery.db"), e)))
        return rc;
    if (!(s->db_path = strdup(abs)))
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    const struct orr_cfg *pp = file ? orr_cfg_get(file, "plugin_path") : NULL;
    if (pp && (rc = resolve_plugin_dirs(si, pp, e)))
        return rc;
    /* The environment outranks the file for the log threshold. */
    const char *lv = file ? orr_cfg_str(file, "log_level", NULL) : NULL;
    const char *env = getenv("ORRERY_LOG");
    if (lv && !(env && env[0]))
        orr_log_set_level(orr_log_level_from_name(lv));
    return ORR_OK;
}

ORR_API int orr_site_load(struct orr_site **out, const char *explicit_path,
                          struct orr_error *e)
{
    struct site_impl *si = calloc(1, sizeof *si);
    struct orr_cfg *file = NULL;
    char *display = NULL;
    char abs[PATH_CAP];
    int rc;
    *out = NULL;
    if (!si)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    if ((rc = locate(si, explicit_path, &display, e)))
        goto fail;
    if (display) {
        if ((rc = orri_path_absolute(abs, sizeof abs, display, e)))
            goto fail;
        if (!(si->pub.path = strdup(abs))) {
            rc = orr_fail(e, ORR_ENOMEM, "out of memory");
            goto fail;
        }
        if ((rc = orri_sandbox_eval(display, display, &file, e)) ||
            (rc = validate(file, display, e)))
            goto fail;
    }
    si->pub.root = make_defaults(orr_cfg_str(file, "root", ".orrery"), file);
    if (!si->pub.root) {
        rc = orr_fail(e, ORR_ENOMEM, "out of memory");
        goto fail;
    }
    if (file && orr_cfg_merge(si->pub.root, file)) {
        rc = orr_fail(e, ORR_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = resolve(si, file, e)))
        goto fail;
    orr_cfg_free(file);
    free(display);
    *out = &si->pub;
    return ORR_OK;
fail:
    orr_cfg_free(file);
    free(display);
    orr_site_free(&si->pub);
    return rc;
}

ORR_API void orr_site_free(struct orr_site *s)
{
    if (!s)
        return;
    struct site_impl *si = (struct site_impl *)s;
    orr_cfg_free(s->root);
    free(s->path);
    free(s->dir);
    free(s->db_path);
    for (size_t i = 0; i < si->n_plugin_dirs; i++)
        free(si->plugin_dirs[i]);
    free(si->plugin_dirs);
    for (size_t i = 0; i < si->n_searched; i++)
        free(si->searched[i]);
    free(si);
}

ORR_API const char *orr_site_backend(const struct orr_site *s,
                                     enum orr_kind kind)
{
    if ((unsigned)kind >= ORR_KIND_COUNT || !default_backend[kind])
        return NULL;
    const struct orr_cfg *sec = s ? orr_cfg_child(s->root, kind_names[kind])
                                  : NULL;
    return orr_cfg_str(sec, "backend", default_backend[kind]);
}

ORR_API const struct orr_cfg *orr_site_backend_cfg(const struct orr_site *s,
                                                   enum orr_kind kind,
                                                   const char *name)
{
    if (!s || !name || (unsigned)kind >= ORR_KIND_COUNT || strchr(name, '.'))
        return NULL;
    const struct orr_cfg *sec = orr_cfg_child(s->root, kind_names[kind]);
    const struct orr_cfg *own = orr_cfg_child(sec, name);
    if (own)
        return own;
    const char *b = orr_cfg_str(sec, "backend", NULL);
    return b && !strcmp(b, name) ? sec : NULL;
}

ORR_API size_t orr_site_plugin_paths(const struct orr_site *s,
                                     const char **out, size_t cap)
{
    const struct site_impl *si = (const struct site_impl *)s;
    size_t n = 0;
    for (; si && n < si->n_plugin_dirs && n < cap; n++)
        out[n] = si->plugin_dirs[n];
    return n;
}

ORR_API size_t orr_site_searched(const struct orr_site *s, const char **out,
                                 size_t cap)
{
    const struct site_impl *si = (const struct site_impl *)s;
    size_t n = 0;
    for (; si && n < si->n_searched && n < cap; n++)
        out[n] = si->searched[n];
    return n;
}
