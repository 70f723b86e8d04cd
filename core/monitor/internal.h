/*
 * monitor/internal.h - what the files of core/monitor share: a connection
 * of their own to the site's metadata database (as core/sched does, so
 * long reads of the prediction log never hold the orr_meta lock that
 * servers' log writers take), the window loader, quality metrics, alert
 * storage and the helpers that resolve models and datasets.
 */
#ifndef ORRI_MONITOR_INTERNAL_H
#define ORRI_MONITOR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include <orrery/monitor.h>
#include <orrery/status.h>

#include "util/clock.h"

struct orr_core;
struct orr_dataset;
struct orr_instance;

/* ---- store (store.c) ------------------------------------------------- */

/* Open a connection to the core's metadata database (migrated first). */
int  orri_mon_db_open(struct orr_core *core, sqlite3 **out,
                      struct orr_error *e);
void orri_mon_db_close(sqlite3 *db);            /* NULL ok                */
int  orri_mon_sqlfail(sqlite3 *db, int rc, struct orr_error *e,
                      const char *doing);

/* The profile artifact of a version: *digest gets "" when none. */
int orri_mon_profile_digest(sqlite3 *db, const char *model, int64_t version,
                            char digest[65], struct orr_error *e);
/* Link artifact `digest` as the version's profile. */
int orri_mon_profile_link(sqlite3 *db, const char *model, int64_t version,
                          const char *digest, struct orr_error *e);

/* ---- windows (window.c) ------------------------------------------------ */

/* Parse "10000" (count) or "90s", "30m", "1h", "2d" (span in ms). */
int orri_mon_window_parse(const char *spec, int64_t *count, int64_t *span_ms,
                          struct orr_error *e);

struct orri_mon_rows {
    size_t   rows, cols;        /* input rows, columns                     */
    size_t   stride;            /* column c's rows start at x + c * stride */
    double  *x;                 /* column-major: the table's columns point
                                   into it                                 */
    size_t   out_cols;
    double  *y;                 /* rows x out_cols (NaN when not logged)   */
    double  *label;             /* rows: numeric label, NaN when none      */
    char   **label_text;        /* rows: string labels (class names) or NULL*/
    int64_t  n_requests;        /* logged predictions read                 */
    int64_t  n_skipped;         /* of which with another column count      */
    int64_t  n_labelled;        /* rows with a label                       */
    int64_t  start_ms, end_ms;  /* ts of the oldest and newest row read    */
    char     version[32];       /* version of the newest row read          */
};

/* Load a window of `model` (version NULL: any) with inputs of `cols`
 * columns (0: those of the newest row): the newest `count` logged
 * predictions, or those of the `span_ms` before `now_ms`.  Labels joined
 * from `labels` by request id. */
int orri_mon_window_load(sqlite3 *db, const char *model, const char *version,
                         size_t cols, int64_t count, int64_t span_ms,
                         int64_t now_ms, struct orri_mon_rows *out,
                         struct orr_error *e);
void orri_mon_rows_free(struct orri_mon_rows *r);

/* ---- quality (quality.c) ----------------------------------------------- */

/* One model-quality figure computed on the labelled rows. */
struct orri_mon_quality {
    const char *metric;         /* static name                             */
    double      value;
    int         higher_is_better;
};

/* Quality of predictions `y` (n x out_cols) against `label` (class
 * indices for classification, values for regression; NaN rows skipped).
 * Writes up to 8 figures; *n_out gets how many. */
int orri_mon_quality(int task, const double *y, size_t out_cols,
                     const double *label, size_t n, size_t n_classes,
                     struct orri_mon_quality *out, size_t *n_out,
                     struct orr_error *e);

/* ---- alerts (alerts.c) ------------------------------------------------- */

/* Raise an alert unless an open one with the same dedup key exists:
 * *raised gets 1 when a row was written. */
int orri_mon_alert_raise(sqlite3 *db, const char *model, const char *version,
                         int64_t window_id, const char *severity,
                         const char *dedup_key, const char *title,
                         const char *details_json, int *raised,
                         struct orr_error *e);

#endif
