/*
 * meta/checkpointer.c - WAL checkpoints off the committing thread (see
 * checkpointer.h for why).
 *
 * The store's connection gets a WAL hook in place of SQLite's automatic
 * checkpoint (sqlite3_wal_autocheckpoint is itself such a hook, so the
 * two replace each other).  The hook runs inside the commit, with the
 * store's lock held: it only raises a flag and signals the thread, or,
 * past the backstop, checkpoints in place.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <sqlite3.h>

#include "meta/checkpointer.h"
#include "meta/meta_internal.h"
#include "util/error.h"

struct orri_checkpointer {
    struct orr_meta    *m;
    sqlite3            *db;             /* the thread's own connection   */
    pthread_t           thread;
    pthread_mutex_t     lock;
    pthread_cond_t      wake;
    int                 wanted, stopping;       /* under lock           */
    unsigned long long  run, backstop;          /* under lock           */
};

static int on_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct orri_checkpointer *c = arg;
    if (pages >= ORRI_CKPT_BACKSTOP) {
        /* The thread is not keeping up: do what SQLite would. */
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE,
                                  NULL, NULL);
        pthread_mutex_lock(&c->lock);
        c->backstop++;
        pthread_mutex_unlock(&c->lock);
        return SQLITE_OK;
    }
    if (pages >= ORRI_CKPT_PAGES) {
        pthread_mutex_lock(&c->lock);
        if (!c->wanted) {
            c->wanted = 1;
            pthread_cond_signal(&c->wake);
        }
        pthread_mutex_unlock(&c->lock);
    }
    return SQLITE_OK;
}

static void *checkpoints(void *arg)
{
    struct orri_checkpointer *c = arg;
#ifdef __linux__
    /* Named for top and perf, and for bench_cost.sh, which counts its CPU
     * with the log writer's. */
    prctl(PR_SET_NAME, "orrery-ckpt", 0, 0, 0);
#endif
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->wanted && !c->stopping)
            pthread_cond_wait(&c->wake, &c->lock);
        if (c->stopping)
            break;
        c->wanted = 0;
        pthread_mutex_unlock(&c->lock);
        /* PASSIVE: copies what it can without waiting for anyone, so
         * BUSY (another checkpoint running) is as good as done; the next
         * commit past the mark asks again. */
        sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                  NULL, NULL);
        pthread_mutex_lock(&c->lock);
        c->run++;
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* 1 when `db` is in WAL mode. */
static int in_wal(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int wal = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) ==
            SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *mode = sqlite3_column_text(st, 0);
        wal = mode && strcmp((const char *)mode, "wal") == 0;
    }
    sqlite3_finalize(st);
    return wal;
}

static void free_checkpointer(struct orri_checkpointer *c)
{
    sqlite3_close_v2(c->db);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int orri_checkpointer_start(struct orr_meta *m,
                            struct orri_checkpointer **out,
                            struct orr_error *e)
{
    *out = NULL;
    pthread_mutex_lock(&m->lock);
    const char *file = sqlite3_db_filename(m->db, "main");
    int has_file = file && *file && in_wal(m->db);
    char *path = has_file ? strdup(file) : NULL;
    pthread_mutex_unlock(&m->lock);
    if (!has_file)
        return ORR_OK;
    struct orri_checkpointer *c = path ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        free(path);
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    }
    c->m = m;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    int src = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE |
                              SQLITE_OPEN_NOMUTEX, NULL);
    free(path);
    if (src == SQLITE_OK)
        src = sqlite3_exec(c->db, "PRAGMA synchronous = NORMAL", NULL,
                           NULL, NULL);
    if (src != SQLITE_OK) {
        int rc = orr_fail(e, ORR_EIO, "opening the store for checkpoints: "
                          "%s", c->db ? sqlite3_errmsg(c->db)
                                      : sqlite3_errstr(src));
        free_checkpointer(c);
        return rc;
    }
    int err = pthread_create(&c->thread, NULL, checkpoints, c);
    if (err) {
        free_checkpointer(c);
        return orr_fail(e, ORR_EIO, "starting the checkpoint thread: %s",
                        strerror(err));
    }
    pthread_mutex_lock(&m->lock);
    sqlite3_wal_hook(m->db, on_commit, c);
    pthread_mutex_unlock(&m->lock);
    *out = c;
    return ORR_OK;
}

void orri_checkpointer_stop(struct orri_checkpointer *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->m->lock);
    sqlite3_wal_autocheckpoint(c->m->db, ORRI_CKPT_PAGES);
    pthread_mutex_unlock(&c->m->lock);
    pthread_mutex_lock(&c->lock);
    c->stopping = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    free_checkpointer(c);
}

void orri_checkpointer_stats(struct orri_checkpointer *c,
                             struct orri_checkpointer_stats *out)
{
    pthread_mutex_lock(&c->lock);
    out->run = c->run;
    out->backstop = c->backstop;
    pthread_mutex_unlock(&c->lock);
}
