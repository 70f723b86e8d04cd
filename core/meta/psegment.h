/*
 * meta/psegment.h - segment files of the prediction log (schema migration
 * 8): the bulky part of a chunk (its inputs and outputs) appended to a
 * plain file beside the metadata store instead of into SQLite, which
 * writes every byte twice (WAL, then checkpoint) plus frame headers:
 * ~1.5 us of writer CPU per KiB there, ~0.25 us per KiB with write().
 *
 * Files live in `<directory of the database>/predictions/` (mode 0700,
 * created on first use), named `<unix-ms>-<pid>-<seq>.plog` (0600).  A
 * writer (one per prediction-log writer: orri_pred_scratch) creates its
 * own files with O_CREAT | O_EXCL, so two processes logging into one
 * store never share a file; it appends each batch (pieces still in
 * cache after their checksum is taken; large batches with O_DIRECT past
 * the page cache, see orri_pseg_end), tracks its offset itself and
 * rolls to a new file past ORRI_PSEG_LIMIT bytes.  Nothing is fsync'ed:
 * the store runs synchronous=NORMAL, and a chunk
 * whose bytes never reached the disk is caught by its checksum.
 *
 * A store without a file (":memory:") has no directory: its chunks stay
 * inline.  Readers open a segment by the plain name the store holds;
 * names with '/' or "..", or otherwise odd, are refused, so a tampered
 * store cannot read outside the directory.
 *
 * Not thread-safe per object: a writer or reader belongs to one thread.
 */
#ifndef ORRI_META_PSEGMENT_H
#define ORRI_META_PSEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include <sys/uio.h>

#include <orrery/status.h>

#include <sqlite3.h>

/* Directory name beside the database, and a file's size past which a
 * writer rolls to a new one. */
#define ORRI_PSEG_DIR   "predictions"
#define ORRI_PSEG_LIMIT ((int64_t)256 << 20)
/* Longest segment name stored. */
#define ORRI_PSEG_NAME_MAX 64

/* Tests only: when > 0, the roll-over size instead of ORRI_PSEG_LIMIT;
 * the batch size from which writes go O_DIRECT when > 0 (16 KiB
 * otherwise), never when < 0. */
extern int64_t orri_pseg_test_limit;
extern int64_t orri_pseg_test_direct_min;

/* The segment directory of the database `db` ("main") into out: 1 when
 * there is one, 0 for a store without a file (or a path too long). */
int orri_pseg_dir(sqlite3 *db, char *out, size_t cap);

/* The checksum stored per chunk: a 64-bit non-cryptographic hash of the
 * payload (XXH64's construction, seed 0: multiply-rotate over 4 lanes of
 * 8-byte words, ~15 GB/s from cache).  Fed in pieces (a chunk's rows)
 * through orri_pseg_hash_*, or at once. */
struct orri_pseg_hash {
    uint64_t      v[4];
    uint64_t      total;
    unsigned char buf[32];
    size_t        held;         /* bytes in buf                           */
};
void     orri_pseg_hash_init(struct orri_pseg_hash *h);
void     orri_pseg_hash_update(struct orri_pseg_hash *h, const void *data,
                               size_t len);
/* Update with `len` bytes at `src` and copy them to `dst` in the same
 * pass (the bytes cross memory once, not twice). */
void     orri_pseg_hash_copy(struct orri_pseg_hash *h, void *dst,
                             const void *src, size_t len);
uint64_t orri_pseg_hash_final(const struct orri_pseg_hash *h);
uint64_t orri_pseg_check(const void *data, size_t len);

/* 1 when `name` may name a segment: non-empty, at most
 * ORRI_PSEG_NAME_MAX bytes of [A-Za-z0-9._-], no "..". */
int orri_pseg_name_ok(const char *name);

struct orri_pseg_writer;

/* Remove segment file `name` of `dir` unless it was modified within
 * `grace_ms` before `now_ms` (Unix ms) or a writer holds it (a writer
 * keeps a shared flock on the file it has open; this takes an exclusive
 * one, without waiting, before unlinking).  1 removed (or would be,
 * dry_run) with *bytes its size, 0 kept, 2 not a regular file (a
 * symbolic link, say) or already gone: left alone, -1 failed (errno). */
int orri_pseg_remove(const char *dir, const char *name, int64_t now_ms,
                     int64_t grace_ms, int dry_run, int64_t *bytes);

/* A writer appending to files of directory `dir` (copied). */
int  orri_pseg_writer_new(const char *dir, struct orri_pseg_writer **out,
                          struct orr_error *e);
/* Make room for a batch of `len` bytes: a new file when none is open or
 * the current one would pass the limit (ORR_EINVAL on a writer used by
 * orri_pseg_stream_write: a writer serves batches or a stream).  *name
 * (the writer's, valid until the next reserve) and *offset tell where
 * the next bytes go; then orri_pseg_writev appends them, in pieces. */
int  orri_pseg_reserve(struct orri_pseg_writer *w, size_t len,
                       const char **name, int64_t *offset,
                       struct orr_error *e);
/* Append the `n` pieces (at most IOV_MAX; `iov` is consumed).  On an
 * error the file is abandoned: the next reserve starts a new one. */
int  orri_pseg_writev(struct orri_pseg_writer *w, struct iovec *iov, int n,
                      struct orr_error *e);
/* 1 when the reserved batch goes with O_DIRECT (staged): then
 * orri_pseg_put appends its pieces, hashing them into `h` (NULL: none)
 * on the way into the stage, instead of orri_pseg_writev. */
int  orri_pseg_staged(const struct orri_pseg_writer *w);
int  orri_pseg_put(struct orri_pseg_writer *w, struct orri_pseg_hash *h,
                   const void *data, size_t len, struct orr_error *e);
/* End the batch: its last bytes written (a batch of 16 KiB or more goes
 * with O_DIRECT, staged, its start aligned to 4 KiB and its last block
 * padded with zeros, past the page cache; smaller ones through it). */
int  orri_pseg_end(struct orri_pseg_writer *w, struct orr_error *e);
/* Reserve, write and end `len` bytes at once. */
int  orri_pseg_append(struct orri_pseg_writer *w, const void *data,
                      size_t len, const char **name, int64_t *offset,
                      struct orr_error *e);
/* NULL ok. */
void orri_pseg_writer_free(struct orri_pseg_writer *w);

/* ---- stream files (chunks of layout 1) -----------------------------------
 * A lane of the prediction log (serve/plog.c: one per serving thread)
 * keeps its records' payload in a ring of `size` bytes, a multiple of
 * ORRI_PSEG_ALIGN and ORRI_PSEG_ALIGN-aligned: the byte at stream
 * position p (counted from 0 since the lane began, never wrapping) is
 * ring[p % size].  orri_pseg_stream_write mirrors the stream range
 * [from, to) into the writer's current file, where stream position p
 * lives at file offset p - base: a file is opened when none is, or
 * when the range would take it past the limit (ORRI_PSEG_LIMIT, tests:
 * orri_pseg_test_limit), with base = from rounded down to
 * ORRI_PSEG_ALIGN.  With O_DIRECT it writes the ring's bytes of
 * [from rounded down, to rounded up) straight from the ring: no
 * copy, no staging; the caller guarantees that [from rounded down,
 * from) still holds the stream's bytes until the call returns (it was
 * written by the previous call and must be written again whole: a lane
 * frees ring space up to `from` rounded down only) and that the ring
 * is mapped up to `to` rounded up (bytes past `to` are written as they
 * are and overwritten by the next call: no chunk refers to them).
 * Without O_DIRECT (refused by the file system, or
 * orri_pseg_test_direct_min < 0) it writes exactly [from, to) through
 * the page cache (orri_pseg_test_direct_min > 0 changes nothing here:
 * with O_DIRECT every range goes direct, however small).  *name (the
 * writer's, valid until the next call) and *offset say where `from`
 * is.
 *
 * The O_DIRECT range goes in one pwritev() (two pieces when the ring
 * wraps), continued after a short write; a file system that refuses
 * O_DIRECT (EINVAL: the alignment is checked here first) gets this
 * range and all later ones through the page cache, in the same file.
 * Ranges only go forward: `from` at or past the previous call's `to`
 * while the file is open (a gap is a hole no chunk refers to).
 * ORR_EINVAL, nothing written: a ring not ORRI_PSEG_ALIGN-aligned or
 * sized, from > to, to - (from rounded down) > size (the ring cannot
 * hold the range and its block's head), a range going back, or a
 * writer already used for batches.  A writer serves either batches
 * (orri_pseg_reserve/writev/put/end/append) or one stream, never both:
 * orri_pseg_reserve on a stream writer is ORR_EINVAL too.  A failed
 * write abandons the file (ORR_EIO, the message naming the file and
 * offset): the next call opens a new one, its base from that call's
 * `from`. */
#define ORRI_PSEG_ALIGN 4096
int  orri_pseg_stream_write(struct orri_pseg_writer *w,
                            const unsigned char *ring, size_t size,
                            uint64_t from, uint64_t to, const char **name,
                            int64_t *offset, struct orr_error *e);

/* The checksum of one record of a layout-1 chunk (its inputs then its
 * outputs; meta/pseg_record.c): eight lanes accumulated as XXH3 does,
 * about twice XXH64's speed, fed in pieces through orri_pseg_rhash_*
 * or at once.  The serving thread takes it while logging (serve/
 * plog_lane.c); readers recompute it. */
struct orri_pseg_rhash {
    uint64_t      acc[8];
    uint64_t      total;
    unsigned char buf[64];
    size_t        held;         /* bytes in buf                           */
};
void     orri_pseg_rhash_init(struct orri_pseg_rhash *h);
void     orri_pseg_rhash_update(struct orri_pseg_rhash *h, const void *data,
                                size_t len);
uint64_t orri_pseg_rhash_final(const struct orri_pseg_rhash *h);
uint64_t orri_pseg_record_check(const void *data, size_t len);

/* The checksum of a chunk of layout 1, fed record by record: its
 * seg_check is orri_pseg_check (XXH64) over the little-endian 8-byte
 * orri_pseg_record_check of each record, in order. */
void orri_pseg_fold(struct orri_pseg_hash *h, uint64_t record_check);

struct orri_pseg_reader;

/* A reader of the segments of `dir` (copied); it keeps the last file
 * open and a buffer for the payload. */
int  orri_pseg_reader_new(const char *dir, struct orri_pseg_reader **out,
                          struct orr_error *e);
/* Read `len` bytes of segment `name` at `offset` and check them against
 * `check`.  *data (the reader's buffer, valid until the next call) gets
 * them.  ORR_ECORRUPT with e->msg saying why (a refused name, a missing
 * or short file, a checksum mismatch); ORR_ENOMEM. */
int  orri_pseg_read(struct orri_pseg_reader *r, const char *name,
                    int64_t offset, size_t len, uint64_t check,
                    const unsigned char **data, struct orr_error *e);
/* The same for a chunk of layout 1: its `n` records of rec_len[i] bytes
 * each (summing to `len`, else ORR_ECORRUPT before any read), checked
 * against the fold of their checksums (orri_pseg_record_check,
 * orri_pseg_fold). */
int  orri_pseg_read_records(struct orri_pseg_reader *r, const char *name,
                            int64_t offset, size_t len, uint64_t check,
                            const size_t *rec_len, size_t n,
                            const unsigned char **data,
                            struct orr_error *e);
/* NULL ok. */
void orri_pseg_reader_free(struct orri_pseg_reader *r);

#endif
