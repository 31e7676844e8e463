/* test_vmath.c - the vectorised tanh/exp kernels (lib/kernels/vmath.h) on every
 * instruction-set path the machine has (forced with lt_cpu_force_isa):
 * errors in ulps against double-precision libm over sweeps of the float
 * range, exact edge values, lengths with tails, in-place use, no writes
 * outside [0, n), the fused exp(x - shift) + sum used by softmax and
 * cross-entropy, the tanh-form gelu and its gradient (the bits of the
 * scalar expressions around the path's tanh), and relu and its gradient.
 *
 * LT_VMATH_EXHAUSTIVE=1 in the environment widens the sweep to every one of
 * the 2^32 float bit patterns (minutes per path; prints the maximum errors
 * quoted in vmath.h). */
#include "test_support.h"
#include "ts_isa.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/vmath.h"

/* ======================================================================== */
/* ulp error against a double reference                                      */
/* ======================================================================== */

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* |got - ref| in units of the float ulp at ref (2^-149 below 2^-126). A NaN
 * must match a NaN. When ref rounds to +-inf in float, got must be that inf;
 * otherwise an infinite got counts as +-2^128 (one ulp above FLT_MAX). */
static double ulp_error(float got, double ref)
{
    if (isnan(ref) || isnan(got))
        return isnan(ref) && isnan(got) ? 0 : INFINITY;
    if (isinf((float)ref))
        return got == (float)ref ? 0 : INFINITY;
    double g = isinf(got) ? copysign(0x1p128, got) : got;
    double a = fabs(ref);
    int e;
    frexp(a, &e); /* a in [2^(e-1), 2^e) */
    double ulp = a < 0x1p-126 ? 0x1p-149 : ldexp(1.0, e - 24);
    return fabs(g - ref) / ulp;
}

typedef void (*vfn)(float *y, const float *x, int64_t n);
typedef double (*reffn)(double);

typedef struct {
    double max_ulp;
    float worst_x;
    long long count;
} sweep_stats;

#define CHUNK 4096

/* Runs f over the bit patterns lo, lo + step, ... <= hi (a chunk at a time)
 * and folds the errors into st. */
static void sweep_bits(vfn f, reffn ref, uint32_t lo, uint32_t hi, uint32_t step, sweep_stats *st)
{
    static float x[CHUNK], y[CHUNK];
    uint64_t b = lo;
    while (b <= hi) {
        int m = 0;
        for (; m < CHUNK && b <= hi; m++, b += step)
            x[m] = float_of((uint32_t)b);
        f(y, x, m);
        for (int i = 0; i < m; i++) {
            double e = ulp_error(y[i], ref((double)x[i]));
            if (e > st->max_ulp || (isnan(e) && !isnan(st->max_ulp))) {
                st->max_ulp = e;
                st->worst_x = x[i];
            }
        }
        st->count += m;
    }
}

/* Both signs of the magnitudes [lo, hi]. */
static void sweep_range(vfn f, reffn ref, float lo, float hi, uint32_t step, sweep_stats *st)
{
    sweep_bits(f, ref, bits_of(lo), bits_of(hi), step, st);
    sweep_bits(f, ref, bits_of(-lo), bits_of(-hi), step, st);
}

static bool exhaustive(void)
{
    const char *s = getenv("LT_VMATH_EXHAUSTIVE");
    return s && *s && strcmp(s, "0") != 0;
}

/* The sweep shared by tanh and exp: a sample of every bit pattern (NaNs,
 * infinities, denormals included), every float in the regions where the
 * algorithms switch or saturate, and a dense sample of [-10, 10]. */
static sweep_stats sweep_all(vfn f, reffn ref, float edge_lo, float edge_hi)
{
    sweep_stats st = {0, 0, 0};
    if (exhaustive()) {
        sweep_bits(f, ref, 0, UINT32_MAX, 1, &st);
        return st;
    }
    sweep_bits(f, ref, 0, UINT32_MAX, 4093, &st);      /* 1.05M patterns of the whole range */
    sweep_range(f, ref, 0x1p-20f, 10.0f, 251, &st);     /* 1.55M in 2^-20 <= |x| <= 10 */
    sweep_range(f, ref, edge_lo, edge_hi, 1, &st);      /* every float of the edge region (4-5M) */
    sweep_range(f, ref, 0.0f, FLT_MIN, 4099, &st);      /* 4K denormals */
    sweep_range(f, ref, 0x1p-40f, 0x1p-10f, 1021, &st); /* 490K tiny */
    sweep_range(f, ref, 0.5f, 1.5f, 7, &st);            /* 3.6M around tanh's switch at 1 */
    sweep_range(f, ref, 1e4f, 1.001e4f, 1, &st);        /* 20K large magnitudes */
    return st;
}


static void report(const char *fn, lt_isa isa, sweep_stats st)
{
    printf("# %-6s %-7s max %.3f ulp at %a (%lld inputs)\n", fn, lt_isa_name(isa), st.max_ulp, (double)st.worst_x,
           st.count);
}

static void test_tanh_ulp(void **state)
{
    (void)state;
    FOR_EACH_ISA(isa)
    {
        /* every float where tanh saturates to 1 */
        sweep_stats st = sweep_all(lt_vtanh, tanh, 8.0f, 10.0f);
        report("tanh", isa, st);
        if (!(st.max_ulp <= LT_VTANH_MAX_ULP))
            fail_msg("tanh %s: %.3f ulp at %a exceeds %.2f", lt_isa_name(isa), st.max_ulp, (double)st.worst_x,
                     LT_VTANH_MAX_ULP);
    }
}

static void test_exp_ulp(void **state)
{
    (void)state;
    FOR_EACH_ISA(isa)
    {
        /* every float around overflow and in the denormal results */
        sweep_stats st = sweep_all(lt_vexp, exp, 86.0f, 105.0f);
        report("exp", isa, st);
        if (!(st.max_ulp <= LT_VEXP_MAX_ULP))
            fail_msg("exp %s: %.3f ulp at %a exceeds %.2f", lt_isa_name(isa), st.max_ulp, (double)st.worst_x,
                     LT_VEXP_MAX_ULP);
    }
}

/* ======================================================================== */
/* exact edge values                                                          */
/* ======================================================================== */

static float one(vfn f, float x)
{
    float y;
    f(&y, &x, 1);
    return y;
}

static void assert_same(float got, float want, const char *what, lt_isa isa)
{
    if (!(bits_of(got) == bits_of(want) || (isnan(got) && isnan(want))))
        fail_msg("%s (%s): got %a, want %a", what, lt_isa_name(isa), (double)got, (double)want);
}

static void test_tanh_edges(void **state)
{
    (void)state;
    FOR_EACH_ISA(isa)
    {
        assert_same(one(lt_vtanh, 0.0f), 0.0f, "tanh(0)", isa);
        assert_same(one(lt_vtanh, -0.0f), -0.0f, "tanh(-0)", isa);
        assert_same(one(lt_vtanh, INFINITY), 1.0f, "tanh(inf)", isa);
        assert_same(one(lt_vtanh, -INFINITY), -1.0f, "tanh(-inf)", isa);
        assert_same(one(lt_vtanh, NAN), NAN, "tanh(NaN)", isa);
        assert_same(one(lt_vtanh, -NAN), NAN, "tanh(-NaN)", isa);
        assert_same(one(lt_vtanh, FLT_MAX), 1.0f, "tanh(FLT_MAX)", isa);
        assert_same(one(lt_vtanh, -1e4f), -1.0f, "tanh(-1e4)", isa);
        assert_same(one(lt_vtanh, 9.1f), 1.0f, "tanh(9.1)", isa);
        assert_same(one(lt_vtanh, -9.0f), -0x1.fffffep-1f, "tanh(-9)", isa); /* not yet 1 */
        assert_same(one(lt_vtanh, 0x1p-149f), 0x1p-149f, "tanh(min denormal)", isa);
        assert_same(one(lt_vtanh, -0x1p-130f), -0x1p-130f, "tanh(-denormal)", isa);
        assert_same(one(lt_vtanh, 1e-20f), 1e-20f, "tanh(1e-20)", isa);
    }
}

static void test_exp_edges(void **state)
{
    (void)state;
    FOR_EACH_ISA(isa)
    {
        assert_same(one(lt_vexp, 0.0f), 1.0f, "exp(0)", isa);
        assert_same(one(lt_vexp, -0.0f), 1.0f, "exp(-0)", isa);
        assert_same(one(lt_vexp, INFINITY), INFINITY, "exp(inf)", isa);
        assert_same(one(lt_vexp, -INFINITY), 0.0f, "exp(-inf)", isa);
        assert_same(one(lt_vexp, NAN), NAN, "exp(NaN)", isa);
        assert_same(one(lt_vexp, 88.73f), INFINITY, "exp(88.73)", isa);
        assert_same(one(lt_vexp, 1e4f), INFINITY, "exp(1e4)", isa);
        assert_same(one(lt_vexp, FLT_MAX), INFINITY, "exp(FLT_MAX)", isa);
        assert_same(one(lt_vexp, -1e4f), 0.0f, "exp(-1e4)", isa);
        assert_same(one(lt_vexp, -FLT_MAX), 0.0f, "exp(-FLT_MAX)", isa);
        assert_same(one(lt_vexp, -104.0f), 0.0f, "exp(-104)", isa);
        assert_same(one(lt_vexp, 0x1p-149f), 1.0f, "exp(min denormal)", isa);
        /* largest finite result and the smallest denormal one */
        float top = one(lt_vexp, 88.72283f);
        assert_true(isfinite(top) && ulp_error(top, exp((double)88.72283f)) <= LT_VEXP_MAX_ULP);
        assert_same(one(lt_vexp, -103.9f), 0x1p-149f, "exp(-103.9)", isa);
        float d = one(lt_vexp, -100.0f); /* 3.72e-44: 26.6 denormal ulps */
        assert_true(fabs(d - exp(-100.0)) <= 0x1p-149);
        float u = one(lt_vexp, 88.0f);
        assert_true(ulp_error(u, exp(88.0)) <= LT_VEXP_MAX_ULP);
    }
}

/* ======================================================================== */
/* lengths, tails, alignment, in place                                        */
/* ======================================================================== */

#define PAD 8
#define CANARY 12345.0f

/* Compares f over n inputs at offset off (so vectors start unaligned) with the
 * same inputs computed one at a time, out of place and in place, and checks
 * that the cells around the output are untouched. */
static void check_length(vfn f, lt_isa isa, int64_t n, int64_t off)
{
    int64_t size = n + off + 2 * PAD;
    float *x = malloc(sizeof(float) * (size_t)size), *y = malloc(sizeof(float) * (size_t)size);
    assert_non_null(x);
    assert_non_null(y);
    ts_rand r = ts_rand_new((uint64_t)(n * 31 + off));
    for (int64_t i = 0; i < size; i++) {
        x[i] = (float)ts_uniform(&r, -12, 12);
        y[i] = CANARY;
    }
    float *xi = x + PAD + off, *yi = y + PAD + off;
    f(yi, xi, n);
    for (int64_t i = 0; i < size; i++) {
        if (y + i >= yi && y + i < yi + n) {
            float want = one(f, xi[i - PAD - off]);
            if (bits_of(y[i]) != bits_of(want))
                fail_msg("%s n=%lld off=%lld: element %lld is %a, alone %a", lt_isa_name(isa), (long long)n,
                         (long long)off, (long long)(i - PAD - off), (double)y[i], (double)want);
        } else if (y[i] != CANARY) {
            fail_msg("%s n=%lld off=%lld: wrote outside the output at %lld", lt_isa_name(isa), (long long)n,
                     (long long)off, (long long)(i - PAD - off));
        }
    }
    /* in place: same bits; the input's own neighbours untouched */
    float xl = xi[-1], xr = xi[n];
    f(xi, xi, n);
    for (int64_t i = 0; i < n; i++)
        assert_true(bits_of(xi[i]) == bits_of(yi[i]));
    assert_true(bits_of(xi[-1]) == bits_of(xl) && bits_of(xi[n]) == bits_of(xr));
    free(x);
    free(y);
}

static void test_lengths_and_in_place(void **state)
{
    (void)state;
    static const int64_t lengths[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 27, 31, 32, 33, 63, 64, 65, 100, 200, 1000};
    FOR_EACH_ISA(isa)
    {
        for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++)
            for (int64_t off = 0; off < 3; off++) {
                check_length(lt_vtanh, isa, lengths[k], off);
                check_length(lt_vexp, isa, lengths[k], off);
            }
    }
}

/* ======================================================================== */
/* exp(x - shift) with its sum                                                */
/* ======================================================================== */

/* Rows like the model's logits (27 classes) and longer ones, against double:
 * each y within the exp bound of exp(x - shift) computed exactly, the sum
 * within 1e-13 relative of the sum of the y (the order differs), and the same sum with y NULL. */
static void test_shift_sum_values(void **state)
{
    (void)state;
    static const int64_t lengths[] = {0, 1, 5, 16, 27, 33, 200};
    static const double shifts[] = {0.0, 3.25, -7.0, 1.0 / 3.0, 20000.5, -40000.0, 12345.678, 70000.3};
    FOR_EACH_ISA(isa)
    {
        double max_ulp = 0;
        for (size_t a = 0; a < sizeof lengths / sizeof lengths[0]; a++)
            for (size_t b = 0; b < sizeof shifts / sizeof shifts[0]; b++) {
                int64_t n = lengths[a];
                double shift = shifts[b];
                float x[200], y[200 + 1];
                ts_rand r = ts_rand_new((uint64_t)(a * 10 + b));
                for (int64_t i = 0; i < n; i++) /* some far below the shift: underflow */
                    x[i] = (float)(shift + ts_uniform(&r, -120, 5));
                y[n] = CANARY;
                double s = lt_vexp_shift_sum(y, x, shift, n);
                double want_sum = 0;
                for (int64_t i = 0; i < n; i++) {
                    double e = ulp_error(y[i], exp((double)x[i] - shift));
                    max_ulp = e > max_ulp ? e : max_ulp;
                    want_sum += y[i];
                }
                assert_true(y[n] == CANARY);
                assert_true(fabs(s - want_sum) <= 1e-13 * want_sum); /* summation order */
                assert_true(lt_vexp_shift_sum(NULL, x, shift, n) == s);
            }
        printf("# shift_sum %-7s max %.3f ulp\n", lt_isa_name(isa), max_ulp);
        if (!(max_ulp <= LT_VEXP_MAX_ULP))
            fail_msg("exp(x - shift) %s: %.3f ulp exceeds %.2f", lt_isa_name(isa), max_ulp, LT_VEXP_MAX_ULP);
    }
}

/* The rounding error of x - shift in float is not lost: with x = 8 and
 * shift = 2^-20, float subtraction gives 8 exactly but the result must be
 * e^(8 - 2^-20), 1.09 ulps below e^8. */
static void test_shift_sum_exact_difference(void **state)
{
    (void)state;
    FOR_EACH_ISA(isa)
    {
        float x = 8.0f, y;
        lt_vexp_shift_sum(&y, &x, 0x1p-20, 1);
        assert_true(ulp_error(y, exp(8.0 - 0x1p-20)) <= LT_VEXP_MAX_ULP);
        assert_true(y != (float)exp(8.0));
        /* a double shift with bits below float precision */
        x = 5.0f;
        double shift = 4.0 + 0x1p-30;
        lt_vexp_shift_sum(&y, &x, shift, 1);
        assert_true(ulp_error(y, exp(5.0 - shift)) <= LT_VEXP_MAX_ULP);
    }
}

static void test_shift_sum_edges(void **state)
{
    (void)state;
    FOR_EACH_ISA(isa)
    {
        /* -inf entries (masked logits) contribute exactly 0 */
        float x[4] = {-INFINITY, 0.0f, -INFINITY, -1.0f}, y[4];
        double s = lt_vexp_shift_sum(y, x, 0.0, 4);
        assert_same(y[0], 0.0f, "exp(-inf - 0)", isa);
        assert_same(y[2], 0.0f, "exp(-inf - 0)", isa);
        assert_same(y[1], 1.0f, "exp(0 - 0)", isa);
        assert_true(fabs(s - (1.0 + exp(-1.0))) < 1e-7);
        /* a row of -inf shifted by its maximum -inf: NaN, as in libm */
        float z[3] = {-INFINITY, -INFINITY, -INFINITY};
        assert_true(isnan(lt_vexp_shift_sum(y, z, -INFINITY, 3)));
        assert_true(isnan(y[0]));
        /* an infinite shift gives 0 for finite x; NaN propagates */
        assert_true(lt_vexp_shift_sum(y, x + 1, INFINITY, 1) == 0.0 && y[0] == 0.0f);
        assert_true(isnan(lt_vexp_shift_sum(y, x + 1, NAN, 1)) && isnan(y[0]));
        float w[2] = {NAN, 1.0f};
        assert_true(isnan(lt_vexp_shift_sum(y, w, 0.0, 2)) && isnan(y[0]));
        /* overflow of x - shift > 88.72 is +inf */
        float big[2] = {100.0f, 0.0f};
        assert_true(isinf(lt_vexp_shift_sum(y, big, 0.0, 2)) && isinf(y[0]) && y[1] == 1.0f);
        /* shifts beyond 2^16 (libm fallback) still exact enough */
        float h[2] = {1e6f, 1e6f - 3.0f};
        s = lt_vexp_shift_sum(y, h, 1e6 + 0.125, 2);
        assert_true(ulp_error(y[0], exp(-0.125)) <= LT_VEXP_MAX_ULP);
        assert_true(ulp_error(y[1], exp(-3.125)) <= LT_VEXP_MAX_ULP);
        assert_true(fabs(s - (double)y[0] - (double)y[1]) < 1e-15);
    }
}

/* lt_cpu_force_isa reaches the kernels: the FMA paths round differently from
 * the portable one somewhere in a sweep, so a path that silently fell back
 * to generic would be caught. */
static void test_paths_are_distinct(void **state)
{
    (void)state;
    enum { N = 20000 };
    static float x[N], y0[N], y1[N];
    for (int i = 0; i < N; i++)
        x[i] = -10.0f + 20.0f * (float)i / N;
    lt_cpu_force_isa(LT_ISA_GENERIC);
    assert_int_equal(lt_cpu_isa(), LT_ISA_GENERIC);
    lt_vtanh(y0, x, N);
    for (lt_isa isa = LT_ISA_AVX2; isa <= lt_cpu_isa_supported(); isa = (lt_isa)(isa + 1)) {
        lt_cpu_force_isa(isa);
        lt_vtanh(y1, x, N);
        int diff = 0;
        for (int i = 0; i < N; i++)
            diff += bits_of(y0[i]) != bits_of(y1[i]);
        printf("# tanh %s differs from generic in %d of %d results\n", lt_isa_name(isa), diff, N);
        assert_true(diff > 0); /* FMA rounds differently: the path really ran */
    }
    lt_cpu_force_isa(lt_cpu_isa_supported());
}

/* lt_vtanh_grad: dy * (1 - y^2) written or added, with the bits of the
 * plain C expression (no FMA) on every path, for lengths with vector tails,
 * nothing written past n. */
static void test_tanh_grad_bits(void **state)
{
    (void)state;
    enum { M = 70 };
    float y[M], dy[M], dx0[M], dx[M];
    for (int i = 0; i < M; i++) {
        y[i] = (float)sin(0.37 * i) * 0.999f;
        dy[i] = (float)cos(1.3 * i) * 3.1f;
        dx0[i] = (float)(i - 35) / 7.0f;
    }
    FOR_EACH_ISA(isa)
    for (int accumulate = 0; accumulate < 2; accumulate++)
        for (int n = 0; n <= M; n++) {
            memcpy(dx, dx0, sizeof dx);
            lt_vtanh_grad(dx, y, dy, n, accumulate);
            for (int i = 0; i < M; i++) {
                volatile float t = y[i] * y[i]; /* volatile: no contraction in the reference */
                volatile float g = dy[i] * (1.0f - t);
                float want = i >= n ? dx0[i] : accumulate ? dx0[i] + g : g;
                if (bits_of(dx[i]) != bits_of(want)) {
                    printf("# %s n=%d acc=%d element %d: %a, want %a\n", lt_isa_name(isa), n, accumulate, i,
                           (double)dx[i], (double)want);
                    fail();
                }
            }
        }
}

/* ======================================================================== */
/* gelu, tanh form                                                            */
/* ======================================================================== */

#define GELU_BETA 0.7978845608028654f
#define GELU_KAPPA 0.044715f

/* Inputs for the gelu tests: a sweep of [-12, 12] (both tanh branches and
 * saturation) with the edge values spread through it, so that vector tails
 * meet them too. */
enum { GELU_N = 4099 };

static void gelu_inputs(float *x)
{
    static const float edges[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-30f, -1e-30f, 0x1p-149f, 1e20f, -1e20f,
                                  3e12f, -3e12f, FLT_MAX, -FLT_MAX, 1.0f, -1.0f};
    for (int i = 0; i < GELU_N; i++)
        x[i] = -12.0f + 24.0f * (float)i / GELU_N;
    for (size_t k = 0; k < sizeof edges / sizeof edges[0]; k++)
        x[(int)k * 37 % GELU_N] = edges[k];
}

/* What main computed before lt_vgelu_tanh: the scalar inner argument, the
 * path's lt_vtanh over the array, the scalar result (volatile: no
 * contraction in the reference). */
static void gelu_reference(float *y, float *t, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        volatile float x3 = x[i] * x[i] * x[i];
        volatile float k = GELU_KAPPA * x3;
        t[i] = GELU_BETA * (x[i] + k);
    }
    lt_vtanh(t, t, n);
    for (int64_t i = 0; i < n; i++) {
        volatile float half = 0.5f * x[i];
        y[i] = half * (1.0f + t[i]);
    }
}

static void assert_same_bits(const char *what, lt_isa isa, int64_t n, const float *got, const float *want,
                             int64_t count)
{
    for (int64_t i = 0; i < count; i++)
        if (bits_of(got[i]) != bits_of(want[i])) {
            printf("# gelu %s %s n=%lld element %lld: %a, want %a\n", what, lt_isa_name(isa), (long long)n,
                   (long long)i, (double)got[i], (double)want[i]);
            fail();
        }
}

/* lt_vgelu_tanh on every path: y and the saved tanh with the bits of the
 * composition above on that path (the same tanh, no FMA elsewhere), with t
 * or without, for every length with vector tails up to 70 and the whole
 * sweep; nothing written outside [0, n). */
static void test_gelu_tanh_bits(void **state)
{
    (void)state;
    const uint32_t SENTINEL = 0x7fc01234; /* a NaN no computation makes */
    static float x[GELU_N], y_ref[GELU_N], t_ref[GELU_N], yb[GELU_N + 2 * PAD], tb[GELU_N + 2 * PAD];
    gelu_inputs(x);
    float *y = yb + PAD, *t = tb + PAD;
    FOR_EACH_ISA(isa)
    {
        gelu_reference(y_ref, t_ref, x, GELU_N);
        for (int64_t n = 0; n <= GELU_N; n = n < 70 ? n + 1 : n == 70 ? GELU_N : n + 1)
            for (int with_t = 0; with_t < 2; with_t++) {
                for (int i = 0; i < GELU_N + 2 * PAD; i++)
                    yb[i] = tb[i] = float_of(SENTINEL);
                lt_vgelu_tanh(y, with_t ? t : NULL, x, n);
                assert_same_bits("y", isa, n, y, y_ref, n);
                if (with_t)
                    assert_same_bits("t", isa, n, t, t_ref, n);
                for (int64_t i = -PAD; i < GELU_N + PAD; i++) {
                    assert_true(i < n || bits_of(y[i]) == SENTINEL);
                    assert_true((with_t && i >= 0 && i < n) || bits_of(t[i]) == SENTINEL);
                }
            }
    }
}

/* lt_vgelu_tanh_grad on every path: dy * slope written or added, with the
 * bits of the scalar expression in PyTorch's order (no FMA), from the t the
 * forward saved, for every length with vector tails; nothing written past n. */
static void test_gelu_tanh_grad_bits(void **state)
{
    (void)state;
    enum { M = 70 };
    static float x[GELU_N], y[GELU_N], t[GELU_N];
    float dy[M], dx0[M], dx[M];
    gelu_inputs(x);
    for (int i = 0; i < M; i++) {
        dy[i] = (float)cos(1.3 * i) * 3.1f;
        dx0[i] = (float)(i - 35) / 7.0f;
    }
    FOR_EACH_ISA(isa)
    {
        lt_vgelu_tanh(y, t, x, GELU_N);
        for (int accumulate = 0; accumulate < 2; accumulate++)
            for (int off = 0; off < 3; off++) /* where the vectors start in the sweep */
                for (int n = 0; n <= M; n++) {
                    const float *xs = x + off * 1300, *ts = t + off * 1300;
                    memcpy(dx, dx0, sizeof dx);
                    lt_vgelu_tanh_grad(dx, xs, ts, dy, n, accumulate);
                    for (int i = 0; i < M; i++) {
                        volatile float left = 0.5f * xs[i], right = 1.0f + ts[i];
                        volatile float x2 = xs[i] * xs[i], k = 3.0f * GELU_KAPPA * x2;
                        volatile float slope_in = GELU_BETA * (1.0f + k);
                        volatile float t2 = ts[i] * ts[i], a = left * (1.0f - t2), b = a * slope_in;
                        volatile float h = 0.5f * right, slope = h + b, g = dy[i] * slope;
                        float want = i >= n ? dx0[i] : accumulate ? dx0[i] + g : g;
                        if (bits_of(dx[i]) != bits_of(want)) {
                            printf("# %s n=%d acc=%d element %d: %a, want %a\n", lt_isa_name(isa), n, accumulate, i,
                                   (double)dx[i], (double)want);
                            fail();
                        }
                    }
                }
    }
}

/* ======================================================================== */
/* relu                                                                       */
/* ======================================================================== */

/* Inputs with every case of the selects: signs, zeros of both signs, NaN
 * (with a payload, which must pass through unchanged) and infinities. */
static float relu_input(int i)
{
    static const float edges[] = {0.0f, -0.0f, INFINITY, -INFINITY, 1e-45f, -1e-45f};
    if (i % 11 == 3)
        return float_of(0x7fc0abcdu + (uint32_t)(i & 1) * 0x80000000u); /* +-NaN */
    return i % 7 == 2 ? edges[i % 6] : (float)sin(0.9 * i) * 5.0f;
}

/* lt_vrelu and lt_vrelu_grad on every path: the bits of the scalar
 * expressions (NaN passes, -0 stays -0 forward, dx + 0 turns a -0 into +0),
 * for every length with vector tails, in place, nothing written past n. */
static void test_relu_bits(void **state)
{
    (void)state;
    enum { M = 70 };
    float x[M], y[M], yi[M], dy[M], dx0[M], dx[M];
    for (int i = 0; i < M; i++) {
        x[i] = relu_input(i);
        dy[i] = (float)cos(1.3 * i) * 3.1f;
        dx0[i] = i % 5 == 1 ? -0.0f : (float)(i - 35) / 7.0f;
    }
    FOR_EACH_ISA(isa)
    for (int n = 0; n <= M; n++) {
        memcpy(y, dx0, sizeof y);
        lt_vrelu(y, x, n);
        memcpy(yi, x, sizeof yi);
        lt_vrelu(yi, yi, n);
        for (int i = 0; i < M; i++) {
            float want = i >= n ? dx0[i] : x[i] < 0.0f ? 0.0f : x[i];
            assert_true(bits_of(y[i]) == bits_of(want));
            assert_true(bits_of(yi[i]) == bits_of(i >= n ? x[i] : want));
        }
        for (int accumulate = 0; accumulate < 2; accumulate++) {
            memcpy(dx, dx0, sizeof dx);
            lt_vrelu_grad(dx, x, dy, n, accumulate); /* x as the output: every case of y */
            for (int i = 0; i < M; i++) {
                volatile float g = x[i] <= 0.0f ? 0.0f : dy[i];
                float want = i >= n ? dx0[i] : accumulate ? dx0[i] + g : g;
                if (bits_of(dx[i]) != bits_of(want)) {
                    printf("# relu grad %s n=%d acc=%d element %d: %a, want %a\n", lt_isa_name(isa), n, accumulate,
                           i, (double)dx[i], (double)want);
                    fail();
                }
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_tanh_edges, ts_restore_isa),
        cmocka_unit_test_teardown(test_exp_edges, ts_restore_isa),
        cmocka_unit_test_teardown(test_lengths_and_in_place, ts_restore_isa),
        cmocka_unit_test_teardown(test_shift_sum_values, ts_restore_isa),
        cmocka_unit_test_teardown(test_shift_sum_exact_difference, ts_restore_isa),
        cmocka_unit_test_teardown(test_shift_sum_edges, ts_restore_isa),
        cmocka_unit_test_teardown(test_paths_are_distinct, ts_restore_isa),
        cmocka_unit_test_teardown(test_tanh_grad_bits, ts_restore_isa),
        cmocka_unit_test_teardown(test_gelu_tanh_bits, ts_restore_isa),
        cmocka_unit_test_teardown(test_gelu_tanh_grad_bits, ts_restore_isa),
        cmocka_unit_test_teardown(test_relu_bits, ts_restore_isa),
        cmocka_unit_test_teardown(test_tanh_ulp, ts_restore_isa),
        cmocka_unit_test_teardown(test_exp_ulp, ts_restore_isa),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
