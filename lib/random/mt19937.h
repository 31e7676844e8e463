/* mt19937.h - the MT19937 engine shared by lib/random/rng.c (PyTorch's CPU
 * generator) and lib/random/pyrandom.c (CPython's random module). Both libraries use
 * the reference generator of Matsumoto and Nishimura unchanged; they differ
 * only in how they seed it and how they turn 32-bit words into values, so
 * the engine lives here once. Private to the library (not installed). */
#ifndef LT_MT19937_H
#define LT_MT19937_H

#include <stdint.h>

#define LT_MT_N 624
#define LT_MT_M 397

/* The reference init_genrand(seed). index = N makes the first draw
 * regenerate the whole state, as the reference does. */
static inline void lt_mt_seed(uint32_t mt[LT_MT_N], int *index, uint32_t seed)
{
    mt[0] = seed;
    for (int i = 1; i < LT_MT_N; i++) {
        uint32_t prev = mt[i - 1];
        /* 64-bit product, then truncation: the reference's mod 2^32. */
        mt[i] = (uint32_t)(1812433253u * (uint64_t)(prev ^ (prev >> 30)) + (uint64_t)i);
    }
    *index = LT_MT_N;
}

/* The reference init_by_array(key, len): CPython's seeding. len >= 1. */
static inline void lt_mt_seed_array(uint32_t mt[LT_MT_N], int *index,
                                    const uint32_t *key, int len)
{
    lt_mt_seed(mt, index, 19650218u);
    int i = 1, j = 0;
    for (int k = LT_MT_N > len ? LT_MT_N : len; k > 0; k--) {
        uint32_t prev = mt[i - 1];
        mt[i] = (mt[i] ^ (uint32_t)((prev ^ (prev >> 30)) * (uint64_t)1664525u))
                + key[j] + (uint32_t)j;
        i++;
        j++;
        if (i >= LT_MT_N) {
            mt[0] = mt[LT_MT_N - 1];
            i = 1;
        }
        if (j >= len)
            j = 0;
    }
    for (int k = LT_MT_N - 1; k > 0; k--) {
        uint32_t prev = mt[i - 1];
        mt[i] = (mt[i] ^ (uint32_t)((prev ^ (prev >> 30)) * (uint64_t)1566083941u))
                - (uint32_t)i;
        i++;
        if (i >= LT_MT_N) {
            mt[0] = mt[LT_MT_N - 1];
            i = 1;
        }
    }
    mt[0] = 0x80000000u; /* guarantees a non-zero state */
}

/* Regenerates all N words in place. Indexing modulo N reads the words that
 * were already updated in this pass exactly where the reference's three
 * loops do. */
static inline void lt_mt_twist(uint32_t mt[LT_MT_N])
{
    for (int i = 0; i < LT_MT_N; i++) {
        uint32_t y = (mt[i] & 0x80000000u) | (mt[(i + 1) % LT_MT_N] & 0x7fffffffu);
        uint32_t v = mt[(i + LT_MT_M) % LT_MT_N] ^ (y >> 1);
        mt[i] = (y & 1u) ? v ^ 0x9908b0dfu : v;
    }
}

/* The reference genrand_int32(): the next tempered word. */
static inline uint32_t lt_mt_next(uint32_t mt[LT_MT_N], int *index)
{
    /* Any out-of-range index (e.g. a struct never seeded) regenerates
     * instead of reading outside the array. */
    if (*index < 0 || *index >= LT_MT_N) {
        lt_mt_twist(mt);
        *index = 0;
    }
    uint32_t y = mt[(*index)++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

#endif
