/* test_schedule.c - learning-rate schedules: values at known steps (the
 * notebook's step decay, several milestones, warm-up, cosine) and the
 * errors of malformed schedules. */
#include "test_support.h"

#include <math.h>

#define TOL 1e-12

static void test_constant(void **state)
{
    (void)state;
    lt_lr_schedule s = {.kind = LT_LR_CONSTANT, .base = 0.05};
    lt_ctx *ctx = lt_ctx_new();
    assert_true(lt_lr_check(ctx, &s));
    assert_float_equal(lt_lr_at(&s, 0), 0.05, TOL);
    assert_float_equal(lt_lr_at(&s, 123456789), 0.05, TOL);
    assert_true(isnan(lt_lr_at(&s, -1)));
    assert_true(isnan(lt_lr_at(NULL, 0)));
    lt_ctx_free(ctx);
}

/* The notebook: 0.1 for steps 0..99999, 0.01 from step 100000 on. */
static void test_notebook_step(void **state)
{
    (void)state;
    lt_lr_schedule s = {.kind = LT_LR_STEP, .base = 0.1, .n_milestones = 1, .milestones = {100000},
                        .explicit_rates = true, .rates = {0.01}};
    lt_ctx *ctx = lt_ctx_new();
    assert_true(lt_lr_check(ctx, &s));
    assert_float_equal(lt_lr_at(&s, 0), 0.1, TOL);
    assert_float_equal(lt_lr_at(&s, 99999), 0.1, TOL);
    assert_float_equal(lt_lr_at(&s, 100000), 0.01, TOL);
    assert_float_equal(lt_lr_at(&s, 199999), 0.01, TOL);
    lt_ctx_free(ctx);
}

static void test_step_factor_milestones(void **state)
{
    (void)state;
    lt_lr_schedule s = {.kind = LT_LR_STEP, .base = 0.2, .n_milestones = 3, .milestones = {10, 20, 30}, .factor = 0.5};
    lt_ctx *ctx = lt_ctx_new();
    assert_true(lt_lr_check(ctx, &s));
    assert_float_equal(lt_lr_at(&s, 9), 0.2, TOL);
    assert_float_equal(lt_lr_at(&s, 10), 0.1, TOL);
    assert_float_equal(lt_lr_at(&s, 19), 0.1, TOL);
    assert_float_equal(lt_lr_at(&s, 20), 0.05, TOL);
    assert_float_equal(lt_lr_at(&s, 30), 0.025, TOL);
    assert_float_equal(lt_lr_at(&s, 1000), 0.025, TOL);
    /* equal milestones both apply */
    lt_lr_schedule twice = {.kind = LT_LR_STEP, .base = 1, .n_milestones = 2, .milestones = {5, 5}, .factor = 0.5};
    assert_true(lt_lr_check(ctx, &twice));
    assert_float_equal(lt_lr_at(&twice, 4), 1, TOL);
    assert_float_equal(lt_lr_at(&twice, 5), 0.25, TOL);
    lt_ctx_free(ctx);
}

static void test_warmup_scales_first_steps(void **state)
{
    (void)state;
    lt_lr_schedule s = {.kind = LT_LR_STEP, .base = 0.4, .warmup = 4, .n_milestones = 1, .milestones = {2},
                        .factor = 0.5};
    lt_ctx *ctx = lt_ctx_new();
    assert_true(lt_lr_check(ctx, &s));
    assert_float_equal(lt_lr_at(&s, 0), 0.4 * 0.25, TOL);
    assert_float_equal(lt_lr_at(&s, 1), 0.4 * 0.5, TOL);
    assert_float_equal(lt_lr_at(&s, 2), 0.2 * 0.75, TOL); /* milestone passed during warm-up */
    assert_float_equal(lt_lr_at(&s, 3), 0.2, TOL);
    assert_float_equal(lt_lr_at(&s, 4), 0.2, TOL);
    lt_ctx_free(ctx);
}

static void test_cosine(void **state)
{
    (void)state;
    lt_lr_schedule s = {.kind = LT_LR_COSINE, .base = 0.3, .final = 0.01, .warmup = 10, .total = 110};
    lt_ctx *ctx = lt_ctx_new();
    assert_true(lt_lr_check(ctx, &s));
    assert_float_equal(lt_lr_at(&s, 0), 0.3 / 10, TOL);
    assert_float_equal(lt_lr_at(&s, 9), 0.3, TOL);
    assert_float_equal(lt_lr_at(&s, 10), 0.3, TOL);
    assert_float_equal(lt_lr_at(&s, 60), 0.155, TOL); /* halfway: the mean of base and final */
    assert_float_equal(lt_lr_at(&s, 35), 0.01 + 0.145 * (1 + sqrt(0.5)), 1e-12);
    assert_float_equal(lt_lr_at(&s, 110), 0.01, TOL);
    assert_float_equal(lt_lr_at(&s, 5000), 0.01, TOL);
    /* monotone after warm-up */
    for (long k = 11; k <= 110; k++)
        assert_true(lt_lr_at(&s, k) <= lt_lr_at(&s, k - 1));
    lt_ctx_free(ctx);
}

static void expect_bad(lt_lr_schedule s, const char *text)
{
    lt_ctx *ctx = lt_ctx_new();
    assert_false(lt_lr_check(ctx, &s));
    ts_assert_error(ctx, LT_ERR_ARG, "lr schedule", text, NULL);
    lt_ctx_free(ctx);
}

static void test_errors(void **state)
{
    (void)state;
    expect_bad((lt_lr_schedule){.kind = LT_LR_CONSTANT, .base = -1}, "base rate -1");
    expect_bad((lt_lr_schedule){.kind = LT_LR_CONSTANT, .base = NAN}, "base rate nan");
    expect_bad((lt_lr_schedule){.kind = LT_LR_CONSTANT, .base = 0.1, .warmup = -3}, "warm-up of -3");
    expect_bad((lt_lr_schedule){.kind = LT_LR_STEP, .base = 0.1, .n_milestones = 2, .milestones = {50, 49},
                                .factor = 0.1},
               "milestone 1 is step 49");
    expect_bad((lt_lr_schedule){.kind = LT_LR_STEP, .base = 0.1, .n_milestones = 1, .milestones = {-2},
                                .factor = 0.1},
               "milestone 0 is step -2");
    expect_bad((lt_lr_schedule){.kind = LT_LR_STEP, .base = 0.1, .n_milestones = 9, .factor = 0.1}, "9 milestones");
    expect_bad((lt_lr_schedule){.kind = LT_LR_STEP, .base = 0.1, .n_milestones = 1, .milestones = {5}},
               "step factor 0");
    expect_bad((lt_lr_schedule){.kind = LT_LR_STEP, .base = 0.1, .n_milestones = 1, .milestones = {5},
                                .explicit_rates = true, .rates = {-0.5}},
               "rate -0.5 after milestone 0");
    expect_bad((lt_lr_schedule){.kind = LT_LR_COSINE, .base = 0.1, .warmup = 100, .total = 100},
               "cosine over 100 steps");
    expect_bad((lt_lr_schedule){.kind = LT_LR_COSINE, .base = 0.1, .total = 100, .final = -0.01},
               "final rate -0.01");
    expect_bad((lt_lr_schedule){.kind = (lt_lr_kind)7, .base = 0.1}, "unknown kind 7");
    lt_ctx *ctx = lt_ctx_new();
    assert_false(lt_lr_check(ctx, NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "NULL schedule", NULL);
    lt_ctx_free(ctx);
    assert_true(isnan(lt_lr_at(&(lt_lr_schedule){.kind = (lt_lr_kind)7}, 0)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant),         cmocka_unit_test(test_notebook_step),
        cmocka_unit_test(test_step_factor_milestones), cmocka_unit_test(test_warmup_scales_first_steps),
        cmocka_unit_test(test_cosine),           cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
