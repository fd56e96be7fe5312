/*
 * feed.c — a session's inputs, generated from a seed (see feed.h).
 */
#include "feed.h"

#include "half.h"

#include <stdlib.h>
#include <string.h>

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Smallest table tensor T of G indexes, through views, copies, concatenations and index
 * selections of it; INT64_MAX if none. */
static int64_t bound_of(const gn_graph *g, uint32_t t, int depth)
{
    uint32_t n;
    const uint32_t *cons = gn_graph_consumers(g, t, &n);
    int64_t best = INT64_MAX;
    for (uint32_t i = 0; i < n && depth < 16; i++) {
        const gn_node *nd = gn_graph_node(g, cons[i]);
        const uint32_t *in = gn_graph_node_inputs(g, cons[i]);
        int64_t b = INT64_MAX;
        if ((nd->op == GN_OP_EMBEDDING || nd->op == GN_OP_EMBEDDING_BAG) && nd->nin >= 2 && in[1] == t)
            b = gn_graph_tensor(g, in[0])->shape[0];
        else if (nd->op == GN_OP_INDEX && nd->nin >= 2 && in[1] == t) {
            const gn_tensor *x = gn_graph_tensor(g, in[0]);
            json_t *d = nd->attrs ? json_object_get(nd->attrs, "dim") : NULL;
            int64_t dim = json_is_integer(d) ? json_integer_value(d) : 0;
            if (dim < 0)
                dim += x->ndim;
            b = dim >= 0 && dim < (int64_t)x->ndim ? x->shape[dim] : 1;
        } else if ((nd->op == GN_OP_VIEW || nd->op == GN_OP_COPY || nd->op == GN_OP_CONCAT ||
                    (nd->op == GN_OP_INDEX && nd->nin >= 1 && in[0] == t)) && nd->nout == 1)
            /* values that reach a table through views, concatenations or a selection of them
             * (a captured generate()'s prompt: input_ids[:, cache_position]) */
            b = bound_of(g, gn_graph_node_outputs(g, cons[i])[0], depth + 1);
        if (b < best)
            best = b;
    }
    return best;
}

/*
 * When T is the offsets input of an embedding_bag (input 2), the number
 * of ids it cuts (*N) and of bags (*BAGS); else 0.  T may also be a
 * stack of such offsets that `select` views along dim 0 hand to several
 * bags (DLRM's lS_o [tables, B] as the front end captures it): each row
 * is then one bag's offsets, all of the same length.
 */
static int offsets_of(const gn_graph *g, uint32_t t, int64_t *n, int64_t *bags)
{
    uint32_t nc;
    const uint32_t *cons = gn_graph_consumers(g, t, &nc);
    for (uint32_t i = 0; i < nc; i++) {
        const gn_node *nd = gn_graph_node(g, cons[i]);
        const uint32_t *in = gn_graph_node_inputs(g, cons[i]);
        if (nd->op == GN_OP_VIEW && nd->nout == 1 && nd->attrs) {
            json_t *fn = json_object_get(nd->attrs, "fn"), *dim = json_object_get(nd->attrs, "dim");
            if (json_is_string(fn) && strcmp(json_string_value(fn), "select") == 0 &&
                (!dim || (json_is_integer(dim) && json_integer_value(dim) == 0)) &&
                offsets_of(g, gn_graph_node_outputs(g, cons[i])[0], n, bags))
                return 1;
            continue;
        }
        if (nd->op != GN_OP_EMBEDDING_BAG || nd->nin < 3 || in[2] != t)
            continue;
        const gn_tensor *ids = gn_graph_tensor(g, in[1]), *o = gn_graph_tensor(g, gn_graph_node_outputs(g, cons[i])[0]);
        *n = 1;
        for (uint32_t d = 0; d < ids->ndim; d++)
            *n *= ids->shape[d];
        *bags = o->ndim ? o->shape[0] : 1;
        return 1;
    }
    return 0;
}

static int seeded(gn_runner *r, const gn_graph *g, uint32_t step, uint32_t t, uint64_t seed, gn_error *err)
{
    const gn_tensor *x = gn_graph_tensor(g, t);
    uint64_t n = 1;
    for (uint32_t d = 0; d < x->ndim; d++)
        n *= (uint64_t)x->shape[d];
    void *host = malloc(x->bytes ? x->bytes : 1);
    if (!host)
        return gn_error_set(err, GN_ENOMEM, "feed: out of memory");
    uint64_t s = mix(seed ^ mix(((uint64_t)step << 32) | t));
    int64_t bound = bound_of(g, t, 0), nids = 0, bags = 0;
    if (bound == INT64_MAX || bound < 1)
        bound = 1;
    int rc = 0, offs = offsets_of(g, t, &nids, &bags) && bags > 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = mix(s + i);
        float f = (float)(v >> 40) * (1.0f / 8388608.0f) - 1.0f;
        if (offs) /* bag offsets: bags of (nearly) equal size, i * n / bags (per row of a stack) */
            v = (uint64_t)((int64_t)(i % (uint64_t)bags) * nids / bags), bound = INT64_MAX;
        switch (x->dtype) {
        case GN_DTYPE_F32:
            ((float *)host)[i] = f;
            break;
        case GN_DTYPE_F16:
            ((uint16_t *)host)[i] = gn_half_f32_to_f16(f);
            break;
        case GN_DTYPE_BF16:
            ((uint16_t *)host)[i] = gn_half_f32_to_bf16(f);
            break;
        case GN_DTYPE_BOOL: /* masks: about one in four false */
            ((uint8_t *)host)[i] = (v >> 62) != 0;
            break;
        case GN_DTYPE_I64:
            ((int64_t *)host)[i] = (int64_t)(v % (uint64_t)bound);
            break;
        case GN_DTYPE_I32:
            ((int32_t *)host)[i] = (int32_t)(v % (uint64_t)bound);
            break;
        default:
            i = n;
            rc = GN_EUNSUPPORTED;
        }
    }
    if (rc == 0 && n * gn_dtype_size(x->dtype) != x->bytes)
        rc = GN_EINVAL;
    if (rc == 0)
        rc = gn_runner_write(r, step, t, host, (size_t)x->bytes, err);
    else
        gn_error_set(err, rc, "feed: steps[%u].tensors[%u]: cannot generate %s input", step, t,
                     gn_dtype_name(x->dtype));
    free(host);
    return rc;
}

/* LLM steps: the token ids, positions and next-token tensors, or -1s. */
static int llm_io(const gn_graph *g, int64_t io[3])
{
    io[0] = io[1] = io[2] = -1;
    uint32_t nin = 0, nout = 0;
    for (uint32_t t = 0; t < gn_graph_ntensors(g); t++) {
        gn_kind k = gn_graph_tensor(g, t)->kind;
        if (k == GN_KIND_INPUT && nin < 2)
            io[nin++] = t;
        else if (k == GN_KIND_INPUT)
            return 0; /* more inputs than an LLM step has */
        else if (k == GN_KIND_OUTPUT && nout++ == 0)
            io[2] = t;
    }
    if (io[0] < 0 || io[1] < 0 || io[2] < 0)
        return 0;
    const gn_tensor *ids = gn_graph_tensor(g, (uint32_t)io[0]), *pos = gn_graph_tensor(g, (uint32_t)io[1]);
    const gn_tensor *out = gn_graph_tensor(g, (uint32_t)io[2]);
    return ids->dtype == GN_DTYPE_I64 && pos->dtype == GN_DTYPE_I64 && out->dtype == GN_DTYPE_I64 &&
           ids->ndim == 2 && pos->ndim == 2 && ids->shape[0] == pos->shape[0] && ids->shape[1] == pos->shape[1] &&
           out->bytes == (uint64_t)ids->shape[0] * 8;
}

int gn_feed_step(gn_runner *r, uint32_t step, uint64_t seed, gn_error *err)
{
    const gn_session *s = gn_runner_session(r);
    const gn_graph *g = gn_session_step(s, step);
    int64_t io[3], prev_io[3];
    if (step > 0 && llm_io(g, io) && llm_io(gn_session_step(s, step - 1), prev_io) &&
        gn_graph_tensor(g, (uint32_t)io[0])->shape[1] == 1) {
        const gn_graph *pg = gn_session_step(s, step - 1);
        int64_t B = gn_graph_tensor(g, (uint32_t)io[0])->shape[0];
        if (gn_graph_tensor(pg, (uint32_t)prev_io[2])->bytes != (uint64_t)B * 8)
            return gn_error_set(err, GN_EINVAL, "feed: steps[%u]: batch differs from the previous step", step);
        int64_t *buf = malloc((size_t)B * 3 * sizeof(int64_t));
        if (!buf)
            return gn_error_set(err, GN_ENOMEM, "feed: out of memory");
        int rc = gn_runner_read(r, step - 1, (uint32_t)prev_io[2], buf, (size_t)B * 8, err);
        /* position of this token: the previous step's last position + 1 */
        const gn_tensor *pp = gn_graph_tensor(pg, (uint32_t)prev_io[1]);
        int64_t *ppos = rc == 0 ? malloc((size_t)pp->bytes) : NULL;
        if (rc == 0 && !ppos)
            rc = gn_error_set(err, GN_ENOMEM, "feed: out of memory");
        if (rc == 0)
            rc = gn_runner_read(r, step - 1, (uint32_t)prev_io[1], ppos, (size_t)pp->bytes, err);
        for (int64_t b = 0; rc == 0 && b < B; b++)
            buf[B + b] = ppos[b * pp->shape[1] + pp->shape[1] - 1] + 1;
        free(ppos);
        if (rc == 0)
            rc = gn_runner_write(r, step, (uint32_t)io[0], buf, (size_t)B * 8, err);
        if (rc == 0)
            rc = gn_runner_write(r, step, (uint32_t)io[1], buf + B, (size_t)B * 8, err);
        free(buf);
        return rc;
    }
    if (llm_io(g, io)) { /* a prompt: seeded ids, positions 0..T-1 */
        const gn_tensor *ids = gn_graph_tensor(g, (uint32_t)io[0]);
        int rc = seeded(r, g, step, (uint32_t)io[0], seed, err);
        int64_t B = ids->shape[0], T = ids->shape[1];
        int64_t *pos = rc == 0 ? malloc((size_t)(B * T) * 8) : NULL;
        if (rc == 0 && !pos)
            return gn_error_set(err, GN_ENOMEM, "feed: out of memory");
        for (int64_t i = 0; rc == 0 && i < B * T; i++)
            pos[i] = i % T;
        if (rc == 0)
            rc = gn_runner_write(r, step, (uint32_t)io[1], pos, (size_t)(B * T) * 8, err);
        free(pos);
        return rc;
    }
    for (uint32_t t = 0; t < gn_graph_ntensors(g); t++)
        if (gn_graph_tensor(g, t)->kind == GN_KIND_INPUT) {
            int rc = seeded(r, g, step, t, seed, err);
            if (rc < 0)
                return rc;
        }
    return 0;
}
