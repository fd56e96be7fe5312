/*
 * planrun.h — one machine's share of a plan, executed for real (issue 4).
 *
 * The real backend runs the very plan the simulator runs (DESIGN.md: a
 * backend never re-plans).  Every machine of the plan — the client
 * (machine -1) and each node k — walks the whole task list in plan order
 * and does the tasks that concern it:
 *
 *   compute on one of its devices    runs the task's graph node on its
 *                                    runner (gn_runner_run_node);
 *   transfer inside the machine      copies the items through host memory
 *                                    (download + upload: a CPU-staged
 *                                    host <-> device copy);
 *   transfer to another machine      sends one DATA payload: the items'
 *                                    bytes read from its runner, then the
 *                                    transfer's metadata bytes;
 *   transfer from another machine    waits for that DATA payload and
 *                                    writes the items into its runner;
 *   node -> node transfer            the client relays it (nodes talk to
 *                                    the client only, in this version).
 *
 * Plan order is a topological order and each machine keeps it, so
 * dependencies between machines are met by the transfers themselves;
 * a plan whose machine needs a tensor nobody delivered fails with an
 * error naming it (the runner tracks which tensors hold values).  Steps
 * must not go backwards on one machine (the runner holds one step's
 * activations at a time); gn_planrun_check says so before anything runs.
 *
 * DATA payload (little-endian; real/PROTOCOL.md): u32 task, u32 nitems,
 * u64 metadata bytes, then per item u32 step, u32 tensor, u64 bytes and
 * the raw bytes, then the metadata bytes (zeros standing for call
 * arguments and graph descriptions: the node got the session's graph
 * once, at HELLO).
 */
#ifndef GN_PLANRUN_H
#define GN_PLANRUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"
#include "plan.h"
#include "runner.h"

#define GN_MACHINE_CLIENT (-1)

/* How a machine reaches the others (conn.h's gn_conn_link: a TCP or
 * socket-pair connection each).  The calls block; each returns 0 or a
 * negative code with ERR. */
typedef struct gn_link {
    void *ctx;
    /* Sends the DATA payload of transfer TASK (IOV, LEN bytes in all) to
     * MACHINE. */
    int (*send)(void *ctx, int32_t machine, uint32_t task, const struct iovec *iov, int niov, size_t len,
                gn_error *err);
    /* Receive the DATA payload of transfer TASK from MACHINE piece by
     * piece, so tensors land straight in the runner's memory: begin waits
     * for it (*LEN: the first frame's bytes), read copies the next N
     * bytes into DST (planrun knows from the plan how many come), end
     * checks that all was read and the checksums. */
    int (*recv_begin)(void *ctx, int32_t machine, uint32_t task, size_t *len, gn_error *err);
    int (*recv_read)(void *ctx, void *dst, size_t n, gn_error *err);
    int (*recv_end)(void *ctx, gn_error *err);
} gn_link;

/* Called before MACHINE touches step STEP for the first time (the client
 * fills the step's inputs there).  0 or a negative code with ERR. */
typedef int (*gn_step_hook)(void *ctx, gn_runner *r, uint32_t step, gn_error *err);

/* What one machine measured for one task: CLOCK_MONOTONIC nanoseconds;
 * 0 and 0 where the task did not concern the machine. */
typedef struct gn_task_time {
    int64_t start_ns;
    int64_t end_ns;
    int64_t cpu_ns;   /* transfers: CPU time of the calling thread (waits excluded); compute: 0 */
} gn_task_time;

/* The most bytes a transfer may carry beyond its tensors (its metadata). */
#define GN_PLANRUN_MAX_META (64u << 20)

/*
 * Checks that P can run for real on SESSION: every compute task names a
 * node of its step, every item a tensor of the transfer's own step, whose
 * sizes add up to at most the transfer's bytes, with at most
 * GN_PLANRUN_MAX_META bytes beyond them; devices have machines in
 * [-1, NODES); no machine's steps go backwards; and no step has two leaf
 * tensors of one state storage.  0 or GN_EINVAL / GN_EUNSUPPORTED with
 * ERR naming the task or step.
 */
int gn_planrun_check(const gn_plan *p, const gn_session *s, uint32_t nodes, gn_error *err);

/*
 * Runs MACHINE's share of P (checked) on R, reaching other machines
 * through LINK; HOOK (may be NULL) with HCTX before each new step.
 * TIMES (gn_plan_ntasks entries, may be NULL) receives what this machine
 * measured.  Returns 0, or the first failure's code with ERR naming the
 * task ("task 12 (upload x): ...").
 */
int gn_planrun(const gn_plan *p, gn_runner *r, int32_t machine, const gn_link *link, gn_step_hook hook,
               void *hctx, gn_task_time *times, gn_error *err);

/* The task id a DATA payload of LEN bytes names, or -1 when it is too
 * short to name one. */
int64_t gn_planrun_payload_task(const void *payload, size_t len);

/* CLOCK_MONOTONIC now, in nanoseconds. */
int64_t gn_now_ns(void);

/* The calling thread's CPU time, in nanoseconds. */
int64_t gn_thread_cpu_ns(void);

#endif /* GN_PLANRUN_H */
