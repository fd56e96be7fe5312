/*
 * exec_cuda_int.h — between the CUDA executor's host side (exec_cuda.c)
 * and its kernels (exec_cuda.cu).  Internal to those two files.
 *
 * The host side is C: real/opcheck.c checks the node (attrs, shapes,
 * dtypes, index ranges) for it as for the CPU executor, and it launches
 * kernels and calls cuBLAS from the descriptor that comes back.  Every
 * kernel sits behind one gn__cuda_* launcher that takes device pointers
 * and plain sizes, enqueues the kernel on the default stream and returns
 * 0 or the (positive) cudaError_t of the launch.  Launchers never
 * synchronise and never allocate.  Sizes are elements unless marked.
 *
 * This header is read by both a C and a C++ (nvcc) compiler.
 */
#ifndef GN_EXEC_CUDA_INT_H
#define GN_EXEC_CUDA_INT_H

#include <stddef.h>
#include <stdint.h>

#include "opcheck.h" /* function codes and elementwise arithmetic (its C++-safe part) */

#ifndef __cplusplus
#include "executor.h"
/* The CUDA executor's ops table (executors.c hands it out by name). */
const gn_executor_ops *gn__executor_cuda(void);
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define GN__CUDA_MAXD 8      /* dims of a strided view (= GN_MAX_DIMS) */
#define GN__CUDA_MAXF 128    /* features of one interaction node */

/* An ND walk over SHAPE with two stride sets (elements; 0 = broadcast). */
typedef struct gn__cuda_walk {
    int nd;                           /* dims, 1..GN__CUDA_MAXD */
    int64_t shape[GN__CUDA_MAXD];     /* elements per dim of the walk */
    int64_t sa[GN__CUDA_MAXD];        /* strides of the first operand (source) */
    int64_t sb[GN__CUDA_MAXD];        /* strides of the second operand (destination) */
    int64_t offa, offb;               /* element offsets added to each */
} gn__cuda_walk;

/* torch.gather shapes. */
typedef struct gn__cuda_gather_shape {
    int nd, dim;                      /* rank of source and indices; the gathered dim */
    int64_t xs[GN__CUDA_MAXD];        /* source shape */
    int64_t is[GN__CUDA_MAXD];        /* indices' (= output's) shape */
} gn__cuda_gather_shape;

/* The feature pointers of one interaction node (kernel argument). */
typedef struct gn__cuda_feats {
    const float *f[GN__CUDA_MAXF];
} gn__cuda_feats;

/* C[b] = alpha · A[b] · op(B[b]) + beta · C[b], row-major, for b < BATCH
 * (strides in elements between batches); op(B) = Bᵀ ([N,K]) when TB.  The
 * fallback when the build has no cuBLAS: a tiled kernel, fp32 accumulation
 * in k order. */
int gn__cuda_gemm(int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, int64_t sa,
                  const float *B, int64_t ldb, int64_t sb, float beta, float *C, int64_t ldc, int64_t sc,
                  int64_t batch);

/* Y[r, :] = ROW for r < ROWS (the bias before a beta = 1 gemm). */
int gn__cuda_fill_rows(float *y, const float *row, int64_t rows, int64_t n);
/* Y[n, c, s] += BIAS[c]. */
int gn__cuda_channel_bias(float *y, const float *bias, int64_t N, int64_t C, int64_t S);
/* layer_norm (RMS 0) or rms_norm over rows of D; W and B may be NULL. */
int gn__cuda_norm(const float *x, const float *w, const float *b, float *y, int64_t rows, int64_t D, double eps,
                  int rms);
/* group_norm of x [N, C, S] in G groups; W and B ([C]) may be NULL. */
int gn__cuda_group_norm(const float *x, const float *w, const float *b, float *y, int64_t N, int64_t C, int64_t S,
                        int64_t G, double eps);
/* Inference batch norm; W, B, MEAN, VAR may be NULL (1, 0, 0, 1). */
int gn__cuda_batch_norm(const float *x, const float *w, const float *b, const float *mean, const float *var,
                        float *y, int64_t N, int64_t C, int64_t S, double eps);
/* In-place softmax of OUTER·INNER rows of LEN (stride INNER).  With
 * CAUSAL (INNER must be 1), row r keeps OFF + r % T + 1 entries and zeroes
 * the rest. */
int gn__cuda_softmax(float *x, int64_t outer, int64_t len, int64_t inner, int64_t T, int64_t off, int causal);
/* Embedding lookup or bag: BAGS rows of D from table W, PER ids each. */
int gn__cuda_embedding(const float *w, const void *ids, int ids64, float *y, int64_t bags, int64_t per, int64_t d,
                       gn_opcheck_emode mode);
int gn__cuda_unary(gn_opcheck_efn fn, const float *x, float *y, int64_t n);
/* Y (dense, W's shape) = A ∘ B with A at strides sa, B at sb. */
int gn__cuda_binary(gn_opcheck_efn fn, const gn__cuda_walk *w, const float *a, const float *b, float *y);
int gn__cuda_rotary(const float *x, const float *cs, const float *sn, float *y, int64_t B, int64_t H, int64_t T,
                    int64_t dh, int bcast);
int gn__cuda_rotary_table(const void *pos, int pos64, float *cs, float *sn, int64_t n, int64_t dh, float theta);
int gn__cuda_cast(const void *x, gn_opcheck_num xt, void *y, gn_opcheck_num yt, int64_t n);
/* Fills N elements with V, or with START + STEP·(i mod LAST) when ARANGE. */
int gn__cuda_fill(void *y, gn_opcheck_num yt, int64_t n, int64_t last, double v, double start, double step,
                  int arange);
/* Reduces dim LEN of [OUTER, LEN, INNER]; Y is f32, or i64/i32 (YT) for arg*. */
int gn__cuda_reduce(const float *x, void *y, gn_opcheck_num yt, int64_t outer, int64_t len, int64_t inner,
                    gn_opcheck_rfn fn);
/* Element copy of ES bytes each: DST[offb + Σ i·sb] = SRC[offa + Σ i·sa]. */
int gn__cuda_copy(void *dst, const void *src, size_t es, const gn__cuda_walk *w);
int gn__cuda_index_select(void *dst, const void *src, size_t es, const void *ids, int ids64, int64_t outer,
                          int64_t len, int64_t m, int64_t inner);
int gn__cuda_gather(void *dst, const void *src, size_t es, const void *ids, int ids64, int64_t n,
                    const gn__cuda_gather_shape *s);
int gn__cuda_upsample(const float *x, float *y, int64_t NC, int64_t H, int64_t W, int64_t Ho, int64_t Wo);
/* COL [Cg·kh·kw, Ho·Wo] of one image-group X [Cg, H, W]; P = {stride h, w,
 * padding h, w, dilation h, w}. */
int gn__cuda_im2col(const float *x, float *col, int64_t Cg, int64_t H, int64_t W, int64_t kh, int64_t kw,
                    int64_t Ho, int64_t Wo, const int64_t p[6]);
/* P = {kernel h, w, stride h, w, padding h, w} (unused when ADAPTIVE). */
int gn__cuda_pool2d(const float *x, float *y, int64_t NC, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                    const int64_t p[6], int adaptive, int mx);
int gn__cuda_interaction(const gn__cuda_feats *f, float *y, int64_t B, int64_t D, int64_t F, int self);

#ifdef __cplusplus
}
#endif

#endif /* GN_EXEC_CUDA_INT_H */
