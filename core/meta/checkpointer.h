/*
 * meta/checkpointer.h - WAL checkpoints on a thread and a connection of
 * their own, for a store under a sustained stream of commits (the
 * prediction log's writer).
 *
 * By default SQLite checkpoints in the connection that commits: the
 * commit that takes the WAL past 1,000 pages copies the WAL into the
 * database and fsyncs both, which under a saturated server took tens of
 * milliseconds, during which the log's writer drained nothing and the
 * serving threads' lanes filled and dropped records.  While a
 * checkpointer runs, a commit that crosses that mark only wakes the
 * checkpointer's thread, which runs a PASSIVE checkpoint on its own
 * connection: it never holds the store's lock nor blocks a writer, and
 * the writer's next transaction restarts the WAL once it is all copied.
 *
 * Should the WAL still grow past ORRI_CKPT_BACKSTOP pages (a checkpoint
 * that cannot catch up), the committing connection checkpoints itself,
 * as it would without a checkpointer.
 *
 * A store without a file (":memory:") or not in WAL mode gets none:
 * orri_checkpointer_start leaves *out NULL and returns ORR_OK.
 */
#ifndef ORRI_META_CHECKPOINTER_H
#define ORRI_META_CHECKPOINTER_H

#include <orrery/status.h>

struct orr_meta;
struct orri_checkpointer;

/* WAL pages from which a commit asks for a checkpoint (SQLite's default
 * automatic checkpoint), and from which it checkpoints itself. */
#define ORRI_CKPT_PAGES    1000
#define ORRI_CKPT_BACKSTOP (16 * ORRI_CKPT_PAGES)

/* Take over the checkpoints of store `m` until orri_checkpointer_stop.
 * Takes m->lock briefly.  One checkpointer per store at a time. */
int orri_checkpointer_start(struct orr_meta *m,
                            struct orri_checkpointer **out,
                            struct orr_error *e);

/* Hand the checkpoints back to the store's connection (SQLite's automatic
 * checkpoint), finish the one running and stop the thread.  Takes
 * m->lock briefly.  NULL is a no-op. */
void orri_checkpointer_stop(struct orri_checkpointer *c);

/* Checkpoints this checkpointer ran, and those the store's connection ran
 * itself past the backstop (for tests and benchmarks). */
struct orri_checkpointer_stats {
    unsigned long long run;
    unsigned long long backstop;
};
void orri_checkpointer_stats(struct orri_checkpointer *c,
                             struct orri_checkpointer_stats *out);

#endif
