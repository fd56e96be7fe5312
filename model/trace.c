/*
 * trace.c — SRG trace loader, validator and writer (see trace.h).
 *
 * The loader walks the document with a "cursor" that knows its JSON path,
 * so every error names the exact field: $.steps[2].nodes[40].inputs[1].
 * Structural graph checks (one producer per tensor, leaf kinds, cycles) are
 * done by gn_session_finalize and mapped back onto the same paths.
 */
#include "trace.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ========================== field readers ========================== */

typedef struct ctx {
    const char *file; /* name used in messages */
    gn_error *err;
} ctx;

static int fail(ctx *c, int code, const char *path, const char *what)
{
    return gn_error_set(c->err, code, "%s: %s: %s", c->file, path, what);
}

static int failf(ctx *c, const char *path, const char *fmt, const char *arg)
{
    char what[320];
    snprintf(what, sizeof(what), fmt, arg);
    return fail(c, GN_ESCHEMA, path, what);
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "something else";
}

/* Fetches OBJ[KEY] into *OUT; missing is an error when REQUIRED. */
static int get(ctx *c, const json_t *obj, const char *opath, const char *key,
               int required, json_t **out, char *path, size_t len)
{
    snprintf(path, len, "%s.%s", opath, key);
    *out = json_object_get(obj, key);
    if (!*out && required)
        return fail(c, GN_ESCHEMA, path, "missing required field");
    return 0;
}

static int want_string(ctx *c, const json_t *v, const char *path,
                       const char **out)
{
    *out = NULL; /* defined on failure too: callers test rc, -O3 can't tell */
    if (!json_is_string(v))
        return failf(c, path, "expected a string, got %s", type_name(v));
    *out = json_string_value(v);
    return 0;
}

static int want_count(ctx *c, const json_t *v, const char *path,
                      int64_t *out)
{
    *out = 0;
    if (!json_is_integer(v))
        return failf(c, path, "expected an integer >= 0, got %s", type_name(v));
    if (json_integer_value(v) < 0) {
        char num[32];
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        return failf(c, path, "expected an integer >= 0, got %s", num);
    }
    *out = json_integer_value(v);
    return 0;
}

static int want_amount(ctx *c, const json_t *v, const char *path,
                       double *out)
{
    *out = 0;
    if (!json_is_number(v))
        return failf(c, path, "expected a number >= 0, got %s", type_name(v));
    double d = json_number_value(v);
    if (!(d >= 0) || !isfinite(d)) {
        char num[48];
        snprintf(num, sizeof(num), "%g", d);
        return failf(c, path, "expected a finite number >= 0, got %s", num);
    }
    *out = d;
    return 0;
}

static int want_array(ctx *c, const json_t *v, const char *path)
{
    if (!json_is_array(v))
        return failf(c, path, "expected an array, got %s", type_name(v));
    return 0;
}

/* Checks that OBJ.id equals I, its position (ids are dense). */
static int want_dense_id(ctx *c, const json_t *obj, const char *path, size_t i)
{
    char fpath[256];
    json_t *v;
    int64_t id;
    int rc;
    if ((rc = get(c, obj, path, "id", 1, &v, fpath, sizeof(fpath))) < 0 ||
        (rc = want_count(c, v, fpath, &id)) < 0)
        return rc;
    if ((size_t)id != i) {
        char what[96];
        snprintf(what, sizeof(what), "expected %zu (ids are dense and equal to the position)", i);
        return fail(c, GN_ESCHEMA, fpath, what);
    }
    return 0;
}

/* Reads a list of ids < LIMIT into BUF (capacity CAP). */
static int want_ids(ctx *c, const json_t *v, const char *path,
                    uint32_t limit, uint32_t **buf, size_t *cap,
                    uint32_t *n)
{
    int rc = want_array(c, v, path);
    if (rc < 0)
        return rc;
    size_t len = json_array_size(v);
    if (len > *cap) {
        uint32_t *p = realloc(*buf, len * sizeof(*p));
        if (!p)
            return fail(c, GN_ENOMEM, path, "out of memory");
        *buf = p;
        *cap = len;
    }
    for (size_t i = 0; i < len; i++) {
        char ipath[256];
        int64_t id;
        snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
        if ((rc = want_count(c, json_array_get(v, i), ipath, &id)) < 0)
            return rc;
        if (id >= limit) {
            char what[96];
            snprintf(what, sizeof(what), "tensor id %lld does not exist (the step has %u tensors)",
                     (long long)id, limit);
            return fail(c, GN_ESCHEMA, ipath, what);
        }
        (*buf)[i] = (uint32_t)id;
    }
    *n = (uint32_t)len;
    return 0;
}

/* ========================== loader ========================== */

static int load_tensor(ctx *c, gn_graph *g, const json_t *t, size_t i,
                       const char *spath)
{
    char path[256], fpath[256];
    json_t *v;
    int rc;
    snprintf(path, sizeof(path), "%s.tensors[%zu]", spath, i);
    if (!json_is_object(t))
        return failf(c, path, "expected an object, got %s", type_name(t));

    if ((rc = want_dense_id(c, t, path, i)) < 0)
        return rc;

    const char *s;
    gn_dtype dtype;
    if ((rc = get(c, t, path, "dtype", 1, &v, fpath, sizeof(fpath))) < 0 ||
        (rc = want_string(c, v, fpath, &s)) < 0)
        return rc;
    if (gn_dtype_parse(s, &dtype) < 0)
        return failf(c, fpath, "unknown dtype \"%s\" (expected one of f32, f16, bf16, f64, i64, i32, i16, i8, u8, bool)", s);

    gn_kind kind;
    if ((rc = get(c, t, path, "kind", 1, &v, fpath, sizeof(fpath))) < 0 ||
        (rc = want_string(c, v, fpath, &s)) < 0)
        return rc;
    if (gn_kind_parse(s, &kind) < 0)
        return failf(c, fpath, "unknown kind \"%s\" (expected param, input, activation, state or output)", s);

    int64_t shape[GN_MAX_DIMS];
    if ((rc = get(c, t, path, "shape", 1, &v, fpath, sizeof(fpath))) < 0 ||
        (rc = want_array(c, v, fpath)) < 0)
        return rc;
    size_t ndim = json_array_size(v);
    if (ndim > GN_MAX_DIMS)
        return fail(c, GN_ESCHEMA, fpath, "expected at most 8 dims");
    uint64_t numel = 1;
    for (size_t d = 0; d < ndim; d++) {
        char dpath[280];
        snprintf(dpath, sizeof(dpath), "%s[%zu]", fpath, d);
        if ((rc = want_count(c, json_array_get(v, d), dpath, &shape[d])) < 0)
            return rc;
        numel *= (uint64_t)shape[d];
    }

    int64_t bytes;
    if ((rc = get(c, t, path, "bytes", 1, &v, fpath, sizeof(fpath))) < 0 ||
        (rc = want_count(c, v, fpath, &bytes)) < 0)
        return rc;
    if ((uint64_t)bytes != numel * gn_dtype_size(dtype)) {
        char what[160];
        snprintf(what, sizeof(what), "expected %llu (numel %llu x %zu bytes of %s), got %lld",
                 (unsigned long long)(numel * gn_dtype_size(dtype)),
                 (unsigned long long)numel, gn_dtype_size(dtype),
                 gn_dtype_name(dtype), (long long)bytes);
        return fail(c, GN_ESCHEMA, fpath, what);
    }

    const char *name = NULL, *storage = NULL;
    if ((rc = get(c, t, path, "name", 0, &v, fpath, sizeof(fpath))) < 0 ||
        (v && (rc = want_string(c, v, fpath, &name)) < 0))
        return rc;
    if ((rc = get(c, t, path, "storage", 0, &v, fpath, sizeof(fpath))) < 0 ||
        (v && (rc = want_string(c, v, fpath, &storage)) < 0))
        return rc;

    rc = gn_graph_add_tensor(g, name, dtype, kind, (uint32_t)ndim, shape, storage);
    if (rc < 0)
        return fail(c, rc, path, gn_strerror(rc));
    return 0;
}

static int load_node(ctx *c, gn_graph *g, const json_t *n, size_t i,
                     const char *spath, uint32_t **ids, size_t *cap)
{
    char path[256], fpath[256];
    json_t *v;
    int rc;
    snprintf(path, sizeof(path), "%s.nodes[%zu]", spath, i);
    if (!json_is_object(n))
        return failf(c, path, "expected an object, got %s", type_name(n));

    if ((rc = want_dense_id(c, n, path, i)) < 0)
        return rc;

    const char *s;
    gn_op op;
    if ((rc = get(c, n, path, "op", 1, &v, fpath, sizeof(fpath))) < 0 ||
        (rc = want_string(c, v, fpath, &s)) < 0)
        return rc;
    if (gn_op_parse(s, &op) < 0) {
        char list[400], what[480];
        snprintf(what, sizeof(what), "unknown op \"%.40s\" (expected one of %s; keep others as \"opaque\")",
                 s, gn_op_list(list, sizeof(list)));
        return fail(c, GN_ESCHEMA, fpath, what);
    }

    uint32_t nt = gn_graph_ntensors(g), nin, nout;
    uint32_t *in = ids[0], *out;
    if ((rc = get(c, n, path, "inputs", 1, &v, fpath, sizeof(fpath))) < 0 ||
        (rc = want_ids(c, v, fpath, nt, &ids[0], &cap[0], &nin)) < 0)
        return rc;
    if ((rc = get(c, n, path, "outputs", 1, &v, fpath, sizeof(fpath))) < 0 ||
        (rc = want_ids(c, v, fpath, nt, &ids[1], &cap[1], &nout)) < 0)
        return rc;
    if (nout == 0)
        return fail(c, GN_ESCHEMA, fpath, "expected at least one output tensor");
    in = ids[0];
    out = ids[1];

    double flops, bytes;
    if ((rc = get(c, n, path, "flops", 1, &v, fpath, sizeof(fpath))) < 0 ||
        (rc = want_amount(c, v, fpath, &flops)) < 0)
        return rc;
    if ((rc = get(c, n, path, "bytes", 1, &v, fpath, sizeof(fpath))) < 0 ||
        (rc = want_amount(c, v, fpath, &bytes)) < 0)
        return rc;

    const char *module = NULL, *source = NULL;
    if ((rc = get(c, n, path, "module", 0, &v, fpath, sizeof(fpath))) < 0 ||
        (v && (rc = want_string(c, v, fpath, &module)) < 0))
        return rc;
    if ((rc = get(c, n, path, "source", 0, &v, fpath, sizeof(fpath))) < 0 ||
        (v && (rc = want_string(c, v, fpath, &source)) < 0))
        return rc;
    json_t *attrs, *hints;
    if ((rc = get(c, n, path, "attrs", 0, &attrs, fpath, sizeof(fpath))) < 0)
        return rc;
    if (attrs && !json_is_object(attrs))
        return failf(c, fpath, "expected an object, got %s", type_name(attrs));
    if ((rc = get(c, n, path, "hints", 0, &hints, fpath, sizeof(fpath))) < 0)
        return rc;
    if (hints && !json_is_object(hints))
        return failf(c, fpath, "expected an object, got %s", type_name(hints));

    rc = gn_graph_add_node(g, op, in, nin, out, nout, flops, bytes, module,
                           attrs ? json_deep_copy(attrs) : NULL);
    if (rc >= 0 && (hints || source))
        rc = gn_graph_set_node_info(g, (uint32_t)rc,
                                    hints ? json_deep_copy(hints) : NULL, source);
    if (rc < 0)
        return fail(c, rc, path, gn_strerror(rc));
    return 0;
}

static int load_step(ctx *c, gn_session *s, const json_t *st, size_t i)
{
    char path[64], fpath[256];
    json_t *v;
    int rc;
    snprintf(path, sizeof(path), "$.steps[%zu]", i);
    if (!json_is_object(st))
        return failf(c, path, "expected an object, got %s", type_name(st));

    gn_phase phase = GN_PHASE_UNKNOWN;
    const char *str, *label = NULL;
    if ((rc = get(c, st, path, "phase", 0, &v, fpath, sizeof(fpath))) < 0)
        return rc;
    if (v) {
        if ((rc = want_string(c, v, fpath, &str)) < 0)
            return rc;
        if (gn_phase_parse(str, &phase) < 0)
            return failf(c, fpath, "unknown phase \"%s\" (expected prefill, decode, forward, backward or unknown)", str);
    }
    if ((rc = get(c, st, path, "label", 0, &v, fpath, sizeof(fpath))) < 0 ||
        (v && (rc = want_string(c, v, fpath, &label)) < 0))
        return rc;

    gn_graph *g = gn_session_add_step(s, phase, label);
    if (!g)
        return fail(c, GN_ENOMEM, path, "out of memory");

    json_t *tensors, *nodes, *reads;
    if ((rc = get(c, st, path, "tensors", 1, &tensors, fpath, sizeof(fpath))) < 0 ||
        (rc = want_array(c, tensors, fpath)) < 0)
        return rc;
    for (size_t k = 0; k < json_array_size(tensors); k++)
        if ((rc = load_tensor(c, g, json_array_get(tensors, k), k, path)) < 0)
            return rc;

    if ((rc = get(c, st, path, "nodes", 1, &nodes, fpath, sizeof(fpath))) < 0 ||
        (rc = want_array(c, nodes, fpath)) < 0)
        return rc;
    uint32_t *ids[2] = {NULL, NULL};
    size_t cap[2] = {0, 0};
    for (size_t k = 0; k < json_array_size(nodes) && rc == 0; k++)
        rc = load_node(c, g, json_array_get(nodes, k), k, path, ids, cap);
    free(ids[0]);
    free(ids[1]);
    if (rc < 0)
        return rc;

    if ((rc = get(c, st, path, "reads", 0, &reads, fpath, sizeof(fpath))) < 0)
        return rc;
    if (reads) {
        if ((rc = want_array(c, reads, fpath)) < 0)
            return rc;
        for (size_t k = 0; k < json_array_size(reads); k++) {
            char rpath[280], rfpath[320];
            const json_t *r = json_array_get(reads, k);
            snprintf(rpath, sizeof(rpath), "%s[%zu]", fpath, k);
            if (!json_is_object(r))
                return failf(c, rpath, "expected an object, got %s", type_name(r));
            int64_t tid;
            const char *reason = NULL, *source = NULL;
            if ((rc = get(c, r, rpath, "tensor", 1, &v, rfpath, sizeof(rfpath))) < 0 ||
                (rc = want_count(c, v, rfpath, &tid)) < 0)
                return rc;
            if (tid >= gn_graph_ntensors(g))
                return fail(c, GN_ESCHEMA, rfpath, "tensor id does not exist in this step");
            if ((rc = get(c, r, rpath, "reason", 0, &v, rfpath, sizeof(rfpath))) < 0 ||
                (v && (rc = want_string(c, v, rfpath, &reason)) < 0))
                return rc;
            if ((rc = get(c, r, rpath, "source", 0, &v, rfpath, sizeof(rfpath))) < 0 ||
                (v && (rc = want_string(c, v, rfpath, &source)) < 0))
                return rc;
            if ((rc = gn_graph_add_read(g, (uint32_t)tid, reason, source)) < 0)
                return fail(c, rc, rpath, gn_strerror(rc));
        }
    }
    return 0;
}

gn_session *gn_trace_from_json(const json_t *doc, const char *name,
                               gn_error *err)
{
    ctx c = {name, err};
    json_t *v;
    const char *s;
    char fpath[256];
    int rc;
    if (!json_is_object(doc)) {
        failf(&c, "$", "expected an object, got %s", type_name(doc));
        return NULL;
    }
    if (get(&c, doc, "$", "schema", 1, &v, fpath, sizeof(fpath)) < 0 ||
        want_string(&c, v, fpath, &s) < 0)
        return NULL;
    if (strcmp(s, GN_TRACE_SCHEMA) != 0) {
        failf(&c, fpath, "expected \"genie.srg\", got \"%s\"", s);
        return NULL;
    }
    if (get(&c, doc, "$", "version", 1, &v, fpath, sizeof(fpath)) < 0 ||
        want_string(&c, v, fpath, &s) < 0)
        return NULL;
    if (strncmp(s, "1.", 2) != 0) {
        failf(&c, fpath, "unsupported version \"%s\" (this reader reads 1.x)", s);
        return NULL;
    }
    const char *sname;
    if (get(&c, doc, "$", "name", 1, &v, fpath, sizeof(fpath)) < 0 ||
        want_string(&c, v, fpath, &sname) < 0)
        return NULL;

    gn_session *sess = gn_session_create(sname);
    if (!sess) {
        fail(&c, GN_ENOMEM, "$", "out of memory");
        return NULL;
    }
    if ((rc = get(&c, doc, "$", "source", 0, &v, fpath, sizeof(fpath))) < 0 ||
        (v && (rc = want_string(&c, v, fpath, &s)) < 0) ||
        (v && (rc = gn_session_set_source(sess, s)) < 0))
        goto fail;
    if ((rc = get(&c, doc, "$", "model", 0, &v, fpath, sizeof(fpath))) < 0)
        goto fail;
    if (v)
        gn_session_set_model(sess, json_deep_copy(v));

    json_t *steps;
    if ((rc = get(&c, doc, "$", "steps", 1, &steps, fpath, sizeof(fpath))) < 0 ||
        (rc = want_array(&c, steps, fpath)) < 0)
        goto fail;
    if (json_array_size(steps) == 0) {
        fail(&c, GN_ESCHEMA, fpath, "expected at least one step");
        goto fail;
    }
    for (size_t i = 0; i < json_array_size(steps); i++)
        if ((rc = load_step(&c, sess, json_array_get(steps, i), i)) < 0)
            goto fail;

    gn_error sub;
    if ((rc = gn_session_finalize(sess, &sub)) < 0) {
        gn_error_set(err, rc, "%s: $.%s", name, sub.msg);
        goto fail;
    }
    return sess;
fail:
    gn_session_destroy(sess);
    return NULL;
}

gn_session *gn_trace_load(const char *path, gn_error *err)
{
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        if (je.line <= 0 || strstr(je.text, "unable to open"))
            gn_error_set(err, GN_EIO, "%s: cannot read: %s", path, je.text);
        else
            gn_error_set(err, GN_EPARSE, "%s: line %d column %d: %s", path,
                         je.line, je.column, je.text);
        return NULL;
    }
    gn_session *s = gn_trace_from_json(doc, path, err);
    json_decref(doc);
    return s;
}

/* ========================== writer ========================== */

/* Appends to ARR; returns -1 when out of memory (jansson steals VALUE). */
static int push(json_t *arr, json_t *value)
{
    return json_array_append_new(arr, value);
}

static int set(json_t *obj, const char *key, json_t *value)
{
    return json_object_set_new(obj, key, value);
}

static json_t *ids_json(const uint32_t *ids, uint32_t n)
{
    json_t *a = json_array();
    for (uint32_t i = 0; a && i < n; i++)
        if (push(a, json_integer(ids[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *step_json(const gn_graph *g)
{
    json_t *st = json_object(), *tensors = json_array(), *nodes = json_array();
    int bad = !st || !tensors || !nodes;
    if (!bad) {
        bad |= set(st, "phase", json_string(gn_phase_name(gn_graph_phase(g))));
        if (gn_graph_label(g))
            bad |= set(st, "label", json_string(gn_graph_label(g)));
    }
    for (uint32_t i = 0; !bad && i < gn_graph_ntensors(g); i++) {
        const gn_tensor *t = gn_graph_tensor(g, i);
        json_t *o = json_object(), *shape = json_array();
        bad |= !o || !shape;
        for (uint32_t d = 0; !bad && d < t->ndim; d++)
            bad |= push(shape, json_integer(t->shape[d]));
        if (bad) {
            json_decref(o);
            json_decref(shape);
            break;
        }
        bad |= set(o, "id", json_integer(i));
        if (t->name)
            bad |= set(o, "name", json_string(t->name));
        bad |= set(o, "dtype", json_string(gn_dtype_name(t->dtype)));
        bad |= set(o, "shape", shape);
        bad |= set(o, "bytes", json_integer((json_int_t)t->bytes));
        bad |= set(o, "kind", json_string(gn_kind_name(t->kind)));
        if (t->storage >= 0)
            bad |= set(o, "storage", json_string(gn_graph_storage_name(g, t->storage)));
        bad |= push(tensors, o);
    }
    for (uint32_t i = 0; !bad && i < gn_graph_nnodes(g); i++) {
        const gn_node *n = gn_graph_node(g, i);
        json_t *o = json_object();
        if (!o) {
            bad = 1;
            break;
        }
        bad |= set(o, "id", json_integer(i));
        bad |= set(o, "op", json_string(gn_op_name(n->op)));
        bad |= set(o, "inputs", ids_json(gn_graph_node_inputs(g, i), n->nin));
        bad |= set(o, "outputs", ids_json(gn_graph_node_outputs(g, i), n->nout));
        bad |= set(o, "flops", json_real(n->flops));
        bad |= set(o, "bytes", json_real(n->bytes));
        if (n->module)
            bad |= set(o, "module", json_string(n->module));
        if (n->attrs)
            bad |= set(o, "attrs", json_incref(n->attrs));
        if (n->hints)
            bad |= set(o, "hints", json_incref(n->hints));
        if (n->source)
            bad |= set(o, "source", json_string(n->source));
        bad |= push(nodes, o);
    }
    if (!bad && gn_graph_nreads(g)) {
        json_t *reads = json_array();
        bad |= !reads;
        for (uint32_t i = 0; !bad && i < gn_graph_nreads(g); i++) {
            const gn_read *r = gn_graph_read(g, i);
            json_t *o = json_object();
            bad |= !o;
            if (bad)
                break;
            bad |= set(o, "tensor", json_integer(r->tensor));
            if (r->reason)
                bad |= set(o, "reason", json_string(r->reason));
            if (r->source)
                bad |= set(o, "source", json_string(r->source));
            bad |= push(reads, o);
        }
        bad |= set(st, "reads", reads);
    }
    if (!bad) {
        bad |= set(st, "tensors", tensors);
        tensors = NULL;
        bad |= set(st, "nodes", nodes);
        nodes = NULL;
    }
    json_decref(tensors);
    json_decref(nodes);
    if (bad) {
        json_decref(st);
        return NULL;
    }
    return st;
}

json_t *gn_trace_to_json(const gn_session *s)
{
    json_t *doc = json_object(), *steps = json_array();
    int bad = !doc || !steps;
    if (!bad) {
        bad |= set(doc, "schema", json_string(GN_TRACE_SCHEMA));
        bad |= set(doc, "version", json_string(GN_TRACE_VERSION));
        bad |= set(doc, "name", json_string(gn_session_name(s)));
        if (gn_session_source(s))
            bad |= set(doc, "source", json_string(gn_session_source(s)));
        if (gn_session_model(s))
            bad |= set(doc, "model", json_incref(gn_session_model(s)));
    }
    for (uint32_t i = 0; !bad && i < gn_session_nsteps(s); i++) {
        json_t *st = step_json(gn_session_step(s, i));
        bad |= !st || push(steps, st) < 0;
    }
    if (!bad) {
        bad |= set(doc, "steps", steps);
        steps = NULL;
    }
    json_decref(steps);
    if (bad) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

int gn_trace_save(const gn_session *s, const char *path, int compact,
                  gn_error *err)
{
    json_t *doc = gn_trace_to_json(s);
    if (!doc)
        return gn_error_set(err, GN_ENOMEM, "%s: out of memory while encoding", path);
    size_t flags = JSON_REAL_PRECISION(17) | (compact ? JSON_COMPACT : JSON_INDENT(1));
    int rc = json_dump_file(doc, path, flags);
    json_decref(doc);
    if (rc < 0)
        return gn_error_set(err, GN_EIO, "%s: cannot write: %s", path, strerror(errno));
    return 0;
}
