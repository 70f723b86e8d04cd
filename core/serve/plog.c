/*
 * serve/plog.c - the prediction log: a bounded queue filled by serving
 * threads and drained by one writer thread in batched transactions of
 * binary rows (little-endian doubles, meta/predictions.h).
 */
#include "serve/plog.h"

#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <orrery/table.h>

#include "meta/predictions.h"
#include "util/error.h"
#include "util/log.h"

#define WHO "serve"
#define BATCH_MAX 512
/* How long the writer lets a partial batch fill before writing it, when
 * the server is busy (the previous batch had LINGER_MIN records or more):
 * a transaction per few records costs the serving threads their CPU (a
 * server logging 50,000 predictions/s then commits ~100 times a second
 * instead of thousands).  A quiet server's records are written at once;
 * flushes and stops never wait. */
#define LINGER_MS  20
#define LINGER_MIN 64

/* One queued record: strings and the matrices' values in one block. */
struct entry {
    char    *request_id, *model, *version;
    int64_t  ts_ms, latency_us;
    size_t   in_rows, in_cols, out_rows, out_cols;
    double  *in, *out;
};

struct orri_plog {
    struct orr_meta *meta;
    pthread_mutex_t  lock;
    pthread_cond_t   more;      /* writer: records queued or stopping     */
    pthread_cond_t   done;      /* flushers: a batch was written          */
    struct entry   **ring;
    size_t           cap, head, n;
    int              stopping;
    int              flushing;  /* flushers waiting: write without linger */
    int              writing;   /* records popped, not yet committed      */
    struct orri_plog_stats st;
    pthread_t        thread;
};

/* The active log; its lock orders calls against orri_plog_stop. */
static pthread_rwlock_t active_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct orri_plog *active;

static char *copy_str(char **p, const char *s)
{
    size_t n = strlen(s ? s : "") + 1;
    char *d = *p;
    memcpy(d, s ? s : "", n);
    *p += n;
    return d;
}

static struct entry *entry_new(const struct orr_prediction *p)
{
    size_t nin = p->inputs->rows * p->inputs->cols;
    size_t nout = p->outputs ? p->outputs->rows * p->outputs->cols : 0;
    size_t strs = strlen(p->request_id ? p->request_id : "") +
                  strlen(p->model ? p->model : "") +
                  strlen(p->version ? p->version : "") + 3;
    size_t head = sizeof(struct entry);
    head = (head + sizeof(double) - 1) / sizeof(double) * sizeof(double);
    if (nin > SIZE_MAX / 16 || nout > SIZE_MAX / 16)
        return NULL;
    struct entry *en = malloc(head + (nin + nout) * sizeof(double) + strs);
    if (!en)
        return NULL;
    en->in = (double *)((char *)en + head);
    en->out = en->in + nin;
    char *s = (char *)(en->out + nout);
    en->request_id = copy_str(&s, p->request_id);
    en->model = copy_str(&s, p->model);
    en->version = copy_str(&s, p->version);
    en->ts_ms = p->ts_ms;
    en->latency_us = p->latency_us;
    en->in_rows = p->inputs->rows;
    en->in_cols = p->inputs->cols;
    en->out_rows = p->outputs ? p->outputs->rows : 0;
    en->out_cols = p->outputs ? p->outputs->cols : 0;
    if (nin)
        memcpy(en->in, p->inputs->data, nin * sizeof(double));
    if (nout)
        memcpy(en->out, p->outputs->data, nout * sizeof(double));
    return en;
}

static void write_batch(struct orri_plog *l, struct entry **b, size_t n)
{
    /* Binary rows (schema migration 6): the writer copies bytes, it
     * formats no number, and monitoring reads them back without parsing. */
    struct orri_prediction_row rows[BATCH_MAX] = {{0}};
    for (size_t i = 0; i < n; i++)
        rows[i] = (struct orri_prediction_row){
            .request_id = b[i]->request_id, .model = b[i]->model,
            .version = b[i]->version, .ts_ms = b[i]->ts_ms,
            .latency_us = b[i]->latency_us,
            .in = b[i]->in, .in_rows = b[i]->in_rows,
            .in_cols = b[i]->in_cols,
            .out = b[i]->out_cols ? b[i]->out : NULL,
            .out_rows = b[i]->out_rows, .out_cols = b[i]->out_cols};
    struct orr_error e = {0};
    int rc = orri_predictions_insert(l->meta, rows, n, &e);
    if (rc)
        orr_log(ORR_LOG_ERROR, WHO, "prediction log: %zu records lost: %s",
                n, e.msg);
    for (size_t i = 0; i < n; i++)
        free(b[i]);
    pthread_mutex_lock(&l->lock);
    if (rc)
        l->st.failed += n;
    else
        l->st.written += n;
    l->writing = 0;
    pthread_cond_broadcast(&l->done);
    pthread_mutex_unlock(&l->lock);
}

static void *writer(void *arg)
{
    struct orri_plog *l = arg;
    struct entry *batch[BATCH_MAX];
    size_t last = 0;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        while (!l->n && !l->stopping)
            pthread_cond_wait(&l->more, &l->lock);
        if (!l->n && l->stopping)
            break;
        if (last >= LINGER_MIN && l->n < BATCH_MAX && !l->stopping &&
            !l->flushing) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += LINGER_MS * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            int w = 0;
            while (l->n < BATCH_MAX && !l->stopping && !l->flushing &&
                   w != ETIMEDOUT)
                w = pthread_cond_timedwait(&l->more, &l->lock, &ts);
        }
        size_t n = 0;
        while (l->n && n < BATCH_MAX) {
            batch[n++] = l->ring[l->head];
            l->head = (l->head + 1) % l->cap;
            l->n--;
        }
        l->writing = 1;
        last = n;
        pthread_mutex_unlock(&l->lock);
        write_batch(l, batch, n);
        pthread_mutex_lock(&l->lock);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

int orri_plog_start(struct orr_meta *meta, size_t capacity,
                    struct orri_plog **out, struct orr_error *e)
{
    *out = NULL;
    struct orri_plog *l = calloc(1, sizeof *l);
    if (!l)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    l->meta = meta;
    l->cap = capacity ? capacity : 8192;
    l->ring = calloc(l->cap, sizeof *l->ring);
    if (!l->ring) {
        free(l);
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->more, NULL);
    pthread_cond_init(&l->done, NULL);
    int err = pthread_create(&l->thread, NULL, writer, l);
    if (err) {
        pthread_cond_destroy(&l->done);
        pthread_cond_destroy(&l->more);
        pthread_mutex_destroy(&l->lock);
        free(l->ring);
        free(l);
        return orr_fail(e, ORR_EIO, "starting the prediction log writer: "
                        "%s", strerror(err));
    }
    pthread_rwlock_wrlock(&active_lock);
    active = l;
    pthread_rwlock_unlock(&active_lock);
    *out = l;
    return ORR_OK;
}

int orri_plog_flush(struct orri_plog *l, int timeout_ms, struct orr_error *e)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    pthread_mutex_lock(&l->lock);
    uint64_t target = l->st.queued;
    l->flushing++;
    pthread_cond_signal(&l->more);
    while (l->st.written + l->st.failed < target && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&l->done, &l->lock, &ts);
    l->flushing--;
    int late = l->st.written + l->st.failed < target;
    pthread_mutex_unlock(&l->lock);
    if (late)
        return orr_fail(e, ORR_ETIMEDOUT, "the prediction log is behind");
    return ORR_OK;
}

void orri_plog_stats(struct orri_plog *l, struct orri_plog_stats *out)
{
    pthread_mutex_lock(&l->lock);
    *out = l->st;
    pthread_mutex_unlock(&l->lock);
}

void orri_plog_stop(struct orri_plog *l)
{
    if (!l)
        return;
    pthread_rwlock_wrlock(&active_lock);
    if (active == l)
        active = NULL;
    pthread_rwlock_unlock(&active_lock);
    pthread_mutex_lock(&l->lock);
    l->stopping = 1;
    pthread_cond_signal(&l->more);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->thread, NULL);
    pthread_cond_destroy(&l->done);
    pthread_cond_destroy(&l->more);
    pthread_mutex_destroy(&l->lock);
    free(l->ring);
    free(l);
}

static int push(struct orri_plog *l, const struct orr_prediction *p,
                struct orr_error *e)
{
    struct entry *en = entry_new(p);
    pthread_mutex_lock(&l->lock);
    int full = !en || l->n == l->cap;
    if (full) {
        l->st.dropped++;
    } else {
        l->ring[(l->head + l->n) % l->cap] = en;
        l->n++;
        l->st.queued++;
        /* Wake the writer when it may be idle, or to end its linger. */
        if (l->n == 1 || l->n == BATCH_MAX)
            pthread_cond_signal(&l->more);
    }
    pthread_mutex_unlock(&l->lock);
    if (!full)
        return ORR_OK;
    free(en);
    return orr_fail(e, en ? ORR_EBUSY : ORR_ENOMEM,
                    "prediction log queue full: record dropped");
}

int orri_serve_log_prediction(const struct orr_prediction *p,
                              struct orr_error *e)
{
    if (!p || p->size < offsetof(struct orr_prediction, label) ||
        !p->request_id || !p->request_id[0])
        return orr_fail(e, ORR_EINVAL, "log_prediction: bad record");
    int label = !p->inputs;
    if (label && (p->size < sizeof *p || !p->label))
        return orr_fail(e, ORR_EINVAL, "log_prediction: no inputs, no label");
    /* Read-locked across the call so the log cannot be stopped under
     * it; serving threads share it. */
    pthread_rwlock_rdlock(&active_lock);
    int rc;
    if (!active) {
        rc = orr_fail(e, ORR_EUNSUPPORTED, "no prediction log is kept here");
    } else if (!label) {
        rc = push(active, p, e);
    } else {
        /* The row may still be queued: write what is queued first, so
         * ORR_ENOTFOUND means "no such prediction yet" (the label is kept
         * anyway and joins when the prediction arrives). */
        rc = orri_plog_flush(active, 5000, e);
        if (!rc)
            rc = orri_predictions_label(active->meta, p->model,
                                        p->request_id, p->label, e);
    }
    pthread_rwlock_unlock(&active_lock);
    return rc;
}
