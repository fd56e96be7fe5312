/*
 * exec_cuda.c — the CUDA executor, host side (issue 4).
 *
 * Implements the same ops table and the same op semantics as the CPU
 * executor (real/exec_cpu.c, real/EXECUTOR.md) on one CUDA device.  Every
 * node is checked by real/opcheck.c, as for the CPU executor (same
 * GN_EINVAL / GN_EUNSUPPORTED codes, same "nodes[ID]: OP (module M):"
 * messages); only the arithmetic moves to the device, driven by the
 * gn_opdesc the checks hand back.
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
 *     to the host when opcheck asks for them (host_ids) and range-checked
 *     there before the kernel runs, so a bad id is a GN_EINVAL naming the
 *     node, never an out-of-bounds device read.  This synchronises, once
 *     per such node.
 *   - Scratch (device: attention scores, im2col columns; host: index
 *     copies) is kept between calls and only grows (STYLE rule 10).
 *   - create fails with GN_EUNSUPPORTED when there is no CUDA device (or
 *     no usable driver), GN_EBACKEND when cuBLAS cannot start.
 */
#include "exec_cuda_int.h"

#include <math.h>
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

/* Everything one run call looks at (the node already checked). */
typedef struct ctx {
    gpu *ex;
    const gn_opdesc *d;        /* what opcheck made of the node */
    void *const *in;           /* input buffers (device) */
    void *const *out;          /* output buffers (device) */
    gn_error *err;
} ctx;

/* Scores per attention chunk, floats: bounds the scratch of long prompts. */
#ifndef ATTN_SCRATCH_MAX
#define ATTN_SCRATCH_MAX ((size_t)64 << 20)
#endif

/* ========================== private helpers ========================== */

/* RC from a launcher or the runtime: 0, or GN_EBACKEND naming the error. */
static int cu(ctx *c, int rc)
{
    if (rc == 0)
        return 0;
    return gn_opcheck_fail(c->d->g, c->d->id, c->err, GN_EBACKEND, "CUDA: %s", cudaGetErrorString((cudaError_t)rc));
}

static const float *FI(ctx *c, uint32_t k)
{
    return (const float *)c->in[k];
}

static float *FO(ctx *c, uint32_t k)
{
    return (float *)c->out[k];
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
            gn_opcheck_fail(c->d->g, c->d->id, c->err, GN_ENOMEM, "cannot grow device scratch to %zu floats", cap);
            return NULL;
        }
        ex->scratch = p;
        ex->cap = cap;
    }
    return ex->scratch;
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
        return gn_opcheck_fail(c->d->g, c->d->id, c->err, GN_EBACKEND, "cuBLAS sgemm failed (status %d)", (int)st);
    return 0;
#else
    return cu(c, gn__cuda_gemm(tb, M, N, K, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch));
#endif
}


/* A walk over the output's dims (at least one) with strides SA (source or
 * first operand) and SB (destination or second operand). */
static gn__cuda_walk out_walk(const gn_tensor *o, const int64_t *sa, const int64_t *sb)
{
    gn__cuda_walk w = {.nd = o->ndim ? (int)o->ndim : 1, .shape = {1}};
    for (uint32_t i = 0; i < o->ndim; i++) {
        w.shape[i] = o->shape[i];
        w.sa[i] = sa[i];
        w.sb[i] = sb[i];
    }
    return w;
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
    int64_t M = c->d->u.matmul.M, N = c->d->u.matmul.N, K = c->d->u.matmul.K, ba = c->d->u.matmul.batch;
    int tb = c->d->u.matmul.tb, rc;
    float *out = FO(c, 0);
    float beta = 0.0f;
    if (c->d->u.matmul.bias) { /* bias first, then C = A·W + C, as the CPU */
        if ((rc = cu(c, gn__cuda_fill_rows(out, FI(c, 2), ba * M, N))))
            return rc;
        beta = 1.0f;
    }
    if (K == 0) {
        if (!c->d->u.matmul.bias && ba * M * N != 0)
            return cu(c, (int)cudaMemsetAsync(out, 0, (size_t)(ba * M * N) * sizeof(float), 0));
        return 0;
    }
    if (c->d->u.matmul.wbatch == 1)
        return gemm(c, tb, ba * M, N, K, 1.0f, FI(c, 0), K, 0, FI(c, 1), tb ? K : N, 0, beta, out, N, 0, 1);
    return gemm(c, tb, M, N, K, 1.0f, FI(c, 0), K, M * K, FI(c, 1), tb ? K : N, K * N, beta, out, N, M * N, ba);
}

/* ========================== normalisation ========================== */

static int op_norm(ctx *c)
{
    const float *w = c->d->u.norm.weight ? FI(c, 1) : NULL, *b = c->d->u.norm.bias ? FI(c, 2) : NULL;
    return cu(c, gn__cuda_norm(FI(c, 0), w, b, FO(c, 0), c->d->u.norm.rows, c->d->u.norm.D, c->d->u.norm.eps,
                               c->d->u.norm.rms));
}

static int op_batch_norm(ctx *c)
{
    uint32_t np = c->d->u.batch_norm.nparams;
    return cu(c, gn__cuda_batch_norm(FI(c, 0), np > 0 ? FI(c, 1) : NULL, np > 1 ? FI(c, 2) : NULL,
                                     np > 2 ? FI(c, 3) : NULL, np > 3 ? FI(c, 4) : NULL, FO(c, 0),
                                     c->d->u.batch_norm.N, c->d->u.batch_norm.C, c->d->u.batch_norm.S,
                                     c->d->u.batch_norm.eps));
}

static int op_group_norm(ctx *c)
{
    const __typeof__(c->d->u.group_norm) *p = &c->d->u.group_norm;
    return cu(c, gn__cuda_group_norm(FI(c, 0), p->weight ? FI(c, 1) : NULL, p->bias ? FI(c, 2) : NULL, FO(c, 0),
                                     p->N, p->C, p->S, p->G, p->eps));
}

/* ========================== softmax and attention ========================== */

static int op_softmax(ctx *c)
{
    if (c->d->u.softmax.scalar) {
        float one = 1.0f;
        return cu(c, (int)cudaMemcpy(FO(c, 0), &one, sizeof(one), cudaMemcpyHostToDevice));
    }
    int64_t outer = c->d->u.softmax.outer, len = c->d->u.softmax.len, inner = c->d->u.softmax.inner;
    int rc = dcopy(c, FO(c, 0), FI(c, 0), (size_t)(outer * len * inner) * sizeof(float));
    if (rc)
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
    int64_t B = c->d->u.attention.B, H = c->d->u.attention.H, T = c->d->u.attention.T;
    int64_t dh = c->d->u.attention.dh, KV = c->d->u.attention.KV, Tk = c->d->u.attention.Tk;
    int64_t off = c->d->u.attention.off, rows = c->d->u.attention.group * T; /* query rows per (b, kv head) */
    int causal = c->d->u.attention.causal, rc;
    if (rows > INT32_MAX) /* opcheck checked T, Tk, dh; the grouped rows are this executor's */
        return gn_opcheck_fail(c->d->g, c->d->id, c->err, GN_EUNSUPPORTED, "dims beyond the 32-bit range of BLAS");
    if (T == 0 || dh == 0 || B == 0)
        return 0;
    if (Tk == 0)
        return cu(c, (int)cudaMemsetAsync(FO(c, 0), 0, (size_t)(B * H * T * dh) * sizeof(float), 0));
    float scale = c->d->u.attention.scale;
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

static int op_embedding(ctx *c)
{
    return cu(c, gn__cuda_embedding(FI(c, 0), c->in[1], c->d->u.embedding.ids64, FO(c, 0), c->d->u.embedding.bags,
                                    c->d->u.embedding.per, c->d->u.embedding.d, c->d->u.embedding.mode));
}

/* ========================== elementwise ========================== */

static int op_elementwise(ctx *c)
{
    const gn_opdesc *d = c->d;
    int64_t n = d->u.elementwise.n;
    switch (d->kind) {
    case GN_OPK_ROTARY:
        return cu(c, gn__cuda_rotary(FI(c, 0), FI(c, 1), FI(c, 2), FO(c, 0), d->u.elementwise.B, d->u.elementwise.H,
                                     d->u.elementwise.T, d->u.elementwise.dh, d->u.elementwise.bcast));
    case GN_OPK_ROTARY_TABLE:
        return cu(c, gn__cuda_rotary_table(c->in[0], d->u.elementwise.pos64, FO(c, 0), FO(c, 1), n,
                                           d->u.elementwise.dh, d->u.elementwise.theta));
    case GN_OPK_CAST:
        return cu(c, gn__cuda_cast(c->in[0], d->u.elementwise.from, c->out[0], d->u.elementwise.to, n));
    case GN_OPK_UNARY:
        return cu(c, gn__cuda_unary(d->u.elementwise.fn, FI(c, 0), FO(c, 0), n));
    default: break;
    }
    gn__cuda_walk w = {.nd = 1, .shape = {n}, .sa = {1}, .sb = {1}};
    if (!d->u.elementwise.same)
        w = out_walk(gn_opcheck_output(c->d, 0), d->u.elementwise.sa, d->u.elementwise.sb);
    return cu(c, gn__cuda_binary(d->u.elementwise.fn, &w, FI(c, 0), FI(c, 1), FO(c, 0)));
}

/* ========================== reduction ========================== */

static int op_reduction(ctx *c)
{
    return cu(c, gn__cuda_reduce(FI(c, 0), c->out[0], c->d->u.reduction.to, c->d->u.reduction.outer,
                                 c->d->u.reduction.len, c->d->u.reduction.inner, c->d->u.reduction.fn));
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

static int op_view(ctx *c)
{
    const gn_opdesc *d = c->d;
    gn__cuda_walk w;
    switch (d->kind) {
    case GN_OPK_RESHAPE:
        return dcopy(c, c->out[0], c->in[0], (size_t)d->u.view.bytes);
    case GN_OPK_SPLIT_HEADS: { /* [B, T, C] -> outputs [B, h_k, T, dh], taking channels in order */
        int64_t T = d->u.view.T, C = d->u.view.C, off = 0;
        for (uint32_t k = 0; k < c->d->node->nout; k++) {
            const gn_tensor *o = gn_opcheck_output(c->d, k);
            int64_t H = o->shape[1], dh = o->shape[3];
            int64_t ss[4] = {T * C, dh, C, 1}, ds[4] = {H * T * dh, T * dh, dh, 1};
            w = walk(4, o->shape, ss, ds, off, 0);
            int rc = fcopy(c, k, &w);
            if (rc)
                return rc;
            off += H * dh;
        }
        return 0;
    }
    case GN_OPK_MERGE_HEADS: {
        int64_t B = d->u.view.B, H = d->u.view.H, T = d->u.view.T, dh = d->u.view.dh;
        int64_t dims[4] = {B, T, H, dh}, ss[4] = {H * T * dh, dh, T * dh, 1}, ds[4] = {T * H * dh, H * dh, dh, 1};
        w = walk(4, dims, ss, ds, 0, 0);
        break;
    }
    case GN_OPK_PICK_POSITION: {
        int64_t B = d->u.view.B, T = d->u.view.T, dd = d->u.view.C;
        int64_t dims[2] = {B, dd}, ss[2] = {T * dd, 1}, ds[2] = {dd, 1};
        w = walk(2, dims, ss, ds, d->u.view.t * dd, 0);
        break;
    }
    case GN_OPK_FLATTEN_TRANSPOSE: { /* [N, C, H, W] -> [N, H*W, C] */
        int64_t N = d->u.view.N, C = d->u.view.C, S = d->u.view.S;
        int64_t dims[3] = {N, S, C}, ss[3] = {C * S, 1, S}, ds[3] = {S * C, C, 1};
        w = walk(3, dims, ss, ds, 0, 0);
        break;
    }
    case GN_OPK_PERMUTE_RESHAPE: { /* [N, A*K, H, W] -> [N, H*W*A, K] */
        int64_t N = d->u.view.N, K = d->u.view.K, A = d->u.view.A, S = d->u.view.S;
        int64_t dims[4] = {N, S, A, K}, ss[4] = {A * K * S, 1, K * S, S}, ds[4] = {S * A * K, A * K, K, 1};
        w = walk(4, dims, ss, ds, 0, 0);
        break;
    }
    default: { /* GN_OPK_EXPAND: the input's strides, a dense destination */
        int64_t zero[GN_MAX_DIMS] = {0};
        w = out_walk(gn_opcheck_output(c->d, 0), d->u.view.st, zero);
        int64_t s = 1;
        for (int i = w.nd - 1; i >= 0; i--) {
            w.sb[i] = s;
            s *= w.shape[i];
        }
        break;
    }
    }
    return fcopy(c, 0, &w);
}

static int op_concat(ctx *c)
{
    int dim = c->d->u.concat.dim;
    int64_t outer = c->d->u.concat.outer, inner = c->d->u.concat.inner, at = 0;
    int64_t width = gn_opcheck_output(c->d, 0)->shape[dim] * inner; /* output elements per outer index */
    for (uint32_t k = 0; k < c->d->node->nin; k++) { /* input k's slabs, one per outer index */
        if (gn_opcheck_input(c->d, k)->bytes == 0)
            continue; /* an empty input (torch's legacy [0]) adds nothing */
        int64_t slab = gn_opcheck_input(c->d, k)->shape[dim] * inner;
        int64_t dims[2] = {outer, slab}, ss[2] = {slab, 1}, ds[2] = {width, 1};
        gn__cuda_walk w = walk(2, dims, ss, ds, 0, at);
        int rc = cu(c, gn__cuda_copy(c->out[0], c->in[k], c->d->u.concat.es, &w));
        if (rc)
            return rc;
        at += slab;
    }
    return 0;
}

/* ========================== index and fill ========================== */

static int op_index(ctx *c)
{
    const gn_opdesc *d = c->d;
    if (d->kind == GN_OPK_UPSAMPLE)
        return cu(c, gn__cuda_upsample(FI(c, 0), FO(c, 0), d->u.index.NC, d->u.index.H, d->u.index.W,
                                       d->u.index.Ho, d->u.index.Wo));
    if (d->kind == GN_OPK_INDEX_SELECT)
        return cu(c, gn__cuda_index_select(c->out[0], c->in[0], d->u.index.es, c->in[1], d->u.index.ids64,
                                           d->u.index.outer, d->u.index.len, d->u.index.m, d->u.index.inner));
    const gn_tensor *x = gn_opcheck_input(c->d, 0), *ix = gn_opcheck_input(c->d, 1);
    gn__cuda_gather_shape s = {.nd = (int)x->ndim, .dim = d->u.index.dim};
    memcpy(s.xs, x->shape, x->ndim * sizeof(int64_t));
    memcpy(s.is, ix->shape, ix->ndim * sizeof(int64_t));
    return cu(c, gn__cuda_gather(c->out[0], c->in[0], d->u.index.es, c->in[1], d->u.index.ids64, d->u.index.n, &s));
}

static int op_fill(ctx *c)
{
    return cu(c, gn__cuda_fill(c->out[0], c->d->u.fill.to, c->d->u.fill.n, c->d->u.fill.last, c->d->u.fill.v,
                               c->d->u.fill.start, c->d->u.fill.step, c->d->u.fill.arange));
}

/* ========================== convolution and pooling ========================== */

/* x [N, C, H, W], w [O, C/groups, kh, kw], bias [O] -> [N, O, Ho, Wo]:
 * im2col per image and group, then one sgemm, as the CPU. */
static int op_conv2d(ctx *c)
{
    const __typeof__(c->d->u.conv2d) *q = &c->d->u.conv2d;
    int64_t C = q->C, H = q->H, W = q->W, O = q->O, Cg = q->Cg, Og = q->Og, KK = q->KK, S = q->S;
    int rc;
    float *col = q->direct ? NULL : scratch(c, (size_t)(KK * S));
    if (!q->direct && !col)
        return GN_ENOMEM;
    int64_t p[6] = {q->st[0], q->st[1], q->pad[0], q->pad[1], q->dil[0], q->dil[1]};
    for (int64_t n = 0; n < q->N; n++)
        for (int64_t g = 0; g < q->G; g++) {
            const float *xg = FI(c, 0) + (n * C + g * Cg) * H * W;
            float *y = FO(c, 0) + (n * O + g * Og) * S;
            if (!q->direct && (rc = cu(c, gn__cuda_im2col(xg, col, Cg, H, W, q->kh, q->kw, q->Ho, q->Wo, p))))
                return rc;
            if ((rc = gemm(c, 0, Og, S, KK, 1.0f, FI(c, 1) + g * Og * KK, KK, 0, q->direct ? xg : col, S, 0, 0.0f,
                           y, S, 0, 1)))
                return rc;
        }
    if (q->bias)
        return cu(c, gn__cuda_channel_bias(FO(c, 0), FI(c, 2), q->N, O, S));
    return 0;
}

static int op_pool2d(ctx *c)
{
    const __typeof__(c->d->u.pool2d) *q = &c->d->u.pool2d;
    int64_t p[6] = {q->k[0], q->k[1], q->st[0], q->st[1], q->pad[0], q->pad[1]};
    return cu(c, gn__cuda_pool2d(FI(c, 0), FO(c, 0), q->NC, q->H, q->W, q->Ho, q->Wo, p, q->adaptive, q->mx));
}

/* ========================== interaction ========================== */

static int op_interaction(ctx *c)
{
    int64_t F = c->d->u.interaction.F;
    if (F > GN__CUDA_MAXF)
        return gn_opcheck_fail(c->d->g, c->d->id, c->err, GN_EUNSUPPORTED,
                               "%lld features (the CUDA executor takes at most %d)", (long long)F, GN__CUDA_MAXF);
    gn__cuda_feats f;
    for (uint32_t k = 0; k < c->d->node->nin; k++)
        f.f[k] = FI(c, k);
    return cu(c, gn__cuda_interaction(&f, FO(c, 0), c->d->u.interaction.B, c->d->u.interaction.D, F,
                                      c->d->u.interaction.self));
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

/*
 * opcheck's view of index input K: copied to the host scratch (grown as
 * needed), which synchronises with the kernels before it.
 */
static int host_ids(void *arg, uint32_t k, const void **host)
{
    ctx *c = arg;
    gpu *ex = c->ex;
    size_t bytes = (size_t)gn_opcheck_input(c->d, k)->bytes;
    if (bytes > ex->hcap) {
        void *p = realloc(ex->host, bytes);
        if (!p)
            return gn_opcheck_fail(c->d->g, c->d->id, c->err, GN_ENOMEM, "cannot grow host scratch to %zu bytes",
                                   bytes);
        ex->host = p;
        ex->hcap = bytes;
    }
    cudaError_t e = bytes ? cudaMemcpy(ex->host, c->in[k], bytes, cudaMemcpyDeviceToHost) : cudaSuccess;
    if (e != cudaSuccess) {
        cudaGetLastError();
        return cu(c, (int)e);
    }
    *host = ex->host;
    return 0;
}

static int cuda_run(void *p, const gn_graph *g, uint32_t id, void *const *in, void *const *out, gn_error *err)
{
    gn_opdesc d;
    ctx c = {.ex = p, .d = &d, .in = in, .out = out, .err = err};
    int rc = gn_opcheck_node(g, id, "CUDA", GN_OPCHECK_GROUP_NORM, host_ids, &c, &d, err);
    if (rc)
        return rc;
    switch (d.op) {
    case GN_OP_MATMUL: return op_matmul(&c);
    case GN_OP_CONV2D: return op_conv2d(&c);
    case GN_OP_POOL2D: return op_pool2d(&c);
    case GN_OP_LAYER_NORM:
    case GN_OP_RMS_NORM: return op_norm(&c);
    case GN_OP_BATCH_NORM: return op_batch_norm(&c);
    case GN_OP_GROUP_NORM: return op_group_norm(&c);
    case GN_OP_SOFTMAX: return op_softmax(&c);
    case GN_OP_ATTENTION: return op_attention(&c);
    case GN_OP_EMBEDDING:
    case GN_OP_EMBEDDING_BAG: return op_embedding(&c);
    case GN_OP_ELEMENTWISE: return op_elementwise(&c);
    case GN_OP_REDUCTION: return op_reduction(&c);
    case GN_OP_VIEW:
    case GN_OP_COPY: return op_view(&c);
    case GN_OP_CONCAT: return op_concat(&c);
    case GN_OP_INDEX: return op_index(&c);
    case GN_OP_FILL: return op_fill(&c);
    case GN_OP_INTERACTION: return op_interaction(&c);
    default: /* opcheck refuses every other op */
        return gn_opcheck_fail(g, id, err, GN_EUNSUPPORTED, "not run by the CUDA executor");
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
