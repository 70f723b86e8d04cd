/*
 * data/table.h - datasets: columnar tables owned by the core.
 *
 * A dataset is a set of equally long columns, each either numeric
 * (ORR_COL_F64: doubles) or categorical (ORR_COL_CATEGORY: int32 codes
 * into a dictionary of labels), with a missing-value mask, and optionally
 * one target column.  Plugins see it through `view`, the SDK's read-only
 * struct orr_table (sdk/include/orrery/table.h), which points into the
 * dataset's own memory: no copy is made for a fit.
 *
 * Missing values: a numeric column stores NaN and sets missing[i] = 1; a
 * categorical column stores code -1 and sets missing[i] = 1.  `missing` is
 * NULL for a column with no missing value.
 *
 * Identity: a dataset's version is the SHA-256 of its canonical bytes
 * (orr_dataset_write_canonical: a fixed binary layout, documented in
 * docs/training.md), computed by the storage backend when the dataset is
 * stored (orr_dataset_store).  The same bytes can be read back
 * (orr_dataset_read_canonical), which is how a dataset crosses steps.
 *
 * Datasets are immutable once built; split and select make new ones.  They
 * are not reference-counted here (the Lua binding does that).
 */
#ifndef ORRI_DATA_TABLE_H
#define ORRI_DATA_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <orrery/status.h>
#include <orrery/storage.h>
#include <orrery/table.h>

#include "api.h"

struct orr_instance;

struct orr_dataset {
    struct orr_table   view;        /* what plugins see                     */
    struct orr_column *cols;        /* view.columns, view.cols entries     */
    /* Owned storage behind the views (same index as cols). */
    double           **f64;         /* numeric data or NULL                 */
    int32_t          **codes;       /* category codes or NULL               */
    uint8_t          **missing;     /* mask or NULL                         */
    char            ***dict;        /* labels or NULL                       */
    char             **names;
    char               hash[ORR_DIGEST_HEX_LEN + 1];  /* "" until stored   */
    char              *source;      /* file name for messages, or NULL      */
};

/* Options for orr_dataset_load_csv.  Every member may be zero. */
struct orr_csv_options {
    const char        *target;      /* label column, or NULL                */
    const char *const *categorical; /* columns forced categorical           */
    size_t             n_categorical;
    const char *const *numeric;     /* columns that must be numeric         */
    size_t             n_numeric;
    const char        *display;     /* name in messages (default: basename) */
};

/* Load a CSV file with a header line.  Fields may be quoted (RFC 4180);
 * "", NA, NaN, null (and N/A) are missing.  A column whose every present
 * value is a number is numeric, any other categorical.  Errors name the
 * file, record number (the header is record 1; it is the line number
 * unless quoted fields span lines) and column:
 *   "penguins.csv:12: column 'bill_length_mm': not a number: 'abc'".
 * ORR_ENOTFOUND (no file), ORR_EINVAL (bad content), ORR_EIO, ORR_ENOMEM. */
ORR_API int orr_dataset_load_csv(const char *path,
                                 const struct orr_csv_options *opt,
                                 struct orr_dataset **out,
                                 struct orr_error *e);
ORR_API void orr_dataset_free(struct orr_dataset *ds);     /* NULL ok */

/* Index of column `name`, or (size_t)-1. */
ORR_API size_t orr_dataset_column(const struct orr_dataset *ds,
                                  const char *name);
/* Make `name` the target (ORR_EINVAL naming the columns if absent). */
ORR_API int orr_dataset_set_target(struct orr_dataset *ds, const char *name,
                                   struct orr_error *e);

/* A new dataset with rows idx[0..n) of `ds` (in that order). */
ORR_API int orr_dataset_take(const struct orr_dataset *ds,
                             const size_t *idx, size_t n,
                             struct orr_dataset **out, struct orr_error *e);
/* A new dataset with the named columns, in that order (the target stays
 * the target if selected). */
ORR_API int orr_dataset_select(const struct orr_dataset *ds,
                               const char *const *names, size_t n,
                               struct orr_dataset **out,
                               struct orr_error *e);

enum orr_split_kind {
    ORR_SPLIT_RANDOM = 0,
    ORR_SPLIT_STRATIFIED,   /* by the target's classes                     */
    ORR_SPLIT_TIME          /* by column `by`: the latest rows are test    */
};

struct orr_split_options {
    enum orr_split_kind kind;
    double              test;   /* fraction in (0, 1)                       */
    uint64_t            seed;
    const char         *by;     /* ORR_SPLIT_TIME: ordering column          */
};

/* Split into train and test.  Random and stratified splits shuffle with
 * xoshiro256** seeded through splitmix64 (see docs/training.md), so a
 * seed gives the same split on every platform; each part keeps the
 * original row order.  Test gets ceil(test * n) rows (per class for
 * stratified, rounded to nearest); time splits order by `by` (numbers by
 * value, labels by text) and give the test part the last rows. */
ORR_API int orr_dataset_split(const struct orr_dataset *ds,
                              const struct orr_split_options *opt,
                              struct orr_dataset **train,
                              struct orr_dataset **test,
                              struct orr_error *e);

/* The canonical bytes (see docs/training.md) to `f`. */
ORR_API int orr_dataset_write_canonical(const struct orr_dataset *ds,
                                        FILE *f, struct orr_error *e);
/* Rebuild a dataset from canonical bytes (ORR_ECORRUPT if malformed). */
ORR_API int orr_dataset_read_canonical(const void *data, size_t len,
                                       struct orr_dataset **out,
                                       struct orr_error *e);
/* Store the canonical bytes in `st` (once: a stored dataset keeps its
 * hash) and set ds->hash and view.content_hash.  *size gets the byte
 * count when non-NULL. */
ORR_API int orr_dataset_store(struct orr_dataset *ds, struct orr_instance *st,
                              uint64_t *size, struct orr_error *e);
/* Load a stored dataset by digest. */
ORR_API int orr_dataset_fetch(struct orr_instance *st, const char *digest,
                              struct orr_dataset **out, struct orr_error *e);

/* Labels of the target in class order (numbers formatted "%.17g", sorted
 * numerically; categories sorted by label bytes), and each row's class
 * index.  ORR_EINVAL if the target is missing in some row. */
ORR_API int orr_dataset_classes(const struct orr_dataset *ds,
                                char ***labels, size_t *n_classes,
                                size_t **row_class, struct orr_error *e);
ORR_API void orr_dataset_free_labels(char **labels, size_t n);

/* Build the row-major input matrix (rows x n) for a model whose inputs
 * are named `names`: a name equal to a numeric column takes its values;
 * "COL=LABEL" for categorical column COL is the one-hot indicator of
 * LABEL.  Missing values become NaN.  *data is malloc'ed. */
ORR_API int orr_dataset_matrix(const struct orr_dataset *ds,
                               const char *const *names, size_t n,
                               double **data, struct orr_error *e);

/* Format a number as a label ("%.17g", shortest that round-trips). */
void orri_format_number(char *out, size_t cap, double v);

#endif
