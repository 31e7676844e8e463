/* test_examples_common.c - the shared layer of the example programs
 * (examples/common/): a split's loss in chunks and its one rule for results
 * that are not numbers, the one stopping rule of sampling (and the growing
 * context of sequence models), minibatch rows, checkpoint metadata, the
 * names programs' data checks, and the CLI value parsers they all use. The
 * programs themselves are tested end to end in test_mlp_names_* and
 * test_deep_names_cli; here each helper is checked against a direct
 * computation on small made-up models. */
#include "test_support.h"

#include "batches.h"
#include "checkpoint.h"
#include "cli_args.h"
#include "evaluate.h"
#include "names_task.h"
#include "sample.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- made-up models ----------------------------------------------------------- */

/* Logits = table[last token of each row]: (B, vocab), a bigram model. */
typedef struct bigram {
    lt_tensor *table; /* (vocab, vocab) */
} bigram;

static lt_tensor *bigram_logits(lt_ctx *ctx, void *self, lt_tensor *x)
{
    const bigram *m = self;
    lt_tensor *last = lt_select(ctx, x, 1, x->shape[1] - 1);     /* (B,) */
    return lt_index(ctx, m->table, lt_contiguous(ctx, last));   /* (B, vocab) */
}

/* Logits = table[every token]: (B, T, vocab), a sequence model. */
static lt_tensor *sequence_logits(lt_ctx *ctx, void *self, lt_tensor *x)
{
    const bigram *m = self;
    return lt_index(ctx, m->table, lt_contiguous(ctx, x));
}

/* Random tokens in 0..vocab-1 as a persistent I32 tensor. */
static lt_tensor *random_tokens(lt_ctx *ctx, lt_shape shape, int vocab, uint64_t seed)
{
    lt_tensor *t = lt_new(ctx, LT_I32, shape);
    lt_rng g;
    lt_rng_seed(&g, seed);
    lt_rng_randint(&g, 0, vocab, lt_data_i32(t), lt_numel(t));
    return t;
}

/* ---- evaluate.h ------------------------------------------------------------------ */

/* Chunks of 4096 rows weighted by their size give the loss of the whole
 * split at once, for (B, vocab) and for (B, T, vocab) logits. */
static void test_split_loss_matches_one_pass(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new(), *ectx = lt_ctx_new();
    lt_set_grad_enabled(ectx, false);
    enum { V = 11, N = 2 * EX_EVAL_CHUNK + 123, T = 3 };
    bigram m = {ts_random(ctx, LT_SHAPE(V, V), 7, -2, 2)};
    lt_tensor *x = random_tokens(ctx, LT_SHAPE(N, T), V, 1), *y = random_tokens(ctx, LT_SHAPE(N), V, 2);
    const ex_model rows = {&m, bigram_logits};
    double loss;
    assert_true(ex_split_loss(ectx, &rows, x, y, "dev", &loss));
    double direct = lt_item(ectx, lt_cross_entropy(ectx, bigram_logits(ectx, &m, x), y));
    assert_true(fabs(loss - direct) < 1e-5 * direct);

    lt_tensor *yt = random_tokens(ctx, LT_SHAPE(N, T), V, 3);
    const ex_model seq = {&m, sequence_logits};
    assert_true(ex_split_loss(ectx, &seq, x, yt, "dev", &loss));
    lt_tensor *all = lt_view(ectx, sequence_logits(ectx, &m, x), LT_SHAPE(-1, V));
    direct = lt_item(ectx, lt_cross_entropy(ectx, all, lt_view(ectx, yt, LT_SHAPE(-1))));
    assert_true(fabs(loss - direct) < 1e-5 * direct);
    assert_int_equal(lt_status_of(ectx), LT_OK);
    lt_ctx_free(ectx);
    lt_ctx_free(ctx);
}

/* An empty split, or a loss that is not finite, is an error naming the
 * split: the programs exit 1 instead of printing "nan". */
static void test_split_loss_not_a_number(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new(), *ectx = lt_ctx_new();
    lt_set_grad_enabled(ectx, false);
    bigram m = {ts_random(ctx, LT_SHAPE(5, 5), 7, -2, 2)};
    const ex_model model = {&m, bigram_logits};
    double loss = 0;
    lt_tensor *x0 = lt_new(ctx, LT_I32, LT_SHAPE(0, 2)), *y0 = lt_new(ctx, LT_I32, LT_SHAPE(0));
    assert_false(ex_split_loss(ectx, &model, x0, y0, "dev", &loss));
    ts_assert_error(ectx, LT_ERR_ARG, "the dev split is empty", NULL);

    lt_tensor *x = random_tokens(ctx, LT_SHAPE(40, 2), 5, 1), *y = random_tokens(ctx, LT_SHAPE(40), 5, 2);
    lt_data_f32(m.table)[7] = NAN;
    assert_false(ex_split_loss(ectx, &model, x, y, "test", &loss));
    ts_assert_error(ectx, LT_ERR_GRAPH, "the test loss is nan", NULL);
    lt_ctx_free(ectx);
    lt_ctx_free(ctx);
}

/* ---- sample.h ----------------------------------------------------------------------- */

/* Records the contexts a model is called with; its logits favour nothing
 * but rule out the stop token unless `stop_at` tokens were drawn. */
typedef struct recorder {
    int vocab, calls, stop_at;
    bool sequence;          /* answer (1, T, vocab) */
    int64_t width[64];      /* T of each call */
    int32_t last[64];       /* the last token of each call's context */
    int32_t first[64];      /* the first */
} recorder;

static lt_tensor *recorder_logits(lt_ctx *ctx, void *self, lt_tensor *x)
{
    recorder *r = self;
    int64_t T = x->shape[1];
    if (r->calls < 64) {
        r->width[r->calls] = T;
        r->first[r->calls] = lt_get_i32(x, 0);
        r->last[r->calls] = lt_get_i32(x, T - 1);
    }
    float row[16];
    for (int k = 0; k < r->vocab; k++)
        row[k] = k == 0 ? (r->calls >= r->stop_at ? 1e30f : -1e30f) : 0.0f;
    r->calls++;
    lt_tensor *logits = lt_from_f32(ctx, LT_SHAPE(1, r->vocab), row);
    if (!r->sequence)
        return logits;
    float rows[8 * 16];
    for (int64_t t = 0; t < T; t++) /* only the last position may decide */
        for (int k = 0; k < r->vocab; k++)
            rows[t * r->vocab + k] = t == T - 1 ? row[k] : (k == 0 ? 1e30f : 0.0f);
    return lt_from_f32(ctx, LT_SHAPE(1, T, r->vocab), rows);
}

/* A sample that never meets the stop token ends after max_len draws: the
 * tokens are those of max_len draws from the same generator, and the
 * generator has advanced by exactly that many. */
static void test_sample_stops_at_max_len(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    recorder r = {.vocab = 5, .stop_at = 1 << 30};
    const ex_model m = {&r, recorder_logits};
    const ex_sampling s = {.block = 3, .vocab = 5, .max_len = 40};
    lt_rng g, replay;
    lt_rng_seed(&g, 11);
    lt_rng_seed(&replay, 11);
    int32_t tokens[40];
    int len = -1;
    bool stopped = true;
    assert_true(ex_sample(ctx, &m, &s, &g, tokens, &len, &stopped));
    assert_int_equal(len, 40);
    assert_false(stopped);
    assert_int_equal(r.calls, 40);
    const float probs[5] = {0, 0.25f, 0.25f, 0.25f, 0.25f};
    for (int i = 0; i < 40; i++)
        assert_int_equal(tokens[i], lt_rng_multinomial(&replay, probs, 5));
    assert_int_equal(lt_rng_u32(&g), lt_rng_u32(&replay)); /* no 41st draw */
    /* the context: block start tokens, then a sliding window of the draws */
    assert_int_equal(r.width[0], 3);
    assert_int_equal(r.first[0], 0);
    assert_int_equal(r.last[0], 0);
    assert_int_equal(r.width[5], 3);
    assert_int_equal(r.first[5], tokens[2]);
    assert_int_equal(r.last[5], tokens[4]);
    lt_ctx_free(ctx);
}

/* The stop token ends a sample and is not part of it. */
static void test_sample_stop_token(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    recorder r = {.vocab = 4, .stop_at = 6};
    const ex_model m = {&r, recorder_logits};
    const ex_sampling s = {.block = 2, .vocab = 4, .max_len = 100};
    lt_rng g;
    lt_rng_seed(&g, 3);
    int32_t tokens[100];
    int len;
    bool stopped;
    assert_true(ex_sample(ctx, &m, &s, &g, tokens, &len, &stopped));
    assert_int_equal(len, 6);
    assert_true(stopped);
    for (int i = 0; i < len; i++)
        assert_true(tokens[i] >= 1 && tokens[i] < 4);
    lt_ctx_free(ctx);
}

/* A sequence model (grow): the context starts as the one start token and
 * grows to block tokens before it slides; the last position's logits are
 * the ones drawn from. */
static void test_sample_growing_context(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    recorder r = {.vocab = 6, .stop_at = 1 << 30, .sequence = true};
    const ex_model m = {&r, recorder_logits};
    const ex_sampling s = {.block = 4, .vocab = 6, .max_len = 10, .grow = true};
    lt_rng g;
    lt_rng_seed(&g, 5);
    int32_t tokens[10];
    int len;
    bool stopped;
    assert_true(ex_sample(ctx, &m, &s, &g, tokens, &len, &stopped));
    assert_int_equal(len, 10); /* the earlier positions' certain stop token is never drawn */
    const int64_t widths[10] = {1, 2, 3, 4, 4, 4, 4, 4, 4, 4};
    for (int i = 0; i < 10; i++)
        assert_int_equal(r.width[i], widths[i]);
    assert_int_equal(r.first[0], 0);
    assert_int_equal(r.first[3], 0);      /* still the start token */
    assert_int_equal(r.first[4], tokens[0]); /* slid */
    assert_int_equal(r.last[7], tokens[6]);
    lt_ctx_free(ctx);
}

/* Probabilities that are not a distribution are an error, not a token. */
static lt_tensor *nan_logits(lt_ctx *ctx, void *self, lt_tensor *x)
{
    (void)self;
    (void)x;
    return lt_full(ctx, LT_SHAPE(1, 3), NAN);
}

static void test_sample_bad_probabilities(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    const ex_model m = {NULL, nan_logits};
    const ex_sampling s = {.block = 2, .vocab = 3, .max_len = 10};
    lt_rng g;
    lt_rng_seed(&g, 1);
    int32_t tokens[10];
    int len;
    bool stopped;
    assert_false(ex_sample(ctx, &m, &s, &g, tokens, &len, &stopped));
    ts_assert_error(ctx, LT_ERR_ARG, "sampling: the model's probabilities are not finite", NULL);
    lt_ctx_free(ctx);
}

/* ---- batches.h ------------------------------------------------------------------------ */

static void test_batches(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    ex_batches b;
    int32_t ix[40], want[40];
    assert_true(ex_batches_init(ctx, &b, 1000, 42, false)); /* torch.randint from the seed */
    ex_batches_next(&b, ix, 40);
    lt_rng g;
    lt_rng_seed(&g, 42);
    lt_rng_randint(&g, 0, 1000, want, 40);
    assert_memory_equal(ix, want, sizeof ix);
    ex_batches_free(&b);

    assert_true(ex_batches_init(ctx, &b, 10, 42, true)); /* every row once per epoch, twice over */
    for (int epoch = 0; epoch < 2; epoch++) {
        int seen[10] = {0};
        for (int k = 0; k < 5; k++) {
            ex_batches_next(&b, ix, 2);
            seen[ix[0]]++;
            seen[ix[1]]++;
        }
        for (int r = 0; r < 10; r++)
            assert_int_equal(seen[r], 1);
    }
    ex_batches_free(&b);
    lt_ctx_free(ctx);
}

/* ---- checkpoint.h ---------------------------------------------------------------------- */

static const char *const ACTS[] = {"tanh", "relu", "gelu"};

static void test_checkpoint_metadata(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    char path[64];
    snprintf(path, sizeof path, "/tmp/lt_excommon_%d.st", (int)getpid());
    lt_tensor *w = ts_random(ctx, LT_SHAPE(3, 4), 1, -1, 1), *b = ts_random(ctx, LT_SHAPE(4), 2, -1, 1);
    ex_meta meta;
    ex_meta_init(&meta, "test-format/1");
    ex_meta_str(&meta, "act", "swish");
    ex_meta_long(&meta, "n_embd", 24);
    ex_meta_long(&meta, "n_hidden", 0);
    ex_meta_str(&meta, "block_size", "8x");
    ex_meta_double(&meta, "dropout", 0.25);
    const lt_named_tensor t[] = {{"w", w}, {"b", b}};
    assert_true(ex_checkpoint_save(ctx, path, &meta, t, 2));

    assert_null(ex_checkpoint_open(ctx, path, "other/2", "an other checkpoint"));
    ts_assert_error(ctx, LT_ERR_FORMAT, "not an other checkpoint (metadata format is 'test-format/1', expected "
                                        "'other/2')", NULL);
    lt_safetensors *st = ex_checkpoint_open(ctx, path, "test-format/1", "a test checkpoint");
    assert_non_null(st);
    assert_string_equal(lt_safetensors_meta(st, "dropout"), "0.25");
    int v = 0;
    assert_true(ex_meta_int(ctx, st, path, "n_embd", 24, &v));
    assert_int_equal(v, 24);
    const char *bad_ints[] = {"n_hidden", "block_size", "layers"}; /* 0, junk, missing */
    for (int i = 0; i < 3; i++) {
        assert_false(ex_meta_int(ctx, st, path, bad_ints[i], 1 << 20, &v));
        ts_assert_error(ctx, LT_ERR_FORMAT, bad_ints[i], "is missing or not a positive integer", NULL);
    }
    /* over the limit of the flag that sets it: said so, not "out of memory" later */
    assert_false(ex_meta_int(ctx, st, path, "n_embd", 23, &v));
    ts_assert_error(ctx, LT_ERR_FORMAT, "metadata 'n_embd' is 24, over the limit of 23", NULL);
    assert_false(ex_meta_choice(ctx, st, path, "act", ACTS, 3, 0, &v));
    ts_assert_error(ctx, LT_ERR_FORMAT, "metadata 'act' is 'swish', not tanh, relu or gelu", NULL);
    assert_true(ex_meta_choice(ctx, st, path, "norm", ACTS, 3, 1, &v)); /* missing: the fallback */
    assert_int_equal(v, 1);
    assert_false(ex_meta_choice(ctx, st, path, "norm", ACTS, 3, -1, &v));
    ts_assert_error(ctx, LT_ERR_FORMAT, "metadata 'norm' is missing", NULL);

    const char *names[] = {"w", "b", "c"};
    const lt_shape good[] = {LT_SHAPE(3, 4), LT_SHAPE(4), LT_SHAPE(1)}, wrong[] = {LT_SHAPE(4, 3)};
    assert_true(ex_checkpoint_check(ctx, st, path, names, good, 2, "the test"));
    assert_false(ex_checkpoint_check(ctx, st, path, names, wrong, 1, "the test"));
    ts_assert_error(ctx, LT_ERR_FORMAT, "tensor 'w' is F32 (3,4) but the test needs F32 (4,3)", NULL);
    assert_false(ex_checkpoint_check(ctx, st, path, names, good, 3, "the test"));
    ts_assert_error(ctx, LT_ERR_FORMAT, "tensor 'c' is missing", NULL);
    lt_tensor *w2 = lt_new(ctx, LT_F32, LT_SHAPE(3, 4)), *b2 = lt_new(ctx, LT_F32, LT_SHAPE(4));
    lt_tensor *const dst[] = {w2, b2};
    assert_true(ex_checkpoint_read(ctx, st, path, names, dst, 2));
    assert_memory_equal(lt_data_f32(w2), lt_data_f32(w), 12 * sizeof(float));
    assert_memory_equal(lt_data_f32(b2), lt_data_f32(b), 4 * sizeof(float));
    lt_safetensors_free(st);
    unlink(path);
    lt_ctx_free(ctx);
}

/* ---- names_task.h ----------------------------------------------------------------------- */

/* Every program evaluates the training and the dev split, so both must
 * have a word; the message says how many words it takes. */
static void test_names_split_sizes(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    struct {
        const char *text, *message;
    } cases[] = {
        {"ann\n", "1 word(s) leave the training split (80%) empty; training needs at least 2 words"},
        {"ann\nbob\n", "2 word(s) leave the dev split (10%) empty; the dev loss needs at least 6 words"},
        {"ann\nbob\ncy\ndan\neve\n", "5 word(s) leave the dev split (10%) empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ex_names n = {0};
        assert_false(ex_names_load(ctx, ts_temp_file(0, cases[i].text), 1 << 20, 3, false, &n));
        ts_assert_error(ctx, LT_ERR_FORMAT, cases[i].message, NULL);
        ex_names_free(&n);
    }
    ex_names n = {0};
    assert_true(ex_names_load(ctx, ts_temp_file(0, "ann\nbob\ncy\ndan\neve\nflo\n"), 1 << 20, 3, false, &n));
    assert_int_equal(n.train.y->shape[0] + n.dev.y->shape[0] + n.test.y->shape[0], 3 + 3 + 2 + 3 + 3 + 3 + 6);
    assert_true(n.dev.y->shape[0] > 0);
    assert_int_equal(n.vocab.size, 12); /* . a b c d e f l n o v y */
    ex_names_free(&n);

    /* a given (checkpoint) vocabulary must hold every character of the data */
    ex_names given = {0};
    assert_int_equal(nd_vocab_from_chars("abnoy", &given.vocab), 0);
    assert_false(ex_names_load(ctx, ts_temp_file(0, "ann\nbob\ncy\ndan\neve\nflo\n"), 1 << 20, 3, true, &given));
    ts_assert_error(ctx, LT_ERR_FORMAT, "character 'c' is not in the checkpoint's vocabulary", NULL);
    ex_names_free(&given);
    lt_ctx_free(ctx);
}

/* ---- cli_args.h ----------------------------------------------------------------------------- */

static void test_cli_values(void **state)
{
    (void)state;
    unsigned long long seed = 7;
    assert_true(cli_parse_seed("18446744073709551615", &seed));
    assert_true(seed == 18446744073709551615ull);
    const char *bad[] = {"", "-1", " -1", "1-", "18446744073709551616", "12x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (cli_parse_seed(bad[i], &seed))
            fail_msg("cli_parse_seed accepted '%s'", bad[i]);
    char list[64];
    cli_join_names(ACTS, 3, list, sizeof list);
    assert_string_equal(list, "tanh, relu or gelu");
    cli_join_names(ACTS, 2, list, sizeof list);
    assert_string_equal(list, "tanh or relu");
    cli_join_names(ACTS, 1, list, sizeof list);
    assert_string_equal(list, "tanh");
    cli_join_names(ACTS, 3, list, 8); /* truncated, terminated */
    assert_string_equal(list, "tanh, r");
}

typedef struct flags {
    long steps;
    double lr;
    unsigned long long seed;
    const char *data;
    int act;
    bool quiet;
    int checked;
} flags;

static bool count_checks(void *opts, const cli_flag *f, const char *v)
{
    flags *o = opts;
    o->checked++;
    if (!strcmp(f->name, "--lr") && o->lr >= 1) {
        fprintf(stderr, "t: --lr %s: too large\n", v);
        return false;
    }
    return true;
}

/* The flag table: values into their fields in order, switches, the check
 * after each flag, --help, and a status 2 for every kind of bad argument. */
static void test_cli_parse(void **state)
{
    (void)state;
    const cli_flag table[] = {
        CLI_LONG_FLAG("--steps", flags, steps, 0, 100), CLI_DOUBLE_FLAG("--lr", flags, lr),
        CLI_SEED_FLAG("--seed", flags, seed),           CLI_STRING_FLAG("--data", flags, data),
        CLI_CHOICE_FLAG("--act", flags, act, ACTS, 3),  CLI_SWITCH_FLAG("--quiet", flags, quiet),
    };
    const cli_spec spec = {"t", "usage: t\n", table, 6, count_checks};
    flags o = {0};
    char *good[] = {"--steps", "7", "--quiet", "--act", "gelu", "--lr", "0.5", "--seed", "9", "--data", "x.txt",
                    "--steps", "8"};
    assert_int_equal(cli_parse(&spec, 13, good, &o), 0);
    assert_int_equal(o.steps, 8); /* the last one wins */
    assert_true(o.quiet);
    assert_int_equal(o.act, 2);
    assert_true(o.lr == 0.5);
    assert_true(o.seed == 9);
    assert_string_equal(o.data, "x.txt");
    assert_int_equal(o.checked, 7);
    char *help[] = {"--steps", "7", "-h", "--steps", "x"};
    assert_int_equal(cli_parse(&spec, 5, help, &o), 1); /* before the bad value after it */
    char *bad[][2] = {{"--steps", "101"}, {"--lr", "-1"}, {"--seed", "-1"}, {"--act", "swish"}, {"--nope", "1"},
                      {"steps", "1"},     {"--lr", "2"},  {"--quiet", "--steps"}};
    for (int i = 0; i < 8; i++)
        assert_int_equal(cli_parse(&spec, 2, bad[i], &o), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_loss_matches_one_pass),
        cmocka_unit_test(test_split_loss_not_a_number),
        cmocka_unit_test(test_sample_stops_at_max_len),
        cmocka_unit_test(test_sample_stop_token),
        cmocka_unit_test(test_sample_growing_context),
        cmocka_unit_test(test_sample_bad_probabilities),
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_checkpoint_metadata),
        cmocka_unit_test(test_names_split_sizes),
        cmocka_unit_test(test_cli_values),
        cmocka_unit_test(test_cli_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
