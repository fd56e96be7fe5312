/*
 * report.h — tables and plots of an experiment, read back from SQLite.
 *
 * Reports are made from the stored results only (never from a backend's
 * memory), so rerunning a report on an old database gives the same table.
 */
#ifndef GN_REPORT_H
#define GN_REPORT_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

/*
 * Prints the table of experiment EXPERIMENT to OUT: per workload and sweep
 * point, each strategy's latency, tokens/s, network bytes and GPU busy %,
 * and for genie strategies the change against the best of remoting and
 * blind.  0 or GN_EDB with ERR.
 */
int gn_report_table(sqlite3 *db, int64_t experiment, FILE *out, gn_error *err);

/*
 * Draws PNG (latency and network bytes against the first sweep axis, one
 * line per strategy, one row of panels per workload) with gnuplot through
 * a pipe.  XLABEL labels the x axis.  0, GN_EDB, or GN_EIO when gnuplot
 * is missing or fails (ERR says which).
 */
int gn_report_plot(sqlite3 *db, int64_t experiment, const char *png,
                   const char *xlabel, gn_error *err);

#endif /* GN_REPORT_H */
