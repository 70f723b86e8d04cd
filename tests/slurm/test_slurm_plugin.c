/*
 * tests/slurm/test_slurm_plugin.c - orchestrator-slurm through the real
 * loader against the real single-node Slurm that the `slurm_daemons`
 * fixture started (scripts/slurm.sh; SLURM_CONF in the environment).
 *
 * Jobs are plain argv jobs (/bin/sh -c ...) whose own output files are
 * checked, not only Slurm's state: a DAG through afterok dependencies,
 * arguments that would inject shell code if unquoted, a failing job
 * (exit code, dependents cancelled), a job array, a bad partition,
 * scancel, the job-completion log once a job left the controller, and a
 * controller that is down.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <orrery/orrery.h>

#include "core.h"
#include "plugin/instance.h"
#include "test.h"

static char dir[4096];

static void slurp(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(out, 1, cap - 1, f) : 0;
    out[n] = '\0';
    if (f)
        fclose(f);
}

static void write_file(const char *path, const char *text, int mode)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
    chmod(path, (mode_t)mode);
}

/* An instance of the slurm orchestrator configured by `extra` (Lua
 * fields of the orchestrator table). */
struct inst {
    struct orr_core     *core;
    struct orr_instance *in;
    const struct orr_orchestrator_ops *ops;
};

static void setup(void);

static int open_slurm(struct inst *x, const char *extra, struct orr_error *e)
{
    if (!dir[0])
        setup();
    char site[4352], text[8192];
    snprintf(site, sizeof site, "%s/site.lua", dir);
    /* dir has no quotes or backslashes (the fixture's build path). */
    snprintf(text, sizeof text,
             "root = \"%s/site\"\norchestrator = { backend = \"slurm\", "
             "poll_interval = 50, %s }\n", dir, extra ? extra : "");
    write_file(site, text, 0644);
    struct orr_core_options o = {.site_path = site};
    memset(x, 0, sizeof *x);
    int rc = orr_core_open(&x->core, &o, e);
    if (!rc)
        rc = orr_instance_open(x->core, ORR_KIND_ORCHESTRATOR, NULL, NULL,
                               &x->in, e);
    if (!rc)
        x->ops = &x->in->backend->ops.orchestrator;
    return rc;
}

static void close_slurm(struct inst *x)
{
    orr_instance_close(x->in);
    orr_core_close(x->core);
}

static int submit_sh(struct inst *x, const char *step, const char *script,
                     const char *const *after, size_t n_after,
                     unsigned array, char id[ORR_JOB_ID_SIZE],
                     struct orr_error *e)
{
    const char *argv[] = {"/bin/sh", "-c", script, "sh", NULL};
    char log[4352];
    snprintf(log, sizeof log, "%s/%s.log", dir, step);
    struct orr_job_spec spec = {
        .size = sizeof spec, .run_id = "r1", .step = step, .argv = argv,
        .workdir = dir, .log_path = log, .cpus = 1, .memory_mb = 64,
        .time_limit_s = 300, .after = after, .n_after = n_after,
        .array_size = array,
    };
    return x->ops->submit(x->in->self, &spec, id, e);
}

/* wait_any until every id in `ids` was reported (bounded). */
static void wait_all(struct inst *x, char ids[][ORR_JOB_ID_SIZE], size_t n)
{
    size_t seen = 0;
    struct orr_error e = {0};
    for (int round = 0; round < 2000 && seen < n; round++) {
        char id[ORR_JOB_ID_SIZE] = "";
        CHECK_INT(x->ops->wait_any(x->in->self, 1000, id, &e), ORR_OK);
        for (size_t k = 0; id[0] && k < n; k++)
            seen += !strcmp(id, ids[k]);
    }
    CHECK_INT(seen, n);
}

static struct orr_job_status poll_job(struct inst *x, const char *id)
{
    struct orr_job_status st = {.size = sizeof st};
    struct orr_error e = {0};
    int rc = x->ops->poll(x->in->self, id, &st, &e);
    if (rc)
        fprintf(stderr, "poll %s: %s\n", id, e.msg);
    CHECK_INT(rc, ORR_OK);
    return st;
}

static void test_dag(void)
{
    struct inst x;
    struct orr_error e = {0};
    char ids[3][ORR_JOB_ID_SIZE], buf[512];
    CHECK_INT(open_slurm(&x, NULL, &e), ORR_OK);
    if (!x.ops) {
        fprintf(stderr, "%s\n", e.msg);
        return;
    }
    CHECK_INT(x.ops->capacity(x.in->self), 64);
    CHECK_INT(submit_sh(&x, "a", "echo one > a.out", NULL, 0, 0, ids[0], &e),
              ORR_OK);
    const char *a[] = {ids[0]};
    CHECK_INT(submit_sh(&x, "b", "cat a.out > b.out; echo two >> b.out", a, 1,
                        0, ids[1], &e), ORR_OK);
    const char *b[] = {ids[1]};
    CHECK_INT(submit_sh(&x, "c w'eird $(x)", "cat b.out > c.out; "
                        "echo three >> c.out", b, 1, 0, ids[2], &e), ORR_OK);
    wait_all(&x, ids, 3);
    for (int k = 0; k < 3; k++)
        CHECK_INT(poll_job(&x, ids[k]).state, ORR_JOB_SUCCEEDED);
    char path[4352];
    snprintf(path, sizeof path, "%s/c.out", dir);
    slurp(path, buf, sizeof buf);
    CHECK_STR(buf, "one\ntwo\nthree\n");
    close_slurm(&x);
}

/* Arguments reach the program byte for byte: no shell sees them. */
static void test_quoting(void)
{
    struct inst x;
    struct orr_error e = {0};
    char ids[1][ORR_JOB_ID_SIZE], buf[512], log[4352], marker[4352];
    CHECK_INT(open_slurm(&x, NULL, &e), ORR_OK);
    if (!x.ops)
        return;
    snprintf(marker, sizeof marker, "%s/pwned", dir);
    char evil[9000];
    snprintf(evil, sizeof evil, "x'; touch %s; echo '$(touch %s)`id`\"\n%%j",
             marker, marker);
    const char *argv[] = {"/usr/bin/printf", "[%s]", evil, NULL};
    const char *envp[] = {"ORR_T='$(touch x)'", NULL};
    snprintf(log, sizeof log, "%s/quote%%j.log", dir);
    struct orr_job_spec spec = {
        .size = sizeof spec, .run_id = "r1", .step = "q; rm -rf /",
        .argv = argv, .envp = envp, .workdir = dir, .log_path = log,
    };
    CHECK_INT(x.ops->submit(x.in->self, &spec, ids[0], &e), ORR_OK);
    wait_all(&x, ids, 1);
    CHECK_INT(poll_job(&x, ids[0]).state, ORR_JOB_SUCCEEDED);
    slurp(log, buf, sizeof buf);                 /* "%j" stayed literal */
    char want[9100];
    snprintf(want, sizeof want, "[%s]", evil);
    CHECK_STR(buf, want);
    CHECK(access(marker, F_OK) != 0);
    const char *bad_env[] = {"1BAD=x", NULL};
    spec.envp = bad_env;
    CHECK_INT(x.ops->submit(x.in->self, &spec, ids[0], &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "bad environment entry");
    close_slurm(&x);
}

static void test_failure(void)
{
    struct inst x;
    struct orr_error e = {0};
    char ids[2][ORR_JOB_ID_SIZE];
    CHECK_INT(open_slurm(&x, NULL, &e), ORR_OK);
    if (!x.ops)
        return;
    CHECK_INT(submit_sh(&x, "bad", "echo failing; exit 3", NULL, 0, 0, ids[0],
                        &e), ORR_OK);
    const char *a[] = {ids[0]};
    CHECK_INT(submit_sh(&x, "dep", "touch dep.out", a, 1, 0, ids[1], &e),
              ORR_OK);
    wait_all(&x, ids, 2);
    struct orr_job_status st = poll_job(&x, ids[0]);
    CHECK_INT(st.state, ORR_JOB_FAILED);
    CHECK_INT(st.exit_code, 3);
    CHECK_CONTAINS(st.reason, "exit code 3");
    st = poll_job(&x, ids[1]);
    CHECK_INT(st.state, ORR_JOB_CANCELLED);  /* --kill-on-invalid-dep   */
    CHECK_CONTAINS(st.reason, "Dependency");
    char path[4352];
    snprintf(path, sizeof path, "%s/dep.out", dir);
    CHECK(access(path, F_OK) != 0);
    close_slurm(&x);
}

static void test_array(void)
{
    struct inst x;
    struct orr_error e = {0};
    char ids[1][ORR_JOB_ID_SIZE], buf[64], path[4352];
    CHECK_INT(open_slurm(&x, NULL, &e), ORR_OK);
    if (!x.ops)
        return;
    CHECK_INT(submit_sh(&x, "arr", "echo $ORRERY_ARRAY_INDEX > "
                        "arr.$ORRERY_ARRAY_INDEX", NULL, 0, 3, ids[0], &e),
              ORR_OK);
    wait_all(&x, ids, 1);
    CHECK_INT(poll_job(&x, ids[0]).state, ORR_JOB_SUCCEEDED);
    for (int k = 0; k < 3; k++) {
        char want[8];
        snprintf(path, sizeof path, "%s/arr.%d", dir, k);
        snprintf(want, sizeof want, "%d\n", k);
        slurp(path, buf, sizeof buf);
        CHECK_STR(buf, want);
    }
    close_slurm(&x);
}

static void test_bad_partition(void)
{
    struct inst x;
    struct orr_error e = {0};
    char id[ORR_JOB_ID_SIZE];
    CHECK_INT(open_slurm(&x, "partition = \"nope\"", &e), ORR_OK);
    if (!x.ops)
        return;
    CHECK_INT(submit_sh(&x, "p", "true", NULL, 0, 0, id, &e), ORR_EBACKEND);
    CHECK_CONTAINS(e.msg, "slurm rejected step 'p'");
    CHECK_CONTAINS(e.msg, "Invalid partition name specified");
    close_slurm(&x);
    CHECK_INT(open_slurm(&x, "partition = \"-x\"", &e), ORR_ECONFIG);
    CHECK_CONTAINS(e.msg, "not a Slurm name");
    close_slurm(&x);
}

static void test_cancel(void)
{
    struct inst x, y;
    struct orr_error e = {0};
    char id[ORR_JOB_ID_SIZE];
    CHECK_INT(open_slurm(&x, NULL, &e), ORR_OK);
    if (!x.ops)
        return;
    CHECK_INT(submit_sh(&x, "sleeper", "sleep 300; touch late.out", NULL, 0,
                        0, id, &e), ORR_OK);
    CHECK_INT(x.ops->cancel(x.in->self, id, &e), ORR_OK);
    CHECK_INT(poll_job(&x, id).state, ORR_JOB_CANCELLED);
    /* What Slurm itself says, through an instance that never saw it. */
    CHECK_INT(open_slurm(&y, NULL, &e), ORR_OK);
    struct orr_job_status st = {.state = ORR_JOB_RUNNING};
    for (int k = 0; k < 400 && (st.state == ORR_JOB_RUNNING ||
                                st.state == ORR_JOB_PENDING); k++) {
        st = poll_job(&y, id);
        usleep(25000);
    }
    CHECK_INT(st.state, ORR_JOB_CANCELLED);
    CHECK_INT(x.ops->cancel(x.in->self, "12;x", &e), ORR_EINVAL);
    close_slurm(&y);
    close_slurm(&x);
}

/* After MinJobAge the controller forgets a job: the state then comes from
 * the job-completion log.  Fake squeue/scontrol that answer "Invalid job
 * id" stand for the controller's forgetting. */
static void test_jobcomp(void)
{
    struct inst x, y;
    struct orr_error e = {0};
    char ids[1][ORR_JOB_ID_SIZE], fake[4352], opts[9000];
    CHECK_INT(open_slurm(&x, NULL, &e), ORR_OK);
    if (!x.ops)
        return;
    CHECK_INT(submit_sh(&x, "jc", "exit 4", NULL, 0, 0, ids[0], &e), ORR_OK);
    wait_all(&x, ids, 1);
    close_slurm(&x);
    snprintf(fake, sizeof fake, "%s/forgetful", dir);
    write_file(fake, "#!/bin/sh\necho 'slurm_load_jobs error: Invalid job "
               "id specified' >&2\nexit 1\n", 0755);
    const char *jc = getenv("ORRERY_SLURM_JOBCOMP");
    snprintf(opts, sizeof opts, "squeue = \"%s\", scontrol = \"%s\", "
             "jobcomp = \"%s\"", fake, fake, jc ? jc : "");
    CHECK_INT(open_slurm(&y, opts, &e), ORR_OK);
    if (!y.ops)
        return;
    struct orr_job_status st = poll_job(&y, ids[0]);
    CHECK_INT(st.state, ORR_JOB_FAILED);
    CHECK_INT(st.exit_code, 4);
    st = poll_job(&y, "999999");
    CHECK_INT(st.state, ORR_JOB_LOST);
    CHECK_CONTAINS(st.reason, "not in the job-completion log");
    close_slurm(&y);
}

/* A controller nobody answers on: submit fails with Slurm's words; jobs
 * in flight end LOST after controller_timeout. */
static void test_controller_down(void)
{
    struct inst x;
    struct orr_error e = {0};
    char id[ORR_JOB_ID_SIZE], conf[4352], text[16384];
    const char *real = getenv("SLURM_CONF");
    CHECK(real != NULL);
    if (!real)
        return;
    char *saved = strdup(real);
    slurp(real, text, sizeof text);
    /* Same cluster, controller port where nothing listens. */
    char *p = strstr(text, "SlurmctldPort=");
    CHECK(p != NULL);
    if (!p) {
        free(saved);
        return;
    }
    memcpy(p + 14, "1    ", 5);       /* port 1: refused at once */
    snprintf(conf, sizeof conf, "%s/down.conf", dir);
    /* Without these the clients retry for ~9 s per command. */
    char full[16500];
    snprintf(full, sizeof full, "%sMessageTimeout=1\nTCPTimeout=1\n", text);
    write_file(conf, full, 0644);
    CHECK_INT(open_slurm(&x, "controller_timeout = 0, command_timeout = 60",
                         &e), ORR_OK);
    if (x.ops) {
        char ids[1][ORR_JOB_ID_SIZE];
        CHECK_INT(submit_sh(&x, "ok", "true", NULL, 0, 0, ids[0], &e),
                  ORR_OK);
        setenv("SLURM_CONF", conf, 1);
        CHECK_INT(submit_sh(&x, "down", "true", NULL, 0, 0, id, &e),
                  ORR_EBACKEND);
        CHECK_CONTAINS(e.msg, "slurm rejected step 'down'");
        CHECK_CONTAINS(e.msg, "Unable to contact slurm controller");
        struct orr_job_status st = {.size = sizeof st};
        CHECK_INT(x.ops->poll(x.in->self, ids[0], &st, &e), ORR_ENETWORK);
        CHECK_CONTAINS(e.msg, "Unable to contact slurm controller");
        wait_all(&x, ids, 1);
        st = poll_job(&x, ids[0]);
        CHECK_INT(st.state, ORR_JOB_LOST);
        CHECK_CONTAINS(st.reason, "slurm controller unreachable");
        setenv("SLURM_CONF", saved, 1);
    }
    close_slurm(&x);
    free(saved);
}

static void setup(void)
{
    const char *base = getenv("ORRERY_SLURM_TEST_DIR");
    snprintf(dir, sizeof dir, "%s/plugin-%d", base ? base : "/tmp",
             (int)getpid());
    mkdir(dir, 0755);
    if (!getenv("SLURM_CONF"))
        fprintf(stderr, "SLURM_CONF is not set: the slurm_daemons fixture "
                "did not run\n");
}

TEST_MAIN({"dag", test_dag}, {"quoting", test_quoting},
          {"failure", test_failure}, {"array", test_array},
          {"bad_partition", test_bad_partition}, {"cancel", test_cancel},
          {"jobcomp", test_jobcomp}, {"controller_down", test_controller_down})
