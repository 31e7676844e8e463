/* normal.c - torch.randn and Tensor.normal_(mean, std) on the CPU, draw for
 * draw and bit for bit.
 *
 * PyTorch 1.13's normal_ kernel takes one of two paths by the tensor's size:
 *  - numel >= 16 (contiguous float): all numel float uniforms first, then
 *    each block of 16 through the vectorised Box-Muller (boxmuller16.c); a
 *    partial last block is handled by drawing 16 fresh uniforms over the LAST
 *    16 slots and transforming them as one block, so up to 15 values already
 *    finished are overwritten;
 *  - numel < 16: one double Box-Muller per element that returns the cosine
 *    sample and caches the sine sample in the generator for the next call
 *    (this path's cache survives block-path calls in between). */
#include "core/internal.h"
#include "random/rng_internal.h"
#include "random/boxmuller16.h"

#include <math.h>

/* c10::pi<double>, spelled out because M_PI is not standard C. */
#define LT_PI 3.14159265358979323846

/* torch's normal_distribution<double>: Box-Muller in double. The first
 * uniform sets the angle, the second the radius. */
static double normal_double(lt_rng *g)
{
    if (g->has_cached_normal) {
        g->has_cached_normal = false;
        return g->cached_normal;
    }
    double u1 = lt_rng_uniform_double(g);
    double u2 = lt_rng_uniform_double(g);
    double r = sqrt(-2.0 * log(1.0 - u2));
    double theta = 2.0 * LT_PI * u1;
    g->cached_normal = r * sin(theta);
    g->has_cached_normal = true;
    return r * cos(theta);
}

/* The scaling is one fused multiply-add in double (the AVX2 build contracts
 * val * std + mean), then the rounding to float. */
static void normal_small(lt_rng *g, float *out, int64_t n, double mean, double std)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = (float)fma(normal_double(g), std, mean);
}

/* This path neither uses nor clears a cached double sample. Mean and std
 * are rounded to float first, as the kernel's arguments are. */
static void normal_blocks(lt_rng *g, float *out, int64_t n, float mean, float std)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = lt_rng_uniform(g);
    for (int64_t i = 0; i + LT_BOXMULLER_BLOCK <= n; i += LT_BOXMULLER_BLOCK)
        lt_boxmuller16(out + i, mean, std);
    if (n % LT_BOXMULLER_BLOCK != 0) {
        float *tail = out + n - LT_BOXMULLER_BLOCK;
        for (int i = 0; i < LT_BOXMULLER_BLOCK; i++)
            tail[i] = lt_rng_uniform(g);
        lt_boxmuller16(tail, mean, std);
    }
}

void lt_rng_normal(lt_rng *g, float *out, int64_t n, double mean, double std)
{
    if (n >= LT_BOXMULLER_BLOCK)
        normal_blocks(g, out, n, (float)mean, (float)std);
    else
        normal_small(g, out, n, mean, std);
}

void lt_rng_randn(lt_rng *g, float *out, int64_t n)
{
    if (!g || !out || n <= 0)
        return;
    lt_rng_normal(g, out, n, 0.0, 1.0);
}

bool lt_rng_check_fill(lt_ctx *ctx, const char *op, const lt_rng *g, lt_tensor *t)
{
    if (!lt_check_args(ctx, op, 1, &t))
        return false;
    if (!g) {
        lt_fail(ctx, LT_ERR_ARG, "%s: generator is NULL", op);
        return false;
    }
    if (t->dtype != LT_F32) {
        lt_fail(ctx, LT_ERR_DTYPE, "%s: expected an F32 tensor, got %s", op, lt_dtype_name(t->dtype));
        return false;
    }
    if (!lt_is_contiguous(t)) {
        /* torch fills a strided tensor in memory order through another
         * path; refusing keeps every fill identical to torch's on a
         * tensor of the same shape. */
        lt_fail(ctx, LT_ERR_ARG, "%s: tensor must be contiguous (use lt_contiguous or lt_new)", op);
        return false;
    }
    if (lt_numel(t) > 0 && !lt_data_f32(t)) {
        lt_fail(ctx, LT_ERR_ARG, "%s: tensor has no data", op);
        return false;
    }
    return true;
}

bool lt_randn_fill(lt_ctx *ctx, lt_rng *g, lt_tensor *t)
{
    if (!lt_rng_check_fill(ctx, "randn_fill", g, t))
        return false;
    lt_bump(t);
    lt_rng_normal(g, lt_data_f32(t), lt_numel(t), 0.0, 1.0);
    return true;
}

bool lt_rng_normal_fill(lt_ctx *ctx, lt_rng *g, lt_tensor *t, double mean, double std)
{
    if (!lt_rng_check_fill(ctx, "normal_fill", g, t))
        return false;
    if (!isfinite(mean) || !isfinite(std) || std < 0.0) {
        lt_fail(ctx, LT_ERR_ARG, "normal_fill: mean %g and std %g must be finite, std >= 0", mean, std);
        return false;
    }
    lt_bump(t);
    lt_rng_normal(g, lt_data_f32(t), lt_numel(t), mean, std);
    return true;
}
