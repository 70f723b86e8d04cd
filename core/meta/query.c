/*
 * meta/query.c - run search with cursor pagination, prefix lookup, and a
 * run as a JSON document.
 *
 * The list statement is built per call from fixed fragments (filter.c)
 * and prepared with every key and value bound.  Its shape:
 *
 *   SELECT r.uuid, ..., r.id, <S> FROM runs r
 *   WHERE <filter> AND (<S>, r.id) < (<cursor value>, <cursor row>)
 *   ORDER BY 9 DESC, 8 DESC LIMIT n + 1
 *
 * where <S> is the sort expression.  Runs without the sort key (NULL)
 * come last in either direction, and r.id breaks ties, so the order is
 * total and a cursor (the last row's sort value and row id) resumes
 * exactly after it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta/filter.h"
#include "meta/meta_internal.h"
#include "meta/query.h"
#include "util/error.h"

/* ---- JSON numbers ------------------------------------------------------ */

json_t *orri_json_double(double v)
{
    if (isnan(v))
        return json_string("NaN");
    if (isinf(v))
        return json_string(v > 0 ? "Infinity" : "-Infinity");
    return json_real(v);
}

int orri_json_to_double(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return ORR_OK;
    }
    const char *s = json_string_value(v);
    if (s && !strcmp(s, "NaN"))
        *out = NAN;
    else if (s && !strcmp(s, "Infinity"))
        *out = INFINITY;
    else if (s && !strcmp(s, "-Infinity"))
        *out = -INFINITY;
    else
        return ORR_EINVAL;
    return ORR_OK;
}

/* ---- cursors ----------------------------------------------------------- */

/* A cursor is hex of "1|<check>|<type>|<rowid>|<value>": check ties it to
 * the filter and order it was made for; type n/i/r/t is the sort value's
 * (r in %a, exact), or x when the value was too long to carry and is
 * read again from the run. */
static uint64_t fnv(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : "");
         *p; p++) {
        h ^= *p;
        h *= 1099511628211u;
    }
    h ^= 0xff;
    return h * 1099511628211u;
}

static uint64_t query_check(const struct orr_runs_query *q)
{
    uint64_t h = fnv(1469598103934665603u, q->filter);
    h = fnv(h, q->order_by && *q->order_by ? q->order_by : "start");
    return fnv(h, q->ascending ? "asc" : "desc");
}

struct cursor {
    char    type;
    int64_t rowid;
    int64_t i;
    double  d;
    char   *text;       /* points into the decoded buffer                */
};

static void make_cursor(char *out, const struct orr_run_row *row,
                        int64_t rowid, uint64_t check)
{
    char raw[ORR_CURSOR_SIZE / 2];
    int n;
    char t = "nirt"[row->sort_type];
    if (row->sort_type == ORR_VALUE_TEXT &&
        strlen(row->sort_text) > sizeof raw - 64)
        t = 'x';
    n = snprintf(raw, sizeof raw, "1|%016llx|%c|%lld|",
                 (unsigned long long)check, t, (long long)rowid);
    if (t == 'i')
        n += snprintf(raw + n, sizeof raw - (size_t)n, "%lld",
                      (long long)row->sort_int);
    else if (t == 'r')
        n += snprintf(raw + n, sizeof raw - (size_t)n, "%a", row->sort_real);
    else if (t == 't')
        n += snprintf(raw + n, sizeof raw - (size_t)n, "%s", row->sort_text);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < n; i++) {
        out[2 * i] = hex[(unsigned char)raw[i] >> 4];
        out[2 * i + 1] = hex[(unsigned char)raw[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int parse_cursor(const char *s, uint64_t check, char *buf,
                        size_t cap, struct cursor *c, struct orr_error *e)
{
    size_t len = strlen(s), n = len / 2;
    if (len % 2 || n >= cap)
        goto bad;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            goto bad;
        buf[i] = (char)(hi << 4 | lo);
    }
    buf[n] = '\0';
    unsigned long long ck = 0;
    long long rowid = 0;
    char type = 0;
    int used = 0;
    if (strlen(buf) != n ||
        sscanf(buf, "1|%16llx|%c|%lld|%n", &ck, &type, &rowid, &used) != 3 ||
        used == 0)
        goto bad;
    if (ck != check)
        return orr_fail(e, ORR_EINVAL, "this cursor belongs to another "
                        "filter or order: repeat the query that returned "
                        "it");
    c->type = type;
    c->rowid = rowid;
    c->text = buf + used;
    char *end = NULL;
    switch (type) {
    case 'n': case 'x':
        return *c->text ? ORR_EINVAL : ORR_OK;
    case 'i':
        c->i = strtoll(c->text, &end, 10);
        break;
    case 'r':
        c->d = strtod(c->text, &end);
        break;
    case 't':
        return ORR_OK;
    default:
        goto bad;
    }
    if (end && *end == '\0' && end != c->text)
        return ORR_OK;
bad:
    return orr_fail(e, ORR_EINVAL, "malformed cursor (pass the "
                    "next_cursor a list returned, unchanged)");
}

/* ---- listing ----------------------------------------------------------- */

static char *dup_col(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? strdup((const char *)t) : NULL;
}

ORR_API void orr_run_list_free(struct orr_run_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->rows[i].workflow);
        free(l->rows[i].status);
        free(l->rows[i].user);
        free(l->rows[i].host);
        free(l->rows[i].sort_text);
    }
    free(l->rows);
    free(l);
}

/* Append "<S>" (the sort expression) to q. */
static int put_sort(struct orri_sql *q, const struct orr_runs_query *rq,
                    struct orr_error *e)
{
    return orri_sort_compile(rq->order_by, q, e);
}

static int build_list_sql(struct orri_sql *q, const struct orr_runs_query *rq,
                          const struct cursor *c, size_t limit,
                          struct orr_error *e)
{
    const char *cmp = rq->ascending ? ">" : "<";
    char frag[128];
    int rc = orri_sql_puts(q, "SELECT r.uuid, r.workflow, r.status, r.user,"
                              " r.host, r.start_ms, r.end_ms, r.id, ");
    if (!rc)
        rc = put_sort(q, rq, e);
    if (!rc)
        rc = orri_sql_puts(q, " FROM runs r WHERE ");
    if (!rc)
        rc = orri_filter_compile(rq->filter, q, e);
    if (!rc && c) {
        /* Within the NULL group only r.id moves; before it, a value
         * beyond the cursor's, or NULL (which sorts last). */
        if (c->type == 'n') {
            rc = orri_sql_puts(q, " AND ");
            if (!rc)
                rc = put_sort(q, rq, e);
            snprintf(frag, sizeof frag, " IS NULL AND r.id %s ?", cmp);
            if (!rc)
                rc = orri_sql_puts(q, frag);
            if (!rc)
                rc = orri_sql_bind_int(q, c->rowid);
        } else {
            rc = orri_sql_puts(q, " AND ((");
            if (!rc)
                rc = put_sort(q, rq, e);
            snprintf(frag, sizeof frag, ", r.id) %s (", cmp);
            if (!rc)
                rc = orri_sql_puts(q, frag);
            if (!rc && c->type == 'i')
                rc = orri_sql_puts(q, "?") || orri_sql_bind_int(q, c->i);
            else if (!rc && c->type == 'r')
                rc = orri_sql_puts(q, "?") || orri_sql_bind_real(q, c->d);
            else if (!rc && c->type == 't')
                rc = orri_sql_puts(q, "?") ||
                     orri_sql_bind_text(q, c->text, strlen(c->text));
            else if (!rc) {
                rc = orri_sql_puts(q, "(SELECT ");
                if (!rc)
                    rc = put_sort(q, rq, e);
                if (!rc)
                    rc = orri_sql_puts(q, " FROM runs r WHERE r.id = ?") ||
                         orri_sql_bind_int(q, c->rowid) ||
                         orri_sql_puts(q, ")");
            }
            if (!rc)
                rc = orri_sql_puts(q, ", ?)") ||
                     orri_sql_bind_int(q, c->rowid);
            if (!rc)
                rc = orri_sql_puts(q, " OR ");
            if (!rc)
                rc = put_sort(q, rq, e);
            if (!rc)
                rc = orri_sql_puts(q, " IS NULL)");
        }
    }
    snprintf(frag, sizeof frag, " ORDER BY 9 %s, 8 %s LIMIT ?",
             rq->ascending ? "ASC NULLS LAST" : "DESC",
             rq->ascending ? "ASC" : "DESC");
    if (!rc)
        rc = orri_sql_puts(q, frag) ||
             orri_sql_bind_int(q, (int64_t)limit + 1);
    if (rc == ORR_ENOMEM)
        orr_fail(e, rc, "listing runs: out of memory");
    return rc;
}

/* Prepare the list statement (m->lock held); exposed to the tests through
 * orri_meta_runs_plan below. */
static int prepare_list(struct orr_meta *m, const struct orr_runs_query *rq,
                        int explain, sqlite3_stmt **out, struct orri_sql *q,
                        size_t *limit, struct orr_error *e)
{
    *limit = rq->limit ? rq->limit : ORR_RUNS_LIMIT_DEFAULT;
    if (*limit > ORR_RUNS_LIMIT_MAX)
        return orr_fail(e, ORR_EINVAL, "limit %zu is above the maximum of "
                        "%d", *limit, ORR_RUNS_LIMIT_MAX);
    struct cursor c, *cp = NULL;
    char buf[ORR_CURSOR_SIZE];
    int rc = ORR_OK;
    if (rq->cursor && *rq->cursor) {
        rc = parse_cursor(rq->cursor, query_check(rq), buf, sizeof buf, &c,
                          e);
        if (rc)
            return rc;
        cp = &c;
    }
    if (explain)
        rc = orri_sql_puts(q, "EXPLAIN QUERY PLAN ");
    if (!rc)
        rc = build_list_sql(q, rq, cp, *limit, e);
    if (rc)
        return rc;
    int src = sqlite3_prepare_v2(m->db, q->text.data, -1, out, NULL);
    if (src == SQLITE_OK)
        src = orri_sql_bind_all(*out, q);
    if (src != SQLITE_OK)
        return orri_meta_sqlfail(m, src, e, "listing runs");
    return ORR_OK;
}

ORR_API int orr_meta_runs_list(struct orr_meta *m,
                               const struct orr_runs_query *rq,
                               struct orr_run_list **out,
                               struct orr_error *e)
{
    *out = NULL;
    struct orri_sql q = {0};
    sqlite3_stmt *st = NULL;
    size_t limit = 0;
    struct orr_run_list *l = calloc(1, sizeof *l);
    if (!l)
        return orr_fail(e, ORR_ENOMEM, "listing runs: out of memory");
    pthread_mutex_lock(&m->lock);
    int rc = orri_meta_flush_locked(m, e);
    if (!rc)
        rc = prepare_list(m, rq, 0, &st, &q, &limit, e);
    size_t cap = 0;
    int src = SQLITE_DONE;
    int64_t last_rowid = 0;
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if (l->n == limit) {
            make_cursor(l->next_cursor, &l->rows[l->n - 1], last_rowid,
                        query_check(rq));
            break;
        }
        if (l->n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            struct orr_run_row *r = realloc(l->rows, nc * sizeof *r);
            if (!r) {
                rc = orr_fail(e, ORR_ENOMEM, "listing runs: out of memory");
                break;
            }
            l->rows = r;
            cap = nc;
        }
        struct orr_run_row *r = &l->rows[l->n++];
        memset(r, 0, sizeof *r);
        snprintf(r->id, sizeof r->id, "%s",
                 (const char *)sqlite3_column_text(st, 0));
        r->workflow = dup_col(st, 1);
        r->status = dup_col(st, 2);
        r->user = dup_col(st, 3);
        r->host = dup_col(st, 4);
        r->start_ms = sqlite3_column_int64(st, 5);
        r->end_ms = sqlite3_column_int64(st, 6);
        last_rowid = sqlite3_column_int64(st, 7);
        switch (sqlite3_column_type(st, 8)) {
        case SQLITE_INTEGER:
            r->sort_type = ORR_VALUE_INT;
            r->sort_int = sqlite3_column_int64(st, 8);
            break;
        case SQLITE_FLOAT:
            r->sort_type = ORR_VALUE_REAL;
            r->sort_real = sqlite3_column_double(st, 8);
            break;
        case SQLITE_NULL:
            break;
        default:
            r->sort_type = ORR_VALUE_TEXT;
            r->sort_text = dup_col(st, 8);
            if (!r->sort_text)
                rc = orr_fail(e, ORR_ENOMEM, "listing runs: out of memory");
        }
    }
    if (!rc && src != SQLITE_ROW && src != SQLITE_DONE)
        rc = orri_meta_sqlfail(m, src, e, "listing runs");
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->lock);
    orri_sql_free(&q);
    if (rc) {
        orr_run_list_free(l);
        return rc;
    }
    *out = l;
    return ORR_OK;
}

ORR_API int orri_meta_runs_plan(struct orr_meta *m,
                                const struct orr_runs_query *rq, char **out,
                                struct orr_error *e)
{
    struct orri_sql q = {0};
    struct orr_buf b = ORR_BUF_INIT;
    sqlite3_stmt *st = NULL;
    size_t limit;
    pthread_mutex_lock(&m->lock);
    int rc = prepare_list(m, rq, 1, &st, &q, &limit, e);
    while (!rc && sqlite3_step(st) == SQLITE_ROW)
        if (orri_buf_printf(&b, "%s\n", sqlite3_column_text(st, 3)))
            rc = orr_fail(e, ORR_ENOMEM, "out of memory");
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->lock);
    orri_sql_free(&q);
    *out = rc ? NULL : orri_buf_take(&b);
    orri_buf_free(&b);
    return rc;
}

/* ---- one run ----------------------------------------------------------- */

ORR_API int orr_meta_run_resolve(struct orr_meta *m, const char *prefix,
                                 char id[ORR_RUN_ID_SIZE],
                                 struct orr_error *e)
{
    size_t n = prefix ? strlen(prefix) : 0;
    if (n == 0)
        return orr_fail(e, ORR_EINVAL, "empty run id");
    for (size_t i = 0; i < n; i++)
        if (hexval(prefix[i]) < 0 || i >= ORR_RUN_ID_SIZE - 1)
            return orr_fail(e, ORR_EINVAL, "'%.40s' is not a run id (up to "
                            "32 lower-case hex digits)", prefix);
    if (n < 4)
        return orr_fail(e, ORR_EINVAL, "run id prefix '%s' is too short: "
                        "give at least 4 digits", prefix);
    /* [prefix, prefix + "g"): the ids starting with it, from the index. */
    char hi[ORR_RUN_ID_SIZE + 1];
    snprintf(hi, sizeof hi, "%sg", prefix);
    sqlite3_stmt *st = NULL;
    char found[2][ORR_RUN_ID_SIZE];
    int k = 0;
    pthread_mutex_lock(&m->lock);
    int src = sqlite3_prepare_v2(m->db, "SELECT uuid FROM runs WHERE uuid >= "
                                 "?1 AND uuid < ?2 ORDER BY uuid LIMIT 2", -1,
                                 &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, prefix, (int)n, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, hi, -1, SQLITE_STATIC);
        while ((src = sqlite3_step(st)) == SQLITE_ROW && k < 2)
            snprintf(found[k++], ORR_RUN_ID_SIZE, "%s",
                     (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    int rc = ORR_OK;
    if (src != SQLITE_DONE && src != SQLITE_ROW)
        rc = orri_meta_sqlfail(m, src, e, "looking up a run");
    pthread_mutex_unlock(&m->lock);
    if (rc)
        return rc;
    if (k == 0)
        return orr_fail(e, ORR_ENOTFOUND, "no run %s in %s", prefix,
                        m->path);
    if (k > 1)
        return orr_fail(e, ORR_EINVAL, "run id prefix '%s' matches several "
                        "runs (%s, %s, ...): give more digits", prefix,
                        found[0], found[1]);
    memcpy(id, found[0], ORR_RUN_ID_SIZE);
    return ORR_OK;
}

static json_t *col_json(sqlite3_stmt *st, int col)
{
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(st, col));
    case SQLITE_FLOAT:
        return orri_json_double(sqlite3_column_double(st, col));
    case SQLITE_NULL:
        return json_null();
    default:
        return json_stringn((const char *)sqlite3_column_text(st, col),
                            (size_t)sqlite3_column_bytes(st, col));
    }
}

/* Run `sql` with ?1 = a, and call row() per row.  m->lock held. */
static int each_row(struct orr_meta *m, const char *sql, int64_t a,
                    int (*row)(sqlite3_stmt *st, void *ctx), void *ctx,
                    struct orr_error *e)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(m->db, sql, -1, &st, NULL);
    int rc = ORR_OK;
    if (src == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, a);
        while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW)
            rc = row(st, ctx);
    }
    sqlite3_finalize(st);
    if (!rc && src != SQLITE_DONE)
        rc = orri_meta_sqlfail(m, src, e, "reading a run");
    else if (rc)
        orr_fail(e, rc, "reading a run: out of memory");
    return rc;
}

static int row_run(sqlite3_stmt *st, void *ctx)
{
    static const char *const names[] = {
        "id", "workflow", "script_path", "script_hash", "user", "host",
        "git_commit", "git_dirty", "status", "start_ms", "end_ms"};
    json_t *o = ctx;
    for (int i = 0; i < (int)(sizeof names / sizeof *names); i++)
        if (json_object_set_new(o, names[i], col_json(st, i)))
            return ORR_ENOMEM;
    if (sqlite3_column_type(st, 10) != SQLITE_NULL)
        json_object_set_new(o, "duration_ms",
                            json_integer(sqlite3_column_int64(st, 10) -
                                         sqlite3_column_int64(st, 9)));
    else
        json_object_set_new(o, "duration_ms", json_null());
    return ORR_OK;
}

static int row_kv(sqlite3_stmt *st, void *ctx)
{
    return json_object_set_new(ctx, (const char *)sqlite3_column_text(st, 0),
                               col_json(st, 1)) ? ORR_ENOMEM : ORR_OK;
}

static int row_metric(sqlite3_stmt *st, void *ctx)
{
    json_t *s = json_object();
    if (!s)
        return ORR_ENOMEM;
    json_object_set_new(s, "n", json_integer(sqlite3_column_int64(st, 1)));
    json_object_set_new(s, "last_step",
                        json_integer(sqlite3_column_int64(st, 2)));
    json_object_set_new(s, "last_ms",
                        json_integer(sqlite3_column_int64(st, 3)));
    /* NULL last_value is a NaN (metrics.c); NULL min/max: no finite
     * point. */
    json_object_set_new(s, "last", sqlite3_column_type(st, 4) == SQLITE_NULL
                                       ? json_string("NaN")
                                       : col_json(st, 4));
    json_object_set_new(s, "min", col_json(st, 5));
    json_object_set_new(s, "max", col_json(st, 6));
    return json_object_set_new(ctx, (const char *)sqlite3_column_text(st, 0),
                               s) ? ORR_ENOMEM : ORR_OK;
}

struct step_ctx {
    struct orr_meta  *m;
    json_t           *steps;
    struct orr_error *e;
};

static int row_artifact(sqlite3_stmt *st, void *ctx)
{
    json_t *a = json_object();
    if (!a)
        return ORR_ENOMEM;
    json_object_set_new(a, "digest", col_json(st, 0));
    json_object_set_new(a, "direction", json_string(
        sqlite3_column_int(st, 1) ? "output" : "input"));
    json_object_set_new(a, "kind", col_json(st, 2));
    json_object_set_new(a, "name", col_json(st, 3));
    json_object_set_new(a, "size", col_json(st, 4));
    return json_array_append_new(ctx, a) ? ORR_ENOMEM : ORR_OK;
}

static int row_step(sqlite3_stmt *st, void *ctx)
{
    struct step_ctx *c = ctx;
    json_t *s = json_object(), *arts = json_array();
    if (!s || !arts) {
        json_decref(s);
        json_decref(arts);
        return ORR_ENOMEM;
    }
    json_object_set_new(s, "name", col_json(st, 1));
    json_object_set_new(s, "status", col_json(st, 2));
    json_object_set_new(s, "start_ms", col_json(st, 3));
    json_object_set_new(s, "end_ms", col_json(st, 4));
    json_object_set_new(s, "artifacts", arts);
    json_array_append_new(c->steps, s);
    return each_row(c->m, "SELECT a.digest, e.direction, a.kind, a.name,"
                    " a.size FROM events e JOIN artifacts a ON a.id ="
                    " e.artifact_id WHERE e.step_id = ?1"
                    " ORDER BY e.direction, a.digest",
                    sqlite3_column_int64(st, 0), row_artifact, arts, c->e);
}

struct series_ctx {
    json_t *pts;
};

static int add_point(void *ctx, const struct orr_metric_point *p)
{
    struct series_ctx *c = ctx;
    json_t *pt = json_pack("[I, I, o]", (json_int_t)p->step,
                           (json_int_t)p->time_ms,
                           orri_json_double(p->value));
    return !pt || json_array_append_new(c->pts, pt) ? ORR_ENOMEM : ORR_OK;
}

ORR_API int orr_meta_run_json(struct orr_meta *m, const char *run_id,
                              int points, json_t **out, struct orr_error *e)
{
    *out = NULL;
    int64_t run = 0;
    json_t *doc = json_object(), *params = json_object(),
           *tags = json_object(), *metrics = json_object(),
           *steps = json_array();
    int rc = doc && params && tags && metrics && steps ? ORR_OK : ORR_ENOMEM;
    if (rc) {
        json_decref(doc);
        json_decref(params);
        json_decref(tags);
        json_decref(metrics);
        json_decref(steps);
        return orr_fail(e, rc, "reading a run: out of memory");
    }
    if (points)
        json_object_set_new(doc, "format", json_string("orrery-run/1"));
    json_object_set_new(doc, "params", params);
    json_object_set_new(doc, "tags", tags);
    json_object_set_new(doc, "metrics", metrics);
    json_object_set_new(doc, "steps", steps);
    pthread_mutex_lock(&m->lock);
    rc = orri_meta_run_rowid(m, run_id, &run, e);
    if (!rc)
        rc = orri_meta_flush_locked(m, e);
    if (!rc)
        rc = each_row(m, "SELECT uuid, workflow, script_path, script_hash,"
                      " user, host, git_commit, git_dirty, status, start_ms,"
                      " end_ms FROM runs WHERE id = ?1", run, row_run, doc,
                      e);
    if (!rc)
        rc = each_row(m, "SELECT key, value FROM run_params WHERE run_id ="
                      " ?1 ORDER BY key", run, row_kv, params, e);
    if (!rc)
        rc = each_row(m, "SELECT key, value FROM run_tags WHERE run_id ="
                      " ?1 ORDER BY key", run, row_kv, tags, e);
    if (!rc)
        rc = each_row(m, "SELECT k.name, s.n, s.last_step, s.last_ms,"
                      " s.last_value, s.min_value, s.max_value FROM"
                      " metric_series s JOIN metric_keys k ON k.id ="
                      " s.key_id WHERE s.run_id = ?1 ORDER BY k.name", run,
                      row_metric, metrics, e);
    struct step_ctx sc = {m, steps, e};
    if (!rc)
        rc = each_row(m, "SELECT id, name, status, start_ms, end_ms FROM"
                      " steps WHERE run_id = ?1 ORDER BY start_ms, id", run,
                      row_step, &sc, e);
    pthread_mutex_unlock(&m->lock);
    /* The series, read through the public call (it takes the lock). */
    const char *key;
    json_t *s;
    json_object_foreach(metrics, key, s) {
        if (rc || !points)
            break;
        struct series_ctx c = {json_array()};
        if (!c.pts) {
            rc = orr_fail(e, ORR_ENOMEM, "reading a run: out of memory");
            break;
        }
        json_object_set_new(s, "points", c.pts);
        rc = orr_meta_metric_series(m, run_id, key, add_point, &c, e);
        if (rc == ORR_ENOMEM)
            orr_fail(e, rc, "reading a run: out of memory");
    }
    if (rc) {
        json_decref(doc);
        return rc;
    }
    *out = doc;
    return ORR_OK;
}
