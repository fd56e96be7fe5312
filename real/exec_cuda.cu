/*
 * exec_cuda.cu — the CUDA executor's kernels (issue 4).
 *
 * Each kernel computes what the CPU executor's loop for the same op
 * computes (real/EXECUTOR.md), in the same arithmetic, so that the two
 * agree to fp32 rounding:
 *   - per-element kernels repeat the CPU's expression term by term; the
 *     file is compiled with -fmad=false so that nvcc does not contract
 *     a·b + c into an FMA the CPU build does not use;
 *   - reductions that the CPU does in double in a fixed order stay in
 *     double: one thread per output where the CPU loops per output
 *     (reduction, pooling, interaction, embedding bags: same order, same
 *     bits), one block per row with a fixed tree where rows are long
 *     (norm statistics, softmax sums: double sums of the same terms, so
 *     the float results agree unless a sum sits on a rounding boundary);
 *   - elementwise functions are the very expressions the CPU evaluates
 *     (gn_opcheck_unary/binary, real/opcheck.h, compiled here for the
 *     device); libm functions (expf, tanhf, erff, powf, sinf, cosf) are
 *     CUDA's, within 1–2 ulp of glibc's.
 * Every launch is deterministic (no atomics): reruns are bit-identical.
 *
 * Launchers (exec_cuda_int.h) enqueue on the default stream and return 0
 * or the cudaError_t of the launch; they never synchronise.
 */
#include <math.h>
#include <stdint.h>

#include <cuda_runtime.h>

#include "exec_cuda_int.h"

/* ========================== launch helpers ========================== */

enum { TPB = 256 };       /* threads per block */
enum { GEMM_TILE = 16 };  /* fallback gemm tile */

#define FOR_EACH(i, n)                                                                       \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                \
         i += (int64_t)gridDim.x * blockDim.x)

/* Blocks for N independent items of one thread each (grid-stride beyond). */
static unsigned blocks_for(int64_t n)
{
    int64_t b = (n + TPB - 1) / TPB;
    return (unsigned)(b < 1 ? 1 : b > (1 << 20) ? (1 << 20) : b);
}

/* Blocks for N rows of one block each (grid-stride beyond). */
static unsigned blocks_rows(int64_t n)
{
    return (unsigned)(n < 1 ? 1 : n > (1 << 20) ? (1 << 20) : n);
}

static int launched(void)
{
    return (int)cudaGetLastError();
}

__device__ static int64_t load_id(const void *p, int i64, int64_t i)
{
    return i64 ? ((const int64_t *)p)[i] : (int64_t)((const int32_t *)p)[i];
}

/* Copies one element of ES bytes. */
__device__ static void copy_elem(char *dst, const char *src, size_t es)
{
    switch (es) {
    case 8: *(uint64_t *)dst = *(const uint64_t *)src; break;
    case 4: *(uint32_t *)dst = *(const uint32_t *)src; break;
    case 2: *(uint16_t *)dst = *(const uint16_t *)src; break;
    default:
        for (size_t k = 0; k < es; k++)
            dst[k] = src[k];
    }
}

/* Sum over the block (fixed tree: deterministic); every thread gets it. */
__device__ static double block_sum(double v, double *sh)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, o);
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    if (lane == 0)
        sh[w] = v;
    __syncthreads();
    if (w == 0) {
        v = lane < (int)(blockDim.x >> 5) ? sh[lane] : 0.0;
        for (int o = 16; o > 0; o >>= 1)
            v += __shfl_down_sync(0xffffffffu, v, o);
        if (lane == 0)
            sh[0] = v;
    }
    __syncthreads();
    double r = sh[0];
    __syncthreads();
    return r;
}

/* Max over the block as the CPU takes it (v > m), NaNs never win. */
__device__ static float block_max(float v, float *sh)
{
    for (int o = 16; o > 0; o >>= 1) {
        float u = __shfl_down_sync(0xffffffffu, v, o);
        v = u > v ? u : v;
    }
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    if (lane == 0)
        sh[w] = v;
    __syncthreads();
    if (w == 0) {
        v = lane < (int)(blockDim.x >> 5) ? sh[lane] : -INFINITY;
        for (int o = 16; o > 0; o >>= 1) {
            float u = __shfl_down_sync(0xffffffffu, v, o);
            v = u > v ? u : v;
        }
        if (lane == 0)
            sh[0] = v;
    }
    __syncthreads();
    float r = sh[0];
    __syncthreads();
    return r;
}

/* ========================== gemm (no-cuBLAS fallback) ========================== */

__global__ static void k_gemm(int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                              const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    __shared__ float As[GEMM_TILE][GEMM_TILE], Bs[GEMM_TILE][GEMM_TILE + 1];
    int tx = threadIdx.x, ty = threadIdx.y;
    int64_t row = (int64_t)blockIdx.y * GEMM_TILE + ty, col = (int64_t)blockIdx.x * GEMM_TILE + tx;
    float acc = 0.0f;
    for (int64_t k0 = 0; k0 < K; k0 += GEMM_TILE) {
        int64_t ka = k0 + tx, kb = k0 + ty;
        As[ty][tx] = row < M && ka < K ? A[row * lda + ka] : 0.0f;
        Bs[ty][tx] = kb < K && col < N ? (tb ? B[col * ldb + kb] : B[kb * ldb + col]) : 0.0f;
        __syncthreads();
        for (int k = 0; k < GEMM_TILE; k++)
            acc += As[ty][k] * Bs[k][tx];
        __syncthreads();
    }
    if (row < M && col < N) {
        float *c = C + row * ldc + col;
        *c = beta == 0.0f ? alpha * acc : alpha * acc + beta * *c;
    }
}

extern "C" int gn__cuda_gemm(int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                             int64_t sa, const float *B, int64_t ldb, int64_t sb, float beta, float *C, int64_t ldc,
                             int64_t sc, int64_t batch)
{
    const int64_t maxy = 65535 * (int64_t)GEMM_TILE; /* rows per launch (gridDim.y) */
    dim3 threads(GEMM_TILE, GEMM_TILE);
    for (int64_t b = 0; b < batch; b++)
        for (int64_t r0 = 0; r0 < M; r0 += maxy) {
            int64_t m = M - r0 < maxy ? M - r0 : maxy;
            dim3 grid((unsigned)((N + GEMM_TILE - 1) / GEMM_TILE), (unsigned)((m + GEMM_TILE - 1) / GEMM_TILE));
            k_gemm<<<grid, threads>>>(tb, m, N, K, alpha, A + b * sa + r0 * lda, lda, B + b * sb, ldb, beta,
                                      C + b * sc + r0 * ldc, ldc);
            int rc = launched();
            if (rc)
                return rc;
        }
    return 0;
}

/* ========================== bias, norms ========================== */

__global__ static void k_fill_rows(float *y, const float *row, int64_t rows, int64_t n)
{
    FOR_EACH(e, rows * n) y[e] = row[e % n];
}

extern "C" int gn__cuda_fill_rows(float *y, const float *row, int64_t rows, int64_t n)
{
    if (rows * n == 0)
        return 0;
    k_fill_rows<<<blocks_for(rows * n), TPB>>>(y, row, rows, n);
    return launched();
}

__global__ static void k_channel_bias(float *y, const float *bias, int64_t N, int64_t C, int64_t S)
{
    FOR_EACH(e, N * C * S) y[e] += bias[(e / S) % C];
}

extern "C" int gn__cuda_channel_bias(float *y, const float *bias, int64_t N, int64_t C, int64_t S)
{
    if (N * C * S == 0)
        return 0;
    k_channel_bias<<<blocks_for(N * C * S), TPB>>>(y, bias, N, C, S);
    return launched();
}

/* One block per row: mean (layer_norm) and variance in double. */
__global__ static void k_norm(const float *x, const float *w, const float *b, float *y, int64_t rows, int64_t D,
                              double eps, int rms)
{
    __shared__ double sh[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *xi = x + r * D;
        float *yi = y + r * D;
        double mean = 0.0, var = 0.0;
        if (!rms) {
            double s = 0.0;
            for (int64_t j = threadIdx.x; j < D; j += blockDim.x)
                s += xi[j];
            mean = block_sum(s, sh) / (double)D;
        }
        for (int64_t j = threadIdx.x; j < D; j += blockDim.x)
            var += ((double)xi[j] - mean) * ((double)xi[j] - mean);
        var = block_sum(var, sh);
        float inv = (float)(1.0 / sqrt(var / (double)D + eps));
        for (int64_t j = threadIdx.x; j < D; j += blockDim.x)
            yi[j] = gn_opcheck_norm_at(xi, j, mean, inv, w, b);
    }
}

extern "C" int gn__cuda_norm(const float *x, const float *w, const float *b, float *y, int64_t rows, int64_t D,
                             double eps, int rms)
{
    if (rows * D == 0)
        return 0;
    k_norm<<<blocks_rows(rows), TPB>>>(x, w, b, y, rows, D, eps, rms);
    return launched();
}

/* One block per (sample, group): mean and variance over its C/G channels in double. */
__global__ static void k_group_norm(const float *x, const float *w, const float *b, float *y, int64_t N, int64_t C,
                                    int64_t S, int64_t G, double eps)
{
    __shared__ double sh[32];
    int64_t Cg = C / G, len = Cg * S;
    for (int64_t r = blockIdx.x; r < N * G; r += gridDim.x) {
        int64_t g = r % G;
        const float *xi = x + r * len; /* (n·C + g·Cg)·S = r·len */
        float *yi = y + r * len;
        double s = 0.0, var = 0.0;
        for (int64_t j = threadIdx.x; j < len; j += blockDim.x)
            s += xi[j];
        double mean = block_sum(s, sh) / (double)len;
        for (int64_t j = threadIdx.x; j < len; j += blockDim.x)
            var += ((double)xi[j] - mean) * ((double)xi[j] - mean);
        var = block_sum(var, sh);
        float inv = (float)(1.0 / sqrt(var / (double)len + eps));
        for (int64_t j = threadIdx.x; j < len; j += blockDim.x)
            yi[j] = gn_opcheck_group_norm_at(xi, j, g * Cg, S, mean, inv, w, b);
    }
}

extern "C" int gn__cuda_group_norm(const float *x, const float *w, const float *b, float *y, int64_t N, int64_t C,
                                   int64_t S, int64_t G, double eps)
{
    if (N * C * S == 0)
        return 0;
    k_group_norm<<<blocks_rows(N * G), TPB>>>(x, w, b, y, N, C, S, G, eps);
    return launched();
}

__global__ static void k_batch_norm(const float *x, const float *w, const float *b, const float *mean,
                                    const float *var, float *y, int64_t N, int64_t C, int64_t S, double eps)
{
    FOR_EACH(e, N * C * S) {
        int64_t ch = (e / S) % C;
        double wc = w ? w[ch] : 1.0, bc = b ? b[ch] : 0.0, mc = mean ? mean[ch] : 0.0, vc = var ? var[ch] : 1.0;
        float scale, shift;
        gn_opcheck_batch_norm_affine(wc, bc, mc, vc, eps, &scale, &shift);
        y[e] = x[e] * scale + shift;
    }
}

extern "C" int gn__cuda_batch_norm(const float *x, const float *w, const float *b, const float *mean,
                                   const float *var, float *y, int64_t N, int64_t C, int64_t S, double eps)
{
    if (N * C * S == 0)
        return 0;
    k_batch_norm<<<blocks_for(N * C * S), TPB>>>(x, w, b, mean, var, y, N, C, S, eps);
    return launched();
}

/* ========================== softmax ========================== */

/* One block per row; max and exp in float, the sum in double, as the CPU. */
__global__ static void k_softmax(float *x, int64_t outer, int64_t len, int64_t inner, int64_t T, int64_t off,
                                 int causal)
{
    __shared__ double sh[32];
    __shared__ float shf[32];
    int64_t rows = outer * inner;
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        float *p = x + (r / inner) * len * inner + r % inner;
        int64_t lim = causal ? off + r % T + 1 : len;
        lim = lim > len ? len : lim;
        float m = -INFINITY;
        for (int64_t j = threadIdx.x; j < lim; j += blockDim.x)
            m = p[j * inner] > m ? p[j * inner] : m;
        m = block_max(m, shf);
        double s = 0.0;
        for (int64_t j = threadIdx.x; j < lim; j += blockDim.x) {
            float e = expf(p[j * inner] - m);
            p[j * inner] = e;
            s += e;
        }
        s = block_sum(s, sh);
        float inv = (float)(1.0 / s);
        for (int64_t j = threadIdx.x; j < len; j += blockDim.x)
            p[j * inner] = j < lim ? p[j * inner] * inv : 0.0f;
    }
}

extern "C" int gn__cuda_softmax(float *x, int64_t outer, int64_t len, int64_t inner, int64_t T, int64_t off,
                                int causal)
{
    if (outer * inner * len == 0)
        return 0;
    k_softmax<<<blocks_rows(outer * inner), TPB>>>(x, outer, len, inner, T > 0 ? T : 1, off, causal);
    return launched();
}

/* ========================== embeddings ========================== */

__global__ static void k_embedding(const float *w, const void *ids, int ids64, float *y, int64_t bags, int64_t per,
                                   int64_t d, int mode)
{
    FOR_EACH(e, bags * d) {
        int64_t bi = e / d, j = e % d;
        if (mode == GN_EMB_LOOKUP) {
            y[e] = w[load_id(ids, ids64, bi) * d + j];
            continue;
        }
        float acc = mode == GN_EMB_MAX && per ? -INFINITY : 0.0f;
        for (int64_t p = 0; p < per; p++) {
            float v = w[load_id(ids, ids64, bi * per + p) * d + j];
            acc = mode == GN_EMB_MAX ? fmaxf(acc, v) : acc + v;
        }
        if (mode == GN_EMB_MEAN && per)
            acc /= (float)per;
        y[e] = acc;
    }
}

extern "C" int gn__cuda_embedding(const float *w, const void *ids, int ids64, float *y, int64_t bags, int64_t per,
                                  int64_t d, gn_opcheck_emode mode)
{
    if (bags * d == 0)
        return 0;
    k_embedding<<<blocks_for(bags * d), TPB>>>(w, ids, ids64, y, bags, per, d, (int)mode);
    return launched();
}

/* ========================== elementwise ========================== */

__global__ static void k_unary(int f, const float *x, float *y, int64_t n)
{
    FOR_EACH(i, n) y[i] = gn_opcheck_unary(f, x[i]);
}

extern "C" int gn__cuda_unary(gn_opcheck_efn fn, const float *x, float *y, int64_t n)
{
    if (n == 0)
        return 0;
    k_unary<<<blocks_for(n), TPB>>>((int)fn, x, y, n);
    return launched();
}

static int64_t walk_numel(const gn__cuda_walk *w)
{
    int64_t n = 1;
    for (int d = 0; d < w->nd; d++)
        n *= w->shape[d];
    return n;
}

/* Offsets into the two operands of element I of walk W (row-major). */
__device__ static void walk_at(const gn__cuda_walk &w, int64_t i, int64_t *oa, int64_t *ob)
{
    int64_t a = w.offa, b = w.offb;
    for (int d = w.nd - 1; d >= 0; d--) {
        int64_t c = i % w.shape[d];
        i /= w.shape[d];
        a += c * w.sa[d];
        b += c * w.sb[d];
    }
    *oa = a;
    *ob = b;
}

__global__ static void k_binary(int f, gn__cuda_walk w, const float *a, const float *b, float *y, int64_t n)
{
    FOR_EACH(i, n) {
        int64_t oa, ob;
        walk_at(w, i, &oa, &ob);
        y[i] = gn_opcheck_binary(f, a[oa], b[ob]);
    }
}

extern "C" int gn__cuda_binary(gn_opcheck_efn fn, const gn__cuda_walk *w, const float *a, const float *b, float *y)
{
    int64_t n = walk_numel(w);
    if (n == 0)
        return 0;
    k_binary<<<blocks_for(n), TPB>>>((int)fn, *w, a, b, y, n);
    return launched();
}

__global__ static void k_rotary(const float *x, const float *cs, const float *sn, float *y, int64_t B, int64_t H,
                                int64_t T, int64_t dh, int bcast)
{
    int64_t half = dh / 2;
    FOR_EACH(e, B * H * T * half) {
        int64_t j = e % half, row = e / half, t = row % T, b = row / (H * T);
        const float *xi = x + row * dh;
        int64_t co = ((bcast ? 0 : b) * T + t) * dh;
        const float *ci = cs + co, *si = sn + co;
        float *yi = y + row * dh;
        yi[j] = xi[j] * ci[j] - xi[j + half] * si[j];
        yi[j + half] = xi[j + half] * ci[j + half] + xi[j] * si[j + half];
    }
}

extern "C" int gn__cuda_rotary(const float *x, const float *cs, const float *sn, float *y, int64_t B, int64_t H,
                               int64_t T, int64_t dh, int bcast)
{
    if (B * H * T * (dh / 2) == 0)
        return 0;
    k_rotary<<<blocks_for(B * H * T * (dh / 2)), TPB>>>(x, cs, sn, y, B, H, T, dh, bcast);
    return launched();
}

__global__ static void k_rotary_table(const void *pos, int pos64, float *cs, float *sn, int64_t n, int64_t dh,
                                      float theta)
{
    int64_t half = dh / 2;
    FOR_EACH(e, n * half) {
        int64_t i = e / half, j = e % half;
        float p = (float)load_id(pos, pos64, i);
        float inv = 1.0f / powf(theta, (float)(2 * j) / (float)dh);
        float a = p * inv;
        cs[i * dh + j] = cs[i * dh + j + half] = cosf(a);
        sn[i * dh + j] = sn[i * dh + j + half] = sinf(a);
    }
}

extern "C" int gn__cuda_rotary_table(const void *pos, int pos64, float *cs, float *sn, int64_t n, int64_t dh,
                                     float theta)
{
    if (n * (dh / 2) == 0)
        return 0;
    k_rotary_table<<<blocks_for(n * (dh / 2)), TPB>>>(pos, pos64, cs, sn, n, dh, theta);
    return launched();
}

__global__ static void k_cast(const void *x, int xt, void *y, int yt, int64_t n)
{
    FOR_EACH(i, n) gn_opcheck_store_num(y, yt, i, gn_opcheck_load_num(x, xt, i));
}

extern "C" int gn__cuda_cast(const void *x, gn_opcheck_num xt, void *y, gn_opcheck_num yt, int64_t n)
{
    if (n == 0)
        return 0;
    k_cast<<<blocks_for(n), TPB>>>(x, (int)xt, y, (int)yt, n);
    return launched();
}

__global__ static void k_fill(void *y, int yt, int64_t n, int64_t last, double v, double start, double step,
                              int arange)
{
    FOR_EACH(i, n) gn_opcheck_store_num(y, yt, i, arange ? start + step * (double)(last ? i % last : 0) : v);
}

extern "C" int gn__cuda_fill(void *y, gn_opcheck_num yt, int64_t n, int64_t last, double v, double start, double step,
                             int arange)
{
    if (n == 0)
        return 0;
    k_fill<<<blocks_for(n), TPB>>>(y, (int)yt, n, last, v, start, step, arange);
    return launched();
}

/* ========================== reduction ========================== */

/* One thread per output, the CPU's loop verbatim (same order, same bits). */
__global__ static void k_reduce(const float *x, void *y, int yt, int64_t outer, int64_t len, int64_t inner, int fn)
{
    FOR_EACH(k, outer * inner) {
        const float *p = x + (k / inner) * len * inner + k % inner;
        double acc = 0.0;
        float best = p[0];
        int64_t bi = 0;
        int imax = fn == GN_RED_MAX || fn == GN_RED_ARGMAX;
        for (int64_t j = 0; j < len; j++) {
            float v = p[j * inner];
            acc += v;
            if (imax ? v > best : v < best) {
                best = v;
                bi = j;
            }
        }
        if (fn == GN_RED_ARGMAX || fn == GN_RED_ARGMIN)
            gn_opcheck_store_num(y, yt, k, (double)bi);
        else
            ((float *)y)[k] = fn == GN_RED_SUM ? (float)acc : fn == GN_RED_MEAN ? (float)(acc / (double)len) : best;
    }
}

extern "C" int gn__cuda_reduce(const float *x, void *y, gn_opcheck_num yt, int64_t outer, int64_t len, int64_t inner,
                               gn_opcheck_rfn fn)
{
    if (outer * inner == 0)
        return 0;
    k_reduce<<<blocks_for(outer * inner), TPB>>>(x, y, (int)yt, outer, len, inner, (int)fn);
    return launched();
}

/* ========================== copies and indexing ========================== */

__global__ static void k_copy(char *dst, const char *src, size_t es, gn__cuda_walk w, int64_t n)
{
    FOR_EACH(i, n) {
        int64_t os, od;
        walk_at(w, i, &os, &od);
        copy_elem(dst + od * (int64_t)es, src + os * (int64_t)es, es);
    }
}

extern "C" int gn__cuda_copy(void *dst, const void *src, size_t es, const gn__cuda_walk *w)
{
    int64_t n = walk_numel(w);
    if (n == 0)
        return 0;
    k_copy<<<blocks_for(n), TPB>>>((char *)dst, (const char *)src, es, *w, n);
    return launched();
}

__global__ static void k_index_select(char *dst, const char *src, size_t es, const void *ids, int ids64,
                                      int64_t outer, int64_t len, int64_t m, int64_t inner)
{
    FOR_EACH(e, outer * m * inner) {
        int64_t i = e % inner, j = (e / inner) % m, a = e / (inner * m);
        int64_t s = (a * len + load_id(ids, ids64, j)) * inner + i;
        copy_elem(dst + e * (int64_t)es, src + s * (int64_t)es, es);
    }
}

extern "C" int gn__cuda_index_select(void *dst, const void *src, size_t es, const void *ids, int ids64,
                                     int64_t outer, int64_t len, int64_t m, int64_t inner)
{
    if (outer * m * inner == 0)
        return 0;
    k_index_select<<<blocks_for(outer * m * inner), TPB>>>((char *)dst, (const char *)src, es, ids, ids64, outer,
                                                            len, m, inner);
    return launched();
}

/* torch.gather, with the CPU's coordinate arithmetic. */
__global__ static void k_gather(char *dst, const char *src, size_t es, const void *ids, int ids64, int64_t n,
                                gn__cuda_gather_shape g)
{
    int d = g.dim;
    int64_t len = g.xs[d], inner = 1, m = g.is[d], iin = 1;
    for (int i = d + 1; i < g.nd; i++) {
        inner *= g.xs[i];
        iin *= g.is[i];
    }
    FOR_EACH(e, n) {
        int64_t s = gn_opcheck_gather_src(e, g.nd, d, g.xs, g.is, len, inner, iin, m, load_id(ids, ids64, e));
        copy_elem(dst + e * (int64_t)es, src + s * (int64_t)es, es);
    }
}

extern "C" int gn__cuda_gather(void *dst, const void *src, size_t es, const void *ids, int ids64, int64_t n,
                               const gn__cuda_gather_shape *s)
{
    if (n == 0)
        return 0;
    k_gather<<<blocks_for(n), TPB>>>((char *)dst, (const char *)src, es, ids, ids64, n, *s);
    return launched();
}

__global__ static void k_upsample(const float *x, float *y, int64_t NC, int64_t H, int64_t W, int64_t Ho,
                                  int64_t Wo)
{
    FOR_EACH(e, NC * Ho * Wo) {
        int64_t xx = e % Wo, yy = (e / Wo) % Ho, p = e / (Wo * Ho);
        y[e] = x[(p * H + yy * H / Ho) * W + xx * W / Wo];
    }
}

extern "C" int gn__cuda_upsample(const float *x, float *y, int64_t NC, int64_t H, int64_t W, int64_t Ho, int64_t Wo)
{
    if (NC * Ho * Wo == 0)
        return 0;
    k_upsample<<<blocks_for(NC * Ho * Wo), TPB>>>(x, y, NC, H, W, Ho, Wo);
    return launched();
}

/* ========================== convolution and pooling ========================== */

__global__ static void k_im2col(const float *x, float *col, int64_t Cg, int64_t H, int64_t W, int64_t kh,
                                int64_t kw, int64_t Ho, int64_t Wo, int64_t sh, int64_t sw, int64_t ph, int64_t pw,
                                int64_t dh, int64_t dw)
{
    int64_t S = Ho * Wo;
    FOR_EACH(e, Cg * kh * kw * S) {
        int64_t s = e % S, row = e / S;
        int64_t j = row % kw, i = (row / kw) % kh, ci = row / (kw * kh);
        int64_t oy = s / Wo, ox = s % Wo;
        int64_t iy = oy * sh - ph + i * dh, ix = ox * sw - pw + j * dw;
        col[e] = iy >= 0 && iy < H && ix >= 0 && ix < W ? x[(ci * H + iy) * W + ix] : 0.0f;
    }
}

extern "C" int gn__cuda_im2col(const float *x, float *col, int64_t Cg, int64_t H, int64_t W, int64_t kh, int64_t kw,
                               int64_t Ho, int64_t Wo, const int64_t p[6])
{
    int64_t n = Cg * kh * kw * Ho * Wo;
    if (n == 0)
        return 0;
    k_im2col<<<blocks_for(n), TPB>>>(x, col, Cg, H, W, kh, kw, Ho, Wo, p[0], p[1], p[2], p[3], p[4], p[5]);
    return launched();
}

/* One thread per output: the CPU's window (gn_opcheck_pool_at). */
__global__ static void k_pool2d(const float *x, float *y, int64_t NC, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                                int64_t k0, int64_t k1, int64_t s0, int64_t s1, int64_t p0, int64_t p1, int adaptive,
                                int mx)
{
    const int64_t k[2] = {k0, k1}, st[2] = {s0, s1}, pad[2] = {p0, p1};
    FOR_EACH(e, NC * Ho * Wo) {
        int64_t ox = e % Wo, oy = (e / Wo) % Ho, p = e / (Wo * Ho);
        y[e] = gn_opcheck_pool_at(x, p, oy, ox, H, W, Ho, Wo, k, st, pad, adaptive, mx);
    }
}

extern "C" int gn__cuda_pool2d(const float *x, float *y, int64_t NC, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                               const int64_t p[6], int adaptive, int mx)
{
    if (NC * Ho * Wo == 0)
        return 0;
    k_pool2d<<<blocks_for(NC * Ho * Wo), TPB>>>(x, y, NC, H, W, Ho, Wo, p[0], p[1], p[2], p[3], p[4], p[5],
                                                 adaptive, mx);
    return launched();
}

/* ========================== interaction ========================== */

/* One thread per output: the dense copy, or one pair's dot in double. */
__global__ static void k_interaction(gn__cuda_feats f, float *y, int64_t B, int64_t D, int64_t F, int self,
                                     int64_t Wd)
{
    FOR_EACH(e, B * Wd) {
        int64_t b = e / Wd, c = e % Wd;
        if (c < D) {
            y[e] = f.f[0][b * D + c];
            continue;
        }
        int64_t q = c - D, i = 0;
        while (q >= (self ? i + 1 : i)) { /* pairs (i, j), i ascending, then j */
            q -= self ? i + 1 : i;
            i++;
        }
        const float *a = f.f[i] + b * D, *v = f.f[q] + b * D;
        double s = 0.0;
        for (int64_t t = 0; t < D; t++)
            s += (double)a[t] * v[t];
        y[e] = (float)s;
    }
}

extern "C" int gn__cuda_interaction(const gn__cuda_feats *f, float *y, int64_t B, int64_t D, int64_t F, int self)
{
    int64_t Wd = D + (self ? F * (F + 1) / 2 : F * (F - 1) / 2);
    if (B * Wd == 0)
        return 0;
    k_interaction<<<blocks_for(B * Wd), TPB>>>(*f, y, B, D, F, self, Wd);
    return launched();
}
