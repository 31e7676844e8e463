/* deep_model.c - building, running and checkpointing the deep_names models
 * (see deep_model.h). Everything here is ordinary library calls: the model
 * is a list of persistent tensors and a forward function. */
#include "deep_model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECKPOINT_FORMAT "libtensor-deep-names/1"
#define BN_EPS 1e-5f
#define LN_EPS 1e-5f

static const char *const KIND_NAMES[] = {"mlp", "wavenet"};
static const char *const NORM_NAMES[] = {"none", "batchnorm", "layernorm"};
static const char *const ACT_NAMES[] = {"tanh", "relu", "gelu"};

static int find_name(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

const char *dm_kind_name(dm_kind k) { return KIND_NAMES[k]; }
const char *dm_norm_name(dm_norm n) { return NORM_NAMES[n]; }
const char *dm_act_name(dm_act a) { return ACT_NAMES[a]; }
int dm_parse_kind(const char *s) { return find_name(s, KIND_NAMES, 2); }
int dm_parse_norm(const char *s) { return find_name(s, NORM_NAMES, 3); }
int dm_parse_act(const char *s) { return find_name(s, ACT_NAMES, 3); }

/* ---- building ----------------------------------------------------------------- */

/* A new zeroed persistent tensor registered under name; trainable ones get a
 * gradient and must be added before any buffer. */
static lt_tensor *add_tensor(lt_ctx *ctx, dm_model *m, const char *name, lt_shape s, bool trainable, bool decay)
{
    if (m->n_all >= DM_MAX_TENSORS)
        return lt_fail(ctx, LT_ERR_ARG, "model: more than %d tensors", DM_MAX_TENSORS);
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

static bool check_config(lt_ctx *ctx, dm_config *c)
{
    if (c->block < 1 || c->emb < 1 || c->hidden < 1 || c->vocab < 2)
        return lt_fail(ctx, LT_ERR_ARG, "model: block %d, emb %d, hidden %d, vocab %d must be positive", c->block,
                       c->emb, c->hidden, c->vocab),
               false;
    if (c->kind == DM_WAVENET) {
        int levels = 0;
        for (int t = c->block; t > 1; t /= 2, levels++)
            if (t % 2)
                return lt_fail(ctx, LT_ERR_ARG, "model: wavenet needs a block size that is a power of 2, got %d",
                               c->block),
                       false;
        if (levels < 1)
            return lt_fail(ctx, LT_ERR_ARG, "model: wavenet needs a block size of 2 or more"), false;
        c->layers = levels;
    }
    if (c->layers < 1 || c->layers > DM_MAX_LAYERS)
        return lt_fail(ctx, LT_ERR_ARG, "model: %d layers, expected 1..%d", c->layers, DM_MAX_LAYERS), false;
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f) || !(c->emb_dropout >= 0.0f && c->emb_dropout < 1.0f))
        return lt_fail(ctx, LT_ERR_ARG, "model: dropout %g or embedding dropout %g outside [0, 1)",
                       (double)c->dropout, (double)c->emb_dropout),
               false;
    return true;
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

bool dm_save(lt_ctx *ctx, const char *path, const dm_model *m, const char *vocab_chars, long steps)
{
    const dm_config *c = &m->cfg;
    char v[6][32];
    snprintf(v[0], sizeof v[0], "%d", c->block);
    snprintf(v[1], sizeof v[1], "%d", c->emb);
    snprintf(v[2], sizeof v[2], "%d", c->hidden);
    snprintf(v[3], sizeof v[3], "%d", c->layers);
    snprintf(v[4], sizeof v[4], "%g", (double)c->dropout);
    snprintf(v[5], sizeof v[5], "%ld", steps);
    const char *meta[] = {"format", CHECKPOINT_FORMAT, "vocab",  vocab_chars,         "kind",    dm_kind_name(c->kind),
                          "norm",   dm_norm_name(c->norm), "act", dm_act_name(c->act), "block_size", v[0],
                          "n_embd", v[1],              "n_hidden", v[2],              "layers",  v[3],
                          "dropout", v[4],             "steps",  v[5]};
    lt_named_tensor t[DM_MAX_TENSORS];
    for (int i = 0; i < m->n_all; i++)
        t[i] = (lt_named_tensor){m->names[i], m->all[i]};
    return lt_safetensors_save(ctx, path, t, m->n_all, meta, (int)(sizeof meta / sizeof *meta / 2));
}

static bool meta_int(lt_ctx *ctx, const lt_safetensors *st, const char *path, const char *key, int *out)
{
    const char *s = lt_safetensors_meta(st, key);
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || errno || end == s || *end || v < 1 || v > (1 << 20))
        return lt_fail(ctx, LT_ERR_FORMAT, "%s: metadata '%s' is missing or not a positive integer", path, key), false;
    *out = (int)v;
    return true;
}

static bool meta_enum(lt_ctx *ctx, const lt_safetensors *st, const char *path, const char *key,
                      int (*parse)(const char *), int *out)
{
    const char *s = lt_safetensors_meta(st, key);
    int v = s ? parse(s) : -1;
    if (v < 0)
        return lt_fail(ctx, LT_ERR_FORMAT, "%s: metadata '%s' is missing or unknown ('%s')", path, key,
                       s ? s : "(missing)"),
               false;
    *out = v;
    return true;
}

lt_safetensors *dm_open(lt_ctx *ctx, const char *path, dm_config *cfg, char *chars, size_t chars_size)
{
    lt_safetensors *st = lt_safetensors_load(ctx, path);
    if (!st)
        return NULL;
    const char *format = lt_safetensors_meta(st, "format"), *vocab = lt_safetensors_meta(st, "vocab");
    int kind = 0, norm = 0, act = 0;
    if (!format || strcmp(format, CHECKPOINT_FORMAT) != 0)
        lt_fail(ctx, LT_ERR_FORMAT, "%s: not a deep_names checkpoint (metadata format is '%s', expected '%s')", path,
                format ? format : "(missing)", CHECKPOINT_FORMAT);
    else if (!vocab || strlen(vocab) + 1 > chars_size)
        lt_fail(ctx, LT_ERR_FORMAT, "%s: metadata 'vocab' is missing or too long", path);
    else if (meta_enum(ctx, st, path, "kind", dm_parse_kind, &kind) &&
             meta_enum(ctx, st, path, "norm", dm_parse_norm, &norm) &&
             meta_enum(ctx, st, path, "act", dm_parse_act, &act) &&
             meta_int(ctx, st, path, "block_size", &cfg->block) && meta_int(ctx, st, path, "n_embd", &cfg->emb) &&
             meta_int(ctx, st, path, "n_hidden", &cfg->hidden) && meta_int(ctx, st, path, "layers", &cfg->layers)) {
        cfg->kind = (dm_kind)kind;
        cfg->norm = (dm_norm)norm;
        cfg->act = (dm_act)act;
        strcpy(chars, vocab);
        cfg->vocab = (int)strlen(vocab) + 1;
    }
    if (lt_status_of(ctx) != LT_OK) {
        lt_safetensors_free(st);
        return NULL;
    }
    return st;
}

bool dm_load(lt_ctx *ctx, const lt_safetensors *st, dm_model *m)
{
    for (int i = 0; i < m->n_all; i++)
        if (!lt_safetensors_read(ctx, st, m->names[i], m->all[i]))
            return false;
    return true;
}
