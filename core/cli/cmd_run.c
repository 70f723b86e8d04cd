/*
 * cli/cmd_run.c - `orrery run FILE.lua [--param k=v ...] [--json]`.
 */
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core.h"
#include "runner/runner.h"

#define MAX_PARAMS 256

static void help(void)
{
    printf("Usage: orrery run FILE.lua [--param KEY=VALUE ...] [--jobs N]\n"
           "                 [--no-cache] [--quiet] [--json]\n"
           "       orrery run --resume RUN [--jobs N] [--no-cache]\n"
           "\n"
           "Run the workflow that FILE.lua returns on the site's\n"
           "orchestrator, recording the run, its params, metrics and\n"
           "artifacts in the site's metadata store.  Relative paths in\n"
           "the workflow resolve against the folder of FILE.lua.\n"
           "\n"
           "  --param KEY=VALUE  override a workflow param (repeatable);\n"
           "                     true/false and numbers are converted\n"
           "  --jobs N           run at most N steps at once (default:\n"
           "                     the orchestrator's capacity)\n"
           "  --no-cache         run every step, even unchanged ones\n"
           "  --resume RUN       continue a failed, cancelled or killed\n"
           "                     run, reusing the steps that succeeded\n"
           "  --quiet            no progress lines, no step output echo\n"
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

static const char *run_word(enum orr_run_status st)
{
    return st == ORR_RUN_SUCCEEDED ? "succeeded" :
           st == ORR_RUN_CANCELLED ? "cancelled" :
           st == ORR_RUN_RUNNING ? "running" : "failed";
}

static volatile int cancel_flag;

static void on_signal(int sig)
{
    cancel_flag = sig;
}

struct progress {
    FILE  *echo;        /* where step output is copied, or NULL          */
    FILE  *lines;       /* progress lines, or NULL                       */
    int    tty;
    size_t done, cached, total;
};

static void stamp(FILE *f)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    fprintf(f, "%02d:%02d:%02d.%03ld ", tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000);
}

static void copy_file(FILE *to, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, to);
    fclose(f);
    fflush(to);
}

/* Plain timestamped lines in a pipe; on a terminal one status line that
 * is redrawn (a bar, counts) with finished steps printed above it. */
static void on_progress(void *ud, enum orr_run_event ev,
                        const struct orr_run_report *rep, size_t i,
                        const char *log)
{
    struct progress *p = ud;
    const struct orr_step_report *s = i < rep->n_steps ? &rep->steps[i]
                                                       : NULL;
    if (ev == ORR_EV_STARTED)
        p->total = rep->n_steps;
    if (p->tty && p->lines)
        fprintf(p->lines, "\r\033[K");
    if (s && (ev == ORR_EV_STEP_DONE || ev == ORR_EV_STEP_RETRY) && log &&
        p->echo)
        copy_file(p->echo, log);
    if (p->lines) {
        if (ev == ORR_EV_STARTED && !p->tty) {
            stamp(p->lines);
            fprintf(p->lines, "run %s started (%zu steps)\n", rep->run_id,
                    rep->n_steps);
        } else if (s && ev == ORR_EV_STEP_RUNNING && !p->tty) {
            stamp(p->lines);
            fprintf(p->lines, "%s running%s\n", s->name,
                    s->attempts > 1 ? " (retry)" : "");
        } else if (s && ev == ORR_EV_STEP_RETRY) {
            stamp(p->lines);
            fprintf(p->lines, "%s failed (attempt %d), will retry: %s\n",
                    s->name, s->attempts, s->error ? s->error : "");
        } else if (s && ev == ORR_EV_STEP_DONE) {
            p->done++;
            p->cached += (size_t)s->cached;
            if (!p->tty || s->status != ORR_STEP_SUCCEEDED || !s->cached) {
                stamp(p->lines);
                fprintf(p->lines, "%s %s%s (%.1f ms)\n", s->name,
                        orr_step_status_name(s->status),
                        s->cached ? ", cached" : "", s->duration_ms);
            }
        }
        if (p->tty && ev != ORR_EV_FINISHED && p->total) {
            char bar[31];
            size_t fill = p->done * 30 / p->total;
            for (size_t k = 0; k < 30; k++)
                bar[k] = k < fill ? '#' : '.';
            bar[30] = '\0';
            fprintf(p->lines, "[%s] %zu/%zu steps, %zu cached", bar,
                    p->done, p->total, p->cached);
        }
        fflush(p->lines);
    }
}

static void print_human(const struct orr_run_report *r)
{
    size_t w = 4;
    for (size_t i = 0; i < r->n_steps; i++)
        if (strlen(r->steps[i].name) > w)
            w = strlen(r->steps[i].name);
    printf("run %s  workflow %s  %s in %.1f ms (orchestrator %s)\n",
           r->run_id, r->workflow,
           run_word(r->status), r->duration_ms, r->orchestrator ? r->orchestrator : "?");
    for (size_t i = 0; i < r->n_steps; i++) {
        const struct orr_step_report *s = &r->steps[i];
        printf("  %-*s  %-9s", (int)w, s->name,
               orr_step_status_name(s->status));
        if (s->status == ORR_STEP_SUCCEEDED ||
            s->status == ORR_STEP_FAILED ||
            s->status == ORR_STEP_CANCELLED)
            printf("  %8.1f ms", s->duration_ms);
        if (s->cached)
            printf("  cached");
        if (s->attempts > 1)
            printf("  %d attempts", s->attempts);
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
        json_t *o = json_pack("{s:s, s:s, s:f, s:o, s:b, s:i}",
                              "name", s->name,
                              "status", orr_step_status_name(s->status),
                              "duration_ms", s->duration_ms,
                              "artifacts", arts, "cached", s->cached,
                              "attempts", s->attempts);
        if (s->log[0])
            json_object_set_new(o, "log", json_string(s->log));
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
        "status", run_word(r->status),
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
    int json = 0, no_cache = 0, quiet = 0;
    unsigned jobs = 0;
    const char *resume = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *p = NULL;
        if (orr_cli_is_help(a)) {
            help();
            return ORR_EXIT_OK;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--no-cache")) {
            no_cache = 1;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            quiet = 1;
        } else if (!strcmp(a, "--resume")) {
            if (i + 1 >= argc)
                return orr_cli_usage_error("run", "--resume needs a run id");
            resume = argv[++i];
        } else if (!strcmp(a, "--jobs") || !strcmp(a, "-j")) {
            char *end = NULL;
            long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
            if (i + 1 >= argc || !end || *end || v < 1 || v > 4096)
                return orr_cli_usage_error("run", "--jobs needs a number "
                                           "from 1 to 4096");
            jobs = (unsigned)v;
            i++;
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
    if (!file && !resume)
        return orr_cli_usage_error("run", "which workflow? (orrery run "
                                   "FILE.lua)");
    if (file && resume)
        return orr_cli_usage_error("run", "--resume continues a recorded "
                                   "run with its own script: no FILE");

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
    struct progress prog = {
        .echo = quiet ? NULL : json ? stderr : stdout,
        .lines = quiet ? NULL : stderr,
        .tty = isatty(STDERR_FILENO),
    };
    struct orr_run_options opt = {
        .script_path = file, .params = params, .n_params = n_params,
        .print_stderr = json, .jobs = jobs, .no_cache = no_cache,
        .resume = resume, .cancel = &cancel_flag, .progress = on_progress,
        .progress_ud = &prog,
    };
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    struct orr_run_report *rep = NULL;
    int rc = orr_workflow_run(core, &opt, &rep, &e);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
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
    if (cancel_flag) {
        /* Die of the signal, as the caller expects (exit status 128+n). */
        fflush(NULL);
        signal(cancel_flag, SIG_DFL);
        raise(cancel_flag);
    }
    return code;
}
