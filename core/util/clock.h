/*
 * util/clock.h - the wall clock as the store records it.
 */
#ifndef ORRI_UTIL_CLOCK_H
#define ORRI_UTIL_CLOCK_H

#include <stdint.h>

/* Now, in Unix milliseconds (CLOCK_REALTIME): the time recorded for
 * runs, metrics, predictions and alerts. */
int64_t orri_now_ms(void);

#endif
