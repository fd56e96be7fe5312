/*
 * session.c — steps and persistent storages of a session (see session.h).
 */
#include "session.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct gn_session {
    char *name;          /* owned */
    char *source;        /* owned; may be NULL */
    json_t *model;       /* owned reference; may be NULL */
    gn_strtab *storages; /* storage identities shared by all steps */
    gn_graph **steps;    /* owned */
    uint32_t nsteps, capsteps;
};

gn_session *gn_session_create(const char *name)
{
    gn_session *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->name = strdup(name ? name : "");
    s->storages = gn_strtab_create();
    if (!s->name || !s->storages) {
        gn_session_destroy(s);
        return NULL;
    }
    return s;
}

void gn_session_destroy(gn_session *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->nsteps; i++)
        gn_graph_destroy(s->steps[i]);
    free(s->steps);
    gn_strtab_destroy(s->storages);
    json_decref(s->model);
    free(s->name);
    free(s->source);
    free(s);
}

gn_graph *gn_session_add_step(gn_session *s, gn_phase phase,
                              const char *label)
{
    if (s->nsteps == s->capsteps) {
        uint32_t cap = s->capsteps ? s->capsteps * 2 : 8;
        gn_graph **p = realloc(s->steps, cap * sizeof(*p));
        if (!p)
            return NULL;
        s->steps = p;
        s->capsteps = cap;
    }
    gn_graph *g = gn_graph_create(s->storages, phase, label);
    if (g)
        s->steps[s->nsteps++] = g;
    return g;
}

uint32_t gn_session_nsteps(const gn_session *s) { return s->nsteps; }
const char *gn_session_name(const gn_session *s) { return s->name; }
const char *gn_session_source(const gn_session *s) { return s->source; }
json_t *gn_session_model(const gn_session *s) { return s->model; }
gn_strtab *gn_session_storages(const gn_session *s) { return s->storages; }

gn_graph *gn_session_step(const gn_session *s, uint32_t i)
{
    assert(i < s->nsteps);
    return s->steps[i];
}

int gn_session_set_source(gn_session *s, const char *source)
{
    char *d = strdup(source);
    if (!d)
        return GN_ENOMEM;
    free(s->source);
    s->source = d;
    return 0;
}

void gn_session_set_model(gn_session *s, json_t *model)
{
    json_decref(s->model);
    s->model = model;
}

int gn_session_finalize(gn_session *s, gn_error *err)
{
    uint32_t nst = gn_strtab_count(s->storages);
    /* first sighting of each param storage: step, tensor */
    int64_t *seen = malloc(((size_t)nst + 1) * sizeof(*seen));
    if (!seen)
        return gn_error_set(err, GN_ENOMEM, "session: out of memory");
    for (uint32_t i = 0; i < nst; i++)
        seen[i] = -1;
    int rc = 0;
    for (uint32_t st = 0; st < s->nsteps && rc == 0; st++) {
        gn_graph *g = s->steps[st];
        gn_error sub;
        rc = gn_graph_finalize(g, &sub);
        if (rc < 0) {
            gn_error_set(err, rc, "steps[%u].%s", st, sub.msg);
            break;
        }
        for (uint32_t t = 0; t < gn_graph_ntensors(g); t++) {
            const gn_tensor *x = gn_graph_tensor(g, t);
            if (x->kind != GN_KIND_PARAM)
                continue;
            if (seen[x->storage] < 0) {
                seen[x->storage] = ((int64_t)st << 32) | t;
                continue;
            }
            const gn_tensor *first = gn_graph_tensor(
                s->steps[seen[x->storage] >> 32],
                (uint32_t)(seen[x->storage] & 0xffffffff));
            if (first->bytes != x->bytes || first->dtype != x->dtype) {
                rc = gn_error_set(err, GN_ESCHEMA,
                                  "steps[%u].tensors[%u].storage: param storage \"%s\" has %llu bytes of %s here but %llu bytes of %s in steps[%lld]",
                                  st, t, gn_strtab_str(s->storages, x->storage),
                                  (unsigned long long)x->bytes, gn_dtype_name(x->dtype),
                                  (unsigned long long)first->bytes, gn_dtype_name(first->dtype),
                                  (long long)(seen[x->storage] >> 32));
                break;
            }
        }
    }
    free(seen);
    return rc;
}

double gn_session_total_flops(const gn_session *s)
{
    double f = 0;
    for (uint32_t i = 0; i < s->nsteps; i++)
        f += gn_graph_total_flops(s->steps[i]);
    return f;
}

/* Visits each distinct param storage once; returns bytes or elements. */
static uint64_t param_total(const gn_session *s, int count_elements)
{
    uint32_t nst = gn_strtab_count(s->storages);
    unsigned char *seen = calloc((size_t)nst + 1, 1);
    uint64_t total = 0;
    if (!seen)
        return 0;
    for (uint32_t st = 0; st < s->nsteps; st++) {
        const gn_graph *g = s->steps[st];
        for (uint32_t t = 0; t < gn_graph_ntensors(g); t++) {
            const gn_tensor *x = gn_graph_tensor(g, t);
            if (x->kind != GN_KIND_PARAM || seen[x->storage])
                continue;
            seen[x->storage] = 1;
            total += count_elements ? x->bytes / gn_dtype_size(x->dtype) : x->bytes;
        }
    }
    free(seen);
    return total;
}

uint64_t gn_session_param_bytes(const gn_session *s) { return param_total(s, 0); }
uint64_t gn_session_param_count(const gn_session *s) { return param_total(s, 1); }
