/*
 * cli/cmd_reproduce.c - `orrery reproduce RUN [--json]`: run a recorded
 * run again from its record (the script stored as an artifact, the params
 * it recorded; nothing from the cache) and say, step by step, whether the
 * outputs have the same hashes.  Exit 0 only when every step matches.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core.h"
#include "meta/query.h"
#include "runner/runner.h"
#include "util/error.h"
#include "util/path.h"

static void help(void)
{
    printf("Usage: orrery reproduce RUN [--json] [--jobs N]\n"
           "\n"
           "Run RUN again in this site from its record: the workflow script\n"
           "the run stored (not the file as it is now), the params it\n"
           "recorded, every step executed (no step cache).  Then compare,\n"
           "step by step, the hash of each output with the original's.\n"
           "The new run is tagged orrery.reproduces=RUN.\n"
           "\n"
           "  --json     the comparison as one JSON document\n"
           "  --jobs N   steps at once (as for 'orrery run')\n"
           "\n"
           "RUN is a run id or a unique prefix of one (at least 4 digits).\n"
           "Exit status: 0 every step reproduced its output bit for bit,\n"
           "1 a step differs, failed or the run could not be reproduced,\n"
           "2 bad usage.\n");
}

/* The full id, through a connection closed again before the runner
 * forks its workers (they must not inherit it). */
static int resolve(struct orr_core *core, const char *prefix,
                   char id[ORR_RUN_ID_SIZE], struct orr_error *e)
{
    const char *db = orr_core_site(core)->db_path;
    if (!orri_path_is_file(db))
        return orr_fail(e, ORR_ENOTFOUND, "no run %s: this site has no "
                        "metadata store yet (%s)", prefix, db);
    struct orr_meta *m = NULL;
    int rc = orr_meta_open(&m, db, e);
    if (!rc)
        rc = orr_meta_run_resolve(m, prefix, id, e);
    orr_meta_close(m);
    return rc;
}

static const char *verdict(const struct orr_step_report *s)
{
    if (s->status != ORR_STEP_SUCCEEDED)
        return orr_step_status_name(s->status);
    if (!s->original[0])
        return "new";           /* the original step had no output */
    return strcmp(s->original, s->output) ? "differs" : "same";
}

static int report(const char *orig, const struct orr_run_report *rep,
                  int json, int all)
{
    if (json) {
        json_t *steps = json_array();
        for (size_t i = 0; i < rep->n_steps; i++) {
            const struct orr_step_report *s = &rep->steps[i];
            json_array_append_new(steps, json_pack(
                "{s:s, s:s, s:s?, s:s?, s:b, s:s?}", "name", s->name,
                "status", orr_step_status_name(s->status),
                "original", s->original[0] ? s->original : NULL,
                "output", s->output[0] ? s->output : NULL,
                "match", !strcmp(verdict(s), "same"),
                "error", s->error));
        }
        return orr_cli_print_json(json_pack(
            "{s:s, s:s, s:s, s:b, s:o}", "original", orig,
            "run_id", rep->run_id, "workflow", rep->workflow ? rep->workflow
                                                              : "",
            "reproduced", all, "steps", steps));
    }
    size_t w = 4;
    for (size_t i = 0; i < rep->n_steps; i++)
        if (strlen(rep->steps[i].name) > w)
            w = strlen(rep->steps[i].name);
    printf("%-*s  %-12s  %-12s  %s\n", (int)w, "STEP", "ORIGINAL",
           "REPRODUCED", "RESULT");
    for (size_t i = 0; i < rep->n_steps; i++) {
        const struct orr_step_report *s = &rep->steps[i];
        printf("%-*s  %-12.12s  %-12.12s  %s\n", (int)w, s->name,
               s->original[0] ? s->original : "-",
               s->output[0] ? s->output : "-", verdict(s));
    }
    printf("run %s reproduces %s: %s\n", rep->run_id, orig,
           all ? "every output is bit-identical"
               : "NOT reproduced (see the steps above)");
    return ORR_EXIT_OK;
}

int orr_cmd_reproduce(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *run = NULL;
    int json = 0;
    unsigned jobs = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (orr_cli_is_help(a)) {
            help();
            return ORR_EXIT_OK;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--jobs") || !strcmp(a, "-j")) {
            char *end = NULL;
            long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
            if (i + 1 >= argc || !end || *end || v < 1 || v > 4096)
                return orr_cli_usage_error("reproduce", "--jobs needs a "
                                           "number from 1 to 4096");
            jobs = (unsigned)v;
            i++;
        } else if (a[0] == '-' && a[1]) {
            return orr_cli_usage_error("reproduce", "unknown option '%s'",
                                       a);
        } else if (run) {
            return orr_cli_usage_error("reproduce", "one run at a time");
        } else {
            run = a;
        }
    }
    if (!run)
        return orr_cli_usage_error("reproduce", "which run? (orrery "
                                   "reproduce RUN)");
    struct orr_error e = {0};
    struct orr_core *core = NULL;
    struct orr_core_options copt = {.site_path = g->site_path};
    char id[ORR_RUN_ID_SIZE];
    if (orr_core_open(&core, &copt, &e))
        return orr_cli_fail("reproduce", &e);
    if (resolve(core, run, id, &e)) {
        orr_core_close(core);
        return orr_cli_fail("reproduce", &e);
    }
    /* What the steps print goes to stderr: stdout carries the report. */
    struct orr_run_options opt = {
        .print_stderr = 1, .jobs = jobs, .no_cache = 1, .reproduce = id,
    };
    struct orr_run_report *rep = NULL;
    int rc = orr_workflow_run(core, &opt, &rep, &e);
    if (!rep) {
        orr_core_close(core);
        return orr_cli_fail("reproduce", &e);
    }
    int all = rep->status == ORR_RUN_SUCCEEDED;
    for (size_t i = 0; i < rep->n_steps; i++)
        all &= !strcmp(verdict(&rep->steps[i]), "same");
    int out = report(id, rep, json, all);
    if (rc && !json)
        orr_cli_fail("reproduce", &e);
    orr_run_report_free(rep);
    orr_core_close(core);
    return out != ORR_EXIT_OK || !all ? ORR_EXIT_FAIL : ORR_EXIT_OK;
}
