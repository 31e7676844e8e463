/* view.c - views that share storage (view, transpose, permute, narrow,
 * select, unbind, squeeze, unsqueeze) and the copies that make a tensor
 * contiguous (contiguous, clone, reshape).
 *
 * A view is only a new header over the same storage; because the gradient
 * buffer belongs to the storage too, a gradient written through a view lands
 * in the base's gradient. Views therefore need no tape node. */
#include "core/opkit.h"

#include <string.h>

/* Replaces a single -1 by the size that keeps numel; checks the total. */
static bool infer_shape(lt_ctx *ctx, const char *op, const lt_tensor *t, lt_shape *s)
{
    if (s->ndim < 0 || s->ndim > LT_MAX_DIMS)
        return lt_fail(ctx, LT_ERR_SHAPE, "%s: rank %d outside 0..%d", op, s->ndim, LT_MAX_DIMS), false;
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < s->ndim; i++) {
        if (s->d[i] == -1 && infer < 0) {
            infer = i;
        } else if (s->d[i] < 0) {
            lt_fail(ctx, LT_ERR_SHAPE, "%s: invalid shape %s", op, LT_SHAPE_TEXT(*s));
            return false;
        } else if (s->d[i] > 1 && known > LT_MAX_SPAN / s->d[i]) { /* before the product overflows */
            lt_fail(ctx, LT_ERR_SHAPE, "%s: shape %s has too many elements (sizes multiply to more than 2^40)", op,
                    LT_SHAPE_TEXT(*s));
            return false;
        } else {
            known *= s->d[i];
        }
    }
    int64_t n = lt_numel(t);
    if (infer >= 0) {
        if (known == 0 || n % known != 0) {
            lt_fail(ctx, LT_ERR_SHAPE, "%s: shape %s is invalid for a tensor %s of %lld elements", op,
                    LT_SHAPE_TEXT(*s), LT_TENSOR_SHAPE(t), (long long)n);
            return false;
        }
        s->d[infer] = n / known;
        known = n;
    }
    if (!lt_check_shape(ctx, op, *s)) /* e.g. (0, 2^62, 4): its strides would overflow */
        return false;
    if (known != n) {
        lt_fail(ctx, LT_ERR_SHAPE, "%s: shape %s is invalid for a tensor %s of %lld elements", op, LT_SHAPE_TEXT(*s),
                LT_TENSOR_SHAPE(t), (long long)n);
        return false;
    }
    return true;
}

/* Strides for viewing t as shape s without copying, as torch.view decides:
 * the old dimensions fall into runs that are contiguous with each other, and
 * each run must be split exactly by whole new dimensions. */
static bool view_strides(const lt_tensor *t, const lt_shape *s, int64_t *out)
{
    if (t->ndim == 0 || lt_numel(t) == 0) {
        int64_t st = 1;
        for (int i = s->ndim - 1; i >= 0; i--) {
            out[i] = st;
            st *= s->d[i] ? s->d[i] : 1;
        }
        return true;
    }
    int vd = s->ndim - 1;
    int64_t base = t->stride[t->ndim - 1], run = 1, vrun = 1;
    for (int td = t->ndim - 1; td >= 0; td--) {
        run *= t->shape[td];
        bool run_ends = td == 0 || (t->shape[td - 1] != 1 && t->stride[td - 1] != run * base);
        if (!run_ends)
            continue;
        while (vd >= 0 && (vrun < run || s->d[vd] == 1)) {
            out[vd] = vrun * base;
            vrun *= s->d[vd];
            vd--;
        }
        if (vrun != run)
            return false;
        if (td > 0) {
            base = t->stride[td - 1];
            run = vrun = 1;
        }
    }
    return vd == -1;
}

static lt_tensor *view_as(lt_ctx *ctx, lt_tensor *t, const lt_shape *s, const int64_t *strides)
{
    lt_tensor *v = lt_alias(ctx, t);
    if (!v)
        return NULL;
    v->ndim = s->ndim;
    memcpy(v->shape, s->d, sizeof(int64_t) * (size_t)s->ndim);
    memcpy(v->stride, strides, sizeof(int64_t) * (size_t)s->ndim);
    return v;
}

lt_tensor *lt_view(lt_ctx *ctx, lt_tensor *t, lt_shape shape)
{
    if (!lt_check_args(ctx, "view", 1, &t) || !infer_shape(ctx, "view", t, &shape))
        return NULL;
    int64_t strides[LT_MAX_DIMS];
    if (!view_strides(t, &shape, strides)) {
        return lt_fail(ctx, LT_ERR_SHAPE,
                       "view: a tensor %s with these strides cannot be viewed as %s without a copy "
                       "(use reshape or contiguous)",
                       LT_TENSOR_SHAPE(t), LT_SHAPE_TEXT(shape));
    }
    return view_as(ctx, t, &shape, strides);
}

lt_tensor *lt_reshape(lt_ctx *ctx, lt_tensor *t, lt_shape shape)
{
    if (!lt_check_args(ctx, "reshape", 1, &t) || !infer_shape(ctx, "reshape", t, &shape))
        return NULL;
    int64_t strides[LT_MAX_DIMS];
    if (view_strides(t, &shape, strides))
        return view_as(ctx, t, &shape, strides);
    lt_tensor *c = lt_clone(ctx, t);
    return c ? lt_view(ctx, c, shape) : NULL;
}

lt_tensor *lt_transpose(lt_ctx *ctx, lt_tensor *t, int dim0, int dim1)
{
    if (!lt_check_args(ctx, "transpose", 1, &t))
        return NULL;
    int a = lt_resolve_dim(ctx, "transpose", dim0, t->ndim);
    int b = a < 0 ? -1 : lt_resolve_dim(ctx, "transpose", dim1, t->ndim);
    if (b < 0)
        return NULL;
    lt_tensor *v = lt_alias(ctx, t);
    if (!v)
        return NULL;
    v->shape[a] = t->shape[b];
    v->shape[b] = t->shape[a];
    v->stride[a] = t->stride[b];
    v->stride[b] = t->stride[a];
    return v;
}

lt_tensor *lt_permute(lt_ctx *ctx, lt_tensor *t, const int *dims)
{
    if (!lt_check_args(ctx, "permute", 1, &t))
        return NULL;
    if (!dims)
        return lt_fail(ctx, LT_ERR_ARG, "permute: dims is NULL");
    bool seen[LT_MAX_DIMS] = {false};
    int resolved[LT_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++) {
        int d = lt_resolve_dim(ctx, "permute", dims[i], t->ndim);
        if (d < 0)
            return NULL;
        if (seen[d])
            return lt_fail(ctx, LT_ERR_ARG, "permute: dim %d appears twice", d);
        seen[d] = true;
        resolved[i] = d;
    }
    lt_tensor *v = lt_alias(ctx, t);
    if (!v)
        return NULL;
    for (int i = 0; i < t->ndim; i++) {
        v->shape[i] = t->shape[resolved[i]];
        v->stride[i] = t->stride[resolved[i]];
    }
    return v;
}

lt_tensor *lt_narrow(lt_ctx *ctx, lt_tensor *t, int dim, int64_t start, int64_t length)
{
    if (!lt_check_args(ctx, "narrow", 1, &t))
        return NULL;
    int d = lt_resolve_dim(ctx, "narrow", dim, t->ndim);
    if (d < 0)
        return NULL;
    /* written so that no sum can overflow, whatever start and length are */
    if (start < 0 || length < 0 || start > t->shape[d] || length > t->shape[d] - start) {
        if (length >= 0 ? start > INT64_MAX - length : start < INT64_MIN - length)
            return lt_fail(ctx, LT_ERR_INDEX, "narrow: start %lld, length %lld outside 0..%lld of dim %d",
                           (long long)start, (long long)length, (long long)t->shape[d], d);
        return lt_fail(ctx, LT_ERR_INDEX, "narrow: range [%lld, %lld) outside 0..%lld of dim %d", (long long)start,
                       (long long)(start + length), (long long)t->shape[d], d);
    }
    lt_tensor *v = lt_alias(ctx, t);
    if (!v)
        return NULL;
    v->offset += start * t->stride[d];
    v->shape[d] = length;
    return v;
}

lt_tensor *lt_select(lt_ctx *ctx, lt_tensor *t, int dim, int64_t index)
{
    if (!lt_check_args(ctx, "select", 1, &t))
        return NULL;
    int d = lt_resolve_dim(ctx, "select", dim, t->ndim);
    if (d < 0)
        return NULL;
    int64_t i = index < 0 ? index + t->shape[d] : index;
    if (i < 0 || i >= t->shape[d])
        return lt_fail(ctx, LT_ERR_INDEX, "select: index %lld out of range for dim %d of size %lld",
                       (long long)index, d, (long long)t->shape[d]);
    lt_tensor *v = lt_alias(ctx, t);
    if (!v)
        return NULL;
    v->offset += i * t->stride[d];
    for (int k = d; k < t->ndim - 1; k++) {
        v->shape[k] = t->shape[k + 1];
        v->stride[k] = t->stride[k + 1];
    }
    v->ndim--;
    return v;
}

lt_tensor **lt_unbind(lt_ctx *ctx, lt_tensor *t, int dim, int *count)
{
    if (count)
        *count = 0;
    if (!lt_check_args(ctx, "unbind", 1, &t))
        return NULL;
    int d = lt_resolve_dim(ctx, "unbind", dim, t->ndim);
    if (d < 0)
        return NULL;
    int64_t n = t->shape[d];
    lt_tensor **out = lt_arena_alloc(ctx, sizeof(lt_tensor *) * (size_t)(n ? n : 1));
    if (!out)
        return NULL;
    for (int64_t i = 0; i < n; i++)
        if (!(out[i] = lt_select(ctx, t, d, i)))
            return NULL;
    if (count)
        *count = (int)n;
    return out;
}

lt_tensor *lt_unsqueeze(lt_ctx *ctx, lt_tensor *t, int dim)
{
    if (!lt_check_args(ctx, "unsqueeze", 1, &t))
        return NULL;
    if (t->ndim >= LT_MAX_DIMS)
        return lt_fail(ctx, LT_ERR_SHAPE, "unsqueeze: rank %d is already the maximum", t->ndim);
    int d = lt_resolve_dim(ctx, "unsqueeze", dim, t->ndim + 1);
    if (d < 0)
        return NULL;
    lt_tensor *v = lt_alias(ctx, t);
    if (!v)
        return NULL;
    for (int k = t->ndim; k > d; k--) {
        v->shape[k] = t->shape[k - 1];
        v->stride[k] = t->stride[k - 1];
    }
    v->shape[d] = 1;
    v->stride[d] = d < t->ndim ? t->stride[d] * t->shape[d] : 1;
    v->ndim++;
    return v;
}

lt_tensor *lt_squeeze(lt_ctx *ctx, lt_tensor *t, int dim)
{
    if (!lt_check_args(ctx, "squeeze", 1, &t))
        return NULL;
    int d = lt_resolve_dim(ctx, "squeeze", dim, t->ndim);
    if (d < 0)
        return NULL;
    if (t->shape[d] != 1)
        return lt_fail(ctx, LT_ERR_SHAPE, "squeeze: dim %d has size %lld, not 1", d, (long long)t->shape[d]);
    return lt_select(ctx, t, d, 0);
}

/* ---- copies --------------------------------------------------------------- */

/* y (dense) = x (strided); backward routes the dense gradient back into
 * the strided gradient of the input. */
static void copy_backward(lt_ctx *ctx, lt_node *node)
{
    if (lt_input_grad(ctx, node, 0))
        lt_scatter_add_f32(node->in[0]->storage->grad, node->in[0], lt_output_grad(node));
}

static const lt_op copy_op = {"contiguous", copy_backward, LT_SAVES_NONE};

lt_tensor *lt_clone(lt_ctx *ctx, lt_tensor *t)
{
    if (!lt_check_args(ctx, "clone", 1, &t))
        return NULL;
    lt_tensor *y = lt_alloc_temp(ctx, t->dtype, t->ndim, t->shape);
    if (!y)
        return NULL;
    lt_gather(y->storage->data, t);
    return lt_op_end(ctx, &copy_op, y, 1, &t, NULL);
}

lt_tensor *lt_contiguous(lt_ctx *ctx, lt_tensor *t)
{
    if (!lt_check_args(ctx, "contiguous", 1, &t))
        return NULL;
    return lt_is_contiguous(t) ? t : lt_clone(ctx, t);
}
