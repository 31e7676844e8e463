/* where.c - selection by a condition, with broadcasting: where(cond, a, b)
 * and masked_fill(t, mask, value).
 *
 * The library has no bool dtype: a condition is an I32 or F32 tensor whose
 * nonzero elements (NaN included: NaN != 0) are true. Values are copied,
 * never computed, so -inf and NaN pass through unchanged. masked_fill is
 * where with the value as a scalar operand: where(mask, value, t).
 *
 * The three operands are read in place through their broadcast strides
 * (core/broadcast.c), the result is dense. Backward: a's gradient is dy
 * where cond is true, b's where it is false; a stretched operand (stride 0)
 * receives its positions one after another, so they sum. The condition is
 * an input of the node and is read again in backward. */
#include "core/opkit.h"

/* y (dense, element type T) = c ? a : b over the walk of {cond, a, b},
 * for a condition of element type C. */
#define SELECT(T, C, y, in)                                                                    \
    do {                                                                                       \
        const C *c_ = (const C *)(in)[0]->storage->data + (in)[0]->offset;                     \
        const T *a_ = (const T *)(in)[1]->storage->data + (in)[1]->offset;                     \
        const T *b_ = (const T *)(in)[2]->storage->data + (in)[2]->offset;                     \
        T *y_ = (T *)(y)->storage->data;                                                       \
        lt_walk w;                                                                             \
        lt_walk_broadcast(&w, (y)->ndim, (y)->shape, 3, (in));                                 \
        for (int64_t done = 0, n = lt_numel(y); done < n; done += w.len, lt_walk_next(&w)) {   \
            const C *cr = c_ + w.off[0];                                                       \
            const T *ar = a_ + w.off[1], *br = b_ + w.off[2];                                  \
            for (int64_t j = 0; j < w.len; j++)                                                \
                y_[done + j] = cr[j * w.step[0]] != 0 ? ar[j * w.step[1]] : br[j * w.step[2]]; \
        }                                                                                      \
    } while (0)

static void select_forward(lt_tensor *y, lt_tensor *const *in)
{
    bool int_cond = in[0]->dtype == LT_I32;
    if (y->dtype == LT_F32) {
        if (int_cond)
            SELECT(float, int32_t, y, in);
        else
            SELECT(float, float, y, in);
    } else {
        if (int_cond)
            SELECT(int32_t, int32_t, y, in);
        else
            SELECT(int32_t, float, y, in);
    }
}

/* da += dy where the condition (element type C) holds, db += dy elsewhere;
 * either may be NULL (that operand needs no gradient). */
#define SELECT_GRAD(C, node, da, db)                                                                   \
    do {                                                                                               \
        const C *c_ = (const C *)(node)->in[0]->storage->data + (node)->in[0]->offset;                 \
        const float *dy = lt_output_grad(node);                                                        \
        lt_walk w;                                                                                     \
        lt_walk_broadcast(&w, (node)->out->ndim, (node)->out->shape, 3, (node)->in);                   \
        for (int64_t done = 0, n = lt_numel((node)->out); done < n; done += w.len, lt_walk_next(&w)) { \
            const C *cr = c_ + w.off[0];                                                               \
            for (int64_t j = 0; j < w.len; j++) {                                                      \
                if (cr[j * w.step[0]] != 0) {                                                          \
                    if (da)                                                                            \
                        (da)[w.off[1] + j * w.step[1]] += dy[done + j];                                \
                } else if (db) {                                                                       \
                    (db)[w.off[2] + j * w.step[2]] += dy[done + j];                                    \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
    } while (0)

static void select_backward(lt_ctx *ctx, lt_node *node)
{
    float *da = lt_input_grad(ctx, node, 1), *db = lt_input_grad(ctx, node, 2);
    if (!da && !db)
        return;
    if (node->in[0]->dtype == LT_I32)
        SELECT_GRAD(int32_t, node, da, db);
    else
        SELECT_GRAD(float, node, da, db);
}

static const lt_op where_op = {"where", select_backward, LT_SAVES_IN(0)};
static const lt_op masked_fill_op = {"masked_fill", select_backward, LT_SAVES_IN(0)};

/* The result of selecting between in[1] and in[2] by in[0] over shape;
 * recorded only when a value operand needs a gradient. */
static lt_tensor *select_op(lt_ctx *ctx, const lt_op *op, lt_tensor *const *in, int ndim, const int64_t *shape)
{
    lt_tensor *y = lt_alloc_temp(ctx, in[1]->dtype, ndim, shape);
    if (!y)
        return NULL;
    select_forward(y, in);
    if (!lt_needs_grad(ctx, 2, in + 1)) /* a condition needing a gradient gets none */
        return y;
    return lt_op_end(ctx, op, y, 3, in, NULL);
}

lt_tensor *lt_where(lt_ctx *ctx, lt_tensor *cond, lt_tensor *a, lt_tensor *b)
{
    lt_tensor *in[3] = {cond, a, b};
    if (!lt_check_args(ctx, "where", 3, in))
        return NULL;
    if (a->dtype != b->dtype)
        return lt_fail(ctx, LT_ERR_DTYPE, "where: a and b must have the same dtype, got %s %s and %s %s",
                       lt_dtype_name(a->dtype), LT_TENSOR_SHAPE(a), lt_dtype_name(b->dtype), LT_TENSOR_SHAPE(b));
    int ndim;
    int64_t shape[LT_MAX_DIMS];
    if (!lt_broadcast_result(ctx, "where", 3, in, &ndim, shape))
        return NULL;
    return select_op(ctx, &where_op, in, ndim, shape);
}

lt_tensor *lt_masked_fill(lt_ctx *ctx, lt_tensor *t, lt_tensor *mask, float value)
{
    if (!lt_check_args(ctx, "masked_fill", 2, (lt_tensor *const[]){t, mask}) || !lt_check_f32(ctx, "masked_fill", t))
        return NULL;
    int ndim;
    int64_t shape[LT_MAX_DIMS];
    if (!lt_broadcast_result(ctx, "masked_fill", 2, (lt_tensor *const[]){t, mask}, &ndim, shape))
        return NULL;
    lt_tensor *fill = lt_alloc_temp(ctx, LT_F32, 0, shape); /* a scalar operand */
    if (!fill)
        return NULL;
    lt_f32(fill)[0] = value;
    return select_op(ctx, &masked_fill_op, (lt_tensor *const[]){mask, fill, t}, ndim, shape);
}
