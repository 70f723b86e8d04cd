/*
 * bench_window_logcost.c - the CPU a logged prediction costs, serving
 * threads and writer thread together, without a server around it:
 *   bench_window_logcost DB [N]
 * queues N (default 1,000,000) one-row, 30-feature predictions through
 * the host's log_prediction from 2 threads into a fresh store (ROWS in
 * the environment: predictions of that many rows instead; the log
 * writer running as in `orrery serve`, a queue of 65,536 as in
 * bench_window_plog.sh; a refused record is retried after 0.1 ms and
 * counted as "dropped"), waits until all are written and
 * prints the process CPU time per record (and the serving threads' share:
 * the rest is the writer's), the wall time and the counters.  Divided by
 * a server's CPU per request, it bounds the throughput lost to logging
 * on a CPU-bound machine.  The request ids are formatted before the
 * clock starts: a server has its ids already.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include <orrery/table.h>

#include "meta/meta.h"
#include "serve/plog.h"

static long n_per;
static size_t n_rows = 1;
static char (*ids)[40];
static double prod_cpu[2];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *producer(void *arg)
{
    long t = (long)(intptr_t)arg;
    double *x = malloc(n_rows * 30 * sizeof *x);
    double *y = malloc(n_rows * sizeof *y);
    if (!x || !y)
        exit(1);
    for (size_t c = 0; c < 30 * n_rows; c++)
        x[c] = (double)c * 1.5 + (double)t;
    for (size_t r = 0; r < n_rows; r++)
        y[r] = 0.25;
    struct orr_matrix xi = {n_rows, 30, x, 30}, yo = {n_rows, 1, y, 1};
    double c0 = thread_cpu_s();
    for (long i = 0; i < n_per; i++) {
        struct orr_prediction p = {
            .size = sizeof p, .request_id = ids[t * n_per + i],
            .model = "cancer",
            .version = "1", .ts_ms = 1700000000000LL + i, .latency_us = 9,
            .inputs = &xi, .outputs = &yo};
        struct orr_error e = {0};
        while (orri_serve_log_prediction(&p, &e) == ORR_EBUSY) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);   /* the queue is full: let it drain */
        }
    }
    prod_cpu[t] = thread_cpu_s() - c0;
    free(x);
    free(y);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_window_logcost DB [N]\n");
        return 2;
    }
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 1000000;
    if (getenv("ROWS") && strtol(getenv("ROWS"), NULL, 10) > 0)
        n_rows = (size_t)strtol(getenv("ROWS"), NULL, 10);
    n_per = n / 2;
    ids = malloc((size_t)(2 * n_per + 1) * sizeof *ids);
    if (!ids)
        return 1;
    for (long i = 0; i < 2 * n_per; i++)
        snprintf(ids[i], sizeof ids[i], "%016lx-%ld",
                 (unsigned long)(i / n_per), i % n_per);
    struct orr_error e = {0};
    struct orr_meta *m = NULL;
    struct orri_plog *l = NULL;
    if (orr_meta_open(&m, argv[1], &e) ||
        orri_plog_start(m, 65536, &l, &e)) {
        fprintf(stderr, "bench_window_logcost: %s\n", e.msg);
        return 1;
    }
    double c0 = cpu_s(), t0 = now_s();
    pthread_t th[2];
    for (long t = 0; t < 2; t++)
        pthread_create(&th[t], NULL, producer, (void *)(intptr_t)t);
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
    if (orri_plog_flush(l, 600000, &e))
        fprintf(stderr, "bench_window_logcost: %s\n", e.msg);
    double c1 = cpu_s(), t1 = now_s();
    struct orri_plog_stats s;
    orri_plog_stats(l, &s);
    printf("%ld records: %.2f us CPU per record, of which serving threads"
           " %.2f (%.2f s CPU, %.2f s wall); written %llu, dropped %llu,"
           " failed %llu\n", 2 * n_per,
           (c1 - c0) / (double)(2 * n_per) * 1e6,
           (prod_cpu[0] + prod_cpu[1]) / (double)(2 * n_per) * 1e6,
           c1 - c0, t1 - t0,
           (unsigned long long)s.written, (unsigned long long)s.dropped,
           (unsigned long long)s.failed);
    orri_plog_stop(l);
    orr_meta_close(m);
    free(ids);
    return 0;
}
