/*
 * metrics.c — run-level figures from task times (see metrics.h).
 */
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

void gn_metrics_compute(const gn_plan *plan, const double *start,
                        const double *end, double batch, gn_metrics *m)
{
    uint32_t n = gn_plan_ntasks(plan), nd = gn_plan_ndevices(plan);
    unsigned char *used = calloc((size_t)nd + 1, 1);
    memset(m, 0, sizeof(*m));
    for (uint32_t t = 0; t < n; t++) {
        const gn_task *k = gn_plan_task(plan, t);
        if (end[t] > m->latency_s)
            m->latency_s = end[t];
        if (k->step == 0 && end[t] > m->ttft_s)
            m->ttft_s = end[t];
        if (k->kind == GN_TASK_TRANSFER && gn_plan_is_network(plan, k->device, k->dst)) {
            m->net_bytes += k->bytes;
            m->net_messages += 1;
        }
        if (k->kind == GN_TASK_COMPUTE && gn_plan_device(plan, (uint32_t)k->device)->is_gpu) {
            m->gpu_busy_s += end[t] - start[t];
            if (used)
                used[k->device] = 1;
        }
    }
    uint32_t ngpu = 0;
    for (uint32_t d = 0; used && d < nd; d++)
        ngpu += used[d];
    free(used);
    uint32_t steps = gn_plan_nsteps(plan);
    m->tasks = n;
    m->tokens = batch * steps;
    m->step_s = steps > 1 ? (m->latency_s - m->ttft_s) / (steps - 1) : m->latency_s;
    m->tokens_per_s = m->latency_s > 0 ? m->tokens / m->latency_s : 0;
    m->gpu_busy_pct = m->latency_s > 0 && ngpu ? 100 * m->gpu_busy_s / (m->latency_s * ngpu) : 0;
}
