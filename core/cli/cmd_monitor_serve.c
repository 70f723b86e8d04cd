/*
 * cli/cmd_monitor_serve.c - `orrery monitor serve [--port N] [--host H]
 * [--json]`: the monitor's figures on /metrics for Prometheus.
 *
 * No HTTP server of its own: the site's server backend (server-http) is
 * started with no model deployed, so /metrics carries its process
 * figures (requests, in flight) and, through the host's export_metrics,
 * the monitor's figures read from the site's metadata store.  The model
 * routes answer 503 (no model deployed).
 */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/site.h"
#include "core.h"
#include "monitor/export.h"
#include "plugin/instance.h"
#include "util/error.h"

/* Not the model server's 8080, so both run side by side. */
#define DEFAULT_PORT 9400

static void help(void)
{
    printf("Usage: orrery monitor serve [--port N] [--host H] [--json]\n"
           "\n"
           "Serve the monitor's figures (drift scores, drifted features, "
           "dataset drift\n"
           "share, data and model quality, window rows, open alerts) as "
           "Prometheus\n"
           "metrics on /metrics, until SIGINT or SIGTERM.  The figures are "
           "those of\n"
           "the latest `orrery monitor run` of each model and version.  See "
           "docs/monitoring.md.\n"
           "\n"
           "  --port N   port (default %d; 0 = any free)\n"
           "  --host H   address to bind (default 127.0.0.1)\n"
           "  --json     print {\"url\", \"metrics\", \"port\"} once "
           "listening\n", DEFAULT_PORT);
}

static int port_arg(const char *s, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 0 || v > 65535)
        return -1;
    *out = v;
    return 0;
}

int orri_cmd_monitor_serve(int argc, char **argv,
                           const struct orr_cli_globals *g)
{
    const char *host = "127.0.0.1";
    long port = DEFAULT_PORT;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (orr_cli_is_help(a)) {
            help();
            return ORR_EXIT_OK;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--host") && has) {
            host = argv[++i];
        } else if (!strcmp(a, "--port") && has) {
            if (port_arg(argv[++i], &port))
                return orr_cli_usage_error("monitor serve", "bad value '%s' "
                                           "for --port (0 to 65535)",
                                           argv[i]);
        } else {
            return orr_cli_usage_error("monitor serve", "unknown or "
                                       "incomplete option '%s'", a);
        }
    }

    struct orr_error e = {0};
    struct orr_core *core = NULL;
    struct orr_core_options co = {.site_path = g->site_path};
    struct orr_instance *srv = NULL;
    int exit = ORR_EXIT_OK, attached = 0, started = 0;
    sigset_t sigs;
    /* Blocked before the server's threads exist, so they inherit it and
     * sigwait below takes the signal. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    int rc = orr_core_open(&core, &co, &e);
    if (!rc)
        rc = orri_monitor_export_attach(core, &e);
    attached = rc == ORR_OK;
    if (!rc)
        rc = orr_instance_open(core, ORR_KIND_SERVER, NULL, NULL, &srv, &e);
    const struct orr_server_ops *ops = srv ? &srv->backend->ops.server
                                           : NULL;
    struct orr_serve_spec spec = {
        .size = sizeof spec, .host = host, .port = (unsigned)port,
        .workers = 2,
    };
    if (!rc)
        rc = ops->start(srv->self, &spec, &e);
    started = rc == ORR_OK;
    if (rc) {
        exit = orr_cli_fail("monitor serve", &e);
        goto done;
    }
    int v6 = strchr(host, ':') != NULL;
    char url[340], metrics[360];
    snprintf(url, sizeof url, "http://%s%s%s:%u", v6 ? "[" : "", host,
             v6 ? "]" : "", ops->bound_port(srv->self));
    snprintf(metrics, sizeof metrics, "%s/metrics", url);
    if (json) {
        json_t *doc = json_pack("{s:s, s:s, s:I}", "url", url, "metrics",
                                metrics, "port",
                                (json_int_t)ops->bound_port(srv->self));
        char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        printf("%s\n", text ? text : "{}");
        free(text);
        json_decref(doc);
    } else {
        printf("monitor metrics at %s\n", metrics);
        printf("listening on %s\n", url);
    }
    fflush(stdout);
    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    fprintf(stderr, "orrery monitor serve: %s: stopping\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
done:
    if (started && ops->stop(srv->self, 2000, &e))
        exit = orr_cli_fail("monitor serve", &e);
    orr_instance_close(srv);
    if (attached)
        orri_monitor_export_detach();
    orr_core_close(core);
    return exit;
}
