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
 * they and the presets are in mlp_config.c, the plots in mlp_plots.c, and
 * what every example program shares (data, evaluation, sampling,
 * checkpoints, the numerical guard) in common/. */
#include "batches.h"
#include "checkpoint.h"
#include "evaluate.h"
#include "files.h"
#include "libtensor.h"
#include "mlp_config.h"
#include "mlp_plots.h"
#include "names_task.h"
#include "run.h"
#include "train_guard.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECKPOINT_FORMAT "libtensor-mlp-names/1"

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
 * generator. INIT_SCALED then rescales the same draws: W1 by
 * gain/sqrt(fan_in) so the pre-activations have unit variance (Kaiming, with
 * the gain of the nonlinearity; C may be scaled up and W1 down by
 * --init-emb), b1 and W2 by 0.01 and b2 by 0 so the first logits are near
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

/* The model as the shared helpers (evaluation, sampling) call it. */
static lt_tensor *logits_of(lt_ctx *ctx, void *self, lt_tensor *x) { return model_logits(ctx, self, x); }

/* ---- checkpoints ---------------------------------------------------------------- */

static bool save_checkpoint(lt_ctx *ctx, const char *path, const model *m, const nd_vocab *v, long steps)
{
    char *chars = nd_vocab_chars(v); /* UTF-8; ASCII as before */
    if (!chars)
        return lt_fail(ctx, LT_ERR_MEMORY, "%s: out of memory", path), false;
    ex_meta meta;
    ex_meta_init(&meta, CHECKPOINT_FORMAT);
    ex_meta_str(&meta, "vocab", chars);
    ex_meta_long(&meta, "block_size", m->block);
    ex_meta_long(&meta, "n_embd", m->emb);
    ex_meta_long(&meta, "n_hidden", m->hidden);
    ex_meta_long(&meta, "steps", steps);
    ex_meta_str(&meta, "activation", mlp_activation_name(m->act));
    lt_named_tensor t[N_PARAMS];
    for (int i = 0; i < N_PARAMS; i++)
        t[i] = (lt_named_tensor){PARAM_NAMES[i], m->p[i]};
    bool ok = ex_checkpoint_save(ctx, path, &meta, t, N_PARAMS);
    free(chars);
    return ok;
}

/* Opens a checkpoint: its vocabulary, shape hyperparameters (within the
 * flags' limits) and activation (tanh when absent: checkpoints from before
 * --activation), and every tensor checked against them before the model is
 * allocated. */
static lt_safetensors *open_checkpoint(lt_ctx *ctx, const char *path, model *m, nd_vocab *v)
{
    lt_safetensors *st = ex_names_checkpoint_open(ctx, path, CHECKPOINT_FORMAT, "an mlp_names checkpoint", v);
    int act = ACT_TANH;
    if (!st || !ex_meta_int(ctx, st, path, "block_size", MLP_MAX_BLOCK, &m->block) ||
        !ex_meta_int(ctx, st, path, "n_embd", MLP_MAX_EMB, &m->emb) ||
        !ex_meta_int(ctx, st, path, "n_hidden", MLP_MAX_HIDDEN, &m->hidden) ||
        !ex_meta_choice(ctx, st, path, "activation", MLP_ACTIVATIONS, MLP_N_ACTIVATIONS, ACT_TANH, &act)) {
        lt_safetensors_free(st);
        return NULL;
    }
    m->act = (mlp_activation)act;
    m->vocab = v->size;
    lt_shape shapes[N_PARAMS];
    char why[160];
    model_shapes(m, shapes);
    snprintf(why, sizeof why, "the metadata (vocab %d, block %d, emb %d, hidden %d)", m->vocab, m->block, m->emb,
             m->hidden);
    if (!ex_checkpoint_check(ctx, st, path, PARAM_NAMES, shapes, N_PARAMS, why)) {
        lt_safetensors_free(st);
        return NULL;
    }
    return st;
}

/* ---- training ------------------------------------------------------------------- */

typedef struct trainer {
    lt_ctx *ctx, *ectx;  /* training graph; evaluation (no grad) */
    const options *o;
    model *m;
    ex_model em;         /* m for the shared helpers */
    const ex_names *data;
    ex_batches batches;  /* --sampling random or shuffle, from --batch-seed */
    lt_tensor *ix;       /* persistent (batch,) I32: minibatch row numbers */
    lt_optim *opt;       /* --momentum > 0: SGD with momentum (lib/train/optim.c), else NULL */
    FILE *log;
    mp_history *hist;    /* --plot-loss: preallocated, or NULL */
} trainer;

/* The update at this step's learning rate: --weight-decay shrinks the
 * weights (not the biases), then plain SGD with the guard fused in, or SGD
 * with --momentum (lt_optim) followed by the guard's check. */
static bool update(trainer *t, long step)
{
    const options *o = t->o;
    float lr = (float)lt_lr_at(&o->schedule, step);
    if (o->weight_decay > 0) /* p -= lr * (grad + wd * p), for the weights only */
        for (int i = 0; i < N_PARAMS; i++)
            if (i != P_B1 && i != P_B2)
                scale_param(t->m->p[i], (float)(1.0 - lr * o->weight_decay));
    tg_report guard;
    if (t->opt) {
        lt_optim_set_lr(t->opt, lr);
        if (!lt_optim_step(t->opt))
            return false;
        guard = tg_check_step(&t->opt, 1, t->m->p, N_PARAMS);
    } else {
        guard = tg_sgd_step(t->ctx, t->m->p, N_PARAMS, lr); /* the update, checked finite */
    }
    if (guard.problem == TG_FINITE)
        return true;
    char what[256];
    tg_describe(&guard, PARAM_NAMES, lr, what, sizeof what);
    tg_stop(t->ctx, step, what, o->save);
    return false;
}

/* One step of the notebook's loop: a minibatch, forward, backward, update. */
static bool train_step(trainer *t, long step, double *batch_loss)
{
    lt_ctx *ctx = t->ctx;
    lt_ctx_reset(ctx);
    ex_batches_next(&t->batches, lt_data_i32(t->ix), t->o->batch);
    lt_tensor *xb = lt_index(ctx, t->data->train.x, t->ix);  /* (batch, block) */
    lt_tensor *yb = lt_index(ctx, t->data->train.y, t->ix);  /* (batch,) */
    lt_tensor *loss = lt_cross_entropy(ctx, model_logits(ctx, t->m, xb), yb);
    for (int i = 0; i < N_PARAMS; i++)
        lt_zero_grad(t->m->p[i]);
    if (!loss)
        return false;
    *batch_loss = (double)lt_item(ctx, loss);
    char what[64];
    if (!tg_loss_finite(*batch_loss, what, sizeof what)) {
        tg_stop(ctx, step, what, t->o->save);
        return false;
    }
    return lt_backward(ctx, loss) && update(t, step);
}

/* The steps, with the dev loss every --eval-every steps (before the step),
 * the --log line, the --plot-loss history and the progress line. */
static bool train(trainer *t, double *seconds)
{
    const options *o = t->o;
    ex_progress pr;
    ex_progress_start(&pr, o->quiet);
    double dev = NAN, loss = NAN;
    for (long step = 0; step < o->steps; step++) {
        bool evaluate = o->eval_every > 0 && step % o->eval_every == 0;
        if (evaluate && !ex_split_loss(t->ectx, &t->em, t->data->dev.x, t->data->dev.y, "dev", &dev)) {
            tg_stop(t->ctx, step, lt_error_message(t->ectx), o->save);
            return false;
        }
        if (!train_step(t, step, &loss))
            return false;
        if (t->hist && evaluate)
            mp_history_add_dev(t->hist, step, dev);
        if (t->hist)
            mp_history_add_loss(t->hist, loss);
        if (t->log)
            evaluate ? fprintf(t->log, "%ld,%.6f,%.6f\n", step, loss, dev) : fprintf(t->log, "%ld,%.6f,\n", step, loss);
        ex_progress_show(&pr, step + 1, o->steps, loss, dev, evaluate);
    }
    *seconds = ex_progress_end(&pr);
    return true;
}

/* ---- the program ------------------------------------------------------------------ */

typedef struct program {
    options o;
    ex_run run;      /* contexts, log, exit */
    ex_names data;   /* words, vocabulary, the three splits */
    model m;
    ex_model em;     /* m for the shared helpers */
    mp_history hist; /* --plot-loss */
} program;

/* The flags that shape the model must agree with a loaded checkpoint. */
static bool flags_match(lt_ctx *ctx, const options *o, const model *m)
{
    if ((o->set_block && o->block != m->block) || (o->set_emb && o->emb != m->emb) ||
        (o->set_hidden && o->hidden != m->hidden) || (o->set_activation && (mlp_activation)o->activation != m->act)) {
        lt_fail(ctx, LT_ERR_ARG, "%s: checkpoint has block %d, emb %d, hidden %d, activation %s, which differ from the "
                "flags", o->load, m->block, m->emb, m->hidden, mlp_activation_name(m->act));
        return false;
    }
    return true;
}

/* The data and the model: from a checkpoint (whose vocabulary the data must
 * fit), or fresh from the seed. */
static bool setup_model(program *p)
{
    const options *o = &p->o;
    lt_ctx *ctx = p->run.ctx;
    lt_safetensors *st = NULL;
    p->m = (model){.block = (int)o->block, .emb = (int)o->emb, .hidden = (int)o->hidden,
                   .act = (mlp_activation)o->activation};
    if (o->load && (!(st = open_checkpoint(ctx, o->load, &p->m, &p->data.vocab)) || !flags_match(ctx, o, &p->m))) {
        lt_safetensors_free(st);
        return false;
    }
    bool ok = ex_names_load(ctx, o->data, (size_t)o->max_data_mb << 20, p->m.block, st != NULL, &p->data);
    if (ok) {
        p->m.vocab = p->data.vocab.size;
        ok = model_create(ctx, &p->m) &&
             (st ? ex_checkpoint_read(ctx, st, o->load, PARAM_NAMES, p->m.p, N_PARAMS) : model_init(ctx, &p->m, o->seed, o));
    }
    lt_safetensors_free(st);
    return ok;
}

/* Sets up the minibatches, --dropout's generator and --momentum's
 * optimiser, trains, and releases them. */
static bool train_model(program *p, double *seconds)
{
    const options *o = &p->o;
    lt_ctx *ctx = p->run.ctx;
    trainer t = {.ctx = ctx, .ectx = p->run.ectx, .o = o, .m = &p->m, .em = p->em, .data = &p->data,
                 .log = p->run.log, .hist = o->plot_loss ? &p->hist : NULL};
    if (t.hist && !mp_history_init(t.hist, o->steps, o->eval_every)) {
        lt_fail(ctx, LT_ERR_MEMORY, "--plot-loss: out of memory");
        return false;
    }
    lt_rng drop_rng;
    if (o->dropout > 0) { /* its own stream: the minibatch draws stay those of --batch-seed */
        lt_rng_seed(&drop_rng, o->batch_seed + 1);
        p->m.dropout = (float)o->dropout;
        p->m.drop_rng = &drop_rng;
    }
    lt_optim_config cfg = lt_optim_defaults(LT_OPTIM_SGD, (float)o->lr);
    cfg.momentum = (float)o->momentum; /* L2 stays outside the optimiser: the weights only, as for plain SGD */
    bool shuffle = o->sampling == SAMPLING_SHUFFLE;
    bool ok = ex_batches_init(ctx, &t.batches, p->data.train.y->shape[0], o->batch_seed, shuffle) &&
              (o->momentum <= 0 || (t.opt = lt_optim_new(ctx, &cfg, p->m.p, N_PARAMS))) &&
              (t.ix = lt_new(ctx, LT_I32, LT_SHAPE(o->batch))) && train(&t, seconds);
    lt_optim_free(t.opt);
    ex_batches_free(&t.batches);
    p->m.drop_rng = NULL;
    return ok;
}

/* --result: the final figures as key=value lines (for mlp_sweep). */
static bool write_result(program *p, const double loss[3], double seconds)
{
    const options *o = &p->o;
    char err[EX_FILE_ERR_SIZE];
    FILE *f = ex_open_output(o->result, err, sizeof err);
    if (!f) {
        lt_fail(p->run.ctx, LT_ERR_IO, "%s", err);
        return false;
    }
    fprintf(f, "train_loss=%.6f\ndev_loss=%.6f\n", loss[0], loss[1]);
    if (!o->no_test)
        fprintf(f, "test_loss=%.6f\n", loss[2]);
    fprintf(f, "params=%lld\nsteps=%ld\nseconds=%.3f\n", (long long)model_param_count(&p->m), o->steps, seconds);
    if (fclose(f) != 0) {
        lt_fail(p->run.ctx, LT_ERR_IO, "%s: write error", o->result);
        return false;
    }
    return true;
}

/* The final losses (the test loss skipped with --no-test, so tuning never
 * looks at it), the time, and --result. */
static bool report_final(program *p, double seconds)
{
    const options *o = &p->o;
    double loss[3];
    if (!ex_names_final(p->run.ectx, &p->em, &p->data, !o->no_test, loss))
        return false;
    printf("time: %.2f s, %.0f steps/s\n", seconds, seconds > 0 ? (double)o->steps / seconds : 0.0);
    fflush(stdout);
    return !o->result || write_result(p, loss, seconds);
}

/* --plot-emb: the embedding table labelled with the tokens as shown
 * (nd_token_text: '.' for token 0, UTF-8 characters). */
static bool write_embedding_plot(const program *p, char err[SP_ERR_SIZE])
{
    const nd_vocab *v = &p->data.vocab;
    char(*text)[8] = malloc((size_t)v->size * sizeof *text);
    const char **labels = malloc((size_t)v->size * sizeof *labels);
    bool ok = text && labels;
    for (int t = 0; ok && t < v->size; t++) {
        text[t][nd_token_text(v, t, text[t])] = '\0';
        labels[t] = text[t];
    }
    if (!ok)
        snprintf(err, SP_ERR_SIZE, "%s: out of memory", p->o.plot_emb);
    ok = ok && mp_write_embedding_svg(p->o.plot_emb, lt_data_f32(p->m.p[P_C]), p->m.vocab, p->m.emb, labels, err);
    free(text);
    free(labels);
    return ok;
}

/* --plot-loss and --plot-emb (mlp_plots.c). */
static bool write_plots(program *p)
{
    const options *o = &p->o;
    char err[SP_ERR_SIZE];
    if ((o->plot_loss && !mp_write_loss_svg(o->plot_loss, &p->hist, err)) ||
        (o->plot_emb && !write_embedding_plot(p, err))) {
        lt_fail(p->run.ctx, LT_ERR_IO, "%s", err);
        return false;
    }
    return true;
}

/* The notebook: data and model, the initial dev loss, training, the final
 * losses, then plots, --save and samples. */
static bool run_all(program *p)
{
    const options *o = &p->o;
    double dev, seconds = 0;
    if (!setup_model(p))
        return false;
    ex_names_print_split(&p->data);
    printf("params: %lld\n", (long long)model_param_count(&p->m));
    if (!ex_split_loss(p->run.ectx, &p->em, p->data.dev.x, p->data.dev.y, "dev", &dev))
        return false;
    printf("init: dev %.4f\n", dev);
    fflush(stdout);
    if (o->log && !ex_run_open_log(&p->run, o->log, "step,batch_loss,dev_loss\n"))
        return false;
    if (!train_model(p, &seconds) || !report_final(p, seconds) || !write_plots(p))
        return false;
    if (o->save && !save_checkpoint(p->run.ctx, o->save, &p->m, &p->data.vocab, o->steps))
        return false;
    return ex_names_sample(p->run.ectx, &p->em, &p->data.vocab, p->m.block, o->sample_seed, o->samples, "", true);
}

/* Every file the flags name, checked before any work (files.h). */
static bool files_usable(const options *o)
{
    const ex_file files[] = {
        EX_IN("--data", o->data),
        EX_IN_REGULAR("--load", o->load),
        EX_OUT_OVER("--save", o->save, "--load"),
        EX_OUT("--log", o->log),
        EX_OUT("--result", o->result),
        EX_OUT("--plot-loss", o->plot_loss),
        EX_OUT("--plot-emb", o->plot_emb),
    };
    return ex_files_check("mlp_names", files, (int)(sizeof files / sizeof *files));
}

int main(int argc, char **argv)
{
    program p = {0};
    int parsed = mlp_parse_options(argc, argv, &p.o);
    if (parsed)
        return parsed == 1 ? 0 : 2;
    if (!files_usable(&p.o))
        return 2;
    if (!ex_run_start(&p.run, "mlp_names", p.o.threads))
        return 1;
    p.em = (ex_model){&p.m, logits_of};
    bool ok = run_all(&p);
    ex_names_free(&p.data);
    mp_history_free(&p.hist);
    return ex_run_finish(&p.run, ok);
}
