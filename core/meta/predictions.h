/*
 * meta/predictions.h - the prediction log (schema migrations 4, 6, 7,
 * 8 and 9): what servers answered, written in batches by core/serve's
 * writer thread, and ground-truth labels posted later by request id.
 *
 * Predictions are written in chunks (`prediction_chunks`, migration 7):
 * one row per group of up to 1024 predictions of one model, version and
 * column count, their request ids, times, latencies, row counts, inputs
 * and outputs in columnar BLOBs (little-endian int64 / IEEE-754 doubles,
 * ids NUL-terminated), so a logged prediction costs its bytes, not a
 * B-tree insert per row and per index.  Since migration 8 the payload
 * (inputs then outputs) of a store with a file goes to a segment file of
 * `predictions/` beside it (meta/psegment.h), appended before the rows
 * that point at it (`segment`, `seg_offset`, `seg_bytes`, `seg_check`)
 * are committed; `inputs` is then X'' and `outputs` NULL, the small
 * columns stay inline (label matching reads no file).  A store without a
 * file, or a writer whose segment cannot be written, keeps the payload
 * inline as in migration 7.  Since migration 9 `seg_layout` says how
 * the segment bytes are ordered: NULL (0) inputs of all, then outputs
 * of all (orri_predictions_write); 1 record by record, each
 * prediction's inputs then outputs, as the serving threads' lanes hold
 * them (orri_predictions_commit, written by serve/plog.c through
 * orri_pseg_stream_write), its checksum the fold of the records'.
 * Retention (orri_predictions_prune) deletes old chunks and the
 * segment files nothing names any more.  The `predictions` table keeps
 * the rows logged before (binary since migration 6, JSON text before:
 * orri_predictions_decode) and the rows a chunk cannot hold (JSON text;
 * outputs of another row count than the inputs); readers read both.
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

/* One logged prediction.  With `in` set, it goes into a chunk; otherwise
 * `inputs`/`outputs` are written as JSON text (arrays of rows) into
 * `predictions`, the legacy format, kept for tests of the readers. */
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

/* Insert `n` rows in one transaction (all or none): chunks of the rows
 * of one model/version/column count, in their order. */
int orri_predictions_insert(struct orr_meta *m,
                            const struct orri_prediction_row *rows, size_t n,
                            struct orr_error *e);

/* A writer's state kept between writes (NULL until the first): buffers
 * and its own segment file. */
struct orri_pred_scratch;
/* orri_predictions_insert through *scratch (allocated on first use, kept
 * for the next call): a busy writer builds its chunks in the same memory
 * instead of fresh pages every batch, and appends the payload of a
 * batch (one write) to the scratch's own segment file, which no other
 * scratch, in this process or another, writes to.  orri_predictions_insert
 * uses a scratch of its own: a new segment file per call. */
int orri_predictions_write(struct orr_meta *m,
                           const struct orri_prediction_row *rows, size_t n,
                           struct orri_pred_scratch **scratch,
                           struct orr_error *e);
/* Why the scratch's segment file could not be written (its chunks went
 * inline, slower but kept): the message once when that starts, NULL
 * otherwise and again until writes have succeeded and fail anew. */
const char *orri_pred_scratch_seg_error(struct orri_pred_scratch *sc);
/* Closes the scratch's segment file.  NULL ok. */
void orri_pred_scratch_free(struct orri_pred_scratch *sc);

/* A chunk laid out by its writer (serve/plog.c), its payload already in
 * segment file `segment` (psegment.h) at `seg_offset`, `seg_bytes`
 * long, in layout `seg_layout` (schema migration 9): 0 - the inputs of
 * all its predictions, then their outputs, `seg_check` the checksum of
 * those bytes (as orri_predictions_write writes); 1 - prediction by
 * prediction, each its inputs then its outputs, `seg_check` their
 * fold (orri_pseg_fold).  The small columns as stored: `ids` the n
 * request ids, each NUL-terminated, one after the other (`ids_len`
 * bytes in all); `ts`, `latency` and `rows` n little-endian int64
 * each. */
struct orri_chunk_row {
    const char *model;
    const char *version;
    size_t      n;
    int64_t     ts_min, ts_max;
    size_t      in_cols, out_cols;     /* out_cols 0: no outputs          */
    const void *ids;
    size_t      ids_len;
    const void *ts, *latency, *rows;
    const char *segment;
    int64_t     seg_offset, seg_bytes;
    uint64_t    seg_check;
    int         seg_layout;
};

/* In one transaction (all or none): the `n_rows` rows, as legacy rows of
 * `predictions` (what a chunk cannot hold; `in` set: binary), and the
 * `n_chunks` chunks.  The chunk INSERT is prepared once per scratch
 * (orri_predictions_write's; `scratch` NULL: a statement for this call
 * only).  Layout 0 is stored as NULL, as orri_predictions_write stores
 * it.  Each chunk is checked first, since a window refuses a malformed
 * chunk whole: n in 1..INT32_MAX, in_cols > 0, its columns present,
 * `ids` exactly n NUL-terminated strings, every row count > 0, every
 * time within [ts_min, ts_max], a segment name orri_pseg_name_ok
 * accepts, seg_offset >= 0, seg_layout 0 or 1, and seg_bytes ==
 * sum(rows) * (in_cols + out_cols) * 8: otherwise ORR_EINVAL naming
 * the chunk and what is wrong, nothing written.  The payload itself is
 * not read (its checksum is the reader's to check). */
int orri_predictions_commit(struct orr_meta *m,
                            const struct orri_chunk_row *chunks,
                            size_t n_chunks,
                            const struct orri_prediction_row *rows,
                            size_t n_rows,
                            struct orri_pred_scratch **scratch,
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

/* The same, looking through the `newest` logged predictions of the
 * chunks only (legacy rows always; 0: all): a server asks about ids it
 * has not logged itself, and bounds the scan. */
int orri_predictions_label_recent(struct orr_meta *m, const char *model,
                                  const char *request_id, const char *label,
                                  int64_t newest, struct orr_error *e);

/* One label of a batch (orri_labels_put). */
struct orri_label_row {
    const char *request_id;
    const char *model;          /* NULL or "": any model                   */
    const char *label;          /* JSON text                               */
};

/* Store `n` labels in one transaction; *matched gets how many have a
 * logged prediction under their id already: legacy rows through their
 * request index, chunks by one scan of their id columns (no per-row
 * index).  matched NULL: store only, no matching. */
int orri_labels_put(struct orr_meta *m, const struct orri_label_row *rows,
                    size_t n, int64_t *matched, struct orr_error *e);
/* The same, scanning the chunks of the `newest` logged predictions only
 * (0: all). */
int orri_labels_put_recent(struct orr_meta *m,
                           const struct orri_label_row *rows, size_t n,
                           int64_t newest, int64_t *matched,
                           struct orr_error *e);

/* What orri_predictions_prune removed (or would, in a dry run). */
struct orri_prune_report {
    int64_t chunks;             /* prediction_chunks rows                 */
    int64_t predictions;        /* the predictions they held              */
    int64_t legacy_rows;        /* rows of the predictions table          */
    int64_t labels;
    int64_t files;              /* segment files removed ...              */
    int64_t file_bytes;         /* ... and their bytes                    */
    int64_t files_kept;         /* unreferenced, but recent or in use     */
};

/* Retention (meta/pprune.c): delete the logged predictions older than
 * `before_ms` (Unix ms) - chunks whose newest prediction is older, rows
 * of the legacy table - and the labels received before it, of `model`
 * only when not NULL, 5000 rows a transaction (tests: the slice is
 * orri_pprune_test_slice when > 0); then remove the segment files
 * of `predictions/` that no remaining chunk refers to, unless written to
 * within `grace_ms` or held by a live writer.  dry_run: count, change
 * nothing.  Monitor windows, alerts and profiles are kept. */
extern int64_t orri_pprune_test_slice;
int orri_predictions_prune(struct orr_meta *m, int64_t before_ms,
                           const char *model, int64_t grace_ms, int dry_run,
                           struct orri_prune_report *out,
                           struct orr_error *e);

/* Decode a stored inputs/outputs cell: a BLOB of `cols` columns (bytes
 * must be a multiple of 8 * cols), or legacy JSON text (an array of rows,
 * null for NaN) when `cols` <= 0.  *out is malloc'ed (rows x *cols). */
int orri_predictions_decode(const void *data, size_t len, int is_text,
                            int64_t cols, double **out, size_t *rows,
                            size_t *ncols, struct orr_error *e);

/* Little-endian bytes of n doubles (8 * n bytes at `dst`), and back. */
void orri_f64_to_le(void *dst, const double *src, size_t n);
void orri_f64_from_le(double *dst, const void *src, size_t n);
/* The little-endian int64 at `src` (8 bytes), and `v` written so. */
int64_t orri_i64_from_le(const void *src);
void    orri_i64_to_le(void *dst, int64_t v);

#endif
