/* test_linear.c - lt_linear (x @ W + b with the bias in the gemm epilogue):
 * forward against known values and against matmul + add, backward against
 * finite differences, transposed and sliced operands, inputs of any rank
 * against PyTorch's F.linear (tests/data/golden_linear.h,
 * tools/golden_linear.py), errors. */
#include "test_support.h"

#include "data/golden_linear.h"

static void test_known_values(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_from_f32(ctx, LT_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    lt_tensor *w = lt_from_f32(ctx, LT_SHAPE(3, 2), (float[]){1, 0, 0, 1, 1, -1});
    lt_tensor *b = lt_from_f32(ctx, LT_SHAPE(2), (float[]){10, 20});
    /* [1+3, 2-3] + b = [14, 19]; [4+6, 5-6] + b = [20, 19] */
    ts_assert_near(lt_linear(ctx, x, w, b), (float[]){14, 19, 20, 19}, 4, 0, 0);
    ts_assert_near(lt_linear(ctx, x, w, NULL), (float[]){4, -1, 10, -1}, 4, 0, 0);
    lt_ctx_free(ctx);
}

/* The notebook's shapes: the same values as lt_add(lt_matmul(x, W), b). */
static void test_matches_matmul_add(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    const int shapes[][3] = {{32, 30, 200}, {32, 200, 27}, {1, 30, 200}, {517, 30, 200}, {5, 300, 7}};
    for (int s = 0; s < 5; s++) {
        int n = shapes[s][0], k = shapes[s][1], m = shapes[s][2];
        lt_tensor *x = ts_random(ctx, LT_SHAPE(n, k), 1 + s, -1, 1);
        lt_tensor *w = ts_random(ctx, LT_SHAPE(k, m), 11 + s, -1, 1);
        lt_tensor *b = ts_random(ctx, LT_SHAPE(m), 21 + s, -1, 1);
        lt_tensor *y = lt_linear(ctx, x, w, b);
        lt_tensor *ref = lt_add(ctx, lt_matmul(ctx, x, w), b);
        ts_assert_tensors_near(y, ref, 1e-5);
        lt_ctx_reset(ctx);
    }
    lt_ctx_free(ctx);
}

static lt_tensor *plain(lt_ctx *ctx, lt_tensor **in, void *user)
{
    (void)user;
    return lt_linear(ctx, in[0], in[1], in[2]);
}

/* x sliced, W given as the transpose of an (out,in) weight, b a row view. */
static lt_tensor *strided(lt_ctx *ctx, lt_tensor **in, void *user)
{
    (void)user;
    lt_tensor *x = lt_narrow(ctx, in[0], 1, 1, 4);        /* (5,6) -> (5,4) */
    lt_tensor *w = lt_transpose(ctx, in[1], 0, 1);        /* (3,4) -> (4,3) */
    lt_tensor *b = lt_select(ctx, in[2], 0, 1);           /* (2,3) -> (3,) */
    return lt_linear(ctx, x, w, b);
}

static lt_tensor *no_bias_view_of_view(lt_ctx *ctx, lt_tensor **in, void *user)
{
    (void)user;
    lt_tensor *x = lt_transpose(ctx, lt_narrow(ctx, in[0], 0, 1, 4), 0, 1); /* (5,6)->(4,6)->(6,4) */
    return lt_linear(ctx, x, in[1], NULL);
}

/* Expanded (stride-0) operands: x one row repeated (5,4), W one column
 * repeated (4,3), b one value repeated (3,). Their gradients are sums over
 * the repeats; gemm cannot write them in place (its rows would alias). */
static lt_tensor *expanded(lt_ctx *ctx, lt_tensor **in, void *user)
{
    (void)user;
    lt_tensor *x = lt_expand(ctx, in[0], LT_SHAPE(5, 4)); /* (1,4) */
    lt_tensor *w = lt_expand(ctx, in[1], LT_SHAPE(4, 3)); /* (4,1) */
    lt_tensor *b = lt_expand(ctx, in[2], LT_SHAPE(3));    /* (1,) */
    return lt_linear(ctx, x, w, b);
}

static void test_gradients(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a[3] = {ts_random(ctx, LT_SHAPE(5, 4), 1, -1, 1), ts_random(ctx, LT_SHAPE(4, 3), 2, -1, 1),
                       ts_random(ctx, LT_SHAPE(3), 3, -1, 1)};
    for (int i = 0; i < 3; i++)
        lt_requires_grad(ctx, a[i], true);
    ts_gradcheck(plain, a, 3, NULL, 1e-2, 1e-3, 1e-3);
    lt_tensor *s[3] = {ts_random(ctx, LT_SHAPE(5, 6), 4, -1, 1), ts_random(ctx, LT_SHAPE(3, 4), 5, -1, 1),
                       ts_random(ctx, LT_SHAPE(2, 3), 6, -1, 1)};
    for (int i = 0; i < 3; i++)
        lt_requires_grad(ctx, s[i], true);
    ts_gradcheck(strided, s, 3, NULL, 1e-2, 1e-3, 1e-3);
    lt_tensor *v[2] = {ts_random(ctx, LT_SHAPE(5, 6), 7, -1, 1), ts_random(ctx, LT_SHAPE(4, 2), 8, -1, 1)};
    lt_requires_grad(ctx, v[0], true);
    lt_requires_grad(ctx, v[1], true);
    ts_gradcheck(no_bias_view_of_view, v, 2, NULL, 1e-2, 1e-3, 1e-3);
    lt_tensor *e[3] = {ts_random(ctx, LT_SHAPE(1, 4), 9, -1, 1), ts_random(ctx, LT_SHAPE(4, 1), 10, -1, 1),
                       ts_random(ctx, LT_SHAPE(1), 11, -1, 1)};
    for (int i = 0; i < 3; i++)
        lt_requires_grad(ctx, e[i], true);
    ts_gradcheck(expanded, e, 3, NULL, 1e-2, 1e-3, 1e-3);
    lt_ctx_free(ctx);
}

/* The bias gradient is the column sum of dy; nothing else is recorded. */
static void test_bias_gradient_and_tape(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = ts_random(ctx, LT_SHAPE(3, 2), 1, -1, 1);
    lt_tensor *w = ts_random(ctx, LT_SHAPE(2, 2), 2, -1, 1);
    lt_tensor *b = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(2), 3, -1, 1), true);
    lt_tensor *y = lt_linear(ctx, x, w, b);
    assert_int_equal(lt_tape_size(ctx), 1);
    assert_true(lt_backward_grad(ctx, y, lt_from_f32(ctx, LT_SHAPE(3, 2), (float[]){1, 2, 3, 4, 5, 6})));
    ts_assert_near(lt_grad(ctx, b), (float[]){9, 12}, 2, 0, 0);
    assert_null(x->storage->grad); /* x did not require grad */
    lt_ctx_reset(ctx);
    lt_set_grad_enabled(ctx, false);
    assert_false(lt_linear(ctx, x, w, b)->requires_grad);
    assert_int_equal(lt_tape_size(ctx), 0);
    lt_ctx_free(ctx);
}

static void test_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_zeros(ctx, LT_F32, LT_SHAPE(32, 30));
    assert_null(lt_linear(ctx, x, lt_zeros(ctx, LT_F32, LT_SHAPE(6, 100)), NULL));
    ts_assert_error(ctx, LT_ERR_SHAPE, "linear: (32,30) @ (6,100): inner sizes differ", NULL);
    assert_null(lt_linear(ctx, x, lt_zeros(ctx, LT_F32, LT_SHAPE(30, 100)), lt_zeros(ctx, LT_F32, LT_SHAPE(99))));
    ts_assert_error(ctx, LT_ERR_SHAPE, "linear", "bias (99)", "(100)", NULL);
    assert_null(lt_linear(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 3, 30)), lt_zeros(ctx, LT_F32, LT_SHAPE(6, 100)), NULL));
    ts_assert_error(ctx, LT_ERR_SHAPE, "linear: (2,3,30) @ (6,100): inner sizes differ", NULL);
    assert_null(lt_linear(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE0), lt_zeros(ctx, LT_F32, LT_SHAPE(1, 4)), NULL));
    ts_assert_error(ctx, LT_ERR_SHAPE, "linear", "() @ (1,4)", "x must have rank >= 1 and W rank 2", NULL);
    assert_null(lt_linear(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 3, 30)), lt_zeros(ctx, LT_F32, LT_SHAPE(2, 30, 4)), NULL));
    ts_assert_error(ctx, LT_ERR_SHAPE, "linear", "(2,3,30) @ (2,30,4)", "W rank 2", NULL);
    assert_null(lt_linear(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 3, 30)), lt_zeros(ctx, LT_F32, LT_SHAPE(30, 4)),
                          lt_zeros(ctx, LT_F32, LT_SHAPE(5))));
    ts_assert_error(ctx, LT_ERR_SHAPE, "linear", "bias (5)", "(4)", NULL);
    assert_null(lt_linear(ctx, lt_zeros(ctx, LT_I32, LT_SHAPE(2, 3)), lt_zeros(ctx, LT_F32, LT_SHAPE(3, 4)), NULL));
    ts_assert_error(ctx, LT_ERR_DTYPE, "linear", "i32", NULL);
    assert_null(lt_linear(ctx, x, NULL, NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "linear", "argument 2 is NULL", NULL);
    lt_ctx_free(ctx);
}

/* ---- x of any rank, as F.linear ---------------------------------------------- */

typedef struct linear_golden {
    const int64_t *x_shape;
    int x_rank, m;
    const float *x, *w, *b, *g, *y, *dx, *dw, *db; /* w (M,K) as PyTorch stores it; b, db NULL without bias */
} linear_golden;

#define GOLDEN(name, rank, bias, dbias)                                                                         \
    {G_LINEAR_##name##_X_SHAPE, rank, G_LINEAR_##name##_M, G_LINEAR_##name##_X, G_LINEAR_##name##_W, bias,       \
     G_LINEAR_##name##_G, G_LINEAR_##name##_Y, G_LINEAR_##name##_DX, G_LINEAR_##name##_DW, dbias}

static void check_golden(lt_ctx *ctx, const linear_golden *c)
{
    lt_shape xs = {c->x_rank, {0}};
    for (int d = 0; d < c->x_rank; d++)
        xs.d[d] = c->x_shape[d];
    int64_t k = xs.d[xs.ndim - 1];
    lt_shape ys = xs;
    ys.d[ys.ndim - 1] = c->m;
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, xs, c->x), true);
    lt_tensor *w = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(c->m, k), c->w), true);
    lt_tensor *b = c->b ? lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(c->m), c->b), true) : NULL;
    lt_tensor *y = lt_linear(ctx, x, lt_transpose(ctx, w, 0, 1), b);
    assert_non_null(y);
    ts_assert_shape(y, ys);
    assert_int_equal(lt_tape_size(ctx), 1); /* a contiguous x is read in place: one node, no copy */
    ts_assert_near(y, c->y, lt_numel(y), 1e-6, 1e-5);
    ts_backward_with(ctx, y, c->g);
    ts_assert_near(lt_grad(ctx, x), c->dx, lt_numel(x), 1e-6, 1e-5);
    ts_assert_near(lt_grad(ctx, w), c->dw, lt_numel(w), 1e-6, 1e-5);
    if (b)
        ts_assert_near(lt_grad(ctx, b), c->db, c->m, 1e-6, 1e-5);
    lt_free(x);
    lt_free(w);
    lt_free(b);
    lt_ctx_reset(ctx);
}

static void test_any_rank_matches_pytorch(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    const linear_golden cases[] = {
        GOLDEN(RANK3, 3, G_LINEAR_RANK3_B, G_LINEAR_RANK3_DB),
        GOLDEN(RANK1, 1, G_LINEAR_RANK1_B, G_LINEAR_RANK1_DB),
        GOLDEN(RANK4, 4, NULL, NULL),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_golden(ctx, &cases[i]);
    lt_ctx_free(ctx);
}

/* in[0] (2,3,4) or a base viewed as one by user's layout; in[1] w (5,4)
 * PyTorch-style; in[2] b (5,). */
typedef enum { X_PLAIN, X_NARROWED, X_BATCH_TRANSPOSED, X_LAST_TRANSPOSED, X_RANK1 } x_layout;

static lt_tensor *batched(lt_ctx *ctx, lt_tensor **in, void *user)
{
    lt_tensor *x = in[0];
    switch (*(const x_layout *)user) {
    case X_NARROWED: x = lt_narrow(ctx, x, 2, 1, 4); break;          /* (2,3,6) -> (2,3,4), rows stride 6 */
    case X_BATCH_TRANSPOSED: x = lt_transpose(ctx, x, 0, 1); break;  /* (3,2,4) -> (2,3,4) */
    case X_LAST_TRANSPOSED: x = lt_transpose(ctx, x, 1, 2); break;   /* (2,4,3) -> (2,3,4), last dim strided */
    default: break;
    }
    return lt_linear(ctx, x, lt_transpose(ctx, in[1], 0, 1), in[2]);
}

static void test_any_rank_gradients(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    const lt_shape bases[] = {LT_SHAPE(2, 3, 4), LT_SHAPE(2, 3, 6), LT_SHAPE(3, 2, 4), LT_SHAPE(2, 4, 3), LT_SHAPE(4)};
    const size_t tapes[] = {1, 1, 2, 2, 1}; /* nodes: the copy, when the leading dims do not collapse */
    for (x_layout l = X_PLAIN; l <= X_RANK1; l++) {
        lt_tensor *in[3] = {ts_random(ctx, bases[l], 30 + l, -1, 1), ts_random(ctx, LT_SHAPE(5, 4), 40 + l, -1, 1),
                            ts_random(ctx, LT_SHAPE(5), 50 + l, -1, 1)};
        for (int i = 0; i < 3; i++)
            lt_requires_grad(ctx, in[i], true);
        lt_tensor *y = batched(ctx, in, &l);
        ts_assert_shape(y, l == X_RANK1 ? LT_SHAPE(5) : LT_SHAPE(2, 3, 5));
        assert_int_equal(lt_tape_size(ctx), tapes[l]);
        lt_ctx_reset(ctx);
        ts_gradcheck(batched, in, 3, &l, 1e-2, 1e-3, 1e-3);
        for (int i = 0; i < 3; i++)
            lt_free(in[i]);
    }
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),         cmocka_unit_test(test_matches_matmul_add),
        cmocka_unit_test(test_gradients),            cmocka_unit_test(test_bias_gradient_and_tape),
        cmocka_unit_test(test_errors),               cmocka_unit_test(test_any_rank_matches_pytorch),
        cmocka_unit_test(test_any_rank_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
