/* tensor.c - creating tensors (persistent and temporary), element access,
 * in-place helpers and printing. */
#include "core/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- temporaries ------------------------------------------------------ */

static size_t header_bytes(void)
{
    size_t h = sizeof(lt_tensor) + sizeof(lt_storage);
    return (h + LT_ALIGN - 1) / LT_ALIGN * LT_ALIGN;
}

lt_tensor *lt_alloc_temp(lt_ctx *ctx, lt_dtype dt, int ndim, const int64_t *shape)
{
    /* every op checks its result shape first; this is the safety net that
     * keeps numel, the byte count and the strides from overflowing */
    if (!lt_check_result_shape(ctx, "result", ndim, shape))
        return NULL;
    int64_t numel = lt_shape_numel(ndim, shape);
    unsigned char *p = lt_arena_alloc(ctx, header_bytes() + (size_t)numel * lt_dtype_size(dt));
    if (!p)
        return NULL;
    lt_tensor *t = (lt_tensor *)p;
    lt_storage *s = (lt_storage *)(p + sizeof(lt_tensor));
    *s = (lt_storage){.data = p + header_bytes(), .grad = NULL, .numel = numel, .dtype = dt, .persistent = false};
    *t = (lt_tensor){
        .storage = s, .offset = 0, .ndim = ndim, .dtype = dt, .requires_grad = false, .generation = ctx->generation};
    memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    lt_set_contiguous_strides(t);
    return t;
}

lt_tensor *lt_alias(lt_ctx *ctx, const lt_tensor *t)
{
    lt_tensor *v = lt_arena_alloc(ctx, sizeof *v);
    if (!v)
        return NULL;
    *v = *t;
    v->owner = NULL;
    v->prev_owned = v->next_owned = NULL;
    v->generation = ctx->generation; /* a temporary, even when t is persistent */
    return v;
}

lt_tensor *lt_empty(lt_ctx *ctx, lt_dtype dtype, lt_shape shape)
{
    if (!lt_check_args(ctx, "empty", 0, NULL) || !lt_check_shape(ctx, "empty", shape))
        return NULL;
    if (dtype != LT_F32 && dtype != LT_I32)
        return lt_fail(ctx, LT_ERR_DTYPE, "empty: unknown dtype %d", (int)dtype);
    return lt_alloc_temp(ctx, dtype, shape.ndim, shape.d);
}

lt_tensor *lt_zeros(lt_ctx *ctx, lt_dtype dtype, lt_shape shape)
{
    lt_tensor *t = lt_empty(ctx, dtype, shape);
    if (t)
        memset(t->storage->data, 0, (size_t)t->storage->numel * lt_dtype_size(dtype));
    return t;
}

lt_tensor *lt_full(lt_ctx *ctx, lt_shape shape, float value)
{
    lt_tensor *t = lt_empty(ctx, LT_F32, shape);
    if (t)
        lt_fill(ctx, t, value);
    return t;
}

lt_tensor *lt_ones(lt_ctx *ctx, lt_shape shape) { return lt_full(ctx, shape, 1.0f); }

static lt_tensor *from_array(lt_ctx *ctx, lt_dtype dt, lt_shape shape, const void *data, const char *op)
{
    if (!lt_check_args(ctx, op, 0, NULL))
        return NULL;
    if (!data)
        return lt_fail(ctx, LT_ERR_ARG, "%s: data is NULL", op);
    lt_tensor *t = lt_empty(ctx, dt, shape);
    if (t)
        memcpy(t->storage->data, data, (size_t)t->storage->numel * lt_dtype_size(dt));
    return t;
}

lt_tensor *lt_from_f32(lt_ctx *ctx, lt_shape shape, const float *data)
{
    return from_array(ctx, LT_F32, shape, data, "from_f32");
}

lt_tensor *lt_from_i32(lt_ctx *ctx, lt_shape shape, const int32_t *data)
{
    return from_array(ctx, LT_I32, shape, data, "from_i32");
}

lt_tensor *lt_arange(lt_ctx *ctx, int64_t n)
{
    if (!lt_check_args(ctx, "arange", 0, NULL))
        return NULL;
    if (n < 0 || n > INT32_MAX)
        return lt_fail(ctx, LT_ERR_ARG, "arange: n = %lld outside 0..%d", (long long)n, INT32_MAX);
    lt_tensor *t = lt_alloc_temp(ctx, LT_I32, 1, &n);
    if (t)
        for (int64_t i = 0; i < n; i++)
            lt_i32(t)[i] = (int32_t)i;
    return t;
}

/* ---- persistent tensors ------------------------------------------------ */

lt_tensor *lt_new(lt_ctx *ctx, lt_dtype dtype, lt_shape shape)
{
    if (!lt_check_args(ctx, "new", 0, NULL) || !lt_check_shape(ctx, "new", shape))
        return NULL;
    if (dtype != LT_F32 && dtype != LT_I32)
        return lt_fail(ctx, LT_ERR_DTYPE, "new: unknown dtype %d", (int)dtype);
    int64_t numel = lt_shape_numel(shape.ndim, shape.d);
    lt_tensor *t = calloc(1, sizeof(lt_tensor) + sizeof(lt_storage));
    void *data = calloc((size_t)(numel ? numel : 1), lt_dtype_size(dtype));
    if (!t || !data) {
        free(t);
        free(data);
        return lt_fail(ctx, LT_ERR_MEMORY, "new: out of memory for %lld elements", (long long)numel);
    }
    lt_storage *s = (lt_storage *)(t + 1);
    *s = (lt_storage){.data = data, .grad = NULL, .numel = numel, .dtype = dtype, .persistent = true};
    t->storage = s;
    t->ndim = shape.ndim;
    t->dtype = dtype;
    memcpy(t->shape, shape.d, sizeof(int64_t) * (size_t)shape.ndim);
    lt_set_contiguous_strides(t);
    /* link into the context's list so lt_ctx_free can release it */
    t->next_owned = ctx->owned;
    if (ctx->owned)
        ctx->owned->prev_owned = t;
    ctx->owned = t;
    t->owner = ctx;
    t->generation = LT_GEN_PERSISTENT;
    return t;
}

lt_tensor *lt_new_from(lt_ctx *ctx, lt_dtype dtype, lt_shape shape, const void *data)
{
    if (!lt_check_args(ctx, "new_from", 0, NULL))
        return NULL;
    if (!data)
        return lt_fail(ctx, LT_ERR_ARG, "new_from: data is NULL");
    lt_tensor *t = lt_new(ctx, dtype, shape);
    if (t)
        memcpy(t->storage->data, data, (size_t)t->storage->numel * lt_dtype_size(dtype));
    return t;
}

lt_tensor *lt_new_copy(lt_ctx *ctx, const lt_tensor *src)
{
    if (!lt_check_args(ctx, "new_copy", 1, (lt_tensor *const[]){(lt_tensor *)src}))
        return NULL;
    lt_tensor *t = lt_new(ctx, src->dtype, lt_shape_of(src));
    if (!t)
        return NULL;
    lt_copy_to_dense(t->storage->data, src);
    return t;
}

void lt_free(lt_tensor *t)
{
    if (!t || !t->owner)
        return; /* temporaries belong to the arena */
    lt_ctx *ctx = t->owner;
    if (t->prev_owned)
        t->prev_owned->next_owned = t->next_owned;
    else
        ctx->owned = t->next_owned;
    if (t->next_owned)
        t->next_owned->prev_owned = t->prev_owned;
    free(t->storage->grad);
    free(t->storage->data);
    free(t);
}

/* ---- gradients ---------------------------------------------------------- */

/* A buffer marked by lt_zero_grad holds zeros from here on. */
static void clear_marked(lt_storage *s)
{
    if (s->grad && s->grad_zero)
        memset(s->grad, 0, (size_t)(s->numel ? s->numel : 1) * sizeof(float));
    s->grad_zero = false;
}

float *lt_grad_buffer(lt_ctx *ctx, lt_tensor *t)
{
    lt_storage *s = t->storage;
    clear_marked(s);
    if (!s->grad) {
        size_t bytes = (size_t)(s->numel ? s->numel : 1) * sizeof(float);
        if (s->persistent) {
            s->grad = calloc(1, bytes);
            if (!s->grad)
                return lt_fail(ctx, LT_ERR_MEMORY, "grad: out of memory for %lld elements", (long long)s->numel);
        } else {
            s->grad = lt_arena_alloc(ctx, bytes);
            if (!s->grad)
                return NULL;
            memset(s->grad, 0, bytes);
        }
    }
    return s->grad + t->offset;
}

lt_tensor *lt_requires_grad(lt_ctx *ctx, lt_tensor *t, bool requires)
{
    if (!lt_check_args(ctx, "requires_grad", 1, &t))
        return NULL;
    if (requires && t->dtype != LT_F32)
        return lt_fail(ctx, LT_ERR_DTYPE, "requires_grad: %s tensors cannot require a gradient",
                       lt_dtype_name(t->dtype));
    if (requires && !lt_grad_buffer(ctx, t))
        return NULL;
    t->requires_grad = requires;
    return t;
}

float *lt_grad_f32(lt_tensor *t)
{
    if (!t || !t->storage->grad)
        return NULL;
    clear_marked(t->storage);
    return t->storage->grad + t->offset;
}

lt_tensor *lt_grad(lt_ctx *ctx, lt_tensor *t)
{
    if (!lt_check_args(ctx, "grad", 1, &t))
        return NULL;
    if (!t->storage->grad)
        return lt_fail(ctx, LT_ERR_GRAPH, "grad: the tensor has no gradient (requires_grad not set, or no backward yet)");
    clear_marked(t->storage); /* the tensor made below shares the buffer */
    unsigned char *p = lt_arena_alloc(ctx, sizeof(lt_tensor) + sizeof(lt_storage));
    if (!p)
        return NULL;
    lt_tensor *g = (lt_tensor *)p;
    lt_storage *s = (lt_storage *)(p + sizeof(lt_tensor));
    *s = (lt_storage){.data = t->storage->grad, .grad = NULL, .numel = t->storage->numel, .dtype = LT_F32,
                      .persistent = false};
    *g = *t;
    g->storage = s;
    g->requires_grad = false;
    g->owner = NULL;
    g->prev_owned = g->next_owned = NULL;
    g->generation = ctx->generation;
    return g;
}

void lt_zero_grad(lt_tensor *t)
{
    if (!t || !t->storage->grad || t->storage->grad_zero)
        return;
    if (t->storage->persistent && lt_covers_storage(t)) {
        /* cleared lazily: the next backward writes the buffer (lt_input_grad_fresh) or clears it first */
        t->storage->grad_zero = true;
        return;
    }
    float *grad = lt_grad_f32(t);
    if (lt_is_contiguous(t)) {
        memset(grad, 0, (size_t)lt_numel(t) * sizeof(float));
        return;
    }
    lt_walk w;
    lt_walk_tensor(&w, t);
    for (int64_t done = 0, n = lt_numel(t); done < n; done += w.len, lt_walk_next(&w))
        for (int64_t j = 0; j < w.len; j++)
            grad[w.off[0] + j * w.step[0]] = 0.0f;
}

/* ---- element access ------------------------------------------------------ */

static bool in_range(const lt_tensor *t, int64_t i) { return t && i >= 0 && i < lt_numel(t); }

float lt_get_f32(const lt_tensor *t, int64_t i)
{
    if (!in_range(t, i) || t->dtype != LT_F32)
        return NAN;
    return ((const float *)t->storage->data)[lt_offset_of(t, i)];
}

int32_t lt_get_i32(const lt_tensor *t, int64_t i)
{
    if (!in_range(t, i) || t->dtype != LT_I32)
        return 0;
    return ((const int32_t *)t->storage->data)[lt_offset_of(t, i)];
}

void lt_set_f32(lt_tensor *t, int64_t i, float v)
{
    if (in_range(t, i) && t->dtype == LT_F32) {
        ((float *)t->storage->data)[lt_offset_of(t, i)] = v;
        lt_bump(t);
    }
}

void lt_set_i32(lt_tensor *t, int64_t i, int32_t v)
{
    if (in_range(t, i) && t->dtype == LT_I32) {
        ((int32_t *)t->storage->data)[lt_offset_of(t, i)] = v;
        lt_bump(t);
    }
}

float lt_grad_get(const lt_tensor *t, int64_t i)
{
    if (!in_range(t, i) || !t->storage->grad || t->storage->grad_zero)
        return 0.0f;
    return t->storage->grad[lt_offset_of(t, i)];
}

float lt_item(lt_ctx *ctx, const lt_tensor *t)
{
    if (!lt_check_args(ctx, "item", 1, (lt_tensor *const[]){(lt_tensor *)t}))
        return NAN;
    if (t->dtype != LT_F32 || lt_numel(t) != 1) {
        lt_fail(ctx, LT_ERR_SHAPE, "item: needs a one-element f32 tensor, got %s %s", lt_dtype_name(t->dtype),
                LT_TENSOR_SHAPE(t));
        return NAN;
    }
    return lt_get_f32(t, 0);
}

float *lt_data_f32(lt_tensor *t) { return t && t->dtype == LT_F32 ? lt_f32(t) : NULL; }
int32_t *lt_data_i32(lt_tensor *t) { return t && t->dtype == LT_I32 ? lt_i32(t) : NULL; }

void lt_bump_version(lt_tensor *t)
{
    if (t)
        lt_bump(t);
}

uint64_t lt_data_version(const lt_tensor *t) { return t ? t->storage->version : 0; }

void lt_copy_out_f32(const lt_tensor *t, float *dst)
{
    if (t && dst && t->dtype == LT_F32)
        lt_copy_to_dense(dst, t);
}

void lt_copy_out_i32(const lt_tensor *t, int32_t *dst)
{
    if (t && dst && t->dtype == LT_I32)
        lt_copy_to_dense(dst, t);
}

/* ---- in-place helpers (never recorded) ---------------------------------- */

bool lt_fill(lt_ctx *ctx, lt_tensor *t, float value)
{
    if (!lt_check_args(ctx, "fill", 1, &t))
        return false;
    if (t->dtype != LT_F32) {
        lt_fail(ctx, LT_ERR_DTYPE, "fill: needs an f32 tensor, got %s", lt_dtype_name(t->dtype));
        return false;
    }
    lt_bump(t);
    float *d = lt_f32(t);
    if (lt_is_contiguous(t)) { /* the common case, as one loop the compiler vectorises */
        for (int64_t i = 0, n = lt_numel(t); i < n; i++)
            d[i] = value;
        return true;
    }
    lt_walk w;
    lt_walk_tensor(&w, t);
    for (int64_t done = 0, n = lt_numel(t); done < n; done += w.len, lt_walk_next(&w))
        for (int64_t j = 0; j < w.len; j++)
            d[w.off[0] + j * w.step[0]] = value;
    return true;
}

/* A dim along which t repeats one element (stride 0, size > 1, as an
 * expanded view), or -1. */
static int repeated_dim(const lt_tensor *t)
{
    for (int d = 0; d < t->ndim; d++)
        if (t->stride[d] == 0 && t->shape[d] > 1)
            return d;
    return -1;
}

bool lt_assign(lt_ctx *ctx, lt_tensor *dst, const lt_tensor *src)
{
    if (!lt_check_args(ctx, "assign", 2, (lt_tensor *const[]){dst, (lt_tensor *)src}))
        return false;
    if (dst->dtype != src->dtype || !lt_shape_equal(lt_shape_of(dst), lt_shape_of(src))) {
        lt_fail(ctx, LT_ERR_SHAPE, "assign: destination %s %s and source %s %s differ", lt_dtype_name(dst->dtype),
                LT_TENSOR_SHAPE(dst), lt_dtype_name(src->dtype), LT_TENSOR_SHAPE(src));
        return false;
    }
    int d0 = repeated_dim(dst);
    if (d0 >= 0) {
        lt_fail(ctx, LT_ERR_ARG,
                "assign: the destination %s has stride 0 along dim %d: several of its elements are one memory "
                "location (clone it first)",
                LT_TENSOR_SHAPE(dst), d0);
        return false;
    }
    /* x[1:] = x[:-1], y = y.T: every source element is read before any is
     * written (through a dense copy), as NumPy does; PyTorch refuses */
    if (lt_may_overlap(dst, src)) {
        lt_tensor *copy = lt_alloc_temp(ctx, src->dtype, src->ndim, src->shape);
        if (!copy)
            return false;
        lt_copy_to_dense(copy->storage->data, src);
        src = copy;
    }
    lt_bump(dst);
    size_t es = lt_dtype_size(dst->dtype);
    unsigned char *d = (unsigned char *)dst->storage->data + (size_t)dst->offset * es;
    const unsigned char *s = (const unsigned char *)src->storage->data + (size_t)src->offset * es;
    lt_walk w;
    lt_walk_pair(&w, dst, src);
    for (int64_t done = 0, n = lt_numel(dst); done < n; done += w.len, lt_walk_next(&w))
        for (int64_t j = 0; j < w.len; j++)
            memcpy(d + (size_t)(w.off[0] + j * w.step[0]) * es, s + (size_t)(w.off[1] + j * w.step[1]) * es, es);
    return true;
}

/* ---- printing ------------------------------------------------------------ */

#define LT_PRINT_EDGE 3 /* elements shown at each end of a long dimension */

static void print_dim(FILE *f, const lt_tensor *t, int d, int64_t off, int indent)
{
    fputc('[', f);
    int64_t n = t->shape[d];
    bool elide = n > 2 * LT_PRINT_EDGE;
    for (int64_t i = 0; i < n; i++) {
        if (elide && i == LT_PRINT_EDGE) {
            fprintf(f, d == t->ndim - 1 ? "..., " : "...,\n%*s", d == t->ndim - 1 ? 0 : indent + 1, "");
            i = n - LT_PRINT_EDGE;
        }
        int64_t o = off + i * t->stride[d];
        if (d == t->ndim - 1) {
            if (t->dtype == LT_F32)
                fprintf(f, "%.4f", (double)((const float *)t->storage->data)[o]);
            else
                fprintf(f, "%d", ((const int32_t *)t->storage->data)[o]);
        } else {
            print_dim(f, t, d + 1, o, indent + 1);
        }
        if (i + 1 < n)
            fprintf(f, d == t->ndim - 1 ? ", " : ",\n%*s", d == t->ndim - 1 ? 0 : indent + 1, "");
    }
    fputc(']', f);
}

void lt_print(FILE *f, const lt_tensor *t, const char *name)
{
    if (!f)
        return;
    if (!t) {
        fprintf(f, "%s%s(null tensor)\n", name ? name : "", name ? " = " : "");
        return;
    }
    fprintf(f, "%s%stensor %s %s%s\n", name ? name : "", name ? " = " : "", LT_TENSOR_SHAPE(t), lt_dtype_name(t->dtype),
            t->requires_grad ? " requires_grad" : "");
    if (t->ndim == 0) {
        if (t->dtype == LT_F32)
            fprintf(f, "%.4f\n", (double)lt_get_f32(t, 0));
        else
            fprintf(f, "%d\n", lt_get_i32(t, 0));
        return;
    }
    print_dim(f, t, 0, t->offset, 0);
    fputc('\n', f);
}
