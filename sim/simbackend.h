/*
 * simbackend.h — the SimGrid backend: runs a plan on a simulated platform.
 *
 * The platform is turned into a SimGrid platform (hosts for the client,
 * each node's CPU and each GPU; full-duplex NIC links through one switch,
 * PCIe and NVLink inside machines) and the plan's DAG is run with actors:
 *
 *   - one issuer actor per CPU device: launches compute tasks and sends
 *     transfers in plan order, spending each task's issue time;
 *   - one stream actor per compute device: runs its compute tasks in plan
 *     order once issued and their dependencies are done;
 *   - one pump actor per transfer source: puts each transfer on the
 *     mailbox of its (source, destination) pair once issued and ready;
 *   - one receiver actor per pair: receives in order (eager, RDMA-like
 *     pushes: the mailbox has a permanent receiver).
 *
 * Network model: CM02 with TCP-gamma 0, latency and bandwidth factors 1
 * and no cross-traffic, so a lone transfer of S bytes over a route of
 * latency L and bandwidth B takes exactly L + S/B, concurrent flows share
 * links max-min fairly.  Compute tasks take exactly their planned time.
 *
 * SimGrid holds one simulation per process: gn_sim_run() may be called
 * only once per process (genie-sim forks a child per sweep point).
 */
#ifndef GN_SIMBACKEND_H
#define GN_SIMBACKEND_H

#include "error.h"
#include "plan.h"
#include "platform.h"

/*
 * Runs PLAN on PF.  Fills START[i] and END[i] (arrays of
 * gn_plan_ntasks(PLAN) entries, caller-owned) with each task's simulated
 * start and end, in seconds; for a compute task start is when the device
 * begins it, for a transfer when its bytes start to move.  Returns 0, or
 * GN_EBACKEND / GN_EIO with ERR filled.  Call once per process.
 */
int gn_sim_run(const gn_plan *plan, const gn_platform *pf, double *start,
               double *end, gn_error *err);

/*
 * A simulation running in a child process, so that a parent can run many
 * (one per sweep point) and several at once.  gn_sim_start forks a child
 * that calls gn_sim_run and writes the times to a temporary file; returns
 * a new job (caller owns; gn_sim_finish frees it) or NULL with ERR.
 */
typedef struct gn_sim_job gn_sim_job;
gn_sim_job *gn_sim_start(const gn_plan *plan, const gn_platform *pf,
                         gn_error *err);

/* Process id of JOB's child (to match waitpid results). */
int gn_sim_job_pid(const gn_sim_job *job);

/*
 * Waits for JOB (unless STATUS >= 0 gives its already-reaped wait status),
 * fills START/END as gn_sim_run does, frees JOB.  0 or a negative code
 * with ERR (the child's own error when it failed).
 */
int gn_sim_finish(gn_sim_job *job, int status, double *start, double *end,
                  gn_error *err);

/*
 * Writes the SimGrid platform XML of PF to PATH (for inspection, and used
 * by gn_sim_run).  0 or GN_EIO.
 */
int gn_sim_write_platform(const gn_platform *pf, const char *path,
                          gn_error *err);

#endif /* GN_SIMBACKEND_H */
