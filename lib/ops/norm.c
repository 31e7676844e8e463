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
 * per-channel (or per-row) mean and invstd instead of storing xhat. */
#include "core/opkit.h"
#include "kernels/threads.h"
#include "kernels/vnorm.h"

#include <math.h>
#include <string.h>

/* Saved by the forward for the backward: mean and invstd per channel
 * (batchnorm) or per row (layernorm); batch_stats tells which dx formula. */
typedef struct norm_saved {
    float *mean, *invstd;
    bool batch_stats;
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
    *s = (norm_saved){buf, buf + c, training};
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
    const float *x, *dy, *g, *mean, *invstd;
    float *dx, *dgain, *dbias; /* dx NULL: not wanted */
    float *scratch;            /* per task: xhat, dxhat of a block of LN_ROWS rows */
    int64_t c, rows;
    bool fresh, params_with_rows;
} ln_bwd_job;

static void ln_bwd_rows(void *arg, int task, int64_t begin, int64_t end)
{
    const ln_bwd_job *j = arg;
    const int64_t c = j->c;
    float *xh = j->scratch + (size_t)task * 2 * LN_ROWS * c, *dh = xh + LN_ROWS * c;
    float *dgain = j->params_with_rows ? j->dgain : NULL, *dbias = j->params_with_rows ? j->dbias : NULL;
    for (int64_t r0 = begin; r0 < end; r0 += LN_ROWS) {
        int rows = end - r0 < LN_ROWS ? (int)(end - r0) : LN_ROWS;
        for (int q = 0; q < rows; q++) {
            int64_t r = r0 + q;
            /* xhat, dxhat, and the row's terms of dgain and dbias, in one pass */
            lt_vrow_ln_terms(xh + q * c, dh + q * c, dgain, dbias, j->x + r * c, j->dy + r * c, j->g, j->mean[r],
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

/* dgain[k] += sum over rows of dy * xhat, dbias[k] += sum of dy, for
 * columns k in [begin, end), rows in order (lt_vrow_ln_terms' operations). */
static void ln_bwd_columns(void *arg, int task, int64_t begin, int64_t end)
{
    (void)task;
    const ln_bwd_job *j = arg;
    lt_vcol_ln_params(j->dgain ? j->dgain + begin : NULL, j->dbias ? j->dbias + begin : NULL, j->x + begin,
                      j->dy + begin, j->rows, j->c, end - begin, j->mean, j->invstd);
}

/* Per element: xhat, dxhat, their sums and dx (a few passes over a row). */
#define WORK_LN_BACKWARD 12.0
#define WORK_LN_PARAMS 8.0

static void layernorm_backward(lt_ctx *ctx, lt_node *node)
{
    const lt_tensor *x = node->in[0];
    const norm_saved *s = node->saved;
    int64_t c = x->shape[x->ndim - 1], m = c ? lt_numel(x) / c : 0;
    ln_bwd_job j = {lt_f32(x), lt_output_grad(node), data_or_null(node->in[1]), s->mean, s->invstd,
                    NULL, NULL, NULL, NULL, c, m, false, true};
    j.dx = lt_input_grad_fresh(ctx, node, 0, &j.fresh);
    j.dgain = lt_input_grad(ctx, node, 1);
    j.dbias = lt_input_grad(ctx, node, 2);
    int tasks = lt_par_tasks(ctx, m, LN_ROWS, (double)m * (double)c * WORK_LN_BACKWARD);
    j.scratch = lt_arena_alloc(ctx, sizeof(float) * (size_t)(2 * LN_ROWS * c * tasks + 1));
    if (!j.scratch || lt_status_of(ctx) != LT_OK)
        return;
    j.params_with_rows = tasks <= 1;
    if (j.dx || j.params_with_rows)
        lt_par_run(ctx, tasks, m, LN_ROWS, ln_bwd_rows, &j);
    if (!j.params_with_rows && (j.dgain || j.dbias))
        lt_parallel_for(ctx, c, 16, (double)m * (double)c * WORK_LN_PARAMS, ln_bwd_columns, &j);
}

static const lt_op layernorm_op = {"layernorm", layernorm_backward, LT_SAVES_IN(0) | LT_SAVES_IN(1)};

/* The forward's rows [begin, end) per task: each row is its own. */
typedef struct ln_fwd_job {
    const float *x, *g, *b;
    float *y, *mean, *invstd;
    int64_t c;
    float eps;
} ln_fwd_job;

static void ln_fwd_rows(void *arg, int task, int64_t begin, int64_t end)
{
    (void)task;
    const ln_fwd_job *j = arg;
    const int64_t c = j->c;
    const float *g = j->g, *b = j->b;
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
        for (int q = 0; q < rows; q++) {
            const float *xr = x0 + q * c;
            float *yr = j->y + (r0 + q) * c;
            if (g && b) /* the usual case */
                lt_vrow_affine(yr, xr, c, mu[q], is[q], g, b);
            else
                for (int64_t k = 0; k < c; k++)
                    yr[k] = (xr[k] - mu[q]) * is[q] * (g ? g[k] : 1.0f) + (b ? b[k] : 0.0f);
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

lt_tensor *lt_layernorm(lt_ctx *ctx, lt_tensor *x, lt_tensor *gain, lt_tensor *bias, float eps)
{
    if (!norm_args(ctx, "layernorm", &x, &gain, &bias, 1))
        return NULL;
    if (!(eps >= 0.0f))
        return lt_fail(ctx, LT_ERR_ARG, "layernorm: eps %g must be >= 0", (double)eps);
    int64_t c = x->shape[x->ndim - 1], m = c ? lt_numel(x) / c : 0;
    lt_tensor *y = lt_alloc_temp(ctx, LT_F32, x->ndim, x->shape);
    norm_saved *s = lt_arena_alloc(ctx, sizeof *s);
    float *buf = lt_arena_alloc(ctx, sizeof(float) * (size_t)(m ? m : 1) * 2);
    if (!y || !s || !buf)
        return NULL;
    *s = (norm_saved){buf, buf + m, false};
    ln_fwd_job j = {lt_f32(x), data_or_null(gain), data_or_null(bias), lt_f32(y), s->mean, s->invstd, c, eps};
    lt_parallel_for(ctx, m, 1, (double)m * ((double)c * WORK_LN_FORWARD + WORK_LN_ROW), ln_fwd_rows, &j);
    return lt_op_end(ctx, &layernorm_op, y, 3, (lt_tensor *const[]){x, gain, bias}, &(lt_node_data){.saved = s});
}
