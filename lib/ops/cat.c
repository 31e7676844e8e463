/* cat.c - concatenation along one dim (torch.cat).
 *
 * Every input is viewed as (outer, size_i * inner) from its split around dim
 * (lt_split_around); the output is (outer, total * inner) and input i owns
 * the column block that starts at (sum of the sizes before it) * inner. Forward copies blocks in, backward
 * adds the same blocks of the output gradient back out. I32 inputs are
 * concatenated too (never recorded: they cannot carry a gradient). */
#include "core/opkit.h"

#include <stdio.h>
#include <string.h>

/* dx_k += the column block of dy that input k filled. */
static void cat_backward(lt_ctx *ctx, lt_node *node)
{
    int dim = (int)node->iparam[0];
    lt_split s = lt_split_around(node->out, dim);
    int64_t out_cols = s.len * s.inner, start = 0;
    const float *dy = lt_output_grad(node);
    for (int k = 0; k < node->n_in; k++) {
        int64_t cols = node->in[k]->shape[dim] * s.inner;
        float *dx = cols > 0 ? lt_input_grad(ctx, node, k) : NULL; /* the input is contiguous: dense */
        if (dx)
            for (int64_t o = 0; o < s.outer; o++)
                for (int64_t j = 0; j < cols; j++)
                    dx[o * cols + j] += dy[o * out_cols + start + j];
        start += cols;
    }
}

static const lt_op cat_op = {"cat", cat_backward, LT_SAVES_NONE};

/* Checks ts[k] against ts[0]: dtype, rank, sizes off dim. */
static bool check_same(lt_ctx *ctx, lt_tensor *const *ts, int k, int dim)
{
    const lt_tensor *a = ts[0], *b = ts[k];
    if (b->dtype != a->dtype)
        return lt_fail(ctx, LT_ERR_DTYPE, "cat: tensor %d is %s %s but tensor 0 is %s %s", k, lt_dtype_name(b->dtype),
                       LT_TENSOR_SHAPE(b), lt_dtype_name(a->dtype), LT_TENSOR_SHAPE(a)),
               false;
    if (b->ndim != a->ndim)
        return lt_fail(ctx, LT_ERR_SHAPE, "cat: tensor %d has shape %s of rank %d but tensor 0 has shape %s of rank %d",
                       k, LT_TENSOR_SHAPE(b), b->ndim, LT_TENSOR_SHAPE(a), a->ndim),
               false;
    for (int d = 0; d < a->ndim; d++)
        if (d != dim && a->shape[d] != b->shape[d])
            return lt_fail(ctx, LT_ERR_SHAPE,
                           "cat: tensor %d has shape %s but tensor 0 has shape %s: sizes must match except in dim %d",
                           k, LT_TENSOR_SHAPE(b), LT_TENSOR_SHAPE(a), dim),
                   false;
    return true;
}

/* Validates everything and resolves dim; -1 on error. */
static int check_cat_args(lt_ctx *ctx, lt_tensor *const *ts, int n, int dim)
{
    if (!lt_check_args(ctx, "cat", 0, NULL))
        return -1;
    if (!ts)
        return lt_fail(ctx, LT_ERR_ARG, "cat: the tensor array is NULL"), -1;
    if (n < 1)
        return lt_fail(ctx, LT_ERR_ARG, "cat: needs at least one tensor, got n = %d", n), -1;
    for (int k = 0; k < n; k++) {
        if (!ts[k])
            return lt_fail(ctx, LT_ERR_ARG, "cat: tensor %d of %d is NULL", k, n), -1;
        if (!lt_live(ctx, ts[k])) {
            char what[48];
            snprintf(what, sizeof what, "tensor %d of %d", k, n);
            return lt_check_live_as(ctx, "cat", what, ts[k]), -1;
        }
    }
    if (ts[0]->ndim == 0)
        return lt_fail(ctx, LT_ERR_SHAPE, "cat: tensor 0 is a scalar (); scalars cannot be concatenated"), -1;
    int d = lt_resolve_dim(ctx, "cat", dim, ts[0]->ndim);
    if (d < 0)
        return -1;
    for (int k = 1; k < n; k++)
        if (!check_same(ctx, ts, k, d))
            return -1;
    return d;
}

/* n tensors (A..., s_k, B...) -> (A..., sum s_k, B...) */
lt_tensor *lt_cat(lt_ctx *ctx, lt_tensor *const *ts, int n, int dim)
{
    int d = check_cat_args(ctx, ts, n, dim);
    if (d < 0)
        return NULL;
    /* dense copies of strided inputs; their copy nodes route the gradient
     * back to the original views */
    lt_tensor **in = lt_arena_alloc(ctx, sizeof *in * (size_t)n);
    if (!in)
        return NULL;
    int64_t shape[LT_MAX_DIMS];
    memcpy(shape, ts[0]->shape, sizeof(int64_t) * (size_t)ts[0]->ndim);
    shape[d] = 0;
    for (int k = 0; k < n; k++) {
        if (ts[k]->shape[d] > LT_MAX_SPAN - shape[d]) /* the same huge empty tensor many times: no overflow */
            return lt_fail(ctx, LT_ERR_SHAPE, "cat: the result has more than 2^40 elements along dim %d", d);
        shape[d] += ts[k]->shape[d];
    }
    lt_shape result = {ts[0]->ndim, {0}};
    memcpy(result.d, shape, sizeof(int64_t) * (size_t)result.ndim);
    if (!lt_check_shape(ctx, "cat", result))
        return NULL;
    for (int k = 0; k < n; k++)
        if (!(in[k] = lt_contiguous(ctx, ts[k])))
            return NULL;
    lt_tensor *y = lt_alloc_temp(ctx, ts[0]->dtype, ts[0]->ndim, shape);
    if (!y)
        return NULL;
    lt_split s = lt_split_around(y, d);
    size_t es = lt_dtype_size(y->dtype);
    int64_t out_cols = s.len * s.inner, start = 0;
    unsigned char *yv = y->storage->data;
    for (int k = 0; k < n; k++) {
        int64_t cols = in[k]->shape[d] * s.inner;
        const unsigned char *xv = (const unsigned char *)in[k]->storage->data + (size_t)in[k]->offset * es;
        for (int64_t o = 0; o < s.outer && cols > 0; o++)
            memcpy(yv + (size_t)(o * out_cols + start) * es, xv + (size_t)(o * cols) * es, (size_t)cols * es);
        start += cols;
    }
    return lt_op_end(ctx, &cat_op, y, n, in, &(lt_node_data){.i = {d}});
}
