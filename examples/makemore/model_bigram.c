/* model_bigram.c - makemore.py's Bigram: a (vocab, vocab) table of the
 * next token's logits given the previous one, starting at zero. */
#include "model_parts.h"

/* idx (B,T) -> logits (B,T,V): row idx[b,t] of the table. */
static lt_tensor *bigram_logits(lt_ctx *ctx, const mm_model *m, lt_tensor *idx)
{
    if (!mm_check_idx(ctx, m, idx))
        return NULL;
    return lt_index(ctx, m->param[0], idx);
}

bool mm_bigram_create(lt_ctx *ctx, const mm_config *cfg, lt_rng *g, mm_model *m)
{
    (void)g; /* torch.zeros draws nothing */
    if (!mm_begin(ctx, cfg, MM_BIGRAM, m))
        return false;
    m->logits = bigram_logits;
    mm_param(ctx, m, LT_SHAPE(cfg->vocab_size, cfg->vocab_size), "logits");
    return mm_end(ctx, m);
}
