/* rng.c - PyTorch's CPU generator, reproduced draw for draw: the engine and
 * the scalar draws (integers, uniforms, exponentials, one categorical draw,
 * a permutation).
 *
 * torch.Generator().manual_seed(s) is MT19937 seeded with init_genrand of the
 * low 32 bits of s. Every sampler in lib/random/ consumes the stream exactly
 * as PyTorch 1.13's CPU kernels do, so a C program seeded like a notebook gets
 * the notebook's tensors. The facts each function relies on are stated where
 * they are used; tests/test_rng.c checks them against values produced by
 * PyTorch itself (tools/gen_rng_golden.py). */
#include "random/rng_internal.h"
#include "random/mt19937.h"

#include <math.h>

void lt_rng_seed(lt_rng *g, uint64_t seed)
{
    if (!g)
        return;
    lt_mt_seed(g->mt, &g->index, (uint32_t)(seed & 0xffffffffu));
    /* manual_seed also forgets a cached Box-Muller sample. */
    g->has_cached_normal = false;
    g->cached_normal = 0.0;
}

uint32_t lt_rng_u32(lt_rng *g)
{
    return g ? lt_mt_next(g->mt, &g->index) : 0;
}

/* torch's random64(): the first 32-bit draw is the high word. */
uint64_t lt_rng_u64(lt_rng *g)
{
    uint64_t hi = lt_rng_u32(g);
    uint64_t lo = lt_rng_u32(g);
    return (hi << 32) | lo;
}

/* torch's uniform_real<float>: the low 24 bits of one draw (a float's
 * mantissa) scaled by 2^-24. Both steps are exact in float. */
float lt_rng_uniform(lt_rng *g)
{
    return (float)(lt_rng_u32(g) & 0xffffffu) * (1.0f / 16777216.0f);
}

double lt_rng_uniform_double(lt_rng *g)
{
    return (double)(lt_rng_u64(g) & ((UINT64_C(1) << 53) - 1)) * (1.0 / 9007199254740992.0);
}

float lt_rng_exponential_float(lt_rng *g)
{
    return (float)(-1.0 * log(1.0 - lt_rng_uniform_double(g)));
}

/* ---- integers ----------------------------------------------------------- */

/* torch's uniform_int_from_to: one 32-bit draw modulo the range, or one
 * random64() when the range needs 2^32 or more (torch.randint's default
 * dtype is int64, so [-2^31, 2^31) takes the 64-bit draw). */
void lt_rng_randint(lt_rng *g, int64_t low, int64_t high, int32_t *out, int64_t n)
{
    if (!g || !out || n <= 0)
        return;
    if (low >= high || low < INT32_MIN || high - 1 > INT32_MAX) {
        /* No error channel here: leave defined output, draw nothing. */
        for (int64_t i = 0; i < n; i++)
            out[i] = 0;
        return;
    }
    uint64_t range = (uint64_t)(high - low);
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = range >= (UINT64_C(1) << 32) ? lt_rng_u64(g) % range
                                                  : lt_rng_u32(g) % range;
        out[i] = (int32_t)(low + (int64_t)r);
    }
}

/* torch's randperm_cpu for n < 2^32 / 20: the identity, then for each i
 * below n - 1 a swap with i + (one 32-bit draw mod (n - i)). Larger n takes
 * another algorithm (64-bit draws) that is not reproduced here. */
bool lt_rng_randperm(lt_rng *g, int32_t *out, int64_t n)
{
    if (!g || !out || n < 0 || n > LT_RANDPERM_MAX)
        return false;
    for (int64_t i = 0; i < n; i++)
        out[i] = (int32_t)i;
    for (int64_t i = 0; i + 1 < n; i++) {
        int64_t z = i + (int64_t)(lt_rng_u32(g) % (uint64_t)(n - i));
        int32_t saved = out[i];
        out[i] = out[z];
        out[z] = saved;
    }
    return true;
}

/* ---- one categorical draw -------------------------------------------------- */

/* torch.multinomial refuses negative, infinite or NaN weights and an
 * all-zero vector before it draws anything. */
static bool valid_weights(const float *probs, int64_t n)
{
    bool any_positive = false;
    for (int64_t i = 0; i < n; i++) {
        float p = probs[i];
        if (!(p >= 0.0f) || isinf(p))
            return false;
        if (p > 0.0f)
            any_positive = true;
    }
    return any_positive;
}

/* PyTorch 1.13 draws one sample without a cumulative sum: with
 * q ~ Exp(1) per category, argmax(p / q) is distributed as p (the
 * exponential form of the Gumbel-max trick). The division is in float, as
 * torch divides the float tensors; argmax keeps the first maximum and, like
 * torch, lets a NaN (0/0, reachable only when q rounds to 0) win. */
int64_t lt_rng_categorical(lt_rng *g, const float *probs, int64_t n)
{
    int64_t best = 0;
    float best_score = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float score = probs[i] / lt_rng_exponential_float(g);
        if (i == 0 || (!isnan(best_score) && (isnan(score) || score > best_score))) {
            best = i;
            best_score = score;
        }
    }
    return best;
}

int64_t lt_rng_multinomial(lt_rng *g, const float *probs, int64_t n)
{
    if (!g || !probs || n <= 0 || !valid_weights(probs, n))
        return -1;
    return lt_rng_categorical(g, probs, n);
}
