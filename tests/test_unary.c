/* test_unary.c - neg, tanh, exp, log, relu, pow, sqrt, rsqrt, abs, clamp:
 * values (hand-computed and PyTorch 1.13 golden values, including inf/NaN
 * edge cases), gradients (golden and finite differences), strided inputs and
 * views of views, and every error path. */
#include "test_support.h"

#include "kernels/threads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../data/golden_elementwise.h"

/* ---- helpers --------------------------------------------------------------- */

/* The ops behind one signature; c is pow's exponent. clamp runs with fixed
 * bounds here (its own tests vary them). */
enum { NEG, TANH, EXP, LOG, RELU, POW, SQRT, RSQRT, ABS, CLAMP, NOPS };
static const char *const NAME[NOPS] = {"neg", "tanh", "exp", "log", "relu", "pow", "sqrt", "rsqrt", "abs", "clamp"};
#define CLAMP_LO (-0.5f)
#define CLAMP_HI 1.5f

static lt_tensor *apply(lt_ctx *ctx, int op, lt_tensor *a, float c)
{
    switch (op) {
    case NEG: return lt_neg(ctx, a);
    case TANH: return lt_tanh(ctx, a);
    case EXP: return lt_exp(ctx, a);
    case LOG: return lt_log(ctx, a);
    case RELU: return lt_relu(ctx, a);
    case SQRT: return lt_sqrt(ctx, a);
    case RSQRT: return lt_rsqrt(ctx, a);
    case ABS: return lt_abs(ctx, a);
    case CLAMP: return lt_clamp(ctx, a, CLAMP_LO, CLAMP_HI);
    default: return lt_pow(ctx, a, c);
    }
}

/* sqrt and rsqrt are NaN below 0: their random inputs stay positive */
static bool positive_only(int op) { return op == LOG || op == SQRT || op == RSQRT; }

static int op_index(const char *name)
{
    for (int op = 0; op < NOPS; op++)
        if (strcmp(NAME[op], name) == 0)
            return op;
    fail_msg("unknown op %s", name);
    return -1;
}

/* NaN matches NaN, an infinity the same infinity; otherwise within
 * atol + rtol*|want|. */
static bool close_enough(double got, double want, double atol, double rtol)
{
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    return fabs(got - want) <= atol + rtol * fabs(want);
}

static void check(const char *what, int64_t i, double got, double want, double atol, double rtol)
{
    if (!close_enough(got, want, atol, rtol))
        fail_msg("%s element %lld: got %.9g, expected %.9g (atol %g, rtol %g)", what, (long long)i, got, want, atol,
                 rtol);
}

/* y = op(x) and dx for an upstream gradient of ones, on a fresh context. */
typedef struct {
    float y[16], dx[16];
} result;

static result run(int op, float c, const float *x, int n)
{
    result r;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *t = lt_new_from(ctx, LT_F32, LT_SHAPE(n), x);
    lt_requires_grad(ctx, t, true);
    lt_tensor *y = apply(ctx, op, t, c);
    assert_non_null(y);
    ts_assert_shape(y, LT_SHAPE(n));
    assert_true(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(n))));
    lt_copy_out_f32(y, r.y);
    for (int i = 0; i < n; i++)
        r.dx[i] = lt_grad_get(t, i);
    lt_ctx_free(ctx);
    return r;
}

/* ---- PyTorch golden values -------------------------------------------------- */

/* libm and PyTorch's vectorised tanh/exp/log may differ in the last bit or
 * two; the rest are exact IEEE operations (or sqrt/pow on the same path). */
#define FWD_ATOL 1e-7
#define FWD_RTOL 1e-6
/* 1 - y^2 near |y| = 1 magnifies a last-bit difference in y */
#define BWD_ATOL 1e-6
#define BWD_RTOL 1e-5

static void test_golden_values(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    for (int c = 0; c < GOLDEN_UNARY_COUNT; c++) {
        const golden_unary *g = &golden_unary_cases[c];
        char what[64];
        snprintf(what, sizeof what, "%s(c=%g)", g->op, (double)g->c);
        lt_tensor *x = lt_new_from(ctx, LT_F32, LT_SHAPE(g->n), g->x);
        lt_requires_grad(ctx, x, true);
        lt_tensor *y = apply(ctx, op_index(g->op), x, g->c);
        ts_assert_shape(y, LT_SHAPE(g->n));
        assert_int_equal(lt_tape_size(ctx), 1);
        for (int i = 0; i < g->n; i++)
            check(what, i, lt_get_f32(y, i), g->y[i], FWD_ATOL, FWD_RTOL);
        assert_true(lt_backward_grad(ctx, y, lt_from_f32(ctx, LT_SHAPE(g->n), g->g)));
        for (int i = 0; i < g->n; i++)
            check(what, i, lt_grad_get(x, i), g->dx[i], BWD_ATOL, BWD_RTOL);
        lt_free(x);
        lt_ctx_reset(ctx);
    }
    lt_ctx_free(ctx);
}

/* ---- edge values, by hand ------------------------------------------------------ */

static void test_neg_values(void **state)
{
    (void)state;
    const float x[5] = {1.5f, -2, 0, -0.0f, INFINITY};
    result r = run(NEG, 0, x, 5);
    for (int i = 0; i < 5; i++) {
        assert_true(r.y[i] == -x[i]);
        assert_true(signbit(r.y[i]) != signbit(x[i])); /* -0 and 0 swap */
        assert_float_equal(r.dx[i], -1.0f, 0);
    }
}

static void test_tanh_large_inputs(void **state)
{
    (void)state;
    const float x[8] = {20, -20, 1e4f, -1e4f, 0, 0.5f, -9, 1e-4f};
    result r = run(TANH, 0, x, 8);
    for (int i = 0; i < 4; i++) {
        /* saturated: exactly +-1, finite, gradient exactly 0 (not NaN) */
        assert_true(isfinite(r.y[i]));
        assert_float_equal(r.y[i], x[i] > 0 ? 1.0f : -1.0f, 0);
        assert_true(r.dx[i] == 0.0f);
    }
    assert_true(r.y[4] == 0.0f);
    assert_float_equal(r.dx[4], 1.0f, 0);
    check("tanh(0.5)", 5, r.y[5], 0.46211715726000974, 0, 2e-7);
    check("tanh'(0.5)", 5, r.dx[5], 1 - 0.46211715726000974 * 0.46211715726000974, 0, 1e-6);
    check("tanh(-9)", 6, r.y[6], -0.99999997, 0, 1e-7);
    assert_true(r.dx[6] >= 0.0f && r.dx[6] <= 1.2e-7f); /* y is 1 - 2^-24 or 1 */
    check("tanh(1e-4)", 7, r.y[7], 1e-4, 0, 1e-6);
}

static void test_exp_edges(void **state)
{
    (void)state;
    const float x[9] = {0, 1, -1, 88, 89, -104, -INFINITY, INFINITY, NAN};
    result r = run(EXP, 0, x, 9);
    assert_float_equal(r.y[0], 1.0f, 0);
    check("exp(1)", 1, r.y[1], 2.718281828459045, 0, 1.2e-7);
    check("exp(-1)", 2, r.y[2], 0.36787944117144233, 0, 1.2e-7);
    check("exp(88)", 3, r.y[3], 1.6516362549940018e38, 0, 1.2e-7);
    assert_true(isfinite(r.y[3]));
    assert_true(isinf(r.y[4]) && r.y[4] > 0); /* overflow */
    assert_true(r.y[5] == 0.0f);               /* underflow below the smallest subnormal */
    assert_true(r.y[6] == 0.0f);
    assert_true(isinf(r.y[7]));
    assert_true(isnan(r.y[8]));
    /* the gradient is the output itself */
    for (int i = 0; i < 8; i++)
        assert_true(r.dx[i] == r.y[i]);
    assert_true(isnan(r.dx[8]));
}

static void test_log_edges(void **state)
{
    (void)state;
    const float x[8] = {1, 2.718281828f, 0, -0.0f, -1, INFINITY, 1e-30f, 4};
    result r = run(LOG, 0, x, 8);
    assert_true(r.y[0] == 0.0f);
    check("log(e)", 1, r.y[1], 1.0, 0, 1.2e-7);
    assert_true(isinf(r.y[2]) && r.y[2] < 0); /* log(0) = -inf */
    assert_true(isinf(r.y[3]) && r.y[3] < 0); /* log(-0) = -inf */
    assert_true(isnan(r.y[4]));               /* log of a negative number */
    assert_true(isinf(r.y[5]) && r.y[5] > 0);
    check("log(1e-30)", 6, r.y[6], -69.07755278982137, 0, 1.2e-7);
    check("log(4)", 7, r.y[7], 1.3862943611198906, 0, 1.2e-7);
    /* d/dx log x = 1/x: inf at +0, -inf at -0, NaN-free 0 at inf */
    assert_float_equal(r.dx[0], 1.0f, 0);
    check("log'(e)", 1, r.dx[1], 1 / 2.718281828, 0, 1e-7);
    assert_true(isinf(r.dx[2]) && r.dx[2] > 0);
    assert_true(isinf(r.dx[3]) && r.dx[3] < 0);
    assert_float_equal(r.dx[4], -1.0f, 0);
    assert_true(r.dx[5] == 0.0f);
    check("log'(1e-30)", 6, r.dx[6], 1e30, 0, 1e-7);
    assert_float_equal(r.dx[7], 0.25f, 0);
}

static void test_relu_edges(void **state)
{
    (void)state;
    const float x[7] = {-2, 3, 0, -0.0f, NAN, INFINITY, -INFINITY};
    result r = run(RELU, 0, x, 7);
    const float y[7] = {0, 3, 0, 0, NAN, INFINITY, 0};
    const float dx[7] = {0, 1, 0, 0, 1, 1, 0}; /* relu'(0) = 0; NaN passes the gradient */
    for (int i = 0; i < 7; i++) {
        check("relu", i, r.y[i], y[i], 0, 0);
        check("relu'", i, r.dx[i], dx[i], 0, 0);
    }
}

static void test_pow_exponents(void **state)
{
    (void)state;
    const float x[7] = {-2, -0.5f, 0, 0.5f, 1, 2, 4};
    const struct {
        float p;
        float y[7], dx[7];
    } cases[] = {
        {2, {4, 0.25f, 0, 0.25f, 1, 4, 16}, {-4, -1, 0, 1, 2, 4, 8}},
        {3, {-8, -0.125f, 0, 0.125f, 1, 8, 64}, {12, 0.75f, 0, 0.75f, 3, 12, 48}},
        {-1, {-0.5f, -2, INFINITY, 2, 1, 0.5f, 0.25f}, {-0.25f, -4, -INFINITY, -4, -1, -0.25f, -0.0625f}},
        {-2, {0.25f, 4, INFINITY, 4, 1, 0.25f, 0.0625f}, {0.25f, 16, -INFINITY, -16, -2, -0.25f, -0.03125f}},
        /* a negative base with a non-integer exponent is NaN (value and
         * gradient); the square root's derivative is infinite at 0 */
        {0.5f, {NAN, NAN, 0, 0.70710678f, 1, 1.41421356f, 2},
         {NAN, NAN, INFINITY, 0.70710678f, 0.5f, 0.35355339f, 0.25f}},
        {-0.5f, {NAN, NAN, INFINITY, 1.41421356f, 1, 0.70710678f, 0.5f},
         {NAN, NAN, -INFINITY, -1.41421356f, -0.5f, -0.1767767f, -0.0625f}},
        {1.5f, {NAN, NAN, 0, 0.35355339f, 1, 2.82842712f, 8}, {NAN, NAN, 0, 1.06066017f, 1.5f, 2.12132034f, 3}},
        /* x^0 = 1 everywhere (0^0 too) with gradient 0, never 0 * inf */
        {0, {1, 1, 1, 1, 1, 1, 1}, {0, 0, 0, 0, 0, 0, 0}},
        {1, {-2, -0.5f, 0, 0.5f, 1, 2, 4}, {1, 1, 1, 1, 1, 1, 1}},
        /* integer exponents through powf keep the sign of a negative base */
        {4, {16, 0.0625f, 0, 0.0625f, 1, 16, 256}, {-32, -0.5f, 0, 0.5f, 4, 32, 256}},
        {-3, {-0.125f, -8, INFINITY, 8, 1, 0.125f, 0.015625f},
         {-0.1875f, -48, -INFINITY, -48, -3, -0.1875f, -0.01171875f}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char what[32];
        snprintf(what, sizeof what, "pow(x, %g)", (double)cases[k].p);
        result r = run(POW, cases[k].p, x, 7);
        for (int i = 0; i < 7; i++) {
            check(what, i, r.y[i], cases[k].y[i], 0, 2e-7);
            check(what, i, r.dx[i], cases[k].dx[i], 0, 2e-7);
        }
    }
    /* -0 keeps its sign under sqrt (PyTorch computes x^0.5 as sqrt) */
    result z = run(POW, 0.5f, (float[]){-0.0f}, 1);
    assert_true(z.y[0] == 0.0f && signbit(z.y[0]));
    /* NaN exponent: NaN, except 1^NaN = 1 as in C and PyTorch */
    result r = run(POW, NAN, x, 7);
    assert_true(isnan(r.y[0]) && r.y[4] == 1.0f);
}

static void test_sqrt_rsqrt_edges(void **state)
{
    (void)state;
    const float x[7] = {4, 0, -0.0f, -1, INFINITY, 2, 1e-30f};
    result r = run(SQRT, 0, x, 7);
    result q = run(RSQRT, 0, x, 7);
    const float y[7] = {2, 0, -0.0f, NAN, INFINITY, 1.41421354f, 1e-15f};
    const float dx[7] = {0.25f, INFINITY, -INFINITY, NAN, 0, 0.353553385f, 5e14f}; /* 1 / (2 sqrt x) */
    const float ry[7] = {0.5f, INFINITY, -INFINITY, NAN, 0, 0.707106769f, 1e15f};
    /* -x^-1.5 / 2; at 1e-30 y^3 overflows float, as in PyTorch */
    const float rdx[7] = {-0.0625f, -INFINITY, INFINITY, NAN, -0.0f, -0.176776692f, -INFINITY};
    for (int i = 0; i < 7; i++) {
        check("sqrt", i, r.y[i], y[i], 0, 1e-7);
        check("sqrt'", i, r.dx[i], dx[i], 0, 2e-7);
        check("rsqrt", i, q.y[i], ry[i], 0, 1e-7);
        check("rsqrt'", i, q.dx[i], rdx[i], 0, 2e-7);
    }
    assert_true(signbit(r.y[2])); /* sqrt(-0) = -0 */
    /* rsqrt is a true division, 1 / sqrt(x): pow(x, -0.5) to the bit */
    result p = run(POW, -0.5f, x, 7);
    for (int i = 0; i < 7; i++)
        assert_memory_equal(&q.y[i], &p.y[i], sizeof(float));
}

static void test_abs_edges(void **state)
{
    (void)state;
    const float x[7] = {-2, 3, 0, -0.0f, NAN, -INFINITY, INFINITY};
    result r = run(ABS, 0, x, 7);
    const float y[7] = {2, 3, 0, 0, NAN, INFINITY, INFINITY};
    const float dx[7] = {-1, 1, 0, 0, 0, -1, 1}; /* sgn: 0 at +-0 and NaN, as PyTorch */
    for (int i = 0; i < 7; i++) {
        check("abs", i, r.y[i], y[i], 0, 0);
        check("abs'", i, r.dx[i], dx[i], 0, 0);
    }
    assert_false(signbit(r.y[3])); /* |-0| = +0 */
}

/* ---- clamp ------------------------------------------------------------------------ */

/* Both bounds, one bound (the other infinite, against PyTorch's None),
 * min > max and min == max: exact values and gradients. */
static void test_clamp_golden(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    for (int c = 0; c < GOLDEN_CLAMP_COUNT; c++) {
        const golden_clamp *g = &golden_clamp_cases[c];
        char what[64];
        snprintf(what, sizeof what, "clamp [%g, %g]", (double)g->lo, (double)g->hi);
        lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(g->n), g->x), true);
        lt_tensor *y = lt_clamp(ctx, x, g->lo, g->hi);
        assert_non_null(y);
        for (int i = 0; i < g->n; i++)
            check(what, i, lt_get_f32(y, i), g->y[i], 0, 0);
        assert_true(lt_backward_grad(ctx, y, lt_from_f32(ctx, LT_SHAPE(g->n), g->g)));
        for (int i = 0; i < g->n; i++)
            check(what, i, lt_grad_get(x, i), g->dx[i], 0, 0);
        lt_free(x);
        lt_ctx_reset(ctx);
    }
    lt_ctx_free(ctx);
}

static void test_clamp_bounds(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(6), (float[]){-1, 0, 0.5f, 1, 2, NAN}),
                                    true);
    /* the gradient passes on the closed range: at both bounds too */
    lt_tensor *y = lt_clamp(ctx, x, 0, 1);
    ts_assert_shape(y, LT_SHAPE(6));
    assert_true(lt_backward_grad(ctx, y, lt_full(ctx, LT_SHAPE(6), 2.0f)));
    const float want_y[6] = {0, 0, 0.5f, 1, 1, NAN}, want_dx[6] = {0, 2, 2, 2, 0, 0};
    for (int i = 0; i < 6; i++) {
        check("clamp [0,1]", i, lt_get_f32(y, i), want_y[i], 0, 0);
        check("clamp' [0,1]", i, lt_grad_get(x, i), want_dx[i], 0, 0);
    }
    /* -0 below a bound of +0 stays -0 (PyTorch's comparison order) */
    lt_ctx_reset(ctx);
    assert_true(signbit(lt_get_f32(lt_clamp(ctx, lt_full(ctx, LT_SHAPE0, -0.0f), 0, 1), 0)));
    /* a NaN bound is refused, with nothing recorded */
    assert_null(lt_clamp(ctx, x, NAN, 1));
    ts_assert_error(ctx, LT_ERR_ARG, "clamp: bounds [nan, 1]", "INFINITY", NULL);
    assert_null(lt_clamp(ctx, x, 0, NAN));
    ts_assert_error(ctx, LT_ERR_ARG, "clamp: bounds [0, nan]", NULL);
    assert_int_equal(lt_tape_size(ctx), 0);
    lt_ctx_free(ctx);
}

/* ---- finite differences -------------------------------------------------------- */

typedef struct {
    int op;
    float c;
} unary_case;

static lt_tensor *apply_case(lt_ctx *ctx, lt_tensor **in, void *user)
{
    const unary_case *u = user;
    return apply(ctx, u->op, in[0], u->c);
}

/* Magnitudes in [lo, hi) with random signs when both_signs (keeps relu's
 * inputs away from its kink at 0). */
static lt_tensor *random_input(lt_ctx *ctx, lt_shape s, uint64_t seed, double lo, double hi, bool both_signs)
{
    lt_tensor *t = ts_random(ctx, s, seed, lo, hi);
    ts_rand r = ts_rand_new(seed + 7);
    for (int64_t i = 0; both_signs && i < lt_numel(t); i++)
        if (ts_uniform(&r, 0, 1) < 0.5)
            lt_set_f32(t, i, -lt_get_f32(t, i));
    return t;
}

#define GC_EPS 1e-3
#define GC_ATOL 1e-3
#define GC_RTOL 1e-2

static void test_gradcheck(void **state)
{
    (void)state;
    const struct {
        unary_case u;
        double lo, hi;
        bool both_signs;
    } cases[] = {
        {{NEG, 0}, 0, 2, true},     {{TANH, 0}, 0, 2.5, true},   {{EXP, 0}, 0, 2, true},
        {{LOG, 0}, 0.3, 3, false},  {{RELU, 0}, 0.05, 2, true},  {{POW, 2}, 0.1, 2, true},
        {{POW, 3}, 0.1, 2, true},   {{POW, -1}, 0.5, 2, true},   {{POW, -2}, 0.5, 2, true},
        {{POW, 0.5f}, 0.3, 2, false}, {{POW, -0.5f}, 0.3, 2, false}, {{POW, 1.5f}, 0.3, 2, false},
        {{POW, 2.5f}, 0.3, 2, false}, {{POW, 0}, 0.3, 2, true},  {{POW, 1}, 0.3, 2, true},
        {{SQRT, 0}, 0.3, 3, false}, {{RSQRT, 0}, 0.3, 3, false}, {{ABS, 0}, 0.05, 2, true},
        {{CLAMP, 0}, 0, 2.5, true},
    };
    lt_ctx *ctx = lt_ctx_new();
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        lt_tensor *x = random_input(ctx, LT_SHAPE(3, 5), 100 + k, cases[k].lo, cases[k].hi, cases[k].both_signs);
        lt_requires_grad(ctx, x, true);
        unary_case u = cases[k].u;
        ts_gradcheck(apply_case, &x, 1, &u, GC_EPS, GC_ATOL, GC_RTOL);
        lt_free(x);
    }
    /* a rank-0 input */
    lt_tensor *s = lt_new_from(ctx, LT_F32, LT_SHAPE0, (float[]){0.7f});
    lt_requires_grad(ctx, s, true);
    for (int op = 0; op < NOPS; op++) {
        unary_case u = {op, 2.5f};
        ts_gradcheck(apply_case, &s, 1, &u, GC_EPS, GC_ATOL, GC_RTOL);
    }
    lt_ctx_free(ctx);
}

/* ---- strided inputs -------------------------------------------------------------- */

/* op(select(narrow(transpose(X)))) for X (4,6): a view of a view of a view. */
static lt_tensor *on_views(lt_ctx *ctx, lt_tensor **in, void *user)
{
    const unary_case *u = user;
    lt_tensor *t = lt_narrow(ctx, lt_transpose(ctx, in[0], 0, 1), 0, 1, 4); /* (4,4): X[:, 1:5]^T */
    return apply(ctx, u->op, lt_narrow(ctx, t, 1, 1, 2), u->c);             /* (4,2): X[1:3, 1:5]^T */
}

static void test_noncontiguous_inputs(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    for (int op = 0; op < NOPS; op++) {
        unary_case u = {op, op == POW ? 3.0f : 0.0f};
        lt_tensor *x = random_input(ctx, LT_SHAPE(4, 6), 200 + (uint64_t)op, 0.2, 2, !positive_only(op));
        lt_requires_grad(ctx, x, true);
        /* values on a transposed view equal those on its contiguous copy */
        lt_tensor *t = lt_transpose(ctx, x, 0, 1);
        lt_tensor *a = apply(ctx, op, t, u.c);
        lt_tensor *b = apply(ctx, op, lt_clone(ctx, t), u.c);
        ts_assert_shape(a, LT_SHAPE(6, 4));
        ts_assert_tensors_near(a, b, 0);
        /* and through views of views the gradient reaches the base, and only
         * the viewed elements */
        lt_ctx_reset(ctx);
        lt_zero_grad(x);
        lt_tensor *y = on_views(ctx, &x, &u);
        ts_assert_shape(y, LT_SHAPE(4, 2));
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 2; j++)
                check(NAME[op], i * 2 + j, lt_get_f32(y, i * 2 + j),
                      lt_get_f32(apply(ctx, op, lt_select(ctx, lt_select(ctx, x, 0, 1 + j), 0, 1 + i), u.c), 0), 0, 0);
        lt_ctx_reset(ctx);
        y = on_views(ctx, &x, &u);
        assert_true(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(4, 2))));
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 6; c++)
                if (r < 1 || r > 2 || c < 1 || c > 4)
                    assert_true(lt_grad_get(x, r * 6 + c) == 0.0f);
                else if (op != RELU && op != CLAMP) /* they pass 0 for some inputs */
                    assert_true(lt_grad_get(x, r * 6 + c) != 0.0f);
        ts_gradcheck(on_views, &x, 1, &u, GC_EPS, GC_ATOL, GC_RTOL);
        lt_free(x);
        lt_ctx_reset(ctx);
    }
    lt_ctx_free(ctx);
}

/* ---- backward from the saved output ------------------------------------------------ */

static void test_backward_uses_output(void **state)
{
    (void)state;
    /* tanh and exp differentiate from their output: overwriting the input
     * after forward (as an optimiser step would) leaves the gradient intact */
    const int ops[2] = {TANH, EXP};
    for (int k = 0; k < 2; k++) {
        lt_ctx *ctx = lt_ctx_new();
        lt_tensor *x = lt_new_from(ctx, LT_F32, LT_SHAPE(3), (float[]){-0.5f, 0.25f, 1.0f});
        lt_requires_grad(ctx, x, true);
        lt_tensor *y = apply(ctx, ops[k], x, 0);
        float yv[3];
        lt_copy_out_f32(y, yv);
        lt_fill(ctx, x, 123.0f);
        assert_true(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(3))));
        for (int i = 0; i < 3; i++)
            check(NAME[ops[k]], i, lt_grad_get(x, i), ops[k] == TANH ? 1.0f - yv[i] * yv[i] : yv[i], 0, 0);
        lt_ctx_free(ctx);
    }
}

/* What each backward reads is what its lt_op declares (ts_check_saves). */
static void test_saved_tensors(void **state)
{
    (void)state;
    /* 0: reads nothing, 1: reads x, 2: reads y */
    static const int reads[NOPS] = {[NEG] = 0, [TANH] = 2, [EXP] = 2, [LOG] = 1, [RELU] = 2,
                                    [POW] = 1, [SQRT] = 2, [RSQRT] = 2, [ABS] = 1, [CLAMP] = 1};
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(3), (float[]){0.5f, 1.25f, 2.0f}), true);
    for (int op = 0; op < NOPS; op++) {
        unary_case u = {op, 1.5f};
        ts_check_saves(apply_case, x, &u, NAME[op], reads[op] == 1, reads[op] == 2);
    }
    lt_ctx_free(ctx);
}

static void test_chains(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = random_input(ctx, LT_SHAPE(2, 3), 300, 0.5, 2, false);
    lt_requires_grad(ctx, x, true);
    /* log(exp(x)) = x with gradient 1; neg(neg(x)) = x exactly */
    lt_tensor *y = lt_log(ctx, lt_exp(ctx, x));
    lt_tensor *z = lt_neg(ctx, lt_neg(ctx, x));
    assert_int_equal(lt_tape_size(ctx), 4);
    for (int i = 0; i < 6; i++) {
        assert_float_equal(lt_get_f32(y, i), lt_get_f32(x, i), 1e-6);
        assert_true(lt_get_f32(z, i) == lt_get_f32(x, i));
    }
    assert_true(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(2, 3))));
    for (int i = 0; i < 6; i++)
        assert_float_equal(lt_grad_get(x, i), 1.0f, 1e-6);
    /* pow(x, 2) agrees with x * x to the bit, gradient included */
    lt_ctx_reset(ctx);
    lt_zero_grad(x);
    lt_tensor *p = lt_pow(ctx, x, 2.0f), *m = lt_mul(ctx, x, x);
    ts_assert_tensors_near(p, m, 0);
    assert_true(lt_backward_grad(ctx, p, lt_ones(ctx, LT_SHAPE(2, 3))));
    for (int i = 0; i < 6; i++)
        assert_true(lt_grad_get(x, i) == 2.0f * lt_get_f32(x, i));
    lt_ctx_free(ctx);
}

/* ---- accumulation, long inputs --------------------------------------------------------- */

static void test_gradients_accumulate(void **state)
{
    (void)state;
    /* backward adds into an existing gradient: two passes give twice one
     * pass, and an op whose input also feeds another op gets both terms */
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = random_input(ctx, LT_SHAPE(5), 500, 0.3, 2, false);
    lt_requires_grad(ctx, x, true);
    for (int op = 0; op < NOPS; op++) {
        float once[5];
        lt_zero_grad(x);
        for (int pass = 0; pass < 2; pass++) {
            lt_ctx_reset(ctx);
            assert_true(lt_backward_grad(ctx, apply(ctx, op, x, 1.5f), lt_full(ctx, LT_SHAPE(5), 0.5f)));
            for (int i = 0; pass == 0 && i < 5; i++)
                once[i] = lt_grad_get(x, i);
        }
        for (int i = 0; i < 5; i++)
            assert_float_equal(lt_grad_get(x, i), 2 * once[i], 0);
        /* y = op(x) + x: gradient once[i] / 0.5 (upstream 1) plus 1 */
        lt_ctx_reset(ctx);
        lt_zero_grad(x);
        assert_true(lt_backward_grad(ctx, lt_add(ctx, apply(ctx, op, x, 1.5f), x), lt_ones(ctx, LT_SHAPE(5))));
        for (int i = 0; i < 5; i++)
            assert_float_equal(lt_grad_get(x, i), 2 * once[i] + 1, 1e-6);
    }
    lt_ctx_free(ctx);
}

static double ref_value(int op, double x, double c)
{
    switch (op) {
    case NEG: return -x;
    case TANH: return tanh(x);
    case EXP: return exp(x);
    case LOG: return log(x);
    case RELU: return x > 0 ? x : 0;
    case SQRT: return sqrt(x);
    case RSQRT: return 1 / sqrt(x);
    case ABS: return fabs(x);
    case CLAMP: return x < CLAMP_LO ? CLAMP_LO : x > CLAMP_HI ? CLAMP_HI : x;
    default: return pow(x, c);
    }
}

static double ref_derivative(int op, double x, double c)
{
    switch (op) {
    case NEG: return -1;
    case TANH: return 1 - tanh(x) * tanh(x);
    case EXP: return exp(x);
    case LOG: return 1 / x;
    case RELU: return x > 0 ? 1 : 0;
    case SQRT: return 0.5 / sqrt(x);
    case RSQRT: return -0.5 / (x * sqrt(x));
    case ABS: return x > 0 ? 1 : -1;
    case CLAMP: return x >= CLAMP_LO && x <= CLAMP_HI ? 1 : 0;
    default: return c * pow(x, c - 1);
    }
}

static void test_long_inputs(void **state)
{
    (void)state;
    /* 1000 elements: longer than any internal block (pow works in blocks),
     * against double-precision references with a varying upstream gradient */
    const float exponents[] = {2, 3, 0.5f, -0.5f, -1, -2, 1.5f, 2.5f, 1};
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = random_input(ctx, LT_SHAPE(10, 100), 600, 0.2, 3, false);
    lt_tensor *up = random_input(ctx, LT_SHAPE(10, 100), 601, 0.5, 1, true);
    lt_requires_grad(ctx, x, true);
    for (int op = 0; op < NOPS; op++)
        for (size_t k = 0; k < (op == POW ? sizeof exponents / sizeof exponents[0] : 1); k++) {
            float c = op == POW ? exponents[k] : 0;
            char what[32];
            snprintf(what, sizeof what, "%s(c=%g)", NAME[op], (double)c);
            lt_ctx_reset(ctx);
            lt_zero_grad(x);
            lt_tensor *y = apply(ctx, op, x, c);
            assert_true(lt_backward_grad(ctx, y, up));
            for (int64_t i = 0; i < 1000; i++) {
                double xi = lt_get_f32(x, i);
                check(what, i, lt_get_f32(y, i), ref_value(op, xi, c), 1e-7, 1e-6);
                check(what, i, lt_grad_get(x, i), lt_get_f32(up, i) * ref_derivative(op, xi, c), 1e-6, 1e-5);
            }
        }
    lt_ctx_free(ctx);
}

/* ---- recording and errors ------------------------------------------------------------ */

static void test_recording(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = random_input(ctx, LT_SHAPE(2, 3), 400, 0.5, 1, false);
    for (int op = 0; op < NOPS; op++) {
        /* no input requires grad: nothing recorded */
        lt_tensor *y = apply(ctx, op, x, 2);
        assert_non_null(y);
        assert_false(y->requires_grad);
        assert_int_equal(lt_tape_size(ctx), 0);
    }
    lt_requires_grad(ctx, x, true);
    bool old = lt_set_grad_enabled(ctx, false);
    for (int op = 0; op < NOPS; op++)
        assert_false(apply(ctx, op, lt_transpose(ctx, x, 0, 1), 2)->requires_grad);
    assert_int_equal(lt_tape_size(ctx), 0);
    lt_set_grad_enabled(ctx, old);
    /* a contiguous input gives one node, a strided one a copy node too */
    for (int op = 0; op < NOPS; op++) {
        lt_ctx_reset(ctx);
        assert_true(apply(ctx, op, x, 2)->requires_grad);
        assert_int_equal(lt_tape_size(ctx), 1);
        assert_non_null(apply(ctx, op, lt_transpose(ctx, x, 0, 1), 2));
        assert_int_equal(lt_tape_size(ctx), 3);
    }
    lt_ctx_free(ctx);
}

static void test_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *f = lt_ones(ctx, LT_SHAPE(2));
    lt_tensor *i = lt_arange(ctx, 3);
    for (int op = 0; op < NOPS; op++) {
        assert_null(apply(NULL, op, f, 2)); /* no context: NULL, no crash */
        assert_null(apply(ctx, op, NULL, 2));
        ts_assert_error(ctx, LT_ERR_ARG, NAME[op], "argument 1 is NULL", NULL);
        assert_null(apply(ctx, op, i, 2));
        ts_assert_error(ctx, LT_ERR_DTYPE, NAME[op], "i32", NULL);
        /* sticky: the first error stays and every op returns NULL */
        assert_null(apply(ctx, op, i, 2));
        for (int other = 0; other < NOPS; other++)
            assert_null(apply(ctx, other, f, 2));
        ts_assert_error(ctx, LT_ERR_DTYPE, NAME[op], NULL);
        assert_non_null(apply(ctx, op, f, 2)); /* usable again */
    }
    lt_ctx_free(ctx);
}

/* A long relu splits across threads, forward and backward (written fresh
 * into a temporary's gradient, then added into the leaf's): each element
 * equals the definition, for 1 and 2 threads. */
static void test_relu_threads(void **state)
{
    (void)state;
    const int64_t n = 600001;
    for (int threads = 1; threads <= 2; threads++) {
        lt_ctx *ctx = lt_ctx_new();
        assert_true(lt_set_threads(ctx, threads));
        lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(n), 31, -1, 1), true);
        lt_tensor *up = ts_random(ctx, LT_SHAPE(n), 32, -1, 1);
        uint64_t jobs = lt_par_jobs(ctx);
        lt_tensor *y = lt_relu(ctx, lt_mul_scalar(ctx, x, 1.0f));
        assert_true((lt_par_jobs(ctx) > jobs) == (threads > 1));
        assert_true(lt_backward_grad(ctx, y, up));
        const float *xv = lt_data_f32(x), *yv = lt_data_f32(y), *dy = lt_data_f32(up), *dx = lt_grad_f32(x);
        float *want = malloc(sizeof(float) * 2 * (size_t)n), *dwant = want + n;
        assert_non_null(want);
        for (int64_t i = 0; i < n; i++) {
            want[i] = xv[i] < 0.0f ? 0.0f : xv[i];
            dwant[i] = 0.0f + (want[i] <= 0.0f ? 0.0f : dy[i]);
        }
        assert_memory_equal(yv, want, sizeof(float) * (size_t)n);
        assert_memory_equal(dx, dwant, sizeof(float) * (size_t)n);
        free(want);
        lt_ctx_free(ctx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_values),
        cmocka_unit_test(test_neg_values),
        cmocka_unit_test(test_tanh_large_inputs),
        cmocka_unit_test(test_exp_edges),
        cmocka_unit_test(test_log_edges),
        cmocka_unit_test(test_relu_edges),
        cmocka_unit_test(test_relu_threads),
        cmocka_unit_test(test_pow_exponents),
        cmocka_unit_test(test_sqrt_rsqrt_edges),
        cmocka_unit_test(test_abs_edges),
        cmocka_unit_test(test_clamp_golden),
        cmocka_unit_test(test_clamp_bounds),
        cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_noncontiguous_inputs),
        cmocka_unit_test(test_backward_uses_output),
        cmocka_unit_test(test_saved_tensors),
        cmocka_unit_test(test_chains),
        cmocka_unit_test(test_gradients_accumulate),
        cmocka_unit_test(test_long_inputs),
        cmocka_unit_test(test_recording),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
