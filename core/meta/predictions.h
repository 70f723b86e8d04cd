/*
 * meta/predictions.h - the prediction log (schema migrations 4 and 6):
 * what servers answered, written in batches by core/serve's writer
 * thread, and ground-truth labels posted later by request id.
 *
 * Rows are written with inputs/outputs as BLOBs of little-endian IEEE-754
 * doubles, row-major, their column counts in input_cols/output_cols, so
 * monitoring reads a million rows without parsing text.  Rows logged
 * before migration 6 hold JSON text there (NULL counts); readers accept
 * both (orri_predictions_decode).
 *
 * Labels live in the `labels` table keyed by (request_id, model): a label
 * is kept even when no prediction is logged under its id yet, and joins
 * when the prediction arrives.
 *
 * Thread-safe: every call takes the store's lock for one transaction.
 */
#ifndef ORRI_META_PREDICTIONS_H
#define ORRI_META_PREDICTIONS_H

#include <stddef.h>
#include <stdint.h>

#include <orrery/status.h>

struct orr_meta;

/* One logged prediction.  With `in` set, the matrices are written as
 * binary rows (the format of migration 6); otherwise `inputs`/`outputs`
 * are written as JSON text (arrays of rows), the legacy format, kept for
 * tests of the readers. */
struct orri_prediction_row {
    const char   *request_id;
    const char   *model;
    const char   *version;
    int64_t       ts_ms;
    int64_t       latency_us;
    const char   *inputs;       /* legacy JSON, or NULL                    */
    const char   *outputs;
    const double *in;           /* in_rows x in_cols, or NULL              */
    size_t        in_rows, in_cols;
    const double *out;          /* out_rows x out_cols, or NULL            */
    size_t        out_rows, out_cols;
};

/* Insert `n` rows in one transaction (all or none). */
int orri_predictions_insert(struct orr_meta *m,
                            const struct orri_prediction_row *rows, size_t n,
                            struct orr_error *e);

/* Store the label (JSON text) of request `request_id` for `model` (NULL:
 * any model).  The label is kept even when no prediction is logged under
 * that id yet ("kept, joins when the prediction arrives"): the call then
 * returns ORR_ENOTFOUND with a message saying so, and the server's
 * feedback endpoint answers 202 "kept, pending".  ORR_EINVAL when the
 * label is not JSON.  A later label for the same id replaces it. */
int orri_predictions_label(struct orr_meta *m, const char *model,
                           const char *request_id, const char *label,
                           struct orr_error *e);

/* One label of a batch (orri_labels_put). */
struct orri_label_row {
    const char *request_id;
    const char *model;          /* NULL or "": any model                   */
    const char *label;          /* JSON text                               */
};

/* Store `n` labels in one transaction; *matched (may be NULL) gets how
 * many have a logged prediction under their id already. */
int orri_labels_put(struct orr_meta *m, const struct orri_label_row *rows,
                    size_t n, int64_t *matched, struct orr_error *e);

/* Decode a stored inputs/outputs cell: a BLOB of `cols` columns (bytes
 * must be a multiple of 8 * cols), or legacy JSON text (an array of rows,
 * null for NaN) when `cols` <= 0.  *out is malloc'ed (rows x *cols). */
int orri_predictions_decode(const void *data, size_t len, int is_text,
                            int64_t cols, double **out, size_t *rows,
                            size_t *ncols, struct orr_error *e);

/* Little-endian bytes of n doubles (8 * n bytes at `dst`), and back. */
void orri_f64_to_le(void *dst, const double *src, size_t n);
void orri_f64_from_le(double *dst, const void *src, size_t n);

#endif
