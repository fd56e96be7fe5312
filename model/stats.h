/*
 * stats.h — order statistics of measured samples (timings, errors).
 */
#ifndef GN_STATS_H
#define GN_STATS_H

#include <stddef.h>

/* qsort comparator of doubles, ascending (NaNs compare equal to all). */
int gn_cmp_double(const void *a, const void *b);

/* The median of the N values V, which it sorts in place: the mean of
 * the middle two for an even N; NaN for N == 0. */
double gn_median(double *v, size_t n);

#endif /* GN_STATS_H */
