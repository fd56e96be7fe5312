/*
 * llm.h — SRG traces of decoder-only LLM sessions: a prefill step over the
 * prompt, then one decode step per generated token, with a KV cache that
 * is `state` and grows by one position per decode step.
 *
 * Two architectures, exact in shapes, FLOPs and bytes (traces/SCHEMA.md
 * conventions):
 *   gpt2   learned positions, LayerNorm, fused QKV with bias, GELU MLP,
 *          lm_head tied to the token embedding (Radford et al. 2019);
 *   llama  RMSNorm, rotary positions, grouped-query attention, SwiGLU MLP,
 *          untied lm_head, no biases (Touvron et al. 2023).
 * The KV cache follows Hugging Face's dynamic cache: each decode step
 * concatenates the new key/value onto the cache.  Logits are computed for
 * the last position only, then reduced to the next token (argmax), which
 * the application reads.
 */
#ifndef GN_LLM_H
#define GN_LLM_H

#include <jansson.h>
#include <stdint.h>

#include "error.h"
#include "op.h"
#include "session.h"

typedef enum gn_llm_arch { GN_LLM_GPT2, GN_LLM_LLAMA } gn_llm_arch;

#define GN_LLM_MAX_REQUESTS 64

typedef struct gn_llm_config {
    char name[48];         /* preset or user name, e.g. "gpt2-medium" */
    gn_llm_arch arch;      /* architecture family */
    uint32_t vocab;        /* vocabulary size, tokens */
    uint32_t max_pos;      /* learned positions (gpt2), tokens */
    uint32_t d_model;      /* hidden size */
    uint32_t layers;       /* decoder blocks */
    uint32_t heads;        /* query heads */
    uint32_t kv_heads;     /* key/value heads (GQA when < heads) */
    uint32_t d_ff;         /* MLP inner size */
    gn_dtype dtype;        /* weights and activations */
    uint32_t batch;        /* sequences */
    uint32_t prompt;       /* prompt length, tokens */
    uint32_t decode;       /* decode steps */
    /* serving a stream of requests: NREQ > 0 requests one after the other,
     * request r a prefill of REQ_PROMPT[r] tokens and REQ_DECODE[r] decode
     * steps with its own KV cache; 0: one request of prompt and decode */
    uint32_t nreq;
    uint32_t req_prompt[GN_LLM_MAX_REQUESTS]; /* tokens */
    uint32_t req_decode[GN_LLM_MAX_REQUESTS]; /* steps */
} gn_llm_config;

/* Fills *CFG with preset NAME: gpt2-small, gpt2-medium, gpt2-large,
 * llama-2-7b, llama-2-13b, llama-3-8b, tiny-gpt2, tiny-llama; batch 1,
 * prompt 128, decode 16, f16.  Returns 0 or GN_ENOTFOUND. */
int gn_llm_preset(const char *name, gn_llm_config *cfg);

/*
 * Reads a workload object {"model": PRESET, "batch", "prompt", "decode",
 * "dtype", and any architecture field to override} into *CFG; or, for a
 * stream of requests served one after the other, "requests": [{"prompt":
 * P, "decode": D}, ...] (up to GN_LLM_MAX_REQUESTS; "decode" defaults to
 * the workload's).  FILE/PATH name it in errors.  0 or GN_ESCHEMA with
 * ERR filled.
 */
int gn_llm_config_from_json(const json_t *obj, const char *file,
                            const char *path, gn_llm_config *cfg,
                            gn_error *err);

/* Parameter count of CFG's architecture (elements). */
uint64_t gn_llm_param_count(const gn_llm_config *cfg);

/*
 * Generates the session (prefill + CFG->decode steps; with requests, those
 * of each request in turn, each request's KV cache its own storages
 * named "...k_cache.r<i>"), finalized.  Returns
 * a new session (caller owns), or NULL with ERR filled (GN_EINVAL for an
 * inconsistent config, e.g. heads not dividing d_model, or a GPT-2 context
 * longer than its learned positions).
 */
gn_session *gn_llm_generate(const gn_llm_config *cfg, gn_error *err);

#endif /* GN_LLM_H */
