/*
 * cli/cmd_step.c - `orrery step RUN STEP`: execute one step of a recorded
 * run in this process.  This is the command line remote orchestrators
 * (Slurm, ...) submit: the step reads the run's script and its inputs
 * through the site's storage and metadata store, and records its output.
 */
#include <string.h>

#include "cli/cli.h"
#include "core.h"
#include "runner/runner.h"

static void help(void)
{
    printf("Usage: orrery step RUN STEP\n"
           "\n"
           "Execute step STEP of the recorded run RUN here: the workflow\n"
           "script the run recorded is read back from storage, params from\n"
           "the run, inputs from the outputs of the steps it takes; the\n"
           "output value, artifacts and lineage are recorded in the run.\n"
           "Prints the digest of the step's output value.\n"
           "\n"
           "Exit status: 0 the step succeeded, 1 it failed, 2 bad usage.\n");
}

int orr_cmd_step(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *pos[2] = {NULL, NULL};
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (orr_cli_is_help(argv[i])) {
            help();
            return ORR_EXIT_OK;
        }
        if (argv[i][0] == '-' && argv[i][1])
            return orr_cli_usage_error("step", "unknown option '%s'",
                                       argv[i]);
        if (n == 2)
            return orr_cli_usage_error("step", "too many arguments");
        pos[n++] = argv[i];
    }
    if (n != 2)
        return orr_cli_usage_error("step", "usage: orrery step RUN STEP");
    struct orr_error e = {0};
    struct orr_core *core = NULL;
    struct orr_core_options copt = {.site_path = g->site_path};
    if (orr_core_open(&core, &copt, &e))
        return orr_cli_fail("step", &e);
    char out[ORR_DIGEST_HEX_LEN + 1];
    int rc = orr_step_run(core, pos[0], pos[1], 0, out, &e);
    if (rc)
        orr_cli_fail("step", &e);
    else
        printf("%s\n", out);
    orr_core_close(core);
    return rc ? ORR_EXIT_FAIL : ORR_EXIT_OK;
}
