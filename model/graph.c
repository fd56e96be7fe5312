/*
 * graph.c — SRG step graph: building, validation, topological order.
 *
 * Storage: tensors and nodes live in growable arrays; node inputs and
 * outputs live in one shared edge array addressed by offsets, so adding a
 * node costs amortised O(degree) and no per-node allocation.  Finalize
 * builds the consumer lists in CSR form (offsets + flat array) and a
 * Kahn topological order, both O(nodes + edges).
 */
#include "graph.h"

#include "grow.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gn_graph {
    gn_strtab *storages;    /* borrowed from the session */
    gn_phase phase;         /* step phase */
    char *label;            /* owned; may be NULL */

    gn_tensor *tensors;     /* by id */
    uint32_t ntensors, captensors;
    gn_node *nodes;         /* by id */
    uint32_t nnodes, capnodes;
    uint32_t *edges;        /* node inputs and outputs, by offset */
    uint32_t nedges, capedges;
    gn_read *reads;
    uint32_t nreads, capreads;

    /* valid after finalize */
    int finalized;
    uint32_t *cons_off;     /* ntensors + 1 offsets into cons */
    uint32_t *cons;         /* consumer node ids */
    uint32_t *order;        /* topological order of node ids */
};

/* ========================== private helpers ========================== */

static char *dup_or_null(const char *s, int *failed)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *failed = 1;
    return d;
}

static void free_derived(gn_graph *g)
{
    free(g->cons_off);
    free(g->cons);
    free(g->order);
    g->cons_off = g->cons = g->order = NULL;
    g->finalized = 0;
}

/* ========================== building ========================== */

gn_graph *gn_graph_create(gn_strtab *storages, gn_phase phase,
                          const char *label)
{
    assert(storages);
    gn_graph *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    int failed = 0;
    g->storages = storages;
    g->phase = phase;
    g->label = dup_or_null(label, &failed);
    if (failed) {
        free(g);
        return NULL;
    }
    return g;
}

void gn_graph_destroy(gn_graph *g)
{
    if (!g)
        return;
    for (uint32_t i = 0; i < g->ntensors; i++)
        free((char *)g->tensors[i].name);
    for (uint32_t i = 0; i < g->nnodes; i++) {
        free((char *)g->nodes[i].module);
        free((char *)g->nodes[i].source);
        json_decref(g->nodes[i].attrs);
        json_decref(g->nodes[i].hints);
    }
    for (uint32_t i = 0; i < g->nreads; i++) {
        free((char *)g->reads[i].reason);
        free((char *)g->reads[i].source);
    }
    free(g->tensors);
    free(g->nodes);
    free(g->edges);
    free(g->reads);
    free(g->label);
    free_derived(g);
    free(g);
}

int gn_graph_add_tensor(gn_graph *g, const char *name, gn_dtype dtype,
                        gn_kind kind, uint32_t ndim, const int64_t *shape,
                        const char *storage)
{
    assert(dtype >= 0 && dtype < GN_DTYPE_COUNT);
    assert(kind >= 0 && kind < GN_KIND_COUNT);
    if (ndim > GN_MAX_DIMS)
        return GN_ERANGE;
    uint64_t numel = 1;
    for (uint32_t i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return GN_ERANGE;
        numel *= (uint64_t)shape[i];
    }
    if (gn__grow((void **)&g->tensors, &g->captensors, g->ntensors + 1,
                sizeof(*g->tensors)) < 0)
        return GN_ENOMEM;
    int32_t sid = -1;
    if (storage) {
        sid = gn_strtab_intern(g->storages, storage);
        if (sid < 0)
            return sid;
    }
    int failed = 0;
    gn_tensor *t = &g->tensors[g->ntensors];
    memset(t, 0, sizeof(*t));
    t->name = dup_or_null(name, &failed);
    if (failed)
        return GN_ENOMEM;
    t->dtype = dtype;
    t->kind = kind;
    t->ndim = ndim;
    if (ndim)
        memcpy(t->shape, shape, ndim * sizeof(*shape));
    t->bytes = numel * gn_dtype_size(dtype);
    t->storage = sid;
    t->producer = -1;
    free_derived(g);
    return (int)g->ntensors++;
}

int gn_graph_add_node(gn_graph *g, gn_op op, const uint32_t *in,
                      uint32_t nin, const uint32_t *out, uint32_t nout,
                      double flops, double bytes, const char *module,
                      json_t *attrs)
{
    assert(op >= 0 && op < GN_OP_COUNT);
    for (uint32_t i = 0; i < nin; i++)
        if (in[i] >= g->ntensors)
            goto inval;
    for (uint32_t i = 0; i < nout; i++)
        if (out[i] >= g->ntensors)
            goto inval;
    if (gn__grow((void **)&g->nodes, &g->capnodes, g->nnodes + 1,
                sizeof(*g->nodes)) < 0 ||
        gn__grow((void **)&g->edges, &g->capedges, g->nedges + nin + nout,
                sizeof(*g->edges)) < 0)
        goto nomem;
    int failed = 0;
    gn_node *n = &g->nodes[g->nnodes];
    memset(n, 0, sizeof(*n));
    n->module = dup_or_null(module, &failed);
    if (failed)
        goto nomem;
    n->op = op;
    n->nin = nin;
    n->nout = nout;
    n->in_off = g->nedges;
    if (nin)
        memcpy(g->edges + g->nedges, in, nin * sizeof(*in));
    g->nedges += nin;
    n->out_off = g->nedges;
    if (nout)
        memcpy(g->edges + g->nedges, out, nout * sizeof(*out));
    g->nedges += nout;
    n->flops = flops;
    n->bytes = bytes;
    n->attrs = attrs;
    free_derived(g);
    return (int)g->nnodes++;
inval:
    json_decref(attrs);
    return GN_EINVAL;
nomem:
    json_decref(attrs);
    return GN_ENOMEM;
}

int gn_graph_set_node_info(gn_graph *g, uint32_t id, json_t *hints,
                           const char *source)
{
    if (id >= g->nnodes) {
        json_decref(hints);
        return GN_EINVAL;
    }
    int failed = 0;
    char *src = dup_or_null(source, &failed);
    if (failed) {
        json_decref(hints);
        return GN_ENOMEM;
    }
    gn_node *n = &g->nodes[id];
    json_decref(n->hints);
    free((char *)n->source);
    n->hints = hints;
    n->source = src;
    return 0;
}

int gn_graph_add_read(gn_graph *g, uint32_t tensor, const char *reason,
                      const char *source)
{
    if (tensor >= g->ntensors)
        return GN_EINVAL;
    if (gn__grow((void **)&g->reads, &g->capreads, g->nreads + 1,
                sizeof(*g->reads)) < 0)
        return GN_ENOMEM;
    int failed = 0;
    gn_read *r = &g->reads[g->nreads];
    r->tensor = tensor;
    r->reason = dup_or_null(reason, &failed);
    r->source = dup_or_null(source, &failed);
    if (failed) {
        free((char *)r->reason);
        free((char *)r->source);
        return GN_ENOMEM;
    }
    g->nreads++;
    return 0;
}

/* ========================== finalize ========================== */

/* Names node ID for an error message: "nodes[7] (matmul, h.0.attn)". */
static void describe_node(const gn_graph *g, uint32_t id, char *buf,
                          size_t len)
{
    const gn_node *n = &g->nodes[id];
    snprintf(buf, len, "nodes[%u] (%s%s%s)", id, gn_op_name(n->op),
             n->module ? ", " : "", n->module ? n->module : "");
}

int gn_graph_finalize(gn_graph *g, gn_error *err)
{
    free_derived(g);
    uint32_t nt = g->ntensors, nn = g->nnodes;

    /* producers */
    for (uint32_t t = 0; t < nt; t++)
        g->tensors[t].producer = -1;
    for (uint32_t i = 0; i < nn; i++) {
        const gn_node *n = &g->nodes[i];
        if (n->nout == 0)
            return gn_error_set(err, GN_ESCHEMA,
                                "nodes[%u]: a node needs at least one output", i);
        for (uint32_t k = 0; k < n->nout; k++) {
            gn_tensor *t = &g->tensors[g->edges[n->out_off + k]];
            if (t->producer >= 0)
                return gn_error_set(err, GN_ESCHEMA,
                                    "nodes[%u].outputs[%u]: tensor %u is already produced by nodes[%d]",
                                    i, k, g->edges[n->out_off + k], t->producer);
            t->producer = (int32_t)i;
        }
    }
    for (uint32_t t = 0; t < nt; t++) {
        const gn_tensor *x = &g->tensors[t];
        if ((x->kind == GN_KIND_PARAM || x->kind == GN_KIND_STATE) && x->storage < 0)
            return gn_error_set(err, GN_ESCHEMA,
                                "tensors[%u].storage: a %s tensor needs a storage identity",
                                t, gn_kind_name(x->kind));
        if (x->producer < 0 && x->kind != GN_KIND_PARAM &&
            x->kind != GN_KIND_INPUT && x->kind != GN_KIND_STATE)
            return gn_error_set(err, GN_ESCHEMA,
                                "tensors[%u].kind: a tensor no node produces must be param, input or state, not %s",
                                t, gn_kind_name(x->kind));
        if (x->producer >= 0 && (x->kind == GN_KIND_PARAM || x->kind == GN_KIND_INPUT))
            return gn_error_set(err, GN_ESCHEMA,
                                "tensors[%u].kind: a %s tensor cannot be produced by a node (nodes[%d])",
                                t, gn_kind_name(x->kind), x->producer);
    }

    /* consumers in CSR form */
    g->cons_off = calloc((size_t)nt + 1, sizeof(*g->cons_off));
    uint32_t nin_total = 0;
    for (uint32_t i = 0; i < nn; i++)
        nin_total += g->nodes[i].nin;
    g->cons = malloc(((size_t)nin_total + 1) * sizeof(*g->cons));
    g->order = malloc(((size_t)nn + 1) * sizeof(*g->order));
    uint32_t *indeg = calloc((size_t)nn + 1, sizeof(*indeg));
    uint32_t *fill = malloc(((size_t)nt + 1) * sizeof(*fill));
    if (!g->cons_off || !g->cons || !g->order || !indeg || !fill) {
        free(indeg);
        free(fill);
        free_derived(g);
        return gn_error_set(err, GN_ENOMEM, "graph: out of memory");
    }
    for (uint32_t i = 0; i < nn; i++)
        for (uint32_t k = 0; k < g->nodes[i].nin; k++)
            g->cons_off[g->edges[g->nodes[i].in_off + k] + 1]++;
    for (uint32_t t = 0; t < nt; t++)
        g->cons_off[t + 1] += g->cons_off[t];
    memcpy(fill, g->cons_off, (size_t)nt * sizeof(*fill));
    for (uint32_t i = 0; i < nn; i++)
        for (uint32_t k = 0; k < g->nodes[i].nin; k++) {
            uint32_t t = g->edges[g->nodes[i].in_off + k];
            g->cons[fill[t]++] = i;
            if (g->tensors[t].producer >= 0)
                indeg[i]++;
        }

    /* Kahn's algorithm; the order array doubles as the queue. */
    uint32_t head = 0, tail = 0;
    for (uint32_t i = 0; i < nn; i++)
        if (indeg[i] == 0)
            g->order[tail++] = i;
    while (head < tail) {
        const gn_node *n = &g->nodes[g->order[head++]];
        for (uint32_t k = 0; k < n->nout; k++) {
            uint32_t t = g->edges[n->out_off + k];
            for (uint32_t c = g->cons_off[t]; c < g->cons_off[t + 1]; c++)
                if (--indeg[g->cons[c]] == 0)
                    g->order[tail++] = g->cons[c];
        }
    }
    int rc = 0;
    if (tail != nn) {
        uint32_t bad = 0;
        while (bad < nn && indeg[bad] == 0)
            bad++;
        char what[160];
        describe_node(g, bad, what, sizeof(what));
        rc = gn_error_set(err, GN_ECYCLE,
                          "nodes: the graph has a cycle through %s (%u of %u nodes are on or behind a cycle)",
                          what, nn - tail, nn);
    }
    free(indeg);
    free(fill);
    if (rc < 0) {
        free_derived(g);
        return rc;
    }
    g->finalized = 1;
    return 0;
}

/* ========================== reading ========================== */

uint32_t gn_graph_ntensors(const gn_graph *g) { return g->ntensors; }
uint32_t gn_graph_nnodes(const gn_graph *g) { return g->nnodes; }
uint32_t gn_graph_nreads(const gn_graph *g) { return g->nreads; }
gn_phase gn_graph_phase(const gn_graph *g) { return g->phase; }
void gn_graph_set_phase(gn_graph *g, gn_phase phase) { g->phase = phase; }
const char *gn_graph_label(const gn_graph *g) { return g->label; }

const gn_tensor *gn_graph_tensor(const gn_graph *g, uint32_t id)
{
    assert(id < g->ntensors);
    return &g->tensors[id];
}

const gn_node *gn_graph_node(const gn_graph *g, uint32_t id)
{
    assert(id < g->nnodes);
    return &g->nodes[id];
}

const gn_read *gn_graph_read(const gn_graph *g, uint32_t i)
{
    assert(i < g->nreads);
    return &g->reads[i];
}

const uint32_t *gn_graph_node_inputs(const gn_graph *g, uint32_t id)
{
    assert(id < g->nnodes);
    return g->edges + g->nodes[id].in_off;
}

const uint32_t *gn_graph_node_outputs(const gn_graph *g, uint32_t id)
{
    assert(id < g->nnodes);
    return g->edges + g->nodes[id].out_off;
}

const uint32_t *gn_graph_consumers(const gn_graph *g, uint32_t id,
                                   uint32_t *n)
{
    assert(g->finalized && id < g->ntensors);
    *n = g->cons_off[id + 1] - g->cons_off[id];
    return g->cons + g->cons_off[id];
}

const uint32_t *gn_graph_order(const gn_graph *g)
{
    assert(g->finalized);
    return g->order;
}

const char *gn_graph_storage_name(const gn_graph *g, int32_t sid)
{
    return gn_strtab_str(g->storages, sid);
}

double gn_graph_convention_bytes(const gn_graph *g, gn_op op,
                                 const uint32_t *in, uint32_t nin,
                                 const uint32_t *out, uint32_t nout)
{
    double b = 0;
    if (op == GN_OP_VIEW)
        return 0;
    for (uint32_t i = 0; i < nout; i++)
        b += (double)g->tensors[out[i]].bytes;
    if (op == GN_OP_FILL)
        return b;
    if (op == GN_OP_EMBEDDING && nin >= 2)
        return (double)g->tensors[in[1]].bytes + 2 * b;
    for (uint32_t i = 0; i < nin; i++)
        b += (double)g->tensors[in[i]].bytes;
    return b;
}

double gn_graph_total_flops(const gn_graph *g)
{
    double f = 0;
    for (uint32_t i = 0; i < g->nnodes; i++)
        f += g->nodes[i].flops;
    return f;
}
