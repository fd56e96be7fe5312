/*
 * test_planrun.c — plans run for real match local execution.
 *
 * Every strategy's plan of every family's tiny workload is run across two
 * machines in this process: the client here, "node 0" in a thread, joined
 * by a socket pair carrying real frames (conn.h).  The client's outputs
 * must equal the local reference bit for bit (same CPU executor), a node
 * that starts without weights must get them from the plan, and a plan
 * that forgets a transfer must fail with a message naming the tensor.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "conn.h"
#include "executor.h"
#include "outputs.h"
#include "planrun.h"
#include "planwire.h"
#include "platform.h"
#include "strategy.h"
#include "trace.h"
#include "workload.h"

#define SEED 7
#define SCALE 0.25f

static gn_session *build(const char *json)
{
    gn_error err;
    json_error_t jerr;
    json_t *obj = json_loads(json, 0, &jerr);
    assert_non_null(obj);
    char label[64];
    gn_session *s = gn_workload_build(obj, "test", "$", label, sizeof(label), &err);
    json_decref(obj);
    if (!s)
        fail_msg("%s", err.msg);
    return s;
}

#define MAX_NODES 4

typedef struct node_arg {
    const gn_plan *plan; /* decoded from the wire, as genie-node gets it */
    const gn_session *s;
    int fd;
    int machine;
    int warm;
    int rc;
    gn_error err;
} node_arg;

/* Before each step a node takes part in: what its runner holds is within
 * the bound genie-node reserves for the session at HELLO. */
static int within_bound(void *ctx, gn_runner *r, uint32_t step, gn_error *err)
{
    const gn_session *s = ctx;
    uint64_t held = gn_runner_held_bytes(r), bound = gn_runner_bound_bytes(s);
    if (held > bound)
        return gn_error_set(err, GN_EINVAL, "before step %u the runner holds %llu bytes, over its bound %llu",
                            step, (unsigned long long)held, (unsigned long long)bound);
    return 0;
}

static void *node_main(void *arg)
{
    node_arg *a = arg;
    gn_conn *c = gn_conn_create(a->fd, (size_t)1 << 30);
    gn_runner *r = gn_runner_create_ex(gn_executor_cpu(), a->s, SEED, SCALE,
                                       GN_RUNNER_PARTIAL | (a->warm ? 0 : GN_RUNNER_NO_PARAMS), &a->err);
    gn_conn_link cl;
    gn_conn_link_init(&cl, &c, 1, 0, 1);
    a->rc = r ? gn_planrun(a->plan, r, a->machine, &cl.link, within_bound, (void *)a->s, NULL, &a->err) : GN_ENOMEM;
    if (a->rc == 0)
        a->rc = within_bound((void *)a->s, r, UINT32_MAX, &a->err); /* and after the last */
    if (a->rc < 0) { /* tell the client, as genie-node does */
        gn_conn_send(c, GN_FRAME_ERROR, 1, 0, a->err.msg, strlen(a->err.msg), NULL);
    }
    gn_runner_destroy(r);
    gn_conn_destroy(c);
    return NULL;
}

/* Runs P across the client and as many nodes as it uses; returns the
 * client's rc, or the first node's failure. */
static int run_real(const gn_session *s, const gn_plan *p, int warm, gn_outputs *o, gn_error *err)
{
    uint32_t used = 0;
    for (uint32_t d = 0; d < gn_plan_ndevices(p); d++)
        if (gn_plan_device(p, d)->machine + 1 > (int32_t)used)
            used = (uint32_t)gn_plan_device(p, d)->machine + 1;
    assert_true(used <= MAX_NODES);
    /* the nodes get the plan through the wire encoding */
    unsigned char *buf;
    size_t len;
    gn_plan *np = NULL;
    assert_int_equal(gn_planwire_encode(p, &buf, &len), 0);
    if (gn_planwire_decode(buf, len, &np, err) < 0)
        fail_msg("%s", err->msg);
    free(buf);
    if (gn_planrun_check(np, s, used, err) < 0)
        fail_msg("%s", err->msg);
    node_arg a[MAX_NODES];
    pthread_t th[MAX_NODES];
    gn_conn *conns[MAX_NODES];
    for (uint32_t k = 0; k < used; k++) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        a[k] = (node_arg){np, s, sv[1], (int)k, warm, 0, {0, ""}};
        conns[k] = gn_conn_create(sv[0], (size_t)1 << 30);
        assert_int_equal(pthread_create(&th[k], NULL, node_main, &a[k]), 0);
    }
    gn_runner *r = gn_runner_create_ex(gn_executor_cpu(), s, SEED, SCALE, GN_RUNNER_PARTIAL, err);
    assert_non_null(r);
    gn_conn_link cl;
    gn_conn_link_init(&cl, conns, used, 1, 1);
    int rc = gn_outputs_client_run(p, r, &cl.link, SEED, o, NULL, err);
    for (uint32_t k = 0; k < used; k++) {
        if (rc < 0)
            shutdown(gn_conn_fd(conns[k]), SHUT_RDWR); /* unblock the node */
        pthread_join(th[k], NULL);
        gn_conn_destroy(conns[k]);
    }
    gn_runner_destroy(r);
    gn_plan_destroy(np);
    for (uint32_t k = 0; k < used && rc == 0; k++)
        if (a[k].rc < 0) {
            *err = a[k].err;
            rc = a[k].rc;
        }
    return rc;
}

static const char *const workloads[] = {
    "{\"family\": \"llm\", \"model\": \"tiny-gpt2\", \"prompt\": 8, \"decode\": 3}",
    "{\"family\": \"llm\", \"model\": \"tiny-llama\", \"prompt\": 8, \"decode\": 3}",
    "{\"family\": \"llm\", \"model\": \"tiny-gpt2\", \"requests\": [{\"prompt\": 6, \"decode\": 2}, "
    "{\"prompt\": 11, \"decode\": 1}]}",
    "{\"family\": \"vision\", \"model\": \"tiny-resnet\", \"requests\": 2}",
    "{\"family\": \"vision\", \"model\": \"tiny-detector\"}",
    "{\"family\": \"recsys\", \"model\": \"tiny-dlrm\", \"requests\": 2}",
    "{\"family\": \"vqa\", \"model\": \"tiny-vqa\"}",
    NULL};

/* Plans P of strategy STRATEGY (OPTIONS may be NULL), runs it for real
 * and checks the outputs are REF's, bit for bit. */
static void check_one(const char *what, gn_session *s, const gn_platform *pf, const char *strategy, json_t *options,
                      int warm, const gn_outputs *ref)
{
    gn_error err;
    gn_plan_input in = {.session = s, .platform = pf, .weights_resident = warm, .options = options,
                        .file = "test", .path = "$"};
    gn_plan *p;
    if (gn_strategy_plan(strategy, &in, &p, &err) < 0)
        fail_msg("%s: %s: %s", what, strategy, err.msg);
    gn_outputs *got = gn_outputs_create(s);
    char *opts = options ? json_dumps(options, JSON_COMPACT) : NULL;
    if (run_real(s, p, warm, got, &err) < 0)
        fail_msg("%s: %s %s (warm %d): %s", what, strategy, opts ? opts : "", warm, err.msg);
    double rel;
    int same;
    if (gn_outputs_compare(got, ref, &rel, &same, &err) < 0)
        fail_msg("%s: %s: %s", what, strategy, err.msg);
    if (!same)
        fail_msg("%s: %s %s (warm %d): outputs differ from the reference (max rel %g)", what, strategy,
                 opts ? opts : "", warm, rel);
    free(opts);
    gn_outputs_destroy(got);
    gn_plan_destroy(p);
}

/* Every strategy, every family, every genie optimisation switched off in
 * turn, on one node and on two nodes of two GPUs: the real run's outputs
 * are the reference's. */
static void test_parity_all(void **state)
{
    const char *const strategies[] = {"local", "remoting", "blind", "genie", NULL};
    const char *const *switches = gn_strategy_find("genie")->switches;
    for (int w = 0; workloads[w]; w++) {
        gn_session *s = build(workloads[w]);
        gn_error err;
        gn_outputs *ref = gn_outputs_create(s);
        if (gn_outputs_reference(gn_executor_cpu(), s, SEED, SCALE, ref, &err) < 0)
            fail_msg("%s: reference: %s", workloads[w], err.msg);
        for (int big = 0; big < 2; big++) {
            gn_platform pf;
            gn_platform_default(&pf);
            if (big) {
                pf.nodes = 2;
                pf.gpus_per_node = 2;
            }
            for (int k = 0; strategies[k]; k++)
                for (int warm = 0; warm < 2; warm++)
                    check_one(workloads[w], s, &pf, strategies[k], NULL, warm, ref);
            for (int k = 0; switches && switches[k]; k++) {
                json_t *opt = json_pack("{s:[s]}", "disable", switches[k]);
                check_one(workloads[w], s, &pf, "genie", opt, 0, ref);
                json_decref(opt);
            }
        }
        gn_outputs_destroy(ref);
        gn_session_destroy(s);
    }
}

/* A plan that forgets to ship the weights to a cold node fails, naming
 * what is missing, instead of computing on zeros. */
static void test_missing_transfer(void **state)
{
    gn_session *s = build(workloads[0]);
    gn_platform pf;
    gn_platform_default(&pf);
    gn_plan_input in = {.session = s, .platform = &pf, .weights_resident = 1 /* plans as if weights were there */, .file = "test", .path = "$"};
    gn_plan *p;
    gn_error err;
    assert_int_equal(gn_strategy_plan("genie", &in, &p, &err), 0);
    int rc = run_real(s, p, 0 /* but the node starts cold */, NULL, &err);
    assert_true(rc < 0);
    if (!strstr(err.msg, "not here") || !strstr(err.msg, "param"))
        fail_msg("unexpected error: %s", err.msg);
    gn_plan_destroy(p);
    gn_session_destroy(s);
}

/* A transfer whose items reach into another step is refused by the check:
 * a runner holds one step's buffers at a time, and gathering such a payload
 * freed the pieces already lent to it (a use-after-free in the node). */
static void test_item_of_another_step(void **state)
{
    gn_session *s = build(workloads[0]);
    gn_platform pf;
    gn_platform_default(&pf);
    gn_plan_input in = {.session = s, .platform = &pf, .file = "test", .path = "$"};
    gn_plan *p;
    gn_error err;
    assert_int_equal(gn_strategy_plan("blind", &in, &p, &err), 0);
    assert_int_equal(gn_planrun_check(p, s, 1, &err), 0);
    uint32_t id = UINT32_MAX;
    for (uint32_t i = 0; i < gn_plan_ntasks(p) && id == UINT32_MAX; i++)
        if (gn_plan_task(p, i)->kind == GN_TASK_TRANSFER && gn_plan_task(p, i)->step > 0 &&
            gn_plan_task(p, i)->nitems > 0)
            id = i;
    assert_true(id != UINT32_MAX);
    const gn_task *t = gn_plan_task(p, id);
    uint32_t n = t->nitems;
    gn_item *items = malloc((size_t)(n + 1) * sizeof(*items));
    assert_non_null(items);
    memcpy(items, gn_plan_items(p, id), (size_t)n * sizeof(*items));
    items[n] = (gn_item){.step = t->step - 1, .tensor = 0};
    assert_int_equal(gn_plan_set_items(p, id, items, n + 1), 0);
    free(items);
    assert_true(gn_planrun_check(p, s, 1, &err) < 0);
    if (!strstr(err.msg, "is a tensor of step"))
        fail_msg("unexpected error: %s", err.msg);
    gn_plan_destroy(p);
    /* and one whose metadata (bytes beyond its tensors) would have the node
     * allocate more than its reservation counts */
    assert_int_equal(gn_strategy_plan("blind", &in, &p, &err), 0);
    gn_plan *q = gn_plan_create("blind");
    assert_non_null(q);
    for (uint32_t d = 0; d < gn_plan_ndevices(p); d++)
        assert_true(gn_plan_add_device(q, gn_plan_device(p, d)->name, gn_plan_device(p, d)->is_gpu,
                                       gn_plan_device(p, d)->machine) >= 0);
    const gn_task *t0 = gn_plan_task(p, id);
    int tid = gn_plan_add_transfer(q, t0->step, t0->device, t0->dst, -1, 0, 0, 1.5e9, "big", NULL, 0);
    assert_true(tid >= 0);
    assert_true(gn_planrun_check(q, s, 1, &err) < 0);
    if (!strstr(err.msg, "beyond its tensors"))
        fail_msg("unexpected error: %s", err.msg);
    gn_plan_destroy(q);
    gn_plan_destroy(p);
    gn_session_destroy(s);
}

/* A step with two leaf tensors of one state storage is refused by the check
 * (the runner keeps one current version per storage: writing the second
 * leaf freed the buffer the first still pointed to). */
static void test_two_leaves_of_one_state(void **state)
{
    static const char doc[] =
        "{\"schema\":\"genie.srg\",\"version\":\"1.0\",\"name\":\"t\",\"steps\":[{\"phase\":\"decode\","
        "\"tensors\":[{\"id\":0,\"dtype\":\"f32\",\"shape\":[4],\"bytes\":16,\"kind\":\"state\",\"storage\":\"kv\"},"
        "{\"id\":1,\"dtype\":\"f32\",\"shape\":[4],\"bytes\":16,\"kind\":\"state\",\"storage\":\"kv\"},"
        "{\"id\":2,\"dtype\":\"f32\",\"shape\":[4],\"bytes\":16,\"kind\":\"output\"}],"
        "\"nodes\":[{\"id\":0,\"op\":\"elementwise\",\"inputs\":[0,1],\"outputs\":[2],\"attrs\":{\"fn\":\"add\"},"
        "\"flops\":4,\"bytes\":48}]}]}";
    json_error_t jerr;
    json_t *j = json_loads(doc, 0, &jerr);
    assert_non_null(j);
    gn_error err;
    gn_session *s = gn_trace_from_json(j, "two-leaves", &err);
    json_decref(j);
    if (!s)
        fail_msg("%s", err.msg);
    gn_platform pf;
    gn_platform_default(&pf);
    gn_plan_input in = {.session = s, .platform = &pf, .file = "test", .path = "$"};
    gn_plan *p;
    assert_int_equal(gn_strategy_plan("remoting", &in, &p, &err), 0);
    assert_true(gn_planrun_check(p, s, 1, &err) < 0);
    if (!strstr(err.msg, "more than one leaf") || !strstr(err.msg, "kv"))
        fail_msg("unexpected error: %s", err.msg);
    gn_plan_destroy(p);
    gn_session_destroy(s);
}

/* The plan decoder rejects every truncation of a valid plan. */
static void test_planwire_truncated(void **state)
{
    gn_session *s = build(workloads[4]);
    gn_platform pf;
    gn_platform_default(&pf);
    gn_plan_input in = {.session = s, .platform = &pf, .file = "test", .path = "$"};
    gn_plan *p, *q;
    gn_error err;
    assert_int_equal(gn_strategy_plan("remoting", &in, &p, &err), 0);
    unsigned char *buf;
    size_t len;
    assert_int_equal(gn_planwire_encode(p, &buf, &len), 0);
    assert_int_equal(gn_planwire_decode(buf, len, &q, &err), 0);
    assert_int_equal(gn_plan_ntasks(q), gn_plan_ntasks(p));
    for (uint32_t i = 0; i < gn_plan_ntasks(p); i++) {
        assert_int_equal(gn_plan_task(q, i)->nitems, gn_plan_task(p, i)->nitems);
        assert_int_equal(gn_plan_task(q, i)->node, gn_plan_task(p, i)->node);
    }
    gn_plan_destroy(q);
    for (size_t cut = 0; cut < len; cut += 1 + cut / 16) {
        assert_int_equal(gn_planwire_decode(buf, cut, &q, &err), GN_EPARSE);
        assert_null(q);
    }
    free(buf);
    /* the smallest tasks (no items, empty labels) still decode: the count
     * check bounds each task by its smallest encoding, not more */
    gn_plan *small = gn_plan_create("local");
    assert_non_null(small);
    assert_true(gn_plan_add_device(small, "cpu", 0, -1) >= 0);
    for (uint32_t i = 0; i < 1000; i++)
        assert_true(gn_plan_add_compute(small, 0, 0, -1, 0, 1e-6, 0, 4, 0, "", NULL, 0) >= 0);
    assert_int_equal(gn_planwire_encode(small, &buf, &len), 0);
    if (gn_planwire_decode(buf, len, &q, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(gn_plan_ntasks(q), 1000);
    gn_plan_destroy(q);
    free(buf);
    gn_plan_destroy(small);
    gn_plan_destroy(p);
    gn_session_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parity_all),
        cmocka_unit_test(test_missing_transfer),
        cmocka_unit_test(test_planwire_truncated),
        cmocka_unit_test(test_item_of_another_step),
        cmocka_unit_test(test_two_leaves_of_one_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
