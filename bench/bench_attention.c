/* bench_attention.c - lt_scaled_dot_product_attention against the same
 * attention composed from the library's ops, forward + backward, at
 * makemore's shape (B 32, H 4, T 16, D 16) and a long one (B 8, H 8, T 256,
 * D 64), causal and not.
 *
 *     bench_attention [--quick] [--threads N] [--shape B,H,T,D] [--causal 0|1] [--only fused|composed]
 *
 * One step = lt_ctx_reset, zero the three input gradients, forward,
 * lt_backward_grad with a fixed upstream gradient: what a training step
 * spends on attention. The composed version is what a user writes, op for
 * op makemore.py's CausalSelfAttention, on the (B, H, T, D) tensors:
 *     att = lt_mul_scalar(lt_matmul(q, lt_transpose(k, -2, -1)), scale)
 *     att = lt_masked_fill(att, future, -INFINITY)     (when causal)
 *     y = lt_matmul(lt_softmax(att, -1), v)
 * future = lt_triu(lt_ones(T, T), 1), made once (makemore's `bias` buffer;
 * 1 where bias == 0).
 *
 * FLOPs counted (useful work, the recomputation in the fused backward not
 * included): 12 * B * H * D * pairs, pairs = T^2, or T(T+1)/2 (the visible
 * query-key pairs) when causal: forward q k^T and P v (2 * pairs * D each),
 * backward dv, dP, dq, dk (the same four times).
 *
 * Each figure is the median over repetitions of the mean time of a batch of
 * steps lasting >= ~20 ms, after a warm-up; wall-clock time, and the
 * process's CPU time (on one thread, the fairer figure on a loaded machine).
 * The fused and composed batches alternate; "paired" is the median of the
 * repetitions' composed/fused CPU-time ratios, the steadiest figure when
 * the load changes during a run. Lines starting with "result"
 * are for bench/compare_attention.sh. The machine load (/proc/loadavg) is
 * printed: figures taken on a loaded machine are not comparable. --quick: a
 * few steps, numbers not meaningful (CI smoke runs). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "libtensor.h"

typedef struct {
    int64_t b, h, t, d;
} attn_shape;

typedef struct {
    lt_ctx *ctx;
    attn_shape s;
    bool causal, composed;
    lt_tensor *q, *k, *v, *g, *future; /* persistent; future (T,T): 1 above the diagonal */
} step_job;

static lt_tensor *composed(step_job *j)
{
    lt_ctx *ctx = j->ctx;
    float scale = (float)(1.0 / sqrt((double)j->s.d));
    lt_tensor *att = lt_mul_scalar(ctx, lt_matmul(ctx, j->q, lt_transpose(ctx, j->k, -2, -1)), scale);
    if (j->causal)
        att = lt_masked_fill(ctx, att, j->future, -INFINITY);
    return lt_matmul(ctx, lt_softmax(ctx, att, -1), j->v);
}

static void step(void *arg)
{
    step_job *j = arg;
    lt_ctx_reset(j->ctx);
    lt_zero_grad(j->q);
    lt_zero_grad(j->k);
    lt_zero_grad(j->v);
    lt_tensor *y =
        j->composed ? composed(j) : lt_scaled_dot_product_attention(j->ctx, j->q, j->k, j->v, j->causal, NAN);
    if (!y || !lt_backward_grad(j->ctx, y, j->g)) {
        fprintf(stderr, "bench_attention: %s\n", lt_error_message(j->ctx));
        exit(1);
    }
}

static lt_tensor *uniform(lt_ctx *ctx, lt_shape shape, unsigned seed)
{
    lt_tensor *t = lt_new(ctx, LT_F32, shape);
    if (!t) {
        fprintf(stderr, "bench_attention: %s\n", lt_error_message(ctx));
        exit(1);
    }
    float *x = lt_data_f32(t);
    for (int64_t i = 0, n = lt_numel(t); i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = (float)((seed >> 8) & 0xFFFFFF) / 8388608.0f - 1.0f;
    }
    return t;
}

typedef struct {
    double wall, cpu; /* seconds per step: medians over repetitions */
} timing;

/* Medians over repetitions of batches of >= 20 ms (sizing the batch is the
 * warm-up) of the versions in `which` (1 fused, 2 composed, 3 both), into
 * t[1] and t[2]. With both, their batches alternate, fused then composed,
 * so that a change in the machine's load or clock hits both alike, and
 * *ratio is the median of the repetitions' composed/fused CPU-time ratios. */
static void time_steps(step_job *j, int which, int quick, timing t[3], double *ratio)
{
    long calls[3] = {0, 0, 0};
    for (int v = 1; v <= 2; v++)
        if (which & v) {
            j->composed = v == 2;
            calls[v] = bench_calls_for(step, j, quick ? 0.0 : 20e-3);
        }
    int reps = quick ? 1 : 9;
    double wall[3][BENCH_MAX_REPS], cpu[3][BENCH_MAX_REPS], ratios[BENCH_MAX_REPS];
    for (int r = 0; r < reps; r++) {
        for (int v = 1; v <= 2; v++) {
            if (!(which & v))
                continue;
            j->composed = v == 2;
            double w0 = bench_now(), c0 = bench_cpu_now();
            for (long c = 0; c < calls[v]; c++)
                step(j);
            wall[v][r] = (bench_now() - w0) / (double)calls[v];
            cpu[v][r] = (bench_cpu_now() - c0) / (double)calls[v];
        }
        ratios[r] = which == 3 ? cpu[2][r] / cpu[1][r] : 0;
    }
    for (int v = 1; v <= 2; v++)
        if (which & v)
            t[v] = (timing){bench_median(wall[v], reps), bench_median(cpu[v], reps)};
    *ratio = bench_median(ratios, reps);
}

static double useful_flops(attn_shape s, bool causal)
{
    double pairs = causal ? (double)s.t * (double)(s.t + 1) / 2 : (double)s.t * (double)s.t;
    return 12.0 * (double)s.b * (double)s.h * (double)s.d * pairs;
}

/* which: 1 fused, 2 composed, 3 both */
static void bench_case(attn_shape s, bool causal, int threads, int quick, int which)
{
    lt_ctx *ctx = lt_ctx_new();
    if (!ctx || !lt_set_threads(ctx, threads)) {
        fprintf(stderr, "bench_attention: cannot make a context with %d threads\n", threads);
        exit(1);
    }
    lt_shape shape = LT_SHAPE(s.b, s.h, s.t, s.d);
    step_job j = {ctx,
                  s,
                  causal,
                  false,
                  uniform(ctx, shape, 1),
                  uniform(ctx, shape, 2),
                  uniform(ctx, shape, 3),
                  uniform(ctx, shape, 4),
                  lt_new_copy(ctx, lt_triu(ctx, lt_ones(ctx, LT_SHAPE(s.t, s.t)), 1))};
    if (!j.future) {
        fprintf(stderr, "bench_attention: %s\n", lt_error_message(ctx));
        exit(1);
    }
    lt_requires_grad(ctx, j.q, true);
    lt_requires_grad(ctx, j.k, true);
    lt_requires_grad(ctx, j.v, true);
    double flops = useful_flops(s, causal);
    timing t[3] = {{0, 0}, {0, 0}, {0, 0}}; /* [1] fused, [2] composed */
    double ratio;
    time_steps(&j, which, quick, t, &ratio);
    printf("(%lld,%lld,%lld,%lld) %-6s", (long long)s.b, (long long)s.h, (long long)s.t, (long long)s.d,
           causal ? "causal" : "full");
    for (int v = 1; v <= 2; v++)
        if (which & v)
            printf("  %s %9.1f us (cpu %9.1f) %6.1f GFLOP/s", v == 1 ? "fused" : "composed", t[v].wall * 1e6,
                   t[v].cpu * 1e6, flops / t[v].wall * 1e-9);
    if (which == 3)
        printf("  composed/fused %.2fx (cpu %.2fx, paired %.2fx)", t[2].wall / t[1].wall, t[2].cpu / t[1].cpu, ratio);
    printf("\n");
    for (int v = 1; v <= 2; v++)
        if (which & v)
            printf("result %s %lld %lld %lld %lld %d wall_us %.3f cpu_us %.3f\n", v == 1 ? "fused" : "composed",
                   (long long)s.b, (long long)s.h, (long long)s.t, (long long)s.d, causal, t[v].wall * 1e6,
                   t[v].cpu * 1e6);
    if (which == 3)
        printf("result paired %lld %lld %lld %lld %d composed_over_fused_cpu %.4f\n", (long long)s.b, (long long)s.h,
               (long long)s.t, (long long)s.d, causal, ratio);
    lt_ctx_free(ctx);
}

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--quick] [--threads N] [--shape B,H,T,D] [--causal 0|1] [--only fused|composed]\n",
            prog);
    return 2;
}

int main(int argc, char **argv)
{
    int quick = 0, threads = 1, only_causal = -1, which = 3;
    bool one_shape = false;
    attn_shape shapes[2] = {{32, 4, 16, 16}, {8, 8, 256, 64}};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            i++;
            which = strcmp(argv[i], "fused") == 0 ? 1 : strcmp(argv[i], "composed") == 0 ? 2 : 0;
            if (!which)
                return usage(argv[0]);
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--causal") == 0 && i + 1 < argc)
            only_causal = atoi(argv[++i]) != 0;
        else if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc) {
            long long b, h, t, d;
            if (sscanf(argv[++i], "%lld,%lld,%lld,%lld", &b, &h, &t, &d) != 4 || b < 1 || h < 1 || t < 1 || d < 1)
                return usage(argv[0]);
            shapes[0] = (attn_shape){b, h, t, d};
            one_shape = true;
        } else
            return usage(argv[0]);
    }
    if (threads < 1 || threads > 64)
        return usage(argv[0]);
    if (quick) /* smoke run: small shapes, one step each */
        shapes[1] = (attn_shape){2, 2, 40, 8};
    char load[128];
    bench_load_average(load, sizeof load);
    printf("attention forward + backward, %d thread(s); load average %s\n", threads, load);
    printf("FLOPs: 12*B*H*D*pairs (pairs T^2, causal T(T+1)/2)%s\n", quick ? "; --quick: numbers not meaningful" : "");
    for (int s = 0; s < (one_shape ? 1 : 2); s++)
        for (int c = 1; c >= 0; c--)
            if (only_causal < 0 || only_causal == c)
                bench_case(shapes[s], c, threads, quick, which);
    bench_load_average(load, sizeof load);
    printf("load average after: %s\n", load);
    return 0;
}
