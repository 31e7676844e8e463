/* shape.c - the layout of a tensor: dtypes, shapes, strides, element
 * offsets, the (outer, len, inner) split around a dim, and shape checks. */
#include "core/internal.h"

#include <stdio.h>
#include <string.h>

size_t lt_dtype_size(lt_dtype dt) { return dt == LT_I32 ? sizeof(int32_t) : sizeof(float); }
const char *lt_dtype_name(lt_dtype dt) { return dt == LT_I32 ? "i32" : "f32"; }

int64_t lt_shape_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

int64_t lt_numel(const lt_tensor *t) { return t ? lt_shape_numel(t->ndim, t->shape) : 0; }

void lt_set_contiguous_strides(lt_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        t->stride[i] = s;
        s *= t->shape[i];
    }
}

bool lt_is_contiguous(const lt_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s)
            return false;
        s *= t->shape[i];
    }
    return true;
}

int64_t lt_offset_of(const lt_tensor *t, int64_t i)
{
    int64_t off = t->offset;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t n = t->shape[d];
        if (n == 0)
            return t->offset;
        off += (i % n) * t->stride[d];
        i /= n;
    }
    return off;
}

lt_split lt_split_around(const lt_tensor *t, int dim)
{
    if (t->ndim == 0) /* a scalar is one slice of one element */
        return (lt_split){1, 1, 1};
    return (lt_split){lt_shape_numel(dim, t->shape), t->shape[dim],
                      lt_shape_numel(t->ndim - dim - 1, t->shape + dim + 1)};
}

/* A rank lt_shape can hold; anything else is refused or printed as invalid,
 * never indexed. */
static bool rank_ok(int ndim) { return ndim >= 0 && ndim <= LT_MAX_DIMS; }

lt_shape lt_shape_of(const lt_tensor *t)
{
    lt_shape s = {0, {0}};
    if (!t)
        return s;
    s.ndim = t->ndim;
    if (rank_ok(t->ndim)) /* a damaged header keeps its rank, which lt_shape_str reports */
        memcpy(s.d, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    return s;
}

bool lt_shape_equal(lt_shape a, lt_shape b)
{
    if (a.ndim != b.ndim || !rank_ok(a.ndim))
        return false;
    for (int i = 0; i < a.ndim; i++)
        if (a.d[i] != b.d[i])
            return false;
    return true;
}

char *lt_shape_str(lt_shape s, char *buf, size_t size)
{
    size_t n = 0;
    if (size == 0)
        return buf;
    buf[0] = '\0';
    if (!rank_ok(s.ndim)) {
        snprintf(buf, size, "(invalid shape: rank %d)", s.ndim);
        return buf;
    }
    n += (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < s.ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, i ? ",%lld" : "%lld", (long long)s.d[i]);
    if (n < size)
        snprintf(buf + n, size - n, ")");
    return buf;
}

char *lt_tensor_shape_str(const lt_tensor *t, char *buf, size_t size)
{
    return lt_shape_str(lt_shape_of(t), buf, size);
}

bool lt_check_shape(lt_ctx *ctx, const char *op, lt_shape s)
{
    if (s.ndim < 0 || s.ndim > LT_MAX_DIMS) {
        lt_fail(ctx, LT_ERR_SHAPE, "%s: rank %d outside 0..%d", op, s.ndim, LT_MAX_DIMS);
        return false;
    }
    /* The product of the sizes, zeros counted as 1, bounds every contiguous
     * stride too: an empty (0, 2^62, 4) would overflow its strides. */
    int64_t n = 1;
    for (int i = 0; i < s.ndim; i++) {
        if (s.d[i] < 0) {
            lt_fail(ctx, LT_ERR_SHAPE, "%s: negative size in shape %s", op, LT_SHAPE_TEXT(s));
            return false;
        }
        if (s.d[i] > 1 && n > LT_MAX_SPAN / s.d[i]) {
            lt_fail(ctx, LT_ERR_SHAPE, "%s: shape %s has too many elements (sizes multiply to more than 2^40)", op,
                    LT_SHAPE_TEXT(s));
            return false;
        }
        n *= s.d[i] > 1 ? s.d[i] : 1;
    }
    return true;
}

bool lt_check_result_shape(lt_ctx *ctx, const char *op, int ndim, const int64_t *shape)
{
    lt_shape s = {ndim, {0}};
    if (rank_ok(ndim))
        memcpy(s.d, shape, sizeof(int64_t) * (size_t)ndim);
    return lt_check_shape(ctx, op, s);
}

/* True when no two indices of t address the same element: sorted by stride,
 * each dim's stride exceeds the span of the smaller ones. */
bool lt_non_overlapping(const lt_tensor *t)
{
    int64_t span = 0; /* largest offset reachable by the dims seen so far */
    bool used[LT_MAX_DIMS] = {false};
    for (int seen = 0; seen < t->ndim; seen++) {
        int best = -1;
        for (int i = 0; i < t->ndim; i++)
            if (!used[i] && (best < 0 || t->stride[i] < t->stride[best]))
                best = i;
        used[best] = true;
        if (t->shape[best] <= 1)
            continue;
        if (t->stride[best] <= span)
            return false;
        span += (t->shape[best] - 1) * t->stride[best];
    }
    return true;
}

/* Offsets of t's elements modulo p all lie in [*lo, *hi) when every stride
 * of a dim of size > 1 that is >= p is a multiple of p and the smaller ones
 * span less than p from t's offset modulo p; false otherwise. */
static bool residue_window(const lt_tensor *t, int64_t p, int64_t *lo, int64_t *hi)
{
    int64_t width = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] <= 1)
            continue;
        if (t->stride[i] >= p) {
            if (t->stride[i] % p)
                return false;
        } else {
            width += (t->shape[i] - 1) * t->stride[i];
        }
    }
    *lo = t->offset % p;
    *hi = *lo + width;
    return *hi <= p;
}

/* True when a and b (same storage, non-overlapping each) share no element:
 * disjoint ranges of offsets, or disjoint residue windows for one of their
 * strides as the period (q, k, v split from one c_attn output: each takes
 * its own third of every row). */
bool lt_elements_disjoint(const lt_tensor *a, const lt_tensor *b)
{
    if (!lt_may_overlap(a, b)) /* disjoint ranges of offsets, or an empty one */
        return true;
    for (int pick = 0; pick < a->ndim + b->ndim; pick++) {
        const lt_tensor *t = pick < a->ndim ? a : b;
        int64_t p = t->stride[pick < a->ndim ? pick : pick - a->ndim], alo, ahi, blo, bhi;
        if (p > 1 && residue_window(a, p, &alo, &ahi) && residue_window(b, p, &blo, &bhi) && (ahi <= blo || bhi <= alo))
            return true;
    }
    return false;
}

/* Writing t element by element writes every element of its storage once:
 * a view of all of it whose dims, taken in order of stride, lay it out
 * densely (a contiguous tensor, or a whole transposed one such as a
 * PyTorch-style weight passed as lt_transpose(W)). */
bool lt_covers_storage(const lt_tensor *t)
{
    const int64_t n = lt_numel(t);
    if (t->offset != 0 || n != t->storage->numel)
        return false;
    if (n == 0)
        return true;
    bool used[LT_MAX_DIMS] = {false};
    int64_t span = 1; /* elements laid out by the dims chained so far */
    for (bool grew = true; grew && span < n;) {
        grew = false;
        for (int d = 0; d < t->ndim && !grew; d++)
            if (!used[d] && t->shape[d] > 1 && t->stride[d] == span) {
                used[d] = grew = true;
                span *= t->shape[d];
            }
    }
    return span == n;
}

/* The storage positions of t's first and last elements in memory order
 * (false when t has no elements). */
static bool extent(const lt_tensor *t, int64_t *lo, int64_t *hi)
{
    *lo = *hi = t->offset;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] == 0)
            return false;
        int64_t span = (t->shape[d] - 1) * t->stride[d];
        *(span < 0 ? lo : hi) += span;
    }
    return true;
}

bool lt_may_overlap(const lt_tensor *a, const lt_tensor *b)
{
    int64_t alo, ahi, blo, bhi;
    if (a->storage->data != b->storage->data || !extent(a, &alo, &ahi) || !extent(b, &blo, &bhi))
        return false;
    return alo <= bhi && blo <= ahi;
}
