/*
 * cli/cmd_monitor.c - `orrery monitor SUB`: dispatch to the subcommands.
 */
#include <string.h>

#include "cli/cli.h"

int orr_cmd_monitor(int argc, char **argv, const struct orr_cli_globals *g)
{
    if (argc < 2 || orr_cli_is_help(argv[1])) {
        printf("Usage: orrery monitor report|serve ...\n");
        return argc < 2 ? ORR_EXIT_USAGE : ORR_EXIT_OK;
    }
    if (!strcmp(argv[1], "report"))
        return orri_cmd_monitor_report(argc - 1, argv + 1, g);
    if (!strcmp(argv[1], "serve"))
        return orri_cmd_monitor_serve(argc - 1, argv + 1, g);
    return orr_cli_usage_error("monitor", "unknown subcommand '%s'",
                               argv[1]);
}
