/* model.h - what every makemore model provides (one model per file,
 * model_<type>.c): its parameters, created and initialised exactly as
 * makemore.py's module of the same type, and its logits for a batch of
 * token sequences. The program (makemore.c) trains, evaluates, samples and
 * checkpoints any of them through this interface alone. */
#ifndef MM_MODEL_H
#define MM_MODEL_H

#include "libtensor.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum mm_type { MM_BIGRAM, MM_MLP, MM_RNN, MM_GRU, MM_BOW, MM_TRANSFORMER, MM_N_TYPES } mm_type;

/* makemore.py's ModelConfig. */
typedef struct mm_config {
    mm_type type;
    int vocab_size; /* distinct code points + 1 (token 0: start and stop) */
    int block_size; /* longest item + 1: the length of every sequence */
    int n_layer, n_head, n_embd, n_embd2;
} mm_config;

#define MM_MAX_LAYERS 32
#define MM_MAX_PARAMS 512     /* parameter tensors: enough for MM_MAX_LAYERS blocks */
#define MM_PARAM_NAME_SIZE 64

typedef struct mm_model mm_model;
struct mm_model {
    mm_config cfg;
    /* Persistent F32 tensors of the context passed to the create function,
     * requiring a gradient, in the order of makemore.py's
     * model.parameters(); name[i] is param[i]'s key in PyTorch's
     * state_dict ("transformer.h.0.attn.c_attn.weight"), stored as PyTorch
     * stores it (a Linear's weight is (out, in)). */
    lt_tensor *param[MM_MAX_PARAMS];
    char name[MM_MAX_PARAMS][MM_PARAM_NAME_SIZE];
    int n_param;
    /* idx (B, T) I32 tokens, 1 <= T <= block_size -> logits (B, T,
     * vocab_size): the next token after each position. Temporaries of ctx
     * (recorded when ctx's grad mode is on); NULL + ctx's error on failure:
     * LT_ERR_DTYPE / LT_ERR_SHAPE naming idx's shape, LT_ERR_INDEX naming
     * the first token outside 0..vocab_size-1 and its position. Results do
     * not depend on ctx's thread count. */
    lt_tensor *(*logits)(lt_ctx *ctx, const mm_model *m, lt_tensor *idx);
};

/* Each type's constructor: validates cfg (LT_ERR_ARG naming the value and
 * its limit), creates the parameters as persistent tensors of ctx and draws
 * their initial values from g in makemore.py's construction order (g is
 * seeded as torch.manual_seed(seed) and has already served the split's
 * randperm), so that the initial values are PyTorch's bit for bit. False +
 * ctx's error on failure (whatever was created is freed and m is left
 * zeroed, so mm_model_free(m) is harmless). */
bool mm_bigram_create(lt_ctx *ctx, const mm_config *cfg, lt_rng *g, mm_model *m);
bool mm_mlp_create(lt_ctx *ctx, const mm_config *cfg, lt_rng *g, mm_model *m);
bool mm_rnn_create(lt_ctx *ctx, const mm_config *cfg, lt_rng *g, mm_model *m);   /* MM_RNN and MM_GRU */
bool mm_bow_create(lt_ctx *ctx, const mm_config *cfg, lt_rng *g, mm_model *m);
bool mm_transformer_create(lt_ctx *ctx, const mm_config *cfg, lt_rng *g, mm_model *m);

/* Dispatches on cfg->type. */
bool mm_model_create(lt_ctx *ctx, const mm_config *cfg, lt_rng *g, mm_model *m);
/* Frees the parameters (lt_free); m may be half-built or zeroed. */
void mm_model_free(mm_model *m);
/* Number of scalars in all parameters (makemore.py's "number of parameters"). */
int64_t mm_param_count(const mm_model *m);
/* "bigram", "mlp", "rnn", "gru", "bow", "transformer"; NULL when out of range. */
const char *mm_type_name(mm_type t);

#endif
