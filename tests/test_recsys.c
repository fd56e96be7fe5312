/*
 * test_recsys.c — DLRM workload generator: parameter counts by hand,
 * FLOPs and bytes counted by hand, per-table pooling, config errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "recsys.h"

static gn_session *make(gn_recsys_config *c)
{
    gn_error err;
    gn_session *s = gn_recsys_generate(c, &err);
    if (!s)
        fail_msg("%s: %s", c->name, err.msg);
    return s;
}

/*
 * MLPerf DLRM (Criteo 1TB): 26 tables of 187,767,399 rows in all at dim
 * 128; bottom 13-512-256-128; interaction 128 + 27*26/2 = 479; top
 * 479-1024-1024-512-256-1.  No published total is quoted here with
 * confidence, so the count is checked against this hand computation.
 */
static void test_mlperf_parameters(void **state)
{
    gn_recsys_config c;
    assert_int_equal(gn_recsys_preset("dlrm-mlperf", &c), 0);
    uint64_t rows = 39884406ull + 39043 + 17289 + 7420 + 20263 + 3 + 7120 + 1543 + 63 + 38532951 +
                    2953546 + 403346 + 10 + 2208 + 11938 + 155 + 4 + 976 + 14 + 39979771 + 25641295 +
                    39664984 + 585935 + 12972 + 108 + 36;
    assert_int_equal(rows, 187767399ull);
    uint64_t bottom = (13 * 512 + 512) + (512 * 256 + 256) + (256 * 128 + 128);
    uint64_t top = (479 * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 * 512 + 512) + (512 * 256 + 256) +
                   (256 * 1 + 1);
    assert_int_equal(gn_recsys_interaction_width(&c), 479);
    assert_int_equal(gn_recsys_param_count(&c), rows * 128 + bottom + top);
    assert_int_equal(rows * 128 + bottom + top, 24036595969ull);
    c.batch = 8;
    c.requests = 1;
    gn_session *s = make(&c);
    assert_int_equal(gn_session_param_count(s), 24036595969ull);
    /* 96.1 GB of f32: more than one 80 GB GPU */
    assert_true(gn_session_param_bytes(s) > 80e9);
    gn_session_destroy(s);
    (void)state;
}

/* Criteo Kaggle reference config: dim 16, bottom 13-512-256-64-16, top
 * 367-512-256-1. */
static void test_kaggle_parameters(void **state)
{
    gn_recsys_config c;
    assert_int_equal(gn_recsys_preset("dlrm-kaggle", &c), 0);
    uint64_t rows = 1460ull + 583 + 10131227 + 2202608 + 305 + 24 + 12517 + 633 + 3 + 93145 + 5683 +
                    8351593 + 3194 + 27 + 14992 + 5461306 + 10 + 5652 + 2173 + 4 + 7046547 + 18 + 15 +
                    286181 + 105 + 142572;
    uint64_t bottom = (13 * 512 + 512) + (512 * 256 + 256) + (256 * 64 + 64) + (64 * 16 + 16);
    uint64_t top = (367 * 512 + 512) + (512 * 256 + 256) + (256 + 1);
    gn_session *s = make(&c);
    assert_int_equal(gn_session_param_count(s), rows * 16 + bottom + top);
    assert_int_equal(gn_recsys_param_count(&c), rows * 16 + bottom + top);
    assert_int_equal(gn_session_nsteps(s), 4);
    gn_session_destroy(s);
    (void)state;
}

/*
 * tiny-dlrm, batch 2: dense 3, bottom 3-8-4, tables of 100 and 50 rows
 * at dim 4 with 2 and 3 lookups per sample, F = 3 features, interaction
 * width 4 + 3 = 7, top 7-8-1.
 */
static void test_tiny_flops_and_bytes_by_hand(void **state)
{
    gn_recsys_config c;
    gn_recsys_preset("tiny-dlrm", &c);
    gn_session *s = make(&c);
    double bottom = (2 * 2 * 8 * 3 + 2 * 8) + 2 * 8 + (2 * 2 * 4 * 8 + 2 * 4) + 2 * 4;
    double emb = 2 * 2 * 4 + 2 * 3 * 4;
    double inter = 2 * 2 * 3 * 3 * 4;
    double top = (2 * 2 * 8 * 7 + 2 * 8) + 2 * 8 + (2 * 2 * 1 * 8 + 2) + 4 * 2;
    const gn_graph *g = gn_session_step(s, 1);
    assert_true(gn_graph_total_flops(g) == bottom + emb + inter + top);
    int bags = 0;
    for (uint32_t i = 0; i < gn_graph_nnodes(g); i++) {
        const gn_node *n = gn_graph_node(g, i);
        if (n->op == GN_OP_EMBEDDING_BAG && strcmp(n->module, "emb_l.0") == 0) {
            /* indices 2x2 i64 + 4 rows of 4 f32 looked up + output 2x4 f32 */
            assert_true(n->bytes == 32 + 64 + 32);
            bags++;
        }
        if (n->op == GN_OP_INTERACTION)
            /* inputs 3 x [2, 4] f32, output [2, 7] f32 */
            assert_true(n->bytes == 3 * 32 + 56);
    }
    assert_int_equal(bags, 1);
    assert_int_equal(gn_graph_nreads(g), 1);
    const gn_tensor *out = gn_graph_tensor(g, gn_graph_read(g, 0)->tensor);
    assert_int_equal(out->kind, GN_KIND_OUTPUT);
    assert_int_equal(out->shape[0], 2);
    assert_int_equal(out->shape[1], 1);
    gn_session_destroy(s);
    (void)state;
}

static void test_config_from_json(void **state)
{
    gn_recsys_config c;
    gn_error err;
    json_t *j = json_pack("{s:s,s:[i,i,i],s:[i,i,i],s:i,s:[i,i],s:[i,i]}", "model", "tiny-dlrm", "rows", 10, 20,
                          30, "pooling", 1, 2, 3, "dim", 8, "bottom_mlp", 16, 8, "top_mlp", 4, 1);
    assert_int_equal(gn_recsys_config_from_json(j, "x.json", "$.w", &c, &err), 0);
    assert_int_equal(c.tables, 3);
    assert_int_equal(c.pooling[2], 3);
    assert_int_equal(gn_recsys_interaction_width(&c), 8 + 6);
    gn_session *s = make(&c);
    gn_session_destroy(s);
    json_decref(j);
    j = json_pack("{s:s,s:[i,i]}", "model", "dlrm-kaggle", "pooling", 1, 2);
    assert_int_equal(gn_recsys_config_from_json(j, "x.json", "$.w", &c, &err), GN_ESCHEMA);
    assert_non_null(strstr(err.msg, "x.json: $.w.pooling: expected one lookup count per table (26), got 2"));
    json_decref(j);
    j = json_pack("{s:s,s:i}", "model", "dlrm-kaggle", "tables", 3);
    assert_int_equal(gn_recsys_config_from_json(j, "x.json", "$.w", &c, &err), GN_ESCHEMA);
    assert_non_null(strstr(err.msg, "x.json: $.w.tables: unknown field"));
    json_decref(j);
    gn_recsys_preset("dlrm-kaggle", &c);
    c.dim = 32; /* bottom MLP still ends in 16 */
    assert_null(gn_recsys_generate(&c, &err));
    assert_int_equal(err.code, GN_EINVAL);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlperf_parameters),
        cmocka_unit_test(test_kaggle_parameters),
        cmocka_unit_test(test_tiny_flops_and_bytes_by_hand),
        cmocka_unit_test(test_config_from_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
