/*
 * sched/sched_internal.h - what store.c and trigstore.c share: the store
 * is one SQLite connection to the site's metadata database.
 */
#ifndef ORRI_SCHED_SCHED_INTERNAL_H
#define ORRI_SCHED_SCHED_INTERNAL_H

#include <sqlite3.h>

#include <orrery/status.h>

struct orri_sched {
    sqlite3 *db;
};

/* Fill `e` from an SQLite result code (busy/locked: ORR_EBUSY,
 * constraint: ORR_EEXIST, else ORR_EIO), "doing: message". */
int orri_sched_sqlfail(struct orri_sched *s, int rc, struct orr_error *e,
                       const char *doing);

#endif
