/*
 * test_sim.c — the SimGrid backend reproduces hand-computed times.
 *
 * SimGrid runs once per process, so each case runs in a child through
 * gn_sim_start/gn_sim_finish, the same path genie-sim uses.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "llm.h"
#include "plan.h"
#include "simbackend.h"
#include "strategy.h"
#include "workload.h"

static void run(const gn_plan *p, const gn_platform *pf, double *start, double *end)
{
    gn_error err;
    gn_error_clear(&err);
    gn_sim_job *job = gn_sim_start(p, pf, &err);
    assert_non_null(job);
    int rc = gn_sim_finish(job, -1, start, end, &err);
    if (rc < 0)
        fail_msg("simulation failed: %s", err.msg);
}

static void assert_close(double got, double want)
{
    if (fabs(got - want) > 1e-3 * want)
        fail_msg("got %.12g s, hand-computed %.12g s (%.4f%% off)", got, want,
                 100 * fabs(got - want) / want);
}

static gn_plan *two_devices(gn_platform *pf)
{
    gn_platform_default(pf);
    gn_plan *p = gn_plan_create("test");
    gn_plan_add_device(p, "client", 0, -1);
    gn_plan_add_device(p, "node0.gpu0", 1, 0);
    return p;
}

/* One transfer: latency + bytes / bandwidth, at several sizes. */
static void test_single_transfer(void **state)
{
    const double sizes[] = {4096, 1 << 20, 1e9};
    for (int i = 0; i < 3; i++) {
        gn_platform pf;
        gn_plan *p = two_devices(&pf);
        pf.net_bw = 25e9 / 8;
        pf.net_latency = 5e-6;
        gn_plan_add_transfer(p, 0, 0, 1, -1, 0, 0, sizes[i], "x", NULL, 0);
        double s[1], e[1];
        run(p, &pf, s, e);
        assert_close(e[0] - s[0], 5e-6 + sizes[i] / (25e9 / 8));
        gn_plan_destroy(p);
    }
    (void)state;
}

/* One op: FLOPs / rate, when the planner's cost model says so. */
static void test_single_op(void **state)
{
    gn_platform pf;
    gn_plan *p = two_devices(&pf);
    double flops = 2.0 * 4096 * 4096 * 4096;
    double rate = pf.gpu.flops_f16 * pf.gpu.eff_compute;
    gn_plan_add_compute(p, 0, 1, -1, 0, flops / rate, flops, 0, -1, "gemm", NULL, 0);
    double s[1], e[1];
    run(p, &pf, s, e);
    assert_close(e[0] - s[0], flops / rate);
    gn_plan_destroy(p);
    (void)state;
}

/* Issue cost, overlap and dependencies: a call (issue 10 us + transfer),
 * then an op that waits for it, while a second independent op overlaps
 * nothing on the same stream (in-order). */
static void test_dag_timing(void **state)
{
    gn_platform pf;
    gn_plan *p = two_devices(&pf);
    pf.net_bw = 1e9;
    pf.net_latency = 1e-6;
    int call = gn_plan_add_transfer(p, 0, 0, 1, 0, 10e-6, 0, 1000, "call", NULL, 0);
    int32_t d[] = {call};
    int op = gn_plan_add_compute(p, 0, 1, -1, 0, 2e-3, 0, 0, -1, "op", d, 1);
    int32_t d2[] = {op};
    int back = gn_plan_add_transfer(p, 0, 1, 0, -1, 0, 0, 1e6, "reply", d2, 1);
    (void)back;
    double s[3], e[3];
    run(p, &pf, s, e);
    double t_call = 10e-6 + 1e-6 + 1000 / 1e9;
    assert_close(e[0], t_call);
    assert_close(s[1], t_call);
    assert_close(e[1], t_call + 2e-3);
    assert_close(e[2], t_call + 2e-3 + 1e-6 + 1e6 / 1e9);
    gn_plan_destroy(p);
    (void)state;
}

/* Two transfers at once share the link fairly; both directions do not. */
static void test_sharing(void **state)
{
    gn_platform pf;
    gn_plan *p = two_devices(&pf);
    pf.net_bw = 1e9;
    pf.net_latency = 0;
    gn_plan_add_transfer(p, 0, 0, 1, -1, 0, 0, 1e6, "a", NULL, 0);
    gn_plan_add_transfer(p, 0, 0, 1, -1, 0, 0, 1e6, "b", NULL, 0);
    gn_plan_add_transfer(p, 0, 1, 0, -1, 0, 0, 1e6, "c", NULL, 0);
    double s[3], e[3];
    run(p, &pf, s, e);
    assert_close(e[0], 2e-3);
    assert_close(e[1], 2e-3);
    assert_close(e[2], 1e-3); /* full duplex */
    gn_plan_destroy(p);
    (void)state;
}

/* A whole tiny session under every strategy: runs, ends, is ordered. */
static void test_strategies_run(void **state)
{
    gn_llm_config c;
    gn_llm_preset("tiny-gpt2", &c);
    gn_error err;
    gn_session *s = gn_llm_generate(&c, &err);
    assert_non_null(s);
    gn_platform pf;
    gn_platform_default(&pf);
    const char *names[] = {"local", "remoting", "blind", "genie"};
    double makespan[4];
    for (int i = 0; i < 4; i++) {
        gn_plan_input in = {.session = s, .platform = &pf, .weights_resident = 1};
        gn_plan *p;
        if (gn_strategy_plan(names[i], &in, &p, &err) < 0)
            fail_msg("%s: %s", names[i], err.msg);
        uint32_t n = gn_plan_ntasks(p);
        double *st = calloc(n, sizeof(double)), *en = calloc(n, sizeof(double));
        run(p, &pf, st, en);
        makespan[i] = 0;
        for (uint32_t t = 0; t < n; t++) {
            assert_true(en[t] >= st[t]);
            const int32_t *deps = gn_plan_deps(p, t);
            for (uint32_t k = 0; k < gn_plan_task(p, t)->ndeps; k++)
                assert_true(st[t] >= en[deps[k]] - 1e-12);
            if (en[t] > makespan[i])
                makespan[i] = en[t];
        }
        free(st);
        free(en);
        gn_plan_destroy(p);
    }
    /* the local bound is fastest; genie beats per-op remoting */
    assert_true(makespan[0] <= makespan[3]);
    assert_true(makespan[3] < makespan[1]);
    gn_session_destroy(s);
    (void)state;
}

/* genie's multi-GPU, multi-node plans run on the simulated platform: no
 * deadlock, every dependency respected, for every family. */
static void test_genie_multi_node(void **state)
{
    const char *const presets[][2] = {{"vision", "tiny-detector"}, {"recsys", "tiny-dlrm"},
                                      {"vqa", "tiny-vqa"}, {"llm", "tiny-llama"}};
    for (size_t w = 0; w < sizeof(presets) / sizeof(presets[0]); w++) {
        json_t *obj = json_pack("{s:s, s:s, s:i}", "family", presets[w][0], "model", presets[w][1], "requests", 2);
        if (strcmp(presets[w][0], "llm") == 0)
            json_object_del(obj, "requests");
        char label[64];
        gn_error err;
        gn_session *s = gn_workload_build(obj, "test", "$", label, sizeof(label), &err);
        json_decref(obj);
        if (!s)
            fail_msg("%s: %s", presets[w][1], err.msg);
        gn_platform pf;
        gn_platform_default(&pf);
        pf.nodes = 2;
        pf.gpus_per_node = 2;
        if (strcmp(presets[w][0], "recsys") == 0)
            pf.gpu.mem_bytes = 40e3; /* the tiny tables shard */
        gn_plan_input in = {.session = s, .platform = &pf, .weights_resident = 1};
        gn_plan *p;
        if (gn_strategy_plan("genie", &in, &p, &err) < 0)
            fail_msg("%s: %s", presets[w][1], err.msg);
        uint32_t n = gn_plan_ntasks(p);
        double *st = calloc(n, sizeof(double)), *en = calloc(n, sizeof(double));
        run(p, &pf, st, en);
        for (uint32_t t = 0; t < n; t++) {
            assert_true(en[t] >= st[t]);
            const int32_t *deps = gn_plan_deps(p, t);
            for (uint32_t k = 0; k < gn_plan_task(p, t)->ndeps; k++)
                assert_true(st[t] >= en[deps[k]] - 1e-12);
        }
        free(st);
        free(en);
        gn_plan_destroy(p);
        gn_session_destroy(s);
    }
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_transfer),
        cmocka_unit_test(test_single_op),
        cmocka_unit_test(test_dag_timing),
        cmocka_unit_test(test_sharing),
        cmocka_unit_test(test_strategies_run),
        cmocka_unit_test(test_genie_multi_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
