/*
 * meta/flusher.c - the durability promise: buffered metric points are
 * committed at least every 100 ms even when the process stops logging,
 * and on SIGINT/SIGTERM before the process ends.
 *
 * One thread per process (not per orr_meta) walks the open stores every
 * ORRI_FLUSH_MS / 2 and commits any whose buffer holds points and whose
 * last commit is ORRI_FLUSH_MS / 2 old: a point therefore waits at most
 * ORRI_FLUSH_MS (plus the time to get the store's mutex).  The thread
 * uses an orr_meta only under its mutex, like every other caller, so the
 * connection stays single-threaded as SQLITE_OPEN_NOMUTEX requires.
 *
 * Signals: the handler only records the signal and writes a byte to a
 * pipe (all it may safely do); the thread, which sleeps in poll() on that
 * pipe, does the SQL and then re-raises the signal with its default
 * action.  The thread is started with every signal blocked, so handlers
 * run on the application's threads.
 *
 * fork(): the child has no flusher thread; pthread_atfork forgets the
 * parent's stores and pipe in the child (which must open its own
 * orr_meta anyway), and a store opened there starts a new thread.
 *
 * Lock order: life_lock, then reg_lock, then an orr_meta's lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "meta/filter.h"
#include "meta/meta_internal.h"
#include "meta/query.h"
#include "util/error.h"

struct orri_flusher {
    struct orr_meta     *m;
    struct orri_flusher *next;
    /* Runs and steps this connection began and has not ended: what a
     * signal marks cancelled.  Guarded by m->lock. */
    int64_t             *open[2];
    size_t               n_open[2], cap_open[2];
};

static pthread_mutex_t life_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t  atfork_once = PTHREAD_ONCE_INIT;
static struct orri_flusher *head;
static pthread_t thread;
static int running;                 /* under life_lock                   */
static int stopping;                /* under reg_lock                    */
static int wake[2] = {-1, -1};
static volatile sig_atomic_t thread_live;
static volatile sig_atomic_t pending_sig;

static void on_prepare(void)
{
    pthread_mutex_lock(&life_lock);
    pthread_mutex_lock(&reg_lock);
}

static void on_parent(void)
{
    pthread_mutex_unlock(&reg_lock);
    pthread_mutex_unlock(&life_lock);
}

static void on_child(void)
{
    head = NULL;
    running = 0;
    stopping = 0;
    thread_live = 0;
    pending_sig = 0;
    for (int i = 0; i < 2; i++) {
        if (wake[i] >= 0)
            close(wake[i]);
        wake[i] = -1;
    }
    pthread_mutex_unlock(&reg_lock);
    pthread_mutex_unlock(&life_lock);
}

static void register_atfork(void)
{
    pthread_atfork(on_prepare, on_parent, on_child);
}

static int make_pipe(void)
{
    if (wake[0] >= 0)
        return 0;
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(fd[i], F_SETFD, FD_CLOEXEC);
        fcntl(fd[i], F_SETFL, fcntl(fd[i], F_GETFL) | O_NONBLOCK);
    }
    wake[0] = fd[0];
    wake[1] = fd[1];
    return 0;
}

static void poke(void)
{
    if (wake[1] >= 0) {
        ssize_t n = write(wake[1], "x", 1);
        (void)n;                    /* a full pipe wakes the thread too */
    }
}

/* Mark the rows in `ids` cancelled (those still running). */
static void cancel_rows(struct orr_meta *m, const char *table,
                        const int64_t *ids, size_t n)
{
    if (n == 0)
        return;
    char q[160];
    snprintf(q, sizeof q, "UPDATE %s SET status = 'cancelled', end_ms = ?1"
             " WHERE id = ?2 AND status = 'running'", table);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(m->db, q, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return;
    }
    int64_t now = orri_now_ms();
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int64(st, 2, ids[i]);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
}

static void on_signal_locked(int sig)
{
    for (struct orri_flusher *f = head; f; f = f->next) {
        struct orr_meta *m = f->m;
        pthread_mutex_lock(&m->lock);
        orri_meta_flush_locked(m, NULL);
        cancel_rows(m, "steps", f->open[1], f->n_open[1]);
        cancel_rows(m, "runs", f->open[0], f->n_open[0]);
        f->n_open[0] = f->n_open[1] = 0;
        pthread_mutex_unlock(&m->lock);
    }
    /* The default action, so the parent sees "killed by SIGINT". */
    signal(sig, SIG_DFL);
    kill(getpid(), sig);
    /* Only reached if every other thread blocks `sig`. */
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
    _exit(128 + sig);
}

static void tick_locked(void)
{
    int64_t now = orri_now_ms();
    for (struct orri_flusher *f = head; f; f = f->next) {
        struct orr_meta *m = f->m;
        /* The logging thread commits on its own while it logs; do not
         * queue behind it for a store that is busy. */
        if (pthread_mutex_trylock(&m->lock) != 0)
            continue;
        if (m->pending && (now - m->last_commit_ms >= ORRI_FLUSH_MS / 2 ||
                           now < m->last_commit_ms))
            orri_meta_flush_locked(m, NULL);
        pthread_mutex_unlock(&m->lock);
    }
}

static void *flusher_main(void *arg)
{
    (void)arg;
    struct pollfd pfd = {.fd = wake[0], .events = POLLIN};
    for (;;) {
        int r = poll(&pfd, 1, ORRI_FLUSH_MS / 2);
        if (r > 0) {
            char buf[64];
            while (read(wake[0], buf, sizeof buf) > 0)
                ;
        }
        pthread_mutex_lock(&reg_lock);
        if (pending_sig)
            on_signal_locked(pending_sig);          /* does not return */
        if (stopping) {
            pthread_mutex_unlock(&reg_lock);
            return NULL;
        }
        tick_locked();
        pthread_mutex_unlock(&reg_lock);
    }
}

/* Start the thread (life_lock held). */
static int start_thread(void)
{
    if (make_pipe() != 0)
        return -1;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    stopping = 0;
    int rc = pthread_create(&thread, NULL, flusher_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -1;
    running = 1;
    thread_live = 1;
    return 0;
}

int orri_meta_attach(struct orr_meta *m, struct orr_error *e)
{
    if (orri_filter_register(m->db) != SQLITE_OK)
        return orri_meta_sqlfail(m, sqlite3_errcode(m->db), e,
                                 "registering SQL functions");
    struct orri_flusher *f = calloc(1, sizeof *f);
    if (!f)
        return orr_fail(e, ORR_ENOMEM, "opening %s: out of memory",
                        m->path);
    f->m = m;
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&life_lock);
    if (!running && start_thread() != 0) {
        pthread_mutex_unlock(&life_lock);
        free(f);
        return orr_fail(e, ORR_EIO, "opening %s: cannot start the metric "
                        "flusher thread: %s", m->path, strerror(errno));
    }
    pthread_mutex_lock(&reg_lock);
    f->next = head;
    head = f;
    pthread_mutex_unlock(&reg_lock);
    pthread_mutex_unlock(&life_lock);
    m->flusher = f;
    return ORR_OK;
}

void orri_meta_detach(struct orr_meta *m)
{
    struct orri_flusher *f = m ? m->flusher : NULL;
    if (!f)
        return;
    pthread_mutex_lock(&life_lock);
    pthread_mutex_lock(&reg_lock);
    for (struct orri_flusher **p = &head; *p; p = &(*p)->next)
        if (*p == f) {
            *p = f->next;
            break;
        }
    int stop = running && !head;
    if (stop)
        stopping = 1;
    pthread_mutex_unlock(&reg_lock);
    if (stop) {
        poke();
        pthread_join(thread, NULL);
        running = 0;
        thread_live = 0;
    }
    pthread_mutex_unlock(&life_lock);
    free(f->open[0]);
    free(f->open[1]);
    free(f);
    m->flusher = NULL;
}

void orri_meta_track(struct orr_meta *m, int is_step, int64_t rowid,
                     int open)
{
    struct orri_flusher *f = m->flusher;
    if (!f)
        return;
    int k = is_step ? 1 : 0;
    if (!open) {
        for (size_t i = 0; i < f->n_open[k]; i++)
            if (f->open[k][i] == rowid) {
                f->open[k][i] = f->open[k][--f->n_open[k]];
                return;
            }
        return;
    }
    if (f->n_open[k] == f->cap_open[k]) {
        size_t nc = f->cap_open[k] ? f->cap_open[k] * 2 : 8;
        int64_t *p = realloc(f->open[k], nc * sizeof *p);
        if (!p)
            return;         /* best effort: the row just stays 'running' */
        f->open[k] = p;
        f->cap_open[k] = nc;
    }
    f->open[k][f->n_open[k]++] = rowid;
}

static void on_signal(int sig)
{
    int saved = errno;
    if (!thread_live || pending_sig) {
        /* Nothing to save, or a second signal while saving: go now. */
        signal(sig, SIG_DFL);
        raise(sig);
    } else {
        pending_sig = sig;
        poke();
    }
    errno = saved;
}

ORR_API int orr_meta_handle_signals(struct orr_error *e)
{
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&life_lock);
    int rc = make_pipe();
    pthread_mutex_unlock(&life_lock);
    if (rc != 0)
        return orr_fail(e, ORR_EIO, "creating the signal pipe: %s",
                        strerror(errno));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGINT, &sa, NULL) != 0 ||
        sigaction(SIGTERM, &sa, NULL) != 0)
        return orr_fail(e, ORR_EIO, "installing signal handlers: %s",
                        strerror(errno));
    return ORR_OK;
}
