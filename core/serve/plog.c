/*
 * serve/plog.c - the prediction log: a bounded queue filled by serving
 * threads and drained by one writer thread, a batch a transaction, a
 * chunk of the batch's predictions a row (meta/predictions.h), their
 * payload in the writer's segment file (its scratch's).  The ids
 * it wrote are remembered (bounded) so feedback finds its prediction
 * without a per-row index.
 */
#include "serve/plog.h"

#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <orrery/table.h>

#include "meta/predictions.h"
#include "util/error.h"
#include "util/log.h"

#define WHO "serve"
/* Records a transaction.  A transaction's own pages (table and index
 * leaves, the header) cost a few pages of WAL whatever its size, but a
 * large batch is one long burst of the writer's work, and a request
 * arriving at that core meanwhile waits for it: with 2048, p99 at a
 * third of the saturating load was 1.0-1.75 ms with logging on against
 * 0.7 ms off (session 3, payloads then inline in SQLite); 128 brought it
 * to 0.71-0.85 ms.  With payloads in segment files a batch is lighter:
 * 512 cut the writer's CPU per 1-row request from 4.2 to 3.1 us and its
 * drops at saturation, p99 at half load 0.88 ms against 1.00 ms with 128
 * in the same run (tests/bench/serve/bench_p99.sh). */
#define BATCH_MAX 512
/* ... and of about this many bytes of records at most: 256 64-row
 * requests are 4 MB, held by the writer's buffers and written before
 * any of them is committed.  A batch cut by its bytes with more queued
 * is followed by the next at once, without lingering. */
#define BATCH_BYTES (4u << 20)
/* A partial batch is written no sooner than LINGER_MS after the previous
 * batch was taken: a busy server commits full batches (or one per
 * LINGER_MS), since a transaction per few records costs the serving
 * threads their CPU.  Deciding by the previous batch's size instead (as
 * before) never engaged at 30,000 requests/s: the writer kept up with
 * batches of ~40 records, ~700 commits a second, 4-7 us of CPU per
 * request.  A quiet server's first record is written at once; flushes
 * and stops never wait. */
#define LINGER_MS  20

/* One queued record: strings and the matrices' values in one block of
 * `bytes`.  Written records are kept for reuse (up to FREE_MAX): freed
 * by the writer, a serving thread's block went back to that thread's
 * arena under its lock, and the next malloc there fought for it. */
struct entry {
    struct entry *next;         /* on the free list                       */
    size_t   bytes;
    char    *request_id, *model, *version;
    int64_t  ts_ms, latency_us;
    size_t   in_rows, in_cols, out_rows, out_cols;
    double  *in, *out;
};

#define FREE_MAX 4096

/* Ids written, as 64-bit hashes of (model, request id): the writer only
 * appends them to a ring of the last RECENT_RING (a store, no lookup: a
 * hash insert per prediction cost the writer a cache miss each); a
 * lookup first indexes what was appended since the last one, in two
 * generations of half the ring's positions each, the older dropped
 * as the ring overwrites it.  A hash, not the id: a collision (odds
 * ~1e-13 at 2^21 ids) would answer 200 where 202 was due, the label
 * being kept either way. */
#define RECENT_RING (1u << 21)
/* Ids not remembered (logged by another process, or forgotten) are
 * looked up in the chunks of the newest RECENT_SCAN predictions: tens of
 * milliseconds at most. */
#define RECENT_SCAN (1 << 21)

struct idgen {
    uint64_t *slot;             /* 0: empty                               */
    size_t    cap, n;
};

struct recent {
    pthread_mutex_t lock;
    uint64_t       *ring;       /* key of written record seq at seq % cap */
    size_t          cap;        /* grows to `max` before wrapping         */
    size_t          max;        /* RECENT_RING (tests: orri_plog_test_ring)*/
    uint64_t        seq;        /* keys appended                          */
    uint64_t        indexed;    /* keys indexed into gen                  */
    uint64_t        gen_no;     /* segment (seq / (max / 2)) of gen[0]    */
    struct idgen    gen[2];     /* [0] segment gen_no, [1] the one before */
};

struct orri_plog {
    struct orr_meta *meta;
    struct recent    ids;
    /* The writer's: a batch, its rows, their id keys, chunk buffers. */
    struct entry   **batch;
    struct orri_prediction_row *rows;
    uint64_t        *keys;
    struct orri_pred_scratch *scratch;
    pthread_mutex_t  lock;
    pthread_cond_t   more;      /* writer: records queued or stopping     */
    pthread_cond_t   done;      /* flushers: a batch was written          */
    struct entry    *free;      /* written records kept for reuse         */
    size_t           n_free;
    struct entry   **ring;
    size_t           cap, head, n;
    size_t           filling;   /* slots reserved by pushes copying now   */
    int              stopping;
    int              flushing;  /* flushers waiting: write without linger */
    int              writing;   /* records popped, not yet committed      */
    struct orri_plog_stats st;
    pthread_t        thread;
};

int orri_plog_test_ring;

/* The active log; its lock orders calls against orri_plog_stop. */
static pthread_rwlock_t active_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct orri_plog *active;

static uint64_t id_key(const char *model, const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *s = model ? model : ""; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h = (h ^ 0xffu) * 1099511628211ull;
    for (const char *s = id; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h ^= h >> 33;               /* spread the low bits used as a slot     */
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h ? h : 1;
}

static int gen_has(const struct idgen *g, uint64_t k)
{
    if (!g->n)
        return 0;
    for (size_t i = k & (g->cap - 1); g->slot[i]; i = (i + 1) & (g->cap - 1))
        if (g->slot[i] == k)
            return 1;
    return 0;
}

static void gen_clear(struct idgen *g)
{
    free(g->slot);
    memset(g, 0, sizeof *g);
}

static int gen_add(struct idgen *g, uint64_t k)
{
    if ((g->n + 1) * 2 > g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 1024;
        uint64_t *s = calloc(cap, sizeof *s);
        if (!s)
            return ORR_ENOMEM;
        for (size_t i = 0; i < g->cap; i++) {
            if (!g->slot[i])
                continue;
            size_t j = g->slot[i] & (cap - 1);
            while (s[j])
                j = (j + 1) & (cap - 1);
            s[j] = g->slot[i];
        }
        free(g->slot);
        g->slot = s;
        g->cap = cap;
    }
    size_t i = k & (g->cap - 1);
    while (g->slot[i] && g->slot[i] != k)
        i = (i + 1) & (g->cap - 1);
    if (!g->slot[i])
        g->n++;
    g->slot[i] = k;
    return ORR_OK;
}

/* Append (lock held); on no memory the id is just not remembered. */
static void recent_add(struct recent *r, uint64_t k)
{
    if (r->seq == r->cap && r->cap < r->max) {
        size_t cap = r->cap ? r->cap * 2 : 4096;
        if (cap > r->max)
            cap = r->max;
        uint64_t *p = realloc(r->ring, cap * sizeof *p);
        if (!p)
            return;
        r->ring = p;
        r->cap = cap;
    }
    if (!r->cap)
        return;
    r->ring[r->seq % r->cap] = k;
    r->seq++;
}

/* Index what was appended since the last lookup (lock held). */
static void recent_index(struct recent *r)
{
    uint64_t first = r->seq > r->cap ? r->seq - r->cap : 0;
    if (r->indexed < first)
        r->indexed = first;
    for (; r->indexed < r->seq; r->indexed++) {
        uint64_t no = r->indexed / (r->max / 2);
        if (no != r->gen_no) {
            gen_clear(&r->gen[1]);
            if (no == r->gen_no + 1)
                r->gen[1] = r->gen[0];
            else
                gen_clear(&r->gen[0]);
            memset(&r->gen[0], 0, sizeof r->gen[0]);
            r->gen_no = no;
        }
        if (gen_add(&r->gen[0], r->ring[r->indexed % r->cap]))
            return;             /* no memory: indexed again next time */
    }
}

static int recent_has(struct recent *r, const char *model, const char *id)
{
    uint64_t k = id_key(model, id);
    pthread_mutex_lock(&r->lock);
    recent_index(r);
    int has = gen_has(&r->gen[0], k) || gen_has(&r->gen[1], k);
    pthread_mutex_unlock(&r->lock);
    return has;
}

static char *copy_str(char **p, const char *s)
{
    size_t n = strlen(s ? s : "") + 1;
    char *d = *p;
    memcpy(d, s ? s : "", n);
    *p += n;
    return d;
}

static size_t entry_head(void)
{
    size_t head = sizeof(struct entry);
    return (head + sizeof(double) - 1) / sizeof(double) * sizeof(double);
}

/* Bytes of the record of `p`, 0 when too large. */
static size_t entry_bytes(const struct orr_prediction *p)
{
    size_t nin = p->inputs->rows * p->inputs->cols;
    size_t nout = p->outputs ? p->outputs->rows * p->outputs->cols : 0;
    size_t strs = strlen(p->request_id ? p->request_id : "") +
                  strlen(p->model ? p->model : "") +
                  strlen(p->version ? p->version : "") + 3;
    if (nin > SIZE_MAX / 16 || nout > SIZE_MAX / 16 ||
        strs > SIZE_MAX / 4)
        return 0;
    return entry_head() + (nin + nout) * sizeof(double) + strs;
}

/* Copy `p` into `en` (of entry_bytes(p) bytes or more). */
static void entry_fill(struct entry *en, const struct orr_prediction *p)
{
    size_t nin = p->inputs->rows * p->inputs->cols;
    size_t nout = p->outputs ? p->outputs->rows * p->outputs->cols : 0;
    en->next = NULL;
    en->in = (double *)((char *)en + entry_head());
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
}

/* Keep written records for reuse, free the rest (lock held). */
static void recycle(struct orri_plog *l, struct entry **b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (l->n_free < FREE_MAX) {
            b[i]->next = l->free;
            l->free = b[i];
            l->n_free++;
        } else {
            free(b[i]);
        }
    }
}

static void write_batch(struct orri_plog *l, struct entry **b, size_t n)
{
    /* Binary rows (schema migration 6): the writer copies bytes, it
     * formats no number, and monitoring reads them back without parsing. */
    struct orri_prediction_row *rows = l->rows;
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
    int rc = orri_predictions_write(l->meta, rows, n, &l->scratch, &e);
    if (rc)
        orr_log(ORR_LOG_ERROR, WHO, "prediction log: %zu records lost: %s",
                n, e.msg);
    const char *se = orri_pred_scratch_seg_error(l->scratch);
    if (se)
        orr_log(ORR_LOG_WARN, WHO, "prediction log: %s; logging into the "
                "store instead (slower) until it can", se);
    uint64_t *keys = l->keys;
    for (size_t i = 0; i < n; i++)
        keys[i] = id_key(b[i]->model, b[i]->request_id);
    if (!rc) {
        /* Before `written` counts them: a flush then sees them here. */
        pthread_mutex_lock(&l->ids.lock);
        for (size_t i = 0; i < n; i++)
            recent_add(&l->ids, keys[i]);
        pthread_mutex_unlock(&l->ids.lock);
    }
    pthread_mutex_lock(&l->lock);
    recycle(l, b, n);
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
    struct entry **batch = l->batch;
#ifdef __linux__
    /* Named for top and perf, and for the benchmark that reads its CPU
     * time apart from the serving threads'. */
    prctl(PR_SET_NAME, "orrery-plog", 0, 0, 0);
    /* Behind the serving threads when they want the CPU: a batch is a
     * burst of work, and a request arriving during it waits for it (see
     * BATCH_MAX; nice 5 took p99 from 0.78-0.85 to 0.71-0.79 ms there).
     * Nice is per thread on Linux; the writer still gets its share (a
     * third of a serving thread's weight), so a busy server's log keeps
     * up.  Best effort: refused, the writer runs as before. */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 5);
#endif
    struct timespec prev = {0, 0};  /* when the previous batch was taken */
    int due = 1;                    /* the next batch may go at once       */
    pthread_mutex_lock(&l->lock);
    for (;;) {
        while (!l->n && !l->stopping)
            pthread_cond_wait(&l->more, &l->lock);
        if (!l->n && l->stopping)
            break;
        if (!due) {
            struct timespec ts = prev;
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
        clock_gettime(CLOCK_REALTIME, &prev);
        size_t n = 0, bytes = 0;
        while (l->n && n < BATCH_MAX && bytes < BATCH_BYTES) {
            bytes += l->ring[l->head]->bytes;
            batch[n++] = l->ring[l->head];
            l->head = (l->head + 1) % l->cap;
            l->n--;
        }
        l->writing = 1;
        /* Cut by its bytes with more queued: the next batch is due now. */
        due = l->n && n < BATCH_MAX;
        pthread_mutex_unlock(&l->lock);
        write_batch(l, batch, n);
        pthread_mutex_lock(&l->lock);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

/* Free a log's memory (its thread and locks are gone). */
static void free_log(struct orri_plog *l)
{
    while (l->free) {
        struct entry *en = l->free;
        l->free = en->next;
        free(en);
    }
    free(l->ids.gen[0].slot);
    free(l->ids.gen[1].slot);
    free(l->ids.ring);
    orri_pred_scratch_free(l->scratch);
    free(l->keys);
    free(l->rows);
    free(l->batch);
    free(l->ring);
    free(l);
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
    l->ids.max = orri_plog_test_ring >= 2 ? (size_t)orri_plog_test_ring
                                          : RECENT_RING;
    l->ring = calloc(l->cap, sizeof *l->ring);
    l->batch = calloc(BATCH_MAX, sizeof *l->batch);
    l->rows = calloc(BATCH_MAX, sizeof *l->rows);
    l->keys = calloc(BATCH_MAX, sizeof *l->keys);
    if (!l->ring || !l->batch || !l->rows || !l->keys) {
        free_log(l);
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&l->lock, NULL);
    pthread_mutex_init(&l->ids.lock, NULL);
    pthread_cond_init(&l->more, NULL);
    pthread_cond_init(&l->done, NULL);
    int err = pthread_create(&l->thread, NULL, writer, l);
    if (err) {
        pthread_mutex_destroy(&l->ids.lock);
        pthread_cond_destroy(&l->done);
        pthread_cond_destroy(&l->more);
        pthread_mutex_destroy(&l->lock);
        free_log(l);
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
    pthread_mutex_destroy(&l->ids.lock);
    pthread_cond_destroy(&l->done);
    pthread_cond_destroy(&l->more);
    pthread_mutex_destroy(&l->lock);
    free_log(l);
}

static int push(struct orri_plog *l, const struct orr_prediction *p,
                struct orr_error *e)
{
    size_t need = entry_bytes(p);
    struct entry *en = NULL;
    /* A slot reserved and a spare record taken under the lock; the copy
     * (15 KB for a 64-row request) made outside it, so serving threads
     * never wait for each other's copies; the record queued under the
     * lock again.  Reserved slots count as taken: the ring never
     * overflows. */
    pthread_mutex_lock(&l->lock);
    int full = l->n + l->filling >= l->cap;
    if (full) {
        l->st.dropped++;
    } else {
        l->filling++;
        if (need && l->free && l->free->bytes >= need) {
            en = l->free;
            l->free = en->next;
            l->n_free--;
        }
    }
    pthread_mutex_unlock(&l->lock);
    if (full)
        return orr_fail(e, ORR_EBUSY,
                        "prediction log queue full: record dropped");
    if (!en && need) {
        en = malloc(need < 512 ? 512 : need);
        if (en)
            en->bytes = need < 512 ? 512 : need;
    }
    if (en)
        entry_fill(en, p);
    pthread_mutex_lock(&l->lock);
    l->filling--;
    if (!en) {
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
    if (en)
        return ORR_OK;
    return orr_fail(e, ORR_ENOMEM,
                    "prediction log: out of memory, record dropped");
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
        /* An id this log wrote needs no lookup; others are looked up in
         * the legacy rows and the newest chunks: older ones answer
         * "pending" though their label joins all the same. */
        if (!rc && p->model && p->model[0] &&
            recent_has(&active->ids, p->model, p->request_id)) {
            struct orri_label_row r = {p->request_id, p->model, p->label};
            rc = orri_labels_put(active->meta, &r, 1, NULL, e);
        } else if (!rc) {
            rc = orri_predictions_label_recent(
                active->meta, p->model, p->request_id, p->label,
                RECENT_SCAN, e);
        }
    }
    pthread_rwlock_unlock(&active_lock);
    return rc;
}
