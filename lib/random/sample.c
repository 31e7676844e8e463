/* sample.c - torch.multinomial(probs, 1) per row and torch.randperm(n) as
 * tensors, drawing exactly what PyTorch 1.13 draws on the CPU. */
#include "core/internal.h"
#include "random/rng_internal.h"

#include <math.h>

/* torch.multinomial's limit on the number of categories. */
#define MULTINOMIAL_MAX_CATEGORIES (INT64_C(1) << 24)

static bool check_probs_layout(lt_ctx *ctx, const lt_tensor *probs)
{
    char buf[64];
    if (probs->dtype != LT_F32) {
        lt_fail(ctx, LT_ERR_DTYPE, "multinomial: probabilities must be F32, got %s", lt_dtype_name(probs->dtype));
        return false;
    }
    if (probs->ndim != 1 && probs->ndim != 2) {
        lt_fail(ctx, LT_ERR_SHAPE, "multinomial: probabilities %s must be (C,) or (N,C)",
                lt_tensor_shape_str(probs, buf, sizeof buf));
        return false;
    }
    int64_t c = probs->shape[probs->ndim - 1];
    if (lt_numel(probs) == 0 || c > MULTINOMIAL_MAX_CATEGORIES) {
        lt_fail(ctx, LT_ERR_SHAPE, "multinomial: probabilities %s: need 1 to 2^24 categories and 1 or more rows",
                lt_tensor_shape_str(probs, buf, sizeof buf));
        return false;
    }
    if (!lt_is_contiguous(probs)) {
        /* torch draws in the memory order of the probabilities */
        lt_fail(ctx, LT_ERR_ARG, "multinomial: probabilities must be contiguous (use lt_contiguous)");
        return false;
    }
    return true;
}

/* As torch, every row is checked before anything is drawn: all weights
 * finite and >= 0, and in each row at least one > 0. */
static bool check_probs_values(lt_ctx *ctx, const float *p, int64_t rows, int64_t c)
{
    for (int64_t r = 0; r < rows; r++) {
        bool any_positive = false;
        for (int64_t i = 0; i < c; i++) {
            float w = p[r * c + i];
            if (!(w >= 0.0f) || isinf(w)) {
                lt_fail(ctx, LT_ERR_ARG, "multinomial: probs[%lld,%lld] = %g: every weight must be finite and >= 0",
                        (long long)r, (long long)i, (double)w);
                return false;
            }
            any_positive |= w > 0.0f;
        }
        if (!any_positive) {
            lt_fail(ctx, LT_ERR_ARG, "multinomial: row %lld has no positive weight (sum 0)", (long long)r);
            return false;
        }
    }
    return true;
}

lt_tensor *lt_multinomial(lt_ctx *ctx, lt_rng *g, lt_tensor *probs)
{
    if (!lt_check_args(ctx, "multinomial", 1, &probs))
        return NULL;
    if (!g)
        return lt_fail(ctx, LT_ERR_ARG, "multinomial: generator is NULL");
    if (!check_probs_layout(ctx, probs))
        return NULL;
    int64_t c = probs->shape[probs->ndim - 1];
    int64_t rows = probs->ndim == 2 ? probs->shape[0] : 1;
    const float *p = lt_f32(probs);
    if (!check_probs_values(ctx, p, rows, c))
        return NULL;
    int64_t out_shape[2] = {rows, 1};
    lt_tensor *out = probs->ndim == 2 ? lt_alloc_temp(ctx, LT_I32, 2, out_shape)
                                      : lt_alloc_temp(ctx, LT_I32, 1, out_shape + 1);
    if (!out)
        return NULL;
    /* torch draws all rows * c exponentials, row-major, then takes each
     * row's argmax: the same draws in the same order as row by row. */
    int32_t *ix = lt_i32(out);
    for (int64_t r = 0; r < rows; r++)
        ix[r] = (int32_t)lt_rng_categorical(g, p + r * c, c);
    return out;
}

lt_tensor *lt_randperm(lt_ctx *ctx, lt_rng *g, int64_t n)
{
    if (!ctx || lt_status_of(ctx) != LT_OK)
        return NULL;
    if (!g)
        return lt_fail(ctx, LT_ERR_ARG, "randperm: generator is NULL");
    if (n < 0 || n > LT_RANDPERM_MAX)
        return lt_fail(ctx, LT_ERR_ARG, "randperm: n = %lld must be in 0..%lld", (long long)n,
                       (long long)LT_RANDPERM_MAX);
    lt_tensor *out = lt_alloc_temp(ctx, LT_I32, 1, &n);
    if (!out)
        return NULL;
    lt_rng_randperm(g, lt_i32(out), n);
    return out;
}
