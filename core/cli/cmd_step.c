/*
 * cli/cmd_step.c - `orrery step RUN STEP`: execute one step of a recorded
 * run in this process.  This is the command line remote orchestrators
 * (Slurm, ...) submit: the step reads the run's script and its inputs
 * through the site's storage and metadata store, and records its output.
 *
 * A job array (a sweep's trials) runs one command line in every task:
 * `orrery step RUN T1 T2 ... --step-id ID1,ID2,...`, and each task runs
 * the step of its index (ORRERY_ARRAY_INDEX, else SLURM_ARRAY_TASK_ID).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core.h"
#include "runner/runner.h"

static void help(void)
{
    printf("Usage: orrery step RUN STEP [STEP...] [--step-id ID[,ID...]]\n"
           "                  [--cache] [--log-dir DIR]\n"
           "\n"
           "Execute step STEP of the recorded run RUN here: the workflow\n"
           "script the run recorded is read back from storage, params from\n"
           "the run, inputs from the outputs of the steps it takes; the\n"
           "output value, artifacts and lineage are recorded in the run.\n"
           "Prints the digest of the step's output value.\n"
           "\n"
           "  --step-id ID   record into the step row the runner began for\n"
           "                 this job (one execution, one row)\n"
           "  --cache        reuse a cached result if the step has one\n"
           "  --log-dir DIR  write the step's output to DIR/ID.log\n"
           "With several STEPs (a job array) the task runs the one at index\n"
           "$ORRERY_ARRAY_INDEX (else $SLURM_ARRAY_TASK_ID), from 0.\n"
           "\n"
           "Exit status: 0 the step succeeded, 1 it failed, 2 bad usage.\n");
}

/* Entry `index` of a comma list of positive integers; 0 if malformed. */
static int64_t nth_id(const char *list, size_t index, size_t *count)
{
    int64_t found = 0;
    size_t n = 0;
    const char *p = list;
    for (;;) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v <= 0 || (*end && *end != ','))
            return 0;
        if (n++ == index)
            found = v;
        if (!*end)
            break;
        p = end + 1;
    }
    *count = n;
    return found;
}

/* The array task's index, or -1 with a message. */
static long array_index(size_t n)
{
    const char *v = getenv("ORRERY_ARRAY_INDEX");
    if (!v || !*v)
        v = getenv("SLURM_ARRAY_TASK_ID");
    char *end = NULL;
    errno = 0;
    long i = v && *v ? strtol(v, &end, 10) : -1;
    if (!v || !*v || errno || *end || i < 0 || (size_t)i >= n)
        return -1;
    return i;
}

int orr_cmd_step(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *run = NULL, *ids = NULL, *log_dir = NULL;
    const char **steps = calloc((size_t)argc + 1, sizeof *steps);
    size_t n = 0;
    int cache = 0, rc = ORR_EXIT_OK;
    struct orr_core *core = NULL;
    if (!steps) {
        fprintf(stderr, "orrery step: out of memory\n");
        return ORR_EXIT_FAIL;
    }
    for (int i = 1; i < argc; i++) {
        if (orr_cli_is_help(argv[i])) {
            help();
            goto done;
        }
        if (!strcmp(argv[i], "--step-id") || !strcmp(argv[i], "--log-dir")) {
            if (i + 1 >= argc) {
                rc = orr_cli_usage_error("step", "%s needs a value",
                                         argv[i]);
                goto done;
            }
            *(argv[i][2] == 's' ? &ids : &log_dir) = argv[i + 1];
            i++;
        } else if (!strcmp(argv[i], "--cache")) {
            cache = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            rc = orr_cli_usage_error("step", "unknown option '%s'", argv[i]);
            goto done;
        } else if (!run) {
            run = argv[i];
        } else {
            steps[n++] = argv[i];
        }
    }
    if (!run || n == 0) {
        rc = orr_cli_usage_error("step", "usage: orrery step RUN STEP");
        goto done;
    }
    size_t pick = 0, n_ids = 0;
    if (n > 1) {
        long i = array_index(n);
        if (i < 0) {
            rc = orr_cli_usage_error("step", "%zu steps given but "
                                     "ORRERY_ARRAY_INDEX (or "
                                     "SLURM_ARRAY_TASK_ID) is not an index "
                                     "from 0 to %zu", n, n - 1);
            goto done;
        }
        pick = (size_t)i;
    }
    int64_t step_id = 0;
    if (ids && (!(step_id = nth_id(ids, pick, &n_ids)) || n_ids != n)) {
        rc = orr_cli_usage_error("step", "--step-id wants %zu positive "
                                 "row id%s, comma-separated (got '%s')", n,
                                 n > 1 ? "s" : "", ids);
        goto done;
    }
    if (log_dir) {
        if (!step_id) {
            rc = orr_cli_usage_error("step", "--log-dir needs --step-id");
            goto done;
        }
        char path[4200];
        snprintf(path, sizeof path, "%s/%lld.log", log_dir,
                 (long long)step_id);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "orrery step: cannot open %s: %s\n", path,
                    strerror(errno));
            rc = ORR_EXIT_FAIL;
            goto done;
        }
        fflush(stdout);
        fflush(stderr);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    struct orr_error e = {0};
    struct orr_core_options copt = {.site_path = g->site_path};
    if (orr_core_open(&core, &copt, &e)) {
        rc = orr_cli_fail("step", &e);
        goto done;
    }
    char out[ORR_DIGEST_HEX_LEN + 1];
    struct orr_step_options so = {
        .run_id = run, .step = steps[pick], .step_id = step_id,
        .cache = cache,
    };
    if (orr_step_run(core, &so, out, &e)) {
        orr_cli_fail("step", &e);
        rc = ORR_EXIT_FAIL;
    } else {
        printf("%s\n", out);
    }
done:
    orr_core_close(core);
    free(steps);
    return rc;
}
