/* test_mlp_names_checkpoints.c - mlp_names --load on checkpoints that are
 * valid safetensors but wrong for the model or the data: a missing tensor, a
 * wrong shape or dtype, metadata that is missing, malformed, absurdly large
 * or does not match the vocabulary of the data, non-finite parameters, and
 * a truncated file. Each is one clear line on stderr and exit status 1. */
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MLP_NAMES_BIN

static char dir[TS_DIR_SIZE];
static char out_text[1 << 14], err_text[1 << 12];

static int run(const char *args)
{
    char all[512];
    snprintf(all, sizeof all, "--data tiny.txt --quiet --samples 2 %s", args);
    return ts_run_capture(dir, MLP_NAMES_BIN, all, out_text, sizeof out_text, err_text, sizeof err_text);
}

/* The parts of a checkpoint a case may change. */
typedef struct spec {
    const char *vocab, *format, *block, *emb, *hidden;
    const char *skip;             /* tensor left out, or NULL */
    const char *resize;           /* tensor given shape `shape`, or NULL */
    lt_shape shape;
    const char *as_i32;           /* tensor written as I32, or NULL */
    float fill;                   /* value of every parameter element */
    const char *poison;           /* tensor whose element `at` is `value`, or NULL */
    int64_t at;
    float value;
} spec;

/* The vocabulary of tiny.txt is ".abcehilmnoprstvy" (16 characters after '.'). */
#define VOCAB "abcehilmnoprstvy"

static spec base(void)
{
    return (spec){VOCAB, "libtensor-mlp-names/1", "3", "10", "200", NULL, NULL, {0, {0}}, NULL, 0.01f, NULL, 0, 0};
}

static void write_checkpoint(lt_ctx *ctx, const char *name, const spec *s)
{
    int64_t v = (int64_t)strlen(s->vocab) + 1, block = 3, emb = 10, hidden = 200;
    const char *names[5] = {"C", "W1", "b1", "W2", "b2"};
    lt_shape shapes[5] = {LT_SHAPE(v, emb), LT_SHAPE(block * emb, hidden), LT_SHAPE(hidden), LT_SHAPE(hidden, v),
                          LT_SHAPE(v)};
    lt_named_tensor t[5];
    int n = 0;
    for (int i = 0; i < 5; i++) {
        if (s->skip && !strcmp(s->skip, names[i]))
            continue;
        lt_shape sh = s->resize && !strcmp(s->resize, names[i]) ? s->shape : shapes[i];
        bool i32 = s->as_i32 && !strcmp(s->as_i32, names[i]);
        lt_tensor *x = lt_new(ctx, i32 ? LT_I32 : LT_F32, sh);
        assert_non_null(x);
        if (!i32)
            assert_true(lt_fill(ctx, x, s->fill));
        if (s->poison && !strcmp(s->poison, names[i]))
            lt_data_f32(x)[s->at] = s->value;
        t[n++] = (lt_named_tensor){names[i], x};
    }
    const char *meta[] = {"format", s->format, "vocab", s->vocab, "block_size", s->block,
                          "n_embd", s->emb,    "n_hidden", s->hidden};
    assert_true(lt_safetensors_save(ctx, ts_path(dir, name), t, n, meta, 5));
    for (int i = 0; i < n; i++)
        lt_free((lt_tensor *)t[i].tensor);
}

static void expect(const char *args, int status, const char *message)
{
    int st = run(args);
    if (st != status || !strstr(err_text, message))
        fail_msg("mlp_names %s: exit %d, stderr \"%s\"; want %d and \"%s\"", args, st, err_text, status, message);
    if (status)
        printf("  %s\n    -> %s", args, err_text);
}

static void test_checkpoints(void **state)
{
    (void)state;
    assert_int_equal(ts_make_dir(dir, "lt_ckpt"), 0);
    char tiny[1024] = "";
    for (int i = 0; i < 10; i++)
        strcat(tiny, "emma\nolivia\nava\nisabella\nsophia\ncharlotte\nmia\namelia\nharper\nevelyn\n");
    ts_write_text(dir, "tiny.txt", tiny);
    lt_ctx *ctx = lt_ctx_new();

    spec s = base(); /* the control: a crafted checkpoint that fits */
    write_checkpoint(ctx, "good.st", &s);
    expect("--load good.st --steps 0", 0, "");

    s = base(), s.skip = "b2";
    write_checkpoint(ctx, "missing.st", &s);
    expect("--load missing.st --steps 0", 1, "mlp_names: missing.st: tensor 'b2' is missing\n");

    s = base(), s.resize = "W1", s.shape = LT_SHAPE(30, 100);
    write_checkpoint(ctx, "shape.st", &s);
    expect("--load shape.st --steps 0", 1,
           "mlp_names: shape.st: tensor 'W1' is F32 (30,100) but the metadata (vocab 17, block 3, emb 10, hidden 200) "
           "needs F32 (30,200)\n");

    s = base(), s.resize = "C", s.shape = LT_SHAPE(10, 17); /* transposed */
    write_checkpoint(ctx, "transposed.st", &s);
    expect("--load transposed.st --steps 0", 1, "tensor 'C' is F32 (10,17) but the metadata");

    s = base(), s.as_i32 = "C";
    write_checkpoint(ctx, "dtype.st", &s);
    expect("--load dtype.st --steps 0", 1, "tensor 'C' is I32 (17,10) but the metadata");

    /* metadata claiming the largest model the flags allow beside small tensors: a shape error, no huge
     * allocation */
    s = base(), s.block = "64", s.emb = "4096", s.hidden = "65536";
    write_checkpoint(ctx, "huge_meta.st", &s);
    expect("--load huge_meta.st --steps 0", 1,
           "tensor 'C' is F32 (17,10) but the metadata (vocab 17, block 64, emb 4096, hidden 65536) needs F32 "
           "(17,4096)");

    /* beyond the flags' limits: said so (a block of 1000 was "dataset: out of memory") */
    s = base(), s.hidden = "2000000";
    write_checkpoint(ctx, "meta_range.st", &s);
    expect("--load meta_range.st --steps 0", 1,
           "meta_range.st: metadata 'n_hidden' is 2000000, over the limit of 65536");
    s = base(), s.block = "1000";
    write_checkpoint(ctx, "meta_block.st", &s);
    expect("--load meta_block.st --steps 0", 1, "meta_block.st: metadata 'block_size' is 1000, over the limit of 64\n");

    s = base(), s.block = "3x";
    write_checkpoint(ctx, "meta_junk.st", &s);
    expect("--load meta_junk.st --steps 0", 1, "meta_junk.st: metadata 'block_size' is missing or not a positive integer");

    s = base(), s.format = "something-else/2";
    write_checkpoint(ctx, "format.st", &s);
    expect("--load format.st --steps 0", 1,
           "format.st: not an mlp_names checkpoint (metadata format is 'something-else/2', expected "
           "'libtensor-mlp-names/1')");

    /* vocabulary metadata against the data */
    s = base(), s.vocab = "abcehilmnoprstv"; /* no 'y': harper, evelyn, ... */
    write_checkpoint(ctx, "vocab_small.st", &s);
    expect("--load vocab_small.st --steps 0", 1, "tiny.txt: character 'y' is not in the checkpoint's vocabulary");
    s = base(), s.vocab = "bac";
    write_checkpoint(ctx, "vocab_unsorted.st", &s);
    expect("--load vocab_unsorted.st --steps 0", 1, "vocab_unsorted.st: metadata 'vocab' is missing or invalid");
    s = base(), s.vocab = "ab.c";
    write_checkpoint(ctx, "vocab_dot.st", &s);
    expect("--load vocab_dot.st --steps 0", 1, "vocab_dot.st: metadata 'vocab' is missing or invalid");
    /* a larger vocabulary than the data needs is fine (a checkpoint trained on more data) */
    s = base(), s.vocab = VOCAB "z";
    write_checkpoint(ctx, "vocab_large.st", &s);
    expect("--load vocab_large.st --steps 0", 0, "");

    /* non-finite parameters are refused at load, naming the tensor and the element (they once printed
     * "nan" losses and failed draws as names, and exited 0), with or without training */
    s = base(), s.fill = NAN;
    write_checkpoint(ctx, "nan.st", &s);
    expect("--load nan.st --steps 5", 1,
           "mlp_names: nan.st: tensor 'C' element 0 is nan (a checkpoint must hold "
           "finite values)\n");
    expect("--load nan.st --steps 0", 1, "mlp_names: nan.st: tensor 'C' element 0 is nan");
    assert_null(strstr(out_text, "nan"));
    s = base(), s.poison = "W1", s.at = 4321, s.value = INFINITY;
    write_checkpoint(ctx, "inf.st", &s);
    expect("--load inf.st --steps 0", 1, "mlp_names: inf.st: tensor 'W1' element 4321 is inf");
    assert_null(strstr(out_text, "init:"));
    /* finite parameters whose outputs are not: the first evaluation stops the program */
    s = base(), s.fill = 1e38f;
    write_checkpoint(ctx, "huge.st", &s);
    expect("--load huge.st --steps 5", 1, "mlp_names: the dev loss is nan (a parameter or an output is not finite)");
    expect("--load huge.st --steps 0", 1, "mlp_names: the dev loss is nan");
    assert_null(strstr(out_text, "nan"));

    /* truncated: the last byte of b2 missing */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "cd %s && head -c -1 good.st > cut.st", dir);
    assert_int_equal(system(cmd), 0);
    expect("--load cut.st --steps 0", 1, "cut.st: tensor 'b2': data_offsets [");
    assert_non_null(strstr(err_text, "lie outside the"));

    lt_ctx_free(ctx);
    assert_int_equal(ts_remove_dir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else
int main(void)
{
    printf("test_mlp_names_checkpoints: SKIPPED (mlp_names is not built)\n");
    return 0;
}
#endif
