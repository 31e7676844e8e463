/* gemm.h - single-precision matrix product used by matmul, linear and their
 * backward (internal; not installed). gemm_split.h splits one across the
 * context's threads.
 *
 *     C (+)= op(A) @ op(B)      op(A): (m,k)   op(B): (k,n)   C: (m,n)
 *
 * Every matrix is an lt_mat: a pointer plus a row stride and a column
 * stride, in elements, so a transposed view is just the same pointer with
 * the strides swapped (lt_mat_t): no operand is ever copied into a
 * transposed layout by the caller. Strides must be non-negative; any values
 * work, but the packing loops are fastest when one of the two strides of
 * each operand is 1.
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
 * That is the portable path. The SIMD kernels (AVX2+FMA 6x16, AVX-512
 * 8x48; gemm_avx2.c, gemm_avx512.c) are built for this library's small
 * shapes (k and n of a few hundred at most), where packing costs as much as
 * the product: they broadcast op(A) straight from its own memory (any
 * strides), read op(B) in place when its rows are unit-stride and it is
 * small, and handle ragged n with masked loads and stores, so a product like
 * (32,30) @ (30,200) copies nothing. The kernel is chosen at run time from
 * lt_cpu_isa() (cpu.h; LT_ISA=generic|avx2|avx512 caps it). */
#ifndef LT_GEMM_H
#define LT_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/cpu.h"

/* A matrix operand: element (i, j) at data[i * rs + j * cs]. */
typedef struct lt_mat {
    const float *data;
    int64_t rs, cs; /* row and column strides, in elements */
} lt_mat;

/* The matrix a product writes, laid out as an lt_mat. */
typedef struct lt_mat_out {
    float *data;
    int64_t rs, cs;
} lt_mat_out;

/* The transpose of m: the same memory with the strides swapped. */
static inline lt_mat lt_mat_t(lt_mat m) { return (lt_mat){m.data, m.cs, m.rs}; }

/* The (mr,nr) tile  C = (or += when accumulate) sum_p a[p*mr + i] * b[p*nr + j]
 * for i < mr, j < nr, p < kc. a and b are packed panels (see gemm.c); C is
 * row-major with row stride ldc and unit column stride. kc may be 0. */
typedef void (*lt_gemm_ukernel_fn)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                                   bool accumulate);

/* A strided tile, for the SIMD kernels, which read operands in place:
 *     C[i][j] (+)= sum_{p<kc} A[i*a_rs + p*a_cs] * B[p*ldb + j]
 * for i < rows <= mr, j < cols <= nr. A may have any strides (its values are
 * broadcast one at a time); B's rows are read with vector loads, masked so
 * that nothing past column cols is touched; C (unit column stride, row
 * stride ldc) is written only inside the rows x cols tile. kc >= 1. bias
 * (NULL: none; only with accumulate false): C[i][j] = sum + bias[j], the
 * same bits as adding the sum to a C whose rows hold the bias. */
typedef void (*lt_gemm_tile_fn)(int rows, int cols, int64_t kc, const float *a, int64_t a_rs, int64_t a_cs,
                                const float *b, int64_t ldb, float *c, int64_t ldc, bool accumulate,
                                const float *bias);

/* dst[p*ldd + j] = src[p + j*ss] for p < kc, j < nc: the (nc,kc) row-major
 * block at src, transposed (packs a column-major op(B) into rows). */
typedef void (*lt_gemm_transpose_fn)(int64_t kc, int64_t nc, const float *src, int64_t ss, float *dst, int64_t ldd);

typedef struct lt_gemm_kernel {
    const char *name; /* "generic", "avx2", "avx512" (for benchmarks and tests) */
    int mr, nr;       /* (largest) tile size (mr*nr <= 1024) */
    /* Exactly one of fn / tile is set. fn: a packed-panel kernel run by the
     * portable Goto driver (packs both operands). tile: a strided kernel run
     * by the direct driver (reads A in place, B in place when its rows are
     * unit-stride and small, else packs B with `transpose` or a copy). */
    lt_gemm_ukernel_fn fn;
    lt_gemm_tile_fn tile;
    lt_gemm_transpose_fn transpose; /* NULL: a scalar loop */
    /* Optional (tile set): a second tile shape, wider and shorter, for
     * products whose n is a multiple of wide.nr but not of nr (AVX-512:
     * 6x64 for n = 64 or 256, where 8x48 tiles leave a 16-column strip);
     * the direct driver picks it itself, callers of `tile` may too.
     * Same contract as `tile` with rows <= wide.mr, cols <= wide.nr.
     * wide.tile NULL: none. */
    struct {
        int mr, nr;
        lt_gemm_tile_fn tile;
    } wide;
} lt_gemm_kernel;

/* The portable C kernel (the compiler vectorises it for the baseline ISA). */
extern const lt_gemm_kernel lt_gemm_kernel_generic;
#if LT_HAVE_X86_KERNELS
extern const lt_gemm_kernel lt_gemm_kernel_avx2;   /* gemm_avx2.c */
extern const lt_gemm_kernel lt_gemm_kernel_avx512; /* gemm_avx512.c */
#endif

/* The kernel for an ISA level (see cpu.h), or NULL when that level is not
 * compiled in or the CPU lacks it. LT_ISA_GENERIC always has a kernel. */
const lt_gemm_kernel *lt_gemm_kernel_for(lt_isa isa);

/* A tile shape of a kernel with a tile function, and that function. */
typedef struct lt_gemm_tile {
    int mr, nr;
    lt_gemm_tile_fn fn;
} lt_gemm_tile;

/* The tile for a product n columns wide: the kernel's wide one when n is a
 * multiple of its width but not of the kernel's own nr (AVX-512: n = 64 or
 * 256 in 6x64 tiles, where 8x48 tiles leave a 16-column strip of 8x16
 * tiles, which make 8 FMAs for 9 loads), else the kernel's own. Every
 * element's sum runs in the same order in any tile: the choice changes the
 * speed only. k->tile must be set. */
lt_gemm_tile lt_gemm_tile_for(const lt_gemm_kernel *k, int64_t n);

/* The kernel lt_sgemm uses: lt_gemm_kernel_for(lt_cpu_isa()). */
const lt_gemm_kernel *lt_gemm_active_kernel(void);

/* Floats of scratch memory lt_sgemm needs for an (m,n,k) product (packed
 * panels of A and B); 0 when it needs none. The caller provides it (ops take
 * it from the context's arena) so that gemm itself never allocates. */
size_t lt_sgemm_work_floats(int64_t m, int64_t n, int64_t k);

/* C (+)= op(A) @ op(B) for op(A) (m,k), op(B) (k,n), C (m,n). With
 * accumulate false C is overwritten (its previous contents, even NaN, are
 * ignored); with accumulate true the product is added to C. work must hold
 * lt_sgemm_work_floats(m, n, k) floats and be 16-byte aligned (64 is
 * better). C must not overlap A or B. */
void lt_sgemm(int64_t m, int64_t n, int64_t k, lt_mat a, lt_mat b, lt_mat_out c, bool accumulate, float *work);

/* C = op(A) @ op(B) + bias, bias (n,) unit-stride added to every row (a
 * linear layer's epilogue): the same bits as filling C's rows with bias and
 * accumulating, without that pass (the tile kernels add it in registers). */
void lt_sgemm_bias(int64_t m, int64_t n, int64_t k, lt_mat a, lt_mat b, lt_mat_out c, const float *bias, float *work);

/* The same with an explicit kernel (tests check every kernel against a
 * reference; benchmarks compare them). */
void lt_sgemm_with(const lt_gemm_kernel *kernel, int64_t m, int64_t n, int64_t k, lt_mat a, lt_mat b, lt_mat_out c,
                   bool accumulate, float *work);
void lt_sgemm_bias_with(const lt_gemm_kernel *kernel, int64_t m, int64_t n, int64_t k, lt_mat a, lt_mat b,
                        lt_mat_out c, const float *bias, float *work);
size_t lt_sgemm_work_floats_with(const lt_gemm_kernel *kernel, int64_t m, int64_t n, int64_t k);

#endif
