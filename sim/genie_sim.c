/*
 * genie-sim — runs an experiment file on the SimGrid backend.
 *
 * init -> load experiment -> build sessions -> for every workload x
 * strategy x sweep point: plan, simulate (one forked process per point,
 * up to -j at once) -> store runs, events and metrics in SQLite -> print
 * the table and draw the plot from the database.
 *
 * Exit status: 0 success; 1 a run or the results store failed; 2 bad
 * input (usage, experiment file, trace, strategy options).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "experiment.h"
#include "metrics.h"
#include "plugin.h"
#include "report.h"
#include "results.h"
#include "semantic.h"
#include "simbackend.h"
#include "strategy.h"
#include "workload.h"

#define DEFAULT_EXPERIMENT "experiments/llm_decode.json"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: genie-sim [options] [EXPERIMENT.json]\n"
            "\n"
            "Simulates every workload x strategy x sweep point of an experiment on\n"
            "SimGrid, stores all events and metrics in SQLite, prints a table and\n"
            "draws a plot.  Without EXPERIMENT, runs " DEFAULT_EXPERIMENT ".\n"
            "\n"
            "options:\n"
            "  -o, --out DIR       where the database and plot go (default: results)\n"
            "      --db FILE       results database (default: DIR/NAME.sqlite)\n"
            "      --plot FILE     plot (default: DIR/NAME.png)\n"
            "      --no-plot       do not draw the plot\n"
            "  -j, --jobs N        simulations at once (default: number of CPUs)\n"
            "      --plugins DIR   load pattern plugins from DIR (*.so) for the semantic\n"
            "                      analysis; DIR is rescanned between sweep points, and\n"
            "                      new or changed plugins apply from the next point on\n"
            "      --pattern-priority A,B,...\n"
            "                      patterns that win conflicting matches, highest first,\n"
            "                      whatever their confidence (default: confidence decides)\n"
            "      --platform F    platform file applied over the experiment's platform\n"
            "                      at every sweep point (e.g. genie-real --calibrate's)\n"
            "  -q, --quiet         no progress, no table\n"
            "  -h, --help          this text\n"
            "\n"
            "Strategies: local, remoting, blind, genie (see model/strategy.h).\n"
            "Exit status: 0 ok, 1 a run or the database failed, 2 bad input.\n");
}

static double now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec + tv.tv_usec * 1e-6;
}


/* Planner warnings (low confidence, fallbacks), each line once. */
typedef struct warnings {
    char *seen[64];
    int n;
    int quiet;
} warnings;

static void print_warning(void *ctx, const char *msg)
{
    warnings *w = ctx;
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->seen[i], msg) == 0)
            return;
    if (w->n < 64)
        w->seen[w->n++] = strdup(msg);
    if (!w->quiet)
        fprintf(stderr, "genie-sim: warning: %s\n", msg);
}

/* One run point and, while it runs, its plan and simulation job. */
typedef struct point {
    uint32_t workload, strategy, sweep;
    gn_plan *plan;
    gn_sim_job *job;
    double t0;
    double x;
    char label[128];
} point;

typedef struct ctx {
    gn_experiment *e;
    gn_plugins *plugins;     /* --plugins, NULL without */
    gn_analysis_opts aopts;  /* --pattern-priority */
    gn_session **sessions;
    gn_analysis **analyses;  /* per workload, shared by every plan of it */
    char (*wlabels)[64];
    double *batch;
    gn_results *db;
    int64_t exp_id;
    int failed;
    int tty, quiet;
    uint32_t done, total;
    double t_start;
} ctx;

static void progress(ctx *c, const point *p)
{
    if (c->quiet)
        return;
    c->done++;
    const char *s = c->e->strategies[p->strategy].label;
    if (c->tty) {
        fprintf(stderr, "\r\033[K[%u/%u] %s %s %s (%.0f s elapsed)", c->done, c->total,
                c->wlabels[p->workload], s, p->label, now() - c->t_start);
        if (c->done == c->total)
            fprintf(stderr, "\n");
    }
}

/* Stores a finished (or failed) point. */
static void store(ctx *c, point *p, const double *start, const double *end,
                  const char *error)
{
    gn_metrics m;
    const gn_exp_strategy *s = &c->e->strategies[p->strategy];
    char *opts = s->options ? json_dumps(s->options, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (!error)
        gn_metrics_compute(p->plan, start, end, c->batch[p->workload], &m);
    gn_run_info info = {c->exp_id, "sim", c->wlabels[p->workload], s->label, opts, p->label, p->x,
                        now() - p->t0, error};
    gn_error err;
    if (gn_results_add_run(c->db, &info, error ? NULL : p->plan, start, end, error ? NULL : &m, &err) < 0) {
        fprintf(stderr, "genie-sim: %s\n", err.msg);
        c->failed = 1;
    }
    if (error) {
        if (c->tty && !c->quiet)
            fprintf(stderr, "\n");
        fprintf(stderr, "genie-sim: %s / %s / %s: %s\n", c->wlabels[p->workload], s->label, p->label, error);
        c->failed = 1;
    }
    free(opts);
    progress(c, p);
}

static void finish_point(ctx *c, point *p, int status)
{
    uint32_t n = gn_plan_ntasks(p->plan);
    double *t = malloc(2 * (size_t)n * sizeof(double) + 1);
    gn_error err;
    gn_error_clear(&err);
    int rc = t ? gn_sim_finish(p->job, status, t, t + n, &err) : GN_ENOMEM;
    p->job = NULL;
    store(c, p, t, t ? t + n : NULL, rc < 0 ? (err.msg[0] ? err.msg : gn_strerror(rc)) : NULL);
    free(t);
    gn_plan_destroy(p->plan);
    p->plan = NULL;
}

/* (Re)runs the semantic analysis of every workload with the current
 * patterns.  0, or -1 after printing why. */
static int analyse_all(ctx *c, uint32_t nw, warnings *w)
{
    const gn_pattern_ops *const *patterns = c->plugins ? gn_plugins_patterns(c->plugins) : NULL;
    for (uint32_t i = 0; c->plugins && i < gn_plugins_nrejected(c->plugins); i++)
        print_warning(w, gn_plugins_rejection(c->plugins, i));
    for (uint32_t k = 0; k < nw; k++) {
        gn_error err;
        gn_analysis *a = gn_analysis_run_opts(c->sessions[k], patterns, &c->aopts, &err);
        if (!a) {
            fprintf(stderr, "genie-sim: %s: %s\n", c->wlabels[k], err.msg);
            return -1;
        }
        gn_analysis_destroy(c->analyses[k]);
        c->analyses[k] = a;
        for (uint32_t i = 0; i < gn_analysis_nwarnings(a); i++)
            print_warning(w, gn_analysis_warning(a, i));
    }
    return 0;
}

/* Splits a comma-separated list into a NULL-terminated array (owned by
 * the caller, one allocation); NULL when out of memory. */
static char **split_list(const char *list)
{
    size_t n = 2;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    size_t len = strlen(list) + 1;
    char **v = malloc(n * sizeof(char *) + len);
    if (!v)
        return NULL;
    char *text = (char *)(v + n);
    memcpy(text, list, len);
    size_t k = 0;
    for (char *tok = strtok(text, ","); tok; tok = strtok(NULL, ","))
        v[k++] = tok;
    v[k] = NULL;
    return v;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'}, {"db", required_argument, NULL, 'd'},
        {"plot", required_argument, NULL, 'p'}, {"no-plot", no_argument, NULL, 'n'},
        {"jobs", required_argument, NULL, 'j'}, {"quiet", no_argument, NULL, 'q'},
        {"plugins", required_argument, NULL, 'L'}, {"pattern-priority", required_argument, NULL, 'R'},
        {"platform", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *outdir = "results", *dbpath = NULL, *plotpath = NULL, *platform_file = NULL, *plugdir = NULL;
    char **priority = NULL;
    int jobs = (int)sysconf(_SC_NPROCESSORS_ONLN), plot = 1, opt;
    ctx c = {0};
    while ((opt = getopt_long(argc, argv, "o:j:qh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o': outdir = optarg; break;
        case 'd': dbpath = optarg; break;
        case 'p': plotpath = optarg; break;
        case 'n': plot = 0; break;
        case 'q': c.quiet = 1; break;
        case 'L': plugdir = optarg; break;
        case 'R':
            free(priority);
            priority = split_list(optarg);
            if (!priority) {
                fprintf(stderr, "genie-sim: out of memory\n");
                return 1;
            }
            break;
        case 'P': platform_file = optarg; break;
        case 'j':
            jobs = atoi(optarg);
            if (jobs < 1) {
                fprintf(stderr, "genie-sim: -j: expected a number of jobs >= 1, got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "genie-sim: expected one experiment file, got %d (try --help)\n", argc - optind);
        return 2;
    }
    if (jobs < 1)
        jobs = 1;
    const char *file = optind < argc ? argv[optind] : DEFAULT_EXPERIMENT;
    gn_error err;
    c.e = gn_experiment_load(file, &err);
    if (!c.e) {
        fprintf(stderr, "genie-sim: %s\n", err.msg);
        return 2;
    }
    json_t *pfdoc = NULL;
    if (platform_file && !(pfdoc = gn_platform_file_load(platform_file, &err))) {
        fprintf(stderr, "genie-sim: %s\n", err.msg);
        return 2;
    }
    c.tty = isatty(STDERR_FILENO);
    c.t_start = now();

    /* sessions: built once, shared by every strategy and point */
    uint32_t nw = (uint32_t)json_array_size(c.e->workloads);
    c.sessions = calloc(nw, sizeof(*c.sessions));
    c.analyses = calloc(nw, sizeof(*c.analyses));
    c.wlabels = calloc(nw, sizeof(*c.wlabels));
    c.batch = calloc(nw, sizeof(*c.batch));
    warnings warned = {{0}, 0, c.quiet};
    if (!c.sessions || !c.analyses || !c.wlabels || !c.batch) {
        fprintf(stderr, "genie-sim: out of memory\n");
        return 1;
    }
    for (uint32_t w = 0; w < nw; w++) {
        char path[48];
        snprintf(path, sizeof(path), "$.workloads[%u]", w);
        c.sessions[w] = gn_workload_build(json_array_get(c.e->workloads, w), file, path, c.wlabels[w],
                                          sizeof(c.wlabels[w]), &err);
        if (!c.sessions[w]) {
            fprintf(stderr, "genie-sim: %s\n", err.msg);
            return 2;
        }
        /* generated workloads say model.batch; captured traces model.config.batch */
        json_t *mdl = gn_session_model(c.sessions[w]), *b = json_object_get(mdl, "batch");
        if (!json_is_integer(b))
            b = json_object_get(json_object_get(mdl, "config"), "batch");
        c.batch[w] = json_is_integer(b) && json_integer_value(b) > 0 ? (double)json_integer_value(b) : 1;
    }
    /* semantic analysis once per workload (again when plugins change);
     * every genie plan reads it */
    c.aopts.priority = (const char *const *)priority;
    if (plugdir) {
        c.plugins = gn_plugins_load(plugdir, &err);
        if (!c.plugins) {
            fprintf(stderr, "genie-sim: --plugins: %s\n", err.msg);
            return 2;
        }
        if (!c.quiet)
            fprintf(stderr, "genie-sim: %u pattern plugin(s) loaded from %s, %u rejected\n",
                    gn_plugins_nloaded(c.plugins), plugdir, gn_plugins_nrejected(c.plugins));
    }
    if (analyse_all(&c, nw, &warned) < 0)
        return 1;
    /* strategy options are checked before anything runs */
    for (uint32_t s = 0; s < c.e->nstrategies; s++) {
        gn_platform pf;
        char label[128];
        double x;
        gn_plan *p;
        gn_experiment_platform(c.e, 0, &pf, label, sizeof(label), &x, &err);
        gn_plan_input in = {.session = c.sessions[0], .platform = &pf, .weights_resident = c.e->weights_resident,
                            .options = c.e->strategies[s].options, .file = file, .path = c.e->strategies[s].path,
                            .analysis = c.analyses[0], .warn = print_warning, .warn_ctx = &warned};
        if (gn_strategy_plan(c.e->strategies[s].strategy, &in, &p, &err) == GN_ESCHEMA) {
            fprintf(stderr, "genie-sim: %s\n", err.msg);
            return 2;
        }
        gn_plan_destroy(p);
    }

    char dbbuf[1024], pngbuf[1024], rev[64], cmd[2048];
    if (!dbpath || (plot && !plotpath)) {
        if (gn_results_mkdir(outdir) < 0) {
            fprintf(stderr, "genie-sim: cannot create %s: %s\n", outdir, strerror(errno));
            return 1;
        }
    }
    snprintf(dbbuf, sizeof(dbbuf), "%s/%s.sqlite", outdir, c.e->name);
    snprintf(pngbuf, sizeof(pngbuf), "%s/%s.png", outdir, c.e->name);
    if (!dbpath)
        dbpath = dbbuf;
    if (!plotpath)
        plotpath = pngbuf;
    c.db = gn_results_open(dbpath, &err);
    if (!c.db) {
        fprintf(stderr, "genie-sim: %s\n", err.msg);
        return 1;
    }
    gn_results_revision(rev, sizeof(rev));
    size_t used = 0;
    for (int i = 0; i < argc; i++)
        used += (size_t)snprintf(cmd + used, used < sizeof(cmd) ? sizeof(cmd) - used : 0, "%s%s",
                                 i ? " " : "", argv[i]);
    if (optind >= argc)
        snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), " %s", file);
    c.exp_id = gn_results_add_experiment(c.db, c.e->name, file, c.e->text, rev, cmd, &err);
    if (c.exp_id < 0) {
        fprintf(stderr, "genie-sim: %s\n", err.msg);
        return 1;
    }

    /* run every point, up to JOBS simulations at once */
    uint32_t npts = gn_experiment_npoints(c.e);
    c.total = nw * c.e->nstrategies * npts;
    point *slots = calloc((size_t)jobs, sizeof(*slots));
    if (!slots) {
        fprintf(stderr, "genie-sim: out of memory\n");
        return 1;
    }
    int running = 0;
    for (uint32_t i = 0; i <= c.total; i++) {
        while (running == jobs || (i == c.total && running > 0)) {
            int status;
            pid_t pid = wait(&status);
            for (int k = 0; k < jobs && pid > 0; k++)
                if (slots[k].job && gn_sim_job_pid(slots[k].job) == pid) {
                    finish_point(&c, &slots[k], status);
                    running--;
                }
            if (pid < 0)
                break;
        }
        if (i == c.total)
            break;
        int k = 0;
        while (slots[k].job)
            k++;
        point *p = &slots[k];
        /* hot reload: new, changed or removed plugins apply from here on */
        if (c.plugins && i > 0) {
            int changed = gn_plugins_reload(c.plugins, &err);
            if (changed < 0)
                print_warning(&warned, err.msg);
            else if (changed > 0) {
                if (!c.quiet)
                    fprintf(stderr, "%sgenie-sim: plugins changed: %u loaded, %u rejected; analysis rerun\n",
                            c.tty ? "\n" : "", gn_plugins_nloaded(c.plugins), gn_plugins_nrejected(c.plugins));
                if (analyse_all(&c, nw, &warned) < 0)
                    return 1;
            }
        }
        p->workload = i / (c.e->nstrategies * npts);
        p->strategy = (i / npts) % c.e->nstrategies;
        p->sweep = i % npts;
        p->t0 = now();
        gn_platform pf;
        gn_experiment_platform(c.e, p->sweep, &pf, p->label, sizeof(p->label), &p->x, &err);
        if (pfdoc) /* checked above */
            gn_platform_apply_json(&pf, pfdoc, platform_file, "$", &err);
        const gn_exp_strategy *s = &c.e->strategies[p->strategy];
        gn_plan_input in = {.session = c.sessions[p->workload], .platform = &pf,
                            .weights_resident = c.e->weights_resident, .options = s->options, .file = file,
                            .path = s->path, .analysis = c.analyses[p->workload], .warn = print_warning,
                            .warn_ctx = &warned};
        if (gn_strategy_plan(s->strategy, &in, &p->plan, &err) < 0) {
            store(&c, p, NULL, NULL, err.msg);
            continue;
        }
        p->job = gn_sim_start(p->plan, &pf, &err);
        if (!p->job) {
            store(&c, p, NULL, NULL, err.msg);
            gn_plan_destroy(p->plan);
            p->plan = NULL;
            continue;
        }
        running++;
    }
    free(slots);

    if (!c.quiet && gn_report_table(gn_results_db(c.db), c.exp_id, stdout, &err) < 0) {
        fprintf(stderr, "genie-sim: %s\n", err.msg);
        c.failed = 1;
    }
    const char *xlabel = json_array_size(c.e->sweep_keys)
                             ? json_string_value(json_array_get(c.e->sweep_keys, 0))
                             : "point";
    if (plot && gn_report_plot(gn_results_db(c.db), c.exp_id, plotpath, xlabel, &err) < 0) {
        fprintf(stderr, "genie-sim: %s\n", err.msg);
        c.failed = 1;
        plot = 0;
    }
    if (!c.quiet) {
        printf("\nresults: %s (experiment id %lld, revision %s)\n", dbpath, (long long)c.exp_id, rev);
        if (plot)
            printf("plot:    %s\n", plotpath);
        printf("took %.1f s for %u runs\n", now() - c.t_start, c.total);
    }
    gn_results_close(c.db);
    for (uint32_t w = 0; w < nw; w++) {
        gn_analysis_destroy(c.analyses[w]);
        gn_session_destroy(c.sessions[w]);
    }
    for (int i = 0; i < warned.n; i++)
        free(warned.seen[i]);
    free(c.analyses);
    free(c.sessions);
    gn_plugins_destroy(c.plugins);
    free(priority);
    free(c.wlabels);
    free(c.batch);
    gn_experiment_destroy(c.e);
    json_decref(pfdoc);
    return c.failed ? 1 : 0;
}
