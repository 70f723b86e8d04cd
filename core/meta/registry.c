/*
 * meta/registry.c - the model registry: models, versions, datasets,
 * aliases with their audit trail, URIs and the promotion gate.
 *
 * Schema: migration 2 in schema.c, explained in docs/registry.md.  Each
 * write is one BEGIN IMMEDIATE transaction, so an alias move and its
 * audit event, or a version and its alias, are never seen apart.
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "meta/registry_internal.h"
#include "storage/artifacts.h"
#include "util/error.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX     10000
/* Names listed in "known: ..." parts of messages. */
#define KNOWN_MAX    8
/* Shortest digest or run id prefix accepted. */
#define PREFIX_MIN   4

/* ---- shared helpers --------------------------------------------------- */

int orri_reg_prep(struct orr_meta *m, const char *sql, sqlite3_stmt **st,
                  struct orr_error *e)
{
    int rc = sqlite3_prepare_v3(m->db, sql, -1, 0, st, NULL);
    if (rc != SQLITE_OK) {
        *st = NULL;
        return orri_meta_sqlfail(m, rc, e, "preparing a registry query");
    }
    return ORR_OK;
}

int orri_reg_step(struct orr_meta *m, sqlite3_stmt *st, int *row,
                  const char *what, struct orr_error *e)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        if (row)
            *row = rc == SQLITE_ROW;
        return ORR_OK;
    }
    return orri_meta_sqlfail(m, rc, e, what);
}

void orri_reg_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* Run one statement with text/int64 parameters given as a format:
 * 't' text (may be NULL), 'i' int64, 'n' NULL.  Fills *out with the
 * first column of the first row when `out` is given (row: 1 if any). */
static int exec_fmt(struct orr_meta *m, const char *sql, const char *fmt,
                    const char *what, int *row, int64_t *out,
                    struct orr_error *e, ...)
{
    sqlite3_stmt *st = NULL;
    int rc = orri_reg_prep(m, sql, &st, e);
    if (rc)
        return rc;
    va_list ap;
    va_start(ap, e);
    for (int i = 0; fmt[i]; i++) {
        if (fmt[i] == 't')
            sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1,
                              SQLITE_STATIC);
        else if (fmt[i] == 'i')
            sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        else
            sqlite3_bind_null(st, i + 1);
    }
    va_end(ap);
    int r = 0;
    rc = orri_reg_step(m, st, &r, what, e);
    if (!rc && row)
        *row = r;
    if (!rc && r && out)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* Printable, bounded copy of user text for messages. */
static const char *shown(const char *s, char *buf, size_t cap)
{
    size_t i = 0;
    if (!s)
        return "(null)";
    for (; s[i] && i + 4 < cap && i < 80; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (s[i] && i + 4 <= cap) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

static const char *current_user(char *buf, size_t cap)
{
    const char *u = getenv("USER");
    if (u && *u)
        return u;
    struct passwd pw, *res = NULL;
    if (getpwuid_r(geteuid(), &pw, buf, cap, &res) == 0 && res &&
        res->pw_name)
        return res->pw_name;
    return NULL;
}

/* ---- names, aliases, URIs --------------------------------------------- */

ORR_API int orr_registry_check_name(const char *name, struct orr_error *e)
{
    char q[96];
    size_t n = name ? strlen(name) : 0;
    if (n == 0)
        return orr_fail(e, ORR_EINVAL, "empty model name");
    if (n > ORR_MODEL_NAME_MAX)
        return orr_fail(e, ORR_EINVAL, "model name '%s' is %zu characters "
                        "long; the limit is %d", shown(name, q, sizeof q), n,
                        ORR_MODEL_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        int ok = isalnum(c) || c == '_' || (i > 0 && (c == '-' || c == '.'));
        if (!ok || c > 0x7f)
            return orr_fail(e, ORR_EINVAL, "model name '%s': character %zu "
                            "is not allowed (use letters, digits, '_', and "
                            "'-' or '.' after the first)",
                            shown(name, q, sizeof q), i + 1);
    }
    return ORR_OK;
}

ORR_API int orr_registry_check_alias(const char *alias, struct orr_error *e)
{
    char q[96];
    size_t n = alias ? strlen(alias) : 0;
    if (n == 0)
        return orr_fail(e, ORR_EINVAL, "empty alias");
    if (n > ORR_ALIAS_MAX)
        return orr_fail(e, ORR_EINVAL, "alias '%s' is %zu characters long; "
                        "the limit is %d", shown(alias, q, sizeof q), n,
                        ORR_ALIAS_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)alias[i];
        if (c > 0x7f || !(isalnum(c) || c == '_' || c == '-'))
            return orr_fail(e, ORR_EINVAL, "alias '%s': character %zu is not "
                            "allowed (use letters, digits, '_' and '-')",
                            shown(alias, q, sizeof q), i + 1);
    }
    if (!strcmp(alias, "latest"))
        return orr_fail(e, ORR_EINVAL, "'latest' is reserved (models:/NAME/"
                        "latest is always the newest version); choose "
                        "another alias");
    return ORR_OK;
}

int orri_reg_is_uri(const char *s)
{
    return s && (!strncmp(s, "models:", 7) || strchr(s, '@') ||
                 strchr(s, '/'));
}

int orri_reg_parse_uri(const char *uri, struct orri_model_uri *out,
                       struct orr_error *e)
{
    char q[96];
    static const char form[] = "expected models:/NAME, models:/NAME/VERSION "
                               "or models:/NAME@ALIAS";
    memset(out, 0, sizeof *out);
    if (!uri || !*uri)
        return orr_fail(e, ORR_EINVAL, "empty model URI (%s)", form);
    const char *p = uri;
    if (!strncmp(p, "models:", 7)) {
        p += 7;
        if (*p != '/')
            return orr_fail(e, ORR_EINVAL, "'%s' is not a model URI (%s)",
                            shown(uri, q, sizeof q), form);
        p++;
    }
    size_t n = strcspn(p, "/@");
    if (n == 0 || n > ORR_MODEL_NAME_MAX)
        return orr_fail(e, ORR_EINVAL, "'%s' is not a model URI: %s (%s)",
                        shown(uri, q, sizeof q),
                        n ? "the name is too long" : "no model name", form);
    memcpy(out->name, p, n);
    out->name[n] = '\0';
    int rc = orr_registry_check_name(out->name, e);
    if (rc)
        return rc;
    p += n;
    if (*p == '\0')
        return ORR_OK;
    if (*p == '@') {
        if (strlen(p + 1) > ORR_ALIAS_MAX)
            return orr_registry_check_alias(p + 1, e);
        snprintf(out->alias, sizeof out->alias, "%s", p + 1);
        out->kind = 2;
        return orr_registry_check_alias(out->alias, e);
    }
    p++;
    if (!strcmp(p, "latest"))
        return ORR_OK;
    int64_t v = 0;
    size_t i = 0;
    for (; p[i] >= '0' && p[i] <= '9' && i < 18; i++)
        v = v * 10 + (p[i] - '0');
    if (i == 0 || p[i] != '\0' || v < 1)
        return orr_fail(e, ORR_EINVAL, "'%s' is not a model URI: the version "
                        "must be a number from 1 or 'latest' (%s)",
                        shown(uri, q, sizeof q), form);
    out->kind = 1;
    out->version = v;
    return ORR_OK;
}

/* ---- lookups (lock held) ---------------------------------------------- */

/* "a, b, c" from the first column of `sql` (one optional int param). */
static void list_text(struct orr_meta *m, const char *sql, int64_t param,
                      char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    size_t len = 0;
    out[0] = '\0';
    if (orri_reg_prep(m, sql, &st, NULL))
        return;
    if (sqlite3_bind_parameter_count(st) > 0)
        sqlite3_bind_int64(st, 1, param);
    for (int i = 0; sqlite3_step(st) == SQLITE_ROW; i++) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        int w = i == KNOWN_MAX
                    ? snprintf(out + len, cap - len, ", ...")
                    : snprintf(out + len, cap - len, "%s%s", i ? ", " : "",
                               t ? t : "");
        if (w < 0 || (size_t)w >= cap - len || i == KNOWN_MAX)
            break;
        len += (size_t)w;
    }
    sqlite3_finalize(st);
}

static int model_id(struct orr_meta *m, const char *name, int64_t *id,
                    struct orr_error *e)
{
    int row = 0;
    int rc = exec_fmt(m, "SELECT id FROM registered_models WHERE name = ?1",
                      "t", "looking up a model", &row, id, e, name);
    if (rc || row)
        return rc;
    char known[160];
    list_text(m, "SELECT name FROM registered_models ORDER BY updated_ms"
              " DESC LIMIT 9", 0, known, sizeof known);
    if (!known[0])
        return orr_fail(e, ORR_ENOTFOUND, "no model '%s' (no model is "
                        "registered yet: orrery models register %s --run RUN "
                        "--artifact DIGEST)", name, name);
    return orr_fail(e, ORR_ENOTFOUND, "no model '%s' (known: %s)", name,
                    known);
}

static int version_id(struct orr_meta *m, int64_t mid, const char *name,
                      int64_t version, int64_t *vid, struct orr_error *e)
{
    int row = 0;
    int rc = exec_fmt(m, "SELECT id FROM model_versions"
                      " WHERE model_id = ?1 AND version = ?2", "ii",
                      "looking up a model version", &row, vid, e, mid,
                      version);
    if (rc || row)
        return rc;
    char known[160];
    list_text(m, "SELECT version FROM model_versions WHERE model_id = ?1"
              " ORDER BY version DESC LIMIT 9", mid, known, sizeof known);
    if (!known[0])
        return orr_fail(e, ORR_ENOTFOUND, "model '%s' has no version %lld "
                        "(it has no versions)", name, (long long)version);
    return orr_fail(e, ORR_ENOTFOUND, "model '%s' has no version %lld "
                    "(versions: %s)", name, (long long)version, known);
}

static int no_alias(struct orr_meta *m, int64_t mid, const char *name,
                    const char *alias, struct orr_error *e)
{
    char known[160];
    list_text(m, "SELECT alias FROM model_aliases WHERE model_id = ?1"
              " ORDER BY alias LIMIT 9", mid, known, sizeof known);
    if (!known[0])
        return orr_fail(e, ORR_ENOTFOUND, "model '%s' has no alias '%s' "
                        "(it has none: orrery models alias set %s %s "
                        "VERSION)", name, alias, name, alias);
    return orr_fail(e, ORR_ENOTFOUND, "model '%s' has no alias '%s' "
                    "(aliases: %s)", name, alias, known);
}

/* The version an alias points to: vid and number; *found 0 if none. */
static int alias_get(struct orr_meta *m, int64_t mid, const char *alias,
                     int64_t *vid, int64_t *version, int *found,
                     struct orr_error *e)
{
    sqlite3_stmt *st = NULL;
    int rc = orri_reg_prep(m, "SELECT a.version_id, v.version"
                           " FROM model_aliases a JOIN model_versions v"
                           " ON v.id = a.version_id"
                           " WHERE a.model_id = ?1 AND a.alias = ?2",
                           &st, e);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, mid);
    sqlite3_bind_text(st, 2, alias, -1, SQLITE_STATIC);
    rc = orri_reg_step(m, st, found, "reading an alias", e);
    if (!rc && *found) {
        *vid = sqlite3_column_int64(st, 0);
        *version = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return rc;
}

static int read_version(struct orr_meta *m, int64_t vid,
                        struct orr_model_version *out, struct orr_error *e)
{
    sqlite3_stmt *st = NULL;
    int row = 0;
    int rc = orri_reg_prep(m,
        "SELECT rm.name, v.version, r.uuid, a.digest, a.size, v.flavor,"
        " v.status, v.created_ms, v.description"
        " FROM model_versions v"
        " JOIN registered_models rm ON rm.id = v.model_id"
        " JOIN artifacts a ON a.id = v.artifact_id"
        " LEFT JOIN runs r ON r.id = v.run_id WHERE v.id = ?1", &st, e);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, vid);
    rc = orri_reg_step(m, st, &row, "reading a model version", e);
    if (!rc && !row)
        rc = orr_fail(e, ORR_ENOTFOUND, "model version %lld vanished",
                      (long long)vid);
    if (!rc) {
        orri_reg_col(out->name, sizeof out->name, st, 0);
        out->version = sqlite3_column_int64(st, 1);
        orri_reg_col(out->run_id, sizeof out->run_id, st, 2);
        orri_reg_col(out->artifact, sizeof out->artifact, st, 3);
        out->artifact_size = (uint64_t)sqlite3_column_int64(st, 4);
        orri_reg_col(out->flavor, sizeof out->flavor, st, 5);
        orri_reg_col(out->status, sizeof out->status, st, 6);
        out->created_ms = sqlite3_column_int64(st, 7);
        orri_reg_col(out->description, sizeof out->description, st, 8);
    }
    sqlite3_finalize(st);
    return rc;
}

int orri_reg_resolve(struct orr_meta *m, const char *uri, int64_t *vid,
                     struct orr_model_version *out, struct orr_error *e)
{
    struct orri_model_uri u;
    int64_t mid = 0, v = 0;
    int rc = orri_reg_parse_uri(uri, &u, e);
    if (!rc)
        rc = model_id(m, u.name, &mid, e);
    if (rc)
        return rc;
    if (u.kind == 1) {
        rc = version_id(m, mid, u.name, u.version, vid, e);
    } else if (u.kind == 2) {
        int found = 0;
        rc = alias_get(m, mid, u.alias, vid, &v, &found, e);
        if (!rc && !found)
            rc = no_alias(m, mid, u.name, u.alias, e);
    } else {
        int row = 0;
        rc = exec_fmt(m, "SELECT id FROM model_versions WHERE model_id = ?1"
                      " ORDER BY version DESC LIMIT 1", "i",
                      "finding the latest version", &row, vid, e, mid);
        if (!rc && !row)
            rc = orr_fail(e, ORR_ENOTFOUND, "model '%s' has no versions",
                          u.name);
    }
    if (!rc && out)
        rc = read_version(m, *vid, out, e);
    return rc;
}

static int find_prefix(struct orr_meta *m, const char *what, const char *sql,
                       const char *prefix, size_t full, int64_t *id,
                       char *out, struct orr_error *e)
{
    char q[96];
    size_t n = prefix ? strlen(prefix) : 0;
    int hex = n > 0;
    for (size_t i = 0; i < n; i++)
        if (!((prefix[i] >= '0' && prefix[i] <= '9') ||
              (prefix[i] >= 'a' && prefix[i] <= 'f')))
            hex = 0;
    if (!hex || n > full)
        return orr_fail(e, ORR_EINVAL, "'%s' is not a%s %s (%zu lower-case "
                        "hex digits, or a unique prefix of at least %d)",
                        shown(prefix, q, sizeof q),
                        what[0] == 'a' ? "n" : "", what, full, PREFIX_MIN);
    if (n < PREFIX_MIN)
        return orr_fail(e, ORR_EINVAL, "%s prefix '%s' is too short: give "
                        "at least %d hex digits", what, prefix, PREFIX_MIN);
    char hi[80];
    snprintf(hi, sizeof hi, "%sg", prefix);
    sqlite3_stmt *st = NULL;
    int rc = orri_reg_prep(m, sql, &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hi, -1, SQLITE_STATIC);
    int row = 0;
    char first[80] = "";
    rc = orri_reg_step(m, st, &row, "looking up a prefix", e);
    if (!rc && !row)
        rc = orr_fail(e, ORR_ENOTFOUND, "no %s%s '%s' is recorded", what,
                      n == full ? "" : " matching", prefix);
    if (!rc) {
        *id = sqlite3_column_int64(st, 0);
        orri_reg_col(first, sizeof first, st, 1);
        rc = orri_reg_step(m, st, &row, "looking up a prefix", e);
        if (!rc && row)
            rc = orr_fail(e, ORR_EINVAL, "%s prefix '%s' is ambiguous "
                          "(%.16s..., %.16s..., ...): give more digits",
                          what, prefix, first,
                          (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    if (!rc && out)
        memcpy(out, first, full + 1);
    return rc;
}

int orri_reg_find_artifact(struct orr_meta *m, const char *prefix,
                           int64_t *id, char *digest, struct orr_error *e)
{
    int64_t tmp = 0;
    return find_prefix(m, "artifact digest",
                       "SELECT id, digest FROM artifacts"
                       " WHERE digest >= ?1 AND digest < ?2"
                       " ORDER BY digest LIMIT 2",
                       prefix, ORR_DIGEST_HEX_LEN, id ? id : &tmp, digest,
                       e);
}

int orri_reg_find_run(struct orr_meta *m, const char *prefix, int64_t *id,
                      char *uuid, struct orr_error *e)
{
    int64_t tmp = 0;
    return find_prefix(m, "run id",
                       "SELECT id, uuid FROM runs"
                       " WHERE uuid >= ?1 AND uuid < ?2"
                       " ORDER BY uuid LIMIT 2",
                       prefix, ORR_RUN_ID_SIZE - 1, id ? id : &tmp, uuid, e);
}

ORR_API int orr_registry_find_artifact(struct orr_meta *m,
                                       const char *prefix,
                                       char digest[ORR_DIGEST_HEX_LEN + 1],
                                       struct orr_error *e)
{
    pthread_mutex_lock(&m->lock);
    int rc = orri_reg_find_artifact(m, prefix, NULL, digest, e);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

ORR_API int orr_registry_find_run(struct orr_meta *m, const char *prefix,
                                  char run_id[ORR_RUN_ID_SIZE],
                                  struct orr_error *e)
{
    pthread_mutex_lock(&m->lock);
    int rc = orri_reg_find_run(m, prefix, NULL, run_id, e);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* ---- aliases (lock held, inside a transaction) ------------------------ */

static int record_event(struct orr_meta *m, int64_t mid, const char *alias,
                        int64_t old_v, int64_t new_v, const char *reason,
                        int64_t now, struct orr_error *e)
{
    char pw[1024];
    const char *user = current_user(pw, sizeof pw);
    sqlite3_stmt *st = NULL;
    int rc = orri_reg_prep(m, "INSERT INTO alias_events (model_id, alias,"
                           " old_version, new_version, user, reason, time_ms)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", &st, e);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, mid);
    sqlite3_bind_text(st, 2, alias, -1, SQLITE_STATIC);
    if (old_v > 0)
        sqlite3_bind_int64(st, 3, old_v);
    if (new_v > 0)
        sqlite3_bind_int64(st, 4, new_v);
    sqlite3_bind_text(st, 5, user, -1, SQLITE_STATIC);
    if (reason && *reason)
        sqlite3_bind_text(st, 6, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, now);
    rc = orri_reg_step(m, st, NULL, "recording an alias event", e);
    sqlite3_finalize(st);
    return rc;
}

static int alias_set_locked(struct orr_meta *m, int64_t mid,
                            const char *alias, int64_t vid, int64_t version,
                            const char *reason, struct orr_error *e)
{
    int64_t old_vid = 0, old_v = 0, now = orri_now_ms();
    int found = 0;
    int rc = alias_get(m, mid, alias, &old_vid, &old_v, &found, e);
    if (rc || (found && old_vid == vid))
        return rc;
    rc = exec_fmt(m, "INSERT INTO model_aliases (model_id, alias, version_id,"
                  " updated_ms) VALUES (?1, ?2, ?3, ?4)"
                  " ON CONFLICT (model_id, alias) DO UPDATE SET"
                  " version_id = excluded.version_id,"
                  " updated_ms = excluded.updated_ms", "itii",
                  "setting an alias", NULL, NULL, e, mid, alias, vid, now);
    if (!rc)
        rc = record_event(m, mid, alias, found ? old_v : 0, version, reason,
                          now, e);
    return rc;
}

static int check_reason(const char *reason, struct orr_error *e)
{
    if (reason && strlen(reason) > ORR_REASON_MAX)
        return orr_fail(e, ORR_EINVAL, "the reason is %zu bytes long; the "
                        "limit is %d", strlen(reason), ORR_REASON_MAX);
    return ORR_OK;
}

/* ---- register --------------------------------------------------------- */

static int check_spec(const struct orr_model_version_spec *s,
                      struct orr_error *e)
{
    int rc = orr_registry_check_name(s->name, e);
    if (rc)
        return rc;
    if (s->alias && (rc = orr_registry_check_alias(s->alias, e)))
        return rc;
    if (!s->artifact || !*s->artifact)
        return orr_fail(e, ORR_EINVAL, "model '%s': a version needs an "
                        "artifact (--artifact DIGEST)", s->name);
    if (s->flavor && strlen(s->flavor) > ORR_FLAVOR_MAX)
        return orr_fail(e, ORR_EINVAL, "flavor is %zu characters long; the "
                        "limit is %d", strlen(s->flavor), ORR_FLAVOR_MAX);
    if (s->description && strlen(s->description) > ORR_DESCRIPTION_MAX)
        return orr_fail(e, ORR_EINVAL, "description is %zu bytes long; the "
                        "limit is %d", strlen(s->description),
                        ORR_DESCRIPTION_MAX);
    if (s->n_datasets > ORR_DATASETS_MAX)
        return orr_fail(e, ORR_EINVAL, "%zu datasets; the limit is %d",
                        s->n_datasets, ORR_DATASETS_MAX);
    return check_reason(s->reason, e);
}

static int add_dataset(struct orr_meta *m, int64_t vid, int64_t art,
                       struct orr_error *e)
{
    return exec_fmt(m, "INSERT INTO model_version_datasets (version_id,"
                    " artifact_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    "ii", "recording a dataset", NULL, NULL, e, vid, art);
}

static int register_locked(struct orr_meta *m,
                           const struct orr_model_version_spec *s,
                           int64_t *version, struct orr_error *e)
{
    int64_t run = 0, art = 0, mid = 0, v = 0, vid = 0;
    int64_t now = orri_now_ms();
    int rc = ORR_OK;
    if (s->run_id && *s->run_id)
        rc = orri_reg_find_run(m, s->run_id, &run, NULL, e);
    if (rc)
        return rc;
    if (s->artifact_size >= 0 && orr_digest_is_valid(s->artifact)) {
        rc = exec_fmt(m, "INSERT INTO artifacts (digest, size, kind,"
                      " created_ms) VALUES (?1, ?2, 'model', ?3)"
                      " ON CONFLICT (digest) DO NOTHING", "tii",
                      "recording the model artifact", NULL, NULL, e,
                      s->artifact, s->artifact_size, now);
        if (rc)
            return rc;
    }
    rc = orri_reg_find_artifact(m, s->artifact, &art, NULL, e);
    if (rc == ORR_ENOTFOUND)
        orr_error_prefix(e, "model artifact (store it first: ctx:store, or "
                         "orrery.storage)");
    if (rc)
        return rc;

    sqlite3_stmt *st = NULL;
    rc = orri_reg_prep(m, "INSERT INTO registered_models (name, description,"
                       " last_version, created_ms, updated_ms)"
                       " VALUES (?1, ?2, 1, ?3, ?3)"
                       " ON CONFLICT (name) DO UPDATE SET"
                       " last_version = last_version + 1,"
                       " updated_ms = excluded.updated_ms"
                       " RETURNING id, last_version", &st, e);
    if (rc)
        return rc;
    int row = 0;
    sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, s->description, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    rc = orri_reg_step(m, st, &row, "recording a model", e);
    if (!rc && row) {
        mid = sqlite3_column_int64(st, 0);
        v = sqlite3_column_int64(st, 1);
        /* RETURNING rows are produced up front; finish the statement. */
        while (sqlite3_step(st) == SQLITE_ROW) {
        }
    }
    sqlite3_finalize(st);
    if (!rc && !row)
        rc = orr_fail(e, ORR_EBACKEND, "recording model '%s' returned "
                      "nothing", s->name);
    if (rc)
        return rc;

    rc = orri_reg_prep(m, "INSERT INTO model_versions (model_id, version,"
                       " run_id, artifact_id, flavor, description,"
                       " created_ms, metrics) VALUES (?1, ?2, ?3, ?4, ?5,"
                       " ?6, ?7, CASE WHEN ?3 IS NULL THEN NULL ELSE"
                       " (SELECT json_group_object(k.name, s.last_value)"
                       "  FROM metric_series s JOIN metric_keys k"
                       "  ON k.id = s.key_id WHERE s.run_id = ?3) END)",
                       &st, e);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, mid);
    sqlite3_bind_int64(st, 2, v);
    if (run)
        sqlite3_bind_int64(st, 3, run);
    sqlite3_bind_int64(st, 4, art);
    sqlite3_bind_text(st, 5, s->flavor && *s->flavor ? s->flavor : NULL, -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(st, 6, s->description, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, now);
    rc = orri_reg_step(m, st, NULL, "recording a model version", e);
    sqlite3_finalize(st);
    if (rc)
        return rc;
    vid = sqlite3_last_insert_rowid(m->db);

    for (size_t i = 0; !rc && i < s->n_datasets; i++) {
        int64_t d = 0;
        rc = orri_reg_find_artifact(m, s->datasets[i], &d, NULL, e);
        if (rc)
            orr_error_prefix(e, "dataset");
        else
            rc = add_dataset(m, vid, d, e);
    }
    if (!rc && s->n_datasets == 0 && s->datasets_from_run && run)
        rc = exec_fmt(m, "INSERT INTO model_version_datasets (version_id,"
                      " artifact_id) SELECT DISTINCT ?1, e.artifact_id"
                      " FROM steps s JOIN events e ON e.step_id = s.id"
                      " JOIN artifacts a ON a.id = e.artifact_id"
                      " WHERE s.run_id = ?2 AND a.kind = 'dataset'"
                      " ON CONFLICT DO NOTHING", "ii",
                      "recording the run's datasets", NULL, NULL, e, vid,
                      run);
    if (!rc && s->alias)
        rc = alias_set_locked(m, mid, s->alias, vid, v, s->reason, e);
    if (!rc)
        *version = v;
    return rc;
}

ORR_API int orr_registry_register(struct orr_meta *m,
                                  const struct orr_model_version_spec *spec,
                                  int64_t *version, struct orr_error *e)
{
    if (!spec)
        return orr_fail(e, ORR_EINVAL, "no model version to register");
    int rc = check_spec(spec, e);
    if (rc)
        return rc;
    pthread_mutex_lock(&m->lock);
    /* The metrics snapshot must see this process's buffered points. */
    rc = spec->run_id ? orri_meta_flush_locked(m, e) : ORR_OK;
    if (!rc)
        rc = orri_meta_begin(m, e);
    if (!rc) {
        rc = register_locked(m, spec, version, e);
        if (!rc)
            rc = orri_meta_commit(m, e);
        else
            orri_meta_rollback(m);
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* ---- reads ------------------------------------------------------------ */

static int page_limit(const struct orr_page *p, struct orr_error *e,
                      int64_t *limit)
{
    size_t l = p && p->limit ? p->limit : PAGE_DEFAULT;
    if (l > PAGE_MAX)
        return orr_fail(e, ORR_EINVAL, "page size %zu; the limit is %d", l,
                        PAGE_MAX);
    *limit = (int64_t)l;
    return ORR_OK;
}

/* A numeric cursor ("" -> `dflt`). */
static int num_cursor(const struct orr_page *p, int64_t dflt, int64_t *out,
                      struct orr_error *e)
{
    const char *c = p ? p->cursor : NULL;
    *out = dflt;
    if (!c || !*c)
        return ORR_OK;
    int64_t v = 0;
    size_t i = 0;
    for (; c[i] >= '0' && c[i] <= '9' && i < 18; i++)
        v = v * 10 + (c[i] - '0');
    if (i == 0 || c[i])
        return orr_fail(e, ORR_EINVAL, "bad cursor '%.40s' (use the next "
                        "cursor a previous page returned)", c);
    *out = v;
    return ORR_OK;
}

static void model_row(sqlite3_stmt *st, struct orr_registered_model *mi)
{
    mi->name = (const char *)sqlite3_column_text(st, 0);
    mi->description = (const char *)sqlite3_column_text(st, 1);
    mi->created_ms = sqlite3_column_int64(st, 2);
    mi->updated_ms = sqlite3_column_int64(st, 3);
    mi->n_versions = sqlite3_column_int64(st, 4);
    mi->latest = sqlite3_column_int64(st, 5);
    mi->n_aliases = sqlite3_column_int64(st, 6);
}

#define MODEL_COLS                                                         \
    "SELECT rm.name, rm.description, rm.created_ms, rm.updated_ms,"        \
    " (SELECT count(*) FROM model_versions WHERE model_id = rm.id),"       \
    " coalesce((SELECT max(version) FROM model_versions"                   \
    "  WHERE model_id = rm.id), 0),"                                       \
    " (SELECT count(*) FROM model_aliases WHERE model_id = rm.id)"         \
    " FROM registered_models rm "

ORR_API int orr_registry_models(struct orr_meta *m, struct orr_page *page,
                                int (*fn)(void *ctx,
                                          const struct orr_registered_model *mi),
                                void *ctx, struct orr_error *e)
{
    int64_t limit = 0;
    int rc = page_limit(page, e, &limit);
    if (rc)
        return rc;
    if (page)
        page->next[0] = '\0';
    pthread_mutex_lock(&m->lock);
    sqlite3_stmt *st = NULL;
    rc = orri_reg_prep(m, MODEL_COLS "WHERE rm.name > ?1 ORDER BY rm.name"
                       " LIMIT ?2", &st, e);
    if (!rc) {
        sqlite3_bind_text(st, 1, page && page->cursor ? page->cursor : "",
                          -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, limit + 1);
        char last[ORR_CURSOR_SIZE] = "";
        for (int64_t n = 0;; n++) {
            int row = 0;
            rc = orri_reg_step(m, st, &row, "listing models", e);
            if (rc || !row)
                break;
            if (n == limit) {
                /* A row beyond the page: the cursor is the last shown. */
                if (page)
                    snprintf(page->next, sizeof page->next, "%s", last);
                break;
            }
            struct orr_registered_model mi;
            model_row(st, &mi);
            snprintf(last, sizeof last, "%s", mi.name ? mi.name : "");
            if ((rc = fn(ctx, &mi)) != 0)
                break;
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

ORR_API int orr_registry_model(struct orr_meta *m, const char *name,
                               int (*fn)(void *ctx,
                                         const struct orr_registered_model *mi),
                               void *ctx, struct orr_error *e)
{
    int rc = orr_registry_check_name(name, e);
    if (rc)
        return rc;
    pthread_mutex_lock(&m->lock);
    int64_t mid = 0;
    sqlite3_stmt *st = NULL;
    rc = model_id(m, name, &mid, e);
    if (!rc)
        rc = orri_reg_prep(m, MODEL_COLS "WHERE rm.id = ?1", &st, e);
    if (!rc) {
        int row = 0;
        sqlite3_bind_int64(st, 1, mid);
        rc = orri_reg_step(m, st, &row, "reading a model", e);
        if (!rc && row) {
            struct orr_registered_model mi;
            model_row(st, &mi);
            rc = fn(ctx, &mi);
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

ORR_API int orr_registry_versions(struct orr_meta *m, const char *name,
                                  struct orr_page *page,
                                  int (*fn)(void *ctx,
                                            const struct orr_model_version
                                                *v),
                                  void *ctx, struct orr_error *e)
{
    int64_t limit = 0, before = 0, mid = 0;
    int rc = orr_registry_check_name(name, e);
    if (!rc)
        rc = page_limit(page, e, &limit);
    if (!rc)
        rc = num_cursor(page, INT64_MAX, &before, e);
    if (rc)
        return rc;
    if (page)
        page->next[0] = '\0';
    pthread_mutex_lock(&m->lock);
    sqlite3_stmt *st = NULL;
    rc = model_id(m, name, &mid, e);
    if (!rc)
        rc = orri_reg_prep(m, "SELECT id, version FROM model_versions"
                           " WHERE model_id = ?1 AND version < ?2"
                           " ORDER BY version DESC LIMIT ?3", &st, e);
    if (!rc) {
        sqlite3_bind_int64(st, 1, mid);
        sqlite3_bind_int64(st, 2, before);
        sqlite3_bind_int64(st, 3, limit + 1);
        struct orr_model_version *v = malloc(sizeof *v);
        if (!v)
            rc = orr_fail(e, ORR_ENOMEM, "out of memory");
        for (int64_t n = 0; !rc; n++) {
            int row = 0;
            rc = orri_reg_step(m, st, &row, "listing model versions", e);
            if (rc || !row)
                break;
            if (n == limit) {
                if (page)
                    snprintf(page->next, sizeof page->next, "%" PRId64,
                             v->version);
                break;
            }
            rc = read_version(m, sqlite3_column_int64(st, 0), v, e);
            if (!rc)
                rc = fn(ctx, v);
        }
        free(v);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

ORR_API int orr_registry_resolve(struct orr_meta *m, const char *uri,
                                 struct orr_model_version *out,
                                 struct orr_error *e)
{
    int64_t vid = 0;
    pthread_mutex_lock(&m->lock);
    int rc = orri_reg_resolve(m, uri, &vid, out, e);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* Row ids of model `name`, version `version` (lock held). */
static int lookup(struct orr_meta *m, const char *name, int64_t version,
                  int64_t *mid, int64_t *vid, struct orr_error *e)
{
    int rc = orr_registry_check_name(name, e);
    if (!rc)
        rc = model_id(m, name, mid, e);
    if (!rc)
        rc = version_id(m, *mid, name, version, vid, e);
    return rc;
}

ORR_API int orr_registry_datasets(struct orr_meta *m, const char *name,
                                  int64_t version,
                                  int (*fn)(void *ctx, const char *digest),
                                  void *ctx, struct orr_error *e)
{
    int64_t mid = 0, vid = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&m->lock);
    int rc = lookup(m, name, version, &mid, &vid, e);
    if (!rc)
        rc = orri_reg_prep(m, "SELECT a.digest FROM model_version_datasets d"
                           " JOIN artifacts a ON a.id = d.artifact_id"
                           " WHERE d.version_id = ?1 ORDER BY a.digest",
                           &st, e);
    if (!rc) {
        sqlite3_bind_int64(st, 1, vid);
        for (;;) {
            int row = 0;
            rc = orri_reg_step(m, st, &row, "listing datasets", e);
            if (rc || !row)
                break;
            if ((rc = fn(ctx, (const char *)sqlite3_column_text(st, 0))))
                break;
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* The metric statement for version `vid`: (key, value) rows, from the
 * run's series or, when the run is gone, from the snapshot.  ?2: one key
 * or NULL for all. */
static const char metrics_sql[] =
    "SELECT k.name, s.last_value FROM model_versions v"
    " JOIN metric_series s ON s.run_id = v.run_id"
    " JOIN metric_keys k ON k.id = s.key_id"
    " WHERE v.id = ?1 AND (?2 IS NULL OR k.name = ?2)"
    " UNION ALL"
    " SELECT j.key, j.value FROM model_versions v, json_each(v.metrics) j"
    " WHERE v.id = ?1 AND v.run_id IS NULL AND (?2 IS NULL OR j.key = ?2)"
    " ORDER BY 1";

static double column_value(sqlite3_stmt *st, int col)
{
    /* NULL is how SQLite stores NaN (and how the snapshot keeps it). */
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return NAN;
    return sqlite3_column_double(st, col);
}

ORR_API int orr_registry_metrics(struct orr_meta *m, const char *name,
                                 int64_t version,
                                 int (*fn)(void *ctx, const char *key,
                                           double value),
                                 void *ctx, struct orr_error *e)
{
    int64_t mid = 0, vid = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&m->lock);
    int rc = orri_meta_flush_locked(m, e);
    if (!rc)
        rc = lookup(m, name, version, &mid, &vid, e);
    if (!rc)
        rc = orri_reg_prep(m, metrics_sql, &st, e);
    if (!rc) {
        sqlite3_bind_int64(st, 1, vid);
        for (;;) {
            int row = 0;
            rc = orri_reg_step(m, st, &row, "reading metrics", e);
            if (rc || !row)
                break;
            if ((rc = fn(ctx, (const char *)sqlite3_column_text(st, 0),
                         column_value(st, 1))))
                break;
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* One metric of version `vid` (lock held). */
static int metric_locked(struct orr_meta *m, int64_t vid, const char *what,
                         const char *key, double *value, struct orr_error *e)
{
    sqlite3_stmt *st = NULL;
    int rc = orri_reg_prep(m, metrics_sql, &st, e);
    if (rc)
        return rc;
    int row = 0;
    sqlite3_bind_int64(st, 1, vid);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    rc = orri_reg_step(m, st, &row, "reading a metric", e);
    if (!rc && row)
        *value = column_value(st, 1);
    sqlite3_finalize(st);
    if (rc || row)
        return rc;
    char keys[160];
    list_text(m, "SELECT k.name FROM model_versions v"
              " JOIN metric_series s ON s.run_id = v.run_id"
              " JOIN metric_keys k ON k.id = s.key_id WHERE v.id = ?1"
              " UNION SELECT j.key FROM model_versions v,"
              " json_each(v.metrics) j WHERE v.id = ?1"
              " ORDER BY 1 LIMIT 9", vid, keys, sizeof keys);
    if (!keys[0])
        return orr_fail(e, ORR_ENOTFOUND, "%s has no metric '%s' (its run "
                        "logged no metrics)", what, key);
    return orr_fail(e, ORR_ENOTFOUND, "%s has no metric '%s' (it has: %s)",
                    what, key, keys);
}

ORR_API int orr_registry_metric(struct orr_meta *m, const char *name,
                                int64_t version, const char *key,
                                double *value, struct orr_error *e)
{
    int64_t mid = 0, vid = 0;
    if (!key || !*key)
        return orr_fail(e, ORR_EINVAL, "empty metric key");
    pthread_mutex_lock(&m->lock);
    int rc = orri_meta_flush_locked(m, e);
    if (!rc)
        rc = lookup(m, name, version, &mid, &vid, e);
    if (!rc) {
        char what[ORR_MODEL_NAME_MAX + 48];
        snprintf(what, sizeof what, "version %lld of '%s'",
                 (long long)version, name);
        rc = metric_locked(m, vid, what, key, value, e);
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

ORR_API int orr_registry_aliases(struct orr_meta *m, const char *name,
                                 int (*fn)(void *ctx,
                                           const struct orr_alias_info *a),
                                 void *ctx, struct orr_error *e)
{
    int64_t mid = 0;
    sqlite3_stmt *st = NULL;
    int rc = orr_registry_check_name(name, e);
    if (rc)
        return rc;
    pthread_mutex_lock(&m->lock);
    rc = model_id(m, name, &mid, e);
    if (!rc)
        rc = orri_reg_prep(m, "SELECT a.alias, v.version, a.updated_ms"
                           " FROM model_aliases a JOIN model_versions v"
                           " ON v.id = a.version_id WHERE a.model_id = ?1"
                           " ORDER BY a.alias", &st, e);
    if (!rc) {
        sqlite3_bind_int64(st, 1, mid);
        for (;;) {
            int row = 0;
            rc = orri_reg_step(m, st, &row, "listing aliases", e);
            if (rc || !row)
                break;
            struct orr_alias_info a = {
                .alias = (const char *)sqlite3_column_text(st, 0),
                .version = sqlite3_column_int64(st, 1),
                .updated_ms = sqlite3_column_int64(st, 2),
            };
            if ((rc = fn(ctx, &a)))
                break;
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

ORR_API int orr_registry_alias_history(struct orr_meta *m, const char *name,
                                       const char *alias,
                                       struct orr_page *page,
                                       int (*fn)(void *ctx,
                                                 const struct orr_alias_event
                                                     *ev),
                                       void *ctx, struct orr_error *e)
{
    int64_t limit = 0, before = 0, mid = 0;
    int rc = orr_registry_check_name(name, e);
    if (!rc && alias)
        rc = orr_registry_check_alias(alias, e);
    if (!rc)
        rc = page_limit(page, e, &limit);
    if (!rc)
        rc = num_cursor(page, INT64_MAX, &before, e);
    if (rc)
        return rc;
    if (page)
        page->next[0] = '\0';
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&m->lock);
    rc = model_id(m, name, &mid, e);
    if (!rc)
        rc = orri_reg_prep(m, "SELECT id, alias, old_version, new_version,"
                           " user, reason, time_ms FROM alias_events"
                           " WHERE model_id = ?1 AND (?2 IS NULL OR"
                           " alias = ?2) AND id < ?3 ORDER BY id DESC"
                           " LIMIT ?4", &st, e);
    if (!rc) {
        sqlite3_bind_int64(st, 1, mid);
        sqlite3_bind_text(st, 2, alias, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, before);
        sqlite3_bind_int64(st, 4, limit + 1);
        int64_t last = 0;
        for (int64_t n = 0;; n++) {
            int row = 0;
            rc = orri_reg_step(m, st, &row, "reading alias history", e);
            if (rc || !row)
                break;
            if (n == limit) {
                if (page)
                    snprintf(page->next, sizeof page->next, "%" PRId64,
                             last);
                break;
            }
            struct orr_alias_event ev = {
                .id = sqlite3_column_int64(st, 0),
                .alias = (const char *)sqlite3_column_text(st, 1),
                .old_version = sqlite3_column_int64(st, 2),
                .new_version = sqlite3_column_int64(st, 3),
                .user = (const char *)sqlite3_column_text(st, 4),
                .reason = (const char *)sqlite3_column_text(st, 5),
                .time_ms = sqlite3_column_int64(st, 6),
            };
            last = ev.id;
            if ((rc = fn(ctx, &ev)))
                break;
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* ---- alias and version writes ----------------------------------------- */

ORR_API int orr_registry_alias_set(struct orr_meta *m, const char *name,
                                   const char *alias, int64_t version,
                                   const char *reason, struct orr_error *e)
{
    int rc = orr_registry_check_name(name, e);
    if (!rc)
        rc = orr_registry_check_alias(alias, e);
    if (!rc)
        rc = check_reason(reason, e);
    if (rc)
        return rc;
    int64_t mid = 0, vid = 0;
    pthread_mutex_lock(&m->lock);
    rc = orri_meta_begin(m, e);
    if (!rc) {
        rc = lookup(m, name, version, &mid, &vid, e);
        if (!rc)
            rc = alias_set_locked(m, mid, alias, vid, version, reason, e);
        if (!rc)
            rc = orri_meta_commit(m, e);
        else
            orri_meta_rollback(m);
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static int alias_delete_locked(struct orr_meta *m, int64_t mid,
                               const char *alias, int64_t old_v,
                               const char *reason, struct orr_error *e)
{
    int rc = exec_fmt(m, "DELETE FROM model_aliases WHERE model_id = ?1"
                      " AND alias = ?2", "it", "deleting an alias", NULL,
                      NULL, e, mid, alias);
    if (!rc)
        rc = record_event(m, mid, alias, old_v, 0, reason,
                          orri_now_ms(), e);
    return rc;
}

ORR_API int orr_registry_alias_delete(struct orr_meta *m, const char *name,
                                      const char *alias, const char *reason,
                                      struct orr_error *e)
{
    int rc = orr_registry_check_name(name, e);
    if (!rc)
        rc = orr_registry_check_alias(alias, e);
    if (!rc)
        rc = check_reason(reason, e);
    if (rc)
        return rc;
    int64_t mid = 0, vid = 0, old_v = 0;
    int found = 0;
    pthread_mutex_lock(&m->lock);
    rc = orri_meta_begin(m, e);
    if (!rc) {
        rc = model_id(m, name, &mid, e);
        if (!rc)
            rc = alias_get(m, mid, alias, &vid, &old_v, &found, e);
        if (!rc && !found)
            rc = no_alias(m, mid, name, alias, e);
        if (!rc)
            rc = alias_delete_locked(m, mid, alias, old_v, reason, e);
        if (!rc)
            rc = orri_meta_commit(m, e);
        else
            orri_meta_rollback(m);
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static int delete_locked(struct orr_meta *m, const char *name,
                         int64_t version, int force, const char *reason,
                         struct orr_error *e)
{
    int64_t mid = 0, vid = 0;
    int rc = lookup(m, name, version, &mid, &vid, e);
    if (rc)
        return rc;
    char aliases[160];
    list_text(m, "SELECT '@' || alias FROM model_aliases"
              " WHERE version_id = ?1 ORDER BY alias", vid, aliases,
              sizeof aliases);
    if (aliases[0] && !force)
        return orr_fail(e, ORR_EBUSY, "version %lld of '%s' is %s: move "
                        "or delete the alias first, or use --force (which "
                        "deletes the alias too)", (long long)version, name,
                        aliases);
    char deployed[160];
    list_text(m, "SELECT server || coalesce(' at ' || url, '')"
              " FROM deployments WHERE version_id = ?1"
              " AND status IN ('starting','running')", vid, deployed,
              sizeof deployed);
    if (deployed[0])
        return orr_fail(e, ORR_EBUSY, "version %lld of '%s' is deployed "
                        "(%s): stop the deployment first",
                        (long long)version, name, deployed);
    if (aliases[0]) {
        char why[ORR_REASON_MAX + 64];
        snprintf(why, sizeof why, "version %lld deleted%s%s",
                 (long long)version, reason && *reason ? ": " : "",
                 reason && *reason ? reason : "");
        sqlite3_stmt *st = NULL;
        rc = orri_reg_prep(m, "SELECT alias FROM model_aliases"
                           " WHERE version_id = ?1", &st, e);
        if (rc)
            return rc;
        sqlite3_bind_int64(st, 1, vid);
        /* Collect first: deleting while the SELECT is open is allowed
         * in SQLite but reads more simply this way. */
        char (*names)[ORR_ALIAS_MAX + 1] = NULL;
        size_t n = 0;
        for (;;) {
            int row = 0;
            rc = orri_reg_step(m, st, &row, "reading aliases", e);
            if (rc || !row)
                break;
            void *p = realloc(names, (n + 1) * sizeof *names);
            if (!p) {
                rc = orr_fail(e, ORR_ENOMEM, "out of memory");
                break;
            }
            names = p;
            orri_reg_col(names[n++], sizeof *names, st, 0);
        }
        sqlite3_finalize(st);
        for (size_t i = 0; !rc && i < n; i++)
            rc = alias_delete_locked(m, mid, names[i], version, why, e);
        free(names);
        if (rc)
            return rc;
    }
    rc = exec_fmt(m, "DELETE FROM model_versions WHERE id = ?1", "i",
                  "deleting a model version", NULL, NULL, e, vid);
    if (!rc)
        rc = exec_fmt(m, "UPDATE registered_models SET updated_ms = ?2"
                      " WHERE id = ?1", "ii", "updating a model", NULL,
                      NULL, e, mid, orri_now_ms());
    return rc;
}

ORR_API int orr_registry_version_delete(struct orr_meta *m, const char *name,
                                        int64_t version, int force,
                                        const char *reason,
                                        struct orr_error *e)
{
    int rc = check_reason(reason, e);
    if (rc)
        return rc;
    pthread_mutex_lock(&m->lock);
    rc = orri_meta_begin(m, e);
    if (!rc) {
        rc = delete_locked(m, name, version, force, reason, e);
        if (!rc)
            rc = orri_meta_commit(m, e);
        else
            orri_meta_rollback(m);
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* ---- the gate --------------------------------------------------------- */

static int gate_locked(struct orr_meta *m, const char *name,
                       int64_t candidate, const char *metric,
                       double min_delta, int lower, const char *alias,
                       struct orr_gate_result *r, struct orr_error *e)
{
    int64_t mid = 0, cvid = 0, pvid = 0, pv = 0;
    int found = 0;
    char what[ORR_MODEL_NAME_MAX + 64];
    int rc = lookup(m, name, candidate, &mid, &cvid, e);
    if (rc)
        return rc;
    r->candidate_version = candidate;
    snprintf(what, sizeof what, "candidate version %lld of '%s'",
             (long long)candidate, name);
    rc = metric_locked(m, cvid, what, metric, &r->candidate, e);
    if (!rc)
        rc = alias_get(m, mid, alias, &pvid, &pv, &found, e);
    if (rc)
        return rc;
    if (!found) {
        r->pass = 1;
        snprintf(r->message, sizeof r->message, "pass: '%s' has no @%s yet; "
                 "v%lld (%s %.6g) is the first", name, alias,
                 (long long)candidate, metric, r->candidate);
        return ORR_OK;
    }
    r->has_champion = 1;
    r->champion_version = pv;
    snprintf(what, sizeof what, "@%s (version %lld of '%s')", alias,
             (long long)pv, name);
    rc = metric_locked(m, pvid, what, metric, &r->champion, e);
    if (rc)
        return rc;
    r->delta = r->candidate - r->champion;
    double gain = lower ? -r->delta : r->delta;
    /* Metrics are decimals stored in binary: 0.952 - 0.950 is a hair
     * under 0.002, which must still pass a 0.002 gate. */
    double scale = fmax(1.0, fmax(fabs(r->candidate), fabs(r->champion)));
    r->pass = gain >= min_delta - 1e-9 * scale;
    snprintf(r->message, sizeof r->message,
             "%s: v%lld %s %.6g vs @%s v%lld %.6g: %s%+.6g %s min delta "
             "%.6g%s", r->pass ? "pass" : "fail", (long long)candidate,
             metric, r->candidate, alias, (long long)pv, r->champion,
             lower ? "improvement " : "", gain, r->pass ? ">=" : "<",
             min_delta, lower ? " (lower is better)" : "");
    return ORR_OK;
}

ORR_API int orr_registry_gate(struct orr_meta *m, const char *name,
                              int64_t candidate, const char *metric,
                              double min_delta, int lower_is_better,
                              const char *alias,
                              struct orr_gate_result *out,
                              struct orr_error *e)
{
    memset(out, 0, sizeof *out);
    if (!alias)
        alias = "champion";
    if (!metric || !*metric)
        return orr_fail(e, ORR_EINVAL, "the gate needs a metric (--metric "
                        "KEY)");
    if (!isfinite(min_delta))
        return orr_fail(e, ORR_EINVAL, "min delta must be a finite number");
    int rc = orr_registry_check_alias(alias, e);
    if (rc)
        return rc;
    pthread_mutex_lock(&m->lock);
    rc = orri_meta_flush_locked(m, e);
    if (!rc)
        rc = gate_locked(m, name, candidate, metric, min_delta,
                         lower_is_better, alias, out, e);
    pthread_mutex_unlock(&m->lock);
    return rc;
}
