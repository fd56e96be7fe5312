/*
 * cost.c — roofline op costs and transfer costs (see cost.h).
 */
#include "cost.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    const char *fn = n->attrs ? json_string_value(json_object_get(n->attrs, "fn")) : NULL;
    if (gpu->nop_time > 0) { /* this very op, measured */
        double t = gn_gpu_op_time(gpu, n->op, fn, n->flops, n->bytes);
        if (t >= 0)
            return t;
    }
    if (gpu->nfn_cost > 0) { /* a measured function of this op */
        for (uint32_t i = 0; fn && i < gpu->nfn_cost; i++) {
            const struct gn_fn_cost *e = &gpu->fn_cost[i];
            if (e->op == n->op && strcmp(e->fn, fn) == 0)
                return e->fixed_s + (e->flops > 0 ? n->flops / e->flops : 0) + (e->bw > 0 ? n->bytes / e->bw : 0);
        }
    }
    if (gpu->op_flops[n->op] > 0 || gpu->op_bw[n->op] > 0) /* a measured device: fitted, additive */
        return gpu->op_fixed_s[n->op] + (gpu->op_flops[n->op] > 0 ? n->flops / gpu->op_flops[n->op] : 0) +
               (gpu->op_bw[n->op] > 0 ? n->bytes / gpu->op_bw[n->op] : 0);
    double tc = n->flops / (gn_gpu_peak(gpu, compute_dtype(g, id)) * gpu->eff_compute);
    double tm = n->bytes / (gpu->mem_bw * gpu->eff_memory);
    return tc > tm ? tc : tm;
}

double gn_cost_transfer(double bytes, double bw, double latency)
{
    assert(bw > 0);
    return latency + bytes / bw;
}

double gn_cost_op_host(double flops, const gn_graph *g, uint32_t id)
{
    assert(flops > 0);
    const gn_node *n = gn_graph_node(g, id);
    if (!gn_cost_launches(g, id))
        return 0;
    double tc = n->flops / flops, tm = n->bytes / GN_COST_HOST_MEM_BW;
    return tc > tm ? tc : tm;
}

/* ========================== recompute vs transfer ========================== */

double gn_cost_recompute_eval(const gn_graph *g, const double *xfer_s,
                              const double *run_s, const unsigned char *have,
                              const uint32_t *need, uint32_t n,
                              const unsigned char *recompute)
{
    uint32_t nt = gn_graph_ntensors(g), nn = gn_graph_nnodes(g);
    unsigned char *seen = calloc((size_t)nt + nn + 1, 1);
    uint32_t *stack = malloc(((size_t)nt + 1) * sizeof(*stack));
    if (!seen || !stack) {
        free(seen);
        free(stack);
        return INFINITY;
    }
    unsigned char *ran = seen + nt;
    uint32_t sp = 0;
    double cost = 0;
    for (uint32_t i = 0; i < n; i++)
        if (!seen[need[i]]) {
            seen[need[i]] = 1;
            stack[sp++] = need[i];
        }
    while (sp > 0 && isfinite(cost)) {
        uint32_t t = stack[--sp];
        if (have[t])
            continue;
        int32_t p = gn_graph_tensor(g, t)->producer;
        if (p < 0 || !recompute[p]) {
            cost += xfer_s[t];
            continue;
        }
        if (ran[p])
            continue;
        ran[p] = 1;
        cost += run_s[p];
        const uint32_t *in = gn_graph_node_inputs(g, (uint32_t)p);
        for (uint32_t i = 0; i < gn_graph_node(g, (uint32_t)p)->nin; i++)
            if (!seen[in[i]]) {
                seen[in[i]] = 1;
                stack[sp++] = in[i];
            }
    }
    free(seen);
    free(stack);
    return cost;
}

/* Cheapest way to get T there within DEPTH levels; marks the recomputes
 * it chooses in R when MARK. */
static double best(const gn_graph *g, const double *xfer_s, const double *run_s,
                   const unsigned char *have, uint32_t t, int depth,
                   unsigned char *r, int mark)
{
    if (have[t])
        return 0;
    double x = xfer_s[t];
    int32_t p = gn_graph_tensor(g, t)->producer;
    if (p < 0 || depth <= 0 || !isfinite(run_s[p]))
        return x;
    double c = run_s[p];
    const uint32_t *in = gn_graph_node_inputs(g, (uint32_t)p);
    for (uint32_t i = 0; i < gn_graph_node(g, (uint32_t)p)->nin && c < x; i++)
        c += best(g, xfer_s, run_s, have, in[i], depth - 1, r, 0);
    if (!(c < x))
        return x;
    if (mark) {
        r[p] = 1;
        for (uint32_t i = 0; i < gn_graph_node(g, (uint32_t)p)->nin; i++)
            best(g, xfer_s, run_s, have, in[i], depth - 1, r, 1);
    }
    return c;
}

/* Flips producers A and B (B == A: A alone) in R and keeps the flip if
 * it lowers *COST; 1 when kept. */
static int try_flip(const gn_graph *g, const double *xfer_s, const double *run_s, const unsigned char *have,
                    const uint32_t *need, uint32_t n, unsigned char *r, uint32_t a, uint32_t b, double *cost)
{
    r[a] ^= 1;
    if (b != a)
        r[b] ^= 1;
    double c = gn_cost_recompute_eval(g, xfer_s, run_s, have, need, n, r);
    if (c < *cost - 1e-12) {
        *cost = c;
        return 1;
    }
    r[a] ^= 1;
    if (b != a)
        r[b] ^= 1;
    return 0;
}

/* Single-flip local search over the producers CAND, from R costing COST. */
static double flips(const gn_graph *g, const double *xfer_s, const double *run_s,
                    const unsigned char *have, const uint32_t *need, uint32_t n,
                    const uint32_t *cand, uint32_t nc, unsigned char *r, double cost)
{
    for (int pass = 0, better = 1; better && pass < 8; pass++) {
        better = 0;
        for (uint32_t j = 0; j < nc; j++)
            better |= try_flip(g, xfer_s, run_s, have, need, n, r, cand[j], cand[j], &cost);
        /* pairs, when there are few candidates: a producer and its input
         * often only pay off together */
        for (uint32_t j = 0; nc <= 16 && j < nc; j++)
            for (uint32_t k = j + 1; k < nc; k++)
                better |= try_flip(g, xfer_s, run_s, have, need, n, r, cand[j], cand[k], &cost);
    }
    return cost;
}

double gn_cost_recompute_choose(const gn_graph *g, const double *xfer_s,
                                const double *run_s, const unsigned char *have,
                                const uint32_t *need, uint32_t n, int depth,
                                unsigned char *recompute)
{
    memset(recompute, 0, gn_graph_nnodes(g));
    for (uint32_t i = 0; i < n; i++)
        best(g, xfer_s, run_s, have, need[i], depth, recompute, 1);
    double cost = gn_cost_recompute_eval(g, xfer_s, run_s, have, need, n, recompute);
    /* The recursion counts an input shared by two recomputations twice;
     * a local search over single flips of the producers within DEPTH
     * levels repairs most of that (tests/test_strategies.c measures it
     * against exhaustive search). */
    uint32_t cand[64] = {0}, nc = 0, t[64], nt = 0;
    int lvl[64];
    for (uint32_t i = 0; i < n && nt < 64; i++) {
        t[nt] = need[i];
        lvl[nt++] = 0;
    }
    for (uint32_t k = 0; k < nt; k++) {
        int32_t p = gn_graph_tensor(g, t[k])->producer;
        if (have[t[k]] || p < 0 || lvl[k] >= depth || !isfinite(run_s[p]))
            continue;
        int dup = 0;
        for (uint32_t j = 0; j < nc; j++)
            dup |= cand[j] == (uint32_t)p;
        if (dup || nc == 64)
            continue;
        cand[nc++] = (uint32_t)p;
        const uint32_t *in = gn_graph_node_inputs(g, (uint32_t)p);
        for (uint32_t i = 0; i < gn_graph_node(g, (uint32_t)p)->nin && nt < 64; i++) {
            int seen = 0;
            for (uint32_t j = 0; j < nt; j++)
                seen |= t[j] == in[i];
            if (seen)
                continue;
            t[nt] = in[i];
            lvl[nt++] = lvl[k] + 1;
        }
    }
    cost = flips(g, xfer_s, run_s, have, need, n, cand, nc, recompute, cost);
    /* and from "transfer everything", keeping the cheaper of the two */
    unsigned char keep[64];
    for (uint32_t j = 0; j < nc; j++) {
        keep[j] = recompute[cand[j]];
        recompute[cand[j]] = 0;
    }
    double c0 = flips(g, xfer_s, run_s, have, need, n, cand, nc, recompute,
                      gn_cost_recompute_eval(g, xfer_s, run_s, have, need, n, recompute));
    if (c0 < cost - 1e-12)
        return c0;
    for (uint32_t j = 0; j < nc; j++)
        recompute[cand[j]] = keep[j];
    return cost;
}
