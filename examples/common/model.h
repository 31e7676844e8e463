/* model.h - what the shared helpers (evaluate.h, sample.h) need of a model:
 * its logits in evaluation mode (no dropout, batchnorm's running
 * statistics, nothing recorded). */
#ifndef EX_MODEL_H
#define EX_MODEL_H

#include "libtensor.h"

typedef struct ex_model {
    void *self; /* the program's model, passed back to logits */
    /* x (B, T) I32 token ids -> logits (B, vocab): the next token after each
     * row (the names models), or (B, T, vocab): the next token after each
     * position (sequence models). Temporaries of ctx; NULL + ctx's error on
     * failure. */
    lt_tensor *(*logits)(lt_ctx *ctx, void *self, lt_tensor *x);
} ex_model;

#endif
