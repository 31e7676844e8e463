#define _POSIX_C_SOURCE 200809L /* fmemopen, getpid */
/* test_support.c - see test_support.h. */
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ts_rand ts_rand_new(uint64_t seed) { return (ts_rand){seed * 0x9E3779B97F4A7C15ull + 1}; }

double ts_uniform(ts_rand *r, double lo, double hi)
{
    /* splitmix64: good enough for test inputs, independent of the library */
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return lo + (hi - lo) * (double)(z >> 11) / 9007199254740992.0;
}

lt_tensor *ts_random(lt_ctx *ctx, lt_shape shape, uint64_t seed, double lo, double hi)
{
    lt_tensor *t = lt_new(ctx, LT_F32, shape);
    assert_non_null(t);
    ts_rand r = ts_rand_new(seed);
    float *d = lt_data_f32(t);
    for (int64_t i = 0; i < lt_numel(t); i++)
        d[i] = (float)ts_uniform(&r, lo, hi);
    return t;
}

void ts_assert_near(const lt_tensor *t, const float *expected, int64_t n, double atol, double rtol)
{
    assert_non_null(t);
    assert_int_equal(lt_numel(t), n);
    for (int64_t i = 0; i < n; i++) {
        double got = lt_get_f32(t, i), want = expected[i];
        if (!(fabs(got - want) <= atol + rtol * fabs(want)))
            fail_msg("element %lld: got %.9g, expected %.9g (atol %g, rtol %g)", (long long)i, got, want, atol, rtol);
    }
}

void ts_assert_shape(const lt_tensor *t, lt_shape expected)
{
    assert_non_null(t);
    char a[96], b[96];
    if (!lt_shape_equal(lt_shape_of(t), expected))
        fail_msg("shape %s, expected %s", lt_shape_str(lt_shape_of(t), a, sizeof a),
                 lt_shape_str(expected, b, sizeof b));
}

lt_tensor *ts_tensor_in_layout(lt_ctx *ctx, lt_dtype dt, lt_shape s, const void *data, bool strided)
{
    lt_shape st = s;
    if (strided && s.ndim >= 2) {
        st.d[s.ndim - 2] = s.d[s.ndim - 1];
        st.d[s.ndim - 1] = s.d[s.ndim - 2];
    } else if (strided && s.ndim == 1) {
        st = LT_SHAPE(s.d[0], 2);
    }
    lt_tensor *base = lt_new(ctx, dt, strided ? st : s);
    assert_non_null(base);
    if (dt == LT_F32)
        assert_non_null(lt_requires_grad(ctx, base, true));
    lt_tensor *t = base;
    if (strided && s.ndim >= 2)
        t = lt_transpose(ctx, base, -2, -1);
    else if (strided && s.ndim == 1)
        t = lt_select(ctx, base, 1, 0);
    ts_assert_shape(t, s);
    for (int64_t i = 0; i < lt_numel(t); i++) {
        if (dt == LT_F32)
            lt_set_f32(t, i, ((const float *)data)[i]);
        else
            lt_set_i32(t, i, ((const int32_t *)data)[i]);
    }
    return t;
}

void ts_backward_with(lt_ctx *ctx, lt_tensor *y, const float *g)
{
    assert_non_null(y);
    lt_tensor *grad = lt_from_f32(ctx, lt_shape_of(y), g);
    if (!grad || !lt_backward_grad(ctx, y, grad))
        fail_msg("backward: %s", lt_error_message(ctx));
}

void ts_assert_value(const char *what, double got, double want, double atol, double rtol)
{
    bool ok = isnan(want) ? isnan(got) : isinf(want) ? got == want : fabs(got - want) <= atol + rtol * fabs(want);
    if (!ok)
        fail_msg("%s: got %.9g, expected %.9g (atol %g, rtol %g)", what, got, want, atol, rtol);
}

void ts_assert_tensors_near(const lt_tensor *a, const lt_tensor *b, double atol)
{
    assert_non_null(a);
    assert_non_null(b);
    ts_assert_shape(a, lt_shape_of(b));
    for (int64_t i = 0; i < lt_numel(a); i++) {
        double x = lt_get_f32(a, i), y = lt_get_f32(b, i);
        if (!(fabs(x - y) <= atol))
            fail_msg("element %lld: %.9g vs %.9g (atol %g)", (long long)i, x, y, atol);
    }
}

/* sum(out * R) in double, R from a fixed seed; grad mode off. */
static double weighted_loss(lt_ctx *ctx, ts_fn f, lt_tensor **inputs, void *user)
{
    lt_ctx_reset(ctx);
    bool old = lt_set_grad_enabled(ctx, false);
    lt_tensor *out = f(ctx, inputs, user);
    lt_set_grad_enabled(ctx, old);
    if (!out)
        fail_msg("gradcheck: forward failed: %s", lt_error_message(ctx));
    ts_rand r = ts_rand_new(12345);
    double s = 0;
    for (int64_t i = 0; i < lt_numel(out); i++)
        s += lt_get_f32(out, i) * ts_uniform(&r, -1, 1);
    return s;
}

static void analytic_grads(lt_ctx *ctx, ts_fn f, lt_tensor **inputs, int n_inputs, void *user)
{
    lt_ctx_reset(ctx);
    for (int j = 0; j < n_inputs; j++)
        lt_zero_grad(inputs[j]);
    lt_tensor *out = f(ctx, inputs, user);
    if (!out)
        fail_msg("gradcheck: forward failed: %s", lt_error_message(ctx));
    lt_tensor *w = lt_empty(ctx, LT_F32, lt_shape_of(out));
    assert_non_null(w);
    ts_rand r = ts_rand_new(12345);
    for (int64_t i = 0; i < lt_numel(out); i++)
        lt_set_f32(w, i, (float)ts_uniform(&r, -1, 1));
    if (!lt_backward_grad(ctx, out, w))
        fail_msg("gradcheck: backward failed: %s", lt_error_message(ctx));
}

void ts_gradcheck(ts_fn f, lt_tensor **inputs, int n_inputs, void *user, double eps, double atol, double rtol)
{
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    analytic_grads(ctx, f, inputs, n_inputs, user);
    int checked = 0;
    for (int j = 0; j < n_inputs; j++) {
        lt_tensor *x = inputs[j];
        if (!x->requires_grad)
            continue;
        for (int64_t i = 0; i < lt_numel(x); i++) {
            float orig = lt_get_f32(x, i);
            lt_set_f32(x, i, (float)(orig + eps));
            double up = weighted_loss(ctx, f, inputs, user);
            lt_set_f32(x, i, (float)(orig - eps));
            double down = weighted_loss(ctx, f, inputs, user);
            lt_set_f32(x, i, orig);
            double numeric = (up - down) / (2 * eps), analytic = lt_grad_get(x, i);
            if (!(fabs(analytic - numeric) <= atol + rtol * fabs(numeric)))
                fail_msg("gradcheck: input %d element %lld: analytic %.7g, numeric %.7g", j, (long long)i,
                         analytic, numeric);
            checked++;
        }
    }
    assert_true(checked > 0);
    lt_ctx_free(ctx);
}

void ts_check_saves(ts_fn f, lt_tensor *x, void *user, const char *op, bool reads_x, bool reads_y)
{
    lt_ctx *ctx = lt_ctx_new();
    int64_t n = lt_numel(x);
    float *orig = malloc(sizeof(float) * (size_t)(n ? n : 1)), *once = malloc(sizeof(float) * (size_t)(n ? n : 1));
    assert_true(ctx && orig && once);
    lt_copy_out_f32(x, orig);
    lt_zero_grad(x);
    lt_tensor *y = f(ctx, &x, user);
    assert_true(y && lt_backward_grad(ctx, y, lt_ones(ctx, lt_shape_of(y))));
    for (int64_t i = 0; i < n; i++)
        once[i] = lt_grad_get(x, i);
    for (int target = 0; target < 2; target++) { /* write x, then y */
        lt_ctx_reset(ctx);
        lt_zero_grad(x);
        assert_true(lt_assign(ctx, x, lt_from_f32(ctx, lt_shape_of(x), orig)));
        y = f(ctx, &x, user);
        assert_true(lt_fill(ctx, target ? y : x, 3.0f));
        bool ok = lt_backward_grad(ctx, y, lt_ones(ctx, lt_shape_of(y)));
        if (target ? reads_y : reads_x) {
            assert_false(ok);
            ts_assert_error(ctx, LT_ERR_GRAPH, op, target ? "'s output" : "'s input 1", "modified in place", NULL);
            continue;
        }
        if (!ok)
            fail_msg("%s: backward refused a write to its %s: %s", op, target ? "output" : "input",
                     lt_error_message(ctx));
        for (int64_t i = 0; i < n; i++)
            if (!(lt_grad_get(x, i) == once[i] || (isnan(once[i]) && isnan(lt_grad_get(x, i)))))
                fail_msg("%s: after a write to its %s, gradient element %lld is %g, was %g", op,
                         target ? "output" : "input", (long long)i, (double)lt_grad_get(x, i), (double)once[i]);
    }
    lt_ctx_reset(ctx);
    assert_true(lt_assign(ctx, x, lt_from_f32(ctx, lt_shape_of(x), orig)));
    lt_zero_grad(x);
    free(orig);
    free(once);
    lt_ctx_free(ctx);
}

void ts_assert_error(lt_ctx *ctx, lt_status status, ...)
{
    assert_non_null(ctx);
    const char *msg = lt_error_message(ctx);
    if (lt_status_of(ctx) != status)
        fail_msg("expected status '%s', got '%s' (message: \"%s\")", lt_status_name(status),
                 lt_status_name(lt_status_of(ctx)), msg);
    va_list ap;
    va_start(ap, status);
    for (const char *want; (want = va_arg(ap, const char *)) != NULL;)
        if (!strstr(msg, want)) {
            va_end(ap);
            fail_msg("error message \"%s\" does not contain \"%s\"", msg, want);
        }
    va_end(ap);
    lt_clear_error(ctx);
}

const char *ts_temp_file(int slot, const char *text)
{
    static char paths[4][64];
    snprintf(paths[slot & 3], sizeof paths[0], "/tmp/lt_test_%d_%d.txt", (int)getpid(), slot & 3);
    FILE *f = fopen(paths[slot & 3], "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return paths[slot & 3];
}
