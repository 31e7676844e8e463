/* deep_model.h - the models of deep_names (makemore parts 3-5 and beyond):
 *
 *   mlp:     C[X] flattened (-> embedding dropout) -> layers x [linear -> norm -> act -> dropout] -> linear
 *   wavenet: C[X] (B, T, emb) (-> embedding dropout) -> per level: flatten 2 consecutive steps,
 *            linear -> norm -> act -> dropout, T halves until 1 -> linear
 *
 * The model owns its persistent tensors (parameters and batchnorm running
 * statistics) through the context it was created in; dm_free releases them. */
#ifndef DEEP_MODEL_H
#define DEEP_MODEL_H

#include "libtensor.h"
#include "names_data.h"

#define DM_MAX_LAYERS 16
/* The largest model the flags (and so a checkpoint's metadata) may ask for. */
#define DM_MAX_BLOCK 64
#define DM_MAX_EMB 4096
#define DM_MAX_HIDDEN 65536
#define DM_MAX_TENSORS (3 + 6 * DM_MAX_LAYERS)

typedef enum { DM_MLP, DM_WAVENET } dm_kind;
typedef enum { DM_NORM_NONE, DM_NORM_BATCH, DM_NORM_LAYER } dm_norm;
typedef enum { DM_ACT_TANH, DM_ACT_RELU, DM_ACT_GELU } dm_act;

typedef struct dm_config {
    dm_kind kind;
    dm_norm norm;
    dm_act act;
    int block, emb, hidden, vocab;
    int layers;      /* hidden layers; for wavenet log2(block), set by dm_create */
    float dropout;   /* after every hidden activation, training only */
    float emb_dropout; /* on the embeddings before the first layer, training only */
    float bn_momentum;
} dm_config;

/* Each hidden layer: w (in, hidden); b (hidden) when there is no norm; gain,
 * beta (hidden) with a norm; running mean/var (hidden) with batchnorm. */
typedef struct dm_layer {
    lt_tensor *w, *b, *gain, *beta, *rmean, *rvar;
} dm_layer;

typedef struct dm_model {
    dm_config cfg;
    lt_tensor *C;           /* (vocab, emb) */
    dm_layer layer[DM_MAX_LAYERS];
    lt_tensor *w_out, *b_out;
    /* every persistent tensor with its checkpoint name; trainable ones first */
    lt_tensor *all[DM_MAX_TENSORS];
    char names[DM_MAX_TENSORS][32];
    int n_params, n_all;    /* all[0..n_params-1] are trainable */
    bool decay[DM_MAX_TENSORS]; /* weight decay applies (matrices) */
} dm_model;

/* The names of the choices, in enum order (flags and checkpoint metadata). */
#define DM_N_KINDS 2
#define DM_N_NORMS 3
#define DM_N_ACTS 3
extern const char *const DM_KIND_NAMES[DM_N_KINDS];
extern const char *const DM_NORM_NAMES[DM_N_NORMS];
extern const char *const DM_ACT_NAMES[DM_N_ACTS];
const char *dm_kind_name(dm_kind k);
const char *dm_norm_name(dm_norm n);
const char *dm_act_name(dm_act a);

/* Allocates the tensors for cfg (validated: LT_ERR_ARG on a bad combination,
 * e.g. a wavenet block that is not a power of two) and initialises them from
 * seed: embeddings randn, weights randn * gain / sqrt(fan_in) (gain 5/3 for
 * tanh, sqrt 2 otherwise; the output layer 0.1 / sqrt(fan_in)), biases 0,
 * norm gains 1, running variance 1. */
bool dm_create(lt_ctx *ctx, const dm_config *cfg, uint64_t seed, dm_model *m);
void dm_free(dm_model *m);
int64_t dm_param_count(const dm_model *m);

/* X (B, block) I32 -> logits (B, vocab). training: batch statistics (and
 * running-stat updates) for batchnorm and dropout drawn from g; otherwise
 * the running statistics and no dropout (g may be NULL). */
lt_tensor *dm_logits(lt_ctx *ctx, dm_model *m, lt_tensor *x, bool training, lt_rng *g);

/* Checkpoints: every tensor of m.all plus the config and vocabulary v as
 * metadata (common/checkpoint.h). */
bool dm_save(lt_ctx *ctx, const char *path, const dm_model *m, const nd_vocab *v, long steps);
/* Opens a checkpoint written by dm_save: its vocabulary into v, its config
 * into cfg (cfg->vocab included; sizes within the flags' limits, the
 * combination valid), and every tensor the config implies checked present,
 * F32 and of its shape, all before anything is allocated; NULL + ctx's
 * error when it is not one ("metadata 'block_size' is 1000, over the limit
 * of 64", "tensor 'l1.w' is F32 (128,128) but the metadata (...) needs F32
 * (16384,16384)"). */
lt_safetensors *dm_open(lt_ctx *ctx, const char *path, dm_config *cfg, nd_vocab *v);
/* Copies every tensor of m from the checkpoint st (opened from path), each
 * checked finite (ex_checkpoint_read). */
bool dm_load(lt_ctx *ctx, const lt_safetensors *st, const char *path, dm_model *m);

#endif
