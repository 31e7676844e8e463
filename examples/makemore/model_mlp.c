/* model_mlp.c - makemore.py's MLP (Bengio et al. 2003): the embeddings of
 * the block_size previous tokens side by side, a tanh hidden layer, and the
 * next token's logits. Positions before the start of the sequence read the
 * extra <BLANK> token, row vocab_size of the embedding table. */
#include "model_parts.h"

enum { WTE, FC1_W, FC1_B, FC2_W, FC2_B }; /* wte, mlp.0 (Linear), mlp.2 (Linear) */

/* idx (B,T) -> (B,T,block_size): context k of position t is the token k
 * steps back, <BLANK> before the start. As makemore.py: the sequence
 * rolled right by one along T, then its first column set to <BLANK>, once
 * per context slot. */
static lt_tensor *context_tokens(lt_ctx *ctx, const mm_model *m, lt_tensor *idx)
{
    int block = m->cfg.block_size;
    lt_tensor **slots = lt_arena_alloc(ctx, (size_t)block * sizeof *slots);
    if (!slots)
        return NULL;
    slots[0] = idx;
    for (int k = 1; k < block; k++) {
        lt_tensor *rolled = lt_roll(ctx, slots[k - 1], 1, 1); /* (B,T), a fresh contiguous tensor */
        if (!rolled)
            return NULL;
        int32_t *d = lt_data_i32(rolled);
        for (int64_t b = 0; b < rolled->shape[0]; b++)
            d[b * rolled->stride[0]] = m->cfg.vocab_size; /* idx[:, 0] = <BLANK> */
        slots[k] = rolled;
    }
    return lt_stack(ctx, slots, block, 2);
}

/* idx (B,T) -> logits (B,T,V). */
static lt_tensor *mlp_logits(lt_ctx *ctx, const mm_model *m, lt_tensor *idx)
{
    if (!mm_check_idx(ctx, m, idx))
        return NULL;
    int64_t B = idx->shape[0], T = idx->shape[1];
    lt_tensor *const *p = m->param;
    lt_tensor *context = context_tokens(ctx, m, idx);       /* (B,T,block) */
    lt_tensor *emb = lt_index(ctx, p[WTE], context);        /* (B,T,block,n_embd) */
    lt_tensor *x = lt_view(ctx, emb, LT_SHAPE(B, T, -1));   /* (B,T,block*n_embd): torch.cat(embs, -1) */
    lt_tensor *h = lt_tanh(ctx, mm_linear(ctx, x, p[FC1_W], p[FC1_B])); /* (B,T,n_embd2) */
    return mm_linear(ctx, h, p[FC2_W], p[FC2_B]);            /* (B,T,V) */
}

bool mm_mlp_create(lt_ctx *ctx, const mm_config *cfg, lt_rng *g, mm_model *m)
{
    if (!mm_begin(ctx, cfg, MM_MLP, m))
        return false;
    m->logits = mlp_logits;
    /* +1 row: the <BLANK> token read before the start of a sequence */
    mm_embedding_create(ctx, m, g, "wte", cfg->vocab_size + 1, cfg->n_embd);
    mm_linear_create(ctx, m, g, "mlp.0", cfg->block_size * cfg->n_embd, cfg->n_embd2, true);
    mm_linear_create(ctx, m, g, "mlp.2", cfg->n_embd2, cfg->vocab_size, true);
    return mm_end(ctx, m);
}
