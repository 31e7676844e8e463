/* activation.c - sigmoid and gelu (elementwise, one input, fused forward
 * and backward kernels on dense memory).
 *   sigmoid(x) = 1 / (1 + exp(-x)), derivative y * (1 - y) from the output;
 *   gelu(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (PyTorch's default,
 *   exact form), derivative Phi(x) + x * phi(x) from the input. */
#include "core/internal.h"

#include <math.h>

/* ---- sigmoid ------------------------------------------------------------------- */

static void sigmoid_backward(lt_ctx *ctx, lt_node *node)
{
    float *dx = lt_unary_input_grad(ctx, node);
    if (!dx)
        return;
    const float *y = lt_f32(node->out), *dy = lt_g(node->out);
    for (int64_t i = 0, n = lt_numel(node->out); i < n; i++)
        dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}

static const lt_op sigmoid_op = {"sigmoid", sigmoid_backward};

lt_tensor *lt_sigmoid(lt_ctx *ctx, lt_tensor *a)
{
    lt_tensor *y = lt_unary_begin(ctx, "sigmoid", &a);
    if (!y)
        return NULL;
    const float *x = lt_f32(a);
    float *yv = lt_f32(y);
    for (int64_t i = 0, n = lt_numel(a); i < n; i++) /* never exp of a large positive: no overflow */
        yv[i] = x[i] >= 0.0f ? 1.0f / (1.0f + expf(-x[i])) : expf(x[i]) / (1.0f + expf(x[i]));
    return lt_maybe_record(ctx, &sigmoid_op, y, 1, &a, NULL) ? y : NULL;
}

/* ---- gelu ----------------------------------------------------------------------- */

#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

static void gelu_backward(lt_ctx *ctx, lt_node *node)
{
    float *dx = lt_unary_input_grad(ctx, node);
    if (!dx)
        return;
    const float *x = lt_f32(node->in[0]), *dy = lt_g(node->out);
    for (int64_t i = 0, n = lt_numel(node->out); i < n; i++) {
        float cdf = 0.5f * (1.0f + erff(x[i] * INV_SQRT2));
        float pdf = INV_SQRT_2PI * expf(-0.5f * x[i] * x[i]);
        dx[i] += dy[i] * (cdf + x[i] * pdf);
    }
}

static const lt_op gelu_op = {"gelu", gelu_backward};

lt_tensor *lt_gelu(lt_ctx *ctx, lt_tensor *a)
{
    lt_tensor *y = lt_unary_begin(ctx, "gelu", &a);
    if (!y)
        return NULL;
    const float *x = lt_f32(a);
    float *yv = lt_f32(y);
    for (int64_t i = 0, n = lt_numel(a); i < n; i++)
        yv[i] = 0.5f * x[i] * (1.0f + erff(x[i] * INV_SQRT2));
    return lt_maybe_record(ctx, &gelu_op, y, 1, &a, NULL) ? y : NULL;
}
