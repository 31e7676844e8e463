/* test_cat.c - lt_cat: forward along every dim (negative too), i32,
 * non-contiguous inputs, each input's slice of the gradient, error paths. */
#include "test_support.h"

static void test_cat_forward_known(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_from_f32(ctx, LT_SHAPE(2, 2), (float[]){1, 2, 3, 4});
    lt_tensor *b = lt_from_f32(ctx, LT_SHAPE(2, 3), (float[]){5, 6, 7, 8, 9, 10});
    lt_tensor *r = lt_cat(ctx, (lt_tensor *[]){a, b}, 2, 1); /* (2,2) | (2,3) -> (2,5) */
    ts_assert_shape(r, LT_SHAPE(2, 5));
    ts_assert_near(r, (float[]){1, 2, 5, 6, 7, 3, 4, 8, 9, 10}, 10, 0, 0);
    /* dim -1 is the same */
    ts_assert_tensors_near(lt_cat(ctx, (lt_tensor *[]){a, b}, 2, -1), r, 0);
    /* along dim 0, three inputs */
    lt_tensor *c = lt_from_f32(ctx, LT_SHAPE(1, 2), (float[]){-1, -2});
    lt_tensor *s = lt_cat(ctx, (lt_tensor *[]){c, a, c}, 3, 0);
    ts_assert_shape(s, LT_SHAPE(4, 2));
    ts_assert_near(s, (float[]){-1, -2, 1, 2, 3, 4, -1, -2}, 8, 0, 0);
    /* one input: a copy */
    lt_tensor *one = lt_cat(ctx, &b, 1, 0);
    ts_assert_tensors_near(one, b, 0);
    assert_true(one->storage != b->storage);
    assert_int_equal(lt_status_of(ctx), LT_OK);
    lt_ctx_free(ctx);
}

/* The middle dim of a rank-3 tensor: blocks interleave per outer index. */
static void test_cat_middle_dim(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_from_f32(ctx, LT_SHAPE(2, 1, 2), (float[]){1, 2, 3, 4});
    lt_tensor *b = lt_from_f32(ctx, LT_SHAPE(2, 2, 2), (float[]){10, 11, 12, 13, 14, 15, 16, 17});
    lt_tensor *r = lt_cat(ctx, (lt_tensor *[]){a, b}, 2, -2);
    ts_assert_shape(r, LT_SHAPE(2, 3, 2));
    ts_assert_near(r, (float[]){1, 2, 10, 11, 12, 13, 3, 4, 14, 15, 16, 17}, 12, 0, 0);
    /* an input that is empty along dim contributes nothing */
    lt_tensor *e = lt_zeros(ctx, LT_F32, LT_SHAPE(2, 0, 2));
    ts_assert_tensors_near(lt_cat(ctx, (lt_tensor *[]){e, a, e, b}, 4, 1), r, 0);
    lt_ctx_free(ctx);
}

static void test_cat_i32(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_from_i32(ctx, LT_SHAPE(2, 1), (int32_t[]){1, 2});
    lt_tensor *base = lt_from_i32(ctx, LT_SHAPE(2, 2), (int32_t[]){3, 4, 5, 6});
    lt_tensor *bt = lt_transpose(ctx, base, 0, 1); /* (2,2): 3 5 / 4 6 */
    lt_tensor *r = lt_cat(ctx, (lt_tensor *[]){a, bt}, 2, 1);
    ts_assert_shape(r, LT_SHAPE(2, 3));
    assert_int_equal(r->dtype, LT_I32);
    int32_t want[6] = {1, 3, 5, 2, 4, 6};
    for (int i = 0; i < 6; i++)
        assert_int_equal(lt_get_i32(r, i), want[i]);
    assert_false(r->requires_grad);
    assert_int_equal(lt_tape_size(ctx), 0);
    lt_ctx_free(ctx);
}

/* Strided inputs: transposed, narrowed, selected, and a view of a view. */
static void test_cat_noncontiguous_forward(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *m = lt_from_f32(ctx, LT_SHAPE(3, 4), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
    lt_tensor *t = lt_transpose(ctx, m, 0, 1);                          /* (4,3) */
    lt_tensor *n = lt_narrow(ctx, t, 1, 1, 2);                          /* (4,2): cols 1,2 of t */
    lt_tensor *s = lt_unsqueeze(ctx, lt_select(ctx, m, 0, 2), 1);       /* (4,1): row 2 of m */
    lt_tensor *r = lt_cat(ctx, (lt_tensor *[]){t, n, s}, 3, 1);         /* (4,6) */
    ts_assert_shape(r, LT_SHAPE(4, 6));
    ts_assert_near(r,
                   (float[]){0, 4, 8, 4, 8, 8,  1, 5, 9, 5, 9, 9,
                             2, 6, 10, 6, 10, 10, 3, 7, 11, 7, 11, 11},
                   24, 0, 0);
    lt_ctx_free(ctx);
}

/* Each input receives exactly its slice of the upstream gradient. */
static void test_cat_backward_slices(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(2, 1), 1, -1, 1), true);
    lt_tensor *b = ts_random(ctx, LT_SHAPE(2, 2), 2, -1, 1); /* no grad */
    lt_tensor *c = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(2, 2), 3, -1, 1), true);
    lt_tensor *r = lt_cat(ctx, (lt_tensor *[]){a, b, c}, 3, 1); /* (2,5) */
    assert_true(r->requires_grad);
    lt_tensor *up = lt_from_f32(ctx, LT_SHAPE(2, 5), (float[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
    assert_true(lt_backward_grad(ctx, r, up));
    ts_assert_near(lt_grad(ctx, a), (float[]){1, 6}, 2, 0, 0);
    ts_assert_near(lt_grad(ctx, c), (float[]){4, 5, 9, 10}, 4, 0, 0);
    assert_null(lt_grad_f32(b));
    lt_ctx_free(ctx);
}

typedef struct {
    int dim;
} cat_case;

/* three rank-3 inputs built so that they fit along any dim */
static lt_tensor *cat3_fn(lt_ctx *ctx, lt_tensor **in, void *user)
{
    const cat_case *cc = user;
    return lt_cat(ctx, in, 3, cc->dim);
}

static void test_cat_gradcheck_dims(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_shape sizes[3][3] = {
        {LT_SHAPE(1, 3, 2), LT_SHAPE(2, 3, 2), LT_SHAPE(3, 3, 2)},
        {LT_SHAPE(2, 1, 2), LT_SHAPE(2, 3, 2), LT_SHAPE(2, 2, 2)},
        {LT_SHAPE(2, 3, 1), LT_SHAPE(2, 3, 2), LT_SHAPE(2, 3, 3)},
    };
    for (int d = 0; d < 3; d++) {
        lt_tensor *in[3];
        for (int k = 0; k < 3; k++)
            in[k] = lt_requires_grad(ctx, ts_random(ctx, sizes[d][k], (uint64_t)(10 * d + k), -1, 1), true);
        cat_case cc = {d - 3}; /* negative form of dim d */
        ts_gradcheck(cat3_fn, in, 3, &cc, 1e-2, 1e-3, 1e-3);
    }
    lt_ctx_free(ctx);
}

/* Non-contiguous inputs, views of views; gradients must reach the bases. */
static lt_tensor *cat_views_fn(lt_ctx *ctx, lt_tensor **in, void *user)
{
    (void)user;
    lt_tensor *t = lt_transpose(ctx, in[0], 0, 1);                    /* (3,4) -> (4,3) */
    lt_tensor *n = lt_narrow(ctx, lt_transpose(ctx, in[1], 0, 1), 1, 1, 2); /* (5,4) -> (4,5) -> (4,2) */
    lt_tensor *s = lt_unsqueeze(ctx, lt_select(ctx, in[0], 0, 1), 1); /* (4,1) */
    return lt_cat(ctx, (lt_tensor *[]){t, n, s, t}, 4, 1);             /* (4,9), t twice */
}

static void test_cat_gradcheck_views(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *in[2] = {lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(3, 4), 7, -1, 1), true),
                        lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(5, 4), 8, -1, 1), true)};
    ts_gradcheck(cat_views_fn, in, 2, NULL, 1e-2, 1e-3, 1e-3);
    lt_ctx_free(ctx);
}

static void test_cat_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_zeros(ctx, LT_F32, LT_SHAPE(3, 4));
    lt_tensor *b = lt_zeros(ctx, LT_F32, LT_SHAPE(2, 4));
    assert_null(lt_cat(ctx, NULL, 2, 0));
    ts_assert_error(ctx, LT_ERR_ARG, "cat", "NULL", NULL);
    assert_null(lt_cat(ctx, (lt_tensor *[]){a}, 0, 0));
    ts_assert_error(ctx, LT_ERR_ARG, "cat", "n = 0", NULL);
    assert_null(lt_cat(ctx, (lt_tensor *[]){a, NULL}, 2, 0));
    ts_assert_error(ctx, LT_ERR_ARG, "cat", "tensor 1", "NULL", NULL);
    assert_null(lt_cat(ctx, (lt_tensor *[]){a, lt_zeros(ctx, LT_I32, LT_SHAPE(3, 4))}, 2, 0));
    ts_assert_error(ctx, LT_ERR_DTYPE, "cat", "tensor 1", "i32", "f32", NULL);
    assert_null(lt_cat(ctx, (lt_tensor *[]){a, b, lt_zeros(ctx, LT_F32, LT_SHAPE(4))}, 3, 0));
    ts_assert_error(ctx, LT_ERR_SHAPE, "cat", "tensor 2", "(4)", "(3,4)", "rank", NULL);
    assert_null(lt_cat(ctx, (lt_tensor *[]){a, b}, 2, 1));
    ts_assert_error(ctx, LT_ERR_SHAPE, "cat", "tensor 1", "(2,4)", "(3,4)", "dim 1", NULL);
    assert_null(lt_cat(ctx, (lt_tensor *[]){a, b}, 2, 2));
    ts_assert_error(ctx, LT_ERR_INDEX, "cat", "dim 2", "rank 2", NULL);
    assert_null(lt_cat(ctx, (lt_tensor *[]){a, b}, 2, -3));
    ts_assert_error(ctx, LT_ERR_INDEX, "cat", "dim -3", NULL);
    lt_tensor *sc = lt_zeros(ctx, LT_F32, LT_SHAPE0);
    assert_null(lt_cat(ctx, (lt_tensor *[]){sc, sc}, 2, 0));
    ts_assert_error(ctx, LT_ERR_SHAPE, "cat", "scalar", NULL);
    /* sticky: after an error even a valid cat returns NULL */
    assert_null(lt_cat(ctx, (lt_tensor *[]){a, b}, 2, 1));
    assert_null(lt_cat(ctx, (lt_tensor *[]){a, b}, 2, 0));
    ts_assert_error(ctx, LT_ERR_SHAPE, "cat", NULL);
    ts_assert_shape(lt_cat(ctx, (lt_tensor *[]){a, b}, 2, 0), LT_SHAPE(5, 4));
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cat_forward_known),        cmocka_unit_test(test_cat_middle_dim),
        cmocka_unit_test(test_cat_i32),                  cmocka_unit_test(test_cat_noncontiguous_forward),
        cmocka_unit_test(test_cat_backward_slices),      cmocka_unit_test(test_cat_gradcheck_dims),
        cmocka_unit_test(test_cat_gradcheck_views),      cmocka_unit_test(test_cat_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
