/*
 * cli/cmd_serve.c - `orrery serve MODEL... [--port P] [--host H]
 * [--workers N] [--poll-ms MS] [--canary URI=P%] [--shadow URI]
 * [--access-log PATH] [--batch [NAME:]max_rows=N,max_delay_us=N]
 * [--check] [--json]`.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/cfg.h"
#include "config/site.h"
#include "core.h"
#include "serve/serve.h"
#include "util/error.h"

static void help(void)
{
    printf("Usage: orrery serve MODEL... [--port P] [--host H] "
           "[--workers N]\n"
           "                    [--poll-ms MS] [--canary URI=P%%] "
           "[--shadow URI]\n"
           "                    [--check] [--json]\n"
           "\n"
           "Serve registered models over HTTP: KServe V2 (/v2/models/NAME/"
           "infer),\n"
           "MLflow's /invocations (one model), /metrics (Prometheus).  "
           "MODEL is\n"
           "models:/NAME/3 (pinned), models:/NAME@ALIAS or models:/NAME "
           "(latest);\n"
           "a model is served under its registered name.  Aliases and "
           "latest are\n"
           "followed: when one moves, the new version is loaded, checked "
           "and\n"
           "swapped in without failing a request.  See docs/serving.md.\n"
           "\n"
           "  --port P       port (site server.port, default 8080; 0 = any "
           "free)\n"
           "  --host H       address to bind (site server.host, default "
           "127.0.0.1)\n"
           "  --workers N    serving threads (default: one per core)\n"
           "  --poll-ms MS   how often aliases are re-read (site "
           "server.poll_ms,\n"
           "                 default 1000)\n"
           "  --canary URI=P%%  send P%% of the requests for URI's model to "
           "URI\n"
           "                 (sticky per X-Request-Key header)\n"
           "  --shadow URI   send a copy of each request to URI after the "
           "answer\n"
           "  --access-log PATH  one JSON line per request to PATH ('-': "
           "stdout;\n"
           "                 site server.access_log)\n"
           "  --batch [NAME:]max_rows=N,max_delay_us=N\n"
           "                 group concurrent small requests (of model NAME, "
           "or all)\n"
           "                 into one prediction of up to N rows, waiting at "
           "most\n"
           "                 max_delay_us (default 500) for more\n"
           "  --check        load and check each model, then exit 0 or 1\n"
           "  --json         print the models (and the URL) as JSON\n"
           "  -h, --help     show this help\n"
           "\n"
           "Prints 'listening on http://HOST:PORT' once serving; SIGTERM or "
           "SIGINT\n"
           "stops accepting, drains requests in flight and exits 0.\n");
}

static int num_arg(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* --canary URI=PCT[%] and --shadow URI, added after the primaries. */
struct extra {
    char                *uri;
    enum orr_deploy_role role;
    double               pct;
};

/* Split "URI=PCT%" into a copy of URI and PCT (0..100); -1 if bad. */
static int canary_arg(const char *a, struct extra *x)
{
    const char *eq = strrchr(a, '=');
    if (!eq || eq == a || !eq[1])
        return -1;
    errno = 0;
    char *end;
    double v = strtod(eq + 1, &end);
    if (*end == '%')
        end++;
    if (errno || end == eq + 1 || *end || !(v >= 0.0 && v <= 100.0))
        return -1;
    x->uri = strndup(a, (size_t)(eq - a));
    x->role = ORR_ROLE_CANARY;
    x->pct = v;
    return x->uri ? 0 : -1;
}

/* --batch [NAME:]max_rows=N,max_delay_us=N as backend options
 * batch[.NAME].KEY; ORR_EINVAL with the reason when malformed. */
static int batch_arg(struct orr_serve *s, const char *a, struct orr_error *e)
{
    char buf[256], path[300];
    if (strlen(a) >= sizeof buf)
        return orr_fail(e, ORR_EINVAL, "--batch: too long");
    memcpy(buf, a, strlen(a) + 1);
    char *spec = buf, *colon = strchr(buf, ':'), *save = NULL;
    const char *name = NULL;
    if (colon) {
        *colon = '\0';
        name = buf;
        spec = colon + 1;
    }
    int any = 0;
    for (char *kv = strtok_r(spec, ",", &save); kv;
         kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        long v;
        if (!eq)
            return orr_fail(e, ORR_EINVAL, "--batch: '%s' is not KEY=VALUE",
                            kv);
        *eq = '\0';
        if (strcmp(kv, "max_rows") && strcmp(kv, "max_delay_us"))
            return orr_fail(e, ORR_EINVAL, "--batch: unknown key '%s' "
                            "(max_rows, max_delay_us)", kv);
        if (num_arg(eq + 1, 1, 1000000, &v))
            return orr_fail(e, ORR_EINVAL, "--batch: bad value '%s' for %s",
                            eq + 1, kv);
        snprintf(path, sizeof path, "batch.%s%s%s", name ? name : "",
                 name ? "." : "", kv);
        int rc = orr_serve_set(s, path, eq + 1, e);
        if (rc)
            return rc;
        any |= !strcmp(kv, "max_rows");
    }
    if (!any)
        return orr_fail(e, ORR_EINVAL, "--batch needs max_rows=N");
    return ORR_OK;
}

static const char *role_text(enum orr_deploy_role r)
{
    return r == ORR_ROLE_CANARY ? "canary"
           : r == ORR_ROLE_SHADOW ? "shadow" : "primary";
}

static const char *task_text(enum orr_task t)
{
    switch (t) {
    case ORR_TASK_REGRESSION: return "regression";
    case ORR_TASK_BINARY:     return "binary";
    case ORR_TASK_MULTICLASS: return "multiclass";
    case ORR_TASK_RANKING:    return "ranking";
    default:                  return "unknown";
    }
}

static json_t *models_json(struct orr_serve *s)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < orr_serve_count(s); i++) {
        struct orr_serve_model m;
        orr_serve_model(s, i, &m);
        json_array_append_new(arr, json_pack(
            "{s:s, s:s, s:I, s:b, s:s, s:s, s:I, s:I, s:s, s:f}", "uri",
            m.uri,
            "name", m.name, "version", (json_int_t)m.version, "follows",
            m.follows, "flavor", m.flavor, "task", task_text(m.task),
            "n_features", (json_int_t)m.n_features, "n_outputs",
            (json_int_t)m.n_outputs, "role", role_text(m.role),
            "traffic_percent", m.traffic_percent));
    }
    return arr;
}

static void print_models(struct orr_serve *s, const char *verb)
{
    for (size_t i = 0; i < orr_serve_count(s); i++) {
        struct orr_serve_model m;
        orr_serve_model(s, i, &m);
        char role[48] = "";
        if (m.role == ORR_ROLE_CANARY)
            snprintf(role, sizeof role, " (canary, %g%%)", m.traffic_percent);
        else if (m.role == ORR_ROLE_SHADOW)
            snprintf(role, sizeof role, " (shadow)");
        printf("%s %s as '%s': version %lld, %s %s, %zu features -> %zu "
               "output%s%s%s\n", verb, m.uri, m.name, (long long)m.version,
               m.flavor, task_text(m.task), m.n_features, m.n_outputs,
               m.n_outputs == 1 ? "" : "s",
               m.follows ? " (following)" : "", role);
    }
}

int orr_cmd_serve(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char **uris = calloc((size_t)argc, sizeof *uris);
    struct extra *extra = calloc((size_t)argc, sizeof *extra);
    const char *host = NULL, *access_log = NULL, *batch = NULL;
    long port = -1, workers = 0, poll_ms = -1;
    int check = 0, json = 0;
    size_t n = 0, n_extra = 0;
    int exit = ORR_EXIT_OK, rc;
    if (!uris || !extra) {
        fprintf(stderr, "orrery serve: out of memory\n");
        exit = ORR_EXIT_FAIL;
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (orr_cli_is_help(a)) {
            help();
            goto out;
        } else if (!strcmp(a, "--canary") && has) {
            if (canary_arg(argv[++i], &extra[n_extra]))
                goto bad_num;
            n_extra++;
        } else if (!strcmp(a, "--shadow") && has) {
            extra[n_extra].role = ORR_ROLE_SHADOW;
            if (!(extra[n_extra++].uri = strdup(argv[++i])))
                goto bad_num;
        } else if (!strcmp(a, "--access-log") && has) {
            access_log = argv[++i];
        } else if (!strcmp(a, "--batch") && has) {
            batch = argv[++i];
        } else if (!strcmp(a, "--check")) {
            check = 1;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--host") && has) {
            host = argv[++i];
        } else if (!strcmp(a, "--port") && has) {
            if (num_arg(argv[++i], 0, 65535, &port))
                goto bad_num;
        } else if (!strcmp(a, "--workers") && has) {
            if (num_arg(argv[++i], 1, 1024, &workers))
                goto bad_num;
        } else if (!strcmp(a, "--poll-ms") && has) {
            if (num_arg(argv[++i], 1, 3600000, &poll_ms))
                goto bad_num;
        } else if (a[0] == '-') {
            exit = orr_cli_usage_error("serve", "unknown or incomplete "
                                       "option '%s'", a);
            goto out;
        } else {
            uris[n++] = a;
        }
        continue;
bad_num:
        exit = orr_cli_usage_error("serve", "bad value '%s' for %s",
                                   argv[i], a);
        goto out;
    }
    if (n == 0) {
        exit = orr_cli_usage_error("serve", "needs at least one MODEL "
                                   "(models:/NAME@ALIAS, models:/NAME/3)");
        goto out;
    }

    struct orr_error e = {0};
    struct orr_core *core = NULL;
    struct orr_core_options co = {.site_path = g->site_path};
    struct orr_serve *s = NULL;
    sigset_t sigs;
    /* SIGTERM/SIGINT are taken with sigwait: blocked here, before any
     * serving thread exists, so every thread inherits the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    rc = orr_core_open(&core, &co, &e);
    if (!rc)
        rc = orr_serve_open(core, uris, n, &s, &e);
    for (size_t i = 0; !rc && i < n_extra; i++)
        rc = orr_serve_add(s, extra[i].uri, extra[i].role, extra[i].pct, &e);
    if (!rc && access_log)
        rc = orr_serve_set(s, "access_log", access_log, &e);
    if (!rc && batch)
        rc = batch_arg(s, batch, &e);
    if (rc) {
        exit = orr_cli_fail("serve", &e);
        goto done;
    }
    if (check) {
        if (json)
            exit = orr_cli_print_json(json_pack("{s:b, s:o}", "ok", 1,
                                                "models", models_json(s)));
        else
            print_models(s, "ok");
        goto done;
    }

    const struct orr_site *site = orr_core_site(core);
    const char *backend = orr_site_backend(site, ORR_KIND_SERVER);
    const struct orr_cfg *cfg = orr_site_backend_cfg(site, ORR_KIND_SERVER,
                                                     backend);
    if (!host)
        host = orr_cfg_str(cfg, "host", "127.0.0.1");
    if (port < 0)
        port = (long)orr_cfg_int(cfg, "port", 8080);
    if (poll_ms < 0)
        poll_ms = (long)orr_cfg_int(cfg, "poll_ms", 1000);
    long drain_ms = (long)orr_cfg_int(cfg, "drain_ms", 10000);
    if (port < 0 || port > 65535 || poll_ms < 1 || poll_ms > INT_MAX ||
        drain_ms < 0 || drain_ms > INT_MAX) {
        fprintf(stderr, "orrery serve: server.port, server.poll_ms or "
                        "server.drain_ms out of range in the site\n");
        exit = ORR_EXIT_FAIL;
        goto done;
    }
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    struct orr_serve_spec spec = {
        .size = sizeof spec, .host = host, .port = (unsigned)port,
        .workers = (unsigned)workers,
    };
    rc = orr_serve_start(s, backend, &spec, &e);
    if (!rc)
        rc = orr_serve_watch(s, (int)poll_ms, &e);
    if (rc) {
        exit = orr_cli_fail("serve", &e);
        goto done;
    }
    /* An IPv6 address is bracketed in a URL. */
    int v6 = strchr(host, ':') != NULL;
    char hostpart[300];
    snprintf(hostpart, sizeof hostpart, "%s%s%s", v6 ? "[" : "", host,
             v6 ? "]" : "");
    if (json) {
        char url[340];
        snprintf(url, sizeof url, "http://%s:%u", hostpart,
                 orr_serve_port(s));
        json_t *doc = json_pack("{s:s, s:I, s:o}", "url", url, "port",
                                (json_int_t)orr_serve_port(s), "models",
                                models_json(s));
        char *text = json_dumps(doc, JSON_COMPACT);
        printf("%s\n", text ? text : "{}");
        free(text);
        json_decref(doc);
    } else {
        print_models(s, "serving");
    }
    printf("listening on http://%s:%u\n", hostpart, orr_serve_port(s));
    fflush(stdout);
    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    fprintf(stderr, "orrery serve: %s: draining requests in flight\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    if (orr_serve_stop(s, (int)drain_ms, &e))
        exit = orr_cli_fail("serve", &e);
done:
    orr_serve_close(s);
    orr_core_close(core);
out:
    for (size_t i = 0; extra && i < n_extra; i++)
        free(extra[i].uri);
    free(extra);
    free(uris);
    return exit;
}
