/*
 * op.h — the fixed vocabularies of the SRG trace: ops, dtypes, tensor kinds
 * and step phases (traces/SCHEMA.md).
 *
 * Each vocabulary is one X-macro giving the enum value and its name in the
 * trace, so parsing, printing and the schema page share one list.  New
 * entries only ever go at the end (they are stored as integers in plans).
 */
#ifndef GN_OP_H
#define GN_OP_H

#include <stddef.h>

#define GN_OP_MAP(X)                                                        \
    X(MATMUL, "matmul")                                                     \
    X(CONV2D, "conv2d")                                                     \
    X(POOL2D, "pool2d")                                                     \
    X(LAYER_NORM, "layer_norm")                                             \
    X(RMS_NORM, "rms_norm")                                                 \
    X(BATCH_NORM, "batch_norm")                                             \
    X(GROUP_NORM, "group_norm")                                             \
    X(SOFTMAX, "softmax")                                                   \
    X(ATTENTION, "attention")                                               \
    X(EMBEDDING, "embedding")                                               \
    X(EMBEDDING_BAG, "embedding_bag")                                       \
    X(ELEMENTWISE, "elementwise")                                           \
    X(REDUCTION, "reduction")                                               \
    X(VIEW, "view")                                                         \
    X(COPY, "copy")                                                         \
    X(CONCAT, "concat")                                                     \
    X(INDEX, "index")                                                       \
    X(FILL, "fill")                                                         \
    X(INTERACTION, "interaction")                                           \
    X(OPAQUE, "opaque")

typedef enum gn_op {
#define GN_OP_ENUM(id, name) GN_OP_##id,
    GN_OP_MAP(GN_OP_ENUM)
#undef GN_OP_ENUM
        GN_OP_COUNT
} gn_op;

/* name, size in bytes */
#define GN_DTYPE_MAP(X)                                                     \
    X(F32, "f32", 4)                                                        \
    X(F16, "f16", 2)                                                        \
    X(BF16, "bf16", 2)                                                      \
    X(F64, "f64", 8)                                                        \
    X(I64, "i64", 8)                                                        \
    X(I32, "i32", 4)                                                        \
    X(I16, "i16", 2)                                                        \
    X(I8, "i8", 1)                                                          \
    X(U8, "u8", 1)                                                          \
    X(BOOL, "bool", 1)

typedef enum gn_dtype {
#define GN_DTYPE_ENUM(id, name, size) GN_DTYPE_##id,
    GN_DTYPE_MAP(GN_DTYPE_ENUM)
#undef GN_DTYPE_ENUM
        GN_DTYPE_COUNT
} gn_dtype;

#define GN_KIND_MAP(X)                                                      \
    X(PARAM, "param")                                                       \
    X(INPUT, "input")                                                       \
    X(ACTIVATION, "activation")                                             \
    X(STATE, "state")                                                       \
    X(OUTPUT, "output")

typedef enum gn_kind {
#define GN_KIND_ENUM(id, name) GN_KIND_##id,
    GN_KIND_MAP(GN_KIND_ENUM)
#undef GN_KIND_ENUM
        GN_KIND_COUNT
} gn_kind;

#define GN_PHASE_MAP(X)                                                     \
    X(UNKNOWN, "unknown")                                                   \
    X(PREFILL, "prefill")                                                   \
    X(DECODE, "decode")                                                     \
    X(FORWARD, "forward")                                                   \
    X(BACKWARD, "backward")

typedef enum gn_phase {
#define GN_PHASE_ENUM(id, name) GN_PHASE_##id,
    GN_PHASE_MAP(GN_PHASE_ENUM)
#undef GN_PHASE_ENUM
        GN_PHASE_COUNT
} gn_phase;

/* Names as written in traces; the argument must be a valid enum value. */
const char *gn_op_name(gn_op op);
const char *gn_dtype_name(gn_dtype dt);
const char *gn_kind_name(gn_kind kind);
const char *gn_phase_name(gn_phase phase);

/* Size of one element of DT in bytes. */
size_t gn_dtype_size(gn_dtype dt);

/*
 * Parse a name into *OUT.  Return 0, or GN_ENOTFOUND (and leave *OUT
 * untouched) when NAME is not in the vocabulary.
 */
int gn_op_parse(const char *name, gn_op *out);
int gn_dtype_parse(const char *name, gn_dtype *out);
int gn_kind_parse(const char *name, gn_kind *out);
int gn_phase_parse(const char *name, gn_phase *out);

/*
 * Writes the comma-separated list of op names into BUF (for error messages
 * that say what was expected).  Returns BUF.
 */
const char *gn_op_list(char *buf, size_t len);

#endif /* GN_OP_H */
