/*
 * compare.h — the simulator checked against the real runtime (issue 4).
 *
 * Joins the runs of a genie-sim experiment and a genie-real experiment
 * stored in one database on (workload, strategy, point) and reports how
 * far the prediction is from the measurement: per run the end-to-end
 * latency error and the median and worst error of the step durations
 * (a step ends with its last event); per strategy the median and worst
 * absolute error; per workload and point whether the strategies' ranking
 * by latency is the same, and the same for the pairs of strategies the
 * measurement separates (the ranges of their repeated runs are apart:
 * an order within run-to-run noise is no order to match); and a gnuplot plot of predicted against
 * measured latency.  Where genie-real ran a point several times
 * (--repeat), one of the repeats stands for the point — the fastest
 * (GN_COMPARE_MIN) or the median one — and the step errors are that
 * run's.  The fastest is the estimator that matches the simulator: a
 * calibrated platform describes the machine uncontended (calibration
 * keeps each op's fastest run), and other processes only ever add time
 * to a real run; the median shows what a run typically meets.
 */
#ifndef GN_COMPARE_H
#define GN_COMPARE_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

typedef enum gn_compare_estimator {
    GN_COMPARE_MIN,    /* the fastest of the repeats */
    GN_COMPARE_MEDIAN, /* the median repeat (the lower one of an even count) */
} gn_compare_estimator;

/* Prints the comparison of experiments SIM and REAL to OUT and, when PNG
 * is not NULL, draws the plot.  0, GN_ENOTFOUND (no common run), GN_EDB
 * or GN_EIO (gnuplot) with ERR. */
int gn_report_compare(sqlite3 *db, int64_t sim, int64_t real, gn_compare_estimator est, FILE *out,
                      const char *png, gn_error *err);

/* The newest experiment with runs of BACKEND ("sim", "real") and, when
 * NAME is not NULL, that name; -1 if none. */
int64_t gn_report_newest(sqlite3 *db, const char *backend, const char *name);

#endif /* GN_COMPARE_H */
