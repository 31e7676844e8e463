/* test_mlp_names_cli.c - the mlp_names program end to end on small data the
 * test writes itself: summary lines, a falling loss, save/load giving the
 * same samples, the longest sample, and every bad input giving one clear
 * line and the right exit status. */
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[TS_DIR_SIZE];
static char out_text[1 << 16], err_text[1 << 12];

/* Runs mlp_names with args (in dir); returns its exit status. */
static int run(const char *args)
{
    return ts_run_capture(dir, MLP_NAMES_BIN, args, out_text, sizeof out_text, err_text, sizeof err_text);
}

static int setup(void **state)
{
    (void)state;
    if (ts_make_dir(dir, "lt_cli") != 0)
        return -1;
    char text[4096] = "";
    for (int rep = 0; rep < 5; rep++)
        for (int i = 0; i < TS_N_NAMES; i++) {
            strcat(text, ts_names[i]);
            strcat(text, rep == 4 && i == TS_N_NAMES - 1 ? "" : "\n"); /* no final newline */
        }
    ts_write_text(dir, "names.txt", text);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return ts_remove_dir(dir);
}

static double field(const char *line_start, const char *key)
{
    const char *l = strstr(out_text, line_start);
    assert_non_null(l);
    const char *k = strstr(l, key);
    assert_non_null(k);
    return atof(k + strlen(key));
}

static void test_train_save_load(void **state)
{
    (void)state;
    assert_int_equal(run("--steps 400 --eval-every 100 --samples 5 --save ck.safetensors --log log.csv --quiet"), 0);
    /* 200 words: 160/20/20; every word of length L gives L+1 examples */
    assert_non_null(strstr(out_text, "split: train "));
    /* V*10 + 30*200 + 200 + 200*V + V parameters for a vocabulary of V */
    long params = (long)field("params:", " ");
    assert_true(params > 6200 && (params - 6200) % 211 == 0);
    double init = field("init:", "dev "), dev = field("final:", "dev "), train = field("final:", "train ");
    assert_true(init > 5.0);
    assert_true(dev < init / 2);
    assert_true(train < 2.5);
    assert_non_null(strstr(out_text, "time: "));
    char first[4096];
    strcpy(first, strstr(out_text, "steps/s\n") + 8); /* the samples */
    int lines = 0;
    for (const char *p = first; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 5);
    char log[1 << 16];
    ts_read_text(ts_path(dir, "log.csv"), log, sizeof log);
    assert_non_null(strstr(log, "step,batch_loss,dev_loss\n0,"));
    assert_non_null(strstr(log, "\n399,"));
    /* the checkpoint restores the same model: same samples, same losses */
    assert_int_equal(run("--load ck.safetensors --steps 0 --samples 5 --quiet"), 0);
    assert_non_null(strstr(out_text, first)); /* the five samples again */
    assert_true(fabs(field("init:", "dev ") - dev) < 1e-4);
}

/* UTF-8 data (accents, Cyrillic, CJK): trained on, sampled as UTF-8 with
 * the notebook's '.' after each name, and the checkpoint's UTF-8
 * vocabulary gives the same samples back. With a '.' in the data, '.' is a
 * character and the stop token is shown as "<stop>". */
static void test_utf8_data(void **state)
{
    (void)state;
    ts_write_utf8_names(dir, "utf8.txt", 8, 0);
    assert_int_equal(run("--data utf8.txt --steps 300 --samples 8 --save utf8.safetensors --quiet"), 0);
    assert_true(ts_check_utf8_samples(strstr(out_text, "steps/s\n") + 8, "", ".", 8) > 0);
    char first[4096];
    snprintf(first, sizeof first, "%s", strstr(out_text, "steps/s\n") + 8);
    long params = (long)field("params:", " "); /* 48 characters + the stop token */
    assert_int_equal(params, 49 * 10 + 30 * 200 + 200 + 200 * 49 + 49);
    assert_int_equal(run("--data utf8.txt --load utf8.safetensors --steps 0 --samples 8 --quiet"), 0);
    assert_string_equal(strstr(out_text, "steps/s\n") + 8, first);
    /* the vocabulary is the checkpoint's: ASCII-only names.txt fits it, the reverse does not */
    assert_int_equal(run("--load utf8.safetensors --steps 0 --samples 1 --quiet"), 1);
    assert_non_null(strstr(err_text, "is not in the checkpoint's vocabulary"));

    ts_write_utf8_names(dir, "dot.txt", 8, 1);
    assert_int_equal(run("--data dot.txt --steps 300 --samples 8 --quiet"), 0);
    assert_true(ts_check_utf8_samples(strstr(out_text, "steps/s\n") + 8, "", "<stop>", 8) > 0);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    ts_write_text(dir, "empty.txt", "");
    ts_write_text(dir, "binary.txt", "ab\x01\x02\xff\n");
    ts_write_text(dir, "corrupt.safetensors", "\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":");
    struct {
        const char *args;
        int status;
        const char *message;
    } cases[] = {
        {"--data missing.txt", 1, "missing.txt"},
        {"--data empty.txt", 1, "no items"},
        {"--data binary.txt", 1, "binary.txt:1:5: invalid UTF-8 (byte 0xff)"},
        {"--steps", 2, "--steps needs a value"},
        {"--steps -5", 2, "--steps -5"},
        {"--batch 0", 2, "--batch 0"},
        {"--hidden abc", 2, "--hidden abc"},
        {"--lr nan", 2, "--lr nan"},
        /* the messages of the flag table both programs use (common/cli_args.c) */
        {"--lr -1", 2, "mlp_names: --lr -1: expected a non-negative number\n"},
        {"--seed -3", 2, "mlp_names: --seed -3: expected a non-negative integer\n"},
        {"--activation sigmoid", 2, "mlp_names: --activation sigmoid: expected tanh, relu or none\n"},
        {"--momentum 1", 2, "mlp_names: --momentum 1: must be below 1\n"},
        {"--frobnicate 3", 2, "unknown option"},
        {"--load corrupt.safetensors --steps 0", 1, "corrupt.safetensors"},
        {"--load nothere.safetensors --steps 0", 1, "nothere.safetensors"},
        {"--load ck.safetensors --emb 5 --steps 0", 1, "differ from the flags"},
        /* refused before any work (the save came after training) */
        {"--steps 10 --log /nonexistent/dir/log.csv", 2,
         "--log /nonexistent/dir/log.csv: cannot write there: "
         "/nonexistent/dir: No such file or directory"},
        {"--steps 10 --save /nonexistent/dir/x.safetensors --samples 0", 2, "--save /nonexistent/dir/x.safetensors"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int st = run(cases[i].args);
        if (st != cases[i].status || !strstr(err_text, cases[i].message))
            fail_msg("mlp_names %s: exit %d (want %d), stderr \"%s\" (want \"%s\")", cases[i].args, st,
                     cases[i].status, err_text, cases[i].message);
    }
    /* the default data path explains where to get names.txt */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "mv %s/names.txt %s/n.txt", dir, dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run("--steps 1"), 1);
    assert_non_null(strstr(err_text, "karpathy/makemore"));
    snprintf(cmd, sizeof cmd, "mv %s/n.txt %s/names.txt", dir, dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run("--help"), 0);
    assert_non_null(strstr(out_text, "usage: mlp_names"));
}

/* The one stopping rule of both programs (common/sample.c): a name ends at
 * the stop token or at 1000 characters, after 1000 draws. The notebook's
 * untrained init on these words, seed 2, draws a name that never stops; it
 * once printed 1001 characters here (and 1000 in deep_names). */
static void test_sample_length(void **state)
{
    (void)state;
    char ten[512] = "";
    for (int rep = 0; rep < 5; rep++)
        for (int i = 0; i < 10; i++) {
            strcat(ten, ts_names[i]);
            strcat(ten, "\n");
        }
    ts_write_text(dir, "ten.txt", ten);
    assert_int_equal(run("--data ten.txt --steps 0 --samples 3 --seed 2 --quiet"), 0);
    const char *samples = strstr(out_text, "steps/s\n");
    assert_non_null(samples);
    int lines = 0, capped = 0;
    for (const char *p = samples + 8; *p; lines++) {
        size_t len = strcspn(p, "\n");
        assert_true(len <= 1000);
        if (len == 1000)
            capped++;
        else
            assert_true(p[len - 1] == '.'); /* ended by the stop token, which the notebook prints */
        p += len + (p[len] == '\n');
    }
    assert_int_equal(lines, 3);
    assert_int_equal(capped, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_save_load),
        cmocka_unit_test(test_sample_length),
        cmocka_unit_test(test_utf8_data),
        cmocka_unit_test(test_bad_inputs), /* after: uses ck.safetensors */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
