/*
 * cli/cmd_logs.c - `orrery logs RUN [STEP] [--follow]`: the captured
 * stdout/stderr of a run's steps.
 *
 * A finished step's log is a "log" artifact in storage; a running step
 * writes to DIR/logs/RUN/STEP_ID.log beside the metadata store, which
 * --follow tails until the step ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core.h"
#include "runner/orch_internal.h"
#include "storage/artifacts.h"
#include "util/error.h"

#define LOG_MAX ((size_t)1 << 30)

struct names {
    char **v;
    size_t n;
};

static int add_name(void *ud, const char *name)
{
    struct names *ns = ud;
    char **p = realloc(ns->v, (ns->n + 1) * sizeof *p);
    if (!p)
        return ORR_ENOMEM;
    ns->v = p;
    ns->v[ns->n] = strdup(name);
    if (!ns->v[ns->n])
        return ORR_ENOMEM;
    ns->n++;
    return 0;
}

static void help(void)
{
    printf("Usage: orrery logs RUN [STEP] [--follow]\n"
           "\n"
           "Print the captured output (stdout and stderr) of the steps of\n"
           "run RUN, or of STEP only.  --follow keeps printing a running\n"
           "step's output until it ends.\n");
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Print one step's log; follow a running one. */
static int show(struct orr_core *core, struct orri_ostore *os,
                const char *run, const char *step, int follow, int header,
                struct orr_error *e)
{
    struct orri_ostep_rec rec;
    int rc = orri_ostore_step_get(os, run, step, &rec, e);
    if (rc)
        return rc;
    if (header)
        printf("== %s (%s) ==\n", step, rec.status);
    long pos = 0;
    while (!strcmp(rec.status, "running")) {
        char dir[3900], path[4096];
        rc = orri_log_dir(dir, sizeof dir, orr_core_site(core)->db_path,
                          run, e);
        if (rc)
            return rc;
        snprintf(path, sizeof path, "%s/%lld.log", dir,
                 (long long)rec.step_id);
        FILE *f = fopen(path, "rb");
        if (f) {
            char buf[8192];
            size_t n;
            fseek(f, pos, SEEK_SET);
            while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
                fwrite(buf, 1, n, stdout);
                pos += (long)n;
            }
            fclose(f);
            fflush(stdout);
        }
        if (!follow)
            return ORR_OK;
        sleep_ms(100);
        int64_t id = rec.step_id;
        rc = orri_ostore_step_get(os, run, step, &rec, e);
        if (rc)
            return rc;
        if (rec.step_id != id)
            pos = 0;            /* a retry: a new log                     */
    }
    if (!rec.log[0])
        return ORR_OK;
    struct orr_instance *st = NULL;
    void *data = NULL;
    size_t n = 0;
    rc = orr_core_storage(core, &st, e);
    if (!rc)
        rc = orr_storage_get_buf(st, rec.log, LOG_MAX, &data, &n, e);
    if (rc)
        return rc;
    if ((size_t)pos < n)
        fwrite((char *)data + pos, 1, n - (size_t)pos, stdout);
    free(data);
    return ORR_OK;
}

int orr_cmd_logs(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *run = NULL, *step = NULL;
    int follow = 0;
    for (int i = 1; i < argc; i++) {
        if (orr_cli_is_help(argv[i])) {
            help();
            return ORR_EXIT_OK;
        } else if (!strcmp(argv[i], "--follow") || !strcmp(argv[i], "-f")) {
            follow = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return orr_cli_usage_error("logs", "unknown option '%s'",
                                       argv[i]);
        } else if (!run) {
            run = argv[i];
        } else if (!step) {
            step = argv[i];
        } else {
            return orr_cli_usage_error("logs", "too many arguments");
        }
    }
    if (!run)
        return orr_cli_usage_error("logs", "which run? (orrery logs RUN)");
    struct orr_error e = {0};
    struct orr_core *core = NULL;
    struct orri_ostore *os = NULL;
    struct names ns = {0};
    struct orr_core_options copt = {.site_path = g->site_path};
    int rc = orr_core_open(&core, &copt, &e);
    struct orr_meta *m = NULL;
    if (!rc)
        rc = orr_core_meta(core, &m, &e);   /* creates/migrates the db */
    if (!rc)
        rc = orri_ostore_open(&os, orr_core_site(core)->db_path, &e);
    if (!rc && step) {
        rc = show(core, os, run, step, follow, 0, &e);
    } else if (!rc) {
        rc = orri_ostore_step_names(os, run, add_name, &ns, &e);
        if (!rc && ns.n == 0)
            rc = orr_fail(&e, ORR_ENOTFOUND, "no run %s with recorded "
                          "steps", run);
        for (size_t i = 0; i < ns.n && !rc; i++)
            rc = show(core, os, run, ns.v[i], follow, 1, &e);
    }
    for (size_t i = 0; i < ns.n; i++)
        free(ns.v[i]);
    free(ns.v);
    orri_ostore_close(os);
    if (rc)
        orr_cli_fail("logs", &e);
    orr_core_close(core);
    return rc ? ORR_EXIT_FAIL : ORR_EXIT_OK;
}
