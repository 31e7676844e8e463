/* linear.c - the affine layer y = x @ W + b in one op.
 *
 *     x (N,K) @ W (K,M) + b (M,) -> y (N,M)        b may be NULL
 *     x (..., K) -> y (..., M): x seen as (N,K), N the product of its
 *     leading sizes (a view when its layout allows one, else a recorded
 *     copy), y viewed back; rank 1 gives (M,), as torch's F.linear
 *
 * Why a separate op when matmul and add exist: the bias is folded into the
 * product's epilogue (lt_sgemm_bias: the tile kernels add b in registers
 * before storing), so y is written once instead of being produced by matmul
 * and then read and written again by add, and the tape holds one node
 * instead of two. Backward is the matmul backward plus
 * db = column sums of dy, all in one walk:
 *     dx += dy @ W^T      dW += x^T @ dy      db += sum_rows(dy)
 * W may be a transposed view (e.g. a PyTorch-style (out,in) weight passed as
 * lt_transpose(W)); like x, it is read in place when it is row- or
 * column-major. Large products are split across the context's threads by
 * lt_sgemm_par (gemm_split.h). Each gradient is written rather than added to
 * when its buffer is fresh (lt_input_grad_fresh: a temporary's first, or a
 * parameter's after lt_zero_grad), which spares clearing it first. */
#include "core/opkit.h"
#include "kernels/gemm_split.h"
#include "kernels/threads.h"
#include "kernels/vnorm.h"

#include <string.h>

/* A 2-D operand as gemm reads it in place, or false when neither stride is
 * 1 (then the caller makes it contiguous). */
static bool gemm_view(const lt_tensor *t, lt_mat *m)
{
    *m = (lt_mat){lt_f32(t), t->stride[0], t->stride[1]};
    return t->shape[0] <= 1 || t->shape[1] <= 1 || m->rs == 1 || m->cs == 1;
}

/* The column sums' cost per element of dy, in the work estimate's unit (a
 * flop of the gemm kernel): inside the transformer's 2-thread step they
 * took 0.073 ns an element (`perf`: 87 us a step for 1.19 M elements, half
 * of each dy written by the other core), about 14 flops at the kernel's
 * 190 GFLOP/s. So a (512,256) dy splits, a (512,64) one does not. */
#define WORK_COLUMN_SUM 16.0

typedef struct {
    float *db;
    const float *dy;
    int64_t n, m; /* dy (n,m), dense */
} column_sums_job;

/* Columns [begin, end): each column's sum runs over the rows in order
 * wherever a block starts, so any split gives the same bits. */
static void column_sums_task(void *arg, int task, int64_t begin, int64_t end)
{
    (void)task;
    const column_sums_job *j = arg;
    lt_vcol_sums_add(j->db + begin, j->dy + begin, j->n, j->m, end - begin);
}

/* db[j * stride] += sum over rows i of dy[i][j], dy (n,m) dense, row by row
 * (the same order for any stride); a unit stride goes to the vector column
 * sums, which keep blocks of db in registers over all the rows, split by
 * columns across the context's threads when large. */
static void add_column_sums(lt_ctx *ctx, float *db, int64_t stride, const float *restrict dy, int64_t n, int64_t m)
{
    if (stride == 1)
        lt_parallel_for(ctx, m, 16, (double)n * (double)m * WORK_COLUMN_SUM, column_sums_task,
                        &(column_sums_job){db, dy, n, m});
    else
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < m; j++)
                db[j * stride] += dy[i * m + j];
}

static void linear_backward(lt_ctx *ctx, lt_node *node)
{
    const lt_tensor *x = node->in[0], *w = node->in[1], *b = node->n_in > 2 ? node->in[2] : NULL;
    const float *dy = lt_output_grad(node);
    int64_t n = x->shape[0], k = x->shape[1], m = w->shape[1];
    lt_mat xm, wm;
    gemm_view(x, &xm);
    gemm_view(w, &wm);
    lt_mat dym = {dy, m, 1};
    bool fresh;
    float *dx = lt_input_grad_fresh(ctx, node, 0, &fresh);
    if (dx) /* dx (N,K) += dy (N,M) @ W^T (M,K); = when dx is fresh */
        lt_sgemm_par(ctx, n, k, m, dym, lt_mat_t(wm), (lt_mat_out){dx, xm.rs, xm.cs}, !fresh, NULL);
    float *dw = lt_input_grad_fresh(ctx, node, 1, &fresh);
    if (dw) /* dW (K,M) += x^T (K,N) @ dy (N,M); = when dW is fresh (a parameter's, zeroed lazily) */
        lt_sgemm_par(ctx, k, m, n, lt_mat_t(xm), dym, (lt_mat_out){dw, wm.rs, wm.cs}, !fresh, NULL);
    float *db = b ? lt_input_grad_fresh(ctx, node, 2, &fresh) : NULL;
    if (db && fresh) /* fresh: dense, the sums start from zero */
        memset(db, 0, sizeof(float) * (size_t)m);
    if (db)
        add_column_sums(ctx, db, b->stride[0], dy, n, m);
}

static const lt_op linear_op = {"linear", linear_backward, LT_SAVES_CROSS};

/* Names both operands' shapes in an error (formatted only on failure). */
static bool fail_shapes(lt_ctx *ctx, lt_status st, const lt_tensor *x, const lt_tensor *w, const char *what)
{
    bool dt = st == LT_ERR_DTYPE; /* name the dtypes only when they are the problem */
    lt_fail(ctx, st, "linear: %s%s @ %s%s: %s", dt ? lt_dtype_name(x->dtype) : "", LT_TENSOR_SHAPE(x),
            dt ? lt_dtype_name(w->dtype) : "", LT_TENSOR_SHAPE(w), what);
    return false;
}

static bool check_linear(lt_ctx *ctx, const lt_tensor *x, const lt_tensor *w, const lt_tensor *b)
{
    if (x->dtype != LT_F32 || w->dtype != LT_F32 || (b && b->dtype != LT_F32))
        return fail_shapes(ctx, LT_ERR_DTYPE, x, w, "needs f32 tensors");
    if (x->ndim < 1 || w->ndim != 2)
        return fail_shapes(ctx, LT_ERR_SHAPE, x, w, "x must have rank >= 1 and W rank 2");
    if (x->shape[x->ndim - 1] != w->shape[0])
        return fail_shapes(ctx, LT_ERR_SHAPE, x, w, "inner sizes differ");
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[1]))
        return lt_fail(ctx, LT_ERR_SHAPE, "linear: bias %s does not match the output width (expected (%lld))",
                       LT_TENSOR_SHAPE(b), (long long)w->shape[1]),
               false;
    return true;
}

/* Makes a 2-D operand readable by gemm in place (a recorded copy if not).
 * An operand whose elements alias (stride 0 along a dim of size > 1: an
 * lt_expand) is copied too when it needs a gradient: gemm adds a tile's
 * rows into C at once, so aliased rows of a gradient would keep only one
 * contribution; the copy's backward sums them. */
static lt_tensor *gemm_operand(lt_ctx *ctx, lt_tensor *t)
{
    lt_mat m;
    bool aliased = (t->shape[0] > 1 && t->stride[0] == 0) || (t->shape[1] > 1 && t->stride[1] == 0);
    return gemm_view(t, &m) && !(aliased && lt_needs_grad(ctx, 1, &t)) ? t : lt_contiguous(ctx, t);
}

/* b's values, unit-stride: b's own memory, or a copy in the arena. */
static const float *bias_row(lt_ctx *ctx, const lt_tensor *b)
{
    if (b->stride[0] == 1 || b->shape[0] <= 1)
        return lt_f32(b);
    float *row = lt_arena_alloc(ctx, sizeof(float) * (size_t)b->shape[0]);
    for (int64_t j = 0; row && j < b->shape[0]; j++)
        row[j] = lt_f32(b)[j * b->stride[0]];
    return row;
}

/* x (..., K) of rank 1 or >= 3 as (N,K): y (N,M) seen as (..., M). The
 * reshape is a view whenever the leading dims collapse (any contiguous x, a
 * narrowed last dim), so gemm reads x in place; otherwise a recorded copy. */
static lt_tensor *linear_batched(lt_ctx *ctx, lt_tensor *x, lt_tensor *w, lt_tensor *b)
{
    int64_t n = 1, k = x->shape[x->ndim - 1];
    for (int d = 0; d < x->ndim - 1; d++)
        n *= x->shape[d];
    lt_shape out = lt_shape_of(x); /* (..., K) -> (..., M) */
    out.d[out.ndim - 1] = w->shape[1];
    lt_tensor *x2 = lt_reshape(ctx, x, LT_SHAPE(n, k));
    lt_tensor *y = x2 ? lt_linear(ctx, x2, w, b) : NULL;
    return y ? lt_view(ctx, y, out) : NULL;
}

lt_tensor *lt_linear(lt_ctx *ctx, lt_tensor *x, lt_tensor *w, lt_tensor *b)
{
    if (!lt_check_args(ctx, "linear", 2, (lt_tensor *const[]){x, w}) || (b && !lt_check_live(ctx, "linear", 3, b)) ||
        !check_linear(ctx, x, w, b))
        return NULL;
    if (x->ndim != 2)
        return linear_batched(ctx, x, w, b);
    x = gemm_operand(ctx, x);
    w = x ? gemm_operand(ctx, w) : NULL;
    if (!w)
        return NULL;
    int64_t n = x->shape[0], k = x->shape[1], m = w->shape[1];
    if (!lt_check_result_shape(ctx, "linear", 2, (int64_t[]){n, m}))
        return NULL;
    lt_mat xm, wm;
    gemm_view(x, &xm);
    gemm_view(w, &wm);
    lt_tensor *y = lt_alloc_temp(ctx, LT_F32, 2, (int64_t[]){n, m});
    const float *bias = y && b ? bias_row(ctx, b) : NULL;
    if (!y || (b && !bias))
        return NULL;
    if (!lt_sgemm_par(ctx, n, m, k, xm, wm, (lt_mat_out){lt_f32(y), m, 1}, false, bias)) /* y = x W + b */
        return NULL;
    return lt_op_end(ctx, &linear_op, y, b ? 3 : 2, (lt_tensor *const[]){x, w, b}, NULL);
}
