/* strided.c - moving elements between strided layouts and dense arrays.
 *
 * Most kernels work on dense memory; these two loops are the bridge. The
 * innermost dimension runs as a plain loop, the outer ones through an index
 * counter, so the cost is one pass over the elements. */
#include "core/internal.h"

/* Position of the current row (all but the last index) and its offset. */
typedef struct {
    int64_t idx[LT_MAX_DIMS];
    int64_t off;
} row_cursor;

static void cursor_next(row_cursor *c, const lt_tensor *t)
{
    for (int d = t->ndim - 2; d >= 0; d--) {
        c->idx[d]++;
        c->off += t->stride[d];
        if (c->idx[d] < t->shape[d])
            return;
        c->off -= t->stride[d] * t->shape[d];
        c->idx[d] = 0;
    }
}

void lt_gather_f32(float *dst, const lt_tensor *src)
{
    int64_t n = lt_numel(src);
    if (n == 0)
        return;
    const float *base = src->storage->data;
    if (src->ndim == 0) {
        dst[0] = base[src->offset];
        return;
    }
    int64_t inner = src->shape[src->ndim - 1], s = src->stride[src->ndim - 1];
    row_cursor c = {{0}, src->offset};
    for (int64_t done = 0; done < n; done += inner) {
        const float *row = base + c.off;
        for (int64_t j = 0; j < inner; j++)
            dst[done + j] = row[j * s];
        cursor_next(&c, src);
    }
}

void lt_scatter_add_f32(float *dst_base, const lt_tensor *layout, const float *src)
{
    int64_t n = lt_numel(layout);
    if (n == 0)
        return;
    if (layout->ndim == 0) {
        dst_base[layout->offset] += src[0];
        return;
    }
    int64_t inner = layout->shape[layout->ndim - 1], s = layout->stride[layout->ndim - 1];
    row_cursor c = {{0}, layout->offset};
    for (int64_t done = 0; done < n; done += inner) {
        float *row = dst_base + c.off;
        for (int64_t j = 0; j < inner; j++)
            row[j * s] += src[done + j];
        cursor_next(&c, layout);
    }
}
