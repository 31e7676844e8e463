/* op_dropout.c - inverted dropout: in training each element is kept with
 * probability 1 - p and scaled by 1 / (1 - p) (zeroed otherwise), so that
 * evaluation is the identity. The keep/drop decisions come from the caller's
 * lt_rng (one lt_rng_uniform draw per element, in row-major order: element
 * kept when u < 1 - p), so a run is reproducible from the generator's seed. */
#include "internal.h"

#include <math.h>

static void dropout_backward(lt_ctx *ctx, lt_node *node)
{
    lt_tensor *x = node->in[0];
    float *dx = lt_want_grad(x) ? lt_grad_buffer(ctx, x) : NULL;
    if (!dx)
        return;
    const float *mask = node->saved, *dy = lt_g(node->out);
    for (int64_t i = 0, n = lt_numel(x); i < n; i++)
        dx[i] += dy[i] * mask[i];
}

static const lt_op dropout_op = {"dropout", dropout_backward};

lt_tensor *lt_dropout(lt_ctx *ctx, lt_tensor *x, float p, bool training, lt_rng *g)
{
    if (!lt_check_args(ctx, "dropout", 1, &x))
        return NULL;
    if (x->dtype != LT_F32)
        return lt_fail(ctx, LT_ERR_DTYPE, "dropout: needs an f32 tensor, got %s", lt_dtype_name(x->dtype));
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
    const float *xv = lt_f32(x);
    float *yv = lt_f32(y);
    for (int64_t i = 0; i < n; i++) {
        mask[i] = lt_rng_uniform(g) < keep ? scale : 0.0f;
        yv[i] = xv[i] * mask[i];
    }
    lt_node *node;
    if (!lt_maybe_record(ctx, &dropout_op, y, 1, &x, &node))
        return NULL;
    if (node)
        node->saved = mask;
    return y;
}
