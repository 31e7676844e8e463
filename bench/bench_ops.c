/* bench_ops.c - the time of single small ops as a training step runs them:
 * layernorm and a residual add on a (rows, cols) activation, forward alone
 * and forward + backward, each call on a freshly reset context. The default
 * (512, 64) is makemore's transformer (batch 32 x block 16, n_embd 64),
 * whose step runs nine layernorms and eight adds; their cost per row, not
 * per element, is what decides whether they split across threads.
 *
 *   bench_ops [--rows N] [--cols N] [--threads N]
 *
 * Prints the best and the median of 7 batches of the mean time per call,
 * and ns per element. Figures only; nothing asserted. */
#include "bench_common.h"
#include "libtensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bench_case {
    lt_ctx *ctx;
    lt_tensor *x, *x2, *g, *b, *dy;
    int kind; /* 0 layernorm, 1 layernorm + backward, 2 add, 3 add + backward */
} bench_case;

static const char *const KIND_NAMES[] = {"layernorm", "layernorm + backward", "add", "add + backward"};

static void one_call(void *arg)
{
    bench_case *c = arg;
    lt_ctx_reset(c->ctx);
    lt_tensor *y = c->kind < 2 ? lt_layernorm(c->ctx, c->x, c->g, c->b, 1e-5f) : lt_add(c->ctx, c->x, c->x2);
    if (c->kind % 2)
        lt_backward_grad(c->ctx, y, c->dy);
}

static lt_tensor *param(lt_ctx *ctx, lt_rng *rng, int64_t rows, int64_t cols, bool grad)
{
    lt_tensor *t = lt_new(ctx, LT_F32, rows ? LT_SHAPE(rows, cols) : LT_SHAPE(cols));
    if (t && !lt_randn_fill(ctx, rng, t))
        return NULL;
    lt_tensor *p = t ? lt_new_copy(ctx, t) : NULL; /* persistent: survives the resets */
    return p && grad ? lt_requires_grad(ctx, p, true) : p;
}

int main(int argc, char **argv)
{
    long rows = 512, cols = 64, threads = 1;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--rows") == 0)
            rows = atol(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--cols") == 0)
            cols = atol(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--threads") == 0)
            threads = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_ops [--rows N] [--cols N] [--threads N]\n");
            return 2;
        }
    }
    if (rows < 1 || cols < 1 || rows * cols > (1L << 26) || threads < 1 || threads > 64) {
        fprintf(stderr, "bench_ops: rows and cols must be >= 1 (at most 2^26 elements), threads 1..64\n");
        return 2;
    }
    lt_ctx *ctx = lt_ctx_new();
    lt_rng rng;
    lt_rng_seed(&rng, 1);
    bench_case c = {ctx, NULL, NULL, NULL, NULL, NULL, 0};
    if (!ctx || !lt_set_threads(ctx, (int)threads) || !(c.x = param(ctx, &rng, rows, cols, true)) ||
        !(c.x2 = param(ctx, &rng, rows, cols, true)) || !(c.g = param(ctx, &rng, 0, cols, true)) ||
        !(c.b = param(ctx, &rng, 0, cols, true)) || !(c.dy = param(ctx, &rng, rows, cols, false))) {
        fprintf(stderr, "bench_ops: %s\n", ctx ? lt_error_message(ctx) : "out of memory");
        lt_ctx_free(ctx);
        return 1;
    }
    char load[128];
    bench_load_average(load, sizeof load);
    printf("bench_ops: (%ld, %ld), %ld thread(s); load average %s\n", rows, cols, threads, load);
    for (c.kind = 0; c.kind < 4; c.kind++) {
        long calls = bench_calls_for(one_call, &c, 0.05);
        double t[7];
        for (int r = 0; r < 7; r++)
            t[r] = bench_time(one_call, &c, calls, 1);
        double best = t[0];
        for (int r = 1; r < 7; r++)
            best = t[r] < best ? t[r] : best;
        if (lt_status_of(ctx) != LT_OK) {
            fprintf(stderr, "bench_ops: %s\n", lt_error_message(ctx));
            lt_ctx_free(ctx);
            return 1;
        }
        printf("%-22s %9.2f us best  %9.2f us median  %7.3f ns/element\n", KIND_NAMES[c.kind], best * 1e6,
               bench_median(t, 7) * 1e6, best * 1e9 / (double)(rows * cols));
    }
    lt_ctx_free(ctx);
    return 0;
}
