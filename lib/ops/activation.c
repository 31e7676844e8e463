/* activation.c - sigmoid and gelu (elementwise, one input, through the op
 * kit's lt_unary_op and LT_UNARY_BACKWARD):
 *   sigmoid(x) = 1 / (1 + exp(-x)), derivative y * (1 - y) from the output;
 *   gelu(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (PyTorch's default,
 *   exact form), derivative Phi(x) + x * phi(x) from the input. */
#include "core/opkit.h"

#include <math.h>

#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

static void sigmoid_map(float *restrict y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) /* never exp of a large positive: no overflow */
        y[i] = x[i] >= 0.0f ? 1.0f / (1.0f + expf(-x[i])) : expf(x[i]) / (1.0f + expf(x[i]));
}

static void gelu_map(float *restrict y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * INV_SQRT2));
}

/* Phi(x) + x * phi(x): the normal CDF plus x times its density */
static float gelu_slope(float x)
{
    float cdf = 0.5f * (1.0f + erff(x * INV_SQRT2));
    float pdf = INV_SQRT_2PI * expf(-0.5f * x * x);
    return cdf + x * pdf;
}

LT_UNARY_BACKWARD(sigmoid_backward, dy *y *(1.0f - y))
LT_UNARY_BACKWARD(gelu_backward, dy *gelu_slope(x))

static const lt_op sigmoid_op = {"sigmoid", sigmoid_backward, LT_SAVES_OUT};
static const lt_op gelu_op = {"gelu", gelu_backward, LT_SAVES_IN(0)};

lt_tensor *lt_sigmoid(lt_ctx *ctx, lt_tensor *x) { return lt_unary_op(ctx, &sigmoid_op, x, sigmoid_map, 0.0); }
lt_tensor *lt_gelu(lt_ctx *ctx, lt_tensor *x) { return lt_unary_op(ctx, &gelu_op, x, gelu_map, 0.0); }
