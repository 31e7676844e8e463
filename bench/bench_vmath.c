/* bench_vmath.c - ns per element of the vectorised tanh/exp kernels
 * (lib/kernels/vmath.h) on every path the machine can run, next to glibc's tanhf and
 * expf, at the sizes of examples/mlp_names.c: the hidden layer of a training
 * step, 32 x 200 = 6400 elements (in cache), and of an evaluation chunk,
 * 4096 x 200 = 819200 elements (3.3 MB, beyond L2). Also the softmax /
 * cross-entropy row kernel lt_vexp_shift_sum on rows of 27 logits, next to
 * the double-precision libm loop it replaced.
 *
 *     bench_vmath [--quick]
 *
 * Inputs: tanh uniform in [-4, 4] (hidden pre-activations), exp uniform in
 * [-10, 10], logits uniform in [-5, 5] shifted by their row maximum. Each
 * figure is the median over 7 repetitions of the mean time of a batch of
 * calls lasting >= ~5 ms, after a warm-up; out-of-place, into a separate
 * output array. --quick: tiny batches, for smoke runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "kernels/cpu.h"
#include "kernels/vmath.h"

#define ROW 27 /* classes per row of logits */

static float *uniform_floats(size_t n, float lo, float hi, unsigned seed)
{
    float *x = bench_alloc(n * sizeof(float), "bench_vmath");
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = lo + (hi - lo) * (float)((seed >> 8) & 0xFFFFFF) / 16777216.0f;
    }
    return x;
}

/* ---- what is timed -------------------------------------------------------- */

typedef enum { K_TANH, K_EXP, K_ROWS } kind;
typedef enum { V_GLIBC, V_KERNEL } variant;

typedef struct {
    kind k;
    variant v;
    float *x, *y;
    int64_t n;
    double sink; /* keeps the row sums alive */
} job;

static void glibc_tanh(float *restrict y, const float *restrict x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = tanhf(x[i]);
}

static void glibc_exp(float *restrict y, const float *restrict x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = expf(x[i]);
}

/* The loop ops/softmax.c had: max, then sum of exp in double, then the
 * probabilities exp(x - lse) through double exp. */
static double libm_rows(float *y, const float *x, int64_t n)
{
    double total = 0;
    for (int64_t r = 0; r + ROW <= n; r += ROW) {
        const float *xr = x + r;
        float m = xr[0];
        for (int j = 1; j < ROW; j++)
            m = xr[j] > m ? xr[j] : m;
        double s = 0;
        for (int j = 0; j < ROW; j++)
            s += exp((double)xr[j] - m);
        double lse = m + log(s);
        for (int j = 0; j < ROW; j++)
            y[r + j] = (float)exp((double)xr[j] - lse);
        total += lse;
    }
    return total;
}

/* The same with the kernel, as ops/softmax.c now does it. */
static double kernel_rows(float *y, const float *x, int64_t n)
{
    double total = 0;
    for (int64_t r = 0; r + ROW <= n; r += ROW) {
        const float *xr = x + r;
        float m = xr[0];
        for (int j = 1; j < ROW; j++)
            m = xr[j] > m ? xr[j] : m;
        double lse = m + log(lt_vexp_shift_sum(NULL, xr, m, ROW));
        lt_vexp_shift_sum(y + r, xr, lse, ROW);
        total += lse;
    }
    return total;
}

static void run(void *arg)
{
    job *j = arg;
    switch (j->k) {
    case K_TANH: (j->v == V_GLIBC ? glibc_tanh : lt_vtanh)(j->y, j->x, j->n); break;
    case K_EXP: (j->v == V_GLIBC ? glibc_exp : lt_vexp)(j->y, j->x, j->n); break;
    case K_ROWS: j->sink += (j->v == V_GLIBC ? libm_rows : kernel_rows)(j->y, j->x, j->n); break;
    }
}

/* Median over repetitions of the mean ns per element of a batch of calls
 * lasting >= 5 ms (sizing the batch is the warm-up). */
static double time_ns_per_element(job *j, int quick)
{
    long calls = bench_calls_for(run, j, quick ? 0.0 : 5e-3);
    return bench_time(run, j, calls, quick ? 1 : 7) / (double)j->n * 1e9;
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    static const int64_t sizes[] = {32 * 200, 4096 * 200};
    static const char *const size_name[] = {"train 32x200", "eval 4096x200"};
    static const int64_t row_sizes[] = {32 * ROW, 4096 * ROW};
    static const char *const row_name[] = {"train 32 rows", "eval 4096 rows"};
    lt_isa best = lt_cpu_isa_supported();

    printf("vmath: ns per element (median of 7), best ISA here: %s\n\n", lt_isa_name(best));
    printf("%-10s %-15s %10s", "function", "size", "glibc");
    for (int i = LT_ISA_GENERIC; i <= (int)best; i++)
        printf(" %10s", lt_isa_name((lt_isa)i));
    printf("   speed-up of %s over glibc\n", lt_isa_name(best));

    for (int k = K_TANH; k <= K_ROWS; k++)
        for (int s = 0; s < 2; s++) {
            int64_t n = k == K_ROWS ? row_sizes[s] : sizes[s];
            float *x = k == K_TANH  ? uniform_floats((size_t)n, -4, 4, 1)
                       : k == K_EXP ? uniform_floats((size_t)n, -10, 10, 2)
                                    : uniform_floats((size_t)n, -5, 5, 3);
            float *y = uniform_floats((size_t)n, 0, 1, 4);
            job j = {(kind)k, V_GLIBC, x, y, n, 0};
            double base = time_ns_per_element(&j, quick), last = base;
            printf("%-10s %-15s %10.3f", k == K_TANH ? "tanh" : k == K_EXP ? "exp" : "exp rows", 
                   k == K_ROWS ? row_name[s] : size_name[s], base);
            j.v = V_KERNEL;
            for (int i = LT_ISA_GENERIC; i <= (int)best; i++) {
                lt_cpu_force_isa((lt_isa)i);
                last = time_ns_per_element(&j, quick);
                printf(" %10.3f", last);
            }
            printf("   %.1fx\n", base / last);
            if (j.sink != j.sink)
                printf("(NaN)\n");
            free(x);
            free(y);
        }
    printf("\nexp rows: per row of %d logits, max + sum of exp(x - max) + exp(x - lse);\n"
           "glibc column = the double-precision libm loop ops/softmax.c used before.\n",
           ROW);
    return 0;
}
