/*
 * meta/datasets.c - named dataset versions (see meta/datasets.h).
 */
#include "meta/datasets.h"

#include <stdio.h>
#include <string.h>

#include "meta/meta_internal.h"
#include "storage/artifacts.h"
#include "util/error.h"

/* Latest version number of `name` (0 if none) and its digest. */
static int latest(struct orr_meta *m, const char *name, int64_t *version,
                  char digest[ORR_DIGEST_HEX_LEN + 1], struct orr_error *e)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(m->db,
        "SELECT v.version, a.digest FROM dataset_versions v"
        " JOIN artifacts a ON a.id = v.artifact_id WHERE v.name = ?1"
        " ORDER BY v.version DESC LIMIT 1", -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    *version = 0;
    digest[0] = '\0';
    int rc = ORR_OK;
    if (src == SQLITE_ROW) {
        const unsigned char *d = sqlite3_column_text(st, 1);
        *version = sqlite3_column_int64(st, 0);
        snprintf(digest, ORR_DIGEST_HEX_LEN + 1, "%s",
                 d ? (const char *)d : "");
    } else if (src != SQLITE_DONE) {
        rc = orri_meta_sqlfail(m, src, e, "reading dataset versions");
    }
    sqlite3_finalize(st);
    return rc;
}

static int add_locked(struct orr_meta *m, const char *name,
                      const char *digest, uint64_t size, int64_t *version,
                      int *is_new, struct orr_error *e)
{
    char last[ORR_DIGEST_HEX_LEN + 1];
    int64_t count = 0;
    int rc = latest(m, name, &count, last, e);
    if (rc)
        return rc;
    if (count && !strcmp(last, digest)) {
        *version = count;
        *is_new = 0;
        return ORR_OK;
    }
    int64_t now = orri_now_ms();
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(m->db,
        "INSERT INTO artifacts (digest, size, kind, name, created_ms)"
        " VALUES (?1, ?2, 'dataset', ?3, ?4) ON CONFLICT (digest) DO NOTHING",
        -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
        sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now);
        src = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (src != SQLITE_DONE)
        return orri_meta_sqlfail(m, src, e, "recording a dataset");
    src = sqlite3_prepare_v2(m->db,
        "INSERT INTO dataset_versions (name, version, artifact_id,"
        " created_ms) SELECT ?1, ?2, id, ?3 FROM artifacts WHERE digest = ?4",
        -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, count + 1);
        sqlite3_bind_int64(st, 3, now);
        sqlite3_bind_text(st, 4, digest, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        return orri_meta_sqlfail(m, src, e, "recording a dataset version");
    *version = count + 1;
    *is_new = 1;
    return ORR_OK;
}

ORR_API int orr_meta_dataset_add(struct orr_meta *m, const char *name,
                                 const char *digest, uint64_t size,
                                 int64_t *version, int *is_new,
                                 struct orr_error *e)
{
    if (!orr_digest_is_valid(digest))
        return orr_fail(e, ORR_EINVAL, "bad dataset digest '%s'", digest);
    pthread_mutex_lock(&m->lock);
    int rc = orri_meta_begin(m, e);
    if (!rc) {
        rc = add_locked(m, name, digest, size, version, is_new, e);
        if (!rc)
            rc = orri_meta_commit(m, e);
        else
            orri_meta_rollback(m);
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

ORR_API int orr_meta_dataset_get(struct orr_meta *m, const char *name,
                                 int64_t *version,
                                 char digest[ORR_DIGEST_HEX_LEN + 1],
                                 struct orr_error *e)
{
    int64_t want = *version, count = 0;
    int gap = 0;
    pthread_mutex_lock(&m->lock);
    int rc = latest(m, name, &count, digest, e);
    if (!rc && want > 0 && want < count) {
        sqlite3_stmt *st = NULL;
        int src = sqlite3_prepare_v2(m->db,
            "SELECT a.digest FROM dataset_versions v JOIN artifacts a"
            " ON a.id = v.artifact_id WHERE v.name = ?1 AND v.version = ?2",
            -1, &st, NULL);
        if (src == SQLITE_OK) {
            sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, want);
            src = sqlite3_step(st);
        }
        if (src == SQLITE_ROW) {
            const unsigned char *d = sqlite3_column_text(st, 0);
            snprintf(digest, ORR_DIGEST_HEX_LEN + 1, "%s",
                     d ? (const char *)d : "");
        } else if (src == SQLITE_DONE) {
            gap = 1;            /* never made: say so, not "corrupt" */
        } else {
            rc = orri_meta_sqlfail(m, src, e, "reading a dataset version");
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&m->lock);
    if (rc)
        return rc;
    if (count == 0)
        return orr_fail(e, ORR_ENOTFOUND, "no dataset named '%s' (add one "
                        "with: orrery data add FILE --name %s)", name, name);
    if (gap)
        return orr_fail(e, ORR_ENOTFOUND, "dataset '%s' has no version "
                        "%lld", name, (long long)want);
    if (want > count)
        return orr_fail(e, ORR_ENOTFOUND, "dataset '%s' has %lld version%s, "
                        "not %lld", name, (long long)count,
                        count == 1 ? "" : "s", (long long)want);
    if (!orr_digest_is_valid(digest))
        return orr_fail(e, ORR_ECORRUPT, "dataset %s version %lld: bad "
                        "record", name, (long long)(want ? want : count));
    if (!want)
        *version = count;
    return ORR_OK;
}
