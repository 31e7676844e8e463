/* test_deep_names_cli.c - the deep_names program end to end on small data the
 * test writes itself: both model kinds with every norm and optimiser train
 * to a loss below uniform, save/load reproduces the evaluation and the
 * samples exactly, bad input gives one clear line and the right exit
 * status, and a non-finite loss or update stops training with the step and
 * the tensor named, leaving the --save file as it was. Files too small for a
 * split are in test_hostile_data (with mlp_names). */
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[TS_DIR_SIZE];

/* The metadata of a deep_names checkpoint. */
static const char *const DEEP_KEYS[] = {"format", "vocab",    "kind",   "norm",    "act",  "block_size",
                                        "n_embd", "n_hidden", "layers", "dropout", "steps"};
static char out_text[1 << 16], err_text[1 << 12];

/* Runs deep_names with args (in dir); returns its exit status. */
static int run(const char *args)
{
    char all[2048];
    snprintf(all, sizeof all, "--data names.txt --quiet %s", args);
    return ts_run_capture(dir, DEEP_NAMES_BIN, all, out_text, sizeof out_text, err_text, sizeof err_text);
}

/* The value after "key " on the "final:" line. */
static double final_value(const char *key)
{
    const char *line = strstr(out_text, "final:");
    assert_non_null(line);
    char pat[32];
    snprintf(pat, sizeof pat, "%s ", key);
    const char *p = strstr(line, pat);
    assert_non_null(p);
    return atof(p + strlen(pat));
}

static int setup(void **state)
{
    (void)state;
    if (ts_make_dir(dir, "lt_deep") != 0)
        return -1;
    FILE *f = fopen(ts_path(dir, "names.txt"), "wb");
    if (!f)
        return -1;
    for (int rep = 0; rep < 6; rep++)
        for (int i = 0; i < 24; i++) /* the first 24 names */
            fprintf(f, "%s\n", ts_names[i]);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return ts_remove_dir(dir);
}

static void test_every_model_trains(void **state)
{
    (void)state;
    const char *configs[] = {
        "--model mlp --norm batchnorm --act tanh --optim adamw --lr 0.01",
        "--model mlp --norm layernorm --act relu --dropout 0.1 --optim adam --lr 0.01 --layers 3",
        "--model mlp --norm none --act gelu --optim momentum --lr 0.05 --clip 1 --schedule step",
        "--model wavenet --norm batchnorm --act tanh --optim sgd --lr 0.2 --schedule const",
        "--model wavenet --norm layernorm --act gelu --dropout 0.2 --optim adamw --lr 0.01 --warmup 10",
    };
    for (size_t k = 0; k < sizeof configs / sizeof *configs; k++) {
        char args[512];
        snprintf(args, sizeof args, "%s --emb 8 --hidden 32 --batch 32 --steps 150 --samples 2", configs[k]);
        print_message("%s\n", args);
        int st = run(args);
        if (st != 0)
            fail_msg("exit %d: %s", st, err_text);
        /* uniform over the 24-odd characters is ln(vocab) ~ 3; training must do better */
        assert_true(final_value("train") < 2.6);
        assert_true(isfinite(final_value("dev")));
        assert_non_null(strstr(out_text, "params: "));
        assert_non_null(strstr(out_text, "sample: "));
        const char *fin = strstr(out_text, "final:"), *test = strstr(fin, " test "), *eol = strchr(fin, '\n');
        assert_true(!test || test > eol); /* the test loss only with --test */
    }
}

/* --profile: lt_profile_print's table after the time, before the samples,
 * with the steps' calls of each op (a 2-layer MLP with batchnorm: 3
 * linear layers and 2 batchnorms a step); none without the flag. */
static void test_profile_flag(void **state)
{
    (void)state;
    int st = run("--model mlp --norm batchnorm --act tanh --emb 8 --hidden 32 --layers 2 --steps 7 --samples 2 "
                 "--profile");
    if (st != 0)
        fail_msg("exit %d: %s", st, err_text);
    const char *time = strstr(out_text, "\ntime: "), *table = strstr(out_text, "\nprofile of the 7 training steps");
    const char *sample = strstr(out_text, "\nsample: ");
    assert_true(time && table && sample && time < table && table < sample);
    const char *rows[] = {"\nlinear                              21 ", "\nbatchnorm                           14 ",
                          "\ntanh ", "\ncross_entropy ", "\n(outside ops) ", "\n(profiled time) "};
    for (size_t k = 0; k < sizeof rows / sizeof *rows; k++)
        if (!strstr(table, rows[k]))
            fail_msg("no '%s' in the profile: %s", rows[k] + 1, table);
    assert_int_equal(run("--model mlp --emb 8 --hidden 32 --steps 3 --samples 1"), 0);
    assert_null(strstr(out_text, "profile of"));
}

static void test_save_load_round_trip(void **state)
{
    (void)state;
    const char *model = "--model wavenet --norm batchnorm --emb 8 --hidden 16 --dropout 0.1 --samples 5";
    char args[512], first[1 << 12];
    snprintf(args, sizeof args, "%s --steps 100 --batch 16 --save ck.safetensors --test", model);
    assert_int_equal(run(args), 0);
    const char *fin = strstr(out_text, "final:");
    assert_non_null(fin);
    snprintf(first, sizeof first, "%s", fin);
    double test_loss = final_value("test");
    assert_true(isfinite(test_loss));
    /* evaluation only: same dev/test losses (running statistics restored) and the same samples */
    assert_int_equal(run("--load ck.safetensors --steps 0 --samples 5 --test"), 0);
    const char *again = strstr(out_text, "final:");
    assert_non_null(again);
    char *cut1 = strstr(first, "\ntime:"), *cut2 = strstr((char *)again, "\ntime:");
    assert_non_null(cut1);
    assert_non_null(cut2);
    *cut1 = *cut2 = '\0';
    assert_string_equal(first, again);
    const char *s1 = strstr(cut1 + 1, "sample:"), *s2 = strstr(cut2 + 1, "sample:");
    assert_non_null(s1);
    assert_non_null(s2);
    assert_string_equal(s1, s2);
    assert_non_null(strstr(out_text, "model: wavenet block 8 emb 8 hidden 16 layers 3 norm batchnorm"));
}

/* UTF-8 data (accents, Cyrillic, CJK, and a '.', an ordinary character
 * here): trained on, sampled as UTF-8, and the same samples from the
 * checkpoint's UTF-8 vocabulary. */
static void test_utf8_data(void **state)
{
    (void)state;
    ts_write_utf8_names(dir, "utf8.txt", 8, 1);
    const char *args = "--data utf8.txt --quiet --emb 8 --hidden 32 --batch 32 --steps 300 --lr 0.01 --samples 6";
    char all[512], first[1 << 12];
    snprintf(all, sizeof all, "%s --save utf8.safetensors", args);
    int st = ts_run_capture(dir, DEEP_NAMES_BIN, all, out_text, sizeof out_text, err_text, sizeof err_text);
    if (st != 0)
        fail_msg("exit %d: %s", st, err_text);
    assert_true(final_value("train") < 2.0); /* uniform over 52 tokens: ln 52 = 3.95 */
    ts_check_utf8_samples(out_text, "sample: ", "", 6);
    snprintf(first, sizeof first, "%s", strstr(out_text, "sample: "));
    snprintf(all, sizeof all, "%s --load utf8.safetensors --steps 0", args);
    assert_int_equal(ts_run_capture(dir, DEEP_NAMES_BIN, all, out_text, sizeof out_text, err_text, sizeof err_text), 0);
    assert_string_equal(strstr(out_text, "sample: "), first);
}

/* The numerical guard: exit 1, one line naming the step and the tensor, and
 * the checkpoint of an earlier run byte for byte as it was. */
static void test_guard(void **state)
{
    (void)state;
    const char *small = "--emb 8 --hidden 32 --batch 32 --steps 50 --samples 0 --optim sgd --schedule const";
    char args[512];
    static char before[1 << 16], after[1 << 16];
    snprintf(args, sizeof args, "%s --lr 0.1 --save guard.safetensors", small);
    assert_int_equal(run(args), 0);
    size_t n = ts_read_text(ts_path(dir, "guard.safetensors"), before, sizeof before);
    assert_true(n > 1000 && n < sizeof before - 1);

    snprintf(args, sizeof args, "%s --norm none --lr 3e38 --save guard.safetensors", small);
    assert_int_equal(run(args), 1);
    assert_string_equal(err_text, "deep_names: step 1: the update of C is not finite (element 0 is inf; is the "
                                  "learning rate 3e+38 too large?); training stopped, guard.safetensors not "
                                  "written (an existing file is unchanged)\n");
    assert_int_equal(ts_read_text(ts_path(dir, "guard.safetensors"), after, sizeof after), n);
    assert_memory_equal(before, after, n);

    snprintf(args, sizeof args, "%s --lr 1e30 --save guard.safetensors", small);
    assert_int_equal(run(args), 1);
    assert_non_null(strstr(err_text, "deep_names: step 1: loss is nan; training stopped, guard.safetensors not written"));
    assert_int_equal(ts_read_text(ts_path(dir, "guard.safetensors"), after, sizeof after), n);
    assert_memory_equal(before, after, n);

    /* the check after Adam's step too */
    assert_int_equal(run("--emb 8 --hidden 32 --batch 32 --steps 50 --samples 0 --optim adam --lr 1e38"), 1);
    assert_non_null(strstr(err_text, "deep_names: step 0: the update of C is not finite"));
}

static void test_bad_input(void **state)
{
    (void)state;
    assert_int_equal(run("--model wavenet --block 6 --steps 1"), 1);
    assert_non_null(strstr(err_text, "wavenet needs a block size that is a power of 2, got 6"));
    assert_int_equal(run("--norm groupnorm"), 2);
    assert_string_equal(err_text, "deep_names: --norm groupnorm: expected none, batchnorm or layernorm\n");
    assert_int_equal(run("--seed -3"), 2);
    assert_string_equal(err_text, "deep_names: --seed -3: expected a non-negative integer\n");
    assert_int_equal(run("--dropout 1"), 2);
    assert_non_null(strstr(err_text, "--dropout 1, --emb-dropout 0: must be below 1"));
    assert_int_equal(run("--layers 0"), 2);
    assert_non_null(strstr(err_text, "--layers 0: expected an integer in 1..16"));
    assert_int_equal(run("--lr -1"), 2);
    assert_non_null(strstr(err_text, "--lr -1: expected a non-negative number"));
    /* elapsed / 1e-300 * steps overflowed a double-to-long conversion (undefined behaviour) */
    assert_int_equal(run("--time-limit 1e-300 --steps 1 --samples 0"), 2);
    assert_string_equal(err_text, "deep_names: --time-limit 1e-300: expected 0 (none) or at least 0.001 seconds\n");
    assert_int_equal(run("--time-limit 0.001 --steps 1000000 --emb 4 --hidden 8 --samples 0"), 0);
    assert_non_null(strstr(err_text, "deep_names: time limit of 0.001 s reached after "));
    assert_int_equal(run("--frobnicate 3"), 2);
    assert_non_null(strstr(err_text, "unknown option '--frobnicate'"));
    assert_int_equal(run("--load names.txt --steps 0"), 1);
    assert_non_null(strstr(err_text, "deep_names: "));
    assert_int_equal(run("--data missing.txt --steps 1"), 1);
    assert_non_null(strstr(err_text, "missing.txt"));
    assert_int_equal(run("--help"), 0);
    assert_non_null(strstr(out_text, "--model K"));
}

/* Copies the checkpoint src to dst with element `element` of tensor `name`
 * (every element when element < 0) set to value. */
static void edit_checkpoint(const char *src, const char *dst, const char *name, int64_t element, float value)
{
    const ts_edit e = {.tensor = name, .element = element, .value = value};
    ts_edit_checkpoint(dir, src, dst, DEEP_KEYS, (int)(sizeof DEEP_KEYS / sizeof *DEEP_KEYS), &e);
}

/* The shared rules on odd models: a checkpoint holding a NaN or an
 * infinity is refused at load, naming the tensor and the element (a NaN
 * checkpoint once printed "final: train nan dev nan" and exited 0); a loss
 * that is not a number is an error, never a printed "nan" with status 0; a
 * name ends at 1000 characters when the model never draws the stop token. */
static void test_odd_models(void **state)
{
    (void)state;
    assert_int_equal(run("--emb 8 --hidden 16 --steps 20 --batch 16 --samples 0 --save odd.safetensors"), 0);
    edit_checkpoint("odd.safetensors", "nan.safetensors", "C", -1, NAN);
    assert_int_equal(run("--load nan.safetensors --steps 0 --samples 2"), 1);
    assert_string_equal(err_text, "deep_names: nan.safetensors: tensor 'C' element 0 is nan (a checkpoint must hold "
                                  "finite values)\n");
    assert_null(strstr(out_text, "nan"));
    assert_int_equal(run("--load nan.safetensors --steps 5 --samples 2"), 1);
    assert_non_null(strstr(err_text, "tensor 'C' element 0 is nan"));
    edit_checkpoint("odd.safetensors", "inf.safetensors", "l1.w", 37, -INFINITY);
    assert_int_equal(run("--load inf.safetensors --steps 0 --samples 2"), 1);
    assert_string_equal(err_text, "deep_names: inf.safetensors: tensor 'l1.w' element 37 is -inf (a checkpoint must "
                                  "hold finite values)\n");
    assert_true(out_text[0] == '\0' || !strstr(out_text, "final:"));
    /* finite weights whose logits overflow (16 x 1e38): the loss is not a number */
    edit_checkpoint("odd.safetensors", "huge.safetensors", "out.w", -1, 1e38f);
    assert_int_equal(run("--load huge.safetensors --steps 0 --samples 2"), 1);
    assert_non_null(strstr(err_text, "deep_names: the train loss is "));
    assert_non_null(strstr(err_text, "(a parameter or an output is not finite)"));
    assert_null(strstr(out_text, "final:"));
    assert_null(strstr(out_text, "sample:"));

    edit_checkpoint("odd.safetensors", "endless.safetensors", "out.b", 0, -1e30f); /* no stop token */
    assert_int_equal(run("--load endless.safetensors --steps 0 --samples 2"), 0);
    int samples = 0;
    for (const char *p = strstr(out_text, "sample: "); p; p = strstr(p + 1, "sample: ")) {
        assert_int_equal(strcspn(p + 8, "\n"), 1000);
        samples++;
    }
    assert_int_equal(samples, 2);
}

/* Without --data, names.txt in the working directory; when it is missing the
 * message says where to get it (as mlp_names'). */
static void test_default_data(void **state)
{
    (void)state;
    char empty[TS_DIR_SIZE];
    assert_int_equal(ts_make_dir(empty, "lt_deep_nodata"), 0);
    assert_int_equal(ts_run_capture(empty, DEEP_NAMES_BIN, "--steps 1 --quiet", out_text, sizeof out_text, err_text,
                                    sizeof err_text),
                     1);
    assert_string_equal(err_text, "deep_names: names.txt: cannot open: No such file or directory (download names.txt "
                                  "from https://github.com/karpathy/makemore, or pass --data FILE)\n");
    assert_int_equal(ts_remove_dir(empty), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_model_trains),
        cmocka_unit_test(test_profile_flag),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_utf8_data),
        cmocka_unit_test(test_guard),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_odd_models),
        cmocka_unit_test(test_default_data),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
