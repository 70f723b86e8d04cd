/*
 * meta/filter.c - the run filter language: a lexer, a recursive-descent
 * parser that emits SQL as it goes, and the sort keys.
 *
 * Every comparison becomes a fixed SQL fragment; keys and values are
 * bound.  A metric comparison is "r.id IN (SELECT run_id FROM
 * metric_series WHERE key_id = (key lookup) AND col op ?)" so SQLite
 * answers it from the (key_id, last_value) index instead of visiting
 * every run; params and tags use their (key, value) indexes the same way.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "meta/filter.h"
#include "meta/meta_internal.h"
#include "util/error.h"

/* ---- orri_sql ---------------------------------------------------------- */

void orri_sql_free(struct orri_sql *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n; i++)
        free(q->binds[i].s);
    free(q->binds);
    orri_buf_free(&q->text);
    memset(q, 0, sizeof *q);
}

int orri_sql_puts(struct orri_sql *q, const char *fragment)
{
    return orri_buf_puts(&q->text, fragment);
}

static struct orri_bind *bind_new(struct orri_sql *q)
{
    if (q->n == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : 8;
        struct orri_bind *b = realloc(q->binds, nc * sizeof *b);
        if (!b)
            return NULL;
        q->binds = b;
        q->cap = nc;
    }
    struct orri_bind *b = &q->binds[q->n++];
    memset(b, 0, sizeof *b);
    return b;
}

int orri_sql_bind_int(struct orri_sql *q, int64_t v)
{
    struct orri_bind *b = bind_new(q);
    if (!b)
        return ORR_ENOMEM;
    b->type = ORRI_BIND_INT;
    b->i = v;
    return ORR_OK;
}

int orri_sql_bind_real(struct orri_sql *q, double v)
{
    struct orri_bind *b = bind_new(q);
    if (!b)
        return ORR_ENOMEM;
    b->type = ORRI_BIND_REAL;
    b->d = v;
    return ORR_OK;
}

int orri_sql_bind_text(struct orri_sql *q, const char *s, size_t len)
{
    char *copy = malloc(len + 1);
    struct orri_bind *b = copy ? bind_new(q) : NULL;
    if (!b) {
        free(copy);
        return ORR_ENOMEM;
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    b->type = ORRI_BIND_TEXT;
    b->s = copy;
    b->i = (int64_t)len;
    return ORR_OK;
}

int orri_sql_bind_all(sqlite3_stmt *st, const struct orri_sql *q)
{
    for (size_t i = 0; i < q->n; i++) {
        const struct orri_bind *b = &q->binds[i];
        int col = (int)i + 1, rc;
        if (b->type == ORRI_BIND_INT)
            rc = sqlite3_bind_int64(st, col, b->i);
        else if (b->type == ORRI_BIND_REAL)
            rc = sqlite3_bind_double(st, col, b->d);
        else
            rc = sqlite3_bind_text(st, col, b->s, (int)b->i, SQLITE_STATIC);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

/* ---- orr_num() --------------------------------------------------------- */

static void fn_num(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    (void)argc;
    int t = sqlite3_value_type(argv[0]);
    if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) {
        sqlite3_result_value(cx, argv[0]);
        return;
    }
    if (t != SQLITE_TEXT) {
        sqlite3_result_null(cx);
        return;
    }
    const char *s = (const char *)sqlite3_value_text(argv[0]);
    int n = sqlite3_value_bytes(argv[0]);
    if (!s || n == 0 || n > 64 || isspace((unsigned char)s[0])) {
        sqlite3_result_null(cx);
        return;
    }
    char *end = NULL;
    errno = 0;
    long long iv = strtoll(s, &end, 10);
    if (end == s + n && errno == 0) {
        sqlite3_result_int64(cx, iv);
        return;
    }
    double d = strtod(s, &end);
    if (end != s + n || isnan(d))
        sqlite3_result_null(cx);
    else
        sqlite3_result_double(cx, d);
}

int orri_filter_register(sqlite3 *db)
{
    return sqlite3_create_function(db, "orr_num", 1,
                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC |
                                       SQLITE_INNOCUOUS,
                                   NULL, fn_num, NULL, NULL);
}

/* ---- lexer ------------------------------------------------------------- */

enum tok_type {
    T_END, T_LPAREN, T_RPAREN, T_COMMA, T_OP, T_NUMBER, T_STRING, T_FIELD,
    T_AND, T_OR, T_NOT, T_LIKE, T_IN
};

#define MAX_SEGS 16

struct seg {
    const char *p;          /* into struct parser.strbuf, NUL-terminated */
    size_t      len;
    int         quoted;
};

struct token {
    enum tok_type type;
    size_t        pos, len;         /* byte offset into the filter        */
    char          op[3];
    int           is_int;
    int64_t       i;
    double        d;
    struct seg    segs[MAX_SEGS];
    size_t        n_segs;
    const char   *str;              /* T_STRING, decoded                  */
    size_t        str_len;
};

struct parser {
    const char      *src;
    size_t           len, pos;
    struct token     tok;           /* current (peeked) token             */
    struct orri_sql *out;
    struct orr_error *e;
    char            *strbuf;        /* decoded strings and key segments   */
    size_t           strcap, struse;
    int              depth;
};

/* Fill e with the message and the filter echoed, a caret under `pos`. */
static int perr(struct parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int perr(struct parser *p, size_t pos, const char *fmt, ...)
{
    char what[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    /* A window of the filter around the column, so the caret fits the
     * message buffer; control characters become spaces to keep it
     * aligned. */
    size_t from = pos > 40 ? pos - 40 : 0;
    size_t to = from + 80 < p->len ? from + 80 : p->len;
    char echo[96];
    size_t k = 0;
    if (from > 0) {
        memcpy(echo, "...", 3);
        k = 3;
    }
    for (size_t i = from; i < to && k < sizeof echo - 4; i++) {
        unsigned char c = (unsigned char)p->src[i];
        echo[k++] = (char)(c < 0x20 || c == 0x7f ? ' ' : c);
    }
    if (to < p->len) {
        memcpy(echo + k, "...", 3);
        k += 3;
    }
    echo[k] = '\0';
    int caret = (int)(pos - from + (from > 0 ? 3 : 0));
    return orr_fail(p->e, ORR_EINVAL, "filter: column %zu: %s\n  %s\n  %*s^",
                    pos + 1, what, echo, caret, "");
}

/* Room for a decoded string of up to `n` bytes.  Pointers into strbuf
 * stay valid: it is sized once, for the whole filter. */
static char *str_alloc(struct parser *p, size_t n)
{
    if (p->struse + n + 1 > p->strcap)
        return NULL;
    char *s = p->strbuf + p->struse;
    p->struse += n + 1;
    return s;
}

static int is_seg_char(int c)
{
    return isalnum(c) || c == '_' || c == '-' || c == '/' || c == ':';
}

static int lex_quoted(struct parser *p, char quote, const char **out,
                      size_t *out_len)
{
    size_t start = p->pos;
    char *s = str_alloc(p, p->len - p->pos);
    if (!s)
        return orr_fail(p->e, ORR_ENOMEM, "filter: out of memory");
    size_t n = 0;
    p->pos++;
    for (;;) {
        if (p->pos >= p->len)
            return perr(p, start, "unterminated %s (started here)",
                        quote == '\'' ? "string" : "quoted key");
        char c = p->src[p->pos++];
        if (c == quote) {
            if (p->pos < p->len && p->src[p->pos] == quote) {
                s[n++] = quote;     /* doubled quote */
                p->pos++;
                continue;
            }
            break;
        }
        if (c == '\\') {
            if (p->pos >= p->len)
                return perr(p, p->pos - 1, "a backslash ends the filter");
            char x = p->src[p->pos++];
            switch (x) {
            case 'n':  c = '\n'; break;
            case 't':  c = '\t'; break;
            case '\\': case '\'': case '`':
                c = x;
                break;
            default:
                return perr(p, p->pos - 2, "unknown escape '\\%c' (use "
                            "\\\\, \\', \\`, \\n, \\t)", x);
            }
        }
        s[n++] = c;
    }
    s[n] = '\0';
    *out = s;
    *out_len = n;
    return ORR_OK;
}

static int next(struct parser *p)
{
    const char *s = p->src;
    while (p->pos < p->len && isspace((unsigned char)s[p->pos]))
        p->pos++;
    struct token *t = &p->tok;
    memset(t, 0, sizeof *t);
    t->pos = p->pos;
    if (p->pos >= p->len) {
        t->type = T_END;
        return ORR_OK;
    }
    char c = s[p->pos];
    if (c == '(' || c == ')' || c == ',') {
        t->type = c == '(' ? T_LPAREN : c == ')' ? T_RPAREN : T_COMMA;
        p->pos++;
    } else if (strchr("=!<>", c)) {
        size_t n = 1;
        char c2 = p->pos + 1 < p->len ? s[p->pos + 1] : '\0';
        if ((c == '!' || c == '<' || c == '>') && c2 == '=')
            n = 2;
        else if (c == '<' && c2 == '>')
            n = 2;
        else if (c == '=' && c2 == '=')
            n = 2;
        if (c == '!' && n == 1)
            return perr(p, p->pos, "'!' must be followed by '=' ('!=')");
        t->type = T_OP;
        memcpy(t->op, s + p->pos, n);
        if (!strcmp(t->op, "<>"))
            memcpy(t->op, "!=", 3);
        if (!strcmp(t->op, "=="))
            memcpy(t->op, "=", 2);
        p->pos += n;
    } else if (c == '\'') {
        t->type = T_STRING;
        int rc = lex_quoted(p, '\'', &t->str, &t->str_len);
        if (rc)
            return rc;
    } else if (isdigit((unsigned char)c) || c == '-' || c == '+' ||
               (c == '.' && p->pos + 1 < p->len &&
                isdigit((unsigned char)s[p->pos + 1]))) {
        char buf[64];
        size_t n = 0;
        while (p->pos + n < p->len && n < sizeof buf - 1 &&
               (isalnum((unsigned char)s[p->pos + n]) ||
                s[p->pos + n] == '.' ||
                ((s[p->pos + n] == '-' || s[p->pos + n] == '+') &&
                 (n == 0 || s[p->pos + n - 1] == 'e' ||
                  s[p->pos + n - 1] == 'E'))))
            n++;
        memcpy(buf, s + p->pos, n);
        buf[n] = '\0';
        char *end = NULL;
        errno = 0;
        long long iv = strtoll(buf, &end, 10);
        if (n > 0 && *end == '\0' && errno == 0) {
            t->is_int = 1;
            t->i = iv;
            t->d = (double)iv;
        } else {
            errno = 0;
            double d = strtod(buf, &end);
            if (n == 0 || *end != '\0' || errno == ERANGE || isnan(d) ||
                isinf(d))
                return perr(p, p->pos, "'%s' is not a number", buf);
            t->d = d;
        }
        t->type = T_NUMBER;
        p->pos += n;
    } else if (is_seg_char((unsigned char)c) || c == '`') {
        t->type = T_FIELD;
        for (;;) {
            if (t->n_segs == MAX_SEGS)
                return perr(p, p->pos, "a name has more than %d parts",
                            MAX_SEGS);
            struct seg *g = &t->segs[t->n_segs];
            if (p->pos < p->len && s[p->pos] == '`') {
                int rc = lex_quoted(p, '`', &g->p, &g->len);
                if (rc)
                    return rc;
                g->quoted = 1;
            } else {
                size_t st = p->pos;
                while (p->pos < p->len && is_seg_char((unsigned char)s[p->pos]))
                    p->pos++;
                if (p->pos == st)
                    return perr(p, p->pos, "expected a name after '.'");
                char *copy = str_alloc(p, p->pos - st);
                if (!copy)
                    return orr_fail(p->e, ORR_ENOMEM, "filter: out of memory");
                memcpy(copy, s + st, p->pos - st);
                copy[p->pos - st] = '\0';
                g->p = copy;
                g->len = p->pos - st;
            }
            t->n_segs++;
            if (p->pos < p->len && s[p->pos] == '.')
                p->pos++;
            else
                break;
        }
        if (t->n_segs == 1 && !t->segs[0].quoted) {
            static const struct { const char *w; enum tok_type t; } kw[] = {
                {"and", T_AND}, {"or", T_OR}, {"not", T_NOT},
                {"like", T_LIKE}, {"in", T_IN}};
            for (size_t i = 0; i < sizeof kw / sizeof *kw; i++)
                if (!strcasecmp(t->segs[0].p, kw[i].w))
                    t->type = kw[i].t;
        }
    } else {
        return perr(p, p->pos, "unexpected character '%c'", c);
    }
    t->len = p->pos - t->pos;
    return ORR_OK;
}

/* ---- fields ------------------------------------------------------------ */

enum field_kind { F_METRIC, F_PARAM, F_TAG, F_ATTR };
enum attr_type { A_TEXT, A_TIME, A_NUMBER };

struct field {
    enum field_kind kind;
    const char     *key;        /* metric/param/tag key (NUL-terminated)  */
    size_t          key_len;
    const char     *col;        /* SQL for the value (fixed text)         */
    enum attr_type  type;
    size_t          pos;
};

static const struct {
    const char    *name;
    const char    *sql;
    enum attr_type type;
} attrs[] = {
    {"status", "r.status", A_TEXT},
    {"workflow", "r.workflow", A_TEXT},
    {"user", "r.user", A_TEXT},
    {"host", "r.host", A_TEXT},
    {"id", "r.uuid", A_TEXT},
    {"start", "r.start_ms", A_TIME},
    {"end", "r.end_ms", A_TIME},
    {"duration", "(r.end_ms - r.start_ms)", A_NUMBER},
};

static const char *known_names =
    "metrics.KEY[.min|.max], params.KEY, tags.KEY, status, workflow, user, "
    "host, id, start, end, duration";

/* Resolve segments: namespace, key (joined with '.'), aggregate. */
static int field_from(struct parser *p, const struct token *t,
                      struct field *f, int for_sort)
{
    memset(f, 0, sizeof *f);
    f->pos = t->pos;
    const struct seg *s = t->segs;
    size_t n = t->n_segs;
    if (n >= 2 && !s[0].quoted &&
        (!strcasecmp(s[0].p, "run") || !strcasecmp(s[0].p, "attributes"))) {
        s++;
        n--;
    }
    const char *ns = s[0].quoted ? "" : s[0].p;
    if (!strcasecmp(ns, "metrics") || !strcasecmp(ns, "metric"))
        f->kind = F_METRIC;
    else if (!strcasecmp(ns, "params") || !strcasecmp(ns, "param"))
        f->kind = F_PARAM;
    else if (!strcasecmp(ns, "tags") || !strcasecmp(ns, "tag"))
        f->kind = F_TAG;
    else
        f->kind = F_ATTR;
    if (f->kind == F_ATTR) {
        for (size_t i = 0; n == 1 && i < sizeof attrs / sizeof *attrs; i++)
            if (!strcasecmp(ns, attrs[i].name)) {
                f->col = attrs[i].sql;
                f->type = attrs[i].type;
                return ORR_OK;
            }
        return perr(p, t->pos, "unknown name '%.*s' (%s %s)",
                    (int)(t->len > 40 ? 40 : t->len), p->src + t->pos,
                    for_sort ? "order by" : "use", known_names);
    }
    if (n < 2)
        return perr(p, t->pos, "'%s' needs a key: %s.KEY", ns, ns);
    size_t last = n;
    f->col = f->kind == F_METRIC ? "last_value" : "value";
    if (f->kind == F_METRIC && n >= 3 && !s[n - 1].quoted) {
        const char *agg = s[n - 1].p;
        if (!strcmp(agg, "min") || !strcmp(agg, "max") ||
            !strcmp(agg, "last")) {
            f->col = !strcmp(agg, "min") ? "min_value"
                     : !strcmp(agg, "max") ? "max_value" : "last_value";
            last = n - 1;
        }
    }
    size_t len = 0;
    for (size_t i = 1; i < last; i++)
        len += s[i].len + (i > 1);
    char *key = str_alloc(p, len);
    if (!key)
        return orr_fail(p->e, ORR_ENOMEM, "filter: out of memory");
    size_t k = 0;
    for (size_t i = 1; i < last; i++) {
        if (i > 1)
            key[k++] = '.';
        memcpy(key + k, s[i].p, s[i].len);
        k += s[i].len;
    }
    key[k] = '\0';
    if (k == 0 || k > ORRI_KEY_MAX || strlen(key) != k)
        return perr(p, t->pos, k == 0 ? "empty key" :
                    k > ORRI_KEY_MAX ? "key longer than 250 bytes"
                                     : "key contains a NUL byte");
    f->key = key;
    f->key_len = k;
    f->type = f->kind == F_METRIC ? A_NUMBER : A_TEXT;
    return ORR_OK;
}

/* ---- parser ------------------------------------------------------------ */

static int emit(struct parser *p, const char *s)
{
    if (orri_sql_puts(p->out, s))
        return orr_fail(p->e, ORR_ENOMEM, "filter: out of memory");
    return ORR_OK;
}

/* 'YYYY-MM-DD[ HH:MM[:SS]]' (UTC) as Unix ms. */
static int parse_date(const char *s, int64_t *ms)
{
    int Y, M, D, h = 0, mi = 0, sec = 0, used = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &Y, &M, &D, &used) != 3)
        return -1;
    const char *r = s + used;
    if (*r == ' ' || *r == 'T') {
        int u2 = 0;
        if (sscanf(r + 1, "%2d:%2d%n", &h, &mi, &u2) != 2)
            return -1;
        r += 1 + u2;
        if (*r == ':') {
            if (sscanf(r + 1, "%2d%n", &sec, &u2) != 1)
                return -1;
            r += 1 + u2;
        }
    }
    if (*r == 'Z')
        r++;
    if (*r || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 ||
        sec > 60)
        return -1;
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D,
                    .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    *ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}

/* Bind the current value token for field `f`; *numeric tells which. */
static int bind_value(struct parser *p, const struct field *f,
                      const char *after, int *numeric)
{
    struct token *t = &p->tok;
    if (t->type != T_NUMBER && t->type != T_STRING)
        return perr(p, t->pos, "expected a value after '%s'", after);
    int rc = ORR_OK;
    if (t->type == T_NUMBER) {
        if (f->type == A_TEXT && f->kind == F_ATTR)
            return perr(p, t->pos, "%s is text: compare it with a string "
                        "in '...'", f->col + 2);
        *numeric = 1;
        rc = t->is_int ? orri_sql_bind_int(p->out, t->i)
                       : orri_sql_bind_real(p->out, t->d);
    } else if (f->type == A_TIME) {
        int64_t ms;
        if (parse_date(t->str, &ms))
            return perr(p, t->pos, "expected a time: Unix milliseconds or "
                        "'YYYY-MM-DD[ HH:MM[:SS]]' (UTC)");
        *numeric = 1;
        rc = orri_sql_bind_int(p->out, ms);
    } else if (f->type == A_NUMBER) {
        return perr(p, t->pos, "%s compares with numbers, not strings",
                    f->kind == F_METRIC ? "a metric" : "duration");
    } else {
        *numeric = 0;
        rc = orri_sql_bind_text(p->out, t->str, t->str_len);
    }
    if (rc)
        return orr_fail(p->e, ORR_ENOMEM, "filter: out of memory");
    return next(p);
}

/* The opening of a key/value subquery: "r.id IN (SELECT run_id FROM ...
 * WHERE <key> AND ". */
static int open_sub(struct parser *p, const struct field *f)
{
    int rc;
    if (f->kind == F_METRIC)
        rc = emit(p, "r.id IN (SELECT run_id FROM metric_series WHERE "
                     "key_id = (SELECT id FROM metric_keys WHERE name = ?)"
                     " AND ");
    else if (f->kind == F_PARAM)
        rc = emit(p, "r.id IN (SELECT run_id FROM run_params WHERE "
                     "key = ? AND ");
    else
        rc = emit(p, "r.id IN (SELECT run_id FROM run_tags WHERE "
                     "key = ? AND ");
    if (!rc && orri_sql_bind_text(p->out, f->key, f->key_len))
        rc = orr_fail(p->e, ORR_ENOMEM, "filter: out of memory");
    return rc;
}

/* The value operand: the column, or orr_num(value) for a number
 * compared with a param or tag. */
static const char *operand(const struct field *f, int numeric)
{
    if (f->kind == F_ATTR || f->kind == F_METRIC || !numeric)
        return f->col;
    return "orr_num(value)";
}

static int comparison(struct parser *p)
{
    struct token ft = p->tok;
    if (ft.type != T_FIELD)
        return perr(p, ft.pos, ft.type == T_END
                                   ? "expected a comparison, found the end"
                                   : "expected a name (metrics.KEY, "
                                     "params.KEY, tags.KEY, status, ...)");
    struct field f;
    int rc = field_from(p, &ft, &f, 0);
    if (!rc)
        rc = next(p);
    if (rc)
        return rc;
    int negate = 0;
    if (p->tok.type == T_NOT) {
        negate = 1;
        if ((rc = next(p)))
            return rc;
        if (p->tok.type != T_LIKE && p->tok.type != T_IN)
            return perr(p, p->tok.pos, "expected 'like' or 'in' after "
                        "'not'");
    }
    int sub = f.kind != F_ATTR;
    const char *tail = sub ? ")" : "";
    if (p->tok.type == T_OP) {
        char op[3];
        memcpy(op, p->tok.op, sizeof op);
        if ((rc = next(p)))
            return rc;
        /* The operand depends on the value's type, so emit after it is
         * known; the binds' order must still match the text: key first
         * (in open_sub), then the value. */
        if (sub && (rc = open_sub(p, &f)))
            return rc;
        int numeric = 0;
        if ((rc = bind_value(p, &f, op, &numeric)))
            return rc;
        char frag[96];
        snprintf(frag, sizeof frag, "(%s %s ?)%s", operand(&f, numeric), op,
                 tail);
        return emit(p, frag);
    }
    if (p->tok.type == T_LIKE) {
        size_t lpos = p->tok.pos;
        if ((rc = next(p)))
            return rc;
        if (f.type != A_TEXT || p->tok.type != T_STRING)
            return perr(p, f.type != A_TEXT ? lpos : p->tok.pos,
                        f.type != A_TEXT ? "'like' works on text (params, "
                                           "tags, status, workflow, ...)"
                                         : "expected a string after 'like'");
        if (sub && (rc = open_sub(p, &f)))
            return rc;
        int numeric = 0;
        char frag[96];
        snprintf(frag, sizeof frag, "(%s %sLIKE ? ESCAPE '\\')%s", f.col,
                 negate ? "NOT " : "", tail);
        if ((rc = bind_value(p, &f, "like", &numeric)))
            return rc;
        return emit(p, frag);
    }
    if (p->tok.type == T_IN) {
        if ((rc = next(p)))
            return rc;
        if (p->tok.type != T_LPAREN)
            return perr(p, p->tok.pos, "expected '(' after 'in'");
        if ((rc = next(p)))
            return rc;
        if (sub && (rc = open_sub(p, &f)))
            return rc;
        /* Values of one kind: all strings, or all numbers. */
        int kind = -1;
        struct orri_sql vals = {0};
        size_t n = 0;
        for (;;) {
            int numeric = 0;
            size_t vpos = p->tok.pos;
            struct orri_sql *save = p->out;
            p->out = &vals;
            rc = bind_value(p, &f, n ? "," : "(", &numeric);
            p->out = save;
            if (!rc && kind >= 0 && kind != numeric)
                rc = perr(p, vpos, "mix of strings and numbers in 'in (...)'");
            if (rc) {
                orri_sql_free(&vals);
                return rc;
            }
            kind = numeric;
            n++;
            if (p->tok.type == T_COMMA) {
                if ((rc = next(p))) {
                    orri_sql_free(&vals);
                    return rc;
                }
                continue;
            }
            if (p->tok.type == T_RPAREN)
                break;
            orri_sql_free(&vals);
            return perr(p, p->tok.pos, "expected ',' or ')' in the list");
        }
        char frag[96];
        snprintf(frag, sizeof frag, "(%s %sIN (", operand(&f, kind == 1),
                 negate ? "NOT " : "");
        rc = emit(p, frag);
        for (size_t i = 0; !rc && i < n; i++)
            rc = emit(p, i ? ", ?" : "?");
        if (!rc)
            rc = emit(p, "))");
        if (!rc)
            rc = emit(p, tail);
        /* Move the list's binds after those already emitted. */
        for (size_t i = 0; !rc && i < vals.n; i++) {
            struct orri_bind *b = bind_new(p->out);
            if (!b) {
                rc = orr_fail(p->e, ORR_ENOMEM, "filter: out of memory");
                break;
            }
            *b = vals.binds[i];
            vals.binds[i].s = NULL;
        }
        orri_sql_free(&vals);
        return rc ? rc : next(p);
    }
    return perr(p, p->tok.pos, "expected an operator (= != < <= > >= "
                "like in) after '%.*s'", (int)(ft.len > 40 ? 40 : ft.len),
                p->src + ft.pos);
}

static int expr_or(struct parser *p);

static int primary(struct parser *p)
{
    int rc;
    if (p->tok.type == T_NOT) {
        if ((rc = next(p)) || (rc = emit(p, "(NOT ")) ||
            (rc = primary(p)))
            return rc;
        return emit(p, ")");
    }
    if (p->tok.type == T_LPAREN) {
        size_t open = p->tok.pos;
        if (++p->depth > 64)
            return perr(p, open, "parentheses nested too deeply");
        if ((rc = next(p)) || (rc = emit(p, "(")) || (rc = expr_or(p)))
            return rc;
        if (p->tok.type != T_RPAREN)
            return perr(p, p->tok.pos, "expected ')' to close the '(' at "
                        "column %zu", open + 1);
        p->depth--;
        if ((rc = next(p)))
            return rc;
        return emit(p, ")");
    }
    return comparison(p);
}

static int expr_and(struct parser *p)
{
    int rc = primary(p);
    while (!rc && p->tok.type == T_AND) {
        size_t at = p->tok.pos;
        if ((rc = next(p)) || (rc = emit(p, " AND ")))
            return rc;
        if (p->tok.type == T_END)
            return perr(p, at, "nothing after 'and'");
        rc = primary(p);
    }
    return rc;
}

static int expr_or(struct parser *p)
{
    int rc = expr_and(p);
    while (!rc && p->tok.type == T_OR) {
        size_t at = p->tok.pos;
        if ((rc = next(p)) || (rc = emit(p, " OR ")))
            return rc;
        if (p->tok.type == T_END)
            return perr(p, at, "nothing after 'or'");
        rc = expr_and(p);
    }
    return rc;
}

static int parser_init(struct parser *p, const char *src,
                       struct orri_sql *out, struct orr_error *e)
{
    memset(p, 0, sizeof *p);
    p->src = src;
    p->len = strlen(src);
    p->out = out;
    p->e = e;
    /* Decoded strings never exceed the source; keys add a NUL per part. */
    p->strcap = 2 * p->len + 64;
    p->strbuf = malloc(p->strcap);
    if (!p->strbuf)
        return orr_fail(e, ORR_ENOMEM, "filter: out of memory");
    return ORR_OK;
}

int orri_filter_compile(const char *filter, struct orri_sql *out,
                        struct orr_error *e)
{
    struct parser p;
    if (!filter)
        filter = "";
    if (strlen(filter) > 64 * 1024)
        return orr_fail(e, ORR_EINVAL, "filter: longer than 64 KiB");
    int rc = parser_init(&p, filter, out, e);
    if (rc)
        return rc;
    size_t mark = out->text.len, nb = out->n;
    rc = next(&p);
    if (!rc && p.tok.type == T_END) {
        rc = emit(&p, "1");
    } else if (!rc) {
        rc = emit(&p, "(");
        if (!rc)
            rc = expr_or(&p);
        if (!rc && p.tok.type != T_END)
            rc = perr(&p, p.tok.pos, p.tok.type == T_RPAREN
                          ? "')' without a matching '('"
                          : "expected 'and', 'or' or the end");
        if (!rc)
            rc = emit(&p, ")");
    }
    if (rc) {
        /* Leave `out` as it was. */
        for (size_t i = nb; i < out->n; i++)
            free(out->binds[i].s);
        out->n = nb;
        if (out->text.data) {
            out->text.len = mark;
            out->text.data[mark] = '\0';
        }
    }
    free(p.strbuf);
    return rc;
}

int orri_sort_compile(const char *key, struct orri_sql *out,
                      struct orr_error *e)
{
    if (!key || !*key)
        key = "start";
    struct parser p;
    int rc = parser_init(&p, key, out, e);
    if (rc)
        return rc;
    rc = next(&p);
    struct token t = p.tok;
    if (!rc && t.type != T_FIELD)
        rc = perr(&p, t.pos, "expected a name to order by (%s)",
                  known_names);
    if (!rc && (rc = next(&p)) == ORR_OK && p.tok.type != T_END)
        rc = perr(&p, p.tok.pos, "unexpected text after the name");
    struct field f;
    if (!rc)
        rc = field_from(&p, &t, &f, 1);
    if (!rc) {
        if (f.kind == F_ATTR) {
            rc = emit(&p, f.col);
        } else {
            char frag[200];
            if (f.kind == F_METRIC)
                snprintf(frag, sizeof frag, "(SELECT %s FROM metric_series"
                         " WHERE run_id = r.id AND key_id = (SELECT id FROM"
                         " metric_keys WHERE name = ?))", f.col);
            else
                snprintf(frag, sizeof frag, "(SELECT coalesce(orr_num(value),"
                         " value) FROM %s WHERE run_id = r.id AND key = ?)",
                         f.kind == F_PARAM ? "run_params" : "run_tags");
            rc = emit(&p, frag);
            if (!rc && orri_sql_bind_text(out, f.key, f.key_len))
                rc = orr_fail(e, ORR_ENOMEM, "order by: out of memory");
        }
    }
    if (rc && rc != ORR_ENOMEM && e && !strncmp(e->msg, "filter:", 7)) {
        /* Same message, named for what it is. */
        char copy[ORR_ERROR_MSG_SIZE];
        snprintf(copy, sizeof copy, "%s", e->msg + 7);
        orr_fail(e, rc, "order by:%s", copy);
    }
    free(p.strbuf);
    return rc;
}
