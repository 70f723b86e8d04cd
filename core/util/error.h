/*
 * util/error.h - filling struct orr_error (the core's side of host->fail).
 */
#ifndef ORRI_UTIL_ERROR_H
#define ORRI_UTIL_ERROR_H

#include <stdarg.h>

#include <orrery/status.h>

#include "api.h"

/* Fill `e` (may be NULL) with `code` and the formatted message, truncated to
 * fit; return `code`.  Formatting from `e->msg` itself is allowed. */
ORR_API int orr_fail(struct orr_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
ORR_API int orr_failv(struct orr_error *e, int code, const char *fmt,
                      va_list ap) __attribute__((format(printf, 3, 0)));

/* Prepend "what: " to an error already in `e`, keeping its code; returns
 * the code.  Used to add context as an error travels up. */
ORR_API int orr_error_prefix(struct orr_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reset `e` to ORR_OK and an empty message. */
ORR_API void orr_error_clear(struct orr_error *e);

#endif
