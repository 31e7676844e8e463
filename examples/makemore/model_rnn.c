/* model_rnn.c - makemore.py's RNN language model with either cell: a
 * vanilla RNN cell or a GRU cell, run over the sequence from a learned
 * start state, then a linear decoder of every hidden state. */
#include "model_parts.h"

/* Parameter positions, in makemore.py's construction order. */
enum { START, WTE, CELL };                              /* then the cell's Linears, then lm_head */
enum { RNN_XH_TO_H_W, RNN_XH_TO_H_B, RNN_CELL_PARAMS }; /* RNNCell */
enum { GRU_Z_W, GRU_Z_B, GRU_R_W, GRU_R_B, GRU_HBAR_W, GRU_HBAR_B, GRU_CELL_PARAMS }; /* GRUCell */

/* RNNCell: xt (B,n_embd), hprev (B,n_embd2) -> ht (B,n_embd2). */
static lt_tensor *rnn_cell(lt_ctx *ctx, lt_tensor *const *p, lt_tensor *xt, lt_tensor *hprev)
{
    lt_tensor *xh[2] = {xt, hprev};
    lt_tensor *x = lt_cat(ctx, xh, 2, 1); /* (B, n_embd + n_embd2) */
    return lt_tanh(ctx, mm_linear(ctx, x, p[RNN_XH_TO_H_W], p[RNN_XH_TO_H_B]));
}

/* GRUCell: xt (B,n_embd), hprev (B,n_embd2) -> ht (B,n_embd2). */
static lt_tensor *gru_cell(lt_ctx *ctx, lt_tensor *const *p, lt_tensor *xt, lt_tensor *hprev)
{
    /* the reset gate wipes some channels of the previous state */
    lt_tensor *xh_parts[2] = {xt, hprev};
    lt_tensor *xh = lt_cat(ctx, xh_parts, 2, 1);                           /* (B, n_embd + n_embd2) */
    lt_tensor *r = lt_sigmoid(ctx, mm_linear(ctx, xh, p[GRU_R_W], p[GRU_R_B])); /* (B, n_embd2) */
    lt_tensor *hprev_reset = lt_mul(ctx, r, hprev);
    /* the candidate new state */
    lt_tensor *xhr_parts[2] = {xt, hprev_reset};
    lt_tensor *xhr = lt_cat(ctx, xhr_parts, 2, 1);
    lt_tensor *hbar = lt_tanh(ctx, mm_linear(ctx, xhr, p[GRU_HBAR_W], p[GRU_HBAR_B]));
    /* the switch gate: how much of each channel to update */
    lt_tensor *z = lt_sigmoid(ctx, mm_linear(ctx, xh, p[GRU_Z_W], p[GRU_Z_B]));
    /* ht = (1 - z) * hprev + z * hbar */
    return lt_add(ctx, lt_mul(ctx, lt_scalar_sub(ctx, 1.0f, z), hprev), lt_mul(ctx, z, hbar));
}

/* idx (B,T) -> logits (B,T,V). */
static lt_tensor *rnn_logits(lt_ctx *ctx, const mm_model *m, lt_tensor *idx)
{
    if (!mm_check_idx(ctx, m, idx))
        return NULL;
    int64_t B = idx->shape[0], T = idx->shape[1];
    lt_tensor *const *p = m->param;
    bool gru = m->cfg.type == MM_GRU;
    int head = CELL + (gru ? GRU_CELL_PARAMS : RNN_CELL_PARAMS);

    lt_tensor *emb = lt_index(ctx, p[WTE], idx);                         /* (B,T,n_embd), all at once */
    lt_tensor *hprev = lt_expand(ctx, p[START], LT_SHAPE(B, -1));       /* (B,n_embd2) */
    lt_tensor **hiddens = lt_arena_alloc(ctx, (size_t)T * sizeof *hiddens);
    if (!emb || !hprev || !hiddens)
        return NULL;
    for (int64_t t = 0; t < T; t++) {
        lt_tensor *xt = lt_select(ctx, emb, 1, t);                      /* (B,n_embd) */
        lt_tensor *ht = gru ? gru_cell(ctx, p + CELL, xt, hprev) : rnn_cell(ctx, p + CELL, xt, hprev);
        if (!ht)
            return NULL;
        hiddens[t] = hprev = ht;
    }
    lt_tensor *hidden = lt_stack(ctx, hiddens, (int)T, 1);              /* (B,T,n_embd2) */
    return mm_linear(ctx, hidden, p[head], p[head + 1]);                /* (B,T,V) */
}

bool mm_rnn_create(lt_ctx *ctx, const mm_config *cfg, lt_rng *g, mm_model *m)
{
    mm_type type = cfg ? cfg->type : MM_RNN;
    if (!mm_begin(ctx, cfg, type == MM_GRU ? MM_GRU : MM_RNN, m))
        return false;
    m->logits = rnn_logits;
    int xh = cfg->n_embd + cfg->n_embd2;
    mm_param(ctx, m, LT_SHAPE(1, cfg->n_embd2), "start"); /* zeros: the learned starting hidden state */
    mm_embedding_create(ctx, m, g, "wte", cfg->vocab_size, cfg->n_embd);
    if (type == MM_GRU) {
        mm_linear_create(ctx, m, g, "cell.xh_to_z", xh, cfg->n_embd2, true);
        mm_linear_create(ctx, m, g, "cell.xh_to_r", xh, cfg->n_embd2, true);
        mm_linear_create(ctx, m, g, "cell.xh_to_hbar", xh, cfg->n_embd2, true);
    } else {
        mm_linear_create(ctx, m, g, "cell.xh_to_h", xh, cfg->n_embd2, true);
    }
    mm_linear_create(ctx, m, g, "lm_head", cfg->n_embd2, cfg->vocab_size, true);
    return mm_end(ctx, m);
}
