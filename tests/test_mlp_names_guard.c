#define _POSIX_C_SOURCE 200809L /* mkdtemp */
/* test_mlp_names_guard.c - mlp_names stops on non-finite numbers: the
 * message names the step and the tensor, the exit status is 1, and the
 * --save file keeps what it held (or is not created). */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#ifdef MLP_NAMES_BIN

static char dir[64];
static char out_text[1 << 14], err_text[1 << 12];

static const char *in_dir(const char *name)
{
    static char buf[4][160];
    static int k;
    k = (k + 1) & 3;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static size_t read_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, size - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    return n;
}

static int run(const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd %s && %s --data tiny.txt --quiet --samples 0 --eval-every 0 %s >out.txt 2>err.txt",
             dir, MLP_NAMES_BIN, args);
    int st = system(cmd);
    read_file(in_dir("out.txt"), out_text, sizeof out_text);
    read_file(in_dir("err.txt"), err_text, sizeof err_text);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
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
    snprintf(dir, sizeof dir, "/tmp/lt_guard_XXXXXX");
    assert_non_null(mkdtemp(dir));
    FILE *f = fopen(in_dir("tiny.txt"), "w");
    assert_non_null(f);
    for (int i = 0; i < 20; i++)
        fputs("emma\nolivia\nava\nisabella\nsophia\ncharlotte\nmia\namelia\nharper\nevelyn\n", f);
    fclose(f);

    assert_int_equal(run("--steps 30 --save ck.safetensors"), 0);
    static char before[1 << 16], after[1 << 16];
    size_t n = read_file(in_dir("ck.safetensors"), before, sizeof before);
    assert_true(n > 1000 && n < sizeof before - 1);

    /* an update that overflows at once: caught before it is applied */
    expect_stop("--steps 30 --lr 3e38 --save ck.safetensors",
                "mlp_names: step 0: the update of C is not finite (element 1 is inf; is the learning rate "
                "3e+38 too large?); training stopped, ck.safetensors not written (an existing file is unchanged)\n");
    assert_int_equal(read_file(in_dir("ck.safetensors"), after, sizeof after), n);
    assert_memory_equal(before, after, n);
    /* from the checkpoint: that update is finite, the next loss is not */
    expect_stop("--load ck.safetensors --steps 30 --lr 3e38 --save ck.safetensors",
                "mlp_names: step 1: loss is nan; training stopped, ck.safetensors not written");
    assert_int_equal(read_file(in_dir("ck.safetensors"), after, sizeof after), n);
    assert_memory_equal(before, after, n);

    /* a rate that lets the logits overflow two steps later: a NaN loss */
    expect_stop("--steps 30 --lr 1e37 --save ck.safetensors", "mlp_names: step 2: loss is nan; training stopped");
    assert_int_equal(read_file(in_dir("ck.safetensors"), after, sizeof after), n);
    assert_memory_equal(before, after, n);

    /* without an existing file nothing is created; without --save it is said plainly */
    expect_stop("--steps 30 --lr 1e37 --save fresh.safetensors", "fresh.safetensors not written");
    FILE *fresh = fopen(in_dir("fresh.safetensors"), "rb");
    assert_null(fresh);
    expect_stop("--steps 30 --lr 1e37", "mlp_names: step 2: loss is nan; training stopped\n");

    /* the kept checkpoint still loads and samples */
    assert_int_equal(run("--load ck.safetensors --steps 0"), 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
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
