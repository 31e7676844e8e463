/* index.c - embedding lookup C[X]: rows of a table picked by an index
 * tensor of any shape. The table may be F32 (differentiable) or I32.
 *
 * Indices follow PyTorch: -size <= i < size, and a negative index counts from
 * the end (C[-1] is the last row). Anything else is an LT_ERR_INDEX naming the
 * offending value, as written (e.g. "index 27 out of range for dimension 0 of
 * size 27"). The resolved indices are copied into the arena, so the forward
 * reads X through its strides once and backward does not depend on X. */
#include "core/opkit.h"

#include <string.h>

/* What backward needs: the resolved row of every lookup. */
typedef struct {
    int64_t count;   /* numel(X) */
    int64_t row;     /* elements per row of C: prod(C.shape[1:]) */
    int32_t *rows;   /* count resolved indices, each in 0..C.shape[0]-1 */
} index_saved;

/* dC[rows[i], :] += dy[i, :] for every lookup i; repeated rows accumulate. */
static void index_backward(lt_ctx *ctx, lt_node *node)
{
    const index_saved *s = node->saved;
    float *dc = s ? lt_input_grad(ctx, node, 0) : NULL; /* C is contiguous: dense (rows, row) */
    if (!dc)
        return;
    const float *dy = lt_output_grad(node);
    for (int64_t i = 0; i < s->count; i++) {
        float *dst = dc + (int64_t)s->rows[i] * s->row;
        const float *src = dy + i * s->row;
        for (int64_t j = 0; j < s->row; j++)
            dst[j] += src[j];
    }
}

static const lt_op index_op = {"index", index_backward, LT_SAVES_NONE};

static bool check_index_args(lt_ctx *ctx, const lt_tensor *c, const lt_tensor *x)
{
    if (x->dtype != LT_I32)
        return lt_fail(ctx, LT_ERR_DTYPE, "index: the indices (argument 2) must be i32, got f32 %s",
                       LT_TENSOR_SHAPE(x)),
               false;
    if (c->ndim < 1)
        return lt_fail(ctx, LT_ERR_SHAPE, "index: the table must have rank >= 1, got a scalar %s", LT_TENSOR_SHAPE(c)),
               false;
    if (x->ndim + c->ndim - 1 > LT_MAX_DIMS)
        return lt_fail(ctx, LT_ERR_SHAPE, "index: table %s indexed by %s would have rank %d > %d", LT_TENSOR_SHAPE(c),
                       LT_TENSOR_SHAPE(x), x->ndim + c->ndim - 1, LT_MAX_DIMS),
               false;
    return true;
}

/* Reads X (any strides) into the arena and resolves negative indices.
 * NULL with LT_ERR_INDEX naming the first bad index. */
static int32_t *resolve_rows(lt_ctx *ctx, const lt_tensor *x, int64_t size)
{
    int64_t n = lt_numel(x);
    int32_t *rows = lt_arena_alloc(ctx, sizeof(int32_t) * (size_t)(n ? n : 1));
    if (!rows)
        return NULL;
    lt_copy_out_i32(x, rows);
    for (int64_t i = 0; i < n; i++) {
        int64_t r = rows[i];
        if (r < -size || r >= size)
            return lt_fail(ctx, LT_ERR_INDEX, "index: index %lld out of range for dimension 0 of size %lld",
                           (long long)r, (long long)size);
        rows[i] = (int32_t)(r < 0 ? r + size : r);
    }
    return rows;
}

/* (X...) indexing (R, D...) -> (X..., D...) */
lt_tensor *lt_index(lt_ctx *ctx, lt_tensor *c, lt_tensor *x)
{
    if (!lt_check_args(ctx, "index", 2, (lt_tensor *const[]){c, x}) || !check_index_args(ctx, c, x))
        return NULL;
    int32_t *rows = resolve_rows(ctx, x, c->shape[0]);
    if (!rows)
        return NULL;
    c = lt_contiguous(ctx, c);
    if (!c)
        return NULL;
    int64_t shape[LT_MAX_DIMS];
    int ndim = 0;
    for (int d = 0; d < x->ndim; d++)
        shape[ndim++] = x->shape[d];
    for (int d = 1; d < c->ndim; d++)
        shape[ndim++] = c->shape[d];
    if (!lt_check_result_shape(ctx, "index", ndim, shape))
        return NULL;
    lt_tensor *y = lt_alloc_temp(ctx, c->dtype, ndim, shape);
    if (!y)
        return NULL;
    /* an I32 table works too (Xtr[ix] picks minibatch rows); it is never recorded */
    int64_t count = lt_numel(x), row = lt_shape_numel(c->ndim - 1, c->shape + 1);
    size_t es = lt_dtype_size(c->dtype), row_bytes = es * (size_t)row;
    const unsigned char *table = (const unsigned char *)c->storage->data + (size_t)c->offset * es;
    unsigned char *yv = y->storage->data;
    for (int64_t i = 0; i < count && row > 0; i++)
        memcpy(yv + (size_t)i * row_bytes, table + (size_t)rows[i] * row_bytes, row_bytes);
    index_saved *s = NULL;
    if (lt_needs_grad(ctx, 1, &c)) {
        if (!(s = lt_arena_alloc(ctx, sizeof *s)))
            return NULL;
        *s = (index_saved){count, row, rows};
    }
    return lt_op_end(ctx, &index_op, y, 1, &c, &(lt_node_data){.saved = s});
}
