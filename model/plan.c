/*
 * plan.c — plan container (see plan.h).
 */
#include "plan.h"

#include "grow.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "strtab.h"

struct gn_plan {
    char *strategy;        /* owned */
    gn_strtab *strings;    /* labels and device names */
    gn_device *devices;
    uint32_t ndevices, capdevices;
    gn_task *tasks;
    uint32_t ntasks, captasks;
    int32_t *deps;
    uint32_t ndeps, capdeps;
    gn_item *items;
    uint32_t nitems, capitems;
    gn_residency *res;
    uint32_t nres, capres;
    uint32_t nsteps;
};

gn_plan *gn_plan_create(const char *strategy)
{
    gn_plan *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->strategy = strdup(strategy);
    p->strings = gn_strtab_create();
    if (!p->strategy || !p->strings) {
        gn_plan_destroy(p);
        return NULL;
    }
    return p;
}

void gn_plan_destroy(gn_plan *p)
{
    if (!p)
        return;
    free(p->strategy);
    gn_strtab_destroy(p->strings);
    free(p->devices);
    free(p->tasks);
    free(p->deps);
    free(p->items);
    free(p->res);
    free(p);
}

static const char *intern(gn_plan *p, const char *s)
{
    int32_t id = gn_strtab_intern(p->strings, s ? s : "");
    return id < 0 ? NULL : gn_strtab_str(p->strings, id);
}

int gn_plan_add_device(gn_plan *p, const char *name, int is_gpu, int machine)
{
    if (gn__grow((void **)&p->devices, &p->capdevices, p->ndevices + 1, sizeof(*p->devices)) < 0)
        return GN_ENOMEM;
    const char *n = intern(p, name);
    if (!n)
        return GN_ENOMEM;
    p->devices[p->ndevices] = (gn_device){n, is_gpu, machine};
    return (int)p->ndevices++;
}

static int add_task(gn_plan *p, const gn_task *t, const int32_t *deps,
                    uint32_t ndeps)
{
    uint32_t id = p->ntasks;
    for (uint32_t i = 0; i < ndeps; i++)
        if (deps[i] < 0 || (uint32_t)deps[i] >= id)
            return GN_EINVAL;
    if (gn__grow((void **)&p->tasks, &p->captasks, id + 1, sizeof(*p->tasks)) < 0 ||
        gn__grow((void **)&p->deps, &p->capdeps, p->ndeps + ndeps, sizeof(*p->deps)) < 0)
        return GN_ENOMEM;
    const char *label = intern(p, t->label);
    if (!label)
        return GN_ENOMEM;
    gn_task *nt = &p->tasks[id];
    *nt = *t;
    nt->label = label;
    nt->dep_off = p->ndeps;
    nt->ndeps = 0;
    nt->item_off = 0;
    nt->nitems = 0;
    for (uint32_t i = 0; i < ndeps; i++) {
        int dup = 0;
        for (uint32_t k = 0; k < nt->ndeps && !dup; k++)
            dup = p->deps[nt->dep_off + k] == deps[i];
        if (!dup)
            p->deps[nt->dep_off + nt->ndeps++] = deps[i];
    }
    p->ndeps += nt->ndeps;
    if (t->step + 1 > p->nsteps)
        p->nsteps = t->step + 1;
    p->ntasks++;
    return (int)id;
}

static int valid_device(const gn_plan *p, int32_t d)
{
    return d >= 0 && (uint32_t)d < p->ndevices;
}

int gn_plan_add_compute(gn_plan *p, uint32_t step, int32_t device,
                        int32_t issuer, double issue_s, double seconds,
                        double flops, double bytes, int32_t node,
                        const char *label, const int32_t *deps,
                        uint32_t ndeps)
{
    if (!valid_device(p, device) || (issuer >= 0 && !valid_device(p, issuer)) ||
        !(seconds >= 0) || !(issue_s >= 0))
        return GN_EINVAL;
    gn_task t = {GN_TASK_COMPUTE, step, device, -1, issuer, issue_s, seconds,
                 flops, bytes, node, label, 0, 0, 0, 0};
    return add_task(p, &t, deps, ndeps);
}

int gn_plan_add_transfer(gn_plan *p, uint32_t step, int32_t src,
                         int32_t dst, int32_t issuer, double issue_s,
                         double seconds, double bytes, const char *label,
                         const int32_t *deps, uint32_t ndeps)
{
    if (!valid_device(p, src) || !valid_device(p, dst) || src == dst ||
        (issuer >= 0 && !valid_device(p, issuer)) || !(bytes >= 0) || !(issue_s >= 0))
        return GN_EINVAL;
    gn_task t = {GN_TASK_TRANSFER, step, src, dst, issuer, issue_s, seconds,
                 0, bytes, -1, label, 0, 0, 0, 0};
    return add_task(p, &t, deps, ndeps);
}

int gn_plan_set_items(gn_plan *p, uint32_t task, const gn_item *items, uint32_t n)
{
    if (task >= p->ntasks || p->tasks[task].kind != GN_TASK_TRANSFER)
        return GN_EINVAL;
    if (n > 0 && gn__grow((void **)&p->items, &p->capitems, p->nitems + n, sizeof(*p->items)) < 0)
        return GN_ENOMEM;
    if (n > 0)
        memcpy(p->items + p->nitems, items, n * sizeof(*items));
    p->tasks[task].item_off = p->nitems;
    p->tasks[task].nitems = n;
    p->nitems += n;
    return 0;
}

const gn_item *gn_plan_items(const gn_plan *p, uint32_t id)
{
    assert(id < p->ntasks);
    return p->tasks[id].nitems ? p->items + p->tasks[id].item_off : NULL;
}

int gn_plan_add_residency(gn_plan *p, int32_t storage, int32_t device,
                          uint32_t from_step, double bytes, const char *why)
{
    if (gn__grow((void **)&p->res, &p->capres, p->nres + 1, sizeof(*p->res)) < 0)
        return GN_ENOMEM;
    p->res[p->nres++] = (gn_residency){storage, device, from_step, bytes, why};
    return 0;
}

const char *gn_plan_strategy(const gn_plan *p) { return p->strategy; }
uint32_t gn_plan_ndevices(const gn_plan *p) { return p->ndevices; }
uint32_t gn_plan_ntasks(const gn_plan *p) { return p->ntasks; }
uint32_t gn_plan_nresidency(const gn_plan *p) { return p->nres; }
uint32_t gn_plan_nsteps(const gn_plan *p) { return p->nsteps; }

const gn_device *gn_plan_device(const gn_plan *p, uint32_t id)
{
    assert(id < p->ndevices);
    return &p->devices[id];
}

const gn_task *gn_plan_task(const gn_plan *p, uint32_t id)
{
    assert(id < p->ntasks);
    return &p->tasks[id];
}

const int32_t *gn_plan_deps(const gn_plan *p, uint32_t id)
{
    assert(id < p->ntasks);
    return p->deps + p->tasks[id].dep_off;
}

const gn_residency *gn_plan_residency(const gn_plan *p, uint32_t i)
{
    assert(i < p->nres);
    return &p->res[i];
}

int gn_plan_is_network(const gn_plan *p, int32_t a, int32_t b)
{
    return gn_plan_device(p, (uint32_t)a)->machine != gn_plan_device(p, (uint32_t)b)->machine;
}
