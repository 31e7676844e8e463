/* vmath.c - vectorised tanh, exp, tanh-form GELU and relu (see vmath.h for
 * the algorithms and the error bounds).
 *
 * The portable path is written as branch-free scalar code over small blocks
 * so that gcc vectorises it with whatever the baseline target offers (SSE2 on
 * x86-64); it never relies on fused multiply-add. The AVX2 and AVX-512 paths
 * are the same computations written with intrinsics (using FMA, which only
 * makes them slightly more accurate); they are compiled with target
 * attributes, so the library needs no -march flags. */
#include "kernels/vmath.h"

#include "kernels/cpu.h"

#include <math.h>
#include <string.h>

/* ---- constants shared by every path -------------------------------------- */

#define LOG2E 0x1.715476p+0f
/* ln2 = LN2_HI + LN2_LO; LN2_HI has 16 significant bits, so n * LN2_HI is
 * exact for |n| < 256 and x - n * LN2_HI is exact near x = n ln2. */
#define LN2_HI 0x1.62e4p-1f
#define LN2_LO 0x1.7f7d1cp-20f
/* Adding and subtracting 1.5 * 2^23 rounds a float of magnitude < 2^22 to the
 * nearest integer (ties to even) without a conversion instruction. */
#define ROUND_SHIFT 0x1.8p23f

/* exp(r) ~ 1 + r + r^2 (E2 + E3 r + ... + E7 r^5) on |r| <= ln2/2; minimax for
 * relative error (Remez), approximation error 2^-34. */
#define E2 0x1p-1f
#define E3 0x1.555554p-3f
#define E4 0x1.55548ep-5f
#define E5 0x1.11127p-7f
#define E6 0x1.6d8cf4p-10f
#define E7 0x1.9f08a4p-13f

/* exp's argument range: exp(89) overflows and exp(-104) < 2^-150 rounds to 0,
 * so clamping to [EXP_LO, EXP_HI] changes no result and keeps n in
 * [-150, 129]. Below EXP_LO the result is set to 0 directly rather than
 * computed from the clamped argument: that computation rounds into the
 * denormal range, which costs Intel cores a microcode assist per vector
 * (exp(-inf), the masked entries of a causal softmax, measured 40x slower
 * than exp(-1)); the results are the same. */
#define EXP_LO -104.0f
#define EXP_HI 89.0f

/* tanh(x) ~ x + x^3 (T0 + T1 x^2 + ... + T7 x^14) for |x| < TANH_SMALL;
 * minimax for relative error, approximation error 2^-31. Above it,
 * 1 - 2e/(1 + e) with e = exp(-2|x|) <= 0.14: the quotient is small, so its
 * rounding errors are scaled down, and there is no cancellation
 * (tanh >= 0.76). Measured without FMA, the polynomial stays within 1.13 ulp
 * and the quotient form within 1.03 ulp. */
#define TANH_SMALL 1.0f
#define T0 -0x1.555552p-2f
#define T1 0x1.11105ep-3f
#define T2 -0x1.b9fbdap-5f
#define T3 0x1.64ebcap-6f
#define T4 -0x1.19a50ep-7f
#define T5 0x1.938484p-9f
#define T6 -0x1.b8ff9cp-11f
#define T7 0x1.fd7c5ep-14f
/* tanh needs exp(-2|x|) only down to -40: 1 - 2e/(1 + e) rounds to exactly
 * 1 once 2e < 2^-25 (|x| > 9.01), so the argument is clamped there and e is
 * always a normal number (one scaling step). */
#define TANH_EXP_LO -40.0f

/* ---- portable path ---------------------------------------------------------- */

static inline uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* 2^k for k in [-126, 127], k held modulo 2^32 (no signed overflow even for
 * the meaningless k computed from a NaN). */
static inline float pow2i(uint32_t k) { return float_of((k + 127u) << 23); }

/* Bitwise c ? a : b. Plain ?: on floats next to a division or a conversion
 * stops gcc from vectorising (it may trap, so it is kept conditional); a
 * select on the bits does not. */
static inline float select_f(int c, float a, float b)
{
    uint32_t m = 0u - (uint32_t)c;
    return float_of((bits_of(a) & m) | (bits_of(b) & ~m));
}

/* Rounds x * log2(e) to the integer *k and returns e^r, r = x - k ln2 + corr
 * (corr is a tiny correction to the argument, 0 for plain exp). |x| < 2^21:
 * the sum with ROUND_SHIFT has an ulp of 1, and its low bits are k. */
static inline float exp_reduce(float x, float corr, uint32_t *k)
{
    float z = x * LOG2E + ROUND_SHIFT;
    float n = z - ROUND_SHIFT;
    float r = (x - n * LN2_HI) - n * LN2_LO + corr;
    float q = E7;
    q = q * r + E6;
    q = q * r + E5;
    q = q * r + E4;
    q = q * r + E3;
    q = q * r + E2;
    *k = bits_of(z) - bits_of(ROUND_SHIFT);
    return 1.0f + (r + (r * r) * q);
}

/* e^(x + corr) for any x (the clamps keep NaN: a comparison with NaN is
 * false). 2^k is applied as 2^k1 2^(k - k1), k1 = floor((k + 150) / 2) - 75
 * in [-75, 64]: the first product is exact and the second rounds once, into
 * the denormal range or to +inf when the result is out of range. */
static inline float exp_any(float x, float corr)
{
    int zero = x < EXP_LO;
    x = select_f(zero, 0.0f, x);
    x = select_f(x > EXP_HI, EXP_HI, x);
    uint32_t k;
    float p = exp_reduce(x, corr, &k);
    uint32_t k1 = ((k + 150u) >> 1) - 75u;
    return select_f(zero, 0.0f, p * pow2i(k1) * pow2i(k - k1));
}

static inline float tanh_one(float x)
{
    float a = fabsf(x), u = a * a;
    float p = T7;
    p = p * u + T6;
    p = p * u + T5;
    p = p * u + T4;
    p = p * u + T3;
    p = p * u + T2;
    p = p * u + T1;
    p = p * u + T0;
    float small = a + (a * u) * p;
    float m = -2.0f * a;
    m = select_f(m < TANH_EXP_LO, TANH_EXP_LO, m); /* NaN stays NaN */
    uint32_t k;
    float e = exp_reduce(m, 0.0f, &k) * pow2i(k);
    float big = 1.0f - (e + e) / (1.0f + e);
    return copysignf(select_f(a < TANH_SMALL, small, big), x); /* NaN: big is NaN */
}

/* Blocks go through a local buffer, so the vectoriser sees no aliasing between
 * y and x (which may be equal) and needs no run-time overlap checks. */
#define BLOCK 64

static void tanh_generic(float *y, const float *x, int64_t n)
{
    float buf[BLOCK];
    for (int64_t i = 0; i < n; i += BLOCK) {
        int m = n - i < BLOCK ? (int)(n - i) : BLOCK;
        for (int j = 0; j < m; j++)
            buf[j] = tanh_one(x[i + j]);
        memcpy(y + i, buf, sizeof(float) * (size_t)m);
    }
}

static void exp_generic(float *y, const float *x, int64_t n)
{
    float buf[BLOCK];
    for (int64_t i = 0; i < n; i += BLOCK) {
        int m = n - i < BLOCK ? (int)(n - i) : BLOCK;
        for (int j = 0; j < m; j++)
            buf[j] = exp_any(x[i + j], 0.0f);
        memcpy(y + i, buf, sizeof(float) * (size_t)m);
    }
}

/* exp(x - hi - lo) where hi + lo is the shift split into floats: d = x - hi
 * rounded, err = the rounding error (Knuth's two-sum, exact), both folded
 * into the reduced argument. When d is not finite (infinite x or shift) the
 * correction is dropped so that exp(-inf) stays 0. */
static inline float exp_shifted(float x, float hi, float lo)
{
    float d = x - hi;
    float bv = d - x;
    float err = ((x - (d - bv)) + (-hi - bv)) - lo;
    err = select_f(fabsf(d) <= 128.0f, err, 0.0f);
    return exp_any(d, err);
}

static double exp_shift_sum_generic(float *y, const float *x, float hi, float lo, int64_t n)
{
    float buf[BLOCK];
    double s = 0;
    for (int64_t i = 0; i < n; i += BLOCK) {
        int m = n - i < BLOCK ? (int)(n - i) : BLOCK;
        for (int j = 0; j < m; j++)
            buf[j] = exp_shifted(x[i + j], hi, lo);
        for (int j = 0; j < m; j++)
            s += buf[j];
        if (y)
            memcpy(y + i, buf, sizeof(float) * (size_t)m);
    }
    return s;
}

/* ---- tanh's gradient: no FMA on any path --------------------------------------- */

/* dx[i] = dy[i] * (1 - y[i] * y[i]), or dx[i] + that: a multiply, a
 * subtract, a multiply (and an add), in this order on every path. */
static void tanh_grad_generic(float *restrict dx, const float *restrict y, const float *restrict dy, int64_t n,
                              bool accumulate)
{
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
    if (accumulate)
        for (int64_t i = 0; i < n; i++)
            dx[i] += dy[i] * (1.0f - y[i] * y[i]);
    else
        for (int64_t i = 0; i < n; i++)
            dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

/* ---- gelu, tanh form: tanh through tanh_one, the rest without FMA ---------------- */

#define GELU_BETA 0.7978845608028654f /* sqrt(2/pi), PyTorch's M_SQRT2 * M_2_SQRTPI * 0.5 */
#define GELU_KAPPA 0.044715f
#define GELU_KAPPA3 (3.0f * GELU_KAPPA) /* rounded to float once, as PyTorch's 3 * kKappa */

/* tanh's argument: sqrt(2/pi) * (x + 0.044715 x^3) */
static inline float gelu_inner(float x) { return GELU_BETA * (x + GELU_KAPPA * (x * x * x)); }

/* The slope of gelu at x from t = tanh(gelu_inner(x)): 0.5 (1 + t) +
 * 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2), PyTorch's order. */
static inline float gelu_slope(float x, float t)
{
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
    float left = 0.5f * x, right = 1.0f + t;
    float slope_in = GELU_BETA * (1.0f + GELU_KAPPA3 * (x * x));
    return 0.5f * right + left * (1.0f - t * t) * slope_in;
}

static void gelu_tanh_generic(float *restrict y, float *restrict t, const float *restrict x, int64_t n)
{
    float buf[BLOCK];
    for (int64_t i = 0; i < n; i += BLOCK) {
        int m = n - i < BLOCK ? (int)(n - i) : BLOCK;
        for (int j = 0; j < m; j++)
            buf[j] = tanh_one(gelu_inner(x[i + j]));
        for (int j = 0; j < m; j++)
            y[i + j] = 0.5f * x[i + j] * (1.0f + buf[j]);
        if (t)
            memcpy(t + i, buf, sizeof(float) * (size_t)m);
    }
}

static void gelu_tanh_grad_generic(float *restrict dx, const float *restrict x, const float *restrict t,
                                   const float *restrict dy, int64_t n, bool accumulate)
{
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
    if (accumulate)
        for (int64_t i = 0; i < n; i++)
            dx[i] += dy[i] * gelu_slope(x[i], t[i]);
    else
        for (int64_t i = 0; i < n; i++)
            dx[i] = dy[i] * gelu_slope(x[i], t[i]);
}

/* ---- relu and its gradient: selects, no arithmetic but the gradient's add ------ */

/* written so that NaN propagates (NaN < 0 is false), as in PyTorch */
static void relu_generic(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

/* dy read unconditionally: a select the compiler vectorises, no branch */
static void relu_grad_generic(float *restrict dx, const float *restrict y, const float *restrict dy, int64_t n,
                              bool accumulate)
{
    if (accumulate)
        for (int64_t i = 0; i < n; i++) {
            const float d = dy[i];
            dx[i] += y[i] <= 0.0f ? 0.0f : d;
        }
    else
        for (int64_t i = 0; i < n; i++) {
            const float d = dy[i];
            dx[i] = y[i] <= 0.0f ? 0.0f : d;
        }
}

/* ---- x86 paths ------------------------------------------------------------------ */

#if LT_HAVE_X86_KERNELS
#include <immintrin.h>

/* ---- AVX2 + FMA: 8 lanes ---- */

#define AVX2_FN __attribute__((target("avx2,fma"))) static
#define AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) static inline

#define S8(c) _mm256_set1_ps(c)

/* See exp_reduce; n is returned as an integral float. */
AVX2_INLINE __m256 exp_reduce8(__m256 x, __m256 corr, __m256 *n, int with_corr)
{
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, S8(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, S8(LN2_HI), x);
    r = _mm256_fnmadd_ps(k, S8(LN2_LO), r);
    if (with_corr)
        r = _mm256_add_ps(r, corr);
    __m256 q = _mm256_fmadd_ps(S8(E7), r, S8(E6));
    q = _mm256_fmadd_ps(q, r, S8(E5));
    q = _mm256_fmadd_ps(q, r, S8(E4));
    q = _mm256_fmadd_ps(q, r, S8(E3));
    q = _mm256_fmadd_ps(q, r, S8(E2));
    *n = k;
    return _mm256_add_ps(S8(1.0f), _mm256_fmadd_ps(_mm256_mul_ps(r, r), q, r));
}

AVX2_INLINE __m256 pow2i8(__m256i k)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
}

/* See exp_any. max/min return their second operand when either is NaN. */
AVX2_INLINE __m256 exp_any8(__m256 x, __m256 corr, int with_corr)
{
    __m256 keep = _mm256_cmp_ps(x, S8(EXP_LO), _CMP_NLT_UQ); /* all but x < EXP_LO (NaN kept) */
    x = _mm256_min_ps(S8(EXP_HI), _mm256_and_ps(x, keep));
    __m256 n;
    __m256 p = exp_reduce8(x, corr, &n, with_corr);
    __m256i k = _mm256_cvtps_epi32(n), k1 = _mm256_srai_epi32(k, 1);
    return _mm256_and_ps(keep, _mm256_mul_ps(_mm256_mul_ps(p, pow2i8(k1)), pow2i8(_mm256_sub_epi32(k, k1))));
}

AVX2_INLINE __m256 tanh8(__m256 x)
{
    __m256 sign = _mm256_and_ps(x, S8(-0.0f));
    __m256 a = _mm256_andnot_ps(S8(-0.0f), x), u = _mm256_mul_ps(a, a);
    __m256 p = _mm256_fmadd_ps(S8(T7), u, S8(T6));
    p = _mm256_fmadd_ps(p, u, S8(T5));
    p = _mm256_fmadd_ps(p, u, S8(T4));
    p = _mm256_fmadd_ps(p, u, S8(T3));
    p = _mm256_fmadd_ps(p, u, S8(T2));
    p = _mm256_fmadd_ps(p, u, S8(T1));
    p = _mm256_fmadd_ps(p, u, S8(T0));
    __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(a, u), p, a);
    __m256 m = _mm256_max_ps(S8(TANH_EXP_LO), _mm256_mul_ps(S8(-2.0f), a));
    __m256 n;
    __m256 e = exp_reduce8(m, _mm256_setzero_ps(), &n, 0);
    e = _mm256_mul_ps(e, pow2i8(_mm256_cvtps_epi32(n)));
    __m256 big = _mm256_sub_ps(S8(1.0f), _mm256_div_ps(_mm256_add_ps(e, e), _mm256_add_ps(S8(1.0f), e)));
    __m256 t = _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, S8(TANH_SMALL), _CMP_LT_OQ));
    return _mm256_or_ps(t, sign);
}

/* Lanes [0, m) of a partial vector, zeros elsewhere. */
AVX2_INLINE __m256i tail_mask8(int64_t m)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)m), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

AVX2_FN void tanh_avx2(float *y, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, tanh8(_mm256_loadu_ps(x + i)));
    if (i < n) {
        __m256i mask = tail_mask8(n - i);
        _mm256_maskstore_ps(y + i, mask, tanh8(_mm256_maskload_ps(x + i, mask)));
    }
}

/* gelu_inner and the result, each operation rounded (no FMA) */
AVX2_INLINE __m256 gelu_inner8(__m256 x)
{
    __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
    return _mm256_mul_ps(S8(GELU_BETA), _mm256_add_ps(x, _mm256_mul_ps(S8(GELU_KAPPA), x3)));
}

AVX2_INLINE __m256 gelu8(__m256 x, __m256 t)
{
    return _mm256_mul_ps(_mm256_mul_ps(S8(0.5f), x), _mm256_add_ps(S8(1.0f), t));
}

AVX2_FN void gelu_tanh_avx2(float *y, float *t, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 xv = _mm256_loadu_ps(x + i), tv = tanh8(gelu_inner8(xv));
        if (t)
            _mm256_storeu_ps(t + i, tv);
        _mm256_storeu_ps(y + i, gelu8(xv, tv));
    }
    if (i < n) {
        __m256i mask = tail_mask8(n - i);
        __m256 xv = _mm256_maskload_ps(x + i, mask), tv = tanh8(gelu_inner8(xv));
        if (t)
            _mm256_maskstore_ps(t + i, mask, tv);
        _mm256_maskstore_ps(y + i, mask, gelu8(xv, tv));
    }
}

AVX2_FN void exp_avx2(float *y, const float *x, int64_t n)
{
    int64_t i = 0;
    __m256 zero = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, exp_any8(_mm256_loadu_ps(x + i), zero, 0));
    if (i < n) {
        __m256i mask = tail_mask8(n - i);
        _mm256_maskstore_ps(y + i, mask, exp_any8(_mm256_maskload_ps(x + i, mask), zero, 0));
    }
}

/* See exp_shifted. */
AVX2_INLINE __m256 exp_shifted8(__m256 x, __m256 hi, __m256 lo)
{
    __m256 d = _mm256_sub_ps(x, hi), bv = _mm256_sub_ps(d, x);
    __m256 neg_hi = _mm256_xor_ps(hi, S8(-0.0f));
    __m256 err = _mm256_add_ps(_mm256_sub_ps(x, _mm256_sub_ps(d, bv)), _mm256_sub_ps(neg_hi, bv));
    err = _mm256_sub_ps(err, lo);
    __m256 finite = _mm256_cmp_ps(_mm256_andnot_ps(S8(-0.0f), d), S8(128.0f), _CMP_LE_OQ);
    return exp_any8(d, _mm256_and_ps(err, finite), 1);
}

/* Adds the 8 lanes of v, widened to double, into acc. */
AVX2_INLINE __m256d add_widened8(__m256d acc, __m256 v)
{
    acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    return _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

AVX2_FN double exp_shift_sum_avx2(float *y, const float *x, float hi_, float lo_, int64_t n)
{
    __m256 hi = S8(hi_), lo = S8(lo_);
    __m256d acc = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp_shifted8(_mm256_loadu_ps(x + i), hi, lo);
        if (y)
            _mm256_storeu_ps(y + i, e);
        acc = add_widened8(acc, e);
    }
    if (i < n) {
        __m256i mask = tail_mask8(n - i);
        __m256 e = exp_shifted8(_mm256_maskload_ps(x + i, mask), hi, lo);
        e = _mm256_and_ps(e, _mm256_castsi256_ps(mask));
        if (y)
            _mm256_maskstore_ps(y + i, mask, e);
        acc = add_widened8(acc, e);
    }
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(acc), _mm256_extractf128_pd(acc, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

/* ---- AVX-512: 16 lanes ---- */

#define AVX512_TARGET "avx512f,avx512dq,avx512bw,avx512vl,fma"
#define AVX512_FN __attribute__((target(AVX512_TARGET))) static
#define AVX512_INLINE __attribute__((target(AVX512_TARGET), always_inline)) static inline

#define S16(c) _mm512_set1_ps(c)
#define ROUND_NEAREST (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

AVX512_INLINE __m512 exp_reduce16(__m512 x, __m512 corr, __m512 *n, int with_corr)
{
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, S16(LOG2E)), ROUND_NEAREST);
    __m512 r = _mm512_fnmadd_ps(k, S16(LN2_HI), x);
    r = _mm512_fnmadd_ps(k, S16(LN2_LO), r);
    if (with_corr)
        r = _mm512_add_ps(r, corr);
    __m512 q = _mm512_fmadd_ps(S16(E7), r, S16(E6));
    q = _mm512_fmadd_ps(q, r, S16(E5));
    q = _mm512_fmadd_ps(q, r, S16(E4));
    q = _mm512_fmadd_ps(q, r, S16(E3));
    q = _mm512_fmadd_ps(q, r, S16(E2));
    *n = k;
    return _mm512_add_ps(S16(1.0f), _mm512_fmadd_ps(_mm512_mul_ps(r, r), q, r));
}

/* scalef computes p * 2^n with a single rounding, including overflow to inf
 * and the denormal range, so one instruction replaces the two-step scaling. */
AVX512_INLINE __m512 exp_any16(__m512 x, __m512 corr, int with_corr)
{
    __mmask16 keep = _mm512_cmp_ps_mask(x, S16(EXP_LO), _CMP_NLT_UQ); /* all but x < EXP_LO (NaN kept) */
    x = _mm512_min_ps(S16(EXP_HI), _mm512_maskz_mov_ps(keep, x));
    __m512 n;
    __m512 p = exp_reduce16(x, corr, &n, with_corr);
    return _mm512_maskz_mov_ps(keep, _mm512_scalef_ps(p, n));
}

AVX512_INLINE __m512 tanh16(__m512 x)
{
    __m512 a = _mm512_abs_ps(x), u = _mm512_mul_ps(a, a);
    __m512 p = _mm512_fmadd_ps(S16(T7), u, S16(T6));
    p = _mm512_fmadd_ps(p, u, S16(T5));
    p = _mm512_fmadd_ps(p, u, S16(T4));
    p = _mm512_fmadd_ps(p, u, S16(T3));
    p = _mm512_fmadd_ps(p, u, S16(T2));
    p = _mm512_fmadd_ps(p, u, S16(T1));
    p = _mm512_fmadd_ps(p, u, S16(T0));
    __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(a, u), p, a);
    __m512 m = _mm512_max_ps(S16(TANH_EXP_LO), _mm512_mul_ps(S16(-2.0f), a));
    __m512 n;
    __m512 e = exp_reduce16(m, _mm512_setzero_ps(), &n, 0);
    e = _mm512_scalef_ps(e, n);
    __m512 big = _mm512_sub_ps(S16(1.0f), _mm512_div_ps(_mm512_add_ps(e, e), _mm512_add_ps(S16(1.0f), e)));
    __m512 t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, S16(TANH_SMALL), _CMP_LT_OQ), big, small);
    /* put x's sign bit back: bitwise select (0xCA: a ? b : c) of sign from x */
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_set1_epi32(INT32_MIN), _mm512_castps_si512(x),
                                                          _mm512_castps_si512(t), 0xCA));
}

static inline __mmask16 tail_mask16(int64_t m) { return (__mmask16)((1u << m) - 1u); }

AVX512_FN void tanh_avx512(float *y, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, tanh16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 k = tail_mask16(n - i);
        _mm512_mask_storeu_ps(y + i, k, tanh16(_mm512_maskz_loadu_ps(k, x + i)));
    }
}

AVX512_INLINE __m512 gelu_inner16(__m512 x)
{
    __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
    return _mm512_mul_ps(S16(GELU_BETA), _mm512_add_ps(x, _mm512_mul_ps(S16(GELU_KAPPA), x3)));
}

AVX512_INLINE __m512 gelu16(__m512 x, __m512 t)
{
    return _mm512_mul_ps(_mm512_mul_ps(S16(0.5f), x), _mm512_add_ps(S16(1.0f), t));
}

AVX512_FN void gelu_tanh_avx512(float *y, float *t, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 xv = _mm512_loadu_ps(x + i), tv = tanh16(gelu_inner16(xv));
        if (t)
            _mm512_storeu_ps(t + i, tv);
        _mm512_storeu_ps(y + i, gelu16(xv, tv));
    }
    if (i < n) {
        __mmask16 k = tail_mask16(n - i);
        __m512 xv = _mm512_maskz_loadu_ps(k, x + i), tv = tanh16(gelu_inner16(xv));
        if (t)
            _mm512_mask_storeu_ps(t + i, k, tv);
        _mm512_mask_storeu_ps(y + i, k, gelu16(xv, tv));
    }
}

AVX512_FN void exp_avx512(float *y, const float *x, int64_t n)
{
    int64_t i = 0;
    __m512 zero = _mm512_setzero_ps();
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, exp_any16(_mm512_loadu_ps(x + i), zero, 0));
    if (i < n) {
        __mmask16 k = tail_mask16(n - i);
        _mm512_mask_storeu_ps(y + i, k, exp_any16(_mm512_maskz_loadu_ps(k, x + i), zero, 0));
    }
}

AVX512_INLINE __m512 exp_shifted16(__m512 x, __m512 hi, __m512 lo)
{
    __m512 d = _mm512_sub_ps(x, hi), bv = _mm512_sub_ps(d, x);
    __m512 neg_hi = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(hi), _mm512_set1_epi32(INT32_MIN)));
    __m512 err = _mm512_add_ps(_mm512_sub_ps(x, _mm512_sub_ps(d, bv)), _mm512_sub_ps(neg_hi, bv));
    err = _mm512_sub_ps(err, lo);
    __mmask16 finite = _mm512_cmp_ps_mask(_mm512_abs_ps(d), S16(128.0f), _CMP_LE_OQ);
    return exp_any16(d, _mm512_maskz_mov_ps(finite, err), 1);
}

AVX512_INLINE __m512d add_widened16(__m512d acc, __m512 v)
{
    acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
    return _mm512_add_pd(acc, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
}

AVX512_FN double exp_shift_sum_avx512(float *y, const float *x, float hi_, float lo_, int64_t n)
{
    __m512 hi = S16(hi_), lo = S16(lo_);
    __m512d acc = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 e = exp_shifted16(_mm512_loadu_ps(x + i), hi, lo);
        if (y)
            _mm512_storeu_ps(y + i, e);
        acc = add_widened16(acc, e);
    }
    if (i < n) {
        __mmask16 k = tail_mask16(n - i);
        __m512 e = _mm512_maskz_mov_ps(k, exp_shifted16(_mm512_maskz_loadu_ps(k, x + i), hi, lo));
        if (y)
            _mm512_mask_storeu_ps(y + i, k, e);
        acc = add_widened16(acc, e);
    }
    return _mm512_reduce_add_pd(acc);
}
/* ---- tanh's gradient, AVX2 and AVX-512 without FMA (the bits of the portable
 * loop) ---- */

#define TANH_GRAD_BODY(P, V, i)                                                                 \
    do {                                                                                          \
        V y_ = P##_loadu_ps(y + (i));                                                             \
        V g_ = P##_mul_ps(P##_loadu_ps(dy + (i)), P##_sub_ps(one, P##_mul_ps(y_, y_)));           \
        P##_storeu_ps(dx + (i), accumulate ? P##_add_ps(P##_loadu_ps(dx + (i)), g_) : g_);       \
    } while (0)

__attribute__((target("avx2"))) static void tanh_grad_avx2(float *dx, const float *y, const float *dy, int64_t n,
                                                           bool accumulate)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        TANH_GRAD_BODY(_mm256, __m256, i);
    tanh_grad_generic(dx + i, y + i, dy + i, n - i, accumulate);
}

__attribute__((target("avx512f"))) static void tanh_grad_avx512(float *dx, const float *y, const float *dy,
                                                                int64_t n, bool accumulate)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        TANH_GRAD_BODY(_mm512, __m512, i);
    tanh_grad_generic(dx + i, y + i, dy + i, n - i, accumulate);
}

/* ---- gelu's (tanh form) gradient, AVX2 and AVX-512 without FMA (the bits of
 * gelu_slope) ---- */

#define GELU_GRAD_BODY(P, V, i)                                                                     \
    do {                                                                                              \
        V x_ = P##_loadu_ps(x + (i)), t_ = P##_loadu_ps(t + (i));                                     \
        V left_ = P##_mul_ps(half, x_), right_ = P##_add_ps(one, t_);                                 \
        V in_ = P##_mul_ps(beta, P##_add_ps(one, P##_mul_ps(kappa3, P##_mul_ps(x_, x_))));            \
        V tail_ = P##_mul_ps(P##_mul_ps(left_, P##_sub_ps(one, P##_mul_ps(t_, t_))), in_);            \
        V g_ = P##_mul_ps(P##_loadu_ps(dy + (i)), P##_add_ps(P##_mul_ps(half, right_), tail_));       \
        P##_storeu_ps(dx + (i), accumulate ? P##_add_ps(P##_loadu_ps(dx + (i)), g_) : g_);           \
    } while (0)

__attribute__((target("avx2"))) static void gelu_tanh_grad_avx2(float *dx, const float *x, const float *t,
                                                                const float *dy, int64_t n, bool accumulate)
{
    const __m256 one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
    const __m256 beta = _mm256_set1_ps(GELU_BETA), kappa3 = _mm256_set1_ps(GELU_KAPPA3);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        GELU_GRAD_BODY(_mm256, __m256, i);
    gelu_tanh_grad_generic(dx + i, x + i, t + i, dy + i, n - i, accumulate);
}

__attribute__((target("avx512f"))) static void gelu_tanh_grad_avx512(float *dx, const float *x, const float *t,
                                                                     const float *dy, int64_t n, bool accumulate)
{
    const __m512 one = _mm512_set1_ps(1.0f), half = _mm512_set1_ps(0.5f);
    const __m512 beta = _mm512_set1_ps(GELU_BETA), kappa3 = _mm512_set1_ps(GELU_KAPPA3);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        GELU_GRAD_BODY(_mm512, __m512, i);
    gelu_tanh_grad_generic(dx + i, x + i, t + i, dy + i, n - i, accumulate);
}

/* ---- relu and its gradient, AVX2 and AVX-512: the compare is ordered (false
 * for NaN) and the select clears the lanes where it holds, as the C ?: ---- */

__attribute__((target("avx2"))) static void relu_avx2(float *y, const float *x, int64_t n)
{
    const __m256 zero = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        _mm256_storeu_ps(y + i, _mm256_andnot_ps(_mm256_cmp_ps(v, zero, _CMP_LT_OQ), v));
    }
    relu_generic(y + i, x + i, n - i);
}

__attribute__((target("avx2"))) static void relu_grad_avx2(float *dx, const float *y, const float *dy, int64_t n,
                                                           bool accumulate)
{
    const __m256 zero = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 off = _mm256_cmp_ps(_mm256_loadu_ps(y + i), zero, _CMP_LE_OQ);
        __m256 g = _mm256_andnot_ps(off, _mm256_loadu_ps(dy + i));
        _mm256_storeu_ps(dx + i, accumulate ? _mm256_add_ps(_mm256_loadu_ps(dx + i), g) : g);
    }
    relu_grad_generic(dx + i, y + i, dy + i, n - i, accumulate);
}

__attribute__((target("avx512f"))) static void relu_avx512(float *y, const float *x, int64_t n)
{
    const __m512 zero = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        _mm512_storeu_ps(y + i, _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, zero, _CMP_NLT_UQ), v));
    }
    relu_generic(y + i, x + i, n - i);
}

__attribute__((target("avx512f"))) static void relu_grad_avx512(float *dx, const float *y, const float *dy,
                                                                int64_t n, bool accumulate)
{
    const __m512 zero = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __mmask16 on = _mm512_cmp_ps_mask(_mm512_loadu_ps(y + i), zero, _CMP_NLE_UQ); /* not y <= 0 */
        __m512 g = _mm512_maskz_loadu_ps(on, dy + i);
        _mm512_storeu_ps(dx + i, accumulate ? _mm512_add_ps(_mm512_loadu_ps(dx + i), g) : g);
    }
    relu_grad_generic(dx + i, y + i, dy + i, n - i, accumulate);
}
#endif /* LT_HAVE_X86_KERNELS */

/* ---- dispatch -------------------------------------------------------------------- */

void lt_vtanh(float *y, const float *x, int64_t n)
{
#if LT_HAVE_X86_KERNELS
    switch (lt_cpu_isa()) {
    case LT_ISA_AVX512: tanh_avx512(y, x, n); return;
    case LT_ISA_AVX2: tanh_avx2(y, x, n); return;
    default: break;
    }
#endif
    tanh_generic(y, x, n);
}

void lt_vexp(float *y, const float *x, int64_t n)
{
#if LT_HAVE_X86_KERNELS
    switch (lt_cpu_isa()) {
    case LT_ISA_AVX512: exp_avx512(y, x, n); return;
    case LT_ISA_AVX2: exp_avx2(y, x, n); return;
    default: break;
    }
#endif
    exp_generic(y, x, n);
}

/* Shifts of magnitude >= 2^16 (never seen with real logits) leave too large
 * a low part to fold into the reduced argument: plain double libm. */
#define SHIFT_SPLIT_MAX 0x1p16

static double exp_shift_sum_libm(float *y, const float *x, double shift, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        float e = (float)exp((double)x[i] - shift);
        s += e;
        if (y)
            y[i] = e;
    }
    return s;
}

double lt_vexp_shift_sum(float *y, const float *x, double shift, int64_t n)
{
    if (isfinite(shift) && !(fabs(shift) < SHIFT_SPLIT_MAX))
        return exp_shift_sum_libm(y, x, shift, n);
    /* shift = hi + lo exactly enough (|lo| <= 2^-9); an infinite or NaN shift
     * is carried by hi alone. */
    float hi = (float)shift;
    float lo = isfinite(shift) ? (float)(shift - hi) : 0.0f;
#if LT_HAVE_X86_KERNELS
    switch (lt_cpu_isa()) {
    case LT_ISA_AVX512: return exp_shift_sum_avx512(y, x, hi, lo, n);
    case LT_ISA_AVX2: return exp_shift_sum_avx2(y, x, hi, lo, n);
    default: break;
    }
#endif
    return exp_shift_sum_generic(y, x, hi, lo, n);
}

void lt_vtanh_grad(float *dx, const float *y, const float *dy, int64_t n, bool accumulate)
{
#if LT_HAVE_X86_KERNELS
    switch (lt_cpu_isa()) {
    case LT_ISA_AVX512: tanh_grad_avx512(dx, y, dy, n, accumulate); return;
    case LT_ISA_AVX2: tanh_grad_avx2(dx, y, dy, n, accumulate); return;
    default: break;
    }
#endif
    tanh_grad_generic(dx, y, dy, n, accumulate);
}

void lt_vgelu_tanh(float *y, float *t, const float *x, int64_t n)
{
#if LT_HAVE_X86_KERNELS
    switch (lt_cpu_isa()) {
    case LT_ISA_AVX512: gelu_tanh_avx512(y, t, x, n); return;
    case LT_ISA_AVX2: gelu_tanh_avx2(y, t, x, n); return;
    default: break;
    }
#endif
    gelu_tanh_generic(y, t, x, n);
}

void lt_vgelu_tanh_grad(float *dx, const float *x, const float *t, const float *dy, int64_t n, bool accumulate)
{
#if LT_HAVE_X86_KERNELS
    switch (lt_cpu_isa()) {
    case LT_ISA_AVX512: gelu_tanh_grad_avx512(dx, x, t, dy, n, accumulate); return;
    case LT_ISA_AVX2: gelu_tanh_grad_avx2(dx, x, t, dy, n, accumulate); return;
    default: break;
    }
#endif
    gelu_tanh_grad_generic(dx, x, t, dy, n, accumulate);
}

void lt_vrelu(float *y, const float *x, int64_t n)
{
#if LT_HAVE_X86_KERNELS
    switch (lt_cpu_isa()) {
    case LT_ISA_AVX512: relu_avx512(y, x, n); return;
    case LT_ISA_AVX2: relu_avx2(y, x, n); return;
    default: break;
    }
#endif
    relu_generic(y, x, n);
}

void lt_vrelu_grad(float *dx, const float *y, const float *dy, int64_t n, bool accumulate)
{
#if LT_HAVE_X86_KERNELS
    switch (lt_cpu_isa()) {
    case LT_ISA_AVX512: relu_grad_avx512(dx, y, dy, n, accumulate); return;
    case LT_ISA_AVX2: relu_grad_avx2(dx, y, dy, n, accumulate); return;
    default: break;
    }
#endif
    relu_grad_generic(dx, y, dy, n, accumulate);
}
