/*
 * outputs.c — captured outputs and parity (see outputs.h).
 */
#include "outputs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "half.h"

typedef struct captured {
    uint32_t step, tensor;
    uint64_t bytes;
    gn_dtype dtype;
    unsigned char *data; /* owned */
} captured;

struct gn_outputs {
    const gn_session *s;
    captured *v;
    uint32_t n, cap;
};

gn_outputs *gn_outputs_create(const gn_session *s)
{
    gn_outputs *o = calloc(1, sizeof(*o));
    if (o)
        o->s = s;
    return o;
}

void gn_outputs_destroy(gn_outputs *o)
{
    if (!o)
        return;
    for (uint32_t i = 0; i < o->n; i++)
        free(o->v[i].data);
    free(o->v);
    free(o);
}

static int wanted(const gn_graph *g, uint32_t t)
{
    if (gn_graph_tensor(g, t)->kind == GN_KIND_OUTPUT)
        return 1;
    for (uint32_t i = 0; i < gn_graph_nreads(g); i++)
        if (gn_graph_read(g, i)->tensor == t)
            return 1;
    return 0;
}

int gn_outputs_capture(gn_outputs *o, gn_runner *r, uint32_t step, gn_error *err)
{
    const gn_graph *g = gn_session_step(o->s, step);
    for (uint32_t t = 0; t < gn_graph_ntensors(g); t++) {
        if (!wanted(g, t))
            continue;
        const gn_tensor *x = gn_graph_tensor(g, t);
        if (o->n == o->cap) {
            uint32_t cap = o->cap ? 2 * o->cap : 16;
            captured *v = realloc(o->v, cap * sizeof(*v));
            if (!v)
                return gn_error_set(err, GN_ENOMEM, "outputs: out of memory");
            o->v = v;
            o->cap = cap;
        }
        captured *c = &o->v[o->n];
        *c = (captured){step, t, x->bytes, x->dtype, malloc(x->bytes ? x->bytes : 1)};
        if (!c->data)
            return gn_error_set(err, GN_ENOMEM, "outputs: out of memory");
        int rc = gn_runner_read(r, step, t, c->data, (size_t)x->bytes, err);
        if (rc < 0) {
            free(c->data);
            return rc;
        }
        o->n++;
    }
    return 0;
}

/* Element K of a float capture (f32, f16 or bf16) as a double. */
static double value(const captured *c, uint64_t k)
{
    if (c->dtype == GN_DTYPE_F16)
        return gn_half_f16_to_f32(((const uint16_t *)c->data)[k]);
    if (c->dtype == GN_DTYPE_BF16)
        return gn_half_bf16_to_f32(((const uint16_t *)c->data)[k]);
    return ((const float *)c->data)[k];
}

int gn_outputs_compare(const gn_outputs *got, const gn_outputs *ref, double *max_rel, int *identical,
                       gn_error *err)
{
    *max_rel = 0;
    *identical = 1;
    if (got->n != ref->n)
        return gn_error_set(err, GN_EINVAL, "parity: %u output tensors captured, the reference has %u", got->n,
                            ref->n);
    for (uint32_t i = 0; i < got->n; i++) {
        const captured *a = &got->v[i], *b = &ref->v[i];
        if (a->step != b->step || a->tensor != b->tensor || a->bytes != b->bytes)
            return gn_error_set(err, GN_EINVAL, "parity: capture %u is steps[%u].tensors[%u], the reference's "
                                "steps[%u].tensors[%u]", i, a->step, a->tensor, b->step, b->tensor);
        if (memcmp(a->data, b->data, (size_t)a->bytes) == 0)
            continue;
        *identical = 0;
        if (a->dtype != GN_DTYPE_F32 && a->dtype != GN_DTYPE_F16 && a->dtype != GN_DTYPE_BF16) {
            *max_rel = INFINITY;
            continue;
        }
        double diff = 0, scale = 0;
        uint64_t n = a->bytes / gn_dtype_size(a->dtype);
        for (uint64_t k = 0; k < n; k++) {
            double xv = value(a, k), yv = value(b, k);
            double d = fabs(xv - yv);
            if (d > diff || d != d)
                diff = d != d ? INFINITY : d;
            if (fabs(yv) > scale)
                scale = fabs(yv);
        }
        double rel = scale > 0 ? diff / scale : (diff > 0 ? INFINITY : 0);
        if (rel > *max_rel)
            *max_rel = rel;
    }
    return 0;
}

int gn_outputs_reference(const gn_executor_ops *ops, const gn_session *s, uint64_t seed, float scale,
                         gn_outputs *o, gn_error *err)
{
    gn_runner *r = gn_runner_create(ops, s, seed, scale, err);
    if (!r)
        return err->code ? err->code : GN_ENOMEM;
    int rc = 0;
    for (uint32_t st = 0; rc == 0 && st < gn_session_nsteps(s); st++) {
        rc = gn_feed_step(r, st, seed, err);
        if (rc == 0)
            rc = gn_runner_run_step(r, st, err);
        if (rc == 0)
            rc = gn_outputs_capture(o, r, st, err);
    }
    gn_runner_destroy(r);
    return rc;
}

typedef struct hook_ctx {
    uint64_t seed;
    gn_outputs *o;
    int64_t last;          /* last step fed */
    gn_task_time *pauses;  /* per step, may be NULL */
} hook_ctx;

static int client_hook_work(hook_ctx *h, gn_runner *r, uint32_t step, gn_error *err);

static int client_hook(void *ctx, gn_runner *r, uint32_t step, gn_error *err)
{
    hook_ctx *h = ctx;
    int64_t t0 = gn_now_ns();
    int rc = client_hook_work(h, r, step, err);
    if (h->pauses)
        h->pauses[step] = (gn_task_time){t0, gn_now_ns(), 0};
    return rc;
}

static int client_hook_work(hook_ctx *h, gn_runner *r, uint32_t step, gn_error *err)
{
    /* steps the client skipped (none of its tasks) are captured as they are */
    for (int64_t s = h->last; s >= 0 && s < (int64_t)step && h->o; s++) {
        int rc = gn_outputs_capture(h->o, r, (uint32_t)s, err);
        if (rc < 0)
            return rc;
    }
    h->last = step;
    return gn_feed_step(r, step, h->seed, err);
}

int gn_outputs_client_run(const gn_plan *p, gn_runner *r, const gn_link *link, uint64_t seed, gn_outputs *o,
                          gn_task_time *times, gn_error *err)
{
    return gn_outputs_client_run_paused(p, r, link, seed, o, times, NULL, err);
}

int64_t gn_outputs_unpause(int64_t t, const gn_task_time *pauses, uint32_t n)
{
    int64_t shift = 0;
    for (uint32_t i = 0; i < n; i++)
        if (pauses[i].end_ns && pauses[i].end_ns <= t)
            shift += pauses[i].end_ns - pauses[i].start_ns;
    return t - shift;
}

int gn_outputs_client_run_paused(const gn_plan *p, gn_runner *r, const gn_link *link, uint64_t seed,
                                 gn_outputs *o, gn_task_time *times, gn_task_time *pauses, gn_error *err)
{
    hook_ctx h = {seed, o, -1, pauses};
    int rc = gn_planrun(p, r, GN_MACHINE_CLIENT, link, client_hook, &h, times, err);
    if (rc == 0 && o && h.last >= 0) /* after the last task: outside the timeline anyway */
        rc = gn_outputs_capture(o, r, (uint32_t)h.last, err);
    if (rc == 0 && (int64_t)gn_session_nsteps(gn_runner_session(r)) != h.last + 1)
        rc = gn_error_set(err, GN_EINVAL, "the client took part in %lld of %u steps", (long long)h.last + 1,
                          gn_session_nsteps(gn_runner_session(r)));
    return rc;
}
