/* test_index.c - lt_index (C[X]): forward against hand values and PyTorch,
 * shapes, negative indices, strided tables and index tensors, the
 * scatter-add backward (repeated indices accumulate), error paths. */
#include "test_support.h"

#include <string.h>

#include "data/golden_softmax.h"

/* Table whose element (r, j) is 10*r + j, so every output names its source. */
static lt_tensor *numbered_table(lt_ctx *ctx, int64_t rows, int64_t cols)
{
    lt_tensor *c = lt_new(ctx, LT_F32, LT_SHAPE(rows, cols));
    assert_non_null(c);
    for (int64_t i = 0; i < rows * cols; i++)
        lt_data_f32(c)[i] = (float)(10 * (i / cols) + i % cols);
    return c;
}

static void test_index_forward_known(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *c = numbered_table(ctx, 4, 3);
    lt_tensor *x = lt_from_i32(ctx, LT_SHAPE(2, 3), (int32_t[]){0, 3, 1, 2, 2, 0});
    lt_tensor *e = lt_index(ctx, c, x); /* (2,3) indexing (4,3) -> (2,3,3) */
    ts_assert_shape(e, LT_SHAPE(2, 3, 3));
    ts_assert_near(e,
                   (float[]){0, 1, 2, 30, 31, 32, 10, 11, 12, /* row 0 of X */
                             20, 21, 22, 20, 21, 22, 0, 1, 2}, /* row 1 of X */
                   18, 0, 0);
    assert_true(lt_is_contiguous(e));
    assert_int_equal(lt_tape_size(ctx), 0); /* nothing requires grad */
    lt_ctx_free(ctx);
}

static void test_index_shapes(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *c = numbered_table(ctx, 27, 10);
    lt_tensor *x = lt_zeros(ctx, LT_I32, LT_SHAPE(32, 3));
    ts_assert_shape(lt_index(ctx, c, x), LT_SHAPE(32, 3, 10));
    /* rank-0 index: one row, C[5] */
    lt_tensor *five = lt_zeros(ctx, LT_I32, LT_SHAPE0);
    lt_set_i32(five, 0, 5);
    lt_tensor *r = lt_index(ctx, c, five);
    ts_assert_shape(r, LT_SHAPE(10));
    ts_assert_near(r, (float[]){50, 51, 52, 53, 54, 55, 56, 57, 58, 59}, 10, 0, 0);
    /* rank-1 table: result has the index shape */
    lt_tensor *v = lt_from_f32(ctx, LT_SHAPE(5), (float[]){7, 8, 9, 10, 11});
    lt_tensor *g = lt_index(ctx, v, lt_from_i32(ctx, LT_SHAPE(2, 2), (int32_t[]){4, 0, 2, 2}));
    ts_assert_shape(g, LT_SHAPE(2, 2));
    ts_assert_near(g, (float[]){11, 7, 9, 9}, 4, 0, 0);
    /* rank-3 table: trailing dims are kept */
    lt_tensor *t3 = lt_view(ctx, numbered_table(ctx, 4, 6), LT_SHAPE(4, 2, 3));
    lt_tensor *h = lt_index(ctx, t3, lt_from_i32(ctx, LT_SHAPE(1), (int32_t[]){2}));
    ts_assert_shape(h, LT_SHAPE(1, 2, 3));
    ts_assert_near(h, (float[]){20, 21, 22, 23, 24, 25}, 6, 0, 0);
    /* an empty index tensor gives an empty result */
    ts_assert_shape(lt_index(ctx, c, lt_zeros(ctx, LT_I32, LT_SHAPE(0))), LT_SHAPE(0, 10));
    assert_int_equal(lt_status_of(ctx), LT_OK);
    lt_ctx_free(ctx);
}

/* Negative indices count from the end, as in PyTorch. */
static void test_index_negative(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *c = numbered_table(ctx, 4, 2);
    lt_tensor *e = lt_index(ctx, c, lt_from_i32(ctx, LT_SHAPE(3), (int32_t[]){-1, -4, 1}));
    ts_assert_near(e, (float[]){30, 31, 0, 1, 10, 11}, 6, 0, 0);
    assert_null(lt_index(ctx, c, lt_from_i32(ctx, LT_SHAPE(2), (int32_t[]){0, -5})));
    ts_assert_error(ctx, LT_ERR_INDEX, "index: index -5 out of range for dimension 0 of size 4", NULL);
    lt_ctx_free(ctx);
}

/* The notebook's embedding: PyTorch's C[X] for the seeded C (27,10). */
static void test_index_golden_notebook(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *c = lt_from_f32(ctx, LT_SHAPE(27, 10), golden_nb_c);
    lt_tensor *x = lt_from_i32(ctx, LT_SHAPE(32, 3), golden_nb_x);
    lt_tensor *emb = lt_index(ctx, c, x);
    ts_assert_shape(emb, LT_SHAPE(32, 3, 10));
    ts_assert_near(emb, golden_nb_emb, 960, 0, 0); /* a copy: bit exact */
    lt_ctx_free(ctx);
}

/* X read through its strides: transposed, narrowed and selected views of a
 * larger index tensor give the same result as dense copies of them. */
static void test_index_strided_indices(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *c = numbered_table(ctx, 9, 3);
    int32_t big[4 * 6];
    for (int i = 0; i < 24; i++)
        big[i] = (i * 5) % 9;
    lt_tensor *base = lt_from_i32(ctx, LT_SHAPE(4, 6), big);
    lt_tensor *views[] = {
        lt_transpose(ctx, base, 0, 1),                                 /* (6,4) */
        lt_narrow(ctx, base, 1, 2, 3),                                 /* (4,3) */
        lt_select(ctx, base, 1, 4),                                    /* (4,)  */
        lt_narrow(ctx, lt_transpose(ctx, base, 0, 1), 0, 1, 4),        /* view of a view (4,4) */
    };
    for (size_t k = 0; k < sizeof views / sizeof *views; k++) {
        lt_tensor *xv = views[k];
        assert_non_null(xv);
        int32_t dense[24];
        lt_copy_out_i32(xv, dense);
        lt_tensor *xd = lt_from_i32(ctx, lt_shape_of(xv), dense);
        lt_tensor *a = lt_index(ctx, c, xv), *b = lt_index(ctx, c, xd);
        ts_assert_tensors_near(a, b, 0);
        /* and each row really is C[X[i]] */
        for (int64_t i = 0; i < lt_numel(xv); i++)
            assert_float_equal(lt_get_f32(a, i * 3 + 2), 10.0f * (float)lt_get_i32(xv, i) + 2.0f, 0);
    }
    lt_ctx_free(ctx);
}

/* A transposed (non-contiguous) table is read correctly. */
static void test_index_strided_table(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *base = numbered_table(ctx, 3, 4);   /* (3,4) */
    lt_tensor *ct = lt_transpose(ctx, base, 0, 1); /* (4,3): row r is column r of base */
    lt_tensor *e = lt_index(ctx, ct, lt_from_i32(ctx, LT_SHAPE(2), (int32_t[]){3, 1}));
    ts_assert_near(e, (float[]){3, 13, 23, 1, 11, 21}, 6, 0, 0);
    lt_ctx_free(ctx);
}

/* Repeated indices accumulate: with an all-ones upstream gradient, row r of
 * dC is the number of times r was picked. */
static void test_index_backward_repeated(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *c = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(5, 2), 1, -1, 1), true);
    lt_tensor *x = lt_from_i32(ctx, LT_SHAPE(2, 3), (int32_t[]){1, 1, 4, 1, 0, -1});
    lt_tensor *e = lt_index(ctx, c, x);
    assert_int_equal(lt_tape_size(ctx), 1);
    float up[12];
    for (int i = 0; i < 12; i++)
        up[i] = (float)(i + 1);
    assert_true(lt_backward_grad(ctx, e, lt_from_f32(ctx, LT_SHAPE(2, 3, 2), up)));
    /* row 1 <- lookups 0,1,3; row 4 <- lookups 2,5 (-1); row 0 <- lookup 4 */
    float want[10] = {9, 10, 1 + 3 + 7, 2 + 4 + 8, 0, 0, 0, 0, 5 + 11, 6 + 12};
    for (int i = 0; i < 10; i++)
        assert_float_equal(lt_grad_get(c, i), want[i], 0);
    lt_ctx_free(ctx);
}

static lt_tensor *index_fn(lt_ctx *ctx, lt_tensor **in, void *user)
{
    const int32_t *ix = user;
    return lt_index(ctx, in[0], lt_from_i32(ctx, LT_SHAPE(3, 4), ix));
}

/* the table is a transposed view of the parameter, the indices a strided
 * view of a bigger tensor: the gradient must still land in the base */
static lt_tensor *index_views_fn(lt_ctx *ctx, lt_tensor **in, void *user)
{
    const int32_t *ix = user;
    lt_tensor *xbig = lt_from_i32(ctx, LT_SHAPE(4, 6), ix);
    lt_tensor *x = lt_narrow(ctx, lt_transpose(ctx, xbig, 0, 1), 0, 1, 3); /* (3,4) */
    return lt_index(ctx, lt_transpose(ctx, in[0], 0, 1), x);
}

static void test_index_gradcheck(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    int32_t ix[12] = {2, 2, 0, 5, 5, 5, 1, 2, -2, 3, 0, 2}; /* repeats and a negative */
    lt_tensor *c = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(6, 3), 2, -1, 1), true);
    ts_gradcheck(index_fn, &c, 1, ix, 1e-2, 1e-3, 1e-3);
    int32_t big[24];
    for (int i = 0; i < 24; i++)
        big[i] = (i * 7) % 6;
    lt_tensor *base = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(3, 6), 3, -1, 1), true);
    ts_gradcheck(index_views_fn, &base, 1, big, 1e-2, 1e-3, 1e-3);
    lt_ctx_free(ctx);
}

static void test_index_no_grad_mode(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *c = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(3, 2), 4, -1, 1), true);
    lt_tensor *x = lt_from_i32(ctx, LT_SHAPE(2), (int32_t[]){2, 0});
    lt_set_grad_enabled(ctx, false);
    lt_tensor *e = lt_index(ctx, c, x);
    assert_non_null(e);
    assert_false(e->requires_grad);
    assert_int_equal(lt_tape_size(ctx), 0);
    lt_set_grad_enabled(ctx, true);
    assert_true(lt_index(ctx, c, x)->requires_grad);
    assert_int_equal(lt_tape_size(ctx), 1);
    lt_ctx_free(ctx);
}

/* An I32 table: Xtr[ix] picks minibatch rows; never recorded. */
static void test_index_i32_table(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *xtr = lt_from_i32(ctx, LT_SHAPE(4, 3), (int32_t[]){0, 0, 1, 0, 1, 2, 1, 2, 3, 2, 3, 4});
    lt_tensor *ix = lt_from_i32(ctx, LT_SHAPE(3), (int32_t[]){3, 0, 3});
    lt_tensor *xb = lt_index(ctx, xtr, ix);
    assert_non_null(xb);
    assert_int_equal(xb->dtype, LT_I32);
    ts_assert_shape(xb, LT_SHAPE(3, 3));
    const int32_t want[] = {2, 3, 4, 0, 0, 1, 2, 3, 4};
    for (int i = 0; i < 9; i++)
        assert_int_equal(lt_get_i32(xb, i), want[i]);
    /* a column of a transposed I32 table */
    lt_tensor *col = lt_index(ctx, lt_transpose(ctx, xtr, 0, 1), lt_from_i32(ctx, LT_SHAPE(1), (int32_t[]){2}));
    ts_assert_shape(col, LT_SHAPE(1, 4));
    assert_int_equal(lt_get_i32(col, 3), 4);
    assert_int_equal(lt_tape_size(ctx), 0);
    lt_ctx_free(ctx);
}

static void test_index_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *c = numbered_table(ctx, 27, 10);
    lt_tensor *x = lt_zeros(ctx, LT_I32, LT_SHAPE(32, 3));
    assert_null(lt_index(ctx, NULL, x));
    ts_assert_error(ctx, LT_ERR_ARG, "index", "argument 1 is NULL", NULL);
    assert_null(lt_index(ctx, c, NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "index", "argument 2 is NULL", NULL);
    assert_null(lt_index(ctx, c, lt_zeros(ctx, LT_F32, LT_SHAPE(32, 3))));
    ts_assert_error(ctx, LT_ERR_DTYPE, "index", "indices", "i32", "(32,3)", NULL);
    assert_null(lt_index(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE0), x));
    ts_assert_error(ctx, LT_ERR_SHAPE, "index", "rank >= 1", NULL);
    assert_null(lt_index(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 2, 2, 2)), lt_zeros(ctx, LT_I32, LT_SHAPE(1, 1, 1, 3))));
    ts_assert_error(ctx, LT_ERR_SHAPE, "index", "(2,2,2,2)", "(1,1,1,3)", "rank 7", NULL);
    /* out of range: the first bad value is named */
    lt_set_i32(x, 40, 27);
    lt_set_i32(x, 50, 99);
    assert_null(lt_index(ctx, c, x));
    ts_assert_error(ctx, LT_ERR_INDEX, "index: index 27 out of range for dimension 0 of size 27", NULL);
    assert_int_equal(lt_tape_size(ctx), 0);
    /* an empty table has no valid index */
    assert_null(lt_index(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(0, 3)), lt_zeros(ctx, LT_I32, LT_SHAPE(1))));
    ts_assert_error(ctx, LT_ERR_INDEX, "index 0 out of range", "size 0", NULL);
    /* sticky: a recorded error makes the next (valid) call fail too */
    lt_set_i32(x, 40, 0);
    lt_set_i32(x, 50, 0);
    assert_null(lt_index(ctx, c, lt_from_i32(ctx, LT_SHAPE(1), (int32_t[]){-28})));
    assert_null(lt_index(ctx, c, x));
    ts_assert_error(ctx, LT_ERR_INDEX, "index -28", NULL);
    assert_non_null(lt_index(ctx, c, x));
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_forward_known),   cmocka_unit_test(test_index_shapes),
        cmocka_unit_test(test_index_negative),        cmocka_unit_test(test_index_golden_notebook),
        cmocka_unit_test(test_index_strided_indices), cmocka_unit_test(test_index_strided_table),
        cmocka_unit_test(test_index_backward_repeated), cmocka_unit_test(test_index_gradcheck),
        cmocka_unit_test(test_index_no_grad_mode),    cmocka_unit_test(test_index_i32_table),
        cmocka_unit_test(test_index_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
