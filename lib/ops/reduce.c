/* reduce.c - reductions: sum and mean of everything (to a scalar), and
 * sum, mean and max along one dim.
 *
 * Accuracy: every sum is accumulated in double (each float converted
 * exactly, one rounding at the end), so a sum of n floats is within about
 * n * 2^-53 of the exact value relative to sum|x|, plus the final rounding to
 * float: effectively correctly rounded for any tensor this library holds.
 *
 * A reduction along dim views the (contiguous) input as (outer, len, inner):
 * outer = product of the sizes before dim, len = shape[dim], inner = product
 * of the sizes after it; the output is (outer, inner) laid out densely. */
#include "core/internal.h"

#include <string.h>

#include <math.h>

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

/* Validates one F32 input and makes it contiguous; NULL on error. */
static lt_tensor *prepare(lt_ctx *ctx, const char *op, lt_tensor *a)
{
    if (!lt_check_args(ctx, op, 1, &a))
        return NULL;
    if (a->dtype != LT_F32)
        return lt_fail(ctx, LT_ERR_DTYPE, "%s: needs an f32 tensor, got %s", op, lt_dtype_name(a->dtype));
    return lt_contiguous(ctx, a);
}

/* The (outer, len, inner) split of a reduction along dim, and the output
 * shape (dim removed, or kept as 1 with keepdim). */
typedef struct {
    int64_t outer, len, inner;
    int out_ndim;
    int64_t out_shape[LT_MAX_DIMS];
} reduce_plan;

/* A rank-0 tensor reduces along dim 0 or -1 as if it had shape (1), giving a
 * rank-0 result (as in PyTorch). Returns false with an error on a bad dim. */
static bool plan_dim(lt_ctx *ctx, const char *op, const lt_tensor *a, int dim, bool keepdim, reduce_plan *p)
{
    int d = lt_resolve_dim(ctx, op, dim, a->ndim ? a->ndim : 1);
    if (d < 0)
        return false;
    *p = (reduce_plan){1, 1, 1, 0, {0}};
    for (int i = 0; i < a->ndim; i++) {
        if (i < d)
            p->outer *= a->shape[i];
        else if (i == d)
            p->len = a->shape[i];
        else
            p->inner *= a->shape[i];
        if (i != d || keepdim)
            p->out_shape[p->out_ndim++] = i == d ? 1 : a->shape[i];
    }
    return true;
}

/* Stores the split in a node for the backward pass. */
static void save_plan(lt_node *node, const reduce_plan *p)
{
    if (!node)
        return;
    node->iparam[0] = p->outer;
    node->iparam[1] = p->len;
    node->iparam[2] = p->inner;
}

/* ---- sum and mean of every element ------------------------------------- */

/* d(scale * sum x)/dx_i = scale: the scalar gradient, scaled, to every element. */
static void sum_all_backward(lt_ctx *ctx, lt_node *node)
{
    lt_tensor *a = node->in[0];
    if (!lt_want_grad(a))
        return;
    float *ga = lt_grad_buffer(ctx, a);
    if (!ga)
        return;
    float g = lt_g(node->out)[0] * node->fparam[0];
    for (int64_t i = 0, n = lt_numel(a); i < n; i++)
        ga[i] += g;
}

static const lt_op sum_op = {"sum", sum_all_backward};
static const lt_op mean_op = {"mean", sum_all_backward};

/* () <- sum(a) / divisor, with divisor = numel for mean (NaN when empty, as
 * 0/0 in PyTorch). */
static lt_tensor *reduce_all(lt_ctx *ctx, const lt_op *op, lt_tensor *a, bool mean)
{
    if (!(a = prepare(ctx, op->name, a)))
        return NULL;
    int64_t scalar_shape[1] = {1}; /* unused for rank 0, but never a NULL pointer */
    lt_tensor *out = lt_alloc_temp(ctx, LT_F32, 0, scalar_shape);
    if (!out)
        return NULL;
    int64_t n = lt_numel(a);
    double s = sum_double(lt_f32(a), n);
    lt_f32(out)[0] = (float)(mean ? s / (double)n : s);
    lt_node *node;
    if (!lt_maybe_record(ctx, op, out, 1, &a, &node))
        return NULL;
    if (node)
        node->fparam[0] = mean ? (float)(1.0 / (double)n) : 1.0f;
    return out;
}

lt_tensor *lt_sum(lt_ctx *ctx, lt_tensor *a) { return reduce_all(ctx, &sum_op, a, false); }
lt_tensor *lt_mean(lt_ctx *ctx, lt_tensor *a) { return reduce_all(ctx, &mean_op, a, true); }

/* ---- sum and mean along a dim ------------------------------------------ */

/* ga[o,j,i] += scale * g[o,i] */
static void sum_dim_backward(lt_ctx *ctx, lt_node *node)
{
    lt_tensor *a = node->in[0];
    if (!lt_want_grad(a))
        return;
    float *ga = lt_grad_buffer(ctx, a);
    if (!ga)
        return;
    int64_t outer = node->iparam[0], len = node->iparam[1], inner = node->iparam[2];
    float scale = node->fparam[0];
    const float *g = lt_g(node->out);
    if (inner == 0) /* no elements: (2^20, 2^20, 0) must not loop 2^40 times */
        return;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < len; j++) {
            float *row = ga + (o * len + j) * inner;
            const float *go = g + o * inner;
            for (int64_t i = 0; i < inner; i++)
                row[i] += scale * go[i];
        }
}

static const lt_op sum_dim_op = {"sum_dim", sum_dim_backward};
static const lt_op mean_dim_op = {"mean_dim", sum_dim_backward};

/* out[o,i] = scale * sum_j x[o,j,i], accumulated in double. With inner > 1
 * the rows j are added elementwise into a double row (unit stride). */
static bool sum_dim_kernel(lt_ctx *ctx, const reduce_plan *p, const float *x, float *out, double scale)
{
    if (p->outer == 0 || p->inner == 0) /* no output: (0, 3, 2^32) must not allocate 2^32 doubles */
        return true;
    if (p->inner == 1) {
        for (int64_t o = 0; o < p->outer; o++)
            out[o] = (float)(scale * sum_double(x + o * p->len, p->len));
        return true;
    }
    double *acc = lt_arena_alloc(ctx, sizeof(double) * (size_t)p->inner);
    if (!acc)
        return false;
    for (int64_t o = 0; o < p->outer; o++) {
        const float *xo = x + o * p->len * p->inner;
        for (int64_t i = 0; i < p->inner; i++)
            acc[i] = 0.0;
        for (int64_t j = 0; j < p->len; j++)
            for (int64_t i = 0; i < p->inner; i++)
                acc[i] += (double)xo[j * p->inner + i];
        for (int64_t i = 0; i < p->inner; i++)
            out[o * p->inner + i] = (float)(scale * acc[i]);
    }
    return true;
}

static lt_tensor *reduce_dim(lt_ctx *ctx, const lt_op *op, lt_tensor *a, int dim, bool keepdim, bool mean)
{
    reduce_plan p;
    if (!(a = prepare(ctx, op->name, a)) || !plan_dim(ctx, op->name, a, dim, keepdim, &p))
        return NULL;
    lt_tensor *out = lt_alloc_temp(ctx, LT_F32, p.out_ndim, p.out_shape);
    if (!out)
        return NULL;
    /* mean over an empty dim is 0 * (1/0) = NaN, as in PyTorch */
    double scale = mean ? 1.0 / (double)p.len : 1.0;
    if (!sum_dim_kernel(ctx, &p, lt_f32(a), lt_f32(out), mean && p.len == 0 ? NAN : scale))
        return NULL;
    lt_node *node;
    if (!lt_maybe_record(ctx, op, out, 1, &a, &node))
        return NULL;
    save_plan(node, &p);
    if (node)
        node->fparam[0] = (float)scale;
    return out;
}

lt_tensor *lt_sum_dim(lt_ctx *ctx, lt_tensor *a, int dim, bool keepdim)
{
    return reduce_dim(ctx, &sum_dim_op, a, dim, keepdim, false);
}

lt_tensor *lt_mean_dim(lt_ctx *ctx, lt_tensor *a, int dim, bool keepdim)
{
    return reduce_dim(ctx, &mean_dim_op, a, dim, keepdim, true);
}

/* ---- max along a dim --------------------------------------------------- */

/* The gradient goes to the argmax position only: ga[o, idx[o,i], i] += g[o,i]. */
static void max_dim_backward(lt_ctx *ctx, lt_node *node)
{
    lt_tensor *a = node->in[0];
    if (!lt_want_grad(a))
        return;
    float *ga = lt_grad_buffer(ctx, a);
    if (!ga)
        return;
    int64_t outer = node->iparam[0], len = node->iparam[1], inner = node->iparam[2];
    const int32_t *idx = node->saved;
    const float *g = lt_g(node->out);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            ga[(o * len + idx[o * inner + i]) * inner + i] += g[o * inner + i];
}

static const lt_op max_dim_op = {"max_dim", max_dim_backward};

/* v replaces the running best when larger, or when it is the first NaN
 * (NaN is the maximum, as in PyTorch); ties keep the first position. */
static bool beats(float v, float best) { return v > best || (isnan(v) && !isnan(best)); }

/* vals[o,i] = max_j x[o,j,i], idx[o,i] = first j attaining it. With inner > 1
 * the rows are compared elementwise so memory is read with unit stride. */
static void max_dim_kernel(const reduce_plan *p, const float *x, float *vals, int32_t *idx)
{
    if (p->inner == 0) /* no output: (2^20, 2^20, 0) must not loop 2^40 times */
        return;
    for (int64_t o = 0; o < p->outer; o++) {
        const float *xo = x + o * p->len * p->inner;
        float *vo = vals + o * p->inner;
        int32_t *io = idx + o * p->inner;
        for (int64_t i = 0; i < p->inner; i++) {
            vo[i] = xo[i];
            io[i] = 0;
        }
        for (int64_t j = 1; j < p->len; j++)
            for (int64_t i = 0; i < p->inner; i++)
                if (beats(xo[j * p->inner + i], vo[i])) {
                    vo[i] = xo[j * p->inner + i];
                    io[i] = (int32_t)j;
                }
    }
}

lt_tensor *lt_max_dim(lt_ctx *ctx, lt_tensor *a, int dim, bool keepdim, lt_tensor **indices)
{
    if (indices)
        *indices = NULL;
    reduce_plan p;
    if (!(a = prepare(ctx, "max_dim", a)) || !plan_dim(ctx, "max_dim", a, dim, keepdim, &p))
        return NULL;
    if (p.len == 0) {
        char b[96];
        return lt_fail(ctx, LT_ERR_SHAPE, "max_dim: cannot reduce dim %d of size 0 (tensor %s)", dim,
                       lt_tensor_shape_str(a, b, sizeof b));
    }
    if (p.len > INT32_MAX)
        return lt_fail(ctx, LT_ERR_SHAPE, "max_dim: dim %d has %lld elements, more than i32 indices hold", dim,
                       (long long)p.len);
    lt_tensor *vals = lt_alloc_temp(ctx, LT_F32, p.out_ndim, p.out_shape);
    lt_tensor *idx = vals ? lt_alloc_temp(ctx, LT_I32, p.out_ndim, p.out_shape) : NULL;
    if (!idx)
        return NULL;
    max_dim_kernel(&p, lt_f32(a), lt_f32(vals), lt_i32(idx));
    lt_node *node;
    if (!lt_maybe_record(ctx, &max_dim_op, vals, 1, &a, &node))
        return NULL;
    save_plan(node, &p);
    if (node) { /* a private copy: the caller may overwrite the returned indices */
        size_t bytes = sizeof(int32_t) * (size_t)lt_numel(idx);
        int32_t *kept = lt_arena_alloc(ctx, bytes ? bytes : 1);
        if (!kept)
            return NULL;
        memcpy(kept, lt_i32(idx), bytes);
        node->saved = kept;
    }
    if (indices)
        *indices = idx;
    return vals;
}
