/*
 * tests/unit/test_runner_local_orchestrator.c - the orchestrator-local
 * plugin through its vtable: invoke jobs, argv jobs (exit codes, signals,
 * logs, environment, cancel).  The plugin is dlopen'ed from the build and
 * given the core's host table with add_orchestrator captured, so this
 * tests the plugin alone, not the loader.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#include <orrery/orrery.h>

#include "plugin/host.h"
#include "util/error.h"
#include "test.h"

static struct orr_orchestrator_ops ops;
static void *self;
static void *handle;

static int capture(struct orr_registry *r,
                   const struct orr_orchestrator_ops *o, struct orr_error *e)
{
    (void)r;
    (void)e;
    ops = *o;
    return ORR_OK;
}

static int setup(void)
{
    static struct orr_host host;
    if (self)
        return 1;
    const char *dir = getenv("ORRERY_BUILD_PLUGINS");
    char path[4096];
    snprintf(path, sizeof path, "%s/orchestrator-local.so", dir ? dir : ".");
    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return 0;
    }
    orr_plugin_describe_fn describe =
        (orr_plugin_describe_fn)(uintptr_t)dlsym(handle, ORR_PLUGIN_SYMBOL);
    if (!describe)
        return 0;
    host = *orri_host_table();
    host.add_orchestrator = capture;
    struct orr_error e = {0};
    if (describe()->init(&host, NULL, &e))
        return 0;
    self = calloc(1, ops.self_size);
    return self && ops.open(self, NULL, &e) == ORR_OK;
}

/* Runs in a pool worker: leaves the worker's pid in the file ctx names
 * (the runner's copy of any variable would not change). */
static int ok_invoke(void *ctx, struct orr_error *e)
{
    (void)e;
    FILE *f = fopen(ctx, "w");
    if (!f)
        return ORR_EIO;
    fprintf(f, "%d", (int)getpid());
    fclose(f);
    printf("to the log\n");
    return ORR_OK;
}

/* wait_any until job `id` is reported. */
static void wait_for(const char *id)
{
    char done[ORR_JOB_ID_SIZE] = "";
    struct orr_error e = {0};
    for (int i = 0; i < 100 && strcmp(done, id); i++)
        CHECK_INT(ops.wait_any(self, -1, done, &e), ORR_OK);
    CHECK_STR(done, id);
}

static int bad_invoke(void *ctx, struct orr_error *e)
{
    (void)ctx;
    return orr_fail(e, ORR_ESCRIPT, "flow.lua:3: boom");
}

static int pid_of(const char *s)
{
    return (int)strtol(s, NULL, 10);
}

static struct orr_job_status status_of(const char *id)
{
    struct orr_job_status st = {.size = sizeof st};
    struct orr_error e = {0};
    CHECK_INT(ops.poll(self, id, &st, &e), ORR_OK);
    return st;
}

/* Run argv to completion through wait_any; return its status. */
static struct orr_job_status run_argv(const char *const *argv,
                                      const char *const *envp,
                                      const char *log_path)
{
    struct orr_job_spec spec = {.size = sizeof spec, .run_id = "r",
                                .step = "s", .argv = argv, .envp = envp,
                                .log_path = log_path};
    char id[ORR_JOB_ID_SIZE];
    struct orr_error e = {0};
    CHECK_INT(ops.submit(self, &spec, id, &e), ORR_OK);
    wait_for(id);
    return status_of(id);
}

static void test_descriptor(void)
{
    CHECK(setup());
    CHECK_STR(ops.name, "local");
    CHECK_INT(ops.version, ORR_ORCHESTRATOR_OPS_V1);
    CHECK(ops.capacity(self) >= 1);
}

static void test_invoke(void)
{
    if (!setup())
        return;
    /* invoke_ctx must be memory the worker has too: the pool was forked
     * at open, so a literal, not this stack frame. */
    static const char pidfile[] = "/tmp/orr-local-invoke-test.pid";
    char log[] = "/tmp/orr-local-log-XXXXXX";
    int fd = mkstemp(log);
    CHECK(fd >= 0);
    close(fd);
    struct orr_job_spec spec = {.size = sizeof spec, .run_id = "r",
                                .step = "s", .invoke = ok_invoke,
                                .invoke_ctx = (void *)pidfile,
                                .log_path = log};
    char id[ORR_JOB_ID_SIZE], id2[ORR_JOB_ID_SIZE];
    struct orr_error e = {0};
    CHECK_INT(ops.submit(self, &spec, id, &e), ORR_OK);
    wait_for(id);
    CHECK_INT(status_of(id).state, ORR_JOB_SUCCEEDED);
    /* It ran in another process (a warm worker), its stdout in the log. */
    char buf[64] = "";
    FILE *f = fopen(pidfile, "r");
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    CHECK(buf[0] && pid_of(buf) != (int)getpid());
    f = fopen(log, "r");
    buf[0] = '\0';
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    CHECK_STR(buf, "to the log\n");
    unlink(pidfile);
    unlink(log);
    spec.invoke = bad_invoke;
    spec.log_path = NULL;
    CHECK_INT(ops.submit(self, &spec, id2, &e), ORR_OK);
    wait_for(id2);
    CHECK(strcmp(id, id2) != 0);
    struct orr_job_status st = status_of(id2);
    CHECK_INT(st.state, ORR_JOB_FAILED);
    CHECK_STR(st.reason, "flow.lua:3: boom");
    struct orr_job_status none = {.size = sizeof none};
    CHECK_INT(ops.poll(self, "local-999", &none, &e), ORR_ENOTFOUND);
}

static void test_argv_exit_code(void)
{
    if (!setup())
        return;
    const char *ok[] = {"/bin/sh", "-c", "exit 0", NULL};
    CHECK_INT(run_argv(ok, NULL, NULL).state, ORR_JOB_SUCCEEDED);
    const char *three[] = {"/bin/sh", "-c", "exit 3", NULL};
    struct orr_job_status st = run_argv(three, NULL, NULL);
    CHECK_INT(st.state, ORR_JOB_FAILED);
    CHECK_INT(st.exit_code, 3);
    CHECK_INT(st.term_signal, 0);
}

static void test_argv_signal(void)
{
    if (!setup())
        return;
    const char *killed[] = {"/bin/sh", "-c", "kill -KILL $$", NULL};
    struct orr_job_status st = run_argv(killed, NULL, NULL);
    CHECK_INT(st.state, ORR_JOB_FAILED);
    CHECK_INT(st.term_signal, 9);
    CHECK_STR(st.reason, "killed by signal 9");
}

static void test_argv_log_and_env(void)
{
    if (!setup())
        return;
    char log[] = "/tmp/orr-local-XXXXXX";
    int fd = mkstemp(log);
    CHECK(fd >= 0);
    close(fd);
    const char *argv[] = {"/bin/sh", "-c", "echo \"out $ORR_T\"; echo err >&2",
                          NULL};
    const char *envp[] = {"ORR_T=value", NULL};
    CHECK_INT(run_argv(argv, envp, log).state, ORR_JOB_SUCCEEDED);
    char buf[128] = "";
    FILE *f = fopen(log, "r");
    CHECK(f != NULL);
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    CHECK_STR(buf, "out value\nerr\n");
    unlink(log);
}

static void test_argv_missing_program(void)
{
    if (!setup())
        return;
    const char *argv[] = {"/nonexistent/prog", NULL};
    struct orr_job_spec spec = {.size = sizeof spec, .argv = argv};
    char id[ORR_JOB_ID_SIZE];
    struct orr_error e = {0};
    CHECK_INT(ops.submit(self, &spec, id, &e), ORR_ENOTFOUND);
    CHECK_CONTAINS(e.msg, "cannot run /nonexistent/prog");
    struct orr_job_spec empty = {.size = sizeof empty};
    CHECK_INT(ops.submit(self, &empty, id, &e), ORR_EINVAL);
}

static void test_cancel(void)
{
    if (!setup())
        return;
    /* The child's own child is in its process group: cancel ends both. */
    const char *argv[] = {"/bin/sh", "-c", "sleep 60 & wait", NULL};
    struct orr_job_spec spec = {.size = sizeof spec, .argv = argv};
    char id[ORR_JOB_ID_SIZE], done[ORR_JOB_ID_SIZE];
    struct orr_error e = {0};
    CHECK_INT(ops.submit(self, &spec, id, &e), ORR_OK);
    CHECK_INT(ops.cancel(self, id, &e), ORR_OK);
    CHECK_INT(ops.wait_any(self, -1, done, &e), ORR_OK);
    CHECK_STR(done, id);
    struct orr_job_status st = status_of(id);
    CHECK_INT(st.state, ORR_JOB_CANCELLED);
    CHECK_INT(st.term_signal, 15);      /* SIGTERM to the process group */
    /* nothing left running: wait_any returns at once with "" */
    CHECK_INT(ops.wait_any(self, -1, done, &e), ORR_OK);
    CHECK_STR(done, "");
    ops.close(self);
    free(self);
    self = NULL;
}

TEST_MAIN({"descriptor", test_descriptor},
          {"invoke", test_invoke},
          {"argv_exit_code", test_argv_exit_code},
          {"argv_signal", test_argv_signal},
          {"argv_log_and_env", test_argv_log_and_env},
          {"argv_missing_program", test_argv_missing_program},
          {"cancel", test_cancel})
