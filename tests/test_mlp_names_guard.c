/* test_mlp_names_guard.c - mlp_names stops on non-finite numbers: the
 * message names the step and the tensor, the exit status is 1, and the
 * --save file keeps what it held (or is not created). */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MLP_NAMES_BIN

static char dir[TS_DIR_SIZE];
static char out_text[1 << 14], err_text[1 << 12];

static int run(const char *args)
{
    char all[512];
    snprintf(all, sizeof all, "--data tiny.txt --quiet --samples 0 --eval-every 0 %s", args);
    return ts_run_capture(dir, MLP_NAMES_BIN, all, out_text, sizeof out_text, err_text, sizeof err_text);
}

static void expect_stop(const char *args, const char *message)
{
    int st = run(args);
    if (st != 1 || !strstr(err_text, message))
        fail_msg("mlp_names %s: exit %d, stderr \"%s\"; want exit 1 and \"%s\"", args, st, err_text, message);
    printf("  %s\n    -> %s", args, err_text);
}

static void test_guard_keeps_checkpoint(void **state)
{
    (void)state;
    assert_int_equal(ts_make_dir(dir, "lt_guard"), 0);
    char tiny[2048] = "";
    for (int i = 0; i < 20; i++)
        strcat(tiny, "emma\nolivia\nava\nisabella\nsophia\ncharlotte\nmia\namelia\nharper\nevelyn\n");
    ts_write_text(dir, "tiny.txt", tiny);

    assert_int_equal(run("--steps 30 --save ck.safetensors"), 0);
    static char before[1 << 16], after[1 << 16];
    size_t n = ts_read_text(ts_path(dir, "ck.safetensors"), before, sizeof before);
    assert_true(n > 1000 && n < sizeof before - 1);

    /* an update that overflows at once: caught before it is applied */
    expect_stop("--steps 30 --lr 3e38 --save ck.safetensors",
                "mlp_names: step 0: the update of C is not finite (element 1 is inf; is the learning rate "
                "3e+38 too large?); training stopped, ck.safetensors not written (an existing file is unchanged)\n");
    assert_int_equal(ts_read_text(ts_path(dir, "ck.safetensors"), after, sizeof after), n);
    assert_memory_equal(before, after, n);
    /* from the checkpoint: that update is finite, the next loss is not */
    expect_stop("--load ck.safetensors --steps 30 --lr 3e38 --save ck.safetensors",
                "mlp_names: step 1: loss is nan; training stopped, ck.safetensors not written");
    assert_int_equal(ts_read_text(ts_path(dir, "ck.safetensors"), after, sizeof after), n);
    assert_memory_equal(before, after, n);

    /* a rate that lets the logits overflow two steps later: a NaN loss */
    expect_stop("--steps 30 --lr 1e37 --save ck.safetensors", "mlp_names: step 2: loss is nan; training stopped");
    assert_int_equal(ts_read_text(ts_path(dir, "ck.safetensors"), after, sizeof after), n);
    assert_memory_equal(before, after, n);

    /* without an existing file nothing is created; without --save it is said plainly */
    expect_stop("--steps 30 --lr 1e37 --save fresh.safetensors", "fresh.safetensors not written");
    FILE *fresh = fopen(ts_path(dir, "fresh.safetensors"), "rb");
    assert_null(fresh);
    expect_stop("--steps 30 --lr 1e37", "mlp_names: step 2: loss is nan; training stopped\n");

    /* the kept checkpoint still loads and samples */
    assert_int_equal(run("--load ck.safetensors --steps 0"), 0);
    assert_int_equal(ts_remove_dir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guard_keeps_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else
int main(void)
{
    printf("test_mlp_names_guard: SKIPPED (mlp_names is not built)\n");
    return 0;
}
#endif
