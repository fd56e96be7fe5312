/*
 * opcheck.c — the checks every executor makes before it computes a node
 * (issue 4; contract in opcheck.h, semantics in real/EXECUTOR.md).
 *
 * One function per op, in the order the CPU executor (the reference) has
 * always made them: arity, dtypes, attrs, shapes, then index values.  The
 * order is part of the contract (a node with two faults reports the first
 * of them), so a new check goes where it would fail first, for every
 * executor at once.  Each function fills the op's member of gn_opdesc.
 */
#include "opcheck.h"

#include <stdio.h>
#include <string.h>

/* ========================== types ========================== */

/* One node being checked. */
typedef struct chk {
    const gn_graph *g;
    uint32_t id;              /* node id */
    const gn_node *n;
    const uint32_t *tin;      /* input tensor ids */
    const uint32_t *tout;     /* output tensor ids */
    const char *executor;     /* "CPU", "CUDA": named in dtype messages */
    unsigned feats;           /* GN_OPCHECK_* the executor implements */
    gn_opcheck_host_fn host;  /* index values in host memory */
    void *arg;                /* for host */
    gn_opdesc *d;
    gn_error *err;
} chk;

/* ========================== API ========================== */

int gn_opcheck_vfail(const gn_graph *g, uint32_t id, gn_error *err, int code, const char *fmt, va_list ap)
{
    char buf[400];
    const gn_node *n = gn_graph_node(g, id);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    return gn_error_set(err, code, "nodes[%u]: %s (module %s): %s", id, gn_op_name(n->op),
                        n->module ? n->module : "-", buf);
}

int gn_opcheck_fail(const gn_graph *g, uint32_t id, gn_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = gn_opcheck_vfail(g, id, err, code, fmt, ap);
    va_end(ap);
    return rc;
}

/* ========================== private helpers ========================== */

static int fail(chk *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(chk *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = gn_opcheck_vfail(c->g, c->id, c->err, code, fmt, ap);
    va_end(ap);
    return rc;
}

static const gn_tensor *IT(chk *c, uint32_t k)
{
    return gn_graph_tensor(c->g, c->tin[k]);
}

static const gn_tensor *OT(chk *c, uint32_t k)
{
    return gn_graph_tensor(c->g, c->tout[k]);
}

static int64_t numel(const gn_tensor *t)
{
    int64_t n = 1;
    for (uint32_t i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

/* Size of dim I counted from the end (1 = last); 1 when absent. */
static int64_t dim_from_end(const gn_tensor *t, uint32_t i)
{
    return t->ndim >= i ? t->shape[t->ndim - i] : 1;
}

static json_t *attr(chk *c, const char *key)
{
    return c->n->attrs ? json_object_get(c->n->attrs, key) : NULL;
}

static int64_t attr_i(chk *c, const char *key, int64_t def)
{
    json_t *v = attr(c, key);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_real(v))
        return (int64_t)json_real_value(v);
    if (json_is_boolean(v))
        return json_is_true(v);
    return def;
}

/* An int or a two-element list [h, w]. */
static void attr_pair(chk *c, const char *key, int64_t def, int64_t out[2])
{
    json_t *v = attr(c, key);
    out[0] = out[1] = def;
    if (json_is_array(v) && json_array_size(v) == 2) {
        for (int i = 0; i < 2; i++)
            if (json_is_integer(json_array_get(v, (size_t)i)))
                out[i] = (int64_t)json_integer_value(json_array_get(v, (size_t)i));
    } else if (v) {
        out[0] = out[1] = attr_i(c, key, def);
    }
}

static double attr_f(chk *c, const char *key, double def)
{
    json_t *v = attr(c, key);
    if (json_is_string(v)) { /* JSON has no inf / nan: the front end writes them as strings */
        const char *s = json_string_value(v);
        if (strcmp(s, "inf") == 0)
            return INFINITY;
        if (strcmp(s, "-inf") == 0)
            return -INFINITY;
        if (strcmp(s, "nan") == 0)
            return NAN;
    }
    if (json_is_boolean(v))
        return json_is_true(v);
    return json_is_number(v) ? json_number_value(v) : def;
}

/* attrs.KEY is a number, a boolean or one of the strings attr_f reads. */
static int attr_is_num(chk *c, const char *key)
{
    json_t *v = attr(c, key);
    if (json_is_string(v))
        return strcmp(json_string_value(v), "inf") == 0 || strcmp(json_string_value(v), "-inf") == 0 ||
               strcmp(json_string_value(v), "nan") == 0;
    return json_is_number(v) || json_is_boolean(v);
}

static const char *attr_s(chk *c, const char *key)
{
    json_t *v = attr(c, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int attr_b(chk *c, const char *key, int def)
{
    return attr_i(c, key, def) != 0;
}

/* Checks arity: LO..HI inputs and NOUT outputs (0 = any >= 1). */
static int arity(chk *c, uint32_t lo, uint32_t hi, uint32_t nout)
{
    if (c->n->nin < lo || c->n->nin > hi)
        return fail(c, GN_EINVAL, "expected %u..%u inputs, got %u", lo, hi, c->n->nin);
    if (nout && c->n->nout != nout)
        return fail(c, GN_EINVAL, "expected %u output(s), got %u", nout, c->n->nout);
    return 0;
}

static int is_half(gn_dtype dt)
{
    return dt == GN_DTYPE_F16 || dt == GN_DTYPE_BF16;
}

/* DT holds floats this executor computes with: f32, or f16/bf16 where it
 * declares GN_OPCHECK_HALF (which marks the node as half). */
static int float_ok(chk *c, gn_dtype dt)
{
    if (dt == GN_DTYPE_F32)
        return 1;
    if (is_half(dt) && (c->feats & GN_OPCHECK_HALF)) {
        c->d->half = 1;
        return 1;
    }
    return 0;
}

/* Every input in [FROM, TO) and the first NOUT outputs hold floats. */
static int floats(chk *c, uint32_t from, uint32_t to, uint32_t nout)
{
    for (uint32_t k = from; k < to && k < c->n->nin; k++)
        if (!float_ok(c, IT(c, k)->dtype))
            return fail(c, GN_EUNSUPPORTED, "input %u is %s (the %s executor computes in f32)", k,
                        gn_dtype_name(IT(c, k)->dtype), c->executor);
    for (uint32_t k = 0; k < nout && k < c->n->nout; k++)
        if (!float_ok(c, OT(c, k)->dtype))
            return fail(c, GN_EUNSUPPORTED, "output %u is %s (the %s executor computes in f32)", k,
                        gn_dtype_name(OT(c, k)->dtype), c->executor);
    return 0;
}

/* Every input in [FROM, TO) and every output holds floats. */
static int all_f32(chk *c, uint32_t from, uint32_t to)
{
    return floats(c, from, to, c->n->nout);
}

static int is_index_dtype(gn_dtype dt)
{
    return dt == GN_DTYPE_I64 || dt == GN_DTYPE_I32;
}

/* The dtypes cast and fill convert between (f16/bf16 with GN_OPCHECK_HALF). */
static int castable(chk *c, gn_dtype dt)
{
    return dt == GN_DTYPE_F32 || dt == GN_DTYPE_F64 || dt == GN_DTYPE_I64 || dt == GN_DTYPE_I32 ||
           dt == GN_DTYPE_U8 || dt == GN_DTYPE_BOOL || (is_half(dt) && (c->feats & GN_OPCHECK_HALF));
}

/* The code of a castable dtype. */
static gn_opcheck_num num_of(gn_dtype dt)
{
    switch (dt) {
    case GN_DTYPE_F64: return GN_NUM_F64;
    case GN_DTYPE_I64: return GN_NUM_I64;
    case GN_DTYPE_I32: return GN_NUM_I32;
    case GN_DTYPE_U8: return GN_NUM_U8;
    case GN_DTYPE_BOOL: return GN_NUM_BOOL;
    case GN_DTYPE_F16: return GN_NUM_F16;
    case GN_DTYPE_BF16: return GN_NUM_BF16;
    default: return GN_NUM_F32;
    }
}

/* Normalises a possibly negative DIM of an NDIM tensor; -1 when out of range. */
static int norm_dim(int64_t dim, uint32_t ndim)
{
    if (dim < 0)
        dim += ndim;
    return dim < 0 || dim >= (int64_t)ndim ? -1 : (int)dim;
}

static int fits_int(int64_t a, int64_t b, int64_t c2)
{
    return a <= INT32_MAX && b <= INT32_MAX && c2 <= INT32_MAX;
}

/* Product of T's dims after D. */
static int64_t inner_of(const gn_tensor *t, int d)
{
    int64_t inner = 1;
    for (uint32_t i = (uint32_t)d + 1; i < t->ndim; i++)
        inner *= t->shape[i];
    return inner;
}

/* Strides (elements) of T broadcast to the shape OS of OND dims (numpy
 * rules, right-aligned), 0 past them; -1 when T does not broadcast. */
static int bcast_shape(const gn_tensor *t, const int64_t *os, uint32_t ond, int64_t st[GN_MAX_DIMS])
{
    for (uint32_t i = 0; i < GN_MAX_DIMS; i++)
        st[i] = 0;
    if (t->ndim > ond)
        return -1;
    int64_t s = 1;
    for (uint32_t i = 1; i <= t->ndim; i++) {
        int64_t n = t->shape[t->ndim - i], m = os[ond - i];
        if (n != m && n != 1)
            return -1;
        st[ond - i] = n == 1 ? 0 : s;
        s *= n;
    }
    return 0;
}

/* Strides of T broadcast to the shape of O. */
static int bcast_strides(const gn_tensor *t, const gn_tensor *o, int64_t st[GN_MAX_DIMS])
{
    return bcast_shape(t, o->shape, o->ndim, st);
}

/*
 * Every value of index input K is in [0, LIM); else GN_EINVAL naming the
 * first bad one (along dim DIM, or at its position when DIM < 0).
 */
static int check_ids(chk *c, uint32_t k, int64_t lim, int dim)
{
    const gn_tensor *t = IT(c, k);
    const void *p = NULL;
    int rc = c->host(c->arg, k, &p);
    if (rc)
        return rc;
    for (int64_t i = 0; i < numel(t); i++) {
        int64_t r = t->dtype == GN_DTYPE_I64 ? ((const int64_t *)p)[i] : ((const int32_t *)p)[i];
        if (r < 0 || r >= lim) {
            if (dim >= 0)
                return fail(c, GN_EINVAL, "index %lld out of range [0, %lld) along dim %d", (long long)r,
                            (long long)lim, dim);
            return fail(c, GN_EINVAL, "index %lld at position %lld out of range [0, %lld)", (long long)r,
                        (long long)i, (long long)lim);
        }
    }
    return 0;
}

/*
 * A norm's outputs: the result alone, or WANT outputs whose others are its
 * statistics (mean and rstd, as aten's native_*_norm return them), N
 * elements each (ALT: another accepted count, e.g. 0 for the empty ones
 * of an inference batch norm).  Sets *STATS.
 */
static int stats_outputs(chk *c, uint32_t want, int64_t n, int64_t alt, int *stats)
{
    *stats = 0;
    if (c->n->nout == 1)
        return 0;
    if (c->n->nout != want)
        return fail(c, GN_EINVAL, "expected 1 or %u outputs (the result, then its statistics), got %u", want,
                    c->n->nout);
    if (!(c->feats & GN_OPCHECK_AUX_OUTPUTS))
        return fail(c, GN_EUNSUPPORTED, "the statistics outputs (mean, rstd) are not computed by the %s executor",
                    c->executor);
    for (uint32_t k = 1; k < want; k++)
        if (numel(OT(c, k)) != n && numel(OT(c, k)) != alt)
            return fail(c, GN_EINVAL, "output %u has %lld elements, expected %lld (one per normalised group)", k,
                        (long long)numel(OT(c, k)), (long long)n);
    *stats = 1;
    return 0;
}

/* ========================== matmul, norms ========================== */

/* attrs.alpha / attrs.beta (aten's addmm, add: alpha·b, beta·bias) other than 1: not computed. */
static int scaled(chk *c)
{
    if ((attr(c, "alpha") && attr_f(c, "alpha", 1.0) != 1.0) || (attr(c, "beta") && attr_f(c, "beta", 1.0) != 1.0))
        return fail(c, GN_EUNSUPPORTED, "alpha or beta other than 1 (aten's scaled forms) is not computed");
    return 0;
}

static int check_matmul(chk *c)
{
    int rc = scaled(c);
    if (rc)
        return rc;
    rc = arity(c, 2, 3, 1);
    if (rc || (rc = all_f32(c, 0, c->n->nin)))
        return rc;
    const gn_tensor *a = IT(c, 0), *w = IT(c, 1), *o = OT(c, 0);
    int tb = attr_b(c, "transpose_b", 0);
    if (a->ndim < 1 || w->ndim < 2)
        return fail(c, GN_EINVAL, "input 0 needs >= 1 dim and input 1 >= 2 dims");
    int64_t K = dim_from_end(a, 1), M = a->ndim >= 2 ? dim_from_end(a, 2) : 1;
    int64_t N = tb ? dim_from_end(w, 2) : dim_from_end(w, 1);
    int64_t Kw = tb ? dim_from_end(w, 1) : dim_from_end(w, 2);
    if (Kw != K)
        return fail(c, GN_EINVAL, "inner dims differ: input 0 has k=%lld, input 1 (transpose_b=%d) k=%lld",
                    (long long)K, tb, (long long)Kw);
    int64_t ba = (M * K) != 0 ? numel(a) / (M * K) : 0, bw = (K * N) != 0 ? numel(w) / (K * N) : 1;
    if (numel(o) != ba * M * N || dim_from_end(o, 1) != N)
        return fail(c, GN_EINVAL, "output has %lld elements (last dim %lld), expected %lld x %lld x %lld",
                    (long long)numel(o), (long long)dim_from_end(o, 1), (long long)ba, (long long)M,
                    (long long)N);
    if (bw != 1 && bw != ba)
        return fail(c, GN_EINVAL, "batch of input 1 (%lld) is neither 1 nor that of input 0 (%lld)",
                    (long long)bw, (long long)ba);
    if (c->n->nin == 3 && numel(IT(c, 2)) != N)
        return fail(c, GN_EINVAL, "bias has %lld elements, expected n=%lld", (long long)numel(IT(c, 2)),
                    (long long)N);
    if (!fits_int(ba * M, N, K))
        return fail(c, GN_EUNSUPPORTED, "dims beyond the 32-bit range of BLAS");
    c->d->u.matmul.M = M;
    c->d->u.matmul.N = N;
    c->d->u.matmul.K = K;
    c->d->u.matmul.batch = ba;
    c->d->u.matmul.wbatch = bw;
    c->d->u.matmul.tb = tb;
    c->d->u.matmul.bias = c->n->nin == 3;
    return 0;
}

static int check_norm(chk *c, int rms)
{
    int rc = arity(c, 1, rms ? 2 : 3, 0);
    if (rc || (rc = all_f32(c, 0, c->n->nin)))
        return rc;
    const gn_tensor *x = IT(c, 0);
    int64_t D = dim_from_end(x, 1), rows = D ? numel(x) / D : 0;
    if (numel(OT(c, 0)) != numel(x))
        return fail(c, GN_EINVAL, "output and input differ in size");
    for (uint32_t k = 1; k < c->n->nin; k++)
        if (numel(IT(c, k)) != D)
            return fail(c, GN_EINVAL, "input %u has %lld elements, expected the last dim %lld", k,
                        (long long)numel(IT(c, k)), (long long)D);
    if ((rc = stats_outputs(c, rms ? 2 : 3, rows, rows, &c->d->u.norm.stats)))
        return rc;
    c->d->u.norm.rows = rows;
    c->d->u.norm.D = D;
    c->d->u.norm.eps = attr_f(c, "eps", 1e-5);
    c->d->u.norm.rms = rms;
    c->d->u.norm.weight = c->n->nin > 1;
    c->d->u.norm.bias = c->n->nin > 2;
    return 0;
}

/* A channel norm's x [N, C, ...] (S: elements per sample and channel),
 * f32 inputs 1..MAXIN, the output x's size. */
static int norm_nc(chk *c, uint32_t maxin, int64_t *N, int64_t *C, int64_t *S)
{
    int rc = arity(c, 1, maxin, 0);
    if (rc || (rc = all_f32(c, 0, c->n->nin)))
        return rc;
    const gn_tensor *x = IT(c, 0);
    if (x->ndim < 2 || numel(OT(c, 0)) != numel(x))
        return fail(c, GN_EINVAL, "input 0 needs [N, C, ...] and the output its size");
    *N = x->shape[0];
    *C = x->shape[1];
    *S = (*N * *C) != 0 ? numel(x) / (*N * *C) : 0;
    return 0;
}

/* x [N, C, ...], then optional weight, bias, running_mean, running_var [C]. */
static int check_batch_norm(chk *c)
{
    int64_t N, C, S;
    int rc = norm_nc(c, 5, &N, &C, &S);
    if (rc)
        return rc;
    for (uint32_t k = 1; k < c->n->nin; k++)
        if (numel(IT(c, k)) != C)
            return fail(c, GN_EINVAL, "input %u has %lld elements, expected C=%lld", k,
                        (long long)numel(IT(c, k)), (long long)C);
    if ((rc = stats_outputs(c, 3, C, 0, &c->d->u.batch_norm.stats)))
        return rc;
    c->d->u.batch_norm.N = N;
    c->d->u.batch_norm.C = C;
    c->d->u.batch_norm.S = S;
    c->d->u.batch_norm.eps = attr_f(c, "eps", 1e-5);
    c->d->u.batch_norm.nparams = c->n->nin - 1;
    return 0;
}

/* x [N, C, ...], then optional weight, bias [C]; attrs groups, eps. */
static int check_group_norm(chk *c)
{
    if (!(c->feats & GN_OPCHECK_GROUP_NORM))
        return fail(c, GN_EUNSUPPORTED, "not run by the %s executor", c->executor);
    int64_t N, C, S;
    int rc = norm_nc(c, 3, &N, &C, &S);
    if (rc)
        return rc;
    int64_t G = attr_i(c, "groups", 0);
    if (!attr(c, "groups"))
        return fail(c, GN_EINVAL, "attrs.groups missing");
    if (G < 1 || C % G)
        return fail(c, GN_EINVAL, "groups (%lld) must divide the %lld channels", (long long)G, (long long)C);
    for (uint32_t k = 1; k < c->n->nin; k++)
        if (numel(IT(c, k)) != C)
            return fail(c, GN_EINVAL, "input %u has %lld elements, expected C=%lld", k,
                        (long long)numel(IT(c, k)), (long long)C);
    if ((rc = stats_outputs(c, 3, N * G, N * G, &c->d->u.group_norm.stats)))
        return rc;
    c->d->u.group_norm.N = N;
    c->d->u.group_norm.C = C;
    c->d->u.group_norm.S = S;
    c->d->u.group_norm.G = G;
    c->d->u.group_norm.eps = attr_f(c, "eps", 1e-5);
    c->d->u.group_norm.weight = c->n->nin > 1;
    c->d->u.group_norm.bias = c->n->nin > 2;
    return 0;
}

/* ========================== softmax and attention ========================== */

static int check_softmax(chk *c)
{
    int rc = arity(c, 1, 1, 1);
    if (rc || (rc = all_f32(c, 0, 1)))
        return rc;
    const gn_tensor *x = IT(c, 0);
    if (numel(OT(c, 0)) != numel(x))
        return fail(c, GN_EINVAL, "output and input differ in size");
    c->d->u.softmax.scalar = x->ndim == 0;
    if (x->ndim == 0)
        return 0;
    int d = norm_dim(attr_i(c, "dim", -1), x->ndim);
    if (d < 0)
        return fail(c, GN_EINVAL, "dim %lld out of range for %u dims", (long long)attr_i(c, "dim", -1), x->ndim);
    int64_t len = x->shape[d], inner = inner_of(x, d);
    c->d->u.softmax.len = len;
    c->d->u.softmax.inner = inner;
    c->d->u.softmax.outer = (len * inner) != 0 ? numel(x) / (len * inner) : 0;
    return 0;
}

/* q [B, H, T, dh], k and v [B, KV, Tk, dh] [, mask broadcast to [B, H, T,
 * Tk]] -> out [B, H, T, dh]. */
static int check_attention(chk *c)
{
    int rc = arity(c, 3, 4, 1);
    if (rc || (rc = all_f32(c, 0, 3)))
        return rc;
    const gn_tensor *q = IT(c, 0), *k = IT(c, 1), *v = IT(c, 2), *o = OT(c, 0);
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4 || o->ndim != 4)
        return fail(c, GN_EINVAL, "q, k, v and the output must be 4-D [B, heads, T, head_dim]");
    int64_t B = q->shape[0], H = q->shape[1], T = q->shape[2], dh = q->shape[3];
    int64_t KV = k->shape[1], Tk = k->shape[2];
    if (k->shape[0] != B || k->shape[3] != dh || memcmp(k->shape, v->shape, 4 * sizeof(int64_t)) ||
        memcmp(q->shape, o->shape, 4 * sizeof(int64_t)))
        return fail(c, GN_EINVAL, "shapes disagree: q [B, H, T, dh], k = v [B, KV, Tk, dh], out = q");
    if (KV == 0 || H % KV)
        return fail(c, GN_EINVAL, "kv heads (%lld) must divide heads (%lld)", (long long)KV, (long long)H);
    if (attr_i(c, "heads", H) != H || attr_i(c, "kv_heads", KV) != KV || attr_i(c, "head_dim", dh) != dh)
        return fail(c, GN_EINVAL, "attrs heads/kv_heads/head_dim disagree with the shapes (%lld, %lld, %lld)",
                    (long long)H, (long long)KV, (long long)dh);
    int causal = attr_b(c, "causal", 0);
    int64_t off = Tk - T; /* cache length before this step */
    const char *align = attr_s(c, "causal_align");
    if (align && strcmp(align, "top_left") == 0)
        off = 0; /* torch's is_causal: query t sees keys 0..t */
    else if (align && strcmp(align, "bottom_right") != 0)
        return fail(c, GN_EINVAL, "attrs.causal_align \"%s\" (expected bottom_right or top_left)", align);
    if (causal && off < 0)
        return fail(c, GN_EINVAL, "causal attention with more queries (%lld) than keys (%lld)", (long long)T,
                    (long long)Tk);
    if (!fits_int(T, Tk, dh))
        return fail(c, GN_EUNSUPPORTED, "dims beyond the 32-bit range of BLAS");
    int has = c->n->nin == 4;
    if (attr_b(c, "masked", has) != has)
        return fail(c, GN_EINVAL, has ? "a fourth input (a mask) but attrs.masked is false"
                                      : "attrs.masked is true but the node has no mask input");
    if (has) {
        const gn_tensor *m = IT(c, 3);
        int64_t full[4] = {B, H, T, Tk}, st[GN_MAX_DIMS];
        if (!(c->feats & GN_OPCHECK_ATTN_MASK))
            return fail(c, GN_EUNSUPPORTED, "a mask tensor is not supported by the %s executor", c->executor);
        if (m->dtype == GN_DTYPE_BOOL)
            c->d->u.attention.mask = 1;
        else if (float_ok(c, m->dtype))
            c->d->u.attention.mask = 2;
        else
            return fail(c, GN_EUNSUPPORTED, "mask is %s (expected bool, true = attend, or an additive float mask)",
                        gn_dtype_name(m->dtype));
        if (bcast_shape(m, full, 4, st) != 0)
            return fail(c, GN_EINVAL, "mask does not broadcast to [B, H, T, Tk] = [%lld, %lld, %lld, %lld]",
                        (long long)B, (long long)H, (long long)T, (long long)Tk);
        memcpy(c->d->u.attention.mst, st, sizeof(c->d->u.attention.mst));
    }
    c->d->u.attention.B = B;
    c->d->u.attention.H = H;
    c->d->u.attention.KV = KV;
    c->d->u.attention.T = T;
    c->d->u.attention.Tk = Tk;
    c->d->u.attention.dh = dh;
    c->d->u.attention.group = H / KV;
    c->d->u.attention.off = off;
    c->d->u.attention.causal = causal;
    c->d->u.attention.scale = dh ? (float)attr_f(c, "scale", 1.0 / sqrt((double)dh)) : 1.0f;
    return 0;
}

/* ========================== embeddings ========================== */

/*
 * Offsets (input 2) of a bag with N ids: the first is 0, they never
 * decrease and none passes N; else GN_EINVAL naming the first bad one.
 */
static int check_offsets(chk *c, int64_t n)
{
    const gn_tensor *t = IT(c, 2);
    const void *p = NULL;
    int rc = c->host(c->arg, 2, &p);
    if (rc)
        return rc;
    int64_t prev = 0;
    for (int64_t i = 0; i < numel(t); i++) {
        int64_t r = t->dtype == GN_DTYPE_I64 ? ((const int64_t *)p)[i] : ((const int32_t *)p)[i];
        if ((i == 0 && r != 0) || r < prev || r > n)
            return fail(c, GN_EINVAL, "offsets[%lld] = %lld: offsets start at 0, never decrease and stay <= %lld "
                        "(the number of ids)", (long long)i, (long long)r, (long long)n);
        prev = r;
    }
    return 0;
}

/*
 * A lookup: weight [V, d], ids (i64/i32, any shape) -> [ids..., d].  A
 * bag: weight, ids [B, P] (or [P]: one bag) -> [B, d]; or, as PyTorch's
 * embedding_bag takes them, weight, ids [n], offsets [B] (or [B + 1]:
 * include_last_offset) [, per_sample_weights [n]] -> [B, d] [, offset2bag,
 * bag_size, max_indices] (aten's index outputs).
 */
static int check_embedding(chk *c, int bag)
{
    int rc = arity(c, 2, bag ? 4 : 2, bag ? 0 : 1);
    if (rc)
        return rc;
    if (bag && c->n->nout > 4)
        return fail(c, GN_EINVAL, "expected 1..4 outputs (the bags, then offset2bag, bag_size, max_indices), got %u",
                    c->n->nout);
    if (bag && (c->n->nin > 2 || c->n->nout > 1 || attr(c, "padding_idx")) &&
        !(c->feats & GN_OPCHECK_BAG_OFFSETS))
        return fail(c, GN_EUNSUPPORTED, "offsets, per-sample weights, padding_idx and index outputs are not "
                    "supported by the %s executor", c->executor);
    if ((rc = floats(c, 0, 1, 1)))
        return rc;
    const gn_tensor *w = IT(c, 0), *ids = IT(c, 1), *o = OT(c, 0);
    if (w->ndim != 2 || !is_index_dtype(ids->dtype))
        return fail(c, GN_EINVAL, "inputs must be weight [V, d] (f32) then ids (i64 or i32)");
    int64_t V = w->shape[0], d = w->shape[1], n = numel(ids);
    const char *mode = bag ? attr_s(c, "mode") : NULL;
    gn_opcheck_emode m = !bag ? GN_EMB_LOOKUP : !mode || strcmp(mode, "mean") == 0 ? GN_EMB_MEAN /* torch's default */
                         : strcmp(mode, "max") == 0 ? GN_EMB_MAX : GN_EMB_SUM;
    if (bag && mode && m == GN_EMB_SUM && strcmp(mode, "sum") != 0)
        return fail(c, GN_EUNSUPPORTED, "mode \"%s\" (expected sum, mean or max)", mode);
    int offs = bag && c->n->nin >= 3;
    int64_t bags, per = 1;
    if (offs) {
        const gn_tensor *of = IT(c, 2);
        if (ids->ndim != 1 || of->ndim != 1 || !is_index_dtype(of->dtype))
            return fail(c, GN_EINVAL, "with offsets, ids and offsets must be 1-D (i64 or i32)");
        bags = o->ndim == 2 ? o->shape[0] : 0;
        int last = numel(of) == bags + 1;
        if (o->ndim != 2 || (numel(of) != bags && !last))
            return fail(c, GN_EINVAL, "offsets has %lld entries for an output of %lld bags (expected one per bag, "
                        "or one more with include_last_offset)", (long long)numel(of), (long long)bags);
        if (attr(c, "include_last_offset") && attr_b(c, "include_last_offset", 0) != last)
            return fail(c, GN_EINVAL, "attrs.include_last_offset disagrees with %lld offsets for %lld bags",
                        (long long)numel(of), (long long)bags);
        if (c->n->nin == 4) {
            if ((rc = floats(c, 3, 4, 0)))
                return rc;
            if (numel(IT(c, 3)) != n)
                return fail(c, GN_EINVAL, "per-sample weights have %lld elements for %lld ids",
                            (long long)numel(IT(c, 3)), (long long)n);
            if (m != GN_EMB_SUM)
                return fail(c, GN_EINVAL, "per-sample weights need mode sum (as torch)");
        }
        per = 0;
    } else {
        bags = bag ? (ids->ndim == 2 ? ids->shape[0] : 1) : n;
        per = bag ? (bags ? n / bags : 0) : 1;
        if (bag && ids->ndim != 2 && ids->ndim != 1)
            return fail(c, GN_EINVAL, "ids must be [B, pooling] (or 1-D: one bag)");
    }
    if (numel(o) != bags * d || dim_from_end(o, 1) != d)
        return fail(c, GN_EINVAL, "output has %lld elements, expected %lld x %lld", (long long)numel(o),
                    (long long)bags, (long long)d);
    for (uint32_t k = 1; k < c->n->nout; k++)
        if (!is_index_dtype(OT(c, k)->dtype))
            return fail(c, GN_EINVAL, "output %u (an index output: offset2bag, bag_size, max_indices) must be i64 "
                        "or i32", k);
    int64_t pad = -1;
    if (bag && json_is_integer(attr(c, "padding_idx"))) {
        pad = attr_i(c, "padding_idx", -1);
        if (pad < -1 || pad >= V)
            return fail(c, GN_EINVAL, "padding_idx %lld out of range [0, %lld) (or -1: none)", (long long)pad,
                        (long long)V);
    }
    if ((rc = check_ids(c, 1, V, -1)))
        return rc;
    if (offs && (rc = check_offsets(c, n)))
        return rc;
    if (m == GN_EMB_LOOKUP && w->dtype == o->dtype) /* rows are copied in their storage type */
        c->d->half = 0;
    c->d->u.embedding.mode = m;
    c->d->u.embedding.V = V;
    c->d->u.embedding.d = d;
    c->d->u.embedding.bags = bags;
    c->d->u.embedding.per = per;
    c->d->u.embedding.ids64 = ids->dtype == GN_DTYPE_I64;
    c->d->u.embedding.offsets = offs;
    c->d->u.embedding.off64 = offs && IT(c, 2)->dtype == GN_DTYPE_I64;
    c->d->u.embedding.n = n;
    c->d->u.embedding.psw = c->n->nin == 4;
    c->d->u.embedding.pad = pad;
    c->d->u.embedding.es = c->d->half ? sizeof(float) : gn_dtype_size(o->dtype);
    return 0;
}

/* ========================== elementwise ========================== */

static const struct {
    const char *name;
    gn_opcheck_efn fn;
} efns[] = {
    {"add", GN_EW_ADD}, {"sub", GN_EW_SUB}, {"mul", GN_EW_MUL}, {"div", GN_EW_DIV}, {"maximum", GN_EW_MAX},
    {"minimum", GN_EW_MIN}, {"relu", GN_EW_RELU}, {"gelu", GN_EW_GELU}, {"gelu_new", GN_EW_GELU},
    {"gelu_tanh", GN_EW_GELU}, {"gelu_erf", GN_EW_GELU_ERF}, {"silu", GN_EW_SILU}, {"sigmoid", GN_EW_SIGMOID},
    {"tanh", GN_EW_TANH}, {"neg", GN_EW_NEG}, {"exp", GN_EW_EXP}, {"sqrt", GN_EW_SQRT}, {"rsqrt", GN_EW_RSQRT},
    {"cos", GN_EW_COS}, {"sin", GN_EW_SIN},
};

/* x [B, H, T, dh] with cos, sin [B or 1, T, dh] (or [T, dh]). */
static int check_rotary(chk *c)
{
    int rc = arity(c, 3, 3, 1);
    if (rc || (rc = all_f32(c, 0, 3)))
        return rc;
    const gn_tensor *x = IT(c, 0), *cs = IT(c, 1), *sn = IT(c, 2);
    if (x->ndim != 4 || numel(OT(c, 0)) != numel(x))
        return fail(c, GN_EINVAL, "rotary: input 0 must be [B, heads, T, head_dim] and the output its size");
    int64_t B = x->shape[0], H = x->shape[1], T = x->shape[2], dh = x->shape[3];
    if (dh % 2 || numel(cs) != numel(sn) || dim_from_end(cs, 1) != dh ||
        (numel(cs) != B * T * dh && numel(cs) != T * dh))
        return fail(c, GN_EINVAL, "rotary: cos and sin must be [B or 1, T, head_dim] with an even head_dim");
    c->d->kind = GN_OPK_ROTARY;
    c->d->u.elementwise.B = B;
    c->d->u.elementwise.H = H;
    c->d->u.elementwise.T = T;
    c->d->u.elementwise.dh = dh;
    c->d->u.elementwise.bcast = numel(cs) != B * T * dh || B == 1;
    return 0;
}

/* positions [B, T] (i64/i32) -> cos, sin [B, T, dh]. */
static int check_rotary_table(chk *c)
{
    int rc = arity(c, 1, 1, 2);
    if (rc)
        return rc;
    const gn_tensor *p = IT(c, 0), *co = OT(c, 0);
    if (!is_index_dtype(p->dtype) || !float_ok(c, co->dtype) || !float_ok(c, OT(c, 1)->dtype))
        return fail(c, GN_EUNSUPPORTED, "rotary_table: positions i64/i32 in, f32 cos and sin out");
    int64_t dh = dim_from_end(co, 1), n = numel(p);
    if (dh % 2 || numel(co) != n * dh || numel(OT(c, 1)) != n * dh)
        return fail(c, GN_EINVAL, "rotary_table: outputs must be [positions..., head_dim], head_dim even");
    c->d->kind = GN_OPK_ROTARY_TABLE;
    c->d->u.elementwise.n = n;
    c->d->u.elementwise.dh = dh;
    c->d->u.elementwise.theta = (float)attr_f(c, "theta", 10000.0);
    c->d->u.elementwise.pos64 = p->dtype == GN_DTYPE_I64;
    return 0;
}

/* The numeric fns by name (GN_OPK_NUMERIC), with their operand counts. */
static const struct {
    const char *name;
    gn_opcheck_nfn fn;
    int nops;
    int always;          /* numeric whatever the dtypes (comparisons, logic); else only off float data */
} nfns[] = {
    {"add", GN_NF_ADD, 2, 0}, {"sub", GN_NF_SUB, 2, 0}, {"mul", GN_NF_MUL, 2, 0}, {"div", GN_NF_DIV, 2, 0},
    {"maximum", GN_NF_MAX, 2, 0}, {"minimum", GN_NF_MIN, 2, 0}, {"neg", GN_NF_NEG, 1, 0},
    {"eq", GN_NF_EQ, 2, 1}, {"ne", GN_NF_NE, 2, 1}, {"lt", GN_NF_LT, 2, 1}, {"le", GN_NF_LE, 2, 1},
    {"gt", GN_NF_GT, 2, 1}, {"ge", GN_NF_GE, 2, 1}, {"bitwise_and", GN_NF_AND, 2, 1},
    {"bitwise_or", GN_NF_OR, 2, 1}, {"bitwise_xor", GN_NF_XOR, 2, 1}, {"logical_and", GN_NF_LAND, 2, 1},
    {"logical_or", GN_NF_LOR, 2, 1}, {"logical_xor", GN_NF_LXOR, 2, 1}, {"remainder", GN_NF_REM, 2, 1},
    {"floor_divide", GN_NF_FLOORDIV, 2, 1}, {"bitwise_not", GN_NF_NOT, 1, 1}, {"logical_not", GN_NF_LNOT, 1, 1},
    {"where", GN_NF_WHERE, 3, 1}, {"masked_fill", GN_NF_WHERE, 3, 1},
};

/*
 * Arithmetic, comparisons and logic on any castable dtype, computed in
 * double per element and converted to the output's type (EXECUTOR.md
 * "elementwise", numeric fns); operands broadcast to the output, one of
 * them may be attrs.scalar (at attrs.scalar_pos; masked_fill's attrs.value).
 */
static int check_numeric(chk *c, size_t k)
{
    __typeof__(c->d->u.elementwise) *e = &c->d->u.elementwise;
    const gn_tensor *o = OT(c, 0);
    int mf = strcmp(nfns[k].name, "masked_fill") == 0;
    int nops = nfns[k].nops, pos = -1;
    json_t *sv = mf ? attr(c, "value") : attr(c, "scalar");
    if (sv || (int)c->n->nin < nops) {
        pos = mf ? 0 : (int)attr_i(c, "scalar_pos", nops - 1);
        if (!(mf ? attr_is_num(c, "value") : attr_is_num(c, "scalar")) || pos < 0 || pos >= nops)
            return fail(c, GN_EINVAL, "%s with %u inputs needs a number in attrs.%s (at scalar_pos 0..%d)",
                        nfns[k].name, c->n->nin, mf ? "value" : "scalar", nops - 1);
        if (!(c->feats & GN_OPCHECK_SCALAR))
            return fail(c, GN_EUNSUPPORTED, "a scalar operand is not supported by the %s executor", c->executor);
    }
    int rc = arity(c, (uint32_t)(pos >= 0 ? nops - 1 : nops), (uint32_t)(pos >= 0 ? nops - 1 : nops), 1);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < c->n->nin; i++)
        if (!castable(c, IT(c, i)->dtype))
            return fail(c, GN_EUNSUPPORTED, "input %u is %s (not supported by the %s executor)", i,
                        gn_dtype_name(IT(c, i)->dtype), c->executor);
    if (!castable(c, o->dtype))
        return fail(c, GN_EUNSUPPORTED, "output is %s (not supported by the %s executor)", gn_dtype_name(o->dtype),
                    c->executor);
    if (!(c->feats & GN_OPCHECK_NUMERIC))
        return fail(c, GN_EUNSUPPORTED, "%s on %s data is not supported by the %s executor", nfns[k].name,
                    gn_dtype_name(c->n->nin ? IT(c, 0)->dtype : o->dtype), c->executor);
    /* masked_fill(x, mask[, value]) is where(mask, value, x): operands (mask, value, x) */
    static const int mf_order[3] = {1, 2, 0};
    int bitwise = 1;
    for (int j = 0, in = 0; j < nops; j++) {
        int slot = mf ? mf_order[j] : j;
        if (j == pos) {
            e->oin[slot] = -1;
            e->odt[slot] = GN_NUM_F64;
            memset(e->ost[slot], 0, sizeof(e->ost[slot]));
            e->sval = mf ? attr_f(c, "value", 0.0) : attr_f(c, "scalar", 0.0);
            if (json_is_real(mf ? attr(c, "value") : attr(c, "scalar")))
                bitwise = 0;
            continue;
        }
        const gn_tensor *t = IT(c, (uint32_t)in);
        if (bcast_strides(t, o, e->ost[slot]) != 0)
            return fail(c, GN_EINVAL, "input %d does not broadcast to the output shape", in);
        e->oin[slot] = in;
        e->odt[slot] = num_of(t->dtype);
        if (!is_index_dtype(t->dtype) && t->dtype != GN_DTYPE_U8)
            bitwise = 0; /* bool (or float) operands: and/or/xor/not of truth values */
        in++;
    }
    c->d->kind = GN_OPK_NUMERIC;
    e->nfn = nfns[k].fn;
    e->nops = nops;
    e->n = numel(o);
    e->to = num_of(o->dtype);
    e->bitwise = bitwise;
    return 0;
}

/* Whether node C's data is all f32 / half (the float kernels' domain). */
static int all_float_data(chk *c)
{
    for (uint32_t i = 0; i < c->n->nin; i++)
        if (!float_ok(c, IT(c, i)->dtype))
            return 0;
    for (uint32_t i = 0; i < c->n->nout; i++)
        if (!float_ok(c, OT(c, i)->dtype))
            return 0;
    return 1;
}

static int check_elementwise(chk *c)
{
    const char *fn = attr_s(c, "fn");
    if (!fn)
        return fail(c, GN_EINVAL, "attrs.fn missing");
    int src = scaled(c);
    if (src)
        return src;
    if (attr(c, "rounding_mode")) /* torch.div(a, b, rounding_mode="floor" / "trunc") */
        return fail(c, GN_EUNSUPPORTED, "div with a rounding_mode is not computed");
    for (size_t k = 0; k < sizeof(nfns) / sizeof(nfns[0]); k++)
        if (strcmp(nfns[k].name, fn) == 0 && (nfns[k].always || !all_float_data(c)))
            return check_numeric(c, k);
    if (strcmp(fn, "rotary") == 0)
        return check_rotary(c);
    if (strcmp(fn, "rotary_table") == 0)
        return check_rotary_table(c);
    if (strcmp(fn, "cast") == 0) {
        int rc = arity(c, 1, 1, 1);
        if (rc)
            return rc;
        const gn_tensor *x = IT(c, 0), *o = OT(c, 0);
        if (!castable(c, x->dtype) || !castable(c, o->dtype))
            return fail(c, GN_EUNSUPPORTED, "cast from %s to %s (not supported by the %s executor)",
                        gn_dtype_name(x->dtype), gn_dtype_name(o->dtype), c->executor);
        if (numel(x) != numel(o))
            return fail(c, GN_EINVAL, "cast changes the number of elements");
        c->d->kind = GN_OPK_CAST;
        c->d->u.elementwise.n = numel(x);
        c->d->u.elementwise.from = num_of(x->dtype);
        c->d->u.elementwise.to = num_of(o->dtype);
        return 0;
    }
    size_t i, nf = sizeof(efns) / sizeof(efns[0]);
    for (i = 0; i < nf; i++)
        if (strcmp(efns[i].name, fn) == 0)
            break;
    if (i == nf)
        return fail(c, GN_EUNSUPPORTED, "fn \"%s\" (expected add, sub, mul, div, maximum, minimum, relu, gelu, "
                    "gelu_erf, silu, sigmoid, tanh, neg, exp, sqrt, rsqrt, cos, sin, cast, rotary or rotary_table, or a "
                    "numeric fn)", fn);
    gn_opcheck_efn f = efns[i].fn;
    int bin = f <= GN_EW_MIN;
    /* a Python scalar operand (x * 0.5, 1 - x): one input, the other operand in attrs.scalar */
    int scalar = bin && c->n->nin == 1 && attr(c, "scalar");
    int rc = arity(c, bin && !scalar ? 2 : 1, bin && !scalar ? 2 : 1, 1);
    if (rc || (rc = all_f32(c, 0, c->n->nin)))
        return rc;
    const gn_tensor *o = OT(c, 0);
    int64_t n = numel(o);
    c->d->kind = bin ? GN_OPK_BINARY : GN_OPK_UNARY;
    c->d->u.elementwise.fn = f;
    c->d->u.elementwise.n = n;
    c->d->u.elementwise.spos = -1;
    if (scalar) {
        int64_t pos = attr_i(c, "scalar_pos", 1);
        if (!attr_is_num(c, "scalar") || (pos != 0 && pos != 1))
            return fail(c, GN_EINVAL, "attrs.scalar must be a number (or \"inf\", \"-inf\", \"nan\") and "
                        "attrs.scalar_pos 0 or 1");
        if (!(c->feats & GN_OPCHECK_SCALAR))
            return fail(c, GN_EUNSUPPORTED, "a scalar operand is not supported by the %s executor", c->executor);
        int64_t *st = pos == 1 ? c->d->u.elementwise.sa : c->d->u.elementwise.sb;
        int64_t *zero = pos == 1 ? c->d->u.elementwise.sb : c->d->u.elementwise.sa;
        if (bcast_strides(IT(c, 0), o, st) != 0)
            return fail(c, GN_EINVAL, "the input does not broadcast to the output shape");
        memset(zero, 0, sizeof(c->d->u.elementwise.sa));
        c->d->u.elementwise.same = 0;
        c->d->u.elementwise.spos = (int)pos;
        c->d->u.elementwise.scalar = (float)attr_f(c, "scalar", 0.0);
        return 0;
    }
    if (!bin) {
        if (numel(IT(c, 0)) != n)
            return fail(c, GN_EINVAL, "input and output differ in size");
        return 0;
    }
    c->d->u.elementwise.same = numel(IT(c, 0)) == n && numel(IT(c, 1)) == n;
    if (!c->d->u.elementwise.same &&
        (bcast_strides(IT(c, 0), o, c->d->u.elementwise.sa) != 0 ||
         bcast_strides(IT(c, 1), o, c->d->u.elementwise.sb) != 0))
        return fail(c, GN_EINVAL, "inputs do not broadcast to the output shape");
    return 0;
}

/* ========================== reduction ========================== */

static int check_reduction(chk *c)
{
    int rc = arity(c, 1, 1, 1);
    if (rc)
        return rc;
    static const struct {
        const char *name;
        gn_opcheck_rfn fn;
    } rfns[] = {{"sum", GN_RED_SUM}, {"mean", GN_RED_MEAN}, {"max", GN_RED_MAX},
                {"min", GN_RED_MIN}, {"argmax", GN_RED_ARGMAX}, {"argmin", GN_RED_ARGMIN},
                {"any", GN_RED_ANY}, {"all", GN_RED_ALL}, {"cumsum", GN_RED_CUMSUM}};
    const char *fn = attr_s(c, "fn");
    size_t i, nf = sizeof(rfns) / sizeof(rfns[0]);
    for (i = 0; fn && i < nf; i++)
        if (strcmp(rfns[i].name, fn) == 0)
            break;
    if (!fn || i == nf)
        return fail(c, GN_EUNSUPPORTED, "fn \"%s\" (expected sum, mean, max, min, argmax, argmin, any, all or "
                    "cumsum)", fn ? fn : "");
    gn_opcheck_rfn f = rfns[i].fn;
    int arg = f == GN_RED_ARGMAX || f == GN_RED_ARGMIN, cum = f == GN_RED_CUMSUM;
    const gn_tensor *x = IT(c, 0), *o = OT(c, 0);
    /* any dtype, in double: any, all, cumsum, and reductions of ids or masks */
    int num = f >= GN_RED_ANY || !float_ok(c, x->dtype) || (!arg && !float_ok(c, o->dtype));
    if (num) {
        if (!castable(c, x->dtype) || !castable(c, o->dtype))
            return fail(c, GN_EUNSUPPORTED, "%s from %s to %s (not supported by the %s executor)", fn,
                        gn_dtype_name(x->dtype), gn_dtype_name(o->dtype), c->executor);
        if (!(c->feats & GN_OPCHECK_NUMERIC))
            return fail(c, GN_EUNSUPPORTED, "%s on %s data is not supported by the %s executor", fn,
                        gn_dtype_name(x->dtype), c->executor);
        if (arg && !is_index_dtype(o->dtype))
            return fail(c, GN_EUNSUPPORTED, "%s: the output must be i64 or i32", fn);
    } else if (!float_ok(c, x->dtype) || (arg ? !is_index_dtype(o->dtype) : !float_ok(c, o->dtype)))
        return fail(c, GN_EUNSUPPORTED, "input must be f32 and the output %s", arg ? "i64 or i32" : "f32");
    c->d->u.reduction.num = num;
    c->d->u.reduction.from = num_of(x->dtype);
    int64_t len = 1, inner = 1;
    json_t *dims = attr(c, "dims");
    if (json_is_array(dims) && x->ndim > 0) {
        /* several dims, adjacent once sorted: one [outer, len, inner] as for one dim */
        int lo = (int)x->ndim, hi = -1;
        uint32_t seen = 0;
        for (size_t k = 0; k < json_array_size(dims); k++) {
            json_t *e = json_array_get(dims, k);
            int d = json_is_integer(e) ? norm_dim((int64_t)json_integer_value(e), x->ndim) : -1;
            if (d < 0 || (seen >> d & 1u))
                return fail(c, GN_EINVAL, "attrs.dims[%zu] is not a distinct dim of %u", k, x->ndim);
            seen |= 1u << d;
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        if (hi < 0)
            return fail(c, GN_EINVAL, "attrs.dims is empty");
        if (hi - lo + 1 != (int)json_array_size(dims))
            return fail(c, GN_EUNSUPPORTED, "a reduction over dims that are not adjacent");
        if ((arg || cum) && hi != lo)
            return fail(c, GN_EUNSUPPORTED, "%s over several dims", fn);
        for (int d = lo; d <= hi; d++)
            len *= x->shape[d];
        inner = inner_of(x, hi);
    } else if (x->ndim > 0) {
        int d = norm_dim(attr_i(c, "dim", -1), x->ndim);
        if (d < 0)
            return fail(c, GN_EINVAL, "dim out of range for %u dims", x->ndim);
        len = x->shape[d];
        inner = inner_of(x, d);
    }
    int64_t outer = (len * inner) != 0 ? numel(x) / (len * inner) : 0;
    if (cum ? numel(o) != numel(x) : (numel(o) != outer * inner || (len == 0 && numel(o))))
        return fail(c, GN_EINVAL, "output has %lld elements, expected %lld", (long long)numel(o),
                    (long long)(cum ? numel(x) : outer * inner));
    c->d->u.reduction.fn = f;
    c->d->u.reduction.arg = arg;
    c->d->u.reduction.to = num_of(o->dtype);
    c->d->u.reduction.outer = outer;
    c->d->u.reduction.len = len;
    c->d->u.reduction.inner = inner;
    return 0;
}

/* ========================== view, copy, concat ========================== */

/* The view fns besides reshapes (check_view_fn's). */
static int is_view_fn(const char *fn)
{
    static const char *const names[] = {"split_heads", "merge_heads", "last_position", "first_token",
                                        "flatten_transpose", "permute_reshape", "expand", "t"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(fn, names[i]) == 0)
            return 1;
    return 0;
}

static int check_view_fn(chk *c, const char *fn)
{
    const gn_tensor *x = IT(c, 0);
    if (strcmp(fn, "split_heads") == 0) {
        /* [B, T, C] -> outputs [B, h_k, T, dh], taking channels in order */
        if (x->ndim != 3)
            return fail(c, GN_EINVAL, "split_heads: input must be [B, T, C]");
        int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2], off = 0;
        for (uint32_t k = 0; k < c->n->nout; k++) {
            const gn_tensor *o = OT(c, k);
            if (o->ndim != 4 || o->shape[0] != B || o->shape[2] != T)
                return fail(c, GN_EINVAL, "split_heads: output %u must be [B, heads, T, head_dim]", k);
            off += o->shape[1] * o->shape[3];
        }
        if (off != C)
            return fail(c, GN_EINVAL, "split_heads: outputs take %lld channels of %lld", (long long)off, (long long)C);
        c->d->kind = GN_OPK_SPLIT_HEADS;
        c->d->u.view.B = B;
        c->d->u.view.T = T;
        c->d->u.view.C = C;
        return 0;
    }
    if (c->n->nout != 1)
        return fail(c, GN_EINVAL, "%s: expected 1 output", fn);
    const gn_tensor *o = OT(c, 0);
    if (strcmp(fn, "merge_heads") == 0) {
        if (x->ndim != 4 || o->ndim != 3 || o->shape[0] != x->shape[0] || o->shape[1] != x->shape[2] ||
            o->shape[2] != x->shape[1] * x->shape[3])
            return fail(c, GN_EINVAL, "merge_heads: [B, H, T, dh] -> [B, T, H*dh]");
        c->d->kind = GN_OPK_MERGE_HEADS;
        c->d->u.view.B = x->shape[0];
        c->d->u.view.H = x->shape[1];
        c->d->u.view.T = x->shape[2];
        c->d->u.view.dh = x->shape[3];
        return 0;
    }
    if (strcmp(fn, "last_position") == 0 || strcmp(fn, "first_token") == 0) {
        if (x->ndim != 3 || numel(o) != x->shape[0] * x->shape[2] || x->shape[1] < 1)
            return fail(c, GN_EINVAL, "%s: [B, T, d] -> [B, 1, d] or [B, d]", fn);
        c->d->kind = GN_OPK_PICK_POSITION;
        c->d->u.view.B = x->shape[0];
        c->d->u.view.T = x->shape[1];
        c->d->u.view.C = x->shape[2];
        c->d->u.view.t = fn[0] == 'l' ? x->shape[1] - 1 : 0;
        return 0;
    }
    if (strcmp(fn, "flatten_transpose") == 0) { /* [N, C, H, W] -> [N, H*W, C] */
        if (x->ndim != 4 || numel(o) != numel(x) || dim_from_end(o, 1) != x->shape[1])
            return fail(c, GN_EINVAL, "flatten_transpose: [N, C, H, W] -> [N, H*W, C]");
        c->d->kind = GN_OPK_FLATTEN_TRANSPOSE;
        c->d->u.view.N = x->shape[0];
        c->d->u.view.C = x->shape[1];
        c->d->u.view.S = x->shape[2] * x->shape[3];
        return 0;
    }
    if (strcmp(fn, "permute_reshape") == 0) { /* [N, A*K, H, W] -> [N, H*W*A, K] */
        if (x->ndim != 4 || o->ndim != 3 || numel(o) != numel(x) || o->shape[2] == 0 ||
            x->shape[1] % o->shape[2])
            return fail(c, GN_EINVAL, "permute_reshape: [N, A*K, H, W] -> [N, H*W*A, K]");
        c->d->kind = GN_OPK_PERMUTE_RESHAPE;
        c->d->u.view.N = x->shape[0];
        c->d->u.view.K = o->shape[2];
        c->d->u.view.A = x->shape[1] / o->shape[2];
        c->d->u.view.S = x->shape[2] * x->shape[3];
        return 0;
    }
    if (strcmp(fn, "t") == 0) { /* torch.t: [R, C] -> [C, R] (fewer dims are reshapes) */
        if (x->ndim != 2 || o->ndim != 2 || o->shape[0] != x->shape[1] || o->shape[1] != x->shape[0])
            return fail(c, GN_EINVAL, "t: [R, C] -> [C, R]");
        c->d->kind = GN_OPK_FLATTEN_TRANSPOSE; /* [1, R, C] -> [1, C, R] */
        c->d->u.view.N = 1;
        c->d->u.view.C = x->shape[0];
        c->d->u.view.S = x->shape[1];
        return 0;
    }
    if (strcmp(fn, "expand") == 0) {
        if (bcast_strides(x, o, c->d->u.view.st) != 0)
            return fail(c, GN_EINVAL, "expand: input does not broadcast to the output");
        c->d->kind = GN_OPK_EXPAND;
        return 0;
    }
    return fail(c, GN_EINVAL, "fn \"%s\" has no check", fn); /* NEVER: is_view_fn lists the fns above */
}

/* The view fns that take elements by their arguments (GN_OPCHECK_VIEW_ARGS). */
static int is_strided_fn(const char *fn)
{
    static const char *const names[] = {"select", "slice", "narrow", "transpose", "swapaxes", "permute",
                                        "unbind", "split", "split_with_sizes"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(fn, names[i]) == 0)
            return 1;
    return 0;
}

/*
 * A view that takes x's elements by its arguments (EXECUTOR.md "view"):
 * each output is a walk of x with strides ST over the output's dims from
 * element BASE; outputs after the first start DSTRIDE further per index of
 * the split dim.  Any dtype: elements move as bytes.
 */
static int check_strided(chk *c, const char *fn)
{
    const gn_tensor *x = IT(c, 0), *o = OT(c, 0);
    __typeof__(c->d->u.view) *v = &c->d->u.view;
    int64_t xs[GN_MAX_DIMS];
    for (int i = (int)x->ndim - 1; i >= 0; i--) /* x is contiguous */
        xs[i] = i == (int)x->ndim - 1 ? 1 : xs[i + 1] * x->shape[i + 1];
    for (uint32_t k = 0; k < c->n->nout; k++)
        if (OT(c, k)->dtype != x->dtype)
            return fail(c, GN_EINVAL, "%s: output %u is %s, the input %s", fn, k, gn_dtype_name(OT(c, k)->dtype),
                        gn_dtype_name(x->dtype));
    if (!(c->feats & GN_OPCHECK_VIEW_ARGS))
        return fail(c, GN_EUNSUPPORTED, "view fn \"%s\" is not supported by the %s executor", fn, c->executor);
    memset(v->st, 0, sizeof(v->st));
    v->base = 0;
    v->dstride = 0;
    v->sdim = 0;
    v->es = gn_dtype_size(x->dtype);
    c->d->kind = GN_OPK_STRIDED;
    int multi = strcmp(fn, "unbind") == 0 || strcmp(fn, "split") == 0 || strcmp(fn, "split_with_sizes") == 0;
    if (!multi && c->n->nout != 1)
        return fail(c, GN_EINVAL, "%s: expected 1 output", fn);
    if (strcmp(fn, "expand") == 0) {
        if (bcast_strides(x, o, v->st) != 0)
            return fail(c, GN_EINVAL, "expand: input does not broadcast to the output");
        return 0;
    }
    if (strcmp(fn, "transpose") == 0 || strcmp(fn, "swapaxes") == 0 || strcmp(fn, "permute") == 0) {
        json_t *dims = attr(c, "dims");
        int perm[GN_MAX_DIMS];
        uint32_t seen = 0;
        int tr = fn[0] != 'p';
        if (!json_is_array(dims) || json_array_size(dims) != (tr ? 2 : x->ndim) || o->ndim != x->ndim)
            return fail(c, GN_EINVAL, "%s: attrs.dims must list %s of the input's %u dims", fn,
                        tr ? "the two swapped" : "a permutation", x->ndim);
        for (uint32_t i = 0; i < x->ndim; i++)
            perm[i] = (int)i;
        for (size_t k = 0; k < json_array_size(dims); k++) {
            json_t *e = json_array_get(dims, k);
            int d = json_is_integer(e) ? norm_dim((int64_t)json_integer_value(e), x->ndim) : -1;
            if (d < 0 || (!tr && (seen >> d & 1u)))
                return fail(c, GN_EINVAL, "%s: attrs.dims[%zu] is not a distinct dim of %u", fn, k, x->ndim);
            seen |= 1u << d;
            if (!tr)
                perm[k] = d;
        }
        if (tr) {
            int a = norm_dim((int64_t)json_integer_value(json_array_get(dims, 0)), x->ndim);
            int b = norm_dim((int64_t)json_integer_value(json_array_get(dims, 1)), x->ndim);
            perm[a] = b;
            perm[b] = a;
        }
        for (uint32_t i = 0; i < x->ndim; i++) {
            if (o->shape[i] != x->shape[perm[i]])
                return fail(c, GN_EINVAL, "%s: output dim %u is %lld, input dim %d is %lld", fn, i,
                            (long long)o->shape[i], perm[i], (long long)x->shape[perm[i]]);
            v->st[i] = xs[perm[i]];
        }
        return 0;
    }
    int d = norm_dim(attr_i(c, "dim", 0), x->ndim);
    if (d < 0 || x->ndim == 0)
        return fail(c, GN_EINVAL, "%s: attrs.dim out of range for %u dims", fn, x->ndim);
    if (strcmp(fn, "select") == 0 || strcmp(fn, "unbind") == 0) { /* drops dim d */
        int64_t idx = strcmp(fn, "select") == 0 ? attr_i(c, "index", -1) : 0;
        if (!attr(c, "index") && fn[0] == 's')
            return fail(c, GN_EINVAL, "select: attrs.index missing");
        if (idx < 0)
            idx += x->shape[d];
        if (idx < 0 || idx >= x->shape[d])
            return fail(c, GN_EINVAL, "%s: index %lld out of range for dim %d of size %lld", fn, (long long)idx, d,
                        (long long)x->shape[d]);
        if (fn[0] == 'u' && c->n->nout != (uint64_t)x->shape[d])
            return fail(c, GN_EINVAL, "unbind: %u outputs for dim %d of size %lld", c->n->nout, d,
                        (long long)x->shape[d]);
        for (uint32_t k = 0; k < c->n->nout; k++) {
            const gn_tensor *ok = OT(c, k);
            int bad = ok->ndim + 1 != x->ndim;
            for (uint32_t i = 0, j = 0; !bad && i < x->ndim; i++)
                if ((int)i != d)
                    bad = ok->shape[j++] != x->shape[i];
            if (bad)
                return fail(c, GN_EINVAL, "%s: output %u must be the input without dim %d", fn, k, d);
        }
        for (uint32_t i = 0, j = 0; i < x->ndim; i++)
            if ((int)i != d)
                v->st[j++] = xs[i];
        v->base = idx * xs[d];
        v->dstride = xs[d];
        v->sdim = -1;
        return 0;
    }
    /* slice, narrow (front end: start, end, step), split (sizes from the outputs): keep dim d */
    for (uint32_t k = 0; k < c->n->nout; k++) {
        const gn_tensor *ok = OT(c, k);
        int bad = ok->ndim != x->ndim;
        for (uint32_t i = 0; !bad && i < x->ndim; i++)
            bad = (int)i != d && ok->shape[i] != x->shape[i];
        if (bad)
            return fail(c, GN_EINVAL, "%s: output %u must be the input but for dim %d", fn, k, d);
    }
    for (uint32_t i = 0; i < x->ndim; i++)
        v->st[i] = xs[i];
    v->sdim = d;
    v->dstride = xs[d];
    if (multi) {
        int64_t sum = 0;
        for (uint32_t k = 0; k < c->n->nout; k++)
            sum += OT(c, k)->shape[d];
        if (sum != x->shape[d])
            return fail(c, GN_EINVAL, "split: outputs take %lld of dim %d's %lld", (long long)sum, d,
                        (long long)x->shape[d]);
        return 0;
    }
    int64_t start = attr_i(c, "start", 0), end = attr_i(c, "end", x->shape[d]), step = attr_i(c, "step", 1);
    if (step < 1 || start < 0 || end < start || end > x->shape[d])
        return fail(c, GN_EINVAL, "%s: start %lld, end %lld, step %lld outside dim %d of size %lld", fn,
                    (long long)start, (long long)end, (long long)step, d, (long long)x->shape[d]);
    if (o->shape[d] != (end - start + step - 1) / step)
        return fail(c, GN_EINVAL, "%s: output dim %d is %lld, [%lld:%lld:%lld] takes %lld", fn, d,
                    (long long)o->shape[d], (long long)start, (long long)end, (long long)step,
                    (long long)((end - start + step - 1) / step));
    v->st[d] = xs[d] * step;
    v->base = start * xs[d];
    return 0;
}

static int unknown_view_fn(chk *c, const char *fn)
{
    return fail(c, GN_EUNSUPPORTED, "fn \"%s\" (expected split_heads, merge_heads, last_position, first_token, "
                "flatten_transpose, permute_reshape, expand, t, select, slice, narrow, transpose, swapaxes, permute, "
                "unbind, split, split_with_sizes, or a reshape: none, reshape, view, flatten, "
                "squeeze, unsqueeze, contiguous, _unsafe_view, lift_fresh, detach, alias, view_as)", fn);
}

/* A view fn that keeps the data in order (a byte copy); a 0-D/1-D `t` too. */
static int is_reshape(const char *fn, const gn_tensor *x)
{
    static const char *const names[] = {"reshape", "view", "flatten", "squeeze", "unsqueeze", "contiguous",
                                        "_unsafe_view", "lift_fresh", "detach", "alias", "view_as"};
    if (!fn)
        return 1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(fn, names[i]) == 0)
            return 1;
    return strcmp(fn, "t") == 0 && x->ndim < 2;
}

/* A copy fn that is a byte copy ("pad", "flip", "roll", "repeat" are not). */
static int is_plain_copy(const char *fn)
{
    static const char *const names[] = {"clone", "contiguous", "copy", "to"};
    if (!fn)
        return 1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(fn, names[i]) == 0)
            return 1;
    return 0;
}

/* view, or copy (COPY: a plain byte copy: fn none, clone, contiguous, copy, to). */
static int check_view(chk *c, int copy)
{
    int rc = arity(c, 1, 1, 0);
    if (rc)
        return rc;
    const char *fn = attr_s(c, "fn");
    if (copy && !is_plain_copy(fn))
        return fail(c, GN_EUNSUPPORTED, "fn \"%s\" (expected none, clone, contiguous, copy or to: a copy of the "
                    "same bytes)", fn);
    if (copy || is_reshape(fn, IT(c, 0))) {
        if (c->n->nout != 1 || IT(c, 0)->bytes != OT(c, 0)->bytes || IT(c, 0)->dtype != OT(c, 0)->dtype)
            return fail(c, GN_EINVAL, "a reshape keeps dtype and size: %s %llu bytes -> %s %llu bytes",
                        gn_dtype_name(IT(c, 0)->dtype), (unsigned long long)IT(c, 0)->bytes,
                        gn_dtype_name(OT(c, 0)->dtype), (unsigned long long)OT(c, 0)->bytes);
        c->d->kind = GN_OPK_RESHAPE;
        c->d->u.view.bytes = IT(c, 0)->bytes;
        return 0;
    }
    if (is_strided_fn(fn) ||
        (strcmp(fn, "expand") == 0 && !float_ok(c, IT(c, 0)->dtype) && (c->feats & GN_OPCHECK_VIEW_ARGS)))
        return check_strided(c, fn);
    if (!is_view_fn(fn)) /* before the dtypes */
        return unknown_view_fn(c, fn);
    if ((rc = all_f32(c, 0, 1)))
        return rc;
    return check_view_fn(c, fn);
}

static int check_concat(chk *c)
{
    int rc = arity(c, 1, UINT32_MAX, 1);
    if (rc)
        return rc;
    const gn_tensor *o = OT(c, 0);
    int d = norm_dim(attr_i(c, "dim", 0), o->ndim);
    if (d < 0)
        return fail(c, GN_EINVAL, "dim out of range for %u dims", o->ndim);
    int64_t inner = inner_of(o, d), sum = 0;
    for (uint32_t k = 0; k < c->n->nin; k++) {
        const gn_tensor *t = IT(c, k);
        if (t->ndim == 1 && t->shape[0] == 0)
            continue; /* torch.cat skips a 1-D empty tensor of any dtype (a first KV-cache append) */
        if (t->dtype != o->dtype || t->ndim != o->ndim)
            return fail(c, GN_EINVAL, "input %u differs from the output in dtype or rank", k);
        for (uint32_t i = 0; i < o->ndim; i++)
            if ((int)i != d && t->shape[i] != o->shape[i])
                return fail(c, GN_EINVAL, "input %u differs from the output in dim %u", k, i);
        sum += t->shape[d];
    }
    if (sum != o->shape[d])
        return fail(c, GN_EINVAL, "inputs add up to %lld along dim %d, output has %lld", (long long)sum, d,
                    (long long)o->shape[d]);
    c->d->u.concat.dim = d;
    c->d->u.concat.inner = inner;
    c->d->u.concat.outer = (o->shape[d] * inner) != 0 ? numel(o) / (o->shape[d] * inner) : 0;
    c->d->u.concat.es = gn_dtype_size(o->dtype);
    return 0;
}

/* ========================== index and fill ========================== */

static int check_index(chk *c)
{
    const char *fn = attr_s(c, "fn");
    if (fn && strcmp(fn, "upsample_nearest") == 0) {
        int rc = arity(c, 1, 1, 1);
        if (rc || (rc = all_f32(c, 0, 1)))
            return rc;
        const gn_tensor *x = IT(c, 0), *o = OT(c, 0);
        if (x->ndim != 4 || o->ndim != 4 || o->shape[0] != x->shape[0] || o->shape[1] != x->shape[1])
            return fail(c, GN_EINVAL, "upsample_nearest: [N, C, H, W] -> [N, C, Ho, Wo]");
        c->d->kind = GN_OPK_UPSAMPLE;
        c->d->u.index.NC = x->shape[0] * x->shape[1];
        c->d->u.index.H = x->shape[2];
        c->d->u.index.W = x->shape[3];
        c->d->u.index.Ho = o->shape[2];
        c->d->u.index.Wo = o->shape[3];
        return 0;
    }
    if (fn && strcmp(fn, "isin") == 0) { /* x, test (any castable dtypes) -> bool of x's shape */
        int rc = arity(c, 2, 2, 1);
        if (rc)
            return rc;
        const gn_tensor *x = IT(c, 0), *t = IT(c, 1), *o = OT(c, 0);
        if (!castable(c, x->dtype) || !castable(c, t->dtype) || o->dtype != GN_DTYPE_BOOL || numel(o) != numel(x))
            return fail(c, GN_EINVAL, "isin: elements and test elements of castable dtypes, a bool output of the "
                        "elements' shape");
        if (!(c->feats & GN_OPCHECK_NUMERIC))
            return fail(c, GN_EUNSUPPORTED, "isin is not supported by the %s executor", c->executor);
        c->d->kind = GN_OPK_ISIN;
        c->d->u.index.n = numel(x);
        c->d->u.index.m = numel(t);
        c->d->u.index.invert = attr_b(c, "invert", 0);
        c->d->u.index.xt = num_of(x->dtype);
        c->d->u.index.tt = num_of(t->dtype);
        return 0;
    }
    if (fn && strcmp(fn, "gather") != 0 && strcmp(fn, "index_select") != 0)
        return fail(c, GN_EUNSUPPORTED, "fn \"%s\" (expected gather, index_select, upsample_nearest or isin)", fn);
    int rc = arity(c, 2, 2, 1);
    if (rc)
        return rc;
    const gn_tensor *x = IT(c, 0), *ix = IT(c, 1), *o = OT(c, 0);
    if (!is_index_dtype(ix->dtype) || o->dtype != x->dtype || x->ndim == 0)
        return fail(c, GN_EINVAL, "inputs: source, then indices (i64/i32); output of the source's dtype");
    int d = norm_dim(attr_i(c, "dim", 0), x->ndim);
    if (d < 0)
        return fail(c, GN_EINVAL, "dim out of range for %u dims", x->ndim);
    int64_t len = x->shape[d], inner = inner_of(x, d);
    int64_t outer = (len * inner) != 0 ? numel(x) / (len * inner) : 0;
    int select = ix->ndim == 1 && !(fn && strcmp(fn, "gather") == 0);
    if ((rc = check_ids(c, 1, len, d)))
        return rc;
    c->d->u.index.dim = d;
    c->d->u.index.outer = outer;
    c->d->u.index.len = len;
    c->d->u.index.inner = inner;
    c->d->u.index.n = numel(ix);
    c->d->u.index.es = gn_dtype_size(x->dtype);
    c->d->u.index.ids64 = ix->dtype == GN_DTYPE_I64;
    if (select) { /* out = x.index_select(d, ix) */
        int64_t m = numel(ix);
        if (numel(o) != outer * m * inner)
            return fail(c, GN_EINVAL, "index_select: output must have %lld elements", (long long)(outer * m * inner));
        c->d->kind = GN_OPK_INDEX_SELECT;
        c->d->u.index.m = m;
        return 0;
    }
    /* torch.gather: out has the indices' shape; out[.., j, ..] = x[.., ix[.., j, ..], ..] */
    if (ix->ndim != x->ndim || numel(o) != numel(ix))
        return fail(c, GN_EINVAL, "gather: indices must have the source's rank and the output their shape");
    for (uint32_t i = 0; i < x->ndim; i++)
        if ((int)i != d && ix->shape[i] > x->shape[i])
            return fail(c, GN_EINVAL, "gather: indices exceed the source in dim %u", i);
    c->d->kind = GN_OPK_GATHER;
    c->d->u.index.m = ix->shape[d];
    return 0;
}

static int check_fill(chk *c)
{
    int rc = arity(c, 0, 0, 1);
    if (rc)
        return rc;
    const gn_tensor *o = OT(c, 0);
    const char *fn = attr_s(c, "fn");
    if (!castable(c, o->dtype))
        return fail(c, GN_EUNSUPPORTED, "output dtype %s (not supported by the %s executor)", gn_dtype_name(o->dtype),
                    c->executor);
    double v = 0.0, start = 0.0, step = 1.0;
    int arange = 0;
    if (!fn || strcmp(fn, "zeros") == 0)
        v = 0.0;
    else if (strcmp(fn, "ones") == 0)
        v = 1.0;
    else if (strcmp(fn, "zero_") == 0)
        v = 0.0;
    else if (strcmp(fn, "full") == 0 || strcmp(fn, "fill_") == 0 || strcmp(fn, "fill") == 0) {
        if (!attr_is_num(c, "value"))
            return fail(c, GN_EINVAL, "%s needs attrs.value", fn);
        v = attr_f(c, "value", 0.0);
    }
    else if (strcmp(fn, "arange") == 0) {
        start = attr_f(c, "start", 0.0), step = attr_f(c, "step", 1.0);
        arange = 1;
    } else
        return fail(c, GN_EUNSUPPORTED, "fn \"%s\" (expected zeros, ones, full, fill_, zero_ or arange)", fn);
    c->d->u.fill.n = numel(o);
    c->d->u.fill.last = o->ndim ? o->shape[o->ndim - 1] : 1;
    c->d->u.fill.arange = arange;
    c->d->u.fill.to = num_of(o->dtype);
    c->d->u.fill.v = v;
    c->d->u.fill.start = start;
    c->d->u.fill.step = step;
    return 0;
}

/* ========================== convolution and pooling ========================== */

/* x [N, C, H, W], w [O, C/groups, kh, kw], bias [O] -> [N, O, Ho, Wo]. */
static int check_conv2d(chk *c)
{
    int rc = arity(c, 2, 3, 1);
    if (rc || (rc = all_f32(c, 0, c->n->nin)))
        return rc;
    const gn_tensor *x = IT(c, 0), *w = IT(c, 1), *o = OT(c, 0);
    if (x->ndim != 4 || w->ndim != 4 || o->ndim != 4)
        return fail(c, GN_EINVAL, "input, weight and output must be 4-D (NCHW, OIHW)");
    int64_t st[2], pad[2], dil[2], G = attr_i(c, "groups", 1);
    attr_pair(c, "stride", 1, st);
    attr_pair(c, "padding", 0, pad);
    attr_pair(c, "dilation", 1, dil);
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t O = w->shape[0], Cg = w->shape[1], kh = w->shape[2], kw = w->shape[3];
    if (G < 1 || C % G || O % G || Cg != C / G || st[0] < 1 || st[1] < 1 || pad[0] < 0 || pad[1] < 0 ||
        dil[0] < 1 || dil[1] < 1)
        return fail(c, GN_EINVAL, "weight [%lld, %lld, ...] does not fit %lld channels in %lld groups, or bad "
                    "stride/padding", (long long)O, (long long)Cg, (long long)C, (long long)G);
    int64_t Ho = (H + 2 * pad[0] - dil[0] * (kh - 1) - 1) / st[0] + 1;
    int64_t Wo = (W + 2 * pad[1] - dil[1] * (kw - 1) - 1) / st[1] + 1;
    if (o->shape[0] != N || o->shape[1] != O || o->shape[2] != Ho || o->shape[3] != Wo)
        return fail(c, GN_EINVAL, "output must be [%lld, %lld, %lld, %lld]", (long long)N, (long long)O,
                    (long long)Ho, (long long)Wo);
    if (c->n->nin == 3 && numel(IT(c, 2)) != O)
        return fail(c, GN_EINVAL, "bias must have %lld elements", (long long)O);
    int64_t Og = O / G, KK = Cg * kh * kw, S = Ho * Wo;
    if (!fits_int(Og, S, KK))
        return fail(c, GN_EUNSUPPORTED, "dims beyond the 32-bit range of BLAS");
    __typeof__(c->d->u.conv2d) *p = &c->d->u.conv2d;
    p->N = N, p->C = C, p->H = H, p->W = W;
    p->O = O, p->Cg = Cg, p->kh = kh, p->kw = kw;
    p->G = G, p->Og = Og;
    memcpy(p->st, st, sizeof(st));
    memcpy(p->pad, pad, sizeof(pad));
    memcpy(p->dil, dil, sizeof(dil));
    p->Ho = Ho, p->Wo = Wo, p->S = S, p->KK = KK;
    p->direct = kh == 1 && kw == 1 && st[0] == 1 && st[1] == 1 && pad[0] == 0 && pad[1] == 0;
    p->bias = c->n->nin == 3;
    return 0;
}

/* x [N, C, H, W] -> [N, C, Ho, Wo] [, indices (max: aten's max_pool2d_with_indices)]. */
static int check_pool2d(chk *c)
{
    int rc = arity(c, 1, 1, 0);
    if (rc || (rc = floats(c, 0, 1, 1)))
        return rc;
    const gn_tensor *x = IT(c, 0), *o = OT(c, 0);
    const char *fn = attr_s(c, "fn");
    int mx = fn && strcmp(fn, "max") == 0;
    if (!fn || (!mx && strcmp(fn, "avg") != 0))
        return fail(c, GN_EUNSUPPORTED, "fn \"%s\" (expected max or avg)", fn ? fn : "");
    if (c->n->nout > 2 || (c->n->nout == 2 && !mx))
        return fail(c, GN_EINVAL, "expected 1 output (2 for max: the result, then its indices), got %u", c->n->nout);
    if (c->n->nout == 2 && !(c->feats & GN_OPCHECK_AUX_OUTPUTS))
        return fail(c, GN_EUNSUPPORTED, "the indices output is not computed by the %s executor", c->executor);
    if (c->n->nout == 2 && (!is_index_dtype(OT(c, 1)->dtype) || numel(OT(c, 1)) != numel(o)))
        return fail(c, GN_EINVAL, "indices (output 1) must be i64 or i32 with the result's shape");
    if (x->ndim != 4 || o->ndim != 4 || o->shape[0] != x->shape[0] || o->shape[1] != x->shape[1])
        return fail(c, GN_EINVAL, "input and output must be [N, C, H, W] with the same N and C");
    int64_t NC = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3], Ho = o->shape[2], Wo = o->shape[3];
    int adaptive = attr_b(c, "adaptive", 0);
    int64_t k[2], st[2], pad[2];
    attr_pair(c, "kernel", 1, k);
    attr_pair(c, "stride", 0, st);
    attr_pair(c, "padding", 0, pad);
    if (!adaptive) {
        int64_t dil[2];
        attr_pair(c, "dilation", 1, dil);
        if (dil[0] != 1 || dil[1] != 1)
            return fail(c, GN_EUNSUPPORTED, "dilated pooling");
        if (attr(c, "divisor_override") || (!mx && !attr_b(c, "count_include_pad", 1) && (pad[0] || pad[1])))
            return fail(c, GN_EUNSUPPORTED, "avg pooling with divisor_override or count_include_pad false");
        if (st[0] == 0)
            st[0] = k[0];
        if (st[1] == 0)
            st[1] = k[1];
        if (k[0] < 1 || k[1] < 1 || st[0] < 1 || st[1] < 1 || pad[0] < 0 || pad[1] < 0 ||
            Ho != (H + 2 * pad[0] - k[0]) / st[0] + 1 || Wo != (W + 2 * pad[1] - k[1]) / st[1] + 1)
            return fail(c, attr_b(c, "ceil_mode", 0) ? GN_EUNSUPPORTED : GN_EINVAL,
                        attr_b(c, "ceil_mode", 0) ? "ceil_mode: output %lldx%lld ends with partial windows" : "output %lldx%lld does not follow kernel, stride and padding", (long long)Ho,
                        (long long)Wo);
    } else if (Ho < 1 || Wo < 1) {
        return fail(c, GN_EINVAL, "adaptive pooling to an empty output");
    }
    __typeof__(c->d->u.pool2d) *p = &c->d->u.pool2d;
    p->NC = NC, p->H = H, p->W = W, p->Ho = Ho, p->Wo = Wo;
    memcpy(p->k, k, sizeof(k));
    memcpy(p->st, st, sizeof(st));
    memcpy(p->pad, pad, sizeof(pad));
    p->adaptive = adaptive;
    p->mx = mx;
    p->indices = c->n->nout == 2;
    return 0;
}

/* ========================== interaction ========================== */

/* F features [B, D] (dense first) -> [B, D + F(F-1)/2] (+ F(F+1)/2 with self). */
static int check_interaction(chk *c)
{
    int rc = arity(c, 1, UINT32_MAX, 1);
    if (rc || (rc = all_f32(c, 0, c->n->nin)))
        return rc;
    const gn_tensor *f0 = IT(c, 0), *o = OT(c, 0);
    int self = attr_b(c, "self", 0);
    int64_t F = c->n->nin;
    if (f0->ndim != 2)
        return fail(c, GN_EINVAL, "features must be [B, D]");
    int64_t B = f0->shape[0], D = f0->shape[1], W = D + (self ? F * (F + 1) / 2 : F * (F - 1) / 2);
    for (uint32_t k = 1; k < c->n->nin; k++)
        if (IT(c, k)->ndim != 2 || IT(c, k)->shape[0] != B || IT(c, k)->shape[1] != D)
            return fail(c, GN_EINVAL, "feature %u is not [%lld, %lld]", k, (long long)B, (long long)D);
    if (o->ndim != 2 || o->shape[0] != B || o->shape[1] != W)
        return fail(c, GN_EINVAL, "output must be [%lld, %lld]", (long long)B, (long long)W);
    c->d->u.interaction.B = B;
    c->d->u.interaction.D = D;
    c->d->u.interaction.F = F;
    c->d->u.interaction.W = W;
    c->d->u.interaction.self = self;
    return 0;
}

/* ========================== API ========================== */

int gn_opcheck_node(const gn_graph *g, uint32_t id, const char *executor, unsigned feats, gn_opcheck_host_fn host,
                    void *arg, gn_opdesc *d, gn_error *err)
{
    if (id >= gn_graph_nnodes(g))
        return gn_error_set(err, GN_EINVAL, "nodes[%u]: no such node (%u nodes)", id, gn_graph_nnodes(g));
    chk c = {.g = g, .id = id, .n = gn_graph_node(g, id), .tin = gn_graph_node_inputs(g, id),
             .tout = gn_graph_node_outputs(g, id), .executor = executor, .feats = feats, .host = host, .arg = arg, .d = d,
             .err = err};
    memset(d, 0, sizeof(*d));
    d->g = g;
    d->id = id;
    d->node = c.n;
    d->tin = c.tin;
    d->tout = c.tout;
    d->op = c.n->op;
    switch (c.n->op) {
    case GN_OP_MATMUL: return check_matmul(&c);
    case GN_OP_CONV2D: return check_conv2d(&c);
    case GN_OP_POOL2D: return check_pool2d(&c);
    case GN_OP_LAYER_NORM: return check_norm(&c, 0);
    case GN_OP_RMS_NORM: return check_norm(&c, 1);
    case GN_OP_BATCH_NORM: return check_batch_norm(&c);
    case GN_OP_GROUP_NORM: return check_group_norm(&c);
    case GN_OP_SOFTMAX: return check_softmax(&c);
    case GN_OP_ATTENTION: return check_attention(&c);
    case GN_OP_EMBEDDING: return check_embedding(&c, 0);
    case GN_OP_EMBEDDING_BAG: return check_embedding(&c, 1);
    case GN_OP_ELEMENTWISE: return check_elementwise(&c);
    case GN_OP_REDUCTION: return check_reduction(&c);
    case GN_OP_VIEW: return check_view(&c, 0);
    case GN_OP_COPY: return check_view(&c, 1);
    case GN_OP_CONCAT: return check_concat(&c);
    case GN_OP_INDEX: return check_index(&c);
    case GN_OP_FILL: return check_fill(&c);
    case GN_OP_INTERACTION: return check_interaction(&c);
    default: {
        const char *name = c.n->op == GN_OP_OPAQUE ? attr_s(&c, "name") : NULL;
        return fail(&c, GN_EUNSUPPORTED, "not run by the %s executor%s%s", executor, name ? ": " : "",
                    name ? name : "");
    }
    }
}
