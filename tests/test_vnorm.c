/* test_vnorm.c - the layernorm forward's moments, its backward's row and
 * column kernels and the column sums of linear's bias gradient
 * (lib/kernels/vnorm.h) on every instruction-set path the machine has: the
 * bits of a plain loop doing the same float (or double) operations in the
 * same order, for widths with vector blocks, single vectors and portable
 * tails, with the optional outputs left out in turn, and nothing written
 * past the end. */
#include "test_support.h"
#include "ts_isa.h"

#include <math.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/vnorm.h"

/* the references below must not be contracted into an FMA either */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define MAXC 150 /* columns: several blocks of 4 AVX-512 vectors and tails */
#define ROWS 37
#define LD (MAXC + 3)
#define GUARD 1234.5f

static void fill(float *v, int n, uint64_t seed, double lo, double hi)
{
    ts_rand r = ts_rand_new(seed);
    for (int i = 0; i < n; i++)
        v[i] = (float)ts_uniform(&r, lo, hi);
}

static void assert_bits(const float *want, const float *got, int n)
{
    assert_memory_equal(want, got, sizeof(float) * (size_t)n);
}

/* ---- one row: xhat, dxhat and the row's terms of dgain and dbias ------------------ */

static void ln_terms_reference(float *xh, float *dh, float *dgain, float *dbias, const float *x, const float *dy,
                               const float *g, float mu, float is, int c)
{
    for (int j = 0; j < c; j++) {
        xh[j] = (x[j] - mu) * is;
        dh[j] = g ? dy[j] * g[j] : dy[j];
        if (dgain)
            dgain[j] += dy[j] * xh[j];
        if (dbias)
            dbias[j] += dy[j];
    }
}

/* Every width 0..MAXC, with and without the gain, dgain and dbias. */
static void test_ln_terms_bits(void **state)
{
    (void)state;
    float x[MAXC], dy[MAXC], g[MAXC], p0[MAXC + 1];
    fill(x, MAXC, 1, -3, 3);
    fill(dy, MAXC, 2, -1, 1);
    fill(g, MAXC, 3, 0.5, 1.5);
    fill(p0, MAXC, 4, -2, 2);
    const float mu = 0.3125f, is = 1.7f;
    for (int variant = 0; variant < 4; variant++) {
        const float *gv = variant & 1 ? NULL : g;
        const bool with_dgain = variant != 2, with_dbias = variant != 3;
        for (int c = 0; c <= MAXC; c++) {
            float wxh[MAXC + 1], wdh[MAXC + 1], wg[MAXC + 1], wb[MAXC + 1];
            memcpy(wg, p0, sizeof wg);
            memcpy(wb, p0, sizeof wb);
            ln_terms_reference(wxh, wdh, with_dgain ? wg : NULL, with_dbias ? wb : NULL, x, dy, gv, mu, is, c);
            FOR_EACH_ISA(isa)
            {
                float xh[MAXC + 1], dh[MAXC + 1], dg[MAXC + 1], db[MAXC + 1];
                memcpy(dg, p0, sizeof dg);
                memcpy(db, p0, sizeof db);
                xh[c] = dh[c] = dg[c] = db[c] = GUARD;
                lt_vrow_ln_terms(xh, dh, with_dgain ? dg : NULL, with_dbias ? db : NULL, x, dy, gv, mu, is, c);
                assert_bits(wxh, xh, c);
                assert_bits(wdh, dh, c);
                assert_bits(wg, dg, c);
                assert_bits(wb, db, c);
                assert_true(xh[c] == GUARD && dh[c] == GUARD && dg[c] == GUARD && db[c] == GUARD);
            }
        }
    }
}

/* ---- columns: dgain and dbias over the rows, and plain column sums ----------------- */

static float xs[ROWS * LD], dys[ROWS * LD];

static void fill_rows(void)
{
    fill(xs, ROWS * LD, 5, -3, 3);
    fill(dys, ROWS * LD, 6, -1, 1);
}

/* Every width 0..MAXC of rows of stride LD, with and without dgain and
 * dbias. */
static void test_col_ln_params_bits(void **state)
{
    (void)state;
    fill_rows();
    float mean[ROWS], invstd[ROWS], p0[MAXC + 1];
    fill(mean, ROWS, 7, -0.5, 0.5);
    fill(invstd, ROWS, 8, 0.5, 2);
    fill(p0, MAXC, 9, -2, 2);
    for (int variant = 0; variant < 3; variant++) {
        const bool with_dgain = variant != 1, with_dbias = variant != 2;
        for (int n = 0; n <= MAXC; n++) {
            float wg[MAXC + 1], wb[MAXC + 1];
            memcpy(wg, p0, sizeof wg);
            memcpy(wb, p0, sizeof wb);
            for (int r = 0; r < ROWS; r++)
                for (int j = 0; j < n; j++) {
                    const float d = dys[r * LD + j];
                    wg[j] += d * ((xs[r * LD + j] - mean[r]) * invstd[r]);
                    wb[j] += d;
                }
            FOR_EACH_ISA(isa)
            {
                float dg[MAXC + 1], db[MAXC + 1];
                memcpy(dg, p0, sizeof dg);
                memcpy(db, p0, sizeof db);
                dg[n] = db[n] = GUARD;
                lt_vcol_ln_params(with_dgain ? dg : NULL, with_dbias ? db : NULL, xs, dys, ROWS, LD, n, mean, invstd);
                assert_bits(with_dgain ? wg : p0, dg, n);
                assert_bits(with_dbias ? wb : p0, db, n);
                assert_true(dg[n] == GUARD && db[n] == GUARD);
            }
        }
    }
}

static void test_col_sums_bits(void **state)
{
    (void)state;
    fill_rows();
    float p0[MAXC + 1];
    fill(p0, MAXC, 10, -2, 2);
    for (int m = 0; m <= ROWS; m += 37) /* no rows: unchanged */
        for (int n = 0; n <= MAXC; n++) {
            float want[MAXC + 1];
            memcpy(want, p0, sizeof want);
            for (int r = 0; r < m; r++)
                for (int j = 0; j < n; j++)
                    want[j] += dys[r * LD + j];
            FOR_EACH_ISA(isa)
            {
                float got[MAXC + 1];
                memcpy(got, p0, sizeof got);
                got[n] = GUARD;
                lt_vcol_sums_add(got, dys, m, LD, n);
                assert_bits(want, got, n);
                assert_true(got[n] == GUARD);
            }
        }
}

/* ---- the layernorm backward's double sums of a block of rows ----------------------- */

static void test_ln_sums_bits(void **state)
{
    (void)state;
    enum { R = LT_LN_SUM_ROWS, C = 333 };
    static float xh[R * C], dh[R * C];
    const int widths[] = {0, 1, 7, 8, 9, 15, 16, 17, 64, 70, C};
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        const int c = widths[w];
        fill(xh, R * c, 11 + w, -3, 3);
        fill(dh, R * c, 31 + w, -1, 1);
        double want_d[R], want_dx[R];
        for (int q = 0; q < R; q++) {
            want_d[q] = want_dx[q] = 0.0;
            for (int j = 0; j < c; j++) {
                want_d[q] += dh[q * c + j];
                want_dx[q] += dh[q * c + j] * xh[q * c + j];
            }
        }
        FOR_EACH_ISA(isa)
        {
            double sd[R], sdx[R];
            lt_vln_sums(xh, dh, c, sd, sdx);
            assert_memory_equal(want_d, sd, sizeof sd);
            assert_memory_equal(want_dx, sdx, sizeof sdx);
        }
    }
}

/* ---- the layernorm forward's moments of a block of rows ----------------------------- */

/* The documented order: float lane sums over the whole blocks of
 * LT_MOMENT_LANES, then in double the tail's terms and the lanes in order. */
static double moment_reference(const float *x, int c, float shift, int power)
{
    float lanes[LT_MOMENT_LANES] = {0};
    int j = 0;
    for (; j + LT_MOMENT_LANES <= c; j += LT_MOMENT_LANES)
        for (int k = 0; k < LT_MOMENT_LANES; k++) {
            float d = x[j + k] - shift;
            lanes[k] += power == 2 ? d * d : d;
        }
    double total = 0.0;
    for (; j < c; j++) {
        double d = (double)x[j] - shift;
        total += power == 2 ? d * d : d;
    }
    for (int k = 0; k < LT_MOMENT_LANES; k++)
        total += lanes[k];
    return total;
}

/* Blocks of 1..LT_MOMENT_ROWS rows of stride LD, widths with and without
 * whole blocks and tails, no shift or one per row, both powers: each row's
 * bits as if alone, and nothing written past the block. */
static void test_rows_moment_bits(void **state)
{
    (void)state;
    enum { R = LT_MOMENT_ROWS };
    float shift[R];
    fill_rows();
    fill(shift, R, 41, -1, 1);
    for (int q = 0; q < R; q++) { /* magnitudes far apart, so that the order of the double sums shows */
        xs[q * LD + (q + 3) % LT_MOMENT_LANES] = 3e15f * (float)(q + 1);
        xs[q * LD + (q + 7) % LT_MOMENT_LANES] = -1.7e15f * (float)(q + 2);
        xs[q * LD + LT_MOMENT_LANES + 2] = 1e-3f;
    }
    const int widths[] = {0, 1, 15, 16, 17, 31, 32, 33, 64, 65, 100, MAXC};
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++)
        for (int rows = 1; rows <= R; rows++)
            for (int power = 1; power <= 2; power++)
                for (int shifted = 0; shifted < 2; shifted++) {
                    const int c = widths[w];
                    double want[R + 1];
                    for (int q = 0; q < rows; q++)
                        want[q] = moment_reference(xs + q * LD, c, shifted ? shift[q] : 0.0f, power);
                    FOR_EACH_ISA(isa)
                    {
                        double got[R + 1];
                        got[rows] = GUARD;
                        lt_vrows_moment(xs, LD, rows, c, shifted ? shift : NULL, power, got);
                        assert_memory_equal(want, got, sizeof(double) * (size_t)rows);
                        assert_true(got[rows] == GUARD);
                    }
                }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_ln_terms_bits, ts_restore_isa),
        cmocka_unit_test_teardown(test_col_ln_params_bits, ts_restore_isa),
        cmocka_unit_test_teardown(test_col_sums_bits, ts_restore_isa),
        cmocka_unit_test_teardown(test_ln_sums_bits, ts_restore_isa),
        cmocka_unit_test_teardown(test_rows_moment_bits, ts_restore_isa),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
