/*
 * bench_steady.c — how steady this machine's CPU is: the same small
 * compute kernel (a 128 x 128 x 128 fp32 matrix product, ~0.2 ms, one
 * thread, in cache) run back to back for SECONDS; per WINDOW_MS window it
 * prints the mean time of one product as a multiple of the fastest one
 * seen in the whole run.
 *
 * The calibration (genie-real --calibrate) keeps each op's fastest time,
 * which this kernel shows to be stable; a real run is a sum of many ops
 * and sees the mean.  Where windows of the same work differ by tens of
 * percent, no prediction from one calibration can be closer than that
 * to every real run (experiments/fidelity.sh prints this next to its
 * comparison).
 *
 *   bench_steady [SECONDS [WINDOW_MS]]      (defaults 4, 500)
 *
 * Last line: "steady windows N best_ms B mean_over_best MIN MEDIAN MAX".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planrun.h"
#include "stats.h"

#define DIM 128
#define MAX_WINDOWS 4096

static float a[DIM * DIM], b[DIM * DIM], c[DIM * DIM];

static double now(void)
{
    return (double)gn_now_ns() * 1e-9;
}

static void product(void)
{
    for (int i = 0; i < DIM; i++)
        for (int k = 0; k < DIM; k++) {
            float x = a[i * DIM + k];
            for (int j = 0; j < DIM; j++)
                c[i * DIM + j] += x * b[k * DIM + j];
        }
}

static const char usage[] = "usage: bench_steady [SECONDS (0-3600] [WINDOW_MS (10-SECONDS*1000)]]\n"
                            "  times a 128^3 fp32 matrix product back to back; per window, its mean time\n"
                            "  over the fastest one of the run (defaults: 4 s, 500 ms windows)\n";

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(usage, stdout);
        return 0;
    }
    double seconds = argc > 1 ? atof(argv[1]) : 4.0;
    double window = (argc > 2 ? atof(argv[2]) : 500.0) * 1e-3;
    if (argc > 3 || !(seconds > 0 && seconds <= 3600) || !(window >= 0.01 && window <= seconds)) {
        fprintf(stderr, "bench_steady: bad arguments\n%s", usage);
        return 2;
    }
    for (int i = 0; i < DIM * DIM; i++) {
        a[i] = (float)(i % 17) / 17.0f;
        b[i] = (float)(i % 13) / 13.0f;
    }
    product(); /* warm: pages and caches */

    static double mean[MAX_WINDOWS];
    int nwin = 0;
    double best = 1e30, t0 = now(), w0 = t0, sum = 0;
    long n = 0;
    for (;;) {
        double s = now();
        product();
        double e = now(), d = e - s;
        if (d < best)
            best = d;
        sum += d;
        n++;
        if (e - w0 >= window) {
            if (nwin < MAX_WINDOWS)
                mean[nwin++] = sum / (double)n;
            w0 = e;
            sum = 0;
            n = 0;
        }
        if (e - t0 >= seconds)
            break;
    }
    if (nwin == 0) {
        fprintf(stderr, "bench_steady: no whole window in %.3f s\n", seconds);
        return 1;
    }
    for (int i = 0; i < nwin; i++) {
        mean[i] /= best;
        printf("window %3d  mean %.3f ms  x%.2f of the fastest\n", i, mean[i] * best * 1e3, mean[i]);
    }
    qsort(mean, (size_t)nwin, sizeof mean[0], gn_cmp_double);
    double lo = mean[0], hi = mean[nwin - 1];
    printf("steady windows %d best_ms %.4f mean_over_best %.2f %.2f %.2f\n", nwin, best * 1e3, lo,
           gn_median(mean, (size_t)nwin), hi);
    /* keeps the products from being optimised away */
    return c[DIM + 1] < 0 ? 1 : 0;
}
