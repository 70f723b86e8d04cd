/*
 * cli/cmd_monitor_report.c - `orrery monitor report`.
 */
#include "cli/cli.h"

int orri_cmd_monitor_report(int argc, char **argv,
                          const struct orr_cli_globals *g)
{
    (void)argc;
    (void)argv;
    (void)g;
    fprintf(stderr, "orrery monitor report: not built yet\n");
    return ORR_EXIT_FAIL;
}
