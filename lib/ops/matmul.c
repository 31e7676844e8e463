/* matmul.c - matrix product with batching and broadcasting of the batch.
 *
 *     (n,k)   @ (k,m)   -> (n,m)
 *     (B,n,k) @ (B,k,m) -> (B,n,m)    either batch size may be 1 (broadcast)
 *     (B,n,k) @ (k,m)   -> (B,n,m)    and (n,k) @ (B,k,m) likewise
 *
 * Every product, forward and backward, is one lt_sgemm call per batch on
 * lt_mat operands (pointer + strides). An operand whose matrices are row-major or column-major
 * (a plain tensor, lt_transpose of one, a narrowed one) is read in place;
 * only other layouts are copied by lt_contiguous. The backward products use
 * transposed strides (dA += dY B^T, dB += A^T dY), so no transpose is ever
 * materialised, and they accumulate straight into the inputs' gradient
 * buffers, which share the inputs' layouts.
 *
 * Products large enough to pay for it are split across the context's
 * threads (lt_set_threads) by lt_sgemm_par: C's rows in blocks, one
 * lt_sgemm per block, each computed exactly as in the single-threaded
 * product. */
#include "core/opkit.h"
#include "kernels/gemm_split.h"

/* One operand seen as a batch of matrices: batch stride (0 when the batch is
 * broadcast), row stride, column stride. */
typedef struct {
    int64_t batch, rows, cols;
    int64_t bs, rs, cs;
} mats;

static mats mats_of(const lt_tensor *t)
{
    int r = t->ndim - 2; /* index of the row dim */
    mats m = {1, t->shape[r], t->shape[r + 1], 0, t->stride[r], t->stride[r + 1]};
    if (t->ndim == 3) {
        m.batch = t->shape[0];
        m.bs = m.batch == 1 ? 0 : t->stride[0];
    }
    return m;
}

/* Matrix i of the batch at base (the data or the gradient of the operand). */
static lt_mat mat_at(const mats *m, const float *base, int64_t i) { return (lt_mat){base + i * m->bs, m->rs, m->cs}; }
static lt_mat_out mat_out_at(const mats *m, float *base, int64_t i)
{
    return (lt_mat_out){base + i * m->bs, m->rs, m->cs};
}

/* Matrix i of the dense (batch, rows, cols) output or its gradient. */
static lt_mat dense_at(const float *base, int64_t rows, int64_t cols, int64_t i)
{
    return (lt_mat){base + i * rows * cols, cols, 1};
}

/* gemm packs any strides, but it is fast when one of them is 1; a matrix
 * with a single row or column has only one meaningful stride. */
static bool gemm_ready(const lt_tensor *t)
{
    mats m = mats_of(t);
    return m.rows <= 1 || m.cols <= 1 || m.cs == 1 || m.rs == 1;
}

/* True when the batch of A can be folded into its rows: batch b's rows follow
 * batch b-1's at the same row stride, so (B,n,k) is one (B*n,k) matrix. Used
 * when B is shared by every batch: one big product instead of B small ones. */
static bool foldable(const mats *a, const mats *b)
{
    return a->batch > 1 && b->batch == 1 && a->bs == a->rows * a->rs;
}

/* ---- backward ----------------------------------------------------------- */

/* dA += dY . B^T per batch: (n,m) @ (m,k) -> (n,k). A broadcast A (bs 0)
 * receives the sum over the batch because every call accumulates. */
static void grad_a(lt_ctx *ctx, const mats *a, const mats *b, const float *dy, int64_t batch, const float *bv,
                   float *da)
{
    int64_t n = a->rows, k = a->cols, m = b->cols;
    if (foldable(a, b)) { /* (B*n,m) @ (m,k) into the folded (B*n,k) gradient */
        lt_sgemm_par(ctx, batch * n, k, m, dense_at(dy, n, m, 0), lt_mat_t(mat_at(b, bv, 0)), mat_out_at(a, da, 0),
                     true, NULL);
        return;
    }
    for (int64_t i = 0; i < batch; i++)
        if (!lt_sgemm_par(ctx, n, k, m, dense_at(dy, n, m, i), lt_mat_t(mat_at(b, bv, i)), mat_out_at(a, da, i), true,
                          NULL))
            return;
}

/* dB += A^T . dY per batch: (k,n) @ (n,m) -> (k,m). When A folds, the sum
 * over the batch of a shared B is a single product with inner size B*n. */
static void grad_b(lt_ctx *ctx, const mats *a, const mats *b, const float *dy, int64_t batch, const float *av,
                   float *db)
{
    int64_t n = a->rows, k = a->cols, m = b->cols;
    if (foldable(a, b)) { /* (k,B*n) @ (B*n,m) */
        lt_sgemm_par(ctx, k, m, batch * n, lt_mat_t(mat_at(a, av, 0)), dense_at(dy, n, m, 0), mat_out_at(b, db, 0),
                     true, NULL);
        return;
    }
    for (int64_t i = 0; i < batch; i++)
        if (!lt_sgemm_par(ctx, k, m, n, lt_mat_t(mat_at(a, av, i)), dense_at(dy, n, m, i), mat_out_at(b, db, i), true,
                          NULL))
            return;
}

static void matmul_backward(lt_ctx *ctx, lt_node *node)
{
    const lt_tensor *a = node->in[0], *b = node->in[1], *y = node->out;
    mats ma = mats_of(a), mb = mats_of(b);
    int64_t batch = y->ndim == 3 ? y->shape[0] : 1;
    const float *dy = lt_output_grad(node);
    float *da = lt_input_grad(ctx, node, 0);
    if (da)
        grad_a(ctx, &ma, &mb, dy, batch, lt_f32(b), da);
    float *db = lt_input_grad(ctx, node, 1);
    if (db)
        grad_b(ctx, &ma, &mb, dy, batch, lt_f32(a), db);
}

static const lt_op matmul_op = {"matmul", matmul_backward, LT_SAVES_CROSS};

/* ---- forward ------------------------------------------------------------ */

/* Checks dtypes, ranks, inner and batch sizes; the message names both shapes. */
static bool check_operands(lt_ctx *ctx, const lt_tensor *a, const lt_tensor *b)
{
    if (a->dtype != LT_F32 || b->dtype != LT_F32)
        return lt_fail(ctx, LT_ERR_DTYPE, "matmul: needs f32 tensors, got %s %s @ %s %s", lt_dtype_name(a->dtype),
                       LT_TENSOR_SHAPE(a), lt_dtype_name(b->dtype), LT_TENSOR_SHAPE(b)),
               false;
    if (a->ndim < 2 || a->ndim > 3 || b->ndim < 2 || b->ndim > 3)
        return lt_fail(ctx, LT_ERR_SHAPE, "matmul: %s @ %s: operands must have rank 2 or 3, got ranks %d and %d",
                       LT_TENSOR_SHAPE(a), LT_TENSOR_SHAPE(b), a->ndim, b->ndim),
               false;
    mats ma = mats_of(a), mb = mats_of(b);
    if (ma.cols != mb.rows)
        return lt_fail(ctx, LT_ERR_SHAPE, "matmul: %s @ %s: inner sizes differ", LT_TENSOR_SHAPE(a),
                       LT_TENSOR_SHAPE(b)),
               false;
    if (ma.batch != mb.batch && ma.batch != 1 && mb.batch != 1)
        return lt_fail(ctx, LT_ERR_SHAPE, "matmul: %s @ %s: batch sizes differ (%lld vs %lld)", LT_TENSOR_SHAPE(a),
                       LT_TENSOR_SHAPE(b), (long long)ma.batch, (long long)mb.batch),
               false;
    return true;
}

lt_tensor *lt_matmul(lt_ctx *ctx, lt_tensor *a, lt_tensor *b)
{
    if (!lt_check_args(ctx, "matmul", 2, (lt_tensor *const[]){a, b}) || !check_operands(ctx, a, b))
        return NULL;
    if (!gemm_ready(a) && !(a = lt_contiguous(ctx, a)))
        return NULL;
    if (!gemm_ready(b) && !(b = lt_contiguous(ctx, b)))
        return NULL;
    mats ma = mats_of(a), mb = mats_of(b);
    int64_t n = ma.rows, k = ma.cols, m = mb.cols;
    int64_t batch = ma.batch == 1 ? mb.batch : ma.batch; /* broadcast; (0) with (1) is 0 */
    int rank = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t shape[3] = {batch, n, m}; /* (B,n,m), or (n,m) from shape + 1 */
    if (!lt_check_result_shape(ctx, "matmul", rank, shape + (3 - rank)))
        return NULL;
    lt_tensor *y = lt_alloc_temp(ctx, LT_F32, rank, shape + (3 - rank));
    if (!y)
        return NULL;
    const float *av = lt_f32(a), *bv = lt_f32(b);
    float *yv = lt_f32(y);
    if (foldable(&ma, &mb)) { /* (B*n,k) @ (k,m) -> (B*n,m) */
        if (!lt_sgemm_par(ctx, batch * n, m, k, mat_at(&ma, av, 0), mat_at(&mb, bv, 0), (lt_mat_out){yv, m, 1}, false,
                          NULL))
            return NULL;
    } else {
        for (int64_t i = 0; i < batch; i++) /* (n,k) @ (k,m) -> (n,m) */
            if (!lt_sgemm_par(ctx, n, m, k, mat_at(&ma, av, i), mat_at(&mb, bv, i), (lt_mat_out){yv + i * n * m, m, 1},
                              false, NULL))
                return NULL;
    }
    return lt_op_end(ctx, &matmul_op, y, 2, (lt_tensor *const[]){a, b}, NULL);
}
