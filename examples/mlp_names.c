/* mlp_names.c - makemore part 2 (Bengio et al. 2003): a character-level MLP
 * that learns from a list of names and makes up new ones, on libtensor.
 *
 *   emb    = C[X]                      (B, block, emb)
 *   h      = tanh(emb.view(B, -1) @ W1 + b1)   (B, hidden)
 *   logits = h @ W2 + b2               (B, vocab)
 *   loss   = cross_entropy(logits, Y)
 *
 * Reproduces ../shared/reference/mlp_notebook.txt: the same split (Python's
 * shuffle), the same initial parameters (PyTorch's generator), the same
 * minibatch draws for a given --batch-seed. Run with --help for the flags. */
#define _POSIX_C_SOURCE 200809L /* isatty, fileno, clock_gettime */

#include "libtensor.h"
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

/* ---- options ----------------------------------------------------------- */

typedef struct options {
    const char *data, *save, *load, *log;
    long steps, batch, block, emb, hidden, decay_step, eval_every, samples, threads;
    double lr, lr_final;
    unsigned long long seed, batch_seed, sample_seed;
    bool quiet;
    bool set_block, set_emb, set_hidden; /* given on the command line */
} options;

static const char USAGE[] =
    "usage: mlp_names [--data FILE] [--steps N] [--batch N] [--block N] [--emb N] [--hidden N]\n"
    "                 [--lr X] [--lr-final X] [--decay-step N] [--seed N] [--batch-seed N]\n"
    "                 [--sample-seed N] [--eval-every N] [--samples N] [--save FILE] [--load FILE]\n"
    "                 [--log FILE] [--threads N] [--quiet] [--help]\n";

static const char HELP[] =
    "Trains the makemore part 2 character MLP on a one-item-per-line text file and samples from it.\n"
    "Defaults are the notebook's.\n\n"
    "  --data FILE        training text, one item per line (default names.txt; get it from\n"
    "                     https://github.com/karpathy/makemore/blob/master/names.txt)\n"
    "  --steps N          SGD steps (200000)          --batch N      minibatch size (32)\n"
    "  --block N          context length (3)          --emb N        embedding size (10)\n"
    "  --hidden N         hidden units (200)\n"
    "  --lr X             learning rate (0.1)         --lr-final X   rate after --decay-step (0.01)\n"
    "  --decay-step N     step where the rate drops (steps/2)\n"
    "  --seed N           parameter init seed, as torch.Generator().manual_seed (2147483647)\n"
    "  --batch-seed N     seed of the minibatch generator (torch.randint draws) (42)\n"
    "  --sample-seed N    seed of the sampling generator (2147483657)\n"
    "  --eval-every N     dev loss every N steps, 0 = never (1000)\n"
    "  --samples N        names to sample at the end (20)\n"
    "  --save FILE        write the trained parameters (safetensors)\n"
    "  --load FILE        start from a checkpoint; with --steps 0, only evaluate and sample\n"
    "  --log FILE         CSV of step, batch loss, dev loss\n"
    "  --threads N        threads for large ops (dev evaluation) (1..64, default 1); results are\n"
    "                     identical for every N\n"
    "  --quiet            summary lines and samples only\n";

static void options_default(options *o)
{
    *o = (options){.data = "names.txt", .steps = 200000, .batch = 32, .block = 3, .emb = 10, .hidden = 200,
                   .decay_step = -1, .eval_every = 1000, .samples = 20, .threads = 1, .lr = 0.1, .lr_final = 0.01,
                   .seed = 2147483647ull, .batch_seed = 42, .sample_seed = 2147483657ull};
}

/* Parses an integer in [lo, hi]; returns false on junk or range. */
static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_seed(const char *s, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (*s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0)
        return false;
    *out = v;
    return true;
}

typedef struct int_flag {
    const char *name;
    long lo, hi;
    size_t offset; /* of the long field in options */
} int_flag;

#define IFLAG(n, lo, hi, field) {n, lo, hi, offsetof(options, field)}
static const int_flag INT_FLAGS[] = {
    IFLAG("--steps", 0, 1000000000L, steps),     IFLAG("--batch", 1, 1 << 20, batch),
    IFLAG("--block", 1, 64, block),              IFLAG("--emb", 1, 4096, emb),
    IFLAG("--hidden", 1, 1 << 16, hidden),       IFLAG("--decay-step", 0, 1000000000L, decay_step),
    IFLAG("--eval-every", 0, 1000000000L, eval_every), IFLAG("--samples", 0, 1000000, samples),
    IFLAG("--threads", 1, 64, threads),
};

/* Returns 0 to run, 1 after --help, 2 on a usage error (message printed). */
static int parse_options(int argc, char **argv, options *o)
{
    options_default(o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("%s\n%s", USAGE, HELP);
            return 1;
        }
        if (!strcmp(a, "--quiet")) {
            o->quiet = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "mlp_names: unexpected argument '%s'\n%s", a, USAGE);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "mlp_names: %s needs a value\n%s", a, USAGE);
            return 2;
        }
        const char *v = argv[++i];
        bool ok = true, known = true;
        if (!strcmp(a, "--data")) o->data = v;
        else if (!strcmp(a, "--save")) o->save = v;
        else if (!strcmp(a, "--load")) o->load = v;
        else if (!strcmp(a, "--log")) o->log = v;
        else if (!strcmp(a, "--lr")) ok = parse_double(v, &o->lr);
        else if (!strcmp(a, "--lr-final")) ok = parse_double(v, &o->lr_final);
        else if (!strcmp(a, "--seed")) ok = parse_seed(v, &o->seed);
        else if (!strcmp(a, "--batch-seed")) ok = parse_seed(v, &o->batch_seed);
        else if (!strcmp(a, "--sample-seed")) ok = parse_seed(v, &o->sample_seed);
        else {
            known = false;
            for (size_t k = 0; k < sizeof INT_FLAGS / sizeof *INT_FLAGS; k++)
                if (!strcmp(a, INT_FLAGS[k].name)) {
                    const int_flag *f = &INT_FLAGS[k];
                    ok = parse_long(v, f->lo, f->hi, (long *)((char *)o + f->offset));
                    known = true;
                    if (!ok) {
                        fprintf(stderr, "mlp_names: %s %s: expected an integer in %ld..%ld\n", a, v, f->lo, f->hi);
                        return 2;
                    }
                }
            o->set_block |= !strcmp(a, "--block");
            o->set_emb |= !strcmp(a, "--emb");
            o->set_hidden |= !strcmp(a, "--hidden");
        }
        if (!known) {
            fprintf(stderr, "mlp_names: unknown option '%s'\n%s", a, USAGE);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "mlp_names: %s %s: not a valid value\n", a, v);
            return 2;
        }
    }
    if (o->decay_step < 0)
        o->decay_step = o->steps / 2;
    return 0;
}

/* ---- the model ----------------------------------------------------------- */

enum { P_C, P_W1, P_B1, P_W2, P_B2, N_PARAMS };
static const char *const PARAM_NAMES[N_PARAMS] = {"C", "W1", "b1", "W2", "b2"};

typedef struct model {
    int block, emb, hidden, vocab;
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

/* The notebook's order: C, W1, b1, W2, b2, each torch.randn from one generator. */
static bool model_init_randn(lt_ctx *ctx, model *m, uint64_t seed)
{
    lt_rng g;
    lt_rng_seed(&g, seed);
    for (int i = 0; i < N_PARAMS; i++)
        if (!lt_randn_fill(ctx, &g, m->p[i]))
            return false;
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
    lt_tensor *h = lt_tanh(ctx, lt_linear(ctx, flat, m->p[P_W1], m->p[P_B1])); /* (B, hidden) */
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

/* ---- data ------------------------------------------------------------------ */

typedef struct split {
    lt_tensor *x, *y; /* persistent: (n, block) and (n,) I32 */
} split;

static bool make_split(lt_ctx *ctx, const nd_words *w, size_t begin, size_t end, const nd_vocab *v, int block,
                       split *s)
{
    nd_dataset d;
    if (nd_build_dataset(w, begin, end, v, block, &d) != 0)
        return lt_fail(ctx, LT_ERR_MEMORY, "dataset: out of memory"), false;
    s->x = lt_new_from(ctx, LT_I32, LT_SHAPE((int64_t)d.n, block), d.x);
    s->y = lt_new_from(ctx, LT_I32, LT_SHAPE((int64_t)d.n), d.y);
    nd_free_dataset(&d);
    return s->x && s->y;
}

/* ---- checkpoints -------------------------------------------------------------- */

static bool save_checkpoint(lt_ctx *ctx, const char *path, const model *m, const nd_vocab *v, long steps)
{
    char chars[ND_MAX_VOCAB + 1], block[32], emb[32], hidden[32], nsteps[32];
    memcpy(chars, v->itos + 1, (size_t)v->size - 1);
    chars[v->size - 1] = '\0';
    snprintf(block, sizeof block, "%d", m->block);
    snprintf(emb, sizeof emb, "%d", m->emb);
    snprintf(hidden, sizeof hidden, "%d", m->hidden);
    snprintf(nsteps, sizeof nsteps, "%ld", steps);
    const char *meta[] = {"format", CHECKPOINT_FORMAT, "vocab", chars,   "block_size", block,
                          "n_embd", emb,               "n_hidden", hidden, "steps",   nsteps};
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
    if (!s || !parse_long(s, 1, 1 << 20, &v))
        return lt_fail(ctx, LT_ERR_FORMAT, "%s: metadata '%s' is missing or not a positive integer", path, key), false;
    *out = (int)v;
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
             meta_int(ctx, st, path, "n_hidden", &m->hidden) && (m->vocab = v->size))
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
    split *train, *dev;
    lt_rng batches;
    lt_tensor *ix;       /* persistent (batch,) I32: minibatch row numbers */
    FILE *log;
} trainer;

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
    float lr = (float)(step < o->decay_step ? o->lr : o->lr_final);
    tg_report guard = tg_sgd_step(ctx, t->m->p, N_PARAMS, lr); /* the update, checked finite */
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
    split tr, dev, te;
    FILE *log;
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
    return make_split(r->ctx, &r->words, 0, n1, &r->vocab, b, &r->tr) &&
           make_split(r->ctx, &r->words, n1, n2, &r->vocab, b, &r->dev) &&
           make_split(r->ctx, &r->words, n2, r->words.n, &r->vocab, b, &r->te);
}

/* Builds the model: from a checkpoint, or fresh from the seed. */
static bool setup_model(run *r)
{
    const options *o = &r->o;
    lt_safetensors *st = NULL;
    r->m = (model){.block = (int)o->block, .emb = (int)o->emb, .hidden = (int)o->hidden};
    if (o->load) {
        if (!(st = open_checkpoint(r->ctx, o->load, &r->m, &r->vocab)))
            return false;
        if ((o->set_block && o->block != r->m.block) || (o->set_emb && o->emb != r->m.emb) ||
            (o->set_hidden && o->hidden != r->m.hidden)) {
            lt_fail(r->ctx, LT_ERR_ARG, "%s: checkpoint has block %d, emb %d, hidden %d, which differ from the flags",
                    o->load, r->m.block, r->m.emb, r->m.hidden);
            lt_safetensors_free(st);
            return false;
        }
    }
    bool ok = load_data(r, o->load != NULL);
    if (ok) {
        if (!o->load)
            r->m.vocab = r->vocab.size;
        ok = model_create(r->ctx, &r->m) && (st ? load_params(r->ctx, st, &r->m) : model_init_randn(r->ctx, &r->m, o->seed));
    }
    lt_safetensors_free(st);
    return ok;
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
    trainer t = {.ctx = r->ctx, .ectx = r->ectx, .m = &r->m, .train = &r->tr, .dev = &r->dev, .log = r->log};
    lt_rng_seed(&t.batches, o->batch_seed);
    double seconds = 0;
    if (!(t.ix = lt_new(r->ctx, LT_I32, LT_SHAPE(o->batch))) || !train(&t, o, &seconds))
        return false;
    printf("final: train %.4f dev %.4f test %.4f\n", split_loss(r->ectx, &r->m, r->tr.x, r->tr.y),
           split_loss(r->ectx, &r->m, r->dev.x, r->dev.y), split_loss(r->ectx, &r->m, r->te.x, r->te.y));
    printf("time: %.2f s, %.0f steps/s\n", seconds, seconds > 0 ? (double)o->steps / seconds : 0.0);
    if (o->save && !save_checkpoint(r->ctx, o->save, &r->m, &r->vocab, o->steps))
        return false;
    return sample_names(r->ctx, &r->m, &r->vocab, o) && lt_status_of(r->ectx) == LT_OK;
}

int main(int argc, char **argv)
{
    run r = {0};
    int parsed = parse_options(argc, argv, &r.o);
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
    lt_ctx_free(r.ectx);
    lt_ctx_free(r.ctx);
    return ok ? 0 : 1;
}
