/*
 * parse.c - V2 and /invocations request bodies to an input matrix.
 *
 * Bodies are parsed with jansson (numbers through strtod, so values are
 * exactly what a client wrote); the matrix is filled in one pass.  A V2
 * body of the common shape is read from its text alone
 * (srv_parse_v2_fast: jansson's allocations were the largest cost of a
 * small request); for any other, jansson reads the envelope and the data
 * array, nearly all of a request, is read in place (v2_fast: jansson
 * would allocate a json_t per number).  Both answer only when they agree
 * with the all-jansson reference; every error comes from it.
 */
#include "parse.h"

#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int bad(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return 400;
}

void srv_batch_clear(struct srv_batch *b)
{
    if (!b)
        return;
    free(b->x);
    free(b->id);
    memset(b, 0, sizeof *b);
}

static int alloc_matrix(struct srv_batch *out, size_t rows, size_t cols,
                        char *err, size_t cap)
{
    if (rows == 0)
        return bad(err, cap, "no rows");
    if (cols == 0 || rows > SRV_MAX_VALUES / cols)
        return bad(err, cap, "too many values (%zu rows x %zu columns)",
                   rows, cols);
    out->x = malloc(rows * cols * sizeof *out->x);
    if (!out->x)
        return bad(err, cap, "out of memory");
    out->rows = rows;
    out->cols = cols;
    return 0;
}

/* ------------------------------------------------------------------ */
/* KServe V2                                                            */

enum dtype { DT_FP32, DT_FP64, DT_INT32, DT_INT64, DT_BOOL };

static int dtype_of(const char *s, enum dtype *out)
{
    static const struct { const char *name; enum dtype t; } tab[] = {
        {"FP32", DT_FP32}, {"FP64", DT_FP64}, {"INT32", DT_INT32},
        {"INT64", DT_INT64}, {"BOOL", DT_BOOL},
    };
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++)
        if (!strcmp(s, tab[i].name)) {
            *out = tab[i].t;
            return 0;
        }
    return -1;
}

static int v2_value(const json_t *v, enum dtype t, double *dst,
                    size_t k, char *err, size_t cap)
{
    switch (t) {
    case DT_BOOL:
        if (!json_is_boolean(v))
            return bad(err, cap, "data[%zu]: BOOL tensor needs true/false", k);
        *dst = json_is_true(v) ? 1.0 : 0.0;
        return 0;
    case DT_INT32:
    case DT_INT64:
        if (!json_is_integer(v))
            return bad(err, cap, "data[%zu]: %s tensor needs an integer", k,
                       t == DT_INT32 ? "INT32" : "INT64");
        if (t == DT_INT32 && (json_integer_value(v) < INT32_MIN ||
                              json_integer_value(v) > INT32_MAX))
            return bad(err, cap, "data[%zu]: out of INT32 range", k);
        *dst = (double)json_integer_value(v);
        return 0;
    case DT_FP32:
    case DT_FP64:
        if (!json_is_number(v))
            return bad(err, cap, "data[%zu]: expected a number", k);
        *dst = json_number_value(v);
        if (t == DT_FP32)
            *dst = (double)(float)*dst;
        return 0;
    }
    return bad(err, cap, "unsupported datatype");
}

/* Nested arrays flatten in row-major order; depth is bounded by the
 * shape's rank so a deeply nested body is refused, not recursed into. */
static int v2_flatten(const json_t *a, int depth, enum dtype t, double *dst,
                      size_t *k, size_t max, char *err, size_t cap)
{
    size_t i;
    const json_t *v;
    json_array_foreach(a, i, v) {
        if (json_is_array(v)) {
            if (depth <= 0)
                return bad(err, cap, "data nested deeper than the shape");
            int rc = v2_flatten(v, depth - 1, t, dst, k, max, err, cap);
            if (rc)
                return rc;
            continue;
        }
        if (*k >= max)
            return bad(err, cap, "data has more values than the shape "
                       "(%zu)", max);
        int rc = v2_value(v, t, dst + *k, *k, err, cap);
        if (rc)
            return rc;
        (*k)++;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* V2 fast path: the data array is read from the body's text.          */

/* The fast path's answer "let the jansson path decide": it is taken on
 * anything the fast path does not handle exactly as that path would,
 * errors included, so messages and statuses stay that path's. */
#define V2_SLOW (-1)
#define V2_MAX_DEPTH 64         /* nesting the locator walks through     */
#define V2_MAX_NUM 64           /* longer number tokens go to jansson    */

/* The text of the data array, from '[' to just past its ']'. */
struct v2_raw {
    const char *p, *end;
};

struct v2_cur {
    const char *p, *end;
};

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void v2_ws(struct v2_cur *c)
{
    while (c->p < c->end && is_ws(*c->p))
        c->p++;
}

/* At '"': skip the string; *esc says whether it holds an escape. */
static int v2_skip_str(struct v2_cur *c, int *esc)
{
    c->p++;
    while (c->p < c->end) {
        char ch = *c->p++;
        if (ch == '"')
            return 0;
        if (ch == '\\') {
            if (c->p >= c->end)
                return -1;
            c->p++;
            *esc = 1;
        }
    }
    return -1;
}

/* Skip one value by its structure only: jansson validates the text
 * later (everything but the data array, which scan_data validates). */
static int v2_skip(struct v2_cur *c, int depth)
{
    int esc = 0;
    v2_ws(c);
    if (c->p >= c->end)
        return -1;
    char open = *c->p;
    if (open == '"')
        return v2_skip_str(c, &esc);
    if (open != '[' && open != '{') {
        while (c->p < c->end && !is_ws(*c->p) && *c->p != ',' &&
               *c->p != ']' && *c->p != '}')
            c->p++;
        return 0;
    }
    char close = open == '[' ? ']' : '}';
    if (depth >= V2_MAX_DEPTH)
        return -1;
    c->p++;
    v2_ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 0;
    }
    for (;;) {
        if (open == '{') {
            v2_ws(c);
            if (c->p >= c->end || *c->p != '"' || v2_skip_str(c, &esc))
                return -1;
            v2_ws(c);
            if (c->p >= c->end || *c->p != ':')
                return -1;
            c->p++;
        }
        if (v2_skip(c, depth + 1))
            return -1;
        v2_ws(c);
        if (c->p >= c->end)
            return -1;
        if (*c->p++ == close)
            return 0;
        if (c->p[-1] != ',')
            return -1;
    }
}

/* At '{': read a key and its ':'; `k`, `n` = the raw key. */
static int v2_key(struct v2_cur *c, const char **k, size_t *n)
{
    int esc = 0;
    v2_ws(c);
    if (c->p >= c->end || *c->p != '"')
        return -1;
    *k = c->p + 1;
    if (v2_skip_str(c, &esc) || esc)    /* an escape may spell a key */
        return -1;
    *n = (size_t)(c->p - 1 - *k);
    v2_ws(c);
    if (c->p >= c->end || *c->p != ':')
        return -1;
    c->p++;
    return 0;
}

/* After a member: ',' (more, 1) or the close (0); -1 otherwise. */
static int v2_next(struct v2_cur *c, char close)
{
    v2_ws(c);
    if (c->p >= c->end)
        return -1;
    char ch = *c->p++;
    return ch == ',' ? 1 : ch == close ? 0 : -1;
}

static int key_is(const char *k, size_t n, const char *want)
{
    return n == strlen(want) && !memcmp(k, want, n);
}

/* Find the text of root."inputs"[0]."data" when it is an array.  A key
 * given twice (jansson keeps the last) is left to the slow path. */
static int find_data(const char *body, size_t len, size_t *ds, size_t *de)
{
    struct v2_cur c = {body, body + len};
    const char *k;
    size_t n;
    int inputs = 0, data = 0, more;
    v2_ws(&c);
    if (c.p >= c.end || *c.p++ != '{')
        return -1;
    do {
        if (v2_key(&c, &k, &n))
            return -1;
        if (!key_is(k, n, "inputs")) {
            if (v2_skip(&c, 1))
                return -1;
            continue;
        }
        if (inputs++)
            return -1;
        v2_ws(&c);
        if (c.p >= c.end || *c.p++ != '[')
            return -1;
        v2_ws(&c);
        if (c.p >= c.end || *c.p++ != '{')
            return -1;
        do {                    /* the members of inputs[0] */
            if (v2_key(&c, &k, &n))
                return -1;
            int is_data = key_is(k, n, "data");
            v2_ws(&c);
            if (is_data) {
                if (data++ || c.p >= c.end || *c.p != '[')
                    return -1;
                *ds = (size_t)(c.p - body);
            }
            if (v2_skip(&c, 3))
                return -1;
            if (is_data)
                *de = (size_t)(c.p - body);
        } while ((more = v2_next(&c, '}')) == 1);
        if (more < 0)
            return -1;
        while ((more = v2_next(&c, ']')) == 1)     /* inputs[1..] */
            if (v2_skip(&c, 2))
                return -1;
        if (more < 0)
            return -1;
    } while ((more = v2_next(&c, '}')) == 1);
    return more == 0 && data ? 0 : -1;
}

/* 10^0..10^22: exact in a double, so m * 10^e (m <= 2^53) rounds once,
 * to the value strtod returns (Clinger's fast path). */
static const double pow10_tab[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* One JSON number token, converted as jansson does: an integer token
 * through strtoll (out of range: jansson's error, so -1), a real one
 * through strtod (overflow: likewise). */
static int scan_number(const char **pp, const char *end, enum dtype t,
                       double *out)
{
    const char *s = *pp, *p = s;
    uint64_t m = 0;
    int nd = 0, many = 0, real = 0, neg = 0;
    long e10 = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || !is_digit(*p))
        return -1;
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p))
            return -1;
    }
    for (; p < end && is_digit(*p); p++) {
        if (nd < 19) {
            m = m * 10 + (uint64_t)(*p - '0');
            nd += m != 0;
        } else {
            many = 1;
        }
    }
    if (p < end && *p == '.') {
        real = 1;
        if (++p >= end || !is_digit(*p))
            return -1;
        for (; p < end && is_digit(*p); p++) {
            if (nd < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                nd += m != 0;
                e10--;
            } else {
                many = 1;
            }
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        long x = 0, sign = 1;
        real = 1;
        if (++p < end && (*p == '+' || *p == '-'))
            sign = *p++ == '-' ? -1 : 1;
        if (p >= end || !is_digit(*p))
            return -1;
        for (; p < end && is_digit(*p); p++)
            if (x < 100000)
                x = x * 10 + (*p - '0');
        e10 += sign * x;
    }
    size_t n = (size_t)(p - s);
    if (n > V2_MAX_NUM)
        return -1;
    char buf[V2_MAX_NUM + 1];
    char *e;
    *pp = p;
    if (!real) {
        memcpy(buf, s, n);
        buf[n] = '\0';
        errno = 0;
        long long v = strtoll(buf, &e, 10);
        if (errno == ERANGE || e != buf + n)
            return -1;
        if (t == DT_INT32 && (v < INT32_MIN || v > INT32_MAX))
            return -1;
        *out = (double)v;
    } else if (t == DT_INT32 || t == DT_INT64) {
        return -1;
    } else if (FLT_EVAL_METHOD == 0 && !many && m <= (1ULL << 53) &&
               e10 >= -22 && e10 <= 22) {
        double d = (double)m;
        d = e10 < 0 ? d / pow10_tab[-e10] : d * pow10_tab[e10];
        *out = neg ? -d : d;
    } else {
        memcpy(buf, s, n);
        buf[n] = '\0';
        errno = 0;
        double d = strtod(buf, &e);
        if (e != buf + n ||
            ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE))
            return -1;
        *out = d;
    }
    if (t == DT_FP32)
        *out = (double)(float)*out;
    return 0;
}

/* Read the data array [v, [v, v], ...] (one level of rows, as
 * v2_flatten allows) at *pp into dst, leaving *pp just past its ']':
 * 0 when exactly `want` values of type t were read, -1 for everything
 * else. */
static int scan_data_at(const char **pp, const char *end, enum dtype t,
                        double *dst, size_t want)
{
    const char *p = *pp;
    size_t k = 0;
    int depth = 0, expect = 1, open = 0;
    for (;;) {
        while (p < end && is_ws(*p))
            p++;
        if (p >= end)
            return -1;
        char ch = *p;
        if (ch == ']' && (open || !expect)) {
            p++;
            expect = open = 0;
            if (--depth == 0) {
                *pp = p;
                return k == want ? 0 : -1;
            }
            continue;
        }
        if (!expect) {
            if (ch != ',')
                return -1;
            p++;
            expect = 1;
            continue;
        }
        open = 0;
        if (ch == '[') {
            if (depth >= 2)
                return -1;
            depth++;
            p++;
            open = 1;
            continue;
        }
        if (depth == 0)
            return -1;          /* not an array */
        double v;
        if (ch == 't' || ch == 'f') {
            int tr = ch == 't';
            size_t n = tr ? 4 : 5;
            if (t != DT_BOOL || (size_t)(end - p) < n ||
                memcmp(p, tr ? "true" : "false", n))
                return -1;
            p += n;
            v = tr;
        } else if (t == DT_BOOL || scan_number(&p, end, t, &v)) {
            return -1;
        }
        if (k >= want)
            return -1;
        dst[k++] = v;
        expect = 0;
    }
}

/* The same over exactly [p, end). */
static int scan_data(const char *p, const char *end, enum dtype t,
                     double *dst, size_t want)
{
    return scan_data_at(&p, end, t, dst, want) || p != end ? -1 : 0;
}

/* The binary part of a request (binary tensor data extension). */
struct v2_bin {
    const unsigned char *p;
    size_t               n;
};

static size_t dtype_size(enum dtype t)
{
    return t == DT_BOOL ? 1 : t == DT_FP32 || t == DT_INT32 ? 4 : 8;
}

/* Little-endian bytes to doubles, whatever the host's byte order. */
/* The little-endian unsigned value of the w bytes at p. */
static uint64_t bin_le(const unsigned char *p, size_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t u = 0;
    memcpy(&u, p, w);           /* one load: the byte loop was most of a
                                 * 64-row binary request's parse (perf) */
    return u;
#else
    uint64_t u = 0;
    for (size_t b = 0; b < w; b++)
        u |= (uint64_t)p[b] << (8 * b);
    return u;
#endif
}

/* The binary tensor's n values of type t into dst.  Each type has a loop
 * of its own that the compiler can vectorise; the checks (BOOL bytes,
 * infinities) are gathered and the offending index looked up after. */
static int bin_values(const unsigned char *p, enum dtype t, double *dst,
                      size_t n, char *err, size_t cap)
{
    size_t w = dtype_size(t);
    int odd = 0;
    switch (t) {
    case DT_BOOL:
        for (size_t k = 0; k < n; k++) {
            odd |= p[k] > 1;
            dst[k] = (double)p[k];
        }
        break;
    case DT_INT32:
        for (size_t k = 0; k < n; k++) {
            uint32_t v32 = (uint32_t)bin_le(p + 4 * k, 4);
            int32_t i32;
            memcpy(&i32, &v32, sizeof i32);
            dst[k] = (double)i32;
        }
        break;
    case DT_INT64:
        for (size_t k = 0; k < n; k++) {
            uint64_t u = bin_le(p + 8 * k, 8);
            int64_t i64;
            memcpy(&i64, &u, sizeof i64);
            dst[k] = (double)i64;
        }
        break;
    case DT_FP32:
        for (size_t k = 0; k < n; k++) {
            uint32_t v32 = (uint32_t)bin_le(p + 4 * k, 4);
            float f;
            memcpy(&f, &v32, sizeof f);
            dst[k] = (double)f;
            odd |= isinf(f) != 0;
        }
        break;
    case DT_FP64:
        for (size_t k = 0; k < n; k++) {
            uint64_t u = bin_le(p + 8 * k, 8);
            memcpy(&dst[k], &u, sizeof dst[k]);
            odd |= isinf(dst[k]) != 0;
        }
        break;
    }
    if (!odd)
        return 0;
    for (size_t k = 0; k < n; k++) {
        if (t == DT_BOOL && p[k * w] > 1)
            return bad(err, cap, "binary data[%zu]: BOOL byte must be "
                       "0 or 1", k);
        /* NaN is a missing value (null in JSON); JSON has no infinity,
         * so neither has the binary form. */
        if (isinf(dst[k]))
            return bad(err, cap, "binary data[%zu]: infinite value", k);
    }
    return 0;
}

static int v2_input(const json_t *in, const struct srv_schema *s,
                    const struct v2_raw *raw, struct v2_bin *bin,
                    struct srv_batch *out, char *err, size_t cap)
{
    const char *name = json_string_value(json_object_get(in, "name"));
    const char *dt = json_string_value(json_object_get(in, "datatype"));
    const json_t *shape = json_object_get(in, "shape");
    const json_t *data = json_object_get(in, "data");
    enum dtype t;
    if (!json_is_object(in))
        return bad(err, cap, "inputs[0] must be an object");
    if (!name)
        return bad(err, cap, "inputs[0]: missing \"name\"");
    if (!dt)
        return bad(err, cap, "input '%.64s': missing \"datatype\"", name);
    if (dtype_of(dt, &t))
        return bad(err, cap, "input '%.64s': unsupported datatype '%.32s' "
                   "(FP32, FP64, INT32, INT64, BOOL)", name, dt);
    if (!json_is_array(shape) || json_array_size(shape) != 2)
        return bad(err, cap, "input '%.64s': shape must be [rows, %zu]",
                   name, s->n_features);
    json_int_t dims[2];
    for (size_t i = 0; i < 2; i++) {
        const json_t *d = json_array_get(shape, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return bad(err, cap, "input '%.64s': shape must hold "
                       "non-negative integers", name);
        dims[i] = json_integer_value(d);
    }
    if ((uint64_t)dims[1] != s->n_features)
        return bad(err, cap, "input '%.64s': shape [%lld, %lld] does not "
                   "match the model's [-1, %zu]", name, (long long)dims[0],
                   (long long)dims[1], s->n_features);
    const json_t *bsz = json_object_get(json_object_get(in, "parameters"),
                                        "binary_data_size");
    if (bsz) {
        if (!json_is_integer(bsz) || json_integer_value(bsz) < 0)
            return bad(err, cap, "input '%.64s': binary_data_size must be a "
                       "non-negative integer", name);
        if (!bin)
            return bad(err, cap, "input '%.64s': binary_data_size given but "
                       "the request has no binary part (send the "
                       "Inference-Header-Content-Length header)", name);
        if (data)
            return bad(err, cap, "input '%.64s': both \"data\" and "
                       "binary_data_size", name);
        if ((uint64_t)dims[0] > SRV_MAX_VALUES)
            return bad(err, cap, "input '%.64s': too many rows", name);
        int rc = alloc_matrix(out, (size_t)dims[0], s->n_features, err, cap);
        if (rc)
            return rc;
        size_t want = out->rows * out->cols;
        uint64_t size = (uint64_t)json_integer_value(bsz);
        if (size != (uint64_t)want * dtype_size(t))
            return bad(err, cap, "input '%.64s': binary_data_size %llu, "
                       "shape [%zu, %zu] of %s needs %zu", name,
                       (unsigned long long)size, out->rows, out->cols, dt,
                       want * dtype_size(t));
        if (size > bin->n)
            return bad(err, cap, "input '%.64s': binary_data_size %llu, "
                       "but the binary part has %zu bytes", name,
                       (unsigned long long)size, bin->n);
        rc = bin_values(bin->p, t, out->x, want, err, cap);
        bin->p += size;
        bin->n -= (size_t)size;
        return rc;
    }
    if (!json_is_array(data))
        return bad(err, cap, "input '%.64s': \"data\" must be an array",
                   name);
    if (raw && json_array_size(data) != 0)
        return V2_SLOW;
    if ((uint64_t)dims[0] > SRV_MAX_VALUES)
        return bad(err, cap, "input '%.64s': too many rows", name);
    int rc = alloc_matrix(out, (size_t)dims[0], s->n_features, err, cap);
    if (rc)
        return rc;
    size_t k = 0, want = out->rows * out->cols;
    if (raw)
        return scan_data(raw->p, raw->end, t, out->x, want) ? V2_SLOW : 0;
    rc = v2_flatten(data, 1, t, out->x, &k, want, err, cap);
    if (!rc && k != want)
        rc = bad(err, cap, "input '%.64s': data has %zu values, shape "
                 "[%zu, %zu] needs %zu", name, k, out->rows, out->cols, want);
    return rc;
}

/* The envelope checks of a parsed root; with `raw`, the root's data
 * array is an empty placeholder and the values come from raw's text. */
/* Whether the client asked for binary outputs: "binary_data_output"
 * among the request's parameters, or "binary_data" on the requested
 * output.  0 no, 1 yes, 400 a bad list of outputs. */
static int v2_binary_out(const json_t *root, struct srv_batch *out,
                         char *err, size_t cap)
{
    const json_t *all = json_object_get(json_object_get(root, "parameters"),
                                        "binary_data_output");
    const json_t *outs = json_object_get(root, "outputs");
    if (all && !json_is_boolean(all))
        return bad(err, cap, "binary_data_output must be true or false");
    out->binary_out = json_is_true(all);
    if (!outs)
        return 0;
    if (!json_is_array(outs))
        return bad(err, cap, "\"outputs\" must be an array");
    size_t i;
    const json_t *o;
    json_array_foreach(outs, i, o) {
        const char *name = json_string_value(json_object_get(o, "name"));
        const json_t *b = json_object_get(json_object_get(o, "parameters"),
                                          "binary_data");
        if (!json_is_object(o) || !name)
            return bad(err, cap, "outputs[%zu] needs a \"name\"", i);
        if (strcmp(name, "output"))
            return bad(err, cap, "no output '%.64s' (the model has "
                       "'output')", name);
        if (b && !json_is_boolean(b))
            return bad(err, cap, "outputs[%zu]: binary_data must be true or "
                       "false", i);
        if (b)
            out->binary_out = json_is_true(b);
    }
    return 0;
}

static int v2_root(const json_t *root, const struct srv_schema *s,
                   const struct v2_raw *raw, struct v2_bin *bin,
                   struct srv_batch *out, char *err, size_t cap)
{
    const json_t *inputs = json_object_get(root, "inputs");
    const json_t *id = json_object_get(root, "id");
    int rc = 0;
    if (!json_is_object(root))
        rc = bad(err, cap, "the body must be a JSON object");
    else if (!json_is_array(inputs) || json_array_size(inputs) == 0)
        rc = bad(err, cap, "\"inputs\" must be a non-empty array");
    else if (json_array_size(inputs) != 1)
        rc = bad(err, cap, "expected one input tensor of shape [rows, %zu], "
                 "got %zu", s->n_features, json_array_size(inputs));
    else if (id && !json_is_string(id))
        rc = bad(err, cap, "\"id\" must be a string");
    if (!rc)
        rc = v2_binary_out(root, out, err, cap);
    if (!rc)
        rc = v2_input(json_array_get(inputs, 0), s, raw, bin, out, err, cap);
    if (!rc && bin && bin->n)
        rc = bad(err, cap, "%zu bytes of binary data no input claims "
                 "(binary_data_size)", bin->n);
    if (!rc && id && !(out->id = strdup(json_string_value(id))))
        rc = bad(err, cap, "out of memory");
    return rc;
}

int srv_parse_v2_ref(const char *body, size_t len, const struct srv_schema *s,
                     struct srv_batch *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    if (!root)
        return bad(err, cap, "malformed JSON: %s (line %d, column %d)",
                   je.text, je.line, je.column);
    int rc = v2_root(root, s, NULL, NULL, out, err, cap);
    json_decref(root);
    if (rc)
        srv_batch_clear(out);
    return rc;
}

/* jansson parses the body with its data array cut out (a few dozen
 * values instead of thousands); anything unusual goes the slow way. */
static int v2_fast(const char *body, size_t len, const struct srv_schema *s,
                   struct srv_batch *out, char *err, size_t cap)
{
    size_t ds = 0, de = 0;
    if (find_data(body, len, &ds, &de))
        return V2_SLOW;
    size_t n = len - (de - ds) + 2;
    char *env = malloc(n);
    if (!env)
        return V2_SLOW;
    memcpy(env, body, ds);
    memcpy(env + ds, "[]", 2);
    memcpy(env + ds + 2, body + de, len - de);
    json_t *root = json_loadb(env, n, 0, NULL);
    free(env);
    if (!root)
        return V2_SLOW;
    struct v2_raw raw = {body + ds, body + de};
    int rc = v2_root(root, s, &raw, NULL, out, err, cap);
    json_decref(root);
    return rc ? V2_SLOW : 0;
}

/* ------------------------------------------------------------------ */
/* V2 envelope reader: the common request shape without jansson.       */

/* One hot shape read from the text, allocating nothing but the result:
 *   {"id"?, "parameters"?, "inputs": [{"name", "shape", "datatype",
 *    "data", "parameters"?}], "outputs"?, ...}
 * in any key order.  It answers only when the request is well formed
 * and valid (what jansson and v2_root would accept), with the values
 * they would produce; everything else - escapes or non-ASCII bytes in
 * strings, a key given twice, nesting past E_MAX_DEPTH, any error -
 * is V2_SLOW, so the jansson paths keep every message and edge case. */
#define E_MAX_DEPTH 16

struct v2_env {
    const char *id;             /* the "id" string's bytes, or NULL       */
    size_t      id_n;
    int         bdo;            /* parameters.binary_data_output          */
    int         out_bin;        /* the last output's binary_data, or -1   */
    int         seen;           /* E_* bits of the members met            */
    enum dtype  t;
    long long   dims[2];
    const char *data, *data_end;    /* the data array's text, unread      */
};

enum {
    E_ID = 1, E_INPUTS = 2, E_PARAMS = 4, E_OUTPUTS = 8,
    E_NAME = 16, E_DTYPE = 32, E_SHAPE = 64, E_DATA = 128, E_IPARAMS = 256
};

/* At '"': a string of printable ASCII only (what it spells is then its
 * bytes, and valid UTF-8 without NUL, as jansson requires). */
static int e_str(struct v2_cur *c, const char **s, size_t *n)
{
    const char *p = c->p + 1;
    for (const char *q = p; q < c->end; q++) {
        unsigned char ch = (unsigned char)*q;
        if (ch == '"') {
            *s = p;
            *n = (size_t)(q - p);
            c->p = q + 1;
            return 0;
        }
        if (ch < 0x20 || ch >= 0x80 || ch == '\\')
            return -1;
    }
    return -1;
}

/* A number token as jansson reads it; an integer's value in *iv (*is_int
 * set).  Integers past 18 digits and reals strtod overflows are left to
 * jansson (which refuses some of them). */
static int e_num(struct v2_cur *c, int *is_int, long long *iv)
{
    const char *s = c->p, *p = s, *end = c->end;
    long long v = 0;
    int neg = 0, nd = 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || !is_digit(*p))
        return -1;
    if (*p == '0' && p + 1 < end && is_digit(p[1]))
        return -1;
    for (; p < end && is_digit(*p); p++, nd++)
        if (nd < 18)
            v = v * 10 + (*p - '0');
    *is_int = 1;
    if (p < end && *p == '.') {
        *is_int = 0;
        if (++p >= end || !is_digit(*p))
            return -1;
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        *is_int = 0;
        if (++p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return -1;
        while (p < end && is_digit(*p))
            p++;
    }
    c->p = p;
    if (*is_int) {
        if (nd > 18)
            return -1;
        *iv = neg ? -v : v;
        return 0;
    }
    size_t n = (size_t)(p - s);
    char buf[V2_MAX_NUM + 1], *e;
    if (n > V2_MAX_NUM)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    double d = strtod(buf, &e);
    return e != buf + n ||
           ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE) ? -1 : 0;
}

/* true / false / null: 1, 0, 2. */
static int e_lit(struct v2_cur *c)
{
    static const char *const lit[3] = {"false", "true", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(lit[i]);
        if ((size_t)(c->end - c->p) >= n && !memcmp(c->p, lit[i], n)) {
            c->p += n;
            return i;
        }
    }
    return -1;
}

/* Past ',' (1) or `close` (0), whitespace around; -1 otherwise. */
static int e_next(struct v2_cur *c, char close)
{
    v2_ws(c);
    if (c->p >= c->end)
        return -1;
    char ch = *c->p++;
    v2_ws(c);
    return ch == ',' ? 1 : ch == close ? 0 : -1;
}

/* Past '{' or '[' and whitespace: 1 when the container is empty (its
 * close read too), 0 when a member follows, -1 when it is not `open`. */
static int e_open(struct v2_cur *c, char open)
{
    if (c->p >= c->end || *c->p != open)
        return -1;
    c->p++;
    v2_ws(c);
    if (c->p < c->end && *c->p == (open == '{' ? '}' : ']')) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A key and its ':', whitespace after. */
static int e_key(struct v2_cur *c, const char **k, size_t *n)
{
    if (c->p >= c->end || *c->p != '"' || e_str(c, k, n))
        return -1;
    v2_ws(c);
    if (c->p >= c->end || *c->p != ':')
        return -1;
    c->p++;
    v2_ws(c);
    return 0;
}

/* Any value, validated as jansson would (it is ignored, so only whether
 * jansson accepts it matters). */
static int e_skip(struct v2_cur *c, int depth)
{
    const char *k;
    size_t n;
    int is_int, more;
    long long iv;
    if (c->p >= c->end)
        return -1;
    char ch = *c->p;
    if (ch == '"')
        return e_str(c, &k, &n);
    if (ch == 't' || ch == 'f' || ch == 'n')
        return e_lit(c) < 0 ? -1 : 0;
    if (ch != '[' && ch != '{')
        return e_num(c, &is_int, &iv);
    if (depth >= E_MAX_DEPTH)
        return -1;
    if ((more = e_open(c, ch)) != 0)
        return more < 0 ? -1 : 0;
    do {
        if ((ch == '{' && e_key(c, &k, &n)) || e_skip(c, depth + 1))
            return -1;
    } while ((more = e_next(c, ch == '{' ? '}' : ']')) == 1);
    return more;
}

/* A boolean into *b. */
static int e_bool(struct v2_cur *c, int *b)
{
    if (c->p >= c->end || (*c->p != 't' && *c->p != 'f'))
        return -1;
    *b = e_lit(c);
    return *b < 0 ? -1 : 0;
}

/* A "parameters" value: when an object, its member `want` must be a
 * boolean (into *b, *b untouched without it) or, with b NULL, absent;
 * any other value is ignored, as json_object_get ignores it. */
static int e_params(struct v2_cur *c, const char *want, int *b, int depth)
{
    const char *k;
    size_t n;
    int more, seen = 0;
    if (c->p >= c->end || *c->p != '{')
        return e_skip(c, depth);
    if ((more = e_open(c, '{')) != 0)
        return more < 0 ? -1 : 0;
    do {
        if (e_key(c, &k, &n))
            return -1;
        if (key_is(k, n, want)) {
            if (!b || seen++ || e_bool(c, b))
                return -1;
        } else if (e_skip(c, depth + 1)) {
            return -1;
        }
    } while ((more = e_next(c, '}')) == 1);
    return more;
}

/* "outputs": [{"name": "output", "parameters"?: {...}}, ...]. */
static int e_outputs(struct v2_cur *c, struct v2_env *v)
{
    const char *k, *name;
    size_t n, name_n;
    int more, in;
    if ((more = e_open(c, '[')) != 0)
        return more < 0 ? -1 : 0;
    do {
        int seen = 0, b = -1;
        if ((in = e_open(c, '{')) != 0)
            return -1;          /* not an object, or one without a name */
        do {
            if (e_key(c, &k, &n))
                return -1;
            if (key_is(k, n, "name")) {
                if (seen & 1 || c->p >= c->end || *c->p != '"' ||
                    e_str(c, &name, &name_n) ||
                    !key_is(name, name_n, "output"))
                    return -1;
                seen |= 1;
            } else if (key_is(k, n, "parameters")) {
                if (seen & 2 || e_params(c, "binary_data", &b, 3))
                    return -1;
                seen |= 2;
            } else if (e_skip(c, 3)) {
                return -1;
            }
        } while ((in = e_next(c, '}')) == 1);
        if (in < 0 || !(seen & 1))
            return -1;
        if (b >= 0)
            v->out_bin = b;
    } while ((more = e_next(c, ']')) == 1);
    return more;
}

/* The shape: [rows, cols] of non-negative integers. */
static int e_shape(struct v2_cur *c, long long dims[2])
{
    int is_int;
    if (e_open(c, '[') != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        if (e_num(c, &is_int, &dims[i]) || !is_int || dims[i] < 0 ||
            e_next(c, ']') != (i == 0))
            return -1;
    }
    return 0;
}

/* Room for the values once shape is known: v2_input's checks. */
static int e_matrix(const struct v2_env *v, const struct srv_schema *s,
                    struct srv_batch *out)
{
    size_t rows = (size_t)v->dims[0], cols = s->n_features;
    if ((uint64_t)v->dims[1] != cols || (uint64_t)v->dims[0] >
        SRV_MAX_VALUES || rows == 0 || cols == 0 ||
        rows > SRV_MAX_VALUES / cols)
        return -1;
    if (!(out->x = malloc(rows * cols * sizeof *out->x)))
        return -1;
    out->rows = rows;
    out->cols = cols;
    return 0;
}

/* The one member of "inputs". */
static int e_input(struct v2_cur *c, const struct srv_schema *s,
                   struct v2_env *v, struct srv_batch *out)
{
    static const char *const keys[] = {"name", "datatype", "shape", "data",
                                       "parameters"};
    const char *k, *str;
    size_t n, str_n;
    int more;
    if (e_open(c, '{') != 0)
        return -1;
    do {
        if (e_key(c, &k, &n))
            return -1;
        size_t i = 0;
        while (i < 5 && !key_is(k, n, keys[i]))
            i++;
        int bit = i < 5 ? E_NAME << i : 0;
        if (v->seen & bit)
            return -1;
        v->seen |= bit;
        switch (bit) {
        case E_NAME:
        case E_DTYPE:
            if (c->p >= c->end || *c->p != '"' || e_str(c, &str, &str_n))
                return -1;
            if (bit == E_DTYPE) {
                char dt[8];
                if (str_n >= sizeof dt)
                    return -1;
                memcpy(dt, str, str_n);
                dt[str_n] = '\0';
                if (dtype_of(dt, &v->t))
                    return -1;
            }
            break;
        case E_SHAPE:
            if (e_shape(c, v->dims))
                return -1;
            break;
        case E_DATA:
            if (c->p >= c->end || *c->p != '[')
                return -1;
            v->data = c->p;
            if ((v->seen & (E_DTYPE | E_SHAPE)) == (E_DTYPE | E_SHAPE)) {
                /* The usual order: read the values now, in one pass. */
                if (e_matrix(v, s, out) ||
                    scan_data_at(&c->p, c->end, v->t, out->x,
                                 out->rows * out->cols))
                    return -1;
                v->data = NULL;
            } else if (v2_skip(c, 3)) {
                return -1;
            }
            v->data_end = c->p;
            break;
        case E_IPARAMS:
            if (e_params(c, "binary_data_size", NULL, 3))
                return -1;
            break;
        default:
            if (e_skip(c, 3))
                return -1;
        }
    } while ((more = e_next(c, '}')) == 1);
    return more;
}

int srv_parse_v2_fast(const char *body, size_t len,
                      const struct srv_schema *s, struct srv_batch *out)
{
    static const char *const keys[] = {"id", "inputs", "parameters",
                                       "outputs"};
    struct v2_cur c = {body, body + len};
    struct v2_env v = {.out_bin = -1};
    const char *k;
    size_t n;
    int more;
    memset(out, 0, sizeof *out);
    v2_ws(&c);
    if (e_open(&c, '{') != 0)
        goto slow;
    do {
        if (e_key(&c, &k, &n))
            goto slow;
        size_t i = 0;
        while (i < 4 && !key_is(k, n, keys[i]))
            i++;
        int bit = i < 4 ? 1 << i : 0;
        if (v.seen & bit)
            goto slow;
        v.seen |= bit;
        switch (bit) {
        case E_ID:
            if (c.p >= c.end || *c.p != '"' || e_str(&c, &v.id, &v.id_n))
                goto slow;
            break;
        case E_INPUTS:
            if (e_open(&c, '[') != 0 || e_input(&c, s, &v, out) ||
                e_next(&c, ']') != 0)
                goto slow;
            break;
        case E_PARAMS:
            if (e_params(&c, "binary_data_output", &v.bdo, 1))
                goto slow;
            break;
        case E_OUTPUTS:
            if (e_outputs(&c, &v))
                goto slow;
            break;
        default:
            if (e_skip(&c, 1))
                goto slow;
        }
    } while ((more = e_next(&c, '}')) == 1);
    if (more != 0 || c.p != c.end ||
        (v.seen & (E_NAME | E_DTYPE | E_SHAPE | E_DATA)) !=
            (E_NAME | E_DTYPE | E_SHAPE | E_DATA))
        goto slow;
    if (v.data && (e_matrix(&v, s, out) ||
                   scan_data(v.data, v.data_end, v.t, out->x,
                             out->rows * out->cols)))
        goto slow;
    if (v.id) {
        if (!(out->id = malloc(v.id_n + 1)))
            goto slow;
        memcpy(out->id, v.id, v.id_n);
        out->id[v.id_n] = '\0';
    }
    out->binary_out = v.out_bin >= 0 ? v.out_bin : v.bdo;
    return 0;
slow:
    srv_batch_clear(out);
    return V2_SLOW;
}

int srv_parse_v2(const char *body, size_t len, const struct srv_schema *s,
                 struct srv_batch *out, char *err, size_t cap)
{
    if (!srv_parse_v2_fast(body, len, s, out))
        return 0;
    memset(out, 0, sizeof *out);
    if (!v2_fast(body, len, s, out, err, cap))
        return 0;
    srv_batch_clear(out);
    return srv_parse_v2_ref(body, len, s, out, err, cap);
}

int srv_parse_v2_binary(const char *body, size_t len, size_t hdr_len,
                        const struct srv_schema *s, struct srv_batch *out,
                        char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    if (hdr_len > len)
        return bad(err, cap, "Inference-Header-Content-Length %zu is past "
                   "the body's %zu bytes", hdr_len, len);
    json_error_t je;
    json_t *root = json_loadb(body, hdr_len, 0, &je);
    if (!root)
        return bad(err, cap, "malformed JSON header: %s (line %d, column "
                   "%d)", je.text, je.line, je.column);
    struct v2_bin bin = {(const unsigned char *)body + hdr_len,
                         len - hdr_len};
    int rc = v2_root(root, s, NULL, &bin, out, err, cap);
    json_decref(root);
    if (rc)
        srv_batch_clear(out);
    return rc;
}

/* ------------------------------------------------------------------ */
/* MLflow /invocations                                                  */

/* map[f] = index of the model's feature f among `given` column names.
 * Unnamed models take the columns in order (then the count must match);
 * extra named columns are ignored, as MLflow's schema enforcement does. */
static int map_columns(const struct srv_schema *s, const char *const *given,
                       size_t n_given, size_t *map, char *err, size_t cap)
{
    if (!s->feature_names || !given) {
        if (n_given != s->n_features)
            return bad(err, cap, "got %zu columns, the model takes %zu",
                       n_given, s->n_features);
        for (size_t f = 0; f < s->n_features; f++)
            map[f] = f;
        return 0;
    }
    for (size_t f = 0; f < s->n_features; f++) {
        size_t j = 0;
        while (j < n_given && strcmp(given[j], s->feature_names[f]))
            j++;
        if (j == n_given)
            return bad(err, cap, "missing column '%.64s'",
                       s->feature_names[f]);
        map[f] = j;
    }
    return 0;
}

static int cell(const json_t *v, double *dst, size_t row, const char *col,
                char *err, size_t cap)
{
    if (json_is_number(v))
        *dst = json_number_value(v);
    else if (json_is_null(v))
        *dst = NAN;
    else if (json_is_boolean(v))
        *dst = json_is_true(v) ? 1.0 : 0.0;
    else
        return bad(err, cap, "row %zu, column '%.64s': expected a number",
                   row + 1, col);
    return 0;
}

static const char *fname(const struct srv_schema *s, size_t f, char *buf,
                         size_t cap)
{
    if (s->feature_names)
        return s->feature_names[f];
    snprintf(buf, cap, "%zu", f);
    return buf;
}

/* Rows given as arrays (positional, or ordered by `cols`). */
static int rows_of_arrays(const json_t *rows, const json_t *cols,
                          const struct srv_schema *s, struct srv_batch *out,
                          char *err, size_t cap)
{
    size_t n_cols = 0, *map = NULL, f, r;
    const char **names = NULL;
    char nb[24];
    int rc = 0;
    const json_t *row0 = json_array_get(rows, 0);
    if (cols) {
        n_cols = json_array_size(cols);
        names = calloc(n_cols ? n_cols : 1, sizeof *names);
        if (!names)
            return bad(err, cap, "out of memory");
        for (size_t j = 0; j < n_cols && !rc; j++)
            if (!(names[j] = json_string_value(json_array_get(cols, j))))
                rc = bad(err, cap, "\"columns\" must be strings");
    } else {
        n_cols = json_array_size(row0);
    }
    map = calloc(s->n_features ? s->n_features : 1, sizeof *map);
    if (!rc && !map)
        rc = bad(err, cap, "out of memory");
    if (!rc)
        rc = map_columns(s, names, n_cols, map, err, cap);
    if (!rc)
        rc = alloc_matrix(out, json_array_size(rows), s->n_features, err,
                          cap);
    for (r = 0; !rc && r < out->rows; r++) {
        const json_t *row = json_array_get(rows, r);
        if (!json_is_array(row) || json_array_size(row) != n_cols) {
            rc = bad(err, cap, "row %zu: expected an array of %zu values",
                     r + 1, n_cols);
            break;
        }
        for (f = 0; !rc && f < s->n_features; f++)
            rc = cell(json_array_get(row, map[f]),
                      out->x + r * out->cols + f, r,
                      fname(s, f, nb, sizeof nb), err, cap);
    }
    free(map);
    free(names);
    return rc;
}

/* Rows given as objects {column: value}. */
static int rows_of_objects(const json_t *rows, const struct srv_schema *s,
                           struct srv_batch *out, char *err, size_t cap)
{
    if (!s->feature_names)
        return bad(err, cap, "the model has no column names: send rows as "
                   "arrays");
    int rc = alloc_matrix(out, json_array_size(rows), s->n_features, err,
                          cap);
    for (size_t r = 0; !rc && r < out->rows; r++) {
        const json_t *row = json_array_get(rows, r);
        if (!json_is_object(row))
            return bad(err, cap, "row %zu: expected an object", r + 1);
        for (size_t f = 0; !rc && f < s->n_features; f++) {
            const json_t *v = json_object_get(row, s->feature_names[f]);
            if (!v)
                return bad(err, cap, "row %zu: missing column '%.64s'",
                           r + 1, s->feature_names[f]);
            rc = cell(v, out->x + r * out->cols + f, r, s->feature_names[f],
                      err, cap);
        }
    }
    return rc;
}

/* Columns given as an object {column: [values]}. */
static int columnar(const json_t *obj, const struct srv_schema *s,
                    struct srv_batch *out, char *err, size_t cap)
{
    if (!s->feature_names)
        return bad(err, cap, "the model has no column names: send rows as "
                   "arrays");
    size_t rows = 0;
    for (size_t f = 0; f < s->n_features; f++) {
        const json_t *c = json_object_get(obj, s->feature_names[f]);
        if (!json_is_array(c))
            return bad(err, cap, "missing column '%.64s' (an array of values)",
                       s->feature_names[f]);
        if (f == 0)
            rows = json_array_size(c);
        else if (json_array_size(c) != rows)
            return bad(err, cap, "column '%.64s' has %zu values, expected "
                       "%zu", s->feature_names[f], json_array_size(c), rows);
    }
    int rc = alloc_matrix(out, rows, s->n_features, err, cap);
    for (size_t f = 0; !rc && f < s->n_features; f++) {
        const json_t *c = json_object_get(obj, s->feature_names[f]);
        for (size_t r = 0; !rc && r < rows; r++)
            rc = cell(json_array_get(c, r), out->x + r * out->cols + f, r,
                      s->feature_names[f], err, cap);
    }
    return rc;
}

/* `instances` / `inputs` / `dataframe_records`: a list of rows. */
static int row_list(const json_t *rows, const struct srv_schema *s,
                    struct srv_batch *out, char *err, size_t cap)
{
    if (!json_is_array(rows) || json_array_size(rows) == 0)
        return bad(err, cap, "expected a non-empty list of rows");
    const json_t *row0 = json_array_get(rows, 0);
    if (json_is_object(row0))
        return rows_of_objects(rows, s, out, err, cap);
    if (json_is_array(row0))
        return rows_of_arrays(rows, NULL, s, out, err, cap);
    return bad(err, cap, "each row must be an array or an object");
}

static int invocations_json(const char *body, size_t len,
                            const struct srv_schema *s,
                            struct srv_batch *out, char *err, size_t cap)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    if (!root)
        return bad(err, cap, "malformed JSON: %s (line %d, column %d)",
                   je.text, je.line, je.column);
    static const char *const keys[] = {
        "dataframe_split", "dataframe_records", "instances", "inputs"
    };
    const json_t *v = NULL;
    size_t which = 0, found = 0;
    int rc = 0;
    for (size_t i = 0; json_is_object(root) && i < 4; i++)
        if (json_object_get(root, keys[i])) {
            v = json_object_get(root, keys[i]);
            which = i;
            found++;
        }
    if (found != 1) {
        rc = bad(err, cap, "expected a JSON object with exactly one of "
                 "dataframe_split, dataframe_records, instances, inputs");
    } else if (which == 0) {
        const json_t *cols = json_object_get(v, "columns");
        const json_t *data = json_object_get(v, "data");
        if (!json_is_object(v) || !json_is_array(data) ||
            json_array_size(data) == 0)
            rc = bad(err, cap, "dataframe_split needs \"data\": a non-empty "
                     "list of rows");
        else if (cols && !json_is_array(cols))
            rc = bad(err, cap, "dataframe_split \"columns\" must be a list");
        else
            rc = rows_of_arrays(data, cols, s, out, err, cap);
    } else if (which == 1) {
        if (json_is_array(v) && json_array_size(v) &&
            !json_is_object(json_array_get(v, 0)))
            rc = bad(err, cap, "dataframe_records must be a list of "
                     "objects");
        else
            rc = row_list(v, s, out, err, cap);
    } else if (which == 3 && json_is_object(v)) {
        rc = columnar(v, s, out, err, cap);
    } else {
        rc = row_list(v, s, out, err, cap);
    }
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------ */
/* CSV: a header line, then one row per line; RFC 4180 quoting.         */

struct csv_cursor {
    const char *p, *end;
};

/* Read one field into buf (unquoted), say whether the line ended. */
static int csv_field(struct csv_cursor *c, char *buf, size_t bufcap,
                     size_t *n, int *eol, char *err, size_t cap)
{
    size_t k = 0;
    int quoted = 0;
    if (c->p < c->end && *c->p == '"') {
        quoted = 1;
        c->p++;
    }
    for (;;) {
        if (c->p >= c->end) {
            if (quoted)
                return bad(err, cap, "CSV: unterminated quoted field");
            *eol = 1;
            break;
        }
        char ch = *c->p;
        if (quoted && ch == '"') {
            if (c->p + 1 < c->end && c->p[1] == '"') {
                c->p++;
            } else {
                quoted = 0;
                c->p++;
                continue;
            }
        } else if (!quoted && ch == ',') {
            c->p++;
            *eol = 0;
            break;
        } else if (!quoted && (ch == '\n' || ch == '\r')) {
            if (ch == '\r' && c->p + 1 < c->end && c->p[1] == '\n')
                c->p++;
            c->p++;
            *eol = 1;
            break;
        } else if (!quoted && k == 0 && ch == '"') {
            return bad(err, cap, "CSV: stray quote");
        }
        if (k + 1 >= bufcap)
            return bad(err, cap, "CSV: field longer than %zu bytes",
                       bufcap - 1);
        buf[k++] = ch;
        c->p++;
    }
    buf[k] = '\0';
    *n = k;
    return 0;
}

static int csv_number(const char *s, size_t n, double *out)
{
    if (n == 0) {
        *out = NAN;
        return 0;
    }
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    if (end != s + n || errno == ERANGE || isnan(*out) || isinf(*out))
        return -1;
    return 0;
}

static int invocations_csv(const char *body, size_t len,
                           const struct srv_schema *s, struct srv_batch *out,
                           char *err, size_t cap)
{
    struct csv_cursor c = {body, body + len};
    char field[256];
    char **names = NULL;
    size_t n_cols = 0, *map = NULL, rows = 0, n;
    int eol = 0, rc = 0;
    double *row = NULL;
    if (len == 0)
        return bad(err, cap, "CSV: empty body");
    /* Header. */
    while (!rc && !eol) {
        rc = csv_field(&c, field, sizeof field, &n, &eol, err, cap);
        if (rc)
            break;
        char **grown = realloc(names, (n_cols + 1) * sizeof *names);
        if (!grown) {
            rc = bad(err, cap, "out of memory");
            break;
        }
        names = grown;
        if (!(names[n_cols] = strdup(field))) {
            rc = bad(err, cap, "out of memory");
            break;
        }
        n_cols++;
        if (n_cols > 100000)
            rc = bad(err, cap, "CSV: too many columns");
    }
    /* Rows counted first so the matrix is allocated once. */
    if (!rc) {
        for (const char *p = c.p; p < c.end; p++)
            if (*p == '\n')
                rows++;
        if (c.p < c.end && c.end[-1] != '\n')
            rows++;
        map = calloc(s->n_features ? s->n_features : 1, sizeof *map);
        row = calloc(n_cols, sizeof *row);
        if (!map || !row)
            rc = bad(err, cap, "out of memory");
    }
    if (!rc)
        rc = map_columns(s, (const char *const *)names, n_cols, map, err,
                         cap);
    if (!rc)
        rc = alloc_matrix(out, rows, s->n_features, err, cap);
    size_t r = 0;
    while (!rc && c.p < c.end) {
        if (*c.p == '\n' || *c.p == '\r') {     /* blank line */
            c.p++;
            continue;
        }
        if (r >= out->rows) {
            rc = bad(err, cap, "CSV: more rows than lines");
            break;
        }
        eol = 0;
        size_t j = 0;
        while (!rc && !eol) {
            rc = csv_field(&c, field, sizeof field, &n, &eol, err, cap);
            if (rc)
                break;
            if (j >= n_cols) {
                rc = bad(err, cap, "CSV row %zu: more than %zu fields",
                         r + 1, n_cols);
                break;
            }
            if (csv_number(field, n, &row[j]))
                rc = bad(err, cap, "CSV row %zu, column '%.64s': '%.32s' is "
                         "not a number", r + 1, names[j], field);
            j++;
        }
        if (!rc && j != n_cols)
            rc = bad(err, cap, "CSV row %zu: %zu fields, the header has %zu",
                     r + 1, j, n_cols);
        for (size_t f = 0; !rc && f < s->n_features; f++)
            out->x[r * out->cols + f] = row[map[f]];
        r++;
    }
    if (!rc && r == 0)
        rc = bad(err, cap, "CSV: no rows after the header");
    if (!rc)
        out->rows = r;
    for (size_t j = 0; j < n_cols; j++)
        free(names[j]);
    free(names);
    free(map);
    free(row);
    return rc;
}

int srv_parse_invocations(const char *body, size_t len, const char *ctype,
                          const struct srv_schema *s, struct srv_batch *out,
                          char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    int rc;
    if (!ctype || !strncasecmp(ctype, "application/json", 16))
        rc = invocations_json(body, len, s, out, err, cap);
    else if (!strncasecmp(ctype, "text/csv", 8))
        rc = invocations_csv(body, len, s, out, err, cap);
    else {
        snprintf(err, cap, "unsupported content type '%.64s' (use "
                 "application/json or text/csv)", ctype);
        rc = 415;
    }
    if (rc)
        srv_batch_clear(out);
    return rc;
}
