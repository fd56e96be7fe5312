/*
 * calibrate.h — measures this machine for the simulator (issue 4).
 *
 * `genie-real --calibrate` describes the real backend as a platform the
 * simulator understands (model/platform.h), so that genie-sim run with
 * that platform predicts genie-real:
 *
 *   executor   the given sessions' local plans run through planrun (the
 *              real backend's own path), a warm-up and five timed runs
 *              (or one before each round of genie-real's repeats:
 *              gn_calib_exec below); from each task's fastest run (load
 *              only adds time; or its median),
 *              per op class a fixed time (the class's fastest op plus
 *              planrun's median gap between ops, paid in series on a
 *              CPU) and a least-squares fit of the rest as flops / F +
 *              bytes / B (GEMVs of a decode step and GEMMs of a prefill
 *              do not share one FLOP rate), and the same per function
 *              of an op where nodes name one (a relu and a gelu cost
 *              differently per FLOP); and each distinct signature
 *              (op, fn, FLOPs, bytes) with its median time, which the
 *              simulator uses for a node of that very signature (fits
 *              miss shape-dependent efficiency: a 7x7 stem convolution
 *              against 3x3 ones) — the fits serve every other op;
 *   memory     bytes/s of a large copy (ops without a fit; a host copy
 *              in the real backend is two of them: out to host memory
 *              and back into a step buffer the executor zeroed when it
 *              allocated it), and, for the record, of a copy into
 *              never-touched memory (page faults: slow in VMs);
 *   network    the link to a genie-node, through the node: it echoes
 *              PING frames (real/PROTOCOL.md), so the figures include
 *              its framing, checksums and wake-ups: one-way latency
 *              (median round trip of small pings / 2, less the
 *              sender's CPU), bandwidth each way (8 MB pings, which
 *              cross twice), and the sender's CPU time per message.
 *              genie-real gives the node the experiment names, or one
 *              it starts on loopback.
 *
 * Node and client run the same executor, so both "GPUs" of the platform
 * are this executor; the node count is 1.
 */
#ifndef GN_CALIBRATE_H
#define GN_CALIBRATE_H

#include <stdio.h>

#include "conn.h"
#include "error.h"
#include "op.h"
#include "platform.h"
#include "session.h"

typedef struct gn_calibration {
    double op_gflops[GN_OP_COUNT]; /* fitted FLOP term, GFLOP/s; 0: none */
    double op_gbs[GN_OP_COUNT];    /* fitted bytes term, GB/s; 0: none */
    double op_fixed_us[GN_OP_COUNT]; /* fixed time per op: the class's floor + planrun's gap */
    struct {
        int op;
        char fn[24];
        double gflops, gbs, fixed_us; /* as the op's, for one fn of it */
    } fn[GN_MAX_FN_COSTS];
    uint32_t nfn;
    /* s: the median of its ops' fastest runs + planrun's gap */
    struct gn_op_time times[GN_MAX_OP_TIMES];
    uint32_t ntimes;       /* kept (the heaviest, where there are more) */
    uint32_t nsignatures;  /* distinct signatures timed */
    double peak_gflops;            /* best matmul rate */
    double launch_us;              /* planrun's own cost per task (median gap between ops) */
    double memory_gbs;             /* large-copy bandwidth, warm memory */
    double fresh_copy_gbs;         /* the same into never-touched memory */
    double net_gbps;               /* bandwidth to the node, each way, Gb/s */
    double net_latency_us;         /* one-way */
    double msg_overhead_us;        /* sender CPU per message */
} gn_calibration;

/* Times the executor on the ops of the N sessions S (borrowed; e.g. the
 * experiment's own workloads: the op shapes it will run; MEDIAN as
 * gn_calib_exec_create) into *OUT (cleared first), printing progress to
 * LOG (may be NULL); gn_calibrate_rest then adds memory and the network.
 * A caller connects to the node only after this, so that the connection
 * does not sit idle through minutes of passes (genie-node drops clients
 * silent for its --idle-timeout).  0 or a code with ERR. */
int gn_calibrate_exec(gn_session *const *s, uint32_t n, int median, FILE *log, gn_calibration *out, gn_error *err);

/*
 * The executor part alone, in passes that can be spread over other work:
 * genie-real --repeat R --calibrate-out FILE runs one pass before each
 * round of its repeats, so that the calibration and the real runs it is
 * compared with meet the same machine (this VM's speed drifts by tens of
 * per cent within a minute; a calibration taken before the runs
 * predicts the machine of that moment).  A pass runs every session's
 * local plan once; the first is a warm-up; each task keeps its fastest
 * time over the later ones.  gn_calibrate_exec is create, a warm-up and
 * five passes, finish.
 */
typedef struct gn_calib_exec gn_calib_exec;

#define GN_CALIB_MAX_PASSES 64 /* timed passes kept (later ones run, not kept) */

/* A calibrator for the N sessions S (borrowed: they must outlive it),
 * their local plans made; MEDIAN: each task's median time over the
 * passes stands for it, else its fastest.  Owned by the caller
 * (gn_calib_exec_destroy); NULL with ERR. */
gn_calib_exec *gn_calib_exec_create(gn_session *const *s, uint32_t n, int median, gn_error *err);

/* One pass over every session's local plan.  0 or a code with ERR. */
int gn_calib_exec_pass(gn_calib_exec *x, gn_error *err);

/* Timed passes so far (the warm-up not counted). */
int gn_calib_exec_passes(const gn_calib_exec *x);

/* The executor's fields of *OUT (fits, signatures, planrun's gap, best
 * matmul rate) from the passes so far; the other fields are left as
 * they are.  GN_EINVAL with ERR before a timed pass. */
int gn_calib_exec_finish(const gn_calib_exec *x, gn_calibration *out, gn_error *err);

void gn_calib_exec_destroy(gn_calib_exec *x);

/* The rest of a calibration into *OUT: memory copy bandwidth and the
 * network to NODE (borrowed, left open); prints the whole calibration's
 * summary to LOG (may be NULL).  0 or a code with ERR. */
int gn_calibrate_rest(gn_conn *node, FILE *log, gn_calibration *out, gn_error *err);

/* Writes *C as a platform file (the experiment "platform" object).  0 or
 * GN_EIO with ERR. */
int gn_calibration_save(const gn_calibration *c, const char *path, gn_error *err);

#endif /* GN_CALIBRATE_H */
