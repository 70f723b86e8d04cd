/*
 * cli/cmd_logs.c - `orrery logs RUN [STEP] [--follow | --json]`: the
 * captured stdout/stderr of a run's steps.
 *
 * A finished step's log is a "log" artifact in storage; a running step
 * writes to DIR/logs/RUN/STEP_ID.log beside the metadata store, which
 * --follow tails until the step ends.  --json gathers each step's log as
 * it is now into one document instead of printing it.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core.h"
#include "runner/orch_internal.h"
#include "storage/artifacts.h"
#include "util/buf.h"
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
    printf("Usage: orrery logs RUN [STEP] [--follow | --json]\n"
           "\n"
           "Print the captured output (stdout and stderr) of the steps of\n"
           "run RUN, or of STEP only.\n"
           "\n"
           "  -f, --follow  keep printing a running step's output until it\n"
           "                ends\n"
           "  --json        one document: {\"run\", \"steps\": [{\"step\",\n"
           "                \"status\", \"log\"}]}, each log as it is now (bytes\n"
           "                that are not UTF-8 become U+FFFD)\n"
           "\n"
           "Exit status: 0 success, 1 no such run or step, 2 bad usage.\n");
}

/* Where a step's log goes: stdout, or a buffer for --json. */
struct sink {
    int            buffer;
    struct orr_buf b;
};

static int put(struct sink *k, const char *p, size_t n)
{
    if (k->buffer)
        return orri_buf_append(&k->b, p, n);
    fwrite(p, 1, n, stdout);
    return ORR_OK;
}

/* Length of the valid UTF-8 sequence at p (of n bytes left), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t want = p[0] < 0x80 ? 1 : p[0] >= 0xC2 && p[0] <= 0xDF ? 2 :
                  p[0] >= 0xE0 && p[0] <= 0xEF ? 3 :
                  p[0] >= 0xF0 && p[0] <= 0xF4 ? 4 : 0;
    if (!want || want > n)
        return 0;
    for (size_t i = 1; i < want; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    /* no overlong forms, surrogates or code points past U+10FFFF */
    if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] > 0x9F) ||
        (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] > 0x8F))
        return 0;
    return want;
}

/* The buffered log as a JSON string, each byte that does not start
 * valid UTF-8 replaced by U+FFFD (a program's output may be any bytes;
 * the document must stay valid JSON).  jansson checks the log first: a
 * valid one is taken as it is. */
static json_t *log_string(const struct orr_buf *log)
{
    const char *d = log->data ? log->data : "";
    json_t *j = json_stringn(d, log->len);
    if (j)
        return j;
    struct orr_buf t = ORR_BUF_INIT;
    int rc = ORR_OK;
    for (size_t i = 0; !rc && i < log->len;) {
        size_t n = utf8_len((const unsigned char *)d + i, log->len - i);
        rc = orri_buf_append(&t, n ? d + i : "\xEF\xBF\xBD", n ? n : 3);
        i += n ? n : 1;
    }
    j = rc ? NULL : json_stringn(t.data, t.len);
    orri_buf_free(&t);
    return j;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Print one step's log (into the sink); follow a running one.
 * *rec_out gets the step's record as first read (its status then). */
static int show(struct orr_core *core, struct orri_ostore *os,
                const char *run, const char *step, int follow, int header,
                struct sink *k, struct orri_ostep_rec *rec_out,
                struct orr_error *e)
{
    struct orri_ostep_rec rec;
    int rc = orri_ostore_step_get(os, run, step, &rec, e);
    if (rc)
        return rc;
    *rec_out = rec;
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
            while (!rc && (n = fread(buf, 1, sizeof buf, f)) > 0) {
                rc = put(k, buf, n);
                pos += (long)n;
            }
            fclose(f);
            fflush(stdout);
            if (rc)
                return orr_fail(e, rc, "out of memory");
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
        rc = put(k, (char *)data + pos, n - (size_t)pos);
    free(data);
    return rc ? orr_fail(e, rc, "out of memory") : ORR_OK;
}

/* One step's entry of the --json document. */
static int add_step(json_t *steps, const char *step,
                    const struct orri_ostep_rec *rec, const struct sink *k)
{
    json_t *log = log_string(&k->b);
    /* "o" hands `log` over, on failure too (jansson >= 2.11) */
    json_t *o = log ? json_pack("{s:s, s:s, s:o}", "step", step, "status",
                                rec->status, "log", log) : NULL;
    return o && !json_array_append_new(steps, o) ? ORR_OK : ORR_ENOMEM;
}

/* One step's log, printed or (json) added to `steps`. */
static int one(struct orr_core *core, struct orri_ostore *os,
               const char *run, const char *step, int follow, int header,
               json_t *steps, struct orr_error *e)
{
    struct sink k = {.buffer = steps != NULL, .b = ORR_BUF_INIT};
    struct orri_ostep_rec rec;
    int rc = show(core, os, run, step, follow, header && !steps, &k, &rec,
                  e);
    if (!rc && steps && add_step(steps, step, &rec, &k))
        rc = orr_fail(e, ORR_ENOMEM, "out of memory");
    orri_buf_free(&k.b);
    return rc;
}

int orr_cmd_logs(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *run = NULL, *step = NULL;
    int follow = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        if (orr_cli_is_help(argv[i])) {
            help();
            return ORR_EXIT_OK;
        } else if (!strcmp(argv[i], "--follow") || !strcmp(argv[i], "-f")) {
            follow = 1;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
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
    if (json && follow)
        return orr_cli_usage_error("logs", "--json prints the logs as they "
                                   "are now: it cannot --follow");
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
    json_t *steps = json ? json_array() : NULL;
    if (!rc && json && !steps)
        rc = orr_fail(&e, ORR_ENOMEM, "out of memory");
    if (!rc && step) {
        rc = one(core, os, run, step, follow, 0, steps, &e);
    } else if (!rc) {
        rc = orri_ostore_step_names(os, run, add_name, &ns, &e);
        if (!rc && ns.n == 0)
            rc = orr_fail(&e, ORR_ENOTFOUND, "no run %s with recorded "
                          "steps", run);
        for (size_t i = 0; i < ns.n && !rc; i++)
            rc = one(core, os, run, ns.v[i], follow, 1, steps, &e);
    }
    if (!rc && json) {
        json_t *doc = json_pack("{s:s, s:O}", "run", run, "steps", steps);
        if (orr_cli_print_json(doc))
            rc = orr_fail(&e, ORR_EIO, "cannot write the JSON document");
    }
    json_decref(steps);
    for (size_t i = 0; i < ns.n; i++)
        free(ns.v[i]);
    free(ns.v);
    orri_ostore_close(os);
    if (rc)
        orr_cli_fail("logs", &e);
    orr_core_close(core);
    return rc ? ORR_EXIT_FAIL : ORR_EXIT_OK;
}
