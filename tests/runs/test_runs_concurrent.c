/*
 * tests/runs/test_runs_concurrent.c - 8 processes x 100,000 points into
 * one run of one site at the same time: every point arrives, once.
 *
 * Each child opens its own orr_meta (as after any fork) and logs into the
 * shared series "shared" with steps child * 100000 + i, and into its own
 * series; nothing is flushed by hand except the final close.
 */
#define _XOPEN_SOURCE 700
#include "meta_test_util.h"

#include <sys/wait.h>

#include "test.h"

#define PROCS 8
#define EACH  100000

struct seen {
    unsigned char *hit;
    long           dup, bad;
};

static int mark(void *ctx, const struct orr_metric_point *p)
{
    struct seen *s = ctx;
    if (p->step < 0 || p->step >= (int64_t)PROCS * EACH ||
        p->value != (double)p->step) {
        s->bad++;
        return 0;
    }
    if (s->hit[p->step]++)
        s->dup++;
    return 0;
}

static void test_eight_writers(void)
{
    char dir[256], path[300];
    tmp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/site.db", dir);
    struct orr_meta *m = open_ok(path);
    char run[ORR_RUN_ID_SIZE];
    new_run(m, run);
    orr_meta_close(m);

    pid_t pid[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pid[p] = fork();
        if (pid[p] == 0) {
            struct orr_meta *cm = open_ok(path);
            struct orr_error e = {0};
            char own[16];
            snprintf(own, sizeof own, "proc%d", p);
            int rc = 0;
            for (long i = 0; i < EACH && !rc; i++) {
                int64_t step = (int64_t)p * EACH + i;
                rc = orr_meta_log_metric(cm, run, "shared", (double)step,
                                         step, &e);
                if (!rc && i % 10 == 0)
                    rc = orr_meta_log_metric(cm, run, own, (double)i, i, &e);
            }
            if (!rc)
                rc = orr_meta_flush(cm, &e);
            if (rc)
                fprintf(stderr, "child %d: %s\n", p, e.msg);
            orr_meta_close(cm);
            _exit(rc ? 1 : 0);
        }
    }
    int ok = 1;
    for (int p = 0; p < PROCS; p++) {
        int st = 0;
        waitpid(pid[p], &st, 0);
        ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    CHECK(ok);

    m = open_ok(path);
    struct orr_error e = {0};
    struct seen s = {calloc(PROCS * EACH, 1), 0, 0};
    CHECK_INT(orr_meta_metric_series(m, run, "shared", mark, &s, &e),
              ORR_OK);
    long missing = 0;
    for (long i = 0; i < (long)PROCS * EACH; i++)
        missing += !s.hit[i];
    CHECK_INT(missing, 0);
    CHECK_INT(s.dup, 0);
    CHECK_INT(s.bad, 0);
    struct orr_run_summary sum;
    CHECK_INT(orr_meta_run_summary(m, run, &sum, &e), ORR_OK);
    CHECK_INT(sum.n_metrics, (long)PROCS * EACH + PROCS * (EACH / 10));
    free(s.hit);
    orr_meta_close(m);
    tmp_rm(dir);
}

TEST_MAIN({"eight_writers", test_eight_writers})
