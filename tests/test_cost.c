/*
 * test_cost.c — a device's op cost from its platform description: the
 * roofline of a preset, fitted terms per op and per function of an op,
 * and measured times of exact op signatures (what genie-real
 * --calibrate writes), with the platform file's checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cost.h"
#include "graph.h"
#include "platform.h"
#include "session.h"

static const int64_t vec4[] = {4};

/* Three ops: a relu (flops 4, bytes 32), a gelu (40, 32), a matmul
 * (2e6, 1e4). */
static gn_graph *three_ops(gn_session *s)
{
    gn_graph *g = gn_session_add_step(s, GN_PHASE_FORWARD, "ops");
    int x = gn_graph_add_tensor(g, "x", GN_DTYPE_F32, GN_KIND_INPUT, 1, vec4, NULL);
    int a = gn_graph_add_tensor(g, "a", GN_DTYPE_F32, GN_KIND_ACTIVATION, 1, vec4, NULL);
    int b = gn_graph_add_tensor(g, "b", GN_DTYPE_F32, GN_KIND_ACTIVATION, 1, vec4, NULL);
    int o = gn_graph_add_tensor(g, "o", GN_DTYPE_F32, GN_KIND_OUTPUT, 1, vec4, NULL);
    uint32_t ix = (uint32_t)x, ia = (uint32_t)a, ib = (uint32_t)b, io = (uint32_t)o;
    assert_int_equal(gn_graph_add_node(g, GN_OP_ELEMENTWISE, &ix, 1, &ia, 1, 4, 32, "relu",
                                       json_pack("{s:s}", "fn", "relu")), 0);
    assert_int_equal(gn_graph_add_node(g, GN_OP_ELEMENTWISE, &ia, 1, &ib, 1, 40, 32, "gelu",
                                       json_pack("{s:s}", "fn", "gelu")), 1);
    assert_int_equal(gn_graph_add_node(g, GN_OP_MATMUL, &ib, 1, &io, 1, 2e6, 1e4, "mm", NULL), 2);
    return g;
}

static int apply(gn_platform *p, const char *text, gn_error *err)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    assert_non_null(doc);
    int rc = gn_platform_apply_json(p, doc, "test", "$", err);
    json_decref(doc);
    return rc;
}

static void test_roofline_fits_and_signatures(void **state)
{
    gn_session *s = gn_session_create("t");
    gn_graph *g = three_ops(s);
    gn_platform p;
    gn_platform_default(&p);
    gn_error err;
    /* a preset: the roofline, compute-bound matmul */
    double mm = gn_cost_op_gpu(&p.gpu, g, 2);
    assert_float_equal(mm, 2e6 / (p.gpu.flops_f32 * p.gpu.eff_compute), 1e-15);

    /* fitted terms per op, and per fn of an op */
    assert_int_equal(apply(&p, "{\"node\": {\"op_gflops\": {\"elementwise\": 1, \"matmul\": 2},"
                               " \"op_gbs\": {\"elementwise\": 4}, \"op_fixed_us\": {\"elementwise\": 3},"
                               " \"fn_costs\": {\"elementwise.gelu\": [10, 0, 1]}}}", &err), 0);
    assert_float_equal(gn_cost_op_gpu(&p.gpu, g, 0), 3e-6 + 4 / 1e9 + 32 / 4e9, 1e-15);
    assert_float_equal(gn_cost_op_gpu(&p.gpu, g, 1), 1e-6 + 40 / 10e9, 1e-15);
    assert_float_equal(gn_cost_op_gpu(&p.gpu, g, 2), 2e6 / 2e9, 1e-15);

    /* measured signatures win over both, where op, fn, FLOPs and bytes
     * all match; anything else keeps its fit */
    assert_int_equal(apply(&p, "{\"node\": {\"op_times\": [[\"matmul\", 2e6, 1e4, 250],"
                               " [\"elementwise.relu\", 4, 32, 7], [\"elementwise.gelu\", 40, 33, 9],"
                               " [\"matmul\", 2e6, 1e5, 11]]}}", &err), 0);
    assert_int_equal(p.gpu.nop_time, 4);
    assert_float_equal(gn_cost_op_gpu(&p.gpu, g, 0), 7e-6, 1e-15);
    assert_float_equal(gn_cost_op_gpu(&p.gpu, g, 1), 1e-6 + 40 / 10e9, 1e-15); /* bytes differ: the fit */
    assert_float_equal(gn_cost_op_gpu(&p.gpu, g, 2), 250e-6, 1e-15);
    assert_float_equal(gn_gpu_op_time(&p.gpu, GN_OP_ELEMENTWISE, NULL, 4, 32), -1, 0); /* no fn: no match */
    assert_float_equal(gn_gpu_op_time(&p.gpu, GN_OP_MATMUL, NULL, 2e6, 1e5), 11e-6, 1e-15);
    /* the client's device is untouched by "node" */
    assert_int_equal(p.client_gpu.nop_time, 0);
    gn_session_destroy(s);
}

static void test_op_times_checked(void **state)
{
    static const char *const bad[] = {
        "{\"node\": {\"op_times\": {}}}",
        "{\"node\": {\"op_times\": [[\"matmul\", 1, 2]]}}",
        "{\"node\": {\"op_times\": [[\"warp\", 1, 2, 3]]}}",
        "{\"node\": {\"op_times\": [[\"matmul\", -1, 2, 3]]}}",
        "{\"node\": {\"op_times\": [[\"matmul\", 1, 2, 0]]}}",
        "{\"node\": {\"op_times\": [[\"matmul.\", 1, 2, 3]]}}",
        "{\"node\": {\"op_times\": [[7, 1, 2, 3]]}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        gn_platform p;
        gn_platform_default(&p);
        gn_error err;
        assert_int_equal(apply(&p, bad[i], &err), GN_ESCHEMA);
        assert_non_null(strstr(err.msg, "op_times"));
        assert_int_equal(p.gpu.nop_time, 0); /* unchanged on error */
    }
    /* more entries than a device holds */
    gn_platform p;
    gn_platform_default(&p);
    gn_error err;
    json_t *arr = json_array();
    for (int i = 0; i <= GN_MAX_OP_TIMES; i++)
        json_array_append_new(arr, json_pack("[s,i,i,i]", "matmul", i, 1, 1));
    json_t *doc = json_pack("{s:{s:o}}", "node", "op_times", arr);
    assert_int_equal(gn_platform_apply_json(&p, doc, "test", "$", &err), GN_ESCHEMA);
    assert_non_null(strstr(err.msg, "more than"));
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roofline_fits_and_signatures),
        cmocka_unit_test(test_op_times_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
