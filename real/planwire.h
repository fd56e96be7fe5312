/*
 * planwire.h — a plan as bytes, for the PLAN frame (real/PROTOCOL.md).
 *
 * A plan is data only: devices (name, machine, accelerator or not) and
 * tasks (kind, step, devices, graph node, bytes, the tensors a transfer
 * carries, a label).  The node never runs code it is sent: a compute
 * task names a node of the session's graph, whose op is from the fixed
 * vocabulary.  Dependencies are not sent: the real backend keeps plan
 * order on every machine, and transfers carry the ordering between them
 * (real/planrun.h).  Decoding trusts nothing: every count and length is
 * checked against the bytes left, and a bad plan is an error naming the
 * field, never a crash.
 */
#ifndef GN_PLANWIRE_H
#define GN_PLANWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "plan.h"

#define GN_PLANWIRE_MAGIC 0x4e4c5047u /* "GPLN" */
#define GN_PLANWIRE_VERSION 1

/* Encodes P into a new buffer (*OUT, *LEN; caller frees *OUT).
 * 0 or GN_ENOMEM. */
int gn_planwire_encode(const gn_plan *p, unsigned char **out, size_t *len);

/* Decodes LEN bytes at BUF into a new plan (*OUT; caller owns,
 * gn_plan_destroy).  0, or GN_EPARSE with ERR naming the field. */
int gn_planwire_decode(const void *buf, size_t len, gn_plan **out, gn_error *err);

#endif /* GN_PLANWIRE_H */
