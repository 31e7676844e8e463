/* cat.c - concatenation along one dim (torch.cat).
 *
 * Every input is viewed as (outer, size_i * inner), where outer is the
 * product of the sizes before dim and inner the product after it; the output
 * is (outer, total * inner) and input i owns the column block that starts at
 * (sum of the sizes before it) * inner. Forward copies blocks in, backward
 * adds the same blocks of the output gradient back out. I32 inputs are
 * concatenated too (never recorded: they cannot carry a gradient). */
#include "core/internal.h"

#include <string.h>

/* Products of the sizes before and after dim. */
static void split_at(const lt_tensor *t, int dim, int64_t *outer, int64_t *inner)
{
    *outer = lt_shape_numel(dim, t->shape);
    *inner = lt_shape_numel(t->ndim - dim - 1, t->shape + dim + 1);
}

/* d(in_i) += the column block of d(out) that in_i filled. */
static void cat_backward(lt_ctx *ctx, lt_node *node)
{
    int dim = (int)node->iparam[0];
    const lt_tensor *out = node->out;
    int64_t outer, inner;
    split_at(out, dim, &outer, &inner);
    int64_t out_cols = out->shape[dim] * inner, start = 0;
    const float *gy = lt_g(out);
    for (int k = 0; k < node->n_in; k++) {
        lt_tensor *in = node->in[k];
        int64_t cols = in->shape[dim] * inner;
        if (lt_want_grad(in) && cols > 0) {
            float *gx = lt_grad_buffer(ctx, in); /* in is contiguous: dense */
            if (!gx)
                return;
            for (int64_t o = 0; o < outer; o++)
                for (int64_t j = 0; j < cols; j++)
                    gx[o * cols + j] += gy[o * out_cols + start + j];
        }
        start += cols;
    }
}

static const lt_op cat_op = {"cat", cat_backward};

/* Checks ts[k] against ts[0]: dtype, rank, sizes off dim. */
static bool check_same(lt_ctx *ctx, lt_tensor *const *ts, int k, int dim)
{
    const lt_tensor *a = ts[0], *b = ts[k];
    char sa[96], sb[96];
    lt_tensor_shape_str(a, sa, sizeof sa);
    lt_tensor_shape_str(b, sb, sizeof sb);
    if (b->dtype != a->dtype) {
        lt_fail(ctx, LT_ERR_DTYPE, "cat: tensor %d is %s %s but tensor 0 is %s %s", k, lt_dtype_name(b->dtype), sb,
                lt_dtype_name(a->dtype), sa);
        return false;
    }
    if (b->ndim != a->ndim) {
        lt_fail(ctx, LT_ERR_SHAPE, "cat: tensor %d has shape %s of rank %d but tensor 0 has shape %s of rank %d", k,
                sb, b->ndim, sa, a->ndim);
        return false;
    }
    for (int d = 0; d < a->ndim; d++)
        if (d != dim && a->shape[d] != b->shape[d]) {
            lt_fail(ctx, LT_ERR_SHAPE,
                    "cat: tensor %d has shape %s but tensor 0 has shape %s: sizes must match except in dim %d", k,
                    sb, sa, dim);
            return false;
        }
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
    for (int k = 0; k < n; k++)
        if (!ts[k])
            return lt_fail(ctx, LT_ERR_ARG, "cat: tensor %d of %d is NULL", k, n), -1;
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
    lt_tensor *out = lt_alloc_temp(ctx, ts[0]->dtype, ts[0]->ndim, shape);
    if (!out)
        return NULL;
    int64_t outer, inner;
    split_at(out, d, &outer, &inner);
    size_t es = lt_dtype_size(out->dtype);
    int64_t out_cols = shape[d] * inner, start = 0;
    unsigned char *y = out->storage->data;
    for (int k = 0; k < n; k++) {
        int64_t cols = in[k]->shape[d] * inner;
        const unsigned char *x = (const unsigned char *)in[k]->storage->data + (size_t)in[k]->offset * es;
        for (int64_t o = 0; o < outer && cols > 0; o++)
            memcpy(y + (size_t)(o * out_cols + start) * es, x + (size_t)(o * cols) * es, (size_t)cols * es);
        start += cols;
    }
    lt_node *node;
    if (!lt_maybe_record(ctx, &cat_op, out, n, in, &node))
        return NULL;
    if (node)
        node->iparam[0] = d;
    return out;
}
