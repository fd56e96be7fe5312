/*
 * semantic.h — semantic analysis of a session: what each node *is*.
 *
 * Analysis annotates every node of every step with a phase (prefill,
 * decode, forward), a role (attention, mlp, kv-cache access, sparse
 * lookup, ...), a modality (vision, text, tabular) and a confidence, from
 * the graph's structure alone: module paths and hints are never read, so
 * captured traces without them are analysed the same way.
 *
 * Recognition is done by patterns behind one small, versioned interface
 * (gn_pattern_ops, like SQLite's VFS: it only ever grows at the end).  The
 * built-in patterns use the same table external ones will.  Each pattern
 * proposes annotations with a confidence; the most confident proposal for
 * a node wins, so overlapping patterns resolve by confidence, unless the
 * user ranks patterns (gn_analysis_opts.priority).  Nodes that
 * no pattern claims with at least GN_SEMANTIC_CONFIDENT are reported as
 * low-confidence, and planners treat them conservatively.
 */
#ifndef GN_SEMANTIC_H
#define GN_SEMANTIC_H

#include <stdint.h>

#include "error.h"
#include "session.h"

#define GN_PATTERN_VERSION 1
#define GN_SEMANTIC_CONFIDENT 0.70f

#define GN_ROLE_MAP(X)                                                      \
    X(UNKNOWN, "unknown")                                                   \
    X(EMBEDDING, "embedding")          /* token/position lookups */         \
    X(ATTENTION, "attention")          /* q/k/v projections, SDPA, out proj */ \
    X(MLP, "mlp")                      /* up/gate, activation, down */      \
    X(NORM, "norm")                                                         \
    X(KV_CACHE, "kv_cache")            /* reads/appends of attention state */ \
    X(RESIDUAL, "residual")            /* skip-connection adds */           \
    X(CONV_BACKBONE, "conv_backbone")                                       \
    X(NECK, "neck")                    /* multi-scale merging (FPN) */      \
    X(HEAD, "head")                    /* task output layers */             \
    X(SPARSE_LOOKUP, "sparse_lookup")  /* embedding bags */                 \
    X(INTERACTION, "feature_interaction")                                   \
    X(FUSION, "fusion")                /* where modalities meet */          \
    X(DATA_MOVEMENT, "data_movement")  /* views, copies, fills */         \
    X(SEQUENCE_MIXER, "sequence_mixer") /* non-attention token mixing: SSM scans, ... */

typedef enum gn_role {
#define GN_ROLE_ENUM(id, name) GN_ROLE_##id,
    GN_ROLE_MAP(GN_ROLE_ENUM)
#undef GN_ROLE_ENUM
        GN_ROLE_COUNT
} gn_role;

/* Modalities are a bit set: a node fed by two is a fusion candidate. */
enum {
    GN_MOD_VISION = 1,   /* image tensors (N, C, H, W) */
    GN_MOD_TEXT = 2,     /* token ids through embeddings */
    GN_MOD_TABULAR = 4,  /* dense features and sparse ids */
};

typedef struct gn_annotation {
    gn_role role;        /* what the node does */
    unsigned modality;   /* GN_MOD_* bits reaching the node */
    float confidence;    /* of the role, 0..1 */
    const char *pattern; /* name of the pattern that won (static) */
    int fusion_point;    /* first node where two modalities meet */
} gn_annotation;

/*
 * A pattern.  MATCH looks at step graph G (the session is there for
 * cross-step questions) and, for each node it recognises, calls PROPOSE.
 * It must not keep pointers after returning.  Returns the number of
 * proposals or a negative code with ERR.
 */
typedef struct gn_pattern_ops gn_pattern_ops;
typedef void (*gn_propose_fn)(void *ctx, uint32_t node, gn_role role,
                              float confidence, const gn_pattern_ops *by);
struct gn_pattern_ops {
    int version;         /* GN_PATTERN_VERSION */
    const char *name;    /* "attention" */
    const char *matches; /* one line: what it recognises */
    int (*match)(const gn_session *s, uint32_t step, const gn_graph *g,
                 gn_propose_fn propose, void *ctx, gn_error *err);
};

/* The built-in patterns, NULL-terminated (static). */
const gn_pattern_ops *const *gn_patterns_builtin(void);

typedef struct gn_analysis gn_analysis;

/*
 * Analyses S with PATTERNS (NULL-terminated; NULL for the built-ins):
 * step phases, per-node annotations, modalities.  Returns a new analysis
 * (caller owns; gn_analysis_destroy) or NULL with ERR.  A pattern whose
 * match fails or returns an out-of-range proposal is disabled for the rest
 * of the analysis, its reason recorded (gn_analysis_warning), and the
 * others go on.
 */
gn_analysis *gn_analysis_run(const gn_session *s,
                             const gn_pattern_ops *const *patterns,
                             gn_error *err);

/*
 * User overrides for conflicting matches.  PRIORITY lists pattern names,
 * highest first (NULL-terminated, borrowed for the call): a proposal by
 * a listed pattern beats any proposal by a pattern listed after it or
 * not listed, whatever the confidences; proposals of equal rank resolve
 * by confidence as usual.  The winning proposal's own confidence is kept,
 * so overriding a confident pattern with an unsure one shows up as low
 * confidence.  Names that match no pattern are reported as warnings.
 */
typedef struct gn_analysis_opts {
    const char *const *priority; /* pattern names, highest first; NULL: none */
} gn_analysis_opts;

/* As gn_analysis_run, with OPTS (borrowed; NULL: as gn_analysis_run). */
gn_analysis *gn_analysis_run_opts(const gn_session *s,
                                  const gn_pattern_ops *const *patterns,
                                  const gn_analysis_opts *opts, gn_error *err);

void gn_analysis_destroy(gn_analysis *a);

/* Phase of step ST as analysis inferred it (not the trace's hint). */
gn_phase gn_analysis_phase(const gn_analysis *a, uint32_t st);

/* Annotation of node ID of step ST (borrowed). */
const gn_annotation *gn_analysis_node(const gn_analysis *a, uint32_t st,
                                      uint32_t id);

/* Nodes below GN_SEMANTIC_CONFIDENT, over all steps. */
uint32_t gn_analysis_low_confidence(const gn_analysis *a);

/* Warnings (disabled patterns, low-confidence regions), one line each. */
uint32_t gn_analysis_nwarnings(const gn_analysis *a);
const char *gn_analysis_warning(const gn_analysis *a, uint32_t i);

const char *gn_role_name(gn_role role);

/* Parses a role name into *OUT.  0 or GN_ENOTFOUND. */
int gn_role_parse(const char *name, gn_role *out);

#endif /* GN_SEMANTIC_H */
