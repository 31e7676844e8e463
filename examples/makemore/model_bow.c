/* model_bow.c - makemore.py's BoW: token + position embeddings, a causal
 * bag of words (each position averages itself and every earlier one), a
 * tanh MLP on a residual path, and a linear decoder. */
#include "model_parts.h"

#include <math.h>

enum { WTE, WPE, FC_W, FC_B, PROJ_W, PROJ_B, HEAD_W, HEAD_B };

/* CausalBoW: x (B,T,C) -> (B,T,C), row t the mean of rows 0..t, written
 * as makemore.py does: softmax of zeros masked to -inf above the diagonal
 * gives the (T,T) averaging weights (no gradient), then att @ x. */
static lt_tensor *causal_bow(lt_ctx *ctx, lt_tensor *x)
{
    int64_t T = x->shape[1];
    lt_tensor *above = lt_triu(ctx, lt_ones(ctx, LT_SHAPE(T, T)), 1);             /* (T,T): 1 where j > i */
    lt_tensor *att = lt_masked_fill(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(T, T)), above, -INFINITY);
    att = lt_softmax(ctx, att, -1);                                               /* (T,T) */
    return lt_matmul(ctx, att, x); /* (T,T) @ (B,T,C) -> (B,T,C) */
}

/* idx (B,T) -> logits (B,T,V). */
static lt_tensor *bow_logits(lt_ctx *ctx, const mm_model *m, lt_tensor *idx)
{
    if (!mm_check_idx(ctx, m, idx))
        return NULL;
    lt_tensor *const *p = m->param;
    lt_tensor *x = mm_embed_with_positions(ctx, p[WTE], p[WPE], idx); /* (B,T,n_embd) */
    /* BoWBlock */
    x = lt_add(ctx, x, causal_bow(ctx, x));
    lt_tensor *h = lt_tanh(ctx, mm_linear(ctx, x, p[FC_W], p[FC_B])); /* (B,T,n_embd2) */
    x = lt_add(ctx, x, mm_linear(ctx, h, p[PROJ_W], p[PROJ_B]));      /* (B,T,n_embd) */
    return mm_linear(ctx, x, p[HEAD_W], p[HEAD_B]);                    /* (B,T,V) */
}

bool mm_bow_create(lt_ctx *ctx, const mm_config *cfg, lt_rng *g, mm_model *m)
{
    if (!mm_begin(ctx, cfg, MM_BOW, m))
        return false;
    m->logits = bow_logits;
    mm_embedding_create(ctx, m, g, "wte", cfg->vocab_size, cfg->n_embd);
    mm_embedding_create(ctx, m, g, "wpe", cfg->block_size, cfg->n_embd);
    mm_linear_create(ctx, m, g, "context_block.mlp.c_fc", cfg->n_embd, cfg->n_embd2, true);
    mm_linear_create(ctx, m, g, "context_block.mlp.c_proj", cfg->n_embd2, cfg->n_embd, true);
    mm_linear_create(ctx, m, g, "lm_head", cfg->n_embd, cfg->vocab_size, true);
    return mm_end(ctx, m);
}
