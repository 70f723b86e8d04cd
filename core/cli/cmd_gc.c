/*
 * cli/cmd_gc.c - `orrery gc [--dry-run] [--grace DURATION] [--json]`:
 * delete stored blobs that nothing references (rules in meta/gc.h).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_registry.h"
#include "core.h"
#include "meta/gc.h"
#include "util/duration.h"

#define CMD "gc"

static void help(void)
{
    printf(
        "Usage: orrery gc [--dry-run] [--grace DURATION] [--verbose] "
        "[--json]\n"
        "\n"
        "Delete the stored blobs that no run, registered model version or\n"
        "dataset of a version references any more, and report the space\n"
        "freed.  Referenced: what a step of an existing run read or wrote,\n"
        "the workflow script of an existing run, a version's model file\n"
        "and the datasets it was trained on.  A blob younger than the\n"
        "grace period is kept, so a step running now never loses the\n"
        "outputs it has stored but not recorded yet.\n"
        "\n"
        "  --dry-run         report what would be deleted, delete nothing\n"
        "  --grace DURATION  keep younger blobs: 90s, 30m, 1h (default), "
        "2d, 0\n"
        "  --verbose         list each blob deleted\n"
        "  --json            the report as one JSON document\n"
        "  -h, --help        show this help\n"
        "\n"
        "Exit status: 0 success, 1 failed, 2 bad usage.\n");
}

struct gc_ctx {
    json_t *arr;
    int     verbose;
    int     dry;
};

static void on_blob(void *ctx, const struct orr_blob_info *b)
{
    struct gc_ctx *c = ctx;
    if (c->arr)
        json_array_append_new(c->arr, json_pack("{s:s, s:I}", "digest",
                              b->digest, "size", (json_int_t)b->size));
    else if (c->verbose)
        printf("%s %s (%llu bytes)\n", c->dry ? "would delete" : "deleted",
               b->digest, (unsigned long long)b->size);
}

int orr_cmd_gc(int argc, char **argv, const struct orr_cli_globals *g)
{
    struct orr_gc_options opt = {.grace_ms = -1};
    int json = 0, verbose = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (orr_cli_is_help(a)) {
            help();
            return ORR_EXIT_OK;
        } else if (!strcmp(a, "--dry-run")) {
            opt.dry_run = 1;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            verbose = 1;
        } else if (!strcmp(a, "--grace") || !strncmp(a, "--grace=", 8)) {
            const char *v = a[7] == '=' ? a + 8
                            : i + 1 < argc ? argv[++i] : NULL;
            if ((opt.grace_ms = orri_duration_ms(v)) < 0)
                return orr_cli_usage_error(CMD, "--grace takes a duration "
                                           "such as 90s, 30m, 1h, 2d or 0");
        } else {
            return orr_cli_usage_error(CMD, "unexpected '%s'", a);
        }
    }
    struct orr_error e = {0};
    struct orr_core *core = NULL;
    struct orr_meta *m = NULL;
    struct orr_instance *st = NULL;
    struct orr_core_options copt = {.site_path = g->site_path};
    struct orr_gc_report r;
    struct gc_ctx c = {.arr = json ? json_array() : NULL,
                       .verbose = verbose, .dry = opt.dry_run};
    int rc = orr_core_open(&core, &copt, &e);
    if (!rc)
        rc = orr_core_meta(core, &m, &e);
    if (!rc)
        rc = orr_core_storage(core, &st, &e);
    if (!rc)
        rc = orr_gc_run(m, st, &opt, &r, on_blob, &c, &e);
    int code = ORR_EXIT_OK;
    if (rc) {
        json_decref(c.arr);
        code = orr_cli_fail(CMD, &e);
    } else if (json) {
        json_t *doc = json_pack(
            "{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "dry_run",
            opt.dry_run, "scanned", (json_int_t)r.scanned, "referenced",
            (json_int_t)r.referenced, "kept_by_grace", (json_int_t)r.young,
            "deleted", (json_int_t)r.deleted, "bytes_freed",
            (json_int_t)r.bytes_deleted, "bytes_kept",
            (json_int_t)r.bytes_kept, "grace_ms",
            (json_int_t)(opt.grace_ms < 0 ? ORR_GC_GRACE_DEFAULT_MS
                                          : opt.grace_ms),
            "blobs", c.arr);
        code = orr_cli_print_json(doc);
    } else {
        char a[32], b[32];
        printf("%s %zu blob%s, %s %s; kept %zu referenced and %zu within "
               "the grace period (%s); %zu blobs scanned\n",
               opt.dry_run ? "would delete" : "deleted", r.deleted,
               r.deleted == 1 ? "" : "s", orr_cli_bytes(a, sizeof a, r.bytes_deleted),
               opt.dry_run ? "to free" : "freed", r.referenced, r.young,
               orr_cli_bytes(b, sizeof b, r.bytes_kept), r.scanned);
    }
    orr_core_close(core);
    return code;
}
