/*
 * serve/plog.h - the prediction log: servers hand predictions to the
 * host (orr_host.log_prediction), which copies each into the calling
 * thread's lane (serve/plog_lane.h: a bounded ring, no lock) and
 * returns; a writer thread drains the lanes in batches, each lane's
 * payload appended straight from its ring to the lane's own segment
 * file in `predictions/` beside the store (meta/psegment.h), and the
 * batch's chunks (`prediction_chunks`, layout 1, meta/predictions.h)
 * committed in one transaction.  When a lane is full the record is
 * dropped and counted: a request never waits for storage.  The log
 * remembers the request ids it wrote (serve/plog_ids.h), so a label
 * posted for one is matched without a lookup in the store.
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

/* Records a lane holds by default (server.log_queue): 16 MiB holds
 * 67,000 1-row records, and 8,192 slots ran out first, in a 160 ms stall
 * of the writer at 50,000 records/s a lane (0.6% dropped); 32,768 slots
 * (240 bytes each, 7.9 MB a lane) last 650 ms there. */
#define ORRI_PLOG_SLOTS 32768

/* Start a log writing to `meta`, and make it the process's active log
 * (ORR_EBUSY while another one is).
 * Each thread that logs gets a lane of its own (up to 64 at once) of
 * `capacity` records (0: ORRI_PLOG_SLOTS) and 16 MiB of payload; a
 * record that does not fit in its thread's lane is dropped and counted. */
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
/* Tests only: when > 0, each lane's payload bytes instead of 16 MiB. */
extern size_t orri_plog_test_lane_bytes;

/* The host table's log_prediction member. */
int orri_serve_log_prediction(const struct orr_prediction *p,
                              struct orr_error *e);

#endif
