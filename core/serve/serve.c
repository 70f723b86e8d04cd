/*
 * serve/serve.c - registry URIs to loaded models behind a server backend,
 * and the watcher that follows aliases.
 */
#include "serve/serve.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "data/model_io.h"
#include "meta/registry.h"
#include "plugin/instance.h"
#include "plugin/model.h"
#include "monitor/export.h"
#include "serve/plog.h"
#include "meta/deployments.h"
#include "meta/predictions.h"
#include "config/cfg.h"
#include "config/site.h"
#include "util/clock.h"
#include "util/duration.h"
#include "util/error.h"
#include "util/log.h"

#define WHO "serve"

struct served {
    struct orr_serve_model info;    /* guarded by orr_serve.lock          */
    struct orr_model      *model;   /* the host's reference               */
    int64_t                failed;  /* version that failed; 0 none        */
    int64_t                dep_row; /* open deployments row; 0 none       */
};

struct orr_serve {
    struct orr_core     *core;
    struct served       *m;
    size_t               n;
    struct orr_instance *srv;
    int                  started;
    pthread_mutex_t      lock;      /* info snapshots; watcher stop flag  */
    pthread_cond_t       cond;
    int                  watching, stopping;
    int                  poll_ms;
    pthread_t            thread;
    double               log_sample;    /* server.log_sample, 0..1        */
    int64_t              retention_ms;  /* server.log_retention; 0: none   */
    int64_t              next_prune_ms; /* when the watcher prunes next    */
    struct orri_plog    *plog;          /* NULL: no prediction log        */
    char                 url[300];      /* http://HOST:PORT once started   */
    int                  exporting;     /* attached the monitor export   */
    struct orr_cfg      *over;          /* orr_serve_set: over the site's  */
    struct orr_cfg      *merged;        /* the backend's configuration     */
};

/* models:/NAME/N is pinned; an alias, /latest or a bare name follows. */
static int uri_follows(const char *uri)
{
    const char *p = strncmp(uri, "models:/", 8) ? uri : uri + 8;
    if (strchr(p, '@'))
        return 1;
    const char *slash = strchr(p, '/');
    return !slash || !strcmp(slash + 1, "latest");
}

/* Resolve, fetch, load and describe one URI. */
static int load_version(struct orr_serve *s, const char *uri,
                        struct orr_model_version *v, struct orr_model **out,
                        struct orr_serve_model *info, struct orr_error *e)
{
    struct orr_meta *meta;
    struct orr_model_manifest mf = {0};
    struct orr_model_info mi = {.size = sizeof mi};
    *out = NULL;
    int rc = orr_core_meta(s->core, &meta, e);
    if (!rc)
        rc = orr_registry_resolve(meta, uri, v, e);
    if (!rc)
        rc = orr_model_open(s->core, v->artifact, out, &mf, e);
    if (!rc)
        rc = orr_model_info(*out, &mi, e);
    if (!rc && mi.n_features == 0)
        rc = orr_fail(e, ORR_EINVAL, "%s: the model takes no features", uri);
    if (!rc) {
        snprintf(info->name, sizeof info->name, "%s", v->name);
        info->version = v->version;
        snprintf(info->flavor, sizeof info->flavor, "%s", mf.flavor);
        info->task = mi.task;
        info->n_features = mi.n_features;
        info->n_outputs = mi.n_outputs;
    } else {
        orr_model_release(*out);
        *out = NULL;
    }
    orr_model_manifest_clear(&mf);
    return rc;
}

ORR_API int orr_serve_open(struct orr_core *core, const char *const *uris,
                           size_t n, struct orr_serve **out,
                           struct orr_error *e)
{
    *out = NULL;
    if (n == 0)
        return orr_fail(e, ORR_EINVAL, "no model to serve");
    struct orr_serve *s = calloc(1, sizeof *s);
    if (!s || !(s->m = calloc(n, sizeof *s->m))) {
        free(s);
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    s->core = core;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    int rc = ORR_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        struct served *m = &s->m[i];
        struct orr_model_version v;
        if (strlen(uris[i]) >= sizeof m->info.uri) {
            rc = orr_fail(e, ORR_EINVAL, "model URI too long");
            break;
        }
        snprintf(m->info.uri, sizeof m->info.uri, "%s", uris[i]);
        m->info.follows = uri_follows(uris[i]);
        rc = load_version(s, uris[i], &v, &m->model, &m->info, e);
        s->n = i + (rc ? 0 : 1);
        for (size_t j = 0; !rc && j < i; j++)
            if (!strcmp(s->m[j].info.name, m->info.name))
                rc = orr_fail(e, ORR_EINVAL, "model '%s' named twice (%s, "
                              "%s): a server serves one version per name",
                              m->info.name, s->m[j].info.uri, uris[i]);
    }
    if (rc) {
        orr_serve_close(s);
        return rc;
    }
    *out = s;
    return ORR_OK;
}

ORR_API int orr_serve_add(struct orr_serve *s, const char *uri,
                          enum orr_deploy_role role, double pct,
                          struct orr_error *e)
{
    if (s->started)
        return orr_fail(e, ORR_EBUSY, "add canaries and shadows before "
                        "starting");
    if (role != ORR_ROLE_CANARY && role != ORR_ROLE_SHADOW)
        return orr_fail(e, ORR_EINVAL, "orr_serve_add: canary or shadow");
    if (role == ORR_ROLE_CANARY && !(pct >= 0.0 && pct <= 100.0))
        return orr_fail(e, ORR_EINVAL, "%s: canary share must be 0..100%%",
                        uri);
    if (strlen(uri) >= sizeof s->m->info.uri)
        return orr_fail(e, ORR_EINVAL, "model URI too long");
    struct served *grown = realloc(s->m, (s->n + 1) * sizeof *s->m);
    if (!grown)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    s->m = grown;
    struct served *m = &s->m[s->n];
    memset(m, 0, sizeof *m);
    snprintf(m->info.uri, sizeof m->info.uri, "%s", uri);
    m->info.follows = uri_follows(uri);
    m->info.role = role;
    m->info.traffic_percent = role == ORR_ROLE_CANARY ? pct : 0.0;
    struct orr_model_version v;
    int rc = load_version(s, uri, &v, &m->model, &m->info, e);
    if (rc)
        return rc;
    const char *what = role == ORR_ROLE_CANARY ? "canary" : "shadow";
    const struct served *primary = NULL;
    for (size_t j = 0; j < s->n && !rc; j++) {
        if (strcmp(s->m[j].info.name, m->info.name))
            continue;
        if (s->m[j].info.role == ORR_ROLE_PRIMARY)
            primary = &s->m[j];
        else if (s->m[j].info.role == role)
            rc = orr_fail(e, ORR_EINVAL, "model '%s' has a %s already (%s)",
                          m->info.name, what, s->m[j].info.uri);
    }
    if (!rc && !primary)
        rc = orr_fail(e, ORR_EINVAL, "%s %s: no model '%s' is served to be "
                      "its primary", what, uri, m->info.name);
    if (!rc && primary->info.n_features != m->info.n_features)
        rc = orr_fail(e, ORR_EINVAL, "%s %s takes %zu features, %s %zu",
                      what, uri, m->info.n_features, primary->info.uri,
                      primary->info.n_features);
    if (rc) {
        orr_model_release(m->model);
        return rc;
    }
    s->n++;
    return ORR_OK;
}

ORR_API size_t orr_serve_count(const struct orr_serve *s)
{
    return s->n;
}

ORR_API void orr_serve_model(struct orr_serve *s, size_t i,
                             struct orr_serve_model *out)
{
    pthread_mutex_lock(&s->lock);
    *out = s->m[i].info;
    pthread_mutex_unlock(&s->lock);
}

/* The alias a URI follows, or NULL (pinned or latest). */
static const char *uri_alias(const char *uri)
{
    const char *at = strchr(uri, '@');
    return at && at[1] ? at + 1 : NULL;
}

/* Record in the store that `version` of m serves now (status 'running')
 * or could not ('failed').  The store is bookkeeping: a failure to
 * write it is logged and never stops serving. */
static int64_t record_begin(struct orr_serve *s, const struct served *m,
                            int64_t version, int failed)
{
    struct orr_meta *meta;
    struct orr_error e = {0};
    int64_t row = 0;
    const char *server = s->srv ? s->srv->backend->name : "";
    int rc = orr_core_meta(s->core, &meta, &e);
    if (!rc)
        rc = orri_deployment_begin(meta, m->info.name, version,
                                   uri_alias(m->info.uri), server,
                                   s->url[0] ? s->url : NULL, &row, &e);
    if (!rc && failed) {
        rc = orri_deployment_end(meta, row, "failed", &e);
        row = 0;
    }
    if (rc)
        orr_log(ORR_LOG_WARN, WHO, "%s: recording the deployment: %s",
                m->info.uri, e.msg);
    return row;
}

static void record_end(struct orr_serve *s, struct served *m)
{
    struct orr_meta *meta;
    struct orr_error e = {0};
    if (!m->dep_row)
        return;
    if (orr_core_meta(s->core, &meta, &e) ||
        orri_deployment_end(meta, m->dep_row, "stopped", &e))
        orr_log(ORR_LOG_WARN, WHO, "%s: closing the deployment: %s",
                m->info.uri, e.msg);
    m->dep_row = 0;
}

static int deploy(struct orr_serve *s, const struct served *m,
                  struct orr_model *model, int64_t version,
                  struct orr_error *e)
{
    char ver[32];
    snprintf(ver, sizeof ver, "%lld", (long long)version);
    struct orr_deployment d = {
        .size = sizeof d,
        .name = m->info.name,
        .version = ver,
        .uri = m->info.uri,
        .model = model,
        .role = m->info.role,
        .traffic_percent = m->info.traffic_percent,
        .log_sample = s->plog ? s->log_sample : 0.0,
    };
    return s->srv->backend->ops.server.deploy(s->srv->self, &d, e);
}

ORR_API int orr_serve_set(struct orr_serve *s, const char *path,
                          const char *value, struct orr_error *e)
{
    if (s->started)
        return orr_fail(e, ORR_EBUSY, "set server options before starting");
    if (!s->over && !(s->over = orr_cfg_new_table()))
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    struct orr_cfg *t = s->over;
    char key[256];
    const char *p = path;
    for (const char *dot; (dot = strchr(p, '.')); p = dot + 1) {
        size_t n = (size_t)(dot - p);
        if (n == 0 || n >= sizeof key)
            return orr_fail(e, ORR_EINVAL, "bad option name '%s'", path);
        memcpy(key, p, n);
        key[n] = '\0';
        if (!(t = orr_cfg_set_table(t, key, "command line")))
            return orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    if (!*p)
        return orr_fail(e, ORR_EINVAL, "bad option name '%s'", path);
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    struct orr_cfg *node;
    if (!strcmp(value, "false") || !strcmp(value, "true"))
        node = orr_cfg_set_bool(t, p, value[0] == 't', "command line");
    else if (*value && !*end && !errno)
        node = orr_cfg_set_int(t, p, (int64_t)v, "command line");
    else
        node = orr_cfg_set_str(t, p, value, "command line");
    return node ? ORR_OK : orr_fail(e, ORR_ENOMEM, "out of memory");
}

ORR_API int orr_serve_start(struct orr_serve *s, const char *backend,
                            const struct orr_serve_spec *spec,
                            struct orr_error *e)
{
    const struct orr_site *site = orr_core_site(s->core);
    const struct orr_cfg *cfg = orr_site_backend_cfg(
        site, ORR_KIND_SERVER, backend ? backend
                                       : orr_site_backend(site,
                                                          ORR_KIND_SERVER));
    if (s->over) {
        /* The command line's options over the site's. */
        if (!(s->merged = orr_cfg_new_table()) ||
            (cfg && orr_cfg_merge(s->merged, cfg)) ||
            orr_cfg_merge(s->merged, s->over))
            return orr_fail(e, ORR_ENOMEM, "out of memory");
        cfg = s->merged;
    }
    s->log_sample = orr_cfg_num(cfg, "log_sample", 1.0);
    int64_t queue = orr_cfg_int(cfg, "log_queue", ORRI_PLOG_SLOTS);
    if (!(s->log_sample >= 0.0 && s->log_sample <= 1.0))
        return orr_fail(e, ORR_ECONFIG, "server.log_sample must be between "
                        "0 and 1");
    if (queue < 1 || queue > 16777216)
        return orr_fail(e, ORR_ECONFIG, "server.log_queue must be between "
                        "1 and 16777216");
    const char *keep = orr_cfg_str(cfg, "log_retention", NULL);
    if (keep && (s->retention_ms = orri_duration_ms(keep)) <= 0)
        return orr_fail(e, ORR_ECONFIG, "server.log_retention must be a "
                        "duration such as \"7d\" or \"12h\" (not '%s')",
                        keep);
    int rc = ORR_OK;
    if (s->log_sample > 0.0) {
        struct orr_meta *meta;
        rc = orr_core_meta(s->core, &meta, e);
        if (!rc)
            rc = orri_plog_start(meta, (size_t)queue, &s->plog, e);
        if (rc)
            return rc;
    }
    rc = orr_instance_open(s->core, ORR_KIND_SERVER, backend, s->merged,
                           &s->srv, e);
    if (rc)
        return rc;
    const struct orr_server_ops *ops = &s->srv->backend->ops.server;
    rc = ops->start(s->srv->self, spec, e);
    if (rc)
        return rc;
    s->started = 1;
    /* /metrics also carries the monitor's figures of this site. */
    struct orr_error xe = {0};
    if (orri_monitor_export_attach(s->core, &xe))
        orr_log(ORR_LOG_WARN, WHO, "monitor figures not exported: %s",
                xe.msg);
    else
        s->exporting = 1;
    const char *h = spec->host ? spec->host : "127.0.0.1";
    int v6 = strchr(h, ':') != NULL;
    snprintf(s->url, sizeof s->url, "http://%s%s%s:%u", v6 ? "[" : "", h,
             v6 ? "]" : "", ops->bound_port(s->srv->self));
    for (size_t i = 0; i < s->n && !rc; i++) {
        rc = deploy(s, &s->m[i], s->m[i].model, s->m[i].info.version, e);
        if (!rc)
            s->m[i].dep_row = record_begin(s, &s->m[i],
                                           s->m[i].info.version, 0);
    }
    return rc;
}

ORR_API unsigned orr_serve_port(struct orr_serve *s)
{
    if (!s->started)
        return 0;
    return s->srv->backend->ops.server.bound_port(s->srv->self);
}

/* Follow one model: a new version is loaded, checked and deployed; on
 * failure the old one stays and the version is remembered as bad. */
static int follow(struct orr_serve *s, struct served *m)
{
    struct orr_meta *meta;
    struct orr_model_version v;
    struct orr_error e = {0};
    if (orr_core_meta(s->core, &meta, &e) ||
        orr_registry_resolve(meta, m->info.uri, &v, &e)) {
        orr_log(ORR_LOG_ERROR, WHO, "%s: %s; still serving version %lld",
                m->info.uri, e.msg, (long long)m->info.version);
        return 0;
    }
    if (v.version == m->info.version || v.version == m->failed)
        return 0;
    struct orr_serve_model info = m->info;
    struct orr_model *model = NULL;
    struct orr_model_version v2;
    /* Load the digest just resolved: the URI may move again meanwhile. */
    char pinned[ORR_MODEL_NAME_MAX + 32];
    snprintf(pinned, sizeof pinned, "models:/%s/%lld", v.name,
             (long long)v.version);
    int rc = load_version(s, pinned, &v2, &model, &info, &e);
    if (!rc && info.n_features != m->info.n_features)
        rc = orr_fail(&e, ORR_EINVAL, "version %lld takes %zu features, "
                      "version %lld %zu", (long long)v.version,
                      info.n_features, (long long)m->info.version,
                      m->info.n_features);
    if (!rc && s->started)
        rc = deploy(s, m, model, v.version, &e);
    if (rc) {
        orr_log(ORR_LOG_ERROR, WHO, "%s moved to version %lld, which "
                "cannot serve: %s; still serving version %lld", m->info.uri,
                (long long)v.version, e.msg, (long long)m->info.version);
        orr_model_release(model);
        m->failed = v.version;
        if (s->started)
            record_begin(s, m, v.version, 1);
        return 0;
    }
    if (s->started) {
        record_end(s, m);
        m->dep_row = record_begin(s, m, v.version, 0);
    }
    orr_log(ORR_LOG_INFO, WHO, "%s: now serving version %lld (was %lld)",
            m->info.uri, (long long)v.version, (long long)m->info.version);
    struct orr_model *old = m->model;
    pthread_mutex_lock(&s->lock);
    m->info = info;
    m->model = model;
    m->failed = 0;
    pthread_mutex_unlock(&s->lock);
    orr_model_release(old);
    return 1;
}

ORR_API int orr_serve_poll(struct orr_serve *s, int *switched,
                           struct orr_error *e)
{
    (void)e;
    int n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->m[i].info.follows)
            n += follow(s, &s->m[i]);
    if (switched)
        *switched = n;
    return ORR_OK;
}

/* Retention (server.log_retention): the predictions logged before
 * now - retention go, and the segment files nothing names any more
 * (meta/pprune.c; this server's own open file is held, so kept).  Run by
 * the watcher at start and then every quarter of the retention period,
 * at most hourly. */
#define PRUNE_EVERY_MAX_MS (3600 * 1000)
#define PRUNE_GRACE_MS     (10 * 60 * 1000)

static void retention_tick(struct orr_serve *s)
{
    int64_t now = orri_now_ms();
    if (!s->retention_ms || now < s->next_prune_ms)
        return;
    int64_t every = s->retention_ms / 4;
    s->next_prune_ms = now + (every < PRUNE_EVERY_MAX_MS ? every
                                                         : PRUNE_EVERY_MAX_MS);
    struct orr_meta *meta;
    struct orri_prune_report r;
    struct orr_error e = {0};
    int rc = orr_core_meta(s->core, &meta, &e);
    if (!rc)
        rc = orri_predictions_prune(meta, now - s->retention_ms, NULL,
                                    PRUNE_GRACE_MS, 0, &r, &e);
    if (rc)
        orr_log(ORR_LOG_WARN, WHO, "prediction log retention: %s", e.msg);
    else if (r.chunks || r.legacy_rows || r.labels || r.files)
        orr_log(ORR_LOG_INFO, WHO, "prediction log retention: deleted %lld "
                "predictions and %lld labels, removed %lld segment files "
                "(%lld bytes)", (long long)(r.predictions + r.legacy_rows),
                (long long)r.labels, (long long)r.files,
                (long long)r.file_bytes);
}

static void *watcher(void *arg)
{
    struct orr_serve *s = arg;
    retention_tick(s);
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += s->poll_ms / 1000;
        ts.tv_nsec += (long)(s->poll_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        int rc = 0;
        while (!s->stopping && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&s->cond, &s->lock, &ts);
        if (s->stopping)
            break;
        pthread_mutex_unlock(&s->lock);
        orr_serve_poll(s, NULL, NULL);
        retention_tick(s);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

ORR_API int orr_serve_watch(struct orr_serve *s, int poll_ms,
                            struct orr_error *e)
{
    if (s->watching)
        return orr_fail(e, ORR_EBUSY, "already watching");
    s->poll_ms = poll_ms > 0 ? poll_ms : 1000;
    s->stopping = 0;
    int err = pthread_create(&s->thread, NULL, watcher, s);
    if (err)
        return orr_fail(e, ORR_EIO, "starting the watcher: %s",
                        strerror(err));
    s->watching = 1;
    return ORR_OK;
}

ORR_API int orr_serve_stop(struct orr_serve *s, int drain_ms,
                           struct orr_error *e)
{
    if (s->watching) {
        pthread_mutex_lock(&s->lock);
        s->stopping = 1;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
        s->watching = 0;
    }
    int rc = ORR_OK;
    if (s->started) {
        s->started = 0;
        rc = s->srv->backend->ops.server.stop(s->srv->self, drain_ms, e);
    }
    for (size_t i = 0; i < s->n; i++)
        record_end(s, &s->m[i]);
    /* After the server: no request logs any more; what is queued is
     * written before this returns. */
    orri_plog_stop(s->plog);
    if (s->exporting)
        orri_monitor_export_detach();
    s->exporting = 0;
    s->plog = NULL;
    return rc;
}

ORR_API void orr_serve_close(struct orr_serve *s)
{
    if (!s)
        return;
    struct orr_error e = {0};
    if (orr_serve_stop(s, 0, &e))
        orr_log(ORR_LOG_WARN, WHO, "%s", e.msg);
    /* The backend drops its references to the models on close, before
     * ours go (the runtimes' code stays loaded until the core closes). */
    orr_instance_close(s->srv);
    for (size_t i = 0; i < s->n; i++)
        orr_model_release(s->m[i].model);
    free(s->m);
    orr_cfg_free(s->over);
    orr_cfg_free(s->merged);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
