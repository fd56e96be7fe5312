/*
 * bench_plan — how long semantic analysis and planning take on a large graph.
 *
 * Builds one-step sessions of about N nodes (a deep GPT-2-style forward,
 * 12 nodes per layer) and times each strategy's planner, median of 7.
 * Prints analysis and one line per strategy; the targets are < 100 ms
 * each for a 10,000-node graph.  Usage: bench_plan [NODES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "llm.h"
#include "semantic.h"
#include "strategy.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int nodes = argc > 1 ? atoi(argv[1]) : 10000;
    gn_llm_config c;
    gn_llm_preset("tiny-gpt2", &c);
    c.layers = (uint32_t)(nodes / 12 + 1); /* 12 nodes per GPT-2 block */
    c.prompt = 32;
    c.decode = 0;
    gn_error err;
    double t0 = now();
    gn_session *s = gn_llm_generate(&c, &err);
    if (!s) {
        fprintf(stderr, "bench_plan: %s\n", err.msg);
        return 1;
    }
    double gen = now() - t0;
    uint32_t n = gn_graph_nnodes(gn_session_step(s, 0));
    printf("graph: %u nodes, %u tensors (generated + finalized in %.1f ms)\n", n,
           gn_graph_ntensors(gn_session_step(s, 0)), gen * 1e3);
    {
        double t[7];
        for (int r = 0; r < 7; r++) {
            double a = now();
            gn_analysis *an = gn_analysis_run(s, NULL, &err);
            t[r] = now() - a;
            if (!an) {
                fprintf(stderr, "bench_plan: analysis: %s\n", err.msg);
                return 1;
            }
            gn_analysis_destroy(an);
        }
        qsort(t, 7, sizeof(t[0]), cmp);
        printf("analysis       %8.2f ms median (min %.2f, max %.2f)\n", t[3] * 1e3, t[0] * 1e3, t[6] * 1e3);
    }
    gn_platform pf;
    gn_platform_default(&pf);
    for (const gn_strategy_ops *const *op = gn_strategy_all(); *op; op++) {
        double t[7];
        uint32_t tasks = 0;
        for (int r = 0; r < 7; r++) {
            gn_plan_input in = {.session = s, .platform = &pf, .weights_resident = 1};
            gn_plan *p;
            double a = now();
            if ((*op)->plan(&in, &p, &err) < 0) {
                fprintf(stderr, "bench_plan: %s: %s\n", (*op)->name, err.msg);
                return 1;
            }
            t[r] = now() - a;
            tasks = gn_plan_ntasks(p);
            gn_plan_destroy(p);
        }
        qsort(t, 7, sizeof(t[0]), cmp);
        printf("plan %-9s %8.2f ms median (min %.2f, max %.2f)  %u tasks\n", (*op)->name, t[3] * 1e3,
               t[0] * 1e3, t[6] * 1e3, tasks);
    }
    gn_session_destroy(s);
    return 0;
}
