/* vdropout.h - dropout's keep/drop decisions and the multiply by the mask,
 * vectorised (internal; not installed).
 *
 * The decisions are those documented in lib/ops/dropout.c: element i of a
 * call keyed by `key` is kept when the 16-bit field i % 4 of
 * splitmix64(key + i / 4) is below `threshold`. The mask value is `scale`
 * for a kept element and +0 otherwise, and the one float operation per
 * element is a multiply by it (plus the add of the accumulating modes), so
 * every path (portable, AVX2, AVX-512) gives the same bits. The mask is
 * computed on the fly, never stored: the backward recomputes it from the key,
 * which costs less than writing and reading back a float per element. */
#ifndef LT_VDROPOUT_H
#define LT_VDROPOUT_H

#include <stdint.h>

/* What lt_vdropout does with y[i] and v = x[i] * mask[i]. */
typedef enum {
    LT_MASK_SET,   /* y = v (the forward) */
    LT_MASK_FRESH, /* y = 0 + v: the bits an add into a cleared buffer gives (+0 for -0) */
    LT_MASK_ADD    /* y += v */
} lt_mask_mode;

/* One dropout call's mask: the key (the call's one draw from the caller's
 * generator), the threshold (an element is kept when its 16-bit field is
 * below it; 65536: always kept), and the scale of a kept element. */
typedef struct lt_dropout_mask {
    uint64_t key;
    uint32_t threshold;
    float scale;
} lt_dropout_mask;

/* The mask of a dropout with probability p in [0, 1] keyed by key: kept
 * with probability 1 - p and scaled by 1 / (1 - p); p = 1 zeroes (scale 0).
 * lt_dropout's and lt_layernorm_act_dropout's. */
lt_dropout_mask lt_dropout_mask_of(uint64_t key, float p);

/* y[i] (op)= x[i] * mask[first + i] for i < n, elements of the mask m.
 * first must be a multiple of 4 (a block of a split loop starts at one).
 * y and x may be the same array; they must not otherwise overlap. */
void lt_vdropout(float *y, const float *x, int64_t n, int64_t first, const lt_dropout_mask *m, lt_mask_mode mode);

#endif
