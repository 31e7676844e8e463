/* test_reduce.c - sum, mean (of everything and along a dim), max, var, std
 * and logsumexp along a dim: hand-computed values, PyTorch 1.13 golden values
 * (tests/data/golden_reduce.h, made by tools/golden_reduce.py), accuracy of
 * the double accumulation, keepdim and negative dims, rank-0 and empty
 * tensors, PyTorch's NaN, infinity and tie rules, gradients (finite
 * differences, non-contiguous inputs), errors. */
#include "test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/golden_reduce.h"

/* (2,3,4) tensor with values 0..23 */
static lt_tensor *iota234(lt_ctx *ctx)
{
    float v[24];
    for (int i = 0; i < 24; i++)
        v[i] = (float)i;
    return lt_new_from(ctx, LT_F32, LT_SHAPE(2, 3, 4), v);
}

/* ======================================================================== */
/* sum and mean of everything                                               */
/* ======================================================================== */

static void test_sum_mean_values(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_new_from(ctx, LT_F32, LT_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    lt_tensor *s = lt_sum(ctx, a), *m = lt_mean(ctx, a);
    ts_assert_shape(s, LT_SHAPE0); /* rank 0 */
    ts_assert_shape(m, LT_SHAPE0);
    assert_float_equal(lt_item(ctx, s), 21.0f, 0);
    assert_float_equal(lt_item(ctx, m), 3.5f, 0);
    /* 0..23 */
    assert_float_equal(lt_item(ctx, lt_sum(ctx, iota234(ctx))), 276.0f, 0);
    assert_float_equal(lt_item(ctx, lt_mean(ctx, iota234(ctx))), 11.5f, 0);
    /* a scalar and a non-contiguous view */
    lt_tensor *sc = lt_full(ctx, LT_SHAPE0, -2.5f);
    assert_float_equal(lt_item(ctx, lt_sum(ctx, sc)), -2.5f, 0);
    assert_float_equal(lt_item(ctx, lt_mean(ctx, sc)), -2.5f, 0);
    lt_tensor *col = lt_select(ctx, a, 1, 2); /* (3, 6) */
    assert_float_equal(lt_item(ctx, lt_sum(ctx, col)), 9.0f, 0);
    assert_float_equal(lt_item(ctx, lt_mean(ctx, lt_transpose(ctx, a, 0, 1))), 3.5f, 0);
    /* empty: sum 0, mean NaN (0/0, as PyTorch) */
    lt_tensor *e = lt_zeros(ctx, LT_F32, LT_SHAPE(0, 3));
    assert_float_equal(lt_item(ctx, lt_sum(ctx, e)), 0.0f, 0);
    assert_true(isnan(lt_item(ctx, lt_mean(ctx, e))));
    /* NaN and inf propagate */
    lt_tensor *w = lt_from_f32(ctx, LT_SHAPE(3), (float[]){1, INFINITY, 2});
    assert_true(isinf(lt_item(ctx, lt_sum(ctx, w))));
    lt_set_f32(w, 0, NAN);
    assert_true(isnan(lt_item(ctx, lt_mean(ctx, w))));
    assert_int_equal(lt_status_of(ctx), LT_OK);
    lt_ctx_free(ctx);
}

/* The sum is accumulated in double: a float accumulator would lose these. */
static void test_sum_accuracy(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    /* cancellation: 1e8 + 1 - 1e8 is 0 in float, 1 in double (both through
     * the tail loop and the 8 partial sums) */
    lt_tensor *c = lt_zeros(ctx, LT_F32, LT_SHAPE(3));
    lt_set_f32(c, 0, 1e8f);
    lt_set_f32(c, 1, 1.0f);
    lt_set_f32(c, 2, -1e8f);
    assert_float_equal(lt_item(ctx, lt_sum(ctx, c)), 1.0f, 0);
    lt_tensor *c2 = lt_zeros(ctx, LT_F32, LT_SHAPE(40));
    lt_set_f32(c2, 0, 1e8f);
    lt_set_f32(c2, 8, 1.0f);
    lt_set_f32(c2, 16, -1e8f);
    lt_set_f32(c2, 39, 0.5f);
    assert_float_equal(lt_item(ctx, lt_sum(ctx, c2)), 1.5f, 0);
    /* 10^6 copies of 0.1f: exact sum 100000.00149..., naive float ~100958 */
    int64_t n = 1000000;
    lt_tensor *big = lt_full(ctx, LT_SHAPE(n), 0.1f);
    double exact = (double)0.1f * (double)n;
    assert_float_equal(lt_item(ctx, lt_sum(ctx, big)), (float)exact, 0);
    assert_float_equal(lt_item(ctx, lt_mean(ctx, big)), 0.1f, 0);
    /* the dim forms accumulate in double too, along both inner and outer dims */
    lt_tensor *rows = lt_view(ctx, big, LT_SHAPE(2, 500000));
    ts_assert_near(lt_sum_dim(ctx, rows, 1, false), (float[]){(float)(exact / 2), (float)(exact / 2)}, 2, 0, 0);
    lt_tensor *cols = lt_view(ctx, big, LT_SHAPE(500000, 2));
    ts_assert_near(lt_sum_dim(ctx, cols, 0, false), (float[]){(float)(exact / 2), (float)(exact / 2)}, 2, 0, 0);
    ts_assert_near(lt_mean_dim(ctx, cols, 0, false), (float[]){0.1f, 0.1f}, 2, 0, 0);
    lt_ctx_free(ctx);
}

/* ======================================================================== */
/* sum and mean along a dim                                                 */
/* ======================================================================== */

static void test_sum_dim_values(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = iota234(ctx);
    /* dim 0: a[0][j][k] + a[1][j][k] = 2(4j+k) + 12 */
    lt_tensor *s0 = lt_sum_dim(ctx, a, 0, false);
    ts_assert_shape(s0, LT_SHAPE(3, 4));
    ts_assert_near(s0, (float[]){12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34}, 12, 0, 0);
    /* dim 1: sum_j (12i + 4j + k) = 36i + 12 + 3k */
    lt_tensor *s1 = lt_sum_dim(ctx, a, 1, true);
    ts_assert_shape(s1, LT_SHAPE(2, 1, 4));
    ts_assert_near(s1, (float[]){12, 15, 18, 21, 48, 51, 54, 57}, 8, 0, 0);
    /* dim -1: row sums 16r + 6 */
    lt_tensor *s2 = lt_sum_dim(ctx, a, -1, false);
    ts_assert_shape(s2, LT_SHAPE(2, 3));
    ts_assert_near(s2, (float[]){6, 22, 38, 54, 70, 86}, 6, 0, 0);
    ts_assert_shape(lt_sum_dim(ctx, a, -1, true), LT_SHAPE(2, 3, 1));
    ts_assert_near(lt_sum_dim(ctx, a, -3, false), (float[]){12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34}, 12, 0,
                   0);
    /* mean: the sums over the dim's size */
    lt_tensor *m1 = lt_mean_dim(ctx, a, 1, false);
    ts_assert_shape(m1, LT_SHAPE(2, 4));
    ts_assert_near(m1, (float[]){4, 5, 6, 7, 16, 17, 18, 19}, 8, 0, 0);
    lt_tensor *m2 = lt_mean_dim(ctx, a, 2, true);
    ts_assert_shape(m2, LT_SHAPE(2, 3, 1));
    ts_assert_near(m2, (float[]){1.5f, 5.5f, 9.5f, 13.5f, 17.5f, 21.5f}, 6, 0, 0);
    ts_assert_near(lt_mean_dim(ctx, a, -3, true), (float[]){6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}, 12, 0, 0);
    /* a non-contiguous input: the transpose (4,3,2); sum over its dim 0
     * is the (2,3) row sums, transposed to (3,2) */
    lt_tensor *t = lt_sum_dim(ctx, lt_transpose(ctx, a, 0, 2), 0, false);
    ts_assert_shape(t, LT_SHAPE(3, 2));
    ts_assert_near(t, (float[]){6, 54, 22, 70, 38, 86}, 6, 0, 0);
    assert_int_equal(lt_status_of(ctx), LT_OK);
    lt_ctx_free(ctx);
}

/* Along every dim of a random (3,4,5) with and without keepdim, against a
 * straightforward double loop over logical indices. */
static void test_sum_mean_dim_reference(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = ts_random(ctx, LT_SHAPE(3, 4, 5), 7, -2, 2);
    const int64_t sh[3] = {3, 4, 5};
    for (int d = 0; d < 3; d++)
        for (int keep = 0; keep < 2; keep++)
            for (int mean = 0; mean < 2; mean++) {
                /* the mean uses the negative spelling of the same dim */
                lt_tensor *r = mean ? lt_mean_dim(ctx, a, d - 3, keep) : lt_sum_dim(ctx, a, d, keep);
                assert_non_null(r);
                assert_int_equal(r->ndim, keep ? 3 : 2);
                float want[20];
                int64_t o = 0;
                for (int64_t i = 0; i < (d == 0 ? 1 : 3); i++)
                    for (int64_t j = 0; j < (d == 1 ? 1 : 4); j++)
                        for (int64_t k = 0; k < (d == 2 ? 1 : 5); k++) {
                            double s = 0;
                            for (int64_t x = 0; x < sh[d]; x++) {
                                int64_t idx[3] = {i, j, k};
                                idx[d] = x;
                                s += lt_get_f32(a, (idx[0] * 4 + idx[1]) * 5 + idx[2]);
                            }
                            want[o++] = (float)(mean ? s / (double)sh[d] : s);
                        }
                ts_assert_near(r, want, o, 1e-6, 1e-6);
            }
    lt_ctx_free(ctx);
}

static void test_reduce_dim_scalars_and_empty(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    /* a rank-0 tensor reduces along dim 0 or -1 to itself, still rank 0 */
    lt_tensor *s = lt_full(ctx, LT_SHAPE0, 3.0f);
    lt_tensor *r = lt_sum_dim(ctx, s, 0, false);
    ts_assert_shape(r, LT_SHAPE0);
    assert_float_equal(lt_item(ctx, r), 3.0f, 0);
    ts_assert_shape(lt_mean_dim(ctx, s, -1, true), LT_SHAPE0);
    lt_tensor *idx;
    r = lt_max_dim(ctx, s, 0, true, &idx);
    ts_assert_shape(r, LT_SHAPE0);
    ts_assert_shape(idx, LT_SHAPE0);
    assert_int_equal(lt_get_i32(idx, 0), 0);
    assert_null(lt_sum_dim(ctx, s, 1, false));
    ts_assert_error(ctx, LT_ERR_INDEX, "sum_dim", "dim 1", NULL);
    /* empty: sum over a size-0 dim is 0, mean NaN; other dims may be empty */
    lt_tensor *e = lt_zeros(ctx, LT_F32, LT_SHAPE(0, 3));
    ts_assert_near(lt_sum_dim(ctx, e, 0, false), (float[]){0, 0, 0}, 3, 0, 0);
    lt_tensor *m = lt_mean_dim(ctx, e, 0, true);
    ts_assert_shape(m, LT_SHAPE(1, 3));
    for (int i = 0; i < 3; i++)
        assert_true(isnan(lt_get_f32(m, i)));
    ts_assert_shape(lt_sum_dim(ctx, e, 1, false), LT_SHAPE(0));
    ts_assert_shape(lt_mean_dim(ctx, e, 1, true), LT_SHAPE(0, 1));
    ts_assert_shape(lt_max_dim(ctx, e, 1, false, &idx), LT_SHAPE(0));
    ts_assert_shape(idx, LT_SHAPE(0));
    /* ... but max over an empty dim has no answer (PyTorch raises too) */
    assert_null(lt_max_dim(ctx, e, 0, false, &idx));
    assert_null(idx);
    ts_assert_error(ctx, LT_ERR_SHAPE, "max_dim", "size 0", "(0,3)", NULL);
    lt_ctx_free(ctx);
}

/* ======================================================================== */
/* max along a dim                                                          */
/* ======================================================================== */

static void test_max_dim_values(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_from_f32(ctx, LT_SHAPE(2, 3), (float[]){1, 5, 5, 7, 2, 7});
    lt_tensor *idx;
    lt_tensor *v = lt_max_dim(ctx, a, 0, false, &idx);
    ts_assert_near(v, (float[]){7, 5, 7}, 3, 0, 0);
    assert_int_equal(idx->dtype, LT_I32);
    ts_assert_shape(idx, LT_SHAPE(3));
    int32_t want0[3] = {1, 0, 1};
    for (int i = 0; i < 3; i++)
        assert_int_equal(lt_get_i32(idx, i), want0[i]);
    /* ties: the first maximum */
    v = lt_max_dim(ctx, a, 1, true, &idx);
    ts_assert_shape(v, LT_SHAPE(2, 1));
    ts_assert_shape(idx, LT_SHAPE(2, 1));
    ts_assert_near(v, (float[]){5, 7}, 2, 0, 0);
    assert_int_equal(lt_get_i32(idx, 0), 1);
    assert_int_equal(lt_get_i32(idx, 1), 0);
    /* indices are optional */
    ts_assert_near(lt_max_dim(ctx, a, -1, false, NULL), (float[]){5, 7}, 2, 0, 0);
    /* 3-D, middle dim, through a transposed (non-contiguous) input:
     * t = a^T-like (4,3,2) view of iota; max over dim 1 picks j = 2 */
    lt_tensor *t = lt_transpose(ctx, iota234(ctx), 0, 2); /* t[k][j][i] = 12i + 4j + k */
    v = lt_max_dim(ctx, t, 1, false, &idx);
    ts_assert_shape(v, LT_SHAPE(4, 2));
    ts_assert_near(v, (float[]){8, 20, 9, 21, 10, 22, 11, 23}, 8, 0, 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(lt_get_i32(idx, i), 2);
    /* -inf everywhere: index 0; -0 and 0 tie: the first */
    lt_tensor *ninf = lt_full(ctx, LT_SHAPE(3), -INFINITY);
    v = lt_max_dim(ctx, ninf, 0, false, &idx);
    assert_true(isinf(lt_item(ctx, v)) && lt_item(ctx, v) < 0);
    assert_int_equal(lt_get_i32(idx, 0), 0);
    v = lt_max_dim(ctx, lt_from_f32(ctx, LT_SHAPE(2), (float[]){-0.0f, 0.0f}), 0, false, &idx);
    assert_int_equal(lt_get_i32(idx, 0), 0);
    assert_true(signbit(lt_item(ctx, v)));
    lt_ctx_free(ctx);
}

/* NaN is the maximum and the first NaN wins (torch.max(dim) semantics):
 * [[1,5,5],[nan,2,nan]] -> dim 1: (5, nan) at (1, 0); dim 0: (nan, 5, nan) at (1, 0, 1). */
static void test_max_dim_nan(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_new_from(ctx, LT_F32, LT_SHAPE(2, 3), (float[]){1, 5, 5, NAN, 2, NAN});
    lt_requires_grad(ctx, a, true);
    lt_tensor *idx;
    lt_tensor *v = lt_max_dim(ctx, a, 1, false, &idx);
    assert_float_equal(lt_get_f32(v, 0), 5.0f, 0);
    assert_true(isnan(lt_get_f32(v, 1)));
    assert_int_equal(lt_get_i32(idx, 0), 1);
    assert_int_equal(lt_get_i32(idx, 1), 0);
    v = lt_max_dim(ctx, a, 0, false, &idx);
    assert_true(isnan(lt_get_f32(v, 0)) && isnan(lt_get_f32(v, 2)));
    assert_float_equal(lt_get_f32(v, 1), 5.0f, 0);
    int32_t want[3] = {1, 0, 1};
    for (int i = 0; i < 3; i++)
        assert_int_equal(lt_get_i32(idx, i), want[i]);
    /* the gradient follows the NaN's position */
    assert_true(lt_backward_grad(ctx, v, lt_from_f32(ctx, LT_SHAPE(3), (float[]){1, 2, 3})));
    ts_assert_near(lt_grad(ctx, a), (float[]){0, 2, 0, 1, 0, 3}, 6, 0, 0);
    /* a NaN after a larger value still wins; later NaNs do not move the index */
    lt_tensor *b = lt_from_f32(ctx, LT_SHAPE(5), (float[]){9, 1, NAN, 10, NAN});
    v = lt_max_dim(ctx, b, 0, false, &idx);
    assert_true(isnan(lt_item(ctx, v)));
    assert_int_equal(lt_get_i32(idx, 0), 2);
    lt_ctx_free(ctx);
}

/* The gradient goes only to the (first) argmax. */
static void test_max_dim_backward_routes(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_new_from(ctx, LT_F32, LT_SHAPE(2, 3), (float[]){1, 5, 5, 7, 2, 7});
    lt_requires_grad(ctx, a, true);
    lt_tensor *v = lt_max_dim(ctx, a, 1, false, NULL);
    assert_true(lt_backward_grad(ctx, v, lt_from_f32(ctx, LT_SHAPE(2), (float[]){10, 20})));
    ts_assert_near(lt_grad(ctx, a), (float[]){0, 10, 0, 20, 0, 0}, 6, 0, 0);
    /* accumulates (+=) on a second pass, along the other dim */
    lt_ctx_reset(ctx);
    v = lt_max_dim(ctx, a, 0, true, NULL);
    assert_true(lt_backward(ctx, lt_sum(ctx, v)));
    ts_assert_near(lt_grad(ctx, a), (float[]){0, 11, 0, 21, 0, 1}, 6, 0, 0);
    lt_ctx_free(ctx);
}

/* ======================================================================== */
/* gradient checks                                                          */
/* ======================================================================== */

#define GC_EPS 1e-2
#define GC_ATOL 1e-3
#define GC_RTOL 1e-3

typedef struct {
    int op; /* 0 sum, 1 mean, 2 sum_dim, 3 mean_dim, 4 max_dim */
    int dim;
    bool keepdim;
    int view; /* 0 as is, 1 transposed, 2 narrowed, 3 view of a view */
} reduce_case;

static lt_tensor *view_of(lt_ctx *ctx, lt_tensor *x, int view)
{
    switch (view) {
    case 1: return lt_transpose(ctx, x, 0, 2);                                      /* (5,4,3) */
    case 2: return lt_narrow(ctx, x, 1, 1, 2);                                      /* (3,2,5) */
    case 3: return lt_select(ctx, lt_narrow(ctx, lt_transpose(ctx, x, 1, 2), 0, 1, 2), 2, 1); /* (2,5) */
    default: return x;
    }
}

static lt_tensor *f_reduce(lt_ctx *ctx, lt_tensor **in, void *u)
{
    const reduce_case *c = u;
    lt_tensor *x = view_of(ctx, in[0], c->view);
    switch (c->op) {
    case 0: return lt_sum(ctx, x);
    case 1: return lt_mean(ctx, x);
    case 2: return lt_sum_dim(ctx, x, c->dim, c->keepdim);
    case 3: return lt_mean_dim(ctx, x, c->dim, c->keepdim);
    default: return lt_max_dim(ctx, x, c->dim, c->keepdim, NULL);
    }
}

/* A (3,4,5) input; for max its values are a shuffled 0.05-spaced grid so
 * every argmax is unique by more than 2 eps. Each element of the base gets
 * checked, including those a narrowed view does not touch (gradient 0). */
static void gradcheck_reduce(reduce_case c)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = ts_random(ctx, LT_SHAPE(3, 4, 5), (uint64_t)(c.op * 100 + c.dim * 10 + c.view + 1), -1, 1);
    if (c.op == 4) {
        float *d = lt_data_f32(x);
        for (int i = 0; i < 60; i++)
            d[i] = 0.05f * (float)((i * 37) % 60) - 1.5f; /* 37 is coprime with 60 */
    }
    lt_requires_grad(ctx, x, true);
    ts_gradcheck(f_reduce, &x, 1, &c, GC_EPS, GC_ATOL, GC_RTOL);
    lt_ctx_free(ctx);
}

static void test_reduce_gradcheck(void **state)
{
    (void)state;
    for (int view = 0; view < 4; view++) {
        int rank = view == 3 ? 2 : 3;
        gradcheck_reduce((reduce_case){0, 0, false, view});
        gradcheck_reduce((reduce_case){1, 0, false, view});
        for (int op = 2; op <= 4; op++)
            for (int d = -rank; d < rank; d++)
                gradcheck_reduce((reduce_case){op, d, (d & 1) != 0, view});
    }
}

/* ======================================================================== */
/* variance, standard deviation, log-sum-exp                                */
/* ======================================================================== */

enum { VAR, STD, LSE };

static lt_tensor *stat_dim(lt_ctx *ctx, int op, lt_tensor *x, int dim, bool unbiased, bool keepdim)
{
    switch (op) {
    case VAR: return lt_var_dim(ctx, x, dim, unbiased, keepdim);
    case STD: return lt_std_dim(ctx, x, dim, unbiased, keepdim);
    default: return lt_logsumexp(ctx, x, dim, keepdim);
    }
}

/* X's shape (3,4,5) without dim d */
static lt_shape reduced_shape(int d)
{
    lt_shape s = {0, {0}};
    const int64_t full[3] = {3, 4, 5};
    for (int i = 0; i < 3; i++)
        if (i != d)
            s.d[s.ndim++] = full[i];
    return s;
}

/* op(x) along dim (also spelled negatively), backward of the upstream G,
 * against PyTorch's values and input gradient. */
static void check_stat_golden(int op, const float *x_in, int dim, bool unbiased, const float *y_want,
                              const float *dx_want, double rtol, double dx_atol)
{
    static const float *const up[3] = {golden_red_g0, golden_red_g1, golden_red_g2};
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(3, 4, 5), x_in), true);
    lt_shape ys = reduced_shape(dim);
    for (int neg = 0; neg < 2; neg++) {
        lt_ctx_reset(ctx);
        lt_zero_grad(x);
        lt_tensor *y = stat_dim(ctx, op, x, neg ? dim - 3 : dim, unbiased, false);
        ts_assert_shape(y, ys);
        ts_assert_near(y, y_want, lt_numel(y), 1e-6, rtol);
        assert_true(lt_backward_grad(ctx, y, lt_from_f32(ctx, ys, up[dim])));
        ts_assert_near(lt_grad(ctx, x), dx_want, 60, dx_atol, 1e-4);
    }
    lt_ctx_free(ctx);
}

static void test_var_std_golden(void **state)
{
    (void)state;
    static const float *const var_y[2][3] = {{golden_var_b_d0_y, golden_var_b_d1_y, golden_var_b_d2_y},
                                             {golden_var_u_d0_y, golden_var_u_d1_y, golden_var_u_d2_y}};
    static const float *const var_dx[2][3] = {{golden_var_b_d0_dx, golden_var_b_d1_dx, golden_var_b_d2_dx},
                                              {golden_var_u_d0_dx, golden_var_u_d1_dx, golden_var_u_d2_dx}};
    static const float *const std_y[2][3] = {{golden_std_b_d0_y, golden_std_b_d1_y, golden_std_b_d2_y},
                                             {golden_std_u_d0_y, golden_std_u_d1_y, golden_std_u_d2_y}};
    static const float *const std_dx[2][3] = {{golden_std_b_d0_dx, golden_std_b_d1_dx, golden_std_b_d2_dx},
                                              {golden_std_u_d0_dx, golden_std_u_d1_dx, golden_std_u_d2_dx}};
    static const float *const off_y[2][3] = {
        {golden_var_offset_b_d0_y, golden_var_offset_b_d1_y, golden_var_offset_b_d2_y},
        {golden_var_offset_u_d0_y, golden_var_offset_u_d1_y, golden_var_offset_u_d2_y}};
    static const float *const off_dx[2][3] = {
        {golden_var_offset_b_d0_dx, golden_var_offset_b_d1_dx, golden_var_offset_b_d2_dx},
        {golden_var_offset_u_d0_dx, golden_var_offset_u_d1_dx, golden_var_offset_u_d2_dx}};
    for (int u = 0; u < 2; u++)
        for (int d = 0; d < 3; d++) {
            check_stat_golden(VAR, golden_red_x, d, u, var_y[u][d], var_dx[u][d], 1e-5, 1e-6);
            check_stat_golden(STD, golden_red_x, d, u, std_y[u][d], std_dx[u][d], 1e-5, 1e-6);
            /* around 1000 PyTorch is itself a little off: its float mean is
             * within half an ulp of 1000 (3e-5), and its gradient's x - mean
             * (about 1) carries that error; test_var_accuracy compares with
             * double references instead */
            check_stat_golden(VAR, golden_red_x_offset, d, u, off_y[u][d], off_dx[u][d], 1e-4, 2e-4);
        }
}

static void test_logsumexp_golden(void **state)
{
    (void)state;
    static const float *const y[2][3] = {{golden_lse_d0_y, golden_lse_d1_y, golden_lse_d2_y},
                                         {golden_lse_wide_d0_y, golden_lse_wide_d1_y, golden_lse_wide_d2_y}};
    static const float *const dx[2][3] = {{golden_lse_d0_dx, golden_lse_d1_dx, golden_lse_d2_dx},
                                          {golden_lse_wide_d0_dx, golden_lse_wide_d1_dx, golden_lse_wide_d2_dx}};
    for (int d = 0; d < 3; d++) {
        check_stat_golden(LSE, golden_red_x, d, false, y[0][d], dx[0][d], 1e-6, 1e-6);
        check_stat_golden(LSE, golden_red_x_wide, d, false, y[1][d], dx[1][d], 1e-6, 1e-6);
    }
}

/* The variance and its gradient in double of the stored offset tensor along
 * the last dim: the library's two passes in double are closer to them than
 * PyTorch's float. */
static void test_var_accuracy(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(12, 5), golden_red_x_offset), true);
    lt_tensor *v = lt_var_dim(ctx, x, 1, true, true);
    ts_assert_shape(v, LT_SHAPE(12, 1));
    assert_true(lt_backward_grad(ctx, v, lt_ones(ctx, LT_SHAPE(12, 1))));
    for (int r = 0; r < 12; r++) {
        const float *row = golden_red_x_offset + r * 5;
        double m = 0, ss = 0;
        for (int j = 0; j < 5; j++)
            m += row[j] / 5.0;
        for (int j = 0; j < 5; j++)
            ss += (row[j] - m) * (row[j] - m);
        ts_assert_value("var", lt_get_f32(v, r), (float)(ss / 4), 0, 0); /* correctly rounded */
        for (int j = 0; j < 5; j++) /* d var / dx_j = 2 (x_j - mean) / (N - 1) */
            ts_assert_value("var'", lt_grad_get(x, r * 5 + j), (float)(2 * (row[j] - m) / 4), 0, 0);
    }
    /* a million-fold offset: a one-pass float formula would return garbage */
    lt_free(x);
    lt_tensor *big = lt_from_f32(ctx, LT_SHAPE(4), (float[]){1e6f + 1, 1e6f + 2, 1e6f + 3, 1e6f + 4});
    assert_true(lt_item(ctx, lt_var_dim(ctx, big, 0, true, false)) == 5.0f / 3.0f);
    assert_true(lt_item(ctx, lt_std_dim(ctx, big, 0, false, false)) == sqrtf(1.25f));
    lt_ctx_free(ctx);
}

static void test_var_std_edges(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(2, 1), (float[]){3, 4}), true);
    /* N = 1: unbiased is 0/0 = NaN (value and gradient), biased 0 (gradient 0) */
    for (int op = VAR; op <= STD; op++) {
        lt_ctx_reset(ctx);
        lt_zero_grad(x);
        lt_tensor *y = stat_dim(ctx, op, x, 1, true, false);
        assert_true(isnan(lt_get_f32(y, 0)) && isnan(lt_get_f32(y, 1)));
        assert_true(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(2))));
        assert_true(isnan(lt_grad_get(x, 0)) && isnan(lt_grad_get(x, 1)));
        lt_ctx_reset(ctx);
        lt_zero_grad(x);
        y = stat_dim(ctx, op, x, -1, false, true);
        ts_assert_shape(y, LT_SHAPE(2, 1));
        assert_true(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(2, 1))));
        ts_assert_near(y, (float[]){0, 0}, 2, 0, 0);
        ts_assert_near(lt_grad(ctx, x), (float[]){0, 0}, 2, 0, 0);
    }
    /* a constant row: std 0, and std's gradient 0 there (not 0/0), as PyTorch */
    lt_ctx_reset(ctx);
    lt_tensor *c = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(2, 3), (float[]){2, 2, 2, 1, 2, 3}), true);
    lt_tensor *s = lt_std_dim(ctx, c, 1, true, false);
    ts_assert_near(s, (float[]){0, 1}, 2, 0, 0);
    assert_true(lt_backward_grad(ctx, s, lt_ones(ctx, LT_SHAPE(2))));
    /* row 1: d std / dx_j = (x_j - mean) / ((N-1) std) = -0.5, 0, 0.5 */
    ts_assert_near(lt_grad(ctx, c), (float[]){0, 0, 0, -0.5f, 0, 0.5f}, 6, 0, 1e-7);
    /* hand values: var(1,2,3,4) = 5/3 unbiased, 5/4 biased; along dim 0 */
    lt_tensor *h = lt_from_f32(ctx, LT_SHAPE(4, 2), (float[]){1, 0, 2, 0, 3, 0, 4, 8});
    ts_assert_near(lt_var_dim(ctx, h, 0, true, false), (float[]){5 / 3.f, 16}, 2, 0, 1e-7);
    ts_assert_near(lt_var_dim(ctx, h, 0, false, false), (float[]){1.25f, 12}, 2, 0, 1e-7);
    ts_assert_near(lt_std_dim(ctx, h, 0, false, true), (float[]){sqrtf(1.25f), sqrtf(12)}, 2, 0, 1e-7);
    ts_assert_shape(lt_std_dim(ctx, h, 0, false, true), LT_SHAPE(1, 2));
    /* an empty dim gives NaN; an empty result is empty; a scalar is one
     * element (NaN unbiased, 0 biased), as PyTorch */
    for (int u = 0; u < 2; u++) { /* 0/0 either way (not 0 / -1 for unbiased) */
        lt_tensor *e = lt_var_dim(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 0)), 1, u, false);
        ts_assert_shape(e, LT_SHAPE(2));
        assert_true(isnan(lt_get_f32(e, 0)) && isnan(lt_get_f32(e, 1)));
    }
    ts_assert_shape(lt_std_dim(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(0, 3)), 1, true, false), LT_SHAPE(0));
    lt_tensor *sc = lt_full(ctx, LT_SHAPE0, 2.5f);
    ts_assert_shape(lt_var_dim(ctx, sc, 0, true, false), LT_SHAPE0);
    assert_true(isnan(lt_item(ctx, lt_var_dim(ctx, sc, -1, true, false))));
    assert_true(lt_item(ctx, lt_std_dim(ctx, sc, 0, false, false)) == 0.0f);
    assert_int_equal(lt_status_of(ctx), LT_OK);
    lt_ctx_free(ctx);
}

static void test_logsumexp_edges(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    /* rows: all -inf, +inf and a number, +inf and -inf, NaN, finite, huge */
    const float xv[12] = {-INFINITY, -INFINITY, INFINITY, 1, INFINITY, -INFINITY, NAN, 1, 1, 2, 1e30f, 1e30f};
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(6, 2), xv), true);
    lt_tensor *y = lt_logsumexp(ctx, x, 1, false);
    ts_assert_shape(y, LT_SHAPE(6));
    const float y_want[6] = {-INFINITY, INFINITY, INFINITY, NAN, 2.31326169f, 1e30f};
    for (int i = 0; i < 6; i++)
        ts_assert_value("logsumexp", lt_get_f32(y, i), y_want[i], 0, 1e-7);
    /* the gradient is exp(x - y): NaN where that is inf - inf, 0 for -inf
     * against +inf, the softmax otherwise (PyTorch's values, except the last
     * row, where PyTorch's float y has lost log 2 and its gradient is 1, 1) */
    assert_true(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(6))));
    const float dx_want[12] = {NAN, NAN, NAN, 0, NAN, 0, NAN, NAN, 0.268941421f, 0.731058579f, 0.5f, 0.5f};
    for (int i = 0; i < 12; i++)
        ts_assert_value("logsumexp'", lt_grad_get(x, i), dx_want[i], 1e-7, 0);
    /* an empty dim is log(0) = -inf; a scalar is itself; keepdim */
    lt_tensor *e = lt_logsumexp(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 0)), 1, true);
    ts_assert_shape(e, LT_SHAPE(2, 1));
    assert_true(lt_get_f32(e, 0) == -INFINITY && lt_get_f32(e, 1) == -INFINITY);
    assert_true(lt_item(ctx, lt_logsumexp(ctx, lt_full(ctx, LT_SHAPE0, 2.5f), 0, false)) == 2.5f);
    /* large logits do not overflow: 88 + log(2) and -1000 + log 3 */
    lt_tensor *big = lt_from_f32(ctx, LT_SHAPE(2, 3), (float[]){88, 88, -INFINITY, -1000, -1000, -1000});
    ts_assert_near(lt_logsumexp(ctx, big, -1, false), (float[]){88.6931472f, -998.901388f}, 2, 0, 1e-7);
    lt_ctx_free(ctx);
}

/* logsumexp's gradient is the softmax along the same dim */
static void test_logsumexp_gradient_is_softmax(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(3, 4, 5), 41, -3, 3), true);
    for (int d = 0; d < 3; d++) {
        lt_ctx_reset(ctx);
        lt_zero_grad(x);
        lt_tensor *p = lt_softmax(ctx, x, d);
        assert_true(lt_backward(ctx, lt_sum(ctx, lt_logsumexp(ctx, x, d, d == 1))));
        ts_assert_tensors_near(lt_grad(ctx, x), p, 1e-7);
    }
    lt_ctx_free(ctx);
}

typedef struct {
    int op, dim;
    bool unbiased, keepdim, transposed;
} stat_case;

static lt_tensor *f_stat(lt_ctx *ctx, lt_tensor **in, void *user)
{
    const stat_case *c = user;
    lt_tensor *x = c->transposed ? lt_transpose(ctx, in[0], 0, 2) : in[0];
    return stat_dim(ctx, c->op, x, c->dim, c->unbiased, c->keepdim);
}

static void test_stat_gradcheck(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(3, 4, 5), 17, -2, 2), true);
    for (int op = VAR; op <= LSE; op++)
        for (int dim = -3; dim < 3; dim++)
            for (int k = 0; k < 4; k++) {
                stat_case c = {op, dim, (k & 1) != 0, (k & 2) != 0, (dim & 1) != 0};
                ts_gradcheck(f_stat, &x, 1, &c, 1e-3, GC_ATOL, GC_RTOL);
            }
    lt_ctx_free(ctx);
}

/* A strided input gives the values of its contiguous copy, and nothing is
 * recorded without a gradient. */
static void test_stat_strided_and_graph(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *base = ts_random(ctx, LT_SHAPE(4, 6), 23, -3, 3);
    lt_tensor *v = lt_narrow(ctx, lt_transpose(ctx, base, 0, 1), 0, 1, 4); /* (4,4) strided */
    lt_tensor *vd = lt_clone(ctx, v);
    for (int op = VAR; op <= LSE; op++)
        for (int dim = 0; dim < 2; dim++)
            ts_assert_tensors_near(stat_dim(ctx, op, v, dim, true, false), stat_dim(ctx, op, vd, dim, true, false), 0);
    assert_int_equal(lt_tape_size(ctx), 0);
    lt_requires_grad(ctx, base, true);
    for (int op = VAR; op <= LSE; op++) {
        lt_ctx_reset(ctx);
        assert_true(stat_dim(ctx, op, base, 0, true, false)->requires_grad);
        assert_int_equal(lt_tape_size(ctx), 1);
    }
    lt_ctx_free(ctx);
}

/* var and logsumexp read their input in backward, std its output too */
static void test_stat_saved_tensors(void **state)
{
    (void)state;
    static const char *const name[3] = {"var_dim", "std_dim", "logsumexp"};
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(3, 4), 19, -2, 2), true);
    for (int op = VAR; op <= LSE; op++)
        ts_check_saves(f_stat, x, &(stat_case){op, 1, true, false, false}, name[op], true, op == STD);
    lt_ctx_free(ctx);
}

static void test_stat_errors(void **state)
{
    (void)state;
    static const char *const name[3] = {"var_dim", "std_dim", "logsumexp"};
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_zeros(ctx, LT_F32, LT_SHAPE(2, 3)), *xi = lt_zeros(ctx, LT_I32, LT_SHAPE(2, 3));
    for (int op = VAR; op <= LSE; op++) {
        assert_null(stat_dim(NULL, op, x, 0, true, false));
        assert_null(stat_dim(ctx, op, NULL, 0, true, false));
        ts_assert_error(ctx, LT_ERR_ARG, name[op], "argument 1 is NULL", NULL);
        assert_null(stat_dim(ctx, op, xi, 0, true, false));
        ts_assert_error(ctx, LT_ERR_DTYPE, name[op], "i32", NULL);
        assert_null(stat_dim(ctx, op, x, 2, true, false));
        ts_assert_error(ctx, LT_ERR_INDEX, name[op], "dim 2", "rank 2", NULL);
        assert_null(stat_dim(ctx, op, x, -3, true, false));
        ts_assert_error(ctx, LT_ERR_INDEX, name[op], "dim -3", NULL);
        /* sticky */
        assert_null(stat_dim(ctx, op, x, 9, true, false));
        assert_null(stat_dim(ctx, op, x, 0, true, false));
        ts_assert_error(ctx, LT_ERR_INDEX, name[op], "dim 9", NULL);
        assert_non_null(stat_dim(ctx, op, x, 0, true, false));
    }
    lt_ctx_free(ctx);
}

/* ======================================================================== */
/* graph bookkeeping and errors                                             */
/* ======================================================================== */

static void test_reduce_graph(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = ts_random(ctx, LT_SHAPE(2, 3), 3, -1, 1);
    /* no gradient wanted: nothing recorded */
    assert_false(lt_sum(ctx, x)->requires_grad);
    assert_int_equal(lt_tape_size(ctx), 0);
    lt_requires_grad(ctx, x, true);
    bool old = lt_set_grad_enabled(ctx, false);
    assert_non_null(lt_max_dim(ctx, x, 0, false, NULL));
    assert_non_null(lt_mean_dim(ctx, x, 0, false));
    lt_set_grad_enabled(ctx, old);
    assert_int_equal(lt_tape_size(ctx), 0);
    /* with a gradient: one node per op, indices never require grad */
    lt_tensor *idx;
    lt_tensor *v = lt_max_dim(ctx, x, 1, false, &idx);
    assert_true(v->requires_grad);
    assert_false(idx->requires_grad);
    assert_non_null(lt_sum_dim(ctx, x, 0, true));
    assert_non_null(lt_mean(ctx, x));
    assert_int_equal(lt_tape_size(ctx), 3);
    /* mean's gradient is 1/numel everywhere */
    lt_ctx_reset(ctx);
    assert_true(lt_backward(ctx, lt_mean(ctx, x)));
    ts_assert_near(lt_grad(ctx, x), (float[]){1.f / 6, 1.f / 6, 1.f / 6, 1.f / 6, 1.f / 6, 1.f / 6}, 6, 1e-7, 0);
    lt_ctx_free(ctx);
}

static void test_reduce_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_zeros(ctx, LT_F32, LT_SHAPE(2, 3)), *xi = lt_zeros(ctx, LT_I32, LT_SHAPE(2, 3));
    lt_tensor *idx = x;
    /* NULL arguments */
    assert_null(lt_sum(ctx, NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "sum", "argument 1 is NULL", NULL);
    assert_null(lt_mean(ctx, NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "mean", "NULL", NULL);
    assert_null(lt_sum_dim(ctx, NULL, 0, false));
    ts_assert_error(ctx, LT_ERR_ARG, "sum_dim", "NULL", NULL);
    assert_null(lt_mean_dim(ctx, NULL, 0, false));
    ts_assert_error(ctx, LT_ERR_ARG, "mean_dim", "NULL", NULL);
    assert_null(lt_max_dim(ctx, NULL, 0, false, &idx));
    assert_null(idx); /* cleared on failure */
    ts_assert_error(ctx, LT_ERR_ARG, "max_dim", "NULL", NULL);
    assert_null(lt_sum(NULL, x));
    /* wrong dtype */
    assert_null(lt_sum(ctx, xi));
    ts_assert_error(ctx, LT_ERR_DTYPE, "sum", "i32", NULL);
    assert_null(lt_mean(ctx, xi));
    ts_assert_error(ctx, LT_ERR_DTYPE, "mean", "i32", NULL);
    assert_null(lt_sum_dim(ctx, xi, 0, false));
    ts_assert_error(ctx, LT_ERR_DTYPE, "sum_dim", "i32", NULL);
    assert_null(lt_mean_dim(ctx, xi, 1, true));
    ts_assert_error(ctx, LT_ERR_DTYPE, "mean_dim", "i32", NULL);
    assert_null(lt_max_dim(ctx, xi, 1, true, NULL));
    ts_assert_error(ctx, LT_ERR_DTYPE, "max_dim", "i32", NULL);
    /* bad dims */
    assert_null(lt_sum_dim(ctx, x, 2, false));
    ts_assert_error(ctx, LT_ERR_INDEX, "sum_dim", "dim 2", "rank 2", NULL);
    assert_null(lt_mean_dim(ctx, x, -3, false));
    ts_assert_error(ctx, LT_ERR_INDEX, "mean_dim", "dim -3", "rank 2", NULL);
    assert_null(lt_max_dim(ctx, x, 5, false, &idx));
    ts_assert_error(ctx, LT_ERR_INDEX, "max_dim", "dim 5", NULL);
    /* a sticky error makes the next op return NULL */
    assert_null(lt_sum_dim(ctx, x, 7, false));
    assert_null(lt_sum(ctx, x));
    assert_null(lt_mean(ctx, x));
    assert_null(lt_max_dim(ctx, x, 0, false, &idx));
    assert_null(idx);
    ts_assert_error(ctx, LT_ERR_INDEX, "sum_dim", "dim 7", NULL);
    assert_non_null(lt_sum(ctx, x));
    lt_ctx_free(ctx);
}

/* Overwriting the returned indices must not redirect the gradient. */
static void test_max_dim_indices_are_the_callers(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_new_from(ctx, LT_F32, LT_SHAPE(2, 3), (float[]){1, 5, 2, 7, 0, 3});
    lt_requires_grad(ctx, a, true);
    lt_tensor *idx;
    lt_tensor *m = lt_max_dim(ctx, a, 1, false, &idx);
    assert_int_equal(lt_get_i32(idx, 0), 1);
    assert_int_equal(lt_get_i32(idx, 1), 0);
    lt_set_i32(idx, 0, 2);
    lt_set_i32(idx, 1, 2);
    assert_true(lt_backward_grad(ctx, m, lt_ones(ctx, LT_SHAPE(2))));
    ts_assert_near(lt_grad(ctx, a), (float[]){0, 1, 0, 1, 0, 0}, 6, 0, 0);
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_mean_values),
        cmocka_unit_test(test_sum_accuracy),
        cmocka_unit_test(test_sum_dim_values),
        cmocka_unit_test(test_sum_mean_dim_reference),
        cmocka_unit_test(test_reduce_dim_scalars_and_empty),
        cmocka_unit_test(test_max_dim_values),
        cmocka_unit_test(test_max_dim_nan),
        cmocka_unit_test(test_max_dim_backward_routes),
        cmocka_unit_test(test_max_dim_indices_are_the_callers),
        cmocka_unit_test(test_reduce_gradcheck),
        cmocka_unit_test(test_var_std_golden),
        cmocka_unit_test(test_logsumexp_golden),
        cmocka_unit_test(test_var_accuracy),
        cmocka_unit_test(test_var_std_edges),
        cmocka_unit_test(test_logsumexp_edges),
        cmocka_unit_test(test_logsumexp_gradient_is_softmax),
        cmocka_unit_test(test_stat_gradcheck),
        cmocka_unit_test(test_stat_strided_and_graph),
        cmocka_unit_test(test_stat_saved_tensors),
        cmocka_unit_test(test_stat_errors),
        cmocka_unit_test(test_reduce_graph),
        cmocka_unit_test(test_reduce_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
