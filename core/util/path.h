/*
 * util/path.h - file-system paths, and keeping user paths inside roots.
 *
 * Functions that produce a path write into caller memory of `cap` bytes and
 * fail with ORR_EINVAL (never truncate silently) when it does not fit.
 */
#ifndef ORRI_UTIL_PATH_H
#define ORRI_UTIL_PATH_H

#include <stddef.h>

#include <orrery/status.h>

/* out = a "/" b; if b is absolute, out = b. */
int orri_path_join(char *out, size_t cap, const char *a, const char *b,
                   struct orr_error *e);

/* The directory part of `path` ("." if none), without a trailing slash. */
int orri_path_dirname(char *out, size_t cap, const char *path,
                      struct orr_error *e);

/* Make `path` absolute against the current directory and remove "." and
 * ".." components lexically (no symlink resolution; the path need not
 * exist). */
int orri_path_absolute(char *out, size_t cap, const char *path,
                       struct orr_error *e);

/* 1 if `rel` is a safe relative key: non-empty, not absolute, no ".."
 * component, no empty component, no control characters.  Keys that pass
 * can be joined under a root without escaping it. */
int orri_path_is_safe_relative(const char *rel);

/* mkdir -p with mode 0777 & ~umask; ORR_OK if it exists as a directory. */
int orri_mkdir_p(const char *path, struct orr_error *e);

/* 1 if `path` names an existing regular file (following symlinks). */
int orri_path_is_file(const char *path);

#endif
