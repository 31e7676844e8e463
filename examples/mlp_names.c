/* mlp_names.c - makemore part 2 (Bengio et al. 2003): a character-level MLP
 * that learns from a list of names and makes up new ones, on libtensor.
 *
 *   emb    = C[X]                      (B, block, emb)
 *   h      = tanh(emb.view(B, -1) @ W1 + b1)   (B, hidden; or relu, or none)
 *   logits = h @ W2 + b2               (B, vocab)
 *   loss   = cross_entropy(logits, Y)
 *
 * Reproduces ../shared/reference/mlp_notebook.txt: the same split (Python's
 * shuffle), the same initial parameters (PyTorch's generator), the same
 * minibatch draws for a given --batch-seed. Run with --help for the flags;
 * they and the presets are in mlp_config.c. */
#define _POSIX_C_SOURCE 200809L /* isatty, fileno, clock_gettime */

#include "cli_args.h"
#include "libtensor.h"
#include "mlp_config.h"
#include "mlp_plots.h"
#include "names_data.h"
#include "train_guard.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHECKPOINT_FORMAT "libtensor-mlp-names/1"
#define EVAL_CHUNK 4096 /* rows per evaluation chunk: bounds temporary memory */
#define MAX_SAMPLE_LEN 1000

/* ---- the model ----------------------------------------------------------- */

enum { P_C, P_W1, P_B1, P_W2, P_B2, N_PARAMS };
static const char *const PARAM_NAMES[N_PARAMS] = {"C", "W1", "b1", "W2", "b2"};

typedef struct model {
    int block, emb, hidden, vocab;
    mlp_activation act;
    float dropout;          /* --dropout on the hidden layer, while recording only */
    lt_rng *drop_rng;       /* its generator (owned by the run), NULL without dropout */
    lt_tensor *p[N_PARAMS]; /* persistent, requires grad */
} model;

static void model_shapes(const model *m, lt_shape shapes[N_PARAMS])
{
    shapes[P_C] = LT_SHAPE(m->vocab, m->emb);
    shapes[P_W1] = LT_SHAPE((int64_t)m->block * m->emb, m->hidden);
    shapes[P_B1] = LT_SHAPE(m->hidden);
    shapes[P_W2] = LT_SHAPE(m->hidden, m->vocab);
    shapes[P_B2] = LT_SHAPE(m->vocab);
}

static bool model_create(lt_ctx *ctx, model *m)
{
    lt_shape shapes[N_PARAMS];
    model_shapes(m, shapes);
    for (int i = 0; i < N_PARAMS; i++)
        if (!(m->p[i] = lt_requires_grad(ctx, lt_new(ctx, LT_F32, shapes[i]), true)))
            return false;
    return true;
}

/* Multiplies a persistent parameter in place (init scaling, weight decay). */
static void scale_param(lt_tensor *p, float s)
{
    float *d = lt_data_f32(p);
    for (int64_t i = 0, n = lt_numel(p); i < n; i++)
        d[i] *= s;
}

/* The notebook's order: C, W1, b1, W2, b2, each torch.randn from one
 * generator. INIT_SCALED then rescales the same draws: W1 by gain/sqrt(fan_in)
 * so the pre-activations have unit variance (Kaiming, with the gain of the
 * nonlinearity; C may be scaled up and W1 down by --init-emb), b1 and W2 by 0.01 and b2 by 0 so the first logits are near
 * zero and the first loss near -ln(1/vocab). */
static bool model_init(lt_ctx *ctx, model *m, uint64_t seed, const options *o)
{
    lt_rng g;
    lt_rng_seed(&g, seed);
    for (int i = 0; i < N_PARAMS; i++)
        if (!lt_randn_fill(ctx, &g, m->p[i]))
            return false;
    if (o->init == INIT_SCALED) {
        double gain = o->init_gain > 0 ? o->init_gain
                      : m->act == ACT_TANH ? 5.0 / 3.0 : m->act == ACT_RELU ? sqrt(2.0) : 1.0;
        /* C * s with W1 / s: the same pre-activations, but C moves
         * relatively less per SGD step and W1 more */
        scale_param(m->p[P_C], (float)o->init_emb);
        scale_param(m->p[P_W1], (float)(gain / o->init_emb / sqrt((double)m->block * m->emb)));
        scale_param(m->p[P_B1], 0.01f);
        scale_param(m->p[P_W2], 0.01f);
        scale_param(m->p[P_B2], 0.0f);
    }
    return true;
}

static int64_t model_param_count(const model *m)
{
    int64_t n = 0;
    for (int i = 0; i < N_PARAMS; i++)
        n += lt_numel(m->p[i]);
    return n;
}

/* X (B, block) I32 -> logits (B, vocab). */
static lt_tensor *model_logits(lt_ctx *ctx, const model *m, lt_tensor *x)
{
    lt_tensor *emb = lt_index(ctx, m->p[P_C], x);                           /* (B, block, emb) */
    lt_tensor *flat = lt_view(ctx, emb, LT_SHAPE(-1, (int64_t)m->block * m->emb)); /* (B, block*emb) */
    lt_tensor *pre = lt_linear(ctx, flat, m->p[P_W1], m->p[P_B1]);           /* (B, hidden) */
    lt_tensor *h = m->act == ACT_TANH ? lt_tanh(ctx, pre) : m->act == ACT_RELU ? lt_relu(ctx, pre) : pre;
    if (m->drop_rng) /* training steps record; evaluation and sampling do not */
        h = lt_dropout(ctx, h, m->dropout, lt_grad_enabled(ctx), m->drop_rng);
    return lt_linear(ctx, h, m->p[P_W2], m->p[P_B2]);                       /* (B, vocab) */
}

/* Mean loss over a whole split, without recording, in chunks of rows. */
static double split_loss(lt_ctx *ectx, const model *m, lt_tensor *x, lt_tensor *y)
{
    int64_t n = x->shape[0];
    double total = 0;
    if (n == 0) /* an empty split (tiny data): "nan", not 0/0's "-nan" */
        return NAN;
    for (int64_t r = 0; r < n; r += EVAL_CHUNK) {
        int64_t rows = n - r < EVAL_CHUNK ? n - r : EVAL_CHUNK;
        lt_ctx_reset(ectx);
        lt_tensor *logits = model_logits(ectx, m, lt_narrow(ectx, x, 0, r, rows));
        lt_tensor *loss = lt_cross_entropy(ectx, logits, lt_narrow(ectx, y, 0, r, rows));
        if (!loss)
            return NAN;
        total += (double)lt_item(ectx, loss) * (double)rows;
    }
    lt_ctx_reset(ectx);
    return total / (double)n;
}

/* ---- checkpoints -------------------------------------------------------------- */

static bool save_checkpoint(lt_ctx *ctx, const char *path, const model *m, const nd_vocab *v, long steps)
{
    char chars[ND_MAX_VOCAB + 1], block[32], emb[32], hidden[32], nsteps[32];
    nd_vocab_chars(v, chars);
    snprintf(block, sizeof block, "%d", m->block);
    snprintf(emb, sizeof emb, "%d", m->emb);
    snprintf(hidden, sizeof hidden, "%d", m->hidden);
    snprintf(nsteps, sizeof nsteps, "%ld", steps);
    const char *meta[] = {"format", CHECKPOINT_FORMAT, "vocab", chars,   "block_size", block,
                          "n_embd", emb,               "n_hidden", hidden, "steps",   nsteps,
                          "activation", mlp_activation_name(m->act)};
    lt_named_tensor t[N_PARAMS];
    for (int i = 0; i < N_PARAMS; i++)
        t[i] = (lt_named_tensor){PARAM_NAMES[i], m->p[i]};
    return lt_safetensors_save(ctx, path, t, N_PARAMS, meta, (int)(sizeof meta / sizeof *meta / 2));
}

/* Reads an integer metadata field; false + error when missing or bad. */
static bool meta_int(lt_ctx *ctx, const lt_safetensors *st, const char *path, const char *key, int *out)
{
    const char *s = lt_safetensors_meta(st, key);
    long v;
    if (!s || !cli_parse_long(s, 1, 1 << 20, &v))
        return lt_fail(ctx, LT_ERR_FORMAT, "%s: metadata '%s' is missing or not a positive integer", path, key), false;
    *out = (int)v;
    return true;
}

/* Checkpoints before --activation have no such field: they are tanh. */
static bool meta_activation(lt_ctx *ctx, const lt_safetensors *st, const char *path, mlp_activation *out)
{
    const char *s = lt_safetensors_meta(st, "activation");
    *out = ACT_TANH;
    if (s && !mlp_activation_parse(s, out))
        return lt_fail(ctx, LT_ERR_FORMAT, "%s: metadata 'activation' is '%s', not tanh, relu or none", path, s), false;
    return true;
}

/* Every parameter must be in the file, F32, of the shape the metadata
 * implies. Checked before the model is allocated, so that metadata cannot
 * make us allocate more than the file holds (n_hidden = 1048576 beside a
 * small W1 is a shape error, not a terabyte allocation). */
static bool check_checkpoint_tensors(lt_ctx *ctx, const lt_safetensors *st, const char *path, const model *m)
{
    lt_shape want[N_PARAMS], got;
    model_shapes(m, want);
    for (int i = 0; i < N_PARAMS; i++) {
        int k = 0;
        const char *dtype = NULL, *name;
        while ((name = lt_safetensors_name(st, k)) != NULL && strcmp(name, PARAM_NAMES[i]) != 0)
            k++;
        char a[96], b[96];
        if (!lt_safetensors_info(st, k, &dtype, &got))
            return lt_fail(ctx, LT_ERR_FORMAT, "%s: tensor '%s' is missing", path, PARAM_NAMES[i]), false;
        if (strcmp(dtype, "F32") != 0 || !lt_shape_equal(got, want[i]))
            return lt_fail(ctx, LT_ERR_FORMAT, "%s: tensor '%s' is %s %s but the metadata (vocab %d, block %d, emb %d, "
                           "hidden %d) needs F32 %s", path, PARAM_NAMES[i], dtype, lt_shape_str(got, a, sizeof a),
                           m->vocab, m->block, m->emb, m->hidden, lt_shape_str(want[i], b, sizeof b)), false;
    }
    return true;
}

/* Opens a checkpoint and reads its shape hyperparameters and vocabulary. */
static lt_safetensors *open_checkpoint(lt_ctx *ctx, const char *path, model *m, nd_vocab *v)
{
    lt_safetensors *st = lt_safetensors_load(ctx, path);
    if (!st)
        return NULL;
    const char *format = lt_safetensors_meta(st, "format"), *chars = lt_safetensors_meta(st, "vocab");
    if (!format || strcmp(format, CHECKPOINT_FORMAT) != 0)
        lt_fail(ctx, LT_ERR_FORMAT, "%s: not an mlp_names checkpoint (metadata format is '%s', expected '%s')", path,
                format ? format : "(missing)", CHECKPOINT_FORMAT);
    else if (!chars || nd_vocab_from_chars(chars, v) != 0)
        lt_fail(ctx, LT_ERR_FORMAT, "%s: metadata 'vocab' is missing or invalid", path);
    else if (meta_int(ctx, st, path, "block_size", &m->block) && meta_int(ctx, st, path, "n_embd", &m->emb) &&
             meta_int(ctx, st, path, "n_hidden", &m->hidden) && meta_activation(ctx, st, path, &m->act) &&
             (m->vocab = v->size))
        check_checkpoint_tensors(ctx, st, path, m);
    if (lt_status_of(ctx) != LT_OK) {
        lt_safetensors_free(st);
        return NULL;
    }
    return st;
}

static bool load_params(lt_ctx *ctx, const lt_safetensors *st, model *m)
{
    for (int i = 0; i < N_PARAMS; i++)
        if (!lt_safetensors_read(ctx, st, PARAM_NAMES[i], m->p[i]))
            return false;
    return true;
}

/* ---- progress and logging ------------------------------------------------------ */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct progress {
    bool live, quiet;
    double start, last_draw;
} progress;

static void progress_show(progress *p, long step, long total, double batch_loss, double dev_loss, bool evaluated)
{
    if (p->quiet)
        return;
    double t = now_seconds(), elapsed = t - p->start, rate = step > 0 ? (double)step / elapsed : 0;
    if (p->live) {
        if (!evaluated && t - p->last_draw < 0.1 && step < total)
            return;
        p->last_draw = t;
        double eta = rate > 0 ? (double)(total - step) / rate : 0;
        fprintf(stderr, "\rstep %ld/%ld  loss %.4f  dev %.4f  %.0f steps/s  ETA %.0f s   ", step, total, batch_loss,
                dev_loss, rate, eta);
        fflush(stderr);
    } else if (evaluated) {
        fprintf(stderr, "step %ld/%ld loss %.4f dev %.4f %.0f steps/s\n", step, total, batch_loss, dev_loss, rate);
    }
}

/* ---- training ------------------------------------------------------------------- */

typedef struct trainer {
    lt_ctx *ctx, *ectx;  /* training graph; evaluation (no grad) */
    model *m;
    nd_split *train, *dev;
    lt_rng batches;
    lt_tensor *ix;       /* persistent (batch,) I32: minibatch row numbers */
    int32_t *order;      /* --sampling shuffle: a permutation of the train rows */
    int64_t next;        /* its next unused position */
    lt_optim *opt;       /* --momentum > 0: SGD with momentum (lib/train/optim.c), else NULL */
    FILE *log;
    mp_history *hist;    /* --plot-loss: preallocated, or NULL */
} trainer;

/* The next batch rows of a random permutation, reshuffled (Fisher-Yates)
 * whenever it runs out: every row once per epoch. */
static void next_rows_shuffled(trainer *t, int32_t *ix, long batch)
{
    int64_t n = t->train->x->shape[0];
    for (long k = 0; k < batch; k++) {
        if (t->next == 0 || t->next == n) {
            for (int64_t i = n - 1; i > 0; i--) {
                int64_t j = (int64_t)(lt_rng_u64(&t->batches) % (uint64_t)(i + 1));
                int32_t tmp = t->order[i];
                t->order[i] = t->order[j], t->order[j] = tmp;
            }
            t->next = 0;
        }
        ix[k] = t->order[t->next++];
    }
}

/* Stops training: the message names the step and the tensor, and says what
 * happened to the --save file: nothing (the parameters are not saved after a
 * stop, so a checkpoint already there is kept as it was). */
static double stop_training(lt_ctx *ctx, const options *o, long step, const char *what)
{
    lt_fail(ctx, LT_ERR_GRAPH, "step %ld: %s; training stopped%s%s%s", step, what,
            o->save ? ", " : "", o->save ? o->save : "", o->save ? " not written (an existing file is unchanged)" : "");
    return NAN;
}

/* One SGD step on a fresh minibatch; returns the batch loss (NaN on error). */
static double train_step(trainer *t, const options *o, long step)
{
    lt_ctx *ctx = t->ctx;
    lt_ctx_reset(ctx);
    if (t->order)
        next_rows_shuffled(t, lt_data_i32(t->ix), o->batch);
    else
        lt_rng_randint(&t->batches, 0, t->train->x->shape[0], lt_data_i32(t->ix), o->batch);
    lt_tensor *xb = lt_index(ctx, t->train->x, t->ix);  /* (batch, block) */
    lt_tensor *yb = lt_index(ctx, t->train->y, t->ix);  /* (batch,) */
    lt_tensor *loss = lt_cross_entropy(ctx, model_logits(ctx, t->m, xb), yb);
    for (int i = 0; i < N_PARAMS; i++)
        lt_zero_grad(t->m->p[i]);
    double value = loss ? (double)lt_item(ctx, loss) : NAN;
    char what[256];
    if (loss && !isfinite(value))
        return snprintf(what, sizeof what, "loss is %s", isnan(value) ? "nan" : value > 0 ? "inf" : "-inf"),
               stop_training(ctx, o, step, what);
    if (!loss || !lt_backward(ctx, loss))
        return NAN;
    float lr = (float)lt_lr_at(&o->schedule, step);
    if (o->weight_decay > 0) /* p -= lr * (grad + wd * p), for the weights only */
        for (int i = 0; i < N_PARAMS; i++)
            if (i != P_B1 && i != P_B2)
                scale_param(t->m->p[i], (float)(1.0 - lr * o->weight_decay));
    tg_report guard;
    if (t->opt) {
        lt_optim_set_lr(t->opt, lr);
        if (!lt_optim_step(t->opt))
            return NAN;
        guard = tg_check_params(t->m->p, N_PARAMS);
    } else {
        guard = tg_sgd_step(ctx, t->m->p, N_PARAMS, lr); /* the update, checked finite */
    }
    if (guard.problem != TG_FINITE)
        return tg_describe(&guard, PARAM_NAMES, lr, what, sizeof what), stop_training(ctx, o, step, what);
    return value;
}

static bool train(trainer *t, const options *o, double *seconds)
{
    progress pr = {.live = isatty(fileno(stderr)) != 0, .quiet = o->quiet, .start = now_seconds()};
    double dev = NAN;
    for (long step = 0; step < o->steps; step++) {
        bool evaluate = o->eval_every > 0 && step % o->eval_every == 0;
        if (evaluate)
            dev = split_loss(t->ectx, t->m, t->dev->x, t->dev->y);
        double loss = train_step(t, o, step);
        if (!isfinite(loss)) {
            if (lt_status_of(t->ctx) == LT_OK)
                lt_fail(t->ctx, LT_ERR_GRAPH, "training: the loss became %g at step %ld", loss, step);
            return false;
        }
        if (t->hist && evaluate)
            mp_history_add_dev(t->hist, step, dev);
        if (t->hist)
            mp_history_add_loss(t->hist, loss);
        if (t->log)
            evaluate ? fprintf(t->log, "%ld,%.6f,%.6f\n", step, loss, dev) : fprintf(t->log, "%ld,%.6f,\n", step, loss);
        progress_show(&pr, step + 1, o->steps, loss, dev, evaluate);
    }
    *seconds = now_seconds() - pr.start;
    if (pr.live && !o->quiet)
        fputc('\n', stderr);
    return true;
}

/* ---- sampling -------------------------------------------------------------------- */

static bool sample_names(lt_ctx *ctx, const model *m, const nd_vocab *v, const options *o)
{
    lt_rng g;
    lt_rng_seed(&g, o->sample_seed);
    lt_tensor *context = lt_new(ctx, LT_I32, LT_SHAPE(1, m->block));
    float *probs = malloc(sizeof(float) * (size_t)m->vocab);
    char *out = malloc(MAX_SAMPLE_LEN + 2);
    bool ok = context && probs && out;
    bool old = lt_set_grad_enabled(ctx, false);
    for (long s = 0; ok && s < o->samples; s++) {
        int32_t *c = lt_data_i32(context);
        memset(c, 0, sizeof(int32_t) * (size_t)m->block);
        int len = 0;
        for (;;) {
            lt_ctx_reset(ctx);
            lt_tensor *p = lt_softmax(ctx, model_logits(ctx, m, context), 1); /* (1, vocab) */
            if (!p) {
                ok = false;
                break;
            }
            lt_copy_out_f32(p, probs);
            int64_t ix = lt_rng_multinomial(&g, probs, m->vocab);
            memmove(c, c + 1, sizeof(int32_t) * (size_t)(m->block - 1));
            c[m->block - 1] = (int32_t)ix;
            out[len++] = v->itos[ix < 0 ? 0 : ix];
            if (ix <= 0 || len > MAX_SAMPLE_LEN)
                break;
        }
        out[len] = '\0';
        if (ok)
            printf("%s\n", out);
    }
    lt_set_grad_enabled(ctx, old);
    lt_ctx_reset(ctx);
    free(probs);
    free(out);
    lt_free(context);
    return ok;
}

/* ---- main -------------------------------------------------------------------------- */

typedef struct run {
    options o;
    lt_ctx *ctx, *ectx;
    nd_words words;
    nd_vocab vocab;
    model m;
    nd_split tr, dev, te;
    FILE *log;
    mp_history hist;
} run;

/* Reads the data, builds the vocabulary (or checks it against a checkpoint's)
 * and the three splits. */
static bool load_data(run *r, bool have_vocab)
{
    char err[ND_ERR_SIZE];
    if (nd_read_words(r->o.data, &r->words, err) != 0) {
        if (errno == ENOENT && !strcmp(r->o.data, "names.txt"))
            return lt_fail(r->ctx, LT_ERR_IO,
                           "%s (download names.txt from https://github.com/karpathy/makemore, or pass --data FILE)",
                           err), false;
        return lt_fail(r->ctx, LT_ERR_IO, "%s", err), false;
    }
    nd_vocab v;
    nd_build_vocab(&r->words, &v);
    if (!have_vocab) {
        r->vocab = v;
    } else {
        for (int i = 1; i < v.size; i++)
            if (r->vocab.stoi[(unsigned char)v.itos[i]] < 0)
                return lt_fail(r->ctx, LT_ERR_FORMAT,
                               "%s: character '%c' is not in the checkpoint's vocabulary", r->o.data, v.itos[i]),
                       false;
    }
    nd_shuffle_words(&r->words, 42);
    size_t n1, n2;
    nd_split_points(r->words.n, &n1, &n2);
    if (n1 == 0 && r->o.steps > 0) /* before any dataset is built: a single 100 MB line fails here */
        return lt_fail(r->ctx, LT_ERR_FORMAT, "%s: %zu word(s) leave the training split (80%%) empty; training needs "
                       "at least 2 words", r->o.data, r->words.n), false;
    int b = r->m.block;
    return nd_make_split(r->ctx, &r->words, 0, n1, &r->vocab, b, &r->tr) &&
           nd_make_split(r->ctx, &r->words, n1, n2, &r->vocab, b, &r->dev) &&
           nd_make_split(r->ctx, &r->words, n2, r->words.n, &r->vocab, b, &r->te);
}

/* Builds the model: from a checkpoint, or fresh from the seed. */
static bool setup_model(run *r)
{
    const options *o = &r->o;
    lt_safetensors *st = NULL;
    r->m = (model){.block = (int)o->block, .emb = (int)o->emb, .hidden = (int)o->hidden, .act = o->activation};
    if (o->load) {
        if (!(st = open_checkpoint(r->ctx, o->load, &r->m, &r->vocab)))
            return false;
        if ((o->set_block && o->block != r->m.block) || (o->set_emb && o->emb != r->m.emb) ||
            (o->set_hidden && o->hidden != r->m.hidden) || (o->set_activation && o->activation != r->m.act)) {
            lt_fail(r->ctx, LT_ERR_ARG,
                    "%s: checkpoint has block %d, emb %d, hidden %d, activation %s, which differ from the flags",
                    o->load, r->m.block, r->m.emb, r->m.hidden, mlp_activation_name(r->m.act));
            lt_safetensors_free(st);
            return false;
        }
    }
    bool ok = load_data(r, o->load != NULL);
    if (ok) {
        if (!o->load)
            r->m.vocab = r->vocab.size;
        ok = model_create(r->ctx, &r->m) && (st ? load_params(r->ctx, st, &r->m) : model_init(r->ctx, &r->m, o->seed, o));
    }
    lt_safetensors_free(st);
    return ok;
}

static int32_t *identity_order(lt_ctx *ctx, int64_t n)
{
    int32_t *p = malloc(sizeof *p * (size_t)n);
    if (!p)
        return lt_fail(ctx, LT_ERR_MEMORY, "--sampling shuffle: out of memory for %lld rows", (long long)n);
    for (int64_t i = 0; i < n; i++)
        p[i] = (int32_t)i;
    return p;
}

/* The final losses on stdout and, with --result, as key=value lines. The
 * test loss is skipped with --no-test so tuning never looks at it. */
static bool report_final(run *r, double seconds)
{
    const options *o = &r->o;
    double train = split_loss(r->ectx, &r->m, r->tr.x, r->tr.y), dev = split_loss(r->ectx, &r->m, r->dev.x, r->dev.y);
    double test = o->no_test ? NAN : split_loss(r->ectx, &r->m, r->te.x, r->te.y);
    if (o->no_test)
        printf("final: train %.4f dev %.4f\n", train, dev);
    else
        printf("final: train %.4f dev %.4f test %.4f\n", train, dev, test);
    printf("time: %.2f s, %.0f steps/s\n", seconds, seconds > 0 ? (double)o->steps / seconds : 0.0);
    fflush(stdout);
    if (!o->result)
        return true;
    FILE *f = fopen(o->result, "w");
    if (!f)
        return lt_fail(r->ctx, LT_ERR_IO, "%s: cannot write the result: %s", o->result, strerror(errno)), false;
    fprintf(f, "train_loss=%.6f\ndev_loss=%.6f\n", train, dev);
    if (!o->no_test)
        fprintf(f, "test_loss=%.6f\n", test);
    fprintf(f, "params=%lld\nsteps=%ld\nseconds=%.3f\n", (long long)model_param_count(&r->m), o->steps, seconds);
    if (fclose(f) != 0)
        return lt_fail(r->ctx, LT_ERR_IO, "%s: write error", o->result), false;
    return true;
}

static bool run_all(run *r)
{
    const options *o = &r->o;
    if (!setup_model(r))
        return false;
    printf("split: train %lld dev %lld test %lld\n", (long long)r->tr.y->shape[0], (long long)r->dev.y->shape[0],
           (long long)r->te.y->shape[0]);
    printf("params: %lld\n", (long long)model_param_count(&r->m));
    printf("init: dev %.4f\n", split_loss(r->ectx, &r->m, r->dev.x, r->dev.y));
    fflush(stdout);
    if (o->log && !(r->log = fopen(o->log, "w")))
        return lt_fail(r->ctx, LT_ERR_IO, "%s: cannot open log: %s", o->log, strerror(errno)), false;
    if (r->log)
        fprintf(r->log, "step,batch_loss,dev_loss\n");
    trainer t = {.ctx = r->ctx, .ectx = r->ectx, .m = &r->m, .train = &r->tr, .dev = &r->dev, .log = r->log,
                 .hist = o->plot_loss ? &r->hist : NULL};
    if (t.hist && !mp_history_init(t.hist, o->steps, o->eval_every))
        return lt_fail(r->ctx, LT_ERR_MEMORY, "--plot-loss: out of memory"), false;
    lt_rng_seed(&t.batches, o->batch_seed);
    double seconds = 0;
    if (o->shuffle && !(t.order = identity_order(r->ctx, r->tr.y->shape[0])))
        return false;
    lt_rng drop_rng;
    if (o->dropout > 0) { /* its own stream: the minibatch draws stay those of --batch-seed */
        lt_rng_seed(&drop_rng, o->batch_seed + 1);
        r->m.dropout = (float)o->dropout;
        r->m.drop_rng = &drop_rng;
    }
    if (o->momentum > 0) { /* L2 stays outside the optimiser: the weights only, as for plain SGD */
        lt_optim_config cfg = lt_optim_defaults(LT_OPTIM_SGD, (float)o->lr);
        cfg.momentum = (float)o->momentum;
        if (!(t.opt = lt_optim_new(r->ctx, &cfg, r->m.p, N_PARAMS))) {
            free(t.order);
            return false;
        }
    }
    bool ok = (t.ix = lt_new(r->ctx, LT_I32, LT_SHAPE(o->batch))) && train(&t, o, &seconds);
    lt_optim_free(t.opt);
    free(t.order);
    r->m.drop_rng = NULL;
    if (!ok)
        return false;
    if (!report_final(r, seconds))
        return false;
    char err[SP_ERR_SIZE];
    if ((o->plot_loss && !mp_write_loss_svg(o->plot_loss, &r->hist, err)) ||
        (o->plot_emb && !mp_write_embedding_svg(o->plot_emb, lt_data_f32(r->m.p[P_C]), r->m.vocab, r->m.emb,
                                                r->vocab.itos, err)))
        return lt_fail(r->ctx, LT_ERR_IO, "%s", err), false;
    if (o->save && !save_checkpoint(r->ctx, o->save, &r->m, &r->vocab, o->steps))
        return false;
    return sample_names(r->ctx, &r->m, &r->vocab, o) && lt_status_of(r->ectx) == LT_OK;
}

int main(int argc, char **argv)
{
    run r = {0};
    int parsed = mlp_parse_options(argc, argv, &r.o);
    if (parsed)
        return parsed == 1 ? 0 : 2;
    r.ctx = lt_ctx_new();
    r.ectx = lt_ctx_new();
    if (!r.ctx || !r.ectx) {
        fprintf(stderr, "mlp_names: out of memory\n");
        return 1;
    }
    lt_set_grad_enabled(r.ectx, false);
    lt_set_threads(r.ctx, (int)r.o.threads);
    lt_set_threads(r.ectx, (int)r.o.threads);
    bool ok = run_all(&r);
    if (!ok) {
        lt_ctx *bad = lt_status_of(r.ctx) != LT_OK ? r.ctx : r.ectx;
        fprintf(stderr, "mlp_names: %s\n", lt_status_of(bad) != LT_OK ? lt_error_message(bad) : "failed");
    }
    if (r.log && fclose(r.log) != 0 && ok) {
        fprintf(stderr, "mlp_names: %s: write error\n", r.o.log);
        ok = false;
    }
    nd_free_words(&r.words);
    mp_history_free(&r.hist);
    lt_ctx_free(r.ectx);
    lt_ctx_free(r.ctx);
    return ok ? 0 : 1;
}
