/*
 * meta/gc.c - collect unreferenced blobs (rules in gc.h).
 *
 * The storage listing is taken first, outside any transaction (it may be
 * slow: a remote bucket).  Then, per batch of blobs, one BEGIN IMMEDIATE
 * transaction decides, deletes the artifacts rows and removes the blobs,
 * so no writer of this database can add a reference to a batch's blobs
 * while it is being collected.  Batches keep the write lock short for
 * the steps logging at the same time.
 */
#include <stdlib.h>
#include <string.h>

#include "meta/gc.h"
#include "meta/registry_internal.h"
#include "storage/artifacts.h"
#include "util/error.h"

#define BATCH 256

struct listing {
    struct orr_blob_info *b;
    size_t n, cap;
};

static int collect(void *ctx, const struct orr_blob_info *info)
{
    struct listing *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        void *p = realloc(l->b, cap * sizeof *l->b);
        if (!p)
            return ORR_ENOMEM;
        l->b = p;
        l->cap = cap;
    }
    l->b[l->n++] = *info;
    return 0;
}

/* Row: artifact id (NULL: no row), created_ms, referenced (0/1). */
static const char ref_sql[] =
    "SELECT a.id, a.created_ms,"
    " EXISTS (SELECT 1 FROM events WHERE artifact_id = a.id)"
    " OR EXISTS (SELECT 1 FROM model_versions WHERE artifact_id = a.id)"
    " OR EXISTS (SELECT 1 FROM model_version_datasets"
    "            WHERE artifact_id = a.id)"
    " OR EXISTS (SELECT 1 FROM runs WHERE script_hash = a.digest)"
    " FROM (SELECT ?1 AS d) q LEFT JOIN artifacts a ON a.digest = q.d";

enum verdict { KEEP_REF, KEEP_YOUNG, COLLECT };

static int judge(struct orr_meta *m, sqlite3_stmt *st,
                 const struct orr_blob_info *b, int64_t cutoff_ms,
                 int64_t *row_id, enum verdict *v, struct orr_error *e)
{
    int row = 0;
    sqlite3_bind_text(st, 1, b->digest, -1, SQLITE_STATIC);
    int rc = orri_reg_step(m, st, &row, "checking references", e);
    *row_id = 0;
    *v = KEEP_REF;
    if (!rc && row) {
        int has_row = sqlite3_column_type(st, 0) != SQLITE_NULL;
        *row_id = has_row ? sqlite3_column_int64(st, 0) : 0;
        int64_t created = has_row ? sqlite3_column_int64(st, 1) : 0;
        /* Unknown storage time: assume fresh unless there is no grace. */
        int64_t stored = b->mtime > 0 ? b->mtime * 1000 : INT64_MAX;
        if (has_row && sqlite3_column_int(st, 2))
            *v = KEEP_REF;
        else if (cutoff_ms < INT64_MAX &&
                 (stored > cutoff_ms || (has_row && created > cutoff_ms)))
            *v = KEEP_YOUNG;
        else
            *v = COLLECT;
    }
    sqlite3_reset(st);
    return rc;
}

static int batch(struct orr_meta *m, struct orr_instance *storage,
                 const struct orr_gc_options *opt, int64_t cutoff,
                 const struct orr_blob_info *b, size_t n,
                 struct orr_gc_report *r, orr_gc_fn fn, void *ctx,
                 struct orr_error *e)
{
    sqlite3_stmt *ref = NULL, *del = NULL;
    int rc = ORR_OK;
    if (!opt->dry_run)
        rc = orri_meta_begin(m, e);
    if (rc)
        return rc;
    rc = orri_reg_prep(m, ref_sql, &ref, e);
    if (!rc && !opt->dry_run)
        rc = orri_reg_prep(m, "DELETE FROM artifacts WHERE id = ?1", &del,
                           e);
    for (size_t i = 0; !rc && i < n; i++) {
        int64_t row_id = 0;
        enum verdict v;
        rc = judge(m, ref, &b[i], cutoff, &row_id, &v, e);
        if (rc)
            break;
        if (v != COLLECT) {
            if (v == KEEP_REF)
                r->referenced++;
            else
                r->young++;
            r->bytes_kept += b[i].size;
            continue;
        }
        if (!opt->dry_run) {
            if (row_id) {
                sqlite3_bind_int64(del, 1, row_id);
                rc = orri_reg_step(m, del, NULL, "deleting an artifact", e);
                sqlite3_reset(del);
                if (rc)
                    break;
                r->rows_deleted++;
            }
            rc = orr_storage_remove(storage, b[i].digest, e);
            if (rc == ORR_ENOTFOUND) {
                /* Another gc got there first. */
                rc = ORR_OK;
                continue;
            }
            if (rc)
                break;
        }
        r->deleted++;
        r->bytes_deleted += b[i].size;
        if (fn)
            fn(ctx, &b[i]);
    }
    sqlite3_finalize(ref);
    sqlite3_finalize(del);
    if (opt->dry_run)
        return rc;
    /* Blobs already removed stay removed; their rows must go too. */
    if (!rc)
        return orri_meta_commit(m, e);
    struct orr_error e2 = {0};
    if (orri_meta_commit(m, &e2))
        orri_meta_rollback(m);
    return rc;
}

ORR_API int orr_gc_run(struct orr_meta *m, struct orr_instance *storage,
                       const struct orr_gc_options *opt,
                       struct orr_gc_report *out, orr_gc_fn fn, void *ctx,
                       struct orr_error *e)
{
    static const struct orr_gc_options dflt = {.grace_ms = -1};
    memset(out, 0, sizeof *out);
    if (!opt)
        opt = &dflt;
    if (!m || !storage)
        return orr_fail(e, ORR_EINVAL, "gc needs a metadata store and a "
                        "storage instance");
    int64_t grace = opt->grace_ms < 0 ? ORR_GC_GRACE_DEFAULT_MS
                                      : opt->grace_ms;
    int64_t now = opt->now_ms ? opt->now_ms : orri_now_ms();
    int64_t cutoff = grace == 0 ? INT64_MAX : now - grace;
    struct listing l = {0};
    int rc = orr_storage_list(storage, "", collect, &l, e);
    if (rc == ORR_ENOMEM)
        orr_fail(e, rc, "listing storage: out of memory");
    if (rc) {
        free(l.b);
        return rc;
    }
    out->scanned = l.n;
    pthread_mutex_lock(&m->lock);
    /* References logged by this process must be visible first. */
    rc = orri_meta_flush_locked(m, e);
    for (size_t i = 0; !rc && i < l.n; i += BATCH)
        rc = batch(m, storage, opt, cutoff, l.b + i,
                   l.n - i < BATCH ? l.n - i : BATCH, out, fn, ctx, e);
    pthread_mutex_unlock(&m->lock);
    free(l.b);
    return rc;
}
