/* gemm_avx512.c - the AVX-512 tile kernel (see gemm.h, lt_gemm_tile_fn).
 *
 * Tile: up to 8 rows x 48 columns (3 zmm vectors of 16 floats per row), so
 * 24 accumulators + 3 B vectors + 1 broadcast of the 32 zmm registers. Each
 * depth step loads 3 B vectors and broadcasts 8 A values for 24 FMAs: with
 * Zen 5's two 512-bit FMA pipes that is 12 cycles of FMA work against 11
 * loads, and 24 independent accumulator chains cover the FMA latency.
 * Why 8x48: the training batch of 32 rows is 4 whole tiles, and with 3
 * vectors per row the loads stay under the FMAs at each step; the other tile
 * shapes tried and their figures are in docs/performance.md ("Kernel
 * choices").
 *
 * Ragged columns use masked loads and stores (AVX-512 masks suppress faults
 * on masked-off lanes, so B's rows are read in place with no padding and
 * nothing outside the tile is touched); ragged rows use a kernel compiled for
 * that row count. Every (rows, vectors) pair is its own function so the
 * compiler keeps the accumulators in registers. */
#include "kernels/gemm.h"

#if LT_HAVE_X86_KERNELS

#include <immintrin.h>

#define T512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))
#define INLINE512 static inline __attribute__((always_inline)) T512

/* Loops over rows and vectors must be unrolled before scalar replacement so
 * the accumulator array lives in registers (without this GCC 12 also stores
 * every accumulator to the stack on each depth step). */
#define UNROLL _Pragma("GCC unroll 16")

#define MR 8
#define NV 3 /* vectors of 16 floats per row: nr = 48 */
/* The wide tile: 6 rows x 64 columns, 24 accumulators + 4 B vectors + 1
 * broadcast. Each depth step loads 4 B vectors and broadcasts 6 A values for
 * 24 FMAs (10 loads, against 11 for 8x48). For n = 64 (a head size) the
 * 8x48 tiles leave a 16-column strip, whose 8x16 tile makes 8 FMAs for 9
 * loads; lt_gemm_kernel.wide lets a caller take the 64 columns in one
 * tile instead (attention.c does; docs/performance.md, "Attention"). */
#define WIDE_MR 6
#define WIDE_NV 4
#define MAX_NV 4

/* The tile body for `rows` rows and `nv` vectors (compile-time constants at
 * every call site); `last` masks the last vector's columns. */
INLINE512 void tile_body(const int rows, const int nv, int64_t kc, const float *a, int64_t a_rs, int64_t a_cs,
                         const float *b, int64_t ldb, float *c, int64_t ldc, __mmask16 last, bool accumulate,
                         const float *bias)
{
    __m512 acc[MR][MAX_NV];
    UNROLL for (int i = 0; i < rows; i++)
        UNROLL for (int v = 0; v < nv; v++)
            acc[i][v] = _mm512_setzero_ps();
    for (int64_t p = 0; p < kc; p++, a += a_cs, b += ldb) {
        __m512 bv[MAX_NV];
        UNROLL for (int v = 0; v < nv; v++)
            bv[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(last, b + 16 * v) : _mm512_loadu_ps(b + 16 * v);
        UNROLL for (int i = 0; i < rows; i++) {
            __m512 ai = _mm512_set1_ps(a[i * a_rs]);
            UNROLL for (int v = 0; v < nv; v++)
                acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
        }
    }
    if (accumulate && last != 0xFFFF) {
        /* Ragged columns with accumulation: all loads of C before any store.
         * The masked store's 64-byte span reaches into the next row (ldc is
         * not a multiple of 16 here), and a load that overlaps a pending
         * store, even in masked-off lanes, waits for it to retire. */
        UNROLL for (int i = 0; i < rows; i++)
            UNROLL for (int v = 0; v < nv; v++)
                acc[i][v] = _mm512_add_ps(
                    acc[i][v], _mm512_maskz_loadu_ps(v == nv - 1 ? last : (__mmask16)0xFFFF, c + i * ldc + 16 * v));
        accumulate = false;
    }
    if (bias) { /* one row of vectors, added to every row */
        __m512 bb[MAX_NV];
        UNROLL for (int v = 0; v < nv; v++)
            bb[v] = _mm512_maskz_loadu_ps(v == nv - 1 ? last : (__mmask16)0xFFFF, bias + 16 * v);
        UNROLL for (int i = 0; i < rows; i++)
            UNROLL for (int v = 0; v < nv; v++)
                acc[i][v] = _mm512_add_ps(acc[i][v], bb[v]);
    }
    UNROLL for (int i = 0; i < rows; i++, c += ldc)
        UNROLL for (int v = 0; v < nv; v++) {
            __m512 r = acc[i][v];
            if (accumulate) /* full vectors only */
                r = _mm512_add_ps(r, _mm512_loadu_ps(c + 16 * v));
            _mm512_mask_storeu_ps(c + 16 * v, v == nv - 1 ? last : (__mmask16)0xFFFF, r);
        }
}

typedef void (*tile512_fn)(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs, const float *b, int64_t ldb,
                           float *c, int64_t ldc, __mmask16 last, bool accumulate, const float *bias);

#define TILE(R, V)                                                                                               \
    static T512 void tile_##R##x##V(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs, const float *b,      \
                                    int64_t ldb, float *c, int64_t ldc, __mmask16 last, bool accumulate,         \
                                    const float *bias)                                                           \
    {                                                                                                            \
        tile_body(R, V, kc, a, a_rs, a_cs, b, ldb, c, ldc, last, accumulate, bias);                              \
    }
#define WIDE_TILES(V) TILE(1, V) TILE(2, V) TILE(3, V) TILE(4, V) TILE(5, V) TILE(6, V)
#define TILES(V) WIDE_TILES(V) TILE(7, V) TILE(8, V)
TILES(1)
TILES(2)
TILES(3)
WIDE_TILES(4)

#define ROW(V) {tile_1x##V, tile_2x##V, tile_3x##V, tile_4x##V, tile_5x##V, tile_6x##V, tile_7x##V, tile_8x##V}
static const tile512_fn tiles[NV][MR] = {ROW(1), ROW(2), ROW(3)};

static T512 void tile512(int rows, int cols, int64_t kc, const float *a, int64_t a_rs, int64_t a_cs, const float *b,
                         int64_t ldb, float *c, int64_t ldc, bool accumulate, const float *bias)
{
    int nv = (cols + 15) / 16;
    __mmask16 last = (__mmask16)(0xFFFFu >> (16 * nv - cols));
    tiles[nv - 1][rows - 1](kc, a, a_rs, a_cs, b, ldb, c, ldc, last, accumulate, bias);
}

static const tile512_fn wide_tiles[WIDE_MR] = {tile_1x4, tile_2x4, tile_3x4, tile_4x4, tile_5x4, tile_6x4};

/* Up to 6 rows x 64 columns; fewer than 49 columns go to tile512's tiles. */
static T512 void wide512(int rows, int cols, int64_t kc, const float *a, int64_t a_rs, int64_t a_cs, const float *b,
                         int64_t ldb, float *c, int64_t ldc, bool accumulate, const float *bias)
{
    if (cols <= 16 * NV) {
        tile512(rows, cols, kc, a, a_rs, a_cs, b, ldb, c, ldc, accumulate, bias);
        return;
    }
    __mmask16 last = (__mmask16)(0xFFFFu >> (16 * WIDE_NV - cols));
    wide_tiles[rows - 1](kc, a, a_rs, a_cs, b, ldb, c, ldc, last, accumulate, bias);
}

/* ---- packing a column-major op(B) into rows ----------------------------------
 * 16x16 blocks transposed in registers: unpack pairs of rows, shuffle 4x4
 * blocks inside each 128-bit lane, then gather the lanes (64 shuffles per
 * 256 floats). Ragged blocks load and store under masks: no scalar tail. */

INLINE512 void transpose16(__m512 r[16])
{
    __m512 t[16], s[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* s[4g+q], lane L: column 4L+q of rows 4g..4g+3 */
    for (int g = 0; g < 4; g++) {
        s[4 * g + 0] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
        s[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
        s[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
        s[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
    }
    /* column 4L+q = lane L of s[q], s[4+q], s[8+q], s[12+q] */
    for (int q = 0; q < 4; q++) {
        __m512 even0 = _mm512_shuffle_f32x4(s[q], s[4 + q], 0x88), even1 = _mm512_shuffle_f32x4(s[8 + q], s[12 + q], 0x88);
        __m512 odd0 = _mm512_shuffle_f32x4(s[q], s[4 + q], 0xDD), odd1 = _mm512_shuffle_f32x4(s[8 + q], s[12 + q], 0xDD);
        r[q] = _mm512_shuffle_f32x4(even0, even1, 0x88);
        r[8 + q] = _mm512_shuffle_f32x4(even0, even1, 0xDD);
        r[4 + q] = _mm512_shuffle_f32x4(odd0, odd1, 0x88);
        r[12 + q] = _mm512_shuffle_f32x4(odd0, odd1, 0xDD);
    }
}

static T512 void transpose512(int64_t kc, int64_t nc, const float *src, int64_t ss, float *dst, int64_t ldd)
{
    for (int64_t j = 0; j < nc; j += 16) {
        int jn = nc - j < 16 ? (int)(nc - j) : 16;
        __mmask16 jm = (__mmask16)(0xFFFFu >> (16 - jn));
        for (int64_t p = 0; p < kc; p += 16) {
            int pn = kc - p < 16 ? (int)(kc - p) : 16;
            __mmask16 pm = (__mmask16)(0xFFFFu >> (16 - pn));
            __m512 r[16];
            UNROLL for (int i = 0; i < 16; i++) /* r[i]: column j+i of op(B), depths p.. */
                r[i] = i < jn ? _mm512_maskz_loadu_ps(pm, src + (j + i) * ss + p) : _mm512_setzero_ps();
            transpose16(r);
            UNROLL for (int q = 0; q < 16; q++)
                if (q < pn)
                    _mm512_mask_storeu_ps(dst + (p + q) * ldd + j, jm, r[q]);
        }
    }
}

const lt_gemm_kernel lt_gemm_kernel_avx512 = {
    "avx512", MR, 16 * NV, NULL, tile512, transpose512, {WIDE_MR, 16 * WIDE_NV, wide512}};

#else
typedef int lt_gemm_avx512_unused; /* ISO C forbids an empty translation unit */
#endif
