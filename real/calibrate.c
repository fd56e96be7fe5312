/*
 * calibrate.c — measures this machine for the simulator (see
 * calibrate.h).
 */
#include "calibrate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "conn.h"
#include "cost.h"
#include "executor.h"
#include "feed.h"
#include "planrun.h"
#include "outputs.h"
#include "runner.h"
#include "stats.h"
#include "strategy.h"

#define PINGS 2000
#define BIG_FRAME ((size_t)8 << 20)
#define BIG_FRAMES 32

/* ========================== executor ========================== */

static int no_send(void *ctx, int32_t machine, uint32_t task, const struct iovec *iov, int niov, size_t len,
                   gn_error *err)
{
    return gn_error_set(err, GN_EINVAL, "calibration: a local plan has no network transfer");
}

static int no_recv(void *ctx, int32_t machine, uint32_t task, size_t *len, gn_error *err)
{
    return gn_error_set(err, GN_EINVAL, "calibration: a local plan has no network transfer");
}

#define TIMED 5 /* timed runs per session (after a warm-up); the fastest counts */

/* One op's sample: its class, GFLOP, GB and seconds. */
typedef struct sample {
    struct gn_op_time sig; /* op, fn ("" when none), the node's FLOPs and bytes */
    double f, m, t;        /* GFLOP, GB, s */
} sample;

/* By signature, then by time. */
static int cmp_sample(const void *a, const void *b)
{
    const sample *x = a, *y = b;
    int c = gn_op_time_cmp(&x->sig, &y->sig);
    return c ? c : (x->t > y->t) - (x->t < y->t);
}

static int cmp_weight(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y); /* descending */
}

/* A run of equal signatures in the sorted samples. */
typedef struct group {
    size_t first;   /* its first sample */
    double t;       /* the median of its samples' times, s */
    double weight;  /* count x t: what it adds to a run */
} group;

/* The distinct signatures of V (sorted here), each with the median of its
 * samples plus GAP; where there are more than the table holds, those that
 * weigh most (count x time) are kept, the rest left to the fits. */
static void signatures(sample *v, size_t nv, double gap, gn_calibration *c)
{
    qsort(v, nv, sizeof(*v), cmp_sample);
    group *gr = malloc((nv ? nv : 1) * sizeof(*gr));
    size_t ng = 0;
    for (size_t i = 0, j; gr && i < nv; i = j) {
        for (j = i + 1; j < nv && !gn_op_time_cmp(&v[j].sig, &v[i].sig); j++)
            ;
        double t = v[i + (j - i - 1) / 2].t; /* the group is sorted by time */
        gr[ng++] = (group){i, t, (double)(j - i) * t};
    }
    double cut = 0;
    if (ng > GN_MAX_OP_TIMES) {
        double *ws = malloc(ng * sizeof(double));
        if (ws) {
            for (size_t k = 0; k < ng; k++)
                ws[k] = gr[k].weight;
            qsort(ws, ng, sizeof(double), cmp_weight);
            cut = ws[GN_MAX_OP_TIMES - 1];
            free(ws);
        }
    }
    c->ntimes = 0;
    c->nsignatures = (uint32_t)ng;
    for (size_t k = 0; k < ng && c->ntimes < GN_MAX_OP_TIMES; k++) {
        if (gr[k].weight < cut)
            continue;
        c->times[c->ntimes] = v[gr[k].first].sig;
        c->times[c->ntimes].s = gr[k].t + gap;
        c->ntimes++;
    }
    free(gr);
}

/* A fit over the samples of OP (and, when FN is not NULL, of that fn):
 * the group's floor (its fastest op) and a least-squares fit of the rest
 * as f / F + m / B.  Returns 0 when the group is empty. */
static int fit(const sample *v, size_t nv, gn_op op, const char *fn, double *gflops, double *gbs, double *floor_s)
{
    double floor_t = INFINITY, sff = 0, sfm = 0, smm = 0, fy = 0, my = 0;
    for (size_t i = 0; i < nv; i++)
        if (v[i].sig.op == op && (!fn || !strcmp(v[i].sig.fn, fn)) && v[i].t < floor_t)
            floor_t = v[i].t;
    if (!isfinite(floor_t))
        return 0;
    for (size_t i = 0; i < nv; i++) {
        if (v[i].sig.op != op || (fn && strcmp(v[i].sig.fn, fn)))
            continue;
        /* absolute errors: what a run's latency sums (a relative fit
         * follows the many small ops and misses the few large ones,
         * e.g. a stem convolution whose im2col no FLOP count sees) */
        double y = v[i].t - floor_t;
        sff += v[i].f * v[i].f;
        sfm += v[i].f * v[i].m;
        smm += v[i].m * v[i].m;
        fy += v[i].f * y;
        my += v[i].m * y;
    }
    double a = 0, b = 0, det = sff * smm - sfm * sfm;
    if (det > 1e-9 * sff * smm) {
        a = (fy * smm - my * sfm) / det;
        b = (my * sff - fy * sfm) / det;
    }
    if (!(a > 0 && b > 0)) { /* one term only: the one that explains more */
        double a1 = sff > 0 ? fy / sff : 0, b1 = smm > 0 ? my / smm : 0;
        double ea = a1 > 0 ? fy * a1 : -1, eb = b1 > 0 ? my * b1 : -1;
        a = ea >= eb && a1 > 0 ? a1 : 0;
        b = eb > ea && b1 > 0 ? b1 : 0;
    }
    *gflops = a > 0 ? 1 / a : 0;
    *gbs = b > 0 ? 1 / b : 0;
    *floor_s = floor_t;
    return 1;
}

/*
 * The executor's calibration, in passes (calibrate.h): each pass runs
 * every session's "local" plan once through the real backend's own path
 * (gn_planrun on the CPU executor), fresh runner each time, the sessions
 * round-robin as genie-real --repeat runs its points (so an op meets the
 * caches a real run leaves it: another workload's tensors, not its own
 * from a moment ago); the first pass is a warm-up; each task keeps its
 * fastest time over the later passes (other processes only ever add
 * time), and the gaps between consecutive ops of the first timed pass
 * give planrun's own cost per task.
 */
struct gn_calib_exec {
    gn_session *const *ss; /* borrowed */
    uint32_t n;
    gn_plan **plans;       /* owned, one per session */
    gn_task_time **tts;    /* per session: the pass's times */
    double **samp;         /* per session: [pass][task] times of the timed passes, s */
    int median;            /* each task's median over the passes, not its fastest */
    double *gaps;          /* from the first timed pass */
    size_t ng, total;
    int passes;            /* done, the warm-up included */
};

void gn_calib_exec_destroy(gn_calib_exec *x)
{
    if (!x)
        return;
    for (uint32_t w = 0; w < x->n; w++) {
        if (x->plans)
            gn_plan_destroy(x->plans[w]);
        if (x->tts)
            free(x->tts[w]);
        if (x->samp)
            free(x->samp[w]);
    }
    free(x->plans);
    free(x->tts);
    free(x->samp);
    free(x->gaps);
    free(x);
}

gn_calib_exec *gn_calib_exec_create(gn_session *const *ss, uint32_t n, int median, gn_error *err)
{
    gn_calib_exec *x = calloc(1, sizeof(*x));
    if (!x) {
        gn_error_set(err, GN_ENOMEM, "calibration: out of memory");
        return NULL;
    }
    x->ss = ss;
    x->n = n;
    x->median = median;
    x->plans = calloc(n ? n : 1, sizeof(*x->plans));
    x->tts = calloc(n ? n : 1, sizeof(*x->tts));
    x->samp = calloc(n ? n : 1, sizeof(*x->samp));
    int rc = x->plans && x->tts && x->samp ? 0 : gn_error_set(err, GN_ENOMEM, "calibration: out of memory");
    for (uint32_t w = 0; rc == 0 && w < n; w++) {
        gn_platform pf;
        gn_platform_default(&pf);
        gn_plan_input in = {.session = ss[w], .platform = &pf, .weights_resident = 1, .file = "calibrate",
                            .path = "$"};
        if ((rc = gn_strategy_plan("local", &in, &x->plans[w], err)) < 0)
            break;
        uint32_t nt = gn_plan_ntasks(x->plans[w]);
        x->total += nt;
        if (!(x->tts[w] = calloc(nt ? nt : 1, sizeof(gn_task_time)))) {
            rc = gn_error_set(err, GN_ENOMEM, "calibration: out of memory");
            break;
        }
    }
    if (rc == 0 && !(x->gaps = malloc((x->total ? x->total : 1) * sizeof(double))))
        rc = gn_error_set(err, GN_ENOMEM, "calibration: out of memory");
    if (rc < 0) {
        gn_calib_exec_destroy(x);
        return NULL;
    }
    return x;
}

int gn_calib_exec_pass(gn_calib_exec *x, gn_error *err)
{
    gn_link nolink = {.send = no_send, .recv_begin = no_recv};
    for (uint32_t w = 0; w < x->n; w++) {
        const gn_plan *p = x->plans[w];
        uint32_t nt = gn_plan_ntasks(p);
        gn_runner *r = gn_runner_create_ex(gn_executor_cpu(), x->ss[w], 1, 0.25f, GN_RUNNER_PARTIAL, err);
        int rc = r ? gn_outputs_client_run(p, r, &nolink, 1, NULL, x->tts[w], err) : err->code;
        gn_runner_destroy(r);
        if (rc < 0)
            return rc;
        if (x->passes == 0 || x->passes > GN_CALIB_MAX_PASSES)
            continue; /* the warm-up; passes beyond the table are run, not kept */
        int k = x->passes - 1;
        double *g = realloc(x->samp[w], (size_t)(k + 1) * (nt ? nt : 1) * sizeof(double));
        if (!g)
            return gn_error_set(err, GN_ENOMEM, "calibration: out of memory");
        x->samp[w] = g;
        double *row = g + (size_t)k * nt;
        const gn_task_time *tt = x->tts[w];
        int64_t prev_end = 0;
        uint32_t prev_step = UINT32_MAX;
        for (uint32_t i = 0; i < nt; i++) {
            const gn_task *t = gn_plan_task(p, i);
            if (t->kind != GN_TASK_COMPUTE)
                continue;
            row[i] = (double)(tt[i].end_ns - tt[i].start_ns) * 1e-9;
            if (x->passes == 1 && t->step == prev_step && x->ng < x->total) /* (a retried pass) */
                x->gaps[x->ng++] = (double)(tt[i].start_ns - prev_end) * 1e-9;
            prev_end = tt[i].end_ns;
            prev_step = t->step;
        }
    }
    x->passes++; /* counted once every session's plan ran */
    return 0;
}

int gn_calib_exec_passes(const gn_calib_exec *x)
{
    return x->passes > 0 ? x->passes - 1 : 0;
}

/*
 * From the samples (each task's fastest timed run, or its median): per op class a floor
 * (the fastest op of the class) plus a least-squares fit of the rest as
 * f / F + m / B, the same per function of an op, each signature's median,
 * and the gap between consecutive ops (planrun's own cost per task),
 * which a CPU executor pays in series.
 */
int gn_calib_exec_finish(const gn_calib_exec *x, gn_calibration *c, gn_error *err)
{
    if (x->passes < 2)
        return gn_error_set(err, GN_EINVAL, "calibration: no timed pass of the executor (a warm-up only)");
    sample *v = malloc((x->total ? x->total : 1) * sizeof(*v));
    double *gaps = malloc((x->ng ? x->ng : 1) * sizeof(*gaps)), best_mm = 0;
    if (!v || !gaps) {
        free(v);
        free(gaps);
        return gn_error_set(err, GN_ENOMEM, "calibration: out of memory");
    }
    size_t nv = 0;
    int np = x->passes - 1;
    double d[GN_CALIB_MAX_PASSES];
    if (np > GN_CALIB_MAX_PASSES)
        np = GN_CALIB_MAX_PASSES; /* the first ones */
    for (uint32_t w = 0; w < x->n; w++) {
        const gn_plan *p = x->plans[w];
        uint32_t nt = gn_plan_ntasks(p);
        for (uint32_t i = 0; i < nt; i++) {
            const gn_task *t = gn_plan_task(p, i);
            if (t->kind != GN_TASK_COMPUTE)
                continue;
            const gn_node *nd = gn_graph_node(gn_session_step(x->ss[w], t->step), (uint32_t)t->node);
            for (int k = 0; k < np; k++)
                d[k] = x->samp[w][(size_t)k * nt + i];
            qsort(d, (size_t)np, sizeof(double), gn_cmp_double);
            /* the fastest (other processes only ever add time), or the
             * median: what a run of many ops meets on a machine whose
             * speed moves (see calibrate.h) */
            double sec = x->median ? d[(np - 1) / 2] : d[0];
            v[nv] = (sample){{nd->op, "", nd->flops, nd->bytes, 0}, nd->flops * 1e-9, nd->bytes * 1e-9, sec};
            const char *fn = nd->attrs ? json_string_value(json_object_get(nd->attrs, "fn")) : NULL;
            if (fn)
                snprintf(v[nv].sig.fn, sizeof(v[nv].sig.fn), "%s", fn);
            nv++;
            if (nd->op == GN_OP_MATMUL && sec > 0 && nd->flops / sec > best_mm)
                best_mm = nd->flops / sec;
        }
    }
    if (nv == 0) {
        free(v);
        free(gaps);
        return gn_error_set(err, GN_EINVAL, "calibration: no op to time");
    }
    memcpy(gaps, x->gaps, x->ng * sizeof(*gaps));
    qsort(gaps, x->ng, sizeof(*gaps), gn_cmp_double);
    double gap = x->ng ? gaps[x->ng / 2] : 0;
    for (int op = 0; op < GN_OP_COUNT; op++) {
        double fl = 0;
        c->op_gflops[op] = c->op_gbs[op] = c->op_fixed_us[op] = 0;
        if (!fit(v, nv, (gn_op)op, NULL, &c->op_gflops[op], &c->op_gbs[op], &fl))
            continue;
        c->op_fixed_us[op] = (fl + gap) * 1e6;
        if (c->op_gflops[op] == 0 && c->op_gbs[op] == 0)
            c->op_gbs[op] = 1e6; /* fixed cost only: a negligible bytes term keeps it "measured" */
    }
    /* and per function of an op (elementwise relu vs gelu, reduction sum
     * vs argmax), where a node says which */
    c->nfn = 0;
    for (size_t i = 0; i < nv && c->nfn < GN_MAX_FN_COSTS; i++) {
        int seen = !v[i].sig.fn[0];
        for (uint32_t k = 0; k < c->nfn && !seen; k++)
            seen = c->fn[k].op == (int)v[i].sig.op && !strcmp(c->fn[k].fn, v[i].sig.fn);
        if (seen)
            continue;
        double gf = 0, gb = 0, fl = 0; /* fit always finds v[i] itself */
        fit(v, nv, v[i].sig.op, v[i].sig.fn, &gf, &gb, &fl);
        c->fn[c->nfn].op = v[i].sig.op;
        snprintf(c->fn[c->nfn].fn, sizeof(c->fn[0].fn), "%s", v[i].sig.fn);
        c->fn[c->nfn].gflops = gf;
        c->fn[c->nfn].gbs = gb;
        c->fn[c->nfn].fixed_us = (fl + gap) * 1e6;
        c->nfn++;
    }
    signatures(v, nv, gap, c); /* last: it sorts v */
    c->launch_us = gap * 1e6;
    c->peak_gflops = best_mm > 0 ? best_mm / 1e9 : 1;
    free(v);
    free(gaps);
    return 0;
}

/* Bytes/s of a copy into memory never touched before, as the real
 * backend's copies land in freshly allocated step buffers (page faults
 * included); best of 3. */
static double copy_gbs(int fresh)
{
    size_t n = (size_t)64 << 20;
    char *a = malloc(n);
    if (!a)
        return 1;
    memset(a, 1, n);
    double best = INFINITY;
    char *warm = fresh ? NULL : malloc(n);
    if (warm)
        memset(warm, 0, n);
    for (int k = 0; k < 3; k++) {
        char *b = fresh ? malloc(n) : warm;
        if (!b)
            break;
        int64_t t0 = gn_now_ns();
        memcpy(b, a, n);
        double t = (double)(gn_now_ns() - t0) * 1e-9;
        volatile char sink = b[n - 1];
        (void)sink;
        if (fresh)
            free(b);
        best = t < best ? t : best;
    }
    free(warm);
    free(a);
    return isfinite(best) ? (double)n / best / 1e9 : 1;
}

/* ========================== network ========================== */

/* One PING of LEN bytes to the node and its echo; seconds. */
static int ping(gn_conn *c, uint64_t id, const void *buf, size_t len, double *sec, double *send_cpu, gn_error *err)
{
    gn_frame f;
    const void *pl;
    int64_t t0 = gn_now_ns(), c0 = gn_thread_cpu_ns();
    int rc = gn_conn_send(c, GN_FRAME_PING, 0, id, buf, len, err);
    int64_t c1 = gn_thread_cpu_ns();
    if (rc == 0)
        rc = gn_conn_recv(c, &f, &pl, err);
    if (rc == 1)
        return gn_error_set(err, GN_EIO, "calibration: the node closed the connection");
    if (rc < 0)
        return rc;
    *sec = (double)(gn_now_ns() - t0) * 1e-9;
    if (send_cpu)
        *send_cpu = (double)(c1 - c0) * 1e-9;
    if (f.type != GN_FRAME_PING || f.request != id || f.length != len)
        return gn_error_set(err, GN_EPARSE, "calibration: expected the echo of ping %llu (%zu bytes), got a %s frame "
                            "of %llu bytes", (unsigned long long)id, len, gn_frame_name(f.type) ? gn_frame_name(f.type)
                            : "?", (unsigned long long)f.length);
    return 0;
}

/*
 * The link to a genie-node, through the node itself (PING frames, which
 * it echoes): one-way latency is half the median round trip of small
 * pings, wake-ups included (a blocked receiver is what a plan's replies
 * meet), less the sender's CPU per message (its own term in the
 * simulator); bandwidth each way from large pings, which cross twice:
 * 2 x size / (median round trip - small round trip).
 */
static int time_network(gn_conn *c, gn_calibration *out, gn_error *err)
{
    char small[64] = {0};
    double *rtt = malloc(PINGS * sizeof(double)), cpu = 0;
    if (!rtt)
        return gn_error_set(err, GN_ENOMEM, "calibration: out of memory");
    int rc = 0;
    for (int i = 0; i < PINGS && rc == 0; i++) {
        double sc;
        rc = ping(c, (uint64_t)i, small, sizeof(small), &rtt[i], &sc, err);
        cpu += sc;
    }
    double med_rtt = 0;
    if (rc == 0) {
        qsort(rtt, PINGS, sizeof(double), gn_cmp_double);
        med_rtt = rtt[PINGS / 2];
    }
    char *big = rc == 0 ? malloc(BIG_FRAME) : NULL;
    if (rc == 0 && !big)
        rc = gn_error_set(err, GN_ENOMEM, "calibration: out of memory");
    if (big)
        memset(big, 3, BIG_FRAME);
    /* large pings until BIG_FRAMES of them or a second has passed (a
     * slow link), at least 3 */
    double bt[BIG_FRAMES];
    int nb = 0;
    int64_t t_end = gn_now_ns() + 1000000000;
    while (rc == 0 && nb < BIG_FRAMES && (nb < 3 || gn_now_ns() < t_end)) {
        rc = ping(c, (uint64_t)(PINGS + nb), big, BIG_FRAME, &bt[nb], NULL, err);
        nb++;
    }
    free(big);
    free(rtt);
    if (rc < 0)
        return rc;
    qsort(bt, (size_t)nb, sizeof(double), gn_cmp_double);
    out->msg_overhead_us = cpu / PINGS * 1e6;
    out->net_latency_us = fmax(med_rtt / 2 - cpu / PINGS, 0) * 1e6;
    out->net_gbps = 2.0 * BIG_FRAME * 8 / fmax(bt[nb / 2] - med_rtt, 1e-9) / 1e9;
    return 0;
}

int gn_calibrate_exec(gn_session *const *s, uint32_t n, int median, FILE *log, gn_calibration *out, gn_error *err)
{
    memset(out, 0, sizeof(*out));
    if (log)
        fprintf(log, "calibrate: executor on %u sessions' ops\n", n);
    gn_calib_exec *x = gn_calib_exec_create(s, n, median, err);
    int rc = x ? 0 : err->code;
    for (int pass = 0; rc == 0 && pass <= TIMED; pass++) /* a warm-up, then TIMED runs */
        rc = gn_calib_exec_pass(x, err);
    if (rc == 0)
        rc = gn_calib_exec_finish(x, out, err);
    gn_calib_exec_destroy(x);
    return rc;
}

int gn_calibrate_rest(gn_conn *node, FILE *log, gn_calibration *out, gn_error *err)
{
    if (!node)
        return gn_error_set(err, GN_EINVAL, "calibration: no node to time the network against");
    int rc;
    if (log)
        fprintf(log, "calibrate: memory copy\n");
    out->memory_gbs = copy_gbs(0);
    out->fresh_copy_gbs = copy_gbs(1);
    if (log)
        fprintf(log, "calibrate: the network, pinging the node\n");
    if ((rc = time_network(node, out, err)) < 0)
        return rc;
    if (log) {
        fprintf(log, "  planrun's cost per task %.2f us, best matmul %.1f GFLOP/s, copy %.1f GB/s (%.1f into fresh memory)\n",
                out->launch_us, out->peak_gflops, out->memory_gbs, out->fresh_copy_gbs);
        for (int op = 0; op < GN_OP_COUNT; op++)
            if (out->op_gflops[op] > 0 || out->op_gbs[op] > 0)
                fprintf(log, "  %-14s %8.2f us + %8.2f GFLOP/s + %8.2f GB/s\n", gn_op_name((gn_op)op),
                        out->op_fixed_us[op], out->op_gflops[op], out->op_gbs[op]);
        fprintf(log, "  %u op signatures timed, %u of them kept as measured times\n", out->nsignatures,
                out->ntimes);
        fprintf(log, "  network %.2f Gb/s, one-way %.1f us, %.2f us CPU per message\n", out->net_gbps,
                out->net_latency_us, out->msg_overhead_us);
    }
    return 0;
}

int gn_calibration_save(const gn_calibration *c, const char *path, gn_error *err)
{
    json_t *ops = json_object(), *obw = json_object(), *ofx = json_object();
    for (int op = 0; op < GN_OP_COUNT; op++) {
        if (c->op_gflops[op] > 0)
            json_object_set_new(ops, gn_op_name((gn_op)op), json_real(c->op_gflops[op]));
        if (c->op_gbs[op] > 0)
            json_object_set_new(obw, gn_op_name((gn_op)op), json_real(c->op_gbs[op]));
        if (c->op_fixed_us[op] > 0)
            json_object_set_new(ofx, gn_op_name((gn_op)op), json_real(c->op_fixed_us[op]));
    }
    /* the executor is the "GPU" of the client and of the node alike */
    json_t *gpu = json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:O}", "peak_gflops_f32", c->peak_gflops,
                            "peak_gflops_f16", c->peak_gflops, "memory_gbs", c->memory_gbs, "efficiency_compute",
                            1.0, "efficiency_memory", 1.0, "launch_us", 0.0, "gpu_memory_gib", 8.0,
                            "op_gflops", ops);
    json_object_set(gpu, "op_gbs", obw);
    json_object_set(gpu, "op_fixed_us", ofx);
    json_t *fns = json_object();
    for (uint32_t k = 0; k < c->nfn; k++) {
        char key[64];
        snprintf(key, sizeof(key), "%s.%s", gn_op_name((gn_op)c->fn[k].op), c->fn[k].fn);
        json_object_set_new(fns, key, json_pack("[f,f,f]", c->fn[k].gflops, c->fn[k].gbs, c->fn[k].fixed_us));
    }
    json_object_set_new(gpu, "fn_costs", fns);
    json_t *times = json_array();
    for (uint32_t k = 0; k < c->ntimes; k++) {
        char key[64];
        snprintf(key, sizeof(key), "%s%s%s", gn_op_name((gn_op)c->times[k].op), c->times[k].fn[0] ? "." : "",
                 c->times[k].fn);
        json_array_append_new(times, json_pack("[s,f,f,f]", key, c->times[k].flops, c->times[k].bytes,
                                               c->times[k].s * 1e6));
    }
    json_object_set_new(gpu, "op_times", times);
    /* a host copy moves every byte twice, into buffers the executor
     * zeroed (touched) when it allocated them (see calibrate.h) */
    json_t *client = json_deep_copy(gpu), *nd = json_deep_copy(gpu);
    json_object_set_new(client, "cpu_gflops", json_real(c->peak_gflops));
    json_object_set_new(nd, "count", json_integer(1));
    json_object_set_new(nd, "gpus", json_integer(1));
    json_t *doc = json_pack("{s:s,s:o,s:o,s:{s:f,s:f,s:f},s:{s:f,s:f}}", "description",
                            "measured by genie-real --calibrate: the CPU executor as the accelerator of client and "
                            "node, the network to the node it was given (loopback TCP when it started one)",
                            "client", client, "node", nd, "network", "bandwidth_gbps", c->net_gbps, "latency_us",
                            c->net_latency_us, "msg_overhead_us", c->msg_overhead_us, "host_copy", "bandwidth_gbps",
                            c->memory_gbs * 8 / 2, "latency_us", c->launch_us);
    json_decref(gpu);
    json_decref(ops);
    json_decref(obw);
    json_decref(ofx);
    int rc = doc && json_dump_file(doc, path, JSON_INDENT(2) | JSON_SORT_KEYS) == 0
                 ? 0
                 : gn_error_set(err, GN_EIO, "cannot write %s", path);
    json_decref(doc);
    return rc;
}
