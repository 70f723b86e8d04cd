/* STUB - replaced by the Lua runtime work. */
#include "cli/cli.h"
int orr_cmd_run(int argc, char **argv, const struct orr_cli_globals *g) { (void)argc; (void)argv; (void)g; return ORR_EXIT_FAIL; }
