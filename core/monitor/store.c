/*
 * monitor/store.c - core/monitor's own connection to the metadata
 * database, and the profile link of model versions.
 */
#include <string.h>

#include "core.h"
#include "monitor/internal.h"
#include "util/error.h"

#define BUSY_TIMEOUT_MS 10000

int orri_mon_sqlfail(sqlite3 *db, int rc, struct orr_error *e,
                     const char *doing)
{
    int code = rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? ORR_EBUSY
             : rc == SQLITE_NOMEM ? ORR_ENOMEM : ORR_EIO;
    return orr_fail(e, code, "%s: %s", doing,
                    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

int orri_mon_db_open(struct orr_core *core, sqlite3 **out,
                     struct orr_error *e)
{
    *out = NULL;
    struct orr_meta *m = NULL;
    /* The core's store migrates (and identifies) the file first. */
    int rc = orr_core_meta(core, &m, e);
    if (rc)
        return rc;
    const struct orr_site *site = orr_core_site(core);
    sqlite3 *db = NULL;
    int src = sqlite3_open_v2(site->db_path, &db, SQLITE_OPEN_READWRITE |
                              SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        rc = orri_mon_sqlfail(db, src, e, "opening the metadata store");
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    /* Windows read hundreds of MB of the log: mapping the file saves a
     * copy per page (25% of the read at 1e6 rows). */
    sqlite3_exec(db, "PRAGMA foreign_keys = ON; PRAGMA mmap_size = "
                 "1073741824", NULL, NULL, NULL);
    *out = db;
    return ORR_OK;
}

void orri_mon_db_close(sqlite3 *db)
{
    sqlite3_close(db);
}

int orri_mon_profile_digest(sqlite3 *db, const char *model, int64_t version,
                            char digest[65], struct orr_error *e)
{
    static const char q[] =
        "SELECT a.digest FROM model_versions mv"
        " JOIN registered_models r ON r.id = mv.model_id"
        " JOIN artifacts a ON a.id = mv.profile_artifact_id"
        " WHERE r.name = ? AND mv.version = ?";
    sqlite3_stmt *st = NULL;
    digest[0] = '\0';
    int src = sqlite3_prepare_v2(db, q, -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, version);
        src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            const char *d = (const char *)sqlite3_column_text(st, 0);
            if (d && strlen(d) == 64)
                memcpy(digest, d, 65);
            src = SQLITE_DONE;
        }
    }
    int rc = src == SQLITE_DONE ? ORR_OK
           : orri_mon_sqlfail(db, src, e, "reading the profile link");
    sqlite3_finalize(st);
    return rc;
}

int orri_mon_profile_link(sqlite3 *db, const char *model, int64_t version,
                          const char *digest, struct orr_error *e)
{
    static const char q[] =
        "UPDATE model_versions SET profile_artifact_id ="
        " (SELECT id FROM artifacts WHERE digest = ?1)"
        " WHERE version = ?3 AND model_id ="
        " (SELECT id FROM registered_models WHERE name = ?2)";
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(db, q, -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, version);
        src = sqlite3_step(st);
    }
    int rc = ORR_OK;
    if (src != SQLITE_DONE)
        rc = orri_mon_sqlfail(db, src, e, "linking the profile");
    else if (sqlite3_changes(db) == 0)
        rc = orr_fail(e, ORR_ENOTFOUND, "no version %s/%lld to link the "
                      "profile to", model, (long long)version);
    sqlite3_finalize(st);
    return rc;
}
