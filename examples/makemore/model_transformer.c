/* model_transformer.c - makemore.py's Transformer (GPT-2 without dropout):
 * token + learned position embeddings, n_layer pre-norm blocks of causal
 * multi-head self-attention and a NewGELU MLP, a final LayerNorm and a
 * bias-free decoder. */
#include "model_parts.h"

#include <math.h>
#include <stdio.h>

/* Parameter positions, in makemore.py's construction order. */
enum { WTE, WPE, BLOCK0 };
enum {
    LN1_W, LN1_B,       /* ln_1 */
    ATTN_W, ATTN_B,     /* attn.c_attn: x -> q, k, v of every head */
    ATTN_PROJ_W, ATTN_PROJ_B, /* attn.c_proj */
    LN2_W, LN2_B,       /* ln_2 */
    FC_W, FC_B,         /* mlp.c_fc */
    MLP_PROJ_W, MLP_PROJ_B, /* mlp.c_proj */
    BLOCK_PARAMS
};

#define LN_EPS 1e-5f /* nn.LayerNorm's default */

/* CausalSelfAttention: x (B,T,C) -> (B,T,C), n_head heads in one fused op. */
static lt_tensor *causal_self_attention(lt_ctx *ctx, lt_tensor *const *p, lt_tensor *x, int n_head)
{
    int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2], hs = C / n_head;
    lt_tensor *qkv = mm_linear(ctx, x, p[ATTN_W], p[ATTN_B]);            /* (B,T,3C) */
    qkv = lt_view(ctx, qkv, LT_SHAPE(B, T, 3, n_head, hs));              /* q, k, v side by side */
    lt_tensor *q = lt_transpose(ctx, lt_select(ctx, qkv, 2, 0), 1, 2);   /* (B,nh,T,hs), a view */
    lt_tensor *k = lt_transpose(ctx, lt_select(ctx, qkv, 2, 1), 1, 2);   /* (B,nh,T,hs) */
    lt_tensor *v = lt_transpose(ctx, lt_select(ctx, qkv, 2, 2), 1, 2);   /* (B,nh,T,hs) */
    lt_tensor *y = lt_scaled_dot_product_attention(ctx, q, k, v, true, NAN); /* (B,nh,T,hs), scale 1/sqrt(hs) */
    /* (B,T,nh,hs): heads side by side; y is laid out as q, the transpose of
     * a dense (B,T,nh,hs), so this contiguous() is free (no copy) */
    y = lt_contiguous(ctx, lt_transpose(ctx, y, 1, 2));
    y = lt_view(ctx, y, LT_SHAPE(B, T, C));
    return mm_linear(ctx, y, p[ATTN_PROJ_W], p[ATTN_PROJ_B]);             /* (B,T,C) */
}

/* Block: x (B,T,C) -> (B,T,C). */
static lt_tensor *block(lt_ctx *ctx, lt_tensor *const *p, lt_tensor *x, int n_head)
{
    lt_tensor *a = lt_layernorm(ctx, x, p[LN1_W], p[LN1_B], LN_EPS);
    x = lt_add(ctx, x, causal_self_attention(ctx, p, a, n_head));
    lt_tensor *h = lt_layernorm(ctx, x, p[LN2_W], p[LN2_B], LN_EPS);
    h = lt_gelu_tanh(ctx, mm_linear(ctx, h, p[FC_W], p[FC_B]));           /* (B,T,4C), NewGELU */
    return lt_add(ctx, x, mm_linear(ctx, h, p[MLP_PROJ_W], p[MLP_PROJ_B])); /* (B,T,C) */
}

/* idx (B,T) -> logits (B,T,V). */
static lt_tensor *transformer_logits(lt_ctx *ctx, const mm_model *m, lt_tensor *idx)
{
    if (!mm_check_idx(ctx, m, idx))
        return NULL;
    lt_tensor *const *p = m->param;
    lt_tensor *x = mm_embed_with_positions(ctx, p[WTE], p[WPE], idx); /* (B,T,n_embd) */
    for (int l = 0; l < m->cfg.n_layer && x; l++)
        x = block(ctx, p + BLOCK0 + l * BLOCK_PARAMS, x, m->cfg.n_head);
    int ln_f = BLOCK0 + m->cfg.n_layer * BLOCK_PARAMS;
    x = lt_layernorm(ctx, x, p[ln_f], p[ln_f + 1], LN_EPS);
    return mm_linear(ctx, x, p[ln_f + 2], NULL);          /* (B,T,V), lm_head has no bias */
}

/* Block(config) as makemore.py constructs it. */
static void block_create(lt_ctx *ctx, mm_model *m, lt_rng *g, int l, int C)
{
    char prefix[MM_PARAM_NAME_SIZE];
#define BLOCK_PART(part) (snprintf(prefix, sizeof prefix, "transformer.h.%d.%s", l, part), prefix)
    mm_layernorm_create(ctx, m, BLOCK_PART("ln_1"), C);
    mm_linear_create(ctx, m, g, BLOCK_PART("attn.c_attn"), C, 3 * C, true);
    mm_linear_create(ctx, m, g, BLOCK_PART("attn.c_proj"), C, C, true);
    mm_layernorm_create(ctx, m, BLOCK_PART("ln_2"), C);
    mm_linear_create(ctx, m, g, BLOCK_PART("mlp.c_fc"), C, 4 * C, true);
    mm_linear_create(ctx, m, g, BLOCK_PART("mlp.c_proj"), 4 * C, C, true);
#undef BLOCK_PART
}

bool mm_transformer_create(lt_ctx *ctx, const mm_config *cfg, lt_rng *g, mm_model *m)
{
    if (!mm_begin(ctx, cfg, MM_TRANSFORMER, m))
        return false;
    m->logits = transformer_logits;
    int C = cfg->n_embd;
    mm_embedding_create(ctx, m, g, "transformer.wte", cfg->vocab_size, C);
    mm_embedding_create(ctx, m, g, "transformer.wpe", cfg->block_size, C);
    for (int l = 0; l < cfg->n_layer; l++)
        block_create(ctx, m, g, l, C);
    mm_layernorm_create(ctx, m, "transformer.ln_f", C);
    mm_linear_create(ctx, m, g, "lm_head", C, cfg->vocab_size, false);
    return mm_end(ctx, m);
}
