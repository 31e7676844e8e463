/* test_activation.c - sigmoid, gelu (exact and tanh forms) and softplus:
 * values and gradients against PyTorch 1.13 golden values (a dense grid and
 * saturated inputs), hand-computed points, finite differences on strided
 * inputs, infinities, thread-count independence, error paths. */
#include "test_support.h"

#include <math.h>

#include "../data/golden_norm.h"
#include "kernels/threads.h"

typedef lt_tensor *(*act_fn)(lt_ctx *, lt_tensor *);

/* softplus with PyTorch's defaults and two other settings, behind act_fn */
static lt_tensor *softplus_default(lt_ctx *ctx, lt_tensor *x) { return lt_softplus(ctx, x, 1.0f, 20.0f); }
static lt_tensor *softplus_b2t5(lt_ctx *ctx, lt_tensor *x) { return lt_softplus(ctx, x, 2.0f, 5.0f); }
static lt_tensor *softplus_bhalf(lt_ctx *ctx, lt_tensor *x) { return lt_softplus(ctx, x, 0.5f, 20.0f); }

/* f(x) and its gradient for an upstream gradient of ones, against golden
 * values (float kernels on both sides: libm's erf/exp/log1p and the
 * library's vectorised tanh against PyTorch's, a few ulp apart) */
static void check_golden(act_fn f, const float *x_in, int n, const float *y_want, const float *dx_want)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(n), x_in), true);
    lt_tensor *y = f(ctx, x);
    assert_non_null(y);
    assert_true(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(n))));
    ts_assert_near(y, y_want, n, 1e-6, 1e-5);
    ts_assert_near(lt_grad(ctx, x), dx_want, n, 1e-6, 1e-5);
    lt_ctx_free(ctx);
}

#define N_WIDE ((int)(sizeof golden_act_wide_x / sizeof golden_act_wide_x[0]))

static void test_golden(void **state)
{
    (void)state;
    check_golden(lt_sigmoid, golden_act_x, 12, golden_sigmoid_y, golden_sigmoid_dx);
    check_golden(lt_gelu, golden_act_x, 12, golden_gelu_y, golden_gelu_dx);
    check_golden(lt_gelu_tanh, golden_act_wide_x, N_WIDE, golden_gelu_tanh_y, golden_gelu_tanh_dx);
    check_golden(softplus_default, golden_act_wide_x, N_WIDE, golden_softplus_y, golden_softplus_dx);
    check_golden(softplus_b2t5, golden_act_wide_x, N_WIDE, golden_softplus_b2t5_y, golden_softplus_b2t5_dx);
    check_golden(softplus_bhalf, golden_act_wide_x, N_WIDE, golden_softplus_bhalf_y, golden_softplus_bhalf_dx);
}

static void test_by_hand(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_from_f32(ctx, LT_SHAPE(2), (const float[]){0.0f, logf(3.0f)});
    ts_assert_near(lt_sigmoid(ctx, x), (const float[]){0.5f, 0.75f}, 2, 1e-6, 0);
    /* gelu(0) = 0, gelu(x) -> x for large x, -> 0 for very negative x */
    lt_tensor *g = lt_gelu(ctx, lt_from_f32(ctx, LT_SHAPE(3), (const float[]){0.0f, 10.0f, -10.0f}));
    ts_assert_near(g, (const float[]){0.0f, 10.0f, 0.0f}, 3, 1e-6, 0);
    /* the tanh form is within 1e-3 of the exact one (the approximation's
     * largest error is about 4.7e-4, near |x| = 2.3) */
    lt_tensor *w = lt_from_f32(ctx, LT_SHAPE(N_WIDE), golden_act_wide_x);
    lt_tensor *exact = lt_gelu(ctx, w), *approx = lt_gelu_tanh(ctx, w);
    double worst = 0;
    for (int i = 0; i < N_WIDE; i++)
        worst = fmax(worst, fabs(lt_get_f32(exact, i) - lt_get_f32(approx, i)));
    assert_true(worst > 1e-4 && worst < 1e-3); /* different functions, close ones */
    /* softplus: log 2 at 0, log(1 + e) at 1, x itself above the threshold */
    lt_tensor *s = lt_softplus(ctx, lt_from_f32(ctx, LT_SHAPE(3), (const float[]){0.0f, 1.0f, 21.0f}), 1.0f, 20.0f);
    ts_assert_near(s, (const float[]){0.693147181f, 1.31326169f, 21.0f}, 3, 0, 1e-6);
    lt_ctx_free(ctx);
}

/* Infinities and NaN go through PyTorch's formulas: gelu_tanh(-inf) is
 * -inf * 0 = NaN there and here; softplus(-inf) = 0 with gradient 0. */
static void test_infinities(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    const float xv[3] = {INFINITY, -INFINITY, NAN};
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(3), xv), true);
    lt_tensor *y = lt_gelu_tanh(ctx, x);
    assert_true(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(3))));
    assert_true(lt_get_f32(y, 0) == INFINITY && isnan(lt_get_f32(y, 1)) && isnan(lt_get_f32(y, 2)));
    for (int i = 0; i < 3; i++)
        assert_true(isnan(lt_grad_get(x, i))); /* x * (1 - tanh^2): inf * 0 */
    lt_ctx_reset(ctx);
    lt_zero_grad(x);
    y = lt_softplus(ctx, x, 1.0f, 20.0f);
    assert_true(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(3))));
    assert_true(lt_get_f32(y, 0) == INFINITY && lt_get_f32(y, 1) == 0.0f && isnan(lt_get_f32(y, 2)));
    assert_true(lt_grad_get(x, 0) == 1.0f && lt_grad_get(x, 1) == 0.0f && isnan(lt_grad_get(x, 2)));
    /* a threshold beyond exp's range: x (and gradient 1) where PyTorch's
     * log1p(exp(100)) overflows to inf (documented difference) */
    lt_ctx_reset(ctx);
    lt_tensor *big = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(2), (float[]){100.0f, 80.0f}), true);
    y = lt_softplus(ctx, big, 1.0f, 1000.0f);
    assert_true(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(2))));
    ts_assert_near(y, (const float[]){100.0f, 80.0f}, 2, 0, 0);
    ts_assert_near(lt_grad(ctx, big), (const float[]){1.0f, 1.0f}, 2, 0, 0);
    lt_ctx_free(ctx);
}

/* a function pointer cannot travel as void *: box it */
typedef struct {
    act_fn f;
} act_box;

static lt_tensor *strided_fn(lt_ctx *ctx, lt_tensor **in, void *user)
{
    return ((const act_box *)user)->f(ctx, lt_transpose(ctx, in[0], 0, 1));
}

static void test_gradcheck(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(3, 5), 8, -4, 4), true);
    act_box boxes[] = {{lt_sigmoid}, {lt_gelu}, {lt_gelu_tanh}, {softplus_default}, {softplus_b2t5}, {softplus_bhalf}};
    for (size_t k = 0; k < sizeof boxes / sizeof boxes[0]; k++)
        ts_gradcheck(strided_fn, &x, 1, &boxes[k], 1e-3, 1e-3, 1e-2);
    lt_ctx_free(ctx);
}

/* gelu_tanh twice on one temporary: the first backward to reach it writes
 * its gradient (a fresh buffer), the second adds to it; both from the tanh
 * values each forward saved. */
static lt_tensor *gelu_tanh_twice(lt_ctx *ctx, lt_tensor **in, void *user)
{
    (void)user;
    lt_tensor *h = lt_mul(ctx, in[0], in[0]);
    return lt_add(ctx, lt_gelu_tanh(ctx, h), lt_mul(ctx, lt_gelu_tanh(ctx, h), in[0]));
}

static void test_gelu_tanh_gradient_adds(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(4, 9), 21, -2, 2), true);
    ts_gradcheck(gelu_tanh_twice, &x, 1, NULL, 1e-3, 1e-3, 1e-2);
    lt_ctx_free(ctx);
}

/* The forward saves tanh only when a backward may need it; the result has
 * the same bits either way (grad mode off, or an input without gradient). */
static void test_gelu_tanh_without_grad(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    const int64_t n = 1001;
    lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(n), 22, -8, 8), true);
    lt_tensor *c = lt_new_copy(ctx, x); /* no gradient wanted */
    lt_tensor *with = lt_gelu_tanh(ctx, x), *plain = lt_gelu_tanh(ctx, c);
    bool was = lt_set_grad_enabled(ctx, false); /* returns the previous mode */
    lt_tensor *off = lt_gelu_tanh(ctx, x);
    assert_false(lt_set_grad_enabled(ctx, was));
    assert_non_null(with);
    assert_non_null(plain);
    assert_non_null(off);
    assert_memory_equal(lt_data_f32(plain), lt_data_f32(with), sizeof(float) * (size_t)n);
    assert_memory_equal(lt_data_f32(off), lt_data_f32(with), sizeof(float) * (size_t)n);
    lt_free(c);
    lt_ctx_free(ctx);
}

/* A long gelu_tanh (forward and backward split across threads, the
 * backward reading the tanh values the forward saved): the same bits for 1
 * and 3 threads, each element equal to the op on that element alone, and
 * the split backward equal to the backward of each element alone. */
static void test_gelu_tanh_long_and_threads(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    const int64_t n = 300000; /* large enough to split: n * work > 2 tasks' worth */
    lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(n), 9, -6, 6), true);
    lt_tensor *keep = lt_new_copy(ctx, lt_gelu_tanh(ctx, x));
    lt_ctx_reset(ctx);
    assert_true(lt_set_threads(ctx, 3));
    uint64_t jobs = lt_par_jobs(ctx);
    lt_tensor *y3 = lt_gelu_tanh(ctx, x);
    assert_true(lt_par_jobs(ctx) > jobs); /* it did split */
    assert_memory_equal(lt_data_f32(y3), lt_data_f32(keep), sizeof(float) * (size_t)n);
    jobs = lt_par_jobs(ctx);
    assert_true(lt_backward_grad(ctx, y3, lt_ones(ctx, LT_SHAPE(n))));
    assert_true(lt_par_jobs(ctx) > jobs); /* the backward split too */
    lt_tensor *dx = lt_new_copy(ctx, lt_grad(ctx, x));
    for (int64_t i = 0; i < n; i += 997) {
        lt_ctx_reset(ctx);
        lt_zero_grad(x);
        lt_tensor *one = lt_gelu_tanh(ctx, lt_narrow(ctx, x, 0, i, 1));
        assert_true(lt_get_f32(one, 0) == lt_get_f32(keep, i));
        assert_true(lt_backward_grad(ctx, one, lt_ones(ctx, LT_SHAPE(1))));
        assert_true(lt_grad_get(x, i) == lt_get_f32(dx, i));
    }
    lt_free(keep);
    lt_free(dx);
    lt_ctx_free(ctx);
}

/* gelu_tanh and softplus differentiate from the input: a write to it after
 * the forward is refused by backward, a write to the output is not */
static lt_tensor *act_of(lt_ctx *ctx, lt_tensor **in, void *user) { return ((const act_box *)user)->f(ctx, in[0]); }

static void test_saved_tensors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(2, 3), 12, -3, 3), true);
    ts_check_saves(act_of, x, &(act_box){lt_gelu_tanh}, "gelu_tanh", true, false);
    ts_check_saves(act_of, x, &(act_box){softplus_default}, "softplus", true, false);
    lt_ctx_free(ctx);
}

static void test_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *i = lt_zeros(ctx, LT_I32, LT_SHAPE(2));
    lt_tensor *f = lt_ones(ctx, LT_SHAPE(2));
    assert_null(lt_sigmoid(ctx, i));
    ts_assert_error(ctx, LT_ERR_DTYPE, "sigmoid: needs an f32 tensor, got i32", NULL);
    assert_null(lt_gelu(ctx, i));
    ts_assert_error(ctx, LT_ERR_DTYPE, "gelu: needs an f32 tensor, got i32", NULL);
    assert_null(lt_gelu(ctx, NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "gelu", NULL);
    assert_null(lt_gelu_tanh(ctx, i));
    ts_assert_error(ctx, LT_ERR_DTYPE, "gelu_tanh: needs an f32 tensor, got i32", NULL);
    assert_null(lt_gelu_tanh(ctx, NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "gelu_tanh: argument 1 is NULL", NULL);
    assert_null(lt_softplus(ctx, i, 1, 20));
    ts_assert_error(ctx, LT_ERR_DTYPE, "softplus: needs an f32 tensor, got i32", NULL);
    assert_null(lt_softplus(ctx, NULL, 1, 20));
    ts_assert_error(ctx, LT_ERR_ARG, "softplus: argument 1 is NULL", NULL);
    const float bad[][2] = {{0, 20}, {INFINITY, 20}, {NAN, 20}, {1, NAN}};
    for (int k = 0; k < 4; k++) {
        assert_null(lt_softplus(ctx, f, bad[k][0], bad[k][1]));
        ts_assert_error(ctx, LT_ERR_ARG, "softplus: beta", "threshold", NULL);
    }
    /* sticky */
    assert_null(lt_softplus(ctx, f, 0, 20));
    assert_null(lt_gelu_tanh(ctx, f));
    ts_assert_error(ctx, LT_ERR_ARG, "softplus: beta 0", NULL);
    assert_non_null(lt_gelu_tanh(ctx, f));
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_by_hand),
        cmocka_unit_test(test_infinities),
        cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_gelu_tanh_long_and_threads),
        cmocka_unit_test(test_gelu_tanh_gradient_adds),
        cmocka_unit_test(test_gelu_tanh_without_grad),
        cmocka_unit_test(test_saved_tensors),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
