/* test_rng.c - the PyTorch and Python compatible generators against golden
 * values produced by real PyTorch 1.13 and CPython (tests/data/rng_golden.h,
 * made by tools/gen_rng_golden.py) and against the facts in
 * shared/reference/reproducibility.md, bit for bit: randn and normal_ of
 * every size, multinomial per row, the Python shuffle. (Initialisation,
 * uniform_ and randperm: test_rng_init.c.) Needs neither PyTorch nor
 * Python. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libtensor.h"

#include "data/rng_golden.h"
#include "rng_checks.h"

#define COUNT(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

static float *alloc_floats(int64_t n)
{
    float *p = malloc((size_t)n * sizeof *p);
    assert_non_null(p);
    return p;
}

/* torch.randn(n, generator=Generator().manual_seed(seed)) into a malloc'd
 * array, and its name for messages. */
static float *seeded_randn(uint64_t seed, int64_t n, char *what, size_t what_size)
{
    float *out = alloc_floats(n);
    lt_rng g;
    lt_rng_seed(&g, seed);
    lt_rng_randn(&g, out, n);
    snprintf(what, what_size, "randn(%lld) seed %llu", (long long)n, (unsigned long long)seed);
    return out;
}

/* ---- torch: raw streams --------------------------------------------------- */

static void test_u32_matches_torch(void **state)
{
    (void)state;
    lt_rng g;
    lt_rng_seed(&g, 2147483647u);
    for (int64_t i = 0; i < COUNT(G_U32_SEED_NOTEBOOK); i++)
        assert_int_equal(lt_rng_u32(&g), G_U32_SEED_NOTEBOOK[i]);
    /* manual_seed keeps only the low 32 bits of the seed */
    lt_rng_seed(&g, (UINT64_C(1) << 32) + 5);
    for (int64_t i = 0; i < COUNT(G_U32_SEED_2P32_5); i++)
        assert_int_equal(lt_rng_u32(&g), G_U32_SEED_2P32_5[i]);
}

static void test_u64_is_first_draw_high(void **state)
{
    (void)state;
    lt_rng a, b;
    lt_rng_seed(&a, 7);
    lt_rng_seed(&b, 7);
    for (int64_t i = 0; i < COUNT(G_U64_LOW63_SEED7); i++) {
        uint64_t hi = lt_rng_u32(&b);
        uint64_t lo = lt_rng_u32(&b);
        uint64_t v = lt_rng_u64(&a);
        assert_true(v == ((hi << 32) | lo));
        assert_true((v & (UINT64_MAX >> 1)) == G_U64_LOW63_SEED7[i]);
    }
    /* torch's double uniform: the low 53 bits of random64() times 2^-53 */
    lt_rng_seed(&a, 7);
    for (int64_t i = 0; i < COUNT(G_UNIFORM64_SEED7); i++) {
        uint64_t bits = lt_rng_u64(&a) & ((UINT64_C(1) << 53) - 1);
        assert_true(ldexp((double)bits, -53) == G_UNIFORM64_SEED7[i]);
    }
}

static void test_uniform_matches_torch_rand(void **state)
{
    (void)state;
    lt_rng g;
    lt_rng_seed(&g, 123);
    for (int64_t i = 0; i < COUNT(G_RAND_SEED123); i++) {
        float u = lt_rng_uniform(&g);
        assert_true(u == G_RAND_SEED123[i]); /* exact: 24 bits, exact scaling */
        assert_true(u >= 0.0f && u < 1.0f);
    }
}

/* ---- torch: randn ----------------------------------------------------------- */

static void test_randn_matches_torch(void **state)
{
    (void)state;
    int64_t offset = 0;
    for (int c = 0; c < G_RANDN_CASES; c++) {
        int64_t n = G_RANDN_N[c];
        char what[64];
        float *out = seeded_randn(G_RANDN_SEED[c], n, what, sizeof what);
        assert_floats_identical(out, G_RANDN_VALUES + offset, n, what);
        offset += n;
        free(out);
    }
    assert_int_equal(offset, COUNT(G_RANDN_VALUES));
}

/* The numel < 16 path's spare sample stays in the generator across calls,
 * even across a block-path call in between. */
static void test_randn_cached_sample_sequence(void **state)
{
    (void)state;
    lt_rng g;
    lt_rng_seed(&g, 11);
    int64_t offset = 0;
    for (int64_t c = 0; c < COUNT(G_RANDN_SEQ_N); c++) {
        int64_t n = G_RANDN_SEQ_N[c];
        float *out = alloc_floats(n);
        lt_rng_randn(&g, out, n);
        assert_floats_identical(out, G_RANDN_SEQ_VALUES + offset, n, "randn sequence");
        offset += n;
        free(out);
    }
    /* seeding again forgets the cached sample */
    float first[1], again[1];
    lt_rng_seed(&g, 11);
    lt_rng_randn(&g, first, 1);
    lt_rng_randn(&g, again, 1);
    lt_rng_seed(&g, 11);
    lt_rng_randn(&g, again, 1);
    assert_true(first[0] == again[0]);
}

/* Values from reproducibility.md, checked there against PyTorch 1.13. */
static const float DOC_C0[5] = {1.5673620f, -0.2372923f, -0.0273846f, -1.1007794f, 0.2858815f};
static const float DOC_C26[5] = {0.0938659f, -0.6453336f, 1.2107978f, -0.7819822f, 0.3844853f};
static const float DOC_B2[5] = {0.1373136f, 1.2041878f, 1.9441583f, 0.3093629f, 2.0191813f};
static const double DOC_SUMS[5] = {-5.2125139, 77.2490540, 3.7819910, -7.2081270, 4.6393285};

static double sum_floats(const float *x, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += x[i];
    return s;
}

static void check_doc_values(float *const params[5])
{
    for (int i = 0; i < 5; i++) { /* the doc prints 7 decimals */
        assert_true(fabsf(params[0][i] - DOC_C0[i]) < 1e-6f);      /* C[0, :5] */
        assert_true(fabsf(params[0][265 + i] - DOC_C26[i]) < 1e-6f); /* C[26, 5:] */
        assert_true(fabsf(params[4][i] - DOC_B2[i]) < 1e-6f);       /* b2[:5] */
    }
}

/* The notebook: C, W1, b1, W2, b2 drawn in this order from one generator. */
static void test_randn_notebook_init(void **state)
{
    (void)state;
    lt_rng g;
    lt_rng_seed(&g, 2147483647u);
    float *params[G_NOTEBOOK_PARAMS];
    int64_t sample = 0;
    for (int p = 0; p < G_NOTEBOOK_PARAMS; p++) {
        int64_t n = G_NOTEBOOK_NUMEL[p];
        params[p] = alloc_floats(n);
        lt_rng_randn(&g, params[p], n);
        double sum = sum_floats(params[p], n);
        /* identical values, summed in the same order in double: the same sum */
        assert_true(sum == G_NOTEBOOK_SUM[p]);
        /* the doc prints torch's float sums, which round along the way */
        assert_true(fabs(sum - DOC_SUMS[p]) < 1e-4);
        assert_true(fabs(sum - (double)G_NOTEBOOK_TORCH_SUM[p]) < 1e-4);
        for (int64_t i = 0; i < n; i += G_NOTEBOOK_STRIDE, sample++) {
            char what[32];
            snprintf(what, sizeof what, "param %d", p);
            assert_floats_identical(&params[p][i], &G_NOTEBOOK_SAMPLES[sample], 1, what);
        }
    }
    assert_int_equal(sample, COUNT(G_NOTEBOOK_SAMPLES));
    check_doc_values(params);
    for (int p = 0; p < G_NOTEBOOK_PARAMS; p++)
        free(params[p]);
}

static void test_randn_fill_tensor(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    lt_tensor *t = lt_new(ctx, LT_F32, LT_SHAPE(27, 10));
    assert_non_null(t);
    lt_rng g;
    lt_rng_seed(&g, 2147483647u);
    assert_true(lt_randn_fill(ctx, &g, t));
    assert_int_equal(lt_status_of(ctx), LT_OK);
    assert_int_equal(G_RANDN_N[0], 270); /* case 0 is C = randn(27, 10) */
    assert_floats_identical(lt_data_f32(t), G_RANDN_VALUES, 270, "randn_fill C");
    lt_ctx_free(ctx);
}

static void expect_fill_error(lt_ctx *ctx, lt_rng *g, lt_tensor *t, lt_status want)
{
    expect_refused(ctx, lt_randn_fill(ctx, g, t), want, "randn_fill");
}

static void test_randn_fill_rejects_bad_input(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    lt_rng g;
    lt_rng_seed(&g, 1);
    lt_tensor *f = lt_new(ctx, LT_F32, LT_SHAPE(4, 5));
    lt_tensor *i = lt_new(ctx, LT_I32, LT_SHAPE(4, 5));
    assert_non_null(f);
    assert_non_null(i);
    expect_fill_error(ctx, &g, i, LT_ERR_DTYPE);
    expect_fill_error(ctx, &g, NULL, LT_ERR_ARG);
    expect_fill_error(ctx, NULL, f, LT_ERR_ARG);
    lt_tensor *ft = lt_transpose(ctx, f, 0, 1);
    assert_non_null(ft);
    expect_fill_error(ctx, &g, ft, LT_ERR_ARG);
    /* nothing was drawn by the failed calls */
    lt_rng fresh;
    lt_rng_seed(&fresh, 1);
    assert_int_equal(lt_rng_u32(&g), lt_rng_u32(&fresh));
    lt_ctx_free(ctx);
}

/* Large tensors: every block and the overlapping tail, through a hash. */
static void test_randn_large_matches_torch(void **state)
{
    (void)state;
    for (int c = 0; c < G_RANDN_BIG_CASES; c++) {
        int64_t n = G_RANDN_BIG_N[c];
        char what[64];
        float *out = seeded_randn(G_RANDN_BIG_SEED[c], n, what, sizeof what);
        assert_floats_identical(out, &G_RANDN_BIG_FIRST[c], 1, what);
        assert_floats_identical(out + n - 1, &G_RANDN_BIG_LAST[c], 1, what);
        if (fnv1a64(out, (size_t)n * sizeof *out) != G_RANDN_BIG_HASH[c])
            fail_msg("%s: the values' hash differs from torch's", what);
        free(out);
    }
}

/* normal_(mean, std): both paths, the block path's fused scaling. */
static void test_normal_fill_matches_torch(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    int64_t offset = 0;
    for (int c = 0; c < G_NORMAL_CASES; c++) {
        lt_tensor *t = lt_new(ctx, LT_F32, LT_SHAPE(G_NORMAL_N[c]));
        lt_rng g;
        lt_rng_seed(&g, G_NORMAL_SEED[c]);
        assert_true(lt_rng_normal_fill(ctx, &g, t, G_NORMAL_MEAN[c], G_NORMAL_STD[c]));
        char what[64];
        snprintf(what, sizeof what, "normal_(%g, %g) seed %llu", G_NORMAL_MEAN[c], G_NORMAL_STD[c],
                 (unsigned long long)G_NORMAL_SEED[c]);
        assert_floats_identical(lt_data_f32(t), G_NORMAL_VALUES + offset, G_NORMAL_N[c], what);
        offset += G_NORMAL_N[c];
        lt_free(t);
    }
    assert_int_equal(offset, COUNT(G_NORMAL_VALUES));
    lt_ctx_free(ctx);
}

static void expect_normal_error(lt_ctx *ctx, lt_rng *g, lt_tensor *t, double mean, double std,
                                lt_status want)
{
    expect_refused(ctx, lt_rng_normal_fill(ctx, g, t, mean, std), want, "normal_fill");
}

static void test_normal_fill_rejects_bad_input(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    lt_rng g, fresh;
    seed_twins(&g, &fresh, 5);
    lt_tensor *t = lt_new(ctx, LT_F32, LT_SHAPE(3, 7));
    lt_tensor *i = lt_new(ctx, LT_I32, LT_SHAPE(3, 7));
    expect_normal_error(ctx, &g, t, 0.0, -1.0, LT_ERR_ARG);
    expect_normal_error(ctx, &g, t, NAN, 1.0, LT_ERR_ARG);
    expect_normal_error(ctx, &g, t, 0.0, INFINITY, LT_ERR_ARG);
    expect_normal_error(ctx, &g, t, 0.0, NAN, LT_ERR_ARG);
    expect_normal_error(ctx, &g, i, 0.0, 1.0, LT_ERR_DTYPE);
    expect_normal_error(ctx, NULL, t, 0.0, 1.0, LT_ERR_ARG);
    expect_normal_error(ctx, &g, lt_transpose(ctx, t, 0, 1), 0.0, 1.0, LT_ERR_ARG);
    /* a context holding an error refuses too, and keeps its first error */
    lt_fail(ctx, LT_ERR_SHAPE, "earlier: something failed");
    assert_false(lt_rng_normal_fill(ctx, &g, t, 0.0, 1.0));
    assert_false(lt_randn_fill(ctx, &g, t));
    assert_string_equal(lt_error_message(ctx), "earlier: something failed");
    assert_int_equal(lt_rng_u32(&g), lt_rng_u32(&fresh)); /* nothing drawn */
    lt_ctx_free(ctx);
}

/* Samplers interleaved on one generator stay in step with torch. */
static void test_mixed_sequence_matches_torch(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    lt_rng g;
    lt_rng_seed(&g, 41);
    float got[COUNT(G_MIXED_SEQ)];
    float *p = got;
    lt_rng_randn(&g, p, 3);
    p += 3;
    lt_tensor *u = lt_new(ctx, LT_F32, LT_SHAPE(5));
    assert_true(lt_rng_uniform_fill(ctx, &g, u, -1.0, 1.0));
    lt_copy_out_f32(u, p);
    p += 5;
    lt_rng_randn(&g, p, 20);
    p += 20;
    lt_tensor *nrm = lt_new(ctx, LT_F32, LT_SHAPE(1));
    assert_true(lt_rng_normal_fill(ctx, &g, nrm, 2.0, 3.0));
    *p++ = lt_get_f32(nrm, 0);
    int32_t perm[6];
    assert_true(lt_rng_randperm(&g, perm, 6));
    for (int i = 0; i < 6; i++)
        *p++ = (float)perm[i];
    lt_rng_randn(&g, p, 2);
    p += 2;
    const float probs[3] = {0.1f, 0.2f, 0.7f};
    *p++ = (float)lt_rng_multinomial(&g, probs, 3);
    lt_rng_randn(&g, p, 1);
    p += 1;
    assert_int_equal(p - got, COUNT(G_MIXED_SEQ));
    assert_floats_identical(got, G_MIXED_SEQ, COUNT(G_MIXED_SEQ), "mixed sequence");
    lt_ctx_free(ctx);
}

/* ---- torch: randint ----------------------------------------------------------- */

static void test_randint_matches_torch(void **state)
{
    (void)state;
    int64_t offset = 0;
    for (int c = 0; c < G_RANDINT_CASES; c++) {
        int64_t n = G_RANDINT_N[c];
        int32_t out[64];
        assert_true(n <= COUNT(out));
        lt_rng g;
        lt_rng_seed(&g, G_RANDINT_SEED[c]);
        lt_rng_randint(&g, G_RANDINT_LOW[c], G_RANDINT_HIGH[c], out, n);
        for (int64_t k = 0; k < n; k++)
            assert_int_equal(out[k], G_RANDINT_VALUES[offset + k]);
        offset += n;
    }
    assert_int_equal(offset, COUNT(G_RANDINT_VALUES));
}

static void test_randint_doc_values(void **state)
{
    (void)state;
    static const int32_t want[8] = {76542, 11942, 157126, 2164, 651, 135335, 41245, 127424};
    int32_t out[8];
    lt_rng g;
    lt_rng_seed(&g, 42);
    lt_rng_randint(&g, 0, 182625, out, 8);
    assert_memory_equal(out, want, sizeof want);
}

static void test_randint_rejects_bad_range(void **state)
{
    (void)state;
    lt_rng g, fresh;
    seed_twins(&g, &fresh, 3);
    int32_t out[4] = {9, 9, 9, 9};
    lt_rng_randint(&g, 5, 5, out, 4);                      /* empty range */
    lt_rng_randint(&g, 0, (int64_t)INT32_MAX + 2, out, 4); /* does not fit int32 */
    for (int k = 0; k < 4; k++)
        assert_int_equal(out[k], 0);
    assert_int_equal(lt_rng_u32(&g), lt_rng_u32(&fresh));
}

/* ---- torch: multinomial ------------------------------------------------------- */

static void check_draws(const float *probs, int64_t n, uint64_t seed,
                        const int32_t *want, int64_t draws)
{
    lt_rng g;
    lt_rng_seed(&g, seed);
    for (int64_t k = 0; k < draws; k++) {
        int64_t ix = lt_rng_multinomial(&g, probs, n);
        if (ix != want[k])
            fail_msg("draw %lld: got %lld, want %d", (long long)k, (long long)ix, want[k]);
    }
}

static void test_multinomial_matches_torch(void **state)
{
    (void)state;
    const uint64_t seed = 2147483647u + 10u;
    check_draws(G_MULTI_COUNTS, COUNT(G_MULTI_COUNTS), seed, G_MULTI_COUNTS_DRAWS,
                COUNT(G_MULTI_COUNTS_DRAWS));
    check_draws(G_MULTI_SOFTMAX, COUNT(G_MULTI_SOFTMAX), seed, G_MULTI_SOFTMAX_DRAWS,
                COUNT(G_MULTI_SOFTMAX_DRAWS));
}

/* The notebook's name sampler: rows of a 27x27 table, one generator. */
static void test_multinomial_sampling_loop(void **state)
{
    (void)state;
    lt_rng g;
    lt_rng_seed(&g, 2147483647u + 10u);
    int64_t k = 0;
    for (int name = 0; name < 10; name++) {
        int64_t ix = 0;
        do {
            ix = lt_rng_multinomial(&g, G_MULTI_TABLE + 27 * ix, 27);
            assert_true(k < COUNT(G_MULTI_TABLE_DRAWS));
            assert_int_equal(ix, G_MULTI_TABLE_DRAWS[k]);
            k++;
        } while (ix != 0);
    }
    assert_int_equal(k, COUNT(G_MULTI_TABLE_DRAWS));
}

static void test_multinomial_frequencies(void **state)
{
    (void)state;
    const float probs[5] = {1.0f, 0.0f, 2.0f, 3.0f, 4.0f};
    int64_t counts[5] = {0};
    lt_rng g;
    lt_rng_seed(&g, 2024);
    const int draws = 20000;
    for (int k = 0; k < draws; k++) {
        int64_t ix = lt_rng_multinomial(&g, probs, 5);
        assert_true(ix >= 0 && ix < 5);
        counts[ix]++;
    }
    assert_int_equal(counts[1], 0); /* a zero weight is never drawn */
    for (int i = 0; i < 5; i++) {
        double expected = draws * probs[i] / 10.0;
        assert_true(fabs((double)counts[i] - expected) < 0.05 * draws);
    }
}

static void test_multinomial_rejects_bad_weights(void **state)
{
    (void)state;
    lt_rng g, fresh;
    seed_twins(&g, &fresh, 4);
    const float negative[3] = {0.5f, -0.1f, 0.6f};
    const float zeros[3] = {0.0f, 0.0f, 0.0f};
    const float with_nan[3] = {0.5f, NAN, 0.5f};
    const float with_inf[3] = {0.5f, INFINITY, 0.5f};
    assert_int_equal(lt_rng_multinomial(&g, negative, 3), -1);
    assert_int_equal(lt_rng_multinomial(&g, zeros, 3), -1);
    assert_int_equal(lt_rng_multinomial(&g, with_nan, 3), -1);
    assert_int_equal(lt_rng_multinomial(&g, with_inf, 3), -1);
    assert_int_equal(lt_rng_multinomial(&g, negative, 0), -1);
    assert_int_equal(lt_rng_multinomial(&g, NULL, 3), -1);
    assert_int_equal(lt_rng_multinomial(NULL, negative, 3), -1);
    assert_int_equal(lt_rng_u32(&g), lt_rng_u32(&fresh)); /* nothing drawn */
}

/* P = (a * a) * b with a, b = two torch.rand(N, C) from one generator, and
 * columns 1 and C/2 zeroed when C > 4: as tools/gen_rng_golden.py builds it. */
static lt_tensor *golden_probs(lt_ctx *ctx, uint64_t seed, int64_t n, int64_t c)
{
    lt_tensor *p = lt_empty(ctx, LT_F32, LT_SHAPE(n, c));
    assert_non_null(p);
    float *d = lt_data_f32(p);
    float *b = alloc_floats(n * c);
    lt_rng g;
    lt_rng_seed(&g, seed);
    for (int64_t i = 0; i < n * c; i++)
        d[i] = lt_rng_uniform(&g);
    for (int64_t i = 0; i < n * c; i++)
        b[i] = lt_rng_uniform(&g);
    for (int64_t i = 0; i < n * c; i++) {
        bool zeroed = c > 4 && (i % c == 1 || i % c == c / 2);
        d[i] = zeroed ? 0.0f : (d[i] * d[i]) * b[i];
    }
    free(b);
    return p;
}

static void test_multinomial_rows_match_torch(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    int64_t k = 0;
    for (int c = 0; c < G_MROW_CASES; c++) {
        int64_t n = G_MROW_N[c];
        lt_tensor *p = golden_probs(ctx, G_MROW_SEED[c] + 1000, n, G_MROW_C[c]);
        lt_rng g;
        lt_rng_seed(&g, G_MROW_SEED[c]);
        for (int call = 0; call < 3; call++) {
            lt_tensor *ix = lt_multinomial(ctx, &g, p);
            assert_non_null(ix);
            assert_int_equal(ix->ndim, 2);
            assert_int_equal(ix->shape[0], n);
            assert_int_equal(ix->shape[1], 1);
            assert_int_equal(ix->dtype, LT_I32);
            for (int64_t r = 0; r < n; r++, k++)
                if (lt_get_i32(ix, r) != G_MROW_DRAWS[k])
                    fail_msg("case %d call %d row %lld: got %d, want %d", c, call, (long long)r,
                             lt_get_i32(ix, r), G_MROW_DRAWS[k]);
        }
    }
    assert_int_equal(k, COUNT(G_MROW_DRAWS));
    /* a (C,) vector gives (1,), the same draw as lt_rng_multinomial */
    lt_tensor *row = lt_from_f32(ctx, LT_SHAPE(27), G_MULTI_COUNTS);
    lt_rng g;
    lt_rng_seed(&g, 2147483647u + 10u);
    for (int64_t i = 0; i < COUNT(G_MULTI_COUNTS_DRAWS); i++) {
        lt_tensor *ix = lt_multinomial(ctx, &g, row);
        assert_non_null(ix);
        assert_int_equal(ix->ndim, 1);
        assert_int_equal(ix->shape[0], 1);
        assert_int_equal(lt_get_i32(ix, 0), G_MULTI_COUNTS_DRAWS[i]);
    }
    lt_ctx_free(ctx);
}

static void expect_multinomial_error(lt_ctx *ctx, lt_rng *g, lt_tensor *p, lt_status want,
                                     const char *needle)
{
    expect_refused(ctx, lt_multinomial(ctx, g, p) != NULL, want, needle);
}

static void test_multinomial_rows_reject_bad_input(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    lt_rng g, fresh;
    seed_twins(&g, &fresh, 8);
    const float ok_row[3] = {0.2f, 0.3f, 0.5f};
    float data[2][3] = {{0.2f, 0.3f, 0.5f}, {0.2f, 0.3f, 0.5f}};
    lt_tensor *p = lt_from_f32(ctx, LT_SHAPE(2, 3), &data[0][0]);
    float *d = lt_data_f32(p);
    d[4] = NAN;
    expect_multinomial_error(ctx, &g, p, LT_ERR_ARG, "probs[1,1] = nan");
    d[4] = INFINITY;
    expect_multinomial_error(ctx, &g, p, LT_ERR_ARG, "probs[1,1] = inf");
    d[4] = -0.25f;
    expect_multinomial_error(ctx, &g, p, LT_ERR_ARG, "probs[1,1] = -0.25");
    d[3] = d[4] = d[5] = 0.0f;
    expect_multinomial_error(ctx, &g, p, LT_ERR_ARG, "row 1 has no positive weight");
    expect_multinomial_error(ctx, &g, lt_zeros(ctx, LT_I32, LT_SHAPE(2, 3)), LT_ERR_DTYPE, "F32");
    expect_multinomial_error(ctx, &g, lt_ones(ctx, LT_SHAPE(2, 3, 4)), LT_ERR_SHAPE, "(2,3,4)");
    expect_multinomial_error(ctx, &g, lt_ones(ctx, LT_SHAPE(0, 3)), LT_ERR_SHAPE, "(0,3)");
    expect_multinomial_error(ctx, &g, lt_ones(ctx, LT_SHAPE(2, 0)), LT_ERR_SHAPE, "(2,0)");
    expect_multinomial_error(ctx, &g, lt_transpose(ctx, lt_ones(ctx, LT_SHAPE(3, 2)), 0, 1), LT_ERR_ARG,
                             "contiguous");
    expect_multinomial_error(ctx, &g, NULL, LT_ERR_ARG, "multinomial: argument 1 is NULL");
    expect_multinomial_error(ctx, NULL, lt_from_f32(ctx, LT_SHAPE(3), ok_row), LT_ERR_ARG, "generator");
    assert_int_equal(lt_rng_u32(&g), lt_rng_u32(&fresh)); /* nothing drawn by any of them */
    lt_ctx_free(ctx);
}

/* ---- Python random ------------------------------------------------------------ */

static void test_py_seed_words(void **state)
{
    (void)state;
    for (int64_t s = 0; s < COUNT(G_PY_SEEDS); s++) {
        lt_pyrandom r;
        lt_pyrandom_seed(&r, G_PY_SEEDS[s]);
        for (int k = 0; k < 4; k++)
            assert_int_equal(lt_pyrandom_u32(&r), G_PY_WORDS[4 * s + k]);
    }
}

static void test_py_getrandbits(void **state)
{
    (void)state;
    lt_pyrandom r;
    lt_pyrandom_seed(&r, 123);
    for (int64_t i = 0; i < COUNT(G_PY_BITS_K); i++)
        assert_int_equal(lt_pyrandom_getrandbits(&r, G_PY_BITS_K[i]), G_PY_BITS[i]);
    /* getrandbits(0) is 0 and draws nothing; k > 32 is outside the API */
    lt_pyrandom a, b;
    lt_pyrandom_seed(&a, 9);
    lt_pyrandom_seed(&b, 9);
    assert_int_equal(lt_pyrandom_getrandbits(&a, 0), 0);
    assert_int_equal(lt_pyrandom_getrandbits(&a, 33), 0);
    assert_int_equal(lt_pyrandom_u32(&a), lt_pyrandom_u32(&b));
}

static void test_py_randbelow(void **state)
{
    (void)state;
    lt_pyrandom r;
    lt_pyrandom_seed(&r, 5);
    for (int64_t i = 0; i < COUNT(G_PY_BELOW_N); i++)
        assert_true(lt_pyrandom_randbelow(&r, G_PY_BELOW_N[i]) == G_PY_BELOW[i]);
}

static void test_py_shuffle_100(void **state)
{
    (void)state;
    int32_t x[100];
    for (int i = 0; i < 100; i++)
        x[i] = i;
    lt_pyrandom r;
    lt_pyrandom_seed(&r, 42);
    lt_pyrandom_shuffle(&r, x, 100, sizeof x[0]);
    assert_memory_equal(x, G_PY_SHUFFLE100, sizeof x);
}

static int32_t *shuffled_indices(uint64_t seed, size_t n)
{
    int32_t *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = (int32_t)i;
    lt_pyrandom r;
    lt_pyrandom_seed(&r, seed);
    lt_pyrandom_shuffle(&r, x, n, sizeof *x);
    return x;
}

static void test_py_shuffle_32033(void **state)
{
    (void)state;
    const size_t n = G_PY_SHUFFLE_BIG_N;
    int32_t *x = shuffled_indices(42, n);
    assert_memory_equal(x, G_PY_SHUFFLE_BIG_HEAD, sizeof G_PY_SHUFFLE_BIG_HEAD);
    assert_memory_equal(x + n - 10, G_PY_SHUFFLE_BIG_TAIL, sizeof G_PY_SHUFFLE_BIG_TAIL);
    free(x);
}

/* Element size only changes what is moved, never the permutation. */
typedef struct wide { int32_t key; unsigned char pad[96]; } wide;

static void test_py_shuffle_any_element_size(void **state)
{
    (void)state;
    const size_t n = 100;
    wide *w = calloc(n, sizeof *w);
    assert_non_null(w);
    for (size_t i = 0; i < n; i++) {
        w[i].key = (int32_t)i;
        memset(w[i].pad, (int)(i & 0xff), sizeof w[i].pad);
    }
    lt_pyrandom r;
    lt_pyrandom_seed(&r, 42);
    lt_pyrandom_shuffle(&r, w, n, sizeof *w);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(w[i].key, G_PY_SHUFFLE100[i]);
        assert_int_equal(w[i].pad[95], G_PY_SHUFFLE100[i] & 0xff);
    }
    free(w);
}

/* ---- the real data set ---------------------------------------------------------- */

/* CMake defines LT_SHARED_DIR for the tests; a bare compile has no data. */
#ifdef LT_SHARED_DIR
static const char *const NAMES_PATH = LT_SHARED_DIR "/data/names.txt";
#else
static const char *const NAMES_PATH = NULL;
#endif

/* Whole file in memory with '\n' replaced by '\0' (Python's splitlines for
 * this file: the last line has no newline). Returns the line count. */
static size_t read_lines(const char *path, char **buffer, char ***lines)
{
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f)
        return 0;
    size_t cap = 1 << 20, len = 0, got;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[len] = '\0';
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
        count += buf[i] == '\n';
    count += len > 0 && buf[len - 1] != '\n';
    char **out = malloc(count * sizeof *out);
    assert_non_null(out);
    char *p = buf;
    for (size_t k = 0; k < count; k++) {
        out[k] = p;
        char *nl = strchr(p, '\n');
        if (nl) {
            *nl = '\0';
            p = nl + 1;
        }
        size_t l = strlen(out[k]);
        if (l > 0 && out[k][l - 1] == '\r')
            out[k][l - 1] = '\0';
    }
    *buffer = buf;
    *lines = out;
    return count;
}

static void test_names_split_matches_python(void **state)
{
    (void)state;
    char *buf = NULL;
    char **words = NULL;
    size_t n = read_lines(NAMES_PATH, &buf, &words);
    if (n == 0) {
        printf("SKIPPED: names.txt not found at %s\n",
               NAMES_PATH ? NAMES_PATH : "(LT_SHARED_DIR not defined)");
        fflush(stdout);
        skip();
    }
    assert_int_equal(n, 32033);
    int32_t *ix = shuffled_indices(42, n);
    static const char *const head[5] = {"yuheng", "diondre", "xavien", "jori", "juanluis"};
    static const char *const tail[3] = {"opal", "zaylynn", "yovani"};
    for (int k = 0; k < 5; k++)
        assert_string_equal(words[ix[k]], head[k]);
    for (int k = 0; k < 3; k++)
        assert_string_equal(words[ix[n - 3 + (size_t)k]], tail[k]);
    free(ix);
    free(words);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u32_matches_torch),
        cmocka_unit_test(test_u64_is_first_draw_high),
        cmocka_unit_test(test_uniform_matches_torch_rand),
        cmocka_unit_test(test_randn_matches_torch),
        cmocka_unit_test(test_randn_cached_sample_sequence),
        cmocka_unit_test(test_randn_notebook_init),
        cmocka_unit_test(test_randn_fill_tensor),
        cmocka_unit_test(test_randn_fill_rejects_bad_input),
        cmocka_unit_test(test_randn_large_matches_torch),
        cmocka_unit_test(test_normal_fill_matches_torch),
        cmocka_unit_test(test_normal_fill_rejects_bad_input),
        cmocka_unit_test(test_mixed_sequence_matches_torch),
        cmocka_unit_test(test_randint_matches_torch),
        cmocka_unit_test(test_randint_doc_values),
        cmocka_unit_test(test_randint_rejects_bad_range),
        cmocka_unit_test(test_multinomial_matches_torch),
        cmocka_unit_test(test_multinomial_sampling_loop),
        cmocka_unit_test(test_multinomial_frequencies),
        cmocka_unit_test(test_multinomial_rejects_bad_weights),
        cmocka_unit_test(test_multinomial_rows_match_torch),
        cmocka_unit_test(test_multinomial_rows_reject_bad_input),
        cmocka_unit_test(test_py_seed_words),
        cmocka_unit_test(test_py_getrandbits),
        cmocka_unit_test(test_py_randbelow),
        cmocka_unit_test(test_py_shuffle_100),
        cmocka_unit_test(test_py_shuffle_32033),
        cmocka_unit_test(test_py_shuffle_any_element_size),
        cmocka_unit_test(test_names_split_matches_python),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
