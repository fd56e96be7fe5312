/*
 * compare.c — the simulator against the real runtime (see compare.h).
 */
#include "compare.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "stats.h"

typedef struct pair {
    char workload[64], strategy[64], point[128];
    int64_t sim_run, real_run;
    double sim, real;     /* end-to-end latency, s */
    double step_err_med;  /* median |error| of step durations, fraction */
    double step_err_max;
    int repeats;          /* real runs of the point */
    double real_lo, real_hi; /* the fastest and slowest of them, s */
    int same_plan;        /* the two runs' tasks agree (plan_print) */
} pair;

static int db_fail(sqlite3 *db, gn_error *err, const char *what)
{
    return gn_error_set(err, GN_EDB, "compare: %s: %s", what, sqlite3_errmsg(db));
}

/* Which of the N repeated latencies V stands for the point: the fastest
 * or the (lower) median. */
static int pick_run(const double *v, int n, gn_compare_estimator est)
{
    int idx[256];
    for (int i = 0; i < n; i++)
        idx[i] = i;
    for (int i = 1; i < n; i++) /* insertion sort by latency: n is small */
        for (int k = i; k > 0 && v[idx[k]] < v[idx[k - 1]]; k--) {
            int t = idx[k];
            idx[k] = idx[k - 1];
            idx[k - 1] = t;
        }
    return est == GN_COMPARE_MIN ? idx[0] : idx[(n - 1) / 2];
}

/* Step durations of RUN (end of step s minus end of step s-1), up to CAP. */
static int step_times(sqlite3 *db, int64_t run, double *out, int cap)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT step, max(end_s) FROM events WHERE run_id = ? GROUP BY step ORDER BY step",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, run);
    int n = 0;
    double prev = 0;
    while (sqlite3_step(st) == SQLITE_ROW && n < cap) {
        double end = sqlite3_column_double(st, 1);
        out[n++] = end - prev;
        prev = end;
    }
    sqlite3_finalize(st);
    return n;
}

/* A fingerprint of the plan a run executed, from its events: task count,
 * and sums over tasks of bytes, FLOPs, and kind, network and step
 * weighted by the task's index.  Two runs of one plan agree exactly
 * (genie-real stores the plan's own figures); a plan made with another
 * platform (different placement or batching) almost never does.  0 when
 * the run has no events. */
static int plan_print(sqlite3 *db, int64_t run, double fp[6])
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT count(*), total(bytes), total(flops), total(kind * (task + 1)),"
                           " total(network * (task + 1)), total(step * (task + 1)) FROM events WHERE run_id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(st, 1, run);
    int ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0;
    for (int k = 0; ok && k < 6; k++)
        fp[k] = sqlite3_column_double(st, k);
    sqlite3_finalize(st);
    return ok;
}

static int load_pairs(sqlite3 *db, int64_t sim, int64_t real, gn_compare_estimator est, pair **out, int *n,
                      gn_error *err)
{
    static const char q[] =
        "SELECT s.workload, s.strategy, coalesce(s.point, ''), s.id, r.id, ms.value, mr.value"
        " FROM runs s JOIN runs r ON r.workload = s.workload AND r.strategy = s.strategy"
        "  AND coalesce(r.point, '') = coalesce(s.point, '')"
        " JOIN metrics ms ON ms.run_id = s.id AND ms.name = 'latency'"
        " JOIN metrics mr ON mr.run_id = r.id AND mr.name = 'latency'"
        " WHERE s.experiment_id = ? AND r.experiment_id = ? AND s.status = 'ok' AND r.status = 'ok'"
        " ORDER BY s.id, r.id";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, "query");
    sqlite3_bind_int64(st, 1, sim);
    sqlite3_bind_int64(st, 2, real);
    pair *v = NULL;
    int cnt = 0, cap = 0;
    int64_t last_sim = -1;
    double reps[256];
    int64_t rep_run[256];
    int nreps = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_int64(st, 3) == last_sim) {
            /* repeated real runs (genie-real --repeat): the fastest or
             * the median one stands for the point */
            if (nreps < 256) {
                rep_run[nreps] = sqlite3_column_int64(st, 4);
                reps[nreps++] = sqlite3_column_double(st, 6);
            }
            int pick = pick_run(reps, nreps, est);
            double x = sqlite3_column_double(st, 6);
            v[cnt - 1].real_lo = fmin(v[cnt - 1].real_lo, x);
            v[cnt - 1].real_hi = fmax(v[cnt - 1].real_hi, x);
            v[cnt - 1].real = reps[pick];
            v[cnt - 1].real_run = rep_run[pick];
            v[cnt - 1].repeats = nreps;
            continue;
        }
        last_sim = sqlite3_column_int64(st, 3);
        nreps = 0;
        rep_run[nreps] = sqlite3_column_int64(st, 4);
        reps[nreps++] = sqlite3_column_double(st, 6);
        if (cnt == cap) {
            cap = cap ? 2 * cap : 32;
            pair *g = realloc(v, (size_t)cap * sizeof(*v));
            if (!g) {
                free(v);
                sqlite3_finalize(st);
                return gn_error_set(err, GN_ENOMEM, "compare: out of memory");
            }
            v = g;
        }
        pair *p = &v[cnt++];
        memset(p, 0, sizeof(*p));
        snprintf(p->workload, sizeof(p->workload), "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(p->strategy, sizeof(p->strategy), "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(p->point, sizeof(p->point), "%s", (const char *)sqlite3_column_text(st, 2));
        p->sim_run = sqlite3_column_int64(st, 3);
        p->real_run = sqlite3_column_int64(st, 4);
        p->sim = sqlite3_column_double(st, 5);
        p->real = sqlite3_column_double(st, 6);
        p->repeats = 1;
        p->real_lo = p->real_hi = p->real;
    }
    sqlite3_finalize(st);
    for (int i = 0; i < cnt; i++) {
        double a[512], b[512], e[512];
        int na = step_times(db, v[i].sim_run, a, 512), nb = step_times(db, v[i].real_run, b, 512), ne = 0;
        for (int k = 0; k < na && k < nb; k++)
            if (b[k] > 0)
                e[ne++] = fabs(a[k] - b[k]) / b[k];
        double mx = 0;
        for (int k = 0; k < ne; k++)
            mx = e[k] > mx ? e[k] : mx;
        v[i].step_err_med = gn_median(e, (size_t)ne);
        double fs[6], fr[6];
        v[i].same_plan = plan_print(db, v[i].sim_run, fs) && plan_print(db, v[i].real_run, fr) &&
                         !memcmp(fs, fr, sizeof(fs));
        v[i].step_err_max = ne ? mx : NAN;
    }
    *out = v;
    *n = cnt;
    return 0;
}

int gn_report_compare(sqlite3 *db, int64_t sim, int64_t real, gn_compare_estimator est, FILE *out,
                      const char *png, gn_error *err)
{
    pair *v = NULL;
    int n = 0, rc = load_pairs(db, sim, real, est, &v, &n, err);
    if (rc < 0)
        return rc;
    if (n == 0) {
        free(v);
        return gn_error_set(err, GN_ENOTFOUND, "compare: experiments %lld (sim) and %lld (real) share no "
                            "successful run", (long long)sim, (long long)real);
    }
    /* spread: how much slower the slowest repeat was than the fastest,
     * the run-to-run noise the error should be read against */
    fprintf(out, "%-14s %-10s %-12s %12s %12s %9s %14s %14s %8s\n", "workload", "strategy", "point", "sim",
            "real", "error", "step |err| med", "step |err| max", "spread");
    int differ = 0;
    for (int i = 0; i < n; i++) {
        fprintf(out, "%-14s %-10s %-12s %9.3f ms %9.3f ms %+8.1f%% %13.1f%% %13.1f%% %7.1f%%%s\n", v[i].workload,
                v[i].strategy, v[i].point, v[i].sim * 1e3, v[i].real * 1e3, 100 * (v[i].sim - v[i].real) / v[i].real,
                100 * v[i].step_err_med, 100 * v[i].step_err_max, 100 * (v[i].real_hi - v[i].real_lo) / v[i].real_lo,
                v[i].same_plan ? "" : "  (other plan)");
        differ += !v[i].same_plan;
    }
    if (differ)
        fprintf(out, "warning: %d of %d points ran another plan than the one simulated (the runs' tasks differ:\n"
                     "  planned with other platform figures); their error includes the plans' difference\n",
                differ, n);
    int rmin = n ? v[0].repeats : 0, rmax = rmin;
    for (int i = 1; i < n; i++) {
        rmin = v[i].repeats < rmin ? v[i].repeats : rmin;
        rmax = v[i].repeats > rmax ? v[i].repeats : rmax;
    }
    if (rmin == rmax)
        fprintf(out, "(real: the %s of %d runs of each point)\n", est == GN_COMPARE_MIN ? "fastest" : "median", rmax);
    else
        fprintf(out, "(real: the %s of %d to %d runs of each point)\n", est == GN_COMPARE_MIN ? "fastest" : "median",
                rmin, rmax);
    /* per strategy: median and worst |error| of end-to-end latency */
    fprintf(out, "\nend-to-end latency, |sim - real| / real, per strategy:\n");
    double all[4096];
    int nall = 0;
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int k = 0; k < i; k++)
            seen |= strcmp(v[k].strategy, v[i].strategy) == 0;
        if (seen)
            continue;
        double e[4096], mx = 0;
        int ne = 0;
        for (int k = 0; k < n && ne < 4096; k++)
            if (strcmp(v[k].strategy, v[i].strategy) == 0) {
                e[ne] = fabs(v[k].sim - v[k].real) / v[k].real;
                mx = e[ne] > mx ? e[ne] : mx;
                if (nall < 4096)
                    all[nall++] = e[ne];
                ne++;
            }
        fprintf(out, "  %-10s median %5.1f%%  worst %5.1f%%  (%d runs)\n", v[i].strategy,
                100 * gn_median(e, (size_t)ne), 100 * mx, ne);
    }
    fprintf(out, "  %-10s median %5.1f%%  (%d runs)\n", "all", 100 * gn_median(all, (size_t)nall), nall);
    /* ranking of strategies per workload and point; a pair is decided by
     * the measurement when the ranges of its repeats do not overlap
     * (one repeat: every pair is) */
    int groups = 0, agree = 0, decided = 0, decided_agree = 0, pairs = 0;
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int k = 0; k < i; k++)
            seen |= !strcmp(v[k].workload, v[i].workload) && !strcmp(v[k].point, v[i].point);
        if (seen)
            continue;
        groups++;
        int discordant = 0, dec = 0, dec_disc = 0, np = 0;
        for (int a = 0; a < n; a++)
            for (int b = a + 1; b < n; b++) {
                if (strcmp(v[a].workload, v[i].workload) || strcmp(v[a].point, v[i].point) ||
                    strcmp(v[b].workload, v[i].workload) || strcmp(v[b].point, v[i].point))
                    continue;
                int disc = (v[a].sim - v[b].sim) * (v[a].real - v[b].real) < 0;
                int apart = v[a].real_hi < v[b].real_lo || v[b].real_hi < v[a].real_lo;
                np++;
                discordant += disc;
                dec += apart;
                dec_disc += apart && disc;
            }
        agree += discordant == 0;
        pairs += np;
        decided += dec;
        decided_agree += dec - dec_disc;
        fprintf(out, "%s %s %s: strategy ranking %s", i == 0 ? "\nranking (by latency):\n " : " ",
                v[i].workload, v[i].point, discordant ? "DIFFERS" : "matches");
        if (discordant)
            fprintf(out, " (%d discordant pairs)", discordant);
        fprintf(out, "; pairs the measurement separates: %d of %d, %d of them in the simulator's order\n", dec, np,
                dec - dec_disc);
    }
    fprintf(out, "  %d of %d rankings match\n", agree, groups);
    fprintf(out, "  %d of %d pairs of strategies are separated by the measurement (the ranges of their repeats\n"
                 "  do not overlap); the simulator orders %d of those %d as measured\n",
            decided, pairs, decided_agree, decided);
    if (png) {
        FILE *gp = popen("gnuplot 2>&1", "w");
        if (!gp) {
            free(v);
            return gn_error_set(err, GN_EIO, "compare: cannot start gnuplot: %s", strerror(errno));
        }
        double lo = INFINITY, hi = 0;
        for (int i = 0; i < n; i++) {
            lo = fmin(lo, fmin(v[i].sim, v[i].real));
            hi = fmax(hi, fmax(v[i].sim, v[i].real));
        }
        fprintf(gp, "set terminal pngcairo size 800,700 noenhanced\nset output '%s'\n"
                    "set logscale xy\nset xlabel 'measured (genie-real), ms'\nset ylabel 'predicted (genie-sim), ms'\n"
                    "set title 'simulator vs real runtime: end-to-end latency per run'\nset key left top\n"
                    "set xrange [%g:%g]\nset yrange [%g:%g]\n"
                    "plot x title 'exact' lc rgb 'gray', 1.25*x title '+25%%' dt 2 lc rgb 'gray', "
                    "0.8*x title '-20%%' dt 2 lc rgb 'gray', '-' using 1:2 with points pt 7 title 'runs'\n",
                png, lo * 1e3 / 1.5, hi * 1e3 * 1.5, lo * 1e3 / 1.5, hi * 1e3 * 1.5);
        for (int i = 0; i < n; i++)
            fprintf(gp, "%g %g\n", v[i].real * 1e3, v[i].sim * 1e3);
        fprintf(gp, "e\n");
        int status = pclose(gp);
        if (status != 0) {
            free(v);
            return gn_error_set(err, GN_EIO, "compare: gnuplot failed (status %d)", status);
        }
    }
    free(v);
    return 0;
}

int64_t gn_report_newest(sqlite3 *db, const char *backend, const char *name)
{
    sqlite3_stmt *st;
    int64_t id = -1;
    if (sqlite3_prepare_v2(db,
                           "SELECT e.id FROM experiments e WHERE (?2 IS NULL OR e.name = ?2) AND EXISTS (SELECT 1 "
                           "FROM runs r WHERE r.experiment_id = e.id AND r.backend = ?1) ORDER BY e.id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, backend, -1, SQLITE_STATIC);
    if (name)
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 2);
    if (sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return id;
}
