/* sample.h - drawing a sequence from a model, one token at a time, with one
 * stopping rule: a sample ends at the stop token 0 or after max_len tokens,
 * whichever comes first (exactly max_len draws at most). */
#ifndef EX_SAMPLE_H
#define EX_SAMPLE_H

#include "model.h"

#include <stdbool.h>
#include <stdint.h>

#define EX_MAX_SAMPLE_LEN 1000 /* the names programs' longest name */

typedef struct ex_sampling {
    int block;   /* context length the model reads */
    int vocab;   /* logits per position; token 0 is start and stop */
    int max_len; /* longest sample, the stop token not counted */
    /* false: the context is always block tokens, starting as block start
     * tokens and sliding (the names models: logits (1, vocab)); true: it
     * starts as the one start token and grows to block tokens before it
     * slides (sequence models: logits (1, T, vocab), the last position is
     * used) */
    bool grow;
} ex_sampling;

/* One sample from generator g: tokens[0..*len) gets the tokens drawn (the
 * stop token excluded; tokens holds max_len), *stopped whether the stop
 * token ended it. Runs on ctx with grad mode off and resets it. False with
 * ctx's error set on a library error or when the model's probabilities are
 * not a distribution (NaN or infinite logits). */
bool ex_sample(lt_ctx *ctx, const ex_model *m, const ex_sampling *s, lt_rng *g, int32_t *tokens, int *len,
               bool *stopped);

#endif
