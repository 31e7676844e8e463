/* softmax.c - softmax and log-softmax along any dim, and the fused mean
 * cross-entropy of logits against class targets (optionally skipping an
 * ignore index, over logits of any rank).
 *
 * All three subtract the maximum of each slice before exponentiating, so no
 * finite input overflows: exp() only ever sees values <= 0. Sums of
 * exponentials are accumulated in double. Contiguous rows (the last dim, and
 * every cross-entropy row) go through the vectorised float exp of vmath.h,
 * which forms x - shift exactly and is within 1 ulp.
 *
 * A tensor is treated as (outer, len, inner) around the reduced dim
 * (lt_split_around): slice (o, k) is the len elements at o*len*inner +
 * j*inner + k, j = 0..len-1. For the last dim inner is 1 and a slice is a
 * contiguous row. */
#include "core/opkit.h"
#include "kernels/threads.h"
#include "kernels/vmath.h"

#include <math.h>
#include <string.h>

/* The slices of t around dim; none at all for an empty tensor, whose
 * (2^20, 0, 2^20) split must not loop 2^40 times over empty slices. */
static lt_split slices_of(const lt_tensor *t, int dim)
{
    return lt_numel(t) == 0 ? (lt_split){0, 0, 0} : lt_split_around(t, dim);
}

/* Below this magnitude of the row maximum m, lse = m + log(s) holds log(s)
 * to within 2^-36 in double, so exp(x - lse) is an accurate softmax. Above
 * it (logits of 1e30: m + log 2 == m) the softmax is exp(x - m) / s. */
#define LSE_EXACT_MAX 0x1p16

/* y = softmax(x) or log_softmax(x) over one slice of n elements spaced by
 * step. */
static void softmax_slice(const float *x, float *y, int64_t n, int64_t step, bool log_form)
{
    float m = -INFINITY;
    for (int64_t j = 0; j < n; j++)
        m = x[j * step] > m ? x[j * step] : m;
    double s = 0;
    if (step == 1) /* a contiguous row: the vectorised kernel */
        s = lt_vexp_shift_sum(NULL, x, m, n);
    else
        for (int64_t j = 0; j < n; j++)
            s += exp((double)x[j * step] - m);
    if (log_form) {
        double lse = log(s);
        for (int64_t j = 0; j < n; j++)
            y[j * step] = (float)((double)x[j * step] - m - lse);
    } else if (step == 1 && fabs(m) < LSE_EXACT_MAX) {
        lt_vexp_shift_sum(y, x, m + log(s), n); /* y = exp(x - lse) */
    } else { /* also for huge logits: there m + log(s) would round log(s) away */
        for (int64_t j = 0; j < n; j++)
            y[j * step] = (float)(exp((double)x[j * step] - m) / s);
    }
}

/* Backward of one slice, from the saved output y and its gradient dy:
 *   softmax:     dx = y * (dy - sum_j dy_j y_j)
 *   log_softmax: dx = dy - exp(y) * sum_j dy_j */
static void softmax_slice_backward(const float *y, const float *dy, float *dx, int64_t n, int64_t step, bool log_form)
{
    double dot = 0;
    for (int64_t j = 0; j < n; j++)
        dot += log_form ? (double)dy[j * step] : (double)dy[j * step] * y[j * step];
    for (int64_t j = 0; j < n; j++) {
        int64_t i = j * step;
        if (log_form)
            dx[i] += (float)(dy[i] - exp((double)y[i]) * dot);
        else
            dx[i] += (float)(y[i] * (dy[i] - dot));
    }
}

static void softmax_any_backward(lt_ctx *ctx, lt_node *node, bool log_form)
{
    float *dx = lt_input_grad(ctx, node, 0); /* x is contiguous: dense */
    if (!dx)
        return;
    lt_split s = slices_of(node->out, (int)node->iparam[0]);
    const float *y = lt_f32(node->out), *dy = lt_output_grad(node);
    for (int64_t o = 0; o < s.outer; o++)
        for (int64_t k = 0; k < s.inner; k++) {
            int64_t base = o * s.len * s.inner + k;
            softmax_slice_backward(y + base, dy + base, dx + base, s.len, s.inner, log_form);
        }
}

static void softmax_backward(lt_ctx *ctx, lt_node *node) { softmax_any_backward(ctx, node, false); }
static void log_softmax_backward(lt_ctx *ctx, lt_node *node) { softmax_any_backward(ctx, node, true); }

static const lt_op softmax_op = {"softmax", softmax_backward, LT_SAVES_OUT};
static const lt_op log_softmax_op = {"log_softmax", log_softmax_backward, LT_SAVES_OUT};

/* Shared forward; a scalar is accepted with dim 0 or -1 (as in PyTorch). */
static lt_tensor *softmax_any(lt_ctx *ctx, lt_tensor *x, int dim, const lt_op *op, bool log_form)
{
    if (!lt_check_args(ctx, op->name, 1, &x))
        return NULL;
    if (x->dtype != LT_F32)
        return lt_fail(ctx, LT_ERR_DTYPE, "%s: needs an f32 tensor, got i32 %s", op->name, LT_TENSOR_SHAPE(x));
    int d = lt_resolve_dim(ctx, op->name, dim, x->ndim ? x->ndim : 1);
    if (d < 0)
        return NULL;
    lt_tensor *y = lt_unary_begin(ctx, op->name, &x);
    if (!y)
        return NULL;
    lt_split s = slices_of(x, d);
    const float *xv = lt_f32(x);
    float *yv = lt_f32(y);
    for (int64_t o = 0; o < s.outer; o++)
        for (int64_t k = 0; k < s.inner; k++) {
            int64_t base = o * s.len * s.inner + k;
            softmax_slice(xv + base, yv + base, s.len, s.inner, log_form);
        }
    return lt_op_end(ctx, op, y, 1, &x, &(lt_node_data){.i = {d}});
}

lt_tensor *lt_softmax(lt_ctx *ctx, lt_tensor *x, int dim) { return softmax_any(ctx, x, dim, &softmax_op, false); }

lt_tensor *lt_log_softmax(lt_ctx *ctx, lt_tensor *x, int dim)
{
    return softmax_any(ctx, x, dim, &log_softmax_op, true);
}

/* ---- cross-entropy ---------------------------------------------------------
 * Both forms are one fused op over rows of C logits: lt_cross_entropy over
 * (N,C) logits, lt_cross_entropy_ignore over (..., C) logits (any rank, the
 * classes last) skipping the targets equal to its ignore index. A skipped
 * row adds nothing to the loss, is not counted in the mean, and gets a zero
 * gradient; with no row counted the mean is 0/0 = NaN, as in PyTorch. */

/* The saved target of a skipped row (valid targets are 0..C-1). */
#define CE_IGNORED (-1)

/* What backward needs: the softmax of every counted row and the targets. */
typedef struct {
    float *probs;     /* (rows, C); a skipped row's is not set */
    int32_t *targets; /* (rows,), CE_IGNORED for a skipped row */
    int64_t rows, classes, counted;
} ce_saved;

/* loss = mean over counted rows i of (lse_i - x[i, t_i])
 *   =>  dx[i,j] = (p[i,j] - [j == t_i]) / counted * dy, 0 for skipped rows.
 * Off the target p - 0 is p (p >= 0 or NaN), so those elements are p * scale
 * in a loop without a test per element, and the target's own element
 * (p - 1) * scale: the bits of the one formula. */
static void ce_row_backward(float *restrict dx, const float *restrict p, int64_t c, int32_t target, float scale,
                            bool fresh)
{
    if (fresh) {
        for (int64_t j = 0; j < c; j++)
            dx[j] = p[j] * scale;
        dx[target] = (p[target] - 1.0f) * scale;
    } else {
        float d = dx[target];
        for (int64_t j = 0; j < c; j++)
            dx[j] += p[j] * scale;
        dx[target] = d + (p[target] - 1.0f) * scale;
    }
}

static void cross_entropy_backward(lt_ctx *ctx, lt_node *node)
{
    const ce_saved *s = node->saved;
    bool fresh = false;
    float *dlogits = s ? lt_input_grad_fresh(ctx, node, 0, &fresh) : NULL; /* contiguous: dense (rows, C) */
    if (!dlogits)
        return;
    int64_t n = s->rows, c = s->classes;
    float scale = lt_output_grad(node)[0] / (float)s->counted;
    for (int64_t i = 0; i < n; i++) {
        if (s->targets[i] != CE_IGNORED)
            ce_row_backward(dlogits + i * c, s->probs + i * c, c, s->targets[i], scale, fresh);
        else if (fresh) /* the row's gradient is 0 */
            memset(dlogits + i * c, 0, sizeof(float) * (size_t)c);
    }
}

/* the backward reads only its private copies (probabilities, targets) */
static const lt_op cross_entropy_op = {"cross_entropy", cross_entropy_backward, LT_SAVES_NONE};
static const lt_op cross_entropy_ignore_op = {"cross_entropy_ignore", cross_entropy_backward, LT_SAVES_NONE};

/* The dtypes every form needs: f32 logits, i32 targets. */
static bool check_ce_dtypes(lt_ctx *ctx, const char *op, const lt_tensor *logits, const lt_tensor *targets)
{
    if (logits->dtype != LT_F32)
        return lt_fail(ctx, LT_ERR_DTYPE, "%s: logits %s must be f32, got i32", op, LT_TENSOR_SHAPE(logits)), false;
    if (targets->dtype != LT_I32)
        return lt_fail(ctx, LT_ERR_DTYPE, "%s: targets %s must be i32 class indices, got f32", op,
                       LT_TENSOR_SHAPE(targets)),
               false;
    return true;
}

static bool check_ce_args(lt_ctx *ctx, const lt_tensor *logits, const lt_tensor *targets)
{
    if (!check_ce_dtypes(ctx, "cross_entropy", logits, targets))
        return false;
    if (logits->ndim != 2 || targets->ndim != 1 || logits->shape[0] != targets->shape[0])
        return lt_fail(ctx, LT_ERR_SHAPE,
                       "cross_entropy: logits %s and targets %s: expected logits (N,C) and targets (N,)",
                       LT_TENSOR_SHAPE(logits), LT_TENSOR_SHAPE(targets)),
               false;
    if (logits->shape[0] == 0)
        return lt_fail(ctx, LT_ERR_SHAPE, "cross_entropy: logits %s and targets %s: the batch is empty",
                       LT_TENSOR_SHAPE(logits), LT_TENSOR_SHAPE(targets)),
               false;
    return true;
}

/* (..., C) logits and (...) targets: the targets' shape is the logits'
 * without the last dim. */
static bool check_ce_ignore_args(lt_ctx *ctx, const lt_tensor *logits, const lt_tensor *targets)
{
    const char *op = "cross_entropy_ignore";
    if (!check_ce_dtypes(ctx, op, logits, targets))
        return false;
    if (logits->ndim == 0)
        return lt_fail(ctx, LT_ERR_SHAPE, "%s: logits () have no class dim (expected (..., C))", op), false;
    lt_shape rows = lt_shape_of(logits);
    rows.ndim--;
    if (!lt_shape_equal(rows, lt_shape_of(targets)))
        return lt_fail(ctx, LT_ERR_SHAPE, "%s: logits %s and targets %s: expected targets %s (the logits' shape without "
                       "the class dim)", op, LT_TENSOR_SHAPE(logits), LT_TENSOR_SHAPE(targets), LT_SHAPE_TEXT(rows)),
               false;
    return true;
}

/* "(1,2)": the position of flat element i of a tensor of shape s */
static char *position_text(lt_shape s, int64_t i, char *buf, size_t size)
{
    lt_shape at = s;
    for (int d = s.ndim - 1; d >= 0; d--) {
        at.d[d] = s.d[d] ? i % s.d[d] : 0;
        i = s.d[d] ? i / s.d[d] : 0;
    }
    return lt_shape_str(at, buf, size);
}

/* What a call of one of the two forms is. */
typedef struct {
    const lt_op *op;
    bool ignores;         /* skip targets equal to ignore_index */
    int32_t ignore_index;
} ce_form;

/* The error for target t at flat position i. */
static void *bad_target(lt_ctx *ctx, const ce_form *f, const lt_tensor *targets, int64_t i, int32_t t, int64_t classes)
{
    if (!f->ignores)
        return lt_fail(ctx, LT_ERR_INDEX, "cross_entropy: target %d out of range for %lld classes at row %lld", (int)t,
                       (long long)classes, (long long)i);
    char at[LT_SHAPE_STR_SIZE];
    return lt_fail(ctx, LT_ERR_INDEX, "%s: target %d at %s out of range for %lld classes (ignore_index %d)",
                   f->op->name, (int)t, position_text(lt_shape_of(targets), i, at, sizeof at), (long long)classes,
                   (int)f->ignore_index);
}

/* Reads the targets (any strides) into the arena and checks each class;
 * skipped rows become CE_IGNORED and *counted the number of the others.
 * The loop over targets in range is lt_cross_entropy's own: skipping costs
 * nothing when there is no ignore index or it is not a class. */
static int32_t *read_targets(lt_ctx *ctx, const ce_form *f, const lt_tensor *targets, int64_t classes,
                             int64_t *counted)
{
    int64_t n = lt_numel(targets);
    int32_t *t = lt_arena_alloc(ctx, sizeof(int32_t) * (size_t)(n ? n : 1));
    if (!t)
        return NULL;
    lt_copy_out_i32(targets, t);
    *counted = n;
    for (int64_t i = 0; i < n; i++)
        if (t[i] < 0 || t[i] >= classes) {
            if (f->ignores && t[i] == f->ignore_index) {
                t[i] = CE_IGNORED;
                --*counted;
            } else {
                return bad_target(ctx, f, targets, i, t[i], classes);
            }
        }
    if (f->ignores && f->ignore_index >= 0 && f->ignore_index < classes) /* an ignore index that is a class */
        for (int64_t i = 0; i < n; i++)
            if (t[i] == f->ignore_index) {
                t[i] = CE_IGNORED;
                --*counted;
            }
    return t;
}

/* max and log(sum(exp(x - max))) of one row, so lse = m + log_s */
static void row_lse(const float *x, int64_t c, double *m, double *log_s)
{
    float mx = x[0];
    for (int64_t j = 1; j < c; j++)
        mx = x[j] > mx ? x[j] : mx;
    double s = lt_vexp_shift_sum(NULL, x, mx, c);
    *m = mx;
    *log_s = log(s);
}

/* Rows of a cross-entropy forward, split across threads for large batches:
 * each counted row's log-sum-exp and loss term (0 for a skipped row). The
 * terms are summed afterwards, in row order, so the total does not depend on
 * the split. */
typedef struct {
    const float *x;
    const int32_t *t;
    double *max, *log_sum, *term; /* per row */
    int64_t c;
    bool skips; /* some row is CE_IGNORED */
} ce_rows;

static inline void ce_row(const ce_rows *r, int64_t i)
{
    double m, log_s;
    row_lse(r->x + i * r->c, r->c, &m, &log_s);
    r->max[i] = m;
    r->log_sum[i] = log_s;
    /* (m - x_t) first: exact when the target is the maximum, whatever the
     * magnitude of the logits */
    r->term[i] = (m - r->x[i * r->c + r->t[i]]) + log_s;
}

static void ce_rows_task(void *arg, int task, int64_t begin, int64_t end)
{
    (void)task;
    const ce_rows *r = arg;
    if (!r->skips) { /* every row counts: no test per row */
        for (int64_t i = begin; i < end; i++)
            ce_row(r, i);
        return;
    }
    for (int64_t i = begin; i < end; i++)
        if (r->t[i] == CE_IGNORED)
            r->term[i] = 0.0;
        else
            ce_row(r, i);
}

/* Fills saved probabilities of the counted rows: p[i,j] = exp(x[i,j] - lse_i),
 * or exp(x[i,j] - m_i) / s_i when m_i is too large for lse_i to hold log(s_i). */
static ce_saved *save_probs(lt_ctx *ctx, const float *x, const ce_rows *r, int32_t *targets, int64_t n, int64_t c,
                            int64_t counted)
{
    ce_saved *s = lt_arena_alloc(ctx, sizeof *s);
    float *p = lt_arena_alloc(ctx, sizeof(float) * (size_t)(n * c > 0 ? n * c : 1));
    if (!s || !p)
        return NULL;
    for (int64_t i = 0; i < n; i++)
        if (targets[i] == CE_IGNORED) {
            continue;
        } else if (fabs(r->max[i]) < LSE_EXACT_MAX) {
            lt_vexp_shift_sum(p + i * c, x + i * c, r->max[i] + r->log_sum[i], c);
        } else {
            double inv_s = exp(-r->log_sum[i]);
            for (int64_t j = 0; j < c; j++)
                p[i * c + j] = (float)(exp((double)x[i * c + j] - r->max[i]) * inv_s);
        }
    *s = (ce_saved){p, targets, n, c, counted};
    return s;
}

/* The fused op on checked arguments: rows of c logits (the last dim), one
 * target per row. */
static lt_tensor *cross_entropy_rows(lt_ctx *ctx, const ce_form *f, lt_tensor *logits, lt_tensor *targets)
{
    int64_t n = lt_numel(targets), c = logits->shape[logits->ndim - 1], counted;
    int32_t *t = read_targets(ctx, f, targets, c, &counted);
    double *rowbuf = t ? lt_arena_alloc(ctx, sizeof(double) * (size_t)(n ? 3 * n : 1)) : NULL; /* max, log_sum, term */
    if (!rowbuf || !(logits = lt_contiguous(ctx, logits)))
        return NULL;
    const float *x = lt_f32(logits);
    ce_rows rows = {x, t, rowbuf, rowbuf + n, rowbuf + 2 * n, c, counted < n};
    lt_parallel_for(ctx, n, 1, (double)n * ((double)c * LT_WORK_EXP + LT_WORK_ROW), ce_rows_task, &rows);
    double total = 0;
    for (int64_t i = 0; i < n; i++)
        total += rows.term[i];
    int64_t no_dims[1] = {0};
    lt_tensor *y = lt_alloc_temp(ctx, LT_F32, 0, no_dims);
    if (!y)
        return NULL;
    lt_f32(y)[0] = (float)(total / (double)counted); /* 0/0 = NaN when every row is skipped */
    lt_node_data data = {.saved = NULL};
    if (lt_needs_grad(ctx, 1, &logits) && !(data.saved = save_probs(ctx, x, &rows, t, n, c, counted)))
        return NULL;
    return lt_op_end(ctx, f->op, y, 1, &logits, &data);
}

/* (N,C) logits, (N,) targets -> () mean of -log_softmax(logits)[i, t_i] */
lt_tensor *lt_cross_entropy(lt_ctx *ctx, lt_tensor *logits, lt_tensor *targets)
{
    if (!lt_check_args(ctx, "cross_entropy", 2, (lt_tensor *const[]){logits, targets}) ||
        !check_ce_args(ctx, logits, targets))
        return NULL;
    return cross_entropy_rows(ctx, &(ce_form){&cross_entropy_op, false, 0}, logits, targets);
}

/* (..., C) logits, (...) targets -> () the same mean over the targets that
 * are not ignore_index */
lt_tensor *lt_cross_entropy_ignore(lt_ctx *ctx, lt_tensor *logits, lt_tensor *targets, int32_t ignore_index)
{
    if (!lt_check_args(ctx, "cross_entropy_ignore", 2, (lt_tensor *const[]){logits, targets}) ||
        !check_ce_ignore_args(ctx, logits, targets))
        return NULL;
    return cross_entropy_rows(ctx, &(ce_form){&cross_entropy_ignore_op, true, ignore_index}, logits, targets);
}
