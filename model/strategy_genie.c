/*
 * strategy_genie.c — the genie planner: semantic placement over every GPU
 * of the platform (strategy.h, DESIGN.md).
 *
 * Design.  Per step, the planner first *places* every launched node of
 * the step graph: on a GPU of the platform (numbered node0.gpu0,
 * node0.gpu1, ..., node1.gpu0, ...), or on the client CPU for ops
 * outside the vocabulary.  By default everything runs on the first GPU;
 * the family rules below move regions the semantic analysis identified
 * (gn_analysis_*; the planner never re-derives roles):
 *
 *   embedding_sharding  RecSys: every sparse lookup runs on the GPU that
 *                       holds its table.  Tables are placed once, largest
 *                       first, on the GPU that minimises the estimated
 *                       step time (launches on each node's CPU, lookups,
 *                       and shipping the pooled result back to the dense
 *                       GPU) among those with room, so tables too large
 *                       for one GPU are sharded across GPUs and nodes and
 *                       only pooled embeddings cross machines.
 *   encoder_parallel    VQA: the vision-only and the text-only regions run
 *                       on different GPUs, when the cost model expects it
 *                       to pay: the node's second GPU, or a second node
 *                       (whose CPU launches in parallel too, but whose
 *                       link the smaller encoder output must cross).  The
 *                       fusion and answer head run where the larger
 *                       encoder output already is; the moved encoder
 *                       keeps only what it must compute (a fusion layer's
 *                       projection of the text runs on the fusion side),
 *                       so only the fusion's input crosses, once.
 *   vision_pipeline     Vision: a detector's level-shared head towers form
 *                       independent chains after the backbone and neck
 *                       (the first stage); the chains are spread over the
 *                       GPUs as parallel stages, longest first, each on
 *                       the GPU where it would finish first counting the
 *                       transfer of its feature map (so NVLink peers are
 *                       used and network peers only when it pays).
 *   recompute           A tensor needed on a device that lacks it is
 *                       either shipped or recomputed there (with whatever
 *                       producers it needs, up to RECOMPUTE_DEPTH levels),
 *                       whichever the cost model prices lower
 *                       (gn_cost_recompute_*; option recompute_bias
 *                       scales the price of recomputation).
 *   batching            All tensors one consumer needs from one source go
 *                       in one message; a step's uploads to a machine go
 *                       in one request; its results in one reply per
 *                       source GPU.
 *   weight_residency, kv_colocation, plan_cache  as in the first genie:
 *                       weights stay on the GPUs that use them, state on
 *                       the GPU that produced it, the step's plan on the
 *                       node (a request carries no graph once seen).
 *
 * Low confidence: a family rule whose region (the lookups, an encoder,
 * the head) has a mean confidence below GN_SEMANTIC_CONFIDENT is not
 * applied: that region stays on the first GPU, which is always correct.
 * A step with no confidently recognised node at all (an unknown
 * architecture) is planned on one GPU without family rules or
 * recomputation.  Both are reported through in->warn.
 *
 * Then the step is *emitted*: one request per machine that computes in
 * it (client -> node CPU over the network, then host -> GPU copies),
 * compute tasks in topological order, each preceded by whatever moves or
 * recomputations its inputs need, and the replies.  Every transfer names
 * the tensors it carries, and every compute task runs where its inputs
 * are, so the real backend can run the plan literally
 * (tests/test_strategies.c checks this for every family and platform).
 */
#include "strategy_int.h"

#include "cost.h"
#include "grow.h"
#include "strtab.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR_BYTES 64.0
#define NODE_DESC_BYTES 64.0
#define TENSOR_DESC_BYTES 48.0
#define MAX_GPUS 64         /* GPUs the planner spreads over */
#define MAX_MACHINES 16     /* nodes the planner uses */
#define MAX_SIGS 16         /* cached step plans per node */
#define NVLINK_LATENCY 1e-6 /* s, as sim/simbackend.c's NVLink links */
#define RECOMPUTE_DEPTH 6   /* producer levels the chooser looks back */
#define MAX_DEVICES (1 + MAX_MACHINES + MAX_GPUS)

enum { SW_WEIGHTS, SW_KV, SW_PLAN, SW_BATCH, SW_VISION, SW_EMB, SW_ENC, SW_RECOMP, SW_COUNT };
static const char *const genie_switches[] = {"weight_residency", "kv_colocation", "plan_cache",
                                             "batching", "vision_pipeline", "embedding_sharding",
                                             "encoder_parallel", "recompute", NULL};

enum { NOT_HERE = -2, PRESENT = -1 };          /* loc values besides task ids */
enum { ON_CLIENT = -1, NO_PLACE = -3 };        /* place values besides GPU indices */
enum { W_STEP, W_EMB, W_ENC, W_VISION, W_ANALYSIS, W_COUNT }; /* warnings, once each */

/* ========================== planner state ========================== */

typedef struct gp {
    const gn_plan_input *in;
    const gn_platform *pf;
    const gn_session *s;
    gn_plan *p;
    gn_error *err;
    const gn_analysis *an;
    gn_analysis *own_an;         /* analysis run here, when the caller gave none */
    int on[SW_COUNT];            /* switches left on */
    double bias;                 /* recompute cost multiplier (option recompute_bias) */
    /* GPUs */
    uint32_t ngpus, per_node;    /* usable GPUs; GPUs per node */
    int32_t gdev[MAX_GPUS];      /* plan device of each GPU, -1 until used */
    int32_t mdev[MAX_MACHINES];  /* plan device of node k's CPU, -1 until used */
    /* per storage */
    uint32_t nsto;
    int32_t *home;               /* table storage: GPU it was placed on, -1 */
    uint64_t *pres;              /* params: GPUs holding it (bit per GPU) */
    int32_t *first;              /* first step using it */
    double *size;                /* largest size, bytes */
    int32_t *sgpu;               /* state storage kept on a GPU (kv): which, -1 */
    uint64_t sigs[MAX_MACHINES][MAX_SIGS];
    uint32_t nsigs[MAX_MACHINES];
    /* per step */
    const gn_graph *g;
    uint32_t st, nt, nn, capt, capn;
    int32_t *place;              /* per node: GPU index, ON_CLIENT, NO_PLACE */
    int32_t *loc;                /* per tensor x MAX_DEVICES: task that put it there */
    uint32_t *pos;               /* per node: position in the topological order */
    uint64_t *want;              /* per tensor: GPUs that need it from the request */
    double *xs, *rs;             /* recompute chooser: per tensor / node costs */
    unsigned char *have, *redo;  /* chooser: per tensor / node */
    int32_t req[MAX_MACHINES];   /* the step's request to node k, -1 */
    int conservative;            /* this step is planned on one GPU */
    /* scratch lists */
    int32_t *deps;
    uint32_t nd, capd;
    gn_item *items;
    uint32_t ni, capi;
    int32_t *ctl;
    uint32_t nctl, capctl;
    uint32_t *tl;
    uint32_t ntl, captl;
    char label[256];
    unsigned warned;             /* bit per W_* already reported */
} gp;

static void warn(gp *g, int kind, const char *fmt, ...)
{
    if (!g->in->warn || (g->warned & (1u << kind)))
        return;
    g->warned |= 1u << kind;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    g->in->warn(g->in->warn_ctx, buf);
}

static int oom(gp *g)
{
    return gn_error_set(g->err, GN_ENOMEM, "genie: out of memory");
}

static int dep(gp *g, int32_t task)
{
    if (task < 0)
        return 0;
    if (gn__grow((void **)&g->deps, &g->capd, g->nd + 1, sizeof(*g->deps)) < 0)
        return oom(g);
    g->deps[g->nd++] = task;
    return 0;
}

static int tl_add(gp *g, uint32_t t)
{
    if (gn__grow((void **)&g->tl, &g->captl, g->ntl + 1, sizeof(*g->tl)) < 0)
        return oom(g);
    g->tl[g->ntl++] = t;
    return 0;
}

static int ctl_add(gp *g, int32_t task)
{
    if (task < 0)
        return 0;
    if (gn__grow((void **)&g->ctl, &g->capctl, g->nctl + 1, sizeof(*g->ctl)) < 0)
        return oom(g);
    g->ctl[g->nctl++] = task;
    return 0;
}

static int32_t *locp(gp *g, uint32_t t, int32_t dev)
{
    return &g->loc[(size_t)t * MAX_DEVICES + (uint32_t)dev];
}

/* ========================== devices ========================== */

static int machine_of_gpu(const gp *g, uint32_t i)
{
    return (int)(i / g->per_node);
}

/* Plan device of node K's CPU, added on first use. */
static int32_t cpu_dev(gp *g, int k)
{
    if (k < 0)
        return 0;
    if (g->mdev[k] < 0) {
        char name[32];
        snprintf(name, sizeof(name), "node%d", k);
        g->mdev[k] = gn_plan_add_device(g->p, name, 0, k);
    }
    return g->mdev[k];
}

/* Plan device of GPU I, added on first use (after its node's CPU). */
static int32_t gpu_dev(gp *g, uint32_t i)
{
    if (g->gdev[i] < 0) {
        int k = machine_of_gpu(g, i);
        char name[48];
        if (cpu_dev(g, k) < 0)
            return GN_ENOMEM;
        snprintf(name, sizeof(name), "node%d.gpu%u", k, i % g->per_node);
        g->gdev[i] = gn_plan_add_device(g->p, name, 1, k);
    }
    return g->gdev[i];
}

static int machine(const gp *g, int32_t dev)
{
    return gn_plan_device(g->p, (uint32_t)dev)->machine;
}

static int is_gpu(const gp *g, int32_t dev)
{
    return gn_plan_device(g->p, (uint32_t)dev)->is_gpu;
}

/* Time of one hop of BYTES between devices A and B, s. */
static double hop_s(const gp *g, int32_t a, int32_t b, double bytes)
{
    const gn_platform *pf = g->pf;
    if (machine(g, a) != machine(g, b))
        return gn_cost_transfer(bytes, pf->net_bw, pf->net_latency);
    if (is_gpu(g, a) && is_gpu(g, b))
        return gn_cost_transfer(bytes, pf->nvlink_bw, NVLINK_LATENCY);
    return gn_cost_transfer(bytes, pf->pcie_bw, pf->pcie_latency);
}

/* Estimated time to move BYTES from GPU index A (-1: client) to GPU B
 * (-1: client), all hops and their issue costs, s. */
static double move_est(const gp *g, int a, int b, double bytes)
{
    const gn_platform *pf = g->pf;
    if (a == b)
        return 0;
    int ma = a < 0 ? -1 : machine_of_gpu(g, (uint32_t)a), mb = b < 0 ? -1 : machine_of_gpu(g, (uint32_t)b);
    double launch = pf->gpu.launch_s;
    if (ma == mb)
        return launch + gn_cost_transfer(bytes, pf->nvlink_bw, NVLINK_LATENCY);
    double t = pf->msg_overhead_s + gn_cost_transfer(bytes + HDR_BYTES, pf->net_bw, pf->net_latency);
    if (a >= 0)
        t += launch + gn_cost_transfer(bytes, pf->pcie_bw, pf->pcie_latency);
    if (b >= 0)
        t += launch + gn_cost_transfer(bytes, pf->pcie_bw, pf->pcie_latency);
    return t;
}

static double op_gpu_s(const gp *g, uint32_t id)
{
    return gn_cost_op_gpu(&g->pf->gpu, g->g, id);
}

/* ========================== graph helpers ========================== */

/* The tensor T is a view of (following non-launching producers). */
static uint32_t base_of(const gn_graph *gr, uint32_t t)
{
    for (;;) {
        int32_t p = gn_graph_tensor(gr, t)->producer;
        if (p < 0 || gn_cost_launches(gr, (uint32_t)p) || gn_graph_node(gr, (uint32_t)p)->nin == 0)
            return t;
        t = gn_graph_node_inputs(gr, (uint32_t)p)[0];
    }
}

/* Launched producer behind tensor T (through views), or -1. */
static int32_t real_producer(const gn_graph *gr, uint32_t t)
{
    return gn_graph_tensor(gr, base_of(gr, t))->producer;
}

static const gn_annotation *ann(const gp *g, uint32_t id)
{
    return gn_analysis_node(g->an, g->st, id);
}

static const char *tensor_name(const gn_graph *gr, uint32_t t)
{
    const gn_tensor *x = gn_graph_tensor(gr, t);
    return x->storage >= 0 ? gn_graph_storage_name(gr, x->storage) : (x->name ? x->name : "");
}

/* ========================== transfers ========================== */

/*
 * Moves the tensors of g->tl from device SRC to device DST: over the
 * network between machines (through the node CPUs, as a TCP data path
 * without GPUDirect does it), NVLink between GPUs of one node, PCIe
 * between a node's CPU and its GPUs.  Every hop carries the tensors as
 * items; EXTRA bytes of metadata ride on the network hop only.  Each hop
 * depends on the previous one, the first on the tensors' tasks on SRC
 * and whatever the caller put in g->deps.  Records where the tensors now
 * are.  Returns the last task, or < 0.  Clears g->tl and g->deps.
 */
static int ship(gp *g, int32_t src, int32_t dst, double extra, const char *label)
{
    double bytes = 0;
    int rc = 0;
    for (uint32_t i = 0; i < g->ntl && rc == 0; i++) {
        bytes += (double)gn_graph_tensor(g->g, g->tl[i])->bytes;
        rc = dep(g, *locp(g, g->tl[i], src));
    }
    int ms = machine(g, src), md = machine(g, dst);
    int32_t path[4];
    int n = 0;
    path[n++] = src;
    if (ms != md) {
        if (is_gpu(g, src))
            path[n++] = cpu_dev(g, ms);
        path[n++] = cpu_dev(g, md);
        if (path[n - 1] != dst)
            path[n++] = dst;
    } else {
        path[n++] = dst;
    }
    int last = -1;
    for (int h = 0; h + 1 < n && rc >= 0; h++) {
        int32_t a = path[h], b = path[h + 1];
        int net = machine(g, a) != machine(g, b);
        if (!net && bytes <= 0)
            continue; /* metadata stays on the node CPU */
        double hb = net ? bytes + extra + HDR_BYTES : bytes;
        int32_t issuer = net ? a : cpu_dev(g, machine(g, a));
        double issue = net ? g->pf->msg_overhead_s : g->pf->gpu.launch_s;
        const char *lb = net ? label : is_gpu(g, a) && is_gpu(g, b) ? "nvlink copy" : is_gpu(g, a) ? "d2h copy" : "h2d copy";
        rc = gn_plan_add_transfer(g->p, g->st, a, b, issuer, issue, hop_s(g, a, b, hb), hb, lb, g->deps, g->nd);
        g->nd = 0;
        if (rc < 0)
            break;
        last = rc;
        if (g->ntl > 0) {
            if (gn__grow((void **)&g->items, &g->capi, g->ntl, sizeof(*g->items)) < 0)
                return oom(g);
            for (uint32_t i = 0; i < g->ntl; i++)
                g->items[i] = (gn_item){g->st, g->tl[i]};
            if ((rc = gn_plan_set_items(g->p, (uint32_t)last, g->items, g->ntl)) < 0)
                break;
        }
        for (uint32_t i = 0; i < g->ntl; i++)
            if (*locp(g, g->tl[i], b) == NOT_HERE)
                *locp(g, g->tl[i], b) = last;
        rc = dep(g, last);
    }
    g->nd = 0;
    g->ntl = 0;
    if (rc < 0)
        return gn_error_set(g->err, rc, "genie: cannot add transfer \"%s\": %s", label, gn_strerror(rc));
    return last;
}

/* Where tensor T can come from to reach DST most cheaply, or -1. */
static int32_t best_source(gp *g, uint32_t t, int32_t dst)
{
    int32_t bestd = -1;
    double bestc = INFINITY;
    double bytes = (double)gn_graph_tensor(g->g, t)->bytes;
    uint32_t nd = gn_plan_ndevices(g->p);
    for (uint32_t d = 0; d < nd; d++) {
        if (*locp(g, t, (int32_t)d) == NOT_HERE || (int32_t)d == dst)
            continue;
        /* the hops ship() would take: one inside a machine; between
         * machines the network, plus a PCIe copy at each GPU end */
        double c = hop_s(g, (int32_t)d, dst, bytes);
        if (machine(g, (int32_t)d) != machine(g, dst)) {
            const gn_platform *pf = g->pf;
            c += pf->msg_overhead_s;
            c += is_gpu(g, (int32_t)d) ? gn_cost_transfer(bytes, pf->pcie_bw, pf->pcie_latency) : 0;
            c += is_gpu(g, dst) ? gn_cost_transfer(bytes, pf->pcie_bw, pf->pcie_latency) : 0;
        }
        if (c < bestc) {
            bestc = c;
            bestd = (int32_t)d;
        }
    }
    return bestd;
}

/* ========================== recompute vs transfer ========================== */

/* Fills the chooser's costs for the neighbourhood of tensor T on DEV. */
static void price(gp *g, uint32_t t, int32_t dev, int depth)
{
    const gn_tensor *x = gn_graph_tensor(g->g, t);
    g->have[t] = *locp(g, t, dev) != NOT_HERE;
    int32_t src = g->have[t] ? -1 : best_source(g, t, dev);
    g->xs[t] = g->have[t] ? 0 : src < 0 ? INFINITY : hop_s(g, src, dev, (double)x->bytes) +
                                                       (machine(g, src) != machine(g, dev) ? g->pf->msg_overhead_s : 0);
    if (x->producer < 0 || depth <= 0)
        return;
    uint32_t p = (uint32_t)x->producer;
    const gn_node *n = gn_graph_node(g->g, p);
    int ok = is_gpu(g, dev) && n->op != GN_OP_OPAQUE;
    /* a recomputation must not write state */
    for (uint32_t o = 0; o < n->nout && ok; o++)
        ok = gn_graph_tensor(g->g, gn_graph_node_outputs(g->g, p)[o])->kind != GN_KIND_STATE;
    g->rs[p] = !ok ? INFINITY : gn_cost_launches(g->g, p) ? g->bias * (op_gpu_s(g, p) + g->pf->gpu.launch_s) : 0;
    const uint32_t *in = gn_graph_node_inputs(g->g, p);
    for (uint32_t i = 0; i < n->nin; i++)
        price(g, in[i], dev, depth - 1);
}

static int emit_compute(gp *g, uint32_t id, int32_t dev);

/*
 * Makes every input of node ID available on DEV: views resolve to their
 * base; missing bases are recomputed or shipped (the cost model decides),
 * batched per source device.  Then the views' outputs are there too.
 */
static int gather_inputs(gp *g, uint32_t id, int32_t dev)
{
    const gn_node *n = gn_graph_node(g->g, id);
    const uint32_t *in = gn_graph_node_inputs(g->g, id);
    uint32_t *need = malloc(2 * ((size_t)n->nin + 1) * sizeof(*need)), nneed = 0;
    unsigned char *done = calloc((size_t)n->nin + 1, 1);
    if (!need || !done) {
        free(need);
        free(done);
        return oom(g);
    }
    uint32_t *left = need + n->nin + 1, nleft = 0;
    int rc = 0;
    for (uint32_t i = 0; i < n->nin; i++) {
        uint32_t b = base_of(g->g, in[i]);
        if (*locp(g, b, dev) != NOT_HERE)
            continue;
        int dup = 0;
        for (uint32_t k = 0; k < nneed; k++)
            dup |= need[k] == b;
        if (!dup)
            need[nneed++] = b;
    }
    if (nneed > 0 && g->on[SW_RECOMP] && !g->conservative && is_gpu(g, dev)) {
        for (uint32_t k = 0; k < nneed; k++)
            price(g, need[k], dev, RECOMPUTE_DEPTH + 1);
        gn_cost_recompute_choose(g->g, g->xs, g->rs, g->have, need, nneed, RECOMPUTE_DEPTH, g->redo);
        /* rerun the chosen producers in topological order */
        for (;;) {
            int32_t next = -1;
            for (uint32_t k = 0; k < g->nn; k++)
                if (g->redo[k] && (next < 0 || g->pos[k] < g->pos[next]))
                    next = (int32_t)k;
            if (next < 0)
                break;
            g->redo[next] = 0;
            if (gn_cost_launches(g->g, (uint32_t)next) &&
                *locp(g, gn_graph_node_outputs(g->g, (uint32_t)next)[0], dev) == NOT_HERE &&
                (rc = emit_compute(g, (uint32_t)next, dev)) < 0)
                goto out;
        }
    }
    /* ship what is still missing, one message per source with batching */
    for (uint32_t k = 0; k < nneed; k++)
        if (*locp(g, need[k], dev) == NOT_HERE)
            left[nleft++] = need[k];
    for (uint32_t k = 0; k < nleft && rc == 0; k++) {
        if (done[k])
            continue;
        int32_t src = best_source(g, left[k], dev);
        if (src < 0) {
            rc = gn_error_set(g->err, GN_EINVAL, "genie: step %u: tensor %u (%s) is needed on %s but exists nowhere",
                              g->st, left[k], tensor_name(g->g, left[k]), gn_plan_device(g->p, (uint32_t)dev)->name);
            break;
        }
        if ((rc = tl_add(g, left[k])) < 0)
            break;
        done[k] = 1;
        for (uint32_t j = k + 1; j < nleft && g->on[SW_BATCH] && rc == 0; j++)
            if (!done[j] && best_source(g, left[j], dev) == src) {
                rc = tl_add(g, left[j]);
                done[j] = 1;
            }
        snprintf(g->label, sizeof(g->label), "%s %s", is_gpu(g, dev) ? "feature map" : "to client",
                 tensor_name(g->g, left[k]));
        if (rc == 0 && (rc = ship(g, src, dev, 0, g->label)) > 0)
            rc = 0;
    }
out:
    free(need);
    free(done);
    return rc < 0 ? rc : 0;
}

/* Adds the compute task of node ID on DEV, its inputs gathered first. */
static int emit_compute(gp *g, uint32_t id, int32_t dev)
{
    int rc = gather_inputs(g, id, dev);
    if (rc < 0)
        return rc;
    const gn_node *n = gn_graph_node(g->g, id);
    const uint32_t *in = gn_graph_node_inputs(g->g, id), *out = gn_graph_node_outputs(g->g, id);
    for (uint32_t i = 0; i < n->nin && rc == 0; i++)
        rc = dep(g, *locp(g, base_of(g->g, in[i]), dev));
    int m = machine(g, dev);
    if (rc == 0 && m >= 0)
        rc = dep(g, g->req[m]);
    for (uint32_t i = 0; i < g->nctl && rc == 0 && m < 0; i++)
        rc = dep(g, g->ctl[i]); /* a client op follows the application's last read */
    if (rc < 0)
        return rc;
    snprintf(g->label, sizeof(g->label), "%s %s", gn_op_name(n->op), n->module ? n->module : "");
    if (m < 0)
        rc = gn_plan_add_compute(g->p, g->st, dev, -1, 0, gn_cost_op_host(g->pf->client_cpu_flops, g->g, id),
                                 n->flops, n->bytes, (int32_t)id, g->label, g->deps, g->nd);
    else
        rc = gn_plan_add_compute(g->p, g->st, dev, cpu_dev(g, m), g->pf->gpu.launch_s, op_gpu_s(g, id),
                                 n->flops, n->bytes, (int32_t)id, g->label, g->deps, g->nd);
    g->nd = 0;
    if (rc < 0)
        return gn_error_set(g->err, rc, "genie: cannot add op %u of step %u", id, g->st);
    for (uint32_t o = 0; o < n->nout; o++)
        *locp(g, out[o], dev) = rc;
    return 0;
}

/* ========================== placement ========================== */

/* Mean confidence over the launched nodes with FLAG set in SEL. */
static double mean_conf(const gp *g, const unsigned char *sel, uint32_t *count)
{
    double sum = 0;
    uint32_t n = 0;
    for (uint32_t id = 0; id < g->nn; id++)
        if ((!sel || sel[id]) && gn_cost_launches(g->g, id)) {
            sum += ann(g, id)->confidence;
            n++;
        }
    if (count)
        *count = n;
    return n ? sum / n : 1;
}

/* RecSys: lookups go to the GPU holding their table (see the file head). */
static int place_embeddings(gp *g)
{
    const gn_graph *gr = g->g;
    unsigned char *sel = calloc(g->nn + 1, 1), *counted = calloc(g->nsto + 1, 1);
    uint32_t *look = malloc((g->nn + 1) * sizeof(*look)), nl = 0;
    if (!sel || !look || !counted) {
        free(sel);
        free(look);
        free(counted);
        return oom(g);
    }
    for (uint32_t id = 0; id < g->nn; id++) {
        const gn_node *n = gn_graph_node(gr, id);
        if (ann(g, id)->role != GN_ROLE_SPARSE_LOOKUP || n->nin == 0)
            continue;
        const gn_tensor *tab = gn_graph_tensor(gr, base_of(gr, gn_graph_node_inputs(gr, id)[0]));
        if (tab->kind != GN_KIND_PARAM || tab->storage < 0)
            continue;
        sel[id] = 1;
        look[nl++] = id;
    }
    uint32_t cnt;
    double conf = mean_conf(g, sel, &cnt);
    int rc = 0;
    if (nl == 0 || g->ngpus < 2)
        goto out;
    if (conf < GN_SEMANTIC_CONFIDENT) {
        warn(g, W_EMB, "genie: %s: the sparse-lookup region of step %u (%u nodes) has confidence %.2f < %.2f: tables stay on one GPU",
             gn_session_name(g->s), g->st, cnt, conf, GN_SEMANTIC_CONFIDENT);
        goto out;
    }
    /* memory already taken on each GPU: dense params on GPU 0, placed tables */
    double used[MAX_GPUS] = {0}, exec[MAX_GPUS] = {0}, back[MAX_GPUS] = {0};
    double launches[MAX_MACHINES] = {0}, post_e = 0, post_l = 0;
    uint32_t last_lookup = 0;
    for (uint32_t k = 0; k < nl; k++)
        last_lookup = g->pos[look[k]] > last_lookup ? g->pos[look[k]] : last_lookup;
    for (uint32_t s = 0; s < g->nsto; s++)
        if (g->home[s] >= 0)
            used[g->home[s]] += g->size[s];
    for (uint32_t id = 0; id < g->nn; id++) {
        if (!gn_cost_launches(gr, id))
            continue;
        if (sel[id]) {
            const gn_tensor *tab = gn_graph_tensor(gr, base_of(gr, gn_graph_node_inputs(gr, id)[0]));
            if (g->home[tab->storage] >= 0) {
                uint32_t i = (uint32_t)g->home[tab->storage];
                exec[i] += op_gpu_s(g, id);
                launches[machine_of_gpu(g, i)] += 1;
                back[i] += (double)gn_graph_tensor(gr, gn_graph_node_outputs(gr, id)[0])->bytes;
            }
            continue;
        }
        if (g->pos[id] > last_lookup) { /* after the lookups: waits for them all */
            post_e += op_gpu_s(g, id);
            post_l += 1;
        } else {
            exec[0] += op_gpu_s(g, id);
            launches[0] += 1;
        }
        const uint32_t *in = gn_graph_node_inputs(gr, id);
        for (uint32_t i = 0; i < gn_graph_node(gr, id)->nin; i++) {
            const gn_tensor *x = gn_graph_tensor(gr, base_of(gr, in[i]));
            if (x->kind == GN_KIND_PARAM && x->storage >= 0 && g->home[x->storage] < 0 && !counted[x->storage]) {
                used[0] += (double)x->bytes; /* dense weights, counted once */
                counted[x->storage] = 1;
            }
        }
    }
    /* largest new tables first */
    for (uint32_t a = 0; a < nl; a++)
        for (uint32_t b = a + 1; b < nl; b++) {
            uint64_t ba = gn_graph_tensor(gr, base_of(gr, gn_graph_node_inputs(gr, look[a])[0]))->bytes;
            uint64_t bb = gn_graph_tensor(gr, base_of(gr, gn_graph_node_inputs(gr, look[b])[0]))->bytes;
            if (bb > ba) {
                uint32_t t = look[a];
                look[a] = look[b];
                look[b] = t;
            }
        }
    double launch = g->pf->gpu.launch_s, cap = g->pf->gpu.mem_bytes;
    double req_s = move_est(g, -1, 0, 0);
    for (uint32_t k = 0; k < nl; k++) {
        uint32_t id = look[k];
        const gn_tensor *tab = gn_graph_tensor(gr, base_of(gr, gn_graph_node_inputs(gr, id)[0]));
        if (g->home[tab->storage] >= 0)
            continue;
        double t_exec = op_gpu_s(g, id), t_out = (double)gn_graph_tensor(gr, gn_graph_node_outputs(gr, id)[0])->bytes;
        int besti = -1;
        double bestobj = INFINITY;
        for (uint32_t i = 0; i < g->ngpus; i++) {
            if (used[i] + (double)tab->bytes > cap)
                continue;
            /* the step's estimated end if this lookup went to GPU i */
            int mi = machine_of_gpu(g, i);
            double obj = 0;
            for (uint32_t j = 0; j < g->ngpus; j++) {
                int mj = machine_of_gpu(g, j);
                double e = exec[j] + (j == i ? t_exec : 0);
                double l = launches[mj] + (mj == mi ? 1 : 0);
                double bk = back[j] + (j == i ? t_out : 0);
                if (j != 0 && bk == 0 && e == 0)
                    continue;
                /* launches and execution overlap on a stream: whichever
                 * is longer, then the last kernel */
                double end = (mj == 0 ? 0 : req_s) + (l * launch > e ? l * launch : e) + launch +
                             (j == 0 ? 0 : move_est(g, (int)j, 0, bk));
                obj = end > obj ? end : obj;
            }
            obj += post_l * launch > post_e ? post_l * launch : post_e;
            if (obj < bestobj - 1e-12) {
                bestobj = obj;
                besti = (int)i;
            }
        }
        if (besti < 0) {
            rc = gn_error_set(g->err, GN_EUNSUPPORTED, "genie: %s: table %s (%.1f GB) fits on none of the %u GPUs (%.0f GB each, %.1f GB used on the fullest)",
                              gn_session_name(g->s), tensor_name(gr, base_of(gr, gn_graph_node_inputs(gr, id)[0])),
                              (double)tab->bytes / 1e9, g->ngpus, cap / 1e9, used[0] / 1e9);
            goto out;
        }
        g->home[tab->storage] = besti;
        used[besti] += (double)tab->bytes;
        exec[besti] += t_exec;
        launches[machine_of_gpu(g, (uint32_t)besti)] += 1;
        back[besti] += t_out;
    }
    for (uint32_t k = 0; k < nl; k++) {
        const gn_tensor *tab = gn_graph_tensor(gr, base_of(gr, gn_graph_node_inputs(gr, look[k])[0]));
        g->place[look[k]] = g->home[tab->storage];
    }
out:
    free(sel);
    free(look);
    free(counted);
    return rc;
}

/* Bytes that cross between the nodes in S and the others: tensors made
 * on one side and read on the other (leaves come from the client). */
static double crossing(const gn_graph *gr, const unsigned char *in_s)
{
    double b = 0;
    for (uint32_t t = 0; t < gn_graph_ntensors(gr); t++) {
        int32_t p = gn_graph_tensor(gr, t)->producer;
        if (p < 0)
            continue;
        uint32_t nc;
        const uint32_t *cons = gn_graph_consumers(gr, t, &nc);
        for (uint32_t c = 0; c < nc; c++)
            if (in_s[cons[c]] != in_s[p]) {
                b += (double)gn_graph_tensor(gr, t)->bytes;
                break;
            }
    }
    return b;
}

/*
 * Ships only what the fusion needs: a node of encoder region S whose
 * every consumer is outside S (a fusion layer's projection of the text,
 * say) moves out of S when that lowers the bytes crossing, e.g. when its
 * input crosses anyway for another consumer.  Views move when it costs
 * nothing.  Reverse topological order, so boundaries peel one by one.
 */
static void trim_region(const gp *g, unsigned char *in_s)
{
    const gn_graph *gr = g->g;
    const uint32_t *order = gn_graph_order(gr);
    double now = crossing(gr, in_s);
    for (uint32_t k = g->nn; k-- > 0;) {
        uint32_t id = order[k];
        if (!in_s[id])
            continue;
        int boundary = 1, consumed = 0;
        const uint32_t *out = gn_graph_node_outputs(gr, id);
        for (uint32_t o = 0; o < gn_graph_node(gr, id)->nout && boundary; o++) {
            uint32_t nc;
            const uint32_t *cons = gn_graph_consumers(gr, out[o], &nc);
            for (uint32_t c = 0; c < nc; c++) {
                consumed = 1;
                boundary &= !in_s[cons[c]];
            }
        }
        if (!boundary || !consumed)
            continue;
        in_s[id] = 0;
        double then = crossing(gr, in_s);
        int view = !gn_cost_launches(gr, id);
        if (then < now || (view && then <= now))
            now = then;
        else
            in_s[id] = 1;
    }
}

/* VQA: the two encoders on different GPUs (see the file head). */
static void place_encoders(gp *g)
{
    const gn_graph *gr = g->g;
    unsigned char *sv = calloc(g->nn + 1, 1), *stx = calloc(g->nn + 1, 1);
    int fusion = 0;
    if (!sv || !stx)
        goto out;
    for (uint32_t id = 0; id < g->nn; id++) {
        const gn_annotation *a = ann(g, id);
        sv[id] = a->modality == GN_MOD_VISION;
        stx[id] = a->modality == GN_MOD_TEXT;
        fusion |= a->fusion_point && a->modality == (GN_MOD_VISION | GN_MOD_TEXT);
    }
    uint32_t nv, ntx;
    double cv = mean_conf(g, sv, &nv), ct = mean_conf(g, stx, &ntx);
    if (!fusion || nv == 0 || ntx == 0 || g->ngpus < 2)
        goto out;
    if (cv < GN_SEMANTIC_CONFIDENT || ct < GN_SEMANTIC_CONFIDENT) {
        warn(g, W_ENC, "genie: %s: step %u's %s encoder region has confidence %.2f < %.2f: both encoders stay on one GPU",
             gn_session_name(g->s), g->st, cv < ct ? "vision" : "text", cv < ct ? cv : ct, GN_SEMANTIC_CONFIDENT);
        goto out;
    }
    /* the rest goes where the larger encoder output is; the other
     * encoder keeps only what it must compute */
    double cross_v = 0, cross_t = 0;
    for (int pass = 0; pass < 2; pass++) {
        cross_v = cross_t = 0;
        for (uint32_t id = 0; id < g->nn; id++) {
            if (!sv[id] && !stx[id])
                continue;
            const uint32_t *out = gn_graph_node_outputs(gr, id);
            for (uint32_t o = 0; o < gn_graph_node(gr, id)->nout; o++) {
                uint32_t nc;
                const uint32_t *cons = gn_graph_consumers(gr, out[o], &nc);
                for (uint32_t c = 0; c < nc; c++)
                    if (!sv[cons[c]] && !stx[cons[c]]) {
                        *(sv[id] ? &cross_v : &cross_t) += (double)gn_graph_tensor(gr, out[o])->bytes;
                        break;
                    }
            }
        }
        if (pass == 0)
            trim_region(g, cross_v >= cross_t ? stx : sv);
    }
    /* Candidates for the text encoder: where it is (no change), the
     * node's second GPU (NVLink; launches still share the node CPU), the
     * next node's first GPU (launches overlap too, the network carries
     * the smaller encoder output).  The cost model picks. */
    double lv = 0, ev = 0, lt = 0, et = 0, lr = 0, er = 0, la = g->pf->gpu.launch_s;
    for (uint32_t id = 0; id < g->nn; id++) {
        if (g->place[id] < 0)
            continue;
        double e = op_gpu_s(g, id);
        if (sv[id])
            lv += 1, ev += e;
        else if (stx[id])
            lt += 1, et += e;
        else
            lr += 1, er += e;
    }
    /* what each encoder receives from the client */
    double in_v = 0, in_t = 0;
    unsigned char *seen = calloc(g->nt + 1, 1);
    if (!seen)
        goto out;
    for (uint32_t id = 0; id < g->nn; id++) {
        if (!sv[id] && !stx[id])
            continue;
        const uint32_t *in = gn_graph_node_inputs(gr, id);
        for (uint32_t i = 0; i < gn_graph_node(gr, id)->nin; i++) {
            uint32_t b = base_of(gr, in[i]);
            if (gn_graph_tensor(gr, b)->kind != GN_KIND_INPUT || seen[b])
                continue;
            seen[b] = 1;
            *(sv[id] ? &in_v : &in_t) += (double)gn_graph_tensor(gr, b)->bytes;
        }
    }
    free(seen);
    double moved = cross_v >= cross_t ? cross_t : cross_v;
    double tail = (lr * la > er ? lr * la : er) + la;
    double up_all = move_est(g, -1, 0, in_v + in_t);
    double best = up_all + ((lv + lt) * la > ev + et ? (lv + lt) * la : ev + et) + tail;
    int other = -1;
    int cand[2] = {g->per_node >= 2 ? 1 : -1, g->ngpus > g->per_node ? (int)g->per_node : -1};
    for (int c = 0; c < 2; c++) {
        if (cand[c] < 0)
            continue;
        double t;
        double mv = move_est(g, cand[c], 0, moved);
        if (machine_of_gpu(g, (uint32_t)cand[c]) == 0) {
            double a = (lv + lt) * la, b = ev > et + mv ? ev : et + mv;
            t = up_all + (a > b ? a : b) + tail;
        } else {
            /* the client's uplink carries both uploads; the smaller
             * encoder output then shares the first node's downlink with
             * its upload if it arrives before that upload is done */
            double up_v = up_all;
            double up_t = move_est(g, -1, cand[c], in_t);
            double arrive = up_t + (lt * la > et ? lt * la : et) + la + mv;
            double a = up_v + (lv * la > ev ? lv * la : ev) + la;
            if (arrive < up_v)
                a += moved / g->pf->net_bw;
            t = (a > arrive ? a : arrive) + tail;
        }
        if (t < best - 1e-12) {
            best = t;
            other = cand[c];
        }
    }
    if (other < 0)
        goto out;
    int rest = cross_v >= cross_t ? 0 : other;
    for (uint32_t id = 0; id < g->nn; id++) {
        if (g->place[id] < 0)
            continue; /* views, client ops */
        g->place[id] = sv[id] ? 0 : stx[id] ? other : rest;
    }
out:
    free(sv);
    free(stx);
}

static uint32_t uf_find(uint32_t *up, uint32_t x)
{
    while (up[x] != x)
        x = up[x] = up[up[x]];
    return x;
}

/* Vision: a detector's head towers as parallel stages (see the file head). */
static int place_heads(gp *g)
{
    const gn_graph *gr = g->g;
    const uint32_t *order = gn_graph_order(gr);
    unsigned char *reg = calloc(g->nn + 1, 1);
    uint32_t *up = malloc((g->nn + 1) * sizeof(*up));
    double *cost = calloc(g->nn + 1, sizeof(*cost)), *inb = calloc(g->nn + 1, sizeof(*inb));
    double *nl = calloc(g->nn + 1, sizeof(*nl));
    int rc = 0;
    if (!reg || !up || !cost || !inb || !nl) {
        rc = oom(g);
        goto out;
    }
    uint32_t nhead = 0;
    for (uint32_t id = 0; id < g->nn; id++) {
        up[id] = id;
        const gn_annotation *a = ann(g, id);
        if (a->role == GN_ROLE_HEAD && a->pattern && strcmp(a->pattern, "vision") == 0 &&
            gn_graph_node(gr, id)->op == GN_OP_CONV2D) {
            reg[id] = 1;
            nhead++;
        }
    }
    if (nhead < 2 || g->ngpus < 2)
        goto out;
    uint32_t cnt;
    double conf = mean_conf(g, reg, &cnt);
    if (conf < GN_SEMANTIC_CONFIDENT) {
        warn(g, W_VISION, "genie: %s: step %u's head region (%u nodes) has confidence %.2f < %.2f: it stays on one GPU",
             gn_session_name(g->s), g->st, cnt, conf, GN_SEMANTIC_CONFIDENT);
        goto out;
    }
    /* chains: a launched node whose only activation input comes from the
     * region joins its producer's chain */
    for (uint32_t k = 0; k < g->nn; k++) {
        uint32_t id = order[k];
        if (!gn_cost_launches(gr, id) || g->place[id] < 0)
            continue;
        const uint32_t *in = gn_graph_node_inputs(gr, id);
        int32_t from = -1;
        uint32_t acts = 0;
        for (uint32_t i = 0; i < gn_graph_node(gr, id)->nin; i++) {
            const gn_tensor *x = gn_graph_tensor(gr, base_of(gr, in[i]));
            if (x->kind == GN_KIND_PARAM)
                continue;
            acts++;
            from = real_producer(gr, in[i]);
        }
        if (acts == 1 && from >= 0 && reg[from]) {
            reg[id] = 1;
            up[uf_find(up, id)] = uf_find(up, (uint32_t)from);
        }
    }
    /* chain costs, launches and the bytes entering each chain */
    for (uint32_t id = 0; id < g->nn; id++) {
        if (!reg[id] || !gn_cost_launches(gr, id))
            continue;
        uint32_t r = uf_find(up, id);
        cost[r] += op_gpu_s(g, id);
        nl[r] += 1;
        const uint32_t *in = gn_graph_node_inputs(gr, id);
        for (uint32_t i = 0; i < gn_graph_node(gr, id)->nin; i++) {
            int32_t p = real_producer(gr, in[i]);
            const gn_tensor *x = gn_graph_tensor(gr, base_of(gr, in[i]));
            if (x->kind != GN_KIND_PARAM && (p < 0 || !reg[p]))
                inb[r] += (double)x->bytes;
        }
        /* what leaves the chain goes back to the first GPU (the joins) */
        const uint32_t *out = gn_graph_node_outputs(gr, id);
        for (uint32_t o = 0; o < gn_graph_node(gr, id)->nout; o++) {
            uint32_t nc;
            const uint32_t *cons = gn_graph_consumers(gr, out[o], &nc);
            int leaves = 0;
            for (uint32_t c = 0; c < nc; c++) {
                uint32_t v = cons[c];
                while (!gn_cost_launches(gr, v)) { /* through views */
                    uint32_t nc2;
                    const uint32_t *c2 = gn_graph_consumers(gr, gn_graph_node_outputs(gr, v)[0], &nc2);
                    if (nc2 == 0)
                        break;
                    v = c2[0];
                }
                leaves |= gn_cost_launches(gr, v) && !reg[v];
            }
            if (leaves)
                inb[r] += (double)gn_graph_tensor(gr, out[o])->bytes;
        }
    }
    /* longest chain first, each where it would finish first */
    double free_at[MAX_GPUS] = {0}, cpu[MAX_MACHINES] = {0};
    double launch = g->pf->gpu.launch_s;
    for (;;) {
        int32_t r = -1;
        for (uint32_t id = 0; id < g->nn; id++)
            if (reg[id] && up[id] == id && cost[id] >= 0 && (r < 0 || cost[id] > cost[r]))
                r = (int32_t)id;
        if (r < 0)
            break;
        int besti = 0;
        double bestf = INFINITY;
        for (uint32_t i = 0; i < g->ngpus; i++) {
            int m = machine_of_gpu(g, i);
            double ready = move_est(g, 0, (int)i, inb[r]);
            double c0 = cpu[m] + nl[r] * launch;
            double f = (free_at[i] > ready ? free_at[i] : ready) + cost[r];
            f = f > c0 ? f : c0;
            if (f < bestf - 1e-12) {
                bestf = f;
                besti = (int)i;
            }
        }
        free_at[besti] = bestf;
        cpu[machine_of_gpu(g, (uint32_t)besti)] += nl[r] * launch;
        cost[r] = -1 - besti; /* assigned: remember where */
    }
    for (uint32_t id = 0; id < g->nn; id++)
        if (reg[id] && gn_cost_launches(gr, id))
            g->place[id] = (int32_t)(-1 - cost[uf_find(up, id)]);
    /* what joins the chains (the output concats) runs where most of its
     * input bytes are */
    for (uint32_t k = 0; k < g->nn; k++) {
        uint32_t id = order[k];
        if (reg[id] || !gn_cost_launches(gr, id) || g->place[id] < 0)
            continue;
        double on[MAX_GPUS] = {0};
        int any = 0;
        const uint32_t *in = gn_graph_node_inputs(gr, id);
        for (uint32_t i = 0; i < gn_graph_node(gr, id)->nin; i++) {
            int32_t p = real_producer(gr, in[i]);
            if (p >= 0 && reg[p]) {
                on[g->place[p]] += (double)gn_graph_tensor(gr, in[i])->bytes;
                any = 1;
            }
        }
        if (!any)
            continue;
        int best = 0;
        for (uint32_t i = 1; i < g->ngpus; i++)
            if (on[i] > on[best])
                best = (int)i;
        g->place[id] = best;
    }
out:
    free(reg);
    free(up);
    free(cost);
    free(inb);
    free(nl);
    return rc;
}

static int place_step(gp *g)
{
    const gn_graph *gr = g->g;
    for (uint32_t id = 0; id < g->nn; id++)
        g->place[id] = !gn_cost_launches(gr, id) ? NO_PLACE : gn_graph_node(gr, id)->op == GN_OP_OPAQUE ? ON_CLIENT : 0;
    /* Nodes no pattern claims (activations, adds) are common and
     * harmless; a step is planned conservatively only when no node at
     * all is recognised with confidence (an unknown architecture). */
    uint32_t cnt, sure = 0;
    double conf = mean_conf(g, NULL, &cnt);
    for (uint32_t id = 0; id < g->nn; id++)
        sure += gn_cost_launches(gr, id) && ann(g, id)->confidence >= GN_SEMANTIC_CONFIDENT;
    g->conservative = cnt > 0 && sure == 0;
    if (g->conservative) {
        warn(g, W_STEP, "genie: %s: step %u (%u launched nodes, mean confidence %.2f) has no node recognised with confidence >= %.2f: planned conservatively on one GPU, without family rules or recomputation",
             gn_session_name(g->s), g->st, cnt, conf, GN_SEMANTIC_CONFIDENT);
        return 0;
    }
    int rc = 0;
    if (g->on[SW_EMB])
        rc = place_embeddings(g);
    if (rc == 0 && g->on[SW_ENC])
        place_encoders(g);
    if (rc == 0 && g->on[SW_VISION])
        rc = place_heads(g);
    return rc;
}

/* ========================== one step ========================== */

static uint64_t step_signature(const gn_graph *gr)
{
    uint64_t h = 1469598103934665603ull ^ gn_graph_ntensors(gr);
    for (uint32_t i = 0; i < gn_graph_nnodes(gr); i++)
        h = (h ^ (uint64_t)gn_graph_node(gr, i)->op) * 1099511628211ull;
    return h;
}

static int step_scratch(gp *g)
{
    if (g->nt + 1 > g->capt) {
        free(g->loc);
        free(g->want);
        free(g->xs);
        free(g->have);
        g->capt = g->nt + 1;
        g->loc = malloc((size_t)g->capt * MAX_DEVICES * sizeof(*g->loc));
        g->want = malloc((size_t)g->capt * sizeof(*g->want));
        g->xs = malloc((size_t)g->capt * sizeof(*g->xs));
        g->have = malloc((size_t)g->capt);
        if (!g->loc || !g->want || !g->xs || !g->have)
            return oom(g);
    }
    if (g->nn + 1 > g->capn) {
        free(g->place);
        free(g->pos);
        free(g->rs);
        free(g->redo);
        g->capn = g->nn + 1;
        g->place = malloc((size_t)g->capn * sizeof(*g->place));
        g->pos = malloc((size_t)g->capn * sizeof(*g->pos));
        g->rs = malloc((size_t)g->capn * sizeof(*g->rs));
        g->redo = malloc((size_t)g->capn);
        if (!g->place || !g->pos || !g->rs || !g->redo)
            return oom(g);
    }
    for (size_t i = 0; i < (size_t)g->nt * MAX_DEVICES; i++)
        g->loc[i] = NOT_HERE;
    memset(g->want, 0, (size_t)g->nt * sizeof(*g->want));
    memset(g->redo, 0, g->nn);
    const uint32_t *order = gn_graph_order(g->g);
    for (uint32_t k = 0; k < g->nn; k++)
        g->pos[order[k]] = k;
    for (int k = 0; k < MAX_MACHINES; k++)
        g->req[k] = -1;
    return 0;
}

/* Where the step's leaves are before anything moves. */
static int initial_locations(gp *g)
{
    for (uint32_t t = 0; t < g->nt; t++) {
        const gn_tensor *x = gn_graph_tensor(g->g, t);
        if (x->producer >= 0)
            continue;
        if (x->storage >= 0) {
            if (g->first[x->storage] < 0)
                g->first[x->storage] = (int32_t)g->st;
            if ((double)x->bytes > g->size[x->storage])
                g->size[x->storage] = (double)x->bytes;
        }
        if (x->kind == GN_KIND_INPUT || x->kind == GN_KIND_PARAM)
            *locp(g, t, 0) = PRESENT; /* the application holds them */
        if (x->kind == GN_KIND_PARAM && x->storage >= 0)
            for (uint32_t i = 0; i < g->ngpus; i++)
                if (g->pres[x->storage] & (1ull << i)) {
                    int32_t d = gpu_dev(g, i);
                    if (d < 0)
                        return oom(g);
                    *locp(g, t, d) = PRESENT;
                }
        if (x->kind == GN_KIND_STATE) {
            if (g->on[SW_KV] && x->storage >= 0 && g->sgpu[x->storage] >= 0)
                *locp(g, t, gpu_dev(g, (uint32_t)g->sgpu[x->storage])) = PRESENT;
            else
                *locp(g, t, 0) = PRESENT; /* returned last step, or made by the application */
        }
    }
    return 0;
}

/*
 * The step's requests: to each machine that computes in it, one message
 * with what its GPUs need from the client (inputs, state the node does
 * not keep, weights it does not hold yet) and the step's graph unless the
 * node has its plan; then a host -> GPU copy per GPU.  Without batching,
 * the graph and every tensor are separate messages.
 */
static int requests(gp *g)
{
    const gn_graph *gr = g->g;
    int warm = g->in->weights_resident && g->on[SW_WEIGHTS];
    unsigned char used[MAX_MACHINES] = {0};
    /* what each GPU needs from the client */
    for (uint32_t id = 0; id < g->nn; id++) {
        if (g->place[id] < 0)
            continue;
        uint32_t i = (uint32_t)g->place[id];
        used[machine_of_gpu(g, i)] = 1;
        const uint32_t *in = gn_graph_node_inputs(gr, id);
        for (uint32_t k = 0; k < gn_graph_node(gr, id)->nin; k++) {
            uint32_t b = base_of(gr, in[k]);
            const gn_tensor *x = gn_graph_tensor(gr, b);
            if (x->kind == GN_KIND_PARAM && x->storage >= 0 && warm) {
                g->pres[x->storage] |= 1ull << i; /* deployed where the plan uses it */
                if (*locp(g, b, gpu_dev(g, i)) == NOT_HERE)
                    *locp(g, b, gpu_dev(g, i)) = PRESENT; /* every tensor of the storage */
            }
            if (x->producer < 0 && *locp(g, b, gpu_dev(g, i)) == NOT_HERE && *locp(g, b, 0) != NOT_HERE)
                g->want[b] |= 1ull << i;
        }
    }
    uint64_t sig = step_signature(gr);
    double desc = gn_graph_nnodes(gr) * NODE_DESC_BYTES + gn_graph_ntensors(gr) * TENSOR_DESC_BYTES;
    int rc = 0;
    for (int m = 0; m < MAX_MACHINES && rc >= 0; m++) {
        if (!used[m])
            continue;
        int known = 0;
        for (uint32_t k = 0; k < g->nsigs[m]; k++)
            known |= g->sigs[m][k] == sig;
        if (g->on[SW_PLAN] && !known && g->nsigs[m] < MAX_SIGS)
            g->sigs[m][g->nsigs[m]++] = sig;
        double extra = g->on[SW_PLAN] && known ? 0 : desc;
        int32_t node = cpu_dev(g, m);
        if (node < 0)
            return oom(g);
        uint64_t mask = 0;
        for (uint32_t j = 0; j < g->per_node && m * g->per_node + j < g->ngpus; j++)
            mask |= 1ull << (m * g->per_node + j);
        /* the network message(s) */
        int32_t msg = -1;
        if (g->on[SW_BATCH]) {
            for (uint32_t t = 0; t < g->nt && rc >= 0; t++)
                if (g->want[t] & mask)
                    rc = tl_add(g, t);
            for (uint32_t i = 0; i < g->nctl && rc >= 0; i++)
                rc = dep(g, g->ctl[i]);
            if (rc >= 0)
                rc = msg = ship(g, 0, node, extra, "request (batched)");
        } else {
            for (uint32_t i = 0; i < g->nctl && rc >= 0; i++)
                rc = dep(g, g->ctl[i]);
            if (rc >= 0)
                rc = msg = ship(g, 0, node, extra, "request");
            for (uint32_t t = 0; t < g->nt && rc >= 0; t++)
                if (g->want[t] & mask) {
                    for (uint32_t i = 0; i < g->nctl && rc >= 0; i++)
                        rc = dep(g, g->ctl[i]);
                    snprintf(g->label, sizeof(g->label), "upload %s", tensor_name(gr, t));
                    if (rc >= 0 && (rc = tl_add(g, t)) >= 0)
                        rc = ship(g, 0, node, 0, g->label);
                }
        }
        if (rc < 0)
            break;
        g->req[m] = msg;
        /* host -> GPU copies */
        for (uint32_t j = 0; j < g->per_node && rc >= 0; j++) {
            uint32_t i = m * g->per_node + j;
            if (i >= g->ngpus)
                break;
            for (uint32_t t = 0; t < g->nt && rc >= 0; t++)
                if (g->want[t] & (1ull << i)) {
                    rc = tl_add(g, t);
                    if (rc >= 0 && !g->on[SW_BATCH])
                        rc = ship(g, node, gpu_dev(g, i), 0, "h2d copy");
                }
            if (rc >= 0 && g->ntl > 0)
                rc = ship(g, node, gpu_dev(g, i), 0, "h2d copy");
        }
    }
    /* weights uploaded now stay (with residency) */
    for (uint32_t t = 0; t < g->nt && rc >= 0; t++) {
        const gn_tensor *x = gn_graph_tensor(gr, t);
        if (x->kind == GN_KIND_PARAM && x->storage >= 0 && g->on[SW_WEIGHTS])
            g->pres[x->storage] |= g->want[t];
    }
    return rc < 0 ? rc : 0;
}

/* The step's results back to the client: one reply per source device. */
static int replies(gp *g)
{
    const gn_graph *gr = g->g;
    unsigned char *ret = calloc(g->nt + 1, 1);
    if (!ret)
        return oom(g);
    for (uint32_t t = 0; t < g->nt; t++) {
        const gn_tensor *x = gn_graph_tensor(gr, t);
        if (x->kind == GN_KIND_OUTPUT || (x->kind == GN_KIND_STATE && x->producer >= 0 && !g->on[SW_KV]))
            ret[base_of(gr, t)] = 1;
    }
    for (uint32_t i = 0; i < gn_graph_nreads(gr); i++)
        ret[base_of(gr, gn_graph_read(gr, i)->tensor)] = 1;
    g->nctl = 0;
    int rc = 0;
    for (uint32_t t = 0; t < g->nt && rc >= 0; t++) {
        if (!ret[t])
            continue;
        if (*locp(g, t, 0) != NOT_HERE) {
            rc = ctl_add(g, *locp(g, t, 0));
            ret[t] = 0;
        }
    }
    for (uint32_t t = 0; t < g->nt && rc >= 0; t++) {
        if (!ret[t])
            continue;
        int32_t src = best_source(g, t, 0);
        if (src < 0) {
            rc = gn_error_set(g->err, GN_EINVAL, "genie: step %u: result %s is computed nowhere", g->st, tensor_name(gr, t));
            break;
        }
        rc = tl_add(g, t);
        ret[t] = 0;
        if (g->on[SW_BATCH])
            for (uint32_t u = t + 1; u < g->nt && rc >= 0; u++)
                if (ret[u] && best_source(g, u, 0) == src) {
                    rc = tl_add(g, u);
                    ret[u] = 0;
                }
        snprintf(g->label, sizeof(g->label), g->on[SW_BATCH] ? "reply (batched)" : "reply %s", tensor_name(gr, t));
        if (rc >= 0 && (rc = ship(g, src, 0, 0, g->label)) >= 0)
            rc = ctl_add(g, rc);
    }
    free(ret);
    return rc < 0 ? rc : 0;
}

static int plan_step(gp *g, uint32_t st)
{
    g->st = st;
    g->g = gn_session_step(g->s, st);
    g->nt = gn_graph_ntensors(g->g);
    g->nn = gn_graph_nnodes(g->g);
    int rc;
    if ((rc = step_scratch(g)) < 0 || (rc = place_step(g)) < 0)
        return rc;
    /* GPU devices in order of first use, so plans read naturally */
    for (uint32_t id = 0; id < g->nn; id++)
        if (g->place[id] >= 0 && gpu_dev(g, (uint32_t)g->place[id]) < 0)
            return oom(g);
    if ((rc = initial_locations(g)) < 0 || (rc = requests(g)) < 0)
        return rc;
    const uint32_t *order = gn_graph_order(g->g);
    for (uint32_t k = 0; k < g->nn; k++) {
        uint32_t id = order[k];
        if (g->place[id] == NO_PLACE)
            continue;
        int32_t dev = g->place[id] == ON_CLIENT ? 0 : gpu_dev(g, (uint32_t)g->place[id]);
        if ((rc = emit_compute(g, id, dev)) < 0)
            return rc;
    }
    if ((rc = replies(g)) < 0)
        return rc;
    /* state stays where it was made */
    for (uint32_t t = 0; t < g->nt; t++) {
        const gn_tensor *x = gn_graph_tensor(g->g, t);
        if (x->kind == GN_KIND_STATE && x->producer >= 0 && x->storage >= 0) {
            int32_t p = x->producer;
            while (p >= 0 && g->place[p] == NO_PLACE && gn_graph_node(g->g, (uint32_t)p)->nin > 0)
                p = real_producer(g->g, gn_graph_node_inputs(g->g, (uint32_t)p)[0]);
            g->sgpu[x->storage] = p >= 0 && g->place[p] >= 0 ? g->place[p] : -1;
        }
    }
    return 0;
}

/* ========================== the plan ========================== */

static int residency_and_fit(gp *g)
{
    double used[MAX_GPUS] = {0};
    int rc = 0;
    for (uint32_t s = 0; s < g->nsto && rc >= 0; s++) {
        if (g->first[s] < 0)
            continue;
        if (g->on[SW_WEIGHTS])
            for (uint32_t i = 0; i < g->ngpus && rc >= 0; i++)
                if (g->pres[s] & (1ull << i)) {
                    used[i] += g->size[s];
                    rc = gn_plan_add_residency(g->p, (int32_t)s, gpu_dev(g, i), (uint32_t)g->first[s], g->size[s],
                                               "weights");
                }
        if (g->on[SW_KV] && g->sgpu[s] >= 0 && rc >= 0) {
            used[g->sgpu[s]] += g->size[s];
            rc = gn_plan_add_residency(g->p, (int32_t)s, gpu_dev(g, (uint32_t)g->sgpu[s]), (uint32_t)g->first[s],
                                       g->size[s], "state");
        }
    }
    if (rc < 0)
        return oom(g);
    for (uint32_t i = 0; i < g->ngpus; i++)
        if (used[i] > g->pf->gpu.mem_bytes)
            return gn_error_set(g->err, GN_EUNSUPPORTED,
                                "%s: weights and state placed on GPU %u (%.1f GB) do not fit one %s (%.0f GB)%s",
                                gn_session_name(g->s), i, used[i] / 1e9, g->pf->gpu.name, g->pf->gpu.mem_bytes / 1e9,
                                g->ngpus < 2 ? "; the platform has one GPU" : g->on[SW_EMB] ? "" : " (embedding_sharding is off)");
    return 0;
}

static void gp_free(gp *g)
{
    gn_analysis_destroy(g->own_an);
    free(g->home);
    free(g->pres);
    free(g->first);
    free(g->size);
    free(g->sgpu);
    free(g->place);
    free(g->loc);
    free(g->pos);
    free(g->want);
    free(g->xs);
    free(g->rs);
    free(g->have);
    free(g->redo);
    free(g->deps);
    free(g->items);
    free(g->ctl);
    free(g->tl);
}

static int plan_genie(const gn_plan_input *in, gn_plan **out, gn_error *err)
{
    int disabled[SW_COUNT] = {0};
    double bias = 1;
    const gn__opt_spec specs[] = {{"recompute_bias", &bias, 1e-3, 1e12}, {NULL, NULL, 0, 0}};
    *out = NULL;
    int rc = gn__strategy_options(in, specs, genie_switches, disabled, err);
    if (rc < 0)
        return rc;
    gp g;
    memset(&g, 0, sizeof(g));
    g.in = in;
    g.pf = in->platform;
    g.s = in->session;
    g.err = err;
    g.bias = bias;
    for (int k = 0; k < SW_COUNT; k++)
        g.on[k] = !disabled[k];
    uint32_t nodes = g.pf->nodes < MAX_MACHINES ? g.pf->nodes : MAX_MACHINES;
    g.per_node = g.pf->gpus_per_node ? g.pf->gpus_per_node : 1;
    g.ngpus = nodes * g.per_node < MAX_GPUS ? nodes * g.per_node : MAX_GPUS;
    for (int k = 0; k < MAX_GPUS; k++)
        g.gdev[k] = -1;
    for (int k = 0; k < MAX_MACHINES; k++)
        g.mdev[k] = -1;
    g.nsto = gn_strtab_count(gn_session_storages(g.s));
    g.home = malloc((g.nsto + 1) * sizeof(*g.home));
    g.pres = calloc(g.nsto + 1, sizeof(*g.pres));
    g.first = malloc((g.nsto + 1) * sizeof(*g.first));
    g.size = calloc(g.nsto + 1, sizeof(*g.size));
    g.sgpu = malloc((g.nsto + 1) * sizeof(*g.sgpu));
    g.p = gn_plan_create("genie");
    if (!g.home || !g.pres || !g.first || !g.size || !g.sgpu || !g.p) {
        rc = oom(&g);
        goto done;
    }
    for (uint32_t s = 0; s < g.nsto; s++)
        g.home[s] = g.first[s] = g.sgpu[s] = -1;
    g.an = in->analysis;
    if (!g.an) {
        g.an = g.own_an = gn_analysis_run(g.s, NULL, err);
        if (!g.an) {
            rc = GN_ENOMEM;
            goto done;
        }
        for (uint32_t i = 0; i < gn_analysis_nwarnings(g.an) && in->warn; i++)
            in->warn(in->warn_ctx, gn_analysis_warning(g.an, i));
    }
    if ((rc = gn_plan_add_device(g.p, "client", 0, -1)) < 0) {
        rc = oom(&g);
        goto done;
    }
    for (uint32_t st = 0; st < gn_session_nsteps(g.s) && rc >= 0; st++)
        rc = plan_step(&g, st);
    if (rc >= 0)
        rc = residency_and_fit(&g);
done:
    if (rc < 0) {
        gn_plan_destroy(g.p);
        g.p = NULL;
    }
    *out = g.p;
    gp_free(&g);
    return rc < 0 ? rc : 0;
}

const gn_strategy_ops gn__genie_ops = {
    GN_STRATEGY_VERSION, "genie",
    "semantic: resident weights, co-located KV cache, cached plan, batching, family placement over all GPUs",
    genie_switches, plan_genie};
