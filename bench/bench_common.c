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

/* "cpu MHz" of the first processor in /proc/cpuinfo (0 when unreadable). */
static double cpuinfo_mhz(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    double mhz = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "cpu MHz", 7) == 0) {
            const char *colon = strchr(line, ':');
            mhz = colon ? atof(colon + 1) : 0;
            break;
        }
    if (f)
        fclose(f);
    return mhz;
}

/* The clock actually reached while busy, in MHz: a chain of dependent
 * register-to-register adds runs at one add per cycle on every x86-64 core,
 * so adds per second is the frequency (0 where unavailable). In a VM "cpu
 * MHz" is often the nominal clock, below the boost clock the benchmark
 * really runs at. Not `add $1, reg`: Intel's Golden Cove and later fold
 * chains of immediate adds at renaming, several a cycle (measured on this
 * project's Xeon VM: 6.6-9.9 "GHz" against 1.8-2.1 GHz for reg-reg adds). */
static double measured_mhz(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    double best = 0;
    for (int r = 0; r < 5; r++) {
        unsigned long x = 0, n = 20000000, one = 1;
        double t0 = bench_now();
        __asm__ volatile("1:\n\t"
                         "add %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\t"
                         "add %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\t"
                         "dec %1\n\tjnz 1b"
                         : "+r"(x), "+r"(n)
                         : "r"(one));
        double mhz = 8 * 20e6 / (bench_now() - t0) * 1e-6;
        best = mhz > best ? mhz : best;
    }
    return best;
#else
    return 0;
#endif
}

/* FMA_CHAINS independent multiply-adds of one vector register each, so that
 * the FMA pipes, not an FMA's latency, bound the loop: 4-cycle latency x 2
 * pipes needs 8; 12 leaves room. */
#define FMA_CHAINS 12
#define FMA_ROUNDS 2000000L
/* Runs of about 4 ms each, FMA_RUNS of them: on a VM whose host takes the
 * core away now and then, an underestimated peak overstates every "% of
 * peak". Three alternated starts of bench_deep on the project's Xeon VM read
 * 128-154 GFLOP/s with the best of 5 and 153.6-155.3 with the best of 25,
 * which costs 0.1 s at each benchmark's start. */
#define FMA_RUNS 25
#define FMA_(r, reg) "vfmadd231ps %%" reg "14, %%" reg "15, %%" reg #r "\n\t"
#define FMA_ALL(reg)                                                                                                 \
    FMA_(0, reg) FMA_(1, reg) FMA_(2, reg) FMA_(3, reg) FMA_(4, reg) FMA_(5, reg) FMA_(6, reg) FMA_(7, reg)          \
        FMA_(8, reg) FMA_(9, reg) FMA_(10, reg) FMA_(11, reg)

/* The best of FMA_RUNS runs of FMA_ROUNDS x FMA_CHAINS FMAs of simd_bits
 * (256 or 512), in FLOP/s; 0 for another width or where there is no x86-64 asm. */
static double measured_fma_flops(int simd_bits)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    double best = 0;
    for (int r = 0; r < FMA_RUNS && (simd_bits == 256 || simd_bits == 512); r++) {
        long n = FMA_ROUNDS;
        double t0 = bench_now();
        if (simd_bits == 512)
            __asm__ volatile("vxorps %%xmm14, %%xmm14, %%xmm14\n\tvxorps %%xmm15, %%xmm15, %%xmm15\n\t"
                             "1:\n\t" FMA_ALL("zmm") "dec %0\n\tjnz 1b"
                             : "+r"(n)::"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                               "xmm10", "xmm11", "xmm14", "xmm15");
        else
            __asm__ volatile("vxorps %%xmm14, %%xmm14, %%xmm14\n\tvxorps %%xmm15, %%xmm15, %%xmm15\n\t"
                             "1:\n\t" FMA_ALL("ymm") "dec %0\n\tjnz 1b"
                             : "+r"(n)::"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                               "xmm10", "xmm11", "xmm14", "xmm15");
        double flops = (double)FMA_ROUNDS * FMA_CHAINS * (simd_bits / 32) * 2.0 / (bench_now() - t0);
        best = flops > best ? flops : best;
    }
    return best;
#else
    (void)simd_bits;
    return 0;
#endif
}

bench_peak bench_peak_measure(int simd_bits)
{
    bench_peak p = {.cpuinfo_mhz = cpuinfo_mhz(), .busy_mhz = measured_mhz()};
    p.mhz = p.busy_mhz > p.cpuinfo_mhz ? p.busy_mhz : p.cpuinfo_mhz;
    /* two FMA pipes (Zen 5, and Intel server cores with AVX-512) x lanes x 2 FLOP */
    p.flop_per_cycle = 2.0 * (simd_bits / 32) * 2.0;
    p.clock_flops = p.mhz * 1e6 * p.flop_per_cycle;
    p.fma_flops = measured_fma_flops(simd_bits);
    p.flops = p.fma_flops > p.clock_flops ? p.fma_flops : p.clock_flops;
    return p;
}
