/* bench_deep.c - training speed of deep_names' two headline models
 * (docs/results_deep.md), with deep_names' own model code (deep_model.c),
 * data pipeline, minibatches and training step:
 *
 *   wide:    mlp, block 8, emb 32, 1 layer of hidden 2048, layernorm, relu,
 *            dropout 0.4, embedding dropout 0.1, AdamW lr 2e-3 (cosine to
 *            lr/100), wd 0.1, batch 256
 *   wavenet: block 8, emb 24, hidden 128, batchnorm, tanh, SGD lr 0.1 with
 *            a step to 0.01 at 3/4 of the steps, wd 0, batch 32
 *
 *     bench_deep --model wide|wavenet [--steps N] [--warmup N] [--threads N] [--data FILE] [--profile]
 *
 * Runs the --steps steps deep_names runs with the same flags (same seeds,
 * schedule over --steps, same batches), so the final batch loss equals
 * deep_names' at its last step (its --log shows it). The first --warmup of
 * them (default steps/10, at least 1) are not timed: they size the arena,
 * start the workers, warm caches and clocks. The training loop alone is
 * timed (no dev evaluation). A missing --data file (default
 * ../shared/data/names.txt) is reported and skipped (exit 0), as bench_mlp
 * does. Prints steps/s, FLOP per step, GFLOP/s, % of the single-core peak,
 * peak RSS, the final batch loss (and its bits and a hash of the
 * parameters, to compare --threads values) and whether the
 * arena grew after step 1, and for bench/compare_deep.sh one line
 *     result lt <model> <threads> <steps/s wall> <steps/s CPU time>
 * Nothing is asserted about speed. --profile: the timed steps run under the
 * op profiler (lt_profile_start: two clock reads per op, a few per step)
 * and its table follows the figures. */
#define _POSIX_C_SOURCE 200809L

#include "batches.h"
#include "bench_common.h"
#include "cli_args.h"
#include "deep_model.h"
#include "files.h"
#include "kernels/cpu.h"
#include "libtensor.h"
#include "names_task.h"
#include "run.h"
#include "train_guard.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

enum { WIDE, WAVENET };
static const char *const MODEL_NAMES[] = {"wide", "wavenet"};

typedef struct options {
    const char *data;
    int model;
    long steps, warmup, threads;
    bool profile;
} options;

/* One headline configuration: deep_names' flags as values. */
typedef struct headline {
    dm_config cfg;
    lt_optim_kind optim;
    double lr, lr_min, wd;
    lt_lr_kind schedule;
    long batch, steps;
    const char *flags; /* the deep_names command line it stands for */
} headline;

static headline headline_of(int model)
{
    if (model == WIDE)
        return (headline){.cfg = {.kind = DM_MLP, .norm = DM_NORM_LAYER, .act = DM_ACT_RELU, .block = 8, .emb = 32,
                                  .hidden = 2048, .layers = 1, .dropout = 0.4f, .emb_dropout = 0.1f,
                                  .bn_momentum = 0.1f},
                          .optim = LT_OPTIM_ADAMW, .lr = 2e-3, .lr_min = 2e-5, .wd = 0.1, .schedule = LT_LR_COSINE,
                          .batch = 256, .steps = 300,
                          .flags = "--model mlp --block 8 --emb 32 --layers 1 --hidden 2048 --norm layernorm --act "
                                   "relu --dropout 0.4 --emb-dropout 0.1 --optim adamw --lr 2e-3 --wd 0.1 --batch 256"};
    return (headline){.cfg = {.kind = DM_WAVENET, .norm = DM_NORM_BATCH, .act = DM_ACT_TANH, .block = 8, .emb = 24,
                              .hidden = 128, .layers = 2, .bn_momentum = 0.1f},
                      .optim = LT_OPTIM_SGD, .lr = 0.1, .lr_min = 0.01, .wd = 0, .schedule = LT_LR_STEP, .batch = 32,
                      .steps = 20000,
                      .flags = "--model wavenet --block 8 --emb 24 --hidden 128 --norm batchnorm --act tanh --optim "
                               "sgd --wd 0 --lr 0.1 --lr-min 0.01 --schedule step --batch 32"};
}

/* deep_names' make_schedule for these flags (no warm-up). */
static lt_lr_schedule schedule_of(const headline *h, long steps)
{
    lt_lr_schedule s = {.kind = h->schedule, .base = h->lr};
    if (h->schedule == LT_LR_COSINE) {
        s.total = steps > 0 ? steps : 1;
        s.final = h->lr_min;
    } else if (h->schedule == LT_LR_STEP) {
        s.n_milestones = 1;
        s.milestones[0] = steps * 3 / 4;
        s.explicit_rates = true;
        s.rates[0] = h->lr_min;
    }
    return s;
}

/* ---- FLOP count ----------------------------------------------------------------- */

/* Matrix-product FLOP of one training step: each forward product (rows, in)
 * @ (in, out) is 2*rows*in*out; backward makes two of the same size per
 * product (dX and dW; the first layer's dX too, since the embeddings
 * train), so a step is 3x the forward products. Left out: the embedding
 * gather and scatter, norms, activations, dropout, cross-entropy, the
 * optimiser, and the evaluation. */
static double step_flop(const dm_config *c, long batch)
{
    double fwd = 0, rows = (double)batch, in = (double)c->block * c->emb;
    if (c->kind == DM_WAVENET) {
        rows *= c->block;
        in = c->emb;
    }
    for (int l = 0; l < c->layers; l++) {
        if (c->kind == DM_WAVENET) { /* pairs of steps side by side: half the rows, twice the width */
            rows /= 2;
            in *= 2;
        }
        fwd += 2.0 * rows * in * c->hidden;
        in = c->hidden;
    }
    fwd += 2.0 * (double)batch * c->hidden * c->vocab;
    return 3.0 * fwd;
}

/* ---- the training step (deep_names' train_step without --clip) ------------------- */

typedef struct bench {
    ex_run run;
    ex_names data;
    dm_model m;
    lt_optim *opt_decay, *opt_plain;
    ex_batches batches;
    lt_rng dropout;
    lt_tensor *ix;
    long batch;
} bench;

/* deep_names' optimisers: matrices decay, gains and biases do not. */
static bool setup_optimisers(bench *b, const headline *h)
{
    lt_optim_config cfg = lt_optim_defaults(h->optim, (float)h->lr);
    lt_tensor *decay[DM_MAX_TENSORS], *plain[DM_MAX_TENSORS];
    int nd = 0, np = 0;
    for (int i = 0; i < b->m.n_params; i++) {
        if (b->m.decay[i])
            decay[nd++] = b->m.all[i];
        else
            plain[np++] = b->m.all[i];
    }
    cfg.weight_decay = (float)h->wd;
    b->opt_decay = lt_optim_new(b->run.ctx, &cfg, decay, nd);
    cfg.weight_decay = 0.0f;
    b->opt_plain = lt_optim_new(b->run.ctx, &cfg, plain, np);
    return b->opt_decay && b->opt_plain;
}

/* One update on a fresh minibatch at rate lr, with the parameter check
 * deep_names makes after each step (part of its loop, so timed). */
static bool train_step(bench *b, double lr, float *loss_out)
{
    lt_ctx *ctx = b->run.ctx;
    lt_ctx_reset(ctx);
    ex_batches_next(&b->batches, lt_data_i32(b->ix), b->batch);
    lt_tensor *xb = lt_index(ctx, b->data.train.x, b->ix), *yb = lt_index(ctx, b->data.train.y, b->ix);
    lt_tensor *loss = lt_cross_entropy(ctx, dm_logits(ctx, &b->m, xb, true, &b->dropout), yb);
    if (!loss)
        return false;
    *loss_out = lt_item(ctx, loss);
    lt_optim_zero_grad(b->opt_decay);
    lt_optim_zero_grad(b->opt_plain);
    if (!lt_backward(ctx, loss))
        return false;
    lt_optim_set_lr(b->opt_decay, (float)lr);
    lt_optim_set_lr(b->opt_plain, (float)lr);
    if (!lt_optim_step(b->opt_decay) || !lt_optim_step(b->opt_plain))
        return false;
    if (tg_check_step((lt_optim *const[]){b->opt_decay, b->opt_plain}, 2, b->m.all, b->m.n_params).problem != TG_FINITE)
        return lt_fail(ctx, LT_ERR_ARG, "bench_deep: a parameter is not finite"), false;
    return true;
}

/* FNV-1a over the bytes of every trainable parameter: equal hashes for
 * runs that must be bit-identical. */
static unsigned long long params_hash(const dm_model *m)
{
    unsigned long long h = 1469598103934665603ull;
    for (int i = 0; i < m->n_params; i++) {
        const unsigned char *p = (const unsigned char *)lt_data_f32(m->all[i]);
        for (size_t j = 0, n = (size_t)lt_numel(m->all[i]) * sizeof(float); j < n; j++)
            h = (h ^ p[j]) * 1099511628211ull;
    }
    return h;
}

static uint32_t float_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
}

static int simd_bits(lt_isa isa) { return isa == LT_ISA_AVX512 ? 512 : isa == LT_ISA_AVX2 ? 256 : 128; }

/* The steps, the warm-up ones untimed; then every figure. */
static bool run(bench *b, const options *o, const headline *h)
{
    const lt_lr_schedule sched = schedule_of(h, o->steps);
    if (!lt_lr_check(b->run.ctx, &sched))
        return false;
    float loss = 0;
    size_t allocs_after_1 = 0;
    double t0 = 0, c0 = 0;
    for (long step = 0; step < o->steps; step++) {
        if (step == o->warmup) {
            if (o->profile && !lt_profile_start(b->run.ctx))
                return false;
            t0 = bench_now();
            c0 = bench_cpu_now();
        }
        if (!train_step(b, lt_lr_at(&sched, step), &loss))
            return false;
        if (step == 0)
            allocs_after_1 = lt_ctx_arena_allocations(b->run.ctx);
    }
    double wall = bench_now() - t0, cpu = bench_cpu_now() - c0;
    lt_profile_stop(b->run.ctx);
    long timed = o->steps - o->warmup;
    double sps = (double)timed / wall, flop = step_flop(&b->m.cfg, h->batch);
    lt_isa isa = lt_cpu_isa();
    bench_peak pk = bench_peak_measure(simd_bits(isa));
    size_t allocs = lt_ctx_arena_allocations(b->run.ctx);
    printf("train: %ld steps timed (after %ld warm-up) in %.3f s wall, %.3f s CPU: %.2f steps/s, %.3f ms/step "
           "[%ld thread%s]\n",
           timed, o->warmup, wall, cpu, sps, 1e3 / sps, o->threads, o->threads > 1 ? "s" : "");
    printf("flop count: the matrix products only: 2*m*k*n for each forward product (rows x in x out), twice "
           "that for its backward (dX and dW); not counted: embedding gather/scatter, norms, activations, "
           "dropout, cross-entropy, optimiser\n");
    printf("flops: %.1f MFLOP/step of matrix products; %.2f GFLOP/s, %.1f%% of the single-core peak "
           "(%.1f GFLOP/s, the higher of %.0f FLOP/cycle (%s) x %.0f MHz (/proc/cpuinfo %.0f, measured busy %.0f) "
           "and an FMA loop's measured %.1f)\n",
           flop * 1e-6, flop * sps * 1e-9, 100.0 * flop * sps / pk.flops, pk.flops * 1e-9, pk.flop_per_cycle,
           lt_isa_name(isa), pk.mhz, pk.cpuinfo_mhz, pk.busy_mhz, pk.fma_flops * 1e-9);
    printf("loss: final batch loss %.6f (bits %08x), parameter hash %016llx, after %ld steps\n", (double)loss,
           (unsigned)float_bits(loss), params_hash(&b->m), o->steps);
    printf("memory: peak RSS %.1f MiB; arena %.1f MiB, %zu allocation%s after step 1, %zu after step %ld: %s\n",
           peak_rss_mib(), (double)lt_ctx_arena_reserved(b->run.ctx) / (1 << 20), allocs_after_1,
           allocs_after_1 == 1 ? "" : "s", allocs, o->steps,
           allocs == allocs_after_1 ? "no growth after step 1" : "GREW after step 1");
    printf("result lt %s %ld %.3f %.3f\n", MODEL_NAMES[o->model], o->threads, sps, (double)timed / cpu);
    if (o->profile) {
        printf("profile of the %ld timed steps (lt_profile_print):\n", timed);
        lt_profile_print(b->run.ctx, stdout);
    }
    return true;
}

/* deep_names' set-up for these flags: data and split, model, optimisers,
 * batches, dropout generator (seeds 42, 1, 2). */
static bool setup(bench *b, const options *o, const headline *h)
{
    dm_config cfg = h->cfg;
    if (!ex_names_load(b->run.ctx, o->data, (size_t)EX_MAX_DATA_MB_DEFAULT << 20, cfg.block, false, &b->data))
        return false;
    cfg.vocab = b->data.vocab.size;
    b->batch = h->batch;
    if (!dm_create(b->run.ctx, &cfg, 42, &b->m) || !setup_optimisers(b, h))
        return false;
    lt_rng_seed(&b->dropout, 2);
    return ex_batches_init(b->run.ctx, &b->batches, b->data.train.y->shape[0], 1, false) &&
           (b->ix = lt_new(b->run.ctx, LT_I32, LT_SHAPE(h->batch))) != NULL;
}

static const char USAGE[] =
    "usage: bench_deep --model wide|wavenet [--steps N] [--warmup N] [--threads N] [--data FILE] [--profile]\n";

static const cli_flag FLAGS[] = {
    CLI_STRING_FLAG("--data", options, data),
    CLI_CHOICE_FLAG("--model", options, model, MODEL_NAMES, 2),
    CLI_LONG_FLAG("--steps", options, steps, 2, 1000000000L),
    CLI_LONG_FLAG("--warmup", options, warmup, 1, 1000000000L),
    CLI_LONG_FLAG("--threads", options, threads, 1, 64),
    CLI_SWITCH_FLAG("--profile", options, profile),
};
static const cli_spec SPEC = {"bench_deep", USAGE, FLAGS, (int)(sizeof FLAGS / sizeof *FLAGS), NULL};

/* 0 to run, 1 after --help, 2 on a usage error. */
static int parse(int argc, char **argv, options *o)
{
    *o = (options){.data = "../shared/data/names.txt", .model = -1, .steps = -1, .warmup = -1, .threads = 1};
    int r = cli_parse(&SPEC, argc - 1, argv + 1, o);
    if (r == 1)
        fputs(USAGE, stdout);
    if (r)
        return r;
    if (o->model < 0) {
        fprintf(stderr, "bench_deep: --model wide|wavenet is required\n%s", USAGE);
        return 2;
    }
    if (o->steps < 0)
        o->steps = headline_of(o->model).steps;
    if (o->warmup < 0)
        o->warmup = o->steps / 10 > 1 ? o->steps / 10 : 1;
    if (o->warmup >= o->steps) {
        fprintf(stderr, "bench_deep: --warmup %ld: must be below --steps %ld\n", o->warmup, o->steps);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    options o;
    int r = parse(argc, argv, &o);
    if (r)
        return r == 1 ? 0 : 2;
    FILE *f = fopen(o.data, "r");
    if (!f) {
        printf("bench_deep: %s: %s; skipping (pass the path of names.txt with --data)\n", o.data, strerror(errno));
        return 0;
    }
    fclose(f);
    const headline h = headline_of(o.model);
    bench b = {0};
    if (!ex_run_start(&b.run, "bench_deep", o.threads))
        return 1;
    printf("bench_deep: model %s = deep_names --data %s %s --steps %ld --threads %ld\n", MODEL_NAMES[o.model], o.data,
           h.flags, o.steps, o.threads);
    fflush(stdout);
    bool ok = setup(&b, &o, &h);
    if (ok)
        printf("params: %lld\n", (long long)dm_param_count(&b.m));
    ok = ok && run(&b, &o, &h);
    lt_optim_free(b.opt_decay);
    lt_optim_free(b.opt_plain);
    ex_batches_free(&b.batches);
    ex_names_free(&b.data);
    return ex_run_finish(&b.run, ok);
}
