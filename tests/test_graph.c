/*
 * test_graph.c — SRG step graph: building, validation, topological order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "graph.h"
#include "session.h"

static const int64_t vec4[] = {4};

/* A diamond: x -> a, x -> b, (a, b) -> out, with a param weight. */
static gn_graph *diamond(gn_session *s)
{
    gn_graph *g = gn_session_add_step(s, GN_PHASE_FORWARD, "diamond");
    int x = gn_graph_add_tensor(g, "x", GN_DTYPE_F32, GN_KIND_INPUT, 1, vec4, NULL);
    int w = gn_graph_add_tensor(g, "w", GN_DTYPE_F32, GN_KIND_PARAM, 1, vec4, "w");
    int a = gn_graph_add_tensor(g, "a", GN_DTYPE_F32, GN_KIND_ACTIVATION, 1, vec4, NULL);
    int b = gn_graph_add_tensor(g, "b", GN_DTYPE_F32, GN_KIND_ACTIVATION, 1, vec4, NULL);
    int o = gn_graph_add_tensor(g, "o", GN_DTYPE_F32, GN_KIND_OUTPUT, 1, vec4, NULL);
    assert_true(x >= 0 && w >= 0 && a >= 0 && b >= 0 && o >= 0);
    /* add the join first so the order must differ from insertion order */
    uint32_t in_o[] = {(uint32_t)a, (uint32_t)b}, out_o[] = {(uint32_t)o};
    uint32_t in_a[] = {(uint32_t)x, (uint32_t)w}, out_a[] = {(uint32_t)a};
    uint32_t in_b[] = {(uint32_t)x}, out_b[] = {(uint32_t)b};
    assert_int_equal(gn_graph_add_node(g, GN_OP_ELEMENTWISE, in_o, 2, out_o, 1, 4, 48, "join", NULL), 0);
    assert_int_equal(gn_graph_add_node(g, GN_OP_ELEMENTWISE, in_a, 2, out_a, 1, 4, 48, "left", NULL), 1);
    assert_int_equal(gn_graph_add_node(g, GN_OP_ELEMENTWISE, in_b, 1, out_b, 1, 4, 32, "right", NULL), 2);
    return g;
}

static void test_topological_order(void **state)
{
    gn_session *s = gn_session_create("t");
    gn_graph *g = diamond(s);
    gn_error err;
    assert_int_equal(gn_graph_finalize(g, &err), 0);
    const uint32_t *order = gn_graph_order(g);
    uint32_t pos[3];
    for (uint32_t i = 0; i < 3; i++)
        pos[order[i]] = i;
    assert_true(pos[1] < pos[0]);
    assert_true(pos[2] < pos[0]);
    assert_int_equal(gn_graph_tensor(g, 4)->producer, 0);
    assert_int_equal(gn_graph_tensor(g, 0)->producer, -1);
    uint32_t n;
    const uint32_t *c = gn_graph_consumers(g, 0, &n);
    assert_int_equal(n, 2);
    assert_true((c[0] == 1 && c[1] == 2) || (c[0] == 2 && c[1] == 1));
    assert_int_equal(gn_graph_tensor(g, 1)->bytes, 16);
    assert_string_equal(gn_graph_storage_name(g, gn_graph_tensor(g, 1)->storage), "w");
    (void)state;
    gn_session_destroy(s);
}

static void test_cycle_detected(void **state)
{
    gn_session *s = gn_session_create("t");
    gn_graph *g = gn_session_add_step(s, GN_PHASE_FORWARD, NULL);
    int a = gn_graph_add_tensor(g, NULL, GN_DTYPE_F32, GN_KIND_ACTIVATION, 1, vec4, NULL);
    int b = gn_graph_add_tensor(g, NULL, GN_DTYPE_F32, GN_KIND_ACTIVATION, 1, vec4, NULL);
    uint32_t ia[] = {(uint32_t)a}, ib[] = {(uint32_t)b};
    gn_graph_add_node(g, GN_OP_ELEMENTWISE, ia, 1, ib, 1, 1, 1, NULL, NULL);
    gn_graph_add_node(g, GN_OP_ELEMENTWISE, ib, 1, ia, 1, 1, 1, NULL, NULL);
    gn_error err;
    assert_int_equal(gn_graph_finalize(g, &err), GN_ECYCLE);
    assert_non_null(strstr(err.msg, "cycle"));
    (void)state;
    gn_session_destroy(s);
}

static void test_invalid_structures(void **state)
{
    gn_session *s = gn_session_create("t");
    gn_graph *g = gn_session_add_step(s, GN_PHASE_FORWARD, NULL);
    gn_error err;
    /* an activation with no producer is not a leaf kind */
    int a = gn_graph_add_tensor(g, NULL, GN_DTYPE_F32, GN_KIND_ACTIVATION, 1, vec4, NULL);
    assert_int_equal(gn_graph_finalize(g, &err), GN_ESCHEMA);
    assert_non_null(strstr(err.msg, "tensors[0].kind"));
    /* two producers for one tensor */
    int x = gn_graph_add_tensor(g, NULL, GN_DTYPE_F32, GN_KIND_INPUT, 1, vec4, NULL);
    uint32_t in[] = {(uint32_t)x}, out[] = {(uint32_t)a};
    gn_graph_add_node(g, GN_OP_ELEMENTWISE, in, 1, out, 1, 1, 1, NULL, NULL);
    gn_graph_add_node(g, GN_OP_ELEMENTWISE, in, 1, out, 1, 1, 1, NULL, NULL);
    assert_int_equal(gn_graph_finalize(g, &err), GN_ESCHEMA);
    assert_non_null(strstr(err.msg, "already produced"));
    /* bad ids and shapes are refused and leave the graph unchanged */
    uint32_t bad[] = {99};
    assert_int_equal(gn_graph_add_node(g, GN_OP_VIEW, bad, 1, out, 1, 0, 0, NULL, json_object()), GN_EINVAL);
    int64_t neg[] = {-1};
    assert_int_equal(gn_graph_add_tensor(g, NULL, GN_DTYPE_F32, GN_KIND_INPUT, 1, neg, NULL), GN_ERANGE);
    assert_int_equal(gn_graph_nnodes(g), 2);
    assert_int_equal(gn_graph_ntensors(g), 2);
    /* a param needs a storage identity */
    gn_graph *g2 = gn_session_add_step(s, GN_PHASE_FORWARD, NULL);
    gn_graph_add_tensor(g2, NULL, GN_DTYPE_F32, GN_KIND_PARAM, 1, vec4, NULL);
    assert_int_equal(gn_graph_finalize(g2, &err), GN_ESCHEMA);
    assert_non_null(strstr(err.msg, "storage"));
    (void)state;
    gn_session_destroy(s);
}

/* A long chain added in reverse: order must still be a valid topological
 * order, computed in linear time (10^5 nodes would take minutes if not). */
static void test_long_chain_reversed(void **state)
{
    enum { N = 100000 };
    gn_session *s = gn_session_create("t");
    gn_graph *g = gn_session_add_step(s, GN_PHASE_FORWARD, NULL);
    gn_graph_add_tensor(g, NULL, GN_DTYPE_F32, GN_KIND_INPUT, 1, vec4, NULL);
    for (int i = 1; i <= N; i++)
        gn_graph_add_tensor(g, NULL, GN_DTYPE_F32, GN_KIND_ACTIVATION, 1, vec4, NULL);
    for (int i = N; i >= 1; i--) {
        uint32_t in[] = {(uint32_t)(i - 1)}, out[] = {(uint32_t)i};
        gn_graph_add_node(g, GN_OP_ELEMENTWISE, in, 1, out, 1, 1, 1, NULL, NULL);
    }
    gn_error err;
    assert_int_equal(gn_graph_finalize(g, &err), 0);
    const uint32_t *order = gn_graph_order(g);
    for (int k = 0; k < N; k++) /* node for tensor i is N - i */
        assert_int_equal(order[k], N - 1 - k);
    (void)state;
    gn_session_destroy(s);
}

static void test_param_consistency_across_steps(void **state)
{
    gn_session *s = gn_session_create("t");
    int64_t big[] = {8};
    gn_graph *g0 = gn_session_add_step(s, GN_PHASE_PREFILL, NULL);
    gn_graph_add_tensor(g0, NULL, GN_DTYPE_F32, GN_KIND_PARAM, 1, vec4, "w");
    gn_graph *g1 = gn_session_add_step(s, GN_PHASE_DECODE, NULL);
    gn_graph_add_tensor(g1, NULL, GN_DTYPE_F32, GN_KIND_PARAM, 1, big, "w");
    gn_error err;
    assert_int_equal(gn_session_finalize(s, &err), GN_ESCHEMA);
    assert_non_null(strstr(err.msg, "steps[1].tensors[0].storage"));
    (void)state;
    gn_session_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topological_order),
        cmocka_unit_test(test_cycle_detected),
        cmocka_unit_test(test_invalid_structures),
        cmocka_unit_test(test_long_chain_reversed),
        cmocka_unit_test(test_param_consistency_across_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
