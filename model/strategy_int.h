/*
 * strategy_int.h — internals shared by the strategy files (strategies.c
 * holds local, remoting, blind and the registry; strategy_genie.c the
 * genie planner).
 */
#ifndef GN_STRATEGY_INT_H
#define GN_STRATEGY_INT_H

#include "strategy.h"

/* A numeric option a strategy accepts. */
typedef struct gn__opt_spec {
    const char *key;
    double *value;   /* set when present */
    double lo, hi;   /* accepted range */
} gn__opt_spec;

/*
 * Reads numeric options listed in SPECS and the "disable" list (names from
 * SWITCHES, setting DISABLED[i]); any other key is a GN_ESCHEMA error
 * naming it.  0 or GN_ESCHEMA with ERR.
 */
int gn__strategy_options(const gn_plan_input *in, const gn__opt_spec *specs,
                         const char *const *switches, int *disabled,
                         gn_error *err);

/* The genie strategy (strategy_genie.c). */
extern const gn_strategy_ops gn__genie_ops;

#endif /* GN_STRATEGY_INT_H */
