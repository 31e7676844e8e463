/* test_flatten.c - flatten_consecutive: (B,T,C) -> (B,T/n,C*n) puts n
 * consecutive steps side by side; a view of contiguous input (same storage,
 * no copy), a correct copy of a strided one, gradients through both (finite
 * differences), and the error messages. */
#include "test_support.h"

/* y[b, t, k*C + c] == x[b, t*n + k, c] for every element. */
static void check_layout(const lt_tensor *x, const lt_tensor *y, int n)
{
    int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2];
    ts_assert_shape(y, LT_SHAPE(B, T / n, C * n));
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T / n; t++)
            for (int64_t k = 0; k < n; k++)
                for (int64_t c = 0; c < C; c++)
                    assert_true(lt_get_f32(y, (b * (T / n) + t) * C * n + k * C + c) ==
                                lt_get_f32(x, (b * T + t * n + k) * C + c));
}

static void test_view_of_contiguous(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = ts_random(ctx, LT_SHAPE(2, 8, 3), 1, -1, 1);
    for (int n = 1; n <= 8; n *= 2) {
        lt_tensor *y = lt_flatten_consecutive(ctx, x, n);
        assert_non_null(y);
        assert_ptr_equal(y->storage, x->storage); /* a view: no copy */
        check_layout(x, y, n);
    }
    /* level by level, as the hierarchical model does: 8 -> 4 -> 2 -> 1 */
    lt_tensor *h = x;
    for (int level = 0; level < 3; level++)
        h = lt_flatten_consecutive(ctx, h, 2);
    ts_assert_shape(h, LT_SHAPE(2, 1, 24));
    assert_ptr_equal(h->storage, x->storage);
    lt_ctx_free(ctx);
}

static void test_copy_of_strided(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *base = ts_random(ctx, LT_SHAPE(2, 3, 4), 2, -1, 1);
    lt_tensor *x = lt_transpose(ctx, base, 1, 2); /* (2,4,3), not contiguous */
    lt_tensor *y = lt_flatten_consecutive(ctx, x, 2);
    assert_non_null(y);
    check_layout(x, y, 2);
    lt_ctx_free(ctx);
}

static lt_tensor *flatten_fn(lt_ctx *ctx, lt_tensor **in, void *user)
{
    bool strided = *(bool *)user;
    lt_tensor *x = strided ? lt_transpose(ctx, in[0], 1, 2) : in[0];
    return lt_mul(ctx, lt_flatten_consecutive(ctx, x, 2), lt_flatten_consecutive(ctx, x, 2));
}

static void test_gradcheck(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    for (int s = 0; s < 2; s++) {
        bool strided = s == 1;
        lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(2, 4, 4), 3 + s, -1, 1), true);
        ts_gradcheck(flatten_fn, &x, 1, &strided, 1e-3, 1e-3, 1e-2);
    }
    lt_ctx_free(ctx);
}

static void test_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_zeros(ctx, LT_F32, LT_SHAPE(2, 6, 3));
    assert_null(lt_flatten_consecutive(ctx, x, 4));
    ts_assert_error(ctx, LT_ERR_SHAPE, "flatten_consecutive: input (2,6,3): T = 6 is not divisible by n = 4", NULL);
    assert_null(lt_flatten_consecutive(ctx, x, 0));
    ts_assert_error(ctx, LT_ERR_ARG, "n = 0", NULL);
    assert_null(lt_flatten_consecutive(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(6, 3)), 2));
    ts_assert_error(ctx, LT_ERR_SHAPE, "input (6,3): needs rank 3", NULL);
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_view_of_contiguous),
        cmocka_unit_test(test_copy_of_strided),
        cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
