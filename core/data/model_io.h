/*
 * data/model_io.h - trained models as artifacts, prediction and evaluation
 * on datasets.
 *
 * A trained model is a directory the trainer wrote (its flavor's files)
 * plus a manifest the core adds, `orrery-model.json`:
 *
 *   {"format": "orrery-model", "version": 1, "flavor": "linear",
 *    "trainer": "linear", "task": "binary", "target": "malignant",
 *    "target_type": "f64", "classes": ["0", "1"],
 *    "files": {"model.json": "<sha256>"}, "train_dataset": "<sha256>"}
 *
 * Each file is stored as a blob; the model artifact is the manifest, so
 * its digest names the whole model and fetching it brings back every file
 * verified.  `classes` (classification only) are the target's labels in
 * class order, as the trainer saw them (numbers formatted shortest).
 */
#ifndef ORRI_DATA_MODEL_IO_H
#define ORRI_DATA_MODEL_IO_H

#include <stdint.h>

#include <jansson.h>

#include <orrery/status.h>
#include <orrery/storage.h>
#include <orrery/trainer.h>

#include "api.h"
#include "data/table.h"

struct orr_core;
struct orr_instance;
struct orr_model;

#define ORR_MODEL_MANIFEST "orrery-model.json"

struct orr_model_manifest {
    char          flavor[ORR_FLAVOR_SIZE];
    char          trainer[64];
    enum orr_task task;
    char         *target;
    int           target_numeric;
    char        **classes;
    size_t        n_classes;
    char          train_dataset[ORR_DIGEST_HEX_LEN + 1];
};

ORR_API void orr_model_manifest_clear(struct orr_model_manifest *mf);

/* Write the manifest into `dir`, store every regular file of `dir` and
 * the manifest; `digest` gets the manifest's (the model's) digest and
 * *size the total bytes. */
ORR_API int orr_model_store_dir(struct orr_instance *st, const char *dir,
                                const struct orr_model_manifest *mf,
                                char digest[ORR_DIGEST_HEX_LEN + 1],
                                uint64_t *size, struct orr_error *e);
/* Read `dir`/orrery-model.json. */
ORR_API int orr_model_read_manifest(const char *dir,
                                    struct orr_model_manifest *mf,
                                    struct orr_error *e);
/* Open a model by digest (fetched through `st` into a temporary
 * directory, removed after loading) or by directory. */
ORR_API int orr_model_open(struct orr_core *core, const char *digest_or_dir,
                           struct orr_model **out,
                           struct orr_model_manifest *mf,
                           struct orr_error *e);

/* A fresh temporary directory (mkdtemp under $TMPDIR or /tmp) and its
 * removal (files first; the directory holds no sub-directories). */
ORR_API int orr_tempdir(char *out, size_t cap, const char *prefix,
                        struct orr_error *e);
ORR_API void orr_tempdir_remove(const char *dir);

/* Predict every row of `ds`: *out gets rows x *n_out values (malloc'ed),
 * in batches through orr_model_predict. */
ORR_API int orr_model_predict_dataset(const struct orr_model *m,
                                      const struct orr_dataset *ds,
                                      double **out, size_t *n_out,
                                      struct orr_error *e);

/* Evaluate on `ds` (whose target must be the model's target) and return
 * the metrics as a JSON object (see docs/training.md): NaN values are
 * null.  The caller owns the reference. */
ORR_API int orr_model_evaluate(const struct orr_model *m,
                               const struct orr_model_manifest *mf,
                               const struct orr_dataset *ds, json_t **out,
                               struct orr_error *e);

#endif
