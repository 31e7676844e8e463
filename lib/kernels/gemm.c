/* gemm.c - portable cache-blocked, register-tiled SGEMM (see gemm.h).
 *
 * Packed layouts (mr, nr: the kernel's tile size):
 *   A block (mc,kc) -> ceil(mc/mr) panels; panel r holds, for p = 0..kc-1,
 *                      the mr values op(A)[r*mr + i][p] (i = 0..mr-1);
 *   B block (kc,nc) -> ceil(nc/nr) panels; panel q holds, for p = 0..kc-1,
 *                      the nr values op(B)[p][q*nr + j] (j = 0..nr-1).
 * Rows/columns past the edge are packed as zeros, so the kernel always
 * computes a full tile; a partial tile is computed into a scratch tile and
 * only its valid part is written to C. */
#include "kernels/gemm.h"

/* Block sizes in elements. KC*NR floats of B (a micro-panel) stay in L1
 * while the kernel sweeps the A block (MC*KC floats, ~96 KiB) held in L2;
 * the B block (KC*NC floats, 1 MiB) lives in L2/L3. */
#define LT_GEMM_MC 96
#define LT_GEMM_KC 256
#define LT_GEMM_NC 1024

/* Largest tile any kernel may use (bounds the on-stack scratch tile). */
#define LT_GEMM_MAX_TILE (32 * 32)

/* ---- the portable micro-kernel ---------------------------------------------
 * 4x8: 32 accumulators, i.e. 8 registers of 4-wide SSE (the x86-64
 * baseline), plus two B vectors and an A broadcast, well inside the 16
 * registers. Loops have constant trip counts, so the compiler unrolls them
 * fully and vectorises the j loop. 6x8 and 8x8 spill accumulators and ran
 * slower (docs/performance.md, "Kernel choices"). */
#define GEN_MR 4
#define GEN_NR 8

/* Copying a and b into local arrays each step matters: without it GCC 12
 * cannot prove the tile does not alias the panels and vectorises along p
 * with shuffles instead, several times slower (docs/performance.md). */
static void ukernel_generic(int64_t kc, const float *restrict a, const float *restrict b, float *restrict c,
                            int64_t ldc, bool accumulate)
{
    float acc[GEN_MR][GEN_NR];
    for (int i = 0; i < GEN_MR; i++)
        for (int j = 0; j < GEN_NR; j++)
            acc[i][j] = 0.0f;
    for (int64_t p = 0; p < kc; p++, a += GEN_MR, b += GEN_NR) {
        float av[GEN_MR], bv[GEN_NR];
        for (int i = 0; i < GEN_MR; i++)
            av[i] = a[i];
        for (int j = 0; j < GEN_NR; j++)
            bv[j] = b[j];
        for (int i = 0; i < GEN_MR; i++)
            for (int j = 0; j < GEN_NR; j++)
                acc[i][j] += av[i] * bv[j];
    }
    if (accumulate)
        for (int i = 0; i < GEN_MR; i++)
            for (int j = 0; j < GEN_NR; j++)
                c[i * ldc + j] += acc[i][j];
    else
        for (int i = 0; i < GEN_MR; i++)
            for (int j = 0; j < GEN_NR; j++)
                c[i * ldc + j] = acc[i][j];
}

const lt_gemm_kernel lt_gemm_kernel_generic = {"generic", GEN_MR, GEN_NR, ukernel_generic, NULL, NULL, {0, 0, NULL}};

/* Indexed by lt_isa; a level that is not compiled in falls back to generic. */
static const lt_gemm_kernel *const kernels[] = {
    &lt_gemm_kernel_generic,
#if LT_HAVE_X86_KERNELS
    &lt_gemm_kernel_avx2,
    &lt_gemm_kernel_avx512,
#else
    &lt_gemm_kernel_generic,
    &lt_gemm_kernel_generic,
#endif
};

const lt_gemm_kernel *lt_gemm_kernel_for(lt_isa isa)
{
    if (isa < LT_ISA_GENERIC || isa > lt_cpu_isa_supported())
        return NULL;
    return kernels[isa];
}

/* lt_cpu_isa() never exceeds what the CPU supports. */
const lt_gemm_kernel *lt_gemm_active_kernel(void) { return kernels[lt_cpu_isa()]; }

/* ---- packing ---------------------------------------------------------------- */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t round_up(int64_t n, int64_t to) { return (n + to - 1) / to * to; }

/* Packs rows [0,rows) x cols [0,depth) of a matrix (pointer already at the
 * block's corner) into panels of `w` rows: panel r, depth p, lane i holds
 * x[(r*w + i)*rs + p*ds]. Used for A (lanes = rows of op(A)) and for B
 * (lanes = columns of op(B), with the strides swapped). Lanes past `rows`
 * are zero. The loop order follows the unit stride so reads are sequential. */
static void pack_panels(float *restrict dst, const float *restrict x, int64_t rows, int64_t depth, int64_t rs,
                        int64_t ds, int w)
{
    for (int64_t r0 = 0; r0 < rows; r0 += w) {
        int64_t lanes = min64(w, rows - r0);
        const float *xr = x + r0 * rs;
        if (lanes == w && rs == 1) {
            /* lanes contiguous: copy w values per depth step (a loop, not
             * memcpy: the copies are too short for a library call) */
            for (int64_t p = 0; p < depth; p++)
                for (int i = 0; i < w; i++)
                    dst[p * w + i] = xr[p * ds + i];
        } else {
            /* depth contiguous (or ragged edge): walk each lane along p */
            for (int64_t i = 0; i < lanes; i++)
                for (int64_t p = 0; p < depth; p++)
                    dst[p * w + i] = xr[i * rs + p * ds];
            for (int64_t i = lanes; i < w; i++)
                for (int64_t p = 0; p < depth; p++)
                    dst[p * w + i] = 0.0f;
        }
        dst += depth * w;
    }
}

/* ---- blocking ---------------------------------------------------------------- */

typedef struct {
    const lt_gemm_kernel *k;
    float *c;
    int64_t c_rs, c_cs;
} gemm_out;

/* One (mr,nr) tile of C at (i,j), `rows` x `cols` of it valid. Full tiles of
 * a C with unit column stride are written by the kernel directly; the rest go
 * through a scratch tile. */
static void tile(const gemm_out *o, const float *ap, const float *bp, int64_t kc, int64_t i, int64_t j,
                 int64_t rows, int64_t cols, bool accumulate)
{
    const lt_gemm_kernel *k = o->k;
    float *c = o->c + i * o->c_rs + j * o->c_cs;
    if (rows == k->mr && cols == k->nr && o->c_cs == 1) {
        k->fn(kc, ap, bp, c, o->c_rs, accumulate);
        return;
    }
    float t[LT_GEMM_MAX_TILE];
    k->fn(kc, ap, bp, t, k->nr, false);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t s = 0; s < cols; s++) {
            float *cr = c + r * o->c_rs + s * o->c_cs;
            *cr = accumulate ? *cr + t[r * k->nr + s] : t[r * k->nr + s];
        }
}

/* The macro-kernel: a packed (mc,kc) A block times a packed (kc,nc) B block
 * into C[i0.., j0..]. */
static void macro(const gemm_out *o, const float *pa, const float *pb, int64_t mc, int64_t nc, int64_t kc,
                  int64_t i0, int64_t j0, bool accumulate)
{
    int mr = o->k->mr, nr = o->k->nr;
    for (int64_t jr = 0; jr < nc; jr += nr) {
        const float *bp = pb + (jr / nr) * kc * nr;
        int64_t cols = min64(nr, nc - jr);
        for (int64_t ir = 0; ir < mc; ir += mr)
            tile(o, pa + (ir / mr) * kc * mr, bp, kc, i0 + ir, j0 + jr, min64(mr, mc - ir), cols, accumulate);
    }
}

static int64_t block_m(const lt_gemm_kernel *k) { return round_up(LT_GEMM_MC, k->mr); }
static int64_t block_n(const lt_gemm_kernel *k) { return round_up(LT_GEMM_NC, k->nr); }

/* Floats of the packed A block, rounded to 64 bytes so B stays aligned. */
static int64_t a_block_floats(const lt_gemm_kernel *k, int64_t m, int64_t kc)
{
    return round_up(round_up(min64(m, block_m(k)), k->mr) * kc, 16);
}

static int64_t work_floats(const lt_gemm_kernel *k, int64_t m, int64_t n, int64_t kc)
{
    return a_block_floats(k, m, kc) + round_up(min64(n, block_n(k)), k->nr) * kc;
}

/* ---- the direct driver (kernels with a tile function) -------------------------
 * Loops: column blocks of C (LT_DIRECT_NC, only when B is packed) > depth
 * blocks (LT_DIRECT_KC) > row tiles (mr) > column tiles (nr). op(A) is broadcast in place; a row tile's (mr,kc) slice
 * is reused across the column tiles from L1. op(B) is read in place when its
 * rows are unit-stride and it is small (it then stays in L1/L2 on its own);
 * otherwise each (kc,nc) block is packed into rows of a multiple of 16
 * floats, by a transpose when op(B) is column-major. */
#define LT_DIRECT_KC 256
#define LT_DIRECT_NC 512
/* op(B) up to this many floats (128 KiB) is read in place when unit-stride. */
#define LT_DIRECT_B_MAX (32 * 1024)
/* A column-major op(A) is broadcast in place while a depth step's values for
 * one tile share a cache line or two; beyond that leading dimension each
 * depth step costs a line, and the tile's slice is packed instead. */
#define LT_DIRECT_A_MAX_LD 256

/* C of more floats than this (8 MiB) is prefetched a row tile ahead; below,
 * it is likely in L2/L3 and prefetching measured slower (docs/performance.md,
 * "Kernel choices"; bench/bench_gemm.c). */
#define LT_PREFETCH_C_MIN (2 * 1024 * 1024)

/* op(B)'s rows are unit-stride and already as close as packing would put
 * them (one column block, rows at most a packed row's length apart): the
 * packed copy would hold the same rows in the same layout, so the kernel
 * reads them in place, however large op(B) is (a transformer's dW = dY^T X
 * with X (512,256) copied 512 KiB a product). */
static bool b_rows_as_packed(int64_t n, int64_t b_rs, int64_t b_cs)
{
    return b_cs == 1 && n <= LT_DIRECT_NC && b_rs <= round_up(n, 16);
}

static int64_t direct_b_floats(int64_t n, int64_t kd)
{
    return min64(kd, LT_DIRECT_KC) * round_up(min64(n, LT_DIRECT_NC), 16);
}

static int64_t direct_work_floats(const lt_gemm_kernel *k, int64_t m, int64_t n, int64_t kd)
{
    (void)m;
    int mr = k->mr > k->wide.mr ? k->mr : k->wide.mr; /* A's slice for either tile */
    return direct_b_floats(n, kd) + (int64_t)mr * min64(kd, LT_DIRECT_KC);
}

size_t lt_sgemm_work_floats_with(const lt_gemm_kernel *k, int64_t m, int64_t n, int64_t kd)
{
    if (m <= 0 || n <= 0 || kd <= 0)
        return 0;
    /* enough for either orientation: lt_sgemm_with may solve C^T instead */
    int64_t w, wt;
    if (k->tile) {
        w = direct_work_floats(k, m, n, kd);
        wt = direct_work_floats(k, n, m, kd);
    } else {
        int64_t kc = min64(kd, LT_GEMM_KC);
        w = work_floats(k, m, n, kc);
        wt = work_floats(k, n, m, kc);
    }
    return (size_t)(w > wt ? w : wt);
}

size_t lt_sgemm_work_floats(int64_t m, int64_t n, int64_t k)
{
    return lt_sgemm_work_floats_with(lt_gemm_active_kernel(), m, n, k);
}

static void zero_or_keep(float *c, int64_t m, int64_t n, int64_t rs, int64_t cs, bool accumulate)
{
    if (accumulate)
        return; /* C += (empty sum) */
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            c[i * rs + j * cs] = 0.0f;
}

/* dst[p*ldd + j] = op(B)[p][j] for a (kc,nc) block of any layout. */
static void pack_b_rows(const lt_gemm_kernel *k, float *restrict dst, int64_t ldd, const float *restrict b,
                        int64_t kc, int64_t nc, int64_t b_rs, int64_t b_cs)
{
    if (b_rs == 1 && nc > 1) {
        if (k->transpose) {
            k->transpose(kc, nc, b, b_cs, dst, ldd);
            return;
        }
        for (int64_t j = 0; j < nc; j++) /* read along the unit stride */
            for (int64_t p = 0; p < kc; p++)
                dst[p * ldd + j] = b[j * b_cs + p];
        return;
    }
    for (int64_t p = 0; p < kc; p++)
        for (int64_t j = 0; j < nc; j++)
            dst[p * ldd + j] = b[p * b_rs + j * b_cs];
}

lt_gemm_tile lt_gemm_tile_for(const lt_gemm_kernel *k, int64_t n)
{
    if (k->wide.tile && n % k->wide.nr == 0 && n % k->nr != 0)
        return (lt_gemm_tile){k->wide.mr, k->wide.nr, k->wide.tile};
    return (lt_gemm_tile){k->mr, k->nr, k->tile};
}

/* A tile of a C with no unit stride (column-major C was transposed away):
 * computed into a scratch tile, then added or copied. Kept out of line: with
 * the 4 KiB scratch tile inlined into sgemm_direct's frame the training
 * products measured slower (the stack's position relative to the operands
 * matters; most likely 4 KiB address aliasing; docs/performance.md). */
#if defined(__GNUC__) || defined(__clang__)
#define LT_NOINLINE __attribute__((noinline))
#else
#define LT_NOINLINE
#endif
static LT_NOINLINE void scattered_tile(const lt_gemm_tile *k, int rows, int cols, int64_t kc, const float *a,
                                       int64_t a_rs, int64_t a_cs, const float *b, int64_t ldb, float *c, int64_t c_rs,
                                       int64_t c_cs, bool accumulate, const float *bias)
{
    float t[LT_GEMM_MAX_TILE];
    k->fn(rows, cols, kc, a, a_rs, a_cs, b, ldb, t, k->nr, false, bias);
    if (c_rs == 1) { /* C^T solved for a row-major C: walk C's rows, whose tile parts are contiguous */
        for (int s = 0; s < cols; s++)
            for (int r = 0; r < rows; r++) {
                float *cr = c + r + s * c_cs;
                *cr = accumulate ? *cr + t[r * k->nr + s] : t[r * k->nr + s];
            }
        return;
    }
    for (int r = 0; r < rows; r++)
        for (int s = 0; s < cols; s++) {
            float *cr = c + r * c_rs + s * c_cs;
            *cr = accumulate ? *cr + t[r * k->nr + s] : t[r * k->nr + s];
        }
}

static inline void direct_tile(const lt_gemm_tile *k, int rows, int cols, int64_t kc, const float *a, int64_t a_rs,
                               int64_t a_cs, const float *b, int64_t ldb, float *c, int64_t c_rs, int64_t c_cs,
                               bool accumulate, const float *bias)
{
    if (c_cs == 1)
        k->fn(rows, cols, kc, a, a_rs, a_cs, b, ldb, c, c_rs, accumulate, bias);
    else
        scattered_tile(k, rows, cols, kc, a, a_rs, a_cs, b, ldb, c, c_rs, c_cs, accumulate, bias);
}

/* Asks for the next row tile's part of C (rows x cols, unit column stride)
 * while this one computes: a tall C streams from memory, and the hardware
 * prefetchers follow one stream better than a tile's interleaved rows. */
static void prefetch_rows(const float *c, int rows, int64_t cols, int64_t c_rs)
{
#if defined(__GNUC__) || defined(__clang__)
    for (int r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols + 15; j += 16)
            __builtin_prefetch(c + r * c_rs + min64(j, cols - 1), 1, 3);
#else
    (void)c, (void)rows, (void)cols, (void)c_rs;
#endif
}

static bool direct_a_in_place(int64_t m, int64_t kd, int64_t a_rs, int64_t a_cs)
{
    return a_cs == 1 || kd == 1 || ((a_rs == 1 || m == 1) && a_cs <= LT_DIRECT_A_MAX_LD);
}

static void sgemm_direct(const lt_gemm_kernel *k, int64_t m, int64_t n, int64_t kd, const float *a, int64_t a_rs,
                         int64_t a_cs, const float *b, int64_t b_rs, int64_t b_cs, float *c, int64_t c_rs,
                         int64_t c_cs, bool accumulate, const float *bias, float *work)
{
    bool b_in_place = ((b_cs == 1 || n == 1) && kd * n <= LT_DIRECT_B_MAX) || b_rows_as_packed(n, b_rs, b_cs);
    bool a_in_place = direct_a_in_place(m, kd, a_rs, a_cs);
    lt_gemm_tile ts = lt_gemm_tile_for(k, n); /* each element's sum is the same in any tile */
    int mr = ts.mr, nr = ts.nr;
    int64_t nb = b_in_place ? n : LT_DIRECT_NC;
    bool prefetch_c = c_cs == 1 && m * n > LT_PREFETCH_C_MIN;
    float *pb = work, *pa = work + direct_b_floats(n, kd);
    for (int64_t j0 = 0; j0 < n; j0 += nb) {
        int64_t nc = min64(nb, n - j0);
        for (int64_t p0 = 0; p0 < kd; p0 += LT_DIRECT_KC) {
            int64_t kc = min64(LT_DIRECT_KC, kd - p0), ldb = b_rs;
            const float *bp = b + p0 * b_rs + j0 * b_cs;
            if (!b_in_place) {
                ldb = round_up(nc, 16);
                pack_b_rows(k, pb, ldb, bp, kc, nc, b_rs, b_cs);
                bp = pb;
            }
            bool acc = accumulate || p0 > 0;
            const float *bias_block = bias && p0 == 0 ? bias + j0 : NULL; /* with the first depth block */
            for (int64_t i0 = 0; i0 < m; i0 += mr) {
                int rows = (int)min64(mr, m - i0);
                const float *ap = a + i0 * a_rs + p0 * a_cs;
                int64_t ars = a_rs, acs = a_cs;
                if (!a_in_place) { /* the tile's (rows,kc) slice, column-major */
                    if (a_rs == 1)
                        for (int64_t p = 0; p < kc; p++)
                            for (int i = 0; i < rows; i++) /* unit stride: vectorised */
                                pa[p * mr + i] = ap[p * a_cs + i];
                    else
                        for (int64_t p = 0; p < kc; p++)
                            for (int i = 0; i < rows; i++)
                                pa[p * mr + i] = ap[i * a_rs + p * a_cs];
                    ap = pa;
                    ars = 1;
                    acs = mr;
                }
                float *ct = c + i0 * c_rs + j0 * c_cs;
                if (prefetch_c && i0 + mr < m)
                    prefetch_rows(ct + mr * c_rs, (int)min64(mr, m - i0 - mr), nc, c_rs);
                for (int64_t jr = 0; jr < nc; jr += nr)
                    direct_tile(&ts, rows, (int)min64(nr, nc - jr), kc, ap, ars, acs, bp + jr, ldb, ct + jr * c_cs,
                                c_rs, c_cs, acc, bias_block ? bias_block + jr : NULL);
            }
        }
    }
}

/* The product on raw pointers and strides: C (+)= op(A) @ op(B). */
static void sgemm_strided(const lt_gemm_kernel *k, int64_t m, int64_t n, int64_t kd, const float *a, int64_t a_rs,
                          int64_t a_cs, const float *b, int64_t b_rs, int64_t b_cs, float *c, int64_t c_rs,
                          int64_t c_cs, bool accumulate, float *work)
{
    if (m <= 0 || n <= 0)
        return;
    if (kd <= 0) {
        zero_or_keep(c, m, n, c_rs, c_cs, accumulate);
        return;
    }
    /* The kernel writes rows of C with unit column stride. A column-major C
     * is the row-major C^T = op(B)^T op(A)^T: swap the operands instead of
     * scattering every tile. */
    if (c_cs != 1 && c_rs == 1 && n > 1) {
        sgemm_strided(k, n, m, kd, b, b_cs, b_rs, a, a_cs, a_rs, c, c_cs, c_rs, accumulate, work);
        return;
    }
    if (k->tile) {
        /* A tall, narrow C whose op(A) would be packed a row tile at a
         * time while op(B)^T can be broadcast in place (dW2 = h^T dlogits,
         * (2048,256) @ (256,27) with h (256,2048)): solve C^T = op(B)^T
         * op(A)^T instead, whose tiles run along C's long side and read h's
         * rows as packed B; each tile is then added into C through the
         * scratch tile. The same sums, so the same bits. */
        if (n < m && !direct_a_in_place(m, kd, a_rs, a_cs) && direct_a_in_place(n, kd, b_cs, b_rs)) {
            sgemm_direct(k, n, m, kd, b, b_cs, b_rs, a, a_cs, a_rs, c, c_cs, c_rs, accumulate, NULL, work);
            return;
        }
        sgemm_direct(k, m, n, kd, a, a_rs, a_cs, b, b_rs, b_cs, c, c_rs, c_cs, accumulate, NULL, work);
        return;
    }
    gemm_out o = {k, c, c_rs, c_cs};
    int64_t mb = block_m(k), nb = block_n(k);
    float *pa = work, *pb = work + a_block_floats(k, m, min64(kd, LT_GEMM_KC));
    for (int64_t j0 = 0; j0 < n; j0 += nb) {
        int64_t nc = min64(nb, n - j0);
        for (int64_t p0 = 0; p0 < kd; p0 += LT_GEMM_KC) {
            int64_t kc = min64(LT_GEMM_KC, kd - p0);
            /* lanes of B panels are columns of op(B): stride b_cs; depth b_rs */
            pack_panels(pb, b + p0 * b_rs + j0 * b_cs, nc, kc, b_cs, b_rs, k->nr);
            bool acc = accumulate || p0 > 0;
            for (int64_t i0 = 0; i0 < m; i0 += mb) {
                int64_t mc = min64(mb, m - i0);
                pack_panels(pa, a + i0 * a_rs + p0 * a_cs, mc, kc, a_rs, a_cs, k->mr);
                macro(&o, pa, pb, mc, nc, kc, i0, j0, acc);
            }
        }
    }
}

void lt_sgemm_with(const lt_gemm_kernel *k, int64_t m, int64_t n, int64_t kd, lt_mat a, lt_mat b, lt_mat_out c,
                   bool accumulate, float *work)
{
    sgemm_strided(k, m, n, kd, a.data, a.rs, a.cs, b.data, b.rs, b.cs, c.data, c.rs, c.cs, accumulate, work);
}

void lt_sgemm(int64_t m, int64_t n, int64_t k, lt_mat a, lt_mat b, lt_mat_out c, bool accumulate, float *work)
{
    lt_sgemm_with(lt_gemm_active_kernel(), m, n, k, a, b, c, accumulate, work);
}

/* C's rows = bias. */
static void fill_bias_rows(float *c, int64_t m, int64_t n, int64_t c_rs, int64_t c_cs, const float *bias)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            c[i * c_rs + j * c_cs] = bias[j];
}

void lt_sgemm_bias_with(const lt_gemm_kernel *k, int64_t m, int64_t n, int64_t kd, lt_mat a, lt_mat b, lt_mat_out c,
                        const float *bias, float *work)
{
    if (k->tile && kd > 0 && m > 0 && n > 0 && c.cs == 1) { /* the tiles add it (row-major C: no swap) */
        sgemm_direct(k, m, n, kd, a.data, a.rs, a.cs, b.data, b.rs, b.cs, c.data, c.rs, c.cs, false, bias, work);
        return;
    }
    if (m > 0 && n > 0)
        fill_bias_rows(c.data, m, n, c.rs, c.cs, bias);
    sgemm_strided(k, m, n, kd, a.data, a.rs, a.cs, b.data, b.rs, b.cs, c.data, c.rs, c.cs, true, work);
}

void lt_sgemm_bias(int64_t m, int64_t n, int64_t k, lt_mat a, lt_mat b, lt_mat_out c, const float *bias, float *work)
{
    lt_sgemm_bias_with(lt_gemm_active_kernel(), m, n, k, a, b, c, bias, work);
}
