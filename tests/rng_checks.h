/* rng_checks.h - checks shared by the PyTorch-reproduction tests
 * (test_rng.c, test_rng_init.c): bit-exact float comparison, the FNV-1a hash
 * the golden scripts use for large tensors, and refused calls. Include after
 * cmocka.h and libtensor.h. */
#ifndef LT_RNG_CHECKS_H
#define LT_RNG_CHECKS_H

#include <stdlib.h>
#include <string.h>

/* Adjacent floats of one sign have adjacent bit patterns. */
static inline int64_t ulps_apart(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    return llabs((long long)ia - (long long)ib);
}

/* Every value bit for bit; a difference is reported with its distance in ulps. */
static inline void assert_floats_identical(const float *got, const float *want, int64_t n, const char *what)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof got[i]) != 0)
            fail_msg("%s[%lld]: got %a, want %a (%lld ulp apart)", what, (long long)i, (double)got[i],
                     (double)want[i], (long long)ulps_apart(got[i], want[i]));
}

/* FNV-1a (64-bit) over bytes, as tools/gen_rng_golden.py hashes large
 * tensors (their little-endian bytes, like the machines the goldens come from). */
static inline uint64_t fnv1a64(const void *data, size_t bytes)
{
    const unsigned char *p = data;
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < bytes; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* Two generators in the same state: after calls on g that must draw
 * nothing, g and fresh still give the same next word. */
static inline void seed_twins(lt_rng *g, lt_rng *fresh, uint64_t seed)
{
    lt_rng_seed(g, seed);
    lt_rng_seed(fresh, seed);
}

/* A call that must be refused: false, the status, a message naming it. */
static inline void expect_refused(lt_ctx *ctx, bool ok, lt_status want, const char *needle)
{
    assert_false(ok);
    assert_int_equal(lt_status_of(ctx), want);
    if (!strstr(lt_error_message(ctx), needle))
        fail_msg("message '%s' lacks '%s'", lt_error_message(ctx), needle);
    lt_clear_error(ctx);
}

#endif
