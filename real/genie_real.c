/*
 * genie-real — runs an experiment file for real, against genie-node
 * processes (issue 4).
 *
 * The same experiment files as genie-sim: every workload x strategy x
 * sweep point is planned exactly as genie-sim plans it, then executed:
 * the client (this process) runs its share of the plan on the CPU
 * executor and the nodes run theirs, moving the tensors the plan names
 * over TCP.  Weights and inputs come from the seed, so runs are
 * deterministic; every run's outputs are compared with a local run of
 * the same session (parity), and the events, metrics and the parity
 * result go into the same SQLite schema as genie-sim's, with backend =
 * real.
 *
 * Nodes: started here on loopback (--spawn N, the default, with N the
 * most nodes any plan needs), or named with --node HOST:PORT.  Times of
 * node-side tasks are the node's CLOCK_MONOTONIC, which is this
 * machine's clock on loopback; with --node on other hosts they are not
 * comparable and only the client-side times are meaningful.
 *
 * Exit status: 0 success; 1 a run failed (error, parity); 2 bad input.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "calibrate.h"
#include "conn.h"
#include "executor.h"
#include "experiment.h"
#include "hello.h"
#include "metrics.h"
#include "outputs.h"
#include "planrun.h"
#include "planwire.h"
#include "report.h"
#include "results.h"
#include "stats.h"
#include "strategy.h"
#include "trace.h"
#include "workload.h"

#define DEFAULT_EXPERIMENT "experiments/real_small.json"
#define MAX_NODES 16
#define SCALE 0.25f

static void usage(FILE *f)
{
    fprintf(f,
            "usage: genie-real [options] [EXPERIMENT.json]\n"
            "       genie-real --calibrate [--node H:P] [-o FILE] [EXPERIMENT.json]\n"
            "\n"
            "Runs every workload x strategy x sweep point of an experiment for real:\n"
            "the plans genie-sim simulates, executed by this client and genie-node\n"
            "processes over TCP, outputs checked against local execution, events and\n"
            "metrics stored in SQLite (backend = real).  Without EXPERIMENT, runs\n"
            DEFAULT_EXPERIMENT ".\n"
            "\n"
            "options:\n"
            "      --spawn N       start N genie-node processes on loopback (default:\n"
            "                      as many as the plans need)\n"
            "      --node H:P      use a running genie-node (repeat for more nodes); the\n"
            "                      experiment may name them: \"real\": {\"nodes\": [\"H:P\"]}\n"
            "  -e, --exec NAME     executor of spawned nodes: cpu (default) or cuda\n"
            "      --platform F    platform file applied over the experiment's (for\n"
            "                      planning), e.g. the output of --calibrate\n"
            "  -o, --out DIR       where the database goes (default: results); with\n"
            "                      --calibrate, the platform file to write (default:\n"
            "                      results/calibration.json)\n"
            "      --db FILE       results database (default: DIR/NAME.sqlite, shared\n"
            "                      with genie-sim so genie-report --compare joins them)\n"
            "      --repeat N      run every point N times (default 1), round-robin (every\n"
            "                      point once, then again); all repeats must give\n"
            "                      identical bytes\n"
            "      --check-every K check parity on every K-th run only (default 1)\n"
            "      --calibrate-out F  also calibrate while running: one pass of the\n"
            "                      executor calibration before each round of the\n"
            "                      repeats (each op's fastest over the rounds, or its\n"
            "                      median: --calibrate-estimator), the\n"
            "                      network after them; writes the platform file F, a\n"
            "                      measure of the machine the runs met\n"
            "      --calibrate-estimator min|median\n"
            "                      what stands for an op's time over the calibration's\n"
            "                      passes: its fastest (default) or its median\n"
            "      --calibrate     measure this machine (the executor on the experiment's\n"
            "                      ops, memory, the network to the first node named, or\n"
            "                      to one started on loopback) and write a platform file\n"
            "  -q, --quiet         no progress, no table\n"
            "  -h, --help          this text\n"
            "\n"
            "Exit status: 0 ok, 1 a run failed or broke parity, 2 bad input.\n");
}

static double now(void)
{
    return (double)gn_now_ns() * 1e-9;
}


/* ========================== nodes ========================== */

typedef struct node {
    char host[256];
    int port;
    pid_t pid; /* spawned here, or 0 */
} node;

/* "HOST:PORT" into N; -1 when it is not that or the port is not 1..65535. */
static int parse_node(const char *s, node *n)
{
    if (sscanf(s, "%255[^:]:%d", n->host, &n->port) != 2 || n->port <= 0 || n->port > 65535)
        return -1;
    return 0;
}

/* Starts genie-node (next to this program) on a free loopback port. */
static int spawn_node(node *n, const char *exec_name, gn_error *err)
{
    char self[4096], path[4200];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len < 0)
        return gn_error_set(err, GN_EIO, "cannot find this program: %s", strerror(errno));
    self[len] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(path, sizeof(path), "%s/genie-node", self);
    int out[2];
    if (pipe(out) < 0)
        return gn_error_set(err, GN_EIO, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        return gn_error_set(err, GN_EIO, "fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execl(path, "genie-node", "--port", "0", "--quiet", "--exec", exec_name, (char *)NULL);
        fprintf(stderr, "genie-real: cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    char line[256] = "";
    if (!f || !fgets(line, sizeof(line), f) || sscanf(line, "genie-node: listening on %255[^:]:%d", n->host,
                                                       &n->port) != 2) {
        if (f)
            fclose(f);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return gn_error_set(err, GN_EIO, "%s did not start (said \"%.80s\")", path, line);
    }
    fclose(f);
    n->pid = pid;
    return 0;
}

static void stop_nodes(node *nodes, int n)
{
    for (int i = 0; i < n; i++)
        if (nodes[i].pid > 0) {
            kill(nodes[i].pid, SIGTERM);
            waitpid(nodes[i].pid, NULL, 0);
            nodes[i].pid = 0;
        }
}

static gn_conn *dial(const node *n, gn_error *err)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", n->port);
    struct addrinfo hints = {0}, *res;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(n->host, port, &hints, &res);
    if (rc != 0) {
        gn_error_set(err, GN_EIO, "%s:%d: %s", n->host, n->port, gai_strerror(rc));
        return NULL;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
        gn_error_set(err, GN_EIO, "cannot connect to genie-node at %s:%d: %s", n->host, n->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return NULL;
    }
    freeaddrinfo(res);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    gn_conn *c = gn_conn_create(fd, (size_t)2 << 30);
    if (!c) {
        close(fd);
        gn_error_set(err, GN_ENOMEM, "out of memory");
    }
    return c;
}

/* Sends a frame and waits for its answer of type WANT; ERROR frames
 * become errors.  *PAYLOAD is borrowed from the connection. */
static int call(gn_conn *c, uint16_t type, const void *payload, size_t len, uint16_t want, const void **reply,
                size_t *rlen, gn_error *err)
{
    gn_frame f;
    int rc = gn_conn_send(c, type, 0, 1, payload, len, err);
    if (rc == 0)
        rc = gn_conn_recv(c, &f, reply, err);
    if (rc == 1)
        return gn_error_set(err, GN_EIO, "the node closed the connection");
    if (rc < 0)
        return rc;
    if (f.type == GN_FRAME_ERROR)
        return gn_error_set(err, GN_EIO, "node: %.*s", (int)(f.length < 500 ? f.length : 500), (const char *)*reply);
    if (f.type != want)
        return gn_error_set(err, GN_EPARSE, "expected a %s frame from the node, got %s", gn_frame_name(want),
                            gn_frame_name(f.type) ? gn_frame_name(f.type) : "?");
    if (rlen)
        *rlen = (size_t)f.length;
    return 0;
}

/* ========================== one run ========================== */

typedef struct workload {
    gn_session *s;
    char label[64];
    double batch;
    json_t *trace;       /* the session as a trace, sent in HELLO (owned) */
    gn_outputs *ref;     /* local reference outputs */
} workload;

typedef struct run_result {
    double *start, *end; /* per task, s from the run's start */
    double max_rel;
    int identical;
    int checked;
    double node_rss_kb, node_hwm_kb, node_cpu_outside_s, node_requests, node_request_p95_s, node_held;
    gn_outputs *out;
} run_result;

/* CPU seconds of every request (DATA frame) the nodes handled, over the
 * whole experiment, for one pooled percentile at the end. */
typedef struct samples {
    double *v;
    size_t n, cap;
} samples;

static void req_cpu_add(samples *s, double x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        double *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return; /* a figure, not a result: drop the sample */
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
}

static int run_point(const gn_plan *p, workload *w, node *nodes, uint32_t nnodes, uint64_t seed, int warm,
                     int check, run_result *res, samples *req_cpu, gn_error *err)
{
    uint32_t n = gn_plan_ntasks(p), used = 0;
    for (uint32_t d = 0; d < gn_plan_ndevices(p); d++)
        if (gn_plan_device(p, d)->machine + 1 > (int32_t)used)
            used = (uint32_t)gn_plan_device(p, d)->machine + 1;
    if (used > nnodes)
        return gn_error_set(err, GN_EINVAL, "the plan needs %u nodes, %u are available (--spawn / --node)", used,
                            nnodes);
    int rc = gn_planrun_check(p, w->s, used, err);
    if (rc < 0)
        return rc;
    gn_conn *conns[MAX_NODES] = {0};
    gn_runner *r = NULL;
    gn_task_time *tt = calloc((size_t)n + 1, sizeof(*tt));
    uint32_t nsteps = gn_session_nsteps(w->s);
    gn_task_time *pauses = calloc((size_t)nsteps + 1, sizeof(*pauses));
    unsigned char *pw = NULL;
    size_t pwlen = 0;
    res->start = calloc((size_t)n + 1, sizeof(double));
    res->end = calloc((size_t)n + 1, sizeof(double));
    if (!tt || !pauses || !res->start || !res->end || gn_planwire_encode(p, &pw, &pwlen) < 0) {
        rc = gn_error_set(err, GN_ENOMEM, "out of memory");
        goto out;
    }
    /* open a session on every node the plan uses */
    for (uint32_t k = 0; k < used; k++) {
        const void *reply;
        if (!(conns[k] = dial(&nodes[k], err))) {
            rc = GN_EIO;
            goto out;
        }
        char *text = gn_hello_encode((int32_t)k, used, seed, SCALE, warm, w->trace);
        if (!text) {
            rc = gn_error_set(err, GN_ENOMEM, "out of memory");
            goto out;
        }
        rc = call(conns[k], GN_FRAME_HELLO, text, strlen(text), GN_FRAME_HELLO, &reply, NULL, err);
        free(text);
        if (rc == 0)
            rc = call(conns[k], GN_FRAME_PLAN, pw, pwlen, GN_FRAME_RESULT, &reply, NULL, err);
        if (rc < 0)
            goto out;
    }
    r = gn_runner_create_ex(gn_executor_cpu(), w->s, seed, SCALE, GN_RUNNER_PARTIAL, err);
    if (!r) {
        rc = err->code ? err->code : GN_ENOMEM;
        goto out;
    }
    res->out = check ? gn_outputs_create(w->s) : NULL;
    gn_conn_link cl;
    gn_conn_link_init(&cl, conns, used, 1, 0);
    int64_t t0 = gn_now_ns();
    for (uint32_t k = 0; k < used && rc == 0; k++)
        rc = gn_conn_send(conns[k], GN_FRAME_RUN, 0, 2, NULL, 0, err);
    if (rc == 0)
        rc = gn_outputs_client_run_paused(p, r, &cl.link, seed, res->out, tt, pauses, err);
    /* the timeline leaves out the harness's work between steps (inputs
     * generated, outputs kept for parity): not the system under test */
    for (uint32_t i = 0; i < n; i++)
        if (tt[i].end_ns) {
            res->start[i] = (double)(gn_outputs_unpause(tt[i].start_ns, pauses, nsteps) - t0) * 1e-9;
            res->end[i] = (double)(gn_outputs_unpause(tt[i].end_ns, pauses, nsteps) - t0) * 1e-9;
        }
    /* the nodes' times and figures */
    for (uint32_t k = 0; k < used && rc == 0; k++) {
        gn_frame f;
        const void *reply;
        rc = gn_conn_recv(conns[k], &f, &reply, err);
        if (rc == 1)
            rc = gn_error_set(err, GN_EIO, "node %u closed the connection before its result", k);
        if (rc < 0)
            break;
        if (f.type == GN_FRAME_ERROR) {
            rc = gn_error_set(err, GN_EIO, "node %u: %.*s", k, (int)(f.length < 500 ? f.length : 500),
                              (const char *)reply);
            break;
        }
        json_error_t jerr;
        json_t *j = f.type == GN_FRAME_RESULT ? json_loadb(reply, (size_t)f.length, 0, &jerr) : NULL;
        json_t *times = json_object_get(j, "times"), *row;
        size_t i;
        if (!json_is_array(times)) {
            json_decref(j);
            rc = gn_error_set(err, GN_EPARSE, "node %u: malformed result", k);
            break;
        }
        json_array_foreach(times, i, row) {
            json_int_t id = json_integer_value(json_array_get(row, 0));
            double s = (double)(gn_outputs_unpause(json_integer_value(json_array_get(row, 1)), pauses, nsteps) - t0) *
                       1e-9;
            double e = (double)(gn_outputs_unpause(json_integer_value(json_array_get(row, 2)), pauses, nsteps) - t0) *
                       1e-9;
            if (id < 0 || (uint32_t)id >= n)
                continue;
            const gn_task *tk = gn_plan_task(p, (uint32_t)id);
            if (tk->kind == GN_TASK_TRANSFER && gn_plan_is_network(p, tk->device, tk->dst) && req_cpu)
                req_cpu_add(req_cpu, (double)json_integer_value(json_array_get(row, 3)) * 1e-9);
            if (res->end[id] == 0 || s < res->start[id])
                res->start[id] = s;
            if (e > res->end[id])
                res->end[id] = e;
        }
        res->node_rss_kb = fmax(res->node_rss_kb, json_number_value(json_object_get(j, "rss_kb")));
        res->node_held = fmax(res->node_held, json_number_value(json_object_get(j, "held_bytes")));
        res->node_hwm_kb = fmax(res->node_hwm_kb, json_number_value(json_object_get(j, "hwm_kb")));
        res->node_cpu_outside_s += json_number_value(json_object_get(j, "cpu_outside_exec_s"));
        res->node_requests += json_number_value(json_object_get(j, "requests"));
        res->node_request_p95_s = fmax(res->node_request_p95_s,
                                       json_number_value(json_object_get(j, "request_cpu_p95_s")));
        json_decref(j);
    }
    for (uint32_t k = 0; k < used && rc == 0; k++) {
        const void *reply;
        rc = call(conns[k], GN_FRAME_BYE, NULL, 0, GN_FRAME_BYE, &reply, NULL, err);
    }
    if (rc == 0 && check) {
        rc = gn_outputs_compare(res->out, w->ref, &res->max_rel, &res->identical, err);
        res->checked = 1;
    }
out:
    for (uint32_t k = 0; k < used; k++)
        gn_conn_destroy(conns[k]);
    gn_runner_destroy(r);
    free(tt);
    free(pauses);
    free(pw);
    return rc;
}

static void free_workloads(workload *ws, uint32_t nw)
{
    for (uint32_t w = 0; w < nw; w++) {
        gn_session_destroy(ws[w].s);
        json_decref(ws[w].trace);
        gn_outputs_destroy(ws[w].ref);
    }
    free(ws);
}

/* The workloads' sessions (borrowed from WS) as one array, as the
 * calibration takes them.  Owned by the caller (free); NULL when out of
 * memory. */
static gn_session **session_array(const workload *ws, uint32_t nw)
{
    gn_session **ss = calloc(nw ? nw : 1, sizeof(*ss));
    for (uint32_t w = 0; ss && w < nw; w++)
        ss[w] = ws[w].s;
    return ss;
}

/* Writes CAL as the platform file PATH, its directory made first. */
static int write_platform(const gn_calibration *cal, const char *path, gn_error *err)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        gn_results_mkdir(dir);
    }
    return gn_calibration_save(cal, path, err);
}

/* --calibrate-out: the executor's figures from the passes CX made
 * between the rounds, then memory and the network to the first node
 * (one started for it when the runs used none); writes PATH. */
static int calibrate_after(const gn_calib_exec *cx, const char *path, const node *nodes, int nnodes,
                           const char *exec_name, int quiet, gn_error *err)
{
    static gn_calibration cal; /* large (measured op tables): not on the stack */
    memset(&cal, 0, sizeof(cal));
    int rc = gn_calib_exec_finish(cx, &cal, err);
    if (rc < 0)
        return rc;
    node own = {0};
    const node *peer_node = nnodes > 0 ? &nodes[0] : &own;
    if (nnodes == 0 && (rc = spawn_node(&own, exec_name, err)) < 0)
        return rc;
    gn_conn *peer = dial(peer_node, err);
    rc = peer ? gn_calibrate_rest(peer, quiet ? NULL : stderr, &cal, err) : err->code;
    gn_conn_destroy(peer);
    if (nnodes == 0)
        stop_nodes(&own, 1);
    if (rc == 0)
        rc = write_platform(&cal, path, err);
    if (rc == 0 && !quiet)
        printf("platform file: %s (the executor timed between the %d rounds of runs)\n", path,
               gn_calib_exec_passes(cx));
    return rc;
}

/* ========================== main ========================== */

int main(int argc, char **argv)
{
    gn_executor_blas_env(argv);
    gn_executor_malloc_env();
    static const struct option longopts[] = {
        {"spawn", required_argument, NULL, 'S'},     {"node", required_argument, NULL, 'N'},
        {"exec", required_argument, NULL, 'e'},      {"platform", required_argument, NULL, 'P'},
        {"out", required_argument, NULL, 'o'},       {"db", required_argument, NULL, 'd'},
        {"repeat", required_argument, NULL, 'r'},    {"check-every", required_argument, NULL, 'k'},
        {"calibrate", no_argument, NULL, 'C'},       {"quiet", no_argument, NULL, 'q'},
        {"calibrate-out", required_argument, NULL, 'O'}, {"calibrate-estimator", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0}};
    const char *outdir = NULL, *dbpath = NULL, *exec_name = "cpu", *platform_file = NULL, *calib_out = NULL;
    int spawn = -1, repeat = 1, check_every = 1, calibrate = 0, quiet = 0, cal_median = 0, opt;
    node nodes[MAX_NODES] = {0};
    int nnamed = 0;
    while ((opt = getopt_long(argc, argv, "e:o:qh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'S':
            spawn = atoi(optarg);
            if (spawn < 0 || spawn > MAX_NODES) {
                fprintf(stderr, "genie-real: --spawn: expected 0..%d nodes, got \"%s\"\n", MAX_NODES, optarg);
                return 2;
            }
            break;
        case 'N':
            if (nnamed == MAX_NODES || parse_node(optarg, &nodes[nnamed]) < 0) {
                fprintf(stderr, "genie-real: --node: expected HOST:PORT (at most %d), got \"%s\"\n", MAX_NODES,
                        optarg);
                return 2;
            }
            nnamed++;
            break;
        case 'e': exec_name = optarg; break;
        case 'P': platform_file = optarg; break;
        case 'o': outdir = optarg; break;
        case 'd': dbpath = optarg; break;
        case 'r':
            repeat = atoi(optarg);
            if (repeat < 1) {
                fprintf(stderr, "genie-real: --repeat: expected >= 1, got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'k':
            check_every = atoi(optarg);
            if (check_every < 1) {
                fprintf(stderr, "genie-real: --check-every: expected >= 1, got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'C': calibrate = 1; break;
        case 'O': calib_out = optarg; break;
        case 'M':
            if (strcmp(optarg, "min") && strcmp(optarg, "median")) {
                fprintf(stderr, "genie-real: --calibrate-estimator: expected min or median, got \"%s\"\n", optarg);
                return 2;
            }
            cal_median = !strcmp(optarg, "median");
            break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (calibrate && calib_out) {
        fprintf(stderr, "genie-real: --calibrate-out calibrates alongside real runs; --calibrate alone (with -o) "
                        "only calibrates: give one of them\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    gn_error err;
    if (argc - optind > 1) {
        fprintf(stderr, "genie-real: expected one experiment file, got %d (try --help)\n", argc - optind);
        return 2;
    }
    if (!gn_executor_find(exec_name)) {
        fprintf(stderr, "genie-real: --exec %s: no such executor in this build\n", exec_name);
        return 2;
    }
    const char *file = optind < argc ? argv[optind] : DEFAULT_EXPERIMENT;
    gn_experiment *e = gn_experiment_load(file, &err);
    if (!e) {
        fprintf(stderr, "genie-real: %s\n", err.msg);
        return 2;
    }
    /* nodes named in the file: "real": {"nodes": ["host:port", ...]} (the
     * command line's --node wins) */
    json_t *rcfg = json_object_get(e->doc, "real"), *jn = json_object_get(rcfg, "nodes"), *item;
    size_t ji;
    if (rcfg && (!json_is_object(rcfg) || (jn && !json_is_array(jn)))) {
        fprintf(stderr, "genie-real: %s: $.real: expected {\"nodes\": [\"HOST:PORT\", ...]}\n", file);
        return 2;
    }
    if (nnamed == 0)
        json_array_foreach(jn, ji, item) {
            if (nnamed == MAX_NODES || !json_is_string(item) ||
                parse_node(json_string_value(item), &nodes[nnamed]) < 0) {
                fprintf(stderr, "genie-real: %s: $.real.nodes[%zu]: expected \"HOST:PORT\" (at most %d nodes)\n", file,
                        ji, MAX_NODES);
                return 2;
            }
            nnamed++;
        }
    json_t *pfdoc = NULL;
    if (platform_file && !(pfdoc = gn_platform_file_load(platform_file, &err))) {
        fprintf(stderr, "genie-real: %s\n", err.msg);
        return 2;
    }
    int tty = isatty(STDERR_FILENO) && !quiet;
    double t_start = now();

    /* sessions and their local references */
    uint32_t nw = (uint32_t)json_array_size(e->workloads);
    workload *ws = calloc(nw ? nw : 1, sizeof(*ws));
    if (!ws) {
        fprintf(stderr, "genie-real: out of memory\n");
        return 1;
    }
    for (uint32_t w = 0; w < nw; w++) {
        char path[48];
        snprintf(path, sizeof(path), "$.workloads[%u]", w);
        ws[w].s = gn_workload_build(json_array_get(e->workloads, w), file, path, ws[w].label,
                                    sizeof(ws[w].label), &err);
        if (!ws[w].s) {
            fprintf(stderr, "genie-real: %s\n", err.msg);
            return 2;
        }
        json_t *b = json_object_get(gn_session_model(ws[w].s), "batch");
        ws[w].batch = json_is_integer(b) ? (double)json_integer_value(b) : 1;
        ws[w].trace = gn_trace_to_json(ws[w].s);
        ws[w].ref = gn_outputs_create(ws[w].s);
        if (!ws[w].trace || !ws[w].ref) {
            fprintf(stderr, "genie-real: out of memory\n");
            return 1;
        }
        if (calibrate)
            continue;
        if (tty)
            fprintf(stderr, "\r\033[Kreference run of %s", ws[w].label);
        if (gn_outputs_reference(gn_executor_cpu(), ws[w].s, e->seed, SCALE, ws[w].ref, &err) < 0) {
            fprintf(stderr, "\ngenie-real: %s: the local reference cannot run: %s\n", ws[w].label, err.msg);
            return 2;
        }
    }

    if (calibrate) {
        const char *path = outdir ? outdir : "results/calibration.json";
        gn_session **ss = session_array(ws, nw);
        /* the network: to the first node named, or to one started here */
        int started = 0;
        if (nnamed == 0) {
            if (spawn_node(&nodes[0], exec_name, &err) < 0) {
                fprintf(stderr, "genie-real: calibration: %s\n", err.msg);
                return 1;
            }
            started = 1;
        }
        static gn_calibration cal; /* large (measured op tables): not on the stack */
        /* the executor first, then a connection that is used at once
         * (a node drops clients silent for its --idle-timeout) */
        int rc = ss ? gn_calibrate_exec(ss, nw, cal_median, quiet ? NULL : stderr, &cal, &err)
                    : gn_error_set(&err, GN_ENOMEM, "out of memory");
        gn_conn *peer = rc == 0 ? dial(&nodes[0], &err) : NULL;
        if (rc == 0)
            rc = peer ? gn_calibrate_rest(peer, quiet ? NULL : stderr, &cal, &err) : err.code;
        gn_conn_destroy(peer);
        stop_nodes(nodes, started);
        free(ss);
        if (rc == 0)
            rc = write_platform(&cal, path, &err);
        if (rc < 0)
            fprintf(stderr, "genie-real: calibration: %s\n", err.msg);
        else if (!quiet)
            printf("platform file: %s (from the ops of %s)\n", path, file);
        free_workloads(ws, nw);
        json_decref(pfdoc);
        gn_experiment_destroy(e);
        return rc < 0 ? 1 : 0;
    }

    /* planning platforms: the experiment's, then the platform file */
    uint32_t npts = gn_experiment_npoints(e);
    uint32_t need = 0;
    for (uint32_t i = 0; i < npts; i++) {
        gn_platform pf;
        char label[128];
        double x;
        gn_experiment_platform(e, i, &pf, label, sizeof(label), &x, &err);
        if (pf.nodes > need)
            need = pf.nodes;
    }
    int nnodes = nnamed;
    if (nnamed == 0) {
        int want = spawn >= 0 ? spawn : (int)(need < MAX_NODES ? need : MAX_NODES);
        for (int k = 0; k < want; k++) {
            if (spawn_node(&nodes[k], exec_name, &err) < 0) {
                fprintf(stderr, "genie-real: %s\n", err.msg);
                stop_nodes(nodes, k);
                return 1;
            }
            nnodes++;
        }
    }

    char dbbuf[1024], rev[64], cmd[2048];
    const char *dir = outdir ? outdir : "results";
    if (!dbpath && gn_results_mkdir(dir) < 0) {
        fprintf(stderr, "genie-real: cannot create %s: %s\n", dir, strerror(errno));
        stop_nodes(nodes, nnodes);
        return 1;
    }
    snprintf(dbbuf, sizeof(dbbuf), "%s/%s.sqlite", dir, e->name);
    if (!dbpath)
        dbpath = dbbuf;
    gn_results *db = gn_results_open(dbpath, &err);
    if (!db) {
        fprintf(stderr, "genie-real: %s\n", err.msg);
        stop_nodes(nodes, nnodes);
        return 1;
    }
    gn_results_revision(rev, sizeof(rev));
    size_t usedc = 0;
    for (int i = 0; i < argc; i++)
        usedc += (size_t)snprintf(cmd + usedc, usedc < sizeof(cmd) ? sizeof(cmd) - usedc : 0, "%s%s",
                                  i ? " " : "", argv[i]);
    int64_t exp_id = gn_results_add_experiment(db, e->name, file, e->text, rev, cmd, &err);
    if (exp_id < 0) {
        fprintf(stderr, "genie-real: %s\n", err.msg);
        stop_nodes(nodes, nnodes);
        return 1;
    }

    int failed = 0;
    samples req_cpu = {0};
    typedef struct point {
        gn_plan *p;          /* NULL where planning failed (prc, perr) */
        int prc;
        char perr[sizeof(err.msg)];
        char label[128];     /* the sweep point */
        double x;
        gn_outputs *first;   /* repeat 0's outputs: later repeats must equal them */
    } point;
    uint32_t npoint = nw * e->nstrategies * npts;
    uint32_t total = npoint * (uint32_t)repeat, done = 0, runs = 0;
    /* every point planned first; then the repeats round-robin (each point
     * once, then again), so the machine's drift over a run falls on every
     * strategy alike rather than on whichever ran last */
    point *pts = calloc(npoint ? npoint : 1, sizeof(*pts));
    if (!pts) {
        fprintf(stderr, "genie-real: out of memory\n");
        stop_nodes(nodes, nnodes);
        return 1;
    }
    for (uint32_t i = 0; i < npoint; i++) {
        uint32_t w = i / (e->nstrategies * npts), si = (i / npts) % e->nstrategies, pt = i % npts;
        const gn_exp_strategy *st = &e->strategies[si];
        gn_platform pf;
        gn_experiment_platform(e, pt, &pf, pts[i].label, sizeof(pts[i].label), &pts[i].x, &err);
        if (pfdoc && gn_platform_apply_json(&pf, pfdoc, platform_file, "$", &err) < 0) {
            fprintf(stderr, "genie-real: %s\n", err.msg);
            failed = 2;
            break;
        }
        gn_plan_input in = {.session = ws[w].s, .platform = &pf, .weights_resident = e->weights_resident,
                            .options = st->options, .file = file, .path = st->path};
        pts[i].prc = gn_strategy_plan(st->strategy, &in, &pts[i].p, &err);
        snprintf(pts[i].perr, sizeof(pts[i].perr), "%s", err.msg);
    }
    /* --calibrate-out: the executor calibration's passes interleaved with
     * the rounds of repeats (a warm-up, then one before each round) */
    gn_session **css = NULL;
    gn_calib_exec *cx = NULL;
    if (calib_out && failed != 2) {
        if (!(css = session_array(ws, nw))) {
            fprintf(stderr, "genie-real: out of memory\n");
            failed = 2;
        }
        if (css && (!(cx = gn_calib_exec_create(css, nw, cal_median, &err)) || gn_calib_exec_pass(cx, &err) < 0)) {
            fprintf(stderr, "genie-real: calibration: %s\n", err.msg);
            failed = 2;
        }
    }
    for (int rep = 0; rep < repeat && failed != 2; rep++)
        for (uint32_t i = 0; i < npoint; i++, done++) {
            if (cx && i == 0 && gn_calib_exec_pass(cx, &err) < 0) {
                fprintf(stderr, "genie-real: calibration: %s\n", err.msg);
                failed = 2;
                break;
            }
            uint32_t w = i / (e->nstrategies * npts), si = (i / npts) % e->nstrategies;
            const gn_exp_strategy *st = &e->strategies[si];
            const gn_plan *p = pts[i].p;
            int prc = pts[i].prc;
            const char *perr = pts[i].perr, *label = pts[i].label;
            double x = pts[i].x;
            gn_outputs *first = pts[i].first;
            double t0 = now();
            run_result res = {0};
            int check = (runs++ % (uint32_t)check_every) == 0 || repeat > 1;
            int rc = prc < 0 ? prc : run_point(p, &ws[w], nodes, (uint32_t)nnodes, e->seed, e->weights_resident,
                                               check, &res, &req_cpu, &err);
            const char *error = prc < 0 ? perr : rc < 0 ? err.msg : NULL;
            char pbuf[256];
            if (!error && res.checked && (res.max_rel > 1e-5 || !isfinite(res.max_rel))) {
                snprintf(pbuf, sizeof(pbuf), "parity: outputs differ from local execution (max relative error %g)",
                         res.max_rel);
                error = pbuf;
            }
            if (!error && first && res.out) {
                double rel;
                int same = 0;
                gn_outputs_compare(res.out, first, &rel, &same, &err);
                if (!same) {
                    snprintf(pbuf, sizeof(pbuf), "determinism: repeat %d differs from repeat 0", rep);
                    error = pbuf;
                }
            }
            gn_metrics m;
            if (!error)
                gn_metrics_compute(p, res.start, res.end, ws[w].batch, &m);
            char *opts = st->options ? json_dumps(st->options, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
            gn_run_info info = {exp_id, "real", ws[w].label, st->label, opts, label, x, now() - t0, error};
            int64_t run = gn_results_add_run(db, &info, error ? NULL : p, res.start, res.end, error ? NULL : &m,
                                             &err);
            free(opts);
            if (run > 0 && !error) {
                gn_results_add_metric(db, run, "parity_checked", res.checked, "bool", &err);
                gn_results_add_metric(db, run, "parity_max_rel", res.checked ? res.max_rel : NAN, "ratio", &err);
                gn_results_add_metric(db, run, "parity_identical", res.checked ? res.identical : NAN, "bool",
                                      &err);
                if (res.node_requests > 0) {
                    gn_results_add_metric(db, run, "node_rss", res.node_rss_kb * 1024, "bytes", &err);
                    gn_results_add_metric(db, run, "node_peak_rss", res.node_hwm_kb * 1024, "bytes", &err);
                    gn_results_add_metric(db, run, "node_tensor_bytes", res.node_held, "bytes", &err);
                    gn_results_add_metric(db, run, "node_cpu_outside_exec", res.node_cpu_outside_s, "s", &err);
                    gn_results_add_metric(db, run, "node_requests", res.node_requests, "requests", &err);
                    gn_results_add_metric(db, run, "node_request_cpu_p95", res.node_request_p95_s, "s", &err);
                }
            }
            if (run < 0) {
                fprintf(stderr, "genie-real: %s\n", err.msg);
                failed = 1;
            }
            if (error) {
                fprintf(stderr, "%sgenie-real: %s / %s / %s: %s\n", tty ? "\n" : "", ws[w].label, st->label, label,
                        error);
                failed = 1;
            }
            if (tty)
                fprintf(stderr, "\r\033[K[%u/%u] %s %s %s (%.0f s elapsed)", done + 1, total, ws[w].label,
                        st->label, label, now() - t_start);
            if (rep == 0 && res.out && !error)
                pts[i].first = res.out;
            else
                gn_outputs_destroy(res.out);
            free(res.start);
            free(res.end);
        }
    for (uint32_t i = 0; i < npoint; i++) {
        gn_outputs_destroy(pts[i].first);
        gn_plan_destroy(pts[i].p);
    }
    free(pts);
    if (tty)
        fprintf(stderr, "\n");
    if (cx && failed != 2 && calibrate_after(cx, calib_out, nodes, nnodes, exec_name, quiet, &err) < 0) {
        fprintf(stderr, "genie-real: calibration: %s\n", err.msg);
        failed = 1;
    }
    gn_calib_exec_destroy(cx);
    free(css);
    stop_nodes(nodes, nnodes);
    if (!quiet && failed != 2 && gn_report_table(gn_results_db(db), exp_id, stdout, &err) < 0) {
        fprintf(stderr, "genie-real: %s\n", err.msg);
        failed = 1;
    }
    if (!quiet && req_cpu.n > 0) {
        qsort(req_cpu.v, req_cpu.n, sizeof(double), gn_cmp_double);
        printf("\nnode CPU per request outside the executor, over all %zu requests: median %.3f ms, p95 %.3f ms, "
               "max %.3f ms\n",
               req_cpu.n, req_cpu.v[req_cpu.n / 2] * 1e3, req_cpu.v[(size_t)(0.95 * (double)(req_cpu.n - 1) + 0.5)] * 1e3,
               req_cpu.v[req_cpu.n - 1] * 1e3);
    }
    free(req_cpu.v);
    if (!quiet)
        printf("\nresults: %s (experiment id %lld, revision %s)\ntook %.1f s for %u runs\n", dbpath,
               (long long)exp_id, rev, now() - t_start, total);
    gn_results_close(db);
    free_workloads(ws, nw);
    json_decref(pfdoc);
    gn_experiment_destroy(e);
    return failed;
}
