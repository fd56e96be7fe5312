/*
 * test_trace.c — SRG trace loader, validator and writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "trace.h"

static char path_buf[1024];

static const char *data(const char *name)
{
    const char *dir = getenv("GN_TEST_DATA");
    snprintf(path_buf, sizeof(path_buf), "%s/%s", dir ? dir : "tests/data", name);
    return path_buf;
}

static void test_load_good(void **state)
{
    gn_error err;
    gn_session *s = gn_trace_load(data("good_tiny.json"), &err);
    assert_non_null(s);
    assert_int_equal(gn_session_nsteps(s), 1);
    gn_graph *g = gn_session_step(s, 0);
    assert_int_equal(gn_graph_nnodes(g), 1);
    assert_int_equal(gn_graph_node(g, 0)->op, GN_OP_MATMUL);
    assert_true(gn_graph_node(g, 0)->flops == 16.0);
    assert_int_equal(gn_session_param_bytes(s), 32);
    (void)state;
    gn_session_destroy(s);
}

/* Each bad file fails with a message naming the file and the field. */
static void expect_error(const char *file, int code, const char *needle)
{
    gn_error err;
    gn_error_clear(&err);
    gn_session *s = gn_trace_load(data(file), &err);
    assert_null(s);
    assert_int_equal(err.code, code);
    if (!strstr(err.msg, needle) || !strstr(err.msg, file))
        fail_msg("%s: message \"%s\" lacks \"%s\"", file, err.msg, needle);
    assert_null(strchr(err.msg, '\n'));
}

static void test_bad_inputs(void **state)
{
    expect_error("bad/missing_field.json", GN_ESCHEMA, "$.steps[0].tensors[1].dtype: missing required field");
    expect_error("bad/wrong_type.json", GN_ESCHEMA, "$.steps[0].nodes[0].flops: expected a number >= 0, got a string");
    expect_error("bad/unknown_op.json", GN_ESCHEMA, "$.steps[0].nodes[0].op: unknown op \"matmull\"");
    expect_error("bad/negative_size.json", GN_ESCHEMA, "$.steps[0].tensors[0].shape[1]: expected an integer >= 0, got -4");
    expect_error("bad/truncated.json", GN_EPARSE, "line 1 column");
    expect_error("bad/cycle.json", GN_ECYCLE, "$.steps[0].nodes: the graph has a cycle");
    expect_error("bad/does_not_exist.json", GN_EIO, "cannot read");
    (void)state;
}

/* Writer then loader gives back the same session, field for field. */
static void test_round_trip(void **state)
{
    gn_session *s = gn_session_create("rt");
    gn_session_set_source(s, "test");
    gn_session_set_model(s, json_pack("{s:i}", "layers", 2));
    for (int st = 0; st < 3; st++) {
        gn_graph *g = gn_session_add_step(s, st ? GN_PHASE_DECODE : GN_PHASE_PREFILL, "step");
        int64_t kv_in[] = {1, 2, 4 + st, 8}, kv_out[] = {1, 2, 5 + st, 8}, tok[] = {1, 1};
        int x = gn_graph_add_tensor(g, "tok", GN_DTYPE_I64, GN_KIND_INPUT, 2, tok, NULL);
        int kv = gn_graph_add_tensor(g, "kv", GN_DTYPE_F16, GN_KIND_STATE, 4, kv_in, "l0.k");
        int nkv = gn_graph_add_tensor(g, "kv'", GN_DTYPE_F16, GN_KIND_STATE, 4, kv_out, "l0.k");
        uint32_t in[] = {(uint32_t)kv, (uint32_t)x}, out[] = {(uint32_t)nkv};
        int n = gn_graph_add_node(g, GN_OP_CONCAT, in, 2, out, 1, 0, 1234.5, "h.0.attn",
                                  json_pack("{s:i}", "dim", 2));
        gn_graph_set_node_info(g, (uint32_t)n, json_pack("{s:s}", "role", "kv"), "app.py:3");
        gn_graph_add_read(g, (uint32_t)nkv, "item", "app.py:9");
    }
    gn_error err;
    assert_int_equal(gn_session_finalize(s, &err), 0);
    char path[] = "/tmp/gn_trace_rt_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(gn_trace_save(s, path, 0, &err), 0);
    gn_session *r = gn_trace_load(path, &err);
    unlink(path);
    assert_non_null(r);
    json_t *a = gn_trace_to_json(s), *b = gn_trace_to_json(r);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    gn_graph *g2 = gn_session_step(r, 2);
    assert_int_equal(gn_graph_tensor(g2, 2)->shape[2], 7);
    assert_int_equal(gn_graph_tensor(g2, 2)->bytes, 1 * 2 * 7 * 8 * 2);
    assert_string_equal(gn_graph_node(g2, 0)->source, "app.py:3");
    assert_string_equal(gn_graph_read(g2, 0)->reason, "item");
    /* the same storage id in every step */
    assert_int_equal(gn_graph_tensor(g2, 1)->storage,
                     gn_graph_tensor(gn_session_step(r, 0), 1)->storage);
    (void)state;
    gn_session_destroy(s);
    gn_session_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_good),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
