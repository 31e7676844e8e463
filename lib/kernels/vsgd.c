/* vsgd.c - plain SGD's update with its finiteness check, and the check
 * alone (see vsgd.h).
 *
 * The check: u - u is 0 for a finite u and NaN otherwise, so a sum of such
 * differences is 0 exactly when every u is finite (a NaN stays NaN). Each
 * path keeps several independent sums (the portable one LANES, the vector
 * ones a vector of them); only whether the total is 0 matters, so the order
 * of the sums does not. */
#include "kernels/vsgd.h"

#include "kernels/cpu.h"

/* Every path must give the same bits: no fused multiply-add, also where
 * clang would contract a portable loop inlined into an AVX-512 function
 * (gcc contracts nothing in ISO C mode). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define LANES 8

/* ---- portable ---------------------------------------------------------------- */

/* LANES independent sums let the compiler vectorise the loop (one sum would
 * be a serial float reduction). */
static bool sgd_generic(float *restrict p, const float *restrict g, int64_t n, float lr)
{
    float acc[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) {
            float u = p[i + k] - lr * g[i + k];
            p[i + k] = u;
            acc[k] += u - u;
        }
    float s = 0;
    for (; i < n; i++) {
        float u = p[i] - lr * g[i];
        p[i] = u;
        s += u - u;
    }
    for (int k = 0; k < LANES; k++)
        s += acc[k];
    return s == 0.0f;
}

static bool finite_generic(const float *p, int64_t n)
{
    float acc[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++)
            acc[k] += p[i + k] - p[i + k];
    float s = 0;
    for (; i < n; i++)
        s += p[i] - p[i];
    for (int k = 0; k < LANES; k++)
        s += acc[k];
    return s == 0.0f;
}

/* ---- AVX2 and AVX-512: the same operations, a vector at a time --------------- */

#if LT_HAVE_X86_KERNELS
#include <immintrin.h>

__attribute__((target("avx2"))) static bool sgd_avx2(float *p, const float *g, int64_t n, float lr)
{
    const __m256 rate = _mm256_set1_ps(lr);
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 u = _mm256_sub_ps(_mm256_loadu_ps(p + i), _mm256_mul_ps(rate, _mm256_loadu_ps(g + i)));
        _mm256_storeu_ps(p + i, u);
        acc = _mm256_add_ps(acc, _mm256_sub_ps(u, u));
    }
    /* all eight sums 0 (a NaN compares unequal) */
    bool ok = _mm256_movemask_ps(_mm256_cmp_ps(acc, _mm256_setzero_ps(), _CMP_EQ_OQ)) == 0xff;
    return sgd_generic(p + i, g + i, n - i, lr) && ok;
}

__attribute__((target("avx2"))) static bool finite_avx2(const float *p, int64_t n)
{
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(p + i);
        acc = _mm256_add_ps(acc, _mm256_sub_ps(v, v));
    }
    bool ok = _mm256_movemask_ps(_mm256_cmp_ps(acc, _mm256_setzero_ps(), _CMP_EQ_OQ)) == 0xff;
    return finite_generic(p + i, n - i) && ok;
}

__attribute__((target("avx512f"))) static bool sgd_avx512(float *p, const float *g, int64_t n, float lr)
{
    const __m512 rate = _mm512_set1_ps(lr);
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 u = _mm512_sub_ps(_mm512_loadu_ps(p + i), _mm512_mul_ps(rate, _mm512_loadu_ps(g + i)));
        _mm512_storeu_ps(p + i, u);
        acc = _mm512_add_ps(acc, _mm512_sub_ps(u, u));
    }
    bool ok = _mm512_cmp_ps_mask(acc, _mm512_setzero_ps(), _CMP_EQ_OQ) == 0xffff;
    return sgd_generic(p + i, g + i, n - i, lr) && ok;
}

__attribute__((target("avx512f"))) static bool finite_avx512(const float *p, int64_t n)
{
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(p + i);
        acc = _mm512_add_ps(acc, _mm512_sub_ps(v, v));
    }
    bool ok = _mm512_cmp_ps_mask(acc, _mm512_setzero_ps(), _CMP_EQ_OQ) == 0xffff;
    return finite_generic(p + i, n - i) && ok;
}
#endif

bool lt_vsgd_finite(float *p, const float *g, int64_t n, float lr)
{
#if LT_HAVE_X86_KERNELS
    switch (lt_cpu_isa()) {
    case LT_ISA_AVX512: return sgd_avx512(p, g, n, lr);
    case LT_ISA_AVX2: return sgd_avx2(p, g, n, lr);
    default: break;
    }
#endif
    return sgd_generic(p, g, n, lr);
}

bool lt_vall_finite(const float *p, int64_t n)
{
#if LT_HAVE_X86_KERNELS
    switch (lt_cpu_isa()) {
    case LT_ISA_AVX512: return finite_avx512(p, n);
    case LT_ISA_AVX2: return finite_avx2(p, n);
    default: break;
    }
#endif
    return finite_generic(p, n);
}
