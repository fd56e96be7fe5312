/*
 * graph.h — one step of a session as a semantically rich graph (SRG).
 *
 * A graph holds tensors and op nodes (traces/SCHEMA.md).  It is built by
 * appending tensors and nodes (ids are dense, in order of addition), then
 * frozen with gn_graph_finalize(), which checks the structure, links every
 * tensor to its producer and consumers and computes a topological order in
 * O(nodes + edges).  Accessors are valid only after a successful finalize.
 *
 * Graphs are created by their session (session.h), which owns them and the
 * table of persistent storage names their tensors refer to.
 */
#ifndef GN_GRAPH_H
#define GN_GRAPH_H

#include <jansson.h>
#include <stdint.h>

#include "error.h"
#include "op.h"
#include "strtab.h"

#define GN_MAX_DIMS 8

typedef struct gn_tensor {
    const char *name;            /* debugging name, owned by graph; may be NULL */
    gn_dtype dtype;              /* element type */
    gn_kind kind;                /* param, input, activation, state, output */
    uint32_t ndim;               /* number of dims, <= GN_MAX_DIMS */
    int64_t shape[GN_MAX_DIMS];  /* elements per dim */
    uint64_t bytes;              /* numel × dtype size, bytes */
    int32_t storage;             /* persistent storage id in the session's table, -1 if none */
    int32_t producer;            /* producing node id, -1 for a leaf (after finalize) */
} gn_tensor;

typedef struct gn_node {
    gn_op op;           /* op from the fixed vocabulary */
    uint32_t nin;       /* number of inputs */
    uint32_t nout;      /* number of outputs */
    uint32_t in_off;    /* private: offset of inputs in the edge array */
    uint32_t out_off;   /* private: offset of outputs in the edge array */
    double flops;       /* floating-point operations */
    double bytes;       /* device-memory bytes read + written */
    const char *module; /* module path, owned by graph; may be NULL */
    const char *source; /* user source location; may be NULL */
    json_t *attrs;      /* op attributes (owned by graph); may be NULL */
    json_t *hints;      /* semantic hints (owned by graph); may be NULL */
} gn_node;

typedef struct gn_read {
    uint32_t tensor;    /* tensor read by the application */
    const char *reason; /* "item", "cpu", ...; owned by graph, may be NULL */
    const char *source; /* user source location; may be NULL */
} gn_read;

typedef struct gn_graph gn_graph;

/* ========================== building ========================== */

/*
 * Returns a new empty graph (caller owns it; normally the session does),
 * whose tensors name storages in STORAGES (borrowed: must outlive the
 * graph), or NULL when out of memory.  LABEL may be NULL and is copied.
 */
gn_graph *gn_graph_create(gn_strtab *storages, gn_phase phase,
                          const char *label);

/* Frees G and everything it owns; NULL is a no-op. */
void gn_graph_destroy(gn_graph *g);

/*
 * Appends a tensor and returns its id (>= 0), or GN_ERANGE for a negative
 * dim or more than GN_MAX_DIMS dims, GN_ENOMEM.  NAME and STORAGE may be
 * NULL and are copied.  On error the graph is unchanged.
 */
int gn_graph_add_tensor(gn_graph *g, const char *name, gn_dtype dtype,
                        gn_kind kind, uint32_t ndim, const int64_t *shape,
                        const char *storage);

/*
 * Appends a node and returns its id (>= 0).  IN and OUT are tensor ids,
 * copied.  MODULE may be NULL and is copied.  ATTRS may be NULL; the graph
 * steals the reference, also on failure.  Returns GN_EINVAL for a tensor
 * id out of range, GN_ENOMEM; on error the graph is unchanged.
 */
int gn_graph_add_node(gn_graph *g, gn_op op, const uint32_t *in,
                      uint32_t nin, const uint32_t *out, uint32_t nout,
                      double flops, double bytes, const char *module,
                      json_t *attrs);

/* Sets the hints of node ID (steals HINTS, also on failure) and its
 * source location (copied; may be NULL).  Returns 0 or GN_EINVAL/NOMEM. */
int gn_graph_set_node_info(gn_graph *g, uint32_t id, json_t *hints,
                           const char *source);

/* Records that the application reads TENSOR (reason, source may be NULL). */
int gn_graph_add_read(gn_graph *g, uint32_t tensor, const char *reason,
                      const char *source);

/*
 * Checks and freezes the graph: every tensor has at most one producer;
 * leaves are param, input or state; param and state tensors name a
 * storage; no cycle.  Computes producers, consumers and a topological
 * order.  Returns 0, or GN_ESCHEMA / GN_ECYCLE with ERR saying which
 * tensor or node is wrong (paths relative to the step:
 * "nodes[4]: ...").
 */
int gn_graph_finalize(gn_graph *g, gn_error *err);

/* ========================== reading ========================== */

uint32_t gn_graph_ntensors(const gn_graph *g);
uint32_t gn_graph_nnodes(const gn_graph *g);
uint32_t gn_graph_nreads(const gn_graph *g);
gn_phase gn_graph_phase(const gn_graph *g);
void gn_graph_set_phase(gn_graph *g, gn_phase phase);
const char *gn_graph_label(const gn_graph *g); /* borrowed; may be NULL */

/* Borrowed pointers, valid until the graph is changed or destroyed. */
const gn_tensor *gn_graph_tensor(const gn_graph *g, uint32_t id);
const gn_node *gn_graph_node(const gn_graph *g, uint32_t id);
const gn_read *gn_graph_read(const gn_graph *g, uint32_t i);
const uint32_t *gn_graph_node_inputs(const gn_graph *g, uint32_t id);
const uint32_t *gn_graph_node_outputs(const gn_graph *g, uint32_t id);

/* Consumers of tensor ID (node ids, with repeats when a node uses it
 * twice); sets *N.  Only after finalize. */
const uint32_t *gn_graph_consumers(const gn_graph *g, uint32_t id,
                                   uint32_t *n);

/* Node ids in a topological order (length nnodes).  Only after finalize. */
const uint32_t *gn_graph_order(const gn_graph *g);

/* Storage name of storage id SID (borrowed). */
const char *gn_graph_storage_name(const gn_graph *g, int32_t sid);

/*
 * Bytes a node with OP over tensors IN -> OUT reads and writes by the
 * traces/SCHEMA.md conventions — the one implementation every producer
 * uses: views 0; fills their outputs; embeddings the indices (IN[1]) and
 * twice the output (rows read, output written); all else inputs plus
 * outputs.  (embedding_bag depends on the pooling factor, which the
 * tensors do not carry: its producer computes it.)
 */
double gn_graph_convention_bytes(const gn_graph *g, gn_op op,
                                 const uint32_t *in, uint32_t nin,
                                 const uint32_t *out, uint32_t nout);

/* Sums over all nodes. */
double gn_graph_total_flops(const gn_graph *g);

#endif /* GN_GRAPH_H */
