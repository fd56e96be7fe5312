/*
 * semantic.c — structural semantic analysis and the built-in patterns
 * (see semantic.h).
 *
 * Passes, per step: (1) phase from the step's use of state: a step that
 * reads an existing state version (a KV cache) is decode, one that only
 * creates state is prefill, one without state is a plain forward; (2)
 * modalities propagated from the step's inputs in topological order; (3)
 * every pattern proposes roles, the most confident proposal per node wins.
 * Only op kinds, attrs, shapes, dtypes, tensor kinds and the graph's
 * edges are read — never module paths or hints.
 */
#include "semantic.h"

#include "strtab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WARNINGS 64

struct gn_analysis {
    uint32_t nsteps;
    gn_phase *phase;          /* per step */
    gn_annotation **ann;      /* per step, per node */
    uint32_t low;             /* nodes below GN_SEMANTIC_CONFIDENT */
    char *warnings[MAX_WARNINGS];
    uint32_t nwarnings;
};

static const char *const role_names[] = {
#define X(id, name) name,
    GN_ROLE_MAP(X)
#undef X
};

const char *gn_role_name(gn_role role)
{
    return role >= 0 && role < GN_ROLE_COUNT ? role_names[role] : "invalid";
}

int gn_role_parse(const char *name, gn_role *out)
{
    for (int i = 0; i < GN_ROLE_COUNT; i++)
        if (strcmp(role_names[i], name) == 0) {
            *out = (gn_role)i;
            return 0;
        }
    return GN_ENOTFOUND;
}

/* ========================== graph helpers ========================== */

static const char *attr_fn(const gn_graph *g, uint32_t id)
{
    json_t *a = gn_graph_node(g, id)->attrs;
    return a ? json_string_value(json_object_get(a, "fn")) : NULL;
}

static int fn_is(const gn_graph *g, uint32_t id, const char *fn)
{
    const char *f = attr_fn(g, id);
    return f && strcmp(f, fn) == 0;
}

static int is_activation_fn(const gn_graph *g, uint32_t id)
{
    const char *f = attr_fn(g, id);
    return gn_graph_node(g, id)->op == GN_OP_ELEMENTWISE && f &&
           (!strcmp(f, "gelu") || !strcmp(f, "gelu_new") || !strcmp(f, "silu") || !strcmp(f, "relu") ||
            !strcmp(f, "sigmoid") || !strcmp(f, "tanh"));
}

/* Producer node of tensor T, or -1. */
static int32_t producer(const gn_graph *g, uint32_t t)
{
    return gn_graph_tensor(g, t)->producer;
}

/* Follows views/copies back from tensor T to the first real producer. */
static int32_t real_producer(const gn_graph *g, uint32_t t)
{
    for (int hops = 0; hops < 8; hops++) {
        int32_t p = producer(g, t);
        if (p < 0)
            return -1;
        gn_op op = gn_graph_node(g, (uint32_t)p)->op;
        if (op != GN_OP_VIEW && op != GN_OP_COPY)
            return p;
        if (gn_graph_node(g, (uint32_t)p)->nin == 0)
            return -1;
        t = gn_graph_node_inputs(g, (uint32_t)p)[0];
    }
    return -1;
}

/* ========================== built-in patterns ========================== */

/* Roles that the op alone tells. */
static int match_ops(const gn_session *s, uint32_t st, const gn_graph *g,
                     gn_propose_fn propose, void *ctx, gn_error *err);
/* Attention blocks: SDPA, its q/k/v projections, rotary, output projection, KV appends. */
static int match_attention(const gn_session *s, uint32_t st, const gn_graph *g,
                           gn_propose_fn propose, void *ctx, gn_error *err);
/* MLP blocks: matmul -> activation (-> gate mul) -> matmul. */
static int match_mlp(const gn_session *s, uint32_t st, const gn_graph *g,
                     gn_propose_fn propose, void *ctx, gn_error *err);
/* Heads: the last compute before a step output or a read. */
static int match_head(const gn_session *s, uint32_t st, const gn_graph *g,
                      gn_propose_fn propose, void *ctx, gn_error *err);

/* Vision necks and heads: FPN-style merges around upsampling, heads whose
 * weights are shared across pyramid levels. */
static int match_vision(const gn_session *s, uint32_t st, const gn_graph *g,
                        gn_propose_fn propose, void *ctx, gn_error *err);

static const gn_pattern_ops pat_ops = {GN_PATTERN_VERSION, "ops", "roles an op alone implies", match_ops};
static const gn_pattern_ops pat_attention = {GN_PATTERN_VERSION, "attention",
                                             "q/k/v projections, rotary, SDPA, output projection, KV appends",
                                             match_attention};
static const gn_pattern_ops pat_mlp = {GN_PATTERN_VERSION, "mlp", "matmul -> activation (x gate) -> matmul",
                                       match_mlp};
static const gn_pattern_ops pat_head = {GN_PATTERN_VERSION, "head", "layers that produce what the client reads",
                                        match_head};
static const gn_pattern_ops pat_vision = {GN_PATTERN_VERSION, "vision",
                                          "FPN necks around upsampling, level-shared conv heads", match_vision};
static const gn_pattern_ops *const builtins[] = {&pat_ops, &pat_attention, &pat_mlp, &pat_head,
                                                 &pat_vision, NULL};

const gn_pattern_ops *const *gn_patterns_builtin(void)
{
    return builtins;
}

static int match_ops(const gn_session *s, uint32_t st, const gn_graph *g,
                     gn_propose_fn propose, void *ctx, gn_error *err)
{
    int n = 0;
    for (uint32_t id = 0; id < gn_graph_nnodes(g); id++) {
        const gn_node *x = gn_graph_node(g, id);
        gn_role r = GN_ROLE_UNKNOWN;
        float c = 0.9f;
        switch (x->op) {
        case GN_OP_LAYER_NORM:
        case GN_OP_RMS_NORM:
        case GN_OP_GROUP_NORM: r = GN_ROLE_NORM; c = 0.95f; break;
        case GN_OP_EMBEDDING: r = GN_ROLE_EMBEDDING; break;
        case GN_OP_EMBEDDING_BAG: r = GN_ROLE_SPARSE_LOOKUP; c = 0.95f; break;
        case GN_OP_INTERACTION: r = GN_ROLE_INTERACTION; c = 0.95f; break;
        case GN_OP_ATTENTION: r = GN_ROLE_ATTENTION; c = 0.95f; break;
        case GN_OP_CONV2D:
        case GN_OP_POOL2D:
        case GN_OP_BATCH_NORM: r = GN_ROLE_CONV_BACKBONE; c = 0.75f; break;
        case GN_OP_VIEW:
        case GN_OP_COPY:
        case GN_OP_FILL: r = GN_ROLE_DATA_MOVEMENT; c = 0.8f; break;
        case GN_OP_INDEX:
            /* nearest upsampling merges scales: a neck */
            if (fn_is(g, id, "upsample") || fn_is(g, id, "interpolate") || fn_is(g, id, "upsample_nearest")) {
                r = GN_ROLE_NECK;
                c = 0.8f;
            } else {
                r = GN_ROLE_DATA_MOVEMENT;
                c = 0.7f;
            }
            break;
        case GN_OP_ELEMENTWISE:
            if (x->nin == 2 && fn_is(g, id, "add")) {
                const uint32_t *in = gn_graph_node_inputs(g, id);
                const gn_tensor *a = gn_graph_tensor(g, in[0]), *b = gn_graph_tensor(g, in[1]);
                if (a->bytes == b->bytes && a->kind == GN_KIND_ACTIVATION && b->kind == GN_KIND_ACTIVATION) {
                    r = GN_ROLE_RESIDUAL;
                    c = 0.72f;
                }
            }
            break;
        case GN_OP_CONCAT:
            if (gn_graph_tensor(g, gn_graph_node_outputs(g, id)[0])->kind == GN_KIND_STATE) {
                r = GN_ROLE_KV_CACHE;
                c = 0.95f;
            } else {
                r = GN_ROLE_DATA_MOVEMENT;
                c = 0.6f;
            }
            break;
        default: break;
        }
        if (r != GN_ROLE_UNKNOWN) {
            propose(ctx, id, r, c, &pat_ops);
            n++;
        }
    }
    (void)s, (void)st, (void)err;
    return n;
}

/* Proposes ROLE for the first real producer behind tensor T and, through
 * rotary/norm elementwise steps, for the matmul behind it. */
static int claim_back(const gn_graph *g, uint32_t t, gn_role role, float c,
                      gn_propose_fn propose, void *ctx, const gn_pattern_ops *by)
{
    int n = 0;
    for (int hops = 0; hops < 4; hops++) {
        int32_t p = real_producer(g, t);
        if (p < 0)
            return n;
        const gn_node *x = gn_graph_node(g, (uint32_t)p);
        if (x->op == GN_OP_CONCAT && gn_graph_tensor(g, gn_graph_node_outputs(g, (uint32_t)p)[0])->kind == GN_KIND_STATE) {
            /* the new key/value enters the cache: continue behind it */
            const uint32_t *in = gn_graph_node_inputs(g, (uint32_t)p);
            t = in[x->nin - 1];
            continue;
        }
        if (x->op == GN_OP_ELEMENTWISE && fn_is(g, (uint32_t)p, "rotary")) {
            propose(ctx, (uint32_t)p, role, c, by);
            n++;
            t = gn_graph_node_inputs(g, (uint32_t)p)[0];
            continue;
        }
        if (x->op == GN_OP_MATMUL) {
            propose(ctx, (uint32_t)p, role, c, by);
            n++;
        }
        return n;
    }
    return n;
}

static int match_attention(const gn_session *s, uint32_t st, const gn_graph *g,
                           gn_propose_fn propose, void *ctx, gn_error *err)
{
    int n = 0;
    for (uint32_t id = 0; id < gn_graph_nnodes(g); id++) {
        const gn_node *x = gn_graph_node(g, id);
        if (x->op != GN_OP_ATTENTION || x->nin < 3)
            continue;
        const uint32_t *in = gn_graph_node_inputs(g, id);
        for (int k = 0; k < 3; k++)
            n += claim_back(g, in[k], GN_ROLE_ATTENTION, 0.9f, propose, ctx, &pat_attention);
        /* output projection: the first matmul after the SDPA, through views */
        uint32_t t = gn_graph_node_outputs(g, id)[0];
        for (int hops = 0; hops < 4; hops++) {
            uint32_t nc;
            const uint32_t *cons = gn_graph_consumers(g, t, &nc);
            if (nc != 1)
                break;
            const gn_node *c = gn_graph_node(g, cons[0]);
            if (c->op == GN_OP_MATMUL) {
                propose(ctx, cons[0], GN_ROLE_ATTENTION, 0.88f, &pat_attention);
                n++;
                break;
            }
            if (c->op != GN_OP_VIEW && c->op != GN_OP_COPY)
                break;
            t = gn_graph_node_outputs(g, cons[0])[0];
        }
    }
    /* the table of rotary angles belongs to attention too */
    for (uint32_t id = 0; id < gn_graph_nnodes(g); id++)
        if (fn_is(g, id, "rotary_table")) {
            propose(ctx, id, GN_ROLE_ATTENTION, 0.8f, &pat_attention);
            n++;
        }
    (void)s, (void)st, (void)err;
    return n;
}

static int match_mlp(const gn_session *s, uint32_t st, const gn_graph *g,
                     gn_propose_fn propose, void *ctx, gn_error *err)
{
    int n = 0;
    for (uint32_t id = 0; id < gn_graph_nnodes(g); id++) {
        if (!is_activation_fn(g, id))
            continue;
        const uint32_t *in = gn_graph_node_inputs(g, id);
        int32_t up = real_producer(g, in[0]);
        if (up < 0 || gn_graph_node(g, (uint32_t)up)->op != GN_OP_MATMUL)
            continue;
        /* forward: optional gate multiply, then the down projection */
        uint32_t t = gn_graph_node_outputs(g, id)[0];
        int32_t gate = -1, down = -1;
        for (int hops = 0; hops < 3 && down < 0; hops++) {
            uint32_t nc;
            const uint32_t *cons = gn_graph_consumers(g, t, &nc);
            if (nc != 1)
                break;
            const gn_node *c = gn_graph_node(g, cons[0]);
            if (c->op == GN_OP_MATMUL)
                down = (int32_t)cons[0];
            else if (c->op == GN_OP_ELEMENTWISE && fn_is(g, cons[0], "mul") && c->nin == 2)
                gate = (int32_t)cons[0];
            else if (c->op != GN_OP_VIEW)
                break;
            t = gn_graph_node_outputs(g, cons[0])[0];
        }
        if (down < 0) { /* a dense layer whose output leaves the block (DLRM's last bottom layer) */
            propose(ctx, (uint32_t)up, GN_ROLE_MLP, 0.75f, &pat_mlp);
            propose(ctx, id, GN_ROLE_MLP, 0.75f, &pat_mlp);
            n += 2;
            continue;
        }
        propose(ctx, (uint32_t)up, GN_ROLE_MLP, 0.9f, &pat_mlp);
        propose(ctx, id, GN_ROLE_MLP, 0.9f, &pat_mlp);
        propose(ctx, (uint32_t)down, GN_ROLE_MLP, 0.9f, &pat_mlp);
        n += 3;
        if (gate >= 0) {
            const uint32_t *gin = gn_graph_node_inputs(g, (uint32_t)gate);
            int32_t other = real_producer(g, gin[0] == gn_graph_node_outputs(g, id)[0] ? gin[1] : gin[0]);
            propose(ctx, (uint32_t)gate, GN_ROLE_MLP, 0.9f, &pat_mlp);
            n++;
            if (other >= 0 && gn_graph_node(g, (uint32_t)other)->op == GN_OP_MATMUL) {
                propose(ctx, (uint32_t)other, GN_ROLE_MLP, 0.9f, &pat_mlp);
                n++;
            }
        }
    }
    (void)s, (void)st, (void)err;
    return n;
}

static int match_head(const gn_session *s, uint32_t st, const gn_graph *g,
                      gn_propose_fn propose, void *ctx, gn_error *err)
{
    int n = 0;
    unsigned char *ret = calloc((size_t)gn_graph_ntensors(g) + 1, 1);
    if (!ret)
        return gn_error_set(err, GN_ENOMEM, "head pattern: out of memory");
    for (uint32_t t = 0; t < gn_graph_ntensors(g); t++)
        ret[t] = gn_graph_tensor(g, t)->kind == GN_KIND_OUTPUT;
    for (uint32_t i = 0; i < gn_graph_nreads(g); i++)
        ret[gn_graph_read(g, i)->tensor] = 1;
    for (uint32_t t = 0; t < gn_graph_ntensors(g); t++) {
        if (!ret[t])
            continue;
        /* walk back over reductions/views/activations to the last matmul or conv */
        uint32_t cur = t;
        for (int hops = 0; hops < 4; hops++) {
            int32_t p = producer(g, cur);
            if (p < 0)
                break;
            const gn_node *x = gn_graph_node(g, (uint32_t)p);
            if (x->op == GN_OP_MATMUL || x->op == GN_OP_CONV2D) {
                propose(ctx, (uint32_t)p, GN_ROLE_HEAD, 0.85f, &pat_head);
                n++;
                break;
            }
            if (x->op == GN_OP_REDUCTION || x->op == GN_OP_SOFTMAX || x->op == GN_OP_ELEMENTWISE) {
                propose(ctx, (uint32_t)p, GN_ROLE_HEAD, 0.85f, &pat_head);
                n++;
            } else if (x->op != GN_OP_VIEW && x->op != GN_OP_COPY && x->op != GN_OP_CONCAT) {
                break;
            }
            if (x->nin == 0)
                break;
            cur = gn_graph_node_inputs(g, (uint32_t)p)[0];
        }
    }
    free(ret);
    (void)s, (void)st;
    return n;
}

static int is_upsample(const gn_graph *g, uint32_t id)
{
    return gn_graph_node(g, id)->op == GN_OP_INDEX &&
           (fn_is(g, id, "upsample_nearest") || fn_is(g, id, "upsample") || fn_is(g, id, "interpolate"));
}

static int match_vision(const gn_session *s, uint32_t st, const gn_graph *g,
                        gn_propose_fn propose, void *ctx, gn_error *err)
{
    uint32_t nn = gn_graph_nnodes(g), nst = gn_strtab_count(gn_session_storages(s));
    uint32_t *uses = calloc((size_t)nst + 1, sizeof(*uses));
    if (!uses)
        return gn_error_set(err, GN_ENOMEM, "vision pattern: out of memory");
    int n = 0;
    /* conv weights used by several convs of one step: a head shared over levels */
    for (uint32_t id = 0; id < nn; id++)
        if (gn_graph_node(g, id)->op == GN_OP_CONV2D && gn_graph_node(g, id)->nin > 1) {
            const gn_tensor *w = gn_graph_tensor(g, gn_graph_node_inputs(g, id)[1]);
            if (w->storage >= 0)
                uses[w->storage]++;
        }
    for (uint32_t id = 0; id < nn; id++) {
        const gn_node *x = gn_graph_node(g, id);
        if (x->op == GN_OP_CONV2D && x->nin > 1) {
            const gn_tensor *w = gn_graph_tensor(g, gn_graph_node_inputs(g, id)[1]);
            if (w->storage >= 0 && uses[w->storage] > 1) {
                propose(ctx, id, GN_ROLE_HEAD, 0.8f, &pat_vision);
                n++;
            }
        }
        if (!is_upsample(g, id))
            continue;
        /* the upsampled map's source is a lateral */
        int32_t src = real_producer(g, gn_graph_node_inputs(g, id)[0]);
        if (src >= 0 && gn_graph_node(g, (uint32_t)src)->op == GN_OP_CONV2D) {
            propose(ctx, (uint32_t)src, GN_ROLE_NECK, 0.8f, &pat_vision);
            n++;
        }
        /* merge: add(upsampled, lateral); the lateral and the merge's output conv are neck */
        uint32_t nc;
        const uint32_t *cons = gn_graph_consumers(g, gn_graph_node_outputs(g, id)[0], &nc);
        for (uint32_t i = 0; i < nc; i++) {
            const gn_node *add = gn_graph_node(g, cons[i]);
            if (add->op != GN_OP_ELEMENTWISE || add->nin != 2)
                continue;
            propose(ctx, cons[i], GN_ROLE_NECK, 0.8f, &pat_vision);
            n++;
            const uint32_t *ain = gn_graph_node_inputs(g, cons[i]);
            for (int k = 0; k < 2; k++) {
                int32_t p = real_producer(g, ain[k]);
                if (p >= 0 && gn_graph_node(g, (uint32_t)p)->op == GN_OP_CONV2D) {
                    propose(ctx, (uint32_t)p, GN_ROLE_NECK, 0.8f, &pat_vision);
                    n++;
                }
            }
            uint32_t nc2;
            const uint32_t *c2 = gn_graph_consumers(g, gn_graph_node_outputs(g, cons[i])[0], &nc2);
            for (uint32_t j = 0; j < nc2; j++)
                if (gn_graph_node(g, c2[j])->op == GN_OP_CONV2D) {
                    propose(ctx, c2[j], GN_ROLE_NECK, 0.78f, &pat_vision);
                    n++;
                }
        }
    }
    /* the coarsest level's output conv reads the top lateral directly */
    for (uint32_t id = 0; id < nn; id++) {
        if (!is_upsample(g, id))
            continue;
        int32_t src = real_producer(g, gn_graph_node_inputs(g, id)[0]);
        if (src < 0)
            continue;
        uint32_t nc;
        const uint32_t *cons = gn_graph_consumers(g, gn_graph_node_outputs(g, (uint32_t)src)[0], &nc);
        for (uint32_t i = 0; i < nc; i++)
            if (gn_graph_node(g, cons[i])->op == GN_OP_CONV2D) {
                propose(ctx, cons[i], GN_ROLE_NECK, 0.78f, &pat_vision);
                n++;
            }
    }
    free(uses);
    (void)st;
    return n;
}

/* ========================== analysis ========================== */

typedef struct propose_ctx {
    gn_annotation *ann;   /* the step's annotations */
    uint32_t nnodes;
    int bad;              /* the current pattern proposed garbage */
    const char *const *priority; /* user ranking of pattern names, may be NULL */
} propose_ctx;

/* Rank of pattern NAME in the user's priority list (0 highest); unlisted
 * patterns rank after every listed one. */
static int rank_of(const char *const *priority, const char *name)
{
    int i = 0;
    for (; priority && priority[i]; i++)
        if (name && strcmp(priority[i], name) == 0)
            return i;
    return i;
}

static void propose(void *vctx, uint32_t node, gn_role role, float confidence,
                    const gn_pattern_ops *by)
{
    propose_ctx *c = vctx;
    if (node >= c->nnodes || role < 0 || role >= GN_ROLE_COUNT || !(confidence >= 0 && confidence <= 1)) {
        c->bad = 1;
        return;
    }
    gn_annotation *a = &c->ann[node];
    int wins = confidence > a->confidence;
    if (c->priority && a->confidence > 0) {
        int rn = rank_of(c->priority, by ? by->name : NULL), ra = rank_of(c->priority, a->pattern);
        wins = rn < ra || (rn == ra && confidence > a->confidence);
    }
    if (wins) {
        a->role = role;
        a->confidence = confidence;
        a->pattern = by ? by->name : "?";
    }
}

static void warn(gn_analysis *a, const char *fmt, const char *x, const char *y)
{
    if (a->nwarnings == MAX_WARNINGS)
        return;
    char buf[320];
    snprintf(buf, sizeof(buf), fmt, x, y);
    a->warnings[a->nwarnings] = strdup(buf);
    if (a->warnings[a->nwarnings])
        a->nwarnings++;
}

/* Step phase from its use of state. */
static gn_phase infer_phase(const gn_graph *g)
{
    int reads = 0, writes = 0;
    for (uint32_t t = 0; t < gn_graph_ntensors(g); t++) {
        const gn_tensor *x = gn_graph_tensor(g, t);
        if (x->kind != GN_KIND_STATE)
            continue;
        uint32_t nc;
        gn_graph_consumers(g, t, &nc);
        if (x->producer < 0 && nc > 0)
            reads = 1;
        if (x->producer >= 0)
            writes = 1;
    }
    return reads ? GN_PHASE_DECODE : writes ? GN_PHASE_PREFILL : GN_PHASE_FORWARD;
}

/* Modality of a step input, from its dtype, rank and first consumer. */
static unsigned input_modality(const gn_graph *g, uint32_t t)
{
    const gn_tensor *x = gn_graph_tensor(g, t);
    uint32_t nc;
    const uint32_t *cons = gn_graph_consumers(g, t, &nc);
    for (uint32_t i = 0; i < nc; i++) {
        gn_op op = gn_graph_node(g, cons[i])->op;
        if (op == GN_OP_EMBEDDING_BAG)
            return GN_MOD_TABULAR;
        if (op == GN_OP_EMBEDDING)
            return GN_MOD_TEXT;
        if (op == GN_OP_CONV2D)
            return GN_MOD_VISION;
    }
    if (x->ndim == 4 && (x->dtype == GN_DTYPE_F32 || x->dtype == GN_DTYPE_F16 || x->dtype == GN_DTYPE_BF16))
        return GN_MOD_VISION;
    if (x->ndim == 2 && x->dtype != GN_DTYPE_I64 && x->dtype != GN_DTYPE_I32)
        return GN_MOD_TABULAR;
    return 0; /* positions, masks: carry no modality */
}

static int analyse_step(gn_analysis *a, const gn_session *s, uint32_t st,
                        const gn_pattern_ops *const *patterns,
                        const char *const *priority,
                        unsigned char *disabled, gn_error *err)
{
    const gn_graph *g = gn_session_step(s, st);
    uint32_t nn = gn_graph_nnodes(g), nt = gn_graph_ntensors(g);
    a->phase[st] = infer_phase(g);
    a->ann[st] = calloc((size_t)nn + 1, sizeof(gn_annotation));
    unsigned *tmod = calloc((size_t)nt + 1, sizeof(unsigned));
    if (!a->ann[st] || !tmod) {
        free(tmod);
        return gn_error_set(err, GN_ENOMEM, "analysis: out of memory");
    }
    for (uint32_t i = 0; i < nn; i++)
        a->ann[st][i].pattern = "none";
    /* modalities, in topological order */
    for (uint32_t t = 0; t < nt; t++)
        if (gn_graph_tensor(g, t)->kind == GN_KIND_INPUT)
            tmod[t] = input_modality(g, t);
    const uint32_t *order = gn_graph_order(g);
    for (uint32_t k = 0; k < nn; k++) {
        uint32_t id = order[k];
        const gn_node *x = gn_graph_node(g, id);
        const uint32_t *in = gn_graph_node_inputs(g, id), *out = gn_graph_node_outputs(g, id);
        unsigned m = 0, seen = 0;
        int distinct = 0, mixed_input = 0;
        for (uint32_t i = 0; i < x->nin; i++) {
            unsigned mi = tmod[in[i]];
            if (!mi)
                continue;
            mixed_input |= (mi & (mi - 1)) != 0;
            distinct |= seen && mi != seen;
            if (!seen)
                seen = mi;
            m |= mi;
        }
        /* a fusion point: the first node where different modalities meet */
        a->ann[st][id].fusion_point = distinct && !mixed_input;
        a->ann[st][id].modality = m;
        for (uint32_t o = 0; o < x->nout; o++)
            tmod[out[o]] = m;
    }
    /* Nodes no input modality reaches (position tables, fills) belong to
     * the single modality of what consumes them: one reverse pass. */
    for (uint32_t k = nn; k-- > 0;) {
        uint32_t id = order[k];
        if (a->ann[st][id].modality)
            continue;
        unsigned m = 0;
        const uint32_t *out = gn_graph_node_outputs(g, id);
        for (uint32_t o = 0; o < gn_graph_node(g, id)->nout; o++) {
            uint32_t nc;
            const uint32_t *cons = gn_graph_consumers(g, out[o], &nc);
            for (uint32_t i = 0; i < nc; i++)
                m |= a->ann[st][cons[i]].modality;
        }
        if (m && !(m & (m - 1)))
            a->ann[st][id].modality = m;
    }
    free(tmod);

    propose_ctx pc = {a->ann[st], nn, 0, priority};
    for (int p = 0; patterns[p]; p++) {
        if (disabled[p])
            continue;
        gn_error perr;
        gn_error_clear(&perr);
        pc.bad = 0;
        if (patterns[p]->version < 1 || !patterns[p]->match) {
            disabled[p] = 1;
            warn(a, "pattern %s disabled: %s", patterns[p]->name ? patterns[p]->name : "?",
                 "interface version or match function missing");
            continue;
        }
        int rc = patterns[p]->match(s, st, g, propose, &pc, &perr);
        if (rc < 0 || pc.bad) {
            disabled[p] = 1;
            warn(a, "pattern %s disabled: %s", patterns[p]->name,
                 pc.bad ? "it proposed an invalid annotation (node, role or confidence out of range)" : perr.msg);
        }
    }
    for (uint32_t i = 0; i < nn; i++)
        if (a->ann[st][i].confidence < GN_SEMANTIC_CONFIDENT)
            a->low++;
    return 0;
}

gn_analysis *gn_analysis_run(const gn_session *s,
                             const gn_pattern_ops *const *patterns,
                             gn_error *err)
{
    return gn_analysis_run_opts(s, patterns, NULL, err);
}

gn_analysis *gn_analysis_run_opts(const gn_session *s,
                                  const gn_pattern_ops *const *patterns,
                                  const gn_analysis_opts *opts, gn_error *err)
{
    const char *const *priority = opts ? opts->priority : NULL;
    if (!patterns)
        patterns = builtins;
    int np = 0;
    while (patterns[np])
        np++;
    gn_analysis *a = calloc(1, sizeof(*a));
    unsigned char *disabled = calloc((size_t)np + 1, 1);
    if (!a || !disabled) {
        free(a);
        free(disabled);
        gn_error_set(err, GN_ENOMEM, "analysis: out of memory");
        return NULL;
    }
    a->nsteps = gn_session_nsteps(s);
    a->phase = calloc(a->nsteps + 1, sizeof(*a->phase));
    a->ann = calloc(a->nsteps + 1, sizeof(*a->ann));
    if (!a->phase || !a->ann) {
        gn_analysis_destroy(a);
        free(disabled);
        gn_error_set(err, GN_ENOMEM, "analysis: out of memory");
        return NULL;
    }
    for (uint32_t st = 0; st < a->nsteps; st++)
        if (analyse_step(a, s, st, patterns, priority, disabled, err) < 0) {
            gn_analysis_destroy(a);
            free(disabled);
            return NULL;
        }
    for (int i = 0; priority && priority[i]; i++) {
        int known = 0;
        for (int p = 0; patterns[p] && !known; p++)
            known = patterns[p]->name && strcmp(patterns[p]->name, priority[i]) == 0;
        if (!known)
            warn(a, "priority: no pattern is named \"%s\"%s", priority[i], " (ignored)");
    }
    if (a->low) { /* name the first low-confidence node so a user can look */
        char n[160];
        for (uint32_t st = 0; st < a->nsteps; st++)
            for (uint32_t id = 0; id < gn_graph_nnodes(gn_session_step(s, st)); id++)
                if (a->ann[st][id].confidence < GN_SEMANTIC_CONFIDENT) {
                    snprintf(n, sizeof(n), "%u nodes (first: steps[%u].nodes[%u], %s)", a->low, st, id,
                             gn_op_name(gn_graph_node(gn_session_step(s, st), id)->op));
                    st = a->nsteps;
                    break;
                }
        warn(a, "%s of %s are below 70%% confidence", n, gn_session_name(s));
    }
    free(disabled);
    return a;
}

void gn_analysis_destroy(gn_analysis *a)
{
    if (!a)
        return;
    for (uint32_t st = 0; a->ann && st < a->nsteps; st++)
        free(a->ann[st]);
    free(a->ann);
    free(a->phase);
    for (uint32_t i = 0; i < a->nwarnings; i++)
        free(a->warnings[i]);
    free(a);
}

gn_phase gn_analysis_phase(const gn_analysis *a, uint32_t st)
{
    return st < a->nsteps ? a->phase[st] : GN_PHASE_UNKNOWN;
}

const gn_annotation *gn_analysis_node(const gn_analysis *a, uint32_t st,
                                      uint32_t id)
{
    return &a->ann[st][id];
}

uint32_t gn_analysis_low_confidence(const gn_analysis *a) { return a->low; }
uint32_t gn_analysis_nwarnings(const gn_analysis *a) { return a->nwarnings; }

const char *gn_analysis_warning(const gn_analysis *a, uint32_t i)
{
    return i < a->nwarnings ? a->warnings[i] : NULL;
}
