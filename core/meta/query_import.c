/*
 * meta/query_import.c - insert a run exported by orr_meta_run_json.
 *
 * The whole document goes in one BEGIN IMMEDIATE transaction: a bad field
 * half-way leaves the database as it was.  Points are written as codec-1
 * chunks with their original times (metrics.c's buffer stamps "now"), and
 * the series summary is recomputed from them.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta_internal.h"
#include "meta/query.h"
#include "util/error.h"

struct imp {
    struct orr_meta  *m;
    struct orr_error *e;
    int64_t           run;
};

static int bad(struct imp *im, const char *what)
{
    return orr_fail(im->e, ORR_EINVAL, "import: %s", what);
}

/* Prepare, bind (s = text or NULL, I = int64, N = null), step once. */
static int run_sql(struct imp *im, const char *sql, const char *types, ...)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(im->m->db, sql, -1, &st, NULL);
    va_list ap;
    va_start(ap, types);
    for (int i = 0; src == SQLITE_OK && types[i]; i++) {
        if (types[i] == 's') {
            const char *s = va_arg(ap, const char *);
            src = sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT);
        } else if (types[i] == 'I') {
            src = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        } else if (types[i] == 'B') {
            const void *b = va_arg(ap, const void *);
            int n = va_arg(ap, int);
            src = sqlite3_bind_blob(st, i + 1, b, n, SQLITE_STATIC);
        } else if (types[i] == 'Z') {
            (void)va_arg(ap, int64_t);      /* an absent integer: NULL */
            src = sqlite3_bind_null(st, i + 1);
        } else if (types[i] == 'D') {
            double d = va_arg(ap, double);
            src = isnan(d) ? sqlite3_bind_null(st, i + 1)
                           : sqlite3_bind_double(st, i + 1, d);
        } else {
            src = sqlite3_bind_null(st, i + 1);
        }
    }
    va_end(ap);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    sqlite3_finalize(st);
    if (src == SQLITE_DONE || src == SQLITE_ROW)
        return ORR_OK;
    return orri_meta_sqlfail(im->m, src, im->e, "import");
}

static const char *opt_str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int get_int(const json_t *o, const char *k, int64_t *v, int *have)
{
    const json_t *j = json_object_get(o, k);
    *have = j && !json_is_null(j);
    if (!*have)
        return ORR_OK;
    if (!json_is_integer(j))
        return ORR_EINVAL;
    *v = json_integer_value(j);
    return ORR_OK;
}

static const char *status_ok(const char *s)
{
    static const char *const ok[] = {"running", "succeeded", "failed",
                                     "cancelled"};
    for (size_t i = 0; s && i < 4; i++)
        if (!strcmp(s, ok[i]))
            return s;
    return NULL;
}

static int import_run(struct imp *im, const json_t *doc, const char *id)
{
    const char *wf = opt_str(doc, "workflow");
    const char *status = status_ok(opt_str(doc, "status"));
    int64_t start = 0, end = 0, dirty = 0;
    int hs, he, hd;
    if (!wf || !*wf)
        return bad(im, "\"workflow\" must be a non-empty string");
    if (!status)
        return bad(im, "\"status\" must be running, succeeded, failed or "
                       "cancelled");
    if (get_int(doc, "start_ms", &start, &hs) || !hs ||
        get_int(doc, "end_ms", &end, &he) ||
        get_int(doc, "git_dirty", &dirty, &hd))
        return bad(im, "\"start_ms\" (and \"end_ms\", \"git_dirty\" when "
                       "set) must be integers");
    int64_t old = 0;
    struct orr_error ignored = {0};
    if (orri_meta_run_rowid(im->m, id, &old, &ignored) == ORR_OK)
        return orr_fail(im->e, ORR_EEXIST, "import: run %s exists already "
                        "in %s", id, im->m->path);
    char types[] = "sssssssIsII";
    types[7] = hd ? 'I' : 'Z';
    types[10] = he ? 'I' : 'Z';
    int rc = run_sql(im, "INSERT INTO runs (uuid, workflow, script_path,"
                     " script_hash, user, host, git_commit, git_dirty,"
                     " status, start_ms, end_ms) VALUES (?1, ?2, ?3, ?4, ?5,"
                     " ?6, ?7, ?8, ?9, ?10, ?11)", types, id, wf,
                     opt_str(doc, "script_path"),
                     opt_str(doc, "script_hash"), opt_str(doc, "user"),
                     opt_str(doc, "host"), opt_str(doc, "git_commit"),
                     dirty, status, start, end);
    if (!rc)
        im->run = sqlite3_last_insert_rowid(im->m->db);
    return rc;
}

static int import_kv(struct imp *im, const json_t *o, const char *table,
                     const char *what)
{
    if (!o)
        return ORR_OK;
    if (!json_is_object(o))
        return orr_fail(im->e, ORR_EINVAL, "import: \"%s\" must be an "
                        "object", what);
    const char *k;
    const json_t *v;
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO %s (run_id, key, value) VALUES"
             " (?1, ?2, ?3)", table);
    json_object_foreach((json_t *)o, k, v) {
        int rc = orri_meta_check_key(k, strlen(k), what, im->e);
        if (!rc && !json_is_string(v))
            rc = orr_fail(im->e, ORR_EINVAL, "import: %s '%s' must be a "
                          "string", what, k);
        if (!rc)
            rc = run_sql(im, sql, "Iss", im->run, k, json_string_value(v));
        if (rc)
            return rc;
    }
    return ORR_OK;
}

static int import_steps(struct imp *im, const json_t *steps)
{
    if (!steps)
        return ORR_OK;
    if (!json_is_array(steps))
        return bad(im, "\"steps\" must be an array");
    size_t i;
    const json_t *s;
    json_array_foreach(steps, i, s) {
        const char *name = opt_str(s, "name");
        const char *status = status_ok(opt_str(s, "status"));
        int64_t start = 0, end = 0;
        int hs, he;
        if (!name || !*name || !status ||
            get_int(s, "start_ms", &start, &hs) || !hs ||
            get_int(s, "end_ms", &end, &he))
            return orr_fail(im->e, ORR_EINVAL, "import: steps[%zu] needs "
                            "name, status and integer start_ms", i);
        int rc = run_sql(im, "INSERT INTO steps (run_id, name, status,"
                         " start_ms, end_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                         he ? "IssII" : "IssIZ", im->run, name, status,
                         start, end);
        if (rc)
            return rc;
        int64_t step = sqlite3_last_insert_rowid(im->m->db);
        size_t j;
        const json_t *a;
        json_array_foreach(json_object_get(s, "artifacts"), j, a) {
            const char *digest = opt_str(a, "digest");
            const char *kind = opt_str(a, "kind");
            const char *dir = opt_str(a, "direction");
            int64_t size = 0;
            int hz;
            if (!digest || !kind || !dir ||
                get_int(a, "size", &size, &hz) || !hz || size < 0)
                return orr_fail(im->e, ORR_EINVAL, "import: steps[%zu]."
                                "artifacts[%zu] needs digest, kind, "
                                "direction and size", i, j);
            rc = run_sql(im, "INSERT INTO artifacts (digest, size, kind,"
                         " name, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)"
                         " ON CONFLICT (digest) DO NOTHING", "sIssI",
                         digest, size, kind, opt_str(a, "name"), start);
            if (!rc)
                rc = run_sql(im, "INSERT INTO events (step_id, artifact_id,"
                             " direction, time_ms) SELECT ?1, id, ?2, ?3"
                             " FROM artifacts WHERE digest = ?4"
                             " ON CONFLICT DO NOTHING", "IIIs", step,
                             (int64_t)(strcmp(dir, "output") == 0), start,
                             digest);
            if (rc)
                return rc;
        }
    }
    return ORR_OK;
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static int import_series(struct imp *im, const char *key, const json_t *pts)
{
    int rc = orri_meta_check_key(key, strlen(key), "metric", im->e);
    if (rc)
        return rc;
    size_t n = json_array_size(pts);
    if (!json_is_array(pts) || n == 0)
        return orr_fail(im->e, ORR_EINVAL, "import: metric '%s' needs a "
                        "non-empty \"points\" array", key);
    rc = run_sql(im, "INSERT INTO metric_keys (name) VALUES (?1)"
                 " ON CONFLICT (name) DO NOTHING", "s", key);
    if (rc)
        return rc;
    unsigned char *buf = malloc(ORRI_CHUNK_POINTS * ORRI_POINT_BYTES);
    if (!buf)
        return orr_fail(im->e, ORR_ENOMEM, "import: out of memory");
    int64_t last_step = 0, last_ms = 0;
    double last = 0, lo = 0, hi = 0;
    int finite = 0;
    for (size_t off = 0; !rc && off < n; off += ORRI_CHUNK_POINTS) {
        size_t k = n - off < ORRI_CHUNK_POINTS ? n - off : ORRI_CHUNK_POINTS;
        int64_t smin = 0, smax = 0;
        for (size_t i = 0; i < k; i++) {
            const json_t *p = json_array_get(pts, off + i);
            double v;
            if (!json_is_array(p) || json_array_size(p) != 3 ||
                !json_is_integer(json_array_get(p, 0)) ||
                !json_is_integer(json_array_get(p, 1)) ||
                orri_json_to_double(json_array_get(p, 2), &v)) {
                rc = orr_fail(im->e, ORR_EINVAL, "import: metric '%s' point "
                              "%zu is not [step, time_ms, value]", key,
                              off + i);
                break;
            }
            int64_t step = json_integer_value(json_array_get(p, 0));
            int64_t ms = json_integer_value(json_array_get(p, 1));
            uint64_t bits;
            memcpy(&bits, &v, sizeof bits);
            unsigned char *b = buf + i * ORRI_POINT_BYTES;
            put64(b, (uint64_t)step);
            put64(b + 8, (uint64_t)ms);
            put64(b + 16, bits);
            smin = i == 0 || step < smin ? step : smin;
            smax = i == 0 || step > smax ? step : smax;
            if ((off + i) == 0 || step >= last_step) {
                last_step = step;
                last_ms = ms;
                last = v;
            }
            if (!isnan(v)) {
                lo = !finite || v < lo ? v : lo;
                hi = !finite || v > hi ? v : hi;
                finite = 1;
            }
        }
        if (!rc)
            rc = run_sql(im, "INSERT INTO metric_chunks (run_id, key_id, n,"
                         " min_step, max_step, codec, data) SELECT ?1, id,"
                         " ?2, ?3, ?4, 1, ?5 FROM metric_keys WHERE name ="
                         " ?6", "IIIIBs", im->run, (int64_t)k, smin, smax,
                         (const void *)buf, (int)(k * ORRI_POINT_BYTES), key);
    }
    free(buf);
    if (rc)
        return rc;
    const char *types = finite ? "IIIIDDDs" : "IIIIDNNs";
    if (finite)
        return run_sql(im, "INSERT INTO metric_series (run_id, key_id, n,"
                       " last_step, last_ms, last_value, min_value,"
                       " max_value) SELECT ?1, id, ?2, ?3, ?4, ?5, ?6, ?7"
                       " FROM metric_keys WHERE name = ?8", types, im->run,
                       (int64_t)n, last_step, last_ms, last, lo, hi, key);
    return run_sql(im, "INSERT INTO metric_series (run_id, key_id, n,"
                   " last_step, last_ms, last_value, min_value, max_value)"
                   " SELECT ?1, id, ?2, ?3, ?4, ?5, ?6, ?7 FROM metric_keys"
                   " WHERE name = ?8", types, im->run, (int64_t)n, last_step,
                   last_ms, last, key);
}

ORR_API int orr_meta_run_import(struct orr_meta *m, const json_t *doc,
                                char id[ORR_RUN_ID_SIZE],
                                struct orr_error *e)
{
    struct imp im = {m, e, 0};
    const char *fmt = opt_str(doc, "format");
    if (!json_is_object(doc) || !fmt || strcmp(fmt, "orrery-run/1"))
        return orr_fail(e, ORR_EINVAL, "import: not an Orrery run export "
                        "(\"format\": \"orrery-run/1\" is missing): make it "
                        "with 'orrery runs export RUN --json'");
    const char *rid = opt_str(doc, "id");
    size_t len = rid ? strlen(rid) : 0;
    int ok = len == ORR_RUN_ID_SIZE - 1;
    for (size_t i = 0; ok && i < len; i++)
        ok = (rid[i] >= '0' && rid[i] <= '9') || (rid[i] >= 'a' &&
                                                   rid[i] <= 'f');
    if (!ok)
        return bad(&im, "\"id\" must be a run id (32 lower-case hex "
                        "digits)");
    const json_t *metrics = json_object_get(doc, "metrics");
    if (metrics && !json_is_object(metrics))
        return bad(&im, "\"metrics\" must be an object");
    pthread_mutex_lock(&m->lock);
    int rc = orri_meta_flush_locked(m, e);
    if (!rc)
        rc = orri_meta_begin(m, e);
    if (!rc) {
        rc = import_run(&im, doc, rid);
        if (!rc)
            rc = import_kv(&im, json_object_get(doc, "params"), "run_params",
                           "param");
        if (!rc)
            rc = import_kv(&im, json_object_get(doc, "tags"), "run_tags",
                           "tag");
        if (!rc)
            rc = import_steps(&im, json_object_get(doc, "steps"));
        const char *k;
        const json_t *s;
        json_object_foreach((json_t *)metrics, k, s) {
            if (rc)
                break;
            rc = import_series(&im, k, json_object_get(s, "points"));
        }
        if (!rc)
            rc = orri_meta_commit(m, e);
        else
            orri_meta_rollback(m);
    }
    pthread_mutex_unlock(&m->lock);
    if (!rc)
        memcpy(id, rid, ORR_RUN_ID_SIZE);
    return rc;
}
