/* test_gemm_kernels.c - every SGEMM kernel the machine can run (generic,
 * avx2, avx512; see lib/kernels/gemm.h and lib/kernels/cpu.h) against a double-precision
 * reference: odd sizes around every tile and block edge, all operand layouts
 * (row-major padded or tight, column-major, no unit stride), accumulate on
 * and off, the model's shapes. Matrices sit inside NaN guard bands, so a
 * kernel that writes outside C (or fails to overwrite it) is caught; the
 * scratch buffer is fenced the same way; operands that end at an unmapped
 * page catch reads past the last element. Also: ISA selection (LT_ISA,
 * lt_cpu_force_isa) and the tile and transpose helpers directly.
 *
 * tests/test_matmul.c covers the active kernel through lt_matmul; run this
 * program with LT_ISA=generic|avx2|avx512 to also check the override. */
#define _DEFAULT_SOURCE /* mmap's MAP_ANONYMOUS */
#include "test_support.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__unix__)
#include <sys/mman.h>
#include <unistd.h>
#define HAVE_MMAP 1
#else
#define HAVE_MMAP 0
#endif

#include "kernels/gemm.h"

#define GUARD 37 /* NaN floats before and after every matrix */

/* ======================================================================== */
/* guarded strided matrices                                                 */
/* ======================================================================== */

typedef enum { ROW_PAD, ROW_TIGHT, COL_PAD, SCATTERED, N_LAYOUTS } layout;
static const char *const layout_names[] = {"row-pad", "row-tight", "col", "scattered"};

typedef struct {
    float *alloc, *base; /* base = alloc + GUARD */
    int64_t total, rows, cols, rs, cs;
} gmat;

static gmat gmat_new(int64_t rows, int64_t cols, layout l)
{
    gmat m = {NULL, NULL, 0, rows, cols, 0, 0};
    switch (l) {
    case ROW_PAD: m.rs = cols + 5, m.cs = 1; break;
    case ROW_TIGHT: m.rs = cols, m.cs = 1; break;
    case COL_PAD: m.rs = 1, m.cs = rows + 3; break;
    default: m.rs = 2 * cols + 1, m.cs = 2; break;
    }
    int64_t extent = (rows - 1) * m.rs + (cols - 1) * m.cs + 1;
    m.total = extent + 2 * GUARD;
    m.alloc = malloc(sizeof(float) * (size_t)m.total);
    assert_non_null(m.alloc);
    for (int64_t i = 0; i < m.total; i++)
        m.alloc[i] = NAN;
    m.base = m.alloc + GUARD;
    return m;
}

static float *gat(const gmat *m, int64_t i, int64_t j) { return m->base + i * m->rs + j * m->cs; }

static void gmat_fill(gmat *m, ts_rand *r)
{
    for (int64_t i = 0; i < m->rows; i++)
        for (int64_t j = 0; j < m->cols; j++)
            *gat(m, i, j) = (float)ts_uniform(r, -1, 1);
}

/* Every cell but the matrix's own is still NaN (the matrix's cells hold
 * finite values once the result has been checked). */
static void gmat_assert_guards(const gmat *m, const char *what)
{
    int64_t finite = 0;
    for (int64_t i = 0; i < m->total; i++)
        finite += !isnan(m->alloc[i]);
    if (finite != m->rows * m->cols)
        fail_msg("%s (%lld,%lld): %lld cells outside the matrix were written", what, (long long)m->rows,
                 (long long)m->cols, (long long)(finite - m->rows * m->cols));
}

/* Scratch memory with fences: lt_sgemm may use exactly `floats` floats. The
 * pointer is 16-byte but not 64-byte aligned (the documented minimum). */
#define FENCE 16
#define FENCE_VALUE 1234.5f
typedef struct {
    float *alloc, *work;
    size_t floats;
} fenced;

static fenced fenced_new(size_t floats)
{
    fenced f = {NULL, NULL, floats};
    f.alloc = aligned_alloc(64, (sizeof(float) * (floats + 2 * FENCE + 4) + 63) / 64 * 64);
    assert_non_null(f.alloc);
    f.work = f.alloc + FENCE + 4; /* 16 bytes past a 64-byte boundary */
    for (size_t i = 0; i < floats + 2 * FENCE + 4; i++)
        f.alloc[i] = FENCE_VALUE;
    return f;
}

static void fenced_check_free(fenced *f)
{
    for (size_t i = 0; i < FENCE + 4; i++)
        assert_true(f->alloc[i] == FENCE_VALUE);
    for (size_t i = 0; i < FENCE; i++)
        if (f->work[f->floats + i] != FENCE_VALUE)
            fail_msg("scratch written past its %zu floats (at +%zu)", f->floats, i);
    free(f->alloc);
}

/* ======================================================================== */
/* one product against the double reference                                 */
/* ======================================================================== */

typedef struct {
    int64_t m, n, k;
    layout la, lb, lc;
    bool accumulate;
} problem;

static void check_problem(const lt_gemm_kernel *kern, const problem *p, uint64_t seed)
{
    ts_rand r = ts_rand_new(seed);
    gmat a = gmat_new(p->m, p->k, p->la), b = gmat_new(p->k, p->n, p->lb), c = gmat_new(p->m, p->n, p->lc);
    gmat_fill(&a, &r);
    gmat_fill(&b, &r);
    double *c0 = calloc((size_t)(p->m * p->n), sizeof(double));
    assert_non_null(c0);
    if (p->accumulate) /* otherwise C stays NaN and must be overwritten */
        for (int64_t i = 0; i < p->m; i++)
            for (int64_t j = 0; j < p->n; j++)
                c0[i * p->n + j] = *gat(&c, i, j) = (float)ts_uniform(&r, -1, 1);
    fenced w = fenced_new(lt_sgemm_work_floats_with(kern, p->m, p->n, p->k));
    lt_sgemm_with(kern, p->m, p->n, p->k, (lt_mat){a.base, a.rs, a.cs}, (lt_mat){b.base, b.rs, b.cs},
                  (lt_mat_out){c.base, c.rs, c.cs}, p->accumulate, w.work);
    for (int64_t i = 0; i < p->m; i++)
        for (int64_t j = 0; j < p->n; j++) {
            double want = c0[i * p->n + j], mag = fabs(want);
            for (int64_t q = 0; q < p->k; q++) {
                double x = (double)*gat(&a, i, q) * (double)*gat(&b, q, j);
                want += x;
                mag += fabs(x);
            }
            double got = *gat(&c, i, j), tol = (double)(p->k + 2) * FLT_EPSILON * mag + 1e-30;
            if (!(fabs(got - want) <= tol))
                fail_msg("%s: (%lld,%lld)@(%lld,%lld) A %s B %s C %s acc=%d: C[%lld][%lld] = %.9g, reference %.9g "
                         "(tol %.3g)",
                         kern->name, (long long)p->m, (long long)p->k, (long long)p->k, (long long)p->n,
                         layout_names[p->la], layout_names[p->lb], layout_names[p->lc], p->accumulate, (long long)i,
                         (long long)j, got, want, tol);
        }
    gmat_assert_guards(&a, "A");
    gmat_assert_guards(&b, "B");
    gmat_assert_guards(&c, "C");
    fenced_check_free(&w);
    free(c0);
    free(a.alloc);
    free(b.alloc);
    free(c.alloc);
}

/* The kernels this machine can run, best last. */
static int available_kernels(const lt_gemm_kernel *out[3])
{
    int n = 0;
    for (int isa = LT_ISA_GENERIC; isa <= LT_ISA_AVX512; isa++)
        if (lt_gemm_kernel_for((lt_isa)isa))
            out[n++] = lt_gemm_kernel_for((lt_isa)isa);
    return n;
}

/* Every layout of A, B and C (C: all but `skip_c` bits), both accumulate
 * modes; returns the number of products checked. */
static int check_all_layouts(const lt_gemm_kernel *kern, int64_t m, int64_t n, int64_t k, unsigned skip_c)
{
    int count = 0;
    for (int la = 0; la < N_LAYOUTS; la++)
        for (int lb = 0; lb < N_LAYOUTS; lb++)
            for (int lc = 0; lc < N_LAYOUTS; lc++)
                for (int acc = 0; acc < 2; acc++) {
                    if (skip_c & (1u << lc))
                        continue;
                    problem p = {m, n, k, (layout)la, (layout)lb, (layout)lc, acc};
                    check_problem(kern, &p, (uint64_t)(m * 7919 + n * 104729 + k * 31 + la * 8 + lb * 2 + lc + acc));
                    count++;
                }
    return count;
}

/* ======================================================================== */
/* ISA selection                                                            */
/* ======================================================================== */

static void test_isa_selection(void **state)
{
    (void)state;
    assert_string_equal(lt_isa_name(LT_ISA_GENERIC), "generic");
    assert_string_equal(lt_isa_name(LT_ISA_AVX2), "avx2");
    assert_string_equal(lt_isa_name(LT_ISA_AVX512), "avx512");
    lt_isa hw = lt_cpu_isa_supported(), active = lt_cpu_isa();
    assert_true(active <= hw);
    /* run first, before anything forces a level: LT_ISA caps the choice */
    const char *env = getenv("LT_ISA");
    for (int isa = LT_ISA_GENERIC; env && isa <= LT_ISA_AVX512; isa++)
        if (strcmp(env, lt_isa_name((lt_isa)isa)) == 0)
            assert_int_equal(active, isa < (int)hw ? isa : (int)hw);
    if (!env)
        assert_int_equal(active, hw);
#if !LT_HAVE_X86_KERNELS
    assert_int_equal(hw, LT_ISA_GENERIC);
#endif
    /* a kernel for every supported level, named after it; none above */
    for (int isa = LT_ISA_GENERIC; isa <= LT_ISA_AVX512; isa++) {
        const lt_gemm_kernel *k = lt_gemm_kernel_for((lt_isa)isa);
        if (isa > (int)hw) {
            assert_null(k);
            continue;
        }
        assert_non_null(k);
        assert_string_equal(k->name, lt_isa_name((lt_isa)isa));
        assert_true((k->fn != NULL) != (k->tile != NULL));
        assert_true(!k->wide.tile || k->tile); /* a wide tile only beside a tile */
        assert_true(k->mr >= 1 && k->nr >= 1 && k->mr * k->nr <= 1024);
        /* forcing selects it for lt_sgemm; forcing above the hardware clamps */
        lt_cpu_force_isa((lt_isa)isa);
        assert_int_equal(lt_cpu_isa(), isa);
        assert_ptr_equal(lt_gemm_active_kernel(), k);
    }
    lt_cpu_force_isa(LT_ISA_AVX512);
    assert_int_equal(lt_cpu_isa(), hw);
    assert_null(lt_gemm_kernel_for((lt_isa)-1));
    assert_null(lt_gemm_kernel_for((lt_isa)(LT_ISA_AVX512 + 1)));
    lt_cpu_force_isa(active);
}

/* lt_sgemm (not _with) follows the forced level. */
static void test_lt_sgemm_dispatch(void **state)
{
    (void)state;
    lt_isa saved = lt_cpu_isa();
    for (int isa = LT_ISA_GENERIC; isa <= (int)lt_cpu_isa_supported(); isa++) {
        lt_cpu_force_isa((lt_isa)isa);
        /* (2,3) @ (3,27) of known values: C[i][j] = sum_p (i+p) * (p - j) */
        float a[6], b[81], c[54], *work = malloc(sizeof(float) * (lt_sgemm_work_floats(2, 27, 3) + 1));
        assert_non_null(work);
        for (int i = 0; i < 2; i++)
            for (int p = 0; p < 3; p++)
                a[i * 3 + p] = (float)(i + p);
        for (int p = 0; p < 3; p++)
            for (int j = 0; j < 27; j++)
                b[p * 27 + j] = (float)(p - j);
        lt_sgemm(2, 27, 3, (lt_mat){a, 3, 1}, (lt_mat){b, 27, 1}, (lt_mat_out){c, 27, 1}, false, work);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 27; j++) {
                float want = 0;
                for (int p = 0; p < 3; p++)
                    want += (float)((i + p) * (p - j));
                assert_float_equal(c[i * 27 + j], want, 0);
            }
        free(work);
    }
    lt_cpu_force_isa(saved);
}

/* ======================================================================== */
/* sizes and layouts                                                        */
/* ======================================================================== */

/* Every (m,n,k) over sizes around the tiles (6x16, 8x48, 4x8) and their
 * vector widths; layouts and accumulation cycle with the index. */
static void test_small_sizes(void **state)
{
    (void)state;
    const lt_gemm_kernel *ks[3];
    int nk = available_kernels(ks), count = 0;
    const int64_t ms[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 17};
    const int64_t ns[] = {1, 3, 7, 8, 9, 15, 16, 17, 27, 31, 32, 33, 47, 48, 49, 64, 97};
    const int64_t kd[] = {1, 2, 5, 16, 31};
    for (int ki = 0; ki < nk; ki++)
        for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
            for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++)
                for (size_t l = 0; l < sizeof kd / sizeof kd[0]; l++, count++) {
                    unsigned v = (unsigned)count * 2654435761u >> 7;
                    problem p = {ms[i], ns[j], kd[l], (layout)(v % 4), (layout)(v / 4 % 4), (layout)(v / 16 % 4),
                                 v / 64 % 2};
                    check_problem(ks[ki], &p, (uint64_t)count);
                }
    assert_int_equal(count, nk * 12 * 17 * 5);
}

/* The training step's six products and a few odd sizes in every layout. */
static void test_model_shapes_all_layouts(void **state)
{
    (void)state;
    const lt_gemm_kernel *ks[3];
    int nk = available_kernels(ks), count = 0;
    const unsigned skip_scattered_c = 1u << SCATTERED; /* rare in ops; covered by the odd sizes */
    for (int ki = 0; ki < nk; ki++) {
        count += check_all_layouts(ks[ki], 32, 200, 30, skip_scattered_c);  /* (32,30) @ (30,200) */
        count += check_all_layouts(ks[ki], 32, 27, 200, skip_scattered_c);  /* (32,200) @ (200,27) */
        count += check_all_layouts(ks[ki], 32, 200, 27, skip_scattered_c);  /* dX = dY W2^T */
        count += check_all_layouts(ks[ki], 32, 30, 200, skip_scattered_c);  /* dX = dY W1^T */
        count += check_all_layouts(ks[ki], 30, 200, 32, skip_scattered_c);  /* dW1 = X^T dY */
        count += check_all_layouts(ks[ki], 200, 27, 32, skip_scattered_c);  /* dW2 = H^T dY */
        count += check_all_layouts(ks[ki], 33, 50, 37, 0);
        count += check_all_layouts(ks[ki], 9, 1, 13, 0);
        count += check_all_layouts(ks[ki], 1, 29, 3, 0);
    }
    assert_int_equal(count, nk * (6 * 96 + 3 * 128));
}

/* Shapes that take the other paths of the drivers: depth blocks (k > 256),
 * column blocks of a packed B (n > 512 / 1024), a large B packed or read
 * in place (its rows no further apart than packing would put them), A packed (column-major with a long leading dimension, or no unit
 * stride), k = 1, the evaluation chunks, a C large enough to be prefetched. */
static void test_blocking_paths(void **state)
{
    (void)state;
    const lt_gemm_kernel *ks[3];
    int nk = available_kernels(ks);
    static const problem ps[] = {
        {9, 10, 600, ROW_TIGHT, ROW_TIGHT, ROW_TIGHT, true},  /* three depth blocks */
        {17, 33, 257, COL_PAD, COL_PAD, ROW_PAD, false},
        {3, 1100, 7, ROW_TIGHT, COL_PAD, ROW_TIGHT, true},    /* column blocks of a transposed B */
        {5, 1030, 40, ROW_PAD, ROW_TIGHT, ROW_PAD, false},    /* B too large to read in place */
        {9, 300, 200, ROW_TIGHT, ROW_PAD, ROW_TIGHT, true},   /* B large, rows further apart than packed */
        {9, 300, 200, ROW_TIGHT, ROW_TIGHT, ROW_TIGHT, true}, /* B large, rows as packed: read in place */
        {11, 250, 200, ROW_TIGHT, ROW_PAD, ROW_TIGHT, false}, /* ... with ldb 255 and a ragged last tile */
        {300, 17, 9, COL_PAD, ROW_TIGHT, ROW_TIGHT, true},    /* column-major A, lda 303: packed */
        {300, 17, 9, COL_PAD, ROW_TIGHT, COL_PAD, false},     /* ... and C^T */
        {61, 20, 300, SCATTERED, SCATTERED, SCATTERED, true}, /* nothing unit-stride */
        {300, 17, 1, ROW_PAD, COL_PAD, ROW_TIGHT, false},     /* k = 1 */
        {4096, 27, 200, ROW_TIGHT, ROW_TIGHT, ROW_TIGHT, true}, /* evaluation chunk, layer 2 */
        {4096, 200, 30, ROW_TIGHT, ROW_TIGHT, ROW_TIGHT, false},
        {10501, 201, 3, ROW_TIGHT, ROW_TIGHT, ROW_TIGHT, true}, /* C > 8 MiB: prefetched ahead */
    };
    for (int ki = 0; ki < nk; ki++)
        for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
            check_problem(ks[ki], &ps[i], 1000 + i);
}

/* The operands' layouts change the path (A packed a row tile at a time,
 * read in place, or the product solved as C^T: a tall, narrow C with a
 * column-major A of long leading dimension, dW2 = h^T dlogits), never the
 * bits: every element is the same sum in the same order. The (m,k) A is
 * given row-major, column-major (lda m + 3 > 256) and with no unit stride;
 * two depth blocks, accumulate on and off. */
static void test_layouts_give_same_bits(void **state)
{
    (void)state;
    const lt_gemm_kernel *ks[3];
    int nk = available_kernels(ks);
    const int64_t m = 300, n = 27, k = 300;
    for (int ki = 0; ki < nk; ki++)
        for (int acc = 0; acc < 2; acc++) {
            ts_rand r = ts_rand_new(4242);
            gmat as[3] = {gmat_new(m, k, ROW_TIGHT), gmat_new(m, k, COL_PAD), gmat_new(m, k, SCATTERED)};
            gmat b = gmat_new(k, n, ROW_TIGHT), c[3];
            gmat_fill(&as[0], &r);
            gmat_fill(&b, &r);
            float *work = aligned_alloc(64, (sizeof(float) * lt_sgemm_work_floats_with(ks[ki], m, n, k) + 64) / 64 * 64);
            assert_non_null(work);
            for (int l = 0; l < 3; l++) {
                for (int64_t i = 0; i < m; i++)
                    for (int64_t q = 0; q < k; q++)
                        *gat(&as[l], i, q) = *gat(&as[0], i, q);
                c[l] = gmat_new(m, n, ROW_TIGHT);
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < n; j++)
                        *gat(&c[l], i, j) = (float)(i - j) / 64.0f; /* the same start for the accumulation */
                lt_sgemm_with(ks[ki], m, n, k, (lt_mat){as[l].base, as[l].rs, as[l].cs}, (lt_mat){b.base, b.rs, b.cs},
                              (lt_mat_out){c[l].base, c[l].rs, c[l].cs}, acc, work);
            }
            for (int l = 1; l < 3; l++)
                if (memcmp(c[0].base, c[l].base, sizeof(float) * (size_t)(m * n)) != 0)
                    fail_msg("%s acc=%d: A %s gives other bits than A row-major", ks[ki]->name, acc,
                             layout_names[l == 1 ? COL_PAD : SCATTERED]);
            free(work);
            free(b.alloc);
            for (int l = 0; l < 3; l++) {
                free(as[l].alloc);
                free(c[l].alloc);
            }
        }
}

/* A large B (two depth blocks) read in place, its rows as close as packing
 * would put them, and the same B with rows 5 floats apart, which is packed:
 * the same bits, accumulate on and off. */
static void test_b_in_place_same_bits(void **state)
{
    (void)state;
    const lt_gemm_kernel *ks[3];
    int nk = available_kernels(ks);
    const int64_t m = 37, n = 300, k = 300;
    for (int ki = 0; ki < nk; ki++)
        for (int acc = 0; acc < 2; acc++) {
            ts_rand r = ts_rand_new(99);
            gmat a = gmat_new(m, k, ROW_TIGHT), bs[2] = {gmat_new(k, n, ROW_TIGHT), gmat_new(k, n, ROW_PAD)}, c[2];
            gmat_fill(&a, &r);
            gmat_fill(&bs[0], &r);
            float *work = aligned_alloc(64, (sizeof(float) * lt_sgemm_work_floats_with(ks[ki], m, n, k) + 64) / 64 * 64);
            assert_non_null(work);
            for (int l = 0; l < 2; l++) {
                for (int64_t q = 0; q < k; q++)
                    for (int64_t j = 0; j < n; j++)
                        *gat(&bs[l], q, j) = *gat(&bs[0], q, j);
                c[l] = gmat_new(m, n, ROW_TIGHT);
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < n; j++)
                        *gat(&c[l], i, j) = (float)(i - j) / 64.0f;
                lt_sgemm_with(ks[ki], m, n, k, (lt_mat){a.base, a.rs, a.cs}, (lt_mat){bs[l].base, bs[l].rs, bs[l].cs},
                              (lt_mat_out){c[l].base, c[l].rs, c[l].cs}, acc, work);
            }
            if (memcmp(c[0].base, c[1].base, sizeof(float) * (size_t)(m * n)) != 0)
                fail_msg("%s acc=%d: B read in place gives other bits than B packed", ks[ki]->name, acc);
            free(work);
            free(a.alloc);
            for (int l = 0; l < 2; l++) {
                free(bs[l].alloc);
                free(c[l].alloc);
            }
        }
}

/* Degenerate sizes: nothing written for m = 0 or n = 0; k = 0 zeroes C or
 * leaves it unchanged with accumulation; no scratch needed. */
static void test_degenerate(void **state)
{
    (void)state;
    const lt_gemm_kernel *ks[3];
    int nk = available_kernels(ks);
    for (int ki = 0; ki < nk; ki++) {
        float a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 4}, c[4] = {NAN, NAN, NAN, NAN};
        assert_int_equal(lt_sgemm_work_floats_with(ks[ki], 2, 2, 0), 0);
        assert_int_equal(lt_sgemm_work_floats_with(ks[ki], 0, 2, 2), 0);
        lt_sgemm_with(ks[ki], 0, 2, 2, (lt_mat){a, 2, 1}, (lt_mat){b, 2, 1}, (lt_mat_out){c, 2, 1}, false, NULL);
        lt_sgemm_with(ks[ki], 2, 0, 2, (lt_mat){a, 2, 1}, (lt_mat){b, 2, 1}, (lt_mat_out){c, 2, 1}, false, NULL);
        for (int i = 0; i < 4; i++)
            assert_true(isnan(c[i]));
        lt_sgemm_with(ks[ki], 2, 2, 0, (lt_mat){a, 2, 1}, (lt_mat){b, 2, 1}, (lt_mat_out){c, 2, 1}, false, NULL);
        for (int i = 0; i < 4; i++)
            assert_float_equal(c[i], 0.0f, 0);
        c[3] = 7.0f;
        lt_sgemm_with(ks[ki], 2, 2, 0, (lt_mat){a, 2, 1}, (lt_mat){b, 2, 1}, (lt_mat_out){c, 2, 1}, true, NULL);
        assert_float_equal(c[3], 7.0f, 0);
    }
}

/* ======================================================================== */
/* the SIMD kernels' helpers, directly                                      */
/* ======================================================================== */

/* A tile function at every (rows, cols) up to mr x nr, B rows exactly
 * `cols` wide (tight), C inside guard bands; returns the cases run. */
static int check_tile_edges(const char *name, lt_gemm_tile_fn tile, int mr, int nr)
{
    int tested = 0;
    for (int rows = 1; rows <= mr; rows++)
        for (int cols = 1; cols <= nr; cols++)
            for (int kc = 1; kc <= 9; kc += 4) {
                int mode = (rows + cols + kc) % 3; /* 0: C =, 1: C +=, 2: C = bias + */
                bool acc = mode == 1;
                ts_rand r = ts_rand_new((uint64_t)(rows * 1000 + cols * 10 + kc));
                gmat a = gmat_new(rows, kc, (layout)((rows + cols) % 4)), b = gmat_new(kc, cols, ROW_TIGHT);
                gmat c = gmat_new(rows, cols, ROW_PAD), bias = gmat_new(1, cols, ROW_TIGHT);
                gmat_fill(&a, &r);
                gmat_fill(&b, &r);
                gmat_fill(&bias, &r);
                if (acc)
                    gmat_fill(&c, &r);
                float c0[64 * 64];
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < cols; j++)
                        c0[i * cols + j] = acc ? *gat(&c, i, j) : mode == 2 ? *gat(&bias, 0, j) : 0.0f;
                tile(rows, cols, kc, a.base, a.rs, a.cs, b.base, b.rs, c.base, c.rs, acc, mode == 2 ? bias.base : NULL);
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < cols; j++) {
                        double want = c0[i * cols + j], mag = fabs(want);
                        for (int p = 0; p < kc; p++) {
                            want += (double)*gat(&a, i, p) * *gat(&b, p, j);
                            mag += fabs((double)*gat(&a, i, p) * *gat(&b, p, j));
                        }
                        if (!(fabs(*gat(&c, i, j) - want) <= (kc + 2) * FLT_EPSILON * mag))
                            fail_msg("%s tile %dx%d kc=%d mode=%d: C[%d][%d] = %.9g, want %.9g", name, rows, cols,
                                     kc, mode, i, j, *gat(&c, i, j), want);
                    }
                gmat_assert_guards(&c, "C tile");
                free(bias.alloc);
                free(a.alloc);
                free(b.alloc);
                free(c.alloc);
                tested++;
            }
    return tested;
}

/* Every SIMD kernel's tile, and its wide tile when it has one. */
static void test_tile_edges(void **state)
{
    (void)state;
    const lt_gemm_kernel *ks[3];
    int nk = available_kernels(ks), tested = 0, want = 0;
    for (int ki = 0; ki < nk; ki++) {
        const lt_gemm_kernel *k = ks[ki];
        if (k->tile) {
            tested += check_tile_edges(k->name, k->tile, k->mr, k->nr);
            want += 3 * k->mr * k->nr; /* 3 depths per (rows, cols) */
        }
        if (k->wide.tile) {
            assert_true(k->wide.mr <= k->mr && k->wide.nr > k->nr && k->wide.mr * k->wide.nr <= 64 * 64);
            tested += check_tile_edges(k->name, k->wide.tile, k->wide.mr, k->wide.nr);
            want += 3 * k->wide.mr * k->wide.nr;
        }
    }
    /* none on a generic-only machine */
    assert_int_equal(tested, want);
}

/* lt_sgemm_bias gives the bits of filling C's rows with the bias and
 * accumulating the product, on every kernel and path: the tiles' epilogue
 * (n = 64 and 256 in wide tiles, ragged n), depth blocks, packed column
 * blocks, a column-major C (filled, then accumulated), k = 0. */
static void test_bias_epilogue(void **state)
{
    (void)state;
    const lt_gemm_kernel *ks[3];
    int nk = available_kernels(ks);
    static const problem ps[] = {
        {512, 64, 64, ROW_TIGHT, COL_PAD, ROW_TIGHT, false},   /* makemore's c_proj */
        {50, 256, 70, ROW_TIGHT, COL_PAD, ROW_TIGHT, false},   /* wide tiles */
        {13, 27, 300, ROW_TIGHT, ROW_TIGHT, ROW_PAD, false},   /* depth blocks, ragged */
        {9, 1100, 7, ROW_TIGHT, COL_PAD, ROW_TIGHT, false},    /* column blocks of a packed B */
        {20, 64, 30, SCATTERED, ROW_TIGHT, COL_PAD, false},    /* column-major C */
        {7, 33, 0, ROW_TIGHT, ROW_TIGHT, ROW_TIGHT, false},    /* k = 0: C = bias */
    };
    for (int ki = 0; ki < nk; ki++)
        for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
            const problem *p = &ps[i];
            ts_rand r = ts_rand_new(77 + i);
            gmat a = gmat_new(p->m, p->k ? p->k : 1, p->la), b = gmat_new(p->k ? p->k : 1, p->n, p->lb);
            gmat c1 = gmat_new(p->m, p->n, p->lc), c2 = gmat_new(p->m, p->n, p->lc), bias = gmat_new(1, p->n, ROW_TIGHT);
            gmat_fill(&a, &r);
            gmat_fill(&b, &r);
            gmat_fill(&bias, &r);
            for (int64_t y = 0; y < p->m; y++)
                for (int64_t x = 0; x < p->n; x++)
                    *gat(&c2, y, x) = *gat(&bias, 0, x);
            float *work = aligned_alloc(64, (sizeof(float) * lt_sgemm_work_floats_with(ks[ki], p->m, p->n, p->k) + 64)
                                                / 64 * 64);
            assert_non_null(work);
            lt_mat am = {a.base, a.rs, a.cs}, bm = {b.base, b.rs, b.cs};
            lt_sgemm_bias_with(ks[ki], p->m, p->n, p->k, am, bm, (lt_mat_out){c1.base, c1.rs, c1.cs}, bias.base, work);
            lt_sgemm_with(ks[ki], p->m, p->n, p->k, am, bm, (lt_mat_out){c2.base, c2.rs, c2.cs}, true, work);
            for (int64_t y = 0; y < p->m; y++)
                for (int64_t x = 0; x < p->n; x++)
                    if (memcmp(gat(&c1, y, x), gat(&c2, y, x), sizeof(float)) != 0)
                        fail_msg("%s (%lld,%lld,%lld): C[%lld][%lld] = %.9g with the bias epilogue, %.9g filled",
                                 ks[ki]->name, (long long)p->m, (long long)p->n, (long long)p->k, (long long)y,
                                 (long long)x, *gat(&c1, y, x), *gat(&c2, y, x));
            gmat_assert_guards(&c1, "C with bias");
            free(work);
            free(a.alloc);
            free(b.alloc);
            free(c1.alloc);
            free(c2.alloc);
            free(bias.alloc);
        }
}

/* The transpose packer: exact copies, nothing written in the padding. */
static void test_transpose(void **state)
{
    (void)state;
    const lt_gemm_kernel *ks[3];
    int nk = available_kernels(ks);
    const int64_t sizes[] = {1, 2, 5, 7, 8, 9, 15, 16, 17, 27, 30, 200};
    for (int ki = 0; ki < nk; ki++) {
        if (!ks[ki]->transpose)
            continue;
        for (size_t x = 0; x < sizeof sizes / sizeof sizes[0]; x++)
            for (size_t y = 0; y < sizeof sizes / sizeof sizes[0]; y++) {
                int64_t kc = sizes[x], nc = sizes[y], ldd = (nc + 15) / 16 * 16;
                /* src: op(B)^T, (nc,kc) row-major with padded rows */
                gmat src = gmat_new(nc, kc, ROW_PAD), dst = gmat_new(kc, ldd, ROW_TIGHT);
                ts_rand r = ts_rand_new((uint64_t)(kc * 977 + nc));
                gmat_fill(&src, &r);
                ks[ki]->transpose(kc, nc, src.base, src.rs, dst.base, ldd);
                int64_t finite = 0;
                for (int64_t i = 0; i < dst.total; i++)
                    finite += !isnan(dst.alloc[i]);
                assert_int_equal(finite, kc * nc); /* the padding columns stay untouched */
                for (int64_t p = 0; p < kc; p++)
                    for (int64_t j = 0; j < nc; j++)
                        if (*gat(&dst, p, j) != *gat(&src, j, p))
                            fail_msg("%s transpose kc=%lld nc=%lld: [%lld][%lld]", ks[ki]->name, (long long)kc,
                                     (long long)nc, (long long)p, (long long)j);
                free(src.alloc);
                free(dst.alloc);
            }
    }
}

/* ======================================================================== */
/* reads past the end of an operand                                         */
/* ======================================================================== */

#if HAVE_MMAP
/* `floats` floats ending exactly where an inaccessible page begins: a read
 * past the last one faults. */
typedef struct {
    void *map;
    size_t map_size;
    float *data;
} fenced_page;

static fenced_page page_end_buffer(size_t floats)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), data_pages = (floats * sizeof(float) + page - 1) / page;
    fenced_page f = {NULL, (data_pages + 1) * page, NULL};
    f.map = mmap(NULL, f.map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(f.map != MAP_FAILED);
    unsigned char *end = (unsigned char *)f.map + data_pages * page;
    assert_int_equal(mprotect(end, page, PROT_NONE), 0);
    f.data = (float *)(void *)end - floats;
    return f;
}

static void test_no_read_past_end(void **state)
{
    (void)state;
    const lt_gemm_kernel *ks[3];
    int nk = available_kernels(ks);
    /* the model's ragged shapes with tight operands that end at a page end */
    static const problem ps[] = {
        {32, 27, 200, ROW_TIGHT, ROW_TIGHT, ROW_TIGHT, true}, {200, 27, 32, COL_PAD, ROW_TIGHT, ROW_TIGHT, true},
        {32, 30, 200, ROW_TIGHT, COL_PAD, ROW_TIGHT, true},   {31, 13, 5, ROW_TIGHT, ROW_TIGHT, ROW_TIGHT, false},
        {3, 1, 7, ROW_TIGHT, ROW_TIGHT, ROW_TIGHT, false},    {7, 5, 3, COL_PAD, COL_PAD, COL_PAD, true},
    };
    for (int ki = 0; ki < nk; ki++)
        for (size_t t = 0; t < sizeof ps / sizeof ps[0]; t++) {
            const problem *p = &ps[t];
            /* tight layouts: row-major rs = cols, column-major cs = rows */
            int64_t a_rs = p->la == COL_PAD ? 1 : p->k, a_cs = p->la == COL_PAD ? p->m : 1;
            int64_t b_rs = p->lb == COL_PAD ? 1 : p->n, b_cs = p->lb == COL_PAD ? p->k : 1;
            int64_t c_rs = p->lc == COL_PAD ? 1 : p->n, c_cs = p->lc == COL_PAD ? p->m : 1;
            fenced_page a = page_end_buffer((size_t)(p->m * p->k)), b = page_end_buffer((size_t)(p->k * p->n));
            fenced_page c = page_end_buffer((size_t)(p->m * p->n));
            ts_rand r = ts_rand_new(77 + t);
            for (int64_t i = 0; i < p->m * p->k; i++)
                a.data[i] = (float)ts_uniform(&r, -1, 1);
            for (int64_t i = 0; i < p->k * p->n; i++)
                b.data[i] = (float)ts_uniform(&r, -1, 1);
            for (int64_t i = 0; i < p->m * p->n; i++)
                c.data[i] = (float)ts_uniform(&r, -1, 1);
            float *c0 = malloc(sizeof(float) * (size_t)(p->m * p->n));
            assert_non_null(c0);
            memcpy(c0, c.data, sizeof(float) * (size_t)(p->m * p->n));
            /* scratch too, rounded to keep it 16-byte aligned */
            fenced_page w = page_end_buffer((lt_sgemm_work_floats_with(ks[ki], p->m, p->n, p->k) + 3) / 4 * 4);
            lt_sgemm_with(ks[ki], p->m, p->n, p->k, (lt_mat){a.data, a_rs, a_cs}, (lt_mat){b.data, b_rs, b_cs},
                          (lt_mat_out){c.data, c_rs, c_cs}, p->accumulate, w.data);
            /* spot-check the values (the full reference runs elsewhere) */
            for (int64_t i = 0; i < p->m; i += 7)
                for (int64_t j = 0; j < p->n; j += 3) {
                    double want = p->accumulate ? c0[i * c_rs + j * c_cs] : 0, mag = fabs(want);
                    for (int64_t q = 0; q < p->k; q++) {
                        double x = (double)a.data[i * a_rs + q * a_cs] * b.data[q * b_rs + j * b_cs];
                        want += x;
                        mag += fabs(x);
                    }
                    assert_true(fabs(c.data[i * c_rs + j * c_cs] - want) <= (p->k + 2) * FLT_EPSILON * mag + 1e-30);
                }
            free(c0);
            munmap(a.map, a.map_size);
            munmap(b.map, b.map_size);
            munmap(c.map, c.map_size);
            munmap(w.map, w.map_size);
        }
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isa_selection), /* first: sees the unforced LT_ISA choice */
        cmocka_unit_test(test_lt_sgemm_dispatch),
        cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_tile_edges),
        cmocka_unit_test(test_bias_epilogue),
        cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_small_sizes),
        cmocka_unit_test(test_model_shapes_all_layouts),
        cmocka_unit_test(test_blocking_paths),
        cmocka_unit_test(test_layouts_give_same_bits),
        cmocka_unit_test(test_b_in_place_same_bits),
#if HAVE_MMAP
        cmocka_unit_test(test_no_read_past_end),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
