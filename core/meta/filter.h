/*
 * meta/filter.h - the run filter language compiled to SQL.
 *
 *     metrics.auc > 0.95 and params.depth = 4 and tags.team = 'risk'
 *
 * The compiler appends SQL text made only of fixed fragments to an
 * orri_sql and every user-supplied key and value to its bind list, in the
 * order of their `?` placeholders: a filter can never change the shape of
 * the statement.  docs/tracking.md has the grammar.
 *
 * Internal to core/meta/ (query.c uses it; the unit tests include it).
 */
#ifndef ORRI_META_FILTER_H
#define ORRI_META_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include <orrery/status.h>

#include "util/buf.h"

enum orri_bind_type { ORRI_BIND_INT, ORRI_BIND_REAL, ORRI_BIND_TEXT };

struct orri_bind {
    enum orri_bind_type type;
    int64_t             i;
    double              d;
    char               *s;      /* owned                                  */
};

/* SQL text with its positional parameters, in order. */
struct orri_sql {
    struct orr_buf    text;
    struct orri_bind *binds;
    size_t            n, cap;
};

void orri_sql_free(struct orri_sql *q);
int  orri_sql_puts(struct orri_sql *q, const char *fragment);
int  orri_sql_bind_int(struct orri_sql *q, int64_t v);
int  orri_sql_bind_real(struct orri_sql *q, double v);
int  orri_sql_bind_text(struct orri_sql *q, const char *s, size_t len);
/* Bind every parameter of `q` to `st` (1-based, in order). */
int  orri_sql_bind_all(sqlite3_stmt *st, const struct orri_sql *q);

/* Append the condition for `filter` (a parenthesised boolean SQL
 * expression over the alias `r` of runs).  An empty or blank filter
 * appends "1".  Errors are ORR_EINVAL with "filter: column N: ..." and
 * the filter echoed with a caret under column N. */
int orri_filter_compile(const char *filter, struct orri_sql *out,
                        struct orr_error *e);

/* Append the value expression a run list is ordered by: "start" (the
 * default when `key` is NULL or empty), "end", "duration", "status",
 * "workflow", "user", "host", "id", "metrics.K[.last|.min|.max]",
 * "params.K" or "tags.K".  ORR_EINVAL for anything else. */
int orri_sort_compile(const char *key, struct orri_sql *out,
                      struct orr_error *e);

/* SQL function orr_num(text): the number a param or tag value spells
 * (strtod, whole string), else NULL.  Registered once per connection. */
int orri_filter_register(sqlite3 *db);

#endif
