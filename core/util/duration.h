/*
 * util/duration.h - durations as people write them in commands and site
 * files: "90s", "30m", "12h", "7d", "0", or plain seconds.
 */
#ifndef ORRI_UTIL_DURATION_H
#define ORRI_UTIL_DURATION_H

#include <stdint.h>

/* `s` in milliseconds; -1 if NULL, malformed, negative or over 100
 * years. */
int64_t orri_duration_ms(const char *s);

#endif
