/* makemore.c - makemore.py on libtensor: trains a bigram, MLP, RNN, GRU,
 * bag-of-words or transformer character model on any UTF-8 text file (one
 * item per line) and samples more items like them. The models are in
 * makemore/ (model.h); the data and splits in common/text_data; the flag
 * parser, run frame, checkpoints, files and guards in common/. Run with
 * --help; docs/makemore.md has the details and what matches makemore.py. */
#define _POSIX_C_SOURCE 200809L /* mkdir */

#include "checkpoint.h"
#include "cli_args.h"
#include "files.h"
#include "libtensor.h"
#include "model.h"
#include "run.h"
#include "text_data.h"
#include "train_guard.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PROG "makemore"
#define FORMAT "libtensor-makemore/1"
#define MAX_BLOCK 4096     /* longest item + 1: attention and padding grow with it */
#define MAX_WIDTH 8192     /* --n-embd, --n-embd2 */
#define MAX_HEADS 1024
#define EVAL_ROWS 32        /* sequences per evaluation chunk: small chunks stay in cache and are cut
                              * closer to their longest row (a run with two evaluations of the
                              * transformer on names.txt: 3.4 s of user time; 9.5 s with chunks of
                              * 32 rows in split order, uncut; 12.6 s with 256) */
#define LR_TOTAL 1000000L  /* the cosine schedule's steps for a progress of 1 */
#define SAMPLES_TRAINING 10 /* print_samples(num=10) while training, as makemore.py */
#define SAMPLES_ONLY 50     /* print_samples(num=50) with --sample-only */

/* ---- options ----------------------------------------------------------------------- */

typedef enum { SPLIT_MAKEMORE, SPLIT_NOTEBOOK } split_kind;
static const char *const SPLIT_NAMES[] = {"makemore", "notebook"};
static const char *const SCHEDULE_NAMES[] = {"constant", "cosine"};
static const char *const TYPE_NAMES[] = {"bigram", "mlp", "rnn", "gru", "bow", "transformer"};

typedef struct options {
    const char *input, *work_dir;
    long max_steps, top_k, n_layer, n_head, n_embd, n_embd2, batch, threads, eval_every, sample_every, max_data_mb;
    double lr, wd, time_limit;
    int type, schedule, split;
    unsigned long long seed;
    bool resume, sample_only, test, quiet, profile;
    unsigned model_flags;   /* the model flags given on the command line (bit k: MODEL_FLAGS[k]) */
} options;

static const char USAGE[] =
    "usage: makemore [-i FILE] [-o DIR] [--resume] [--sample-only] [--max-steps N] [--seed N] [--top-k K]\n"
    "                [--type bigram|mlp|rnn|gru|bow|transformer] [--n-layer N] [--n-head N] [--n-embd N]\n"
    "                [--n-embd2 N] [-b N] [-l X] [-w X] [--threads N] [--time-limit S] [--eval-every N]\n"
    "                [--sample-every N] [--lr-schedule constant|cosine] [--split makemore|notebook] [--test]\n"
    "                [--max-data-mb N] [--quiet] [--profile] [--help]\n";

static const char HELP[] =
    "Trains a character-level model on a text file with one item per line (names, words, any UTF-8\n"
    "text) and samples more items like them: makemore.py (karpathy/makemore) on libtensor.\n\n"
    "input and output\n"
    "  -i, --input-file FILE  one item per line, UTF-8 (names.txt)\n"
    "  -o, --work-dir DIR     where the best model is kept, as DIR/model.safetensors (out); created\n"
    "                         when missing\n"
    "  --resume               start from DIR/model.safetensors (its type, sizes and vocabulary)\n"
    "  --sample-only          only print 50 samples from DIR/model.safetensors\n"
    "  --max-data-mb N        read at most N MiB of input (256)\n"
    "model\n"
    "  --type K               bigram|mlp|rnn|gru|bow|transformer (transformer)\n"
    "  --n-layer N            transformer blocks (4)        --n-head N   attention heads (4)\n"
    "  --n-embd N             embedding width (64)          --n-embd2 N  hidden width elsewhere (64)\n"
    "training\n"
    "  --max-steps N          optimisation steps, -1 = until stopped or --time-limit (-1)\n"
    "  --time-limit S         stop training after S seconds of wall time, 0 = none (0)\n"
    "  -b, --batch-size N     (32)       -l, --learning-rate X (5e-4)    -w, --weight-decay X (0.01)\n"
    "                         AdamW, betas (0.9, 0.99), eps 1e-8, over every parameter\n"
    "  --lr-schedule K        constant, or cosine from the rate down to a tenth of it at the last\n"
    "                         step or at the time limit (needs --max-steps or --time-limit) (constant)\n"
    "  --seed N               split, initialisation, batches and samples, as torch.manual_seed (3407)\n"
    "  --threads N            threads for large ops; the results do not depend on it (1)\n"
    "evaluation and output\n"
    "  --split K              makemore: torch.randperm, the last min(1000, 10%) items to test;\n"
    "                         notebook: Python's shuffle with seed 42, 80/10/10 train/dev/test (makemore)\n"
    "  --test                 with --split notebook: also report the test loss\n"
    "  --eval-every N         whole-split losses every N steps, the best model saved, 0 = at the end (500)\n"
    "  --sample-every N       print 10 samples every N steps, 0 = only at the end (0)\n"
    "  --top-k K              sample from the K likeliest tokens only, -1 = all (-1)\n"
    "  --quiet                no progress line on stderr\n"
    "  --profile              after the time, each op's share of the training steps, forward and\n"
    "                         backward (lt_profile_print)\n"
    "--input-file must not be the model file; a model file that is not a regular file is refused.\n";

static void options_default(options *o)
{
    *o = (options){.input = "names.txt", .work_dir = "out", .max_steps = -1, .top_k = -1, .n_layer = 4, .n_head = 4,
                   .n_embd = 64, .n_embd2 = 64, .batch = 32, .threads = 1, .eval_every = 500,
                   .max_data_mb = EX_MAX_DATA_MB_DEFAULT, .lr = 5e-4, .wd = 0.01, .type = MM_TRANSFORMER,
                   .seed = 3407};
}

#define LONG(n, f, lo, hi) CLI_LONG_FLAG(n, options, f, lo, hi)
static const cli_flag FLAGS[] = {
    CLI_STRING_FLAG("--input-file", options, input), CLI_STRING_FLAG("--work-dir", options, work_dir),
    CLI_SWITCH_FLAG("--resume", options, resume), CLI_SWITCH_FLAG("--sample-only", options, sample_only),
    LONG("--max-steps", max_steps, -1, 1000000000000L), CLI_SEED_FLAG("--seed", options, seed),
    LONG("--top-k", top_k, -1, 1L << 24), CLI_CHOICE_FLAG("--type", options, type, TYPE_NAMES, MM_N_TYPES),
    LONG("--n-layer", n_layer, 1, MM_MAX_LAYERS), LONG("--n-head", n_head, 1, MAX_HEADS),
    LONG("--n-embd", n_embd, 1, MAX_WIDTH), LONG("--n-embd2", n_embd2, 1, MAX_WIDTH),
    LONG("--batch-size", batch, 1, 1L << 20), CLI_DOUBLE_FLAG("--learning-rate", options, lr),
    CLI_DOUBLE_FLAG("--weight-decay", options, wd), LONG("--threads", threads, 1, 64),
    CLI_DOUBLE_FLAG("--time-limit", options, time_limit), LONG("--eval-every", eval_every, 0, 1000000000L),
    LONG("--sample-every", sample_every, 0, 1000000000L),
    CLI_CHOICE_FLAG("--lr-schedule", options, schedule, SCHEDULE_NAMES, 2),
    CLI_CHOICE_FLAG("--split", options, split, SPLIT_NAMES, 2), CLI_SWITCH_FLAG("--test", options, test),
    LONG(EX_MAX_DATA_FLAG, max_data_mb, 1, EX_MAX_DATA_MB_LIMIT), CLI_SWITCH_FLAG("--quiet", options, quiet),
    CLI_SWITCH_FLAG("--profile", options, profile),
};

/* The flags that set the model, which a checkpoint sets instead. */
static const char *const MODEL_FLAGS[] = {"--type", "--n-layer", "--n-head", "--n-embd", "--n-embd2"};
#define N_MODEL_FLAGS 5

/* Notes a model flag, which a checkpoint's own value must then equal. */
static bool note_flag(void *opts, const cli_flag *f, const char *value)
{
    (void)value;
    options *o = opts;
    for (int k = 0; k < N_MODEL_FLAGS; k++)
        if (!strcmp(f->name, MODEL_FLAGS[k]))
            o->model_flags |= 1u << k;
    return true;
}
static const cli_spec SPEC = {PROG, USAGE, FLAGS, (int)(sizeof FLAGS / sizeof *FLAGS), note_flag};

/* makemore.py's short flags, as their long names. */
static const char *long_name(const char *a)
{
    static const char *const SHORT[][2] = {{"-i", "--input-file"}, {"-o", "--work-dir"}, {"-b", "--batch-size"},
                                           {"-l", "--learning-rate"}, {"-w", "--weight-decay"}};
    for (size_t k = 0; k < sizeof SHORT / sizeof *SHORT; k++)
        if (!strcmp(a, SHORT[k][0]))
            return SHORT[k][1];
    return a;
}

/* Whether flag a is followed by its value. */
static bool takes_value(const char *a)
{
    for (int k = 0; k < SPEC.n_flags; k++)
        if (!strcmp(FLAGS[k].name, a))
            return FLAGS[k].kind != CLI_SWITCH;
    return false;
}

/* Returns 0 to run, 1 after --help, 2 on a usage error (message printed). */
static int parse_options(int argc, char **argv, options *o)
{
    options_default(o);
    char **args = malloc(sizeof *args * (size_t)(argc > 1 ? argc : 1));
    if (!args) {
        fprintf(stderr, PROG ": out of memory\n");
        return 2;
    }
    bool value = false; /* argv[i] is a flag's value: "-i -o" reads a file named "-o" */
    for (int i = 1; i < argc; i++) {
        args[i - 1] = value ? argv[i] : (char *)long_name(argv[i]);
        value = !value && takes_value(args[i - 1]);
    }
    int r = cli_parse(&SPEC, argc - 1, args, o);
    free(args);
    if (r == 1)
        printf("%s\n%s", USAGE, HELP);
    if (r)
        return r;
    const char *why = NULL;
    if (o->top_k == 0)
        why = "--top-k 0: expected -1 (all) or at least 1";
    else if (o->time_limit > 0 && o->time_limit < 1e-3)
        why = "--time-limit: expected 0 (none) or at least 0.001 seconds";
    else if (o->schedule == 1 && o->max_steps <= 0 && o->time_limit <= 0)
        why = "--lr-schedule cosine needs --max-steps N (N > 0) or --time-limit S: it ends at one of them";
    else if (o->test && o->split != SPLIT_NOTEBOOK)
        why = "--test applies to --split notebook (the makemore split always reports its test loss)";
    else if (o->resume && o->sample_only)
        why = "--resume and --sample-only: give one of them";
    else if (!o->work_dir[0] || !o->input[0])
        why = "--input-file and --work-dir must not be empty";
    if (why) {
        fprintf(stderr, PROG ": %s\n", why);
        return 2;
    }
    return 0;
}

/* ---- the work directory ----------------------------------------------------------------- */

/* mkdir -p dir (makemore.py's os.makedirs(exist_ok=True)); false with a message printed. */
static bool make_work_dir(const char *dir)
{
    char path[EX_PATH_SIZE];
    struct stat st;
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        fprintf(stderr, PROG ": --work-dir: path too long\n");
        return false;
    }
    for (char *p = path + 1;; p++) {
        bool end = *p == '\0';
        if (*p == '/' || end) {
            *p = '\0';
            if (mkdir(path, 0777) != 0 && errno != EEXIST) {
                fprintf(stderr, PROG ": --work-dir %s: cannot create %s: %s\n", dir, path, strerror(errno));
                return false;
            }
            if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
                fprintf(stderr, PROG ": --work-dir %s: %s is not a directory\n", dir, path);
                return false;
            }
            if (end)
                return true;
            *p = '/';
        }
    }
}

/* The work directory and the files (files.h): exit status 0 to go on, else 2. */
static int check_files(const options *o, char model_path[EX_PATH_SIZE])
{
    struct stat st;
    bool loads = o->resume || o->sample_only;
    if (snprintf(model_path, EX_PATH_SIZE, "%s/model.safetensors", o->work_dir) >= EX_PATH_SIZE) {
        fprintf(stderr, PROG ": --work-dir: path too long\n");
        return 2;
    }
    if (stat(o->work_dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        fprintf(stderr, PROG ": --work-dir %s: not a directory\n", o->work_dir);
        return 2;
    }
    if (!loads && !make_work_dir(o->work_dir))
        return 2;
    const char *in_flag = o->sample_only ? "--sample-only" : "--resume";
    const ex_file files[] = {
        EX_IN("--input-file", o->input),
        EX_IN_REGULAR(in_flag, loads ? model_path : NULL),
        EX_OUT_OVER("--work-dir", o->sample_only ? NULL : model_path, "--resume"),
    };
    return ex_files_check(PROG, files, (int)(sizeof files / sizeof *files)) ? 0 : 2;
}

/* ---- the program --------------------------------------------------------------------------- */

/* One split's sequences: persistent I32 (rows, block) tensors. */
typedef struct split {
    const char *name;
    lt_tensor *x, *y;
    size_t *items; /* its item numbers (into data), rows entries */
    size_t rows;
    double targets; /* targets that count (not ignored) */
    /* the evaluation's order: the rows by their number of targets (item
     * length + 1), ascending, so that a chunk of rows is cut to the longest
     * of them (every model is causal: a position's logits do not depend on
     * the positions after it) */
    lt_tensor *by_length; /* (rows,) I32 row numbers */
    int *length;          /* length[k]: targets of row by_length[k] */
} split;

typedef struct program {
    options o;
    ex_run run;
    char model_path[EX_PATH_SIZE];
    td_items data;
    td_vocab vocab;
    size_t *order;          /* the split's permutation of the items */
    split train, eval, test; /* eval: test (makemore) or dev (notebook); test: notebook's, with --test */
    td_item_set train_set, eval_set;
    mm_config cfg;
    mm_model m;
    lt_rng g;               /* torch's global generator: split, init, loader seed, samples */
    lt_rng batches;         /* the training loader's own generator */
    lt_optim *opt;
    lt_tensor *ix;          /* persistent (batch,) I32: the rows of a minibatch */
    const char *param_names[MM_MAX_PARAMS];
    long start_step;        /* steps done before (--resume) */
    double best;            /* lowest eval loss of the model in the work dir */
} program;

/* "transformer: n_layer 4 n_head 4 n_embd 64 n_embd2 64, vocab 27, block 16". */
static void print_config(const mm_config *c)
{
    printf("model: %s, n_layer %d n_head %d n_embd %d n_embd2 %d, vocab %d, block %d\n", mm_type_name(c->type),
           c->n_layer, c->n_head, c->n_embd, c->n_embd2, c->vocab_size, c->block_size);
}

/* The checkpoint's model settings into cfg and its vocabulary into v, checked
 * against the flags that set them. NULL + ctx's error when unusable. */
static lt_safetensors *open_checkpoint(program *p)
{
    lt_ctx *ctx = p->run.ctx;
    const char *path = p->model_path;
    lt_safetensors *st = ex_checkpoint_open(ctx, path, FORMAT, "a makemore checkpoint");
    if (!st)
        return NULL;
    int type, v[5];
    static const char *const KEYS[5] = {"block_size", "n_layer", "n_head", "n_embd", "n_embd2"};
    static const int LIMITS[5] = {MAX_BLOCK, MM_MAX_LAYERS, MAX_HEADS, MAX_WIDTH, MAX_WIDTH};
    bool ok = ex_meta_choice(ctx, st, path, "type", TYPE_NAMES, MM_N_TYPES, -1, &type);
    for (int k = 0; ok && k < 5; k++)
        ok = ex_meta_int(ctx, st, path, KEYS[k], LIMITS[k], &v[k]);
    const char *chars = ok ? lt_safetensors_meta(st, "vocab") : NULL;
    if (ok && (!chars || td_vocab_from_utf8(chars, &p->vocab) != 0)) {
        lt_fail(ctx, LT_ERR_FORMAT, "%s: metadata 'vocab' is missing or not a sorted UTF-8 string", path);
        ok = false;
    }
    const char *steps = ok ? lt_safetensors_meta(st, "steps") : NULL;
    long done = 0;
    if (steps && !cli_parse_long(steps, 0, 1000000000000L, &done))
        done = 0; /* informational only */
    p->start_step = done;
    p->cfg = (mm_config){.type = (mm_type)type, .vocab_size = td_vocab_size(&p->vocab), .block_size = v[0],
                         .n_layer = v[1], .n_head = v[2], .n_embd = v[3], .n_embd2 = v[4]};
    const options *o = &p->o;
    const long given[N_MODEL_FLAGS] = {o->type, o->n_layer, o->n_head, o->n_embd, o->n_embd2};
    const long held[N_MODEL_FLAGS] = {type, v[1], v[2], v[3], v[4]};
    for (int k = 0; ok && k < N_MODEL_FLAGS; k++) {
        if ((o->model_flags >> k & 1u) && given[k] != held[k]) {
            lt_fail(ctx, LT_ERR_ARG, "%s holds a %s (n_layer %d n_head %d n_embd %d n_embd2 %d); %s asks for another "
                    "model (the checkpoint sets the model: leave out its flags)", path, TYPE_NAMES[type], v[1], v[2],
                    v[3], v[4], MODEL_FLAGS[k]);
            ok = false;
        }
    }
    if (!ok) {
        lt_safetensors_free(st);
        return NULL;
    }
    return st;
}

/* Rows of items[0..rows) as a split's tensors. */
static bool make_split(program *p, split *s, const char *name, size_t *items, size_t rows)
{
    lt_ctx *ctx = p->run.ctx;
    int T = p->cfg.block_size;
    char err[TD_ERR_SIZE];
    *s = (split){.name = name, .items = items, .rows = rows};
    s->x = lt_new(ctx, LT_I32, LT_SHAPE((int64_t)rows, T));
    s->y = lt_new(ctx, LT_I32, LT_SHAPE((int64_t)rows, T));
    if (!s->x || !s->y)
        return false;
    if (td_encode(&p->data, items, rows, &p->vocab, T, lt_data_i32(s->x), lt_data_i32(s->y), err) != 0) {
        lt_fail(ctx, LT_ERR_FORMAT, "%s: %s (of the checkpoint %s)", p->o.input, err, p->model_path);
        return false;
    }
    s->by_length = lt_new(ctx, LT_I32, LT_SHAPE((int64_t)rows));
    s->length = malloc(sizeof *s->length * (rows ? rows : 1));
    size_t *count = calloc((size_t)T + 2, sizeof *count);
    bool ok = s->by_length && s->length && count;
    for (size_t r = 0; ok && r < rows; r++) /* a counting sort by length, stable */
        count[td_len(&p->data, items[r]) + 2]++;
    for (int t = 1; ok && t <= T + 1; t++)
        count[t] += count[t - 1];
    for (size_t r = 0; ok && r < rows; r++) {
        size_t len = td_len(&p->data, items[r]), at = count[len + 1]++;
        lt_data_i32(s->by_length)[at] = (int32_t)r;
        s->length[at] = (int)len + 1;
        s->targets += (double)len + 1;
    }
    free(count);
    if (!ok && lt_status_of(ctx) == LT_OK)
        lt_fail(ctx, LT_ERR_MEMORY, "out of memory");
    return ok;
}

/* Reads the data, the checkpoint (--resume, --sample-only), splits the items
 * and creates the model: the generator serves the split's randperm, then
 * the model's initialisation, as in makemore.py. */
static bool setup(program *p)
{
    const options *o = &p->o;
    lt_ctx *ctx = p->run.ctx;
    char err[TD_ERR_SIZE];
    if (td_read(o->input, (size_t)o->max_data_mb << 20, &p->data, err) != 0) {
        lt_fail(ctx, LT_ERR_FORMAT, "%s", err);
        return false;
    }
    lt_safetensors *st = NULL;
    if ((o->resume || o->sample_only) && !(st = open_checkpoint(p)))
        return false;
    size_t n = p->data.n;
    if (!st) {
        if (p->data.max_len + 1 > MAX_BLOCK) {
            lt_fail(ctx, LT_ERR_FORMAT, "%s: an item has %zu characters; makemore handles items of up to %d (one per "
                    "line)", o->input, p->data.max_len, MAX_BLOCK - 1);
            return false;
        }
        if (td_build_vocab(&p->data, &p->vocab) != 0)
            return lt_fail(ctx, LT_ERR_MEMORY, "out of memory"), false;
        p->cfg = (mm_config){.type = (mm_type)o->type, .vocab_size = td_vocab_size(&p->vocab),
                             .block_size = (int)p->data.max_len + 1, .n_layer = (int)o->n_layer,
                             .n_head = (int)o->n_head, .n_embd = (int)o->n_embd, .n_embd2 = (int)o->n_embd2};
    }
    char *chars = td_vocab_utf8(&p->vocab);
    printf("data: %zu items from %s, longest %zu, vocabulary %d: %s\n", n, o->input, p->data.max_len, p->vocab.n,
           chars ? chars : "?");
    free(chars);
    lt_rng_seed(&p->g, o->seed);
    bool ok = (p->order = malloc(n * sizeof *p->order)) != NULL;
    size_t n1 = 0, n2 = 0;
    if (ok && o->split == SPLIT_MAKEMORE) {
        if (!td_split_makemore(&p->g, n, p->order, &n1)) {
            lt_fail(ctx, LT_ERR_FORMAT, "%s: %zu items: the makemore split needs at least 10 (its test split is 10%%)",
                    o->input, n);
            ok = false;
        }
        n2 = n;
    } else if (ok) {
        td_split_notebook(42, n, p->order, &n1, &n2);
        if (n1 == 0 || n2 == n1) {
            lt_fail(ctx, LT_ERR_FORMAT, "%s: %zu items leave the %s split empty (the notebook split needs at least 10)",
                    o->input, n, n1 == 0 ? "training" : "dev");
            ok = false;
        }
    }
    ok = ok && make_split(p, &p->train, "train", p->order, n1) &&
         make_split(p, &p->eval, o->split == SPLIT_MAKEMORE ? "test" : "dev", p->order + n1, n2 - n1) &&
         (o->split == SPLIT_MAKEMORE || make_split(p, &p->test, "test", p->order + n2, n - n2));
    if (ok && o->split == SPLIT_MAKEMORE)
        printf("split: makemore, train %zu test %zu\n", n1, n2 - n1);
    else if (ok)
        printf("split: notebook, train %zu dev %zu test %zu\n", n1, n2 - n1, n - n2);
    ok = ok && td_item_set_init(&p->train_set, &p->data, &p->vocab, p->train.items, p->train.rows) &&
         td_item_set_init(&p->eval_set, &p->data, &p->vocab, p->eval.items, p->eval.rows);
    if (!ok && lt_status_of(ctx) == LT_OK)
        lt_fail(ctx, LT_ERR_MEMORY, "out of memory");
    ok = ok && mm_model_create(ctx, &p->cfg, &p->g, &p->m);
    for (int i = 0; ok && i < p->m.n_param; i++)
        p->param_names[i] = p->m.name[i];
    if (ok && st) {
        lt_shape shapes[MM_MAX_PARAMS];
        for (int i = 0; i < p->m.n_param; i++)
            shapes[i] = lt_shape_of(p->m.param[i]);
        char why[160];
        snprintf(why, sizeof why, "its metadata (%s, vocab %d, block %d)", TYPE_NAMES[p->cfg.type],
                 p->cfg.vocab_size, p->cfg.block_size);
        ok = ex_checkpoint_check(ctx, st, p->model_path, p->param_names, shapes, p->m.n_param, why) &&
             ex_checkpoint_read(ctx, st, p->model_path, p->param_names, p->m.param, p->m.n_param);
    }
    bool loaded = st != NULL;
    lt_safetensors_free(st);
    if (ok) {
        print_config(&p->cfg);
        printf("params: %lld\n", (long long)mm_param_count(&p->m));
        if (loaded)
            printf("checkpoint: %s (%ld steps)\n", p->model_path, p->start_step);
        fflush(stdout);
    }
    return ok;
}

/* ---- losses ------------------------------------------------------------------------------ */

/* (B, T, vocab) logits against (B, T) targets: the mean over the targets
 * that are not ignored, as F.cross_entropy(..., ignore_index=-1). */
static lt_tensor *sequence_loss(lt_ctx *ctx, lt_tensor *logits, lt_tensor *y)
{
    if (!logits)
        return NULL;
    lt_tensor *flat = lt_view(ctx, logits, LT_SHAPE(-1, logits->shape[2])); /* (B*T, vocab) */
    return lt_cross_entropy_ignore(ctx, flat, lt_view(ctx, y, LT_SHAPE(-1)), TD_IGNORE);
}

/* The mean loss over every counted target of split s, in chunks of rows on
 * the evaluation context (grad mode off). An empty split or a loss that is
 * not finite is an error. */
static bool split_loss(program *p, const split *s, double *loss)
{
    lt_ctx *e = p->run.ectx;
    double total = 0;
    if (s->targets == 0) {
        lt_fail(e, LT_ERR_ARG, "the %s split is empty: there is no %s loss", s->name, s->name);
        return false;
    }
    for (size_t r = 0; r < s->rows; r += EVAL_ROWS) {
        int64_t rows = (int64_t)(s->rows - r < EVAL_ROWS ? s->rows - r : EVAL_ROWS);
        int T = s->length[r + (size_t)rows - 1]; /* the chunk's longest row */
        lt_ctx_reset(e);
        lt_tensor *ix = lt_narrow(e, s->by_length, 0, (int64_t)r, rows);
        lt_tensor *x = lt_contiguous(e, lt_narrow(e, lt_index(e, s->x, ix), 1, 0, T)); /* (rows, T) */
        lt_tensor *y = lt_contiguous(e, lt_narrow(e, lt_index(e, s->y, ix), 1, 0, T));
        lt_tensor *chunk = sequence_loss(e, x ? p->m.logits(e, &p->m, x) : NULL, y);
        if (!chunk)
            return false;
        double counted = 0;
        for (int64_t k = 0; k < rows; k++)
            counted += s->length[r + (size_t)k];
        total += (double)lt_item(e, chunk) * counted;
    }
    lt_ctx_reset(e);
    *loss = total / s->targets;
    if (!isfinite(*loss)) {
        lt_fail(e, LT_ERR_GRAPH, "the %s loss is not finite (a parameter or an output is not finite)", s->name);
        return false;
    }
    return true;
}

/* "train 2.3456 test 2.4567" (dev for the notebook split, then test with
 * --test) after label; *eval_loss gets the loss that selects the best model. */
static bool report_losses(program *p, const char *label, double *eval_loss)
{
    double train, test = NAN;
    bool with_test = p->o.split == SPLIT_NOTEBOOK && p->o.test;
    if (!split_loss(p, &p->train, &train) || !split_loss(p, &p->eval, eval_loss) ||
        (with_test && !split_loss(p, &p->test, &test)))
        return false;
    printf("%s train %.4f %s %.4f", label, train, p->eval.name, *eval_loss);
    if (with_test)
        printf(" test %.4f", test);
    printf("\n");
    fflush(stdout);
    return true;
}

/* ---- samples ------------------------------------------------------------------------------ */

/* The next token of every row of tokens (num, T), of which the first t are
 * known: makemore.py's generate() step (the model reads the last
 * block_size tokens, or the last one for the bigram), top-k, softmax and
 * torch.multinomial from the global generator. */
static bool sample_step(program *p, int32_t *tokens, int num, int t, int32_t *context, float *scratch)
{
    lt_ctx *e = p->run.ectx;
    int T = p->cfg.block_size, V = p->cfg.vocab_size;
    long k = p->o.top_k;
    int reads = p->cfg.type == MM_BIGRAM ? 1 : T; /* makemore.py's get_block_size() */
    int len = t < reads ? t : reads;
    for (int i = 0; i < num; i++)
        memcpy(context + (size_t)i * (size_t)len, tokens + (size_t)i * (size_t)T + (t - len),
               sizeof *context * (size_t)len);
    lt_ctx_reset(e);
    lt_tensor *logits = p->m.logits(e, &p->m, lt_from_i32(e, LT_SHAPE(num, len), context));
    lt_tensor *last = logits ? lt_select(e, logits, 1, len - 1) : NULL; /* (num, V) */
    if (last && k > 0 && k < V) {
        lt_tensor *top = lt_topk(e, last, k, 1, true, NULL); /* (num, k), largest first */
        if (!top)
            return false;
        const float *v = lt_data_f32(lt_contiguous(e, top));
        lt_copy_out_f32(last, scratch);
        for (int i = 0; i < num; i++) /* logits[logits < v[:, [-1]]] = -inf */
            for (int j = 0; j < V; j++)
                if (scratch[(size_t)i * (size_t)V + (size_t)j] < v[(size_t)i * (size_t)k + (size_t)k - 1])
                    scratch[(size_t)i * (size_t)V + (size_t)j] = -INFINITY;
        last = lt_from_f32(e, LT_SHAPE(num, V), scratch);
    }
    lt_tensor *next = last ? lt_multinomial(e, &p->g, lt_softmax(e, last, 1)) : NULL; /* (num, 1) */
    if (!next)
        return false;
    const int32_t *nd = lt_data_i32(next);
    for (int i = 0; i < num; i++)
        tokens[(size_t)i * (size_t)T + (size_t)t] = nd[i];
    return true;
}

/* Prints one item (tokens up to the first 0) as UTF-8 and a newline. */
static void print_item(const td_vocab *v, const int32_t *tok, int len)
{
    char buf[8];
    for (int k = 0; k < len; k++)
        fwrite(buf, 1, (size_t)td_utf8_put(v->chars[tok[k] - 1], buf), stdout);
    putchar('\n');
}

/* makemore.py's print_samples(num): num samples of up to block_size - 1
 * tokens drawn together, cut at the stop token, grouped by whether they are
 * in the training split, in the evaluation split, or new. */
static bool print_samples(program *p, int num)
{
    int T = p->cfg.block_size;
    int32_t *tokens = calloc((size_t)num * (size_t)T, sizeof *tokens);
    int32_t *context = malloc((size_t)num * (size_t)T * sizeof *context);
    float *scratch = malloc((size_t)num * (size_t)p->cfg.vocab_size * sizeof *scratch);
    int *group = malloc((size_t)num * sizeof *group), *len = malloc((size_t)num * sizeof *len);
    bool ok = tokens && context && scratch && group && len, grad = lt_set_grad_enabled(p->run.ectx, false);
    if (!ok)
        lt_fail(p->run.ectx, LT_ERR_MEMORY, "sampling: out of memory");
    for (int t = 1; ok && t < T; t++)
        ok = sample_step(p, tokens, num, t, context, scratch);
    lt_set_grad_enabled(p->run.ectx, grad);
    lt_ctx_reset(p->run.ectx);
    for (int i = 0; ok && i < num; i++) {
        const int32_t *row = tokens + (size_t)i * (size_t)T + 1;
        for (len[i] = 0; len[i] < T - 1 && row[len[i]] != 0;)
            len[i]++;
        group[i] = td_item_set_has(&p->train_set, row, (size_t)len[i])  ? 0
                   : td_item_set_has(&p->eval_set, row, (size_t)len[i]) ? 1
                                                                         : 2;
    }
    const char *names[3] = {"in train", p->o.split == SPLIT_MAKEMORE ? "in test" : "in dev", "new"};
    static const char RULE[] = "--------------------------------------------------------------------------------";
    if (ok)
        printf("%s\n", RULE);
    for (int g = 0; ok && g < 3; g++) {
        int count = 0;
        for (int i = 0; i < num; i++)
            count += group[i] == g;
        printf("%d samples that are %s:\n", count, names[g]);
        for (int i = 0; i < num; i++)
            if (group[i] == g)
                print_item(&p->vocab, tokens + (size_t)i * (size_t)T + 1, len[i]);
    }
    if (ok)
        printf("%s\n", RULE);
    fflush(stdout);
    free(tokens);
    free(context);
    free(scratch);
    free(group);
    free(len);
    return ok;
}

/* ---- checkpoints ------------------------------------------------------------------------------ */

/* The model, its vocabulary and its configuration to the work directory,
 * atomically (ex_checkpoint_save). */
static bool save_model(program *p, long steps, double eval_loss)
{
    lt_named_tensor t[MM_MAX_PARAMS];
    for (int i = 0; i < p->m.n_param; i++)
        t[i] = (lt_named_tensor){p->m.name[i], p->m.param[i]};
    char *chars = td_vocab_utf8(&p->vocab);
    if (!chars)
        return lt_fail(p->run.ctx, LT_ERR_MEMORY, "out of memory"), false;
    ex_meta meta;
    ex_meta_init(&meta, FORMAT);
    ex_meta_str(&meta, "type", mm_type_name(p->cfg.type));
    ex_meta_str(&meta, "vocab", chars);
    ex_meta_long(&meta, "vocab_size", p->cfg.vocab_size);
    ex_meta_long(&meta, "block_size", p->cfg.block_size);
    ex_meta_long(&meta, "n_layer", p->cfg.n_layer);
    ex_meta_long(&meta, "n_head", p->cfg.n_head);
    ex_meta_long(&meta, "n_embd", p->cfg.n_embd);
    ex_meta_long(&meta, "n_embd2", p->cfg.n_embd2);
    ex_meta_long(&meta, "steps", steps);
    ex_meta_str(&meta, "split", SPLIT_NAMES[p->o.split]);
    ex_meta_double(&meta, p->o.split == SPLIT_MAKEMORE ? "test_loss" : "dev_loss", eval_loss);
    bool ok = ex_checkpoint_save(p->run.ctx, p->model_path, &meta, t, p->m.n_param);
    free(chars);
    return ok;
}

/* ---- training ------------------------------------------------------------------------------------ */

/* One AdamW update on a minibatch drawn with replacement (the loader's
 * u32 % n), guarded: a loss or an updated parameter that is not finite stops
 * training and leaves the saved model as it was. */
static bool train_step(program *p, long step, double lr, double *batch_loss)
{
    lt_ctx *ctx = p->run.ctx;
    char what[256];
    lt_ctx_reset(ctx);
    lt_rng_randint(&p->batches, 0, (int64_t)p->train.rows, lt_data_i32(p->ix), p->o.batch);
    lt_bump_version(p->ix); /* written through its data pointer */
    lt_tensor *xb = lt_index(ctx, p->train.x, p->ix), *yb = lt_index(ctx, p->train.y, p->ix); /* (B, T) */
    lt_tensor *loss = sequence_loss(ctx, xb ? p->m.logits(ctx, &p->m, xb) : NULL, yb);
    if (!loss)
        return false;
    *batch_loss = (double)lt_item(ctx, loss);
    if (!tg_loss_finite(*batch_loss, what, sizeof what)) {
        tg_stop(ctx, step, what, p->model_path);
        return false;
    }
    lt_optim_zero_grad(p->opt);
    lt_optim_set_lr(p->opt, (float)lr);
    if (!lt_backward(ctx, loss) || !lt_optim_step(p->opt))
        return false;
    tg_report guard = tg_check_step(&p->opt, 1, p->m.param, p->m.n_param);
    if (guard.problem == TG_FINITE)
        return true;
    tg_describe(&guard, p->param_names, (float)lr, what, sizeof what);
    tg_stop(ctx, step, what, p->model_path);
    return false;
}

/* The learning rate: constant, or cosine down to a tenth at the last step or
 * at the time limit, whichever is further along. */
static double learning_rate(const program *p, const lt_lr_schedule *cosine, long step, double elapsed)
{
    const options *o = &p->o;
    if (o->schedule == 0)
        return o->lr;
    double by_steps = o->max_steps > 0 ? (double)step / (double)o->max_steps : 0;
    double by_time = o->time_limit > 0 ? elapsed / o->time_limit : 0;
    double progress = by_steps > by_time ? by_steps : by_time;
    return lt_lr_at(cosine, (long)((progress < 1 ? progress : 1) * (double)LR_TOTAL));
}

/* AdamW over every parameter, then the steps: whole-split losses every
 * --eval-every steps and at the end, the best model saved, samples every
 * --sample-every steps. *seconds: the time spent in training steps. */
static bool train(program *p, double *seconds, long *steps_done)
{
    const options *o = &p->o;
    lt_optim_config cfg = lt_optim_defaults(LT_OPTIM_ADAMW, (float)o->lr);
    cfg.beta2 = 0.99f;
    cfg.eps = 1e-8f;
    cfg.weight_decay = (float)o->wd;
    const lt_lr_schedule cosine = {.kind = LT_LR_COSINE, .base = o->lr, .total = LR_TOTAL, .final = o->lr / 10};
    if (!(p->opt = lt_optim_new(p->run.ctx, &cfg, p->m.param, p->m.n_param)) ||
        !(p->ix = lt_new(p->run.ctx, LT_I32, LT_SHAPE(o->batch))) || !lt_lr_check(p->run.ctx, &cosine))
        return false;
    /* the InfiniteDataLoader: iter() takes a base seed, the RandomSampler
     * seeds its own generator from the next 64-bit draw (docs/pytorch_rng.md) */
    lt_rng_u64(&p->g);
    lt_rng_seed(&p->batches, lt_rng_u64(&p->g) & INT64_MAX);
    ex_progress progress;
    ex_progress_start(&progress, o->quiet);
    progress.eval_name = p->eval.name;
    if (o->profile && !lt_profile_start(p->run.ctx))
        return false;
    double start = ex_now(), in_steps = 0, loss = NAN, eval_loss = NAN;
    long step = 0;
    bool ok = true, evaluated = false;
    while (ok && (o->max_steps < 0 || step < o->max_steps)) {
        double t0 = ex_now();
        ok = train_step(p, step, learning_rate(p, &cosine, step, t0 - start), &loss);
        in_steps += ex_now() - t0;
        step++;
        bool out_of_time = o->time_limit > 0 && ex_now() - start >= o->time_limit;
        bool last = step == o->max_steps || out_of_time;
        evaluated = ok && ((o->eval_every > 0 && step % o->eval_every == 0) || last);
        if (evaluated) {
            char label[64];
            if (!progress.quiet && progress.live)
                fputc('\n', stderr);
            snprintf(label, sizeof label, "step %ld:", p->start_step + step);
            ok = report_losses(p, label, &eval_loss);
            if (ok && eval_loss < p->best) {
                ok = save_model(p, p->start_step + step, eval_loss);
                p->best = eval_loss;
            }
        }
        if (ok)
            ex_progress_show(&progress, step, o->max_steps, loss, eval_loss, evaluated);
        if (ok && o->sample_every > 0 && step % o->sample_every == 0)
            ok = print_samples(p, SAMPLES_TRAINING);
        if (out_of_time) {
            if (!o->quiet)
                fprintf(stderr, PROG ": time limit of %g s reached after %ld steps\n", o->time_limit, step);
            break;
        }
    }
    lt_profile_stop(p->run.ctx);
    ex_progress_end(&progress);
    *seconds = in_steps;
    *steps_done = step;
    return ok;
}

/* Setup, the initial losses, training, the final losses, the time, samples. */
static bool run_all(program *p)
{
    const options *o = &p->o;
    double init_loss, seconds = 0;
    long steps = 0;
    if (!setup(p) || !report_losses(p, "init:", &init_loss))
        return false;
    if (o->sample_only)
        return print_samples(p, SAMPLES_ONLY);
    /* a resumed model is replaced only by a better one; a new one by any */
    p->best = o->resume ? init_loss : INFINITY;
    if (o->max_steps != 0 && !train(p, &seconds, &steps))
        return false;
    double final_loss;
    if (!report_losses(p, "final:", &final_loss))
        return false;
    printf("time: %.2f s, %.1f steps/s\n", seconds, seconds > 0 ? (double)steps / seconds : 0.0);
    if (o->profile && steps > 0) {
        printf("profile of the %ld training steps (evaluations and saves between them are "
               "outside ops):\n",
               steps);
        lt_profile_print(p->run.ctx, stdout);
    }
    fflush(stdout);
    return print_samples(p, SAMPLES_TRAINING);
}

static void program_free(program *p)
{
    free(p->train.length);
    free(p->eval.length);
    free(p->test.length);
    lt_optim_free(p->opt);
    mm_model_free(&p->m);
    td_item_set_free(&p->train_set);
    td_item_set_free(&p->eval_set);
    free(p->order);
    td_free_vocab(&p->vocab);
    td_free_items(&p->data);
}

int main(int argc, char **argv)
{
    static program p; /* large (parameter names): not on the stack */
    int parsed = parse_options(argc, argv, &p.o);
    if (parsed)
        return parsed == 1 ? 0 : 2;
    int files = check_files(&p.o, p.model_path);
    if (files)
        return files;
    if (!ex_run_start(&p.run, PROG, p.o.threads))
        return 1;
    bool ok = run_all(&p);
    program_free(&p);
    return ex_run_finish(&p.run, ok);
}
