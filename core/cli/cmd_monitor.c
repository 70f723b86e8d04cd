/*
 * cli/cmd_monitor.c - `orrery monitor SUB`: run, labels, profile and
 * alerts here; report, serve and prune in cmd_monitor_report.c,
 * cmd_monitor_serve.c and cmd_monitor_prune.c.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core.h"
#include "monitor/monitor.h"

/* `monitor run --fail-on-drift` when the window drifted (docs/monitoring.md):
 * distinct from 1 (the run failed) so CI can tell them apart. */
#define EXIT_DRIFT 3

static void help(void)
{
    printf("Usage: orrery monitor SUBCOMMAND ...\n"
           "\n"
           "  run MODEL [--window 1h|10000] [--notify] [--json]\n"
           "                      analyse a window of the prediction log\n"
           "  labels FILE [--model M] [--json]\n"
           "                      import ground-truth labels by request id\n"
           "  profile VERSION_URI [--reference D] [--holdout D]\n"
           "                      compute and store a reference profile\n"
           "  alerts [--model M] [--deliver] [--json]\n"
           "                      list alerts, deliver pending ones\n"
           "  report MODEL ...    terminal table and HTML report\n"
           "  serve ...           Prometheus endpoint for the figures\n"
           "  prune --older-than D [--model M] [--dry-run]\n"
           "                      retention: delete old logged predictions\n"
           "\n"
           "`orrery monitor SUBCOMMAND --help` for each.  See "
           "docs/monitoring.md.\n");
}

static int open_core(struct orr_core **core, const struct orr_cli_globals *g,
                     struct orr_error *e)
{
    struct orr_core_options co = {.site_path = g->site_path};
    return orr_core_open(core, &co, e);
}

static json_t *num_or_null(double v)
{
    return isnan(v) || isinf(v) ? json_null() : json_real(v);
}

/* ---- run ------------------------------------------------------------- */

static void run_help(void)
{
    printf("Usage: orrery monitor run MODEL [--window 1h|10000] [--notify]\n"
           "                             [--thresholds JSON] "
           "[--fail-on-drift] [--json]\n"
           "\n"
           "Analyse one window of the predictions logged for MODEL (a\n"
           "served name, or models:/NAME/V or models:/NAME@ALIAS for one\n"
           "version) against the version's reference profile with the\n"
           "site's monitor backend; store the figures, histograms, model\n"
           "quality on labelled rows and alerts (deduplicated).\n"
           "\n"
           "  --window W       10000: the latest 10000 logged predictions;\n"
           "                   90s, 30m, 1h, 2d: those logged in that span\n"
           "                   (default 1h)\n"
           "  --notify         deliver new alerts through monitor.alerts\n"
           "  --thresholds J   overrides as JSON: {\"drift_share\":0.3,\n"
           "                   \"quality_drop\":0.05,\"min_rows\":100,...}\n"
           "  --now MS         evaluate as of this Unix time in ms\n"
           "  --fail-on-drift  exit 3 when the window drifted (for CI)\n"
           "  --json           print one JSON document\n"
           "  -h, --help       show this help\n"
           "\n"
           "Exit: 0 the window was analysed (also with drift or no data,\n"
           "unless --fail-on-drift), 1 failure, 2 usage, 3 drift with\n"
           "--fail-on-drift.\n");
}

static int cmd_run(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *model = NULL;
    struct orri_monitor_opts o = {0};
    int json = 0, fail_drift = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (orr_cli_is_help(a)) {
            run_help();
            return ORR_EXIT_OK;
        } else if (!strcmp(a, "--window") && i + 1 < argc) {
            o.window = argv[++i];
        } else if (!strcmp(a, "--thresholds") && i + 1 < argc) {
            o.thresholds_json = argv[++i];
        } else if (!strcmp(a, "--now") && i + 1 < argc) {
            char *end = NULL;
            errno = 0;
            o.now_ms = strtoll(argv[++i], &end, 10);
            if (errno || !end || *end || o.now_ms <= 0)
                return orr_cli_usage_error("monitor run", "bad --now '%s'",
                                           argv[i]);
        } else if (!strcmp(a, "--notify")) {
            o.notify = 1;
        } else if (!strcmp(a, "--fail-on-drift")) {
            fail_drift = 1;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (a[0] == '-') {
            return orr_cli_usage_error("monitor run", "unknown option '%s'",
                                       a);
        } else if (!model) {
            model = a;
        } else {
            return orr_cli_usage_error("monitor run", "unexpected '%s'", a);
        }
    }
    if (!model)
        return orr_cli_usage_error("monitor run", "needs MODEL");
    struct orr_error e = {0};
    struct orr_core *core = NULL;
    struct orri_monitor_result r;
    int rc = open_core(&core, g, &e);
    if (!rc)
        rc = orri_monitor_run(core, model, &o, &r, &e);
    orr_core_close(core);
    if (rc)
        return orr_cli_fail("monitor run", &e);
    if (json) {
        json_t *d = json_pack("{s:I,s:s,s:s,s:s,s:I,s:I,s:o,s:i,s:i,s:s}",
                              "window_id", (json_int_t)r.window_id,
                              "model", r.model, "version", r.version,
                              "status", r.status,
                              "rows", (json_int_t)r.n_rows,
                              "labelled", (json_int_t)r.n_labelled,
                              "drift_share", num_or_null(r.drift_share),
                              "features_drifted", r.n_features_drifted,
                              "alerts", r.n_alerts, "message", r.message);
        int x = orr_cli_print_json(d);
        if (x)
            return x;
    } else {
        printf("%s/%s: %s, %lld rows (%lld labelled)", r.model,
               r.version[0] ? r.version : "-", r.status,
               (long long)r.n_rows, (long long)r.n_labelled);
        if (!isnan(r.drift_share))
            printf(", drift share %.3f (%d features)", r.drift_share,
                   r.n_features_drifted);
        printf(", %d new alert(s), window %lld\n", r.n_alerts,
               (long long)r.window_id);
        if (r.message[0])
            printf("%s\n", r.message);
    }
    return fail_drift && !strcmp(r.status, "drift") ? EXIT_DRIFT
                                                    : ORR_EXIT_OK;
}

/* ---- labels ----------------------------------------------------------- */

static void labels_help(void)
{
    printf("Usage: orrery monitor labels FILE [--model M] [--json]\n"
           "\n"
           "Import ground-truth labels by request id from a CSV file with\n"
           "the header `request_id,label` or from JSON lines\n"
           "({\"request_id\": \"...\", \"label\": ...}).  A label whose\n"
           "prediction is not logged yet is kept (pending) and joins when\n"
           "the prediction arrives; bad lines are counted and the first is\n"
           "named.  Exit 1 if any line was refused.\n"
           "\n"
           "  --model M   labels for model M only (default: any model)\n"
           "  --json      print one JSON document\n"
           "  -h, --help  show this help\n");
}

static int cmd_labels(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *file = NULL, *model = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (orr_cli_is_help(a)) {
            labels_help();
            return ORR_EXIT_OK;
        } else if (!strcmp(a, "--model") && i + 1 < argc) {
            model = argv[++i];
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (a[0] == '-' && a[1]) {
            return orr_cli_usage_error("monitor labels", "unknown option "
                                       "'%s'", a);
        } else if (!file) {
            file = a;
        } else {
            return orr_cli_usage_error("monitor labels", "unexpected '%s'",
                                       a);
        }
    }
    if (!file)
        return orr_cli_usage_error("monitor labels", "needs FILE");
    struct orr_error e = {0};
    struct orr_core *core = NULL;
    struct orr_meta *m = NULL;
    struct orri_label_stats s;
    memset(&s, 0, sizeof s);
    int rc = open_core(&core, g, &e);
    if (!rc)
        rc = orr_core_meta(core, &m, &e);
    if (!rc)
        rc = orri_monitor_import_labels(m, file, model, &s, &e);
    orr_core_close(core);
    if (rc)
        return orr_cli_fail("monitor labels", &e);
    if (json) {
        json_t *d = json_pack("{s:I,s:I,s:I,s:I,s:s?}",
                              "read", (json_int_t)s.read,
                              "matched", (json_int_t)s.matched,
                              "pending", (json_int_t)s.pending,
                              "invalid", (json_int_t)s.invalid,
                              "first_invalid", s.first_invalid[0]
                                               ? s.first_invalid : NULL);
        int x = orr_cli_print_json(d);
        if (x)
            return x;
    } else {
        printf("%lld labels: %lld matched, %lld pending (kept until their "
               "prediction is logged), %lld refused\n", (long long)s.read,
               (long long)s.matched, (long long)s.pending,
               (long long)s.invalid);
    }
    if (s.invalid) {
        fprintf(stderr, "orrery monitor labels: %lld line(s) refused, "
                "first: %s\n", (long long)s.invalid, s.first_invalid);
        return ORR_EXIT_FAIL;
    }
    return ORR_EXIT_OK;
}

/* ---- profile ------------------------------------------------------------ */

static void profile_help(void)
{
    printf("Usage: orrery monitor profile VERSION_URI [--reference D]\n"
           "                                        [--holdout D]\n"
           "\n"
           "Compute the reference profile of a registered version with\n"
           "the site's monitor backend and store it with the version\n"
           "(replacing an older one).  D is a CSV file, datasets:/NAME[/N]\n"
           "or a dataset digest.  The reference defaults to the dataset\n"
           "the version was trained on; the holdout (whose predictions are\n"
           "profiled) to the reference.\n"
           "\n"
           "  -h, --help  show this help\n");
}

static int cmd_profile(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *uri = NULL, *ref = NULL, *hold = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (orr_cli_is_help(a)) {
            profile_help();
            return ORR_EXIT_OK;
        } else if (!strcmp(a, "--reference") && i + 1 < argc) {
            ref = argv[++i];
        } else if (!strcmp(a, "--holdout") && i + 1 < argc) {
            hold = argv[++i];
        } else if (a[0] == '-') {
            return orr_cli_usage_error("monitor profile", "unknown option "
                                       "'%s'", a);
        } else if (!uri) {
            uri = a;
        } else {
            return orr_cli_usage_error("monitor profile", "unexpected '%s'",
                                       a);
        }
    }
    if (!uri)
        return orr_cli_usage_error("monitor profile", "needs VERSION_URI");
    struct orr_error e = {0};
    struct orr_core *core = NULL;
    int rc = open_core(&core, g, &e);
    if (!rc)
        rc = orri_monitor_profile(core, uri, ref, hold, &e);
    orr_core_close(core);
    if (rc)
        return orr_cli_fail("monitor profile", &e);
    printf("profile stored for %s\n", uri);
    return ORR_EXIT_OK;
}

/* ---- alerts ------------------------------------------------------------- */

static void alerts_help(void)
{
    printf("Usage: orrery monitor alerts [--model M] [--limit N] "
           "[--deliver] [--json]\n"
           "\n"
           "List the latest alerts with their delivery state.  --deliver\n"
           "first sends the pending ones through the site's notifying\n"
           "backends (monitor.alerts); a failed delivery stays pending\n"
           "with its error and is retried next time (exit 1).\n"
           "\n"
           "  --model M   only model M\n"
           "  --limit N   at most N alerts (default 100)\n"
           "  --deliver   deliver pending alerts first\n"
           "  --json      print one JSON document\n"
           "  -h, --help  show this help\n");
}

static int cmd_alerts(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *model = NULL;
    int json = 0, deliver = 0, limit = 100;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (orr_cli_is_help(a)) {
            alerts_help();
            return ORR_EXIT_OK;
        } else if (!strcmp(a, "--model") && i + 1 < argc) {
            model = argv[++i];
        } else if (!strcmp(a, "--limit") && i + 1 < argc) {
            char *end = NULL;
            long v = strtol(argv[++i], &end, 10);
            if (!end || *end || v <= 0 || v > 100000)
                return orr_cli_usage_error("monitor alerts", "bad --limit "
                                           "'%s'", argv[i]);
            limit = (int)v;
        } else if (!strcmp(a, "--deliver")) {
            deliver = 1;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else {
            return orr_cli_usage_error("monitor alerts", "unexpected '%s'",
                                       a);
        }
    }
    struct orr_error e = {0}, de = {0};
    struct orr_core *core = NULL;
    json_t *list = NULL;
    int sent = 0, drc = ORR_OK;
    int rc = open_core(&core, g, &e);
    if (!rc && deliver)
        drc = orri_monitor_deliver_alerts(core, 1000, &sent, &de);
    if (!rc)
        rc = orri_monitor_alerts(core, model, limit, &list, &e);
    orr_core_close(core);
    if (rc)
        return orr_cli_fail("monitor alerts", &e);
    if (json) {
        json_t *d = json_pack("{s:o}", "alerts", list);
        if (deliver)
            json_object_set_new(d, "delivered", json_integer(sent));
        int x = orr_cli_print_json(d);
        if (x)
            return x;
    } else {
        size_t i;
        json_t *a;
        if (deliver)
            printf("%d alert(s) delivered\n", sent);
        json_array_foreach(list, i, a) {
            json_t *dv = json_object_get(a, "delivered_ms");
            json_t *err = json_object_get(a, "delivery_error");
            printf("%-6lld %-8s %s%s%s\n",
                   (long long)json_integer_value(json_object_get(a, "id")),
                   json_string_value(json_object_get(a, "severity")),
                   json_string_value(json_object_get(a, "title")),
                   json_is_null(dv) ? " [pending" : "",
                   json_is_null(dv) ? (json_is_string(err) ? ": error]"
                                                           : "]") : "");
        }
        json_decref(list);
    }
    if (drc)
        return orr_cli_fail("monitor alerts", &de);
    return ORR_EXIT_OK;
}

int orr_cmd_monitor(int argc, char **argv, const struct orr_cli_globals *g)
{
    if (argc < 2 || orr_cli_is_help(argv[1])) {
        help();
        return argc < 2 ? ORR_EXIT_USAGE : ORR_EXIT_OK;
    }
    if (!strcmp(argv[1], "run"))
        return cmd_run(argc - 1, argv + 1, g);
    if (!strcmp(argv[1], "labels"))
        return cmd_labels(argc - 1, argv + 1, g);
    if (!strcmp(argv[1], "profile"))
        return cmd_profile(argc - 1, argv + 1, g);
    if (!strcmp(argv[1], "alerts"))
        return cmd_alerts(argc - 1, argv + 1, g);
    if (!strcmp(argv[1], "report"))
        return orri_cmd_monitor_report(argc - 1, argv + 1, g);
    if (!strcmp(argv[1], "serve"))
        return orri_cmd_monitor_serve(argc - 1, argv + 1, g);
    if (!strcmp(argv[1], "prune"))
        return orri_cmd_monitor_prune(argc - 1, argv + 1, g);
    return orr_cli_usage_error("monitor", "unknown subcommand '%s'",
                               argv[1]);
}
