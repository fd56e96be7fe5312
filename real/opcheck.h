/*
 * opcheck.h — how an executor reads one node, in one place (issue 4).
 *
 * Every executor (real/exec_cpu.c, real/exec_cuda.c) must interpret a node
 * identically: the same attrs with the same defaults, the same arity,
 * dtype and shape checks in the same order, the same GN_EINVAL /
 * GN_EUNSUPPORTED codes and the same "nodes[ID]: OP (module M): what"
 * messages (real/EXECUTOR.md).  gn_opcheck_node does all of that once and
 * hands back a gn_opdesc: the few numbers the op's kernels need (M, N, K
 * of a matmul, a convolution's geometry, the rows of a norm, attention's
 * heads and causal offset, ...).  An executor then only computes.
 *
 * Index values (embedding ids, gather/index_select indices) are part of
 * the checks too (an id out of range is GN_EINVAL naming the node): the
 * executor lends a callback that shows them in host memory, so that a
 * device executor copies them only for the ops that read them.
 *
 * The first part of this header (function codes, and the per-element
 * arithmetic both executors evaluate: elementwise fns, casts, the norm
 * element, pool windows, gather offsets) is also read by nvcc for the
 * CUDA kernels, so that the CPU loops and the kernels compute from the
 * same expressions; the second part (the checks) is C only.
 */
#ifndef GN_OPCHECK_H
#define GN_OPCHECK_H

#include <math.h>
#include <stdint.h>

#include "half.h"

/* ========================== codes (C and CUDA) ========================== */

/* Elementwise functions; the binary ones come first (<= GN_EW_MIN). */
typedef enum gn_opcheck_efn {
    GN_EW_ADD, GN_EW_SUB, GN_EW_MUL, GN_EW_DIV, GN_EW_MAX, GN_EW_MIN,
    GN_EW_RELU, GN_EW_GELU, GN_EW_GELU_ERF, GN_EW_SILU, GN_EW_SIGMOID, GN_EW_TANH, GN_EW_NEG, GN_EW_EXP,
    GN_EW_SQRT, GN_EW_RSQRT, GN_EW_COS, GN_EW_SIN
} gn_opcheck_efn;

/* Reductions over one dim. */
typedef enum gn_opcheck_rfn {
    GN_RED_SUM, GN_RED_MEAN, GN_RED_MAX, GN_RED_MIN, GN_RED_ARGMAX, GN_RED_ARGMIN,
    GN_RED_ANY, GN_RED_ALL, GN_RED_CUMSUM /* numeric (GN_OPCHECK_NUMERIC) */
} gn_opcheck_rfn;

/* Embedding modes: a plain lookup, or a bag reduced by sum, mean or max. */
typedef enum gn_opcheck_emode { GN_EMB_LOOKUP, GN_EMB_SUM, GN_EMB_MEAN, GN_EMB_MAX } gn_opcheck_emode;

/* Numeric elementwise functions (GN_OPK_NUMERIC), computed in double. */
typedef enum gn_opcheck_nfn {
    GN_NF_ADD, GN_NF_SUB, GN_NF_MUL, GN_NF_DIV, GN_NF_MAX, GN_NF_MIN, GN_NF_EQ, GN_NF_NE, GN_NF_LT, GN_NF_LE,
    GN_NF_GT, GN_NF_GE, GN_NF_AND, GN_NF_OR, GN_NF_XOR, GN_NF_LAND, GN_NF_LOR, GN_NF_LXOR, GN_NF_REM,
    GN_NF_FLOORDIV,                                  /* binary */
    GN_NF_NEG, GN_NF_NOT, GN_NF_LNOT,                /* unary (NOT: ~x, on bool !x) */
    GN_NF_WHERE                                      /* c ? a : b; masked_fill(x, m, v) is where(m, v, x) */
} gn_opcheck_nfn;

/* Element types cast and fill convert between (the index outputs of
 * argmax/argmin too): gn_opcheck_load_num and _store_num's codes. */
typedef enum gn_opcheck_num {
    GN_NUM_F32, GN_NUM_F64, GN_NUM_I64, GN_NUM_I32, GN_NUM_U8, GN_NUM_BOOL,
    GN_NUM_F16, GN_NUM_BF16 /* only where the executor declares GN_OPCHECK_HALF */
} gn_opcheck_num;

/*
 * What an executor implements beyond the common set (gn_opcheck_node's
 * FEATS): a node that needs a feature the executor lacks is refused with
 * GN_EUNSUPPORTED naming the executor, at the point of the checks where
 * the feature shows, so the checks before it read the same everywhere.
 */
enum {
    GN_OPCHECK_HALF = 1 << 0,        /* f16/bf16 storage (computed in f32) */
    GN_OPCHECK_GROUP_NORM = 1 << 1,  /* the group_norm op */
    GN_OPCHECK_BAG_OFFSETS = 1 << 2, /* embedding_bag with offsets, per-sample weights, padding_idx, aux outputs */
    GN_OPCHECK_ATTN_MASK = 1 << 3,   /* attention with a mask tensor (a fourth input) */
    GN_OPCHECK_AUX_OUTPUTS = 1 << 4, /* aten's secondary outputs: the norms' mean / rstd, max pooling's indices */
    GN_OPCHECK_VIEW_ARGS = 1 << 5,   /* views that take elements by their arguments (select, slice, transpose,
                                        permute, split, unbind; expand of non-float data), any dtype */
    GN_OPCHECK_SCALAR = 1 << 6,      /* a binary elementwise fn with one input and attrs.scalar */
    GN_OPCHECK_NUMERIC = 1 << 7,     /* elementwise arithmetic, comparisons and logic on any castable
                                        dtype (i64 ids, bool masks), where, masked_fill */
    GN_OPCHECK_ALL = (1 << 8) - 1
};

/* ========================== scalar arithmetic (C and CUDA) ========================== */

#if defined(__CUDACC__)
#define GN_OPCHECK_MATH __host__ __device__ static inline
#else
#define GN_OPCHECK_MATH static inline
#endif

/* Unary function F (>= GN_EW_RELU) of X in f32 (EXECUTOR.md's table). */
GN_OPCHECK_MATH float gn_opcheck_unary(int f, float x)
{
    switch (f) {
    case GN_EW_RELU: return x <= 0.0f ? 0.0f : x; /* NaN stays NaN, as in torch */
    case GN_EW_GELU: /* GPT-2 "gelu_new": tanh approximation */
        return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case GN_EW_GELU_ERF: return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
    case GN_EW_SILU: return x / (1.0f + expf(-x));
    case GN_EW_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case GN_EW_TANH: return tanhf(x);
    case GN_EW_NEG: return -x;
    case GN_EW_EXP: return expf(x);
    case GN_EW_SQRT: return sqrtf(x);
    case GN_EW_RSQRT: return 1.0f / sqrtf(x);
    case GN_EW_COS: return cosf(x);
    case GN_EW_SIN: return sinf(x);
    default: return x;
    }
}

/* Binary function F (<= GN_EW_MIN) of A and B in f32. */
GN_OPCHECK_MATH float gn_opcheck_binary(int f, float a, float b)
{
    switch (f) {
    case GN_EW_ADD: return a + b;
    case GN_EW_SUB: return a - b;
    case GN_EW_MUL: return a * b;
    case GN_EW_DIV: return a / b;
    case GN_EW_MAX: return a > b ? a : b;
    default: return a < b ? a : b;
    }
}

/* Element I of P (of type DT, a gn_opcheck_num) as a double. */
GN_OPCHECK_MATH double gn_opcheck_load_num(const void *p, int dt, int64_t i)
{
    switch (dt) {
    case GN_NUM_F32: return ((const float *)p)[i];
    case GN_NUM_F64: return ((const double *)p)[i];
    case GN_NUM_I64: return (double)((const int64_t *)p)[i];
    case GN_NUM_I32: return ((const int32_t *)p)[i];
    case GN_NUM_F16: return gn_half_f16_to_f32(((const uint16_t *)p)[i]);
    case GN_NUM_BF16: return gn_half_bf16_to_f32(((const uint16_t *)p)[i]);
    default: return ((const uint8_t *)p)[i]; /* u8, bool */
    }
}

/* Stores V as element I of P (of type DT), converted as C converts. */
GN_OPCHECK_MATH void gn_opcheck_store_num(void *p, int dt, int64_t i, double v)
{
    switch (dt) {
    case GN_NUM_F32: ((float *)p)[i] = (float)v; break;
    case GN_NUM_F64: ((double *)p)[i] = v; break;
    case GN_NUM_I64: ((int64_t *)p)[i] = (int64_t)v; break;
    case GN_NUM_I32: ((int32_t *)p)[i] = (int32_t)v; break;
    case GN_NUM_BOOL: ((uint8_t *)p)[i] = v != 0.0; break;
    /* via f32: exact for f32, f16, bf16 and small-integer sources; f64 rounds twice */
    case GN_NUM_F16: ((uint16_t *)p)[i] = gn_half_f32_to_f16((float)v); break;
    case GN_NUM_BF16: ((uint16_t *)p)[i] = gn_half_f32_to_bf16((float)v); break;
    default: ((uint8_t *)p)[i] = (uint8_t)v; break;
    }
}

/*
 * Element J of a layer/RMS-norm row X once its MEAN (0 for rms_norm) and
 * INV = 1/sqrt(var + eps) are known; W and B may be NULL.
 */
GN_OPCHECK_MATH float gn_opcheck_norm_at(const float *x, int64_t j, double mean, float inv, const float *w,
                                         const float *b)
{
    float v = (float)((double)x[j] - mean) * inv;
    if (w)
        v *= w[j];
    if (b)
        v += b[j];
    return v;
}

/*
 * Element J of a group-norm group X (channels C0.., S positions each) once
 * its MEAN and INV = 1/sqrt(var + eps) are known; W and B ([C]) may be NULL.
 */
GN_OPCHECK_MATH float gn_opcheck_group_norm_at(const float *x, int64_t j, int64_t c0, int64_t S, double mean,
                                               float inv, const float *w, const float *b)
{
    float v = (float)((double)x[j] - mean) * inv;
    if (w)
        v *= w[c0 + j / S];
    if (b)
        v += b[c0 + j / S];
    return v;
}

/* Inference batch norm of one channel as y = x·SCALE + SHIFT, from its
 * weight W, bias B, running MEAN and VAR (1, 0, 0, 1 where absent). */
GN_OPCHECK_MATH void gn_opcheck_batch_norm_affine(double w, double b, double mean, double var, double eps,
                                                  float *scale, float *shift)
{
    *scale = (float)(w / sqrt(var + eps));
    *shift = (float)(b - mean * w / sqrt(var + eps));
}

/*
 * Output (OY, OX) of plane P of pool2d over X [planes, H, W] -> [.., Ho,
 * Wo]: the window's max (MX) or mean (count_include_pad, as torch), with
 * K, ST, PAD = [h, w] (unused when ADAPTIVE: windows ⌊i·H/Ho⌋ ..
 * ⌈(i+1)·H/Ho⌉).  The sum is in double, row by row.
 */
GN_OPCHECK_MATH float gn_opcheck_pool_at(const float *x, int64_t p, int64_t oy, int64_t ox, int64_t H, int64_t W,
                                         int64_t Ho, int64_t Wo, const int64_t k[2], const int64_t st[2],
                                         const int64_t pad[2], int adaptive, int mx)
{
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
            float v = x[(p * H + iy) * W + ix];
            acc += v;
            m = v > m ? v : m;
        }
    return mx ? m : cnt ? (float)(acc / (double)cnt) : 0.0f;
}

/*
 * torch.gather: the source element that output E reads, for a source of
 * shape XS and indices (= output) of shape IS, ND dims each, gathered
 * along dim D; LEN = XS[D], INNER and IIN the products of XS and IS past
 * D, M = IS[D], ID the index at E.
 */
GN_OPCHECK_MATH int64_t gn_opcheck_gather_src(int64_t e, int nd, int d, const int64_t *xs, const int64_t *is,
                                              int64_t len, int64_t inner, int64_t iin, int64_t m, int64_t id)
{
    int64_t in_i = e % iin, a = e / (iin * m);
    /* coordinates past dim d in the source's strides */
    int64_t rest = 0, mul = 1, r = in_i;
    for (int i = nd - 1; i > d; i--) {
        rest += (r % is[i]) * mul;
        r /= is[i];
        mul *= xs[i];
    }
    int64_t lead = 0, lm = 1;
    r = a;
    for (int i = d - 1; i >= 0; i--) {
        lead += (r % is[i]) * lm;
        r /= is[i];
        lm *= xs[i];
    }
    return (lead * len + id) * inner + rest;
}

#ifndef __cplusplus

/* ========================== descriptors (C) ========================== */

#include <stdarg.h>

#include "error.h"
#include "graph.h"

/* Which computation an elementwise, view or index node asks for. */
typedef enum gn_opcheck_kind {
    GN_OPK_UNARY, GN_OPK_BINARY, GN_OPK_CAST, GN_OPK_ROTARY, GN_OPK_ROTARY_TABLE,  /* elementwise */
    GN_OPK_NUMERIC,                                                                /* elementwise */
    GN_OPK_RESHAPE, GN_OPK_SPLIT_HEADS, GN_OPK_MERGE_HEADS, GN_OPK_PICK_POSITION,  /* view, copy */
    GN_OPK_FLATTEN_TRANSPOSE, GN_OPK_PERMUTE_RESHAPE, GN_OPK_EXPAND, GN_OPK_STRIDED,
    GN_OPK_UPSAMPLE, GN_OPK_INDEX_SELECT, GN_OPK_GATHER, GN_OPK_ISIN               /* index */
} gn_opcheck_kind;

/*
 * What a checked node computes.  Sizes are elements; shapes are those of
 * the node's tensors (gn_opcheck_input/output), which an executor still
 * reads where a kernel walks them (gather, split_heads).  Only the member
 * of the union named by `op` (and `kind`) is set.
 */
typedef struct gn_opdesc {
    const gn_graph *g;       /* the node's graph (borrowed) */
    uint32_t id;             /* node id */
    const gn_node *node;     /* the node (borrowed from g) */
    const uint32_t *tin;     /* its input tensor ids (borrowed from g) */
    const uint32_t *tout;    /* its output tensor ids (borrowed from g) */
    gn_op op;                /* the node's op */
    gn_opcheck_kind kind;    /* elementwise, view/copy, index: which form */
    int half;                /* some float tensor is f16/bf16: the CPU executor widens such
                                inputs to f32, runs the f32 kernel and rounds the outputs back
                                (cast and fill convert natively and leave this 0) */
    union {
        struct {
            int64_t M, N, K;     /* Y [batch, M, N] = A [batch, M, K] · W */
            int64_t batch;       /* batch of A (and of Y) */
            int64_t wbatch;      /* batch of W: 1 (shared) or `batch` */
            int tb;              /* W is [N, K] (transpose_b) */
            int bias;            /* a third input [N] is added to every row */
        } matmul;
        struct {
            int64_t rows, D;     /* rows normalised over their last dim D */
            double eps;
            int rms;             /* rms_norm (no mean, no bias) */
            int weight, bias;    /* inputs 1 and 2 are present */
            int stats;           /* outputs 1, 2 (rms_norm: 1) take mean and rstd per row */
        } norm;
        struct {
            int64_t N, C, S;     /* x [N, C, S...] */
            int64_t G;           /* groups; each normalises C/G channels x S */
            double eps;
            int weight, bias;    /* inputs 1 and 2 [C] are present */
            int stats;           /* outputs 1, 2 take mean and rstd [N, G] */
        } group_norm;
        struct {
            int64_t N, C, S;     /* x [N, C, S...] */
            double eps;
            uint32_t nparams;    /* inputs after x: weight, bias, mean, var */
            int stats;           /* outputs 1, 2 [C] take the running mean and 1/sqrt(var + eps) */
        } batch_norm;
        struct {
            int scalar;          /* 0-D input: the output is 1 */
            int64_t outer, len, inner; /* x as [outer, len, inner], len the dim */
        } softmax;
        struct {
            int64_t B, H, KV, T, Tk, dh; /* q [B,H,T,dh], k = v [B,KV,Tk,dh] */
            int64_t group;       /* H / KV query heads per kv head */
            int64_t off;         /* Tk - T: cache length before this step */
            int causal;
            float scale;         /* attrs.scale, default 1/sqrt(dh) */
            int mask;            /* 0 none; 1 boolean (true = attend); 2 additive (float) */
            int64_t mst[4];      /* the mask's strides (elements) over [B, H, T, Tk]; 0 = broadcast */
        } attention;
        struct {
            gn_opcheck_emode mode;
            int64_t V, d;        /* weight [V, d] */
            int64_t bags, per;   /* output rows; ids per row (1 for a lookup; 0 with offsets) */
            int ids64;           /* ids are i64 (else i32) */
            int offsets;         /* input 2: bag b is ids[off[b] .. off[b+1]) (the last to n or off[bags]) */
            int off64;           /* offsets are i64 (else i32) */
            int64_t n;           /* ids in all */
            int psw;             /* input 3: per-sample weights [n] (mode sum) */
            int64_t pad;         /* attrs.padding_idx: ids equal to it are skipped; -1 none */
            size_t es;           /* lookup: bytes per element (rows are copied, any float type) */
        } embedding;
        struct {
            gn_opcheck_efn fn;   /* GN_OPK_UNARY, GN_OPK_BINARY */
            int64_t n;           /* output elements (also CAST, UNARY, BINARY) */
            int same;            /* BINARY: both inputs have n elements, no broadcast */
            /* BINARY, !same: strides over the output's dims (0 = broadcast) */
            int64_t sa[GN_MAX_DIMS], sb[GN_MAX_DIMS];
            int64_t B, H, T, dh; /* ROTARY: x [B, H, T, dh]; ROTARY_TABLE: dh, n positions */
            int bcast;           /* ROTARY: cos and sin are shared over B */
            float theta;         /* ROTARY_TABLE */
            int pos64;           /* ROTARY_TABLE: positions are i64 (else i32) */
            gn_opcheck_num from, to; /* CAST: input and output types */
            int spos;            /* BINARY: -1, or which operand (0 = a, 1 = b) is `scalar` */
            float scalar;        /* BINARY: attrs.scalar, in f32 (as torch wraps a Python number) */
            gn_opcheck_nfn nfn;  /* NUMERIC: the function */
            int nops;            /* NUMERIC: operands (1..3) */
            int oin[3];          /* NUMERIC: operand k is input oin[k], or -1: the scalar `sval` */
            gn_opcheck_num odt[3]; /* NUMERIC: operand types */
            int64_t ost[3][GN_MAX_DIMS]; /* NUMERIC: operand strides over the output's dims */
            double sval;         /* NUMERIC: the scalar operand */
            int bitwise;         /* NUMERIC: AND/OR/XOR/NOT on integers (else on truth values) */
        } elementwise;
        struct {
            gn_opcheck_rfn fn;
            int arg;             /* argmax/argmin: output is an index dtype */
            gn_opcheck_num to;   /* the output's type (i64 or i32 for arg*, else f32) */
            int64_t outer, len, inner; /* x as [outer, len, inner] */
            int num;             /* computed in double from any castable type (GN_OPCHECK_NUMERIC) */
            gn_opcheck_num from; /* num: the input's type */
        } reduction;
        struct {
            uint64_t bytes;      /* RESHAPE: bytes copied */
            int64_t B, T, C;     /* SPLIT_HEADS: x [B, T, C]; PICK_POSITION: [B, T, d=C] */
            int64_t t;           /* PICK_POSITION: the position taken */
            int64_t H, dh;       /* MERGE_HEADS: x [B, H, T, dh] */
            int64_t N, S, A, K;  /* FLATTEN_TRANSPOSE: [N, C, S]; PERMUTE_RESHAPE: [N, A·K, S] */
            int64_t st[GN_MAX_DIMS]; /* EXPAND, STRIDED: x's strides (elements) over the output's dims */
            int64_t base;        /* STRIDED: x's element where output 0 starts */
            int64_t dstride;     /* STRIDED: x's stride of the dim split among several outputs */
            int sdim;            /* STRIDED: that dim in the outputs (split); -1: each output is one
                                    index of it (unbind) */
            size_t es;           /* STRIDED: bytes per element (any dtype, moved as bytes) */
        } view;
        struct {
            int dim;             /* concatenated dim */
            int64_t outer, inner; /* output as [outer, dim, inner] */
            size_t es;           /* bytes per element */
        } concat;
        struct {
            int dim;             /* INDEX_SELECT, GATHER: source dim indexed */
            int64_t outer, len, inner; /* source as [outer, len, inner] */
            int64_t m;           /* INDEX_SELECT: indices; GATHER: indices along dim */
            int64_t n;           /* GATHER: indices (= output elements) */
            size_t es;           /* bytes per element */
            int ids64;           /* indices are i64 (else i32) */
            int64_t NC, H, W, Ho, Wo; /* UPSAMPLE: [NC, H, W] -> [NC, Ho, Wo] */
            int invert;          /* ISIN: n elements tested against m: true where not found */
            gn_opcheck_num xt, tt; /* ISIN: the elements' and the test elements' types */
        } index;
        struct {
            int64_t n, last;     /* output elements; its last dim */
            int arange;          /* start + step·(i mod last), else v */
            gn_opcheck_num to;   /* the output's type */
            double v, start, step;
        } fill;
        struct {
            int64_t N, C, H, W;  /* x [N, C, H, W] */
            int64_t O, Cg, kh, kw; /* weight [O, C/groups, kh, kw] */
            int64_t G, Og;       /* groups; output channels per group */
            int64_t st[2], pad[2], dil[2]; /* [h, w] */
            int64_t Ho, Wo, S, KK; /* output size; S = Ho·Wo; KK = Cg·kh·kw */
            int direct;          /* 1x1, stride 1, no padding: no im2col */
            int bias;            /* a third input [O] */
        } conv2d;
        struct {
            int64_t NC, H, W, Ho, Wo; /* [NC, H, W] -> [NC, Ho, Wo] */
            int64_t k[2], st[2], pad[2]; /* [h, w]; unused when adaptive */
            int adaptive, mx;    /* adaptive windows; max (else avg) */
            int indices;         /* output 1: each max's index h·W + w in its input plane */
        } pool2d;
        struct {
            int64_t B, D, F, W;  /* F features [B, D] -> [B, W] */
            int self;            /* pairs j <= i */
        } interaction;
    } u;
} gn_opdesc;

/* Input or output tensor K of the described node (borrowed from its graph). */
static inline const gn_tensor *gn_opcheck_input(const gn_opdesc *d, uint32_t k)
{
    return gn_graph_tensor(d->g, d->tin[k]);
}

static inline const gn_tensor *gn_opcheck_output(const gn_opdesc *d, uint32_t k)
{
    return gn_graph_tensor(d->g, d->tout[k]);
}

/*
 * Shows index input K of the node in host memory: 0 with *HOST set (valid
 * until the next call), or a negative code with the executor's error set.
 */
typedef int (*gn_opcheck_host_fn)(void *arg, uint32_t k, const void **host);

/*
 * Checks node ID of G exactly as real/EXECUTOR.md says every executor
 * does and fills *D.  EXECUTOR names the executor in messages ("CPU",
 * "CUDA": "... (the CUDA executor computes in f32)"); FEATS (GN_OPCHECK_*)
 * what it implements beyond the common set; HOST (with ARG)
 * lends the values of index inputs for range checks.  Returns 0, or
 * GN_EINVAL / GN_EUNSUPPORTED (or HOST's code) with ERR set as
 * "nodes[ID]: OP (module M): what".  Nothing is allocated; D is
 * caller-owned.  For a node that exists, D's node fields (g, id, node,
 * tin, tout) are set before any check, so HOST may read them; the rest
 * of D is undefined on failure.
 */
int gn_opcheck_node(const gn_graph *g, uint32_t id, const char *executor, unsigned feats, gn_opcheck_host_fn host,
                    void *arg, gn_opdesc *d, gn_error *err);

/*
 * Sets ERR to CODE with the message "nodes[ID]: OP (module M): " followed
 * by FMT, as every executor's node errors read; returns CODE.  ID must
 * be a node of G.  gn_opcheck_vfail takes the arguments as a va_list.
 */
int gn_opcheck_fail(const gn_graph *g, uint32_t id, gn_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int gn_opcheck_vfail(const gn_graph *g, uint32_t id, gn_error *err, int code, const char *fmt, va_list ap);

#endif /* !__cplusplus */

#endif /* GN_OPCHECK_H */
