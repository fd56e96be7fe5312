/*
 * test_vqa.c — VQA workload generator: published parameter counts of
 * ViT-B/16 and BERT-base, FLOPs counted by hand on a tiny config, module
 * paths, config errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vqa.h"

static gn_session *make(gn_vqa_config *c)
{
    gn_error err;
    gn_session *s = gn_vqa_generate(c, &err);
    if (!s)
        fail_msg("%s: %s", c->name, err.msg);
    return s;
}

/* Elements of the param tensors of step 0 whose storage starts with
 * PREFIX (each parameter appears once per step). */
static uint64_t params_under(const gn_session *s, const char *prefix)
{
    const gn_graph *g = gn_session_step(s, 0);
    uint64_t n = 0;
    for (uint32_t t = 0; t < gn_graph_ntensors(g); t++) {
        const gn_tensor *x = gn_graph_tensor(g, t);
        if (x->kind == GN_KIND_PARAM &&
            strncmp(gn_graph_storage_name(g, x->storage), prefix, strlen(prefix)) == 0)
            n += x->bytes / gn_dtype_size(x->dtype);
    }
    return n;
}

/*
 * By hand, d = 768, MLP 3072: one encoder layer is q, k, v, o
 * (4 x (768*768 + 768) = 2,362,368), two LayerNorms (3,072), MLP
 * (768*3072 + 3072 + 3072*768 + 768 = 4,722,432): 7,087,872.
 * ViT-B/16 (HF ViTModel, no pooler): patch conv 768*3*16*16 + 768, cls
 * 768, positions 197*768, 12 layers, final LayerNorm: 85,798,656.
 * BERT-base (HF BertModel, no pooler): embeddings (30522 + 512 + 2) *
 * 768 + LayerNorm 1,536, 12 layers: 108,891,648 (109,482,240 with the
 * 590,592-parameter pooler, the published "110M" figure).
 */
static void test_published_parameter_counts(void **state)
{
    uint64_t layer = 4 * (768 * 768 + 768) + 2 * 2 * 768 + (768 * 3072 + 3072) + (3072 * 768 + 768);
    assert_int_equal(layer, 7087872);
    uint64_t vit = (768ull * 3 * 16 * 16 + 768) + 768 + 197 * 768 + 12 * layer + 2 * 768;
    uint64_t bert = (30522ull + 512 + 2) * 768 + 2 * 768 + 12 * layer;
    assert_int_equal(vit, 85798656ull);
    assert_int_equal(bert, 108891648ull);
    assert_int_equal(bert + 768 * 768 + 768, 109482240ull);
    gn_vqa_config c;
    assert_int_equal(gn_vqa_preset("vit-bert-vqa", &c), 0);
    assert_int_equal(gn_vqa_vision_params(&c), vit);
    assert_int_equal(gn_vqa_text_params(&c), bert);
    /* 4 fusion layers (k, v over 768-wide image tokens), answer head
     * 768-1536 (+ LayerNorm)-3129 */
    uint64_t fusion = 4 * layer, head = (768 * 1536 + 1536) + 2 * 1536 + (1536 * 3129 + 3129);
    assert_int_equal(gn_vqa_param_count(&c), vit + bert + fusion + head);
    c.requests = 2;
    gn_session *s = make(&c);
    assert_int_equal(params_under(s, "vision."), vit);
    assert_int_equal(params_under(s, "text."), bert);
    assert_int_equal(params_under(s, "fusion."), fusion);
    assert_int_equal(params_under(s, "answer_head."), head);
    assert_int_equal(gn_session_param_count(s), vit + bert + fusion + head);
    assert_int_equal(gn_session_param_bytes(s), 2 * (vit + bert + fusion + head)); /* f16 */
    const gn_graph *g = gn_session_step(s, 1);
    assert_int_equal(gn_graph_nreads(g), 1);
    const gn_tensor *out = gn_graph_tensor(g, gn_graph_read(g, 0)->tensor);
    assert_int_equal(out->kind, GN_KIND_OUTPUT);
    assert_int_equal(out->shape[1], 3129);
    int vis = 0, txt = 0, fus = 0;
    for (uint32_t i = 0; i < gn_graph_nnodes(g); i++) {
        const char *m = gn_graph_node(g, i)->module;
        vis += m && strcmp(m, "vision.encoder.layer.11.attention.attention.query") == 0;
        txt += m && strcmp(m, "text.encoder.layer.0.attention.self.key") == 0;
        fus += m && strcmp(m, "fusion.layer.3.crossattention.self.value") == 0;
    }
    assert_int_equal(vis + txt + fus, 3);
    gn_session_destroy(s);
    (void)state;
}

static double lin(double m, double n, double k) /* with bias */
{
    return 2 * m * n * k + m * n;
}

static double att(double H, double Tq, double Tk, double dh)
{
    return 4 * H * Tq * Tk * dh + 5 * H * Tq * Tk;
}

/*
 * tiny-vqa, batch 1: 32 px / 16 px patches = 4 patches + cls = 5 image
 * tokens of width 8 (2 heads of 4, MLP 16); 4 text tokens of width 8;
 * one fusion layer (4 queries over 5 keys); head 8-16-5.
 */
static void test_tiny_flops_by_hand(void **state)
{
    double vis = (2.0 * 8 * 4 * 3 * 16 * 16 + 8 * 4) /* patch conv */ + 5 * 8 /* + positions */ +
                 8 * 40 + 3 * lin(5, 8, 8) + att(2, 5, 5, 4) + lin(5, 8, 8) + 40 + /* attention half */
                 8 * 40 + lin(5, 16, 8) + 8 * 80 + lin(5, 8, 16) + 40 +          /* MLP half */
                 8 * 40;                                                          /* final LayerNorm */
    double txt = 32 + 32 + 8 * 32 /* embeddings: two adds, LayerNorm */ +
                 3 * lin(4, 8, 8) + att(2, 4, 4, 4) + lin(4, 8, 8) + 32 + 8 * 32 +
                 lin(4, 16, 8) + 8 * 64 + lin(4, 8, 16) + 32 + 8 * 32;
    double fus = lin(4, 8, 8) + 2 * lin(5, 8, 8) + att(2, 4, 5, 4) + lin(4, 8, 8) + 32 + 8 * 32 +
                 lin(4, 16, 8) + 8 * 64 + lin(4, 8, 16) + 32 + 8 * 32;
    double head = lin(1, 16, 8) + 8 * 16 + 8 * 16 + lin(1, 5, 16);
    assert_true(vis + txt + fus + head == 70967.0);
    gn_vqa_config c;
    gn_vqa_preset("tiny-vqa", &c);
    gn_session *s = make(&c);
    assert_int_equal(gn_session_nsteps(s), 2);
    assert_true(gn_graph_total_flops(gn_session_step(s, 1)) == vis + txt + fus + head);
    gn_session_destroy(s);
    (void)state;
}

static void test_bad_config(void **state)
{
    gn_vqa_config c;
    gn_error err;
    assert_int_equal(gn_vqa_preset("blip2", &c), GN_ENOTFOUND);
    json_t *j = json_pack("{s:s,s:i}", "model", "vit-bert-vqa", "text_length", 20);
    assert_int_equal(gn_vqa_config_from_json(j, "x.json", "$.workloads[2]", &c, &err), GN_ESCHEMA);
    assert_non_null(strstr(err.msg, "x.json: $.workloads[2].text_length: unknown field"));
    json_decref(j);
    j = json_pack("{s:s,s:i,s:i}", "model", "vit-bert-vqa", "text_len", 20, "batch", 8);
    assert_int_equal(gn_vqa_config_from_json(j, "x.json", "$.w", &c, &err), 0);
    assert_int_equal(c.text_len, 20);
    json_decref(j);
    c.image = 100; /* not a multiple of 16 */
    assert_null(gn_vqa_generate(&c, &err));
    assert_int_equal(err.code, GN_EINVAL);
    gn_vqa_preset("tiny-vqa", &c);
    c.text_len = 17; /* more than 16 positions */
    assert_null(gn_vqa_generate(&c, &err));
    assert_non_null(strstr(err.msg, "learned positions"));
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published_parameter_counts),
        cmocka_unit_test(test_tiny_flops_by_hand),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
