/*
 * test_strategies.c — every plan every strategy emits is executable.
 *
 * The real backend runs a plan literally: it moves exactly the tensors a
 * transfer names (its items) and runs each compute task's graph node on
 * the task's device.  So for every strategy, every family's tiny
 * workload and several platforms (one GPU; several GPUs in a node;
 * several nodes; GPUs too small for the tables), this test replays the
 * plan and checks, task by task:
 *
 *   - a compute task names a node of its step's graph that launches work,
 *     and every input of that node is on the task's device: computed
 *     there by an earlier task of the same device or by one it depends on
 *     (transitively), delivered by a transfer it depends on (transitively)
 *     that carries it as an item, or a param/state the plan keeps resident
 *     there;
 *   - a transfer's items are on its source device by the same rule, and
 *     are then on its destination; their bytes never exceed the
 *     transfer's bytes (the rest is metadata);
 *   - every launched node of every step is computed somewhere, and every
 *     tensor the application reads reaches the client.
 *
 * Views launch nothing: a view's output is wherever its input is.
 *
 * It also checks the recompute-vs-transfer chooser against exhaustive
 * search on small random graphs (within 20% of the optimum), and that
 * low-confidence analysis makes genie fall back with a warning.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cost.h"
#include "plan.h"
#include "semantic.h"
#include "strategy.h"
#include "strtab.h"
#include "workload.h"

/* ========================== the executability check ========================== */

typedef struct where {
    /* per step, per tensor, per device: the task that made it available
     * (-1: there from the start, -2: not there) */
    int32_t **at;
    uint32_t ndev;
    /* per storage, per device: the task that put a version there, and
     * which version (the step that produced it; -1 the initial one) */
    int32_t *sat, *sver;
    int32_t *latest;  /* per storage: newest version computed so far */
} where;

static int32_t *avail(where *w, uint32_t st, uint32_t t, uint32_t d)
{
    return &w->at[st][(size_t)t * w->ndev + d];
}

/* Whether task A is task B or one of its (transitive) dependencies. */
static int is_ancestor(const gn_plan *p, int32_t a, int32_t b, unsigned char *seen)
{
    if (a < 0)
        return 1;
    if (a == b)
        return 1;
    if (a > b)
        return 0;
    memset(seen, 0, gn_plan_ntasks(p));
    int32_t *stack = malloc((gn_plan_ntasks(p) + 1) * sizeof(*stack));
    uint32_t n = 0;
    int found = 0;
    stack[n++] = b;
    while (n && !found) {
        int32_t x = stack[--n];
        const int32_t *deps = gn_plan_deps(p, (uint32_t)x);
        for (uint32_t i = 0; i < gn_plan_task(p, (uint32_t)x)->ndeps; i++) {
            int32_t d = deps[i];
            if (d == a) {
                found = 1;
                break;
            }
            if (d > a && !seen[d]) {
                seen[d] = 1;
                stack[n++] = d;
            }
        }
    }
    free(stack);
    return found;
}

/* Whether a param/state tensor X of step ST is kept resident on device D. */
static int resident(const gn_plan *p, const gn_tensor *x, uint32_t st, int32_t d)
{
    if (x->storage < 0 || (x->kind != GN_KIND_PARAM && x->kind != GN_KIND_STATE))
        return 0;
    if (x->kind == GN_KIND_STATE && x->producer >= 0)
        return 0; /* a new version: must be computed */
    for (uint32_t i = 0; i < gn_plan_nresidency(p); i++) {
        const gn_residency *r = gn_plan_residency(p, i);
        if (r->storage == x->storage && r->device == d && r->from_step <= st)
            return 1;
    }
    return 0;
}

/* Whether tensor T of step ST is usable on device D by task K. */
static int usable(const gn_plan *p, where *w, const gn_session *s, uint32_t st,
                  uint32_t t, int32_t d, int32_t k, unsigned char *seen);
static int usable(const gn_plan *p, where *w, const gn_session *s, uint32_t st,
                  uint32_t t, int32_t d, int32_t k, unsigned char *seen)
{
    const gn_graph *g = gn_session_step(s, st);
    const gn_tensor *x = gn_graph_tensor(g, t);
    if (d == 0 && (x->kind == GN_KIND_INPUT || x->kind == GN_KIND_PARAM))
        return 1; /* the application holds its inputs and weights */
    if (x->producer >= 0 && !gn_cost_launches(g, (uint32_t)x->producer) && *avail(w, st, t, (uint32_t)d) == -2 &&
        gn_graph_node(g, (uint32_t)x->producer)->nin > 0) /* a view: wherever its base is */
        return usable(p, w, s, st, gn_graph_node_inputs(g, (uint32_t)x->producer)[0], d, k, seen);
    if (resident(p, x, st, d))
        return 1;
    int32_t a = *avail(w, st, t, (uint32_t)d);
    if (a == -2 && x->storage >= 0 && x->producer < 0 && w->sat) {
        /* a param, or the current version of a state storage: whatever
         * step's tensor carried it there */
        size_t c = (size_t)x->storage * w->ndev + (uint32_t)d;
        if (w->sat[c] == -2 || (x->kind == GN_KIND_STATE && w->sver[c] != w->latest[x->storage]))
            return 0;
        a = w->sat[c];
    }
    if (a == -2)
        return 0;
    if (a == -1)
        return 1;
    const gn_task *ta = gn_plan_task(p, (uint32_t)a), *tk = gn_plan_task(p, (uint32_t)k);
    /* in-order streams: an earlier compute of the same device */
    if (ta->kind == GN_TASK_COMPUTE && tk->kind == GN_TASK_COMPUTE && ta->device == tk->device && a < k)
        return 1;
    return is_ancestor(p, a, k, seen);
}

/* Marks tensor T (and the views of it) available on D by task K. */
static void make_avail(where *w, const gn_graph *g, uint32_t st, uint32_t t, uint32_t d, int32_t k)
{
    int32_t *a = avail(w, st, t, d);
    if (*a != -2)
        return;
    *a = k;
    const gn_tensor *x = gn_graph_tensor(g, t);
    if (x->storage >= 0 && w->sat) {
        size_t c = (size_t)x->storage * w->ndev + d;
        int32_t ver = x->producer >= 0 ? (int32_t)st : w->latest[x->storage];
        if (x->kind == GN_KIND_STATE && x->producer >= 0 && ver > w->latest[x->storage])
            w->latest[x->storage] = ver;
        if (w->sat[c] == -2 || ver >= w->sver[c]) {
            w->sat[c] = k;
            w->sver[c] = ver;
        }
    }
    uint32_t nc;
    const uint32_t *cons = gn_graph_consumers(g, t, &nc);
    for (uint32_t i = 0; i < nc; i++)
        if (!gn_cost_launches(g, cons[i])) {
            const uint32_t *out = gn_graph_node_outputs(g, cons[i]);
            for (uint32_t o = 0; o < gn_graph_node(g, cons[i])->nout; o++)
                make_avail(w, g, st, out[o], d, k);
        }
}

static void check_plan(const char *what, const gn_session *s, const gn_plan *p)
{
    uint32_t nst = gn_session_nsteps(s), nd = gn_plan_ndevices(p), n = gn_plan_ntasks(p);
    uint32_t nsto = gn_strtab_count(gn_session_storages(s));
    where w = {calloc(nst, sizeof(int32_t *)), nd, malloc(((size_t)nsto * nd + 1) * sizeof(int32_t)),
               malloc(((size_t)nsto * nd + 1) * sizeof(int32_t)), malloc((nsto + 1) * sizeof(int32_t))};
    for (size_t i = 0; i < (size_t)nsto * nd; i++) {
        w.sat[i] = -2;
        w.sver[i] = -1;
    }
    for (uint32_t i = 0; i < nsto; i++)
        w.latest[i] = -1;
    unsigned char **computed = calloc(nst, sizeof(*computed));
    unsigned char *seen = calloc(n + 1, 1);
    for (uint32_t st = 0; st < nst; st++) {
        const gn_graph *g = gn_session_step(s, st);
        size_t cells = (size_t)gn_graph_ntensors(g) * nd;
        w.at[st] = malloc(cells * sizeof(int32_t) + 1);
        for (size_t i = 0; i < cells; i++)
            w.at[st][i] = -2;
        computed[st] = calloc(gn_graph_nnodes(g) + 1, 1);
    }
    /* names: client is device 0 and machine -1 */
    assert_string_equal(gn_plan_device(p, 0)->name, "client");
    for (uint32_t d = 0; d < nd; d++) {
        const gn_device *dv = gn_plan_device(p, d);
        char want[64];
        if (dv->machine < 0)
            snprintf(want, sizeof(want), dv->is_gpu ? "client.gpu0" : "client");
        else if (dv->is_gpu)
            snprintf(want, sizeof(want), "node%d.gpu%s", dv->machine, strrchr(dv->name, 'u') + 1);
        else
            snprintf(want, sizeof(want), "node%d", dv->machine);
        if (strcmp(want, dv->name) != 0)
            fail_msg("%s: device %u \"%s\" does not follow the naming of machine %d", what, d, dv->name,
                     dv->machine);
    }
    for (uint32_t k = 0; k < n; k++) {
        const gn_task *t = gn_plan_task(p, k);
        if (t->step >= nst)
            fail_msg("%s: task %u in step %u of %u", what, k, t->step, nst);
        const gn_graph *g = gn_session_step(s, t->step);
        if (t->kind == GN_TASK_COMPUTE) {
            if (t->node < 0 || (uint32_t)t->node >= gn_graph_nnodes(g) || !gn_cost_launches(g, (uint32_t)t->node))
                fail_msg("%s: compute task %u (%s) names no launched node (%d)", what, k, t->label, t->node);
            const gn_node *nd0 = gn_graph_node(g, (uint32_t)t->node);
            const uint32_t *in = gn_graph_node_inputs(g, (uint32_t)t->node);
            for (uint32_t i = 0; i < nd0->nin; i++)
                if (!usable(p, &w, s, t->step, in[i], t->device, (int32_t)k, seen))
                    fail_msg("%s: task %u (%s, step %u) on %s reads tensor %u (%s) that is not there",
                             what, k, t->label, t->step, gn_plan_device(p, (uint32_t)t->device)->name, in[i],
                             gn_graph_tensor(g, in[i])->name ? gn_graph_tensor(g, in[i])->name : "?");
            const uint32_t *out = gn_graph_node_outputs(g, (uint32_t)t->node);
            for (uint32_t o = 0; o < nd0->nout; o++)
                make_avail(&w, g, t->step, out[o], (uint32_t)t->device, (int32_t)k);
            computed[t->step][t->node] = 1;
        } else {
            const gn_item *it = gn_plan_items(p, k);
            double ib = 0;
            for (uint32_t i = 0; i < t->nitems; i++) {
                if (it[i].step >= nst || it[i].tensor >= gn_graph_ntensors(gn_session_step(s, it[i].step)))
                    fail_msg("%s: transfer %u (%s) carries a tensor that does not exist", what, k, t->label);
                const gn_graph *gi = gn_session_step(s, it[i].step);
                ib += (double)gn_graph_tensor(gi, it[i].tensor)->bytes;
                if (!usable(p, &w, s, it[i].step, it[i].tensor, t->device, (int32_t)k, seen))
                    fail_msg("%s: transfer %u (%s) %s -> %s carries tensor %u of step %u that is not on its source",
                             what, k, t->label, gn_plan_device(p, (uint32_t)t->device)->name,
                             gn_plan_device(p, (uint32_t)t->dst)->name, it[i].tensor, it[i].step);
            }
            if (ib > t->bytes + 0.5)
                fail_msg("%s: transfer %u (%s) carries %.0f bytes of items in %.0f bytes", what, k, t->label, ib,
                         t->bytes);
            for (uint32_t i = 0; i < t->nitems; i++)
                make_avail(&w, gn_session_step(s, it[i].step), it[i].step, it[i].tensor, (uint32_t)t->dst,
                           (int32_t)k);
        }
    }
    for (uint32_t st = 0; st < nst; st++) {
        const gn_graph *g = gn_session_step(s, st);
        for (uint32_t id = 0; id < gn_graph_nnodes(g); id++)
            if (gn_cost_launches(g, id) && !computed[st][id])
                fail_msg("%s: node %u of step %u (%s) is never computed", what, id, st,
                         gn_op_name(gn_graph_node(g, id)->op));
        for (uint32_t r = 0; r < gn_graph_nreads(g); r++) {
            uint32_t t = gn_graph_read(g, r)->tensor;
            if (*avail(&w, st, t, 0) == -2 && gn_graph_tensor(g, t)->kind != GN_KIND_INPUT)
                fail_msg("%s: step %u reads tensor %u, which never reaches the client", what, st, t);
        }
        free(w.at[st]);
        free(computed[st]);
    }
    free(w.at);
    free(w.sat);
    free(w.sver);
    free(w.latest);
    free(computed);
    free(seen);
}

/* ========================== workloads and platforms ========================== */

static const char *const workloads[] = {
    "{\"family\": \"llm\", \"model\": \"tiny-gpt2\", \"prompt\": 8, \"decode\": 3}",
    "{\"family\": \"llm\", \"model\": \"tiny-llama\", \"prompt\": 8, \"decode\": 3}",
    "{\"family\": \"vision\", \"model\": \"tiny-resnet\", \"requests\": 2}",
    "{\"family\": \"vision\", \"model\": \"tiny-detector\", \"requests\": 2}",
    "{\"family\": \"recsys\", \"model\": \"tiny-dlrm\", \"requests\": 2}",
    "{\"family\": \"vqa\", \"model\": \"tiny-vqa\", \"requests\": 2}",
    "{\"family\": \"trace\", \"path\": \"good_tiny.json\", \"name\": \"tiny-trace\"}",
    "{\"family\": \"trace\", \"path\": \"mamba_tiny.json\", \"name\": \"mamba\"}",
    NULL,
};

static gn_session *build(const char *text, char *label, size_t len)
{
    json_error_t je;
    json_t *obj = json_loads(text, 0, &je);
    assert_non_null(obj);
    const char *dir = getenv("GN_TEST_DATA");
    char file[1024];
    snprintf(file, sizeof(file), "%s/experiment.json", dir ? dir : ".");
    gn_error err;
    gn_session *s = gn_workload_build(obj, file, "$.workloads[0]", label, len, &err);
    json_decref(obj);
    if (!s)
        fail_msg("%s: %s", text, err.msg);
    return s;
}

typedef struct pf_case {
    const char *name;
    uint32_t nodes, gpus;
    double mem_bytes; /* 0: the preset's */
} pf_case;

static const pf_case platforms[] = {
    {"1x1", 1, 1, 0},
    {"1x2", 1, 2, 0},
    {"2x2", 2, 2, 0},
    {"3x1", 3, 1, 0},
    {"2x2-small-gpus", 2, 2, 40e3}, /* tiny tables do not fit one GPU */
};

static void test_every_plan_is_executable(void **state)
{
    const char *const genie_opts[] = {
        NULL,
        "{\"disable\": [\"batching\"]}",
        "{\"disable\": [\"kv_colocation\", \"weight_residency\"]}",
        "{\"disable\": [\"vision_pipeline\", \"embedding_sharding\", \"encoder_parallel\", \"recompute\"]}",
        "{\"recompute_bias\": 0.001}",
    };
    uint32_t nplans = 0;
    for (int w = 0; workloads[w]; w++) {
        char label[64];
        gn_session *s = build(workloads[w], label, sizeof(label));
        for (size_t pi = 0; pi < sizeof(platforms) / sizeof(platforms[0]); pi++) {
            gn_platform pf;
            gn_platform_default(&pf);
            pf.nodes = platforms[pi].nodes;
            pf.gpus_per_node = platforms[pi].gpus;
            if (platforms[pi].mem_bytes > 0)
                pf.gpu.mem_bytes = platforms[pi].mem_bytes;
            for (int warm = 0; warm < 2; warm++)
                for (const gn_strategy_ops *const *ops = gn_strategy_all(); *ops; ops++) {
                    size_t nopt = strcmp((*ops)->name, "genie") == 0 ? sizeof(genie_opts) / sizeof(genie_opts[0]) : 1;
                    for (size_t o = 0; o < nopt; o++) {
                        json_t *opt = genie_opts[o] && o ? json_loads(genie_opts[o], 0, NULL) : NULL;
                        gn_plan_input in = {.session = s, .platform = &pf, .weights_resident = warm, .options = opt};
                        gn_plan *p = NULL;
                        gn_error err;
                        gn_error_clear(&err);
                        char what[256];
                        snprintf(what, sizeof(what), "%s / %s%s%s / %s / %s", label, (*ops)->name,
                                 opt ? " " : "", opt ? genie_opts[o] : "", platforms[pi].name,
                                 warm ? "warm" : "cold");
                        int rc = (*ops)->plan(&in, &p, &err);
                        json_decref(opt);
                        /* the baselines need everything on one GPU; genie
                         * shards only embedding tables */
                        int must = strcmp((*ops)->name, "genie") == 0 && strstr(workloads[w], "dlrm");
                        if (rc == GN_EUNSUPPORTED && platforms[pi].mem_bytes > 0 && !must)
                            continue;
                        if (rc < 0)
                            fail_msg("%s: %s", what, err.msg);
                        check_plan(what, s, p);
                        gn_plan_destroy(p);
                        nplans++;
                    }
                }
        }
        gn_session_destroy(s);
    }
    assert_true(nplans > 100);
    (void)state;
}

/* The checker itself catches a plan that forgets an item. */
static void test_checker_catches_missing_item(void **state)
{
    char label[64];
    gn_session *s = build(workloads[2], label, sizeof(label));
    const gn_graph *g = gn_session_step(s, 0);
    gn_plan *p = gn_plan_create("broken");
    gn_plan_add_device(p, "client", 0, -1);
    gn_plan_add_device(p, "node0", 0, 0);
    /* the first launched node, computed on node0 with nothing delivered */
    uint32_t id = 0;
    while (!gn_cost_launches(g, id))
        id++;
    gn_plan_add_compute(p, 0, 1, -1, 0, 1e-6, 0, 0, (int32_t)id, "x", NULL, 0);
    /* run the check in a child-free way: expect_assert is not available
     * for fail_msg, so test the predicate directly */
    where w = {calloc(1, sizeof(int32_t *)), 2, NULL, NULL, NULL};
    size_t cells = (size_t)gn_graph_ntensors(g) * 2;
    w.at[0] = malloc(cells * sizeof(int32_t));
    for (size_t i = 0; i < cells; i++)
        w.at[0][i] = -2;
    unsigned char seen[4];
    const uint32_t *in = gn_graph_node_inputs(g, id);
    int all = 1;
    for (uint32_t i = 0; i < gn_graph_node(g, id)->nin; i++)
        all &= usable(p, &w, s, 0, in[i], 1, 0, seen);
    assert_false(all);
    free(w.at[0]);
    free(w.at);
    gn_plan_destroy(p);
    gn_session_destroy(s);
    (void)state;
}

/* ========================== recompute vs transfer ========================== */

#define GN_TEST_DEPTH 6 /* as RECOMPUTE_DEPTH in model/strategy_genie.c */

static uint64_t rng = 88172645463325252ull;
static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/*
 * Small random DAGs (2-3 leaves, 4-10 ops of one or two inputs), random
 * transfer and recompute costs, one to three tensors needed: the
 * chooser's decision against the optimum over every subset of nodes to
 * recompute.  The bar: within 20% of the optimum (see the
 * measured figures at the assertion).
 */
static void test_recompute_near_optimum(void **state)
{
    int cases = 400, within = 0, exact = 0;
    double worst = 1, sum = 0;
    for (int c = 0; c < cases; c++) {
        gn_session *s = gn_session_create("rvt");
        gn_graph *g = gn_session_add_step(s, GN_PHASE_FORWARD, "rvt");
        const int64_t shape[] = {4};
        uint32_t nleaf = 2 + (uint32_t)(urand() * 2), nops = 4 + (uint32_t)(urand() * 7);
        for (uint32_t i = 0; i < nleaf; i++)
            gn_graph_add_tensor(g, NULL, GN_DTYPE_F32, GN_KIND_INPUT, 1, shape, NULL);
        for (uint32_t k = 0; k < nops; k++) {
            uint32_t avail = nleaf + k;
            uint32_t in[2] = {(uint32_t)(urand() * avail), (uint32_t)(urand() * avail)};
            uint32_t nin = urand() < 0.5 || in[0] == in[1] ? 1 : 2;
            uint32_t out = (uint32_t)gn_graph_add_tensor(g, NULL, GN_DTYPE_F32, GN_KIND_ACTIVATION, 1, shape, NULL);
            assert_int_equal(gn_graph_add_node(g, GN_OP_ELEMENTWISE, in, nin, &out, 1, 16, 32, NULL, NULL), (int)k);
        }
        gn_error err;
        assert_int_equal(gn_session_finalize(s, &err), 0);
        uint32_t nt = gn_graph_ntensors(g), nn = gn_graph_nnodes(g);
        double xs[32], rs[32];
        unsigned char have[32], mine[32], sub[32];
        for (uint32_t t = 0; t < nt; t++) {
            xs[t] = 1 + 9 * urand();
            have[t] = t < nleaf && urand() < 0.5;
        }
        for (uint32_t k = 0; k < nn; k++)
            rs[k] = urand() < 0.1 ? INFINITY : 0.5 + 7.5 * urand();
        uint32_t need[3], nneed = 1 + (uint32_t)(urand() * 3);
        for (uint32_t i = 0; i < nneed; i++)
            need[i] = nt - 1 - (uint32_t)(urand() * (nops < 4 ? nops : 4));
        double got = gn_cost_recompute_choose(g, xs, rs, have, need, nneed, GN_TEST_DEPTH, mine);
        double best = INFINITY;
        for (uint32_t m = 0; m < (1u << nn); m++) {
            for (uint32_t k = 0; k < nn; k++)
                sub[k] = (m >> k) & 1;
            double v = gn_cost_recompute_eval(g, xs, rs, have, need, nneed, sub);
            best = v < best ? v : best;
        }
        assert_true(isfinite(best));
        assert_true(got >= best - 1e-9);
        double ratio = got / best;
        within += ratio <= 1.2 + 1e-9;
        exact += ratio <= 1 + 1e-9;
        worst = ratio > worst ? ratio : worst;
        sum += ratio;
        gn_session_destroy(s);
    }
    print_message("recompute vs transfer: %d graphs, %d optimal, %d within 20%%, mean ratio %.4f, worst %.3f\n",
                  cases, exact, within, sum / cases, worst);
    /* measured (fixed seed): 398 of 400 optimal, 399 within 20%, the
     * worst 21% over; the bar checked is 99% within 20% and none over 25% */
    assert_true(within * 100 >= cases * 99);
    assert_true(worst <= 1.25);
    (void)state;
}

/* An unknown architecture (a state-space block) plans on one GPU with a
 * warning, and the plan is executable. */
static void collect(void *ctx, const char *msg)
{
    int *n = ctx;
    (void)msg;
    (*n)++;
}

static void test_low_confidence_warns(void **state)
{
    char label[64];
    gn_session *s = build(workloads[7], label, sizeof(label));
    gn_platform pf;
    gn_platform_default(&pf);
    pf.nodes = 2;
    pf.gpus_per_node = 2;
    int warnings = 0;
    gn_plan_input in = {.session = s, .platform = &pf, .weights_resident = 1, .warn = collect, .warn_ctx = &warnings};
    gn_plan *p;
    gn_error err;
    assert_int_equal(gn_strategy_plan("genie", &in, &p, &err), 0);
    assert_true(warnings > 0);
    check_plan("mamba / genie / warned", s, p);
    gn_plan_destroy(p);
    gn_session_destroy(s);
    (void)state;
}

/* A sparse-lookup region the analysis is unsure of: genie keeps the
 * tables on one GPU, says so, and the plan stays executable. */
static int unsure_lookups(const gn_session *s, uint32_t st, const gn_graph *g,
                          gn_propose_fn propose, void *ctx, gn_error *err);
static const gn_pattern_ops unsure = {GN_PATTERN_VERSION, "unsure", "embedding bags, unsure", unsure_lookups};
static int unsure_lookups(const gn_session *s, uint32_t st, const gn_graph *g,
                          gn_propose_fn propose, void *ctx, gn_error *err)
{
    for (uint32_t id = 0; id < gn_graph_nnodes(g); id++)
        if (gn_graph_node(g, id)->op == GN_OP_EMBEDDING_BAG)
            propose(ctx, id, GN_ROLE_SPARSE_LOOKUP, 0.4f, &unsure);
    (void)s, (void)st, (void)err;
    return 0;
}

typedef struct seen_warnings {
    int region;  /* the sparse-lookup fallback was reported */
} seen_warnings;

static void note(void *ctx, const char *msg)
{
    seen_warnings *w = ctx;
    w->region |= strstr(msg, "sparse-lookup region") && strstr(msg, "tables stay on one GPU");
}

static void test_low_confidence_region_falls_back(void **state)
{
    char label[64];
    gn_session *s = build(workloads[4], label, sizeof(label)); /* tiny-dlrm */
    /* the built-ins but "ops" (which knows embedding bags for sure) */
    const gn_pattern_ops *const *b = gn_patterns_builtin();
    const gn_pattern_ops *list[16];
    int n = 0;
    for (int i = 0; b[i]; i++)
        if (strcmp(b[i]->name, "ops") != 0)
            list[n++] = b[i];
    list[n++] = &unsure;
    list[n] = NULL;
    gn_error err;
    gn_analysis *a = gn_analysis_run(s, list, &err);
    assert_non_null(a);
    gn_platform pf;
    gn_platform_default(&pf);
    pf.nodes = 2;
    pf.gpus_per_node = 2;
    seen_warnings w = {0};
    gn_plan_input in = {.session = s, .platform = &pf, .weights_resident = 1, .analysis = a,
                        .warn = note, .warn_ctx = &w};
    gn_plan *p;
    assert_int_equal(gn_strategy_plan("genie", &in, &p, &err), 0);
    assert_true(w.region);
    check_plan("tiny-dlrm / genie / unsure lookups", s, p);
    for (uint32_t k = 0; k < gn_plan_ntasks(p); k++) /* everything on the first GPU */
        if (gn_plan_task(p, k)->kind == GN_TASK_COMPUTE)
            assert_string_equal(gn_plan_device(p, (uint32_t)gn_plan_task(p, k)->device)->name, "node0.gpu0");
    gn_plan_destroy(p);
    gn_analysis_destroy(a);
    gn_session_destroy(s);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_low_confidence_region_falls_back),
        cmocka_unit_test(test_recompute_near_optimum),
        cmocka_unit_test(test_low_confidence_warns),
        cmocka_unit_test(test_checker_catches_missing_item),
        cmocka_unit_test(test_every_plan_is_executable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
