/*
 * meta/query.h - reading runs back: search with a filter, one run in
 * full, export and import, and the durability hooks (flusher, signals).
 *
 * Filters and sort keys are the language of docs/tracking.md, compiled to
 * SQL with bound parameters only (meta/filter.h).  Lists are paginated by
 * an opaque cursor over (sort value, run row) so pages never skip or
 * repeat a run while runs are being added.
 *
 * Every function flushes this connection's buffered metric points first,
 * so a process sees its own points.
 */
#ifndef ORRI_META_QUERY_H
#define ORRI_META_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api.h"
#include "meta/meta.h"

/* Longest cursor string, NUL included. */
#define ORR_CURSOR_SIZE 1200
/* Runs per page when none is asked for, and the most one page may hold. */
#define ORR_RUNS_LIMIT_DEFAULT 100
#define ORR_RUNS_LIMIT_MAX     10000

struct orr_runs_query {
    const char *filter;     /* or NULL/"" for every run                  */
    const char *order_by;   /* sort key, NULL = "start"                  */
    int         ascending;  /* 0: descending (the default)               */
    size_t      limit;      /* 0 = ORR_RUNS_LIMIT_DEFAULT                */
    const char *cursor;     /* from the previous page, or NULL           */
};

/* How a sort value came back (runs without the key sort last). */
enum orr_value_type { ORR_VALUE_NULL = 0, ORR_VALUE_INT, ORR_VALUE_REAL,
                      ORR_VALUE_TEXT };

struct orr_run_row {
    char                id[ORR_RUN_ID_SIZE];
    char               *workflow, *status, *user, *host;   /* or NULL  */
    int64_t             start_ms;
    int64_t             end_ms;     /* 0 while running                   */
    enum orr_value_type sort_type;
    int64_t             sort_int;
    double              sort_real;
    char               *sort_text;
};

struct orr_run_list {
    struct orr_run_row *rows;
    size_t              n;
    char                next_cursor[ORR_CURSOR_SIZE];  /* "" = last page */
};

/* One page of runs.  Bad filters, sort keys and cursors are ORR_EINVAL
 * with a message pointing at the column.  Free with orr_run_list_free. */
ORR_API int orr_meta_runs_list(struct orr_meta *m,
                               const struct orr_runs_query *q,
                               struct orr_run_list **out,
                               struct orr_error *e);
ORR_API void orr_run_list_free(struct orr_run_list *l);        /* NULL ok */

/* For tests: the EXPLAIN QUERY PLAN of the list statement, one detail
 * per line, in a malloc'ed string. */
ORR_API int orri_meta_runs_plan(struct orr_meta *m,
                                const struct orr_runs_query *q, char **out,
                                struct orr_error *e);

/* The full id of the run whose id is `prefix` or starts with it (at least
 * 4 hex digits).  ORR_ENOTFOUND "no run ...", ORR_EINVAL when several
 * runs match (the message lists two) or the text is not hex. */
ORR_API int orr_meta_run_resolve(struct orr_meta *m, const char *prefix,
                                 char id[ORR_RUN_ID_SIZE],
                                 struct orr_error *e);

/* A run as a JSON document:
 *   {"id", "workflow", "status", "user", "host", "script_path",
 *    "script_hash", "start_ms", "end_ms", "duration_ms",
 *    "params": {k: v}, "tags": {k: v},
 *    "metrics": {key: {"n", "last", "last_step", "last_ms", "min",
 *                      "max"}},
 *    "steps": [{"name", "status", "start_ms", "end_ms",
 *               "artifacts": [{"digest", "direction", "kind", "name",
 *                              "size"}]}]}
 * With `points` each metric also carries "points": [[step, time_ms,
 * value], ...] (that is the export document, with "format":
 * "orrery-run/1").  Numbers that are not finite are the strings "NaN",
 * "Infinity" and "-Infinity"; absent end/min/max are null. */
ORR_API int orr_meta_run_json(struct orr_meta *m, const char *run_id,
                              int points, json_t **out, struct orr_error *e);

/* Insert a run exported by orr_meta_run_json(points = 1), keeping its id,
 * times, status, steps, artifacts (records only: blobs are not copied)
 * and every metric point, in one transaction.  ORR_EEXIST if the run is
 * there already; ORR_EINVAL naming the bad field for a malformed
 * document. */
ORR_API int orr_meta_run_import(struct orr_meta *m, const json_t *doc,
                                char id[ORR_RUN_ID_SIZE],
                                struct orr_error *e);

/* A double as JSON: a real, or "NaN"/"Infinity"/"-Infinity". */
json_t *orri_json_double(double v);
/* The inverse; ORR_EINVAL for anything else. */
int orri_json_to_double(const json_t *v, double *out);

/* ---- durability (flusher.c) -------------------------------------------- */

/* Install SIGINT and SIGTERM handlers for this process: on either, every
 * open orr_meta commits its buffered points and marks the runs and steps
 * it began and did not end as cancelled; then the signal's default action
 * ends the process (exit status 128 + N in a shell).  Without an open
 * orr_meta the signal acts at once.  For programs (the CLI), not for
 * libraries embedding Orrery. */
ORR_API int orr_meta_handle_signals(struct orr_error *e);

/* Called by meta.c: at open (after the schema is ready), at close (before
 * anything is torn down), and when runs/steps begin and end. */
int  orri_meta_attach(struct orr_meta *m, struct orr_error *e);
void orri_meta_detach(struct orr_meta *m);
void orri_meta_track(struct orr_meta *m, int is_step, int64_t rowid,
                     int open);

#endif
