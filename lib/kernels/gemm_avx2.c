/* gemm_avx2.c - the AVX2+FMA tile kernel (see gemm.h, lt_gemm_tile_fn).
 *
 * Tile: up to 6 rows x 16 columns (2 ymm vectors of 8 floats per row): 12
 * accumulators + 2 B vectors + 1 broadcast of the 16 ymm registers. Each
 * depth step loads 2 B vectors and broadcasts 6 A values for 12 FMAs.
 *
 * Ragged columns use vmaskmovps (fault-suppressing, so B's rows are read in
 * place with no padding); ragged rows use a kernel compiled for that row
 * count. Every (rows, vectors) pair is its own function so the compiler
 * keeps the accumulators in registers. */
#include "kernels/gemm.h"

#if LT_HAVE_X86_KERNELS

#include <immintrin.h>

#define TAVX2 __attribute__((target("avx2,fma")))
#define INLINE2 static inline __attribute__((always_inline)) TAVX2

/* Loops over rows and vectors must be unrolled before scalar replacement so
 * the accumulator array lives in registers (without this GCC 12 also stores
 * every accumulator to the stack on each depth step). */
#define UNROLL _Pragma("GCC unroll 16")

#define MR 6
#define NV 2 /* vectors of 8 floats per row: nr = 16 */

INLINE2 __m256i lane_mask(int n) /* lanes < n set */
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The tile body for `rows` rows and `nv` vectors (compile-time constants);
 * the last vector has `tail` valid lanes (1..8) and `last` is their mask. */
INLINE2 void tile_body(const int rows, const int nv, int64_t kc, const float *a, int64_t a_rs, int64_t a_cs,
                       const float *b, int64_t ldb, float *c, int64_t ldc, int tail, bool accumulate, const float *bias)
{
    __m256i last = lane_mask(tail);
    bool full = tail == 8;
    __m256 acc[MR][NV];
    UNROLL for (int i = 0; i < rows; i++)
        UNROLL for (int v = 0; v < nv; v++)
            acc[i][v] = _mm256_setzero_ps();
    for (int64_t p = 0; p < kc; p++, a += a_cs, b += ldb) {
        __m256 bv[NV];
        UNROLL for (int v = 0; v < nv; v++)
            bv[v] = v == nv - 1 && !full ? _mm256_maskload_ps(b + 8 * v, last) : _mm256_loadu_ps(b + 8 * v);
        UNROLL for (int i = 0; i < rows; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i * a_rs);
            UNROLL for (int v = 0; v < nv; v++)
                acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
        }
    }
    if (accumulate && !full) {
        /* Ragged columns with accumulation: all loads of C before any store
         * (a masked store's 32-byte span reaches into the next row, and a
         * load overlapping a pending store waits for it to retire). */
        UNROLL for (int i = 0; i < rows; i++)
            UNROLL for (int v = 0; v < nv; v++)
                acc[i][v] = _mm256_add_ps(acc[i][v], v == nv - 1 ? _mm256_maskload_ps(c + i * ldc + 8 * v, last)
                                                                 : _mm256_loadu_ps(c + i * ldc + 8 * v));
        accumulate = false;
    }
    if (bias) { /* one row of vectors, added to every row */
        __m256 bb[NV];
        UNROLL for (int v = 0; v < nv; v++)
            bb[v] = v == nv - 1 && !full ? _mm256_maskload_ps(bias + 8 * v, last) : _mm256_loadu_ps(bias + 8 * v);
        UNROLL for (int i = 0; i < rows; i++)
            UNROLL for (int v = 0; v < nv; v++)
                acc[i][v] = _mm256_add_ps(acc[i][v], bb[v]);
    }
    UNROLL for (int i = 0; i < rows; i++, c += ldc)
        UNROLL for (int v = 0; v < nv; v++) {
            __m256 r = acc[i][v];
            if (accumulate) /* full vectors only */
                r = _mm256_add_ps(r, _mm256_loadu_ps(c + 8 * v));
            if (v == nv - 1 && !full)
                _mm256_maskstore_ps(c + 8 * v, last, r);
            else
                _mm256_storeu_ps(c + 8 * v, r);
        }
}

typedef void (*tile2_fn)(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs, const float *b, int64_t ldb,
                         float *c, int64_t ldc, int tail, bool accumulate, const float *bias);

#define TILE(R, V)                                                                                               \
    static TAVX2 void tile_##R##x##V(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs, const float *b,     \
                                     int64_t ldb, float *c, int64_t ldc, int tail, bool accumulate,              \
                                     const float *bias)                                                          \
    {                                                                                                            \
        tile_body(R, V, kc, a, a_rs, a_cs, b, ldb, c, ldc, tail, accumulate, bias);                              \
    }
#define TILES(V) TILE(1, V) TILE(2, V) TILE(3, V) TILE(4, V) TILE(5, V) TILE(6, V)
TILES(1)
TILES(2)

#define ROW(V) {tile_1x##V, tile_2x##V, tile_3x##V, tile_4x##V, tile_5x##V, tile_6x##V}
static const tile2_fn tiles[NV][MR] = {ROW(1), ROW(2)};

static TAVX2 void tile_avx2(int rows, int cols, int64_t kc, const float *a, int64_t a_rs, int64_t a_cs,
                            const float *b, int64_t ldb, float *c, int64_t ldc, bool accumulate, const float *bias)
{
    int nv = (cols + 7) / 8;
    tiles[nv - 1][rows - 1](kc, a, a_rs, a_cs, b, ldb, c, ldc, cols - 8 * (nv - 1), accumulate, bias);
}

/* ---- packing a column-major op(B) into rows ----------------------------------
 * 8x8 blocks transposed in registers; ragged blocks load and store under
 * masks (vmaskmovps), so there is no scalar tail. */

INLINE2 void transpose8(__m256 r[8])
{
    __m256 t[8], s[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int h = 0; h < 2; h++) {
        s[4 * h + 0] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
        s[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xEE);
        s[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
        s[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
    }
}

static TAVX2 void transpose_avx2(int64_t kc, int64_t nc, const float *src, int64_t ss, float *dst, int64_t ldd)
{
    for (int64_t j = 0; j < nc; j += 8) {
        int jn = nc - j < 8 ? (int)(nc - j) : 8;
        __m256i jm = lane_mask(jn);
        for (int64_t p = 0; p < kc; p += 8) {
            int pn = kc - p < 8 ? (int)(kc - p) : 8;
            __m256i pm = lane_mask(pn);
            __m256 r[8];
            UNROLL for (int i = 0; i < 8; i++) /* r[i]: column j+i of op(B), depths p.. */
                r[i] = i >= jn ? _mm256_setzero_ps()
                       : pn == 8 ? _mm256_loadu_ps(src + (j + i) * ss + p)
                                 : _mm256_maskload_ps(src + (j + i) * ss + p, pm);
            transpose8(r);
            UNROLL for (int q = 0; q < 8; q++)
                if (q < pn) {
                    if (jn == 8)
                        _mm256_storeu_ps(dst + (p + q) * ldd + j, r[q]);
                    else
                        _mm256_maskstore_ps(dst + (p + q) * ldd + j, jm, r[q]);
                }
        }
    }
}

const lt_gemm_kernel lt_gemm_kernel_avx2 = {"avx2", MR, 8 * NV, NULL, tile_avx2, transpose_avx2, {0, 0, NULL}};

#else
typedef int lt_gemm_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
