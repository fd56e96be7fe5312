/*
 * vqa.h — SRG traces of multimodal visual question answering sessions:
 * `requests` forward steps, each one batch of (image, question) pairs in,
 * one score per candidate answer out.
 *
 * Three parts, with Hugging Face's module and parameter names under a
 * per-part prefix, exact in shapes, FLOPs and bytes (traces/SCHEMA.md):
 *   vision  a ViT (Dosovitskiy et al. 2021) as HF ViTModel without pooler:
 *           16x16 patch conv, cls token, learned positions, pre-LN
 *           encoder layers, final layernorm (`vision.encoder.layer.N...`);
 *           ViT-B/16 at 224 px has 85,798,656 parameters;
 *   text    a BERT encoder as HF BertModel without pooler: word, position
 *           and token-type embeddings + LayerNorm, post-LN layers
 *           (`text.encoder.layer.N...`); BERT-base has 108,891,648
 *           parameters (109,482,240 with the pooler);
 *   fusion  BERT-style cross-attention layers in which the question's
 *           tokens query the image tokens (`fusion.layer.N.crossattention`,
 *           `.intermediate`, `.output`, post-LN), then an answer head on
 *           the first text token, as in LXMERT/VisualBERT's VQA heads
 *           (`answer_head.dense`, GELU, `answer_head.LayerNorm`,
 *           `answer_head.classifier` over e.g. the 3,129 VQA v2 answers).
 * Dropout is off (inference); attention masks are all ones and not traced.
 */
#ifndef GN_VQA_H
#define GN_VQA_H

#include <jansson.h>
#include <stdint.h>

#include "error.h"
#include "op.h"
#include "session.h"

typedef struct gn_vqa_config {
    char name[48];        /* preset or user name, e.g. "vit-bert-vqa" */
    uint32_t image;       /* input height = width, pixels */
    uint32_t patch;       /* patch size, pixels; must divide image */
    uint32_t v_layers;    /* ViT encoder layers */
    uint32_t v_d;         /* ViT hidden size */
    uint32_t v_heads;     /* ViT attention heads */
    uint32_t v_ff;        /* ViT MLP inner size */
    uint32_t vocab;       /* text vocabulary, tokens */
    uint32_t max_pos;     /* text learned positions, tokens */
    uint32_t type_vocab;  /* token types */
    uint32_t t_layers;    /* text encoder layers */
    uint32_t t_d;         /* text hidden size (also the fusion width) */
    uint32_t t_heads;     /* text attention heads */
    uint32_t t_ff;        /* text MLP inner size */
    uint32_t f_layers;    /* fusion (cross-attention) layers */
    uint32_t f_heads;     /* fusion attention heads */
    uint32_t f_ff;        /* fusion MLP inner size */
    uint32_t head_hidden; /* answer head hidden size */
    uint32_t answers;     /* candidate answers */
    uint32_t text_len;    /* question length, tokens */
    gn_dtype dtype;       /* weights and activations */
    uint32_t batch;       /* questions per request */
    uint32_t requests;    /* forward steps in the session */
} gn_vqa_config;

/* Fills *CFG with preset NAME: vit-bert-vqa (ViT-B/16 at 224 px,
 * BERT-base, 4 fusion layers of width 768, answer head 768-1536-3129,
 * 32-token questions, f16, batch 1, 4 requests) or tiny-vqa (for tests,
 * f32).  Returns 0 or GN_ENOTFOUND. */
int gn_vqa_preset(const char *name, gn_vqa_config *cfg);

/*
 * Reads a workload object {"model": PRESET, "batch", "requests", "dtype",
 * "text_len", "image", and any architecture field to override} into
 * *CFG.  FILE/PATH name it in errors; unknown fields are rejected.  0 or
 * GN_ESCHEMA with ERR filled; *CFG untouched on error.
 */
int gn_vqa_config_from_json(const json_t *obj, const char *file,
                            const char *path, gn_vqa_config *cfg,
                            gn_error *err);

/* Parameter counts (elements) of the three parts and of the whole. */
uint64_t gn_vqa_vision_params(const gn_vqa_config *cfg);
uint64_t gn_vqa_text_params(const gn_vqa_config *cfg);
uint64_t gn_vqa_param_count(const gn_vqa_config *cfg);

/*
 * Generates the session (CFG->requests forward steps), finalized.
 * Returns a new session (caller owns), or NULL with ERR filled (GN_EINVAL
 * for an inconsistent config: a patch not dividing the image, heads not
 * dividing a width, a question longer than max_pos).
 */
gn_session *gn_vqa_generate(const gn_vqa_config *cfg, gn_error *err);

#endif /* GN_VQA_H */
