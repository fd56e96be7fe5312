/*
 * runner.c — a whole session on one executor (see runner.h).
 *
 * Ownership of buffers is tracked per slot: params[] and state[] (by
 * storage id) own theirs; the prepared step's buf[] owns a buffer only
 * where own[] says so.  Committing a produced state version moves its
 * buffer from the step to state[]; the version it replaces moves to the
 * step slot of the leaf that read it (so it stays readable until the
 * next step is prepared), or is released when no leaf read it.
 */
#include "runner.h"

#include <stdlib.h>
#include <string.h>

#include "cost.h"
#include "half.h"

/* ========================== types ========================== */

typedef struct version {
    void *buf;          /* current version, owned; NULL if none yet */
    uint64_t bytes;     /* its size, bytes */
} version;

struct gn_runner {
    const gn_executor_ops *ops; /* borrowed */
    void *ex;                   /* executor state, owned */
    const gn_session *s;        /* borrowed */
    uint32_t nstorages;         /* entries of params[] and state[] */
    void **params;              /* by storage id: param buffer, owned; NULL if not a param */
    unsigned char *pvalid;      /* by storage id: the param holds its values (seeded or written) */
    version *state;             /* by storage id: current state version */
    int64_t prepared;           /* prepared step, -1 if none */
    uint32_t nbuf;              /* entries of buf[], own[] (tensors of the prepared step) */
    void **buf;                 /* per tensor of the prepared step */
    unsigned char *own;         /* 1 where the step owns buf[t] */
    unsigned char *valid;       /* 1 where tensor t of the prepared step holds its value */
    int dirty;                  /* the prepared step ran nodes whose state is not committed */
    int lenient;                /* GN_RUNNER_PARTIAL: missing state is allocated, not an error */
    void **pool;                /* buffers of the last released step, kept for reuse (owned) */
    size_t *pool_bytes;         /* their sizes */
    uint32_t npool, cappool;
    void **io;                  /* scratch for one node's inputs then outputs */
    uint32_t ncap_io;           /* entries of io[] */
};

/* ========================== private helpers ========================== */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void fill_random(float *p, uint64_t n, uint64_t seed, float scale)
{
    uint64_t x = seed ? seed : 0x9e3779b97f4a7c15ull;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        uint64_t r = x * 2685821657736338717ull;
        /* 24 random bits -> [-1, 1) */
        p[i] = scale * ((float)(r >> 40) * (1.0f / 8388608.0f) - 1.0f);
    }
}

/* Whether tensor T of G is some batch_norm's running variance (input 4). */
static int bn_running_var(const gn_graph *g, uint32_t t)
{
    uint32_t n;
    const uint32_t *cons = gn_graph_consumers(g, t, &n);
    for (uint32_t i = 0; i < n; i++) {
        const gn_node *nd = gn_graph_node(g, cons[i]);
        if (nd->op == GN_OP_BATCH_NORM && nd->nin >= 5 && gn_graph_node_inputs(g, cons[i])[4] == t)
            return 1;
    }
    return 0;
}

/* Releases what the pool still holds. */
static void pool_drain(gn_runner *r)
{
    for (uint32_t i = 0; i < r->npool; i++)
        r->ops->release(r->ex, r->pool[i]);
    r->npool = 0;
}

/* A buffer of BYTES: one of the pool's of that size (zeroed unless the
 * runner is partial), else a new, zeroed one. */
static void *take(gn_runner *r, size_t bytes)
{
    for (uint32_t i = 0; i < r->npool; i++)
        if (r->pool_bytes[i] == bytes) {
            void *b = r->pool[i];
            r->pool[i] = r->pool[--r->npool];
            r->pool_bytes[i] = r->pool_bytes[r->npool];
            /* a partial runner (a machine of a plan run) tracks which
             * tensors hold values and refuses to read the others, and every
             * op writes all of its outputs: no need to zero.  The full
             * runner (the local reference) zeroes, so parity tests compare
             * reused-buffer runs with clean ones and catch an op that does
             * not. */
            if (r->lenient || r->ops->zero(r->ex, b, bytes) == 0)
                return b;
            r->ops->release(r->ex, b);
            break;
        }
    return r->ops->alloc(r->ex, bytes);
}

/*
 * Releases the prepared step's buffers.  With an executor that can zero
 * buffers (version 2), they go to the pool instead, and the next step
 * takes the ones of its sizes (steps of a session mostly repeat their
 * shapes); what it does not take is released when it is prepared, so
 * the pool never holds more than one step's buffers.
 */
static void release_step(gn_runner *r)
{
    pool_drain(r);
    for (uint32_t t = 0; t < r->nbuf; t++) {
        if (!r->own[t])
            continue;
        if (r->ops->version >= 2 && r->ops->zero && r->npool < r->cappool) {
            r->pool[r->npool] = r->buf[t];
            r->pool_bytes[r->npool++] = (size_t)gn_graph_tensor(gn_session_step(r->s, (uint32_t)r->prepared), t)->bytes;
        } else {
            r->ops->release(r->ex, r->buf[t]);
        }
    }
    free(r->buf);
    free(r->own);
    free(r->valid);
    r->buf = NULL;
    r->own = NULL;
    r->valid = NULL;
    r->nbuf = 0;
    r->prepared = -1;
    r->dirty = 0;
}

static void commit_state(gn_runner *r, const gn_graph *g);

/* Gives every tensor of STEP a buffer. */
static int prepare(gn_runner *r, uint32_t step, gn_error *err)
{
    if (r->prepared == (int64_t)step)
        return 0;
    if (r->prepared > (int64_t)step)
        return gn_error_set(err, GN_EINVAL, "steps[%u]: step %lld already started (steps run in order)", step,
                            (long long)r->prepared);
    if (r->dirty || (r->lenient && r->prepared >= 0)) /* partial: state may come as views of shipped data */
        commit_state(r, gn_session_step(r->s, (uint32_t)r->prepared));
    release_step(r);
    const gn_graph *g = gn_session_step(r->s, step);
    uint32_t n = gn_graph_ntensors(g);
    r->buf = calloc(n ? n : 1, sizeof(void *));
    r->own = calloc(n ? n : 1, 1);
    r->valid = calloc(n ? n : 1, 1);
    if (!r->buf || !r->own || !r->valid) {
        free(r->buf);
        free(r->own);
        free(r->valid);
        r->buf = NULL;
        r->own = NULL;
        r->valid = NULL;
        return gn_error_set(err, GN_ENOMEM, "steps[%u]: out of memory", step);
    }
    if (n > r->cappool) {
        void **pb = realloc(r->pool, (size_t)n * sizeof(*pb));
        size_t *ps = pb ? realloc(r->pool_bytes, (size_t)n * sizeof(*ps)) : NULL;
        if (pb)
            r->pool = pb;
        if (ps) {
            r->pool_bytes = ps;
            r->cappool = n;
        }
    }
    r->nbuf = n;
    r->prepared = step;
    for (uint32_t t = 0; t < n; t++) {
        const gn_tensor *ten = gn_graph_tensor(g, t);
        if (ten->kind == GN_KIND_PARAM) {
            r->buf[t] = r->params[ten->storage];
            r->valid[t] = r->pvalid[ten->storage];
        } else if (ten->kind == GN_KIND_STATE && ten->producer < 0) {
            version *v = &r->state[ten->storage];
            if ((!v->buf || v->bytes != ten->bytes) && r->lenient) {
                /* a machine that gets this state from elsewhere (a transfer) */
                r->buf[t] = take(r, (size_t)ten->bytes);
                if (!r->buf[t]) {
                    release_step(r);
                    return gn_error_set(err, GN_ENOMEM, "steps[%u]: tensors[%u]: cannot allocate %llu bytes",
                                        step, t, (unsigned long long)ten->bytes);
                }
                r->own[t] = 1;
                continue;
            }
            if (!v->buf || v->bytes != ten->bytes) {
                int rc = gn_error_set(err, GN_EINVAL,
                                      "steps[%u]: tensors[%u]: state \"%s\" has no version of %llu bytes "
                                      "(run the steps in order)",
                                      step, t, gn_graph_storage_name(g, ten->storage),
                                      (unsigned long long)ten->bytes);
                release_step(r);
                return rc;
            }
            r->buf[t] = v->buf;
            r->valid[t] = 1;
        } else {
            r->buf[t] = take(r, (size_t)ten->bytes);
            if (!r->buf[t]) {
                release_step(r);
                return gn_error_set(err, GN_ENOMEM, "steps[%u]: tensors[%u]: cannot allocate %llu bytes", step,
                                    t, (unsigned long long)ten->bytes);
            }
            r->own[t] = 1;
        }
    }
    pool_drain(r); /* what this step did not take */
    return 0;
}

static int ensure(gn_runner *r, uint32_t step, const gn_graph *g, uint32_t t, int depth, gn_error *err);

/* Makes the state tensors STEP produced the current versions. */
static void commit_state(gn_runner *r, const gn_graph *g)
{
    r->dirty = 0;
    for (uint32_t t = 0; t < r->nbuf; t++) {
        const gn_tensor *ten = gn_graph_tensor(g, t);
        if (ten->kind != GN_KIND_STATE || ten->producer < 0)
            continue;
        if (!r->valid[t] && r->prepared >= 0) { /* a view of delivered data (a plan ships the base) */
            gn_error ignored;
            ensure(r, (uint32_t)r->prepared, g, t, 0, &ignored);
        }
        if (!r->valid[t])
            continue;
        version *v = &r->state[ten->storage];
        if (v->buf == r->buf[t])
            continue; /* committed already (nodes run again after a commit) */
        void *old = v->buf;
        v->buf = r->buf[t];
        v->bytes = ten->bytes;
        r->own[t] = 0;
        if (!old)
            continue;
        int kept = 0;
        for (uint32_t u = 0; u < r->nbuf && !kept; u++)
            if (r->buf[u] == old && !r->own[u] && gn_graph_tensor(g, u)->kind == GN_KIND_STATE &&
                gn_graph_tensor(g, u)->producer < 0) {
                r->own[u] = 1; /* the step now owns the superseded version */
                kept = 1;
            }
        if (!kept)
            r->ops->release(r->ex, old);
    }
}

/* Runs node ID of the prepared step G (inputs must be valid). */
static int run_one(gn_runner *r, uint32_t step, const gn_graph *g, uint32_t id, gn_error *err)
{
    const gn_node *n = gn_graph_node(g, id);
    if (n->nin + n->nout > r->ncap_io) {
        void **io = realloc(r->io, (n->nin + n->nout) * sizeof(void *));
        if (!io)
            return gn_error_set(err, GN_ENOMEM, "steps[%u]: out of memory", step);
        r->io = io;
        r->ncap_io = n->nin + n->nout;
    }
    const uint32_t *in = gn_graph_node_inputs(g, id), *out = gn_graph_node_outputs(g, id);
    for (uint32_t k = 0; k < n->nin; k++)
        r->io[k] = r->buf[in[k]];
    for (uint32_t k = 0; k < n->nout; k++)
        r->io[n->nin + k] = r->buf[out[k]];
    gn_error sub = {0};
    int rc = r->ops->run(r->ex, g, id, r->io, r->io + n->nin, &sub);
    if (rc < 0)
        return gn_error_set(err, rc, "steps[%u]: %s", step, sub.code ? sub.msg : gn_strerror(rc));
    for (uint32_t k = 0; k < n->nout; k++) {
        r->valid[out[k]] = 1;
        if (gn_graph_tensor(g, out[k])->kind == GN_KIND_STATE)
            r->dirty = 1;
    }
    return 0;
}

/* ========================== API ========================== */

gn_runner *gn_runner_create(const gn_executor_ops *ops, const gn_session *s, uint64_t seed, float scale,
                            gn_error *err)
{
    return gn_runner_create_ex(ops, s, seed, scale, 0, err);
}

gn_runner *gn_runner_create_ex(const gn_executor_ops *ops, const gn_session *s, uint64_t seed, float scale,
                               unsigned flags, gn_error *err)
{
    if (!ops || ops->version < 1 || !s) {
        gn_error_set(err, GN_EINVAL, "runner: no executor or session");
        return NULL;
    }
    gn_runner *r = calloc(1, sizeof(*r));
    if (!r) {
        gn_error_set(err, GN_ENOMEM, "runner: out of memory");
        return NULL;
    }
    r->ops = ops;
    r->s = s;
    r->prepared = -1;
    r->lenient = (flags & GN_RUNNER_PARTIAL) != 0;
    r->nstorages = gn_strtab_count(gn_session_storages(s));
    r->params = calloc(r->nstorages ? r->nstorages : 1, sizeof(void *));
    r->pvalid = calloc(r->nstorages ? r->nstorages : 1, 1);
    r->state = calloc(r->nstorages ? r->nstorages : 1, sizeof(version));
    if (!r->params || !r->state || !r->pvalid) {
        gn_error_set(err, GN_ENOMEM, "runner: out of memory");
        gn_runner_destroy(r);
        return NULL;
    }
    r->ex = ops->create(err);
    if (!r->ex) {
        gn_runner_destroy(r);
        return NULL;
    }
    for (uint32_t st = 0; st < gn_session_nsteps(s); st++) {
        const gn_graph *g = gn_session_step(s, st);
        for (uint32_t t = 0; t < gn_graph_ntensors(g); t++) {
            const gn_tensor *ten = gn_graph_tensor(g, t);
            if ((ten->kind != GN_KIND_PARAM && ten->kind != GN_KIND_STATE) || ten->storage < 0 ||
                (uint32_t)ten->storage >= r->nstorages) {
                if (ten->kind == GN_KIND_PARAM || ten->kind == GN_KIND_STATE) {
                    gn_error_set(err, GN_EINVAL, "steps[%u]: tensors[%u]: no storage", st, t);
                    gn_runner_destroy(r);
                    return NULL;
                }
                continue;
            }
            if (ten->kind != GN_KIND_PARAM || r->params[ten->storage])
                continue;
            void *buf = ops->alloc(r->ex, (size_t)ten->bytes);
            if (!buf) {
                gn_error_set(err, GN_ENOMEM, "runner: cannot allocate param \"%s\" (%llu bytes)",
                             gn_graph_storage_name(g, ten->storage), (unsigned long long)ten->bytes);
                gn_runner_destroy(r);
                return NULL;
            }
            r->params[ten->storage] = buf;
            if (flags & GN_RUNNER_NO_PARAMS)
                continue; /* zero until written */
            r->pvalid[ten->storage] = 1;
            int half = ten->dtype == GN_DTYPE_F16 || ten->dtype == GN_DTYPE_BF16;
            if (ten->dtype != GN_DTYPE_F32 && !half)
                continue;
            uint64_t n = ten->bytes / gn_dtype_size(ten->dtype);
            float *host = malloc(n ? n * sizeof(float) : 1);
            uint16_t *h16 = half ? malloc(n ? n * sizeof(uint16_t) : 1) : NULL;
            if (!host || (half && !h16)) {
                free(host);
                free(h16);
                gn_error_set(err, GN_ENOMEM, "runner: out of memory");
                gn_runner_destroy(r);
                return NULL;
            }
            fill_random(host, n, seed ^ fnv1a(gn_graph_storage_name(g, ten->storage)), scale);
            if (bn_running_var(g, t)) /* a variance: positive, near 1 */
                for (uint64_t i = 0; i < n; i++)
                    host[i] += 1.0f;
            for (uint64_t i = 0; half && i < n; i++) /* the same values rounded to the storage type */
                h16[i] = ten->dtype == GN_DTYPE_F16 ? gn_half_f32_to_f16(host[i]) : gn_half_f32_to_bf16(host[i]);
            int rc = ops->upload(r->ex, buf, half ? (const void *)h16 : host, (size_t)ten->bytes);
            free(host);
            free(h16);
            if (rc < 0) {
                gn_error_set(err, rc, "runner: cannot upload param \"%s\"", gn_graph_storage_name(g, ten->storage));
                gn_runner_destroy(r);
                return NULL;
            }
        }
    }
    return r;
}

void gn_runner_destroy(gn_runner *r)
{
    if (!r)
        return;
    release_step(r);
    for (uint32_t i = 0; i < r->nstorages; i++) {
        if (r->params && r->params[i])
            r->ops->release(r->ex, r->params[i]);
        if (r->state && r->state[i].buf)
            r->ops->release(r->ex, r->state[i].buf);
    }
    pool_drain(r);
    if (r->ex)
        r->ops->destroy(r->ex);
    free(r->params);
    free(r->pvalid);
    free(r->state);
    free(r->io);
    free(r->pool);
    free(r->pool_bytes);
    free(r);
}

int gn_runner_set_param(gn_runner *r, const char *storage, const void *host, size_t bytes, gn_error *err)
{
    int32_t sid = gn_strtab_find(gn_session_storages(r->s), storage);
    if (sid < 0 || (uint32_t)sid >= r->nstorages || !r->params[sid])
        return gn_error_set(err, GN_ENOTFOUND, "runner: no param storage \"%s\"", storage);
    for (uint32_t st = 0; st < gn_session_nsteps(r->s); st++) {
        const gn_graph *g = gn_session_step(r->s, st);
        for (uint32_t t = 0; t < gn_graph_ntensors(g); t++) {
            const gn_tensor *ten = gn_graph_tensor(g, t);
            if (ten->kind != GN_KIND_PARAM || ten->storage != sid)
                continue;
            if (ten->bytes != bytes)
                return gn_error_set(err, GN_EINVAL, "runner: param \"%s\" has %llu bytes, not %zu", storage,
                                    (unsigned long long)ten->bytes, bytes);
            int rc = r->ops->upload(r->ex, r->params[sid], host, bytes);
            if (rc == 0)
                r->pvalid[sid] = 1;
            return rc < 0 ? gn_error_set(err, rc, "runner: cannot upload param \"%s\"", storage) : 0;
        }
    }
    return gn_error_set(err, GN_ENOTFOUND, "runner: no param storage \"%s\"", storage);
}

int gn_runner_set_input(gn_runner *r, uint32_t step, uint32_t tensor, const void *host, size_t bytes,
                        gn_error *err)
{
    if (step >= gn_session_nsteps(r->s))
        return gn_error_set(err, GN_EINVAL, "steps[%u]: no such step", step);
    const gn_graph *g = gn_session_step(r->s, step);
    if (tensor >= gn_graph_ntensors(g))
        return gn_error_set(err, GN_EINVAL, "steps[%u]: tensors[%u]: no such tensor", step, tensor);
    const gn_tensor *t = gn_graph_tensor(g, tensor);
    if (t->kind != GN_KIND_INPUT || t->producer >= 0 || t->bytes != bytes)
        return gn_error_set(err, GN_EINVAL, "steps[%u]: tensors[%u]: not an input of %zu bytes (%s, %llu bytes)",
                            step, tensor, bytes, gn_kind_name(t->kind), (unsigned long long)t->bytes);
    int rc = prepare(r, step, err);
    if (rc < 0)
        return rc;
    rc = r->ops->upload(r->ex, r->buf[tensor], host, bytes);
    if (rc == 0)
        r->valid[tensor] = 1;
    return rc < 0 ? gn_error_set(err, rc, "steps[%u]: tensors[%u]: upload failed", step, tensor) : 0;
}

int gn_runner_run_step(gn_runner *r, uint32_t step, gn_error *err)
{
    if (step >= gn_session_nsteps(r->s))
        return gn_error_set(err, GN_EINVAL, "steps[%u]: no such step", step);
    int rc = prepare(r, step, err);
    if (rc < 0)
        return rc;
    const gn_graph *g = gn_session_step(r->s, step);
    const uint32_t *order = gn_graph_order(g);
    for (uint32_t i = 0; i < gn_graph_nnodes(g); i++)
        if ((rc = run_one(r, step, g, order[i], err)) < 0)
            return rc;
    commit_state(r, g);
    return 0;
}

/* Makes tensor T of the prepared step hold its value: it does, or it is
 * the output of a view (which launches nothing, so a plan never places
 * it) whose input can be made to. */
static int ensure(gn_runner *r, uint32_t step, const gn_graph *g, uint32_t t, int depth, gn_error *err)
{
    const gn_tensor *x = gn_graph_tensor(g, t);
    if (!r->valid[t] && x->kind == GN_KIND_PARAM && r->pvalid[x->storage])
        r->valid[t] = 1; /* written through another tensor of the same storage */
    if (r->valid[t])
        return 0;
    int32_t p = x->producer;
    if (p < 0 || gn_cost_launches(g, (uint32_t)p) || depth > 64)
        return gn_error_set(err, GN_EINVAL, "steps[%u]: tensors[%u] (%s %s) is not here: nothing computed or "
                            "delivered it", step, t, gn_kind_name(gn_graph_tensor(g, t)->kind),
                            gn_graph_tensor(g, t)->name ? gn_graph_tensor(g, t)->name : "");
    const uint32_t *in = gn_graph_node_inputs(g, (uint32_t)p);
    for (uint32_t k = 0; k < gn_graph_node(g, (uint32_t)p)->nin; k++) {
        int rc = ensure(r, step, g, in[k], depth + 1, err);
        if (rc < 0)
            return rc;
    }
    return run_one(r, step, g, (uint32_t)p, err);
}

int gn_runner_run_node(gn_runner *r, uint32_t step, uint32_t node, gn_error *err)
{
    if (step >= gn_session_nsteps(r->s))
        return gn_error_set(err, GN_EINVAL, "steps[%u]: no such step", step);
    const gn_graph *g = gn_session_step(r->s, step);
    if (node >= gn_graph_nnodes(g))
        return gn_error_set(err, GN_EINVAL, "steps[%u]: nodes[%u]: no such node", step, node);
    int rc = prepare(r, step, err);
    if (rc < 0)
        return rc;
    const uint32_t *in = gn_graph_node_inputs(g, node);
    for (uint32_t k = 0; k < gn_graph_node(g, node)->nin; k++)
        if ((rc = ensure(r, step, g, in[k], 0, err)) < 0)
            return rc;
    return run_one(r, step, g, node, err);
}

/* The device buffer a write of TENSOR of STEP goes to (a state leaf's
 * becomes its storage's current version), or NULL with *RC and ERR. */
static void *write_target(gn_runner *r, uint32_t step, uint32_t tensor, size_t bytes, int *rc, gn_error *err)
{
    *rc = 0;
    if (step >= gn_session_nsteps(r->s)) {
        *rc = gn_error_set(err, GN_EINVAL, "steps[%u]: no such step", step);
        return NULL;
    }
    const gn_graph *g = gn_session_step(r->s, step);
    if (tensor >= gn_graph_ntensors(g) || gn_graph_tensor(g, tensor)->bytes != bytes) {
        *rc = gn_error_set(err, GN_EINVAL, "steps[%u]: tensors[%u]: no such tensor of %zu bytes", step, tensor,
                           bytes);
        return NULL;
    }
    if ((*rc = prepare(r, step, err)) < 0)
        return NULL;
    const gn_tensor *t = gn_graph_tensor(g, tensor);
    if (t->kind == GN_KIND_STATE && t->producer < 0) {
        /* the storage's current version, so it outlives the step */
        version *v = &r->state[t->storage];
        if (r->own[tensor] || !v->buf) {
            if (v->buf && v->buf != r->buf[tensor])
                r->ops->release(r->ex, v->buf);
            if (!r->buf[tensor] && !(r->buf[tensor] = r->ops->alloc(r->ex, bytes))) {
                *rc = gn_error_set(err, GN_ENOMEM, "steps[%u]: tensors[%u]: out of memory", step, tensor);
                return NULL;
            }
            v->buf = r->buf[tensor];
            v->bytes = bytes;
            r->own[tensor] = 0;
        }
    }
    return r->buf[tensor];
}

/* TENSOR of STEP holds its value now. */
static void written(gn_runner *r, uint32_t step, uint32_t tensor)
{
    const gn_tensor *t = gn_graph_tensor(gn_session_step(r->s, step), tensor);
    r->valid[tensor] = 1;
    if (t->kind == GN_KIND_PARAM)
        r->pvalid[t->storage] = 1;
    if (t->kind == GN_KIND_STATE && t->producer >= 0)
        r->dirty = 1;
}

int gn_runner_write(gn_runner *r, uint32_t step, uint32_t tensor, const void *host, size_t bytes, gn_error *err)
{
    int rc;
    void *dst = write_target(r, step, tensor, bytes, &rc, err);
    if (!dst)
        return rc;
    rc = r->ops->upload(r->ex, dst, host, bytes);
    if (rc < 0)
        return gn_error_set(err, rc, "steps[%u]: tensors[%u]: upload failed", step, tensor);
    written(r, step, tensor);
    return 0;
}

void *gn_runner_host_dst(gn_runner *r, uint32_t step, uint32_t tensor, size_t bytes, gn_error *err)
{
    if (r->ops->version < 2 || !r->ops->host_visible)
        return NULL;
    int rc;
    void *dst = write_target(r, step, tensor, bytes, &rc, err);
    if (dst)
        written(r, step, tensor);
    return dst;
}

const void *gn_runner_host_src(gn_runner *r, uint32_t step, uint32_t tensor, size_t bytes, gn_error *err)
{
    if (r->ops->version < 2 || !r->ops->host_visible)
        return NULL;
    if (step >= gn_session_nsteps(r->s) || r->prepared > (int64_t)step)
        return NULL;
    const gn_graph *g = gn_session_step(r->s, step);
    if (tensor >= gn_graph_ntensors(g) || gn_graph_tensor(g, tensor)->bytes != bytes)
        return NULL;
    if (prepare(r, step, err) < 0 || ensure(r, step, g, tensor, 0, err) < 0)
        return NULL;
    return r->buf[tensor];
}

uint64_t gn_runner_held_bytes(const gn_runner *r)
{
    uint64_t held = 0;
    unsigned char *seen = calloc(r->nstorages ? r->nstorages : 1, 1);
    for (uint32_t st = 0; seen && st < gn_session_nsteps(r->s); st++) { /* params: once per storage */
        const gn_graph *g = gn_session_step(r->s, st);
        for (uint32_t t = 0; t < gn_graph_ntensors(g); t++) {
            const gn_tensor *x = gn_graph_tensor(g, t);
            if (x->kind == GN_KIND_PARAM && x->storage >= 0 && !seen[x->storage] && r->params[x->storage]) {
                seen[x->storage] = 1;
                held += x->bytes;
            }
        }
    }
    free(seen);
    for (uint32_t i = 0; i < r->nstorages; i++)
        if (r->state[i].buf)
            held += r->state[i].bytes;
    for (uint32_t t = 0; t < r->nbuf; t++)
        if (r->own[t])
            held += gn_graph_tensor(gn_session_step(r->s, (uint32_t)r->prepared), t)->bytes;
    for (uint32_t i = 0; i < r->npool; i++)
        held += r->pool_bytes[i];
    return held;
}

int gn_runner_prepare(gn_runner *r, uint32_t step, gn_error *err)
{
    if (step >= gn_session_nsteps(r->s))
        return gn_error_set(err, GN_EINVAL, "steps[%u]: no such step", step);
    return prepare(r, step, err);
}

const gn_session *gn_runner_session(const gn_runner *r)
{
    return r->s;
}

int gn_runner_valid(const gn_runner *r, uint32_t step, uint32_t tensor)
{
    if (r->prepared != (int64_t)step || tensor >= r->nbuf)
        return 0;
    return r->valid[tensor];
}

int gn_runner_read(gn_runner *r, uint32_t step, uint32_t tensor, void *host, size_t bytes, gn_error *err)
{
    if (step >= gn_session_nsteps(r->s) || r->prepared > (int64_t)step)
        return gn_error_set(err, GN_EINVAL, "steps[%u]: not the prepared step (tensors of a step are readable "
                            "until the next step starts)", step);
    const gn_graph *g = gn_session_step(r->s, step);
    if (tensor >= gn_graph_ntensors(g) || gn_graph_tensor(g, tensor)->bytes != bytes)
        return gn_error_set(err, GN_EINVAL, "steps[%u]: tensors[%u]: no such tensor of %zu bytes", step, tensor,
                            bytes);
    int rc = prepare(r, step, err);
    if (rc == 0)
        rc = ensure(r, step, g, tensor, 0, err);
    if (rc < 0)
        return rc;
    rc = r->ops->download(r->ex, host, r->buf[tensor], bytes);
    return rc < 0 ? gn_error_set(err, rc, "steps[%u]: tensors[%u]: download failed", step, tensor) : 0;
}

int64_t gn_runner_find(const gn_runner *r, uint32_t step, gn_kind kind, uint32_t k)
{
    if (step >= gn_session_nsteps(r->s))
        return -1;
    const gn_graph *g = gn_session_step(r->s, step);
    for (uint32_t t = 0; t < gn_graph_ntensors(g); t++)
        if (gn_graph_tensor(g, t)->kind == kind && k-- == 0)
            return t;
    return -1;
}

int gn_runner_run_llm(gn_runner *r, const int64_t *prompt, int64_t *tokens, gn_error *err)
{
    int64_t prev[64], P = 0;
    for (uint32_t st = 0; st < gn_session_nsteps(r->s); st++) {
        const gn_graph *g = gn_session_step(r->s, st);
        int64_t ids = gn_runner_find(r, st, GN_KIND_INPUT, 0), pos = gn_runner_find(r, st, GN_KIND_INPUT, 1);
        int64_t out = gn_runner_find(r, st, GN_KIND_OUTPUT, 0);
        if (ids < 0 || pos < 0 || out < 0)
            return gn_error_set(err, GN_EINVAL, "steps[%u]: not an LLM step (token ids, positions, next token)", st);
        const gn_tensor *ti = gn_graph_tensor(g, (uint32_t)ids), *to = gn_graph_tensor(g, (uint32_t)out);
        if (ti->ndim != 2 || ti->dtype != GN_DTYPE_I64 || to->dtype != GN_DTYPE_I64 ||
            (uint64_t)ti->shape[0] * 8 != to->bytes || ti->shape[0] > 64 || (st && ti->shape[1] != 1))
            return gn_error_set(err, GN_EINVAL, "steps[%u]: LLM inputs must be i64 [B, T] (B <= 64) and the "
                                "output i64 [B, 1]", st);
        int64_t B = ti->shape[0], T = ti->shape[1];
        int64_t *buf = malloc((size_t)(B * T) * 2 * sizeof(int64_t));
        if (!buf)
            return gn_error_set(err, GN_ENOMEM, "runner: out of memory");
        if (st == 0)
            P = T;
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < T; t++) {
                buf[b * T + t] = st ? prev[b] : prompt[b * T + t];
                buf[B * T + b * T + t] = st ? P + st - 1 : t;
            }
        int rc = gn_runner_set_input(r, st, (uint32_t)ids, buf, (size_t)(B * T) * sizeof(int64_t), err);
        if (rc == 0)
            rc = gn_runner_set_input(r, st, (uint32_t)pos, buf + B * T, (size_t)(B * T) * sizeof(int64_t), err);
        free(buf);
        if (rc == 0)
            rc = gn_runner_run_step(r, st, err);
        if (rc == 0)
            rc = gn_runner_read(r, st, (uint32_t)out, prev, (size_t)B * sizeof(int64_t), err);
        if (rc < 0)
            return rc;
        if (tokens)
            memcpy(tokens + st * B, prev, (size_t)B * sizeof(int64_t));
    }
    return 0;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

uint64_t gn_runner_bound_bytes(const gn_session *s)
{
    uint32_t ns = (uint32_t)gn_strtab_count(gn_session_storages(s));
    uint64_t *per = calloc(ns ? ns : 1, sizeof(*per)), total = 0, big[2] = {0, 0};
    if (!per)
        return UINT64_MAX;
    for (uint32_t st = 0; st < gn_session_nsteps(s); st++) {
        const gn_graph *g = gn_session_step(s, st);
        uint64_t step = 0;
        for (uint32_t t = 0; t < gn_graph_ntensors(g); t++) {
            const gn_tensor *x = gn_graph_tensor(g, t);
            int stored = (x->kind == GN_KIND_PARAM || x->kind == GN_KIND_STATE) && x->storage >= 0 &&
                         (uint32_t)x->storage < ns;
            if (stored && x->bytes > per[x->storage])
                per[x->storage] = x->bytes; /* a param's buffer; a state's largest version */
            /* everything else has a step buffer, and so may a state (a
             * version produced, or one a partial runner receives) */
            if (!stored || x->kind == GN_KIND_STATE)
                step = add_sat(step, x->bytes);
        }
        if (step > big[0]) {
            big[1] = big[0];
            big[0] = step;
        } else if (step > big[1]) {
            big[1] = step;
        }
    }
    for (uint32_t i = 0; i < ns; i++)
        total = add_sat(total, per[i]);
    free(per);
    return add_sat(total, add_sat(big[0], big[1]));
}
