/* test_hostile_ops.c - op arguments at the edges of int64, and empty tensors
 * whose other sizes are huge: the cases the op fuzzer (fuzz/fuzz_ops.c)
 * found, each now an error with a message or a cheap success. */
#include "test_support.h"

#include <stdint.h>

static void test_narrow_extreme_ranges(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *t = lt_new(ctx, LT_F32, LT_SHAPE(4, 5));
    /* start + length overflowed int64 (undefined behaviour) before the check */
    assert_null(lt_narrow(ctx, t, 1, INT64_MAX, 1));
    ts_assert_error(ctx, LT_ERR_INDEX, "narrow: start 9223372036854775807, length 1 outside 0..5 of dim 1", NULL);
    assert_null(lt_narrow(ctx, t, 1, 4, INT64_MAX));
    ts_assert_error(ctx, LT_ERR_INDEX, "narrow: start 4, length 9223372036854775807 outside 0..5 of dim 1", NULL);
    assert_null(lt_narrow(ctx, t, 0, INT64_MIN, -1));
    ts_assert_error(ctx, LT_ERR_INDEX, "narrow: start -9223372036854775808, length -1 outside 0..4", NULL);
    assert_null(lt_narrow(ctx, t, 0, 3, 2));
    ts_assert_error(ctx, LT_ERR_INDEX, "narrow: range [3, 5) outside 0..4 of dim 0", NULL);
    lt_tensor *v = lt_narrow(ctx, t, 1, 5, 0); /* an empty range at the end is fine */
    assert_non_null(v);
    ts_assert_shape(v, LT_SHAPE(4, 0));
    assert_null(lt_select(ctx, t, 0, INT64_MIN));
    ts_assert_error(ctx, LT_ERR_INDEX, "select: index -9223372036854775808 out of range for dim 0 of size 4", NULL);
    lt_ctx_free(ctx);
}

static void test_huge_shapes(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    /* empty, but its contiguous strides would overflow int64 */
    assert_null(lt_new(ctx, LT_F32, LT_SHAPE(0, INT64_C(1) << 62, 4)));
    ts_assert_error(ctx, LT_ERR_SHAPE, "new: shape (0,4611686018427387904,4) has too many elements", NULL);
    assert_null(lt_zeros(ctx, LT_F32, LT_SHAPE(0, INT64_C(1) << 41)));
    ts_assert_error(ctx, LT_ERR_SHAPE, "shape (0,2199023255552) has too many elements (sizes multiply to more than 2^40)", NULL);
    lt_tensor *e = lt_new(ctx, LT_F32, LT_SHAPE(0, 3));
    assert_null(lt_view(ctx, e, LT_SHAPE(INT64_MAX, 8, 0))); /* the product overflowed */
    ts_assert_error(ctx, LT_ERR_SHAPE, "view: shape (9223372036854775807,8,0) has too many elements", NULL);
    assert_null(lt_reshape(ctx, e, LT_SHAPE(0, INT64_C(1) << 62, 4)));
    ts_assert_error(ctx, LT_ERR_SHAPE, "reshape", "too many elements", NULL);
    lt_tensor *ok = lt_view(ctx, e, LT_SHAPE(INT64_C(1) << 20, 0, INT64_C(1) << 20)); /* exactly 2^40: allowed */
    assert_non_null(ok);
    ts_assert_shape(ok, LT_SHAPE(INT64_C(1) << 20, 0, INT64_C(1) << 20));
    lt_ctx_free(ctx);
}

/* An empty (0, 2^20, 2^20) tensor: ops over it must not loop or allocate
 * in proportion to the sizes that are not zero. */
static void test_empty_with_huge_sizes(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *e = lt_new(ctx, LT_F32, LT_SHAPE(0, INT64_C(1) << 20, INT64_C(1) << 20));
    assert_non_null(e);
    lt_tensor *s = lt_softmax(ctx, e, 2); /* looped over 2^40 empty slices */
    assert_non_null(s);
    ts_assert_shape(s, lt_shape_of(e));
    assert_non_null(lt_log_softmax(ctx, e, 0));
    lt_tensor *x = lt_new(ctx, LT_F32, LT_SHAPE(0, 3, INT64_C(1) << 32));
    lt_tensor *r = lt_sum_dim(ctx, x, 1, false); /* allocated 2^32 doubles of scratch */
    assert_non_null(r);
    ts_assert_shape(r, LT_SHAPE(0, INT64_C(1) << 32));
    assert_non_null(lt_mean_dim(ctx, x, 1, true));
    /* inner size 0, huge outer and reduced sizes: looped 2^40 times */
    lt_tensor *w = lt_requires_grad(ctx, lt_new(ctx, LT_F32, LT_SHAPE(INT64_C(1) << 20, INT64_C(1) << 20, 0)), true);
    lt_tensor *m = lt_max_dim(ctx, w, 1, false, NULL);
    assert_non_null(m);
    ts_assert_shape(m, LT_SHAPE(INT64_C(1) << 20, 0));
    lt_tensor *sd = lt_sum_dim(ctx, w, 1, true);
    assert_non_null(sd);
    assert_true(lt_backward(ctx, lt_add(ctx, lt_sum(ctx, m), lt_sum(ctx, sd))));
    lt_ctx_reset(ctx);
    /* cat of the same empty (0, 2^39) tensor three times: the result's sizes would pass 2^40 */
    lt_tensor *z = lt_new(ctx, LT_F32, LT_SHAPE(0, INT64_C(1) << 39));
    assert_null(lt_cat(ctx, (lt_tensor *const[]){z, z, z}, 3, 1));
    ts_assert_error(ctx, LT_ERR_SHAPE, "cat: the result has more than 2^40 elements along dim 1", NULL);
    lt_tensor *y = lt_new(ctx, LT_F32, LT_SHAPE(1, INT64_C(1) << 39, 0));
    assert_null(lt_cat(ctx, (lt_tensor *const[]){y, y, y}, 3, 0));
    ts_assert_error(ctx, LT_ERR_SHAPE, "cat: shape (3,549755813888,0) has too many elements", NULL);
    lt_tensor *two = lt_cat(ctx, (lt_tensor *const[]){z, z}, 2, 1);
    assert_non_null(two);
    ts_assert_shape(two, LT_SHAPE(0, INT64_C(1) << 40));
    assert_true(lt_ctx_arena_reserved(ctx) < (1u << 24));
    lt_ctx_free(ctx);
}

/* Results composed from two inputs, each within the size limit: the
 * result's sizes are checked too (they overflowed the strides and the
 * element count: (0, 2^40) @ (2^40... would be (2^40, 2^40)). */
static void test_composed_result_shapes(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    int64_t big = INT64_C(1) << 40;
    lt_tensor *a = lt_new(ctx, LT_F32, LT_SHAPE(big, 0)), *b = lt_new(ctx, LT_F32, LT_SHAPE(0, big));
    assert_null(lt_matmul(ctx, a, b));
    ts_assert_error(ctx, LT_ERR_SHAPE, "matmul: shape (1099511627776,1099511627776) has too many elements", NULL);
    assert_null(lt_linear(ctx, a, b, NULL));
    ts_assert_error(ctx, LT_ERR_SHAPE, "linear: shape (1099511627776,1099511627776) has too many elements", NULL);
    lt_tensor *col = lt_new(ctx, LT_F32, LT_SHAPE(big, 1, 0)), *row = lt_new(ctx, LT_F32, LT_SHAPE(big, 0));
    lt_tensor *c2 = lt_view(ctx, row, LT_SHAPE(1, big, 0));
    assert_non_null(c2);
    assert_null(lt_add(ctx, col, c2)); /* (2^40, 1, 0) + (1, 2^40, 0) -> (2^40, 2^40, 0) */
    ts_assert_error(ctx, LT_ERR_SHAPE, "add: shape (1099511627776,1099511627776,0) has too many elements", NULL);
    lt_tensor *x = lt_new(ctx, LT_I32, LT_SHAPE(0, INT64_C(1) << 31));
    lt_tensor *table = lt_new(ctx, LT_F32, LT_SHAPE(1, INT64_C(1) << 31, 0));
    assert_null(lt_index(ctx, table, x)); /* (0, 2^31) + (2^31, 0) -> (0, 2^31, 2^31, 0): strides overflowed */
    ts_assert_error(ctx, LT_ERR_SHAPE, "index: shape (0,2147483648,2147483648,0) has too many elements", NULL);
    lt_tensor *ok = lt_matmul(ctx, lt_new(ctx, LT_F32, LT_SHAPE(INT64_C(1) << 20, 0)),
                              lt_new(ctx, LT_F32, LT_SHAPE(0, 3)));
    assert_non_null(ok); /* (2^20, 3) of zeros: allowed */
    ts_assert_shape(ok, LT_SHAPE(INT64_C(1) << 20, 3));
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_narrow_extreme_ranges),
        cmocka_unit_test(test_huge_shapes),
        cmocka_unit_test(test_empty_with_huge_sizes),
        cmocka_unit_test(test_composed_result_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
