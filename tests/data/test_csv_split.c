/* The CSV loader's two-part parse against its one-part parse: for files
 * with missing values, labels first seen after the split, columns that
 * mix numbers and labels across the split, columns empty on one side,
 * quoted fields with line breaks (where the split guess falls inside
 * quotes and must be dropped), CRLF, blank lines, no final line break,
 * and errors on either side of the split (the record numbers must be the
 * one-part ones), the loaded datasets are identical (types, values bit
 * for bit, missing masks, dictionaries in the same order) or the errors
 * are the same messages.  The real data sets too.  And the lending of
 * the table's arrays to the second part (see struct lend in csv.c): the
 * estimate of the first part's rows right, too low for the first part,
 * too low for the second, columns turning into labels in lent arrays,
 * and the column arrays on huge pages. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/colmem.h"
#include "data/csv_internal.h"
#include "data/table.h"
#include "same_ds.h"
#include "test.h"

static char dir[64];

/* Load `path` both ways; 1 if they agree (and say whether split). */
static int agree(const char *path, const struct orr_csv_options *o,
                 int *split, char *msg, size_t cap)
{
    struct orr_error e1 = {0}, e2 = {0};
    struct orr_dataset *a = NULL, *b = NULL;
    orri_csv_set_parallel_min(SIZE_MAX);
    int r1 = orr_dataset_load_csv(path, o, &a, &e1);
    orri_csv_set_parallel_min(0);
    int r2 = orr_dataset_load_csv(path, o, &b, &e2);
    *split = orri_csv_last_split();
    orri_csv_set_parallel_min((size_t)16 << 20);
    int ok = r1 == r2 && (r1 ? !strcmp(e1.msg, e2.msg) : same_ds(a, b));
    if (!ok)
        fprintf(stderr, "%s: one part: %d %s; two parts: %d %s\n", path, r1,
                e1.msg, r2, e2.msg);
    snprintf(msg, cap, "%s", e1.msg);
    orr_dataset_free(a);
    orr_dataset_free(b);
    return ok;
}

static const char *write_file(const char *name, const char *text)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

/* A file of `rows` data rows; row r's fields come from fn. */
typedef void (*row_fn)(size_t r, size_t rows, char *out, size_t cap);

static char *build(const char *header, size_t rows, row_fn fn,
                   const char *eol)
{
    size_t cap = 64 + rows * 200, o = 0;
    char *s = malloc(cap);
    o += (size_t)snprintf(s + o, cap - o, "%s%s", header, eol);
    for (size_t r = 0; r < rows; r++) {
        char line[180];
        fn(r, rows, line, sizeof line);
        o += (size_t)snprintf(s + o, cap - o, "%s%s", line, eol);
    }
    return s;
}

static void r_numeric(size_t r, size_t n, char *out, size_t cap)
{
    (void)n;
    if (r % 7 == 3)
        snprintf(out, cap, "%zu,NA,%.17g,", r, r * 0.1);
    else
        snprintf(out, cap, "%zu,%.9g,%.17g,%g", r, r / 3.0, r * 0.1,
                 -1e-5 * (double)r);
}

/* labels first seen late; a column all missing in the first half that
 * gets labels later; one that gets numbers later. */
static void r_labels(size_t r, size_t n, char *out, size_t cap)
{
    static const char *const lab[] = {"sun", "rain", "fog", "snow",
                                      "drizzle"};
    size_t k = r < n / 2 ? r % 2 : r % 5;
    snprintf(out, cap, "%s,%s,%s,%zu", lab[k], r < n / 2 ? "" : lab[r % 3],
             r < n / 2 ? "NA" : "1.5", r);
}

static void r_mixed_late(size_t r, size_t n, char *out, size_t cap)
{
    snprintf(out, cap, "%zu,%s", r, r == n - 3 ? "abc" : "2.5");
}

static void r_mixed_early(size_t r, size_t n, char *out, size_t cap)
{
    (void)n;
    snprintf(out, cap, "%zu,%s", r, r == 2 ? "abc" : "007");
}

static void r_quoted(size_t r, size_t n, char *out, size_t cap)
{
    (void)n;
    snprintf(out, cap, "%zu,\"line %zu\nnext, \"\"q\"\"\r\nthird\",x%zu",
             r, r, r % 4);
}

static void r_ragged(size_t r, size_t n, char *out, size_t cap)
{
    snprintf(out, cap, r == n - 5 ? "%zu" : "%zu,1", r);
}

static void r_badnum(size_t r, size_t n, char *out, size_t cap)
{
    snprintf(out, cap, "%zu,%s", r, r == n - 10 ? "x" : "1");
}

static void r_badquote(size_t r, size_t n, char *out, size_t cap)
{
    snprintf(out, cap, "%zu,%s", r, r == n - 2 ? "a\"b" : "1");
}

static void r_two_errors(size_t r, size_t n, char *out, size_t cap)
{
    snprintf(out, cap, r == 5 || r == n - 5 ? "%zu" : "%zu,1", r);
}

static void check_built(const char *name, const char *header, size_t rows,
                        row_fn fn, const char *eol,
                        const struct orr_csv_options *o, int want_split,
                        const char *want_err)
{
    char *text = build(header, rows, fn, eol);
    const char *path = write_file(name, text);
    free(text);
    int split = -1;
    char msg[512];
    CHECK(agree(path, o, &split, msg, sizeof msg));
    if (split != want_split)
        fprintf(stderr, "%s: split %d, expected %d\n", name, split,
                want_split);
    CHECK_INT(split, want_split);
    if (want_err)
        CHECK_CONTAINS(msg, want_err);
    else
        CHECK_STR(msg, "");
}

static void test_split(void)
{
    struct orr_csv_options none = {0};
    const char *num[] = {"d"};
    struct orr_csv_options declared = {.numeric = num, .n_numeric = 1};
    check_built("num.csv", "a,b,c,d", 5000, r_numeric, "\n", &none, 1,
                NULL);
    check_built("crlf.csv", "a,b,c,d", 5000, r_numeric, "\r\n", &none, 1,
                NULL);
    check_built("labels.csv", "w,late,nums,i", 4000, r_labels, "\n", &none,
                1, NULL);
    /* mixes: read again with the column categorical (both passes split) */
    check_built("mixlate.csv", "i,m", 3000, r_mixed_late, "\n", &none, 1,
                NULL);
    check_built("mixearly.csv", "i,m", 3000, r_mixed_early, "\n", &none, 1,
                NULL);
    /* every line break but one per record is inside quotes: the guess
     * usually fails and one parser reads on; the result is the same */
    char *text = build("i,q,l", 3000, r_quoted, "\n");
    const char *path = write_file("quoted.csv", text);
    int split = -1;
    char msg[512];
    CHECK(agree(path, &none, &split, msg, sizeof msg));
    free(text);
    /* errors after and before the split, numbered as one parser would */
    check_built("ragged.csv", "i,v", 3000, r_ragged, "\n", &none, 1,
                "ragged.csv:2997: expected 2 fields (as in the header), "
                "found 1");
    check_built("badnum.csv", "i,d", 3000, r_badnum, "\n", &declared, 1,
                "badnum.csv:2992: column 'd': not a number: 'x'");
    check_built("badquote.csv", "i,v", 3000, r_badquote, "\n", &none, 1,
                "badquote.csv:3000: malformed CSV");
    check_built("twoerr.csv", "i,v", 3000, r_two_errors, "\n", &none, 0,
                "twoerr.csv:7: expected 2 fields");
    /* blank lines and no final line break */
    CHECK(agree(write_file("blank.csv", "a,b\n1,2\n\n3,4\n\n\n5,6\n7,8\n"
                           "9,10\n11,12"), &none, &split, msg, sizeof msg));
    CHECK_INT(split, 1);
    /* a header only, an empty file: same errors */
    CHECK(agree(write_file("hdr.csv", "a,b\n"), &none, &split, msg,
                sizeof msg));
    CHECK_CONTAINS(msg, "no data rows");
    CHECK(agree(write_file("empty.csv", ""), &none, &split, msg,
                sizeof msg));
    CHECK_CONTAINS(msg, "empty file");
}

/* Row lengths that fool the split's estimate, made from the bytes per
 * record of the first eighth of the file (the header piece): long rows
 * there, short ones elsewhere (both parts outgrow their room); long ones
 * up to the middle, short after (the second part outgrows its room);
 * long in the first eighth and the second half (the first part does). */
static void r_long_short(size_t r, size_t n, int long_row, char *out,
                         size_t cap)
{
    if (long_row)
        snprintf(out, cap, "%zu,%.15f,%.15f,%.15f", r, r * 0.5, -(double)r,
                 1.0 / (double)(r + 1));
    else
        snprintf(out, cap, "%zu,%zu,%zu,%zu", r % 10, r % 7, r % 3, n % 5);
}

static void r_fool_both(size_t r, size_t n, char *out, size_t cap)
{
    r_long_short(r, n, r < n / 30, out, cap);
}

static void r_fool_second(size_t r, size_t n, char *out, size_t cap)
{
    r_long_short(r, n, r < n / 2, out, cap);
}

static void r_fool_first(size_t r, size_t n, char *out, size_t cap)
{
    r_long_short(r, n, r < n / 30 || r > n - n / 4, out, cap);
}

/* a column missing at first, labels soon after (the first part turns a
 * lent column into labels), numbers in another that stays numeric */
static void r_late_labels(size_t r, size_t n, char *out, size_t cap)
{
    snprintf(out, cap, "%zu,%s,%.3f", r, r < n / 20 ? "" : "lab",
             r * 0.25);
}

static void check_lend(const char *name, const char *header, size_t rows,
                       row_fn fn, int want_unlent)
{
    struct orr_csv_options none = {0};
    char *text = build(header, rows, fn, "\n");
    const char *path = write_file(name, text);
    free(text);
    int split = -1;
    char msg[512];
    CHECK(agree(path, &none, &split, msg, sizeof msg));
    CHECK_STR(msg, "");
    CHECK_INT(split, 1);
    if (orri_csv_last_unlent() != want_unlent)
        fprintf(stderr, "%s: unlent %d, expected %d\n", name,
                orri_csv_last_unlent(), want_unlent);
    CHECK_INT(orri_csv_last_unlent(), want_unlent);
}

static void test_lend(void)
{
    check_lend("lend_ok.csv", "a,b,c,d", 5000, r_numeric, 0);
    check_lend("lend_both.csv", "a,b,c,d", 6000, r_fool_both, 3);
    check_lend("lend_second.csv", "a,b,c,d", 6000, r_fool_second, 2);
    check_lend("lend_first.csv", "a,b,c,d", 6000, r_fool_first, 1);
    check_lend("lend_labels.csv", "i,l,x", 5000, r_late_labels, 0);
    /* and the second part turning lent columns into labels */
    check_lend("lend_labels2.csv", "w,late,nums,i", 4000, r_labels, 0);
}

/* Column arrays on huge pages (orri_col_set_huge: the benchmarks' option):
 * arrays past ORRI_COL_HUGE_MIN, both parts, the same table. */
static void test_huge(void)
{
    size_t rows = ORRI_COL_HUGE_MIN / sizeof(double) + 70000;
    char *text = malloc(16 + rows * 16), *o = text;
    o += snprintf(o, 16, "x,y\n");
    for (size_t r = 0; r < rows; r++)
        o += snprintf(o, 16, "%zu.5,%zu\n", r % 1000, r % 3);
    const char *path = write_file("huge.csv", text);
    free(text);
    struct orr_csv_options none = {0};
    int split = -1;
    char msg[512];
    orri_col_set_huge(1);
    CHECK(agree(path, &none, &split, msg, sizeof msg));
    orri_col_set_huge(0);
    CHECK_STR(msg, "");
    CHECK_INT(split, 1);
}

/* A table large enough for the column arrays to be faulted in ahead of
 * the parser (csv.c's prefault_rows: columns of 65,536 rows and more),
 * with the rows between the parts' ranges faulted in at the merge, and
 * parts longer than the 8 MiB windows of text released behind it: one
 * part and two agree, and every value is the one written (a prefault of
 * the wrong rows that wrote to them would show). */
static void test_prefault(void)
{
    size_t rows = 1200000;
    char *text = malloc(16 + rows * 24), *o = text;
    o += snprintf(o, 16, "x,l,y\n");
    for (size_t r = 0; r < rows; r++)
        o += snprintf(o, 24, "%zu.25,%s,%zu\n", r % 1000,
                      r % 7 ? "b" : "a", r);
    const char *path = write_file("prefault.csv", text);
    free(text);
    struct orr_csv_options none = {0};
    int split = -1;
    char msg[512];
    CHECK(agree(path, &none, &split, msg, sizeof msg));
    CHECK_STR(msg, "");
    CHECK_INT(split, 1);
    struct orr_dataset *ds = NULL;
    struct orr_error e = {0};
    orri_csv_set_parallel_min(0);
    CHECK_INT(orr_dataset_load_csv(path, &none, &ds, &e), ORR_OK);
    orri_csv_set_parallel_min((size_t)16 << 20);
    if (!ds)
        return;
    CHECK_INT(orri_csv_last_split(), 1);
    CHECK_INT(ds->view.rows, rows);
    const struct orr_column *c = ds->view.columns;
    CHECK(c[0].type == ORR_COL_F64 && c[1].type == ORR_COL_CATEGORY &&
          c[2].type == ORR_COL_F64);
    size_t bad = 0;
    const double *x = c[0].data, *y = c[2].data;
    const int32_t *l = c[1].data;
    for (size_t r = 0; r < rows && c[1].dict_len == 2; r++)
        bad += x[r] != (double)(r % 1000) + 0.25 || y[r] != (double)r ||
               strcmp(c[1].dict[l[r]], r % 7 ? "b" : "a") != 0;
    CHECK_INT(bad, 0);
    orr_dataset_free(ds);
}

static void test_real_data(void)
{
    const char *data = getenv("ORRERY_TEST_DATA");
    char path[4096];
    int split = -1;
    char msg[512];
    const char *cat[] = {"year"};
    struct orr_csv_options o = {.target = "species", .categorical = cat,
                                .n_categorical = 1};
    snprintf(path, sizeof path, "%s/penguins.csv", data ? data : ".");
    CHECK(agree(path, &o, &split, msg, sizeof msg));
    CHECK_INT(split, 1);
    struct orr_csv_options w = {.target = "weather"};
    snprintf(path, sizeof path, "%s/seattle-weather.csv", data ? data : ".");
    CHECK(agree(path, &w, &split, msg, sizeof msg));
    CHECK_INT(split, 1);
}

int test_main_(int argc, char **argv);

#define main test_main_
TEST_MAIN({"split", test_split}, {"lend", test_lend}, {"huge", test_huge},
          {"prefault", test_prefault}, {"real_data", test_real_data})
#undef main

int main(int argc, char **argv)
{
    snprintf(dir, sizeof dir, "/tmp/orrery-csv-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    int rc = test_main_(argc, argv);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    return rc;
}
