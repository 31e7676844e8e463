/* rng_internal.h - pieces of PyTorch's CPU samplers shared by the files of
 * lib/random/ (internal; not installed). */
#ifndef LT_RNG_INTERNAL_H
#define LT_RNG_INTERNAL_H

#include "libtensor.h"

/* torch's uniform_real<double>: the low 53 bits of random64() times 2^-53. */
double lt_rng_uniform_double(lt_rng *g);

/* torch's exponential_(1) on a float tensor: -log(1 - u) in double from one
 * lt_rng_uniform_double (log, not log1p), rounded to float. */
float lt_rng_exponential_float(lt_rng *g);

/* One draw of torch.multinomial(probs, 1) from n >= 1 weights already
 * checked (finite, >= 0, one > 0): argmax of probs[i] / q_i, q_i drawn with
 * lt_rng_exponential_float in order. */
int64_t lt_rng_categorical(lt_rng *g, const float *probs, int64_t n);

/* The checks every in-place sampler makes before it draws anything: g and
 * t not NULL, t F32, contiguous (torch fills strided tensors in another
 * order) and with data. False + an error naming op otherwise. */
bool lt_rng_check_fill(lt_ctx *ctx, const char *op, const lt_rng *g, lt_tensor *t);

/* torch's normal_(mean, std) on n contiguous floats: the vectorised block
 * path for n >= 16, the cached double Box-Muller below that. */
void lt_rng_normal(lt_rng *g, float *out, int64_t n, double mean, double std);

/* torch's uniform_(a, b) on n contiguous floats, a <= b already checked. */
void lt_rng_uniform_range(lt_rng *g, float *out, int64_t n, double a, double b);

#endif
