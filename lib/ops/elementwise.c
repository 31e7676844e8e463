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
#include "core/opkit.h"

/* ---- the broadcast walk --------------------------------------------------- */

/* Stride of t along output dim d of an ndim-rank result (right-aligned);
 * 0 when t lacks the dim or stretches a size-1 dim. */
static int64_t operand_stride(const lt_tensor *t, int ndim, int d)
{
    int k = d - (ndim - t->ndim);
    return k < 0 || t->shape[k] == 1 ? 0 : t->stride[k];
}

/* The walk over y (contiguous, row-major) with a's and b's element strides
 * (operands 0 and 1), broadcast dims stepping by 0. */
static void broadcast_walk(lt_walk *w, const lt_tensor *a, const lt_tensor *b, const lt_tensor *y)
{
    int64_t sa[LT_MAX_DIMS], sb[LT_MAX_DIMS];
    for (int d = 0; d < y->ndim; d++) {
        sa[d] = operand_stride(a, y->ndim, d);
        sb[d] = operand_stride(b, y->ndim, d);
    }
    lt_walk_init(w, y->ndim, y->shape, 2, (const int64_t *const[]){sa, sb});
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
            lt_fail(ctx, LT_ERR_SHAPE, "%s: shapes %s and %s cannot broadcast (dim %d: %lld vs %lld)", op,
                    LT_TENSOR_SHAPE(a), LT_TENSOR_SHAPE(b), d, (long long)da, (long long)db);
            return false;
        }
        shape[d] = da == 1 ? db : da;
    }
    *ndim = n;
    return true;
}

/* ---- row kernels ------------------------------------------------------------ */

/* y[i] = f(a[i*sa], b[i*sb]) for one row of n elements. The unit-stride and
 * fixed-operand cases get their own loops so that they vectorise. EXPR reads
 * a and b, the operands' elements. */
typedef void (*fwd_row_fn)(float *restrict py, const float *pa, int64_t sa, const float *pb, int64_t sb, int64_t n);

#define FWD_ROW(name, EXPR)                                                                                   \
    static void name(float *restrict py, const float *pa, int64_t sa, const float *pb, int64_t sb, int64_t n) \
    {                                                                                                         \
        if (sa == 1 && sb == 1) {                                                                             \
            for (int64_t i = 0; i < n; i++) {                                                                 \
                const float a = pa[i], b = pb[i];                                                             \
                py[i] = (EXPR);                                                                               \
            }                                                                                                 \
        } else if (sa == 1 && sb == 0) {                                                                      \
            const float b = pb[0];                                                                            \
            for (int64_t i = 0; i < n; i++) {                                                                 \
                const float a = pa[i];                                                                        \
                py[i] = (EXPR);                                                                               \
            }                                                                                                 \
        } else if (sa == 0 && sb == 1) {                                                                      \
            const float a = pa[0];                                                                            \
            for (int64_t i = 0; i < n; i++) {                                                                 \
                const float b = pb[i];                                                                        \
                py[i] = (EXPR);                                                                               \
            }                                                                                                 \
        } else {                                                                                              \
            for (int64_t i = 0; i < n; i++) {                                                                 \
                const float a = pa[i * sa], b = pb[i * sb];                                                   \
                py[i] = (EXPR);                                                                               \
            }                                                                                                 \
        }                                                                                                     \
    }

/* clang-format off: the expressions are not declarations */
FWD_ROW(add_row, a + b)
FWD_ROW(sub_row, a - b)
FWD_ROW(mul_row, a *b)
FWD_ROW(div_row, a / b)
/* clang-format on */

/* Gradient of one operand over one row: dx[i*sx] += EXPR, where dx is that
 * operand's gradient and sx its own stride (sa or sb). EXPR reads dy (the
 * output's gradient), y (the output) and a, b (the operands' elements). When
 * sx is 0 the operand is stretched along the row, so the row's contributions
 * are summed first (in double, as the row may be long). */
typedef void (*grad_row_fn)(float *dx, int64_t sx, const float *pdy, const float *py, const float *pa, int64_t sa,
                            const float *pb, int64_t sb, int64_t n);

#define GRAD_ROW(name, EXPR)                                                                                \
    static void name(float *dx, int64_t sx, const float *pdy, const float *py, const float *pa, int64_t sa, \
                     const float *pb, int64_t sb, int64_t n)                                                \
    {                                                                                                       \
        if (sx == 0) {                                                                                      \
            double acc = 0.0;                                                                               \
            for (int64_t i = 0; i < n; i++) {                                                               \
                const float dy = pdy[i], y = py[i], a = pa[i * sa], b = pb[i * sb];                         \
                (void)dy, (void)y, (void)a, (void)b;                                                        \
                acc += (EXPR);                                                                              \
            }                                                                                               \
            dx[0] += (float)acc;                                                                            \
        } else if (sa == 1 && sb == 1) { /* then sx == 1 too */                                             \
            for (int64_t i = 0; i < n; i++) {                                                               \
                const float dy = pdy[i], y = py[i], a = pa[i], b = pb[i];                                   \
                (void)dy, (void)y, (void)a, (void)b;                                                        \
                dx[i] += (EXPR);                                                                            \
            }                                                                                               \
        } else {                                                                                            \
            for (int64_t i = 0; i < n; i++) {                                                               \
                const float dy = pdy[i], y = py[i], a = pa[i * sa], b = pb[i * sb];                         \
                (void)dy, (void)y, (void)a, (void)b;                                                        \
                dx[i * sx] += (EXPR);                                                                       \
            }                                                                                               \
        }                                                                                                   \
    }

/* clang-format off */
GRAD_ROW(pass_grad, dy)            /* d(a+b)/da, d(a+b)/db, d(a-b)/da */
GRAD_ROW(neg_grad, -dy)            /* d(a-b)/db */
GRAD_ROW(mul_grad_a, dy * b)       /* d(ab)/da = b */
GRAD_ROW(mul_grad_b, dy * a)       /* d(ab)/db = a */
GRAD_ROW(div_grad_a, dy / b)       /* d(a/b)/da = 1/b */
GRAD_ROW(div_grad_b, -dy * y / b)  /* d(a/b)/db = -a/b^2 = -(a/b)/b; no b*b to overflow */
/* clang-format on */

/* ---- the four ops --------------------------------------------------------- */

typedef struct {
    lt_op op;
    fwd_row_fn fwd;
    grad_row_fn grad_a, grad_b;
} binary_kind;

enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV };

static void binary_backward(lt_ctx *ctx, lt_node *node);

static const binary_kind binary_kinds[] = {
    [BIN_ADD] = {{"add", binary_backward, LT_SAVES_NONE}, add_row, pass_grad, pass_grad},
    [BIN_SUB] = {{"sub", binary_backward, LT_SAVES_NONE}, sub_row, pass_grad, neg_grad},
    [BIN_MUL] = {{"mul", binary_backward, LT_SAVES_CROSS}, mul_row, mul_grad_a, mul_grad_b},
    [BIN_DIV] = {{"div", binary_backward, LT_SAVES_IN(1) | LT_SAVES_OUT}, div_row, div_grad_a, div_grad_b},
};

/* y = f(a, b) over the broadcast shape of y. */
static void binary_forward(fwd_row_fn row, lt_tensor *y, const lt_tensor *a, const lt_tensor *b)
{
    lt_walk w;
    broadcast_walk(&w, a, b, y);
    const float *pa = lt_f32(a), *pb = lt_f32(b);
    float *py = lt_f32(y);
    for (int64_t done = 0, n = lt_numel(y); done < n; done += w.len, lt_walk_next(&w))
        row(py + done, pa + w.off[0], w.step[0], pb + w.off[1], w.step[1], w.len);
}

/* dx (the gradient of operand k: 0 for a, 1 for b; laid out as that
 * operand's data) += the row kernel's contributions over the whole output. */
static void binary_grad(grad_row_fn row, float *dx, int k, const lt_node *node)
{
    const lt_tensor *a = node->in[0], *b = node->in[1], *y = node->out;
    lt_walk w;
    broadcast_walk(&w, a, b, y);
    const float *pa = lt_f32(a), *pb = lt_f32(b), *py = lt_f32(y), *dy = lt_output_grad(node);
    for (int64_t done = 0, n = lt_numel(y); done < n; done += w.len, lt_walk_next(&w))
        row(dx + w.off[k], w.step[k], dy + done, py + done, pa + w.off[0], w.step[0], pb + w.off[1], w.step[1], w.len);
}

/* Each operand's pass adds into its own gradient buffer, so x*x (both
 * operands the same tensor, or views of one storage) receives both terms. */
static void binary_backward(lt_ctx *ctx, lt_node *node)
{
    const binary_kind *k = &binary_kinds[node->iparam[0]];
    float *da = lt_input_grad(ctx, node, 0);
    if (da)
        binary_grad(k->grad_a, da, 0, node);
    float *db = lt_input_grad(ctx, node, 1);
    if (db)
        binary_grad(k->grad_b, db, 1, node);
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
    lt_tensor *y = lt_alloc_temp(ctx, LT_F32, ndim, shape);
    if (!y)
        return NULL;
    binary_forward(k->fwd, y, a, b);
    return lt_op_end(ctx, &k->op, y, 2, in, &(lt_node_data){.i = {kind}});
}

lt_tensor *lt_add(lt_ctx *ctx, lt_tensor *a, lt_tensor *b) { return binary(ctx, BIN_ADD, a, b); }
lt_tensor *lt_sub(lt_ctx *ctx, lt_tensor *a, lt_tensor *b) { return binary(ctx, BIN_SUB, a, b); }
lt_tensor *lt_mul(lt_ctx *ctx, lt_tensor *a, lt_tensor *b) { return binary(ctx, BIN_MUL, a, b); }
lt_tensor *lt_div(lt_ctx *ctx, lt_tensor *a, lt_tensor *b) { return binary(ctx, BIN_DIV, a, b); }

/* ---- scalar forms: x (op) s ------------------------------------------------ */

/* The scalar is kept in node->fparam[0] and the kind in iparam[0]. Division
 * is a true division by s (not a multiplication by 1/s), so results match
 * x / s exactly; s = 0 gives inf/NaN as IEEE arithmetic does. */
enum { SC_ADD, SC_SUB, SC_MUL, SC_DIV };

static void scalar_backward(lt_ctx *ctx, lt_node *node)
{
    float *dx = lt_input_grad(ctx, node, 0); /* x is contiguous: dense */
    if (!dx)
        return;
    const float *dy = lt_output_grad(node), s = node->fparam[0];
    int64_t n = lt_numel(node->out);
    switch (node->iparam[0]) {
    case SC_ADD:
    case SC_SUB:
        for (int64_t i = 0; i < n; i++)
            dx[i] += dy[i];
        break;
    case SC_MUL:
        for (int64_t i = 0; i < n; i++)
            dx[i] += dy[i] * s;
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            dx[i] += dy[i] / s;
        break;
    }
}

static const lt_op scalar_ops[] = {
    [SC_ADD] = {"add_scalar", scalar_backward, LT_SAVES_NONE},
    [SC_SUB] = {"sub_scalar", scalar_backward, LT_SAVES_NONE},
    [SC_MUL] = {"mul_scalar", scalar_backward, LT_SAVES_NONE},
    [SC_DIV] = {"div_scalar", scalar_backward, LT_SAVES_NONE},
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

static lt_tensor *scalar_op(lt_ctx *ctx, int kind, lt_tensor *x, float s)
{
    const lt_op *op = &scalar_ops[kind];
    lt_tensor *y = lt_unary_begin(ctx, op->name, &x);
    if (!y)
        return NULL;
    scalar_forward(kind, lt_f32(y), lt_f32(x), s, lt_numel(x));
    return lt_op_end(ctx, op, y, 1, &x, &(lt_node_data){.f = {s}, .i = {kind}});
}

lt_tensor *lt_add_scalar(lt_ctx *ctx, lt_tensor *x, float s) { return scalar_op(ctx, SC_ADD, x, s); }
lt_tensor *lt_sub_scalar(lt_ctx *ctx, lt_tensor *x, float s) { return scalar_op(ctx, SC_SUB, x, s); }
lt_tensor *lt_mul_scalar(lt_ctx *ctx, lt_tensor *x, float s) { return scalar_op(ctx, SC_MUL, x, s); }
lt_tensor *lt_div_scalar(lt_ctx *ctx, lt_tensor *x, float s) { return scalar_op(ctx, SC_DIV, x, s); }
