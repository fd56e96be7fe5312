/*
 * vqa.c — ViT + BERT + cross-attention fusion VQA session generator (see
 * vqa.h).
 *
 * Each step runs the vision encoder on the pixels, the text encoder on
 * the question, then the fusion layers with the text as queries and the
 * image tokens as keys and values, and the answer head.  The two
 * encoders are independent branches of the step's DAG (a planner may
 * overlap them).  Linear layers are [.., k] x [n, k]^T + b as nn.Linear
 * stores them; heads are split and merged by views.  Counting
 * conventions are those of traces/SCHEMA.md and live in add_op().
 */
#include "vqa.h"

#include "workload.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ========================== presets ========================== */

static const gn_vqa_config presets[] = {
    /* name, image, patch, vL, vd, vH, vff, vocab, max_pos, types, tL, td, tH, tff,
     * fL, fH, fff, head_hidden, answers, text_len, dtype, batch, requests */
    {"vit-bert-vqa", 224, 16, 12, 768, 12, 3072, 30522, 512, 2, 12, 768, 12, 3072,
     4, 12, 3072, 1536, 3129, 32, GN_DTYPE_F16, 1, 4},
    {"tiny-vqa", 32, 16, 1, 8, 2, 16, 50, 16, 2, 1, 8, 2, 16,
     1, 2, 16, 16, 5, 4, GN_DTYPE_F32, 1, 2},
};

int gn_vqa_preset(const char *name, gn_vqa_config *cfg)
{
    for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
        if (strcmp(presets[i].name, name) == 0) {
            *cfg = presets[i];
            return 0;
        }
    return GN_ENOTFOUND;
}

/* One transformer layer: q, k, v, o with biases (k, v read KV-wide
 * inputs), two LayerNorms, MLP with biases. */
static uint64_t layer_params(uint64_t d, uint64_t kv, uint64_t f)
{
    return (d * d + d) + 2 * (kv * d + d) + (d * d + d) + 2 * 2 * d + (d * f + f) + (f * d + d);
}

uint64_t gn_vqa_vision_params(const gn_vqa_config *c)
{
    uint64_t d = c->v_d, p = c->patch, np = (uint64_t)(c->image / c->patch) * (c->image / c->patch);
    return (3 * p * p * d + d) + d + (np + 1) * d + c->v_layers * layer_params(d, d, c->v_ff) + 2 * d;
}

uint64_t gn_vqa_text_params(const gn_vqa_config *c)
{
    uint64_t d = c->t_d;
    return ((uint64_t)c->vocab + c->max_pos + c->type_vocab) * d + 2 * d +
           c->t_layers * layer_params(d, d, c->t_ff);
}

uint64_t gn_vqa_param_count(const gn_vqa_config *c)
{
    uint64_t d = c->t_d, h = c->head_hidden;
    return gn_vqa_vision_params(c) + gn_vqa_text_params(c) +
           c->f_layers * layer_params(d, c->v_d, c->f_ff) + (d * h + h) + 2 * h + (h * c->answers + c->answers);
}

/* ========================== config from JSON ========================== */

int gn_vqa_config_from_json(const json_t *obj, const char *file,
                            const char *path, gn_vqa_config *cfg,
                            gn_error *err)
{
    gn_vqa_config c;
    if (!json_is_object(obj))
        return gn_error_set(err, GN_ESCHEMA, "%s: %s: expected an object", file, path);
    json_t *v = json_object_get(obj, "model");
    if (!v)
        return gn_error_set(err, GN_ESCHEMA, "%s: %s.model: missing required field (a preset such as vit-bert-vqa)", file, path);
    if (!json_is_string(v) || gn_vqa_preset(json_string_value(v), &c) < 0)
        return gn_error_set(err, GN_ESCHEMA, "%s: %s.model: unknown model (expected vit-bert-vqa or tiny-vqa)", file, path);
#define F(key, lo, hi) {#key, offsetof(gn_vqa_config, key), lo, hi}
    static const gn__field fields[] = {
        F(batch, 1, 4096), F(requests, 1, 1u << 20), F(text_len, 1, 1u << 16), F(image, 1, 8192),
        F(patch, 1, 1024), F(v_layers, 0, 1024), F(v_d, 1, 1u << 16), F(v_heads, 1, 4096),
        F(v_ff, 1, 1u << 20), F(vocab, 1, 1u << 24), F(max_pos, 1, 1u << 20), F(type_vocab, 1, 1024),
        F(t_layers, 0, 1024), F(t_d, 1, 1u << 16), F(t_heads, 1, 4096), F(t_ff, 1, 1u << 20),
        F(f_layers, 0, 1024), F(f_heads, 1, 4096), F(f_ff, 1, 1u << 20), F(head_hidden, 1, 1u << 20),
        F(answers, 1, 1u << 24),
    };
#undef F
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        int handled = gn__workload_key(key, val, fields, sizeof(fields) / sizeof(fields[0]), &c, &c.dtype,
                                       file, path, err);
        if (handled < 0)
            return handled;
        if (handled)
            continue;
        return gn_error_set(err, GN_ESCHEMA, "%s: %s.%s: unknown field of a vqa workload", file, path, key);
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
    const gn_vqa_config *c;
    int rc;          /* first error, 0 if none */
    char name[200];  /* storage name scratch */
} gen;

static uint32_t tensor_s(gen *x, gn_kind kind, gn_dtype dt, const char *storage, uint32_t ndim,
                         const int64_t *shape)
{
    int id = gn_graph_add_tensor(x->g, NULL, dt, kind, ndim, shape, storage);
    if (id < 0 && !x->rc)
        x->rc = id;
    return id < 0 ? 0 : (uint32_t)id;
}

static uint32_t tensor(gen *x, gn_kind kind, gn_dtype dt, const char *storage, uint32_t ndim, ...)
{
    int64_t shape[GN_MAX_DIMS];
    va_list ap;
    va_start(ap, ndim);
    for (uint32_t i = 0; i < ndim; i++)
        shape[i] = va_arg(ap, int64_t);
    va_end(ap);
    return tensor_s(x, kind, dt, storage, ndim, shape);
}

static double tbytes(gen *x, uint32_t t)
{
    return (double)gn_graph_tensor(x->g, t)->bytes;
}

static double numel(gen *x, uint32_t t)
{
    return tbytes(x, t) / (double)gn_dtype_size(gn_graph_tensor(x->g, t)->dtype);
}

/* Adds an op; bytes follow SCHEMA.md: inputs + outputs, 0 for a view,
 * indices + 2 x output for an embedding (table then ids as inputs),
 * outputs only for a fill. */
static void add_op(gen *x, gn_op op, const uint32_t *in, uint32_t nin, uint32_t out,
                   double flops, const char *module, json_t *attrs)
{
    double bytes = gn_graph_convention_bytes(x->g, op, in, nin, &out, 1);
    int rc = gn_graph_add_node(x->g, op, in, nin, &out, 1, flops, bytes, module, attrs);
    if (rc < 0 && !x->rc)
        x->rc = rc;
}

static const char *pname(gen *x, const char *module, const char *suffix)
{
    snprintf(x->name, sizeof(x->name), "%s.%s", module, suffix);
    return x->name;
}

/* An activation of KIND shaped like LIKE with the last dim set to LAST
 * (0: unchanged). */
static uint32_t like(gen *x, uint32_t like_id, int64_t last, gn_kind kind)
{
    const gn_tensor *t = gn_graph_tensor(x->g, like_id);
    int64_t shape[GN_MAX_DIMS];
    uint32_t nd = t->ndim;
    gn_dtype dt = t->dtype;
    memcpy(shape, t->shape, sizeof(shape));
    if (last)
        shape[nd - 1] = last;
    return tensor_s(x, kind, dt, NULL, nd, shape);
}

/* nn.Linear `MODULE` on IN [.., k] -> [.., n], with bias. */
static uint32_t linear(gen *x, uint32_t in, uint32_t n, const char *module, gn_kind kind)
{
    const gn_tensor *t = gn_graph_tensor(x->g, in);
    int64_t k = t->shape[t->ndim - 1];
    gn_dtype dt = x->c->dtype;
    uint32_t ins[3] = {in, tensor(x, GN_KIND_PARAM, dt, pname(x, module, "weight"), 2, (int64_t)n, k),
                       tensor(x, GN_KIND_PARAM, dt, pname(x, module, "bias"), 1, (int64_t)n)};
    uint32_t out = like(x, in, n, kind);
    double m = numel(x, out) / n;
    add_op(x, GN_OP_MATMUL, ins, 3, out, 2 * m * n * k + m * n, module,
           json_pack("{s:f,s:i,s:I,s:b,s:b}", "m", m, "n", n, "k", (json_int_t)k, "bias", 1, "transpose_b", 1));
    return out;
}

static uint32_t layer_norm(gen *x, uint32_t in, const char *module)
{
    const gn_tensor *t = gn_graph_tensor(x->g, in);
    int64_t d = t->shape[t->ndim - 1];
    gn_dtype dt = x->c->dtype;
    uint32_t ins[3] = {in, tensor(x, GN_KIND_PARAM, dt, pname(x, module, "weight"), 1, d),
                       tensor(x, GN_KIND_PARAM, dt, pname(x, module, "bias"), 1, d)};
    uint32_t out = like(x, in, 0, GN_KIND_ACTIVATION);
    add_op(x, GN_OP_LAYER_NORM, ins, 3, out, 8 * numel(x, out), module, json_pack("{s:f}", "eps", 1e-12));
    return out;
}

static uint32_t eltwise(gen *x, const char *fn, double per, uint32_t a, uint32_t b, const char *module)
{
    uint32_t in[2] = {a, b};
    uint32_t out = like(x, a, 0, GN_KIND_ACTIVATION);
    add_op(x, GN_OP_ELEMENTWISE, in, fn[0] == 'a' ? 2 : 1, out, per * numel(x, out), module,
           json_pack("{s:s}", "fn", fn));
    return out;
}

/* Reshapes IN [B, T, H*dh] to [B, H, T, dh] (SPLIT) or back. */
static uint32_t heads_view(gen *x, uint32_t in, uint32_t H, int split, const char *module)
{
    const gn_tensor *t = gn_graph_tensor(x->g, in);
    int64_t B = t->shape[0], s1 = t->shape[1], s2 = t->shape[2], s3 = t->shape[3];
    gn_dtype dt = t->dtype;
    uint32_t out = split ? tensor(x, GN_KIND_ACTIVATION, dt, NULL, 4, B, (int64_t)H, s1, s2 / H)
                         : tensor(x, GN_KIND_ACTIVATION, dt, NULL, 3, B, s2, s1 * s3);
    add_op(x, GN_OP_VIEW, &in, 1, out, 0, module, json_pack("{s:s}", "fn", split ? "split_heads" : "merge_heads"));
    return out;
}

/*
 * Multi-head attention with HF's names: queries from Q_IN, keys and
 * values from KV_IN (the same tensor for self-attention); SELF is the
 * module of the query/key/value projections (`...attention.self` in
 * BERT, `...attention.attention` in ViT), OUT_DENSE that of the output
 * projection.  Returns the output projection, before any residual.
 */
static uint32_t mha(gen *x, uint32_t q_in, uint32_t kv_in, uint32_t H, const char *self,
                    const char *out_dense)
{
    char m[192];
    int64_t d = gn_graph_tensor(x->g, q_in)->shape[2];
    snprintf(m, sizeof(m), "%s.query", self);
    uint32_t q = heads_view(x, linear(x, q_in, (uint32_t)d, m, GN_KIND_ACTIVATION), H, 1, self);
    snprintf(m, sizeof(m), "%s.key", self);
    uint32_t k = heads_view(x, linear(x, kv_in, (uint32_t)d, m, GN_KIND_ACTIVATION), H, 1, self);
    snprintf(m, sizeof(m), "%s.value", self);
    uint32_t v = heads_view(x, linear(x, kv_in, (uint32_t)d, m, GN_KIND_ACTIVATION), H, 1, self);
    const gn_tensor *qt = gn_graph_tensor(x->g, q);
    double B = (double)qt->shape[0], Tq = (double)qt->shape[2], dh = (double)qt->shape[3];
    double Tk = (double)gn_graph_tensor(x->g, k)->shape[2];
    uint32_t ins[3] = {q, k, v};
    uint32_t a = like(x, q, 0, GN_KIND_ACTIVATION);
    add_op(x, GN_OP_ATTENTION, ins, 3, a, 4 * B * H * Tq * Tk * dh + 5 * B * H * Tq * Tk, self,
           json_pack("{s:i,s:i,s:i,s:b}", "heads", H, "kv_heads", H, "head_dim", (int)dh, "causal", 0));
    return linear(x, heads_view(x, a, H, 0, self), (uint32_t)d, out_dense, GN_KIND_ACTIVATION);
}

/* MLP of a layer under BASE: BASE.intermediate.dense, GELU,
 * BASE.output.dense. */
static uint32_t mlp(gen *x, uint32_t in, uint32_t f, const char *base)
{
    char m[192];
    int64_t d = gn_graph_tensor(x->g, in)->shape[2];
    snprintf(m, sizeof(m), "%s.intermediate.dense", base);
    uint32_t h = linear(x, in, f, m, GN_KIND_ACTIVATION);
    snprintf(m, sizeof(m), "%s.intermediate.intermediate_act_fn", base);
    h = eltwise(x, "gelu", 8, h, 0, m);
    snprintf(m, sizeof(m), "%s.output.dense", base);
    return linear(x, h, (uint32_t)d, m, GN_KIND_ACTIVATION);
}

/* ViT under `vision`; returns the image tokens [B, np + 1, v_d]. */
static uint32_t vision(gen *x)
{
    const gn_vqa_config *c = x->c;
    gn_dtype dt = c->dtype;
    int64_t B = c->batch, d = c->v_d, g = c->image / c->patch, np = g * g, P = c->patch;
    const char *pm = "vision.embeddings.patch_embeddings.projection";
    uint32_t px = tensor(x, GN_KIND_INPUT, dt, NULL, 4, B, (int64_t)3, (int64_t)c->image, (int64_t)c->image);
    uint32_t ins[3] = {px, tensor(x, GN_KIND_PARAM, dt, pname(x, pm, "weight"), 4, d, (int64_t)3, P, P),
                       tensor(x, GN_KIND_PARAM, dt, pname(x, pm, "bias"), 1, d)};
    uint32_t conv = tensor(x, GN_KIND_ACTIVATION, dt, NULL, 4, B, d, g, g);
    double o = (double)B * d * np;
    add_op(x, GN_OP_CONV2D, ins, 3, conv, 2 * o * 3 * P * P + o, pm,
           json_pack("{s:I,s:i,s:i,s:I}", "stride", (json_int_t)P, "padding", 0, "groups", 1, "kernel", (json_int_t)P));
    uint32_t tok = tensor(x, GN_KIND_ACTIVATION, dt, NULL, 3, B, np, d);
    add_op(x, GN_OP_VIEW, &conv, 1, tok, 0, "vision.embeddings.patch_embeddings",
           json_pack("{s:s}", "fn", "flatten_transpose"));
    uint32_t cls = tensor(x, GN_KIND_PARAM, dt, "vision.embeddings.cls_token", 3, (int64_t)1, (int64_t)1, d);
    uint32_t clsb = tensor(x, GN_KIND_ACTIVATION, dt, NULL, 3, B, (int64_t)1, d);
    add_op(x, GN_OP_VIEW, &cls, 1, clsb, 0, "vision.embeddings", json_pack("{s:s}", "fn", "expand"));
    uint32_t cat[2] = {clsb, tok};
    uint32_t h = tensor(x, GN_KIND_ACTIVATION, dt, NULL, 3, B, np + 1, d);
    add_op(x, GN_OP_CONCAT, cat, 2, h, 0, "vision.embeddings", json_pack("{s:i}", "dim", 1));
    uint32_t pos = tensor(x, GN_KIND_PARAM, dt, "vision.embeddings.position_embeddings", 3, (int64_t)1, np + 1, d);
    h = eltwise(x, "add", 1, h, pos, "vision.embeddings");
    for (uint32_t l = 0; l < c->v_layers && !x->rc; l++) {
        char base[96], m1[128], m2[128];
        snprintf(base, sizeof(base), "vision.encoder.layer.%u", l);
        snprintf(m1, sizeof(m1), "%s.attention.attention", base);
        snprintf(m2, sizeof(m2), "%s.attention.output.dense", base);
        char ln[128];
        snprintf(ln, sizeof(ln), "%s.layernorm_before", base);
        uint32_t n = layer_norm(x, h, ln);
        h = eltwise(x, "add", 1, mha(x, n, n, c->v_heads, m1, m2), h, base);
        snprintf(ln, sizeof(ln), "%s.layernorm_after", base);
        n = layer_norm(x, h, ln);
        h = eltwise(x, "add", 1, mlp(x, n, c->v_ff, base), h, base);
    }
    return layer_norm(x, h, "vision.layernorm");
}

/* BERT under `text`; returns the question's tokens [B, T, t_d]. */
static uint32_t text(gen *x)
{
    const gn_vqa_config *c = x->c;
    gn_dtype dt = c->dtype;
    int64_t B = c->batch, T = c->text_len, d = c->t_d;
    uint32_t ids = tensor(x, GN_KIND_INPUT, GN_DTYPE_I64, NULL, 2, B, T);
    uint32_t types = tensor(x, GN_KIND_INPUT, GN_DTYPE_I64, NULL, 2, B, T);
    uint32_t pos = tensor(x, GN_KIND_ACTIVATION, GN_DTYPE_I64, NULL, 2, (int64_t)1, T);
    add_op(x, GN_OP_FILL, NULL, 0, pos, 0, "text.embeddings", json_pack("{s:s}", "fn", "arange"));
    static const char *const tab[3] = {"word_embeddings", "token_type_embeddings", "position_embeddings"};
    uint32_t rows[3] = {c->vocab, c->type_vocab, c->max_pos}, idx[3] = {ids, types, pos}, e[3];
    for (int i = 0; i < 3; i++) {
        char m[96];
        snprintf(m, sizeof(m), "text.embeddings.%s", tab[i]);
        uint32_t in[2] = {tensor(x, GN_KIND_PARAM, dt, pname(x, m, "weight"), 2, (int64_t)rows[i], d), idx[i]};
        e[i] = tensor(x, GN_KIND_ACTIVATION, dt, NULL, 3, i == 2 ? (int64_t)1 : B, T, d);
        add_op(x, GN_OP_EMBEDDING, in, 2, e[i], 0, m, json_pack("{s:i,s:I}", "num", rows[i], "dim", (json_int_t)d));
    }
    uint32_t h = eltwise(x, "add", 1, e[0], e[1], "text.embeddings");
    h = eltwise(x, "add", 1, h, e[2], "text.embeddings");
    h = layer_norm(x, h, "text.embeddings.LayerNorm");
    for (uint32_t l = 0; l < c->t_layers && !x->rc; l++) {
        char base[96], m1[128], m2[128], ln[128];
        snprintf(base, sizeof(base), "text.encoder.layer.%u", l);
        snprintf(m1, sizeof(m1), "%s.attention.self", base);
        snprintf(m2, sizeof(m2), "%s.attention.output.dense", base);
        snprintf(ln, sizeof(ln), "%s.attention.output.LayerNorm", base);
        h = layer_norm(x, eltwise(x, "add", 1, mha(x, h, h, c->t_heads, m1, m2), h, base), ln);
        snprintf(ln, sizeof(ln), "%s.output.LayerNorm", base);
        h = layer_norm(x, eltwise(x, "add", 1, mlp(x, h, c->t_ff, base), h, base), ln);
    }
    return h;
}

static void build_step(gen *x)
{
    const gn_vqa_config *c = x->c;
    uint32_t img = vision(x);
    uint32_t h = text(x);
    for (uint32_t l = 0; l < c->f_layers && !x->rc; l++) {
        char base[96], m1[128], m2[128], ln[128];
        snprintf(base, sizeof(base), "fusion.layer.%u", l);
        snprintf(m1, sizeof(m1), "%s.crossattention.self", base);
        snprintf(m2, sizeof(m2), "%s.crossattention.output.dense", base);
        snprintf(ln, sizeof(ln), "%s.crossattention.output.LayerNorm", base);
        h = layer_norm(x, eltwise(x, "add", 1, mha(x, h, img, c->f_heads, m1, m2), h, base), ln);
        snprintf(ln, sizeof(ln), "%s.output.LayerNorm", base);
        h = layer_norm(x, eltwise(x, "add", 1, mlp(x, h, c->f_ff, base), h, base), ln);
    }
    if (x->rc)
        return;
    uint32_t first = tensor(x, GN_KIND_ACTIVATION, c->dtype, NULL, 2, (int64_t)c->batch, (int64_t)c->t_d);
    add_op(x, GN_OP_VIEW, &h, 1, first, 0, "answer_head", json_pack("{s:s}", "fn", "first_token"));
    uint32_t a = linear(x, first, c->head_hidden, "answer_head.dense", GN_KIND_ACTIVATION);
    a = eltwise(x, "gelu", 8, a, 0, "answer_head.act");
    a = layer_norm(x, a, "answer_head.LayerNorm");
    uint32_t logits = linear(x, a, c->answers, "answer_head.classifier", GN_KIND_OUTPUT);
    if (!x->rc)
        x->rc = gn_graph_add_read(x->g, logits, "cpu", NULL);
}

gn_session *gn_vqa_generate(const gn_vqa_config *c, gn_error *err)
{
    if (c->patch == 0 || c->image < c->patch || c->image % c->patch || !c->v_heads || !c->t_heads ||
        !c->f_heads || c->v_d % c->v_heads || c->t_d % c->t_heads || c->t_d % c->f_heads) {
        gn_error_set(err, GN_EINVAL, "%s: the patch (%u) must divide the image (%u) and each part's heads its width",
                     c->name, c->patch, c->image);
        return NULL;
    }
    if (c->text_len > c->max_pos || c->batch == 0 || c->requests == 0) {
        gn_error_set(err, GN_EINVAL, "%s: the question (%u tokens) must fit the %u learned positions; batch and requests at least 1",
                     c->name, c->text_len, c->max_pos);
        return NULL;
    }
    char name[128];
    snprintf(name, sizeof(name), "%s b%u t%u r%u %s", c->name, c->batch, c->text_len, c->requests,
             gn_dtype_name(c->dtype));
    gn_session *s = gn_session_create(name);
    if (!s || gn_session_set_source(s, "workloads/vqa") < 0) {
        gn_session_destroy(s);
        gn_error_set(err, GN_ENOMEM, "vqa: out of memory");
        return NULL;
    }
    gn_session_set_model(s, json_pack("{s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:I}", "family", "vqa",
                                      "arch", "vit+bert+cross-attention", "image", c->image, "patch", c->patch,
                                      "v_layers", c->v_layers, "t_layers", c->t_layers, "f_layers", c->f_layers,
                                      "answers", c->answers, "batch", c->batch,
                                      "params", (json_int_t)gn_vqa_param_count(c)));
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
