/*
 * orrery/monitor.h - the monitor backend interface.
 *
 * A monitor compares production data with what a model was trained on and
 * with what actually happened:
 *   - `profile` summarises a reference dataset (a model's training data)
 *     into a small file of the monitor's own format, stored with the model
 *     version so monitoring never re-reads the training set;
 *   - `analyze` takes one window of production inputs, the model's
 *     predictions and any late labels joined to them, and reports drift,
 *     data-quality and model-quality values to a sink, flagging those past
 *     their thresholds;
 *   - `notify` (optional) delivers an alert somewhere (a webhook, a chat).
 * The host stores what the sink receives, exports it as metrics, raises
 * alerts and triggers the workflows a site attached to them.
 *
 * Profiles are JSON.  A backend may store anything in its profile, but the
 * host's reports and histograms read these members when present, so a
 * backend that writes them gets charts for free:
 *   { "format": "<backend>/<n>", "rows": N,
 *     "features": [ { "name": "...", "type": "numeric" | "categorical",
 *                     "missing": M,
 *                     "histogram": { "edges": [e0, ..., ek],
 *                                    "counts": [c1, ..., ck] },
 *                     "categories": { "label": count, ... } }, ... ],
 *     "predictions": [ same shape as a feature, one per model output ] }
 * Numeric features carry "histogram" (k bins, k + 1 ascending edges, the
 * outer edges the reference's min and max), categorical ones "categories".
 *
 * Compatibility: `version` first, members appended only; structs carry
 * `size`.
 */
#ifndef ORRERY_MONITOR_H
#define ORRERY_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "table.h"

#ifdef __cplusplus
extern "C" {
#endif

struct orr_cfg;

#define ORR_MONITOR_OPS_V1 1u
#define ORR_MONITOR_OPS_VERSION ORR_MONITOR_OPS_V1

/* One window to analyse.  Everything is borrowed for the call. */
struct orr_monitor_window {
    size_t                   size;      /* sizeof(struct orr_monitor_window) */
    const char              *model;     /* registered model name            */
    const char              *version;   /* model version that served        */
    const char              *reference_profile; /* path written by profile  */
    const struct orr_table  *current;   /* production inputs, may be NULL   */
    const struct orr_matrix *predictions; /* current.rows x n_outputs, NULL */
    const double            *labels;    /* current.rows, NaN = no label yet,
                                           or NULL                          */
    int64_t                  start;     /* window bounds, Unix seconds      */
    int64_t                  end;
    const struct orr_cfg    *thresholds; /* site/workflow overrides, NULL   */
};

/* One computed figure. */
struct orr_monitor_value {
    size_t      size;       /* sizeof(struct orr_monitor_value)              */
    const char *feature;    /* column name, or NULL for dataset/model level  */
    const char *metric;     /* "drift_score", "missing_rate", "auc", ...     */
    const char *method;     /* "ks", "chisquare", "psi", "wasserstein", ...  */
    double      value;
    double      threshold;  /* NaN if none applies                            */
    int         alert;      /* 1 if value is past its threshold              */
};

/* Receives values from analyze.  A non-zero return aborts analyze. */
struct orr_monitor_sink {
    void *ctx;
    int (*value)(void *ctx, const struct orr_monitor_value *v);
};

enum orr_severity { ORR_SEV_INFO = 0, ORR_SEV_WARNING, ORR_SEV_CRITICAL };

struct orr_alert {
    size_t            size;     /* sizeof(struct orr_alert)                  */
    enum orr_severity severity;
    const char       *model;
    const char       *version;
    const char       *title;    /* one line                                   */
    const char       *details;  /* JSON text with the values behind it        */
    int64_t           time;     /* Unix seconds                               */
};

struct orr_monitor_ops {
    unsigned    version;    /* ORR_MONITOR_OPS_V1                            */
    const char *name;       /* "drift", "prometheus", "webhook"               */
    const char *summary;
    size_t      self_size;

    /* Mandatory. */
    int  (*open)(void *self, const struct orr_cfg *cfg, struct orr_error *e);
    void (*close)(void *self);

    /* Optional (NULL if this backend only notifies).  Write the profile of
     * `reference` (and of `predictions`, if given) to `out_path`. */
    int  (*profile)(void *self, const struct orr_table *reference,
                    const struct orr_matrix *predictions,
                    const char *out_path, struct orr_error *e);
    int  (*analyze)(void *self, const struct orr_monitor_window *w,
                    const struct orr_monitor_sink *sink, struct orr_error *e);

    /* Optional: deliver an alert. */
    int  (*notify)(void *self, const struct orr_alert *a, struct orr_error *e);
};

#ifdef __cplusplus
}
#endif
#endif /* ORRERY_MONITOR_H */
