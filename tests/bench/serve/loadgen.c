/*
 * tests/bench/serve/loadgen.c - an open-loop HTTP/1.1 load generator for
 * latency at a given rate, in the manner of wrk2 (which Debian does not
 * ship).  wrk is closed-loop: each connection waits for an answer before
 * its next request, so a slow answer delays the requests behind it and
 * its cost is never measured ("coordinated omission"), and pacing it with
 * delay() sends the requests of all connections in step.  Here requests
 * arrive on a schedule of their own - every 1/RATE s, or with exponential
 * gaps (-p) - each on an idle kept-alive connection, or they wait for one;
 * a request's latency runs from its scheduled time to the end of its
 * answer, so a late client or a queue anywhere counts against the server.
 * The time from the actual send is printed too.  One thread, epoll.
 *
 *   bench_loadgen -r RATE -c CONNS [-d SECONDS] [-w WARMUP_S] [-p]
 *                 [-b BODY_FILE] [-H 'Name: value']... [-s SEED]
 *                 http://127.0.0.1:PORT/PATH
 *
 * Without -b the request is a GET.  Prints one line:
 *   rate=... rps=... p50=...ms p90=... p99=... p999=... max=...
 *   send_p50=... send_p99=... non2xx=N errors=N late=N client_cpu=...
 * and exits 1 when any request failed or was answered with a non-2xx.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HIST_US  100000         /* 1 us buckets up to 100 ms */
#define RBUF     65536          /* one answer must fit */
#define MAX_HDRS 16

struct conn {
    int      fd;
    int      busy;
    uint64_t sched_ns;          /* when the request was due */
    uint64_t sent_ns;           /* when its first byte left */
    size_t   wrote;
    size_t   got;
    char     buf[RBUF];
};

struct hist {
    uint64_t n;
    uint64_t bucket[HIST_US + 1];   /* last: >= 100 ms */
    uint64_t max_ns;
};

static struct sockaddr_in addr;
static char *request;
static size_t request_len;
static struct hist from_sched, from_send;
static uint64_t n_done, n_non2xx, n_errors, n_late;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_loadgen: %s\n", what);
    exit(2);
}

static void hist_add(struct hist *h, uint64_t ns)
{
    uint64_t us = ns / 1000;
    h->bucket[us < HIST_US ? us : HIST_US]++;
    h->n++;
    if (ns > h->max_ns)
        h->max_ns = ns;
}

/* The latency, in ms, below which a share q of the requests finished
 * (the bucket's upper edge: never flattering). */
static double hist_pct(const struct hist *h, double q)
{
    if (!h->n)
        return 0.0;
    uint64_t want = (uint64_t)ceil(q * (double)h->n), seen = 0;
    for (size_t i = 0; i <= HIST_US; i++) {
        seen += h->bucket[i];
        if (seen >= want && seen)
            return i == HIST_US ? (double)h->max_ns / 1e6
                                : (double)(i + 1) / 1000.0;
    }
    return (double)h->max_ns / 1e6;
}

static int conn_open(struct conn *c, int ep)
{
    int one = 1;
    c->busy = 0;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 ||
        connect(c->fd, (struct sockaddr *)&addr, sizeof addr) ||
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one))
        return -1;
    /* Non-blocking only after connect: every connection is up before
     * the clock starts. */
    int fl = fcntl(c->fd, F_GETFL);
    if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK))
        return -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

/* A connection that failed: counted, closed and opened again, so one
 * server-side close does not shrink the pool. */
static void conn_reset(struct conn *c, int ep)
{
    n_errors++;
    close(c->fd);
    if (conn_open(c, ep))
        die("cannot reconnect to the server");
}

static void conn_write(struct conn *c, int ep)
{
    while (c->wrote < request_len) {
        ssize_t n = send(c->fd, request + c->wrote, request_len - c->wrote,
                         MSG_NOSIGNAL);
        if (n > 0) {
            c->wrote += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT,
                                     .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            return;
        }
        conn_reset(c, ep);
        return;
    }
}

static void conn_send(struct conn *c, int ep, uint64_t sched)
{
    c->busy = 1;
    c->sched_ns = sched;
    c->sent_ns = now_ns();
    c->wrote = 0;
    c->got = 0;
    conn_write(c, ep);
}

static int atoi_3(const char *p)
{
    int v = 0;
    for (int i = 0; i < 3; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* Bytes a complete answer in buf takes, 0 while incomplete, -1 when it
 * cannot be read (no Content-Length, chunked, too large). */
static long answer_len(const char *buf, size_t got, int *status)
{
    const char *end = memmem(buf, got, "\r\n\r\n", 4);
    if (!end)
        return got >= RBUF ? -1 : 0;
    size_t head = (size_t)(end - buf) + 4;
    if (got < 12 || memcmp(buf, "HTTP/1.", 7))
        return -1;
    *status = atoi_3(buf + 9);
    long body = -1;
    for (const char *l = memchr(buf, '\n', head); l && l < end;
         l = memchr(l + 1, '\n', (size_t)(end - l))) {
        if (!strncasecmp(l + 1, "content-length:", 15))
            body = strtol(l + 16, NULL, 10);
    }
    if (body < 0 || head + (size_t)body > RBUF)
        return -1;
    return head + (size_t)body <= got ? (long)(head + (size_t)body) : 0;
}

/* The backlog: requests that came due while every connection was busy,
 * by their scheduled times, first in first out. */
static uint64_t *backlog;
static size_t bl_cap, bl_head, bl_len;

static void backlog_push(uint64_t sched)
{
    if (bl_len == bl_cap)
        die("the server fell too far behind this rate (backlog full): "
            "lower -r or raise -c");
    backlog[(bl_head + bl_len++) % bl_cap] = sched;
}

static struct conn **idle;
static size_t n_idle;

/* An answer has arrived in full: record it and give the connection the
 * oldest waiting request, or park it. */
static void conn_done(struct conn *c, int ep, int status, uint64_t warm_end)
{
    uint64_t t = now_ns();
    if (c->sched_ns >= warm_end) {
        hist_add(&from_sched, t - c->sched_ns);
        hist_add(&from_send, t - c->sent_ns);
        n_done++;
        if (status < 200 || status > 299)
            n_non2xx++;
    }
    c->busy = 0;
    if (bl_len) {
        uint64_t s = backlog[bl_head];
        bl_head = (bl_head + 1) % bl_cap;
        bl_len--;
        conn_send(c, ep, s);
    } else {
        idle[n_idle++] = c;
    }
}

static void conn_read(struct conn *c, int ep, uint64_t warm_end)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->buf + c->got, RBUF - c->got, 0);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0 || !c->busy) {       /* closed, or bytes unasked for */
            int was_busy = c->busy;
            conn_reset(c, ep);
            if (was_busy)
                conn_send(c, ep, c->sched_ns);
            return;
        }
        c->got += (size_t)n;
        int status = 0;
        long len = answer_len(c->buf, c->got, &status);
        if (len < 0)
            die("an answer without Content-Length, chunked, or over "
                "64 KiB: not supported");
        if (len > 0) {
            if ((size_t)len != c->got)
                die("more bytes than one answer (pipelining?)");
            conn_done(c, ep, status, warm_end);
            return;
        }
    }
}

static void usage(void)
{
    fputs("usage: bench_loadgen -r RATE -c CONNS [-d SECONDS] "
          "[-w WARMUP_S] [-p]\n"
          "       [-b BODY_FILE] [-H 'Name: value']... [-s SEED] "
          "http://127.0.0.1:PORT/PATH\n", stderr);
    exit(2);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open the body file");
    char *b = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len + 65536 > cap && !(b = realloc(b, cap = cap * 2 + 65536)))
            die("out of memory");
        size_t n = fread(b + *len, 1, cap - *len, f);
        *len += n;
        if (!n)
            break;
    }
    fclose(f);
    return b;
}

/* Requests are built once: headers, then the body. */
static void build_request(const char *host, const char *path,
                          const char *body_file, char **hdrs, int n_hdrs)
{
    size_t blen = 0;
    char *body = body_file ? slurp(body_file, &blen) : NULL;
    size_t cap = blen + 4096;
    for (int i = 0; i < n_hdrs; i++)
        cap += strlen(hdrs[i]) + 2;
    if (!(request = malloc(cap)))
        die("out of memory");
    int n = snprintf(request, cap, "%s %s HTTP/1.1\r\nHost: %s\r\n",
                     body ? "POST" : "GET", path, host);
    for (int i = 0; i < n_hdrs; i++)
        n += snprintf(request + n, cap - (size_t)n, "%s\r\n", hdrs[i]);
    if (body)
        n += snprintf(request + n, cap - (size_t)n,
                      "Content-Length: %zu\r\n", blen);
    n += snprintf(request + n, cap - (size_t)n, "\r\n");
    if (body)
        memcpy(request + n, body, blen);
    request_len = (size_t)n + blen;
    free(body);
}

int main(int argc, char **argv)
{
    double rate = 0, secs = 10, warm = 1;
    int conns = 0, poisson = 0, n_hdrs = 0;
    unsigned seed = 1;
    const char *body_file = NULL;
    char *hdrs[MAX_HDRS];
    int o;
    while ((o = getopt(argc, argv, "r:c:d:w:pb:H:s:h")) != -1) {
        switch (o) {
        case 'r': rate = strtod(optarg, NULL); break;
        case 'c': conns = (int)strtol(optarg, NULL, 10); break;
        case 'd': secs = strtod(optarg, NULL); break;
        case 'w': warm = strtod(optarg, NULL); break;
        case 'p': poisson = 1; break;
        case 'b': body_file = optarg; break;
        case 's': seed = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'H':
            if (n_hdrs == MAX_HDRS)
                die("too many -H");
            hdrs[n_hdrs++] = optarg;
            break;
        default: usage();
        }
    }
    if (optind != argc - 1 || !(rate > 0) || conns < 1 || !(secs > 0) ||
        warm < 0)
        usage();
    const char *url = argv[optind];
    char host[64];
    unsigned port;
    int off = 0;
    if (sscanf(url, "http://%63[0-9.]:%u%n", host, &port, &off) != 2 ||
        port > 65535 || (url[off] && url[off] != '/'))
        die("the URL must be http://IPV4:PORT[/PATH]");
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        die("the URL must name an IPv4 address");
    char hostport[80];
    snprintf(hostport, sizeof hostport, "%s:%u", host, port);
    build_request(hostport, url[off] ? url + off : "/", body_file, hdrs,
                  n_hdrs);
    /* Timers fire when due, not up to 50 us later. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct conn *pool = calloc((size_t)conns, sizeof *pool);
    idle = calloc((size_t)conns, sizeof *idle);
    bl_cap = (size_t)(rate * 2) + 1024;        /* two seconds behind */
    backlog = calloc(bl_cap, sizeof *backlog);
    if (ep < 0 || !pool || !idle || !backlog)
        die("out of memory");
    for (int i = 0; i < conns; i++) {
        if (conn_open(&pool[i], ep))
            die("cannot connect to the server");
        idle[n_idle++] = &pool[i];
    }
    srand48(seed);
    double gap = 1e9 / rate;
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t t0 = now_ns() + 1000000;
    uint64_t warm_end = t0 + (uint64_t)(warm * 1e9);
    uint64_t end = warm_end + (uint64_t)(secs * 1e9);
    double next = (double)t0;
    struct epoll_event evs[256];
    for (;;) {
        uint64_t t = now_ns();
        /* Every request now due goes out, or waits in the backlog. */
        while ((uint64_t)next <= t && (uint64_t)next < end) {
            if ((uint64_t)next + 1000000 < t)
                n_late++;               /* the client itself was late */
            if (n_idle)
                conn_send(idle[--n_idle], ep, (uint64_t)next);
            else
                backlog_push((uint64_t)next);
            next += poisson ? -log(1.0 - drand48()) * gap : gap;
        }
        int outstanding = conns - (int)n_idle;
        if ((uint64_t)next >= end && !outstanding && !bl_len)
            break;
        if (t > end + 2000000000u)
            die("answers still missing 2 s after the end");
        struct timespec to = {0, 0};
        if ((uint64_t)next < end) {
            uint64_t w = (uint64_t)next > t ? (uint64_t)next - t : 0;
            to.tv_sec = (time_t)(w / 1000000000u);
            to.tv_nsec = (long)(w % 1000000000u);
        } else {
            to.tv_nsec = 10000000;
        }
        int n = epoll_pwait2(ep, evs, 256, &to, NULL);
        if (n < 0 && errno != EINTR)
            die("epoll failed");
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (evs[i].events & EPOLLOUT) {
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                conn_write(c, ep);
            }
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                conn_read(c, ep, warm_end);
        }
    }
    getrusage(RUSAGE_SELF, &ru1);
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                 (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec +
                          ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    double wall = (double)(now_ns() - t0) / 1e9;
    printf("rate=%.0f%s conns=%d rps=%.0f p50=%.3fms p90=%.3fms "
           "p99=%.3fms p999=%.3fms max=%.3fms send_p50=%.3fms "
           "send_p99=%.3fms non2xx=%llu errors=%llu late=%llu "
           "client_cpu=%.2f\n",
           rate, poisson ? "(poisson)" : "", conns, (double)n_done / secs,
           hist_pct(&from_sched, 0.50), hist_pct(&from_sched, 0.90),
           hist_pct(&from_sched, 0.99), hist_pct(&from_sched, 0.999),
           (double)from_sched.max_ns / 1e6, hist_pct(&from_send, 0.50),
           hist_pct(&from_send, 0.99), (unsigned long long)n_non2xx,
           (unsigned long long)n_errors, (unsigned long long)n_late,
           cpu / wall);
    for (int i = 0; i < conns; i++)
        close(pool[i].fd);
    close(ep);
    free(pool);
    free(idle);
    free(backlog);
    free(request);
    return n_non2xx || n_errors ? 1 : 0;
}
