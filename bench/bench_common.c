/* bench_common.c - timing, medians and scratch memory for the benchmarks
 * (bench_common.h). */
#define _POSIX_C_SOURCE 200809L
#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void bench_load_average(char *buf, size_t size)
{
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f || !fgets(buf, (int)size, f))
        snprintf(buf, size, "unknown");
    if (f)
        fclose(f);
    buf[strcspn(buf, "\n")] = 0;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

long bench_calls_for(void (*fn)(void *arg), void *arg, double target)
{
    for (long calls = 1;; calls *= 2) {
        double t0 = bench_now();
        for (long c = 0; c < calls; c++)
            fn(arg);
        if (bench_now() - t0 >= target)
            return calls;
    }
}

double bench_time(void (*fn)(void *arg), void *arg, long calls, int reps)
{
    double t[BENCH_MAX_REPS];
    reps = reps < 1 ? 1 : reps > BENCH_MAX_REPS ? BENCH_MAX_REPS : reps;
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        for (long c = 0; c < calls; c++)
            fn(arg);
        t[r] = (bench_now() - t0) / (double)calls;
    }
    return bench_median(t, reps);
}

void bench_time_wall_cpu(void (*fn)(void *arg), void *arg, long calls, int reps, double *wall, double *cpu)
{
    double w[BENCH_MAX_REPS], c[BENCH_MAX_REPS];
    reps = reps < 1 ? 1 : reps > BENCH_MAX_REPS ? BENCH_MAX_REPS : reps;
    for (int r = 0; r < reps; r++) {
        double w0 = bench_now(), c0 = bench_cpu_now();
        for (long i = 0; i < calls; i++)
            fn(arg);
        w[r] = (bench_now() - w0) / (double)calls;
        c[r] = (bench_cpu_now() - c0) / (double)calls;
    }
    *wall = bench_median(w, reps);
    *cpu = bench_median(c, reps);
}

void *bench_alloc(size_t bytes, const char *prog)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "%s: out of memory\n", prog);
        exit(1);
    }
    return p;
}
