/*
 * plugin/host.c - the host table: what plugins may call in the core.
 *
 * Most members are the core's own functions with the SDK's signatures.
 * Those needing the site (artifacts, metadata without a run handle) act on
 * the core bound by orri_host_bind().  HTTP lives in a private module
 * loaded on first use (see net/http.h).
 */
#include "plugin/host.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cfg.h"
#include "core.h"
#include "meta/run_handle.h"
#include "net/http.h"
#include "plugin/model.h"
#include "plugin/registry.h"
#include "monitor/export.h"
#include "serve/plog.h"
#include "storage/artifacts.h"
#include "util/error.h"
#include "util/install_dirs.h"
#include "util/log.h"

static _Atomic(struct orr_core *) bound_core;

void orri_host_bind(struct orr_core *core)
{
    atomic_store(&bound_core, core);
}

/* ---- memory ------------------------------------------------------------- */

/* malloc(0) may return NULL, which a plugin would take for a failure. */
static void *h_alloc(size_t n)
{
    return malloc(n ? n : 1);
}

/* Checked here rather than trusting calloc, so the answer to an overflow
 * is always NULL (sanitizer allocators abort instead). */
static void *h_calloc(size_t count, size_t n)
{
    if (n && count > SIZE_MAX / n)
        return NULL;
    return calloc(count ? count : 1, n ? n : 1);
}

static void *h_realloc(void *p, size_t n)
{
    return realloc(p, n ? n : 1);
}

/* ---- registration ------------------------------------------------------- */

static int h_add_storage(struct orr_registry *r,
                         const struct orr_storage_ops *ops,
                         struct orr_error *e)
{
    return orri_registry_add(r, ORR_KIND_STORAGE, ops, e);
}

static int h_add_orchestrator(struct orr_registry *r,
                              const struct orr_orchestrator_ops *ops,
                              struct orr_error *e)
{
    return orri_registry_add(r, ORR_KIND_ORCHESTRATOR, ops, e);
}

static int h_add_trainer(struct orr_registry *r,
                         const struct orr_trainer_ops *ops,
                         struct orr_error *e)
{
    return orri_registry_add(r, ORR_KIND_TRAINER, ops, e);
}

static int h_add_server(struct orr_registry *r,
                        const struct orr_server_ops *ops, struct orr_error *e)
{
    return orri_registry_add(r, ORR_KIND_SERVER, ops, e);
}

static int h_add_monitor(struct orr_registry *r,
                         const struct orr_monitor_ops *ops,
                         struct orr_error *e)
{
    return orri_registry_add(r, ORR_KIND_MONITOR, ops, e);
}

/* ---- metadata ----------------------------------------------------------- */

/* The metadata store a run handle logs to. */
static int run_meta(struct orr_run *run, struct orr_meta **out,
                    struct orr_error *e)
{
    if (run->meta) {
        *out = run->meta;
        return ORR_OK;
    }
    struct orr_core *core = run->core ? run->core : atomic_load(&bound_core);
    if (!core)
        return orr_fail(e, ORR_EUNSUPPORTED,
                        "no metadata store: the run has no core");
    return orr_core_meta(core, out, e);
}

static int check_key(const char *what, const char *key, struct orr_error *e)
{
    if (!key || !*key)
        return orr_fail(e, ORR_EINVAL, "%s: empty key", what);
    return ORR_OK;
}

static int h_log_metric(struct orr_run *run, const char *key, double value,
                        int64_t step, struct orr_error *e)
{
    struct orr_meta *m;
    int rc;
    if (!run)
        return ORR_OK;
    if ((rc = check_key("log_metric", key, e)) ||
        (rc = run_meta(run, &m, e)))
        return rc;
    return orr_meta_log_metric(m, run->id, key, value, step, e);
}

static int h_log_param(struct orr_run *run, const char *key,
                       const char *value, struct orr_error *e)
{
    struct orr_meta *m;
    int rc;
    if (!run)
        return ORR_OK;
    if ((rc = check_key("log_param", key, e)) ||
        (rc = run_meta(run, &m, e)))
        return rc;
    return orr_meta_log_param(m, run->id, key, value ? value : "", e);
}

static int h_set_tag(struct orr_run *run, const char *key, const char *value,
                     struct orr_error *e)
{
    struct orr_meta *m;
    int rc;
    if (!run)
        return ORR_OK;
    if ((rc = check_key("set_tag", key, e)) || (rc = run_meta(run, &m, e)))
        return rc;
    return orr_meta_set_tag(m, run->id, key, value ? value : "", e);
}

/* ---- artifacts ---------------------------------------------------------- */

static struct orr_core *core_for(struct orr_run *run)
{
    if (run && run->core)
        return run->core;
    return atomic_load(&bound_core);
}

static int h_artifact_put_file(struct orr_run *run, const char *path,
                               const char *kind,
                               char digest[ORR_DIGEST_HEX_LEN + 1],
                               struct orr_error *e)
{
    struct orr_core *core = core_for(run);
    if (!core)
        return orr_fail(e, ORR_EUNSUPPORTED,
                        "artifact_put_file: no site storage (core not bound)");
    if (!path || !*path || !digest)
        return orr_fail(e, ORR_EINVAL, "artifact_put_file: bad arguments");
    struct orr_instance *st;
    int rc = orr_core_storage(core, &st, e);
    if (rc || (rc = orr_storage_put_file(st, path, digest, e)))
        return rc;
    if (!run)
        return ORR_OK;
    struct stat sb;
    if (stat(path, &sb) != 0)
        sb.st_size = 0;     /* stored already; the size is informative */
    struct orr_meta *m;
    if ((rc = run_meta(run, &m, e)))
        return rc;
    const char *slash = strrchr(path, '/');
    return orr_meta_artifact(m, run->step_id, ORR_EVENT_OUTPUT, digest,
                             (uint64_t)sb.st_size,
                             kind && *kind ? kind : "file",
                             slash ? slash + 1 : path, e);
}

static int h_artifact_get_file(const char *digest, const char *path,
                               struct orr_error *e)
{
    struct orr_core *core = atomic_load(&bound_core);
    if (!core)
        return orr_fail(e, ORR_EUNSUPPORTED,
                        "artifact_get_file: no site storage (core not bound)");
    if (!digest || !path || !*path)
        return orr_fail(e, ORR_EINVAL, "artifact_get_file: bad arguments");
    struct orr_instance *st;
    int rc = orr_core_storage(core, &st, e);
    if (rc)
        return rc;
    return orr_storage_get_file(st, digest, path, e);
}

/* ---- network ------------------------------------------------------------ */

static pthread_once_t net_once = PTHREAD_ONCE_INIT;
static orri_net_http_fn net_fn;
static struct orr_error net_error;

/* The module is loaded once and stays resident: a handle in use by other
 * threads must never be closed. */
static void net_load(void)
{
    char own[PATH_MAX];
    const char *dir = getenv("ORRERY_LIBEXEC_DIR");
    if (!dir || !*dir)
        dir = orri_install_dir(ORRI_DIR_LIBEXEC, own, sizeof own);
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, ORRI_NET_MODULE) >=
        sizeof path) {
        orr_fail(&net_error, ORR_EINVAL, "%s: path too long", dir);
        return;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        orr_fail(&net_error, ORR_EUNSUPPORTED, "%s",
                 why ? why : "cannot load the HTTP module");
        return;
    }
    void *sym = dlsym(h, ORRI_NET_SYMBOL);
    if (!sym) {
        orr_fail(&net_error, ORR_EUNSUPPORTED, "%s: no %s symbol", path,
                 ORRI_NET_SYMBOL);
        dlclose(h);
        return;
    }
    memcpy(&net_fn, &sym, sizeof net_fn);
}

static int h_http(const struct orr_http_request *req,
                  struct orr_http_response *resp, struct orr_error *e)
{
    pthread_once(&net_once, net_load);
    if (!net_fn)
        return orr_fail(e, ORR_EUNSUPPORTED,
                        "HTTP is unavailable: %s (set ORRERY_LIBEXEC_DIR to "
                        "the directory of %s)", net_error.msg, ORRI_NET_MODULE);
    int rc = net_fn(req, resp, e);
    if (orr_log_level() >= ORR_LOG_DEBUG && req && req->url) {
        char where[512];
        orri_url_redact(where, sizeof where, req->url);
        /* Host only: webhook URLs (Slack's) keep their secret in the
         * path, which the redaction leaves. */
        char *host = strstr(where, "://");
        if (host && (host = strchr(host + 3, '/')))
            *host = '\0';
        if (rc == ORR_OK)
            orr_log(ORR_LOG_DEBUG, "http", "%s %s -> %ld (%zu bytes)",
                    req->method, where, resp->status, resp->body_len);
        else
            orr_log(ORR_LOG_DEBUG, "http", "%s %s failed: %s", req->method,
                    where, orr_strerror(rc));
    }
    return rc;
}

/* ---- the table ---------------------------------------------------------- */

static const struct orr_host host_table = {
    .abi_major = ORR_ABI_MAJOR,
    .abi_minor = ORR_ABI_MINOR,
    .size = sizeof(struct orr_host),
    .alloc = h_alloc,
    .calloc = h_calloc,
    .realloc = h_realloc,
    .free = free,
    .log = orr_log,
    .fail = orr_fail,
    .strerror = orr_strerror,
    .cfg_str = orr_cfg_str,
    .cfg_num = orr_cfg_num,
    .cfg_int = orr_cfg_int,
    .cfg_bool = orr_cfg_bool,
    .cfg_child = orr_cfg_child,
    .cfg_each = orr_cfg_each,
    .add_storage = h_add_storage,
    .add_orchestrator = h_add_orchestrator,
    .add_trainer = h_add_trainer,
    .add_server = h_add_server,
    .add_monitor = h_add_monitor,
    .log_metric = h_log_metric,
    .log_param = h_log_param,
    .set_tag = h_set_tag,
    .artifact_put_file = h_artifact_put_file,
    .artifact_get_file = h_artifact_get_file,
    .http = h_http,
    .model_retain = orr_model_retain,
    .model_release = orr_model_release,
    .model_info = orr_model_info,
    .model_predict = orr_model_predict,
    .log_prediction = orri_serve_log_prediction,
    .export_metrics = orri_monitor_export_metrics,
};

const struct orr_host *orri_host_table(void)
{
    return &host_table;
}
