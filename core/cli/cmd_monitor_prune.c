/*
 * cli/cmd_monitor_prune.c - `orrery monitor prune --older-than DURATION
 * [--model M] [--grace DURATION] [--dry-run] [--json]`: retention of the
 * prediction log (rules in meta/pprune.c).
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core.h"
#include "meta/predictions.h"
#include "util/clock.h"
#include "util/duration.h"

#define CMD "monitor prune"
/* A segment file written to this recently is kept: a server may still
 * be about to commit the chunk that names it. */
#define GRACE_DEFAULT_MS (3600 * 1000)

static void help(void)
{
    printf("Usage: orrery monitor prune --older-than DURATION [--model M]\n"
           "                            [--grace DURATION] [--dry-run] "
           "[--json]\n"
           "\n"
           "Delete the logged predictions older than DURATION (all of a\n"
           "chunk's predictions must be older), the labels received "
           "before\n"
           "then, and the segment files in predictions/ that no remaining\n"
           "chunk refers to.  A file written to within the grace period, "
           "or\n"
           "held open by a running `orrery serve`, is kept.  Monitor "
           "windows,\n"
           "alerts and profiles are kept.  Run it from cron for a "
           "retention\n"
           "policy; the database reuses the freed pages (VACUUM shrinks "
           "the\n"
           "file).\n"
           "\n"
           "  --older-than D  the cutoff: 90s, 30m, 12h, 7d (required)\n"
           "  --model M       only the predictions and labels of model M\n"
           "  --grace D       keep files written to within D (default 1h)\n"
           "  --dry-run       report what would go, change nothing\n"
           "  --json          print one JSON document\n"
           "  -h, --help      show this help\n"
           "\n"
           "Exit status: 0 success, 1 failed, 2 bad usage.\n");
}

/* The value of option `a` (--name V or --name=V), or NULL. */
static const char *opt_value(const char *a, const char *name, int *i,
                             int argc, char **argv)
{
    size_t n = strlen(name);
    if (strncmp(a, name, n))
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] == '\0' && *i + 1 < argc)
        return argv[++*i];
    return a[n] == '\0' ? "" : NULL;
}

int orri_cmd_monitor_prune(int argc, char **argv,
                           const struct orr_cli_globals *g)
{
    int64_t older = -1, grace = GRACE_DEFAULT_MS;
    const char *model = NULL, *v;
    int json = 0, dry = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (orr_cli_is_help(a)) {
            help();
            return ORR_EXIT_OK;
        } else if (!strcmp(a, "--dry-run")) {
            dry = 1;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if ((v = opt_value(a, "--older-than", &i, argc, argv))) {
            if ((older = orri_duration_ms(v)) < 0)
                return orr_cli_usage_error(CMD, "--older-than takes a "
                                           "duration such as 12h or 7d");
        } else if ((v = opt_value(a, "--grace", &i, argc, argv))) {
            if ((grace = orri_duration_ms(v)) < 0)
                return orr_cli_usage_error(CMD, "--grace takes a duration "
                                           "such as 90s, 30m, 1h or 0");
        } else if ((v = opt_value(a, "--model", &i, argc, argv))) {
            if (!*v)
                return orr_cli_usage_error(CMD, "--model takes a name");
            model = v;
        } else {
            return orr_cli_usage_error(CMD, "unexpected '%s'", a);
        }
    }
    if (older < 0)
        return orr_cli_usage_error(CMD, "--older-than DURATION is required "
                                   "(such as 7d)");
    struct orr_error e = {0};
    struct orr_core *core = NULL;
    struct orr_meta *m = NULL;
    struct orr_core_options copt = {.site_path = g->site_path};
    struct orri_prune_report r;
    int64_t before = orri_now_ms() - older;
    int rc = orr_core_open(&core, &copt, &e);
    if (!rc)
        rc = orr_core_meta(core, &m, &e);
    if (!rc)
        rc = orri_predictions_prune(m, before, model, grace, dry, &r, &e);
    int code = ORR_EXIT_OK;
    if (rc) {
        code = orr_cli_fail(CMD, &e);
    } else if (json) {
        json_t *doc = json_pack(
            "{s:b, s:I, s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
            "dry_run", dry, "before_ms", (json_int_t)before, "model", model,
            "chunks", (json_int_t)r.chunks, "predictions",
            (json_int_t)(r.predictions + r.legacy_rows), "labels",
            (json_int_t)r.labels, "files", (json_int_t)r.files,
            "bytes_freed", (json_int_t)r.file_bytes, "files_kept",
            (json_int_t)r.files_kept, "grace_ms", (json_int_t)grace);
        code = orr_cli_print_json(doc);
    } else {
        char b[32];
        printf("%s %lld prediction%s (%lld chunk%s) and %lld label%s "
               "older than the cutoff%s%s; %s %lld segment file%s (%s); "
               "kept %lld unreferenced file%s written to within the grace "
               "period or in use\n",
               dry ? "would delete" : "deleted",
               (long long)(r.predictions + r.legacy_rows),
               r.predictions + r.legacy_rows == 1 ? "" : "s",
               (long long)r.chunks, r.chunks == 1 ? "" : "s",
               (long long)r.labels, r.labels == 1 ? "" : "s",
               model ? " of model " : "", model ? model : "",
               dry ? "would remove" : "removed", (long long)r.files,
               r.files == 1 ? "" : "s",
               orr_cli_bytes(b, sizeof b, (uint64_t)r.file_bytes),
               (long long)r.files_kept, r.files_kept == 1 ? "" : "s");
    }
    orr_core_close(core);
    return code;
}
