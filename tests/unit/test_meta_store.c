/*
 * test_meta_store.c - core/meta: opening, refusing, schema, runs, steps,
 * params, tags, artifacts and lineage events.
 */
#define _XOPEN_SOURCE 700
#include "meta_test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>

#include "meta/meta_internal.h"
#include "test.h"

static void test_create_reopen(void)
{
    char dir[256], path[512];
    tmp_dir(dir, sizeof dir);
    /* Two missing levels: open creates them. */
    snprintf(path, sizeof path, "%s/a/b/orrery.db", dir);
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    CHECK_INT(orr_meta_open(&m, path, &e), ORR_OK);
    CHECK(m != NULL);
    char id[ORR_RUN_ID_SIZE];
    new_run(m, id);
    orr_meta_close(m);

    CHECK_INT(sql_int(path, "PRAGMA user_version"),
              orri_meta_schema_version());
    CHECK_INT(sql_int(path, "PRAGMA application_id"), 0x4F525259);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM runs"), 1);
    /* WAL is persistent in the file header. */
    CHECK_INT(sql_int(path, "SELECT journal_mode = 'wal' FROM"
                            " pragma_journal_mode"), 1);

    m = NULL;
    CHECK_INT(orr_meta_open(&m, path, &e), ORR_OK);
    struct orr_run_summary s;
    CHECK_INT(orr_meta_run_summary(m, id, &s, &e), ORR_OK);
    CHECK_STR(s.status, "running");
    orr_meta_close(m);
    orr_meta_close(NULL);
    tmp_rm(dir);
}

static void test_bad_path(void)
{
    struct orr_meta *m = (struct orr_meta *)1;
    struct orr_error e = {0};
    CHECK_INT(orr_meta_open(&m, "", &e), ORR_EINVAL);
    CHECK(m == NULL);
    char dir[256], path[512];
    tmp_dir(dir, sizeof dir);
    /* The parent "directory" is a file. */
    snprintf(path, sizeof path, "%s/file", dir);
    FILE *f = fopen(path, "w");
    fclose(f);
    snprintf(path, sizeof path, "%s/file/orrery.db", dir);
    CHECK(orr_meta_open(&m, path, &e) != ORR_OK);
    CHECK_CONTAINS(e.msg, "not a directory");
    tmp_rm(dir);
}

static void test_newer_schema_refused(void)
{
    char dir[256], path[512];
    tmp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/orrery.db", dir);
    orr_meta_close(open_ok(path));
    CHECK_INT(sql_exec(path, "PRAGMA user_version = 99"), SQLITE_OK);
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    CHECK_INT(orr_meta_open(&m, path, &e), ORR_EUNSUPPORTED);
    CHECK(m == NULL);
    char want[1200];
    snprintf(want, sizeof want, "database %s has schema version 99, this "
             "orrery understands up to %d: upgrade orrery", path,
             orri_meta_schema_version());
    CHECK_STR(e.msg, want);
    /* Refused, not downgraded. */
    CHECK_INT(sql_int(path, "PRAGMA user_version"), 99);
    tmp_rm(dir);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 16);
    *n = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

static void test_not_a_database(void)
{
    char dir[256], path[512], side[600];
    tmp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/orrery.db", dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 300; i++)
        fprintf(f, "line %d of a file that is not a database\n", i);
    fclose(f);
    size_t n0 = 0, n1 = 0;
    char *before = slurp(path, &n0);

    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    CHECK_INT(orr_meta_open(&m, path, &e), ORR_EINVAL);
    CHECK(m == NULL);
    char want[1200];
    snprintf(want, sizeof want, "%s is not an Orrery metadata database "
             "(file is not a database): move it away or set metadata.path",
             path);
    CHECK_STR(e.msg, want);

    char *after = slurp(path, &n1);
    CHECK_INT(n1, n0);
    CHECK(before && after && !memcmp(before, after, n0));
    snprintf(side, sizeof side, "%s-wal", path);
    CHECK(access(side, F_OK) != 0);
    free(before);
    free(after);
    tmp_rm(dir);
}

static void test_foreign_sqlite_refused(void)
{
    char dir[256], path[512];
    tmp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/other.db", dir);
    CHECK_INT(sql_exec(path, "CREATE TABLE notes (t TEXT);"
                             "INSERT INTO notes VALUES ('keep me')"),
              SQLITE_OK);
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    CHECK_INT(orr_meta_open(&m, path, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "is not an Orrery metadata database");
    CHECK_CONTAINS(e.msg, "another application");
    CHECK_INT(sql_int(path, "SELECT count(*) FROM notes"), 1);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM sqlite_schema"), 1);
    tmp_rm(dir);
}

static void test_corrupt_refused(void)
{
    char dir[256], path[512];
    tmp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/orrery.db", dir);
    orr_meta_close(open_ok(path));
    /* Scribble over the schema table's page (page 1, after the header). */
    int fd = open(path, O_WRONLY);
    unsigned char junk[1000];
    memset(junk, 0xA5, sizeof junk);
    CHECK_INT(pwrite(fd, junk, sizeof junk, 100), (long)sizeof junk);
    close(fd);
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    CHECK_INT(orr_meta_open(&m, path, &e), ORR_ECORRUPT);
    CHECK(m == NULL);
    CHECK_CONTAINS(e.msg, "is corrupt");
    CHECK_CONTAINS(e.msg, "restore it from a backup or move it away");
    tmp_rm(dir);
}

/* Runs as an unprivileged user when the tests run as root, since root
 * writes to read-only directories anyway.  Returns 0 if all went as
 * expected, else prints why. */
static int readonly_checks(const char *ro)
{
    char path[600];
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    int bad = 0;
    snprintf(path, sizeof path, "%s/orrery.db", ro);
    int rc = orr_meta_open(&m, path, &e);
    if (rc != ORR_EPERM || !strstr(e.msg, "is not writable") ||
        !strstr(e.msg, ro)) {
        fprintf(stderr, "read-only dir: rc %d, msg '%s'\n", rc, e.msg);
        bad = 1;
    }
    snprintf(path, sizeof path, "%s/sub/orrery.db", ro);
    rc = orr_meta_open(&m, path, &e);
    if (rc != ORR_EPERM || !strstr(e.msg, "cannot create directory")) {
        fprintf(stderr, "read-only parent: rc %d, msg '%s'\n", rc, e.msg);
        bad = 1;
    }
    return bad;
}

static void test_readonly_directory(void)
{
    char dir[256], ro[512];
    tmp_dir(dir, sizeof dir);
    chmod(dir, 0755);
    snprintf(ro, sizeof ro, "%s/ro", dir);
    CHECK_INT(mkdir(ro, 0555), 0);
    chmod(ro, 0555);
    if (geteuid() != 0) {
        CHECK_INT(readonly_checks(ro), 0);
    } else {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            int ok = setgid(65534) == 0 && setuid(65534) == 0;
            _exit(ok ? readonly_checks(ro) : 3);
        }
        int st = 0;
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK(WIFEXITED(st));
        CHECK_INT(WEXITSTATUS(st), 0);
    }
    tmp_rm(dir);
}

static void test_runs_steps_artifacts(void)
{
    char dir[256], path[512];
    tmp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/orrery.db", dir);
    struct orr_meta *m = open_ok(path);
    struct orr_error e = {0};
    char id[ORR_RUN_ID_SIZE];
    struct orr_run_spec spec = {.workflow = "cancer",
                                .script_path = "/w/cancer.lua",
                                .script_hash = "ab12", .user = "alice",
                                .host = "node1"};
    CHECK_INT(orr_meta_run_begin(m, &spec, id, &e), ORR_OK);
    CHECK_INT(strlen(id), 32);
    CHECK_INT(strspn(id, "0123456789abcdef"), 32);
    char id2[ORR_RUN_ID_SIZE];
    new_run(m, id2);
    CHECK(strcmp(id, id2) != 0);

    int64_t s1 = 0, s2 = 0;
    CHECK_INT(orr_meta_step_begin(m, id, "ingest", &s1, &e), ORR_OK);
    CHECK_INT(orr_meta_step_begin(m, id, "train", &s2, &e), ORR_OK);
    CHECK(s1 > 0 && s2 > s1);
    CHECK_INT(orr_meta_log_param(m, id, "depth", "4", &e), ORR_OK);
    CHECK_INT(orr_meta_log_param(m, id, "rounds", "200", &e), ORR_OK);
    CHECK_INT(orr_meta_log_param(m, id, "depth", "6", &e), ORR_OK);
    CHECK_INT(orr_meta_set_tag(m, id, "team", "ml", &e), ORR_OK);
    CHECK_INT(orr_meta_set_tag(m, id, "team", "ops", &e), ORR_OK);

    CHECK_INT(orr_meta_artifact(m, s1, ORR_EVENT_OUTPUT, "sha256:aa", 10,
                                "dataset", "data.csv", &e), ORR_OK);
    CHECK_INT(orr_meta_artifact(m, s2, ORR_EVENT_INPUT, "sha256:aa", 10,
                                "dataset", "data.csv", &e), ORR_OK);
    CHECK_INT(orr_meta_artifact(m, s2, ORR_EVENT_OUTPUT, "sha256:bb", 20,
                                "model", NULL, &e), ORR_OK);
    /* Idempotent, and an artifact with no step has no event. */
    CHECK_INT(orr_meta_artifact(m, s2, ORR_EVENT_OUTPUT, "sha256:bb", 20,
                                "model", NULL, &e), ORR_OK);
    CHECK_INT(orr_meta_artifact(m, 0, ORR_EVENT_OUTPUT, "sha256:cc", 1,
                                "report", "r.html", &e), ORR_OK);
    CHECK_INT(orr_meta_artifact(m, s2, ORR_EVENT_OUTPUT, "sha256:bb", 21,
                                "model", NULL, &e), ORR_ECORRUPT);
    CHECK_CONTAINS(e.msg, "size 20, now 21");
    CHECK_INT(orr_meta_artifact(m, 9999, ORR_EVENT_INPUT, "sha256:dd", 1,
                                "model", NULL, &e), ORR_ENOTFOUND);
    CHECK_CONTAINS(e.msg, "no step 9999");
    CHECK_INT(orr_meta_artifact(m, s1, ORR_EVENT_INPUT, "", 1, "model",
                                NULL, &e), ORR_EINVAL);

    for (int i = 0; i < 5; i++)
        CHECK_INT(orr_meta_log_metric(m, id, "auc", 0.5 + i * 0.1, i, &e),
                  ORR_OK);
    CHECK_INT(orr_meta_step_end(m, s1, ORR_RUN_SUCCEEDED, &e), ORR_OK);
    CHECK_INT(orr_meta_step_end(m, s2, ORR_RUN_FAILED, &e), ORR_OK);
    CHECK_INT(orr_meta_step_end(m, 12345, ORR_RUN_FAILED, &e),
              ORR_ENOTFOUND);
    CHECK_INT(orr_meta_run_end(m, id, ORR_RUN_SUCCEEDED, &e), ORR_OK);

    struct orr_run_summary s;
    CHECK_INT(orr_meta_run_summary(m, id, &s, &e), ORR_OK);
    CHECK_STR(s.status, "succeeded");
    CHECK_INT(s.n_steps, 2);
    CHECK_INT(s.n_params, 2);
    CHECK_INT(s.n_metrics, 5);
    CHECK_INT(s.n_artifacts, 2);
    CHECK_INT(orr_meta_run_summary(m, id2, &s, &e), ORR_OK);
    CHECK_STR(s.status, "running");
    CHECK_INT(s.n_steps + s.n_params + s.n_metrics + s.n_artifacts, 0);

    /* Unknown and malformed run ids. */
    const char *ghost = "0123456789abcdef0123456789abcdef";
    CHECK_INT(orr_meta_run_summary(m, ghost, &s, &e), ORR_ENOTFOUND);
    CHECK_CONTAINS(e.msg, ghost);
    CHECK_INT(orr_meta_log_param(m, "nope", "k", "v", &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "is not a run id");
    CHECK_INT(orr_meta_run_end(m, ghost, ORR_RUN_FAILED, &e),
              ORR_ENOTFOUND);
    CHECK_INT(orr_meta_step_begin(m, ghost, "x", &s1, &e), ORR_ENOTFOUND);
    CHECK_INT(orr_meta_log_param(m, id, "", "v", &e), ORR_EINVAL);
    CHECK_INT(orr_meta_set_tag(m, id, "k", NULL, &e), ORR_EINVAL);
    struct orr_run_spec nowf = {0};
    CHECK_INT(orr_meta_run_begin(m, &nowf, id2, &e), ORR_EINVAL);
    orr_meta_close(m);

    /* What landed in the tables. */
    char q[256];
    snprintf(q, sizeof q, "SELECT value = '6' FROM run_params r JOIN runs u"
             " ON u.id = r.run_id WHERE u.uuid = '%s' AND key = 'depth'", id);
    CHECK_INT(sql_int(path, q), 1);
    snprintf(q, sizeof q, "SELECT count(*) FROM run_tags WHERE value = 'ops'");
    CHECK_INT(sql_int(path, q), 1);
    snprintf(q, sizeof q, "SELECT user = 'alice' AND host = 'node1' AND"
             " script_hash = 'ab12' AND end_ms >= start_ms AND start_ms >"
             " 1600000000000 FROM runs WHERE uuid = '%s'", id);
    CHECK_INT(sql_int(path, q), 1);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM artifacts"), 3);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM events"), 3);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM steps WHERE status ="
                            " 'failed' AND end_ms IS NOT NULL"), 1);
    /* Default user and host were filled in. */
    snprintf(q, sizeof q, "SELECT count(*) FROM runs WHERE uuid = '%s' AND"
             " length(user) > 0 AND length(host) > 0", id2);
    CHECK_INT(sql_int(path, q), 1);
    tmp_rm(dir);
}

/* Several processes open a new database at once: one migrates, the
 * others see the schema and go on. */
static void test_concurrent_create(void)
{
    char dir[256], path[512];
    tmp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/orrery.db", dir);
    pid_t pids[4];
    fflush(NULL);
    for (int i = 0; i < 4; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            struct orr_meta *m = NULL;
            struct orr_error e = {0};
            int rc = orr_meta_open(&m, path, &e);
            if (rc)
                fprintf(stderr, "child %d: %s\n", i, e.msg);
            char id[ORR_RUN_ID_SIZE];
            struct orr_run_spec spec = {.workflow = "wf"};
            if (!rc)
                rc = orr_meta_run_begin(m, &spec, id, &e);
            orr_meta_close(m);
            _exit(rc ? 1 : 0);
        }
    }
    for (int i = 0; i < 4; i++) {
        int st = 0;
        CHECK(waitpid(pids[i], &st, 0) == pids[i]);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CHECK_INT(sql_int(path, "SELECT count(*) FROM runs"), 4);
    CHECK_INT(sql_int(path, "PRAGMA user_version"),
              orri_meta_schema_version());
    tmp_rm(dir);
}

TEST_MAIN({"create_reopen", test_create_reopen},
          {"bad_path", test_bad_path},
          {"newer_schema_refused", test_newer_schema_refused},
          {"not_a_database", test_not_a_database},
          {"foreign_sqlite_refused", test_foreign_sqlite_refused},
          {"corrupt_refused", test_corrupt_refused},
          {"readonly_directory", test_readonly_directory},
          {"runs_steps_artifacts", test_runs_steps_artifacts},
          {"concurrent_create", test_concurrent_create})
