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

/* Execution time of node ID of G on a CPU of FLOPS FLOP/s, seconds. */
double gn_cost_op_cpu(double flops, const gn_graph *g, uint32_t id);

/* Time to move BYTES over a link of BW bytes/s and LATENCY s. */
double gn_cost_transfer(double bytes, double bw, double latency);

/* Whether node ID launches device work (views and fills of nothing do
 * not: they are metadata on the issuing host). */
int gn_cost_launches(const gn_graph *g, uint32_t id);

#endif /* GN_COST_H */
