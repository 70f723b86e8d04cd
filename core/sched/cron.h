/*
 * sched/cron.h - five-field cron expressions and their fire times.
 *
 * Fields: minute (0-59) hour (0-23) day-of-month (1-31) month (1-12 or
 * JAN-DEC) day-of-week (0-7 or SUN-SAT, 0 and 7 are Sunday).  Each field
 * is a comma list of `*`, `N`, `N-M`, each optionally followed by `/STEP`
 * (`N/STEP` means N to the field's maximum).  As in Vixie cron, when both
 * day fields are restricted (neither starts with `*`) a day matches if
 * EITHER matches; otherwise both must.
 *
 * All times are seconds since the Unix epoch and are evaluated in UTC:
 * a schedule means the same instants on every host and never fires twice
 * or not at all across a daylight-saving change.
 */
#ifndef ORRI_SCHED_CRON_H
#define ORRI_SCHED_CRON_H

#include <stddef.h>
#include <stdint.h>

#include <orrery/status.h>

struct orri_cron {
    uint64_t minute;    /* bit N set: minute N matches                    */
    uint32_t hour;
    uint32_t dom;       /* bits 1-31                                      */
    uint32_t month;     /* bits 1-12                                      */
    uint32_t dow;       /* bits 0-6, Sunday 0                             */
    int      dom_star;  /* the field started with '*'                     */
    int      dow_star;
};

/* Parse `expr`.  On error returns ORR_EINVAL, fills `e` with
 * "cron: column N: ..." and sets *col (if not NULL) to the 1-based
 * column of the offending character. */
int orri_cron_parse(struct orri_cron *c, const char *expr, int *col,
                    struct orr_error *e);

/* The first fire time strictly after `after`, in *next.  ORR_ENOTFOUND
 * if none falls within the next eight years (e.g. "0 0 30 2 *"). */
int orri_cron_next(const struct orri_cron *c, int64_t after, int64_t *next);

/* Fire times in the window (after, until]: how many (at most `cap`;
 * counting stops there) in *count and the latest in *last (0 if none).
 * Takes time proportional to the number of fire times in the window. */
void orri_cron_window(const struct orri_cron *c, int64_t after,
                      int64_t until, int64_t cap, int64_t *count,
                      int64_t *last);

/* "YYYY-MM-DDTHH:MM[:SS][Z]" (UTC) to epoch seconds; ORR_EINVAL if
 * malformed. */
int orri_iso_parse(const char *s, int64_t *out, struct orr_error *e);
/* Epoch seconds as "YYYY-MM-DDTHH:MM:SSZ" into buf (>= 21 bytes). */
const char *orri_iso_format(int64_t t, char *buf, size_t cap);

#endif
