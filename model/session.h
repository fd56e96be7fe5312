/*
 * session.h — a session: the ordered steps an application ran, and the
 * persistent storages (weights, KV cache) that live across them.
 *
 * The session owns its step graphs and the storage-name table they share,
 * so a storage id means the same weights or the same KV cache in every
 * step.  This is where cross-step semantics live: a param storage is the
 * same bytes in every step; a state storage is a chain of versions.
 */
#ifndef GN_SESSION_H
#define GN_SESSION_H

#include <jansson.h>
#include <stdint.h>

#include "error.h"
#include "graph.h"

typedef struct gn_session gn_session;

/* Returns a new empty session named NAME (copied; caller owns, free with
 * gn_session_destroy), or NULL when out of memory. */
gn_session *gn_session_create(const char *name);

/* Frees S and all its steps; NULL is a no-op. */
void gn_session_destroy(gn_session *s);

/* Appends a step and returns its graph (borrowed: owned by S), or NULL
 * when out of memory.  LABEL may be NULL. */
gn_graph *gn_session_add_step(gn_session *s, gn_phase phase,
                              const char *label);

uint32_t gn_session_nsteps(const gn_session *s);
gn_graph *gn_session_step(const gn_session *s, uint32_t i); /* borrowed */
const char *gn_session_name(const gn_session *s);           /* borrowed */
const char *gn_session_source(const gn_session *s);         /* may be NULL */
json_t *gn_session_model(const gn_session *s);              /* borrowed; may be NULL */
gn_strtab *gn_session_storages(const gn_session *s);        /* borrowed */

/* Sets the producer description (copied).  0 or GN_ENOMEM. */
int gn_session_set_source(gn_session *s, const char *source);

/* Sets the free-form model description; steals MODEL. */
void gn_session_set_model(gn_session *s, json_t *model);

/*
 * Finalizes every step (gn_graph_finalize) and checks cross-step
 * consistency: a param storage has the same dtype and size in every step.
 * Returns 0 or a negative code with ERR naming "steps[i]...: ...".
 */
int gn_session_finalize(gn_session *s, gn_error *err);

/* Totals over all steps, for reports and tests. */
double gn_session_total_flops(const gn_session *s);

/* Bytes of distinct param storages (each counted once). */
uint64_t gn_session_param_bytes(const gn_session *s);

/* Elements of distinct param storages (each counted once). */
uint64_t gn_session_param_count(const gn_session *s);

#endif /* GN_SESSION_H */
