/* test_norm.c - batchnorm (training and evaluation, 2-D and 3-D) and
 * layernorm: values, gradients and running statistics against PyTorch 1.13
 * golden values, a hand-computed case, central-difference gradient checks
 * (with and without gain/bias, strided inputs) and the error paths. */
#include "test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../data/golden_norm.h"
#include "kernels/cpu.h"
#include "kernels/threads.h"

#define GC_EPS 1e-3
#define GC_ATOL 2e-3
#define GC_RTOL 2e-2

/* ---- batchnorm: golden ---------------------------------------------------------- */

typedef struct {
    lt_shape shape;
    bool training;
    const float *x, *gain, *bias, *rm, *rv, *g, *y, *dx, *dgain, *dbias, *rm_after, *rv_after;
} bn_golden;

#define BN_GOLDEN(tag, shp, train)                                                                              \
    {shp,                    train,                 golden_bn_##tag##_x,        golden_bn_##tag##_gain,        \
     golden_bn_##tag##_bias, golden_bn_##tag##_rm,  golden_bn_##tag##_rv,       golden_bn_##tag##_g,           \
     golden_bn_##tag##_y,    golden_bn_##tag##_dx,  golden_bn_##tag##_dgain,    golden_bn_##tag##_dbias,       \
     golden_bn_##tag##_rm_after, golden_bn_##tag##_rv_after}

static void test_batchnorm_golden(void **state)
{
    (void)state;
    const bn_golden cases[] = {BN_GOLDEN(train2, LT_SHAPE(6, 4), true), BN_GOLDEN(train3, LT_SHAPE(3, 4, 5), true),
                               BN_GOLDEN(eval3, LT_SHAPE(3, 4, 5), false)};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const bn_golden *c = &cases[k];
        int64_t n = 1, ch = c->shape.d[c->shape.ndim - 1];
        for (int d = 0; d < c->shape.ndim; d++)
            n *= c->shape.d[d];
        lt_ctx *ctx = lt_ctx_new();
        lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, c->shape, c->x), true);
        lt_tensor *gain = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(ch), c->gain), true);
        lt_tensor *bias = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(ch), c->bias), true);
        lt_tensor *rm = lt_new_from(ctx, LT_F32, LT_SHAPE(ch), c->rm);
        lt_tensor *rv = lt_new_from(ctx, LT_F32, LT_SHAPE(ch), c->rv);
        lt_tensor *y = lt_batchnorm(ctx, x, gain, bias, rm, rv, c->training, golden_bn_momentum, golden_bn_eps);
        assert_non_null(y);
        ts_assert_shape(y, c->shape);
        assert_true(lt_backward_grad(ctx, y, lt_from_f32(ctx, c->shape, c->g)));
        print_message("batchnorm case %zu\n", k);
        ts_assert_near(y, c->y, n, 1e-5, 1e-4);
        ts_assert_near(lt_grad(ctx, x), c->dx, n, 1e-5, 1e-4);
        ts_assert_near(lt_grad(ctx, gain), c->dgain, ch, 1e-5, 1e-4);
        ts_assert_near(lt_grad(ctx, bias), c->dbias, ch, 1e-5, 1e-4);
        ts_assert_near(rm, c->rm_after, ch, 1e-6, 1e-5);
        ts_assert_near(rv, c->rv_after, ch, 1e-6, 1e-5);
        lt_ctx_free(ctx);
    }
}

/* Column (1, 3) and (2, 6): means 1.5 and 4, biased variances 0.25 and 4;
 * with no gain/bias, y = +-1 (up to eps). Running stats from 0 and 1 with
 * momentum 0.5: mean 0.75, 2; unbiased variance 0.5, 8 -> 0.75, 4.5. */
static void test_batchnorm_by_hand(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_from_f32(ctx, LT_SHAPE(2, 2), (const float[]){1, 2, 2, 6});
    lt_tensor *rm = lt_new(ctx, LT_F32, LT_SHAPE(2));
    lt_tensor *rv = lt_new_from(ctx, LT_F32, LT_SHAPE(2), (const float[]){1, 1});
    lt_tensor *y = lt_batchnorm(ctx, x, NULL, NULL, rm, rv, true, 0.5f, 0.0f);
    ts_assert_near(y, (const float[]){-1, -1, 1, 1}, 4, 1e-6, 0);
    ts_assert_near(rm, (const float[]){0.75f, 2.0f}, 2, 1e-6, 0);
    ts_assert_near(rv, (const float[]){0.75f, 4.5f}, 2, 1e-6, 0);
    /* evaluation uses the running stats: (x - 0.75) / sqrt(0.75) */
    y = lt_batchnorm(ctx, x, NULL, NULL, rm, rv, false, 0.5f, 0.0f);
    assert_float_equal(lt_get_f32(y, 0), (1 - 0.75) / sqrt(0.75), 1e-6);
    assert_float_equal(lt_get_f32(y, 3), (6 - 2) / sqrt(4.5), 1e-6);
    ts_assert_near(rm, (const float[]){0.75f, 2.0f}, 2, 0, 0); /* untouched */
    lt_ctx_free(ctx);
}

/* ---- batchnorm: finite differences ------------------------------------------------ */

typedef struct {
    bool training, affine, strided;
    lt_tensor *rm, *rv;
} bn_case;

static lt_tensor *bn_fn(lt_ctx *ctx, lt_tensor **in, void *user)
{
    const bn_case *c = user;
    lt_tensor *x = c->strided ? lt_transpose(ctx, in[0], 0, 1) : in[0];
    /* in training the running stats are left out so repeated calls agree */
    return lt_batchnorm(ctx, x, c->affine ? in[1] : NULL, c->affine ? in[2] : NULL, c->training ? NULL : c->rm,
                        c->training ? NULL : c->rv, c->training, 0.1f, 1e-5f);
}

static void test_batchnorm_gradcheck(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    const lt_shape shapes[2] = {LT_SHAPE(5, 3), LT_SHAPE(3, 2, 4)};
    for (int s = 0; s < 2; s++)
        for (int mode = 0; mode < 6; mode++) {
            int64_t ch = shapes[s].d[shapes[s].ndim - 1];
            bn_case c = {mode % 2 == 0, mode < 4, mode >= 2 && mode < 4, NULL, NULL};
            lt_shape xs = shapes[s];
            if (c.strided) { /* stored transposed, so the op sees a strided view */
                int64_t t = xs.d[0];
                xs.d[0] = xs.d[1];
                xs.d[1] = t;
            }
            lt_tensor *in[3] = {ts_random(ctx, xs, 10 + mode, -2, 3), ts_random(ctx, LT_SHAPE(ch), 20 + mode, 0.5, 2),
                                ts_random(ctx, LT_SHAPE(ch), 30 + mode, -1, 1)};
            c.rm = ts_random(ctx, LT_SHAPE(ch), 40, -0.5, 0.5);
            c.rv = ts_random(ctx, LT_SHAPE(ch), 41, 0.5, 2);
            for (int i = 0; i < 3; i++)
                lt_requires_grad(ctx, in[i], i == 0 || c.affine);
            print_message("batchnorm gradcheck shape %d mode %d\n", s, mode);
            ts_gradcheck(bn_fn, in, 3, &c, GC_EPS, GC_ATOL, GC_RTOL);
        }
    lt_ctx_free(ctx);
}

static void test_batchnorm_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_zeros(ctx, LT_F32, LT_SHAPE(4, 3)), *g4 = lt_ones(ctx, LT_SHAPE(4));
    lt_tensor *rm = lt_new(ctx, LT_F32, LT_SHAPE(3)), *rv = lt_new(ctx, LT_F32, LT_SHAPE(3));
    assert_null(lt_batchnorm(ctx, x, g4, NULL, NULL, NULL, true, 0.1f, 1e-5f));
    ts_assert_error(ctx, LT_ERR_SHAPE, "batchnorm: gain (4) does not fit 3 features", NULL);
    assert_null(lt_batchnorm(ctx, x, NULL, NULL, g4, NULL, true, 0.1f, 1e-5f));
    ts_assert_error(ctx, LT_ERR_SHAPE, "running_mean (4)", NULL);
    assert_null(lt_batchnorm(ctx, x, NULL, NULL, rm, NULL, false, 0.1f, 1e-5f));
    ts_assert_error(ctx, LT_ERR_ARG, "evaluation mode needs running_mean and running_var", NULL);
    assert_null(lt_batchnorm(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(1, 3)), NULL, NULL, rm, rv, true, 0.1f, 1e-5f));
    ts_assert_error(ctx, LT_ERR_SHAPE, "(1,3)", "more than 1 value per channel", NULL);
    assert_null(lt_batchnorm(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(3)), NULL, NULL, NULL, NULL, true, 0.1f, 1e-5f));
    ts_assert_error(ctx, LT_ERR_SHAPE, "input (3): needs rank 2", NULL);
    assert_null(lt_batchnorm(ctx, x, NULL, NULL, NULL, NULL, true, 1.5f, 1e-5f));
    ts_assert_error(ctx, LT_ERR_ARG, "momentum 1.5", NULL);
    assert_null(lt_batchnorm(ctx, lt_zeros(ctx, LT_I32, LT_SHAPE(4, 3)), NULL, NULL, NULL, NULL, true, 0.1f, 1e-5f));
    ts_assert_error(ctx, LT_ERR_DTYPE, "batchnorm: needs an f32 input, got i32", NULL);
    assert_null(lt_batchnorm(ctx, NULL, NULL, NULL, NULL, NULL, true, 0.1f, 1e-5f));
    ts_assert_error(ctx, LT_ERR_ARG, "batchnorm", NULL);
    lt_ctx_free(ctx);
}

/* ---- layernorm ------------------------------------------------------------------- */

static void test_layernorm_golden(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(3, 4, 5), golden_ln_x), true);
    lt_tensor *gain = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(5), golden_ln_gain), true);
    lt_tensor *bias = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(5), golden_ln_bias), true);
    lt_tensor *y = lt_layernorm(ctx, x, gain, bias, 1e-5f);
    assert_true(lt_backward_grad(ctx, y, lt_from_f32(ctx, LT_SHAPE(3, 4, 5), golden_ln_g)));
    ts_assert_near(y, golden_ln_y, 60, 1e-5, 1e-4);
    ts_assert_near(lt_grad(ctx, x), golden_ln_dx, 60, 1e-5, 1e-4);
    ts_assert_near(lt_grad(ctx, gain), golden_ln_dgain, 5, 1e-5, 1e-4);
    ts_assert_near(lt_grad(ctx, bias), golden_ln_dbias, 5, 1e-5, 1e-4);
    lt_ctx_free(ctx);
}

/* Row (1, 3): mean 2, variance 1 -> (-1, 1); gain (2, 3), bias (0, 1). */
static void test_layernorm_by_hand(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_from_f32(ctx, LT_SHAPE(2, 2), (const float[]){1, 3, 5, 5});
    lt_tensor *g = lt_from_f32(ctx, LT_SHAPE(2), (const float[]){2, 3});
    lt_tensor *b = lt_from_f32(ctx, LT_SHAPE(2), (const float[]){0, 1});
    ts_assert_near(lt_narrow(ctx, lt_layernorm(ctx, x, g, b, 0.0f), 0, 0, 1), (const float[]){-2, 4}, 2, 1e-6, 0);
    /* a constant row is 0 * invstd(eps): the bias */
    ts_assert_near(lt_narrow(ctx, lt_layernorm(ctx, x, g, b, 1e-5f), 0, 1, 1), (const float[]){0, 1}, 2, 1e-6, 0);
    lt_ctx_free(ctx);
}

typedef struct {
    bool affine, strided;
} ln_case;

static lt_tensor *ln_fn(lt_ctx *ctx, lt_tensor **in, void *user)
{
    const ln_case *c = user;
    lt_tensor *x = c->strided ? lt_transpose(ctx, in[0], 0, 2) : in[0];
    return lt_layernorm(ctx, x, c->affine ? in[1] : NULL, c->affine ? in[2] : NULL, 1e-5f);
}

static void test_layernorm_gradcheck(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    for (int mode = 0; mode < 3; mode++) {
        ln_case c = {mode != 1, mode == 2};
        lt_tensor *in[3] = {ts_random(ctx, LT_SHAPE(3, 2, 4), 50 + mode, -2, 3),
                            ts_random(ctx, LT_SHAPE(c.strided ? 3 : 4), 60, 0.5, 2),
                            ts_random(ctx, LT_SHAPE(c.strided ? 3 : 4), 61, -1, 1)};
        for (int i = 0; i < 3; i++)
            lt_requires_grad(ctx, in[i], i == 0 || c.affine);
        print_message("layernorm gradcheck mode %d\n", mode);
        ts_gradcheck(ln_fn, in, 3, &c, GC_EPS, GC_ATOL, GC_RTOL);
    }
    lt_ctx_free(ctx);
}

/* One layernorm (batch false) or training batchnorm (batch true: also the
 * running statistics, starting from 0 and 1) forward and backward of x with
 * gain and bias, on `threads` threads: y, the three gradients, and for
 * batchnorm the running mean and variance, copied out (malloc). */
static void norm_run(bool batch, int threads, lt_tensor *const src[3], lt_tensor *up, float *out[6], bool *split)
{
    lt_ctx *ctx = lt_ctx_new();
    assert_true(lt_set_threads(ctx, threads));
    lt_tensor *in[3];
    for (int i = 0; i < 3; i++)
        in[i] = lt_requires_grad(ctx, lt_new_copy(ctx, src[i]), true);
    int64_t c = lt_numel(src[1]);
    lt_tensor *rm = lt_zeros(ctx, LT_F32, LT_SHAPE(c)), *rv = lt_full(ctx, LT_SHAPE(c), 1.0f);
    uint64_t jobs = lt_par_jobs(ctx);
    lt_tensor *x = lt_mul_scalar(ctx, in[0], 1.0f);
    lt_tensor *y = batch ? lt_batchnorm(ctx, x, in[1], in[2], rm, rv, true, 0.1f, 1e-5f)
                         : lt_layernorm(ctx, x, in[1], in[2], 1e-5f);
    assert_true(lt_backward_grad(ctx, y, up));
    *split = lt_par_jobs(ctx) > jobs;
    lt_tensor *t[6] = {y, lt_grad(ctx, in[0]), lt_grad(ctx, in[1]), lt_grad(ctx, in[2]), rm, rv};
    for (int i = 0; i < (batch ? 6 : 4); i++) {
        size_t bytes = sizeof(float) * (size_t)lt_numel(t[i]);
        out[i] = malloc(bytes);
        assert_non_null(out[i]);
        memcpy(out[i], lt_data_f32(t[i]), bytes);
    }
    lt_ctx_free(ctx);
}

/* norm_run on 1, 2 and 3 threads and every instruction-set path against
 * one thread on the portable path: the same bits (outputs: 4 for layernorm,
 * 6 for batchnorm; x has `shape`, c its last size). */
static void norm_threads_isas(bool batch, lt_shape shape, uint64_t seed)
{
    lt_ctx *ctx = lt_ctx_new();
    const int64_t c = shape.d[shape.ndim - 1];
    lt_tensor *src[3] = {ts_random(ctx, shape, seed, -2, 2), ts_random(ctx, LT_SHAPE(c), seed + 1, 0.5, 1.5),
                         ts_random(ctx, LT_SHAPE(c), seed + 2, -1, 1)};
    lt_tensor *up = ts_random(ctx, shape, seed + 3, -1, 1);
    const int64_t n = lt_numel(src[0]);
    const size_t bytes[6] = {sizeof(float) * (size_t)n, sizeof(float) * (size_t)n, sizeof(float) * (size_t)c,
                             sizeof(float) * (size_t)c, sizeof(float) * (size_t)c, sizeof(float) * (size_t)c};
    const int outs = batch ? 6 : 4;
    float *one[6], *many[6];
    bool split;
    lt_cpu_force_isa(LT_ISA_GENERIC);
    norm_run(batch, 1, src, up, one, &split);
    assert_false(split);
    for (int run = 0; run < 3 * ((int)lt_cpu_isa_supported() + 1); run++) {
        int threads = 1 + run % 3;
        lt_cpu_force_isa((lt_isa)(run / 3));
        norm_run(batch, threads, src, up, many, &split);
        assert_true(split == (threads > 1));
        for (int i = 0; i < outs; i++) {
            assert_memory_equal(one[i], many[i], bytes[i]);
            free(many[i]);
        }
    }
    lt_cpu_force_isa(lt_cpu_isa_supported());
    for (int i = 0; i < outs; i++)
        free(one[i]);
    lt_ctx_free(ctx);
}

/* Rows split across threads (and dgain, dbias by columns): the same bits
 * for 1, 2 and 3 threads and every instruction-set path (vector loops with
 * scalar tails: the width is no multiple of 16), on a row count that is no
 * multiple of the backward's block of rows. */
static void test_layernorm_threads(void **state)
{
    (void)state;
    norm_threads_isas(false, LT_SHAPE(301, 2061), 21);
}

/* A (B, T, C) batchnorm as the WaveNet's (statistics over B and T per
 * channel): the sums split by blocks of channels, the elementwise passes by
 * rows; the same bits for 1, 2 and 3 threads and every instruction-set path
 * (C = 133: whole blocks of 32 and 16 channels, then a portable tail). */
static void test_batchnorm_threads(void **state)
{
    (void)state;
    norm_threads_isas(true, LT_SHAPE(32, 260, 133), 31);
}

static void test_layernorm_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_zeros(ctx, LT_F32, LT_SHAPE(4, 3));
    assert_null(lt_layernorm(ctx, x, NULL, lt_zeros(ctx, LT_F32, LT_SHAPE(4)), 1e-5f));
    ts_assert_error(ctx, LT_ERR_SHAPE, "layernorm: bias (4) does not fit 3 features", NULL);
    assert_null(lt_layernorm(ctx, x, NULL, NULL, -1.0f));
    ts_assert_error(ctx, LT_ERR_ARG, "layernorm: eps -1", NULL);
    assert_null(lt_layernorm(ctx, lt_full(ctx, LT_SHAPE0, 1.0f), NULL, NULL, 1e-5f));
    ts_assert_error(ctx, LT_ERR_SHAPE, "needs rank 1", NULL);
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batchnorm_golden),    cmocka_unit_test(test_batchnorm_by_hand),
        cmocka_unit_test(test_batchnorm_gradcheck), cmocka_unit_test(test_batchnorm_errors),
        cmocka_unit_test(test_layernorm_golden),    cmocka_unit_test(test_layernorm_by_hand),
        cmocka_unit_test(test_layernorm_gradcheck), cmocka_unit_test(test_layernorm_errors),
        cmocka_unit_test(test_layernorm_threads),    cmocka_unit_test(test_batchnorm_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
