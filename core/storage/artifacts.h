/*
 * storage/artifacts.h - the core's side of storage: the site's blob store
 * as files and buffers.
 *
 * These wrap the storage backend's callbacks: they stream files in fixed
 * chunks (never the whole file in memory), verify what they read, and
 * publish downloaded files atomically (temporary file, fsync, rename), so a
 * corrupt or interrupted read never leaves a file at the destination.
 */
#ifndef ORRI_STORAGE_ARTIFACTS_H
#define ORRI_STORAGE_ARTIFACTS_H

#include <stddef.h>

#include <orrery/storage.h>

#include "api.h"
#include "plugin/instance.h"

/* Chunk size for streaming (1 MiB). */
#define ORR_STREAM_CHUNK (1u << 20)

ORR_API int orr_storage_put_file(struct orr_instance *st, const char *path,
                                 char digest[ORR_DIGEST_HEX_LEN + 1],
                                 struct orr_error *e);
ORR_API int orr_storage_put_buf(struct orr_instance *st, const void *data,
                                size_t len,
                                char digest[ORR_DIGEST_HEX_LEN + 1],
                                struct orr_error *e);
/* Write the verified blob to `path` atomically; parent dirs must exist. */
ORR_API int orr_storage_get_file(struct orr_instance *st, const char *digest,
                                 const char *path, struct orr_error *e);
/* Read a blob of at most `max` bytes into a malloc'ed buffer (NUL-
 * terminated for convenience; caller frees).  ORR_EINVAL if larger. */
ORR_API int orr_storage_get_buf(struct orr_instance *st, const char *digest,
                                size_t max, void **data, size_t *len,
                                struct orr_error *e);
ORR_API int orr_storage_stat(struct orr_instance *st, const char *digest,
                             struct orr_blob_info *info, struct orr_error *e);
ORR_API int orr_storage_list(struct orr_instance *st, const char *prefix,
                             orr_blob_fn fn, void *ctx, struct orr_error *e);
ORR_API int orr_storage_remove(struct orr_instance *st, const char *digest,
                               struct orr_error *e);

/* 1 if `s` is exactly 64 lower-case hex digits. */
ORR_API int orr_digest_is_valid(const char *s);

#endif
