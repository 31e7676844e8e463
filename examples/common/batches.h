/* batches.h - which training rows the next minibatch takes: drawn with
 * replacement (torch.randint, the notebook's way) or, with shuffle, the next
 * rows of a random permutation that is redrawn whenever it runs out (every
 * row once per epoch). */
#ifndef EX_BATCHES_H
#define EX_BATCHES_H

#include "libtensor.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct ex_batches {
    lt_rng rng;      /* the minibatch generator (--batch-seed) */
    int64_t rows;    /* rows of the training split */
    int32_t *order;  /* shuffle: the current permutation, else NULL */
    int64_t next;    /* its next unused position */
} ex_batches;

/* Seeds the generator; with shuffle, allocates the permutation (false +
 * LT_ERR_MEMORY on ctx when out of memory). */
bool ex_batches_init(lt_ctx *ctx, ex_batches *b, int64_t rows, uint64_t seed, bool shuffle);
/* The next n row numbers into ix (each in 0..rows-1). */
void ex_batches_next(ex_batches *b, int32_t *ix, int64_t n);
void ex_batches_free(ex_batches *b);

#endif
