/* bench_mlp.c - end-to-end speed of the makemore MLP of examples/mlp_names.c
 * at the notebook's configuration (block 3, emb 10, hidden 200, batch 32),
 * through the library's public API only:
 *
 *   - training steps per second, without evaluation (index, linear, tanh,
 *     linear, cross-entropy, backward, SGD on a fresh minibatch each step);
 *   - the time of one full dev-set evaluation (22,655 rows, in chunks of
 *     4096 rows: mlp_names' ex_split_loss) with 1 and 2 threads (and --threads N if
 *     N > 2), the speed-up, and whether the losses are bit-identical;
 *   - the flops of one step and one evaluation, computed from the shapes,
 *     and the GFLOP/s of each;
 *   - the estimated time of a full default mlp_names run (200,000 steps, a
 *     dev evaluation every 1000 steps), and peak RSS.
 *
 *     bench_mlp [NAMES_TXT] [--threads N] [--quick]
 *
 * NAMES_TXT defaults to ../shared/data/names.txt (relative to the working
 * directory); when it is missing the benchmark says so and exits 0.
 * --threads N: threads used for training and for the run estimate (1).
 * --quick: a few steps and one evaluation per setting (a CI smoke run).
 * Times are medians over repetitions after a warm-up. Nothing is asserted
 * about speed. */
#define _POSIX_C_SOURCE 200809L

#include "bench_common.h"
#include "cli_args.h"
#include "evaluate.h"
#include "libtensor.h"
#include "names_data.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define BLOCK 3
#define EMB 10
#define HIDDEN 200
#define BATCH 32
#define RUN_STEPS 200000     /* mlp_names defaults */
#define RUN_EVAL_EVERY 1000

/* ---- data and model (as examples/mlp_names.c) --------------------------- */

typedef struct {
    int vocab;
    lt_tensor *C, *W1, *b1, *W2, *b2;
} model;

/* The notebook's parameters: randn from one generator, C W1 b1 W2 b2. */
static bool model_init(lt_ctx *ctx, model *m)
{
    lt_rng g;
    lt_rng_seed(&g, 2147483647ull);
    lt_tensor **p[5] = {&m->C, &m->W1, &m->b1, &m->W2, &m->b2};
    const lt_shape shapes[5] = {LT_SHAPE(m->vocab, EMB), LT_SHAPE(BLOCK * EMB, HIDDEN), LT_SHAPE(HIDDEN),
                                LT_SHAPE(HIDDEN, m->vocab), LT_SHAPE(m->vocab)};
    for (int i = 0; i < 5; i++)
        if (!(*p[i] = lt_requires_grad(ctx, lt_new(ctx, LT_F32, shapes[i]), true)) || !lt_randn_fill(ctx, &g, *p[i]))
            return false;
    return true;
}

/* X (B, BLOCK) -> logits (B, vocab); also the ex_model callback. */
static lt_tensor *logits_of(lt_ctx *ctx, void *self, lt_tensor *x)
{
    const model *m = self;
    lt_tensor *emb = lt_index(ctx, m->C, x);                      /* (B, BLOCK, EMB) */
    lt_tensor *flat = lt_view(ctx, emb, LT_SHAPE(-1, BLOCK * EMB)); /* (B, 30) */
    lt_tensor *h = lt_tanh(ctx, lt_linear(ctx, flat, m->W1, m->b1)); /* (B, HIDDEN) */
    return lt_linear(ctx, h, m->W2, m->b2);                         /* (B, vocab) */
}

/* ---- timed work ------------------------------------------------------------- */

/* steps SGD steps on minibatches drawn from g; false on a library error. */
static bool train(lt_ctx *ctx, model *m, const nd_split *tr, lt_tensor *ix, lt_rng *g, long steps)
{
    lt_tensor *params[5] = {m->C, m->W1, m->b1, m->W2, m->b2};
    for (long s = 0; s < steps; s++) {
        lt_ctx_reset(ctx);
        lt_rng_randint(g, 0, tr->x->shape[0], lt_data_i32(ix), BATCH);
        lt_tensor *loss = lt_cross_entropy(ctx, logits_of(ctx, m, lt_index(ctx, tr->x, ix)), lt_index(ctx, tr->y, ix));
        for (int i = 0; i < 5; i++)
            lt_zero_grad(params[i]);
        if (!loss || !lt_backward(ctx, loss))
            return false;
        for (int i = 0; i < 5; i++)
            lt_sgd_step(ctx, params[i], 0.1f);
    }
    lt_ctx_reset(ctx);
    return lt_status_of(ctx) == LT_OK;
}

/* Mean loss over a split, as mlp_names evaluates it; NaN on error. */
static double split_loss(lt_ctx *ectx, model *m, const nd_split *s)
{
    const ex_model em = {m, logits_of};
    double loss;
    return ex_split_loss(ectx, &em, s->x, s->y, "dev", &loss) ? loss : NAN;
}

/* Median seconds of one dev evaluation with `threads` threads; *loss gets
 * its value. */
static double time_eval(lt_ctx *ectx, model *m, const nd_split *dev, int threads, int reps, double *loss)
{
    double t[64];
    lt_set_threads(ectx, threads);
    *loss = split_loss(ectx, m, dev); /* warm-up: starts the workers, sizes the arena */
    for (int i = 0; i < reps; i++) {
        double t0 = bench_now();
        double l = split_loss(ectx, m, dev);
        t[i] = bench_now() - t0;
        if (memcmp(&l, loss, sizeof l) != 0)
            *loss = NAN; /* not reproducible from one evaluation to the next */
    }
    return bench_median(t, reps);
}

/* ---- main ----------------------------------------------------------------------- */

typedef struct {
    const char *data;
    int threads;
    bool quick;
} options;

static int parse(int argc, char **argv, options *o)
{
    *o = (options){"../shared/data/names.txt", 1, false};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            o->quick = true;
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            long v;
            if (!cli_parse_long(argv[++i], 1, 64, &v)) {
                fprintf(stderr, "bench_mlp: --threads %s: expected 1..64\n", argv[i]);
                return 2;
            }
            o->threads = (int)v;
        } else if (argv[i][0] != '-') {
            o->data = argv[i];
        } else {
            fprintf(stderr, "usage: bench_mlp [NAMES_TXT] [--threads N] [--quick]\n");
            return 2;
        }
    }
    return 0;
}

typedef struct {
    nd_words words;
    nd_vocab vocab;
    nd_split tr, dev;
    model m;
} setup;

static bool load(lt_ctx *ctx, const char *path, setup *s)
{
    char err[ND_ERR_SIZE];
    if (nd_read_words(path, &s->words, err) != 0) {
        fprintf(stderr, "bench_mlp: %s\n", err);
        return false;
    }
    size_t n1, n2;
    if (nd_build_vocab(&s->words, &s->vocab) != 0) {
        fprintf(stderr, "bench_mlp: %s: out of memory\n", path);
        return false;
    }
    nd_shuffle_words(&s->words, 42, &n1, &n2);
    s->m.vocab = s->vocab.size;
    return nd_make_split(ctx, &s->words, 0, n1, &s->vocab, BLOCK, &s->tr) &&
           nd_make_split(ctx, &s->words, n1, n2, &s->vocab, BLOCK, &s->dev) && model_init(ctx, &s->m);
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
}

/* Trains (steps/s), then times evaluations; prints everything. */
static bool run(lt_ctx *ctx, lt_ctx *ectx, setup *s, const options *o)
{
    model *m = &s->m;
    double in = BLOCK * EMB, v = m->vocab, dev_rows = (double)s->dev.x->shape[0];
    double fwd_row = 2.0 * in * HIDDEN + 2.0 * HIDDEN * v; /* the two products, per row */
    double step_flop = 3.0 * BATCH * fwd_row;               /* backward: two products per forward one */
    double eval_flop = dev_rows * fwd_row;
    printf("model: block %d emb %d hidden %d vocab %d batch %d; train %lld rows, dev %lld rows\n", BLOCK, EMB,
           HIDDEN, m->vocab, BATCH, (long long)s->tr.x->shape[0], (long long)dev_rows);
    printf("flops: step %.3f MFLOP (forward 2*%d*%g*%d + 2*%d*%d*%g, backward twice that); dev eval %.3f GFLOP\n",
           step_flop * 1e-6, BATCH, in, HIDDEN, BATCH, HIDDEN, v, eval_flop * 1e-9);

    long warm = o->quick ? 20 : 1000, steps = o->quick ? 200 : 20000;
    lt_tensor *ix = lt_new(ctx, LT_I32, LT_SHAPE(BATCH));
    lt_rng g;
    lt_rng_seed(&g, 42);
    lt_set_threads(ctx, o->threads);
    if (!ix || !train(ctx, m, &s->tr, ix, &g, warm))
        return false;
    double t0 = bench_now();
    if (!train(ctx, m, &s->tr, ix, &g, steps))
        return false;
    double train_s = bench_now() - t0, sps = (double)steps / train_s;
    printf("train: %ld steps (after %ld warm-up) in %.3f s: %.0f steps/s, %.1f us/step, %.2f GFLOP/s [%d thread%s]\n",
           steps, warm, train_s, sps, 1e6 / sps, step_flop * sps * 1e-9, o->threads, o->threads > 1 ? "s" : "");

    int reps = o->quick ? 1 : 21, counts[3] = {1, 2, o->threads};
    double secs[3], loss[3];
    int settings = o->threads > 2 ? 3 : 2;
    for (int i = 0; i < settings; i++) {
        secs[i] = time_eval(ectx, m, &s->dev, counts[i], reps, &loss[i]);
        if (isnan(loss[i])) {
            if (lt_status_of(ectx) == LT_OK)
                fprintf(stderr, "bench_mlp: evaluation not reproducible\n");
            return false;
        }
        printf("eval: %d thread%s: %.3f ms per dev evaluation (median of %d), %.2f GFLOP/s, loss %.6f\n", counts[i],
               counts[i] > 1 ? "s" : " ", secs[i] * 1e3, reps, eval_flop / secs[i] * 1e-9, loss[i]);
    }
    printf("eval: speed-up 2 threads vs 1: %.2fx; losses bit-identical: %s\n", secs[0] / secs[1],
           memcmp(&loss[0], &loss[1], sizeof(double)) == 0 ? "yes" : "NO");

    double eval_s = secs[o->threads == 1 ? 0 : o->threads == 2 ? 1 : 2];
    double evals = RUN_STEPS / RUN_EVAL_EVERY, loop_s = RUN_STEPS / sps + evals * eval_s;
    /* outside mlp_names' timed loop: the initial dev loss and the final
     * train, dev and test losses (test is about as large as dev) */
    double extra_rows = 3 * dev_rows + (double)s->tr.x->shape[0];
    printf("estimate: full default run (%d steps, %g dev evals) with %d thread%s: training loop %.2f s "
           "(steps %.2f s + evals %.2f s), plus %.2f s of start/final evaluations\n",
           RUN_STEPS, evals, o->threads, o->threads > 1 ? "s" : "", loop_s, RUN_STEPS / sps, evals * eval_s,
           extra_rows / dev_rows * eval_s);
    printf("peak RSS: %.1f MiB\n", peak_rss_mib());
    return true;
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc;
    FILE *f = fopen(o.data, "r");
    if (!f) {
        printf("bench_mlp: %s: %s; skipping (pass the path of names.txt)\n", o.data, strerror(errno));
        return 0;
    }
    fclose(f);
    lt_ctx *ctx = lt_ctx_new(), *ectx = lt_ctx_new();
    setup s = {0};
    bool ok = ctx && ectx;
    if (ok) {
        lt_set_grad_enabled(ectx, false);
        ok = load(ctx, o.data, &s) && run(ctx, ectx, &s, &o);
    }
    if (!ok && ctx && ectx) {
        lt_ctx *bad = lt_status_of(ctx) != LT_OK ? ctx : ectx;
        if (lt_status_of(bad) != LT_OK)
            fprintf(stderr, "bench_mlp: %s\n", lt_error_message(bad));
    }
    nd_free_words(&s.words);
    nd_free_vocab(&s.vocab);
    lt_ctx_free(ectx);
    lt_ctx_free(ctx);
    return ok ? 0 : 1;
}
