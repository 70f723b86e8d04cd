/*
 * util/duration.c - "90s", "30m", "12h", "7d" to milliseconds.
 */
#include "util/duration.h"

#include <stdlib.h>

#define MAX_MS (100LL * 365 * 86400 * 1000)

int64_t orri_duration_ms(const char *s)
{
    if (!s || *s < '0' || *s > '9')
        return -1;
    char *end = NULL;
    long long n = strtoll(s, &end, 10);
    int64_t unit = 1000;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        unit = 60 * 1000, end++;
    else if (*end == 'h')
        unit = 3600 * 1000, end++;
    else if (*end == 'd')
        unit = 86400 * 1000, end++;
    if (*end || n > MAX_MS / unit)
        return -1;
    return (int64_t)n * unit;
}
