/*
 * ssm_pattern.c — example external pattern: Mamba-style state-space blocks.
 *
 * The guide for pattern authors (plugins/README.md).  A selective scan is
 * outside Genie's op vocabulary, so captures keep it as `opaque` with
 * attrs.name "selective_scan"; this pattern recognises it, and the 1-D
 * causal convolution and gating around it, as a sequence mixer, the role
 * attention plays in a transformer.  Build it as a shared object and drop
 * it into a plugin directory:
 *
 *     cc -shared -fPIC -I model -o ssm.so plugins/example_ssm/ssm_pattern.c
 *     genie-pattern check ssm.so tests/data/mamba_tiny.json
 */
#include <string.h>

#include "semantic.h"

static int is_scan(const gn_graph *g, uint32_t id)
{
    const gn_node *n = gn_graph_node(g, id);
    json_t *a = n->attrs;
    const char *name = a ? json_string_value(json_object_get(a, "name")) : NULL;
    return n->op == GN_OP_OPAQUE && name && (!strcmp(name, "selective_scan") || !strcmp(name, "ssm_scan"));
}

static int match(const gn_session *s, uint32_t st, const gn_graph *g,
                 gn_propose_fn propose, void *ctx, gn_error *err);

static const gn_pattern_ops ops = {
    GN_PATTERN_VERSION, "ssm", "Mamba-style selective scans and the conv/gating around them", match};

static int match(const gn_session *s, uint32_t st, const gn_graph *g,
                 gn_propose_fn propose, void *ctx, gn_error *err)
{
    int n = 0;
    for (uint32_t id = 0; id < gn_graph_nnodes(g); id++) {
        if (!is_scan(g, id))
            continue;
        propose(ctx, id, GN_ROLE_SEQUENCE_MIXER, 0.9f, &ops);
        n++;
        /* its inputs' producers (the causal conv, the projections' gate) */
        const uint32_t *in = gn_graph_node_inputs(g, id);
        for (uint32_t k = 0; k < gn_graph_node(g, id)->nin; k++) {
            int32_t p = gn_graph_tensor(g, in[k])->producer;
            if (p >= 0 && gn_graph_node(g, (uint32_t)p)->op != GN_OP_VIEW) {
                propose(ctx, (uint32_t)p, GN_ROLE_SEQUENCE_MIXER, 0.75f, &ops);
                n++;
            }
        }
    }
    (void)s, (void)st, (void)err;
    return n;
}

const gn_pattern_ops *gn_pattern_plugin(void);

const gn_pattern_ops *gn_pattern_plugin(void)
{
    return &ops;
}
