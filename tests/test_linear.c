/* test_linear.c - lt_linear (x @ W + b with the bias in the gemm epilogue):
 * forward against known values and against matmul + add, backward against
 * finite differences, transposed and sliced operands, errors. */
#include "test_support.h"

static void test_known_values(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_from_f32(ctx, LT_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    lt_tensor *w = lt_from_f32(ctx, LT_SHAPE(3, 2), (float[]){1, 0, 0, 1, 1, -1});
    lt_tensor *b = lt_from_f32(ctx, LT_SHAPE(2), (float[]){10, 20});
    /* [1+3, 2-3] + b = [14, 19]; [4+6, 5-6] + b = [20, 19] */
    ts_assert_near(lt_linear(ctx, x, w, b), (float[]){14, 19, 20, 19}, 4, 0, 0);
    ts_assert_near(lt_linear(ctx, x, w, NULL), (float[]){4, -1, 10, -1}, 4, 0, 0);
    lt_ctx_free(ctx);
}

/* The notebook's shapes: the same values as lt_add(lt_matmul(x, W), b). */
static void test_matches_matmul_add(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    const int shapes[][3] = {{32, 30, 200}, {32, 200, 27}, {1, 30, 200}, {517, 30, 200}, {5, 300, 7}};
    for (int s = 0; s < 5; s++) {
        int n = shapes[s][0], k = shapes[s][1], m = shapes[s][2];
        lt_tensor *x = ts_random(ctx, LT_SHAPE(n, k), 1 + s, -1, 1);
        lt_tensor *w = ts_random(ctx, LT_SHAPE(k, m), 11 + s, -1, 1);
        lt_tensor *b = ts_random(ctx, LT_SHAPE(m), 21 + s, -1, 1);
        lt_tensor *y = lt_linear(ctx, x, w, b);
        lt_tensor *ref = lt_add(ctx, lt_matmul(ctx, x, w), b);
        ts_assert_tensors_near(y, ref, 1e-5);
        lt_ctx_reset(ctx);
    }
    lt_ctx_free(ctx);
}

static lt_tensor *plain(lt_ctx *ctx, lt_tensor **in, void *user)
{
    (void)user;
    return lt_linear(ctx, in[0], in[1], in[2]);
}

/* x sliced, W given as the transpose of an (out,in) weight, b a row view. */
static lt_tensor *strided(lt_ctx *ctx, lt_tensor **in, void *user)
{
    (void)user;
    lt_tensor *x = lt_narrow(ctx, in[0], 1, 1, 4);        /* (5,6) -> (5,4) */
    lt_tensor *w = lt_transpose(ctx, in[1], 0, 1);        /* (3,4) -> (4,3) */
    lt_tensor *b = lt_select(ctx, in[2], 0, 1);           /* (2,3) -> (3,) */
    return lt_linear(ctx, x, w, b);
}

static lt_tensor *no_bias_view_of_view(lt_ctx *ctx, lt_tensor **in, void *user)
{
    (void)user;
    lt_tensor *x = lt_transpose(ctx, lt_narrow(ctx, in[0], 0, 1, 4), 0, 1); /* (5,6)->(4,6)->(6,4) */
    return lt_linear(ctx, x, in[1], NULL);
}

/* Expanded (stride-0) operands: x one row repeated (5,4), W one column
 * repeated (4,3), b one value repeated (3,). Their gradients are sums over
 * the repeats; gemm cannot write them in place (its rows would alias). */
static lt_tensor *expanded(lt_ctx *ctx, lt_tensor **in, void *user)
{
    (void)user;
    lt_tensor *x = lt_expand(ctx, in[0], LT_SHAPE(5, 4)); /* (1,4) */
    lt_tensor *w = lt_expand(ctx, in[1], LT_SHAPE(4, 3)); /* (4,1) */
    lt_tensor *b = lt_expand(ctx, in[2], LT_SHAPE(3));    /* (1,) */
    return lt_linear(ctx, x, w, b);
}

static void test_gradients(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a[3] = {ts_random(ctx, LT_SHAPE(5, 4), 1, -1, 1), ts_random(ctx, LT_SHAPE(4, 3), 2, -1, 1),
                       ts_random(ctx, LT_SHAPE(3), 3, -1, 1)};
    for (int i = 0; i < 3; i++)
        lt_requires_grad(ctx, a[i], true);
    ts_gradcheck(plain, a, 3, NULL, 1e-2, 1e-3, 1e-3);
    lt_tensor *s[3] = {ts_random(ctx, LT_SHAPE(5, 6), 4, -1, 1), ts_random(ctx, LT_SHAPE(3, 4), 5, -1, 1),
                       ts_random(ctx, LT_SHAPE(2, 3), 6, -1, 1)};
    for (int i = 0; i < 3; i++)
        lt_requires_grad(ctx, s[i], true);
    ts_gradcheck(strided, s, 3, NULL, 1e-2, 1e-3, 1e-3);
    lt_tensor *v[2] = {ts_random(ctx, LT_SHAPE(5, 6), 7, -1, 1), ts_random(ctx, LT_SHAPE(4, 2), 8, -1, 1)};
    lt_requires_grad(ctx, v[0], true);
    lt_requires_grad(ctx, v[1], true);
    ts_gradcheck(no_bias_view_of_view, v, 2, NULL, 1e-2, 1e-3, 1e-3);
    lt_tensor *e[3] = {ts_random(ctx, LT_SHAPE(1, 4), 9, -1, 1), ts_random(ctx, LT_SHAPE(4, 1), 10, -1, 1),
                       ts_random(ctx, LT_SHAPE(1), 11, -1, 1)};
    for (int i = 0; i < 3; i++)
        lt_requires_grad(ctx, e[i], true);
    ts_gradcheck(expanded, e, 3, NULL, 1e-2, 1e-3, 1e-3);
    lt_ctx_free(ctx);
}

/* The bias gradient is the column sum of dy; nothing else is recorded. */
static void test_bias_gradient_and_tape(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = ts_random(ctx, LT_SHAPE(3, 2), 1, -1, 1);
    lt_tensor *w = ts_random(ctx, LT_SHAPE(2, 2), 2, -1, 1);
    lt_tensor *b = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(2), 3, -1, 1), true);
    lt_tensor *y = lt_linear(ctx, x, w, b);
    assert_int_equal(lt_tape_size(ctx), 1);
    assert_true(lt_backward_grad(ctx, y, lt_from_f32(ctx, LT_SHAPE(3, 2), (float[]){1, 2, 3, 4, 5, 6})));
    ts_assert_near(lt_grad(ctx, b), (float[]){9, 12}, 2, 0, 0);
    assert_null(x->storage->grad); /* x did not require grad */
    lt_ctx_reset(ctx);
    lt_set_grad_enabled(ctx, false);
    assert_false(lt_linear(ctx, x, w, b)->requires_grad);
    assert_int_equal(lt_tape_size(ctx), 0);
    lt_ctx_free(ctx);
}

static void test_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_zeros(ctx, LT_F32, LT_SHAPE(32, 30));
    assert_null(lt_linear(ctx, x, lt_zeros(ctx, LT_F32, LT_SHAPE(6, 100)), NULL));
    ts_assert_error(ctx, LT_ERR_SHAPE, "linear: (32,30) @ (6,100): inner sizes differ", NULL);
    assert_null(lt_linear(ctx, x, lt_zeros(ctx, LT_F32, LT_SHAPE(30, 100)), lt_zeros(ctx, LT_F32, LT_SHAPE(99))));
    ts_assert_error(ctx, LT_ERR_SHAPE, "linear", "bias (99)", "(100)", NULL);
    assert_null(lt_linear(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 3, 30)), lt_zeros(ctx, LT_F32, LT_SHAPE(30, 4)), NULL));
    ts_assert_error(ctx, LT_ERR_SHAPE, "linear", "rank 2", NULL);
    assert_null(lt_linear(ctx, lt_zeros(ctx, LT_I32, LT_SHAPE(2, 3)), lt_zeros(ctx, LT_F32, LT_SHAPE(3, 4)), NULL));
    ts_assert_error(ctx, LT_ERR_DTYPE, "linear", "i32", NULL);
    assert_null(lt_linear(ctx, x, NULL, NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "linear", "argument 2 is NULL", NULL);
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),         cmocka_unit_test(test_matches_matmul_add),
        cmocka_unit_test(test_gradients),            cmocka_unit_test(test_bias_gradient_and_tape),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
