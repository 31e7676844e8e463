/* test_vsgd.c - the SGD update kernel with its finiteness check
 * (lib/kernels/vsgd.h) on every instruction-set path the machine has: the
 * bits of the scalar p - lr * g (no fused multiply-add) for lengths with
 * vector tails, the finiteness answer for a NaN or infinity at every
 * position, from a bad gradient or from an overflowing update, and the
 * check alone (lt_vall_finite). */
#include "test_support.h"
#include "ts_isa.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/vsgd.h"

/* the reference below must not be contracted into an FMA either */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define MAXN 70


static void fill(float *v, int n, uint64_t seed, double lo, double hi)
{
    ts_rand r = ts_rand_new(seed);
    for (int i = 0; i < n; i++)
        v[i] = (float)ts_uniform(&r, lo, hi);
}

/* Every length 0..MAXN at two alignments: the bits of p - lr * g, true, and
 * nothing written past n. */
static void test_update_bits(void **state)
{
    (void)state;
    float p0[MAXN + 2], g[MAXN + 2], p[MAXN + 2], want[MAXN + 2];
    fill(p0, MAXN + 2, 1, -3, 3);
    fill(g, MAXN + 2, 2, -50, 50);
    const float lr = 0.1f;
    for (int i = 0; i < MAXN + 2; i++)
        want[i] = p0[i] - lr * g[i];
    FOR_EACH_ISA(isa)
    for (int off = 0; off < 2; off++)
        for (int n = 0; n <= MAXN; n++) {
            memcpy(p, p0, sizeof p);
            assert_true(lt_vsgd_finite(p + off, g + off, n, lr));
            for (int i = 0; i < MAXN + 2; i++)
                if (memcmp(&p[i], i >= off && i < off + n ? &want[i] : &p0[i], sizeof(float))) {
                    printf("# %s n=%d off=%d element %d: %a, want %a\n", lt_isa_name(isa), n, off, i, (double)p[i],
                           (double)(i >= off && i < off + n ? want[i] : p0[i]));
                    fail();
                }
        }
}

/* A NaN or infinite gradient at any position of any length, or an update
 * that overflows there, makes the answer false; the other elements are
 * still updated with their usual bits. */
static void test_nonfinite_anywhere(void **state)
{
    (void)state;
    const float bad[] = {NAN, INFINITY, -INFINITY};
    float p0[MAXN], g0[MAXN], p[MAXN], g[MAXN];
    fill(p0, MAXN, 3, -1, 1);
    fill(g0, MAXN, 4, -1, 1);
    FOR_EACH_ISA(isa)
    for (int n = 1; n <= MAXN; n += (n < 40 ? 1 : 7))
        for (int at = 0; at < n; at++) {
            for (int b = 0; b < 3; b++) {
                memcpy(p, p0, sizeof p), memcpy(g, g0, sizeof g);
                g[at] = bad[b];
                if (lt_vsgd_finite(p, g, n, 0.5f)) {
                    printf("# %s n=%d: gradient %g at %d not seen\n", lt_isa_name(isa), n, (double)bad[b], at);
                    fail();
                }
                assert_true(at == 0 || p[0] == p0[0] - 0.5f * g0[0]);
            }
            memcpy(p, p0, sizeof p), memcpy(g, g0, sizeof g);
            p[at] = 3e38f, g[at] = -1e38f; /* 3e38 + 1e38 overflows */
            assert_false(lt_vsgd_finite(p, g, n, 1.0f));
            assert_true(isinf(p[at]));
            memcpy(p, p0, sizeof p);
            p[at] = bad[at % 3];
            assert_false(lt_vall_finite(p, n));
            p[at] = p0[at];
            assert_true(lt_vall_finite(p, n));
        }
}

/* Finite extremes stay finite: the largest floats, denormals, zeros. */
static void test_finite_extremes(void **state)
{
    (void)state;
    float p[MAXN], g[MAXN];
    for (int i = 0; i < MAXN; i++) {
        p[i] = i % 4 == 0 ? 3.4e38f : i % 4 == 1 ? -1e-45f : i % 4 == 2 ? -0.0f : 1.0f;
        g[i] = 0.0f;
    }
    FOR_EACH_ISA(isa)
    {
        assert_true(lt_vall_finite(p, MAXN));
        assert_true(lt_vsgd_finite(p, g, MAXN, 1.0f));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_update_bits, ts_restore_isa),
        cmocka_unit_test_teardown(test_nonfinite_anywhere, ts_restore_isa),
        cmocka_unit_test_teardown(test_finite_extremes, ts_restore_isa),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
