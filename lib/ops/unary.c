/* unary.c - neg, tanh, exp, log, relu, sqrt, rsqrt, abs, pow, clamp
 * (elementwise, one input).
 *
 * Each op makes its input contiguous (a recorded copy when it is a strided
 * view, through which the gradient reaches the base), writes a fresh dense
 * output, and its backward adds into the dense input gradient: the op kit's
 * lt_unary_op and LT_UNARY_BACKWARD (core/opkit.h), so what is left here is
 * each op's kernel and derivative.
 *
 * Edge values follow IEEE arithmetic and PyTorch:
 *   tanh(+-large) = +-1 exactly (finite), gradient 0;
 *   exp overflows to inf above ~88.72 and underflows to 0;
 *   log(0) = -inf (gradient inf), log(x < 0) = NaN;
 *   relu(NaN) = NaN and passes the gradient, relu'(0) = 0;
 *   sqrt(-0) = -0, sqrt(x < 0) = NaN, sqrt'(+-0) = +-inf; rsqrt(+-0) = +-inf,
 *   rsqrt'(+-0) = -+inf; abs'(0) = abs'(NaN) = 0 (sgn, as PyTorch);
 *   pow: a negative base with a non-integer exponent is NaN (forward and
 *   gradient), 0^p = inf for p < 0, and x^0 = 1 with gradient 0 for every x;
 *   clamp passes NaN through with gradient 0, and its gradient is 1 on the
 *   closed range [min, max] (the bounds included). */
#include "core/opkit.h"
#include "kernels/threads.h"
#include "kernels/vmath.h"

#include <math.h>

/* ---- neg, tanh, exp, log, relu, sqrt, rsqrt, abs: a kernel and a derivative each - */

static void neg_map(float *restrict y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = -x[i];
}

static void log_map(float *restrict y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = logf(x[i]);
}

/* 1 / sqrt(x) with a true division, as PyTorch's rsqrt (so rsqrt(x) ==
 * pow(x, -0.5) to the bit) */
static void rsqrt_map(float *restrict y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = 1.0f / sqrtf(x[i]);
}

static void sqrt_map(float *restrict y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = sqrtf(x[i]);
}

static void abs_map(float *restrict y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = fabsf(x[i]);
}

/* sgn(x): 1, -1, or 0 for +-0 and NaN (PyTorch's abs backward multiplies by it) */
static inline float sign_of(float x) { return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : 0.0f; }

LT_UNARY_BACKWARD(neg_backward, -dy)
LT_UNARY_BACKWARD(exp_backward, dy *y)
LT_UNARY_BACKWARD(log_backward, dy / x)
/* PyTorch's formulas, evaluated in the same order (from the saved output) */
LT_UNARY_BACKWARD(sqrt_backward, dy / (2.0f * y))
LT_UNARY_BACKWARD(rsqrt_backward, -0.5f * dy * (y * y * y))
LT_UNARY_BACKWARD(abs_backward, dy * sign_of(x))

/* relu's backward, split across the context's threads like its forward (a
 * wide layer's relu is a pass over megabytes): dx (+)= dy where y > 0 or
 * NaN, else 0 (lt_vrelu_grad); each element is its own, so any split gives
 * the same bits. */
typedef struct relu_grad {
    const float *y, *dy;
    float *dx;
    bool fresh; /* dx is written, not added to */
} relu_grad;

static void relu_grad_task(void *arg, int task, int64_t begin, int64_t end)
{
    (void)task;
    const relu_grad *g = arg;
    lt_vrelu_grad(g->dx + begin, g->y + begin, g->dy + begin, end - begin, !g->fresh);
}

/* A load or two and a store per element: a memory pass, which costs about
 * what 8 flops of a gemm do. */
#define WORK_RELU 8.0

static void relu_backward(lt_ctx *ctx, lt_node *node)
{
    relu_grad g = {lt_f32(node->out), lt_output_grad(node), NULL, false}; /* dense (lt_unary_op) */
    if (!(g.dx = lt_input_grad_fresh(ctx, node, 0, &g.fresh)))
        return;
    int64_t n = lt_numel(node->out);
    lt_parallel_for(ctx, n, 16, (double)n * WORK_RELU, relu_grad_task, &g);
}

/* tanh's backward from the saved output, dx (+)= dy * (1 - y^2): one
 * vectorised pass (vmath.h), the bits of the scalar expression. */
static void tanh_backward(lt_ctx *ctx, lt_node *node)
{
    bool fresh;
    float *dx = lt_input_grad_fresh(ctx, node, 0, &fresh); /* dense (lt_unary_op) */
    if (dx)
        lt_vtanh_grad(dx, lt_f32(node->out), lt_output_grad(node), lt_numel(node->out), !fresh);
}

static const lt_op neg_op = {"neg", neg_backward, LT_SAVES_NONE};
static const lt_op tanh_op = {"tanh", tanh_backward, LT_SAVES_OUT};
static const lt_op exp_op = {"exp", exp_backward, LT_SAVES_OUT};
static const lt_op log_op = {"log", log_backward, LT_SAVES_IN(0)};
static const lt_op relu_op = {"relu", relu_backward, LT_SAVES_OUT};
static const lt_op sqrt_op = {"sqrt", sqrt_backward, LT_SAVES_OUT};
static const lt_op rsqrt_op = {"rsqrt", rsqrt_backward, LT_SAVES_OUT};
static const lt_op abs_op = {"abs", abs_backward, LT_SAVES_IN(0)};

lt_tensor *lt_neg(lt_ctx *ctx, lt_tensor *x) { return lt_unary_op(ctx, &neg_op, x, neg_map, 0.0); }
/* vmath.h: tanh saturates to +-1 and exp never overflows early; large
 * tensors are split across threads */
lt_tensor *lt_tanh(lt_ctx *ctx, lt_tensor *x) { return lt_unary_op(ctx, &tanh_op, x, lt_vtanh, LT_WORK_TANH); }
lt_tensor *lt_exp(lt_ctx *ctx, lt_tensor *x) { return lt_unary_op(ctx, &exp_op, x, lt_vexp, LT_WORK_EXP); }
lt_tensor *lt_log(lt_ctx *ctx, lt_tensor *x) { return lt_unary_op(ctx, &log_op, x, log_map, 0.0); }
/* relu(NaN) = NaN, as PyTorch (vmath.h) */
lt_tensor *lt_relu(lt_ctx *ctx, lt_tensor *x) { return lt_unary_op(ctx, &relu_op, x, lt_vrelu, WORK_RELU); }
lt_tensor *lt_sqrt(lt_ctx *ctx, lt_tensor *x) { return lt_unary_op(ctx, &sqrt_op, x, sqrt_map, 0.0); }
lt_tensor *lt_rsqrt(lt_ctx *ctx, lt_tensor *x) { return lt_unary_op(ctx, &rsqrt_op, x, rsqrt_map, 0.0); }
lt_tensor *lt_abs(lt_ctx *ctx, lt_tensor *x) { return lt_unary_op(ctx, &abs_op, x, abs_map, 0.0); }

/* ---- pow: y = x^p for a constant p; dy/dx = p * x^(p-1) -------------------------- */

/* y[i] = x[i]^p. The exponents PyTorch computes without pow() get the same
 * arithmetic here (so results agree to the bit, including -0 and inf at 0);
 * the rest go through powf, which returns NaN for a negative base with a
 * non-integer exponent. */
static void pow_map(float *restrict y, const float *x, int64_t n, float p)
{
    if (p == 2.0f) {
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] * x[i];
    } else if (p == 3.0f) {
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] * x[i] * x[i];
    } else if (p == 0.5f) {
        for (int64_t i = 0; i < n; i++)
            y[i] = sqrtf(x[i]);
    } else if (p == -0.5f) {
        for (int64_t i = 0; i < n; i++)
            y[i] = 1.0f / sqrtf(x[i]);
    } else if (p == -1.0f) {
        for (int64_t i = 0; i < n; i++)
            y[i] = 1.0f / x[i];
    } else if (p == -2.0f) {
        for (int64_t i = 0; i < n; i++)
            y[i] = 1.0f / (x[i] * x[i]);
    } else if (p == 1.0f) {
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i];
    } else {
        for (int64_t i = 0; i < n; i++)
            y[i] = powf(x[i], p);
    }
}

#define POW_CHUNK 256 /* x^(p-1) is computed a block at a time on the stack */

static void pow_backward(lt_ctx *ctx, lt_node *node)
{
    float p = node->fparam[0];
    if (p == 0.0f)
        return; /* x^0 is constant: gradient 0 even at x = 0 (not 0 * inf) */
    float *dx = lt_input_grad(ctx, node, 0);
    if (!dx)
        return;
    const float *x = lt_f32(node->in[0]), *dy = lt_output_grad(node);
    float d[POW_CHUNK];
    for (int64_t i0 = 0, n = lt_numel(node->out); i0 < n; i0 += POW_CHUNK) {
        int64_t m = n - i0 < POW_CHUNK ? n - i0 : POW_CHUNK;
        pow_map(d, x + i0, m, p - 1.0f);
        for (int64_t j = 0; j < m; j++)
            dx[i0 + j] += dy[i0 + j] * (p * d[j]);
    }
}

static const lt_op pow_op = {"pow", pow_backward, LT_SAVES_IN(0)};

lt_tensor *lt_pow(lt_ctx *ctx, lt_tensor *x, float exponent)
{
    lt_tensor *y = lt_unary_begin(ctx, "pow", &x);
    if (!y)
        return NULL;
    pow_map(lt_f32(y), lt_f32(x), lt_numel(x), exponent);
    return lt_op_end(ctx, &pow_op, y, 1, &x, &(lt_node_data){.f = {exponent}});
}

/* ---- clamp: y = min(max(x, lo), hi) for constant bounds ------------------------ */

/* PyTorch's order of the two comparisons: with lo > hi every element
 * becomes hi, and a NaN input stays NaN. */
static void clamp_map(float *restrict y, const float *x, int64_t n, float lo, float hi)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] < lo ? lo : x[i];
        y[i] = v > hi ? hi : v;
    }
}

/* the gradient passes where lo <= x <= hi (bounds included, NaN excluded) */
LT_UNARY_BACKWARD(clamp_backward, x >= node->fparam[0] && x <= node->fparam[1] ? dy : 0.0f)

static const lt_op clamp_op = {"clamp", clamp_backward, LT_SAVES_IN(0)};

lt_tensor *lt_clamp(lt_ctx *ctx, lt_tensor *x, float min, float max)
{
    if (lt_check_args(ctx, "clamp", 1, &x) && (isnan(min) || isnan(max)))
        return lt_fail(ctx, LT_ERR_ARG, "clamp: bounds [%g, %g]: a bound is NaN (use -INFINITY or INFINITY for none)",
                       (double)min, (double)max);
    lt_tensor *y = lt_unary_begin(ctx, "clamp", &x);
    if (!y)
        return NULL;
    clamp_map(lt_f32(y), lt_f32(x), lt_numel(x), min, max);
    return lt_op_end(ctx, &clamp_op, y, 1, &x, &(lt_node_data){.f = {min, max}});
}
