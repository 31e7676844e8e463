/* matmul.c - torch.matmul: matrix products of any rank, with broadcast batch
 * dims and 1-D operands.
 *
 *     (k,)        @ (k,)        -> ()             a dot product
 *     (n,k)       @ (k,m)       -> (n,m)
 *     (...,n,k)   @ (k,)        -> (...,n)        b as a column (k,1), removed after
 *     (k,)        @ (...,k,m)   -> (...,m)        a as a row (1,k), removed after
 *     (...A,n,k)  @ (...B,k,m)  -> (...C,n,m)     C = A and B broadcast
 *
 * Each operand is seen as a batch of matrices (mats): the matrix's rows,
 * columns and their strides, and one stride per batch dim of the result (0
 * where it is broadcast). Every product, forward and backward, is one
 * lt_sgemm call per batch on lt_mat operands (pointer + strides), so an
 * operand whose matrices are row-major or column-major (a plain tensor,
 * lt_transpose of one, a narrowed one) is read in place; only other layouts
 * are copied by lt_contiguous. The backward products use transposed strides
 * (dA += dY B^T, dB += A^T dY), so no transpose is ever materialised, and
 * they accumulate straight into the inputs' gradient buffers, which share
 * the inputs' layouts: a matrix broadcast over a batch dim receives the sum
 * over it because the batches' calls add into it one after the other.
 *
 * One layout is never written by gemm: a matrix with stride 0 along a row or
 * column dim of size > 1 (an lt_expand), whose elements alias each other (a
 * gemm tile would add its rows into one element at once, keeping one). Such
 * an operand is copied when it needs a gradient; the copy's backward sums.
 *
 * When B is the same matrix for every batch and A's batches follow each
 * other at A's row stride, A's batch folds into its rows: one (B*n,k) @ (k,m)
 * product instead of B small ones (the (B,T,C) @ (C,D) of a sequence model).
 *
 * Products large enough to pay for it are split across the context's
 * threads (lt_set_threads) by lt_sgemm_par: C's rows or columns in
 * blocks, one lt_sgemm per block, each computed exactly as in the
 * single-threaded product. */
#include "core/opkit.h"
#include "kernels/gemm_split.h"

/* One operand as a batch of matrices: rows, columns, row and column strides,
 * and its stride along each batch dim of the result (0 where broadcast). */
typedef struct {
    int64_t rows, cols, rs, cs;
    int64_t bs[LT_MAX_DIMS];
} mats;

/* A product: the result's batch dims, the two operands, the folding. */
typedef struct {
    int nbatch;                  /* batch dims of the result */
    int64_t bshape[LT_MAX_DIMS]; /* their sizes */
    int64_t batch;               /* their product */
    int64_t n, k, m;             /* (n,k) @ (k,m) per batch */
    mats a, b;
    bool fold; /* A's batch folded into its rows */
} plan;

/* The matrix dims of t: a 1-D a is the row (1,k), a 1-D b the column (k,1)
 * (the missing stride is 0; it is never stepped). */
static void matrix_dims(const lt_tensor *t, bool is_a, mats *x)
{
    int r = t->ndim - 2;
    if (t->ndim >= 2)
        *x = (mats){t->shape[r], t->shape[r + 1], t->stride[r], t->stride[r + 1], {0}};
    else if (is_a)
        *x = (mats){1, t->shape[0], 0, t->stride[0], {0}};
    else
        *x = (mats){t->shape[0], 1, t->stride[0], 0, {0}};
}

/* t's batch dims (all but the last two; none for rank <= 2). */
static int batch_dims(const lt_tensor *t) { return t->ndim > 2 ? t->ndim - 2 : 0; }

/* t's batch dims as a shape (for a message). */
static lt_shape batch_shape(const lt_tensor *t)
{
    lt_shape s = {batch_dims(t), {0}};
    for (int d = 0; d < s.ndim; d++)
        s.d[d] = t->shape[d];
    return s;
}

/* Stride of t along batch dim d of the result (nbatch dims, right-aligned). */
static int64_t batch_stride(const lt_tensor *t, int nbatch, int d)
{
    int k = d - (nbatch - batch_dims(t));
    return k < 0 || t->shape[k] == 1 ? 0 : t->stride[k];
}

/* True when B is the same matrix for every batch and A's batch dims step
 * exactly one matrix of rows at a time, so batch i's row r is row i*n + r of
 * one (B*n,k) matrix with A's row stride. A row stride of 0 never folds: the
 * folded gradient's rows would alias. */
static bool can_fold(const plan *p)
{
    if (p->batch <= 1)
        return false;
    int64_t expect = p->a.rows * p->a.rs;
    for (int d = p->nbatch - 1; d >= 0; d--) {
        if (p->b.bs[d] != 0)
            return false;
        if (p->bshape[d] == 1)
            continue;
        if (expect == 0 || p->a.bs[d] != expect)
            return false;
        expect *= p->bshape[d];
    }
    return true;
}

/* The plan of a @ b, whose shapes were checked (check_operands). */
static void plan_of(const lt_tensor *a, const lt_tensor *b, plan *p)
{
    matrix_dims(a, true, &p->a);
    matrix_dims(b, false, &p->b);
    int bad;
    lt_broadcast_shapes(batch_dims(a), a->shape, batch_dims(b), b->shape, &p->nbatch, p->bshape, &bad);
    p->batch = lt_shape_numel(p->nbatch, p->bshape);
    for (int d = 0; d < p->nbatch; d++) {
        p->a.bs[d] = batch_stride(a, p->nbatch, d);
        p->b.bs[d] = batch_stride(b, p->nbatch, d);
    }
    p->n = p->a.rows;
    p->k = p->a.cols;
    p->m = p->b.cols;
    p->fold = can_fold(p);
}

/* The offsets, in elements, of batch i's matrix in A and in B. */
static void batch_offsets(const plan *p, int64_t i, int64_t *oa, int64_t *ob)
{
    *oa = *ob = 0;
    for (int d = p->nbatch - 1; d >= 0; d--) {
        int64_t j = i % p->bshape[d];
        i /= p->bshape[d];
        *oa += j * p->a.bs[d];
        *ob += j * p->b.bs[d];
    }
}

/* The matrix of x at base + off (its data or its gradient). */
static lt_mat mat_at(const mats *x, const float *base, int64_t off) { return (lt_mat){base + off, x->rs, x->cs}; }
static lt_mat_out mat_out_at(const mats *x, float *base, int64_t off) { return (lt_mat_out){base + off, x->rs, x->cs}; }

/* Matrix i of the dense (batch, rows, cols) output or its gradient. */
static lt_mat dense_at(const float *base, int64_t rows, int64_t cols, int64_t i)
{
    return (lt_mat){base + i * rows * cols, cols, 1};
}

/* ---- backward ----------------------------------------------------------- */

/* dA += dY . B^T per batch: (n,m) @ (m,k) -> (n,k). A broadcast A (batch
 * stride 0) receives the sum over the batch because every call accumulates. */
static void grad_a(lt_ctx *ctx, const plan *p, const float *dy, const float *bv, float *da)
{
    int64_t n = p->n, k = p->k, m = p->m;
    if (n == 0 || k == 0 || m == 0) /* nothing to add; the batch alone may be huge */
        return;
    if (p->fold) { /* (B*n,m) @ (m,k) into the folded (B*n,k) gradient */
        lt_sgemm_par(ctx, p->batch * n, k, m, dense_at(dy, n, m, 0), lt_mat_t(mat_at(&p->b, bv, 0)),
                     mat_out_at(&p->a, da, 0), true, NULL);
        return;
    }
    for (int64_t i = 0; i < p->batch; i++) {
        int64_t oa, ob;
        batch_offsets(p, i, &oa, &ob);
        if (!lt_sgemm_par(ctx, n, k, m, dense_at(dy, n, m, i), lt_mat_t(mat_at(&p->b, bv, ob)),
                          mat_out_at(&p->a, da, oa), true, NULL))
            return;
    }
}

/* dB += A^T . dY per batch: (k,n) @ (n,m) -> (k,m). When A folds, the sum
 * over the batch of a shared B is a single product with inner size B*n. */
static void grad_b(lt_ctx *ctx, const plan *p, const float *dy, const float *av, float *db)
{
    int64_t n = p->n, k = p->k, m = p->m;
    if (n == 0 || k == 0 || m == 0) /* nothing to add; the batch alone may be huge */
        return;
    if (p->fold) { /* (k,B*n) @ (B*n,m) */
        lt_sgemm_par(ctx, k, m, p->batch * n, lt_mat_t(mat_at(&p->a, av, 0)), dense_at(dy, n, m, 0),
                     mat_out_at(&p->b, db, 0), true, NULL);
        return;
    }
    for (int64_t i = 0; i < p->batch; i++) {
        int64_t oa, ob;
        batch_offsets(p, i, &oa, &ob);
        if (!lt_sgemm_par(ctx, k, m, n, lt_mat_t(mat_at(&p->a, av, oa)), dense_at(dy, n, m, i),
                          mat_out_at(&p->b, db, ob), true, NULL))
            return;
    }
}

static void matmul_backward(lt_ctx *ctx, lt_node *node)
{
    const lt_tensor *a = node->in[0], *b = node->in[1];
    plan p;
    plan_of(a, b, &p);
    const float *dy = lt_output_grad(node);
    float *da = lt_input_grad(ctx, node, 0);
    if (da)
        grad_a(ctx, &p, dy, lt_f32(b), da);
    float *db = lt_input_grad(ctx, node, 1);
    if (db)
        grad_b(ctx, &p, dy, lt_f32(a), db);
}

static const lt_op matmul_op = {"matmul", matmul_backward, LT_SAVES_CROSS};

/* ---- forward ------------------------------------------------------------ */

/* Checks dtypes, ranks, inner sizes and batch dims (in torch's order); the
 * message names both shapes. */
static bool check_operands(lt_ctx *ctx, const lt_tensor *a, const lt_tensor *b)
{
    if (a->dtype != LT_F32 || b->dtype != LT_F32)
        return lt_fail(ctx, LT_ERR_DTYPE, "matmul: needs f32 tensors, got %s %s @ %s %s", lt_dtype_name(a->dtype),
                       LT_TENSOR_SHAPE(a), lt_dtype_name(b->dtype), LT_TENSOR_SHAPE(b)),
               false;
    if (a->ndim < 1 || b->ndim < 1)
        return lt_fail(ctx, LT_ERR_SHAPE, "matmul: %s @ %s: operands must have rank >= 1, got ranks %d and %d",
                       LT_TENSOR_SHAPE(a), LT_TENSOR_SHAPE(b), a->ndim, b->ndim),
               false;
    mats ma, mb;
    matrix_dims(a, true, &ma);
    matrix_dims(b, false, &mb);
    if (ma.cols != mb.rows)
        return lt_fail(ctx, LT_ERR_SHAPE, "matmul: %s @ %s: inner sizes differ", LT_TENSOR_SHAPE(a),
                       LT_TENSOR_SHAPE(b)),
               false;
    int nbatch, bad;
    int64_t bshape[LT_MAX_DIMS];
    if (!lt_broadcast_shapes(batch_dims(a), a->shape, batch_dims(b), b->shape, &nbatch, bshape, &bad))
        return lt_fail(ctx, LT_ERR_SHAPE, "matmul: %s @ %s: batch dims %s and %s do not broadcast", LT_TENSOR_SHAPE(a),
                       LT_TENSOR_SHAPE(b), LT_SHAPE_TEXT(batch_shape(a)), LT_SHAPE_TEXT(batch_shape(b))),
               false;
    return true;
}

/* gemm reads any strides, but it is fast when one of the matrix strides is
 * 1 (a matrix with a single row or column has only one meaningful stride).
 * A matrix whose elements alias (stride 0 along a dim of size > 1) is read
 * in place only when it needs no gradient, which gemm could not write. */
static bool gemm_ready(lt_ctx *ctx, lt_tensor *t, bool is_a)
{
    mats x;
    matrix_dims(t, is_a, &x);
    bool unit = x.rows <= 1 || x.cols <= 1 || x.cs == 1 || x.rs == 1;
    bool aliased = (x.rows > 1 && x.rs == 0) || (x.cols > 1 && x.cs == 0);
    return unit && !(aliased && lt_needs_grad(ctx, 1, &t));
}

/* The result's shape: batch dims, then n unless a is 1-D, m unless b is. */
static int result_shape(const plan *p, const lt_tensor *a, const lt_tensor *b, int64_t *shape)
{
    int rank = p->nbatch;
    for (int d = 0; d < p->nbatch; d++)
        shape[d] = p->bshape[d];
    if (a->ndim >= 2)
        shape[rank++] = p->n;
    if (b->ndim >= 2)
        shape[rank++] = p->m;
    return rank;
}

lt_tensor *lt_matmul(lt_ctx *ctx, lt_tensor *a, lt_tensor *b)
{
    if (!lt_check_args(ctx, "matmul", 2, (lt_tensor *const[]){a, b}) || !check_operands(ctx, a, b))
        return NULL;
    if (!gemm_ready(ctx, a, true) && !(a = lt_contiguous(ctx, a)))
        return NULL;
    if (!gemm_ready(ctx, b, false) && !(b = lt_contiguous(ctx, b)))
        return NULL;
    plan p;
    plan_of(a, b, &p);
    int64_t shape[LT_MAX_DIMS];
    int rank = result_shape(&p, a, b, shape);
    if (!lt_check_result_shape(ctx, "matmul", rank, shape))
        return NULL;
    lt_tensor *y = lt_alloc_temp(ctx, LT_F32, rank, shape);
    if (!y)
        return NULL;
    int64_t n = p.n, k = p.k, m = p.m;
    const float *av = lt_f32(a), *bv = lt_f32(b);
    float *yv = lt_f32(y);
    if (n == 0 || m == 0) /* y is empty, however large its batch (k == 0 still writes zeros) */
        return lt_op_end(ctx, &matmul_op, y, 2, (lt_tensor *const[]){a, b}, NULL);
    if (p.fold) { /* (B*n,k) @ (k,m) -> (B*n,m) */
        if (!lt_sgemm_par(ctx, p.batch * n, m, k, mat_at(&p.a, av, 0), mat_at(&p.b, bv, 0), (lt_mat_out){yv, m, 1},
                          false, NULL))
            return NULL;
    } else {
        for (int64_t i = 0; i < p.batch; i++) { /* (n,k) @ (k,m) -> (n,m) */
            int64_t oa, ob;
            batch_offsets(&p, i, &oa, &ob);
            if (!lt_sgemm_par(ctx, n, m, k, mat_at(&p.a, av, oa), mat_at(&p.b, bv, ob),
                              (lt_mat_out){yv + i * n * m, m, 1}, false, NULL))
                return NULL;
        }
    }
    return lt_op_end(ctx, &matmul_op, y, 2, (lt_tensor *const[]){a, b}, NULL);
}
