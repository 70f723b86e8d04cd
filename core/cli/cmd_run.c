/*
 * cli/cmd_run.c - `orrery run FILE.lua [--param k=v ...] [--json]`.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core.h"
#include "runner/runner.h"

#define MAX_PARAMS 256

static void help(void)
{
    printf("Usage: orrery run FILE.lua [--param KEY=VALUE ...] [--json]\n"
           "\n"
           "Run the workflow that FILE.lua returns on the site's\n"
           "orchestrator, recording the run, its params, metrics and\n"
           "artifacts in the site's metadata store.  Relative paths in\n"
           "the workflow resolve against the folder of FILE.lua.\n"
           "\n"
           "  --param KEY=VALUE  override a workflow param (repeatable);\n"
           "                     true/false and numbers are converted\n"
           "  --json             print the run as one JSON document\n"
           "  -h, --help         show this help\n"
           "\n"
           "Exit status: 0 the run succeeded, 1 it failed (or the file\n"
           "could not be loaded), 2 bad usage.\n");
}

static const char *fmt_size(char *buf, size_t cap, uint64_t n)
{
    if (n < 1024)
        snprintf(buf, cap, "%llu B", (unsigned long long)n);
    else if (n < 1024 * 1024)
        snprintf(buf, cap, "%.1f KiB", (double)n / 1024.0);
    else
        snprintf(buf, cap, "%.1f MiB", (double)n / (1024.0 * 1024.0));
    return buf;
}

static void print_human(const struct orr_run_report *r)
{
    size_t w = 4;
    for (size_t i = 0; i < r->n_steps; i++)
        if (strlen(r->steps[i].name) > w)
            w = strlen(r->steps[i].name);
    printf("run %s  workflow %s  %s in %.1f ms (orchestrator %s)\n",
           r->run_id, r->workflow,
           r->status == ORR_RUN_SUCCEEDED ? "succeeded" : "failed",
           r->duration_ms, r->orchestrator ? r->orchestrator : "?");
    for (size_t i = 0; i < r->n_steps; i++) {
        const struct orr_step_report *s = &r->steps[i];
        printf("  %-*s  %-9s", (int)w, s->name,
               orr_step_status_name(s->status));
        if (s->status == ORR_STEP_SUCCEEDED ||
            s->status == ORR_STEP_FAILED)
            printf("  %8.1f ms", s->duration_ms);
        if (s->status == ORR_STEP_SKIPPED && s->skipped_because)
            printf("  (input '%s' failed)", s->skipped_because);
        printf("\n");
        for (size_t k = 0; k < s->n_artifacts; k++) {
            char sz[32];
            const struct orr_step_artifact *a = &s->artifacts[k];
            printf("  %-*s    stored %s %s %.12s (%s)\n", (int)w, "",
                   a->kind, a->name, a->digest, fmt_size(sz, sizeof sz,
                                                           a->size));
        }
    }
}

static json_t *report_json(const struct orr_run_report *r, const char *err)
{
    json_t *steps = json_array();
    for (size_t i = 0; i < r->n_steps; i++) {
        const struct orr_step_report *s = &r->steps[i];
        json_t *arts = json_array();
        for (size_t k = 0; k < s->n_artifacts; k++)
            json_array_append_new(arts, json_pack(
                "{s:s, s:s, s:s, s:I}", "digest", s->artifacts[k].digest,
                "name", s->artifacts[k].name, "kind", s->artifacts[k].kind,
                "size", (json_int_t)s->artifacts[k].size));
        json_t *o = json_pack("{s:s, s:s, s:f, s:o}", "name", s->name,
                              "status", orr_step_status_name(s->status),
                              "duration_ms", s->duration_ms,
                              "artifacts", arts);
        if (s->output[0]) {
            json_object_set_new(o, "output", json_string(s->output));
            json_object_set_new(o, "output_size",
                                json_integer((json_int_t)s->output_size));
        }
        if (s->error)
            json_object_set_new(o, "error", json_string(s->error));
        if (s->skipped_because)
            json_object_set_new(o, "skipped_because",
                                json_string(s->skipped_because));
        json_array_append_new(steps, o);
    }
    json_t *doc = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:o}",
        "run_id", r->run_id, "workflow", r->workflow, "script", r->script,
        "script_digest", r->script_digest,
        "orchestrator", r->orchestrator ? r->orchestrator : "",
        "status", r->status == ORR_RUN_SUCCEEDED ? "succeeded" : "failed",
        "duration_ms", r->duration_ms, "steps", steps);
    if (doc && err)
        json_object_set_new(doc, "error", json_string(err));
    return doc;
}

int orr_cmd_run(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *file = NULL;
    const char *params[MAX_PARAMS];
    size_t n_params = 0;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *p = NULL;
        if (orr_cli_is_help(a)) {
            help();
            return ORR_EXIT_OK;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--param")) {
            if (i + 1 >= argc)
                return orr_cli_usage_error("run", "--param needs KEY=VALUE");
            p = argv[++i];
        } else if (!strncmp(a, "--param=", 8)) {
            p = a + 8;
        } else if (a[0] == '-' && a[1]) {
            return orr_cli_usage_error("run", "unknown option '%s'", a);
        } else if (file) {
            return orr_cli_usage_error("run", "one workflow file at a time "
                                       "('%s' and '%s')", file, a);
        } else {
            file = a;
        }
        if (p) {
            const char *eq = strchr(p, '=');
            if (!eq || eq == p)
                return orr_cli_usage_error("run", "--param '%s' is not "
                                           "KEY=VALUE", p);
            if (n_params == MAX_PARAMS)
                return orr_cli_usage_error("run", "more than %d --param",
                                           MAX_PARAMS);
            params[n_params++] = p;
        }
    }
    if (!file)
        return orr_cli_usage_error("run", "which workflow? (orrery run "
                                   "FILE.lua)");

    struct orr_error e = {0};
    struct orr_core *core = NULL;
    struct orr_core_options copt = {.site_path = g->site_path};
    if (orr_core_open(&core, &copt, &e))
        return orr_cli_fail("run", &e);

    /* With --json, stdout carries only the document: whatever the
     * workflow prints (print, io.write, child processes) goes to stderr. */
    int saved = -1;
    if (json) {
        fflush(stdout);
        saved = dup(STDOUT_FILENO);
        if (saved >= 0)
            dup2(STDERR_FILENO, STDOUT_FILENO);
    }
    struct orr_run_options opt = {
        .script_path = file, .params = params, .n_params = n_params,
        .print_stderr = json,
    };
    struct orr_run_report *rep = NULL;
    int rc = orr_workflow_run(core, &opt, &rep, &e);
    if (saved >= 0) {
        fflush(stdout);
        dup2(saved, STDOUT_FILENO);
        close(saved);
    }
    int code = rc ? ORR_EXIT_FAIL : ORR_EXIT_OK;
    if (rep && json) {
        if (orr_cli_print_json(report_json(rep, rc ? e.msg : NULL)))
            code = ORR_EXIT_FAIL;
    } else if (rep) {
        print_human(rep);
    }
    if (rc)
        orr_cli_fail("run", &e);
    orr_run_report_free(rep);
    orr_core_close(core);
    return code;
}
