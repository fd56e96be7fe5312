/*
 * strategy.h — planners that turn a session into a plan (DESIGN.md).
 *
 * A strategy is a versioned ops table, like a SQLite VFS: the table only
 * ever grows at the end, and built-in strategies use the same table an
 * external one would.  Built-ins:
 *
 *   local     the accelerator sits in the client (the upper bound);
 *   remoting  CUDA-API remoting (rCUDA-like): device-resident tensors,
 *             one remote call per op, asynchronous pipelined launches,
 *             a round trip at every read;
 *   blind     semantics-free offload of each step as a whole graph, with a
 *             content-hash cache (weights go once), but changing state
 *             (the KV cache) shipped both ways every step;
 *   genie     semantic (model/strategy_genie.c): weight residency, KV
 *             cache co-located with the decode computation, the step plan
 *             cached on the node (one request per step), batched
 *             transfers, and family-specific placement over all the
 *             platform's GPUs, read from the semantic analysis: embedding
 *             tables sharded near their lookups (RecSys), the two
 *             encoders of a multimodal model on different GPUs (VQA), a
 *             detector's head towers as parallel stages (vision), and
 *             recompute-vs-transfer by the cost model.  Each optimisation
 *             can be switched off by name; regions the analysis is not
 *             confident about are planned conservatively, with a warning.
 */
#ifndef GN_STRATEGY_H
#define GN_STRATEGY_H

#include <jansson.h>

#include "error.h"
#include "plan.h"
#include "platform.h"
#include "semantic.h"
#include "session.h"

#define GN_STRATEGY_VERSION 1

/* Receives one warning line (borrowed for the call) from a planner. */
typedef void (*gn_warn_fn)(void *ctx, const char *msg);

/* What a strategy plans from.  All pointers are borrowed.  Fields are only
 * ever added at the end, so zero-initialised new fields keep old callers
 * working. */
typedef struct gn_plan_input {
    const gn_session *session;  /* finalized session */
    const gn_platform *platform;
    int weights_resident;       /* weights already on the remote device at start (warm) */
    const json_t *options;      /* strategy options object, may be NULL */
    const char *file;           /* for error messages: experiment file */
    const char *path;           /* JSON path of the options object */
    const gn_analysis *analysis; /* semantic analysis of session, NULL: the planner runs the built-in one */
    gn_warn_fn warn;            /* where warnings go (low confidence, fallbacks), NULL: dropped */
    void *warn_ctx;             /* passed to warn */
} gn_plan_input;

typedef struct gn_strategy_ops {
    int version;                   /* GN_STRATEGY_VERSION */
    const char *name;              /* "genie" */
    const char *summary;           /* one line for --help */
    const char *const *switches;   /* optimisations that "disable" may name; NULL-terminated, may be NULL */
    /*
     * Builds the plan of IN into *OUT (new, caller owns).  Returns 0, or a
     * negative code with ERR naming the bad option or the reason the
     * session cannot be planned.
     */
    int (*plan)(const gn_plan_input *in, gn_plan **out, gn_error *err);
} gn_strategy_ops;

/* Returns the built-in strategy NAME (static), or NULL. */
const gn_strategy_ops *gn_strategy_find(const char *name);

/* Returns the built-in strategies, NULL-terminated (static). */
const gn_strategy_ops *const *gn_strategy_all(void);

/* Convenience: finds STRATEGY and runs its planner. */
int gn_strategy_plan(const char *strategy, const gn_plan_input *in,
                     gn_plan **out, gn_error *err);

#endif /* GN_STRATEGY_H */
