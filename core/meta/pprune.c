/*
 * meta/pprune.c - retention of the prediction log: delete logged
 * predictions and labels older than a cutoff, then the segment files
 * (meta/psegment.h) no chunk refers to any more.  The log only grows
 * otherwise: a server logging 1-row requests of 30 features at 50,000/s
 * writes about 45 GB of segments an hour.
 *
 * Rows go first, a slice of them a transaction; files after, and only
 * those no remaining chunk names, not written to within the grace period and not
 * held by a live writer (writers keep a shared flock on their open file,
 * the pruner takes an exclusive one before unlinking).  A crash between
 * the two leaves unreferenced files, which the next prune removes.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "meta/meta_internal.h"
#include "meta/predictions.h"
#include "meta/psegment.h"
#include "util/error.h"

/* The three tables the cutoff applies to: how many rows (and
 * predictions) are older, and how to delete a slice of them.  Chunks go
 * whole, when their newest prediction is older. */
static const struct {
    const char *count, *del;
} pruned[] = {
    {"SELECT count(*), coalesce(sum(n), 0) FROM prediction_chunks"
     " WHERE ts_max < ?1 AND (?2 IS NULL OR model = ?2)",
     "DELETE FROM prediction_chunks WHERE id IN (SELECT id FROM"
     " prediction_chunks WHERE ts_max < ?1 AND (?2 IS NULL OR model = ?2)"
     " LIMIT ?3)"},
    {"SELECT count(*), count(*) FROM predictions"
     " WHERE ts_ms < ?1 AND (?2 IS NULL OR model = ?2)",
     "DELETE FROM predictions WHERE rowid IN (SELECT rowid FROM predictions"
     " WHERE ts_ms < ?1 AND (?2 IS NULL OR model = ?2) LIMIT ?3)"},
    {"SELECT count(*), count(*) FROM labels"
     " WHERE ts_ms < ?1 AND (?2 IS NULL OR model = ?2)",
     "DELETE FROM labels WHERE (request_id, model) IN (SELECT request_id,"
     " model FROM labels WHERE ts_ms < ?1 AND (?2 IS NULL OR model = ?2)"
     " LIMIT ?3)"},
};

/* Rows deleted a transaction: a day of a busy server's log is millions of
 * chunks, and one transaction over them all would hold the store's write
 * lock long enough for a serving process's log writer to fall behind
 * and drop predictions. */
#define SLICE 5000

int64_t orri_pprune_test_slice;

static int64_t slice_rows(void)
{
    return orri_pprune_test_slice > 0 ? orri_pprune_test_slice : SLICE;
}

/* Run `sql` (count: *a, *b from its row; delete: *a rows changed). */
static int run_pruned(struct orr_meta *m, const char *sql, int64_t before,
                      const char *model, int64_t *a, int64_t *b,
                      struct orr_error *e)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(m->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, before);
        if (model)
            sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
        if (sqlite3_bind_parameter_count(st) >= 3)
            sqlite3_bind_int64(st, 3, slice_rows());
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *a = sqlite3_column_int64(st, 0);
            *b = sqlite3_column_int64(st, 1);
        } else if (rc == SQLITE_DONE) {
            *a = sqlite3_changes(m->db);
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return orri_meta_sqlfail(m, rc, e, "pruning the prediction log");
    return ORR_OK;
}

/* Delete the rows of table i before the cutoff, a slice a transaction,
 * the store's lock let go between slices. */
static int delete_slices(struct orr_meta *m, size_t i, int64_t before,
                         const char *model, struct orr_error *e)
{
    int64_t changed = 0, unused = 0;
    int rc = ORR_OK;
    do {
        pthread_mutex_lock(&m->lock);
        rc = orri_meta_begin(m, e);
        if (!rc)
            rc = run_pruned(m, pruned[i].del, before, model, &changed,
                            &unused, e);
        if (rc)
            orri_meta_rollback(m);
        else
            rc = orri_meta_commit(m, e);
        pthread_mutex_unlock(&m->lock);
    } while (!rc && changed == slice_rows());
    return rc;
}

/* Count (and unless dry_run delete) the rows before the cutoff. */
static int prune_rows(struct orr_meta *m, int64_t before, const char *model,
                      int dry_run, struct orri_prune_report *out,
                      struct orr_error *e)
{
    int64_t *counts[][2] = {
        {&out->chunks, &out->predictions},
        {&out->legacy_rows, &out->legacy_rows},
        {&out->labels, &out->labels},
    };
    int rc = ORR_OK;
    for (size_t i = 0; !rc && i < sizeof pruned / sizeof *pruned; i++) {
        int64_t a = 0, b = 0;
        pthread_mutex_lock(&m->lock);
        rc = run_pruned(m, pruned[i].count, before, model, &a, &b, e);
        pthread_mutex_unlock(&m->lock);
        *counts[i][0] = a;
        *counts[i][1] = b;
        if (!rc && !dry_run && a)
            rc = delete_slices(m, i, before, model, e);
    }
    return rc;
}

/* Names of the segments chunks refer to (after the prune: a dry run
 * leaves out the chunks it would delete), sorted for bsearch. */
struct names {
    char  **v;
    size_t  n, cap;
};

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int referenced(struct orr_meta *m, int64_t before, const char *model,
                      struct names *out, struct orr_error *e)
{
    static const char q[] =
        "SELECT DISTINCT segment FROM prediction_chunks"
        " WHERE segment IS NOT NULL"
        "   AND NOT (ts_max < ?1 AND (?2 IS NULL OR model = ?2))";
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&m->lock);
    int rc = sqlite3_prepare_v2(m->db, q, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, before);
        if (model)
            sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *s = (const char *)sqlite3_column_text(st, 0);
            if (!s)
                continue;
            if (out->n == out->cap) {
                size_t cap = out->cap ? out->cap * 2 : 64;
                char **v = realloc(out->v, cap * sizeof *v);
                if (!v) {
                    rc = SQLITE_NOMEM;
                    break;
                }
                out->v = v;
                out->cap = cap;
            }
            if (!(out->v[out->n] = strdup(s))) {
                rc = SQLITE_NOMEM;
                break;
            }
            out->n++;
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->lock);
    if (rc != SQLITE_DONE)
        return rc == SQLITE_NOMEM
                   ? orr_fail(e, ORR_ENOMEM, "out of memory")
                   : orri_meta_sqlfail(m, rc, e, "listing segment files");
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, cmp_name);
    return ORR_OK;
}

static int is_segment(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && !strcmp(name + n - 5, ".plog") && orri_pseg_name_ok(name);
}

int orri_predictions_prune(struct orr_meta *m, int64_t before_ms,
                           const char *model, int64_t grace_ms, int dry_run,
                           struct orri_prune_report *out,
                           struct orr_error *e)
{
    memset(out, 0, sizeof *out);
    int rc = prune_rows(m, before_ms, model, dry_run, out, e);
    if (rc)
        return rc;
    char dir[4096];
    pthread_mutex_lock(&m->lock);
    int has_dir = orri_pseg_dir(m->db, dir, sizeof dir);
    pthread_mutex_unlock(&m->lock);
    if (!has_dir)
        return ORR_OK;          /* a store without a file: all inline */
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? ORR_OK
                               : orr_fail(e, ORR_EIO, "reading %s: %s", dir,
                                          strerror(errno));
    struct names keep = {0};
    rc = referenced(m, before_ms, model, &keep, e);
    int64_t now = orri_now_ms();
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        const char *name = de->d_name;
        if (!is_segment(name) ||
            (keep.n && bsearch(&name, keep.v, keep.n, sizeof *keep.v,
                               cmp_name)))
            continue;
        int64_t bytes = 0;
        int r = orri_pseg_remove(dir, name, now, grace_ms, dry_run, &bytes);
        if (r == 1) {
            out->files++;
            out->file_bytes += bytes;
        } else if (r == 0) {
            out->files_kept++;
        } else if (r < 0) {
            rc = orr_fail(e, ORR_EIO, "removing %s/%s: %s", dir, name,
                          strerror(errno));
        }
    }
    closedir(d);
    for (size_t i = 0; i < keep.n; i++)
        free(keep.v[i]);
    free(keep.v);
    return rc;
}
