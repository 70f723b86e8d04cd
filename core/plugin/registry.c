/*
 * plugin/registry.c - the plugin loader and the backend registry.
 *
 * A plugin is checked in the order that lets every refusal name the exact
 * reason without running any of its code first: the file opens, it exports
 * the descriptor symbol, the ABI major/minor fit, the descriptor fields are
 * filled, the name is free.  Only then does its init run; every vtable
 * init registers is validated as it arrives, and a plugin that registered
 * one bad vtable is refused as a whole even if its init ignored the error.
 */
#include "plugin/registry.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/site.h"
#include "plugin/host.h"
#include "util/buf.h"
#include "util/error.h"

struct plugin {
    struct orr_plugin_info        info;   /* path owned; other strings are
                                             the plugin's static data      */
    void                         *handle;
    const struct orr_plugin_desc *desc;
};

/* A file already tried, by identity, so that the same file reached
 * through two directories or names is not loaded twice. */
struct file_id {
    dev_t dev;
    ino_t ino;
};

struct orr_registry {
    char               **dirs;
    size_t               n_dirs;
    struct plugin      **plugins;
    size_t               n_plugins, cap_plugins;
    struct orr_backend **backends;
    size_t               n_backends, cap_backends;
    struct orr_refusal  *refusals;
    size_t               n_refusals, cap_refusals;
    struct file_id      *tried;
    size_t               n_tried, cap_tried;
    /* While a plugin's init runs: whose registrations these are, and the
     * first registration error. */
    const struct orr_plugin_info *loading;
    int                  add_rc;
    char                 add_msg[ORR_ERROR_MSG_SIZE];
};

/* Grow `*arr` (of `elem`-byte items) so that it holds at least `n` + 1. */
static int grow(void *arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return ORR_OK;
    size_t ncap = *cap ? *cap * 2 : 8;
    if (ncap > (size_t)-1 / elem)
        return ORR_ENOMEM;
    void *p = realloc(*(void **)arr, ncap * elem);
    if (!p)
        return ORR_ENOMEM;
    *(void **)arr = p;
    *cap = ncap;
    return ORR_OK;
}

int orri_plugin_status(int rc, struct orr_error *e)
{
    if (rc == ORR_OK)
        return ORR_OK;
    if (rc < 0 || rc >= ORR_STATUS_LAST)
        rc = ORR_EBACKEND;
    if (e) {
        e->code = rc;
        if (!e->msg[0])
            orr_fail(e, rc, "%s", orr_strerror(rc));
    }
    return rc;
}

ORR_API int orr_registry_new(struct orr_registry **out,
                             const char *const *dirs, size_t n_dirs,
                             struct orr_error *e)
{
    *out = NULL;
    struct orr_registry *r = calloc(1, sizeof *r);
    if (!r)
        goto fail;
    if (n_dirs && !(r->dirs = calloc(n_dirs, sizeof *r->dirs)))
        goto fail;
    for (size_t i = 0; i < n_dirs; i++) {
        if (!dirs[i])
            continue;
        if (!(r->dirs[r->n_dirs] = strdup(dirs[i])))
            goto fail;
        r->n_dirs++;
    }
    *out = r;
    return ORR_OK;
fail:
    orr_registry_free(r);
    return orr_fail(e, ORR_ENOMEM, "plugin registry: out of memory");
}

static void free_backends_from(struct orr_registry *r, size_t from)
{
    while (r->n_backends > from)
        free(r->backends[--r->n_backends]);
}

ORR_API void orr_registry_free(struct orr_registry *r)
{
    if (!r)
        return;
    free_backends_from(r, 0);
    free(r->backends);
    /* Unload in reverse order of loading, like destructors. */
    for (size_t i = r->n_plugins; i-- > 0;) {
        struct plugin *p = r->plugins[i];
        if (p->desc->fini)
            p->desc->fini();
        dlclose(p->handle);
        free((char *)p->info.path);
        free(p);
    }
    free(r->plugins);
    for (size_t i = 0; i < r->n_refusals; i++) {
        free((char *)r->refusals[i].path);
        free((char *)r->refusals[i].reason);
    }
    free(r->refusals);
    free(r->tried);
    for (size_t i = 0; i < r->n_dirs; i++)
        free(r->dirs[i]);
    free(r->dirs);
    free(r);
}

/* Record a refusal of `path` and fill `e` with "<path>: <reason>". */
static int refuse(struct orr_registry *r, const char *path, int code,
                  struct orr_error *e, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int refuse(struct orr_registry *r, const char *path, int code,
                  struct orr_error *e, const char *fmt, ...)
{
    char reason[ORR_ERROR_MSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    orr_fail(e, code, "%s: %s", path, reason);
    if (grow(&r->refusals, &r->cap_refusals, r->n_refusals,
             sizeof *r->refusals))
        return code;
    struct orr_refusal *f = &r->refusals[r->n_refusals];
    f->path = strdup(path);
    f->reason = strdup(reason);
    f->code = code;
    if (!f->path || !f->reason) {
        free((char *)f->path);
        free((char *)f->reason);
        return code;
    }
    r->n_refusals++;
    return code;
}

static int was_tried(const struct orr_registry *r, const struct stat *st)
{
    for (size_t i = 0; i < r->n_tried; i++)
        if (r->tried[i].dev == st->st_dev && r->tried[i].ino == st->st_ino)
            return 1;
    return 0;
}

static void note_tried(struct orr_registry *r, const struct stat *st)
{
    if (was_tried(r, st) ||
        grow(&r->tried, &r->cap_tried, r->n_tried, sizeof *r->tried))
        return;
    r->tried[r->n_tried].dev = st->st_dev;
    r->tried[r->n_tried].ino = st->st_ino;
    r->n_tried++;
}

static const struct plugin *plugin_named(const struct orr_registry *r,
                                         const char *name)
{
    for (size_t i = 0; i < r->n_plugins; i++)
        if (!strcmp(r->plugins[i]->info.name, name))
            return r->plugins[i];
    return NULL;
}

static const char *empty_field(const struct orr_plugin_desc *d)
{
    if (!d->name || !*d->name)
        return "name";
    if (!d->version || !*d->version)
        return "version";
    if (!d->license || !*d->license)
        return "license";
    if (!d->summary || !*d->summary)
        return "summary";
    if (!d->init)
        return "init";
    return NULL;
}

/* dlerror() text usually starts with the path again; drop it. */
static const char *dl_reason(const char *path)
{
    const char *msg = dlerror();
    if (!msg)
        return "unknown dlopen error";
    size_t n = strlen(path);
    if (!strncmp(msg, path, n) && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg;
}

ORR_API int orr_registry_load_file(struct orr_registry *r, const char *path,
                                   struct orr_error *e)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return refuse(r, path, ORR_ENOTFOUND, e, "%s", strerror(errno));
    note_tried(r, &st);
    if (!S_ISREG(st.st_mode))
        return refuse(r, path, ORR_EINVAL, e, "not a regular file");

    /* Without a slash dlopen would search the library path instead. */
    char local[4096];
    const char *open_path = path;
    if (!strchr(path, '/')) {
        if ((size_t)snprintf(local, sizeof local, "./%s", path) >=
            sizeof local)
            return refuse(r, path, ORR_EINVAL, e, "path too long");
        open_path = local;
    }
    void *h = dlopen(open_path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return refuse(r, path, ORR_EABI, e, "cannot load: %s",
                      dl_reason(open_path));

    int rc = ORR_OK;
    struct plugin *p = NULL;
    void *sym = dlsym(h, ORR_PLUGIN_SYMBOL);
    if (!sym) {
        rc = refuse(r, path, ORR_EABI, e,
                    "not an Orrery plugin: no %s symbol", ORR_PLUGIN_SYMBOL);
        goto fail;
    }
    orr_plugin_describe_fn describe;
    memcpy(&describe, &sym, sizeof describe);
    const struct orr_plugin_desc *d = describe();
    if (!d) {
        rc = refuse(r, path, ORR_EABI, e, "%s returned NULL",
                    ORR_PLUGIN_SYMBOL);
        goto fail;
    }
    if (d->abi_major != ORR_ABI_MAJOR) {
        rc = refuse(r, path, ORR_EABI, e,
                    "ABI major %u, this orrery has %u: rebuild the plugin "
                    "against SDK %u.x",
                    d->abi_major, ORR_ABI_MAJOR, ORR_ABI_MAJOR);
        goto fail;
    }
    if (d->abi_minor > ORR_ABI_MINOR) {
        rc = refuse(r, path, ORR_EABI, e,
                    "ABI %u.%u is newer than this orrery's %u.%u: upgrade "
                    "orrery or rebuild the plugin against SDK %u.%u",
                    d->abi_major, d->abi_minor, ORR_ABI_MAJOR, ORR_ABI_MINOR,
                    ORR_ABI_MAJOR, ORR_ABI_MINOR);
        goto fail;
    }
    const char *missing = empty_field(d);
    if (missing) {
        rc = refuse(r, path, ORR_EINVAL, e,
                    "descriptor field '%s' is %s", missing,
                    strcmp(missing, "init") ? "empty" : "NULL");
        goto fail;
    }
    const struct plugin *first = plugin_named(r, d->name);
    if (first) {
        rc = refuse(r, path, ORR_EEXIST, e,
                    "plugin name '%s' is already loaded from %s", d->name,
                    first->info.path);
        goto fail;
    }

    if (grow(&r->plugins, &r->cap_plugins, r->n_plugins, sizeof *r->plugins)
        || !(p = calloc(1, sizeof *p)) || !(p->info.path = strdup(path))) {
        rc = refuse(r, path, ORR_ENOMEM, e, "out of memory");
        goto fail;
    }
    p->handle = h;
    p->desc = d;
    p->info.name = d->name;
    p->info.version = d->version;
    p->info.license = d->license;
    p->info.summary = d->summary;
    p->info.abi_major = d->abi_major;
    p->info.abi_minor = d->abi_minor;

    size_t mark = r->n_backends;
    struct orr_error ie = {0};
    r->loading = &p->info;
    r->add_rc = ORR_OK;
    r->add_msg[0] = '\0';
    rc = d->init(orri_host_table(), r, &ie);
    r->loading = NULL;
    if (rc != ORR_OK || r->add_rc != ORR_OK) {
        free_backends_from(r, mark);
        if (rc == ORR_OK && d->fini)    /* init succeeded: undo it */
            d->fini();
        if (r->add_rc != ORR_OK)
            rc = refuse(r, path, r->add_rc, e, "%s", r->add_msg);
        else {
            rc = orri_plugin_status(rc, &ie);
            rc = refuse(r, path, rc, e, "init failed: %s", ie.msg);
        }
        goto fail;
    }
    r->plugins[r->n_plugins++] = p;
    return ORR_OK;
fail:
    if (p) {
        free((char *)p->info.path);
        free(p);
    }
    dlclose(h);
    return rc;
}

/* ---- registration ------------------------------------------------------ */

/* Record the first registration error of the plugin being loaded. */
static int add_fail(struct orr_registry *r, struct orr_error *e, int code,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int add_fail(struct orr_registry *r, struct orr_error *e, int code,
                    const char *fmt, ...)
{
    char msg[ORR_ERROR_MSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->add_rc == ORR_OK) {
        r->add_rc = code;
        memcpy(r->add_msg, msg, sizeof msg);
    }
    return orr_fail(e, code, "%s", msg);
}

static const struct orr_backend *lookup(const struct orr_registry *r,
                                        enum orr_kind kind, const char *name)
{
    for (size_t i = 0; i < r->n_backends; i++)
        if (r->backends[i]->kind == kind &&
            !strcmp(r->backends[i]->name, name))
            return r->backends[i];
    return NULL;
}

static const struct orr_backend *lookup_flavor(const struct orr_registry *r,
                                               const char *flavor)
{
    for (size_t i = 0; i < r->n_backends; i++) {
        const struct orr_backend *b = r->backends[i];
        if (b->kind == ORR_KIND_TRAINER && b->ops.trainer.flavor &&
            !strcmp(b->ops.trainer.flavor, flavor))
            return b;
    }
    return NULL;
}

/* The vtable version each kind's host struct knows, and how many bytes of
 * the plugin's struct a version covers.  A new version appends members:
 * add its size here when the header grows. */
static unsigned known_version(enum orr_kind kind)
{
    switch (kind) {
    case ORR_KIND_STORAGE:      return ORR_STORAGE_OPS_VERSION;
    case ORR_KIND_ORCHESTRATOR: return ORR_ORCHESTRATOR_OPS_VERSION;
    case ORR_KIND_TRAINER:      return ORR_TRAINER_OPS_VERSION;
    case ORR_KIND_SERVER:       return ORR_SERVER_OPS_VERSION;
    case ORR_KIND_MONITOR:      return ORR_MONITOR_OPS_VERSION;
    case ORR_KIND_COUNT:        break;
    }
    return 0;
}

static size_t covered_size(enum orr_kind kind, unsigned version)
{
    (void)version;      /* every kind is at version 1: the whole struct */
    switch (kind) {
    case ORR_KIND_STORAGE:      return sizeof(struct orr_storage_ops);
    case ORR_KIND_ORCHESTRATOR: return sizeof(struct orr_orchestrator_ops);
    case ORR_KIND_TRAINER:      return sizeof(struct orr_trainer_ops);
    case ORR_KIND_SERVER:       return sizeof(struct orr_server_ops);
    case ORR_KIND_MONITOR:      return sizeof(struct orr_monitor_ops);
    case ORR_KIND_COUNT:        break;
    }
    return 0;
}

#define NEED(o, member)                                                      \
    do {                                                                     \
        if (!(o)->member)                                                    \
            return #member;                                                  \
    } while (0)

/* The name of the first NULL mandatory member, or NULL. */
static const char *missing_member(const struct orr_backend *b)
{
    switch (b->kind) {
    case ORR_KIND_STORAGE: {
        const struct orr_storage_ops *o = &b->ops.storage;
        NEED(o, open); NEED(o, close); NEED(o, put); NEED(o, get);
        NEED(o, stat); NEED(o, list); NEED(o, remove);
        return NULL;
    }
    case ORR_KIND_ORCHESTRATOR: {
        const struct orr_orchestrator_ops *o = &b->ops.orchestrator;
        NEED(o, open); NEED(o, close); NEED(o, capacity); NEED(o, submit);
        NEED(o, poll); NEED(o, cancel);
        return NULL;
    }
    case ORR_KIND_TRAINER: {
        const struct orr_trainer_ops *o = &b->ops.trainer;
        NEED(o, open); NEED(o, close); NEED(o, fit);
        if (o->flavor) {
            NEED(o, load); NEED(o, info); NEED(o, predict); NEED(o, unload);
        }
        return NULL;
    }
    case ORR_KIND_SERVER: {
        const struct orr_server_ops *o = &b->ops.server;
        NEED(o, open); NEED(o, close); NEED(o, start); NEED(o, bound_port);
        NEED(o, deploy); NEED(o, undeploy); NEED(o, stop);
        return NULL;
    }
    case ORR_KIND_MONITOR: {
        const struct orr_monitor_ops *o = &b->ops.monitor;
        NEED(o, open); NEED(o, close);
        if (!o->analyze && !o->notify)
            return "analyze' or 'notify";
        return NULL;
    }
    case ORR_KIND_COUNT:
        break;
    }
    return NULL;
}

#undef NEED

/* Every ops struct starts with the same four members; read them through
 * the storage layout's twin so the checks before copying are generic. */
struct ops_head {
    unsigned    version;
    const char *name;
    const char *summary;
    size_t      self_size;
};

int orri_registry_add(struct orr_registry *r, enum orr_kind kind,
                      const void *ops, struct orr_error *e)
{
    if ((unsigned)kind >= ORR_KIND_COUNT)
        return orr_fail(e, ORR_EINVAL, "unknown backend kind %d", (int)kind);
    const char *kn = orr_kind_name(kind);
    if (!r || !r->loading)
        return orr_fail(e, ORR_EINVAL,
                        "%s backends can only be registered from a "
                        "plugin's init", kn);
    if (!ops)
        return add_fail(r, e, ORR_EINVAL, "add_%s: ops is NULL", kn);
    struct ops_head head;
    memcpy(&head, ops, sizeof head);
    if (!head.name || !*head.name)
        return add_fail(r, e, ORR_EINVAL, "%s backend with an empty name",
                        kn);
    unsigned known = known_version(kind);
    if (head.version == 0)
        return add_fail(r, e, ORR_EABI,
                        "%s backend '%s': vtable version 0 is invalid",
                        kn, head.name);
    if (head.version > known)
        return add_fail(r, e, ORR_EABI,
                        "%s backend '%s': vtable version %u is newer than "
                        "this orrery's %u: upgrade orrery or rebuild the "
                        "plugin against SDK %u.%u",
                        kn, head.name, head.version, known, ORR_ABI_MAJOR,
                        ORR_ABI_MINOR);

    struct orr_backend *b = calloc(1, sizeof *b);
    if (!b)
        return add_fail(r, e, ORR_ENOMEM, "out of memory");
    memcpy(&b->ops, ops, covered_size(kind, head.version));
    b->kind = kind;
    b->name = head.name;
    b->summary = head.summary ? head.summary : "";
    b->ops_version = head.version;
    b->self_size = head.self_size;
    b->plugin = r->loading;

    int rc = ORR_OK;
    const char *slot = missing_member(b);
    if (slot) {
        rc = add_fail(r, e, ORR_EINVAL,
                      "%s backend '%s': mandatory member '%s' is NULL", kn,
                      b->name, slot);
        goto fail;
    }
    const struct orr_backend *dup = lookup(r, kind, b->name);
    if (dup) {
        rc = add_fail(r, e, ORR_EEXIST,
                      "%s backend '%s' is already registered by plugin "
                      "'%s' (%s)", kn, b->name, dup->plugin->name,
                      dup->plugin->path);
        goto fail;
    }
    if (kind == ORR_KIND_TRAINER && b->ops.trainer.flavor) {
        const struct orr_trainer_ops *t = &b->ops.trainer;
        size_t flen = strlen(t->flavor);
        const struct orr_backend *other;
        if (flen == 0 || flen >= ORR_FLAVOR_SIZE)
            rc = add_fail(r, e, ORR_EINVAL,
                          "trainer backend '%s': flavor must be 1 to %d "
                          "characters (NULL for no runtime)", b->name,
                          ORR_FLAVOR_SIZE - 1);
        else if (t->model_size == 0)
            rc = add_fail(r, e, ORR_EINVAL,
                          "trainer backend '%s': flavor '%s' needs "
                          "model_size > 0", b->name, t->flavor);
        else if ((other = lookup_flavor(r, t->flavor)))
            rc = add_fail(r, e, ORR_EEXIST,
                          "trainer backend '%s': flavor '%s' is already "
                          "provided by trainer '%s' (%s)", b->name,
                          t->flavor, other->name, other->plugin->path);
        if (rc)
            goto fail;
    }
    if (grow(&r->backends, &r->cap_backends, r->n_backends,
             sizeof *r->backends)) {
        rc = add_fail(r, e, ORR_ENOMEM, "out of memory");
        goto fail;
    }
    r->backends[r->n_backends++] = b;
    return ORR_OK;
fail:
    free(b);
    return rc;
}

/* ---- lookup and lazy loading -------------------------------------------- */

struct want {
    enum orr_kind kind;
    const char   *name;         /* backend name, or NULL                    */
    const char   *flavor;       /* trainer flavor, or NULL                  */
};

static const struct orr_backend *match(const struct orr_registry *r,
                                       const struct want *w)
{
    return w->flavor ? lookup_flavor(r, w->flavor)
                     : lookup(r, w->kind, w->name);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Load `dir`/`file` if it is a file not tried yet. */
static void try_file(struct orr_registry *r, const char *dir,
                     const char *file)
{
    char path[4096];
    struct stat st;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >=
        sizeof path)
        return;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || was_tried(r, &st))
        return;
    struct orr_error ignored;
    orr_registry_load_file(r, path, &ignored);   /* refusal is recorded */
}

/* Load every untried "*.so" in the search path whose name starts with
 * `prefix` (NULL: any), in directory order then name order, stopping as
 * soon as `w` (if non-NULL) is satisfied. */
static const struct orr_backend *load_matching(struct orr_registry *r,
                                               const char *prefix,
                                               const struct want *w)
{
    for (size_t i = 0; i < r->n_dirs; i++) {
        struct dirent **names = NULL;
        int n = scandir(r->dirs[i], &names, NULL, alphasort);
        const struct orr_backend *found = NULL;
        for (int k = 0; k < n; k++) {
            const char *f = names[k]->d_name;
            if (!found && f[0] != '.' && has_suffix(f, ".so") &&
                (!prefix || !strncmp(f, prefix, strlen(prefix)))) {
                try_file(r, r->dirs[i], f);
                if (w)
                    found = match(r, w);
            }
            free(names[k]);
        }
        free(names);
        if (found)
            return found;
    }
    return NULL;
}

static const struct orr_backend *load_lazily(struct orr_registry *r,
                                             const struct want *w)
{
    const struct orr_backend *b = match(r, w);
    if (b)
        return b;
    const char *kn = orr_kind_name(w->kind);
    char file[512];
    snprintf(file, sizeof file, "%s-%s.so", kn, w->flavor ? w->flavor
                                                          : w->name);
    for (size_t i = 0; i < r->n_dirs; i++) {
        try_file(r, r->dirs[i], file);
        if ((b = match(r, w)))
            return b;
    }
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s-", kn);
    if ((b = load_matching(r, prefix, w)))
        return b;
    return load_matching(r, NULL, w);
}

/* The refusal of the file that should have provided `w`, if any. */
static const struct orr_refusal *refusal_of(const struct orr_registry *r,
                                            const char *file)
{
    for (size_t i = r->n_refusals; i-- > 0;) {
        const char *slash = strrchr(r->refusals[i].path, '/');
        const char *base = slash ? slash + 1 : r->refusals[i].path;
        if (!strcmp(base, file))
            return &r->refusals[i];
    }
    return NULL;
}

static int not_found(const struct orr_registry *r, const struct want *w,
                     struct orr_error *e)
{
    const char *kn = orr_kind_name(w->kind);
    const char *what = w->flavor ? w->flavor : w->name;
    char file[512];
    snprintf(file, sizeof file, "%s-%s.so", kn, what);
    const struct orr_refusal *f = refusal_of(r, file);
    if (f)
        return orr_fail(e, f->code, "%s %s '%s' is unavailable: %s: %s", kn,
                        w->flavor ? "flavor" : "backend", what, f->path,
                        f->reason);

    struct orr_buf known = ORR_BUF_INIT;
    for (size_t i = 0; i < r->n_backends; i++) {
        const struct orr_backend *b = r->backends[i];
        const char *label = w->flavor ? b->ops.trainer.flavor : b->name;
        if (b->kind != w->kind || !label)
            continue;
        orri_buf_printf(&known, "%s%s", known.len ? ", " : "", label);
    }
    int rc = orr_fail(e, ORR_ENOTFOUND,
                      "unknown %s %s '%s' (known: %s); put its plugin (%s) "
                      "in a directory on ORRERY_PLUGIN_PATH or the site's "
                      "plugin_path, and see 'orrery plugins'",
                      w->flavor ? "model" : kn,
                      w->flavor ? "flavor" : "backend", what,
                      known.data ? known.data : "none", file);
    orri_buf_free(&known);
    return rc;
}

ORR_API int orr_registry_find(struct orr_registry *r, enum orr_kind kind,
                              const char *name,
                              const struct orr_backend **out,
                              struct orr_error *e)
{
    *out = NULL;
    if ((unsigned)kind >= ORR_KIND_COUNT)
        return orr_fail(e, ORR_EINVAL, "unknown backend kind %d", (int)kind);
    if (!name || !*name)
        return orr_fail(e, ORR_EINVAL, "no %s backend name given",
                        orr_kind_name(kind));
    struct want w = {kind, name, NULL};
    if (!(*out = load_lazily(r, &w)))
        return not_found(r, &w, e);
    return ORR_OK;
}

ORR_API int orr_registry_find_flavor(struct orr_registry *r,
                                     const char *flavor,
                                     const struct orr_backend **out,
                                     struct orr_error *e)
{
    *out = NULL;
    if (!flavor || !*flavor)
        return orr_fail(e, ORR_EINVAL, "no model flavor given");
    struct want w = {ORR_KIND_TRAINER, NULL, flavor};
    if (!(*out = load_lazily(r, &w)))
        return not_found(r, &w, e);
    return ORR_OK;
}

ORR_API void orr_registry_load_all(struct orr_registry *r)
{
    load_matching(r, NULL, NULL);
}

/* ---- enumeration ------------------------------------------------------- */

ORR_API size_t orr_registry_plugin_count(const struct orr_registry *r)
{
    return r->n_plugins;
}

ORR_API const struct orr_plugin_info *
orr_registry_plugin_at(const struct orr_registry *r, size_t i)
{
    return i < r->n_plugins ? &r->plugins[i]->info : NULL;
}

ORR_API size_t orr_registry_backend_count(const struct orr_registry *r)
{
    return r->n_backends;
}

ORR_API const struct orr_backend *
orr_registry_backend_at(const struct orr_registry *r, size_t i)
{
    return i < r->n_backends ? r->backends[i] : NULL;
}

ORR_API size_t orr_registry_refusal_count(const struct orr_registry *r)
{
    return r->n_refusals;
}

ORR_API const struct orr_refusal *
orr_registry_refusal_at(const struct orr_registry *r, size_t i)
{
    return i < r->n_refusals ? &r->refusals[i] : NULL;
}

ORR_API size_t orr_registry_dir_count(const struct orr_registry *r)
{
    return r->n_dirs;
}

ORR_API const char *orr_registry_dir_at(const struct orr_registry *r,
                                        size_t i)
{
    return i < r->n_dirs ? r->dirs[i] : NULL;
}
