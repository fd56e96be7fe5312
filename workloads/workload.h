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

#include "error.h"
#include "session.h"

/*
 * Builds the session of workload OBJ (borrowed).  FILE and PATH name it
 * in errors.  Returns a new finalized session (caller owns) or NULL with
 * ERR filled.  Writes a short label ("gpt2-medium") into LABEL.
 */
gn_session *gn_workload_build(const json_t *obj, const char *file,
                              const char *path, char *label, size_t len,
                              gn_error *err);

#endif /* GN_WORKLOAD_H */
