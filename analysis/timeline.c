/*
 * timeline.c — one run's events as a Chrome trace (see timeline.h).
 */
#include "timeline.h"

#include <jansson.h>
#include <string.h>

/* The machine a resource belongs to: "node0" of "node0.gpu0" or of
 * "node0->client"; the first name of a link. */
static void machine_of(const char *res, char *out, size_t cap)
{
    size_t n = strcspn(res, ".-");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, res, n);
    out[n] = '\0';
}

int gn_timeline_write(sqlite3 *db, int64_t run, FILE *out, gn_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT e.task, e.step, e.kind, e.resource, e.start_s, e.end_s, e.bytes, e.flops, e.network,"
                           " e.label, r.backend, r.workload, r.strategy FROM events_named e JOIN runs r ON r.id = e.run_id"
                           " WHERE e.run_id = ? ORDER BY e.task",
                           -1, &st, NULL) != SQLITE_OK)
        return gn_error_set(err, GN_EDB, "timeline: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, run);
    json_t *events = json_array(), *pids = json_object(), *tids = json_object();
    json_t *doc = json_pack("{s:o,s:s}", "traceEvents", events, "displayTimeUnit", "ns");
    int n = 0, rc = 0;
    char title[256] = "";
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        const char *res = (const char *)sqlite3_column_text(st, 3);
        char mach[64];
        machine_of(res, mach, sizeof(mach));
        json_t *pid = json_object_get(pids, mach), *tid = json_object_get(tids, res);
        if (!pid) {
            pid = json_integer((json_int_t)json_object_size(pids) + 1);
            json_object_set_new(pids, mach, pid);
            json_array_append_new(events, json_pack("{s:s,s:s,s:O,s:{s:s}}", "ph", "M", "name", "process_name", "pid",
                                                    pid, "args", "name", mach));
        }
        if (!tid) {
            tid = json_integer((json_int_t)json_object_size(tids) + 1);
            json_object_set_new(tids, res, tid);
            json_array_append_new(events, json_pack("{s:s,s:s,s:O,s:O,s:{s:s}}", "ph", "M", "name", "thread_name",
                                                    "pid", pid, "tid", tid, "args", "name", res));
        }
        double s = sqlite3_column_double(st, 4), e = sqlite3_column_double(st, 5);
        json_t *ev = json_pack("{s:s,s:s,s:s,s:f,s:f,s:O,s:O,s:{s:i,s:i,s:f,s:f,s:b}}", "name",
                               (const char *)sqlite3_column_text(st, 9), "cat",
                               (const char *)sqlite3_column_text(st, 2), "ph", "X", "ts", s * 1e6, "dur",
                               (e - s) * 1e6, "pid", pid, "tid", tid, "args", "task", sqlite3_column_int(st, 0),
                               "step", sqlite3_column_int(st, 1), "bytes", sqlite3_column_double(st, 6), "flops",
                               sqlite3_column_double(st, 7), "network", sqlite3_column_int(st, 8));
        if (!ev || json_array_append_new(events, ev) < 0)
            rc = gn_error_set(err, GN_ENOMEM, "timeline: out of memory");
        if (n++ == 0)
            snprintf(title, sizeof(title), "%s: %s / %s", (const char *)sqlite3_column_text(st, 10),
                     (const char *)sqlite3_column_text(st, 11), (const char *)sqlite3_column_text(st, 12));
    }
    sqlite3_finalize(st);
    if (rc == 0 && n == 0)
        rc = gn_error_set(err, GN_ENOTFOUND, "timeline: run %lld has no events (no such run, or it failed)",
                          (long long)run);
    if (rc == 0) {
        json_object_set_new(doc, "otherData", json_pack("{s:s,s:I}", "run", title, "run_id", (json_int_t)run));
        if (json_dumpf(doc, out, JSON_COMPACT) < 0)
            rc = gn_error_set(err, GN_EIO, "timeline: write failed");
    }
    json_decref(doc);
    json_decref(pids);
    json_decref(tids);
    return rc;
}
