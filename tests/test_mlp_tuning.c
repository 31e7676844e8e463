#define _POSIX_C_SOURCE 200809L /* fork, kill, nanosleep */
/* test_mlp_tuning.c - the tuning features end to end on small data the test
 * writes itself: mlp_names presets and flags (scaled init starts near
 * -ln(1/27), flags override presets, schedules and L2 train, --result and
 * --no-test, the activation in checkpoints) and mlp_sweep (tables, the best
 * command line, resuming after a finished, a truncated and an interrupted
 * sweep). */
#include "test_support.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[TS_DIR_SIZE];
static char out_text[1 << 16], err_text[1 << 12];

/* Runs bin with args in dir, output to out_text/err_text; returns the exit
 * status. */
static int run_in_dir(const char *bin, const char *args)
{
    return ts_run_capture(dir, bin, args, out_text, sizeof out_text, err_text, sizeof err_text);
}

static int run(const char *args) { return run_in_dir(MLP_NAMES_BIN, args); }

static int setup(void **state)
{
    (void)state;
    if (ts_make_dir(dir, "lt_tune") != 0)
        return -1;
    char text[8192] = "";
    for (int rep = 0; rep < 5; rep++) {
        for (int i = 0; i < TS_N_NAMES; i++) {
            strcat(text, ts_names[i]);
            strcat(text, "\n");
        }
        strcat(text, "abcdefghijklmnopqrstuvwxyz\n"); /* every letter: a vocabulary of 27 */
    }
    ts_write_text(dir, "names.txt", text);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return ts_remove_dir(dir);
}

static double field(const char *text, const char *line_start, const char *key)
{
    const char *l = strstr(text, line_start);
    if (!l)
        fail_msg("no '%s' in:\n%s", line_start, text);
    const char *k = strstr(l, key);
    assert_non_null(k);
    return atof(k + strlen(key));
}

static int count_lines(const char *text)
{
    int n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* ---- mlp_names ------------------------------------------------------------------- */

/* The scaled init makes the first logits near zero: the loss of a uniform
 * guess over 27 characters, -ln(1/27) = 3.2958, whatever the activation;
 * the notebook's plain randn starts far above it. */
static void test_scaled_init_starts_uniform(void **state)
{
    (void)state;
    const char *acts[] = {"tanh", "relu", "none"};
    for (int i = 0; i < 3; i++) {
        char args[128];
        snprintf(args, sizeof args, "--init scaled --activation %s --steps 0 --samples 0", acts[i]);
        assert_int_equal(run(args), 0);
        double init = field(out_text, "init:", "dev ");
        if (fabs(init - log(27.0)) > 0.05)
            fail_msg("--activation %s: initial dev loss %.4f, want %.4f +- 0.05", acts[i], init, log(27.0));
    }
    assert_int_equal(run("--steps 0 --samples 0"), 0);
    assert_true(field(out_text, "init:", "dev ") > 8.0);
}

/* A preset sets flags; every explicit flag overrides it, before or after. */
static void test_presets_and_overrides(void **state)
{
    (void)state;
    assert_int_equal(run("--steps 0 --samples 0"), 0);
    double notebook = field(out_text, "init:", "dev ");
    assert_int_equal(run("--preset notebook --steps 0 --samples 0"), 0);
    assert_float_equal(field(out_text, "init:", "dev "), notebook, 1e-9);
    assert_int_equal(run("--preset e01 --steps 0 --samples 0"), 0);
    double e01 = field(out_text, "init:", "dev ");
    assert_true(fabs(e01 - log(27.0)) < 0.05);
    assert_int_equal(run("--preset e01 --init notebook --steps 0 --samples 0"), 0);
    assert_float_equal(field(out_text, "init:", "dev "), notebook, 1e-9);
    assert_int_equal(run("--init notebook --preset e01 --steps 0 --samples 0"), 0);
    assert_float_equal(field(out_text, "init:", "dev "), notebook, 1e-9);
    /* e01-wide changes the shape; --emb overrides it */
    assert_int_equal(run("--preset e01-wide --emb 4 --hidden 8 --steps 0 --samples 0"), 0);
    assert_int_equal((long)field(out_text, "params:", " "), 27 * 4 + 12 * 8 + 8 + 8 * 27 + 27);
    assert_int_equal(run("--help"), 0);
    assert_non_null(strstr(out_text, "e01-wide"));
    assert_non_null(strstr(out_text, "--init scaled"));
}

/* Every schedule, L2, relu and shuffled batches train: the loss falls. */
static void test_schedules_train(void **state)
{
    (void)state;
    const char *variants[] = {
        "--lr-schedule cosine --lr 0.3 --lr-final 0.01 --warmup 20",
        "--milestones 50%,75% --lr-factor 0.3 --lr 0.3",
        "--milestones 100,150 --lr 0.3 --weight-decay 0.001",
        "--lr-schedule constant --lr 0.1 --activation relu --sampling shuffle",
        "--activation none --lr 0.2 --init-gain 1 --init-emb 2",
        "--momentum 0.9 --lr 0.03 --weight-decay 0.0001",
        "--dropout 0.2 --lr 0.2",
    };
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
        char args[512];
        snprintf(args, sizeof args, "--init scaled --steps 200 --eval-every 0 --samples 0 --no-test %s", variants[i]);
        int st = run(args);
        if (st != 0)
            fail_msg("mlp_names %s: exit %d: %s", args, st, err_text);
        double dev = field(out_text, "final:", "dev ");
        if (!(dev < 3.0))
            fail_msg("mlp_names %s: dev %.4f did not fall below 3.0", args, dev);
    }
}

static void test_result_file_and_no_test(void **state)
{
    (void)state;
    assert_int_equal(run("--steps 50 --samples 0 --no-test --result r.txt"), 0);
    const char *final = strstr(out_text, "final:");
    assert_non_null(final);
    assert_null(strstr(final, "test")); /* the summary, time and nothing else follow */
    char r[1024];
    ts_read_text(ts_path(dir, "r.txt"), r, sizeof r);
    assert_true(fabs(field(r, "dev_loss=", "=") - field(out_text, "final:", "dev ")) < 1e-4);
    assert_null(strstr(r, "test_loss"));
    assert_non_null(strstr(r, "steps=50\n"));
    assert_int_equal(run("--steps 50 --samples 0 --result r.txt"), 0);
    ts_read_text(ts_path(dir, "r.txt"), r, sizeof r);
    assert_true(fabs(field(r, "test_loss=", "=") - field(out_text, "final:", "test ")) < 1e-4);
}

static void test_activation_in_checkpoint(void **state)
{
    (void)state;
    assert_int_equal(run("--init scaled --activation relu --steps 100 --samples 3 --save relu.safetensors --quiet"),
                     0);
    double dev = field(out_text, "final:", "dev ");
    assert_int_equal(run("--load relu.safetensors --steps 0 --samples 0"), 0);
    assert_float_equal(field(out_text, "init:", "dev "), dev, 1e-4);
    assert_int_equal(run("--load relu.safetensors --activation tanh --steps 0"), 1);
    assert_non_null(strstr(err_text, "activation relu"));
}

static void test_bad_tuning_flags(void **state)
{
    (void)state;
    struct {
        const char *args, *message;
    } cases[] = {
        {"--preset nope", "--preset nope: unknown preset"},
        {"--activation sigmoid", "--activation sigmoid"},
        {"--init xavier", "--init xavier"},
        {"--lr-schedule linear", "--lr-schedule linear"},
        {"--sampling sometimes", "--sampling sometimes"},
        {"--milestones 200,100", "milestone 1 is step 100"},
        {"--milestones 10,x", "--milestones 10,x"},
        {"--lr-factor 0 --milestones 10", "step factor 0"},
        {"--weight-decay -1", "--weight-decay -1"},
        {"--init-emb 0", "--init-emb 0"},
        {"--momentum 1", "--momentum 1"},
        {"--dropout 1", "--dropout 1"},
        /* an empty list was no decay at all; a huge percentage printed step -9223372036854775808 */
        {"--milestones ''", "mlp_names: --milestones '': expected 1 to 8 steps or percentages (0% to 100%)"},
        {"--milestones 1e30%", "--milestones 1e30%: expected 1 to 8 steps or percentages"},
        {"--milestones 101%", "--milestones 101%: expected"},
        {"--milestones nan%", "--milestones nan%: expected"},
        {"--milestones 50%,,75%", "--milestones 50%,,75%: expected"},
        {"--milestones ,", "--milestones ,: expected"},
        {"--milestones 10,20,", "--milestones 10,20,: expected"},
        {"--milestones 1,2,3,4,5,6,7,8,9", "--milestones 1,2,3,4,5,6,7,8,9: expected 1 to 8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int st = run(cases[i].args);
        if (st != 2 || !strstr(err_text, cases[i].message))
            fail_msg("mlp_names %s: exit %d (want 2), stderr \"%s\" (want \"%s\")", cases[i].args, st, err_text,
                     cases[i].message);
    }
}

/* ---- mlp_sweep --------------------------------------------------------------------- */

#define SWEEP_FIXED "-- --data names.txt --steps 30 --init scaled"

static int sweep(const char *space, const char *extra)
{
    char args[1024];
    snprintf(args, sizeof args, "--space %s --out sw --mlp-names %s %s " SWEEP_FIXED, space, MLP_NAMES_BIN, extra);
    return run_in_dir(MLP_SWEEP_BIN, args);
}

static void test_sweep_tables_and_resume(void **state)
{
    (void)state;
    ts_write_text(dir, "grid.space", "# two flags, four trials\n--lr 0.05 0.4\n--hidden 8 16 # small\n");
    assert_int_equal(sweep("grid.space", "-j 2"), 0);
    assert_non_null(strstr(out_text, "4 trials, 0 done before, 4 to run"));
    char trials[8192], md[8192], csv[8192];
    ts_read_text(ts_path(dir, "sw/trials.csv"), trials, sizeof trials);
    assert_int_equal(count_lines(trials), 5); /* header + 4 */
    ts_read_text(ts_path(dir, "sw/results.md"), md, sizeof md);
    assert_int_equal(count_lines(md), 6);
    assert_non_null(strstr(md, "| rank | dev | train | s | params | lr | hidden |"));
    ts_read_text(ts_path(dir, "sw/results.csv"), csv, sizeof csv);
    /* sorted by dev loss */
    double prev = 0;
    for (const char *l = strchr(csv, '\n') + 1; *l; l = strchr(l, '\n') + 1) {
        double dev = atof(strchr(l, ',') + 1);
        assert_true(dev >= prev);
        prev = dev;
    }
    /* the best trial as a command line that reproduces its dev loss */
    double best = field(out_text, "best:", "dev ");
    const char *cmd = strstr(out_text, MLP_NAMES_BIN " --data names.txt --steps 30 --init scaled --lr ");
    assert_non_null(cmd);
    char line[1024];
    const char *flags = cmd + strlen(MLP_NAMES_BIN);
    snprintf(line, sizeof line, "%.*s --samples 0 --no-test", (int)strcspn(flags, "\n"), flags);
    assert_int_equal(run(line), 0);
    assert_float_equal(field(out_text, "final:", "dev "), best, 1e-4);

    /* a second run has nothing to do and keeps the file as it was */
    assert_int_equal(sweep("grid.space", "-j 2"), 0);
    assert_non_null(strstr(out_text, "4 trials, 4 done before, 0 to run"));
    char again[8192];
    ts_read_text(ts_path(dir, "sw/trials.csv"), again, sizeof again);
    assert_string_equal(again, trials);
    /* a lost (or torn) last row is run again */
    *strrchr(again, '"') = '\0';
    ts_write_text(dir, "sw/trials.csv", again);
    assert_int_equal(sweep("grid.space", "-j 1"), 0);
    assert_non_null(strstr(out_text, "4 trials, 3 done before, 1 to run"));
}

static void test_sweep_random_is_repeatable(void **state)
{
    (void)state;
    ts_write_text(dir, "rand.space", "--lr ~log 0.05 0.5\n--hidden ~int 4 12\n--activation tanh relu\n");
    assert_int_equal(sweep("rand.space", "--mode random --trials 3 --seed 7 --out sw2"), 0);
    assert_non_null(strstr(out_text, "3 trials, 0 done before, 3 to run"));
    assert_int_equal(sweep("rand.space", "--mode random --trials 3 --seed 7 --out sw2"), 0);
    assert_non_null(strstr(out_text, "3 trials, 3 done before, 0 to run"));
    assert_int_equal(sweep("rand.space", "--mode random --trials 4 --seed 7 --out sw2"), 0);
    assert_non_null(strstr(out_text, "4 trials, 3 done before, 1 to run"));
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* SIGINT in the middle: finished trials stay, the sweep resumes from them. */
static void test_sweep_interrupt_keeps_finished(void **state)
{
    (void)state;
    ts_write_text(dir, "long.space", "--lr 0.1 0.2\n--steps 20 5000000 5000001 5000002\n");
    char out[128], err[128];
    snprintf(out, sizeof out, "%s/int.out", dir);
    snprintf(err, sizeof err, "%s/int.err", dir);
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(dir) != 0 || !freopen(out, "w", stdout) || !freopen(err, "w", stderr))
            _exit(126);
        execl(MLP_SWEEP_BIN, MLP_SWEEP_BIN, "--space", "long.space", "--out", "sw3", "--mlp-names", MLP_NAMES_BIN,
              "--", "--data", "names.txt", (char *)NULL);
        _exit(127);
    }
    assert_true(pid > 0);
    char trials[4096] = "";
    for (int i = 0; i < 600 && count_lines(trials) < 2; i++) { /* the 20-step trial ends first */
        sleep_ms(50);
        ts_read_text(ts_path(dir, "sw3/trials.csv"), trials, sizeof trials);
    }
    assert_int_equal(count_lines(trials), 2);
    kill(pid, SIGINT);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 130);
    ts_read_text(err, err_text, sizeof err_text);
    assert_non_null(strstr(err_text, "interrupted"));
    ts_read_text(ts_path(dir, "sw3/trials.csv"), trials, sizeof trials);
    int kept = count_lines(trials) - 1;
    assert_true(kept >= 1 && kept < 8);
    /* resuming with the short trials only: the finished one is skipped */
    ts_write_text(dir, "short.space", "--lr 0.1 0.2\n--steps 20\n");
    char args[512];
    snprintf(args, sizeof args, "--space short.space --out sw3 --mlp-names %s -- --data names.txt", MLP_NAMES_BIN);
    assert_int_equal(run_in_dir(MLP_SWEEP_BIN, args), 0);
    assert_non_null(strstr(out_text, "2 trials, 1 done before, 1 to run"));
}

static void test_sweep_bad_input(void **state)
{
    (void)state;
    ts_write_text(dir, "bad1.space", "--lr ~log 0.1 0.5\n");
    assert_int_equal(sweep("bad1.space", ""), 2);
    assert_non_null(strstr(err_text, "needs --mode random"));
    ts_write_text(dir, "bad2.space", "lr 0.1\n");
    assert_int_equal(sweep("bad2.space", ""), 2);
    assert_non_null(strstr(err_text, "bad2.space:1"));
    ts_write_text(dir, "bad3.space", "--lr ~log 0.5 0.1\n");
    assert_int_equal(sweep("bad3.space", "--mode random"), 2);
    assert_non_null(strstr(err_text, "LO <= HI"));
    assert_int_equal(sweep("missing.space", ""), 2);
    assert_non_null(strstr(err_text, "missing.space"));
    /* numbers as the programs parse them (cli_args.c): an empty or overflowing seed was 0 or LONG_MAX */
    const char *bad_numbers[] = {"--mode random --seed ''", "--mode random --seed 99999999999999999999",
                                 "--mode random --seed ' -1'", "-j 2x", "--trials 0"};
    for (size_t i = 0; i < sizeof bad_numbers / sizeof *bad_numbers; i++) {
        int st = sweep("grid.space", bad_numbers[i]);
        if (st != 2 || !strstr(err_text, "unknown flag or bad value"))
            fail_msg("mlp_sweep %s: exit %d, stderr \"%s\"", bad_numbers[i], st, err_text);
    }
    /* a failing trial is recorded as failed, not lost, and ranked last */
    ts_write_text(dir, "fail.space", "--lr 0.1\n--hidden 8 0\n");
    assert_int_equal(sweep("fail.space", "--out sw4"), 0);
    char md[4096];
    ts_read_text(ts_path(dir, "sw4/results.md"), md, sizeof md);
    assert_non_null(strstr(md, "| 2 | failed |"));
}

/* A stand-in for mlp_names, so that thousands of trials take seconds: it
 * appends its arguments to argv.txt, one per line, and writes a --result. */
static const char FAKE_MLP_NAMES[] =
    "#!/bin/sh\n"
    "printf '%s\\n' \"$@\" >>argv.txt\n"
    "r=\n"
    "while [ $# -gt 0 ]; do [ \"$1\" = --result ] && r=$2; shift; done\n"
    "printf 'train_loss=1\\ndev_loss=2\\nparams=3\\nsteps=0\\nseconds=0\\n' >\"$r\"\n";

static int fake_sweep(const char *space, const char *out, const char *extra)
{
    char args[1024];
    snprintf(args, sizeof args, "--space %s --out %s --mlp-names ./fake.sh %s", space, out, extra);
    return run_in_dir(MLP_SWEEP_BIN, args);
}

/* Every trial's command is an argument vector: 16 flags of 31-character
 * values (over 700 bytes joined) reach the program whole (they were cut at
 * 511 bytes, or overflowed the stack); grids are as large as they are up to
 * the limit, which is refused with its number (4,096 was the silent limit,
 * and 32^16 overflowed a long into 0 trials with status 0). */
static void test_sweep_sizes(void **state)
{
    (void)state;
    ts_write_text(dir, "fake.sh", FAKE_MLP_NAMES);
    assert_int_equal(chmod(ts_path(dir, "fake.sh"), 0755), 0);
    static const char *const FLAGS[16] = {"--steps",  "--batch",     "--block",      "--emb",
                                          "--hidden", "--samples",   "--eval-every", "--init-gain",
                                          "--warmup", "--decay-step", "--seed",      "--batch-seed",
                                          "--sample-seed", "--lr",    "--lr-final",  "--lr-factor"};
    const char *value = "0000000000000000000000000000001"; /* 31 characters, a valid 1 */
    char space[4096] = "", line[256];
    for (int i = 0; i < 16; i++) {
        snprintf(line, sizeof line, "%s %s\n", FLAGS[i], value);
        strcat(space, line);
    }
    ts_write_text(dir, "long.space", space);
    unlink(ts_path(dir, "argv.txt"));
    assert_int_equal(fake_sweep("long.space", "sw5", ""), 0);
    static char argv_text[1 << 21];
    argv_text[0] = '\n'; /* every argument, the first too, between newlines */
    ts_read_text(ts_path(dir, "argv.txt"), argv_text + 1, sizeof argv_text - 1);
    for (int i = 0; i < 16; i++) {
        snprintf(line, sizeof line, "\n%s\n%s\n", FLAGS[i], value);
        if (!strstr(argv_text, line))
            fail_msg("%s %s did not reach the trial:\n%s", FLAGS[i], value, argv_text);
    }
    assert_non_null(strstr(argv_text, "--no-test\n--eval-every\n0\n--samples\n0\n--quiet\n--result\n"));
    char trials[8192];
    ts_read_text(ts_path(dir, "sw5/trials.csv"), trials, sizeof trials);
    assert_true(strlen(trials) > 16 * 45);
    assert_non_null(strstr(trials, "--lr-factor 0000000000000000000000000000001\"\n"));

    /* 25 x 25 x 8 = 5000 points, all run, then all found done */
    char grid[1024] = "--lr", num[16];
    for (int i = 0; i < 25; i++) {
        snprintf(num, sizeof num, " 0.%02d", i + 1);
        strcat(grid, num);
    }
    strcat(grid, "\n--hidden");
    for (int i = 1; i <= 25; i++) {
        snprintf(num, sizeof num, " %d", i);
        strcat(grid, num);
    }
    strcat(grid, "\n--emb 1 2 3 4 5 6 7 8\n");
    ts_write_text(dir, "grid5000.space", grid);
    assert_int_equal(fake_sweep("grid5000.space", "sw6", "-j 2"), 0);
    assert_non_null(strstr(out_text, "mlp_sweep: 5000 trials, 0 done before, 5000 to run, 2 at a time\n"));
    static char csv[1 << 20];
    ts_read_text(ts_path(dir, "sw6/trials.csv"), csv, sizeof csv);
    assert_int_equal(count_lines(csv), 5001);
    ts_read_text(ts_path(dir, "sw6/results.csv"), csv, sizeof csv);
    assert_int_equal(count_lines(csv), 5001);
    assert_int_equal(fake_sweep("grid5000.space", "sw6", "-j 2"), 0);
    assert_non_null(strstr(out_text, "mlp_sweep: 5000 trials, 5000 done before, 0 to run"));

    /* over the limit: refused, with the count (32^16 overflowed a long) */
    char huge[4096] = "";
    for (int i = 0; i < 16; i++) {
        strcat(huge, FLAGS[i]);
        for (int v = 0; v < 32; v++) {
            snprintf(num, sizeof num, " %d", v + 1);
            strcat(huge, num);
        }
        strcat(huge, "\n");
    }
    ts_write_text(dir, "huge.space", huge);
    assert_int_equal(fake_sweep("huge.space", "sw7", ""), 2);
    assert_string_equal(err_text, "mlp_sweep: huge.space: the grid has 1208925819614629174706176 points, over the "
                                  "limit of 100000 trials (fewer values, or --mode random)\n");
    ts_write_text(dir, "big.space", "--lr 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 "
                                    "29 30 31 32\n--hidden 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 "
                                    "23 24 25 26 27 28 29 30 31 32\n--emb 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 "
                                    "18 19 20 21 22 23 24 25 26 27 28 29 30 31 32\n--batch 1 2 3 4\n");
    assert_int_equal(fake_sweep("big.space", "sw7", ""), 2);
    assert_non_null(strstr(err_text, "the grid has 131072 points, over the limit of 100000 trials"));
    assert_int_equal(fake_sweep("long.space", "sw7", "--mode random --trials 100001"), 2);
    assert_non_null(strstr(err_text, "--trials 100001: unknown flag or bad value"));
}

/* The sweep's files: no trial may write a file every other trial writes
 * too, and the space file is never one of the tables. */
static void test_sweep_files(void **state)
{
    (void)state;
    ts_write_text(dir, "fake.sh", FAKE_MLP_NAMES);
    assert_int_equal(chmod(ts_path(dir, "fake.sh"), 0755), 0);
    ts_write_text(dir, "one.space", "--lr 0.1 0.2\n");
    assert_int_equal(fake_sweep("one.space", "sw8", "-- --save ck.st"), 2);
    assert_string_equal(err_text, "mlp_sweep: -- --save: every trial would write the same file (each trial gets its "
                                  "own --result; its output is in the logs)\n");
    ts_write_text(dir, "log.space", "--log a.csv b.csv\n");
    assert_int_equal(fake_sweep("log.space", "sw8", ""), 2);
    assert_non_null(strstr(err_text, "log.space:1: --log: every trial would write the same file"));
    assert_int_equal(fake_sweep("one.space", "sw8", ""), 0);
    char space[256];
    ts_read_text(ts_path(dir, "sw8/results.csv"), space, sizeof space);
    ts_write_text(dir, "sw8/results.csv", "--lr 0.3\n"); /* a space file where a table goes */
    assert_int_equal(fake_sweep("sw8/results.csv", "sw8", ""), 2);
    assert_string_equal(err_text, "mlp_sweep: --out sw8/results.csv is the same file as --space sw8/results.csv\n");
    ts_read_text(ts_path(dir, "sw8/results.csv"), space, sizeof space);
    assert_string_equal(space, "--lr 0.3\n");
    /* a FIFO as the space file is read without waiting for a writer (it blocked in fopen) */
    assert_int_equal(mkfifo(ts_path(dir, "space.fifo"), 0644), 0);
    char *argv[] = {MLP_SWEEP_BIN, "--space", "space.fifo", "--out", "sw9", "--mlp-names", "./fake.sh", NULL};
    ts_run r = ts_run_argv(dir, argv, 60, out_text, sizeof out_text, err_text, sizeof err_text);
    assert_false(r.timed_out);
    assert_int_equal(r.status, 2);
    assert_string_equal(err_text, "mlp_sweep: space.fifo: declares no flags\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scaled_init_starts_uniform),
        cmocka_unit_test(test_presets_and_overrides),
        cmocka_unit_test(test_schedules_train),
        cmocka_unit_test(test_result_file_and_no_test),
        cmocka_unit_test(test_activation_in_checkpoint),
        cmocka_unit_test(test_bad_tuning_flags),
        cmocka_unit_test(test_sweep_tables_and_resume),
        cmocka_unit_test(test_sweep_random_is_repeatable),
        cmocka_unit_test(test_sweep_interrupt_keeps_finished),
        cmocka_unit_test(test_sweep_bad_input),
        cmocka_unit_test(test_sweep_sizes),
        cmocka_unit_test(test_sweep_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
