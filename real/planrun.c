/*
 * planrun.c — one machine's share of a plan, executed for real (see
 * planrun.h).
 */
#include "planrun.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grow.h"

#define PAYLOAD_HDR 16u /* task, nitems, metadata bytes */
#define ITEM_HDR 16u    /* step, tensor, bytes */

int64_t gn_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t gn_thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

int64_t gn_planrun_payload_task(const void *payload, size_t len)
{
    return len < PAYLOAD_HDR ? -1 : (int64_t)get32(payload);
}

static int32_t machine_of(const gn_plan *p, int32_t dev)
{
    return gn_plan_device(p, (uint32_t)dev)->machine;
}

/* Bytes the items of task ID carry. */
static uint64_t item_bytes(const gn_plan *p, const gn_session *s, uint32_t id)
{
    const gn_item *it = gn_plan_items(p, id);
    uint64_t sum = 0;
    for (uint32_t k = 0; k < gn_plan_task(p, id)->nitems; k++)
        sum += gn_graph_tensor(gn_session_step(s, it[k].step), it[k].tensor)->bytes;
    return sum;
}

/* Whether machine M has something to do for task T (relays included). */
static int concerns(const gn_plan *p, const gn_task *t, int32_t m)
{
    if (t->kind == GN_TASK_COMPUTE)
        return machine_of(p, t->device) == m;
    int32_t a = machine_of(p, t->device), b = machine_of(p, t->dst);
    return a == m || b == m || (m == GN_MACHINE_CLIENT && a != b);
}

int gn_planrun_check(const gn_plan *p, const gn_session *s, uint32_t nodes, gn_error *err)
{
    for (uint32_t d = 0; d < gn_plan_ndevices(p); d++) {
        int32_t m = gn_plan_device(p, d)->machine;
        if (m < GN_MACHINE_CLIENT || m >= (int32_t)nodes)
            return gn_error_set(err, GN_EINVAL, "plan: device %s is on machine %d, but there are %u nodes",
                                gn_plan_device(p, d)->name, m, nodes);
    }
    /* one leaf per state storage and step: a runner makes a state leaf's buffer its
     * storage's current version, and a second leaf of the storage written in the same
     * step would free the first one's buffer under it */
    uint32_t nsto = gn_strtab_count(gn_session_storages(s));
    int64_t *seen = malloc((nsto ? nsto : 1) * sizeof(*seen));
    if (!seen)
        return gn_error_set(err, GN_ENOMEM, "plan check: out of memory");
    for (uint32_t k = 0; k < nsto; k++)
        seen[k] = -1;
    for (uint32_t st = 0; st < gn_session_nsteps(s); st++) {
        const gn_graph *g = gn_session_step(s, st);
        for (uint32_t i = 0; i < gn_graph_ntensors(g); i++) {
            const gn_tensor *t = gn_graph_tensor(g, i);
            if (t->kind != GN_KIND_STATE || t->producer >= 0 || t->storage < 0 || (uint32_t)t->storage >= nsto)
                continue;
            if (seen[t->storage] == (int64_t)st) {
                free(seen);
                return gn_error_set(err, GN_EUNSUPPORTED,
                                    "steps[%u]: state storage \"%s\" has more than one leaf tensor in the step; the real "
                                    "backend reads a state once per step",
                                    st, gn_graph_storage_name(g, t->storage));
            }
            seen[t->storage] = st;
        }
    }
    free(seen);
    int64_t *last = malloc(((size_t)nodes + 1) * sizeof(*last));
    if (!last)
        return gn_error_set(err, GN_ENOMEM, "plan check: out of memory");
    for (uint32_t m = 0; m <= nodes; m++)
        last[m] = -1;
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < gn_plan_ntasks(p); i++) {
        const gn_task *t = gn_plan_task(p, i);
        if (t->step >= gn_session_nsteps(s)) {
            rc = gn_error_set(err, GN_EINVAL, "plan: task %u (%s): step %u, the session has %u", i, t->label,
                              t->step, gn_session_nsteps(s));
            break;
        }
        const gn_graph *g = gn_session_step(s, t->step);
        if (t->kind == GN_TASK_COMPUTE && (t->node < 0 || (uint32_t)t->node >= gn_graph_nnodes(g)))
            rc = gn_error_set(err, GN_EUNSUPPORTED, "plan: task %u (%s): no graph node to run", i, t->label);
        const gn_item *it = gn_plan_items(p, i);
        for (uint32_t k = 0; rc == 0 && k < t->nitems; k++) {
            if (it[k].step >= gn_session_nsteps(s) ||
                it[k].tensor >= gn_graph_ntensors(gn_session_step(s, it[k].step)))
                rc = gn_error_set(err, GN_EINVAL, "plan: task %u (%s): item %u names no tensor", i, t->label, k);
            /* a runner holds one step's buffers at a time: reaching another step's tensor
             * while the payload is gathered would free the pieces already lent to it */
            else if (it[k].step != t->step)
                rc = gn_error_set(err, GN_EINVAL, "plan: task %u (%s) of step %u: item %u is a tensor of step %u", i,
                                  t->label, t->step, k, it[k].step);
        }
        uint64_t ib = rc == 0 && t->kind == GN_TASK_TRANSFER ? item_bytes(p, s, i) : 0;
        if (rc == 0 && t->kind == GN_TASK_TRANSFER && (double)ib > t->bytes + 0.5)
            rc = gn_error_set(err, GN_EINVAL, "plan: task %u (%s): its items hold %llu bytes, more than its %.0f",
                              i, t->label, (unsigned long long)ib, t->bytes);
        /* the bytes beyond the items (requests, step plans, call arguments) are sent
         * from a buffer of their size: bounded, so a plan cannot make a node allocate
         * what its --max-memory reservation does not count */
        if (rc == 0 && t->kind == GN_TASK_TRANSFER && t->bytes - (double)ib > GN_PLANRUN_MAX_META)
            rc = gn_error_set(err, GN_EINVAL,
                              "plan: task %u (%s): %.0f bytes beyond its tensors, more than the %u of metadata a "
                              "transfer may carry",
                              i, t->label, t->bytes - (double)ib, (unsigned)GN_PLANRUN_MAX_META);
        for (int32_t m = GN_MACHINE_CLIENT; rc == 0 && m < (int32_t)nodes; m++) {
            if (!concerns(p, t, m))
                continue;
            if ((int64_t)t->step < last[m + 1])
                rc = gn_error_set(err, GN_EUNSUPPORTED,
                                  "plan: task %u (%s) of step %u comes after step %lld on machine %d: the real "
                                  "backend runs one step at a time per machine",
                                  i, t->label, t->step, (long long)last[m + 1], m);
            last[m + 1] = t->step;
        }
    }
    free(last);
    return rc;
}

/* ========================== running ========================== */

typedef struct run {
    const gn_plan *p;
    const gn_session *s;
    gn_runner *r;
    int32_t m;
    const gn_link *link;
    unsigned char *buf; /* scratch: a payload being built, or one tensor */
    uint64_t cap64;
    struct iovec *iov;  /* the payload being sent, in pieces */
    const void **src;   /* per item: its bytes in place, or NULL */
    uint64_t capiov;
    int niov;
} run;

static int reserve(run *x, uint64_t bytes)
{
    if (bytes <= x->cap64)
        return 0;
    unsigned char *b = realloc(x->buf, bytes);
    if (!b)
        return GN_ENOMEM;
    x->buf = b;
    x->cap64 = bytes;
    return 0;
}

static uint64_t tensor_bytes(const run *x, const gn_item *it)
{
    return gn_graph_tensor(gn_session_step(x->s, it->step), it->tensor)->bytes;
}

/*
 * Gathers the DATA payload of task ID into X->iov: the headers and any
 * tensor the executor cannot lend in the scratch buffer, the others read
 * in place (zero copy).  Returns the payload's length, or < 0.
 */
static int64_t gather_payload(run *x, uint32_t id, gn_error *err)
{
    const gn_task *t = gn_plan_task(x->p, id);
    const gn_item *it = gn_plan_items(x->p, id);
    uint64_t data = item_bytes(x->p, x->s, id);
    uint64_t meta = t->bytes > (double)data ? (uint64_t)(t->bytes - (double)data + 0.5) : 0;
    uint32_t n = t->nitems;
    if ((uint64_t)2 * n + 2 > x->capiov) {
        struct iovec *v = realloc(x->iov, ((size_t)2 * n + 2) * sizeof(*v));
        const void **src = realloc(x->src, ((size_t)n + 1) * sizeof(*src));
        if (v)
            x->iov = v;
        if (src)
            x->src = src;
        if (!v || !src)
            return gn_error_set(err, GN_ENOMEM, "out of memory");
        x->capiov = (uint64_t)2 * n + 2;
    }
    uint64_t copied = 0;
    for (uint32_t k = 0; k < n; k++) {
        gn_error ignored;
        x->src[k] = gn_runner_host_src(x->r, it[k].step, it[k].tensor, (size_t)tensor_bytes(x, &it[k]), &ignored);
        if (!x->src[k])
            copied += tensor_bytes(x, &it[k]);
    }
    uint64_t hdrs = PAYLOAD_HDR + (uint64_t)n * ITEM_HDR;
    if (reserve(x, hdrs + copied + meta) < 0)
        return gn_error_set(err, GN_ENOMEM, "out of memory for a %llu-byte payload",
                            (unsigned long long)(hdrs + copied + meta));
    unsigned char *h = x->buf, *c = x->buf + hdrs;
    put32(h, id);
    put32(h + 4, n);
    put64(h + 8, meta);
    int niov = 0;
    x->iov[niov++] = (struct iovec){h, PAYLOAD_HDR};
    for (uint32_t k = 0; k < n; k++) {
        uint64_t b = tensor_bytes(x, &it[k]);
        unsigned char *ih = h + PAYLOAD_HDR + (size_t)k * ITEM_HDR;
        put32(ih, it[k].step);
        put32(ih + 4, it[k].tensor);
        put64(ih + 8, b);
        const void *d = x->src[k];
        if (!d) {
            int rc = gn_runner_read(x->r, it[k].step, it[k].tensor, c, (size_t)b, err);
            if (rc < 0)
                return rc;
            d = c;
            c += b;
        }
        /* item header and data: merge with the previous piece where they touch */
        x->iov[niov++] = (struct iovec){ih, ITEM_HDR};
        x->iov[niov++] = (struct iovec){(void *)d, (size_t)b};
    }
    memset(c, 0, (size_t)meta);
    x->iov[niov++] = (struct iovec){c, (size_t)meta};
    x->niov = niov;
    return (int64_t)(hdrs + data + meta);
}

/* Receives the DATA payload of task ID from machine FROM piece by piece:
 * each tensor straight into the runner where it can lend its memory. */
/* The metadata bytes task ID's payload carries (its bytes beyond its items). */
static uint64_t meta_bytes(const run *x, uint32_t id)
{
    const gn_task *t = gn_plan_task(x->p, id);
    uint64_t data = item_bytes(x->p, x->s, id);
    return t->bytes > (double)data ? (uint64_t)(t->bytes - (double)data + 0.5) : 0;
}

/* Reads and checks the 16-byte head of task ID's payload. */
static int stream_head(run *x, uint32_t id, int32_t from, unsigned char hdr[PAYLOAD_HDR], gn_task_time *tt,
                       gn_error *err)
{
    const gn_link *l = x->link;
    size_t first;
    int rc = l->recv_begin(l->ctx, from, id, &first, err);
    if (tt)
        tt->start_ns = gn_now_ns(); /* the header is here; the sender knows when it started */
    if (rc == 0)
        rc = l->recv_read(l->ctx, hdr, PAYLOAD_HDR, err);
    if (rc == 0 && (get32(hdr) != id || get32(hdr + 4) != gn_plan_task(x->p, id)->nitems ||
                    get64(hdr + 8) != meta_bytes(x, id)))
        rc = gn_error_set(err, GN_EPARSE, "data payload does not match task %u (items or metadata)", id);
    return rc;
}

/* Receives the DATA payload of task ID from machine FROM piece by piece
 * (across MORE frames): each tensor straight into the runner where it
 * can lend its memory.  The plan says how many bytes come. */
static int take_stream(run *x, uint32_t id, int32_t from, gn_task_time *tt, gn_error *err)
{
    const gn_task *t = gn_plan_task(x->p, id);
    const gn_item *it = gn_plan_items(x->p, id);
    const gn_link *l = x->link;
    unsigned char hdr[PAYLOAD_HDR];
    int rc = stream_head(x, id, from, hdr, tt, err);
    for (uint32_t k = 0; rc == 0 && k < t->nitems; k++) {
        uint64_t b = tensor_bytes(x, &it[k]);
        unsigned char ih[ITEM_HDR];
        if ((rc = l->recv_read(l->ctx, ih, ITEM_HDR, err)) < 0)
            break;
        if (get32(ih) != it[k].step || get32(ih + 4) != it[k].tensor || get64(ih + 8) != b) {
            rc = gn_error_set(err, GN_EPARSE, "data payload: item %u is not steps[%u].tensors[%u] of %llu bytes", k,
                              it[k].step, it[k].tensor, (unsigned long long)b);
            break;
        }
        gn_error ignored;
        void *dst = gn_runner_host_dst(x->r, it[k].step, it[k].tensor, (size_t)b, &ignored);
        if (dst) {
            rc = l->recv_read(l->ctx, dst, (size_t)b, err);
        } else if (reserve(x, b ? b : 1) < 0) {
            rc = gn_error_set(err, GN_ENOMEM, "out of memory");
        } else if ((rc = l->recv_read(l->ctx, x->buf, (size_t)b, err)) == 0) {
            rc = gn_runner_write(x->r, it[k].step, it[k].tensor, x->buf, (size_t)b, err);
        }
    }
    for (uint64_t left = meta_bytes(x, id); rc == 0 && left > 0;) { /* metadata: read and dropped */
        size_t piece = left < 65536 ? (size_t)left : 65536;
        if (reserve(x, piece) < 0)
            rc = gn_error_set(err, GN_ENOMEM, "out of memory");
        else
            rc = l->recv_read(l->ctx, x->buf, piece, err);
        left -= piece;
    }
    if (rc == 0)
        rc = l->recv_end(l->ctx, err);
    return rc;
}

/* The client between two nodes: task ID's payload, whole, from FROM to TO. */
static int relay(run *x, uint32_t id, int32_t from, int32_t to, gn_error *err)
{
    const gn_link *l = x->link;
    uint64_t total = PAYLOAD_HDR + (uint64_t)gn_plan_task(x->p, id)->nitems * ITEM_HDR + item_bytes(x->p, x->s, id) +
                     meta_bytes(x, id);
    if (reserve(x, total) < 0)
        return gn_error_set(err, GN_ENOMEM, "out of memory for a %llu-byte relay", (unsigned long long)total);
    int rc = stream_head(x, id, from, x->buf, NULL, err);
    if (rc == 0)
        rc = l->recv_read(l->ctx, x->buf + PAYLOAD_HDR, (size_t)(total - PAYLOAD_HDR), err);
    if (rc == 0)
        rc = l->recv_end(l->ctx, err);
    struct iovec iov = {x->buf, (size_t)total};
    return rc < 0 ? rc : l->send(l->ctx, to, id, &iov, 1, (size_t)total, err);
}

/* A copy inside the machine: each item through host memory and back. */
static int local_copy(run *x, uint32_t id, gn_error *err)
{
    const gn_task *t = gn_plan_task(x->p, id);
    const gn_item *it = gn_plan_items(x->p, id);
    for (uint32_t k = 0; k < t->nitems; k++) {
        uint64_t b = tensor_bytes(x, &it[k]);
        if (reserve(x, b ? b : 1) < 0)
            return gn_error_set(err, GN_ENOMEM, "out of memory");
        int rc = gn_runner_read(x->r, it[k].step, it[k].tensor, x->buf, (size_t)b, err);
        if (rc == 0)
            rc = gn_runner_write(x->r, it[k].step, it[k].tensor, x->buf, (size_t)b, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int do_task(run *x, uint32_t id, gn_task_time *tt, gn_error *err)
{
    const gn_task *t = gn_plan_task(x->p, id);
    int rc = 0;
    /* CPU time of transfers only (a syscall each: too dear per op; a
     * compute task's CPU is the executor's); blocking waits cost none */
    int64_t cpu0 = t->kind == GN_TASK_TRANSFER ? gn_thread_cpu_ns() : 0;
    tt->start_ns = gn_now_ns();
    if (t->kind == GN_TASK_COMPUTE) {
        rc = gn_runner_run_node(x->r, t->step, (uint32_t)t->node, err);
    } else {
        int32_t a = machine_of(x->p, t->device), b = machine_of(x->p, t->dst);
        if (a == b) {
            rc = local_copy(x, id, err);
        } else if (a == x->m) {
            int64_t n = gather_payload(x, id, err);
            rc = n < 0 ? (int)n : x->link->send(x->link->ctx, b, id, x->iov, x->niov, (size_t)n, err);
        } else if (b == x->m && gn_runner_prepare(x->r, t->step, err) < 0) {
            rc = err->code; /* the step's buffers are made before the wait, not inside the transfer */
        } else if (b == x->m) {
            rc = take_stream(x, id, a, tt, err);
        } else { /* the client relays node -> node */
            rc = relay(x, id, a, b, err);
        }
    }
    tt->end_ns = gn_now_ns();
    tt->cpu_ns = t->kind == GN_TASK_TRANSFER ? gn_thread_cpu_ns() - cpu0 : 0;
    return rc;
}

int gn_planrun(const gn_plan *p, gn_runner *r, int32_t machine, const gn_link *link, gn_step_hook hook,
               void *hctx, gn_task_time *times, gn_error *err)
{
    run x = {p, gn_runner_session(r), r, machine, link, NULL, 0, NULL, NULL, 0, 0};
    int64_t step = -1;
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < gn_plan_ntasks(p); i++) {
        const gn_task *t = gn_plan_task(p, i);
        gn_task_time tt = {0, 0, 0};
        if (!concerns(p, t, machine)) {
            if (times)
                times[i] = tt;
            continue;
        }
        if ((int64_t)t->step > step && hook) {
            if ((rc = hook(hctx, r, t->step, err)) < 0)
                break;
        }
        if ((int64_t)t->step > step)
            step = t->step;
        gn_error sub;
        gn_error_clear(&sub);
        rc = do_task(&x, i, &tt, &sub);
        if (rc < 0)
            gn_error_set(err, rc, "task %u (%s): %s", i, t->label, sub.msg);
        if (times)
            times[i] = tt;
    }
    free(x.buf);
    free(x.iov);
    free(x.src);
    return rc;
}
