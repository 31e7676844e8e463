/* elementwise.c - add, sub, mul, div with NumPy/PyTorch broadcasting, and
 * their scalar forms.
 *
 * Broadcasting: shapes are aligned on the right; a missing or size-1 dim
 * stretches to the other operand's size. Inputs are read in place through
 * their strides (a broadcast dim simply has stride 0), so transposed or
 * narrowed operands cost no copy, and the gradient of a stretched operand is
 * the sum of the output gradient over the dims it was stretched along: the
 * same stride-0 walk that reads one element many times in forward adds into
 * it many times in backward.
 *
 * Speed: before looping, dims of size 1 are dropped and neighbouring dims
 * that both operands traverse linearly are merged. The common cases then
 * become one or two plain loops without special code:
 *   (N,M) + (N,M), both contiguous  -> one flat loop of N*M
 *   (N,M) + (M,)   (bias)           -> N rows of a unit-stride loop of M
 *   (N,M) * ()     (scalar tensor)  -> one flat loop with a fixed operand
 * Everything else runs the same row loop with an N-d counter for the outer
 * dims. */
#include "core/internal.h"

/* ---- the broadcast plan --------------------------------------------------- */

/* A loop nest over the output (contiguous, row-major) with each operand's
 * element strides; the last dim is the inner loop, and ndim >= 1. */
typedef struct {
    int ndim;
    int64_t shape[LT_MAX_DIMS];
    int64_t sa[LT_MAX_DIMS], sb[LT_MAX_DIMS]; /* 0 on broadcast dims */
} bc_plan;

/* Stride of t along output dim d of an ndim-rank result (right-aligned);
 * 0 when t lacks the dim or stretches a size-1 dim. */
static int64_t operand_stride(const lt_tensor *t, int ndim, int d)
{
    int k = d - (ndim - t->ndim);
    return k < 0 || t->shape[k] == 1 ? 0 : t->stride[k];
}

static void plan_make(bc_plan *p, const lt_tensor *a, const lt_tensor *b, int ndim, const int64_t *shape)
{
    p->ndim = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 1)
            continue; /* moves no pointer */
        int64_t sa = operand_stride(a, ndim, d), sb = operand_stride(b, ndim, d);
        int k = p->ndim;
        /* merge into the previous (outer) dim when, for both operands, one
         * step of it equals shape[d] steps of this one */
        if (k > 0 && p->sa[k - 1] == sa * shape[d] && p->sb[k - 1] == sb * shape[d]) {
            p->shape[k - 1] *= shape[d];
            p->sa[k - 1] = sa;
            p->sb[k - 1] = sb;
        } else {
            p->shape[k] = shape[d];
            p->sa[k] = sa;
            p->sb[k] = sb;
            p->ndim++;
        }
    }
    if (p->ndim == 0) { /* every dim has size 1: a single element */
        p->ndim = 1;
        p->shape[0] = 1;
        p->sa[0] = p->sb[0] = 0;
    }
}

/* Offsets of both operands at the start of the current row. */
typedef struct {
    int64_t idx[LT_MAX_DIMS];
    int64_t oa, ob;
} bc_cursor;

static void cursor_next(bc_cursor *c, const bc_plan *p)
{
    for (int d = p->ndim - 2; d >= 0; d--) {
        c->oa += p->sa[d];
        c->ob += p->sb[d];
        if (++c->idx[d] < p->shape[d])
            return;
        c->oa -= p->sa[d] * p->shape[d];
        c->ob -= p->sb[d] * p->shape[d];
        c->idx[d] = 0;
    }
}

/* Output shape of broadcasting a with b, or an error naming both shapes. */
static bool broadcast_shape(lt_ctx *ctx, const char *op, const lt_tensor *a, const lt_tensor *b, int *ndim,
                            int64_t *shape)
{
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int d = 0; d < n; d++) {
        int ka = d - (n - a->ndim), kb = d - (n - b->ndim);
        int64_t da = ka < 0 ? 1 : a->shape[ka], db = kb < 0 ? 1 : b->shape[kb];
        if (da != db && da != 1 && db != 1) {
            char sa[96], sb[96];
            lt_fail(ctx, LT_ERR_SHAPE, "%s: shapes %s and %s cannot broadcast (dim %d: %lld vs %lld)", op,
                    lt_tensor_shape_str(a, sa, sizeof sa), lt_tensor_shape_str(b, sb, sizeof sb), d,
                    (long long)da, (long long)db);
            return false;
        }
        shape[d] = da == 1 ? db : da;
    }
    *ndim = n;
    return true;
}

/* ---- row kernels ------------------------------------------------------------ */

/* o[i] = f(a[i*sa], b[i*sb]) for one row of n elements. The unit-stride and
 * fixed-operand cases get their own loops so that they vectorise. EXPR reads
 * x (element of a) and w (element of b). */
typedef void (*fwd_row_fn)(float *restrict o, const float *a, int64_t sa, const float *b, int64_t sb, int64_t n);

#define FWD_ROW(name, EXPR)                                                                          \
    static void name(float *restrict o, const float *a, int64_t sa, const float *b, int64_t sb, int64_t n) \
    {                                                                                                \
        if (sa == 1 && sb == 1) {                                                                    \
            for (int64_t i = 0; i < n; i++) {                                                        \
                const float x = a[i], w = b[i];                                                      \
                o[i] = (EXPR);                                                                       \
            }                                                                                        \
        } else if (sa == 1 && sb == 0) {                                                             \
            const float w = b[0];                                                                    \
            for (int64_t i = 0; i < n; i++) {                                                        \
                const float x = a[i];                                                                \
                o[i] = (EXPR);                                                                       \
            }                                                                                        \
        } else if (sa == 0 && sb == 1) {                                                             \
            const float x = a[0];                                                                    \
            for (int64_t i = 0; i < n; i++) {                                                        \
                const float w = b[i];                                                                \
                o[i] = (EXPR);                                                                       \
            }                                                                                        \
        } else {                                                                                     \
            for (int64_t i = 0; i < n; i++) {                                                        \
                const float x = a[i * sa], w = b[i * sb];                                            \
                o[i] = (EXPR);                                                                       \
            }                                                                                        \
        }                                                                                            \
    }

FWD_ROW(add_row, x + w)
FWD_ROW(sub_row, x - w)
FWD_ROW(mul_row, x * w)
FWD_ROW(div_row, x / w)

/* Gradient of one operand over one row: gx[i*sx] += EXPR, where sx is that
 * operand's own stride (sa or sb). EXPR reads g (output gradient), x and w
 * (elements of a and b) and z (output element). When sx is 0 the operand is
 * stretched along the row, so the row's contributions are summed first (in
 * double, as the row may be long). */
typedef void (*grad_row_fn)(float *gx, int64_t sx, const float *gy, const float *y, const float *a, int64_t sa,
                            const float *b, int64_t sb, int64_t n);

#define GRAD_ROW(name, EXPR)                                                                         \
    static void name(float *gx, int64_t sx, const float *gy, const float *y, const float *a, int64_t sa, \
                     const float *b, int64_t sb, int64_t n)                                          \
    {                                                                                                \
        if (sx == 0) {                                                                               \
            double acc = 0.0;                                                                        \
            for (int64_t i = 0; i < n; i++) {                                                        \
                const float g = gy[i], z = y[i], x = a[i * sa], w = b[i * sb];                       \
                (void)g, (void)z, (void)x, (void)w;                                                  \
                acc += (EXPR);                                                                       \
            }                                                                                        \
            gx[0] += (float)acc;                                                                     \
        } else if (sa == 1 && sb == 1) { /* then sx == 1 too */                                      \
            for (int64_t i = 0; i < n; i++) {                                                        \
                const float g = gy[i], z = y[i], x = a[i], w = b[i];                                 \
                (void)g, (void)z, (void)x, (void)w;                                                  \
                gx[i] += (EXPR);                                                                     \
            }                                                                                        \
        } else {                                                                                     \
            for (int64_t i = 0; i < n; i++) {                                                        \
                const float g = gy[i], z = y[i], x = a[i * sa], w = b[i * sb];                       \
                (void)g, (void)z, (void)x, (void)w;                                                  \
                gx[i * sx] += (EXPR);                                                                \
            }                                                                                        \
        }                                                                                            \
    }

GRAD_ROW(pass_grad, g)           /* d(a+b)/da, d(a+b)/db, d(a-b)/da */
GRAD_ROW(neg_grad, -g)           /* d(a-b)/db */
GRAD_ROW(mul_grad_a, g * w)      /* d(ab)/da = b */
GRAD_ROW(mul_grad_b, g * x)      /* d(ab)/db = a */
GRAD_ROW(div_grad_a, g / w)      /* d(a/b)/da = 1/b */
GRAD_ROW(div_grad_b, -g * z / w) /* d(a/b)/db = -a/b^2 = -(a/b)/b; no b*b to overflow */

/* ---- the four ops --------------------------------------------------------- */

typedef struct {
    lt_op op;
    fwd_row_fn fwd;
    grad_row_fn grad_a, grad_b;
} binary_kind;

enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV };

static void binary_backward(lt_ctx *ctx, lt_node *node);

static const binary_kind binary_kinds[] = {
    [BIN_ADD] = {{"add", binary_backward}, add_row, pass_grad, pass_grad},
    [BIN_SUB] = {{"sub", binary_backward}, sub_row, pass_grad, neg_grad},
    [BIN_MUL] = {{"mul", binary_backward}, mul_row, mul_grad_a, mul_grad_b},
    [BIN_DIV] = {{"div", binary_backward}, div_row, div_grad_a, div_grad_b},
};

/* out = f(a, b) over the broadcast shape of out. */
static void binary_forward(fwd_row_fn row, lt_tensor *out, const lt_tensor *a, const lt_tensor *b)
{
    int64_t n = lt_numel(out);
    if (n == 0)
        return;
    bc_plan p;
    plan_make(&p, a, b, out->ndim, out->shape);
    int last = p.ndim - 1;
    int64_t inner = p.shape[last];
    const float *pa = lt_f32(a), *pb = lt_f32(b);
    float *o = lt_f32(out);
    bc_cursor c = {{0}, 0, 0};
    for (int64_t done = 0; done < n; done += inner) {
        row(o + done, pa + c.oa, p.sa[last], pb + c.ob, p.sb[last], inner);
        cursor_next(&c, &p);
    }
}

/* gx (the gradient of a when second is false, else of b; same layout as the
 * operand's data) += the row kernel's contributions over the whole output. */
static void binary_grad(grad_row_fn row, float *gx, bool second, const lt_node *node)
{
    const lt_tensor *a = node->in[0], *b = node->in[1], *out = node->out;
    int64_t n = lt_numel(out);
    if (n == 0)
        return;
    bc_plan p;
    plan_make(&p, a, b, out->ndim, out->shape);
    int last = p.ndim - 1;
    int64_t inner = p.shape[last], sx = second ? p.sb[last] : p.sa[last];
    const float *pa = lt_f32(a), *pb = lt_f32(b), *y = lt_f32(out), *gy = lt_g(out);
    bc_cursor c = {{0}, 0, 0};
    for (int64_t done = 0; done < n; done += inner) {
        row(gx + (second ? c.ob : c.oa), sx, gy + done, y + done, pa + c.oa, p.sa[last], pb + c.ob, p.sb[last],
            inner);
        cursor_next(&c, &p);
    }
}

/* Each operand's pass adds into its own gradient buffer, so x*x (both
 * operands the same tensor, or views of one storage) receives both terms. */
static void binary_backward(lt_ctx *ctx, lt_node *node)
{
    const binary_kind *k = &binary_kinds[node->iparam[0]];
    lt_tensor *a = node->in[0], *b = node->in[1];
    if (lt_want_grad(a)) {
        float *ga = lt_grad_buffer(ctx, a);
        if (!ga)
            return;
        binary_grad(k->grad_a, ga, false, node);
    }
    if (lt_want_grad(b)) {
        float *gb = lt_grad_buffer(ctx, b);
        if (!gb)
            return;
        binary_grad(k->grad_b, gb, true, node);
    }
}

static lt_tensor *binary(lt_ctx *ctx, int kind, lt_tensor *a, lt_tensor *b)
{
    const binary_kind *k = &binary_kinds[kind];
    const char *name = k->op.name;
    lt_tensor *in[2] = {a, b};
    if (!lt_check_args(ctx, name, 2, in))
        return NULL;
    if (a->dtype != LT_F32 || b->dtype != LT_F32)
        return lt_fail(ctx, LT_ERR_DTYPE, "%s: needs f32 tensors, got %s and %s", name, lt_dtype_name(a->dtype),
                       lt_dtype_name(b->dtype));
    int ndim;
    int64_t shape[LT_MAX_DIMS];
    if (!broadcast_shape(ctx, name, a, b, &ndim, shape) || !lt_check_result_shape(ctx, name, ndim, shape))
        return NULL;
    lt_tensor *out = lt_alloc_temp(ctx, LT_F32, ndim, shape);
    if (!out)
        return NULL;
    binary_forward(k->fwd, out, a, b);
    lt_node *node;
    if (!lt_maybe_record(ctx, &k->op, out, 2, in, &node))
        return NULL;
    if (node)
        node->iparam[0] = kind;
    return out;
}

lt_tensor *lt_add(lt_ctx *ctx, lt_tensor *a, lt_tensor *b) { return binary(ctx, BIN_ADD, a, b); }
lt_tensor *lt_sub(lt_ctx *ctx, lt_tensor *a, lt_tensor *b) { return binary(ctx, BIN_SUB, a, b); }
lt_tensor *lt_mul(lt_ctx *ctx, lt_tensor *a, lt_tensor *b) { return binary(ctx, BIN_MUL, a, b); }
lt_tensor *lt_div(lt_ctx *ctx, lt_tensor *a, lt_tensor *b) { return binary(ctx, BIN_DIV, a, b); }

/* ---- scalar forms: a (op) s ------------------------------------------------ */

/* The scalar is kept in node->fparam[0] and the kind in iparam[0]. Division
 * is a true division by s (not a multiplication by 1/s), so results match
 * a / s exactly; s = 0 gives inf/NaN as IEEE arithmetic does. */
enum { SC_ADD, SC_SUB, SC_MUL, SC_DIV };

static void scalar_backward(lt_ctx *ctx, lt_node *node)
{
    lt_tensor *a = node->in[0], *out = node->out;
    if (!lt_want_grad(a))
        return;
    float *ga = lt_grad_buffer(ctx, a); /* a is contiguous: dense */
    if (!ga)
        return;
    const float *gy = lt_g(out), s = node->fparam[0];
    int64_t n = lt_numel(out);
    switch (node->iparam[0]) {
    case SC_ADD:
    case SC_SUB:
        for (int64_t i = 0; i < n; i++)
            ga[i] += gy[i];
        break;
    case SC_MUL:
        for (int64_t i = 0; i < n; i++)
            ga[i] += gy[i] * s;
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            ga[i] += gy[i] / s;
        break;
    }
}

static const lt_op scalar_ops[] = {
    [SC_ADD] = {"add_scalar", scalar_backward},
    [SC_SUB] = {"sub_scalar", scalar_backward},
    [SC_MUL] = {"mul_scalar", scalar_backward},
    [SC_DIV] = {"div_scalar", scalar_backward},
};

static void scalar_forward(int kind, float *restrict y, const float *x, float s, int64_t n)
{
    switch (kind) {
    case SC_ADD:
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] + s;
        break;
    case SC_SUB:
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] - s;
        break;
    case SC_MUL:
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] * s;
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] / s;
        break;
    }
}

static lt_tensor *scalar_op(lt_ctx *ctx, int kind, lt_tensor *a, float s)
{
    const lt_op *op = &scalar_ops[kind];
    if (!lt_check_args(ctx, op->name, 1, &a))
        return NULL;
    if (a->dtype != LT_F32)
        return lt_fail(ctx, LT_ERR_DTYPE, "%s: needs an f32 tensor, got %s", op->name, lt_dtype_name(a->dtype));
    a = lt_contiguous(ctx, a);
    if (!a)
        return NULL;
    lt_tensor *out = lt_alloc_temp(ctx, LT_F32, a->ndim, a->shape);
    if (!out)
        return NULL;
    scalar_forward(kind, lt_f32(out), lt_f32(a), s, lt_numel(a));
    lt_node *node;
    if (!lt_maybe_record(ctx, op, out, 1, &a, &node))
        return NULL;
    if (node) {
        node->fparam[0] = s;
        node->iparam[0] = kind;
    }
    return out;
}

lt_tensor *lt_add_scalar(lt_ctx *ctx, lt_tensor *a, float s) { return scalar_op(ctx, SC_ADD, a, s); }
lt_tensor *lt_sub_scalar(lt_ctx *ctx, lt_tensor *a, float s) { return scalar_op(ctx, SC_SUB, a, s); }
lt_tensor *lt_mul_scalar(lt_ctx *ctx, lt_tensor *a, float s) { return scalar_op(ctx, SC_MUL, a, s); }
lt_tensor *lt_div_scalar(lt_ctx *ctx, lt_tensor *a, float s) { return scalar_op(ctx, SC_DIV, a, s); }
