/* pyrandom.c - CPython 3's random module, for reproducing Python data
 * pipelines (random.seed(42); random.shuffle(words)) in C.
 *
 * CPython seeds MT19937 with init_by_array and builds every integer from
 * 32-bit words; shuffle is Fisher-Yates from the end with _randbelow, which
 * rejects out-of-range getrandbits() results rather than using a modulo.
 * Checked against Python by tests/test_rng.c. */
#include "libtensor.h"
#include "random/mt19937.h"

#include <string.h>

/* random.seed(n) for an int: |n| as little-endian 32-bit words, as many as
 * it needs but at least one (so 0 gives the key [0]). A uint64_t seed is
 * already its own absolute value. */
void lt_pyrandom_seed(lt_pyrandom *r, uint64_t seed)
{
    if (!r)
        return;
    uint32_t key[2] = {(uint32_t)(seed & 0xffffffffu), (uint32_t)(seed >> 32)};
    lt_mt_seed_array(r->mt, &r->index, key, key[1] != 0 ? 2 : 1);
}

uint32_t lt_pyrandom_u32(lt_pyrandom *r)
{
    return r ? lt_mt_next(r->mt, &r->index) : 0;
}

/* getrandbits(k) for k <= 32 keeps the TOP k bits of one word. */
uint32_t lt_pyrandom_getrandbits(lt_pyrandom *r, int k)
{
    if (!r || k <= 0 || k > 32)
        return 0; /* getrandbits(0) is 0 and draws nothing */
    return lt_pyrandom_u32(r) >> (32 - k);
}

/* getrandbits(k) for 32 < k <= 64: CPython fills words from the least
 * significant one, and only the last (most significant) word is cut down
 * to its top bits. */
static uint64_t getrandbits64(lt_pyrandom *r, int k)
{
    if (k <= 32)
        return lt_pyrandom_getrandbits(r, k);
    uint64_t low = lt_pyrandom_u32(r);
    uint64_t high = lt_pyrandom_getrandbits(r, k - 32);
    return (high << 32) | low;
}

static int bit_length(uint64_t n)
{
    int k = 0;
    for (; n != 0; n >>= 1)
        k++;
    return k;
}

/* _randbelow(n): draw n.bit_length() bits until the value is below n.
 * Handles any n that fits in 64 bits; n = 0 (an error in Python) gives 0
 * without drawing. */
uint64_t lt_pyrandom_randbelow(lt_pyrandom *r, uint64_t n)
{
    if (!r || n == 0)
        return 0;
    int k = bit_length(n);
    uint64_t v = getrandbits64(r, k);
    while (v >= n)
        v = getrandbits64(r, k);
    return v;
}

/* Exchanges two elements of any size without a size-limited buffer. */
static void swap_bytes(unsigned char *a, unsigned char *b, size_t size)
{
    unsigned char tmp[64];
    while (size > 0) {
        size_t chunk = size < sizeof tmp ? size : sizeof tmp;
        memcpy(tmp, a, chunk);
        memcpy(a, b, chunk);
        memcpy(b, tmp, chunk);
        a += chunk;
        b += chunk;
        size -= chunk;
    }
}

/* random.shuffle: for i in reversed(range(1, n)): j = _randbelow(i + 1).
 * Python swaps even when j == i; skipping that no-op changes nothing. */
void lt_pyrandom_shuffle(lt_pyrandom *r, void *base, size_t n, size_t elem_size)
{
    if (!r || !base || elem_size == 0 || n < 2)
        return;
    unsigned char *bytes = base;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)lt_pyrandom_randbelow(r, (uint64_t)i + 1);
        if (j != i)
            swap_bytes(bytes + i * elem_size, bytes + j * elem_size, elem_size);
    }
}
