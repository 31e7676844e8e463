/* gemm_split.h - one matrix product split across the context's threads
 * (internal; not installed). gemm.h computes a product; threads.h runs the
 * blocks. */
#ifndef LT_GEMM_SPLIT_H
#define LT_GEMM_SPLIT_H

#include "core/internal.h"
#include "kernels/gemm.h"

/* lt_sgemm (C (+)= op(A) @ op(B), op(A) (m,k), op(B) (k,n)) split across
 * the context's threads when large enough to pay for it: C's rows or its
 * columns (the longer side; the columns of a square C whose op(B) is
 * column-major; the other side when that one is too short) in blocks,
 * each task one lt_sgemm call on its block with its own slice of scratch
 * memory, taken here from the arena. Blocks start at multiples of 16 rows
 * or columns; every element is computed exactly as by one lt_sgemm call
 * over the whole product (the kernels compute each element on its own, in
 * an order that does not depend on the tiling), whatever the thread count.
 * bias: NULL, or (n,) unit-stride with accumulate false: C = op(A) @ op(B) +
 * bias (lt_sgemm_bias). False (LT_ERR_MEMORY recorded) when the scratch
 * memory cannot be had; C is then untouched. */
bool lt_sgemm_par(lt_ctx *ctx, int64_t m, int64_t n, int64_t k, lt_mat a, lt_mat b, lt_mat_out c, bool accumulate,
                  const float *bias);

#endif
