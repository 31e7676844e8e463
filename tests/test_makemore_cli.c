/* test_makemore_cli.c - the makemore program end to end on small data the
 * test writes itself: flags, defaults and --help, exit status 2 for bad flags
 * and 1 for bad data or checkpoints with one clear line, the best model
 * saved and read back by --sample-only and --resume without model flags,
 * refused checkpoints (non-finite values, edited metadata, another model),
 * the work directory rules, UTF-8 data, the same output whatever --threads,
 * and, with ../shared/data/names.txt, makemore.py's split and initial losses. */
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[TS_DIR_SIZE];
static char out_text[1 << 16], err_text[1 << 12];

/* Runs makemore with args in dir; returns its exit status. */
static int run(const char *args)
{
    return ts_run_capture(dir, MAKEMORE_BIN, args, out_text, sizeof out_text, err_text, sizeof err_text);
}

/* The run must exit with status want, its stderr containing message. */
static void expect(const char *args, int want, const char *message)
{
    int st = run(args);
    if (st != want || (message && !strstr(err_text, message)))
        fail_msg("makemore %s: exit %d (want %d), stderr: %s (want '%s')", args, st, want, err_text,
                 message ? message : "");
}

/* The number after "label" in the output (label ends with a space). */
static double value_after(const char *text, const char *label)
{
    const char *p = strstr(text, label);
    if (!p)
        fail_msg("no '%s' in: %s", label, text);
    return atof(p + strlen(label));
}

static int setup(void **state)
{
    (void)state;
    if (ts_make_dir(dir, "lt_makemore") != 0)
        return -1;
    FILE *f = fopen(ts_path(dir, "names.txt"), "wb");
    if (!f)
        return -1;
    for (int i = 0; i < TS_N_NAMES; i++)
        fprintf(f, "%s\n", ts_names[i]);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return ts_remove_dir(dir);
}

static void test_help_and_bad_flags(void **state)
{
    (void)state;
    expect("--help", 0, NULL);
    const char *flags[] = {"--input-file", "--work-dir", "--resume", "--sample-only", "--max-steps", "--seed",
                           "--top-k", "--type", "--n-layer", "--n-head", "--n-embd", "--n-embd2", "--batch-size",
                           "--learning-rate", "--weight-decay", "--threads", "--time-limit", "--eval-every",
                           "--sample-every", "--lr-schedule", "--split", "--test", "--quiet", "--profile", "(3407)",
                           "(5e-4)"};
    for (size_t k = 0; k < sizeof flags / sizeof *flags; k++)
        if (!strstr(out_text, flags[k]))
            fail_msg("--help does not mention %s", flags[k]);
    expect("--type lstm", 2, "makemore: --type lstm: expected bigram, mlp, rnn, gru, bow or transformer");
    expect("--top-k 0", 2, "--top-k 0");
    expect("--n-layer 0", 2, "--n-layer 0: expected an integer");
    expect("--max-steps -2", 2, "--max-steps -2");
    expect("-l -1", 2, "--learning-rate -1");
    expect("--lr-schedule cosine", 2, "needs --max-steps");
    expect("--test", 2, "--test applies to --split notebook");
    expect("--resume --sample-only", 2, "give one of them");
    expect("-x 3", 2, "makemore: unexpected argument '-x'");
    expect("--bogus 1", 2, "unknown option '--bogus'");
    expect("-i", 2, "--input-file needs a value");
}

static void test_defaults_and_output(void **state)
{
    (void)state;
    /* the defaults: a 4-layer transformer, work dir "out" created; no training */
    expect("-i names.txt --max-steps 0", 0, NULL);
    const char *lines[] = {"data: 40 items from names.txt",
                           "split: makemore, train 36 test 4\n",
                           "model: transformer, n_layer 4 n_head 4 n_embd 64 n_embd2 64, vocab ",
                           "params: ",
                           "init: train ",
                           "final: train ",
                           "time: 0.00 s, 0.0 steps/s\n",
                           " samples that are in train:\n",
                           " samples that are in test:\n",
                           " samples that are new:\n"};
    for (size_t k = 0; k < sizeof lines / sizeof *lines; k++)
        if (!strstr(out_text, lines[k]))
            fail_msg("no '%s' in: %s", lines[k], out_text);
    /* without training the final losses are the initial ones, and nothing is saved */
    assert_true(value_after(out_text, "init: train ") == value_after(out_text, "final: train "));
    char buf[8];
    assert_int_equal(ts_read_text(ts_path(dir, "out/model.safetensors"), buf, sizeof buf), 0);
    /* short flags as makemore.py's */
    expect("-i names.txt -o short -b 4 -l 0.01 -w 0 --type bigram --max-steps 3 --quiet", 0, NULL);
    assert_non_null(strstr(out_text, "step 3: train "));
}

static void test_bad_data(void **state)
{
    (void)state;
    ts_write_text(dir, "bad.txt", "anna\nbo\xff" "b\n");
    expect("-i bad.txt -o w --max-steps 0", 1, "makemore: bad.txt:2:3: invalid UTF-8 (byte 0xff)");
    ts_write_text(dir, "empty.txt", "\n  \n");
    expect("-i empty.txt -o w --max-steps 0", 1, "empty.txt: no items");
    ts_write_text(dir, "few.txt", "a\nb\nc\nd\ne\nf\ng\nh\ni\n");
    expect("-i few.txt -o w --max-steps 0", 1, "9 items: the makemore split needs at least 10");
    expect("-i missing.txt -o w --max-steps 0", 1, "missing.txt");
    FILE *f = fopen(ts_path(dir, "nul.txt"), "wb");
    assert_non_null(f);
    for (int i = 0; i < 12; i++)
        fwrite("a\0b\n", 1, 4, f);
    fclose(f);
    expect("-i nul.txt -o w --max-steps 0", 1, "nul.txt:1:2: the NUL character (U+0000) is not text");
    expect("-i names.txt -o w --max-steps 0 --max-data-mb 0", 2, "--max-data-mb 0");
    /* the numerical guard: a step that overflows stops training, naming the tensor, and saves nothing */
    expect("-i names.txt -o guard --type bigram --max-steps 20 -l 1e38", 1,
           "step 0: the update of logits is not finite");
    char buf[8];
    assert_int_equal(ts_read_text(ts_path(dir, "guard/model.safetensors"), buf, sizeof buf), 0);
}

static void test_utf8_data(void **state)
{
    (void)state;
    /* accents, CJK, '.', inner spaces: all characters; samples print as UTF-8 */
    FILE *f = fopen(ts_path(dir, "utf8.txt"), "wb");
    assert_non_null(f);
    const char *items[] = {"\xc3\xa9t\xc3\xa9", "na\xc3\xafve", "\xe6\x9d\x8e\xe5\xb0\x8f\xe9\xbe\x99", "J.R.",
                           "Mary Ann", "z\xc3\xb6\x65", "\xe6\x9d\xb1\xe4\xba\xac", "a.b", "b c", "\xc3\xa9"};
    for (int rep = 0; rep < 3; rep++)
        for (size_t k = 0; k < sizeof items / sizeof *items; k++)
            fprintf(f, "%s\n", items[k]);
    fclose(f);
    expect("-i utf8.txt -o u --type bigram --max-steps 20 -l 0.1 --quiet", 0, NULL);
    assert_non_null(strstr(out_text, "data: 30 items from utf8.txt, longest 8, vocabulary 24:  .AJMRabc"));
    assert_true(value_after(out_text, "final: train ") < value_after(out_text, "init: train "));
}

/* Training saves the best model; --sample-only and --resume read it with
 * no model flag; the samples repeat exactly. */
static void test_checkpoint_round_trip(void **state)
{
    (void)state;
    expect("-i names.txt -o ck --type mlp --n-embd 8 --n-embd2 16 --max-steps 40 --eval-every 10 -l 0.01 --quiet",
           0, NULL);
    double best = INFINITY;
    for (const char *p = out_text; (p = strstr(p, "step ")) != NULL; p++)
        best = fmin(best, value_after(p, " test "));
    expect("-i names.txt -o ck --sample-only --quiet", 0, NULL);
    assert_non_null(strstr(out_text, "model: mlp, n_layer 4 n_head 4 n_embd 8 n_embd2 16"));
    assert_non_null(strstr(out_text, "checkpoint: "));
    /* the saved model is the best one evaluated */
    assert_true(fabs(value_after(strstr(out_text, "init:"), " test ") - best) < 1e-4);
    const char *samples = strstr(out_text, "----");
    assert_non_null(samples);
    char first[1 << 14];
    snprintf(first, sizeof first, "%s", samples);
    expect("-i names.txt -o ck --sample-only --quiet", 0, NULL);
    assert_string_equal(strstr(out_text, "----"), first);
    /* --resume trains on, and replaces the model only by a better one */
    expect("-i names.txt -o ck --resume --max-steps 10 --eval-every 5 -l 0.01 --quiet", 0, NULL);
    assert_non_null(strstr(out_text, "step 45: train"));
    /* a model flag that contradicts the checkpoint is refused */
    expect("-i names.txt -o ck --resume --type rnn --max-steps 1", 1, "--type asks for another model");
    expect("-i names.txt -o ck --resume --n-embd2 17 --max-steps 1", 1, "--n-embd2 asks for another model");
    expect("-i names.txt -o ck --resume --type mlp --n-embd 8 --max-steps 1 --quiet", 0, NULL); /* agreeing flags */
    /* so is data with a character the checkpoint does not know */
    ts_write_text(dir, "other.txt", "anna\nbob\nzed\nqix\nwow\nxavier\nyan\nzoe\nemma\nolga\nj\xc3\xa9r\xc3\xb4me\n");
    expect("-i other.txt -o ck --sample-only", 1, "is not in the vocabulary");
}

static void test_refused_checkpoints(void **state)
{
    (void)state;
    expect("-i names.txt -o base --type bigram --max-steps 2 --quiet", 0, NULL);
    static const char *const KEYS[] = {"format", "type", "vocab", "vocab_size", "block_size", "n_layer", "n_head",
                                       "n_embd", "n_embd2", "steps", "split", "test_loss"};
    const int n_keys = (int)(sizeof KEYS / sizeof *KEYS);
    struct {
        ts_edit edit;
        const char *message;
    } cases[] = {
        {{.meta = {NULL}, .tensor = "logits", .element = 5, .value = NAN}, "element 5 is nan"},
        {{.meta = {"vocab", "abcdefghijklmnopqrstuvwxyz\xc3\xa9", NULL}, .element = -1}, "needs F32 (28,28)"},
        {{.meta = {"type", "lstm", NULL}, .element = -1}, "metadata 'type'"},
        {{.meta = {"vocab", "ba", NULL}, .element = -1}, "metadata 'vocab'"},
        {{.meta = {"format", "libtensor-mlp-names/1", NULL}, .element = -1}, "makemore checkpoint"},
    };
    ts_run_capture(dir, "mkdir", "-p edited", out_text, sizeof out_text, err_text, sizeof err_text);
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        ts_edit_checkpoint(dir, "base/model.safetensors", "edited/model.safetensors", KEYS, n_keys, &cases[k].edit);
        expect("-i names.txt -o edited --sample-only", 1, cases[k].message);
    }
    expect("-i names.txt -o nothing_here --sample-only", 1, "nothing_here/model.safetensors");
}

static void test_work_dir_rules(void **state)
{
    (void)state;
    ts_write_text(dir, "afile", "x\n");
    expect("-i names.txt -o afile --max-steps 0", 2, "--work-dir afile: not a directory");
    expect("-i names.txt -o afile/sub --max-steps 0", 2, "afile");
    /* the input cannot be the model file the run writes */
    ts_run_capture(dir, "mkdir", "-p same", out_text, sizeof out_text, err_text, sizeof err_text);
    ts_write_text(dir, "same/model.safetensors", "anna\n");
    expect("-i same/model.safetensors -o same --max-steps 1", 2, "is the same file as --input-file");
    /* nested work directories are created, as os.makedirs */
    expect("-i names.txt -o a/b/c --type bigram --max-steps 1 --quiet", 0, NULL);
    char buf[8];
    assert_true(ts_read_text(ts_path(dir, "a/b/c/model.safetensors"), buf, sizeof buf) > 0);
}

/* Everything but the timing line. */
static void without_time(const char *text, char *out, size_t size)
{
    snprintf(out, size, "%s", text);
    char *t = strstr(out, "time: ");
    if (t) {
        char *end = strchr(t, '\n');
        memmove(t, end + 1, strlen(end + 1) + 1);
    }
}

static void test_threads_do_not_change_results(void **state)
{
    (void)state;
    static char one[1 << 16], two[1 << 16];
    const char *model = "--n-layer 1 --n-head 2 --n-embd 16 --n-embd2 16 --max-steps 15 --eval-every 5 -b 8 --quiet";
    const char *types[] = {"transformer", "gru", "bow"};
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        char args[512];
        snprintf(args, sizeof args, "-i names.txt -o t1 --type %s %s --threads 1", types[k], model);
        expect(args, 0, NULL);
        without_time(out_text, one, sizeof one);
        snprintf(args, sizeof args, "-i names.txt -o t2 --type %s %s --threads 2", types[k], model);
        expect(args, 0, NULL);
        without_time(out_text, two, sizeof two);
        assert_string_equal(one, two);
    }
}

static void test_notebook_split(void **state)
{
    (void)state;
    expect("-i names.txt -o nb --type bigram --split notebook --max-steps 5 --test --quiet", 0, NULL);
    assert_non_null(strstr(out_text, "split: notebook, train 32 dev 4 test 4\n"));
    assert_non_null(strstr(out_text, "final: train "));
    assert_non_null(strstr(out_text, " dev "));
    assert_non_null(strstr(out_text, " samples that are in dev:"));
    value_after(strstr(out_text, "final:"), " test ");
}

/* With the real names.txt: makemore.py's split and its initial losses
 * (PyTorch 1.13 with makemore.py's own classes, seed 3407: the bigram's
 * losses are ln 27; an MLP with --n-embd 2 --n-embd2 4 has 323 parameters,
 * train 3.384145, test 3.382381; docs/makemore.md has the script). */
/* The table of lt_profile_print after the time: a row per op of the model
 * with the steps' calls (a 2-layer transformer makes 9 linear layers a
 * step), the time outside ops, and the samples after it; none without the
 * flag or without steps. */
static void test_profile_flag(void **state)
{
    (void)state;
    expect("-i names.txt -o prof --n-layer 2 --max-steps 5 --eval-every 0 --profile --quiet", 0, NULL);
    const char *time = strstr(out_text, "\ntime: "), *table = strstr(out_text, "\nprofile of the 5 training steps");
    const char *samples = strstr(out_text, " samples that are in train:");
    assert_true(time && table && samples && time < table && table < samples);
    const char *rows[] = {"\nlinear                              45 ", "\nlayernorm ", "\ngelu_tanh ",
                          "\nscaled_dot_product_attention ", "\ncross_entropy_ignore ", "\n(outside ops) ",
                          "\n(profiled time) "};
    for (size_t k = 0; k < sizeof rows / sizeof *rows; k++)
        if (!strstr(table, rows[k]))
            fail_msg("no '%s' in the profile: %s", rows[k] + 1, table);
    expect("-i names.txt -o prof --type bigram --max-steps 0 --profile --quiet", 0, NULL);
    assert_null(strstr(out_text, "profile of"));
    expect("-i names.txt -o prof --type bigram --max-steps 2 --quiet", 0, NULL);
    assert_null(strstr(out_text, "profile of"));
}

static void test_names_txt_as_makemore(void **state)
{
    (void)state;
    const char *names = LT_SHARED_DIR "/data/names.txt";
    FILE *f = fopen(names, "rb");
    if (!f) {
        print_message("SKIPPED: %s not found (makemore.py's split and initial losses not checked)\n", names);
        skip();
    }
    fclose(f);
    char args[1024];
    snprintf(args, sizeof args, "-i %s -o full --type bigram --max-steps 0 --quiet", names);
    expect(args, 0, NULL);
    assert_non_null(strstr(out_text, "split: makemore, train 31033 test 1000\n"));
    assert_non_null(strstr(out_text, "params: 729\n"));
    assert_true(fabs(value_after(out_text, "init: train ") - 3.295838) < 1e-4);
    /* a small MLP (a few seconds under ASan): the test loss depends on which items are in the test split */
    snprintf(args, sizeof args, "-i %s -o full --type mlp --n-embd 2 --n-embd2 4 --max-steps 0 --quiet", names);
    expect(args, 0, NULL);
    assert_non_null(strstr(out_text, "params: 323\n"));
    assert_true(fabs(value_after(out_text, "init: train ") - 3.384145) < 1e-4);
    assert_true(fabs(value_after(strstr(out_text, "init:"), " test ") - 3.382381) < 1e-4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_bad_flags),
        cmocka_unit_test(test_defaults_and_output),
        cmocka_unit_test(test_bad_data),
        cmocka_unit_test(test_utf8_data),
        cmocka_unit_test(test_checkpoint_round_trip),
        cmocka_unit_test(test_refused_checkpoints),
        cmocka_unit_test(test_work_dir_rules),
        cmocka_unit_test(test_threads_do_not_change_results),
        cmocka_unit_test(test_notebook_split),
        cmocka_unit_test(test_profile_flag),
        cmocka_unit_test(test_names_txt_as_makemore),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
