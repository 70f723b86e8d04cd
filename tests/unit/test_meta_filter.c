/*
 * tests/unit/test_meta_filter.c - the filter language: what it compiles
 * to, that every key and value is bound (never in the SQL text), and the
 * errors that point at the column.
 */
#include "meta/filter.h"
#include "test.h"

/* Compile; return the SQL text (static) or NULL with the error in e. */
static const char *compile(const char *f, struct orri_sql *q,
                           struct orr_error *e)
{
    orri_sql_free(q);
    memset(e, 0, sizeof *e);
    if (orri_filter_compile(f, q, e))
        return NULL;
    return q->text.data;
}

static void test_empty(void)
{
    struct orri_sql q = {0};
    struct orr_error e;
    CHECK_STR(compile("", &q, &e), "1");
    CHECK_STR(compile("   ", &q, &e), "1");
    CHECK_INT(q.n, 0);
    orri_sql_free(&q);
}

static void test_shapes(void)
{
    struct orri_sql q = {0};
    struct orr_error e;
    const char *s = compile("metrics.auc > 0.95 and params.depth = 4 and "
                            "tags.team = 'risk'", &q, &e);
    CHECK(s != NULL);
    CHECK_CONTAINS(s, "metric_series");
    CHECK_CONTAINS(s, "last_value > ?");
    CHECK_CONTAINS(s, "orr_num(value) = ?");
    CHECK_CONTAINS(s, "run_tags");
    CHECK_INT(q.n, 6);
    CHECK_STR(q.binds[0].s, "auc");
    CHECK_NEAR(q.binds[1].d, 0.95, 0);
    CHECK_STR(q.binds[2].s, "depth");
    CHECK_INT(q.binds[3].i, 4);
    CHECK_STR(q.binds[4].s, "team");
    CHECK_STR(q.binds[5].s, "risk");

    s = compile("metrics.loss.min < 0.1 or not (status = 'failed')", &q, &e);
    CHECK_CONTAINS(s, "min_value < ?");
    CHECK_CONTAINS(s, "NOT");
    CHECK_CONTAINS(s, "r.status = ?");

    s = compile("params.opt in ('adam', 'sgd') and workflow like 'cancer%'",
                &q, &e);
    CHECK_CONTAINS(s, "value IN (?, ?)");
    CHECK_CONTAINS(s, "r.workflow LIKE ? ESCAPE");
    CHECK_INT(q.n, 4);

    s = compile("params.depth not in (4, 6) and tags.x not like 'a%'", &q,
                &e);
    CHECK_CONTAINS(s, "orr_num(value) NOT IN (?, ?)");
    CHECK_CONTAINS(s, "NOT LIKE");

    s = compile("start >= '2024-01-01' and duration < 5000", &q, &e);
    CHECK_CONTAINS(s, "r.start_ms >= ?");
    CHECK_INT(q.binds[0].i, 1704067200000LL);
    CHECK_CONTAINS(s, "(r.end_ms - r.start_ms) < ?");

    /* Dotted keys, quoted keys, aggregates. */
    s = compile("metrics.val.loss.max > 1 and metrics.`a.max` = 2", &q, &e);
    CHECK(s != NULL);
    CHECK_STR(q.binds[0].s, "val.loss");
    CHECK_CONTAINS(s, "max_value > ?");
    CHECK_STR(q.binds[2].s, "a.max");
    orri_sql_free(&q);
}

/* Hostile keys and values end up as bound data, verbatim. */
static void test_injection(void)
{
    struct orri_sql q = {0};
    struct orr_error e;
    const char *s = compile("params.`x'); DROP TABLE runs; --` = "
                            "'a'' or 1=1 --' and tags.`;` = '\\'; "
                            "DELETE FROM runs'", &q, &e);
    CHECK(s != NULL);
    CHECK(!strstr(s, "DROP"));
    CHECK(!strstr(s, "DELETE"));
    CHECK(!strstr(s, "1=1"));
    CHECK(!strstr(s, "--"));
    CHECK_STR(q.binds[0].s, "x'); DROP TABLE runs; --");
    CHECK_STR(q.binds[1].s, "a' or 1=1 --");
    CHECK_STR(q.binds[2].s, ";");
    CHECK_STR(q.binds[3].s, "'; DELETE FROM runs");

    /* ") or 1=1 --" outside a string is a syntax error, not SQL. */
    CHECK(compile("status = 'x') or 1=1 --", &q, &e) == NULL);
    CHECK_CONTAINS(e.msg, "column 13");
    CHECK(compile("status = 'x'; DROP TABLE runs", &q, &e) == NULL);
    CHECK_CONTAINS(e.msg, "unexpected character ';'");
    orri_sql_free(&q);
}

static void test_errors(void)
{
    struct orri_sql q = {0};
    struct orr_error e;
    CHECK(compile("metrics.auc > ", &q, &e) == NULL);
    CHECK_INT(e.code, ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "filter: column 15: expected a value after '>'");
    CHECK_CONTAINS(e.msg, "\n  metrics.auc > \n");
    CHECK_CONTAINS(e.msg, "\n                ^");

    CHECK(compile("params.depth = 4 and metrics.auc >", &q, &e) == NULL);
    CHECK_CONTAINS(e.msg, "column 35: expected a value after '>'");

    CHECK(compile("metrics.auc > 'high'", &q, &e) == NULL);
    CHECK_CONTAINS(e.msg, "column 15: a metric compares with numbers");
    CHECK(compile("status = 3", &q, &e) == NULL);
    CHECK_CONTAINS(e.msg, "status is text");
    CHECK(compile("colour = 'red'", &q, &e) == NULL);
    CHECK_CONTAINS(e.msg, "column 1: unknown name 'colour'");
    CHECK(compile("metrics = 1", &q, &e) == NULL);
    CHECK_CONTAINS(e.msg, "needs a key");
    CHECK(compile("(status = 'a'", &q, &e) == NULL);
    CHECK_CONTAINS(e.msg, "expected ')' to close the '(' at column 1");
    CHECK(compile("status = 'a')", &q, &e) == NULL);
    CHECK_CONTAINS(e.msg, "')' without a matching '('");
    CHECK(compile("status = 'unterminated", &q, &e) == NULL);
    CHECK_CONTAINS(e.msg, "column 10: unterminated string");
    CHECK(compile("status = 'a' and", &q, &e) == NULL);
    CHECK_CONTAINS(e.msg, "nothing after 'and'");
    CHECK(compile("status 'a'", &q, &e) == NULL);
    CHECK_CONTAINS(e.msg, "expected an operator");
    CHECK(compile("params.a in (1, 'x')", &q, &e) == NULL);
    CHECK_CONTAINS(e.msg, "mix of strings and numbers");
    CHECK(compile("metrics.auc like 'a'", &q, &e) == NULL);
    CHECK_CONTAINS(e.msg, "'like' works on text");
    CHECK(compile("start > 'yesterday'", &q, &e) == NULL);
    CHECK_CONTAINS(e.msg, "expected a time");
    CHECK(compile("status = 'a\\q'", &q, &e) == NULL);
    CHECK_CONTAINS(e.msg, "unknown escape");
    CHECK(compile("metrics.`` > 1", &q, &e) == NULL);
    CHECK_CONTAINS(e.msg, "empty key");
    char longkey[300];
    memset(longkey, 'k', sizeof longkey);
    char f[400];
    snprintf(f, sizeof f, "metrics.%.260s > 1", longkey);
    CHECK(compile(f, &q, &e) == NULL);
    CHECK_CONTAINS(e.msg, "longer than 250 bytes");
    /* A long filter: the echo is a window that still fits, caret aligned
     * under the mistake. */
    char lf[600];
    snprintf(lf, sizeof lf, "%s metrics.auc >",
             "status = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' and");
    CHECK(compile(lf, &q, &e) == NULL);
    CHECK_CONTAINS(e.msg, "expected a value after '>'");
    const char *echo = strstr(e.msg, "\n  ");
    const char *caret = echo ? strstr(echo + 1, "\n  ") : NULL;
    CHECK(echo && caret);
    if (echo && caret) {
        size_t col = strlen(caret + 1) - 1;     /* caret's offset */
        CHECK_INT(caret[1 + col], '^');
        CHECK_INT(echo[col], '>');      /* the caret is just past it */
    }
    orri_sql_free(&q);
}

static void test_sort(void)
{
    struct orri_sql q = {0};
    struct orr_error e = {0};
    CHECK_INT(orri_sort_compile(NULL, &q, &e), ORR_OK);
    CHECK_STR(q.text.data, "r.start_ms");
    orri_sql_free(&q);
    CHECK_INT(orri_sort_compile("metrics.auc.max", &q, &e), ORR_OK);
    CHECK_CONTAINS(q.text.data, "max_value");
    CHECK_STR(q.binds[0].s, "auc");
    orri_sql_free(&q);
    CHECK_INT(orri_sort_compile("bogus", &q, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "order by: column 1: unknown name 'bogus'");
    CHECK_INT(orri_sort_compile("start; DROP TABLE runs", &q, &e),
              ORR_EINVAL);
    orri_sql_free(&q);
}

TEST_MAIN({"empty", test_empty}, {"shapes", test_shapes},
          {"injection", test_injection}, {"errors", test_errors},
          {"sort", test_sort})
