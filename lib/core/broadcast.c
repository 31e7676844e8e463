/* broadcast.c - broadcasting (NumPy/PyTorch rules): the result shape of
 * several operands, each operand's strides over that shape (0 along a dim it
 * is stretched over), the walk over them, and lt_expand, the broadcast as a
 * view.
 *
 * Shapes align on the right; a missing or size-1 dim stretches to the other
 * operands' size. A stretched operand is read in place through stride 0, so
 * no broadcast ever copies, and the gradient of a stretched operand is the
 * sum over the positions that read it: a backward that adds (+=) through the
 * same stride-0 layout, one position after the other, sums them. */
#include "core/internal.h"

#include <stdio.h>
#include <string.h>

bool lt_broadcast_shapes(int na, const int64_t *a, int nb, const int64_t *b, int *ndim, int64_t *out, int *bad_dim)
{
    int n = na > nb ? na : nb;
    for (int d = 0; d < n; d++) {
        int ka = d - (n - na), kb = d - (n - nb);
        int64_t da = ka < 0 ? 1 : a[ka], db = kb < 0 ? 1 : b[kb];
        if (da != db && da != 1 && db != 1) {
            *bad_dim = d;
            return false;
        }
        out[d] = da == 1 ? db : da;
    }
    *ndim = n;
    return true;
}

int64_t lt_broadcast_stride(const lt_tensor *t, int ndim, int d)
{
    int k = d - (ndim - t->ndim);
    return k < 0 || t->shape[k] == 1 ? 0 : t->stride[k];
}

/* "(2,3) and (4)", "(2,3), (3,1) and (4)": the operands' shapes for a message. */
static void shapes_text(int n, lt_tensor *const *ts, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < n && used < size; k++) {
        const char *sep = k == 0 ? "" : k == n - 1 ? " and " : ", ";
        int w = snprintf(buf + used, size - used, "%s%s", sep, LT_TENSOR_SHAPE(ts[k]));
        used += w > 0 ? (size_t)w : 0;
    }
}

bool lt_broadcast_result(lt_ctx *ctx, const char *op, int n, lt_tensor *const *ts, int *ndim, int64_t *shape)
{
    int rank = 0;
    for (int k = 0; k < n; k++)
        rank = ts[k]->ndim > rank ? ts[k]->ndim : rank;
    for (int d = 0; d < rank; d++) {
        int64_t size = 1;
        for (int k = 0; k < n; k++) {
            int j = d - (rank - ts[k]->ndim);
            int64_t s = j < 0 ? 1 : ts[k]->shape[j];
            if (s != 1 && size != 1 && s != size) {
                char shapes[LT_SHAPE_STR_SIZE * 4];
                shapes_text(n, ts, shapes, sizeof shapes);
                lt_fail(ctx, LT_ERR_SHAPE, "%s: shapes %s cannot broadcast (dim %d: %lld vs %lld)", op, shapes, d,
                        (long long)size, (long long)s);
                return false;
            }
            size = s != 1 ? s : size;
        }
        shape[d] = size;
    }
    *ndim = rank;
    return lt_check_result_shape(ctx, op, rank, shape);
}

void lt_walk_broadcast(lt_walk *w, int ndim, const int64_t *shape, int n, lt_tensor *const *ts)
{
    int64_t strides[LT_WALK_MAX][LT_MAX_DIMS];
    const int64_t *rows[LT_WALK_MAX];
    for (int k = 0; k < n; k++) {
        const lt_tensor *t = ts[k];
        int lead = ndim - t->ndim; /* dims t lacks */
        for (int d = 0; d < ndim; d++)
            strides[k][d] = d < lead || t->shape[d - lead] == 1 ? 0 : t->stride[d - lead];
        rows[k] = strides[k];
    }
    lt_walk_init(w, ndim, shape, n, rows);
}

/* ---- lt_expand: the broadcast as a view ----------------------------------- */

/* The sizes and strides of t expanded to s (torch's inferExpandGeometry): a
 * kept dim keeps its stride, a stretched one gets stride 0, a new leading dim
 * of size 1 the stride a contiguous layout would give it. */
static bool expand_geometry(lt_ctx *ctx, const lt_tensor *t, const lt_shape *s, int64_t *shape, int64_t *stride)
{
    if (s->ndim < t->ndim || s->ndim > LT_MAX_DIMS)
        return lt_fail(ctx, LT_ERR_SHAPE, "expand: cannot expand %s to %s: the target needs rank %d to %d, got %d",
                       LT_TENSOR_SHAPE(t), LT_SHAPE_TEXT(*s), t->ndim, LT_MAX_DIMS, s->ndim),
               false;
    for (int d = s->ndim - 1; d >= 0; d--) {
        int k = d - (s->ndim - t->ndim);
        int64_t size = k < 0 ? 1 : t->shape[k], want = s->d[d];
        int64_t st = k >= 0 ? t->stride[k] : d + 1 < s->ndim ? shape[d + 1] * stride[d + 1] : 1;
        if (want == -1 && k < 0)
            return lt_fail(ctx, LT_ERR_SHAPE,
                           "expand: cannot expand %s to %s: -1 is not allowed in the new leading dim %d",
                           LT_TENSOR_SHAPE(t), LT_SHAPE_TEXT(*s), d),
                   false;
        if (want == -1)
            want = size;
        if (want < 0)
            return lt_fail(ctx, LT_ERR_SHAPE, "expand: cannot expand %s to %s: negative size %lld at dim %d",
                           LT_TENSOR_SHAPE(t), LT_SHAPE_TEXT(*s), (long long)want, d),
                   false;
        if (want != size) {
            if (size != 1)
                return lt_fail(ctx, LT_ERR_SHAPE,
                               "expand: cannot expand %s to %s: dim %d has size %lld, which is neither 1 nor %lld",
                               LT_TENSOR_SHAPE(t), LT_SHAPE_TEXT(*s), d, (long long)size, (long long)want),
                       false;
            st = 0;
        }
        shape[d] = want;
        stride[d] = st;
    }
    return true;
}

lt_tensor *lt_expand(lt_ctx *ctx, lt_tensor *t, lt_shape shape)
{
    if (!lt_check_args(ctx, "expand", 1, &t))
        return NULL;
    int64_t sizes[LT_MAX_DIMS], strides[LT_MAX_DIMS];
    if (!expand_geometry(ctx, t, &shape, sizes, strides) || !lt_check_result_shape(ctx, "expand", shape.ndim, sizes))
        return NULL;
    lt_tensor *v = lt_alias(ctx, t);
    if (!v)
        return NULL;
    v->ndim = shape.ndim;
    memcpy(v->shape, sizes, sizeof(int64_t) * (size_t)shape.ndim);
    memcpy(v->stride, strides, sizeof(int64_t) * (size_t)shape.ndim);
    return v;
}
