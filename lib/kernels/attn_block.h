/* attn_block.h - the elementwise loops over one block of attention scores,
 * compiled for each ISA level (internal; not installed).
 *
 * lib/ops/attention.c holds a query block's scores transposed: an (n, rows)
 * matrix, keys by queries, so that every per-query maximum and sum runs down
 * the columns and each loop here is a plain loop along a row of queries,
 * which the compiler vectorises at the width of the ISA it is compiled for
 * (SSE2 for the portable build, AVX2, AVX-512). The loops are the same C in
 * every version, and sums accumulate over the keys in order, so the results
 * do not depend on the ISA: ISO C mode (-std=c11) contracts no multiply-add,
 * and the exp of the scores is vmath.h's, chosen separately. */
#ifndef LT_ATTN_BLOCK_H
#define LT_ATTN_BLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/cpu.h"

/* Most queries in a block (the loops keep per-query sums on the stack). */
#define LT_ATTN_MAX_ROWS 64

/* A block: x[j][i] = pt[j * ld + i] for keys j < n and queries i < rows
 * (rows <= LT_ATTN_MAX_ROWS); the block's first query is r0. When causal,
 * key j is hidden from queries r0 + i < j (lt_attn_hidden). */
typedef struct lt_attn_block {
    float *pt;
    int64_t n, rows, ld, r0;
    bool causal;
} lt_attn_block;

/* How many of the block's first queries key j is hidden from. */
static inline int64_t lt_attn_hidden(const lt_attn_block *b, int64_t j)
{
    if (!b->causal || j <= b->r0)
        return 0;
    return j - b->r0 < b->rows ? j - b->r0 : b->rows;
}

typedef struct lt_attn_loops {
    /* m[i] = the largest visible x[j][i] over j (-inf when none; NaN is
     * ignored, as in softmax.c: it reaches the output through exp(NaN - m)). */
    void (*max)(const lt_attn_block *b, float *m);
    /* x[j][i] -= m[i]; hidden entries become -inf (exp: 0). */
    void (*shift)(const lt_attn_block *b, const float *m);
    /* inv[i] = 1 / sum_j x[j][i], the sum accumulated in double over the
     * keys in order. */
    void (*inv_sums)(const lt_attn_block *b, float *inv);
    /* x[j][i] *= c[i]. */
    void (*scale)(const lt_attn_block *b, const float *c);
    /* The softmax backward, x holding P^T and dp dP^T (same row stride):
     * dp[j][i] = s * x[j][i] * (dp[j][i] - delta_i), delta_i = sum_j x[j][i]
     * * dp[j][i] accumulated in double over the keys in order. */
    void (*dscores)(const lt_attn_block *b, float *dp, float s);
    /* x[r * ld + c] *= s for r < rows, c < cols. */
    void (*mul)(float *x, int64_t rows, int64_t cols, int64_t ld, float s);
} lt_attn_loops;

/* The loops compiled for isa (the portable ones when that level is not
 * compiled in). */
const lt_attn_loops *lt_attn_loops_for(lt_isa isa);

#endif
