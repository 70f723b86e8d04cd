/*
 * test_meta_registry.c - core/meta/registry.c and schema migration 2:
 * a v1 database upgraded with its data, registration, URIs, aliases and
 * their audit trail, deletion rules, the gate, bad input.
 */
#define _XOPEN_SOURCE 700
#include "meta_test_util.h"

#include "meta/meta_internal.h"
#include "meta/registry.h"
#include "test.h"

static const char D1[] =
    "1111111111111111111111111111111111111111111111111111111111111111";
static const char D2[] =
    "2222222222222222222222222222222222222222222222222222222222222222";
static const char DS[] =
    "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";

struct ctx {
    char    dir[256], path[512];
    struct orr_meta *m;
    char    run[ORR_RUN_ID_SIZE];
};

static void setup(struct ctx *c)
{
    tmp_dir(c->dir, sizeof c->dir);
    snprintf(c->path, sizeof c->path, "%s/orrery.db", c->dir);
    c->m = open_ok(c->path);
    new_run(c->m, c->run);
    struct orr_error e = {0};
    int64_t step = 0;
    CHECK_INT(orr_meta_step_begin(c->m, c->run, "train", &step, &e), 0);
    CHECK_INT(orr_meta_artifact(c->m, step, ORR_EVENT_INPUT, DS, 10,
                                "dataset", "data.csv", &e), 0);
    CHECK_INT(orr_meta_artifact(c->m, step, ORR_EVENT_OUTPUT, D1, 5,
                                "model", "m.bin", &e), 0);
    CHECK_INT(orr_meta_log_metric(c->m, c->run, "auc", 0.5, 0, &e), 0);
    CHECK_INT(orr_meta_log_metric(c->m, c->run, "auc", 0.95, 1, &e), 0);
    CHECK_INT(orr_meta_step_end(c->m, step, ORR_RUN_SUCCEEDED, &e), 0);
}

static void teardown(struct ctx *c)
{
    orr_meta_close(c->m);
    tmp_rm(c->dir);
}

static int64_t reg(struct ctx *c, const char *name, const char *run,
                   const char *art, const char *alias)
{
    struct orr_model_version_spec s = {
        .name = name, .run_id = run, .artifact = art, .artifact_size = -1,
        .alias = alias, .datasets_from_run = 1,
    };
    struct orr_error e = {0};
    int64_t v = 0;
    int rc = orr_registry_register(c->m, &s, &v, &e);
    if (rc)
        fprintf(stderr, "register: %s\n", e.msg);
    return rc ? -rc : v;
}

static void test_migrate_v1(void)
{
    char dir[256], path[512];
    tmp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/orrery.db", dir);
    /* A database as the binary before migration 2 left it. */
    orri_meta_test_schema_limit = 1;
    struct orr_meta *m = open_ok(path);
    char run[ORR_RUN_ID_SIZE];
    new_run(m, run);
    struct orr_error e = {0};
    CHECK_INT(orr_meta_log_param(m, run, "depth", "4", &e), 0);
    for (int i = 0; i < 3000; i++)
        CHECK_INT(orr_meta_log_metric(m, run, "loss", 1.0 / (i + 1), i, &e),
                  0);
    CHECK_INT(orr_meta_artifact(m, 0, ORR_EVENT_INPUT, D1, 7, "model", "m",
                                &e), 0);
    orr_meta_close(m);
    orri_meta_test_schema_limit = 0;
    CHECK_INT(sql_int(path, "PRAGMA user_version"), 1);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM sqlite_schema WHERE name"
                      " = 'registered_models'"), 0);

    m = open_ok(path);
    CHECK_INT(sql_int(path, "PRAGMA user_version"),
              orri_meta_schema_version());
    CHECK(orri_meta_schema_version() >= 2);
    struct orr_run_summary sum;
    CHECK_INT(orr_meta_run_summary(m, run, &sum, &e), 0);
    CHECK_INT(sum.n_params, 1);
    CHECK_INT(sum.n_metrics, 3000);
    struct collected col = {0};
    CHECK_INT(orr_meta_metric_series(m, run, "loss", collect, &col, &e), 0);
    CHECK_INT(col.n, 3000);
    CHECK(col.n == 3000 && col.p[2999].value == 1.0 / 3000);
    free(col.p);
    /* The registry works on the upgraded file, with the old run. */
    struct orr_model_version_spec s = {.name = "old", .run_id = run,
                                       .artifact = D1, .artifact_size = -1};
    int64_t v = 0;
    CHECK_INT(orr_registry_register(m, &s, &v, &e), 0);
    CHECK_INT(v, 1);
    double loss = 0;
    CHECK_INT(orr_registry_metric(m, "old", 1, "loss", &loss, &e), 0);
    CHECK(loss == 1.0 / 3000);
    orr_meta_close(m);
    CHECK_INT(sql_int(path, "PRAGMA foreign_key_check"), -1);
    tmp_rm(dir);
}

static void test_register_resolve(void)
{
    struct ctx c;
    setup(&c);
    struct orr_error e = {0};
    CHECK_INT(reg(&c, "cancer", c.run, D1, "champion"), 1);
    CHECK_INT(reg(&c, "cancer", c.run, "1111", NULL), 2);
    struct orr_model_version v;
    CHECK_INT(orr_registry_resolve(c.m, "models:/cancer@champion", &v, &e),
              0);
    CHECK_INT(v.version, 1);
    CHECK_STR(v.run_id, c.run);
    CHECK_STR(v.artifact, D1);
    CHECK_INT(orr_registry_resolve(c.m, "models:/cancer", &v, &e), 0);
    CHECK_INT(v.version, 2);
    CHECK_INT(orr_registry_resolve(c.m, "cancer/latest", &v, &e), 0);
    CHECK_INT(v.version, 2);
    CHECK_INT(orr_registry_resolve(c.m, "cancer/1", &v, &e), 0);
    CHECK_INT(v.version, 1);
    /* datasets came from the run */
    CHECK_INT(sql_int(c.path, "SELECT count(*) FROM model_version_datasets"),
              2);
    /* metric snapshot taken at registration (points were buffered) */
    CHECK_INT(sql_int(c.path, "SELECT count(*) FROM model_versions WHERE"
                      " json_extract(metrics, '$.auc') = 0.95"), 2);
    /* an unrecorded artifact is refused unless its size is given */
    CHECK(reg(&c, "cancer", NULL, D2, NULL) == -ORR_ENOTFOUND);
    struct orr_model_version_spec s = {.name = "other", .artifact = D2,
                                       .artifact_size = 3};
    int64_t n = 0;
    CHECK_INT(orr_registry_register(c.m, &s, &n, &e), 0);
    CHECK_INT(sql_int(c.path, "SELECT size FROM artifacts WHERE kind ="
                      " 'model' AND digest LIKE '2222%'"), 3);
    /* the failed registration left nothing behind (one transaction) */
    CHECK_INT(sql_int(c.path, "SELECT last_version FROM registered_models"
                      " WHERE name = 'cancer'"), 2);
    teardown(&c);
}

static void test_bad_input(void)
{
    struct ctx c;
    setup(&c);
    struct orr_error e = {0};
    struct orr_model_version v;
    CHECK_INT(reg(&c, "m", c.run, D1, NULL), 1);
    static const char *const bad[] = {
        "", "models:", "models:/", "models:m", "models:/m/0", "models:/m/x",
        "models:/m/1/2", "models:/m@", "m@a b", "m@latest", "-m", "m/-1",
        "m@\xc3\xa9", "m/99999999999999999999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = orr_registry_resolve(c.m, bad[i], &v, &e);
        if (rc != ORR_EINVAL)
            fprintf(stderr, "uri '%s': %d %s\n", bad[i], rc, e.msg);
        CHECK_INT(rc, ORR_EINVAL);
    }
    CHECK_INT(orr_registry_resolve(c.m, "models:/m/1/2", &v, &e),
              ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "is not a model URI");
    CHECK_INT(orr_registry_resolve(c.m, "nope", &v, &e), ORR_ENOTFOUND);
    CHECK_STR(e.msg, "no model 'nope' (known: m)");
    CHECK_INT(orr_registry_resolve(c.m, "m/5", &v, &e), ORR_ENOTFOUND);
    CHECK_STR(e.msg, "model 'm' has no version 5 (versions: 1)");
    CHECK_INT(orr_registry_resolve(c.m, "m@prod", &v, &e), ORR_ENOTFOUND);
    CHECK_CONTAINS(e.msg, "model 'm' has no alias 'prod' (it has none");
    CHECK_INT(orr_registry_alias_set(c.m, "m", "a'; DROP TABLE runs; --", 1,
                                     NULL, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "is not allowed");
    char longname[200];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK(reg(&c, longname, NULL, D1, NULL) == -ORR_EINVAL);
    CHECK(reg(&c, "has space", NULL, D1, NULL) == -ORR_EINVAL);
    CHECK(reg(&c, "m", "zz", D1, NULL) == -ORR_EINVAL);
    CHECK(reg(&c, "m", "0123456789", D1, NULL) == -ORR_ENOTFOUND);
    CHECK(reg(&c, "m", NULL, "11", NULL) == -ORR_EINVAL);
    CHECK_INT(sql_int(c.path, "SELECT count(*) FROM runs"), 1);
    struct orr_page p = {.cursor = "abc"};
    CHECK_INT(orr_registry_versions(c.m, "m", &p, NULL, NULL, &e),
              ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "bad cursor");
    teardown(&c);
}

static int count_event(void *ctx, const struct orr_alias_event *ev)
{
    (void)ev;
    ++*(int *)ctx;
    return 0;
}

static void test_aliases_and_delete(void)
{
    struct ctx c;
    setup(&c);
    struct orr_error e = {0};
    CHECK_INT(reg(&c, "m", c.run, D1, "champion"), 1);
    CHECK_INT(reg(&c, "m", c.run, D1, NULL), 2);
    setenv("USER", "alice", 1);
    CHECK_INT(orr_registry_alias_set(c.m, "m", "champion", 2, "why", &e), 0);
    CHECK_INT(orr_registry_alias_set(c.m, "m", "champion", 2, "again", &e),
              0);
    CHECK_INT(sql_int(c.path, "SELECT count(*) FROM alias_events"), 2);
    CHECK_INT(sql_int(c.path, "SELECT old_version * 10 + new_version FROM"
                      " alias_events WHERE user = 'alice'"), 12);
    CHECK_INT(orr_registry_version_delete(c.m, "m", 2, 0, NULL, &e),
              ORR_EBUSY);
    CHECK_CONTAINS(e.msg, "is @champion");
    CHECK_INT(orr_registry_version_delete(c.m, "m", 2, 1, "bad", &e), 0);
    CHECK_INT(sql_int(c.path, "SELECT count(*) FROM model_aliases"), 0);
    CHECK_INT(sql_int(c.path, "SELECT count(*) FROM alias_events WHERE"
                      " new_version IS NULL AND old_version = 2"), 1);
    int n = 0;
    struct orr_page p = {.limit = 2};
    CHECK_INT(orr_registry_alias_history(c.m, "m", "champion", &p,
                                         count_event, &n, &e), 0);
    CHECK_INT(n, 2);
    CHECK(p.next[0] != '\0');
    p.cursor = p.next;
    CHECK_INT(orr_registry_alias_history(c.m, "m", "champion", &p,
                                         count_event, &n, &e), 0);
    CHECK_INT(n, 3);
    CHECK_STR(p.next, "");
    CHECK_INT(reg(&c, "m", NULL, D1, NULL), 3);
    CHECK_INT(orr_registry_alias_delete(c.m, "m", "champion", NULL, &e),
              ORR_ENOTFOUND);
    teardown(&c);
}

static void test_gate(void)
{
    struct ctx c;
    setup(&c);
    struct orr_error e = {0};
    char run2[ORR_RUN_ID_SIZE];
    new_run(c.m, run2);
    CHECK_INT(orr_meta_log_metric(c.m, run2, "auc", 0.952, 0, &e), 0);
    CHECK_INT(orr_meta_log_metric(c.m, c.run, "auc", 0.950, 2, &e), 0);
    struct orr_gate_result r;
    CHECK_INT(reg(&c, "m", c.run, D1, NULL), 1);
    CHECK_INT(orr_registry_gate(c.m, "m", 1, "auc", 0.002, 0, NULL, &r, &e),
              0);
    CHECK(r.pass && !r.has_champion);
    CHECK_INT(orr_registry_alias_set(c.m, "m", "champion", 1, NULL, &e), 0);
    CHECK_INT(reg(&c, "m", run2, D1, NULL), 2);
    /* 0.952 - 0.950 is a hair under 0.002 in binary: still a pass */
    CHECK_INT(orr_registry_gate(c.m, "m", 2, "auc", 0.002, 0, NULL, &r, &e),
              0);
    CHECK(r.pass);
    CHECK_CONTAINS(r.message, "pass: v2 auc 0.952 vs @champion v1 0.95");
    CHECK_INT(orr_registry_gate(c.m, "m", 2, "auc", 0.003, 0, NULL, &r, &e),
              0);
    CHECK(!r.pass);
    CHECK_INT(orr_registry_gate(c.m, "m", 2, "auc", 0.0, 1, NULL, &r, &e),
              0);
    CHECK(!r.pass);
    CHECK_INT(orr_registry_gate(c.m, "m", 1, "auc", 0.001, 1, NULL, &r, &e),
              0);
    CHECK(!r.pass);
    CHECK_INT(orr_registry_gate(c.m, "m", 2, "loss", 0, 0, NULL, &r, &e),
              ORR_ENOTFOUND);
    CHECK_STR(e.msg, "candidate version 2 of 'm' has no metric 'loss' (it "
                     "has: auc)");
    CHECK_INT(orr_registry_gate(c.m, "m", 7, "auc", 0, 0, NULL, &r, &e),
              ORR_ENOTFOUND);
    /* NaN never passes */
    CHECK_INT(orr_meta_log_metric(c.m, run2, "auc", NAN, 5, &e), 0);
    CHECK_INT(orr_registry_gate(c.m, "m", 2, "auc", -1, 0, NULL, &r, &e), 0);
    CHECK(!r.pass && isnan(r.candidate));
    teardown(&c);
}

static void test_snapshot_after_run_delete(void)
{
    struct ctx c;
    setup(&c);
    struct orr_error e = {0};
    CHECK_INT(reg(&c, "m", c.run, D1, NULL), 1);
    orr_meta_close(c.m);
    char q[256];
    snprintf(q, sizeof q, "PRAGMA foreign_keys = ON; DELETE FROM runs WHERE"
             " uuid = '%s'", c.run);
    CHECK_INT(sql_exec(c.path, q), SQLITE_OK);
    c.m = open_ok(c.path);
    struct orr_model_version v;
    CHECK_INT(orr_registry_resolve(c.m, "m/1", &v, &e), 0);
    CHECK_STR(v.run_id, "");
    double auc = 0;
    CHECK_INT(orr_registry_metric(c.m, "m", 1, "auc", &auc, &e), 0);
    CHECK(auc == 0.95);
    teardown(&c);
}

TEST_MAIN({"migrate_v1", test_migrate_v1},
          {"register_resolve", test_register_resolve},
          {"bad_input", test_bad_input},
          {"aliases_and_delete", test_aliases_and_delete},
          {"gate", test_gate},
          {"snapshot_after_run_delete", test_snapshot_after_run_delete})
