/* norm.c - batch normalisation and layer normalisation, each one fused
 * op: the forward computes the statistics and the affine output in a few
 * dense passes, and the backward computes the input, gain and bias
 * gradients together from the closed-form expressions
 *
 *   xhat = (x - mean) * invstd,  y = gain * xhat + bias
 *   dxhat = dy * gain
 *   dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))   (batch stats)
 *   dx = invstd * dxhat                                            (fixed stats)
 *   dgain = sum(dy * xhat),  dbias = sum(dy)
 *
 * where the means run over the M rows (batchnorm: everything but the last
 * dim) or over the C features of a row (layernorm). Statistics accumulate in
 * double. The backward recomputes xhat from the input and the saved
 * per-channel (or per-row) mean and invstd instead of storing xhat.
 *
 * Layernorm can also end in a "tail", an activation then dropout
 * (lt_layernorm_act_dropout): the forward applies them to each span of
 * rows while it is still in cache, and the backward recomputes them (the
 * affine output from x, the mask from its key) for a span of rows before
 * that span's layernorm gradient. The kernels and their order are those
 * of lt_layernorm, lt_relu and lt_dropout, so the bits are the same as the
 * three ops'; only the passes over memory between them are gone. */
#include "core/opkit.h"
#include "kernels/threads.h"
#include "kernels/vdropout.h"
#include "kernels/vmath.h"
#include "kernels/vnorm.h"

#include <math.h>
#include <string.h>

/* What follows layernorm's affine output (lt_layernorm_act_dropout): an
 * activation, then dropout's mask (lib/ops/dropout.c), never stored. */
typedef struct ln_tail {
    lt_act act;
    bool dropout;
    lt_dropout_mask mask; /* kernels/vdropout.h */
} ln_tail;

/* Saved by the forward for the backward: mean and invstd per channel
 * (batchnorm) or per row (layernorm); batch_stats tells which dx formula;
 * tail is layernorm's (all zero: none). */
typedef struct norm_saved {
    float *mean, *invstd;
    bool batch_stats;
    ln_tail tail;
} norm_saved;

/* ---- argument checks shared by both ops --------------------------------------- */

/* x: F32 of rank >= min_rank; gain/bias: NULL or F32 of shape (C,) where C is
 * x's last size. Replaces each by a contiguous version. */
static bool norm_args(lt_ctx *ctx, const char *op, lt_tensor **x, lt_tensor **gain, lt_tensor **bias, int min_rank)
{
    if (!lt_check_args(ctx, op, 1, x))
        return false;
    if ((*x)->dtype != LT_F32)
        return lt_fail(ctx, LT_ERR_DTYPE, "%s: needs an f32 input, got %s", op, lt_dtype_name((*x)->dtype)), false;
    if ((*x)->ndim < min_rank)
        return lt_fail(ctx, LT_ERR_SHAPE, "%s: input %s: needs rank %d or more", op, LT_TENSOR_SHAPE(*x), min_rank),
               false;
    int64_t c = (*x)->shape[(*x)->ndim - 1];
    lt_tensor **affine[2] = {gain, bias};
    const char *what[2] = {"gain", "bias"};
    for (int i = 0; i < 2; i++) {
        lt_tensor *t = *affine[i];
        if (!t)
            continue;
        if (!lt_check_live(ctx, op, i + 2, t))
            return false;
        if (t->dtype != LT_F32 || t->ndim != 1 || t->shape[0] != c)
            return lt_fail(ctx, LT_ERR_SHAPE, "%s: %s %s does not fit %lld features", op, what[i], LT_TENSOR_SHAPE(t),
                           (long long)c),
                   false;
        if (!(*affine[i] = lt_contiguous(ctx, t)))
            return false;
    }
    return (*x = lt_contiguous(ctx, *x)) != NULL;
}

static const float *data_or_null(const lt_tensor *t) { return t ? lt_f32(t) : NULL; }

/* ---- batchnorm ------------------------------------------------------------------ */

/* Batchnorm's four loops over the (m, c) rows, split across the context's
 * threads: the per-channel sums (statistics forward, sum(dy) and
 * sum(dy * xhat) backward) by blocks of channels, each channel summed over
 * all rows in order; the elementwise passes (the affine output, dx) by rows.
 * Every element is computed the same way whatever block it falls in: the
 * same bits for any thread count. */
typedef struct bn_job {
    const float *x, *dy;             /* (m, c) */
    float *out;                      /* y or dx, (m, c) */
    const float *mean, *invstd;      /* (c,) */
    const float *k, *a, *b;          /* (c,) coefficients of the elementwise pass */
    double *s0, *s1;                 /* (c,) per-channel sums */
    int64_t m, c;
    bool fresh;
} bn_job;

/* Forward, channels [begin, end): mean in s0, biased variance in s1. */
static void bn_stats_cols(void *arg, int task, int64_t begin, int64_t end)
{
    (void)task;
    const bn_job *j = arg;
    lt_vcol_stats(j->x + begin, j->m, j->c, end - begin, j->s0 + begin, j->s1 + begin);
}

/* Forward, rows [begin, end): y = x * scale + shift (k: scale, a: shift). */
static void bn_affine_rows(void *arg, int task, int64_t begin, int64_t end)
{
    (void)task;
    const bn_job *j = arg;
    lt_vcol_affine(j->out + begin * j->c, j->x + begin * j->c, end - begin, j->c, j->c, j->k, j->a);
}

/* Backward, channels [begin, end): sum(dy) in s0, sum(dy * xhat) in s1. */
static void bn_sums_cols(void *arg, int task, int64_t begin, int64_t end)
{
    (void)task;
    const bn_job *j = arg;
    lt_vcol_bn_sums(j->x + begin, j->dy + begin, j->m, j->c, end - begin, j->mean + begin, j->invstd + begin,
                    j->s0 + begin, j->s1 + begin);
}

/* Backward, rows [begin, end): dx (+)= k * (dy - (a + xhat * b)). */
static void bn_dx_rows(void *arg, int task, int64_t begin, int64_t end)
{
    (void)task;
    const bn_job *j = arg;
    const int64_t o = begin * j->c;
    lt_vcol_bn_dx(j->out + o, j->x + o, j->dy + o, end - begin, j->c, j->c, j->mean, j->invstd, j->k, j->a, j->b,
                  j->fresh);
}

/* Per element (gemm flops, roughly): the statistics' two passes, the
 * affine pass, the backward's sums and its dx pass. */
#define WORK_BN_STATS 4.0
#define WORK_BN_AFFINE 2.0
#define WORK_BN_SUMS 6.0
#define WORK_BN_DX 6.0

static void batchnorm_backward(lt_ctx *ctx, lt_node *node)
{
    const lt_tensor *x = node->in[0];
    const norm_saved *s = node->saved;
    int64_t c = x->shape[x->ndim - 1], m = lt_numel(x) / c;
    const float *g = data_or_null(node->in[1]);
    bool fresh = false;
    float *dx = lt_input_grad_fresh(ctx, node, 0, &fresh), *dgain = lt_input_grad(ctx, node, 1),
          *dbias = lt_input_grad(ctx, node, 2);
    /* sum(dy) and sum(dy * xhat) per channel: they give dgain, dbias and dx */
    double *sdy = lt_arena_alloc(ctx, sizeof(double) * (size_t)c * 2);
    float *coef = lt_arena_alloc(ctx, sizeof(float) * (size_t)c * 3);
    if (!sdy || !coef || lt_status_of(ctx) != LT_OK)
        return;
    double *sdyx = sdy + c;
    bn_job j = {lt_f32(x), lt_output_grad(node), dx, s->mean, s->invstd, coef, s->batch_stats ? coef + c : NULL,
                coef + 2 * c, sdy, sdyx, m, c, fresh};
    lt_parallel_for(ctx, c, LT_BN_COLS, (double)m * (double)c * WORK_BN_SUMS, bn_sums_cols, &j);
    for (int64_t k = 0; k < c; k++) {
        if (dgain)
            dgain[k] += (float)sdyx[k];
        if (dbias)
            dbias[k] += (float)sdy[k];
    }
    if (!dx)
        return;
    /* dx = gain * invstd * (dy - (mean(dy) + xhat * mean(dy * xhat)))  (batch stats) */
    for (int64_t k = 0; k < c; k++) {
        coef[k] = (g ? g[k] : 1.0f) * s->invstd[k];
        coef[c + k] = (float)(sdy[k] / (double)m);
        coef[2 * c + k] = (float)(sdyx[k] / (double)m);
    }
    lt_parallel_for(ctx, m, 1, (double)m * (double)c * WORK_BN_DX, bn_dx_rows, &j);
}

static const lt_op batchnorm_op = {"batchnorm", batchnorm_backward, LT_SAVES_IN(0) | LT_SAVES_IN(1)};

/* Element j of a running statistic: a (C,) tensor, any stride. */
static float *running_at(lt_tensor *running, int64_t j) { return lt_f32(running) + j * running->stride[0]; }

/* running = (1 - momentum) * running + momentum * batch value, in place
 * (a new version: an op that saved it sees the change). */
static void update_running(lt_tensor *running, const double *value, double factor, float momentum)
{
    lt_bump(running);
    for (int64_t j = 0, c = lt_numel(running); j < c; j++) {
        float *r = running_at(running, j);
        *r = (1.0f - momentum) * *r + momentum * (float)(value[j] * factor);
    }
}

static bool running_ok(lt_ctx *ctx, lt_tensor *t, int argno, const char *what, int64_t c)
{
    if (!lt_check_live(ctx, "batchnorm", argno, t))
        return false;
    if (t->dtype != LT_F32 || t->ndim != 1 || t->shape[0] != c)
        return lt_fail(ctx, LT_ERR_SHAPE, "batchnorm: %s %s does not fit %lld features", what, LT_TENSOR_SHAPE(t),
                       (long long)c),
               false;
    return true;
}

lt_tensor *lt_batchnorm(lt_ctx *ctx, lt_tensor *x, lt_tensor *gain, lt_tensor *bias, lt_tensor *running_mean,
                        lt_tensor *running_var, bool training, float momentum, float eps)
{
    if (!norm_args(ctx, "batchnorm", &x, &gain, &bias, 2))
        return NULL;
    int64_t c = x->shape[x->ndim - 1], m = lt_numel(x) / c;
    if ((running_mean && !running_ok(ctx, running_mean, 4, "running_mean", c)) ||
        (running_var && !running_ok(ctx, running_var, 5, "running_var", c)))
        return NULL;
    if (!training && (!running_mean || !running_var))
        return lt_fail(ctx, LT_ERR_ARG, "batchnorm: evaluation mode needs running_mean and running_var");
    if (training && m < 2)
        return lt_fail(ctx, LT_ERR_SHAPE, "batchnorm: input %s: training needs more than 1 value per channel",
                       LT_TENSOR_SHAPE(x));
    if (!(eps >= 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f))
        return lt_fail(ctx, LT_ERR_ARG, "batchnorm: eps %g must be >= 0 and momentum %g in [0, 1]", (double)eps,
                       (double)momentum);
    lt_tensor *y = lt_alloc_temp(ctx, LT_F32, x->ndim, x->shape);
    norm_saved *s = lt_arena_alloc(ctx, sizeof *s);
    float *buf = lt_arena_alloc(ctx, sizeof(float) * (size_t)c * 4);
    double *stats = training ? lt_arena_alloc(ctx, sizeof(double) * (size_t)c * 2) : NULL;
    if (!y || !s || !buf || (training && !stats))
        return NULL;
    *s = (norm_saved){.mean = buf, .invstd = buf + c, .batch_stats = training}; /* no tail */
    bn_job j = {.x = lt_f32(x), .out = lt_f32(y), .k = buf + 2 * c, .a = buf + 3 * c, .s0 = stats,
                .s1 = stats ? stats + c : NULL, .m = m, .c = c};
    if (training) {
        lt_parallel_for(ctx, c, LT_BN_COLS, (double)m * (double)c * WORK_BN_STATS, bn_stats_cols, &j);
        for (int64_t k = 0; k < c; k++) {
            s->mean[k] = (float)stats[k];
            s->invstd[k] = (float)(1.0 / sqrt(stats[c + k] + eps));
        }
        /* as torch.nn.BatchNorm1d: the running variance is the unbiased one */
        if (running_mean)
            update_running(running_mean, stats, 1.0, momentum);
        if (running_var)
            update_running(running_var, stats + c, (double)m / (double)(m - 1), momentum);
    } else {
        for (int64_t k = 0; k < c; k++) {
            s->mean[k] = *running_at(running_mean, k);
            s->invstd[k] = (float)(1.0 / sqrt((double)*running_at(running_var, k) + eps));
        }
    }
    /* y = (x - mean) * invstd * gain + bias, folded into y = x * scale + shift */
    const float *gv = data_or_null(gain), *bv = data_or_null(bias);
    float *scale = buf + 2 * c, *shift = buf + 3 * c;
    for (int64_t k = 0; k < c; k++) {
        scale[k] = s->invstd[k] * (gv ? gv[k] : 1.0f);
        shift[k] = (bv ? bv[k] : 0.0f) - s->mean[k] * scale[k];
    }
    lt_parallel_for(ctx, m, 1, (double)m * (double)c * WORK_BN_AFFINE, bn_affine_rows, &j);
    return lt_op_end(ctx, &batchnorm_op, y, 3, (lt_tensor *const[]){x, gain, bias}, &(lt_node_data){.saved = s});
}

/* ---- layernorm ------------------------------------------------------------------ */

/* Rows the layernorm backward takes at once. Each row's two sums run in
 * double in the row's own order (as one row at a time would), so a lone row
 * waits on every add's latency; the sums of LN_ROWS rows are independent
 * chains the core runs side by side (lt_vln_sums). */
#define LN_ROWS LT_LN_SUM_ROWS

/* sd[q] = sum of dxhat, sdx[q] = sum of dxhat * xhat over row q < rows of
 * the block (xh, dh: rows of c), each in double and in order. */
static void ln_row_sums(const float *xh, const float *dh, int64_t c, int rows, double *sd, double *sdx)
{
    for (int q = 0; q < LN_ROWS; q++)
        sd[q] = sdx[q] = 0.0;
    if (rows == LN_ROWS) {
        lt_vln_sums(xh, dh, c, sd, sdx);
        return;
    }
    for (int q = 0; q < rows; q++)
        for (int64_t j = 0; j < c; j++) {
            sd[q] += dh[q * c + j];
            sdx[q] += dh[q * c + j] * xh[q * c + j];
        }
}

/* The layernorm backward's work, split across the context's threads: rows
 * [begin, end) per task for dx (every row's sums are its own); dgain and
 * dbias, which add up over the rows, go with the rows when there is one
 * task and in a second loop over blocks of columns otherwise, each column
 * summed over the rows in order: the same bits for any thread count. */
typedef struct ln_bwd_job {
    const float *x, *dy, *g, *b, *mean, *invstd;
    float *dx, *dgain, *dbias; /* dx NULL: not wanted */
    float *scratch;            /* per task: xhat, dxhat of a block of LN_ROWS rows (and the tail's blocks) */
    float *dz;                 /* the tail's gradient at the affine output, (rows, c), when params go by columns */
    const ln_tail *tail;
    int64_t c, rows;
    bool fresh, params_with_rows;
} ln_bwd_job;

static bool has_tail(const ln_tail *t) { return t->act != LT_ACT_NONE || t->dropout; }

/* The tail takes rows in spans of whole blocks (LN_ROWS, the forward's
 * LT_MOMENT_ROWS) of at least this many elements: narrow rows (a
 * transformer's 64) still make long vector loops, wide ones (2,048) stay
 * in cache. */
#define LN_TAIL_MIN 4096

static int64_t tail_span(int64_t c)
{
    int64_t rows = c > 0 ? (LN_TAIL_MIN + c - 1) / c : 1;
    return (rows + LN_ROWS - 1) / LN_ROWS * LN_ROWS;
}

/* Scratch floats per task of the backward: xhat and dxhat of a block of
 * LN_ROWS rows, and for a tail three of its spans (tail_grad). */
static int64_t bwd_scratch_floats(const ln_tail *t, int64_t c)
{
    return 2 * LN_ROWS * c + (has_tail(t) ? 3 * tail_span(c) * c : 0);
}

/* Row r of the affine output, y = (x - mu) * is * g + b (g, b: NULL for 1
 * and 0), the forward's and the tail backward's. */
static void ln_affine_row(float *yr, const float *xr, int64_t c, float mu, float is, const float *g, const float *b)
{
    if (g && b) /* the usual case */
        lt_vrow_affine(yr, xr, c, mu, is, g, b);
    else
        for (int64_t k = 0; k < c; k++)
            yr[k] = (xr[k] - mu) * is * (g ? g[k] : 1.0f) + (b ? b[k] : 0.0f);
}

/* The tail forward on n elements of the output, starting at flat index
 * first (a multiple of 4): lt_relu's then lt_dropout's kernel, in place. */
static void tail_forward(const ln_tail *t, float *y, int64_t n, int64_t first)
{
    if (t->act == LT_ACT_RELU)
        lt_vrelu(y, y, n);
    if (t->dropout)
        lt_vdropout(y, y, n, first, &t->mask, LT_MASK_SET);
}

/* The gradient at the affine output z of rows [r0, r0 + rows): dy back
 * through the mask (0 + dy * mask, dropout's backward into a fresh buffer)
 * and relu (0 where z <= 0, which is where relu(z) <= 0: relu's backward
 * from its output), written to out and returned. z and through are scratch
 * blocks. */
static const float *tail_grad(const ln_bwd_job *j, int64_t r0, int64_t rows, float *z, float *through, float *out)
{
    const int64_t c = j->c, n = rows * c;
    const ln_tail *t = j->tail;
    const float *d = j->dy + r0 * c;
    if (t->dropout) {
        float *dst = t->act == LT_ACT_RELU ? through : out;
        lt_vdropout(dst, d, n, r0 * c, &t->mask, LT_MASK_FRESH);
        d = dst;
    }
    if (t->act == LT_ACT_RELU) {
        for (int64_t q = 0; q < rows; q++)
            ln_affine_row(z + q * c, j->x + (r0 + q) * c, c, j->mean[r0 + q], j->invstd[r0 + q], j->g, j->b);
        lt_vrelu_grad(out, z, d, n, false);
        d = out;
    }
    return d;
}

/* ln_bwd_rows' work on rows [s0, s1), whose gradient at the affine output
 * starts at dys, by blocks of LN_ROWS rows. */
static void ln_bwd_block_rows(const ln_bwd_job *j, int64_t s0, int64_t s1, const float *dys, float *xh, float *dh,
                              float *dgain, float *dbias)
{
    const int64_t c = j->c;
    for (int64_t r0 = s0; r0 < s1; r0 += LN_ROWS) {
        int rows = s1 - r0 < LN_ROWS ? (int)(s1 - r0) : LN_ROWS;
        const float *dy = dys + (r0 - s0) * c;
        for (int q = 0; q < rows; q++) {
            int64_t r = r0 + q;
            /* xhat, dxhat, and the row's terms of dgain and dbias, in one pass */
            lt_vrow_ln_terms(xh + q * c, dh + q * c, dgain, dbias, j->x + r * c, dy + q * c, j->g, j->mean[r],
                             j->invstd[r], c);
        }
        if (!j->dx)
            continue;
        double sd[LN_ROWS], sdx[LN_ROWS];
        ln_row_sums(xh, dh, c, rows, sd, sdx);
        for (int q = 0; q < rows; q++)
            /* dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) */
            lt_vrow_ln_dx(j->dx + (r0 + q) * c, xh + q * c, dh + q * c, j->invstd[r0 + q], (float)(sd[q] / (double)c),
                          (float)(sdx[q] / (double)c), c, j->fresh);
    }
}

static void ln_bwd_rows(void *arg, int task, int64_t begin, int64_t end)
{
    const ln_bwd_job *j = arg;
    const int64_t c = j->c;
    const bool tail = has_tail(j->tail);
    const int64_t span = tail ? tail_span(c) : end - begin; /* rows per pass of the tail */
    float *xh = j->scratch + (size_t)task * (size_t)bwd_scratch_floats(j->tail, c), *dh = xh + LN_ROWS * c;
    float *dgain = j->params_with_rows ? j->dgain : NULL, *dbias = j->params_with_rows ? j->dbias : NULL;
    for (int64_t s0 = begin; s0 < end; s0 += span) {
        const int64_t s1 = end - s0 < span ? end : s0 + span;
        const float *dys = j->dy + s0 * c; /* the gradient at the affine output from row s0 */
        if (tail) { /* the column pass reads dz after this one: then it goes to j->dz */
            float *z = dh + LN_ROWS * c, *through = z + span * c;
            dys = tail_grad(j, s0, s1 - s0, z, through, j->dz ? j->dz + s0 * c : through + span * c);
        }
        ln_bwd_block_rows(j, s0, s1, dys, xh, dh, dgain, dbias);
    }
}

/* dgain[k] += sum over rows of dy * xhat, dbias[k] += sum of dy, for
 * columns k in [begin, end), rows in order (lt_vrow_ln_terms' operations). */
static void ln_bwd_columns(void *arg, int task, int64_t begin, int64_t end)
{
    (void)task;
    const ln_bwd_job *j = arg;
    const float *dy = j->dz ? j->dz : j->dy; /* the gradient at the affine output */
    lt_vcol_ln_params(j->dgain ? j->dgain + begin : NULL, j->dbias ? j->dbias + begin : NULL, j->x + begin,
                      dy + begin, j->rows, j->c, end - begin, j->mean, j->invstd);
}

/* Per element: xhat, dxhat, their sums and dx (a few passes over a row). */
#define WORK_LN_BACKWARD 12.0
#define WORK_LN_PARAMS 8.0
/* Per element of a tail, forward and backward: relu's compare, dropout's
 * hash and multiply (lib/ops/unary.c, dropout.c), the affine recomputed. */
#define WORK_TAIL_RELU 2.0
#define WORK_TAIL_DROPOUT 8.0
#define WORK_TAIL_AFFINE 2.0

static double tail_work(const ln_tail *t, bool backward)
{
    return (t->act == LT_ACT_RELU ? WORK_TAIL_RELU + (backward ? WORK_TAIL_AFFINE : 0.0) : 0.0) +
           (t->dropout ? WORK_TAIL_DROPOUT : 0.0);
}

static void layernorm_backward(lt_ctx *ctx, lt_node *node)
{
    const lt_tensor *x = node->in[0];
    const norm_saved *s = node->saved;
    int64_t c = x->shape[x->ndim - 1], m = c ? lt_numel(x) / c : 0;
    ln_bwd_job j = {lt_f32(x), lt_output_grad(node), data_or_null(node->in[1]), data_or_null(node->in[2]),
                    s->mean, s->invstd, NULL, NULL, NULL, NULL, NULL, &s->tail, c, m, false, true};
    j.dx = lt_input_grad_fresh(ctx, node, 0, &j.fresh);
    j.dgain = lt_input_grad(ctx, node, 1);
    j.dbias = lt_input_grad(ctx, node, 2);
    const bool tail = has_tail(&s->tail);
    int tasks = lt_par_tasks(ctx, m, LN_ROWS, (double)m * (double)c * (WORK_LN_BACKWARD + tail_work(&s->tail, true)));
    j.scratch = lt_arena_alloc(ctx, sizeof(float) * (size_t)(bwd_scratch_floats(&s->tail, c) * tasks + 1));
    if (!j.scratch || lt_status_of(ctx) != LT_OK)
        return;
    j.params_with_rows = tasks <= 1;
    bool params_by_columns = !j.params_with_rows && (j.dgain || j.dbias);
    /* the column pass needs the gradient at the affine output of every row */
    if (tail && params_by_columns && !(j.dz = lt_arena_alloc(ctx, sizeof(float) * (size_t)(m * c))))
        return;
    if (j.dx || j.params_with_rows || j.dz)
        lt_par_run(ctx, tasks, m, LN_ROWS, ln_bwd_rows, &j);
    if (params_by_columns)
        lt_parallel_for(ctx, c, 16, (double)m * (double)c * WORK_LN_PARAMS, ln_bwd_columns, &j);
}

static const lt_op layernorm_op = {"layernorm", layernorm_backward, LT_SAVES_IN(0) | LT_SAVES_IN(1)};
/* With relu the backward recomputes the affine output: it reads the bias too. */
static const lt_op ln_dropout_op = {"layernorm_act_dropout", layernorm_backward, LT_SAVES_IN(0) | LT_SAVES_IN(1)};
static const lt_op ln_relu_op = {"layernorm_act_dropout", layernorm_backward,
                                 LT_SAVES_IN(0) | LT_SAVES_IN(1) | LT_SAVES_IN(2)};

/* The forward's rows [begin, end) per task: each row is its own. */
typedef struct ln_fwd_job {
    const float *x, *g, *b;
    float *y, *mean, *invstd;
    const ln_tail *tail;
    int64_t c;
    float eps;
} ln_fwd_job;

static void ln_fwd_rows(void *arg, int task, int64_t begin, int64_t end)
{
    (void)task;
    const ln_fwd_job *j = arg;
    const int64_t c = j->c, span = tail_span(c);
    const float *g = j->g, *b = j->b;
    int64_t tail_from = begin; /* the first row the tail has not taken */
    for (int64_t r0 = begin; r0 < end; r0 += LT_MOMENT_ROWS) {
        const int rows = end - r0 < LT_MOMENT_ROWS ? (int)(end - r0) : LT_MOMENT_ROWS;
        const float *x0 = j->x + r0 * c;
        /* the moments' lanes are float partial sums, combined in double: each
         * lane sums at most c / LT_MOMENT_LANES terms, accurate enough for
         * rows of any width used here */
        double sum[LT_MOMENT_ROWS], sq[LT_MOMENT_ROWS];
        float *mu = j->mean + r0, *is = j->invstd + r0;
        lt_vrows_moment(x0, c, rows, c, NULL, 1, sum);
        for (int q = 0; q < rows; q++)
            mu[q] = (float)(sum[q] / (double)c);
        lt_vrows_moment(x0, c, rows, c, mu, 2, sq);
        for (int q = 0; q < rows; q++)
            is[q] = (float)(1.0 / sqrt(sq[q] / (double)c + j->eps));
        for (int q = 0; q < rows; q++)
            ln_affine_row(j->y + (r0 + q) * c, x0 + q * c, c, mu[q], is[q], g, b);
        if (r0 + rows - tail_from >= span || r0 + rows == end) { /* a span, while it is in cache */
            tail_forward(j->tail, j->y + tail_from * c, (r0 + rows - tail_from) * c, tail_from * c);
            tail_from = r0 + rows;
        }
    }
}

/* Per element: two sums and the affine pass. */
#define WORK_LN_FORWARD 8.0
/* Per row: the double combinations of the sums, a square root, a division
 * (a (512,64) layernorm, a transformer's, takes about 28 µs on one thread,
 * most of it per row, and 21-23 µs on two: bench/bench_ops). The backward
 * is not given this cost: split, it needs a second pass for the gain and
 * bias gradients, and at (512,64) forward + backward on two threads took
 * 68-70 µs split against 52-58 µs unsplit. */
#define WORK_LN_ROW 6000.0

/* Layernorm, then the tail (described by act, p, training and g, checked
 * here; the mask's key is drawn from g only when dropout applies, as
 * lt_dropout does). Errors are named after op. */
static lt_tensor *layernorm_tail(lt_ctx *ctx, const char *op, lt_tensor *x, lt_tensor *gain, lt_tensor *bias,
                                 float eps, lt_act act, float p, bool training, lt_rng *g)
{
    if (!norm_args(ctx, op, &x, &gain, &bias, 1))
        return NULL;
    if (!(eps >= 0.0f))
        return lt_fail(ctx, LT_ERR_ARG, "%s: eps %g must be >= 0", op, (double)eps);
    if (act != LT_ACT_NONE && act != LT_ACT_RELU)
        return lt_fail(ctx, LT_ERR_ARG, "%s: unknown activation %d", op, (int)act);
    if (!(p >= 0.0f && p <= 1.0f))
        return lt_fail(ctx, LT_ERR_ARG, "%s: dropout probability %g outside [0, 1]", op, (double)p);
    ln_tail tail = {.act = act, .dropout = training && p > 0.0f};
    if (tail.dropout && !g)
        return lt_fail(ctx, LT_ERR_ARG, "%s: training with dropout needs a generator (g is NULL)", op);
    int64_t c = x->shape[x->ndim - 1], m = c ? lt_numel(x) / c : 0;
    lt_tensor *y = lt_alloc_temp(ctx, LT_F32, x->ndim, x->shape);
    norm_saved *s = lt_arena_alloc(ctx, sizeof *s);
    float *buf = lt_arena_alloc(ctx, sizeof(float) * (size_t)(m ? m : 1) * 2);
    if (!y || !s || !buf)
        return NULL;
    if (tail.dropout)
        tail.mask = lt_dropout_mask_of(lt_rng_u64(g), p);
    *s = (norm_saved){buf, buf + m, false, tail};
    ln_fwd_job j = {lt_f32(x), data_or_null(gain), data_or_null(bias), lt_f32(y), s->mean, s->invstd, &s->tail,
                    c, eps};
    double work = (double)c * (WORK_LN_FORWARD + tail_work(&tail, false)) + WORK_LN_ROW;
    /* blocks of rows start at multiples of 4 elements, as dropout's mask needs */
    lt_parallel_for(ctx, m, LT_MOMENT_ROWS, (double)m * work, ln_fwd_rows, &j);
    const lt_op *kind = act == LT_ACT_RELU ? &ln_relu_op : tail.dropout ? &ln_dropout_op : &layernorm_op;
    return lt_op_end(ctx, kind, y, 3, (lt_tensor *const[]){x, gain, bias}, &(lt_node_data){.saved = s});
}

lt_tensor *lt_layernorm(lt_ctx *ctx, lt_tensor *x, lt_tensor *gain, lt_tensor *bias, float eps)
{
    return layernorm_tail(ctx, "layernorm", x, gain, bias, eps, LT_ACT_NONE, 0.0f, false, NULL);
}

lt_tensor *lt_layernorm_act_dropout(lt_ctx *ctx, lt_tensor *x, lt_tensor *gain, lt_tensor *bias, float eps,
                                    lt_act act, float p, bool training, lt_rng *g)
{
    return layernorm_tail(ctx, "layernorm_act_dropout", x, gain, bias, eps, act, p, training, g);
}
