/* dropout.c - inverted dropout: in training each element is kept with
 * probability 1 - p and scaled by 1 / (1 - p) (zeroed otherwise), so that
 * evaluation is the identity.
 *
 * The keep/drop decisions are reproducible from the caller's lt_rng: each
 * call takes ONE 64-bit draw from it (lt_rng_u64) as a key, and element i
 * uses the 16-bit field i % 4 of splitmix64(key + i / 4): kept when that
 * field is below round((1 - p) * 65536). One MT19937 draw per element cost
 * more than the matrix products of a training step (a dropout layer of
 * 256 x 512 needs 131,072 decisions); the counter-based hash is a few
 * instructions per four elements. The keep probability is exact to 2^-16.
 * The mask is never stored: the backward recomputes it from the key
 * (kernels/vdropout.c, vectorised), and both passes split across the
 * context's threads with the same bits for any thread count (each element's
 * decision depends on its index alone). */
#include "core/opkit.h"
#include "kernels/threads.h"
#include "kernels/vdropout.h"

#include <math.h>

/* One masked multiply over a tensor, split across the context's threads. */
typedef struct mask_job {
    float *y;
    const float *x;
    const lt_dropout_mask *mask; /* what the backward recomputes it from: never stored */
    lt_mask_mode mode;
} mask_job;

/* A pass over memory (a hash per four elements, a multiply, a load and a
 * store per element): about what a gemm does with 8 flops. */
#define WORK_DROPOUT 8.0
/* Blocks start at multiples of this (the AVX-512 path's 32 elements). */
#define DROPOUT_ALIGN 32

static void mask_task(void *arg, int task, int64_t begin, int64_t end)
{
    (void)task;
    const mask_job *j = arg;
    lt_vdropout(j->y + begin, j->x + begin, end - begin, begin, j->mask, j->mode);
}

static void apply_mask(lt_ctx *ctx, float *y, const float *x, int64_t n, const lt_dropout_mask *mask,
                       lt_mask_mode mode)
{
    mask_job j = {y, x, mask, mode};
    lt_parallel_for(ctx, n, DROPOUT_ALIGN, (double)n * WORK_DROPOUT, mask_task, &j);
}

static void dropout_backward(lt_ctx *ctx, lt_node *node)
{
    bool fresh;
    float *dx = lt_input_grad_fresh(ctx, node, 0, &fresh);
    if (!dx)
        return;
    /* fresh: 0 + dy * mask, the bits of an add into a cleared buffer */
    apply_mask(ctx, dx, lt_output_grad(node), lt_numel(node->out), node->saved, fresh ? LT_MASK_FRESH : LT_MASK_ADD);
}

static const lt_op dropout_op = {"dropout", dropout_backward, LT_SAVES_NONE};

lt_tensor *lt_dropout(lt_ctx *ctx, lt_tensor *x, float p, bool training, lt_rng *g)
{
    if (!lt_check_f32(ctx, "dropout", x))
        return NULL;
    if (!(p >= 0.0f && p <= 1.0f))
        return lt_fail(ctx, LT_ERR_ARG, "dropout: probability %g outside [0, 1]", (double)p);
    if (!training || p == 0.0f)
        return x; /* the identity: no copy, no node */
    if (!g)
        return lt_fail(ctx, LT_ERR_ARG, "dropout: training needs a generator (g is NULL)");
    x = lt_contiguous(ctx, x);
    if (!x)
        return NULL;
    lt_tensor *y = lt_alloc_temp(ctx, LT_F32, x->ndim, x->shape);
    lt_dropout_mask *s = lt_arena_alloc(ctx, sizeof *s); /* the node's saved data */
    if (!y || !s)
        return NULL;
    *s = lt_dropout_mask_of(lt_rng_u64(g), p);
    apply_mask(ctx, lt_f32(y), lt_f32(x), lt_numel(x), s, LT_MASK_SET);
    return lt_op_end(ctx, &dropout_op, y, 1, &x, &(lt_node_data){.saved = s});
}
