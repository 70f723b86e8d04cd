/*
 * tests/serve/parse_diff.c - the V2 request readers against the
 * all-jansson reference (plugins/server-http/parse.c): srv_parse_v2 (and
 * its first reader alone, srv_parse_v2_fast) must give exactly what
 * srv_parse_v2_ref gives - status, message, values bit for bit, id,
 * binary_out - on the fuzz corpus and on generated requests (key orders,
 * whitespace, ids with escapes, flat and nested data, every datatype,
 * parameters and outputs, duplicate keys, errors, damaged bodies).  The
 * requests of the common shape must be read by the fast reader itself,
 * or the fallback would hide a reader that never answers.
 *
 *   ORR_PARSE_CORPUS=tests/fuzz/corpus serve_parse_diff
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>

#include "parse.h"
#include "test.h"

static const char *const names4[4] = {"a", "b", "c", "d"};
static const char *corpus_dir = "tests/fuzz/corpus";
static size_t n_fast;           /* bodies the fast reader answered */

static int same_batch(const struct srv_batch *a, const struct srv_batch *b)
{
    return a->rows == b->rows && a->cols == b->cols &&
           a->binary_out == b->binary_out &&
           (!a->x) == (!b->x) &&
           (!a->x || !memcmp(a->x, b->x, a->rows * a->cols * sizeof *a->x)) &&
           (!a->id) == (!b->id) && (!a->id || !strcmp(a->id, b->id));
}

/* Both paths over one body; returns whether the fast reader answered
 * (-1 when anything disagreed). */
static int diff(const char *body, size_t len, const struct srv_schema *s)
{
    struct srv_batch r, f, q;
    char rerr[256] = "", ferr[256] = "";
    int rrc = srv_parse_v2_ref(body, len, s, &r, rerr, sizeof rerr);
    int frc = srv_parse_v2(body, len, s, &f, ferr, sizeof ferr);
    int qrc = srv_parse_v2_fast(body, len, s, &q);
    int ok = rrc == frc && !strcmp(rerr, ferr) && same_batch(&r, &f) &&
             (qrc == -1 || (qrc == 0 && rrc == 0 && same_batch(&r, &q)));
    if (qrc == -1 && (q.x || q.id || q.rows))
        ok = 0;                 /* "not handled" leaves nothing behind */
    if (!ok) {
        fprintf(stderr, "mismatch (ref %d '%s', v2 %d '%s', fast %d) on "
                "%zu features:\n%.*s\n", rrc, rerr, frc, ferr, qrc,
                s->n_features, (int)(len < 2000 ? len : 2000), body);
        test_failed_ = 1;
    }
    srv_batch_clear(&r);
    srv_batch_clear(&f);
    srv_batch_clear(&q);
    if (qrc == 0)
        n_fast++;
    return ok ? qrc == 0 : -1;
}

/* ------------------------------------------------------------------ */

struct buf {
    char   p[16384];
    size_t n;
};

static void app(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void app(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->n, sizeof b->p - b->n, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->n += (size_t)n < sizeof b->p - b->n ? (size_t)n
                                               : sizeof b->p - b->n - 1;
}

static uint64_t rng = 0x9e3779b97f4a7c15u;

static unsigned rnd(unsigned n)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (unsigned)((rng * 0x2545f4914f6cdd1du) >> 33) % n;
}

/* Whitespace between tokens, now and then. */
static const char *ws(void)
{
    static const char *const w[] = {"", "", "", "", " ", "\n", "\t",
                                    "\r\n  ", "   "};
    return w[rnd(sizeof w / sizeof *w)];
}

static const char *const dtypes[5] = {"FP32", "FP64", "INT32", "INT64",
                                      "BOOL"};

/* One value of datatype `t`; *plain cleared for one jansson refuses or
 * the datatype does not allow. */
static void value(struct buf *b, int t, int *plain)
{
    unsigned k = rnd(40);
    if (k == 0) {                           /* the wrong kind */
        static const char *const wrong[] = {"null", "\"1\"", "1.5", "true",
                                            "1e400", "{}", "7"};
        const char *w = wrong[rnd(7)];
        app(b, "%s", w);
        int fine = (t <= 1 && (!strcmp(w, "1.5") || !strcmp(w, "7"))) ||
                   (t >= 2 && t <= 3 && !strcmp(w, "7")) ||
                   (t == 4 && !strcmp(w, "true"));
        if (!fine)
            *plain = 0;
        return;
    }
    switch (t) {
    case 0:
    case 1:
        switch (k % 8) {
        case 0: app(b, "%d", (int)rnd(2000) - 1000); break;
        case 1: {
            double d = ((double)rnd(1u << 30) / (1u << 30) - 0.5) *
                       pow(10.0, (int)rnd(40) - 20);
            app(b, "%.17g", d);
            break;
        }
        case 2: app(b, "%.3f", (double)rnd(100000) / 7.0); break;
        case 3: app(b, "%s", rnd(2) ? "-0" : "-0.0"); break;
        case 4: app(b, "%uE%s%u", rnd(100), rnd(2) ? "-" : "+", rnd(30));
            break;
        case 5: app(b, "0.%u%u%u", rnd(1000000000), rnd(1000000000),
                    rnd(1000000000)); break;
        case 6: app(b, "%u%u%u.5", rnd(1000000000) + 1, rnd(1000000000),
                    rnd(1000000000)); break;
        default: app(b, "%.9g", (double)rnd(1u << 24) / 3.0); break;
        }
        return;
    case 2:
        if (k == 1) {
            app(b, "%s", rnd(2) ? "2147483648" : "-2147483649");
            *plain = 0;
        } else {
            app(b, "%d", (int)(rnd(1u << 31) - (1u << 30)) * 2 + 1);
        }
        return;
    case 3:
        if (k == 1) {
            app(b, "9223372036854775808");
            *plain = 0;
        } else {
            app(b, "%lld", ((long long)rnd(1u << 31) << 31) -
                               (1LL << 61) + rnd(1000));
        }
        return;
    default:
        app(b, "%s", rnd(2) ? "true" : "false");
        return;
    }
}

/* A "parameters" member's value; *bdo the binary_data_output it sets. */
static void params(struct buf *b, const char *key, int *plain, int *flag)
{
    switch (rnd(6)) {
    case 0: app(b, "{}"); break;
    case 1:
        *flag = rnd(2);
        app(b, "{%s\"%s\"%s:%s%s}", ws(), key, ws(), ws(),
            *flag ? "true" : "false");
        break;
    case 2:
        *flag = rnd(2);
        app(b, "{\"content_type\": \"np\", \"%s\": %s, \"x\": [1, {\"y\": "
            "null}, -2.5e-3, \"s\"]}", key, *flag ? "true" : "false");
        break;
    case 3: app(b, "%s", rnd(2) ? "5" : "[true]"); break;  /* ignored */
    case 4:
        app(b, "{\"%s\": \"yes\"}", key);                   /* refused */
        *plain = 0;
        break;
    default:
        app(b, "{\"other\": {\"deep\": [[[]]], \"e\": \"\"}}");
        break;
    }
}

struct member {
    char text[8192];
};

static void shuffle(struct member *m, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = rnd((unsigned)i);
        struct member t = m[i - 1];
        m[i - 1] = m[j];
        m[j] = t;
    }
}

static void object(struct buf *b, struct member *m, size_t n)
{
    shuffle(m, n);
    app(b, "{%s", ws());
    for (size_t i = 0; i < n; i++)
        app(b, "%s%s%s", i ? "," : "", ws(), m[i].text);
    app(b, "%s}", ws());
}

static void member(struct member *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void member(struct member *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->text, sizeof m->text, fmt, ap);
    va_end(ap);
}

/* A request for `cols` features; *plain: of the common shape, valid. */
static void gen(struct buf *out, size_t cols, int *plain)
{
    struct member in[8], root[8];
    size_t ni = 0, nr = 0;
    struct buf b;
    int t = (int)rnd(5), bdo = 0, bd = 0;
    unsigned rows = rnd(4) + 1;
    *plain = 1;
    out->n = 0;

    /* inputs[0] */
    member(&in[ni++], "\"name\"%s:%s\"%s\"", ws(), ws(),
           rnd(20) ? "input" : "in\\u0070ut");
    if (strstr(in[ni - 1].text, "\\u"))
        *plain = 0;                 /* an escape: the jansson paths' */
    member(&in[ni++], "\"datatype\":%s\"%s\"", ws(),
           rnd(50) ? dtypes[t] : "FP16");
    if (strstr(in[ni - 1].text, "FP16"))
        *plain = 0;
    unsigned sc = rnd(60);
    member(&in[ni++], "\"shape\":%s[%s%u,%s%zu%s]", ws(), ws(),
           sc == 0 ? 0 : rows, ws(), sc == 1 ? cols + 1 : cols, ws());
    if (sc < 2)
        *plain = 0;
    b.n = 0;
    int nested = rnd(2);
    app(&b, "\"data\":%s[", ws());
    for (unsigned r = 0; r < rows; r++) {
        app(&b, "%s%s%s", r ? "," : "", ws(), nested ? "[" : "");
        for (size_t c = 0; c < cols; c++) {
            app(&b, "%s%s", c ? "," : "", ws());
            value(&b, t, plain);
        }
        app(&b, "%s", nested ? "]" : "");
    }
    if (!rnd(60)) {
        app(&b, ",1");                  /* one value too many */
        *plain = 0;
    }
    app(&b, "%s]", ws());
    member(&in[ni++], "%s", b.p);
    if (!rnd(4)) {
        b.n = 0;
        params(&b, rnd(10) ? "content_type" : "binary_data_size", plain,
               &bd);
        if (strstr(b.p, "binary_data_size") && b.p[0] == '{')
            *plain = 0;
        member(&in[ni++], "\"parameters\":%s%s", ws(), b.p);
    }
    if (!rnd(5))
        member(&in[ni++], "\"extra\": {\"a\": [true, null, 1.5e3, \"x\"]}");
    if (!rnd(40)) {
        in[ni] = in[rnd((unsigned)ni)]; /* a key twice: jansson's last */
        ni++;
        *plain = 0;
    }
    b.n = 0;
    object(&b, in, ni);
    member(&root[nr++], "\"inputs\":%s[%s%s%s]", ws(), ws(), b.p, ws());

    switch (rnd(8)) {
    case 0: member(&root[nr++], "\"id\": \"req-%u\"", rnd(100000)); break;
    case 1: member(&root[nr++], "\"id\":\"\""); break;
    case 2:
        member(&root[nr++], "\"id\": \"a\\\"b\\\\c\\n\\u00e9\"");
        *plain = 0;
        break;
    case 3:
        member(&root[nr++], "\"id\": \"caf\xc3\xa9\"");
        *plain = 0;
        break;
    case 4:
        member(&root[nr++], "\"id\": 42");
        *plain = 0;
        break;
    default: break;
    }
    if (!rnd(3)) {
        b.n = 0;
        params(&b, "binary_data_output", plain, &bdo);
        member(&root[nr++], "\"parameters\": %s", b.p);
    }
    switch (rnd(6)) {
    case 0:
        member(&root[nr++], "\"outputs\": [{\"name\": \"output\"}]");
        break;
    case 1:
        member(&root[nr++], "\"outputs\":[{\"parameters\":{\"binary_data\":"
               "%s},\"name\":\"output\"},%s{\"name\":\"output\", \"x\": 1}]",
               rnd(2) ? "true" : "false", ws());
        break;
    case 2:
        member(&root[nr++], "\"outputs\": [{\"name\": \"%s\"}]",
               rnd(2) ? "y" : "");
        *plain = 0;
        break;
    case 3:
        member(&root[nr++], "\"outputs\": %s", rnd(2) ? "[]" : "[{}]");
        if (strstr(root[nr - 1].text, "{}"))
            *plain = 0;
        break;
    default: break;
    }
    if (!rnd(4))
        member(&root[nr++], "\"model_name\": \"m\", \"k\": [%s]",
               rnd(2) ? "" : "{\"z\": false}");
    object(out, root, nr);
    app(out, "%s", ws());
    switch (rnd(30)) {                  /* damage */
    case 0:
        out->n = rnd((unsigned)out->n);
        *plain = 0;
        break;
    case 1:
        out->p[rnd((unsigned)out->n)] ^= (char)(1 << rnd(8));
        *plain = 0;
        break;
    case 2:
        app(out, "x");
        *plain = 0;
        break;
    default: break;
    }
}

static void test_generated(void)
{
    size_t plain_n = 0, plain_fast = 0;
    for (int i = 0; i < 40000; i++) {
        struct buf b;
        int plain;
        size_t cols = i & 1 ? 4 : 2;
        struct srv_schema s = {cols, i & 2 ? names4 : NULL};
        gen(&b, cols, &plain);
        int fast = diff(b.p, b.n, &s);
        if (plain) {
            plain_n++;
            plain_fast += fast == 1;
            if (fast != 1) {
                fprintf(stderr, "not read by the fast reader:\n%.*s\n",
                        (int)b.n, b.p);
                test_failed_ = 1;
            }
        }
    }
    printf("generated: %zu of the common shape, %zu read fast\n", plain_n,
           plain_fast);
    CHECK(plain_n > 8000);
}

/* The common request, value by value, and what each part gives. */
static void test_values(void)
{
    struct srv_schema s2 = {2, NULL};
    struct srv_batch b;
    const char *body =
        " {\"outputs\": [{\"name\": \"output\", \"parameters\": "
        "{\"binary_data\": true}}], \"id\": \"r-1\", \"inputs\": "
        "[{\"data\": [[0.1, -2e3], [3, 4.5E-1]], \"datatype\": \"FP32\", "
        "\"name\": \"x\", \"shape\": [2, 2]}], \"parameters\": "
        "{\"binary_data_output\": false}}\n";
    CHECK_INT(srv_parse_v2_fast(body, strlen(body), &s2, &b), 0);
    CHECK_INT(b.rows, 2);
    CHECK_INT(b.cols, 2);
    CHECK(b.x && b.x[0] == (double)0.1f && b.x[1] == -2000.0 &&
          b.x[2] == 3.0 && b.x[3] == (double)0.45f);
    CHECK_STR(b.id, "r-1");
    CHECK_INT(b.binary_out, 1);         /* the output's, after the root's */
    srv_batch_clear(&b);
    CHECK_INT(diff(body, strlen(body), &s2), 1);

    const char *bools = "{\"inputs\":[{\"name\":\"b\",\"shape\":[1,2],"
                        "\"datatype\":\"BOOL\",\"data\":[true,false]}]}";
    CHECK_INT(srv_parse_v2_fast(bools, strlen(bools), &s2, &b), 0);
    CHECK(b.x && b.x[0] == 1.0 && b.x[1] == 0.0 && !b.id && !b.binary_out);
    srv_batch_clear(&b);

    /* Left to the jansson paths, with their answers. */
    static const char *const slow[] = {
        "{\"id\": \"a\\u0062\", \"inputs\": [{\"name\": \"x\", \"shape\": "
        "[1, 2], \"datatype\": \"FP64\", \"data\": [1, 2]}]}",
        "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 2], \"datatype\": "
        "\"FP64\", \"data\": [1, 2], \"data\": [3, 4]}]}",
        "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 2], \"datatype\": "
        "\"INT32\", \"data\": [1, 2.5]}]}",
        "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 3], \"datatype\": "
        "\"FP64\", \"data\": [1, 2, 3]}]}",
        "{\"inputs\": []}",
        "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 2], \"datatype\": "
        "\"FP64\", \"data\": [1, 2]}], \"x\": [[[[[[[[[[[[[[[[[[1]]]]]]]]]]"
        "]]]]]]]]}",
        "[1, 2]",
        "",
    };
    for (size_t i = 0; i < sizeof slow / sizeof *slow; i++) {
        CHECK_INT(srv_parse_v2_fast(slow[i], strlen(slow[i]), &s2, &b), -1);
        CHECK(!b.x && !b.id);
        CHECK(diff(slow[i], strlen(slow[i]), &s2) == 0);
    }
    /* The duplicate data: jansson keeps the last. */
    char err[256];
    CHECK_INT(srv_parse_v2(slow[1], strlen(slow[1]), &s2, &b, err,
                           sizeof err), 0);
    CHECK(b.x && b.x[0] == 3.0 && b.x[1] == 4.0);
    srv_batch_clear(&b);
    CHECK_INT(srv_parse_v2(slow[2], strlen(slow[2]), &s2, &b, err,
                           sizeof err), 400);
    CHECK_STR(err, "data[1]: INT32 tensor needs an integer");
}

static void test_corpus(void)
{
    const char *dir = getenv("ORR_PARSE_CORPUS");
    if (dir && *dir)
        corpus_dir = dir;
    DIR *d = opendir(corpus_dir);
    CHECK(d != NULL);
    if (!d)
        return;
    size_t files = 0;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        if (ent->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", corpus_dir, ent->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        static char buf[1 << 16];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        for (int v = 0; v < 4; v++) {
            struct srv_schema s = {v & 1 ? 4 : 2, v & 2 ? names4 : NULL};
            diff(buf, len, &s);
            if (len && (unsigned char)buf[0] < 32)  /* a selector byte */
                diff(buf + 1, len - 1, &s);
        }
        files++;
    }
    closedir(d);
    CHECK(files > 40);
}

static void test_count(void)
{
    /* The fast reader answered a good share of everything above. */
    CHECK(n_fast > 5000);
}

TEST_MAIN({"values", test_values}, {"corpus", test_corpus},
          {"generated", test_generated}, {"count", test_count})
