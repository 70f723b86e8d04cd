/*
 * cli/cmd_monitor_serve.c - `orrery monitor serve`.
 */
#include "cli/cli.h"

int orri_cmd_monitor_serve(int argc, char **argv,
                          const struct orr_cli_globals *g)
{
    (void)argc;
    (void)argv;
    (void)g;
    fprintf(stderr, "orrery monitor serve: not built yet\n");
    return ORR_EXIT_FAIL;
}
