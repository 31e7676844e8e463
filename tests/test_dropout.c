/* test_dropout.c - inverted dropout: the mask follows the documented
 * scheme exactly (one u64 key from the generator, splitmix64, 16 bits per
 * element), kept elements are scaled by 1/(1-p), the
 * gradient goes through the same mask (finite differences with a reseeded
 * generator), evaluation and p = 0 are the identity, p = 1 zeroes, the kept
 * fraction is close to 1 - p, and the error paths; on every instruction-set
 * path and thread count, a long tensor's forward and (fresh or accumulated)
 * backward have the bits of the per-element definition. */
#include "test_support.h"

#include <math.h>
#include <stdlib.h>

#include "kernels/cpu.h"
#include "kernels/threads.h"

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

/* Element i of y, x * mask, with the mask as the spec gives it: the bits a
 * stored float mask (scale or +0) gave. */
static float masked(float x, uint64_t key, int64_t i, float p)
{
    return x * (kept_by_spec(key, i, 1.0f - p) ? 1.0f / (1.0f - p) : 0.0f);
}

/* Every ISA path (vectorised, with a scalar tail: n is no multiple of 32)
 * and 1 or 2 threads (n large enough to split), bit for bit: y = x * mask;
 * the gradient of a temporary input written fresh (0 + dy * mask, the bits
 * an add into a cleared buffer gives); and added to (a leaf behind two
 * dropouts: (0 + dy * mask2) + dy * mask1, the later node first). */
static void test_long_every_path_and_threads(void **state)
{
    (void)state;
    const int64_t n = 600037;
    const float p = 0.4f;
    for (int isa = LT_ISA_GENERIC; isa <= (int)lt_cpu_isa_supported(); isa++)
        for (int threads = 1; threads <= 2; threads++) {
            lt_cpu_force_isa((lt_isa)isa);
            lt_ctx *ctx = lt_ctx_new();
            assert_true(lt_set_threads(ctx, threads));
            lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(n), 3, -2, 2), true);
            lt_tensor *up = ts_random(ctx, LT_SHAPE(n), 4, -1, 1);
            lt_rng g, h;
            lt_rng_seed(&g, 77);
            lt_rng_seed(&h, 77);
            uint64_t key1 = lt_rng_u64(&h), key2 = lt_rng_u64(&h);
            lt_tensor *t = lt_mul_scalar(ctx, x, 1.0f); /* a temporary: its gradient is written fresh */
            uint64_t jobs = lt_par_jobs(ctx);
            lt_tensor *y1 = lt_dropout(ctx, t, p, true, &g);
            assert_non_null(y1);
            assert_true((lt_par_jobs(ctx) > jobs) == (threads > 1)); /* split when it may */
            lt_tensor *y2 = lt_dropout(ctx, x, p, true, &g);
            assert_true(lt_backward_grad(ctx, lt_add(ctx, y1, y2), up));
            lt_tensor *dt = lt_grad(ctx, t);
            assert_non_null(dt);
            const float *xv = lt_data_f32(x), *y1v = lt_data_f32(y1), *dy = lt_data_f32(up);
            const float *dtv = lt_data_f32(dt), *dxv = lt_grad_f32(x);
            float *want = malloc(sizeof(float) * 3 * (size_t)n), *dtwant = want + n, *dxwant = want + 2 * n;
            assert_non_null(want);
            for (int64_t i = 0; i < n; i++) {
                want[i] = masked(xv[i], key1, i, p);
                dtwant[i] = 0.0f + masked(dy[i], key1, i, p);
                dxwant[i] = (0.0f + masked(dy[i], key2, i, p)) + dtwant[i]; /* mul's backward adds dt * 1 */
            }
            assert_memory_equal(y1v, want, sizeof(float) * (size_t)n);
            assert_memory_equal(dtv, dtwant, sizeof(float) * (size_t)n);
            assert_memory_equal(dxv, dxwant, sizeof(float) * (size_t)n);
            free(want);
            lt_ctx_free(ctx);
        }
    lt_cpu_force_isa(lt_cpu_isa_supported());
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
        cmocka_unit_test(test_errors),                 cmocka_unit_test(test_long_every_path_and_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
