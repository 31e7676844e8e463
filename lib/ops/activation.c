/* activation.c - sigmoid, gelu (exact and tanh forms) and softplus
 * (elementwise, one input, through the op kit):
 *   sigmoid(x) = 1 / (1 + exp(-x)), derivative y * (1 - y) from the output;
 *   gelu(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (PyTorch's default,
 *   exact form), derivative Phi(x) + x * phi(x) from the input;
 *   gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
 *   (F.gelu(approximate="tanh"), GPT-2's and makemore's NewGELU), with
 *   PyTorch's arithmetic in PyTorch's order and the vectorised tanh;
 *   softplus(x) = log(1 + exp(beta x)) / beta, or x where beta x > threshold
 *   (F.softplus), derivative sigmoid(beta x). */
#include "core/opkit.h"
#include "kernels/threads.h"
#include "kernels/vmath.h"

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

/* ---- gelu, tanh form --------------------------------------------------------- */

#define GELU_BETA 0.7978845608028654f /* sqrt(2/pi), PyTorch's M_SQRT2 * M_2_SQRTPI * 0.5 */
#define GELU_KAPPA 0.044715f
#define GELU_CHUNK 256 /* the backward's tanh values, a block at a time on the stack */

/* t[i] = sqrt(2/pi) * (x + 0.044715 x^3), the argument of tanh */
static void gelu_tanh_inner(float *restrict t, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        t[i] = GELU_BETA * (x[i] + GELU_KAPPA * (x[i] * x[i] * x[i]));
}

/* y holds tanh's argument, then its tanh (lt_vtanh in place), then the
 * result; each element depends on x[i] alone, so a split across threads
 * gives the same bits. */
static void gelu_tanh_map(float *restrict y, const float *x, int64_t n)
{
    gelu_tanh_inner(y, x, n);
    lt_vtanh(y, y, n);
    for (int64_t i = 0; i < n; i++)
        y[i] = 0.5f * x[i] * (1.0f + y[i]);
}

typedef struct {
    const float *x, *dy;
    float *dx;
    bool fresh; /* dx is written, not added to */
} gelu_tanh_grad;

/* dx[i] (+)= dy * (0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 *
 * 0.044715 x^2)), t = tanh(inner), in PyTorch's order of operations, for
 * elements [begin, end): each depends on its own x and dy alone, so a split
 * across threads gives the same bits. */
static void gelu_tanh_grad_task(void *arg, int task, int64_t begin, int64_t end)
{
    (void)task;
    const gelu_tanh_grad *g = arg;
    const float *x = g->x, *dy = g->dy;
    float *dx = g->dx;
    float t[GELU_CHUNK];
    for (int64_t i0 = begin; i0 < end; i0 += GELU_CHUNK) {
        int64_t m = end - i0 < GELU_CHUNK ? end - i0 : GELU_CHUNK;
        gelu_tanh_inner(t, x + i0, m);
        lt_vtanh(t, t, m);
        for (int64_t j = 0; j < m; j++) {
            float xj = x[i0 + j], left = 0.5f * xj, right = 1.0f + t[j];
            float slope_in = GELU_BETA * (1.0f + 3.0f * GELU_KAPPA * (xj * xj));
            t[j] = 0.5f * right + left * (1.0f - t[j] * t[j]) * slope_in; /* the slope */
        }
        if (g->fresh)
            for (int64_t j = 0; j < m; j++)
                dx[i0 + j] = dy[i0 + j] * t[j];
        else
            for (int64_t j = 0; j < m; j++)
                dx[i0 + j] += dy[i0 + j] * t[j];
    }
}

/* the forward's work and a few more multiplies */
#define WORK_GELU_TANH_GRAD (LT_WORK_TANH + 16.0)

static void gelu_tanh_backward(lt_ctx *ctx, lt_node *node)
{
    gelu_tanh_grad g = {lt_f32(node->in[0]), lt_output_grad(node), NULL, false}; /* x is dense (lt_unary_op) */
    if (!(g.dx = lt_input_grad_fresh(ctx, node, 0, &g.fresh)))
        return;
    int64_t n = lt_numel(node->out);
    lt_parallel_for(ctx, n, GELU_CHUNK, (double)n * WORK_GELU_TANH_GRAD, gelu_tanh_grad_task, &g);
}

static const lt_op gelu_tanh_op = {"gelu_tanh", gelu_tanh_backward, LT_SAVES_IN(0)};

/* a few multiplies on top of the vectorised tanh */
#define WORK_GELU_TANH (LT_WORK_TANH + 8.0)

lt_tensor *lt_gelu_tanh(lt_ctx *ctx, lt_tensor *x)
{
    return lt_unary_op(ctx, &gelu_tanh_op, x, gelu_tanh_map, WORK_GELU_TANH);
}

/* ---- softplus ------------------------------------------------------------------ */

/* Above this beta*x, exp(beta*x) overflows float: log(1 + exp(z)) is z to
 * float precision long before (from z ~ 17 on), so the result is x. */
#define SOFTPLUS_EXP_MAX 88.0f

/* y = x where beta x > threshold, else log1p(exp(beta x)) / beta: PyTorch's
 * expression, except that it never overflows (x past SOFTPLUS_EXP_MAX). */
static void softplus_map(float *restrict y, const float *x, int64_t n, float beta, float threshold)
{
    for (int64_t i = 0; i < n; i++) {
        float z = x[i] * beta;
        y[i] = z > threshold || z > SOFTPLUS_EXP_MAX ? x[i] : log1pf(expf(z)) / beta;
    }
}

/* dy where the forward returned x, else dy * e / (e + 1) with e = exp(beta x)
 * (PyTorch's expression: sigmoid(beta x), 0 at -inf) */
static float softplus_grad(float x, float dy, float beta, float threshold)
{
    float z = x * beta;
    if (z > threshold || z > SOFTPLUS_EXP_MAX)
        return dy;
    float e = expf(z);
    return dy * e / (e + 1.0f);
}

LT_UNARY_BACKWARD(softplus_backward, softplus_grad(x, dy, node->fparam[0], node->fparam[1]))

static const lt_op softplus_op = {"softplus", softplus_backward, LT_SAVES_IN(0)};

lt_tensor *lt_softplus(lt_ctx *ctx, lt_tensor *x, float beta, float threshold)
{
    if (lt_check_args(ctx, "softplus", 1, &x) && (!isfinite(beta) || beta == 0.0f || isnan(threshold)))
        return lt_fail(ctx, LT_ERR_ARG, "softplus: beta %g must be finite and non-zero, threshold %g not NaN",
                       (double)beta, (double)threshold);
    lt_tensor *y = lt_unary_begin(ctx, "softplus", &x);
    if (!y)
        return NULL;
    softplus_map(lt_f32(y), lt_f32(x), lt_numel(x), beta, threshold);
    return lt_op_end(ctx, &softplus_op, y, 1, &x, &(lt_node_data){.f = {beta, threshold}});
}
