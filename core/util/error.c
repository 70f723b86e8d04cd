/*
 * util/error.c - status text and the error record.
 */
#include "util/error.h"

#include <stdio.h>
#include <string.h>

/* An exhaustive switch with no default: -Wswitch flags a missing status. */
ORR_API const char *orr_strerror(int code)
{
    switch ((enum orr_status)code) {
    case ORR_OK:           return "success";
    case ORR_ENOMEM:       return "out of memory";
    case ORR_EINVAL:       return "invalid argument";
    case ORR_ENOTFOUND:    return "not found";
    case ORR_EIO:          return "input/output error";
    case ORR_ETIMEDOUT:    return "timed out";
    case ORR_EUNSUPPORTED: return "operation not supported by this backend";
    case ORR_EABI:         return "plugin is not binary compatible";
    case ORR_EBACKEND:     return "backend failure";
    case ORR_ECORRUPT:     return "stored data is corrupt";
    case ORR_EEXIST:       return "already exists";
    case ORR_EPERM:        return "not permitted";
    case ORR_ECONFIG:      return "invalid configuration";
    case ORR_ESCRIPT:      return "script error";
    case ORR_ECANCELED:    return "cancelled";
    case ORR_EBUSY:        return "resource busy";
    case ORR_ENETWORK:     return "network error";
    case ORR_STATUS_LAST:  break;
    }
    return "unknown status";
}

ORR_API int orr_failv(struct orr_error *e, int code, const char *fmt,
                      va_list ap)
{
    if (!e)
        return code;
    /* Format into a scratch buffer so callers may pass e->msg as an
     * argument (wrapping a previous message). */
    char tmp[ORR_ERROR_MSG_SIZE];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    memcpy(e->msg, tmp, sizeof tmp);
    e->code = code;
    return code;
}

ORR_API int orr_fail(struct orr_error *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    orr_failv(e, code, fmt, ap);
    va_end(ap);
    return code;
}

ORR_API int orr_error_prefix(struct orr_error *e, const char *fmt, ...)
{
    if (!e)
        return ORR_OK;
    char head[ORR_ERROR_MSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    /* head ": " old-message, truncated to the buffer. */
    char tmp[ORR_ERROR_MSG_SIZE];
    size_t cap = sizeof tmp - 1, n = 0;
    const char *parts[3] = {head, ": ", e->msg};
    for (int i = 0; i < 3 && n < cap; i++) {
        size_t len = strlen(parts[i]);
        if (len > cap - n)
            len = cap - n;
        memcpy(tmp + n, parts[i], len);
        n += len;
    }
    tmp[n] = '\0';
    memcpy(e->msg, tmp, n + 1);
    return e->code;
}

ORR_API void orr_error_clear(struct orr_error *e)
{
    if (e) {
        e->code = ORR_OK;
        e->msg[0] = '\0';
    }
}
