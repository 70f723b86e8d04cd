/* The CSV loader's quote-free fast path against libcsv: every file is
 * loaded with every byte through libcsv (the reference), then through the
 * fast path with the default 1 MiB chunks, with tiny chunks (so records,
 * fields and CRLF pairs straddle chunk boundaries), split in two
 * parts, read() into the buffer instead of mapped, and with the scalar
 * row loop instead of the AVX-512 one; the datasets must be identical
 * (names, kinds, values bit for bit, missing masks, dictionaries and
 * codes) or the errors the same
 * messages (file, record, column).  Fixtures: CRLF, CR only, missing
 * values, labels, numbers that turn into labels, ragged rows, bad numbers
 * in declared numeric columns, blanks around fields, blank lines, empty
 * file, header only, no final line break, very long fields, quotes only
 * late in the file (the path switches mid-file), a quote after plain
 * records in the same block, the real data sets, a seeded random
 * differential over generated files, numeric files of every number
 * shape and width for the AVX-512 row loop, and plain numeric files for
 * its check of whole blocks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/csv_internal.h"
#include "data/table.h"
#include "same_ds.h"
#include "test.h"

static char dir[64];

struct outcome {
    int                 rc;
    struct orr_error    e;
    struct orr_dataset *ds;
};

static void load_simd(const char *path, const struct orr_csv_options *o,
                      int fast, size_t chunk, int split, int map, int simd,
                      struct outcome *out)
{
    memset(out, 0, sizeof *out);
    orri_csv_set_simd(simd);
    orri_csv_set_map(map);
    orri_csv_set_fast_path(fast);
    orri_csv_set_chunk(chunk);
    orri_csv_set_parallel_min(split ? 0 : SIZE_MAX);
    out->rc = orr_dataset_load_csv(path, o, &out->ds, &out->e);
    orri_csv_set_fast_path(1);
    orri_csv_set_chunk(0);
    orri_csv_set_parallel_min((size_t)16 << 20);
    orri_csv_set_map(1);
    orri_csv_set_simd(1);
}

static void load(const char *path, const struct orr_csv_options *o,
                 int fast, size_t chunk, int split, int map,
                 struct outcome *out)
{
    load_simd(path, o, fast, chunk, split, map, 1, out);
}

/* Load `path` every way; 1 if all agree with libcsv alone.  The
 * reference's message goes to msg. */
static int agree_x(const char *path, const struct orr_csv_options *o,
                   char *msg, size_t cap, size_t scale)
{
    /* map 0: read() into the buffer, as a pipe is, not parsed in place;
     * simd 0: the scalar row loop (1: AVX-512 where the CPU has it) */
    static const struct {
        int fast;
        size_t chunk;
        int split, map, simd;
    } way[] = {
        {1, 0, 0, 1, 1}, {1, 1, 0, 1, 1}, {1, 7, 0, 1, 1}, {1, 64, 0, 1, 1},
        {1, 0, 1, 1, 1}, {1, 5, 1, 1, 1}, {0, 3, 0, 1, 1}, {0, 0, 1, 1, 1},
        {1, 0, 0, 0, 1}, {1, 7, 1, 0, 1}, {1, 0, 0, 1, 0}, {1, 9, 1, 1, 0},
    };
    struct outcome ref;
    int ok = 1;
    load_simd(path, o, 0, 0, 0, 1, 0, &ref);
    snprintf(msg, cap, "%s", ref.e.msg);
    for (size_t i = 0; i < sizeof way / sizeof *way; i++) {
        struct outcome got;
        load_simd(path, o, way[i].fast, way[i].chunk * scale, way[i].split,
                  way[i].map, way[i].simd, &got);
        int same = got.rc == ref.rc &&
                   (ref.rc ? !strcmp(got.e.msg, ref.e.msg) :
                             same_ds(got.ds, ref.ds));
        if (!same)
            fprintf(stderr, "%s: libcsv: %d '%s'; fast %d chunk %zu split "
                    "%d map %d simd %d: %d '%s'%s\n", path, ref.rc,
                    ref.e.msg, way[i].fast, way[i].chunk, way[i].split,
                    way[i].map, way[i].simd, got.rc, got.e.msg,
                    !ref.rc && !got.rc ? " (tables differ)" : "");
        ok &= same;
        orr_dataset_free(got.ds);
    }
    orr_dataset_free(ref.ds);
    return ok;
}

static int agree(const char *path, const struct orr_csv_options *o,
                 char *msg, size_t cap)
{
    return agree_x(path, o, msg, cap, 1);
}

static const char *write_n(const char *name, const char *text, size_t n)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(text, 1, n, f);
        fclose(f);
    }
    return path;
}

static const char *write_file(const char *name, const char *text)
{
    return write_n(name, text, strlen(text));
}

/* Load text both ways and check the reference's message contains want
 * ("" for success). */
static void check_text(const char *name, const char *text,
                       const struct orr_csv_options *o, const char *want)
{
    static const struct orr_csv_options none = {0};
    char msg[512];
    int ok = agree(write_file(name, text), o ? o : &none, msg, sizeof msg);
    if (!ok)
        fprintf(stderr, "  (fixture %s)\n", name);
    CHECK(ok);
    if (*want)
        CHECK_CONTAINS(msg, want);
    else
        CHECK_STR(msg, "");
}

static void test_fixtures(void)
{
    const char *num[] = {"b"};
    struct orr_csv_options declared = {.numeric = num, .n_numeric = 1};
    const char *cat[] = {"a"};
    struct orr_csv_options forced = {.categorical = cat, .n_categorical = 1,
                                     .target = "b"};
    check_text("plain.csv", "a,b,c\n1,2.5,-3e2\n4,.5,6.\n-0,+7,1e-300\n",
               NULL, "");
    check_text("crlf.csv", "a,b\r\n1,2\r\n3,4\r\n", NULL, "");
    check_text("cr.csv", "a,b\r1,2\r3,4\r", NULL, "");
    check_text("lfcr.csv", "a,b\n\r1,2\n\r3,4\n\r", NULL, "");
    check_text("nofinal.csv", "a,b\n1,2\n3,4", NULL, "");
    check_text("nofinalcomma.csv", "a,b\n1,2\n3,", NULL, "");
    check_text("missing.csv", "a,b,c\n1,NA,\n,NaN,N/A\nnull,3,4\n5,,6\n",
               NULL, "");
    check_text("labels.csv", "a,b\nx,1\ny,2\nx,NA\n,3\nz,4\n", NULL, "");
    check_text("mixed.csv", "a,b\n1,2\n3,4\nfive,6\n7,8\n", NULL, "");
    check_text("mixed2.csv", "a,b\n1,2\n3,x\n5,6\n7,y\n", NULL, "");
    check_text("forced.csv", "a,b\n1,2\n1.0,3\n01,4\n", &forced, "");
    check_text("blanks.csv", "a , b\t,c\n 1 ,\t2\t, 3\n  \n\t\n4,5 ,6\n"
               "  7,8,  9  \n , ,\n", NULL, "");
    check_text("blanklines.csv", "\n\n a,b\n\n1,2\n\r\n\n3,4\n\n", NULL,
               "");
    /* the fast path stops at the first record with a quote, libcsv takes
     * it from there: after plain rows in the same block, after labels
     * interned in the same row, after blanks, a quote in an unquoted
     * field (malformed), a quoted line break, and back to plain rows */
    check_text("q_late.csv", "a,b\nx,1\ny,2\nz,\"3\"\nw,4\nv,5\n", NULL,
               "");
    check_text("q_row.csv", "a,b,c\nx,1,p\ny,2,q\nnew,3,\"r\"\nz,4,s\n",
               NULL, "");
    check_text("q_blank.csv", "a,b\n1,2\n  \"3\",4\n5,6\n", NULL, "");
    check_text("q_bad.csv", "a,b\nx,1\ny,2\nx\"y,3\n", NULL,
               "q_bad.csv:4: malformed CSV");
    check_text("q_break.csv", "a,b\n1,2\n3,\"4\n5\"\n6,7\n8,9\n", NULL,
               "");
    check_text("trailing.csv", "a,b,\n1,2,\n3,4,\n", NULL,
               "column 3 has no name");
    check_text("empty.csv", "", NULL, "empty file");
    check_text("blankonly.csv", " \n\t\r\n", NULL, "empty file");
    check_text("hdronly.csv", "a,b\n", NULL, "no data rows");
    check_text("hdronly2.csv", "a,b", NULL, "no data rows");
    check_text("dup.csv", "a,a\n1,2\n", NULL, "duplicate column name 'a'");
    check_text("short.csv", "a,b\n1,2\n3\n5,6\n", NULL,
               "short.csv:3: expected 2 fields (as in the header), found 1");
    check_text("long.csv", "a,b\n1,2\n3,4\n5,6,7\n", NULL,
               "long.csv:4: expected 2 fields (as in the header), found 3");
    check_text("badnum.csv", "a,b\n1,2\n3,4x\n", &declared,
               "badnum.csv:3: column 'b': not a number: '4x'");
    check_text("badnum2.csv", "a,b\n1,2\n3, 1e\n", &declared,
               "badnum2.csv:3: column 'b': not a number: '1e'");
    check_text("range.csv", "a,b\n1,2\n3,1e999\n", &declared,
               "range.csv:3: column 'b': number out of range: '1e999'");
    check_text("inf.csv", "a,b\n1,2\n3,-1e999\n4,1e-999\n", NULL, "");
    check_text("nums.csv", "a,b,c\n123456789012345678901234,0.1e1,1E5\n"
               "00000000000000000000000001,-.5e-3,9007199254740993\n"
               "1.7976931348623157e308,4.9e-324,2.2250738585072011e-308\n"
               "0x10,inf,nan\n", NULL, "");
    check_text("notnum.csv", "a,b\n1e,+\n-,.\n1.2.3,--1\n1e+,5\n", NULL,
               "");
    check_text("target.csv", "a,b\n1,2\n", &forced, "");
    check_text("notarget.csv", "a,c\n1,2\n", &forced,
               "no column 'b' (the target)");
    /* a quote only late: fast, then libcsv, then fast again */
    check_text("late.csv", "a,b\n1,2\n3,4\n\"5\",\"x,\ny\"\n7,8\n9,10\n",
               NULL, "");
    check_text("badquote.csv", "a,b\n1,2\n3,4\n5,a\"b\n7,8\n", NULL,
               "badquote.csv:4: malformed CSV");
    check_text("openquote.csv", "a,b\n1,2\n3,\"4\n5,6\n", NULL,
               "malformed CSV");
    check_text("quotedhdr.csv", "\"a\",\"b c\"\n1,2\n", NULL, "");
    /* a NUL byte in a field is an ordinary byte to both */
    char nul[] = "a,b\nx\0y,1\nz,2\n";
    char msg[512];
    CHECK(agree(write_n("nul.csv", nul, sizeof nul - 1), &declared, msg,
                sizeof msg));
    char nul2[] = "a,b\nx,1\nw,1\nx\0y,2\nz,3\n\0,4\nx\0,5\n";
    CHECK(agree(write_n("nul2.csv", nul2, sizeof nul2 - 1), &declared, msg,
                sizeof msg));
}

/* Fields and records far longer than a chunk (300 kB against chunks of
 * 4 to 256 kB: libcsv grows its field buffer 128 bytes at a time, which
 * is slow under sanitizers beyond that), and records straddling the
 * 1 MiB chunk boundary. */
/* Files parsed in place in a mapping end where the mapping does: the
 * last bytes must go through the buffer, or the number reader (which
 * may read 8 bytes past a point) would read past the file's last page.
 * Files of exactly one and two pages, and around, whose last field is a
 * number with a point, with and without a final line break. */
static void test_page_end(void)
{
    static const size_t sizes[] = {4096, 8192, 4095, 4097, 8191, 33, 32,
                                   31, 12};
    char *text = malloc(8200);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        for (int nl = 0; nl < 2; nl++) {
            size_t want = sizes[i], o = 0;
            o += (size_t)snprintf(text, 8200, "a,b\n");
            while (o + 9 + 24 < want)
                o += (size_t)snprintf(text + o, 8200 - o, "1.25,2.5\n");
            size_t left = want - o;     /* "1,3." + digits [+ "\n"] */
            o += (size_t)snprintf(text + o, 8200 - o, "1,3.");
            for (; o < want - (size_t)nl; o++)
                text[o] = (char)('0' + o % 10);
            if (nl)
                text[o++] = '\n';
            CHECK(o == want && left >= 5);
            char name[32], msg[512];
            snprintf(name, sizeof name, "page%zu_%d.csv", want, nl);
            static const struct orr_csv_options none = {0};
            CHECK(agree(write_n(name, text, o), &none, msg, sizeof msg));
            CHECK_STR(msg, "");
        }
    free(text);
}

static void test_long(void)
{
    size_t big = 300000, o = 0;     /* longer than the chunks below */
    size_t nums = (size_t)5 << 19;                  /* 2.5 MiB */
    char *s = malloc(nums + 4096);
    o += (size_t)snprintf(s, 64, "a,b\n1,");
    memset(s + o, 'q', big - 100);
    o += big - 100;
    o += (size_t)snprintf(s + o, 64, "\n2,x\n3,");
    for (int i = 0; i < 20000 && o < big + 3000; i++)
        s[o++] = (char)('0' + i % 10);
    o += (size_t)snprintf(s + o, 64, "\n4,y\n");
    char msg[512];
    const char *p = write_n("longfield.csv", s, o);
    CHECK(agree_x(p, &(struct orr_csv_options){0}, msg, sizeof msg, 4096));
    CHECK_CONTAINS(msg, "a label longer than 65535 bytes");
    /* numbers only, ~2.5 MiB: several 1 MiB boundaries inside records */
    o = (size_t)snprintf(s, 64, "a,b,c\n");
    for (int r = 0; o + 64 < nums; r++)
        o += (size_t)snprintf(s + o, 64, "%d,%.17g,%s\r\n", r, r / 7.0,
                              r % 1000 == 999 ? "NA" : "0.25");
    p = write_n("boundary.csv", s, o);
    CHECK(agree_x(p, &(struct orr_csv_options){0}, msg, sizeof msg, 997));
    CHECK_STR(msg, "");
    /* the fast path did read it all (it is not libcsv in disguise) */
    struct outcome got;
    load(p, &(struct orr_csv_options){0}, 1, 0, 0, 1, &got);
    CHECK_INT(got.rc, 0);
    CHECK_INT(orri_csv_last_fast_bytes(), o);
    orr_dataset_free(got.ds);
    load(p, &(struct orr_csv_options){0}, 1, 0, 1, 1, &got);
    CHECK_INT(orri_csv_last_fast_bytes(), o);
    orr_dataset_free(got.ds);
    load(p, &(struct orr_csv_options){0}, 0, 0, 0, 1, &got);
    CHECK_INT(orri_csv_last_fast_bytes(), 0);
    orr_dataset_free(got.ds);
    /* read() rather than mapped: the fast path still takes every byte */
    load(p, &(struct orr_csv_options){0}, 1, 0, 1, 0, &got);
    CHECK_INT(got.rc, 0);
    CHECK_INT(orri_csv_last_fast_bytes(), o);
    orr_dataset_free(got.ds);
    /* quotes only in the middle and near the end: the path switches to
     * libcsv and back, within one part and across the split */
    size_t at1 = o / 2, at2 = o - 5000;
    for (size_t k = 0; k < 2; k++) {
        size_t at = k ? at2 : at1;
        while (s[at] != '\n')
            at++;
        static const char q[] = "7,\"8\",\"9\n\"\"x\"\"\"\n";
        memmove(s + at + 1 + strlen(q), s + at + 1, o - at - 1);
        memcpy(s + at + 1, q, strlen(q));
        o += strlen(q);
    }
    p = write_n("latequotes.csv", s, o);
    CHECK(agree_x(p, &(struct orr_csv_options){0}, msg, sizeof msg, 997));
    CHECK_STR(msg, "");
    load(p, &(struct orr_csv_options){0}, 1, 0, 0, 1, &got);
    CHECK_INT(got.rc, 0);
    CHECK(got.ds && got.ds->view.columns[2].type == ORR_COL_CATEGORY);
    size_t fast = orri_csv_last_fast_bytes();
    CHECK(fast > o / 4 && fast < o);
    orr_dataset_free(got.ds);
    free(s);
}

static void test_real_data(void)
{
    const char *data = getenv("ORRERY_TEST_DATA");
    char path[4096], msg[512];
    const char *cat[] = {"year"};
    struct orr_csv_options o = {.target = "species", .categorical = cat,
                                .n_categorical = 1};
    snprintf(path, sizeof path, "%s/penguins.csv", data ? data : ".");
    CHECK(agree(path, &o, msg, sizeof msg));
    CHECK_STR(msg, "");
    struct orr_csv_options w = {.target = "weather"};
    snprintf(path, sizeof path, "%s/seattle-weather.csv", data ? data : ".");
    CHECK(agree(path, &w, msg, sizeof msg));
    CHECK_STR(msg, "");
    struct orr_csv_options b = {.target = "malignant"};
    snprintf(path, sizeof path, "%s/../../examples/data/breast_cancer.csv",
             data ? data : ".");
    CHECK(agree(path, &b, msg, sizeof msg));
    CHECK_STR(msg, "");
}

static uint64_t rng = 20261129;

static uint64_t next(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A random field: mostly numbers of every spelling, some missing
 * spellings and labels, rarely blanks around, a quote or a bad byte. */
static size_t rand_field(char *out, size_t cap, int col_style, int quotes,
                         unsigned odd_rate)
{
    static const char *const odd[] = {
        "NA", "NaN", "N/A", "null", "", "x", "abc", "1e", "-", ".", "1.2.3",
        "0x1f", "inf", "nan", "+5", "-.5", "5.", "1e+", " ", "1 2",
    };
    uint64_t r = next();
    char tmp[96];
    int n;
    int kind = (int)((r >> 8) % 6);
    if (col_style == 0)             /* numbers, an odd field now and then */
        kind = r % odd_rate ? "0125"[(r >> 20) & 3] - '0' :
                              3 + (int)(r & 1);
    else if (col_style == 1)
        kind = (r & 15) > 1 ? 0 : kind;
    switch (kind) {
    case 0:
        n = snprintf(tmp, sizeof tmp, "%.6f",
                     (double)(int64_t)next() / 1e15);
        break;
    case 1: {
        /* (one expression would leave the order of the two calls to
         * the compiler, and the files to the optimisation level) */
        double m = (double)(int64_t)next();
        n = snprintf(tmp, sizeof tmp, "%.17g",
                     m / (double)(1ull << (next() & 63)));
        break;
    }
    case 2:
        n = snprintf(tmp, sizeof tmp, "%lld", (long long)(next() % 2000) -
                     1000);
        break;
    case 3:
        n = snprintf(tmp, sizeof tmp, "%s", odd[next() % 20]);
        break;
    case 4:
        n = snprintf(tmp, sizeof tmp, "lab%d", (int)(next() % 5));
        break;
    default: {
        double m = (double)(int64_t)next();
        n = snprintf(tmp, sizeof tmp, "%.3e",
                     m * 1e-300 * (double)(next() % 1000));
        break;
    }
    }
    size_t o = 0;
    uint64_t d = next();
    if (d % 40 == 0)
        out[o++] = d & 64 ? ' ' : '\t';
    if (quotes && d % 97 == 1) {
        out[o++] = '"';
        memcpy(out + o, tmp, (size_t)n);
        o += (size_t)n;
        if (d & 128) {
            memcpy(out + o, ",\n\"\"", 4);
            o += 4;
        }
        out[o++] = '"';
    } else {
        memcpy(out + o, tmp, (size_t)n);
        o += (size_t)n;
    }
    if (d % 53 == 0)
        out[o++] = d & 256 ? ' ' : '\t';
    if (quotes && d % 5003 == 7)
        out[o++] = '"';             /* a stray quote: malformed */
    (void)cap;
    return o;
}

static void test_random(void)
{
    size_t cap = 1 << 20, files = 0, errors = 0, bad = 0;
    char *s = malloc(cap + 512);
    static const unsigned rates[] = {1u << 30, 2000, 300, 40};
    for (int f = 0; f < 400; f++) {
        size_t cols = 1 + next() % 6, rows = next() % 400, o = 0;
        int quotes = f % 3 == 0, eol = (int)(next() % 4);
        int ragged = f % 7 == 0;
        unsigned odd_rate = rates[f % 4];
        /* columns: 0 numbers (odd fields at odd_rate), 1 mostly
         * numbers, 2 anything; most files all numbers */
        /* (all 8 set: a ragged row has a field past the columns) */
        int style[8] = {0}, any = f % 2 ? 3 : 0;
        for (size_t c = 0; c < cols; c++) {
            style[c] = any ? (int)(next() % 3) : 0;
            o += (size_t)snprintf(s + o, 32, "%sc%zu", c ? "," : "", c);
        }
        static const char *const eols[] = {"\n", "\r\n", "\r", "\n"};
        o += (size_t)snprintf(s + o, 8, "%s", eols[eol]);
        for (size_t r = 0; r < rows && o < cap; r++) {
            size_t n = cols;
            if (ragged && next() % 50 == 0)
                n = cols + (next() & 1 ? 1 : (size_t)-1);
            if (next() % 60 == 0)
                o += (size_t)snprintf(s + o, 8, "%s", next() & 1 ? "  " :
                                      "");
            for (size_t c = 0; c < n; c++) {
                if (c)
                    s[o++] = ',';
                o += rand_field(s + o, 256, style[c], quotes, odd_rate);
            }
            if (r + 1 < rows || next() & 1)
                o += (size_t)snprintf(s + o, 8, "%s", eols[eol]);
            if (next() % 80 == 0)
                o += (size_t)snprintf(s + o, 8, "%s", eols[eol]);
        }
        char name[32], msg[512];
        snprintf(name, sizeof name, "rand%d.csv", f);
        /* chunks of 13 bytes and up: a byte at a time is for the
         * fixtures (one read call per byte is slow under sanitizers) */
        int ok = agree_x(write_n(name, s, o), &(struct orr_csv_options){0},
                         msg, sizeof msg, 13);
        if (!ok)
            fprintf(stderr, "  (random file %d kept as %s/%s)\n", f, dir,
                    name);
        bad += !ok;
        errors += msg[0] != '\0';
        files++;
    }
    printf("  %zu random files (%zu load with an error), %zu differ\n",
           files, errors, bad);
    CHECK(bad == 0);
    free(s);
}

/* A number of a random shape for the AVX-512 loop's lanes and around
 * them: a sign or none, 0-10 digits before a point or none, 0-10 after,
 * leading zeros, now and then an exponent, a long mantissa (past the
 * 8 bytes of a lane, past 64 bytes of a block), or a field that is no
 * number (missing, blank, label: the row goes to the general path). */
static size_t rand_number(char *out)
{
    uint64_t r = next();
    size_t o = 0;
    if (r % 97 == 0) {
        static const char *const odd[] = {"", "NA", "x", " 1.5", "1.5 ",
                                          "-", ".", "+.", "1e", "1..2",
                                          "--1", "1-2", "\t2"};
        const char *f = odd[next() % 13];
        memcpy(out, f, strlen(f));
        return strlen(f);
    }
    if (r & 1)
        out[o++] = r & 2 ? '-' : '+';
    else if (r & 2)
        out[o++] = '-';
    size_t before = (size_t)((r >> 4) % 11), after = (size_t)((r >> 8) % 11);
    int point = (r >> 12) % 5 != 0;
    if ((r >> 16) % 211 == 0)
        before = 20 + (size_t)(next() % 60);    /* long: strtod's case */
    if (!point && !before)
        before = 1;
    for (size_t i = 0; i < before; i++)
        out[o++] = (char)('0' + (i == 0 && (r >> 20) % 3 ? 0 :
                                 next() % 10));
    if (point) {
        out[o++] = '.';
        for (size_t i = 0; i < after; i++)
            out[o++] = (char)('0' + next() % 10);
    }
    if (!before && (!point || !after))
        out[o++] = '7';                         /* at least one digit */
    if ((r >> 24) % 61 == 0)
        o += (size_t)snprintf(out + o, 8, "e%d", (int)(next() % 40) - 20);
    return o;
}

/* Generated file number f of `kind` (n bytes of text): checked every way
 * against libcsv (`scale` passed to agree_x; kept on disagreement), then
 * loaded once more with the fast loops into *got.  1 when they agree. */
static int generated(const char *kind, int f, const char *text, size_t n,
                     size_t scale, struct outcome *got)
{
    char name[32], msg[512];
    snprintf(name, sizeof name, "%s%d.csv", kind, f);
    const char *path = write_n(name, text, n);
    int ok = agree_x(path, &(struct orr_csv_options){0}, msg, sizeof msg,
                     scale);
    if (!ok)
        fprintf(stderr, "  (%s file %d kept as %s/%s)\n", kind, f, dir,
                name);
    load(path, &(struct orr_csv_options){0}, 1, 0, 0, 1, got);
    return ok;
}

/* Numeric files of 1 to 51 columns, fields of every shape and length
 * (above), LF, CRLF or CR rows: the scalar row loop, the AVX-512 one
 * and libcsv give the same tables and errors, in one part and two, in
 * chunks that cut rows and blocks anywhere. */
static void test_shapes(void)
{
    static const size_t widths[] = {1, 2, 3, 5, 7, 8, 9, 16, 17, 51};
    size_t cap = 1 << 19, bad = 0, simd_rows = 0;
    char *s = malloc(cap + 4096);
    for (int f = 0; f < 120; f++) {
        size_t cols = widths[f % 10], rows = 50 + next() % 300, o = 0;
        const char *eol = f % 7 == 3 ? "\r\n" : f % 11 == 5 ? "\r" : "\n";
        for (size_t c = 0; c < cols; c++)
            o += (size_t)snprintf(s + o, 32, "%sc%zu", c ? "," : "", c);
        o += (size_t)snprintf(s + o, 8, "%s", eol);
        for (size_t r = 0; r < rows && o < cap; r++) {
            for (size_t c = 0; c < cols; c++) {
                if (c)
                    s[o++] = ',';
                o += rand_number(s + o);
            }
            o += (size_t)snprintf(s + o, 8, "%s", eol);
        }
        struct outcome got;
        bad += !generated("shape", f, s, o, 29, &got);
        simd_rows += orri_csv_last_simd_rows();
        orr_dataset_free(got.ds);
    }
    /* the AVX-512 loop did take rows, where the CPU has it */
    printf("  AVX-512 row loop %s, %zu rows by it\n",
           orri_csv_set_simd(1) ? "on" : "not available", simd_rows);
    CHECK(!orri_csv_set_simd(1) || simd_rows > 500);
    CHECK(bad == 0);
    free(s);
}

/* A number the AVX-512 loop converts in a lane, most of the time ("-"
 * then up to 8 digits and points, as "%.6f" writes them), and now and
 * then one it leaves to the scalar reader or to the general path: longer
 * than a lane, an exponent with '+', a '+' sign, a blank, a missing
 * value, a label. */
static size_t clean_number(char *out, unsigned odd_rate)
{
    uint64_t r = next();
    if (r % odd_rate == 0) {
        static const char *const odd[] = {"123456.789", "1e+5", "+1.5",
                                          " 2", "NA", "lab", "-0.0",
                                          "1.", ".5", "00000000.1"};
        const char *f = odd[next() % 10];
        memcpy(out, f, strlen(f));
        return strlen(f);
    }
    int places = (int)((r >> 8) % 8), whole = (int)((r >> 12) % 3);
    double v = (double)((r >> 16) % 100000000) / 1e6;
    if (whole == 0)
        v /= 100;
    return (size_t)snprintf(out, 32, "%s%.*f", r & 3 ? "" : "-", places,
                            v > 99.0 ? v / 100 : v);
}

/* Numeric files in which most blocks take the AVX-512 loop's check of a
 * whole block (all fields converted, commas, at most one LF): 1 to 51
 * columns, so that rows end at every offset of a block, two rows end in
 * one block, and whole blocks hold no row's end; LF, CRLF, and a last
 * row with or without a line break; odd fields rare or none; now and
 * then a ragged row.  Every way of loading gives libcsv's tables (or
 * error), and the loop takes most rows. */
static void test_blocks(void)
{
    static const size_t widths[] = {1, 2, 3, 4, 7, 8, 9, 13, 16, 51};
    static const unsigned rates[] = {1u << 30, 5000, 400};
    size_t cap = 1 << 21, bad = 0, rows_all = 0, simd_rows = 0;
    char *s = malloc(cap + 4096);
    for (int f = 0; f < 60; f++) {
        size_t cols = widths[f % 10], rows = 200 + next() % 3000, o = 0;
        const char *eol = f % 5 == 4 ? "\r\n" : "\n";
        unsigned odd_rate = rates[f % 3];
        for (size_t c = 0; c < cols; c++)
            o += (size_t)snprintf(s + o, 32, "%sc%zu", c ? "," : "", c);
        o += (size_t)snprintf(s + o, 8, "%s", eol);
        /* one row a field too long or too short, in a third of the
         * files: the loop must not take a comma or an LF for the other
         * (a long extra field puts the LF blocks after the comma) */
        size_t ragged = f % 3 == 2 ? next() % rows : SIZE_MAX;
        for (size_t r = 0; r < rows && o < cap; r++) {
            size_t n = r != ragged ? cols : next() & 1 ? cols + 1 :
                                                         cols - 1;
            for (size_t c = 0; c < n; c++) {
                if (c)
                    s[o++] = ',';
                if (c == cols)
                    o += (size_t)snprintf(s + o, 80, "0.%0*d", 60, 7);
                else
                    o += clean_number(s + o, odd_rate);
            }
            if (r + 1 < rows || f % 4 != 1)
                o += (size_t)snprintf(s + o, 8, "%s", eol);
        }
        struct outcome got;
        bad += !generated("block", f, s, o, 101, &got);
        if (!got.rc && odd_rate == 1u << 30 && f % 5 != 4) {
            rows_all += got.ds->view.rows;
            simd_rows += orri_csv_last_simd_rows();
        }
        orr_dataset_free(got.ds);
    }
    /* without odd fields or CRLFs, the loop takes (nearly) every row:
     * the scalar loop reads the last few of the text */
    printf("  AVX-512 row loop %s, %zu of %zu rows by it\n",
           orri_csv_set_simd(1) ? "on" : "not available", simd_rows,
           rows_all);
    CHECK(!orri_csv_set_simd(1) || simd_rows * 10 > rows_all * 9);
    CHECK(bad == 0);
    free(s);
}

int test_main_(int argc, char **argv);

#define main test_main_
TEST_MAIN({"fixtures", test_fixtures}, {"page_end", test_page_end},
          {"long", test_long},
          {"real_data", test_real_data}, {"random", test_random},
          {"shapes", test_shapes}, {"blocks", test_blocks})
#undef main

int main(int argc, char **argv)
{
    snprintf(dir, sizeof dir, "/tmp/orrery-csvfast-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    int rc = test_main_(argc, argv);
    if (rc && getenv("ORRERY_KEEP"))
        return rc;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    return rc;
}
