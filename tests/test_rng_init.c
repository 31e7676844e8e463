/* test_rng_init.c - uniform_, randperm and the nn.Linear / nn.Embedding
 * initialisations against PyTorch 1.13, bit for bit, up to makemore.py's
 * start: torch.manual_seed(3407), the split's randperm(32033), then its
 * default Transformer's parameters in construction order. Golden values:
 * tests/data/rng_golden.h (tools/gen_rng_golden.py). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libtensor.h"

#include "data/rng_golden.h"
#include "rng_checks.h"

#define COUNT(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

/* The whole tensor by hash, and every stride-th value (for a readable
 * message when the hash differs); returns the samples consumed. */
static int64_t check_tensor(lt_tensor *t, uint64_t want_hash, const float *samples, int64_t stride,
                            const char *what)
{
    const float *d = lt_data_f32(t);
    int64_t n = lt_numel(t), k = 0;
    for (int64_t i = 0; i < n; i += stride, k++)
        assert_floats_identical(d + i, samples + k, 1, what);
    if (fnv1a64(d, (size_t)n * sizeof *d) != want_hash)
        fail_msg("%s: the values' hash differs from torch's", what);
    return k;
}

/* ---- uniform_ -------------------------------------------------------------- */

static void test_uniform_fill_matches_torch(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    int64_t offset = 0;
    for (int c = 0; c < G_UNIFORM_CASES; c++) {
        int64_t n = G_UNIFORM_N[c];
        lt_tensor *t = lt_new(ctx, LT_F32, LT_SHAPE(n));
        lt_rng g;
        lt_rng_seed(&g, G_UNIFORM_SEED[c]);
        assert_true(lt_rng_uniform_fill(ctx, &g, t, G_UNIFORM_A[c], G_UNIFORM_B[c]));
        char what[80];
        snprintf(what, sizeof what, "uniform_(%g, %g) seed %llu", G_UNIFORM_A[c], G_UNIFORM_B[c],
                 (unsigned long long)G_UNIFORM_SEED[c]);
        assert_floats_identical(lt_data_f32(t), G_UNIFORM_VALUES + offset, n, what);
        for (int64_t i = 0; i < n; i++) { /* [a, b), or a itself when a == b */
            float v = lt_get_f32(t, i);
            assert_true(v >= (float)G_UNIFORM_A[c] && v <= (float)G_UNIFORM_B[c]);
        }
        offset += n;
        lt_free(t);
    }
    assert_int_equal(offset, COUNT(G_UNIFORM_VALUES));
    lt_ctx_free(ctx);
}

static void expect_uniform_error(lt_ctx *ctx, lt_rng *g, lt_tensor *t, double a, double b, lt_status want)
{
    expect_refused(ctx, lt_rng_uniform_fill(ctx, g, t, a, b), want, "uniform_fill");
}

static void test_uniform_fill_rejects_bad_input(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    lt_rng g, fresh;
    seed_twins(&g, &fresh, 3);
    lt_tensor *t = lt_new(ctx, LT_F32, LT_SHAPE(4, 6));
    expect_uniform_error(ctx, &g, t, 1.0, 0.5, LT_ERR_ARG);
    expect_uniform_error(ctx, &g, t, NAN, 1.0, LT_ERR_ARG);
    expect_uniform_error(ctx, &g, t, 0.0, INFINITY, LT_ERR_ARG);
    expect_uniform_error(ctx, &g, t, -FLT_MAX, FLT_MAX, LT_ERR_ARG); /* width beyond float */
    expect_uniform_error(ctx, &g, t, -1e300, -1e300, LT_ERR_ARG);    /* an end beyond float */
    expect_uniform_error(ctx, &g, lt_new(ctx, LT_I32, LT_SHAPE(2)), 0.0, 1.0, LT_ERR_DTYPE);
    expect_uniform_error(ctx, &g, lt_transpose(ctx, t, 0, 1), 0.0, 1.0, LT_ERR_ARG);
    expect_uniform_error(ctx, &g, NULL, 0.0, 1.0, LT_ERR_ARG);
    expect_uniform_error(ctx, NULL, t, 0.0, 1.0, LT_ERR_ARG);
    assert_int_equal(lt_rng_u32(&g), lt_rng_u32(&fresh)); /* nothing drawn */
    lt_ctx_free(ctx);
}

/* ---- randperm ---------------------------------------------------------------- */

static void test_randperm_matches_torch(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    int64_t offset = 0;
    for (int c = 0; c < G_RANDPERM_CASES; c++) {
        int64_t n = G_RANDPERM_N[c];
        lt_rng g, h;
        lt_rng_seed(&g, G_RANDPERM_SEED[c]);
        lt_rng_seed(&h, G_RANDPERM_SEED[c]);
        int32_t *buf = malloc((size_t)(n > 0 ? n : 1) * sizeof *buf);
        assert_non_null(buf);
        assert_true(lt_rng_randperm(&g, buf, n));
        lt_tensor *t = lt_randperm(ctx, &h, n);
        assert_non_null(t);
        assert_int_equal(t->ndim, 1);
        assert_int_equal(t->shape[0], n);
        assert_int_equal(t->dtype, LT_I32);
        for (int64_t i = 0; i < n; i++) {
            assert_int_equal(buf[i], G_RANDPERM_VALUES[offset + i]);
            assert_int_equal(lt_get_i32(t, i), G_RANDPERM_VALUES[offset + i]);
        }
        /* n - 1 draws each: both generators are where torch's is */
        assert_int_equal(lt_rng_u32(&g), G_RANDPERM_NEXT[c]);
        assert_int_equal(lt_rng_u32(&h), G_RANDPERM_NEXT[c]);
        offset += n;
        free(buf);
    }
    assert_int_equal(offset, COUNT(G_RANDPERM_VALUES));
    lt_ctx_free(ctx);
}

static void test_randperm_rejects_bad_input(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    lt_rng g, fresh;
    seed_twins(&g, &fresh, 3);
    int32_t buf[4] = {7, 7, 7, 7};
    assert_false(lt_rng_randperm(&g, buf, -1));
    assert_false(lt_rng_randperm(&g, buf, LT_RANDPERM_MAX + 1));
    assert_false(lt_rng_randperm(NULL, buf, 4));
    assert_false(lt_rng_randperm(&g, NULL, 4));
    assert_int_equal(buf[0], 7); /* nothing written */
    assert_null(lt_randperm(ctx, &g, -1));
    assert_int_equal(lt_status_of(ctx), LT_ERR_ARG);
    assert_non_null(strstr(lt_error_message(ctx), "randperm: n = -1"));
    lt_clear_error(ctx);
    assert_null(lt_randperm(ctx, &g, LT_RANDPERM_MAX + 1));
    assert_non_null(strstr(lt_error_message(ctx), "214748363"));
    lt_clear_error(ctx);
    assert_null(lt_randperm(ctx, NULL, 4));
    assert_non_null(strstr(lt_error_message(ctx), "generator"));
    assert_null(lt_randperm(ctx, &g, 4)); /* sticky: the error stays */
    assert_null(lt_randperm(NULL, &g, 4));
    assert_int_equal(lt_rng_u32(&g), lt_rng_u32(&fresh)); /* nothing drawn */
    lt_ctx_free(ctx);
}

/* ---- nn.Linear and nn.Embedding ------------------------------------------------- */

static void test_init_linear_matches_torch(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    int64_t h = 0, k = 0;
    for (int c = 0; c < G_LINEAR_CASES; c++) {
        lt_tensor *w = lt_new(ctx, LT_F32, LT_SHAPE(G_LINEAR_OUT[c], G_LINEAR_IN[c]));
        lt_tensor *b = G_LINEAR_BIAS[c] ? lt_new(ctx, LT_F32, LT_SHAPE(G_LINEAR_OUT[c])) : NULL;
        lt_rng g;
        lt_rng_seed(&g, G_LINEAR_SEED[c]);
        assert_true(lt_init_linear(ctx, &g, w, b));
        char what[64];
        snprintf(what, sizeof what, "Linear(%lld, %lld) weight", (long long)G_LINEAR_IN[c],
                 (long long)G_LINEAR_OUT[c]);
        k += check_tensor(w, G_LINEAR_HASH[h++], G_LINEAR_SAMPLES + k, G_INIT_STRIDE, what);
        /* kaiming_uniform_(a = sqrt(5)) is uniform in +-1/sqrt(in) */
        float bound = (float)(1.0 / sqrt((double)G_LINEAR_IN[c]));
        for (int64_t i = 0; i < lt_numel(w); i++)
            assert_true(fabsf(lt_get_f32(w, i)) <= bound);
        if (b) {
            snprintf(what, sizeof what, "Linear(%lld, %lld) bias", (long long)G_LINEAR_IN[c],
                     (long long)G_LINEAR_OUT[c]);
            k += check_tensor(b, G_LINEAR_HASH[h++], G_LINEAR_SAMPLES + k, G_INIT_STRIDE, what);
        }
        lt_free(w);
        lt_free(b);
    }
    assert_int_equal(h, COUNT(G_LINEAR_HASH));
    assert_int_equal(k, COUNT(G_LINEAR_SAMPLES));
    lt_ctx_free(ctx);
}

static void test_init_embedding_matches_torch(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    int64_t k = 0;
    for (int c = 0; c < G_EMBEDDING_CASES; c++) {
        lt_tensor *w = lt_new(ctx, LT_F32, LT_SHAPE(G_EMBEDDING_NUM[c], G_EMBEDDING_DIM[c]));
        lt_rng g;
        lt_rng_seed(&g, G_EMBEDDING_SEED[c]);
        assert_true(lt_init_embedding(ctx, &g, w));
        char what[64];
        snprintf(what, sizeof what, "Embedding(%lld, %lld)", (long long)G_EMBEDDING_NUM[c],
                 (long long)G_EMBEDDING_DIM[c]);
        k += check_tensor(w, G_EMBEDDING_HASH[c], G_EMBEDDING_SAMPLES + k, G_INIT_STRIDE, what);
        lt_free(w);
    }
    assert_int_equal(k, COUNT(G_EMBEDDING_SAMPLES));
    lt_ctx_free(ctx);
}

static void test_init_rejects_bad_input(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    lt_rng g, fresh;
    seed_twins(&g, &fresh, 9);
    lt_tensor *w = lt_new(ctx, LT_F32, LT_SHAPE(4, 3));
    lt_tensor *b = lt_new(ctx, LT_F32, LT_SHAPE(4));
    expect_refused(ctx, lt_init_linear(ctx, &g, w, lt_new(ctx, LT_F32, LT_SHAPE(3))), LT_ERR_SHAPE,
                      "init_linear: bias (3) does not fit weight (4,3)");
    expect_refused(ctx, lt_init_linear(ctx, &g, w, lt_new(ctx, LT_F32, LT_SHAPE(4, 1))), LT_ERR_SHAPE,
                      "bias (4,1)");
    expect_refused(ctx, lt_init_linear(ctx, &g, b, NULL), LT_ERR_SHAPE, "init_linear: weight (4) must be rank 2");
    expect_refused(ctx, lt_init_linear(ctx, &g, lt_transpose(ctx, w, 0, 1), b), LT_ERR_ARG, "contiguous");
    expect_refused(ctx, lt_init_linear(ctx, &g, w, lt_new(ctx, LT_I32, LT_SHAPE(4))), LT_ERR_DTYPE,
                      "init_linear");
    expect_refused(ctx, lt_init_linear(ctx, NULL, w, b), LT_ERR_ARG, "init_linear: generator is NULL");
    expect_refused(ctx, lt_init_linear(ctx, &g, NULL, b), LT_ERR_ARG, "init_linear");
    expect_refused(ctx, lt_init_embedding(ctx, &g, lt_new(ctx, LT_F32, LT_SHAPE(2, 3, 4))), LT_ERR_SHAPE,
                      "init_embedding: weight (2,3,4) must be rank 2");
    expect_refused(ctx, lt_init_embedding(ctx, &g, lt_new(ctx, LT_I32, LT_SHAPE(2, 3))), LT_ERR_DTYPE,
                      "init_embedding");
    expect_refused(ctx, lt_init_embedding(ctx, NULL, w), LT_ERR_ARG, "init_embedding: generator is NULL");
    assert_int_equal(lt_rng_u32(&g), lt_rng_u32(&fresh)); /* nothing drawn by any of them */
    lt_ctx_free(ctx);
}

/* Zero-sized layers: torch's kaiming_uniform_ skips an empty weight, and a
 * Linear(0, out)'s bias bound is 0 (it still draws, giving zeros). */
static void test_init_linear_empty_shapes(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    lt_rng g, fresh;
    seed_twins(&g, &fresh, 12);
    lt_tensor *w = lt_new(ctx, LT_F32, LT_SHAPE(3, 0));
    lt_tensor *b = lt_new(ctx, LT_F32, LT_SHAPE(3));
    assert_true(lt_init_linear(ctx, &g, w, b));
    for (int i = 0; i < 3; i++) {
        assert_true(lt_get_f32(b, i) == 0.0f);
        (void)lt_rng_u32(&fresh);
    }
    assert_int_equal(lt_rng_u32(&g), lt_rng_u32(&fresh)); /* 3 draws, for the bias */
    lt_tensor *none = lt_new(ctx, LT_F32, LT_SHAPE(0, 5));
    assert_true(lt_init_linear(ctx, &g, none, NULL));
    assert_true(lt_init_embedding(ctx, &g, none));
    assert_int_equal(lt_rng_u32(&g), lt_rng_u32(&fresh)); /* nothing drawn */
    lt_ctx_free(ctx);
}

/* ---- makemore.py's start ---------------------------------------------------------- */

/* The parameters of makemore's default Transformer that draw, in the order
 * its __init__ constructs them (as tools/gen_rng_golden.py lists them):
 * Embedding(vocab, 64), Embedding(block, 64), then per layer c_attn
 * Linear(64, 192), attn c_proj Linear(64, 64), c_fc Linear(64, 256), mlp
 * c_proj Linear(256, 64), and lm_head Linear(64, vocab, bias=False). The
 * LayerNorms and the attention mask draw nothing. */
enum { MM_VOCAB = 27, MM_BLOCK = 16, MM_LAYERS = 4, MM_EMBD = 64 };

typedef struct mm_check {
    lt_ctx *ctx;
    lt_rng *g;
    int tensor;     /* index into G_MM_HASH */
    int64_t sample; /* index into G_MM_SAMPLES */
} mm_check;

static void mm_expect(mm_check *m, lt_tensor *t, const char *what)
{
    assert_true(m->tensor < G_MM_TENSORS);
    const float *d = lt_data_f32(t);
    double sum = 0.0;
    for (int64_t i = 0; i < lt_numel(t); i++)
        sum += d[i];
    if (sum != G_MM_SUM[m->tensor])
        fail_msg("%s: sum %.17g, torch's %.17g", what, sum, G_MM_SUM[m->tensor]);
    m->sample += check_tensor(t, G_MM_HASH[m->tensor], G_MM_SAMPLES + m->sample, G_MM_STRIDE, what);
    m->tensor++;
}

static void mm_embedding(mm_check *m, int64_t num, const char *what)
{
    lt_tensor *w = lt_new(m->ctx, LT_F32, LT_SHAPE(num, MM_EMBD));
    assert_true(lt_init_embedding(m->ctx, m->g, w));
    mm_expect(m, w, what);
    lt_free(w);
}

static void mm_linear(mm_check *m, int64_t in, int64_t out, bool bias, const char *what)
{
    lt_tensor *w = lt_new(m->ctx, LT_F32, LT_SHAPE(out, in));
    lt_tensor *b = bias ? lt_new(m->ctx, LT_F32, LT_SHAPE(out)) : NULL;
    assert_true(lt_init_linear(m->ctx, m->g, w, b));
    mm_expect(m, w, what);
    if (b)
        mm_expect(m, b, what);
    lt_free(w);
    lt_free(b);
}

static void test_makemore_start_matches_torch(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    lt_rng g;
    lt_rng_seed(&g, 3407); /* torch.manual_seed(3407) */
    lt_tensor *perm = lt_randperm(ctx, &g, G_MM_WORDS);
    assert_non_null(perm);
    const int32_t *p = lt_data_i32(perm);
    assert_memory_equal(p, G_MM_PERM_HEAD, sizeof G_MM_PERM_HEAD);
    assert_memory_equal(p + G_MM_WORDS - 10, G_MM_PERM_TAIL, sizeof G_MM_PERM_TAIL);
    assert_true(fnv1a64(p, G_MM_WORDS * sizeof *p) == G_MM_PERM_HASH);

    mm_check m = {ctx, &g, 0, 0};
    mm_embedding(&m, MM_VOCAB, "wte");
    mm_embedding(&m, MM_BLOCK, "wpe");
    for (int layer = 0; layer < MM_LAYERS; layer++) {
        mm_linear(&m, MM_EMBD, 3 * MM_EMBD, true, "attn.c_attn");
        mm_linear(&m, MM_EMBD, MM_EMBD, true, "attn.c_proj");
        mm_linear(&m, MM_EMBD, 4 * MM_EMBD, true, "mlp.c_fc");
        mm_linear(&m, 4 * MM_EMBD, MM_EMBD, true, "mlp.c_proj");
    }
    mm_linear(&m, MM_EMBD, MM_VOCAB, false, "lm_head");
    assert_int_equal(m.tensor, G_MM_TENSORS);
    assert_int_equal(m.sample, COUNT(G_MM_SAMPLES));
    assert_int_equal(lt_rng_u32(&g), G_MM_NEXT_U32); /* the generator is where torch's is */
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform_fill_matches_torch),
        cmocka_unit_test(test_uniform_fill_rejects_bad_input),
        cmocka_unit_test(test_randperm_matches_torch),
        cmocka_unit_test(test_randperm_rejects_bad_input),
        cmocka_unit_test(test_init_linear_matches_torch),
        cmocka_unit_test(test_init_embedding_matches_torch),
        cmocka_unit_test(test_init_rejects_bad_input),
        cmocka_unit_test(test_init_linear_empty_shapes),
        cmocka_unit_test(test_makemore_start_matches_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
