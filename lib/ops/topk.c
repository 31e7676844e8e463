/* topk.c - torch.topk: the k largest (or smallest) values along a dim and
 * their indices, sorted, in PyTorch 1.13's order even among equal values.
 *
 * PyTorch's CPU kernel (topk_impl_loop) puts (value, index) pairs of a row
 * in index order and runs std::partial_sort over them when k * 64 <= n,
 * otherwise std::nth_element at k - 1 then std::sort of the first k - 1,
 * with the comparator "a before b when a > b, NaN before any number" (or
 * "a < b, numbers before NaN" for the smallest). Neither algorithm is
 * stable, so which of several equal values comes first is decided by the
 * algorithms themselves: the ones below follow libstdc++'s (GCC 12, as
 * Debian's PyTorch is built with) step by step - the heap of partial_sort,
 * the median-of-three quickselect of nth_element and the introsort with a
 * final insertion sort of sort - so the indices match PyTorch's too.
 * tests/test_topk.c checks 411 rows full of ties (29 shapes) against PyTorch.
 *
 * No gradient: the op refuses an input that would need one. */
#include "core/internal.h"

#include <math.h>

/* ---- libstdc++'s sorting algorithms on (value, index) pairs --------------- */

typedef struct topk_item {
    float value;
    int32_t index;
} topk_item;

typedef struct sorter {
    topk_item *a;
    bool largest;
} sorter;

/* The comparator of topk_impl_loop: true when x goes before y. */
static bool before(const sorter *s, topk_item x, topk_item y)
{
    if (s->largest)
        return (isnan(x.value) && !isnan(y.value)) || x.value > y.value;
    return (!isnan(x.value) && isnan(y.value)) || x.value < y.value;
}

static bool before_at(const sorter *s, int64_t i, int64_t j)
{
    return before(s, s->a[i], s->a[j]);
}

static void swap_at(const sorter *s, int64_t i, int64_t j)
{
    topk_item t = s->a[i];
    s->a[i] = s->a[j];
    s->a[j] = t;
}

/* std::__adjust_heap then std::__push_heap on the heap a[first..first+len):
 * the hole at `hole` sinks to a leaf along the larger children, then value
 * rises from there. */
static void adjust_heap(const sorter *s, int64_t first, int64_t hole, int64_t len, topk_item value)
{
    topk_item *a = s->a + first;
    const int64_t top = hole;
    int64_t child = hole;
    while (child < (len - 1) / 2) {
        child = 2 * (child + 1);
        if (before(s, a[child], a[child - 1]))
            child--;
        a[hole] = a[child];
        hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
        child = 2 * (child + 1);
        a[hole] = a[child - 1];
        hole = child - 1;
    }
    int64_t parent = (hole - 1) / 2;
    while (hole > top && before(s, a[parent], value)) {
        a[hole] = a[parent];
        hole = parent;
        parent = (hole - 1) / 2;
    }
    a[hole] = value;
}

static void make_heap(const sorter *s, int64_t first, int64_t last)
{
    int64_t len = last - first;
    if (len < 2)
        return;
    for (int64_t parent = (len - 2) / 2;; parent--) {
        adjust_heap(s, first, parent, len, s->a[first + parent]);
        if (parent == 0)
            return;
    }
}

/* std::__pop_heap: the heap's top goes to `result`, result's value into the heap. */
static void pop_heap(const sorter *s, int64_t first, int64_t last, int64_t result)
{
    topk_item value = s->a[result];
    s->a[result] = s->a[first];
    adjust_heap(s, first, 0, last - first, value);
}

static void heap_select(const sorter *s, int64_t first, int64_t middle, int64_t last)
{
    make_heap(s, first, middle);
    for (int64_t i = middle; i < last; i++)
        if (before_at(s, i, first))
            pop_heap(s, first, middle, i);
}

static void sort_heap(const sorter *s, int64_t first, int64_t last)
{
    while (last - first > 1) {
        last--;
        pop_heap(s, first, last, last);
    }
}

static void partial_sort(const sorter *s, int64_t first, int64_t middle, int64_t last)
{
    heap_select(s, first, middle, last);
    sort_heap(s, first, middle);
}

/* std::__move_median_to_first: the median of a, b, c swapped into result. */
static void move_median_to_first(const sorter *s, int64_t result, int64_t a, int64_t b, int64_t c)
{
    int64_t median;
    if (before_at(s, a, b))
        median = before_at(s, b, c) ? b : before_at(s, a, c) ? c : a;
    else
        median = before_at(s, a, c) ? a : before_at(s, b, c) ? c : b;
    swap_at(s, result, median);
}

/* std::__unguarded_partition around the pivot at `pivot`. */
static int64_t unguarded_partition(const sorter *s, int64_t first, int64_t last, int64_t pivot)
{
    for (;;) {
        while (before_at(s, first, pivot))
            first++;
        last--;
        while (before_at(s, pivot, last))
            last--;
        if (!(first < last))
            return first;
        swap_at(s, first, last);
        first++;
    }
}

static int64_t unguarded_partition_pivot(const sorter *s, int64_t first, int64_t last)
{
    int64_t mid = first + (last - first) / 2;
    move_median_to_first(s, first, first + 1, mid, last - 1);
    return unguarded_partition(s, first + 1, last, first);
}

static void unguarded_linear_insert(const sorter *s, int64_t last)
{
    topk_item value = s->a[last];
    int64_t next = last - 1;
    while (before(s, value, s->a[next])) {
        s->a[last] = s->a[next];
        last = next;
        next--;
    }
    s->a[last] = value;
}

static void insertion_sort(const sorter *s, int64_t first, int64_t last)
{
    if (first == last)
        return;
    for (int64_t i = first + 1; i < last; i++) {
        if (before_at(s, i, first)) {
            topk_item value = s->a[i];
            for (int64_t j = i; j > first; j--)
                s->a[j] = s->a[j - 1];
            s->a[first] = value;
        } else {
            unguarded_linear_insert(s, i);
        }
    }
}

/* std::__lg: floor(log2(n)) for n >= 1. */
static int64_t floor_log2(int64_t n)
{
    int64_t k = 0;
    while (n > 1) {
        n >>= 1;
        k++;
    }
    return k;
}

static void nth_element(const sorter *s, int64_t first, int64_t nth, int64_t last)
{
    if (first == last || nth == last)
        return;
    int64_t depth = 2 * floor_log2(last - first);
    while (last - first > 3) {
        if (depth == 0) {
            heap_select(s, first, nth + 1, last);
            swap_at(s, first, nth);
            return;
        }
        depth--;
        int64_t cut = unguarded_partition_pivot(s, first, last);
        if (cut <= nth)
            first = cut;
        else
            last = cut;
    }
    insertion_sort(s, first, last);
}

/* libstdc++'s _S_threshold: introsort leaves runs this short to the final
 * insertion sort. */
#define SORT_THRESHOLD 16

static void introsort_loop(const sorter *s, int64_t first, int64_t last, int64_t depth)
{
    while (last - first > SORT_THRESHOLD) {
        if (depth == 0) {
            partial_sort(s, first, last, last);
            return;
        }
        depth--;
        int64_t cut = unguarded_partition_pivot(s, first, last);
        introsort_loop(s, cut, last, depth);
        last = cut;
    }
}

static void std_sort(const sorter *s, int64_t first, int64_t last)
{
    if (first == last)
        return;
    introsort_loop(s, first, last, 2 * floor_log2(last - first));
    if (last - first > SORT_THRESHOLD) {
        insertion_sort(s, first, first + SORT_THRESHOLD);
        for (int64_t i = first + SORT_THRESHOLD; i < last; i++)
            unguarded_linear_insert(s, i);
    } else {
        insertion_sort(s, first, last);
    }
}

/* The first k of a[0..n) in topk's order, exactly as topk_impl_loop leaves them. */
static void select_top(const sorter *s, int64_t n, int64_t k)
{
    if (k * 64 <= n) {
        partial_sort(s, 0, k, n);
    } else {
        nth_element(s, 0, k - 1, n);
        std_sort(s, 0, k - 1);
    }
}

/* ---- the op ------------------------------------------------------------------ */

static bool check_topk(lt_ctx *ctx, lt_tensor *t, int64_t k, int d)
{
    char buf[64];
    int64_t n = t->shape[d];
    if (k < 0 || k > n) {
        lt_fail(ctx, LT_ERR_INDEX, "topk: k = %lld out of range for dim %d of %s", (long long)k, d,
                lt_tensor_shape_str(t, buf, sizeof buf));
        return false;
    }
    if (n > INT32_MAX) {
        lt_fail(ctx, LT_ERR_SHAPE, "topk: dim %d of %s is longer than I32 indices reach", d,
                lt_tensor_shape_str(t, buf, sizeof buf));
        return false;
    }
    if (lt_needs_grad(ctx, 1, &t)) {
        lt_fail(ctx, LT_ERR_GRAPH, "topk: has no gradient, but its input requires one "
                                   "(sample with grad mode off: lt_set_grad_enabled(ctx, false))");
        return false;
    }
    return true;
}

lt_tensor *lt_topk(lt_ctx *ctx, lt_tensor *t, int64_t k, int dim, bool largest, lt_tensor **indices)
{
    if (indices)
        *indices = NULL;
    if (!lt_check_args(ctx, "topk", 1, &t))
        return NULL;
    if (t->dtype != LT_F32)
        return lt_fail(ctx, LT_ERR_DTYPE, "topk: needs an f32 tensor, got %s", lt_dtype_name(t->dtype));
    if (t->ndim == 0)
        return lt_fail(ctx, LT_ERR_SHAPE, "topk: needs a tensor of rank 1 or more, got a scalar");
    int d = lt_resolve_dim(ctx, "topk", dim, t->ndim);
    if (d < 0 || !check_topk(ctx, t, k, d))
        return NULL;
    lt_tensor *x = lt_contiguous(ctx, t);
    int64_t shape[LT_MAX_DIMS];
    int64_t outer = 1, inner = 1, n = t->shape[d];
    for (int i = 0; i < t->ndim; i++) {
        shape[i] = i == d ? k : t->shape[i];
        outer *= i < d ? t->shape[i] : 1;
        inner *= i > d ? t->shape[i] : 1;
    }
    lt_tensor *values = x ? lt_alloc_temp(ctx, LT_F32, t->ndim, shape) : NULL;
    lt_tensor *ix = values ? lt_alloc_temp(ctx, LT_I32, t->ndim, shape) : NULL;
    sorter s = {ix && n > 0 ? lt_arena_alloc(ctx, (size_t)n * sizeof(topk_item)) : NULL, largest};
    if (!ix || (n > 0 && !s.a))
        return NULL;
    const float *src = lt_f32(x);
    float *dv = lt_f32(values);
    int32_t *di = lt_i32(ix);
    for (int64_t o = 0; o < outer && k > 0; o++)
        for (int64_t in = 0; in < inner; in++) {
            const float *row = src + o * n * inner + in;
            for (int64_t j = 0; j < n; j++)
                s.a[j] = (topk_item){row[j * inner], (int32_t)j};
            select_top(&s, n, k);
            for (int64_t j = 0; j < k; j++) {
                dv[(o * k + j) * inner + in] = s.a[j].value;
                di[(o * k + j) * inner + in] = s.a[j].index;
            }
        }
    if (indices)
        *indices = ix;
    return values;
}
