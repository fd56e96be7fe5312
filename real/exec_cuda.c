/*
 * exec_cuda.c — the CUDA executor, host side (issue 4).
 *
 * Implements the same ops table and the same op semantics as the CPU
 * executor (real/exec_cpu.c, real/EXECUTOR.md) on one CUDA device: the
 * checks of shapes, attrs and dtypes are the CPU executor's, with the
 * same GN_EINVAL / GN_EUNSUPPORTED codes and "nodes[ID]: OP (module M):"
 * messages; only the arithmetic moves to the device.
 *
 * Design:
 *   - Buffers are device memory (cudaMalloc, zeroed); upload and download
 *     are synchronous cudaMemcpy, so a download is also where a failed
 *     kernel of an earlier node is reported (GN_EBACKEND).
 *   - Matrix products (matmul, attention's QKᵀ and PV, conv2d after an
 *     im2col kernel) go to cuBLAS sgemm in CUBLAS_PEDANTIC_MATH: fp32
 *     arithmetic, no TF32 tensor cores, so results stay within fp32
 *     rounding of the CPU's OpenBLAS.  A build without cuBLAS
 *     (GN_HAVE_CUBLAS unset) uses a tiled fp32 kernel instead.
 *   - Everything else is a kernel in exec_cuda.cu (one launcher per op).
 *     All work is on the legacy default stream, in node order; `run`
 *     returns once the work is enqueued.
 *   - Index inputs (embedding ids, gather/index_select indices) are copied
 *     to the host and range-checked before the kernel runs, so a bad id is
 *     a GN_EINVAL naming the node, never an out-of-bounds device read.
 *     This synchronises, once per such node.
 *   - Scratch (device: attention scores, im2col columns; host: index
 *     copies) is kept between calls and only grows (STYLE rule 10).
 *   - create fails with GN_EUNSUPPORTED when there is no CUDA device (or
 *     no usable driver), GN_EBACKEND when cuBLAS cannot start.
 */
#include "exec_cuda_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>
#ifdef GN_HAVE_CUBLAS
#include <cublas_v2.h>
#endif

/* ========================== types ========================== */

typedef struct gpu {
#ifdef GN_HAVE_CUBLAS
    cublasHandle_t blas; /* pedantic fp32 math */
#endif
    float *scratch;      /* device work area */
    size_t cap;          /* capacity of scratch, floats */
    void *host;          /* host copy of index inputs */
    size_t hcap;         /* capacity of host, bytes */
} gpu;

/* Everything one run call looks at. */
typedef struct ctx {
    gpu *ex;
    const gn_graph *g;
    uint32_t id;               /* node id */
    const gn_node *n;
    const uint32_t *tin;       /* input tensor ids */
    const uint32_t *tout;      /* output tensor ids */
    void *const *in;           /* input buffers (device) */
    void *const *out;          /* output buffers (device) */
    gn_error *err;
} ctx;

/* Scores per attention chunk, floats: bounds the scratch of long prompts. */
#ifndef ATTN_SCRATCH_MAX
#define ATTN_SCRATCH_MAX ((size_t)64 << 20)
#endif

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

/* RC from a launcher or the runtime: 0, or GN_EBACKEND naming the error. */
static int cu(ctx *c, int rc)
{
    if (rc == 0)
        return 0;
    return fail(c, GN_EBACKEND, "CUDA: %s", cudaGetErrorString((cudaError_t)rc));
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

/* Checks arity: LO..HI inputs and NOUT outputs (0 = any >= 1). */
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
            return fail(c, GN_EUNSUPPORTED, "input %u is %s (the CUDA executor computes in f32)", k,
                        gn_dtype_name(IT(c, k)->dtype));
    for (uint32_t k = 0; k < c->n->nout; k++)
        if (OT(c, k)->dtype != GN_DTYPE_F32)
            return fail(c, GN_EUNSUPPORTED, "output %u is %s (the CUDA executor computes in f32)", k,
                        gn_dtype_name(OT(c, k)->dtype));
    return 0;
}

static int is_index_dtype(gn_dtype dt)
{
    return dt == GN_DTYPE_I64 || dt == GN_DTYPE_I32;
}

static int castable(gn_dtype dt)
{
    return dt == GN_DTYPE_F32 || dt == GN_DTYPE_F64 || dt == GN_DTYPE_I64 || dt == GN_DTYPE_I32 ||
           dt == GN_DTYPE_U8 || dt == GN_DTYPE_BOOL;
}

/* The kernels' code for a castable dtype. */
static gn__cuda_dt kdt(gn_dtype dt)
{
    switch (dt) {
    case GN_DTYPE_F64: return GN__CU_F64;
    case GN_DTYPE_I64: return GN__CU_I64;
    case GN_DTYPE_I32: return GN__CU_I32;
    case GN_DTYPE_U8: return GN__CU_U8;
    case GN_DTYPE_BOOL: return GN__CU_BOOL;
    default: return GN__CU_F32;
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

/* Device scratch of N floats, grown (never shrunk); NULL with ERR set. */
static float *scratch(ctx *c, size_t n)
{
    gpu *ex = c->ex;
    if (n > ex->cap) {
        size_t cap = ex->cap ? ex->cap : 1024;
        while (cap < n)
            cap *= 2;
        void *p = NULL;
        cudaFree(ex->scratch); /* waits for the kernels that used it */
        ex->scratch = NULL;
        ex->cap = 0;
        if (cudaMalloc(&p, cap * sizeof(float)) != cudaSuccess) {
            cudaGetLastError();
            fail(c, GN_ENOMEM, "cannot grow device scratch to %zu floats", cap);
            return NULL;
        }
        ex->scratch = p;
        ex->cap = cap;
    }
    return ex->scratch;
}

/*
 * Copies index input K (i64/i32) to host scratch and checks every entry is
 * in [0, LIM); GN_EINVAL naming the first bad one (WHAT "index" or "id").
 */
static int check_ids(ctx *c, uint32_t k, int64_t lim, const char *what)
{
    gpu *ex = c->ex;
    const gn_tensor *t = IT(c, k);
    size_t bytes = (size_t)t->bytes;
    if (bytes > ex->hcap) {
        void *p = realloc(ex->host, bytes);
        if (!p)
            return fail(c, GN_ENOMEM, "cannot grow host scratch to %zu bytes", bytes);
        ex->host = p;
        ex->hcap = bytes;
    }
    cudaError_t e = bytes ? cudaMemcpy(ex->host, c->in[k], bytes, cudaMemcpyDeviceToHost) : cudaSuccess;
    if (e != cudaSuccess) {
        cudaGetLastError();
        return cu(c, (int)e);
    }
    for (int64_t i = 0; i < numel(t); i++) {
        int64_t r = t->dtype == GN_DTYPE_I64 ? ((const int64_t *)ex->host)[i] : ((const int32_t *)ex->host)[i];
        if (r < 0 || r >= lim)
            return fail(c, GN_EINVAL, "%s %lld at position %lld out of range [0, %lld)", what, (long long)r,
                        (long long)i, (long long)lim);
    }
    return 0;
}

/*
 * C[b] = alpha · A[b] · op(B[b]) + beta · C[b] for b < BATCH, row-major
 * (strides SA, SB, SC in elements between batches); op(B) = Bᵀ, B [N,K],
 * when TB.  The caller checks M, N, K fit in int.
 */
static int gemm(ctx *c, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                int64_t sa, const float *B, int64_t ldb, int64_t sb, float beta, float *C, int64_t ldc, int64_t sc,
                int64_t batch)
{
    if (M == 0 || N == 0 || batch == 0)
        return 0;
#ifdef GN_HAVE_CUBLAS
    /* row-major C = A·op(B) is column-major Cᵀ = op(B)ᵀ·Aᵀ */
    cublasStatus_t st = cublasSgemmStridedBatched(c->ex->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, (int)N,
                                                  (int)M, (int)K, &alpha, B, (int)ldb, sb, A, (int)lda, sa, &beta, C,
                                                  (int)ldc, sc, (int)batch);
    if (st != CUBLAS_STATUS_SUCCESS)
        return fail(c, GN_EBACKEND, "cuBLAS sgemm failed (status %d)", (int)st);
    return 0;
#else
    return cu(c, gn__cuda_gemm(tb, M, N, K, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch));
#endif
}

/* Strides (elements) of T broadcast to the shape of O (numpy rules,
 * right-aligned) into W's first (STRIDES 0) or second stride set; -1 when
 * T does not broadcast. */
static int bcast_walk(const gn_tensor *t, const gn_tensor *o, gn__cuda_walk *w, int second)
{
    int64_t *st = second ? w->sb : w->sa;
    if (t->ndim > o->ndim || o->ndim > GN__CUDA_MAXD)
        return -1;
    w->nd = o->ndim ? (int)o->ndim : 1;
    w->shape[0] = 1;
    st[0] = 0;
    for (uint32_t i = 0; i < o->ndim; i++) {
        w->shape[i] = o->shape[i];
        st[i] = 0;
    }
    int64_t s = 1;
    for (uint32_t i = 1; i <= t->ndim; i++) {
        int64_t n = t->shape[t->ndim - i], m = o->shape[o->ndim - i];
        if (n != m && n != 1)
            return -1;
        st[o->ndim - i] = n == 1 ? 0 : s;
        s *= n;
    }
    return 0;
}

/* A device-to-device byte copy on the default stream. */
static int dcopy(ctx *c, void *dst, const void *src, size_t bytes)
{
    if (!bytes)
        return 0;
    return cu(c, (int)cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, 0));
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
    if (c->n->nin == 3) { /* bias first, then C = A·W + C, as the CPU */
        if ((rc = cu(c, gn__cuda_fill_rows(out, FI(c, 2), ba * M, N))))
            return rc;
        beta = 1.0f;
    }
    if (K == 0) {
        if (c->n->nin != 3 && numel(o))
            return cu(c, (int)cudaMemsetAsync(out, 0, (size_t)numel(o) * sizeof(float), 0));
        return 0;
    }
    if (bw == 1)
        return gemm(c, tb, ba * M, N, K, 1.0f, FI(c, 0), K, 0, FI(c, 1), tb ? K : N, 0, beta, out, N, 0, 1);
    return gemm(c, tb, M, N, K, 1.0f, FI(c, 0), K, M * K, FI(c, 1), tb ? K : N, K * N, beta, out, N, M * N, ba);
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
    return cu(c, gn__cuda_norm(FI(c, 0), w, b, FO(c, 0), rows, D, eps, rms));
}

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
    uint32_t nin = c->n->nin;
    return cu(c, gn__cuda_batch_norm(FI(c, 0), nin > 1 ? FI(c, 1) : NULL, nin > 2 ? FI(c, 2) : NULL,
                                     nin > 3 ? FI(c, 3) : NULL, nin > 4 ? FI(c, 4) : NULL, FO(c, 0), N, C, S,
                                     attr_f(c, "eps", 1e-5)));
}

/* ========================== softmax and attention ========================== */

static int op_softmax(ctx *c)
{
    int rc = arity(c, 1, 1, 1);
    if (rc || (rc = all_f32(c, 0, 1)))
        return rc;
    const gn_tensor *x = IT(c, 0);
    if (numel(OT(c, 0)) != numel(x))
        return fail(c, GN_EINVAL, "output and input differ in size");
    if (x->ndim == 0) {
        float one = 1.0f;
        return cu(c, (int)cudaMemcpy(FO(c, 0), &one, sizeof(one), cudaMemcpyHostToDevice));
    }
    int d = norm_dim(attr_i(c, "dim", -1), x->ndim);
    if (d < 0)
        return fail(c, GN_EINVAL, "dim %lld out of range for %u dims", (long long)attr_i(c, "dim", -1), x->ndim);
    int64_t len = x->shape[d], inner = 1;
    for (uint32_t i = (uint32_t)d + 1; i < x->ndim; i++)
        inner *= x->shape[i];
    int64_t outer = (len * inner) != 0 ? numel(x) / (len * inner) : 0;
    if ((rc = dcopy(c, FO(c, 0), FI(c, 0), (size_t)numel(x) * sizeof(float))))
        return rc;
    return cu(c, gn__cuda_softmax(FO(c, 0), outer, len, inner, 1, 0, 0));
}

/*
 * q [B, H, T, dh], k and v [B, KV, Tk, dh] -> out [B, H, T, dh].  The
 * H/KV query heads that share kv head g are contiguous in q, so each
 * (b, g) is one gemm of [group·T, dh] by [Tk, dh]ᵀ: scores for all of
 * them in one strided-batched call, a masked softmax, one more for PV.
 */
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
    int64_t group = H / KV, rows = group * T; /* query rows per (b, kv head) */
    if (!fits_int(rows, Tk, dh))
        return fail(c, GN_EUNSUPPORTED, "dims beyond the 32-bit range of BLAS");
    if (T == 0 || dh == 0 || B == 0)
        return 0;
    if (Tk == 0)
        return cu(c, (int)cudaMemsetAsync(FO(c, 0), 0, (size_t)numel(o) * sizeof(float), 0));
    float scale = (float)attr_f(c, "scale", 1.0 / sqrt((double)dh));
    int64_t nb = B * KV, per = (int64_t)(ATTN_SCRATCH_MAX / (size_t)(rows * Tk));
    per = per < 1 ? 1 : per > nb ? nb : per; /* (b, kv head) pairs per chunk */
    float *S = scratch(c, (size_t)(per * rows * Tk));
    if (!S)
        return GN_ENOMEM;
    for (int64_t b0 = 0; b0 < nb; b0 += per) {
        int64_t n = nb - b0 < per ? nb - b0 : per;
        const float *Q = FI(c, 0) + b0 * rows * dh, *K = FI(c, 1) + b0 * Tk * dh, *V = FI(c, 2) + b0 * Tk * dh;
        float *Y = FO(c, 0) + b0 * rows * dh;
        if ((rc = gemm(c, 1, rows, Tk, dh, scale, Q, dh, rows * dh, K, dh, Tk * dh, 0.0f, S, Tk, rows * Tk, n)) ||
            (rc = cu(c, gn__cuda_softmax(S, n * rows, Tk, 1, T, off, causal))) ||
            (rc = gemm(c, 0, rows, dh, Tk, 1.0f, S, Tk, rows * Tk, V, dh, Tk * dh, 0.0f, Y, dh, rows * dh, n)))
            return rc;
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
    gn__cuda_emode m = !bag ? GN__EMB_LOOKUP : !mode || strcmp(mode, "mean") == 0 ? GN__EMB_MEAN
                       : strcmp(mode, "max") == 0 ? GN__EMB_MAX : GN__EMB_SUM;
    if (bag && mode && m == GN__EMB_SUM && strcmp(mode, "sum") != 0)
        return fail(c, GN_EUNSUPPORTED, "mode \"%s\" (expected sum, mean or max)", mode);
    int64_t bags = bag ? (ids->ndim == 2 ? ids->shape[0] : 1) : n, per = bag ? (bags ? n / bags : 0) : 1;
    if (bag && ids->ndim != 2 && ids->ndim != 1)
        return fail(c, GN_EINVAL, "ids must be [B, pooling] (or 1-D: one bag)");
    if (numel(o) != bags * d || dim_from_end(o, 1) != d)
        return fail(c, GN_EINVAL, "output has %lld elements, expected %lld x %lld", (long long)numel(o),
                    (long long)bags, (long long)d);
    if ((rc = check_ids(c, 1, V, "index")))
        return rc;
    return cu(c, gn__cuda_embedding(FI(c, 0), c->in[1], ids->dtype == GN_DTYPE_I64, FO(c, 0), bags, per, d, m));
}

/* ========================== elementwise ========================== */

static const struct {
    const char *name;
    gn__cuda_efn fn;
} efns[] = {
    {"add", GN__E_ADD}, {"sub", GN__E_SUB}, {"mul", GN__E_MUL}, {"div", GN__E_DIV}, {"maximum", GN__E_MAX},
    {"minimum", GN__E_MIN}, {"relu", GN__E_RELU}, {"gelu", GN__E_GELU}, {"gelu_new", GN__E_GELU},
    {"gelu_tanh", GN__E_GELU}, {"gelu_erf", GN__E_GELU_ERF}, {"silu", GN__E_SILU}, {"sigmoid", GN__E_SIGMOID},
    {"tanh", GN__E_TANH}, {"neg", GN__E_NEG}, {"exp", GN__E_EXP}, {"sqrt", GN__E_SQRT}, {"rsqrt", GN__E_RSQRT},
};

/* x [B, H, T, dh] with cos, sin [B or 1, T, dh] (or [T, dh]). */
static int rotary(ctx *c)
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
    int bcast = numel(cs) != B * T * dh || B == 1;
    return cu(c, gn__cuda_rotary(FI(c, 0), FI(c, 1), FI(c, 2), FO(c, 0), B, H, T, dh, bcast));
}

/* positions [B, T] (i64/i32) -> cos, sin [B, T, dh]. */
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
    return cu(c, gn__cuda_rotary_table(c->in[0], p->dtype == GN_DTYPE_I64, FO(c, 0), FO(c, 1), n, dh,
                                       (float)attr_f(c, "theta", 10000.0)));
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
        return cu(c, gn__cuda_cast(c->in[0], kdt(x->dtype), c->out[0], kdt(o->dtype), numel(x)));
    }
    size_t i, nf = sizeof(efns) / sizeof(efns[0]);
    for (i = 0; i < nf; i++)
        if (strcmp(efns[i].name, fn) == 0)
            break;
    if (i == nf)
        return fail(c, GN_EUNSUPPORTED, "fn \"%s\" (expected add, sub, mul, div, maximum, minimum, relu, gelu, "
                    "gelu_erf, silu, sigmoid, tanh, neg, exp, sqrt, rsqrt, cast, rotary or rotary_table)", fn);
    gn__cuda_efn f = efns[i].fn;
    int bin = f <= GN__E_MIN;
    int rc = arity(c, bin ? 2 : 1, bin ? 2 : 1, 1);
    if (rc || (rc = all_f32(c, 0, c->n->nin)))
        return rc;
    const gn_tensor *o = OT(c, 0);
    int64_t n = numel(o);
    if (!bin) {
        if (numel(IT(c, 0)) != n)
            return fail(c, GN_EINVAL, "input and output differ in size");
        return cu(c, gn__cuda_unary(f, FI(c, 0), FO(c, 0), n));
    }
    gn__cuda_walk w = {.nd = 1, .shape = {n}, .sa = {1}, .sb = {1}};
    if ((numel(IT(c, 0)) != n || numel(IT(c, 1)) != n) &&
        (bcast_walk(IT(c, 0), o, &w, 0) != 0 || bcast_walk(IT(c, 1), o, &w, 1) != 0))
        return fail(c, GN_EINVAL, "inputs do not broadcast to the output shape");
    return cu(c, gn__cuda_binary(f, &w, FI(c, 0), FI(c, 1), FO(c, 0)));
}

/* ========================== reduction ========================== */

static int op_reduction(ctx *c)
{
    int rc = arity(c, 1, 1, 1);
    if (rc)
        return rc;
    static const struct {
        const char *name;
        gn__cuda_rfn fn;
    } rfns[] = {{"sum", GN__R_SUM}, {"mean", GN__R_MEAN}, {"max", GN__R_MAX},
                {"min", GN__R_MIN}, {"argmax", GN__R_ARGMAX}, {"argmin", GN__R_ARGMIN}};
    const char *fn = attr_s(c, "fn");
    size_t i, nf = sizeof(rfns) / sizeof(rfns[0]);
    for (i = 0; fn && i < nf; i++)
        if (strcmp(rfns[i].name, fn) == 0)
            break;
    if (!fn || i == nf)
        return fail(c, GN_EUNSUPPORTED, "fn \"%s\" (expected sum, mean, max, min, argmax or argmin)", fn ? fn : "");
    gn__cuda_rfn f = rfns[i].fn;
    int arg = f == GN__R_ARGMAX || f == GN__R_ARGMIN;
    const gn_tensor *x = IT(c, 0), *o = OT(c, 0);
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
        for (uint32_t k = (uint32_t)d + 1; k < x->ndim; k++)
            inner *= x->shape[k];
    }
    int64_t outer = (len * inner) != 0 ? numel(x) / (len * inner) : 0;
    if (numel(o) != outer * inner || (len == 0 && numel(o)))
        return fail(c, GN_EINVAL, "output has %lld elements, expected %lld", (long long)numel(o),
                    (long long)(outer * inner));
    return cu(c, gn__cuda_reduce(FI(c, 0), c->out[0], kdt(o->dtype), outer, len, inner, f));
}

/* ========================== view, copy, concat ========================== */

/* A walk over DIMS (N of them) of the destination with source strides SS
 * and destination strides DS, plus offsets. */
static gn__cuda_walk walk(int nd, const int64_t *dims, const int64_t *ss, const int64_t *ds, int64_t offa,
                          int64_t offb)
{
    gn__cuda_walk w = {.nd = nd, .offa = offa, .offb = offb};
    for (int i = 0; i < nd; i++) {
        w.shape[i] = dims[i];
        w.sa[i] = ss[i];
        w.sb[i] = ds[i];
    }
    return w;
}

static int fcopy(ctx *c, uint32_t k, const gn__cuda_walk *w)
{
    return cu(c, gn__cuda_copy(c->out[k], c->in[0], sizeof(float), w));
}

static int view_fn(ctx *c, const char *fn)
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
        off = 0;
        for (uint32_t k = 0; k < c->n->nout; k++) {
            const gn_tensor *o = OT(c, k);
            int64_t H = o->shape[1], dh = o->shape[3];
            int64_t ss[4] = {T * C, dh, C, 1}, ds[4] = {H * T * dh, T * dh, dh, 1};
            gn__cuda_walk w = walk(4, o->shape, ss, ds, off, 0);
            int rc = fcopy(c, k, &w);
            if (rc)
                return rc;
            off += H * dh;
        }
        return 0;
    }
    if (c->n->nout != 1)
        return fail(c, GN_EINVAL, "%s: expected 1 output", fn);
    const gn_tensor *o = OT(c, 0);
    if (strcmp(fn, "merge_heads") == 0) {
        if (x->ndim != 4 || o->ndim != 3 || o->shape[0] != x->shape[0] || o->shape[1] != x->shape[2] ||
            o->shape[2] != x->shape[1] * x->shape[3])
            return fail(c, GN_EINVAL, "merge_heads: [B, H, T, dh] -> [B, T, H*dh]");
        int64_t B = x->shape[0], H = x->shape[1], T = x->shape[2], dh = x->shape[3];
        int64_t dims[4] = {B, T, H, dh}, ss[4] = {H * T * dh, dh, T * dh, 1}, ds[4] = {T * H * dh, H * dh, dh, 1};
        gn__cuda_walk w = walk(4, dims, ss, ds, 0, 0);
        return fcopy(c, 0, &w);
    }
    if (strcmp(fn, "last_position") == 0 || strcmp(fn, "first_token") == 0) {
        if (x->ndim != 3 || numel(o) != x->shape[0] * x->shape[2] || x->shape[1] < 1)
            return fail(c, GN_EINVAL, "%s: [B, T, d] -> [B, 1, d] or [B, d]", fn);
        int64_t B = x->shape[0], T = x->shape[1], d = x->shape[2], t = fn[0] == 'l' ? T - 1 : 0;
        int64_t dims[2] = {B, d}, ss[2] = {T * d, 1}, ds[2] = {d, 1};
        gn__cuda_walk w = walk(2, dims, ss, ds, t * d, 0);
        return fcopy(c, 0, &w);
    }
    if (strcmp(fn, "flatten_transpose") == 0) { /* [N, C, H, W] -> [N, H*W, C] */
        if (x->ndim != 4 || numel(o) != numel(x) || dim_from_end(o, 1) != x->shape[1])
            return fail(c, GN_EINVAL, "flatten_transpose: [N, C, H, W] -> [N, H*W, C]");
        int64_t N = x->shape[0], C = x->shape[1], S = x->shape[2] * x->shape[3];
        int64_t dims[3] = {N, S, C}, ss[3] = {C * S, 1, S}, ds[3] = {S * C, C, 1};
        gn__cuda_walk w = walk(3, dims, ss, ds, 0, 0);
        return fcopy(c, 0, &w);
    }
    if (strcmp(fn, "permute_reshape") == 0) { /* [N, A*K, H, W] -> [N, H*W*A, K] */
        if (x->ndim != 4 || o->ndim != 3 || numel(o) != numel(x) || o->shape[2] == 0 ||
            x->shape[1] % o->shape[2])
            return fail(c, GN_EINVAL, "permute_reshape: [N, A*K, H, W] -> [N, H*W*A, K]");
        int64_t N = x->shape[0], K = o->shape[2], A = x->shape[1] / K, S = x->shape[2] * x->shape[3];
        int64_t dims[4] = {N, S, A, K}, ss[4] = {A * K * S, 1, K * S, S}, ds[4] = {S * A * K, A * K, K, 1};
        gn__cuda_walk w = walk(4, dims, ss, ds, 0, 0);
        return fcopy(c, 0, &w);
    }
    if (strcmp(fn, "expand") == 0) {
        gn__cuda_walk w = {0};
        if (bcast_walk(x, o, &w, 0) != 0)
            return fail(c, GN_EINVAL, "expand: input does not broadcast to the output");
        int64_t s = 1; /* dense destination */
        for (int i = w.nd - 1; i >= 0; i--) {
            w.sb[i] = s;
            s *= w.shape[i];
        }
        return fcopy(c, 0, &w);
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
        return dcopy(c, c->out[0], c->in[0], (size_t)IT(c, 0)->bytes);
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
    int64_t outer = (o->shape[d] * inner) != 0 ? numel(o) / (o->shape[d] * inner) : 0, at = 0;
    for (uint32_t k = 0; k < c->n->nin; k++) { /* input k's slabs, one per outer index */
        int64_t slab = IT(c, k)->shape[d] * inner;
        int64_t dims[2] = {outer, slab}, ss[2] = {slab, 1}, ds[2] = {o->shape[d] * inner, 1};
        gn__cuda_walk w = walk(2, dims, ss, ds, 0, at);
        if ((rc = cu(c, gn__cuda_copy(c->out[0], c->in[k], es, &w))))
            return rc;
        at += slab;
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
        return cu(c, gn__cuda_upsample(FI(c, 0), FO(c, 0), x->shape[0] * x->shape[1], x->shape[2], x->shape[3],
                                       o->shape[2], o->shape[3]));
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
    int i64 = ix->dtype == GN_DTYPE_I64;
    if (select) { /* out = x.index_select(d, ix) */
        int64_t m = numel(ix);
        if ((rc = check_ids(c, 1, len, "index")))
            return rc;
        if (numel(o) != outer * m * inner)
            return fail(c, GN_EINVAL, "index_select: output must have %lld elements", (long long)(outer * m * inner));
        return cu(c, gn__cuda_index_select(c->out[0], c->in[0], es, c->in[1], i64, outer, len, m, inner));
    }
    if (ix->ndim != x->ndim || numel(o) != numel(ix))
        return fail(c, GN_EINVAL, "gather: indices must have the source's rank and the output their shape");
    for (uint32_t i = 0; i < x->ndim; i++)
        if ((int)i != d && ix->shape[i] > x->shape[i])
            return fail(c, GN_EINVAL, "gather: indices exceed the source in dim %u", i);
    if ((rc = check_ids(c, 1, len, "index")))
        return rc;
    gn__cuda_gather_shape s = {.nd = (int)x->ndim, .dim = d};
    memcpy(s.xs, x->shape, x->ndim * sizeof(int64_t));
    memcpy(s.is, ix->shape, ix->ndim * sizeof(int64_t));
    return cu(c, gn__cuda_gather(c->out[0], c->in[0], es, c->in[1], i64, numel(ix), &s));
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
    double v = 0.0, start = 0.0, step = 1.0;
    int arange = 0;
    if (!fn || strcmp(fn, "zeros") == 0)
        v = 0.0;
    else if (strcmp(fn, "ones") == 0)
        v = 1.0;
    else if (strcmp(fn, "full") == 0)
        v = attr_f(c, "value", 0.0);
    else if (strcmp(fn, "arange") == 0) {
        start = attr_f(c, "start", 0.0), step = attr_f(c, "step", 1.0);
        arange = 1;
    } else
        return fail(c, GN_EUNSUPPORTED, "fn \"%s\" (expected zeros, ones, full or arange)", fn);
    return cu(c, gn__cuda_fill(c->out[0], kdt(o->dtype), n, last, v, start, step, arange));
}

/* ========================== convolution and pooling ========================== */

/* x [N, C, H, W], w [O, C/groups, kh, kw], bias [O] -> [N, O, Ho, Wo]:
 * im2col per image and group, then one sgemm, as the CPU. */
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
    int64_t p[6] = {st[0], st[1], pad[0], pad[1], dil[0], dil[1]};
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < G; g++) {
            const float *xg = FI(c, 0) + (n * C + g * Cg) * H * W;
            float *y = FO(c, 0) + (n * O + g * Og) * S;
            if (!direct && (rc = cu(c, gn__cuda_im2col(xg, col, Cg, H, W, kh, kw, Ho, Wo, p))))
                return rc;
            if ((rc = gemm(c, 0, Og, S, KK, 1.0f, FI(c, 1) + g * Og * KK, KK, 0, direct ? xg : col, S, 0, 0.0f, y,
                           S, 0, 1)))
                return rc;
        }
    if (c->n->nin == 3)
        return cu(c, gn__cuda_channel_bias(FO(c, 0), FI(c, 2), N, O, S));
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
    int64_t p[6] = {k[0], k[1], st[0], st[1], pad[0], pad[1]};
    return cu(c, gn__cuda_pool2d(FI(c, 0), FO(c, 0), NC, H, W, Ho, Wo, p, adaptive, mx));
}

/* ========================== interaction ========================== */

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
    if (F > GN__CUDA_MAXF)
        return fail(c, GN_EUNSUPPORTED, "%lld features (the CUDA executor takes at most %d)", (long long)F,
                    GN__CUDA_MAXF);
    gn__cuda_feats f;
    for (uint32_t k = 0; k < c->n->nin; k++)
        f.f[k] = FI(c, k);
    return cu(c, gn__cuda_interaction(&f, FO(c, 0), B, D, F, self));
}

/* ========================== ops table ========================== */

static void cuda_destroy(void *p)
{
    gpu *ex = p;
    if (!ex)
        return;
#ifdef GN_HAVE_CUBLAS
    if (ex->blas)
        cublasDestroy(ex->blas);
#endif
    cudaFree(ex->scratch);
    free(ex->host);
    free(ex);
}

static void *cuda_create(gn_error *err)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        cudaGetLastError(); /* not sticky, but leave nothing behind */
        gn_error_set(err, GN_EUNSUPPORTED,
                     "cuda executor: no usable CUDA device (cudaGetDeviceCount: %s); use the cpu executor",
                     e != cudaSuccess ? cudaGetErrorString(e) : "the driver reports 0 devices");
        return NULL;
    }
    gpu *ex = calloc(1, sizeof(*ex));
    if (!ex) {
        gn_error_set(err, GN_ENOMEM, "cuda executor: out of memory");
        return NULL;
    }
#ifdef GN_HAVE_CUBLAS
    cublasStatus_t st = cublasCreate(&ex->blas);
    if (st != CUBLAS_STATUS_SUCCESS) {
        ex->blas = NULL;
        cuda_destroy(ex);
        gn_error_set(err, GN_EBACKEND, "cuda executor: cublasCreate failed (status %d)", (int)st);
        return NULL;
    }
    /* fp32 as specified: no TF32 tensor cores, so parity with the CPU holds */
    if ((st = cublasSetMathMode(ex->blas, CUBLAS_PEDANTIC_MATH)) != CUBLAS_STATUS_SUCCESS) {
        cuda_destroy(ex);
        gn_error_set(err, GN_EBACKEND, "cuda executor: cublasSetMathMode failed (status %d)", (int)st);
        return NULL;
    }
#endif
    return ex;
}

static void *cuda_alloc(void *p, size_t bytes)
{
    size_t n = bytes ? bytes : 1;
    void *buf = NULL;
    if (cudaMalloc(&buf, n) != cudaSuccess) {
        cudaGetLastError();
        return NULL;
    }
    if (cudaMemset(buf, 0, n) != cudaSuccess) {
        cudaFree(buf);
        cudaGetLastError();
        return NULL;
    }
    return buf;
}

static void cuda_release(void *p, void *buf)
{
    if (buf)
        cudaFree(buf);
}

static int cuda_upload(void *p, void *dst, const void *host, size_t bytes)
{
    if (bytes && cudaMemcpy(dst, host, bytes, cudaMemcpyHostToDevice) != cudaSuccess)
        return GN_EBACKEND;
    return 0;
}

static int cuda_download(void *p, void *host, const void *src, size_t bytes)
{
    if (bytes && cudaMemcpy(host, src, bytes, cudaMemcpyDeviceToHost) != cudaSuccess)
        return GN_EBACKEND;
    return 0;
}

static int cuda_run(void *p, const gn_graph *g, uint32_t id, void *const *in, void *const *out, gn_error *err)
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
        return fail(&c, GN_EUNSUPPORTED, "not run by the CUDA executor%s%s", name ? ": " : "", name ? name : "");
    }
    }
}

static const gn_executor_ops cuda_ops = {
    .version = GN_EXECUTOR_VERSION,
    .name = "cuda",
    .create = cuda_create,
    .destroy = cuda_destroy,
    .alloc = cuda_alloc,
    .release = cuda_release,
    .upload = cuda_upload,
    .download = cuda_download,
    .run = cuda_run,
};

const gn_executor_ops *gn__executor_cuda(void)
{
    return &cuda_ops;
}
