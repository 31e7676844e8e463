/* test_dropout.c - inverted dropout: the mask follows the documented
 * scheme exactly (one u64 key from the generator, splitmix64, 16 bits per
 * element), kept elements are scaled by 1/(1-p), the
 * gradient goes through the same mask (finite differences with a reseeded
 * generator), evaluation and p = 0 are the identity, p = 1 zeroes, the kept
 * fraction is close to 1 - p, and the error paths. */
#include "test_support.h"

#include <math.h>
#include <stdlib.h>

/* The documented mask: field i % 4 of splitmix64(key + i / 4) < round(keep * 2^16). */
static bool kept_by_spec(uint64_t key, int64_t i, float keep)
{
    uint64_t z = key + (uint64_t)(i / 4) + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((z >> (16 * (i % 4))) & 0xffff) < (uint64_t)lrintf(keep * 65536.0f);
}

static void test_mask_matches_generator(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    const float p = 0.3f;
    lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(4, 5), 1, -2, 2), true);
    lt_rng g, h;
    lt_rng_seed(&g, 1234);
    lt_rng_seed(&h, 1234);
    lt_tensor *y = lt_dropout(ctx, x, p, true, &g);
    assert_non_null(y);
    lt_tensor *up = ts_random(ctx, LT_SHAPE(4, 5), 2, -1, 1);
    assert_true(lt_backward_grad(ctx, y, up));
    int kept = 0;
    uint64_t key = lt_rng_u64(&h);
    for (int i = 0; i < 20; i++) {
        bool keep = kept_by_spec(key, i, 1.0f - p);
        kept += keep;
        float scale = keep ? 1.0f / (1.0f - p) : 0.0f;
        assert_float_equal(lt_get_f32(y, i), lt_get_f32(x, i) * scale, 1e-6);
        assert_float_equal(lt_grad_get(x, i), lt_get_f32(up, i) * scale, 1e-6);
    }
    assert_true(kept > 0 && kept < 20); /* both branches were exercised */
    /* the call consumed exactly one u64 from the generator */
    assert_true(lt_rng_u32(&g) == lt_rng_u32(&h));
    /* the next call draws a different mask */
    lt_tensor *y2 = lt_dropout(ctx, x, p, true, &g);
    int differ = 0;
    for (int i = 0; i < 20; i++)
        differ += (lt_get_f32(y, i) == 0.0f) != (lt_get_f32(y2, i) == 0.0f);
    assert_true(differ > 0);
    lt_ctx_free(ctx);
}

static void test_kept_fraction(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_rng g;
    lt_rng_seed(&g, 7);
    lt_tensor *y = lt_dropout(ctx, lt_ones(ctx, LT_SHAPE(100, 100)), 0.25f, true, &g);
    int64_t kept = 0;
    double sum = 0;
    for (int64_t i = 0; i < 10000; i++) {
        float v = lt_get_f32(y, i);
        kept += v != 0.0f;
        sum += v;
    }
    /* binomial(10000, 0.75): sd ~ 43; mean preserved in expectation */
    assert_true(llabs(kept - 7500) < 250);
    assert_true(fabs(sum / 10000 - 1.0) < 0.04);
    lt_ctx_free(ctx);
}

static void test_identity_and_extremes(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = ts_random(ctx, LT_SHAPE(3, 3), 3, -1, 1);
    lt_rng g;
    lt_rng_seed(&g, 1);
    assert_ptr_equal(lt_dropout(ctx, x, 0.5f, false, NULL), x);
    assert_ptr_equal(lt_dropout(ctx, x, 0.0f, true, &g), x);
    lt_tensor *z = lt_dropout(ctx, x, 1.0f, true, &g);
    for (int i = 0; i < 9; i++)
        assert_true(lt_get_f32(z, i) == 0.0f);
    /* a strided input */
    lt_tensor *t = lt_dropout(ctx, lt_transpose(ctx, x, 0, 1), 0.5f, true, &g);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            float v = lt_get_f32(t, i * 3 + j), want = 2.0f * lt_get_f32(x, j * 3 + i);
            assert_true(v == 0.0f || fabsf(v - want) < 1e-6f);
        }
    lt_ctx_free(ctx);
}

static lt_tensor *dropout_fn(lt_ctx *ctx, lt_tensor **in, void *user)
{
    (void)user;
    lt_rng g;
    lt_rng_seed(&g, 99); /* the same mask on every call */
    return lt_dropout(ctx, lt_transpose(ctx, in[0], 0, 1), 0.4f, true, &g);
}

static void test_gradcheck(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(4, 6), 5, -2, 2), true);
    ts_gradcheck(dropout_fn, &x, 1, NULL, 1e-3, 1e-3, 1e-2);
    lt_ctx_free(ctx);
}

static void test_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_zeros(ctx, LT_F32, LT_SHAPE(2));
    lt_rng g;
    lt_rng_seed(&g, 1);
    assert_null(lt_dropout(ctx, x, 1.5f, true, &g));
    ts_assert_error(ctx, LT_ERR_ARG, "dropout: probability 1.5 outside [0, 1]", NULL);
    assert_null(lt_dropout(ctx, x, 0.5f, true, NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "dropout: training needs a generator", NULL);
    assert_null(lt_dropout(ctx, lt_zeros(ctx, LT_I32, LT_SHAPE(2)), 0.5f, true, &g));
    ts_assert_error(ctx, LT_ERR_DTYPE, "dropout: needs an f32 tensor, got i32", NULL);
    assert_null(lt_dropout(ctx, NULL, 0.5f, true, &g));
    ts_assert_error(ctx, LT_ERR_ARG, "dropout", NULL);
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_matches_generator), cmocka_unit_test(test_kept_fraction),
        cmocka_unit_test(test_identity_and_extremes),  cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
