/*
 * hello.h — the HELLO request that opens a session on a genie-node
 * (real/PROTOCOL.md): which machine of the plan the node is, how many
 * machines there are, how weights are made, and the session's trace.
 *
 * Both sides use this module, so what genie-real sends and what the
 * node accepts cannot drift apart; the fuzz target (real/fuzz_wire.c)
 * drives the decoder with whatever bytes a client might send.  Decoding
 * trusts nothing: the JSON, every field's range and the trace (through
 * the same loader as every trace file) are checked, and a bad HELLO is an
 * error naming what is wrong.
 */
#ifndef GN_HELLO_H
#define GN_HELLO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "session.h"

#define GN_HELLO_MAX_NODES 4096
#define GN_HELLO_MAX_SCALE 1e3

typedef struct gn_hello {
    int32_t machine;   /* this node's index among the plan's machines */
    uint32_t nodes;    /* machines in the plan (1..GN_HELLO_MAX_NODES) */
    uint64_t seed;     /* weights and inputs are made from it */
    double scale;      /* weights are uniform in +-scale (0..GN_HELLO_MAX_SCALE) */
    int warm;          /* weights already resident: the node makes them */
    gn_session *s;     /* the session (owned by whoever holds the hello) */
} gn_hello;

/* The HELLO payload for machine MACHINE of NODES, with TRACE (a trace
 * document, gn_trace_to_json; borrowed).  Returns a new NUL-terminated
 * string (caller frees; its length is the payload) or NULL when out of
 * memory. */
char *gn_hello_encode(int32_t machine, uint32_t nodes, uint64_t seed, double scale, int warm,
                      const json_t *trace);

/* Decodes LEN bytes of a HELLO payload into *H, whose session is new
 * (caller owns: gn_session_destroy(H->s)).  0, or GN_EPARSE (not the
 * JSON of a HELLO), GN_EINVAL (a field out of range) or the trace
 * loader's error, with ERR saying which; *H is untouched on failure. */
int gn_hello_decode(const void *payload, size_t len, gn_hello *h, gn_error *err);

#endif /* GN_HELLO_H */
