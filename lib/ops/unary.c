/* unary.c - neg, tanh, exp, log, relu, pow (elementwise, one input).
 *
 * Each op makes its input contiguous (a recorded copy when it is a strided
 * view, through which the gradient reaches the base), writes a fresh dense
 * output, and its backward adds into the dense input gradient.
 *
 * Edge values follow IEEE arithmetic and PyTorch:
 *   tanh(+-large) = +-1 exactly (finite), gradient 0;
 *   exp overflows to inf above ~88.72 and underflows to 0;
 *   log(0) = -inf (gradient inf), log(x < 0) = NaN;
 *   relu(NaN) = NaN and passes the gradient, relu'(0) = 0;
 *   pow: a negative base with a non-integer exponent is NaN (forward and
 *   gradient), 0^p = inf for p < 0, and x^0 = 1 with gradient 0 for every x. */
#include "core/internal.h"
#include "kernels/threads.h"
#include "kernels/vmath.h"

#include <math.h>

/* ---- shared prologue / epilogue -------------------------------------------- */

/* internal.h */
lt_tensor *lt_unary_begin(lt_ctx *ctx, const char *name, lt_tensor **a)
{
    if (!lt_check_args(ctx, name, 1, a))
        return NULL;
    if ((*a)->dtype != LT_F32)
        return lt_fail(ctx, LT_ERR_DTYPE, "%s: needs an f32 tensor, got %s", name, lt_dtype_name((*a)->dtype));
    *a = lt_contiguous(ctx, *a);
    if (!*a)
        return NULL;
    return lt_alloc_temp(ctx, LT_F32, (*a)->ndim, (*a)->shape);
}

/* Records the node when needed, with p as its constant; returns out or NULL. */
static lt_tensor *unary_end(lt_ctx *ctx, const lt_op *op, lt_tensor *out, lt_tensor *a, float p)
{
    lt_node *node;
    if (!lt_maybe_record(ctx, op, out, 1, &a, &node))
        return NULL;
    if (node)
        node->fparam[0] = p;
    return out;
}

/* internal.h */
float *lt_unary_input_grad(lt_ctx *ctx, lt_node *node)
{
    lt_tensor *a = node->in[0];
    return lt_want_grad(a) ? lt_grad_buffer(ctx, a) : NULL;
}

/* ---- neg ---------------------------------------------------------------------- */

static void neg_backward(lt_ctx *ctx, lt_node *node)
{
    float *ga = lt_unary_input_grad(ctx, node);
    if (!ga)
        return;
    const float *gy = lt_g(node->out);
    for (int64_t i = 0, n = lt_numel(node->out); i < n; i++)
        ga[i] -= gy[i];
}

static const lt_op neg_op = {"neg", neg_backward};

lt_tensor *lt_neg(lt_ctx *ctx, lt_tensor *a)
{
    lt_tensor *out = lt_unary_begin(ctx, "neg", &a);
    if (!out)
        return NULL;
    const float *x = lt_f32(a);
    float *restrict y = lt_f32(out);
    for (int64_t i = 0, n = lt_numel(a); i < n; i++)
        y[i] = -x[i];
    return unary_end(ctx, &neg_op, out, a, 0.0f);
}

/* ---- tanh: dy/dx = 1 - y^2, from the saved output ----------------------------- */

static void tanh_backward(lt_ctx *ctx, lt_node *node)
{
    float *ga = lt_unary_input_grad(ctx, node);
    if (!ga)
        return;
    const float *y = lt_f32(node->out), *gy = lt_g(node->out);
    for (int64_t i = 0, n = lt_numel(node->out); i < n; i++)
        ga[i] += gy[i] * (1.0f - y[i] * y[i]);
}

static const lt_op tanh_op = {"tanh", tanh_backward};

lt_tensor *lt_tanh(lt_ctx *ctx, lt_tensor *a)
{
    lt_tensor *out = lt_unary_begin(ctx, "tanh", &a);
    if (!out)
        return NULL;
    /* vmath.h: saturates to +-1, never overflows; large tensors split across threads */
    lt_par_map(ctx, lt_vtanh, lt_f32(out), lt_f32(a), lt_numel(a), LT_WORK_TANH);
    return unary_end(ctx, &tanh_op, out, a, 0.0f);
}

/* ---- exp: dy/dx = y ------------------------------------------------------------ */

static void exp_backward(lt_ctx *ctx, lt_node *node)
{
    float *ga = lt_unary_input_grad(ctx, node);
    if (!ga)
        return;
    const float *y = lt_f32(node->out), *gy = lt_g(node->out);
    for (int64_t i = 0, n = lt_numel(node->out); i < n; i++)
        ga[i] += gy[i] * y[i];
}

static const lt_op exp_op = {"exp", exp_backward};

lt_tensor *lt_exp(lt_ctx *ctx, lt_tensor *a)
{
    lt_tensor *out = lt_unary_begin(ctx, "exp", &a);
    if (!out)
        return NULL;
    lt_par_map(ctx, lt_vexp, lt_f32(out), lt_f32(a), lt_numel(a), LT_WORK_EXP); /* vmath.h */
    return unary_end(ctx, &exp_op, out, a, 0.0f);
}

/* ---- log: dy/dx = 1/x ------------------------------------------------------------ */

static void log_backward(lt_ctx *ctx, lt_node *node)
{
    float *ga = lt_unary_input_grad(ctx, node);
    if (!ga)
        return;
    const float *x = lt_f32(node->in[0]), *gy = lt_g(node->out);
    for (int64_t i = 0, n = lt_numel(node->out); i < n; i++)
        ga[i] += gy[i] / x[i];
}

static const lt_op log_op = {"log", log_backward};

lt_tensor *lt_log(lt_ctx *ctx, lt_tensor *a)
{
    lt_tensor *out = lt_unary_begin(ctx, "log", &a);
    if (!out)
        return NULL;
    const float *x = lt_f32(a);
    float *restrict y = lt_f32(out);
    for (int64_t i = 0, n = lt_numel(a); i < n; i++)
        y[i] = logf(x[i]);
    return unary_end(ctx, &log_op, out, a, 0.0f);
}

/* ---- relu: the gradient passes where the output is positive (or NaN) ------------ */

static void relu_backward(lt_ctx *ctx, lt_node *node)
{
    float *ga = lt_unary_input_grad(ctx, node);
    if (!ga)
        return;
    const float *y = lt_f32(node->out), *gy = lt_g(node->out);
    for (int64_t i = 0, n = lt_numel(node->out); i < n; i++)
        ga[i] += y[i] <= 0.0f ? 0.0f : gy[i];
}

static const lt_op relu_op = {"relu", relu_backward};

lt_tensor *lt_relu(lt_ctx *ctx, lt_tensor *a)
{
    lt_tensor *out = lt_unary_begin(ctx, "relu", &a);
    if (!out)
        return NULL;
    const float *x = lt_f32(a);
    float *restrict y = lt_f32(out);
    /* written so that NaN propagates (NaN < 0 is false), as in PyTorch */
    for (int64_t i = 0, n = lt_numel(a); i < n; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
    return unary_end(ctx, &relu_op, out, a, 0.0f);
}

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
    float *ga = lt_unary_input_grad(ctx, node);
    if (!ga)
        return;
    const float *x = lt_f32(node->in[0]), *gy = lt_g(node->out);
    float d[POW_CHUNK];
    for (int64_t i0 = 0, n = lt_numel(node->out); i0 < n; i0 += POW_CHUNK) {
        int64_t m = n - i0 < POW_CHUNK ? n - i0 : POW_CHUNK;
        pow_map(d, x + i0, m, p - 1.0f);
        for (int64_t j = 0; j < m; j++)
            ga[i0 + j] += gy[i0 + j] * (p * d[j]);
    }
}

static const lt_op pow_op = {"pow", pow_backward};

lt_tensor *lt_pow(lt_ctx *ctx, lt_tensor *a, float exponent)
{
    lt_tensor *out = lt_unary_begin(ctx, "pow", &a);
    if (!out)
        return NULL;
    pow_map(lt_f32(out), lt_f32(a), lt_numel(a), exponent);
    return unary_end(ctx, &pow_op, out, a, exponent);
}
