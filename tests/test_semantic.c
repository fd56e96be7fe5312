/*
 * test_semantic.c — structural semantic analysis and the pattern interface.
 *
 * Ground truth comes from the generators' module paths through the label
 * function below, written independently of the analysis (which never reads
 * module paths): a node's expected role is what its Hugging Face module
 * name says it is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "llm.h"
#include "recsys.h"
#include "vision.h"
#include "semantic.h"
#include "trace.h"
#include "workload.h"
#include "vqa.h"

/* Expected role of an LLM node from its module path and op, or -1 when
 * the path does not say (those nodes are not scored). */
static int label_llm(const gn_graph *g, uint32_t id)
{
    const gn_node *n = gn_graph_node(g, id);
    const char *m = n->module ? n->module : "";
    if (n->op == GN_OP_VIEW)
        return GN_ROLE_DATA_MOVEMENT;
    if (n->op == GN_OP_CONCAT && strstr(m, "attn"))
        return GN_ROLE_KV_CACHE;
    if (strstr(m, "ln_") || strstr(m, "layernorm") || strstr(m, "norm") || strstr(m, "ln_f"))
        return GN_ROLE_NORM;
    if (strstr(m, "attn") || strstr(m, "rotary"))
        return GN_ROLE_ATTENTION;
    if (strstr(m, "mlp"))
        return GN_ROLE_MLP;
    if (strstr(m, "wte") || strstr(m, "wpe") || strstr(m, "embed_tokens"))
        return GN_ROLE_EMBEDDING;
    if (strstr(m, "lm_head") || strstr(m, "generate"))
        return GN_ROLE_HEAD;
    if (n->op == GN_OP_ELEMENTWISE && n->nin == 2)
        return GN_ROLE_RESIDUAL;
    return -1;
}

static void check_llm(const char *preset, double want)
{
    gn_llm_config c;
    assert_int_equal(gn_llm_preset(preset, &c), 0);
    c.prompt = 6;
    c.decode = 3;
    gn_error err;
    gn_session *s = gn_llm_generate(&c, &err);
    assert_non_null(s);
    gn_analysis *a = gn_analysis_run(s, NULL, &err);
    assert_non_null(a);
    assert_int_equal(gn_analysis_phase(a, 0), GN_PHASE_PREFILL);
    for (uint32_t st = 1; st < gn_session_nsteps(s); st++)
        assert_int_equal(gn_analysis_phase(a, st), GN_PHASE_DECODE);
    uint32_t scored = 0, right = 0;
    for (uint32_t st = 0; st < gn_session_nsteps(s); st++) {
        const gn_graph *g = gn_session_step(s, st);
        for (uint32_t id = 0; id < gn_graph_nnodes(g); id++) {
            int want_role = label_llm(g, id);
            if (want_role < 0)
                continue;
            scored++;
            const gn_annotation *an = gn_analysis_node(a, st, id);
            if ((int)an->role == want_role)
                right++;
            else if (st == 0)
                print_message("%s: nodes[%u] %s %s: got %s (%s), label %s\n", preset, id,
                              gn_op_name(gn_graph_node(g, id)->op), gn_graph_node(g, id)->module,
                              gn_role_name(an->role), an->pattern, gn_role_name((gn_role)want_role));
            assert_int_equal(an->modality, GN_MOD_TEXT);
        }
    }
    double acc = (double)right / scored;
    print_message("%s: role accuracy %.3f over %u labelled nodes\n", preset, acc, scored);
    assert_true(acc >= want);
    gn_analysis_destroy(a);
    gn_session_destroy(s);
}

static void test_llm_roles_and_phases(void **state)
{
    check_llm("tiny-gpt2", 0.95);
    check_llm("tiny-llama", 0.95);
    /* and at full size: the labels do not depend on the size */
    check_llm("gpt2-medium", 0.95);
    check_llm("llama-3-8b", 0.95);
    (void)state;
}

/* The VQA fusion point is where image and question tokens meet: a node
 * of the fusion stack, and the encoders stay single-modality. */
static void check_vqa(const char *preset)
{
    gn_vqa_config c;
    assert_int_equal(gn_vqa_preset(preset, &c), 0);
    c.requests = 1;
    gn_error err;
    gn_session *s = gn_vqa_generate(&c, &err);
    assert_non_null(s);
    gn_analysis *a = gn_analysis_run(s, NULL, &err);
    assert_non_null(a);
    const gn_graph *g = gn_session_step(s, 0);
    uint32_t fusion = 0, right = 0, scored = 0;
    for (uint32_t id = 0; id < gn_graph_nnodes(g); id++) {
        const gn_annotation *an = gn_analysis_node(a, 0, id);
        const char *m = gn_graph_node(g, id)->module ? gn_graph_node(g, id)->module : "";
        if (an->fusion_point) {
            fusion++;
            assert_non_null(strstr(m, "fusion.layer.0"));
        }
        unsigned want = !strncmp(m, "vision", 6) ? GN_MOD_VISION
                        : !strncmp(m, "text", 4) ? GN_MOD_TEXT
                        : (!strncmp(m, "fusion", 6) || !strncmp(m, "answer", 6)) ? (GN_MOD_VISION | GN_MOD_TEXT)
                                                                                   : 0;
        if (!want)
            continue;
        scored++;
        right += an->modality == want;
    }
    assert_true(fusion >= 1);
    print_message("%s: component (modality) accuracy %.3f over %u nodes, %u fusion point(s)\n", preset,
                  (double)right / scored, scored, fusion);
    assert_true((double)right / scored >= 0.9);
    gn_analysis_destroy(a);
    gn_session_destroy(s);
}

static void test_vqa_components(void **state)
{
    check_vqa("tiny-vqa");
    check_vqa("vit-bert-vqa");
    (void)state;
}

/* Expected role of a detector/DLRM node from its torchvision / DLRM
 * module path, or -1 for nodes the path does not decide. */
static int label_other(const gn_graph *g, uint32_t id)
{
    const gn_node *n = gn_graph_node(g, id);
    const char *m = n->module ? n->module : "";
    if (n->op == GN_OP_VIEW)
        return GN_ROLE_DATA_MOVEMENT;
    if (strstr(m, "fpn"))
        return n->op == GN_OP_CONV2D || n->op == GN_OP_INDEX ? GN_ROLE_NECK : -1;
    if (strstr(m, "head"))
        return n->op == GN_OP_CONV2D ? GN_ROLE_HEAD : -1;
    if (strstr(m, "body") || strstr(m, "layer") || !strncmp(m, "conv1", 5) || !strncmp(m, "bn1", 3))
        return n->op == GN_OP_CONV2D || n->op == GN_OP_POOL2D ? GN_ROLE_CONV_BACKBONE : -1;
    if (strstr(m, "emb_l"))
        return GN_ROLE_SPARSE_LOOKUP;
    if (strstr(m, "bot_l") || strstr(m, "top_l"))
        return n->op == GN_OP_MATMUL ? GN_ROLE_MLP : -1;
    if (strstr(m, "interaction"))
        return GN_ROLE_INTERACTION;
    return -1;
}

static double score_other(gn_session *s, const char *what)
{
    gn_error err;
    gn_analysis *a = gn_analysis_run(s, NULL, &err);
    assert_non_null(a);
    const gn_graph *g = gn_session_step(s, 0);
    uint32_t scored = 0, right = 0;
    for (uint32_t id = 0; id < gn_graph_nnodes(g); id++) {
        int want = label_other(g, id);
        if (want < 0)
            continue;
        scored++;
        const gn_annotation *an = gn_analysis_node(a, 0, id);
        if ((int)an->role == want)
            right++;
        else
            print_message("%s: nodes[%u] %s %s: got %s, label %s\n", what, id, gn_op_name(gn_graph_node(g, id)->op),
                          gn_graph_node(g, id)->module, gn_role_name(an->role), gn_role_name((gn_role)want));
    }
    assert_int_equal(gn_analysis_phase(a, 0), GN_PHASE_FORWARD);
    gn_analysis_destroy(a);
    double acc = scored ? (double)right / scored : 0;
    print_message("%s: role accuracy %.3f over %u labelled nodes\n", what, acc, scored);
    return acc;
}

static void test_vision_and_recsys_roles(void **state)
{
    gn_vision_config v;
    gn_error err;
    assert_int_equal(gn_vision_preset("tiny-detector", &v), 0);
    gn_session *s = gn_vision_generate(&v, &err);
    assert_non_null(s);
    assert_true(score_other(s, "tiny-detector") >= 0.85);
    gn_session_destroy(s);
    gn_recsys_config r;
    assert_int_equal(gn_recsys_preset("tiny-dlrm", &r), 0);
    s = gn_recsys_generate(&r, &err);
    assert_non_null(s);
    assert_true(score_other(s, "tiny-dlrm") >= 0.85);
    gn_session_destroy(s);
    /* full sizes */
    const char *const vis[] = {"resnet50", "retinanet-r50-fpn"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(gn_vision_preset(vis[i], &v), 0);
        v.requests = 1;
        s = gn_vision_generate(&v, &err);
        assert_non_null(s);
        assert_true(score_other(s, vis[i]) >= 0.85);
        gn_session_destroy(s);
    }
    assert_int_equal(gn_recsys_preset("dlrm-kaggle", &r), 0);
    r.requests = 1;
    s = gn_recsys_generate(&r, &err);
    assert_non_null(s);
    assert_true(score_other(s, "dlrm-kaggle") >= 0.85);
    gn_session_destroy(s);
    (void)state;
}

/* Faulty patterns are disabled with a reason; the others still run. */
static int bad_propose(const gn_session *s, uint32_t st, const gn_graph *g,
                       gn_propose_fn propose, void *ctx, gn_error *err)
{
    propose(ctx, 1u << 30, GN_ROLE_MLP, 0.99f, NULL); /* no such node */
    (void)s, (void)st, (void)g, (void)err;
    return 1;
}

static int failing(const gn_session *s, uint32_t st, const gn_graph *g,
                   gn_propose_fn propose, void *ctx, gn_error *err)
{
    (void)s, (void)st, (void)g, (void)propose, (void)ctx;
    return gn_error_set(err, GN_EINVAL, "self-check failed");
}

static void test_faulty_patterns_disabled(void **state)
{
    static const gn_pattern_ops bad = {GN_PATTERN_VERSION, "bad", "garbage", bad_propose};
    static const gn_pattern_ops fails = {GN_PATTERN_VERSION, "fails", "errors", failing};
    static const gn_pattern_ops old = {0, "old", "wrong interface version", failing};
    const gn_pattern_ops *const *b = gn_patterns_builtin();
    const gn_pattern_ops *list[] = {&bad, b[0], &fails, b[1], &old, b[2], b[3], NULL};
    gn_llm_config c;
    gn_llm_preset("tiny-gpt2", &c);
    gn_error err;
    gn_session *s = gn_llm_generate(&c, &err);
    gn_analysis *a = gn_analysis_run(s, list, &err);
    assert_non_null(a);
    int saw_bad = 0, saw_fails = 0, saw_old = 0;
    for (uint32_t i = 0; i < gn_analysis_nwarnings(a); i++) {
        const char *w = gn_analysis_warning(a, i);
        saw_bad |= strstr(w, "pattern bad disabled: it proposed an invalid annotation") != NULL;
        saw_fails |= strstr(w, "pattern fails disabled: self-check failed") != NULL;
        saw_old |= strstr(w, "pattern old disabled") != NULL;
    }
    assert_true(saw_bad && saw_fails && saw_old);
    /* the built-ins still annotated: attention found */
    const gn_graph *g = gn_session_step(s, 0);
    int attention = 0;
    for (uint32_t id = 0; id < gn_graph_nnodes(g); id++)
        attention += gn_analysis_node(a, 0, id)->role == GN_ROLE_ATTENTION;
    assert_true(attention > 0);
    gn_analysis_destroy(a);
    gn_session_destroy(s);
    (void)state;
}

/* Stripping module paths changes nothing: analysis reads structure only. */
/* Strips every module path and hint from S and checks the analysis
 * annotates every node the same. */
static void check_same_without_paths(gn_session *s)
{
    gn_error err;
    json_t *doc = gn_trace_to_json(s);
    size_t i, k;
    json_t *step, *node;
    json_array_foreach(json_object_get(doc, "steps"), i, step)
        json_array_foreach(json_object_get(step, "nodes"), k, node) {
            json_object_del(node, "module");
            json_object_del(node, "hints");
        }
    gn_session *bare = gn_trace_from_json(doc, "bare", &err);
    json_decref(doc);
    assert_non_null(bare);
    gn_analysis *a = gn_analysis_run(s, NULL, &err), *b = gn_analysis_run(bare, NULL, &err);
    assert_non_null(a);
    assert_non_null(b);
    for (uint32_t st = 0; st < gn_session_nsteps(s); st++) {
        assert_int_equal(gn_analysis_phase(a, st), gn_analysis_phase(b, st));
        for (uint32_t id = 0; id < gn_graph_nnodes(gn_session_step(s, st)); id++) {
            assert_null(gn_graph_node(gn_session_step(bare, st), id)->module);
            assert_int_equal(gn_analysis_node(a, st, id)->role, gn_analysis_node(b, st, id)->role);
            assert_int_equal(gn_analysis_node(a, st, id)->modality, gn_analysis_node(b, st, id)->modality);
        }
    }
    gn_analysis_destroy(a);
    gn_analysis_destroy(b);
    gn_session_destroy(s);
    gn_session_destroy(bare);
}

/* Every family, from the graph alone. */
static void test_same_without_module_paths(void **state)
{
    const char *const workloads[] = {
        "{\"family\": \"llm\", \"model\": \"tiny-llama\"}",
        "{\"family\": \"llm\", \"model\": \"gpt2-small\", \"prompt\": 8, \"decode\": 2}",
        "{\"family\": \"vision\", \"model\": \"tiny-detector\"}",
        "{\"family\": \"vision\", \"model\": \"resnet50\", \"requests\": 1}",
        "{\"family\": \"recsys\", \"model\": \"tiny-dlrm\"}",
        "{\"family\": \"vqa\", \"model\": \"tiny-vqa\"}",
        NULL};
    for (int w = 0; workloads[w]; w++) {
        json_error_t jerr;
        json_t *obj = json_loads(workloads[w], 0, &jerr);
        char label[64];
        gn_error err;
        gn_session *s = gn_workload_build(obj, "test", "$", label, sizeof(label), &err);
        json_decref(obj);
        if (!s)
            fail_msg("%s: %s", workloads[w], err.msg);
        check_same_without_paths(s);
    }
    (void)state;
}

/* A pattern that claims every matmul as a head, unsure of it. */
static int claim_heads(const gn_session *s, uint32_t st, const gn_graph *g,
                       gn_propose_fn propose, void *ctx, gn_error *err);
static const gn_pattern_ops greedy = {GN_PATTERN_VERSION, "greedy", "every matmul is a head", claim_heads};
static int claim_heads(const gn_session *s, uint32_t st, const gn_graph *g,
                       gn_propose_fn propose, void *ctx, gn_error *err)
{
    int n = 0;
    for (uint32_t id = 0; id < gn_graph_nnodes(g); id++)
        if (gn_graph_node(g, id)->op == GN_OP_MATMUL) {
            propose(ctx, id, GN_ROLE_HEAD, 0.5f, &greedy);
            n++;
        }
    (void)s, (void)st, (void)err;
    return n;
}

/* Conflicts resolve by confidence, unless the user ranks the patterns. */
static void test_priority_overrides(void **state)
{
    const gn_pattern_ops *const *b = gn_patterns_builtin();
    const gn_pattern_ops *list[16];
    int n = 0;
    while (b[n]) {
        list[n] = b[n];
        n++;
    }
    list[n++] = &greedy;
    list[n] = NULL;
    gn_llm_config c;
    gn_llm_preset("tiny-gpt2", &c);
    gn_error err;
    gn_session *s = gn_llm_generate(&c, &err);
    const gn_graph *g = gn_session_step(s, 0);
    gn_analysis *plain = gn_analysis_run(s, list, &err);
    const char *const prio[] = {"greedy", "no-such-pattern", NULL};
    gn_analysis_opts opts = {prio};
    gn_analysis *ranked = gn_analysis_run_opts(s, list, &opts, &err);
    assert_non_null(plain);
    assert_non_null(ranked);
    int mlp_plain = 0, heads_ranked = 0, matmuls = 0;
    for (uint32_t id = 0; id < gn_graph_nnodes(g); id++) {
        if (gn_graph_node(g, id)->op != GN_OP_MATMUL)
            continue;
        matmuls++;
        mlp_plain += gn_analysis_node(plain, 0, id)->role == GN_ROLE_MLP;
        heads_ranked += gn_analysis_node(ranked, 0, id)->role == GN_ROLE_HEAD &&
                        strcmp(gn_analysis_node(ranked, 0, id)->pattern, "greedy") == 0;
    }
    assert_true(mlp_plain > 0);          /* the confident mlp pattern won */
    assert_int_equal(heads_ranked, matmuls); /* the user's ranking won */
    int warned = 0;
    for (uint32_t i = 0; i < gn_analysis_nwarnings(ranked); i++)
        warned |= strstr(gn_analysis_warning(ranked, i), "no-such-pattern") != NULL;
    assert_true(warned);
    gn_analysis_destroy(plain);
    gn_analysis_destroy(ranked);
    gn_session_destroy(s);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_priority_overrides),
        cmocka_unit_test(test_llm_roles_and_phases),
        cmocka_unit_test(test_vqa_components),
        cmocka_unit_test(test_vision_and_recsys_roles),
        cmocka_unit_test(test_same_without_module_paths),
        cmocka_unit_test(test_faulty_patterns_disabled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
