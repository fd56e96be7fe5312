/*
 * test_exec_cpu.c — the CPU executor: hand-computed cases per op, errors
 * that name the node, and whole GPT-2 / LLaMA sessions through the runner
 * (determinism, and prefill of P+1 tokens == prefill of P + one decode).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "executor.h"
#include "half.h"
#include "llm.h"
#include "opcheck.h"
#include "runner.h"
#include "session.h"

/* ========================== one-node harness ========================== */

typedef struct spec {
    gn_dtype dt;
    uint32_t nd;
    int64_t sh[5];
    void *p; /* host data: inputs read, outputs written */
} spec;

/* A session of one step with the one node OP(IN) -> OUT with ATTRS
 * (stolen); caller destroys it.  Its buffers are in PI, PO. */
static gn_session *one_node(gn_op op, json_t *attrs, const spec *in, uint32_t nin, const spec *out, uint32_t nout,
                            void **pi, void **po)
{
    gn_session *s = gn_session_create("t");
    gn_graph *g = gn_session_add_step(s, GN_PHASE_FORWARD, "t");
    uint32_t ti[8], to[8];
    for (uint32_t k = 0; k < nin; k++) {
        ti[k] = (uint32_t)gn_graph_add_tensor(g, NULL, in[k].dt, GN_KIND_INPUT, in[k].nd, in[k].sh, NULL);
        pi[k] = in[k].p;
    }
    for (uint32_t k = 0; k < nout; k++) {
        to[k] = (uint32_t)gn_graph_add_tensor(g, NULL, out[k].dt, GN_KIND_OUTPUT, out[k].nd, out[k].sh, NULL);
        po[k] = out[k].p;
    }
    assert_int_equal(gn_graph_add_node(g, op, ti, nin, to, nout, 0, 0, "test.mod", attrs), 0);
    gn_error sub;
    if (gn_session_finalize(s, &sub) < 0)
        fail_msg("%s", sub.msg);
    return s;
}

/* Builds a one-node graph OP(IN) -> OUT with ATTRS (stolen) and runs it on
 * the CPU executor (whose buffers are host memory). */
static int run_op(gn_op op, json_t *attrs, const spec *in, uint32_t nin, const spec *out, uint32_t nout,
                  gn_error *err)
{
    void *pi[8], *po[8];
    gn_session *s = one_node(op, attrs, in, nin, out, nout, pi, po);
    const gn_graph *g = gn_session_step(s, 0);
    const gn_executor_ops *ops = gn_executor_cpu();
    void *ex = ops->create(err);
    assert_non_null(ex);
    int rc = ops->run(ex, g, 0, pi, po, err);
    ops->destroy(ex);
    gn_session_destroy(s);
    return rc;
}

#define F32(nd_, ...) {GN_DTYPE_F32, nd_, {__VA_ARGS__}, NULL}
#define I64(nd_, ...) {GN_DTYPE_I64, nd_, {__VA_ARGS__}, NULL}

static void near(const float *got, const float *want, size_t n, float tol)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabsf(got[i] - want[i]) <= tol))
            fail_msg("element %zu: got %.8g, expected %.8g", i, (double)got[i], (double)want[i]);
}

static void ok(int rc, const gn_error *err)
{
    if (rc != 0)
        fail_msg("rc %d: %s", rc, err->msg);
}

/* ========================== per-op cases ========================== */

static void test_matmul(void **state)
{
    float a[6] = {1, 2, 3, 4, 5, 6}, w[6] = {7, 8, 9, 10, 11, 12}, wt[6] = {7, 9, 11, 8, 10, 12};
    float bias[2] = {0.5f, -1.0f}, y[4], want[4] = {58.5f, 63, 139.5f, 153};
    gn_error err;
    spec in[3] = {F32(2, 2, 3), F32(2, 3, 2), F32(1, 2)}, out[1] = {F32(2, 2, 2)};
    in[0].p = a, in[1].p = w, in[2].p = bias, out[0].p = y;
    ok(run_op(GN_OP_MATMUL, json_pack("{s:b,s:b}", "bias", 1, "transpose_b", 0), in, 3, out, 1, &err), &err);
    near(y, want, 4, 0);
    /* weight stored [n, k] (nn.Linear) */
    in[1] = (spec)F32(2, 2, 3);
    in[1].p = wt;
    memset(y, 0, sizeof(y));
    ok(run_op(GN_OP_MATMUL, json_pack("{s:b,s:b}", "bias", 1, "transpose_b", 1), in, 3, out, 1, &err), &err);
    near(y, want, 4, 0);
    /* batched over leading dims, no bias: [2, 1, 3] @ [3, 2] */
    float y2[4], want2[4] = {58, 64, 139, 154};
    spec in2[2] = {F32(3, 2, 1, 3), F32(2, 3, 2)}, out2[1] = {F32(3, 2, 1, 2)};
    in2[0].p = a, in2[1].p = w, out2[0].p = y2;
    ok(run_op(GN_OP_MATMUL, NULL, in2, 2, out2, 1, &err), &err);
    near(y2, want2, 4, 0);
    /* inner dims that disagree */
    spec bad[2] = {F32(2, 2, 3), F32(2, 2, 2)};
    bad[0].p = a, bad[1].p = w;
    assert_int_equal(run_op(GN_OP_MATMUL, NULL, bad, 2, out2, 1, &err), GN_EINVAL);
    assert_non_null(strstr(err.msg, "nodes[0]: matmul (module test.mod)"));
    (void)state;
}

static void test_norms(void **state)
{
    float x[4] = {1, 2, 3, 4}, w[4] = {1, 2, 1, 1}, b[4] = {0, 0, 1, 0}, y[4];
    float want[4] = {-1.3416408f, -0.8944272f, 1.4472136f, 1.3416408f};
    gn_error err;
    spec in[3] = {F32(2, 1, 4), F32(1, 4), F32(1, 4)}, out[1] = {F32(2, 1, 4)};
    in[0].p = x, in[1].p = w, in[2].p = b, out[0].p = y;
    ok(run_op(GN_OP_LAYER_NORM, json_pack("{s:f}", "eps", 0.0), in, 3, out, 1, &err), &err);
    near(y, want, 4, 1e-6f);
    float ones[4] = {1, 1, 1, 1}, wr[4] = {0.3651484f, 0.7302967f, 1.0954451f, 1.4605935f};
    in[1].p = ones;
    ok(run_op(GN_OP_RMS_NORM, json_pack("{s:f}", "eps", 0.0), in, 2, out, 1, &err), &err);
    near(y, wr, 4, 1e-6f);
    /* batch_norm: x, weight, bias, running_mean, running_var */
    float bw[2] = {1, 2}, bb[2] = {0, 1}, bm[2] = {1, 2}, bv[2] = {4, 1}, wb[4] = {0, 0.5f, 3, 5};
    spec bin[5] = {F32(4, 1, 2, 1, 2), F32(1, 2), F32(1, 2), F32(1, 2), F32(1, 2)}, bout[1] = {F32(4, 1, 2, 1, 2)};
    bin[0].p = x, bin[1].p = bw, bin[2].p = bb, bin[3].p = bm, bin[4].p = bv, bout[0].p = y;
    ok(run_op(GN_OP_BATCH_NORM, json_pack("{s:f}", "eps", 0.0), bin, 5, bout, 1, &err), &err);
    near(y, wb, 4, 1e-6f);
    (void)state;
}

static void test_softmax(void **state)
{
    float x[6] = {1, 2, 3, 0, 0, 0}, y[6];
    float want[6] = {0.09003057f, 0.24472847f, 0.66524096f, 1 / 3.0f, 1 / 3.0f, 1 / 3.0f};
    gn_error err;
    spec in[1] = {F32(2, 2, 3)}, out[1] = {F32(2, 2, 3)};
    in[0].p = x, out[0].p = y;
    ok(run_op(GN_OP_SOFTMAX, json_pack("{s:i}", "dim", -1), in, 1, out, 1, &err), &err);
    near(y, want, 6, 1e-7f);
    float x2[4] = {0, 0, logf(3), 0}, w2[4] = {0.25f, 0.5f, 0.75f, 0.5f};
    spec in2[1] = {F32(2, 2, 2)}, out2[1] = {F32(2, 2, 2)};
    in2[0].p = x2, out2[0].p = y;
    ok(run_op(GN_OP_SOFTMAX, json_pack("{s:i}", "dim", 0), in2, 1, out2, 1, &err), &err);
    near(y, w2, 4, 1e-7f);
    (void)state;
}

static float frand(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / 16777216.0f - 0.5f;
}

/* Naive causal GQA attention, straight from the definition. */
static void naive_attention(const float *q, const float *k, const float *v, float *o, int B, int H, int KV,
                            int T, int Tk, int dh, int causal)
{
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                int kh = h / (H / KV), lim = causal ? Tk - T + t + 1 : Tk;
                double s[64], m = -1e30, z = 0;
                for (int j = 0; j < lim; j++) {
                    double d = 0;
                    for (int e = 0; e < dh; e++)
                        d += (double)q[((b * H + h) * T + t) * dh + e] * k[((b * KV + kh) * Tk + j) * dh + e];
                    s[j] = d / sqrt((double)dh);
                    m = s[j] > m ? s[j] : m;
                }
                for (int j = 0; j < lim; j++)
                    z += s[j] = exp(s[j] - m);
                for (int e = 0; e < dh; e++) {
                    double acc = 0;
                    for (int j = 0; j < lim; j++)
                        acc += s[j] / z * v[((b * KV + kh) * Tk + j) * dh + e];
                    o[((b * H + h) * T + t) * dh + e] = (float)acc;
                }
            }
}

static void test_attention(void **state)
{
    enum { B = 2, H = 4, KV = 2, T = 3, TK = 5, DH = 4 };
    float q[B * H * T * DH], k[B * KV * TK * DH], v[B * KV * TK * DH], y[B * H * T * DH], want[B * H * T * DH];
    uint32_t seed = 7;
    for (size_t i = 0; i < sizeof(q) / 4; i++)
        q[i] = 2 * frand(&seed);
    for (size_t i = 0; i < sizeof(k) / 4; i++) {
        k[i] = 2 * frand(&seed);
        v[i] = 2 * frand(&seed);
    }
    gn_error err;
    spec in[3] = {F32(4, B, H, T, DH), F32(4, B, KV, TK, DH), F32(4, B, KV, TK, DH)}, out[1] = {F32(4, B, H, T, DH)};
    in[0].p = q, in[1].p = k, in[2].p = v, out[0].p = y;
    for (int causal = 0; causal < 2; causal++) {
        naive_attention(q, k, v, want, B, H, KV, T, TK, DH, causal);
        ok(run_op(GN_OP_ATTENTION,
                  json_pack("{s:i,s:i,s:i,s:b}", "heads", H, "kv_heads", KV, "head_dim", DH, "causal", causal), in,
                  3, out, 1, &err),
           &err);
        near(y, want, sizeof(y) / 4, 1e-6f);
    }
    /* the first query of a causal prefill sees only key 0: its output is v[0] */
    spec pin[3] = {F32(4, 1, 1, 2, DH), F32(4, 1, 1, 2, DH), F32(4, 1, 1, 2, DH)}, pout[1] = {F32(4, 1, 1, 2, DH)};
    pin[0].p = q, pin[1].p = k, pin[2].p = v, pout[0].p = y;
    ok(run_op(GN_OP_ATTENTION, json_pack("{s:b}", "causal", 1), pin, 3, pout, 1, &err), &err);
    near(y, v, DH, 1e-7f);
    /* more queries than keys cannot be causal */
    spec bad[3] = {F32(4, 1, 1, 3, DH), F32(4, 1, 1, 2, DH), F32(4, 1, 1, 2, DH)}, bout[1] = {F32(4, 1, 1, 3, DH)};
    bad[0].p = q, bad[1].p = k, bad[2].p = v, bout[0].p = y;
    assert_int_equal(run_op(GN_OP_ATTENTION, json_pack("{s:b}", "causal", 1), bad, 3, bout, 1, &err), GN_EINVAL);
    (void)state;
}

static void test_embedding(void **state)
{
    float w[8] = {0, 1, 2, 3, 4, 5, 6, 7}, y[6], want[6] = {6, 7, 2, 3, 0, 1};
    int64_t ids[3] = {3, 1, 0};
    gn_error err;
    spec in[2] = {F32(2, 4, 2), I64(2, 1, 3)}, out[1] = {F32(3, 1, 3, 2)};
    in[0].p = w, in[1].p = ids, out[0].p = y;
    ok(run_op(GN_OP_EMBEDDING, NULL, in, 2, out, 1, &err), &err);
    near(y, want, 6, 0);
    ids[1] = 4;
    assert_int_equal(run_op(GN_OP_EMBEDDING, NULL, in, 2, out, 1, &err), GN_EINVAL);
    assert_non_null(strstr(err.msg, "out of range"));
    /* bags: [B=1, pooling 3] -> sum, mean */
    ids[1] = 1;
    float ws[2] = {8, 11}, wm[2] = {8 / 3.0f, 11 / 3.0f};
    spec bout[1] = {F32(2, 1, 2)};
    bout[0].p = y;
    ok(run_op(GN_OP_EMBEDDING_BAG, json_pack("{s:s}", "mode", "sum"), in, 2, bout, 1, &err), &err);
    near(y, ws, 2, 0);
    ok(run_op(GN_OP_EMBEDDING_BAG, json_pack("{s:s}", "mode", "mean"), in, 2, bout, 1, &err), &err);
    near(y, wm, 2, 1e-6f);
    (void)state;
}

static void test_elementwise(void **state)
{
    float x[4] = {1, -1, 0, -2}, y[4];
    gn_error err;
    spec in[2] = {F32(1, 4), F32(1, 4)}, out[1] = {F32(1, 4)};
    in[0].p = x, out[0].p = y;
    float gelu[4] = {0.8411920f, -0.1588080f, 0, -0.0454023f};
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "gelu"), in, 1, out, 1, &err), &err);
    near(y, gelu, 4, 1e-6f);
    float silu[4] = {0.7310586f, -0.2689414f, 0, -0.2384058f};
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "silu"), in, 1, out, 1, &err), &err);
    near(y, silu, 4, 1e-6f);
    float relu[4] = {1, 0, 0, 0};
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "relu"), in, 1, out, 1, &err), &err);
    near(y, relu, 4, 0);
    x[1] = NAN; /* torch.relu keeps a NaN */
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "relu"), in, 1, out, 1, &err), &err);
    assert_true(isnan(y[1]) && y[0] == 1 && y[2] == 0 && y[3] == 0);
    x[1] = -1;
    float z[4] = {2, 3, 4, 5}, mul[4] = {2, -3, 0, -10};
    in[1].p = z;
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "mul"), in, 2, out, 1, &err), &err);
    near(y, mul, 4, 0);
    /* broadcast a [2] bias over [2, 2] */
    float bias[2] = {10, 20}, add[4] = {11, 19, 10, 18};
    spec bin[2] = {F32(2, 2, 2), F32(1, 2)}, bout[1] = {F32(2, 2, 2)};
    bin[0].p = x, bin[1].p = bias, bout[0].p = y;
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "add"), bin, 2, bout, 1, &err), &err);
    near(y, add, 4, 0);
    assert_int_equal(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "frobnicate"), in, 1, out, 1, &err),
                     GN_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "frobnicate"));
    (void)state;
}

static void test_rotary(void **state)
{
    /* table for positions 0 and 1, head_dim 4, theta 10000: inv_freq = {1, 0.01} */
    int64_t pos[2] = {0, 1};
    float cs[8], sn[8];
    gn_error err;
    spec tin[1] = {I64(2, 1, 2)}, tout[2] = {F32(3, 1, 2, 4), F32(3, 1, 2, 4)};
    tin[0].p = pos, tout[0].p = cs, tout[1].p = sn;
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s,s:f}", "fn", "rotary_table", "theta", 10000.0), tin, 1, tout, 2,
              &err),
       &err);
    float wc[8] = {1, 1, 1, 1, 0.5403023f, 0.99995f, 0.5403023f, 0.99995f};
    float ws[8] = {0, 0, 0, 0, 0.8414710f, 0.00999983f, 0.8414710f, 0.00999983f};
    near(cs, wc, 8, 1e-6f);
    near(sn, ws, 8, 1e-6f);
    /* x·cos + rotate_half(x)·sin, rotate_half([a, b, c, d]) = [-c, -d, a, b] */
    float x[8] = {1, 2, 3, 4, 1, 2, 3, 4}, y[8];
    float want[8] = {1, 2, 3, 4, -1.9841107f, 1.9599007f, 2.4623779f, 4.0197997f};
    spec in[3] = {F32(4, 1, 1, 2, 4), F32(3, 1, 2, 4), F32(3, 1, 2, 4)}, out[1] = {F32(4, 1, 1, 2, 4)};
    in[0].p = x, in[1].p = cs, in[2].p = sn, out[0].p = y;
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "rotary"), in, 3, out, 1, &err), &err);
    near(y, want, 8, 1e-6f);
    (void)state;
}

static void test_reduction(void **state)
{
    float x[8] = {1, 5, 5, 2, -1, -3, -0.5f, -2};
    int64_t arg[2];
    gn_error err;
    spec in[1] = {F32(3, 2, 1, 4)}, out[1] = {I64(2, 2, 1)};
    in[0].p = x, out[0].p = arg;
    ok(run_op(GN_OP_REDUCTION, json_pack("{s:s,s:i}", "fn", "argmax", "dim", -1), in, 1, out, 1, &err), &err);
    assert_int_equal(arg[0], 1); /* first of a tie */
    assert_int_equal(arg[1], 2);
    float y[2], sum[2] = {13, -6.5f}, mx[2] = {5, -0.5f};
    spec fout[1] = {F32(2, 2, 1)};
    fout[0].p = y;
    ok(run_op(GN_OP_REDUCTION, json_pack("{s:s}", "fn", "sum"), in, 1, fout, 1, &err), &err);
    near(y, sum, 2, 0);
    ok(run_op(GN_OP_REDUCTION, json_pack("{s:s}", "fn", "max"), in, 1, fout, 1, &err), &err);
    near(y, mx, 2, 0);
    (void)state;
}

static void test_views(void **state)
{
    /* [1, 3, 8] -> q [1, 2, 3, 2], k [1, 1, 3, 2], v [1, 1, 3, 2] */
    float x[24], q[12], k[6], v[6], back[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i;
    gn_error err;
    spec in[1] = {F32(3, 1, 3, 8)}, out[3] = {F32(4, 1, 2, 3, 2), F32(4, 1, 1, 3, 2), F32(4, 1, 1, 3, 2)};
    in[0].p = x, out[0].p = q, out[1].p = k, out[2].p = v;
    ok(run_op(GN_OP_VIEW, json_pack("{s:s}", "fn", "split_heads"), in, 1, out, 3, &err), &err);
    assert_true(q[(1 * 3 + 2) * 2 + 1] == x[2 * 8 + 3]); /* q[0, 1, 2, 1] = x[0, 2, 1*2+1] */
    assert_true(k[1 * 2 + 0] == x[1 * 8 + 4]);           /* k[0, 0, 1, 0] = x[0, 1, 4] */
    assert_true(v[2 * 2 + 1] == x[2 * 8 + 7]);           /* v[0, 0, 2, 1] = x[0, 2, 7] */
    /* round trip through four heads */
    float h4[24];
    spec sout[1] = {F32(4, 1, 4, 3, 2)}, min[1] = {F32(4, 1, 4, 3, 2)}, mout[1] = {F32(3, 1, 3, 8)};
    sout[0].p = h4, min[0].p = h4, mout[0].p = back;
    ok(run_op(GN_OP_VIEW, json_pack("{s:s}", "fn", "split_heads"), in, 1, sout, 1, &err), &err);
    ok(run_op(GN_OP_VIEW, json_pack("{s:s}", "fn", "merge_heads"), min, 1, mout, 1, &err), &err);
    near(back, x, 24, 0);
    /* last_position [1, 3, 8] -> [1, 1, 8] */
    float last[8];
    spec lout[1] = {F32(3, 1, 1, 8)};
    lout[0].p = last;
    ok(run_op(GN_OP_VIEW, json_pack("{s:s}", "fn", "last_position"), in, 1, lout, 1, &err), &err);
    near(last, x + 16, 8, 0);
    /* a reshape without fn */
    spec rout[1] = {F32(2, 6, 4)};
    rout[0].p = back;
    memset(back, 0, sizeof(back));
    ok(run_op(GN_OP_VIEW, NULL, in, 1, rout, 1, &err), &err);
    near(back, x, 24, 0);
    (void)state;
}

static void test_concat(void **state)
{
    /* the KV-cache append: [1, 2, 1, 2] ++ [1, 2, 2, 2] along dim 2 */
    float a[4] = {1, 2, 3, 4}, b[8] = {5, 6, 7, 8, 9, 10, 11, 12}, y[12];
    float want[12] = {1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12};
    gn_error err;
    spec in[2] = {F32(4, 1, 2, 1, 2), F32(4, 1, 2, 2, 2)}, out[1] = {F32(4, 1, 2, 3, 2)};
    in[0].p = a, in[1].p = b, out[0].p = y;
    ok(run_op(GN_OP_CONCAT, json_pack("{s:i}", "dim", 2), in, 2, out, 1, &err), &err);
    near(y, want, 12, 0);
    /* gather along dim 1 and arange */
    int64_t ix[2] = {1, 0}, ar[3];
    float g[4], wg[4] = {2, 1, 4, 3};
    spec gin[2] = {F32(2, 2, 2), I64(1, 2)}, gout[1] = {F32(2, 2, 2)};
    gin[0].p = a, gin[1].p = ix, gout[0].p = g;
    ok(run_op(GN_OP_INDEX, json_pack("{s:s,s:i}", "fn", "index_select", "dim", 1), gin, 2, gout, 1, &err), &err);
    near(g, wg, 4, 0);
    spec fout[1] = {I64(2, 1, 3)};
    fout[0].p = ar;
    ok(run_op(GN_OP_FILL, json_pack("{s:s}", "fn", "arange"), NULL, 0, fout, 1, &err), &err);
    assert_true(ar[0] == 0 && ar[1] == 1 && ar[2] == 2);
    (void)state;
}

static void test_conv_pool(void **state)
{
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, bias[1] = {1}, y[9];
    float want[9] = {13, 22, 17, 28, 46, 34, 25, 40, 29};
    gn_error err;
    spec in[3] = {F32(4, 1, 1, 3, 3), F32(4, 1, 1, 3, 3), F32(1, 1)}, out[1] = {F32(4, 1, 1, 3, 3)};
    in[0].p = x, in[1].p = w, in[2].p = bias, out[0].p = y;
    ok(run_op(GN_OP_CONV2D, json_pack("{s:i,s:i,s:i,s:i}", "stride", 1, "padding", 1, "groups", 1, "kernel", 3),
              in, 3, out, 1, &err),
       &err);
    near(y, want, 9, 0);
    float w2[4] = {12, 16, 24, 28};
    spec out2[1] = {F32(4, 1, 1, 2, 2)};
    out2[0].p = y;
    ok(run_op(GN_OP_CONV2D, json_pack("{s:i,s:i}", "stride", 2, "padding", 1), in, 2, out2, 1, &err), &err);
    near(y, w2, 4, 0);
    /* pooling a 4x4 ramp */
    float p[16], m[4], wm[4] = {6, 8, 14, 16}, avg[1];
    for (int i = 0; i < 16; i++)
        p[i] = (float)(i + 1);
    spec pin[1] = {F32(4, 1, 1, 4, 4)}, pout[1] = {F32(4, 1, 1, 2, 2)}, aout[1] = {F32(4, 1, 1, 1, 1)};
    pin[0].p = p, pout[0].p = m, aout[0].p = avg;
    ok(run_op(GN_OP_POOL2D, json_pack("{s:s,s:i,s:i,s:i}", "fn", "max", "kernel", 3, "stride", 2, "padding", 1),
              pin, 1, pout, 1, &err),
       &err);
    near(m, wm, 4, 0);
    ok(run_op(GN_OP_POOL2D, json_pack("{s:s,s:b}", "fn", "avg", "adaptive", 1), pin, 1, aout, 1, &err), &err);
    assert_true(avg[0] == 8.5f);
    (void)state;
}

static void test_interaction(void **state)
{
    float f0[2] = {1, 2}, f1[2] = {3, 4}, f2[2] = {5, 6}, y[5], want[5] = {1, 2, 11, 17, 39};
    gn_error err;
    spec in[3] = {F32(2, 1, 2), F32(2, 1, 2), F32(2, 1, 2)}, out[1] = {F32(2, 1, 5)};
    in[0].p = f0, in[1].p = f1, in[2].p = f2, out[0].p = y;
    ok(run_op(GN_OP_INTERACTION, json_pack("{s:s,s:b}", "fn", "dot", "self", 0), in, 3, out, 1, &err), &err);
    near(y, want, 5, 0);
    (void)state;
}

static void test_errors_name_the_node(void **state)
{
    float x[4] = {0}, y[4];
    gn_error err;
    spec in[1] = {F32(1, 4)}, out[1] = {F32(1, 4)};
    in[0].p = x, out[0].p = y;
    assert_int_equal(run_op(GN_OP_OPAQUE, json_pack("{s:s}", "name", "aten::frob"), in, 1, out, 1, &err),
                     GN_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "nodes[0]: opaque (module test.mod)"));
    assert_non_null(strstr(err.msg, "aten::frob"));
    double x64[4] = {0}, y64[4];
    spec h[1] = {{GN_DTYPE_F64, 1, {4}, x64}}, ho[1] = {{GN_DTYPE_F64, 1, {4}, y64}};
    assert_int_equal(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "relu"), h, 1, ho, 1, &err),
                     GN_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "f64 (the CPU executor computes in f32)"));
    (void)state;
}

/* ========================== half types, group_norm, bags, masks ==========================
 *
 * Torch references: the constants marked so are printed by
 * tests/data/exec_cpu_ref.py (.venv/bin/python tests/data/exec_cpu_ref.py;
 * torch 2.13.0+cpu), which computes them independently of this code.
 */

#define F16(nd_, ...) {GN_DTYPE_F16, nd_, {__VA_ARGS__}, NULL}
#define BF16(nd_, ...) {GN_DTYPE_BF16, nd_, {__VA_ARGS__}, NULL}

static void same_bits(const uint16_t *got, const uint16_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("element %zu: got 0x%04x, expected 0x%04x", i, got[i], want[i]);
}

static void test_half_conversion(void **state)
{
    /* torch reference: x.to(float16), x.to(bfloat16) as bits, and the f16 back to f32 */
    float cv[24] = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65519.0f, 65520.0f, 1000000.0f, 6.10351562e-05f, 5.99999985e-05f, 5.96000014e-08f, 2.98000007e-08f, 2.98023224e-08f, 1.00097656f, 1.00048828f, 1.00146484f, 3.14159274f, -0.00100000005f, INFINITY, -INFINITY, 3.00000001e+38f, 1.00390625f, 1.01171875f, 9.9999461e-41f};
    uint16_t cv16[24] = {0x0000, 0x8000, 0x3c00, 0xc100, 0x7bff, 0x7bff, 0x7c00, 0x7c00, 0x0400, 0x03ef, 0x0001, 0x0000, 0x0000, 0x3c01, 0x3c00, 0x3c02, 0x4248, 0x9419, 0x7c00, 0xfc00, 0x7c00, 0x3c04, 0x3c0c, 0x0000};
    uint16_t cvbf[24] = {0x0000, 0x8000, 0x3f80, 0xc020, 0x4780, 0x4780, 0x4780, 0x4974, 0x3880, 0x387c, 0x3380, 0x3300, 0x3300, 0x3f80, 0x3f80, 0x3f80, 0x4049, 0xba83, 0x7f80, 0xff80, 0x7f62, 0x3f80, 0x3f82, 0x0001};
    float cv16back[24] = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65504.0f, INFINITY, INFINITY, 6.10351562e-05f, 6.00218773e-05f, 5.96046448e-08f, 0.0f, 0.0f, 1.00097656f, 1.0f, 1.00195312f, 3.140625f, -0.00100040436f, INFINITY, -INFINITY, INFINITY, 1.00390625f, 1.01171875f, 0.0f};
    for (size_t i = 0; i < sizeof(cv) / sizeof(cv[0]); i++) {
        if (gn_half_f32_to_f16(cv[i]) != cv16[i])
            fail_msg("f16 of %.9g: got 0x%04x, expected 0x%04x", (double)cv[i], gn_half_f32_to_f16(cv[i]), cv16[i]);
        if (gn_half_f32_to_bf16(cv[i]) != cvbf[i])
            fail_msg("bf16 of %.9g: got 0x%04x, expected 0x%04x", (double)cv[i], gn_half_f32_to_bf16(cv[i]), cvbf[i]);
        float back = gn_half_f16_to_f32(cv16[i]);
        if (memcmp(&back, &cv16back[i], sizeof(float)) != 0)
            fail_msg("f32 of f16 0x%04x: got %.9g, expected %.9g", cv16[i], (double)back, (double)cv16back[i]);
        /* bf16 is the top half of an f32 */
        float wb = gn_half_bf16_to_f32(cvbf[i]);
        uint32_t u;
        memcpy(&u, &wb, 4);
        assert_int_equal(u, (uint32_t)cvbf[i] << 16);
    }
    /* every f16 pattern survives f16 -> f32 -> f16 (NaNs stay NaN) */
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = gn_half_f16_to_f32((uint16_t)h);
        uint16_t r = gn_half_f32_to_f16(f);
        if (f != f)
            assert_true((r & 0x7c00) == 0x7c00 && (r & 0x3ff) && (r & 0x8000) == (h & 0x8000));
        else if (r != h)
            fail_msg("f16 0x%04x -> %.9g -> 0x%04x", h, (double)f, r);
    }
    assert_true(isnan(gn_half_bf16_to_f32(gn_half_f32_to_bf16(NAN))));
    (void)state;
}

static void test_half_ops(void **state)
{
    /* torch reference: each op in f32 on the half inputs, rounded once (the executor's rule),
     * which here is also what torch's own f16/bf16 kernels give (*_torch) */
    uint16_t ha[6] = {0xbe00, 0x3400, 0xbd00, 0x3800, 0xbc00, 0x3a00};
    uint16_t hw[12] = {0xbeab, 0x0000, 0x3eab, 0xb555, 0x3d55, 0xb955, 0x3c00, 0xbc00, 0x3955, 0xbd55, 0x3555, 0xbeab};
    uint16_t hb[4] = {0xb600, 0x0000, 0x3600, 0xb000};
    uint16_t hmm[8] = {0x2958, 0x3eaa, 0xc06b, 0x440b, 0x2958, 0xc000, 0x40c0, 0xc0c0};
    uint16_t hmm_torch[8] = {0x2958, 0x3eaa, 0xc06b, 0x440b, 0x2958, 0xc000, 0x40c0, 0xc0c0};
    uint16_t bx[8] = {0xc020, 0xbf80, 0x3f00, 0x4000, 0xc000, 0xbf00, 0x3f80, 0x4020};
    uint16_t blw[4] = {0xbf2b, 0x3f80, 0x3eab, 0xbeab};
    uint16_t blb[4] = {0xbf00, 0x0000, 0x3f00, 0xbe80};
    uint16_t bln[8] = {0x3ecb, 0xbee5, 0x3f26, 0xbf33, 0x3ecb, 0xbee5, 0x3f26, 0xbf33};
    uint16_t bln_torch[8] = {0x3ecb, 0xbee5, 0x3f26, 0xbf33, 0x3ecb, 0xbee5, 0x3f26, 0xbf33};
    uint16_t hsm[8] = {0x2c26, 0x35f8, 0x2d54, 0x37aa, 0x2c26, 0x35f8, 0x2d54, 0x37aa};
    uint16_t hsm_torch[8] = {0x2c26, 0x35f8, 0x2d54, 0x37aa, 0x2c26, 0x35f8, 0x2d54, 0x37aa};
    uint16_t bge[8] = {0xbc77, 0xbe23, 0x3eb1, 0x3ffa, 0xbd3a, 0xbe1e, 0x3f57, 0x401f};
    uint16_t bge_torch[8] = {0xbc77, 0xbe23, 0x3eb1, 0x3ffa, 0xbd3a, 0xbe1e, 0x3f57, 0x401f};
    uint16_t y[8], hx[8];
    gn_error err;
    spec in[3] = {F16(2, 2, 3), F16(2, 4, 3), F16(1, 4)}, out[1] = {F16(2, 2, 4)};
    in[0].p = ha, in[1].p = hw, in[2].p = hb, out[0].p = y;
    ok(run_op(GN_OP_MATMUL, json_pack("{s:b}", "transpose_b", 1), in, 3, out, 1, &err), &err);
    same_bits(y, hmm, 8);
    same_bits(y, hmm_torch, 8);
    spec lin[3] = {BF16(2, 2, 4), BF16(1, 4), BF16(1, 4)}, lout[1] = {BF16(2, 2, 4)};
    lin[0].p = bx, lin[1].p = blw, lin[2].p = blb, lout[0].p = y;
    ok(run_op(GN_OP_LAYER_NORM, json_pack("{s:f}", "eps", 1e-5), lin, 3, lout, 1, &err), &err);
    same_bits(y, bln, 8);
    same_bits(y, bln_torch, 8);
    /* softmax of seq(8) = ((7i mod 13) - 6) / 4, stored as f16 */
    for (int i = 0; i < 8; i++)
        hx[i] = gn_half_f32_to_f16((float)((i * 7) % 13 - 6) / 4.0f);
    spec sin_[1] = {F16(2, 2, 4)}, sout[1] = {F16(2, 2, 4)};
    sin_[0].p = hx, sout[0].p = y;
    ok(run_op(GN_OP_SOFTMAX, NULL, sin_, 1, sout, 1, &err), &err);
    same_bits(y, hsm, 8);
    same_bits(y, hsm_torch, 8);
    spec gin[1] = {BF16(1, 8)}, gout[1] = {BF16(1, 8)};
    gin[0].p = bx, gout[0].p = y;
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "gelu"), gin, 1, gout, 1, &err), &err);
    same_bits(y, bge, 8);
    same_bits(y, bge_torch, 8);
    /* casts to and from half; a lookup copies f16 rows as they are */
    float f[4] = {1.0f, -2.5f, 1.00146484f, 65520.0f}, fb[4];
    uint16_t want16[4] = {0x3c00, 0xc100, 0x3c02, 0x7c00};
    spec cin[1] = {F32(1, 4)}, cout[1] = {F16(1, 4)};
    cin[0].p = f, cout[0].p = y;
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "cast"), cin, 1, cout, 1, &err), &err);
    same_bits(y, want16, 4);
    spec bin[1] = {F16(1, 4)}, bout[1] = {F32(1, 4)};
    bin[0].p = y, bout[0].p = fb;
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "cast"), bin, 1, bout, 1, &err), &err);
    assert_true(fb[0] == 1.0f && fb[1] == -2.5f && fb[2] == 1.00195312f && isinf(fb[3]));
    int64_t ids[2] = {1, 0};
    spec ein[2] = {F16(2, 2, 3), I64(1, 2)}, eout[1] = {F16(2, 2, 3)};
    ein[0].p = ha, ein[1].p = ids, eout[0].p = y;
    ok(run_op(GN_OP_EMBEDDING, NULL, ein, 2, eout, 1, &err), &err);
    uint16_t wemb[6] = {ha[3], ha[4], ha[5], ha[0], ha[1], ha[2]};
    same_bits(y, wemb, 6);
    /* mixed: an f16 activation times an f32 weight into f32 */
    float w32[12], y32[8], want32[8];
    for (int i = 0; i < 12; i++)
        w32[i] = gn_half_f16_to_f32(hw[i]);
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < 4; j++) {
            float acc = 0;
            for (int k = 0; k < 3; k++)
                acc += gn_half_f16_to_f32(ha[r * 3 + k]) * w32[j * 3 + k];
            want32[r * 4 + j] = acc;
        }
    spec min_[2] = {F16(2, 2, 3), F32(2, 4, 3)}, mout[1] = {F32(2, 2, 4)};
    min_[0].p = ha, min_[1].p = w32, mout[0].p = y32;
    ok(run_op(GN_OP_MATMUL, json_pack("{s:b}", "transpose_b", 1), min_, 2, mout, 1, &err), &err);
    near(y32, want32, 8, 1e-6f);
    (void)state;
}

static void test_group_norm(void **state)
{
    /* torch reference: aten.native_group_norm(x [2, 4, 3], w, b, groups 2, eps 1e-5) */
    float gx[24] = {-2.66666675f, -1.0f, 0.666666687f, 2.33333325f, -1.66666663f, 0.0f, 1.66666663f, -2.33333325f, -0.666666687f, 1.0f, 2.66666675f, -1.33333337f, 0.333333343f, 2.0f, -2.0f, -0.333333343f, 1.33333337f, -2.66666675f, -1.0f, 0.666666687f, 2.33333325f, -1.66666663f, 0.0f, 1.66666663f};
    float gw[4] = {-1.0f, 0.5f, -0.5f, 1.0f};
    float gb[4] = {-0.25f, 0.25f, 0.0f, -0.25f};
    float gy[24] = {1.1505307f, 0.125752121f, -0.899026453f, 1.0869025f, -0.142831787f, 0.3695575f, -0.428408861f, 0.714014769f, 0.238004923f, 0.226009846f, 1.17802954f, -1.10681772f, -0.581861019f, -1.5774442f, 0.811955333f, 0.216813862f, 0.714605451f, -0.480094343f, 0.47582978f, -0.118957445f, -0.713744581f, -1.67748928f, -0.48791489f, 0.701659501f};
    float gmean[4] = {-0.388888925f, 0.166666657f, -0.222222179f, 0.333333343f};
    float grstd[4] = {0.614867151f, 0.571211815f, 0.597349882f, 0.71374464f};
    float gy_noaffine[24] = {-1.22474158f, 0.0f, 1.22474158f, 1.28683996f, -1.15138316f, -0.135456815f, 1.28683996f, -1.15138316f, -0.13545683f, 0.135456815f, 1.15138304f, -1.28683984f, 0.135456815f, 1.15138316f, -1.28683996f, 0.13545683f, 1.15138304f, -1.28683984f, -1.2247417f, 0.0f, 1.22474158f, -1.22474146f, 0.0f, 1.22474146f};
    float y[24], mean[4], rstd[4];
    gn_error err;
    spec in[3] = {F32(3, 2, 4, 3), F32(1, 4), F32(1, 4)}, out[3] = {F32(3, 2, 4, 3), F32(2, 2, 2), F32(2, 2, 2)};
    in[0].p = gx, in[1].p = gw, in[2].p = gb, out[0].p = y, out[1].p = mean, out[2].p = rstd;
    ok(run_op(GN_OP_GROUP_NORM, json_pack("{s:i,s:f}", "groups", 2, "eps", 1e-5), in, 3, out, 3, &err), &err);
    near(y, gy, 24, 2e-6f);
    near(mean, gmean, 4, 1e-7f);
    near(rstd, grstd, 4, 1e-6f);
    /* one group per channel, no affine, the result alone */
    ok(run_op(GN_OP_GROUP_NORM, json_pack("{s:i}", "groups", 4), in, 1, out, 1, &err), &err);
    near(y, gy_noaffine, 24, 2e-6f);
    assert_int_equal(run_op(GN_OP_GROUP_NORM, NULL, in, 3, out, 1, &err), GN_EINVAL);
    assert_non_null(strstr(err.msg, "attrs.groups missing"));
    assert_int_equal(run_op(GN_OP_GROUP_NORM, json_pack("{s:i}", "groups", 3), in, 3, out, 1, &err), GN_EINVAL);
    assert_non_null(strstr(err.msg, "must divide"));
    /* layer_norm's statistics outputs: [1, 2, 3, 4] has mean 2.5, rstd 1/sqrt(1.25) */
    float x[4] = {1, 2, 3, 4}, ly[4], lm, lr;
    spec lin[1] = {F32(2, 1, 4)}, lout[3] = {F32(2, 1, 4), F32(2, 1, 1), F32(2, 1, 1)};
    lin[0].p = x, lout[0].p = ly, lout[1].p = &lm, lout[2].p = &lr;
    ok(run_op(GN_OP_LAYER_NORM, json_pack("{s:f}", "eps", 0.0), lin, 1, lout, 3, &err), &err);
    assert_true(lm == 2.5f && fabsf(lr - 0.89442719f) < 1e-7f);
    (void)state;
}

static void test_bag_offsets(void **state)
{
    /* torch reference: aten._embedding_bag(weight [6, 3], ids, offsets [0, 2, 2, 5], mode, ...);
     * bag 1 is empty */
    float ew[18] = {-2.25f, -1.0f, 0.25f, 1.5f, -2.0f, -0.75f, 0.5f, 1.75f, -1.75f, -0.5f, 0.75f, 2.0f, -1.5f, -0.25f, 1.0f, 2.25f, -1.25f, 0.0f};
    float epsw[8] = {-1.0f, 0.5f, 2.0f, 0.0f, 1.5f, -0.5f, 1.0f, -1.0f};
    float e_sum[12] = {2.0f, -0.25f, -2.5f, 0.0f, 0.0f, 0.0f, -0.75f, -1.75f, 2.0f, -2.25f, 1.5f, 0.5f};
    float e_mean[12] = {1.0f, -0.125f, -1.25f, 0.0f, 0.0f, 0.0f, -0.25f, -0.583333313f, 0.666666687f, -0.75f, 0.5f, 0.166666672f};
    int64_t e_mean_o2b[8] = {0, 0, 2, 2, 2, 3, 3, 3};
    int64_t e_mean_bsz[4] = {2, 0, 3, 3};
    int64_t e_mean_maxi[4] = {2, 0, 3, 3};
    float e_max[12] = {1.5f, 1.75f, -0.75f, 0.0f, 0.0f, 0.0f, 2.25f, -0.25f, 1.0f, 0.5f, 1.75f, 2.0f};
    int64_t e_max_o2b[8] = {0, 0, 2, 2, 2, 3, 3, 3};
    int64_t e_max_bsz[4] = {2, 0, 3, 3};
    int64_t e_max_maxi[12] = {1, 2, 1, 0, 0, 0, 5, 4, 4, 2, 2, 3};
    float e_psw[12] = {-1.25f, 2.875f, -0.125f, 0.0f, 0.0f, 0.0f, -5.25f, -0.875f, 3.5f, 3.0f, 2.375f, -3.0f};
    float e_last[12] = {2.0f, -0.25f, -2.5f, 0.0f, 0.0f, 0.0f, -0.75f, -1.75f, 2.0f, 0.0f, 2.5f, 0.25f};
    float e_pad_mean[12] = {1.0f, -0.125f, -1.25f, 0.0f, 0.0f, 0.0f, 2.25f, -1.25f, 0.0f, -0.75f, 0.5f, 0.166666672f};
    int64_t ids[8] = {1, 2, 4, 5, 4, 3, 2, 0}, off[5] = {0, 2, 2, 5, 7}, o2b[8], bsz[4], maxi[12];
    float y[12];
    gn_error err;
    spec in[4] = {F32(2, 6, 3), I64(1, 8), I64(1, 4), F32(1, 8)};
    spec out[4] = {F32(2, 4, 3), I64(1, 8), I64(1, 4), I64(1, 4)};
    in[0].p = ew, in[1].p = ids, in[2].p = off, in[3].p = epsw;
    out[0].p = y, out[1].p = o2b, out[2].p = bsz, out[3].p = maxi;
    ok(run_op(GN_OP_EMBEDDING_BAG, json_pack("{s:s}", "mode", "sum"), in, 3, out, 1, &err), &err);
    near(y, e_sum, 12, 0);
    ok(run_op(GN_OP_EMBEDDING_BAG, json_pack("{s:s}", "mode", "mean"), in, 3, out, 4, &err), &err);
    near(y, e_mean, 12, 1e-7f);
    assert_memory_equal(o2b, e_mean_o2b, sizeof(o2b));
    assert_memory_equal(bsz, e_mean_bsz, sizeof(bsz));
    assert_memory_equal(maxi, e_mean_maxi, 4 * sizeof(int64_t));
    out[3] = (spec)I64(2, 4, 3);
    out[3].p = maxi;
    ok(run_op(GN_OP_EMBEDDING_BAG, json_pack("{s:s}", "mode", "max"), in, 3, out, 4, &err), &err);
    near(y, e_max, 12, 0);
    assert_memory_equal(o2b, e_max_o2b, sizeof(o2b));
    assert_memory_equal(bsz, e_max_bsz, sizeof(bsz));
    assert_memory_equal(maxi, e_max_maxi, sizeof(maxi));
    ok(run_op(GN_OP_EMBEDDING_BAG, json_pack("{s:s}", "mode", "sum"), in, 4, out, 1, &err), &err);
    near(y, e_psw, 12, 1e-6f);
    /* include_last_offset: 5 offsets for 4 bags, the last bag ends at offsets[4] = 7 */
    spec lin[3] = {F32(2, 6, 3), I64(1, 8), I64(1, 5)};
    lin[0].p = ew, lin[1].p = ids, lin[2].p = off;
    ok(run_op(GN_OP_EMBEDDING_BAG, json_pack("{s:s,s:b}", "mode", "sum", "include_last_offset", 1), lin, 3, out, 1,
              &err), &err);
    near(y, e_last, 12, 0);
    ok(run_op(GN_OP_EMBEDDING_BAG, json_pack("{s:s,s:i}", "mode", "mean", "padding_idx", 4), in, 3, out, 1, &err),
       &err);
    near(y, e_pad_mean, 12, 1e-7f);
    /* bad offsets and weights name the node */
    assert_int_equal(run_op(GN_OP_EMBEDDING_BAG, json_pack("{s:s}", "mode", "mean"), in, 4, out, 1, &err),
                     GN_EINVAL);
    assert_non_null(strstr(err.msg, "per-sample weights need mode sum"));
    assert_int_equal(run_op(GN_OP_EMBEDDING_BAG, json_pack("{s:s,s:b}", "mode", "sum", "include_last_offset", 1),
                            in, 3, out, 1, &err), GN_EINVAL);
    off[2] = 1;
    assert_int_equal(run_op(GN_OP_EMBEDDING_BAG, json_pack("{s:s}", "mode", "sum"), in, 3, out, 1, &err), GN_EINVAL);
    assert_non_null(strstr(err.msg, "nodes[0]: embedding_bag (module test.mod): offsets[2] = 1"));
    off[2] = 2, off[3] = 9;
    assert_int_equal(run_op(GN_OP_EMBEDDING_BAG, json_pack("{s:s}", "mode", "sum"), in, 3, out, 1, &err), GN_EINVAL);
    (void)state;
}

static void test_attention_mask(void **state)
{
    /* torch reference: F.scaled_dot_product_attention(q [1,2,2,4], k, v [1,1,3,4] expanded to 2 heads,
     * attn_mask=...) */
    float aq[16] = {-1.25f, 0.0f, 1.25f, -0.25f, 1.0f, -0.5f, 0.75f, -0.75f, 0.5f, -1.0f, 0.25f, -1.25f, 0.0f, 1.25f, -0.25f, 1.0f};
    float ak[12] = {-1.33333337f, 1.0f, 0.333333343f, -0.333333343f, -1.0f, 1.33333337f, 0.666666687f, 0.0f, -0.666666687f, -1.33333337f, 1.0f, 0.333333343f};
    float av[12] = {-1.20000005f, -0.400000006f, 0.400000006f, 1.20000005f, -0.600000024f, 0.200000003f, 1.0f, -0.800000012f, 0.0f, 0.800000012f, -1.0f, -0.200000003f};
    float a_bool[16] = {-0.624985576f, 0.175014481f, -0.270850211f, 0.52914983f, 0.0f, 0.0f, 0.0f, 0.0f, -0.322729737f, 0.477270335f, -0.623482049f, 0.176518023f, 0.0f, 0.0f, 0.0f, 0.0f};
    float amask[12] = {-1.5f, 1.0f, 0.0f, -1.0f, 1.5f, 0.5f, -0.5f, -1.5f, 1.0f, 0.0f, -1.0f, 1.5f};
    float a_add[16] = {-0.488509238f, 0.311490774f, 0.473682046f, -0.533827186f, -0.359326214f, 0.440673888f, 0.0955913812f, -0.457163721f, -0.101856343f, 0.698143661f, -0.853514791f, -0.108820461f, -0.528755724f, 0.271244347f, -0.149098381f, 0.182861686f};
    float aq3[24] = {-1.25f, 0.0f, 1.25f, -0.25f, 1.0f, -0.5f, 0.75f, -0.75f, 0.5f, -1.0f, 0.25f, -1.25f, 0.0f, 1.25f, -0.25f, 1.0f, -0.5f, 0.75f, -0.75f, 0.5f, -1.0f, 0.25f, -1.25f, 0.0f};
    float a_causal[24] = {-1.20000005f, -0.400000006f, 0.400000006f, 1.20000005f, -0.600000024f, 0.200000003f, 1.0f, -0.800000012f, -0.322729737f, 0.477270335f, -0.623482049f, 0.176518023f, -1.20000005f, -0.400000006f, 0.400000006f, 1.20000005f, -0.600000024f, 0.200000003f, 1.0f, -0.800000012f, -0.887005866f, -0.0870057791f, 0.0348400734f, 0.834840119f};
    float y[24];
    gn_error err;
    uint8_t bm[6] = {1, 0, 1, 0, 0, 0}; /* [T, Tk]: query 1 sees nothing, and gets 0 as torch */
    spec in[4] = {F32(4, 1, 2, 2, 4), F32(4, 1, 1, 3, 4), F32(4, 1, 1, 3, 4), {GN_DTYPE_BOOL, 2, {2, 3}, bm}};
    spec out[1] = {F32(4, 1, 2, 2, 4)};
    in[0].p = aq, in[1].p = ak, in[2].p = av, out[0].p = y;
    ok(run_op(GN_OP_ATTENTION, json_pack("{s:b}", "masked", 1), in, 4, out, 1, &err), &err);
    near(y, a_bool, 16, 1e-6f);
    in[3] = (spec)F32(4, 1, 2, 2, 3);
    in[3].p = amask;
    ok(run_op(GN_OP_ATTENTION, json_pack("{s:b}", "masked", 1), in, 4, out, 1, &err), &err);
    near(y, a_add, 16, 1e-6f);
    /* causal and a mask together: both apply (T = Tk, where torch's alignment and ours agree) */
    uint8_t cm[9] = {1, 1, 1, 0, 1, 1, 1, 0, 1};
    spec cin[4] = {F32(4, 1, 2, 3, 4), F32(4, 1, 1, 3, 4), F32(4, 1, 1, 3, 4), {GN_DTYPE_BOOL, 2, {3, 3}, cm}};
    spec cout[1] = {F32(4, 1, 2, 3, 4)};
    cin[0].p = aq3, cin[1].p = ak, cin[2].p = av, cout[0].p = y;
    ok(run_op(GN_OP_ATTENTION, json_pack("{s:b,s:b}", "masked", 1, "causal", 1), cin, 4, cout, 1, &err), &err);
    near(y, a_causal, 24, 1e-6f);
    /* a mask the trace lost, one that does not broadcast, one of integers */
    assert_int_equal(run_op(GN_OP_ATTENTION, json_pack("{s:b}", "masked", 1), in, 3, out, 1, &err), GN_EINVAL);
    assert_non_null(strstr(err.msg, "attrs.masked is true but the node has no mask input"));
    in[3] = cin[3];
    assert_int_equal(run_op(GN_OP_ATTENTION, NULL, in, 4, out, 1, &err), GN_EINVAL);
    assert_non_null(strstr(err.msg, "mask does not broadcast to [B, H, T, Tk] = [1, 2, 2, 3]"));
    int64_t im[6] = {0};
    in[3] = (spec){GN_DTYPE_I64, 2, {2, 3}, im};
    assert_int_equal(run_op(GN_OP_ATTENTION, NULL, in, 4, out, 1, &err), GN_EUNSUPPORTED);
    (void)state;
}

/* Forms the PyTorch front end records: torch.t, a mean over [-1, -2],
 * max pooling with indices; copies that are not byte copies are refused. */
static void test_captured_forms(void **state)
{
    float x[6] = {1, 2, 3, 4, 5, 6}, y[6], wt[6] = {1, 4, 2, 5, 3, 6};
    gn_error err;
    spec in[1] = {F32(2, 2, 3)}, out[1] = {F32(2, 3, 2)};
    in[0].p = x, out[0].p = y;
    ok(run_op(GN_OP_VIEW, json_pack("{s:s}", "fn", "t"), in, 1, out, 1, &err), &err);
    near(y, wt, 6, 0);
    /* mean over dims (-1, -2) of arange(8) [1, 2, 2, 2]: 1.5, 5.5 (torch) */
    float r8[8] = {0, 1, 2, 3, 4, 5, 6, 7}, rm[2] = {1.5f, 5.5f};
    spec rin[1] = {F32(4, 1, 2, 2, 2)}, rout[1] = {F32(4, 1, 2, 1, 1)};
    rin[0].p = r8, rout[0].p = y;
    ok(run_op(GN_OP_REDUCTION, json_pack("{s:s,s:[i,i]}", "fn", "mean", "dims", -1, -2), rin, 1, rout, 1, &err),
       &err);
    near(y, rm, 2, 0);
    assert_int_equal(run_op(GN_OP_REDUCTION, json_pack("{s:s,s:[i,i]}", "fn", "sum", "dims", 1, 3), rin, 1, rout, 1,
                            &err), GN_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "not adjacent"));
    /* F.max_pool2d(x, 3, 2, 1, return_indices=True) on [1,5,2; 7,3,9; 4,8,6] (torch): [7, 9; 8, 9], [3, 5; 7, 5] */
    float px[9] = {1, 5, 2, 7, 3, 9, 4, 8, 6}, pw[4] = {7, 9, 8, 9}, ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    int64_t pi[4], piw[4] = {3, 5, 7, 5}, tie[4] = {0, 1, 3, 4};
    spec pin[1] = {F32(4, 1, 1, 3, 3)}, pout[2] = {F32(4, 1, 1, 2, 2), I64(4, 1, 1, 2, 2)};
    pin[0].p = px, pout[0].p = y, pout[1].p = pi;
    ok(run_op(GN_OP_POOL2D, json_pack("{s:s,s:i,s:i,s:i}", "fn", "max", "kernel", 3, "stride", 2, "padding", 1), pin,
              1, pout, 2, &err), &err);
    near(y, pw, 4, 0);
    assert_memory_equal(pi, piw, sizeof(pi));
    /* ties: the first in the window (torch: [0, 1; 3, 4] for ones, kernel 2, stride 1) */
    pin[0].p = ones;
    ok(run_op(GN_OP_POOL2D, json_pack("{s:s,s:i,s:i}", "fn", "max", "kernel", 2, "stride", 1), pin, 1, pout, 2, &err),
       &err);
    assert_memory_equal(pi, tie, sizeof(pi));
    /* native_batch_norm's extra outputs: the running mean and 1/sqrt(var + eps) where they have C
     * elements, nothing where they have 0 (torch's inference) */
    float bx[4] = {1, 2, 3, 4}, bm[2] = {1, 2}, bv[2] = {4, 1}, by[4], bmean[2], binv[2] = {-7, -7};
    float bwant[4] = {0, 0.5f, 1, 2};
    spec bin[5] = {F32(4, 1, 2, 1, 2), F32(1, 2), F32(1, 2), F32(1, 2), F32(1, 2)};
    spec bout[3] = {F32(4, 1, 2, 1, 2), F32(1, 2), F32(1, 2)};
    float one[2] = {1, 1}, zero[2] = {0, 0};
    bin[0].p = bx, bin[1].p = one, bin[2].p = zero, bin[3].p = bm, bin[4].p = bv;
    bout[0].p = by, bout[1].p = bmean, bout[2].p = binv;
    ok(run_op(GN_OP_BATCH_NORM, json_pack("{s:f}", "eps", 0.0), bin, 5, bout, 3, &err), &err);
    near(by, bwant, 4, 1e-7f);
    assert_true(bmean[0] == 1 && bmean[1] == 2 && binv[0] == 0.5f && binv[1] == 1);
    bout[2] = (spec)F32(1, 0);
    bout[2].p = NULL;
    binv[0] = -7;
    ok(run_op(GN_OP_BATCH_NORM, json_pack("{s:f}", "eps", 0.0), bin, 5, bout, 3, &err), &err);
    assert_true(binv[0] == -7);
    /* a flip of the same size is not a byte copy */
    spec cin[1] = {F32(1, 6)}, cout[1] = {F32(1, 6)};
    cin[0].p = x, cout[0].p = y;
    assert_int_equal(run_op(GN_OP_COPY, json_pack("{s:s}", "fn", "flip"), cin, 1, cout, 1, &err), GN_EUNSUPPORTED);
    ok(run_op(GN_OP_COPY, json_pack("{s:s}", "fn", "clone"), cin, 1, cout, 1, &err), &err);
    near(y, x, 6, 0);
    (void)state;
}

/* Host index values for gn_opcheck_node: the buffers themselves. */
static int host_bufs(void *arg, uint32_t k, const void **host)
{
    *host = ((void **)arg)[k];
    return 0;
}

/* The checks of an executor that lacks FEATS (as the CUDA one lacks them all) refuse cleanly. */
static void refused(gn_op op, json_t *attrs, const spec *in, uint32_t nin, const spec *out, uint32_t nout,
                    const char *what)
{
    void *pi[8], *po[8];
    gn_session *s = one_node(op, attrs, in, nin, out, nout, pi, po);
    gn_opdesc d;
    gn_error err;
    ok(gn_opcheck_node(gn_session_step(s, 0), 0, "CPU", GN_OPCHECK_ALL, host_bufs, pi, &d, &err), &err);
    assert_int_equal(gn_opcheck_node(gn_session_step(s, 0), 0, "CUDA", 0, host_bufs, pi, &d, &err), GN_EUNSUPPORTED);
    if (!strstr(err.msg, what) || !strstr(err.msg, "CUDA"))
        fail_msg("expected \"%s\" naming CUDA, got: %s", what, err.msg);
    gn_session_destroy(s);
}

static void test_features_refused(void **state)
{
    float x[24] = {0}, w[18] = {0};
    uint16_t h[4] = {0};
    int64_t ids[8] = {0}, off[4] = {0, 2, 2, 5};
    uint8_t m[6] = {1, 1, 1, 1, 1, 1};
    spec g[1] = {F32(3, 2, 4, 3)}, go[1] = {F32(3, 2, 4, 3)};
    g[0].p = x;
    refused(GN_OP_GROUP_NORM, json_pack("{s:i}", "groups", 2), g, 1, go, 1, "not run by the CUDA executor");
    spec hf[1] = {F16(1, 4)}, hfo[1] = {F16(1, 4)};
    hf[0].p = h;
    refused(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "relu"), hf, 1, hfo, 1, "input 0 is f16");
    spec f4[1] = {F32(1, 4)};
    f4[0].p = x;
    refused(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "cast"), f4, 1, hfo, 1, "cast from f32 to f16");
    spec b[3] = {F32(2, 6, 3), I64(1, 8), I64(1, 4)}, bo[1] = {F32(2, 4, 3)};
    b[0].p = w, b[1].p = ids, b[2].p = off;
    refused(GN_OP_EMBEDDING_BAG, json_pack("{s:s}", "mode", "sum"), b, 3, bo, 1, "offsets");
    spec a[4] = {F32(4, 1, 2, 2, 4), F32(4, 1, 1, 3, 4), F32(4, 1, 1, 3, 4), {GN_DTYPE_BOOL, 2, {2, 3}, m}};
    spec ao[1] = {F32(4, 1, 2, 2, 4)};
    a[0].p = a[1].p = a[2].p = x;
    refused(GN_OP_ATTENTION, NULL, a, 4, ao, 1, "a mask tensor is not supported by the CUDA executor");
    spec l[1] = {F32(2, 2, 4)}, lo[3] = {F32(2, 2, 4), F32(2, 2, 1), F32(2, 2, 1)};
    l[0].p = x;
    refused(GN_OP_LAYER_NORM, NULL, l, 1, lo, 3, "statistics outputs");
    spec p[1] = {F32(4, 1, 1, 3, 3)}, po[2] = {F32(4, 1, 1, 2, 2), I64(4, 1, 1, 2, 2)};
    p[0].p = x;
    refused(GN_OP_POOL2D, json_pack("{s:s,s:i,s:i}", "fn", "max", "kernel", 2, "stride", 1), p, 1, po, 2,
            "indices output");
    spec v[1] = {F32(2, 4, 6)}, vo[1] = {F32(1, 6)};
    v[0].p = x;
    refused(GN_OP_VIEW, json_pack("{s:s,s:i,s:i}", "fn", "select", "dim", 0, "index", 1), v, 1, vo, 1,
            "view fn \"select\" is not supported");
    spec e[1] = {F32(1, 4)}, eo[1] = {F32(1, 4)};
    e[0].p = x;
    refused(GN_OP_ELEMENTWISE, json_pack("{s:s,s:f}", "fn", "mul", "scalar", 0.5), e, 1, eo, 1,
            "scalar operand is not supported");
    int64_t i4[4] = {0};
    spec n[2] = {I64(1, 4), I64(1, 4)}, no[1] = {I64(1, 4)};
    n[0].p = n[1].p = i4;
    refused(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "add"), n, 2, no, 1, "add on i64 data is not supported");
    (void)state;
}

/* Views by argument (select, slice, transpose, permute, split, unbind; expand of ids), scalar
 * operands, fill_ values, torch's causal alignment and the pooling forms refused: the attrs the
 * PyTorch front end writes (python/genie/optable.py), checked against torch's indexing. */
static void test_captured_arguments(void **state)
{
    enum { A = 2, B = 3, C = 4, N = A * B * C };
    float x[N], y[N], y2[N], want[N], want2[N];
    int64_t xi[N], yi[N];
    for (int i = 0; i < N; i++)
        x[i] = (float)i, xi[i] = i;
    gn_error err;
    /* x.select(1, -1) on i64 [2, 3, 4]: x[:, 2, :] */
    spec si[1] = {I64(3, A, B, C)}, so[1] = {I64(2, A, C)};
    si[0].p = xi, so[0].p = yi;
    ok(run_op(GN_OP_VIEW, json_pack("{s:s,s:i,s:i}", "fn", "select", "dim", 1, "index", -1), si, 1, so, 1, &err),
       &err);
    for (int a = 0; a < A; a++)
        for (int c = 0; c < C; c++)
            assert_int_equal(yi[a * C + c], (a * B + 2) * C + c);
    assert_int_equal(run_op(GN_OP_VIEW, json_pack("{s:s,s:i,s:i}", "fn", "select", "dim", 1, "index", 3), si, 1, so,
                            1, &err), GN_EINVAL);
    /* x[:, :, 1:4:2] */
    spec fi[1] = {F32(3, A, B, C)}, lo[1] = {F32(3, A, B, 2)};
    fi[0].p = x, lo[0].p = y;
    ok(run_op(GN_OP_VIEW, json_pack("{s:s,s:i,s:i,s:i,s:i}", "fn", "slice", "dim", 2, "start", 1, "end", 4, "step", 2),
              fi, 1, lo, 1, &err), &err);
    for (int r = 0; r < A * B; r++)
        want[2 * r] = (float)(r * C + 1), want[2 * r + 1] = (float)(r * C + 3);
    near(y, want, A * B * 2, 0);
    assert_int_equal(run_op(GN_OP_VIEW, json_pack("{s:s,s:i,s:i,s:i}", "fn", "slice", "dim", 2, "start", 1, "end", 5),
                            fi, 1, lo, 1, &err), GN_EINVAL);
    /* x.permute(2, 0, 1) [4, 2, 3]; x.transpose(0, 2) [4, 3, 2] */
    spec po[1] = {F32(3, C, A, B)}, to[1] = {F32(3, C, B, A)};
    po[0].p = y, to[0].p = y2;
    ok(run_op(GN_OP_VIEW, json_pack("{s:s,s:[i,i,i]}", "fn", "permute", "dims", 2, 0, 1), fi, 1, po, 1, &err), &err);
    ok(run_op(GN_OP_VIEW, json_pack("{s:s,s:[i,i]}", "fn", "transpose", "dims", 0, -1), fi, 1, to, 1, &err), &err);
    for (int c = 0; c < C; c++)
        for (int a = 0; a < A; a++)
            for (int b = 0; b < B; b++) {
                want[(c * A + a) * B + b] = x[(a * B + b) * C + c];
                want2[(c * B + b) * A + a] = x[(a * B + b) * C + c];
            }
    near(y, want, N, 0);
    near(y2, want2, N, 0);
    /* x.split([1, 2], dim=1) and x.unbind(0) */
    spec sp[2] = {F32(3, A, 1, C), F32(3, A, 2, C)}, ub[2] = {F32(2, B, C), F32(2, B, C)};
    sp[0].p = y, sp[1].p = y2;
    ok(run_op(GN_OP_VIEW, json_pack("{s:s,s:i}", "fn", "split_with_sizes", "dim", 1), fi, 1, sp, 2, &err), &err);
    for (int a = 0; a < A; a++)
        for (int c = 0; c < C; c++) {
            want[a * C + c] = x[(a * B) * C + c];
            for (int b = 1; b < B; b++)
                want2[(a * 2 + b - 1) * C + c] = x[(a * B + b) * C + c];
        }
    near(y, want, A * C, 0);
    near(y2, want2, A * 2 * C, 0);
    ub[0].p = y, ub[1].p = y2;
    ok(run_op(GN_OP_VIEW, json_pack("{s:s,s:i}", "fn", "unbind", "dim", 0), fi, 1, ub, 2, &err), &err);
    near(y, x, B * C, 0);
    near(y2, x + B * C, B * C, 0);
    /* expand of i64 ids [1, 3] -> [2, 3] */
    spec ei[1] = {I64(2, 1, 3)}, eo[1] = {I64(2, 2, 3)};
    ei[0].p = xi, eo[0].p = yi;
    ok(run_op(GN_OP_VIEW, json_pack("{s:s}", "fn", "expand"), ei, 1, eo, 1, &err), &err);
    assert_true(yi[0] == 0 && yi[2] == 2 && yi[3] == 0 && yi[5] == 2);
    /* 1 - x * 0.5 (rsub as sub with the scalar first), maximum with "-inf" */
    spec ui[1] = {F32(2, A, 3)}, uo[1] = {F32(2, A, 3)};
    ui[0].p = x, uo[0].p = y;
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s,s:f,s:i}", "fn", "mul", "scalar", 0.5, "scalar_pos", 1), ui, 1, uo,
              1, &err), &err);
    ui[0].p = y, uo[0].p = y2;
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s,s:i,s:i}", "fn", "sub", "scalar", 1, "scalar_pos", 0), ui, 1, uo, 1,
              &err), &err);
    for (int i = 0; i < 6; i++)
        want[i] = 1.0f - x[i] * 0.5f;
    near(y2, want, 6, 0);
    ui[0].p = x, uo[0].p = y;
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s,s:s}", "fn", "maximum", "scalar", "-inf"), ui, 1, uo, 1, &err), &err);
    near(y, x, 6, 0);
    assert_int_equal(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s,s:s}", "fn", "add", "scalar", "lots"), ui, 1, uo, 1,
                            &err), GN_EINVAL);
    /* fill_ writes its value (-inf too); without one it is an error, not zeros */
    spec fo[1] = {F32(1, 3)};
    fo[0].p = y;
    ok(run_op(GN_OP_FILL, json_pack("{s:s,s:s}", "fn", "fill_", "value", "-inf"), NULL, 0, fo, 1, &err), &err);
    assert_true(isinf(y[0]) && y[0] < 0 && isinf(y[2]));
    assert_int_equal(run_op(GN_OP_FILL, json_pack("{s:s}", "fn", "fill_"), NULL, 0, fo, 1, &err), GN_EINVAL);
    /* causal, top-left (torch's is_causal) with 2 queries and 3 keys: query 0 sees key 0 only, so
     * its output is v[0]; bottom-right it would see keys 0 and 1 */
    enum { DH = 2 };
    float q[2 * DH] = {1, 0, 0, 1}, k[3 * DH] = {1, 0, 0, 1, 1, 1}, v[3 * DH] = {1, 2, 3, 4, 5, 6}, o[2 * DH];
    spec ai[3] = {F32(4, 1, 1, 2, DH), F32(4, 1, 1, 3, DH), F32(4, 1, 1, 3, DH)}, ao[1] = {F32(4, 1, 1, 2, DH)};
    ai[0].p = q, ai[1].p = k, ai[2].p = v, ao[0].p = o;
    ok(run_op(GN_OP_ATTENTION, json_pack("{s:b,s:s}", "causal", 1, "causal_align", "top_left"), ai, 3, ao, 1, &err),
       &err);
    near(o, v, DH, 0);
    ok(run_op(GN_OP_ATTENTION, json_pack("{s:b}", "causal", 1), ai, 3, ao, 1, &err), &err);
    assert_true(o[0] > 1.5f);
    assert_int_equal(run_op(GN_OP_ATTENTION, json_pack("{s:b,s:s}", "causal", 1, "causal_align", "middle"), ai, 3, ao,
                            1, &err), GN_EINVAL);
    /* pooling forms the executor does not compute are refused, not approximated */
    spec pi[1] = {F32(4, 1, 1, 4, 4)}, pd[1] = {F32(4, 1, 1, 2, 2)}, pc[1] = {F32(4, 1, 1, 2, 2)};
    pi[0].p = x, pd[0].p = y, pc[0].p = y;
    assert_int_equal(run_op(GN_OP_POOL2D, json_pack("{s:s,s:i,s:i,s:i}", "fn", "max", "kernel", 2, "stride", 1,
                                                    "dilation", 2), pi, 1, pd, 1, &err), GN_EUNSUPPORTED);
    spec p3[1] = {F32(4, 1, 1, 5, 5)};
    p3[0].p = x;
    assert_int_equal(run_op(GN_OP_POOL2D, json_pack("{s:s,s:i,s:i,s:b}", "fn", "max", "kernel", 2, "stride", 2,
                                                    "ceil_mode", 1), p3, 1, (spec[]){F32(4, 1, 1, 3, 3)}, 1, &err),
                     GN_EUNSUPPORTED);
    ok(run_op(GN_OP_POOL2D, json_pack("{s:s,s:i,s:i,s:b}", "fn", "max", "kernel", 2, "stride", 2, "ceil_mode", 1),
              pi, 1, pc, 1, &err), &err);
    (void)state;
}

/* Numeric fns on ids and masks (generate()'s bookkeeping): computed in double, stored in the
 * output's type; expected values as torch gives them. */
static void test_numeric(void **state)
{
    gn_error err;
    int64_t ids[4] = {3, -1, 0, 7}, iy[4];
    uint8_t m[4] = {1, 0, 1, 0}, by[4];
    float fx[4] = {1.5f, -2, 0, 4}, fy[4];
    spec ii[1] = {I64(1, 4)}, io[1] = {I64(1, 4)};
    ii[0].p = ids, io[0].p = iy;
    /* ids + 1 */
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s,s:i}", "fn", "add", "scalar", 1), ii, 1, io, 1, &err), &err);
    assert_true(iy[0] == 4 && iy[1] == 0 && iy[2] == 1 && iy[3] == 8);
    /* ids == 0 -> bool; ids & 6 (bitwise on integers); ~bool is logical */
    spec bo[1] = {{GN_DTYPE_BOOL, 1, {4}, by}};
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s,s:i}", "fn", "eq", "scalar", 0), ii, 1, bo, 1, &err), &err);
    assert_true(by[0] == 0 && by[1] == 0 && by[2] == 1 && by[3] == 0);
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s,s:i}", "fn", "bitwise_and", "scalar", 6), ii, 1, io, 1, &err), &err);
    assert_true(iy[0] == 2 && iy[1] == 6 && iy[2] == 0 && iy[3] == 6);
    spec bi[1] = {{GN_DTYPE_BOOL, 1, {4}, m}};
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "bitwise_not"), bi, 1, bo, 1, &err), &err);
    assert_true(by[0] == 0 && by[1] == 1 && by[2] == 0 && by[3] == 1);
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "bitwise_not"), ii, 1, io, 1, &err), &err);
    assert_true(iy[0] == -4 && iy[1] == 0 && iy[3] == -8);
    /* bool | bool, broadcast [4] with [1] */
    uint8_t one = 0;
    spec bb[2] = {{GN_DTYPE_BOOL, 1, {4}, m}, {GN_DTYPE_BOOL, 1, {1}, &one}};
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "bitwise_or"), bb, 2, bo, 1, &err), &err);
    assert_memory_equal(by, m, 4);
    /* where(m, x, -inf) and x.masked_fill(m, -1) */
    spec wi[2] = {{GN_DTYPE_BOOL, 1, {4}, m}, F32(1, 4)}, wo[1] = {F32(1, 4)};
    wi[1].p = fx, wo[0].p = fy;
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s,s:s,s:i}", "fn", "where", "scalar", "-inf", "scalar_pos", 2), wi, 2,
              wo, 1, &err), &err);
    assert_true(fy[0] == 1.5f && isinf(fy[1]) && fy[1] < 0 && fy[2] == 0 && isinf(fy[3]));
    spec mi[2] = {F32(1, 4), {GN_DTYPE_BOOL, 1, {4}, m}};
    mi[0].p = fx;
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s,s:i}", "fn", "masked_fill", "value", -1), mi, 2, wo, 1, &err), &err);
    assert_true(fy[0] == -1 && fy[1] == -2 && fy[2] == -1 && fy[3] == 4);
    /* x > 0 on f32 -> bool; remainder keeps the divisor's sign (torch: -1 % 3 == 2) */
    spec fi[1] = {F32(1, 4)};
    fi[0].p = fx;
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s,s:i}", "fn", "gt", "scalar", 0), fi, 1, bo, 1, &err), &err);
    assert_true(by[0] == 1 && by[1] == 0 && by[2] == 0 && by[3] == 1);
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s,s:i}", "fn", "remainder", "scalar", 3), ii, 1, io, 1, &err), &err);
    assert_true(iy[0] == 0 && iy[1] == 2 && iy[3] == 1);
    /* a scalar that is no number, and where without enough operands */
    assert_int_equal(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s,s:s}", "fn", "add", "scalar", "x"), ii, 1, io, 1, &err),
                     GN_EINVAL);
    assert_int_equal(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "where"), wi, 2, wo, 1, &err), GN_EINVAL);
    /* add(x, y, alpha=2) is refused, not computed as x + y */
    assert_int_equal(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s,s:i,s:f}", "fn", "add", "scalar", 1, "alpha", 2.0),
                            ii, 1, io, 1, &err), GN_EUNSUPPORTED);
    assert_int_equal(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s,s:i,s:s}", "fn", "div", "scalar", 2, "rounding_mode",
                                                         "floor"), ii, 1, io, 1, &err), GN_EUNSUPPORTED);
    /* reductions of ids and masks: mask.any(), mask.all(), ids.cumsum(-1), ids.max(), mask.sum() -> i64 */
    spec r1[1] = {{GN_DTYPE_BOOL, 1, {4}, m}}, rb[1] = {{GN_DTYPE_BOOL, 0, {0}, by}};
    ok(run_op(GN_OP_REDUCTION, json_pack("{s:s,s:[i]}", "fn", "any", "dims", 0), r1, 1, rb, 1, &err), &err);
    assert_int_equal(by[0], 1);
    ok(run_op(GN_OP_REDUCTION, json_pack("{s:s}", "fn", "all"), r1, 1, rb, 1, &err), &err);
    assert_int_equal(by[0], 0);
    ok(run_op(GN_OP_REDUCTION, json_pack("{s:s,s:i}", "fn", "cumsum", "dim", -1), ii, 1, io, 1, &err), &err);
    assert_true(iy[0] == 3 && iy[1] == 2 && iy[2] == 2 && iy[3] == 9);
    spec ri[1] = {I64(0, 0)};
    ri[0].p = iy;
    ok(run_op(GN_OP_REDUCTION, json_pack("{s:s}", "fn", "max"), ii, 1, ri, 1, &err), &err);
    assert_int_equal(iy[0], 7);
    ok(run_op(GN_OP_REDUCTION, json_pack("{s:s}", "fn", "sum"), r1, 1, ri, 1, &err), &err);
    assert_int_equal(iy[0], 2);
    /* torch.isin(ids, [7, 0]) and with invert */
    int64_t test[2] = {7, 0};
    spec is[2] = {I64(1, 4), I64(1, 2)};
    is[0].p = ids, is[1].p = test;
    ok(run_op(GN_OP_INDEX, json_pack("{s:s}", "fn", "isin"), is, 2, bo, 1, &err), &err);
    assert_true(by[0] == 0 && by[1] == 0 && by[2] == 1 && by[3] == 1);
    ok(run_op(GN_OP_INDEX, json_pack("{s:s,s:b}", "fn", "isin", "invert", 1), is, 2, bo, 1, &err), &err);
    assert_true(by[0] == 1 && by[1] == 1 && by[2] == 0 && by[3] == 0);
    /* torch.cat([empty(0), x], dim=-2): the legacy 1-D empty tensor adds nothing */
    float none[1] = {0};
    spec ci[2] = {F32(1, 0), F32(2, 2, 2)}, co[1] = {F32(2, 2, 2)};
    ci[0].p = none, ci[1].p = fx, co[0].p = fy;
    ok(run_op(GN_OP_CONCAT, json_pack("{s:i}", "dim", -2), ci, 2, co, 1, &err), &err);
    near(fy, fx, 4, 0);
    /* cos, sin (LLaMA's rotary table traced op by op): libm's cosf / sinf */
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "cos"), fi, 1, wo, 1, &err), &err);
    assert_true(fy[0] == cosf(1.5f) && fy[3] == cosf(4.0f));
    ok(run_op(GN_OP_ELEMENTWISE, json_pack("{s:s}", "fn", "sin"), fi, 1, wo, 1, &err), &err);
    assert_true(fy[1] == sinf(-2.0f));
    (void)state;
}

/* ========================== whole sessions ========================== */

static gn_session *llm(const char *preset, uint32_t prompt, uint32_t decode)
{
    gn_llm_config c;
    assert_int_equal(gn_llm_preset(preset, &c), 0);
    c.prompt = prompt;
    c.decode = decode;
    gn_error err;
    gn_session *s = gn_llm_generate(&c, &err);
    if (!s)
        fail_msg("%s", err.msg);
    return s;
}

/* Logits of the prepared step ST: the argmax's input. */
static void read_logits(gn_runner *r, const gn_session *s, uint32_t st, float *logits, size_t n)
{
    const gn_graph *g = gn_session_step(s, st);
    for (uint32_t i = 0; i < gn_graph_nnodes(g); i++)
        if (gn_graph_node(g, i)->op == GN_OP_REDUCTION) {
            uint32_t t = gn_graph_node_inputs(g, i)[0];
            assert_int_equal(gn_graph_tensor(g, t)->bytes, n * sizeof(float));
            gn_error err;
            ok(gn_runner_read(r, st, t, logits, n * sizeof(float), &err), &err);
            return;
        }
    fail_msg("no argmax in step %u", st);
}

enum { PROMPT = 5, DECODE = 3, VOCAB = 512, SEED = 42 };

/* Runs PRESET with prompt PR (length P) and DECODE steps; returns the
 * tokens and the last step's logits. */
static void run_llm(const char *preset, const int64_t *pr, uint32_t P, uint32_t decode, int64_t *tokens,
                    float *logits, float scale)
{
    gn_session *s = llm(preset, P, decode);
    gn_error err;
    gn_runner *r = gn_runner_create(gn_executor_cpu(), s, SEED, scale, &err);
    if (!r)
        fail_msg("%s", err.msg);
    if (scale > 0.02f) { /* unit norm weights: sharp attention, so positions matter */
        const gn_graph *g = gn_session_step(s, 0);
        static const float ones[64] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                       1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                       1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
        for (uint32_t t = 0; t < gn_graph_ntensors(g); t++) {
            const gn_tensor *ten = gn_graph_tensor(g, t);
            const char *name = ten->kind == GN_KIND_PARAM ? gn_graph_storage_name(g, ten->storage) : "";
            size_t len = strlen(name);
            if (ten->ndim == 1 && ten->bytes == sizeof(ones) && len > 7 && strcmp(name + len - 7, ".weight") == 0 &&
                (strstr(name, "norm") || strstr(name, "ln_")))
                ok(gn_runner_set_param(r, name, ones, sizeof(ones), &err), &err);
        }
    }
    ok(gn_runner_run_llm(r, pr, tokens, &err), &err);
    read_logits(r, s, decode, logits, VOCAB);
    gn_runner_destroy(r);
    gn_session_destroy(s);
}

static void check_session(const char *preset, float scale)
{
    int64_t prompt[PROMPT + 1] = {17, 300, 5, 511, 42, 0};
    int64_t t1[DECODE + 1], t2[DECODE + 1], t3[2];
    static float l1[VOCAB], l2[VOCAB], ld[VOCAB], lp[VOCAB];
    /* determinism: two runs are bit-identical */
    run_llm(preset, prompt, PROMPT, DECODE, t1, l1, scale);
    run_llm(preset, prompt, PROMPT, DECODE, t2, l2, scale);
    assert_memory_equal(t1, t2, sizeof(t1));
    assert_memory_equal(l1, l2, sizeof(l1));
    for (int i = 0; i <= DECODE; i++)
        assert_true(t1[i] >= 0 && t1[i] < VOCAB);
    /* KV cache: prefill P then decode 1 == prefill P+1, last position */
    run_llm(preset, prompt, PROMPT, 1, t3, ld, scale);
    assert_int_equal(t3[0], t1[0]);
    assert_int_equal(t3[1], t1[1]);
    prompt[PROMPT] = t1[0];
    int64_t tp[1];
    run_llm(preset, prompt, PROMPT + 1, 0, tp, lp, scale);
    float mx = 0;
    for (int i = 0; i < VOCAB; i++)
        mx = fmaxf(mx, fabsf(lp[i]));
    assert_true(mx > 0);
    float worst = 0;
    for (int i = 0; i < VOCAB; i++)
        worst = fmaxf(worst, fabsf(ld[i] - lp[i]) / mx);
    if (getenv("GN_TEST_VERBOSE"))
        print_message("%s: tokens %lld %lld %lld %lld, max |logit| %g, worst relative difference %g\n", preset,
                      (long long)t1[0], (long long)t1[1], (long long)t1[2], (long long)t1[3], (double)mx,
                      (double)worst);
    for (int i = 0; i < VOCAB; i++)
        if (!(fabsf(ld[i] - lp[i]) <= 1e-5f * mx))
            fail_msg("%s: logit %d: decode %.9g, prefill %.9g (max |logit| %.3g)", preset, i, (double)ld[i],
                     (double)lp[i], (double)mx);
    assert_int_equal(tp[0], t1[1]);
}

static void test_tiny_gpt2_session(void **state)
{
    check_session("tiny-gpt2", 0.02f);
    check_session("tiny-gpt2", 0.25f);
    (void)state;
}

static void test_tiny_llama_session(void **state)
{
    check_session("tiny-llama", 0.02f);
    check_session("tiny-llama", 0.25f);
    (void)state;
}

static void test_runner_state_order(void **state)
{
    /* a decode step before its prefill has no KV version to read */
    gn_session *s = llm("tiny-llama", 3, 1);
    gn_error err;
    gn_runner *r = gn_runner_create(gn_executor_cpu(), s, SEED, 0.02f, &err);
    assert_non_null(r);
    assert_int_equal(gn_runner_run_step(r, 1, &err), GN_EINVAL);
    assert_non_null(strstr(err.msg, "k_cache"));
    gn_runner_destroy(r);
    gn_session_destroy(s);
    (void)state;
}

/* y [2, N] = x [2, K] · W [K, N] with W a param of DT; runner weights, seed SEED. */
static void linear_with(gn_dtype dt, const float *x, float *y)
{
    enum { K = 16, N = 4 };
    gn_session *s = gn_session_create("t");
    gn_graph *g = gn_session_add_step(s, GN_PHASE_FORWARD, "t");
    int64_t xs[2] = {2, K}, ws[2] = {K, N}, ys[2] = {2, N};
    uint32_t in[2], out;
    in[0] = (uint32_t)gn_graph_add_tensor(g, "x", GN_DTYPE_F32, GN_KIND_INPUT, 2, xs, NULL);
    in[1] = (uint32_t)gn_graph_add_tensor(g, "w", dt, GN_KIND_PARAM, 2, ws, "fc.weight");
    out = (uint32_t)gn_graph_add_tensor(g, "y", GN_DTYPE_F32, GN_KIND_OUTPUT, 2, ys, NULL);
    assert_int_equal(gn_graph_add_node(g, GN_OP_MATMUL, in, 2, &out, 1, 0, 0, "fc", NULL), 0);
    gn_error err;
    if (gn_session_finalize(s, &err) < 0)
        fail_msg("%s", err.msg);
    gn_runner *r = gn_runner_create(gn_executor_cpu(), s, SEED, 0.25f, &err);
    assert_non_null(r);
    ok(gn_runner_write(r, 0, in[0], x, 2 * K * sizeof(float), &err), &err);
    ok(gn_runner_run_step(r, 0, &err), &err);
    ok(gn_runner_read(r, 0, out, y, 2 * N * sizeof(float), &err), &err);
    gn_runner_destroy(r);
    gn_session_destroy(s);
}

static void test_runner_half_params(void **state)
{
    /* f16/bf16 weights are the f32 ones rounded (not zeros): the products differ by at most
     * K · max|x| · scale · 2^-11 (f16) or 2^-8 (bf16) */
    float x[32], y32[8], y16[8], ybf[8];
    for (int i = 0; i < 32; i++)
        x[i] = (float)((i * 5) % 9 - 4) / 4.0f;
    linear_with(GN_DTYPE_F32, x, y32);
    linear_with(GN_DTYPE_F16, x, y16);
    linear_with(GN_DTYPE_BF16, x, ybf);
    float mx = 0;
    for (int i = 0; i < 8; i++)
        mx = fmaxf(mx, fabsf(y32[i]));
    assert_true(mx > 0.1f);
    near(y16, y32, 8, 16 * 1.0f * 0.25f / 2048.0f);
    near(ybf, y32, 8, 16 * 1.0f * 0.25f / 256.0f);
    assert_memory_not_equal(y16, y32, sizeof(y32)); /* rounded weights, not the f32 ones */
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul),          cmocka_unit_test(test_norms),
        cmocka_unit_test(test_softmax),         cmocka_unit_test(test_attention),
        cmocka_unit_test(test_embedding),       cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_rotary),          cmocka_unit_test(test_reduction),
        cmocka_unit_test(test_views),           cmocka_unit_test(test_concat),
        cmocka_unit_test(test_conv_pool),       cmocka_unit_test(test_interaction),
        cmocka_unit_test(test_errors_name_the_node), cmocka_unit_test(test_tiny_gpt2_session),
        cmocka_unit_test(test_tiny_llama_session),   cmocka_unit_test(test_runner_state_order),
        cmocka_unit_test(test_half_conversion),      cmocka_unit_test(test_half_ops),
        cmocka_unit_test(test_group_norm),           cmocka_unit_test(test_bag_offsets),
        cmocka_unit_test(test_attention_mask),       cmocka_unit_test(test_features_refused),
        cmocka_unit_test(test_captured_forms),       cmocka_unit_test(test_runner_half_params),
        cmocka_unit_test(test_captured_arguments), cmocka_unit_test(test_numeric),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
