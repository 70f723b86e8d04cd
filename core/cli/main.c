/*
 * cli/main.c - `orrery`: global options, then dispatch to a command.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd_registry.h"
#include "meta/query.h"

struct command {
    const char *name;
    orr_cmd_fn  fn;
    const char *summary;
};

static const struct command commands[] = {
    /* workflows */
    {"run",      orr_cmd_run,      "run a workflow (orrery run pipeline.lua)"},
    {"step",     orr_cmd_step,     "run one step of a recorded run (backends)"},
    {"logs",     orr_cmd_logs,     "show the captured output of a run's steps"},
    {"reproduce", orr_cmd_reproduce, "re-run a run, compare output hashes"},
    {"schedule", orr_cmd_schedule, "add, list, remove cron schedules"},
    {"scheduler", orr_cmd_scheduler, "start scheduled runs when due"},
    {"triggers", orr_cmd_triggers, "feedback-loop triggers (drift, data)"},
    /* tracking and lineage */
    {"runs",     orr_cmd_runs,     "list, show, compare, export, import runs"},
    {"metrics",  orr_cmd_metrics,  "print or plot a run's metric series"},
    {"lineage",  orr_cmd_lineage,  "what produced an artifact, what used it"},
    /* data and models */
    {"data",     orr_cmd_data,     "add and show named dataset versions"},
    {"evaluate", orr_cmd_evaluate, "evaluate a model on a dataset"},
    {"models",   orr_cmd_models,   "model registry: register, alias, gate"},
    {"serve",    orr_cmd_serve,    "serve registered models over HTTP"},
    {"monitor",  orr_cmd_monitor,  "drift, quality, alerts and reports"},
    /* the site */
    {"gc",       orr_cmd_gc,       "delete stored blobs nothing references"},
    {"plugins",  orr_cmd_plugins,  "list plugins, their backends and refusals"},
    {"config",   orr_cmd_config,   "show the effective site configuration"},
    {"version",  orr_cmd_version,  "print versions (orrery, ABI, libraries)"},
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: orrery [--site FILE] COMMAND [ARGS...]\n"
            "\n"
            "Orrery runs machine-learning workflows written in Lua on the\n"
            "backends a site configures (storage, orchestration, training,\n"
            "serving, monitoring).\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n"
            "Options:\n"
            "  --site FILE  use this site configuration instead of searching\n"
            "               ($ORRERY_SITE, ./orrery.site.lua, "
            "$XDG_CONFIG_HOME/orrery/site.lua,\n"
            "               /etc/orrery/site.lua)\n"
            "  -h, --help   show this help\n"
            "  --version    same as 'orrery version'\n"
            "\n"
            "Run 'orrery COMMAND --help' for a command's options.\n"
            "Exit status: 0 success, 1 the operation failed, 2 bad usage.\n");
}

int main(int argc, char **argv)
{
    struct orr_cli_globals g = {0};
    int i = 1;
    /* SIGINT/SIGTERM commit buffered metric points and mark open runs
     * cancelled before the process ends (meta/query.h). */
    struct orr_error se = {0};
    if (orr_meta_handle_signals(&se))
        fprintf(stderr, "orrery: %s\n", se.msg);
    while (i < argc && argv[i][0] == '-') {
        if (orr_cli_is_help(argv[i])) {
            usage(stdout);
            return ORR_EXIT_OK;
        } else if (!strcmp(argv[i], "--version")) {
            char *args[] = {"version", NULL};
            return orr_cmd_version(1, args, &g);
        } else if (!strcmp(argv[i], "--site")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "orrery: --site needs a file name\n");
                return ORR_EXIT_USAGE;
            }
            g.site_path = argv[i + 1];
            i += 2;
        } else if (!strncmp(argv[i], "--site=", 7)) {
            g.site_path = argv[i] + 7;
            i++;
        } else {
            fprintf(stderr, "orrery: unknown option '%s'\n"
                            "Try 'orrery --help'.\n", argv[i]);
            return ORR_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return ORR_EXIT_USAGE;
    }
    for (size_t k = 0; k < sizeof commands / sizeof *commands; k++)
        if (!strcmp(argv[i], commands[k].name))
            return commands[k].fn(argc - i, argv + i, &g);
    if (!strcmp(argv[i], "help")) {
        usage(stdout);
        return ORR_EXIT_OK;
    }
    fprintf(stderr, "orrery: unknown command '%s'\nTry 'orrery --help'.\n",
            argv[i]);
    return ORR_EXIT_USAGE;
}
