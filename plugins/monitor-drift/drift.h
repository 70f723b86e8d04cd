/*
 * drift.h - what the files of monitor-drift share: the in-memory form of
 * a "drift/1" profile (docs/monitor-drift.md documents the file) and the
 * functions that write and read it.  Internal to the plugin.
 */
#ifndef DRIFT_DRIFT_H
#define DRIFT_DRIFT_H

#include <stddef.h>
#include <stdint.h>

#include <orrery/host.h>

extern const struct orr_host *drift_host;

/*
 * One profiled column.  Numeric columns keep a reference summary: knots
 * v[0] < ... < v[m-1] (the reference's min and max included) with the
 * exact count of reference values <= v[j] (le) and < v[j] (lt).  When
 * `exact`, every distinct value is a knot, so the empirical CDF is known
 * everywhere; otherwise it is interpolated linearly between knots (the
 * error bounds are in docs/monitor-drift.md).
 */
struct dfeat {
    char   *name;
    int     categorical;
    double  missing;        /* reference rows missing (NaN, inf, masked)   */
    double  count;          /* reference rows present                      */
    double  mean, std, min, max;    /* std: population (ddof 0)            */
    double  distinct;       /* distinct present values (numeric)           */
    int     exact;
    size_t  m;
    double *v, *le, *lt;
    size_t  n_cat;          /* categorical: labels sorted, with counts     */
    char  **cat;
    double *cat_count;
};

struct dprofile {
    double        rows;
    size_t        n_feat;
    struct dfeat *feat;
    struct dfeat *target;   /* NULL if the reference had none              */
    size_t        n_pred;
    struct dfeat *pred;
};

struct dprofile_opts {
    size_t exact_max;       /* keep every distinct value up to this many   */
    size_t quantiles;       /* knots of an approximate summary             */
    size_t hist_bins;       /* bins of the chart histogram                 */
};

int  drift_profile_write(const struct orr_table *ref,
                         const struct orr_matrix *pred,
                         const struct dprofile_opts *o, const char *path,
                         struct orr_error *e);
int  drift_profile_read(const char *path, struct dprofile **out,
                        struct orr_error *e);
void drift_profile_free(struct dprofile *p);

/* Index of the last knot <= x (le_side) or < x (!le_side); -1 if none. */
long drift_knot_below(const struct dfeat *f, double x, int le_side);
/* Reference count <= x (le_side) or < x, interpolated between knots. */
double drift_ref_count(const struct dfeat *f, double x, int le_side);

/* Present values of a numeric column (or matrix column) as doubles: NaN,
 * infinities and masked rows are dropped (and counted in *missing); -0.0
 * becomes 0.0.  Returns a malloc'ed array (NULL with n == 0 is fine) or
 * NULL on ENOMEM with *oom set. */
double *drift_column_values(const struct orr_column *c, size_t rows,
                            size_t *n, size_t *missing, int *oom);
double *drift_matrix_values(const struct orr_matrix *x, size_t col,
                            size_t *n, size_t *missing, int *oom);
/* The same into caller memory of `rows` doubles; returns the count. */
size_t drift_column_into(const struct orr_column *c, size_t rows,
                         double *buf);
size_t drift_matrix_into(const struct orr_matrix *x, size_t col,
                         double *buf);

#endif
