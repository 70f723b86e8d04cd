/*
 * meta/gc.h - garbage collection of stored blobs that nothing in the
 * metadata store references any more.
 *
 * A blob is referenced, and kept, when its digest is the artifact of a
 * lineage event (a step of an existing run read or wrote it), the script
 * of an existing run, the model file of a registered version, or a
 * dataset a registered version was trained on.  Every other blob is
 * collected, except that one younger than the grace period (by its
 * storage time and, when it has an artifacts row, by that row's time)
 * is kept: a step that is running right now may have stored it and not
 * yet recorded it.  Rows of the artifacts table whose blob is collected
 * are deleted with it.
 *
 * Deletion runs in batches, each inside one write transaction that
 * re-checks the references, so nothing can reference a blob between the
 * check and its removal through this database.
 */
#ifndef ORRI_META_GC_H
#define ORRI_META_GC_H

#include <stddef.h>
#include <stdint.h>

#include <orrery/status.h>
#include <orrery/storage.h>

#include "api.h"
#include "meta/meta.h"
#include "plugin/instance.h"

#define ORR_GC_GRACE_DEFAULT_MS (60 * 60 * 1000)

struct orr_gc_options {
    int     dry_run;        /* report only                                */
    int64_t grace_ms;       /* < 0: ORR_GC_GRACE_DEFAULT_MS; 0: none      */
    int64_t now_ms;         /* 0: the clock (tests pass a time)           */
};

struct orr_gc_report {
    size_t   scanned;       /* blobs in storage                           */
    size_t   referenced;    /* kept: referenced                           */
    size_t   young;         /* kept: unreferenced, within the grace       */
    size_t   deleted;       /* collected (or, dry run, to be)             */
    uint64_t bytes_deleted;
    uint64_t bytes_kept;
    size_t   rows_deleted;  /* artifacts rows removed with their blob     */
};

/* Called for every blob collected (or that a dry run would collect). */
typedef void (*orr_gc_fn)(void *ctx, const struct orr_blob_info *blob);

ORR_API int orr_gc_run(struct orr_meta *m, struct orr_instance *storage,
                       const struct orr_gc_options *opt,
                       struct orr_gc_report *out, orr_gc_fn fn, void *ctx,
                       struct orr_error *e);

#endif
