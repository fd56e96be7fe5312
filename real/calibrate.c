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
#include <pthread.h>
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
#include "strategy.h"

#define PINGS 2000
#define SMALL_SENDS 20000
#define BIG_FRAME ((size_t)8 << 20)
#define BIG_FRAMES 64

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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define TIMED 5 /* timed runs per session (after a warm-up); the fastest counts */

/* One op's sample: its class, GFLOP, GB and seconds. */
typedef struct sample {
    int op;
    char fn[24];      /* the node's attr fn ("relu"), "" when none */
    double f, m, t;   /* GFLOP, GB, s */
} sample;

/* A fit over the samples of OP (and, when FN is not NULL, of that fn):
 * the group's floor (its fastest op) and a least-squares fit of the rest
 * as f / F + m / B.  Returns 0 when the group is empty. */
static int fit(const sample *v, size_t nv, int op, const char *fn, double *gflops, double *gbs, double *floor_s)
{
    double floor_t = INFINITY, sff = 0, sfm = 0, smm = 0, fy = 0, my = 0;
    for (size_t i = 0; i < nv; i++)
        if (v[i].op == op && (!fn || !strcmp(v[i].fn, fn)) && v[i].t < floor_t)
            floor_t = v[i].t;
    if (!isfinite(floor_t))
        return 0;
    for (size_t i = 0; i < nv; i++) {
        if (v[i].op != op || (fn && strcmp(v[i].fn, fn)))
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
 * Runs each session's "local" plan through the real backend's own path
 * (gn_planrun on the CPU executor) 1 + TIMED times, fresh runner each
 * time; each task's median over the TIMED runs is a sample.  Per op class: a floor (the
 * fastest op of the class) plus a least-squares fit of the rest as
 * f / F + m / B; and the gap between consecutive ops (planrun's own
 * cost per task), which a CPU executor pays in series.
 */
static int time_executor(gn_session *const *ss, uint32_t n, gn_calibration *c, gn_error *err)
{
    sample *v = NULL;
    double *gaps = NULL, best_mm = 0;
    size_t nv = 0, cap = 0, ng = 0;
    gn_link nolink = {.send = no_send, .recv_begin = no_recv};
    int rc = 0;
    for (uint32_t w = 0; rc == 0 && w < n; w++) {
        gn_platform pf;
        gn_platform_default(&pf);
        gn_plan_input in = {.session = ss[w], .platform = &pf, .weights_resident = 1, .file = "calibrate",
                            .path = "$"};
        gn_plan *p;
        if ((rc = gn_strategy_plan("local", &in, &p, err)) < 0)
            break;
        uint32_t nt = gn_plan_ntasks(p);
        gn_task_time *tt = calloc((size_t)(nt ? nt : 1) * TIMED, sizeof(*tt));
        if (!tt || (nv + nt > cap && (cap = 2 * (nv + nt),
                                       !(v = realloc(v, cap * sizeof(*v))) ||
                                           !(gaps = realloc(gaps, cap * sizeof(*gaps)))))) {
            free(tt);
            gn_plan_destroy(p);
            rc = gn_error_set(err, GN_ENOMEM, "calibration: out of memory");
            break;
        }
        for (int pass = 0; rc == 0 && pass <= TIMED; pass++) { /* a warm-up, then TIMED runs */
            gn_runner *r = gn_runner_create_ex(gn_executor_cpu(), ss[w], 1, 0.25f, GN_RUNNER_PARTIAL, err);
            rc = r ? gn_outputs_client_run(p, r, &nolink, 1, NULL, tt + (size_t)nt * (pass ? pass - 1 : 0), err)
                   : err->code;
            gn_runner_destroy(r);
        }
        int64_t prev_end = 0;
        uint32_t prev_step = UINT32_MAX;
        for (uint32_t i = 0; rc == 0 && i < nt; i++) {
            const gn_task *t = gn_plan_task(p, i);
            if (t->kind != GN_TASK_COMPUTE)
                continue;
            const gn_node *nd = gn_graph_node(gn_session_step(ss[w], t->step), (uint32_t)t->node);
            double d[TIMED];
            for (int k = 0; k < TIMED; k++)
                d[k] = (double)(tt[(size_t)nt * k + i].end_ns - tt[(size_t)nt * k + i].start_ns) * 1e-9;
            qsort(d, TIMED, sizeof(double), cmp_double);
            double sec = d[0]; /* the fastest run: other processes only ever add time */
            v[nv] = (sample){nd->op, "", nd->flops * 1e-9, nd->bytes * 1e-9, sec};
            const char *fn = nd->attrs ? json_string_value(json_object_get(nd->attrs, "fn")) : NULL;
            if (fn)
                snprintf(v[nv].fn, sizeof(v[nv].fn), "%s", fn);
            nv++;
            if (t->step == prev_step)
                gaps[ng++] = (double)(tt[i].start_ns - prev_end) * 1e-9; /* first timed run */
            prev_end = tt[i].end_ns;
            prev_step = t->step;
            if (nd->op == GN_OP_MATMUL && sec > 0 && nd->flops / sec > best_mm)
                best_mm = nd->flops / sec;
        }
        free(tt);
        gn_plan_destroy(p);
    }
    if (rc < 0 || nv == 0) {
        free(v);
        free(gaps);
        return rc < 0 ? rc : gn_error_set(err, GN_EINVAL, "calibration: no op to time");
    }
    qsort(gaps, ng, sizeof(*gaps), cmp_double);
    double gap = ng ? gaps[ng / 2] : 0;
    for (int op = 0; op < GN_OP_COUNT; op++) {
        double fl = 0;
        if (!fit(v, nv, op, NULL, &c->op_gflops[op], &c->op_gbs[op], &fl))
            continue;
        c->op_fixed_us[op] = (fl + gap) * 1e6;
        if (c->op_gflops[op] == 0 && c->op_gbs[op] == 0)
            c->op_gbs[op] = 1e6; /* fixed cost only: a negligible bytes term keeps it "measured" */
    }
    /* and per function of an op (elementwise relu vs gelu, reduction sum
     * vs argmax), where a node says which */
    c->nfn = 0;
    for (size_t i = 0; i < nv && c->nfn < GN_MAX_FN_COSTS; i++) {
        int seen = !v[i].fn[0];
        for (uint32_t k = 0; k < c->nfn && !seen; k++)
            seen = c->fn[k].op == v[i].op && !strcmp(c->fn[k].fn, v[i].fn);
        if (seen)
            continue;
        double gf = 0, gb = 0, fl = 0; /* fit always finds v[i] itself */
        fit(v, nv, v[i].op, v[i].fn, &gf, &gb, &fl);
        c->fn[c->nfn].op = v[i].op;
        snprintf(c->fn[c->nfn].fn, sizeof(c->fn[0].fn), "%s", v[i].fn);
        c->fn[c->nfn].gflops = gf;
        c->fn[c->nfn].gbs = gb;
        c->fn[c->nfn].fixed_us = (fl + gap) * 1e6;
        c->nfn++;
    }
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

typedef struct peer {
    int lfd;
    int rc;
} peer;

/* The far end: echoes pings, drains small sends, acknowledges the bulk. */
static void *far_end(void *arg)
{
    peer *p = arg;
    int fd = accept(p->lfd, NULL, NULL), one = 1;
    if (fd < 0) {
        p->rc = -1;
        return NULL;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    gn_conn *c = gn_conn_create(fd, BIG_FRAME + 64);
    gn_frame f;
    const void *pl;
    gn_error err;
    p->rc = 0;
    for (int i = 0; i < PINGS && p->rc == 0; i++)
        if (gn_conn_recv(c, &f, &pl, &err) != 0 || gn_conn_send(c, GN_FRAME_DATA, 0, f.request, pl, (size_t)f.length,
                                                               &err) != 0)
            p->rc = -1;
    for (int i = 0; i < SMALL_SENDS && p->rc == 0; i++)
        if (gn_conn_recv(c, &f, &pl, &err) != 0)
            p->rc = -1;
    /* bulk: each payload lands in a fresh buffer, as a tensor in a step */
    for (int i = 0; i < BIG_FRAMES && p->rc == 0; i++) {
        char *dst = malloc(BIG_FRAME);
        if (!dst || gn_conn_recv(c, &f, &pl, &err) != 0)
            p->rc = -1;
        else
            memcpy(dst, pl, (size_t)f.length);
        free(dst);
    }
    if (p->rc == 0)
        gn_conn_send(c, GN_FRAME_DATA, 0, 0, NULL, 0, &err);
    gn_conn_destroy(c);
    return NULL;
}

static int time_network(gn_calibration *c, gn_error *err)
{
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    peer p = {socket(AF_INET, SOCK_STREAM, 0), 0};
    if (p.lfd < 0 || bind(p.lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(p.lfd, 1) < 0 ||
        getsockname(p.lfd, (struct sockaddr *)&sa, &len) < 0)
        return gn_error_set(err, GN_EIO, "loopback listen: %s", strerror(errno));
    pthread_t th;
    pthread_create(&th, NULL, far_end, &p);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        close(p.lfd);
        pthread_join(th, NULL);
        return gn_error_set(err, GN_EIO, "loopback connect: %s", strerror(errno));
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    gn_conn *cn = gn_conn_create(fd, BIG_FRAME + 64);
    char small[64] = {0};
    char *big = calloc(1, BIG_FRAME);
    gn_frame f;
    const void *pl;
    int rc = big ? 0 : GN_ENOMEM;
    /* latency: ping-pong; the median round trip, wake-ups included (a
     * blocked receiver is what a plan's replies meet) */
    double *rtt = malloc(PINGS * sizeof(double));
    if (!rtt)
        rc = GN_ENOMEM;
    for (int i = 0; i < PINGS && rc == 0; i++) {
        int64_t t0 = gn_now_ns();
        rc = gn_conn_send(cn, GN_FRAME_DATA, 0, (uint64_t)i, small, sizeof(small), err);
        if (rc == 0)
            rc = gn_conn_recv(cn, &f, &pl, err);
        rtt[i] = (double)(gn_now_ns() - t0) * 1e-9;
    }
    double med_rtt = 0;
    if (rc == 0) {
        qsort(rtt, PINGS, sizeof(double), cmp_double);
        med_rtt = rtt[PINGS / 2];
    }
    free(rtt);
    /* per-message CPU at the sender */
    int64_t cpu0 = gn_thread_cpu_ns();
    for (int i = 0; i < SMALL_SENDS && rc == 0; i++)
        rc = gn_conn_send(cn, GN_FRAME_DATA, 0, 0, small, sizeof(small), err);
    double per_msg = (double)(gn_thread_cpu_ns() - cpu0) * 1e-9 / SMALL_SENDS;
    /* bandwidth: bulk one way, then the acknowledgement */
    int64_t t0 = gn_now_ns();
    char *src = big ? malloc(BIG_FRAME) : NULL;
    if (src)
        memset(src, 3, BIG_FRAME);
    for (int i = 0; src && i < BIG_FRAMES && rc == 0; i++) {
        memcpy(big, src, BIG_FRAME); /* the tensor into the payload, as planrun does */
        rc = gn_conn_send(cn, GN_FRAME_DATA, 0, 0, big, BIG_FRAME, err);
    }
    free(src);
    if (rc == 0)
        rc = gn_conn_recv(cn, &f, &pl, err);
    double bulk = (double)(gn_now_ns() - t0) * 1e-9;
    gn_conn_destroy(cn);
    pthread_join(th, NULL);
    close(p.lfd);
    free(big);
    if (rc != 0 || p.rc != 0)
        return rc < 0 ? rc : gn_error_set(err, GN_EIO, "loopback measurement failed");
    c->msg_overhead_us = per_msg * 1e6;
    /* one way: half the round trip, less the sender's own cost */
    c->net_latency_us = fmax(med_rtt / 2 - per_msg, 0) * 1e6;
    c->net_gbps = (double)BIG_FRAME * BIG_FRAMES * 8 / bulk / 1e9;
    return 0;
}

int gn_calibrate(gn_session *const *s, uint32_t n, FILE *log, gn_calibration *out, gn_error *err)
{
    memset(out, 0, sizeof(*out));
    if (log)
        fprintf(log, "calibrate: executor on %u sessions' ops\n", n);
    int rc = time_executor(s, n, out, err);
    if (rc < 0)
        return rc;
    if (log)
        fprintf(log, "calibrate: memory copy\n");
    out->memory_gbs = copy_gbs(0);
    out->fresh_copy_gbs = copy_gbs(1);
    if (log)
        fprintf(log, "calibrate: loopback TCP\n");
    if ((rc = time_network(out, err)) < 0)
        return rc;
    if (log) {
        fprintf(log, "  planrun's cost per task %.2f us, best matmul %.1f GFLOP/s, copy %.1f GB/s (%.1f into fresh memory)\n",
                out->launch_us, out->peak_gflops, out->memory_gbs, out->fresh_copy_gbs);
        for (int op = 0; op < GN_OP_COUNT; op++)
            if (out->op_gflops[op] > 0 || out->op_gbs[op] > 0)
                fprintf(log, "  %-14s %8.2f us + %8.2f GFLOP/s + %8.2f GB/s\n", gn_op_name((gn_op)op),
                        out->op_fixed_us[op], out->op_gflops[op], out->op_gbs[op]);
        fprintf(log, "  loopback %.2f Gb/s, one-way %.1f us, %.2f us CPU per message\n", out->net_gbps,
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
    /* a host copy moves every byte twice, into buffers the executor
     * zeroed (touched) when it allocated them (see calibrate.h) */
    json_t *client = json_deep_copy(gpu), *nd = json_deep_copy(gpu);
    json_object_set_new(client, "cpu_gflops", json_real(c->peak_gflops));
    json_object_set_new(nd, "count", json_integer(1));
    json_object_set_new(nd, "gpus", json_integer(1));
    json_t *doc = json_pack("{s:s,s:o,s:o,s:{s:f,s:f,s:f},s:{s:f,s:f}}", "description",
                            "measured by genie-real --calibrate: the CPU executor as the accelerator of client and "
                            "node, loopback TCP as the network",
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
