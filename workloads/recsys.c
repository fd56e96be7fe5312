/*
 * recsys.c — DLRM session generator (see recsys.h).
 *
 * Each step follows dlrm_s_pytorch's forward: apply_mlp(dense, bot_l),
 * apply_emb (one EmbeddingBag per table, mode sum), interact_features
 * (dot), apply_mlp(top_l) with the sigmoid as its last module.  Index
 * tensors are [batch, pooling] i64 (fixed-size bags, which embedding_bag
 * takes without offsets).  Counting conventions are those of
 * traces/SCHEMA.md and live in add_op().
 */
#include "recsys.h"

#include "workload.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ========================== presets ========================== */

/* Criteo 1TB as MLPerf's DLRM reference hashes it (--max-ind-range=40M). */
static const uint64_t criteo_tb[26] = {
    39884406, 39043, 17289, 7420, 20263, 3, 7120, 1543, 63, 38532951, 2953546, 403346, 10,
    2208, 11938, 155, 4, 976, 14, 39979771, 25641295, 39664984, 585935, 12972, 108, 36};

/* Criteo Kaggle (Display Advertising Challenge), the reference's counts. */
static const uint64_t criteo_kaggle[26] = {
    1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194,
    27, 14992, 5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572};

static void fill(gn_recsys_config *c, const char *name, uint32_t dim, const uint64_t *rows,
                 uint32_t tables, const uint32_t *bot, uint32_t nbot, const uint32_t *top,
                 uint32_t ntop)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->dense = 13;
    c->dim = dim;
    c->tables = tables;
    for (uint32_t i = 0; i < tables; i++) {
        c->rows[i] = rows[i];
        c->pooling[i] = 1;
    }
    c->nbottom = nbot;
    memcpy(c->bottom, bot, nbot * sizeof(*bot));
    c->ntop = ntop;
    memcpy(c->top, top, ntop * sizeof(*top));
    c->dtype = GN_DTYPE_F32;
    c->batch = 256;
    c->requests = 4;
}

int gn_recsys_preset(const char *name, gn_recsys_config *cfg)
{
    if (strcmp(name, "dlrm-mlperf") == 0) {
        static const uint32_t bot[] = {512, 256, 128}, top[] = {1024, 1024, 512, 256, 1};
        fill(cfg, name, 128, criteo_tb, 26, bot, 3, top, 5);
    } else if (strcmp(name, "dlrm-kaggle") == 0) {
        static const uint32_t bot[] = {512, 256, 64, 16}, top[] = {512, 256, 1};
        fill(cfg, name, 16, criteo_kaggle, 26, bot, 4, top, 3);
    } else if (strcmp(name, "tiny-dlrm") == 0) {
        static const uint64_t rows[] = {100, 50};
        static const uint32_t bot[] = {8, 4}, top[] = {8, 1};
        fill(cfg, name, 4, rows, 2, bot, 2, top, 2);
        cfg->dense = 3;
        cfg->pooling[0] = 2;
        cfg->pooling[1] = 3;
        cfg->batch = 2;
        cfg->requests = 2;
    } else {
        return GN_ENOTFOUND;
    }
    return 0;
}

uint64_t gn_recsys_interaction_width(const gn_recsys_config *c)
{
    uint64_t f = (uint64_t)c->tables + 1;
    return c->dim + f * (f - 1) / 2;
}

uint64_t gn_recsys_param_count(const gn_recsys_config *c)
{
    uint64_t n = 0, in = c->dense;
    for (uint32_t i = 0; i < c->tables; i++)
        n += c->rows[i] * c->dim;
    for (uint32_t i = 0; i < c->nbottom; i++) {
        n += in * c->bottom[i] + c->bottom[i];
        in = c->bottom[i];
    }
    in = gn_recsys_interaction_width(c);
    for (uint32_t i = 0; i < c->ntop; i++) {
        n += in * c->top[i] + c->top[i];
        in = c->top[i];
    }
    return n;
}

/* ========================== config from JSON ========================== */

/* Reads an array of N integers in [LO, HI] (N = 0: any length up to MAX)
 * into a u64 array; returns its length or a negative code. */
static int int_array(const json_t *val, size_t max, uint64_t lo, uint64_t hi, uint64_t *out,
                     const char *file, const char *path, const char *key, gn_error *err)
{
    if (!json_is_array(val) || json_array_size(val) == 0 || json_array_size(val) > max)
        return gn_error_set(err, GN_ESCHEMA, "%s: %s.%s: expected an array of 1 to %zu integers",
                            file, path, key, max);
    for (size_t i = 0; i < json_array_size(val); i++) {
        json_t *e = json_array_get(val, i);
        if (!json_is_integer(e) || json_integer_value(e) < (json_int_t)lo ||
            (uint64_t)json_integer_value(e) > hi)
            return gn_error_set(err, GN_ESCHEMA, "%s: %s.%s[%zu]: expected an integer in [%llu, %llu]",
                                file, path, key, i, (unsigned long long)lo, (unsigned long long)hi);
        out[i] = (uint64_t)json_integer_value(e);
    }
    return (int)json_array_size(val);
}

int gn_recsys_config_from_json(const json_t *obj, const char *file,
                               const char *path, gn_recsys_config *cfg,
                               gn_error *err)
{
    gn_recsys_config c;
    if (!json_is_object(obj))
        return gn_error_set(err, GN_ESCHEMA, "%s: %s: expected an object", file, path);
    json_t *v = json_object_get(obj, "model");
    if (!v)
        return gn_error_set(err, GN_ESCHEMA, "%s: %s.model: missing required field (a preset such as dlrm-kaggle or dlrm-mlperf)", file, path);
    if (!json_is_string(v) || gn_recsys_preset(json_string_value(v), &c) < 0)
        return gn_error_set(err, GN_ESCHEMA, "%s: %s.model: unknown model (expected dlrm-mlperf, dlrm-kaggle or tiny-dlrm)",
                            file, path);
    static const gn__field fields[] = {
        {"batch", offsetof(gn_recsys_config, batch), 1, 1u << 20},
        {"requests", offsetof(gn_recsys_config, requests), 1, 1u << 20},
        {"dim", offsetof(gn_recsys_config, dim), 1, 1u << 16},
        {"dense", offsetof(gn_recsys_config, dense), 1, 1u << 16},
    };
    uint64_t tmp[GN_RECSYS_MAX_TABLES];
    json_t *pool = NULL;
    const char *key;
    json_t *val;
    /* rows first: it sets the number of tables that pooling must match */
    if ((val = json_object_get(obj, "rows")) != NULL) {
        int n = int_array(val, GN_RECSYS_MAX_TABLES, 1, 1ull << 40, tmp, file, path, "rows", err);
        if (n < 0)
            return n;
        c.tables = (uint32_t)n;
        for (int i = 0; i < n; i++) {
            c.rows[i] = tmp[i];
            c.pooling[i] = 1;
        }
    }
    json_object_foreach((json_t *)obj, key, val) {
        int handled = gn__workload_key(key, val, fields, sizeof(fields) / sizeof(fields[0]), &c, &c.dtype,
                                       file, path, err);
        if (handled < 0)
            return handled;
        if (handled)
            continue;
        if (strcmp(key, "rows") == 0) /* read above */
            continue;
        if (strcmp(key, "pooling") == 0) {
            pool = val;
            continue;
        }
        if (strcmp(key, "bottom_mlp") == 0 || strcmp(key, "top_mlp") == 0) {
            int n = int_array(val, GN_RECSYS_MAX_LAYERS, 1, 1u << 20, tmp, file, path, key, err);
            if (n < 0)
                return n;
            uint32_t *w = key[0] == 'b' ? c.bottom : c.top;
            for (int i = 0; i < n; i++)
                w[i] = (uint32_t)tmp[i];
            *(key[0] == 'b' ? &c.nbottom : &c.ntop) = (uint32_t)n;
            continue;
        }
        return gn_error_set(err, GN_ESCHEMA, "%s: %s.%s: unknown field of a recsys workload", file, path, key);
    }
    if (pool) {
        if (json_is_integer(pool)) {
            if (json_integer_value(pool) < 1 || json_integer_value(pool) > 1 << 16)
                return gn_error_set(err, GN_ESCHEMA, "%s: %s.pooling: expected an integer in [1, 65536] or one per table", file, path);
            for (uint32_t i = 0; i < c.tables; i++)
                c.pooling[i] = (uint32_t)json_integer_value(pool);
        } else {
            int n = int_array(pool, GN_RECSYS_MAX_TABLES, 1, 1 << 16, tmp, file, path, "pooling", err);
            if (n < 0)
                return n;
            if ((uint32_t)n != c.tables)
                return gn_error_set(err, GN_ESCHEMA, "%s: %s.pooling: expected one lookup count per table (%u), got %d",
                                    file, path, c.tables, n);
            for (int i = 0; i < n; i++)
                c.pooling[i] = (uint32_t)tmp[i];
        }
    }
    v = json_object_get(obj, "name");
    if (json_is_string(v))
        snprintf(c.name, sizeof(c.name), "%s", json_string_value(v));
    *cfg = c;
    return 0;
}

/* ========================== graph building ========================== */

typedef struct gen {
    gn_graph *g;
    const gn_recsys_config *c;
    int rc;          /* first error, 0 if none */
    char mod[64];    /* module path scratch */
    char name[96];   /* storage name scratch */
} gen;

static uint32_t tensor2(gen *x, gn_kind kind, gn_dtype dt, const char *storage, int64_t d0, int64_t d1)
{
    int64_t shape[2] = {d0, d1};
    int id = gn_graph_add_tensor(x->g, NULL, dt, kind, d1 < 0 ? 1 : 2, shape, storage);
    if (id < 0 && !x->rc)
        x->rc = id;
    return id < 0 ? 0 : (uint32_t)id;
}

static double tbytes(gen *x, uint32_t t)
{
    return (double)gn_graph_tensor(x->g, t)->bytes;
}

/* Adds an op; bytes are inputs + outputs (SCHEMA.md) unless BYTES >= 0. */
static void add_op(gen *x, gn_op op, const uint32_t *in, uint32_t nin, uint32_t out,
                   double flops, double bytes, const char *module, json_t *attrs)
{
    if (bytes < 0) /* the convention, unless the caller counted (embedding bags) */
        bytes = gn_graph_convention_bytes(x->g, op, in, nin, &out, 1);
    int rc = gn_graph_add_node(x->g, op, in, nin, &out, 1, flops, bytes, module, attrs);
    if (rc < 0 && !x->rc)
        x->rc = rc;
}

/* Linear layer `MLP.IDX` on IN [B, k] -> [B, n], then ReLU (`MLP.IDX+1`)
 * or, for the top MLP's last layer, the sigmoid, whose result is the
 * step's output. */
static uint32_t layer(gen *x, uint32_t in, const char *mlp, uint32_t idx, uint32_t k, uint32_t n,
                      int last_top)
{
    const gn_recsys_config *c = x->c;
    double B = c->batch;
    snprintf(x->mod, sizeof(x->mod), "%s.%u", mlp, idx);
    snprintf(x->name, sizeof(x->name), "%s.weight", x->mod);
    uint32_t ins[3] = {in, tensor2(x, GN_KIND_PARAM, c->dtype, x->name, n, k), 0};
    snprintf(x->name, sizeof(x->name), "%s.bias", x->mod);
    ins[2] = tensor2(x, GN_KIND_PARAM, c->dtype, x->name, n, -1);
    uint32_t h = tensor2(x, GN_KIND_ACTIVATION, c->dtype, NULL, c->batch, n);
    add_op(x, GN_OP_MATMUL, ins, 3, h, 2 * B * n * k + B * n, -1, x->mod,
           json_pack("{s:i,s:i,s:i,s:b,s:b}", "m", c->batch, "n", n, "k", k, "bias", 1, "transpose_b", 1));
    snprintf(x->mod, sizeof(x->mod), "%s.%u", mlp, idx + 1);
    uint32_t a = tensor2(x, last_top ? GN_KIND_OUTPUT : GN_KIND_ACTIVATION, c->dtype, NULL, c->batch, n);
    add_op(x, GN_OP_ELEMENTWISE, &h, 1, a, (last_top ? 4 : 1) * B * n, -1, x->mod,
           json_pack("{s:s}", "fn", last_top ? "sigmoid" : "relu"));
    return a;
}

static void build_step(gen *x)
{
    const gn_recsys_config *c = x->c;
    uint32_t B = c->batch, F = c->tables + 1, feats[GN_RECSYS_MAX_TABLES + 1];
    size_t es = gn_dtype_size(c->dtype);

    uint32_t h = tensor2(x, GN_KIND_INPUT, c->dtype, NULL, B, c->dense), k = c->dense;
    for (uint32_t i = 0; i < c->nbottom && !x->rc; i++) {
        h = layer(x, h, "bot_l", 2 * i, k, c->bottom[i], 0);
        k = c->bottom[i];
    }
    feats[0] = h;
    for (uint32_t t = 0; t < c->tables && !x->rc; t++) {
        uint32_t P = c->pooling[t];
        snprintf(x->mod, sizeof(x->mod), "emb_l.%u", t);
        snprintf(x->name, sizeof(x->name), "emb_l.%u.weight", t);
        uint32_t ins[2] = {tensor2(x, GN_KIND_PARAM, c->dtype, x->name, (int64_t)c->rows[t], c->dim),
                           tensor2(x, GN_KIND_INPUT, GN_DTYPE_I64, NULL, B, P)};
        feats[t + 1] = tensor2(x, GN_KIND_ACTIVATION, c->dtype, NULL, B, c->dim);
        double looked = (double)B * P * c->dim; /* elements of the rows looked up */
        add_op(x, GN_OP_EMBEDDING_BAG, ins, 2, feats[t + 1], looked,
               tbytes(x, ins[1]) + looked * es + tbytes(x, feats[t + 1]), x->mod,
               json_pack("{s:I,s:i,s:s,s:i}", "num", (json_int_t)c->rows[t], "dim", c->dim, "mode", "sum",
                         "pooling", P));
    }
    if (x->rc)
        return;
    uint64_t wi = gn_recsys_interaction_width(c);
    uint32_t z = tensor2(x, GN_KIND_ACTIVATION, c->dtype, NULL, B, (int64_t)wi);
    add_op(x, GN_OP_INTERACTION, feats, F, z, 2.0 * B * F * F * c->dim, -1, "interaction",
           json_pack("{s:s,s:i,s:i,s:b}", "fn", "dot", "features", F, "dim", c->dim, "self", 0));
    h = z;
    k = (uint32_t)wi;
    for (uint32_t i = 0; i < c->ntop && !x->rc; i++) {
        h = layer(x, h, "top_l", 2 * i, k, c->top[i], i + 1 == c->ntop);
        k = c->top[i];
    }
    if (!x->rc)
        x->rc = gn_graph_add_read(x->g, h, "cpu", NULL);
}

gn_session *gn_recsys_generate(const gn_recsys_config *c, gn_error *err)
{
    int bad = c->tables == 0 || c->tables > GN_RECSYS_MAX_TABLES || c->dim == 0 || c->dense == 0 ||
              c->batch == 0 || c->requests == 0 || c->nbottom == 0 || c->ntop == 0 ||
              c->nbottom > GN_RECSYS_MAX_LAYERS || c->ntop > GN_RECSYS_MAX_LAYERS;
    for (uint32_t i = 0; !bad && i < c->tables; i++)
        bad |= c->rows[i] == 0 || c->pooling[i] == 0;
    if (bad) {
        gn_error_set(err, GN_EINVAL, "%s: tables (1 to %d, each with rows and pooling >= 1), dim, dense, batch, requests and both MLPs must be non-empty",
                     c->name, GN_RECSYS_MAX_TABLES);
        return NULL;
    }
    if (c->bottom[c->nbottom - 1] != c->dim || c->top[c->ntop - 1] != 1) {
        gn_error_set(err, GN_EINVAL, "%s: the bottom MLP must end in dim (%u) outputs for the dot interaction, got %u; the top MLP in 1, got %u",
                     c->name, c->dim, c->bottom[c->nbottom - 1], c->top[c->ntop - 1]);
        return NULL;
    }
    char name[128];
    snprintf(name, sizeof(name), "%s b%u t%u r%u %s", c->name, c->batch, c->tables, c->requests,
             gn_dtype_name(c->dtype));
    gn_session *s = gn_session_create(name);
    if (!s || gn_session_set_source(s, "workloads/recsys") < 0) {
        gn_session_destroy(s);
        gn_error_set(err, GN_ENOMEM, "recsys: out of memory");
        return NULL;
    }
    json_t *rows = json_array();
    for (uint32_t i = 0; i < c->tables; i++)
        json_array_append_new(rows, json_integer((json_int_t)c->rows[i]));
    gn_session_set_model(s, json_pack("{s:s,s:s,s:i,s:i,s:o,s:i,s:I}", "family", "recsys", "arch", "dlrm",
                                      "dense", c->dense, "dim", c->dim, "rows", rows, "batch", c->batch,
                                      "params", (json_int_t)gn_recsys_param_count(c)));
    gen x = {.c = c};
    for (uint32_t st = 0; st < c->requests && !x.rc; st++) {
        char label[32];
        snprintf(label, sizeof(label), "request %u", st);
        x.g = gn_session_add_step(s, GN_PHASE_FORWARD, label);
        if (!x.g) {
            x.rc = GN_ENOMEM;
            break;
        }
        build_step(&x);
    }
    gn_error sub;
    if (x.rc) {
        gn_error_set(err, x.rc, "%s: cannot build the trace: %s", c->name, gn_strerror(x.rc));
    } else if (gn_session_finalize(s, &sub) < 0) {
        gn_error_set(err, sub.code, "%s: generated trace is invalid: %s", c->name, sub.msg);
        x.rc = sub.code;
    }
    if (x.rc) {
        gn_session_destroy(s);
        return NULL;
    }
    return s;
}
