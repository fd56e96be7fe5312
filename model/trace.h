/*
 * trace.h — reading and writing SRG traces (schema genie.srg, v1.0).
 *
 * The format is documented field by field in traces/SCHEMA.md.  The loader
 * validates everything it reads and reports the first problem as
 * "FILE: JSON-PATH: what was expected" (or "FILE: line L column C: ..." for
 * malformed JSON), so a user can find and fix it.
 */
#ifndef GN_TRACE_H
#define GN_TRACE_H

#include <jansson.h>

#include "error.h"
#include "session.h"

#define GN_TRACE_SCHEMA "genie.srg"
#define GN_TRACE_VERSION "1.0"

/*
 * Loads and validates the trace at PATH.  Returns a new, finalized session
 * (caller owns; gn_session_destroy), or NULL with ERR filled.
 */
gn_session *gn_trace_load(const char *path, gn_error *err);

/*
 * Same, from a parsed document (borrowed).  NAME is used in error messages
 * in place of a file name.
 */
gn_session *gn_trace_from_json(const json_t *doc, const char *name,
                               gn_error *err);

/* Returns a new reference to the JSON form of S, or NULL when out of
 * memory.  S must be finalized. */
json_t *gn_trace_to_json(const gn_session *s);

/* Writes S to PATH (compact when COMPACT is nonzero).  0 or GN_EIO /
 * GN_ENOMEM with ERR filled. */
int gn_trace_save(const gn_session *s, const char *path, int compact,
                  gn_error *err);

#endif /* GN_TRACE_H */
