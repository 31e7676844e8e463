/* test_activation.c - sigmoid and gelu: values and gradients against
 * PyTorch 1.13 golden values (including saturated inputs), hand-computed
 * points, finite differences on strided inputs, error paths. */
#include "test_support.h"

#include <math.h>

#include "../data/golden_norm.h"

typedef lt_tensor *(*act_fn)(lt_ctx *, lt_tensor *);

static void check_golden(act_fn f, const float *y_want, const float *dx_want)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(12), golden_act_x), true);
    lt_tensor *y = f(ctx, x);
    assert_non_null(y);
    assert_true(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(12))));
    ts_assert_near(y, y_want, 12, 1e-6, 1e-5);
    ts_assert_near(lt_grad(ctx, x), dx_want, 12, 1e-6, 1e-5);
    lt_ctx_free(ctx);
}

static void test_golden(void **state)
{
    (void)state;
    check_golden(lt_sigmoid, golden_sigmoid_y, golden_sigmoid_dx);
    check_golden(lt_gelu, golden_gelu_y, golden_gelu_dx);
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
    act_box boxes[2] = {{lt_sigmoid}, {lt_gelu}};
    for (int k = 0; k < 2; k++)
        ts_gradcheck(strided_fn, &x, 1, &boxes[k], 1e-3, 1e-3, 1e-2);
    lt_ctx_free(ctx);
}

static void test_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *i = lt_zeros(ctx, LT_I32, LT_SHAPE(2));
    assert_null(lt_sigmoid(ctx, i));
    ts_assert_error(ctx, LT_ERR_DTYPE, "sigmoid: needs an f32 tensor, got i32", NULL);
    assert_null(lt_gelu(ctx, i));
    ts_assert_error(ctx, LT_ERR_DTYPE, "gelu: needs an f32 tensor, got i32", NULL);
    assert_null(lt_gelu(ctx, NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "gelu", NULL);
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_by_hand),
        cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
