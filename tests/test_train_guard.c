/* test_train_guard.c - the checked SGD step of the training loop
 * (examples/common/train_guard.c): with finite numbers it is lt_sgd_step, bit for
 * bit; a NaN or infinite gradient, or an update that overflows, is reported
 * with the parameter and the element. tg_check_params, the check after any
 * other optimiser, finds the same problems after the fact; the loss guard
 * and the stop message are the ones both programs print. */
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
    f.p[2] = lt_requires_grad(f.ctx, ts_random(f.ctx, LT_SHAPE(203), 3, -1, 1), true); /* not a multiple of 8 */
    for (int k = 0; k < 3; k++) {
        float *g = lt_grad_f32(f.p[k]);
        for (int64_t i = 0; i < lt_numel(f.p[k]); i++)
            g[i] = (float)((i % 7) - 3) * 0.37f;
    }
    return f;
}

static void expect(fixture *f, float lr, tg_problem problem, int param, int64_t element, const char *text)
{
    tg_report r = tg_sgd_step(f->ctx, f->p, 3, lr);
    assert_int_equal(r.problem, problem);
    assert_int_equal(r.param, param);
    assert_int_equal(r.element, element);
    char buf[256];
    tg_describe(&r, NAMES, lr, buf, sizeof buf);
    if (!strstr(buf, text))
        fail_msg("description \"%s\" lacks \"%s\"", buf, text);
}

static void test_same_as_lt_sgd_step(void **state)
{
    (void)state;
    fixture a = make(), b = make();
    for (int step = 0; step < 3; step++) {
        expect(&a, 0.1f, TG_FINITE, -1, -1, "all finite");
        for (int k = 0; k < 3; k++)
            assert_true(lt_sgd_step(b.ctx, b.p[k], 0.1f));
    }
    for (int k = 0; k < 3; k++)
        assert_memory_equal(lt_data_f32(a.p[k]), lt_data_f32(b.p[k]), sizeof(float) * (size_t)lt_numel(a.p[k]));
    expect(&a, 1e30f, TG_FINITE, -1, -1, "all finite"); /* large, but 1e30 * 1.11 still fits */
    lt_ctx_free(a.ctx);
    lt_ctx_free(b.ctx);
}

static void test_bad_gradients(void **state)
{
    (void)state;
    const float bad[] = {NAN, INFINITY, -INFINITY};
    const char *names[] = {"is nan", "is inf", "is -inf"};
    for (int k = 0; k < 3; k++)
        for (int zero_lr = 0; zero_lr < 2; zero_lr++) { /* lr 0: 0 * inf is NaN, still caught */
            fixture f = make();
            lt_grad_f32(f.p[1])[1234] = bad[k];
            lt_grad_f32(f.p[2])[5] = NAN; /* a later parameter: the first one is named */
            float lr = zero_lr ? 0.0f : 0.1f;
            expect(&f, lr, TG_BAD_GRADIENT, 1, 1234, names[k]);
            lt_ctx_free(f.ctx);
            f = make();
            lt_grad_f32(f.p[1])[1234] = bad[k];
            expect(&f, lr, TG_BAD_GRADIENT, 1, 1234, "gradient of W1 is not finite (element 1234");
            lt_ctx_free(f.ctx);
        }
    fixture f = make();
    lt_grad_f32(f.p[2])[202] = NAN; /* the last element, in the scalar tail of the loop */
    expect(&f, 0.1f, TG_BAD_GRADIENT, 2, 202, "gradient of b1 is not finite (element 202 is nan)");
    lt_ctx_free(f.ctx);
}

static void test_update_overflow(void **state)
{
    (void)state;
    fixture f = make();
    lt_data_f32(f.p[2])[7] = -FLT_MAX; /* finite, but -FLT_MAX - 1e30 * 1e9 is -inf */
    lt_grad_f32(f.p[2])[7] = 1e9f;
    expect(&f, 1e30f, TG_BAD_UPDATE, 2, 7, "the update of b1 is not finite (element 7 is -inf");
    lt_ctx_free(f.ctx);
    f = make();
    lt_data_f32(f.p[0])[3] = FLT_MAX;
    lt_grad_f32(f.p[0])[3] = -1e9f;
    expect(&f, 1e30f, TG_BAD_UPDATE, 0, 3, "learning rate 1e+30 too large?");
    lt_ctx_free(f.ctx);
}

/* tg_check_params after another optimiser's step: finite parameters pass;
 * a non-finite value is located wherever it sits (a vector lane, the tail
 * past the last multiple of 8), blamed on its gradient when that is not
 * finite and on the update otherwise. */
static void check_params(fixture *f, tg_problem problem, int param, int64_t element, const char *text)
{
    tg_report r = tg_check_params(f->p, 3);
    assert_int_equal(r.problem, problem);
    assert_int_equal(r.param, param);
    assert_int_equal(r.element, element);
    char buf[256];
    tg_describe(&r, NAMES, 0.5f, buf, sizeof buf);
    if (!strstr(buf, text))
        fail_msg("description \"%s\" lacks \"%s\"", buf, text);
}

static void test_check_params(void **state)
{
    (void)state;
    fixture f = make();
    check_params(&f, TG_FINITE, -1, -1, "all finite");
    float *w1 = lt_data_f32(f.p[1]), *b1 = lt_data_f32(f.p[2]), *gb1 = lt_grad_f32(f.p[2]);
    w1[4321] = INFINITY; /* finite gradient: the update overflowed */
    check_params(&f, TG_BAD_UPDATE, 1, 4321, "the update of W1 is not finite (element 4321 is inf; is the learning rate 0.5");
    w1[4321] = 0.0f;
    b1[202] = NAN, gb1[202] = -INFINITY; /* the last element, in the tail */
    check_params(&f, TG_BAD_GRADIENT, 2, 202, "gradient of b1 is not finite (element 202 is -inf)");
    b1[202] = -FLT_MAX; /* the largest finite values pass */
    gb1[202] = FLT_MAX;
    check_params(&f, TG_FINITE, -1, -1, "all finite");
    lt_ctx_free(f.ctx);
}

static void test_skips_and_views(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *plain = lt_new(ctx, LT_F32, LT_SHAPE(3)); /* no gradient buffer: skipped */
    lt_tensor *w = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(4, 5), 7, -1, 1), true);
    lt_tensor *p[2] = {plain, lt_transpose(ctx, w, 0, 1)}; /* a strided view: the library's step */
    tg_report r = tg_sgd_step(ctx, p, 2, 0.1f);
    assert_int_equal(r.problem, TG_FINITE);
    lt_grad_f32(w)[6] = INFINITY;
    r = tg_sgd_step(ctx, p, 2, 0.1f);
    assert_int_equal(r.problem, TG_BAD_UPDATE);
    assert_int_equal(r.param, 1);
    lt_ctx_free(ctx);
}

/* The loss guard and the stop message both programs give. */
static void test_loss_and_stop(void **state)
{
    (void)state;
    char what[64] = "";
    assert_true(tg_loss_finite(3.29, what, sizeof what));
    assert_true(tg_loss_finite(DBL_MAX, what, sizeof what));
    assert_string_equal(what, "");
    const double bad[] = {NAN, -NAN, INFINITY, -INFINITY};
    const char *names[] = {"loss is nan", "loss is nan", "loss is inf", "loss is -inf"};
    for (int i = 0; i < 4; i++) {
        assert_false(tg_loss_finite(bad[i], what, sizeof what));
        assert_string_equal(what, names[i]);
    }
    lt_ctx *ctx = lt_ctx_new();
    tg_stop(ctx, 12, "loss is nan", "ck.safetensors");
    assert_string_equal(lt_error_message(ctx), "step 12: loss is nan; training stopped, ck.safetensors not written (an "
                                               "existing file is unchanged)");
    ts_assert_error(ctx, LT_ERR_GRAPH, "step 12", NULL);
    tg_stop(ctx, 0, "gradient of C is not finite (element 1 is inf)", NULL);
    assert_string_equal(lt_error_message(ctx), "step 0: gradient of C is not finite (element 1 is inf); training stopped");
    lt_ctx_free(ctx);
}

/* The step writes the parameters in place: a backward that reads one of
 * them (a product recorded before the step) is refused, as after
 * lt_sgd_step, instead of using the updated values. */
static void test_step_is_seen_by_backward(void **state)
{
    (void)state;
    fixture f = make();
    lt_tensor *x = lt_requires_grad(f.ctx, ts_random(f.ctx, LT_SHAPE(4, 30), 4, -1, 1), true); /* dx reads W1 */
    lt_tensor *loss = lt_sum(f.ctx, lt_matmul(f.ctx, x, f.p[1]));
    assert_non_null(loss);
    expect(&f, 0.1f, TG_FINITE, -1, -1, "all finite");
    assert_false(lt_backward(f.ctx, loss));
    assert_int_equal(lt_status_of(f.ctx), LT_ERR_GRAPH);
    lt_ctx_free(f.ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_and_stop),
        cmocka_unit_test(test_same_as_lt_sgd_step),
        cmocka_unit_test(test_step_is_seen_by_backward),
        cmocka_unit_test(test_bad_gradients),
        cmocka_unit_test(test_update_overflow),
        cmocka_unit_test(test_check_params),
        cmocka_unit_test(test_skips_and_views),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
