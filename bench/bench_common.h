/* bench_common.h - what the benchmark programs share: a monotonic clock,
 * medians, timing a call in batches, and aligned scratch memory. Figures are
 * printed by each program; nothing here asserts anything about speed. */
#ifndef LT_BENCH_COMMON_H
#define LT_BENCH_COMMON_H

#include <stddef.h>

/* Most repetitions bench_time takes. */
#define BENCH_MAX_REPS 64

/* Seconds on a monotonic clock. */
double bench_now(void);
/* CPU seconds of this process, all its threads: on a loaded machine the
 * wall clock counts the time other processes had the core; this does not
 * (it still counts what they did to the caches). */
double bench_cpu_now(void);
/* The first line of /proc/loadavg without its newline ("unknown" when it
 * cannot be read) into buf. */
void bench_load_average(char *buf, size_t size);
/* The median of v[0..n-1] (the mean of the middle two when n is even);
 * sorts v. */
double bench_median(double *v, int n);
/* The smallest number of calls 1, 2, 4, ... whose batch of fn(arg) calls
 * lasts at least target seconds (running them is the warm-up); 1 when
 * target is 0. */
long bench_calls_for(void (*fn)(void *arg), void *arg, double target);
/* The median over reps (1..BENCH_MAX_REPS) batches of `calls` calls of
 * fn(arg) of the mean seconds per call. */
double bench_time(void (*fn)(void *arg), void *arg, long calls, int reps);
/* As bench_time, with the process's CPU time too: the medians of wall and
 * CPU seconds per call into *wall and *cpu. */
void bench_time_wall_cpu(void (*fn)(void *arg), void *arg, long calls, int reps, double *wall, double *cpu);
/* The single-core peak the figures are a fraction of: the clock, measured
 * and as /proc/cpuinfo states it, times the FLOP per cycle of the vector
 * width the kernels run at; and, as a check on that arithmetic, the FLOP/s
 * a loop of nothing but independent FMAs reaches. The peak is the higher
 * of the two, so a clock read low (a VM, a boost clock) never inflates the
 * "% of peak" of a benchmark. */
typedef struct bench_peak {
    double cpuinfo_mhz;    /* "cpu MHz" of the first processor (0 when unreadable) */
    double busy_mhz;       /* measured while busy (0 where unavailable) */
    double mhz;            /* the higher of the two: the clock the peak assumes */
    double flop_per_cycle; /* 2 FMA pipes x lanes x 2 FLOP */
    double clock_flops;    /* mhz x flop_per_cycle, FLOP/s */
    double fma_flops;      /* measured: independent FMAs of simd_bits (0 where unavailable) */
    double flops;          /* the peak, FLOP/s: the higher of clock_flops and fma_flops */
} bench_peak;
/* Measures the clock (about 0.1 s of dependent adds) and the FMA rate
 * (about 0.2 s) and computes the peak for vectors of simd_bits bits (512
 * for AVX-512, 256 AVX2, 128 SSE2); simd_bits must be a width the CPU runs. */
bench_peak bench_peak_measure(int simd_bits);
/* bytes of 64-byte aligned memory (free with free); on failure prints
 * "<prog>: out of memory" and exits 1. */
void *bench_alloc(size_t bytes, const char *prog);

#endif
