/* model_parts.h - what the model files share (not part of the program's
 * interface, model.h): parameters created in makemore.py's construction
 * order under their state_dict names, PyTorch's layers as they read in
 * makemore.py, and the checks every model's create and logits make. */
#ifndef MM_MODEL_PARTS_H
#define MM_MODEL_PARTS_H

#include "model.h"

/* A new parameter of m (zero-filled persistent F32, requiring a gradient)
 * named name (printf-style), appended to m->param in parameters() order;
 * NULL + ctx's error on failure. */
lt_tensor *mm_param(lt_ctx *ctx, mm_model *m, lt_shape shape, const char *name, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* nn.Linear(in, out, bias) constructed at this point: "<prefix>.weight"
 * (out,in) and, when bias, "<prefix>.bias" (out,), initialised from g as
 * PyTorch does. False + ctx's error on failure. */
bool mm_linear_create(lt_ctx *ctx, mm_model *m, lt_rng *g, const char *prefix, int in, int out, bool bias);
/* nn.Embedding(num, dim) constructed at this point: "<prefix>.weight". */
bool mm_embedding_create(lt_ctx *ctx, mm_model *m, lt_rng *g, const char *prefix, int num, int dim);
/* nn.LayerNorm(dim): "<prefix>.weight" ones, "<prefix>.bias" zeros (no draw). */
bool mm_layernorm_create(lt_ctx *ctx, mm_model *m, const char *prefix, int dim);

/* F.linear(x, w, b): x (..., in), w (out,in) as PyTorch stores it, b (out,)
 * or NULL -> (..., out). */
lt_tensor *mm_linear(lt_ctx *ctx, lt_tensor *x, lt_tensor *w, lt_tensor *b);

/* wte[idx] + wpe[0..T-1]: idx (B,T) -> (B,T,n_embd), the token embeddings
 * plus the learned position embeddings (BoW and the Transformer). */
lt_tensor *mm_embed_with_positions(lt_ctx *ctx, lt_tensor *wte, lt_tensor *wpe, lt_tensor *idx);

/* The values the models share the limits of: LT_ERR_ARG naming the type,
 * the value and its limit ("makemore transformer: n_embd 65 is not a
 * multiple of n_head 4"). The create functions call it first. */
bool mm_check_config(lt_ctx *ctx, const mm_config *cfg, mm_type want);
/* Starts a model: zeroes m, checks ctx holds no error and cfg, copies cfg.
 * The create steps that follow may run unchecked one after another: each
 * does nothing once ctx holds an error (nothing more is drawn from g). */
bool mm_begin(lt_ctx *ctx, const mm_config *cfg, mm_type want, mm_model *m);
/* Ends a create: true when every step succeeded, else frees what was
 * created and returns false (the error stays on ctx). */
bool mm_end(lt_ctx *ctx, mm_model *m);
/* Checks the logits input: idx I32 (B,T), B >= 1, 1 <= T <= block_size,
 * every token in 0..vocab_size-1. */
bool mm_check_idx(lt_ctx *ctx, const mm_model *m, lt_tensor *idx);

#endif
