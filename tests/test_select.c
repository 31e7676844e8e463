/* test_select.c - selection and masking: lt_where, lt_masked_fill, lt_tril,
 * lt_triu, lt_gather, lt_one_hot. PyTorch golden values (forward and
 * gradients) with plain and strided (transposed, every-other-element)
 * inputs, finite-difference gradient checks (expanded inputs included),
 * edge values (-inf, NaN conditions, huge diagonals), error messages. */
#include "test_support.h"

#include <math.h>
#include <string.h>

#include "data/golden_select.h"

#define GOLD_ATOL 1e-6
#define GOLD_RTOL 1e-6
#define GC_EPS 1e-2
#define GC_ATOL 1e-3
#define GC_RTOL 1e-3

/* Like ts_assert_near, but equal infinities match (masked_fill's -inf). */
static void assert_near_inf(const lt_tensor *t, const float *want, int64_t n)
{
    assert_int_equal(lt_numel(t), n);
    for (int64_t i = 0; i < n; i++) {
        float got = lt_get_f32(t, i);
        if (isinf(want[i]) ? got != want[i] : !(fabsf(got - want[i]) <= GOLD_ATOL + GOLD_RTOL * fabsf(want[i])))
            fail_msg("element %lld: got %.9g, expected %.9g", (long long)i, (double)got, (double)want[i]);
    }
}

static void assert_grad(lt_ctx *ctx, lt_tensor *t, const float *want)
{
    ts_assert_near(lt_grad(ctx, t), want, lt_numel(t), GOLD_ATOL, GOLD_RTOL);
}

/* ======================================================================== */
/* where and masked_fill                                                    */
/* ======================================================================== */

static void where_case(lt_shape sc, lt_shape sa, lt_shape sb, lt_shape sy, const int32_t *cond, const float *a,
                       const float *b, const float *y, const float *g, const float *da, const float *db)
{
    for (int strided = 0; strided < 2; strided++) {
        lt_ctx *ctx = lt_ctx_new();
        lt_tensor *tc = ts_tensor_in_layout(ctx, LT_I32, sc, cond, strided),
                  *ta = ts_tensor_in_layout(ctx, LT_F32, sa, a, strided),
                  *tb = ts_tensor_in_layout(ctx, LT_F32, sb, b, strided);
        lt_tensor *out = lt_where(ctx, tc, ta, tb);
        ts_assert_shape(out, sy);
        assert_int_equal(lt_tape_size(ctx), 1);      /* strided inputs are read in place */
        ts_assert_near(out, y, lt_numel(out), 0, 0); /* copies: exact */
        ts_backward_with(ctx, out, g);
        assert_grad(ctx, ta, da);
        assert_grad(ctx, tb, db);
        lt_ctx_free(ctx);
    }
}

static void test_where_golden(void **state)
{
    (void)state;
    where_case(LT_SHAPE(2, 3), LT_SHAPE(2, 3), LT_SHAPE(2, 3), LT_SHAPE(2, 3), golden_where_same_cond,
               golden_where_same_a, golden_where_same_b, golden_where_same_y, golden_where_same_g, golden_where_same_da,
               golden_where_same_db);
    where_case(LT_SHAPE(2, 1, 4), LT_SHAPE(3, 1), LT_SHAPE(4), LT_SHAPE(2, 3, 4), golden_where_bcast_cond,
               golden_where_bcast_a, golden_where_bcast_b, golden_where_bcast_y, golden_where_bcast_g,
               golden_where_bcast_da, golden_where_bcast_db);
}

static void mfill_case(lt_shape st, lt_shape sm, lt_shape sy, float value, const int32_t *mask, const float *t,
                       const float *y, const float *g, const float *dt)
{
    for (int strided = 0; strided < 2; strided++) {
        lt_ctx *ctx = lt_ctx_new();
        lt_tensor *tt = ts_tensor_in_layout(ctx, LT_F32, st, t, strided),
                  *tm = ts_tensor_in_layout(ctx, LT_I32, sm, mask, strided);
        lt_tensor *out = lt_masked_fill(ctx, tt, tm, value);
        ts_assert_shape(out, sy);
        assert_int_equal(lt_tape_size(ctx), 1);
        assert_near_inf(out, y, lt_numel(out));
        ts_backward_with(ctx, out, g);
        assert_grad(ctx, tt, dt);
        lt_ctx_free(ctx);
    }
}

static void test_masked_fill_golden(void **state)
{
    (void)state;
    mfill_case(LT_SHAPE(2, 3, 4), LT_SHAPE(3, 4), LT_SHAPE(2, 3, 4), -INFINITY, golden_mfill_inf_mask,
               golden_mfill_inf_t, golden_mfill_inf_y, golden_mfill_inf_g, golden_mfill_inf_dt);
    mfill_case(LT_SHAPE(3, 1), LT_SHAPE(2, 3, 4), LT_SHAPE(2, 3, 4), 2.5f, golden_mfill_bcast_mask,
               golden_mfill_bcast_t, golden_mfill_bcast_y, golden_mfill_bcast_g, golden_mfill_bcast_dt);
}

/* Conditions are I32 or F32, nonzero meaning true (NaN included); values
 * are copied bit for bit (NaN, -inf, I32); the causal mask from triu(ones). */
static void test_where_conditions_and_values(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_from_f32(ctx, LT_SHAPE(4), (float[]){1, 2, NAN, -INFINITY});
    lt_tensor *b = lt_from_f32(ctx, LT_SHAPE(4), (float[]){-1, -2, -3, -4});
    lt_tensor *fc = lt_from_f32(ctx, LT_SHAPE(4), (float[]){0.0f, -0.0f, NAN, 0.5f});
    lt_tensor *y = lt_where(ctx, fc, a, b); /* 0 and -0 false; NaN and 0.5 true */
    assert_float_equal(lt_get_f32(y, 0), -1, 0);
    assert_float_equal(lt_get_f32(y, 1), -2, 0);
    assert_true(isnan(lt_get_f32(y, 2)));
    assert_true(isinf(lt_get_f32(y, 3)) && lt_get_f32(y, 3) < 0);
    lt_tensor *ic = lt_from_i32(ctx, LT_SHAPE(4), (int32_t[]){7, 0, -1, 0});
    lt_tensor *ia = lt_from_i32(ctx, LT_SHAPE(4), (int32_t[]){10, 11, 12, 13});
    lt_tensor *ib = lt_from_i32(ctx, LT_SHAPE(1), (int32_t[]){-5});
    lt_tensor *iy = lt_where(ctx, ic, ia, ib); /* I32 values, b broadcast */
    assert_int_equal(iy->dtype, LT_I32);
    const int32_t want[4] = {10, -5, 12, -5};
    for (int i = 0; i < 4; i++)
        assert_int_equal(lt_get_i32(iy, i), want[i]);
    /* the causal mask: triu(ones(T,T), 1) fills above the diagonal */
    lt_tensor *scores = lt_ones(ctx, LT_SHAPE(2, 3, 3));
    lt_tensor *masked = lt_masked_fill(ctx, scores, lt_triu(ctx, lt_ones(ctx, LT_SHAPE(3, 3)), 1), -INFINITY);
    for (int64_t i = 0; i < 18; i++) {
        int64_t r = (i / 3) % 3, c = i % 3;
        float v = lt_get_f32(masked, i);
        assert_true(c > r ? isinf(v) && v < 0 : v == 1.0f);
    }
    /* nothing recorded when only the condition requires a gradient */
    lt_tensor *fcond = lt_requires_grad(ctx, lt_new_copy(ctx, fc), true);
    assert_non_null(lt_where(ctx, fcond, a, b));
    assert_int_equal(lt_tape_size(ctx), 0);
    lt_ctx_free(ctx);
}

/* ---- gradient checks ---------------------------------------------------------- */

typedef struct {
    lt_tensor *cond;
    lt_shape expand_a; /* ndim 0: none */
} where_user;

static lt_tensor *f_where(lt_ctx *ctx, lt_tensor **in, void *u)
{
    where_user *w = u;
    lt_tensor *a = w->expand_a.ndim ? lt_expand(ctx, in[0], w->expand_a) : in[0];
    return lt_where(ctx, w->cond, a, lt_transpose(ctx, in[1], 0, 1));
}

/* masked_fill then softmax over the last dim: the attention pattern, with
 * -inf filled (finite outputs, so central differences work). */
static lt_tensor *f_fill_softmax(lt_ctx *ctx, lt_tensor **in, void *u)
{
    return lt_softmax(ctx, lt_masked_fill(ctx, in[0], u, -INFINITY), -1);
}

static lt_tensor *f_fill_value(lt_ctx *ctx, lt_tensor **in, void *u)
{
    return lt_masked_fill(ctx, lt_transpose(ctx, in[0], 0, 1), u, 3.0f);
}

static void test_where_gradcheck(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *cond = lt_new_from(ctx, LT_I32, LT_SHAPE(3, 1), (int32_t[]){1, 0, 1});
    lt_tensor *in[2] = {ts_random(ctx, LT_SHAPE(1, 4), 1, -1, 1), ts_random(ctx, LT_SHAPE(4, 3), 2, -1, 1)};
    lt_requires_grad(ctx, in[0], true);
    lt_requires_grad(ctx, in[1], true);
    where_user plain = {cond, LT_SHAPE0}; /* a (1,4) broadcast by the op, b transposed */
    ts_gradcheck(f_where, in, 2, &plain, GC_EPS, GC_ATOL, GC_RTOL);
    where_user expanded = {cond, LT_SHAPE(3, 4)}; /* a stretched by lt_expand: stride 0 */
    ts_gradcheck(f_where, in, 2, &expanded, GC_EPS, GC_ATOL, GC_RTOL);
    /* the same tensor on both sides receives both parts */
    lt_tensor *x = ts_random(ctx, LT_SHAPE(4, 3), 3, -1, 1);
    lt_requires_grad(ctx, x, true);
    assert_true(lt_backward(ctx, lt_sum(ctx, lt_where(ctx, lt_transpose(ctx, cond, 0, 1), x, x))));
    for (int64_t i = 0; i < 12; i++)
        assert_float_equal(lt_grad_get(x, i), 1.0f, 0);
    lt_ctx_reset(ctx);

    lt_tensor *scores = ts_random(ctx, LT_SHAPE(2, 4, 4), 4, -2, 2);
    lt_requires_grad(ctx, scores, true);
    lt_tensor *causal = lt_new_copy(ctx, lt_triu(ctx, lt_ones(ctx, LT_SHAPE(4, 4)), 1));
    ts_gradcheck(f_fill_softmax, &scores, 1, causal, GC_EPS, GC_ATOL, GC_RTOL);
    lt_tensor *t = ts_random(ctx, LT_SHAPE(4, 3), 5, -1, 1);
    lt_requires_grad(ctx, t, true);
    lt_tensor *mask = lt_new_from(ctx, LT_I32, LT_SHAPE(2, 3, 4),
                                  (int32_t[]){1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1, 1, 0, 1, 0});
    ts_gradcheck(f_fill_value, &t, 1, mask, GC_EPS, GC_ATOL, GC_RTOL);
    lt_ctx_free(ctx);
}

static void test_where_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *c = lt_zeros(ctx, LT_I32, LT_SHAPE(2, 3)), *a = lt_zeros(ctx, LT_F32, LT_SHAPE(2, 3));
    lt_tensor *b4 = lt_zeros(ctx, LT_F32, LT_SHAPE(4)), *bi = lt_zeros(ctx, LT_I32, LT_SHAPE(3));
    assert_null(lt_where(ctx, c, a, b4));
    assert_string_equal(lt_error_message(ctx), "where: shapes (2,3), (2,3) and (4) cannot broadcast (dim 1: 3 vs 4)");
    ts_assert_error(ctx, LT_ERR_SHAPE, NULL);
    assert_null(lt_where(ctx, lt_zeros(ctx, LT_I32, LT_SHAPE(5, 1)), a, a));
    ts_assert_error(ctx, LT_ERR_SHAPE, "where: shapes (5,1), (2,3) and (2,3) cannot broadcast (dim 0: 5 vs 2)", NULL);
    assert_null(lt_where(ctx, c, a, bi));
    assert_string_equal(lt_error_message(ctx), "where: a and b must have the same dtype, got f32 (2,3) and i32 (3)");
    ts_assert_error(ctx, LT_ERR_DTYPE, NULL);
    assert_null(lt_where(ctx, NULL, a, a));
    ts_assert_error(ctx, LT_ERR_ARG, "where: argument 1 is NULL", NULL);
    assert_null(lt_where(ctx, c, a, NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "where: argument 3 is NULL", NULL);

    assert_null(lt_masked_fill(ctx, a, lt_zeros(ctx, LT_I32, LT_SHAPE(4)), 0));
    assert_string_equal(lt_error_message(ctx), "masked_fill: shapes (2,3) and (4) cannot broadcast (dim 1: 3 vs 4)");
    ts_assert_error(ctx, LT_ERR_SHAPE, NULL);
    assert_null(lt_masked_fill(ctx, bi, c, 0));
    ts_assert_error(ctx, LT_ERR_DTYPE, "masked_fill: needs an f32 tensor, got i32", NULL);
    assert_null(lt_masked_fill(ctx, a, NULL, 0));
    ts_assert_error(ctx, LT_ERR_ARG, "masked_fill: argument 2 is NULL", NULL);
    /* sticky: a valid call after an error returns NULL */
    assert_null(lt_where(ctx, c, a, b4));
    assert_null(lt_where(ctx, c, a, a));
    ts_assert_error(ctx, LT_ERR_SHAPE, "cannot broadcast", NULL);
    lt_ctx_free(ctx);
}

/* ======================================================================== */
/* tril and triu                                                            */
/* ======================================================================== */

static void triangle_case(bool upper, lt_shape s, int64_t diag, const float *t, const float *y, const float *g,
                          const float *dt)
{
    for (int strided = 0; strided < 2; strided++) {
        lt_ctx *ctx = lt_ctx_new();
        lt_tensor *x = ts_tensor_in_layout(ctx, LT_F32, s, t, strided);
        lt_tensor *out = upper ? lt_triu(ctx, x, diag) : lt_tril(ctx, x, diag);
        ts_assert_shape(out, s);
        ts_assert_near(out, y, lt_numel(out), 0, 0);
        ts_backward_with(ctx, out, g);
        assert_grad(ctx, x, dt);
        lt_ctx_free(ctx);
    }
}

static void test_triangle_golden(void **state)
{
    (void)state;
    lt_shape s4 = LT_SHAPE(2, 3, 4, 5), s2 = LT_SHAPE(5, 3);
    triangle_case(false, s4, 0, golden_tril0_t, golden_tril0_y, golden_tril0_g, golden_tril0_dt);
    triangle_case(false, s4, -1, golden_tril_m1_t, golden_tril_m1_y, golden_tril_m1_g, golden_tril_m1_dt);
    triangle_case(false, s2, 2, golden_tril_2_t, golden_tril_2_y, golden_tril_2_g, golden_tril_2_dt);
    triangle_case(true, s4, 0, golden_triu0_t, golden_triu0_y, golden_triu0_g, golden_triu0_dt);
    triangle_case(true, s4, 1, golden_triu_1_t, golden_triu_1_y, golden_triu_1_g, golden_triu_1_dt);
    triangle_case(true, s2, -2, golden_triu_m2_t, golden_triu_m2_y, golden_triu_m2_g, golden_triu_m2_dt);
}

/* Hand-checked edges: huge diagonals (no overflow), I32, empty, the causal
 * mask as tril of ones. */
static void test_triangle_edges(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *ones = lt_ones(ctx, LT_SHAPE(2, 3));
    ts_assert_near(lt_tril(ctx, ones, INT64_MAX), (float[]){1, 1, 1, 1, 1, 1}, 6, 0, 0);
    ts_assert_near(lt_tril(ctx, ones, INT64_MIN), (float[]){0, 0, 0, 0, 0, 0}, 6, 0, 0);
    ts_assert_near(lt_triu(ctx, ones, INT64_MAX), (float[]){0, 0, 0, 0, 0, 0}, 6, 0, 0);
    ts_assert_near(lt_triu(ctx, ones, INT64_MIN), (float[]){1, 1, 1, 1, 1, 1}, 6, 0, 0);
    ts_assert_near(lt_tril(ctx, ones, 0), (float[]){1, 0, 0, 1, 1, 0}, 6, 0, 0);
    ts_assert_near(lt_triu(ctx, ones, 1), (float[]){0, 1, 1, 0, 0, 1}, 6, 0, 0);
    lt_tensor *it = lt_tril(ctx, lt_from_i32(ctx, LT_SHAPE(3, 2), (int32_t[]){1, 2, 3, 4, 5, 6}), 0);
    assert_int_equal(it->dtype, LT_I32);
    const int32_t want[6] = {1, 0, 3, 4, 5, 6};
    for (int i = 0; i < 6; i++)
        assert_int_equal(lt_get_i32(it, i), want[i]);
    ts_assert_shape(lt_triu(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(3, 0, 4)), 0), LT_SHAPE(3, 0, 4));
    ts_assert_shape(lt_tril(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 4, 0)), 0), LT_SHAPE(2, 4, 0));
    assert_int_equal(lt_status_of(ctx), LT_OK);
    assert_null(lt_tril(ctx, lt_ones(ctx, LT_SHAPE(3)), 0));
    assert_string_equal(lt_error_message(ctx), "tril: needs a tensor of rank >= 2 (a batch of matrices), got (3)");
    ts_assert_error(ctx, LT_ERR_SHAPE, NULL);
    assert_null(lt_triu(ctx, lt_ones(ctx, LT_SHAPE0), 0));
    ts_assert_error(ctx, LT_ERR_SHAPE, "triu: needs a tensor of rank >= 2", "got ()", NULL);
    assert_null(lt_triu(ctx, NULL, 0));
    ts_assert_error(ctx, LT_ERR_ARG, "triu: argument 1 is NULL", NULL);
    lt_ctx_free(ctx);
}

static lt_tensor *f_tril(lt_ctx *ctx, lt_tensor **in, void *u)
{
    return lt_tril(ctx, lt_transpose(ctx, in[0], 1, 2), *(int64_t *)u);
}

static lt_tensor *f_triu(lt_ctx *ctx, lt_tensor **in, void *u) { return lt_triu(ctx, in[0], *(int64_t *)u); }

static void test_triangle_gradcheck(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = ts_random(ctx, LT_SHAPE(2, 3, 4), 7, -1, 1);
    lt_requires_grad(ctx, x, true);
    for (int64_t d = -2; d <= 2; d++) {
        ts_gradcheck(f_tril, &x, 1, &d, GC_EPS, GC_ATOL, GC_RTOL);
        ts_gradcheck(f_triu, &x, 1, &d, GC_EPS, GC_ATOL, GC_RTOL);
    }
    lt_ctx_free(ctx);
}

/* ======================================================================== */
/* gather                                                                   */
/* ======================================================================== */

static void gather_case(lt_shape st, int dim, lt_shape si, const int32_t *index, const float *t, const float *y,
                        const float *g, const float *dt)
{
    for (int strided = 0; strided < 2; strided++) {
        lt_ctx *ctx = lt_ctx_new();
        lt_tensor *tt = ts_tensor_in_layout(ctx, LT_F32, st, t, strided),
                  *ti = ts_tensor_in_layout(ctx, LT_I32, si, index, strided);
        lt_tensor *out = lt_gather(ctx, tt, dim, ti);
        ts_assert_shape(out, si);
        assert_int_equal(lt_tape_size(ctx), 1); /* read in place */
        ts_assert_near(out, y, lt_numel(out), 0, 0);
        ts_backward_with(ctx, out, g);
        assert_grad(ctx, tt, dt);
        lt_ctx_free(ctx);
    }
}

static void test_gather_golden(void **state)
{
    (void)state;
    gather_case(LT_SHAPE(3, 5), 1, LT_SHAPE(3, 2), golden_gather_rows_index, golden_gather_rows_t, golden_gather_rows_y,
                golden_gather_rows_g, golden_gather_rows_dt);
    gather_case(LT_SHAPE(4, 3, 5), 0, LT_SHAPE(6, 2, 4), golden_gather_dim0_index, golden_gather_dim0_t,
                golden_gather_dim0_y, golden_gather_dim0_g, golden_gather_dim0_dt);
    gather_case(LT_SHAPE(2, 3, 6), -1, LT_SHAPE(2, 3, 1), golden_gather_last_index, golden_gather_last_t,
                golden_gather_last_y, golden_gather_last_g, golden_gather_last_dt);
}

/* probs[arange(n), ys] without host arithmetic, an I32 table, a scalar. */
static void test_gather_uses(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *probs =
        lt_from_f32(ctx, LT_SHAPE(3, 4), (float[]){.1f, .2f, .3f, .4f, .5f, .6f, .7f, .8f, .9f, 1, 2, 3});
    lt_tensor *ys = lt_from_i32(ctx, LT_SHAPE(3), (int32_t[]){3, 0, 2});
    lt_tensor *picked = lt_gather(ctx, probs, 1, lt_unsqueeze(ctx, ys, 1));
    ts_assert_shape(picked, LT_SHAPE(3, 1));
    ts_assert_near(picked, (float[]){.4f, .5f, 2}, 3, 0, 0);
    lt_tensor *table = lt_from_i32(ctx, LT_SHAPE(2, 3), (int32_t[]){10, 11, 12, 20, 21, 22});
    lt_tensor *it = lt_gather(ctx, table, 0, lt_from_i32(ctx, LT_SHAPE(1, 3), (int32_t[]){1, 0, 1}));
    assert_int_equal(it->dtype, LT_I32);
    assert_int_equal(lt_get_i32(it, 0), 20);
    assert_int_equal(lt_get_i32(it, 1), 11);
    assert_int_equal(lt_get_i32(it, 2), 22);
    lt_tensor *s = lt_gather(ctx, lt_full(ctx, LT_SHAPE0, 7.0f), 0, lt_zeros(ctx, LT_I32, LT_SHAPE0));
    ts_assert_shape(s, LT_SHAPE0);
    assert_float_equal(lt_get_f32(s, 0), 7.0f, 0);
    ts_assert_shape(lt_gather(ctx, probs, 1, lt_zeros(ctx, LT_I32, LT_SHAPE(2, 0))), LT_SHAPE(2, 0));
    assert_int_equal(lt_status_of(ctx), LT_OK);
    lt_ctx_free(ctx);
}

typedef struct {
    lt_tensor *index;
    int dim;
    bool expand; /* t given as lt_expand of a (1,...) tensor */
} gather_user;

static lt_tensor *f_gather(lt_ctx *ctx, lt_tensor **in, void *u)
{
    gather_user *g = u;
    lt_tensor *t = g->expand ? lt_expand(ctx, in[0], LT_SHAPE(3, 4)) : lt_transpose(ctx, in[0], 0, 1);
    return lt_gather(ctx, t, g->dim, g->index);
}

static void test_gather_gradcheck(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = ts_random(ctx, LT_SHAPE(4, 3), 8, -1, 1); /* transposed: (3,4) */
    lt_requires_grad(ctx, x, true);
    /* repeated indices: positions picked twice get both gradients */
    lt_tensor *idx1 =
        lt_new_from(ctx, LT_I32, LT_SHAPE(3, 5), (int32_t[]){0, 0, 3, 1, 0, 2, 2, 2, 3, 1, 1, 0, 0, 3, 3});
    gather_user u1 = {idx1, 1, false};
    ts_gradcheck(f_gather, &x, 1, &u1, GC_EPS, GC_ATOL, GC_RTOL);
    lt_tensor *idx0 = lt_new_from(ctx, LT_I32, LT_SHAPE(4, 2), (int32_t[]){2, 0, 2, 1, 0, 0, 1, 2});
    gather_user u0 = {idx0, 0, false};
    ts_gradcheck(f_gather, &x, 1, &u0, GC_EPS, GC_ATOL, GC_RTOL);
    lt_tensor *row = ts_random(ctx, LT_SHAPE(1, 4), 9, -1, 1); /* expanded to (3,4): stride 0 */
    lt_requires_grad(ctx, row, true);
    gather_user ue = {idx1, 1, true};
    ts_gradcheck(f_gather, &row, 1, &ue, GC_EPS, GC_ATOL, GC_RTOL);
    lt_ctx_free(ctx);
}

static void test_gather_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *t = lt_zeros(ctx, LT_F32, LT_SHAPE(2, 5));
    assert_null(lt_gather(ctx, t, 1, lt_from_i32(ctx, LT_SHAPE(1, 1), (int32_t[]){-1})));
    assert_string_equal(lt_error_message(ctx), "gather: index -1 is out of range for dim 1 of size 5");
    ts_assert_error(ctx, LT_ERR_INDEX, NULL);
    assert_null(lt_gather(ctx, t, -1, lt_from_i32(ctx, LT_SHAPE(2, 2), (int32_t[]){0, 4, 5, 1})));
    ts_assert_error(ctx, LT_ERR_INDEX, "gather: index 5 is out of range for dim 1 of size 5", NULL);
    assert_null(lt_gather(ctx, t, 1, lt_zeros(ctx, LT_I32, LT_SHAPE(3, 1))));
    assert_string_equal(lt_error_message(ctx), "gather: index (3,1) is larger than input (2,5) at dim 0 (3 > 2)");
    ts_assert_error(ctx, LT_ERR_SHAPE, NULL);
    assert_null(lt_gather(ctx, t, 1, lt_zeros(ctx, LT_I32, LT_SHAPE(2))));
    ts_assert_error(ctx, LT_ERR_SHAPE, "gather: index (2) and input (2,5) must have the same rank", NULL);
    assert_null(lt_gather(ctx, t, 1, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 1))));
    ts_assert_error(ctx, LT_ERR_DTYPE, "gather: the index must be i32, got f32 (2,1)", NULL);
    assert_null(lt_gather(ctx, t, 2, lt_zeros(ctx, LT_I32, LT_SHAPE(2, 1))));
    ts_assert_error(ctx, LT_ERR_INDEX, "gather: dim 2 out of range for a tensor of rank 2", NULL);
    assert_null(lt_gather(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 0)), 1, lt_zeros(ctx, LT_I32, LT_SHAPE(2, 1))));
    ts_assert_error(ctx, LT_ERR_INDEX, "index 0 is out of range for dim 1 of size 0", NULL);
    assert_null(lt_gather(ctx, NULL, 0, t));
    ts_assert_error(ctx, LT_ERR_ARG, "gather: argument 1 is NULL", NULL);

    /* an index changed between forward and backward is caught, not written
     * through: by its version (the backward reads it) ... */
    lt_tensor *w = lt_requires_grad(ctx, lt_new(ctx, LT_F32, LT_SHAPE(2, 5)), true);
    lt_tensor *idx = lt_new_from(ctx, LT_I32, LT_SHAPE(2, 1), (int32_t[]){1, 2});
    lt_tensor *y = lt_gather(ctx, w, 1, idx);
    lt_set_i32(idx, 1, 1000);
    assert_false(lt_backward(ctx, lt_sum(ctx, y)));
    ts_assert_error(ctx, LT_ERR_GRAPH, "gather's input 2 (2,1) was modified in place", NULL);
    /* ... and, written through a raw pointer without lt_bump_version, by its values */
    lt_ctx_reset(ctx);
    lt_set_i32(idx, 1, 2);
    y = lt_gather(ctx, w, 1, idx);
    lt_data_i32(idx)[1] = 1000;
    assert_false(lt_backward(ctx, lt_sum(ctx, y)));
    ts_assert_error(ctx, LT_ERR_INDEX, "gather: index 1000 is out of range", "changed after the forward", NULL);
    /* where's condition is saved the same way */
    lt_ctx_reset(ctx);
    lt_tensor *cond = lt_new_from(ctx, LT_I32, LT_SHAPE(2, 5), (int32_t[]){1, 0, 1, 0, 1, 0, 1, 0, 1, 0});
    y = lt_where(ctx, cond, w, lt_zeros(ctx, LT_F32, LT_SHAPE0));
    lt_set_i32(cond, 0, 0);
    assert_false(lt_backward(ctx, lt_sum(ctx, y)));
    ts_assert_error(ctx, LT_ERR_GRAPH, "where's input 1 (2,5) was modified in place", NULL);
    lt_ctx_free(ctx);
}

/* ======================================================================== */
/* one_hot                                                                  */
/* ======================================================================== */

static void test_one_hot(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    for (int strided = 0; strided < 2; strided++) {
        lt_tensor *idx = ts_tensor_in_layout(ctx, LT_I32, LT_SHAPE(2, 3), golden_one_hot_index, strided);
        lt_tensor *y = lt_one_hot(ctx, idx, 5);
        ts_assert_shape(y, LT_SHAPE(2, 3, 5));
        assert_int_equal(y->dtype, LT_F32);
        ts_assert_near(y, golden_one_hot_y, 30, 0, 0);
        lt_tensor *inferred = lt_one_hot(ctx, idx, -1);
        ts_assert_shape(inferred, LT_SHAPE(2, 3, GOLDEN_ONE_HOT_INFERRED_CLASSES));
        ts_assert_near(inferred, golden_one_hot_inferred, 6 * GOLDEN_ONE_HOT_INFERRED_CLASSES, 0, 0);
    }
    ts_assert_shape(lt_one_hot(ctx, lt_from_i32(ctx, LT_SHAPE0, (int32_t[]){2}), 3), LT_SHAPE(3));
    ts_assert_shape(lt_one_hot(ctx, lt_zeros(ctx, LT_I32, LT_SHAPE(0)), 4), LT_SHAPE(0, 4));
    assert_int_equal(lt_tape_size(ctx), 0);
    assert_int_equal(lt_status_of(ctx), LT_OK);

    lt_tensor *idx = lt_from_i32(ctx, LT_SHAPE(3), (int32_t[]){0, 5, 1});
    assert_null(lt_one_hot(ctx, idx, 5));
    assert_string_equal(lt_error_message(ctx), "one_hot: class 5 is out of range for 5 classes");
    ts_assert_error(ctx, LT_ERR_INDEX, NULL);
    assert_null(lt_one_hot(ctx, lt_from_i32(ctx, LT_SHAPE(2), (int32_t[]){1, -2}), -1));
    ts_assert_error(ctx, LT_ERR_INDEX, "one_hot: class -2 is out of range", NULL);
    assert_null(lt_one_hot(ctx, lt_zeros(ctx, LT_I32, LT_SHAPE(0)), -1));
    ts_assert_error(ctx, LT_ERR_ARG, "one_hot: cannot infer num_classes (-1) from an empty index (0)", NULL);
    assert_null(lt_one_hot(ctx, idx, -3));
    ts_assert_error(ctx, LT_ERR_ARG, "one_hot: num_classes -3 must be >= 0, or -1 to infer it", NULL);
    assert_null(lt_one_hot(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(2)), 3));
    ts_assert_error(ctx, LT_ERR_DTYPE, "one_hot: the index must be i32, got f32 (2)", NULL);
    assert_null(lt_one_hot(ctx, lt_zeros(ctx, LT_I32, LT_SHAPE(1, 1, 1, 1, 1, 1)), 3));
    ts_assert_error(ctx, LT_ERR_SHAPE, "one_hot: index (1,1,1,1,1,1) has rank 6", NULL);
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_where_golden),
        cmocka_unit_test(test_masked_fill_golden),
        cmocka_unit_test(test_where_conditions_and_values),
        cmocka_unit_test(test_where_gradcheck),
        cmocka_unit_test(test_where_errors),
        cmocka_unit_test(test_triangle_golden),
        cmocka_unit_test(test_triangle_edges),
        cmocka_unit_test(test_triangle_gradcheck),
        cmocka_unit_test(test_gather_golden),
        cmocka_unit_test(test_gather_uses),
        cmocka_unit_test(test_gather_gradcheck),
        cmocka_unit_test(test_gather_errors),
        cmocka_unit_test(test_one_hot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
