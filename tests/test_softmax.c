/* test_softmax.c - lt_softmax, lt_log_softmax, lt_cross_entropy and
 * lt_cross_entropy_ignore: hand values, PyTorch 1.13 golden values
 * (tests/data/golden_softmax.h, made by tools/golden_softmax.py), stability
 * at extreme logits, gradchecks along every dim and on strided inputs,
 * thread-count independence, error paths. */
#include "test_support.h"

#include <math.h>
#include <string.h>

#include "data/golden_softmax.h"

/* golden comparisons: float kernels vs PyTorch's float kernels */
#define GOLDEN_ATOL 1e-6
#define GOLDEN_RTOL 1e-5

/* ---- softmax / log_softmax ------------------------------------------------ */

/* x = log(1), log(2), log(3): softmax is 1/6, 2/6, 3/6. */
static void test_softmax_hand_values(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    float l2 = logf(2), l3 = logf(3);
    lt_tensor *x = lt_from_f32(ctx, LT_SHAPE(2, 3), (float[]){0, l2, l3, 5, 5, 5});
    lt_tensor *p = lt_softmax(ctx, x, 1);
    ts_assert_shape(p, LT_SHAPE(2, 3));
    ts_assert_near(p, (float[]){1 / 6.f, 2 / 6.f, 3 / 6.f, 1 / 3.f, 1 / 3.f, 1 / 3.f}, 6, 1e-7, 1e-6);
    lt_tensor *lp = lt_log_softmax(ctx, x, -1);
    float l6 = logf(6);
    ts_assert_near(lp, (float[]){-l6, l2 - l6, l3 - l6, -logf(3), -logf(3), -logf(3)}, 6, 1e-6, 1e-6);
    /* along dim 0: columns (0,5), (l2,5), (l3,5) */
    lt_tensor *p0 = lt_softmax(ctx, x, 0);
    float e = 1.0f / (1.0f + expf(5.0f));
    ts_assert_near(p0, (float[]){e, 1 / (1 + expf(5 - l2)), 1 / (1 + expf(5 - l3)), 1 - e,
                                 1 - 1 / (1 + expf(5 - l2)), 1 - 1 / (1 + expf(5 - l3))},
                   6, 1e-7, 1e-5);
    /* a scalar: softmax 1, log_softmax 0 */
    lt_tensor *s = lt_full(ctx, LT_SHAPE0, 3.5f);
    ts_assert_near(lt_softmax(ctx, s, 0), (float[]){1}, 1, 0, 0);
    ts_assert_near(lt_log_softmax(ctx, s, -1), (float[]){0}, 1, 0, 0);
    assert_int_equal(lt_status_of(ctx), LT_OK);
    lt_ctx_free(ctx);
}

static const float *golden_y(int log_form, int dim)
{
    static const float *const y[2][3] = {
        {golden_softmax_d0_y, golden_softmax_d1_y, golden_softmax_d2_y},
        {golden_log_softmax_d0_y, golden_log_softmax_d1_y, golden_log_softmax_d2_y},
    };
    return y[log_form][dim];
}

static const float *golden_dx(int log_form, int dim)
{
    static const float *const dx[2][3] = {
        {golden_softmax_d0_dx, golden_softmax_d1_dx, golden_softmax_d2_dx},
        {golden_log_softmax_d0_dx, golden_log_softmax_d1_dx, golden_log_softmax_d2_dx},
    };
    return dx[log_form][dim];
}

/* Forward and backward (upstream G) of a (3,4,5) tensor along each dim, in
 * both the positive and the negative spelling of the dim. */
static void test_softmax_golden(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_new_from(ctx, LT_F32, LT_SHAPE(3, 4, 5), golden_sm_x);
    lt_requires_grad(ctx, x, true);
    for (int log_form = 0; log_form < 2; log_form++)
        for (int dim = 0; dim < 3; dim++)
            for (int neg = 0; neg < 2; neg++) {
                lt_ctx_reset(ctx);
                lt_zero_grad(x);
                int d = neg ? dim - 3 : dim;
                lt_tensor *y = log_form ? lt_log_softmax(ctx, x, d) : lt_softmax(ctx, x, d);
                ts_assert_shape(y, LT_SHAPE(3, 4, 5));
                ts_assert_near(y, golden_y(log_form, dim), 60, GOLDEN_ATOL, GOLDEN_RTOL);
                assert_true(lt_backward_grad(ctx, y, lt_from_f32(ctx, LT_SHAPE(3, 4, 5), golden_sm_g)));
                ts_assert_near(lt_grad(ctx, x), golden_dx(log_form, dim), 60, 1e-5, 1e-4);
            }
    lt_ctx_free(ctx);
}

/* Subtracting the max: huge logits give exact, finite probabilities. */
static void test_softmax_extreme(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_from_f32(ctx, LT_SHAPE(1, 4), (float[]){1e4f, 1e4f, -1e4f, 1e4f - 1.0f});
    lt_tensor *p = lt_softmax(ctx, x, 1);
    double z = 2 + exp(-1.0);
    ts_assert_near(p, (float[]){(float)(1 / z), (float)(1 / z), 0, (float)(exp(-1.0) / z)}, 4, 1e-7, 1e-6);
    lt_tensor *lp = lt_log_softmax(ctx, x, 1);
    ts_assert_near(lp, (float[]){(float)-log(z), (float)-log(z), (float)(-2e4 - log(z)), (float)(-1 - log(z))}, 4,
                   1e-6, 1e-6);
    lt_tensor *n = lt_from_f32(ctx, LT_SHAPE(3), (float[]){-1e4f, -1e4f, -1e4f});
    ts_assert_near(lt_softmax(ctx, n, 0), (float[]){1 / 3.f, 1 / 3.f, 1 / 3.f}, 3, 1e-7, 1e-6);
    lt_ctx_free(ctx);
}

typedef struct {
    int dim;
    int log_form;
    int transposed; /* take the input as a transposed view */
} sm_case;

static lt_tensor *softmax_fn(lt_ctx *ctx, lt_tensor **in, void *user)
{
    const sm_case *c = user;
    lt_tensor *x = c->transposed ? lt_transpose(ctx, in[0], 0, -1) : in[0];
    return c->log_form ? lt_log_softmax(ctx, x, c->dim) : lt_softmax(ctx, x, c->dim);
}

static void test_softmax_gradcheck(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(3, 4, 5), 21, -2, 2), true);
    for (int log_form = 0; log_form < 2; log_form++) {
        /* dim 0, a middle dim, the last dim (negative), each also on a
         * transposed (non-contiguous) view of the parameter */
        int dims[3] = {0, 1, -1};
        for (int k = 0; k < 3; k++)
            for (int tr = 0; tr < 2; tr++) {
                sm_case c = {dims[k], log_form, tr};
                ts_gradcheck(softmax_fn, &x, 1, &c, 1e-2, 2e-3, 1e-2);
            }
    }
    lt_ctx_free(ctx);
}

static void test_softmax_noncontiguous_forward(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *base = ts_random(ctx, LT_SHAPE(4, 6), 5, -3, 3);
    lt_tensor *v = lt_narrow(ctx, lt_transpose(ctx, base, 0, 1), 0, 1, 4); /* (4,4) strided */
    lt_tensor *vd = lt_clone(ctx, v);
    for (int dim = 0; dim < 2; dim++) {
        ts_assert_tensors_near(lt_softmax(ctx, v, dim), lt_softmax(ctx, vd, dim), 0);
        ts_assert_tensors_near(lt_log_softmax(ctx, v, dim), lt_log_softmax(ctx, vd, dim), 0);
    }
    /* each row of the softmax sums to 1 */
    lt_tensor *p = lt_softmax(ctx, v, 1);
    for (int r = 0; r < 4; r++) {
        double s = 0;
        for (int j = 0; j < 4; j++)
            s += lt_get_f32(p, r * 4 + j);
        assert_float_equal(s, 1.0, 1e-6);
    }
    lt_ctx_free(ctx);
}

static void test_softmax_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_zeros(ctx, LT_F32, LT_SHAPE(2, 3));
    assert_null(lt_softmax(ctx, NULL, 0));
    ts_assert_error(ctx, LT_ERR_ARG, "softmax", "argument 1 is NULL", NULL);
    assert_null(lt_log_softmax(ctx, NULL, 0));
    ts_assert_error(ctx, LT_ERR_ARG, "log_softmax", "argument 1 is NULL", NULL);
    assert_null(lt_softmax(ctx, lt_zeros(ctx, LT_I32, LT_SHAPE(2, 3)), 1));
    ts_assert_error(ctx, LT_ERR_DTYPE, "softmax", "i32", "(2,3)", NULL);
    assert_null(lt_log_softmax(ctx, lt_zeros(ctx, LT_I32, LT_SHAPE(4)), 0));
    ts_assert_error(ctx, LT_ERR_DTYPE, "log_softmax", "i32", NULL);
    assert_null(lt_softmax(ctx, x, 2));
    ts_assert_error(ctx, LT_ERR_INDEX, "softmax", "dim 2", "rank 2", NULL);
    assert_null(lt_log_softmax(ctx, x, -3));
    ts_assert_error(ctx, LT_ERR_INDEX, "log_softmax", "dim -3", NULL);
    assert_null(lt_softmax(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE0), 1));
    ts_assert_error(ctx, LT_ERR_INDEX, "softmax", "dim 1", NULL);
    /* sticky */
    assert_null(lt_softmax(ctx, x, 5));
    assert_null(lt_softmax(ctx, x, 1));
    assert_null(lt_log_softmax(ctx, x, 1));
    ts_assert_error(ctx, LT_ERR_INDEX, "softmax", "dim 5", NULL);
    assert_non_null(lt_softmax(ctx, x, 1));
    lt_ctx_free(ctx);
}

/* ---- cross-entropy ----------------------------------------------------------- */

static void test_cross_entropy_hand_values(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    float l2 = logf(2), l3 = logf(3);
    /* row 0: p = (1,2,3)/6, target 2 -> log 2; row 1: uniform, target 0 -> log 3 */
    lt_tensor *x = lt_new_from(ctx, LT_F32, LT_SHAPE(2, 3), (float[]){0, l2, l3, 7, 7, 7});
    lt_requires_grad(ctx, x, true);
    lt_tensor *t = lt_from_i32(ctx, LT_SHAPE(2), (int32_t[]){2, 0});
    lt_tensor *loss = lt_cross_entropy(ctx, x, t);
    ts_assert_shape(loss, LT_SHAPE0);
    assert_float_equal(lt_item(ctx, loss), (l2 + l3) / 2, 1e-6);
    assert_true(lt_backward(ctx, loss));
    /* (softmax - onehot) / N */
    ts_assert_near(lt_grad(ctx, x),
                   (float[]){1 / 12.f, 2 / 12.f, (3 / 6.f - 1) / 2, (1 / 3.f - 1) / 2, 1 / 6.f, 1 / 6.f}, 6, 1e-7,
                   1e-6);
    lt_ctx_free(ctx);
}

static void test_cross_entropy_golden(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(8, 27), golden_ce_logits), true);
    lt_tensor *t = lt_from_i32(ctx, LT_SHAPE(8), golden_ce_targets);
    lt_tensor *loss = lt_cross_entropy(ctx, x, t);
    assert_float_equal(lt_item(ctx, loss), golden_ce_loss, 1e-6 * golden_ce_loss);
    assert_true(lt_backward(ctx, loss));
    ts_assert_near(lt_grad(ctx, x), golden_ce_dlogits, 216, 1e-7, 1e-5);
    lt_ctx_free(ctx);
}

/* The notebook's first loss: seeded MLP logits (32,27) on the five names. */
static void test_cross_entropy_golden_notebook(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(32, 27), golden_nb_logits), true);
    lt_tensor *y = lt_from_i32(ctx, LT_SHAPE(32), golden_nb_y);
    lt_tensor *loss = lt_cross_entropy(ctx, x, y);
    assert_float_equal(lt_item(ctx, loss), golden_nb_loss, 1e-6 * golden_nb_loss);
    assert_true(lt_backward(ctx, loss));
    ts_assert_near(lt_grad(ctx, x), golden_nb_dlogits, 864, 1e-7, 1e-5);
    /* log_softmax agrees with the fused loss: mean of -logp[i, y_i] */
    lt_tensor *lp = lt_log_softmax(ctx, x, 1);
    double s = 0;
    for (int i = 0; i < 32; i++)
        s -= lt_get_f32(lp, i * 27 + golden_nb_y[i]);
    assert_float_equal(s / 32, golden_nb_loss, 1e-5 * golden_nb_loss);
    lt_ctx_free(ctx);
}

/* Logits of +-1e4: exact loss, finite gradients. */
static void test_cross_entropy_extreme(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(1, 2), (float[]){1e4f, -1e4f}), true);
    assert_float_equal(lt_item(ctx, lt_cross_entropy(ctx, x, lt_from_i32(ctx, LT_SHAPE(1), (int32_t[]){0}))), 0.0f,
                       0);
    lt_tensor *loss = lt_cross_entropy(ctx, x, lt_from_i32(ctx, LT_SHAPE(1), (int32_t[]){1}));
    assert_float_equal(lt_item(ctx, loss), 2e4f, 0);
    assert_true(lt_backward(ctx, loss));
    ts_assert_near(lt_grad(ctx, x), (float[]){1, -1}, 2, 0, 0);
    /* a bigger batch of extreme logits: everything finite */
    lt_ctx_reset(ctx);
    lt_tensor *big = lt_requires_grad(ctx, lt_new(ctx, LT_F32, LT_SHAPE(4, 27)), true);
    ts_rand r = ts_rand_new(99);
    for (int i = 0; i < 4 * 27; i++)
        lt_data_f32(big)[i] = ts_uniform(&r, 0, 1) < 0.5 ? -1e4f : 1e4f;
    lt_tensor *bl = lt_cross_entropy(ctx, big, lt_from_i32(ctx, LT_SHAPE(4), (int32_t[]){0, 5, 13, 26}));
    assert_true(isfinite(lt_item(ctx, bl)));
    assert_true(lt_backward(ctx, bl));
    double gsum = 0;
    for (int i = 0; i < 4 * 27; i++) {
        assert_true(isfinite(lt_grad_get(big, i)));
        gsum += lt_grad_get(big, i);
    }
    assert_float_equal(gsum, 0.0, 1e-5); /* each row of softmax - onehot sums to 0 */
    lt_ctx_free(ctx);
}

/* The upstream gradient scales dlogits (loss used inside a bigger graph). */
static void test_cross_entropy_upstream_scale(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(8, 27), golden_ce_logits), true);
    lt_tensor *loss = lt_cross_entropy(ctx, x, lt_from_i32(ctx, LT_SHAPE(8), golden_ce_targets));
    assert_true(lt_backward_grad(ctx, loss, lt_full(ctx, LT_SHAPE0, -2.5f)));
    float want[216];
    for (int i = 0; i < 216; i++)
        want[i] = -2.5f * golden_ce_dlogits[i];
    ts_assert_near(lt_grad(ctx, x), want, 216, 1e-6, 1e-5);
    lt_ctx_free(ctx);
}

/* Two cross-entropies of the same logits: the second backward adds into the
 * gradient the first wrote, element for element the same terms, so the sum
 * is exactly twice the single gradient (the written and the accumulating
 * paths agree to the bit, the target's element included). */
static void test_cross_entropy_accumulates(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(8, 27), golden_ce_logits), true);
    lt_tensor *t = lt_from_i32(ctx, LT_SHAPE(8), golden_ce_targets);
    assert_true(lt_backward(ctx, lt_cross_entropy(ctx, x, t)));
    float once[216];
    memcpy(once, lt_grad_f32(x), sizeof once);
    lt_ctx_reset(ctx); /* a new tape; x is persistent */
    lt_zero_grad(x);
    t = lt_from_i32(ctx, LT_SHAPE(8), golden_ce_targets);
    lt_tensor *sum = lt_add(ctx, lt_cross_entropy(ctx, x, t), lt_cross_entropy(ctx, x, t));
    assert_true(lt_backward(ctx, sum));
    const float *twice = lt_grad_f32(x);
    for (int i = 0; i < 216; i++) {
        float want = 2.0f * once[i];
        assert_memory_equal(&twice[i], &want, sizeof want);
    }
    assert_true(once[golden_ce_targets[0]] < 0.0f); /* the target's element: p - 1 */
    lt_ctx_free(ctx);
}

typedef struct {
    const int32_t *targets;
    int transposed; /* logits as a transposed view of a (C,N) parameter */
} ce_case;

static lt_tensor *ce_fn(lt_ctx *ctx, lt_tensor **in, void *user)
{
    const ce_case *c = user;
    lt_tensor *x = c->transposed ? lt_transpose(ctx, in[0], 0, 1) : in[0];
    /* targets as a strided view: every other element of a longer tensor */
    lt_tensor *tb = lt_from_i32(ctx, LT_SHAPE(6, 2), c->targets);
    return lt_cross_entropy(ctx, x, lt_select(ctx, tb, 1, 0));
}

static void test_cross_entropy_gradcheck(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    int32_t tg[12] = {3, -7, 0, -7, 4, -7, 4, -7, 1, -7, 2, -7}; /* -7: never read */
    lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(6, 5), 31, -3, 3), true);
    ce_case c = {tg, 0};
    ts_gradcheck(ce_fn, &x, 1, &c, 1e-2, 1e-3, 1e-2);
    lt_tensor *xt = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(5, 6), 32, -3, 3), true);
    ce_case ct = {tg, 1};
    ts_gradcheck(ce_fn, &xt, 1, &ct, 1e-2, 1e-3, 1e-2);
    lt_ctx_free(ctx);
}

/* grad mode off: no node, the loss is still computed */
static void test_cross_entropy_no_grad(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(8, 27), golden_ce_logits), true);
    lt_set_grad_enabled(ctx, false);
    lt_tensor *loss = lt_cross_entropy(ctx, x, lt_from_i32(ctx, LT_SHAPE(8), golden_ce_targets));
    assert_float_equal(lt_item(ctx, loss), golden_ce_loss, 1e-6 * golden_ce_loss);
    assert_false(loss->requires_grad);
    assert_int_equal(lt_tape_size(ctx), 0);
    lt_ctx_free(ctx);
}

static void test_cross_entropy_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_zeros(ctx, LT_F32, LT_SHAPE(32, 27));
    lt_tensor *y = lt_zeros(ctx, LT_I32, LT_SHAPE(32));
    assert_null(lt_cross_entropy(ctx, NULL, y));
    ts_assert_error(ctx, LT_ERR_ARG, "cross_entropy", "argument 1 is NULL", NULL);
    assert_null(lt_cross_entropy(ctx, x, NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "cross_entropy", "argument 2 is NULL", NULL);
    assert_null(lt_cross_entropy(ctx, lt_zeros(ctx, LT_I32, LT_SHAPE(32, 27)), y));
    ts_assert_error(ctx, LT_ERR_DTYPE, "cross_entropy", "logits", "f32", NULL);
    assert_null(lt_cross_entropy(ctx, x, lt_zeros(ctx, LT_F32, LT_SHAPE(32))));
    ts_assert_error(ctx, LT_ERR_DTYPE, "cross_entropy", "targets", "i32", NULL);
    assert_null(lt_cross_entropy(ctx, x, lt_zeros(ctx, LT_I32, LT_SHAPE(31))));
    ts_assert_error(ctx, LT_ERR_SHAPE, "cross_entropy: logits (32,27) and targets (31)", NULL);
    assert_null(lt_cross_entropy(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(27)), y));
    ts_assert_error(ctx, LT_ERR_SHAPE, "cross_entropy", "logits (27)", NULL);
    assert_null(lt_cross_entropy(ctx, x, lt_zeros(ctx, LT_I32, LT_SHAPE(32, 1))));
    ts_assert_error(ctx, LT_ERR_SHAPE, "cross_entropy", "targets (32,1)", NULL);
    assert_null(lt_cross_entropy(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(0, 27)), lt_zeros(ctx, LT_I32, LT_SHAPE(0))));
    ts_assert_error(ctx, LT_ERR_SHAPE, "cross_entropy", "empty", NULL);
    lt_set_i32(y, 5, 27);
    lt_set_i32(y, 9, 40);
    assert_null(lt_cross_entropy(ctx, x, y));
    ts_assert_error(ctx, LT_ERR_INDEX, "cross_entropy: target 27 out of range for 27 classes at row 5", NULL);
    lt_set_i32(y, 5, 0);
    lt_set_i32(y, 9, -1);
    assert_null(lt_cross_entropy(ctx, x, y));
    ts_assert_error(ctx, LT_ERR_INDEX, "target -1", "row 9", NULL);
    lt_set_i32(y, 9, 0);
    assert_int_equal(lt_tape_size(ctx), 0);
    /* sticky */
    assert_null(lt_cross_entropy(ctx, x, lt_zeros(ctx, LT_I32, LT_SHAPE(3))));
    assert_null(lt_cross_entropy(ctx, x, y));
    ts_assert_error(ctx, LT_ERR_SHAPE, "cross_entropy", "(3)", NULL);
    assert_float_equal(lt_item(ctx, lt_cross_entropy(ctx, x, y)), logf(27), 1e-6);
    lt_ctx_free(ctx);
}

/* ---- cross-entropy with an ignore index -------------------------------------- */

/* makemore's loss: (B,T,V) logits, targets ending in runs of -1 */
static void test_cross_entropy_ignore_golden(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(4, 5, 27), golden_cei_logits), true);
    lt_tensor *t = lt_from_i32(ctx, LT_SHAPE(4, 5), golden_cei_targets);
    lt_tensor *loss = lt_cross_entropy_ignore(ctx, x, t, -1);
    ts_assert_shape(loss, LT_SHAPE0);
    ts_assert_value("loss", lt_item(ctx, loss), golden_cei_loss, 0, 1e-6);
    assert_true(lt_backward(ctx, loss));
    ts_assert_near(lt_grad(ctx, x), golden_cei_dlogits, 4 * 5 * 27, 1e-7, 1e-5);
    for (int i = 0; i < 20; i++) /* a skipped position's gradient is exactly 0 */
        for (int j = 0; golden_cei_targets[i] == -1 && j < 27; j++)
            assert_true(lt_grad_get(x, i * 27 + j) == 0.0f);
    /* an ignore index inside the class range */
    lt_ctx_reset(ctx);
    lt_tensor *x3 = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(6, 5), golden_cei3_logits), true);
    loss = lt_cross_entropy_ignore(ctx, x3, lt_from_i32(ctx, LT_SHAPE(6), golden_cei3_targets), 3);
    ts_assert_value("loss", lt_item(ctx, loss), golden_cei3_loss, 0, 1e-6);
    assert_true(lt_backward(ctx, loss));
    ts_assert_near(lt_grad(ctx, x3), golden_cei3_dlogits, 30, 1e-7, 1e-5);
    lt_ctx_free(ctx);
}

/* Skipping rows is the same as leaving them out: loss and gradient equal, to
 * the bit, those of lt_cross_entropy over the kept rows; with nothing to skip
 * lt_cross_entropy_ignore is lt_cross_entropy (any ignore index that no
 * target equals). */
static void test_cross_entropy_ignore_is_leaving_out(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(20, 27), golden_cei_logits), true);
    float kept_logits[20 * 27];
    int32_t kept_t[20];
    int kept = 0;
    for (int i = 0; i < 20; i++)
        if (golden_cei_targets[i] != -1) {
            memcpy(kept_logits + kept * 27, golden_cei_logits + i * 27, sizeof(float) * 27);
            kept_t[kept++] = golden_cei_targets[i];
        }
    lt_tensor *xk = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(kept, 27), kept_logits), true);
    lt_tensor *a = lt_cross_entropy_ignore(ctx, x, lt_from_i32(ctx, LT_SHAPE(20), golden_cei_targets), -1);
    lt_tensor *b = lt_cross_entropy(ctx, xk, lt_from_i32(ctx, LT_SHAPE(kept), kept_t));
    assert_true(lt_item(ctx, a) == lt_item(ctx, b));
    assert_true(lt_backward_grad(ctx, lt_add(ctx, a, b), lt_ones(ctx, LT_SHAPE0)));
    for (int i = 0, k = 0; i < 20; i++) {
        bool skipped = golden_cei_targets[i] == -1;
        for (int j = 0; j < 27; j++)
            assert_true(lt_grad_get(x, i * 27 + j) == (skipped ? 0.0f : lt_grad_get(xk, k * 27 + j)));
        k += !skipped;
    }
    /* nothing skipped: the same as lt_cross_entropy, bit for bit */
    lt_ctx_reset(ctx);
    lt_tensor *w = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(8, 27), golden_ce_logits), true);
    lt_tensor *tw = lt_from_i32(ctx, LT_SHAPE(8), golden_ce_targets);
    float once[216];
    lt_tensor *ce = lt_cross_entropy(ctx, w, tw);
    float plain = lt_item(ctx, ce);
    assert_true(lt_backward(ctx, ce));
    lt_copy_out_f32(lt_grad(ctx, w), once);
    lt_ctx_reset(ctx);
    lt_zero_grad(w);
    tw = lt_from_i32(ctx, LT_SHAPE(8), golden_ce_targets); /* the old one went with the reset */
    lt_tensor *l = lt_cross_entropy_ignore(ctx, w, tw, -100);
    assert_true(lt_item(ctx, l) == plain);
    assert_true(lt_backward(ctx, l));
    for (int i = 0; i < 216; i++)
        assert_true(lt_grad_get(w, i) == once[i]);
    lt_ctx_free(ctx);
}

/* Every target skipped, no targets at all, one (C,) row with a scalar
 * target, NaN in a skipped row. */
static void test_cross_entropy_ignore_edges(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(3, 4), golden_ce_logits), true);
    /* all skipped: 0/0 = NaN, gradient 0 (PyTorch's values) */
    lt_tensor *loss = lt_cross_entropy_ignore(ctx, x, lt_from_i32(ctx, LT_SHAPE(3), (int32_t[]){-1, -1, -1}), -1);
    assert_true(isnan(lt_item(ctx, loss)));
    assert_true(lt_backward(ctx, loss));
    for (int i = 0; i < 12; i++)
        assert_true(lt_grad_get(x, i) == 0.0f);
    /* no rows: NaN as well (lt_cross_entropy refuses an empty batch) */
    lt_ctx_reset(ctx);
    lt_tensor *e = lt_cross_entropy_ignore(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(0, 4)), lt_zeros(ctx, LT_I32, LT_SHAPE(0)),
                                           -1);
    assert_true(isnan(lt_item(ctx, e)));
    lt_tensor *e3 = lt_cross_entropy_ignore(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 0, 5)),
                                            lt_zeros(ctx, LT_I32, LT_SHAPE(2, 0)), -1);
    assert_true(isnan(lt_item(ctx, e3)));
    /* zero classes, every target skipped */
    lt_tensor *sevens = lt_from_i32(ctx, LT_SHAPE(2), (int32_t[]){7, 7});
    assert_true(isnan(lt_item(ctx, lt_cross_entropy_ignore(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 0)), sevens, 7))));
    /* a single (C,) row and a rank-0 target: -log softmax(x)[t] */
    lt_tensor *r = lt_from_f32(ctx, LT_SHAPE(3), (float[]){0, logf(2), logf(3)});
    lt_tensor *one = lt_cross_entropy_ignore(ctx, r, lt_from_i32(ctx, LT_SHAPE0, (int32_t[]){2}), -1);
    ts_assert_value("one row", lt_item(ctx, one), log(2), 1e-6, 0);
    assert_true(isnan(lt_item(ctx, lt_cross_entropy_ignore(ctx, r, lt_from_i32(ctx, LT_SHAPE0, (int32_t[]){-1}), -1))));
    /* a skipped row of NaN and inf logits: the loss and the other rows'
     * gradients are untouched, its own gradient 0 (PyTorch: NaN there) */
    lt_ctx_reset(ctx);
    lt_zero_grad(x);
    lt_tensor *bad = lt_requires_grad(
        ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(2, 3), (float[]){1, 2, 3, NAN, 1, INFINITY}), true);
    loss = lt_cross_entropy_ignore(ctx, bad, lt_from_i32(ctx, LT_SHAPE(2), (int32_t[]){0, -1}), -1);
    ts_assert_value("loss", lt_item(ctx, loss), 2.40760596, 1e-6, 0);
    assert_true(lt_backward(ctx, loss));
    ts_assert_near(lt_grad(ctx, bad), (float[]){-0.909969426f, 0.244728478f, 0.665240943f, 0, 0, 0}, 6, 1e-7, 1e-6);
    lt_ctx_free(ctx);
}

typedef struct {
    int transposed; /* logits as a transposed view */
    const int32_t *targets; /* (2,3,2): the first of each pair is used */
    int32_t ignore;
} cei_case;

/* (2,3,5) logits (a transposed view of a (5,3,2) parameter, or a view of it
 * as (2,3,5)) against (2,3) targets read through a strided view */
static lt_tensor *cei_fn(lt_ctx *ctx, lt_tensor **in, void *user)
{
    const cei_case *c = user;
    lt_tensor *x = c->transposed ? lt_transpose(ctx, in[0], 0, 2) : lt_view(ctx, in[0], LT_SHAPE(2, 3, 5));
    lt_tensor *t = lt_select(ctx, lt_from_i32(ctx, LT_SHAPE(2, 3, 2), c->targets), 2, 0);
    return lt_cross_entropy_ignore(ctx, x, t, c->ignore);
}

static void test_cross_entropy_ignore_gradcheck(void **state)
{
    (void)state;
    static const int32_t minus_one[12] = {4, 9, -1, 9, 0, 9, 2, 9, -1, 9, 3, 9};
    static const int32_t class_two[12] = {4, 9, 2, 9, 0, 9, 2, 9, 1, 9, 2, 9}; /* ignore_index 2, a class */
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(5, 3, 2), 71, -3, 3), true);
    for (int tr = 0; tr < 2; tr++) {
        ts_gradcheck(cei_fn, &x, 1, &(cei_case){tr, minus_one, -1}, 1e-2, 2e-3, 1e-2);
        ts_gradcheck(cei_fn, &x, 1, &(cei_case){tr, class_two, 2}, 1e-2, 2e-3, 1e-2);
    }
    lt_ctx_free(ctx);
}

/* A large batch splits across threads: the same loss and gradient, to the
 * bit, for 1 and 3 threads. */
static void test_cross_entropy_ignore_threads(void **state)
{
    (void)state;
    enum { N = 8192, C = 27 };
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(N / 64, 64, C), 5, -4, 4), true);
    lt_tensor *t = lt_new(ctx, LT_I32, LT_SHAPE(N / 64, 64));
    for (int i = 0; i < N; i++)
        lt_data_i32(t)[i] = i % 5 == 0 ? -1 : (i * 7) % C;
    float loss[2];
    lt_tensor *grad1 = NULL;
    for (int k = 0; k < 2; k++) {
        assert_true(lt_set_threads(ctx, k ? 3 : 1));
        lt_ctx_reset(ctx);
        lt_zero_grad(x);
        lt_tensor *l = lt_cross_entropy_ignore(ctx, x, t, -1);
        loss[k] = lt_item(ctx, l);
        assert_true(lt_backward(ctx, l));
        if (!k)
            grad1 = lt_new_copy(ctx, lt_grad(ctx, x));
    }
    assert_true(loss[0] == loss[1] && isfinite(loss[0]));
    assert_memory_equal(lt_grad_f32(x), lt_data_f32(grad1), sizeof(float) * N * C);
    lt_ctx_free(ctx);
}

/* The backward reads only its own probabilities: the logits may change */
static lt_tensor *cei_of(lt_ctx *ctx, lt_tensor **in, void *user)
{
    (void)user;
    return lt_cross_entropy_ignore(ctx, in[0], lt_from_i32(ctx, LT_SHAPE(2, 2), (int32_t[]){1, -1, 0, 2}), -1);
}

static void test_cross_entropy_ignore_saved_tensors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(2, 2, 3), 29, -2, 2), true);
    ts_check_saves(cei_of, x, NULL, "cross_entropy_ignore", false, false);
    lt_ctx_free(ctx);
}

static void test_cross_entropy_ignore_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_zeros(ctx, LT_F32, LT_SHAPE(2, 3, 4));
    lt_tensor *t = lt_from_i32(ctx, LT_SHAPE(2, 3), (int32_t[]){0, 1, -1, 2, 3, 1});
    assert_null(lt_cross_entropy_ignore(NULL, x, t, -1));
    assert_null(lt_cross_entropy_ignore(ctx, NULL, t, -1));
    ts_assert_error(ctx, LT_ERR_ARG, "cross_entropy_ignore: argument 1 is NULL", NULL);
    assert_null(lt_cross_entropy_ignore(ctx, x, NULL, -1));
    ts_assert_error(ctx, LT_ERR_ARG, "cross_entropy_ignore: argument 2 is NULL", NULL);
    assert_null(lt_cross_entropy_ignore(ctx, lt_zeros(ctx, LT_I32, LT_SHAPE(2, 3, 4)), t, -1));
    ts_assert_error(ctx, LT_ERR_DTYPE, "cross_entropy_ignore: logits (2,3,4) must be f32", NULL);
    assert_null(lt_cross_entropy_ignore(ctx, x, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 3)), -1));
    ts_assert_error(ctx, LT_ERR_DTYPE, "cross_entropy_ignore: targets (2,3) must be i32", NULL);
    assert_null(lt_cross_entropy_ignore(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE0), lt_zeros(ctx, LT_I32, LT_SHAPE0), -1));
    ts_assert_error(ctx, LT_ERR_SHAPE, "cross_entropy_ignore: logits () have no class dim", NULL);
    assert_null(lt_cross_entropy_ignore(ctx, x, lt_zeros(ctx, LT_I32, LT_SHAPE(2, 4)), -1));
    ts_assert_error(ctx, LT_ERR_SHAPE,
                    "cross_entropy_ignore: logits (2,3,4) and targets (2,4): expected targets (2,3)", NULL);
    assert_null(lt_cross_entropy_ignore(ctx, x, lt_zeros(ctx, LT_I32, LT_SHAPE(6)), -1));
    ts_assert_error(ctx, LT_ERR_SHAPE, "targets (6)", "expected targets (2,3)", NULL);
    /* a target out of range, named by its position; -1 only when it is not
     * the ignore index */
    lt_set_i32(t, 4, 4);
    assert_null(lt_cross_entropy_ignore(ctx, x, t, -1));
    ts_assert_error(ctx, LT_ERR_INDEX,
                    "cross_entropy_ignore: target 4 at (1,1) out of range for 4 classes (ignore_index -1)", NULL);
    lt_set_i32(t, 4, 3);
    assert_null(lt_cross_entropy_ignore(ctx, x, t, -100));
    ts_assert_error(ctx, LT_ERR_INDEX, "target -1 at (0,2)", "ignore_index -100", NULL);
    lt_set_i32(t, 2, INT32_MIN);
    assert_null(lt_cross_entropy_ignore(ctx, x, t, -1));
    ts_assert_error(ctx, LT_ERR_INDEX, "target -2147483648 at (0,2)", NULL);
    assert_int_equal(lt_tape_size(ctx), 0);
    /* sticky */
    lt_set_i32(t, 2, -1);
    assert_null(lt_cross_entropy_ignore(ctx, x, lt_zeros(ctx, LT_I32, LT_SHAPE(3)), -1));
    assert_null(lt_cross_entropy_ignore(ctx, x, t, -1));
    ts_assert_error(ctx, LT_ERR_SHAPE, "targets (3)", NULL);
    ts_assert_value("usable again", lt_item(ctx, lt_cross_entropy_ignore(ctx, x, t, -1)), log(4), 1e-6, 0);
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax_hand_values),
        cmocka_unit_test(test_softmax_golden),
        cmocka_unit_test(test_softmax_extreme),
        cmocka_unit_test(test_softmax_gradcheck),
        cmocka_unit_test(test_softmax_noncontiguous_forward),
        cmocka_unit_test(test_softmax_errors),
        cmocka_unit_test(test_cross_entropy_hand_values),
        cmocka_unit_test(test_cross_entropy_golden),
        cmocka_unit_test(test_cross_entropy_golden_notebook),
        cmocka_unit_test(test_cross_entropy_extreme),
        cmocka_unit_test(test_cross_entropy_upstream_scale),
        cmocka_unit_test(test_cross_entropy_accumulates),
        cmocka_unit_test(test_cross_entropy_gradcheck),
        cmocka_unit_test(test_cross_entropy_no_grad),
        cmocka_unit_test(test_cross_entropy_errors),
        cmocka_unit_test(test_cross_entropy_ignore_golden),
        cmocka_unit_test(test_cross_entropy_ignore_is_leaving_out),
        cmocka_unit_test(test_cross_entropy_ignore_edges),
        cmocka_unit_test(test_cross_entropy_ignore_gradcheck),
        cmocka_unit_test(test_cross_entropy_ignore_threads),
        cmocka_unit_test(test_cross_entropy_ignore_saved_tensors),
        cmocka_unit_test(test_cross_entropy_ignore_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
