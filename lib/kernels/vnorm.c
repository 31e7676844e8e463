/* vnorm.c - layernorm's row loops and batchnorm's column loops: portable,
 * AVX2 and AVX-512 paths with the same float operations per element (see
 * vnorm.h). The vector paths do whole vectors and leave the tail to the
 * portable loop, which does each element exactly as the vector lanes do. */
#include "kernels/vnorm.h"

#include "kernels/cpu.h"

#include <stddef.h>

/* Every path must give the same bits: no fused multiply-add, also where
 * clang would contract a portable loop inlined into an AVX-512 function
 * (gcc contracts nothing in ISO C mode). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define LANES LT_MOMENT_LANES

/* ---- portable ---------------------------------------------------------------- */

/* The tail's terms [j, c) of a moment, in double from double differences:
 * shared by every path (the lanes take the whole blocks before j). */
static double moment_tail(const float *x, int64_t j, int64_t c, float shift, int power)
{
    double total = 0.0;
    for (; j < c; j++) {
        double d = (double)x[j] - shift;
        total += power == 2 ? d * d : d;
    }
    return total;
}

/* The lanes' float partial sums of the whole blocks of a row into acc;
 * returns where the blocks end. */
static int64_t moment_lanes_generic(const float *restrict x, int64_t c, float shift, int power, float acc[LANES])
{
    for (int k = 0; k < LANES; k++)
        acc[k] = 0.0f;
    int64_t j = 0;
    for (; j + LANES <= c; j += LANES)
        for (int k = 0; k < LANES; k++) {
            float d = x[j + k] - shift;
            acc[k] += power == 2 ? d * d : d;
        }
    return j;
}

static void affine_generic(float *restrict y, const float *restrict x, int64_t c, float mu, float is,
                           const float *restrict g, const float *restrict b)
{
    for (int64_t j = 0; j < c; j++)
        y[j] = (x[j] - mu) * is * g[j] + b[j];
}

static void ln_terms_generic(float *restrict xh, float *restrict dh, float *restrict dgain, float *restrict dbias,
                             const float *restrict x, const float *restrict dy, const float *restrict g, float mu,
                             float is, int64_t c)
{
    for (int64_t j = 0; j < c; j++) {
        const float t = (x[j] - mu) * is;
        xh[j] = t;
        dh[j] = g ? dy[j] * g[j] : dy[j];
        if (dgain)
            dgain[j] += dy[j] * t;
        if (dbias)
            dbias[j] += dy[j];
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

#define SUM_ROWS LT_LN_SUM_ROWS

/* Columns [j, c) of the block's sums, continuing sd and sdx. */
static void ln_sums_from(const float *xh, const float *dh, int64_t j, int64_t c, double *sd, double *sdx)
{
    for (; j < c; j++)
        for (int q = 0; q < SUM_ROWS; q++) {
            sd[q] += dh[q * c + j];
            sdx[q] += dh[q * c + j] * xh[q * c + j];
        }
}

static void ln_sums_generic(const float *xh, const float *dh, int64_t c, double *sd, double *sdx)
{
    for (int q = 0; q < SUM_ROWS; q++)
        sd[q] = sdx[q] = 0.0;
    ln_sums_from(xh, dh, 0, c, sd, sdx);
}

/* ---- column sums, portable: rows outer, columns inner ---------------------------- */

static void col_ln_params_generic(float *restrict dgain, float *restrict dbias, const float *restrict x,
                                  const float *restrict dy, int64_t m, int64_t ld, int64_t n, const float *mean,
                                  const float *invstd)
{
    for (int64_t r = 0; r < m; r++) {
        const float *xr = x + r * ld, *dr = dy + r * ld;
        if (dgain)
            for (int64_t j = 0; j < n; j++)
                dgain[j] += dr[j] * ((xr[j] - mean[r]) * invstd[r]);
        if (dbias)
            for (int64_t j = 0; j < n; j++)
                dbias[j] += dr[j];
    }
}

static void col_sums_generic(float *restrict sums, const float *restrict y, int64_t m, int64_t ld, int64_t n)
{
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < n; j++)
            sums[j] += y[r * ld + j];
}

/* ---- batchnorm, portable: rows outer, channels inner ---------------------------- */

static void col_stats_generic(const float *x, int64_t m, int64_t ld, int64_t n, double *mean, double *var)
{
    for (int64_t j = 0; j < n; j++)
        mean[j] = var[j] = 0.0;
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < n; j++)
            mean[j] += x[r * ld + j];
    for (int64_t j = 0; j < n; j++)
        mean[j] /= (double)m;
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < n; j++) {
            double d = x[r * ld + j] - mean[j];
            var[j] += d * d;
        }
    for (int64_t j = 0; j < n; j++)
        var[j] /= (double)m;
}

static void col_affine_generic(float *y, const float *x, int64_t m, int64_t ld, int64_t n, const float *scale,
                               const float *shift)
{
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < n; j++)
            y[r * ld + j] = x[r * ld + j] * scale[j] + shift[j];
}

static void bn_sums_generic(const float *x, const float *dy, int64_t m, int64_t ld, int64_t n, const float *mean,
                            const float *invstd, double *sdy, double *sdyx)
{
    for (int64_t j = 0; j < n; j++)
        sdy[j] = sdyx[j] = 0.0;
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < n; j++) {
            float xhat = (x[r * ld + j] - mean[j]) * invstd[j];
            sdy[j] += dy[r * ld + j];
            sdyx[j] += dy[r * ld + j] * xhat;
        }
}

static void bn_dx_generic(float *dx, const float *x, const float *dy, int64_t m, int64_t ld, int64_t n,
                          const float *mean, const float *invstd, const float *k, const float *a, const float *b,
                          int fresh)
{
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < n; j++) {
            int64_t i = r * ld + j;
            float d = dy[i];
            if (a) {
                float xhat = (x[i] - mean[j]) * invstd[j];
                d -= a[j] + xhat * b[j];
            }
            float t = k[j] * d;
            dx[i] = fresh ? t : dx[i] + t;
        }
}

#if LT_HAVE_X86_KERNELS
#include <immintrin.h>

/* r[k] becomes column k of the 8 x 8 tile whose rows were r[0..7]. */
__attribute__((target("avx2"), always_inline)) static inline void transpose8(__m256 r[8])
{
    __m256 t[8], u[8];
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
    }
    for (int k = 0; k < 8; k += 4) {
        u[k] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x20);
        r[k + 4] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x31);
    }
}

/* Adds the 8 floats of v, widened, to the 8 doubles (lo: rows 0-3, hi: 4-7). */
__attribute__((target("avx2"), always_inline)) static inline void add_column(__m256d *lo, __m256d *hi, __m256 v)
{
    *lo = _mm256_add_pd(*lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    *hi = _mm256_add_pd(*hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

/* Columns j..j+7 of the block's 8 rows: d[k] holds dh's column j + k, p[k]
 * the float products dh * xh of that column (lane q: row q). */
__attribute__((target("avx2"), always_inline)) static inline void column_tiles(const float *xh, const float *dh,
                                                                              int64_t c, int64_t j, __m256 d[8],
                                                                              __m256 p[8])
{
    for (int q = 0; q < SUM_ROWS; q++) {
        d[q] = _mm256_loadu_ps(dh + q * c + j);
        p[q] = _mm256_mul_ps(d[q], _mm256_loadu_ps(xh + q * c + j));
    }
    transpose8(d);
    transpose8(p);
}

/* AVX2: each transposed column's 8 floats added as two vectors of 4
 * doubles (rows 0-3, rows 4-7). */
__attribute__((target("avx2"))) static void ln_sums_avx2(const float *xh, const float *dh, int64_t c, double *sd,
                                                         double *sdx)
{
    __m256d sd_lo = _mm256_setzero_pd(), sd_hi = _mm256_setzero_pd();
    __m256d sdx_lo = _mm256_setzero_pd(), sdx_hi = _mm256_setzero_pd();
    int64_t j = 0;
    for (; j + 8 <= c; j += 8) {
        __m256 d[8], p[8];
        column_tiles(xh, dh, c, j, d, p);
        for (int k = 0; k < 8; k++) { /* column j + k, in order */
            add_column(&sd_lo, &sd_hi, d[k]);
            add_column(&sdx_lo, &sdx_hi, p[k]);
        }
    }
    _mm256_storeu_pd(sd, sd_lo);
    _mm256_storeu_pd(sd + 4, sd_hi);
    _mm256_storeu_pd(sdx, sdx_lo);
    _mm256_storeu_pd(sdx + 4, sdx_hi);
    ln_sums_from(xh, dh, j, c, sd, sdx);
}

/* AVX-512: the same sums with one vector of 8 doubles per column (half the
 * conversions and additions; each row's chain of additions is the AVX2
 * path's, so its latency still bounds the loop). */
__attribute__((target("avx512f"))) static void ln_sums_avx512(const float *xh, const float *dh, int64_t c, double *sd,
                                                            double *sdx)
{
    __m512d s = _mm512_setzero_pd(), sx = _mm512_setzero_pd();
    int64_t j = 0;
    for (; j + 8 <= c; j += 8) {
        __m256 d[8], p[8];
        column_tiles(xh, dh, c, j, d, p);
        for (int k = 0; k < 8; k++) { /* column j + k, in order */
            s = _mm512_add_pd(s, _mm512_cvtps_pd(d[k]));
            sx = _mm512_add_pd(sx, _mm512_cvtps_pd(p[k]));
        }
    }
    _mm512_storeu_pd(sd, s);
    _mm512_storeu_pd(sdx, sx);
    ln_sums_from(xh, dh, j, c, sd, sdx);
}

/* The four row loops for one vector width: V the vector type, P the
 * intrinsics' prefix, W the lanes. No fused multiply-add anywhere. */
#define ROW_KERNELS(SUFFIX, TARGET, V, P, W)                                                                       \
    __attribute__((target(TARGET))) static int64_t moment_lanes_##SUFFIX(const float *x, int64_t c, float shift,  \
                                                                         int power, float lanes[LANES])           \
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
        for (int k = 0; k < LANES / W; k++)                                                                        \
            P##_storeu_ps(lanes + k * W, acc[k]);                                                                  \
        return j;                                                                                                  \
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
    __attribute__((target(TARGET))) static void ln_terms_##SUFFIX(float *xh, float *dh, float *dgain,          \
                                                                   float *dbias, const float *x, const float *dy, \
                                                                   const float *g, float mu, float is, int64_t c) \
    {                                                                                                              \
        const V m = P##_set1_ps(mu), i = P##_set1_ps(is);                                                          \
        int64_t j = 0;                                                                                             \
        for (; j + W <= c; j += W) {                                                                               \
            const V t = P##_mul_ps(P##_sub_ps(P##_loadu_ps(x + j), m), i), d = P##_loadu_ps(dy + j);               \
            P##_storeu_ps(xh + j, t);                                                                              \
            P##_storeu_ps(dh + j, g ? P##_mul_ps(d, P##_loadu_ps(g + j)) : d);                                     \
            if (dgain)                                                                                             \
                P##_storeu_ps(dgain + j, P##_add_ps(P##_loadu_ps(dgain + j), P##_mul_ps(d, t)));                   \
            if (dbias)                                                                                             \
                P##_storeu_ps(dbias + j, P##_add_ps(P##_loadu_ps(dbias + j), d));                                  \
        }                                                                                                          \
        ln_terms_generic(xh + j, dh + j, dgain ? dgain + j : NULL, dbias ? dbias + j : NULL, x + j, dy + j,        \
                         g ? g + j : NULL, mu, is, c - j);                                                         \
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

/* A float vector's low and high halves, widened to doubles. */
__attribute__((target("avx2"), always_inline)) static inline __m256d lo_avx2(__m256 v)
{
    return _mm256_cvtps_pd(_mm256_castps256_ps128(v));
}
__attribute__((target("avx2"), always_inline)) static inline __m256d hi_avx2(__m256 v)
{
    return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
}
__attribute__((target("avx512f"), always_inline)) static inline __m512d lo_avx512(__m512 v)
{
    return _mm512_cvtps_pd(_mm512_castps512_ps256(v));
}
__attribute__((target("avx512f"), always_inline)) static inline __m512d hi_avx512(__m512 v)
{
    return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

/* The column sums for one vector width W: blocks of COL_VECS vectors of
 * columns, then single vectors, each block's sums held in registers across
 * all the rows (rows in order), then the portable loop for the columns left
 * over. */
#define COL_VECS 4
#define COL_KERNELS(SUFFIX, TARGET, V, P, W)                                                                       \
    __attribute__((target(TARGET), always_inline)) static inline void ln_params_block_##SUFFIX(                   \
        float *dgain, float *dbias, const float *x, const float *dy, int64_t m, int64_t ld, const float *mean,    \
        const float *invstd, int nv)                                                                               \
    {                                                                                                              \
        V g[COL_VECS], b[COL_VECS];                                                                                \
        for (int k = 0; k < nv; k++) {                                                                             \
            g[k] = dgain ? P##_loadu_ps(dgain + k * W) : P##_setzero_ps();                                         \
            b[k] = dbias ? P##_loadu_ps(dbias + k * W) : P##_setzero_ps();                                         \
        }                                                                                                          \
        for (int64_t r = 0; r < m; r++) {                                                                          \
            const V mu = P##_set1_ps(mean[r]), is = P##_set1_ps(invstd[r]);                                        \
            for (int k = 0; k < nv; k++) {                                                                         \
                const V d = P##_loadu_ps(dy + r * ld + k * W);                                                     \
                if (dgain)                                                                                         \
                    g[k] = P##_add_ps(g[k], P##_mul_ps(d, P##_mul_ps(P##_sub_ps(P##_loadu_ps(x + r * ld + k * W),  \
                                                                                mu),                               \
                                                                    is)));                                         \
                if (dbias)                                                                                         \
                    b[k] = P##_add_ps(b[k], d);                                                                    \
            }                                                                                                      \
        }                                                                                                          \
        for (int k = 0; k < nv; k++) {                                                                             \
            if (dgain)                                                                                             \
                P##_storeu_ps(dgain + k * W, g[k]);                                                                \
            if (dbias)                                                                                             \
                P##_storeu_ps(dbias + k * W, b[k]);                                                                \
        }                                                                                                          \
    }                                                                                                              \
                                                                                                                   \
    __attribute__((target(TARGET))) static void col_ln_params_##SUFFIX(float *dgain, float *dbias, const float *x, \
                                                                        const float *dy, int64_t m, int64_t ld,   \
                                                                        int64_t n, const float *mean,             \
                                                                        const float *invstd)                      \
    {                                                                                                              \
        int64_t j = 0;                                                                                             \
        for (; j + COL_VECS * W <= n; j += COL_VECS * W)                                                           \
            ln_params_block_##SUFFIX(dgain ? dgain + j : NULL, dbias ? dbias + j : NULL, x + j, dy + j, m, ld,     \
                                     mean, invstd, COL_VECS);                                                      \
        for (; j + W <= n; j += W)                                                                                 \
            ln_params_block_##SUFFIX(dgain ? dgain + j : NULL, dbias ? dbias + j : NULL, x + j, dy + j, m, ld,     \
                                     mean, invstd, 1);                                                             \
        if (j < n)                                                                                                 \
            col_ln_params_generic(dgain ? dgain + j : NULL, dbias ? dbias + j : NULL, x + j, dy + j, m, ld, n - j, \
                                  mean, invstd);                                                                   \
    }                                                                                                              \
                                                                                                                   \
    __attribute__((target(TARGET), always_inline)) static inline void sums_block_##SUFFIX(                        \
        float *sums, const float *y, int64_t m, int64_t ld, int nv)                                                \
    {                                                                                                              \
        V acc[COL_VECS];                                                                                           \
        for (int k = 0; k < nv; k++)                                                                               \
            acc[k] = P##_loadu_ps(sums + k * W);                                                                   \
        for (int64_t r = 0; r < m; r++)                                                                            \
            for (int k = 0; k < nv; k++)                                                                           \
                acc[k] = P##_add_ps(acc[k], P##_loadu_ps(y + r * ld + k * W));                                     \
        for (int k = 0; k < nv; k++)                                                                               \
            P##_storeu_ps(sums + k * W, acc[k]);                                                                   \
    }                                                                                                              \
                                                                                                                   \
    __attribute__((target(TARGET))) static void col_sums_##SUFFIX(float *sums, const float *y, int64_t m,         \
                                                                   int64_t ld, int64_t n)                         \
    {                                                                                                              \
        int64_t j = 0;                                                                                             \
        for (; j + COL_VECS * W <= n; j += COL_VECS * W)                                                           \
            sums_block_##SUFFIX(sums + j, y + j, m, ld, COL_VECS);                                                 \
        for (; j + W <= n; j += W)                                                                                 \
            sums_block_##SUFFIX(sums + j, y + j, m, ld, 1);                                                        \
        if (j < n)                                                                                                 \
            col_sums_generic(sums + j, y + j, m, ld, n - j);                                                       \
    }

COL_KERNELS(avx2, "avx2", __m256, _mm256, 8)
COL_KERNELS(avx512, "avx512f", __m512, _mm512, 16)

/* Batchnorm's loops for one vector width W (VD: W / 2 doubles). The sums
 * take blocks of 2 W channels, rows inner: accumulator k holds channels
 * [k W / 2, (k + 1) W / 2) of the block, each lane its channel's sum in row
 * order; the portable loop does the channels left over. */
#define BN_KERNELS(SUFFIX, TARGET, V, VD, P, W)                                                                    \
    __attribute__((target(TARGET))) static void col_stats_##SUFFIX(const float *x, int64_t m, int64_t ld,         \
                                                                    int64_t n, double *mean, double *var)         \
    {                                                                                                              \
        const VD md = P##_set1_pd((double)m);                                                                      \
        int64_t j = 0;                                                                                             \
        for (; j + 2 * W <= n; j += 2 * W) {                                                                       \
            VD s[4], mu[4];                                                                                        \
            for (int k = 0; k < 4; k++)                                                                            \
                s[k] = P##_setzero_pd();                                                                           \
            for (int64_t r = 0; r < m; r++)                                                                        \
                for (int h = 0; h < 2; h++) {                                                                      \
                    V v = P##_loadu_ps(x + r * ld + j + h * W);                                                    \
                    s[2 * h] = P##_add_pd(s[2 * h], lo_##SUFFIX(v));                                               \
                    s[2 * h + 1] = P##_add_pd(s[2 * h + 1], hi_##SUFFIX(v));                                       \
                }                                                                                                  \
            for (int k = 0; k < 4; k++) {                                                                          \
                mu[k] = P##_div_pd(s[k], md);                                                                      \
                s[k] = P##_setzero_pd();                                                                           \
            }                                                                                                      \
            for (int64_t r = 0; r < m; r++)                                                                        \
                for (int h = 0; h < 2; h++) {                                                                      \
                    V v = P##_loadu_ps(x + r * ld + j + h * W);                                                    \
                    VD d0 = P##_sub_pd(lo_##SUFFIX(v), mu[2 * h]), d1 = P##_sub_pd(hi_##SUFFIX(v), mu[2 * h + 1]); \
                    s[2 * h] = P##_add_pd(s[2 * h], P##_mul_pd(d0, d0));                                           \
                    s[2 * h + 1] = P##_add_pd(s[2 * h + 1], P##_mul_pd(d1, d1));                                   \
                }                                                                                                  \
            for (int k = 0; k < 4; k++) {                                                                          \
                P##_storeu_pd(mean + j + k * (W / 2), mu[k]);                                                      \
                P##_storeu_pd(var + j + k * (W / 2), P##_div_pd(s[k], md));                                        \
            }                                                                                                      \
        }                                                                                                          \
        if (j < n)                                                                                                 \
            col_stats_generic(x + j, m, ld, n - j, mean + j, var + j);                                             \
    }                                                                                                              \
                                                                                                                   \
    __attribute__((target(TARGET))) static void bn_sums_##SUFFIX(const float *x, const float *dy, int64_t m,      \
                                                                  int64_t ld, int64_t n, const float *mean,       \
                                                                  const float *invstd, double *sdy, double *sdyx) \
    {                                                                                                              \
        int64_t j = 0;                                                                                             \
        for (; j + 2 * W <= n; j += 2 * W) {                                                                       \
            VD sd[4], sx[4];                                                                                       \
            for (int k = 0; k < 4; k++)                                                                            \
                sd[k] = sx[k] = P##_setzero_pd();                                                                  \
            const V mu0 = P##_loadu_ps(mean + j), mu1 = P##_loadu_ps(mean + j + W);                                \
            const V is0 = P##_loadu_ps(invstd + j), is1 = P##_loadu_ps(invstd + j + W);                            \
            for (int64_t r = 0; r < m; r++)                                                                        \
                for (int h = 0; h < 2; h++) {                                                                      \
                    const float *xr = x + r * ld + j + h * W, *dr = dy + r * ld + j + h * W;                       \
                    V xh = P##_mul_ps(P##_sub_ps(P##_loadu_ps(xr), h ? mu1 : mu0), h ? is1 : is0);                 \
                    V d = P##_loadu_ps(dr), p = P##_mul_ps(d, xh);                                                 \
                    sd[2 * h] = P##_add_pd(sd[2 * h], lo_##SUFFIX(d));                                             \
                    sd[2 * h + 1] = P##_add_pd(sd[2 * h + 1], hi_##SUFFIX(d));                                     \
                    sx[2 * h] = P##_add_pd(sx[2 * h], lo_##SUFFIX(p));                                             \
                    sx[2 * h + 1] = P##_add_pd(sx[2 * h + 1], hi_##SUFFIX(p));                                     \
                }                                                                                                  \
            for (int k = 0; k < 4; k++) {                                                                          \
                P##_storeu_pd(sdy + j + k * (W / 2), sd[k]);                                                       \
                P##_storeu_pd(sdyx + j + k * (W / 2), sx[k]);                                                      \
            }                                                                                                      \
        }                                                                                                          \
        if (j < n)                                                                                                 \
            bn_sums_generic(x + j, dy + j, m, ld, n - j, mean + j, invstd + j, sdy + j, sdyx + j);                 \
    }                                                                                                              \
                                                                                                                   \
    __attribute__((target(TARGET))) static void col_affine_##SUFFIX(float *y, const float *x, int64_t m,          \
                                                                     int64_t ld, int64_t n, const float *scale,   \
                                                                     const float *shift)                          \
    {                                                                                                              \
        for (int64_t r = 0; r < m; r++) {                                                                          \
            const float *xr = x + r * ld;                                                                          \
            float *yr = y + r * ld;                                                                                \
            int64_t j = 0;                                                                                         \
            for (; j + W <= n; j += W)                                                                             \
                P##_storeu_ps(yr + j, P##_add_ps(P##_mul_ps(P##_loadu_ps(xr + j), P##_loadu_ps(scale + j)),        \
                                                 P##_loadu_ps(shift + j)));                                        \
            if (j < n)                                                                                             \
                col_affine_generic(yr + j, xr + j, 1, ld, n - j, scale + j, shift + j);                            \
        }                                                                                                          \
    }                                                                                                              \
                                                                                                                   \
    __attribute__((target(TARGET))) static void bn_dx_##SUFFIX(                                                   \
        float *dx, const float *x, const float *dy, int64_t m, int64_t ld, int64_t n, const float *mean,          \
        const float *invstd, const float *k, const float *a, const float *b, int fresh)                           \
    {                                                                                                              \
        for (int64_t r = 0; r < m; r++) {                                                                          \
            const float *xr = x + r * ld, *dr = dy + r * ld;                                                       \
            float *dxr = dx + r * ld;                                                                              \
            int64_t j = 0;                                                                                         \
            for (; j + W <= n; j += W) {                                                                           \
                V d = P##_loadu_ps(dr + j);                                                                        \
                if (a) {                                                                                           \
                    V xh = P##_mul_ps(P##_sub_ps(P##_loadu_ps(xr + j), P##_loadu_ps(mean + j)),                    \
                                      P##_loadu_ps(invstd + j));                                                   \
                    d = P##_sub_ps(d, P##_add_ps(P##_loadu_ps(a + j), P##_mul_ps(xh, P##_loadu_ps(b + j))));       \
                }                                                                                                  \
                V t = P##_mul_ps(P##_loadu_ps(k + j), d);                                                          \
                P##_storeu_ps(dxr + j, fresh ? t : P##_add_ps(P##_loadu_ps(dxr + j), t));                          \
            }                                                                                                      \
            if (j < n)                                                                                             \
                bn_dx_generic(dxr + j, xr + j, dr + j, 1, ld, n - j, mean + j, invstd + j, k + j, a ? a + j : NULL, \
                              b ? b + j : NULL, fresh);                                                            \
        }                                                                                                          \
    }

BN_KERNELS(avx2, "avx2", __m256, __m256d, _mm256, 8)
BN_KERNELS(avx512, "avx512f", __m512, __m512d, _mm512, 16)

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

void lt_vrows_moment(const float *x, int64_t ld, int rows, int64_t c, const float *shift, int power, double *out)
{
    float lanes[LT_MOMENT_ROWS][LANES] = {{0}}; /* rows past `rows` add zeros, unread */
    double total[LT_MOMENT_ROWS] = {0};
    const int p = path(); /* asked once for the block */
    for (int q = 0; q < rows; q++) {
        const float *xq = x + q * ld;
        const float sq = shift ? shift[q] : 0.0f;
        int64_t j;
#if LT_HAVE_X86_KERNELS
        if (p == 2)
            j = moment_lanes_avx512(xq, c, sq, power, lanes[q]);
        else if (p == 1)
            j = moment_lanes_avx2(xq, c, sq, power, lanes[q]);
        else
#endif
            j = moment_lanes_generic(xq, c, sq, power, lanes[q]);
        total[q] = moment_tail(xq, j, c, sq, power);
    }
    /* each row's lanes in order; the rows' chains of dependent double adds
     * are independent, and side by side (a fixed count, in registers) the
     * core overlaps them */
    for (int k = 0; k < LANES; k++)
        for (int q = 0; q < LT_MOMENT_ROWS; q++)
            total[q] += lanes[q][k];
    for (int q = 0; q < rows; q++)
        out[q] = total[q];
}

void lt_vln_sums(const float *xh, const float *dh, int64_t c, double *sd, double *sdx)
{
#if LT_HAVE_X86_KERNELS
    switch (path()) {
    case 2: ln_sums_avx512(xh, dh, c, sd, sdx); return;
    case 1: ln_sums_avx2(xh, dh, c, sd, sdx); return;
    default: break;
    }
#endif
    ln_sums_generic(xh, dh, c, sd, sdx);
}

void lt_vrow_affine(float *y, const float *x, int64_t c, float mu, float is, const float *g, const float *b)
{
    DISPATCH(affine, y, x, c, mu, is, g, b)
}

void lt_vrow_ln_terms(float *xh, float *dh, float *dgain, float *dbias, const float *x, const float *dy,
                      const float *g, float mu, float is, int64_t c)
{
    DISPATCH(ln_terms, xh, dh, dgain, dbias, x, dy, g, mu, is, c)
}

void lt_vrow_ln_dx(float *dx, const float *xh, const float *dh, float is, float md, float mdx, int64_t c, int fresh)
{
    DISPATCH(ln_dx, dx, xh, dh, is, md, mdx, c, fresh)
}

void lt_vcol_stats(const float *x, int64_t m, int64_t ld, int64_t n, double *mean, double *var)
{
    DISPATCH(col_stats, x, m, ld, n, mean, var)
}

void lt_vcol_affine(float *y, const float *x, int64_t m, int64_t ld, int64_t n, const float *scale,
                    const float *shift)
{
    DISPATCH(col_affine, y, x, m, ld, n, scale, shift)
}

void lt_vcol_bn_sums(const float *x, const float *dy, int64_t m, int64_t ld, int64_t n, const float *mean,
                     const float *invstd, double *sdy, double *sdyx)
{
    DISPATCH(bn_sums, x, dy, m, ld, n, mean, invstd, sdy, sdyx)
}

void lt_vcol_bn_dx(float *dx, const float *x, const float *dy, int64_t m, int64_t ld, int64_t n, const float *mean,
                   const float *invstd, const float *k, const float *a, const float *b, int fresh)
{
    DISPATCH(bn_dx, dx, x, dy, m, ld, n, mean, invstd, k, a, b, fresh)
}

void lt_vcol_ln_params(float *dgain, float *dbias, const float *x, const float *dy, int64_t m, int64_t ld, int64_t n,
                       const float *mean, const float *invstd)
{
    DISPATCH(col_ln_params, dgain, dbias, x, dy, m, ld, n, mean, invstd)
}

void lt_vcol_sums_add(float *sums, const float *y, int64_t m, int64_t ld, int64_t n)
{
    DISPATCH(col_sums, sums, y, m, ld, n)
}
