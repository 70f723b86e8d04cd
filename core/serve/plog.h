/*
 * serve/plog.h - the prediction log queue: servers hand predictions to
 * the host (orr_host.log_prediction), which copies them into a bounded
 * queue and returns; a writer thread writes them to the metadata store
 * in batched transactions, a chunk of predictions a row
 * (`prediction_chunks`, meta/predictions.h), the chunks' inputs and
 * outputs appended first to the writer's own segment file in
 * `predictions/` beside the store (schema 8, meta/psegment.h: a log per
 * process, a file per log, so two servers of a site never share one).
 * Serving threads only copy into the queue; the writer thread does all
 * the rest.  When the queue is full the
 * record is dropped and counted: a request never waits for storage.
 * The log remembers the request ids it wrote (the last 1-2 million), so
 * a label posted for one is matched without a lookup in the store.
 *
 * One log is active per process (the one of the serve session running);
 * log_prediction without one returns ORR_EUNSUPPORTED.
 */
#ifndef ORRI_SERVE_PLOG_H
#define ORRI_SERVE_PLOG_H

#include <stddef.h>
#include <stdint.h>

#include <orrery/server.h>
#include <orrery/status.h>

struct orr_meta;
struct orri_plog;

/* Counters of a log (monotonic). */
struct orri_plog_stats {
    uint64_t queued;    /* accepted into the queue                        */
    uint64_t written;   /* committed to the store                         */
    uint64_t dropped;   /* refused: queue full                            */
    uint64_t failed;    /* lost to a store error                          */
};

/* Start a log of `capacity` records (0: 8192) writing to `meta`, and make
 * it the process's active log. */
int  orri_plog_start(struct orr_meta *meta, size_t capacity,
                     struct orri_plog **out, struct orr_error *e);
/* Wait (up to timeout_ms) until everything queued so far is written:
 * ORR_ETIMEDOUT otherwise. */
int  orri_plog_flush(struct orri_plog *l, int timeout_ms,
                     struct orr_error *e);
void orri_plog_stats(struct orri_plog *l, struct orri_plog_stats *out);
/* Deactivate, write what is queued, join the writer, free.  NULL ok. */
void orri_plog_stop(struct orri_plog *l);

/* Tests only: when >= 2 (a power of two), the number of written request
 * ids a log started afterwards remembers, instead of 2^21. */
extern int orri_plog_test_ring;

/* The host table's log_prediction member. */
int orri_serve_log_prediction(const struct orr_prediction *p,
                              struct orr_error *e);

#endif
