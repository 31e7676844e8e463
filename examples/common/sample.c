/* sample.c - see sample.h. */
#include "sample.h"

#include <stdlib.h>
#include <string.h>

/* The next token's probabilities (vocab floats) for the context's last
 * `known` tokens (all of them unless s->grow). */
static bool next_probs(lt_ctx *ctx, const ex_model *m, const ex_sampling *s, lt_tensor *context, int known,
                       float *probs)
{
    lt_ctx_reset(ctx);
    lt_tensor *x = s->grow ? lt_narrow(ctx, context, 1, s->block - known, known) : context; /* (1, T) */
    lt_tensor *logits = m->logits(ctx, m->self, x);
    if (logits && logits->ndim == 3) /* (1, T, vocab): the prediction after the last position */
        logits = lt_select(ctx, logits, 1, logits->shape[1] - 1);
    lt_tensor *p = lt_softmax(ctx, logits, 1); /* (1, vocab) */
    if (!p)
        return false;
    lt_copy_out_f32(p, probs);
    return true;
}

bool ex_sample(lt_ctx *ctx, const ex_model *m, const ex_sampling *s, lt_rng *g, int32_t *tokens, int *len,
               bool *stopped)
{
    lt_tensor *context = lt_new(ctx, LT_I32, LT_SHAPE(1, s->block)); /* zeros: start tokens */
    float *probs = malloc(sizeof(float) * (size_t)s->vocab);
    bool ok = context && probs, grad = lt_set_grad_enabled(ctx, false);
    int32_t *c = ok ? lt_data_i32(context) : NULL;
    int known = 1; /* grow: the tokens of the context that are read */
    *len = 0;
    *stopped = false;
    while (ok && *len < s->max_len) {
        if (!(ok = next_probs(ctx, m, s, context, known, probs)))
            break;
        int64_t ix = lt_rng_multinomial(g, probs, s->vocab);
        if (ix < 0) {
            lt_fail(ctx, LT_ERR_ARG, "sampling: the model's probabilities are not finite");
            ok = false;
        } else if (ix == 0) {
            *stopped = true;
            break;
        } else {
            memmove(c, c + 1, sizeof(int32_t) * (size_t)(s->block - 1)); /* crop and append */
            c[s->block - 1] = (int32_t)ix;
            tokens[(*len)++] = (int32_t)ix;
            known += known < s->block;
        }
    }
    lt_set_grad_enabled(ctx, grad);
    lt_ctx_reset(ctx);
    free(probs);
    lt_free(context);
    return ok;
}
