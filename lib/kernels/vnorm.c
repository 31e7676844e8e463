/* vnorm.c - layernorm's row loops: portable, AVX2 and AVX-512 paths with
 * the same float operations per element (see vnorm.h). The vector paths do
 * whole vectors and leave the tail to the portable loop, which does each
 * element exactly as the vector lanes do. */
#include "kernels/vnorm.h"

#include "kernels/cpu.h"

#include <stddef.h>

#define LANES LT_MOMENT_LANES

/* ---- portable ---------------------------------------------------------------- */

/* The lanes' partial sums of whole blocks [0, j_end), then the tail and the
 * combination in double: shared by every path (acc holds the lanes). */
static double moment_finish(const float *x, int64_t j, int64_t c, float shift, int power, const float acc[LANES])
{
    double total = 0.0;
    for (; j < c; j++) {
        double d = (double)x[j] - shift;
        total += power == 2 ? d * d : d;
    }
    for (int k = 0; k < LANES; k++)
        total += acc[k];
    return total;
}

static double moment_generic(const float *restrict x, int64_t c, float shift, int power)
{
    float acc[LANES] = {0};
    int64_t j = 0;
    for (; j + LANES <= c; j += LANES)
        for (int k = 0; k < LANES; k++) {
            float d = x[j + k] - shift;
            acc[k] += power == 2 ? d * d : d;
        }
    return moment_finish(x, j, c, shift, power, acc);
}

static void affine_generic(float *restrict y, const float *restrict x, int64_t c, float mu, float is,
                           const float *restrict g, const float *restrict b)
{
    for (int64_t j = 0; j < c; j++)
        y[j] = (x[j] - mu) * is * g[j] + b[j];
}

static void xhat_dxhat_generic(float *restrict xh, float *restrict dh, const float *restrict x,
                               const float *restrict dy, const float *restrict g, float mu, float is, int64_t c)
{
    for (int64_t j = 0; j < c; j++) {
        xh[j] = (x[j] - mu) * is;
        dh[j] = g ? dy[j] * g[j] : dy[j];
    }
}

static void ln_dx_generic(float *restrict dx, const float *restrict xh, const float *restrict dh, float is, float md,
                          float mdx, int64_t c, int fresh)
{
    if (fresh)
        for (int64_t j = 0; j < c; j++)
            dx[j] = is * (dh[j] - md - xh[j] * mdx);
    else
        for (int64_t j = 0; j < c; j++)
            dx[j] += is * (dh[j] - md - xh[j] * mdx);
}

#if LT_HAVE_X86_KERNELS
#include <immintrin.h>

/* The four row loops for one vector width: V the vector type, P the
 * intrinsics' prefix, W the lanes. No fused multiply-add anywhere. */
#define ROW_KERNELS(SUFFIX, TARGET, V, P, W)                                                                       \
    __attribute__((target(TARGET))) static double moment_##SUFFIX(const float *x, int64_t c, float shift,         \
                                                                   int power)                                     \
    {                                                                                                              \
        V acc[LANES / W], s = P##_set1_ps(shift);                                                                  \
        for (int k = 0; k < LANES / W; k++)                                                                        \
            acc[k] = P##_setzero_ps();                                                                             \
        int64_t j = 0;                                                                                             \
        for (; j + LANES <= c; j += LANES)                                                                         \
            for (int k = 0; k < LANES / W; k++) {                                                                  \
                V d = P##_sub_ps(P##_loadu_ps(x + j + k * W), s);                                                  \
                acc[k] = P##_add_ps(acc[k], power == 2 ? P##_mul_ps(d, d) : d);                                    \
            }                                                                                                      \
        float lanes[LANES];                                                                                        \
        for (int k = 0; k < LANES / W; k++)                                                                        \
            P##_storeu_ps(lanes + k * W, acc[k]);                                                                  \
        return moment_finish(x, j, c, shift, power, lanes);                                                        \
    }                                                                                                              \
                                                                                                                   \
    __attribute__((target(TARGET))) static void affine_##SUFFIX(float *y, const float *x, int64_t c, float mu,    \
                                                                 float is, const float *g, const float *b)        \
    {                                                                                                              \
        const V m = P##_set1_ps(mu), i = P##_set1_ps(is);                                                          \
        int64_t j = 0;                                                                                             \
        for (; j + W <= c; j += W) {                                                                               \
            V t = P##_mul_ps(P##_mul_ps(P##_sub_ps(P##_loadu_ps(x + j), m), i), P##_loadu_ps(g + j));             \
            P##_storeu_ps(y + j, P##_add_ps(t, P##_loadu_ps(b + j)));                                              \
        }                                                                                                          \
        affine_generic(y + j, x + j, c - j, mu, is, g + j, b + j);                                                 \
    }                                                                                                              \
                                                                                                                   \
    __attribute__((target(TARGET))) static void xhat_dxhat_##SUFFIX(float *xh, float *dh, const float *x,         \
                                                                     const float *dy, const float *g, float mu,   \
                                                                     float is, int64_t c)                         \
    {                                                                                                              \
        const V m = P##_set1_ps(mu), i = P##_set1_ps(is);                                                          \
        int64_t j = 0;                                                                                             \
        for (; j + W <= c; j += W) {                                                                               \
            P##_storeu_ps(xh + j, P##_mul_ps(P##_sub_ps(P##_loadu_ps(x + j), m), i));                              \
            V d = P##_loadu_ps(dy + j);                                                                            \
            P##_storeu_ps(dh + j, g ? P##_mul_ps(d, P##_loadu_ps(g + j)) : d);                                     \
        }                                                                                                          \
        xhat_dxhat_generic(xh + j, dh + j, x + j, dy + j, g ? g + j : NULL, mu, is, c - j);                        \
    }                                                                                                              \
                                                                                                                   \
    __attribute__((target(TARGET))) static void ln_dx_##SUFFIX(float *dx, const float *xh, const float *dh,       \
                                                                float is, float md, float mdx, int64_t c,         \
                                                                int fresh)                                        \
    {                                                                                                              \
        const V i = P##_set1_ps(is), a = P##_set1_ps(md), b = P##_set1_ps(mdx);                                    \
        int64_t j = 0;                                                                                             \
        for (; j + W <= c; j += W) {                                                                               \
            V t = P##_sub_ps(P##_sub_ps(P##_loadu_ps(dh + j), a), P##_mul_ps(P##_loadu_ps(xh + j), b));            \
            t = P##_mul_ps(i, t);                                                                                  \
            P##_storeu_ps(dx + j, fresh ? t : P##_add_ps(P##_loadu_ps(dx + j), t));                                \
        }                                                                                                          \
        ln_dx_generic(dx + j, xh + j, dh + j, is, md, mdx, c - j, fresh);                                          \
    }

ROW_KERNELS(avx2, "avx2", __m256, _mm256, 8)
ROW_KERNELS(avx512, "avx512f", __m512, _mm512, 16)

/* The path for this machine: 2 AVX-512, 1 AVX2, 0 portable. */
static int path(void)
{
    lt_isa isa = lt_cpu_isa();
    return isa == LT_ISA_AVX512 ? 2 : isa == LT_ISA_AVX2 ? 1 : 0;
}
#define DISPATCH(NAME, ...)              \
    switch (path()) {                    \
    case 2: NAME##_avx512(__VA_ARGS__); return; \
    case 1: NAME##_avx2(__VA_ARGS__); return;   \
    default: NAME##_generic(__VA_ARGS__); return; \
    }
#else
#define DISPATCH(NAME, ...) NAME##_generic(__VA_ARGS__);
#endif /* LT_HAVE_X86_KERNELS */

double lt_vrow_moment(const float *x, int64_t c, float shift, int power)
{
#if LT_HAVE_X86_KERNELS
    if (path() == 2)
        return moment_avx512(x, c, shift, power);
    if (path() == 1)
        return moment_avx2(x, c, shift, power);
#endif
    return moment_generic(x, c, shift, power);
}

void lt_vrow_affine(float *y, const float *x, int64_t c, float mu, float is, const float *g, const float *b)
{
    DISPATCH(affine, y, x, c, mu, is, g, b)
}

void lt_vrow_xhat_dxhat(float *xh, float *dh, const float *x, const float *dy, const float *g, float mu, float is,
                        int64_t c)
{
    DISPATCH(xhat_dxhat, xh, dh, x, dy, g, mu, is, c)
}

void lt_vrow_ln_dx(float *dx, const float *xh, const float *dh, float is, float md, float mdx, int64_t c, int fresh)
{
    DISPATCH(ln_dx, dx, xh, dh, is, md, mdx, c, fresh)
}
