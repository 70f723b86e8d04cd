/*
 * util/log.c - the diagnostic log.
 */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int threshold = -1;  /* -1: not yet read from ORRERY_LOG */

ORR_API int orr_log_level_from_name(const char *name)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; name && i < 4; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

ORR_API int orr_log_level(void)
{
    if (threshold < 0) {
        int lv = orr_log_level_from_name(getenv("ORRERY_LOG"));
        threshold = lv < 0 ? ORR_LOG_WARN : lv;
    }
    return threshold;
}

ORR_API void orr_log_set_level(int level)
{
    threshold = level;
}

ORR_API void orr_log(int level, const char *who, const char *fmt, ...)
{
    static const char *const tags[] = {"error", "warning", "info", "debug"};
    if (level > orr_log_level())
        return;
    if (level < 0 || level > ORR_LOG_DEBUG)
        level = ORR_LOG_ERROR;
    /* Build the line first so concurrent writers do not interleave. */
    char line[2048];
    int n = snprintf(line, sizeof line, "orrery: %s: ", tags[level]);
    if (who && *who && n >= 0 && (size_t)n < sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, "[%s] ", who);
    if (n >= 0 && (size_t)n < sizeof line) {
        va_list ap;
        va_start(ap, fmt);
        n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
    }
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line - 1 ? (size_t)n : sizeof line - 2;
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}
