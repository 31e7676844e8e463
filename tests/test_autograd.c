/* test_autograd.c - the tape: recording, grad mode, accumulation, misuse
 * errors, and an op defined outside the library through the public
 * extension API (the way users add ops). */
#include "test_support.h"

#include <string.h>

/* ---- a user-defined op: y = x^3 elementwise -------------------------------- */

static void cube_backward(lt_ctx *ctx, lt_node *node)
{
    lt_tensor *x = node->in[0];
    float *dx = lt_grad_buffer(ctx, x);
    if (!dx)
        return;
    const float *xv = lt_data_f32(x), *dy = lt_grad_f32(node->out);
    for (int64_t i = 0; i < lt_numel(x); i++)
        dx[i] += 3.0f * xv[i] * xv[i] * dy[i];
}

static const lt_op cube_op = {"cube", cube_backward, LT_SAVES_IN(0)}; /* backward reads x */

static lt_tensor *cube(lt_ctx *ctx, lt_tensor *x)
{
    if (!lt_check_args(ctx, "cube", 1, &x))
        return NULL;
    x = lt_contiguous(ctx, x);
    lt_tensor *y = x ? lt_empty(ctx, LT_F32, lt_shape_of(x)) : NULL;
    if (!y)
        return NULL;
    const float *xv = lt_data_f32(x);
    float *yv = lt_data_f32(y);
    for (int64_t i = 0; i < lt_numel(x); i++)
        yv[i] = xv[i] * xv[i] * xv[i];
    if (lt_needs_grad(ctx, 1, &x) && !lt_record(ctx, &cube_op, y, 1, &x))
        return NULL;
    return y;
}

static lt_tensor *cube_of_transpose(lt_ctx *ctx, lt_tensor **in, void *user)
{
    (void)user;
    return cube(ctx, cube(ctx, lt_transpose(ctx, in[0], 0, 1)));
}

static void test_user_defined_op(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = ts_random(ctx, LT_SHAPE(3, 4), 3, -1, 1);
    lt_requires_grad(ctx, x, true);
    lt_tensor *y = cube_of_transpose(ctx, &x, NULL);
    assert_int_equal(lt_tape_size(ctx), 3); /* copy, cube, cube */
    float x0 = lt_get_f32(x, 0);
    assert_float_equal(lt_get_f32(y, 0), x0 * x0 * x0 * x0 * x0 * x0 * x0 * x0 * x0, 1e-6);
    ts_gradcheck(cube_of_transpose, &x, 1, NULL, 1e-3, 1e-4, 1e-2);
    lt_ctx_free(ctx);
}

/* ---- gradient buffers written by their first contribution --------------- */

/* Temporaries whose gradient the first backward to reach them writes
 * (lt_input_grad_fresh) beside ones that must add: h is read by four ops
 * (backward reaches it first through a narrow's exp, a part of its storage
 * that must not be written whole, then through a linear and through both
 * operands of one add), row is stretched over rows, and the linear,
 * layernorm, mul and gelu inputs have one reader each. */
static lt_tensor *fresh_and_shared(lt_ctx *ctx, lt_tensor **in, void *user)
{
    (void)user;
    lt_tensor *h = lt_tanh(ctx, in[0]);              /* (3,4) */
    lt_tensor *twice = lt_add(ctx, h, h);            /* both operands h */
    lt_tensor *row = lt_sigmoid(ctx, in[1]);         /* (4,), stretched over 3 rows */
    lt_tensor *lin = lt_linear(ctx, h, in[2], NULL); /* (3,4) @ (4,4) */
    lt_tensor *norm = lt_layernorm(ctx, lt_add(ctx, lin, row), NULL, NULL, 1e-5f);
    lt_tensor *g = lt_gelu_tanh(ctx, lt_mul(ctx, twice, norm));
    lt_tensor *part = lt_exp(ctx, lt_narrow(ctx, h, 0, 1, 2)); /* rows 1..2 of h */
    return lt_add(ctx, g, lt_sum(ctx, part));
}

static void test_fresh_gradient_buffers(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *in[3] = {ts_random(ctx, LT_SHAPE(3, 4), 5, -1, 1), ts_random(ctx, LT_SHAPE(4), 6, -1, 1),
                        ts_random(ctx, LT_SHAPE(4, 4), 7, -1, 1)};
    for (int i = 0; i < 3; i++)
        lt_requires_grad(ctx, in[i], true);
    ts_gradcheck(fresh_and_shared, in, 3, NULL, 1e-3, 2e-3, 2e-2); /* layernorm over 4 features: test_norm.c's bounds */
    lt_ctx_free(ctx);
}

/* ---- scalar backward, accumulation, grad mode ------------------------------ */

static void test_backward_scalar_and_accumulate(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_new_from(ctx, LT_F32, LT_SHAPE(1), (float[]){2.0f});
    lt_requires_grad(ctx, x, true);
    for (int pass = 1; pass <= 3; pass++) {
        lt_ctx_reset(ctx);
        lt_tensor *y = cube(ctx, lt_view(ctx, x, LT_SHAPE0)); /* rank-0 loss */
        assert_true(lt_backward(ctx, y));
        /* d(x^3)/dx = 12, accumulated over the passes as in PyTorch */
        assert_float_equal(lt_grad_get(x, 0), 12.0f * (float)pass, 1e-5);
    }
    lt_zero_grad(x);
    assert_float_equal(lt_grad_get(x, 0), 0.0f, 0);
    lt_ctx_free(ctx);
}

/* ---- lt_zero_grad of a whole persistent tensor: marked, cleared lazily ------------ */

/* loss = sum((x @ W^T + b) * b) + sum(V[0]), W (4,3) passed transposed: W's
 * and b's gradients written fresh by linear after a lazy zero (b's also
 * added to by mul, V's through a view), U's never reached. Copies the four gradients out (read with
 * lt_grad_f32, which clears a marked buffer). */
static void lazy_zero_pass(lt_ctx *ctx, lt_tensor *const p[5], float out[4][12])
{
    lt_ctx_reset(ctx);
    lt_tensor *y = lt_mul(ctx, lt_linear(ctx, p[0], lt_transpose(ctx, p[1], 0, 1), p[2]), p[2]);
    lt_tensor *loss = lt_add(ctx, lt_sum(ctx, y), lt_sum(ctx, lt_select(ctx, p[3], 0, 0)));
    assert_true(lt_backward(ctx, loss));
    for (int i = 1; i < 5; i++)
        memcpy(out[i - 1], lt_grad_f32(p[i]), sizeof(float) * (size_t)lt_numel(p[i]));
}

static void test_lazy_zero_grad(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *p[5] = {ts_random(ctx, LT_SHAPE(5, 3), 1, -1, 1), ts_random(ctx, LT_SHAPE(4, 3), 2, -1, 1),
                       ts_random(ctx, LT_SHAPE(4), 3, -1, 1), ts_random(ctx, LT_SHAPE(2, 3), 4, -1, 1),
                       ts_random(ctx, LT_SHAPE(6), 5, -1, 1)};
    for (int i = 1; i < 5; i++)
        lt_requires_grad(ctx, p[i], true);
    float first[4][12], again[4][12];
    lazy_zero_pass(ctx, p, first); /* buffers from lt_requires_grad: zeros, added to */
    const int64_t n[4] = {12, 4, 6, 6};
    for (int64_t k = 0; k < n[3]; k++)
        assert_true(first[3][k] == 0.0f);
    lazy_zero_pass(ctx, p, again); /* no zero_grad: every gradient doubles */
    for (int i = 0; i < 4; i++)
        for (int64_t k = 0; k < n[i]; k++)
            assert_float_equal(again[i][k], 2.0f * first[i][k], 1e-5); /* b's two terms: another order */
    for (int i = 1; i < 5; i++)
        lt_zero_grad(p[i]);
    assert_true(p[1]->storage->grad_zero);
    for (int i = 1; i < 5; i++) /* every reader sees zeros before any backward */
        for (int64_t k = 0; k < lt_numel(p[i]); k++)
            assert_true(lt_grad_get(p[i], k) == 0.0f);
    lt_tensor *g = lt_grad(ctx, p[2]); /* clears the marked buffer it shares */
    assert_false(p[2]->storage->grad_zero);
    for (int64_t k = 0; k < 4; k++)
        assert_true(lt_data_f32(g)[k] == 0.0f);
    lazy_zero_pass(ctx, p, again); /* W written fresh, V cleared then added to, U cleared on reading */
    for (int i = 0; i < 4; i++)
        assert_memory_equal(first[i], again[i], sizeof(float) * (size_t)n[i]);
    lt_ctx_free(ctx);
}

static void test_no_grad_records_nothing(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = ts_random(ctx, LT_SHAPE(4), 1, -1, 1);
    lt_requires_grad(ctx, x, true);
    assert_true(lt_grad_enabled(ctx));
    bool old = lt_set_grad_enabled(ctx, false);
    assert_true(old);
    lt_tensor *y = cube(ctx, lt_clone(ctx, x));
    assert_int_equal(lt_tape_size(ctx), 0);
    assert_false(y->requires_grad);
    assert_false(lt_backward(ctx, lt_select(ctx, y, 0, 0)));
    ts_assert_error(ctx, LT_ERR_GRAPH, "backward", "no graph", NULL);
    lt_set_grad_enabled(ctx, old);
    y = cube(ctx, x);
    assert_int_equal(lt_tape_size(ctx), 1);
    /* a tensor that does not require grad is not recorded */
    lt_tensor *c = lt_ones(ctx, LT_SHAPE(4));
    cube(ctx, c);
    assert_int_equal(lt_tape_size(ctx), 1);
    lt_ctx_free(ctx);
}

static void test_backward_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = ts_random(ctx, LT_SHAPE(2, 3), 1, -1, 1);
    lt_requires_grad(ctx, x, true);
    lt_tensor *y = cube(ctx, x);
    assert_false(lt_backward(ctx, y));
    ts_assert_error(ctx, LT_ERR_GRAPH, "backward", "scalar", "(2,3)", NULL);
    assert_false(lt_backward(ctx, NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "backward", "NULL", NULL);
    assert_false(lt_backward(ctx, lt_arange(ctx, 1)));
    ts_assert_error(ctx, LT_ERR_GRAPH, "backward", "i32", NULL);
    assert_false(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(3, 2))));
    ts_assert_error(ctx, LT_ERR_SHAPE, "backward_grad", "(3,2)", "(2,3)", NULL);
    assert_true(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(2, 3))));
    /* the tape was used: a second backward is refused, as is recording */
    assert_false(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(2, 3))));
    ts_assert_error(ctx, LT_ERR_GRAPH, "already walked", NULL);
    assert_null(cube(ctx, x));
    ts_assert_error(ctx, LT_ERR_GRAPH, "cube", "lt_ctx_reset", NULL);
    lt_ctx_reset(ctx);
    assert_non_null(cube(ctx, x));
    /* an invalid node is refused */
    assert_null(lt_record(ctx, NULL, y, 1, &x));
    ts_assert_error(ctx, LT_ERR_ARG, "record", NULL);
    lt_ctx_free(ctx);
}

/* A node whose output got no gradient is skipped; unused branches are free. */
static void test_unused_branch(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = ts_random(ctx, LT_SHAPE(3), 2, -1, 1);
    lt_requires_grad(ctx, x, true);
    lt_tensor *used = cube(ctx, x);
    lt_tensor *unused = cube(ctx, x);
    (void)unused;
    assert_true(lt_backward_grad(ctx, used, lt_ones(ctx, LT_SHAPE(3))));
    for (int i = 0; i < 3; i++) {
        float v = lt_get_f32(x, i);
        assert_float_equal(lt_grad_get(x, i), 3 * v * v, 1e-6);
    }
    assert_null(unused->storage->grad);
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_defined_op),
        cmocka_unit_test(test_backward_scalar_and_accumulate),
        cmocka_unit_test(test_no_grad_records_nothing),
        cmocka_unit_test(test_backward_errors),
        cmocka_unit_test(test_unused_branch),
        cmocka_unit_test(test_fresh_gradient_buffers),
        cmocka_unit_test(test_lazy_zero_grad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
