/*
 * tests/orch/test_local_unsupported.c - orchestrator-local and `after`:
 * a job that follows one running pool job is queued on that job's worker
 * and runs right after it (the runner's pipelining of a chain), or not at
 * all when that job failed; any other `after`, and job arrays, get
 * ORR_EUNSUPPORTED (the runner then submits in order) and start nothing.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <orrery/orrery.h>

#include "plugin/host.h"
#include "test.h"

static struct orr_orchestrator_ops ops;
static void *self;

/* Set before open: the workers (forked then) see the same path. */
static char trace[64];

static int capture(struct orr_registry *r,
                   const struct orr_orchestrator_ops *o, struct orr_error *e)
{
    (void)r;
    (void)e;
    ops = *o;
    return ORR_OK;
}

/* Runs in a worker: appends "<letter><pid>;" to the trace file. */
static int mark(void *ctx, struct orr_error *e)
{
    (void)e;
    FILE *f = fopen(trace, "a");
    if (!f)
        return ORR_EIO;
    fprintf(f, "%s%d;", (const char *)ctx, (int)getpid());
    fclose(f);
    return ORR_OK;
}

static int fail_invoke(void *ctx, struct orr_error *e)
{
    (void)ctx;
    e->code = ORR_ESCRIPT;
    snprintf(e->msg, sizeof e->msg, "boom");
    return ORR_ESCRIPT;
}

static void wait_job(const char *id, struct orr_job_status *st)
{
    struct orr_error e = {0};
    for (int i = 0; i < 100000; i++) {
        st->size = sizeof *st;
        ops.poll(self, id, st, &e);
        if (st->state != ORR_JOB_PENDING && st->state != ORR_JOB_RUNNING)
            return;
        char got[ORR_JOB_ID_SIZE];
        ops.wait_any(self, 50, got, &e);
    }
}

static char *slurp(void)
{
    static char buf[512];
    FILE *f = fopen(trace, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    return buf;
}

static int setup(void)
{
    static struct orr_host host;
    const char *dir = getenv("ORRERY_BUILD_PLUGINS");
    char path[4096];
    snprintf(path, sizeof path, "%s/orchestrator-local.so", dir ? dir : ".");
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle)
        return 0;
    orr_plugin_describe_fn describe =
        (orr_plugin_describe_fn)(uintptr_t)dlsym(handle, ORR_PLUGIN_SYMBOL);
    host = *orri_host_table();
    host.add_orchestrator = capture;
    struct orr_error e = {0};
    if (!describe || describe()->init(&host, NULL, &e))
        return 0;
    snprintf(trace, sizeof trace, "/tmp/orr-after-%d", (int)getpid());
    unlink(trace);
    self = calloc(1, ops.self_size);
    return self && ops.open(self, NULL, &e) == ORR_OK;
}

static void test_queued_behind(void)
{
    struct orr_error e = {0};
    char a[ORR_JOB_ID_SIZE], b[ORR_JOB_ID_SIZE];
    struct orr_job_spec spec = {
        .size = sizeof spec, .run_id = "r", .step = "a", .invoke = mark,
        .invoke_ctx = "A",
    };
    CHECK_INT(ops.submit(self, &spec, a, &e), ORR_OK);
    const char *after[] = {a};
    spec.step = "b";
    spec.invoke_ctx = "B";
    spec.after = after;
    spec.n_after = 1;
    CHECK_INT(ops.submit(self, &spec, b, &e), ORR_OK);
    struct orr_job_status sa = {0}, sb = {0};
    wait_job(a, &sa);
    wait_job(b, &sb);
    CHECK_INT(sa.state, ORR_JOB_SUCCEEDED);
    CHECK_INT(sb.state, ORR_JOB_SUCCEEDED);
    /* Both ran, A first, in the same worker. */
    int pa = 0, pb = 0;
    CHECK_INT(sscanf(slurp(), "A%d;B%d;", &pa, &pb), 2);
    CHECK(pa > 0 && pa == pb);
}

static void test_not_run_after_failure(void)
{
    struct orr_error e = {0};
    char c[ORR_JOB_ID_SIZE], d[ORR_JOB_ID_SIZE];
    unlink(trace);
    struct orr_job_spec spec = {
        .size = sizeof spec, .run_id = "r", .step = "c",
        .invoke = fail_invoke,
    };
    CHECK_INT(ops.submit(self, &spec, c, &e), ORR_OK);
    const char *after[] = {c};
    spec.step = "d";
    spec.invoke = mark;
    spec.invoke_ctx = "D";
    spec.after = after;
    spec.n_after = 1;
    CHECK_INT(ops.submit(self, &spec, d, &e), ORR_OK);
    struct orr_job_status sc = {0}, sd = {0};
    wait_job(c, &sc);
    wait_job(d, &sd);
    CHECK_INT(sc.state, ORR_JOB_FAILED);
    CHECK_INT(sd.state, ORR_JOB_FAILED);
    CHECK_CONTAINS(sd.reason, "not run: the job it follows failed");
    CHECK_STR(slurp(), "");
}

static void test_unsupported(void)
{
    struct orr_error e = {0};
    const char *after[] = {"local-1"};      /* finished long ago         */
    char id[ORR_JOB_ID_SIZE] = "";
    struct orr_job_spec spec = {
        .size = sizeof spec, .run_id = "r", .step = "s", .invoke = mark,
        .invoke_ctx = "S", .after = after, .n_after = 1,
    };
    unlink(trace);
    do                          /* the jobs above, reported already      */
        ops.wait_any(self, 0, id, &e);
    while (id[0]);
    CHECK_INT(ops.submit(self, &spec, id, &e), ORR_EUNSUPPORTED);
    CHECK_CONTAINS(e.msg, "can only follow one running pool job");
    spec.n_after = 0;
    spec.array_size = 4;
    memset(&e, 0, sizeof e);
    CHECK_INT(ops.submit(self, &spec, id, &e), ORR_EUNSUPPORTED);
    CHECK_CONTAINS(e.msg, "no job arrays");
    /* Nothing was started. */
    CHECK_INT(ops.wait_any(self, 0, id, &e), ORR_OK);
    CHECK_STR(id, "");
    CHECK_STR(slurp(), "");
}

static void run_all(void)
{
    CHECK(setup());
    if (!self)
        return;
    test_queued_behind();
    test_not_run_after_failure();
    test_unsupported();
    ops.close(self);
    free(self);
    unlink(trace);
}

TEST_MAIN({"after", run_all})
