/*
 * runner.h — runs a whole session on one executor (issue 4).
 *
 * The runner is the glue between a session (model/session.h) and an
 * executor (executor.h): it gives every tensor a device buffer, fills the
 * weights, carries state (the KV cache) from step to step and runs each
 * step's nodes in topological order.  The CPU executor driven by a runner
 * is the local reference that genie-real compares remote results with;
 * genie-node runs its share of a plan the same way.
 *
 * Buffers:
 *   - param storages: one buffer per storage, shared by every step,
 *     allocated and filled once at create time;
 *   - state storages: one current version per storage.  A step's state
 *     leaf reads the current version; a state tensor the step produces
 *     becomes the new current version once the step has run;
 *   - everything else (inputs, activations, outputs): one buffer per
 *     tensor of the *prepared* step, allocated zeroed when a step is
 *     prepared (first set_input or run of that step) and released when
 *     another step is prepared or the runner destroyed.  So tensors of a
 *     step stay readable after it ran, until the next step starts.
 *     Released buffers are kept for the next step where sizes match
 *     (fresh pages fault); a partial runner (GN_RUNNER_PARTIAL) reuses
 *     them without zeroing, since it never reads a tensor nothing wrote.
 *
 * Parameter values are deterministic: each f32 param storage is filled
 * from a xorshift64* stream seeded with SEED mixed with the FNV-1a hash of
 * its storage name, uniform in [-SCALE, SCALE) (f16/bf16 storages: the
 * same values rounded to the type).  Two sessions of one model (other
 * prompt or decode lengths) therefore get the same weights.  A storage a
 * batch_norm reads as its running variance (input 4) gets 1 plus those
 * values, in [1 - SCALE, 1 + SCALE): a negative variance would make the
 * channel NaN (a captured ResNet ran on NaNs).  Params of other dtypes
 * are zero.
 *
 * Allocation happens when steps are prepared, never per node: the hot
 * path is the executor's run.
 */
#ifndef GN_RUNNER_H
#define GN_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "executor.h"
#include "session.h"

typedef struct gn_runner gn_runner;

/*
 * Returns a new runner of session S (borrowed: must outlive the runner;
 * finalized) on executor OPS (borrowed), which creates its own executor
 * state, allocates every param storage and fills it (see above).  Caller
 * owns the runner (gn_runner_destroy).  NULL with ERR on failure
 * (GN_ENOMEM, GN_EINVAL for a session the runner cannot hold, the
 * executor's own create error).
 */
gn_runner *gn_runner_create(const gn_executor_ops *ops, const gn_session *s, uint64_t seed, float scale,
                            gn_error *err);

/* Flags of gn_runner_create_ex. */
enum {
    GN_RUNNER_NO_PARAMS = 1, /* params start zero and not valid: a plan must deliver them */
    GN_RUNNER_PARTIAL = 2,   /* a machine running part of a plan: a state leaf with no current
                              * version is allocated (a transfer will deliver it), not an error */
};

/* As gn_runner_create, with FLAGS (GN_RUNNER_*). */
gn_runner *gn_runner_create_ex(const gn_executor_ops *ops, const gn_session *s, uint64_t seed, float scale,
                               unsigned flags, gn_error *err);

/* Frees R, all its buffers and its executor state; NULL is a no-op. */
void gn_runner_destroy(gn_runner *r);

/*
 * Replaces the contents of param storage STORAGE (its name, as in the
 * trace) with BYTES from HOST (borrowed), e.g. real weights or a test's
 * chosen values.  0, or GN_ENOTFOUND for no such param storage, GN_EINVAL
 * when BYTES differs from its size.
 */
int gn_runner_set_param(gn_runner *r, const char *storage, const void *host, size_t bytes, gn_error *err);

/*
 * Copies BYTES from HOST (borrowed) into tensor TENSOR of step STEP, which
 * is prepared first if it is not the prepared step.  TENSOR must be a
 * leaf that is not a param nor a state (kind input): GN_EINVAL otherwise,
 * or when BYTES differs from the tensor's size.
 */
int gn_runner_set_input(gn_runner *r, uint32_t step, uint32_t tensor, const void *host, size_t bytes,
                        gn_error *err);

/*
 * Runs every node of step STEP in gn_graph_order (preparing the step
 * first if needed: inputs never set are zero), then makes the state
 * tensors it produced the current versions of their storages.  Returns 0,
 * or the first failing node's code with ERR naming "steps[STEP]: nodes[i]:
 * ..."; GN_EINVAL when a state leaf has no current version of its size
 * (steps run out of order).  After a failure the state versions are
 * unchanged.
 */
int gn_runner_run_step(gn_runner *r, uint32_t step, gn_error *err);

/*
 * Runs node NODE of step STEP alone (preparing the step first; a step
 * before the prepared one is GN_EINVAL).  Its inputs must hold values:
 * set, written, computed here, or the outputs of views over such tensors
 * (views are run on demand: plans never place them).  Otherwise
 * GN_EINVAL naming the missing tensor — a plan that forgot a transfer
 * fails here instead of computing on zeros.  State the node produces
 * becomes current when the next step is prepared.
 */
int gn_runner_run_node(gn_runner *r, uint32_t step, uint32_t node, gn_error *err);

/*
 * Copies BYTES from HOST into tensor TENSOR of step STEP, whatever its
 * kind (a transfer delivering it): a param writes its storage, a state
 * leaf becomes its storage's current version, anything else the step's
 * buffer.  0 or GN_EINVAL (no such tensor of that size, an earlier step).
 */
int gn_runner_write(gn_runner *r, uint32_t step, uint32_t tensor, const void *host, size_t bytes, gn_error *err);

/* Bytes of tensor data R holds now: params, current state versions, the
 * prepared step's buffers and the reuse pool. */
uint64_t gn_runner_held_bytes(const gn_runner *r);

/* An upper bound on the bytes of tensor data a runner of S ever holds at
 * once: every param, the largest version of every state, and two steps'
 * buffers (while a step is prepared, the pool still holds the previous
 * one's), the two largest steps.  Saturates at UINT64_MAX; a session that
 * declares absurd sizes gets an absurd bound, not an overflow.  What
 * genie-node reserves against its --max-memory when a HELLO opens a
 * session. */
uint64_t gn_runner_bound_bytes(const gn_session *s);

/* Gives step STEP its buffers now (as its first use would), e.g. before
 * a timed run starts.  0 or a code with ERR. */
int gn_runner_prepare(gn_runner *r, uint32_t step, gn_error *err);

/* The session R runs (borrowed). */
const gn_session *gn_runner_session(const gn_runner *r);

/*
 * Zero-copy access where the executor's buffers are host memory
 * (host_visible, the CPU executor); NULL otherwise (or on error, with
 * ERR), and the caller copies with gn_runner_write / gn_runner_read.
 *
 * gn_runner_host_dst: where BYTES of tensor TENSOR of step STEP go, as
 * gn_runner_write would put them; the tensor counts as written (the
 * caller fills it at once — a transfer received straight into place).
 * gn_runner_host_src: the tensor's bytes, as gn_runner_read would copy
 * them.  Both borrowed until the step is released.
 */
void *gn_runner_host_dst(gn_runner *r, uint32_t step, uint32_t tensor, size_t bytes, gn_error *err);
const void *gn_runner_host_src(gn_runner *r, uint32_t step, uint32_t tensor, size_t bytes, gn_error *err);

/* Whether tensor TENSOR of step STEP holds its value (STEP prepared). */
int gn_runner_valid(const gn_runner *r, uint32_t step, uint32_t tensor);

/*
 * Copies tensor TENSOR of step STEP into HOST (BYTES, its size).  STEP
 * must be the prepared step (normally the one that just ran) or a later
 * one (then prepared): any of its tensors that holds a value can be read,
 * params and state included (views are run on demand).  0 or GN_EINVAL.
 */
int gn_runner_read(gn_runner *r, uint32_t step, uint32_t tensor, void *host, size_t bytes, gn_error *err);

/*
 * The K-th tensor of kind KIND in step STEP's graph, counted in id order
 * from 0; -1 when there is none.  For LLM steps (workloads/llm.c) the
 * inputs are 0: token ids [B, T] and 1: positions [B, T], both i64, and
 * output 0 is the next token [B, 1] (i64).
 */
int64_t gn_runner_find(const gn_runner *r, uint32_t step, gn_kind kind, uint32_t k);

/*
 * Runs an LLM session (workloads/llm.c) from a prompt: step 0 gets
 * PROMPT (B × P token ids, row-major; B and P from the step's input
 * shape) and positions 0..P-1; decode step s >= 1 gets the token step s-1
 * produced and position P + s - 1.  TOKENS (may be NULL) receives the
 * nsteps × B produced tokens, step-major.  0 or a negative code with ERR.
 */
int gn_runner_run_llm(gn_runner *r, const int64_t *prompt, int64_t *tokens, gn_error *err);

#endif /* GN_RUNNER_H */
