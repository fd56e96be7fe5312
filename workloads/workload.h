/*
 * workload.h — builds a session from an experiment's workload object.
 *
 * Families: "llm" (workloads/llm.h: {"family": "llm", "model": PRESET,
 * "batch", "prompt", "decode", "dtype", ...}), "vision" (vision.h),
 * "recsys" (recsys.h), "vqa" (vqa.h), and "trace" (a recorded SRG trace:
 * {"family": "trace", "path": "traces/x.json"}, relative paths resolved
 * against the experiment file's folder, then the working folder).
 */
#ifndef GN_WORKLOAD_H
#define GN_WORKLOAD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "op.h"
#include "session.h"

/*
 * Builds the session of workload OBJ (borrowed).  FILE and PATH name it
 * in errors.  Returns a new finalized session (caller owns) or NULL with
 * ERR filled.  Writes a short label ("gpt2-medium") into LABEL.
 */
gn_session *gn_workload_build(const json_t *obj, const char *file,
                              const char *path, char *label, size_t len,
                              gn_error *err);

/* ======== cross-file internals shared by the generators' config parsers ======== */

/* A uint32 config field settable from a workload object. */
typedef struct gn__field {
    const char *key;  /* JSON key */
    size_t off;       /* offset of the uint32_t field in the config struct */
    uint32_t lo, hi;  /* accepted range */
} gn__field;

/*
 * Handles the keys every workload object shares: skips "model", "family"
 * and "name"; parses "dtype" (f32, f16 or bf16) into *DTYPE; sets a key of
 * FIELDS (N entries) into the struct at CFG.  Returns 1 when KEY was
 * handled, 0 when it is none of those (the caller handles its own keys or
 * reports it unknown), or GN_ESCHEMA with ERR ("file: path.key: ...").
 */
int gn__workload_key(const char *key, const json_t *val, const gn__field *fields,
                     size_t n, void *cfg, gn_dtype *dtype, const char *file,
                     const char *path, gn_error *err);

#endif /* GN_WORKLOAD_H */
