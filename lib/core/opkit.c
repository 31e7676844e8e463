/* opkit.c - how ops begin: argument and dtype checks, dense inputs, the
 * output of an elementwise op (see opkit.h). */
#include "core/opkit.h"
#include "kernels/threads.h"

bool lt_check_f32(lt_ctx *ctx, const char *op, lt_tensor *x)
{
    if (!lt_check_args(ctx, op, 1, &x))
        return false;
    if (x->dtype != LT_F32)
        return lt_fail(ctx, LT_ERR_DTYPE, "%s: needs an f32 tensor, got %s", op, lt_dtype_name(x->dtype)), false;
    return true;
}

lt_tensor *lt_dense_f32(lt_ctx *ctx, const char *op, lt_tensor *x)
{
    return lt_check_f32(ctx, op, x) ? lt_contiguous(ctx, x) : NULL;
}

lt_tensor *lt_unary_begin(lt_ctx *ctx, const char *op, lt_tensor **x)
{
    *x = lt_dense_f32(ctx, op, *x);
    return *x ? lt_alloc_temp(ctx, LT_F32, (*x)->ndim, (*x)->shape) : NULL;
}

lt_tensor *lt_unary_op(lt_ctx *ctx, const lt_op *op, lt_tensor *x, lt_map_fn map, double work_per_elem)
{
    lt_tensor *y = lt_unary_begin(ctx, op->name, &x);
    if (!y)
        return NULL;
    lt_par_map(ctx, map, lt_f32(y), lt_f32(x), lt_numel(x), work_per_elem);
    return lt_op_end(ctx, op, y, 1, &x, NULL);
}
