/*
 * orrery/server.h - the model-server backend interface.
 *
 * A server exposes loaded models over a network protocol (HTTP: KServe V2 /
 * Open Inference Protocol, MLflow /invocations, ...).  It knows no model
 * format: the host loads each model with the runtime of its flavor and
 * hands the server an opaque `struct orr_model` handle, which the server
 * drives through the host table (`model_predict`, `model_info`,
 * `model_retain`, `model_release`).
 *
 * Life cycle: open -> start (bind, serve from background threads, return)
 * -> deploy/undeploy any number of times while serving -> stop (stop
 * accepting, drain in-flight requests, join threads) -> close.
 *
 * Deploy must be atomic with respect to requests: a request is answered
 * entirely by the old or entirely by the new model, never fails because a
 * swap is under way, and the old handle is released only when no request
 * uses it any more.
 *
 * Compatibility: `version` first, members appended only; spec/deployment
 * structs carry `size`.
 */
#ifndef ORRERY_SERVER_H
#define ORRERY_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct orr_cfg;
struct orr_model;   /* opaque: a loaded model, reference-counted by the host */
struct orr_matrix;

#define ORR_SERVER_OPS_V1 1u
#define ORR_SERVER_OPS_VERSION ORR_SERVER_OPS_V1

/* Where and how to listen.  Borrowed for the duration of start. */
struct orr_serve_spec {
    size_t      size;       /* sizeof(struct orr_serve_spec)                 */
    const char *host;       /* address to bind; the host passes "127.0.0.1"
                               unless the site or the user chose otherwise  */
    unsigned    port;       /* 0 = pick a free port (see bound_port)         */
    unsigned    workers;    /* serving threads, 0 = backend default          */
};

enum orr_deploy_role {
    ORR_ROLE_PRIMARY = 0,   /* answers requests                              */
    ORR_ROLE_CANARY,        /* answers `traffic_percent` of requests         */
    ORR_ROLE_SHADOW         /* gets a copy of requests; its answer is unused */
};

/* One model placed behind a served name. */
struct orr_deployment {
    size_t               size;      /* sizeof(struct orr_deployment)         */
    const char          *name;      /* served name, e.g. "cancer"            */
    const char          *version;   /* registry version, e.g. "3"            */
    const char          *uri;       /* what the user asked for, e.g.
                                       "models:/cancer@champion"             */
    struct orr_model    *model;     /* the server takes one reference        */
    enum orr_deploy_role role;
    double               traffic_percent; /* ORR_ROLE_CANARY: 0..100         */
    double               log_sample;      /* share of requests to log, 0..1  */
};

struct orr_server_ops {
    unsigned    version;    /* ORR_SERVER_OPS_V1                             */
    const char *name;       /* "http"                                         */
    const char *summary;
    size_t      self_size;

    /* All mandatory. */
    int  (*open)(void *self, const struct orr_cfg *cfg, struct orr_error *e);
    void (*close)(void *self);  /* after stop, or on a half-open self       */
    int  (*start)(void *self, const struct orr_serve_spec *spec,
                  struct orr_error *e);
    /* The port actually bound (useful after port 0), or 0 before start. */
    unsigned (*bound_port)(void *self);
    /* Add a deployment or atomically replace the one with the same name
     * and role.  Borrowed struct; the server retains d->model. */
    int  (*deploy)(void *self, const struct orr_deployment *d,
                   struct orr_error *e);
    /* Remove every deployment under `name` (ORR_ENOTFOUND if none). */
    int  (*undeploy)(void *self, const char *name, struct orr_error *e);
    /* Stop accepting, wait up to `drain_ms` for in-flight requests, stop. */
    int  (*stop)(void *self, int drain_ms, struct orr_error *e);
};

/* ABI 1.1: one served prediction for the host's prediction log
 * (orr_host.log_prediction), or a ground-truth label for earlier ones.
 * Everything is borrowed for the call: the host copies what it keeps. */
struct orr_prediction {
    size_t                   size;       /* sizeof(struct orr_prediction) */
    const char              *request_id; /* the V2 `id` or one generated  */
    const char              *model;      /* served name                   */
    const char              *version;    /* the version that answered     */
    int64_t                  ts_ms;      /* Unix time of the request      */
    int64_t                  latency_us; /* parse + predict + encode      */
    const struct orr_matrix *inputs;     /* NULL: this is a label         */
    const struct orr_matrix *outputs;
    const char              *label;      /* JSON text, labels only        */
};

#ifdef __cplusplus
}
#endif
#endif /* ORRERY_SERVER_H */
