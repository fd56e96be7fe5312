/*
 * outputs.h — what a session gives back to the application, captured
 * for parity checks (issue 4).
 *
 * A run's outputs are, per step, every tensor the application gets back:
 * the step's outputs and the tensors it reads (traces/SCHEMA.md).  The
 * reference is the same session run locally on the CPU executor with the
 * same seed (gn_outputs_reference); a real run must match it to a
 * relative error of 1e-5 (fp32), and two runs with the same seed must be
 * identical byte for byte.  f16/bf16 outputs are compared by value (each
 * widened to f32); the tolerances for them are in real/EXECUTOR.md.
 */
#ifndef GN_OUTPUTS_H
#define GN_OUTPUTS_H

#include <stdint.h>

#include "error.h"
#include "executor.h"
#include "planrun.h"
#include "runner.h"

typedef struct gn_outputs gn_outputs;

/* A new empty capture for SESSION (borrowed), or NULL when out of
 * memory.  Caller owns: gn_outputs_destroy. */
gn_outputs *gn_outputs_create(const gn_session *s);
void gn_outputs_destroy(gn_outputs *o);

/* Copies the outputs and reads of step STEP out of R (the step must still
 * be readable there).  0 or a negative code with ERR naming a tensor the
 * run did not deliver. */
int gn_outputs_capture(gn_outputs *o, gn_runner *r, uint32_t step, gn_error *err);

/*
 * Compares GOT with REF (the same session, every step captured).
 * *MAX_REL: the largest relative error over float tensors (f32, f16,
 * bf16), each measured
 * as max|got - ref| / max|ref|; integer tensors count as 0 when equal and
 * as infinity when not.  *IDENTICAL: 1 when every byte matches.  0, or
 * GN_EINVAL when the captures do not cover the same tensors.
 */
int gn_outputs_compare(const gn_outputs *got, const gn_outputs *ref, double *max_rel, int *identical,
                       gn_error *err);

/* Runs session S locally on OPS with SEED and SCALE, inputs from
 * gn_feed_step, and captures every step into O.  0 or a code with ERR. */
int gn_outputs_reference(const gn_executor_ops *ops, const gn_session *s, uint64_t seed, float scale,
                         gn_outputs *o, gn_error *err);

/*
 * The client's share of plan P, run on R through LINK: feeds each step's
 * inputs (gn_feed_step, SEED) before the step starts and captures each
 * step's outputs into O (may be NULL) once the plan has delivered them.
 * TIMES as in gn_planrun.  0 or a code with ERR.
 */
int gn_outputs_client_run(const gn_plan *p, gn_runner *r, const gn_link *link, uint64_t seed, gn_outputs *o,
                          gn_task_time *times, gn_error *err);

/*
 * As gn_outputs_client_run, and PAUSES (may be NULL; one entry per step
 * of the session, zeroed by the caller) receives when the harness
 * worked between steps (inputs generated, outputs captured:
 * CLOCK_MONOTONIC ns), so a backend can take that time out of its
 * timeline: it is the test harness, not the system under test.
 */
int gn_outputs_client_run_paused(const gn_plan *p, gn_runner *r, const gn_link *link, uint64_t seed,
                                 gn_outputs *o, gn_task_time *times, gn_task_time *pauses, gn_error *err);

/* Maps a CLOCK_MONOTONIC time T onto the timeline without the N PAUSES
 * (the time of every pause that ended before T is taken out). */
int64_t gn_outputs_unpause(int64_t t, const gn_task_time *pauses, uint32_t n);

#endif /* GN_OUTPUTS_H */
