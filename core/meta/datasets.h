/*
 * meta/datasets.h - named dataset versions in the metadata store (the
 * dataset_versions table of schema migration 3): datasets:/NAME/N names
 * the dataset artifact recorded as version N of NAME.  Numbers start at 1
 * and only grow.  core/data/names.c builds `orrery data add` and the
 * datasets:/ URIs on these.
 */
#ifndef ORRI_META_DATASETS_H
#define ORRI_META_DATASETS_H

#include <stdint.h>

#include <orrery/status.h>
#include <orrery/storage.h>

#include "api.h"
#include "meta/meta.h"

/* Record the dataset `digest` (`size` bytes; its artifact row is created
 * if missing, kind "dataset", named `name`) as the next version of
 * `name`, unless it is the latest version already: then *is_new = 0 and
 * *version is that latest number.  One transaction. */
ORR_API int orr_meta_dataset_add(struct orr_meta *m, const char *name,
                                 const char *digest, uint64_t size,
                                 int64_t *version, int *is_new,
                                 struct orr_error *e);

/* The dataset digest of version `version` of `name` (0: the latest, whose
 * number goes to *version).  ORR_ENOTFOUND naming the name and how many
 * versions it has when there is no such version. */
ORR_API int orr_meta_dataset_get(struct orr_meta *m, const char *name,
                                 int64_t *version,
                                 char digest[ORR_DIGEST_HEX_LEN + 1],
                                 struct orr_error *e);

#endif
