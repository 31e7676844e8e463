/* bench_ops.c - the time of single small ops as a training step runs them:
 * layernorm and a residual add on a (rows, cols) activation, forward alone
 * and forward + backward, and a hidden layer's layernorm -> relu ->
 * dropout (p 0.4) forward + backward as three ops and as the one fused op
 * lt_layernorm_act_dropout, each call on a freshly reset context. The
 * default (512, 64) is makemore's transformer (batch 32 x block 16, n_embd
 * 64), whose step runs nine layernorms and eight adds; their cost per row,
 * not per element, is what decides whether they split across threads.
 * deep_names' wide MLP is --rows 256 --cols 2048.
 *
 *   bench_ops [--rows N] [--cols N] [--threads N]
 *
 * Prints the best and the median of 7 batches of the mean time per call,
 * and ns per element; the batches of the cases alternate, so a change in
 * the machine's speed reaches them all alike. Figures only; nothing
 * asserted. */
#include "bench_common.h"
#include "libtensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bench_case {
    lt_ctx *ctx;
    lt_tensor *x, *x2, *g, *b, *dy;
    lt_rng rng;
    int kind; /* an index of KIND_NAMES */
} bench_case;

static const char *const KIND_NAMES[] = {"layernorm",      "layernorm + backward",    "add",
                                         "add + backward", "ln,relu,drop + backward", "fused + backward"};
#define KINDS 6
#define DROPOUT_P 0.4f

static void one_call(void *arg)
{
    bench_case *c = arg;
    lt_ctx *ctx = c->ctx;
    lt_ctx_reset(ctx);
    lt_tensor *y;
    if (c->kind < 2)
        y = lt_layernorm(ctx, c->x, c->g, c->b, 1e-5f);
    else if (c->kind < 4)
        y = lt_add(ctx, c->x, c->x2);
    else if (c->kind == 4)
        y = lt_dropout(ctx, lt_relu(ctx, lt_layernorm(ctx, c->x, c->g, c->b, 1e-5f)), DROPOUT_P, true, &c->rng);
    else
        y = lt_layernorm_act_dropout(ctx, c->x, c->g, c->b, 1e-5f, LT_ACT_RELU, DROPOUT_P, true, &c->rng);
    if (c->kind % 2 || c->kind >= 4) /* the cases with a backward */
        lt_backward_grad(ctx, y, c->dy);
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
    bench_case c = {ctx, NULL, NULL, NULL, NULL, NULL, rng, 0};
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
    long calls[KINDS];
    double t[KINDS][7];
    for (c.kind = 0; c.kind < KINDS; c.kind++)
        calls[c.kind] = bench_calls_for(one_call, &c, 0.05);
    for (int r = 0; r < 7; r++)
        for (c.kind = 0; c.kind < KINDS; c.kind++)
            t[c.kind][r] = bench_time(one_call, &c, calls[c.kind], 1);
    if (lt_status_of(ctx) != LT_OK) {
        fprintf(stderr, "bench_ops: %s\n", lt_error_message(ctx));
        lt_ctx_free(ctx);
        return 1;
    }
    for (int k = 0; k < KINDS; k++) {
        double best = t[k][0];
        for (int r = 1; r < 7; r++)
            best = t[k][r] < best ? t[k][r] : best;
        printf("%-23s %9.2f us best  %9.2f us median  %7.3f ns/element\n", KIND_NAMES[k], best * 1e6,
               bench_median(t[k], 7) * 1e6, best * 1e9 / (double)(rows * cols));
    }
    lt_ctx_free(ctx);
    return 0;
}
