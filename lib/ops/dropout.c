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
 * instructions per four elements. The keep probability is exact to 2^-16. */
#include "core/opkit.h"

#include <math.h>

/* splitmix64's output function (Steele, Lea, Flood 2014). */
static inline uint64_t splitmix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* mask[i] = scale when element i is kept, else 0. */
static void make_mask(float *restrict mask, int64_t n, uint64_t key, float keep, float scale)
{
    const uint32_t threshold = (uint32_t)lrintf(keep * 65536.0f); /* field < threshold: kept */
    for (int64_t i = 0; i < n; i += 4) {
        uint64_t bits = splitmix64(key + (uint64_t)(i / 4));
        for (int64_t k = 0; k < 4 && i + k < n; k++)
            mask[i + k] = (uint32_t)((bits >> (16 * k)) & 0xffffu) < threshold ? scale : 0.0f;
    }
}

static void dropout_backward(lt_ctx *ctx, lt_node *node)
{
    float *dx = lt_input_grad(ctx, node, 0);
    if (!dx)
        return;
    const float *mask = node->saved, *dy = lt_output_grad(node);
    for (int64_t i = 0, n = lt_numel(node->out); i < n; i++)
        dx[i] += dy[i] * mask[i];
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
    int64_t n = lt_numel(x);
    lt_tensor *y = lt_alloc_temp(ctx, LT_F32, x->ndim, x->shape);
    float *mask = lt_arena_alloc(ctx, sizeof(float) * (size_t)(n ? n : 1));
    if (!y || !mask)
        return NULL;
    const float keep = 1.0f - p, scale = p < 1.0f ? 1.0f / keep : 0.0f;
    make_mask(mask, n, lt_rng_u64(g), keep, scale);
    const float *xv = lt_f32(x);
    float *yv = lt_f32(y);
    for (int64_t i = 0; i < n; i++)
        yv[i] = xv[i] * mask[i];
    return lt_op_end(ctx, &dropout_op, y, 1, &x, &(lt_node_data){.saved = mask});
}
