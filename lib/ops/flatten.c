/* flatten.c - makemore part 5's FlattenConsecutive: (B, T, C) ->
 * (B, T/n, C*n), n consecutive time steps side by side. For a row-major
 * layout this is only a new shape (element (b, t, k*C + c) is element
 * (b, t*n + k, c)), so the result is a view whenever lt_view can make one
 * (any contiguous input, and many strided ones); otherwise a recorded copy
 * (lt_reshape). Either way gradients reach the input. */
#include "core/internal.h"

lt_tensor *lt_flatten_consecutive(lt_ctx *ctx, lt_tensor *x, int n)
{
    if (!lt_check_args(ctx, "flatten_consecutive", 1, &x))
        return NULL;
    if (x->ndim != 3)
        return lt_fail(ctx, LT_ERR_SHAPE, "flatten_consecutive: input %s: needs rank 3 (B,T,C)", LT_TENSOR_SHAPE(x));
    if (n < 1)
        return lt_fail(ctx, LT_ERR_ARG, "flatten_consecutive: n = %d must be >= 1", n);
    if (x->shape[1] % n != 0)
        return lt_fail(ctx, LT_ERR_SHAPE, "flatten_consecutive: input %s: T = %lld is not divisible by n = %d",
                       LT_TENSOR_SHAPE(x), (long long)x->shape[1], n);
    return lt_reshape(ctx, x, LT_SHAPE(x->shape[0], x->shape[1] / n, x->shape[2] * n));
}
