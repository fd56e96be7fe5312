/*
 * wire.h — the Genie wire protocol, version 1: frames between genie-real
 * and genie-node (real/PROTOCOL.md is the byte-level specification).
 *
 * A frame is a fixed 40-byte little-endian header followed by `length`
 * payload bytes.  The header carries a type, the session and request ids
 * and a CRC32C over the header (with the crc field zero) and the payload.
 * Decoding never trusts the peer: magic, version, type, flags, length
 * (against a caller-set limit) and checksum are all checked, and every
 * failure is a GN_E* code with a one-line reason, so a node can answer
 * with an ERROR frame and keep serving.  Nothing here allocates.
 */
#ifndef GN_WIRE_H
#define GN_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "op.h"

#define GN_WIRE_MAGIC 0x45494e47u /* "GNIE" read as little-endian u32 */
#define GN_WIRE_VERSION 1
#define GN_WIRE_HEADER 40         /* bytes */
#define GN_WIRE_MAX_DIMS 8

#define GN_FRAME_MAP(X)                                                     \
    X(HELLO, 1, "hello")   /* client -> node: open a session */             \
    X(PLAN, 2, "plan")     /* client -> node: a step plan (data only) */    \
    X(TENSOR, 3, "tensor") /* either way: one tensor's bytes */             \
    X(RUN, 4, "run")       /* client -> node: run a cached plan */          \
    X(RESULT, 5, "result") /* node -> client: a run finished */             \
    X(ERROR, 6, "error")   /* either way: a request failed (text payload) */\
    X(BYE, 7, "bye")       /* client -> node: end the session */             \
    X(DATA, 8, "data")     /* either way: the tensors of one plan transfer */ \
    X(MORE, 9, "more")     /* either way: the next piece of that payload */ \
    X(PING, 10, "ping")    /* client -> node: echoed back as it came */

typedef enum gn_frame_type {
#define GN_FRAME_ENUM(id, code, name) GN_FRAME_##id = code,
    GN_FRAME_MAP(GN_FRAME_ENUM)
#undef GN_FRAME_ENUM
} gn_frame_type;

typedef struct gn_frame {
    uint16_t type;     /* gn_frame_type */
    uint32_t flags;    /* reserved, 0 in version 1 */
    uint64_t session;  /* session id, chosen by the node at HELLO */
    uint64_t request;  /* request id, chosen by the client, echoed in replies */
    uint64_t length;   /* payload bytes */
    uint32_t crc;      /* CRC32C of header (crc = 0) and payload */
} gn_frame;

/* CRC32C (Castagnoli) of LEN bytes at P, continuing from CRC (0 to start).
 * Uses the CPU's crc32 instruction where it has one (three interleaved
 * chains), else gn_crc32c_portable; GN_CRC_SOFTWARE=1 in the environment
 * forces the latter. */
uint32_t gn_crc32c(uint32_t crc, const void *p, size_t len);

/* The same with tables only (slicing-by-8): any CPU; tests compare. */
uint32_t gn_crc32c_portable(uint32_t crc, const void *p, size_t len);

/* Name of frame TYPE ("tensor"), or NULL for an unknown type. */
const char *gn_frame_name(uint16_t type);

/*
 * Fills F->crc from F and PAYLOAD (F->length bytes, may be NULL when 0)
 * and writes the header into OUT.  The payload is not copied.
 */
void gn_wire_encode(uint8_t out[GN_WIRE_HEADER], gn_frame *f,
                    const void *payload);

/*
 * Decodes the header at BUF (GN_WIRE_HEADER bytes) into *F and checks
 * everything checkable without the payload: magic, version, known type,
 * zero flags, length <= MAX_PAYLOAD.  Returns 0 or GN_EPARSE / GN_ERANGE
 * with ERR saying which field is wrong; *F is untouched on error.
 */
int gn_wire_decode(const uint8_t *buf, size_t max_payload, gn_frame *f,
                   gn_error *err);

/* Writes F's header, F->crc as it is, into OUT: for a sender that
 * computed the checksum itself (gn_wire_crc_header, then the payload in
 * pieces). */
void gn_wire_write_header(uint8_t out[GN_WIRE_HEADER], const gn_frame *f);

/* The CRC32C of F's header with the crc field zero: continue it with
 * gn_crc32c over the payload, in pieces, to checksum a frame that is
 * sent or received piece by piece. */
uint32_t gn_wire_crc_header(const gn_frame *f);

/* Checks F->crc against the header and PAYLOAD.  0 or GN_EPARSE. */
int gn_wire_verify(const gn_frame *f, const void *payload, gn_error *err);

/* A tensor payload: 16-byte descriptor, the shape, then the raw data. */
typedef struct gn_wire_tensor {
    uint32_t id;                      /* tensor id within the plan's step */
    gn_dtype dtype;                   /* element type */
    uint32_t ndim;                    /* <= GN_WIRE_MAX_DIMS */
    int64_t shape[GN_WIRE_MAX_DIMS];  /* elements per dim, >= 0 */
    const void *data;                 /* borrowed: points into the payload */
    uint64_t bytes;                   /* numel x dtype size */
} gn_wire_tensor;

/* Bytes a tensor payload for T needs. */
size_t gn_wire_tensor_size(const gn_wire_tensor *t);

/* Writes T (descriptor, shape, then T->bytes of T->data) into OUT, which
 * holds LEN bytes.  Returns the bytes written or GN_ERANGE if too small. */
int64_t gn_wire_tensor_encode(const gn_wire_tensor *t, void *out, size_t len);

/*
 * Decodes a tensor payload of LEN bytes.  Checks dtype, ndim, dims and
 * that the data length is exactly numel x dtype size.  T->data points
 * into P.  0 or GN_EPARSE with ERR.
 */
int gn_wire_tensor_decode(const void *p, size_t len, gn_wire_tensor *t,
                          gn_error *err);

#endif /* GN_WIRE_H */
