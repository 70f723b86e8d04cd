/*
 * alog.c - the access log's buffer and writer thread (see alog.h).
 */
#include "alog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ALOG_CAP ((size_t)4 << 20)  /* bytes per buffer: ~15k lines      */
#define ALOG_PERIOD_NS 100000000L   /* flush at least this often         */

struct alog {
    int             fd, own_fd;
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    char           *buf[2];
    int             cur;            /* buffer the serving threads fill   */
    size_t          len;
    int             stop;
    pthread_t       th;
    atomic_ullong   dropped;
};

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;             /* a full disk loses the log, not requests */
        p += w;
        n -= (size_t)w;
    }
}

static void *writer(void *arg)
{
    struct alog *a = arg;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        if (!a->len && !a->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += ALOG_PERIOD_NS;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&a->cv, &a->mu, &ts);
        }
        if (!a->len) {
            if (a->stop)
                break;
            continue;
        }
        char *full = a->buf[a->cur];
        size_t n = a->len;
        a->cur ^= 1;
        a->len = 0;
        pthread_mutex_unlock(&a->mu);
        write_all(a->fd, full, n);
        pthread_mutex_lock(&a->mu);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

struct alog *alog_open(const char *path, char *err, size_t cap)
{
    struct alog *a = calloc(1, sizeof *a);
    pthread_condattr_t ca;
    int ca_ok = 0, mu_ok = 0, cv_ok = 0;
    if (!a)
        goto oom;
    a->fd = -1;
    a->buf[0] = malloc(ALOG_CAP);
    a->buf[1] = malloc(ALOG_CAP);
    if (!a->buf[0] || !a->buf[1])
        goto oom;
    if (!strcmp(path, "-")) {
        a->fd = STDOUT_FILENO;
    } else {
        a->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (a->fd < 0) {
            snprintf(err, cap, "cannot open the access log '%s': %s", path,
                     strerror(errno));
            goto fail;
        }
        a->own_fd = 1;
    }
    if (pthread_condattr_init(&ca))
        goto oom;
    ca_ok = 1;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&a->mu, NULL))
        goto oom;
    mu_ok = 1;
    if (pthread_cond_init(&a->cv, &ca))
        goto oom;
    cv_ok = 1;
    pthread_condattr_destroy(&ca);
    ca_ok = 0;
    if (pthread_create(&a->th, NULL, writer, a))
        goto oom;
    return a;
oom:
    snprintf(err, cap, "access log: out of memory or threads");
fail:
    if (ca_ok)
        pthread_condattr_destroy(&ca);
    if (cv_ok)
        pthread_cond_destroy(&a->cv);
    if (mu_ok)
        pthread_mutex_destroy(&a->mu);
    if (a) {
        if (a->own_fd)
            close(a->fd);
        free(a->buf[0]);
        free(a->buf[1]);
        free(a);
    }
    return NULL;
}

void alog_write(struct alog *a, const char *line, size_t n)
{
    pthread_mutex_lock(&a->mu);
    if (a->len + n > ALOG_CAP) {
        pthread_mutex_unlock(&a->mu);
        atomic_fetch_add(&a->dropped, 1);
        return;
    }
    memcpy(a->buf[a->cur] + a->len, line, n);
    a->len += n;
    /* Wake the writer once per crossing of half the buffer. */
    int wake = a->len >= ALOG_CAP / 2 && a->len - n < ALOG_CAP / 2;
    pthread_mutex_unlock(&a->mu);
    if (wake)
        pthread_cond_signal(&a->cv);
}

unsigned long long alog_dropped(struct alog *a)
{
    return a ? atomic_load(&a->dropped) : 0;
}

void alog_close(struct alog *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = 1;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->th, NULL);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    if (a->own_fd)
        close(a->fd);
    free(a->buf[0]);
    free(a->buf[1]);
    free(a);
}
