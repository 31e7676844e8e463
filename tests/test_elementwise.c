/* test_elementwise.c - add, sub, mul, div with broadcasting and their scalar
 * forms (x op s, and s - x, s / x): values (hand-computed and PyTorch 1.13 golden values), gradients
 * (golden and finite differences), the fast paths against a naive
 * reference, strided and aliased operands, and every error path. */
#include "test_support.h"

#include <math.h>
#include <string.h>

#include "../data/golden_elementwise.h"

typedef lt_tensor *(*binary_fn)(lt_ctx *, lt_tensor *, lt_tensor *);
typedef lt_tensor *(*scalar_fn)(lt_ctx *, lt_tensor *, float);

/* s - x and s / x behind scalar_fn's signature */
static lt_tensor *scalar_sub_fn(lt_ctx *ctx, lt_tensor *x, float s) { return lt_scalar_sub(ctx, s, x); }
static lt_tensor *scalar_div_fn(lt_ctx *ctx, lt_tensor *x, float s) { return lt_scalar_div(ctx, s, x); }

enum { ADD, SUB, MUL, DIV, NOPS };
static const binary_fn BINARY[NOPS] = {lt_add, lt_sub, lt_mul, lt_div};
static const char *const BINARY_NAME[NOPS] = {"add", "sub", "mul", "div"};

/* ---- helpers --------------------------------------------------------------- */

static lt_shape shape_from(int ndim, const int64_t *d)
{
    lt_shape s = {ndim, {0}};
    memcpy(s.d, d, sizeof(int64_t) * (size_t)ndim);
    return s;
}

/* NaN matches NaN, an infinity matches the same infinity, anything else
 * must be within atol + rtol*|want|. */
static bool close_enough(double got, double want, double atol, double rtol)
{
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    return fabs(got - want) <= atol + rtol * fabs(want);
}

static void assert_values(const char *what, const lt_tensor *t, const float *want, double atol, double rtol)
{
    assert_non_null(t);
    for (int64_t i = 0, n = lt_numel(t); i < n; i++) {
        double got = lt_get_f32(t, i);
        if (!close_enough(got, want[i], atol, rtol))
            fail_msg("%s: element %lld: got %.9g, expected %.9g (atol %g, rtol %g)", what, (long long)i, got,
                     (double)want[i], atol, rtol);
    }
}

static void assert_grad_values(const char *what, const lt_tensor *t, const float *want, double atol, double rtol)
{
    for (int64_t i = 0, n = lt_numel(t); i < n; i++) {
        double got = lt_grad_get(t, i);
        if (!close_enough(got, want[i], atol, rtol))
            fail_msg("%s: gradient %lld: got %.9g, expected %.9g (atol %g, rtol %g)", what, (long long)i, got,
                     (double)want[i], atol, rtol);
    }
}

static double ref_apply(int op, double x, double w)
{
    switch (op) {
    case ADD: return (float)x + (float)w;
    case SUB: return (float)x - (float)w;
    case MUL: return (float)x * (float)w;
    default: return (float)x / (float)w;
    }
}

/* Logical index into t of the output element whose multi-index is idx
 * (rank ndim), following the broadcasting rules directly. */
static int64_t ref_index(const lt_tensor *t, int ndim, const int64_t *idx)
{
    int64_t i = 0;
    for (int k = 0; k < t->ndim; k++) {
        int64_t j = idx[k + ndim - t->ndim];
        i = i * t->shape[k] + (t->shape[k] == 1 ? 0 : j);
    }
    return i;
}

static void unravel(int64_t i, int ndim, const int64_t *shape, int64_t *idx)
{
    for (int d = ndim - 1; d >= 0; d--) {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
}

/* A (3,4) tensor 1..12 and a few companions, for hand-computed checks. */
static const float M34[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

/* ---- hand-computed values ----------------------------------------------------- */

static void test_known_values(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_from_f32(ctx, LT_SHAPE(2, 2), (float[]){1, 2, 3, 4});
    lt_tensor *b = lt_from_f32(ctx, LT_SHAPE(2, 2), (float[]){10, 20, 30, 40});
    ts_assert_near(lt_add(ctx, a, b), (float[]){11, 22, 33, 44}, 4, 0, 0);
    ts_assert_near(lt_sub(ctx, a, b), (float[]){-9, -18, -27, -36}, 4, 0, 0);
    ts_assert_near(lt_mul(ctx, a, b), (float[]){10, 40, 90, 160}, 4, 0, 0);
    ts_assert_near(lt_div(ctx, b, a), (float[]){10, 10, 10, 10}, 4, 0, 0);
    /* (3,1) + (1,4) -> (3,4): an outer sum */
    lt_tensor *col = lt_from_f32(ctx, LT_SHAPE(3, 1), (float[]){0, 10, 20});
    lt_tensor *row = lt_from_f32(ctx, LT_SHAPE(1, 4), (float[]){1, 2, 3, 4});
    lt_tensor *o = lt_add(ctx, col, row);
    ts_assert_shape(o, LT_SHAPE(3, 4));
    ts_assert_near(o, (float[]){1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24}, 12, 0, 0);
    /* (4,) - (3,4) and (3,4) / (4,) */
    lt_tensor *m = lt_from_f32(ctx, LT_SHAPE(3, 4), M34);
    lt_tensor *v = lt_from_f32(ctx, LT_SHAPE(4), (float[]){1, 2, 4, 8});
    ts_assert_near(lt_sub(ctx, v, m), (float[]){0, 0, 1, 4, -4, -4, -3, 0, -8, -8, -7, -4}, 12, 0, 0);
    ts_assert_near(lt_div(ctx, m, v), (float[]){1, 1, 0.75f, 0.5f, 5, 3, 1.75f, 1, 9, 5, 2.75f, 1.5f}, 12, 0, 0);
    /* (2,1,4) * (3,1) -> (2,3,4) */
    lt_tensor *t = lt_from_f32(ctx, LT_SHAPE(2, 1, 4), (float[]){1, 2, 3, 4, -1, -2, -3, -4});
    lt_tensor *s = lt_from_f32(ctx, LT_SHAPE(3, 1), (float[]){1, 10, 100});
    lt_tensor *p = lt_mul(ctx, t, s);
    ts_assert_shape(p, LT_SHAPE(2, 3, 4));
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                assert_float_equal(lt_get_f32(p, (i * 3 + j) * 4 + k), (i ? -1.0f : 1.0f) * (float)(k + 1) *
                                   (j == 0 ? 1.0f : j == 1 ? 10.0f : 100.0f), 0);
    /* rank-0 operands on either side, and both */
    lt_tensor *z = lt_full(ctx, LT_SHAPE0, 2.0f);
    ts_assert_near(lt_mul(ctx, z, a), (float[]){2, 4, 6, 8}, 4, 0, 0);
    ts_assert_near(lt_sub(ctx, a, z), (float[]){-1, 0, 1, 2}, 4, 0, 0);
    lt_tensor *zz = lt_div(ctx, z, lt_full(ctx, LT_SHAPE0, 8.0f));
    ts_assert_shape(zz, LT_SHAPE0);
    assert_float_equal(lt_item(ctx, zz), 0.25f, 0);
    /* division by zero follows IEEE */
    lt_tensor *d0 = lt_div(ctx, lt_from_f32(ctx, LT_SHAPE(3), (float[]){1, -1, 0}), lt_zeros(ctx, LT_F32, LT_SHAPE(1)));
    assert_true(isinf(lt_get_f32(d0, 0)) && lt_get_f32(d0, 0) > 0);
    assert_true(isinf(lt_get_f32(d0, 1)) && lt_get_f32(d0, 1) < 0);
    assert_true(isnan(lt_get_f32(d0, 2)));
    lt_ctx_free(ctx);
}

static void test_broadcast_shapes(void **state)
{
    (void)state;
    const struct {
        lt_shape a, b, out;
    } cases[] = {
        {LT_SHAPE(3, 1), LT_SHAPE(1, 4), LT_SHAPE(3, 4)},
        {LT_SHAPE(4), LT_SHAPE(3, 4), LT_SHAPE(3, 4)},
        {LT_SHAPE(2, 1, 4), LT_SHAPE(3, 1), LT_SHAPE(2, 3, 4)},
        {LT_SHAPE0, LT_SHAPE(2, 3), LT_SHAPE(2, 3)},
        {LT_SHAPE0, LT_SHAPE0, LT_SHAPE0},
        {LT_SHAPE(1), LT_SHAPE0, LT_SHAPE(1)},
        {LT_SHAPE(1, 1, 1), LT_SHAPE(5), LT_SHAPE(1, 1, 5)},
        {LT_SHAPE(0, 3), LT_SHAPE(3), LT_SHAPE(0, 3)},
        {LT_SHAPE(0), LT_SHAPE(1), LT_SHAPE(0)},
        {LT_SHAPE(2, 1, 2, 1, 2, 1), LT_SHAPE(1, 3, 1, 3, 1, 3), LT_SHAPE(2, 3, 2, 3, 2, 3)},
    };
    lt_ctx *ctx = lt_ctx_new();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int op = 0; op < NOPS; op++) {
            lt_tensor *a = lt_ones(ctx, cases[i].a), *b = lt_ones(ctx, cases[i].b);
            ts_assert_shape(BINARY[op](ctx, a, b), cases[i].out);
            ts_assert_shape(BINARY[op](ctx, b, a), cases[i].out); /* symmetric */
        }
    assert_int_equal(lt_status_of(ctx), LT_OK);
    lt_ctx_free(ctx);
}

/* ---- PyTorch golden values -------------------------------------------------- */

static void test_golden_forward(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    for (int c = 0; c < GOLDEN_BINARY_COUNT; c++) {
        const golden_binary *g = &golden_binary_cases[c];
        lt_tensor *a = lt_from_f32(ctx, shape_from(g->ndim_a, g->shape_a), g->a);
        lt_tensor *b = lt_from_f32(ctx, shape_from(g->ndim_b, g->shape_b), g->b);
        for (int op = 0; op < NOPS; op++) {
            char what[96];
            snprintf(what, sizeof what, "%s %s", BINARY_NAME[op], g->name);
            lt_tensor *y = BINARY[op](ctx, a, b);
            ts_assert_shape(y, shape_from(g->ndim_y, g->shape_y));
            /* one IEEE operation per element: PyTorch gives the same bits */
            assert_values(what, y, g->y[op], 0, 0);
        }
        lt_ctx_reset(ctx);
    }
    lt_ctx_free(ctx);
}

static void test_golden_backward(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    for (int c = 0; c < GOLDEN_BINARY_COUNT; c++) {
        const golden_binary *g = &golden_binary_cases[c];
        for (int op = 0; op < NOPS; op++) {
            char what[96];
            snprintf(what, sizeof what, "%s %s", BINARY_NAME[op], g->name);
            lt_tensor *a = lt_new_from(ctx, LT_F32, shape_from(g->ndim_a, g->shape_a), g->a);
            lt_tensor *b = lt_new_from(ctx, LT_F32, shape_from(g->ndim_b, g->shape_b), g->b);
            lt_requires_grad(ctx, a, true);
            lt_requires_grad(ctx, b, true);
            lt_tensor *y = BINARY[op](ctx, a, b);
            assert_int_equal(lt_tape_size(ctx), 1);
            lt_tensor *up = lt_from_f32(ctx, shape_from(g->ndim_y, g->shape_y), g->g);
            assert_true(lt_backward_grad(ctx, y, up));
            /* broadcast gradients are sums, whose order may differ */
            assert_grad_values(what, a, g->da[op], 1e-5, 1e-5);
            assert_grad_values(what, b, g->db[op], 1e-5, 1e-5);
            lt_free(a);
            lt_free(b);
            lt_ctx_reset(ctx);
        }
    }
    lt_ctx_free(ctx);
}

static void test_golden_scalar_forms(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        scalar_fn fn;
    } fns[] = {{"add_scalar", lt_add_scalar}, {"sub_scalar", lt_sub_scalar}, {"mul_scalar", lt_mul_scalar},
               {"div_scalar", lt_div_scalar}, {"scalar_sub", scalar_sub_fn},  {"scalar_div", scalar_div_fn}};
    lt_ctx *ctx = lt_ctx_new();
    int used = 0;
    for (int c = 0; c < GOLDEN_SCALAR_COUNT; c++) {
        const golden_scalar *g = &golden_scalar_cases[c];
        for (size_t k = 0; k < sizeof fns / sizeof fns[0]; k++) {
            if (strcmp(fns[k].name, g->op) != 0)
                continue;
            lt_tensor *x = lt_new_from(ctx, LT_F32, LT_SHAPE(g->n), g->x);
            lt_requires_grad(ctx, x, true);
            lt_tensor *y = fns[k].fn(ctx, x, g->c);
            ts_assert_shape(y, LT_SHAPE(g->n));
            assert_values(g->op, y, g->y, 0, 0);
            assert_true(lt_backward_grad(ctx, y, lt_from_f32(ctx, LT_SHAPE(g->n), g->g)));
            /* s - x and s / x also compute the gradient in PyTorch's order */
            assert_grad_values(g->op, x, g->dx, 0, strncmp(g->op, "scalar_", 7) == 0 ? 0 : 1e-6);
            lt_free(x);
            lt_ctx_reset(ctx);
            used++;
        }
    }
    assert_int_equal(used, GOLDEN_SCALAR_COUNT);
    lt_ctx_free(ctx);
}

/* ---- finite differences -------------------------------------------------------- */

static lt_tensor *apply_binary(lt_ctx *ctx, lt_tensor **in, void *user)
{
    return BINARY[*(const int *)user](ctx, in[0], in[1]);
}

/* Uniform values with magnitude in [lo, hi) and random signs (keeps divisors
 * away from 0). */
static lt_tensor *signed_random(lt_ctx *ctx, lt_shape s, uint64_t seed, double lo, double hi)
{
    lt_tensor *t = ts_random(ctx, s, seed, lo, hi);
    ts_rand r = ts_rand_new(seed + 1000);
    for (int64_t i = 0; i < lt_numel(t); i++)
        if (ts_uniform(&r, 0, 1) < 0.5)
            lt_set_f32(t, i, -lt_get_f32(t, i));
    return t;
}

/* add, sub and mul are at most quadratic in the inputs, so central
 * differences are exact up to rounding and eps can be large; div's
 * third derivative needs a smaller step. */
#define GC_EPS(op) ((op) == DIV ? 1e-3 : 1e-2)
#define GC_ATOL 1e-3
#define GC_RTOL 1e-2

static void test_gradcheck_broadcasts(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    for (int c = 0; c < GOLDEN_BINARY_COUNT; c++) {
        const golden_binary *g = &golden_binary_cases[c];
        for (int op = 0; op < NOPS; op++) {
            lt_tensor *in[2] = {
                ts_random(ctx, shape_from(g->ndim_a, g->shape_a), 10 + (uint64_t)c, -2, 2),
                signed_random(ctx, shape_from(g->ndim_b, g->shape_b), 50 + (uint64_t)c, 0.5, 2),
            };
            lt_requires_grad(ctx, in[0], true);
            lt_requires_grad(ctx, in[1], true);
            ts_gradcheck(apply_binary, in, 2, &op, GC_EPS(op), GC_ATOL, GC_RTOL);
            lt_free(in[0]);
            lt_free(in[1]);
        }
    }
    lt_ctx_free(ctx);
}

/* ---- fast paths against a naive reference ------------------------------------- */

/* Checks forward and backward of op on a and b (any layouts) against the
 * broadcasting rules applied element by element, with a random upstream
 * gradient. */
static void check_against_reference(lt_ctx *ctx, int op, lt_tensor *a, lt_tensor *b, lt_tensor *base_a,
                                    lt_tensor *base_b)
{
    lt_zero_grad(base_a);
    lt_zero_grad(base_b);
    lt_tensor *y = BINARY[op](ctx, a, b);
    assert_non_null(y);
    int nd = y->ndim;
    int64_t n = lt_numel(y), idx[LT_MAX_DIMS];
    lt_tensor *up = lt_empty(ctx, LT_F32, lt_shape_of(y));
    ts_rand r = ts_rand_new(99);
    double ga[4096] = {0}, gb[4096] = {0};
    assert_true(lt_numel(a) <= 4096 && lt_numel(b) <= 4096);
    for (int64_t i = 0; i < n; i++) {
        unravel(i, nd, y->shape, idx);
        int64_t ia = ref_index(a, nd, idx), ib = ref_index(b, nd, idx);
        double x = lt_get_f32(a, ia), w = lt_get_f32(b, ib), g = (float)ts_uniform(&r, -1, 1);
        lt_set_f32(up, i, (float)g);
        if (lt_get_f32(y, i) != (float)ref_apply(op, x, w))
            fail_msg("%s element %lld: got %.9g, expected %.9g", BINARY_NAME[op], (long long)i,
                     (double)lt_get_f32(y, i), ref_apply(op, x, w));
        double da = op == MUL ? g * w : op == DIV ? g / w : g;
        double db = op == MUL ? g * x : op == DIV ? -g * x / (w * w) : op == SUB ? -g : g;
        ga[ia] += da;
        gb[ib] += db;
    }
    assert_true(lt_backward_grad(ctx, y, up));
    for (int64_t i = 0; i < lt_numel(a); i++)
        if (!close_enough(lt_grad_get(a, i), ga[i], 1e-4, 1e-4))
            fail_msg("%s grad a %lld: got %.9g, expected %.9g", BINARY_NAME[op], (long long)i,
                     (double)lt_grad_get(a, i), ga[i]);
    for (int64_t i = 0; i < lt_numel(b); i++)
        if (!close_enough(lt_grad_get(b, i), gb[i], 1e-4, 1e-4))
            fail_msg("%s grad b %lld: got %.9g, expected %.9g", BINARY_NAME[op], (long long)i,
                     (double)lt_grad_get(b, i), gb[i]);
    lt_ctx_reset(ctx);
}

static void test_paths_match_reference(void **state)
{
    (void)state;
    const struct {
        lt_shape a, b;
    } cases[] = {
        {LT_SHAPE(64, 50), LT_SHAPE(64, 50)},   /* flat loop */
        {LT_SHAPE(64, 50), LT_SHAPE(50)},       /* bias: row vector over rows */
        {LT_SHAPE(50), LT_SHAPE(64, 50)},       /* the same, operands swapped */
        {LT_SHAPE(64, 50), LT_SHAPE(1, 50)},    /* explicit (1,M) */
        {LT_SHAPE(64, 50), LT_SHAPE(64, 1)},    /* column: fixed operand per row */
        {LT_SHAPE(64, 1), LT_SHAPE(64, 50)},
        {LT_SHAPE(64, 50), LT_SHAPE0},          /* scalar tensor */
        {LT_SHAPE0, LT_SHAPE(64, 50)},
        {LT_SHAPE(40, 1), LT_SHAPE(1, 30)},     /* outer product */
        {LT_SHAPE(8, 1, 16), LT_SHAPE(1, 12, 16)},
        {LT_SHAPE(4, 6, 5), LT_SHAPE(4, 1, 5)}, /* middle dim stretched */
        {LT_SHAPE(2, 1, 3, 1, 2, 2), LT_SHAPE(1, 2, 1, 3, 1, 2)},
        {LT_SHAPE(1, 1, 7), LT_SHAPE(7)},
    };
    lt_ctx *ctx = lt_ctx_new();
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int op = 0; op < NOPS; op++) {
            lt_tensor *a = ts_random(ctx, cases[c].a, 3 * c + 1, -2, 2);
            lt_tensor *b = signed_random(ctx, cases[c].b, 3 * c + 2, 0.5, 2);
            lt_requires_grad(ctx, a, true);
            lt_requires_grad(ctx, b, true);
            check_against_reference(ctx, op, a, b, a, b);
            lt_free(a);
            lt_free(b);
        }
    lt_ctx_free(ctx);
}

/* ---- strided operands -------------------------------------------------------------- */

static void test_noncontiguous_operands(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *base = ts_random(ctx, LT_SHAPE(50, 64), 21, -2, 2);
    lt_tensor *vec = signed_random(ctx, LT_SHAPE(50), 22, 0.5, 2);
    lt_tensor *mat = signed_random(ctx, LT_SHAPE(6, 70), 23, 0.5, 2);
    lt_requires_grad(ctx, base, true);
    lt_requires_grad(ctx, vec, true);
    lt_requires_grad(ctx, mat, true);
    for (int op = 0; op < NOPS; op++) {
        /* transposed (64,50) with a row vector (50,) */
        lt_tensor *t = lt_transpose(ctx, base, 0, 1);
        assert_false(lt_is_contiguous(t));
        check_against_reference(ctx, op, t, vec, base, vec);
        /* narrowed rows (50,10) * a column narrowed out of another tensor */
        t = lt_narrow(ctx, base, 1, 7, 10);
        lt_tensor *col = lt_unsqueeze(ctx, lt_narrow(ctx, lt_select(ctx, mat, 0, 2), 0, 3, 50), 1); /* (50,1) */
        check_against_reference(ctx, op, t, col, base, mat);
        /* views of views: a transposed, narrowed, selected slab against a
         * strided matrix view */
        t = lt_narrow(ctx, lt_transpose(ctx, base, 0, 1), 0, 5, 6);          /* (6,50) */
        lt_tensor *u = lt_narrow(ctx, lt_narrow(ctx, mat, 1, 10, 60), 1, 3, 50); /* (6,50) */
        check_against_reference(ctx, op, t, u, base, mat);
        t = lt_select(ctx, lt_transpose(ctx, lt_view(ctx, base, LT_SHAPE(50, 8, 8)), 0, 2), 1, 3); /* (8,50) */
        check_against_reference(ctx, op, t, vec, base, vec);
    }
    lt_ctx_free(ctx);
}

/* y = narrow(transpose(A))[:, 1:4] (op) B[1] where A is (5,4) and B is (2,3):
 * a view of a view broadcast against a selected row. */
static lt_tensor *views_of_views(lt_ctx *ctx, lt_tensor **in, void *user)
{
    lt_tensor *a = lt_narrow(ctx, lt_transpose(ctx, in[0], 0, 1), 1, 1, 3); /* (4,3) */
    lt_tensor *b = lt_select(ctx, in[1], 0, 1);                              /* (3,) */
    return BINARY[*(const int *)user](ctx, a, b);
}

static void test_views_of_views_gradients(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    for (int op = 0; op < NOPS; op++) {
        lt_tensor *in[2] = {ts_random(ctx, LT_SHAPE(5, 4), 31, -2, 2),
                            signed_random(ctx, LT_SHAPE(2, 3), 32, 0.5, 2)};
        lt_requires_grad(ctx, in[0], true);
        lt_requires_grad(ctx, in[1], true);
        ts_gradcheck(views_of_views, in, 2, &op, GC_EPS(op), GC_ATOL, GC_RTOL);
        /* explicitly: base elements outside the views get exactly 0 */
        lt_ctx_reset(ctx);
        lt_zero_grad(in[0]);
        lt_zero_grad(in[1]);
        lt_tensor *y = views_of_views(ctx, in, &op);
        assert_int_equal(lt_tape_size(ctx), 1); /* no copies were needed */
        assert_true(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(4, 3))));
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 4; j++) {
                float g = lt_grad_get(in[0], i * 4 + j);
                if (i == 0 || i == 4)
                    assert_true(g == 0.0f);
                else if (op == ADD || op == SUB)
                    assert_float_equal(g, 1.0f, 0);
            }
        for (int j = 0; j < 3; j++) {
            assert_true(lt_grad_get(in[1], j) == 0.0f); /* row 0 not selected */
            if (op == ADD)
                assert_float_equal(lt_grad_get(in[1], 3 + j), 4.0f, 0); /* summed over 4 rows */
            if (op == SUB)
                assert_float_equal(lt_grad_get(in[1], 3 + j), -4.0f, 0);
        }
        lt_free(in[0]);
        lt_free(in[1]);
        lt_ctx_reset(ctx);
    }
    lt_ctx_free(ctx);
}

/* ---- broadcast gradient reduction, by hand -------------------------------------------- */

static void test_broadcast_gradients_sum(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *m = lt_new_from(ctx, LT_F32, LT_SHAPE(3, 4), M34);
    lt_tensor *v = lt_new_from(ctx, LT_F32, LT_SHAPE(4), (float[]){1, 2, 4, 8});
    lt_tensor *c = lt_new_from(ctx, LT_F32, LT_SHAPE(3, 1), (float[]){1, 2, 3});
    lt_tensor *s = lt_new_from(ctx, LT_F32, LT_SHAPE0, (float[]){2});
    lt_requires_grad(ctx, m, true);
    lt_requires_grad(ctx, v, true);
    lt_requires_grad(ctx, c, true);
    lt_requires_grad(ctx, s, true);
    /* (3,4) + (4,): dv = column sums of ones = 3 */
    assert_true(lt_backward_grad(ctx, lt_add(ctx, m, v), lt_ones(ctx, LT_SHAPE(3, 4))));
    ts_assert_near(lt_grad(ctx, v), (float[]){3, 3, 3, 3}, 4, 0, 0);
    ts_assert_near(lt_grad(ctx, m), (float[]){1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 12, 0, 0);
    lt_ctx_reset(ctx);
    lt_zero_grad(v);
    lt_zero_grad(m);
    /* (3,1) * (4,) -> (3,4): dc_i = sum_j v_j = 15, dv_j = sum_i c_i = 6 */
    assert_true(lt_backward_grad(ctx, lt_mul(ctx, c, v), lt_ones(ctx, LT_SHAPE(3, 4))));
    ts_assert_near(lt_grad(ctx, c), (float[]){15, 15, 15}, 3, 0, 0);
    ts_assert_near(lt_grad(ctx, v), (float[]){6, 6, 6, 6}, 4, 0, 0);
    lt_ctx_reset(ctx);
    /* () * (3,4): ds = sum(m) = 78, dm = 2; then () / (3,4) accumulates
     * into the same gradients (no zero_grad in between) */
    assert_true(lt_backward_grad(ctx, lt_mul(ctx, s, m), lt_ones(ctx, LT_SHAPE(3, 4))));
    assert_float_equal(lt_grad_get(s, 0), 78.0f, 0);
    ts_assert_near(lt_grad(ctx, m), (float[]){2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}, 12, 0, 0);
    lt_ctx_reset(ctx);
    lt_zero_grad(s);
    /* d(s - m)/ds summed over 12 elements = 12; with upstream 0.5: 6 */
    assert_true(lt_backward_grad(ctx, lt_sub(ctx, s, m), lt_full(ctx, LT_SHAPE(3, 4), 0.5f)));
    assert_float_equal(lt_grad_get(s, 0), 6.0f, 0);
    ts_assert_near(lt_grad(ctx, m), (float[]){1.5f, 1.5f, 1.5f, 1.5f, 1.5f, 1.5f, 1.5f, 1.5f, 1.5f, 1.5f, 1.5f, 1.5f},
                   12, 0, 0);
    lt_ctx_free(ctx);
}

/* ---- aliasing: both operands are (views of) the same tensor ------------------------------ */

static lt_tensor *square(lt_ctx *ctx, lt_tensor **in, void *user)
{
    (void)user;
    return lt_mul(ctx, in[0], in[0]);
}

static lt_tensor *times_transpose(lt_ctx *ctx, lt_tensor **in, void *user)
{
    (void)user;
    return lt_mul(ctx, in[0], lt_transpose(ctx, in[0], 0, 1));
}

static lt_tensor *over_own_row(lt_ctx *ctx, lt_tensor **in, void *user)
{
    (void)user;
    /* (3,4) / (4,) where the divisor is row 2 of the dividend itself */
    return lt_div(ctx, in[0], lt_select(ctx, in[0], 0, 2));
}

static void test_aliased_operands(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = signed_random(ctx, LT_SHAPE(3, 4), 41, 0.5, 2);
    lt_requires_grad(ctx, x, true);
    float xv[12], want[12];
    lt_copy_out_f32(x, xv);
    /* x * x: value x^2, gradient 2x (both terms, added) */
    lt_tensor *y = lt_mul(ctx, x, x);
    for (int i = 0; i < 12; i++)
        want[i] = xv[i] * xv[i];
    ts_assert_near(y, want, 12, 0, 0);
    assert_true(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(3, 4))));
    for (int i = 0; i < 12; i++)
        want[i] = 2 * xv[i];
    ts_assert_near(lt_grad(ctx, x), want, 12, 0, 0);
    /* x + x: 2; x - x: 0 (value and gradient); x / x: 1 and gradient 0 */
    struct {
        int op;
        float value, grad;
    } same[] = {{ADD, NAN, 2}, {SUB, 0, 0}, {DIV, 1, 0}};
    for (int k = 0; k < 3; k++) {
        lt_ctx_reset(ctx);
        lt_zero_grad(x);
        y = BINARY[same[k].op](ctx, x, x);
        if (!isnan(same[k].value))
            for (int i = 0; i < 12; i++)
                assert_float_equal(lt_get_f32(y, i), same[k].value, 0);
        assert_true(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(3, 4))));
        for (int i = 0; i < 12; i++)
            assert_float_equal(lt_grad_get(x, i), same[k].grad, 1e-6);
    }
    lt_ctx_reset(ctx);
    ts_gradcheck(square, &x, 1, NULL, 1e-2, GC_ATOL, GC_RTOL);
    ts_gradcheck(over_own_row, &x, 1, NULL, 1e-3, GC_ATOL, GC_RTOL);
    lt_tensor *sq = signed_random(ctx, LT_SHAPE(4, 4), 42, 0.5, 2);
    lt_requires_grad(ctx, sq, true);
    ts_gradcheck(times_transpose, &sq, 1, NULL, 1e-2, GC_ATOL, GC_RTOL);
    lt_ctx_free(ctx);
}

/* ---- scalar forms ------------------------------------------------------------------------ */

static const scalar_fn SCALAR[NOPS] = {lt_add_scalar, lt_sub_scalar, lt_mul_scalar, lt_div_scalar};

static lt_tensor *apply_scalar(lt_ctx *ctx, lt_tensor **in, void *user)
{
    /* on a transposed view, so that the copy's gradient path is covered */
    return SCALAR[*(const int *)user](ctx, lt_transpose(ctx, in[0], 0, 1), -1.75f);
}

static void test_scalar_forms(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_new_from(ctx, LT_F32, LT_SHAPE(3, 4), M34);
    ts_assert_near(lt_add_scalar(ctx, a, 0.5f), (float[]){1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f, 7.5f, 8.5f, 9.5f, 10.5f,
                                                          11.5f, 12.5f}, 12, 0, 0);
    ts_assert_near(lt_sub_scalar(ctx, a, 2), (float[]){-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 12, 0, 0);
    ts_assert_near(lt_mul_scalar(ctx, a, -2), (float[]){-2, -4, -6, -8, -10, -12, -14, -16, -18, -20, -22, -24}, 12,
                   0, 0);
    ts_assert_near(lt_div_scalar(ctx, a, 4), (float[]){0.25f, 0.5f, 0.75f, 1, 1.25f, 1.5f, 1.75f, 2, 2.25f, 2.5f,
                                                       2.75f, 3}, 12, 0, 0);
    /* true division: 5/3 rounds once (1.66666663f), while 5 * (1/3) rounds
     * twice and gives 1.66666675f */
    lt_tensor *five = lt_full(ctx, LT_SHAPE0, 5.0f);
    assert_true(lt_item(ctx, lt_div_scalar(ctx, five, 3.0f)) == 1.66666663f);
    ts_assert_shape(lt_mul_scalar(ctx, five, 2.0f), LT_SHAPE0);
    /* a transposed input: values in logical order */
    lt_tensor *t = lt_mul_scalar(ctx, lt_transpose(ctx, a, 0, 1), 10.0f);
    ts_assert_shape(t, LT_SHAPE(4, 3));
    ts_assert_near(t, (float[]){10, 50, 90, 20, 60, 100, 30, 70, 110, 40, 80, 120}, 12, 0, 0);
    /* s = 0 */
    lt_tensor *z = lt_div_scalar(ctx, lt_from_f32(ctx, LT_SHAPE(2), (float[]){1, 0}), 0.0f);
    assert_true(isinf(lt_get_f32(z, 0)) && isnan(lt_get_f32(z, 1)));
    /* gradients: d(a*s)/da = s, d(a/s)/da = 1/s, +-s: 1, with strided inputs */
    lt_requires_grad(ctx, a, true);
    float dfd[NOPS] = {1, 1, -1.75f, 1 / -1.75f};
    for (int k = 0; k < NOPS; k++) {
        lt_ctx_reset(ctx);
        lt_zero_grad(a);
        lt_tensor *y = apply_scalar(ctx, &a, &k);
        assert_int_equal(lt_tape_size(ctx), 2); /* the copy and the op */
        assert_true(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(4, 3))));
        for (int i = 0; i < 12; i++)
            assert_float_equal(lt_grad_get(a, i), dfd[k], 1e-7);
        ts_gradcheck(apply_scalar, &a, 1, &k, 1e-2, GC_ATOL, GC_RTOL);
    }
    lt_ctx_free(ctx);
}

/* s - x and s / x: values, PyTorch's rounding of s / x, gradients on
 * strided inputs. */
static void test_scalar_left_forms(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_new_from(ctx, LT_F32, LT_SHAPE(3, 4), M34);
    ts_assert_near(lt_scalar_sub(ctx, 1.0f, a), (float[]){0, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11}, 12, 0, 0);
    ts_assert_near(lt_scalar_div(ctx, 12.0f, a), (float[]){12, 6, 4, 3, 2.4f, 2, 12 / 7.0f, 1.5f, 12 / 9.0f, 1.2f,
                                                           12 / 11.0f, 1}, 12, 0, 2e-7);
    /* PyTorch's 10 / x is x.reciprocal() * 10: for x = 3 that is 3.33333349f
     * (two roundings), where the true quotient rounds to 3.33333325f; the
     * same bits as the old spelling lt_mul_scalar(lt_pow(x, -1), 10) */
    lt_tensor *three = lt_full(ctx, LT_SHAPE0, 3.0f);
    assert_true(lt_item(ctx, lt_scalar_div(ctx, 10.0f, three)) == 3.33333349f);
    assert_true(lt_item(ctx, lt_mul_scalar(ctx, lt_pow(ctx, three, -1.0f), 10.0f)) == 3.33333349f);
    ts_assert_shape(lt_scalar_sub(ctx, 2.0f, three), LT_SHAPE0);
    /* zeros: s / +-0 = +-inf, 0 / 0 = NaN */
    lt_tensor *z = lt_scalar_div(ctx, 2.0f, lt_from_f32(ctx, LT_SHAPE(2), (float[]){0, -0.0f}));
    assert_true(lt_get_f32(z, 0) == INFINITY && lt_get_f32(z, 1) == -INFINITY);
    assert_true(isnan(lt_item(ctx, lt_scalar_div(ctx, 0.0f, lt_zeros(ctx, LT_F32, LT_SHAPE0)))));
    /* a transposed input: values in logical order, gradient -1 and -s/x^2 */
    lt_requires_grad(ctx, a, true);
    lt_tensor *t = lt_transpose(ctx, a, 0, 1);
    lt_tensor *y = lt_add(ctx, lt_scalar_sub(ctx, 0.5f, t), lt_scalar_div(ctx, -3.0f, t));
    ts_assert_shape(y, LT_SHAPE(4, 3));
    ts_assert_value("0.5 - x - 3 / x", lt_get_f32(y, 1), 0.5 - 5 - 3 / 5.0, 1e-6, 0); /* element (0,1) is a[1][0] = 5 */
    assert_true(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(4, 3))));
    for (int i = 0; i < 12; i++)
        ts_assert_value("its gradient", lt_grad_get(a, i), -1 + 3 / (M34[i] * M34[i]), 1e-6, 0);
    lt_ctx_free(ctx);
}

static lt_tensor *apply_scalar_left(lt_ctx *ctx, lt_tensor **in, void *user)
{
    lt_tensor *t = lt_narrow(ctx, lt_transpose(ctx, in[0], 0, 1), 0, 1, 3); /* (3,3) strided */
    return *(const int *)user ? lt_scalar_div(ctx, 1.5f, t) : lt_scalar_sub(ctx, -2.0f, t);
}

static void test_scalar_left_gradcheck(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(3, 4), 77, 0.5, 2), true);
    for (int k = 0; k < 2; k++)
        ts_gradcheck(apply_scalar_left, &a, 1, &k, 1e-3, GC_ATOL, GC_RTOL);
    lt_ctx_free(ctx);
}

/* s - x reads nothing in its backward; s / x reads x */
static lt_tensor *scalar_left_of(lt_ctx *ctx, lt_tensor **in, void *user)
{
    return *(const int *)user ? lt_scalar_div(ctx, 2.0f, in[0]) : lt_scalar_sub(ctx, 2.0f, in[0]);
}

static void test_scalar_left_saved_tensors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(4), 13, 0.5, 2), true);
    ts_check_saves(scalar_left_of, x, &(int){0}, "scalar_sub", false, false);
    ts_check_saves(scalar_left_of, x, &(int){1}, "scalar_div", true, false);
    lt_ctx_free(ctx);
}

/* ---- accumulation ------------------------------------------------------------------------ */

static void test_gradients_accumulate(void **state)
{
    (void)state;
    /* backward adds into existing gradients: with y = op(x, ...) + x, x
     * gets op's term plus 1; a second pass without zero_grad doubles it */
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_new_from(ctx, LT_F32, LT_SHAPE(2, 2), (float[]){1, 2, 3, 4});
    lt_tensor *b = lt_new_from(ctx, LT_F32, LT_SHAPE(2), (float[]){2, 4});
    lt_requires_grad(ctx, x, true);
    lt_requires_grad(ctx, b, true);
    const float dx[2 * NOPS][4] = {
        {2, 2, 2, 2}, {2, 2, 2, 2}, {3, 5, 3, 5}, {1.5f, 1.25f, 1.5f, 1.25f}, /* op(x, b) + x */
        {2, 2, 2, 2}, {2, 2, 2, 2}, {-1, -1, -1, -1}, {0.5f, 0.5f, 0.5f, 0.5f}, /* op(x, -2) + x */
    };
    const float db[NOPS][2] = {{2, 2}, {-2, -2}, {4, 6}, {-1, -0.375f}}; /* sums over the rows */
    for (int k = 0; k < 2 * NOPS; k++) {
        lt_zero_grad(x);
        lt_zero_grad(b);
        for (int pass = 1; pass <= 2; pass++) {
            lt_ctx_reset(ctx);
            lt_tensor *y = k < NOPS ? BINARY[k](ctx, x, b) : SCALAR[k - NOPS](ctx, x, -2.0f);
            assert_true(lt_backward_grad(ctx, lt_add(ctx, y, x), lt_ones(ctx, LT_SHAPE(2, 2))));
            for (int i = 0; i < 4; i++)
                assert_float_equal(lt_grad_get(x, i), pass * dx[k][i], 1e-6);
            for (int j = 0; j < 2 && k < NOPS; j++)
                assert_float_equal(lt_grad_get(b, j), pass * db[k][j], 1e-6);
        }
    }
    lt_ctx_free(ctx);
}

/* ---- recording --------------------------------------------------------------------------- */

static void test_recording_rules(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = ts_random(ctx, LT_SHAPE(2, 3), 51, -1, 1);
    lt_tensor *b = ts_random(ctx, LT_SHAPE(3), 52, 0.5, 1);
    /* nothing requires grad: no node */
    lt_tensor *y = lt_mul(ctx, a, b);
    assert_non_null(y);
    assert_false(y->requires_grad);
    assert_int_equal(lt_tape_size(ctx), 0);
    /* only b requires grad: a gets no gradient buffer */
    lt_requires_grad(ctx, b, true);
    y = lt_mul(ctx, a, b);
    assert_true(y->requires_grad);
    assert_int_equal(lt_tape_size(ctx), 1);
    assert_true(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(2, 3))));
    assert_null(lt_grad_f32(a));
    for (int j = 0; j < 3; j++)
        assert_float_equal(lt_grad_get(b, j), lt_get_f32(a, j) + lt_get_f32(a, 3 + j), 1e-6);
    /* grad mode off: nothing recorded, nothing requires grad */
    lt_ctx_reset(ctx);
    bool old = lt_set_grad_enabled(ctx, false);
    y = lt_div(ctx, lt_add_scalar(ctx, a, 1), b);
    assert_non_null(y);
    assert_false(y->requires_grad);
    assert_int_equal(lt_tape_size(ctx), 0);
    lt_set_grad_enabled(ctx, old);
    lt_ctx_free(ctx);
}

static void test_empty_tensors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_new(ctx, LT_F32, LT_SHAPE(0, 3));
    lt_tensor *b = lt_new_from(ctx, LT_F32, LT_SHAPE(3), (float[]){1, 2, 3});
    lt_requires_grad(ctx, a, true);
    lt_requires_grad(ctx, b, true);
    for (int op = 0; op < NOPS; op++) {
        lt_tensor *y = BINARY[op](ctx, a, b);
        ts_assert_shape(y, LT_SHAPE(0, 3));
        assert_true(lt_backward_grad(ctx, y, lt_zeros(ctx, LT_F32, LT_SHAPE(0, 3))));
        for (int j = 0; j < 3; j++)
            assert_true(lt_grad_get(b, j) == 0.0f); /* an empty sum */
        lt_ctx_reset(ctx);
    }
    ts_assert_shape(lt_add_scalar(ctx, a, 1), LT_SHAPE(0, 3));
    lt_ctx_free(ctx);
}

/* ---- errors ------------------------------------------------------------------------------ */

static void test_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_zeros(ctx, LT_F32, LT_SHAPE(32, 200));
    lt_tensor *b = lt_zeros(ctx, LT_F32, LT_SHAPE(100));
    lt_tensor *i = lt_arange(ctx, 4);
    lt_tensor *f = lt_ones(ctx, LT_SHAPE(4));
    for (int op = 0; op < NOPS; op++) {
        const char *name = BINARY_NAME[op];
        assert_null(BINARY[op](NULL, f, f)); /* no context: NULL, no crash */
        assert_null(BINARY[op](ctx, NULL, f));
        ts_assert_error(ctx, LT_ERR_ARG, name, "argument 1 is NULL", NULL);
        assert_null(BINARY[op](ctx, f, NULL));
        ts_assert_error(ctx, LT_ERR_ARG, name, "argument 2 is NULL", NULL);
        assert_null(BINARY[op](ctx, i, f));
        ts_assert_error(ctx, LT_ERR_DTYPE, name, "i32", NULL);
        assert_null(BINARY[op](ctx, f, i));
        ts_assert_error(ctx, LT_ERR_DTYPE, name, "i32", NULL);
        assert_null(BINARY[op](ctx, a, b));
        ts_assert_error(ctx, LT_ERR_SHAPE, name, "shapes (32,200) and (100) cannot broadcast", NULL);
        assert_null(BINARY[op](ctx, lt_ones(ctx, LT_SHAPE(2, 3)), lt_ones(ctx, LT_SHAPE(3, 2))));
        ts_assert_error(ctx, LT_ERR_SHAPE, name, "(2,3)", "(3,2)", NULL);
        assert_null(BINARY[op](ctx, lt_ones(ctx, LT_SHAPE(0)), lt_ones(ctx, LT_SHAPE(2))));
        ts_assert_error(ctx, LT_ERR_SHAPE, name, "(0)", "(2)", NULL);
        assert_null(BINARY[op](ctx, lt_ones(ctx, LT_SHAPE(2, 1, 4)), lt_ones(ctx, LT_SHAPE(3, 3, 1))));
        ts_assert_error(ctx, LT_ERR_SHAPE, name, "(2,1,4)", "(3,3,1)", "dim 0", NULL);
        /* sticky: after an error, even valid calls return NULL and the first
         * message is kept */
        assert_null(BINARY[op](ctx, a, b));
        assert_null(BINARY[op](ctx, f, f));
        assert_null(lt_add_scalar(ctx, f, 1));
        ts_assert_error(ctx, LT_ERR_SHAPE, name, "(32,200)", NULL);
        assert_non_null(BINARY[op](ctx, f, f)); /* usable again */
    }
    static const struct {
        const char *name;
        scalar_fn fn;
    } sc[] = {{"add_scalar", lt_add_scalar}, {"sub_scalar", lt_sub_scalar}, {"mul_scalar", lt_mul_scalar},
              {"div_scalar", lt_div_scalar}, {"scalar_sub", scalar_sub_fn},  {"scalar_div", scalar_div_fn}};
    for (int k = 0; k < 6; k++) {
        assert_null(sc[k].fn(NULL, f, 1));
        assert_null(sc[k].fn(ctx, NULL, 1));
        ts_assert_error(ctx, LT_ERR_ARG, sc[k].name, "argument 1 is NULL", NULL);
        assert_null(sc[k].fn(ctx, i, 1));
        ts_assert_error(ctx, LT_ERR_DTYPE, sc[k].name, "i32", NULL);
        assert_null(lt_mul(ctx, a, b)); /* sticky for the scalar forms too */
        assert_null(sc[k].fn(ctx, f, 1));
        ts_assert_error(ctx, LT_ERR_SHAPE, "mul", NULL);
    }
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_broadcast_shapes),
        cmocka_unit_test(test_golden_forward),
        cmocka_unit_test(test_golden_backward),
        cmocka_unit_test(test_golden_scalar_forms),
        cmocka_unit_test(test_gradcheck_broadcasts),
        cmocka_unit_test(test_paths_match_reference),
        cmocka_unit_test(test_noncontiguous_operands),
        cmocka_unit_test(test_views_of_views_gradients),
        cmocka_unit_test(test_broadcast_gradients_sum),
        cmocka_unit_test(test_aliased_operands),
        cmocka_unit_test(test_scalar_forms),
        cmocka_unit_test(test_scalar_left_forms),
        cmocka_unit_test(test_scalar_left_gradcheck),
        cmocka_unit_test(test_scalar_left_saved_tensors),
        cmocka_unit_test(test_gradients_accumulate),
        cmocka_unit_test(test_recording_rules),
        cmocka_unit_test(test_empty_tensors),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
