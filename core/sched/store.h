/*
 * sched/store.h - the `schedules` table of the metadata store (schema
 * migration 5): what `orrery schedule` writes and `orrery scheduler`
 * reads, plus the last fire time the scheduler records per schedule.
 *
 * A store is one SQLite connection; use it from one thread.
 */
#ifndef ORRI_SCHED_STORE_H
#define ORRI_SCHED_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <orrery/status.h>

struct orri_sched;

struct orri_schedule {
    int64_t id;
    char   *name;
    char   *workflow;       /* absolute path of the workflow file         */
    char   *cron;           /* the five-field expression, as given        */
    char   *params;         /* JSON object of string values               */
    int64_t created_s;
    int64_t last_fire_s;    /* 0: never fired                             */
};

/* Open the store at db_path, migrating the database first if needed
 * (it must exist: the metadata store creates it). */
int  orri_sched_open(struct orri_sched **out, const char *db_path,
                     struct orr_error *e);
void orri_sched_close(struct orri_sched *s);

/* ORR_EEXIST if the name is taken. */
int orri_sched_add(struct orri_sched *s, const struct orri_schedule *sc,
                   int64_t *id, struct orr_error *e);
/* All schedules, by id. */
int  orri_sched_list(struct orri_sched *s, struct orri_schedule **out,
                     size_t *n, struct orr_error *e);
void orri_sched_list_free(struct orri_schedule *v, size_t n);
/* By decimal id, else by name; ORR_ENOTFOUND if neither matches. */
int orri_sched_remove(struct orri_sched *s, const char *id_or_name,
                      struct orr_error *e);
int orri_sched_set_last(struct orri_sched *s, int64_t id, int64_t fire_s,
                        struct orr_error *e);

#endif
