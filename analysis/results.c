/*
 * results.c — SQLite results store (see results.h, analysis/SCHEMA.md).
 */
#include "results.h"

#include "strtab.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct gn_results {
    sqlite3 *db;
    sqlite3_stmt *run, *event, *metric, *name_ins, *name_get;
    gn_strtab *names;   /* names seen by this process ... */
    int64_t *name_ids;  /* ... and their ids in the names table */
    uint32_t name_cap;
};

static const char *schema_sql =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS experiments("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL, file TEXT, config TEXT,"
    " revision TEXT, command TEXT, created TEXT DEFAULT (datetime('now')));"
    "CREATE TABLE IF NOT EXISTS runs("
    " id INTEGER PRIMARY KEY, experiment_id INTEGER NOT NULL REFERENCES experiments(id),"
    " backend TEXT NOT NULL, workload TEXT NOT NULL, strategy TEXT NOT NULL,"
    " options TEXT, point TEXT, x REAL, status TEXT NOT NULL, error TEXT, wall_s REAL);"
    "CREATE TABLE IF NOT EXISTS names(id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS events("
    " run_id INTEGER NOT NULL REFERENCES runs(id), task INTEGER NOT NULL, step INTEGER NOT NULL,"
    " kind INTEGER NOT NULL, resource INTEGER NOT NULL REFERENCES names(id),"
    " start_s REAL NOT NULL, end_s REAL NOT NULL, bytes REAL NOT NULL, flops REAL NOT NULL,"
    " network INTEGER NOT NULL, label INTEGER NOT NULL REFERENCES names(id),"
    " PRIMARY KEY(run_id, task)) WITHOUT ROWID;"
    "CREATE VIEW IF NOT EXISTS events_named AS SELECT e.run_id, e.task, e.step,"
    " CASE e.kind WHEN 0 THEN 'compute' ELSE 'transfer' END AS kind, r.text AS resource,"
    " e.start_s, e.end_s, e.bytes, e.flops, e.network, l.text AS label"
    " FROM events e JOIN names r ON r.id = e.resource JOIN names l ON l.id = e.label;"
    "CREATE TABLE IF NOT EXISTS metrics("
    " run_id INTEGER NOT NULL REFERENCES runs(id), name TEXT NOT NULL, value REAL, unit TEXT,"
    " PRIMARY KEY(run_id, name));";

static int db_error(gn_results *r, gn_error *err, const char *what)
{
    return gn_error_set(err, GN_EDB, "results database: %s: %s", what, sqlite3_errmsg(r->db));
}

gn_results *gn_results_open(const char *path, gn_error *err)
{
    gn_results *r = calloc(1, sizeof(*r));
    if (!r) {
        gn_error_set(err, GN_ENOMEM, "results: out of memory");
        return NULL;
    }
    if (sqlite3_open(path, &r->db) != SQLITE_OK) {
        gn_error_set(err, GN_EDB, "%s: cannot open the results database: %s", path,
                     r->db ? sqlite3_errmsg(r->db) : "out of memory");
        gn_results_close(r);
        return NULL;
    }
    sqlite3_busy_timeout(r->db, 10000);
    if (sqlite3_exec(r->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db,
                           "INSERT INTO runs(experiment_id, backend, workload, strategy, options, point, x,"
                           " status, error, wall_s) VALUES(?,?,?,?,?,?,?,?,?,?)", -1, &r->run, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db, "INSERT INTO events VALUES(?,?,?,?,?,?,?,?,?,?,?)", -1, &r->event,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db, "INSERT INTO metrics VALUES(?,?,?,?)", -1, &r->metric, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db, "INSERT OR IGNORE INTO names(text) VALUES(?)", -1, &r->name_ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db, "SELECT id FROM names WHERE text = ?", -1, &r->name_get, NULL) != SQLITE_OK ||
        !(r->names = gn_strtab_create())) {
        db_error(r, err, path);
        gn_results_close(r);
        return NULL;
    }
    return r;
}

void gn_results_close(gn_results *r)
{
    if (!r)
        return;
    sqlite3_finalize(r->run);
    sqlite3_finalize(r->event);
    sqlite3_finalize(r->metric);
    sqlite3_finalize(r->name_ins);
    sqlite3_finalize(r->name_get);
    sqlite3_close(r->db);
    gn_strtab_destroy(r->names);
    free(r->name_ids);
    free(r);
}

sqlite3 *gn_results_db(gn_results *r)
{
    return r->db;
}

int64_t gn_results_add_experiment(gn_results *r, const char *name,
                                  const char *file, const char *config,
                                  const char *revision, const char *command,
                                  gn_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(r->db, "INSERT INTO experiments(name, file, config, revision, command)"
                                  " VALUES(?,?,?,?,?)", -1, &st, NULL) != SQLITE_OK)
        return db_error(r, err, "insert experiment");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, file, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, config, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, revision, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, command, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(r, err, "insert experiment");
    return sqlite3_last_insert_rowid(r->db);
}

/* Id of S in the names table, inserted on first use (cached). */
static int64_t name_id(gn_results *r, const char *s)
{
    if (!r->names)
        return -1;
    int32_t i = gn_strtab_find(r->names, s);
    if (i >= 0)
        return r->name_ids[i];
    sqlite3_reset(r->name_ins);
    sqlite3_bind_text(r->name_ins, 1, s, -1, SQLITE_STATIC);
    sqlite3_reset(r->name_get);
    sqlite3_bind_text(r->name_get, 1, s, -1, SQLITE_STATIC);
    if (sqlite3_step(r->name_ins) != SQLITE_DONE || sqlite3_step(r->name_get) != SQLITE_ROW)
        return -1;
    int64_t id = sqlite3_column_int64(r->name_get, 0);
    i = gn_strtab_intern(r->names, s);
    if (i < 0)
        return -1;
    if ((uint32_t)i >= r->name_cap) {
        uint32_t cap = r->name_cap ? r->name_cap * 2 : 256;
        int64_t *ids = realloc(r->name_ids, cap * sizeof(*ids));
        if (!ids)
            return -1;
        r->name_ids = ids;
        r->name_cap = cap;
    }
    r->name_ids[i] = id;
    return id;
}

static int metric(gn_results *r, int64_t run, const char *name, double v, const char *unit)
{
    sqlite3_reset(r->metric);
    sqlite3_bind_int64(r->metric, 1, run);
    sqlite3_bind_text(r->metric, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_double(r->metric, 3, v);
    sqlite3_bind_text(r->metric, 4, unit, -1, SQLITE_STATIC);
    return sqlite3_step(r->metric) == SQLITE_DONE ? 0 : -1;
}

int64_t gn_results_add_run(gn_results *r, const gn_run_info *info,
                           const gn_plan *plan, const double *start,
                           const double *end, const gn_metrics *m,
                           gn_error *err)
{
    if (sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(r, err, "begin");
    sqlite3_reset(r->run);
    sqlite3_bind_int64(r->run, 1, info->experiment);
    sqlite3_bind_text(r->run, 2, info->backend, -1, SQLITE_STATIC);
    sqlite3_bind_text(r->run, 3, info->workload, -1, SQLITE_STATIC);
    sqlite3_bind_text(r->run, 4, info->strategy, -1, SQLITE_STATIC);
    sqlite3_bind_text(r->run, 5, info->options, -1, SQLITE_STATIC);
    sqlite3_bind_text(r->run, 6, info->point, -1, SQLITE_STATIC);
    if (isnan(info->x))
        sqlite3_bind_null(r->run, 7);
    else
        sqlite3_bind_double(r->run, 7, info->x);
    sqlite3_bind_text(r->run, 8, info->error ? "failed" : "ok", -1, SQLITE_STATIC);
    sqlite3_bind_text(r->run, 9, info->error, -1, SQLITE_STATIC);
    sqlite3_bind_double(r->run, 10, info->wall_s);
    if (sqlite3_step(r->run) != SQLITE_DONE)
        goto fail;
    int64_t run = sqlite3_last_insert_rowid(r->db);
    for (uint32_t t = 0; plan && start && end && t < gn_plan_ntasks(plan); t++) {
        const gn_task *k = gn_plan_task(plan, t);
        int xfer = k->kind == GN_TASK_TRANSFER;
        char res[112];
        if (xfer)
            snprintf(res, sizeof(res), "%s->%s", gn_plan_device(plan, (uint32_t)k->device)->name,
                     gn_plan_device(plan, (uint32_t)k->dst)->name);
        else
            snprintf(res, sizeof(res), "%s", gn_plan_device(plan, (uint32_t)k->device)->name);
        int64_t res_id = name_id(r, res), label_id = name_id(r, k->label);
        if (res_id < 0 || label_id < 0)
            goto fail;
        sqlite3_reset(r->event);
        sqlite3_bind_int64(r->event, 1, run);
        sqlite3_bind_int64(r->event, 2, t);
        sqlite3_bind_int64(r->event, 3, k->step);
        sqlite3_bind_int(r->event, 4, xfer);
        sqlite3_bind_int64(r->event, 5, res_id);
        sqlite3_bind_double(r->event, 6, start[t]);
        sqlite3_bind_double(r->event, 7, end[t]);
        sqlite3_bind_double(r->event, 8, k->bytes);
        sqlite3_bind_double(r->event, 9, k->flops);
        sqlite3_bind_int(r->event, 10, xfer && gn_plan_is_network(plan, k->device, k->dst));
        sqlite3_bind_int64(r->event, 11, label_id);
        if (sqlite3_step(r->event) != SQLITE_DONE)
            goto fail;
    }
    if (m && (metric(r, run, "latency", m->latency_s, "s") < 0 ||
              metric(r, run, "ttft", m->ttft_s, "s") < 0 ||
              metric(r, run, "step_time", m->step_s, "s") < 0 ||
              metric(r, run, "tokens", m->tokens, "tokens") < 0 ||
              metric(r, run, "tokens_per_s", m->tokens_per_s, "tokens/s") < 0 ||
              metric(r, run, "net_bytes", m->net_bytes, "bytes") < 0 ||
              metric(r, run, "net_messages", m->net_messages, "messages") < 0 ||
              metric(r, run, "gpu_busy", m->gpu_busy_s, "s") < 0 ||
              metric(r, run, "gpu_busy_pct", m->gpu_busy_pct, "%") < 0 ||
              metric(r, run, "tasks", m->tasks, "tasks") < 0))
        goto fail;
    if (sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    return run;
fail:
    db_error(r, err, "insert run");
    sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
    /* names inserted in the rolled-back transaction are gone: forget them */
    gn_strtab_destroy(r->names);
    r->names = gn_strtab_create();
    return GN_EDB;
}

int gn_results_add_metric(gn_results *r, int64_t run, const char *name, double value, const char *unit,
                          gn_error *err)
{
    sqlite3_reset(r->metric);
    sqlite3_bind_int64(r->metric, 1, run);
    sqlite3_bind_text(r->metric, 2, name, -1, SQLITE_TRANSIENT);
    if (isnan(value))
        sqlite3_bind_null(r->metric, 3);
    else
        sqlite3_bind_double(r->metric, 3, value);
    sqlite3_bind_text(r->metric, 4, unit, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(r->metric) != SQLITE_DONE)
        return db_error(r, err, "insert metric");
    return 0;
}

void gn_results_revision(char *buf, size_t len)
{
    snprintf(buf, len, "unknown");
    FILE *p = popen("git -C " GN_SOURCE_DIR " describe --always --dirty --abbrev=12 2>/dev/null", "r");
    if (!p)
        return;
    if (fgets(buf, (int)len, p))
        buf[strcspn(buf, "\n")] = '\0';
    if (pclose(p) != 0 || !buf[0])
        snprintf(buf, len, "unknown");
}

int gn_results_mkdir(const char *dir)
{
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s", dir);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0777);
            *p = '/';
        }
    return mkdir(tmp, 0777) == 0 || errno == EEXIST ? 0 : -1;
}
