/*
 * genie-trace — writes generated SRG traces and checks trace files.
 *
 *   genie-trace gen MODEL [--batch B] [--prompt P] [--decode D] [--dtype T] -o FILE
 *   genie-trace check FILE...
 *   genie-trace exec FILE...
 *   genie-trace run FILE [--seed N] -o DIR
 *
 * `check` validates each file (the same loader genie-sim uses) and prints a
 * one-line summary: steps, nodes, parameters, FLOPs.  `exec` says which
 * nodes the CPU executor would refuse (real/opcheck.c's checks: op, fn,
 * attrs, dtypes, shapes; index values are only known at run time),
 * grouped by reason.  `run` runs the whole session on the CPU executor
 * exactly as genie-real's local reference does (weights and inputs from
 * the seed, real/feed.h; scale 0.25) and writes every step's inputs and
 * outputs, and the params of step 0 (the values the runner seeded), as raw
 * bytes, DIR/s<step>_t<tensor>.bin, with DIR/index.json
 * naming them, so another program (torch) can compute the same session
 * from the same values.  Exit status: 0 ok (exec: every node runs), 1 (exec)
 * some node does not, 2 bad input (an invalid trace, unknown model, bad
 * option).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "executor.h"
#include "feed.h"
#include "llm.h"
#include "opcheck.h"
#include "runner.h"
#include "trace.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: genie-trace gen MODEL [--batch B] [--prompt P] [--decode D] [--dtype f32|f16|bf16] -o FILE\n"
               "       genie-trace check FILE...\n"
               "       genie-trace exec FILE...\n"
               "       genie-trace run FILE [--seed N] -o DIR\n"
               "\n"
               "gen writes the SRG trace (traces/SCHEMA.md) of an LLM session: MODEL is\n"
               "gpt2-small, gpt2-medium, gpt2-large, llama-2-7b, llama-2-13b, llama-3-8b,\n"
               "tiny-gpt2 or tiny-llama.  check validates trace files and summarises them.\n"
               "exec lists the nodes the CPU executor would refuse, by reason (exit 1 if any).\n"
               "run runs the session on the CPU executor as genie-real's local reference does\n"
               "(seed N, default 5) and writes each step's inputs, outputs and the params to DIR\n"
               "(index.json, s<S>_t<T>.bin).\n");
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

/* ========================== run ========================== */

/* genie-real's weight scale (real/genie_real.c SCALE). */
#define RUN_SCALE 0.25f

/* Runs S as genie-real's reference does and writes its outputs to DIR; 0, or 2 with a message. */
static int run_session(const char *name, const gn_session *s, uint64_t seed, const char *dir)
{
    gn_error err = {0};
    gn_runner *r = gn_runner_create(gn_executor_cpu(), s, seed, RUN_SCALE, &err);
    if (!r) {
        fprintf(stderr, "genie-trace: %s: %s\n", name, err.msg);
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/index.json", dir);
    FILE *idx = fopen(path, "w");
    if (!idx) {
        fprintf(stderr, "genie-trace: cannot write %s (does the directory exist?)\n", path);
        gn_runner_destroy(r);
        return 2;
    }
    fprintf(idx, "{\"trace\": \"%s\", \"seed\": %llu, \"scale\": %g, \"tensors\": [", name,
            (unsigned long long)seed, (double)RUN_SCALE);
    int rc = 0, first = 1;
    for (uint32_t st = 0; rc == 0 && st < gn_session_nsteps(s); st++) {
        const gn_graph *g = gn_session_step(s, st);
        rc = gn_feed_step(r, st, seed, &err);
        if (rc == 0)
            rc = gn_runner_run_step(r, st, &err);
        for (uint32_t t = 0; rc == 0 && t < gn_graph_ntensors(g); t++) {
            const gn_tensor *x = gn_graph_tensor(g, t);
            if (x->kind != GN_KIND_OUTPUT && x->kind != GN_KIND_INPUT && (x->kind != GN_KIND_PARAM || st > 0))
                continue;
            void *buf = malloc(x->bytes ? x->bytes : 1);
            if (!buf) {
                rc = gn_error_set(&err, GN_ENOMEM, "out of memory");
                break;
            }
            rc = gn_runner_read(r, st, t, buf, (size_t)x->bytes, &err);
            snprintf(path, sizeof(path), "%s/s%u_t%u.bin", dir, st, t);
            FILE *f = rc == 0 ? fopen(path, "wb") : NULL;
            if (rc == 0 && (!f || fwrite(buf, 1, (size_t)x->bytes, f) != x->bytes))
                rc = gn_error_set(&err, GN_EIO, "cannot write %s", path);
            if (f && fclose(f) != 0 && rc == 0)
                rc = gn_error_set(&err, GN_EIO, "cannot write %s", path);
            free(buf);
            if (rc == 0) {
                fprintf(idx, "%s\n {\"step\": %u, \"tensor\": %u, \"kind\": \"%s\", \"dtype\": \"%s\", ",
                        first ? "" : ",", st, t, gn_kind_name(x->kind), gn_dtype_name(x->dtype));
                if (x->kind == GN_KIND_PARAM)
                    fprintf(idx, "\"storage\": \"%s\", ", gn_graph_storage_name(g, x->storage));
                fprintf(idx, "\"shape\": [");
                for (uint32_t d = 0; d < x->ndim; d++)
                    fprintf(idx, "%s%lld", d ? ", " : "", (long long)x->shape[d]);
                fprintf(idx, "], \"file\": \"s%u_t%u.bin\"}", st, t);
                first = 0;
            }
        }
    }
    fprintf(idx, "\n]}\n");
    if (fclose(idx) != 0 && rc == 0)
        rc = gn_error_set(&err, GN_EIO, "cannot write %s/index.json", dir);
    gn_runner_destroy(r);
    if (rc < 0) {
        fprintf(stderr, "genie-trace: %s: %s\n", name, err.msg);
        return 2;
    }
    return 0;
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
    if (strcmp(argv[1], "check") == 0 || strcmp(argv[1], "exec") == 0) {
        int exec = strcmp(argv[1], "exec") == 0, rc = argc > 2 ? 0 : 2;
        for (int i = 2; i < argc; i++) {
            gn_error err;
            gn_session *s = gn_trace_load(argv[i], &err);
            if (!s) {
                fprintf(stderr, "genie-trace: %s\n", err.msg);
                rc = 2;
                continue;
            }
            if (exec) {
                int r = exec_check(argv[i], s);
                if (r == 2)
                    fprintf(stderr, "genie-trace: %s: out of memory\n", argv[i]);
                rc = r > rc ? r : rc;
            } else
                summary(argv[i], s);
            gn_session_destroy(s);
        }
        if (argc == 2)
            fprintf(stderr, "genie-trace: %s needs at least one FILE\n", argv[1]);
        return rc;
    }
    if (strcmp(argv[1], "run") == 0) {
        const char *file = NULL, *dir = NULL;
        uint64_t seed = 5;
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
                dir = argv[++i];
            else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
                char *end;
                seed = strtoull(argv[++i], &end, 10);
                if (*end || !*argv[i]) {
                    fprintf(stderr, "genie-trace: --seed wants a number, got \"%s\"\n", argv[i]);
                    return 2;
                }
            } else if (!file && argv[i][0] != '-')
                file = argv[i];
            else {
                fprintf(stderr, "genie-trace: run: unexpected \"%s\" (usage: run FILE [--seed N] -o DIR)\n", argv[i]);
                return 2;
            }
        }
        if (!file || !dir) {
            fprintf(stderr, "genie-trace: run needs FILE and -o DIR\n");
            return 2;
        }
        gn_error err;
        gn_session *s = gn_trace_load(file, &err);
        if (!s) {
            fprintf(stderr, "genie-trace: %s\n", err.msg);
            return 2;
        }
        int rc = run_session(file, s, seed, dir);
        gn_session_destroy(s);
        return rc;
    }
    fprintf(stderr, "genie-trace: unknown command \"%s\" (expected gen, check, exec or run; try --help)\n", argv[1]);
    return 2;
}
