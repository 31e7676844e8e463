/* vdropout.c - dropout's mask, computed on the fly and multiplied in (see
 * vdropout.h): a portable path and AVX2 / AVX-512 paths that hash 4 or 8
 * counters at once and turn their 16-bit fields into mask lanes with one
 * compare. The decisions are integer arithmetic and the float work is the
 * same multiply (and add) on every path, so all paths give the same bits;
 * the portable one also does the tails of the others. */
#include "kernels/vdropout.h"

#include "kernels/cpu.h"

#include <math.h>

/* Every path must give the same bits: no fused multiply-add, also where
 * clang would contract a portable loop inlined into an AVX-512 function
 * (gcc contracts nothing in ISO C mode). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* splitmix64's output function (Steele, Lea, Flood 2014), as dropout.c
 * documents it. */
#define SPLITMIX_GAMMA 0x9e3779b97f4a7c15ull
#define SPLITMIX_M1 0xbf58476d1ce4e5b9ull
#define SPLITMIX_M2 0x94d049bb133111ebull
#define FIELD_MAX 0xffffu

static inline uint64_t splitmix64(uint64_t z)
{
    z += SPLITMIX_GAMMA;
    z = (z ^ (z >> 30)) * SPLITMIX_M1;
    z = (z ^ (z >> 27)) * SPLITMIX_M2;
    return z ^ (z >> 31);
}

lt_dropout_mask lt_dropout_mask_of(uint64_t key, float p)
{
    const float keep = 1.0f - p;
    return (lt_dropout_mask){key, (uint32_t)lrintf(keep * 65536.0f), p < 1.0f ? 1.0f / keep : 0.0f};
}

/* Elements [0, n) from counter ctr on (ctr = key + first / 4); branch-free:
 * the decisions are random, so a branch per element mispredicts. */
static void dropout_generic(float *y, const float *x, int64_t n, uint64_t ctr, uint32_t threshold, float scale,
                            lt_mask_mode mode)
{
    for (int64_t i = 0; i < n; i += 4, ctr++) {
        uint64_t bits = splitmix64(ctr);
        int64_t m = n - i < 4 ? n - i : 4;
        for (int64_t k = 0; k < m; k++) {
            /* scale (kept) or +0 (dropped): the values a stored mask held */
            float mask = (float)(((bits >> (16 * k)) & FIELD_MAX) < threshold) * scale;
            float v = x[i + k] * mask;
            y[i + k] = mode == LT_MASK_SET ? v : mode == LT_MASK_FRESH ? 0.0f + v : y[i + k] + v;
        }
    }
}

#if LT_HAVE_X86_KERNELS
#include <immintrin.h>

/* ---- AVX2: 4 counters, 16 elements a round ---- */

#define AVX2_FN __attribute__((target("avx2"))) static
#define AVX2_INLINE __attribute__((target("avx2"), always_inline)) static inline

/* a * b mod 2^64 per lane, b = (b_hi, b_lo) as 32-bit halves in each lane
 * (AVX2 has no 64-bit multiply): lo*lo + ((hi*lo + lo*hi) << 32). */
AVX2_INLINE __m256i mul64x4(__m256i a, __m256i b, __m256i b_hi)
{
    __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), b), _mm256_mul_epu32(a, b_hi));
    return _mm256_add_epi64(_mm256_mul_epu32(a, b), _mm256_slli_epi64(cross, 32));
}

AVX2_INLINE __m256i splitmix4(__m256i z)
{
    const __m256i m1 = _mm256_set1_epi64x((long long)SPLITMIX_M1), m2 = _mm256_set1_epi64x((long long)SPLITMIX_M2);
    const __m256i m1_hi = _mm256_srli_epi64(m1, 32), m2_hi = _mm256_srli_epi64(m2, 32);
    z = _mm256_add_epi64(z, _mm256_set1_epi64x((long long)SPLITMIX_GAMMA));
    z = mul64x4(_mm256_xor_si256(z, _mm256_srli_epi64(z, 30)), m1, m1_hi);
    z = mul64x4(_mm256_xor_si256(z, _mm256_srli_epi64(z, 27)), m2, m2_hi);
    return _mm256_xor_si256(z, _mm256_srli_epi64(z, 31));
}

/* 8 elements: the fields (as 8 x 16 bits) compared with the threshold. */
AVX2_INLINE void apply8(float *y, const float *x, __m128i fields, __m256i threshold, __m256 scale, lt_mask_mode mode)
{
    __m256i kept = _mm256_cmpgt_epi32(threshold, _mm256_cvtepu16_epi32(fields));
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x), _mm256_and_ps(_mm256_castsi256_ps(kept), scale));
    if (mode == LT_MASK_FRESH)
        v = _mm256_add_ps(_mm256_setzero_ps(), v);
    else if (mode == LT_MASK_ADD)
        v = _mm256_add_ps(_mm256_loadu_ps(y), v);
    _mm256_storeu_ps(y, v);
}

AVX2_FN void dropout_avx2(float *y, const float *x, int64_t n, uint64_t ctr, uint32_t threshold, float scale,
                          lt_mask_mode mode)
{
    const __m256i step = _mm256_set1_epi64x(4), t = _mm256_set1_epi32((int)threshold);
    const __m256 s = _mm256_set1_ps(scale);
    __m256i c = _mm256_add_epi64(_mm256_set1_epi64x((long long)ctr), _mm256_setr_epi64x(0, 1, 2, 3));
    int64_t i = 0;
    for (; i + 16 <= n; i += 16, c = _mm256_add_epi64(c, step)) {
        __m256i h = splitmix4(c); /* 16-bit field p is element i + p */
        apply8(y + i, x + i, _mm256_castsi256_si128(h), t, s, mode);
        apply8(y + i + 8, x + i + 8, _mm256_extracti128_si256(h, 1), t, s, mode);
    }
    if (i < n)
        dropout_generic(y + i, x + i, n - i, ctr + (uint64_t)(i / 4), threshold, scale, mode);
}

/* ---- AVX-512: 8 counters, 32 elements a round ---- */

#define AVX512_TARGET "avx512f,avx512dq,avx512bw"
#define AVX512_FN __attribute__((target(AVX512_TARGET))) static
#define AVX512_INLINE __attribute__((target(AVX512_TARGET), always_inline)) static inline

AVX512_INLINE __m512i splitmix8(__m512i z)
{
    z = _mm512_add_epi64(z, _mm512_set1_epi64((long long)SPLITMIX_GAMMA));
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)), _mm512_set1_epi64((long long)SPLITMIX_M1));
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)), _mm512_set1_epi64((long long)SPLITMIX_M2));
    return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

AVX512_INLINE void apply16(float *y, const float *x, __mmask16 kept, __m512 scale, lt_mask_mode mode)
{
    __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x), _mm512_maskz_mov_ps(kept, scale));
    if (mode == LT_MASK_FRESH)
        v = _mm512_add_ps(_mm512_setzero_ps(), v);
    else if (mode == LT_MASK_ADD)
        v = _mm512_add_ps(_mm512_loadu_ps(y), v);
    _mm512_storeu_ps(y, v);
}

AVX512_FN void dropout_avx512(float *y, const float *x, int64_t n, uint64_t ctr, uint32_t threshold, float scale,
                              lt_mask_mode mode)
{
    const __m512i step = _mm512_set1_epi64(8);
    const __m512i t = _mm512_set1_epi16((short)(threshold > FIELD_MAX ? FIELD_MAX : threshold));
    const __m512 s = _mm512_set1_ps(scale);
    __m512i c = _mm512_add_epi64(_mm512_set1_epi64((long long)ctr), _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7));
    int64_t i = 0;
    for (; i + 32 <= n; i += 32, c = _mm512_add_epi64(c, step)) {
        /* 16-bit field p of the 8 hashes is element i + p */
        __mmask32 kept = threshold > FIELD_MAX ? ~(__mmask32)0 : _mm512_cmplt_epu16_mask(splitmix8(c), t);
        apply16(y + i, x + i, (__mmask16)kept, s, mode);
        apply16(y + i + 16, x + i + 16, (__mmask16)(kept >> 16), s, mode);
    }
    if (i < n)
        dropout_generic(y + i, x + i, n - i, ctr + (uint64_t)(i / 4), threshold, scale, mode);
}
#endif /* LT_HAVE_X86_KERNELS */

void lt_vdropout(float *y, const float *x, int64_t n, int64_t first, const lt_dropout_mask *m, lt_mask_mode mode)
{
    uint64_t ctr = m->key + (uint64_t)(first / 4);
#if LT_HAVE_X86_KERNELS
    switch (lt_cpu_isa()) {
    case LT_ISA_AVX512: dropout_avx512(y, x, n, ctr, m->threshold, m->scale, mode); return;
    case LT_ISA_AVX2: dropout_avx2(y, x, n, ctr, m->threshold, m->scale, mode); return;
    default: break;
    }
#endif
    dropout_generic(y, x, n, ctr, m->threshold, m->scale, mode);
}
