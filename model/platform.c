/*
 * platform.c — hardware presets and the experiment's platform object.
 *
 * Preset figures are vendor datasheet peaks (dense, no sparsity):
 *   H100 SXM5 80GB: 989.4 TFLOP/s bf16/fp16 tensor, 66.9 TFLOP/s fp32,
 *                   3.35 TB/s HBM3.
 *   A100 SXM4 80GB: 312 TFLOP/s bf16/fp16 tensor, 19.5 TFLOP/s fp32,
 *                   2.039 TB/s HBM2e.
 * Efficiency factors (0.6 compute, 0.8 memory) are typical achieved
 * fractions for large GEMMs and streaming kernels; the kernel launch cost
 * (5 us) is the order of the per-call host overhead of CUDA submissions
 * measured on current systems.  All are overridable per experiment and are
 * what calibration (genie-real --calibrate) replaces with measurements.
 */
#include "platform.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static const gn_gpu_spec gpu_presets[] = {
    {"h100", 989.4e12, 66.9e12, 3.35e12, 80e9, 0.6, 0.8, 5e-6, {0}, {0}, {0}, {{0}}, 0, {{0}}, 0},
    {"a100", 312e12, 19.5e12, 2.039e12, 80e9, 0.6, 0.8, 5e-6, {0}, {0}, {0}, {{0}}, 0, {{0}}, 0},
};

/* name, Gb/s, one-way latency (us): RDMA-class NICs through one switch */
static const struct {
    const char *name;
    double gbps;
    double latency_us;
} net_presets[] = {
    {"25g", 25, 5}, {"100g", 100, 3}, {"200g", 200, 3}, {"400g", 400, 2},
};

int gn_gpu_preset(const char *name, gn_gpu_spec *out)
{
    for (size_t i = 0; i < sizeof(gpu_presets) / sizeof(gpu_presets[0]); i++)
        if (strcmp(gpu_presets[i].name, name) == 0) {
            *out = gpu_presets[i];
            return 0;
        }
    return GN_ENOTFOUND;
}

void gn_platform_default(gn_platform *p)
{
    memset(p, 0, sizeof(*p));
    p->client_cpu_flops = 1e12;
    p->client_has_gpu = 1;
    gn_gpu_preset("h100", &p->client_gpu);
    p->pcie_bw = 64e9;      /* PCIe 5.0 x16, per direction */
    p->pcie_latency = 1e-6;
    p->nodes = 1;
    p->gpus_per_node = 1;
    gn_gpu_preset("h100", &p->gpu);
    p->node_cpu_cores = 16;
    p->node_mem_bytes = 512e9;
    p->nvlink_bw = 450e9;   /* NVLink 4, per direction */
    p->net_bw = 100e9 / 8;
    p->net_latency = 3e-6;
    p->msg_overhead_s = 2e-6;
}

double gn_gpu_peak(const gn_gpu_spec *gpu, gn_dtype dt)
{
    return (dt == GN_DTYPE_F32 || dt == GN_DTYPE_F64) ? gpu->flops_f32 : gpu->flops_f16;
}

/* ========================== JSON ========================== */

typedef struct jctx {
    const char *file;
    gn_error *err;
} jctx;

/* Reads OBJ[KEY] as a positive number into *OUT if present. */
static int num(jctx *c, const json_t *obj, const char *path, const char *key,
               double *out, double lo, double hi)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_number(v))
        return gn_error_set(c->err, GN_ESCHEMA, "%s: %s.%s: expected a number", c->file, path, key);
    double d = json_number_value(v);
    if (!(d >= lo && d <= hi) || !isfinite(d))
        return gn_error_set(c->err, GN_ESCHEMA, "%s: %s.%s: expected a number in [%g, %g], got %g",
                            c->file, path, key, lo, hi, d);
    *out = d;
    return 0;
}

static int gpu_field(jctx *c, const json_t *obj, const char *path,
                     gn_gpu_spec *gpu)
{
    json_t *v = json_object_get(obj, "gpu");
    if (!v)
        return 0;
    if (!json_is_string(v))
        return gn_error_set(c->err, GN_ESCHEMA, "%s: %s.gpu: expected a string (h100 or a100)", c->file, path);
    if (gn_gpu_preset(json_string_value(v), gpu) < 0)
        return gn_error_set(c->err, GN_ESCHEMA, "%s: %s.gpu: unknown GPU \"%s\" (expected h100 or a100)",
                            c->file, path, json_string_value(v));
    return 0;
}

int gn_op_time_cmp(const void *a, const void *b)
{
    const struct gn_op_time *x = a, *y = b;
    if (x->op != y->op)
        return x->op < y->op ? -1 : 1;
    if (x->flops != y->flops)
        return x->flops < y->flops ? -1 : 1;
    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? -1 : 1;
    return strcmp(x->fn, y->fn);
}

/* KEY as "op" or "op.fn" into *OP and FN (LEN bytes; "" without a fn):
 * 0; -1 when it has not that shape (an empty or too long part), -2 when
 * the op is not of the vocabulary. */
static int parse_op_fn(const char *key, gn_op *op, char *fn, size_t len)
{
    const char *dot = strchr(key, '.');
    size_t n = dot ? (size_t)(dot - key) : strlen(key);
    char opname[32];
    if (n >= sizeof(opname) || (dot && (!dot[1] || strlen(dot + 1) >= len)))
        return -1;
    memcpy(opname, key, n);
    opname[n] = '\0';
    if (gn_op_parse(opname, op) < 0)
        return -2;
    snprintf(fn, len, "%s", dot ? dot + 1 : "");
    return 0;
}

/* "op_times": [["OP" or "OP.FN", FLOPs, bytes, us], ...], kept sorted. */
static int op_times(jctx *c, const json_t *arr, const char *path, gn_gpu_spec *gpu)
{
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return gn_error_set(c->err, GN_ESCHEMA, "%s: %s.op_times: expected an array of [\"op.fn\", FLOPs, bytes, us]",
                            c->file, path);
    if (json_array_size(arr) > GN_MAX_OP_TIMES)
        return gn_error_set(c->err, GN_ESCHEMA, "%s: %s.op_times: more than %d entries", c->file, path,
                            GN_MAX_OP_TIMES);
    size_t i;
    json_t *e;
    gpu->nop_time = 0;
    json_array_foreach(arr, i, e) {
        const char *key = json_string_value(json_array_get(e, 0));
        double v[3];
        for (int k = 0; k < 3; k++) {
            json_t *x = json_array_get(e, (size_t)k + 1);
            v[k] = json_is_number(x) ? json_number_value(x) : -1;
        }
        struct gn_op_time *t = &gpu->op_time[gpu->nop_time];
        memset(t, 0, sizeof(*t));
        int kr = key ? parse_op_fn(key, &t->op, t->fn, sizeof(t->fn)) : -1;
        if (!json_is_array(e) || json_array_size(e) != 4 || kr == -1 || !(v[0] >= 0 && v[1] >= 0 && v[2] > 0) ||
            v[2] > 1e9)
            return gn_error_set(c->err, GN_ESCHEMA,
                                "%s: %s.op_times[%zu]: expected [\"op\" or \"op.fn\", FLOPs >= 0, bytes >= 0, us > 0]",
                                c->file, path, i);
        if (kr < 0)
            return gn_error_set(c->err, GN_ESCHEMA, "%s: %s.op_times[%zu]: \"%.*s\" is not an op of the vocabulary",
                                c->file, path, i, (int)strcspn(key, "."), key);
        t->flops = v[0];
        t->bytes = v[1];
        t->s = v[2] * 1e-6;
        gpu->nop_time++;
    }
    qsort(gpu->op_time, gpu->nop_time, sizeof(gpu->op_time[0]), gn_op_time_cmp);
    return 0;
}

double gn_gpu_op_time(const gn_gpu_spec *gpu, gn_op op, const char *fn, double flops, double bytes)
{
    struct gn_op_time key = {.op = op, .flops = flops, .bytes = bytes};
    snprintf(key.fn, sizeof(key.fn), "%s", fn ? fn : "");
    const struct gn_op_time *t = bsearch(&key, gpu->op_time, gpu->nop_time, sizeof(key), gn_op_time_cmp);
    return t ? t->s : -1;
}

static int gpu_overrides(jctx *c, const json_t *obj, const char *path,
                         gn_gpu_spec *gpu)
{
    double launch_us = gpu->launch_s * 1e6, f32 = gpu->flops_f32 / 1e9, f16 = gpu->flops_f16 / 1e9;
    double mem_gbs = gpu->mem_bw / 1e9, gmem = gpu->mem_bytes / 1073741824.0;
    int rc;
    if ((rc = num(c, obj, path, "efficiency_compute", &gpu->eff_compute, 1e-3, 1)) < 0 ||
        (rc = num(c, obj, path, "efficiency_memory", &gpu->eff_memory, 1e-3, 1)) < 0 ||
        (rc = num(c, obj, path, "launch_us", &launch_us, 0, 1e6)) < 0 ||
        (rc = num(c, obj, path, "peak_gflops_f32", &f32, 1e-3, 1e9)) < 0 ||
        (rc = num(c, obj, path, "peak_gflops_f16", &f16, 1e-3, 1e9)) < 0 ||
        (rc = num(c, obj, path, "memory_gbs", &mem_gbs, 1e-3, 1e9)) < 0 ||
        (rc = num(c, obj, path, "gpu_memory_gib", &gmem, 1e-6, 1e9)) < 0)
        return rc;
    const char *const tables[3] = {"op_gflops", "op_gbs", "op_fixed_us"};
    double *const dest[3] = {gpu->op_flops, gpu->op_bw, gpu->op_fixed_s};
    const double unit[3] = {1e9, 1e9, 1e-6};
    for (int k = 0; k < 3; k++) {
        json_t *ops = json_object_get(obj, tables[k]);
        const char *key;
        json_t *v;
        if (ops && !json_is_object(ops))
            return gn_error_set(c->err, GN_ESCHEMA, "%s: %s.%s: expected an object {op: rate}", c->file, path,
                                tables[k]);
        json_object_foreach(ops, key, v) {
            gn_op op;
            if (gn_op_parse(key, &op) < 0)
                return gn_error_set(c->err, GN_ESCHEMA, "%s: %s.%s.%s: not an op of the vocabulary", c->file, path,
                                    tables[k], key);
            if (!json_is_number(v) || !(json_number_value(v) > 0) || json_number_value(v) > 1e9)
                return gn_error_set(c->err, GN_ESCHEMA, "%s: %s.%s.%s: expected a number in (0, 1e9]", c->file,
                                    path, tables[k], key);
            dest[k][op] = json_number_value(v) * unit[k];
        }
    }
    json_t *fns = json_object_get(obj, "fn_costs");
    const char *fkey;
    json_t *fv;
    if (fns && !json_is_object(fns))
        return gn_error_set(c->err, GN_ESCHEMA, "%s: %s.fn_costs: expected an object {\"op.fn\": [GFLOP/s, GB/s, us]}",
                            c->file, path);
    json_object_foreach(fns, fkey, fv) {
        gn_op op;
        char fn[sizeof(gpu->fn_cost[0].fn)];
        int kr = strchr(fkey, '.') ? parse_op_fn(fkey, &op, fn, sizeof(fn)) : -1;
        if (kr == -1)
            return gn_error_set(c->err, GN_ESCHEMA, "%s: %s.fn_costs.%s: expected \"op.fn\"", c->file, path, fkey);
        if (kr < 0)
            return gn_error_set(c->err, GN_ESCHEMA, "%s: %s.fn_costs.%s: not an op of the vocabulary", c->file, path,
                                fkey);
        double v[3];
        for (int k = 0; k < 3; k++) {
            json_t *x = json_array_get(fv, (size_t)k);
            v[k] = json_is_number(x) ? json_number_value(x) : -1;
        }
        if (!json_is_array(fv) || json_array_size(fv) != 3 || !(v[0] >= 0 && v[1] >= 0 && v[2] >= 0) ||
            v[0] > 1e9 || v[1] > 1e9 || v[2] > 1e9 || (v[0] == 0 && v[1] == 0 && v[2] == 0))
            return gn_error_set(c->err, GN_ESCHEMA, "%s: %s.fn_costs.%s: expected [GFLOP/s, GB/s, us], >= 0, not all 0",
                                c->file, path, fkey);
        if (gpu->nfn_cost == GN_MAX_FN_COSTS)
            return gn_error_set(c->err, GN_ESCHEMA, "%s: %s.fn_costs: more than %d entries", c->file, path,
                                GN_MAX_FN_COSTS);
        struct gn_fn_cost *e = &gpu->fn_cost[gpu->nfn_cost++];
        e->op = op;
        snprintf(e->fn, sizeof(e->fn), "%s", fn);
        e->flops = v[0] * 1e9;
        e->bw = v[1] * 1e9;
        e->fixed_s = v[2] * 1e-6;
    }
    if ((rc = op_times(c, json_object_get(obj, "op_times"), path, gpu)) < 0)
        return rc;
    gpu->launch_s = launch_us * 1e-6;
    gpu->flops_f32 = f32 * 1e9;
    gpu->flops_f16 = f16 * 1e9;
    gpu->mem_bw = mem_gbs * 1e9;
    gpu->mem_bytes = gmem * 1073741824.0;
    return 0;
}

static int want_object(jctx *c, const json_t *v, const char *path)
{
    if (v && !json_is_object(v))
        return gn_error_set(c->err, GN_ESCHEMA, "%s: %s: expected an object", c->file, path);
    return 0;
}

int gn_platform_apply_json(gn_platform *p, const json_t *obj,
                           const char *file, const char *path,
                           gn_error *err)
{
    jctx c = {file, err};
    gn_platform q = *p;
    char sub[128];
    int rc;
    if ((rc = want_object(&c, obj, path)) < 0)
        return rc;

    const json_t *client = json_object_get(obj, "client");
    snprintf(sub, sizeof(sub), "%s.client", path);
    if ((rc = want_object(&c, client, sub)) < 0)
        return rc;
    if (client) {
        double gflops = q.client_cpu_flops / 1e9;
        if ((rc = gpu_field(&c, client, sub, &q.client_gpu)) < 0 ||
            (rc = gpu_overrides(&c, client, sub, &q.client_gpu)) < 0 ||
            (rc = num(&c, client, sub, "cpu_gflops", &gflops, 1e-3, 1e9)) < 0)
            return rc;
        q.client_cpu_flops = gflops * 1e9;
    }

    const json_t *node = json_object_get(obj, "node");
    snprintf(sub, sizeof(sub), "%s.node", path);
    if ((rc = want_object(&c, node, sub)) < 0)
        return rc;
    if (node) {
        double gpus = q.gpus_per_node, count = q.nodes, cores = q.node_cpu_cores;
        double mem_gib = q.node_mem_bytes / 1073741824.0;
        if ((rc = gpu_field(&c, node, sub, &q.gpu)) < 0 ||
            (rc = gpu_overrides(&c, node, sub, &q.gpu)) < 0 ||
            (rc = num(&c, node, sub, "gpus", &gpus, 1, 64)) < 0 ||
            (rc = num(&c, node, sub, "count", &count, 1, 4096)) < 0 ||
            (rc = num(&c, node, sub, "cpu_cores", &cores, 1, 4096)) < 0 ||
            (rc = num(&c, node, sub, "memory_gib", &mem_gib, 0, 1e7)) < 0)
            return rc;
        q.gpus_per_node = (uint32_t)gpus;
        q.nodes = (uint32_t)count;
        q.node_cpu_cores = (uint32_t)cores;
        q.node_mem_bytes = mem_gib * 1073741824.0;
    }

    const json_t *net = json_object_get(obj, "network");
    snprintf(sub, sizeof(sub), "%s.network", path);
    if ((rc = want_object(&c, net, sub)) < 0)
        return rc;
    if (net) {
        json_t *preset = json_object_get(net, "preset");
        double gbps = q.net_bw * 8 / 1e9, lat_us = q.net_latency * 1e6;
        double ovh_us = q.msg_overhead_s * 1e6;
        if (preset) {
            size_t i, n = sizeof(net_presets) / sizeof(net_presets[0]);
            const char *name = json_is_string(preset) ? json_string_value(preset) : "";
            for (i = 0; i < n; i++)
                if (strcmp(net_presets[i].name, name) == 0)
                    break;
            if (i == n)
                return gn_error_set(err, GN_ESCHEMA, "%s: %s.preset: unknown network preset (expected 25g, 100g, 200g or 400g)",
                                    file, sub);
            gbps = net_presets[i].gbps;
            lat_us = net_presets[i].latency_us;
        }
        if ((rc = num(&c, net, sub, "bandwidth_gbps", &gbps, 1e-3, 1e6)) < 0 ||
            (rc = num(&c, net, sub, "latency_us", &lat_us, 0, 1e7)) < 0 ||
            (rc = num(&c, net, sub, "msg_overhead_us", &ovh_us, 0, 1e6)) < 0)
            return rc;
        q.net_bw = gbps * 1e9 / 8;
        q.net_latency = lat_us * 1e-6;
        q.msg_overhead_s = ovh_us * 1e-6;
    }
    const json_t *hc = json_object_get(obj, "host_copy");
    snprintf(sub, sizeof(sub), "%s.host_copy", path);
    if ((rc = want_object(&c, hc, sub)) < 0)
        return rc;
    if (hc) {
        double gbps = q.pcie_bw * 8 / 1e9, lat_us = q.pcie_latency * 1e6;
        if ((rc = num(&c, hc, sub, "bandwidth_gbps", &gbps, 1e-3, 1e6)) < 0 ||
            (rc = num(&c, hc, sub, "latency_us", &lat_us, 0, 1e7)) < 0)
            return rc;
        q.pcie_bw = gbps * 1e9 / 8;
        q.pcie_latency = lat_us * 1e-6;
    }
    *p = q;
    return 0;
}

json_t *gn_platform_file_load(const char *path, gn_error *err)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc) {
        gn_error_set(err, GN_EIO, "%s:%d: %s", path, jerr.line, jerr.text);
        return NULL;
    }
    gn_platform probe;
    gn_platform_default(&probe);
    if (gn_platform_apply_json(&probe, doc, path, "$", err) < 0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}
