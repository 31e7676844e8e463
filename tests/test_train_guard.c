/* test_train_guard.c - the numerical guard of the training loop
 * (examples/train_guard.c): finite gradients and updates pass, a NaN or
 * infinite gradient or an update that overflows is reported with the
 * parameter and the element, and nothing is modified. */
#include "test_support.h"

#include "train_guard.h"

#include <float.h>
#include <math.h>
#include <string.h>

static const char *const NAMES[] = {"C", "W1", "b1"};

typedef struct fixture {
    lt_ctx *ctx;
    lt_tensor *p[3];
} fixture;

static fixture make(void)
{
    fixture f = {lt_ctx_new(), {NULL}};
    f.p[0] = lt_requires_grad(f.ctx, ts_random(f.ctx, LT_SHAPE(27, 10), 1, -1, 1), true);
    f.p[1] = lt_requires_grad(f.ctx, ts_random(f.ctx, LT_SHAPE(30, 200), 2, -1, 1), true);
    f.p[2] = lt_requires_grad(f.ctx, ts_random(f.ctx, LT_SHAPE(200), 3, -1, 1), true);
    for (int k = 0; k < 3; k++) {
        float *g = lt_grad_f32(f.p[k]);
        for (int64_t i = 0; i < lt_numel(f.p[k]); i++)
            g[i] = (float)((i % 7) - 3) * 0.25f;
    }
    return f;
}

static void expect(const fixture *f, float lr, tg_problem problem, int param, int64_t element, const char *text)
{
    tg_report r = tg_check_sgd(f->p, 3, lr);
    assert_int_equal(r.problem, problem);
    assert_int_equal(r.param, param);
    assert_int_equal(r.element, element);
    char buf[256];
    tg_describe(&r, NAMES, lr, buf, sizeof buf);
    if (!strstr(buf, text))
        fail_msg("description \"%s\" lacks \"%s\"", buf, text);
}

static void test_finite_passes(void **state)
{
    (void)state;
    fixture f = make();
    expect(&f, 0.1f, TG_FINITE, -1, -1, "all finite");
    expect(&f, 1e30f, TG_FINITE, -1, -1, "all finite"); /* large, but 1e30 * 0.75 still fits */
    lt_ctx_free(f.ctx);
}

static void test_bad_gradients(void **state)
{
    (void)state;
    const float bad[] = {NAN, INFINITY, -INFINITY};
    const char *names[] = {"is nan", "is inf", "is -inf"};
    for (int k = 0; k < 3; k++) {
        fixture f = make();
        lt_grad_f32(f.p[1])[1234] = bad[k];
        lt_grad_f32(f.p[2])[5] = NAN; /* a later parameter: the first one is named */
        float before = lt_data_f32(f.p[1])[1234];
        expect(&f, 0.1f, TG_BAD_GRADIENT, 1, 1234, names[k]);
        expect(&f, 0.1f, TG_BAD_GRADIENT, 1, 1234, "gradient of W1 is not finite (element 1234");
        assert_true(lt_data_f32(f.p[1])[1234] == before); /* the check changes nothing */
        lt_ctx_free(f.ctx);
    }
    fixture f = make();
    lt_grad_f32(f.p[0])[269] = NAN; /* the last element of C */
    expect(&f, 0.1f, TG_BAD_GRADIENT, 0, 269, "gradient of C is not finite (element 269 is nan)");
    lt_ctx_free(f.ctx);
}

static void test_update_overflow(void **state)
{
    (void)state;
    fixture f = make();
    lt_data_f32(f.p[2])[7] = -FLT_MAX; /* finite, but -FLT_MAX - lr * g overflows for g > 0 */
    lt_grad_f32(f.p[2])[7] = 1e9f;
    expect(&f, 1e30f, TG_BAD_UPDATE, 2, 7, "the update of b1 is not finite (element 7 would be -inf");
    expect(&f, 1e30f, TG_BAD_UPDATE, 2, 7, "learning rate 1e+30 too large?");
    expect(&f, 0.1f, TG_FINITE, -1, -1, "all finite"); /* -FLT_MAX - 1e8 rounds to -FLT_MAX */
    lt_ctx_free(f.ctx);
}

static void test_without_gradient_skipped(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *p[1] = {lt_new(ctx, LT_F32, LT_SHAPE(3))}; /* no gradient buffer */
    tg_report r = tg_check_sgd(p, 1, 0.1f);
    assert_int_equal(r.problem, TG_FINITE);
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finite_passes),
        cmocka_unit_test(test_bad_gradients),
        cmocka_unit_test(test_update_overflow),
        cmocka_unit_test(test_without_gradient_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
