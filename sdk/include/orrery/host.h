/*
 * orrery/host.h - the services the core offers to plugins.
 *
 * A plugin never links against the core.  Its `init` receives a pointer to
 * this table and keeps it (it stays valid until after `fini`); every call
 * back into Orrery goes through it.  That is what lets a plugin built
 * against SDK 1.x run on any core 1.y with y >= x.
 *
 * Compatibility: members are only appended, at the end, with a minor ABI
 * bump.  `size` is sizeof(struct orr_host) as the core was built; a plugin
 * that wants a member newer than its own minimum checks first:
 *
 *     if (H->size >= offsetof(struct orr_host, some_new_member) + sizeof(void *))
 *
 * Ownership conventions, for every member below:
 *   - `const char *` arguments are borrowed for the call; copy to keep;
 *   - memory a member returns to the plugin comes from `alloc`, and the
 *     plugin releases it with `free`;
 *   - every fallible member returns ORR_OK or a status and fills `e`.
 * All members are thread-safe unless stated otherwise.
 */
#ifndef ORRERY_HOST_H
#define ORRERY_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "monitor.h"
#include "orchestrator.h"
#include "server.h"
#include "status.h"
#include "storage.h"
#include "table.h"
#include "trainer.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define ORR_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define ORR_PRINTF(fmt, args)
#endif

struct orr_registry;    /* opaque: where init registers backends           */
struct orr_cfg;         /* opaque: a node of the site configuration        */
struct orr_run;         /* opaque: a run being recorded                     */
struct orr_model;       /* opaque: a loaded model (see server.h)           */

enum orr_log_level {
    ORR_LOG_ERROR = 0,
    ORR_LOG_WARN,
    ORR_LOG_INFO,
    ORR_LOG_DEBUG
};

/* Called by cfg_each for each key of a table node.  `value` is the value
 * as text (numbers in shortest round-trip form, booleans "true"/"false"),
 * or NULL when the value is itself a table (read it with cfg_child).
 * A non-zero return stops the iteration and is returned by cfg_each. */
typedef int (*orr_cfg_fn)(void *ctx, const char *key, const char *value);

/* An HTTP request made with the core's libcurl. */
struct orr_http_request {
    size_t             size;        /* sizeof(struct orr_http_request)      */
    const char        *method;      /* "GET", "PUT", "POST", ...            */
    const char        *url;
    const char *const *headers;     /* NULL-terminated "Name: value", or NULL */
    const void        *body;        /* request body, or NULL                */
    size_t             body_len;
    long               timeout_ms;  /* whole transfer; 0 = 30 s             */
    uint64_t           max_response; /* bytes; 0 = 64 MiB                   */
};

struct orr_http_response {
    size_t size;                    /* sizeof(struct orr_http_response)     */
    long   status;                  /* HTTP status code                     */
    char  *body;                    /* from alloc, NUL-terminated; free it  */
    size_t body_len;
};

struct orr_host {
    /* --- identity: the core's ABI, for checks before newer members ----- */
    unsigned abi_major;
    unsigned abi_minor;
    size_t   size;                  /* sizeof(struct orr_host) in the core  */

    /* --- memory ------------------------------------------------------- */
    void *(*alloc)(size_t n);                 /* NULL on failure           */
    void *(*calloc)(size_t count, size_t n);  /* zeroed; overflow-checked  */
    void *(*realloc)(void *p, size_t n);
    void  (*free)(void *p);                   /* accepts NULL              */

    /* --- diagnostics --------------------------------------------------- */
    /* Log one line, prefixed with `who` (the plugin or backend name).
     * Never pass secrets: logs are not confidential. */
    void (*log)(int level, const char *who, const char *fmt, ...)
        ORR_PRINTF(3, 4);
    /* Fill `e` (code and formatted, truncated message) and return `code`,
     * so a plugin writes `return H->fail(e, ORR_EIO, "open %s: %s", ...)`.
     * `e` may be NULL. */
    int (*fail)(struct orr_error *e, int code, const char *fmt, ...)
        ORR_PRINTF(3, 4);
    const char *(*strerror)(int code);        /* static text               */

    /* --- configuration (read-only; nodes live as long as the instance) -- */
    /* Values of `key` in table node `cfg`, or `def` when absent.  A value
     * of the wrong type is treated as absent.  `cfg` may be NULL. */
    const char *(*cfg_str)(const struct orr_cfg *cfg, const char *key,
                           const char *def);
    double  (*cfg_num)(const struct orr_cfg *cfg, const char *key, double def);
    int64_t (*cfg_int)(const struct orr_cfg *cfg, const char *key,
                       int64_t def);
    int     (*cfg_bool)(const struct orr_cfg *cfg, const char *key, int def);
    /* The table under `key`, or NULL. */
    const struct orr_cfg *(*cfg_child)(const struct orr_cfg *cfg,
                                       const char *key);
    /* Iterate over a table node's keys in sorted order (see orr_cfg_fn). */
    int (*cfg_each)(const struct orr_cfg *cfg, orr_cfg_fn fn, void *ctx);

    /* --- registration, from init only ---------------------------------- */
    /* The ops struct must be static: the host copies the members its
     * version covers and keeps pointers to the strings and functions. */
    int (*add_storage)(struct orr_registry *r,
                       const struct orr_storage_ops *ops, struct orr_error *e);
    int (*add_orchestrator)(struct orr_registry *r,
                            const struct orr_orchestrator_ops *ops,
                            struct orr_error *e);
    int (*add_trainer)(struct orr_registry *r,
                       const struct orr_trainer_ops *ops, struct orr_error *e);
    int (*add_server)(struct orr_registry *r, const struct orr_server_ops *ops,
                      struct orr_error *e);
    int (*add_monitor)(struct orr_registry *r,
                       const struct orr_monitor_ops *ops, struct orr_error *e);

    /* --- metadata: what a run records ----------------------------------- */
    /* Buffered: returns without waiting for a disk sync.  `run` may be NULL
     * (the call then does nothing and returns ORR_OK). */
    int (*log_metric)(struct orr_run *run, const char *key, double value,
                      int64_t step, struct orr_error *e);
    int (*log_param)(struct orr_run *run, const char *key, const char *value,
                     struct orr_error *e);
    int (*set_tag)(struct orr_run *run, const char *key, const char *value,
                   struct orr_error *e);

    /* --- artifacts: the site's storage ----------------------------------- */
    /* Store the file at `path`; write its digest.  If `run` is non-NULL the
     * artifact is recorded as an output of the run's current step, of kind
     * `kind` ("model", "dataset", "report", ...). */
    int (*artifact_put_file)(struct orr_run *run, const char *path,
                             const char *kind,
                             char digest[ORR_DIGEST_HEX_LEN + 1],
                             struct orr_error *e);
    /* Write the verified blob `digest` to `path` (atomically). */
    int (*artifact_get_file)(const char *digest, const char *path,
                             struct orr_error *e);

    /* --- network ---------------------------------------------------------- */
    /* Perform an HTTP request with the core's libcurl.  On ORR_OK the
     * caller frees resp->body with `free`; a non-2xx status is ORR_OK too. */
    int (*http)(const struct orr_http_request *req,
                struct orr_http_response *resp, struct orr_error *e);

    /* --- loaded models, for servers and monitors ------------------------ */
    void (*model_retain)(struct orr_model *m);
    void (*model_release)(struct orr_model *m);   /* accepts NULL           */
    int  (*model_info)(const struct orr_model *m, struct orr_model_info *info,
                       struct orr_error *e);
    int  (*model_predict)(const struct orr_model *m,
                          const struct orr_matrix *x, struct orr_matrix *y,
                          struct orr_error *e);

    /* --- ABI 1.1: the prediction log, for servers ---------------------- */
    /* With p->inputs set: queue one prediction for the log and return at
     * once (never blocks on storage); ORR_EBUSY when the queue is full
     * (the record is dropped and counted), ORR_EUNSUPPORTED when the
     * host keeps no log.  With p->inputs NULL and p->label set: attach
     * the label to the predictions logged under p->request_id (for
     * p->model if set), synchronously; ORR_ENOTFOUND if there is none.
     * Check H->size before calling (a 1.0 host lacks it). */
    int (*log_prediction)(const struct orr_prediction *p,
                          struct orr_error *e);

    /* --- ABI 1.2: figures the host exports, for servers' /metrics ------ */
    /* Append the host's own Prometheus text-format samples (the monitor's
     * drift, quality and alert figures of the models this process serves,
     * read from the metadata store) by calling `write` zero or more times
     * with complete lines.  A server calls it while answering /metrics, so
     * it is fast (one indexed query) and thread-safe.  Returns ORR_OK, or
     * an error after which the server still sends its own figures.  Check
     * H->size before calling (a 1.0/1.1 host lacks it). */
    int (*export_metrics)(void (*write)(void *ctx, const char *text,
                                        size_t len),
                          void *ctx, struct orr_error *e);
    /* Appended members go here, each with a minor ABI bump. */
};

#ifdef __cplusplus
}
#endif
#endif /* ORRERY_HOST_H */
