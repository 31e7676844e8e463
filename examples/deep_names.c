/* deep_names.c - deeper character models on libtensor (makemore parts 3-5 and
 * beyond): a deep MLP or the hierarchical WaveNet-style model, with
 * batchnorm/layernorm, dropout, and SGD/momentum/Adam/AdamW with clipping.
 * The models are in deep_model.c; the data pipeline and split (the same as
 * mlp_names'), evaluation, sampling, checkpoints, the numerical guard and
 * the flag parser in common/. Run with --help. */
#include "batches.h"
#include "cli_args.h"
#include "deep_model.h"
#include "evaluate.h"
#include "files.h"
#include "libtensor.h"
#include "names_task.h"
#include "run.h"
#include "train_guard.h"

#include <math.h>
#include <stdio.h>

/* ---- options ------------------------------------------------------------------- */

typedef enum { SCHED_CONST, SCHED_COSINE, SCHED_STEP } sched_kind;
typedef enum { OPT_SGD, OPT_MOMENTUM, OPT_ADAM, OPT_ADAMW } opt_kind;
static const char *const SCHED_NAMES[] = {"const", "cosine", "step"};
static const char *const OPT_NAMES[] = {"sgd", "momentum", "adam", "adamw"};

typedef struct options {
    const char *data, *save, *load, *log;
    long steps, batch, block, emb, hidden, layers, warmup, eval_every, samples, threads, max_data_mb;
    double lr, lr_min, wd, clip, dropout, emb_dropout, momentum, bn_momentum, time_limit;
    int kind, norm, act, opt, sched;
    unsigned long long seed, batch_seed, dropout_seed, sample_seed;
    bool test, quiet, profile;
} options;

static const char USAGE[] =
    "usage: deep_names [--data FILE] [--model mlp|wavenet] [--block N] [--emb N] [--hidden N] [--layers N]\n"
    "                  [--norm none|batchnorm|layernorm] [--act tanh|relu|gelu] [--dropout P] [--emb-dropout P]\n"
    "                  [--optim sgd|momentum|adam|adamw] [--lr X] [--lr-min X] [--schedule const|cosine|step]\n"
    "                  [--warmup N] [--wd X] [--momentum X] [--clip X] [--bn-momentum X] [--steps N] [--batch N]\n"
    "                  [--seed N] [--batch-seed N] [--dropout-seed N] [--sample-seed N] [--eval-every N]\n"
    "                  [--time-limit S] [--threads N] [--save FILE] [--load FILE] [--log FILE] [--samples N]\n"
    "                  [--max-data-mb N] [--test] [--quiet] [--profile] [--help]\n";

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
    "  --time-limit S  stop training after S seconds of wall time (0.001 or more), 0 = none (0); the\n"
    "                  schedule then follows elapsed time or steps, whichever is further along\n"
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
    "  --max-data-mb N read at most N MiB of --data (256); a larger input is refused\n"
    "  --quiet         no progress lines\n"
    "  --profile       after the time, each op's share of the training steps, forward and backward\n"
    "                  (lt_profile_print)\n"
    "Outputs (--save, --log) must differ from the inputs and from each other, and be regular files\n"
    "or new paths.\n";

static void options_default(options *o)
{
    *o = (options){.data = "names.txt", .steps = 20000, .batch = 64, .block = 8, .emb = 24, .hidden = 128,
                   .layers = 2, .eval_every = 2000, .samples = 10, .threads = 1, .lr = 1e-3, .lr_min = -1,
                   .wd = 0.01, .momentum = 0.9, .bn_momentum = 0.1, .kind = DM_MLP, .norm = DM_NORM_BATCH,
                   .act = DM_ACT_TANH, .opt = OPT_ADAMW, .sched = SCHED_COSINE, .seed = 42, .batch_seed = 1,
                   .dropout_seed = 2, .sample_seed = 3, .max_data_mb = EX_MAX_DATA_MB_DEFAULT};
}

#define LONG(n, f, lo, hi) CLI_LONG_FLAG(n, options, f, lo, hi)
#define DOUBLE(n, f) CLI_DOUBLE_FLAG(n, options, f)
#define SEED(n, f) CLI_SEED_FLAG(n, options, f)
#define CHOICE(n, f, names, count) CLI_CHOICE_FLAG(n, options, f, names, count)
static const cli_flag FLAGS[] = {
    CLI_STRING_FLAG("--data", options, data), CLI_STRING_FLAG("--save", options, save),
    CLI_STRING_FLAG("--load", options, load), CLI_STRING_FLAG("--log", options, log),
    CHOICE("--model", kind, DM_KIND_NAMES, DM_N_KINDS), CHOICE("--norm", norm, DM_NORM_NAMES, DM_N_NORMS),
    CHOICE("--act", act, DM_ACT_NAMES, DM_N_ACTS), CHOICE("--optim", opt, OPT_NAMES, 4),
    CHOICE("--schedule", sched, SCHED_NAMES, 3),
    LONG("--steps", steps, 0, 1000000000L), LONG("--batch", batch, 2, 1 << 20), LONG("--block", block, 1, DM_MAX_BLOCK),
    LONG("--emb", emb, 1, DM_MAX_EMB), LONG("--hidden", hidden, 1, DM_MAX_HIDDEN), LONG("--layers", layers, 1, DM_MAX_LAYERS),
    LONG("--warmup", warmup, 0, 1000000000L), LONG("--eval-every", eval_every, 0, 1000000000L),
    LONG("--samples", samples, 0, 1000000), LONG("--threads", threads, 1, 64),
    LONG(EX_MAX_DATA_FLAG, max_data_mb, 1, EX_MAX_DATA_MB_LIMIT),
    DOUBLE("--lr", lr), DOUBLE("--lr-min", lr_min), DOUBLE("--wd", wd), DOUBLE("--clip", clip),
    DOUBLE("--dropout", dropout), DOUBLE("--emb-dropout", emb_dropout), DOUBLE("--momentum", momentum),
    DOUBLE("--bn-momentum", bn_momentum), DOUBLE("--time-limit", time_limit),
    SEED("--seed", seed), SEED("--batch-seed", batch_seed), SEED("--dropout-seed", dropout_seed),
    SEED("--sample-seed", sample_seed),
    CLI_SWITCH_FLAG("--test", options, test), CLI_SWITCH_FLAG("--quiet", options, quiet),
    CLI_SWITCH_FLAG("--profile", options, profile),
};
static const cli_spec SPEC = {"deep_names", USAGE, FLAGS, (int)(sizeof FLAGS / sizeof *FLAGS), NULL};

/* Returns 0 to run, 1 after --help, 2 on a usage error (message printed). */
static int parse_options(int argc, char **argv, options *o)
{
    options_default(o);
    int r = cli_parse(&SPEC, argc - 1, argv + 1, o);
    if (r == 1)
        printf("%s\n%s", USAGE, HELP);
    if (r)
        return r;
    if (o->lr_min < 0)
        o->lr_min = o->lr / 100;
    if (o->dropout >= 1.0 || o->emb_dropout >= 1.0) {
        fprintf(stderr, "deep_names: --dropout %g, --emb-dropout %g: must be below 1\n", o->dropout, o->emb_dropout);
        return 2;
    }
    if (o->bn_momentum > 1.0) {
        fprintf(stderr, "deep_names: --bn-momentum %g: must be at most 1\n", o->bn_momentum);
        return 2;
    }
    if (o->time_limit > 0 && o->time_limit < 1e-3) {
        fprintf(stderr, "deep_names: --time-limit %g: expected 0 (none) or at least 0.001 seconds\n", o->time_limit);
        return 2;
    }
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
    double fraction = elapsed / o->time_limit; /* below 1 while training goes on */
    long by_time = fraction < 1 ? (long)(fraction * (double)o->steps) : o->steps;
    return by_time > step ? by_time : step;
}

/* ---- the program ------------------------------------------------------------------------ */

typedef struct program {
    options o;
    ex_run run;      /* contexts, log, exit */
    ex_names data;   /* words, vocabulary, the three splits */
    dm_model m;
    ex_model em;     /* m for the shared helpers */
    lt_optim *opt_decay, *opt_plain; /* matrices (weight decay) and the rest */
    ex_batches batches;
    lt_rng dropout;
    lt_tensor *ix;   /* persistent (batch,) I32: minibatch row numbers */
    const char *param_names[DM_MAX_TENSORS]; /* m.names as pointers, for tg_describe */
    long steps_done;
} program;

/* The model as the shared helpers (evaluation, sampling) call it. */
static lt_tensor *logits_of(lt_ctx *ctx, void *self, lt_tensor *x) { return dm_logits(ctx, self, x, false, NULL); }

/* The data and the model: from a checkpoint (its config and vocabulary), or
 * fresh from the flags and the seed. */
static bool setup_model(program *p)
{
    const options *o = &p->o;
    lt_ctx *ctx = p->run.ctx;
    dm_config cfg = {.kind = (dm_kind)o->kind, .norm = (dm_norm)o->norm, .act = (dm_act)o->act,
                     .block = (int)o->block, .emb = (int)o->emb, .hidden = (int)o->hidden, .layers = (int)o->layers,
                     .dropout = (float)o->dropout, .emb_dropout = (float)o->emb_dropout,
                     .bn_momentum = (float)o->bn_momentum};
    lt_safetensors *st = NULL;
    if (o->load && !(st = dm_open(ctx, o->load, &cfg, &p->data.vocab)))
        return false;
    bool ok = ex_names_load(ctx, o->data, (size_t)o->max_data_mb << 20, cfg.block, st != NULL, &p->data);
    if (ok) {
        cfg.vocab = p->data.vocab.size;
        ok = dm_create(ctx, &cfg, o->seed, &p->m) && (!st || dm_load(ctx, st, o->load, &p->m));
    }
    for (int i = 0; ok && i < p->m.n_all; i++)
        p->param_names[i] = p->m.names[i];
    lt_safetensors_free(st);
    return ok;
}

/* Two optimisers with one rule: matrices decay, gains and biases do not. */
static bool setup_optimisers(program *p)
{
    const options *o = &p->o;
    static const lt_optim_kind KINDS[] = {LT_OPTIM_SGD, LT_OPTIM_SGD, LT_OPTIM_ADAM, LT_OPTIM_ADAMW};
    lt_optim_config cfg = lt_optim_defaults(KINDS[o->opt], (float)o->lr);
    if (o->opt == OPT_MOMENTUM)
        cfg.momentum = (float)o->momentum;
    lt_tensor *decay[DM_MAX_TENSORS], *plain[DM_MAX_TENSORS];
    int nd = 0, np = 0;
    for (int i = 0; i < p->m.n_params; i++) {
        if (p->m.decay[i])
            decay[nd++] = p->m.all[i];
        else
            plain[np++] = p->m.all[i];
    }
    cfg.weight_decay = (float)o->wd;
    p->opt_decay = lt_optim_new(p->run.ctx, &cfg, decay, nd);
    cfg.weight_decay = 0.0f;
    p->opt_plain = lt_optim_new(p->run.ctx, &cfg, plain, np);
    return p->opt_decay && p->opt_plain;
}

/* One update on a fresh minibatch at learning rate lr, guarded: a loss, a
 * gradient or an updated parameter that is not finite stops training (one
 * pass over the parameters after the step). */
static bool train_step(program *p, long step, double lr, double *batch_loss)
{
    lt_ctx *ctx = p->run.ctx;
    const options *o = &p->o;
    char what[256];
    lt_ctx_reset(ctx);
    ex_batches_next(&p->batches, lt_data_i32(p->ix), o->batch);
    lt_tensor *xb = lt_index(ctx, p->data.train.x, p->ix), *yb = lt_index(ctx, p->data.train.y, p->ix);
    lt_tensor *loss = lt_cross_entropy(ctx, dm_logits(ctx, &p->m, xb, true, &p->dropout), yb);
    if (!loss)
        return false;
    *batch_loss = (double)lt_item(ctx, loss);
    if (!tg_loss_finite(*batch_loss, what, sizeof what)) {
        tg_stop(ctx, step, what, o->save);
        return false;
    }
    lt_optim_zero_grad(p->opt_decay);
    lt_optim_zero_grad(p->opt_plain);
    if (!lt_backward(ctx, loss))
        return false;
    /* a non-finite norm is not an error here: the guard below names the gradient */
    if (o->clip > 0 && isnan(lt_clip_grad_norm(ctx, p->m.all, p->m.n_params, (float)o->clip)) &&
        lt_status_of(ctx) != LT_OK)
        return false;
    lt_optim_set_lr(p->opt_decay, (float)lr);
    lt_optim_set_lr(p->opt_plain, (float)lr);
    if (!lt_optim_step(p->opt_decay) || !lt_optim_step(p->opt_plain))
        return false;
    tg_report guard = tg_check_step((lt_optim *const[]){p->opt_decay, p->opt_plain}, 2, p->m.all, p->m.n_params);
    if (guard.problem == TG_FINITE)
        return true;
    tg_describe(&guard, p->param_names, (float)lr, what, sizeof what);
    tg_stop(ctx, step, what, o->save);
    return false;
}

/* The steps, with the dev loss every --eval-every steps (after the step),
 * at the last one and when --time-limit runs out, and the --log line. */
static bool train(program *p, double *seconds)
{
    const options *o = &p->o;
    double start = ex_now(), dev = NAN, loss = NAN;
    const lt_lr_schedule sched = make_schedule(o);
    if (!lt_lr_check(p->run.ctx, &sched) || (o->profile && !lt_profile_start(p->run.ctx)))
        return false;
    for (long step = 0; step < o->steps; step++) {
        double lr = lt_lr_at(&sched, schedule_step(o, step, ex_now() - start));
        if (!train_step(p, step, lr, &loss))
            return false;
        p->steps_done = step + 1;
        bool last = step + 1 == o->steps, out_of_time = o->time_limit > 0 && ex_now() - start > o->time_limit;
        bool evaluate = (o->eval_every > 0 && (step + 1) % o->eval_every == 0) || last || out_of_time;
        if (evaluate) {
            if (!ex_split_loss(p->run.ectx, &p->em, p->data.dev.x, p->data.dev.y, "dev", &dev)) {
                tg_stop(p->run.ctx, step, lt_error_message(p->run.ectx), o->save);
                return false;
            }
            if (!o->quiet)
                fprintf(stderr, "step %ld/%ld lr %.2e loss %.4f dev %.4f %.0f s\n", step + 1, o->steps, lr, loss,
                        dev, ex_now() - start);
        }
        if (p->run.log)
            evaluate ? fprintf(p->run.log, "%ld,%.6g,%.6f,%.6f\n", step + 1, lr, loss, dev)
                     : fprintf(p->run.log, "%ld,%.6g,%.6f,\n", step + 1, lr, loss);
        if (out_of_time) {
            fprintf(stderr, "deep_names: time limit of %g s reached after %ld steps\n", o->time_limit, step + 1);
            break;
        }
    }
    lt_profile_stop(p->run.ctx);
    *seconds = ex_now() - start;
    return true;
}

/* The model and its optimiser in two lines, the split, then training, the
 * final losses, --save and samples. */
static bool run_all(program *p)
{
    const options *o = &p->o;
    if (!setup_model(p) || !setup_optimisers(p))
        return false;
    const dm_config *c = &p->m.cfg;
    printf("model: %s block %d emb %d hidden %d layers %d norm %s act %s dropout %g emb-dropout %g\n",
           dm_kind_name(c->kind), c->block, c->emb, c->hidden, c->layers, dm_norm_name(c->norm), dm_act_name(c->act),
           (double)c->dropout, (double)c->emb_dropout);
    printf("optim: %s lr %g..%g (%s, warm-up %ld) wd %g clip %g batch %ld steps %ld\n", OPT_NAMES[o->opt], o->lr,
           o->lr_min, SCHED_NAMES[o->sched], o->warmup, o->wd, o->clip, o->batch, o->steps);
    ex_names_print_split(&p->data);
    printf("params: %lld\n", (long long)dm_param_count(&p->m));
    fflush(stdout);
    if (o->log && !ex_run_open_log(&p->run, o->log, "step,lr,batch_loss,dev_loss\n"))
        return false;
    lt_rng_seed(&p->dropout, o->dropout_seed);
    double seconds = 0, loss[3];
    if (!ex_batches_init(p->run.ctx, &p->batches, p->data.train.y->shape[0], o->batch_seed, false) ||
        !(p->ix = lt_new(p->run.ctx, LT_I32, LT_SHAPE(o->batch))) || !train(p, &seconds) ||
        !ex_names_final(p->run.ectx, &p->em, &p->data, o->test, loss))
        return false;
    printf("time: %.1f s training, %ld steps, %.0f steps/s\n", seconds, p->steps_done,
           seconds > 0 ? (double)p->steps_done / seconds : 0.0);
    if (o->profile && p->steps_done > 0) {
        printf("profile of the %ld training steps (dev evaluations between them are outside ops):\n",
               p->steps_done);
        lt_profile_print(p->run.ctx, stdout);
    }
    fflush(stdout);
    if (o->save && !dm_save(p->run.ctx, o->save, &p->m, &p->data.vocab, p->steps_done))
        return false;
    return ex_names_sample(p->run.ectx, &p->em, &p->data.vocab, c->block, o->sample_seed, o->samples, "sample: ",
                           false);
}

/* Every file the flags name, checked before any work (files.h). */
static bool files_usable(const options *o)
{
    const ex_file files[] = {
        EX_IN("--data", o->data),
        EX_IN_REGULAR("--load", o->load),
        EX_OUT_OVER("--save", o->save, "--load"),
        EX_OUT("--log", o->log),
    };
    return ex_files_check("deep_names", files, (int)(sizeof files / sizeof *files));
}

int main(int argc, char **argv)
{
    program p = {0};
    int parsed = parse_options(argc, argv, &p.o);
    if (parsed)
        return parsed == 1 ? 0 : 2;
    if (!files_usable(&p.o))
        return 2;
    if (!ex_run_start(&p.run, "deep_names", p.o.threads))
        return 1;
    p.em = (ex_model){&p.m, logits_of};
    bool ok = run_all(&p);
    lt_optim_free(p.opt_decay);
    lt_optim_free(p.opt_plain);
    ex_batches_free(&p.batches);
    ex_names_free(&p.data);
    return ex_run_finish(&p.run, ok);
}
