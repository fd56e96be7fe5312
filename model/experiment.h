/*
 * experiment.h — an experiment file: workloads × strategies × sweep points
 * over a platform (experiments/README.md documents the format).
 *
 * The experiment is data: this module validates it and expands it into
 * run points; it does not build sessions (workloads/ does) nor run plans
 * (backends do).
 */
#ifndef GN_EXPERIMENT_H
#define GN_EXPERIMENT_H

#include <jansson.h>
#include <stdint.h>

#include "error.h"
#include "platform.h"

typedef struct gn_exp_strategy {
    char label[64];        /* name shown in tables ("genie", "genie-no-kv") */
    char strategy[32];     /* built-in strategy it runs */
    json_t *options;       /* options object (borrowed from the document), may be NULL */
    char path[48];         /* JSON path of the options, for errors */
} gn_exp_strategy;

typedef struct gn_experiment {
    char *file;            /* path it was loaded from (owned) */
    char *text;            /* the file's exact content (owned), stored with results */
    json_t *doc;           /* parsed document (owned) */
    const char *name;      /* "llm_decode" (borrowed from doc) */
    json_t *workloads;     /* array of workload objects (borrowed) */
    gn_exp_strategy *strategies;
    uint32_t nstrategies;
    json_t *sweep_keys;    /* array of dotted platform keys (owned), may be empty */
    json_t *sweep_values;  /* array of arrays of values (owned) */
    int weights_resident;  /* "weights": "resident" (1) or "upload" (0) */
    uint64_t seed;         /* for backends that generate data */
} gn_experiment;

/* Loads and validates PATH.  Returns a new experiment (caller owns;
 * gn_experiment_destroy) or NULL with ERR ("file: $.path: what"). */
gn_experiment *gn_experiment_load(const char *path, gn_error *err);

/* Frees E; NULL is a no-op. */
void gn_experiment_destroy(gn_experiment *e);

/* Number of sweep points (the product of the axes; 1 without a sweep). */
uint32_t gn_experiment_npoints(const gn_experiment *e);

/*
 * The platform of sweep point I: defaults, then the file's "platform",
 * then the point's values.  Writes a label ("network.bandwidth_gbps=25")
 * into LABEL and the point's first value into *X (for plots; NaN when not
 * numeric).  0 or GN_ESCHEMA with ERR.
 */
int gn_experiment_platform(const gn_experiment *e, uint32_t i,
                           gn_platform *out, char *label, size_t len,
                           double *x, gn_error *err);

#endif /* GN_EXPERIMENT_H */
