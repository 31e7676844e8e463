/* triangle.c - tril and triu: the lower or upper triangle of the last two
 * dims (every other dim is a batch of matrices), the rest zero.
 *
 * With diagonal d, row i of a (rows, cols) matrix keeps the columns j with
 * j - i <= d (tril) or j - i >= d (triu): one contiguous span per row, so
 * the forward copies that span and zeroes the rest, and the backward adds
 * the same span of dy into dx. F32 and I32 (lt_tril(lt_ones(T,T)) or an I32
 * tensor make attention masks without a host loop). */
#include "core/opkit.h"

#include <string.h>

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The columns [*lo, *hi) row i keeps; diagonal is clamped to
 * [-rows, cols] first so that i + diagonal cannot overflow. */
static void kept_span(bool upper, int64_t i, int64_t rows, int64_t cols, int64_t diagonal, int64_t *lo, int64_t *hi)
{
    int64_t edge = i + clamp64(diagonal, -rows, cols); /* the diagonal's column in row i */
    *lo = upper ? clamp64(edge, 0, cols) : 0;
    *hi = upper ? cols : clamp64(edge + 1, 0, cols);
}

/* dx += dy on the kept spans (x was made contiguous: dx is dense). */
static void triangle_backward(lt_ctx *ctx, lt_node *node)
{
    float *dx = lt_input_grad(ctx, node, 0);
    if (!dx)
        return;
    const lt_tensor *y = node->out;
    bool upper = node->iparam[0] != 0;
    int64_t rows = y->shape[y->ndim - 2], cols = y->shape[y->ndim - 1], all_rows = cols ? lt_numel(y) / cols : 0;
    const float *dy = lt_output_grad(node);
    for (int64_t r = 0; r < all_rows; r++) {
        int64_t lo, hi;
        kept_span(upper, r % rows, rows, cols, node->iparam[1], &lo, &hi);
        for (int64_t j = lo; j < hi; j++)
            dx[r * cols + j] += dy[r * cols + j];
    }
}

static const lt_op tril_op = {"tril", triangle_backward, LT_SAVES_NONE};
static const lt_op triu_op = {"triu", triangle_backward, LT_SAVES_NONE};

static lt_tensor *triangle(lt_ctx *ctx, const lt_op *op, bool upper, lt_tensor *t, int64_t diagonal)
{
    if (!lt_check_args(ctx, op->name, 1, &t))
        return NULL;
    if (t->ndim < 2)
        return lt_fail(ctx, LT_ERR_SHAPE, "%s: needs a tensor of rank >= 2 (a batch of matrices), got %s", op->name,
                       LT_TENSOR_SHAPE(t));
    lt_tensor *x = lt_contiguous(ctx, t);
    lt_tensor *y = x ? lt_alloc_temp(ctx, x->dtype, x->ndim, x->shape) : NULL;
    if (!y)
        return NULL;
    int64_t rows = x->shape[x->ndim - 2], cols = x->shape[x->ndim - 1];
    int64_t all_rows = cols ? lt_numel(x) / cols : 0;
    size_t es = lt_dtype_size(x->dtype);
    const unsigned char *xv = (const unsigned char *)x->storage->data + (size_t)x->offset * es;
    unsigned char *yv = y->storage->data;
    for (int64_t r = 0; r < all_rows; r++) { /* row r % rows of matrix r / rows */
        int64_t lo, hi;
        kept_span(upper, r % rows, rows, cols, diagonal, &lo, &hi);
        unsigned char *row = yv + (size_t)(r * cols) * es;
        memset(row, 0, (size_t)lo * es); /* all bits zero: 0.0f and 0 */
        memcpy(row + (size_t)lo * es, xv + (size_t)(r * cols + lo) * es, (size_t)(hi - lo) * es);
        memset(row + (size_t)hi * es, 0, (size_t)(cols - hi) * es);
    }
    return lt_op_end(ctx, op, y, 1, &x, &(lt_node_data){.i = {upper, diagonal}});
}

lt_tensor *lt_tril(lt_ctx *ctx, lt_tensor *t, int64_t diagonal) { return triangle(ctx, &tril_op, false, t, diagonal); }
lt_tensor *lt_triu(lt_ctx *ctx, lt_tensor *t, int64_t diagonal) { return triangle(ctx, &triu_op, true, t, diagonal); }
