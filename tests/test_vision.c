/*
 * test_vision.c — vision workload generator: published parameter counts,
 * FLOPs counted by hand, detector outputs, config errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vision.h"

static gn_session *make(const char *preset, uint32_t batch, uint32_t requests)
{
    gn_vision_config c;
    assert_int_equal(gn_vision_preset(preset, &c), 0);
    c.batch = batch;
    c.requests = requests;
    gn_error err;
    gn_session *s = gn_vision_generate(&c, &err);
    if (!s)
        fail_msg("%s: %s", preset, err.msg);
    return s;
}

/* torchvision resnet50: 25,557,032 parameters (BN weight + bias counted,
 * running statistics are buffers). */
static void test_resnet50_parameters(void **state)
{
    gn_vision_config c;
    gn_vision_preset("resnet50", &c);
    assert_int_equal(gn_vision_param_count(&c), 25557032ull);
    for (uint32_t b = 1; b <= 64; b *= 4) {
        gn_session *s = make("resnet50", b, 2);
        assert_int_equal(gn_session_nsteps(s), 2);
        assert_int_equal(gn_session_param_count(s), 25557032ull);
        assert_int_equal(gn_session_param_bytes(s), 25557032ull * 2); /* f16 */
        const gn_graph *g = gn_session_step(s, 1);
        assert_int_equal(gn_graph_phase(g), GN_PHASE_FORWARD);
        assert_int_equal(gn_graph_nreads(g), 1);
        const gn_tensor *out = gn_graph_tensor(g, gn_graph_read(g, 0)->tensor);
        assert_int_equal(out->kind, GN_KIND_OUTPUT);
        assert_int_equal(out->shape[0], b);
        assert_int_equal(out->shape[1], 1000);
        gn_session_destroy(s);
    }
    (void)state;
}

/* torchvision lists resnet50 at 4.09 GFLOPS (multiply-adds of conv and
 * linear layers at 224 px): 4,087,136,256 conv MACs + 2,048,000 fc MACs. */
static void test_resnet50_macs(void **state)
{
    gn_session *s = make("resnet50", 1, 1);
    const gn_graph *g = gn_session_step(s, 0);
    double conv = 0, fc = 0;
    for (uint32_t i = 0; i < gn_graph_nnodes(g); i++) {
        const gn_node *n = gn_graph_node(g, i);
        if (n->op == GN_OP_CONV2D)
            conv += n->flops;
        if (n->op == GN_OP_MATMUL)
            fc += n->flops - 1000; /* minus the bias adds */
    }
    assert_true(conv == 2 * 4087136256.0);
    assert_true(fc == 2 * 2048000.0);
    gn_session_destroy(s);
    (void)state;
}

/* conv FLOPs: 2 x Cout x Hout x Wout x Cin x k x k (batch 1, no bias) */
static double cf(double cin, double cout, double k, double hw)
{
    return 2 * cout * hw * cin * k * k;
}

/*
 * tiny-resnet (width 4, one bottleneck per stage, 32 px, 10 classes),
 * every op counted by hand from SCHEMA.md: bn 2, relu/add 1 per output
 * element, pools numel(input).  Spatial sizes: stem 16x16, maxpool 8x8,
 * layer1 8x8, layer2 4x4, layer3 2x2, layer4 1x1.
 */
static void test_tiny_resnet_flops_by_hand(void **state)
{
    double stem = cf(3, 4, 7, 256) + 2 * 1024 + 1024 + 1024 /* maxpool over 4x16x16 */;
    double l1 = cf(4, 4, 1, 64) + 2 * 256 + 256 + cf(4, 4, 3, 64) + 2 * 256 + 256 +
                cf(4, 16, 1, 64) + 2 * 1024 + cf(4, 16, 1, 64) + 2 * 1024 + 1024 + 1024;
    double l2 = cf(16, 8, 1, 64) + 2 * 512 + 512 + cf(8, 8, 3, 16) + 2 * 128 + 128 +
                cf(8, 32, 1, 16) + 2 * 512 + cf(16, 32, 1, 16) + 2 * 512 + 512 + 512;
    double l3 = cf(32, 16, 1, 16) + 2 * 256 + 256 + cf(16, 16, 3, 4) + 2 * 64 + 64 +
                cf(16, 64, 1, 4) + 2 * 256 + cf(32, 64, 1, 4) + 2 * 256 + 256 + 256;
    double l4 = cf(64, 32, 1, 4) + 2 * 128 + 128 + cf(32, 32, 3, 1) + 2 * 32 + 32 +
                cf(32, 128, 1, 1) + 2 * 128 + cf(64, 128, 1, 1) + 2 * 128 + 128 + 128;
    double head = 128 /* avgpool */ + 2 * 10 * 128 + 10 /* fc with bias */;
    gn_session *s = make("tiny-resnet", 1, 2);
    assert_true(gn_graph_total_flops(gn_session_step(s, 0)) == stem + l1 + l2 + l3 + l4 + head);
    /* batch scales every op */
    gn_session_destroy(s);
    s = make("tiny-resnet", 8, 1);
    assert_true(gn_graph_total_flops(gn_session_step(s, 0)) == 8 * (stem + l1 + l2 + l3 + l4 + head));
    gn_session_destroy(s);
    (void)state;
}

/*
 * Detector: our P2..P5 RetinaNet-style model, checked against
 * torchvision's retinanet_resnet50_fpn (34,014,999 parameters), which
 * differs in three counted ways: no C2 lateral and P2 output conv, two
 * extra 3x3 convs for P6/P7, and frozen batch norm (53,120 BN weights
 * and biases are buffers there).
 */
static void test_detector_parameters(void **state)
{
    gn_vision_config c;
    gn_vision_preset("retinanet-r50-fpn", &c);
    uint64_t ours = gn_vision_param_count(&c);
    uint64_t conv3 = 256ull * 256 * 9 + 256, c2_lateral = 256ull * 256 + 256;
    assert_int_equal(ours - c2_lateral - conv3 + 2 * conv3 - 53120, 34014999ull);
    /* and by hand: backbone without fc, FPN, two 4-conv towers, predictors */
    uint64_t hand = (25557032ull - 2048 * 1000 - 1000) + (256ull + 512 + 1024 + 2048) * 256 + 4 * 256 +
                    4 * conv3 + 8 * conv3 + (256ull * 9 * 9 * 91 + 9 * 91) + (256ull * 9 * 36 + 36);
    assert_int_equal(ours, hand);
    c.image = 256;
    gn_error err;
    gn_session *s = gn_vision_generate(&c, &err);
    assert_non_null(s);
    assert_int_equal(gn_session_param_count(s), ours);
    gn_session_destroy(s);
    (void)state;
}

static void test_tiny_detector_outputs(void **state)
{
    gn_session *s = make("tiny-detector", 2, 3);
    gn_vision_config c;
    gn_vision_preset("tiny-detector", &c);
    assert_int_equal(gn_session_param_count(s), gn_vision_param_count(&c));
    const gn_graph *g = gn_session_step(s, 2);
    assert_int_equal(gn_graph_nreads(g), 2);
    /* 64 px: P2..P5 are 16x16, 8x8, 4x4, 2x2; 2 anchors per location */
    const gn_tensor *cls = gn_graph_tensor(g, gn_graph_read(g, 0)->tensor);
    const gn_tensor *box = gn_graph_tensor(g, gn_graph_read(g, 1)->tensor);
    assert_int_equal(cls->shape[0], 2);
    assert_int_equal(cls->shape[1], 2 * (256 + 64 + 16 + 4));
    assert_int_equal(cls->shape[2], 3);
    assert_int_equal(box->shape[2], 4);
    int fpn = 0, head = 0;
    for (uint32_t i = 0; i < gn_graph_nnodes(g); i++) {
        const char *m = gn_graph_node(g, i)->module;
        fpn += m && strcmp(m, "backbone.fpn.inner_blocks.0") == 0;
        head += m && strcmp(m, "head.classification_head.cls_logits") == 0;
    }
    assert_int_equal(fpn, 1);
    assert_int_equal(head, 4); /* shared across the four levels */
    gn_session_destroy(s);
    (void)state;
}

static void test_bad_config(void **state)
{
    gn_vision_config c;
    gn_error err;
    assert_int_equal(gn_vision_preset("vgg16", &c), GN_ENOTFOUND);
    json_t *j = json_pack("{s:s,s:i}", "model", "resnet50", "imgae", 224);
    assert_int_equal(gn_vision_config_from_json(j, "x.json", "$.workloads[0]", &c, &err), GN_ESCHEMA);
    assert_non_null(strstr(err.msg, "x.json: $.workloads[0].imgae: unknown field"));
    json_decref(j);
    j = json_pack("{s:s,s:[i,i]}", "model", "resnet50", "blocks", 1, 2);
    assert_int_equal(gn_vision_config_from_json(j, "x.json", "$.w", &c, &err), GN_ESCHEMA);
    assert_non_null(strstr(err.msg, "x.json: $.w.blocks: expected an array of 4"));
    json_decref(j);
    j = json_pack("{s:s,s:i,s:s}", "model", "resnet50", "batch", 64, "name", "r50-b64");
    assert_int_equal(gn_vision_config_from_json(j, "x.json", "$.w", &c, &err), 0);
    assert_int_equal(c.batch, 64);
    assert_string_equal(c.name, "r50-b64");
    json_decref(j);
    c.width = 0;
    assert_null(gn_vision_generate(&c, &err));
    assert_int_equal(err.code, GN_EINVAL);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resnet50_parameters),
        cmocka_unit_test(test_resnet50_macs),
        cmocka_unit_test(test_tiny_resnet_flops_by_hand),
        cmocka_unit_test(test_detector_parameters),
        cmocka_unit_test(test_tiny_detector_outputs),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
