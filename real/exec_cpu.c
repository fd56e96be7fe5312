/*
 * exec_cpu.c — the CPU executor: the numerical reference (issue 4).
 *
 * Every op of the trace vocabulary but `opaque` is run here in fp32 (ids
 * and argmax results in i64 or i32), interpreting the node from its op,
 * attrs and tensor shapes alone.  real/EXECUTOR.md is the page that fixes
 * each op's semantics and input order; this file follows it op by op.
 *
 * Design:
 *   - Buffers are plain host memory (64-byte aligned, zeroed); upload and
 *     download are memcpy.
 *   - Every node is first checked by real/opcheck.c, which every executor
 *     shares: bad shapes or attrs are GN_EINVAL and ops, fns or dtypes
 *     outside the supported set GN_EUNSUPPORTED, both with a message
 *     "nodes[ID]: OP (module M): what is wrong".  What it hands back (a
 *     gn_opdesc: sizes, strides, flags) is all the loops here read.
 *   - Matrix products go to BLAS (cblas_sgemm from OpenBLAS) when the build
 *     found it (GN_HAVE_CBLAS), else to a cache-friendly i-k-j loop; matmul,
 *     attention (QKᵀ and PV per head) and conv2d (im2col) all use gemm().
 *   - f16/bf16 tensors are stored as such and computed in f32: run_half
 *     widens a node's half inputs, runs the f32 kernel on the copies and
 *     rounds its half outputs once (half.h); casts, fills, copies and
 *     table lookups move half data without widening it.
 *   - The only memory `run` takes is the executor's scratch (the kernels'
 *     work area, the widened copies), kept between calls and grown when a
 *     node needs more (STYLE rule 10).
 *   - Reductions (norm statistics, softmax sums, dot products outside BLAS)
 *     accumulate in double, in a fixed order: runs are bit-reproducible.
 */
#include "executor.h"
#include "opcheck.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef GN_HAVE_CBLAS
#include <cblas.h>
#endif

/* ========================== types ========================== */

typedef struct cpu {
    float *scratch;     /* reusable work area of the kernels */
    size_t cap;         /* capacity of scratch, floats */
    float *wide;        /* f32 copies of a half node's f16/bf16 tensors */
    size_t wcap;        /* capacity of wide, floats */
    void **ptrs;        /* a half node's buffers as its kernel sees them: inputs, then outputs */
    size_t pcap;        /* capacity of ptrs, pointers */
} cpu;

/* Everything one run call looks at (the node already checked). */
typedef struct ctx {
    cpu *ex;
    const gn_opdesc *d;        /* what opcheck made of the node */
    void *const *in;           /* input buffers */
    void *const *out;          /* output buffers */
    gn_error *err;
} ctx;

/* ========================== private helpers ========================== */

static const float *FI(ctx *c, uint32_t k)
{
    return (const float *)c->in[k];
}

static float *FO(ctx *c, uint32_t k)
{
    return (float *)c->out[k];
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
            gn_opcheck_fail(c->d->g, c->d->id, c->err, GN_ENOMEM, "cannot grow scratch to %zu floats", cap);
            return NULL;
        }
        ex->scratch = p;
        ex->cap = cap;
    }
    return ex->scratch;
}

/*
 * C[M,N] = alpha · A[M,K] · op(B) + beta · C, row-major; op(B) = B[K,N], or
 * Bᵀ where B is [N,K] when TB.  opcheck has checked the sizes fit in int.
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


/* ========================== matmul ========================== */

static int op_matmul(ctx *c)
{
    int64_t M = c->d->u.matmul.M, N = c->d->u.matmul.N, K = c->d->u.matmul.K, ba = c->d->u.matmul.batch;
    int tb = c->d->u.matmul.tb;
    float *out = FO(c, 0);
    float beta = 0.0f;
    if (c->d->u.matmul.bias) {
        const float *bias = FI(c, 2);
        for (int64_t r = 0; r < ba * M; r++)
            memcpy(out + r * N, bias, (size_t)N * sizeof(float));
        beta = 1.0f;
    }
    if (K == 0) {
        if (!c->d->u.matmul.bias)
            memset(out, 0, (size_t)(ba * M * N) * sizeof(float));
        return 0;
    }
    if (c->d->u.matmul.wbatch == 1)
        gemm(tb, ba * M, N, K, 1.0f, FI(c, 0), K, FI(c, 1), tb ? K : N, beta, out, N);
    else
        for (int64_t b = 0; b < ba; b++)
            gemm(tb, M, N, K, 1.0f, FI(c, 0) + b * M * K, K, FI(c, 1) + b * K * N, tb ? K : N, beta,
                 out + b * M * N, N);
    return 0;
}

/* ========================== normalisation ========================== */

static int op_norm(ctx *c)
{
    int64_t D = c->d->u.norm.D, rows = c->d->u.norm.rows;
    int rms = c->d->u.norm.rms;
    double eps = c->d->u.norm.eps;
    const float *w = c->d->u.norm.weight ? FI(c, 1) : NULL, *b = c->d->u.norm.bias ? FI(c, 2) : NULL;
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
        for (int64_t j = 0; j < D; j++)
            yi[j] = gn_opcheck_norm_at(xi, j, mean, inv, w, b);
        if (c->d->u.norm.stats && rms) {
            FO(c, 1)[r] = inv;
        } else if (c->d->u.norm.stats) {
            FO(c, 1)[r] = (float)mean;
            FO(c, 2)[r] = inv;
        }
    }
    return 0;
}

/* x [N, C, S...], weight and bias [C]: statistics per (n, group) over
 * C/G channels x S, in double; the affine per channel. */
static int op_group_norm(ctx *c)
{
    const __typeof__(c->d->u.group_norm) *p = &c->d->u.group_norm;
    int64_t N = p->N, C = p->C, S = p->S, G = p->G, Cg = C / G, len = Cg * S;
    const float *w = p->weight ? FI(c, 1) : NULL, *b = p->bias ? FI(c, 2) : NULL;
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < G; g++) {
            const float *xi = FI(c, 0) + (n * C + g * Cg) * S;
            float *yi = FO(c, 0) + (n * C + g * Cg) * S;
            double mean = 0.0, var = 0.0;
            for (int64_t j = 0; j < len; j++)
                mean += xi[j];
            mean = len ? mean / (double)len : 0.0;
            for (int64_t j = 0; j < len; j++)
                var += ((double)xi[j] - mean) * ((double)xi[j] - mean);
            float inv = (float)(1.0 / sqrt((len ? var / (double)len : 0.0) + p->eps));
            for (int64_t j = 0; j < len; j++)
                yi[j] = gn_opcheck_group_norm_at(xi, j, g * Cg, S, mean, inv, w, b);
            if (p->stats) {
                FO(c, 1)[n * G + g] = (float)mean;
                FO(c, 2)[n * G + g] = inv;
            }
        }
    return 0;
}

/* x [N, C, ...], then optional weight, bias, running_mean, running_var [C]. */
static int op_batch_norm(ctx *c)
{
    int64_t N = c->d->u.batch_norm.N, C = c->d->u.batch_norm.C, S = c->d->u.batch_norm.S;
    double eps = c->d->u.batch_norm.eps;
    uint32_t np = c->d->u.batch_norm.nparams;
    for (int64_t ch = 0; ch < C; ch++) {
        double w = np > 0 ? FI(c, 1)[ch] : 1.0, b = np > 1 ? FI(c, 2)[ch] : 0.0;
        double mean = np > 2 ? FI(c, 3)[ch] : 0.0, var = np > 3 ? FI(c, 4)[ch] : 1.0;
        float scale, shift;
        gn_opcheck_batch_norm_affine(w, b, mean, var, eps, &scale, &shift);
        if (c->d->u.batch_norm.stats && gn_opcheck_output(c->d, 1)->bytes) /* else 0 elements, as torch's */
            FO(c, 1)[ch] = (float)mean;
        if (c->d->u.batch_norm.stats && gn_opcheck_output(c->d, 2)->bytes)
            FO(c, 2)[ch] = (float)(1.0 / sqrt(var + eps));
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

/* Softmax of X[0..n) in place over the first LIM entries; the rest 0.
 * With SAFE, a row with nothing but -inf (every key masked) is all 0, as
 * torch's scaled_dot_product_attention gives; else it is NaN, as softmax. */
static void softmax_row(float *x, int64_t n, int64_t lim, int64_t stride, int safe)
{
    float m = -INFINITY;
    for (int64_t j = 0; j < lim; j++)
        if (x[j * stride] > m)
            m = x[j * stride];
    if (safe && m == -INFINITY)
        lim = 0;
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
    if (c->d->u.softmax.scalar) {
        FO(c, 0)[0] = 1.0f;
        return 0;
    }
    int64_t outer = c->d->u.softmax.outer, len = c->d->u.softmax.len, inner = c->d->u.softmax.inner;
    memcpy(FO(c, 0), FI(c, 0), (size_t)(outer * len * inner) * sizeof(float));
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            softmax_row(FO(c, 0) + o * len * inner + i, len, len, inner, 0);
    return 0;
}

/* q [B, H, T, dh], k and v [B, KV, Tk, dh] -> out [B, H, T, dh]. */
static int op_attention(ctx *c)
{
    int64_t B = c->d->u.attention.B, H = c->d->u.attention.H, T = c->d->u.attention.T;
    int64_t dh = c->d->u.attention.dh, KV = c->d->u.attention.KV, Tk = c->d->u.attention.Tk;
    int64_t off = c->d->u.attention.off, group = c->d->u.attention.group;
    int causal = c->d->u.attention.causal, mask = c->d->u.attention.mask;
    if (T == 0 || dh == 0)
        return 0;
    if (Tk == 0) {
        memset(FO(c, 0), 0, (size_t)(B * H * T * dh) * sizeof(float));
        return 0;
    }
    float scale = c->d->u.attention.scale;
    float *S = scratch(c, (size_t)(T * Tk));
    if (!S)
        return GN_ENOMEM;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++) {
            const float *Q = FI(c, 0) + (b * H + h) * T * dh;
            const float *K = FI(c, 1) + (b * KV + h / group) * Tk * dh;
            const float *V = FI(c, 2) + (b * KV + h / group) * Tk * dh;
            gemm(1, T, Tk, dh, scale, Q, dh, K, dh, 0.0f, S, Tk);
            for (int64_t t = 0; t < T; t++) {
                int64_t lim = causal ? off + t + 1 : Tk;
                if (mask) { /* scores of masked keys -> -inf (bool), or + the mask (additive) */
                    const int64_t *ms = c->d->u.attention.mst;
                    int64_t mo = b * ms[0] + h * ms[1] + t * ms[2];
                    float *row = S + t * Tk;
                    if (mask == 1)
                        for (int64_t j = 0; j < lim; j++)
                            row[j] = ((const uint8_t *)c->in[3])[mo + j * ms[3]] ? row[j] : -INFINITY;
                    else
                        for (int64_t j = 0; j < lim; j++)
                            row[j] += FI(c, 3)[mo + j * ms[3]];
                }
                softmax_row(S + t * Tk, Tk, lim, 1, mask != 0);
            }
            gemm(0, T, dh, Tk, 1.0f, S, Tk, V, dh, 0.0f, FO(c, 0) + (b * H + h) * T * dh, dh);
        }
    return 0;
}

/* ========================== embeddings ========================== */

/* Element I of index output K of a bag := V. */
static void put_index(ctx *c, uint32_t k, int64_t i, int64_t v)
{
    store_index(c->out[k], gn_opcheck_output(c->d, k)->dtype, i, v);
}

/*
 * weight [V, d], ids (i64/i32, any shape) -> [ids..., d]: rows copied in
 * their storage type.  Bags: ids [B, P], or ids [n] cut by offsets; each
 * bag sums (times the per-sample weight), averages or takes the max of its
 * rows in f32, in id order, skipping padding_idx; an empty bag is 0.
 */
static int op_embedding(ctx *c)
{
    const __typeof__(c->d->u.embedding) *e = &c->d->u.embedding;
    int64_t d = e->d, bags = e->bags, per = e->per;
    gn_dtype dt = gn_opcheck_input(c->d, 1)->dtype;
    if (e->mode == GN_EMB_LOOKUP) {
        size_t row = (size_t)d * e->es;
        for (int64_t bi = 0; bi < bags; bi++)
            memcpy((char *)c->out[0] + (size_t)bi * row,
                   (const char *)c->in[0] + (size_t)load_index(c->in[1], dt, bi) * row, row);
        return 0;
    }
    int mx = e->mode == GN_EMB_MAX;
    uint32_t nout = c->d->node->nout;
    gn_dtype odt = e->offsets ? gn_opcheck_input(c->d, 2)->dtype : GN_DTYPE_I64;
    int64_t noff = e->offsets ? (int64_t)(gn_opcheck_input(c->d, 2)->bytes / gn_dtype_size(odt)) : 0;
    /* index outputs: sizes decide what they hold (EXECUTOR.md) */
    int64_t n1 = nout > 1 ? (int64_t)(gn_opcheck_output(c->d, 1)->bytes / gn_dtype_size(gn_opcheck_output(c->d, 1)->dtype)) : -1;
    int64_t n2 = nout > 2 ? (int64_t)(gn_opcheck_output(c->d, 2)->bytes / gn_dtype_size(gn_opcheck_output(c->d, 2)->dtype)) : -1;
    int64_t n3 = nout > 3 ? (int64_t)(gn_opcheck_output(c->d, 3)->bytes / gn_dtype_size(gn_opcheck_output(c->d, 3)->dtype)) : -1;
    int maxidx = mx && n3 == bags * d;
    for (int64_t i = 0; i < n1; i++)
        put_index(c, 1, i, 0);
    for (int64_t i = 0; i < n3; i++)
        put_index(c, 3, i, 0);
    float *out = FO(c, 0);
    for (int64_t bi = 0; bi < bags; bi++) {
        float *y = out + bi * d;
        int64_t begin = bi * per, end = (bi + 1) * per, count = 0;
        if (e->offsets) {
            begin = load_index(c->in[2], odt, bi);
            end = bi + 1 < noff ? load_index(c->in[2], odt, bi + 1) : e->n;
        }
        for (int64_t j = 0; j < d; j++)
            y[j] = 0.0f;
        for (int64_t p = begin; p < end; p++) {
            int64_t id = load_index(c->in[1], dt, p);
            if (n1 == e->n)
                put_index(c, 1, p, bi);
            if (id == e->pad)
                continue;
            const float *row = FI(c, 0) + id * d;
            if (mx && count == 0) {
                memcpy(y, row, (size_t)d * sizeof(float));
                if (maxidx)
                    for (int64_t j = 0; j < d; j++)
                        put_index(c, 3, bi * d + j, id);
            } else if (mx) {
                for (int64_t j = 0; j < d; j++) {
                    if (maxidx && row[j] > y[j])
                        put_index(c, 3, bi * d + j, id);
                    y[j] = fmaxf(y[j], row[j]);
                }
            } else if (e->psw) {
                float ws = FI(c, 3)[p];
                for (int64_t j = 0; j < d; j++)
                    y[j] += ws * row[j];
            } else {
                for (int64_t j = 0; j < d; j++)
                    y[j] += row[j];
            }
            count++;
        }
        if (e->mode == GN_EMB_MEAN && count)
            for (int64_t j = 0; j < d; j++)
                y[j] /= (float)count;
        if (n2 == bags)
            put_index(c, 2, bi, count);
        if (!maxidx && n3 == bags)
            put_index(c, 3, bi, count);
    }
    if (n2 != bags) /* a size other than one per bag: zeros */
        for (int64_t i = 0; i < n2; i++)
            put_index(c, 2, i, 0);
    return 0;
}

/* ========================== elementwise ========================== */

/* Calls back once per element of O with the offsets into A and B. */
static void bcast_binary(int f, const gn_tensor *o, const float *a, const int64_t *sa, const float *b,
                         const int64_t *sb, float *y)
{
    int64_t idx[GN_MAX_DIMS] = {0}, oa = 0, ob = 0, n = 1;
    uint32_t nd = o->ndim;
    for (uint32_t i = 0; i < nd; i++)
        n *= o->shape[i];
    for (int64_t i = 0; i < n; i++) {
        y[i] = gn_opcheck_binary(f, a[oa], b[ob]);
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
    int64_t B = c->d->u.elementwise.B, H = c->d->u.elementwise.H, T = c->d->u.elementwise.T;
    int64_t dh = c->d->u.elementwise.dh, half = dh / 2;
    int bcast = c->d->u.elementwise.bcast;
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
    int64_t dh = c->d->u.elementwise.dh, n = c->d->u.elementwise.n;
    float theta = c->d->u.elementwise.theta;
    for (int64_t i = 0; i < n; i++) {
        float pos = (float)load_index(c->in[0], gn_opcheck_input(c->d, 0)->dtype, i);
        for (int64_t j = 0; j < dh / 2; j++) {
            float inv = 1.0f / powf(theta, (float)(2 * j) / (float)dh);
            float a = pos * inv;
            FO(c, 0)[i * dh + j] = FO(c, 0)[i * dh + j + dh / 2] = cosf(a);
            FO(c, 1)[i * dh + j] = FO(c, 1)[i * dh + j + dh / 2] = sinf(a);
        }
    }
    return 0;
}

/* One element of a numeric fn (GN_OPK_NUMERIC) of operands A, B, C in double. */
static double numeric_at(gn_opcheck_nfn f, int bitwise, double a, double b, double c)
{
    switch (f) {
    case GN_NF_ADD: return a + b;
    case GN_NF_SUB: return a - b;
    case GN_NF_MUL: return a * b;
    case GN_NF_DIV: return a / b;
    case GN_NF_MAX: return a != a || a > b ? a : b; /* NaN propagates, as torch.maximum */
    case GN_NF_MIN: return a != a || a < b ? a : b;
    case GN_NF_EQ: return a == b;
    case GN_NF_NE: return a != b;
    case GN_NF_LT: return a < b;
    case GN_NF_LE: return a <= b;
    case GN_NF_GT: return a > b;
    case GN_NF_GE: return a >= b;
    case GN_NF_AND: return bitwise ? (double)((int64_t)a & (int64_t)b) : (a != 0 && b != 0);
    case GN_NF_OR: return bitwise ? (double)((int64_t)a | (int64_t)b) : (a != 0 || b != 0);
    case GN_NF_XOR: return bitwise ? (double)((int64_t)a ^ (int64_t)b) : ((a != 0) != (b != 0));
    case GN_NF_LAND: return a != 0 && b != 0;
    case GN_NF_LOR: return a != 0 || b != 0;
    case GN_NF_LXOR: return (a != 0) != (b != 0);
    case GN_NF_REM: return a - b * floor(a / b); /* the sign of b, as torch.remainder */
    case GN_NF_FLOORDIV: return floor(a / b);
    case GN_NF_NEG: return -a;
    case GN_NF_NOT: return bitwise ? (double)~(int64_t)a : (a == 0);
    case GN_NF_LNOT: return a == 0;
    default: return a != 0 ? b : c; /* GN_NF_WHERE */
    }
}

/* Numeric fns: each output element from its operands at their broadcast strides. */
static int op_numeric(ctx *c)
{
    const gn_opdesc *d = c->d;
    const __typeof__(d->u.elementwise) *e = &d->u.elementwise;
    const gn_tensor *o = gn_opcheck_output(d, 0);
    int nd = (int)o->ndim;
    int64_t idx[GN_MAX_DIMS] = {0}, off[3] = {0, 0, 0};
    double v[3] = {0, 0, 0};
    for (int64_t i = 0; i < e->n; i++) {
        for (int k = 0; k < e->nops; k++)
            v[k] = e->oin[k] < 0 ? e->sval : gn_opcheck_load_num(c->in[e->oin[k]], e->odt[k], off[k]);
        gn_opcheck_store_num(c->out[0], e->to, i, numeric_at(e->nfn, e->bitwise, v[0], v[1], v[2]));
        for (int dd = nd - 1; dd >= 0; dd--) { /* next output element: carry through the dims */
            for (int k = 0; k < e->nops; k++)
                off[k] += e->ost[k][dd];
            if (++idx[dd] < o->shape[dd])
                break;
            for (int k = 0; k < e->nops; k++)
                off[k] -= e->ost[k][dd] * o->shape[dd];
            idx[dd] = 0;
        }
    }
    return 0;
}

static int op_elementwise(ctx *c)
{
    int64_t n = c->d->u.elementwise.n;
    int f = c->d->u.elementwise.fn;
    switch (c->d->kind) {
    case GN_OPK_NUMERIC: return op_numeric(c);
    case GN_OPK_ROTARY: return rotary(c);
    case GN_OPK_ROTARY_TABLE: return rotary_table(c);
    case GN_OPK_CAST:
        for (int64_t i = 0; i < n; i++)
            gn_opcheck_store_num(c->out[0], c->d->u.elementwise.to, i,
                                 gn_opcheck_load_num(c->in[0], c->d->u.elementwise.from, i));
        return 0;
    case GN_OPK_UNARY: {
        const float *x = FI(c, 0);
        float *y = FO(c, 0);
        if (f == GN_EW_RELU) /* the common ones with the switch out of the loop (it vectorises) */
            for (int64_t j = 0; j < n; j++)
                y[j] = x[j] <= 0.0f ? 0.0f : x[j]; /* NaN stays NaN, as in torch */
        else
            for (int64_t j = 0; j < n; j++)
                y[j] = gn_opcheck_unary(f, x[j]);
        return 0;
    }
    default: break;
    }
    float *y = FO(c, 0);
    if (c->d->u.elementwise.spos >= 0) { /* a scalar operand: stride 0 over every dim */
        const float *s = &c->d->u.elementwise.scalar, *x = FI(c, 0);
        int first = c->d->u.elementwise.spos == 0;
        bcast_binary(f, gn_opcheck_output(c->d, 0), first ? s : x, c->d->u.elementwise.sa, first ? x : s,
                     c->d->u.elementwise.sb, y);
        return 0;
    }
    const float *a = FI(c, 0), *b = FI(c, 1);
    if (c->d->u.elementwise.same) {
        if (f == GN_EW_ADD)
            for (int64_t j = 0; j < n; j++)
                y[j] = a[j] + b[j];
        else if (f == GN_EW_MUL)
            for (int64_t j = 0; j < n; j++)
                y[j] = a[j] * b[j];
        else
            for (int64_t j = 0; j < n; j++)
                y[j] = gn_opcheck_binary(f, a[j], b[j]);
        return 0;
    }
    bcast_binary(f, gn_opcheck_output(c->d, 0), a, c->d->u.elementwise.sa, b, c->d->u.elementwise.sb, y);
    return 0;
}

/* ========================== reduction ========================== */

/* Reductions in double from any castable type: any, all, cumsum, sums and extremes of ids or masks. */
static int op_reduction_num(ctx *c)
{
    const __typeof__(c->d->u.reduction) *r = &c->d->u.reduction;
    gn_opcheck_rfn fn = r->fn;
    int64_t outer = r->outer, len = r->len, inner = r->inner;
    gn_dtype odt = gn_opcheck_output(c->d, 0)->dtype;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = a * len * inner + i, bi = 0;
            double acc = fn == GN_RED_ALL ? 1.0 : 0.0, best = len ? gn_opcheck_load_num(c->in[0], r->from, base) : 0;
            for (int64_t j = 0; j < len; j++) {
                double v = gn_opcheck_load_num(c->in[0], r->from, base + j * inner);
                if (fn == GN_RED_ANY)
                    acc = acc != 0 || v != 0;
                else if (fn == GN_RED_ALL)
                    acc = acc != 0 && v != 0;
                else
                    acc += v;
                if (fn == GN_RED_CUMSUM)
                    gn_opcheck_store_num(c->out[0], r->to, base + j * inner, acc);
                if ((fn == GN_RED_MAX || fn == GN_RED_ARGMAX) ? v > best : v < best) { /* first extreme wins */
                    best = v;
                    bi = j;
                }
            }
            int64_t k = a * inner + i;
            if (fn == GN_RED_ARGMAX || fn == GN_RED_ARGMIN)
                store_index(c->out[0], odt, k, bi);
            else if (fn == GN_RED_MAX || fn == GN_RED_MIN)
                gn_opcheck_store_num(c->out[0], r->to, k, best);
            else if (fn == GN_RED_MEAN)
                gn_opcheck_store_num(c->out[0], r->to, k, acc / (double)len);
            else if (fn != GN_RED_CUMSUM)
                gn_opcheck_store_num(c->out[0], r->to, k, acc);
        }
    return 0;
}

static int op_reduction(ctx *c)
{
    if (c->d->u.reduction.num)
        return op_reduction_num(c);
    gn_opcheck_rfn fn = c->d->u.reduction.fn;
    int arg = c->d->u.reduction.arg, isum = fn == GN_RED_SUM, imean = fn == GN_RED_MEAN;
    int imax = fn == GN_RED_MAX || fn == GN_RED_ARGMAX;
    int64_t outer = c->d->u.reduction.outer, len = c->d->u.reduction.len, inner = c->d->u.reduction.inner;
    gn_dtype odt = gn_opcheck_output(c->d, 0)->dtype;
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
                store_index(c->out[0], odt, k, bi);
            else
                FO(c, 0)[k] = isum ? (float)acc : imean ? (float)(acc / (double)len) : best;
        }
    return 0;
}

/* ========================== view, copy, concat ========================== */

/*
 * Output O of a strided view: O's elements in row-major order are x's
 * elements BASE + sum(i_d * ST[d]), ES bytes each (moved as bytes).
 */
static void strided_copy(const gn_tensor *o, const char *src, const int64_t *st, int64_t base, size_t es,
                         char *dst)
{
    int nd = (int)o->ndim;
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= o->shape[i];
    if (n == 0)
        return;
    int64_t row = nd ? o->shape[nd - 1] : 1, rst = nd ? st[nd - 1] : 0, rows = n / row;
    int64_t idx[GN_MAX_DIMS] = {0}, off = base;
    for (int64_t r = 0; r < rows; r++) {
        char *dp = dst + (size_t)(r * row) * es;
        if (rst == 1)
            memcpy(dp, src + (size_t)off * es, (size_t)row * es);
        else
            for (int64_t j = 0; j < row; j++)
                memcpy(dp + (size_t)j * es, src + (size_t)(off + j * rst) * es, es);
        for (int d = nd - 2; d >= 0; d--) { /* next row: carry through the dims */
            off += st[d];
            if (++idx[d] < o->shape[d])
                break;
            off -= st[d] * o->shape[d];
            idx[d] = 0;
        }
    }
}

static int op_view(ctx *c)
{
    const float *src = FI(c, 0);
    float *dst = FO(c, 0);
    const gn_opdesc *d = c->d;
    switch (d->kind) {
    case GN_OPK_RESHAPE:
        memcpy(c->out[0], c->in[0], (size_t)d->u.view.bytes);
        return 0;
    case GN_OPK_SPLIT_HEADS: { /* [B, T, C] -> outputs [B, h_k, T, dh], taking channels in order */
        int64_t B = d->u.view.B, T = d->u.view.T, C = d->u.view.C, off = 0;
        for (uint32_t k = 0; k < c->d->node->nout; k++) {
            const gn_tensor *o = gn_opcheck_output(c->d, k);
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
    case GN_OPK_MERGE_HEADS: {
        int64_t B = d->u.view.B, H = d->u.view.H, T = d->u.view.T, dh = d->u.view.dh;
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t t = 0; t < T; t++)
                    memcpy(dst + (b * T + t) * H * dh + h * dh, src + ((b * H + h) * T + t) * dh,
                           (size_t)dh * sizeof(float));
        return 0;
    }
    case GN_OPK_PICK_POSITION: {
        int64_t B = d->u.view.B, T = d->u.view.T, dd = d->u.view.C, t = d->u.view.t;
        for (int64_t b = 0; b < B; b++)
            memcpy(dst + b * dd, src + (b * T + t) * dd, (size_t)dd * sizeof(float));
        return 0;
    }
    case GN_OPK_FLATTEN_TRANSPOSE: { /* [N, C, H, W] -> [N, H*W, C] */
        int64_t N = d->u.view.N, C = d->u.view.C, S = d->u.view.S;
        for (int64_t n = 0; n < N; n++)
            for (int64_t ch = 0; ch < C; ch++)
                for (int64_t s = 0; s < S; s++)
                    dst[(n * S + s) * C + ch] = src[(n * C + ch) * S + s];
        return 0;
    }
    case GN_OPK_PERMUTE_RESHAPE: { /* [N, A*K, H, W] -> [N, H*W*A, K] */
        int64_t N = d->u.view.N, K = d->u.view.K, A = d->u.view.A, S = d->u.view.S;
        for (int64_t n = 0; n < N; n++)
            for (int64_t a = 0; a < A; a++)
                for (int64_t k = 0; k < K; k++)
                    for (int64_t s = 0; s < S; s++)
                        dst[((n * S + s) * A + a) * K + k] = src[((n * A + a) * K + k) * S + s];
        return 0;
    }
    case GN_OPK_STRIDED: { /* select, slice, transpose, permute, split, unbind: any dtype */
        int64_t base = d->u.view.base;
        for (uint32_t k = 0; k < d->node->nout; k++) {
            const gn_tensor *o = gn_opcheck_output(d, k);
            strided_copy(o, c->in[0], d->u.view.st, base, d->u.view.es, c->out[k]);
            base += (d->u.view.sdim >= 0 ? o->shape[d->u.view.sdim] : 1) * d->u.view.dstride;
        }
        return 0;
    }
    default: { /* GN_OPK_EXPAND */
        int64_t zero[GN_MAX_DIMS] = {0};
        bcast_binary(GN_EW_ADD, gn_opcheck_output(c->d, 0), src, d->u.view.st, &(float){0.0f}, zero, dst);
        return 0;
    }
    }
}

static int op_concat(ctx *c)
{
    int dim = c->d->u.concat.dim;
    int64_t outer = c->d->u.concat.outer, inner = c->d->u.concat.inner;
    size_t es = c->d->u.concat.es;
    char *dst = c->out[0];
    for (int64_t a = 0; a < outer; a++)
        for (uint32_t k = 0; k < c->d->node->nin; k++) {
            if (gn_opcheck_input(c->d, k)->bytes == 0)
                continue; /* an empty input (torch's legacy [0]) adds nothing */
            size_t slab = (size_t)(gn_opcheck_input(c->d, k)->shape[dim] * inner) * es;
            memcpy(dst, (const char *)c->in[k] + (size_t)a * slab, slab);
            dst += slab;
        }
    return 0;
}

/* ========================== index and fill ========================== */

static int op_index(ctx *c)
{
    const gn_opdesc *d = c->d;
    if (d->kind == GN_OPK_ISIN) {
        for (int64_t i = 0; i < d->u.index.n; i++) {
            double v = gn_opcheck_load_num(c->in[0], d->u.index.xt, i);
            int hit = 0;
            for (int64_t j = 0; j < d->u.index.m && !hit; j++)
                hit = gn_opcheck_load_num(c->in[1], d->u.index.tt, j) == v;
            ((uint8_t *)c->out[0])[i] = (uint8_t)(hit != d->u.index.invert);
        }
        return 0;
    }
    if (d->kind == GN_OPK_UPSAMPLE) {
        int64_t NC = d->u.index.NC, H = d->u.index.H, W = d->u.index.W, Ho = d->u.index.Ho, Wo = d->u.index.Wo;
        for (int64_t p = 0; p < NC; p++)
            for (int64_t y = 0; y < Ho; y++)
                for (int64_t xx = 0; xx < Wo; xx++)
                    FO(c, 0)[(p * Ho + y) * Wo + xx] = FI(c, 0)[(p * H + y * H / Ho) * W + xx * W / Wo];
        return 0;
    }
    const gn_tensor *x = gn_opcheck_input(c->d, 0), *ix = gn_opcheck_input(c->d, 1);
    size_t es = d->u.index.es;
    int dim = d->u.index.dim;
    int64_t len = d->u.index.len, inner = d->u.index.inner, outer = d->u.index.outer, m = d->u.index.m;
    const char *src = c->in[0];
    char *dst = c->out[0];
    if (d->kind == GN_OPK_INDEX_SELECT) { /* out = x.index_select(dim, ix) */
        for (int64_t a = 0; a < outer; a++)
            for (int64_t j = 0; j < m; j++)
                memcpy(dst + (size_t)((a * m + j) * inner) * es,
                       src + (size_t)((a * len + load_index(c->in[1], ix->dtype, j)) * inner) * es,
                       (size_t)inner * es);
        return 0;
    }
    /* torch.gather: out has the indices' shape; out[.., j, ..] = x[.., ix[.., j, ..], ..] */
    int64_t iin = 1;
    for (uint32_t i = (uint32_t)dim + 1; i < ix->ndim; i++)
        iin *= ix->shape[i];
    for (int64_t e = 0; e < d->u.index.n; e++) {
        int64_t s = gn_opcheck_gather_src(e, (int)x->ndim, dim, x->shape, ix->shape, len, inner, iin, m,
                                          load_index(c->in[1], ix->dtype, e));
        memcpy(dst + (size_t)e * es, src + (size_t)s * es, es);
    }
    return 0;
}

static int op_fill(ctx *c)
{
    gn_opcheck_num to = c->d->u.fill.to;
    int64_t n = c->d->u.fill.n, last = c->d->u.fill.last;
    double v = c->d->u.fill.v, start = c->d->u.fill.start, step = c->d->u.fill.step;
    for (int64_t i = 0; i < n; i++)
        gn_opcheck_store_num(c->out[0], to, i, c->d->u.fill.arange ? start + step * (double)(last ? i % last : 0) : v);
    return 0;
}

/* ========================== convolution and pooling ========================== */

/* x [N, C, H, W], w [O, C/groups, kh, kw], bias [O] -> [N, O, Ho, Wo]. */
static int op_conv2d(ctx *c)
{
    const __typeof__(c->d->u.conv2d) *p = &c->d->u.conv2d;
    int64_t N = p->N, C = p->C, H = p->H, W = p->W, O = p->O, Cg = p->Cg, kh = p->kh, kw = p->kw;
    int64_t Ho = p->Ho, Wo = p->Wo, Og = p->Og, KK = p->KK, S = p->S;
    const int64_t *st = p->st, *pad = p->pad, *dil = p->dil;
    int direct = p->direct;
    float *col = direct ? NULL : scratch(c, (size_t)(KK * S));
    if (!direct && !col)
        return GN_ENOMEM;
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < p->G; g++) {
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
            if (p->bias)
                for (int64_t oc = 0; oc < Og; oc++) {
                    float b = FI(c, 2)[g * Og + oc];
                    for (int64_t s = 0; s < S; s++)
                        y[oc * S + s] += b;
                }
        }
    return 0;
}

/* Max pooling's indices: where in its input plane (h·W + w) each output's
 * maximum is, the first in row-major order on ties (as torch); the
 * windows are gn_opcheck_pool_at's. */
static void pool_indices(ctx *c)
{
    const __typeof__(c->d->u.pool2d) *q = &c->d->u.pool2d;
    int64_t H = q->H, W = q->W, Ho = q->Ho, Wo = q->Wo;
    gn_dtype dt = gn_opcheck_output(c->d, 1)->dtype;
    for (int64_t p = 0; p < q->NC; p++)
        for (int64_t oy = 0; oy < Ho; oy++)
            for (int64_t ox = 0; ox < Wo; ox++) {
                int64_t y0, y1, x0, x1;
                if (q->adaptive) {
                    y0 = oy * H / Ho, y1 = ((oy + 1) * H + Ho - 1) / Ho;
                    x0 = ox * W / Wo, x1 = ((ox + 1) * W + Wo - 1) / Wo;
                } else {
                    y0 = oy * q->st[0] - q->pad[0], y1 = y0 + q->k[0];
                    x0 = ox * q->st[1] - q->pad[1], x1 = x0 + q->k[1];
                    y0 = y0 < 0 ? 0 : y0, x0 = x0 < 0 ? 0 : x0;
                    y1 = y1 > H ? H : y1, x1 = x1 > W ? W : x1;
                }
                float m = -INFINITY;
                int64_t at = y0 * W + x0;
                for (int64_t iy = y0; iy < y1; iy++)
                    for (int64_t ix = x0; ix < x1; ix++) {
                        float v = FI(c, 0)[(p * H + iy) * W + ix];
                        if (v > m) {
                            m = v;
                            at = iy * W + ix;
                        }
                    }
                store_index(c->out[1], dt, (p * Ho + oy) * Wo + ox, at);
            }
}

static int op_pool2d(ctx *c)
{
    const __typeof__(c->d->u.pool2d) *q = &c->d->u.pool2d;
    int64_t NC = q->NC, H = q->H, W = q->W, Ho = q->Ho, Wo = q->Wo;
    const int64_t *k = q->k, *st = q->st, *pad = q->pad;
    for (int64_t p = 0; p < NC; p++)
        for (int64_t oy = 0; oy < Ho; oy++)
            for (int64_t ox = 0; ox < Wo; ox++)
                FO(c, 0)[(p * Ho + oy) * Wo + ox] =
                    gn_opcheck_pool_at(FI(c, 0), p, oy, ox, H, W, Ho, Wo, k, st, pad, q->adaptive, q->mx);
    if (q->indices)
        pool_indices(c);
    return 0;
}

/* ========================== interaction ========================== */

/* F features [B, D] (dense first) -> [B, D + F(F-1)/2]: the dense vector,
 * then dot(f_i, f_j) for i = 1..F-1, j = 0..i-1 (j <= i with attrs.self). */
static int op_interaction(ctx *c)
{
    int64_t B = c->d->u.interaction.B, D = c->d->u.interaction.D, F = c->d->u.interaction.F;
    int64_t W = c->d->u.interaction.W;
    int self = c->d->u.interaction.self;
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

#ifdef GN_HAVE_CBLAS
/* OpenBLAS's, where the BLAS is OpenBLAS (weak: absent elsewhere). */
extern void openblas_set_num_threads(int n) __attribute__((weak));
#endif

/*
 * BLAS threads: GN_CPU_THREADS (default 1).  A node and its client share
 * a machine's cores, and OpenBLAS's spinning worker threads, once the
 * cores are oversubscribed, slow a convolution down tenfold and make the
 * timings the calibration relies on erratic; one thread is the
 * predictable default.  Set once per process.
 */
static void blas_threads(void)
{
#ifdef GN_HAVE_CBLAS
    static int done;
    if (done || !openblas_set_num_threads)
        return;
    const char *env = getenv("GN_CPU_THREADS");
    int n = env ? atoi(env) : 1;
    openblas_set_num_threads(n >= 1 ? n : 1);
    done = 1;
#endif
}

static void *cpu_create(gn_error *err)
{
    blas_threads();
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
    free(ex->wide);
    free(ex->ptrs);
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

/* Index inputs are host memory already (opcheck's range checks read them). */
static int host_ids(void *arg, uint32_t k, const void **host)
{
    *host = ((void *const *)arg)[k];
    return 0;
}

static int dispatch(ctx *c);

/*
 * A node with f16/bf16 tensors: each such input widened to f32 in the
 * executor's `wide` area, the f32 kernel run with those buffers in their
 * place, each such output rounded back to its storage type (half.h).
 * Inputs and outputs of other dtypes are used in place.
 */
static int run_half(ctx *c)
{
    cpu *ex = c->ex;
    const gn_opdesc *d = c->d;
    uint32_t nin = d->node->nin, nout = d->node->nout;
    size_t need = 0;
    for (uint32_t k = 0; k < nin + nout; k++) {
        const gn_tensor *t = k < nin ? gn_opcheck_input(d, k) : gn_opcheck_output(d, k - nin);
        if (t->dtype == GN_DTYPE_F16 || t->dtype == GN_DTYPE_BF16)
            need += (size_t)(t->bytes / 2 + 15) / 16 * 16; /* 64-byte aligned pieces */
    }
    if (need > ex->wcap) {
        float *w = aligned_alloc(64, need * sizeof(float));
        if (!w)
            return gn_opcheck_fail(d->g, d->id, c->err, GN_ENOMEM, "cannot widen f16/bf16 tensors (%zu floats)", need);
        free(ex->wide);
        ex->wide = w;
        ex->wcap = need;
    }
    if (nin + nout > ex->pcap) {
        void **pp = realloc(ex->ptrs, (nin + nout) * sizeof(void *));
        if (!pp)
            return gn_opcheck_fail(d->g, d->id, c->err, GN_ENOMEM, "out of memory");
        ex->ptrs = pp;
        ex->pcap = nin + nout;
    }
    float *w = ex->wide;
    for (uint32_t k = 0; k < nin + nout; k++) {
        const gn_tensor *t = k < nin ? gn_opcheck_input(d, k) : gn_opcheck_output(d, k - nin);
        void *buf = k < nin ? c->in[k] : c->out[k - nin];
        ex->ptrs[k] = buf;
        if (t->dtype != GN_DTYPE_F16 && t->dtype != GN_DTYPE_BF16)
            continue;
        size_t n = (size_t)(t->bytes / 2);
        if (k < nin) {
            const uint16_t *h = buf;
            if (t->dtype == GN_DTYPE_F16)
                for (size_t i = 0; i < n; i++)
                    w[i] = gn_half_f16_to_f32(h[i]);
            else
                for (size_t i = 0; i < n; i++)
                    w[i] = gn_half_bf16_to_f32(h[i]);
        }
        ex->ptrs[k] = w;
        w += (n + 15) / 16 * 16;
    }
    ctx wc = *c;
    wc.in = ex->ptrs;
    wc.out = ex->ptrs + nin;
    int rc = dispatch(&wc);
    for (uint32_t k = 0; rc == 0 && k < nout; k++) {
        const gn_tensor *t = gn_opcheck_output(d, k);
        if (t->dtype != GN_DTYPE_F16 && t->dtype != GN_DTYPE_BF16)
            continue;
        const float *src = ex->ptrs[nin + k];
        uint16_t *h = c->out[k];
        size_t n = (size_t)(t->bytes / 2);
        if (t->dtype == GN_DTYPE_F16)
            for (size_t i = 0; i < n; i++)
                h[i] = gn_half_f32_to_f16(src[i]);
        else
            for (size_t i = 0; i < n; i++)
                h[i] = gn_half_f32_to_bf16(src[i]);
    }
    return rc;
}

static int cpu_run(void *p, const gn_graph *g, uint32_t id, void *const *in, void *const *out, gn_error *err)
{
    gn_opdesc d;
    int rc = gn_opcheck_node(g, id, "CPU", GN_OPCHECK_ALL, host_ids, (void *)in, &d, err);
    if (rc)
        return rc;
    ctx c = {.ex = p, .d = &d, .in = in, .out = out, .err = err};
    return d.half ? run_half(&c) : dispatch(&c);
}

/* The node's kernel (its buffers f32 where it computes on floats). */
static int dispatch(ctx *c)
{
    const gn_graph *g = c->d->g;
    uint32_t id = c->d->id;
    gn_error *err = c->err;
    switch (c->d->op) {
    case GN_OP_MATMUL: return op_matmul(c);
    case GN_OP_CONV2D: return op_conv2d(c);
    case GN_OP_POOL2D: return op_pool2d(c);
    case GN_OP_LAYER_NORM:
    case GN_OP_RMS_NORM: return op_norm(c);
    case GN_OP_BATCH_NORM: return op_batch_norm(c);
    case GN_OP_GROUP_NORM: return op_group_norm(c);
    case GN_OP_SOFTMAX: return op_softmax(c);
    case GN_OP_ATTENTION: return op_attention(c);
    case GN_OP_EMBEDDING:
    case GN_OP_EMBEDDING_BAG: return op_embedding(c);
    case GN_OP_ELEMENTWISE: return op_elementwise(c);
    case GN_OP_REDUCTION: return op_reduction(c);
    case GN_OP_VIEW:
    case GN_OP_COPY: return op_view(c);
    case GN_OP_CONCAT: return op_concat(c);
    case GN_OP_INDEX: return op_index(c);
    case GN_OP_FILL: return op_fill(c);
    case GN_OP_INTERACTION: return op_interaction(c);
    default: /* opcheck refuses every other op */
        return gn_opcheck_fail(g, id, err, GN_EUNSUPPORTED, "not run by the CPU executor");
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
