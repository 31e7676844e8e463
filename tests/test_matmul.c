/* test_matmul.c - the SGEMM kernel against a double-precision reference, and
 * lt_matmul: PyTorch golden values (forward and gradients) for every rule of
 * torch.matmul (2-D, batched, broadcast batch dims up to rank 6, 1-D
 * operands), transposed and narrowed operands used in place, expanded
 * (stride-0) operands, finite-difference gradient checks, the model's real
 * shapes, error paths. */
#include "test_support.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "data/golden_matmul.h"

/* ======================================================================== */
/* gemm against a double reference                                          */
/* ======================================================================== */

/* A strided matrix inside a buffer whose other cells hold NaN, so a kernel
 * that reads outside the matrix (or fails to overwrite C) is caught. */
typedef struct {
    float *buf;
    int64_t size, rows, cols, rs, cs;
} strided_mat;

enum { ROW_MAJOR, COL_MAJOR, SCATTERED }; /* SCATTERED: no unit stride */

static strided_mat mat_new(int64_t rows, int64_t cols, int layout)
{
    strided_mat m = {NULL, 0, rows, cols, 0, 0};
    if (layout == ROW_MAJOR) { /* padded rows, as a narrowed view */
        m.rs = cols + 3;
        m.cs = 1;
    } else if (layout == COL_MAJOR) { /* a transposed view */
        m.rs = 1;
        m.cs = rows + 2;
    } else {
        m.rs = 2 * cols + 1;
        m.cs = 2;
    }
    m.size = (rows - 1) * m.rs + (cols - 1) * m.cs + 1 + 5;
    m.buf = malloc(sizeof(float) * (size_t)m.size);
    assert_non_null(m.buf);
    for (int64_t i = 0; i < m.size; i++)
        m.buf[i] = NAN;
    return m;
}

static float *at(const strided_mat *m, int64_t i, int64_t j) { return m->buf + i * m->rs + j * m->cs; }

static void mat_fill(strided_mat *m, ts_rand *r)
{
    for (int64_t i = 0; i < m->rows; i++)
        for (int64_t j = 0; j < m->cols; j++)
            *at(m, i, j) = (float)ts_uniform(r, -1, 1);
}

/* Every cell outside the matrix must still be NaN. */
static void assert_outside_untouched(const strided_mat *m)
{
    int64_t inside = 0;
    for (int64_t i = 0; i < m->size; i++)
        if (!isnan(m->buf[i]))
            inside++;
    assert_int_equal(inside, m->rows * m->cols);
}

/* C (+)= op(A) op(B) through lt_sgemm; every element within the float
 * summation bound (k+2) * FLT_EPSILON * (|C0| + sum_p |a_ip b_pj|) of the
 * double-precision result. */
static void check_gemm(int64_t m, int64_t n, int64_t k, bool ta, bool tb, bool accumulate, int c_layout,
                       uint64_t seed)
{
    ts_rand r = ts_rand_new(seed);
    strided_mat a = mat_new(m, k, ta ? COL_MAJOR : ROW_MAJOR);
    strided_mat b = mat_new(k, n, tb ? COL_MAJOR : ROW_MAJOR);
    strided_mat c = mat_new(m, n, c_layout);
    mat_fill(&a, &r);
    mat_fill(&b, &r);
    double *c0 = calloc((size_t)(m * n), sizeof(double));
    assert_non_null(c0);
    /* with accumulation C starts random; without, it stays NaN, which must
     * be overwritten (never multiplied by zero and kept) */
    if (accumulate)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                c0[i * n + j] = *at(&c, i, j) = (float)ts_uniform(&r, -1, 1);
    size_t wf = lt_sgemm_work_floats(m, n, k);
    float *work = malloc(sizeof(float) * (wf ? wf : 1));
    assert_non_null(work);
    lt_sgemm(m, n, k, (lt_mat){a.buf, a.rs, a.cs}, (lt_mat){b.buf, b.rs, b.cs}, (lt_mat_out){c.buf, c.rs, c.cs},
             accumulate, work);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double want = c0[i * n + j], mag = fabs(want);
            for (int64_t p = 0; p < k; p++) {
                double x = (double)*at(&a, i, p) * (double)*at(&b, p, j);
                want += x;
                mag += fabs(x);
            }
            double got = *at(&c, i, j), tol = (double)(k + 2) * FLT_EPSILON * mag + 1e-30;
            if (!(fabs(got - want) <= tol))
                fail_msg("gemm (%lld,%lld)@(%lld,%lld) ta=%d tb=%d acc=%d c_layout=%d: C[%lld][%lld] = %.9g, "
                         "reference %.9g (tol %.3g)",
                         (long long)m, (long long)k, (long long)k, (long long)n, ta, tb, accumulate, c_layout,
                         (long long)i, (long long)j, got, want, tol);
        }
    assert_outside_untouched(&a);
    assert_outside_untouched(&b);
    assert_outside_untouched(&c);
    free(work);
    free(c0);
    free(a.buf);
    free(b.buf);
    free(c.buf);
}

/* All four transpose combinations, with and without accumulation; the C
 * layout cycles so every combination meets each of them across the sizes. */
static int check_all_variants(int64_t m, int64_t n, int64_t k, int variant)
{
    for (int t = 0; t < 8; t++)
        check_gemm(m, n, k, t & 1, (t >> 1) & 1, (t >> 2) & 1, (variant + t) % 3,
                   (uint64_t)(m * 1000003 + n * 1009 + k * 7 + t));
    return 8;
}

static void test_gemm_small_sizes(void **state)
{
    (void)state;
    /* every (m,n,k) over sizes below and around the 4x8 tile */
    const int64_t s[] = {1, 2, 3, 4, 5, 7, 8, 9, 17, 33};
    int calls = 0, v = 0;
    for (int i = 0; i < 10; i++)
        for (int j = 0; j < 10; j++)
            for (int l = 0; l < 10; l++)
                calls += check_all_variants(s[i], s[j], s[l], v++);
    assert_int_equal(calls, 8000);
}

static void test_gemm_odd_sizes(void **state)
{
    (void)state;
    /* the brief's odd sizes in every position: 65, 200, 257 cross the row
     * block (96) and the depth block (256) */
    const int64_t small[] = {1, 3, 17, 33}, big[] = {65, 200, 257};
    int v = 0;
    for (int b = 0; b < 3; b++)
        for (int s = 0; s < 4; s++) {
            int64_t x = big[b], y = small[s], z = small[(s + 1) % 4];
            check_all_variants(x, y, z, v++);
            check_all_variants(z, x, y, v++);
            check_all_variants(y, z, x, v++);
        }
    check_all_variants(257, 65, 257, v++);
    check_all_variants(200, 257, 65, v++);
    check_all_variants(65, 200, 257, v++);
    check_all_variants(3, 1100, 7, v++);  /* crosses the column block (1024) */
    check_all_variants(9, 10, 600, v++);  /* three depth blocks */
    check_all_variants(300, 17, 1, v++);  /* k = 1 */
}

static void test_gemm_model_shapes(void **state)
{
    (void)state;
    check_all_variants(32, 200, 30, 0);  /* (32,30) @ (30,200) */
    check_all_variants(32, 27, 200, 1);  /* (32,200) @ (200,27) */
    check_all_variants(32, 30, 200, 2);  /* dX = dY W^T */
    check_all_variants(30, 200, 32, 0);  /* dW = X^T dY */
    check_gemm(22655, 200, 30, false, false, false, ROW_MAJOR, 99);
    check_gemm(30, 200, 22655, true, false, true, ROW_MAJOR, 98); /* dW over the data set */
}

static void test_gemm_degenerate(void **state)
{
    (void)state;
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 1, 1, 1, 1, 1}, c[4] = {NAN, NAN, NAN, NAN}, w[1];
    /* k = 0: C = 0, or C unchanged with accumulation */
    assert_int_equal(lt_sgemm_work_floats(2, 2, 0), 0);
    lt_sgemm(2, 2, 0, (lt_mat){a, 3, 1}, (lt_mat){b, 2, 1}, (lt_mat_out){c, 2, 1}, false, w);
    for (int i = 0; i < 4; i++)
        assert_float_equal(c[i], 0.0f, 0);
    c[0] = 5.0f;
    lt_sgemm(2, 2, 0, (lt_mat){a, 3, 1}, (lt_mat){b, 2, 1}, (lt_mat_out){c, 2, 1}, true, w);
    assert_float_equal(c[0], 5.0f, 0);
    /* m = 0 or n = 0: nothing written */
    c[1] = 9.0f;
    lt_sgemm(0, 2, 3, (lt_mat){a, 3, 1}, (lt_mat){b, 2, 1}, (lt_mat_out){c, 2, 1}, false, w);
    lt_sgemm(2, 0, 3, (lt_mat){a, 3, 1}, (lt_mat){b, 2, 1}, (lt_mat_out){c, 2, 1}, false, w);
    assert_float_equal(c[1], 9.0f, 0);
    /* a hand-computed product: (2,3) @ (3,2) of ones -> row sums */
    float *work = malloc(sizeof(float) * lt_sgemm_work_floats(2, 2, 3));
    assert_non_null(work);
    lt_sgemm(2, 2, 3, (lt_mat){a, 3, 1}, (lt_mat){b, 2, 1}, (lt_mat_out){c, 2, 1}, false, work);
    assert_float_equal(c[0], 6.0f, 0);
    assert_float_equal(c[1], 6.0f, 0);
    assert_float_equal(c[2], 15.0f, 0);
    assert_float_equal(c[3], 15.0f, 0);
    /* the same with A^T given by swapped strides: A^T is (3,2), rows (1,4),(2,5),(3,6) */
    float ct[9];
    lt_sgemm(3, 3, 2, (lt_mat){a, 1, 3}, (lt_mat){(float[]){1, 0, 2, 0, 1, 3}, 3, 1}, (lt_mat_out){ct, 3, 1}, false,
             work);
    /* rows of A^T times [[1,0,2],[0,1,3]] */
    const float want[9] = {1, 4, 14, 2, 5, 19, 3, 6, 24};
    for (int i = 0; i < 9; i++)
        assert_float_equal(ct[i], want[i], 0);
    free(work);
    assert_string_equal(lt_gemm_active_kernel()->name, lt_isa_name(lt_cpu_isa()));
}

/* ======================================================================== */
/* lt_matmul: golden values from PyTorch                                    */
/* ======================================================================== */

typedef struct {
    const char *name;
    lt_shape sa, sb, sc;
    const float *a, *b, *c, *g, *da, *db;
} golden_case;

#define GOLDEN(nm, SA, SB, SC)                                                                                     \
    {#nm, SA, SB, SC, golden_##nm##_a, golden_##nm##_b, golden_##nm##_c, golden_##nm##_g, golden_##nm##_da,       \
     golden_##nm##_db}

#define N_GOLDEN 18

/* The cases (built at run time: LT_SHAPE is a compound literal). */
static void golden_cases(golden_case out[N_GOLDEN])
{
    const golden_case cases[N_GOLDEN] = {
        GOLDEN(mm, LT_SHAPE(3, 4), LT_SHAPE(4, 5), LT_SHAPE(3, 5)),
        GOLDEN(mm_mid, LT_SHAPE(5, 30), LT_SHAPE(30, 27), LT_SHAPE(5, 27)),
        GOLDEN(bmm, LT_SHAPE(2, 3, 4), LT_SHAPE(2, 4, 5), LT_SHAPE(2, 3, 5)),
        GOLDEN(bcast_a, LT_SHAPE(1, 3, 4), LT_SHAPE(3, 4, 2), LT_SHAPE(3, 3, 2)),
        GOLDEN(bcast_b, LT_SHAPE(3, 2, 5), LT_SHAPE(1, 5, 3), LT_SHAPE(3, 2, 3)),
        GOLDEN(b3_2, LT_SHAPE(4, 3, 6), LT_SHAPE(6, 7), LT_SHAPE(4, 3, 7)),
        GOLDEN(b2_3, LT_SHAPE(3, 6), LT_SHAPE(2, 6, 4), LT_SHAPE(2, 3, 4)),
        GOLDEN(dot, LT_SHAPE(5), LT_SHAPE(5), LT_SHAPE0),
        GOLDEN(mv, LT_SHAPE(3, 4), LT_SHAPE(4), LT_SHAPE(3)),
        GOLDEN(vm, LT_SHAPE(4), LT_SHAPE(4, 5), LT_SHAPE(5)),
        GOLDEN(v_b3, LT_SHAPE(4), LT_SHAPE(2, 4, 3), LT_SHAPE(2, 3)),
        GOLDEN(b3_v, LT_SHAPE(2, 3, 4), LT_SHAPE(4), LT_SHAPE(2, 3)),
        GOLDEN(b4, LT_SHAPE(2, 3, 4, 5), LT_SHAPE(2, 3, 5, 2), LT_SHAPE(2, 3, 4, 2)),
        GOLDEN(bcast4, LT_SHAPE(2, 1, 4, 5), LT_SHAPE(3, 5, 6), LT_SHAPE(2, 3, 4, 6)),
        GOLDEN(attn, LT_SHAPE(2, 2, 8, 4), LT_SHAPE(2, 2, 4, 8), LT_SHAPE(2, 2, 8, 8)),
        GOLDEN(b6, LT_SHAPE(2, 1, 2, 1, 3, 4), LT_SHAPE(2, 1, 2, 4, 2), LT_SHAPE(2, 2, 2, 2, 3, 2)),
        GOLDEN(fold4, LT_SHAPE(2, 3, 4, 5), LT_SHAPE(5, 6), LT_SHAPE(2, 3, 4, 6)),
        GOLDEN(fold4b, LT_SHAPE(2, 3, 4, 5), LT_SHAPE(1, 1, 5, 2), LT_SHAPE(2, 3, 4, 2)),
    };
    memcpy(out, cases, sizeof cases);
}

#define GOLD_ATOL 2e-5
#define GOLD_RTOL 1e-5

/* A persistent tensor holding `data` (logical shape s) stored with its last
 * two dims swapped, and the transposed view of it that has shape s. The base
 * requires grad before the view is taken (a view copies the flag). */
static lt_tensor *stored_transposed(lt_ctx *ctx, lt_shape s, const float *data, lt_tensor **base)
{
    lt_shape st = s;
    int r = s.ndim - 2;
    st.d[r] = s.d[r + 1];
    st.d[r + 1] = s.d[r];
    *base = lt_new(ctx, LT_F32, st);
    assert_non_null(lt_requires_grad(ctx, *base, true));
    lt_tensor *v = lt_transpose(ctx, *base, -1, -2);
    assert_non_null(v);
    for (int64_t i = 0; i < lt_numel(v); i++)
        lt_set_f32(v, i, data[i]);
    return v;
}

/* One golden case with A and/or B given as transposed views (mask bit 0: A,
 * bit 1: B): values, no copy on the tape, gradients landing in the bases. */
static void run_golden(const golden_case *gc, int mask)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *abase, *bbase, *a, *b;
    if (mask & 1) {
        a = stored_transposed(ctx, gc->sa, gc->a, &abase);
    } else {
        a = abase = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, gc->sa, gc->a), true);
    }
    if (mask & 2) {
        b = stored_transposed(ctx, gc->sb, gc->b, &bbase);
    } else {
        b = bbase = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, gc->sb, gc->b), true);
    }
    assert_non_null(a);
    assert_non_null(b);
    lt_tensor *c = lt_matmul(ctx, a, b);
    if (!c)
        fail_msg("%s mask %d: %s", gc->name, mask, lt_error_message(ctx));
    ts_assert_shape(c, gc->sc);
    assert_true(lt_is_contiguous(c));
    assert_int_equal(lt_tape_size(ctx), 1); /* used in place: no contiguous copy recorded */
    ts_assert_near(c, gc->c, lt_numel(c), GOLD_ATOL, GOLD_RTOL);
    lt_tensor *g = lt_from_f32(ctx, gc->sc, gc->g);
    assert_true(lt_backward_grad(ctx, c, g));
    /* lt_grad of the view reads the base's gradient in the view's layout */
    ts_assert_near(lt_grad(ctx, a), gc->da, lt_numel(a), GOLD_ATOL, GOLD_RTOL);
    ts_assert_near(lt_grad(ctx, b), gc->db, lt_numel(b), GOLD_ATOL, GOLD_RTOL);
    lt_ctx_free(ctx);
}

static void test_matmul_golden(void **state)
{
    (void)state;
    golden_case cases[N_GOLDEN];
    golden_cases(cases);
    for (int i = 0; i < N_GOLDEN; i++)
        run_golden(&cases[i], 0);
}

/* Every operand of rank >= 2 also as a transposed view (a 1-D one has no
 * transpose). */
static void test_matmul_golden_transposed(void **state)
{
    (void)state;
    golden_case cases[N_GOLDEN];
    golden_cases(cases);
    int runs = 0;
    for (int i = 0; i < N_GOLDEN; i++)
        for (int mask = 1; mask < 4; mask++)
            if (!((mask & 1) && cases[i].sa.ndim < 2) && !((mask & 2) && cases[i].sb.ndim < 2)) {
                run_golden(&cases[i], mask);
                runs++;
            }
    assert_int_equal(runs, 3 * 13 + 4); /* 13 cases with two matrices, 4 with one (dot has none) */
}

/* Hand-computed: [[1,2],[3,4]] @ [[5,6],[7,8]] and its gradient for G = 1. */
static void test_matmul_hand(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_new_from(ctx, LT_F32, LT_SHAPE(2, 2), (float[]){1, 2, 3, 4});
    lt_tensor *b = lt_new_from(ctx, LT_F32, LT_SHAPE(2, 2), (float[]){5, 6, 7, 8});
    lt_requires_grad(ctx, a, true);
    lt_requires_grad(ctx, b, true);
    lt_tensor *c = lt_matmul(ctx, a, b);
    ts_assert_near(c, (float[]){19, 22, 43, 50}, 4, 0, 0);
    assert_true(lt_backward(ctx, lt_sum(ctx, c)));
    /* dA = 1 B^T: row sums of B; dB = A^T 1: column sums of A */
    ts_assert_near(lt_grad(ctx, a), (float[]){11, 15, 11, 15}, 4, 0, 0);
    ts_assert_near(lt_grad(ctx, b), (float[]){4, 4, 6, 6}, 4, 0, 0);
    /* gradients accumulate across passes */
    lt_ctx_reset(ctx);
    assert_true(lt_backward(ctx, lt_sum(ctx, lt_matmul(ctx, a, b))));
    ts_assert_near(lt_grad(ctx, a), (float[]){22, 30, 22, 30}, 4, 0, 0);
    lt_ctx_free(ctx);
}

/* ======================================================================== */
/* layouts: narrowed, views of views, non-gemm layouts                     */
/* ======================================================================== */

/* The logical (row-major) index in t of batch element `bi` (indices over
 * the result's nb batch dims, right-aligned; t's size-1 dims broadcast),
 * row i, column j of its matrix; a 1-D t is a row (as a) or a column (as b). */
static int64_t logical_index(const lt_tensor *t, bool is_a, int nb, const int64_t *bi, int64_t i, int64_t j)
{
    int tb = t->ndim > 2 ? t->ndim - 2 : 0;
    int64_t lin = 0;
    for (int d = 0; d < tb; d++)
        lin = lin * t->shape[d] + (t->shape[d] == 1 ? 0 : bi[d + nb - tb]);
    if (t->ndim == 1)
        return is_a ? j : i;
    return (lin * t->shape[t->ndim - 2] + i) * t->shape[t->ndim - 1] + j;
}

/* C = A @ B by torch.matmul's rules (any ranks, broadcast batch dims, 1-D
 * operands) in double, through lt_get_f32 (any layout); every element of C
 * within the float summation bound. */
static void assert_matches_reference(const lt_tensor *c, const lt_tensor *a, const lt_tensor *b)
{
    int64_t n = a->ndim >= 2 ? a->shape[a->ndim - 2] : 1, k = a->shape[a->ndim - 1];
    int64_t m = b->ndim >= 2 ? b->shape[b->ndim - 1] : 1;
    int nba = a->ndim > 2 ? a->ndim - 2 : 0, nbb = b->ndim > 2 ? b->ndim - 2 : 0, nb = nba > nbb ? nba : nbb;
    int64_t batch = 1;
    for (int d = 0; d < nb; d++)
        batch *= c->shape[d];
    assert_int_equal(lt_numel(c), batch * n * m);
    for (int64_t t = 0; t < batch; t++) {
        int64_t bi[LT_MAX_DIMS], r = t; /* t's index over c's batch dims */
        for (int d = nb - 1; d >= 0; d--) {
            bi[d] = r % c->shape[d];
            r /= c->shape[d];
        }
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < m; j++) {
                double want = 0, mag = 0;
                for (int64_t p = 0; p < k; p++) {
                    double x = (double)lt_get_f32(a, logical_index(a, true, nb, bi, i, p)) *
                               lt_get_f32(b, logical_index(b, false, nb, bi, p, j));
                    want += x;
                    mag += fabs(x);
                }
                double got = lt_get_f32(c, (t * n + i) * m + j);
                if (!(fabs(got - want) <= (double)(k + 2) * FLT_EPSILON * mag + 1e-30))
                    fail_msg("matmul reference: batch %lld (%lld,%lld): %.9g, reference %.9g", (long long)t,
                             (long long)i, (long long)j, got, want);
            }
    }
}

static void test_matmul_narrowed_in_place(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = ts_random(ctx, LT_SHAPE(6, 9), 1, -1, 1), *y = ts_random(ctx, LT_SHAPE(7, 8), 2, -1, 1);
    lt_requires_grad(ctx, x, true);
    lt_requires_grad(ctx, y, true);
    lt_tensor *a = lt_narrow(ctx, x, 1, 2, 5);                     /* (6,5), row stride 9 */
    lt_tensor *b = lt_narrow(ctx, lt_narrow(ctx, y, 0, 1, 5), 1, 2, 4); /* (5,4), row stride 8 */
    lt_tensor *c = lt_matmul(ctx, a, b);
    ts_assert_shape(c, LT_SHAPE(6, 4));
    assert_int_equal(lt_tape_size(ctx), 1);
    assert_matches_reference(c, a, b);
    /* a transposed narrowed view: column-major with a padded column stride */
    lt_tensor *at = lt_transpose(ctx, lt_narrow(ctx, y, 0, 2, 4), 0, 1); /* (8,4), strides (1,8) */
    lt_tensor *c2 = lt_matmul(ctx, at, lt_narrow(ctx, x, 0, 0, 4));     /* (8,4) @ (4,9) */
    ts_assert_shape(c2, LT_SHAPE(8, 9));
    assert_int_equal(lt_tape_size(ctx), 2);
    assert_matches_reference(c2, at, lt_narrow(ctx, x, 0, 0, 4));
    lt_ctx_free(ctx);
}

static void test_matmul_copies_other_layouts(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = ts_random(ctx, LT_SHAPE(3, 4, 5), 3, -1, 1), *y = ts_random(ctx, LT_SHAPE(4, 2), 4, -1, 1);
    lt_requires_grad(ctx, x, true);
    lt_tensor *a = lt_select(ctx, x, 2, 1); /* (3,4) with strides (20,5): no unit stride */
    lt_tensor *c = lt_matmul(ctx, a, y);
    assert_int_equal(lt_tape_size(ctx), 2); /* contiguous copy + matmul */
    assert_matches_reference(c, a, y);
    assert_true(lt_backward(ctx, lt_sum(ctx, c)));
    /* d sum(A Y)/dA[i][p] = sum_j Y[p][j], only at the selected positions */
    for (int64_t i = 0; i < 60; i++) {
        int64_t p = (i / 5) % 4;
        float want = i % 5 == 1 ? lt_get_f32(y, 2 * p) + lt_get_f32(y, 2 * p + 1) : 0.0f;
        assert_float_equal(lt_grad_get(x, i), want, 1e-6);
    }
    lt_ctx_free(ctx);
}

/* ======================================================================== */
/* gradient checks                                                          */
/* ======================================================================== */

#define GC_EPS 1e-2
#define GC_ATOL 1e-3
#define GC_RTOL 1e-3

static lt_tensor *f_plain(lt_ctx *ctx, lt_tensor **in, void *u)
{
    (void)u;
    return lt_matmul(ctx, in[0], in[1]);
}

/* user: which operands to transpose (bit 0: first, bit 1: second) */
static lt_tensor *f_transposed(lt_ctx *ctx, lt_tensor **in, void *u)
{
    int mask = *(int *)u;
    lt_tensor *a = mask & 1 ? lt_transpose(ctx, in[0], -1, -2) : in[0];
    lt_tensor *b = mask & 2 ? lt_transpose(ctx, in[1], -1, -2) : in[1];
    return lt_matmul(ctx, a, b);
}

/* views of views: A = (narrow of X^T)^T narrowed again; B = narrow(Y)^T */
static lt_tensor *f_views_of_views(lt_ctx *ctx, lt_tensor **in, void *u)
{
    (void)u;
    lt_tensor *xt = lt_transpose(ctx, in[0], 0, 1);                                   /* (6,5) */
    lt_tensor *a = lt_narrow(ctx, lt_transpose(ctx, lt_narrow(ctx, xt, 0, 1, 4), 0, 1), 0, 1, 3); /* (3,4) */
    lt_tensor *b = lt_transpose(ctx, lt_narrow(ctx, in[1], 1, 1, 4), 0, 1);          /* (4,3) col-major */
    return lt_matmul(ctx, a, b);
}

/* narrowed rows of a batch: A's batches are not adjacent (no folding) */
static lt_tensor *f_batch_gaps(lt_ctx *ctx, lt_tensor **in, void *u)
{
    (void)u;
    return lt_matmul(ctx, lt_narrow(ctx, in[0], 1, 1, 2), in[1]); /* (3,2,4) of (3,4,4) @ (4,3) */
}

/* a permuted batch: matrices are row-major but the batch stride is small */
static lt_tensor *f_permuted_batch(lt_ctx *ctx, lt_tensor **in, void *u)
{
    (void)u;
    lt_tensor *a = lt_permute(ctx, in[0], (int[]){1, 0, 2}); /* (3,2,4) -> (2,3,4) */
    return lt_matmul(ctx, a, in[1]);
}

/* the same tensor on both sides */
static lt_tensor *f_gram(lt_ctx *ctx, lt_tensor **in, void *u)
{
    (void)u;
    return lt_matmul(ctx, in[0], lt_transpose(ctx, in[0], 0, 1));
}

/* no unit stride: goes through lt_contiguous */
static lt_tensor *f_selected(lt_ctx *ctx, lt_tensor **in, void *u)
{
    (void)u;
    return lt_matmul(ctx, lt_select(ctx, in[0], 2, 1), in[1]);
}

static void gradcheck2(lt_shape sa, lt_shape sb, ts_fn f, void *user, uint64_t seed)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *in[2] = {ts_random(ctx, sa, seed, -1, 1), ts_random(ctx, sb, seed + 1, -1, 1)};
    lt_requires_grad(ctx, in[0], true);
    lt_requires_grad(ctx, in[1], true);
    ts_gradcheck(f, in, 2, user, GC_EPS, GC_ATOL, GC_RTOL);
    lt_ctx_free(ctx);
}

static void test_matmul_gradcheck_2d(void **state)
{
    (void)state;
    gradcheck2(LT_SHAPE(3, 4), LT_SHAPE(4, 5), f_plain, NULL, 10);
    gradcheck2(LT_SHAPE(1, 7), LT_SHAPE(7, 1), f_plain, NULL, 11);
    gradcheck2(LT_SHAPE(5, 9), LT_SHAPE(9, 10), f_plain, NULL, 12); /* ragged tiles */
    int masks[3] = {1, 2, 3};
    gradcheck2(LT_SHAPE(4, 3), LT_SHAPE(4, 5), f_transposed, &masks[0], 13); /* A^T (3,4) */
    gradcheck2(LT_SHAPE(3, 4), LT_SHAPE(5, 4), f_transposed, &masks[1], 14); /* B^T (4,5) */
    gradcheck2(LT_SHAPE(4, 3), LT_SHAPE(5, 4), f_transposed, &masks[2], 15); /* both */
    gradcheck2(LT_SHAPE(5, 6), LT_SHAPE(3, 6), f_views_of_views, NULL, 16);
    gradcheck2(LT_SHAPE(3, 4, 5), LT_SHAPE(4, 2), f_selected, NULL, 17);
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = ts_random(ctx, LT_SHAPE(3, 4), 18, -1, 1);
    lt_requires_grad(ctx, x, true);
    ts_gradcheck(f_gram, &x, 1, NULL, GC_EPS, GC_ATOL, GC_RTOL);
    lt_ctx_free(ctx);
}

static void test_matmul_gradcheck_batched(void **state)
{
    (void)state;
    int mask3 = 3, mask1 = 1;
    gradcheck2(LT_SHAPE(2, 3, 4), LT_SHAPE(2, 4, 5), f_plain, NULL, 20);
    gradcheck2(LT_SHAPE(1, 3, 4), LT_SHAPE(3, 4, 2), f_plain, NULL, 21); /* broadcast A */
    gradcheck2(LT_SHAPE(3, 2, 4), LT_SHAPE(1, 4, 3), f_plain, NULL, 22); /* broadcast B, folded */
    gradcheck2(LT_SHAPE(3, 2, 4), LT_SHAPE(4, 3), f_plain, NULL, 23);    /* rank-2 B, folded */
    gradcheck2(LT_SHAPE(2, 4), LT_SHAPE(3, 4, 5), f_plain, NULL, 24);    /* rank-2 A */
    gradcheck2(LT_SHAPE(2, 4, 3), LT_SHAPE(2, 5, 4), f_transposed, &mask3, 25);
    gradcheck2(LT_SHAPE(1, 4, 3), LT_SHAPE(2, 4, 2), f_transposed, &mask1, 26); /* transposed, broadcast */
    gradcheck2(LT_SHAPE(3, 4, 4), LT_SHAPE(4, 3), f_batch_gaps, NULL, 27);
    gradcheck2(LT_SHAPE(3, 2, 4), LT_SHAPE(4, 2), f_permuted_batch, NULL, 28);
}

/* q @ k^T on (B,nh,T,hs) tensors: k transposed in its last two dims */
static lt_tensor *f_scores(lt_ctx *ctx, lt_tensor **in, void *u)
{
    (void)u;
    return lt_matmul(ctx, in[0], lt_transpose(ctx, in[1], -2, -1));
}

/* (B,T,C) viewed as heads: (B,T,nh,hs) -> (B,nh,T,hs) by transpose(1,2), as
 * an attention block does, on both sides of q @ k^T */
static lt_tensor *f_heads(lt_ctx *ctx, lt_tensor **in, void *u)
{
    (void)u;
    lt_tensor *q = lt_transpose(ctx, lt_view(ctx, in[0], LT_SHAPE(2, 3, 2, 4)), 1, 2);
    lt_tensor *k = lt_transpose(ctx, lt_view(ctx, in[1], LT_SHAPE(2, 3, 2, 4)), 1, 2);
    return lt_matmul(ctx, q, lt_transpose(ctx, k, -2, -1)); /* (2,2,3,3) */
}

/* user: the shape the first operand is expanded to before the product */
static lt_tensor *f_expand_a(lt_ctx *ctx, lt_tensor **in, void *u)
{
    return lt_matmul(ctx, lt_expand(ctx, in[0], *(lt_shape *)u), in[1]);
}

static lt_tensor *f_expand_b(lt_ctx *ctx, lt_tensor **in, void *u)
{
    return lt_matmul(ctx, in[0], lt_expand(ctx, in[1], *(lt_shape *)u));
}

/* A (3,1,4) whose batch AND row strides are 0 (a view of a view of an
 * expand) @ a shared B: it must not fold into a (3,4) matrix of row stride
 * 0, whose gradient gemm would write three rows into one at once. */
static lt_tensor *f_aliased_rows(lt_ctx *ctx, lt_tensor **in, void *u)
{
    (void)u;
    lt_tensor *row = lt_narrow(ctx, lt_expand(ctx, in[0], LT_SHAPE(5, 4)), 0, 0, 1); /* (1,4), strides (0,1) */
    lt_tensor *a = lt_expand(ctx, lt_unsqueeze(ctx, row, 0), LT_SHAPE(3, 1, 4));     /* strides (0,0,1) */
    return lt_matmul(ctx, a, in[1]);
}

static void test_matmul_gradcheck_nd(void **state)
{
    (void)state;
    gradcheck2(LT_SHAPE(5), LT_SHAPE(5), f_plain, NULL, 40);                            /* dot */
    gradcheck2(LT_SHAPE(3, 4), LT_SHAPE(4), f_plain, NULL, 41);                         /* mv */
    gradcheck2(LT_SHAPE(4), LT_SHAPE(4, 5), f_plain, NULL, 42);                         /* vm */
    gradcheck2(LT_SHAPE(4), LT_SHAPE(2, 2, 4, 3), f_plain, NULL, 43);                   /* 1-D @ 4-D */
    gradcheck2(LT_SHAPE(2, 3, 3, 4), LT_SHAPE(4), f_plain, NULL, 44);                   /* 4-D @ 1-D, folded */
    gradcheck2(LT_SHAPE(2, 3, 3, 4), LT_SHAPE(2, 3, 4, 2), f_plain, NULL, 45);          /* 4-D */
    gradcheck2(LT_SHAPE(2, 1, 3, 4), LT_SHAPE(3, 4, 2), f_plain, NULL, 46);             /* batch (2,1) with (3) */
    gradcheck2(LT_SHAPE(2, 3, 3, 4), LT_SHAPE(1, 1, 4, 2), f_plain, NULL, 47);          /* B shared: folded */
    gradcheck2(LT_SHAPE(1, 2, 1, 1, 2, 3), LT_SHAPE(2, 1, 2, 3, 2), f_plain, NULL, 48); /* rank 6 */
    gradcheck2(LT_SHAPE(2, 2, 3, 4), LT_SHAPE(2, 2, 3, 4), f_scores, NULL, 49);         /* q @ k^T */
    gradcheck2(LT_SHAPE(2, 3, 8), LT_SHAPE(2, 3, 8), f_heads, NULL, 50);
    int mask3 = 3;
    gradcheck2(LT_SHAPE(2, 1, 4, 3), LT_SHAPE(3, 2, 4), f_transposed, &mask3, 51); /* both transposed, broadcast */
}

static void test_matmul_gradcheck_expanded(void **state)
{
    (void)state;
    lt_shape rows = LT_SHAPE(3, 4), batch = LT_SHAPE(2, 3, 4), lead = LT_SHAPE(3, 1, 4), bbatch = LT_SHAPE(2, 4, 2);
    gradcheck2(LT_SHAPE(1, 4), LT_SHAPE(4, 2), f_expand_a, &rows, 60);      /* row stride 0: copied */
    gradcheck2(LT_SHAPE(3, 4), LT_SHAPE(2, 4, 2), f_expand_a, &batch, 61);  /* batch stride 0: in place */
    gradcheck2(LT_SHAPE(4), LT_SHAPE(3, 4, 2), f_expand_a, &lead, 62);      /* new leading dims */
    gradcheck2(LT_SHAPE(2, 3, 4), LT_SHAPE(4, 2), f_expand_b, &bbatch, 63); /* B shared by expand */
    lt_shape cols = LT_SHAPE(4, 5);
    gradcheck2(LT_SHAPE(3, 4), LT_SHAPE(4, 1), f_expand_b, &cols, 64); /* column stride 0 */
    gradcheck2(LT_SHAPE(4), LT_SHAPE(4, 2), f_aliased_rows, NULL, 65);
}

/* Expanded operands read in place when they need no gradient, copied when
 * they do (their elements alias, and gemm cannot add into aliases); either
 * way the values match a double reference. */
static void test_matmul_expanded_operands(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = ts_random(ctx, LT_SHAPE(1, 4), 70, -1, 1), *w = ts_random(ctx, LT_SHAPE(4, 3), 71, -1, 1);
    lt_requires_grad(ctx, w, true);
    lt_tensor *a = lt_expand(ctx, x, LT_SHAPE(2, 5, 4)); /* strides (0,0,1) */
    lt_tensor *c = lt_matmul(ctx, a, w);
    assert_int_equal(lt_tape_size(ctx), 1); /* no copy: x needs no gradient */
    assert_matches_reference(c, a, w);
    lt_requires_grad(ctx, x, true);
    a = lt_expand(ctx, x, LT_SHAPE(2, 5, 4));
    c = lt_matmul(ctx, a, w);
    assert_int_equal(lt_tape_size(ctx), 3); /* + a copy and the product */
    assert_matches_reference(c, a, w);
    assert_true(lt_backward(ctx, lt_sum(ctx, c)));
    /* d sum(A W)/dx[p] = 10 rows * sum_j W[p][j] */
    for (int64_t p = 0; p < 4; p++) {
        double want = 0;
        for (int64_t j = 0; j < 3; j++)
            want += 10.0 * lt_get_f32(w, p * 3 + j);
        assert_float_equal(lt_grad_get(x, p), want, 1e-5);
    }
    lt_ctx_free(ctx);
}

/* Views that keep a unit stride in the matrix dims are read in place at any
 * rank: no contiguous copy on the tape. */
static void test_matmul_nd_views_in_place(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = ts_random(ctx, LT_SHAPE(2, 6, 8), 80, -1, 1), *y = ts_random(ctx, LT_SHAPE(2, 6, 8), 81, -1, 1);
    lt_requires_grad(ctx, x, true);
    lt_requires_grad(ctx, y, true);
    /* (B,T,C) -> (B,nh,T,hs) heads: strides (48,4,8,1) */
    lt_tensor *q = lt_transpose(ctx, lt_view(ctx, x, LT_SHAPE(2, 6, 2, 4)), 1, 2);
    lt_tensor *k = lt_transpose(ctx, lt_view(ctx, y, LT_SHAPE(2, 6, 2, 4)), 1, 2);
    lt_tensor *att = lt_matmul(ctx, q, lt_transpose(ctx, k, -2, -1)); /* (2,2,6,6) */
    ts_assert_shape(att, LT_SHAPE(2, 2, 6, 6));
    assert_int_equal(lt_tape_size(ctx), 1);
    assert_matches_reference(att, q, lt_transpose(ctx, k, -2, -1));
    lt_tensor *v = lt_narrow(ctx, k, 2, 1, 5);                        /* (2,2,5,4), rows of k skipped */
    lt_tensor *out = lt_matmul(ctx, lt_narrow(ctx, att, 3, 0, 5), v); /* (2,2,6,5) @ (2,2,5,4) */
    ts_assert_shape(out, LT_SHAPE(2, 2, 6, 4));
    assert_int_equal(lt_tape_size(ctx), 2);
    assert_matches_reference(out, lt_narrow(ctx, att, 3, 0, 5), v);
    /* a 1-D operand with a stride (a column, x[1,:,2]) on either side */
    lt_tensor *col = lt_select(ctx, lt_select(ctx, x, 0, 1), 1, 2); /* (6,), stride 8 */
    lt_tensor *mv = lt_matmul(ctx, att, col), *vm = lt_matmul(ctx, col, att);
    ts_assert_shape(mv, LT_SHAPE(2, 2, 6));
    ts_assert_shape(vm, LT_SHAPE(2, 2, 6));
    assert_int_equal(lt_tape_size(ctx), 4);
    assert_matches_reference(mv, att, col);
    assert_matches_reference(vm, col, att);
    lt_ctx_free(ctx);
}

/* ======================================================================== */
/* the model's shapes, forward and backward against double references       */
/* ======================================================================== */

/* Checks C = A B (rank 2 or 3 A, rank 2 B) and, for upstream G,
 * dA = G B^T and dB = A^T G on sampled rows, against double sums. */
static void check_forward_backward(lt_shape sa, int64_t m, uint64_t seed)
{
    lt_ctx *ctx = lt_ctx_new();
    int64_t k = sa.d[sa.ndim - 1];
    lt_tensor *a = ts_random(ctx, sa, seed, -1, 1), *b = ts_random(ctx, LT_SHAPE(k, m), seed + 1, -0.3, 0.3);
    lt_requires_grad(ctx, a, true);
    lt_requires_grad(ctx, b, true);
    lt_tensor *c = lt_matmul(ctx, a, b);
    assert_non_null(c);
    int64_t rows = lt_numel(a) / k; /* all batches' rows */
    lt_tensor *g = ts_random(ctx, lt_shape_of(c), seed + 2, -1, 1);
    assert_true(lt_backward_grad(ctx, c, g));
    const float *ad = lt_data_f32(a), *bd = lt_data_f32(b), *cd = lt_data_f32(c), *gd = lt_data_f32(g);
    const float *ga = lt_grad_f32(a), *gb = lt_grad_f32(b);
    for (int64_t i = 0; i < rows; i += rows > 64 ? 97 : 1) {
        for (int64_t j = 0; j < m; j++) { /* C[i][j] */
            double s = 0, mag = 0;
            for (int64_t p = 0; p < k; p++)
                s += (double)ad[i * k + p] * bd[p * m + j], mag += fabs((double)ad[i * k + p] * bd[p * m + j]);
            assert_true(fabs(cd[i * m + j] - s) <= (k + 2) * FLT_EPSILON * mag);
        }
        for (int64_t p = 0; p < k; p++) { /* dA[i][p] = sum_j G[i][j] B[p][j] */
            double s = 0, mag = 0;
            for (int64_t j = 0; j < m; j++)
                s += (double)gd[i * m + j] * bd[p * m + j], mag += fabs((double)gd[i * m + j] * bd[p * m + j]);
            assert_true(fabs(ga[i * k + p] - s) <= (m + 2) * FLT_EPSILON * mag);
        }
    }
    for (int64_t p = 0; p < k; p++)
        for (int64_t j = 0; j < m; j += 7) { /* dB[p][j] = sum_i A[i][p] G[i][j] */
            double s = 0, mag = 0;
            for (int64_t i = 0; i < rows; i++)
                s += (double)ad[i * k + p] * gd[i * m + j], mag += fabs((double)ad[i * k + p] * gd[i * m + j]);
            assert_true(fabs(gb[p * m + j] - s) <= (rows + 2) * FLT_EPSILON * mag);
        }
    lt_ctx_free(ctx);
}

static void test_matmul_model_shapes(void **state)
{
    (void)state;
    check_forward_backward(LT_SHAPE(32, 30), 200, 30);    /* embedding -> hidden */
    check_forward_backward(LT_SHAPE(32, 200), 27, 31);    /* hidden -> logits */
    check_forward_backward(LT_SHAPE(22655, 30), 200, 32); /* the whole training set */
    check_forward_backward(LT_SHAPE(4, 32, 30), 200, 33); /* batched rows, folded */
}

/* ======================================================================== */
/* edge cases and errors                                                    */
/* ======================================================================== */

static void test_matmul_empty_and_no_graph(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *c = lt_matmul(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(0, 3)), lt_ones(ctx, LT_SHAPE(3, 4)));
    ts_assert_shape(c, LT_SHAPE(0, 4));
    /* k = 0: a sum of nothing */
    c = lt_matmul(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 0)), lt_zeros(ctx, LT_F32, LT_SHAPE(0, 3)));
    ts_assert_near(c, (float[]){0, 0, 0, 0, 0, 0}, 6, 0, 0);
    c = lt_matmul(ctx, lt_ones(ctx, LT_SHAPE(0, 2, 3)), lt_ones(ctx, LT_SHAPE(3, 4)));
    ts_assert_shape(c, LT_SHAPE(0, 2, 4));
    /* nothing recorded without a gradient to compute */
    assert_int_equal(lt_tape_size(ctx), 0);
    assert_false(c->requires_grad);
    lt_tensor *w = ts_random(ctx, LT_SHAPE(3, 2), 5, -1, 1);
    lt_requires_grad(ctx, w, true);
    bool old = lt_set_grad_enabled(ctx, false);
    assert_non_null(lt_matmul(ctx, lt_ones(ctx, LT_SHAPE(4, 3)), w));
    lt_set_grad_enabled(ctx, old);
    assert_int_equal(lt_tape_size(ctx), 0);
    /* empty gradient flow */
    lt_tensor *e = lt_new(ctx, LT_F32, LT_SHAPE(2, 0));
    lt_requires_grad(ctx, e, true);
    lt_tensor *f = lt_new(ctx, LT_F32, LT_SHAPE(0, 3));
    lt_requires_grad(ctx, f, true);
    assert_true(lt_backward(ctx, lt_sum(ctx, lt_matmul(ctx, e, f))));
    lt_ctx_free(ctx);
}

/* An empty result with a batch of 2^36 matrices: no work per matrix, so the
 * forward and the backward return at once (they looped over the batch until
 * the fuzzer timed out on it), and b's gradient is the sum of nothing. */
static void test_matmul_empty_huge_batch(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    const int64_t huge = (int64_t)1 << 36;
    lt_tensor *a = lt_new(ctx, LT_F32, LT_SHAPE(huge, 0, 2)); /* batched, 0 rows */
    lt_tensor *b = ts_random(ctx, LT_SHAPE(2, 3), 7, -1, 1);
    lt_requires_grad(ctx, a, true);
    lt_requires_grad(ctx, b, true);
    lt_tensor *c = lt_matmul(ctx, a, b);
    ts_assert_shape(c, LT_SHAPE(huge, 0, 3));
    assert_true(lt_backward(ctx, lt_sum(ctx, c)));
    ts_assert_near(lt_grad(ctx, b), (float[]){0, 0, 0, 0, 0, 0}, 6, 0, 0);
    /* and with 0 columns: (huge, 3, 2) is too big, so a broadcasts from 1 */
    lt_ctx_reset(ctx);
    lt_tensor *b0 = lt_new(ctx, LT_F32, LT_SHAPE(huge, 2, 0));
    lt_tensor *a1 = ts_random(ctx, LT_SHAPE(1, 3, 2), 8, -1, 1);
    lt_requires_grad(ctx, a1, true);
    c = lt_matmul(ctx, a1, b0);
    ts_assert_shape(c, LT_SHAPE(huge, 3, 0));
    assert_true(lt_backward(ctx, lt_sum(ctx, c)));
    ts_assert_near(lt_grad(ctx, a1), (float[]){0, 0, 0, 0, 0, 0}, 6, 0, 0);
    assert_int_equal(lt_status_of(ctx), LT_OK);
    lt_ctx_free(ctx);
}

static void test_matmul_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_zeros(ctx, LT_F32, LT_SHAPE(32, 30)), *b = lt_zeros(ctx, LT_F32, LT_SHAPE(6, 100));
    assert_null(lt_matmul(ctx, a, b));
    assert_string_equal(lt_error_message(ctx), "matmul: (32,30) @ (6,100): inner sizes differ");
    ts_assert_error(ctx, LT_ERR_SHAPE, "matmul", "(32,30) @ (6,100)", "inner sizes differ", NULL);

    assert_null(lt_matmul(ctx, NULL, b));
    ts_assert_error(ctx, LT_ERR_ARG, "matmul", "argument 1 is NULL", NULL);
    assert_null(lt_matmul(ctx, a, NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "matmul", "argument 2 is NULL", NULL);
    assert_null(lt_matmul(NULL, a, b)); /* no context: NULL, nothing to record */

    lt_tensor *ai = lt_zeros(ctx, LT_I32, LT_SHAPE(2, 3)), *bf = lt_zeros(ctx, LT_F32, LT_SHAPE(3, 2));
    assert_null(lt_matmul(ctx, ai, bf));
    ts_assert_error(ctx, LT_ERR_DTYPE, "matmul", "i32 (2,3)", "f32 (3,2)", NULL);
    assert_null(lt_matmul(ctx, bf, ai));
    ts_assert_error(ctx, LT_ERR_DTYPE, "matmul", "i32", NULL);

    assert_null(lt_matmul(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE0), bf));
    assert_string_equal(lt_error_message(ctx), "matmul: () @ (3,2): operands must have rank >= 1, got ranks 0 and 2");
    ts_assert_error(ctx, LT_ERR_SHAPE, NULL);
    assert_null(lt_matmul(ctx, bf, lt_zeros(ctx, LT_F32, LT_SHAPE0)));
    ts_assert_error(ctx, LT_ERR_SHAPE, "matmul", "(3,2) @ ()", "rank >= 1", NULL);

    /* inner sizes with 1-D operands: the vector's only size */
    assert_null(lt_matmul(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(3)), lt_zeros(ctx, LT_F32, LT_SHAPE(4))));
    ts_assert_error(ctx, LT_ERR_SHAPE, "matmul: (3) @ (4): inner sizes differ", NULL);
    assert_null(lt_matmul(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 2, 3)), lt_zeros(ctx, LT_F32, LT_SHAPE(2))));
    ts_assert_error(ctx, LT_ERR_SHAPE, "matmul: (2,2,3) @ (2): inner sizes differ", NULL);
    assert_null(lt_matmul(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(2)), lt_zeros(ctx, LT_F32, LT_SHAPE(5, 3, 2))));
    ts_assert_error(ctx, LT_ERR_SHAPE, "matmul: (2) @ (5,3,2): inner sizes differ", NULL);

    /* batch dims that do not broadcast, named as batch dims */
    assert_null(lt_matmul(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(4, 2, 3)), lt_zeros(ctx, LT_F32, LT_SHAPE(5, 3, 2))));
    assert_string_equal(lt_error_message(ctx), "matmul: (4,2,3) @ (5,3,2): batch dims (4) and (5) do not broadcast");
    ts_assert_error(ctx, LT_ERR_SHAPE, NULL);
    assert_null(
        lt_matmul(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(4, 2, 8, 8)), lt_zeros(ctx, LT_F32, LT_SHAPE(4, 3, 8, 8))));
    assert_string_equal(lt_error_message(ctx),
                        "matmul: (4,2,8,8) @ (4,3,8,8): batch dims (4,2) and (4,3) do not broadcast");
    ts_assert_error(ctx, LT_ERR_SHAPE, NULL);
    assert_null(
        lt_matmul(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 1, 3, 1, 2)), lt_zeros(ctx, LT_F32, LT_SHAPE(2, 2, 4))));
    ts_assert_error(ctx, LT_ERR_SHAPE, "batch dims (2,1,3) and (2) do not broadcast", NULL);
    assert_null(lt_matmul(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(4, 2, 3)), lt_zeros(ctx, LT_F32, LT_SHAPE(4, 2, 2))));
    ts_assert_error(ctx, LT_ERR_SHAPE, "matmul", "(4,2,3) @ (4,2,2)", "inner sizes differ", NULL);
    /* inner sizes are checked before batch dims, as torch does */
    assert_null(lt_matmul(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(4, 2, 3)), lt_zeros(ctx, LT_F32, LT_SHAPE(5, 2, 2))));
    ts_assert_error(ctx, LT_ERR_SHAPE, "inner sizes differ", NULL);

    /* a sticky error makes the next (valid) matmul return NULL */
    assert_null(lt_matmul(ctx, a, b));
    assert_null(lt_matmul(ctx, bf, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 2))));
    ts_assert_error(ctx, LT_ERR_SHAPE, "inner sizes differ", NULL);
    assert_non_null(lt_matmul(ctx, bf, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 2))));
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_small_sizes),
        cmocka_unit_test(test_gemm_odd_sizes),
        cmocka_unit_test(test_gemm_model_shapes),
        cmocka_unit_test(test_gemm_degenerate),
        cmocka_unit_test(test_matmul_golden),
        cmocka_unit_test(test_matmul_golden_transposed),
        cmocka_unit_test(test_matmul_hand),
        cmocka_unit_test(test_matmul_narrowed_in_place),
        cmocka_unit_test(test_matmul_copies_other_layouts),
        cmocka_unit_test(test_matmul_gradcheck_2d),
        cmocka_unit_test(test_matmul_gradcheck_batched),
        cmocka_unit_test(test_matmul_gradcheck_nd),
        cmocka_unit_test(test_matmul_gradcheck_expanded),
        cmocka_unit_test(test_matmul_expanded_operands),
        cmocka_unit_test(test_matmul_nd_views_in_place),
        cmocka_unit_test(test_matmul_model_shapes),
        cmocka_unit_test(test_matmul_empty_and_no_graph),
        cmocka_unit_test(test_matmul_empty_huge_batch),
        cmocka_unit_test(test_matmul_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
