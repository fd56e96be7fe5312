/*
 * report.c — tables and gnuplot plots from the results store.
 */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct row {
    char workload[64];
    char point[96];
    char strategy[64];
    double x;
    int ok;
    double latency, tps, bytes, busy, step;
} row;

/* Reads all runs of EXPERIMENT with their metrics; *OUT is malloc'd. */
static int load_rows(sqlite3 *db, int64_t experiment, row **out, int *n,
                     gn_error *err)
{
    const char *sql =
        "SELECT r.workload, COALESCE(r.point,''), r.strategy, COALESCE(r.x, 0), r.status = 'ok',"
        " MAX(CASE WHEN m.name = 'latency' THEN m.value END),"
        " MAX(CASE WHEN m.name = 'tokens_per_s' THEN m.value END),"
        " MAX(CASE WHEN m.name = 'net_bytes' THEN m.value END),"
        " MAX(CASE WHEN m.name = 'gpu_busy_pct' THEN m.value END),"
        " MAX(CASE WHEN m.name = 'step_time' THEN m.value END)"
        " FROM runs r LEFT JOIN metrics m ON m.run_id = r.id"
        " WHERE r.experiment_id = ? GROUP BY r.id ORDER BY r.id";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return gn_error_set(err, GN_EDB, "report: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, experiment);
    int cap = 64, k = 0;
    row *rows = malloc(cap * sizeof(*rows));
    while (rows && sqlite3_step(st) == SQLITE_ROW) {
        if (k == cap) {
            row *r2 = realloc(rows, (cap *= 2) * sizeof(*rows));
            if (!r2) {
                free(rows);
                rows = NULL;
                break;
            }
            rows = r2;
        }
        row *r = &rows[k++];
        snprintf(r->workload, sizeof(r->workload), "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(r->point, sizeof(r->point), "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(r->strategy, sizeof(r->strategy), "%s", (const char *)sqlite3_column_text(st, 2));
        r->x = sqlite3_column_double(st, 3);
        r->ok = sqlite3_column_int(st, 4);
        r->latency = sqlite3_column_double(st, 5);
        r->tps = sqlite3_column_double(st, 6);
        r->bytes = sqlite3_column_double(st, 7);
        r->busy = sqlite3_column_double(st, 8);
        r->step = sqlite3_column_double(st, 9);
    }
    sqlite3_finalize(st);
    if (!rows)
        return gn_error_set(err, GN_ENOMEM, "report: out of memory");
    *out = rows;
    *n = k;
    return 0;
}

static const char *human_bytes(double b, char *buf, size_t len)
{
    const char *unit[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (b >= 1000 && u < 4) {
        b /= 1000;
        u++;
    }
    snprintf(buf, len, u ? "%.2f %s" : "%.0f %s", b, unit[u]);
    return buf;
}

static const char *human_time(double s, char *buf, size_t len)
{
    if (s >= 1)
        snprintf(buf, len, "%.3f s", s);
    else
        snprintf(buf, len, "%.3f ms", s * 1e3);
    return buf;
}

static int same_point(const row *a, const row *b)
{
    return strcmp(a->workload, b->workload) == 0 && strcmp(a->point, b->point) == 0;
}

int gn_report_table(sqlite3 *db, int64_t experiment, FILE *out, gn_error *err)
{
    row *rows;
    int n, rc = load_rows(db, experiment, &rows, &n, err);
    if (rc < 0)
        return rc;
    unsigned char *shown = calloc((size_t)n + 1, 1);
    if (!shown) {
        free(rows);
        return gn_error_set(err, GN_ENOMEM, "report: out of memory");
    }
    const char *hdr = "%-14s %-28s %-14s %12s %12s %11s %12s %8s  %s\n";
    fprintf(out, hdr, "workload", "point", "strategy", "latency", "step", "items/s", "net bytes", "GPU busy",
            "vs best of remoting/blind");
    for (int i = 0; i < n; i++) {
        if (shown[i])
            continue;
        /* one group: all rows of this workload and point, in run order */
        double best_lat = INFINITY, best_bytes = INFINITY;
        for (int j = i; j < n; j++)
            if (same_point(&rows[i], &rows[j]) && rows[j].ok &&
                (strcmp(rows[j].strategy, "remoting") == 0 || strcmp(rows[j].strategy, "blind") == 0)) {
                if (rows[j].latency < best_lat)
                    best_lat = rows[j].latency;
                if (rows[j].bytes < best_bytes)
                    best_bytes = rows[j].bytes;
            }
        for (int j = i; j < n; j++) {
            if (!same_point(&rows[i], &rows[j]))
                continue;
            shown[j] = 1;
            const row *r = &rows[j];
            char lat[32], step[32], bytes[32], cmp[96] = "";
            if (!r->ok) {
                fprintf(out, "%-14s %-28s %-14s %12s\n", r->workload, r->point, r->strategy, "failed");
                continue;
            }
            if (strncmp(r->strategy, "genie", 5) == 0 && isfinite(best_lat))
                snprintf(cmp, sizeof(cmp), "latency %+.1f%%, bytes %+.1f%%",
                         100 * (r->latency - best_lat) / best_lat,
                         best_bytes > 0 ? 100 * (r->bytes - best_bytes) / best_bytes : 0.0);
            char busy[16];
            snprintf(busy, sizeof(busy), "%.1f%%", r->busy);
            fprintf(out, "%-14s %-28s %-14s %12s %12s %11.1f %12s %8s  %s\n", r->workload, r->point,
                    r->strategy, human_time(r->latency, lat, sizeof(lat)),
                    human_time(r->step, step, sizeof(step)), r->tps,
                    human_bytes(r->bytes, bytes, sizeof(bytes)), busy, cmp);
        }
    }
    free(shown);
    free(rows);
    return 0;
}

/* ========================== plot ========================== */

int gn_report_plot(sqlite3 *db, int64_t experiment, const char *png,
                   const char *xlabel, gn_error *err)
{
    row *rows;
    int n, rc = load_rows(db, experiment, &rows, &n, err);
    if (rc < 0)
        return rc;
    /* distinct workloads and strategies, in first-seen order */
    const char *wl[32], *sg[32];
    int nw = 0, ns = 0;
    for (int i = 0; i < n; i++) {
        int w = 0, s = 0;
        for (int k = 0; k < nw; k++)
            w |= strcmp(wl[k], rows[i].workload) == 0;
        for (int k = 0; k < ns; k++)
            s |= strcmp(sg[k], rows[i].strategy) == 0;
        if (!w && nw < 32)
            wl[nw++] = rows[i].workload;
        if (!s && ns < 32)
            sg[ns++] = rows[i].strategy;
    }
    FILE *gp = popen("gnuplot 2>&1", "w");
    if (!gp) {
        free(rows);
        return gn_error_set(err, GN_EIO, "plot: cannot start gnuplot: %s", strerror(errno));
    }
    fprintf(gp, "set terminal pngcairo size 1200,%d font ',10'\n", 380 * (nw ? nw : 1));
    fprintf(gp, "set output '%s'\n", png);
    /* without a numeric sweep, strategies are categories on the x axis */
    int numeric = 0;
    for (int i = 0; i < n; i++)
        numeric |= rows[i].x > 0;
    fprintf(gp, "set multiplot layout %d,2\nset grid\nset key outside right top\n", nw ? nw : 1);
    double xmin = INFINITY, xmax = 0;
    for (int i = 0; i < n; i++)
        if (rows[i].x > 0) {
            xmin = rows[i].x < xmin ? rows[i].x : xmin;
            xmax = rows[i].x > xmax ? rows[i].x : xmax;
        }
    if (numeric) /* explicit, so a panel whose runs all failed still draws */
        fprintf(gp, "set logscale x 2\nset xrange [%.17g:%.17g]\nset xlabel '%s' noenhanced\n",
                xmin / 1.5, xmax * 1.5, xlabel);
    else {
        fprintf(gp, "set xrange [-0.5:%d.5]\nset xtics rotate by -30 noenhanced (", ns - 1);
        for (int s = 0; s < ns; s++)
            fprintf(gp, "%s'%s' %d", s ? ", " : "", sg[s], s);
        fprintf(gp, ")\nset boxwidth 0.6\nset style fill solid 0.6\nunset key\n");
    }
    for (int w = 0; w < nw; w++)
        for (int panel = 0; panel < 2; panel++) {
            fprintf(gp, "set title '%s: %s' noenhanced\n", wl[w],
                    panel ? "network bytes per session" : "end-to-end latency");
            int points = 0;
            for (int i = 0; i < n; i++)
                points += !strcmp(rows[i].workload, wl[w]) && rows[i].ok &&
                          (panel ? rows[i].bytes : rows[i].latency) > 0;
            fprintf(gp, "set ylabel '%s'\nset logscale y\n", panel ? "GB" : "seconds");
            fprintf(gp, points ? "set autoscale y\nunset label 1\n"
                               : "set yrange [0.1:10]\nset label 1 'no successful run' at graph 0.5,0.5 center\n");
            fprintf(gp, "plot ");
            for (int s = 0; s < ns; s++)
                fprintf(gp, "%s'-' using 1:2 with %s lw 2 title '%s' noenhanced", s ? ", " : "",
                        numeric ? "linespoints" : "boxes", sg[s]);
            fprintf(gp, "\n");
            for (int s = 0; s < ns; s++) {
                int any = 0;
                for (int i = 0; i < n; i++) {
                    const row *r = &rows[i];
                    if (strcmp(r->workload, wl[w]) || strcmp(r->strategy, sg[s]) || !r->ok)
                        continue;
                    double y = panel ? r->bytes / 1e9 : r->latency;
                    if (y > 0) {
                        fprintf(gp, "%.17g %.17g\n", numeric ? r->x : (double)s, y);
                        any = 1;
                    }
                }
                if (!any) /* keep the strategy in the key without a point */
                    fprintf(gp, "NaN NaN\n");
                fprintf(gp, "e\n");
            }
        }
    fprintf(gp, "unset multiplot\n");
    int status = pclose(gp);
    free(rows);
    if (status != 0)
        return gn_error_set(err, GN_EIO, "plot: gnuplot failed (status %d); is gnuplot installed?", status);
    return 0;
}
