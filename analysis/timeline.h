/*
 * timeline.h — one run's events as a Chrome trace (DESIGN.md: "timeline
 * (Chrome trace JSON)"), for chrome://tracing or https://ui.perfetto.dev.
 *
 * Every event of the run becomes a complete event ("ph": "X") on a track
 * per resource: a device's compute tasks on the device's track, a
 * transfer on its link's track ("client->node0"); a process per machine
 * (the part of the resource name before the first '.' or "->").  Times
 * in microseconds from the run's start; args carry the step, the bytes,
 * the FLOPs and whether the transfer crossed the network.
 */
#ifndef GN_TIMELINE_H
#define GN_TIMELINE_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

/* Writes run RUN of DB to OUT as Chrome trace JSON.  0, GN_ENOTFOUND (no
 * such run, or it has no events), GN_EDB or GN_ENOMEM with ERR. */
int gn_timeline_write(sqlite3 *db, int64_t run, FILE *out, gn_error *err);

#endif /* GN_TIMELINE_H */
