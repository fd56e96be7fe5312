/*
 * cost.h — the cost model: how long an op or a transfer takes.
 *
 * All costs are estimates in seconds (one unit throughout the planner).
 * An op runs at the roofline of the device it is placed on, scaled by the
 * device's achievable efficiency:
 *
 *     t = max(flops / (peak(dtype) * eff_compute), bytes / (mem_bw * eff_memory))
 *
 * (the host-side launch cost is separate: plan tasks carry it as issue
 * time, so launches overlap with execution as they do on a real stream).
 * A transfer of S bytes over a link of bandwidth B and latency L takes
 * L + S / B — the SimGrid backend is configured to reproduce exactly this
 * (sim/README.md).
 */
#ifndef GN_COST_H
#define GN_COST_H

#include "graph.h"
#include "platform.h"

/* Execution time of node ID of G on GPU, seconds (0 for views). */
double gn_cost_op_gpu(const gn_gpu_spec *gpu, const gn_graph *g, uint32_t id);

/* Time to move BYTES over a link of BW bytes/s and LATENCY s. */
double gn_cost_transfer(double bytes, double bw, double latency);

/* Whether node ID launches device work (views and fills of nothing do
 * not: they are metadata on the issuing host). */
int gn_cost_launches(const gn_graph *g, uint32_t id);

/* Host memory bandwidth used for ops on a host CPU (copies, concats),
 * bytes/s: one socket's achievable streaming bandwidth. */
#define GN_COST_HOST_MEM_BW 20e9

/* Execution time of node ID of G on a host CPU of FLOPS FLOP/s with
 * GN_COST_HOST_MEM_BW of memory bandwidth, seconds (roofline). */
double gn_cost_op_host(double flops, const gn_graph *g, uint32_t id);

/*
 * Recompute or transfer (DESIGN.md).  Tensors NEED[0..N) of step graph G
 * must become available on one device.  A tensor t is there already
 * (HAVE[t] != 0), or is transferred there (XFER_S[t] seconds; INFINITY
 * when it cannot be), or is recomputed there: its producer p runs there
 * (RUN_S[p] seconds; INFINITY when it may not; views cost 0) once its own
 * inputs are made available the same way.  Every tensor and every
 * recomputed node is paid once, however many need it.
 *
 * gn_cost_recompute_eval prices a decision: RECOMPUTE[p] != 0 for the
 * producers to rerun (tensors of other producers are transferred).
 * Returns seconds, INFINITY when the decision is infeasible.
 *
 * gn_cost_recompute_choose decides by a recursive minimum of
 * transfer(t) against run(p) + the cost of p's inputs, to DEPTH producer
 * levels (exact on trees; on shared sub-DAGs shared inputs are counted
 * once per use while comparing, once in the result).  Writes the
 * decision into RECOMPUTE (NNODES entries, cleared first) and returns its
 * eval cost.  Arrays are indexed by G's tensor and node ids; only the
 * entries within DEPTH + 1 levels of NEED are read.
 */
double gn_cost_recompute_eval(const gn_graph *g, const double *xfer_s,
                              const double *run_s, const unsigned char *have,
                              const uint32_t *need, uint32_t n,
                              const unsigned char *recompute);
double gn_cost_recompute_choose(const gn_graph *g, const double *xfer_s,
                                const double *run_s, const unsigned char *have,
                                const uint32_t *need, uint32_t n, int depth,
                                unsigned char *recompute);

#endif /* GN_COST_H */
