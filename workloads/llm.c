/*
 * llm.c — GPT-2 and LLaMA-style session generator (see llm.h).
 *
 * Each step is built op by op the way Hugging Face's modelling code runs
 * it, with module paths and parameter names as Hugging Face spells them,
 * so captured and generated traces of one model line up.  Counting
 * conventions (FLOPs per element, bytes read + written) are those of
 * traces/SCHEMA.md and live in one place here: add_op().
 */
#include "llm.h"

#include "workload.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ========================== presets ========================== */

static const gn_llm_config presets[] = {
    /* name, arch, vocab, max_pos, d, layers, heads, kv_heads, d_ff */
    {"gpt2-small", GN_LLM_GPT2, 50257, 1024, 768, 12, 12, 12, 3072, GN_DTYPE_F16, 1, 128, 16, 0, {0}, {0}},
    {"gpt2-medium", GN_LLM_GPT2, 50257, 1024, 1024, 24, 16, 16, 4096, GN_DTYPE_F16, 1, 128, 16, 0, {0}, {0}},
    {"gpt2-large", GN_LLM_GPT2, 50257, 1024, 1280, 36, 20, 20, 5120, GN_DTYPE_F16, 1, 128, 16, 0, {0}, {0}},
    {"llama-2-7b", GN_LLM_LLAMA, 32000, 4096, 4096, 32, 32, 32, 11008, GN_DTYPE_F16, 1, 128, 16, 0, {0}, {0}},
    {"llama-2-13b", GN_LLM_LLAMA, 32000, 4096, 5120, 40, 40, 40, 13824, GN_DTYPE_F16, 1, 128, 16, 0, {0}, {0}},
    {"llama-3-8b", GN_LLM_LLAMA, 128256, 8192, 4096, 32, 32, 8, 14336, GN_DTYPE_F16, 1, 128, 16, 0, {0}, {0}},
    {"tiny-gpt2", GN_LLM_GPT2, 512, 256, 64, 2, 4, 4, 256, GN_DTYPE_F32, 1, 16, 4, 0, {0}, {0}},
    {"tiny-llama", GN_LLM_LLAMA, 512, 256, 64, 2, 4, 2, 172, GN_DTYPE_F32, 1, 16, 4, 0, {0}, {0}},
};

int gn_llm_preset(const char *name, gn_llm_config *cfg)
{
    for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
        if (strcmp(presets[i].name, name) == 0) {
            *cfg = presets[i];
            return 0;
        }
    return GN_ENOTFOUND;
}

uint64_t gn_llm_param_count(const gn_llm_config *c)
{
    uint64_t d = c->d_model, v = c->vocab, f = c->d_ff;
    uint64_t kv = d / c->heads * c->kv_heads;
    if (c->arch == GN_LLM_GPT2) {
        uint64_t layer = 2 * 2 * d                 /* ln_1, ln_2 */
                         + d * 3 * d + 3 * d       /* c_attn */
                         + d * d + d               /* attn.c_proj */
                         + d * f + f + f * d + d;  /* mlp */
        return v * d + (uint64_t)c->max_pos * d + c->layers * layer + 2 * d;
    }
    uint64_t layer = 2 * d                         /* two RMSNorms */
                     + d * d + 2 * d * kv + d * d  /* q, k, v, o */
                     + 3 * d * f;                  /* gate, up, down */
    return v * d + c->layers * layer + d + d * v;
}

/* ========================== config from JSON ========================== */

int gn_llm_config_from_json(const json_t *obj, const char *file,
                            const char *path, gn_llm_config *cfg,
                            gn_error *err)
{
    gn_llm_config c;
    json_t *v = json_object_get(obj, "model");
    if (!json_is_object(obj))
        return gn_error_set(err, GN_ESCHEMA, "%s: %s: expected an object", file, path);
    if (!v)
        return gn_error_set(err, GN_ESCHEMA, "%s: %s.model: missing required field (a preset such as gpt2-medium or llama-2-7b)", file, path);
    if (!json_is_string(v) || gn_llm_preset(json_string_value(v), &c) < 0)
        return gn_error_set(err, GN_ESCHEMA, "%s: %s.model: unknown model (expected gpt2-small, gpt2-medium, gpt2-large, llama-2-7b, llama-2-13b, llama-3-8b, tiny-gpt2 or tiny-llama)",
                            file, path);
    static const gn__field fields[] = {
        {"batch", offsetof(gn_llm_config, batch), 1, 4096},
        {"prompt", offsetof(gn_llm_config, prompt), 1, 1u << 20},
        {"decode", offsetof(gn_llm_config, decode), 0, 1u << 20},
        {"layers", offsetof(gn_llm_config, layers), 1, 1024},
        {"d_model", offsetof(gn_llm_config, d_model), 1, 1u << 20},
        {"heads", offsetof(gn_llm_config, heads), 1, 4096},
        {"kv_heads", offsetof(gn_llm_config, kv_heads), 1, 4096},
        {"d_ff", offsetof(gn_llm_config, d_ff), 1, 1u << 22},
        {"vocab", offsetof(gn_llm_config, vocab), 1, 1u << 24},
        {"max_pos", offsetof(gn_llm_config, max_pos), 1, 1u << 24},
    };
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        int handled = gn__workload_key(key, val, fields, sizeof(fields) / sizeof(fields[0]), &c, &c.dtype,
                                       file, path, err);
        if (handled < 0)
            return handled;
        if (handled)
            continue;
        if (strcmp(key, "requests") == 0)
            continue; /* below, once "decode" is known */
        return gn_error_set(err, GN_ESCHEMA, "%s: %s.%s: unknown field of an LLM workload", file, path, key);
    }
    json_t *reqs = json_object_get(obj, "requests"), *r;
    size_t i;
    if (reqs && (!json_is_array(reqs) || json_array_size(reqs) == 0 ||
                 json_array_size(reqs) > GN_LLM_MAX_REQUESTS))
        return gn_error_set(err, GN_ESCHEMA, "%s: %s.requests: expected 1 to %d objects {\"prompt\": N, \"decode\": N}",
                            file, path, GN_LLM_MAX_REQUESTS);
    json_array_foreach(reqs, i, r) {
        json_t *p = json_object_get(r, "prompt"), *d = json_object_get(r, "decode");
        if (!json_is_object(r) || !json_is_integer(p) || json_integer_value(p) < 1 ||
            json_integer_value(p) > (1 << 20) || (d && (!json_is_integer(d) || json_integer_value(d) < 0 ||
                                                        json_integer_value(d) > (1 << 20))) ||
            json_object_size(r) != 1u + (d != NULL))
            return gn_error_set(err, GN_ESCHEMA, "%s: %s.requests[%zu]: expected {\"prompt\": 1.., \"decode\": 0..}",
                                file, path, i);
        c.req_prompt[i] = (uint32_t)json_integer_value(p);
        c.req_decode[i] = d ? (uint32_t)json_integer_value(d) : c.decode;
    }
    c.nreq = (uint32_t)json_array_size(reqs);
    v = json_object_get(obj, "name");
    if (json_is_string(v))
        snprintf(c.name, sizeof(c.name), "%s", json_string_value(v));
    *cfg = c;
    return 0;
}

/* ========================== graph building ========================== */

typedef struct gen {
    gn_graph *g;
    const gn_llm_config *c;
    int64_t req;         /* request whose step this is, -1: a single-request session */
    int rc;              /* first error, 0 if none */
    char mod[160];       /* module path scratch */
    char name[200];      /* storage name scratch */
} gen;

static uint32_t tensor(gen *x, gn_kind kind, gn_dtype dt, const char *storage,
                       uint32_t ndim, ...)
{
    int64_t shape[GN_MAX_DIMS];
    va_list ap;
    va_start(ap, ndim);
    for (uint32_t i = 0; i < ndim; i++)
        shape[i] = va_arg(ap, int64_t);
    va_end(ap);
    int id = gn_graph_add_tensor(x->g, NULL, dt, kind, ndim, shape, storage);
    if (id < 0 && !x->rc)
        x->rc = id;
    return id < 0 ? 0 : (uint32_t)id;
}

static double tbytes(gen *x, uint32_t t)
{
    return (double)gn_graph_tensor(x->g, t)->bytes;
}

/* Adds an op; bytes follow the SCHEMA.md conventions. */
static void add_op(gen *x, gn_op op, const uint32_t *in, uint32_t nin,
                   const uint32_t *out, uint32_t nout, double flops,
                   const char *module, json_t *attrs)
{
    double bytes = gn_graph_convention_bytes(x->g, op, in, nin, out, nout);
    int rc = gn_graph_add_node(x->g, op, in, nin, out, nout, flops, bytes, module, attrs);
    if (rc < 0 && !x->rc)
        x->rc = rc;
}

static const char *mod(gen *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->mod, sizeof(x->mod), fmt, ap);
    va_end(ap);
    return x->mod;
}

static const char *pname(gen *x, const char *module, const char *suffix)
{
    snprintf(x->name, sizeof(x->name), "%s.%s", module, suffix);
    return x->name;
}

static double numel(gen *x, uint32_t t)
{
    return tbytes(x, t) / (double)gn_dtype_size(gn_graph_tensor(x->g, t)->dtype);
}

/* out = X @ W (+ b); X [B, T, k], W a param named MODULE.weight. */
static uint32_t linear(gen *x, uint32_t in, uint32_t k, uint32_t n, int bias,
                       int hf_conv1d, const char *module, uint32_t B, uint32_t T)
{
    gn_dtype dt = x->c->dtype;
    uint32_t w = hf_conv1d ? tensor(x, GN_KIND_PARAM, dt, pname(x, module, "weight"), 2, (int64_t)k, (int64_t)n)
                           : tensor(x, GN_KIND_PARAM, dt, pname(x, module, "weight"), 2, (int64_t)n, (int64_t)k);
    uint32_t ins[3] = {in, w, 0};
    if (bias)
        ins[2] = tensor(x, GN_KIND_PARAM, dt, pname(x, module, "bias"), 1, (int64_t)n);
    uint32_t out = tensor(x, GN_KIND_ACTIVATION, dt, NULL, 3, (int64_t)B, (int64_t)T, (int64_t)n);
    double m = (double)B * T;
    add_op(x, GN_OP_MATMUL, ins, bias ? 3 : 2, &out, 1, 2 * m * n * k + (bias ? m * n : 0), module,
           json_pack("{s:f,s:i,s:i,s:b,s:b}", "m", m, "n", n, "k", k, "bias", bias, "transpose_b", !hf_conv1d));
    return out;
}

static uint32_t norm(gen *x, uint32_t in, const char *module, uint32_t B, uint32_t T)
{
    gn_dtype dt = x->c->dtype;
    uint32_t d = x->c->d_model;
    int rms = x->c->arch == GN_LLM_LLAMA;
    uint32_t ins[3] = {in, tensor(x, GN_KIND_PARAM, dt, pname(x, module, "weight"), 1, (int64_t)d), 0};
    if (!rms)
        ins[2] = tensor(x, GN_KIND_PARAM, dt, pname(x, module, "bias"), 1, (int64_t)d);
    uint32_t out = tensor(x, GN_KIND_ACTIVATION, dt, NULL, 3, (int64_t)B, (int64_t)T, (int64_t)d);
    add_op(x, rms ? GN_OP_RMS_NORM : GN_OP_LAYER_NORM, ins, rms ? 2 : 3, &out, 1,
           (rms ? 4.0 : 8.0) * numel(x, out), module, json_pack("{s:f}", "eps", rms ? 1e-5 : 1e-5));
    return out;
}

static uint32_t eltwise(gen *x, const char *fn, double per, const uint32_t *in, uint32_t nin,
                        const char *module)
{
    const gn_tensor *a = gn_graph_tensor(x->g, in[0]);
    int64_t shape[GN_MAX_DIMS];
    memcpy(shape, a->shape, sizeof(shape));
    int id = gn_graph_add_tensor(x->g, NULL, a->dtype, GN_KIND_ACTIVATION, a->ndim, shape, NULL);
    if (id < 0) {
        x->rc = x->rc ? x->rc : id;
        return 0;
    }
    uint32_t out = (uint32_t)id;
    add_op(x, GN_OP_ELEMENTWISE, in, nin, &out, 1, per * numel(x, out), module,
           json_pack("{s:s}", "fn", fn));
    return out;
}

/*
 * Attention block of layer L: returns the block output [B, T, d] before
 * the residual add.  P is the cache length before this step.
 */
static uint32_t attention(gen *x, uint32_t h, uint32_t l, uint32_t B, uint32_t T,
                          uint32_t P, uint32_t cos_sin[2])
{
    const gn_llm_config *c = x->c;
    gn_dtype dt = c->dtype;
    int gpt2 = c->arch == GN_LLM_GPT2;
    uint32_t d = c->d_model, H = c->heads, KV = c->kv_heads, dh = d / H;
    char base[96], kname[128], vname[128];
    snprintf(base, sizeof(base), gpt2 ? "transformer.h.%u.attn" : "model.layers.%u.self_attn", l);
    if (x->req < 0) {
        snprintf(kname, sizeof(kname), "%s.k_cache", base);
        snprintf(vname, sizeof(vname), "%s.v_cache", base);
    } else { /* each request its own cache */
        snprintf(kname, sizeof(kname), "%s.k_cache.r%lld", base, (long long)x->req);
        snprintf(vname, sizeof(vname), "%s.v_cache.r%lld", base, (long long)x->req);
    }

    uint32_t q, k, v;
    if (gpt2) {
        uint32_t qkv = linear(x, h, d, 3 * d, 1, 1, mod(x, "%s.c_attn", base), B, T);
        uint32_t outs[3];
        outs[0] = tensor(x, GN_KIND_ACTIVATION, dt, NULL, 4, (int64_t)B, (int64_t)H, (int64_t)T, (int64_t)dh);
        for (int i = 1; i < 3; i++)
            outs[i] = tensor(x, P ? GN_KIND_ACTIVATION : GN_KIND_STATE, dt, P ? NULL : i == 1 ? kname : vname,
                             4, (int64_t)B, (int64_t)KV, (int64_t)T, (int64_t)dh);
        add_op(x, GN_OP_VIEW, &qkv, 1, outs, 3, 0, base, json_pack("{s:s}", "fn", "split_heads"));
        q = outs[0];
        k = outs[1];
        v = outs[2];
    } else {
        uint32_t qp = linear(x, h, d, d, 0, 0, mod(x, "%s.q_proj", base), B, T);
        uint32_t kp = linear(x, h, d, KV * dh, 0, 0, mod(x, "%s.k_proj", base), B, T);
        uint32_t vp = linear(x, h, d, KV * dh, 0, 0, mod(x, "%s.v_proj", base), B, T);
        uint32_t qh = tensor(x, GN_KIND_ACTIVATION, dt, NULL, 4, (int64_t)B, (int64_t)H, (int64_t)T, (int64_t)dh);
        uint32_t kh = tensor(x, GN_KIND_ACTIVATION, dt, NULL, 4, (int64_t)B, (int64_t)KV, (int64_t)T, (int64_t)dh);
        add_op(x, GN_OP_VIEW, &qp, 1, &qh, 1, 0, base, json_pack("{s:s}", "fn", "split_heads"));
        add_op(x, GN_OP_VIEW, &kp, 1, &kh, 1, 0, base, json_pack("{s:s}", "fn", "split_heads"));
        uint32_t vh = tensor(x, P ? GN_KIND_ACTIVATION : GN_KIND_STATE, dt, P ? NULL : vname, 4,
                             (int64_t)B, (int64_t)KV, (int64_t)T, (int64_t)dh);
        add_op(x, GN_OP_VIEW, &vp, 1, &vh, 1, 0, base, json_pack("{s:s}", "fn", "split_heads"));
        uint32_t qin[3] = {qh, cos_sin[0], cos_sin[1]}, kin[3] = {kh, cos_sin[0], cos_sin[1]};
        q = eltwise(x, "rotary", 3, qin, 3, base);
        /* the rotated key is the cache entry in prefill */
        const gn_tensor *kt = gn_graph_tensor(x->g, kh);
        int64_t shape[4] = {kt->shape[0], kt->shape[1], kt->shape[2], kt->shape[3]};
        int kid = gn_graph_add_tensor(x->g, NULL, dt, P ? GN_KIND_ACTIVATION : GN_KIND_STATE, 4, shape,
                                      P ? NULL : kname);
        k = kid < 0 ? 0 : (uint32_t)kid;
        add_op(x, GN_OP_ELEMENTWISE, kin, 3, &k, 1, 3 * numel(x, k), base, json_pack("{s:s}", "fn", "rotary"));
        v = vh;
    }
    if (P) { /* append to the cache: the new version of the storage */
        uint32_t pk = tensor(x, GN_KIND_STATE, dt, kname, 4, (int64_t)B, (int64_t)KV, (int64_t)P, (int64_t)dh);
        uint32_t pv = tensor(x, GN_KIND_STATE, dt, vname, 4, (int64_t)B, (int64_t)KV, (int64_t)P, (int64_t)dh);
        uint32_t nk = tensor(x, GN_KIND_STATE, dt, kname, 4, (int64_t)B, (int64_t)KV, (int64_t)(P + T), (int64_t)dh);
        uint32_t nv = tensor(x, GN_KIND_STATE, dt, vname, 4, (int64_t)B, (int64_t)KV, (int64_t)(P + T), (int64_t)dh);
        uint32_t ink[2] = {pk, k}, inv[2] = {pv, v};
        add_op(x, GN_OP_CONCAT, ink, 2, &nk, 1, 0, base, json_pack("{s:i}", "dim", 2));
        add_op(x, GN_OP_CONCAT, inv, 2, &nv, 1, 0, base, json_pack("{s:i}", "dim", 2));
        k = nk;
        v = nv;
    }
    double Tk = (double)P + T;
    uint32_t a = tensor(x, GN_KIND_ACTIVATION, dt, NULL, 4, (int64_t)B, (int64_t)H, (int64_t)T, (int64_t)dh);
    uint32_t ain[3] = {q, k, v};
    add_op(x, GN_OP_ATTENTION, ain, 3, &a, 1,
           4.0 * B * H * T * Tk * dh + 5.0 * B * H * T * Tk, base,
           json_pack("{s:i,s:i,s:i,s:b}", "heads", H, "kv_heads", KV, "head_dim", dh, "causal", 1));
    uint32_t merged = tensor(x, GN_KIND_ACTIVATION, dt, NULL, 3, (int64_t)B, (int64_t)T, (int64_t)d);
    add_op(x, GN_OP_VIEW, &a, 1, &merged, 1, 0, base, json_pack("{s:s}", "fn", "merge_heads"));
    return linear(x, merged, d, d, gpt2, gpt2, mod(x, gpt2 ? "%s.c_proj" : "%s.o_proj", base), B, T);
}

static uint32_t mlp(gen *x, uint32_t h, uint32_t l, uint32_t B, uint32_t T)
{
    const gn_llm_config *c = x->c;
    uint32_t d = c->d_model, f = c->d_ff;
    char base[96];
    if (c->arch == GN_LLM_GPT2) {
        snprintf(base, sizeof(base), "transformer.h.%u.mlp", l);
        uint32_t up = linear(x, h, d, f, 1, 1, mod(x, "%s.c_fc", base), B, T);
        uint32_t act = eltwise(x, "gelu", 8, &up, 1, mod(x, "%s.act", base));
        return linear(x, act, f, d, 1, 1, mod(x, "%s.c_proj", base), B, T);
    }
    snprintf(base, sizeof(base), "model.layers.%u.mlp", l);
    uint32_t gate = linear(x, h, d, f, 0, 0, mod(x, "%s.gate_proj", base), B, T);
    uint32_t up = linear(x, h, d, f, 0, 0, mod(x, "%s.up_proj", base), B, T);
    uint32_t act = eltwise(x, "silu", 4, &gate, 1, mod(x, "%s.act_fn", base));
    uint32_t pin[2] = {act, up};
    uint32_t prod = eltwise(x, "mul", 1, pin, 2, base);
    return linear(x, prod, f, d, 0, 0, mod(x, "%s.down_proj", base), B, T);
}

/* Builds step ST (T new tokens over a cache of P). */
static void build_step(gen *x, uint32_t T, uint32_t P)
{
    const gn_llm_config *c = x->c;
    gn_dtype dt = c->dtype;
    uint32_t B = c->batch, d = c->d_model, V = c->vocab;
    int gpt2 = c->arch == GN_LLM_GPT2;

    uint32_t ids = tensor(x, GN_KIND_INPUT, GN_DTYPE_I64, NULL, 2, (int64_t)B, (int64_t)T);
    uint32_t pos = tensor(x, GN_KIND_INPUT, GN_DTYPE_I64, NULL, 2, (int64_t)B, (int64_t)T);
    const char *emb_mod = gpt2 ? "transformer.wte" : "model.embed_tokens";
    uint32_t wte = tensor(x, GN_KIND_PARAM, dt, pname(x, emb_mod, "weight"), 2, (int64_t)V, (int64_t)d);
    uint32_t e = tensor(x, GN_KIND_ACTIVATION, dt, NULL, 3, (int64_t)B, (int64_t)T, (int64_t)d);
    uint32_t in2[2] = {wte, ids};
    add_op(x, GN_OP_EMBEDDING, in2, 2, &e, 1, 0, emb_mod, json_pack("{s:i,s:i}", "num", V, "dim", d));
    uint32_t hidden = e, cos_sin[2] = {0, 0};
    if (gpt2) {
        uint32_t wpe = tensor(x, GN_KIND_PARAM, dt, "transformer.wpe.weight", 2, (int64_t)c->max_pos, (int64_t)d);
        uint32_t pe = tensor(x, GN_KIND_ACTIVATION, dt, NULL, 3, (int64_t)B, (int64_t)T, (int64_t)d);
        uint32_t pin[2] = {wpe, pos};
        add_op(x, GN_OP_EMBEDDING, pin, 2, &pe, 1, 0, "transformer.wpe",
               json_pack("{s:i,s:i}", "num", c->max_pos, "dim", d));
        uint32_t sum[2] = {e, pe};
        hidden = eltwise(x, "add", 1, sum, 2, "transformer");
    } else {
        uint32_t dh = d / c->heads;
        cos_sin[0] = tensor(x, GN_KIND_ACTIVATION, dt, NULL, 3, (int64_t)B, (int64_t)T, (int64_t)dh);
        cos_sin[1] = tensor(x, GN_KIND_ACTIVATION, dt, NULL, 3, (int64_t)B, (int64_t)T, (int64_t)dh);
        add_op(x, GN_OP_ELEMENTWISE, &pos, 1, cos_sin, 2, 2.0 * B * T * dh, "model.rotary_emb",
               json_pack("{s:s,s:f}", "fn", "rotary_table", "theta", 10000.0));
    }
    for (uint32_t l = 0; l < c->layers && !x->rc; l++) {
        char n1[96], n2[96];
        snprintf(n1, sizeof(n1), gpt2 ? "transformer.h.%u.ln_1" : "model.layers.%u.input_layernorm", l);
        snprintf(n2, sizeof(n2), gpt2 ? "transformer.h.%u.ln_2" : "model.layers.%u.post_attention_layernorm", l);
        uint32_t a = attention(x, norm(x, hidden, n1, B, T), l, B, T, P, cos_sin);
        uint32_t r1[2] = {hidden, a};
        hidden = eltwise(x, "add", 1, r1, 2, mod(x, gpt2 ? "transformer.h.%u" : "model.layers.%u", l));
        uint32_t m = mlp(x, norm(x, hidden, n2, B, T), l, B, T);
        uint32_t r2[2] = {hidden, m};
        hidden = eltwise(x, "add", 1, r2, 2, mod(x, gpt2 ? "transformer.h.%u" : "model.layers.%u", l));
    }
    uint32_t hf = norm(x, hidden, gpt2 ? "transformer.ln_f" : "model.norm", B, T);
    if (T > 1) { /* logits for the last position only */
        uint32_t last = tensor(x, GN_KIND_ACTIVATION, dt, NULL, 3, (int64_t)B, (int64_t)1, (int64_t)d);
        add_op(x, GN_OP_VIEW, &hf, 1, &last, 1, 0, "lm_head", json_pack("{s:s}", "fn", "last_position"));
        hf = last;
    }
    uint32_t w = gpt2 ? wte : tensor(x, GN_KIND_PARAM, dt, "lm_head.weight", 2, (int64_t)V, (int64_t)d);
    uint32_t logits = tensor(x, GN_KIND_ACTIVATION, dt, NULL, 3, (int64_t)B, (int64_t)1, (int64_t)V);
    uint32_t lin[2] = {hf, w};
    add_op(x, GN_OP_MATMUL, lin, 2, &logits, 1, 2.0 * B * V * d, "lm_head",
           json_pack("{s:i,s:i,s:i,s:b,s:b}", "m", B, "n", V, "k", d, "bias", 0, "transpose_b", 1));
    uint32_t next = tensor(x, GN_KIND_OUTPUT, GN_DTYPE_I64, NULL, 2, (int64_t)B, (int64_t)1);
    add_op(x, GN_OP_REDUCTION, &logits, 1, &next, 1, numel(x, logits), "generate",
           json_pack("{s:s,s:i}", "fn", "argmax", "dim", -1));
    if (!x->rc)
        x->rc = gn_graph_add_read(x->g, next, "item", NULL);
}

gn_session *gn_llm_generate(const gn_llm_config *c, gn_error *err)
{
    if (c->heads == 0 || c->kv_heads == 0 || c->d_model % c->heads || c->heads % c->kv_heads) {
        gn_error_set(err, GN_EINVAL, "%s: heads (%u) must divide d_model (%u) and kv_heads (%u) must divide heads",
                     c->name, c->heads, c->d_model, c->kv_heads);
        return NULL;
    }
    /* the requests: one of prompt + decode, or the stream */
    uint32_t nreq = c->nreq ? c->nreq : 1;
    const uint32_t one_p[1] = {c->prompt}, one_d[1] = {c->decode};
    const uint32_t *rp = c->nreq ? c->req_prompt : one_p, *rd = c->nreq ? c->req_decode : one_d;
    for (uint32_t r = 0; r < nreq; r++)
        if (c->arch == GN_LLM_GPT2 && rp[r] + rd[r] > c->max_pos) {
            gn_error_set(err, GN_EINVAL, "%s: request %u: prompt + decode (%u) exceeds the %u learned positions of GPT-2",
                         c->name, r, rp[r] + rd[r], c->max_pos);
            return NULL;
        }
    char name[128];
    if (c->nreq)
        snprintf(name, sizeof(name), "%s b%u %u requests %s", c->name, c->batch, c->nreq, gn_dtype_name(c->dtype));
    else
        snprintf(name, sizeof(name), "%s b%u p%u d%u %s", c->name, c->batch, c->prompt, c->decode,
                 gn_dtype_name(c->dtype));
    gn_session *s = gn_session_create(name);
    if (!s || gn_session_set_source(s, "workloads/llm") < 0) {
        gn_session_destroy(s);
        gn_error_set(err, GN_ENOMEM, "llm: out of memory");
        return NULL;
    }
    gn_session_set_model(s, json_pack("{s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:I}",
                                      "family", "llm", "arch", c->arch == GN_LLM_GPT2 ? "gpt2" : "llama",
                                      "layers", c->layers, "d_model", c->d_model, "heads", c->heads,
                                      "kv_heads", c->kv_heads, "d_ff", c->d_ff, "vocab", c->vocab,
                                      "batch", c->batch, "params", (json_int_t)gn_llm_param_count(c)));
    gen x = {.c = c, .req = c->nreq ? 0 : -1};
    for (uint32_t r = 0; r < nreq && !x.rc; r++, x.req += x.req >= 0)
        for (uint32_t st = 0; st <= rd[r] && !x.rc; st++) {
            char label[48];
            if (c->nreq)
                snprintf(label, sizeof(label), st ? "request %u decode %u" : "request %u prefill", r, st);
            else
                snprintf(label, sizeof(label), st ? "decode %u" : "prefill", st);
            x.g = gn_session_add_step(s, st ? GN_PHASE_DECODE : GN_PHASE_PREFILL, label);
            if (!x.g) {
                x.rc = GN_ENOMEM;
                break;
            }
            build_step(&x, st ? 1 : rp[r], st ? rp[r] + st - 1 : 0);
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
