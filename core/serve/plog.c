/*
 * serve/plog.c - the prediction log: a lane per serving thread
 * (serve/plog_lane.h: appended without a lock, bounded, full means
 * dropped and counted), drained by one writer thread a batch a
 * transaction.  Each lane's payload goes to the lane's own segment file
 * straight from its ring (meta/psegment.h, stream files), the batch's
 * chunks (layout 1: record by record) and the rows a chunk cannot hold
 * to the store (meta/predictions.h, orri_predictions_commit).
 *
 * Why lanes: with one queue under one lock, each record cost the
 * serving thread two lock round trips and a reader lock on cache lines
 * the other serving threads and the writer kept taking away, a malloc'd
 * or recycled record whose lines the writer's core held, and the
 * writer copied and hashed every payload once more on its way to the
 * file (cold, from the other core's cache): 14 us of CPU per 64-row
 * request (writer 9.6, serving side 4.4) against 66 for the request.
 */
#include "serve/plog.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <orrery/table.h>

#include "meta/checkpointer.h"
#include "meta/meta_internal.h"
#include "meta/predictions.h"
#include "meta/psegment.h"
#include "serve/plog_ids.h"
#include "serve/plog_lane.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/log.h"

#define WHO "serve"
/* Records a transaction.  A transaction's own pages cost a few pages of
 * WAL whatever its size, but a large batch is one long burst of the
 * writer's work, and a request arriving at that core meanwhile waits
 * for it: 512 kept p99 at half load at 0.88 ms (tests/bench/serve/
 * bench_p99.sh) where 2048 took it past 1 ms in session 3. */
#define BATCH_MAX 512
/* ... and of about this many payload bytes: 256 64-row requests. */
#define BATCH_BYTES (4u << 20)
/* A partial batch is written no sooner than LINGER_MS after the previous
 * batch was taken: a busy server commits full batches (or one per
 * LINGER_MS), since a transaction per few records costs CPU the serving
 * threads want.  A record after a quiet spell (LINGER_MS or more since
 * the previous batch) is written at once (the writer was idle: the
 * serving thread wakes it); flushes and stops never wait. */
#define LINGER_MS  20
/* An idle writer looks at the lanes this often even when no one wakes it:
 * a serving thread wakes it only when it sees it idle, and looks without
 * a fence (see push), so it may miss the moment the writer went idle;
 * such a record then waits at most this long. */
#define IDLE_POLL_MS 100
/* Chunks hold at most this many predictions (a window by count reads
 * whole chunks). */
#define CHUNK_MAX 1024
/* Threads logging at once; a thread beyond gets its records dropped and
 * counted.  A lane is given back when its thread exits. */
#define LANES_MAX 64
/* A lane's payload ring: 16 MiB (mapped, backed as first used) hold
 * about 1,000 64-row requests, 60 ms of them at the saturating rate
 * here, three times the writer's linger. */
#define LANE_BYTES ((size_t)16 << 20)
/* Ids remembered, and scanned in the store when not remembered. */
#define RECENT_RING (1u << 21)
#define RECENT_SCAN (1 << 21)

int    orri_plog_test_ring;
size_t orri_plog_test_lane_bytes;

/* A lane's part of a batch: slots [t, t + k), stream [from, to), which
 * is at `off` of segment `seg` (NULL: not written there). */
struct taken {
    struct orri_plog_lane *ln;
    uint64_t    t, k, from, to;
    const char *seg;
    int64_t     off;
};

/* A chunk of a batch: k predictions from slot i0 of taken[tk]; its small
 * columns at offsets of the batch's column buffer. */
struct cdesc {
    size_t   tk, i0, n;
    size_t   ids, ids_len, cols;
    int64_t  tmin, tmax, off, bytes;
    uint64_t check;
};

struct orri_plog {
    struct orr_meta *meta;
    uint64_t         gen;       /* unique per log of the process          */
    size_t           n_slots, ring_size;
    struct orri_plog_ids ids;
    /* Checkpoints the store's WAL on a thread of its own, so that the
     * writer never waits for a checkpoint's fsync. */
    struct orri_checkpointer *ckpt;

    struct orri_plog_lane *lanes[LANES_MAX];
    _Atomic size_t   n_lanes;   /* appended under `lock`                  */
    _Atomic uint64_t dropped_nolane;
    _Atomic int      idle;      /* the writer sleeps until woken or
                                 * IDLE_POLL_MS                           */

    pthread_mutex_t  lock;
    pthread_cond_t   more;      /* writer: woken, flushing or stopping    */
    pthread_cond_t   done;      /* flushers: a batch was written          */
    int              stopping, flushing, poked;
    uint64_t         written, failed;
    pthread_t        thread;

    /* The writer's own. */
    struct taken     taken[LANES_MAX];
    struct cdesc    *cd;
    struct orri_chunk_row      *chunks;
    struct orri_prediction_row *rows;     /* legacy rows of a batch       */
    struct orri_prediction_row *fb;       /* rows of lanes not in a file  */
    void           **copies;              /* payloads the ring wrapped    */
    size_t           n_copies;
    uint64_t        *keys;
    struct orr_buf   cols;      /* the chunks' small columns          */
    int              cols_oom;
    struct orri_pred_scratch *scratch, *fallback;
    size_t           rr;                  /* lane to start the next batch */
    int              dir_known, has_dir, seg_failing;
    char             dir[4096];
};

/* The active log.  The slow path (a thread's first record for this log,
 * labels, start and stop) holds active_lock; the fast path reads
 * active_gen and marks its thread busy (tl.busy), which stop waits on:
 * a reader lock per request was a cache line both serving threads kept
 * taking from each other. */
static pthread_rwlock_t active_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct orri_plog *active;
static _Atomic uint64_t active_gen;
static _Atomic uint64_t gens;

/* This thread's lane of the log of generation `gen`. */
static _Thread_local struct {
    uint64_t               gen;
    struct orri_plog      *log;
    struct orri_plog_lane *lane;
    _Atomic int            busy;
} tl;

static pthread_key_t  exit_key;
static int            exit_key_ok;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

/* At a thread's exit: give its lane back, for a thread started later. */
static void thread_exit(void *unused)
{
    (void)unused;
    pthread_rwlock_rdlock(&active_lock);
    if (active && active->gen == tl.gen && tl.lane) {
        atomic_store(&tl.lane->busy, NULL);
        atomic_store_explicit(&tl.lane->owned, 0, memory_order_release);
    }
    pthread_rwlock_unlock(&active_lock);
    tl.gen = 0;
    tl.log = NULL;
    tl.lane = NULL;
}

static void exit_key_init(void)
{
    exit_key_ok = pthread_key_create(&exit_key, thread_exit) == 0;
}

/* Append to the batch's column buffer; a failure sticks until reset. */
static void col_put(struct orri_plog *l, const void *src, size_t n)
{
    if (!l->cols_oom && orri_buf_append(&l->cols, src, n))
        l->cols_oom = 1;
}

static void col_i64(struct orri_plog *l, int64_t v)
{
    unsigned char le[8];
    orri_i64_to_le(le, v);
    col_put(l, le, 8);
}

#define SLOT(ln, i) (&(ln)->slots[(i) % (ln)->n_slots])

/* Records the lanes hold, and with `bytes` their payload bytes
 * (published slots are stable). */
static uint64_t pending(struct orri_plog *l, uint64_t *bytes)
{
    size_t nl = atomic_load_explicit(&l->n_lanes, memory_order_acquire);
    uint64_t n = 0, nb = 0;
    for (size_t i = 0; i < nl; i++) {
        struct orri_plog_lane *ln = l->lanes[i];
        uint64_t h = atomic_load_explicit(&ln->slot_head,
                                          memory_order_acquire);
        uint64_t t = atomic_load_explicit(&ln->slot_tail,
                                          memory_order_relaxed);
        n += h - t;
        if (bytes && t < h) {
            const struct orri_plog_slot *first = SLOT(ln, t);
            const struct orri_plog_slot *last = SLOT(ln, h - 1);
            nb += last->pos + last->bytes - first->pos;
        }
    }
    if (bytes)
        *bytes = nb;
    return n;
}

static void wake(struct orri_plog *l)
{
    pthread_mutex_lock(&l->lock);
    l->poked = 1;
    pthread_cond_signal(&l->more);
    pthread_mutex_unlock(&l->lock);
}

static int chunkable(const struct orri_plog_slot *s)
{
    return s->in_rows && s->in_cols &&
           (!s->out_cols || s->out_rows == s->in_rows);
}

static int same_chunk(const struct orri_plog_slot *a,
                      const struct orri_plog_slot *b)
{
    const char *sa = orri_plog_slot_str(a), *sb = orri_plog_slot_str(b);
    return a->in_cols == b->in_cols && a->out_cols == b->out_cols &&
           !strcmp(sa + a->model_at, sb + b->model_at) &&
           !strcmp(sa + a->version_at, sb + b->version_at);
}

/* A row of `predictions` for slot `s`: its payload in place, or copied
 * out when the ring wraps it (the copy freed after the batch). */
static int legacy_row(struct orri_plog *l, const struct orri_plog_lane *ln,
                      const struct orri_plog_slot *s,
                      struct orri_prediction_row *r)
{
    const double *in = orri_plog_lane_payload_at(ln, s);
    if (!in) {
        void *c = malloc(s->bytes);
        if (!c)
            return -1;
        orri_plog_lane_payload(ln, s, c);
        l->copies[l->n_copies++] = c;
        in = c;
    }
    const char *str = orri_plog_slot_str(s);
    size_t nin = (size_t)s->in_rows * s->in_cols;
    *r = (struct orri_prediction_row){
        .request_id = str, .model = str + s->model_at,
        .version = str + s->version_at, .ts_ms = s->ts_ms,
        .latency_us = s->latency_us, .in = in, .in_rows = s->in_rows,
        .in_cols = s->in_cols,
        .out = s->out_cols ? in + nin : NULL,
        .out_rows = s->out_rows, .out_cols = s->out_cols};
    return 0;
}

/* Take what the lanes hold, up to a batch, round robin from l->rr. */
static size_t take(struct orri_plog *l)
{
    size_t nl = atomic_load_explicit(&l->n_lanes, memory_order_acquire);
    size_t budget = BATCH_MAX, bytes = 0, nt = 0;
    for (size_t j = 0; j < nl && budget && bytes < BATCH_BYTES; j++) {
        struct orri_plog_lane *ln = l->lanes[(l->rr + j) % nl];
        if (!ln->populated)
            orri_plog_lane_populate(ln);
        uint64_t t = atomic_load_explicit(&ln->slot_tail,
                                          memory_order_relaxed);
        uint64_t h = atomic_load_explicit(&ln->slot_head,
                                          memory_order_acquire);
        uint64_t k = h - t < budget ? h - t : budget;
        if (!k)
            continue;
        /* A lane's payloads are consecutive in its stream: the range's
         * bytes come from its first and last slot, and a range past the
         * batch's bytes is cut by bisection.  Reading every slot here
         * was half the writer's own time, each a line from the serving
         * core (perf). */
        uint64_t from = SLOT(ln, t)->pos, room = BATCH_BYTES - bytes;
        const struct orri_plog_slot *last = SLOT(ln, t + k - 1);
        if (last->pos - from >= room) {
            uint64_t lo = 1, hi = k;    /* [lo, hi): the first slot past */
            while (lo < hi) {
                uint64_t mid = lo + (hi - lo) / 2;
                if (SLOT(ln, t + mid)->pos - from >= room)
                    hi = mid;
                else
                    lo = mid + 1;
            }
            k = lo;
            last = SLOT(ln, t + k - 1);
        }
        uint64_t to = last->pos + last->bytes;
        budget -= k;
        bytes += to - from;
        l->taken[nt++] = (struct taken){
            .ln = ln, .t = t, .k = k, .from = from, .to = to};
    }
    l->rr++;
    return nt;
}

/* Mirror each lane's stream range into its segment file. */
static void write_segments(struct orri_plog *l, size_t nt)
{
    if (!l->dir_known) {
        pthread_mutex_lock(&l->meta->lock);
        l->has_dir = orri_pseg_dir(l->meta->db, l->dir, sizeof l->dir);
        pthread_mutex_unlock(&l->meta->lock);
        l->dir_known = 1;
    }
    for (size_t i = 0; l->has_dir && i < nt; i++) {
        struct taken *tk = &l->taken[i];
        struct orri_plog_lane *ln = tk->ln;
        struct orr_error se = {0};
        int rc = ln->seg ? ORR_OK : orri_pseg_writer_new(l->dir, &ln->seg,
                                                         &se);
        if (!rc)
            rc = orri_pseg_stream_write(ln->seg, ln->ring, ln->ring_size,
                                        tk->from, tk->to, &tk->seg,
                                        &tk->off, &se);
        if (rc) {
            tk->seg = NULL;
            if (!l->seg_failing)
                orr_log(ORR_LOG_WARN, WHO, "prediction log: %s; logging "
                        "into the store instead (slower) until it can",
                        se.msg);
            l->seg_failing = 1;
        } else {
            l->seg_failing = 0;
        }
    }
}

/* Lay out the chunks of the lanes written to a file (their runs of
 * predictions of one model, version and shape), the legacy rows of
 * what a chunk cannot hold, and the fallback rows of lanes not written
 * to a file.  -1 on no memory. */
static int lay_out(struct orri_plog *l, size_t nt, size_t *nc, size_t *nr,
                   size_t *nfb)
{
    *nc = *nr = *nfb = 0;
    for (size_t i = 0; i < nt; i++) {
        struct taken *tk = &l->taken[i];
        struct cdesc *c = NULL;
        for (size_t j = 0; j < tk->k; j++) {
            const struct orri_plog_slot *s = SLOT(tk->ln, tk->t + j);
            if (!tk->seg) {
                if (legacy_row(l, tk->ln, s, &l->fb[(*nfb)++]))
                    return -1;
                continue;
            }
            if (!chunkable(s)) {
                if (legacy_row(l, tk->ln, s, &l->rows[(*nr)++]))
                    return -1;
                c = NULL;           /* its bytes break the run */
                continue;
            }
            if (c && c->n < CHUNK_MAX &&
                same_chunk(SLOT(tk->ln, tk->t + c->i0), s)) {
                c->n++;
            } else {
                c = &l->cd[(*nc)++];
                *c = (struct cdesc){
                    .tk = i, .i0 = j, .n = 1, .tmin = s->ts_ms,
                    .tmax = s->ts_ms,
                    .off = tk->off + (int64_t)(s->pos - tk->from)};
            }
            c->bytes += s->bytes;
            c->tmin = s->ts_ms < c->tmin ? s->ts_ms : c->tmin;
            c->tmax = s->ts_ms > c->tmax ? s->ts_ms : c->tmax;
        }
    }
    /* The small columns, then the rows pointing at them (the buffer has
     * stopped moving). */
    orri_buf_reset(&l->cols);
    l->cols_oom = 0;
    for (size_t i = 0; i < *nc; i++) {
        struct cdesc *c = &l->cd[i];
        const struct taken *tk = &l->taken[c->tk];
        struct orri_pseg_hash h;
        orri_pseg_hash_init(&h);
        c->ids = l->cols.len;
        for (size_t j = c->i0; j < c->i0 + c->n; j++) {
            const struct orri_plog_slot *s = SLOT(tk->ln, tk->t + j);
            const char *id = orri_plog_slot_str(s);
            col_put(l, id, strlen(id) + 1);
            orri_pseg_fold(&h, s->check);
        }
        c->ids_len = l->cols.len - c->ids;
        c->check = orri_pseg_hash_final(&h);
        c->cols = l->cols.len;
        for (size_t j = c->i0; j < c->i0 + c->n; j++)
            col_i64(l, SLOT(tk->ln, tk->t + j)->ts_ms);
        for (size_t j = c->i0; j < c->i0 + c->n; j++)
            col_i64(l, SLOT(tk->ln, tk->t + j)->latency_us);
        for (size_t j = c->i0; j < c->i0 + c->n; j++)
            col_i64(l, SLOT(tk->ln, tk->t + j)->in_rows);
    }
    if (l->cols_oom)
        return -1;
    for (size_t i = 0; i < *nc; i++) {
        const struct cdesc *c = &l->cd[i];
        const struct taken *tk = &l->taken[c->tk];
        const struct orri_plog_slot *s0 = SLOT(tk->ln, tk->t + c->i0);
        const char *str = orri_plog_slot_str(s0);
        const unsigned char *p = (const unsigned char *)l->cols.data;
        l->chunks[i] = (struct orri_chunk_row){
            .model = str + s0->model_at, .version = str + s0->version_at,
            .n = c->n, .ts_min = c->tmin, .ts_max = c->tmax,
            .in_cols = s0->in_cols, .out_cols = s0->out_cols,
            .ids = p + c->ids, .ids_len = c->ids_len,
            .ts = p + c->cols, .latency = p + c->cols + 8 * c->n,
            .rows = p + c->cols + 16 * c->n, .segment = tk->seg,
            .seg_offset = c->off, .seg_bytes = c->bytes,
            .seg_check = c->check, .seg_layout = 1};
    }
    return 0;
}

/* Give the batch's ring bytes back to the lanes. */
static void release_ring(struct orri_plog *l, size_t nt)
{
    for (size_t i = 0; i < nt; i++) {
        struct taken *tk = &l->taken[i];
        /* The block holding `to` is written again, whole, next time. */
        atomic_store_explicit(&tk->ln->pos_tail,
                              tk->to / ORRI_PSEG_ALIGN * ORRI_PSEG_ALIGN,
                              memory_order_release);
    }
}

/* Give the batch's room back to the lanes. */
static void release(struct orri_plog *l, size_t nt)
{
    release_ring(l, nt);
    for (size_t i = 0; i < nt; i++) {
        struct taken *tk = &l->taken[i];
        for (uint64_t j = 0; j < tk->k; j++) {
            struct orri_plog_slot *s = SLOT(tk->ln, tk->t + j);
            free(s->heap);
            s->heap = NULL;
        }
        atomic_store_explicit(&tk->ln->slot_tail, tk->t + tk->k,
                              memory_order_release);
    }
    for (size_t i = 0; i < l->n_copies; i++)
        free(l->copies[i]);
    l->n_copies = 0;
}

/* Remember the ids of slots [from, to) of the batch's lanes (the
 * first `nfb` of lanes not written to a file when `fb` is 1, the others
 * when it is 0). */
static void remember(struct orri_plog *l, size_t nt, int fb)
{
    size_t n = 0;
    for (size_t i = 0; i < nt; i++) {
        const struct taken *tk = &l->taken[i];
        if ((tk->seg == NULL) != fb)
            continue;
        for (uint64_t j = 0; j < tk->k; j++)
            l->keys[n++] = SLOT(tk->ln, tk->t + j)->key;
    }
    orri_plog_ids_add(&l->ids, l->keys, n);
}

/* Write one batch; *ok and *failed count its records. */
static void write_batch(struct orri_plog *l, uint64_t *ok, uint64_t *failed)
{
    *ok = *failed = 0;
    size_t nt = take(l), nc = 0, nr = 0, nfb = 0, total = 0;
    if (!nt)
        return;
    for (size_t i = 0; i < nt; i++)
        total += l->taken[i].k;
    write_segments(l, nt);
    struct orr_error e = {0};
    if (lay_out(l, nt, &nc, &nr, &nfb)) {
        orr_log(ORR_LOG_ERROR, WHO, "prediction log: %zu records lost: "
                "out of memory", total);
        *failed = total;
        release(l, nt);
        return;
    }
    /* Payloads all in files: the ring's bytes are free before the commit,
     * so a commit that stalls (tens of ms when the file system journals,
     * once 0.7 s) holds only slots, which last eight times as long. */
    if (!nr && !nfb)
        release_ring(l, nt);
    /* Ids are remembered before `written` counts them: a flush then
     * finds them. */
    int rc = nc || nr ? orri_predictions_commit(l->meta, l->chunks, nc,
                                                l->rows, nr, &l->scratch,
                                                &e)
                      : ORR_OK;
    if (rc) {
        orr_log(ORR_LOG_ERROR, WHO, "prediction log: %zu records lost: %s",
                total - nfb, e.msg);
        *failed += total - nfb;
    } else {
        remember(l, nt, 0);
        *ok += total - nfb;
    }
    if (nfb) {
        /* Its own segment attempt fails the same way: write_segments
         * said so already. */
        rc = orri_predictions_write(l->meta, l->fb, nfb, &l->fallback, &e);
        if (rc) {
            orr_log(ORR_LOG_ERROR, WHO, "prediction log: %zu records "
                    "lost: %s", nfb, e.msg);
            *failed += nfb;
        } else {
            remember(l, nt, 1);
            *ok += nfb;
        }
    }
    release(l, nt);
}

static void deadline(struct timespec *ts, const struct timespec *from,
                     long ms)
{
    *ts = *from;
    ts->tv_nsec += ms * 1000000L;
    while (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *writer(void *arg)
{
    struct orri_plog *l = arg;
#ifdef __linux__
    /* Named for top and perf, and for the benchmark that reads its CPU
     * time apart from the serving threads'.  Not niced any more: its
     * batches are short now (it neither copies nor hashes a payload),
     * and at nice 5 it got too little CPU on a saturated server and
     * dropped up to 1.4% of the records; at nice 0, 0.1-0.7%, and p99
     * at half load 0.38 ms against 0.53 (one run each, bench_p99.sh). */
    prctl(PR_SET_NAME, "orrery-plog", 0, 0, 0);
#endif
    struct timespec prev = {0, 0};  /* when the previous batch was taken */
    int due = 1;                    /* the next batch may go at once       */
    pthread_mutex_lock(&l->lock);
    for (;;) {
        uint64_t pend = pending(l, NULL);
        if (!pend) {
            if (l->stopping)
                break;
            /* Idle: a serving thread that publishes a record and then
             * sees `idle` wakes us.  It looks without a fence, so it can
             * miss this store; hence the timed wait. */
            atomic_store_explicit(&l->idle, 1, memory_order_relaxed);
            atomic_thread_fence(memory_order_seq_cst);
            if (!pending(l, NULL) && !l->stopping && !l->poked) {
                struct timespec now, ts;
                clock_gettime(CLOCK_REALTIME, &now);
                deadline(&ts, &now, IDLE_POLL_MS);
                pthread_cond_timedwait(&l->more, &l->lock, &ts);
            }
            atomic_store_explicit(&l->idle, 0, memory_order_relaxed);
            l->poked = 0;
            /* Not due at once: a record woken for lingers like any
             * other, until LINGER_MS after the previous batch (at once
             * when that was long ago).  Writing each at once made a
             * client with gaps between its requests cost a transaction
             * a record. */
            continue;
        }
        if (!due && pend < BATCH_MAX && !l->stopping && !l->flushing) {
            struct timespec ts;
            deadline(&ts, &prev, LINGER_MS);
            int w = 0;
            l->poked = 0;
            while (!l->poked && !l->stopping && !l->flushing &&
                   w != ETIMEDOUT)
                w = pthread_cond_timedwait(&l->more, &l->lock, &ts);
        }
        clock_gettime(CLOCK_REALTIME, &prev);
        pthread_mutex_unlock(&l->lock);
        uint64_t ok, failed;
        write_batch(l, &ok, &failed);
        pthread_mutex_lock(&l->lock);
        l->written += ok;
        l->failed += failed;
        pthread_cond_broadcast(&l->done);
        /* A backlog goes at once: BATCH_MAX records or a full batch's
         * bytes (256 64-row requests) waiting. */
        uint64_t held;
        due = pending(l, &held) >= BATCH_MAX || held >= BATCH_BYTES;
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

/* Free a log's memory (its thread and locks are gone). */
static void free_log(struct orri_plog *l)
{
    size_t nl = atomic_load(&l->n_lanes);
    for (size_t i = 0; i < nl; i++) {
        orri_pseg_writer_free(l->lanes[i]->seg);
        orri_plog_lane_free(l->lanes[i]);
    }
    orri_plog_ids_free(&l->ids);
    orri_pred_scratch_free(l->scratch);
    orri_pred_scratch_free(l->fallback);
    orri_buf_free(&l->cols);
    free(l->keys);
    free(l->copies);
    free(l->fb);
    free(l->rows);
    free(l->chunks);
    free(l->cd);
    free(l);
}

int orri_plog_start(struct orr_meta *meta, size_t capacity,
                    struct orri_plog **out, struct orr_error *e)
{
    *out = NULL;
    pthread_once(&exit_once, exit_key_init);
    struct orri_plog *l = calloc(1, sizeof *l);
    if (!l)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    l->meta = meta;
    l->gen = atomic_fetch_add(&gens, 1) + 1;
    l->n_slots = capacity ? capacity : ORRI_PLOG_SLOTS;
    l->ring_size = orri_plog_test_lane_bytes ? orri_plog_test_lane_bytes
                                             : LANE_BYTES;
    orri_plog_ids_init(&l->ids, orri_plog_test_ring >= 2
                                ? (size_t)orri_plog_test_ring
                                : RECENT_RING);
    l->cd = calloc(BATCH_MAX, sizeof *l->cd);
    l->chunks = calloc(BATCH_MAX, sizeof *l->chunks);
    l->rows = calloc(BATCH_MAX, sizeof *l->rows);
    l->fb = calloc(BATCH_MAX, sizeof *l->fb);
    l->copies = calloc(BATCH_MAX, sizeof *l->copies);
    l->keys = calloc(BATCH_MAX, sizeof *l->keys);
    if (!l->cd || !l->chunks || !l->rows || !l->fb || !l->copies ||
        !l->keys) {
        free_log(l);
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
        free_log(l);
        return orr_fail(e, ORR_EIO, "starting the prediction log writer: "
                        "%s", strerror(err));
    }
    /* One log at a time: a stop waits only for the threads that can be
     * in the active log's lanes. */
    pthread_rwlock_wrlock(&active_lock);
    int busy = active != NULL;
    if (!busy) {
        active = l;
        atomic_store(&active_gen, l->gen);
    }
    pthread_rwlock_unlock(&active_lock);
    if (busy) {
        orri_plog_stop(l);
        return orr_fail(e, ORR_EBUSY, "a prediction log is already kept in "
                        "this process");
    }
    /* Only the active log owns the store's WAL hook. */
    int rc = orri_checkpointer_start(meta, &l->ckpt, e);
    if (rc) {
        orri_plog_stop(l);
        return rc;
    }
    *out = l;
    return ORR_OK;
}

static uint64_t sum_queued(struct orri_plog *l)
{
    size_t nl = atomic_load_explicit(&l->n_lanes, memory_order_acquire);
    uint64_t n = 0;
    for (size_t i = 0; i < nl; i++)
        n += atomic_load_explicit(&l->lanes[i]->queued,
                                  memory_order_acquire);
    return n;
}

int orri_plog_flush(struct orri_plog *l, int timeout_ms, struct orr_error *e)
{
    struct timespec now, ts;
    clock_gettime(CLOCK_REALTIME, &now);
    deadline(&ts, &now, timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&l->lock);
    /* Lanes publish a record before counting it: all counted are seen. */
    uint64_t target = sum_queued(l);
    l->flushing++;
    pthread_cond_signal(&l->more);
    while (l->written + l->failed < target && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&l->done, &l->lock, &ts);
    l->flushing--;
    int late = l->written + l->failed < target;
    pthread_mutex_unlock(&l->lock);
    if (late)
        return orr_fail(e, ORR_ETIMEDOUT, "the prediction log is behind");
    return ORR_OK;
}

void orri_plog_stats(struct orri_plog *l, struct orri_plog_stats *out)
{
    pthread_mutex_lock(&l->lock);
    size_t nl = atomic_load(&l->n_lanes);
    uint64_t dropped = atomic_load(&l->dropped_nolane);
    for (size_t i = 0; i < nl; i++)
        dropped += atomic_load_explicit(&l->lanes[i]->dropped,
                                        memory_order_relaxed);
    *out = (struct orri_plog_stats){
        .queued = sum_queued(l), .written = l->written,
        .dropped = dropped, .failed = l->failed};
    pthread_mutex_unlock(&l->lock);
}

void orri_plog_stop(struct orri_plog *l)
{
    if (!l)
        return;
    pthread_rwlock_wrlock(&active_lock);
    if (active == l) {
        active = NULL;
        atomic_store_explicit(&active_gen, 0, memory_order_relaxed);
    }
    /* Wait for the serving threads inside log_prediction (the fast
     * path's side of the handshake is there). */
    atomic_thread_fence(memory_order_seq_cst);
    size_t nl = atomic_load(&l->n_lanes);
    for (size_t i = 0; i < nl; i++) {
        _Atomic int *busy = atomic_load(&l->lanes[i]->busy);
        while (busy && atomic_load_explicit(busy, memory_order_acquire))
            sched_yield();
    }
    pthread_rwlock_unlock(&active_lock);
    pthread_mutex_lock(&l->lock);
    l->stopping = 1;
    pthread_cond_signal(&l->more);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->thread, NULL);
    orri_checkpointer_stop(l->ckpt);
    pthread_cond_destroy(&l->done);
    pthread_cond_destroy(&l->more);
    pthread_mutex_destroy(&l->lock);
    free_log(l);
}

/* A lane for this thread (active_lock held for reading): one given back
 * by an exited thread, or a new one. */
static struct orri_plog_lane *claim_lane(struct orri_plog *l)
{
    struct orri_plog_lane *ln = NULL;
    pthread_mutex_lock(&l->lock);
    size_t nl = atomic_load(&l->n_lanes);
    for (size_t i = 0; !ln && i < nl; i++) {
        int free_ = 0;
        if (atomic_compare_exchange_strong(&l->lanes[i]->owned, &free_, 1))
            ln = l->lanes[i];
    }
    if (!ln && nl < LANES_MAX &&
        (ln = orri_plog_lane_new(l->ring_size, l->n_slots))) {
        atomic_store(&ln->owned, 1);
        l->lanes[nl] = ln;
        atomic_store_explicit(&l->n_lanes, nl + 1, memory_order_release);
    }
    if (ln)
        atomic_store(&ln->busy, &tl.busy);
    pthread_mutex_unlock(&l->lock);
    if (!ln)
        return NULL;
    tl.gen = l->gen;
    tl.log = l;
    tl.lane = ln;
    if (exit_key_ok)
        pthread_setspecific(exit_key, &tl);
    return ln;
}

static int push(struct orri_plog *l, struct orri_plog_lane *ln,
                const struct orr_prediction *p, struct orr_error *e)
{
    int half;
    enum orri_plog_append a = orri_plog_lane_append(ln, p, &half);
    if (a != ORRI_PLOG_APPENDED) {
        if (a == ORRI_PLOG_FULL)
            return orr_fail(e, ORR_EBUSY, "prediction log queue full: "
                            "record dropped");
        if (a == ORRI_PLOG_TOO_BIG)
            return orr_fail(e, ORR_EINVAL, "prediction log: a record "
                            "larger than half the queue's %zu bytes: "
                            "dropped", ln->ring_size);
        return orr_fail(e, ORR_ENOMEM, "prediction log: out of memory, "
                        "record dropped");
    }
    /* The record is published (release): now see whether the writer
     * sleeps.  No fence between the two: a full fence here waits for the
     * record's 16 KiB of stores to leave the core, 1% of a saturated
     * server's throughput (perf); a writer that went idle unseen looks
     * again within IDLE_POLL_MS. */
    if (half || atomic_load_explicit(&l->idle, memory_order_relaxed))
        wake(l);
    return ORR_OK;
}

/* A label: the row may still be in a lane, so write what is queued
 * first: ORR_ENOTFOUND then means "no such prediction yet" (the label is
 * kept anyway and joins when the prediction arrives).  An id this log
 * wrote needs no lookup; others are looked up in the legacy rows and
 * the newest chunks: older ones answer "pending" though their label
 * joins all the same. */
static int label(struct orri_plog *l, const struct orr_prediction *p,
                 struct orr_error *e)
{
    int rc = orri_plog_flush(l, 5000, e);
    if (!rc && p->model && p->model[0] &&
        orri_plog_ids_has(&l->ids, p->model, p->request_id)) {
        struct orri_label_row r = {p->request_id, p->model, p->label};
        return orri_labels_put(l->meta, &r, 1, NULL, e);
    }
    if (!rc)
        rc = orri_predictions_label_recent(l->meta, p->model, p->request_id,
                                           p->label, RECENT_SCAN, e);
    return rc;
}

int orri_serve_log_prediction(const struct orr_prediction *p,
                              struct orr_error *e)
{
    if (!p || p->size < offsetof(struct orr_prediction, label) ||
        !p->request_id || !p->request_id[0])
        return orr_fail(e, ORR_EINVAL, "log_prediction: bad record");
    int is_label = !p->inputs;
    if (is_label && (p->size < sizeof *p || !p->label))
        return orr_fail(e, ORR_EINVAL, "log_prediction: no inputs, no label");
    /* Fast path: this thread has a lane in the active log.  Marked busy
     * before the log is looked at again, so a stop either is seen here
     * or waits for this call (orri_plog_stop). */
    uint64_t g = atomic_load_explicit(&active_gen, memory_order_relaxed);
    if (!is_label && g && g == tl.gen) {
        atomic_store_explicit(&tl.busy, 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst);
        int rc = ORR_EUNSUPPORTED;
        if (atomic_load_explicit(&active_gen, memory_order_relaxed) == g)
            rc = push(tl.log, tl.lane, p, e);
        atomic_store_explicit(&tl.busy, 0, memory_order_release);
        if (rc != ORR_EUNSUPPORTED)
            return rc;
    }
    pthread_rwlock_rdlock(&active_lock);
    int rc;
    struct orri_plog *l = active;
    if (!l) {
        rc = orr_fail(e, ORR_EUNSUPPORTED, "no prediction log is kept here");
    } else if (is_label) {
        rc = label(l, p, e);
    } else {
        struct orri_plog_lane *ln = tl.gen == l->gen ? tl.lane
                                                     : claim_lane(l);
        if (ln) {
            rc = push(l, ln, p, e);
        } else {
            atomic_fetch_add(&l->dropped_nolane, 1);
            rc = orr_fail(e, ORR_EBUSY, "prediction log: more than %d "
                          "threads logging at once: record dropped",
                          LANES_MAX);
        }
    }
    pthread_rwlock_unlock(&active_lock);
    return rc;
}
