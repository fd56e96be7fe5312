/*
 * genie-trace — writes generated SRG traces and checks trace files.
 *
 *   genie-trace gen MODEL [--batch B] [--prompt P] [--decode D] [--dtype T] -o FILE
 *   genie-trace check FILE...
 *   genie-trace exec FILE...
 *
 * `check` validates each file (the same loader genie-sim uses) and prints a
 * one-line summary: steps, nodes, parameters, FLOPs.  `exec` says which
 * nodes the CPU executor would refuse (real/opcheck.c's checks: op, fn,
 * attrs, dtypes, shapes; index values are only known at run time),
 * grouped by reason.  Exit status: 0 ok (exec: every node runs), 1 (exec)
 * some node does not, 2 bad input (an invalid trace, unknown model, bad
 * option).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "opcheck.h"
#include "trace.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: genie-trace gen MODEL [--batch B] [--prompt P] [--decode D] [--dtype f32|f16|bf16] -o FILE\n"
               "       genie-trace check FILE...\n"
               "       genie-trace exec FILE...\n"
               "\n"
               "gen writes the SRG trace (traces/SCHEMA.md) of an LLM session: MODEL is\n"
               "gpt2-small, gpt2-medium, gpt2-large, llama-2-7b, llama-2-13b, llama-3-8b,\n"
               "tiny-gpt2 or tiny-llama.  check validates trace files and summarises them.\n"
               "exec lists the nodes the CPU executor would refuse, by reason (exit 1 if any).\n");
}

static void summary(const char *name, const gn_session *s)
{
    uint32_t nodes = 0;
    for (uint32_t i = 0; i < gn_session_nsteps(s); i++)
        nodes += gn_graph_nnodes(gn_session_step(s, i));
    printf("%s: ok: \"%s\", %u steps, %u nodes, %llu parameters (%llu bytes), %.6g FLOPs\n", name,
           gn_session_name(s), gn_session_nsteps(s), nodes,
           (unsigned long long)gn_session_param_count(s), (unsigned long long)gn_session_param_bytes(s),
           gn_session_total_flops(s));
}

/* ========================== exec ========================== */

/* One reason nodes are refused: "OP: what", how many, the first node. */
typedef struct reason {
    char text[448];
    unsigned count;
    uint32_t step, node; /* the first such node */
} reason;

/* Index values for the checks: zeros (the range checks run at run time). */
static int zero_ids(void *arg, uint32_t k, const void **host)
{
    *host = arg;
    return 0;
}

/* Prints which nodes of S the CPU executor refuses; 0 none, 1 some, 2 out of memory. */
static int exec_check(const char *name, const gn_session *s)
{
    unsigned total = 0, bad = 0, nr = 0, cap = 0;
    reason *rs = NULL;
    uint64_t zbytes = 0;
    for (uint32_t st = 0; st < gn_session_nsteps(s); st++) {
        const gn_graph *g = gn_session_step(s, st);
        for (uint32_t t = 0; t < gn_graph_ntensors(g); t++)
            if (gn_graph_tensor(g, t)->bytes > zbytes)
                zbytes = gn_graph_tensor(g, t)->bytes;
    }
    void *zeros = calloc(1, (size_t)zbytes + 8);
    if (!zeros)
        return 2;
    for (uint32_t st = 0; st < gn_session_nsteps(s); st++) {
        const gn_graph *g = gn_session_step(s, st);
        for (uint32_t i = 0; i < gn_graph_nnodes(g); i++, total++) {
            gn_opdesc d;
            gn_error err;
            if (gn_opcheck_node(g, i, "CPU", GN_OPCHECK_ALL, zero_ids, zeros, &d, &err) == 0)
                continue;
            bad++;
            const char *what = strstr(err.msg, "): ");
            char text[448];
            snprintf(text, sizeof(text), "%s: %s", gn_op_name(gn_graph_node(g, i)->op), what ? what + 3 : err.msg);
            unsigned r = 0;
            while (r < nr && strcmp(rs[r].text, text) != 0)
                r++;
            if (r == nr) {
                if (nr == cap) {
                    reason *p = realloc(rs, (cap = cap ? 2 * cap : 16) * sizeof(*rs));
                    if (!p) {
                        free(rs);
                        free(zeros);
                        return 2;
                    }
                    rs = p;
                }
                rs[nr] = (reason){.count = 0, .step = st, .node = i};
                snprintf(rs[nr].text, sizeof(rs[nr].text), "%s", text);
                nr++;
            }
            rs[r].count++;
        }
    }
    printf("%s: %u of %u nodes the CPU executor cannot run\n", name, bad, total);
    for (unsigned r = 0; r < nr; r++)
        printf("%6u  %s  (first: steps[%u].nodes[%u])\n", rs[r].count, rs[r].text, rs[r].step, rs[r].node);
    free(rs);
    free(zeros);
    return bad ? 1 : 0;
}

static int parse_count(const char *opt, const char *arg, uint32_t *out)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || v < 0 || v > (1L << 24)) {
        fprintf(stderr, "genie-trace: %s: expected a count, got \"%s\"\n", opt, arg);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int gen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"batch", required_argument, NULL, 'b'}, {"prompt", required_argument, NULL, 'p'},
        {"decode", required_argument, NULL, 'd'}, {"dtype", required_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'}, {NULL, 0, NULL, 0}};
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    gn_llm_config c;
    if (gn_llm_preset(argv[1], &c) < 0) {
        fprintf(stderr, "genie-trace: unknown model \"%s\" (try --help)\n", argv[1]);
        return 2;
    }
    const char *out = NULL;
    int opt;
    optind = 2;
    while ((opt = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
        int bad = 0;
        switch (opt) {
        case 'b': bad = parse_count("--batch", optarg, &c.batch) < 0 || c.batch == 0; break;
        case 'p': bad = parse_count("--prompt", optarg, &c.prompt) < 0 || c.prompt == 0; break;
        case 'd': bad = parse_count("--decode", optarg, &c.decode) < 0; break;
        case 't':
            bad = gn_dtype_parse(optarg, &c.dtype) < 0;
            if (bad)
                fprintf(stderr, "genie-trace: --dtype: expected f32, f16 or bf16\n");
            break;
        case 'o': out = optarg; break;
        default: bad = 1;
        }
        if (bad)
            return 2;
    }
    if (!out) {
        fprintf(stderr, "genie-trace: gen needs -o FILE\n");
        return 2;
    }
    gn_error err;
    gn_session *s = gn_llm_generate(&c, &err);
    if (!s) {
        fprintf(stderr, "genie-trace: %s\n", err.msg);
        return 2;
    }
    int rc = gn_trace_save(s, out, 1, &err);
    if (rc < 0)
        fprintf(stderr, "genie-trace: %s\n", err.msg);
    else
        summary(out, s);
    gn_session_destroy(s);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "gen") == 0)
        return gen(argc - 1, argv + 1);
    if (strcmp(argv[1], "check") == 0) {
        int rc = argc > 2 ? 0 : 2;
        for (int i = 2; i < argc; i++) {
            gn_error err;
            gn_session *s = gn_trace_load(argv[i], &err);
            if (!s) {
                fprintf(stderr, "genie-trace: %s\n", err.msg);
                rc = 2;
                continue;
            }
            summary(argv[i], s);
            gn_session_destroy(s);
        }
        if (argc == 2)
            fprintf(stderr, "genie-trace: check needs at least one FILE\n");
        return rc;
    }
    if (strcmp(argv[1], "exec") == 0) {
        int rc = argc > 2 ? 0 : 2;
        for (int i = 2; i < argc; i++) {
            gn_error err;
            gn_session *s = gn_trace_load(argv[i], &err);
            if (!s) {
                fprintf(stderr, "genie-trace: %s\n", err.msg);
                rc = 2;
                continue;
            }
            int r = exec_check(argv[i], s);
            if (r == 2)
                fprintf(stderr, "genie-trace: %s: out of memory\n", argv[i]);
            rc = r > rc ? r : rc;
            gn_session_destroy(s);
        }
        if (argc == 2)
            fprintf(stderr, "genie-trace: exec needs at least one FILE\n");
        return rc;
    }
    fprintf(stderr, "genie-trace: unknown command \"%s\" (expected gen, check or exec; try --help)\n", argv[1]);
    return 2;
}
