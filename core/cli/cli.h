/*
 * cli/cli.h - the `orrery` command line: one file per command.
 *
 * Every command:
 *   - parses its own arguments (argv[0] is the command name) and answers
 *     `--help` / `-h` on stdout with exit 0;
 *   - offers `--json` where its output is data (one JSON document on
 *     stdout, nothing else there);
 *   - exits ORR_EXIT_OK (0) on success, ORR_EXIT_FAIL (1) when the
 *     operation failed, ORR_EXIT_USAGE (2) on bad usage;
 *   - prints errors on stderr as "orrery <cmd>: <what failed>" followed,
 *     where it helps, by a line saying what to do.
 */
#ifndef ORRI_CLI_CLI_H
#define ORRI_CLI_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <orrery/status.h>

#define ORR_EXIT_OK    0
#define ORR_EXIT_FAIL  1
#define ORR_EXIT_USAGE 2

/* Options given before the command: `orrery [--site FILE] CMD ...`. */
struct orr_cli_globals {
    const char *site_path;      /* --site FILE, or NULL                      */
};

typedef int (*orr_cmd_fn)(int argc, char **argv,
                          const struct orr_cli_globals *g);

int orr_cmd_version(int argc, char **argv, const struct orr_cli_globals *g);
int orr_cmd_plugins(int argc, char **argv, const struct orr_cli_globals *g);
int orr_cmd_config(int argc, char **argv, const struct orr_cli_globals *g);
int orr_cmd_run(int argc, char **argv, const struct orr_cli_globals *g);
int orr_cmd_data(int argc, char **argv, const struct orr_cli_globals *g);
int orr_cmd_evaluate(int argc, char **argv,
                     const struct orr_cli_globals *g);
int orr_cmd_step(int argc, char **argv, const struct orr_cli_globals *g);
int orr_cmd_logs(int argc, char **argv, const struct orr_cli_globals *g);
int orr_cmd_runs(int argc, char **argv, const struct orr_cli_globals *g);
int orr_cmd_metrics(int argc, char **argv, const struct orr_cli_globals *g);
int orr_cmd_reproduce(int argc, char **argv,
                      const struct orr_cli_globals *g);
int orr_cmd_schedule(int argc, char **argv,
                     const struct orr_cli_globals *g);
int orr_cmd_scheduler(int argc, char **argv,
                      const struct orr_cli_globals *g);
int orr_cmd_triggers(int argc, char **argv,
                     const struct orr_cli_globals *g);
int orr_cmd_serve(int argc, char **argv, const struct orr_cli_globals *g);
/* `orrery monitor SUB ...` dispatches to one file per subcommand. */
int orr_cmd_monitor(int argc, char **argv, const struct orr_cli_globals *g);
int orri_cmd_monitor_report(int argc, char **argv,
                            const struct orr_cli_globals *g);
int orri_cmd_monitor_serve(int argc, char **argv,
                           const struct orr_cli_globals *g);
int orri_cmd_monitor_prune(int argc, char **argv,
                           const struct orr_cli_globals *g);

/* Print "orrery <cmd>: <message>" on stderr; returns ORR_EXIT_FAIL. */
int orr_cli_fail(const char *cmd, const struct orr_error *e);
/* Print "orrery <cmd>: <fmt...>" and a usage hint; returns
 * ORR_EXIT_USAGE. */
int orr_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* 1 if `arg` is -h or --help. */
int orr_cli_is_help(const char *arg);
/* `n` bytes for people: "512 B", "1.5 KiB", "3.2 MiB", "1.25 GiB". */
const char *orr_cli_bytes(char *buf, size_t cap, uint64_t n);
/* Print a jansson value as the command's --json output (takes the
 * reference); returns ORR_EXIT_OK, or ORR_EXIT_FAIL if writing failed. */
struct json_t;
int orr_cli_print_json(struct json_t *doc);

#endif
