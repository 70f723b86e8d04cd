/*
 * cli/cmd_runs.c - `orrery runs list|show|compare|export|import`.
 *
 * Thin: the filter language, pagination and documents are in
 * core/meta/query.c; this file parses arguments and prints tables.
 * Non-finite numbers print as nan, inf and -inf; in JSON they are the
 * strings "NaN", "Infinity" and "-Infinity" (docs/tracking.md).
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core.h"
#include "meta/query.h"
#include "util/error.h"

static void help(void)
{
    printf("Usage: orrery runs COMMAND ...\n"
           "\n"
           "  list [--filter EXPR] [--order-by KEY [asc|desc]] [--limit N]\n"
           "       [--cursor C] [--json]   runs, newest first\n"
           "  show RUN [--json]            one run: params, tags, metrics,\n"
           "                               steps and artifacts\n"
           "  compare RUN RUN... [--json]  params and metrics side by side\n"
           "                               (differing params marked *)\n"
           "  export RUN [--json]          the run and every metric point\n"
           "                               as one JSON document\n"
           "  import FILE|-                add an exported run to this site\n"
           "\n"
           "RUN is a run id or a unique prefix of one (at least 4 digits).\n"
           "EXPR example: \"metrics.auc > 0.95 and params.depth = 4 and\n"
           "tags.team = 'risk'\"; KEY: start, end, duration, status,\n"
           "workflow, user, host, id, metrics.K[.min|.max], params.K,\n"
           "tags.K.  See docs/tracking.md for the grammar.\n"
           "\n"
           "Exit status: 0 success, 1 failure (unknown run, bad filter,\n"
           "database error), 2 bad usage.\n");
}

/* Open the site's store. */
static int open_meta(const struct orr_cli_globals *g, struct orr_core **core,
                     struct orr_meta **m, struct orr_error *e)
{
    struct orr_core_options copt = {.site_path = g->site_path};
    int rc = orr_core_open(core, &copt, e);
    if (!rc)
        rc = orr_core_meta(*core, m, e);
    return rc;
}

static const char *fmt_num(char *buf, size_t cap, double v)
{
    if (isnan(v))
        snprintf(buf, cap, "nan");
    else if (isinf(v))
        snprintf(buf, cap, v > 0 ? "inf" : "-inf");
    else
        snprintf(buf, cap, "%.6g", v);
    return buf;
}

/* A JSON value from a run document as text: numbers %.6g, "NaN" etc. as
 * nan/inf/-inf, null as "-". */
static const char *fmt_json(char *buf, size_t cap, const json_t *v)
{
    double d;
    if (!v || json_is_null(v))
        snprintf(buf, cap, "-");
    else if (json_is_integer(v))
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    else if (!orri_json_to_double(v, &d))
        fmt_num(buf, cap, d);
    else if (json_is_string(v))
        snprintf(buf, cap, "%s", json_string_value(v));
    else
        snprintf(buf, cap, "?");
    return buf;
}

static const char *fmt_time(char *buf, size_t cap, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !localtime_r(&t, &tm) ||
        !strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(buf, cap, "-");
    return buf;
}

static const char *fmt_dur(char *buf, size_t cap, int64_t start, int64_t end)
{
    if (end <= 0)
        snprintf(buf, cap, "-");
    else if (end - start < 1000)
        snprintf(buf, cap, "%lld ms", (long long)(end - start));
    else if (end - start < 120000)
        snprintf(buf, cap, "%.1f s", (double)(end - start) / 1000.0);
    else
        snprintf(buf, cap, "%.1f min", (double)(end - start) / 60000.0);
    return buf;
}

static json_t *sort_json(const struct orr_run_row *r)
{
    switch (r->sort_type) {
    case ORR_VALUE_INT:  return json_integer(r->sort_int);
    case ORR_VALUE_REAL: return orri_json_double(r->sort_real);
    case ORR_VALUE_TEXT: return json_string(r->sort_text);
    default:             return json_null();
    }
}

/* ---- list -------------------------------------------------------------- */

static int cmd_list(int argc, char **argv, const struct orr_cli_globals *g)
{
    struct orr_runs_query q = {0};
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (orr_cli_is_help(a)) {
            help();
            return ORR_EXIT_OK;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--filter") && v) {
            q.filter = argv[++i];
        } else if (!strcmp(a, "--order-by") && v) {
            q.order_by = argv[++i];
            if (i + 1 < argc && (!strcmp(argv[i + 1], "asc") ||
                                 !strcmp(argv[i + 1], "desc")))
                q.ascending = !strcmp(argv[++i], "asc");
        } else if (!strcmp(a, "--limit") && v) {
            char *end = NULL;
            long long n = strtoll(argv[++i], &end, 10);
            if (!*argv[i] || *end || n < 1 || n > ORR_RUNS_LIMIT_MAX)
                return orr_cli_usage_error("runs", "--limit takes 1 to %d, "
                                           "not '%s'", ORR_RUNS_LIMIT_MAX,
                                           argv[i]);
            q.limit = (size_t)n;
        } else if (!strcmp(a, "--cursor") && v) {
            q.cursor = argv[++i];
        } else if (!strcmp(a, "--filter") || !strcmp(a, "--order-by") ||
                   !strcmp(a, "--limit") || !strcmp(a, "--cursor")) {
            return orr_cli_usage_error("runs", "%s needs a value", a);
        } else {
            return orr_cli_usage_error("runs", "unknown argument '%s' to "
                                       "'runs list'", a);
        }
    }
    struct orr_error e = {0};
    struct orr_core *core = NULL;
    struct orr_meta *m = NULL;
    struct orr_run_list *l = NULL;
    int rc = open_meta(g, &core, &m, &e);
    if (!rc)
        rc = orr_meta_runs_list(m, &q, &l, &e);
    if (rc) {
        orr_core_close(core);
        return orr_cli_fail("runs list", &e);
    }
    int code = ORR_EXIT_OK;
    int show_key = q.order_by && *q.order_by;
    if (json) {
        json_t *runs = json_array();
        for (size_t i = 0; i < l->n; i++) {
            const struct orr_run_row *r = &l->rows[i];
            json_t *o = json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:I}",
                                  "id", r->id, "workflow", r->workflow,
                                  "status", r->status, "user", r->user,
                                  "host", r->host, "start_ms",
                                  (json_int_t)r->start_ms);
            json_object_set_new(o, "end_ms", r->end_ms
                                    ? json_integer(r->end_ms) : json_null());
            if (show_key)
                json_object_set_new(o, "sort_value", sort_json(r));
            json_array_append_new(runs, o);
        }
        code = orr_cli_print_json(json_pack(
            "{s:o, s:o}", "runs", runs, "next_cursor",
            l->next_cursor[0] ? json_string(l->next_cursor) : json_null()));
    } else {
        printf("%-12s  %-16s  %-9s  %-19s  %-9s%s%s\n", "RUN", "WORKFLOW",
               "STATUS", "STARTED", "DURATION", show_key ? "  " : "",
               show_key ? q.order_by : "");
        for (size_t i = 0; i < l->n; i++) {
            const struct orr_run_row *r = &l->rows[i];
            char t[32], d[32], v[64] = "";
            if (show_key) {
                if (r->sort_type == ORR_VALUE_INT)
                    snprintf(v, sizeof v, "%lld", (long long)r->sort_int);
                else if (r->sort_type == ORR_VALUE_REAL)
                    fmt_num(v, sizeof v, r->sort_real);
                else if (r->sort_type == ORR_VALUE_TEXT)
                    snprintf(v, sizeof v, "%s", r->sort_text);
                else
                    snprintf(v, sizeof v, "-");
            }
            printf("%.12s  %-16s  %-9s  %-19s  %-9s%s%s\n", r->id,
                   r->workflow ? r->workflow : "-",
                   r->status ? r->status : "-",
                   fmt_time(t, sizeof t, r->start_ms),
                   fmt_dur(d, sizeof d, r->start_ms, r->end_ms),
                   show_key ? "  " : "", v);
        }
        if (l->n == 0)
            printf("(no runs%s)\n", q.filter && *q.filter
                                        ? " match the filter" : "");
        if (l->next_cursor[0])
            printf("more: add --cursor %s\n", l->next_cursor);
    }
    orr_run_list_free(l);
    orr_core_close(core);
    return code;
}

/* ---- show / export ----------------------------------------------------- */

/* One RUN argument (and --json) for show/export. */
static int one_run_args(const char *cmd, int argc, char **argv,
                        const char **run, int *json)
{
    *run = NULL;
    for (int i = 1; i < argc; i++) {
        if (orr_cli_is_help(argv[i])) {
            help();
            return -1;
        } else if (!strcmp(argv[i], "--json")) {
            *json = 1;
        } else if (argv[i][0] == '-') {
            return orr_cli_usage_error("runs", "unknown option '%s' to "
                                       "'runs %s'", argv[i], cmd);
        } else if (*run) {
            return orr_cli_usage_error("runs", "'runs %s' takes one run",
                                       cmd);
        } else {
            *run = argv[i];
        }
    }
    if (!*run)
        return orr_cli_usage_error("runs", "which run? (orrery runs %s RUN)",
                                   cmd);
    return 0;
}

static json_t *load_run(struct orr_meta *m, const char *arg, int points,
                        struct orr_error *e)
{
    char id[ORR_RUN_ID_SIZE];
    json_t *doc = NULL;
    if (!orr_meta_run_resolve(m, arg, id, e))
        orr_meta_run_json(m, id, points, &doc, e);
    return doc;
}

static void print_kv(const char *title, const json_t *o)
{
    const char *k;
    const json_t *v;
    size_t w = 4;
    json_object_foreach((json_t *)o, k, v)
        w = strlen(k) > w ? strlen(k) : w;
    printf("%s:%s\n", title, json_object_size(o) ? "" : " (none)");
    json_object_foreach((json_t *)o, k, v)
        printf("  %-*s  %s\n", (int)(w > 40 ? 40 : w), k,
               json_string_value(v));
}

static void print_show(const json_t *doc)
{
    char a[64], b[64], c[64], d[64];
    printf("run %s\n", json_string_value(json_object_get(doc, "id")));
    printf("  workflow  %s\n", json_string_value(json_object_get(doc,
                                                                "workflow")));
    printf("  status    %s\n", json_string_value(json_object_get(doc,
                                                                "status")));
    int64_t st = json_integer_value(json_object_get(doc, "start_ms"));
    int64_t en = json_integer_value(json_object_get(doc, "end_ms"));
    printf("  started   %s\n", fmt_time(a, sizeof a, st));
    printf("  duration  %s\n", fmt_dur(b, sizeof b, st, en));
    printf("  user      %s\n", fmt_json(c, sizeof c,
                                        json_object_get(doc, "user")));
    printf("  host      %s\n", fmt_json(d, sizeof d,
                                        json_object_get(doc, "host")));
    const char *script = json_string_value(json_object_get(doc,
                                                           "script_path"));
    const char *hash = json_string_value(json_object_get(doc,
                                                         "script_hash"));
    if (script)
        printf("  script    %s%s%.12s%s\n", script, hash ? " (sha256 " : "",
               hash ? hash : "", hash ? ")" : "");
    const char *commit = json_string_value(json_object_get(doc,
                                                           "git_commit"));
    if (commit)
        printf("  git       %.12s%s\n", commit,
               json_is_true(json_object_get(doc, "git_dirty")) ||
               json_integer_value(json_object_get(doc, "git_dirty")) == 1
                   ? " (uncommitted changes)" : "");
    print_kv("params", json_object_get(doc, "params"));
    print_kv("tags", json_object_get(doc, "tags"));
    const json_t *metrics = json_object_get(doc, "metrics");
    const char *k;
    const json_t *s;
    size_t w = 6;
    json_object_foreach((json_t *)metrics, k, s)
        w = strlen(k) > w ? strlen(k) : w;
    w = w > 40 ? 40 : w;
    if (json_object_size(metrics))
        printf("metrics:\n  %-*s  %12s  %12s  %12s  %8s  %8s\n", (int)w,
               "KEY", "LAST", "MIN", "MAX", "POINTS", "STEP");
    else
        printf("metrics: (none)\n");
    json_object_foreach((json_t *)metrics, k, s)
        printf("  %-*s  %12s  %12s  %12s  %8lld  %8lld\n", (int)w, k,
               fmt_json(a, sizeof a, json_object_get(s, "last")),
               fmt_json(b, sizeof b, json_object_get(s, "min")),
               fmt_json(c, sizeof c, json_object_get(s, "max")),
               (long long)json_integer_value(json_object_get(s, "n")),
               (long long)json_integer_value(json_object_get(s,
                                                             "last_step")));
    const json_t *steps = json_object_get(doc, "steps");
    size_t i;
    const json_t *step;
    printf("steps:%s\n", json_array_size(steps) ? "" : " (none)");
    json_array_foreach(steps, i, step) {
        int64_t s0 = json_integer_value(json_object_get(step, "start_ms"));
        int64_t s1 = json_integer_value(json_object_get(step, "end_ms"));
        printf("  %-16s  %-9s  %s\n",
               json_string_value(json_object_get(step, "name")),
               json_string_value(json_object_get(step, "status")),
               fmt_dur(a, sizeof a, s0, s1));
        size_t j;
        const json_t *art;
        json_array_foreach(json_object_get(step, "artifacts"), j, art)
            printf("    %-6s %-8s %s %.12s (%lld bytes)\n",
                   json_string_value(json_object_get(art, "direction")),
                   json_string_value(json_object_get(art, "kind")),
                   fmt_json(b, sizeof b, json_object_get(art, "name")),
                   json_string_value(json_object_get(art, "digest")),
                   (long long)json_integer_value(json_object_get(art,
                                                                 "size")));
    }
}

static int cmd_show(int argc, char **argv, const struct orr_cli_globals *g,
                    int export)
{
    const char *cmd = export ? "export" : "show";
    const char *run;
    int json = export;
    int rc = one_run_args(cmd, argc, argv, &run, &json);
    if (rc)
        return rc < 0 ? ORR_EXIT_OK : rc;
    struct orr_error e = {0};
    struct orr_core *core = NULL;
    struct orr_meta *m = NULL;
    json_t *doc = NULL;
    if (!open_meta(g, &core, &m, &e))
        doc = load_run(m, run, export, &e);
    int code;
    if (!doc) {
        code = orr_cli_fail(export ? "runs export" : "runs show", &e);
    } else if (json) {
        code = orr_cli_print_json(doc);
    } else {
        print_show(doc);
        json_decref(doc);
        code = ORR_EXIT_OK;
    }
    orr_core_close(core);
    return code;
}

/* ---- compare ----------------------------------------------------------- */

#define MAX_COMPARE 16

static int cmd_compare(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *args[MAX_COMPARE];
    size_t n = 0;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (orr_cli_is_help(argv[i])) {
            help();
            return ORR_EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (argv[i][0] == '-') {
            return orr_cli_usage_error("runs", "unknown option '%s' to "
                                       "'runs compare'", argv[i]);
        } else if (n == MAX_COMPARE) {
            return orr_cli_usage_error("runs", "at most %d runs to compare",
                                       MAX_COMPARE);
        } else {
            args[n++] = argv[i];
        }
    }
    if (n < 2)
        return orr_cli_usage_error("runs", "compare needs two runs or more");
    struct orr_error e = {0};
    struct orr_core *core = NULL;
    struct orr_meta *m = NULL;
    json_t *docs[MAX_COMPARE] = {0};
    int rc = open_meta(g, &core, &m, &e);
    for (size_t i = 0; !rc && i < n; i++)
        if (!(docs[i] = load_run(m, args[i], 0, &e)))
            rc = e.code ? e.code : ORR_ENOMEM;
    if (rc) {
        for (size_t i = 0; i < n; i++)
            json_decref(docs[i]);
        orr_core_close(core);
        return orr_cli_fail("runs compare", &e);
    }
    /* Union of keys, sorted by jansson's object order of a merged object. */
    json_t *pkeys = json_object(), *mkeys = json_object();
    for (size_t i = 0; i < n; i++) {
        json_object_update(pkeys, json_object_get(docs[i], "params"));
        json_object_update(mkeys, json_object_get(docs[i], "metrics"));
    }
    json_t *out = json_object(), *ids = json_array(), *params = json_object(),
           *metrics = json_object(), *differ = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(ids, json_object_get(docs[i], "id"));
    const char *k;
    json_t *v;
    json_object_foreach(pkeys, k, v) {
        json_t *row = json_array();
        int diff = 0;
        for (size_t i = 0; i < n; i++) {
            json_t *x = json_object_get(json_object_get(docs[i], "params"), k);
            json_array_append_new(row, x ? json_incref(x) : json_null());
            if (i && !json_equal(json_array_get(row, 0),
                                 json_array_get(row, i)))
                diff = 1;
        }
        json_object_set_new(params, k, row);
        if (diff)
            json_array_append_new(differ, json_string(k));
    }
    static const char *const aggs[] = {"last", "min", "max"};
    json_object_foreach(mkeys, k, v) {
        json_t *o = json_object();
        for (size_t a = 0; a < 3; a++) {
            json_t *row = json_array();
            for (size_t i = 0; i < n; i++) {
                json_t *s = json_object_get(json_object_get(docs[i],
                                                            "metrics"), k);
                json_t *x = json_object_get(s, aggs[a]);
                json_array_append_new(row, x ? json_incref(x) : json_null());
            }
            json_object_set_new(o, aggs[a], row);
        }
        json_object_set_new(metrics, k, o);
    }
    json_object_set_new(out, "runs", ids);
    json_object_set_new(out, "params", params);
    json_object_set_new(out, "metrics", metrics);
    json_object_set_new(out, "differing_params", differ);
    int code = ORR_EXIT_OK;
    if (json) {
        code = orr_cli_print_json(json_incref(out));
    } else {
        int tty = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
        printf("  %-24s", "");
        for (size_t i = 0; i < n; i++)
            printf("  %-14.12s", json_string_value(json_array_get(ids, i)));
        printf("\nparams (* differs):\n");
        json_object_foreach(params, k, v) {
            int diff = 0;
            size_t j;
            json_t *d;
            json_array_foreach(differ, j, d)
                diff |= !strcmp(json_string_value(d), k);
            printf("%s%c %-24.24s", diff && tty ? "\033[1m" : "",
                   diff ? '*' : ' ', k);
            for (size_t i = 0; i < n; i++) {
                char b[64];
                printf("  %-14.14s", fmt_json(b, sizeof b,
                                              json_array_get(v, i)));
            }
            printf("%s\n", diff && tty ? "\033[0m" : "");
        }
        printf("metrics (last / min / max):\n");
        json_object_foreach(metrics, k, v) {
            for (size_t a = 0; a < 3; a++) {
                char name[64];
                snprintf(name, sizeof name, "%s.%s", k, aggs[a]);
                printf("  %-24.24s", name);
                for (size_t i = 0; i < n; i++) {
                    char b[64];
                    printf("  %-14.14s", fmt_json(b, sizeof b,
                        json_array_get(json_object_get(v, aggs[a]), i)));
                }
                printf("\n");
            }
        }
    }
    json_decref(out);
    json_decref(pkeys);
    json_decref(mkeys);
    for (size_t i = 0; i < n; i++)
        json_decref(docs[i]);
    orr_core_close(core);
    return code;
}

/* ---- import ------------------------------------------------------------ */

static int cmd_import(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *file = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (orr_cli_is_help(argv[i])) {
            help();
            return ORR_EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return orr_cli_usage_error("runs", "unknown option '%s' to "
                                       "'runs import'", argv[i]);
        } else if (file) {
            return orr_cli_usage_error("runs", "'runs import' takes one "
                                       "file");
        } else {
            file = argv[i];
        }
    }
    if (!file)
        return orr_cli_usage_error("runs", "which file? (orrery runs import "
                                   "FILE, or - for stdin)");
    json_error_t je;
    json_t *doc = !strcmp(file, "-") ? json_loadf(stdin, 0, &je)
                                     : json_load_file(file, 0, &je);
    struct orr_error e = {0};
    if (!doc) {
        orr_fail(&e, ORR_EINVAL, "%s: line %d, column %d: %s",
                 strcmp(file, "-") ? file : "stdin", je.line, je.column,
                 je.text);
        return orr_cli_fail("runs import", &e);
    }
    struct orr_core *core = NULL;
    struct orr_meta *m = NULL;
    char id[ORR_RUN_ID_SIZE];
    int rc = open_meta(g, &core, &m, &e);
    if (!rc)
        rc = orr_meta_run_import(m, doc, id, &e);
    json_decref(doc);
    int code;
    if (rc)
        code = orr_cli_fail("runs import", &e);
    else if (json)
        code = orr_cli_print_json(json_pack("{s:s}", "id", id));
    else {
        printf("imported run %s\n", id);
        code = ORR_EXIT_OK;
    }
    orr_core_close(core);
    return code;
}

int orr_cmd_runs(int argc, char **argv, const struct orr_cli_globals *g)
{
    if (argc < 2) {
        help();
        return ORR_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (orr_cli_is_help(sub)) {
        help();
        return ORR_EXIT_OK;
    }
    if (!strcmp(sub, "list") || !strcmp(sub, "ls"))
        return cmd_list(argc - 1, argv + 1, g);
    if (!strcmp(sub, "show"))
        return cmd_show(argc - 1, argv + 1, g, 0);
    if (!strcmp(sub, "export"))
        return cmd_show(argc - 1, argv + 1, g, 1);
    if (!strcmp(sub, "compare"))
        return cmd_compare(argc - 1, argv + 1, g);
    if (!strcmp(sub, "import"))
        return cmd_import(argc - 1, argv + 1, g);
    return orr_cli_usage_error("runs", "unknown subcommand '%s' (list, show, "
                               "compare, export, import)", sub);
}
