/* attn_block.c - the loops of attn_block.h, written once as inline bodies
 * and compiled for the portable baseline, AVX2 and AVX-512 (the compiler
 * vectorises each at its ISA's width). */
#include "kernels/attn_block.h"

#include <math.h>

#if defined(__GNUC__) || defined(__clang__)
#define BODY static inline __attribute__((always_inline))
#else
#define BODY static inline
#endif

/* Before each loop along a row of queries: not unrolled before the
 * vectoriser sees it (with a constant row count, BY_ROWS below, GCC would
 * otherwise unroll it completely into scalar code). */
#if defined(__GNUC__) && !defined(__clang__)
#define ROW_LOOP _Pragma("GCC unroll 1")
#else
#define ROW_LOOP
#endif

/* 0, 1, 2, ...: the maximum compares a lane's query index with a key's
 * hidden count through this table, so the compiler emits a vector compare
 * and select instead of splitting the loop at the boundary into two ragged
 * loops. */
static const int lane_index[LT_ATTN_MAX_ROWS] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                                 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
                                                 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47,
                                                 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63};

BODY void max_body(const lt_attn_block *b, const int64_t rows, float *restrict m)
{
    ROW_LOOP for (int64_t i = 0; i < rows; i++)
        m[i] = -INFINITY;
    for (int64_t j = 0; j < b->n; j++) {
        const float *restrict x = b->pt + j * b->ld;
        int hidden = (int)lt_attn_hidden(b, j);
        ROW_LOOP for (int64_t i = 0; i < rows; i++)
            m[i] = ((lane_index[i] >= hidden) & (x[i] > m[i])) ? x[i] : m[i]; /* &: no branch */
    }
}

BODY void shift_body(const lt_attn_block *b, const int64_t rows, const float *restrict m)
{
    for (int64_t j = 0; j < b->n; j++) {
        float *restrict x = b->pt + j * b->ld;
        int64_t hidden = lt_attn_hidden(b, j);
        ROW_LOOP for (int64_t i = 0; i < rows; i++) /* whole rows: a vector loop with no ragged start */
            x[i] -= m[i];
        for (int64_t i = 0; i < hidden; i++)
            x[i] = -INFINITY;
    }
}

BODY void inv_sums_body(const lt_attn_block *b, const int64_t rows, float *restrict inv)
{
    double s[LT_ATTN_MAX_ROWS];
    ROW_LOOP for (int64_t i = 0; i < rows; i++)
        s[i] = 0;
    for (int64_t j = 0; j < b->n; j++) {
        const float *restrict x = b->pt + j * b->ld;
        ROW_LOOP for (int64_t i = 0; i < rows; i++)
            s[i] += x[i];
    }
    ROW_LOOP for (int64_t i = 0; i < rows; i++)
        inv[i] = (float)(1.0 / s[i]);
}

BODY void scale_body(const lt_attn_block *b, const int64_t rows, const float *restrict c)
{
    for (int64_t j = 0; j < b->n; j++) {
        float *restrict x = b->pt + j * b->ld;
        ROW_LOOP for (int64_t i = 0; i < rows; i++)
            x[i] *= c[i];
    }
}

BODY void dscores_body(const lt_attn_block *b, const int64_t rows, float *restrict dp, float s)
{
    double delta[LT_ATTN_MAX_ROWS];
    float df[LT_ATTN_MAX_ROWS];
    ROW_LOOP for (int64_t i = 0; i < rows; i++)
        delta[i] = 0;
    for (int64_t j = 0; j < b->n; j++) {
        const float *restrict x = b->pt + j * b->ld, *restrict d = dp + j * b->ld;
        ROW_LOOP for (int64_t i = 0; i < rows; i++)
            delta[i] += (double)x[i] * d[i];
    }
    ROW_LOOP for (int64_t i = 0; i < rows; i++)
        df[i] = (float)delta[i];
    for (int64_t j = 0; j < b->n; j++) {
        const float *restrict x = b->pt + j * b->ld;
        float *restrict d = dp + j * b->ld;
        ROW_LOOP for (int64_t i = 0; i < rows; i++)
            d[i] = s * (x[i] * (d[i] - df[i]));
    }
}

BODY void mul_body(float *restrict x, int64_t rows, int64_t cols, int64_t ld, float s)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            x[r * ld + c] *= s;
}

/* A body called with the block's row count, made a constant for the
 * common counts (makemore's T = 16, and full 48-query blocks) so that the
 * compiler unrolls the loop along a row into whole vectors with no
 * remainder; the same per-element operations in the same order, so the
 * same bits. */
#define BY_ROWS(BODY_FN, b, ...)                   \
    do {                                           \
        if ((b)->rows == 16)                       \
            BODY_FN(b, 16, __VA_ARGS__);           \
        else if ((b)->rows == 48)                  \
            BODY_FN(b, 48, __VA_ARGS__);           \
        else                                       \
            BODY_FN(b, (b)->rows, __VA_ARGS__);    \
    } while (0)

/* The six functions for one ISA: NAME##_<fn> with attribute ATTR. */
#define ATTN_LOOPS(NAME, ATTR)                                                                              \
    ATTR static void NAME##_max(const lt_attn_block *b, float *m) { BY_ROWS(max_body, b, m); }              \
    ATTR static void NAME##_shift(const lt_attn_block *b, const float *m) { BY_ROWS(shift_body, b, m); }    \
    ATTR static void NAME##_inv_sums(const lt_attn_block *b, float *inv) { BY_ROWS(inv_sums_body, b, inv); } \
    ATTR static void NAME##_scale(const lt_attn_block *b, const float *c) { BY_ROWS(scale_body, b, c); }    \
    ATTR static void NAME##_dscores(const lt_attn_block *b, float *dp, float s)                             \
    {                                                                                                       \
        BY_ROWS(dscores_body, b, dp, s);                                                                    \
    }                                                                                                       \
    ATTR static void NAME##_mul(float *x, int64_t rows, int64_t cols, int64_t ld, float s)                  \
    {                                                                                                       \
        mul_body(x, rows, cols, ld, s);                                                                     \
    }                                                                                                       \
    static const lt_attn_loops NAME##_loops = {NAME##_max,   NAME##_shift,   NAME##_inv_sums,               \
                                               NAME##_scale, NAME##_dscores, NAME##_mul};

ATTN_LOOPS(generic, )
#if LT_HAVE_X86_KERNELS
ATTN_LOOPS(avx2, __attribute__((target("avx2,fma"))))
ATTN_LOOPS(avx512, __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))))
#endif

const lt_attn_loops *lt_attn_loops_for(lt_isa isa)
{
#if LT_HAVE_X86_KERNELS
    if (isa == LT_ISA_AVX512)
        return &avx512_loops;
    if (isa == LT_ISA_AVX2)
        return &avx2_loops;
#endif
    (void)isa;
    return &generic_loops;
}
