/*
 * monitor-webhook/webhook.c - the "webhook" monitor backend: each alert
 * is POSTed as JSON to a URL (a Slack incoming webhook, or any receiver)
 * through the host's `http` member.
 *
 * Site configuration (docs/monitoring.md, "Alerts to webhooks"):
 *
 *     monitor = { alerts = {"webhook"},
 *                 webhook = { url = env("ORRERY_WEBHOOK_URL"),
 *                             timeout_ms = 5000, retries = 3,
 *                             backoff_ms = 200, backoff_max_ms = 5000,
 *                             headers = { ["X-Team"] = "ml" } } }
 *
 * The URL may carry a secret (Slack puts it in the path), so it is never
 * logged nor put in an error message: only its host is.
 *
 * Delivery: connection errors, 5xx and 429 are retried `retries` times
 * after backoff_ms, doubling, capped at backoff_max_ms (a 429 body's
 * "retry_after" seconds are honoured within the cap: the host's http
 * member does not expose response headers, so Retry-After itself cannot
 * be read).  Other 4xx are not retried.  A timeout is not retried either:
 * the call returns ORR_ETIMEDOUT after timeout_ms, and the core keeps the
 * alert pending for its next delivery round.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <orrery/plugin.h>

#define WHO "webhook"
#define MAX_HEADERS 32
#define HEADER_MAX 1024
#define HEADER_TEXT_MAX 150     /* Slack: header block text              */
#define DETAILS_MAX 2800        /* Slack: section text is at most 3000   */

static const struct orr_host *H;

struct hook {
    char  *url;
    char   host[256];           /* host[:port] of the URL, for messages   */
    long   timeout_ms;
    int    retries;
    long   backoff_ms, backoff_max_ms;
    char  *headers[MAX_HEADERS + 3];    /* "Name: value", NULL-terminated */
    size_t n_headers;
};

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = H->alloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* host[:port] of an http(s) URL, without user-info; 0 if not http(s). */
static int url_host(const char *url, char *out, size_t cap)
{
    const char *p;
    if (!strncmp(url, "http://", 7))
        p = url + 7;
    else if (!strncmp(url, "https://", 8))
        p = url + 8;
    else
        return 0;
    size_t n = strcspn(p, "/?#");
    for (size_t i = n; i-- > 0;)
        if (p[i] == '@') {
            n -= i + 1;
            p += i + 1;
            break;
        }
    if (n == 0 || n >= cap)
        return 0;
    memcpy(out, p, n);
    out[n] = '\0';
    return 1;
}

struct hdr_ctx {
    struct hook *h;
    int          bad;           /* 1 invalid, 2 too many, 3 no memory   */
    char         name[128];
};

static int header_ok(const char *s, int is_name)
{
    if (is_name && !*s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\r' || c == '\n' || c == '\0' ||
            (is_name && (c <= ' ' || c == ':' || c >= 127)))
            return 0;
    }
    return 1;
}

static int add_header(void *ctx, const char *key, const char *value)
{
    struct hdr_ctx *c = ctx;
    if (!value || !header_ok(key, 1) || !header_ok(value, 0) ||
        strlen(key) + strlen(value) + 3 > HEADER_MAX) {
        snprintf(c->name, sizeof c->name, "%s", key);
        c->bad = 1;
        return 1;
    }
    if (c->h->n_headers >= MAX_HEADERS + 2) {       /* + the 2 own */
        c->bad = 2;
        return 1;
    }
    char line[HEADER_MAX];
    size_t kn = strlen(key), vn = strlen(value);
    memcpy(line, key, kn);
    memcpy(line + kn, ": ", 2);
    memcpy(line + kn + 2, value, vn + 1);
    if (!(c->h->headers[c->h->n_headers] = dup_str(line))) {
        c->bad = 3;
        return 1;
    }
    c->h->n_headers++;
    return 0;
}

static int w_open(void *self, const struct orr_cfg *cfg, struct orr_error *e)
{
    struct hook *h = self;
    const char *url = H->cfg_str(cfg, "url", NULL);
    if (!url || !*url)
        return H->fail(e, ORR_ECONFIG, "monitor.webhook.url is not set "
                       "(e.g. url = env(\"ORRERY_WEBHOOK_URL\"))");
    if (!url_host(url, h->host, sizeof h->host))
        return H->fail(e, ORR_ECONFIG, "monitor.webhook.url must be an "
                       "http:// or https:// URL with a host");
    int64_t timeout = H->cfg_int(cfg, "timeout_ms", 5000);
    int64_t retries = H->cfg_int(cfg, "retries", 3);
    int64_t backoff = H->cfg_int(cfg, "backoff_ms", 200);
    int64_t cap = H->cfg_int(cfg, "backoff_max_ms", 5000);
    if (timeout < 1 || timeout > 600000)
        return H->fail(e, ORR_ECONFIG, "monitor.webhook.timeout_ms must be "
                       "between 1 and 600000");
    if (retries < 0 || retries > 20)
        return H->fail(e, ORR_ECONFIG, "monitor.webhook.retries must be "
                       "between 0 and 20");
    if (backoff < 0 || cap < backoff || cap > 600000)
        return H->fail(e, ORR_ECONFIG, "monitor.webhook: need 0 <= "
                       "backoff_ms <= backoff_max_ms <= 600000");
    h->timeout_ms = (long)timeout;
    h->retries = (int)retries;
    h->backoff_ms = (long)backoff;
    h->backoff_max_ms = (long)cap;
    if (!(h->url = dup_str(url)))
        return H->fail(e, ORR_ENOMEM, "out of memory");
    h->headers[h->n_headers++] = dup_str("Content-Type: application/json");
    h->headers[h->n_headers++] = dup_str("User-Agent: orrery-webhook/"
                                         ORR_SDK_VERSION);
    if (!h->headers[0] || !h->headers[1])
        return H->fail(e, ORR_ENOMEM, "out of memory");
    const struct orr_cfg *hdrs = H->cfg_child(cfg, "headers");
    struct hdr_ctx c = {.h = h};
    if (hdrs && H->cfg_each(hdrs, add_header, &c)) {
        if (c.bad == 1)
            return H->fail(e, ORR_ECONFIG, "monitor.webhook.headers: "
                           "'%s' is not a valid header (name without "
                           "spaces or ':', value without line breaks)",
                           c.name);
        if (c.bad == 2)
            return H->fail(e, ORR_ECONFIG, "monitor.webhook.headers: at "
                           "most %d headers", MAX_HEADERS);
        return H->fail(e, ORR_ENOMEM, "out of memory");
    }
    return ORR_OK;
}

static void w_close(void *self)
{
    struct hook *h = self;
    H->free(h->url);
    for (size_t i = 0; i < h->n_headers; i++)
        H->free(h->headers[i]);
}

/* ---- the body --------------------------------------------------------- */

static const char *sev_name(enum orr_severity s)
{
    return s == ORR_SEV_CRITICAL ? "critical"
           : s == ORR_SEV_WARNING ? "warning" : "info";
}

/* Slack's mrkdwn reserves &, < and >. */
static char *mrkdwn(const char *s)
{
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == '&' ? 5 : (*p == '<' || *p == '>') ? 4 : 1;
    char *out = H->alloc(n), *o = out;
    if (!out)
        return NULL;
    for (; *s; s++) {
        const char *r = *s == '&' ? "&amp;" : *s == '<' ? "&lt;"
                        : *s == '>' ? "&gt;" : NULL;
        if (r) {
            memcpy(o, r, strlen(r));
            o += strlen(r);
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

/* At most `max` bytes of `s`, cut on a UTF-8 boundary, with "..." when
 * cut; from alloc. */
static char *clip(const char *s, size_t max)
{
    size_t n = strlen(s);
    int cut = n > max;
    if (cut) {
        n = max - 3;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    char *d = H->alloc(n + 4);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    memcpy(d + n, cut ? "..." : "", cut ? 4 : 1);
    return d;
}

static json_t *mrk_field(const char *label, const char *value)
{
    char *v = mrkdwn(value);
    json_t *f = v ? json_pack("{s:s, s:s+++}", "type", "mrkdwn", "text",
                              "*", label, "*\n", v)
                  : NULL;
    H->free(v);
    return f;
}

/* The JSON body documented in docs/monitoring.md; NULL on ENOMEM. */
static char *alert_body(const struct orr_alert *a)
{
    const char *model = a->model ? a->model : "";
    const char *version = a->version ? a->version : "";
    const char *title = a->title && *a->title ? a->title : "alert";
    const char *sev = sev_name(a->severity);
    char iso[32] = "";
    time_t t = (time_t)a->time;
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_error_t jerr;
    json_t *details = a->details && *a->details
                          ? json_loads(a->details, JSON_DECODE_ANY, &jerr)
                          : NULL;
    if (!details && a->details && *a->details)
        details = json_string(a->details);  /* not JSON: kept as text */
    const char *dedup = json_is_object(details)
        ? json_string_value(json_object_get(details, "dedup_key")) : NULL;

    char line[512];
    snprintf(line, sizeof line, "[%s] %s%s%s: %s", sev, model,
             *version ? " version " : "", version, title);
    char *text = mrkdwn(line);
    char *head = clip(title, HEADER_TEXT_MAX);
    char *dtext = details ? json_dumps(details, JSON_INDENT(2) |
                                       JSON_SORT_KEYS | JSON_ENCODE_ANY)
                          : NULL;
    char *dclip = dtext ? clip(dtext, DETAILS_MAX) : NULL;
    char *dmrk = dclip ? mrkdwn(dclip) : NULL;
    char *out = NULL;
    json_t *doc = NULL;
    if (!text || !head || (dtext && !dmrk))
        goto fail;
    json_t *fields = json_array();
    json_array_append_new(fields, mrk_field("Model", model));
    json_array_append_new(fields, mrk_field("Version", version));
    json_array_append_new(fields, mrk_field("Severity", sev));
    json_array_append_new(fields, mrk_field("Time", iso));
    json_t *blocks = json_pack(
        "[{s:s, s:{s:s, s:s}}, {s:s, s:o}]",
        "type", "header", "text", "type", "plain_text", "text", head,
        "type", "section", "fields", fields);
    if (blocks && dmrk)
        json_array_append_new(blocks, json_pack(
            "{s:s, s:{s:s, s:s++}}", "type", "section", "text", "type",
            "mrkdwn", "text", "```", dmrk, "```"));
    if (blocks && dedup) {
        char ctx[300];
        snprintf(ctx, sizeof ctx, "Orrery alert, dedup key %s", dedup);
        char *c = mrkdwn(ctx);
        if (c)
            json_array_append_new(blocks, json_pack(
                "{s:s, s:[{s:s, s:s}]}", "type", "context", "elements",
                "type", "mrkdwn", "text", c));
        H->free(c);
    }
    json_t *orr = json_pack("{s:s, s:s, s:s, s:s, s:O?, s:I, s:s}",
                            "model", model, "version", version,
                            "severity", sev, "title", title,
                            "details", details, "time", (json_int_t)a->time,
                            "time_iso", iso);
    if (orr && dedup)
        json_object_set_new(orr, "dedup_key", json_string(dedup));
    if (blocks && orr)
        doc = json_pack("{s:s, s:O, s:O}", "text", text, "blocks", blocks,
                        "orrery", orr);
    json_decref(blocks);
    json_decref(orr);
    if (doc)
        out = json_dumps(doc, JSON_COMPACT);
fail:
    json_decref(doc);
    json_decref(details);
    H->free(text);
    H->free(head);
    free(dtext);
    H->free(dclip);
    H->free(dmrk);
    return out;
}

/* ---- delivery ---------------------------------------------------------- */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* The part of the core's http error message after "METHOD URL: ": the
 * core redacts user-info and query, not the path, where Slack keeps its
 * secret. */
static const char *error_reason(const char *msg)
{
    const char *p = strstr(msg, "://");
    const char *r = p ? strstr(p, ": ") : NULL;
    return r ? r + 2 : p ? "request failed" : msg;
}

/* "retry_after" seconds in a 429 JSON body (Slack and Discord send it
 * there too); -1 when absent. */
static long retry_after_ms(const char *body)
{
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    json_t *v = json_object_get(j, "retry_after");
    long ms = -1;
    if (json_is_number(v) && json_number_value(v) >= 0 &&
        json_number_value(v) < 86400)
        ms = (long)(json_number_value(v) * 1000.0 + 0.999);
    json_decref(j);
    return ms;
}

/* First line of a response body, printable ASCII, at most 200 bytes. */
static void body_excerpt(const char *body, char *out, size_t cap)
{
    size_t n = 0;
    for (; body && *body && *body != '\n' && n + 1 < cap && n < 200; body++)
        out[n++] = isprint((unsigned char)*body) ? *body : '?';
    out[n] = '\0';
}

static int w_notify(void *self, const struct orr_alert *a,
                    struct orr_error *e)
{
    struct hook *h = self;
    if (!a || a->size < offsetof(struct orr_alert, time) + sizeof a->time)
        return H->fail(e, ORR_EINVAL, "webhook: bad alert");
    if (!H->http)
        return H->fail(e, ORR_EUNSUPPORTED, "webhook: the host offers no "
                       "HTTP client");
    char *body = alert_body(a);
    if (!body)
        return H->fail(e, ORR_ENOMEM, "webhook: out of memory");
    struct orr_http_request rq = {
        .size = sizeof rq, .method = "POST", .url = h->url,
        .headers = (const char *const *)h->headers, .body = body,
        .body_len = strlen(body), .timeout_ms = h->timeout_ms,
        .max_response = 65536,
    };
    int rc = ORR_OK;
    long delay = h->backoff_ms;
    for (int attempt = 0;; attempt++) {
        struct orr_http_response rs = {.size = sizeof rs};
        struct orr_error he = {0};
        char why[300];
        int retry = 0;
        long wait = delay;
        rc = H->http(&rq, &rs, &he);
        if (rc == ORR_ETIMEDOUT) {
            rc = H->fail(e, ORR_ETIMEDOUT, "webhook to %s: no answer within "
                         "%ld ms", h->host, h->timeout_ms);
            break;
        }
        if (rc) {
            snprintf(why, sizeof why, "%s", error_reason(he.msg));
            retry = rc == ORR_ENETWORK;     /* refused, reset, resolve */
        } else if (rs.status >= 200 && rs.status < 300) {
            H->free(rs.body);
            break;
        } else {
            char ex[208];
            body_excerpt(rs.body, ex, sizeof ex);
            snprintf(why, sizeof why, "HTTP %ld%s%s", rs.status,
                     *ex ? ": " : "", ex);
            retry = rs.status == 429 || rs.status >= 500;
            if (rs.status == 429) {
                long ra = retry_after_ms(rs.body);
                if (ra > wait)
                    wait = ra;
            }
            rc = rs.status >= 500 || rs.status == 429 ? ORR_ENETWORK
                                                      : ORR_EINVAL;
        }
        H->free(rs.body);
        if (!retry || attempt >= h->retries) {
            if (retry)
                rc = H->fail(e, rc ? rc : ORR_ENETWORK, "webhook to %s: %s "
                             "(%d attempts)", h->host, why, attempt + 1);
            else
                rc = H->fail(e, rc, "webhook to %s: %s (not retried)",
                             h->host, why);
            break;
        }
        if (wait > h->backoff_max_ms)
            wait = h->backoff_max_ms;
        H->log(ORR_LOG_INFO, WHO, "to %s: %s; retry %d of %d in %ld ms",
               h->host, why, attempt + 1, h->retries, wait);
        sleep_ms(wait);
        delay = delay > h->backoff_max_ms / 2 ? h->backoff_max_ms
                                              : delay * 2;
    }
    free(body);
    return rc;
}

static const struct orr_monitor_ops ops = {
    .version = ORR_MONITOR_OPS_V1,
    .name = "webhook",
    .summary = "alerts POSTed as Slack-compatible JSON to a URL",
    .self_size = sizeof(struct hook),
    .open = w_open,
    .close = w_close,
    .notify = w_notify,
};

static int init(const struct orr_host *host, struct orr_registry *reg,
                struct orr_error *e)
{
    H = host;
    return host->add_monitor(reg, &ops, e);
}

ORR_PLUGIN("monitor-webhook", "0.1.0", "Apache-2.0",
           "alerts to webhooks (Slack-compatible JSON, retries, backoff)",
           init, NULL)
