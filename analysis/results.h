/*
 * results.h — the results store: SQLite under a documented schema
 * (analysis/SCHEMA.md): experiments, runs, events, metrics.
 *
 * Every backend writes the same rows, so a simulated and a real run of
 * one experiment can be joined row for row.  Each experiment row keeps the
 * experiment file's exact text, the command line and the code revision,
 * so any figure can be traced back to its input.
 */
#ifndef GN_RESULTS_H
#define GN_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "metrics.h"
#include "plan.h"

typedef struct gn_results gn_results;

/* Opens (creating if needed) the database at PATH and its schema.
 * Returns a new handle (caller owns; gn_results_close) or NULL with ERR. */
gn_results *gn_results_open(const char *path, gn_error *err);

/* Closes R; NULL is a no-op. */
void gn_results_close(gn_results *r);

/* Adds an experiment row; returns its id (> 0) or a negative code. */
int64_t gn_results_add_experiment(gn_results *r, const char *name,
                                  const char *file, const char *config,
                                  const char *revision, const char *command,
                                  gn_error *err);

typedef struct gn_run_info {
    int64_t experiment;     /* experiment id */
    const char *backend;    /* "sim" or "real" */
    const char *workload;   /* workload label */
    const char *strategy;   /* strategy label */
    const char *options;    /* strategy options as JSON text, may be NULL */
    const char *point;      /* sweep point label */
    double x;               /* sweep point's first value (plots), NaN if none */
    double wall_s;          /* wall-clock time the backend took, s */
    const char *error;      /* NULL for a successful run */
} gn_run_info;

/*
 * Stores one run: its row, one event per plan task (START/END may be NULL
 * for a failed run) and the metrics M (may be NULL).  Returns the run id
 * or a negative code with ERR.  All in one transaction.
 */
int64_t gn_results_add_run(gn_results *r, const gn_run_info *info,
                           const gn_plan *plan, const double *start,
                           const double *end, const gn_metrics *m,
                           gn_error *err);

/* Adds metric NAME = VALUE (NaN: NULL) in UNIT to run RUN, e.g. a
 * backend's own figures (parity, node memory).  0 or GN_EDB with ERR. */
int gn_results_add_metric(gn_results *r, int64_t run, const char *name, double value, const char *unit,
                          gn_error *err);

/* The code revision stored with an experiment: `git describe --always
 * --dirty` of the source tree libgenie was built from, else "unknown".
 * Writes at most LEN bytes (NUL included) into BUF. */
void gn_results_revision(char *buf, size_t len);

/* Creates directory DIR and its parents (as mkdir -p).  0, or -1 with
 * errno set. */
int gn_results_mkdir(const char *dir);

/* The underlying connection (borrowed), for queries in reports. */
struct sqlite3 *gn_results_db(gn_results *r);

#endif /* GN_RESULTS_H */
