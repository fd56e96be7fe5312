/*
 * recsys.h — SRG traces of DLRM inference sessions (Naumov et al. 2019):
 * `requests` forward steps, each one batch of samples in, one
 * click-probability per sample out.
 *
 * The structure is that of the reference dlrm_s_pytorch model as MLPerf
 * runs it, with its module names: sparse features go through one
 * embedding_bag per table (`emb_l.i`, sum pooling over a per-table number
 * of lookups per sample), dense features through the bottom MLP (`bot_l`,
 * Linear + ReLU), the bottom output and the pooled embeddings meet in the
 * dot interaction (`interaction`: pairwise dots of the 1 + tables feature
 * vectors, strictly lower triangle, concatenated after the dense vector),
 * then the top MLP (`top_l`, ReLU between layers, sigmoid at the end).
 * Shapes, FLOPs and bytes follow traces/SCHEMA.md exactly.
 *
 * Embedding tables are what make DLRM different: the MLPerf Criteo 1TB
 * preset holds 187,767,399 rows of 128 f32 (96.1 GB of tables), more
 * than one GPU's memory, while each batch touches only a few of them.
 */
#ifndef GN_RECSYS_H
#define GN_RECSYS_H

#include <jansson.h>
#include <stdint.h>

#include "error.h"
#include "op.h"
#include "session.h"

#define GN_RECSYS_MAX_TABLES 128 /* sparse features */
#define GN_RECSYS_MAX_LAYERS 16  /* layers of one MLP */

typedef struct gn_recsys_config {
    char name[48];                           /* preset or user name, e.g. "dlrm-mlperf" */
    uint32_t dense;                          /* dense features per sample */
    uint32_t dim;                            /* embedding width = bottom MLP output */
    uint32_t tables;                         /* embedding tables (sparse features) */
    uint64_t rows[GN_RECSYS_MAX_TABLES];     /* rows of each table */
    uint32_t pooling[GN_RECSYS_MAX_TABLES];  /* lookups per sample in each table (bag size) */
    uint32_t nbottom;                        /* bottom MLP layers */
    uint32_t bottom[GN_RECSYS_MAX_LAYERS];   /* bottom MLP output widths; the last equals dim */
    uint32_t ntop;                           /* top MLP layers */
    uint32_t top[GN_RECSYS_MAX_LAYERS];      /* top MLP output widths; input is the interaction width */
    gn_dtype dtype;                          /* weights, tables and activations */
    uint32_t batch;                          /* samples per request */
    uint32_t requests;                       /* forward steps in the session */
} gn_recsys_config;

/*
 * Fills *CFG with preset NAME:
 *   dlrm-mlperf  MLPerf DLRM on Criteo 1TB (26 tables, row counts of the
 *                reference at --max-ind-range=40000000, dim 128, bottom
 *                13-512-256-128, top 479-1024-1024-512-256-1), f32;
 *   dlrm-kaggle  the reference Criteo Kaggle config (26 tables, dim 16,
 *                bottom 13-512-256-64-16, top 367-512-256-1), f32;
 *   tiny-dlrm    2 small tables, for tests.
 * One lookup per table per sample (Criteo is one-hot), batch 256, 4
 * requests.  Returns 0 or GN_ENOTFOUND.
 */
int gn_recsys_preset(const char *name, gn_recsys_config *cfg);

/*
 * Reads a workload object {"model": PRESET, "batch", "requests", "dtype",
 * "dim", "dense", "rows": [per table], "pooling": N or [per table],
 * "bottom_mlp": [widths], "top_mlp": [widths]} into *CFG.  FILE/PATH
 * name it in errors; unknown fields are rejected.  0 or GN_ESCHEMA with
 * ERR filled; *CFG untouched on error.
 */
int gn_recsys_config_from_json(const json_t *obj, const char *file,
                               const char *path, gn_recsys_config *cfg,
                               gn_error *err);

/* Parameter count of CFG (elements): tables plus both MLPs. */
uint64_t gn_recsys_param_count(const gn_recsys_config *cfg);

/* Width of the dot interaction's output: dim + F(F-1)/2 with
 * F = tables + 1. */
uint64_t gn_recsys_interaction_width(const gn_recsys_config *cfg);

/*
 * Generates the session (CFG->requests forward steps), finalized.
 * Returns a new session (caller owns), or NULL with ERR filled (GN_EINVAL
 * for an inconsistent config: no table, a zero size, a bottom MLP whose
 * last width is not dim, a top MLP that does not end in 1 output).
 */
gn_session *gn_recsys_generate(const gn_recsys_config *cfg, gn_error *err);

#endif /* GN_RECSYS_H */
