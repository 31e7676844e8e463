/* strided.c - the walk over strided tensors (internal.h) and the copies
 * between strided layouts and dense arrays built on it.
 *
 * Most kernels work on dense memory; these loops are the bridge. The
 * innermost dimension runs as a plain loop, the outer ones through an index
 * counter, so the cost is one pass over the elements. */
#include "core/internal.h"

void lt_walk_init(lt_walk *w, int ndim, const int64_t *shape, int n, const int64_t *const *strides)
{
    w->ndim = 0;
    w->n = n;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 1)
            continue; /* moves no pointer */
        int k = w->ndim;
        /* merge into the previous (outer) dim when, for every operand, one
         * step of it equals shape[d] steps of this one */
        bool merge = k > 0;
        for (int o = 0; o < n && merge; o++)
            merge = w->stride[o][k - 1] == strides[o][d] * shape[d];
        if (merge) {
            w->shape[k - 1] *= shape[d];
            for (int o = 0; o < n; o++)
                w->stride[o][k - 1] = strides[o][d];
        } else {
            w->shape[k] = shape[d];
            for (int o = 0; o < n; o++)
                w->stride[o][k] = strides[o][d];
            w->ndim++;
        }
    }
    if (w->ndim == 0) { /* every dim has size 1: a single element */
        w->ndim = 1;
        w->shape[0] = 1;
        for (int o = 0; o < n; o++)
            w->stride[o][0] = 0;
    }
    w->len = w->shape[w->ndim - 1];
    for (int o = 0; o < n; o++) {
        w->step[o] = w->stride[o][w->ndim - 1];
        w->off[o] = 0;
    }
    for (int d = 0; d < w->ndim; d++)
        w->idx[d] = 0;
}

void lt_walk_tensor(lt_walk *w, const lt_tensor *t)
{
    lt_walk_init(w, t->ndim, t->shape, 1, (const int64_t *const[]){t->stride});
}

void lt_walk_pair(lt_walk *w, const lt_tensor *a, const lt_tensor *b)
{
    lt_walk_init(w, a->ndim, a->shape, 2, (const int64_t *const[]){a->stride, b->stride});
}

/* dst <- src for element type T; one instance per 4-byte dtype. */
#define GATHER(T, dst, src)                                                                    \
    do {                                                                                       \
        const T *base = (const T *)(src)->storage->data + (src)->offset;                       \
        T *out = (dst);                                                                        \
        lt_walk w;                                                                             \
        lt_walk_tensor(&w, (src));                                                             \
        for (int64_t done = 0, n = lt_numel(src); done < n; done += w.len, lt_walk_next(&w)) { \
            const T *row = base + w.off[0];                                                    \
            for (int64_t j = 0; j < w.len; j++)                                                \
                out[done + j] = row[j * w.step[0]];                                            \
        }                                                                                      \
    } while (0)

void lt_copy_to_dense(void *dst, const lt_tensor *src)
{
    if (src->dtype == LT_I32)
        GATHER(int32_t, dst, src);
    else
        GATHER(float, dst, src);
}

void lt_scatter_add_f32(float *dst_base, const lt_tensor *layout, const float *src)
{
    float *base = dst_base + layout->offset;
    lt_walk w;
    lt_walk_tensor(&w, layout);
    for (int64_t done = 0, n = lt_numel(layout); done < n; done += w.len, lt_walk_next(&w)) {
        float *row = base + w.off[0];
        for (int64_t j = 0; j < w.len; j++)
            row[j * w.step[0]] += src[done + j];
    }
}
