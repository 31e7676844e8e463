/* mlp_config.c - options, presets and the learning-rate schedule of
 * mlp_names. A preset is a string of ordinary flags, so `--help` can show
 * exactly what it sets and every preset is reproducible by hand. */
#define _POSIX_C_SOURCE 200809L

#include "mlp_config.h"

#include "cli_args.h"
#include "files.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct preset {
    const char *name, *args, *what;
} preset;

/* Tuned with mlp_sweep; the figures and commands are in docs/results.md. */
static const preset PRESETS[] = {
    {"notebook", "", "the notebook exactly: randn init, 0.1 then 0.01 from step 100000"},
    {"e01", "--init scaled --init-emb 1.7 --lr-schedule cosine --lr 0.1 --lr-final 0.0007 --weight-decay 0.00003",
     "the notebook's shape and budget (200000 steps of 32), tuned init, cosine rate, L2"},
    {"e01-wide", "--init scaled --emb 24 --hidden 512 --batch 256 --steps 100000 --lr-schedule cosine --lr 0.4 "
                 "--lr-final 0.001 --weight-decay 0.0001",
     "block 3, emb 24, hidden 512, 100000 steps of 256: about a minute of one core"},
};
#define N_PRESETS (sizeof PRESETS / sizeof *PRESETS)

static const char USAGE[] =
    "usage: mlp_names [--preset NAME] [--data FILE] [--steps N] [--batch N] [--block N] [--emb N]\n"
    "                 [--hidden N] [--activation tanh|relu|none] [--init notebook|scaled]\n"
    "                 [--init-gain X] [--init-emb X]\n"
    "                 [--lr X] [--lr-schedule step|cosine|constant] [--lr-final X]\n"
    "                 [--decay-step N] [--milestones LIST] [--lr-factor X] [--warmup N]\n"
    "                 [--weight-decay X] [--momentum X] [--dropout P]\n"
    "                 [--sampling random|shuffle]\n"
    "                 [--seed N] [--batch-seed N] [--sample-seed N] [--eval-every N] [--samples N]\n"
    "                 [--save FILE] [--load FILE] [--log FILE] [--result FILE] [--no-test]\n"
    "                 [--threads N] [--plot-loss FILE] [--plot-emb FILE] [--max-data-mb N]\n"
    "                 [--quiet] [--help]\n";

static const char HELP[] =
    "Trains the makemore part 2 character MLP on a one-item-per-line text file and samples from it.\n"
    "Defaults are the notebook's (--preset notebook).\n\n"
    "  --preset NAME      named configuration (below); any other flag overrides it, wherever it is\n"
    "  --data FILE        training text, one item per line (default names.txt; get it from\n"
    "                     https://github.com/karpathy/makemore/blob/master/names.txt)\n"
    "  --steps N          SGD steps (200000)          --batch N      minibatch size (32)\n"
    "  --block N          context length (3)          --emb N        embedding size (10)\n"
    "  --hidden N         hidden units (200)\n"
    "  --activation A     hidden nonlinearity: tanh (default), relu, none (a linear model)\n"
    "  --init I           notebook: every parameter torch.randn (default); scaled: W1 randn *\n"
    "                     gain/sqrt(fan_in) (gain 5/3 tanh, sqrt 2 relu, 1 none), b1 and W2 randn\n"
    "                     * 0.01, b2 0, so the first loss is near -ln(1/27) = 3.2958\n"
    "  --init-gain X      scaled: W1 gain instead of the activation's\n"
    "  --init-emb X       scaled: C randn * X and W1 divided by X: the same first pre-activations\n"
    "                     with a different balance of SGD updates between C and W1 (1)\n"
    "  --lr X             base learning rate (0.1)\n"
    "  --lr-schedule K    step (default): the rate drops at milestones; cosine: half a cosine\n"
    "                     from --lr to --lr-final over the run; constant\n"
    "  --lr-final X       step: the rate from --decay-step on (0.01); cosine: the end rate (0.01)\n"
    "  --decay-step N     step: where the rate drops to --lr-final (steps/2)\n"
    "  --milestones LIST  step: several drops instead, each multiplying the rate by --lr-factor;\n"
    "                     a comma list of steps or of percentages of --steps (50%,75%)\n"
    "  --lr-factor X      step: factor at each of --milestones (0.1)\n"
    "  --warmup N         linear warm-up over the first N steps (0)\n"
    "  --weight-decay X   L2: adds X * w to the gradient of C, W1 and W2, not the biases (0)\n"
    "  --momentum X       SGD with momentum X in [0, 1) (lt_optim, as torch.optim.SGD); the L2\n"
    "                     decay is then applied to the weights directly, outside the momentum (0)\n"
    "  --dropout P        drop hidden units with probability P while training (lt_dropout, its\n"
    "                     own generator seeded --batch-seed + 1) (0)\n"
    "  --sampling S       minibatch rows: random (default, torch.randint: with replacement) or\n"
    "                     shuffle (a fresh permutation each epoch, every row once per epoch)\n"
    "  --seed N           parameter init seed, as torch.Generator().manual_seed (2147483647)\n"
    "  --batch-seed N     seed of the minibatch generator (torch.randint draws) (42)\n"
    "  --sample-seed N    seed of the sampling generator (2147483657)\n"
    "  --eval-every N     dev loss every N steps, 0 = never (1000)\n"
    "  --samples N        names to sample at the end (20)\n"
    "  --save FILE        write the trained parameters (safetensors)\n"
    "  --load FILE        start from a checkpoint; with --steps 0, only evaluate and sample\n"
    "  --log FILE         CSV of step, batch loss, dev loss\n"
    "  --result FILE      the final figures as key=value lines (for mlp_sweep and scripts)\n"
    "  --no-test          do not compute the test loss (tuning: score on dev only)\n"
    "  --threads N        threads for large ops (dev evaluation) (1..64, default 1); results are\n"
    "                     identical for every N\n"
    "  --plot-loss FILE   SVG plot of log10 batch loss per step, its 1000-step mean, dev loss\n"
    "  --plot-emb FILE    SVG plot of the characters in embedding space (PCA when emb > 2)\n"
    "  --max-data-mb N    read at most N MiB of --data (256); a larger input is refused\n"
    "                     Outputs (--save, --log, --result, --plot-*) must differ from the inputs\n"
    "                     and from each other, and be regular files or new paths\n"
    "  --quiet            summary lines and samples only\n";

static void options_default(options *o)
{
    *o = (options){.data = "names.txt", .preset = "notebook", .steps = 200000, .batch = 32, .block = 3, .emb = 10,
                   .hidden = 200, .decay_step = -1, .eval_every = 1000, .samples = 20, .threads = 1, .lr = 0.1,
                   .lr_final = 0.01, .lr_factor = 0.1, .init_emb = 1, .lr_kind = LT_LR_STEP, .seed = 2147483647ull,
                   .batch_seed = 42, .sample_seed = 2147483657ull, .max_data_mb = EX_MAX_DATA_MB_DEFAULT};
}

const char *const MLP_ACTIVATIONS[MLP_N_ACTIVATIONS] = {"tanh", "relu", "none"};
static const char *const INITS[] = {"notebook", "scaled"};              /* mlp_init order */
static const char *const SAMPLINGS[] = {"random", "shuffle"};           /* mlp_sampling order */
static const char *const LR_KINDS[] = {"constant", "step", "cosine"}; /* lt_lr_kind order */

const char *mlp_activation_name(mlp_activation a) { return MLP_ACTIVATIONS[a]; }

const char *mlp_preset_args(const char *name)
{
    for (size_t i = 0; i < N_PRESETS; i++)
        if (!strcmp(name, PRESETS[i].name))
            return PRESETS[i].args;
    return NULL;
}

static void print_help(void)
{
    printf("%s\n%s\npresets:\n", USAGE, HELP);
    for (size_t i = 0; i < N_PRESETS; i++)
        printf("  %-10s %s\n             = %s\n", PRESETS[i].name, PRESETS[i].what,
               *PRESETS[i].args ? PRESETS[i].args : "(the defaults)");
}

#define STRING(n, f) CLI_STRING_FLAG(n, options, f)
#define LONG(n, f, lo, hi) CLI_LONG_FLAG(n, options, f, lo, hi)
#define DOUBLE(n, f) CLI_DOUBLE_FLAG(n, options, f)
#define SEED(n, f) CLI_SEED_FLAG(n, options, f)
#define CHOICE(n, f, names) CLI_CHOICE_FLAG(n, options, f, names, (int)(sizeof names / sizeof *names))
#define SWITCH(n, f) CLI_SWITCH_FLAG(n, options, f)
static const cli_flag FLAGS[] = {
    STRING("--preset", preset), /* applied first, by mlp_parse_options */
    STRING("--data", data), STRING("--save", save), STRING("--load", load), STRING("--log", log),
    STRING("--result", result), STRING("--plot-loss", plot_loss), STRING("--plot-emb", plot_emb),
    STRING("--milestones", milestones),
    LONG("--steps", steps, 0, 1000000000L), LONG("--batch", batch, 1, 1 << 20), LONG("--block", block, 1, MLP_MAX_BLOCK),
    LONG("--emb", emb, 1, MLP_MAX_EMB), LONG("--hidden", hidden, 1, MLP_MAX_HIDDEN), LONG("--decay-step", decay_step, 0, 1000000000L),
    LONG("--eval-every", eval_every, 0, 1000000000L), LONG("--samples", samples, 0, 1000000),
    LONG("--threads", threads, 1, 64), LONG("--warmup", warmup, 0, 1000000000L),
    LONG(EX_MAX_DATA_FLAG, max_data_mb, 1, EX_MAX_DATA_MB_LIMIT),
    DOUBLE("--lr", lr), DOUBLE("--lr-final", lr_final), DOUBLE("--lr-factor", lr_factor),
    DOUBLE("--weight-decay", weight_decay), DOUBLE("--momentum", momentum), DOUBLE("--dropout", dropout),
    DOUBLE("--init-gain", init_gain), DOUBLE("--init-emb", init_emb),
    SEED("--seed", seed), SEED("--batch-seed", batch_seed), SEED("--sample-seed", sample_seed),
    CHOICE("--activation", activation, MLP_ACTIVATIONS), CHOICE("--init", init, INITS),
    CHOICE("--sampling", sampling, SAMPLINGS), CHOICE("--lr-schedule", lr_kind, LR_KINDS),
    SWITCH("--quiet", quiet), SWITCH("--no-test", no_test),
};

/* After each flag: the limits beyond the table's, and which of the flags
 * that shape the model were given (a checkpoint must agree with them). */
static bool check_flag(void *opts, const cli_flag *f, const char *v)
{
    options *o = opts;
    const char *problem = !strcmp(f->name, "--momentum") && o->momentum >= 1   ? "must be below 1"
                          : !strcmp(f->name, "--dropout") && o->dropout >= 1   ? "must be below 1"
                          : !strcmp(f->name, "--init-emb") && o->init_emb <= 0 ? "must be positive"
                                                                               : NULL;
    if (problem) {
        fprintf(stderr, "mlp_names: %s %s: %s\n", f->name, v, problem);
        return false;
    }
    o->set_block |= !strcmp(f->name, "--block");
    o->set_emb |= !strcmp(f->name, "--emb");
    o->set_hidden |= !strcmp(f->name, "--hidden");
    o->set_activation |= !strcmp(f->name, "--activation");
    return true;
}

static const cli_spec SPEC = {"mlp_names", USAGE, FLAGS, (int)(sizeof FLAGS / sizeof *FLAGS), check_flag};

/* Applies flags args[0..n-1]. Returns 0, 1 after --help, 2 on a usage error. */
static int apply_flags(options *o, int n, char **args)
{
    int r = cli_parse(&SPEC, n, args, o);
    if (r == 1)
        print_help();
    return r;
}

/* Splits a preset's flags (in a static copy: options point into it). */
static int apply_preset(options *o, const char *name)
{
    static char buf[1024];
    char *args[64];
    int n = 0;
    const char *text = mlp_preset_args(name);
    if (!text) {
        fprintf(stderr, "mlp_names: --preset %s: unknown preset (see --help)\n", name);
        return 2;
    }
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t && n < 64; t = strtok_r(NULL, " ", &save))
        args[n++] = t;
    o->preset = name;
    return apply_flags(o, n, args);
}

/* One milestone, item[0..len-1]: "N" (a step) or "P%" (a percentage of the
 * run, 0..100). */
static bool parse_milestone(const char *item, size_t len, long steps, long *out)
{
    char text[64], *end;
    if (len == 0 || len >= sizeof text)
        return false;
    memcpy(text, item, len);
    text[len] = '\0';
    if (text[len - 1] != '%')
        return cli_parse_long(text, 0, 1000000000L, out);
    text[len - 1] = '\0';
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= 0 && v <= 100)) /* also NaN */
        return false;
    *out = lround(v / 100.0 * (double)steps);
    return true;
}

/* The comma list of --milestones: every item a milestone (an empty list or
 * item is an error, not "no decay"), at most LT_LR_MAX_MILESTONES. */
static bool parse_milestones(const options *o, lt_lr_schedule *s)
{
    const char *p = o->milestones;
    s->n_milestones = 0;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        long *m = &s->milestones[s->n_milestones];
        if (s->n_milestones == LT_LR_MAX_MILESTONES || !parse_milestone(p, len, o->steps, m)) {
            fprintf(stderr,
                    "mlp_names: --milestones %s: expected 1 to %d steps or percentages (0%% to 100%%) separated "
                    "by commas, as 50%%,75%%\n",
                    *o->milestones ? o->milestones : "''", LT_LR_MAX_MILESTONES);
            return false;
        }
        s->n_milestones++;
        if (!comma)
            break;
        p = comma + 1;
    }
    s->factor = o->lr_factor;
    return true;
}

/* Builds and checks the schedule the flags describe. */
static bool build_schedule(options *o)
{
    lt_lr_schedule *s = &o->schedule;
    *s = (lt_lr_schedule){.kind = o->lr_kind, .base = o->lr, .warmup = o->warmup};
    if (o->decay_step < 0)
        o->decay_step = o->steps / 2;
    if (o->lr_kind == LT_LR_COSINE) {
        s->total = o->steps > o->warmup ? o->steps : o->warmup + 1;
        s->final = o->lr_final;
    } else if (o->lr_kind == LT_LR_STEP && o->milestones) {
        if (!parse_milestones(o, s))
            return false;
    } else if (o->lr_kind == LT_LR_STEP) {
        *s = (lt_lr_schedule){.kind = LT_LR_STEP, .base = o->lr, .warmup = o->warmup, .n_milestones = 1,
                              .milestones = {o->decay_step}, .explicit_rates = true, .rates = {o->lr_final}};
    }
    lt_ctx *ctx = lt_ctx_new();
    bool ok = ctx && lt_lr_check(ctx, s);
    if (!ok)
        fprintf(stderr, "mlp_names: %s\n", ctx ? lt_error_message(ctx) : "out of memory");
    lt_ctx_free(ctx);
    return ok;
}

int mlp_parse_options(int argc, char **argv, options *o)
{
    options_default(o);
    const char *name = NULL; /* the preset goes first, whatever its position */
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--preset"))
            name = argv[i + 1];
    int r = name ? apply_preset(o, name) : 0;
    if (!r)
        r = apply_flags(o, argc - 1, argv + 1);
    if (!r && !build_schedule(o))
        r = 2;
    return r;
}
