/* test_shape_ops.c - ops that rearrange or repeat elements: lt_stack,
 * lt_expand (a stride-0 view whose gradient is summed back, consumed by
 * elementwise ops, products, reductions and copies) and lt_roll (F32 and
 * makemore's I32 context window). PyTorch golden values, strided inputs,
 * finite-difference gradient checks, error messages. */
#include "test_support.h"

#include <math.h>
#include <string.h>

#include "data/golden_select.h"

#define GOLD_ATOL 1e-6
#define GOLD_RTOL 1e-6
#define GC_EPS 1e-2
#define GC_ATOL 1e-3
#define GC_RTOL 1e-3

static void assert_grad(lt_ctx *ctx, lt_tensor *t, const float *want)
{
    ts_assert_near(lt_grad(ctx, t), want, lt_numel(t), GOLD_ATOL, GOLD_RTOL);
}

/* ======================================================================== */
/* stack                                                                    */
/* ======================================================================== */

static void stack_case(int dim, lt_shape sy, const float *const t[3], const float *y, const float *g,
                       const float *const dt[3])
{
    for (int strided = 0; strided < 2; strided++) {
        lt_ctx *ctx = lt_ctx_new();
        lt_tensor *ts[3];
        for (int k = 0; k < 3; k++)
            ts[k] = ts_tensor_in_layout(ctx, LT_F32, LT_SHAPE(2, 3), t[k], strided && k != 1); /* mixed layouts */
        lt_tensor *out = lt_stack(ctx, ts, 3, dim);
        ts_assert_shape(out, sy);
        ts_assert_near(out, y, 18, 0, 0);
        ts_backward_with(ctx, out, g);
        for (int k = 0; k < 3; k++)
            assert_grad(ctx, ts[k], dt[k]);
        lt_ctx_free(ctx);
    }
}

static void test_stack_golden(void **state)
{
    (void)state;
    stack_case(0, LT_SHAPE(3, 2, 3), (const float *const[]){golden_stack_0_t0, golden_stack_0_t1, golden_stack_0_t2},
               golden_stack_0_y, golden_stack_0_g,
               (const float *const[]){golden_stack_0_dt0, golden_stack_0_dt1, golden_stack_0_dt2});
    stack_case(1, LT_SHAPE(2, 3, 3), (const float *const[]){golden_stack_1_t0, golden_stack_1_t1, golden_stack_1_t2},
               golden_stack_1_y, golden_stack_1_g,
               (const float *const[]){golden_stack_1_dt0, golden_stack_1_dt1, golden_stack_1_dt2});
    stack_case(-1, LT_SHAPE(2, 3, 3),
               (const float *const[]){golden_stack_m1_t0, golden_stack_m1_t1, golden_stack_m1_t2}, golden_stack_m1_y,
               golden_stack_m1_g,
               (const float *const[]){golden_stack_m1_dt0, golden_stack_m1_dt1, golden_stack_m1_dt2});
}

static void test_stack_edges_and_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *i0 = lt_from_i32(ctx, LT_SHAPE(2), (int32_t[]){1, 2}),
              *i1 = lt_from_i32(ctx, LT_SHAPE(2), (int32_t[]){3, 4});
    lt_tensor *is = lt_stack(ctx, (lt_tensor *[]){i0, i1}, 2, 1); /* I32: [[1,3],[2,4]] */
    ts_assert_shape(is, LT_SHAPE(2, 2));
    const int32_t want[4] = {1, 3, 2, 4};
    for (int i = 0; i < 4; i++)
        assert_int_equal(lt_get_i32(is, i), want[i]);
    lt_tensor *sc = lt_stack(ctx, (lt_tensor *[]){lt_full(ctx, LT_SHAPE0, 1), lt_full(ctx, LT_SHAPE0, 2)}, 2, 0);
    ts_assert_near(sc, (float[]){1, 2}, 2, 0, 0); /* scalars stack into a vector */
    ts_assert_shape(lt_stack(ctx, (lt_tensor *[]){i0}, 1, -1), LT_SHAPE(2, 1));
    assert_int_equal(lt_status_of(ctx), LT_OK);

    lt_tensor *a = lt_zeros(ctx, LT_F32, LT_SHAPE(2, 3)), *b = lt_zeros(ctx, LT_F32, LT_SHAPE(2, 4));
    assert_null(lt_stack(ctx, (lt_tensor *[]){a, a, b}, 3, 0));
    assert_string_equal(lt_error_message(ctx),
                        "stack: tensor 2 is f32 (2,4) but tensor 0 is f32 (2,3): stack needs one shape and dtype");
    ts_assert_error(ctx, LT_ERR_SHAPE, NULL);
    assert_null(lt_stack(ctx, (lt_tensor *[]){a, lt_zeros(ctx, LT_I32, LT_SHAPE(2, 3))}, 2, 0));
    ts_assert_error(ctx, LT_ERR_DTYPE, "stack: tensor 1 is i32 (2,3) but tensor 0 is f32 (2,3)", NULL);
    assert_null(lt_stack(ctx, (lt_tensor *[]){a}, 0, 0));
    ts_assert_error(ctx, LT_ERR_ARG, "stack: needs at least one tensor, got n < 1", NULL);
    assert_null(lt_stack(ctx, NULL, 2, 0));
    ts_assert_error(ctx, LT_ERR_ARG, "stack: needs at least one tensor, got a NULL array", NULL);
    assert_null(lt_stack(ctx, (lt_tensor *[]){a, NULL}, 2, 0));
    ts_assert_error(ctx, LT_ERR_ARG, "stack: tensor 1 of 2 is NULL", NULL);
    assert_null(lt_stack(ctx, (lt_tensor *[]){a, a}, 2, 3));
    ts_assert_error(ctx, LT_ERR_INDEX, "stack: dim 3 out of range for a tensor of rank 3", NULL);
    lt_tensor *old = lt_ones(ctx, LT_SHAPE(2, 3));
    lt_ctx_reset(ctx);
    a = lt_zeros(ctx, LT_F32, LT_SHAPE(2, 3));
    assert_null(lt_stack(ctx, (lt_tensor *[]){a, old}, 2, 0));
    ts_assert_error(ctx, LT_ERR_ARG, "stack: tensor 1 of 2 is a temporary from before lt_ctx_reset", NULL);
    lt_tensor *r6 = lt_zeros(ctx, LT_F32, LT_SHAPE(1, 1, 1, 1, 1, 2));
    assert_null(lt_stack(ctx, (lt_tensor *[]){r6, r6}, 2, 0));
    ts_assert_error(ctx, LT_ERR_SHAPE, "stack: tensors of shape (1,1,1,1,1,2) have rank 6", NULL);
    lt_ctx_free(ctx);
}

static lt_tensor *f_stack(lt_ctx *ctx, lt_tensor **in, void *u)
{
    (void)u;
    lt_tensor *b = lt_transpose(ctx, in[1], 0, 1);
    return lt_stack(ctx, (lt_tensor *[]){in[0], b, in[0]}, 3, 1); /* in[0] twice: both gradients */
}

static void test_stack_gradcheck(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *in[2] = {ts_random(ctx, LT_SHAPE(2, 3), 1, -1, 1), ts_random(ctx, LT_SHAPE(3, 2), 2, -1, 1)};
    lt_requires_grad(ctx, in[0], true);
    lt_requires_grad(ctx, in[1], true);
    ts_gradcheck(f_stack, in, 2, NULL, GC_EPS, GC_ATOL, GC_RTOL);
    lt_ctx_free(ctx);
}

/* ======================================================================== */
/* expand                                                                   */
/* ======================================================================== */

/* A view: same storage, no node, torch's sizes and strides. */
static void test_expand_view(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *v = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(3), (float[]){1, 2, 3}), true);
    lt_tensor *e = lt_expand(ctx, v, LT_SHAPE(2, 1, 3));
    ts_assert_shape(e, LT_SHAPE(2, 1, 3));
    assert_ptr_equal(e->storage, v->storage);
    assert_int_equal(e->stride[0], 0); /* torch: (0, 3, 1) */
    assert_int_equal(e->stride[1], 3);
    assert_int_equal(e->stride[2], 1);
    assert_int_equal(lt_tape_size(ctx), 0);
    assert_false(lt_is_contiguous(e));
    ts_assert_near(e, (float[]){1, 2, 3, 1, 2, 3}, 6, 0, 0);
    lt_tensor *col = lt_new_from(ctx, LT_F32, LT_SHAPE(3, 1), (float[]){1, 2, 3});
    lt_tensor *e2 = lt_expand(ctx, col, LT_SHAPE(2, -1, 4)); /* -1 keeps 3 */
    ts_assert_shape(e2, LT_SHAPE(2, 3, 4));
    assert_int_equal(e2->stride[0], 0);
    assert_int_equal(e2->stride[1], 1);
    assert_int_equal(e2->stride[2], 0);
    assert_float_equal(lt_get_f32(e2, 23), 3.0f, 0);
    ts_assert_shape(lt_expand(ctx, col, LT_SHAPE(3, 0)), LT_SHAPE(3, 0)); /* 1 -> 0 is allowed */
    lt_tensor *ie = lt_expand(ctx, lt_from_i32(ctx, LT_SHAPE(1), (int32_t[]){7}), LT_SHAPE(4));
    assert_int_equal(lt_get_i32(ie, 3), 7);
    lt_tensor *s = lt_expand(ctx, lt_full(ctx, LT_SHAPE0, 5), LT_SHAPE(2, 2)); /* a scalar everywhere */
    ts_assert_near(s, (float[]){5, 5, 5, 5}, 4, 0, 0);
    /* not a destination: its elements share memory */
    assert_false(lt_assign(ctx, e, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 1, 3))));
    ts_assert_error(ctx, LT_ERR_ARG, "assign: the destination (2,1,3) has stride 0 along dim 0", NULL);
    /* made contiguous by a copy that sums its gradient back */
    lt_tensor *c = lt_contiguous(ctx, e);
    assert_true(lt_is_contiguous(c));
    assert_true(lt_backward(ctx, lt_sum(ctx, c)));
    ts_assert_near(lt_grad(ctx, v), (float[]){2, 2, 2}, 3, 0, 0);
    lt_ctx_free(ctx);
}

static void test_expand_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *t = lt_zeros(ctx, LT_F32, LT_SHAPE(2, 3));
    assert_null(lt_expand(ctx, t, LT_SHAPE(2, 4)));
    assert_string_equal(lt_error_message(ctx),
                        "expand: cannot expand (2,3) to (2,4): dim 1 has size 3, which is neither 1 nor 4");
    ts_assert_error(ctx, LT_ERR_SHAPE, NULL);
    assert_null(lt_expand(ctx, t, LT_SHAPE(3)));
    ts_assert_error(ctx, LT_ERR_SHAPE, "expand: cannot expand (2,3) to (3): the target needs rank 2 to 6, got 1", NULL);
    assert_null(lt_expand(ctx, t, LT_SHAPE(-1, 2, 3)));
    ts_assert_error(ctx, LT_ERR_SHAPE,
                    "expand: cannot expand (2,3) to (-1,2,3): -1 is not allowed in the new leading dim 0", NULL);
    assert_null(lt_expand(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(1)), LT_SHAPE(-2)));
    ts_assert_error(ctx, LT_ERR_SHAPE, "expand: cannot expand (1) to (-2): negative size -2 at dim 0", NULL);
    assert_null(lt_expand(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(1, 1)), LT_SHAPE(1 << 21, 1 << 21)));
    ts_assert_error(ctx, LT_ERR_SHAPE, "expand", "more than 2^40", NULL);
    lt_shape bad = {7, {1, 1, 1, 1, 1, 1}};
    assert_null(lt_expand(ctx, t, bad));
    ts_assert_error(ctx, LT_ERR_SHAPE, "expand: cannot expand (2,3) to (invalid shape: rank 7): the target needs rank 2 to 6, got 7",
                    NULL);
    assert_null(lt_expand(ctx, NULL, LT_SHAPE(2)));
    ts_assert_error(ctx, LT_ERR_ARG, "expand: argument 1 is NULL", NULL);
    lt_ctx_free(ctx);
}

/* x (3,1) expanded to (2,3,4), times w; and x (1,4) expanded, @ w. */
static void test_expand_golden(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = ts_tensor_in_layout(ctx, LT_F32, LT_SHAPE(3, 1), golden_expand_mul_x, false);
    lt_tensor *w = ts_tensor_in_layout(ctx, LT_F32, LT_SHAPE(2, 3, 4), golden_expand_mul_w, true);
    lt_tensor *y = lt_mul(ctx, lt_expand(ctx, x, LT_SHAPE(2, 3, 4)), w);
    ts_assert_near(y, golden_expand_mul_y, 24, GOLD_ATOL, GOLD_RTOL);
    ts_backward_with(ctx, y, golden_expand_mul_g);
    assert_grad(ctx, x, golden_expand_mul_dx);
    assert_grad(ctx, w, golden_expand_mul_dw);
    lt_ctx_reset(ctx);
    x = ts_tensor_in_layout(ctx, LT_F32, LT_SHAPE(1, 4), golden_expand_mm_x, false);
    w = ts_tensor_in_layout(ctx, LT_F32, LT_SHAPE(2, 4, 5), golden_expand_mm_w, true);
    y = lt_matmul(ctx, lt_expand(ctx, x, LT_SHAPE(2, 3, 4)), w);
    ts_assert_near(y, golden_expand_mm_y, 30, 1e-5, 1e-5);
    ts_backward_with(ctx, y, golden_expand_mm_g);
    assert_grad(ctx, x, golden_expand_mm_dx);
    ts_assert_near(lt_grad(ctx, w), golden_expand_mm_dw, 40, 1e-5, 1e-5);
    lt_ctx_free(ctx);
}

/* user: which consumer of the expanded views to check */
enum { USE_MUL, USE_ADD_SELF, USE_SUM_DIM, USE_SOFTMAX, USE_CAT, USE_TRIL, USE_ROLL };

/* in[0] (3,1) and in[1] (1,4) expanded to (2,3,4) and combined or consumed. */
static lt_tensor *f_expanded(lt_ctx *ctx, lt_tensor **in, void *u)
{
    lt_tensor *a = lt_expand(ctx, in[0], LT_SHAPE(2, 3, 4)), *b = lt_expand(ctx, in[1], LT_SHAPE(2, 3, 4));
    switch (*(int *)u) {
    case USE_MUL: /* stride 0 in the row and outer dims of both operands */ return lt_mul(ctx, a, b);
    case USE_ADD_SELF: /* the same aliased view on both sides */ return lt_mul(ctx, lt_add(ctx, a, a), b);
    case USE_SUM_DIM: return lt_sum_dim(ctx, lt_mul(ctx, a, lt_tanh(ctx, b)), 1, false);
    case USE_SOFTMAX: return lt_softmax(ctx, lt_add(ctx, a, lt_exp(ctx, b)), -1);
    case USE_CAT: return lt_cat(ctx, (lt_tensor *[]){a, b}, 2, 1);
    case USE_TRIL: return lt_mul(ctx, lt_tril(ctx, a, 0), lt_triu(ctx, b, 1));
    default: return lt_mul(ctx, lt_roll(ctx, a, 1, 1), b);
    }
}

static void test_expand_gradcheck(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *in[2] = {ts_random(ctx, LT_SHAPE(3, 1), 3, -1, 1), ts_random(ctx, LT_SHAPE(1, 4), 4, -1, 1)};
    lt_requires_grad(ctx, in[0], true);
    lt_requires_grad(ctx, in[1], true);
    for (int use = USE_MUL; use <= USE_ROLL; use++)
        ts_gradcheck(f_expanded, in, 2, &use, GC_EPS, GC_ATOL, GC_RTOL);
    lt_ctx_free(ctx);
}

/* ======================================================================== */
/* roll                                                                     */
/* ======================================================================== */

static void roll_case(lt_shape s, int64_t shift, int dim, const float *t, const float *y, const float *g,
                      const float *dt)
{
    for (int strided = 0; strided < 2; strided++) {
        lt_ctx *ctx = lt_ctx_new();
        lt_tensor *x = ts_tensor_in_layout(ctx, LT_F32, s, t, strided);
        lt_tensor *out = lt_roll(ctx, x, shift, dim);
        ts_assert_shape(out, s);
        ts_assert_near(out, y, lt_numel(out), 0, 0);
        ts_backward_with(ctx, out, g);
        assert_grad(ctx, x, dt);
        lt_ctx_free(ctx);
    }
}

static void test_roll_golden(void **state)
{
    (void)state;
    roll_case(LT_SHAPE(3, 5), 2, 1, golden_roll_cols_t, golden_roll_cols_y, golden_roll_cols_g, golden_roll_cols_dt);
    roll_case(LT_SHAPE(3, 5), -7, 0, golden_roll_neg_t, golden_roll_neg_y, golden_roll_neg_g, golden_roll_neg_dt);
    roll_case(LT_SHAPE(2, 3, 4), 4, 1, golden_roll_mid_t, golden_roll_mid_y, golden_roll_mid_g, golden_roll_mid_dt);
}

/* makemore's MLP sampling window: idx = roll(idx, 1, 1); idx[:, 0] = ix. */
static void test_roll_context_window(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *idx = lt_from_i32(ctx, LT_SHAPE(4, 3), golden_roll_context_idx);
    lt_tensor *rolled = lt_roll(ctx, idx, 1, 1);
    assert_int_equal(rolled->dtype, LT_I32);
    assert_true(lt_assign(ctx, lt_select(ctx, rolled, 1, 0), lt_from_i32(ctx, LT_SHAPE(4), golden_roll_context_ix)));
    for (int64_t i = 0; i < 12; i++)
        assert_int_equal(lt_get_i32(rolled, i), golden_roll_context_y[i]);
    assert_int_equal(lt_tape_size(ctx), 0);
    /* shifts: multiples of the size are the identity; an empty dim is fine */
    lt_tensor *v = lt_from_i32(ctx, LT_SHAPE(3), (int32_t[]){1, 2, 3});
    assert_int_equal(lt_get_i32(lt_roll(ctx, v, 300, 0), 0), 1);
    assert_int_equal(lt_get_i32(lt_roll(ctx, v, INT64_MIN, 0), 0), 3); /* INT64_MIN mod 3 = 1: [3,1,2] */
    assert_int_equal(lt_get_i32(lt_roll(ctx, v, INT64_MAX, 0), 0), 3); /* INT64_MAX mod 3 = 1 too */
    assert_int_equal(lt_get_i32(lt_roll(ctx, v, -1, 0), 0), 2);        /* [2,3,1] */
    ts_assert_shape(lt_roll(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(0, 3)), 2, 0), LT_SHAPE(0, 3));
    ts_assert_shape(lt_roll(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 0)), 2, 0), LT_SHAPE(2, 0));
    assert_int_equal(lt_status_of(ctx), LT_OK);
    assert_null(lt_roll(ctx, v, 1, 1));
    assert_string_equal(lt_error_message(ctx), "roll: dim 1 out of range for a tensor of rank 1");
    ts_assert_error(ctx, LT_ERR_INDEX, NULL);
    assert_null(lt_roll(ctx, lt_full(ctx, LT_SHAPE0, 1), 1, 0));
    ts_assert_error(ctx, LT_ERR_INDEX, "roll: dim 0 out of range for a tensor of rank 0", NULL);
    assert_null(lt_roll(ctx, NULL, 1, 0));
    ts_assert_error(ctx, LT_ERR_ARG, "roll: argument 1 is NULL", NULL);
    lt_ctx_free(ctx);
}

static lt_tensor *f_roll(lt_ctx *ctx, lt_tensor **in, void *u)
{
    return lt_roll(ctx, lt_transpose(ctx, in[0], 0, 2), *(int64_t *)u, 1);
}

static void test_roll_gradcheck(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = ts_random(ctx, LT_SHAPE(4, 3, 2), 5, -1, 1);
    lt_requires_grad(ctx, x, true);
    for (int64_t shift = -4; shift <= 4; shift += 2)
        ts_gradcheck(f_roll, &x, 1, &shift, GC_EPS, GC_ATOL, GC_RTOL);
    lt_ctx_free(ctx);
}

/* tril, triu, roll and stack read no tensor's data in backward
 * (LT_SAVES_NONE): their input may be written after the forward. */
static void test_writes_after_forward(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(2, 3), 6, -1, 1), true);
    lt_tensor *parts[] = {lt_tril(ctx, x, 0), lt_triu(ctx, x, 1), lt_roll(ctx, x, 1, 1),
                          lt_stack(ctx, (lt_tensor *[]){x, x}, 2, 0)};
    lt_tensor *total = lt_sum(ctx, parts[0]);
    for (int i = 1; i < 4; i++)
        total = lt_add(ctx, total, lt_sum(ctx, parts[i]));
    assert_true(lt_fill(ctx, x, 9.0f));
    assert_true(lt_backward(ctx, total));
    /* tril(0) and triu(1) split the matrix: 1; roll: 1; stack of two: 2 */
    ts_assert_near(lt_grad(ctx, x), (float[]){4, 4, 4, 4, 4, 4}, 6, 0, 0);
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stack_golden),
        cmocka_unit_test(test_stack_edges_and_errors),
        cmocka_unit_test(test_stack_gradcheck),
        cmocka_unit_test(test_expand_view),
        cmocka_unit_test(test_expand_errors),
        cmocka_unit_test(test_expand_golden),
        cmocka_unit_test(test_expand_gradcheck),
        cmocka_unit_test(test_roll_golden),
        cmocka_unit_test(test_roll_context_window),
        cmocka_unit_test(test_roll_gradcheck),
        cmocka_unit_test(test_writes_after_forward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
