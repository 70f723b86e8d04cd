/*
 * monitor/monitor.h - monitoring in the core: reference profiles written
 * at registration, windows of the prediction log analysed by the site's
 * monitor backend, figures and alerts stored in the metadata store,
 * alerts delivered through the site's notifying backends.
 *
 * The contract between core/monitor, `orrery monitor`, the scheduler's
 * drift triggers and the report; tables are those of schema migration 6
 * (core/meta/schema.c).  docs/monitoring.md is the user-facing page.
 */
#ifndef ORRI_MONITOR_MONITOR_H
#define ORRI_MONITOR_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#include <orrery/status.h>

struct orr_core;
struct orr_meta;
struct json_t;

/* ---- reference profiles ------------------------------------------------ */

/* Compute and store the reference profile of a registered version
 * (`models:/name/3`, `name/3`, `name@alias`): the monitor backend's
 * `profile` of `reference` (a dataset digest, `datasets:/x/N` or a file;
 * NULL: the dataset the version was trained on, as recorded) and of the
 * version's predictions on `holdout` (same forms; NULL: on `reference`).
 * Stores the profile as an artifact of kind "profile" and links it to the
 * version (model_versions.profile_artifact_id).  Replaces an older one. */
int orri_monitor_profile(struct orr_core *core, const char *version_uri,
                         const char *reference, const char *holdout,
                         struct orr_error *e);

/* 1 when the site's monitor backend loads and writes profiles (what
 * orrery.models.register checks before profiling a new version). */
int orri_monitor_can_profile(struct orr_core *core);

/* ---- windows ----------------------------------------------------------- */

struct orri_monitor_opts {
    /* "10000": the latest N logged predictions (requests; a multi-row
     * request brings all its rows); "1h", "30m", "2d", "90s": those
     * logged in [now_ms - span, now_ms].  NULL: "1h". */
    const char *window;
    int64_t     now_ms;     /* 0: the clock (tests inject a time)          */
    int         notify;     /* deliver new alerts through the site's
                               notifying backends (monitor.alerts)         */
    const char *thresholds_json; /* workflow overrides {"drift_share":0.3,
                                    "psi":0.2, ...} or NULL: the core reads
                                    drift_share (0.5), quality_drop (0.1),
                                    min_rows (30), min_labels (30); the
                                    backend gets the whole object          */
};

struct orri_monitor_result {
    int64_t window_id;      /* row in monitor_windows (0 if none stored)   */
    char    model[128];
    char    version[32];    /* the version whose reference was used        */
    char    status[16];     /* "ok", "drift", "no_data", "error"           */
    int64_t n_rows;         /* input rows in the window                    */
    int64_t n_labelled;     /* of which with a label                       */
    double  drift_share;    /* share of drifted features; NaN: not computed */
    int     n_features_drifted;
    int     n_alerts;       /* alerts raised by this window (after dedup)  */
    char    message[256];   /* "not enough data: 3 rows, need 30", ...     */
};

/* Analyse one window of the predictions logged for `model` (a served
 * name, or a models:/ URI naming one version or alias), store it in
 * monitor_windows/values/histograms, raise (deduplicated) alerts and, with
 * o->notify, deliver them.  A window without data (or with fewer than
 * min_rows) is a stored result with status "no_data" and ORR_OK, not an
 * error.  Alerts are deduplicated by "MODEL|FEATURE|METRIC": an open
 * (unacknowledged) alert with the key is not raised again.  Errors:
 * ORR_EINVAL (bad window or thresholds, logged inputs that do not fit the
 * model), ORR_ENOTFOUND (unknown version, no reference profile: the
 * message says which `orrery monitor profile` to run).  `o` may be NULL;
 * r->message says what was left out ("feature absent: x", ...). */
int orri_monitor_run(struct orr_core *core, const char *model,
                     const struct orri_monitor_opts *o,
                     struct orri_monitor_result *r, struct orr_error *e);

/* ---- late labels -------------------------------------------------------- */

struct orri_label_stats {
    int64_t read;           /* labels in the input                          */
    int64_t matched;        /* whose request id has a logged prediction     */
    int64_t pending;        /* kept, no prediction logged under the id yet  */
    int64_t invalid;        /* refused lines (reported with line numbers)   */
    char    first_invalid[256]; /* "labels.csv:7: no request id", or ""   */
};

/* Import labels from a CSV (`request_id,label` header) or JSON-lines
 * (`{"request_id":..., "label":...}`) file, for `model` (NULL: any).
 * Every valid label is stored (in batched transactions); unknown ids are
 * counted as pending (kept, they join when the prediction arrives); a bad
 * line is counted in `invalid`, the first named in `first_invalid`, and
 * does not stop the import.  ORR_ENOTFOUND: no file; ORR_EINVAL: neither
 * format. */
int orri_monitor_import_labels(struct orr_meta *m, const char *path,
                               const char *model,
                               struct orri_label_stats *out,
                               struct orr_error *e);

/* ---- alerts ------------------------------------------------------------- */

/* Deliver the stored alerts not yet delivered (oldest first, at most
 * `max`, <= 0: 100) through the site's notifying backends (site
 * `monitor.alerts`, a list of monitor backend names with `notify`); an
 * alert counts as delivered when every notifier took it, else it stays
 * pending with delivery_attempts and delivery_error recorded and is sent
 * again (to every notifier: at least once) on the next call.
 * *delivered gets the count.  ORR_ECONFIG: no notifier configured;
 * ORR_EIO: some deliveries failed (the message names the last). */
int orri_monitor_deliver_alerts(struct orr_core *core, int max,
                                int *delivered, struct orr_error *e);

/* The latest `limit` (<= 0: 100) alerts, of `model` (NULL: all), newest
 * first, as a JSON array of objects with the columns of `alerts` (id,
 * model, version, severity, title, details (parsed), created_ms,
 * dedup_key, window_id, acknowledged_ms, delivered_ms, delivery_attempts,
 * delivery_error). */
int orri_monitor_alerts(struct orr_core *core, const char *model, int limit,
                        struct json_t **out, struct orr_error *e);

#endif
