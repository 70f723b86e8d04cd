/*
 * data/names.c - named dataset versions (see data/names.h).
 *
 * This file reaches into the metadata store's connection (meta_internal.h)
 * for two queries the store's API does not offer yet; it takes the store's
 * lock and runs in its write transaction like core/meta/ does.  It goes
 * away when the registry grows a dataset_versions table.
 */
#include "data/names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "meta/meta_internal.h"
#include "storage/artifacts.h"
#include "util/error.h"

#define PREFIX "datasets:/"

ORR_API int orr_dataset_name_is_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 128 || name[0] == '.')
        return 0;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        "0123456789._-") == n;
}

/* Count of versions of `name` and the latest one's dataset digest. */
static int latest(struct orr_meta *m, const char *name, int64_t *count,
                  char *digest, struct orr_error *e)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(m->db,
        "SELECT count(*), (SELECT uri FROM artifacts WHERE"
        " kind = 'dataset-version' AND name = ?1 ORDER BY id DESC LIMIT 1)"
        " FROM artifacts WHERE kind = 'dataset-version' AND name = ?1",
        -1, &st, NULL);
    if (src != SQLITE_OK)
        return orri_meta_sqlfail(m, src, e, "reading dataset versions");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    int rc = ORR_OK;
    digest[0] = '\0';
    if (src == SQLITE_ROW) {
        *count = sqlite3_column_int64(st, 0);
        const char *uri = (const char *)sqlite3_column_text(st, 1);
        if (uri && !strncmp(uri, "artifact:", 9))
            snprintf(digest, ORR_DIGEST_HEX_LEN + 1, "%s", uri + 9);
    } else {
        rc = orri_meta_sqlfail(m, src, e, "reading dataset versions");
    }
    sqlite3_finalize(st);
    return rc;
}

ORR_API int orr_dataset_add_version(struct orr_core *core, const char *name,
                                    const char *digest, uint64_t size,
                                    int64_t *version, int *is_new,
                                    struct orr_error *e)
{
    struct orr_meta *m;
    struct orr_instance *st;
    if (!orr_dataset_name_is_valid(name))
        return orr_fail(e, ORR_EINVAL, "bad dataset name '%s' (use letters, "
                        "digits, '.', '_' and '-')", name);
    int rc = orr_core_meta(core, &m, e);
    if (!rc)
        rc = orr_core_storage(core, &st, e);
    if (!rc)
        rc = orr_meta_artifact(m, 0, ORR_EVENT_OUTPUT, digest, size,
                               "dataset", name, e);
    if (rc)
        return rc;
    pthread_mutex_lock(&m->lock);
    rc = orri_meta_begin(m, e);
    if (rc) {
        pthread_mutex_unlock(&m->lock);
        return rc;
    }
    int64_t count = 0;
    char last[ORR_DIGEST_HEX_LEN + 1];
    rc = latest(m, name, &count, last, e);
    if (!rc && !strcmp(last, digest)) {
        *version = count;
        *is_new = 0;
        orri_meta_rollback(m);
        pthread_mutex_unlock(&m->lock);
        return ORR_OK;
    }
    char text[512], ptr[ORR_DIGEST_HEX_LEN + 1], uri[80];
    int len = snprintf(text, sizeof text, "orrery dataset version\nname=%s\n"
                       "version=%lld\ndataset=%s\n", name,
                       (long long)(count + 1), digest);
    if (!rc)
        rc = orr_storage_put_buf(st, text, (size_t)len, ptr, e);
    snprintf(uri, sizeof uri, "artifact:%s", digest);
    sqlite3_stmt *ins = NULL;
    if (!rc) {
        int src = sqlite3_prepare_v2(m->db,
            "INSERT INTO artifacts (digest, size, kind, name, uri, "
            "created_ms) VALUES (?1, ?2, 'dataset-version', ?3, ?4, ?5)",
            -1, &ins, NULL);
        if (src == SQLITE_OK) {
            sqlite3_bind_text(ins, 1, ptr, -1, SQLITE_STATIC);
            sqlite3_bind_int64(ins, 2, len);
            sqlite3_bind_text(ins, 3, name, -1, SQLITE_STATIC);
            sqlite3_bind_text(ins, 4, uri, -1, SQLITE_STATIC);
            sqlite3_bind_int64(ins, 5, orri_meta_now_ms());
            src = sqlite3_step(ins);
        }
        if (src != SQLITE_DONE)
            rc = orri_meta_sqlfail(m, src, e, "recording a dataset version");
        sqlite3_finalize(ins);
    }
    if (!rc)
        rc = orri_meta_commit(m, e);
    else
        orri_meta_rollback(m);
    pthread_mutex_unlock(&m->lock);
    if (!rc) {
        *version = count + 1;
        *is_new = 1;
    }
    return rc;
}

ORR_API int orr_dataset_resolve(struct orr_core *core, const char *uri,
                                char digest[ORR_DIGEST_HEX_LEN + 1],
                                int64_t *version, struct orr_error *e)
{
    if (strncmp(uri, PREFIX, strlen(PREFIX)))
        return orr_fail(e, ORR_EINVAL, "not a dataset URI: %s", uri);
    char name[160];
    const char *rest = uri + strlen(PREFIX);
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    long long want = 0;
    if (n >= sizeof name)
        return orr_fail(e, ORR_EINVAL, "bad dataset URI: %s", uri);
    memcpy(name, rest, n);
    name[n] = '\0';
    if (slash) {
        char *end;
        want = strtoll(slash + 1, &end, 10);
        if (*end || want < 1)
            return orr_fail(e, ORR_EINVAL, "bad version in %s (expected "
                            "datasets:/NAME/N with N >= 1)", uri);
    }
    if (!orr_dataset_name_is_valid(name))
        return orr_fail(e, ORR_EINVAL, "bad dataset name in %s", uri);
    struct orr_meta *m;
    int rc = orr_core_meta(core, &m, e);
    if (rc)
        return rc;
    pthread_mutex_lock(&m->lock);
    int64_t count = 0;
    char last[ORR_DIGEST_HEX_LEN + 1];
    rc = latest(m, name, &count, last, e);
    if (!rc && count == 0)
        rc = orr_fail(e, ORR_ENOTFOUND, "no dataset named '%s' (add one "
                      "with: orrery data add FILE --name %s)", name, name);
    else if (!rc && want > count)
        rc = orr_fail(e, ORR_ENOTFOUND, "dataset '%s' has %lld version%s, "
                      "not %lld", name, (long long)count,
                      count == 1 ? "" : "s", want);
    if (!rc && want && want != count) {
        sqlite3_stmt *st = NULL;
        int src = sqlite3_prepare_v2(m->db,
            "SELECT uri FROM artifacts WHERE kind = 'dataset-version' AND"
            " name = ?1 ORDER BY id LIMIT 1 OFFSET ?2", -1, &st, NULL);
        if (src == SQLITE_OK) {
            sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, want - 1);
            src = sqlite3_step(st);
        }
        const char *u = src == SQLITE_ROW ?
                        (const char *)sqlite3_column_text(st, 0) : NULL;
        if (u && !strncmp(u, "artifact:", 9))
            snprintf(last, sizeof last, "%s", u + 9);
        else
            rc = orri_meta_sqlfail(m, src == SQLITE_ROW ? SQLITE_CORRUPT :
                                   src, e, "reading a dataset version");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&m->lock);
    if (rc)
        return rc;
    if (!orr_digest_is_valid(last))
        return orr_fail(e, ORR_ECORRUPT, "dataset version %s: bad record",
                        uri);
    memcpy(digest, last, ORR_DIGEST_HEX_LEN + 1);
    *version = want ? want : count;
    return ORR_OK;
}
