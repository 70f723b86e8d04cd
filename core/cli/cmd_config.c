/* STUB - replaced by the site-configuration work. */
#include "cli/cli.h"
int orr_cmd_config(int argc, char **argv, const struct orr_cli_globals *g) { (void)argc; (void)argv; (void)g; return ORR_EXIT_FAIL; }
