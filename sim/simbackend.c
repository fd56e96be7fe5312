/*
 * simbackend.c — plan execution on SimGrid (see simbackend.h).
 *
 * Synchronisation: every actor that waits for a task waits on one
 * condition variable; each task completion notifies all.  Actors are few
 * (a handful per platform), so waking them all is cheap, and actors visit
 * their tasks in plan order, so the lowest unfinished task can always make
 * progress: dependencies point to earlier tasks only (plan.h).
 */
#include "simbackend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <simgrid/actor.h>
#include <simgrid/comm.h>
#include <simgrid/cond.h>
#include <simgrid/engine.h>
#include <simgrid/host.h>
#include <simgrid/mailbox.h>
#include <simgrid/mutex.h>
#include <xbt/log.h>

#define CPU_SPEED 1e9   /* work units per second of CPU hosts */

/* ========================== platform ========================== */

typedef struct host_desc {
    char name[48];
    int machine;   /* -1 client, else node index */
    int is_gpu;
    double speed;  /* work units per second */
} host_desc;

static int list_hosts(const gn_platform *pf, host_desc **out)
{
    uint32_t n = 2 + pf->nodes * (1 + pf->gpus_per_node);
    host_desc *h = calloc(n, sizeof(*h));
    if (!h)
        return GN_ENOMEM;
    uint32_t k = 0;
    h[k++] = (host_desc){"client", -1, 0, CPU_SPEED};
    h[k] = (host_desc){"client.gpu0", -1, 1, 0};
    h[k++].speed = gn_gpu_peak(&pf->client_gpu, GN_DTYPE_F16) * pf->client_gpu.eff_compute;
    for (uint32_t i = 0; i < pf->nodes; i++) {
        h[k].machine = (int)i;
        h[k].speed = CPU_SPEED;
        snprintf(h[k++].name, sizeof(h->name), "node%u", i);
        for (uint32_t j = 0; j < pf->gpus_per_node; j++) {
            h[k].machine = (int)i;
            h[k].is_gpu = 1;
            h[k].speed = gn_gpu_peak(&pf->gpu, GN_DTYPE_F16) * pf->gpu.eff_compute;
            snprintf(h[k++].name, sizeof(h->name), "node%u.gpu%u", i, j);
        }
    }
    *out = h;
    return (int)k;
}

static void machine_name(int m, char *buf, size_t len)
{
    if (m < 0)
        snprintf(buf, len, "client");
    else
        snprintf(buf, len, "node%d", m);
}

int gn_sim_write_platform(const gn_platform *pf, const char *path,
                          gn_error *err)
{
    host_desc *h;
    int n = list_hosts(pf, &h);
    if (n < 0)
        return gn_error_set(err, n, "sim: out of memory");
    FILE *f = fopen(path, "w");
    if (!f) {
        free(h);
        return gn_error_set(err, GN_EIO, "%s: cannot write platform: %s", path, strerror(errno));
    }
    fprintf(f, "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
               "<platform version=\"4.1\">\n<zone id=\"genie\" routing=\"Full\">\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "  <host id=\"%s\" speed=\"%.17gf\" core=\"4\"/>\n", h[i].name, h[i].speed);
    /* NICs: half the latency each, so a client-node route has the full one */
    fprintf(f, "  <link id=\"nic.client\" bandwidth=\"%.17gBps\" latency=\"%.17gs\" sharing_policy=\"SPLITDUPLEX\"/>\n",
            pf->net_bw, pf->net_latency / 2);
    fprintf(f, "  <link id=\"pcie.client\" bandwidth=\"%.17gBps\" latency=\"%.17gs\" sharing_policy=\"SPLITDUPLEX\"/>\n",
            pf->pcie_bw, pf->pcie_latency);
    for (uint32_t i = 0; i < pf->nodes; i++) {
        fprintf(f, "  <link id=\"nic.node%u\" bandwidth=\"%.17gBps\" latency=\"%.17gs\" sharing_policy=\"SPLITDUPLEX\"/>\n",
                i, pf->net_bw, pf->net_latency / 2);
        fprintf(f, "  <link id=\"pcie.node%u\" bandwidth=\"%.17gBps\" latency=\"%.17gs\" sharing_policy=\"SPLITDUPLEX\"/>\n",
                i, pf->pcie_bw, pf->pcie_latency);
        fprintf(f, "  <link id=\"nvlink.node%u\" bandwidth=\"%.17gBps\" latency=\"1e-6s\" sharing_policy=\"SPLITDUPLEX\"/>\n",
                i, pf->nvlink_bw);
    }
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            if (a == b)
                continue;
            char ma[16], mb[16];
            machine_name(h[a].machine, ma, sizeof(ma));
            machine_name(h[b].machine, mb, sizeof(mb));
            /* one direction of each full-duplex link per orientation */
            const char *dir = a < b ? "UP" : "DOWN";
            fprintf(f, "  <route src=\"%s\" dst=\"%s\" symmetrical=\"NO\">", h[a].name, h[b].name);
            if (h[a].machine != h[b].machine)
                fprintf(f, "<link_ctn id=\"nic.%s\" direction=\"UP\"/><link_ctn id=\"nic.%s\" direction=\"DOWN\"/>", ma, mb);
            else if (h[a].is_gpu && h[b].is_gpu)
                fprintf(f, "<link_ctn id=\"nvlink.%s\" direction=\"%s\"/>", ma, dir);
            else
                fprintf(f, "<link_ctn id=\"pcie.%s\" direction=\"%s\"/>", ma, dir);
            fprintf(f, "</route>\n");
        }
    fprintf(f, "</zone>\n</platform>\n");
    int bad = ferror(f);
    bad |= fclose(f);
    free(h);
    if (bad)
        return gn_error_set(err, GN_EIO, "%s: cannot write platform", path);
    return 0;
}

/* ========================== plan execution ========================== */

typedef struct sim {
    const gn_plan *plan;
    double *start, *end;       /* per task, s */
    unsigned char *issued;     /* per task: issue cost paid */
    unsigned char *done;       /* per task: finished */
    double *speed;             /* per device: host speed */
    sg_mutex_t mutex;
    sg_cond_t cond;
} sim;

static sim S;

typedef struct actor_arg {
    int32_t device;  /* device whose tasks this actor handles */
    int32_t peer;    /* receiver/pump: destination device, else -1 */
    int role;        /* ROLE_* */
} actor_arg;

enum { ROLE_ISSUER, ROLE_STREAM, ROLE_PUMP, ROLE_RECEIVER };

static int deps_done(uint32_t t, int transfers_only)
{
    const gn_task *task = gn_plan_task(S.plan, t);
    const int32_t *deps = gn_plan_deps(S.plan, t);
    for (uint32_t i = 0; i < task->ndeps; i++) {
        if (transfers_only && gn_plan_task(S.plan, (uint32_t)deps[i])->kind != GN_TASK_TRANSFER)
            continue;
        if (!S.done[deps[i]])
            return 0;
    }
    return 1;
}

/* Blocks until task T's dependencies are done (and it is issued). */
static void wait_ready(uint32_t t, int transfers_only, int need_issue)
{
    sg_mutex_lock(S.mutex);
    while (!deps_done(t, transfers_only) || (need_issue && !S.issued[t]))
        sg_cond_wait(S.cond, S.mutex);
    sg_mutex_unlock(S.mutex);
}

static void notify(unsigned char *flags, uint32_t t)
{
    sg_mutex_lock(S.mutex);
    flags[t] = 1;
    sg_cond_notify_all(S.cond);
    sg_mutex_unlock(S.mutex);
}

static void mailbox_name(int32_t src, int32_t dst, char *buf, size_t len)
{
    snprintf(buf, len, "%d->%d", src, dst);
}

static void actor_main(int argc, char **argv)
{
    const actor_arg *a = sg_actor_self_get_data();
    uint32_t n = gn_plan_ntasks(S.plan);
    char mb[32];
    (void)argc;
    (void)argv;
    switch (a->role) {
    case ROLE_ISSUER:
        for (uint32_t t = 0; t < n; t++) {
            const gn_task *k = gn_plan_task(S.plan, t);
            if (k->issuer != a->device)
                continue;
            /* a launch waits for its request to arrive, a send for its data */
            wait_ready(t, k->kind == GN_TASK_COMPUTE, 0);
            if (k->issue_s > 0)
                sg_actor_execute(k->issue_s * S.speed[a->device]);
            notify(S.issued, t);
        }
        break;
    case ROLE_STREAM:
        for (uint32_t t = 0; t < n; t++) {
            const gn_task *k = gn_plan_task(S.plan, t);
            if (k->kind != GN_TASK_COMPUTE || k->device != a->device)
                continue;
            wait_ready(t, 0, k->issuer >= 0);
            S.start[t] = simgrid_get_clock();
            if (k->seconds > 0)
                sg_actor_execute(k->seconds * S.speed[a->device]);
            S.end[t] = simgrid_get_clock();
            notify(S.done, t);
        }
        break;
    case ROLE_PUMP:
        for (uint32_t t = 0; t < n; t++) {
            const gn_task *k = gn_plan_task(S.plan, t);
            if (k->kind != GN_TASK_TRANSFER || k->device != a->device)
                continue;
            wait_ready(t, 0, k->issuer >= 0);
            S.start[t] = simgrid_get_clock();
            mailbox_name(k->device, k->dst, mb, sizeof(mb));
            /* payload: the task index, offset by one (never NULL) */
            sg_comm_t c = sg_mailbox_put_init(sg_mailbox_by_name(mb), (void *)(uintptr_t)(t + 1),
                                              (long)(k->bytes > 1 ? k->bytes : 1));
            sg_comm_detach(c, NULL);
        }
        break;
    case ROLE_RECEIVER: {
        mailbox_name(a->device, a->peer, mb, sizeof(mb));
        sg_mailbox_t box = sg_mailbox_by_name(mb);
        sg_mailbox_set_receiver(mb);
        for (uint32_t t = 0; t < n; t++) {
            const gn_task *k = gn_plan_task(S.plan, t);
            if (k->kind != GN_TASK_TRANSFER || k->device != a->device || k->dst != a->peer)
                continue;
            uintptr_t got = (uintptr_t)sg_mailbox_get(box);
            uint32_t id = (uint32_t)(got - 1);
            S.end[id] = simgrid_get_clock();
            notify(S.done, id);
        }
        break;
    }
    }
}

static void spawn(const char *host, actor_arg *arg, const char *name)
{
    sg_actor_t act = sg_actor_init(name, sg_host_by_name(host));
    sg_actor_set_data(act, arg);
    sg_actor_start(act, actor_main, 0, NULL);
}

int gn_sim_run(const gn_plan *plan, const gn_platform *pf, double *start,
               double *end, gn_error *err)
{
    uint32_t n = gn_plan_ntasks(plan), nd = gn_plan_ndevices(plan);
    char xml[] = "/tmp/genie-platform-XXXXXX";
    int fd = mkstemp(xml);
    if (fd < 0)
        return gn_error_set(err, GN_EIO, "sim: cannot create a temporary platform file: %s", strerror(errno));
    close(fd);
    int rc = gn_sim_write_platform(pf, xml, err);
    if (rc < 0) {
        unlink(xml);
        return rc;
    }

    /* a fixed network model that reproduces L + S/B (simbackend.h) */
    char *argv[] = {"genie-sim",
                    "--cfg=network/model:CM02",
                    "--cfg=network/TCP-gamma:0",
                    "--cfg=network/latency-factor:1",
                    "--cfg=network/bandwidth-factor:1",
                    "--cfg=network/crosstraffic:0",
                    "--log=root.thres:critical",
                    NULL};
    int argc = 7;
    xbt_log_control_set("root.thres:critical");
    simgrid_init(&argc, argv);
    simgrid_load_platform(xml);
    unlink(xml);

    memset(&S, 0, sizeof(S));
    S.plan = plan;
    S.start = start;
    S.end = end;
    S.issued = calloc((size_t)n + 1, 1);
    S.done = calloc((size_t)n + 1, 1);
    S.speed = calloc((size_t)nd + 1, sizeof(double));
    /* actor args: per device issuer + stream + pump, per pair a receiver */
    actor_arg *args = calloc((size_t)nd * (3 + nd) + 1, sizeof(*args));
    unsigned char *pairs = calloc((size_t)nd * nd + 1, 1);
    unsigned char *roles = calloc((size_t)nd * 3 + 1, 1);
    if (!S.issued || !S.done || !S.speed || !args || !pairs || !roles) {
        rc = gn_error_set(err, GN_ENOMEM, "sim: out of memory");
        goto out;
    }
    for (uint32_t d = 0; d < nd; d++) {
        sg_host_t h = sg_host_by_name(gn_plan_device(plan, d)->name);
        if (!h) {
            rc = gn_error_set(err, GN_EBACKEND, "sim: plan device \"%s\" is not a host of the platform",
                              gn_plan_device(plan, d)->name);
            goto out;
        }
        S.speed[d] = sg_host_get_speed(h);
    }
    for (uint32_t t = 0; t < n; t++) {
        const gn_task *k = gn_plan_task(plan, t);
        if (k->issuer >= 0)
            roles[k->issuer * 3 + ROLE_ISSUER] = 1;
        if (k->kind == GN_TASK_COMPUTE)
            roles[k->device * 3 + ROLE_STREAM] = 1;
        else {
            roles[k->device * 3 + ROLE_PUMP] = 1;
            pairs[k->device * nd + k->dst] = 1;
        }
    }
    S.mutex = sg_mutex_init();
    S.cond = sg_cond_init();
    uint32_t na = 0;
    for (uint32_t d = 0; d < nd; d++) {
        const char *host = gn_plan_device(plan, d)->name;
        for (int r = ROLE_ISSUER; r <= ROLE_PUMP; r++)
            if (roles[d * 3 + r]) {
                args[na] = (actor_arg){(int32_t)d, -1, r};
                spawn(host, &args[na++], r == ROLE_ISSUER ? "issuer" : r == ROLE_STREAM ? "stream" : "pump");
            }
        for (uint32_t e = 0; e < nd; e++)
            if (pairs[d * nd + e]) {
                args[na] = (actor_arg){(int32_t)d, (int32_t)e, ROLE_RECEIVER};
                spawn(gn_plan_device(plan, e)->name, &args[na++], "receiver");
            }
    }
    simgrid_run();
    for (uint32_t t = 0; t < n; t++)
        if (!S.done[t]) {
            rc = gn_error_set(err, GN_EBACKEND, "sim: task %u (%s) never ran: the plan deadlocked",
                              t, gn_plan_task(plan, t)->label);
            break;
        }
out:
    free(S.issued);
    free(S.done);
    free(S.speed);
    free(args);
    free(pairs);
    free(roles);
    return rc;
}

/* ========================== child-process jobs ========================== */

struct gn_sim_job {
    int pid;          /* child process */
    char path[64];    /* result file */
    uint32_t ntasks;  /* expected number of tasks */
};

typedef struct job_header {
    int32_t rc;       /* child's result code */
    uint32_t ntasks;  /* number of (start, end) pairs that follow */
    char msg[512];    /* child's error message */
} job_header;

gn_sim_job *gn_sim_start(const gn_plan *plan, const gn_platform *pf,
                         gn_error *err)
{
    gn_sim_job *job = calloc(1, sizeof(*job));
    if (!job) {
        gn_error_set(err, GN_ENOMEM, "sim: out of memory");
        return NULL;
    }
    snprintf(job->path, sizeof(job->path), "/tmp/genie-sim-XXXXXX");
    int fd = mkstemp(job->path);
    if (fd < 0) {
        gn_error_set(err, GN_EIO, "sim: cannot create a result file: %s", strerror(errno));
        free(job);
        return NULL;
    }
    job->ntasks = gn_plan_ntasks(plan);
    fflush(NULL);
    job->pid = fork();
    if (job->pid < 0) {
        gn_error_set(err, GN_EBACKEND, "sim: cannot fork: %s", strerror(errno));
        close(fd);
        unlink(job->path);
        free(job);
        return NULL;
    }
    if (job->pid == 0) {
        /* child: simulate, write header + times, leave without atexit */
        uint32_t n = job->ntasks;
        double *t = calloc(2 * (size_t)n + 1, sizeof(double));
        job_header h;
        gn_error e;
        memset(&h, 0, sizeof(h));
        gn_error_clear(&e);
        h.rc = t ? gn_sim_run(plan, pf, t, t + n, &e) : GN_ENOMEM;
        h.ntasks = n;
        snprintf(h.msg, sizeof(h.msg), "%s", e.msg);
        FILE *f = fdopen(fd, "wb");
        int ok = f && fwrite(&h, sizeof(h), 1, f) == 1 &&
                 (h.rc < 0 || fwrite(t, sizeof(double), 2 * (size_t)n, f) == 2 * (size_t)n);
        ok &= f && fclose(f) == 0;
        _exit(ok ? 0 : 1);
    }
    close(fd);
    return job;
}

int gn_sim_job_pid(const gn_sim_job *job)
{
    return job->pid;
}

int gn_sim_finish(gn_sim_job *job, int status, double *start, double *end,
                  gn_error *err)
{
    int rc = 0;
    if (status < 0 && waitpid(job->pid, &status, 0) < 0)
        rc = gn_error_set(err, GN_EBACKEND, "sim: lost the child process: %s", strerror(errno));
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        rc = gn_error_set(err, GN_EBACKEND, "sim: the simulation process %s (status %d)",
                          WIFSIGNALED(status) ? "crashed" : "failed", status);
    FILE *f = rc == 0 ? fopen(job->path, "rb") : NULL;
    job_header h;
    if (rc == 0 && (!f || fread(&h, sizeof(h), 1, f) != 1 || h.ntasks != job->ntasks))
        rc = gn_error_set(err, GN_EIO, "sim: cannot read the simulation results");
    if (rc == 0 && h.rc < 0)
        rc = gn_error_set(err, h.rc, "%s", h.msg);
    if (rc == 0) {
        double *t = malloc(2 * (size_t)h.ntasks * sizeof(double) + 1);
        if (!t || fread(t, sizeof(double), 2 * (size_t)h.ntasks, f) != 2 * (size_t)h.ntasks)
            rc = gn_error_set(err, GN_EIO, "sim: truncated simulation results");
        else {
            memcpy(start, t, h.ntasks * sizeof(double));
            memcpy(end, t + h.ntasks, h.ntasks * sizeof(double));
        }
        free(t);
    }
    if (f)
        fclose(f);
    unlink(job->path);
    free(job);
    return rc;
}
