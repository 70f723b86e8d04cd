/*
 * test_host.c - a stand-alone struct orr_host for testing plugins without
 * the core (see orrery/conformance/test_host.h).
 *
 * Deliberately small and dependency-free (libc and libdl) so a third party
 * can compile it into their own tests from share/orrery/conformance/.
 */
#include <orrery/conformance/test_host.h>

#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PER_KIND 32

/* ---- memory ------------------------------------------------------------ */

static void *th_alloc(size_t n)
{
    return malloc(n ? n : 1);
}

static void *th_calloc(size_t count, size_t n)
{
    return calloc(count ? count : 1, n ? n : 1);
}

static void *th_realloc(void *p, size_t n)
{
    return realloc(p, n ? n : 1);
}

static void th_free(void *p)
{
    free(p);
}

/* ---- diagnostics ------------------------------------------------------- */

static FILE *log_file;
static int   log_file_set;
static int   log_max = ORR_LOG_WARN;

void orr_test_host_set_log(FILE *f, int max_level)
{
    log_file = f;
    log_file_set = 1;
    log_max = max_level;
}

static void th_log(int level, const char *who, const char *fmt, ...)
    ORR_PRINTF(3, 4);
static void th_log(int level, const char *who, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    FILE *f = log_file_set ? log_file : stderr;
    if (!f || level > log_max || level < 0)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One fprintf per line: stdio locks the stream, so threads do not
     * interleave inside a line. */
    fprintf(f, "[%s] %s: %s\n", names[level], who ? who : "?", line);
}

static int th_fail(struct orr_error *e, int code, const char *fmt, ...)
    ORR_PRINTF(3, 4);
static int th_fail(struct orr_error *e, int code, const char *fmt, ...)
{
    if (!e)
        return code;
    /* Through a copy: the arguments may point into e->msg. */
    char msg[ORR_ERROR_MSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    e->code = code;
    memcpy(e->msg, msg, sizeof msg);
    return code;
}

static const char *th_strerror(int code)
{
    static const char *const text[] = {
        [ORR_OK] = "success",
        [ORR_ENOMEM] = "out of memory",
        [ORR_EINVAL] = "invalid argument",
        [ORR_ENOTFOUND] = "not found",
        [ORR_EIO] = "input/output error",
        [ORR_ETIMEDOUT] = "timed out",
        [ORR_EUNSUPPORTED] = "not supported",
        [ORR_EABI] = "incompatible plugin",
        [ORR_EBACKEND] = "backend error",
        [ORR_ECORRUPT] = "data corrupt",
        [ORR_EEXIST] = "already exists",
        [ORR_EPERM] = "permission denied",
        [ORR_ECONFIG] = "invalid configuration",
        [ORR_ESCRIPT] = "script error",
        [ORR_ECANCELED] = "cancelled",
        [ORR_EBUSY] = "busy",
        [ORR_ENETWORK] = "network error",
    };
    if (code < 0 || code >= ORR_STATUS_LAST || !text[code])
        return "unknown status";
    return text[code];
}

/* ---- configuration ----------------------------------------------------- */

struct orr_cfg {
    size_t n, cap;
    char **keys;
    char **vals;
};

struct orr_cfg *orr_test_cfg_new(void)
{
    return calloc(1, sizeof(struct orr_cfg));
}

void orr_test_cfg_free(struct orr_cfg *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->keys[i]);
        free(c->vals[i]);
    }
    free(c->keys);
    free(c->vals);
    free(c);
}

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static int cfg_set_n(struct orr_cfg *c, const char *key, size_t klen,
                     const char *value)
{
    char *v = dup_n(value, strlen(value));
    if (!v)
        return ORR_ENOMEM;
    for (size_t i = 0; i < c->n; i++) {
        if (strlen(c->keys[i]) == klen && !memcmp(c->keys[i], key, klen)) {
            free(c->vals[i]);
            c->vals[i] = v;
            return ORR_OK;
        }
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 8;
        char **k = realloc(c->keys, cap * sizeof *k);
        if (k)
            c->keys = k;
        char **vv = k ? realloc(c->vals, cap * sizeof *vv) : NULL;
        if (!vv) {
            free(v);
            return ORR_ENOMEM;
        }
        c->vals = vv;
        c->cap = cap;
    }
    char *k = dup_n(key, klen);
    if (!k) {
        free(v);
        return ORR_ENOMEM;
    }
    c->keys[c->n] = k;
    c->vals[c->n++] = v;
    return ORR_OK;
}

int orr_test_cfg_set(struct orr_cfg *c, const char *key, const char *value)
{
    if (!c || !key || !*key || !value)
        return ORR_EINVAL;
    return cfg_set_n(c, key, strlen(key), value);
}

int orr_test_cfg_parse(struct orr_cfg *c, const char *assignment)
{
    const char *eq = assignment ? strchr(assignment, '=') : NULL;
    if (!c || !eq || eq == assignment)
        return ORR_EINVAL;
    return cfg_set_n(c, assignment, (size_t)(eq - assignment), eq + 1);
}

static const char *cfg_lookup(const struct orr_cfg *c, const char *key)
{
    if (!c || !key)
        return NULL;
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->keys[i], key))
            return c->vals[i];
    return NULL;
}

static const char *th_cfg_str(const struct orr_cfg *c, const char *key,
                              const char *def)
{
    const char *v = cfg_lookup(c, key);
    return v ? v : def;
}

static double th_cfg_num(const struct orr_cfg *c, const char *key, double def)
{
    const char *v = cfg_lookup(c, key);
    char *end;
    if (!v || !*v)
        return def;
    double d = strtod(v, &end);
    return *end ? def : d;
}

static int64_t th_cfg_int(const struct orr_cfg *c, const char *key,
                          int64_t def)
{
    const char *v = cfg_lookup(c, key);
    char *end;
    if (!v || !*v)
        return def;
    long long n = strtoll(v, &end, 10);
    return *end ? def : (int64_t)n;
}

static int th_cfg_bool(const struct orr_cfg *c, const char *key, int def)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    const char *v = cfg_lookup(c, key);
    if (!v)
        return def;
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i]))
            return 1;
        if (!strcasecmp(v, no[i]))
            return 0;
    }
    return def;
}

static const struct orr_cfg *th_cfg_child(const struct orr_cfg *c,
                                          const char *key)
{
    (void)c;
    (void)key;
    return NULL;
}

static int th_cfg_each(const struct orr_cfg *c, orr_cfg_fn fn, void *ctx)
{
    if (!c)
        return ORR_OK;
    /* Sorted order, as the core promises: a selection over the keys. */
    const char *last = NULL;
    for (size_t done = 0; done < c->n; done++) {
        size_t best = c->n;
        for (size_t i = 0; i < c->n; i++) {
            if (last && strcmp(c->keys[i], last) <= 0)
                continue;
            if (best == c->n || strcmp(c->keys[i], c->keys[best]) < 0)
                best = i;
        }
        if (best == c->n)
            break;
        int rc = fn(ctx, c->keys[best], c->vals[best]);
        if (rc)
            return rc;
        last = c->keys[best];
    }
    return ORR_OK;
}

/* ---- registration ------------------------------------------------------ */

struct orr_registry {
    const void *ops[ORR_KIND_COUNT][MAX_PER_KIND];
    size_t      n[ORR_KIND_COUNT];
};

struct orr_registry *orr_test_registry_new(void)
{
    return calloc(1, sizeof(struct orr_registry));
}

void orr_test_registry_free(struct orr_registry *r)
{
    free(r);
}

size_t orr_test_registry_count(const struct orr_registry *r,
                               enum orr_kind kind)
{
    if (!r || (unsigned)kind >= ORR_KIND_COUNT)
        return 0;
    return r->n[kind];
}

const void *orr_test_registry_at(const struct orr_registry *r,
                                 enum orr_kind kind, size_t i)
{
    if (i >= orr_test_registry_count(r, kind))
        return NULL;
    return r->ops[kind][i];
}

const struct orr_storage_ops *
orr_test_registry_storage(const struct orr_registry *r, const char *name)
{
    size_t n = orr_test_registry_count(r, ORR_KIND_STORAGE);
    for (size_t i = 0; i < n; i++) {
        const struct orr_storage_ops *ops = r->ops[ORR_KIND_STORAGE][i];
        if (!name || !strcmp(ops->name, name))
            return ops;
    }
    return NULL;
}

static int record(struct orr_registry *r, enum orr_kind kind, const void *ops,
                  struct orr_error *e)
{
    if (!r || !ops)
        return th_fail(e, ORR_EINVAL, "registration without registry/ops");
    if (r->n[kind] == MAX_PER_KIND)
        return th_fail(e, ORR_EINVAL, "too many backends of one kind");
    r->ops[kind][r->n[kind]++] = ops;
    return ORR_OK;
}

static int th_add_storage(struct orr_registry *r,
                          const struct orr_storage_ops *ops,
                          struct orr_error *e)
{
    if (!ops)
        return th_fail(e, ORR_EINVAL, "add_storage: NULL ops");
    if (ops->version == 0)
        return th_fail(e, ORR_EINVAL, "storage ops: version 0");
    if (ops->version > ORR_STORAGE_OPS_VERSION)
        return th_fail(e, ORR_EABI,
                       "storage ops version %u is newer than this host's %u",
                       ops->version, ORR_STORAGE_OPS_VERSION);
    if (!ops->name || !*ops->name)
        return th_fail(e, ORR_EINVAL, "storage ops: empty name");
    const char *missing = !ops->open     ? "open"
                          : !ops->close  ? "close"
                          : !ops->put    ? "put"
                          : !ops->get    ? "get"
                          : !ops->stat   ? "stat"
                          : !ops->list   ? "list"
                          : !ops->remove ? "remove"
                                         : NULL;
    if (missing)
        return th_fail(e, ORR_EINVAL,
                       "storage backend '%s' lacks mandatory member '%s'",
                       ops->name, missing);
    if (orr_test_registry_storage(r, ops->name))
        return th_fail(e, ORR_EEXIST, "storage backend '%s' registered twice",
                       ops->name);
    return record(r, ORR_KIND_STORAGE, ops, e);
}

static int th_add_orchestrator(struct orr_registry *r,
                               const struct orr_orchestrator_ops *ops,
                               struct orr_error *e)
{
    return record(r, ORR_KIND_ORCHESTRATOR, ops, e);
}

static int th_add_trainer(struct orr_registry *r,
                          const struct orr_trainer_ops *ops,
                          struct orr_error *e)
{
    return record(r, ORR_KIND_TRAINER, ops, e);
}

static int th_add_server(struct orr_registry *r,
                         const struct orr_server_ops *ops,
                         struct orr_error *e)
{
    return record(r, ORR_KIND_SERVER, ops, e);
}

static int th_add_monitor(struct orr_registry *r,
                          const struct orr_monitor_ops *ops,
                          struct orr_error *e)
{
    return record(r, ORR_KIND_MONITOR, ops, e);
}

/* ---- site services: inert ---------------------------------------------- */

static int th_log_metric(struct orr_run *run, const char *key, double value,
                         int64_t step, struct orr_error *e)
{
    (void)run, (void)key, (void)value, (void)step, (void)e;
    return ORR_OK;
}

static int th_log_param(struct orr_run *run, const char *key,
                        const char *value, struct orr_error *e)
{
    (void)run, (void)key, (void)value, (void)e;
    return ORR_OK;
}

static int th_artifact_put_file(struct orr_run *run, const char *path,
                                const char *kind,
                                char digest[ORR_DIGEST_HEX_LEN + 1],
                                struct orr_error *e)
{
    (void)run, (void)kind, (void)digest;
    return th_fail(e, ORR_EUNSUPPORTED,
                   "test host: no site storage for %s", path);
}

static int th_artifact_get_file(const char *digest, const char *path,
                                struct orr_error *e)
{
    (void)digest;
    return th_fail(e, ORR_EUNSUPPORTED,
                   "test host: no site storage for %s", path);
}

static int th_http(const struct orr_http_request *req,
                   struct orr_http_response *resp, struct orr_error *e)
{
    (void)resp;
    return th_fail(e, ORR_EUNSUPPORTED, "test host: no HTTP (%s)",
                   req && req->url ? req->url : "?");
}

static void th_model_ref(struct orr_model *m)
{
    (void)m;
}

static int th_model_info(const struct orr_model *m,
                         struct orr_model_info *info, struct orr_error *e)
{
    (void)m, (void)info;
    return th_fail(e, ORR_EUNSUPPORTED, "test host: no models");
}

static int th_model_predict(const struct orr_model *m,
                            const struct orr_matrix *x, struct orr_matrix *y,
                            struct orr_error *e)
{
    (void)m, (void)x, (void)y;
    return th_fail(e, ORR_EUNSUPPORTED, "test host: no models");
}

static const struct orr_host host_table = {
    .abi_major = ORR_ABI_MAJOR,
    .abi_minor = ORR_ABI_MINOR,
    .size = sizeof(struct orr_host),
    .alloc = th_alloc,
    .calloc = th_calloc,
    .realloc = th_realloc,
    .free = th_free,
    .log = th_log,
    .fail = th_fail,
    .strerror = th_strerror,
    .cfg_str = th_cfg_str,
    .cfg_num = th_cfg_num,
    .cfg_int = th_cfg_int,
    .cfg_bool = th_cfg_bool,
    .cfg_child = th_cfg_child,
    .cfg_each = th_cfg_each,
    .add_storage = th_add_storage,
    .add_orchestrator = th_add_orchestrator,
    .add_trainer = th_add_trainer,
    .add_server = th_add_server,
    .add_monitor = th_add_monitor,
    .log_metric = th_log_metric,
    .log_param = th_log_param,
    .set_tag = th_log_param,
    .artifact_put_file = th_artifact_put_file,
    .artifact_get_file = th_artifact_get_file,
    .http = th_http,
    .model_retain = th_model_ref,
    .model_release = th_model_ref,
    .model_info = th_model_info,
    .model_predict = th_model_predict,
};

const struct orr_host *orr_test_host(void)
{
    return &host_table;
}

/* ---- plugins ------------------------------------------------------------ */

struct orr_test_plugin {
    void                         *dl;
    const struct orr_plugin_desc *desc;
    struct orr_registry          *reg;
};

static int empty(const char *s)
{
    return !s || !*s;
}

int orr_test_plugin_load(const char *path, struct orr_test_plugin **out,
                         struct orr_error *e)
{
    *out = NULL;
    struct orr_test_plugin *p = calloc(1, sizeof *p);
    int rc;
    if (!p || !(p->reg = orr_test_registry_new())) {
        rc = th_fail(e, ORR_ENOMEM, "out of memory");
        goto fail;
    }
    p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!p->dl) {
        rc = th_fail(e, ORR_EABI, "%s", dlerror());
        goto fail;
    }
    void *sym = dlsym(p->dl, ORR_PLUGIN_SYMBOL);
    orr_plugin_describe_fn describe;
    if (!sym) {
        rc = th_fail(e, ORR_EABI, "%s: no symbol %s", path,
                     ORR_PLUGIN_SYMBOL);
        goto fail;
    }
    /* POSIX guarantees dlsym's object pointer converts to a function. */
    memcpy(&describe, &sym, sizeof describe);
    const struct orr_plugin_desc *d = describe();
    if (!d) {
        rc = th_fail(e, ORR_EABI, "%s: describe returned NULL", path);
        goto fail;
    }
    if (d->abi_major != ORR_ABI_MAJOR || d->abi_minor > ORR_ABI_MINOR) {
        rc = th_fail(e, ORR_EABI, "%s: ABI %u.%u, host has %u.%u", path,
                     d->abi_major, d->abi_minor, ORR_ABI_MAJOR,
                     ORR_ABI_MINOR);
        goto fail;
    }
    if (empty(d->name) || empty(d->version) || empty(d->license) ||
        empty(d->summary) || !d->init) {
        rc = th_fail(e, ORR_EINVAL, "%s: incomplete descriptor", path);
        goto fail;
    }
    p->desc = d;
    if ((rc = d->init(&host_table, p->reg, e)))
        goto fail;
    *out = p;
    return ORR_OK;
fail:
    if (p) {
        if (p->dl)
            dlclose(p->dl);
        orr_test_registry_free(p->reg);
        free(p);
    }
    return rc;
}

void orr_test_plugin_unload(struct orr_test_plugin *p)
{
    if (!p)
        return;
    if (p->desc && p->desc->fini)
        p->desc->fini();
    dlclose(p->dl);
    orr_test_registry_free(p->reg);
    free(p);
}

const struct orr_plugin_desc *
orr_test_plugin_desc(const struct orr_test_plugin *p)
{
    return p->desc;
}

struct orr_registry *orr_test_plugin_registry(const struct orr_test_plugin *p)
{
    return p->reg;
}

const struct orr_storage_ops *
orr_test_plugin_storage(const struct orr_test_plugin *p, const char *name)
{
    return orr_test_registry_storage(p->reg, name);
}

/* ---- storage instances -------------------------------------------------- */

int orr_test_storage_open(const struct orr_host *host,
                          const struct orr_storage_ops *ops,
                          const struct orr_cfg *cfg, void **self,
                          struct orr_error *e)
{
    *self = host->calloc(1, ops->self_size ? ops->self_size : 1);
    if (!*self)
        return host->fail(e, ORR_ENOMEM, "out of memory");
    int rc = ops->open(*self, cfg, e);
    if (rc) {
        ops->close(*self);
        host->free(*self);
        *self = NULL;
    }
    return rc;
}

void orr_test_storage_close(const struct orr_host *host,
                            const struct orr_storage_ops *ops, void *self)
{
    if (!self)
        return;
    ops->close(self);
    host->free(self);
}
