/* deep_names.c - deeper character models on libtensor (makemore parts 3-5 and
 * beyond): a deep MLP or the hierarchical WaveNet-style model, with
 * batchnorm/layernorm, dropout, and SGD/momentum/Adam/AdamW with clipping.
 * Same data pipeline and split as mlp_names (names_data.c). Run with --help. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include "cli_args.h"
#include "deep_model.h"
#include "libtensor.h"
#include "names_data.h"
#include "train_guard.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVAL_CHUNK 4096 /* rows per evaluation chunk: bounds temporary memory */
#define MAX_SAMPLE_LEN 1000

/* ---- options ------------------------------------------------------------------- */

typedef enum { SCHED_CONST, SCHED_COSINE, SCHED_STEP } sched_kind;
typedef enum { OPT_SGD, OPT_MOMENTUM, OPT_ADAM, OPT_ADAMW } opt_kind;
static const char *const SCHED_NAMES[] = {"const", "cosine", "step"};
static const char *const OPT_NAMES[] = {"sgd", "momentum", "adam", "adamw"};

typedef struct options {
    const char *data, *save, *load, *log;
    long steps, batch, block, emb, hidden, layers, warmup, eval_every, samples, threads;
    double lr, lr_min, wd, clip, dropout, emb_dropout, momentum, bn_momentum, time_limit;
    int kind, norm, act, opt, sched;
    unsigned long long seed, batch_seed, dropout_seed, sample_seed;
    bool test, quiet;
} options;

static const char USAGE[] =
    "usage: deep_names [--data FILE] [--model mlp|wavenet] [--block N] [--emb N] [--hidden N] [--layers N]\n"
    "                  [--norm none|batchnorm|layernorm] [--act tanh|relu|gelu] [--dropout P] [--emb-dropout P]\n"
    "                  [--optim sgd|momentum|adam|adamw] [--lr X] [--lr-min X] [--schedule const|cosine|step]\n"
    "                  [--warmup N] [--wd X] [--momentum X] [--clip X] [--bn-momentum X] [--steps N] [--batch N]\n"
    "                  [--seed N] [--batch-seed N] [--dropout-seed N] [--sample-seed N] [--eval-every N]\n"
    "                  [--time-limit S] [--threads N] [--save FILE] [--load FILE] [--log FILE] [--samples N]\n"
    "                  [--test] [--quiet] [--help]\n";

static const char HELP[] =
    "Trains a deep MLP or a hierarchical (WaveNet-style) character model on a one-item-per-line text\n"
    "file (names.txt), with the notebook's 80/10/10 split (Python shuffle, seed 42), and samples from it.\n\n"
    "model\n"
    "  --model K       mlp: flattened context -> hidden layers; wavenet: pairs of steps fused level by\n"
    "                  level (log2(block) levels; block must be a power of 2) (mlp)\n"
    "  --block N       context length (8)            --emb N     embedding size (24)\n"
    "  --hidden N      hidden width (128)            --layers N  hidden layers, mlp only (2)\n"
    "  --norm K        none|batchnorm|layernorm after each linear (batchnorm)\n"
    "  --act K         tanh|relu|gelu (tanh)         --dropout P after each activation (0)\n"
    "  --emb-dropout P dropout on the embeddings, before the first layer (0)\n"
    "  --bn-momentum X running-statistics momentum (0.1)\n"
    "training\n"
    "  --optim K       sgd|momentum|adam|adamw (adamw)\n"
    "  --lr X          peak learning rate (0.001)    --lr-min X  final rate for cosine/step (lr/100)\n"
    "  --schedule K    const; cosine from lr to lr-min; step: lr, lr-min after 3/4 of the steps (cosine)\n"
    "  --warmup N      linear warm-up steps (0)      --wd X      weight decay on matrices (0.01)\n"
    "  --momentum X    for momentum (0.9)            --clip X    clip the gradient norm, 0 = off (0)\n"
    "  --steps N       (20000)                       --batch N   minibatch size (64)\n"
    "  --time-limit S  stop training after S seconds of wall time, 0 = none (0); the schedule then\n"
    "                  follows elapsed time or steps, whichever is further along\n"
    "  --seed N        init seed (42)                --batch-seed N, --dropout-seed N (1, 2)\n"
    "  --eval-every N  dev loss every N steps, 0 = only at the end (2000)\n"
    "  --threads N     threads for large ops (1)\n"
    "output\n"
    "  --save FILE     write parameters and running statistics (safetensors)\n"
    "  --load FILE     start from a deep_names checkpoint (model flags come from it); --steps 0 to\n"
    "                  only evaluate and sample\n"
    "  --log FILE      CSV of step, lr, batch loss, dev loss\n"
    "  --test          also report the test loss (measure it once, for the final model)\n"
    "  --samples N     names to sample at the end (10)   --sample-seed N (3)\n"
    "  --quiet         no progress lines\n";

static void options_default(options *o)
{
    *o = (options){.data = "names.txt", .steps = 20000, .batch = 64, .block = 8, .emb = 24, .hidden = 128,
                   .layers = 2, .eval_every = 2000, .samples = 10, .threads = 1, .lr = 1e-3, .lr_min = -1,
                   .wd = 0.01, .momentum = 0.9, .bn_momentum = 0.1, .kind = DM_MLP, .norm = DM_NORM_BATCH,
                   .act = DM_ACT_TANH, .opt = OPT_ADAMW, .sched = SCHED_COSINE, .seed = 42, .batch_seed = 1,
                   .dropout_seed = 2, .sample_seed = 3};
}

typedef struct flag {
    const char *name;
    char type; /* 'l' long in [lo, hi], 'd' double >= 0, 's' seed */
    long lo, hi;
    size_t offset;
} flag;

#define LFLAG(n, lo, hi, f) {n, 'l', lo, hi, offsetof(options, f)}
#define DFLAG(n, f) {n, 'd', 0, 0, offsetof(options, f)}
#define SFLAG(n, f) {n, 's', 0, 0, offsetof(options, f)}
static const flag FLAGS[] = {
    LFLAG("--steps", 0, 1000000000L, steps), LFLAG("--batch", 2, 1 << 20, batch),
    LFLAG("--block", 1, 64, block),          LFLAG("--emb", 1, 4096, emb),
    LFLAG("--hidden", 1, 1 << 16, hidden),   LFLAG("--layers", 1, DM_MAX_LAYERS, layers),
    LFLAG("--warmup", 0, 1000000000L, warmup), LFLAG("--eval-every", 0, 1000000000L, eval_every),
    LFLAG("--samples", 0, 1000000, samples), LFLAG("--threads", 1, 64, threads),
    DFLAG("--lr", lr), DFLAG("--lr-min", lr_min), DFLAG("--wd", wd), DFLAG("--clip", clip),
    DFLAG("--dropout", dropout), DFLAG("--emb-dropout", emb_dropout), DFLAG("--momentum", momentum), DFLAG("--bn-momentum", bn_momentum),
    DFLAG("--time-limit", time_limit),
    SFLAG("--seed", seed), SFLAG("--batch-seed", batch_seed), SFLAG("--dropout-seed", dropout_seed),
    SFLAG("--sample-seed", sample_seed),
};

/* One "--name value" pair; returns false (message printed) on error. */
static bool parse_pair(options *o, const char *a, const char *v)
{
    struct {
        const char *name;
        int *field;
        int (*parse)(const char *);
        const char *const *names;
        int n;
    } choices[] = {{"--model", &o->kind, dm_parse_kind, NULL, 0}, {"--norm", &o->norm, dm_parse_norm, NULL, 0},
                   {"--act", &o->act, dm_parse_act, NULL, 0},     {"--optim", &o->opt, NULL, OPT_NAMES, 4},
                   {"--schedule", &o->sched, NULL, SCHED_NAMES, 3}};
    const char **strings[] = {&o->data, &o->save, &o->load, &o->log};
    const char *string_names[] = {"--data", "--save", "--load", "--log"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(a, string_names[i]))
            return *strings[i] = v, true;
    for (size_t i = 0; i < sizeof choices / sizeof *choices; i++)
        if (!strcmp(a, choices[i].name)) {
            int c = choices[i].parse ? choices[i].parse(v) : cli_lookup(v, choices[i].names, choices[i].n);
            if (c < 0)
                return fprintf(stderr, "deep_names: %s %s: unknown value (see --help)\n", a, v), false;
            return *choices[i].field = c, true;
        }
    for (size_t i = 0; i < sizeof FLAGS / sizeof *FLAGS; i++) {
        const flag *f = &FLAGS[i];
        if (strcmp(a, f->name))
            continue;
        void *p = (char *)o + f->offset;
        bool ok = f->type == 'l' ? cli_parse_long(v, f->lo, f->hi, p)
                  : f->type == 'd' ? cli_parse_double(v, p)
                                   : cli_parse_seed(v, p);
        if (!ok && f->type == 'l')
            fprintf(stderr, "deep_names: %s %s: expected an integer in %ld..%ld\n", a, v, f->lo, f->hi);
        else if (!ok)
            fprintf(stderr, "deep_names: %s %s: expected a non-negative number\n", a, v);
        return ok;
    }
    fprintf(stderr, "deep_names: unknown option '%s'\n%s", a, USAGE);
    return false;
}

/* Returns 0 to run, 1 after --help, 2 on a usage error (message printed). */
static int parse_options(int argc, char **argv, options *o)
{
    options_default(o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return printf("%s\n%s", USAGE, HELP), 1;
        if (!strcmp(a, "--quiet") || !strcmp(a, "--test")) {
            *(a[2] == 'q' ? &o->quiet : &o->test) = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0)
            return fprintf(stderr, "deep_names: unexpected argument '%s'\n%s", a, USAGE), 2;
        if (i + 1 >= argc)
            return fprintf(stderr, "deep_names: %s needs a value\n%s", a, USAGE), 2;
        if (!parse_pair(o, a, argv[++i]))
            return 2;
    }
    if (o->lr_min < 0)
        o->lr_min = o->lr / 100;
    if (o->dropout >= 1.0 || o->emb_dropout >= 1.0)
        return fprintf(stderr, "deep_names: --dropout %g, --emb-dropout %g: must be below 1\n", o->dropout,
                       o->emb_dropout),
               2;
    if (o->bn_momentum > 1.0)
        return fprintf(stderr, "deep_names: --bn-momentum %g: must be at most 1\n", o->bn_momentum), 2;
    return 0;
}

/* ---- the learning-rate schedule ---------------------------------------------------- */

/* The learning-rate schedule (lt_lr_schedule, lib/train/schedule.c): linear
 * warm-up to lr, then constant; cosine to lr_min at the last step; or a step
 * to lr_min at 3/4 of the steps after the warm-up. */
static lt_lr_schedule make_schedule(const options *o)
{
    lt_lr_schedule s = {.kind = LT_LR_CONSTANT, .base = o->lr, .warmup = o->warmup};
    if (o->sched == SCHED_COSINE) {
        s.kind = LT_LR_COSINE;
        s.total = o->steps > o->warmup ? o->steps : o->warmup + 1;
        s.final = o->lr_min;
    } else if (o->sched == SCHED_STEP) {
        s.kind = LT_LR_STEP;
        s.n_milestones = 1;
        s.milestones[0] = o->warmup + (o->steps - o->warmup) * 3 / 4;
        s.explicit_rates = true;
        s.rates[0] = o->lr_min;
    }
    return s;
}

/* The step the schedule is evaluated at: the step itself, or, with
 * --time-limit, the step that the elapsed fraction of the time limit
 * corresponds to when that is further along, so that a run bounded by wall
 * time still anneals fully (its step count then depends on the machine). */
static long schedule_step(const options *o, long step, double elapsed)
{
    if (o->time_limit <= 0)
        return step;
    long by_time = (long)(elapsed / o->time_limit * (double)o->steps);
    return by_time > step ? by_time : step;
}

/* ---- data ----------------------------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the run ------------------------------------------------------------------------ */

typedef struct run {
    options o;
    lt_ctx *ctx, *ectx; /* training graph; evaluation (no grad) */
    nd_words words;
    nd_vocab vocab;
    dm_config cfg;
    dm_model m;
    nd_split tr, dev, te;
    lt_optim *opt_decay, *opt_plain; /* matrices (weight decay) and the rest */
    lt_tensor *ix;
    const char *param_names[DM_MAX_TENSORS]; /* m.names as pointers, for tg_describe */
    lt_rng batches, dropout;
    FILE *log;
    long steps_done;
} run;

/* Mean loss over a whole split in evaluation mode, in chunks of rows. */
static double split_loss(run *r, const nd_split *s)
{
    lt_ctx *ectx = r->ectx;
    int64_t n = s->x->shape[0];
    double total = 0;
    for (int64_t row = 0; row < n; row += EVAL_CHUNK) {
        int64_t rows = n - row < EVAL_CHUNK ? n - row : EVAL_CHUNK;
        lt_ctx_reset(ectx);
        lt_tensor *logits = dm_logits(ectx, &r->m, lt_narrow(ectx, s->x, 0, row, rows), false, NULL);
        lt_tensor *loss = lt_cross_entropy(ectx, logits, lt_narrow(ectx, s->y, 0, row, rows));
        if (!loss)
            return NAN;
        total += (double)lt_item(ectx, loss) * (double)rows;
    }
    lt_ctx_reset(ectx);
    return total / (double)n;
}

static bool load_data(run *r, bool have_vocab)
{
    char err[ND_ERR_SIZE];
    if (nd_read_words(r->o.data, &r->words, err) != 0)
        return lt_fail(r->ctx, LT_ERR_IO, "%s", err), false;
    nd_vocab v;
    nd_build_vocab(&r->words, &v);
    if (!have_vocab)
        r->vocab = v;
    else
        for (int i = 1; i < v.size; i++)
            if (r->vocab.stoi[(unsigned char)v.itos[i]] < 0)
                return lt_fail(r->ctx, LT_ERR_FORMAT, "%s: character '%c' is not in the checkpoint's vocabulary",
                               r->o.data, v.itos[i]),
                       false;
    nd_shuffle_words(&r->words, 42);
    size_t n1, n2;
    nd_split_points(r->words.n, &n1, &n2);
    int b = r->cfg.block;
    return nd_make_split(r->ctx, &r->words, 0, n1, &r->vocab, b, &r->tr) &&
           nd_make_split(r->ctx, &r->words, n1, n2, &r->vocab, b, &r->dev) &&
           nd_make_split(r->ctx, &r->words, n2, r->words.n, &r->vocab, b, &r->te);
}

static bool setup_model(run *r)
{
    const options *o = &r->o;
    r->cfg = (dm_config){.kind = (dm_kind)o->kind, .norm = (dm_norm)o->norm, .act = (dm_act)o->act,
                         .block = (int)o->block, .emb = (int)o->emb, .hidden = (int)o->hidden,
                         .layers = (int)o->layers, .dropout = (float)o->dropout,
                         .emb_dropout = (float)o->emb_dropout,
                         .bn_momentum = (float)o->bn_momentum};
    lt_safetensors *st = NULL;
    if (o->load) {
        char chars[ND_MAX_VOCAB + 1];
        if (!(st = dm_open(r->ctx, o->load, &r->cfg, chars, sizeof chars)))
            return false;
        if (nd_vocab_from_chars(chars, &r->vocab) != 0) {
            lt_safetensors_free(st);
            return lt_fail(r->ctx, LT_ERR_FORMAT, "%s: metadata 'vocab' is invalid", o->load), false;
        }
    }
    bool ok = load_data(r, st != NULL);
    if (ok) {
        r->cfg.vocab = r->vocab.size;
        ok = dm_create(r->ctx, &r->cfg, o->seed, &r->m) && (!st || dm_load(r->ctx, st, &r->m));
    }
    for (int i = 0; ok && i < r->m.n_all; i++)
        r->param_names[i] = r->m.names[i];
    lt_safetensors_free(st);
    return ok;
}

/* Two optimisers with one rule: matrices decay, gains and biases do not. */
static bool setup_optimisers(run *r)
{
    const options *o = &r->o;
    static const lt_optim_kind KINDS[] = {LT_OPTIM_SGD, LT_OPTIM_SGD, LT_OPTIM_ADAM, LT_OPTIM_ADAMW};
    lt_optim_config cfg = lt_optim_defaults(KINDS[o->opt], (float)o->lr);
    if (o->opt == OPT_MOMENTUM)
        cfg.momentum = (float)o->momentum;
    lt_tensor *decay[DM_MAX_TENSORS], *plain[DM_MAX_TENSORS];
    int nd = 0, np = 0;
    for (int i = 0; i < r->m.n_params; i++) {
        if (r->m.decay[i])
            decay[nd++] = r->m.all[i];
        else
            plain[np++] = r->m.all[i];
    }
    cfg.weight_decay = (float)o->wd;
    r->opt_decay = lt_optim_new(r->ctx, &cfg, decay, nd);
    cfg.weight_decay = 0.0f;
    r->opt_plain = lt_optim_new(r->ctx, &cfg, plain, np);
    return r->opt_decay && r->opt_plain;
}

/* Records why training stopped at step: "step 12: loss is nan; training
 * stopped, f.st not written (an existing file is unchanged)". Returns NaN. */
static double stop_training(run *r, long step, const char *what)
{
    const char *save = r->o.save;
    lt_fail(r->ctx, LT_ERR_GRAPH, "step %ld: %s; training stopped%s%s%s", step, what, save ? ", " : "",
            save ? save : "", save ? " not written (an existing file is unchanged)" : "");
    return NAN;
}

/* One update on a fresh minibatch; returns the batch loss (NaN on error or
 * when the loss, a gradient or an updated parameter is not finite: the
 * guard, which costs one pass over the parameters). */
static double train_step(run *r, long step, double lr)
{
    lt_ctx *ctx = r->ctx;
    const options *o = &r->o;
    lt_ctx_reset(ctx);
    lt_rng_randint(&r->batches, 0, r->tr.x->shape[0], lt_data_i32(r->ix), o->batch);
    lt_tensor *xb = lt_index(ctx, r->tr.x, r->ix), *yb = lt_index(ctx, r->tr.y, r->ix);
    lt_tensor *loss = lt_cross_entropy(ctx, dm_logits(ctx, &r->m, xb, true, &r->dropout), yb);
    if (!loss)
        return NAN;
    double value = (double)lt_item(ctx, loss);
    char what[256];
    if (!isfinite(value))
        return snprintf(what, sizeof what, "loss is %s", isnan(value) ? "nan" : value > 0 ? "inf" : "-inf"),
               stop_training(r, step, what);
    lt_optim_zero_grad(r->opt_decay);
    lt_optim_zero_grad(r->opt_plain);
    if (!lt_backward(ctx, loss))
        return NAN;
    /* a non-finite norm is not an error here: the guard below names the gradient */
    if (o->clip > 0 && isnan(lt_clip_grad_norm(ctx, r->m.all, r->m.n_params, (float)o->clip)) &&
        lt_status_of(ctx) != LT_OK)
        return NAN;
    lt_optim_set_lr(r->opt_decay, (float)lr);
    lt_optim_set_lr(r->opt_plain, (float)lr);
    if (!lt_optim_step(r->opt_decay) || !lt_optim_step(r->opt_plain))
        return NAN;
    tg_report guard = tg_check_params(r->m.all, r->m.n_params);
    if (guard.problem != TG_FINITE)
        return tg_describe(&guard, r->param_names, (float)lr, what, sizeof what), stop_training(r, step, what);
    return value;
}

static bool train(run *r, double *seconds)
{
    const options *o = &r->o;
    double start = now_seconds(), dev = NAN;
    const lt_lr_schedule sched = make_schedule(o);
    if (!lt_lr_check(r->ctx, &sched))
        return false;
    for (long step = 0; step < o->steps; step++) {
        double lr = lt_lr_at(&sched, schedule_step(o, step, now_seconds() - start));
        double loss = train_step(r, step, lr);
        if (!isfinite(loss)) {
            if (lt_status_of(r->ctx) == LT_OK)
                lt_fail(r->ctx, LT_ERR_GRAPH, "training: the loss became %g at step %ld", loss, step);
            return false;
        }
        r->steps_done = step + 1;
        bool last = step + 1 == o->steps, out_of_time = o->time_limit > 0 && now_seconds() - start > o->time_limit;
        bool evaluate = (o->eval_every > 0 && (step + 1) % o->eval_every == 0) || last || out_of_time;
        if (evaluate) {
            dev = split_loss(r, &r->dev);
            if (!o->quiet)
                fprintf(stderr, "step %ld/%ld lr %.2e loss %.4f dev %.4f %.0f s\n", step + 1, o->steps, lr, loss,
                        dev, now_seconds() - start);
        }
        if (r->log)
            evaluate ? fprintf(r->log, "%ld,%.6g,%.6f,%.6f\n", step + 1, lr, loss, dev)
                     : fprintf(r->log, "%ld,%.6g,%.6f,\n", step + 1, lr, loss);
        if (out_of_time) {
            fprintf(stderr, "deep_names: time limit of %g s reached after %ld steps\n", o->time_limit, step + 1);
            break;
        }
    }
    *seconds = now_seconds() - start;
    return true;
}

/* ---- sampling ------------------------------------------------------------------------- */

static bool sample_names(run *r)
{
    lt_ctx *ctx = r->ectx;
    const dm_config *c = &r->m.cfg;
    lt_rng g;
    lt_rng_seed(&g, r->o.sample_seed);
    lt_tensor *context = lt_new(ctx, LT_I32, LT_SHAPE(1, c->block));
    float *probs = malloc(sizeof(float) * (size_t)c->vocab);
    char *out = malloc(MAX_SAMPLE_LEN + 2);
    bool ok = context && probs && out;
    for (long s = 0; ok && s < r->o.samples; s++) {
        int32_t *ctxv = lt_data_i32(context);
        memset(ctxv, 0, sizeof(int32_t) * (size_t)c->block);
        int len = 0;
        for (;;) {
            lt_ctx_reset(ctx);
            lt_tensor *p = lt_softmax(ctx, dm_logits(ctx, &r->m, context, false, NULL), 1);
            if (!p) {
                ok = false;
                break;
            }
            lt_copy_out_f32(p, probs);
            int64_t ix = lt_rng_multinomial(&g, probs, c->vocab);
            memmove(ctxv, ctxv + 1, sizeof(int32_t) * (size_t)(c->block - 1));
            ctxv[c->block - 1] = (int32_t)ix;
            if (ix <= 0 || len >= MAX_SAMPLE_LEN)
                break;
            out[len++] = r->vocab.itos[ix];
        }
        out[len] = '\0';
        if (ok)
            printf("sample: %s\n", out);
    }
    lt_ctx_reset(ctx);
    free(probs);
    free(out);
    lt_free(context);
    return ok;
}

static bool run_all(run *r)
{
    const options *o = &r->o;
    if (!setup_model(r) || !setup_optimisers(r))
        return false;
    const dm_config *c = &r->m.cfg;
    printf("model: %s block %d emb %d hidden %d layers %d norm %s act %s dropout %g emb-dropout %g\n",
           dm_kind_name(c->kind), c->block, c->emb, c->hidden, c->layers, dm_norm_name(c->norm), dm_act_name(c->act),
           (double)c->dropout, (double)c->emb_dropout);
    printf("optim: %s lr %g..%g (%s, warm-up %ld) wd %g clip %g batch %ld steps %ld\n", OPT_NAMES[o->opt], o->lr,
           o->lr_min, SCHED_NAMES[o->sched], o->warmup, o->wd, o->clip, o->batch, o->steps);
    printf("split: train %lld dev %lld test %lld\n", (long long)r->tr.y->shape[0], (long long)r->dev.y->shape[0],
           (long long)r->te.y->shape[0]);
    printf("params: %lld\n", (long long)dm_param_count(&r->m));
    fflush(stdout);
    if (o->log && !(r->log = fopen(o->log, "w")))
        return lt_fail(r->ctx, LT_ERR_IO, "%s: cannot open log: %s", o->log, strerror(errno)), false;
    if (r->log)
        fprintf(r->log, "step,lr,batch_loss,dev_loss\n");
    lt_rng_seed(&r->batches, o->batch_seed);
    lt_rng_seed(&r->dropout, o->dropout_seed);
    double seconds = 0;
    if (!(r->ix = lt_new(r->ctx, LT_I32, LT_SHAPE(o->batch))) || !train(r, &seconds))
        return false;
    printf("final: train %.4f dev %.4f", split_loss(r, &r->tr), split_loss(r, &r->dev));
    if (o->test)
        printf(" test %.4f", split_loss(r, &r->te));
    printf("\ntime: %.1f s training, %ld steps, %.0f steps/s\n", seconds, r->steps_done,
           seconds > 0 ? (double)r->steps_done / seconds : 0.0);
    fflush(stdout);
    if (o->save) {
        char chars[ND_MAX_VOCAB + 1];
        nd_vocab_chars(&r->vocab, chars);
        if (!dm_save(r->ctx, o->save, &r->m, chars, r->steps_done))
            return false;
    }
    return sample_names(r) && lt_status_of(r->ectx) == LT_OK;
}

int main(int argc, char **argv)
{
    run r = {0};
    int parsed = parse_options(argc, argv, &r.o);
    if (parsed)
        return parsed == 1 ? 0 : 2;
    r.ctx = lt_ctx_new();
    r.ectx = lt_ctx_new();
    if (!r.ctx || !r.ectx)
        return fprintf(stderr, "deep_names: out of memory\n"), 1;
    lt_set_grad_enabled(r.ectx, false);
    lt_set_threads(r.ctx, (int)r.o.threads);
    lt_set_threads(r.ectx, (int)r.o.threads);
    bool ok = run_all(&r);
    if (!ok) {
        lt_ctx *bad = lt_status_of(r.ctx) != LT_OK ? r.ctx : r.ectx;
        fprintf(stderr, "deep_names: %s\n", lt_status_of(bad) != LT_OK ? lt_error_message(bad) : "failed");
    }
    if (r.log && fclose(r.log) != 0 && ok) {
        fprintf(stderr, "deep_names: %s: write error\n", r.o.log);
        ok = false;
    }
    lt_optim_free(r.opt_decay);
    lt_optim_free(r.opt_plain);
    nd_free_words(&r.words);
    lt_ctx_free(r.ectx);
    lt_ctx_free(r.ctx);
    return ok ? 0 : 1;
}
