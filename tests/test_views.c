/* test_views.c - views share storage, never copy, and carry gradients back
 * to their base; contiguous/clone/reshape copy when they must. */
#include "test_support.h"

#include <string.h>

/* (2,3,4) tensor with values 0..23 */
static lt_tensor *iota234(lt_ctx *ctx)
{
    float v[24];
    for (int i = 0; i < 24; i++)
        v[i] = (float)i;
    return lt_new_from(ctx, LT_F32, LT_SHAPE(2, 3, 4), v);
}

static void test_view_and_infer(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = iota234(ctx);
    lt_tensor *v = lt_view(ctx, a, LT_SHAPE(-1, 6));
    ts_assert_shape(v, LT_SHAPE(4, 6));
    assert_ptr_equal(lt_data_f32(v), lt_data_f32(a)); /* no copy */
    assert_float_equal(lt_get_f32(v, 13), 13.0f, 0);
    lt_set_f32(v, 0, -1.0f);
    assert_float_equal(lt_get_f32(a, 0), -1.0f, 0); /* the base sees the write */
    ts_assert_shape(lt_view(ctx, a, LT_SHAPE(24)), LT_SHAPE(24));
    ts_assert_shape(lt_view(ctx, a, LT_SHAPE(2, 1, 12, 1)), LT_SHAPE(2, 1, 12, 1));
    lt_tensor *s = lt_view(ctx, lt_narrow(ctx, a, 2, 0, 1), LT_SHAPE0); /* (2,3,1) -> () fails: 6 elements */
    assert_null(s);
    ts_assert_error(ctx, LT_ERR_SHAPE, "view", "()", "(2,3,1)", NULL);
    /* a view of a transposed tensor is possible when the split matches */
    lt_tensor *t = lt_transpose(ctx, a, 0, 2);          /* (4,3,2) */
    lt_tensor *m = lt_view(ctx, t, LT_SHAPE(2, 2, 3, 2)); /* splits the stride-1 dim */
    ts_assert_shape(m, LT_SHAPE(2, 2, 3, 2));
    for (int i = 0; i < 24; i++)
        assert_float_equal(lt_get_f32(m, i), lt_get_f32(t, i), 0);
    lt_ctx_free(ctx);
}

static void test_view_needs_copy(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = iota234(ctx);
    lt_tensor *t = lt_transpose(ctx, a, 1, 2); /* (2,4,3) non-contiguous */
    assert_false(lt_is_contiguous(t));
    assert_null(lt_view(ctx, t, LT_SHAPE(2, 12)));
    ts_assert_error(ctx, LT_ERR_SHAPE, "view", "(2,4,3)", "(2,12)", "reshape", NULL);
    lt_tensor *r = lt_reshape(ctx, t, LT_SHAPE(2, 12)); /* copies */
    ts_assert_shape(r, LT_SHAPE(2, 12));
    assert_ptr_not_equal(lt_data_f32(r), lt_data_f32(a));
    float want[24];
    for (int i = 0; i < 24; i++)
        want[i] = lt_get_f32(t, i);
    ts_assert_near(r, want, 24, 0, 0);
    /* reshape of a contiguous tensor is a view */
    assert_ptr_equal(lt_data_f32(lt_reshape(ctx, a, LT_SHAPE(6, 4))), lt_data_f32(a));
    assert_null(lt_reshape(ctx, a, LT_SHAPE(5, -1)));
    ts_assert_error(ctx, LT_ERR_SHAPE, "reshape", "(5,-1)", "24 elements", NULL);
    assert_null(lt_view(ctx, a, LT_SHAPE(-1, -1)));
    ts_assert_error(ctx, LT_ERR_SHAPE, "view", "(-1,-1)", NULL);
    lt_ctx_free(ctx);
}

static void test_transpose_permute(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = iota234(ctx);
    lt_tensor *p = lt_permute(ctx, a, (int[]){2, 0, 1}); /* (4,2,3): p[k][i][j] = a[i][j][k] */
    ts_assert_shape(p, LT_SHAPE(4, 2, 3));
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                assert_float_equal(lt_get_f32(p, (k * 2 + i) * 3 + j), (float)(i * 12 + j * 4 + k), 0);
    lt_tensor *t = lt_transpose(ctx, a, -1, 0); /* negative dims */
    ts_assert_shape(t, LT_SHAPE(4, 3, 2));
    assert_float_equal(lt_get_f32(t, 1), 12.0f, 0);
    assert_null(lt_transpose(ctx, a, 0, 3));
    ts_assert_error(ctx, LT_ERR_INDEX, "transpose", "dim 3", "rank 3", NULL);
    assert_null(lt_permute(ctx, a, (int[]){0, 0, 1}));
    ts_assert_error(ctx, LT_ERR_ARG, "permute", "twice", NULL);
    assert_null(lt_permute(ctx, a, NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "permute", NULL);
    lt_ctx_free(ctx);
}

static void test_narrow_select_unbind(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = iota234(ctx);
    lt_tensor *n = lt_narrow(ctx, a, 2, 1, 2); /* a[:, :, 1:3] */
    ts_assert_shape(n, LT_SHAPE(2, 3, 2));
    ts_assert_near(n, (float[]){1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22}, 12, 0, 0);
    lt_tensor *s = lt_select(ctx, n, 1, -1); /* view of a view: a[:, 2, 1:3] */
    ts_assert_shape(s, LT_SHAPE(2, 2));
    ts_assert_near(s, (float[]){9, 10, 21, 22}, 4, 0, 0);
    lt_set_f32(s, 3, 99.0f);
    assert_float_equal(lt_get_f32(a, 22), 99.0f, 0);
    int count = 0;
    lt_tensor **u = lt_unbind(ctx, a, 1, &count);
    assert_int_equal(count, 3);
    ts_assert_shape(u[2], LT_SHAPE(2, 4));
    ts_assert_near(u[1], (float[]){4, 5, 6, 7, 16, 17, 18, 19}, 8, 0, 0);
    lt_tensor *q = lt_unsqueeze(ctx, s, 1); /* (2,1,2) */
    ts_assert_shape(q, LT_SHAPE(2, 1, 2));
    ts_assert_near(q, (float[]){9, 10, 21, 99}, 4, 0, 0);
    ts_assert_shape(lt_unsqueeze(ctx, s, -1), LT_SHAPE(2, 2, 1));
    ts_assert_shape(lt_squeeze(ctx, q, 1), LT_SHAPE(2, 2));
    assert_null(lt_squeeze(ctx, q, 0));
    ts_assert_error(ctx, LT_ERR_SHAPE, "squeeze", "size 2", NULL);
    assert_null(lt_narrow(ctx, a, 2, 3, 2));
    ts_assert_error(ctx, LT_ERR_INDEX, "narrow", "[3, 5)", NULL);
    assert_null(lt_select(ctx, a, 0, 2));
    ts_assert_error(ctx, LT_ERR_INDEX, "select", "index 2", "size 2", NULL);
    assert_null(lt_unbind(ctx, a, 5, &count));
    assert_int_equal(count, 0);
    ts_assert_error(ctx, LT_ERR_INDEX, "unbind", "dim 5", NULL);
    lt_ctx_free(ctx);
}

static void test_contiguous_and_clone(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = iota234(ctx);
    assert_ptr_equal(lt_contiguous(ctx, a), a);
    lt_tensor *t = lt_transpose(ctx, a, 0, 1);
    lt_tensor *c = lt_contiguous(ctx, t);
    assert_true(lt_is_contiguous(c));
    for (int i = 0; i < 24; i++)
        assert_float_equal(lt_get_f32(c, i), lt_get_f32(t, i), 0);
    lt_tensor *k = lt_clone(ctx, a);
    assert_ptr_not_equal(lt_data_f32(k), lt_data_f32(a));
    lt_tensor *ix = lt_transpose(ctx, lt_from_i32(ctx, LT_SHAPE(2, 2), (int32_t[]){1, 2, 3, 4}), 0, 1);
    lt_tensor *ixc = lt_contiguous(ctx, ix);
    assert_int_equal(lt_get_i32(ixc, 1), 3);
    assert_int_equal(lt_tape_size(ctx), 0); /* nothing required grad */
    lt_ctx_free(ctx);
}

/* Gradient through a chain of views into the base. */
static lt_tensor *view_chain(lt_ctx *ctx, lt_tensor **in, void *user)
{
    (void)user;
    lt_tensor *t = lt_transpose(ctx, in[0], 0, 2);   /* (4,3,2) */
    lt_tensor *n = lt_narrow(ctx, t, 0, 1, 2);       /* (2,3,2) */
    lt_tensor *s = lt_select(ctx, n, 2, 1);          /* (2,3) */
    lt_tensor *u = lt_unsqueeze(ctx, s, 0);          /* (1,2,3) */
    return lt_reshape(ctx, u, LT_SHAPE(3, 2));      /* needs a copy */
}

static void test_gradient_through_views(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = iota234(ctx);
    lt_requires_grad(ctx, a, true);
    lt_tensor *out = view_chain(ctx, &a, NULL);
    assert_true(out->requires_grad);
    lt_tensor *w = lt_ones(ctx, LT_SHAPE(3, 2));
    assert_true(lt_backward_grad(ctx, out, w));
    /* selected: a[1, j, k] for k in 1..2, j in 0..2 -> a flat index 12 + 4j + k */
    for (int i = 0; i < 24; i++) {
        int b = i / 12, k = i % 4;
        float want = (b == 1 && (k == 1 || k == 2)) ? 1.0f : 0.0f;
        assert_float_equal(lt_grad_get(a, i), want, 0);
    }
    ts_gradcheck(view_chain, &a, 1, NULL, 1e-2, 1e-4, 1e-3);
    lt_ctx_free(ctx);
}

/* The same base reached through two different view chains in one graph. */
static lt_tensor *two_views(lt_ctx *ctx, lt_tensor **in, void *user)
{
    (void)user;
    lt_tensor *t = lt_clone(ctx, lt_transpose(ctx, in[0], 0, 1)); /* a^T, copied */
    return lt_clone(ctx, lt_transpose(ctx, t, 0, 1));              /* back to a */
}

static void test_gradient_accumulates_across_views(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = ts_random(ctx, LT_SHAPE(3, 3), 7, -1, 1);
    lt_requires_grad(ctx, a, true);
    ts_gradcheck(two_views, &a, 1, NULL, 1e-2, 1e-4, 1e-3);
    /* and two separate backward passes from two views accumulate */
    lt_zero_grad(a);
    lt_tensor *w = lt_ones(ctx, LT_SHAPE(3));
    assert_true(lt_backward_grad(ctx, lt_clone(ctx, lt_select(ctx, a, 0, 1)), w));
    lt_ctx_reset(ctx);
    w = lt_ones(ctx, LT_SHAPE(3));
    assert_true(lt_backward_grad(ctx, lt_clone(ctx, lt_select(ctx, a, 1, 1)), w));
    /* a[1][1] got 1 from each pass */
    ts_assert_near(lt_grad(ctx, a), (float[]){0, 1, 0, 1, 2, 1, 0, 1, 0}, 9, 0, 0);
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_view_and_infer),
        cmocka_unit_test(test_view_needs_copy),
        cmocka_unit_test(test_transpose_permute),
        cmocka_unit_test(test_narrow_select_unbind),
        cmocka_unit_test(test_contiguous_and_clone),
        cmocka_unit_test(test_gradient_through_views),
        cmocka_unit_test(test_gradient_accumulates_across_views),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
