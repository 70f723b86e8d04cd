/*
 * cli/cmd_registry.h - the registry commands: `orrery models`, `orrery
 * lineage` and `orrery gc` (conventions in cli.h).
 */
#ifndef ORRI_CLI_CMD_REGISTRY_H
#define ORRI_CLI_CMD_REGISTRY_H

#include "cli/cli.h"

int orr_cmd_models(int argc, char **argv, const struct orr_cli_globals *g);
int orr_cmd_lineage(int argc, char **argv, const struct orr_cli_globals *g);
int orr_cmd_gc(int argc, char **argv, const struct orr_cli_globals *g);

#endif
