/*
 * monitor/report.h - the monitoring report: what `orrery monitor run`
 * stored (monitor_windows, monitor_values, monitor_histograms, alerts;
 * schema migration 6) read back into one structure, then rendered as a
 * terminal table, a self-contained HTML page or one JSON document.
 *
 * Reading (report_data.c) is separate from rendering (report_text.c,
 * report_html.c) so each renderer is a pure function of the structure
 * and tests can render hand-built reports.
 *
 * How stored values are interpreted (the convention of monitor.h's
 * struct orr_monitor_value as written by `orrery monitor run`):
 *   - per feature (feature not NULL): metric "drift_score" carries the
 *     score, its method, threshold and alert flag; "missing_rate" the
 *     share of missing values; "absent" (value != 0) marks a feature the
 *     current data lacks; any other metric is listed as a check;
 *   - per window (feature NULL): "drift_share" (also "dataset_drift_share",
 *     "share_of_drifted_features") is the dataset drift; the model-quality
 *     metrics (accuracy, auc, roc_auc, rmse, mae, ...) are compared with
 *     the version's metrics at registration; anything else is listed.
 * Histograms (monitor_histograms.reference/current) are read in the
 * profile shape of monitor.h: a feature object with "histogram" {edges,
 * counts} or "categories" {label: count}, or either member's content
 * directly.
 */
#ifndef ORRI_MONITOR_REPORT_H
#define ORRI_MONITOR_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <orrery/status.h>

struct json_t;

/* Windows shown over time when the caller does not say. */
#define ORRI_REPORT_DEFAULT_LAST 30
#define ORRI_REPORT_MAX_LAST     1000

/* A distribution as drawn: numeric bins (n_bins counts, n_bins + 1
 * edges) or categories (n_bins labels and counts). */
struct orri_report_hist {
    int      kind;          /* 0 none, 1 numeric, 2 categorical           */
    size_t   n_bins;
    double  *edges;         /* numeric: n_bins + 1                         */
    char   **labels;        /* categorical: n_bins                         */
    double  *counts;
    double   missing;       /* missing values counted, NaN if unknown      */
};

/* A value that is neither a drift score nor a missing rate. */
struct orri_report_check {
    char   *metric;
    char   *method;         /* may be NULL                                 */
    double  value;          /* NaN if not computed                         */
    double  threshold;      /* NaN if none                                 */
    int     alert;
};

struct orri_report_feature {
    char   *name;
    char   *method;         /* drift method, NULL if none stored           */
    double  score;          /* latest window; NaN if not computed          */
    double  threshold;
    int     drifted;        /* 1 yes, 0 no, -1 unknown                     */
    double  missing_rate;   /* NaN if not stored                           */
    int     absent;         /* the current data lacks this feature         */
    int     output;         /* a model output (its histogram says so), not
                               an input feature: not counted as a feature */
    struct orri_report_check *checks;
    size_t  n_checks;
    struct orri_report_hist reference, current;
    double *history;        /* score per window (report.windows order)     */
    double *history_threshold;
    unsigned char *history_alert; /* per window: 1 if flagged by the monitor */
    size_t  seq;            /* order first seen: the sort's tie-break      */
};

struct orri_report_quality {
    char   *metric;
    double  value;          /* latest window; NaN if not computed          */
    double  threshold;      /* from the monitor, NaN if none               */
    int     alert;
    double  registered;     /* the version's value at registration, NaN    */
    int     lower_is_better;
    double *history;        /* per window                                  */
    unsigned char *history_alert;
};

struct orri_report_window {
    int64_t id;
    char   *version;
    char   *monitor;
    int64_t start_ms, end_ms, created_ms;
    int64_t n_rows, n_labelled;
    char    status[16];     /* ok, drift, no_data, error                   */
    char   *message;        /* may be NULL                                 */
    double  drift_share;    /* NaN if neither stored nor computable        */
    double  drift_share_threshold;
    int     drift_share_alert; /* stored flag, else share >= threshold     */
};

struct orri_report_alert {
    int64_t id;
    char    severity[16];
    char   *title;
    int64_t created_ms;
    int     open;           /* not acknowledged                            */
    int64_t delivered_ms;   /* 0 if not delivered                          */
};

struct orri_report {
    char   *model;
    /* Oldest first; the last one is the latest window. */
    struct orri_report_window  *windows;
    size_t                      n_windows;
    /* Of the latest window, drifted first. */
    struct orri_report_feature *features;
    size_t                      n_features;
    struct orri_report_quality *quality;
    size_t                      n_quality;
    /* Other window-level values of the latest window. */
    struct orri_report_check   *dataset;
    size_t                      n_dataset;
    /* Open alerts first, then by severity, newest first. */
    struct orri_report_alert   *alerts;
    size_t                      n_alerts;
    size_t                      n_open_alerts;
    int64_t                     generated_ms;
};

/* Read the last `last` windows (0: ORRI_REPORT_DEFAULT_LAST) of `model`
 * from the metadata database at `db_path`, read-only.  `model` is the
 * name windows were stored under; a models:/ URI is reduced to its model
 * name.  ORR_ENOTFOUND with "no monitoring windows yet: run `orrery
 * monitor run MODEL`" when there are none. */
int orri_report_load(const char *db_path, const char *model, int last,
                     struct orri_report **out, struct orr_error *e);
void orri_report_free(struct orri_report *r);

/* The latest window (NULL if there is none). */
const struct orri_report_window *
orri_report_latest(const struct orri_report *r);

/* The report as one JSON object (new reference; NULL on ENOMEM).  NaN
 * values are null. */
struct json_t *orri_report_json(const struct orri_report *r);

/* The terminal table, at most 80 columns wide.  `color`: ANSI colours.
 * Strings from the store are written with control characters replaced. */
int orri_report_text(const struct orri_report *r, FILE *out, int color);

/* The self-contained HTML page (no external resource, no script):
 * malloc'd in *html. */
int orri_report_html(const struct orri_report *r, char **html,
                     struct orr_error *e);

/* Write `data` to `path` atomically (a temporary file in the same
 * directory, fsync, rename), creating the directory. */
int orri_report_write_file(const char *path, const char *data, size_t len,
                           struct orr_error *e);

#endif
