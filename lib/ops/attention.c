/* attention.c - scaled-dot-product attention as one op, forward and backward.
 *
 *     q (..., L, E), k (..., S, E), v (..., S, Ev) -> y (..., L, Ev)
 *     y = softmax(scale * q @ k^T, masked) @ v
 *
 * The leading (batch) dims are the same for all three: (B, H) in a
 * transformer. causal masks out key j > i for query i (top-left aligned, as
 * torch.tril(ones(L, S)) when L != S).
 *
 * Each batch index is an independent slice: the slices are shared out
 * across the context's threads, and within a slice the queries are taken
 * in blocks of ATTN_ROWS, so scores exist for one block at a time: (S, rows)
 * floats of per-thread scratch, whatever L is. A causal block stops at its
 * last query's key, skipping most of the masked triangle.
 *
 * A block's scores are computed transposed, keys by queries (x^T = k q^T):
 * the softmax's per-query maximum and sum then run down the columns, so
 * every loop over the block is a plain vectorisable loop along a row, with
 * no horizontal reduction and no per-row call; this matters at makemore's
 * T = 16, where the products are 16x16x16 and a row is one vector.
 *
 * What forward keeps for backward ("what forward keeps", below): the
 * probabilities when they are no larger than the inputs (makemore's T 16,
 * and T 256 at head size 64), otherwise, flash-attention style, two floats
 * per query from which backward recomputes them bit for bit.
 *
 * The products call the gemm kernel's tiles on operands in place (pointers
 * and strides), so q, k and v are read where they are whenever their last
 * dim is unit-stride: the (B,H,T,D) transpose of a (B,T,H,D) view of a
 * c_attn output costs no copy. Other layouts are copied (recorded).
 *
 * Backward, per slice and query block (P^T, dP^T: keys by queries):
 *     P (kept, or recomputed)     dv += P^T dy
 *     dP^T = v dy^T               delta_i = sum_j P_ij dP_ij
 *     dx = scale * P * (dP - delta)                 (dx^T in place of dP^T)
 *     dq += dx k                  dk += dx^T q
 * accumulating straight into the inputs' gradient buffers (their own
 * strides). Threads split the slices only when no two slices' gradients can
 * share memory (grads_disjoint); each slice is computed by the same code in
 * any split, so results are bit-identical for every thread count. */
#include "core/opkit.h"
#include "kernels/attn_block.h"
#include "kernels/gemm.h"
#include "kernels/threads.h"
#include "kernels/vmath.h"

#include <math.h>
#include <string.h>

#define OP "scaled_dot_product_attention"

/* Queries per block: a multiple of every gemm kernel's tile height (4, 6,
 * 8) and of 16 (a block's rows are whole vectors). Smaller blocks skip more
 * of the causal triangle, larger ones make larger products
 * (docs/performance.md, "Attention"). */
#define ATTN_ROWS 48
_Static_assert(ATTN_ROWS <= LT_ATTN_MAX_ROWS, "a block's queries fit the loops' per-query arrays");

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

/* ---- geometry ------------------------------------------------------------------ */

/* The problem's sizes, shared by forward and backward. */
typedef struct {
    int nb;                      /* batch dims: rank - 2 */
    int64_t bshape[LT_MAX_DIMS]; /* their sizes */
    int64_t batch;               /* their product: the number of slices */
    int64_t L, S, E, Ev;         /* queries, keys, q/k width, v width */
    int64_t rows;                /* queries per block: min(ATTN_ROWS, L) */
    int64_t ld;                  /* the largest block's row stride: rows rounded up to 16 */
    bool causal;
    float scale;
} attn_dims;

static attn_dims dims_of(const lt_tensor *q, const lt_tensor *k, const lt_tensor *v, bool causal, float scale)
{
    attn_dims d = {.nb = q->ndim - 2, .batch = 1, .causal = causal, .scale = scale};
    for (int i = 0; i < d.nb; i++) {
        d.bshape[i] = q->shape[i];
        d.batch *= q->shape[i];
    }
    d.L = q->shape[q->ndim - 2];
    d.E = q->shape[q->ndim - 1];
    d.S = k->shape[k->ndim - 2];
    d.Ev = v->shape[v->ndim - 1];
    d.rows = min64(ATTN_ROWS, d.L);
    d.ld = round16(d.rows);
    return d;
}

/* Element offset of slice i (row-major over the batch dims) in t, whose
 * batch dims are d's. */
static int64_t slice_offset(const attn_dims *d, const lt_tensor *t, int64_t i)
{
    int64_t off = 0;
    for (int b = d->nb - 1; b >= 0; b--) {
        off += (i % d->bshape[b]) * t->stride[b];
        i /= d->bshape[b];
    }
    return off;
}

/* Row stride of t's matrices (its last dim has unit stride). */
static int64_t row_stride(const lt_tensor *t) { return t->stride[t->ndim - 2]; }

/* One query block of one slice: queries r0..r0+rows-1, keys 0..n-1 (a
 * causal block stops at its last query's key); its (keys, queries)
 * matrices have row stride ld, rows rounded up to 16. */
typedef struct {
    int64_t r0, rows, n, ld;
} attn_block;

static attn_block block_at(const attn_dims *d, int64_t r0)
{
    int64_t rows = min64(d->rows, d->L - r0);
    return (attn_block){r0, rows, d->causal ? min64(d->S, r0 + rows) : d->S, round16(rows)};
}

/* ---- scratch memory and products ------------------------------------------------ */

/* One task's scratch, carved from one arena block (each part a multiple of
 * 16 floats, so every part stays 64-byte aligned), and the gemm kernel and
 * block loops, chosen once per op on the calling thread. (keys, queries) matrices have
 * row stride d->ld. */
typedef struct {
    const lt_gemm_kernel *kern;
    const lt_attn_loops *loops;
    float *qt;   /* scale * q_blk^T: (E, ld) */
    float *pt;   /* scores, probabilities, their gradient, transposed: (S, ld) */
    float *dyt;  /* dy_blk^T: (Ev, ld), backward only */
    float *dpt;  /* dP^T: (S, ld), backward only */
    float *zeros; /* max(E, Ev) zeros, backward only: the bias of a PRODUCT_FRESH */
    float *work; /* lt_sgemm's packing space (the portable kernel only) */
} attn_scratch;

/* Floats lt_sgemm needs for any product of a block (0 for a tile kernel). */
static size_t gemm_floats(const attn_dims *d, const lt_gemm_kernel *kern, bool backward)
{
    int64_t r = d->rows, S = d->S, E = d->E, Ev = d->Ev;
    int64_t shapes[6][3] = {{S, r, E}, {r, Ev, S}, {S, Ev, r}, {S, r, Ev}, {r, E, S}, {S, E, r}};
    size_t most = 0;
    for (int i = 0; i < (backward ? 6 : 2) && !kern->tile; i++) {
        size_t f = lt_sgemm_work_floats_with(kern, shapes[i][0], shapes[i][1], shapes[i][2]);
        most = f > most ? f : most;
    }
    return (size_t)round16((int64_t)most);
}

static size_t scratch_floats(const attn_dims *d, const lt_gemm_kernel *kern, bool backward)
{
    size_t f = (size_t)(d->E * d->ld + d->S * d->ld) + gemm_floats(d, kern, backward);
    return backward ? f + (size_t)(d->Ev * d->ld + d->S * d->ld + round16(d->E > d->Ev ? d->E : d->Ev)) : f;
}

static attn_scratch scratch_at(const attn_dims *d, const lt_gemm_kernel *kern, float *base, bool backward)
{
    attn_scratch s = {kern, lt_attn_loops_for(lt_cpu_isa()), base, base + d->E * d->ld, NULL, NULL, NULL, NULL};
    base = s.pt + d->S * d->ld;
    if (backward) {
        int64_t widest = d->E > d->Ev ? d->E : d->Ev;
        s.dyt = base;
        s.dpt = base + d->Ev * d->ld;
        s.zeros = s.dpt + d->S * d->ld;
        memset(s.zeros, 0, sizeof(float) * (size_t)widest);
        base = s.zeros + round16(widest);
    }
    s.work = base;
    return s;
}

/* Tasks for the slices of `work` each (threads.h's units), and the scratch
 * for them (NULL with the error recorded when out of memory). */
static float *take_scratch(lt_ctx *ctx, const attn_dims *d, const lt_gemm_kernel *kern, bool backward, double work,
                           int *tasks, size_t *per)
{
    *tasks = lt_par_tasks(ctx, d->batch, 1, work * (double)d->batch);
    *per = scratch_floats(d, kern, backward);
    return lt_arena_alloc(ctx, sizeof(float) * *per * (size_t)*tasks);
}

/* dst (cols, ld) = scale * src^T for the (rows, cols) matrix at src (row
 * stride rs, unit column stride): q^T (scaled) and dy^T with unit-stride
 * rows, as the products read their second operand. */
static void transpose_into(const attn_scratch *w, float *dst, int64_t ld, const float *src, int64_t rows, int64_t cols,
                           int64_t rs, float scale)
{
    if (w->kern->transpose && rows > 0 && cols > 0)
        w->kern->transpose(cols, rows, src, rs, dst, ld);
    else
        for (int64_t i = 0; i < rows; i++)
            for (int64_t c = 0; c < cols; c++)
                dst[c * ld + i] = src[i * rs + c];
    if (scale != 1.0f)
        w->loops->mul(dst, cols, rows, ld, scale);
}

/* C (m,n) (+)= A (m,k) @ B (k,n), B and C with unit-stride rows, A with any
 * strides: the kernel's tiles called directly (gemm.h). These products are
 * small (16x16x16 at makemore's shape) and the tile kernel reads every
 * operand in place, so lt_sgemm's driver, built to block and pack larger
 * ones, would only add its overhead (docs/performance.md, "Attention"). The
 * depth is cut in blocks of PRODUCT_KC, as lt_sgemm does, so a tile's slice
 * of B stays in cache. The portable kernel (packed panels, no tile
 * function) goes through lt_sgemm. */
#define PRODUCT_KC 256

/* Which depth a causal product's rows need (the rest of the depth is
 * masked: its terms are exact zeros). */
typedef enum {
    DEPTH_ALL,      /* every term (not causal, or the mask is in the output) */
    DEPTH_TO_QUERY, /* rows are queries r0 + i, the depth keys: query r0 + i sums keys 0..r0 + i */
    DEPTH_FROM_KEY  /* rows are keys i, the depth the queries r0.. of the block: key i sums queries i.. */
} depth_kind;

typedef struct {
    depth_kind kind;
    int64_t r0; /* the block's first query */
} depth_band;

static const depth_band ALL_DEPTH = {DEPTH_ALL, 0};

/* The part [*lo, *hi) of the depth block [p0, p0 + kc) that the rows
 * [i, i + rows) need; empty (*lo >= *hi) only past a query's last key.
 *  - DEPTH_TO_QUERY stops after the tile's last query's key. The terms left
 *    out come after the ones summed, and add exact zeros (P or dS = 0 times
 *    a finite value): the sums keep their bits (unless a sum is -0 and a
 *    left-out term +0, which would have made it +0; nor are non-finite
 *    values in v or k at hidden keys spread into the sums, as they already
 *    are not past a block's last query).
 *  - DEPTH_FROM_KEY starts at the tile's first key's query. The terms left
 *    out come before the ones summed, while the tile's sums (started at +0)
 *    are still +0: +0 plus exact zeros is +0, so the bits are the same.
 *    Only a single depth block (kc = k <= PRODUCT_KC; a block has <= 48
 *    queries) is cut, so every output is still written. */
static void depth_part(depth_band band, int64_t i, int64_t rows, int64_t p0, int64_t kc, int64_t k, int64_t *lo,
                       int64_t *hi)
{
    *lo = p0;
    *hi = p0 + kc;
    if (band.kind == DEPTH_TO_QUERY)
        *hi = min64(*hi, band.r0 + i + rows);
    else if (band.kind == DEPTH_FROM_KEY && k <= PRODUCT_KC && i > band.r0)
        *lo = min64(i - band.r0, k - 1);
}

/* What a product does with C. */
typedef enum {
    PRODUCT_SET, /* C = the sum */
    PRODUCT_ADD, /* C += the sum */
    PRODUCT_FRESH /* C = 0 + the sum: PRODUCT_ADD's bits on a C of zeros
                   * (+0 + -0 is +0), without clearing C first */
} product_mode;

static void product(const attn_scratch *w, int64_t m, int64_t n, int64_t k, const float *a, int64_t a_rs, int64_t a_cs,
                    const float *b, int64_t ldb, float *c, int64_t ldc, product_mode mode, depth_band band)
{
    const lt_gemm_kernel *kern = w->kern;
    if (!kern->tile || k == 0) {
        if (mode == PRODUCT_FRESH)
            for (int64_t i = 0; i < m; i++)
                memset(c + i * ldc, 0, sizeof(float) * (size_t)n);
        lt_sgemm_with(kern, m, n, k, (lt_mat){a, a_rs, a_cs}, (lt_mat){b, ldb, 1}, (lt_mat_out){c, ldc, 1},
                      mode != PRODUCT_SET, w->work);
        return;
    }
    /* n = 64 (a head size) in 8x48 tiles leaves a 16-column strip of
     * inefficient tiles: the kernel's wide tile (6x64) takes it whole */
    lt_gemm_tile t = lt_gemm_tile_for(kern, n);
    int64_t mr = t.mr, nr = t.nr;
    for (int64_t p0 = 0; p0 < k; p0 += PRODUCT_KC) {
        int64_t kc = min64(PRODUCT_KC, k - p0);
        bool acc = mode == PRODUCT_ADD || p0 > 0;
        const float *bias = mode == PRODUCT_FRESH && p0 == 0 ? w->zeros : NULL; /* the sum + 0 */
        for (int64_t i = 0; i < m; i += mr) {
            int64_t rows = min64(mr, m - i), lo, hi;
            depth_part(band, i, rows, p0, kc, k, &lo, &hi);
            if (lo >= hi) /* past the last query's key: p0 > 0, the sums are written */
                continue;
            for (int64_t j = 0; j < n; j += nr)
                t.fn((int)rows, (int)min64(nr, n - j), hi - lo, a + i * a_rs + lo * a_cs, a_rs, a_cs, b + lo * ldb + j,
                     ldb, c + i * ldc + j, ldc, acc, bias ? bias + j : NULL);
        }
    }
}

/* kind for a causal problem's block at query r0, else every term. */
static depth_band causal_band(const attn_dims *d, depth_kind kind, int64_t r0)
{
    return d->causal ? (depth_band){kind, r0} : ALL_DEPTH;
}

/* ---- one block's softmax, keys by queries (attn_block.h) ------------------------- */

/* The block's scores, transposed: x^T = k[:n] (scale q_blk)^T, (n, rows),
 * into pt. */
static lt_attn_block block_scores(const attn_dims *d, const attn_scratch *w, attn_block b, const float *q, int64_t q_rs,
                                  const float *k, int64_t k_rs, float *pt)
{
    transpose_into(w, w->qt, b.ld, q + b.r0 * q_rs, b.rows, d->E, q_rs, d->scale);
    product(w, b.n, b.rows, d->E, k, k_rs, 1, w->qt, b.ld, pt, b.ld, PRODUCT_SET, ALL_DEPTH);
    return (lt_attn_block){pt, b.n, b.rows, b.ld, b.r0, d->causal};
}

/* x^T -> exp(x - m)^T, 0 where hidden. */
static void block_exp(const attn_scratch *w, const lt_attn_block *x, const float *m)
{
    w->loops->shift(x, m);
    if (x->rows == x->ld) /* one call for the whole block */
        lt_vexp(x->pt, x->pt, x->n * x->ld);
    else
        for (int64_t j = 0; j < x->n; j++)
            lt_vexp(x->pt + j * x->ld, x->pt + j * x->ld, x->rows);
}

/* Forward: the block's scores into probabilities P = exp(x - m) * (1/s), in
 * place, storing each query's m and 1/s. Backward recomputes P from them
 * with the same block_exp and scale, so its P are these bit for bit. */
static void block_softmax(const attn_scratch *w, const lt_attn_block *x, float *m, float *inv)
{
    w->loops->max(x, m);
    block_exp(w, x, m);
    w->loops->inv_sums(x, inv);
    w->loops->scale(x, inv);
}

/* ---- what forward keeps for backward ---------------------------------------------
 * Either the probabilities themselves, block by block (P^T, as the products
 * read them), or, flash-attention style, two floats per query from which
 * backward recomputes them: the maximum m of its scores and 1/s, s =
 * sum_j exp(x_j - m) (with the same block_exp and scale as forward, so bit
 * for bit forward's P). Forward keeps P when a query's S probabilities take
 * no more memory than its share of q, k, v and y, which the tape holds
 * anyway (2 (E + Ev) floats): makemore's T 16 (head size 16) and T 256 with
 * head size 64 keep P, T 1024 with 64 does not. Keeping P was measured
 * faster at every size (it saves backward one product of five and the
 * exponentials: docs/performance.md, "Attention"), so the rule only bounds
 * memory, which for P grows with S^2 (256 MiB at B 8, H 8, T 1024). */
static bool keeps_probs(const attn_dims *d) { return d->S <= 2 * (d->E + d->Ev); }

/* Floats of one slice's P^T blocks. */
static int64_t probs_per_slice(const attn_dims *d)
{
    int64_t f = 0;
    for (int64_t r0 = 0; r0 < d->L; r0 += d->rows) {
        attn_block b = block_at(d, r0);
        f += b.n * b.ld;
    }
    return f;
}

/* What a node keeps (arena memory): exactly one of the two is set. */
typedef struct {
    float *probs; /* P^T blocks of every slice, probs_per_slice floats each */
    float *stats; /* (2, batch, L): each query's m, then each query's 1/s */
} attn_saved;

/* ---- forward ---------------------------------------------------------------------- */

typedef struct {
    attn_dims d;
    const lt_tensor *q, *k, *v;
    lt_tensor *y;     /* (batch..., L, Ev) laid out as q (output_like_q) */
    attn_saved saved; /* both NULL when nothing is recorded */
    const lt_gemm_kernel *kern;
    float *work;
    size_t per_task;
} fwd_job;

static void forward_slice(const fwd_job *f, const attn_scratch *w, int64_t i)
{
    const attn_dims *d = &f->d;
    const float *q = lt_f32(f->q) + slice_offset(d, f->q, i), *k = lt_f32(f->k) + slice_offset(d, f->k, i),
                *v = lt_f32(f->v) + slice_offset(d, f->v, i);
    float *y = lt_f32(f->y) + slice_offset(d, f->y, i), m_local[ATTN_ROWS], inv_local[ATTN_ROWS];
    int64_t y_rs = row_stride(f->y);
    float *probs = f->saved.probs ? f->saved.probs + i * probs_per_slice(d) : NULL;
    for (int64_t r0 = 0; r0 < d->L; r0 += d->rows) {
        attn_block b = block_at(d, r0);
        float *m = f->saved.stats ? f->saved.stats + i * d->L + r0 : m_local;
        float *inv = f->saved.stats ? m + d->batch * d->L : inv_local;
        lt_attn_block x = block_scores(d, w, b, q, row_stride(f->q), k, row_stride(f->k), probs ? probs : w->pt);
        block_softmax(w, &x, m, inv);
        /* y_blk (rows, Ev) = P (rows, n) @ v (n, Ev), P read through P^T's strides */
        product(w, b.rows, d->Ev, b.n, x.pt, 1, b.ld, v, row_stride(f->v), y + r0 * y_rs, y_rs, PRODUCT_SET,
                causal_band(d, DEPTH_TO_QUERY, r0));
        if (probs)
            probs += b.n * b.ld;
    }
}

static void forward_task(void *arg, int task, int64_t begin, int64_t end)
{
    const fwd_job *f = arg;
    attn_scratch w = scratch_at(&f->d, f->kern, f->work + (size_t)task * f->per_task, false);
    for (int64_t i = begin; i < end; i++)
        forward_slice(f, &w, i);
}

/* Work of one slice's forward in threads.h's units: the two products and
 * the exponentials (causal about half), plus a fixed cost per query row (its
 * softmax's maximum, sum and scaling, its share of the transposes and tile
 * calls). The row cost dominates small heads: a makemore transformer's
 * (16,16) slice of head size 16 has 12,288 flops but took 0.58 µs on one
 * thread, the time of ~80,000 (bench_makemore, per-op times); without it
 * the forward of its 128 slices stayed on one thread, and on two threads ran
 * slower than on one (its inputs then come half from the other core). */
static double forward_work(const attn_dims *d)
{
    double f = 2.0 * (double)d->L * (double)d->S * ((double)(d->E + d->Ev) + LT_WORK_EXP);
    return (d->causal ? f / 2 : f) + (double)d->L * LT_WORK_ROW;
}

/* ---- backward --------------------------------------------------------------------- */

typedef struct {
    attn_dims d;
    const lt_tensor *q, *k, *v, *y;
    const float *dy;     /* at element (0,..,0) of y, y's strides */
    attn_saved saved;    /* read only */
    float *dq, *dk, *dv; /* at element (0,..,0), the inputs' strides; NULL: not wanted */
    bool fresh;          /* dq, dk, dv hold garbage: every element is written (=), none added to */
    const lt_gemm_kernel *kern;
    float *work;
    size_t per_task;
} bwd_job;

/* A key gradient (dk or dv, c (n, cols), row stride ldc) of block b plus
 * a (n, rows) @ bm (rows, cols), a with row stride b.ld. Keys the slice's
 * earlier blocks wrote (< seen) are added to; when the gradients are fresh
 * (bj->fresh: the buffer holds garbage) the block's new keys are written. */
static void key_grad_product(const bwd_job *bj, const attn_scratch *w, attn_block b, int64_t seen, int64_t cols,
                             const float *a, const float *bm, int64_t ldb, float *c, int64_t ldc)
{
    depth_band band = causal_band(&bj->d, DEPTH_FROM_KEY, b.r0);
    int64_t split = bj->fresh ? min64(seen, b.n) : b.n;
    if (split > 0)
        product(w, split, cols, b.rows, a, b.ld, 1, bm, ldb, c, ldc, PRODUCT_ADD, band);
    band.r0 -= split; /* the rest's rows start at key `split` */
    if (split < b.n)
        product(w, b.n - split, cols, b.rows, a + split * b.ld, b.ld, 1, bm, ldb, c + split * ldc, ldc, PRODUCT_FRESH,
                band);
}

/* Rows [from, to) of the (rows, cols) matrix at c (row stride ldc) = 0. */
static void zero_rows(float *c, int64_t from, int64_t to, int64_t cols, int64_t ldc)
{
    for (int64_t r = from; r < to; r++)
        memset(c + r * ldc, 0, sizeof(float) * (size_t)cols);
}

static void backward_slice(const bwd_job *bj, const attn_scratch *w, int64_t i)
{
    const attn_dims *d = &bj->d;
    int64_t oq = slice_offset(d, bj->q, i), ok = slice_offset(d, bj->k, i), ov = slice_offset(d, bj->v, i);
    const float *q = lt_f32(bj->q) + oq, *k = lt_f32(bj->k) + ok, *v = lt_f32(bj->v) + ov;
    int64_t q_rs = row_stride(bj->q), k_rs = row_stride(bj->k), v_rs = row_stride(bj->v);
    const float *dy = bj->dy + slice_offset(d, bj->y, i);
    int64_t dy_rs = row_stride(bj->y);
    float *probs = bj->saved.probs ? bj->saved.probs + i * probs_per_slice(d) : NULL;
    int64_t seen = 0; /* keys whose dk, dv an earlier block wrote */
    for (int64_t r0 = 0; r0 < d->L; seen = block_at(d, r0).n, r0 += d->rows) {
        attn_block b = block_at(d, r0);
        const float *dy_blk = dy + r0 * dy_rs;
        lt_attn_block x = {probs, b.n, b.rows, b.ld, b.r0, d->causal}; /* P^T, read only */
        if (probs) {
            probs += b.n * b.ld;
        } else { /* recompute P^T as forward made it */
            const float *m = bj->saved.stats + i * d->L + r0, *inv = m + d->batch * d->L;
            x = block_scores(d, w, b, q, q_rs, k, k_rs, w->pt);
            block_exp(w, &x, m);
            w->loops->scale(&x, inv);
        }
        if (bj->dv) /* dv (n, Ev) += P^T (n, rows) @ dy (rows, Ev) */
            key_grad_product(bj, w, b, seen, d->Ev, x.pt, dy_blk, dy_rs, bj->dv + ov, v_rs);
        if (!bj->dq && !bj->dk)
            continue;
        /* dP^T (n, rows) = v (n, Ev) @ dy^T (Ev, rows) */
        transpose_into(w, w->dyt, b.ld, dy_blk, b.rows, d->Ev, dy_rs, 1.0f);
        product(w, b.n, b.rows, d->Ev, v, v_rs, 1, w->dyt, b.ld, w->dpt, b.ld, PRODUCT_SET, ALL_DEPTH);
        w->loops->dscores(&x, w->dpt, d->scale); /* dx^T in place of dP^T */
        if (bj->dq) /* dq (rows, E) += dx (rows, n) @ k (n, E), dx read through dx^T's strides */
            product(w, b.rows, d->E, b.n, w->dpt, 1, b.ld, k, k_rs, bj->dq + oq + r0 * q_rs, q_rs,
                    bj->fresh ? PRODUCT_FRESH : PRODUCT_ADD, causal_band(d, DEPTH_TO_QUERY, r0));
        if (bj->dk) /* dk (n, E) += dx^T (n, rows) @ q_blk (rows, E) */
            key_grad_product(bj, w, b, seen, d->E, w->dpt, q + r0 * q_rs, q_rs, bj->dk + ok, k_rs);
    }
    if (bj->fresh) { /* causal with S > L: keys no query sees get zero gradients */
        zero_rows(bj->dk + ok, seen, d->S, d->E, k_rs);
        zero_rows(bj->dv + ov, seen, d->S, d->Ev, v_rs);
    }
}

static void backward_task(void *arg, int task, int64_t begin, int64_t end)
{
    const bwd_job *b = arg;
    attn_scratch w = scratch_at(&b->d, b->kern, b->work + (size_t)task * b->per_task, true);
    for (int64_t i = begin; i < end; i++)
        backward_slice(b, &w, i);
}

/* ---- may the slices' gradients be written by different threads? ---------------------
 * Slice i writes only to its own part of dq, dk and dv. Two threads can
 * collide only when two slices' parts share memory: an input whose own
 * layout overlaps itself (a stride-0, expanded dim), or two inputs with the
 * same storage laid out differently whose elements interleave. */

static bool same_layout(const lt_tensor *a, const lt_tensor *b)
{
    return a->offset == b->offset && memcmp(a->stride, b->stride, sizeof a->stride) == 0;
}

/* The inputs that receive gradients (grad non-NULL) never write one slice's
 * memory from another slice. */
static bool grads_disjoint(const lt_tensor *const in[3], float *const grad[3])
{
    for (int i = 0; i < 3; i++) {
        if (!grad[i])
            continue;
        if (!lt_non_overlapping(in[i]))
            return false;
        for (int j = 0; j < i; j++)
            if (grad[j] && in[j]->storage == in[i]->storage && !same_layout(in[i], in[j]) &&
                !lt_elements_disjoint(in[i], in[j]))
                return false;
    }
    return true;
}

static void attention_backward(lt_ctx *ctx, lt_node *node)
{
    const lt_tensor *in[3] = {node->in[0], node->in[1], node->in[2]};
    float *grad[3];
    if (!node->saved) { /* nothing saved: no keys, or an empty output; the gradients are zeros */
        for (int i = 0; i < 3; i++)
            lt_input_grad(ctx, node, i);
        return;
    }
    bwd_job b = {dims_of(in[0], in[1], in[2], node->iparam[0] != 0, node->fparam[0]),
                 in[0],
                 in[1],
                 in[2],
                 node->out,
                 lt_output_grad(node),
                 {NULL, NULL},
                 NULL,
                 NULL,
                 NULL,
                 false,
                 lt_gemm_active_kernel(),
                 NULL,
                 0};
    if (node->iparam[1])
        b.saved.probs = node->saved;
    else
        b.saved.stats = node->saved;
    int tasks;
    b.work =
        take_scratch(ctx, &b.d, b.kern, true, (b.saved.probs ? 2.0 : 2.5) * forward_work(&b.d), &tasks, &b.per_task);
    if (!b.work)
        return;
    /* last, so that a fresh (uncleared) buffer is always written */
    b.fresh = lt_inputs_grad_fresh(ctx, node, 3, grad);
    b.dq = grad[0], b.dk = grad[1], b.dv = grad[2];
    if (!grad[0] && !grad[1] && !grad[2])
        return;
    lt_par_run(ctx, grads_disjoint(in, grad) ? tasks : 1, b.d.batch, 1, backward_task, &b);
}

/* backward reads q, k and v (never y): the scores or their gradient need all three */
static const lt_op attention_op = {OP, attention_backward, LT_SAVES_IN(0) | LT_SAVES_IN(1) | LT_SAVES_IN(2)};

/* ---- checks ----------------------------------------------------------------------- */

static bool fail_shapes(lt_ctx *ctx, const lt_tensor *q, const lt_tensor *k, const lt_tensor *v, const char *what)
{
    lt_fail(ctx, LT_ERR_SHAPE, OP ": q %s, k %s, v %s: %s", LT_TENSOR_SHAPE(q), LT_TENSOR_SHAPE(k), LT_TENSOR_SHAPE(v),
            what);
    return false;
}

static bool check_inputs(lt_ctx *ctx, const lt_tensor *q, const lt_tensor *k, const lt_tensor *v, float scale)
{
    const lt_tensor *in[3] = {q, k, v};
    for (int i = 0; i < 3; i++)
        if (in[i]->dtype != LT_F32)
            return lt_fail(ctx, LT_ERR_DTYPE, OP ": %s %s must be f32, got %s", (const char *[]){"q", "k", "v"}[i],
                           LT_TENSOR_SHAPE(in[i]), lt_dtype_name(in[i]->dtype)),
                   false;
    if (q->ndim < 2 || q->ndim != k->ndim || q->ndim != v->ndim)
        return fail_shapes(ctx, q, k, v, "expected (..., L, E), (..., S, E), (..., S, Ev) of one rank >= 2");
    int r = q->ndim;
    for (int i = 0; i < r - 2; i++)
        if (q->shape[i] != k->shape[i] || q->shape[i] != v->shape[i])
            return fail_shapes(ctx, q, k, v, "the batch dims differ");
    if (q->shape[r - 1] != k->shape[r - 1])
        return fail_shapes(ctx, q, k, v, "q and k differ in their last size (E)");
    if (k->shape[r - 2] != v->shape[r - 2])
        return fail_shapes(ctx, q, k, v, "k and v differ in their number of keys (S)");
    if (isinf(scale))
        return lt_fail(ctx, LT_ERR_ARG, OP ": scale %g must be finite (or NaN for 1/sqrt(E))", (double)scale), false;
    return true;
}

/* t when its (rows, cols) matrices have unit-stride rows that do not
 * overlap (the products read them in place, and write their gradients in
 * place), else a recorded contiguous copy: a transposed matrix, or rows
 * repeated by a stride of 0 (an expanded dim), whose gradient rows the
 * products could not accumulate into one element. */
static lt_tensor *rows_in_place(lt_ctx *ctx, lt_tensor *t)
{
    int64_t rows = t->shape[t->ndim - 2], cols = t->shape[t->ndim - 1];
    bool unit = cols <= 1 || t->stride[t->ndim - 1] == 1;
    bool apart = rows <= 1 || t->stride[t->ndim - 2] >= cols;
    return unit && apart ? t : lt_contiguous(ctx, t);
}

/* A new (..., L, Ev) tensor of the given shape whose batch dims and L are
 * laid out in the order of q's strides (largest first; Ev innermost), as
 * torch.empty_like keeps a layout: for makemore's q, the (B,nh,T,hs)
 * transpose of a (B,T,nh,hs) view, y is that transpose of a dense
 * (B,T,nh,hs) tensor, so the model puts the heads side by side with no
 * copy. A contiguous q gives a contiguous y. */
static lt_tensor *output_like_q(lt_ctx *ctx, const lt_tensor *q, const int64_t *shape)
{
    int nd = q->ndim, order[LT_MAX_DIMS]; /* order[p]: the dim stored at position p */
    int64_t stored[LT_MAX_DIMS];
    for (int p = 0; p < nd; p++) { /* insertion sort of dims 0..nd-2, stable: ties keep their order */
        int dim = p, at = p;
        while (p < nd - 1 && at > 0 && q->stride[order[at - 1]] < q->stride[dim]) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = dim;
    }
    for (int p = 0; p < nd; p++)
        stored[p] = shape[order[p]];
    lt_tensor *y = lt_alloc_temp(ctx, LT_F32, nd, stored);
    if (!y)
        return NULL;
    int64_t stride[LT_MAX_DIMS];
    memcpy(stride, y->stride, sizeof stride);
    for (int p = 0; p < nd; p++) {
        y->shape[order[p]] = stored[p];
        y->stride[order[p]] = stride[p];
    }
    return y;
}

/* ---- the op ----------------------------------------------------------------------- */

lt_tensor *lt_scaled_dot_product_attention(lt_ctx *ctx, lt_tensor *q, lt_tensor *k, lt_tensor *v, bool causal,
                                           float scale)
{
    if (!lt_check_args(ctx, OP, 3, (lt_tensor *const[]){q, k, v}) || !check_inputs(ctx, q, k, v, scale))
        return NULL;
    int64_t shape[LT_MAX_DIMS];
    memcpy(shape, q->shape, sizeof shape);
    shape[q->ndim - 1] = v->shape[v->ndim - 1]; /* (..., L, Ev) */
    if (!lt_check_result_shape(ctx, OP, q->ndim, shape))
        return NULL;
    if (isnan(scale))
        scale = (float)(1.0 / sqrt((double)q->shape[q->ndim - 1]));
    if (!(q = rows_in_place(ctx, q)) || !(k = rows_in_place(ctx, k)) || !(v = rows_in_place(ctx, v)))
        return NULL;
    lt_tensor *in[3] = {q, k, v};
    lt_tensor *y = output_like_q(ctx, q, shape);
    if (!y)
        return NULL;
    fwd_job f = {dims_of(q, k, v, causal, scale), q, k, v, y, {NULL, NULL}, lt_gemm_active_kernel(), NULL, 0};
    lt_node_data node = {.f = {scale}, .i = {causal, keeps_probs(&f.d)}};
    if (f.d.batch * f.d.L * f.d.Ev == 0)
        return lt_op_end(ctx, &attention_op, y, 3, in, &node);
    if (f.d.S == 0) { /* no keys: every output row is an empty sum */
        memset(lt_f32(y), 0, sizeof(float) * (size_t)(f.d.batch * f.d.L * f.d.Ev));
        return lt_op_end(ctx, &attention_op, y, 3, in, &node);
    }
    if (lt_needs_grad(ctx, 3, in)) {
        int64_t floats = f.d.batch * (node.i[1] ? probs_per_slice(&f.d) : 2 * f.d.L);
        if (!(node.saved = lt_arena_alloc(ctx, sizeof(float) * (size_t)floats)))
            return NULL;
        *(node.i[1] ? &f.saved.probs : &f.saved.stats) = node.saved;
    }
    int tasks;
    if (!(f.work = take_scratch(ctx, &f.d, f.kern, false, forward_work(&f.d), &tasks, &f.per_task)))
        return NULL;
    lt_par_run(ctx, tasks, f.d.batch, 1, forward_task, &f);
    return lt_op_end(ctx, &attention_op, y, 3, in, &node);
}
