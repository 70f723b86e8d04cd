/*
 * test_meta_checkpointer.c - core/meta/checkpointer.c: WAL checkpoints
 * move to a thread of their own while a checkpointer runs, the committing
 * connection checkpoints itself past the backstop, and SQLite's automatic
 * checkpoint is back after a stop.  No timing: the tests wait for counts.
 */
#define _XOPEN_SOURCE 700
#include "meta_test_util.h"

#include <sched.h>
#include <time.h>

#include "meta/checkpointer.h"
#include "meta/meta_internal.h"
#include "test.h"

/* Commit `n` transactions of one `bytes`-byte blob each through the
 * store's own connection, as the prediction log's writer does. */
static void commit_blobs(struct orr_meta *m, int n, int bytes)
{
    pthread_mutex_lock(&m->lock);
    sqlite3_stmt *st = NULL;
    CHECK_INT(sqlite3_prepare_v2(m->db, "INSERT INTO t(b) VALUES (?)", -1,
                                 &st, NULL), SQLITE_OK);
    for (int i = 0; i < n; i++) {
        sqlite3_bind_zeroblob(st, 1, bytes);
        CHECK_INT(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->lock);
}

/* Frames in the WAL of `path` and frames copied to the database, as seen
 * by a PASSIVE checkpoint from a connection of the test's own. */
static void wal_frames(const char *path, int *log, int *copied)
{
    sqlite3 *db = NULL;
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    /* A connection learns the journal mode on its first read. */
    CHECK_INT(sqlite3_exec(db, "SELECT count(*) FROM t", NULL, NULL, NULL),
              SQLITE_OK);
    CHECK_INT(sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                        log, copied), SQLITE_OK);
    sqlite3_close(db);
}

static struct orr_meta *open_store(char *dir, size_t cap, char *path,
                                   size_t pcap)
{
    tmp_dir(dir, cap);
    snprintf(path, pcap, "%s/orrery.db", dir);
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    CHECK_INT(orr_meta_open(&m, path, &e), ORR_OK);
    pthread_mutex_lock(&m->lock);
    CHECK_INT(sqlite3_exec(m->db, "CREATE TABLE t(b BLOB)", NULL, NULL,
                           NULL), SQLITE_OK);
    pthread_mutex_unlock(&m->lock);
    return m;
}

/* Waits for the thread's n-th checkpoint; gives up only after a minute,
 * far beyond what it takes, so that a broken hook fails instead of
 * hanging. */
static void wait_for_runs(struct orri_checkpointer *c, unsigned long long n)
{
    struct orri_checkpointer_stats s;
    time_t give_up = time(NULL) + 60;
    do {
        orri_checkpointer_stats(c, &s);
        if (s.run >= n)
            return;
        sched_yield();
    } while (time(NULL) < give_up);
}

static void test_takes_over_and_hands_back(void)
{
    char dir[256], path[512];
    struct orr_meta *m = open_store(dir, sizeof dir, path, sizeof path);
    struct orr_error e = {0};
    struct orri_checkpointer *c = NULL;
    CHECK_INT(orri_checkpointer_start(m, &c, &e), ORR_OK);
    CHECK(c != NULL);

    /* 400 commits of >= 4 pages cross the 1,000-page mark: the commit
     * that does only wakes the thread, which checkpoints (a store that
     * still checkpointed itself would never call the hook, and this
     * wait would not end). */
    commit_blobs(m, 400, 16 << 10);
    wait_for_runs(c, 1);
    struct orri_checkpointer_stats s;
    orri_checkpointer_stats(c, &s);
    CHECK(s.run >= 1);
    CHECK_INT((int)s.backstop, 0);
    orri_checkpointer_stop(c);
    CHECK_INT((int)sql_int(path, "SELECT count(*) FROM t"), 400);

    /* Stopped: SQLite's automatic checkpoint again.  Without it, another
     * 400 commits would leave >= 1,600 frames in the WAL. */
    commit_blobs(m, 400, 16 << 10);
    int log = -1, copied = -1;
    wal_frames(path, &log, &copied);
    CHECK(log >= 0 && log < ORRI_CKPT_PAGES + 100);
    CHECK_INT((int)sql_int(path, "SELECT count(*) FROM t"), 800);
    orr_meta_close(m);
    tmp_rm(dir);
}

static void test_backstop(void)
{
    char dir[256], path[512];
    struct orr_meta *m = open_store(dir, sizeof dir, path, sizeof path);
    commit_blobs(m, 1, 16);
    /* A reader holding an old snapshot: no checkpoint can copy the frames
     * after it, and the WAL cannot restart, so it grows. */
    sqlite3 *reader = NULL;
    CHECK_INT(sqlite3_open(path, &reader), SQLITE_OK);
    CHECK_INT(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM t;", NULL,
                           NULL, NULL), SQLITE_OK);
    struct orr_error e = {0};
    struct orri_checkpointer *c = NULL;
    CHECK_INT(orri_checkpointer_start(m, &c, &e), ORR_OK);
    /* 300 commits of >= 64 pages: past ORRI_CKPT_BACKSTOP frames. */
    commit_blobs(m, 300, 256 << 10);
    struct orri_checkpointer_stats s;
    orri_checkpointer_stats(c, &s);
    CHECK(s.backstop >= 1);
    CHECK_INT(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(reader);
    orri_checkpointer_stop(c);
    CHECK_INT((int)sql_int(path, "SELECT count(*) FROM t"), 301);
    orr_meta_close(m);
    tmp_rm(dir);
}

static void test_memory_store(void)
{
    struct orr_meta *m = NULL;
    struct orr_error e = {0};
    CHECK_INT(orr_meta_open(&m, ":memory:", &e), ORR_OK);
    struct orri_checkpointer *c = (struct orri_checkpointer *)1;
    CHECK_INT(orri_checkpointer_start(m, &c, &e), ORR_OK);
    CHECK(c == NULL);
    orri_checkpointer_stop(c);
    orr_meta_close(m);
}

TEST_MAIN({"takes_over_and_hands_back", test_takes_over_and_hands_back},
          {"backstop", test_backstop},
          {"memory_store", test_memory_store})
