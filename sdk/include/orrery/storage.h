/*
 * orrery/storage.h - the storage backend interface (a content-addressed
 * blob store).
 *
 * Every artifact Orrery keeps - datasets, models, reports, step outputs,
 * logs - is a blob named by the SHA-256 of its bytes, written as 64
 * lower-case hex digits (a "digest").  Identical bytes are stored once.
 * A backend:
 *   - computes the digest while it streams a `put`, so the caller never
 *     needs to know it in advance;
 *   - makes a blob visible only once it is complete (write, then publish
 *     atomically), so a crash never exposes a half-written blob;
 *   - verifies every `get` against the digest and fails with ORR_ECORRUPT
 *     when the bytes do not match; bytes already handed to the writer
 *     callback must then be discarded by the caller (the core's helpers do
 *     this: they write into a temporary file and publish it only on
 *     success);
 *   - refuses any digest or prefix that is not lower-case hex (so no key can
 *     escape the backend's root).
 *
 * Data moves in fixed-size chunks through callbacks, so a 10 GiB artifact
 * never sits in memory.
 *
 * Compatibility: `version` comes first; members are only appended.  The
 * host reads only the members that `version` covers.
 */
#ifndef ORRERY_STORAGE_H
#define ORRERY_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct orr_cfg;

#define ORR_STORAGE_OPS_V1 1u
#define ORR_STORAGE_OPS_VERSION ORR_STORAGE_OPS_V1

/* Hex SHA-256 digest length, without the terminating NUL. */
#define ORR_DIGEST_HEX_LEN 64

/*
 * Source of bytes for put: copy at most `cap` bytes into `buf` and return
 * the count, 0 at end of data, or -1 on failure (after filling `e`).
 */
typedef int64_t (*orr_read_fn)(void *ctx, void *buf, size_t cap,
                               struct orr_error *e);

/* Sink of bytes for get: consume all `len` bytes; return ORR_OK or a status
 * (after filling `e`), which aborts the transfer. */
typedef int (*orr_write_fn)(void *ctx, const void *buf, size_t len,
                            struct orr_error *e);

/* What stat and list report about one blob. */
struct orr_blob_info {
    char     digest[ORR_DIGEST_HEX_LEN + 1];
    uint64_t size;      /* bytes                                             */
    int64_t  mtime;     /* Unix seconds when stored, or 0 if unknown         */
};

/* Called once per blob by list; a non-zero return stops the listing and is
 * returned by list. */
typedef int (*orr_blob_fn)(void *ctx, const struct orr_blob_info *info);

struct orr_storage_ops {
    unsigned    version;    /* ORR_STORAGE_OPS_V1                            */
    const char *name;       /* backend name as sites select it: "fs", "s3"   */
    const char *summary;    /* one line for `orrery plugins`                 */
    size_t      self_size;  /* bytes the host zero-allocates per instance    */

    /* Open an instance on the backend's section of the site configuration
     * (`cfg`, borrowed for this call only).  Mandatory. */
    int (*open)(void *self, const struct orr_cfg *cfg, struct orr_error *e);

    /* Release what open acquired.  Must cope with a self that open left
     * half-initialised (the host calls close after a failed open too).
     * Mandatory. */
    void (*close)(void *self);

    /* Store all bytes from `read` as one blob; on success write its digest
     * (NUL-terminated) into `digest`.  Storing bytes that already exist
     * succeeds without duplicating them.  `size_hint` is the expected byte
     * count or -1 if unknown.  Mandatory. */
    int (*put)(void *self, orr_read_fn read, void *read_ctx,
               int64_t size_hint, char digest[ORR_DIGEST_HEX_LEN + 1],
               struct orr_error *e);

    /* Stream the blob `digest` to `write`, verifying it.  ORR_ENOTFOUND if
     * absent, ORR_ECORRUPT if its bytes no longer match.  Mandatory. */
    int (*get)(void *self, const char *digest, orr_write_fn write,
               void *write_ctx, struct orr_error *e);

    /* Fill `info` for `digest`; ORR_ENOTFOUND if absent.  Mandatory. */
    int (*stat)(void *self, const char *digest, struct orr_blob_info *info,
                struct orr_error *e);

    /* Call `fn` for every blob whose digest starts with `prefix` (hex, may
     * be empty), in no particular order.  Mandatory. */
    int (*list)(void *self, const char *prefix, orr_blob_fn fn, void *ctx,
                struct orr_error *e);

    /* Delete a blob; ORR_ENOTFOUND if absent.  Mandatory. */
    int (*remove)(void *self, const char *digest, struct orr_error *e);

    /* Optional fast paths (NULL: the host streams through put/get).
     * put_file stores the file at `path`; get_file writes the verified blob
     * to `path`, creating it atomically (never a partial file at `path`). */
    int (*put_file)(void *self, const char *path,
                    char digest[ORR_DIGEST_HEX_LEN + 1], struct orr_error *e);
    int (*get_file)(void *self, const char *digest, const char *path,
                    struct orr_error *e);
};

#ifdef __cplusplus
}
#endif
#endif /* ORRERY_STORAGE_H */
