/*
 * meta/pcols.h - the small columns of a prediction chunk (request ids,
 * times, latencies, row counts) as stored: plain, or compact (schema
 * migration 10, `cols_layout` 1).
 *
 * Plain: `request_ids` the n ids, each NUL-terminated, one after the
 * other; `ts_ms`, `latency_us` and `rows` n little-endian int64 each:
 * 48 bytes a prediction for a server's generated ids, which SQLite
 * writes twice (WAL, then checkpoint).  At 100,000 1-row predictions a
 * second that was the larger part of the log writer's CPU (216 of its
 * 382 us a 511-prediction batch went to the commit).
 *
 * Compact, about 8 bytes a prediction:
 *   request_ids  per id: a varint, the length of the prefix it shares
 *                with the id before it (0 for the first), then the rest
 *                of its bytes and a NUL: "5f0e...-1041" after
 *                "5f0e...-1040" costs 3 bytes;
 *   ts_ms        per prediction a zigzag varint, its time minus the
 *                time before it (the first: minus 0);
 *   latency_us   per prediction a zigzag varint;
 *   rows         per prediction a zigzag varint.
 * Varints are LEB128: 7 bits a byte, low first, at most 10 bytes.
 *
 * Readers expand compact columns into the plain form and go on as
 * before; every expansion checks the bytes whole (exactly n values, no
 * byte left over, prefixes no longer than the id before).
 */
#ifndef ORRI_META_PCOLS_H
#define ORRI_META_PCOLS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* `cols_layout` values (NULL in the store: plain). */
#define ORRI_PCOLS_PLAIN   0
#define ORRI_PCOLS_COMPACT 1

/* The columns of one chunk in a buffer: column k at data + off[k],
 * len[k] bytes, in the order ids, ts, latency, rows. */
struct orri_pcols {
    struct orr_buf buf;
    size_t         off[4], len[4];
};

/* Encode n predictions' plain columns (already checked: n ids, n int64
 * each) compactly into `out` (its buffer reset first).  ORR_OK or
 * ORR_ENOMEM. */
int orri_pcols_encode(size_t n, const char *ids, const unsigned char *ts,
                      const unsigned char *latency,
                      const unsigned char *rows, struct orri_pcols *out);

/* Expand the compact `ids` column of n predictions (len bytes at src)
 * into `out` (reset first) as the plain column: n NUL-terminated ids.
 * ORR_OK, ORR_EINVAL (malformed) or ORR_ENOMEM. */
int orri_pcols_expand_ids(const void *src, size_t len, size_t n,
                          struct orr_buf *out);

/* Expand a compact int64 column of n predictions into `out` (reset
 * first) as n little-endian int64; `delta` 1 for ts_ms (each value
 * relative to the one before), 0 for the others.  ORR_OK, ORR_EINVAL
 * or ORR_ENOMEM. */
int orri_pcols_expand_i64(const void *src, size_t len, size_t n, int delta,
                          struct orr_buf *out);

void orri_pcols_free(struct orri_pcols *c);

#endif
