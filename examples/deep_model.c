/* deep_model.c - building, running and checkpointing the deep_names models
 * (see deep_model.h). Everything here is ordinary library calls: the model
 * is a list of persistent tensors and a forward function. */
#include "deep_model.h"

#include "checkpoint.h"
#include "names_task.h"

#include <math.h>
#include <stdlib.h>
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

/* One persistent tensor of a model: its checkpoint name, shape, role, and
 * where the model keeps it. */
typedef struct dm_slot {
    char name[32];
    lt_shape shape;
    bool trainable, decay;
    lt_tensor **t;
} dm_slot;

static void add_slot(dm_slot *s, int *n, lt_shape shape, bool trainable, bool decay, lt_tensor **t, const char *fmt,
                     int l)
{
    snprintf(s[*n].name, sizeof s[*n].name, fmt, l);
    s[*n].shape = shape;
    s[*n].trainable = trainable;
    s[*n].decay = decay;
    s[*n].t = t;
    ++*n;
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

/* Every persistent tensor of m->cfg (checked by check_config), in the
 * checkpoint's order: the trainable ones (C; each layer's w, then b without
 * a norm or gain and bias with one; out.w, out.b), then batchnorm's running
 * statistics. Returns their number (at most DM_MAX_TENSORS). The one list
 * both dm_create and dm_open use, so what is allocated is what was checked. */
static int layout(dm_model *m, dm_slot s[DM_MAX_TENSORS])
{
    const dm_config *c = &m->cfg;
    int n = 0;
    int64_t h = c->hidden;
    add_slot(s, &n, LT_SHAPE(c->vocab, c->emb), true, true, &m->C, "C", 0);
    for (int l = 0; l < c->layers; l++) {
        dm_layer *L = &m->layer[l];
        add_slot(s, &n, LT_SHAPE(layer_fan_in(c, l), h), true, true, &L->w, "l%d.w", l);
        if (c->norm == DM_NORM_NONE) {
            add_slot(s, &n, LT_SHAPE(h), true, false, &L->b, "l%d.b", l);
        } else {
            add_slot(s, &n, LT_SHAPE(h), true, false, &L->gain, "l%d.gain", l);
            add_slot(s, &n, LT_SHAPE(h), true, false, &L->beta, "l%d.bias", l);
        }
    }
    add_slot(s, &n, LT_SHAPE(h, c->vocab), true, true, &m->w_out, "out.w", 0);
    add_slot(s, &n, LT_SHAPE(c->vocab), true, false, &m->b_out, "out.b", 0);
    for (int l = 0; c->norm == DM_NORM_BATCH && l < c->layers; l++) {
        add_slot(s, &n, LT_SHAPE(h), false, false, &m->layer[l].rmean, "l%d.running_mean", l);
        add_slot(s, &n, LT_SHAPE(h), false, false, &m->layer[l].rvar, "l%d.running_var", l);
    }
    return n;
}

/* Allocates every tensor of the layout (zeroed; trainable ones with a
 * gradient), registers it in m->all, and sets norm gains and running
 * variances to 1. */
static bool allocate(lt_ctx *ctx, dm_model *m)
{
    dm_slot s[DM_MAX_TENSORS];
    int n = layout(m, s);
    for (int i = 0; i < n; i++) {
        lt_tensor *t = lt_new(ctx, LT_F32, s[i].shape);
        if (!t || (s[i].trainable && !lt_requires_grad(ctx, t, true)))
            return false;
        *s[i].t = t;
        memcpy(m->names[i], s[i].name, sizeof m->names[0]); /* both char[32] */
        m->decay[i] = s[i].decay;
        m->all[i] = t;
        m->n_all = i + 1;
        m->n_params += s[i].trainable;
    }
    for (int l = 0; l < m->cfg.layers; l++)
        if ((m->layer[l].gain && !lt_fill(ctx, m->layer[l].gain, 1.0f)) ||
            (m->layer[l].rvar && !lt_fill(ctx, m->layer[l].rvar, 1.0f)))
            return false;
    return true;
}

bool dm_create(lt_ctx *ctx, const dm_config *cfg, uint64_t seed, dm_model *m)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    if (!check_config(ctx, &m->cfg) || !allocate(ctx, m))
        return false;
    const dm_config *c = &m->cfg;
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
    if (c->norm == DM_NORM_LAYER && c->act == DM_ACT_RELU) /* the same bits as the three ops, in one pass */
        return lt_layernorm_act_dropout(ctx, h, L->gain, L->beta, LN_EPS, LT_ACT_RELU, c->dropout, training, g);
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
    char *chars = nd_vocab_chars(v); /* UTF-8; ASCII as before */
    if (!chars)
        return lt_fail(ctx, LT_ERR_MEMORY, "%s: out of memory", path), false;
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
    bool ok = ex_checkpoint_save(ctx, path, &meta, t, m->n_all);
    free(chars);
    return ok;
}

/* The checkpoint's tensors must be those of cfg, F32 of its shapes, before
 * anything is allocated: a model is never larger than its file. */
static bool check_tensors(lt_ctx *ctx, const lt_safetensors *st, const char *path, const dm_config *cfg)
{
    dm_model plan = {.cfg = *cfg}; /* only the layout's names and shapes are used */
    dm_slot s[DM_MAX_TENSORS];
    const char *names[DM_MAX_TENSORS];
    lt_shape shapes[DM_MAX_TENSORS];
    int n = layout(&plan, s);
    for (int i = 0; i < n; i++) {
        names[i] = s[i].name;
        shapes[i] = s[i].shape;
    }
    char why[192];
    snprintf(why, sizeof why, "the metadata (%s, %s, vocab %d, block %d, emb %d, hidden %d, layers %d)",
             dm_kind_name(cfg->kind), dm_norm_name(cfg->norm), cfg->vocab, cfg->block, cfg->emb, cfg->hidden,
             cfg->layers);
    return ex_checkpoint_check(ctx, st, path, names, shapes, n, why);
}

lt_safetensors *dm_open(lt_ctx *ctx, const char *path, dm_config *cfg, nd_vocab *v)
{
    lt_safetensors *st = ex_names_checkpoint_open(ctx, path, CHECKPOINT_FORMAT, "a deep_names checkpoint", v);
    int kind, norm, act;
    if (!st || !ex_meta_choice(ctx, st, path, "kind", DM_KIND_NAMES, DM_N_KINDS, -1, &kind) ||
        !ex_meta_choice(ctx, st, path, "norm", DM_NORM_NAMES, DM_N_NORMS, -1, &norm) ||
        !ex_meta_choice(ctx, st, path, "act", DM_ACT_NAMES, DM_N_ACTS, -1, &act) ||
        !ex_meta_int(ctx, st, path, "block_size", DM_MAX_BLOCK, &cfg->block) ||
        !ex_meta_int(ctx, st, path, "n_embd", DM_MAX_EMB, &cfg->emb) ||
        !ex_meta_int(ctx, st, path, "n_hidden", DM_MAX_HIDDEN, &cfg->hidden) ||
        !ex_meta_int(ctx, st, path, "layers", DM_MAX_LAYERS, &cfg->layers)) {
        lt_safetensors_free(st);
        return NULL;
    }
    cfg->kind = (dm_kind)kind;
    cfg->norm = (dm_norm)norm;
    cfg->act = (dm_act)act;
    cfg->vocab = v->size;
    if (!check_config(ctx, cfg) || !check_tensors(ctx, st, path, cfg)) {
        lt_safetensors_free(st);
        return NULL;
    }
    return st;
}

bool dm_load(lt_ctx *ctx, const lt_safetensors *st, const char *path, dm_model *m)
{
    const char *names[DM_MAX_TENSORS];
    for (int i = 0; i < m->n_all; i++)
        names[i] = m->names[i];
    return ex_checkpoint_read(ctx, st, path, names, m->all, m->n_all);
}
