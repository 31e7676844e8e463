/* matmul.c - matrix product with batching and broadcasting of the batch.
 *
 *     (n,k)   @ (k,m)   -> (n,m)
 *     (B,n,k) @ (B,k,m) -> (B,n,m)    either batch size may be 1 (broadcast)
 *     (B,n,k) @ (k,m)   -> (B,n,m)    and (n,k) @ (B,k,m) likewise
 *
 * Every product, forward and backward, is one lt_sgemm call per batch on
 * pointer + strides. An operand whose matrices are row-major or column-major
 * (a plain tensor, lt_transpose of one, a narrowed one) is read in place;
 * only other layouts are copied by lt_contiguous. The backward products use
 * transposed strides (dA += dC B^T, dB += A^T dC), so no transpose is ever
 * materialised, and they accumulate straight into the inputs' gradient
 * buffers, which share the inputs' layouts.
 *
 * Products large enough to pay for it are split across the context's
 * threads (lt_set_threads) by lt_sgemm_par: C's rows in blocks, one
 * lt_sgemm per block, each computed exactly as in the single-threaded
 * product. */
#include "core/internal.h"
#include "kernels/threads.h"

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

/* Scratch for lt_sgemm_par from the arena (NULL + error when out of memory). */
static float *gemm_work(lt_ctx *ctx, int64_t m, int64_t n, int64_t k)
{
    return lt_arena_alloc(ctx, sizeof(float) * lt_sgemm_par_work_floats(ctx, m, n, k));
}

/* ---- backward ----------------------------------------------------------- */

/* dA += dC . B^T per batch: (n,m) @ (m,k) -> (n,k). A broadcast A (bs 0)
 * receives the sum over the batch because every call accumulates. */
static void grad_a(lt_ctx *ctx, const mats *a, const mats *b, const float *gc, int64_t out_batch,
                   const float *bd, float *ga)
{
    int64_t n = a->rows, k = a->cols, m = b->cols;
    if (foldable(a, b)) { /* (B*n,m) @ (m,k) into the folded (B*n,k) gradient */
        float *w = gemm_work(ctx, out_batch * n, k, m);
        if (w)
            lt_sgemm_par(ctx, out_batch * n, k, m, gc, m, 1, bd, b->cs, b->rs, ga, a->rs, a->cs, true, w, NULL,
                         NULL);
        return;
    }
    float *w = gemm_work(ctx, n, k, m);
    if (!w)
        return;
    for (int64_t i = 0; i < out_batch; i++)
        lt_sgemm_par(ctx, n, k, m, gc + i * n * m, m, 1, bd + i * b->bs, b->cs, b->rs, ga + i * a->bs, a->rs,
                     a->cs, true, w, NULL, NULL);
}

/* dB += A^T . dC per batch: (k,n) @ (n,m) -> (k,m). When A folds, the sum
 * over the batch of a shared B is a single product with inner size B*n. */
static void grad_b(lt_ctx *ctx, const mats *a, const mats *b, const float *gc, int64_t out_batch,
                   const float *ad, float *gb)
{
    int64_t n = a->rows, k = a->cols, m = b->cols;
    if (foldable(a, b)) { /* (k,B*n) @ (B*n,m) */
        float *w = gemm_work(ctx, k, m, out_batch * n);
        if (w)
            lt_sgemm_par(ctx, k, m, out_batch * n, ad, a->cs, a->rs, gc, m, 1, gb, b->rs, b->cs, true, w, NULL,
                         NULL);
        return;
    }
    float *w = gemm_work(ctx, k, m, n);
    if (!w)
        return;
    for (int64_t i = 0; i < out_batch; i++)
        lt_sgemm_par(ctx, k, m, n, ad + i * a->bs, a->cs, a->rs, gc + i * n * m, m, 1, gb + i * b->bs, b->rs,
                     b->cs, true, w, NULL, NULL);
}

static void matmul_backward(lt_ctx *ctx, lt_node *node)
{
    lt_tensor *a = node->in[0], *b = node->in[1], *out = node->out;
    mats ma = mats_of(a), mb = mats_of(b);
    int64_t out_batch = out->ndim == 3 ? out->shape[0] : 1;
    const float *gc = lt_g(out);
    if (lt_want_grad(a)) {
        float *ga = lt_grad_buffer(ctx, a);
        if (!ga)
            return;
        grad_a(ctx, &ma, &mb, gc, out_batch, lt_f32(b), ga);
    }
    if (lt_want_grad(b)) {
        float *gb = lt_grad_buffer(ctx, b);
        if (!gb)
            return;
        grad_b(ctx, &ma, &mb, gc, out_batch, lt_f32(a), gb);
    }
}

static const lt_op matmul_op = {"matmul", matmul_backward};

/* ---- forward ------------------------------------------------------------ */

/* Checks dtypes, ranks, inner and batch sizes; the message names both shapes. */
static bool check_operands(lt_ctx *ctx, const lt_tensor *a, const lt_tensor *b)
{
    char sa[96], sb[96];
    lt_tensor_shape_str(a, sa, sizeof sa);
    lt_tensor_shape_str(b, sb, sizeof sb);
    if (a->dtype != LT_F32 || b->dtype != LT_F32)
        return lt_fail(ctx, LT_ERR_DTYPE, "matmul: needs f32 tensors, got %s %s @ %s %s", lt_dtype_name(a->dtype), sa,
                       lt_dtype_name(b->dtype), sb),
               false;
    if (a->ndim < 2 || a->ndim > 3 || b->ndim < 2 || b->ndim > 3)
        return lt_fail(ctx, LT_ERR_SHAPE, "matmul: %s @ %s: operands must have rank 2 or 3, got ranks %d and %d", sa,
                       sb, a->ndim, b->ndim),
               false;
    mats ma = mats_of(a), mb = mats_of(b);
    if (ma.cols != mb.rows)
        return lt_fail(ctx, LT_ERR_SHAPE, "matmul: %s @ %s: inner sizes differ", sa, sb), false;
    if (ma.batch != mb.batch && ma.batch != 1 && mb.batch != 1)
        return lt_fail(ctx, LT_ERR_SHAPE, "matmul: %s @ %s: batch sizes differ (%lld vs %lld)", sa, sb,
                       (long long)ma.batch, (long long)mb.batch),
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
    lt_tensor *out = lt_alloc_temp(ctx, LT_F32, rank, shape + (3 - rank));
    if (!out)
        return NULL;
    float *c = lt_f32(out);
    const float *ad = lt_f32(a), *bd = lt_f32(b);
    if (foldable(&ma, &mb)) { /* (B*n,k) @ (k,m) -> (B*n,m) */
        float *w = gemm_work(ctx, batch * n, m, k);
        if (!w)
            return NULL;
        lt_sgemm_par(ctx, batch * n, m, k, ad, ma.rs, ma.cs, bd, mb.rs, mb.cs, c, m, 1, false, w, NULL, NULL);
    } else {
        float *w = gemm_work(ctx, n, m, k);
        if (!w)
            return NULL;
        for (int64_t i = 0; i < batch; i++) /* (n,k) @ (k,m) -> (n,m) */
            lt_sgemm_par(ctx, n, m, k, ad + i * ma.bs, ma.rs, ma.cs, bd + i * mb.bs, mb.rs, mb.cs, c + i * n * m,
                         m, 1, false, w, NULL, NULL);
    }
    return lt_maybe_record(ctx, &matmul_op, out, 2, (lt_tensor *const[]){a, b}, NULL) ? out : NULL;
}
