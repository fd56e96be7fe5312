/*
 * exec_cpu.c — the CPU executor: the numerical reference (issue 4).
 *
 * Every op of the trace vocabulary that the generators emit is run here on
 * fp32 tensors (ids and argmax results in i64 or i32), interpreting the
 * node from its op, attrs and tensor shapes alone.  real/EXECUTOR.md is the
 * page that fixes each op's semantics and input order; this file follows
 * it op by op.
 *
 * Design:
 *   - Buffers are plain host memory (64-byte aligned, zeroed); upload and
 *     download are memcpy.
 *   - Matrix products go to BLAS (cblas_sgemm from OpenBLAS) when the build
 *     found it (GN_HAVE_CBLAS), else to a cache-friendly i-k-j loop; matmul,
 *     attention (QKᵀ and PV per head) and conv2d (im2col) all use gemm().
 *   - The only memory `run` takes is the executor's scratch, kept between
 *     calls and grown when a node needs more (STYLE rule 10).
 *   - Reductions (norm statistics, softmax sums, dot products outside BLAS)
 *     accumulate in double, in a fixed order: runs are bit-reproducible.
 *   - Bad shapes or attrs are GN_EINVAL and ops, fns or dtypes outside the
 *     supported set GN_EUNSUPPORTED, both with a message
 *     "nodes[ID]: OP (module M): what is wrong".
 */
#include "executor.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef GN_HAVE_CBLAS
#include <cblas.h>
#endif

/* ========================== types ========================== */

typedef struct cpu {
    float *scratch;     /* reusable work area */
    size_t cap;         /* capacity of scratch, floats */
} cpu;

/* Everything one run call looks at. */
typedef struct ctx {
    cpu *ex;
    const gn_graph *g;
    uint32_t id;               /* node id */
    const gn_node *n;
    const uint32_t *tin;       /* input tensor ids */
    const uint32_t *tout;      /* output tensor ids */
    void *const *in;           /* input buffers */
    void *const *out;          /* output buffers */
    gn_error *err;
} ctx;

/* ========================== private helpers ========================== */

static int fail(ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(ctx *c, int code, const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return gn_error_set(c->err, code, "nodes[%u]: %s (module %s): %s", c->id, gn_op_name(c->n->op),
                        c->n->module ? c->n->module : "-", buf);
}

static const gn_tensor *IT(ctx *c, uint32_t k)
{
    return gn_graph_tensor(c->g, c->tin[k]);
}

static const gn_tensor *OT(ctx *c, uint32_t k)
{
    return gn_graph_tensor(c->g, c->tout[k]);
}

static const float *FI(ctx *c, uint32_t k)
{
    return (const float *)c->in[k];
}

static float *FO(ctx *c, uint32_t k)
{
    return (float *)c->out[k];
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

static json_t *attr(ctx *c, const char *key)
{
    return c->n->attrs ? json_object_get(c->n->attrs, key) : NULL;
}

static int64_t attr_i(ctx *c, const char *key, int64_t def)
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
static void attr_pair(ctx *c, const char *key, int64_t def, int64_t out[2])
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

static double attr_f(ctx *c, const char *key, double def)
{
    json_t *v = attr(c, key);
    return json_is_number(v) ? json_number_value(v) : def;
}

static const char *attr_s(ctx *c, const char *key)
{
    json_t *v = attr(c, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int attr_b(ctx *c, const char *key, int def)
{
    return attr_i(c, key, def) != 0;
}

/* Checks arity: NIN_LO..NIN_HI inputs and NOUT outputs (0 = any >= 1). */
static int arity(ctx *c, uint32_t lo, uint32_t hi, uint32_t nout)
{
    if (c->n->nin < lo || c->n->nin > hi)
        return fail(c, GN_EINVAL, "expected %u..%u inputs, got %u", lo, hi, c->n->nin);
    if (nout && c->n->nout != nout)
        return fail(c, GN_EINVAL, "expected %u output(s), got %u", nout, c->n->nout);
    return 0;
}

/* Every input in [FROM, TO) and every output is f32. */
static int all_f32(ctx *c, uint32_t from, uint32_t to)
{
    for (uint32_t k = from; k < to && k < c->n->nin; k++)
        if (IT(c, k)->dtype != GN_DTYPE_F32)
            return fail(c, GN_EUNSUPPORTED, "input %u is %s (the CPU executor computes in f32)", k,
                        gn_dtype_name(IT(c, k)->dtype));
    for (uint32_t k = 0; k < c->n->nout; k++)
        if (OT(c, k)->dtype != GN_DTYPE_F32)
            return fail(c, GN_EUNSUPPORTED, "output %u is %s (the CPU executor computes in f32)", k,
                        gn_dtype_name(OT(c, k)->dtype));
    return 0;
}

static int is_index_dtype(gn_dtype dt)
{
    return dt == GN_DTYPE_I64 || dt == GN_DTYPE_I32;
}

static int64_t load_index(const void *p, gn_dtype dt, int64_t i)
{
    return dt == GN_DTYPE_I64 ? ((const int64_t *)p)[i] : ((const int32_t *)p)[i];
}

static void store_index(void *p, gn_dtype dt, int64_t i, int64_t v)
{
    if (dt == GN_DTYPE_I64)
        ((int64_t *)p)[i] = v;
    else
        ((int32_t *)p)[i] = (int32_t)v;
}

/* Scratch of N floats, grown (never shrunk) as needed; NULL when out of
 * memory (ERR set). */
static float *scratch(ctx *c, size_t n)
{
    cpu *ex = c->ex;
    if (n > ex->cap) {
        size_t cap = ex->cap ? ex->cap : 1024;
        while (cap < n)
            cap *= 2;
        float *p = realloc(ex->scratch, cap * sizeof(float));
        if (!p) {
            fail(c, GN_ENOMEM, "cannot grow scratch to %zu floats", cap);
            return NULL;
        }
        ex->scratch = p;
        ex->cap = cap;
    }
    return ex->scratch;
}

/* Normalises a possibly negative DIM of an NDIM tensor; -1 when out of range. */
static int norm_dim(int64_t dim, uint32_t ndim)
{
    if (dim < 0)
        dim += ndim;
    return dim < 0 || dim >= (int64_t)ndim ? -1 : (int)dim;
}

/*
 * C[M,N] = alpha · A[M,K] · op(B) + beta · C, row-major; op(B) = B[K,N], or
 * Bᵀ where B is [N,K] when TB.  The caller checks the sizes fit in int.
 */
static void gemm(int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                 const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    if (M == 0 || N == 0)
        return;
#ifdef GN_HAVE_CBLAS
    cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha,
                A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
#else
    for (int64_t i = 0; i < M; i++) {
        float *ci = C + i * ldc;
        for (int64_t j = 0; j < N; j++)
            ci[j] = beta == 0.0f ? 0.0f : beta * ci[j];
        if (tb) {
            for (int64_t j = 0; j < N; j++) {
                const float *bj = B + j * ldb, *ai = A + i * lda;
                float s = 0.0f;
                for (int64_t k = 0; k < K; k++)
                    s += ai[k] * bj[k];
                ci[j] += alpha * s;
            }
        } else {
            for (int64_t k = 0; k < K; k++) {
                float a = alpha * A[i * lda + k];
                const float *bk = B + k * ldb;
                for (int64_t j = 0; j < N; j++)
                    ci[j] += a * bk[j];
            }
        }
    }
#endif
}

static int fits_int(int64_t a, int64_t b, int64_t c2)
{
    return a <= INT32_MAX && b <= INT32_MAX && c2 <= INT32_MAX;
}

/* ========================== matmul ========================== */

static int op_matmul(ctx *c)
{
    int rc = arity(c, 2, 3, 1);
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
    float *out = FO(c, 0);
    float beta = 0.0f;
    if (c->n->nin == 3) {
        const float *bias = FI(c, 2);
        for (int64_t r = 0; r < ba * M; r++)
            memcpy(out + r * N, bias, (size_t)N * sizeof(float));
        beta = 1.0f;
    }
    if (K == 0) {
        if (c->n->nin != 3)
            memset(out, 0, (size_t)numel(o) * sizeof(float));
        return 0;
    }
    if (bw == 1)
        gemm(tb, ba * M, N, K, 1.0f, FI(c, 0), K, FI(c, 1), tb ? K : N, beta, out, N);
    else
        for (int64_t b = 0; b < ba; b++)
            gemm(tb, M, N, K, 1.0f, FI(c, 0) + b * M * K, K, FI(c, 1) + b * K * N, tb ? K : N, beta,
                 out + b * M * N, N);
    return 0;
}

/* ========================== normalisation ========================== */

static int op_norm(ctx *c, int rms)
{
    int rc = arity(c, 1, rms ? 2 : 3, 1);
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
    double eps = attr_f(c, "eps", 1e-5);
    const float *w = c->n->nin > 1 ? FI(c, 1) : NULL, *b = c->n->nin > 2 ? FI(c, 2) : NULL;
    for (int64_t r = 0; r < rows; r++) {
        const float *xi = FI(c, 0) + r * D;
        float *yi = FO(c, 0) + r * D;
        double mean = 0.0, var = 0.0;
        if (!rms) {
            for (int64_t j = 0; j < D; j++)
                mean += xi[j];
            mean /= (double)D;
        }
        for (int64_t j = 0; j < D; j++)
            var += ((double)xi[j] - mean) * ((double)xi[j] - mean);
        float inv = (float)(1.0 / sqrt(var / (double)D + eps));
        for (int64_t j = 0; j < D; j++) {
            float v = (float)((double)xi[j] - mean) * inv;
            if (w)
                v *= w[j];
            if (b)
                v += b[j];
            yi[j] = v;
        }
    }
    return 0;
}

/* inputs: x [N, C, ...], then optional weight, bias, running_mean,
 * running_var [C] each. */
static int op_batch_norm(ctx *c)
{
    int rc = arity(c, 1, 5, 1);
    if (rc || (rc = all_f32(c, 0, c->n->nin)))
        return rc;
    const gn_tensor *x = IT(c, 0);
    if (x->ndim < 2 || numel(OT(c, 0)) != numel(x))
        return fail(c, GN_EINVAL, "input 0 needs [N, C, ...] and the output its size");
    int64_t N = x->shape[0], C = x->shape[1], S = (N * C) != 0 ? numel(x) / (N * C) : 0;
    for (uint32_t k = 1; k < c->n->nin; k++)
        if (numel(IT(c, k)) != C)
            return fail(c, GN_EINVAL, "input %u has %lld elements, expected C=%lld", k,
                        (long long)numel(IT(c, k)), (long long)C);
    double eps = attr_f(c, "eps", 1e-5);
    uint32_t nin = c->n->nin;
    for (int64_t ch = 0; ch < C; ch++) {
        double w = nin > 1 ? FI(c, 1)[ch] : 1.0, b = nin > 2 ? FI(c, 2)[ch] : 0.0;
        double mean = nin > 3 ? FI(c, 3)[ch] : 0.0, var = nin > 4 ? FI(c, 4)[ch] : 1.0;
        float scale = (float)(w / sqrt(var + eps)), shift = (float)(b - mean * w / sqrt(var + eps));
        for (int64_t n = 0; n < N; n++) {
            const float *xi = FI(c, 0) + (n * C + ch) * S;
            float *yi = FO(c, 0) + (n * C + ch) * S;
            for (int64_t s = 0; s < S; s++)
                yi[s] = xi[s] * scale + shift;
        }
    }
    return 0;
}

/* ========================== softmax and attention ========================== */

/* Softmax of X[0..n) in place over the first LIM entries; the rest 0. */
static void softmax_row(float *x, int64_t n, int64_t lim, int64_t stride)
{
    float m = -INFINITY;
    for (int64_t j = 0; j < lim; j++)
        if (x[j * stride] > m)
            m = x[j * stride];
    double s = 0.0;
    for (int64_t j = 0; j < lim; j++) {
        float e = expf(x[j * stride] - m);
        x[j * stride] = e;
        s += e;
    }
    float inv = (float)(1.0 / s);
    for (int64_t j = 0; j < lim; j++)
        x[j * stride] *= inv;
    for (int64_t j = lim; j < n; j++)
        x[j * stride] = 0.0f;
}

static int op_softmax(ctx *c)
{
    int rc = arity(c, 1, 1, 1);
    if (rc || (rc = all_f32(c, 0, 1)))
        return rc;
    const gn_tensor *x = IT(c, 0);
    if (numel(OT(c, 0)) != numel(x))
        return fail(c, GN_EINVAL, "output and input differ in size");
    if (x->ndim == 0) {
        FO(c, 0)[0] = 1.0f;
        return 0;
    }
    int d = norm_dim(attr_i(c, "dim", -1), x->ndim);
    if (d < 0)
        return fail(c, GN_EINVAL, "dim %lld out of range for %u dims", (long long)attr_i(c, "dim", -1), x->ndim);
    int64_t len = x->shape[d], inner = 1;
    for (uint32_t i = (uint32_t)d + 1; i < x->ndim; i++)
        inner *= x->shape[i];
    int64_t outer = (len * inner) != 0 ? numel(x) / (len * inner) : 0;
    memcpy(FO(c, 0), FI(c, 0), (size_t)numel(x) * sizeof(float));
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            softmax_row(FO(c, 0) + o * len * inner + i, len, len, inner);
    return 0;
}

/* q [B, H, T, dh], k and v [B, KV, Tk, dh] -> out [B, H, T, dh]. */
static int op_attention(ctx *c)
{
    int rc = arity(c, 3, 3, 1);
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
    if (causal && off < 0)
        return fail(c, GN_EINVAL, "causal attention with more queries (%lld) than keys (%lld)", (long long)T,
                    (long long)Tk);
    if (!fits_int(T, Tk, dh))
        return fail(c, GN_EUNSUPPORTED, "dims beyond the 32-bit range of BLAS");
    if (T == 0 || dh == 0)
        return 0;
    if (Tk == 0) {
        memset(FO(c, 0), 0, (size_t)numel(o) * sizeof(float));
        return 0;
    }
    float scale = (float)attr_f(c, "scale", 1.0 / sqrt((double)dh));
    float *S = scratch(c, (size_t)(T * Tk));
    if (!S)
        return GN_ENOMEM;
    int64_t group = H / KV;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++) {
            const float *Q = FI(c, 0) + (b * H + h) * T * dh;
            const float *K = FI(c, 1) + (b * KV + h / group) * Tk * dh;
            const float *V = FI(c, 2) + (b * KV + h / group) * Tk * dh;
            gemm(1, T, Tk, dh, scale, Q, dh, K, dh, 0.0f, S, Tk);
            for (int64_t t = 0; t < T; t++)
                softmax_row(S + t * Tk, Tk, causal ? off + t + 1 : Tk, 1);
            gemm(0, T, dh, Tk, 1.0f, S, Tk, V, dh, 0.0f, FO(c, 0) + (b * H + h) * T * dh, dh);
        }
    return 0;
}

/* ========================== embeddings ========================== */

/* inputs: weight [V, d], ids (i64/i32, any shape) -> [ids..., d]. */
static int op_embedding(ctx *c, int bag)
{
    int rc = arity(c, 2, 2, 1);
    if (rc || (rc = all_f32(c, 0, 1)))
        return rc;
    const gn_tensor *w = IT(c, 0), *ids = IT(c, 1), *o = OT(c, 0);
    if (w->ndim != 2 || !is_index_dtype(ids->dtype))
        return fail(c, GN_EINVAL, "inputs must be weight [V, d] (f32) then ids (i64 or i32)");
    int64_t V = w->shape[0], d = w->shape[1], n = numel(ids);
    const char *mode = bag ? attr_s(c, "mode") : NULL;
    int mean = mode && strcmp(mode, "mean") == 0, mx = mode && strcmp(mode, "max") == 0;
    if (bag && mode && !mean && !mx && strcmp(mode, "sum") != 0)
        return fail(c, GN_EUNSUPPORTED, "mode \"%s\" (expected sum, mean or max)", mode);
    if (bag && !mode)
        mean = 1; /* torch's default */
    int64_t bags = bag ? (ids->ndim == 2 ? ids->shape[0] : 1) : n, per = bag ? (bags ? n / bags : 0) : 1;
    if (bag && ids->ndim != 2 && ids->ndim != 1)
        return fail(c, GN_EINVAL, "ids must be [B, pooling] (or 1-D: one bag)");
    if (numel(o) != bags * d || dim_from_end(o, 1) != d)
        return fail(c, GN_EINVAL, "output has %lld elements, expected %lld x %lld", (long long)numel(o),
                    (long long)bags, (long long)d);
    for (int64_t i = 0; i < n; i++) {
        int64_t r = load_index(c->in[1], ids->dtype, i);
        if (r < 0 || r >= V)
            return fail(c, GN_EINVAL, "index %lld at position %lld out of range [0, %lld)", (long long)r,
                        (long long)i, (long long)V);
    }
    float *out = FO(c, 0);
    for (int64_t bi = 0; bi < bags; bi++) {
        float *y = out + bi * d;
        if (!bag) {
            memcpy(y, FI(c, 0) + load_index(c->in[1], ids->dtype, bi) * d, (size_t)d * sizeof(float));
            continue;
        }
        for (int64_t j = 0; j < d; j++)
            y[j] = mx && per ? -INFINITY : 0.0f;
        for (int64_t p = 0; p < per; p++) {
            const float *row = FI(c, 0) + load_index(c->in[1], ids->dtype, bi * per + p) * d;
            for (int64_t j = 0; j < d; j++)
                y[j] = mx ? fmaxf(y[j], row[j]) : y[j] + row[j];
        }
        if (mean && per)
            for (int64_t j = 0; j < d; j++)
                y[j] /= (float)per;
    }
    return 0;
}

/* ========================== elementwise ========================== */

typedef enum efn {
    E_ADD, E_SUB, E_MUL, E_DIV, E_MAX, E_MIN,                  /* binary */
    E_RELU, E_GELU, E_GELU_ERF, E_SILU, E_SIGMOID, E_TANH, E_NEG, E_EXP, E_SQRT, E_RSQRT /* unary */
} efn;

static const struct {
    const char *name;
    efn fn;
} efns[] = {
    {"add", E_ADD}, {"sub", E_SUB}, {"mul", E_MUL}, {"div", E_DIV}, {"maximum", E_MAX}, {"minimum", E_MIN},
    {"relu", E_RELU}, {"gelu", E_GELU}, {"gelu_new", E_GELU}, {"gelu_tanh", E_GELU}, {"gelu_erf", E_GELU_ERF},
    {"silu", E_SILU}, {"sigmoid", E_SIGMOID}, {"tanh", E_TANH}, {"neg", E_NEG}, {"exp", E_EXP},
    {"sqrt", E_SQRT}, {"rsqrt", E_RSQRT},
};

static float unary(efn f, float x)
{
    switch (f) {
    case E_RELU: return x > 0.0f ? x : 0.0f;
    case E_GELU: /* GPT-2 "gelu_new": tanh approximation */
        return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case E_GELU_ERF: return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
    case E_SILU: return x / (1.0f + expf(-x));
    case E_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case E_TANH: return tanhf(x);
    case E_NEG: return -x;
    case E_EXP: return expf(x);
    case E_SQRT: return sqrtf(x);
    case E_RSQRT: return 1.0f / sqrtf(x);
    default: return x;
    }
}

static float binary(efn f, float a, float b)
{
    switch (f) {
    case E_ADD: return a + b;
    case E_SUB: return a - b;
    case E_MUL: return a * b;
    case E_DIV: return a / b;
    case E_MAX: return a > b ? a : b;
    default: return a < b ? a : b;
    }
}

/* Strides (elements) of T broadcast to the shape of O (numpy rules,
 * right-aligned); -1 when T does not broadcast. */
static int bcast_strides(const gn_tensor *t, const gn_tensor *o, int64_t st[GN_MAX_DIMS])
{
    if (t->ndim > o->ndim)
        return -1;
    int64_t s = 1;
    for (uint32_t i = 0; i < o->ndim; i++)
        st[i] = 0;
    for (uint32_t i = 1; i <= t->ndim; i++) {
        int64_t n = t->shape[t->ndim - i], m = o->shape[o->ndim - i];
        if (n != m && n != 1)
            return -1;
        st[o->ndim - i] = n == 1 ? 0 : s;
        s *= n;
    }
    return 0;
}

/* Calls back once per element of O with the offsets into A and B. */
static void bcast_binary(efn f, const gn_tensor *o, const float *a, const int64_t *sa, const float *b,
                         const int64_t *sb, float *y)
{
    int64_t idx[GN_MAX_DIMS] = {0}, oa = 0, ob = 0, n = numel(o);
    uint32_t nd = o->ndim;
    for (int64_t i = 0; i < n; i++) {
        y[i] = binary(f, a[oa], b[ob]);
        for (int d = (int)nd - 1; d >= 0; d--) {
            oa += sa[d];
            ob += sb[d];
            if (++idx[d] < o->shape[d])
                break;
            oa -= sa[d] * o->shape[d];
            ob -= sb[d] * o->shape[d];
            idx[d] = 0;
        }
    }
}

/* x [B, H, T, dh] with cos, sin [B or 1, T, dh] (or [T, dh]): HF LLaMA's
 * x·cos + rotate_half(x)·sin, rotate_half(x) = cat(-x2, x1). */
static int rotary(ctx *c)
{
    int rc = arity(c, 3, 3, 1);
    if (rc || (rc = all_f32(c, 0, 3)))
        return rc;
    const gn_tensor *x = IT(c, 0), *cs = IT(c, 1), *sn = IT(c, 2);
    if (x->ndim != 4 || numel(OT(c, 0)) != numel(x))
        return fail(c, GN_EINVAL, "rotary: input 0 must be [B, heads, T, head_dim] and the output its size");
    int64_t B = x->shape[0], H = x->shape[1], T = x->shape[2], dh = x->shape[3], half = dh / 2;
    if (dh % 2 || numel(cs) != numel(sn) || dim_from_end(cs, 1) != dh ||
        (numel(cs) != B * T * dh && numel(cs) != T * dh))
        return fail(c, GN_EINVAL, "rotary: cos and sin must be [B or 1, T, head_dim] with an even head_dim");
    int bcast = numel(cs) != B * T * dh || B == 1;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t t = 0; t < T; t++) {
                const float *xi = FI(c, 0) + ((b * H + h) * T + t) * dh;
                int64_t co = ((bcast ? 0 : b) * T + t) * dh;
                const float *ci = FI(c, 1) + co, *si = FI(c, 2) + co;
                float *y = FO(c, 0) + ((b * H + h) * T + t) * dh;
                for (int64_t j = 0; j < half; j++) {
                    y[j] = xi[j] * ci[j] - xi[j + half] * si[j];
                    y[j + half] = xi[j + half] * ci[j + half] + xi[j] * si[j + half];
                }
            }
    return 0;
}

/* positions [B, T] (i64/i32) -> cos, sin [B, T, dh], HF LLaMA's table in
 * fp32: inv_freq[i] = 1 / theta^(2i/dh), angle = pos · inv_freq[i mod dh/2]. */
static int rotary_table(ctx *c)
{
    int rc = arity(c, 1, 1, 2);
    if (rc)
        return rc;
    const gn_tensor *p = IT(c, 0), *co = OT(c, 0);
    if (!is_index_dtype(p->dtype) || co->dtype != GN_DTYPE_F32 || OT(c, 1)->dtype != GN_DTYPE_F32)
        return fail(c, GN_EUNSUPPORTED, "rotary_table: positions i64/i32 in, f32 cos and sin out");
    int64_t dh = dim_from_end(co, 1), n = numel(p);
    if (dh % 2 || numel(co) != n * dh || numel(OT(c, 1)) != n * dh)
        return fail(c, GN_EINVAL, "rotary_table: outputs must be [positions..., head_dim], head_dim even");
    float theta = (float)attr_f(c, "theta", 10000.0);
    for (int64_t i = 0; i < n; i++) {
        float pos = (float)load_index(c->in[0], p->dtype, i);
        for (int64_t j = 0; j < dh / 2; j++) {
            float inv = 1.0f / powf(theta, (float)(2 * j) / (float)dh);
            float a = pos * inv;
            FO(c, 0)[i * dh + j] = FO(c, 0)[i * dh + j + dh / 2] = cosf(a);
            FO(c, 1)[i * dh + j] = FO(c, 1)[i * dh + j + dh / 2] = sinf(a);
        }
    }
    return 0;
}

static double load_num(const void *p, gn_dtype dt, int64_t i)
{
    switch (dt) {
    case GN_DTYPE_F32: return ((const float *)p)[i];
    case GN_DTYPE_F64: return ((const double *)p)[i];
    case GN_DTYPE_I64: return (double)((const int64_t *)p)[i];
    case GN_DTYPE_I32: return ((const int32_t *)p)[i];
    default: return ((const uint8_t *)p)[i]; /* u8, bool */
    }
}

static void store_num(void *p, gn_dtype dt, int64_t i, double v)
{
    switch (dt) {
    case GN_DTYPE_F32: ((float *)p)[i] = (float)v; break;
    case GN_DTYPE_F64: ((double *)p)[i] = v; break;
    case GN_DTYPE_I64: ((int64_t *)p)[i] = (int64_t)v; break;
    case GN_DTYPE_I32: ((int32_t *)p)[i] = (int32_t)v; break;
    case GN_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0.0; break;
    default: ((uint8_t *)p)[i] = (uint8_t)v; break;
    }
}

static int castable(gn_dtype dt)
{
    return dt == GN_DTYPE_F32 || dt == GN_DTYPE_F64 || dt == GN_DTYPE_I64 || dt == GN_DTYPE_I32 ||
           dt == GN_DTYPE_U8 || dt == GN_DTYPE_BOOL;
}

static int op_elementwise(ctx *c)
{
    const char *fn = attr_s(c, "fn");
    if (!fn)
        return fail(c, GN_EINVAL, "attrs.fn missing");
    if (strcmp(fn, "rotary") == 0)
        return rotary(c);
    if (strcmp(fn, "rotary_table") == 0)
        return rotary_table(c);
    if (strcmp(fn, "cast") == 0) {
        int rc = arity(c, 1, 1, 1);
        if (rc)
            return rc;
        const gn_tensor *x = IT(c, 0), *o = OT(c, 0);
        if (!castable(x->dtype) || !castable(o->dtype))
            return fail(c, GN_EUNSUPPORTED, "cast from %s to %s", gn_dtype_name(x->dtype), gn_dtype_name(o->dtype));
        if (numel(x) != numel(o))
            return fail(c, GN_EINVAL, "cast changes the number of elements");
        for (int64_t i = 0; i < numel(x); i++)
            store_num(c->out[0], o->dtype, i, load_num(c->in[0], x->dtype, i));
        return 0;
    }
    size_t i, nf = sizeof(efns) / sizeof(efns[0]);
    for (i = 0; i < nf; i++)
        if (strcmp(efns[i].name, fn) == 0)
            break;
    if (i == nf)
        return fail(c, GN_EUNSUPPORTED, "fn \"%s\" (expected add, sub, mul, div, maximum, minimum, relu, gelu, "
                    "gelu_erf, silu, sigmoid, tanh, neg, exp, sqrt, rsqrt, cast, rotary or rotary_table)", fn);
    efn f = efns[i].fn;
    int bin = f <= E_MIN;
    int rc = arity(c, bin ? 2 : 1, bin ? 2 : 1, 1);
    if (rc || (rc = all_f32(c, 0, c->n->nin)))
        return rc;
    const gn_tensor *o = OT(c, 0);
    int64_t n = numel(o);
    if (!bin) {
        if (numel(IT(c, 0)) != n)
            return fail(c, GN_EINVAL, "input and output differ in size");
        const float *x = FI(c, 0);
        float *y = FO(c, 0);
        for (int64_t j = 0; j < n; j++)
            y[j] = unary(f, x[j]);
        return 0;
    }
    const float *a = FI(c, 0), *b = FI(c, 1);
    float *y = FO(c, 0);
    if (numel(IT(c, 0)) == n && numel(IT(c, 1)) == n) {
        for (int64_t j = 0; j < n; j++)
            y[j] = binary(f, a[j], b[j]);
        return 0;
    }
    int64_t sa[GN_MAX_DIMS], sb[GN_MAX_DIMS];
    if (bcast_strides(IT(c, 0), o, sa) != 0 || bcast_strides(IT(c, 1), o, sb) != 0)
        return fail(c, GN_EINVAL, "inputs do not broadcast to the output shape");
    bcast_binary(f, o, a, sa, b, sb, y);
    return 0;
}

/* ========================== reduction ========================== */

static int op_reduction(ctx *c)
{
    int rc = arity(c, 1, 1, 1);
    if (rc)
        return rc;
    const char *fn = attr_s(c, "fn");
    const gn_tensor *x = IT(c, 0), *o = OT(c, 0);
    int arg = fn && (strcmp(fn, "argmax") == 0 || strcmp(fn, "argmin") == 0);
    int isum = fn && strcmp(fn, "sum") == 0, imean = fn && strcmp(fn, "mean") == 0;
    int imax = fn && (strcmp(fn, "max") == 0 || strcmp(fn, "argmax") == 0);
    if (!fn || (!arg && !isum && !imean && !imax && strcmp(fn, "min") != 0))
        return fail(c, GN_EUNSUPPORTED, "fn \"%s\" (expected sum, mean, max, min, argmax or argmin)", fn ? fn : "");
    if (x->dtype != GN_DTYPE_F32 || (arg ? !is_index_dtype(o->dtype) : o->dtype != GN_DTYPE_F32))
        return fail(c, GN_EUNSUPPORTED, "input must be f32 and the output %s", arg ? "i64 or i32" : "f32");
    int64_t len, inner = 1;
    if (x->ndim == 0) {
        len = 1;
    } else {
        int d = norm_dim(attr_i(c, "dim", -1), x->ndim);
        if (d < 0)
            return fail(c, GN_EINVAL, "dim out of range for %u dims", x->ndim);
        len = x->shape[d];
        for (uint32_t i = (uint32_t)d + 1; i < x->ndim; i++)
            inner *= x->shape[i];
    }
    int64_t outer = (len * inner) != 0 ? numel(x) / (len * inner) : 0;
    if (numel(o) != outer * inner || (len == 0 && numel(o)))
        return fail(c, GN_EINVAL, "output has %lld elements, expected %lld", (long long)numel(o),
                    (long long)(outer * inner));
    for (int64_t a = 0; a < outer; a++)
        for (int64_t i = 0; i < inner; i++) {
            const float *p = FI(c, 0) + a * len * inner + i;
            double acc = 0.0;
            float best = p[0];
            int64_t bi = 0;
            for (int64_t j = 0; j < len; j++) {
                float v = p[j * inner];
                acc += v;
                if (imax ? v > best : v < best) { /* first extreme wins ties */
                    best = v;
                    bi = j;
                }
            }
            int64_t k = a * inner + i;
            if (arg)
                store_index(c->out[0], o->dtype, k, bi);
            else
                FO(c, 0)[k] = isum ? (float)acc : imean ? (float)(acc / (double)len) : best;
        }
    return 0;
}

/* ========================== view, copy, concat ========================== */

static int view_fn(ctx *c, const char *fn)
{
    const gn_tensor *x = IT(c, 0);
    const float *src = FI(c, 0);
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
        off = 0;
        for (uint32_t k = 0; k < c->n->nout; k++) {
            const gn_tensor *o = OT(c, k);
            int64_t H = o->shape[1], dh = o->shape[3];
            for (int64_t b = 0; b < B; b++)
                for (int64_t h = 0; h < H; h++)
                    for (int64_t t = 0; t < T; t++)
                        memcpy(FO(c, k) + ((b * H + h) * T + t) * dh, src + (b * T + t) * C + off + h * dh,
                               (size_t)dh * sizeof(float));
            off += H * dh;
        }
        return 0;
    }
    if (c->n->nout != 1)
        return fail(c, GN_EINVAL, "%s: expected 1 output", fn);
    const gn_tensor *o = OT(c, 0);
    float *dst = FO(c, 0);
    if (strcmp(fn, "merge_heads") == 0) {
        if (x->ndim != 4 || o->ndim != 3 || o->shape[0] != x->shape[0] || o->shape[1] != x->shape[2] ||
            o->shape[2] != x->shape[1] * x->shape[3])
            return fail(c, GN_EINVAL, "merge_heads: [B, H, T, dh] -> [B, T, H*dh]");
        int64_t B = x->shape[0], H = x->shape[1], T = x->shape[2], dh = x->shape[3];
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t t = 0; t < T; t++)
                    memcpy(dst + (b * T + t) * H * dh + h * dh, src + ((b * H + h) * T + t) * dh,
                           (size_t)dh * sizeof(float));
        return 0;
    }
    if (strcmp(fn, "last_position") == 0 || strcmp(fn, "first_token") == 0) {
        if (x->ndim != 3 || numel(o) != x->shape[0] * x->shape[2] || x->shape[1] < 1)
            return fail(c, GN_EINVAL, "%s: [B, T, d] -> [B, 1, d] or [B, d]", fn);
        int64_t B = x->shape[0], T = x->shape[1], d = x->shape[2], t = fn[0] == 'l' ? T - 1 : 0;
        for (int64_t b = 0; b < B; b++)
            memcpy(dst + b * d, src + (b * T + t) * d, (size_t)d * sizeof(float));
        return 0;
    }
    if (strcmp(fn, "flatten_transpose") == 0) { /* [N, C, H, W] -> [N, H*W, C] */
        if (x->ndim != 4 || numel(o) != numel(x) || dim_from_end(o, 1) != x->shape[1])
            return fail(c, GN_EINVAL, "flatten_transpose: [N, C, H, W] -> [N, H*W, C]");
        int64_t N = x->shape[0], C = x->shape[1], S = x->shape[2] * x->shape[3];
        for (int64_t n = 0; n < N; n++)
            for (int64_t ch = 0; ch < C; ch++)
                for (int64_t s = 0; s < S; s++)
                    dst[(n * S + s) * C + ch] = src[(n * C + ch) * S + s];
        return 0;
    }
    if (strcmp(fn, "permute_reshape") == 0) { /* [N, A*K, H, W] -> [N, H*W*A, K] */
        if (x->ndim != 4 || o->ndim != 3 || numel(o) != numel(x) || o->shape[2] == 0 ||
            x->shape[1] % o->shape[2])
            return fail(c, GN_EINVAL, "permute_reshape: [N, A*K, H, W] -> [N, H*W*A, K]");
        int64_t N = x->shape[0], K = o->shape[2], A = x->shape[1] / K, S = x->shape[2] * x->shape[3];
        for (int64_t n = 0; n < N; n++)
            for (int64_t a = 0; a < A; a++)
                for (int64_t k = 0; k < K; k++)
                    for (int64_t s = 0; s < S; s++)
                        dst[((n * S + s) * A + a) * K + k] = src[((n * A + a) * K + k) * S + s];
        return 0;
    }
    if (strcmp(fn, "expand") == 0) {
        int64_t st[GN_MAX_DIMS], zero[GN_MAX_DIMS] = {0};
        if (bcast_strides(x, o, st) != 0)
            return fail(c, GN_EINVAL, "expand: input does not broadcast to the output");
        bcast_binary(E_ADD, o, src, st, &(float){0.0f}, zero, dst);
        return 0;
    }
    return fail(c, GN_EUNSUPPORTED, "fn \"%s\" (expected split_heads, merge_heads, last_position, first_token, "
                "flatten_transpose, permute_reshape, expand, or a reshape: none, reshape, view, flatten, "
                "squeeze, unsqueeze, contiguous)", fn);
}

static int is_reshape(const char *fn)
{
    static const char *const names[] = {"reshape", "view", "flatten", "squeeze", "unsqueeze", "contiguous"};
    if (!fn)
        return 1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(fn, names[i]) == 0)
            return 1;
    return 0;
}

static int op_view(ctx *c, int copy)
{
    int rc = arity(c, 1, 1, 0);
    if (rc)
        return rc;
    const char *fn = copy ? NULL : attr_s(c, "fn");
    if (is_reshape(fn)) {
        if (c->n->nout != 1 || IT(c, 0)->bytes != OT(c, 0)->bytes || IT(c, 0)->dtype != OT(c, 0)->dtype)
            return fail(c, GN_EINVAL, "a reshape keeps dtype and size: %s %llu bytes -> %s %llu bytes",
                        gn_dtype_name(IT(c, 0)->dtype), (unsigned long long)IT(c, 0)->bytes,
                        gn_dtype_name(OT(c, 0)->dtype), (unsigned long long)OT(c, 0)->bytes);
        memcpy(c->out[0], c->in[0], (size_t)IT(c, 0)->bytes);
        return 0;
    }
    if ((rc = all_f32(c, 0, 1)))
        return rc;
    return view_fn(c, fn);
}

static int op_concat(ctx *c)
{
    int rc = arity(c, 1, UINT32_MAX, 1);
    if (rc)
        return rc;
    const gn_tensor *o = OT(c, 0);
    int d = norm_dim(attr_i(c, "dim", 0), o->ndim);
    if (d < 0)
        return fail(c, GN_EINVAL, "dim out of range for %u dims", o->ndim);
    size_t es = gn_dtype_size(o->dtype);
    int64_t inner = 1, sum = 0;
    for (uint32_t i = (uint32_t)d + 1; i < o->ndim; i++)
        inner *= o->shape[i];
    for (uint32_t k = 0; k < c->n->nin; k++) {
        const gn_tensor *t = IT(c, k);
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
    int64_t outer = (o->shape[d] * inner) != 0 ? numel(o) / (o->shape[d] * inner) : 0;
    char *dst = c->out[0];
    for (int64_t a = 0; a < outer; a++)
        for (uint32_t k = 0; k < c->n->nin; k++) {
            size_t slab = (size_t)(IT(c, k)->shape[d] * inner) * es;
            memcpy(dst, (const char *)c->in[k] + (size_t)a * slab, slab);
            dst += slab;
        }
    return 0;
}

/* ========================== index and fill ========================== */

static int op_index(ctx *c)
{
    const char *fn = attr_s(c, "fn");
    if (fn && strcmp(fn, "upsample_nearest") == 0) {
        int rc = arity(c, 1, 1, 1);
        if (rc || (rc = all_f32(c, 0, 1)))
            return rc;
        const gn_tensor *x = IT(c, 0), *o = OT(c, 0);
        if (x->ndim != 4 || o->ndim != 4 || o->shape[0] != x->shape[0] || o->shape[1] != x->shape[1])
            return fail(c, GN_EINVAL, "upsample_nearest: [N, C, H, W] -> [N, C, Ho, Wo]");
        int64_t NC = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3], Ho = o->shape[2],
                Wo = o->shape[3];
        for (int64_t p = 0; p < NC; p++)
            for (int64_t y = 0; y < Ho; y++)
                for (int64_t xx = 0; xx < Wo; xx++)
                    FO(c, 0)[(p * Ho + y) * Wo + xx] = FI(c, 0)[(p * H + y * H / Ho) * W + xx * W / Wo];
        return 0;
    }
    if (fn && strcmp(fn, "gather") != 0 && strcmp(fn, "index_select") != 0)
        return fail(c, GN_EUNSUPPORTED, "fn \"%s\" (expected gather, index_select or upsample_nearest)", fn);
    int rc = arity(c, 2, 2, 1);
    if (rc)
        return rc;
    const gn_tensor *x = IT(c, 0), *ix = IT(c, 1), *o = OT(c, 0);
    if (!is_index_dtype(ix->dtype) || o->dtype != x->dtype || x->ndim == 0)
        return fail(c, GN_EINVAL, "inputs: source, then indices (i64/i32); output of the source's dtype");
    int d = norm_dim(attr_i(c, "dim", 0), x->ndim);
    if (d < 0)
        return fail(c, GN_EINVAL, "dim out of range for %u dims", x->ndim);
    size_t es = gn_dtype_size(x->dtype);
    int64_t len = x->shape[d], inner = 1;
    for (uint32_t i = (uint32_t)d + 1; i < x->ndim; i++)
        inner *= x->shape[i];
    int64_t outer = (len * inner) != 0 ? numel(x) / (len * inner) : 0;
    int select = ix->ndim == 1 && !(fn && strcmp(fn, "gather") == 0);
    for (int64_t i = 0; i < numel(ix); i++) {
        int64_t r = load_index(c->in[1], ix->dtype, i);
        if (r < 0 || r >= len)
            return fail(c, GN_EINVAL, "index %lld out of range [0, %lld) along dim %d", (long long)r, (long long)len, d);
    }
    const char *src = c->in[0];
    char *dst = c->out[0];
    if (select) { /* out = x.index_select(d, ix) */
        int64_t m = numel(ix);
        if (numel(o) != outer * m * inner)
            return fail(c, GN_EINVAL, "index_select: output must have %lld elements", (long long)(outer * m * inner));
        for (int64_t a = 0; a < outer; a++)
            for (int64_t j = 0; j < m; j++)
                memcpy(dst + (size_t)((a * m + j) * inner) * es,
                       src + (size_t)((a * len + load_index(c->in[1], ix->dtype, j)) * inner) * es,
                       (size_t)inner * es);
        return 0;
    }
    /* torch.gather: out has the indices' shape; out[.., j, ..] = x[.., ix[.., j, ..], ..] */
    if (ix->ndim != x->ndim || numel(o) != numel(ix))
        return fail(c, GN_EINVAL, "gather: indices must have the source's rank and the output their shape");
    int64_t m = ix->shape[d], iin = 1;
    for (uint32_t i = (uint32_t)d + 1; i < ix->ndim; i++)
        iin *= ix->shape[i];
    for (uint32_t i = 0; i < x->ndim; i++)
        if ((int)i != d && ix->shape[i] > x->shape[i])
            return fail(c, GN_EINVAL, "gather: indices exceed the source in dim %u", i);
    for (int64_t e = 0; e < numel(ix); e++) {
        int64_t in_i = e % iin, a = e / (iin * m);
        /* coordinates past dim d in the source's strides */
        int64_t rest = 0, mul = 1, r = in_i;
        for (int i = (int)x->ndim - 1; i > d; i--) {
            rest += (r % ix->shape[i]) * mul;
            r /= ix->shape[i];
            mul *= x->shape[i];
        }
        int64_t lead = 0, lm = 1;
        r = a;
        for (int i = d - 1; i >= 0; i--) {
            lead += (r % ix->shape[i]) * lm;
            r /= ix->shape[i];
            lm *= x->shape[i];
        }
        int64_t s = (lead * len + load_index(c->in[1], ix->dtype, e)) * inner + rest;
        memcpy(dst + (size_t)e * es, src + (size_t)s * es, es);
    }
    return 0;
}

static int op_fill(ctx *c)
{
    int rc = arity(c, 0, 0, 1);
    if (rc)
        return rc;
    const gn_tensor *o = OT(c, 0);
    const char *fn = attr_s(c, "fn");
    if (!castable(o->dtype))
        return fail(c, GN_EUNSUPPORTED, "output dtype %s", gn_dtype_name(o->dtype));
    int64_t n = numel(o), last = o->ndim ? o->shape[o->ndim - 1] : 1;
    double v;
    if (!fn || strcmp(fn, "zeros") == 0)
        v = 0.0;
    else if (strcmp(fn, "ones") == 0)
        v = 1.0;
    else if (strcmp(fn, "full") == 0)
        v = attr_f(c, "value", 0.0);
    else if (strcmp(fn, "arange") == 0) {
        double start = attr_f(c, "start", 0.0), step = attr_f(c, "step", 1.0);
        for (int64_t i = 0; i < n; i++)
            store_num(c->out[0], o->dtype, i, start + step * (double)(last ? i % last : 0));
        return 0;
    } else
        return fail(c, GN_EUNSUPPORTED, "fn \"%s\" (expected zeros, ones, full or arange)", fn);
    for (int64_t i = 0; i < n; i++)
        store_num(c->out[0], o->dtype, i, v);
    return 0;
}

/* ========================== convolution and pooling ========================== */

/* x [N, C, H, W], w [O, C/groups, kh, kw], bias [O] -> [N, O, Ho, Wo]. */
static int op_conv2d(ctx *c)
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
    int direct = kh == 1 && kw == 1 && st[0] == 1 && st[1] == 1 && pad[0] == 0 && pad[1] == 0;
    float *col = direct ? NULL : scratch(c, (size_t)(KK * S));
    if (!direct && !col)
        return GN_ENOMEM;
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < G; g++) {
            const float *xg = FI(c, 0) + (n * C + g * Cg) * H * W;
            float *y = FO(c, 0) + (n * O + g * Og) * S;
            if (!direct) { /* im2col: row (ci, i, j), column (oy, ox) */
                for (int64_t ci = 0; ci < Cg; ci++)
                    for (int64_t i = 0; i < kh; i++)
                        for (int64_t j = 0; j < kw; j++) {
                            float *row = col + ((ci * kh + i) * kw + j) * S;
                            for (int64_t oy = 0; oy < Ho; oy++) {
                                int64_t iy = oy * st[0] - pad[0] + i * dil[0];
                                for (int64_t ox = 0; ox < Wo; ox++) {
                                    int64_t ix = ox * st[1] - pad[1] + j * dil[1];
                                    row[oy * Wo + ox] = iy >= 0 && iy < H && ix >= 0 && ix < W
                                                            ? xg[(ci * H + iy) * W + ix] : 0.0f;
                                }
                            }
                        }
            }
            gemm(0, Og, S, KK, 1.0f, FI(c, 1) + g * Og * KK, KK, direct ? xg : col, S, 0.0f, y, S);
            if (c->n->nin == 3)
                for (int64_t oc = 0; oc < Og; oc++) {
                    float b = FI(c, 2)[g * Og + oc];
                    for (int64_t s = 0; s < S; s++)
                        y[oc * S + s] += b;
                }
        }
    return 0;
}

static int op_pool2d(ctx *c)
{
    int rc = arity(c, 1, 1, 1);
    if (rc || (rc = all_f32(c, 0, 1)))
        return rc;
    const gn_tensor *x = IT(c, 0), *o = OT(c, 0);
    const char *fn = attr_s(c, "fn");
    int mx = fn && strcmp(fn, "max") == 0;
    if (!fn || (!mx && strcmp(fn, "avg") != 0))
        return fail(c, GN_EUNSUPPORTED, "fn \"%s\" (expected max or avg)", fn ? fn : "");
    if (x->ndim != 4 || o->ndim != 4 || o->shape[0] != x->shape[0] || o->shape[1] != x->shape[1])
        return fail(c, GN_EINVAL, "input and output must be [N, C, H, W] with the same N and C");
    int64_t NC = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3], Ho = o->shape[2], Wo = o->shape[3];
    int adaptive = attr_b(c, "adaptive", 0);
    int64_t k[2], st[2], pad[2];
    attr_pair(c, "kernel", 1, k);
    attr_pair(c, "stride", 0, st);
    attr_pair(c, "padding", 0, pad);
    if (!adaptive) {
        if (st[0] == 0)
            st[0] = k[0];
        if (st[1] == 0)
            st[1] = k[1];
        if (k[0] < 1 || k[1] < 1 || st[0] < 1 || st[1] < 1 || pad[0] < 0 || pad[1] < 0 ||
            Ho != (H + 2 * pad[0] - k[0]) / st[0] + 1 || Wo != (W + 2 * pad[1] - k[1]) / st[1] + 1)
            return fail(c, GN_EINVAL, "output %lldx%lld does not follow kernel, stride and padding", (long long)Ho,
                        (long long)Wo);
    } else if (Ho < 1 || Wo < 1) {
        return fail(c, GN_EINVAL, "adaptive pooling to an empty output");
    }
    for (int64_t p = 0; p < NC; p++)
        for (int64_t oy = 0; oy < Ho; oy++)
            for (int64_t ox = 0; ox < Wo; ox++) {
                int64_t y0, y1, x0, x1, cnt;
                if (adaptive) {
                    y0 = oy * H / Ho, y1 = ((oy + 1) * H + Ho - 1) / Ho;
                    x0 = ox * W / Wo, x1 = ((ox + 1) * W + Wo - 1) / Wo;
                    cnt = (y1 - y0) * (x1 - x0);
                } else {
                    y0 = oy * st[0] - pad[0], y1 = y0 + k[0];
                    x0 = ox * st[1] - pad[1], x1 = x0 + k[1];
                    cnt = k[0] * k[1]; /* count_include_pad, as torch */
                    y0 = y0 < 0 ? 0 : y0, x0 = x0 < 0 ? 0 : x0;
                    y1 = y1 > H ? H : y1, x1 = x1 > W ? W : x1;
                }
                double acc = 0.0;
                float m = -INFINITY;
                for (int64_t iy = y0; iy < y1; iy++)
                    for (int64_t ix = x0; ix < x1; ix++) {
                        float v = FI(c, 0)[(p * H + iy) * W + ix];
                        acc += v;
                        m = v > m ? v : m;
                    }
                FO(c, 0)[(p * Ho + oy) * Wo + ox] = mx ? m : cnt ? (float)(acc / (double)cnt) : 0.0f;
            }
    return 0;
}

/* ========================== interaction ========================== */

/* F features [B, D] (dense first) -> [B, D + F(F-1)/2]: the dense vector,
 * then dot(f_i, f_j) for i = 1..F-1, j = 0..i-1 (j <= i with attrs.self). */
static int op_interaction(ctx *c)
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
    for (int64_t b = 0; b < B; b++) {
        float *y = FO(c, 0) + b * W;
        memcpy(y, FI(c, 0) + b * D, (size_t)D * sizeof(float));
        y += D;
        for (int64_t i = 0; i < F; i++)
            for (int64_t j = 0; j < (self ? i + 1 : i); j++) {
                const float *a = FI(c, (uint32_t)i) + b * D, *e = FI(c, (uint32_t)j) + b * D;
                double s = 0.0;
                for (int64_t t = 0; t < D; t++)
                    s += (double)a[t] * e[t];
                *y++ = (float)s;
            }
    }
    return 0;
}

/* ========================== ops table ========================== */

static void *cpu_create(gn_error *err)
{
    cpu *ex = calloc(1, sizeof(*ex));
    if (!ex)
        gn_error_set(err, GN_ENOMEM, "cpu executor: out of memory");
    return ex;
}

static void cpu_destroy(void *p)
{
    cpu *ex = p;
    if (!ex)
        return;
    free(ex->scratch);
    free(ex);
}

static void *cpu_alloc(void *p, size_t bytes)
{
    size_t n = (bytes + 63) / 64 * 64;
    void *buf = aligned_alloc(64, n ? n : 64);
    if (buf)
        memset(buf, 0, n ? n : 64);
    return buf;
}

static void cpu_release(void *p, void *buf)
{
    free(buf);
}

static int cpu_zero(void *p, void *buf, size_t bytes)
{
    memset(buf, 0, bytes);
    return 0;
}

static int cpu_upload(void *p, void *dst, const void *host, size_t bytes)
{
    if (bytes)
        memcpy(dst, host, bytes);
    return 0;
}

static int cpu_download(void *p, void *host, const void *src, size_t bytes)
{
    if (bytes)
        memcpy(host, src, bytes);
    return 0;
}

static int cpu_run(void *p, const gn_graph *g, uint32_t id, void *const *in, void *const *out, gn_error *err)
{
    if (id >= gn_graph_nnodes(g))
        return gn_error_set(err, GN_EINVAL, "nodes[%u]: no such node (%u nodes)", id, gn_graph_nnodes(g));
    ctx c = {.ex = p, .g = g, .id = id, .n = gn_graph_node(g, id), .tin = gn_graph_node_inputs(g, id),
             .tout = gn_graph_node_outputs(g, id), .in = in, .out = out, .err = err};
    switch (c.n->op) {
    case GN_OP_MATMUL: return op_matmul(&c);
    case GN_OP_CONV2D: return op_conv2d(&c);
    case GN_OP_POOL2D: return op_pool2d(&c);
    case GN_OP_LAYER_NORM: return op_norm(&c, 0);
    case GN_OP_RMS_NORM: return op_norm(&c, 1);
    case GN_OP_BATCH_NORM: return op_batch_norm(&c);
    case GN_OP_SOFTMAX: return op_softmax(&c);
    case GN_OP_ATTENTION: return op_attention(&c);
    case GN_OP_EMBEDDING: return op_embedding(&c, 0);
    case GN_OP_EMBEDDING_BAG: return op_embedding(&c, 1);
    case GN_OP_ELEMENTWISE: return op_elementwise(&c);
    case GN_OP_REDUCTION: return op_reduction(&c);
    case GN_OP_VIEW: return op_view(&c, 0);
    case GN_OP_COPY: return op_view(&c, 1);
    case GN_OP_CONCAT: return op_concat(&c);
    case GN_OP_INDEX: return op_index(&c);
    case GN_OP_FILL: return op_fill(&c);
    case GN_OP_INTERACTION: return op_interaction(&c);
    default: {
        const char *name = c.n->op == GN_OP_OPAQUE ? attr_s(&c, "name") : NULL;
        return fail(&c, GN_EUNSUPPORTED, "not run by the CPU executor%s%s", name ? ": " : "", name ? name : "");
    }
    }
}

static const gn_executor_ops cpu_ops = {
    .version = GN_EXECUTOR_VERSION,
    .name = "cpu",
    .create = cpu_create,
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .release = cpu_release,
    .zero = cpu_zero,
    .host_visible = 1,
    .upload = cpu_upload,
    .download = cpu_download,
    .run = cpu_run,
};

const gn_executor_ops *gn_executor_cpu(void)
{
    return &cpu_ops;
}
