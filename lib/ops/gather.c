/* gather.c - picking elements by index along a dim: gather (torch.gather,
 * take_along_dim without broadcasting) and one_hot.
 *
 *     gather: y[i][j][k] = t[index[i][j][k]][j][k]      (dim 0; likewise for the others)
 *
 * y has index's shape. The walk runs over index's shape with two operands:
 * index, and t with its stride along dim replaced by 0 (the picked position
 * adds index * stride[dim]), both read in place through their strides. The
 * backward walks the same way and adds dy into dt at the picked positions,
 * so a position picked twice receives both gradients (scatter-add), and an
 * expanded t (stride 0) sums as well. Index values are checked in forward
 * (torch.gather refuses negative ones, and so does this) and again in
 * backward, which reads index again: a value changed in between would
 * otherwise write outside t. */
#include "core/opkit.h"

#include <string.h>

/* t's layout for the walk: its strides with dim's set to 0, and the size
 * and stride of dim (a scalar is (1,) with stride 0). */
typedef struct {
    int64_t strides[LT_MAX_DIMS];
    int64_t size, step;
} pick_layout;

static pick_layout layout_of(const lt_tensor *t, int dim)
{
    pick_layout p = {{0}, 1, 0};
    for (int d = 0; d < t->ndim; d++)
        p.strides[d] = d == dim ? 0 : t->stride[d];
    if (t->ndim > 0) {
        p.size = t->shape[dim];
        p.step = t->stride[dim];
    }
    return p;
}

static void walk_of(lt_walk *w, const lt_tensor *index, const pick_layout *p)
{
    lt_walk_init(w, index->ndim, index->shape, 2, (const int64_t *const[]){index->stride, p->strides});
}

/* True, with the value in *bad, when an index value is outside 0..size-1. */
static bool find_bad_index(const lt_tensor *index, const pick_layout *p, int32_t *bad)
{
    const int32_t *iv = lt_i32(index);
    lt_walk w;
    walk_of(&w, index, p);
    for (int64_t done = 0, n = lt_numel(index); done < n; done += w.len, lt_walk_next(&w))
        for (int64_t j = 0; j < w.len; j++) {
            int32_t v = iv[w.off[0] + j * w.step[0]];
            if (v < 0 || v >= p->size) {
                *bad = v;
                return true;
            }
        }
    return false;
}

/* y[done + j] = t[off + v * step] over the walk, for element type T. */
#define PICK(T, y, t, index, p)                                                                         \
    do {                                                                                                \
        const T *tv = (const T *)(t)->storage->data + (t)->offset;                                      \
        const int32_t *iv = lt_i32(index);                                                              \
        T *yv = (T *)(y)->storage->data;                                                                \
        lt_walk w;                                                                                      \
        walk_of(&w, (index), (p));                                                                      \
        for (int64_t done = 0, n = lt_numel(index); done < n; done += w.len, lt_walk_next(&w))          \
            for (int64_t j = 0; j < w.len; j++)                                                         \
                yv[done + j] = tv[w.off[1] + j * w.step[1] + iv[w.off[0] + j * w.step[0]] * (p)->step]; \
    } while (0)

static void gather_backward(lt_ctx *ctx, lt_node *node)
{
    float *dt = lt_input_grad(ctx, node, 0); /* t's own strides */
    if (!dt)
        return;
    const lt_tensor *t = node->in[0], *index = node->in[1];
    pick_layout p = layout_of(t, (int)node->iparam[0]);
    int32_t bad;
    if (find_bad_index(index, &p, &bad)) {
        lt_fail(ctx, LT_ERR_INDEX,
                "gather: index %d is out of range for dim %d of size %lld (the index tensor changed "
                "after the forward)",
                bad, (int)node->iparam[0], (long long)p.size);
        return;
    }
    const int32_t *iv = lt_i32(index);
    const float *dy = lt_output_grad(node);
    lt_walk w;
    walk_of(&w, index, &p);
    for (int64_t done = 0, n = lt_numel(index); done < n; done += w.len, lt_walk_next(&w))
        for (int64_t j = 0; j < w.len; j++)
            dt[w.off[1] + j * w.step[1] + iv[w.off[0] + j * w.step[0]] * p.step] += dy[done + j];
}

static const lt_op gather_op = {"gather", gather_backward, LT_SAVES_IN(1)};

/* index I32 of t's rank, no larger than t off dim. */
static bool check_gather(lt_ctx *ctx, const lt_tensor *t, int dim, const lt_tensor *index)
{
    if (index->dtype != LT_I32)
        return lt_fail(ctx, LT_ERR_DTYPE, "gather: the index must be i32, got %s %s", lt_dtype_name(index->dtype),
                       LT_TENSOR_SHAPE(index)),
               false;
    if (index->ndim != t->ndim)
        return lt_fail(ctx, LT_ERR_SHAPE, "gather: index %s and input %s must have the same rank",
                       LT_TENSOR_SHAPE(index), LT_TENSOR_SHAPE(t)),
               false;
    for (int d = 0; d < t->ndim; d++)
        if (d != dim && index->shape[d] > t->shape[d])
            return lt_fail(ctx, LT_ERR_SHAPE, "gather: index %s is larger than input %s at dim %d (%lld > %lld)",
                           LT_TENSOR_SHAPE(index), LT_TENSOR_SHAPE(t), d, (long long)index->shape[d],
                           (long long)t->shape[d]),
                   false;
    return true;
}

lt_tensor *lt_gather(lt_ctx *ctx, lt_tensor *t, int dim, lt_tensor *index)
{
    if (!lt_check_args(ctx, "gather", 2, (lt_tensor *const[]){t, index}))
        return NULL;
    int d = lt_resolve_dim(ctx, "gather", dim, t->ndim ? t->ndim : 1); /* a scalar as (1,), as torch */
    if (d < 0 || !check_gather(ctx, t, d, index))
        return NULL;
    pick_layout p = layout_of(t, d);
    int32_t bad;
    if (find_bad_index(index, &p, &bad))
        return lt_fail(ctx, LT_ERR_INDEX, "gather: index %d is out of range for dim %d of size %lld", bad, d,
                       (long long)p.size);
    lt_tensor *y = lt_alloc_temp(ctx, t->dtype, index->ndim, index->shape);
    if (!y)
        return NULL;
    if (t->dtype == LT_F32)
        PICK(float, y, t, index, &p);
    else
        PICK(int32_t, y, t, index, &p);
    return lt_op_end(ctx, &gather_op, y, 2, (lt_tensor *const[]){t, index}, &(lt_node_data){.i = {d}});
}

/* ---- one_hot ----------------------------------------------------------------- */

lt_tensor *lt_one_hot(lt_ctx *ctx, lt_tensor *index, int64_t num_classes)
{
    if (!lt_check_args(ctx, "one_hot", 1, &index))
        return NULL;
    if (index->dtype != LT_I32)
        return lt_fail(ctx, LT_ERR_DTYPE, "one_hot: the index must be i32, got %s %s", lt_dtype_name(index->dtype),
                       LT_TENSOR_SHAPE(index));
    if (index->ndim >= LT_MAX_DIMS)
        return lt_fail(ctx, LT_ERR_SHAPE, "one_hot: index %s has rank %d; the result's rank would exceed %d",
                       LT_TENSOR_SHAPE(index), index->ndim, LT_MAX_DIMS);
    int64_t n = lt_numel(index);
    int32_t *cls = lt_arena_alloc(ctx, sizeof(int32_t) * (size_t)(n ? n : 1));
    if (!cls)
        return NULL;
    lt_copy_to_dense(cls, index);
    int32_t lo = 0, hi = -1;
    for (int64_t i = 0; i < n; i++) {
        lo = cls[i] < lo ? cls[i] : lo;
        hi = cls[i] > hi ? cls[i] : hi;
    }
    if (num_classes == -1 && n == 0)
        return lt_fail(ctx, LT_ERR_ARG, "one_hot: cannot infer num_classes (-1) from an empty index %s",
                       LT_TENSOR_SHAPE(index));
    if (num_classes == -1)
        num_classes = (int64_t)hi + 1;
    if (num_classes < 0)
        return lt_fail(ctx, LT_ERR_ARG, "one_hot: num_classes %lld must be >= 0, or -1 to infer it",
                       (long long)num_classes);
    if (lo < 0 || hi >= num_classes)
        return lt_fail(ctx, LT_ERR_INDEX, "one_hot: class %d is out of range for %lld classes", lo < 0 ? lo : hi,
                       (long long)num_classes);
    int64_t shape[LT_MAX_DIMS];
    memcpy(shape, index->shape, sizeof(int64_t) * (size_t)index->ndim);
    shape[index->ndim] = num_classes;
    if (!lt_check_result_shape(ctx, "one_hot", index->ndim + 1, shape))
        return NULL;
    lt_tensor *y = lt_alloc_temp(ctx, LT_F32, index->ndim + 1, shape);
    if (!y)
        return NULL;
    float *yv = lt_f32(y);
    memset(yv, 0, sizeof(float) * (size_t)(n * num_classes));
    for (int64_t i = 0; i < n; i++)
        yv[i * num_classes + cls[i]] = 1.0f;
    return y;
}
