/* rng.c - PyTorch's CPU generator, reproduced draw for draw.
 *
 * torch.Generator().manual_seed(s) is MT19937 seeded with init_genrand of the
 * low 32 bits of s. Every torch sampler below consumes the stream exactly as
 * PyTorch 1.13's CPU kernels do, so a C program seeded like a notebook gets
 * the notebook's tensors. The facts each function relies on are stated where
 * they are used; tests/test_rng.c checks them against values produced by
 * PyTorch itself (tools/gen_rng_golden.py). */
#include "libtensor.h"
#include "random/mt19937.h"
#include "random/boxmuller16.h"

#include <math.h>

/* c10::pi<double>, spelled out because M_PI is not standard C. */
#define LT_PI 3.14159265358979323846

/* torch.randn's vectorised layout works on blocks of this many floats. */
#define RANDN_BLOCK 16
#define RANDN_HALF (RANDN_BLOCK / 2)

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

/* torch's uniform_real<double>: the low 53 bits of random64() times 2^-53. */
static double uniform_double(lt_rng *g)
{
    return (double)(lt_rng_u64(g) & ((UINT64_C(1) << 53) - 1)) * (1.0 / 9007199254740992.0);
}

/* ---- randn ----------------------------------------------------------- */

/* torch's normal_distribution<double>: Box-Muller in double that returns
 * the cosine sample and keeps the sine sample in the generator for the next
 * call. Note the roles: the first uniform sets the angle, the second the
 * radius. */
static double normal_double(lt_rng *g)
{
    if (g->has_cached_normal) {
        g->has_cached_normal = false;
        return g->cached_normal;
    }
    double u1 = uniform_double(g);
    double u2 = uniform_double(g);
    double r = sqrt(-2.0 * log(1.0 - u2));
    double theta = 2.0 * LT_PI * u1;
    g->cached_normal = r * sin(theta);
    g->has_cached_normal = true;
    return r * cos(theta);
}

static void box_muller_block(float *d)
{
    lt_boxmuller16(d, 0.0f, 1.0f);
}

/* torch's normal_fill (numel >= 16): all uniforms first, then each full
 * block transformed; a partial tail is handled by drawing 16 fresh
 * uniforms over the LAST 16 slots and transforming them as one block, so
 * up to 15 already finished values are overwritten. */
static void randn_blocks(lt_rng *g, float *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = lt_rng_uniform(g);
    for (int64_t i = 0; i + RANDN_BLOCK <= n; i += RANDN_BLOCK)
        box_muller_block(out + i);
    if (n % RANDN_BLOCK != 0) {
        float *tail = out + n - RANDN_BLOCK;
        for (int i = 0; i < RANDN_BLOCK; i++)
            tail[i] = lt_rng_uniform(g);
        box_muller_block(tail);
    }
}

void lt_rng_randn(lt_rng *g, float *out, int64_t n)
{
    if (!g || !out || n <= 0)
        return;
    if (n >= RANDN_BLOCK) {
        /* This path neither uses nor clears a cached double sample. */
        randn_blocks(g, out, n);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        out[i] = (float)normal_double(g);
}

bool lt_randn_fill(lt_ctx *ctx, lt_rng *g, lt_tensor *t)
{
    if (!g || !t) {
        lt_fail(ctx, LT_ERR_ARG, "randn_fill: %s is NULL", g ? "tensor" : "generator");
        return false;
    }
    if (t->dtype != LT_F32) {
        lt_fail(ctx, LT_ERR_DTYPE, "randn_fill: expected an F32 tensor");
        return false;
    }
    if (!lt_is_contiguous(t)) {
        /* torch takes another sampling path for strided tensors; refusing
         * keeps the stream identical to torch.randn of the same shape. */
        lt_fail(ctx, LT_ERR_ARG, "randn_fill: tensor must be contiguous");
        return false;
    }
    int64_t n = lt_numel(t);
    float *data = lt_data_f32(t);
    if (n > 0 && !data) {
        lt_fail(ctx, LT_ERR_ARG, "randn_fill: tensor has no data");
        return false;
    }
    lt_rng_randn(g, data, n);
    return true;
}

/* ---- integers and categories ------------------------------------------ */

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

/* torch's exponential_(1) on a float tensor: -log(1 - u) in double from a
 * 53-bit uniform (log, not log1p), then rounded to float. */
static float exponential_float(lt_rng *g)
{
    return (float)(-1.0 * log(1.0 - uniform_double(g)));
}

/* PyTorch 1.13 draws one sample without a cumulative sum: with
 * q ~ Exp(1) per category, argmax(p / q) is distributed as p (the
 * exponential form of the Gumbel-max trick). The division is in float, as
 * torch divides the float tensors; argmax keeps the first maximum and, like
 * torch, lets a NaN (0/0, reachable only when q rounds to 0) win. */
int64_t lt_rng_multinomial(lt_rng *g, const float *probs, int64_t n)
{
    if (!g || !probs || n <= 0 || !valid_weights(probs, n))
        return -1;
    int64_t best = 0;
    float best_score = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float score = probs[i] / exponential_float(g);
        if (i == 0 || (!isnan(best_score) && (isnan(score) || score > best_score))) {
            best = i;
            best_score = score;
        }
    }
    return best;
}
