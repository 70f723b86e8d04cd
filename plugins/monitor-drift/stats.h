/*
 * stats.h - the numerical kernels of monitor-drift: the radix sort and
 * the distributions behind the p-values, each written to give the same
 * numbers as SciPy 1.10 (the function it mirrors is named on each).
 * Internal to the plugin (hidden symbols).
 */
#ifndef DRIFT_STATS_H
#define DRIFT_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Sort `n` finite doubles ascending with an LSD radix sort on their IEEE
 * bits (negatives handled by the usual sign flip).  `tmp` holds 2 * n
 * uint64_t of scratch.  NaN, if any slipped through, sorts last. */
void drift_sort(double *a, size_t n, uint64_t *tmp);

/* Two-sided p-value of the two-sample KS statistic `d` for sample sizes
 * n1 and n2, as scipy.stats.ks_2samp(method='auto'): exact when
 * max(n1, n2) <= 10000 (falling back to the asymptotic distribution
 * where SciPy does), else kstwo.sf(d, round(n1 n2 / (n1 + n2))).
 * `*exact` gets 1 when the exact distribution was used; in that case the
 * statistic is rounded to a multiple of 1/lcm(n1, n2) as SciPy does and
 * written back to `*d`. */
double drift_ks_pvalue(size_t n1, size_t n2, double *d, int *exact);

/* scipy.stats.kstwo.sf(x, n): the two-sided one-sample Kolmogorov
 * statistic's survival function (Simard & L'Ecuyer's choice of method,
 * as SciPy's _kolmogn; see docs/monitor-drift.md for the deviations). */
double drift_kstwo_sf(double x, double n);

/* scipy.stats.chi2.sf(x, df). */
double drift_chi2_sf(double x, double df);

/* 2 * (1 - Phi(|z|)): the two-sided p-value of a z statistic. */
double drift_norm_2sf(double z);

#endif
