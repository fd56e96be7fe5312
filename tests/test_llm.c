/*
 * test_llm.c — LLM workload generator: exact sizes and KV-cache growth.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "llm.h"

/* Parameter counts published for the reference models (elements). */
static void check_params(const char *preset, uint64_t published)
{
    gn_llm_config c;
    assert_int_equal(gn_llm_preset(preset, &c), 0);
    c.prompt = 4;
    c.decode = 1;
    gn_error err;
    gn_session *s = gn_llm_generate(&c, &err);
    if (!s)
        fail_msg("%s: %s", preset, err.msg);
    /* the generated graph, counted tensor by tensor, matches the paper */
    assert_int_equal(gn_session_param_count(s), published);
    assert_int_equal(gn_llm_param_count(&c), published);
    assert_int_equal(gn_session_param_bytes(s), published * 2); /* f16 */
    gn_session_destroy(s);
}

static void test_published_parameter_counts(void **state)
{
    check_params("gpt2-small", 124439808ull);   /* "124M" */
    check_params("gpt2-medium", 354823168ull);  /* "355M" */
    check_params("llama-2-7b", 6738415616ull);  /* "6.7B" */
    (void)state;
}

/* Sum the bytes of every state tensor produced in step ST. */
static uint64_t state_bytes(const gn_session *s, uint32_t st)
{
    const gn_graph *g = gn_session_step(s, st);
    uint64_t b = 0;
    for (uint32_t t = 0; t < gn_graph_ntensors(g); t++)
        if (gn_graph_tensor(g, t)->kind == GN_KIND_STATE && gn_graph_tensor(g, t)->producer >= 0)
            b += gn_graph_tensor(g, t)->bytes;
    return b;
}

static void test_kv_cache_grows_one_position_per_step(void **state)
{
    const char *presets[] = {"tiny-gpt2", "tiny-llama"};
    for (int p = 0; p < 2; p++) {
        gn_llm_config c;
        gn_llm_preset(presets[p], &c);
        c.prompt = 10;
        c.decode = 5;
        gn_error err;
        gn_session *s = gn_llm_generate(&c, &err);
        assert_non_null(s);
        assert_int_equal(gn_session_nsteps(s), 6);
        assert_int_equal(gn_graph_phase(gn_session_step(s, 0)), GN_PHASE_PREFILL);
        assert_int_equal(gn_graph_phase(gn_session_step(s, 3)), GN_PHASE_DECODE);
        /* per position: layers x (k, v) x kv_heads x head_dim x 4 bytes */
        uint64_t per_pos = (uint64_t)c.layers * 2 * c.kv_heads * (c.d_model / c.heads) * 4;
        for (uint32_t st = 0; st < 6; st++)
            assert_int_equal(state_bytes(s, st), per_pos * (c.prompt + st));
        /* one read (the next token) per step */
        assert_int_equal(gn_graph_nreads(gn_session_step(s, 2)), 1);
        gn_session_destroy(s);
    }
    (void)state;
}

/* Decode FLOPs of GPT-2 small, counted by hand from SCHEMA.md:
 * matmuls 2*params_nonembedding (+ biases + lm_head), attention over P+1. */
static void test_decode_flops_by_hand(void **state)
{
    gn_llm_config c;
    gn_llm_preset("gpt2-small", &c);
    c.prompt = 100;
    c.decode = 1;
    gn_error err;
    gn_session *s = gn_llm_generate(&c, &err);
    assert_non_null(s);
    double d = 768, f = 3072, V = 50257, L = 12, H = 12, dh = 64, Tk = 101;
    double mm = L * (2 * d * 3 * d + 3 * d + 2 * d * d + d + 2 * d * f + f + 2 * f * d + d);
    double attn = L * (4 * H * Tk * dh + 5 * H * Tk);
    double norms = (2 * L + 1) * 8 * d;
    double elt = d /* wte+wpe add */ + L * (2 * d /* residuals */ + 8 * f /* gelu */);
    double head = 2 * V * d + V /* argmax */;
    double expect = mm + attn + norms + elt + head;
    double got = gn_graph_total_flops(gn_session_step(s, 1));
    assert_true(got == expect);
    gn_session_destroy(s);
    (void)state;
}

static void test_bad_config(void **state)
{
    gn_llm_config c;
    gn_llm_preset("gpt2-small", &c);
    c.prompt = 1000;
    c.decode = 100;
    gn_error err;
    assert_null(gn_llm_generate(&c, &err));
    assert_non_null(strstr(err.msg, "learned positions"));
    assert_int_equal(gn_llm_preset("gpt5", &c), GN_ENOTFOUND);
    json_t *j = json_pack("{s:s,s:i}", "model", "gpt2-small", "promt", 4);
    assert_int_equal(gn_llm_config_from_json(j, "x.json", "$.workloads[0]", &c, &err), GN_ESCHEMA);
    assert_non_null(strstr(err.msg, "x.json: $.workloads[0].promt: unknown field"));
    json_decref(j);
    (void)state;
}

/* A stream of requests: each its prefill and decode steps in turn, its
 * own KV cache (grown from its own prompt), the weights shared. */
static void test_request_stream(void **state)
{
    json_error_t jerr;
    json_t *j = json_loads("{\"model\": \"tiny-llama\", \"decode\": 2, \"requests\": [{\"prompt\": 8, "
                           "\"decode\": 3}, {\"prompt\": 20, \"decode\": 0}, {\"prompt\": 5}]}",
                           0, &jerr);
    gn_llm_config c;
    gn_error err;
    assert_int_equal(gn_llm_config_from_json(j, "x.json", "$", &c, &err), 0);
    json_decref(j);
    assert_int_equal(c.nreq, 3);
    assert_int_equal(c.req_decode[2], 2); /* the workload's decode */
    gn_session *s = gn_llm_generate(&c, &err);
    if (!s)
        fail_msg("%s", err.msg);
    assert_int_equal(gn_session_nsteps(s), 4 + 1 + 3);
    const uint32_t prompt[] = {8, 8, 8, 8, 20, 5, 5, 5}, kv_before[] = {0, 8, 9, 10, 0, 0, 5, 6};
    const char *const req[] = {"r0", "r0", "r0", "r0", "r1", "r2", "r2", "r2"};
    for (uint32_t st = 0; st < 8; st++) {
        const gn_graph *g = gn_session_step(s, st);
        assert_int_equal(gn_graph_phase(g), kv_before[st] ? GN_PHASE_DECODE : GN_PHASE_PREFILL);
        /* input 0: token ids [1, T] */
        assert_int_equal(gn_graph_tensor(g, 0)->shape[1], kv_before[st] ? 1 : prompt[st]);
        int leaf = 0, made = 0;
        for (uint32_t t = 0; t < gn_graph_ntensors(g); t++) {
            const gn_tensor *x = gn_graph_tensor(g, t);
            if (x->kind != GN_KIND_STATE)
                continue;
            const char *name = gn_graph_storage_name(g, x->storage);
            size_t n = strlen(name);
            assert_string_equal(name + n - 2, req[st]); /* this request's cache */
            if (x->producer < 0) {
                leaf++;
                assert_int_equal(x->shape[2], kv_before[st]);
            } else {
                made++;
                assert_int_equal(x->shape[2], kv_before[st] + (kv_before[st] ? 1 : prompt[st]));
            }
        }
        assert_int_equal(leaf, kv_before[st] ? 2 * 2 : 0); /* K and V of 2 layers */
        assert_int_equal(made, 2 * 2);
    }
    gn_llm_config one;
    gn_llm_preset("tiny-llama", &one);
    assert_int_equal(gn_session_param_count(s), gn_llm_param_count(&one));
    gn_session_destroy(s);
    /* bad streams are refused, naming the entry */
    const char *const bad[] = {"[]", "{}", "[{\"decode\": 2}]", "[{\"prompt\": 0}]", "[{\"prompt\": 4, \"x\": 1}]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "{\"model\": \"tiny-gpt2\", \"requests\": %s}", bad[i]);
        j = json_loads(text, 0, &jerr);
        assert_int_equal(gn_llm_config_from_json(j, "x.json", "$", &c, &err), GN_ESCHEMA);
        assert_non_null(strstr(err.msg, "$.requests"));
        json_decref(j);
    }
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published_parameter_counts),
        cmocka_unit_test(test_kv_cache_grows_one_position_per_step),
        cmocka_unit_test(test_decode_flops_by_hand),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_request_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
