/*
 * cost.c — roofline op costs and transfer costs (see cost.h).
 */
#include "cost.h"

#include <assert.h>

/* Element type that decides the peak: the first floating-point input or
 * output (integer-only ops are memory bound anyway). */
static gn_dtype compute_dtype(const gn_graph *g, uint32_t id)
{
    const gn_node *n = gn_graph_node(g, id);
    const uint32_t *in = gn_graph_node_inputs(g, id);
    const uint32_t *out = gn_graph_node_outputs(g, id);
    for (uint32_t k = 0; k < n->nin; k++) {
        gn_dtype dt = gn_graph_tensor(g, in[k])->dtype;
        if (dt == GN_DTYPE_F32 || dt == GN_DTYPE_F16 || dt == GN_DTYPE_BF16 || dt == GN_DTYPE_F64)
            return dt;
    }
    return gn_graph_tensor(g, out[0])->dtype;
}

int gn_cost_launches(const gn_graph *g, uint32_t id)
{
    return gn_graph_node(g, id)->op != GN_OP_VIEW;
}

double gn_cost_op_gpu(const gn_gpu_spec *gpu, const gn_graph *g, uint32_t id)
{
    const gn_node *n = gn_graph_node(g, id);
    assert(gpu->eff_compute > 0 && gpu->eff_memory > 0);
    if (!gn_cost_launches(g, id))
        return 0;
    double rate = gpu->op_flops[n->op] > 0 ? gpu->op_flops[n->op]
                                            : gn_gpu_peak(gpu, compute_dtype(g, id)) * gpu->eff_compute;
    double tc = n->flops / rate;
    double tm = n->bytes / (gpu->mem_bw * gpu->eff_memory);
    return tc > tm ? tc : tm;
}

double gn_cost_op_cpu(double flops, const gn_graph *g, uint32_t id)
{
    assert(flops > 0);
    return gn_graph_node(g, id)->flops / flops;
}

double gn_cost_transfer(double bytes, double bw, double latency)
{
    assert(bw > 0);
    return latency + bytes / bw;
}
