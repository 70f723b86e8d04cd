/*
 * meta/predictions.h - the prediction log (schema migration 4): what
 * servers answered, written in batches by core/serve's writer thread, and
 * ground-truth labels attached later by request id.
 *
 * Thread-safe: every call takes the store's lock for one transaction.
 */
#ifndef ORRI_META_PREDICTIONS_H
#define ORRI_META_PREDICTIONS_H

#include <stddef.h>
#include <stdint.h>

#include <orrery/status.h>

struct orr_meta;

/* One logged prediction; inputs/outputs are JSON text (arrays of rows). */
struct orri_prediction_row {
    const char *request_id;
    const char *model;
    const char *version;
    int64_t     ts_ms;
    int64_t     latency_us;
    const char *inputs;
    const char *outputs;
};

/* Insert `n` rows in one transaction (all or none). */
int orri_predictions_insert(struct orr_meta *m,
                            const struct orri_prediction_row *rows, size_t n,
                            struct orr_error *e);

/* Set the label (JSON text) of the predictions of `model` (NULL: any)
 * logged under `request_id`; ORR_ENOTFOUND when there is none. */
int orri_predictions_label(struct orr_meta *m, const char *model,
                           const char *request_id, const char *label,
                           struct orr_error *e);

#endif
