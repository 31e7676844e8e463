/* gemm.h - single-precision matrix product used by matmul and its backward
 * (internal; not installed).
 *
 *     C (+)= op(A) @ op(B)      op(A): (m,k)   op(B): (k,n)   C: (m,n)
 *
 * Every matrix is a pointer plus a row stride and a column stride, in
 * elements, so a transposed view is just the same pointer with the strides
 * swapped: no operand is ever copied into a transposed layout by the caller.
 * Strides must be non-negative; any values work, but the packing loops are
 * fastest when one of the two strides of each operand is 1.
 *
 * Design (the classic Goto/BLIS layering):
 *   - loop over column blocks of C (NC) and over the inner dimension (KC);
 *     op(B)'s (KC,NC) block is packed into panels NR columns wide;
 *   - loop over row blocks (MC); op(A)'s (MC,KC) block is packed into panels
 *     MR rows tall;
 *   - the micro-kernel multiplies one A panel by one B panel into an (MR,NR)
 *     tile of C held in registers.
 * Packing makes the kernel's reads unit-stride whatever the operands'
 * layouts, and zero-pads ragged edges so the kernel always sees full tiles.
 *
 * The micro-kernel is isolated behind lt_gemm_kernel so that ISA-specific
 * kernels (AVX2, AVX-512) can be added later and chosen at run time; the
 * blocking code only reads the kernel's tile size. */
#ifndef LT_GEMM_H
#define LT_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The (mr,nr) tile  C = (or += when accumulate) sum_p a[p*mr + i] * b[p*nr + j]
 * for i < mr, j < nr, p < kc. a and b are packed panels (see gemm.c); C is
 * row-major with row stride ldc and unit column stride. kc may be 0. */
typedef void (*lt_gemm_ukernel_fn)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                                   bool accumulate);

typedef struct lt_gemm_kernel {
    const char *name; /* "generic", ... (for benchmarks and tests) */
    int mr, nr;       /* tile size; the blocking code adapts to it (mr*nr <= 1024) */
    lt_gemm_ukernel_fn fn;
} lt_gemm_kernel;

/* The portable C kernel (the compiler vectorises it for the baseline ISA). */
extern const lt_gemm_kernel lt_gemm_kernel_generic;

/* The kernel lt_sgemm uses. */
const lt_gemm_kernel *lt_gemm_active_kernel(void);

/* Floats of scratch memory lt_sgemm needs for an (m,n,k) product (packed
 * panels of A and B); 0 when it needs none. The caller provides it (ops take
 * it from the context's arena) so that gemm itself never allocates. */
size_t lt_sgemm_work_floats(int64_t m, int64_t n, int64_t k);

/* C (+)= op(A) @ op(B). With accumulate false C is overwritten (its previous
 * contents, even NaN, are ignored); with accumulate true the product is
 * added to C. work must hold lt_sgemm_work_floats(m, n, k) floats and be
 * 16-byte aligned (64 is better). C must not overlap A or B. */
void lt_sgemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t a_rs, int64_t a_cs, const float *b,
              int64_t b_rs, int64_t b_cs, float *c, int64_t c_rs, int64_t c_cs, bool accumulate, float *work);

/* The same with an explicit kernel (tests check every kernel against a
 * reference; benchmarks compare them). */
void lt_sgemm_with(const lt_gemm_kernel *kernel, int64_t m, int64_t n, int64_t k, const float *a, int64_t a_rs,
                   int64_t a_cs, const float *b, int64_t b_rs, int64_t b_cs, float *c, int64_t c_rs, int64_t c_cs,
                   bool accumulate, float *work);
size_t lt_sgemm_work_floats_with(const lt_gemm_kernel *kernel, int64_t m, int64_t n, int64_t k);

#endif
