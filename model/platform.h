/*
 * platform.h — the hardware a plan runs on: the client, remote nodes with
 * GPUs, and the network between them (DESIGN.md, "Platform").
 *
 * Units are SI throughout: FLOP/s, bytes/s, bytes, seconds.  The network is
 * given in the experiment file in Gb/s and microseconds and converted on
 * load.  Presets name real hardware classes (h100, a100; 25g..400g) so an
 * experiment file states only what differs.
 */
#ifndef GN_PLATFORM_H
#define GN_PLATFORM_H

#include <jansson.h>
#include <stdint.h>

#include "error.h"
#include "op.h"

#define GN_MAX_FN_COSTS 48
#define GN_MAX_OP_TIMES 256

typedef struct gn_gpu_spec {
    char name[32];          /* preset name, e.g. "h100" */
    double flops_f16;       /* dense tensor-core peak for f16/bf16, FLOP/s */
    double flops_f32;       /* fp32 peak without TF32, FLOP/s */
    double mem_bw;          /* device memory bandwidth, bytes/s */
    double mem_bytes;       /* device memory capacity, bytes */
    double eff_compute;     /* achievable fraction of peak FLOP/s, 0..1 */
    double eff_memory;      /* achievable fraction of memory bandwidth, 0..1 */
    double launch_s;        /* host-side cost to launch one kernel, s */
    /* measured throughput per op, FLOP/s (0: peak x eff_compute); a
     * calibrated device (genie-real --calibrate) fills these, because a
     * real executor is no single roofline */
    double op_flops[GN_OP_COUNT];
    /* with op_flops: the op's time is flops / op_flops + bytes / op_bw
     * (both fitted, additive) instead of the roofline; 0: no bytes term */
    double op_bw[GN_OP_COUNT];
    /* with op_flops or op_bw: a fixed device time per op, s (a CPU
     * executor's per-op cost is serial, not hidden behind the last op) */
    double op_fixed_s[GN_OP_COUNT];
    /* the same three terms for one function of an op ("elementwise" with
     * attr fn "relu"): a relu and a gelu cost differently per FLOP;
     * these win over the op's own terms where the node's fn matches */
    struct gn_fn_cost {
        gn_op op;
        char fn[24];
        double flops, bw, fixed_s; /* FLOP/s, bytes/s (0: no term), s */
    } fn_cost[GN_MAX_FN_COSTS];
    uint32_t nfn_cost;
    /* measured times of exact op signatures (op, fn, FLOPs, bytes): a
     * calibration times the very ops an experiment runs, and where a
     * node matches one this time wins over every fit (a 7x7 stem
     * convolution and a 3x3 one share no FLOP rate); sorted by op,
     * flops, bytes for a binary search */
    struct gn_op_time {
        gn_op op;
        char fn[24];          /* "" when the node names none */
        double flops, bytes;  /* the node's, exactly */
        double s;             /* device time, s */
    } op_time[GN_MAX_OP_TIMES];
    uint32_t nop_time;
} gn_gpu_spec;

typedef struct gn_platform {
    /* client */
    double client_cpu_flops;   /* client CPU throughput for client-side ops, FLOP/s */
    int client_has_gpu;        /* the "local" strategy's GPU is present */
    gn_gpu_spec client_gpu;    /* GPU in the client (local bound) */
    double pcie_bw;            /* host <-> GPU bandwidth, bytes/s */
    double pcie_latency;       /* host <-> GPU latency, s */
    /* remote nodes */
    uint32_t nodes;            /* number of remote nodes */
    uint32_t gpus_per_node;    /* GPUs per node */
    gn_gpu_spec gpu;           /* remote GPU */
    uint32_t node_cpu_cores;   /* CPU cores per node */
    double node_mem_bytes;     /* host memory per node, bytes */
    double nvlink_bw;          /* GPU <-> GPU bandwidth inside a node, bytes/s */
    /* network between the client and each node */
    double net_bw;             /* bytes/s, each direction */
    double net_latency;        /* one-way latency, s */
    double msg_overhead_s;     /* per-message CPU cost at the sender (framing, syscall), s */
} gn_platform;

/* Fills *OUT with the GPU preset NAME ("h100", "a100").  0 or GN_ENOTFOUND. */
int gn_gpu_preset(const char *name, gn_gpu_spec *out);

/* Fills *P with the default platform: one node with one H100, an H100 in
 * the client for the local bound, 100 Gb/s network. */
void gn_platform_default(gn_platform *p);

/*
 * Applies the experiment's "platform" object (borrowed) on top of *P.
 * FILE and PATH (e.g. "$.platform") name the object in error messages.
 * Returns 0 or GN_ESCHEMA with ERR filled; *P is unchanged on error.
 * Fields: client {gpu, cpu_gflops}, node {gpu, gpus, count, cpu_cores,
 * memory_gib}, network {preset, bandwidth_gbps, latency_us,
 * msg_overhead_us}, host_copy {bandwidth_gbps, latency_us} (host <->
 * device copies: PCIe), gpu overrides in client and node
 * {efficiency_compute, efficiency_memory, launch_us, peak_gflops_f32,
 * peak_gflops_f16, memory_gbs, memory_gib (node: host memory; use
 * gpu_memory_gib), op_gflops {OP: GFLOP/s}, op_gbs {OP: GB/s},
 * op_fixed_us {OP: us}, fn_costs {"OP.FN": [GFLOP/s, GB/s, us]},
 * op_times [["OP" or "OP.FN", FLOPs, bytes, us], ...]} (0 for an absent
 * term).
 */
int gn_platform_apply_json(gn_platform *p, const json_t *obj,
                           const char *file, const char *path,
                           gn_error *err);

/* Loads the platform file PATH (a "platform" object of its own, e.g.
 * the output of genie-real --calibrate) and checks it by applying it to
 * the default platform.  Returns the document (the caller owns it: apply
 * it with gn_platform_apply_json, then json_decref) or NULL with ERR:
 * GN_EIO (unreadable, not JSON, with the line) or GN_ESCHEMA. */
json_t *gn_platform_file_load(const char *path, gn_error *err);

/* Orders struct gn_op_time by op, FLOPs, bytes, fn (qsort, bsearch):
 * equal signatures compare 0, whatever their times. */
int gn_op_time_cmp(const void *a, const void *b);

/* The measured time of node N's exact signature on GPU, s; -1 if GPU
 * has none.  FN is the node's attr fn, NULL when none. */
double gn_gpu_op_time(const gn_gpu_spec *gpu, gn_op op, const char *fn, double flops, double bytes);

/* Peak FLOP/s of GPU for element type DT. */
double gn_gpu_peak(const gn_gpu_spec *gpu, gn_dtype dt);

#endif /* GN_PLATFORM_H */
