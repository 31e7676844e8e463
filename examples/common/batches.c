/* batches.c - see batches.h. */
#include "batches.h"

#include <stdlib.h>

bool ex_batches_init(lt_ctx *ctx, ex_batches *b, int64_t rows, uint64_t seed, bool shuffle)
{
    *b = (ex_batches){.rows = rows};
    lt_rng_seed(&b->rng, seed);
    if (!shuffle)
        return true;
    if (!(b->order = malloc(sizeof *b->order * (size_t)(rows > 0 ? rows : 1)))) {
        lt_fail(ctx, LT_ERR_MEMORY, "shuffled minibatches: out of memory for %lld rows", (long long)rows);
        return false;
    }
    for (int64_t i = 0; i < rows; i++)
        b->order[i] = (int32_t)i;
    return true;
}

/* Fisher-Yates on the whole permutation, from the minibatch generator. */
static void reshuffle(ex_batches *b)
{
    for (int64_t i = b->rows - 1; i > 0; i--) {
        int64_t j = (int64_t)(lt_rng_u64(&b->rng) % (uint64_t)(i + 1));
        int32_t tmp = b->order[i];
        b->order[i] = b->order[j], b->order[j] = tmp;
    }
    b->next = 0;
}

void ex_batches_next(ex_batches *b, int32_t *ix, int64_t n)
{
    if (!b->order) {
        lt_rng_randint(&b->rng, 0, b->rows, ix, n);
        return;
    }
    for (int64_t k = 0; k < n; k++) {
        if (b->next == 0 || b->next == b->rows)
            reshuffle(b);
        ix[k] = b->order[b->next++];
    }
}

void ex_batches_free(ex_batches *b)
{
    free(b->order);
    b->order = NULL;
}
