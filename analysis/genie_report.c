/*
 * genie-report — prints the table and redraws the plot of an experiment
 * from its results database, without rerunning anything.
 *
 *   genie-report RESULTS.sqlite [--experiment ID] [--plot FILE.png]
 *
 * Without --experiment, the newest experiment in the database.  Exit
 * status: 0 ok, 1 the database could not be read, 2 bad usage.
 */
#include <getopt.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compare.h"
#include "timeline.h"
#include "report.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: genie-report RESULTS.sqlite [--experiment ID] [--plot FILE.png]\n"
               "       genie-report RESULTS.sqlite --compare [--sim ID] [--real ID] [--estimator min|median]\n"
               "                    [--plot FILE.png]\n"
               "       genie-report RESULTS.sqlite --timeline RUN_ID [-o FILE.json]\n"
               "\n"
               "Prints the table of an experiment stored by genie-sim (or genie-real) and,\n"
               "with --plot, redraws its plot; the newest experiment by default.\n"
               "\n"
               "--compare joins a genie-sim and a genie-real experiment of the database on\n"
               "workload, strategy and point and prints the simulator's error per run, per\n"
               "step and per strategy, and whether the strategies rank the same; --plot\n"
               "draws predicted against measured latency.  By default the newest real\n"
               "experiment and the newest sim experiment of the same name.  Where a point\n"
               "ran several times (genie-real --repeat), its fastest run stands for it\n"
               "(--estimator min, the default: the simulator predicts an uncontended\n"
               "machine, and other processes only add time) or its median run.\n"
               "\n"
               "--timeline writes one run's events as a Chrome trace (open it in\n"
               "chrome://tracing or ui.perfetto.dev): a track per device and link.\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"experiment", required_argument, NULL, 'e'},
                                             {"plot", required_argument, NULL, 'p'},
                                             {"compare", no_argument, NULL, 'c'},
                                             {"timeline", required_argument, NULL, 't'},
                                             {"output", required_argument, NULL, 'o'},
                                             {"sim", required_argument, NULL, 's'},
                                             {"real", required_argument, NULL, 'r'},
                                             {"estimator", required_argument, NULL, 'E'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    long long id = -1, sim_id = -1, real_id = -1, timeline = -1;
    const char *output = NULL;
    int compare = 0;
    gn_compare_estimator est = GN_COMPARE_MIN;
    const char *plot = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "e:p:o:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'e': id = atoll(optarg); break;
        case 'p': plot = optarg; break;
        case 'c': compare = 1; break;
        case 't': timeline = atoll(optarg); break;
        case 'o': output = optarg; break;
        case 's': sim_id = atoll(optarg); compare = 1; break;
        case 'r': real_id = atoll(optarg); compare = 1; break;
        case 'E':
            if (!strcmp(optarg, "min"))
                est = GN_COMPARE_MIN;
            else if (!strcmp(optarg, "median"))
                est = GN_COMPARE_MEDIAN;
            else {
                fprintf(stderr, "genie-report: --estimator: expected min or median, got \"%s\"\n", optarg);
                return 2;
            }
            compare = 1;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    const char *path = argv[optind];
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "genie-report: %s: cannot read the results database\n", path);
        return 1;
    }
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "genie-report: %s: %s\n", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return 1;
    }
    if (timeline >= 0) {
        gn_error err;
        FILE *f = output ? fopen(output, "w") : stdout;
        if (!f) {
            fprintf(stderr, "genie-report: %s: cannot write\n", output);
            sqlite3_close(db);
            return 1;
        }
        int rc = gn_timeline_write(db, timeline, f, &err);
        if (output)
            fclose(f);
        if (rc < 0)
            fprintf(stderr, "genie-report: %s\n", err.msg);
        else if (output)
            printf("timeline of run %lld: %s\n", timeline, output);
        sqlite3_close(db);
        return rc < 0 ? 1 : 0;
    }
    if (compare) {
        gn_error err;
        if (real_id < 0)
            real_id = gn_report_newest(db, "real", NULL);
        const char *rname = NULL;
        sqlite3_stmt *q;
        char namebuf[256] = "";
        if (sqlite3_prepare_v2(db, "SELECT name FROM experiments WHERE id = ?", -1, &q, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(q, 1, real_id);
            if (sqlite3_step(q) == SQLITE_ROW)
                snprintf(namebuf, sizeof(namebuf), "%s", (const char *)sqlite3_column_text(q, 0));
            sqlite3_finalize(q);
            rname = namebuf[0] ? namebuf : NULL;
        }
        if (sim_id < 0)
            sim_id = gn_report_newest(db, "sim", rname);
        if (real_id < 0 || sim_id < 0) {
            fprintf(stderr, "genie-report: %s: needs a genie-sim and a genie-real experiment%s%s (found %s)\n", path,
                    rname ? " named " : "", rname ? rname : "", real_id < 0 ? "no real one" : "no sim one");
            sqlite3_close(db);
            return 1;
        }
        printf("simulated: experiment %lld, measured: experiment %lld%s%s; repeated points: the %s run\n\n",
               sim_id, real_id, rname ? ", " : "", rname ? rname : "",
               est == GN_COMPARE_MIN ? "fastest" : "median");
        int status = 0;
        if (gn_report_compare(db, sim_id, real_id, est, stdout, plot, &err) < 0) {
            fprintf(stderr, "genie-report: %s\n", err.msg);
            status = 1;
        } else if (plot)
            printf("\nplot: %s\n", plot);
        sqlite3_close(db);
        return status;
    }
    sqlite3_stmt *st;
    const char *name = NULL, *rev = NULL, *cmd = NULL, *xkey = NULL;
    int rc = sqlite3_prepare_v2(db,
                                id < 0 ? "SELECT id, name, revision, command, config FROM experiments ORDER BY id DESC LIMIT 1"
                                       : "SELECT id, name, revision, command, config FROM experiments WHERE id = ?",
                                -1, &st, NULL);
    if (rc == SQLITE_OK && id >= 0)
        sqlite3_bind_int64(st, 1, id);
    if (rc != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
        fprintf(stderr, "genie-report: %s: no %s experiment (is it a genie results database?)\n", path,
                id < 0 ? "stored" : "such");
        sqlite3_finalize(st);
        sqlite3_close(db);
        return 1;
    }
    id = sqlite3_column_int64(st, 0);
    name = (const char *)sqlite3_column_text(st, 1);
    rev = (const char *)sqlite3_column_text(st, 2);
    cmd = (const char *)sqlite3_column_text(st, 3);
    printf("experiment %lld \"%s\", revision %s\ncommand: %s\n\n", id, name ? name : "?", rev ? rev : "?",
           cmd ? cmd : "?");
    /* the plot's x label: the first sweep key of the stored config */
    json_t *cfg = json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(cfg, "sweep"), k, v) {
        xkey = k;
        break;
    }
    gn_error err;
    int status = 0;
    if (gn_report_table(db, id, stdout, &err) < 0) {
        fprintf(stderr, "genie-report: %s\n", err.msg);
        status = 1;
    }
    if (plot && gn_report_plot(db, id, plot, xkey ? xkey : "point", &err) < 0) {
        fprintf(stderr, "genie-report: %s\n", err.msg);
        status = 1;
    } else if (plot) {
        printf("\nplot: %s\n", plot);
    }
    json_decref(cfg);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return status;
}
