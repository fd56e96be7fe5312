/*
 * metrics.h — run-level figures computed from a plan and the times a
 * backend measured for its tasks.  The same code serves the simulator and
 * the real runtime, so their figures mean the same thing.
 */
#ifndef GN_METRICS_H
#define GN_METRICS_H

#include <stdint.h>

#include "plan.h"

typedef struct gn_metrics {
    double latency_s;        /* end-to-end: last task end, s */
    double ttft_s;           /* end of step 0 (prefill), s */
    double step_s;           /* mean time per later step (decode), s */
    double tokens;           /* tokens produced (batch per step) */
    double tokens_per_s;     /* tokens / latency */
    double net_bytes;        /* bytes over the network, both directions */
    double net_messages;     /* transfers over the network */
    double gpu_busy_s;       /* compute time on accelerators, s */
    double gpu_busy_pct;     /* gpu_busy_s / (latency x GPUs used), % */
    double tasks;            /* plan tasks */
} gn_metrics;

/* Computes M from PLAN and per-task START/END (s).  BATCH is the number of
 * sequences (tokens per step). */
void gn_metrics_compute(const gn_plan *plan, const double *start,
                        const double *end, double batch, gn_metrics *m);

#endif /* GN_METRICS_H */
