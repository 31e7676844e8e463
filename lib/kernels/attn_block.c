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

/* 0, 1, 2, ...: the maximum compares a lane's query index with a key's
 * hidden count through this table, so the compiler emits a vector compare
 * and select instead of splitting the loop at the boundary into two ragged
 * loops. */
static const int lane_index[LT_ATTN_MAX_ROWS] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                                 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
                                                 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47,
                                                 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63};

BODY void max_body(const lt_attn_block *b, float *restrict m)
{
    for (int64_t i = 0; i < b->rows; i++)
        m[i] = -INFINITY;
    for (int64_t j = 0; j < b->n; j++) {
        const float *restrict x = b->pt + j * b->ld;
        int hidden = (int)lt_attn_hidden(b, j);
        for (int64_t i = 0; i < b->rows; i++)
            m[i] = lane_index[i] >= hidden && x[i] > m[i] ? x[i] : m[i];
    }
}

BODY void shift_body(const lt_attn_block *b, const float *restrict m)
{
    for (int64_t j = 0; j < b->n; j++) {
        float *restrict x = b->pt + j * b->ld;
        int64_t hidden = lt_attn_hidden(b, j);
        for (int64_t i = 0; i < b->rows; i++) /* whole rows: a vector loop with no ragged start */
            x[i] -= m[i];
        for (int64_t i = 0; i < hidden; i++)
            x[i] = -INFINITY;
    }
}

BODY void inv_sums_body(const lt_attn_block *b, float *restrict inv)
{
    double s[LT_ATTN_MAX_ROWS];
    for (int64_t i = 0; i < b->rows; i++)
        s[i] = 0;
    for (int64_t j = 0; j < b->n; j++) {
        const float *restrict x = b->pt + j * b->ld;
        for (int64_t i = 0; i < b->rows; i++)
            s[i] += x[i];
    }
    for (int64_t i = 0; i < b->rows; i++)
        inv[i] = (float)(1.0 / s[i]);
}

BODY void scale_body(const lt_attn_block *b, const float *restrict c)
{
    for (int64_t j = 0; j < b->n; j++) {
        float *restrict x = b->pt + j * b->ld;
        for (int64_t i = 0; i < b->rows; i++)
            x[i] *= c[i];
    }
}

BODY void dscores_body(const lt_attn_block *b, float *restrict dp, float s)
{
    double delta[LT_ATTN_MAX_ROWS];
    float df[LT_ATTN_MAX_ROWS];
    for (int64_t i = 0; i < b->rows; i++)
        delta[i] = 0;
    for (int64_t j = 0; j < b->n; j++) {
        const float *restrict x = b->pt + j * b->ld, *restrict d = dp + j * b->ld;
        for (int64_t i = 0; i < b->rows; i++)
            delta[i] += (double)x[i] * d[i];
    }
    for (int64_t i = 0; i < b->rows; i++)
        df[i] = (float)delta[i];
    for (int64_t j = 0; j < b->n; j++) {
        const float *restrict x = b->pt + j * b->ld;
        float *restrict d = dp + j * b->ld;
        for (int64_t i = 0; i < b->rows; i++)
            d[i] = s * (x[i] * (d[i] - df[i]));
    }
}

BODY void mul_body(float *restrict x, int64_t rows, int64_t cols, int64_t ld, float s)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            x[r * ld + c] *= s;
}

/* The six functions for one ISA: NAME##_<fn> with attribute ATTR. */
#define ATTN_LOOPS(NAME, ATTR)                                                                              \
    ATTR static void NAME##_max(const lt_attn_block *b, float *m) { max_body(b, m); }                       \
    ATTR static void NAME##_shift(const lt_attn_block *b, const float *m) { shift_body(b, m); }             \
    ATTR static void NAME##_inv_sums(const lt_attn_block *b, float *inv) { inv_sums_body(b, inv); }         \
    ATTR static void NAME##_scale(const lt_attn_block *b, const float *c) { scale_body(b, c); }             \
    ATTR static void NAME##_dscores(const lt_attn_block *b, float *dp, float s) { dscores_body(b, dp, s); } \
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
