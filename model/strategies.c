/*
 * strategies.c — the built-in planners: local, remoting, blind, genie.
 *
 * All four walk the session the same way (steps in order, ops of a step in
 * topological order; views launch nothing and forward their input's
 * producer), and differ only in where data lives and what crosses the
 * network.  The models of the baselines are meant to be as strong as the
 * systems they stand for:
 *
 *  remoting  One remote call per launched op, sent asynchronously: the
 *            client pays `call_overhead_us` per call (interception,
 *            marshalling, send) and calls pipeline over the network; the
 *            server launches each kernel as its call arrives.  Tensors stay
 *            in remote device memory, so weights and the KV cache never
 *            move after upload.  A read (cudaMemcpy D2H, .item()) is a
 *            synchronous round trip that blocks the application.
 *            Default per-call cost: 10 us, an assumption of the order
 *            API-remoting papers report for small asynchronous calls
 *            (rCUDA: Duato et al., HPCS 2010; Reaño & Silla, CCPE 2019;
 *            Cricket: Eiling et al., CCPE 2022) — their exact tables were
 *            not re-checked for this default, so it is an option
 *            (`call_overhead_us`) and experiments/remoting_sensitivity.json
 *            sweeps it.
 *  blind     Each step is one request carrying the graph, the inputs and
 *            every tensor whose content the node has not seen (content-hash
 *            cache: weights go once, and not at all when warm), and one
 *            reply carrying everything that outlives the step (outputs and
 *            new state), because nothing tells it the next step will reuse
 *            the state on the same node.  Hashing cost is not charged.
 *  genie     See strategy.h and strategy_genie.c.  plan_offload below
 *            keeps the switches genie's first version had, so blind is
 *            still "genie with no semantics".
 *
 * Wire sizes: a remote call is `call_bytes` (256) of arguments; every
 * message has a 64-byte header; a graph description costs 64 bytes per
 * node and 48 per tensor (the order of any compact binary encoding).
 */
#include "strategy.h"

#include "grow.h"
#include "strategy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cost.h"

#define HDR_BYTES 64.0
#define NODE_DESC_BYTES 64.0
#define TENSOR_DESC_BYTES 48.0

enum { DEV_CLIENT = 0 };
enum { NOT_HERE = -2 }; /* a tensor location that does not hold the tensor */

/* ========================== shared builder ========================== */

typedef struct bld {
    const gn_plan_input *in;
    gn_plan *p;
    gn_error *err;
    int32_t gpu, node;     /* device ids of the accelerator and its host CPU */
    const gn_gpu_spec *spec;
    int32_t *ttask;        /* per tensor: task that makes it available on the GPU (NOT_HERE: only on the client) */
    int32_t *ctask;        /* per tensor: task that makes it available on the client (NOT_HERE: only on the GPU) */
    uint32_t tcap;
    int opaque_on_client;  /* run ops outside the vocabulary on the client CPU */
    int32_t *deps;         /* scratch dependency list */
    uint32_t nd, capd;
    int32_t *ctl;          /* tasks the application waits for before going on */
    uint32_t nctl, capctl;
    gn_item *items;        /* scratch: tensors the next transfer carries */
    uint32_t ni, capi;
    int32_t *stored;       /* per storage: task that uploaded it, -1 if never */
    unsigned char *mark;   /* per tensor scratch */
    char label[256];
} bld;

static int dep(bld *b, int32_t task)
{
    if (task < 0)
        return 0;
    if (gn__grow((void **)&b->deps, &b->capd, b->nd + 1, sizeof(*b->deps)) < 0)
        return GN_ENOMEM;
    b->deps[b->nd++] = task;
    return 0;
}

/* Adds tensor T of step ST to what the next transfer carries. */
static int item(bld *b, uint32_t st, uint32_t t)
{
    if (gn__grow((void **)&b->items, &b->capi, b->ni + 1, sizeof(*b->items)) < 0)
        return GN_ENOMEM;
    b->items[b->ni++] = (gn_item){st, t};
    return 0;
}

static int ctl_add(bld *b, int32_t task)
{
    if (gn__grow((void **)&b->ctl, &b->capctl, b->nctl + 1, sizeof(*b->ctl)) < 0)
        return GN_ENOMEM;
    b->ctl[b->nctl++] = task;
    return 0;
}

static int deps_ctl(bld *b)
{
    for (uint32_t i = 0; i < b->nctl; i++)
        if (dep(b, b->ctl[i]) < 0)
            return GN_ENOMEM;
    return 0;
}

static int bld_init(bld *b, const gn_plan_input *in, const char *name,
                    int remote, gn_error *err)
{
    memset(b, 0, sizeof(*b));
    b->in = in;
    b->err = err;
    b->p = gn_plan_create(name);
    uint32_t nst = gn_strtab_count(gn_session_storages(in->session));
    b->stored = malloc(((size_t)nst + 1) * sizeof(*b->stored));
    if (!b->p || !b->stored)
        return gn_error_set(err, GN_ENOMEM, "planner: out of memory");
    for (uint32_t i = 0; i < nst; i++)
        b->stored[i] = -1;
    int rc = gn_plan_add_device(b->p, "client", 0, -1);
    if (rc >= 0 && remote) {
        b->spec = &in->platform->gpu;
        b->node = rc = gn_plan_add_device(b->p, "node0", 0, 0);
        if (rc >= 0)
            b->gpu = rc = gn_plan_add_device(b->p, "node0.gpu0", 1, 0);
    } else if (rc >= 0) {
        b->spec = &in->platform->client_gpu;
        b->node = DEV_CLIENT;
        b->gpu = rc = gn_plan_add_device(b->p, "client.gpu0", 1, -1);
    }
    if (rc < 0)
        return gn_error_set(err, rc, "planner: out of memory");
    return 0;
}

static void bld_free(bld *b)
{
    free(b->ttask);
    free(b->ctask);
    free(b->deps);
    free(b->items);
    free(b->ctl);
    free(b->stored);
    free(b->mark);
}

/* Prepares per-tensor arrays for step graph G. */
static int bld_step(bld *b, const gn_graph *g)
{
    uint32_t nt = gn_graph_ntensors(g);
    if (nt + 1 > b->tcap) {
        free(b->ttask);
        free(b->ctask);
        free(b->mark);
        b->ttask = malloc(((size_t)nt + 1) * sizeof(*b->ttask));
        b->ctask = malloc(((size_t)nt + 1) * sizeof(*b->ctask));
        b->mark = malloc((size_t)nt + 1);
        b->tcap = nt + 1;
        if (!b->ttask || !b->ctask || !b->mark)
            return gn_error_set(b->err, GN_ENOMEM, "planner: out of memory");
    }
    for (uint32_t t = 0; t < nt; t++) {
        gn_kind k = gn_graph_tensor(g, t)->kind;
        b->ttask[t] = -1;
        /* the application holds its inputs and weights; results and state
         * exist on the client only once something puts them there */
        b->ctask[t] = k == GN_KIND_INPUT || k == GN_KIND_PARAM ? -1 : NOT_HERE;
    }
    memset(b->mark, 0, nt);
    return 0;
}

static const char *label_op(bld *b, const gn_graph *g, uint32_t id)
{
    const gn_node *n = gn_graph_node(g, id);
    snprintf(b->label, sizeof(b->label), "%s %s", gn_op_name(n->op),
             n->module ? n->module : "");
    return b->label;
}

static const char *label_tensor(bld *b, const char *what, const gn_graph *g,
                                uint32_t t)
{
    const gn_tensor *x = gn_graph_tensor(g, t);
    const char *name = x->storage >= 0 ? gn_graph_storage_name(g, x->storage)
                                       : (x->name ? x->name : "");
    snprintf(b->label, sizeof(b->label), "%s %s", what, name);
    return b->label;
}

/* Whether tensor T of G goes back to the application: an output, or read. */
static void mark_returned(bld *b, const gn_graph *g)
{
    for (uint32_t t = 0; t < gn_graph_ntensors(g); t++)
        if (gn_graph_tensor(g, t)->kind == GN_KIND_OUTPUT)
            b->mark[t] = 1;
    for (uint32_t i = 0; i < gn_graph_nreads(g); i++)
        b->mark[gn_graph_read(g, i)->tensor] = 1;
}

/* Transfer time estimate between two devices of the plan. */
static double xfer_s(bld *b, int32_t src, int32_t dst, double bytes)
{
    const gn_platform *pf = b->in->platform;
    if (!gn_plan_is_network(b->p, src, dst))
        return gn_cost_transfer(bytes, pf->pcie_bw, pf->pcie_latency);
    return gn_cost_transfer(bytes, pf->net_bw, pf->net_latency);
}

/* Adds a transfer SRC -> DST depending on the scratch list (then cleared). */
static int add_move(bld *b, uint32_t step, int32_t src, int32_t dst,
                    int32_t issuer, double issue_s, double bytes,
                    const char *label)
{
    int rc = gn_plan_add_transfer(b->p, step, src, dst, issuer, issue_s,
                                  xfer_s(b, src, dst, bytes), bytes, label, b->deps, b->nd);
    b->nd = 0;
    if (rc >= 0 && b->ni > 0) {
        int r = gn_plan_set_items(b->p, (uint32_t)rc, b->items, b->ni);
        rc = r < 0 ? r : rc;
    }
    if (rc < 0)
        gn_error_set(b->err, rc, "planner: cannot add transfer \"%s\": %s", label, gn_strerror(rc));
    return rc;
}

/*
 * Moves BYTES between the client and the GPU, depending on the scratch
 * list.  Locally that is one PCIe copy issued by the client.  To a remote
 * GPU it is two hops, as a TCP data path without GPUDirect does it: the
 * network message (sender pays ISSUE_S), then the node's host <-> device
 * copy, launched by the node CPU like any CUDA copy (launch cost).  The
 * network message carries EXTRA more bytes (headers, call arguments) that
 * the device copy does not.  Returns the last task, or < 0.
 */
static int add_xfer_hops(bld *b, uint32_t step, int to_gpu, int32_t issuer,
                         double issue_s, double bytes, double extra,
                         const char *label)
{
    double launch = b->spec->launch_s;
    if (b->node == DEV_CLIENT) /* local: one PCIe copy */
        return to_gpu ? add_move(b, step, DEV_CLIENT, b->gpu, issuer, issue_s, bytes + extra, label)
                      : add_move(b, step, b->gpu, DEV_CLIENT, issuer, issue_s, bytes + extra, label);
    int first;
    if (to_gpu) {
        first = add_move(b, step, DEV_CLIENT, b->node, issuer, issue_s, bytes + extra, label);
        if (first < 0 || bytes <= 0)
            return first;
        dep(b, first);
        return add_move(b, step, b->node, b->gpu, b->node, launch, bytes, "h2d copy");
    }
    if (bytes > 0) {
        first = add_move(b, step, b->gpu, b->node, b->node, launch, bytes, "d2h copy");
        if (first < 0)
            return first;
        dep(b, first);
    }
    return add_move(b, step, b->node, DEV_CLIENT, issuer, issue_s, bytes + extra, label);
}

/* As add_xfer_hops; every hop carries the scratch items, then cleared. */
static int add_xfer_extra(bld *b, uint32_t step, int to_gpu, int32_t issuer,
                          double issue_s, double bytes, double extra,
                          const char *label)
{
    int rc = add_xfer_hops(b, step, to_gpu, issuer, issue_s, bytes, extra, label);
    b->ni = 0;
    return rc;
}

static int add_xfer(bld *b, uint32_t step, int to_gpu, int32_t issuer,
                    double issue_s, double bytes, const char *label)
{
    return add_xfer_extra(b, step, to_gpu, issuer, issue_s, bytes, 0, label);
}

/*
 * Adds the compute tasks of step ST in topological order.  Each depends on
 * its inputs' tasks; the first also on FIRST_DEPS (control: the request
 * or the read the application waited for).  Views forward producers.
 * With CALL_S > 0 (remoting) every launched op is preceded by a remote
 * call from the client, which is its control dependency.
 */
/* Makes tensor T available on the client (a reply) if it is not yet. */
static int need_on_client(bld *b, uint32_t st, const gn_graph *g, uint32_t t)
{
    if (b->ctask[t] != NOT_HERE)
        return 0;
    dep(b, b->ttask[t]);
    if (item(b, st, t) < 0)
        return GN_ENOMEM;
    int x = add_xfer(b, st, 0, b->node, b->in->platform->msg_overhead_s,
                     (double)gn_graph_tensor(g, t)->bytes, label_tensor(b, "to client", g, t));
    if (x >= 0)
        b->ctask[t] = x;
    return x < 0 ? x : 0;
}

/* Makes tensor T available on the GPU (an upload) if it is not yet. */
static int need_on_gpu(bld *b, uint32_t st, const gn_graph *g, uint32_t t)
{
    if (b->ttask[t] != NOT_HERE)
        return 0;
    dep(b, b->ctask[t]);
    if (item(b, st, t) < 0)
        return GN_ENOMEM;
    int x = add_xfer(b, st, 1, DEV_CLIENT, b->in->platform->msg_overhead_s,
                     (double)gn_graph_tensor(g, t)->bytes, label_tensor(b, "to node", g, t));
    if (x >= 0)
        b->ttask[t] = x;
    return x < 0 ? x : 0;
}

/*
 * An op outside the vocabulary, run on the client CPU: the node never
 * runs code it does not know (DESIGN.md), so its inputs come back to the
 * client and its outputs go up again when a GPU op needs them.
 */
static int add_client_op(bld *b, uint32_t st, const gn_graph *g, uint32_t id)
{
    const gn_node *n = gn_graph_node(g, id);
    const uint32_t *in = gn_graph_node_inputs(g, id), *out = gn_graph_node_outputs(g, id);
    for (uint32_t i = 0; i < n->nin; i++)
        if (need_on_client(b, st, g, in[i]) < 0)
            return GN_ENOMEM;
    for (uint32_t i = 0; i < n->nin; i++)
        dep(b, b->ctask[in[i]]);
    int rc = gn_plan_add_compute(b->p, st, DEV_CLIENT, -1, 0,
                                 gn_cost_op_host(b->in->platform->client_cpu_flops, g, id), n->flops, n->bytes,
                                 (int32_t)id, label_op(b, g, id), b->deps, b->nd);
    b->nd = 0;
    if (rc < 0)
        return gn_error_set(b->err, rc, "planner: cannot add client op %u of step %u", id, st);
    for (uint32_t o = 0; o < n->nout; o++) {
        b->ctask[out[o]] = rc;
        b->ttask[out[o]] = NOT_HERE;
    }
    return 0;
}

/*
 * Adds the compute tasks of step ST in topological order.  Each depends on
 * its inputs' tasks; the first also on FIRST_DEPS (control: the request
 * or the read the application waited for).  Views forward producers.
 * With CALL_S > 0 (remoting) every launched op is preceded by a remote
 * call from the client, which is its control dependency.
 */
static int add_computes(bld *b, uint32_t st, const gn_graph *g,
                        int32_t issuer, const int32_t *first_deps,
                        uint32_t nfirst, double call_s, double call_bytes)
{
    const uint32_t *order = gn_graph_order(g);
    int first = 1;
    for (uint32_t k = 0; k < gn_graph_nnodes(g); k++) {
        uint32_t id = order[k];
        const gn_node *n = gn_graph_node(g, id);
        const uint32_t *in = gn_graph_node_inputs(g, id);
        const uint32_t *out = gn_graph_node_outputs(g, id);
        if (!gn_cost_launches(g, id)) {
            for (uint32_t o = 0; o < n->nout; o++) {
                b->ttask[out[o]] = n->nin ? b->ttask[in[0]] : -1;
                b->ctask[out[o]] = n->nin ? b->ctask[in[0]] : NOT_HERE;
            }
            continue;
        }
        if (n->op == GN_OP_OPAQUE && b->opaque_on_client) {
            int rc = add_client_op(b, st, g, id);
            if (rc < 0)
                return rc;
            continue;
        }
        for (uint32_t i = 0; i < n->nin; i++)
            if (need_on_gpu(b, st, g, in[i]) < 0)
                return GN_ENOMEM;
        if (first)
            for (uint32_t i = 0; i < nfirst; i++)
                if (dep(b, first_deps[i]) < 0)
                    return gn_error_set(b->err, GN_ENOMEM, "planner: out of memory");
        if (call_s > 0) {
            int call = add_xfer_extra(b, st, 1, DEV_CLIENT, call_s, 0, call_bytes, label_op(b, g, id));
            if (call < 0)
                return call;
            dep(b, call);
        }
        first = 0;
        for (uint32_t i = 0; i < n->nin; i++)
            if (dep(b, b->ttask[in[i]]) < 0)
                return gn_error_set(b->err, GN_ENOMEM, "planner: out of memory");
        int rc = gn_plan_add_compute(b->p, st, b->gpu, issuer, b->spec->launch_s,
                                     gn_cost_op_gpu(b->spec, g, id), n->flops,
                                     n->bytes, (int32_t)id, label_op(b, g, id),
                                     b->deps, b->nd);
        b->nd = 0;
        if (rc < 0)
            return gn_error_set(b->err, rc, "planner: cannot add op %u of step %u", id, st);
        for (uint32_t o = 0; o < n->nout; o++)
            b->ttask[out[o]] = rc;
    }
    return 0;
}

/* Bytes of a description of G's graph (what a plan upload carries). */
static double graph_desc_bytes(const gn_graph *g)
{
    return gn_graph_nnodes(g) * NODE_DESC_BYTES + gn_graph_ntensors(g) * TENSOR_DESC_BYTES;
}

/* Refuses sessions whose weights and state cannot fit the device. */
static int check_fits(bld *b)
{
    const gn_session *s = b->in->session;
    double need = (double)gn_session_param_bytes(s), state = 0;
    for (uint32_t st = 0; st < gn_session_nsteps(s); st++) {
        const gn_graph *g = gn_session_step(s, st);
        double here = 0;
        for (uint32_t t = 0; t < gn_graph_ntensors(g); t++)
            if (gn_graph_tensor(g, t)->kind == GN_KIND_STATE && gn_graph_tensor(g, t)->producer >= 0)
                here += (double)gn_graph_tensor(g, t)->bytes;
        if (here > state)
            state = here;
    }
    if (need + state > b->spec->mem_bytes)
        return gn_error_set(b->err, GN_EUNSUPPORTED,
                            "%s: weights (%.1f GB) and state (%.1f GB) do not fit one %s (%.0f GB), and this strategy uses one GPU (genie shards embedding tables)",
                            gn_session_name(s), need / 1e9, state / 1e9, b->spec->name,
                            b->spec->mem_bytes / 1e9);
    return 0;
}

static int record_residency(bld *b, int weights, int state)
{
    const gn_session *s = b->in->session;
    uint32_t nst = gn_strtab_count(gn_session_storages(s));
    double *size = calloc((size_t)nst + 1, sizeof(*size));
    int32_t *first = malloc(((size_t)nst + 1) * sizeof(*first));
    unsigned char *kind = calloc((size_t)nst + 1, 1);
    int rc = 0;
    if (!size || !first || !kind)
        rc = GN_ENOMEM;
    for (uint32_t i = 0; rc == 0 && i < nst; i++)
        first[i] = -1;
    for (uint32_t st = 0; rc == 0 && st < gn_session_nsteps(s); st++) {
        const gn_graph *g = gn_session_step(s, st);
        for (uint32_t t = 0; t < gn_graph_ntensors(g); t++) {
            const gn_tensor *x = gn_graph_tensor(g, t);
            if (x->storage < 0)
                continue;
            if (first[x->storage] < 0)
                first[x->storage] = (int32_t)st;
            if ((double)x->bytes > size[x->storage])
                size[x->storage] = (double)x->bytes;
            kind[x->storage] = (unsigned char)(x->kind + 1);
        }
    }
    for (uint32_t i = 0; rc == 0 && i < nst; i++) {
        int is_param = kind[i] == GN_KIND_PARAM + 1;
        if (first[i] < 0 || (is_param && !weights) || (!is_param && !state))
            continue;
        rc = gn_plan_add_residency(b->p, (int32_t)i, b->gpu, (uint32_t)first[i], size[i],
                                   is_param ? "weights" : "state");
    }
    free(size);
    free(first);
    free(kind);
    if (rc < 0)
        return gn_error_set(b->err, rc, "planner: out of memory");
    return 0;
}

/* ========================== options ========================== */

typedef gn__opt_spec opt_spec;

int gn__strategy_options(const gn_plan_input *in, const gn__opt_spec *specs,
                         const char *const *switches, int *disabled,
                         gn_error *err)
{
    const char *file = in->file ? in->file : "experiment";
    const char *path = in->path ? in->path : "$.options";
    const char *key;
    json_t *v;
    if (!in->options)
        return 0;
    if (!json_is_object(in->options))
        return gn_error_set(err, GN_ESCHEMA, "%s: %s: expected an object", file, path);
    json_object_foreach((json_t *)in->options, key, v) {
        int known = 0;
        for (const opt_spec *s = specs; s && s->key; s++) {
            if (strcmp(s->key, key) != 0)
                continue;
            known = 1;
            if (!json_is_number(v) || json_number_value(v) < s->lo || json_number_value(v) > s->hi)
                return gn_error_set(err, GN_ESCHEMA, "%s: %s.%s: expected a number in [%g, %g]",
                                    file, path, key, s->lo, s->hi);
            *s->value = json_number_value(v);
        }
        if (!known && strcmp(key, "disable") == 0 && switches) {
            size_t i;
            json_t *name;
            if (!json_is_array(v))
                return gn_error_set(err, GN_ESCHEMA, "%s: %s.disable: expected an array of names", file, path);
            json_array_foreach(v, i, name) {
                int found = 0;
                for (int k = 0; switches[k]; k++)
                    if (json_is_string(name) && strcmp(switches[k], json_string_value(name)) == 0)
                        disabled[k] = found = 1;
                if (!found) {
                    char names[512];
                    size_t used = 0;
                    names[0] = '\0';
                    for (int k = 0; switches[k] && used < sizeof(names); k++)
                        used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s", k ? ", " : "",
                                                 switches[k]);
                    return gn_error_set(err, GN_ESCHEMA, "%s: %s.disable[%zu]: unknown optimisation (expected one of %s)",
                                        file, path, i, names);
                }
            }
            known = 1;
        }
        if (!known)
            return gn_error_set(err, GN_ESCHEMA, "%s: %s.%s: unknown option for this strategy", file, path, key);
    }
    return 0;
}

static int finish(bld *b, int rc, gn_plan **out)
{
    if (rc < 0) {
        gn_plan_destroy(b->p);
        b->p = NULL;
    }
    *out = b->p;
    bld_free(b);
    return rc;
}

/* ========================== local ========================== */

static int plan_local(const gn_plan_input *in, gn_plan **out, gn_error *err)
{
    bld b;
    int rc = gn__strategy_options(in, NULL, NULL, NULL, err);
    if (rc < 0)
        return rc;
    if (!in->platform->client_has_gpu)
        return gn_error_set(err, GN_EUNSUPPORTED, "local: the platform's client has no GPU");
    if ((rc = bld_init(&b, in, "local", 0, err)) < 0 || (rc = check_fits(&b)) < 0)
        return finish(&b, rc, out);
    const gn_session *s = in->session;
    double launch = b.spec->launch_s;
    /* The bound: a step's inputs go up in one copy from a pinned staging
     * buffer and its results come back in one, as a tuned local runtime
     * does (a separate cudaMemcpy per tensor would make local slower than
     * a batched remote request). */
    for (uint32_t st = 0; rc == 0 && st < gn_session_nsteps(s); st++) {
        const gn_graph *g = gn_session_step(s, st);
        if ((rc = bld_step(&b, g)) < 0)
            break;
        double up = 0;
        for (uint32_t t = 0; t < gn_graph_ntensors(g); t++) {
            const gn_tensor *x = gn_graph_tensor(g, t);
            /* inputs, and params on first use: loaded with the step's inputs */
            if (x->kind == GN_KIND_INPUT ||
                (x->kind == GN_KIND_PARAM && !in->weights_resident && b.stored[x->storage] < 0)) {
                up += (double)x->bytes;
                b.mark[t] = 1;
                if ((rc = item(&b, st, t)) < 0)
                    break;
            }
        }
        int32_t copy = -1;
        if (up > 0) {
            deps_ctl(&b);
            copy = rc = add_xfer(&b, st, 1, DEV_CLIENT, launch, up, "h2d inputs");
            for (uint32_t t = 0; rc >= 0 && t < gn_graph_ntensors(g); t++)
                if (b.mark[t]) {
                    b.ttask[t] = copy;
                    if (gn_graph_tensor(g, t)->kind == GN_KIND_PARAM)
                        b.stored[gn_graph_tensor(g, t)->storage] = copy;
                }
        }
        if (rc < 0)
            break;
        if (copy >= 0) {
            b.nctl = 0;
            ctl_add(&b, copy);
        }
        if ((rc = add_computes(&b, st, g, DEV_CLIENT, b.ctl, b.nctl, 0, 0)) < 0)
            break;
        b.nctl = 0;
        memset(b.mark, 0, gn_graph_ntensors(g));
        mark_returned(&b, g);
        double down = 0;
        for (uint32_t t = 0; t < gn_graph_ntensors(g); t++)
            if (b.mark[t]) {
                down += (double)gn_graph_tensor(g, t)->bytes;
                dep(&b, b.ttask[t]);
                if ((rc = item(&b, st, t)) < 0)
                    break;
            }
        if (rc < 0)
            break;
        if (down > 0) {
            int x = add_xfer(&b, st, 0, DEV_CLIENT, launch, down, "d2h results");
            rc = x < 0 ? x : ctl_add(&b, x);
        }
    }
    if (rc >= 0)
        rc = record_residency(&b, 1, 1);
    return finish(&b, rc < 0 ? rc : 0, out);
}

/* ========================== remoting ========================== */

static int plan_remoting(const gn_plan_input *in, gn_plan **out, gn_error *err)
{
    double call_us = 10, call_bytes = 256;
    const opt_spec specs[] = {{"call_overhead_us", &call_us, 0, 1e6},
                              {"call_bytes", &call_bytes, 0, 1e9},
                              {NULL, NULL, 0, 0}};
    bld b;
    int rc = gn__strategy_options(in, specs, NULL, NULL, err);
    if (rc < 0)
        return rc;
    if ((rc = bld_init(&b, in, "remoting", 1, err)) < 0 || (rc = check_fits(&b)) < 0)
        return finish(&b, rc, out);
    const gn_session *s = in->session;
    double call_s = call_us * 1e-6;
    double send_s = in->platform->msg_overhead_s;
    for (uint32_t st = 0; rc == 0 && st < gn_session_nsteps(s); st++) {
        const gn_graph *g = gn_session_step(s, st);
        if ((rc = bld_step(&b, g)) < 0)
            break;
        for (uint32_t t = 0; rc >= 0 && t < gn_graph_ntensors(g); t++) {
            const gn_tensor *x = gn_graph_tensor(g, t);
            if (x->kind == GN_KIND_INPUT) {
                deps_ctl(&b);
                item(&b, st, t);
                rc = b.ttask[t] = add_xfer_extra(&b, st, 1, DEV_CLIENT, call_s, (double)x->bytes,
                                                 call_bytes, label_tensor(&b, "cudaMemcpy h2d", g, t));
            } else if (x->kind == GN_KIND_PARAM && !in->weights_resident) {
                if (b.stored[x->storage] < 0 && item(&b, st, t) == 0)
                    b.stored[x->storage] = add_xfer_extra(&b, st, 1, DEV_CLIENT, call_s,
                                                          (double)x->bytes, call_bytes,
                                                    label_tensor(&b, "cudaMemcpy weight", g, t));
                rc = b.ttask[t] = b.stored[x->storage];
            }
        }
        if (rc < 0)
            break;
        /* the first call waits for the previous read; later calls follow it
         * in the client's issue order */
        rc = add_computes(&b, st, g, b.node, b.ctl, b.nctl, call_s, call_bytes);
        b.nd = 0;
        b.nctl = 0;
        if (rc < 0)
            break;
        mark_returned(&b, g);
        for (uint32_t t = 0; rc >= 0 && t < gn_graph_ntensors(g); t++)
            if (b.mark[t]) {
                int req = add_xfer_extra(&b, st, 1, DEV_CLIENT, call_s, 0, call_bytes,
                                   label_tensor(&b, "cudaMemcpy d2h request", g, t));
                if (req < 0) {
                    rc = req;
                    break;
                }
                dep(&b, req);
                dep(&b, b.ttask[t]);
                item(&b, st, t);
                int x = add_xfer_extra(&b, st, 0, b.node, send_s,
                                       (double)gn_graph_tensor(g, t)->bytes, HDR_BYTES,
                                 label_tensor(&b, "cudaMemcpy d2h", g, t));
                rc = x < 0 ? x : ctl_add(&b, x);
            }
    }
    if (rc >= 0)
        rc = record_residency(&b, 1, 1);
    return finish(&b, rc < 0 ? rc : 0, out);
}

/* ========================== blind and genie ========================== */

enum { SW_WEIGHTS, SW_KV, SW_PLAN, SW_BATCH, SW_COUNT };

typedef struct offload_cfg {
    int semantic;            /* genie (1) or blind (0) */
    int disabled[SW_COUNT];  /* genie switches turned off */
} offload_cfg;

/* Signature of a step's structure, for the node-side plan cache: the op
 * sequence and the number of tensors (shapes may change, e.g. KV length). */
static uint64_t step_signature(const gn_graph *g)
{
    uint64_t h = 1469598103934665603ull ^ gn_graph_ntensors(g);
    for (uint32_t i = 0; i < gn_graph_nnodes(g); i++)
        h = (h ^ (uint64_t)gn_graph_node(g, i)->op) * 1099511628211ull;
    return h;
}

/* Sends (or batches) one up-going item; with batching the bytes are summed
 * into *BATCH instead.  Returns the task id, 0 when batched, or < 0. */
static int up_item(bld *b, uint32_t st, int batched, double *batch,
                   int64_t tensor, double bytes, const char *label)
{
    if (batched) {
        *batch += bytes;
        return -1;
    }
    deps_ctl(b);
    if (tensor >= 0 && item(b, st, (uint32_t)tensor) < 0)
        return GN_ENOMEM;
    return add_xfer_extra(b, st, 1, DEV_CLIENT, b->in->platform->msg_overhead_s, bytes, HDR_BYTES, label);
}

static int plan_offload(const gn_plan_input *in, const offload_cfg *cfg,
                        gn_plan **out, gn_error *err)
{
    bld b;
    int rc;
    const gn_session *s = in->session;
    if ((rc = bld_init(&b, in, cfg->semantic ? "genie" : "blind", 1, err)) < 0 ||
        (rc = check_fits(&b)) < 0)
        return finish(&b, rc, out);
    int weights = !cfg->semantic || !cfg->disabled[SW_WEIGHTS]; /* blind: hash cache */
    int kv = cfg->semantic && !cfg->disabled[SW_KV];
    int plan_cache = cfg->semantic && !cfg->disabled[SW_PLAN];
    int batched = !cfg->semantic || !cfg->disabled[SW_BATCH];
    b.opaque_on_client = cfg->semantic;
    double send_s = in->platform->msg_overhead_s;
    uint64_t sigs[16];
    uint32_t nsigs = 0;

    for (uint32_t st = 0; rc == 0 && st < gn_session_nsteps(s); st++) {
        const gn_graph *g = gn_session_step(s, st);
        if ((rc = bld_step(&b, g)) < 0)
            break;
        /* what goes up */
        double batch = 0;
        int32_t ups[1] = {-1};
        uint32_t nt = gn_graph_ntensors(g);
        int known = 0;
        uint64_t sig = step_signature(g);
        for (uint32_t i = 0; i < nsigs; i++)
            known |= sigs[i] == sig;
        if (plan_cache && !known && nsigs < 16)
            sigs[nsigs++] = sig;
        int x = up_item(&b, st, batched, &batch, -1,
                        plan_cache && known ? 0 : graph_desc_bytes(g), "request");
        if (!batched && (rc = x) < 0)
            break;
        int32_t request = batched ? -1 : x;
        for (uint32_t t = 0; rc >= 0 && t < nt; t++) {
            const gn_tensor *xt = gn_graph_tensor(g, t);
            int send = 0;
            if (xt->kind == GN_KIND_INPUT)
                send = 1;
            else if (xt->kind == GN_KIND_STATE && xt->producer < 0)
                send = !kv;
            else if (xt->kind == GN_KIND_PARAM)
                send = !weights || (!in->weights_resident && b.stored[xt->storage] < 0);
            if (!send)
                continue;
            x = up_item(&b, st, batched, &batch, t, (double)xt->bytes, label_tensor(&b, "upload", g, t));
            if (!batched && x < 0) {
                rc = x;
                break;
            }
            b.mark[t] = 1; /* sent with this step */
            b.ttask[t] = batched ? -1 : x;
            if (xt->kind == GN_KIND_PARAM && !batched)
                b.stored[xt->storage] = x;
        }
        if (rc < 0)
            break;
        if (batched) {
            deps_ctl(&b);
            for (uint32_t t = 0; rc >= 0 && t < nt; t++)
                if (b.mark[t])
                    rc = item(&b, st, t);
            if (rc < 0)
                break;
            rc = request = add_xfer_extra(&b, st, 1, DEV_CLIENT, send_s, batch, HDR_BYTES,
                                    cfg->semantic ? "request (batched)" : "step upload");
            if (rc < 0)
                break;
            for (uint32_t t = 0; t < nt; t++) {
                if (!b.mark[t])
                    continue;
                b.ttask[t] = request;
                if (gn_graph_tensor(g, t)->kind == GN_KIND_PARAM)
                    b.stored[gn_graph_tensor(g, t)->storage] = request;
            }
        }
        b.nctl = 0;
        ups[0] = request;
        if ((rc = add_computes(&b, st, g, b.node, ups, 1, 0, 0)) < 0)
            break;
        /* what comes back */
        memset(b.mark, 0, nt);
        mark_returned(&b, g);
        if (!kv)
            for (uint32_t t = 0; t < nt; t++)
                if (gn_graph_tensor(g, t)->kind == GN_KIND_STATE && gn_graph_tensor(g, t)->producer >= 0)
                    b.mark[t] = 1;
        double back = 0;
        for (uint32_t t = 0; rc >= 0 && t < nt; t++) {
            if (!b.mark[t])
                continue;
            if (b.ttask[t] == NOT_HERE) { /* made on the client: nothing to send back */
                rc = ctl_add(&b, b.ctask[t]);
                continue;
            }
            if (batched) {
                back += (double)gn_graph_tensor(g, t)->bytes;
                dep(&b, b.ttask[t]);
                rc = item(&b, st, t);
                continue;
            }
            dep(&b, b.ttask[t]);
            item(&b, st, t);
            x = add_xfer_extra(&b, st, 0, b.node, send_s, (double)gn_graph_tensor(g, t)->bytes, HDR_BYTES,
                         label_tensor(&b, "reply", g, t));
            rc = x < 0 ? x : ctl_add(&b, x);
        }
        if (rc >= 0 && batched) {
            x = add_xfer_extra(&b, st, 0, b.node, send_s, back, HDR_BYTES,
                         cfg->semantic ? "reply (batched)" : "step download");
            rc = x < 0 ? x : ctl_add(&b, x);
        }
    }
    if (rc >= 0)
        rc = record_residency(&b, weights, kv);
    return finish(&b, rc < 0 ? rc : 0, out);
}

static int plan_blind(const gn_plan_input *in, gn_plan **out, gn_error *err)
{
    offload_cfg cfg = {0, {0}};
    int rc = gn__strategy_options(in, NULL, NULL, NULL, err);
    return rc < 0 ? rc : plan_offload(in, &cfg, out, err);
}


/* ========================== registry ========================== */

static const gn_strategy_ops local_ops = {
    GN_STRATEGY_VERSION, "local", "accelerator in the client: the upper bound", NULL, plan_local};
static const gn_strategy_ops remoting_ops = {
    GN_STRATEGY_VERSION, "remoting", "CUDA-API remoting: one remote call per op, device-resident tensors",
    NULL, plan_remoting};
static const gn_strategy_ops blind_ops = {
    GN_STRATEGY_VERSION, "blind", "semantics-free offload of each step, content-hash cache",
    NULL, plan_blind};

static const gn_strategy_ops *const builtins[] = {&local_ops, &remoting_ops, &blind_ops,
                                                   &gn__genie_ops, NULL};

const gn_strategy_ops *const *gn_strategy_all(void)
{
    return builtins;
}

const gn_strategy_ops *gn_strategy_find(const char *name)
{
    for (int i = 0; builtins[i]; i++)
        if (strcmp(builtins[i]->name, name) == 0)
            return builtins[i];
    return NULL;
}

int gn_strategy_plan(const char *strategy, const gn_plan_input *in,
                     gn_plan **out, gn_error *err)
{
    const gn_strategy_ops *ops = gn_strategy_find(strategy);
    *out = NULL;
    if (!ops)
        return gn_error_set(err, GN_ENOTFOUND, "unknown strategy \"%s\" (expected local, remoting, blind or genie)",
                            strategy);
    return ops->plan(in, out, err);
}
