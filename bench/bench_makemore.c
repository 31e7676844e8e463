/* bench_makemore.c - training speed of makemore's six models
 * (examples/makemore) at makemore.py's defaults: batch 32, block 16, vocab
 * 27, n_layer 4, n_head 4, n_embd 64, n_embd2 64.
 *
 *     bench_makemore [--type T] [--threads N] [--time S] [--quick] [--profile]
 *
 * One step is what makemore's training loop does per batch: lt_ctx_reset,
 * zero the gradients, logits, cross-entropy ignoring -1, backward, AdamW
 * (lr 5e-4, betas 0.9/0.99, eps 1e-8, weight decay 0.01). The batch is
 * random tokens with the targets after a random stop set to -1 (drawn
 * once, as bench/torch_makemore.py does). Printed per type: steps/s (wall
 * and process CPU time: the median of 5 batches of steps lasting >= S/5
 * seconds each, after a warm-up), the matmul FLOPs of a step counted from
 * the shapes (forward products, backward twice as many; the rest is not
 * counted) and GFLOP/s, and the allocations over the timed steps: arena
 * chunks (lt_ctx_arena_allocations) and, in builds without sanitizers on
 * glibc, every malloc/calloc/realloc of the process (counted by wrapping
 * them). Lines starting with "result" are for bench/compare_makemore.sh.
 * The machine load (/proc/loadavg) is printed: figures taken on a loaded
 * machine are not comparable. --quick: a few steps (CI smoke runs).
 * --profile: after the timing, as many steps again under lt_profile_start,
 * and the time of each op (lt_profile_print); the timed figures above it
 * are taken without the profiler. */
#define _GNU_SOURCE

#include "bench_common.h"
#include "libtensor.h"
#include "model.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 32
#define BLOCK 16
#define VOCAB 27

/* ---- counting the process's heap allocations --------------------------- */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BENCH_NO_MALLOC_COUNT
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define BENCH_NO_MALLOC_COUNT
#endif
#endif

#if defined(__GLIBC__) && !defined(BENCH_NO_MALLOC_COUNT)
#define BENCH_COUNTS_MALLOC 1
static atomic_long heap_allocations;
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
/* glibc's allocator, counted (posix_memalign / aligned_alloc are left
 * uncounted: the library's steady state calls none of these anyway). */
void *malloc(size_t n)
{
    atomic_fetch_add_explicit(&heap_allocations, 1, memory_order_relaxed);
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t size)
{
    atomic_fetch_add_explicit(&heap_allocations, 1, memory_order_relaxed);
    return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n)
{
    atomic_fetch_add_explicit(&heap_allocations, 1, memory_order_relaxed);
    return __libc_realloc(p, n);
}
static long heap_count(void) { return atomic_load(&heap_allocations); }
#else
#define BENCH_COUNTS_MALLOC 0
static long heap_count(void) { return 0; }
#endif

/* ---- one training step ----------------------------------------------------- */

typedef struct {
    lt_ctx *ctx;
    mm_model m;
    lt_optim *opt;
    int32_t x[BATCH * BLOCK], y[BATCH * BLOCK];
    bool failed;
} job;

static void step(void *arg)
{
    job *j = arg;
    lt_ctx *ctx = j->ctx;
    lt_ctx_reset(ctx);
    lt_optim_zero_grad(j->opt);
    lt_tensor *x = lt_from_i32(ctx, LT_SHAPE(BATCH, BLOCK), j->x);
    lt_tensor *y = lt_from_i32(ctx, LT_SHAPE(BATCH, BLOCK), j->y);
    lt_tensor *loss = lt_cross_entropy_ignore(ctx, j->m.logits(ctx, &j->m, x), y, -1);
    if (!loss || !lt_backward(ctx, loss) || !lt_optim_step(j->opt))
        j->failed = true;
}

/* Random tokens; each target row stops (0) at a random place, -1 after. */
static void make_batch(job *j)
{
    lt_rng g;
    lt_rng_seed(&g, 1);
    lt_rng_randint(&g, 1, VOCAB, j->x, BATCH * BLOCK);
    lt_rng_randint(&g, 1, VOCAB, j->y, BATCH * BLOCK);
    int32_t stops[BATCH];
    lt_rng_randint(&g, 3, BLOCK, stops, BATCH);
    for (int b = 0; b < BATCH; b++)
        for (int t = stops[b]; t < BLOCK; t++)
            j->y[b * BLOCK + t] = t == stops[b] ? 0 : -1;
}

/* ---- FLOPs: the matrix products of one step, from the shapes ------------ */

static double matmul_flops(double m, double k, double n) { return 2.0 * m * k * n; }

static double forward_flops(const mm_config *c)
{
    double N = (double)BATCH * BLOCK, E = c->n_embd, E2 = c->n_embd2, V = c->vocab_size, T = BLOCK;
    switch (c->type) {
    case MM_BIGRAM: return 0; /* a table lookup */
    case MM_MLP: return matmul_flops(N, T * E, E2) + matmul_flops(N, E2, V);
    case MM_RNN: return matmul_flops(N, E + E2, E2) + matmul_flops(N, E2, V);
    case MM_GRU: return 3 * matmul_flops(N, E + E2, E2) + matmul_flops(N, E2, V);
    case MM_BOW:
        return BATCH * matmul_flops(T, T, E) + matmul_flops(N, E, E2) + matmul_flops(N, E2, E) +
               matmul_flops(N, E, V);
    case MM_TRANSFORMER: {
        double hs = E / c->n_head, attention = 2 * BATCH * c->n_head * matmul_flops(T, hs, T); /* q k^T, p v */
        double layer = matmul_flops(N, E, 3 * E) + attention + matmul_flops(N, E, E) + 2 * matmul_flops(N, E, 4 * E);
        return c->n_layer * layer + matmul_flops(N, E, V);
    }
    default: return 0;
    }
}

/* ---- timing -------------------------------------------------------------------- */

/* `calls` more steps under the op profiler, and its table; j->failed when
 * the profiler or a step failed (then no table). */
static void profile_steps(job *j, long calls)
{
    j->failed = !lt_profile_start(j->ctx);
    for (long s = 0; s < calls && !j->failed; s++)
        step(j);
    lt_profile_stop(j->ctx);
    if (j->failed)
        return;
    printf("profile of %ld steps (lt_profile_print):\n", calls);
    lt_profile_print(j->ctx, stdout);
}

/* 1 with the context's error on stderr when a step failed, else 0. */
static int failure(const job *j, mm_type type)
{
    if (!j->failed)
        return 0;
    fprintf(stderr, "bench_makemore: %s: %s\n", mm_type_name(type), lt_error_message(j->ctx));
    return 1;
}

static int bench_type(mm_type type, int threads, double seconds, bool quick, bool profile)
{
    job *j = calloc(1, sizeof *j);
    if (!j || !(j->ctx = lt_ctx_new()) || !lt_set_threads(j->ctx, threads)) {
        fprintf(stderr, "bench_makemore: cannot make a context with %d threads\n", threads);
        return 1;
    }
    mm_config cfg = {type, VOCAB, BLOCK, 4, 4, 64, 64};
    lt_rng g;
    lt_rng_seed(&g, 3407);
    lt_optim_config oc = lt_optim_defaults(LT_OPTIM_ADAMW, 5e-4f);
    oc.beta1 = 0.9f;
    oc.beta2 = 0.99f;
    oc.eps = 1e-8f;
    oc.weight_decay = 0.01f;
    if (!mm_model_create(j->ctx, &cfg, &g, &j->m) ||
        !(j->opt = lt_optim_new(j->ctx, &oc, j->m.param, j->m.n_param))) {
        fprintf(stderr, "bench_makemore: %s\n", lt_error_message(j->ctx));
        return 1;
    }
    make_batch(j);
    long calls = bench_calls_for(step, j, quick ? 0.0 : seconds / 5); /* the warm-up */
    int reps = quick ? 1 : 5;
    size_t arena0 = lt_ctx_arena_allocations(j->ctx);
    long heap0 = heap_count();
    double w, c;
    bench_time_wall_cpu(step, j, calls, reps, &w, &c);
    long heap = heap_count() - heap0;
    size_t arena = lt_ctx_arena_allocations(j->ctx) - arena0;
    if (failure(j, type))
        return 1;
    double flops = 3 * forward_flops(&cfg);
    char heap_text[48];
    if (BENCH_COUNTS_MALLOC)
        snprintf(heap_text, sizeof heap_text, "%ld", heap);
    else
        snprintf(heap_text, sizeof heap_text, "not counted");
    printf("%-11s params %7lld  %8.2f steps/s (cpu %8.2f)  %7.2f ms/step  %6.1f MFLOP/step  %6.2f GFLOP/s"
           "  allocations over %ld steps: arena %zu, heap %s\n",
           mm_type_name(type), (long long)mm_param_count(&j->m), 1 / w, 1 / c, w * 1e3, flops * 1e-6,
           flops / w * 1e-9, calls * reps, arena, heap_text);
    printf("result lt %s %d %.2f %.2f\n", mm_type_name(type), threads, 1 / w, 1 / c);
    if (profile)
        profile_steps(j, calls);
    fflush(stdout);
    if (failure(j, type))
        return 1;
    lt_optim_free(j->opt);
    mm_model_free(&j->m);
    lt_ctx_free(j->ctx);
    free(j);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_makemore [--type bigram|mlp|rnn|gru|bow|transformer] [--threads N] [--time S] "
                    "[--quick] [--profile]\n");
    return 2;
}

int main(int argc, char **argv)
{
    int threads = 1, only = -1;
    double seconds = 2.0;
    bool quick = false, profile = false;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--quick") == 0) {
            quick = true;
        } else if (strcmp(argv[i], "--profile") == 0) {
            profile = true;
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 64)
                return usage();
            threads = (int)v;
        } else if (strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
            seconds = strtod(argv[++i], &end);
            if (*end || !(seconds > 0 && seconds <= 600))
                return usage();
        } else if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
            i++;
            for (int t = 0; t < MM_N_TYPES; t++)
                if (strcmp(argv[i], mm_type_name((mm_type)t)) == 0)
                    only = t;
            if (only < 0)
                return usage();
        } else {
            return usage();
        }
    }
    char load[128];
    bench_load_average(load, sizeof load);
    printf("bench_makemore: batch %d, block %d, vocab %d, %d thread%s; load average %s\n", BATCH, BLOCK, VOCAB,
           threads, threads > 1 ? "s" : "", load);
    for (int t = 0; t < MM_N_TYPES; t++)
        if ((only < 0 || only == t) && bench_type((mm_type)t, threads, seconds, quick, profile))
            return 1;
    return 0;
}
