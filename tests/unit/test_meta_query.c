/*
 * tests/unit/test_meta_query.c - run search against a real database:
 * filters, order, cursor pagination, the query plan of the common filter,
 * hostile keys and values, prefix ids, the run document, export/import,
 * and the flusher committing points without any further call.
 */
#define _XOPEN_SOURCE 700
#include "meta_test_util.h"

#include <math.h>
#include <time.h>

#include "meta/query.h"
#include "test.h"

struct fx {
    char dir[256], path[300];
    struct orr_meta *m;
    char run[12][ORR_RUN_ID_SIZE];
};

/* 12 runs: depth = i % 4, auc = i / 100, team risk for even i; run 11
 * has no auc; run 5 failed. */
static void setup(struct fx *f)
{
    tmp_dir(f->dir, sizeof f->dir);
    snprintf(f->path, sizeof f->path, "%s/o.db", f->dir);
    f->m = open_ok(f->path);
    struct orr_error e = {0};
    for (int i = 0; i < 12; i++) {
        new_run(f->m, f->run[i]);
        char v[16];
        snprintf(v, sizeof v, "%d", i % 4);
        orr_meta_log_param(f->m, f->run[i], "depth", v, &e);
        orr_meta_log_param(f->m, f->run[i], "opt", i % 3 ? "adam" : "sgd",
                           &e);
        orr_meta_set_tag(f->m, f->run[i], "team", i % 2 ? "ads" : "risk",
                         &e);
        if (i != 11)
            orr_meta_log_metric(f->m, f->run[i], "auc", i / 100.0, 0, &e);
        orr_meta_log_metric(f->m, f->run[i], "loss", 1.0 / (i + 1), 0, &e);
        orr_meta_log_metric(f->m, f->run[i], "loss", 2.0, 1, &e);
        orr_meta_run_end(f->m, f->run[i], i == 5 ? ORR_RUN_FAILED
                                                 : ORR_RUN_SUCCEEDED, &e);
    }
    CHECK_STR(e.msg, "");
}

static void teardown(struct fx *f)
{
    orr_meta_close(f->m);
    tmp_rm(f->dir);
}

/* Ids of a list, as indices into f->run, in a string "3,2,1". */
static const char *ids(struct fx *f, const struct orr_runs_query *q,
                       char *out, size_t cap, int *rc)
{
    struct orr_run_list *l = NULL;
    struct orr_error e = {0};
    *rc = orr_meta_runs_list(f->m, q, &l, &e);
    out[0] = '\0';
    if (*rc) {
        snprintf(out, cap, "error: %.200s", e.msg);
        return out;
    }
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++)
        for (int j = 0; j < 12; j++)
            if (!strcmp(l->rows[i].id, f->run[j]))
                k += (size_t)snprintf(out + k, cap - k, "%s%d", k ? "," : "",
                                      j);
    orr_run_list_free(l);
    return out;
}

static void test_filters(void)
{
    struct fx f;
    setup(&f);
    char b[256];
    int rc;
    struct orr_runs_query q = {.order_by = "id"};
    /* Creation order decides among equal start times, so order by auc. */
    q.order_by = "metrics.auc";
    q.filter = "metrics.auc > 0.07";
    CHECK_STR(ids(&f, &q, b, sizeof b, &rc), "10,9,8");
    q.filter = "metrics.auc >= 0.04 and params.depth = 0";
    CHECK_STR(ids(&f, &q, b, sizeof b, &rc), "8,4");
    q.filter = "params.depth = '0' and tags.team = 'risk'";
    CHECK_STR(ids(&f, &q, b, sizeof b, &rc), "8,4,0");
    q.filter = "(params.depth = 1 or params.depth = 2) and not "
               "(status = 'failed')";
    CHECK_STR(ids(&f, &q, b, sizeof b, &rc), "10,9,6,2,1");
    q.filter = "params.opt in ('sgd') and metrics.auc < 0.05";
    CHECK_STR(ids(&f, &q, b, sizeof b, &rc), "3,0");
    q.filter = "tags.team like 'RI%' and metrics.loss.min < 0.2";
    CHECK_STR(ids(&f, &q, b, sizeof b, &rc), "10,8,6");
    q.filter = "metrics.loss = 2";       /* last value: step 1 */
    CHECK_STR(ids(&f, &q, b, sizeof b, &rc), "10,9,8,7,6,5,4,3,2,1,0,11");
    q.filter = "status = 'failed'";
    CHECK_STR(ids(&f, &q, b, sizeof b, &rc), "5");
    q.filter = "metrics.nope > 0";
    CHECK_STR(ids(&f, &q, b, sizeof b, &rc), "");
    q.filter = "params.depth > 2 and workflow = 'wf' and duration >= 0";
    CHECK_STR(ids(&f, &q, b, sizeof b, &rc), "7,3,11");
    /* Ascending; runs without the key still last. */
    q.filter = "metrics.auc < 0.03 or metrics.auc > 0.09 or status = "
               "'failed'";
    q.ascending = 1;
    CHECK_STR(ids(&f, &q, b, sizeof b, &rc), "0,1,2,5,10");
    q.filter = "params.depth = 3";
    q.order_by = "metrics.auc";
    q.ascending = 0;
    CHECK_STR(ids(&f, &q, b, sizeof b, &rc), "7,3,11");
    q.ascending = 1;
    CHECK_STR(ids(&f, &q, b, sizeof b, &rc), "3,7,11");
    /* Bad input. */
    q.filter = "metrics.auc >";
    CHECK_CONTAINS(ids(&f, &q, b, sizeof b, &rc), "column 14: expected a "
                   "value after '>'");
    CHECK_INT(rc, ORR_EINVAL);
    q.filter = NULL;
    q.order_by = "metrics.";
    ids(&f, &q, b, sizeof b, &rc);
    CHECK_INT(rc, ORR_EINVAL);
    q.order_by = NULL;
    q.limit = ORR_RUNS_LIMIT_MAX + 1;
    CHECK_CONTAINS(ids(&f, &q, b, sizeof b, &rc), "above the maximum");
    teardown(&f);
}

static void test_pagination(void)
{
    struct fx f;
    setup(&f);
    struct orr_error e = {0};
    static const char *const orders[] = {"start", "metrics.auc",
                                         "params.opt", "params.depth",
                                         "status", "duration"};
    for (size_t o = 0; o < sizeof orders / sizeof *orders; o++) {
        for (int asc = 0; asc < 2; asc++) {
            struct orr_runs_query q = {.order_by = orders[o],
                                       .ascending = asc};
            char all[256], paged[256] = "";
            int rc;
            ids(&f, &q, all, sizeof all, &rc);
            /* Pages of 5 give the same sequence as one page. */
            char cursor[ORR_CURSOR_SIZE] = "";
            size_t k = 0;
            int pages = 0;
            do {
                struct orr_run_list *l = NULL;
                q.limit = 5;
                q.cursor = cursor[0] ? cursor : NULL;
                CHECK_INT(orr_meta_runs_list(f.m, &q, &l, &e), ORR_OK);
                if (!l)
                    break;
                for (size_t i = 0; i < l->n; i++)
                    for (int j = 0; j < 12; j++)
                        if (!strcmp(l->rows[i].id, f.run[j]))
                            k += (size_t)snprintf(paged + k,
                                                  sizeof paged - k, "%s%d",
                                                  k ? "," : "", j);
                snprintf(cursor, sizeof cursor, "%s", l->next_cursor);
                orr_run_list_free(l);
                pages++;
            } while (cursor[0] && pages < 10);
            CHECK_STR(paged, all);
            CHECK_INT(pages, 3);
        }
    }
    /* A cursor from another query, and garbage. */
    struct orr_runs_query q = {.limit = 2};
    struct orr_run_list *l = NULL;
    CHECK_INT(orr_meta_runs_list(f.m, &q, &l, &e), ORR_OK);
    char c[ORR_CURSOR_SIZE];
    snprintf(c, sizeof c, "%s", l->next_cursor);
    orr_run_list_free(l);
    q.cursor = c;
    q.filter = "status = 'failed'";
    CHECK_INT(orr_meta_runs_list(f.m, &q, &l, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "belongs to another filter");
    q.filter = NULL;
    q.cursor = "zz";
    CHECK_INT(orr_meta_runs_list(f.m, &q, &l, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "malformed cursor");
    q.cursor = "31";
    CHECK_INT(orr_meta_runs_list(f.m, &q, &l, &e), ORR_EINVAL);
    teardown(&f);
}

/* The common filter uses the (key_id, last_value) index, not a scan. */
static void test_plan(void)
{
    struct fx f;
    setup(&f);
    struct orr_error e = {0};
    char *plan = NULL;
    struct orr_runs_query q = {.filter = "metrics.auc > 0.95",
                               .order_by = "metrics.auc", .limit = 20};
    CHECK_INT(orri_meta_runs_plan(f.m, &q, &plan, &e), ORR_OK);
    CHECK_CONTAINS(plan, "metric_series USING COVERING INDEX "
                         "metric_series_key (key_id=? AND last_value>?)");
    CHECK(!strstr(plan, "SCAN metric_series"));
    CHECK(!strstr(plan, "SCAN r\n"));
    free(plan);
    q.filter = "params.depth = '4' and tags.team = 'risk'";
    CHECK_INT(orri_meta_runs_plan(f.m, &q, &plan, &e), ORR_OK);
    CHECK_CONTAINS(plan, "run_params_kv (key=? AND value=?)");
    CHECK_CONTAINS(plan, "run_tags_kv (key=? AND value=?)");
    free(plan);
    /* No filter, newest first: the start index, no sort. */
    q.filter = NULL;
    q.order_by = NULL;
    CHECK_INT(orri_meta_runs_plan(f.m, &q, &plan, &e), ORR_OK);
    CHECK_CONTAINS(plan, "runs_start");
    CHECK(!strstr(plan, "TEMP B-TREE"));
    free(plan);
    teardown(&f);
}

/* Keys and values that look like SQL are data: they match themselves and
 * the database is untouched. */
static void test_injection(void)
{
    struct fx f;
    setup(&f);
    struct orr_error e = {0};
    const char *evil_key = "x'); DROP TABLE runs; --";
    const char *evil_val = "a' or 1=1 --";
    orr_meta_log_param(f.m, f.run[3], evil_key, evil_val, &e);
    orr_meta_set_tag(f.m, f.run[4], ";", ") or 1=1 --", &e);
    orr_meta_log_metric(f.m, f.run[5], "q\"uote'", 7, 0, &e);
    char b[256];
    int rc;
    struct orr_runs_query q = {0};
    q.filter = "params.`x'); DROP TABLE runs; --` = 'a'' or 1=1 --'";
    CHECK_STR(ids(&f, &q, b, sizeof b, &rc), "3");
    q.filter = "params.`x'); DROP TABLE runs; --` = 'a'";
    CHECK_STR(ids(&f, &q, b, sizeof b, &rc), "");
    q.filter = "tags.`;` = ') or 1=1 --'";
    CHECK_STR(ids(&f, &q, b, sizeof b, &rc), "4");
    q.filter = "metrics.`q\"uote'` = 7";
    CHECK_STR(ids(&f, &q, b, sizeof b, &rc), "5");
    q.filter = "status = '' or 1=1 --'";
    ids(&f, &q, b, sizeof b, &rc);
    CHECK_INT(rc, ORR_EINVAL);
    q.filter = "workflow like '%'' OR ''1''=''1'";
    CHECK_STR(ids(&f, &q, b, sizeof b, &rc), "");
    q.filter = NULL;
    q.order_by = "params.`x'); DROP TABLE runs; --`";
    CHECK_CONTAINS(ids(&f, &q, b, sizeof b, &rc), "3,");
    CHECK_INT(sql_int(f.path, "SELECT count(*) FROM runs"), 12);
    teardown(&f);
}

static void test_resolve_and_json(void)
{
    struct fx f;
    setup(&f);
    struct orr_error e = {0};
    char id[ORR_RUN_ID_SIZE], pre[16];
    snprintf(pre, sizeof pre, "%.10s", f.run[2]);
    CHECK_INT(orr_meta_run_resolve(f.m, pre, id, &e), ORR_OK);
    CHECK_STR(id, f.run[2]);
    CHECK_INT(orr_meta_run_resolve(f.m, f.run[2], id, &e), ORR_OK);
    CHECK_INT(orr_meta_run_resolve(f.m, "0123456789abcdef", id, &e),
              ORR_ENOTFOUND);
    CHECK_CONTAINS(e.msg, "no run 0123456789abcdef");
    CHECK_INT(orr_meta_run_resolve(f.m, "abc", id, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "too short");
    CHECK_INT(orr_meta_run_resolve(f.m, "zzzz'--", id, &e), ORR_EINVAL);
    CHECK_INT(orr_meta_run_resolve(f.m, "", id, &e), ORR_EINVAL);
    /* Ambiguity: a prefix shared by two ids (made so by the test). */
    sql_exec(f.path, "UPDATE runs SET uuid = 'ffff0000' || substr(uuid, 9)"
                     " WHERE id IN (1, 2)");
    CHECK_INT(orr_meta_run_resolve(f.m, "ffff", id, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "matches several runs");

    json_t *doc = NULL;
    CHECK_INT(orr_meta_run_json(f.m, f.run[6], 0, &doc, &e), ORR_OK);
    CHECK_STR(json_string_value(json_object_get(doc, "status")),
              "succeeded");
    CHECK_STR(json_string_value(json_object_get(
                  json_object_get(doc, "params"), "opt")), "sgd");
    json_t *loss = json_object_get(json_object_get(doc, "metrics"), "loss");
    CHECK_INT(json_integer_value(json_object_get(loss, "n")), 2);
    CHECK_NEAR(json_real_value(json_object_get(loss, "last")), 2.0, 0);
    CHECK_NEAR(json_real_value(json_object_get(loss, "min")), 1.0 / 7, 1e-15);
    CHECK(!json_object_get(loss, "points"));
    json_decref(doc);
    CHECK_INT(orr_meta_run_json(f.m, "00000000000000000000000000000000", 0,
                                &doc, &e), ORR_ENOTFOUND);
    teardown(&f);
}

/* Export, import into another database, export again: same document. */
static void test_export_import(void)
{
    struct fx f;
    setup(&f);
    struct orr_error e = {0};
    int64_t step = 0;
    char run[ORR_RUN_ID_SIZE];
    new_run(f.m, run);
    orr_meta_step_begin(f.m, run, "train", &step, &e);
    orr_meta_artifact(f.m, step, ORR_EVENT_OUTPUT,
                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                      "aaaaaa", 42, "model", "m.bin", &e);
    for (int i = 0; i < 3000; i++)
        orr_meta_log_metric(f.m, run, "loss", 1.0 / (i + 1), i, &e);
    orr_meta_log_metric(f.m, run, "odd", NAN, 0, &e);
    orr_meta_log_metric(f.m, run, "odd", INFINITY, 1, &e);
    orr_meta_log_metric(f.m, run, "odd", -INFINITY, 2, &e);
    orr_meta_log_metric(f.m, run, "odd", -0.0, 3, &e);
    orr_meta_log_param(f.m, run, "lr", "0.1", &e);
    orr_meta_set_tag(f.m, run, "note", "it's \"quoted\"", &e);
    orr_meta_step_end(f.m, step, ORR_RUN_SUCCEEDED, &e);
    orr_meta_run_end(f.m, run, ORR_RUN_SUCCEEDED, &e);
    CHECK_STR(e.msg, "");

    json_t *a = NULL, *b = NULL;
    CHECK_INT(orr_meta_run_json(f.m, run, 1, &a, &e), ORR_OK);
    char *text = json_dumps(a, JSON_SORT_KEYS);
    json_t *odd = json_object_get(json_object_get(a, "metrics"), "odd");
    CHECK_STR(json_string_value(json_array_get(json_array_get(
                  json_object_get(odd, "points"), 0), 2)), "NaN");
    CHECK_STR(json_string_value(json_array_get(json_array_get(
                  json_object_get(odd, "points"), 2), 2)), "-Infinity");

    char path2[320];
    snprintf(path2, sizeof path2, "%s/other.db", f.dir);
    struct orr_meta *m2 = open_ok(path2);
    char id[ORR_RUN_ID_SIZE];
    json_t *re = json_loads(text, 0, NULL);
    CHECK_INT(orr_meta_run_import(m2, re, id, &e), ORR_OK);
    CHECK_STR(id, run);
    CHECK_INT(orr_meta_run_json(m2, run, 1, &b, &e), ORR_OK);
    char *text2 = json_dumps(b, JSON_SORT_KEYS);
    CHECK(text2 && !strcmp(text2, text));
    /* Bit-exact values: -0.0 keeps its sign. */
    struct collected c = {0};
    CHECK_INT(orr_meta_metric_series(m2, run, "odd", collect, &c, &e),
              ORR_OK);
    CHECK_INT(c.n, 4);
    if (c.n == 4) {
        CHECK(isnan(c.p[0].value) && isinf(c.p[1].value));
        CHECK(c.p[3].value == 0 && signbit(c.p[3].value));
    }
    free(c.p);
    /* Again: refused, nothing changed. */
    CHECK_INT(orr_meta_run_import(m2, re, id, &e), ORR_EEXIST);
    CHECK_CONTAINS(e.msg, "exists already");
    /* A malformed document half-way leaves nothing behind. */
    json_object_set_new(re, "id", json_string(
        "0123456789abcdef0123456789abcdef"));
    json_array_append_new(json_object_get(json_object_get(
        json_object_get(re, "metrics"), "loss"), "points"),
        json_string("oops"));
    CHECK_INT(orr_meta_run_import(m2, re, id, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "is not [step, time_ms, value]");
    CHECK_INT(sql_int(path2, "SELECT count(*) FROM runs"), 1);
    json_t *junk = json_pack("{s:s}", "hello", "world");
    CHECK_INT(orr_meta_run_import(m2, junk, id, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "not an Orrery run export");
    json_decref(junk);
    json_decref(re);
    free(text);
    free(text2);
    json_decref(a);
    json_decref(b);
    orr_meta_close(m2);
    teardown(&f);
}

/* A process that logs and then stops logging still gets its points
 * committed, by the flusher thread, without another call. */
static void test_flusher(void)
{
    struct fx f;
    setup(&f);
    struct orr_error e = {0};
    char run[ORR_RUN_ID_SIZE];
    new_run(f.m, run);
    CHECK_INT(orr_meta_flush(f.m, &e), ORR_OK);
    for (int i = 0; i < 10; i++)
        orr_meta_log_metric(f.m, run, "idle", i, i, &e);
    long long n = 0;
    /* Waits for the commit (at most 10 s), so speed does not matter. */
    char q[200];
    snprintf(q, sizeof q, "SELECT coalesce(sum(n), 0) FROM metric_series s "
             "JOIN runs r ON r.id = s.run_id WHERE r.uuid = '%s'", run);
    for (int i = 0; i < 1000 && (n = sql_int(f.path, q)) != 10; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    CHECK_INT(n, 10);
    teardown(&f);
}

TEST_MAIN({"filters", test_filters}, {"pagination", test_pagination},
          {"plan", test_plan}, {"injection", test_injection},
          {"resolve_and_json", test_resolve_and_json},
          {"export_import", test_export_import}, {"flusher", test_flusher})
