/*
 * net/http.c - orrery-net.so: HTTP requests with libcurl for the host
 * table (see net/http.h).
 *
 * Built as a module of its own so that only commands doing HTTP load
 * libcurl.  It must not call into liborrery (it is loaded by both the CLI
 * and embedders), so it formats its own errors.
 */
#include "net/http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_MAX_RESPONSE ((uint64_t)64 << 20)

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CURLcode init_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int fail(struct orr_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct orr_error *e, int code, const char *fmt, ...)
{
    if (e) {
        char tmp[ORR_ERROR_MSG_SIZE];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(tmp, sizeof tmp, fmt, ap);
        va_end(ap);
        memcpy(e->msg, tmp, sizeof tmp);
        e->code = code;
    }
    return code;
}

struct sink {
    char    *data;
    size_t   len, cap;
    uint64_t max;
    int      too_large;
    int      oom;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    struct sink *s = ctx;
    size_t n = size * nmemb;
    if ((uint64_t)s->len + n > s->max) {
        s->too_large = 1;
        return 0;               /* aborts the transfer */
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *p = realloc(s->data, cap);
        if (!p) {
            s->oom = 1;
            return 0;
        }
        s->data = p;
        s->cap = cap;
    }
    memcpy(s->data + s->len, ptr, n);
    s->len += n;
    s->data[s->len] = '\0';
    return n;
}

static int status_of(CURLcode c)
{
    switch (c) {
    case CURLE_OPERATION_TIMEDOUT:
        return ORR_ETIMEDOUT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return ORR_EINVAL;
    case CURLE_OUT_OF_MEMORY:
        return ORR_ENOMEM;
    default:
        return ORR_ENETWORK;
    }
}

/* Fields of the request and response this module reads or writes; both
 * structs carry their size so an older caller is detected. */
#define REQ_V1 (offsetof(struct orr_http_request, max_response) + \
                sizeof(uint64_t))
#define RESP_V1 (offsetof(struct orr_http_response, body_len) + \
                 sizeof(size_t))

__attribute__((visibility("default")))
int orri_net_http(const struct orr_http_request *req,
                  struct orr_http_response *resp, struct orr_error *e);

__attribute__((visibility("default")))
int orri_net_http(const struct orr_http_request *req,
                  struct orr_http_response *resp, struct orr_error *e)
{
    if (!req || !resp || req->size < REQ_V1 || resp->size < RESP_V1)
        return fail(e, ORR_EINVAL, "http: request or response size unset");
    resp->status = 0;
    resp->body = NULL;
    resp->body_len = 0;
    if (!req->url || !*req->url || !req->method || !*req->method)
        return fail(e, ORR_EINVAL, "http: method and url are required");
    char where[512];
    orri_url_redact(where, sizeof where, req->url);
    if (strncmp(req->url, "http://", 7) && strncmp(req->url, "https://", 8))
        return fail(e, ORR_EINVAL, "%s %s: only http and https URLs",
                    req->method, where);
    pthread_once(&init_once, global_init);
    if (init_rc != CURLE_OK)
        return fail(e, ORR_ENETWORK, "http: libcurl: %s",
                    curl_easy_strerror(init_rc));

    int rc = ORR_OK;
    struct curl_slist *hdrs = NULL;
    struct sink s = {0};
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *c = curl_easy_init();
    if (!c)
        return fail(e, ORR_ENOMEM, "%s %s: out of memory", req->method,
                    where);
    s.max = req->max_response ? req->max_response : DEFAULT_MAX_RESPONSE;
    for (const char *const *h = req->headers; h && *h; h++) {
        struct curl_slist *t = curl_slist_append(hdrs, *h);
        if (!t) {
            rc = fail(e, ORR_ENOMEM, "%s %s: out of memory", req->method,
                      where);
            goto done;
        }
        hdrs = t;
    }
    /* No redirects: a redirect would forward Authorization headers to a
     * host the caller never named. */
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     req->timeout_ms > 0 ? req->timeout_ms
                                         : DEFAULT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "orrery");
    if (hdrs)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (!strcmp(req->method, "HEAD")) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "GET") || req->body) {
        /* POSTFIELDS sends the body for any method; CUSTOMREQUEST names
         * it (PUT, DELETE, ...). */
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(req->body ? req->body_len : 0));
        curl_easy_setopt(c, CURLOPT_POSTFIELDS,
                         req->body ? (const char *)req->body : "");
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    }
    CURLcode cc = curl_easy_perform(c);
    if (s.too_large) {
        rc = fail(e, ORR_EINVAL,
                  "%s %s: response larger than the limit of %llu bytes",
                  req->method, where, (unsigned long long)s.max);
        goto done;
    }
    if (s.oom) {
        rc = fail(e, ORR_ENOMEM, "%s %s: out of memory", req->method, where);
        goto done;
    }
    if (cc != CURLE_OK) {
        /* errbuf names hosts and ports, never credentials or queries. */
        rc = fail(e, status_of(cc), "%s %s: %s", req->method, where,
                  errbuf[0] ? errbuf : curl_easy_strerror(cc));
        goto done;
    }
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (!s.data && !(s.data = calloc(1, 1))) {
        rc = fail(e, ORR_ENOMEM, "%s %s: out of memory", req->method, where);
        goto done;
    }
    resp->status = code;
    resp->body = s.data;
    resp->body_len = s.len;
    s.data = NULL;
done:
    free(s.data);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return rc;
}
