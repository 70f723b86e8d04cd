/*
 * test_webhook.c - the "webhook" monitor backend (monitor-webhook.so)
 * through the real core: a site file selecting it, the plugin found on
 * ORRERY_PLUGIN_PATH by the loader, the instance opened from the site's
 * configuration, alerts posted to a local receiver (receiver.py, started
 * on a free loopback port and stopped by PID) that records every delivery
 * and can be told to fail, rate-limit, refuse or hang.  Then the core's
 * delivery (orri_monitor_deliver_alerts): dedup, and an alert kept
 * pending while the receiver is down, delivered on the next call.
 *
 * Waits are bounded polls; the one bound on time (a hanging receiver)
 * is generous: it checks that the call ends, not how fast.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config/site.h"
#include "core.h"
#include "monitor/internal.h"
#include "monitor/monitor.h"
#include "plugin/host.h"
#include "util/log.h"
#include "test.h"

extern char **environ;

#define SECRET "SECRETPATH123"

static char dir[PATH_MAX], cwd[PATH_MAX];
static pid_t receiver_pid;
static unsigned receiver_port;
static char hook_url[256];

static void stop_receiver(void)
{
    if (receiver_pid > 0) {
        kill(receiver_pid, SIGTERM);
        waitpid(receiver_pid, NULL, 0);
        receiver_pid = 0;
    }
    if (dir[0]) {
        char cmd[PATH_MAX + 16];
        if (chdir(cwd) == 0) {
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
            if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        }
        dir[0] = '\0';
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Once per program: a temporary site directory and the receiver. */
static int setup(void)
{
    if (receiver_pid > 0)
        return 1;
    const char *src = getenv("ORRERY_WEBHOOK_RECEIVER");
    if (!src) {
        fprintf(stderr, "ORRERY_WEBHOOK_RECEIVER is not set\n");
        return 0;
    }
    snprintf(dir, sizeof dir, "/tmp/orr-webhook-XXXXXX");
    if (!getcwd(cwd, sizeof cwd) || !mkdtemp(dir) || chdir(dir) != 0)
        return 0;
    atexit(stop_receiver);
    unsetenv("ORRERY_SITE");
    setenv("XDG_CONFIG_HOME", dir, 1);
    char port_file[PATH_MAX + 16];
    snprintf(port_file, sizeof port_file, "%s/receiver.port", dir);
    char *argv[] = {"/usr/bin/python3", (char *)src, port_file, NULL};
    if (posix_spawn(&receiver_pid, argv[0], NULL, NULL, argv, environ))
        return 0;
    for (int i = 0; i < 600 && !receiver_port; i++) {
        FILE *f = fopen(port_file, "r");
        if (f) {
            if (fscanf(f, "%u", &receiver_port) != 1)
                receiver_port = 0;
            fclose(f);
        }
        if (!receiver_port)
            sleep_ms(50);
    }
    if (!receiver_port)
        return 0;
    snprintf(hook_url, sizeof hook_url,
             "http://127.0.0.1:%u/hooks/T000/" SECRET, receiver_port);
    return 1;
}

/* ---- the receiver's control endpoints ---------------------------------- */

static int ctl(const char *method, const char *path, const char *body,
               json_t **out)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", receiver_port, path);
    struct orr_http_request rq = {
        .size = sizeof rq, .method = method, .url = url, .body = body,
        .body_len = body ? strlen(body) : 0, .timeout_ms = 10000};
    struct orr_http_response rs = {.size = sizeof rs};
    struct orr_error e = {0};
    const struct orr_host *h = orri_host_table();
    int rc = h->http(&rq, &rs, &e);
    if (rc || rs.status != 200) {
        fprintf(stderr, "receiver %s %s: %s (%ld)\n", method, path, e.msg,
                rs.status);
        h->free(rs.body);
        return 0;
    }
    if (out)
        *out = json_loads(rs.body, 0, NULL);
    h->free(rs.body);
    return 1;
}

static void mode(const char *json)
{
    CHECK(ctl("POST", "/_reset", "", NULL));
    CHECK(ctl("POST", "/_mode", json, NULL));
}

/* The deliveries recorded (a new reference), or an empty array. */
static json_t *deliveries(void)
{
    json_t *doc = NULL;
    CHECK(ctl("GET", "/_records", NULL, &doc));
    json_t *d = json_incref(json_object_get(doc, "deliveries"));
    json_decref(doc);
    return d ? d : json_array();
}

/* ---- sites ------------------------------------------------------------- */

/* Write the site file with `webhook` as the monitor.webhook table and
 * open a core on it (NULL and the error printed on failure). */
static struct orr_core *open_site(const char *webhook)
{
    FILE *f = fopen("orrery.site.lua", "w");
    CHECK(f != NULL);
    if (!f)
        return NULL;
    fprintf(f, "monitor = { alerts = {\"webhook\"}, webhook = %s }\n",
            webhook);
    fclose(f);
    struct orr_core *core = NULL;
    struct orr_error e = {0};
    struct orr_core_options opt = {"orrery.site.lua"};
    if (orr_core_open(&core, &opt, &e)) {
        fprintf(stderr, "orr_core_open: %s\n", e.msg);
        CHECK(0);
        return NULL;
    }
    return core;
}

#define STD_HOOK "{ url = env(\"ORRERY_WEBHOOK_URL\"), timeout_ms = 2000," \
                 " retries = 3, backoff_ms = 10, backoff_max_ms = 40,"      \
                 " headers = { [\"X-Orrery-Test\"] = \"yes\" } }"

/* Open the webhook instance of a site: the status, and the error. */
static int open_hook(const char *webhook, const char *url,
                     struct orr_core **core, struct orr_instance **inst,
                     struct orr_error *e)
{
    *inst = NULL;
    if (url)
        setenv("ORRERY_WEBHOOK_URL", url, 1);
    else
        unsetenv("ORRERY_WEBHOOK_URL");
    *core = open_site(webhook);
    if (!*core)
        return ORR_EIO;
    return orr_instance_open(*core, ORR_KIND_MONITOR, "webhook", NULL, inst,
                             e);
}

static void close_hook(struct orr_core *core, struct orr_instance *inst)
{
    orr_instance_close(inst);
    orr_core_close(core);
}

static const struct orr_alert sample_alert = {
    .size = sizeof(struct orr_alert),
    .severity = ORR_SEV_CRITICAL,
    .model = "cancer",
    .version = "3",
    .title = "Data drift: \"7 of 30\" features <drifted> & more",
    .details = "{\"drift_share\": 0.5, \"dedup_key\": \"cancer:drift\"}",
    .time = 1700000000,
};

static int notify(struct orr_instance *inst, const struct orr_alert *a,
                  struct orr_error *e)
{
    return inst->backend->ops.monitor.notify(inst->self, a, e);
}

static int64_t n_deliveries(void)
{
    json_t *d = deliveries();
    int64_t n = (int64_t)json_array_size(d);
    json_decref(d);
    return n;
}

/* ---- cases ------------------------------------------------------------- */

static void test_body(void)
{
    struct orr_core *core;
    struct orr_instance *inst;
    struct orr_error e = {0};
    CHECK(setup());
    mode("{\"mode\": \"ok\"}");
    CHECK_INT(open_hook(STD_HOOK, hook_url, &core, &inst, &e), ORR_OK);
    CHECK_STR(inst ? inst->backend->name : "", "webhook");
    CHECK_INT(notify(inst, &sample_alert, &e), ORR_OK);
    json_t *d = deliveries();
    CHECK_INT(json_array_size(d), 1);
    json_t *one = json_array_get(d, 0);
    CHECK_STR(json_string_value(json_object_get(one, "path")),
              "/hooks/T000/" SECRET);
    json_t *hd = json_object_get(one, "headers");
    CHECK_STR(json_string_value(json_object_get(hd, "Content-Type")),
              "application/json");
    CHECK_STR(json_string_value(json_object_get(hd, "X-Orrery-Test")),
              "yes");
    json_error_t je;
    json_t *body = json_loads(
        json_string_value(json_object_get(one, "body")), 0, &je);
    CHECK(body != NULL);
    const char *text = json_string_value(json_object_get(body, "text"));
    CHECK_CONTAINS(text, "[critical] cancer version 3: Data drift");
    CHECK_CONTAINS(text, "&lt;drifted&gt; &amp; more");
    json_t *blocks = json_object_get(body, "blocks");
    CHECK(json_array_size(blocks) >= 3);
    json_t *b0 = json_array_get(blocks, 0);
    CHECK_STR(json_string_value(json_object_get(b0, "type")), "header");
    CHECK_STR(json_string_value(json_object_get(
                  json_object_get(b0, "text"), "text")),
              sample_alert.title);
    json_t *o = json_object_get(body, "orrery");
    CHECK_STR(json_string_value(json_object_get(o, "model")), "cancer");
    CHECK_STR(json_string_value(json_object_get(o, "version")), "3");
    CHECK_STR(json_string_value(json_object_get(o, "severity")),
              "critical");
    CHECK_STR(json_string_value(json_object_get(o, "title")),
              sample_alert.title);
    CHECK_INT(json_integer_value(json_object_get(o, "time")), 1700000000);
    CHECK_STR(json_string_value(json_object_get(o, "time_iso")),
              "2023-11-14T22:13:20Z");
    CHECK_STR(json_string_value(json_object_get(o, "dedup_key")),
              "cancer:drift");
    CHECK(json_real_value(json_object_get(json_object_get(o, "details"),
                                          "drift_share")) == 0.5);
    json_decref(body);
    json_decref(d);

    /* Details that are not JSON are sent as a string, no dedup key. */
    mode("{\"mode\": \"ok\"}");
    struct orr_alert a = sample_alert;
    a.severity = ORR_SEV_INFO;
    a.details = "not json";
    a.version = NULL;
    CHECK_INT(notify(inst, &a, &e), ORR_OK);
    d = deliveries();
    body = json_loads(json_string_value(json_object_get(
                          json_array_get(d, 0), "body")), 0, &je);
    o = json_object_get(body, "orrery");
    CHECK_STR(json_string_value(json_object_get(o, "details")), "not json");
    CHECK(json_object_get(o, "dedup_key") == NULL);
    CHECK_CONTAINS(json_string_value(json_object_get(body, "text")),
                   "[info] cancer: ");
    json_decref(body);
    json_decref(d);
    close_hook(core, inst);
}

static void test_retry_5xx(void)
{
    struct orr_core *core;
    struct orr_instance *inst;
    struct orr_error e = {0};
    CHECK(setup());
    mode("{\"mode\": \"fail\", \"count\": 2, \"status\": 503}");
    CHECK_INT(open_hook(STD_HOOK, hook_url, &core, &inst, &e), ORR_OK);
    CHECK_INT(notify(inst, &sample_alert, &e), ORR_OK);
    json_t *d = deliveries();
    CHECK_INT(json_array_size(d), 3);
    CHECK_INT(json_integer_value(json_object_get(json_array_get(d, 0),
                                                 "status")), 503);
    CHECK_INT(json_integer_value(json_object_get(json_array_get(d, 2),
                                                 "status")), 200);
    json_decref(d);
    close_hook(core, inst);
}

/* Retries exhausted; the log and the error name the host, never the
 * secret path. */
static void test_retry_exhausted(void)
{
    struct orr_core *core;
    struct orr_instance *inst;
    struct orr_error e = {0};
    CHECK(setup());
    mode("{\"mode\": \"fail\", \"count\": 100, \"status\": 502}");
    CHECK_INT(open_hook(STD_HOOK, hook_url, &core, &inst, &e), ORR_OK);
    fflush(stderr);
    int saved = dup(2);
    int fd = open("stderr.txt", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    /* Debug: the core's HTTP log lines too must not show the path. */
    orr_log_set_level(ORR_LOG_DEBUG);
    int rc = notify(inst, &sample_alert, &e);
    orr_log_set_level(ORR_LOG_WARN);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    CHECK_INT(rc, ORR_ENETWORK);
    CHECK_INT(n_deliveries(), 4);
    CHECK_CONTAINS(e.msg, "HTTP 502");
    CHECK_CONTAINS(e.msg, "(4 attempts)");
    char host[64];
    snprintf(host, sizeof host, "webhook to 127.0.0.1:%u", receiver_port);
    CHECK_CONTAINS(e.msg, host);
    CHECK(!strstr(e.msg, SECRET));
    char log[8192] = "";
    FILE *f = fopen("stderr.txt", "r");
    if (f) {
        size_t n = fread(log, 1, sizeof log - 1, f);
        log[n] = '\0';
        fclose(f);
    }
    CHECK_CONTAINS(log, "retry 1 of 3");
    CHECK_CONTAINS(log, "retry 3 of 3");
    CHECK_CONTAINS(log, "POST http://127.0.0.1:");
    CHECK(!strstr(log, SECRET));
    close_hook(core, inst);
}

static void test_retry_429(void)
{
    struct orr_core *core;
    struct orr_instance *inst;
    struct orr_error e = {0};
    CHECK(setup());
    mode("{\"mode\": \"429\", \"count\": 2, \"retry_after\": 0.02}");
    CHECK_INT(open_hook(STD_HOOK, hook_url, &core, &inst, &e), ORR_OK);
    CHECK_INT(notify(inst, &sample_alert, &e), ORR_OK);
    CHECK_INT(n_deliveries(), 3);
    /* Rate-limited beyond the retries: an error saying so. */
    mode("{\"mode\": \"429\", \"count\": 100}");
    CHECK_INT(notify(inst, &sample_alert, &e), ORR_ENETWORK);
    CHECK_CONTAINS(e.msg, "HTTP 429");
    CHECK_INT(n_deliveries(), 4);
    close_hook(core, inst);
}

static void test_no_retry_400(void)
{
    struct orr_core *core;
    struct orr_instance *inst;
    struct orr_error e = {0};
    CHECK(setup());
    mode("{\"mode\": \"400\"}");
    CHECK_INT(open_hook(STD_HOOK, hook_url, &core, &inst, &e), ORR_OK);
    CHECK_INT(notify(inst, &sample_alert, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "HTTP 400: {\"error\": \"invalid_payload\"}");
    CHECK_CONTAINS(e.msg, "not retried");
    CHECK_INT(n_deliveries(), 1);
    close_hook(core, inst);
}

static void test_timeout(void)
{
    struct orr_core *core;
    struct orr_instance *inst;
    struct orr_error e = {0};
    CHECK(setup());
    mode("{\"mode\": \"hang\"}");
    CHECK_INT(open_hook("{ url = env(\"ORRERY_WEBHOOK_URL\"), "
                        "timeout_ms = 300, retries = 3, backoff_ms = 10 }",
                        hook_url, &core, &inst, &e), ORR_OK);
    time_t t0 = time(NULL);
    CHECK_INT(notify(inst, &sample_alert, &e), ORR_ETIMEDOUT);
    /* Generous: the call must end, not be fast. */
    CHECK(time(NULL) - t0 < 30);
    CHECK_CONTAINS(e.msg, "no answer within 300 ms");
    CHECK(!strstr(e.msg, SECRET));
    CHECK_INT(n_deliveries(), 1);               /* not retried */
    CHECK(ctl("POST", "/_release", "", NULL));
    close_hook(core, inst);
}

/* A port bound but not listening: connections are refused. */
static int closed_port(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(fd, (struct sockaddr *)&a, &len)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static void test_down(void)
{
    struct orr_core *core;
    struct orr_instance *inst;
    struct orr_error e = {0};
    unsigned port = 0;
    CHECK(setup());
    int fd = closed_port(&port);
    CHECK(fd >= 0);
    char url[128];
    snprintf(url, sizeof url, "http://user:pw@127.0.0.1:%u/hooks/" SECRET,
             port);
    CHECK_INT(open_hook(STD_HOOK, url, &core, &inst, &e), ORR_OK);
    CHECK_INT(notify(inst, &sample_alert, &e), ORR_ENETWORK);
    char host[64];
    snprintf(host, sizeof host, "webhook to 127.0.0.1:%u: ", port);
    CHECK_CONTAINS(e.msg, host);
    CHECK_CONTAINS(e.msg, "(4 attempts)");
    CHECK(!strstr(e.msg, SECRET));
    CHECK(!strstr(e.msg, "pw"));
    close_hook(core, inst);
    close(fd);
}

static void expect_config_error(const char *webhook, const char *url,
                                const char *msg)
{
    struct orr_core *core;
    struct orr_instance *inst;
    struct orr_error e = {0};
    CHECK_INT(open_hook(webhook, url, &core, &inst, &e), ORR_ECONFIG);
    CHECK_CONTAINS(e.msg, msg);
    close_hook(core, inst);
}

static void test_bad_config(void)
{
    CHECK(setup());
    expect_config_error(STD_HOOK, NULL, "monitor.webhook.url is not set");
    expect_config_error(STD_HOOK, "ftp://example.org/x",
                        "must be an http:// or https:// URL");
    expect_config_error(STD_HOOK, "http:///nohost",
                        "must be an http:// or https:// URL");
    expect_config_error("{ url = env(\"ORRERY_WEBHOOK_URL\"), retries = -1 }",
                        hook_url, "retries must be between 0 and 20");
    expect_config_error("{ url = env(\"ORRERY_WEBHOOK_URL\"), "
                        "timeout_ms = 0 }", hook_url,
                        "timeout_ms must be between 1 and 600000");
    expect_config_error("{ url = env(\"ORRERY_WEBHOOK_URL\"), "
                        "backoff_ms = 500, backoff_max_ms = 100 }", hook_url,
                        "backoff_ms <= backoff_max_ms");
    expect_config_error("{ url = env(\"ORRERY_WEBHOOK_URL\"), "
                        "headers = { [\"Bad Name\"] = \"x\" } }", hook_url,
                        "'Bad Name' is not a valid header");
    expect_config_error("{ url = env(\"ORRERY_WEBHOOK_URL\"), "
                        "headers = { [\"X-A\"] = \"a\\r\\nX-B: b\" } }",
                        hook_url, "'X-A' is not a valid header");
}

/* ---- through the core's delivery --------------------------------------- */

static int64_t alert_attempts(struct orr_core *core, const char *key,
                              char *err, size_t cap)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    struct orr_error e = {0};
    int64_t n = -1;
    err[0] = '\0';
    if (orri_mon_db_open(core, &db, &e))
        return -1;
    if (sqlite3_prepare_v2(db, "SELECT delivery_attempts, delivery_error,"
                           " delivered_ms FROM alerts WHERE dedup_key = ?",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            n = sqlite3_column_int64(st, 0);
            const char *t = (const char *)sqlite3_column_text(st, 1);
            snprintf(err, cap, "%s", t ? t : "");
        }
    }
    sqlite3_finalize(st);
    orri_mon_db_close(db);
    return n;
}

static int raise_alert(struct orr_core *core, const char *key,
                       const char *title)
{
    sqlite3 *db = NULL;
    struct orr_error e = {0};
    int raised = -1;
    if (orri_mon_db_open(core, &db, &e) ||
        orri_mon_alert_raise(db, "cancer", "1", 0, "warning", key, title,
                             "{\"drift_share\": 0.4}", &raised, &e))
        fprintf(stderr, "raise: %s\n", e.msg);
    orri_mon_db_close(db);
    return raised;
}

static void test_deliver(void)
{
    struct orr_core *core;
    struct orr_instance *inst;
    struct orr_error e = {0};
    int n = -1;
    char err[512];
    CHECK(setup());
    CHECK(mkdir("deliver", 0700) == 0);
    CHECK(chdir("deliver") == 0);
    mode("{\"mode\": \"ok\"}");

    /* Raised twice, stored and delivered once. */
    CHECK_INT(open_hook(STD_HOOK, hook_url, &core, &inst, &e), ORR_OK);
    orr_instance_close(inst);
    CHECK_INT(raise_alert(core, "cancer:drift", "drift one"), 1);
    CHECK_INT(raise_alert(core, "cancer:drift", "drift one"), 0);
    CHECK_INT(orri_monitor_deliver_alerts(core, 10, &n, &e), ORR_OK);
    CHECK_INT(n, 1);
    CHECK_INT(orri_monitor_deliver_alerts(core, 10, &n, &e), ORR_OK);
    CHECK_INT(n, 0);
    CHECK_INT(n_deliveries(), 1);
    orr_core_close(core);

    /* The receiver is down: the alert stays pending with its error. */
    unsigned port = 0;
    int fd = closed_port(&port);
    char down[128];
    snprintf(down, sizeof down, "http://127.0.0.1:%u/hooks/" SECRET, port);
    CHECK_INT(open_hook("{ url = env(\"ORRERY_WEBHOOK_URL\"), retries = 1,"
                        " backoff_ms = 10 }", down, &core, &inst, &e),
              ORR_OK);
    orr_instance_close(inst);
    CHECK_INT(raise_alert(core, "cancer:quality", "quality down"), 1);
    CHECK(orri_monitor_deliver_alerts(core, 10, &n, &e) != ORR_OK);
    CHECK_INT(n, 0);
    CHECK_CONTAINS(e.msg, "not delivered");
    CHECK(!strstr(e.msg, SECRET));
    CHECK_INT(alert_attempts(core, "cancer:quality", err, sizeof err), 1);
    CHECK_CONTAINS(err, "webhook to 127.0.0.1:");
    CHECK(!strstr(err, SECRET));
    orr_core_close(core);
    close(fd);

    /* Up again: delivered on the next call, and only that one. */
    CHECK_INT(open_hook(STD_HOOK, hook_url, &core, &inst, &e), ORR_OK);
    orr_instance_close(inst);
    CHECK_INT(orri_monitor_deliver_alerts(core, 10, &n, &e), ORR_OK);
    CHECK_INT(n, 1);
    json_t *d = deliveries();
    CHECK_INT(json_array_size(d), 2);
    json_t *body = json_loads(json_string_value(json_object_get(
                                  json_array_get(d, 1), "body")), 0, NULL);
    CHECK_STR(json_string_value(json_object_get(
                  json_object_get(body, "orrery"), "title")),
              "quality down");
    json_decref(body);
    json_decref(d);
    CHECK_INT(alert_attempts(core, "cancer:quality", err, sizeof err), 2);
    orr_core_close(core);
    CHECK(chdir(dir) == 0);
}

TEST_MAIN({"body", test_body}, {"retry_5xx", test_retry_5xx},
          {"retry_exhausted", test_retry_exhausted},
          {"retry_429", test_retry_429}, {"no_retry_400", test_no_retry_400},
          {"timeout", test_timeout}, {"down", test_down},
          {"bad_config", test_bad_config}, {"deliver", test_deliver})
