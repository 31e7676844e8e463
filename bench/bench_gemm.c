/* bench_gemm.c - SGEMM throughput at the shapes of examples/mlp_names.c.
 *
 * For every kernel the machine can run (generic, avx2, avx512), times
 * lt_sgemm_with at the training shapes (forward, dX = dY W^T, dW = X^T dY of
 * both layers, batch 32) and the evaluation shapes, with the operand layouts
 * the ops really pass (transposes are strides, not copies), accumulating into
 * C as op_linear does. Prints GFLOP/s, the fraction of the single-core peak
 * and, when built with OpenBLAS, cblas_sgemm on one thread on the same shapes.
 *
 *     bench_gemm [--quick] [--kernel generic|avx2|avx512]
 *
 * Each figure is the median over repetitions of the mean time of a batch of
 * calls (batches of >= ~2 ms, after a warm-up). --quick: a few tiny batches,
 * for CI smoke runs (the numbers are then not meaningful). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_common.h"
#include "kernels/gemm.h"

#ifdef LT_BENCH_OPENBLAS
/* Declared here rather than through cblas.h: Debian's cblas.h may be the
 * reference CBLAS header, which lacks the OpenBLAS thread controls. */
void openblas_set_num_threads(int num_threads);
char *openblas_get_corename(void);
enum { CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112 };
void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);
#endif

/* One product as an op issues it: C (m,n) += op(A) (m,k) @ op(B) (k,n);
 * ta/tb: the operand is the transpose of a row-major matrix in memory. */
typedef struct {
    const char *name;
    int m, n, k;
    int ta, tb;
} shape;

static const shape shapes[] = {
    /* training step, batch 32: emb (32,30) -> W1 (30,200) -> W2 (200,27) */
    {"fwd1 (32,30)@(30,200)", 32, 200, 30, 0, 0},
    {"fwd2 (32,200)@(200,27)", 32, 27, 200, 0, 0},
    {"dX2 (32,27)@(27,200)T", 32, 200, 27, 0, 1},
    {"dX1 (32,200)@(200,30)T", 32, 30, 200, 0, 1},
    {"dW1 (30,32)T@(32,200)", 30, 200, 32, 1, 0},
    {"dW2 (200,32)T@(32,27)", 200, 27, 32, 1, 0},
    /* dev-set evaluation, chunks of 4096 rows, and the whole set at once */
    {"eval1 (4096,30)@(30,200)", 4096, 200, 30, 0, 0},
    {"eval2 (4096,200)@(200,27)", 4096, 27, 200, 0, 0},
    {"evalall (22655,30)@(30,200)", 22655, 200, 30, 0, 0},
    /* deep_names' WIDE MLP step, batch 256: x (256,256) -> W1 (256,2048) -> W2 (2048,27) */
    {"wide fwd1 (256,256)@(256,2048)", 256, 2048, 256, 0, 0},
    {"wide fwd2 (256,2048)@(2048,27)", 256, 27, 2048, 0, 0},
    {"wide dX2 (256,27)@(27,2048)T", 256, 2048, 27, 0, 1},
    {"wide dX1 (256,2048)@(2048,256)T", 256, 256, 2048, 0, 1},
    {"wide dW1 (256,256)T@(256,2048)", 256, 2048, 256, 1, 0},
    {"wide dW2 (2048,256)T@(256,27)", 2048, 27, 256, 1, 0},
};
#define N_SHAPES (int)(sizeof shapes / sizeof shapes[0])
#define N_TRAIN 6

/* The vector width of an ISA level's kernels, for the peak. */
static int simd_bits(lt_isa isa)
{
    return isa == LT_ISA_AVX512 ? 512 : isa == LT_ISA_AVX2 ? 256 : 128;
}

typedef struct {
    float *a, *b, *c, *work;
    int64_t a_rs, a_cs, b_rs, b_cs;
} operands;

static float *random_floats(size_t n, unsigned *seed)
{
    float *x = bench_alloc(n * sizeof(float), "bench_gemm");
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        x[i] = (float)((*seed >> 8) & 0xFFFF) / 65536.0f - 0.5f;
    }
    return x;
}

static operands make_operands(const shape *s, size_t work_floats)
{
    unsigned seed = 42;
    operands o;
    o.a = random_floats((size_t)s->m * (size_t)s->k, &seed);
    o.b = random_floats((size_t)s->k * (size_t)s->n, &seed);
    o.c = random_floats((size_t)s->m * (size_t)s->n, &seed);
    o.work = random_floats(work_floats ? work_floats : 1, &seed);
    /* op(A) = A (m,k) row-major, or the transpose of a row-major (k,m) */
    o.a_rs = s->ta ? 1 : s->k;
    o.a_cs = s->ta ? s->m : 1;
    o.b_rs = s->tb ? 1 : s->n;
    o.b_cs = s->tb ? s->k : 1;
    return o;
}

static void free_operands(operands *o)
{
    free(o->a);
    free(o->b);
    free(o->c);
    free(o->work);
}

typedef struct {
    int quick;
} config;

/* Median seconds per call of fn over batches. */
typedef void (*call_fn)(const shape *s, operands *o, const void *arg);

typedef struct {
    call_fn fn;
    const shape *s;
    operands *o;
    const void *arg;
} timed_call;

static void run_call(void *arg)
{
    const timed_call *c = arg;
    c->fn(c->s, c->o, c->arg);
}

static double time_calls(const config *cfg, const shape *s, operands *o, call_fn fn, const void *arg)
{
    double flops = 2.0 * s->m * s->n * s->k;
    /* batch length: ~2 ms of work at ~50 GFLOP/s (quick: a few calls) */
    long batch = cfg->quick ? 2 : (long)(2e-3 * 50e9 / flops) + 1;
    timed_call c = {fn, s, o, arg};
    for (long i = 0; i < (cfg->quick ? 1 : batch * 5); i++) /* warm-up: caches, clocks, page faults */
        run_call(&c);
    return bench_time(run_call, &c, batch, cfg->quick ? 3 : 31);
}

static void call_ours(const shape *s, operands *o, const void *arg)
{
    lt_sgemm_with((const lt_gemm_kernel *)arg, s->m, s->n, s->k, (lt_mat){o->a, o->a_rs, o->a_cs},
                  (lt_mat){o->b, o->b_rs, o->b_cs}, (lt_mat_out){o->c, s->n, 1}, true, o->work);
}

#ifdef LT_BENCH_OPENBLAS
static void call_openblas(const shape *s, operands *o, const void *arg)
{
    (void)arg;
    /* row-major (k,m) stored A with leading dimension m is op(A) = A^T */
    cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, s->m, s->n,
                s->k, 1.0f, o->a, s->ta ? s->m : s->k, o->b, s->tb ? s->k : s->n, 1.0f, o->c, s->n);
}
#endif

static void print_row(const char *name, const char *kernel, double t, double blas, double flops, double peak)
{
    printf("%-30s %-8s %9.3f %8.1f %5.1f%%", name, kernel, t * 1e6, flops / t * 1e-9, 100.0 * flops / t / peak);
    if (blas > 0)
        printf(" | %9.3f %8.1f %5.1f%% | %6.2f", blas * 1e6, flops / blas * 1e-9, 100.0 * flops / blas / peak,
               blas / t);
    printf("\n");
}

int main(int argc, char **argv)
{
    config cfg = {0};
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            cfg.quick = 1;
        else if (strcmp(argv[i], "--kernel") == 0 && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--quick] [--kernel generic|avx2|avx512]\n", argv[0]);
            return 2;
        }
    }
    lt_isa best = lt_cpu_isa_supported();
    const bench_peak pk = bench_peak_measure(simd_bits(best));
    double peak = pk.flops;
    printf("bench_gemm: best ISA %s; clock: %.0f MHz \"cpu MHz\" in /proc/cpuinfo, %.0f MHz measured busy "
           "(dependent adds)\n",
           lt_isa_name(best), pk.cpuinfo_mhz, pk.busy_mhz);
    printf("peak = %.1f GFLOP/s single core, the higher of %.0f FLOP/cycle (%s: 2 FMA pipes x %d floats x 2) x "
           "%.0f MHz (the higher clock) = %.1f (%.1f at the /proc/cpuinfo clock) and a loop of independent FMAs, "
           "measured: %.1f%s\n",
           peak * 1e-9, pk.flop_per_cycle, lt_isa_name(best), (int)pk.flop_per_cycle / 4, pk.mhz,
           pk.clock_flops * 1e-9, pk.cpuinfo_mhz * 1e6 * pk.flop_per_cycle * 1e-9, pk.fma_flops * 1e-9,
           cfg.quick ? "\n--quick: smoke run, numbers not meaningful" : "");
#ifdef LT_BENCH_OPENBLAS
    openblas_set_num_threads(1);
    printf("OpenBLAS core: %s, 1 thread\n", openblas_get_corename());
#else
    printf("OpenBLAS: not found at build time (no comparison)\n");
#endif
    printf("C += op(A) op(B), median of batches; ratio = ours / OpenBLAS (>1: ours faster)\n\n");
    printf("%-30s %-8s %9s %8s %6s", "shape (m,k)@(k,n)", "kernel", "us/call", "GFLOP/s", "%peak");
#ifdef LT_BENCH_OPENBLAS
    printf(" | %9s %8s %6s | %6s", "BLAS us", "GFLOP/s", "%peak", "ratio");
#endif
    printf("\n");
    /* per kernel: summed time of the six training products (one step) */
    double step[3] = {0, 0, 0}, step_blas = 0, step_flops = 0;
    for (int si = 0; si < N_SHAPES; si++) {
        const shape *s = &shapes[si];
        double flops = 2.0 * s->m * s->n * s->k;
        size_t wf = 0;
        for (int isa = LT_ISA_GENERIC; isa <= (int)best; isa++) {
            size_t w = lt_sgemm_work_floats_with(lt_gemm_kernel_for((lt_isa)isa), s->m, s->n, s->k);
            wf = w > wf ? w : wf;
        }
        operands o = make_operands(s, wf);
        double blas = 0;
#ifdef LT_BENCH_OPENBLAS
        blas = time_calls(&cfg, s, &o, call_openblas, NULL);
#endif
        if (si < N_TRAIN) {
            step_blas += blas;
            step_flops += flops;
        }
        for (int isa = LT_ISA_GENERIC; isa <= (int)best; isa++) {
            const lt_gemm_kernel *k = lt_gemm_kernel_for((lt_isa)isa);
            if (!k || (only && strcmp(only, k->name) != 0))
                continue;
            double t = time_calls(&cfg, s, &o, call_ours, k);
            if (si < N_TRAIN)
                step[isa] += t;
            print_row(s->name, k->name, t, blas, flops, peak);
        }
        if (si == N_TRAIN - 1) {
            for (int isa = LT_ISA_GENERIC; isa <= (int)best; isa++)
                if (step[isa] > 0)
                    print_row("train step (the 6 above)", lt_isa_name((lt_isa)isa), step[isa], step_blas, step_flops,
                              peak);
            printf("\n");
        }
        free_operands(&o);
    }
    return 0;
}
