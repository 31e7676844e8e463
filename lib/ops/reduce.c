/* reduce.c - reductions: sum and mean of everything (to a scalar), and
 * sum, mean and max along one dim.
 *
 * Accuracy: every sum is accumulated in double (each float converted
 * exactly, one rounding at the end), so a sum of n floats is within about
 * n * 2^-53 of the exact value relative to sum|x|, plus the final rounding to
 * float: effectively correctly rounded for any tensor this library holds.
 *
 * A reduction along dim views the (contiguous) input as (outer, len, inner)
 * (lt_split_around); the output is (outer, inner) laid out densely. */
#include "core/opkit.h"

#include <math.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

/* sum of x[0..n) in double. Eight independent partial sums keep the adds
 * from waiting on each other (and let the compiler vectorise). */
static double sum_double(const float *x, int64_t n)
{
    double acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            acc[j] += (double)x[i + j];
    double s = 0;
    for (; i < n; i++)
        s += (double)x[i];
    for (int j = 0; j < 8; j++)
        s += acc[j];
    return s;
}

/* A reduction along dim: the (outer, len, inner) split and the output
 * shape (dim removed, or kept as 1 with keepdim). */
typedef struct {
    lt_split s;
    int out_ndim;
    int64_t out_shape[LT_MAX_DIMS];
} reduce_plan;

/* A rank-0 tensor reduces along dim 0 or -1 as if it had shape (1), giving a
 * rank-0 result (as in PyTorch). Returns false with an error on a bad dim. */
static bool plan_dim(lt_ctx *ctx, const char *op, const lt_tensor *x, int dim, bool keepdim, reduce_plan *p)
{
    int d = lt_resolve_dim(ctx, op, dim, x->ndim ? x->ndim : 1);
    if (d < 0)
        return false;
    p->s = lt_split_around(x, d);
    p->out_ndim = 0;
    for (int i = 0; i < x->ndim; i++)
        if (i != d || keepdim)
            p->out_shape[p->out_ndim++] = i == d ? 1 : x->shape[i];
    return true;
}

/* What a node keeps of the plan for the backward pass (iparam[0..2]), and
 * the split read back from it. */
static lt_node_data plan_data(const reduce_plan *p, float scale)
{
    return (lt_node_data){.f = {scale}, .i = {p->s.outer, p->s.len, p->s.inner}};
}

static lt_split node_split(const lt_node *node)
{
    return (lt_split){node->iparam[0], node->iparam[1], node->iparam[2]};
}

/* ---- sum and mean of every element ------------------------------------- */

/* d(scale * sum x)/dx_i = scale: the scalar gradient, scaled, to every element. */
static void sum_all_backward(lt_ctx *ctx, lt_node *node)
{
    float *dx = lt_input_grad(ctx, node, 0);
    if (!dx)
        return;
    float dy = lt_output_grad(node)[0] * node->fparam[0];
    for (int64_t i = 0, n = lt_numel(node->in[0]); i < n; i++)
        dx[i] += dy;
}

static const lt_op sum_op = {"sum", sum_all_backward, LT_SAVES_NONE};
static const lt_op mean_op = {"mean", sum_all_backward, LT_SAVES_NONE};

/* () <- sum(a) / divisor, with divisor = numel for mean (NaN when empty, as
 * 0/0 in PyTorch). */
static lt_tensor *reduce_all(lt_ctx *ctx, const lt_op *op, lt_tensor *x, bool mean)
{
    if (!(x = lt_dense_f32(ctx, op->name, x)))
        return NULL;
    int64_t scalar_shape[1] = {1}; /* unused for rank 0, but never a NULL pointer */
    lt_tensor *y = lt_alloc_temp(ctx, LT_F32, 0, scalar_shape);
    if (!y)
        return NULL;
    int64_t n = lt_numel(x);
    double s = sum_double(lt_f32(x), n);
    lt_f32(y)[0] = (float)(mean ? s / (double)n : s);
    float scale = mean ? (float)(1.0 / (double)n) : 1.0f;
    return lt_op_end(ctx, op, y, 1, &x, &(lt_node_data){.f = {scale}});
}

lt_tensor *lt_sum(lt_ctx *ctx, lt_tensor *x) { return reduce_all(ctx, &sum_op, x, false); }
lt_tensor *lt_mean(lt_ctx *ctx, lt_tensor *x) { return reduce_all(ctx, &mean_op, x, true); }

/* ---- sum and mean along a dim ------------------------------------------ */

/* dx[o,j,i] += scale * dy[o,i] */
static void sum_dim_backward(lt_ctx *ctx, lt_node *node)
{
    float *dx = lt_input_grad(ctx, node, 0);
    if (!dx)
        return;
    lt_split s = node_split(node);
    float scale = node->fparam[0];
    const float *dy = lt_output_grad(node);
    if (s.inner == 0) /* no elements: (2^20, 2^20, 0) must not loop 2^40 times */
        return;
    for (int64_t o = 0; o < s.outer; o++)
        for (int64_t j = 0; j < s.len; j++) {
            float *row = dx + (o * s.len + j) * s.inner;
            const float *dyo = dy + o * s.inner;
            for (int64_t i = 0; i < s.inner; i++)
                row[i] += scale * dyo[i];
        }
}

static const lt_op sum_dim_op = {"sum_dim", sum_dim_backward, LT_SAVES_NONE};
static const lt_op mean_dim_op = {"mean_dim", sum_dim_backward, LT_SAVES_NONE};

/* y[o,i] = scale * sum_j x[o,j,i], accumulated in double. With inner > 1
 * the rows j are added elementwise into a double row (unit stride). */
static bool sum_dim_kernel(lt_ctx *ctx, lt_split s, const float *x, float *y, double scale)
{
    if (s.outer == 0 || s.inner == 0) /* no output: (0, 3, 2^32) must not allocate 2^32 doubles */
        return true;
    if (s.inner == 1) {
        for (int64_t o = 0; o < s.outer; o++)
            y[o] = (float)(scale * sum_double(x + o * s.len, s.len));
        return true;
    }
    double *acc = lt_arena_alloc(ctx, sizeof(double) * (size_t)s.inner);
    if (!acc)
        return false;
    for (int64_t o = 0; o < s.outer; o++) {
        const float *xo = x + o * s.len * s.inner;
        for (int64_t i = 0; i < s.inner; i++)
            acc[i] = 0.0;
        for (int64_t j = 0; j < s.len; j++)
            for (int64_t i = 0; i < s.inner; i++)
                acc[i] += (double)xo[j * s.inner + i];
        for (int64_t i = 0; i < s.inner; i++)
            y[o * s.inner + i] = (float)(scale * acc[i]);
    }
    return true;
}

static lt_tensor *reduce_dim(lt_ctx *ctx, const lt_op *op, lt_tensor *x, int dim, bool keepdim, bool mean)
{
    reduce_plan p;
    if (!(x = lt_dense_f32(ctx, op->name, x)) || !plan_dim(ctx, op->name, x, dim, keepdim, &p))
        return NULL;
    lt_tensor *y = lt_alloc_temp(ctx, LT_F32, p.out_ndim, p.out_shape);
    if (!y)
        return NULL;
    /* mean over an empty dim is 0 * (1/0) = NaN, as in PyTorch */
    double scale = mean ? 1.0 / (double)p.s.len : 1.0;
    if (!sum_dim_kernel(ctx, p.s, lt_f32(x), lt_f32(y), mean && p.s.len == 0 ? NAN : scale))
        return NULL;
    lt_node_data data = plan_data(&p, (float)scale);
    return lt_op_end(ctx, op, y, 1, &x, &data);
}

lt_tensor *lt_sum_dim(lt_ctx *ctx, lt_tensor *x, int dim, bool keepdim)
{
    return reduce_dim(ctx, &sum_dim_op, x, dim, keepdim, false);
}

lt_tensor *lt_mean_dim(lt_ctx *ctx, lt_tensor *x, int dim, bool keepdim)
{
    return reduce_dim(ctx, &mean_dim_op, x, dim, keepdim, true);
}

/* ---- max along a dim --------------------------------------------------- */

/* The gradient goes to the argmax position only: dx[o, idx[o,i], i] += dy[o,i]. */
static void max_dim_backward(lt_ctx *ctx, lt_node *node)
{
    float *dx = lt_input_grad(ctx, node, 0);
    if (!dx)
        return;
    lt_split s = node_split(node);
    const int32_t *idx = node->saved;
    const float *dy = lt_output_grad(node);
    for (int64_t o = 0; o < s.outer; o++)
        for (int64_t i = 0; i < s.inner; i++)
            dx[(o * s.len + idx[o * s.inner + i]) * s.inner + i] += dy[o * s.inner + i];
}

static const lt_op max_dim_op = {"max_dim", max_dim_backward, LT_SAVES_NONE};

/* v replaces the running best when larger, or when it is the first NaN
 * (NaN is the maximum, as in PyTorch); ties keep the first position. */
static bool beats(float v, float best) { return v > best || (isnan(v) && !isnan(best)); }

/* vals[o,i] = max_j x[o,j,i], idx[o,i] = first j attaining it. With inner > 1
 * the rows are compared elementwise so memory is read with unit stride. */
static void max_dim_kernel(lt_split s, const float *x, float *vals, int32_t *idx)
{
    if (s.inner == 0) /* no output: (2^20, 2^20, 0) must not loop 2^40 times */
        return;
    for (int64_t o = 0; o < s.outer; o++) {
        const float *xo = x + o * s.len * s.inner;
        float *vo = vals + o * s.inner;
        int32_t *io = idx + o * s.inner;
        for (int64_t i = 0; i < s.inner; i++) {
            vo[i] = xo[i];
            io[i] = 0;
        }
        for (int64_t j = 1; j < s.len; j++)
            for (int64_t i = 0; i < s.inner; i++)
                if (beats(xo[j * s.inner + i], vo[i])) {
                    vo[i] = xo[j * s.inner + i];
                    io[i] = (int32_t)j;
                }
    }
}

lt_tensor *lt_max_dim(lt_ctx *ctx, lt_tensor *x, int dim, bool keepdim, lt_tensor **indices)
{
    if (indices)
        *indices = NULL;
    reduce_plan p;
    if (!(x = lt_dense_f32(ctx, "max_dim", x)) || !plan_dim(ctx, "max_dim", x, dim, keepdim, &p))
        return NULL;
    if (p.s.len == 0)
        return lt_fail(ctx, LT_ERR_SHAPE, "max_dim: cannot reduce dim %d of size 0 (tensor %s)", dim,
                       LT_TENSOR_SHAPE(x));
    if (p.s.len > INT32_MAX)
        return lt_fail(ctx, LT_ERR_SHAPE, "max_dim: dim %d has %lld elements, more than i32 indices hold", dim,
                       (long long)p.s.len);
    lt_tensor *vals = lt_alloc_temp(ctx, LT_F32, p.out_ndim, p.out_shape);
    lt_tensor *idx = vals ? lt_alloc_temp(ctx, LT_I32, p.out_ndim, p.out_shape) : NULL;
    if (!idx)
        return NULL;
    max_dim_kernel(p.s, lt_f32(x), lt_f32(vals), lt_i32(idx));
    lt_node_data data = plan_data(&p, 0.0f);
    if (lt_needs_grad(ctx, 1, &x)) { /* a private copy: the caller may overwrite the returned indices */
        size_t bytes = sizeof(int32_t) * (size_t)lt_numel(idx);
        if (!(data.saved = lt_arena_alloc(ctx, bytes ? bytes : 1)))
            return NULL;
        memcpy(data.saved, lt_i32(idx), bytes);
    }
    if (!lt_op_end(ctx, &max_dim_op, vals, 1, &x, &data))
        return NULL;
    if (indices)
        *indices = idx;
    return vals;
}
