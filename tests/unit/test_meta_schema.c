/*
 * test_meta_schema.c - schema migration 3: a schema-2 database with the
 * orch_* tables the runner used to create on the fly (and rows in them)
 * and dataset versions kept as pointer artifacts migrates intact; the
 * orchestration store migrates an old database itself; dataset_versions
 * through core/meta/datasets.h.
 */
#define _XOPEN_SOURCE 700
#include "meta_test_util.h"

#include "meta/datasets.h"
#include "meta/meta_internal.h"
#include "runner/orch_internal.h"
#include "test.h"

static const char D1[] =
    "1111111111111111111111111111111111111111111111111111111111111111";
static const char D2[] =
    "2222222222222222222222222222222222222222222222222222222222222222";

/* What core/runner/store.c ran at every open before migration 3. */
static const char old_orch_sql[] =
    "CREATE TABLE IF NOT EXISTS orch_runs (run_uuid TEXT PRIMARY KEY,"
    " workflow TEXT NOT NULL, script_digest TEXT NOT NULL,"
    " script_path TEXT NOT NULL, params_json TEXT NOT NULL,"
    " updated_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS orch_steps (run_uuid TEXT NOT NULL,"
    " name TEXT NOT NULL, step_id INTEGER, status TEXT NOT NULL,"
    " cached INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL"
    " DEFAULT 0, cache_key TEXT, output TEXT, output_size INTEGER,"
    " log TEXT, error TEXT, duration_ms REAL, seq INTEGER NOT NULL,"
    " PRIMARY KEY (run_uuid, name)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS orch_cache (cache_key TEXT PRIMARY KEY,"
    " output TEXT NOT NULL, output_size INTEGER NOT NULL,"
    " plugins TEXT NOT NULL, run_uuid TEXT NOT NULL,"
    " step_id INTEGER NOT NULL, created_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO orch_runs VALUES ('r1', 'wf', 'd', '/x.lua', '{}', 1);"
    "INSERT INTO orch_steps VALUES ('r1', 'train', 7, 'succeeded', 0, 1,"
    " 'k', 'o', 3, NULL, NULL, 1.5, 1);"
    "INSERT INTO orch_cache VALUES ('k', 'o', 3, 'p@1', 'r1', 7, 1);"
    /* orrery data add, before dataset_versions: the dataset artifact and
     * a pointer artifact per version, version N the N-th by id. */
    "INSERT INTO artifacts (digest, size, kind, name, created_ms) VALUES"
    " ('1111111111111111111111111111111111111111111111111111111111111111',"
    "  10, 'dataset', 'cancer', 5),"
    " ('2222222222222222222222222222222222222222222222222222222222222222',"
    "  20, 'dataset', 'cancer', 6),"
    " ('aaaa', 1, 'dataset-version', 'cancer', 7),"
    " ('bbbb', 1, 'dataset-version', 'pen', 8),"
    " ('cccc', 1, 'dataset-version', 'cancer', 9);"
    "UPDATE artifacts SET uri = 'artifact:' ||"
    " '1111111111111111111111111111111111111111111111111111111111111111'"
    " WHERE digest IN ('aaaa', 'bbbb');"
    "UPDATE artifacts SET uri = 'artifact:' ||"
    " '2222222222222222222222222222222222222222222222222222222222222222'"
    " WHERE digest = 'cccc';";

static void make_v2(const char *path)
{
    orri_meta_test_schema_limit = 2;
    struct orr_meta *m = open_ok(path);
    orr_meta_close(m);
    orri_meta_test_schema_limit = 0;
    CHECK_INT(sql_int(path, "PRAGMA user_version"), 2);
    CHECK_INT(sql_exec(path, old_orch_sql), 0);
}

static void check_version(struct orr_meta *m, const char *name, int64_t v,
                          const char *want, int64_t want_v)
{
    struct orr_error e = {0};
    char d[ORR_DIGEST_HEX_LEN + 1] = "";
    int64_t got = v;
    CHECK_INT(orr_meta_dataset_get(m, name, &got, d, &e), 0);
    CHECK_STR(d, want);
    CHECK_INT(got, want_v);
}

static void test_migrate_v2(void)
{
    char dir[256], path[512];
    tmp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/orrery.db", dir);
    make_v2(path);
    struct orr_meta *m = open_ok(path);
    CHECK_INT(sql_int(path, "PRAGMA user_version"),
              orri_meta_schema_version());
    CHECK(orri_meta_schema_version() >= 3);
    /* The runner's rows survived. */
    CHECK_INT(sql_int(path, "SELECT count(*) FROM orch_runs"), 1);
    CHECK_INT(sql_int(path, "SELECT step_id FROM orch_steps WHERE"
                      " run_uuid = 'r1' AND name = 'train'"), 7);
    CHECK_INT(sql_int(path, "SELECT output_size FROM orch_cache"), 3);
    /* The pointer artifacts became versions, in order. */
    CHECK_INT(sql_int(path, "SELECT count(*) FROM dataset_versions"), 3);
    check_version(m, "cancer", 1, D1, 1);
    check_version(m, "cancer", 2, D2, 2);
    check_version(m, "cancer", 0, D2, 2);
    check_version(m, "pen", 0, D1, 1);
    /* Adding continues the numbering; the latest again is no version. */
    struct orr_error e = {0};
    int64_t v = 0;
    int is_new = -1;
    CHECK_INT(orr_meta_dataset_add(m, "cancer", D2, 20, &v, &is_new, &e), 0);
    CHECK_INT(v, 2);
    CHECK_INT(is_new, 0);
    CHECK_INT(orr_meta_dataset_add(m, "cancer", D1, 10, &v, &is_new, &e), 0);
    CHECK_INT(v, 3);
    CHECK_INT(is_new, 1);
    check_version(m, "cancer", 0, D1, 3);
    orr_meta_close(m);
    /* Opening again changes nothing. */
    m = open_ok(path);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM dataset_versions"), 4);
    orr_meta_close(m);
    tmp_rm(dir);
}

static void test_dataset_errors(void)
{
    char dir[256], path[512];
    tmp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/orrery.db", dir);
    struct orr_meta *m = open_ok(path);
    struct orr_error e = {0};
    char d[ORR_DIGEST_HEX_LEN + 1];
    int64_t v = 0;
    int is_new = 0;
    CHECK_INT(orr_meta_dataset_get(m, "nope", &v, d, &e), ORR_ENOTFOUND);
    CHECK_CONTAINS(e.msg, "no dataset named 'nope'");
    CHECK_INT(orr_meta_dataset_add(m, "x", D1, 1, &v, &is_new, &e), 0);
    v = 2;
    CHECK_INT(orr_meta_dataset_get(m, "x", &v, d, &e), ORR_ENOTFOUND);
    CHECK_CONTAINS(e.msg, "dataset 'x' has 1 version, not 2");
    CHECK_INT(orr_meta_dataset_add(m, "x", "zz", 1, &v, &is_new, &e),
              ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "bad dataset digest 'zz'");
    orr_meta_close(m);
    tmp_rm(dir);
}

/* `orrery logs`, --resume and `orrery step` open the orchestration store
 * first: it migrates an old database by itself. */
static void test_ostore_migrates(void)
{
    char dir[256], path[512];
    tmp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/orrery.db", dir);
    orri_meta_test_schema_limit = 2;
    struct orr_meta *m = open_ok(path);
    orr_meta_close(m);
    orri_meta_test_schema_limit = 0;
    CHECK_INT(sql_int(path, "SELECT count(*) FROM sqlite_schema WHERE"
                      " name = 'orch_runs'"), 0);
    struct orri_ostore *os = NULL;
    struct orr_error e = {0};
    CHECK_INT(orri_ostore_open(&os, path, &e), 0);
    CHECK_INT(sql_int(path, "PRAGMA user_version"),
              orri_meta_schema_version());
    CHECK(os != NULL);
    if (os)
        CHECK_INT(orri_ostore_run_put(os, "r1", "wf", D1, "/x.lua", "{}",
                                      &e), 0);
    orri_ostore_close(os);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM orch_runs"), 1);
    /* A foreign database is refused, not migrated. */
    char other[600];
    snprintf(other, sizeof other, "%s/other.db", dir);
    CHECK_INT(sql_exec(other, "PRAGMA application_id = 7;"
                       "CREATE TABLE t (x)"), 0);
    os = NULL;
    CHECK(orri_ostore_open(&os, other, &e) != 0);
    CHECK_CONTAINS(e.msg, "not an Orrery metadata database");
    orri_ostore_close(os);
    tmp_rm(dir);
}

TEST_MAIN({"migrate_v2", test_migrate_v2},
          {"dataset_errors", test_dataset_errors},
          {"ostore_migrates", test_ostore_migrates})
