/* elementwise.c - add, sub, mul, div with NumPy/PyTorch broadcasting, and
 * their scalar forms: x + s, x - s, x * s, x / s, and s - x, s / x.
 *
 * Broadcasting (core/broadcast.c): shapes are aligned on the right; a
 * missing or size-1 dim stretches to the other operand's size. Inputs are
 * read in place through their strides (a broadcast dim simply has stride
 * 0), so transposed or narrowed operands cost no copy, and the gradient of a
 * stretched operand is the sum of the output gradient over the dims it was
 * stretched along: the same stride-0 walk that reads one element many times
 * in forward adds into it many times in backward.
 *
 * Speed: before looping, dims of size 1 are dropped and neighbouring dims
 * that both operands traverse linearly are merged. The common cases then
 * become one or two plain loops without special code:
 *   (N,M) + (N,M), both contiguous  -> one flat loop of N*M
 *   (N,M) + (M,)   (bias)           -> N rows of a unit-stride loop of M
 *   (N,M) * ()     (scalar tensor)  -> one flat loop with a fixed operand
 * Everything else runs the same row loop with an N-d counter for the outer
 * dims. A walk that is one row (the first and last cases) is split across
 * the context's threads when long enough; each element is computed on its
 * own, so the thread count never changes a bit. */
#include "core/opkit.h"
#include "kernels/threads.h"

#include <string.h>

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
                            const float *pb, int64_t sb, int64_t n, bool set);

#define GRAD_ROW(name, EXPR)                                                                                \
    static void name(float *dx, int64_t sx, const float *pdy, const float *py, const float *pa, int64_t sa, \
                     const float *pb, int64_t sb, int64_t n, bool set)                                      \
    {                                                                                                       \
        if (sx == 0) {                                                                                      \
            double acc = 0.0;                                                                               \
            for (int64_t i = 0; i < n; i++) {                                                               \
                const float dy = pdy[i], y = py[i], a = pa[i * sa], b = pb[i * sb];                         \
                (void)dy, (void)y, (void)a, (void)b;                                                        \
                acc += (EXPR);                                                                              \
            }                                                                                               \
            dx[0] = set ? (float)acc : dx[0] + (float)acc;                                                  \
        } else if (sa == 1 && sb == 1 && set) { /* then sx == 1 too */                                      \
            for (int64_t i = 0; i < n; i++) {                                                               \
                const float dy = pdy[i], y = py[i], a = pa[i], b = pb[i];                                   \
                (void)dy, (void)y, (void)a, (void)b;                                                        \
                dx[i] = (EXPR);                                                                             \
            }                                                                                               \
        } else if (sa == 1 && sb == 1) {                                                                    \
            for (int64_t i = 0; i < n; i++) {                                                               \
                const float dy = pdy[i], y = py[i], a = pa[i], b = pb[i];                                   \
                (void)dy, (void)y, (void)a, (void)b;                                                        \
                dx[i] += (EXPR);                                                                            \
            }                                                                                               \
        } else {                                                                                            \
            for (int64_t i = 0; i < n; i++) {                                                               \
                const float dy = pdy[i], y = py[i], a = pa[i * sa], b = pb[i * sb];                         \
                (void)dy, (void)y, (void)a, (void)b;                                                        \
                dx[i * sx] = set ? (EXPR) : dx[i * sx] + (EXPR);                                            \
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

/* A load or two and a store per element, as relu's pass (unary.c), but
 * counted at what it costs inside a training step, where the operands come
 * from L2 or from the other core rather than from L1: a transformer's
 * (512,64) residual add took about 13 µs on one thread, 0.39 ns an element,
 * the time of some 60 flops of a gemm (bench_makemore, per-op times). At 64
 * such an add splits in two; on 2 threads its forward then took 66-70 µs a
 * step (8 adds) instead of 125-136. */
#define WORK_BINARY 64.0

/* One row's elements [begin, end): the forward's split. */
typedef struct {
    fwd_row_fn row;
    float *y;
    const float *a, *b;
    int64_t sa, sb;
} fwd_job;

static void fwd_task(void *arg, int task, int64_t begin, int64_t end)
{
    (void)task;
    const fwd_job *j = arg;
    j->row(j->y + begin, j->a + begin * j->sa, j->sa, j->b + begin * j->sb, j->sb, end - begin);
}

/* y = f(a, b) over the broadcast shape of y; in = {a, b}. */
static void binary_forward(lt_ctx *ctx, fwd_row_fn row, lt_tensor *y, lt_tensor *const *in)
{
    lt_walk w;
    lt_walk_broadcast(&w, y->ndim, y->shape, 2, in);
    const float *pa = lt_f32(in[0]), *pb = lt_f32(in[1]);
    float *py = lt_f32(y);
    int64_t n = lt_numel(y);
    if (w.len == n) { /* one row */
        fwd_job j = {row, py, pa + w.off[0], pb + w.off[1], w.step[0], w.step[1]};
        lt_parallel_for(ctx, n, 16, (double)n * WORK_BINARY, fwd_task, &j);
        return;
    }
    for (int64_t done = 0; done < n; done += w.len, lt_walk_next(&w))
        row(py + done, pa + w.off[0], w.step[0], pb + w.off[1], w.step[1], w.len);
}

/* One row's elements [begin, end) of an operand's gradient: the backward's
 * split. */
typedef struct {
    grad_row_fn row;
    float *dx;
    const float *dy, *y, *a, *b;
    int64_t sx, sa, sb;
    bool set;
} grad_job;

static void grad_task(void *arg, int task, int64_t begin, int64_t end)
{
    (void)task;
    const grad_job *j = arg;
    j->row(j->dx + begin * j->sx, j->sx, j->dy + begin, j->y + begin, j->a + begin * j->sa, j->sa,
           j->b + begin * j->sb, j->sb, end - begin, j->set);
}

/* dx (the gradient of operand k: 0 for a, 1 for b; laid out as that
 * operand's data) += the row kernel's contributions over the whole output;
 * = with set, which needs each element of the operand to be reached once. */
static void binary_grad(lt_ctx *ctx, grad_row_fn row, float *dx, int k, const lt_node *node, bool set)
{
    const lt_tensor *a = node->in[0], *b = node->in[1], *y = node->out;
    lt_walk w;
    lt_walk_broadcast(&w, y->ndim, y->shape, 2, node->in);
    const float *pa = lt_f32(a), *pb = lt_f32(b), *py = lt_f32(y), *dy = lt_output_grad(node);
    int64_t n = lt_numel(y);
    if (w.len == n && w.step[k] != 0) { /* one row, not summed into one element: split it */
        grad_job j = {row, dx + w.off[k], dy, py, pa + w.off[0], pb + w.off[1], w.step[k], w.step[0], w.step[1], set};
        lt_parallel_for(ctx, n, 16, (double)n * WORK_BINARY, grad_task, &j);
        return;
    }
    for (int64_t done = 0; done < n; done += w.len, lt_walk_next(&w))
        row(dx + w.off[k], w.step[k], dy + done, py + done, pa + w.off[0], w.step[0], pb + w.off[1], w.step[1], w.len,
            set);
}

/* Operand k's gradient: written (=) when its buffer is fresh and the
 * operand is not stretched (as many elements as the output: each is
 * reached once), else added to. Each operand's pass runs in turn, so x*x
 * (both operands the same tensor, or views of one storage) receives both
 * terms: the second pass finds the buffer the first one wrote. */
static void operand_grad(lt_ctx *ctx, lt_node *node, int k, grad_row_fn row)
{
    bool fresh;
    float *dx = lt_input_grad_fresh(ctx, node, k, &fresh);
    if (!dx)
        return;
    if (fresh && lt_numel(node->in[k]) != lt_numel(node->out)) { /* stretched: sums into its elements */
        memset(dx, 0, sizeof(float) * (size_t)lt_numel(node->in[k]));
        fresh = false;
    }
    binary_grad(ctx, row, dx, k, node, fresh);
}

static void binary_backward(lt_ctx *ctx, lt_node *node)
{
    const binary_kind *k = &binary_kinds[node->iparam[0]];
    operand_grad(ctx, node, 0, k->grad_a);
    operand_grad(ctx, node, 1, k->grad_b);
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
    if (!lt_broadcast_result(ctx, name, 2, in, &ndim, shape))
        return NULL;
    lt_tensor *y = lt_alloc_temp(ctx, LT_F32, ndim, shape);
    if (!y)
        return NULL;
    binary_forward(ctx, k->fwd, y, in);
    return lt_op_end(ctx, &k->op, y, 2, in, &(lt_node_data){.i = {kind}});
}

lt_tensor *lt_add(lt_ctx *ctx, lt_tensor *a, lt_tensor *b) { return binary(ctx, BIN_ADD, a, b); }
lt_tensor *lt_sub(lt_ctx *ctx, lt_tensor *a, lt_tensor *b) { return binary(ctx, BIN_SUB, a, b); }
lt_tensor *lt_mul(lt_ctx *ctx, lt_tensor *a, lt_tensor *b) { return binary(ctx, BIN_MUL, a, b); }
lt_tensor *lt_div(lt_ctx *ctx, lt_tensor *a, lt_tensor *b) { return binary(ctx, BIN_DIV, a, b); }

/* ---- scalar forms: x (op) s and s (op) x ----------------------------------- */

/* The scalar is kept in node->fparam[0] and the kind in iparam[0]. x / s is
 * a true division by s (not a multiplication by 1/s), so results match
 * x / s exactly; s = 0 gives inf/NaN as IEEE arithmetic does. s / x is
 * PyTorch's `s / x`, which is x.reciprocal() * s: the same two roundings
 * here, so the values are PyTorch's to the bit. */
enum { SC_ADD, SC_SUB, SC_MUL, SC_DIV, SC_SCALAR_SUB, SC_SCALAR_DIV };

static void scalar_backward(lt_ctx *ctx, lt_node *node)
{
    float *dx = lt_input_grad(ctx, node, 0); /* x is contiguous: dense */
    if (!dx)
        return;
    const float *dy = lt_output_grad(node), *x = lt_f32(node->in[0]), s = node->fparam[0];
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
    case SC_DIV:
        for (int64_t i = 0; i < n; i++)
            dx[i] += dy[i] / s;
        break;
    case SC_SCALAR_SUB:
        for (int64_t i = 0; i < n; i++)
            dx[i] -= dy[i];
        break;
    default: /* d(s * r)/dx with r = 1/x: -(dy * s) * r^2, PyTorch's order */
        for (int64_t i = 0; i < n; i++) {
            float r = 1.0f / x[i];
            dx[i] += -(dy[i] * s) * (r * r);
        }
        break;
    }
}

static const lt_op scalar_ops[] = {
    [SC_ADD] = {"add_scalar", scalar_backward, LT_SAVES_NONE},
    [SC_SUB] = {"sub_scalar", scalar_backward, LT_SAVES_NONE},
    [SC_MUL] = {"mul_scalar", scalar_backward, LT_SAVES_NONE},
    [SC_DIV] = {"div_scalar", scalar_backward, LT_SAVES_NONE},
    [SC_SCALAR_SUB] = {"scalar_sub", scalar_backward, LT_SAVES_NONE},
    [SC_SCALAR_DIV] = {"scalar_div", scalar_backward, LT_SAVES_IN(0)}, /* its gradient reads x */
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
    case SC_DIV:
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] / s;
        break;
    case SC_SCALAR_SUB:
        for (int64_t i = 0; i < n; i++)
            y[i] = s - x[i];
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            y[i] = (1.0f / x[i]) * s;
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
lt_tensor *lt_scalar_sub(lt_ctx *ctx, float s, lt_tensor *x) { return scalar_op(ctx, SC_SCALAR_SUB, x, s); }
lt_tensor *lt_scalar_div(lt_ctx *ctx, float s, lt_tensor *x) { return scalar_op(ctx, SC_SCALAR_DIV, x, s); }
