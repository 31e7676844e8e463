/* deep_model.c - building, running and checkpointing the deep_names models
 * (see deep_model.h). Everything here is ordinary library calls: the model
 * is a list of persistent tensors and a forward function. */
#include "deep_model.h"

#include "checkpoint.h"
#include "names_task.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CHECKPOINT_FORMAT "libtensor-deep-names/1"
#define BN_EPS 1e-5f
#define LN_EPS 1e-5f

const char *const DM_KIND_NAMES[DM_N_KINDS] = {"mlp", "wavenet"};
const char *const DM_NORM_NAMES[DM_N_NORMS] = {"none", "batchnorm", "layernorm"};
const char *const DM_ACT_NAMES[DM_N_ACTS] = {"tanh", "relu", "gelu"};

const char *dm_kind_name(dm_kind k) { return DM_KIND_NAMES[k]; }
const char *dm_norm_name(dm_norm n) { return DM_NORM_NAMES[n]; }
const char *dm_act_name(dm_act a) { return DM_ACT_NAMES[a]; }

/* ---- building ----------------------------------------------------------------- */

/* A new zeroed persistent tensor registered under name; trainable ones get a
 * gradient and must be added before any buffer. */
static lt_tensor *add_tensor(lt_ctx *ctx, dm_model *m, const char *name, lt_shape s, bool trainable, bool decay)
{
    if (m->n_all >= DM_MAX_TENSORS) {
        lt_fail(ctx, LT_ERR_ARG, "model: more than %d tensors", DM_MAX_TENSORS);
        return NULL;
    }
    lt_tensor *t = lt_new(ctx, LT_F32, s);
    if (!t || (trainable && !lt_requires_grad(ctx, t, true)))
        return NULL;
    snprintf(m->names[m->n_all], sizeof m->names[0], "%s", name);
    m->decay[m->n_all] = decay;
    m->all[m->n_all++] = t;
    if (trainable)
        m->n_params = m->n_all;
    return t;
}

/* randn * scale, from g. */
static bool init_randn(lt_ctx *ctx, lt_rng *g, lt_tensor *t, float scale)
{
    if (!lt_randn_fill(ctx, g, t))
        return false;
    float *d = lt_data_f32(t);
    for (int64_t i = 0, n = lt_numel(t); i < n; i++)
        d[i] *= scale;
    return true;
}

/* wavenet: log2(block) levels, or 0 when block is not a power of 2. */
static int wavenet_levels(int block)
{
    int levels = 0;
    for (int t = block; t > 1; t /= 2, levels++)
        if (t % 2)
            return 0;
    return levels;
}

/* Validates c (the first problem into ctx's error); wavenet's layers are
 * set from the block size. */
static bool check_config(lt_ctx *ctx, dm_config *c)
{
    if (c->block < 1 || c->emb < 1 || c->hidden < 1 || c->vocab < 2)
        lt_fail(ctx, LT_ERR_ARG, "model: block %d, emb %d, hidden %d, vocab %d must be positive", c->block, c->emb,
                c->hidden, c->vocab);
    else if (c->kind == DM_WAVENET && c->block < 2)
        lt_fail(ctx, LT_ERR_ARG, "model: wavenet needs a block size of 2 or more");
    else if (c->kind == DM_WAVENET && (c->layers = wavenet_levels(c->block)) == 0)
        lt_fail(ctx, LT_ERR_ARG, "model: wavenet needs a block size that is a power of 2, got %d", c->block);
    else if (c->layers < 1 || c->layers > DM_MAX_LAYERS)
        lt_fail(ctx, LT_ERR_ARG, "model: %d layers, expected 1..%d", c->layers, DM_MAX_LAYERS);
    else if (!(c->dropout >= 0.0f && c->dropout < 1.0f) || !(c->emb_dropout >= 0.0f && c->emb_dropout < 1.0f))
        lt_fail(ctx, LT_ERR_ARG, "model: dropout %g or embedding dropout %g outside [0, 1)", (double)c->dropout,
                (double)c->emb_dropout);
    else
        return true;
    return false;
}

/* Input width of hidden layer l. */
static int layer_fan_in(const dm_config *c, int l)
{
    if (c->kind == DM_WAVENET)
        return 2 * (l == 0 ? c->emb : c->hidden);
    return l == 0 ? c->block * c->emb : c->hidden;
}

static bool create_layer(lt_ctx *ctx, dm_model *m, int l)
{
    const dm_config *c = &m->cfg;
    dm_layer *L = &m->layer[l];
    char name[32];
    int64_t in = layer_fan_in(c, l), h = c->hidden;
#define NAMED(suffix) (snprintf(name, sizeof name, "l%d.%s", l, suffix), name)
    if (!(L->w = add_tensor(ctx, m, NAMED("w"), LT_SHAPE(in, h), true, true)))
        return false;
    if (c->norm == DM_NORM_NONE)
        return (L->b = add_tensor(ctx, m, NAMED("b"), LT_SHAPE(h), true, false)) != NULL;
    return (L->gain = add_tensor(ctx, m, NAMED("gain"), LT_SHAPE(h), true, false)) &&
           (L->beta = add_tensor(ctx, m, NAMED("bias"), LT_SHAPE(h), true, false)) &&
           lt_fill(ctx, L->gain, 1.0f);
#undef NAMED
}

static bool create_buffers(lt_ctx *ctx, dm_model *m)
{
    if (m->cfg.norm != DM_NORM_BATCH)
        return true;
    char name[32];
    for (int l = 0; l < m->cfg.layers; l++) {
        dm_layer *L = &m->layer[l];
        snprintf(name, sizeof name, "l%d.running_mean", l);
        if (!(L->rmean = add_tensor(ctx, m, name, LT_SHAPE(m->cfg.hidden), false, false)))
            return false;
        snprintf(name, sizeof name, "l%d.running_var", l);
        if (!(L->rvar = add_tensor(ctx, m, name, LT_SHAPE(m->cfg.hidden), false, false)) ||
            !lt_fill(ctx, L->rvar, 1.0f))
            return false;
    }
    return true;
}

bool dm_create(lt_ctx *ctx, const dm_config *cfg, uint64_t seed, dm_model *m)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    if (!check_config(ctx, &m->cfg))
        return false;
    const dm_config *c = &m->cfg;
    if (!(m->C = add_tensor(ctx, m, "C", LT_SHAPE(c->vocab, c->emb), true, true)))
        return false;
    for (int l = 0; l < c->layers; l++)
        if (!create_layer(ctx, m, l))
            return false;
    if (!(m->w_out = add_tensor(ctx, m, "out.w", LT_SHAPE(c->hidden, c->vocab), true, true)) ||
        !(m->b_out = add_tensor(ctx, m, "out.b", LT_SHAPE(c->vocab), true, false)) || !create_buffers(ctx, m))
        return false;
    lt_rng g;
    lt_rng_seed(&g, seed);
    float gain = c->act == DM_ACT_TANH ? 5.0f / 3.0f : sqrtf(2.0f);
    if (!init_randn(ctx, &g, m->C, 1.0f))
        return false;
    for (int l = 0; l < c->layers; l++)
        if (!init_randn(ctx, &g, m->layer[l].w, gain / sqrtf((float)layer_fan_in(c, l))))
            return false;
    return init_randn(ctx, &g, m->w_out, 0.1f / sqrtf((float)c->hidden));
}

void dm_free(dm_model *m)
{
    for (int i = 0; i < m->n_all; i++)
        lt_free(m->all[i]);
    m->n_all = m->n_params = 0;
}

int64_t dm_param_count(const dm_model *m)
{
    int64_t n = 0;
    for (int i = 0; i < m->n_params; i++)
        n += lt_numel(m->all[i]);
    return n;
}

/* ---- forward -------------------------------------------------------------------- */

static lt_tensor *activation(lt_ctx *ctx, dm_act a, lt_tensor *x)
{
    switch (a) {
    case DM_ACT_RELU: return lt_relu(ctx, x);
    case DM_ACT_GELU: return lt_gelu(ctx, x);
    default: return lt_tanh(ctx, x);
    }
}

/* linear -> norm -> activation -> dropout on rows (N, in) -> (N, hidden). */
static lt_tensor *hidden_layer(lt_ctx *ctx, dm_model *m, int l, lt_tensor *x, bool training, lt_rng *g)
{
    const dm_config *c = &m->cfg;
    dm_layer *L = &m->layer[l];
    lt_tensor *h = lt_linear(ctx, x, L->w, L->b);
    if (c->norm == DM_NORM_BATCH)
        h = lt_batchnorm(ctx, h, L->gain, L->beta, L->rmean, L->rvar, training, c->bn_momentum, BN_EPS);
    else if (c->norm == DM_NORM_LAYER)
        h = lt_layernorm(ctx, h, L->gain, L->beta, LN_EPS);
    h = activation(ctx, c->act, h);
    return lt_dropout(ctx, h, c->dropout, training, g);
}

lt_tensor *dm_logits(lt_ctx *ctx, dm_model *m, lt_tensor *x, bool training, lt_rng *g)
{
    const dm_config *c = &m->cfg;
    lt_tensor *h = lt_dropout(ctx, lt_index(ctx, m->C, x), c->emb_dropout, training, g); /* (B, block, emb) */
    if (!h)
        return NULL;
    int64_t B = h->shape[0];
    if (c->kind == DM_MLP) {
        h = lt_view(ctx, h, LT_SHAPE(B, (int64_t)c->block * c->emb));
        for (int l = 0; l < c->layers; l++)
            h = hidden_layer(ctx, m, l, h, training, g);
    } else {
        /* rows stay 2-D (B*T, width) for the linear layers; each level views
         * them as (B, T, width), puts pairs of steps side by side (a view) and
         * goes back to rows: (B*T/2, 2*width). Batchnorm over those rows is
         * makemore part 5's batchnorm over dims (0, 1). */
        int64_t T = c->block;
        for (int l = 0; l < c->layers && h; l++) {
            int64_t width = h->shape[h->ndim - 1];
            lt_tensor *pairs = lt_flatten_consecutive(ctx, lt_view(ctx, h, LT_SHAPE(B, T, width)), 2);
            T /= 2;
            h = hidden_layer(ctx, m, l, lt_view(ctx, pairs, LT_SHAPE(B * T, 2 * width)), training, g);
        }
    }
    return lt_linear(ctx, h, m->w_out, m->b_out);
}

/* ---- checkpoints ------------------------------------------------------------------ */

bool dm_save(lt_ctx *ctx, const char *path, const dm_model *m, const nd_vocab *v, long steps)
{
    const dm_config *c = &m->cfg;
    char chars[ND_MAX_VOCAB + 1];
    nd_vocab_chars(v, chars);
    ex_meta meta;
    ex_meta_init(&meta, CHECKPOINT_FORMAT);
    ex_meta_str(&meta, "vocab", chars);
    ex_meta_str(&meta, "kind", dm_kind_name(c->kind));
    ex_meta_str(&meta, "norm", dm_norm_name(c->norm));
    ex_meta_str(&meta, "act", dm_act_name(c->act));
    ex_meta_long(&meta, "block_size", c->block);
    ex_meta_long(&meta, "n_embd", c->emb);
    ex_meta_long(&meta, "n_hidden", c->hidden);
    ex_meta_long(&meta, "layers", c->layers);
    ex_meta_double(&meta, "dropout", (double)c->dropout);
    ex_meta_long(&meta, "steps", steps);
    lt_named_tensor t[DM_MAX_TENSORS];
    for (int i = 0; i < m->n_all; i++)
        t[i] = (lt_named_tensor){m->names[i], m->all[i]};
    return ex_checkpoint_save(ctx, path, &meta, t, m->n_all);
}

lt_safetensors *dm_open(lt_ctx *ctx, const char *path, dm_config *cfg, nd_vocab *v)
{
    lt_safetensors *st = ex_names_checkpoint_open(ctx, path, CHECKPOINT_FORMAT, "a deep_names checkpoint", v);
    int kind, norm, act;
    if (!st || !ex_meta_choice(ctx, st, path, "kind", DM_KIND_NAMES, DM_N_KINDS, -1, &kind) ||
        !ex_meta_choice(ctx, st, path, "norm", DM_NORM_NAMES, DM_N_NORMS, -1, &norm) ||
        !ex_meta_choice(ctx, st, path, "act", DM_ACT_NAMES, DM_N_ACTS, -1, &act) ||
        !ex_meta_int(ctx, st, path, "block_size", &cfg->block) || !ex_meta_int(ctx, st, path, "n_embd", &cfg->emb) ||
        !ex_meta_int(ctx, st, path, "n_hidden", &cfg->hidden) || !ex_meta_int(ctx, st, path, "layers", &cfg->layers)) {
        lt_safetensors_free(st);
        return NULL;
    }
    cfg->kind = (dm_kind)kind;
    cfg->norm = (dm_norm)norm;
    cfg->act = (dm_act)act;
    cfg->vocab = v->size;
    return st;
}

bool dm_load(lt_ctx *ctx, const lt_safetensors *st, dm_model *m)
{
    const char *names[DM_MAX_TENSORS];
    for (int i = 0; i < m->n_all; i++)
        names[i] = m->names[i];
    return ex_checkpoint_read(ctx, st, names, m->all, m->n_all);
}
