/*
 * data/names.h - named dataset versions: `orrery data add FILE --name
 * cancer` makes datasets:/cancer/1, /2, ... like DVC, each version a
 * dataset artifact (content hash) recorded in the metadata store.
 *
 * Versions are rows of the metadata store's dataset_versions table
 * (meta/datasets.h, schema migration 3, which also carried over the
 * interim "dataset-version" pointer artifacts of older databases).
 * Adding the same content as the latest version again makes no new
 * version.
 */
#ifndef ORRI_DATA_NAMES_H
#define ORRI_DATA_NAMES_H

#include <stdint.h>

#include <orrery/status.h>
#include <orrery/storage.h>

#include "api.h"

struct orr_core;

/* 1 if `name` is 1..128 of [A-Za-z0-9._-] and does not start with '.'. */
ORR_API int orr_dataset_name_is_valid(const char *name);

/* Record dataset `digest` (already stored, `size` bytes) as the next
 * version of `name`; *version gets its number, *is_new 0 when it equals
 * the latest version. */
ORR_API int orr_dataset_add_version(struct orr_core *core, const char *name,
                                    const char *digest, uint64_t size,
                                    int64_t *version, int *is_new,
                                    struct orr_error *e);

/* Resolve "datasets:/NAME" (latest) or "datasets:/NAME/N" to a digest. */
ORR_API int orr_dataset_resolve(struct orr_core *core, const char *uri,
                                char digest[ORR_DIGEST_HEX_LEN + 1],
                                int64_t *version, struct orr_error *e);

#endif
