/* boxmuller16.c - torch.randn's vectorised Box-Muller block, reproduced to
 * the last bit in portable scalar C.
 *
 * PyTorch 1.13 on x86-64 with AVX2 (the default CPU capability) turns each
 * block of 16 float uniforms into normals with normal_fill_16_AVX2, whose
 * log and sincos are the Cephes single-precision algorithms as vectorised in
 * avx_mathfun.h (Julien Pommier's sse_mathfun, ported to AVX by Giovanni
 * Garberoglio; zlib licence), not libm's. GCC 12 compiled that file with
 * -mfma and floating-point contraction on, so several "mul then add" pairs
 * became single fused multiply-adds, and which ones did decides the last bit.
 * The sequence below was read from the instructions of Debian's
 * libtorch_cpu.so 1.13 (objdump) and is confirmed by tests/test_rng.c on
 * millions of values: every fmaf() here is a vfmadd/vfmsub/vfnmadd there,
 * every other operation is one rounded float operation.
 *
 * Contraction must stay off in this file (each product and sum below is
 * rounded on its own): GCC does not contract in ISO C mode (-std=c11, as
 * CMakeLists.txt builds), clang honours the pragma. */
#include "random/boxmuller16.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* The constants exactly as the binary holds them (float bit patterns). */
#define SQRT_HALF 0x1.6a09e6p-1f   /* cephes_SQRTHF 0.707106781186547524 */
#define LOG_Q1 -0x1.bd0106p-13f    /* -2.12194440e-4: log(2) = Q2 + Q1 */
#define LOG_Q2 0x1.63p-1f          /* 0.693359375 */
#define FOUR_OVER_PI 0x1.45f306p+0f /* cephes_FOPI 1.27323954473516 */
#define MINUS_DP1 -0x1.92p-1f      /* -0.78515625: pi/4 in three parts */
#define MINUS_DP2 -0x1.fb4p-13f    /* -2.4187564849853515625e-4 */
#define MINUS_DP3 -0x1.4442d2p-25f /* -3.77489497744594108e-8 */
#define TWO_PI_F 0x1.921fb6p+2f    /* float(2 * c10::pi<double>) */

/* cephes_log_p0..p8: log(1+x) = x - x^2/2 + x^3 P(x). */
static const float LOG_P[9] = {
    0x1.204376p-4f,  -0x1.d7a37p-4f, 0x1.de4a34p-4f,  -0x1.fcba9ep-4f, 0x1.23d37ep-3f,
    -0x1.555ca0p-3f, 0x1.999d58p-3f, -0x1.fffff8p-3f, 0x1.555554p-2f,
};
/* coscof_p0..p2 and sincof_p0..p2 on [-pi/4, pi/4]. */
static const float COS_P[3] = {0x1.99eb9cp-16f, -0x1.6c0c34p-10f, 0x1.55554ap-5f};
static const float SIN_P[3] = {-0x1.9943f2p-13f, 0x1.11073cp-7f, -0x1.555546p-3f};

static uint32_t bits_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float float_of(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Selecting through an all-ones/all-zeros mask, as the vector code does with
 * and/andnot: the unselected side is +0.0, which matters for the sums below. */
static float masked(float x, bool keep)
{
    return keep ? x : 0.0f;
}

/* log256_ps: x = m * 2^e with m in [0.5, 1), moved to [sqrt(1/2), sqrt(2))
 * around 1, then log(m) by the polynomial and e * log(2) in two parts. */
float lt_boxmuller_logf(float x)
{
    bool invalid = x <= 0.0f; /* the kernel ORs NaN bits into these */
    if (!(x >= 0x1p-126f))
        x = 0x1p-126f; /* max(x, FLT_MIN) (maxps: NaN too): denormals cut off */
    uint32_t u = bits_of(x);
    float e = (float)((int32_t)(u >> 23) - 127);
    float m = float_of((u & ~UINT32_C(0x7f800000)) | bits_of(0.5f));
    e = e + 1.0f;
    bool small = m < SQRT_HALF;
    float tmp = masked(m, small);
    m = m + -1.0f;
    e = e - masked(1.0f, small);
    float e_q1 = e * LOG_Q1;
    m = tmp + m; /* m + m - 1 when small, else m - 1 */

    float y = LOG_P[0];
    for (int k = 1; k < 9; k++)
        y = fmaf(y, m, LOG_P[k]);
    float z = m * m;
    y = m * y;
    y = fmaf(y, z, e_q1);
    y = fmaf(-z, 0.5f, y);
    m = m + y;
    float result = fmaf(e, LOG_Q2, m);
    return invalid ? float_of(UINT32_C(0xffffffff)) : result;
}

/* sincos256_ps: reduce |x| by j * pi/4 (j even, by the rounded-up octant)
 * with pi/4 in three parts, evaluate both polynomials on the remainder, and
 * pick and sign them by the octant. */
void lt_boxmuller_sincosf(float x, float *s, float *c)
{
    uint32_t sign_sin = bits_of(x) & UINT32_C(0x80000000);
    float ax = fabsf(x);
    int32_t j = (int32_t)(ax * FOUR_OVER_PI); /* truncation, as cvttps2dq */
    j = (j + 1) & ~1;
    float yj = (float)j;
    sign_sin ^= ((uint32_t)j & 4u) << 29;
    uint32_t sign_cos = (~(uint32_t)(j - 2) & 4u) << 29;
    bool sine_first = (j & 2) == 0;

    float r = fmaf(yj, MINUS_DP1, ax);
    r = fmaf(yj, MINUS_DP2, r);
    r = fmaf(yj, MINUS_DP3, r);
    float z = r * r;

    float yc = fmaf(COS_P[0], z, COS_P[1]);
    yc = fmaf(yc, z, COS_P[2]);
    float half_z = z * 0.5f;
    yc = z * yc;
    yc = fmaf(yc, z, -half_z);
    yc = yc + 1.0f;

    float ys = fmaf(SIN_P[0], z, SIN_P[1]);
    ys = fmaf(ys, z, SIN_P[2]);
    ys = z * ys;
    ys = fmaf(ys, r, r);

    /* the kernel's select: sin = picked + 0, cos = (other - 0) + (picked - picked) */
    float sin_from_ys = masked(ys, sine_first);
    float sin_from_yc = masked(yc, !sine_first);
    float sin_v = sin_from_yc + sin_from_ys;
    float cos_v = (ys - sin_from_ys) + (yc - sin_from_yc);
    *s = float_of(bits_of(sin_v) ^ sign_sin);
    *c = float_of(bits_of(cos_v) ^ sign_cos);
}

void lt_boxmuller16(float d[LT_BOXMULLER_BLOCK], float mean, float std)
{
    const int half = LT_BOXMULLER_BLOCK / 2;
    for (int j = 0; j < half; j++) {
        float u1 = 1.0f - d[j]; /* [0,1) -> (0,1]: log never sees 0 */
        float theta = TWO_PI_F * d[j + half];
        float radius = sqrtf(-2.0f * lt_boxmuller_logf(u1));
        float sin_t, cos_t;
        lt_boxmuller_sincosf(theta, &sin_t, &cos_t);
        float n1 = radius * cos_t;
        float n2 = radius * sin_t;
        d[j] = fmaf(n1, std, mean);
        d[j + half] = fmaf(n2, std, mean);
    }
}
