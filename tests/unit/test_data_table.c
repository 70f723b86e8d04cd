/* Unit tests for core/data/csv.c and core/data/dataset.c: CSV loading,
 * bad input, splits, canonical bytes, classes and input matrices. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/table.h"
#include "test.h"

static char tmpdir[256];

static const char *data_path(const char *name)
{
    static char buf[4096];
    const char *dir = getenv("ORRERY_TEST_DATA");
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "tests/data", name);
    return buf;
}

/* Write `text` to a fresh file in tmpdir and return its path. */
static const char *write_csv(const char *name, const char *text)
{
    static char path[512];
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/orrery-test-data-XXXXXX");
        if (!mkdtemp(tmpdir))
            abort();
    }
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
    return path;
}

static struct orr_dataset *load(const char *path, const char *target,
                                struct orr_error *e)
{
    struct orr_csv_options o = {.target = target};
    struct orr_dataset *ds = NULL;
    memset(e, 0, sizeof *e);
    if (orr_dataset_load_csv(path, &o, &ds, e))
        return NULL;
    return ds;
}

static void test_penguins(void)
{
    struct orr_error e;
    struct orr_dataset *ds = load(data_path("penguins.csv"), "species", &e);
    CHECK(ds != NULL);
    if (!ds) {
        fprintf(stderr, "%s\n", e.msg);
        return;
    }
    CHECK_INT(ds->view.rows, 344);
    CHECK_INT(ds->view.cols, 8);
    CHECK_INT(ds->view.target, 0);
    size_t c = orr_dataset_column(ds, "bill_length_mm");
    CHECK_INT(ds->cols[c].type, ORR_COL_F64);
    CHECK(ds->cols[c].missing != NULL);
    size_t miss = 0;
    for (size_t r = 0; r < 344; r++)
        miss += ds->cols[c].missing[r];
    CHECK_INT(miss, 2);
    CHECK(isnan(((const double *)ds->cols[c].data)[3]));   /* row 4: NA */
    size_t sex = orr_dataset_column(ds, "sex");
    CHECK_INT(ds->cols[sex].type, ORR_COL_CATEGORY);
    CHECK_INT(ds->cols[sex].dict_len, 2);
    miss = 0;
    for (size_t r = 0; r < 344; r++)
        miss += ds->cols[sex].missing[r];
    CHECK_INT(miss, 11);
    CHECK_INT(ds->cols[orr_dataset_column(ds, "year")].type, ORR_COL_F64);
    char **labels;
    size_t k, *cls;
    CHECK_INT(orr_dataset_classes(ds, &labels, &k, &cls, &e), 0);
    CHECK_INT(k, 3);
    CHECK_STR(labels[0], "Adelie");
    CHECK_STR(labels[1], "Chinstrap");
    CHECK_STR(labels[2], "Gentoo");
    size_t counts[3] = {0};
    for (size_t r = 0; r < 344; r++)
        counts[cls[r]]++;
    CHECK_INT(counts[0], 152);
    CHECK_INT(counts[1], 68);
    CHECK_INT(counts[2], 124);

    /* Stratified split keeps the class proportions. */
    struct orr_split_options so = {ORR_SPLIT_STRATIFIED, 0.25, 7, NULL};
    struct orr_dataset *tr, *te;
    CHECK_INT(orr_dataset_split(ds, &so, &tr, &te, &e), 0);
    CHECK_INT(tr->view.rows + te->view.rows, 344);
    CHECK_INT(te->view.rows, 38 + 17 + 31);
    char **l2;
    size_t k2, *c2;
    CHECK_INT(orr_dataset_classes(te, &l2, &k2, &c2, &e), 0);
    size_t tc[3] = {0};
    for (size_t r = 0; r < te->view.rows; r++)
        tc[c2[r]]++;
    CHECK_INT(tc[0], 38);   /* round(0.25 * 152) */
    CHECK_INT(tc[1], 17);   /* round(0.25 * 68) */
    CHECK_INT(tc[2], 31);   /* round(0.25 * 124) */
    orr_dataset_free_labels(l2, k2);
    free(c2);
    /* Same seed, same split; another seed, another split. */
    struct orr_dataset *tr2, *te2;
    CHECK_INT(orr_dataset_split(ds, &so, &tr2, &te2, &e), 0);
    FILE *a = tmpfile(), *b = tmpfile();
    orr_dataset_write_canonical(te, a, &e);
    orr_dataset_write_canonical(te2, b, &e);
    CHECK_INT(ftell(a), ftell(b));
    orr_dataset_free(tr2);
    orr_dataset_free(te2);
    so.seed = 8;
    CHECK_INT(orr_dataset_split(ds, &so, &tr2, &te2, &e), 0);
    FILE *c3 = tmpfile();
    orr_dataset_write_canonical(te2, c3, &e);
    long n = ftell(a);
    char *ba = malloc((size_t)n), *bb = malloc((size_t)n),
         *bc = malloc((size_t)n);
    rewind(a);
    rewind(b);
    rewind(c3);
    CHECK(fread(ba, 1, (size_t)n, a) == (size_t)n);
    CHECK(fread(bb, 1, (size_t)n, b) == (size_t)n);
    size_t nc = fread(bc, 1, (size_t)n, c3);
    CHECK(!memcmp(ba, bb, (size_t)n));
    CHECK(nc != (size_t)n || memcmp(ba, bc, (size_t)n));
    /* Canonical bytes read back to an equal dataset. */
    struct orr_dataset *back = NULL;
    CHECK_INT(orr_dataset_read_canonical(ba, (size_t)n, &back, &e), 0);
    if (back) {
        CHECK_INT(back->view.rows, te->view.rows);
        CHECK_INT(back->view.target, 0);
        CHECK_STR(back->cols[sex].name, "sex");
        CHECK(back->cols[c].missing != NULL || te->cols[c].missing == NULL);
    }
    /* A corrupt copy is refused. */
    ba[n - 1] = 7;
    struct orr_dataset *bad = NULL;
    CHECK_INT(orr_dataset_read_canonical(ba, (size_t)n, &bad, &e),
              ORR_ECORRUPT);
    CHECK_INT(orr_dataset_read_canonical(ba, 10, &bad, &e), ORR_ECORRUPT);
    orr_dataset_free(back);
    fclose(a);
    fclose(b);
    fclose(c3);
    free(ba);
    free(bb);
    free(bc);
    orr_dataset_free(tr2);
    orr_dataset_free(te2);

    /* One-hot input matrix. */
    const char *names[] = {"bill_length_mm", "island=Biscoe", "sex=male",
                           "island=Atlantis"};
    double *x = NULL;
    CHECK_INT(orr_dataset_matrix(ds, names, 4, &x, &e), 0);
    CHECK_NEAR(x[0], 39.1, 0);
    CHECK_NEAR(x[1], 0, 0);             /* Torgersen */
    CHECK_NEAR(x[2], 1, 0);             /* male */
    CHECK_NEAR(x[3], 0, 0);             /* unknown label: 0 */
    CHECK(isnan(x[3 * 4 + 0]));         /* row 4: NA */
    CHECK(isnan(x[3 * 4 + 2]));
    free(x);
    const char *bad_names[] = {"island"};
    CHECK_INT(orr_dataset_matrix(ds, bad_names, 1, &x, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "categorical");
    const char *none[] = {"wingspan"};
    CHECK_INT(orr_dataset_matrix(ds, none, 1, &x, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "wingspan");

    /* select */
    const char *sel[] = {"sex", "species"};
    struct orr_dataset *s = NULL;
    CHECK_INT(orr_dataset_select(ds, sel, 2, &s, &e), 0);
    CHECK_INT(s->view.cols, 2);
    CHECK_INT(s->view.target, 1);
    orr_dataset_free(s);
    const char *dup[] = {"sex", "sex"};
    CHECK_INT(orr_dataset_select(ds, dup, 2, &s, &e), ORR_EINVAL);

    orr_dataset_free_labels(labels, k);
    free(cls);
    orr_dataset_free(tr);
    orr_dataset_free(te);
    orr_dataset_free(ds);
}

static void test_weather_time_split(void)
{
    struct orr_error e;
    struct orr_dataset *ds = load(data_path("seattle-weather.csv"),
                                  "temp_max", &e);
    CHECK(ds != NULL);
    if (!ds)
        return;
    CHECK_INT(ds->view.rows, 1461);
    size_t d = orr_dataset_column(ds, "date");
    CHECK_INT(ds->cols[d].type, ORR_COL_CATEGORY);
    CHECK_INT(ds->cols[orr_dataset_column(ds, "weather")].dict_len, 5);
    struct orr_split_options so = {ORR_SPLIT_TIME, 0.25, 0, "date"};
    struct orr_dataset *tr, *te;
    CHECK_INT(orr_dataset_split(ds, &so, &tr, &te, &e), 0);
    CHECK_INT(te->view.rows, 366);     /* ceil(0.25 * 1461) */
    const struct orr_column *c = &te->cols[d];
    CHECK_STR(c->dict[((const int32_t *)c->data)[0]], "2014/12/31");
    CHECK_STR(c->dict[((const int32_t *)c->data)[365]], "2015/12/31");
    c = &tr->cols[d];
    CHECK_STR(c->dict[((const int32_t *)c->data)[tr->view.rows - 1]],
              "2014/12/30");
    orr_dataset_free(tr);
    orr_dataset_free(te);
    so.by = "nope";
    CHECK_INT(orr_dataset_split(ds, &so, &tr, &te, &e), ORR_EINVAL);
    so = (struct orr_split_options){ORR_SPLIT_RANDOM, 1.5, 0, NULL};
    CHECK_INT(orr_dataset_split(ds, &so, &tr, &te, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "fraction");
    orr_dataset_free(ds);
}

static void test_quoting_and_types(void)
{
    struct orr_error e;
    const char *p = write_csv("q.csv",
        "name,value,code,note\n"
        "\"Smith, J\",1.5,007,\"said \"\"hi\"\"\"\n"
        "plain,NaN,12,null\n"
        "\"multi\nline\",-2e3,x1,\n");
    struct orr_dataset *ds = load(p, NULL, &e);
    CHECK(ds != NULL);
    if (!ds) {
        fprintf(stderr, "%s\n", e.msg);
        return;
    }
    CHECK_INT(ds->view.rows, 3);
    const struct orr_column *c = &ds->cols[0];
    CHECK_STR(c->dict[((const int32_t *)c->data)[0]], "Smith, J");
    CHECK_STR(c->dict[((const int32_t *)c->data)[2]], "multi\nline");
    c = &ds->cols[1];
    CHECK_INT(c->type, ORR_COL_F64);
    CHECK_NEAR(((const double *)c->data)[2], -2000, 0);
    CHECK(c->missing && c->missing[1]);
    /* "007", "12" look numeric, "x1" does not: the column is read again
     * as categorical and keeps the text exactly. */
    c = &ds->cols[2];
    CHECK_INT(c->type, ORR_COL_CATEGORY);
    CHECK_STR(c->dict[((const int32_t *)c->data)[0]], "007");
    c = &ds->cols[3];
    CHECK_STR(c->dict[((const int32_t *)c->data)[0]], "said \"hi\"");
    CHECK(c->missing[1] && c->missing[2]);
    orr_dataset_free(ds);

    /* Exact decimal conversion: the same doubles as strtod. */
    p = write_csv("num.csv", "a\n0.1\n123456.789\n1e-300\n9007199254740993\n"
                  "-0.000123\n3.14159265358979\n");
    ds = load(p, NULL, &e);
    CHECK(ds != NULL);
    if (ds) {
        const double *v = ds->cols[0].data;
        CHECK(v[0] == strtod("0.1", NULL));
        CHECK(v[1] == strtod("123456.789", NULL));
        CHECK(v[2] == strtod("1e-300", NULL));
        CHECK(v[3] == strtod("9007199254740993", NULL));
        CHECK(v[4] == strtod("-0.000123", NULL));
        CHECK(v[5] == strtod("3.14159265358979", NULL));
        orr_dataset_free(ds);
    }
    /* Declared categorical. */
    const char *cats[] = {"a"};
    struct orr_csv_options o = {.categorical = cats, .n_categorical = 1};
    ds = NULL;
    CHECK_INT(orr_dataset_load_csv(p, &o, &ds, &e), 0);
    if (ds) {
        CHECK_INT(ds->cols[0].type, ORR_COL_CATEGORY);
        orr_dataset_free(ds);
    }
}

static void test_bad_input(void)
{
    struct orr_error e;
    struct orr_dataset *ds;
    ds = load(write_csv("ragged.csv", "a,b,c\n1,2,3\n4,5\n6,7,8\n"), NULL,
              &e);
    CHECK(ds == NULL);
    CHECK_INT(e.code, ORR_EINVAL);
    CHECK_STR(e.msg, "ragged.csv:3: expected 3 fields (as in the header), "
                     "found 2");
    ds = load(write_csv("long.csv", "a,b\n1,2\n3,4,5\n"), NULL, &e);
    CHECK(ds == NULL);
    CHECK_CONTAINS(e.msg, "long.csv:3: expected 2 fields");
    ds = load(write_csv("empty.csv", ""), NULL, &e);
    CHECK(ds == NULL);
    CHECK_STR(e.msg, "empty.csv: empty file (no header line)");
    ds = load(write_csv("header.csv", "a,b\n"), NULL, &e);
    CHECK(ds == NULL);
    CHECK_STR(e.msg, "header.csv: no data rows after the header");
    ds = load(write_csv("t.csv", "a,b\n1,2\n"), "label", &e);
    CHECK(ds == NULL);
    CHECK_STR(e.msg, "t.csv: no column 'label' (the target)");
    ds = load(write_csv("dup.csv", "a,a\n1,2\n"), NULL, &e);
    CHECK(ds == NULL);
    CHECK_STR(e.msg, "dup.csv:1: duplicate column name 'a'");
    ds = load(write_csv("quote.csv", "a,b\n1,\"open\n"), NULL, &e);
    CHECK(ds == NULL);
    CHECK_CONTAINS(e.msg, "quote.csv:2: malformed CSV");
    ds = load(write_csv("bad\"q.csv", "a,b\n1,x\"y\n"), NULL, &e);
    CHECK(ds == NULL);
    CHECK_CONTAINS(e.msg, "malformed CSV");
    /* Declared numeric: a label is an error naming row and column. */
    const char *num[] = {"bill_length_mm"};
    struct orr_csv_options o = {.numeric = num, .n_numeric = 1};
    const char *p = write_csv("penguins.csv",
        "species,bill_length_mm\nAdelie,39.1\nAdelie,NA\nGentoo,abc\n");
    ds = NULL;
    CHECK_INT(orr_dataset_load_csv(p, &o, &ds, &e), ORR_EINVAL);
    CHECK_STR(e.msg, "penguins.csv:4: column 'bill_length_mm': not a "
                     "number: 'abc'");
    CHECK_INT(orr_dataset_load_csv("/nonexistent/x.csv", NULL, &ds, &e),
              ORR_ENOTFOUND);
    /* Missing target value: classes refuse it. */
    ds = load(write_csv("mt.csv", "x,y\n1,a\n2,NA\n"), "y", &e);
    CHECK(ds != NULL);
    char **labels;
    size_t k, *cls;
    CHECK_INT(orr_dataset_classes(ds, &labels, &k, &cls, &e), ORR_EINVAL);
    CHECK_STR(e.msg, "target 'y' is missing in row 2");
    orr_dataset_free(ds);
}

static void cleanup(void)
{
    char cmd[300];
    if (tmpdir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", tmpdir);
    }
}

static void test_cleanup(void)
{
    cleanup();
    CHECK(1);
}

TEST_MAIN({"penguins", test_penguins},
          {"weather_time_split", test_weather_time_split},
          {"quoting_and_types", test_quoting_and_types},
          {"bad_input", test_bad_input},
          {"cleanup", test_cleanup})
