/* activation.c - sigmoid, gelu (exact and tanh forms) and softplus
 * (elementwise, one input, through the op kit):
 *   sigmoid(x) = 1 / (1 + exp(-x)), derivative y * (1 - y) from the output;
 *   gelu(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (PyTorch's default,
 *   exact form), derivative Phi(x) + x * phi(x) from the input;
 *   gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
 *   (F.gelu(approximate="tanh"), GPT-2's and makemore's NewGELU), with
 *   PyTorch's arithmetic in PyTorch's order and the vectorised tanh, its
 *   derivative from x and the tanh the forward saved;
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

/* ---- gelu, tanh form ---------------------------------------------------------- */

/* The forward writes y and, when a gradient will be wanted, t = tanh of
 * the inner argument into arena memory the node keeps (node->saved), so the
 * backward computes the slope from x and t without a second tanh. Both
 * passes are lt_vgelu_tanh(_grad) over blocks of elements: each element
 * depends on its own x (and dy) alone, so any split across threads gives
 * the same bits. */
typedef struct gelu_tanh_job {
    const float *x;
    float *t;        /* tanh of the inner argument: written forward, read backward */
    float *y;        /* forward */
    const float *dy; /* backward */
    float *dx;
    bool fresh; /* dx is written, not added to */
} gelu_tanh_job;

static void gelu_tanh_task(void *arg, int task, int64_t begin, int64_t end)
{
    (void)task;
    const gelu_tanh_job *j = arg;
    lt_vgelu_tanh(j->y + begin, j->t ? j->t + begin : NULL, j->x + begin, end - begin);
}

static void gelu_tanh_grad_task(void *arg, int task, int64_t begin, int64_t end)
{
    (void)task;
    const gelu_tanh_job *j = arg;
    lt_vgelu_tanh_grad(j->dx + begin, j->x + begin, j->t + begin, j->dy + begin, end - begin, !j->fresh);
}

/* blocks start at multiples of 16 elements (a cache line; a vector of every path) */
#define GELU_ALIGN 16
/* a few multiplies on top of the vectorised tanh */
#define WORK_GELU_TANH (LT_WORK_TANH + 8.0)
/* a dozen multiplies and adds over four streams of memory */
#define WORK_GELU_TANH_GRAD 16.0

static void gelu_tanh_backward(lt_ctx *ctx, lt_node *node)
{
    /* x is dense (lt_unary_begin); t was saved, since the node exists */
    gelu_tanh_job j = {.x = lt_f32(node->in[0]), .t = node->saved, .dy = lt_output_grad(node)};
    if (!(j.dx = lt_input_grad_fresh(ctx, node, 0, &j.fresh)))
        return;
    int64_t n = lt_numel(node->out);
    lt_parallel_for(ctx, n, GELU_ALIGN, (double)n * WORK_GELU_TANH_GRAD, gelu_tanh_grad_task, &j);
}

static const lt_op gelu_tanh_op = {"gelu_tanh", gelu_tanh_backward, LT_SAVES_IN(0)};

lt_tensor *lt_gelu_tanh(lt_ctx *ctx, lt_tensor *x)
{
    lt_tensor *y = lt_unary_begin(ctx, "gelu_tanh", &x);
    if (!y)
        return NULL;
    int64_t n = lt_numel(x);
    float *t = NULL; /* only when the node will be recorded (lt_op_end's condition) */
    if (lt_needs_grad(ctx, 1, &x) && !(t = lt_arena_alloc(ctx, sizeof(float) * (size_t)n)))
        return NULL;
    gelu_tanh_job j = {.x = lt_f32(x), .t = t, .y = lt_f32(y)};
    lt_parallel_for(ctx, n, GELU_ALIGN, (double)n * WORK_GELU_TANH, gelu_tanh_task, &j);
    return lt_op_end(ctx, &gelu_tanh_op, y, 1, &x, &(lt_node_data){.saved = t});
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
