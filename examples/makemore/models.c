/* models.c - the parts every makemore model shares: creation dispatch,
 * parameters under their PyTorch names, nn.Linear / nn.Embedding /
 * nn.LayerNorm as makemore.py constructs them, and the input checks. */
#include "model_parts.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Largest sizes accepted: every Unicode code point + the stop token, and
 * sizes whose products stay far inside int64 and lt_new's 2^40 elements. */
#define MM_MAX_VOCAB 0x110001
#define MM_MAX_SIZE 65536

static const char *const type_names[MM_N_TYPES] = {"bigram", "mlp", "rnn", "gru", "bow", "transformer"};

const char *mm_type_name(mm_type t)
{
    return (t >= 0 && t < MM_N_TYPES) ? type_names[t] : NULL;
}

bool mm_model_create(lt_ctx *ctx, const mm_config *cfg, lt_rng *g, mm_model *m)
{
    if (m)
        memset(m, 0, sizeof *m);
    if (!ctx)
        return false;
    if (!cfg || !g || !m) {
        lt_fail(ctx, LT_ERR_ARG, "makemore: model_create needs a config, a generator and a model");
        return false;
    }
    switch (cfg->type) {
    case MM_BIGRAM: return mm_bigram_create(ctx, cfg, g, m);
    case MM_MLP: return mm_mlp_create(ctx, cfg, g, m);
    case MM_RNN:
    case MM_GRU: return mm_rnn_create(ctx, cfg, g, m);
    case MM_BOW: return mm_bow_create(ctx, cfg, g, m);
    case MM_TRANSFORMER: return mm_transformer_create(ctx, cfg, g, m);
    default: break;
    }
    lt_fail(ctx, LT_ERR_ARG, "makemore: unknown model type %d (0..%d)", (int)cfg->type, MM_N_TYPES - 1);
    return false;
}

void mm_model_free(mm_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_param && i < MM_MAX_PARAMS; i++) {
        lt_free(m->param[i]);
        m->param[i] = NULL;
    }
    m->n_param = 0;
}

int64_t mm_param_count(const mm_model *m)
{
    int64_t n = 0;
    for (int i = 0; m && i < m->n_param; i++)
        n += lt_numel(m->param[i]);
    return n;
}

/* ---- parameters ---------------------------------------------------------- */

lt_tensor *mm_param(lt_ctx *ctx, mm_model *m, lt_shape shape, const char *name, ...)
{
    if (lt_status_of(ctx) != LT_OK)
        return NULL;
    if (m->n_param >= MM_MAX_PARAMS)
        return lt_fail(ctx, LT_ERR_ARG, "makemore %s: more than %d parameter tensors", mm_type_name(m->cfg.type),
                       MM_MAX_PARAMS);
    char *dst = m->name[m->n_param];
    va_list ap;
    va_start(ap, name);
    int len = vsnprintf(dst, MM_PARAM_NAME_SIZE, name, ap);
    va_end(ap);
    if (len < 0 || len >= MM_PARAM_NAME_SIZE)
        return lt_fail(ctx, LT_ERR_ARG, "makemore: parameter name %s... longer than %d bytes", dst,
                       MM_PARAM_NAME_SIZE - 1);
    lt_tensor *t = lt_new(ctx, LT_F32, shape);
    if (!t)
        return NULL;
    if (!lt_requires_grad(ctx, t, true)) {
        lt_free(t);
        return NULL;
    }
    m->param[m->n_param++] = t;
    return t;
}

bool mm_linear_create(lt_ctx *ctx, mm_model *m, lt_rng *g, const char *prefix, int in, int out, bool bias)
{
    lt_tensor *w = mm_param(ctx, m, LT_SHAPE(out, in), "%s.weight", prefix);
    lt_tensor *b = bias ? mm_param(ctx, m, LT_SHAPE(out), "%s.bias", prefix) : NULL;
    if (!w || (bias && !b))
        return false;
    return lt_init_linear(ctx, g, w, b);
}

bool mm_embedding_create(lt_ctx *ctx, mm_model *m, lt_rng *g, const char *prefix, int num, int dim)
{
    lt_tensor *w = mm_param(ctx, m, LT_SHAPE(num, dim), "%s.weight", prefix);
    return w && lt_init_embedding(ctx, g, w);
}

bool mm_layernorm_create(lt_ctx *ctx, mm_model *m, const char *prefix, int dim)
{
    lt_tensor *w = mm_param(ctx, m, LT_SHAPE(dim), "%s.weight", prefix);
    lt_tensor *b = mm_param(ctx, m, LT_SHAPE(dim), "%s.bias", prefix);
    return w && b && lt_fill(ctx, w, 1.0f); /* bias stays 0 */
}

/* ---- layers -------------------------------------------------------------- */

lt_tensor *mm_linear(lt_ctx *ctx, lt_tensor *x, lt_tensor *w, lt_tensor *b)
{
    return lt_linear(ctx, x, lt_transpose(ctx, w, 0, 1), b); /* (..., in) -> (..., out) */
}

lt_tensor *mm_embed_with_positions(lt_ctx *ctx, lt_tensor *wte, lt_tensor *wpe, lt_tensor *idx)
{
    lt_tensor *tok_emb = lt_index(ctx, wte, idx);                   /* (B,T,n_embd) */
    lt_tensor *pos_emb = lt_narrow(ctx, wpe, 0, 0, idx->shape[1]); /* (T,n_embd): positions 0..T-1 */
    return lt_add(ctx, tok_emb, pos_emb);                           /* broadcast over B */
}

/* ---- checks -------------------------------------------------------------- */

static bool check_range(lt_ctx *ctx, const char *type, const char *what, int v, int lo, int hi)
{
    if (v >= lo && v <= hi)
        return true;
    lt_fail(ctx, LT_ERR_ARG, "makemore %s: %s %d out of range %d..%d", type, what, v, lo, hi);
    return false;
}

bool mm_check_config(lt_ctx *ctx, const mm_config *cfg, mm_type want)
{
    const char *type = mm_type_name(want);
    if (!cfg) {
        lt_fail(ctx, LT_ERR_ARG, "makemore %s: no config", type);
        return false;
    }
    if (cfg->type != want) {
        lt_fail(ctx, LT_ERR_ARG, "makemore %s: config is for type %d", type, (int)cfg->type);
        return false;
    }
    if (!check_range(ctx, type, "vocab_size", cfg->vocab_size, 1, MM_MAX_VOCAB) ||
        !check_range(ctx, type, "block_size", cfg->block_size, 1, MM_MAX_SIZE))
        return false;
    if (want == MM_BIGRAM)
        return true;
    if (!check_range(ctx, type, "n_embd", cfg->n_embd, 1, MM_MAX_SIZE))
        return false;
    if (want == MM_MLP && (int64_t)cfg->block_size * cfg->n_embd > MM_MAX_SIZE) {
        lt_fail(ctx, LT_ERR_ARG, "makemore mlp: block_size %d * n_embd %d above %d", cfg->block_size, cfg->n_embd,
                MM_MAX_SIZE);
        return false;
    }
    if (want != MM_TRANSFORMER)
        return check_range(ctx, type, "n_embd2", cfg->n_embd2, 1, MM_MAX_SIZE);
    if (!check_range(ctx, type, "n_layer", cfg->n_layer, 0, MM_MAX_LAYERS) ||
        !check_range(ctx, type, "n_head", cfg->n_head, 1, cfg->n_embd))
        return false;
    if (cfg->n_embd % cfg->n_head != 0) {
        lt_fail(ctx, LT_ERR_ARG, "makemore %s: n_embd %d is not a multiple of n_head %d", type, cfg->n_embd,
                cfg->n_head);
        return false;
    }
    return true;
}

bool mm_begin(lt_ctx *ctx, const mm_config *cfg, mm_type want, mm_model *m)
{
    if (m)
        memset(m, 0, sizeof *m); /* a failed create leaves m zeroed: mm_model_free is then a no-op */
    if (!ctx || lt_status_of(ctx) != LT_OK)
        return false;
    if (!m) {
        lt_fail(ctx, LT_ERR_ARG, "makemore %s: no model to create", mm_type_name(want));
        return false;
    }
    if (!mm_check_config(ctx, cfg, want))
        return false;
    m->cfg = *cfg;
    return true;
}

bool mm_end(lt_ctx *ctx, mm_model *m)
{
    if (lt_status_of(ctx) == LT_OK)
        return true;
    mm_model_free(m);
    return false;
}

bool mm_check_idx(lt_ctx *ctx, const mm_model *m, lt_tensor *idx)
{
    if (!ctx || !m || !idx) {
        if (ctx)
            lt_fail(ctx, LT_ERR_ARG, "makemore: logits needs a model and an idx tensor");
        return false;
    }
    const char *type = mm_type_name(m->cfg.type);
    if (idx->dtype != LT_I32) {
        lt_fail(ctx, LT_ERR_DTYPE, "makemore %s: idx must be I32 tokens", type);
        return false;
    }
    char buf[64];
    if (idx->ndim != 2 || idx->shape[0] < 1 || idx->shape[1] < 1 || idx->shape[1] > m->cfg.block_size) {
        lt_fail(ctx, LT_ERR_SHAPE, "makemore %s: idx %s must be (B,T) with B >= 1 and 1 <= T <= block_size %d",
                type, lt_shape_str(lt_shape_of(idx), buf, sizeof buf), m->cfg.block_size);
        return false;
    }
    for (int64_t b = 0; b < idx->shape[0]; b++)
        for (int64_t t = 0; t < idx->shape[1]; t++) {
            int32_t v = lt_data_i32(idx)[b * idx->stride[0] + t * idx->stride[1]];
            if (v < 0 || v >= m->cfg.vocab_size) {
                lt_fail(ctx, LT_ERR_INDEX, "makemore %s: token %d at (%lld,%lld) out of range 0..%d", type, (int)v,
                        (long long)b, (long long)t, m->cfg.vocab_size - 1);
                return false;
            }
        }
    return true;
}
