/*
 * genie-pattern — checks a pattern plugin and scores analysis on labelled
 * traces.
 *
 *   genie-pattern check PLUGIN.so [TRACE.json...]
 *   genie-pattern score [--plugins DIR] TRACE.json...
 *
 * check loads PLUGIN with every admission check (symbol, interface
 * version, self-test in a child) and, given traces, runs the built-in
 * patterns plus the plugin and shows what the plugin claimed.  score
 * compares the analysis with the labels a trace carries in its nodes'
 * hints ("hints": {"role": "attention"}) and prints the accuracy — labels
 * written by hand or by a capture, independent of the analysis.
 * Exit status: 0 ok, 1 the plugin is rejected, 2 bad input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "trace.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: genie-pattern check PLUGIN.so [TRACE.json...]\n"
               "       genie-pattern score [--plugins DIR] TRACE.json...\n"
               "\n"
               "check: admit a pattern plugin (symbol, version, self-test) and show what it\n"
               "claims in the traces.  score: role accuracy of the analysis against the\n"
               "labels in the traces' node hints (\"hints\": {\"role\": ...}).\n");
}

/* Runs analysis on TRACE with PATTERNS; prints claims of pattern ONLY (or
 * scores against hints when ONLY is NULL).  Adds to *RIGHT and *SCORED. */
static int run_trace(const char *trace, const gn_pattern_ops *const *patterns,
                     const char *only, unsigned *right, unsigned *scored)
{
    gn_error err;
    gn_session *s = gn_trace_load(trace, &err);
    if (!s) {
        fprintf(stderr, "genie-pattern: %s\n", err.msg);
        return 2;
    }
    gn_analysis *a = gn_analysis_run(s, patterns, &err);
    if (!a) {
        fprintf(stderr, "genie-pattern: %s\n", err.msg);
        gn_session_destroy(s);
        return 2;
    }
    unsigned claimed = 0;
    for (uint32_t st = 0; st < gn_session_nsteps(s); st++) {
        const gn_graph *g = gn_session_step(s, st);
        for (uint32_t id = 0; id < gn_graph_nnodes(g); id++) {
            const gn_annotation *an = gn_analysis_node(a, st, id);
            const gn_node *n = gn_graph_node(g, id);
            if (only && strcmp(an->pattern, only) == 0) {
                claimed++;
                printf("  %s: steps[%u].nodes[%u] %s -> %s (%.2f)\n", trace, st, id, gn_op_name(n->op),
                       gn_role_name(an->role), an->confidence);
            }
            const char *label = n->hints ? json_string_value(json_object_get(n->hints, "role")) : NULL;
            gn_role want;
            if (!only && label && gn_role_parse(label, &want) == 0) {
                (*scored)++;
                *right += an->role == want;
            }
        }
    }
    if (only)
        printf("%s: pattern %s claimed %u nodes\n", trace, only, claimed);
    for (uint32_t i = 0; i < gn_analysis_nwarnings(a); i++)
        printf("%s: warning: %s\n", trace, gn_analysis_warning(a, i));
    gn_analysis_destroy(a);
    gn_session_destroy(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "check")) {
        if (argc < 3) {
            fprintf(stderr, "genie-pattern: check needs a plugin file\n");
            return 2;
        }
        const gn_pattern_ops *ops;
        void *handle;
        gn_error err;
        if (gn_plugin_open(argv[2], &ops, &handle, &err) < 0) {
            fprintf(stderr, "genie-pattern: rejected: %s\n", err.msg);
            return 1;
        }
        printf("%s: admitted: pattern \"%s\" (interface %d): %s\n", argv[2], ops->name, ops->version,
               ops->matches ? ops->matches : "");
        const gn_pattern_ops *list[32];
        int k = 0;
        for (const gn_pattern_ops *const *b = gn_patterns_builtin(); *b && k < 30; b++)
            list[k++] = *b;
        list[k++] = ops;
        list[k] = NULL;
        int rc = 0;
        for (int i = 3; i < argc; i++) {
            unsigned r = 0, n = 0;
            rc |= run_trace(argv[i], list, ops->name, &r, &n);
        }
        gn_plugin_close(handle);
        return rc;
    }
    if (!strcmp(argv[1], "score")) {
        int i = 2, rc = 0;
        gn_plugins *p = NULL;
        gn_error err;
        if (i + 1 < argc && !strcmp(argv[i], "--plugins")) {
            p = gn_plugins_load(argv[i + 1], &err);
            if (!p) {
                fprintf(stderr, "genie-pattern: %s\n", err.msg);
                return 2;
            }
            for (uint32_t k = 0; k < gn_plugins_nrejected(p); k++)
                fprintf(stderr, "genie-pattern: rejected: %s\n", gn_plugins_rejection(p, k));
            i += 2;
        }
        if (i == argc) {
            fprintf(stderr, "genie-pattern: score needs at least one trace\n");
            gn_plugins_destroy(p);
            return 2;
        }
        unsigned right = 0, scored = 0;
        for (; i < argc; i++)
            rc |= run_trace(argv[i], p ? gn_plugins_patterns(p) : NULL, NULL, &right, &scored);
        if (scored)
            printf("role accuracy: %.1f%% (%u of %u labelled nodes)\n", 100.0 * right / scored, right, scored);
        else
            printf("no labelled nodes (hints.role) in these traces\n");
        gn_plugins_destroy(p);
        return rc;
    }
    fprintf(stderr, "genie-pattern: unknown command \"%s\" (expected check or score; try --help)\n", argv[1]);
    return 2;
}
