/*
 * plan.h — the plan: what runs where, what moves, what stays (DESIGN.md).
 *
 * A plan is a DAG of tasks over the devices of a platform, covering every
 * step of a session (steps are marked on each task; dependencies may cross
 * steps, e.g. the next decode step waits for the token the client read).
 *
 *  - compute task: an op (or a fused group) on one device, with an
 *    estimated duration, and the host CPU that launches it (`issuer`,
 *    paying `issue_s` before the device may start it);
 *  - transfer task: bytes from one device to another, sent by `issuer`
 *    after `issue_s` of sender-side CPU work (marshalling, a remote call).
 *
 * Dependencies always point to earlier tasks, so task order is a
 * topological order and every backend can run the plan in one pass.  Each
 * backend keeps per-device order: compute tasks of one device run in plan
 * order (a stream), transfers of one (src, dst) pair arrive in plan order.
 * Residency records which storages stay on which device across steps.
 *
 * A plan never says which backend will run it (sim/ or real/).
 */
#ifndef GN_PLAN_H
#define GN_PLAN_H

#include <stdint.h>

#include "error.h"

typedef enum gn_task_kind { GN_TASK_COMPUTE = 0, GN_TASK_TRANSFER = 1 } gn_task_kind;

typedef struct gn_device {
    const char *name;    /* platform host name: client, client.gpu0, node0, node0.gpu0 */
    int is_gpu;          /* accelerator (1) or host CPU (0) */
    int machine;         /* -1 for the client machine, node index otherwise */
} gn_device;

typedef struct gn_task {
    gn_task_kind kind;   /* compute or transfer */
    uint32_t step;       /* session step this task belongs to */
    int32_t device;      /* compute: device running it; transfer: source device */
    int32_t dst;         /* transfer: destination device; compute: -1 */
    int32_t issuer;      /* CPU device that issues it, -1 for none */
    double issue_s;      /* CPU time the issuer spends before the task may start, s */
    double seconds;      /* estimated duration (compute: execution; transfer: L + S/B), s */
    double flops;        /* compute: FLOPs; transfer: 0 */
    double bytes;        /* transfer: payload bytes; compute: memory bytes touched */
    int32_t node;        /* compute: node id within its step's graph, -1 for none */
    const char *label;   /* what it is ("matmul transformer.h.0.attn", "request"), borrowed from the plan */
    uint32_t dep_off;    /* private: offset into the plan's dependency array */
    uint32_t ndeps;      /* number of dependencies */
    uint32_t item_off;   /* private: offset into the plan's item array */
    uint32_t nitems;     /* transfer: number of tensors it carries (gn_plan_items) */
} gn_task;

/*
 * A tensor a transfer carries: tensor TENSOR of step STEP's graph.  A
 * param or state tensor stands for (the current version of) its storage.
 * A transfer's bytes are its items' bytes plus metadata (headers, call
 * arguments, graph descriptions) that carries no tensor; a transfer with
 * no items carries metadata only.  The real backend moves exactly these
 * tensors, so a plan that forgets one fails there instead of computing
 * on stale data.
 */
typedef struct gn_item {
    uint32_t step;
    uint32_t tensor;
} gn_item;

typedef struct gn_residency {
    int32_t storage;     /* session storage id */
    int32_t device;      /* device holding it */
    uint32_t from_step;  /* resident from this step on */
    double bytes;        /* largest size it reaches, bytes */
    const char *why;     /* "weights", "kv-cache", ... (static string) */
} gn_residency;

typedef struct gn_plan gn_plan;

/* Returns a new empty plan made by strategy STRATEGY (copied), or NULL when
 * out of memory.  Caller owns it: gn_plan_destroy. */
gn_plan *gn_plan_create(const char *strategy);

/* Frees P; NULL is a no-op. */
void gn_plan_destroy(gn_plan *p);

/* Adds a device and returns its id, or GN_ENOMEM. */
int gn_plan_add_device(gn_plan *p, const char *name, int is_gpu, int machine);

/*
 * Appends a compute task and returns its id, or GN_EINVAL (a dependency
 * not earlier than the task, a bad device) / GN_ENOMEM.  LABEL is copied
 * (interned).  DEPS is copied; repeated ids are kept once.
 */
int gn_plan_add_compute(gn_plan *p, uint32_t step, int32_t device,
                        int32_t issuer, double issue_s, double seconds,
                        double flops, double bytes, int32_t node,
                        const char *label, const int32_t *deps,
                        uint32_t ndeps);

/* Appends a transfer task; as gn_plan_add_compute. */
int gn_plan_add_transfer(gn_plan *p, uint32_t step, int32_t src,
                         int32_t dst, int32_t issuer, double issue_s,
                         double seconds, double bytes, const char *label,
                         const int32_t *deps, uint32_t ndeps);

/*
 * Sets the tensors transfer TASK carries (N items copied from ITEMS;
 * replaces an earlier list).  0, or GN_EINVAL (TASK is not a transfer),
 * GN_ENOMEM.
 */
int gn_plan_set_items(gn_plan *p, uint32_t task, const gn_item *items, uint32_t n);

/* The items of task ID (its nitems of them; NULL when none). */
const gn_item *gn_plan_items(const gn_plan *p, uint32_t id);

/* Records a residency decision.  0 or GN_ENOMEM. */
int gn_plan_add_residency(gn_plan *p, int32_t storage, int32_t device,
                          uint32_t from_step, double bytes, const char *why);

const char *gn_plan_strategy(const gn_plan *p);
uint32_t gn_plan_ndevices(const gn_plan *p);
uint32_t gn_plan_ntasks(const gn_plan *p);
uint32_t gn_plan_nresidency(const gn_plan *p);
const gn_device *gn_plan_device(const gn_plan *p, uint32_t id);
const gn_task *gn_plan_task(const gn_plan *p, uint32_t id);
const int32_t *gn_plan_deps(const gn_plan *p, uint32_t id);
const gn_residency *gn_plan_residency(const gn_plan *p, uint32_t i);

/* Whether a transfer between devices A and B crosses the network (the two
 * devices are on different machines). */
int gn_plan_is_network(const gn_plan *p, int32_t a, int32_t b);

/* Number of steps covered (1 + the largest task step; 0 when empty). */
uint32_t gn_plan_nsteps(const gn_plan *p);

#endif /* GN_PLAN_H */
