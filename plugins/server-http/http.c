/*
 * http.c - the "http" server backend: KServe V2 / Open Inference Protocol
 * over HTTP/JSON, MLflow-compatible /invocations, Prometheus /metrics, on
 * GNU libmicrohttpd.
 *
 * Connections: one listener thread accepts and hands each connection,
 * round-robin, to one of `workers` libmicrohttpd daemons (each its own
 * polling thread, no listening socket).  With MHD's own thread pool every
 * pool thread raced on accept() and one could win most keep-alive
 * connections, halving throughput in some runs (issue 6); round-robin
 * makes the split exact.  The connection limits are kept here, over all
 * workers, since MHD's own would be per daemon.
 *
 * Deployments are published RCU-style: requests read an atomic pointer to
 * an immutable routing table and take a reference on the deployment they
 * use, inside a read-side section that never blocks; deploy/undeploy build
 * a new table, swap the pointer, wait for the readers of the old one to
 * leave their (short) sections, and drop the old table's references.  A
 * request keeps its deployment, and so its model, alive until it is
 * answered, however many swaps happen meanwhile.
 *
 * Configuration (the site's `server` section): tokens = { ... } and/or
 * token = "..." (bearer tokens; when any is set every endpoint but the
 * health probes needs one), max_body (bytes, default 16 MiB),
 * idle_timeout (seconds, default 30), max_connections (default 1024),
 * max_connections_per_ip (default 0: none), access_log ("path", "-" or
 * false; alog.h), batch = { max_rows, max_delay_us } or per model
 * batch = { NAME = { ... } } (micro-batching, below).
 */
#define _GNU_SOURCE             /* accept4, pipe2 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <orrery/plugin.h>

#include "alog.h"
#include "parse.h"
#include "sbuf.h"

#define WHO "server-http"
#define NAME_MAX_LEN 128
#define VERSION_HEADER "X-Orrery-Model-Version"

static const struct orr_host *H;

/* ------------------------------------------------------------------ */
/* Metrics                                                              */

static const int codes[] = {200, 202, 400, 401, 404, 405, 413, 415, 500,
                             503};
#define N_CODES (sizeof codes / sizeof *codes + 1)     /* + "other" */
static const double lat_bounds[] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1, 2.5, 5
};
#define N_LAT (sizeof lat_bounds / sizeof *lat_bounds)
static const double rows_bounds[] = {
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096
};
#define N_ROWS (sizeof rows_bounds / sizeof *rows_bounds)

/* Per (model, version): created at deploy, kept until close so counters
 * survive a version coming back. */
struct series {
    struct series     *next;
    char              *model, *version;
    atomic_ullong      by_code[N_CODES];
    atomic_ullong      lat[N_LAT + 1];
    atomic_ullong      lat_sum_ns;
    atomic_ullong      rows[N_ROWS + 1];
    atomic_ullong      rows_sum;
};

static size_t code_index(int code)
{
    for (size_t i = 0; i < N_CODES - 1; i++)
        if (codes[i] == code)
            return i;
    return N_CODES - 1;
}

static size_t bucket(const double *bounds, size_t n, double v)
{
    size_t i = 0;
    while (i < n && v > bounds[i])
        i++;
    return i;
}

/* ------------------------------------------------------------------ */
/* Deployments and the routing table                                    */

struct dep {
    atomic_size_t         refs;     /* tables holding it + requests       */
    char                 *name, *version, *uri;
    struct orr_model     *model;    /* one reference                      */
    struct orr_model_info info;     /* strings owned by the model         */
    struct series        *series;
    double                log_sample;   /* share of requests logged, 0..1 */
    enum orr_deploy_role  role;
    double                pct;          /* canary: share of traffic, %    */
    struct batcher       *bq;           /* micro-batching, or NULL        */
};

struct table {
    size_t      n;
    struct dep *d[];
};

/* Connections open from one client address (max_connections_per_ip). */
struct ipcount {
    unsigned char key[16];
    size_t        klen;
    unsigned      n;
};

/* One worker daemon's own: its callbacks all run on its polling thread
 * (and, once it is stopped, on the stopping one), so what it caches
 * needs no lock. */
struct wctx {
    struct srv *s;
    struct req *free;           /* finished requests kept for reuse       */
    size_t      n_free;
};

/* The prediction log's counters, one stripe per serving thread, each on
 * a cache line of its own and summed for /metrics: one shared counter
 * was a line both serving cores kept taking from each other, on every
 * logged request.  The first LOG_STRIPES threads of the process own a
 * stripe each and add to it without a locked instruction: a `lock add`
 * waits for the record's stores to leave the core, which made it 90% of
 * the plugin's own log call (perf, 1-row requests).  Later threads share
 * the last stripe, atomically. */
#define LOG_STRIPES 64
struct log_stripe {
    atomic_ullong logged, dropped;
    char          pad[64 - 2 * sizeof(atomic_ullong)];
};

struct srv {
    struct MHD_Daemon    **workers;     /* started: n_workers daemons      */
    struct wctx           *wctx;        /* n_workers                       */
    unsigned               n_workers;
    unsigned               port;
    int                    lfd;         /* listening socket, or -1        */
    int                    wake[2];     /* stops the listener             */
    pthread_t              listener;
    int                    listening;   /* the listener thread runs       */
    unsigned               next;        /* round-robin; listener only     */
    atomic_ullong         *handed;      /* connections given each worker  */
    atomic_uint            n_conns;     /* open connections, all workers  */
    pthread_mutex_t        ip_lock;
    int                    ip_lock_ok;
    struct ipcount        *ips;         /* under ip_lock                  */
    size_t                 n_ips, cap_ips;
    _Atomic(struct table *) table;
    atomic_uint            epoch;
    atomic_long            readers[2];
    pthread_mutex_t        lock;        /* writers; the series list        */
    int                    lock_ok;
    struct series         *series;
    atomic_ullong          http_by_code[N_CODES];
    atomic_long            in_flight;
    struct log_stripe      log_n[LOG_STRIPES + 1];   /* + the shared one */
    atomic_ullong          rid_seq;     /* generated request ids          */
    uint64_t               rid_salt;
    char                 **tokens;
    size_t                 n_tokens;
    size_t                 max_body;
    unsigned               idle_timeout, max_connections, per_ip;
    struct alog           *alog;        /* access log, or NULL            */
    struct bcfg           *bcfg;        /* micro-batching settings        */
    size_t                 n_bcfg;
};

static void batcher_free(struct batcher *q);

static void dep_release(struct dep *d)
{
    if (!d || atomic_fetch_sub(&d->refs, 1) != 1)
        return;
    batcher_free(d->bq);
    H->model_release(d->model);
    free(d->name);
    free(d->version);
    free(d->uri);
    free(d);
}

/* The read side: wait-free, a handful of instructions. */
static unsigned read_enter(struct srv *s)
{
    unsigned ep = atomic_load(&s->epoch) & 1u;
    atomic_fetch_add(&s->readers[ep], 1);
    return ep;
}

static void read_leave(struct srv *s, unsigned ep)
{
    atomic_fetch_sub(&s->readers[ep], 1);
}

static struct dep *acquire(struct srv *s, const char *name, size_t *n_out)
{
    unsigned ep = read_enter(s);
    struct table *t = atomic_load(&s->table);
    struct dep *d = NULL;
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += t->d[i]->role == ORR_ROLE_PRIMARY;
    if (n_out)
        *n_out = n;
    for (size_t i = 0; i < t->n; i++)
        if (t->d[i]->role == ORR_ROLE_PRIMARY &&
            (!name ? n == 1 : !strcmp(t->d[i]->name, name))) {
            d = t->d[i];
            atomic_fetch_add(&d->refs, 1);
            break;
        }
    read_leave(s, ep);
    return d;
}

/* The canary or shadow of `name` (a reference), or NULL. */
static struct dep *acquire_role(struct srv *s, const char *name,
                                enum orr_deploy_role role)
{
    unsigned ep = read_enter(s);
    struct table *t = atomic_load(&s->table);
    struct dep *d = NULL;
    for (size_t i = 0; i < t->n; i++)
        if (t->d[i]->role == role && !strcmp(t->d[i]->name, name)) {
            d = t->d[i];
            atomic_fetch_add(&d->refs, 1);
            break;
        }
    read_leave(s, ep);
    return d;
}

/* Wait until no reader can still hold the previous table: two flips, so
 * a reader that read the epoch just before a flip is waited for too. */
static void synchronize(struct srv *s)
{
    for (int phase = 0; phase < 2; phase++) {
        unsigned ep = atomic_fetch_add(&s->epoch, 1) & 1u;
        while (atomic_load(&s->readers[ep]) != 0) {
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
    }
}

static void table_free(struct table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        dep_release(t->d[i]);
    free(t);
}

/* Publish a copy of the current table without `name` in `role` (< 0:
 * any role), plus `add` (NULL: none).  Caller holds s->lock.  Takes the
 * table's reference on `add`. */
static int publish(struct srv *s, const char *name, int role,
                   struct dep *add, int *removed, struct orr_error *e)
{
    struct table *old = atomic_load(&s->table);
    struct table *t = malloc(sizeof *t + (old->n + 1) * sizeof *t->d);
    if (!t)
        return H->fail(e, ORR_ENOMEM, "out of memory");
    t->n = 0;
    *removed = 0;
    for (size_t i = 0; i < old->n; i++) {
        if (!strcmp(old->d[i]->name, name) &&
            (role < 0 || (int)old->d[i]->role == role)) {
            (*removed)++;
            continue;
        }
        atomic_fetch_add(&old->d[i]->refs, 1);
        t->d[t->n++] = old->d[i];
    }
    if (add)
        t->d[t->n++] = add;
    atomic_store(&s->table, t);
    synchronize(s);
    table_free(old);
    return ORR_OK;
}

static struct series *series_for(struct srv *s, const char *model,
                                 const char *version)
{
    for (struct series *x = s->series; x; x = x->next)
        if (!strcmp(x->model, model) && !strcmp(x->version, version))
            return x;
    struct series *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->model = strdup(model);
    x->version = strdup(version);
    if (!x->model || !x->version) {
        free(x->model);
        free(x->version);
        free(x);
        return NULL;
    }
    x->next = s->series;
    s->series = x;
    return x;
}

/* ------------------------------------------------------------------ */
/* Requests                                                             */

enum route {
    R_NONE = 0, R_V2, R_LIVE, R_READY, R_MODEL, R_MODEL_READY, R_INFER,
    R_INVOCATIONS, R_PING, R_VERSION, R_METRICS, R_FEEDBACK
};

struct req {
    enum route route;
    int        post;            /* the route takes POST (else GET)        */
    char       name[NAME_MAX_LEN + 1];
    char       version[32];
    char      *body;
    size_t     len, cap;
    int        too_large;
    uint64_t   t0;
    char       rid[130];        /* request id, answered in X-Request-Id   */
    char       method[12];
    char       path[200];       /* for the access log (truncated)         */
    int        binary;          /* Inference-Header-Content-Length given  */
    size_t     hdr_len;         /* its value: the JSON header's length    */
    size_t     resp_hdr_len;    /* answered with a binary part after this */
    /* A shadow to run once the answer is sent (see completed). */
    struct dep *shadow;
    double     *sx;
    size_t      srows, scols;
    /* Micro-batching: the parsed request waits in its model's queue
     * with the connection suspended; the batcher fills y and resumes. */
    struct req *bnext;
    struct dep *bdep;           /* a reference while queued or answered   */
    struct MHD_Connection *bconn;
    struct srv_batch in;
    double     *y;
    int         v2;
    uint64_t    benq;           /* when queued                            */
    atomic_int  bdone;          /* 1: y filled, or berr set               */
    int         bstatus;        /* 0 or an HTTP status with berr          */
    char        berr[256];
};

/* Finished requests are kept, body buffer and all, for the worker's
 * next ones: a request then costs no allocation of its own.  Bounded so
 * a burst of connections or one huge body is not kept for good. */
#define REQ_BODY_MIN 4096
#define REQ_KEEP 32
#define REQ_KEEP_BODY ((size_t)64 << 10)

static struct req *req_get(struct wctx *w)
{
    struct req *r = w->free;
    if (!r)
        return calloc(1, sizeof *r);
    w->free = r->bnext;
    w->n_free--;
    char *body = r->body;
    size_t cap = r->cap;
    memset(r, 0, sizeof *r);
    atomic_init(&r->bdone, 0);
    r->body = body;
    r->cap = cap;
    r->body[0] = '\0';
    return r;
}

/* Drop what the request holds and keep (or free) it. */
static void req_put(struct wctx *w, struct req *r)
{
    dep_release(r->shadow);
    dep_release(r->bdep);
    srv_batch_clear(&r->in);
    free(r->y);
    free(r->sx);
    r->shadow = r->bdep = NULL;
    r->y = r->sx = NULL;
    if (w->n_free >= REQ_KEEP || !r->body || r->cap > REQ_KEEP_BODY) {
        free(r->body);
        free(r);
        return;
    }
    r->bnext = w->free;
    w->free = r;
    w->n_free++;
}

static void req_cache_free(struct wctx *w)
{
    while (w->free) {
        struct req *r = w->free;
        w->free = r->bnext;
        free(r->body);
        free(r);
    }
    w->n_free = 0;
}

/* `src` into dst[cap], cut to fit (what snprintf "%s" gives). */
static void copy_trunc(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wall-clock milliseconds at monotonic time `mono` (now_ns): the
 * difference of the two clocks, read again once a second per thread,
 * saves a clock read a logged request. */
static int64_t wall_ms(uint64_t mono)
{
    static _Thread_local uint64_t read_at;
    static _Thread_local int64_t  offset_ns;
    if (!read_at || mono - read_at > 1000000000u) {
        struct timespec w;
        clock_gettime(CLOCK_REALTIME, &w);
        read_at = now_ns();
        offset_ns = (int64_t)w.tv_sec * 1000000000 + w.tv_nsec -
                    (int64_t)read_at;
    }
    return ((int64_t)mono + offset_ns) / 1000000;
}

/* A path segment: not NUL-terminated (the path is not copied). */
struct seg {
    const char *p;
    size_t      n;
};

static int seg_is(const struct seg *g, const char *w)
{
    return g->n == strlen(w) && !memcmp(g->p, w, g->n);
}

static int copy_seg(char *dst, size_t cap, const struct seg *g)
{
    if (g->n == 0 || g->n >= cap)
        return -1;
    memcpy(dst, g->p, g->n);
    dst[g->n] = '\0';
    return 0;
}

/* Split the path and find the route; R_NONE for an unknown path. */
static void route_of(const char *url, struct req *r)
{
    struct seg seg[8];
    size_t n = 0;
    r->route = R_NONE;
    if (strlen(url) >= 512)
        return;
    /* The non-empty runs between slashes (what strtok_r gave). */
    for (const char *p = url;;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *q = p;
        while (*q && *q != '/')
            q++;
        if (n == sizeof seg / sizeof *seg)
            return;
        seg[n].p = p;
        seg[n++].n = (size_t)(q - p);
        p = q;
    }
    if (n == 1) {
        static const struct { const char *p; enum route r; int post; } one[] = {
            {"v2", R_V2, 0}, {"invocations", R_INVOCATIONS, 1},
            {"ping", R_PING, 0}, {"health", R_PING, 0},
            {"version", R_VERSION, 0}, {"metrics", R_METRICS, 0},
        };
        for (size_t i = 0; i < sizeof one / sizeof *one; i++)
            if (seg_is(&seg[0], one[i].p)) {
                r->route = one[i].r;
                r->post = one[i].post;
            }
        return;
    }
    if (n == 0 || !seg_is(&seg[0], "v2"))
        return;
    if (n == 3 && seg_is(&seg[1], "health")) {
        if (seg_is(&seg[2], "live"))
            r->route = R_LIVE;
        else if (seg_is(&seg[2], "ready"))
            r->route = R_READY;
        return;
    }
    if (n < 3 || !seg_is(&seg[1], "models") ||
        copy_seg(r->name, sizeof r->name, &seg[2]))
        return;
    size_t k = 3;
    if (n >= 5 && seg_is(&seg[3], "versions")) {
        if (copy_seg(r->version, sizeof r->version, &seg[4]))
            return;
        k = 5;
    }
    if (n == k) {
        r->route = R_MODEL;
    } else if (n == k + 1 && seg_is(&seg[k], "ready")) {
        r->route = R_MODEL_READY;
    } else if (n == k + 1 && seg_is(&seg[k], "infer")) {
        r->route = R_INFER;
        r->post = 1;
    } else if (n == 4 && k == 3 && seg_is(&seg[k], "feedback")) {
        r->route = R_FEEDBACK;
        r->post = 1;
    }
}

static void series_account(struct series *x, uint64_t ns, int status,
                           size_t rows)
{
    atomic_fetch_add(&x->by_code[code_index(status)], 1);
    atomic_fetch_add(&x->lat[bucket(lat_bounds, N_LAT, (double)ns / 1e9)],
                     1);
    atomic_fetch_add(&x->lat_sum_ns, ns);
    if (rows) {
        atomic_fetch_add(&x->rows[bucket(rows_bounds, N_ROWS,
                                         (double)rows)], 1);
        atomic_fetch_add(&x->rows_sum, rows);
    }
}

static void account(struct srv *s, struct req *r, struct series *x,
                    int status, size_t rows)
{
    atomic_fetch_add(&s->http_by_code[code_index(status)], 1);
    if (x)
        series_account(x, now_ns() - r->t0, status, rows);
}

/* Append `v` as a JSON string (quotes included) to line[*k..cap). */
static void line_str(char *line, size_t cap, size_t *k, const char *v)
{
    static const char hex[] = "0123456789abcdef";
    if (!v) {
        for (const char *p = "null"; *p && *k < cap; p++)
            line[(*k)++] = *p;
        return;
    }
    if (*k < cap)
        line[(*k)++] = '"';
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*k + 6 >= cap)
            break;
        if (*p == '"' || *p == '\\') {
            line[(*k)++] = '\\';
            line[(*k)++] = (char)*p;
        } else if (*p < 0x20 || *p == 0x7f) {
            line[(*k)++] = '\\';
            line[(*k)++] = 'u';
            line[(*k)++] = '0';
            line[(*k)++] = '0';
            line[(*k)++] = hex[*p >> 4];
            line[(*k)++] = hex[*p & 15];
        } else {
            line[(*k)++] = (char)*p;
        }
    }
    if (*k < cap)
        line[(*k)++] = '"';
}

static void line_fmt(char *line, size_t cap, size_t *k, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));

/* printf at line[*k]; *k stays within cap. */
static void line_fmt(char *line, size_t cap, size_t *k, const char *fmt,
                     ...)
{
    if (*k >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + *k, cap - *k, fmt, ap);
    va_end(ap);
    if (n > 0)
        *k = *k + (size_t)n < cap ? *k + (size_t)n : cap;
}

/* One access-log line: everything but the headers (so never a token). */
static void access_line(struct srv *s, struct MHD_Connection *c,
                        const struct req *r, const struct dep *d,
                        int status, size_t bytes_out)
{
    char line[4096], when[40], remote[INET6_ADDRSTRLEN] = "";
    size_t k = 0;
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t w = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + w, sizeof when - w, ".%03ldZ", now.tv_nsec / 1000000);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
        c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
                      remote, sizeof remote);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6,
                      &((const struct sockaddr_in6 *)sa)->sin6_addr, remote,
                      sizeof remote);
    }
    line_fmt(line, sizeof line, &k, "{\"time\":\"%s\",\"request_id\":",
             when);
    line_str(line, sizeof line, &k, r->rid[0] ? r->rid : NULL);
    line_fmt(line, sizeof line, &k, ",\"method\":");
    line_str(line, sizeof line, &k, r->method);
    line_fmt(line, sizeof line, &k, ",\"path\":");
    line_str(line, sizeof line, &k, r->path);
    line_fmt(line, sizeof line, &k, ",\"model\":");
    line_str(line, sizeof line, &k, d ? d->name
                                      : r->name[0] ? r->name : NULL);
    line_fmt(line, sizeof line, &k, ",\"version\":");
    line_str(line, sizeof line, &k, d ? d->version : NULL);
    line_fmt(line, sizeof line, &k, ",\"status\":%d,\"bytes_in\":%zu,"
             "\"bytes_out\":%zu,\"latency_us\":%llu,\"remote\":", status,
             r->len, bytes_out,
             (unsigned long long)((now_ns() - r->t0) / 1000));
    line_str(line, sizeof line, &k, remote[0] ? remote : NULL);
    if (k + 2 > sizeof line)
        return;                 /* fields are bounded: cannot happen */
    line[k++] = '}';
    line[k++] = '\n';
    alog_write(s->alog, line, k);
}

/* Queue `b` (taken) as the response.  `d`, when given, names the model
 * and version that answered. */
static enum MHD_Result answer(struct srv *s, struct MHD_Connection *c,
                              struct req *r, int status, struct sbuf *b,
                              const char *ctype, const struct dep *d,
                              size_t rows)
{
    if (b->oom) {
        sbuf_free(b);
        status = 500;
        sbuf_puts(b, "{\"error\": \"out of memory\"}\n");
        ctype = "application/json";
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        b->len, b->p ? b->p : (void *)"", b->p ? MHD_RESPMEM_MUST_FREE
                                               : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        sbuf_free(b);
        return MHD_NO;
    }
    b->p = NULL;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (d) {
        MHD_add_response_header(resp, VERSION_HEADER, d->version);
        MHD_add_response_header(resp, "X-Orrery-Model", d->name);
    }
    if (r->rid[0])
        MHD_add_response_header(resp, "X-Request-Id", r->rid);
    if (status == 405)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                r->post ? "POST" : "GET");
    if (status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer");
    if (r->resp_hdr_len) {
        char n[24];
        size_t k = sizeof n, v = r->resp_hdr_len;
        n[--k] = '\0';
        do {                            /* "%zu" */
            n[--k] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        MHD_add_response_header(resp, "Inference-Header-Content-Length",
                                n + k);
    }
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    account(s, r, d ? d->series : NULL, status, rows);
    if (s->alog)
        access_line(s, c, r, d, status, b->len);
    return ok;
}

static enum MHD_Result fail(struct srv *s, struct MHD_Connection *c,
                            struct req *r, int status, const struct dep *d,
                            const char *msg)
{
    struct sbuf b = {0};
    sbuf_puts(&b, "{\"error\": ");
    sbuf_json_str(&b, msg);
    sbuf_puts(&b, "}\n");
    return answer(s, c, r, status, &b, "application/json", d, 0);
}

static enum MHD_Result ok_json(struct srv *s, struct MHD_Connection *c,
                               struct req *r, struct sbuf *b,
                               const struct dep *d, size_t rows)
{
    return answer(s, c, r, 200, b, "application/json", d, rows);
}

/* Names of the served models, for "no model 'x' (serving: a, b)". */
static void served_names(struct srv *s, char *out, size_t cap)
{
    unsigned ep = read_enter(s);
    struct table *t = atomic_load(&s->table);
    size_t k = 0;
    out[0] = '\0';
    for (size_t i = 0; i < t->n && k + 1 < cap; i++) {
        if (t->d[i]->role != ORR_ROLE_PRIMARY)
            continue;
        int n = snprintf(out + k, cap - k, "%s%s", k ? ", " : "",
                         t->d[i]->name);
        if (n < 0)
            break;
        k += (size_t)n < cap - k ? (size_t)n : cap - k - 1;
    }
    read_leave(s, ep);
}

/* The deployment for r->name (and r->version when given), or an
 * answered 404 (then *d is NULL and the return is the MHD result). */
static enum MHD_Result find_model(struct srv *s, struct MHD_Connection *c,
                                  struct req *r, struct dep **d)
{
    char msg[512], names[256];
    *d = acquire(s, r->name, NULL);
    if (!*d) {
        served_names(s, names, sizeof names);
        snprintf(msg, sizeof msg, "no model '%s' (serving: %s)", r->name,
                 names[0] ? names : "none");
        return fail(s, c, r, 404, NULL, msg);
    }
    if (r->version[0] && strcmp(r->version, (*d)->version)) {
        struct dep *k = acquire_role(s, r->name, ORR_ROLE_CANARY);
        if (k && !strcmp(r->version, k->version)) {
            dep_release(*d);
            *d = k;
            return MHD_YES;
        }
        dep_release(k);
        snprintf(msg, sizeof msg, "model '%s' has no version '%s' here "
                 "(serving version %s)", r->name, r->version, (*d)->version);
        dep_release(*d);
        *d = NULL;
        return fail(s, c, r, 404, NULL, msg);
    }
    return MHD_YES;
}

static const char *task_name(enum orr_task t)
{
    switch (t) {
    case ORR_TASK_REGRESSION: return "regression";
    case ORR_TASK_BINARY:     return "binary";
    case ORR_TASK_MULTICLASS: return "multiclass";
    case ORR_TASK_RANKING:    return "ranking";
    default:                  return "unknown";
    }
}

static void names_json(struct sbuf *b, const char *const *names, size_t n)
{
    sbuf_puts(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sbuf_puts(b, ", ");
        sbuf_json_str(b, names[i]);
    }
    sbuf_puts(b, "]");
}

static enum MHD_Result model_meta(struct srv *s, struct MHD_Connection *c,
                                  struct req *r, const struct dep *d)
{
    struct sbuf b = {0};
    if (r->route == R_MODEL_READY) {
        sbuf_puts(&b, "{\"name\": ");
        sbuf_json_str(&b, d->name);
        sbuf_puts(&b, ", \"version\": ");
        sbuf_json_str(&b, d->version);
        sbuf_puts(&b, ", \"ready\": true}\n");
        return ok_json(s, c, r, &b, d, 0);
    }
    sbuf_puts(&b, "{\"name\": ");
    sbuf_json_str(&b, d->name);
    sbuf_puts(&b, ", \"versions\": [");
    sbuf_json_str(&b, d->version);
    sbuf_printf(&b, "], \"platform\": \"orrery\", \"inputs\": [{\"name\": "
                "\"input\", \"datatype\": \"FP64\", \"shape\": [-1, %zu]}], "
                "\"outputs\": [{\"name\": \"output\", \"datatype\": \"FP64\", "
                "\"shape\": [-1, %zu]}], \"parameters\": {\"task\": \"%s\", "
                "\"uri\": ", d->info.n_features, d->info.n_outputs,
                task_name(d->info.task));
    sbuf_json_str(&b, d->uri);
    if (d->info.feature_names) {
        sbuf_puts(&b, ", \"feature_names\": ");
        names_json(&b, d->info.feature_names, d->info.n_features);
    }
    if (d->info.output_names) {
        sbuf_puts(&b, ", \"output_names\": ");
        names_json(&b, d->info.output_names, d->info.n_outputs);
    }
    sbuf_puts(&b, "}}\n");
    return ok_json(s, c, r, &b, d, 0);
}

/* ------------------------------------------------------------------ */
/* Prediction logging (host ABI 1.1)                                    */

/* The host's log_prediction, or NULL on a 1.0 core. */
static int (*host_log(void))(const struct orr_prediction *,
                             struct orr_error *)
{
    if (H->size < offsetof(struct orr_host, log_prediction) +
                      sizeof(void *))
        return NULL;
    return H->log_prediction;
}

/* xorshift64*, one state per serving thread: sampling needs no lock. */
static int sampled(double share)
{
    static _Thread_local uint64_t x;
    if (share >= 1.0)
        return 1;
    if (!x)
        x = now_ns() ^ (uint64_t)(uintptr_t)&x ^ 0x9e3779b97f4a7c15u;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    uint64_t v = x * 0x2545f4914f6cdd1du;
    return (double)(v >> 11) * 0x1.0p-53 < share;
}

/* The request id: the V2 `id`, else the client's X-Request-Id, else a
 * fresh one (unique per process run). */
static void request_id(struct srv *s, struct MHD_Connection *c,
                       struct req *r, const char *v2id)
{
    const char *id = v2id;
    if (!id || !*id)
        id = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                         "X-Request-Id");
    if (id && *id && strlen(id) < sizeof r->rid) {
        for (const char *p = id; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                goto fresh;     /* never echo control bytes in a header */
        memcpy(r->rid, id, strlen(id) + 1);
        return;
    }
fresh:
    /* "%016llx-%llu" of the salt and the sequence number, by hand: this
     * runs for nearly every request. */
    {
        static const char hex[] = "0123456789abcdef";
        uint64_t seq = (uint64_t)atomic_fetch_add(&s->rid_seq, 1) + 1;
        char dec[24];
        size_t k = sizeof dec;
        for (int i = 0; i < 16; i++)
            r->rid[i] = hex[(s->rid_salt >> (60 - 4 * i)) & 15];
        r->rid[16] = '-';
        do {
            dec[--k] = (char)('0' + seq % 10);
            seq /= 10;
        } while (seq);
        memcpy(r->rid + 17, dec + k, sizeof dec - k);
        r->rid[17 + sizeof dec - k] = '\0';
    }
}

static void log_prediction(struct srv *s, const struct req *r,
                           const struct dep *d, const struct orr_matrix *x,
                           const struct orr_matrix *y)
{
    int (*fn)(const struct orr_prediction *, struct orr_error *) =
        host_log();
    if (!fn)
        return;
    uint64_t mono = now_ns();
    struct orr_prediction p = {
        .size = sizeof p, .request_id = r->rid, .model = d->name,
        .version = d->version, .ts_ms = wall_ms(mono),
        .latency_us = (int64_t)((mono - r->t0) / 1000),
        .inputs = x, .outputs = y,
    };
    /* Only read on failure, and then filled: zeroing its 260 bytes was
     * a tenth of what logging costs a 1-row request (perf). */
    struct orr_error e;
    e.code = 0;
    e.msg[0] = '\0';
    int rc = fn(&p, &e);
    static _Thread_local unsigned stripe;   /* 1 + index; 0: none yet */
    static atomic_uint stripes;
    if (!stripe) {
        unsigned k = atomic_fetch_add(&stripes, 1u);
        stripe = (k < LOG_STRIPES ? k : LOG_STRIPES) + 1;
    }
    struct log_stripe *n = &s->log_n[stripe - 1];
    atomic_ullong *c = !rc ? &n->logged
                     : rc != ORR_EUNSUPPORTED ? &n->dropped : NULL;
    if (!c)
        return;
    if (stripe <= LOG_STRIPES)      /* this thread's own: no lock */
        atomic_store_explicit(c, atomic_load_explicit(
                                     c, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    else
        atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* POST /v2/models/{name}/feedback: {"id": ..., "label": ...} or a list
 * of them.  A label whose prediction is not logged (yet) is kept by the
 * log for when it comes (ORR_ENOTFOUND): answered 202, "pending". */
static enum MHD_Result feedback(struct srv *s, struct MHD_Connection *c,
                                struct req *r, const struct dep *d)
{
    int (*fn)(const struct orr_prediction *, struct orr_error *) =
        host_log();
    json_error_t je;
    json_t *doc = json_loadb(r->body ? r->body : "", r->len,
                             JSON_REJECT_DUPLICATES, &je);
    char msg[320];
    int status = 200;
    size_t n = 0, n_pending = 0;
    struct sbuf pend = {0};
    if (!fn) {
        status = 503;
        snprintf(msg, sizeof msg, "this server keeps no prediction log");
        goto done;
    }
    if (!doc) {
        status = 400;
        snprintf(msg, sizeof msg, "malformed JSON: %s", je.text);
        goto done;
    }
    size_t count = json_is_array(doc) ? json_array_size(doc) : 1;
    if (count == 0) {
        status = 400;
        snprintf(msg, sizeof msg, "no label given");
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        json_t *it = json_is_array(doc) ? json_array_get(doc, i) : doc;
        json_t *id = json_object_get(it, "id");
        json_t *label = json_object_get(it, "label");
        if (!json_is_string(id) || !*json_string_value(id) || !label) {
            status = 400;
            snprintf(msg, sizeof msg, "feedback %zu: needs a string \"id\" "
                     "and a \"label\"", i);
            goto done;
        }
        char *text = json_dumps(label, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text) {
            status = 500;
            snprintf(msg, sizeof msg, "out of memory");
            goto done;
        }
        struct orr_prediction p = {
            .size = sizeof p, .request_id = json_string_value(id),
            .model = d->name, .label = text,
        };
        struct orr_error e = {0};
        int rc = fn(&p, &e);
        free(text);
        if (rc == ORR_ENOTFOUND) {
            sbuf_puts(&pend, n_pending++ ? ", " : "");
            sbuf_json_str(&pend, json_string_value(id));
            continue;
        }
        if (rc) {
            status = rc == ORR_EUNSUPPORTED ? 503 : 500;
            snprintf(msg, sizeof msg, "%s", e.msg);
            goto done;
        }
        n++;
    }
done:
    json_decref(doc);
    if (status != 200) {
        sbuf_free(&pend);
        return fail(s, c, r, status, d, msg);
    }
    struct sbuf b = {0};
    if (!n_pending) {
        sbuf_free(&pend);
        sbuf_printf(&b, "{\"labelled\": %zu}\n", n);
        return ok_json(s, c, r, &b, d, 0);
    }
    sbuf_printf(&b, "{\"status\": \"pending\", \"labelled\": %zu, "
                "\"pending\": %zu, \"pending_ids\": [", n, n_pending);
    sbuf_put(&b, pend.p ? pend.p : "", pend.len);
    sbuf_puts(&b, "]}\n");
    b.oom |= pend.oom;
    sbuf_free(&pend);
    return answer(s, c, r, 202, &b, "application/json", d, 0);
}

/* ------------------------------------------------------------------ */
/* Adaptive micro-batching                                              */

/* Per model when configured: requests of fewer than max_rows rows wait,
 * connection suspended, in the model's queue; one thread per model takes
 * the queue once it holds max_rows rows or its oldest request has waited
 * max_delay, predicts all of it in one call, and resumes each connection
 * with its own rows' answers.  A batch that fails is predicted again
 * request by request, so one bad request fails alone. */
struct batcher {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    struct req     *head, *tail;
    size_t          queued_rows;
    int             stop;
    pthread_t       th;
    size_t          max_rows;
    uint64_t        max_delay_ns;
    struct dep     *d;          /* the deployment it lives in            */
};

/* Settings of the site's server.batch: for one model, or "" for all. */
struct bcfg {
    char   name[NAME_MAX_LEN + 1];
    size_t max_rows;
    long   max_delay_us;
};

static void batch_predict(struct batcher *q, struct req *list, size_t rows)
{
    const struct dep *d = q->d;
    size_t cols = d->info.n_features;
    size_t n_out = d->info.n_outputs ? d->info.n_outputs : 1;
    struct orr_error e = {0};
    int rc = ORR_ENOMEM;
    if (!list->bnext) {                 /* alone: no copies */
        struct orr_matrix x = {rows, cols, list->in.x, rows * cols};
        struct orr_matrix y = {0, 0, list->y, rows * n_out};
        rc = H->model_predict(d->model, &x, &y, &e);
    } else {
        double *x = malloc(rows * cols * sizeof *x);
        double *y = malloc(rows * n_out * sizeof *y);
        if (x && y) {
            size_t k = 0;
            for (struct req *r = list; r; r = r->bnext) {
                memcpy(x + k * cols, r->in.x, r->in.rows * cols * sizeof *x);
                k += r->in.rows;
            }
            struct orr_matrix xm = {rows, cols, x, rows * cols};
            struct orr_matrix ym = {0, 0, y, rows * n_out};
            rc = H->model_predict(d->model, &xm, &ym, &e);
            k = 0;
            for (struct req *r = list; !rc && r; r = r->bnext) {
                memcpy(r->y, y + k * n_out, r->in.rows * n_out * sizeof *y);
                k += r->in.rows;
            }
        }
        free(x);
        free(y);
    }
    for (struct req *r = list, *nx; r; r = nx) {
        nx = r->bnext;
        if (rc) {               /* again alone, for its own answer */
            struct orr_matrix x = {r->in.rows, cols, r->in.x,
                                   r->in.rows * cols};
            struct orr_matrix y = {0, 0, r->y, r->in.rows * n_out};
            struct orr_error re = {0};
            if (H->model_predict(d->model, &x, &y, &re)) {
                r->bstatus = re.code == ORR_EINVAL ? 400 : 500;
                snprintf(r->berr, sizeof r->berr, "%s", re.msg);
            }
        }
        struct MHD_Connection *c = r->bconn;
        atomic_store(&r->bdone, 1);
        MHD_resume_connection(c);       /* r may be gone after this */
    }
}

static void *batch_main(void *arg)
{
    struct batcher *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->stop)
            pthread_cond_wait(&q->cv, &q->mu);
        if (!q->head)
            break;
        uint64_t deadline = q->head->benq + q->max_delay_ns;
        while (q->queued_rows < q->max_rows && !q->stop) {
            uint64_t now = now_ns();
            if (now >= deadline)
                break;
            struct timespec ts = {(time_t)(deadline / 1000000000u),
                                  (long)(deadline % 1000000000u)};
            pthread_cond_timedwait(&q->cv, &q->mu, &ts);
        }
        struct req *list = q->head, *last = q->head;
        size_t rows = last->in.rows;
        while (last->bnext && rows + last->bnext->in.rows <= q->max_rows) {
            last = last->bnext;
            rows += last->in.rows;
        }
        q->head = last->bnext;
        if (!q->head)
            q->tail = NULL;
        last->bnext = NULL;
        q->queued_rows -= rows;
        pthread_mutex_unlock(&q->mu);
        batch_predict(q, list, rows);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

static struct batcher *batcher_new(struct dep *d, size_t max_rows,
                                   long max_delay_us)
{
    struct batcher *q = calloc(1, sizeof *q);
    pthread_condattr_t ca;
    if (!q)
        return NULL;
    q->d = d;
    q->max_rows = max_rows;
    q->max_delay_ns = (uint64_t)max_delay_us * 1000u;
    if (pthread_condattr_init(&ca)) {
        free(q);
        return NULL;
    }
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int ok = !pthread_mutex_init(&q->mu, NULL);
    if (ok && pthread_cond_init(&q->cv, &ca)) {
        pthread_mutex_destroy(&q->mu);
        ok = 0;
    }
    pthread_condattr_destroy(&ca);
    if (ok && pthread_create(&q->th, NULL, batch_main, q)) {
        pthread_cond_destroy(&q->cv);
        pthread_mutex_destroy(&q->mu);
        ok = 0;
    }
    if (!ok) {
        free(q);
        return NULL;
    }
    return q;
}

/* Called with the deployment's last reference: nothing is queued. */
static void batcher_free(struct batcher *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->stop = 1;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->th, NULL);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

/* Queue a parsed request.  The request holds a reference on the
 * deployment, so its batcher is not stopping. */
static void batch_submit(struct batcher *q, struct req *r)
{
    r->benq = now_ns();
    r->bnext = NULL;
    pthread_mutex_lock(&q->mu);
    int wake = !q->head;
    if (q->tail)
        q->tail->bnext = r;
    else
        q->head = r;
    q->tail = r;
    q->queued_rows += r->in.rows;
    wake |= q->queued_rows >= q->max_rows;
    pthread_mutex_unlock(&q->mu);
    if (wake)
        pthread_cond_signal(&q->cv);
}

/* Encode the answer of a predicted request and queue it: JSON, or with
 * binary outputs a JSON header then the little-endian doubles.  Takes
 * in->x (for the shadow) and frees y. */
static enum MHD_Result respond(struct srv *s, struct MHD_Connection *c,
                               struct req *r, const struct dep *d, int v2,
                               struct srv_batch *in, double *y)
{
    size_t n_out = d->info.n_outputs ? d->info.n_outputs : 1;
    struct orr_matrix x = {in->rows, in->cols, in->x, in->rows * in->cols};
    struct orr_matrix ym = {in->rows, n_out, y, in->rows * n_out};
    struct sbuf b = {0};
    const char *ctype = "application/json";
    if (v2) {
        sbuf_puts(&b, "{\"model_name\": ");
        sbuf_json_str(&b, d->name);
        sbuf_puts(&b, ", \"model_version\": ");
        sbuf_json_str(&b, d->version);
        if (in->id) {
            sbuf_puts(&b, ", \"id\": ");
            sbuf_json_str(&b, in->id);
        }
        sbuf_puts(&b, ", \"outputs\": [{\"name\": \"output\", "
                  "\"datatype\": \"FP64\", \"shape\": [");
        sbuf_uint(&b, ym.rows);
        sbuf_puts(&b, ", ");
        sbuf_uint(&b, ym.cols);
        sbuf_puts(&b, "], ");
        if (in->binary_out) {
            size_t nb = ym.rows * ym.cols * sizeof(double);
            sbuf_puts(&b, "\"parameters\": {\"binary_data_size\": ");
            sbuf_uint(&b, nb);
            sbuf_puts(&b, "}}]}");
            r->resp_hdr_len = b.len;
            for (size_t i = 0; i < ym.rows * ym.cols; i++) {
                uint64_t u;
                unsigned char le[8];
                memcpy(&u, &y[i], sizeof u);
                for (size_t k = 0; k < 8; k++)
                    le[k] = (unsigned char)(u >> (8 * k));
                sbuf_put(&b, (const char *)le, sizeof le);
            }
            ctype = "application/octet-stream";
        } else {
            sbuf_puts(&b, "\"data\": [");
            for (size_t i = 0; i < ym.rows * ym.cols; i++) {
                if (i)
                    sbuf_put(&b, ",", 1);
                sbuf_json_num(&b, y[i]);
            }
            sbuf_puts(&b, "]}]}\n");
        }
    } else {
        sbuf_puts(&b, "{\"predictions\": [");
        for (size_t i = 0; i < ym.rows; i++) {
            if (i)
                sbuf_put(&b, ",", 1);
            if (ym.cols != 1)
                sbuf_put(&b, "[", 1);
            for (size_t j = 0; j < ym.cols; j++) {
                if (j)
                    sbuf_put(&b, ",", 1);
                sbuf_json_num(&b, y[i * ym.cols + j]);
            }
            if (ym.cols != 1)
                sbuf_put(&b, "]", 1);
        }
        sbuf_puts(&b, "]}\n");
    }
    size_t rows = in->rows;
    request_id(s, c, r, in->id);
    if (d->log_sample > 0.0 && sampled(d->log_sample))
        log_prediction(s, r, d, &x, &ym);
    /* The shadow runs after the answer is sent: it gets the input. */
    r->shadow = acquire_role(s, d->name, ORR_ROLE_SHADOW);
    if (r->shadow) {
        r->sx = in->x;
        r->srows = in->rows;
        r->scols = in->cols;
        in->x = NULL;
    }
    free(y);
    srv_batch_clear(in);
    return answer(s, c, r, 200, &b, ctype, d, rows);
}

/* Parse, predict, answer: the hot path. */
static enum MHD_Result infer(struct srv *s, struct MHD_Connection *c,
                             struct req *r, struct dep *d, int v2)
{
    struct srv_schema sc = {d->info.n_features, d->info.feature_names};
    struct srv_batch in = {0};
    char err[512];
    int st;
    if (v2 && r->binary) {
        st = srv_parse_v2_binary(r->body, r->len, r->hdr_len, &sc, &in, err,
                                 sizeof err);
    } else if (v2) {
        st = srv_parse_v2(r->body, r->len, &sc, &in, err, sizeof err);
    } else {
        const char *ct = MHD_lookup_connection_value(
            c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        st = srv_parse_invocations(r->body, r->len, ct, &sc, &in, err,
                                   sizeof err);
    }
    if (st)
        return fail(s, c, r, st, d, err);
    size_t n_out = d->info.n_outputs ? d->info.n_outputs : 1;
    double *y = malloc(in.rows * n_out * sizeof *y);
    if (!y) {
        srv_batch_clear(&in);
        return fail(s, c, r, 500, d, "out of memory");
    }
    if (d->bq && in.rows < d->bq->max_rows) {
        /* Wait in the model's batch queue, connection suspended; the
         * handler is called again once the batcher resumed it. */
        r->in = in;
        r->y = y;
        r->v2 = v2;
        atomic_fetch_add(&d->refs, 1);
        r->bdep = d;
        r->bconn = c;
        MHD_suspend_connection(c);
        batch_submit(d->bq, r);
        return MHD_YES;
    }
    struct orr_matrix x = {in.rows, in.cols, in.x, in.rows * in.cols};
    struct orr_matrix ym = {0, 0, y, in.rows * n_out};
    struct orr_error e = {0};
    if (H->model_predict(d->model, &x, &ym, &e)) {
        free(y);
        srv_batch_clear(&in);
        return fail(s, c, r, e.code == ORR_EINVAL ? 400 : 500, d, e.msg);
    }
    return respond(s, c, r, d, v2, &in, y);
}

/* The handler's call after the batcher resumed a queued request. */
static enum MHD_Result batch_answer(struct srv *s, struct MHD_Connection *c,
                                    struct req *r)
{
    struct dep *d = r->bdep;
    enum MHD_Result ok;
    r->bdep = NULL;
    if (r->bstatus) {
        free(r->y);
        srv_batch_clear(&r->in);
        ok = fail(s, c, r, r->bstatus, d, r->berr);
    } else {
        ok = respond(s, c, r, d, r->v2, &r->in, r->y);
    }
    r->y = NULL;
    dep_release(d);
    return ok;
}

/* The host's own figures (the monitor's, ABI 1.2) go after ours. */
static void metrics_put(void *ctx, const char *text, size_t len)
{
    sbuf_put(ctx, text, len);
}

static void metrics_text(struct srv *s, struct sbuf *b)
{
    sbuf_puts(b, "# HELP orrery_http_requests_total HTTP requests answered, "
              "by status code.\n# TYPE orrery_http_requests_total counter\n");
    for (size_t i = 0; i < N_CODES; i++) {
        unsigned long long v = atomic_load(&s->http_by_code[i]);
        if (i < N_CODES - 1)
            sbuf_printf(b, "orrery_http_requests_total{code=\"%d\"} %llu\n",
                        codes[i], v);
        else
            sbuf_printf(b, "orrery_http_requests_total{code=\"other\"} "
                        "%llu\n", v);
    }
    sbuf_puts(b, "# HELP orrery_http_worker_connections_total Connections "
              "handed to each worker thread.\n"
              "# TYPE orrery_http_worker_connections_total counter\n");
    for (unsigned i = 0; i < s->n_workers; i++)
        sbuf_printf(b, "orrery_http_worker_connections_total{worker=\"%u\"} "
                    "%llu\n", i, atomic_load(&s->handed[i]));
    sbuf_printf(b, "# HELP orrery_http_in_flight Requests being served.\n"
                "# TYPE orrery_http_in_flight gauge\n"
                "orrery_http_in_flight %ld\n", atomic_load(&s->in_flight));
    sbuf_puts(b, "# HELP orrery_model_requests_total Requests answered by a "
              "model version, by status code.\n"
              "# TYPE orrery_model_requests_total counter\n");
    pthread_mutex_lock(&s->lock);
    for (struct series *x = s->series; x; x = x->next)
        for (size_t i = 0; i < N_CODES; i++) {
            unsigned long long v = atomic_load(&x->by_code[i]);
            if (!v)
                continue;
            if (i < N_CODES - 1)
                sbuf_printf(b, "orrery_model_requests_total{model=\"%s\","
                            "version=\"%s\",code=\"%d\"} %llu\n", x->model,
                            x->version, codes[i], v);
            else
                sbuf_printf(b, "orrery_model_requests_total{model=\"%s\","
                            "version=\"%s\",code=\"other\"} %llu\n",
                            x->model, x->version, v);
        }
    sbuf_puts(b, "# HELP orrery_model_request_duration_seconds Time from "
              "request to answer.\n"
              "# TYPE orrery_model_request_duration_seconds histogram\n");
    for (struct series *x = s->series; x; x = x->next) {
        unsigned long long cum = 0;
        for (size_t i = 0; i <= N_LAT; i++) {
            cum += atomic_load(&x->lat[i]);
            if (i < N_LAT)
                sbuf_printf(b, "orrery_model_request_duration_seconds_bucket"
                            "{model=\"%s\",version=\"%s\",le=\"%g\"} %llu\n",
                            x->model, x->version, lat_bounds[i], cum);
            else
                sbuf_printf(b, "orrery_model_request_duration_seconds_bucket"
                            "{model=\"%s\",version=\"%s\",le=\"+Inf\"} "
                            "%llu\n", x->model, x->version, cum);
        }
        sbuf_printf(b, "orrery_model_request_duration_seconds_sum{model="
                    "\"%s\",version=\"%s\"} %.9f\n", x->model, x->version,
                    (double)atomic_load(&x->lat_sum_ns) / 1e9);
        sbuf_printf(b, "orrery_model_request_duration_seconds_count{model="
                    "\"%s\",version=\"%s\"} %llu\n", x->model, x->version,
                    cum);
    }
    sbuf_puts(b, "# HELP orrery_model_batch_rows Rows per predicted "
              "request.\n# TYPE orrery_model_batch_rows histogram\n");
    for (struct series *x = s->series; x; x = x->next) {
        unsigned long long cum = 0;
        for (size_t i = 0; i <= N_ROWS; i++) {
            cum += atomic_load(&x->rows[i]);
            if (i < N_ROWS)
                sbuf_printf(b, "orrery_model_batch_rows_bucket{model=\"%s\","
                            "version=\"%s\",le=\"%g\"} %llu\n", x->model,
                            x->version, rows_bounds[i], cum);
            else
                sbuf_printf(b, "orrery_model_batch_rows_bucket{model=\"%s\","
                            "version=\"%s\",le=\"+Inf\"} %llu\n", x->model,
                            x->version, cum);
        }
        sbuf_printf(b, "orrery_model_batch_rows_sum{model=\"%s\",version="
                    "\"%s\"} %llu\n", x->model, x->version,
                    atomic_load(&x->rows_sum));
        sbuf_printf(b, "orrery_model_batch_rows_count{model=\"%s\",version="
                    "\"%s\"} %llu\n", x->model, x->version, cum);
    }
    pthread_mutex_unlock(&s->lock);
    unsigned long long log_logged = 0, log_dropped = 0;
    for (int i = 0; i <= LOG_STRIPES; i++) {
        log_logged += atomic_load(&s->log_n[i].logged);
        log_dropped += atomic_load(&s->log_n[i].dropped);
    }
    sbuf_printf(b, "# HELP orrery_predictions_logged_total Predictions "
                "queued for the prediction log.\n"
                "# TYPE orrery_predictions_logged_total counter\n"
                "orrery_predictions_logged_total %llu\n"
                "# HELP orrery_predictions_dropped_total Predictions not "
                "logged: the log's queue was full.\n"
                "# TYPE orrery_predictions_dropped_total counter\n"
                "orrery_predictions_dropped_total %llu\n",
                log_logged, log_dropped);
    struct orr_error e = {0};
    if (H->size >= offsetof(struct orr_host, export_metrics) +
                       sizeof(void *) && H->export_metrics &&
        H->export_metrics(metrics_put, b, &e))
        H->log(ORR_LOG_WARN, "http", "/metrics: monitor figures: %s",
               e.msg);
}

/* FNV-1a: a stable hash of the request key, so a key always lands on
 * the same side of a canary split. */
static uint64_t fnv1a(const char *p)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 0x100000001b3u;
    }
    return h;
}

/* Swap primary `d` for its canary for the canary's share of requests:
 * by the X-Request-Key header when given (sticky), else at random. */
static struct dep *route_canary(struct srv *s, struct MHD_Connection *c,
                                struct dep *d)
{
    struct dep *k = acquire_role(s, d->name, ORR_ROLE_CANARY);
    if (!k)
        return d;
    const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                  "X-Request-Key");
    int pick = key && *key ? (double)(fnv1a(key) % 10000u) < k->pct * 100.0
                           : sampled(k->pct / 100.0) && k->pct > 0.0;
    if (!pick) {
        dep_release(k);
        return d;
    }
    dep_release(d);
    return k;
}

/* Run the shadow of a request whose answer was sent: its result is only
 * metered and logged, under the request's id. */
static void run_shadow(struct srv *s, struct req *r)
{
    struct dep *sh = r->shadow;
    size_t n_out = sh->info.n_outputs ? sh->info.n_outputs : 1;
    double *y = malloc(r->srows * n_out * sizeof *y);
    struct orr_matrix x = {r->srows, r->scols, r->sx, r->srows * r->scols};
    struct orr_matrix ym = {0, 0, y, r->srows * n_out};
    struct orr_error e = {0};
    uint64_t t0 = now_ns();
    int rc = !y || r->scols != sh->info.n_features
                 ? ORR_EINVAL : H->model_predict(sh->model, &x, &ym, &e);
    series_account(sh->series, now_ns() - t0, rc ? 500 : 200,
                   rc ? 0 : r->srows);
    if (!rc && sh->log_sample > 0.0 && sampled(sh->log_sample))
        log_prediction(s, r, sh, &x, &ym);
    free(y);
}

static enum MHD_Result dispatch(struct srv *s, struct MHD_Connection *c,
                                struct req *r)
{
    struct sbuf b = {0};
    struct dep *d = NULL;
    enum MHD_Result ok;
    size_t n = 0;
    switch (r->route) {
    case R_V2:
        sbuf_printf(&b, "{\"name\": \"orrery\", \"version\": \"%s\", "
                    "\"extensions\": [\"binary_tensor_data\"]}\n",
                    ORR_SDK_VERSION);
        return ok_json(s, c, r, &b, NULL, 0);
    case R_LIVE:
        sbuf_puts(&b, "{\"live\": true}\n");
        return ok_json(s, c, r, &b, NULL, 0);
    case R_READY:
        d = acquire(s, "", &n);
        dep_release(d);
        sbuf_printf(&b, "{\"ready\": %s}\n", n ? "true" : "false");
        return answer(s, c, r, n ? 200 : 503, &b, "application/json", NULL,
                      0);
    case R_PING:
        acquire(s, "", &n);
        sbuf_puts(&b, n ? "\n" : "no model deployed\n");
        return answer(s, c, r, n ? 200 : 503, &b, "text/plain", NULL, 0);
    case R_VERSION:
        sbuf_printf(&b, "%s\n", ORR_SDK_VERSION);
        return answer(s, c, r, 200, &b, "text/plain", NULL, 0);
    case R_METRICS:
        metrics_text(s, &b);
        return answer(s, c, r, 200, &b,
                      "text/plain; version=0.0.4; charset=utf-8", NULL, 0);
    case R_MODEL:
    case R_MODEL_READY:
    case R_INFER:
    case R_FEEDBACK:
        ok = find_model(s, c, r, &d);
        if (!d)
            return ok;
        if (r->route == R_INFER && !r->version[0])
            d = route_canary(s, c, d);
        ok = r->route == R_INFER      ? infer(s, c, r, d, 1)
             : r->route == R_FEEDBACK ? feedback(s, c, r, d)
                                      : model_meta(s, c, r, d);
        dep_release(d);
        return ok;
    case R_INVOCATIONS:
        d = acquire(s, NULL, &n);
        if (!d)
            return fail(s, c, r, n ? 400 : 503, NULL, n
                        ? "/invocations needs a server with one model; "
                          "use /v2/models/{name}/infer"
                        : "no model deployed");
        d = route_canary(s, c, d);
        ok = infer(s, c, r, d, 0);
        dep_release(d);
        return ok;
    case R_NONE:
        break;
    }
    return fail(s, c, r, 404, NULL, "no such endpoint");
}

/* Constant-time comparison, so the answer's timing does not reveal how
 * much of a guessed token was right. */
static int token_ok(const struct srv *s, const char *auth)
{
    if (!auth || strncmp(auth, "Bearer ", 7))
        return 0;
    const char *t = auth + 7;
    size_t n = strlen(t);
    int found = 0;
    for (size_t i = 0; i < s->n_tokens; i++) {
        size_t m = strlen(s->tokens[i]);
        unsigned char diff = (unsigned char)(n != m);
        for (size_t k = 0; k < n; k++)
            diff |= (unsigned char)(t[k] ^ s->tokens[i][k < m ? k : 0]);
        found |= !diff;
    }
    return found;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
                               const char *url, const char *method,
                               const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    struct wctx *w = cls;
    struct srv *s = w->s;
    struct req *r = *con_cls;
    (void)version;
    if (r && r->bdep)
        return atomic_load(&r->bdone) ? batch_answer(s, c, r) : MHD_YES;
    if (!r) {
        r = req_get(w);
        if (!r)
            return MHD_NO;
        r->t0 = now_ns();
        *con_cls = r;
        atomic_fetch_add(&s->in_flight, 1);
        copy_trunc(r->method, sizeof r->method, method);
        copy_trunc(r->path, sizeof r->path, url);
        route_of(url, r);
        int is_post = !strcmp(method, MHD_HTTP_METHOD_POST);
        int is_get = !strcmp(method, MHD_HTTP_METHOD_GET) ||
                     !strcmp(method, MHD_HTTP_METHOD_HEAD);
        int probe = r->route == R_LIVE || r->route == R_READY ||
                    r->route == R_PING;
        if (s->n_tokens && !probe &&
            !token_ok(s, MHD_lookup_connection_value(
                             c, MHD_HEADER_KIND,
                             MHD_HTTP_HEADER_AUTHORIZATION)))
            return fail(s, c, r, 401, NULL, "missing or wrong bearer token");
        if (r->route == R_NONE)
            return fail(s, c, r, 404, NULL, "no such endpoint");
        if (r->post ? !is_post : !is_get) {
            char msg[64];
            snprintf(msg, sizeof msg, "method %.16s not allowed (use %s)",
                     method, r->post ? "POST" : "GET");
            return fail(s, c, r, 405, NULL, msg);
        }
        /* A GET is answered on the next call too: answering before the
         * (empty) body is read made libmicrohttpd close the connection. */
        const char *cl = MHD_lookup_connection_value(
            c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            /* Plain digits (nearly always) without strtoull. */
            unsigned long long n = 0;
            size_t k = 0;
            while (k < 19 && cl[k] >= '0' && cl[k] <= '9')
                n = n * 10 + (unsigned)(cl[k++] - '0');
            if (k == 0 || k == 19 || cl[k]) {
                char *end;
                errno = 0;
                n = strtoull(cl, &end, 10);
                if (errno || *end)
                    r->too_large = 1;
            }
            if (n > s->max_body)
                r->too_large = 1;
        }
        if (r->too_large)
            return fail(s, c, r, 413, NULL, "request body too large");
        const char *ih = MHD_lookup_connection_value(
            c, MHD_HEADER_KIND, "Inference-Header-Content-Length");
        if (ih && r->route == R_INFER) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(ih, &end, 10);
            if (errno || end == ih || *end || n > s->max_body)
                return fail(s, c, r, 400, NULL, "bad Inference-Header-"
                            "Content-Length");
            r->binary = 1;
            r->hdr_len = (size_t)n;
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (r->too_large || r->len + n > s->max_body) {
            r->too_large = 1;
            return MHD_YES;
        }
        if (r->len + n + 1 > r->cap) {
            size_t cap = r->cap ? r->cap : REQ_BODY_MIN;
            while (cap < r->len + n + 1)
                cap *= 2;
            char *p = realloc(r->body, cap);
            if (!p)
                return MHD_NO;
            r->body = p;
            r->cap = cap;
        }
        memcpy(r->body + r->len, upload, n);
        r->len += n;
        r->body[r->len] = '\0';
        return MHD_YES;
    }
    if (r->too_large)
        return fail(s, c, r, 413, NULL, "request body too large");
    if (!r->body) {
        r->body = malloc(REQ_BODY_MIN);
        if (!r->body)
            return MHD_NO;
        r->cap = REQ_BODY_MIN;
        r->body[0] = '\0';
    }
    return dispatch(s, c, r);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct wctx *w = cls;
    struct srv *s = w->s;
    struct req *r = *con_cls;
    (void)c;
    if (!r)
        return;
    if (r->shadow && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        run_shadow(s, r);
    req_put(w, r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

/* ------------------------------------------------------------------ */
/* Connections: the listener, round-robin over the workers              */

/* The client's address without its port: what the per-IP limit counts. */
static size_t ip_key(const struct sockaddr *sa, unsigned char key[16])
{
    if (sa && sa->sa_family == AF_INET) {
        memcpy(key, &((const struct sockaddr_in *)(const void *)sa)
                         ->sin_addr, 4);
        return 4;
    }
    if (sa && sa->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)(const void *)sa)
                         ->sin6_addr, 16);
        return 16;
    }
    return 0;
}

static struct ipcount *ip_find(struct srv *s, const unsigned char *key,
                               size_t klen)
{
    for (size_t i = 0; i < s->n_ips; i++)
        if (s->ips[i].klen == klen && !memcmp(s->ips[i].key, key, klen))
            return &s->ips[i];
    return NULL;
}

/* Counts a new connection against the limits; 0: refuse it. */
static int conn_admit(struct srv *s, const struct sockaddr *sa)
{
    if (atomic_fetch_add(&s->n_conns, 1) >= s->max_connections) {
        atomic_fetch_sub(&s->n_conns, 1);
        return 0;
    }
    unsigned char key[16];
    size_t klen = ip_key(sa, key);
    if (!s->per_ip || !klen)
        return 1;
    int ok = 1;
    pthread_mutex_lock(&s->ip_lock);
    struct ipcount *x = ip_find(s, key, klen);
    if (x) {
        if (x->n >= s->per_ip)
            ok = 0;
        else
            x->n++;
    } else {
        if (s->n_ips == s->cap_ips) {
            size_t cap = s->cap_ips ? s->cap_ips * 2 : 16;
            struct ipcount *m = realloc(s->ips, cap * sizeof *m);
            if (m) {
                s->ips = m;
                s->cap_ips = cap;
            }
        }
        if (s->n_ips < s->cap_ips) {
            x = &s->ips[s->n_ips++];
            memcpy(x->key, key, klen);
            x->klen = klen;
            x->n = 1;
        } else {
            ok = 0;             /* out of memory: refuse, as MHD did */
        }
    }
    pthread_mutex_unlock(&s->ip_lock);
    if (!ok)
        atomic_fetch_sub(&s->n_conns, 1);
    return ok;
}

static void conn_release(struct srv *s, const struct sockaddr *sa)
{
    atomic_fetch_sub(&s->n_conns, 1);
    unsigned char key[16];
    size_t klen = ip_key(sa, key);
    if (!s->per_ip || !klen)
        return;
    pthread_mutex_lock(&s->ip_lock);
    struct ipcount *x = ip_find(s, key, klen);
    if (x && !--x->n)
        *x = s->ips[--s->n_ips];
    pthread_mutex_unlock(&s->ip_lock);
}

/* A connection is counted from accept() on; MHD reports its close only
 * once it reported its start, so the mark says whose count to drop. */
static void conn_notify(void *cls, struct MHD_Connection *c, void **sctx,
                        enum MHD_ConnectionNotificationCode code)
{
    struct srv *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *sctx = s;
        return;
    }
    if (code != MHD_CONNECTION_NOTIFY_CLOSED || !*sctx)
        return;
    *sctx = NULL;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    conn_release(s, ci ? ci->client_addr : NULL);
}

static void *listen_main(void *arg)
{
    struct srv *s = arg;
    struct pollfd pf[2] = {{.fd = s->lfd, .events = POLLIN},
                           {.fd = s->wake[0], .events = POLLIN}};
    int pause_ms = -1;
    for (;;) {
        if (poll(pf, 2, pause_ms) < 0 && errno != EINTR)
            break;
        if (pf[1].revents)
            break;
        pause_ms = -1;
        for (;;) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof ss;
            int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                /* Out of descriptors: retry shortly, not in a spin. */
                if (errno == EMFILE || errno == ENFILE ||
                    errno == ENOBUFS || errno == ENOMEM)
                    pause_ms = 10;
                if (errno == EINTR || errno == ECONNABORTED)
                    continue;
                break;
            }
            const struct sockaddr *sa = (const struct sockaddr *)&ss;
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (!conn_admit(s, sa)) {
                close(fd);
                continue;
            }
            unsigned w = s->next++ % s->n_workers;
            /* Counted before the hand-over: the worker may answer a
             * /metrics request on this very connection before
             * MHD_add_connection returns. */
            atomic_fetch_add(&s->handed[w], 1);
            if (MHD_add_connection(s->workers[w], fd, sa, sl) != MHD_YES) {
                atomic_fetch_sub(&s->handed[w], 1);
                conn_release(s, sa);    /* MHD closed the socket */
            }
        }
    }
    return NULL;
}

/* Stops accepting: later connections are refused by the kernel. */
static void listener_stop(struct srv *s)
{
    if (s->listening) {
        char one = 1;
        while (write(s->wake[1], &one, 1) < 0 && errno == EINTR)
            ;
        pthread_join(s->listener, NULL);
        s->listening = 0;
    }
    if (s->lfd >= 0)
        close(s->lfd);
    s->lfd = -1;
}

static void workers_stop(struct srv *s)
{
    listener_stop(s);
    for (unsigned i = 0; s->workers && i < s->n_workers; i++)
        if (s->workers[i])
            MHD_stop_daemon(s->workers[i]);
    for (unsigned i = 0; s->wctx && i < s->n_workers; i++)
        req_cache_free(&s->wctx[i]);
    free(s->workers);
    s->workers = NULL;
    free(s->wctx);
    s->wctx = NULL;
    free(s->handed);
    s->handed = NULL;
    s->n_workers = 0;
}

/* ------------------------------------------------------------------ */
/* The backend                                                          */

struct tok_ctx {
    struct srv      *s;
    struct orr_error *e;
    int              rc;
};

static int add_token(struct srv *s, const char *t)
{
    if (!t || !*t)
        return 0;
    char **grown = realloc(s->tokens, (s->n_tokens + 1) * sizeof *grown);
    if (!grown)
        return -1;
    s->tokens = grown;
    if (!(s->tokens[s->n_tokens] = strdup(t)))
        return -1;
    s->n_tokens++;
    return 0;
}

static int tok_each(void *ctx, const char *key, const char *value)
{
    (void)key;
    return add_token(ctx, value);
}

/* server.batch: { max_rows = N, max_delay_us = N } for every model,
 * and/or NAME = { ... } for one. */
static int bcfg_add(struct srv *s, const char *name,
                    const struct orr_cfg *t, struct orr_error *e)
{
    int64_t rows = H->cfg_int(t, "max_rows", INT64_MIN);
    int64_t delay = H->cfg_int(t, "max_delay_us", 500);
    if (rows == INT64_MIN)
        return ORR_OK;          /* no max_rows: nothing at this level */
    if (rows < 1 || rows > 65536 || delay < 1 || delay > 1000000)
        return H->fail(e, ORR_ECONFIG, "server.batch%s%s: max_rows must be "
                       "1..65536 and max_delay_us 1..1000000", *name ? "."
                       : "", name);
    if (strlen(name) > NAME_MAX_LEN)
        return H->fail(e, ORR_ECONFIG, "server.batch: model name too long");
    struct bcfg *g = realloc(s->bcfg, (s->n_bcfg + 1) * sizeof *g);
    if (!g)
        return H->fail(e, ORR_ENOMEM, "out of memory");
    s->bcfg = g;
    g += s->n_bcfg++;
    memcpy(g->name, name, strlen(name) + 1);
    g->max_rows = (size_t)rows;
    g->max_delay_us = (long)delay;
    return ORR_OK;
}

struct bcfg_ctx {
    struct srv            *s;
    const struct orr_cfg  *batch;
    struct orr_error      *e;
};

static int bcfg_each(void *ctx, const char *key, const char *value)
{
    struct bcfg_ctx *x = ctx;
    if (value)
        return 0;               /* max_rows, max_delay_us: the default */
    return bcfg_add(x->s, key, H->cfg_child(x->batch, key), x->e);
}

static int s_open(void *self, const struct orr_cfg *cfg, struct orr_error *e)
{
    struct srv *s = self;
    s->lfd = s->wake[0] = s->wake[1] = -1;
    if (pthread_mutex_init(&s->lock, NULL))
        return H->fail(e, ORR_EIO, "mutex init failed");
    s->lock_ok = 1;
    if (pthread_mutex_init(&s->ip_lock, NULL))
        return H->fail(e, ORR_EIO, "mutex init failed");
    s->ip_lock_ok = 1;
    struct table *t = calloc(1, sizeof *t);
    if (!t)
        return H->fail(e, ORR_ENOMEM, "out of memory");
    atomic_store(&s->table, t);
    /* Generated request ids must not repeat across restarts: the log
     * keeps the ids of earlier runs. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->rid_salt = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^
                  ((uint64_t)getpid() << 16);
    int64_t mb = H->cfg_int(cfg, "max_body", 16 << 20);
    int64_t idle = H->cfg_int(cfg, "idle_timeout", 30);
    int64_t conns = H->cfg_int(cfg, "max_connections", 1024);
    if (mb < 1 || idle < 1 || conns < 1)
        return H->fail(e, ORR_ECONFIG, "server: max_body, idle_timeout and "
                       "max_connections must be positive");
    s->max_body = (size_t)mb;
    s->idle_timeout = (unsigned)idle;
    s->max_connections = (unsigned)conns;
    int64_t per_ip = H->cfg_int(cfg, "max_connections_per_ip", 0);
    if (per_ip < 0 || per_ip > 1000000)
        return H->fail(e, ORR_ECONFIG, "server: max_connections_per_ip must "
                       "be 0 (no limit) or positive");
    s->per_ip = (unsigned)per_ip;
    /* access_log = "path" | "-" (standard output) | false (the default) */
    const char *alog = H->cfg_str(cfg, "access_log", NULL);
    if (alog && *alog) {
        char msg[512];
        if (!(s->alog = alog_open(alog, msg, sizeof msg)))
            return H->fail(e, ORR_EIO, "%s", msg);
    }
    const struct orr_cfg *batch = H->cfg_child(cfg, "batch");
    if (batch) {
        struct bcfg_ctx bx = {s, batch, e};
        int rc = bcfg_add(s, "", batch, e);
        if (!rc)
            rc = H->cfg_each(batch, bcfg_each, &bx);
        if (rc)
            return rc;
    }
    if (add_token(s, H->cfg_str(cfg, "token", NULL)))
        return H->fail(e, ORR_ENOMEM, "out of memory");
    const struct orr_cfg *toks = H->cfg_child(cfg, "tokens");
    if (toks && H->cfg_each(toks, tok_each, s))
        return H->fail(e, ORR_ENOMEM, "out of memory");
    return ORR_OK;
}

static void s_close(void *self)
{
    struct srv *s = self;
    workers_stop(s);
    for (int i = 0; i < 2; i++)
        if (s->wake[i] >= 0)
            close(s->wake[i]);
    free(s->ips);
    if (s->ip_lock_ok)
        pthread_mutex_destroy(&s->ip_lock);
    table_free(atomic_load(&s->table));
    atomic_store(&s->table, NULL);
    for (struct series *x = s->series, *nx; x; x = nx) {
        nx = x->next;
        free(x->model);
        free(x->version);
        free(x);
    }
    for (size_t i = 0; i < s->n_tokens; i++)
        free(s->tokens[i]);
    free(s->tokens);
    free(s->bcfg);
    alog_close(s->alog);
    s->alog = NULL;
    if (s->lock_ok)
        pthread_mutex_destroy(&s->lock);
}

static int s_start(void *self, const struct orr_serve_spec *spec,
                   struct orr_error *e)
{
    struct srv *s = self;
    const char *host = spec->host && *spec->host ? spec->host : "127.0.0.1";
    unsigned workers = spec->workers;
    if (!workers) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        workers = n > 0 ? (unsigned)n : 2;
    }
    if (spec->port > 65535)
        return H->fail(e, ORR_EINVAL, "port %u out of range", spec->port);
    if (s->workers)
        return H->fail(e, ORR_EINVAL, "server already started");
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)spec->port);
        sl = sizeof *a4;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)spec->port);
        sl = sizeof *a6;
    } else {
        return H->fail(e, ORR_EINVAL, "host '%s' is not an IP address",
                       host);
    }
    s->handed = calloc(workers, sizeof *s->handed);
    s->workers = calloc(workers, sizeof *s->workers);
    s->wctx = calloc(workers, sizeof *s->wctx);
    if (!s->handed || !s->workers || !s->wctx) {
        workers_stop(s);
        return H->fail(e, ORR_ENOMEM, "out of memory");
    }
    s->n_workers = workers;
    for (unsigned i = 0; i < workers; i++)
        s->wctx[i].s = s;
    int one = 1;
    s->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
                    SOCK_CLOEXEC, 0);
    if (s->lfd < 0 ||
        setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        (ss.ss_family == AF_INET6 &&
         setsockopt(s->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one)) ||
        bind(s->lfd, (struct sockaddr *)&ss, sl) ||
        listen(s->lfd, SOMAXCONN))
        goto fail;
    struct sockaddr_storage got;
    socklen_t gl = sizeof got;
    if (getsockname(s->lfd, (struct sockaddr *)&got, &gl))
        goto fail;
    s->port = ntohs(got.ss_family == AF_INET6
                        ? ((struct sockaddr_in6 *)&got)->sin6_port
                        : ((struct sockaddr_in *)&got)->sin_port);
    /* Every worker may hold them all: the total is kept in conn_admit. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                     MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_NO_LISTEN_SOCKET;
    for (unsigned i = 0; i < workers; i++)
        if (!(s->workers[i] = MHD_start_daemon(
                  flags, 0, NULL, NULL, handler, &s->wctx[i],
                  MHD_OPTION_CONNECTION_TIMEOUT, s->idle_timeout,
                  MHD_OPTION_CONNECTION_LIMIT, s->max_connections,
                  MHD_OPTION_NOTIFY_COMPLETED, completed, &s->wctx[i],
                  MHD_OPTION_NOTIFY_CONNECTION, conn_notify, s,
                  MHD_OPTION_END)))
            goto fail;
    if ((s->wake[0] < 0 && pipe2(s->wake, O_CLOEXEC)) ||
        pthread_create(&s->listener, NULL, listen_main, s))
        goto fail;
    s->listening = 1;
    return ORR_OK;
fail:
    workers_stop(s);
    return H->fail(e, ORR_EIO, "cannot listen on %s:%u (address in use "
                   "or not available)", host, spec->port);
}

static unsigned s_bound_port(void *self)
{
    struct srv *s = self;
    return s->workers ? s->port : 0;
}

static int s_deploy(void *self, const struct orr_deployment *d,
                    struct orr_error *e)
{
    struct srv *s = self;
    if (d->role != ORR_ROLE_PRIMARY && d->role != ORR_ROLE_CANARY &&
        d->role != ORR_ROLE_SHADOW)
        return H->fail(e, ORR_EINVAL, "unknown deployment role %d",
                       (int)d->role);
    if (d->role == ORR_ROLE_CANARY &&
        !(d->traffic_percent >= 0.0 && d->traffic_percent <= 100.0))
        return H->fail(e, ORR_EINVAL, "canary traffic must be 0..100%%");
    if (!d->name || !*d->name || strlen(d->name) > NAME_MAX_LEN ||
        !d->version || !*d->version || strlen(d->version) >= 32 || !d->model)
        return H->fail(e, ORR_EINVAL, "deployment needs a name (at most %d "
                       "characters), a version and a model", NAME_MAX_LEN);
    struct dep *x = calloc(1, sizeof *x);
    if (!x)
        return H->fail(e, ORR_ENOMEM, "out of memory");
    x->info.size = sizeof x->info;
    int rc = H->model_info(d->model, &x->info, e);
    if (rc) {
        free(x);
        return rc;
    }
    x->name = strdup(d->name);
    x->version = strdup(d->version);
    x->uri = strdup(d->uri ? d->uri : d->name);
    x->log_sample = d->size >= offsetof(struct orr_deployment, log_sample) +
                                   sizeof(double) &&
                            d->log_sample > 0.0
                        ? (d->log_sample < 1.0 ? d->log_sample : 1.0)
                        : 0.0;
    x->role = d->role;
    x->pct = d->traffic_percent;
    atomic_init(&x->refs, 1);
    const struct bcfg *bc = NULL;
    for (size_t i = 0; i < s->n_bcfg; i++)
        if (!strcmp(s->bcfg[i].name, d->name) ||
            (!bc && !s->bcfg[i].name[0]))
            bc = &s->bcfg[i];
    if (bc && bc->max_rows > 1 && d->role != ORR_ROLE_SHADOW &&
        !(x->bq = batcher_new(x, bc->max_rows, bc->max_delay_us))) {
        free(x);
        return H->fail(e, ORR_ENOMEM, "cannot start the batcher");
    }
    H->model_retain(d->model);
    x->model = d->model;
    pthread_mutex_lock(&s->lock);
    x->series = series_for(s, d->name, d->version);
    int removed = 0;
    if (!x->name || !x->version || !x->uri || !x->series) {
        rc = H->fail(e, ORR_ENOMEM, "out of memory");
        dep_release(x);
    } else {
        rc = publish(s, d->name, (int)d->role, x, &removed, e);
        if (rc)
            dep_release(x);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int s_undeploy(void *self, const char *name, struct orr_error *e)
{
    struct srv *s = self;
    int removed = 0;
    pthread_mutex_lock(&s->lock);
    int rc = publish(s, name, -1, NULL, &removed, e);
    pthread_mutex_unlock(&s->lock);
    if (!rc && !removed)
        return H->fail(e, ORR_ENOTFOUND, "no deployment named '%s'", name);
    return rc;
}

static int s_stop(void *self, int drain_ms, struct orr_error *e)
{
    struct srv *s = self;
    if (!s->workers)
        return ORR_OK;
    listener_stop(s);
    uint64_t deadline = now_ns() + (uint64_t)(drain_ms > 0 ? drain_ms : 0)
                                   * 1000000u;
    int drained = 1;
    while (atomic_load(&s->in_flight) > 0) {
        if (now_ns() >= deadline) {
            drained = 0;
            break;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    workers_stop(s);
    if (!drained)
        return H->fail(e, ORR_ETIMEDOUT, "requests still in flight after "
                       "%d ms; stopped anyway", drain_ms);
    return ORR_OK;
}

static const struct orr_server_ops ops = {
    .version = ORR_SERVER_OPS_V1,
    .name = "http",
    .summary = "KServe V2, MLflow /invocations and /metrics over HTTP "
               "(libmicrohttpd)",
    .self_size = sizeof(struct srv),
    .open = s_open,
    .close = s_close,
    .start = s_start,
    .bound_port = s_bound_port,
    .deploy = s_deploy,
    .undeploy = s_undeploy,
    .stop = s_stop,
};

static int init(const struct orr_host *host, struct orr_registry *reg,
                struct orr_error *e)
{
    H = host;
    return host->add_server(reg, &ops, e);
}

ORR_PLUGIN("server-http", "0.1.0", "Apache-2.0",
           "model server: KServe V2, MLflow /invocations, Prometheus metrics",
           init, NULL)
