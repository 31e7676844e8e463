/* test_softmax_extreme.c - softmax, log_softmax and cross-entropy (both
 * forms) at the edges of float: logits of +-1e30 and +-FLT_MAX, ties between huge logits,
 * +-inf and NaN. Expected values are PyTorch 1.13's
 * (torch.softmax / log_softmax / F.cross_entropy on the same float32 rows):
 *   [1e30, 1e30, -1e30]  softmax [0.5, 0.5, 0]  log_softmax [-0.693147, -0.693147, -2e30]
 *                        CE t=0: 0.693147, grad [-0.5, 0.5, 0]; t=2: 2e30
 *   [FLT_MAX, -FLT_MAX, 0]  softmax [1, 0, 0], CE t=1: inf (the loss exceeds float), grad [1, -1, 0]
 *   [-inf, 0, 1]  softmax [0, 0.268941, 0.731059], CE t=0: inf, grad [-1, 0.268941, 0.731059]
 *   [inf, 0, 1], [-inf, -inf, -inf], any NaN: every output and gradient NaN */
#include "test_support.h"

#include <float.h>
#include <math.h>

typedef struct row_case {
    const char *what;
    float x[3];
    float softmax[3], log_softmax[3];
    int target;
    float loss, grad[3];
} row_case;

#define NAN3 {NAN, NAN, NAN}
static const row_case CASES[] = {
    {"+-1e30", {1e30f, -1e30f, 0}, {1, 0, 0}, {0, -2e30f, -1e30f}, 1, 2e30f, {1, -1, 0}},
    {"1e30 tie", {1e30f, 1e30f, -1e30f}, {0.5f, 0.5f, 0}, {-0.693147182f, -0.693147182f, -2e30f}, 0, 0.693147182f,
     {-0.5f, 0.5f, 0}},
    {"1e30 tie, far target", {1e30f, 1e30f, -1e30f}, {0.5f, 0.5f, 0}, {-0.693147182f, -0.693147182f, -2e30f}, 2,
     2e30f, {0.5f, 0.5f, -1}},
    {"-1e30 row", {-1e30f, -1e30f, -1e30f}, {1 / 3.f, 1 / 3.f, 1 / 3.f}, {-1.09861229f, -1.09861229f, -1.09861229f},
     1, 1.09861229f, {1 / 3.f, -2 / 3.f, 1 / 3.f}},
    {"+-FLT_MAX", {FLT_MAX, -FLT_MAX, 0}, {1, 0, 0}, {0, -INFINITY, -FLT_MAX}, 1, INFINITY, {1, -1, 0}},
    {"+-FLT_MAX, max target", {FLT_MAX, -FLT_MAX, 0}, {1, 0, 0}, {0, -INFINITY, -FLT_MAX}, 0, 0, {0, 0, 0}},
    {"-inf", {-INFINITY, 0, 1}, {0, 0.268941421f, 0.731058579f}, {-INFINITY, -1.31326163f, -0.313261688f}, 0,
     INFINITY, {-1, 0.268941421f, 0.731058579f}},
    {"-inf, other target", {-INFINITY, 0, 1}, {0, 0.268941421f, 0.731058579f},
     {-INFINITY, -1.31326163f, -0.313261688f}, 2, 0.313261688f, {0, 0.268941421f, -0.268941421f}},
    {"+inf", {INFINITY, 0, 1}, NAN3, NAN3, 0, NAN, NAN3},
    {"all -inf", {-INFINITY, -INFINITY, -INFINITY}, NAN3, NAN3, 1, NAN, NAN3},
    {"NaN first", {NAN, 0, 1}, NAN3, NAN3, 1, NAN, NAN3},
    {"NaN last", {0, 1, NAN}, NAN3, NAN3, 0, NAN, NAN3},
};

/* NaN matches NaN; infinities match exactly; finite values to 1e-6 relative. */
static void assert_value(const char *what, const char *which, int i, float got, float want)
{
    bool ok = isnan(want) ? isnan(got) : isinf(want) ? got == want : fabsf(got - want) <= 1e-6f * fabsf(want) + 1e-7f;
    if (!ok)
        fail_msg("%s: %s[%d] = %g, want %g", what, which, i, (double)got, (double)want);
}

static void test_rows(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    for (size_t k = 0; k < sizeof CASES / sizeof *CASES; k++) {
        const row_case *c = &CASES[k];
        for (int contiguous = 0; contiguous < 2; contiguous++) {
            /* the same row as a (1,3) tensor and as a column of a transposed (3,1) */
            lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(3, 1), c->x), true);
            lt_tensor *row = contiguous ? lt_view(ctx, x, LT_SHAPE(1, 3)) : lt_transpose(ctx, x, 0, 1);
            lt_tensor *p = lt_softmax(ctx, row, 1), *lp = lt_log_softmax(ctx, row, 1);
            lt_tensor *loss = lt_cross_entropy(ctx, row, lt_from_i32(ctx, LT_SHAPE(1), (int32_t[]){c->target}));
            assert_non_null(loss);
            assert_true(lt_backward(ctx, loss));
            for (int i = 0; i < 3; i++) {
                assert_value(c->what, "softmax", i, lt_get_f32(p, i), c->softmax[i]);
                assert_value(c->what, "log_softmax", i, lt_get_f32(lp, i), c->log_softmax[i]);
                assert_value(c->what, "grad", i, lt_grad_get(x, i), c->grad[i]);
            }
            assert_value(c->what, "loss", 0, lt_item(ctx, loss), c->loss);
            lt_ctx_reset(ctx);
            lt_free(x);
        }
    }
    lt_ctx_free(ctx);
}

/* The same rows through lt_cross_entropy_ignore, as the middle row of a
 * (1,3,3) batch whose other rows are skipped (one of them NaN, one +inf):
 * the row's loss and gradient as above, 0 for the skipped rows. */
static void test_rows_ignore(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    for (size_t k = 0; k < sizeof CASES / sizeof *CASES; k++) {
        const row_case *c = &CASES[k];
        float v[9] = {NAN, NAN, NAN, c->x[0], c->x[1], c->x[2], INFINITY, 0, 1};
        lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(1, 3, 3), v), true);
        lt_tensor *t = lt_from_i32(ctx, LT_SHAPE(1, 3), (int32_t[]){-1, c->target, -1});
        lt_tensor *loss = lt_cross_entropy_ignore(ctx, x, t, -1);
        assert_non_null(loss);
        assert_true(lt_backward(ctx, loss));
        assert_value(c->what, "loss", 0, lt_item(ctx, loss), c->loss);
        for (int i = 0; i < 3; i++) {
            assert_value(c->what, "grad", i, lt_grad_get(x, 3 + i), c->grad[i]);
            assert_true(lt_grad_get(x, i) == 0.0f && lt_grad_get(x, 6 + i) == 0.0f);
        }
        lt_ctx_reset(ctx);
        lt_free(x);
    }
    lt_ctx_free(ctx);
}

/* A batch of rows of random magnitude up to 1e30: softmax rows sum to 1,
 * the loss and every gradient are finite, gradient rows sum to 0. */
static void test_random_huge_batch(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    ts_rand r = ts_rand_new(30);
    enum { N = 64, C = 27 };
    lt_tensor *x = lt_requires_grad(ctx, lt_new(ctx, LT_F32, LT_SHAPE(N, C)), true);
    int32_t t[N];
    for (int i = 0; i < N; i++) {
        double scale = pow(10.0, ts_uniform(&r, 0, 30));
        for (int j = 0; j < C; j++)
            lt_data_f32(x)[i * C + j] = (float)(scale * ts_uniform(&r, -1, 1));
        t[i] = (int32_t)ts_uniform(&r, 0, C);
    }
    lt_tensor *p = lt_softmax(ctx, x, 1);
    lt_tensor *loss = lt_cross_entropy(ctx, x, lt_from_i32(ctx, LT_SHAPE(N), t));
    assert_true(loss && lt_backward(ctx, loss));
    assert_true(isfinite(lt_item(ctx, loss)) && lt_item(ctx, loss) >= 0);
    for (int i = 0; i < N; i++) {
        double sp = 0, sg = 0;
        for (int j = 0; j < C; j++) {
            assert_true(isfinite(lt_grad_get(x, i * C + j)));
            sp += lt_get_f32(p, i * C + j);
            sg += lt_grad_get(x, i * C + j);
        }
        assert_float_equal(sp, 1.0, 1e-5);
        assert_float_equal(sg, 0.0, 1e-6);
    }
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_rows_ignore),
        cmocka_unit_test(test_random_huge_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
