/*
 * serve/plog_lane.h - a lane of the prediction log: what one serving
 * thread logs, handed to the log's writer thread without a lock.
 *
 * A lane is single-producer, single-consumer.  Its producer (the one
 * serving thread that owns it) appends a record as
 *   - its payload (inputs then outputs, little-endian doubles) at the
 *     end of the lane's byte *stream*: stream position p lives at
 *     ring[p % ring_size], so a record may wrap around the ring's end;
 *   - a slot (times, counts, strings, the payload's checksum and where
 *     it is), slots[s % n_slots] for the lane's s-th record;
 * then publishes it by advancing slot_head (release).  The consumer
 * (the writer thread) reads slots up to slot_head (acquire), mirrors
 * their stream range into the lane's segment file straight from the
 * ring (meta/psegment.h, orri_pseg_stream_write: the payload crosses
 * memory once after the serving thread's copy) and gives the room back
 * by advancing slot_tail and pos_tail (release).  pos_tail stays
 * rounded down to ORRI_PSEG_ALIGN: the block holding the end of the
 * last write is written again, whole, with the next.
 *
 * The serving thread touches the writer's cache lines only when its
 * own view says the lane is full or half full; a request never waits
 * for the writer: a record that does not fit is dropped and counted.
 */
#ifndef ORRI_SERVE_PLOG_LANE_H
#define ORRI_SERVE_PLOG_LANE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <orrery/server.h>

struct orri_pseg_writer;

/* Strings of a slot up to this many bytes (id, model, version, each
 * NUL-terminated) live in it; longer ones in `heap`. */
#define ORRI_PLOG_SLOT_STR 160

struct orri_plog_slot {
    uint64_t pos;               /* stream position of the payload         */
    uint64_t check;             /* orri_pseg_check of the payload         */
    uint64_t key;               /* orri_plog_id_key(model, request id)    */
    int64_t  ts_ms, latency_us;
    uint32_t bytes;             /* of the payload                         */
    uint32_t in_rows, in_cols, out_rows, out_cols;
    uint32_t model_at, version_at;  /* offsets of the strings in str()   */
    char    *heap;              /* the strings when too long for `str`    */
    char     str[ORRI_PLOG_SLOT_STR];
};

/* The slot's strings: request id, model, version. */
static inline const char *orri_plog_slot_str(const struct orri_plog_slot *s)
{
    return s->heap ? s->heap : s->str;
}

struct orri_plog_lane {
    /* The producer's line: written by the owning serving thread only. */
    _Alignas(64) _Atomic uint64_t slot_head;   /* slots published       */
    _Atomic uint64_t queued, dropped;          /* records, monotonic    */
    uint64_t  pos_head;         /* stream position of the next payload    */
    uint64_t  seen_slot_tail;   /* the producer's view of the tails       */
    uint64_t  seen_pos_tail;
    uint64_t  next_check;       /* slot_head at which to look again ...   */
    uint64_t  next_check_pos;   /* ... or pos_head                        */
    size_t    slot_at;          /* slot_head % n_slots                    */
    _Atomic int owned;          /* a live thread appends here             */
    /* The owner's busy flag (serve/plog.c), which a stop waits on. */
    _Atomic(_Atomic int *) busy;

    /* The consumer's line: written by the writer thread only. */
    _Alignas(64) _Atomic uint64_t slot_tail;   /* slots given back      */
    _Atomic uint64_t pos_tail;                 /* stream given back     */
    struct orri_pseg_writer *seg;              /* the lane's segments   */
    int       populated;        /* orri_plog_lane_populate done           */

    /* Fixed at creation. */
    _Alignas(64) unsigned char *ring;
    size_t    ring_size;        /* a multiple of ORRI_PSEG_ALIGN          */
    struct orri_plog_slot *slots;
    size_t    n_slots;
};

/* A lane of `ring_size` bytes (rounded up to ORRI_PSEG_ALIGN) and
 * `n_slots` slots; NULL on no memory. */
struct orri_plog_lane *orri_plog_lane_new(size_t ring_size, size_t n_slots);
/* Frees the strings of slots still held, and the lane.  NULL ok. */
void orri_plog_lane_free(struct orri_plog_lane *ln);

/* Consumer: back the whole ring and the slots with memory now, so that
 * the serving thread's first pass over them does not fault page by page
 * (a fault zeroes a 2 MiB huge page in the request's time; at 1-row
 * requests the first pass over a 16 MiB ring lasts seconds).  Safe while
 * the producer appends: present pages are left as they are.  Best
 * effort: a kernel without MADV_POPULATE_WRITE faults as before. */
void orri_plog_lane_populate(struct orri_plog_lane *ln);

/* What orri_plog_lane_append did. */
enum orri_plog_append {
    ORRI_PLOG_APPENDED,         /* published                              */
    ORRI_PLOG_FULL,             /* dropped: no room (counted)             */
    ORRI_PLOG_TOO_BIG,          /* dropped: larger than half the ring     */
    ORRI_PLOG_NOMEM             /* dropped: no memory for long strings    */
};

/* Producer: take the checksum of prediction `p` (inputs set), copy it
 * into the lane and publish it.  *half is set when the lane is
 * half full or more (the writer should be woken), looked at every few
 * records only. */
enum orri_plog_append orri_plog_lane_append(struct orri_plog_lane *ln,
                                            const struct orr_prediction *p,
                                            int *half);

/* Consumer: the payload of a slot into `dst` (slot->bytes bytes), the
 * ring's wrap undone. */
void orri_plog_lane_payload(const struct orri_plog_lane *ln,
                            const struct orri_plog_slot *s, void *dst);
/* Consumer: a pointer to a slot's payload when it does not wrap, else
 * NULL. */
const void *orri_plog_lane_payload_at(const struct orri_plog_lane *ln,
                                      const struct orri_plog_slot *s);

#endif
