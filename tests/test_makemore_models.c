/* test_makemore_models.c - makemore's six models (examples/makemore)
 * against makemore.py's own classes in PyTorch 1.13: parameter names,
 * count and initial values bit for bit after torch.manual_seed(3407) and
 * the split's randperm, logits and loss on a fixed batch, gradients; plus
 * central-difference gradient checks on tiny configurations, the
 * configuration and input errors, no allocation in the steady state, and
 * the same results on 1 and 2 threads. Golden values:
 * tests/data/golden_makemore.h (tools/golden_makemore.py). */
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
#include "model.h"
#include "test_support.h"

#include "data/golden_makemore.h"
#include "rng_checks.h"

typedef struct golden_case {
    int n_param;
    int64_t param_count;
    const char *const *names;
    const int64_t *shapes; /* two sizes per parameter (0 for a missing dim) */
    const uint64_t *hash;
    const float *first;
    const int32_t *idx, *targets; /* (G_MM_B, T) */
    const float *logits;          /* (G_MM_B, T, vocab) */
    const float *loss;
    const double *grad_norm;
    const float *grad_samples; /* G_MM_SAMPLES per parameter */
} golden_case;

static const golden_case golden[G_MM_N_CASES] = {
    G_MM_CASE_DATA(0), G_MM_CASE_DATA(1), G_MM_CASE_DATA(2), G_MM_CASE_DATA(3),
    G_MM_CASE_DATA(4), G_MM_CASE_DATA(5), G_MM_CASE_DATA(6), G_MM_CASE_DATA(7),
    G_MM_CASE_DATA(8), G_MM_CASE_DATA(9), G_MM_CASE_DATA(10), G_MM_CASE_DATA(11),
};

static mm_type type_named(const char *name)
{
    for (int t = 0; t < MM_N_TYPES; t++)
        if (strcmp(mm_type_name((mm_type)t), name) == 0)
            return (mm_type)t;
    fail_msg("no model type named %s", name);
    return MM_N_TYPES;
}

/* makemore.py's defaults for the sizes it does not take from the data. */
static mm_config config_of(mm_type type, int vocab, int block)
{
    return (mm_config){.type = type, .vocab_size = vocab, .block_size = block,
                       .n_layer = 4, .n_head = 4, .n_embd = 64, .n_embd2 = 64};
}

/* The model of golden case c, created as makemore.py creates it. */
static void create_case(lt_ctx *ctx, int c, mm_model *m)
{
    lt_rng g;
    lt_rng_seed(&g, G_MM_SEED);
    if (G_MM_CASES[c].perm_n > 0) {
        int32_t *perm = malloc(sizeof *perm * (size_t)G_MM_CASES[c].perm_n);
        assert_non_null(perm);
        assert_true(lt_rng_randperm(&g, perm, G_MM_CASES[c].perm_n));
        free(perm);
    }
    mm_config cfg = config_of(type_named(G_MM_CASES[c].type), G_MM_CASES[c].vocab, G_MM_CASES[c].block);
    if (!mm_model_create(ctx, &cfg, &g, m))
        fail_msg("case %d (%s): create failed: %s", c, G_MM_CASES[c].type, lt_error_message(ctx));
}

/* The loss of golden case c's batch: logits (B,T,V) then cross-entropy
 * ignoring -1. */
static lt_tensor *case_loss(lt_ctx *ctx, const mm_model *m, int c, lt_tensor **logits_out)
{
    int T = G_MM_CASES[c].T;
    lt_tensor *idx = lt_from_i32(ctx, LT_SHAPE(G_MM_B, T), golden[c].idx);
    lt_tensor *targets = lt_from_i32(ctx, LT_SHAPE(G_MM_B, T), golden[c].targets);
    lt_tensor *logits = m->logits(ctx, m, idx);
    if (!logits)
        fail_msg("case %d (%s): logits failed: %s", c, G_MM_CASES[c].type, lt_error_message(ctx));
    if (logits_out)
        *logits_out = logits;
    return lt_cross_entropy_ignore(ctx, logits, targets, -1);
}

/* ---- parameters: names, shapes, count, initial values bit for bit -------- */

static void check_params(int c, const mm_model *m)
{
    const golden_case *gc = &golden[c];
    const char *type = G_MM_CASES[c].type;
    assert_int_equal(m->n_param, gc->n_param);
    assert_int_equal(mm_param_count(m), gc->param_count);
    for (int i = 0; i < m->n_param; i++) {
        lt_tensor *p = m->param[i];
        if (strcmp(m->name[i], gc->names[i]) != 0)
            fail_msg("case %d (%s): parameter %d is %s, PyTorch's is %s", c, type, i, m->name[i], gc->names[i]);
        assert_true(p->ndim >= 1 && p->ndim <= 2 && p->requires_grad && lt_is_contiguous(p));
        assert_int_equal(p->shape[0], gc->shapes[2 * i]);
        assert_int_equal(p->ndim == 2 ? p->shape[1] : 0, gc->shapes[2 * i + 1]);
        char what[160];
        snprintf(what, sizeof what, "case %d (%s) %s", c, type, m->name[i]);
        assert_floats_identical(lt_data_f32(p), &gc->first[i], 1, what);
        if (fnv1a64(lt_data_f32(p), (size_t)lt_numel(p) * sizeof(float)) != gc->hash[i])
            fail_msg("%s: initial values differ from PyTorch's (hash)", what);
    }
}

static void test_params_match_pytorch(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    for (int c = 0; c < G_MM_N_CASES; c++) {
        mm_model m;
        create_case(ctx, c, &m);
        check_params(c, &m);
        mm_model_free(&m);
        assert_int_equal(m.n_param, 0);
    }
    lt_ctx_free(ctx);
}

/* ---- forward and backward against PyTorch --------------------------------- */

static void check_gradients(int c, const mm_model *m)
{
    const golden_case *gc = &golden[c];
    for (int i = 0; i < m->n_param; i++) {
        lt_tensor *p = m->param[i];
        int64_t n = lt_numel(p), step = n / G_MM_SAMPLES > 1 ? n / G_MM_SAMPLES : 1;
        double norm = 0;
        for (int64_t j = 0; j < n; j++)
            norm += (double)lt_grad_get(p, j) * lt_grad_get(p, j);
        char what[160];
        snprintf(what, sizeof what, "case %d (%s) grad norm of %s", c, G_MM_CASES[c].type, m->name[i]);
        ts_assert_value(what, sqrt(norm), gc->grad_norm[i], 1e-7, 1e-4);
        for (int64_t k = 0; k < G_MM_SAMPLES && k * step < n; k++) {
            snprintf(what, sizeof what, "case %d (%s) grad of %s[%lld]", c, G_MM_CASES[c].type, m->name[i],
                     (long long)(k * step));
            ts_assert_value(what, lt_grad_get(p, k * step), gc->grad_samples[i * G_MM_SAMPLES + k], 2e-6, 1e-3);
        }
    }
}

static void test_forward_backward_match_pytorch(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    for (int c = 0; c < G_MM_N_CASES; c++) {
        mm_model m;
        create_case(ctx, c, &m);
        lt_tensor *logits;
        lt_tensor *loss = case_loss(ctx, &m, c, &logits);
        assert_non_null(loss);
        ts_assert_shape(logits, LT_SHAPE(G_MM_B, G_MM_CASES[c].T, G_MM_CASES[c].vocab));
        ts_assert_near(logits, golden[c].logits, lt_numel(logits), 2e-5, 1e-4);
        char what[64];
        snprintf(what, sizeof what, "case %d (%s) loss", c, G_MM_CASES[c].type);
        ts_assert_value(what, lt_item(ctx, loss), golden[c].loss[0], 1e-6, 1e-5);
        assert_true(lt_backward(ctx, loss));
        check_gradients(c, &m);
        mm_model_free(&m);
        lt_ctx_reset(ctx);
    }
    lt_ctx_free(ctx);
}

/* ---- gradient checks on tiny configurations --------------------------------- */

typedef struct tiny {
    mm_model m;
    int32_t idx[2 * 4], targets[2 * 4]; /* (2,4) */
} tiny;

/* The model's loss on the tiny batch; inputs are the model's parameters. */
static lt_tensor *tiny_loss(lt_ctx *ctx, lt_tensor **inputs, void *user)
{
    tiny *t = user;
    (void)inputs; /* the same tensors as t->m.param */
    lt_tensor *idx = lt_from_i32(ctx, LT_SHAPE(2, 4), t->idx);
    lt_tensor *targets = lt_from_i32(ctx, LT_SHAPE(2, 4), t->targets);
    return lt_cross_entropy_ignore(ctx, t->m.logits(ctx, &t->m, idx), targets, -1);
}

static void test_gradcheck_tiny_models(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    for (int type = 0; type < MM_N_TYPES; type++) {
        tiny t = {.idx = {0, 3, 1, 4, 2, 2, 0, 1}, .targets = {3, 1, 4, 0, 2, 0, -1, -1}};
        mm_config cfg = {.type = (mm_type)type, .vocab_size = 5, .block_size = 4,
                         .n_layer = 2, .n_head = 2, .n_embd = 4, .n_embd2 = 3};
        lt_rng g;
        lt_rng_seed(&g, 42);
        assert_true(mm_model_create(ctx, &cfg, &g, &t.m));
        /* move the parameters that start at 0 or 1 (bigram table, RNN start,
         * LayerNorms) off their initial values, so every path carries weight */
        ts_rand r = ts_rand_new(9 + (uint64_t)type);
        for (int i = 0; i < t.m.n_param; i++)
            for (int64_t j = 0; j < lt_numel(t.m.param[i]); j++)
                lt_set_f32(t.m.param[i], j, lt_get_f32(t.m.param[i], j) + (float)ts_uniform(&r, -0.3, 0.3));
        print_message("gradcheck %s: %lld parameters\n", mm_type_name((mm_type)type),
                      (long long)mm_param_count(&t.m));
        ts_gradcheck(tiny_loss, t.m.param, t.m.n_param, &t, 1e-2, 2e-4, 1e-2);
        mm_model_free(&t.m);
    }
    lt_ctx_free(ctx);
}

/* ---- errors ---------------------------------------------------------------- */

static void expect_config_error(lt_ctx *ctx, mm_config cfg, const char *a, const char *b)
{
    lt_rng g, fresh;
    seed_twins(&g, &fresh, 5);
    mm_model m;
    memset(&m, 0x5a, sizeof m); /* garbage: a failed create leaves m zeroed */
    assert_false(mm_model_create(ctx, &cfg, &g, &m));
    ts_assert_error(ctx, LT_ERR_ARG, a, b, NULL);
    assert_int_equal(m.n_param, 0);
    assert_int_equal(lt_rng_u32(&g), lt_rng_u32(&fresh)); /* nothing drawn */
}

static void test_config_errors_name_the_value(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    mm_config ok = config_of(MM_TRANSFORMER, 27, 16);
    mm_config c = ok;
    c.n_embd = 65;
    expect_config_error(ctx, c, "n_embd 65 is not a multiple of n_head 4", "transformer");
    c = ok;
    c.n_head = 0;
    expect_config_error(ctx, c, "n_head 0", "transformer");
    c = ok;
    c.n_layer = -1;
    expect_config_error(ctx, c, "n_layer -1", "0..32");
    c = ok;
    c.n_layer = MM_MAX_LAYERS + 1;
    expect_config_error(ctx, c, "n_layer 33", "0..32");
    c = ok;
    c.vocab_size = 0;
    expect_config_error(ctx, c, "vocab_size 0", "transformer");
    c = config_of(MM_MLP, 27, 0);
    expect_config_error(ctx, c, "block_size 0", "mlp");
    c = config_of(MM_RNN, 27, 16);
    c.n_embd2 = 0;
    expect_config_error(ctx, c, "n_embd2 0", "rnn");
    c = config_of(MM_GRU, 27, 16);
    c.n_embd = -3;
    expect_config_error(ctx, c, "n_embd -3", "gru");
    c = config_of(MM_MLP, 27, 4096);
    c.n_embd = 4096;
    expect_config_error(ctx, c, "block_size 4096 * n_embd 4096", "mlp");
    c = ok;
    c.type = MM_N_TYPES;
    expect_config_error(ctx, c, "unknown model type 6", "makemore");
    /* a context holding an error creates nothing */
    lt_fail(ctx, LT_ERR_SHAPE, "earlier");
    lt_rng g;
    lt_rng_seed(&g, 1);
    mm_model m;
    memset(&m, 0x5a, sizeof m);
    assert_false(mm_model_create(ctx, &ok, &g, &m));
    assert_int_equal(m.n_param, 0);
    ts_assert_error(ctx, LT_ERR_SHAPE, "earlier", NULL);
    assert_null(mm_type_name(MM_N_TYPES));
    assert_string_equal(mm_type_name(MM_GRU), "gru");
    lt_ctx_free(ctx);
}

static void test_logits_errors_name_the_input(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    for (int type = 0; type < MM_N_TYPES; type++) {
        mm_config cfg = config_of((mm_type)type, 5, 4);
        lt_rng g;
        lt_rng_seed(&g, 1);
        mm_model m;
        assert_true(mm_model_create(ctx, &cfg, &g, &m));
        const char *name = mm_type_name((mm_type)type);
        int32_t tok[10] = {0, 1, 2, 3, 4, 0, 1, 2, 3, 4};
        assert_null(m.logits(ctx, &m, lt_from_i32(ctx, LT_SHAPE(2, 5), tok)));
        ts_assert_error(ctx, LT_ERR_SHAPE, name, "(2,5)", "block_size 4", NULL);
        tok[6] = 5; /* the MLP's <BLANK> is no input token */
        assert_null(m.logits(ctx, &m, lt_from_i32(ctx, LT_SHAPE(2, 4), tok + 2)));
        ts_assert_error(ctx, LT_ERR_INDEX, name, "token 5 at (1,0)", "0..4", NULL);
        tok[6] = -1;
        assert_null(m.logits(ctx, &m, lt_from_i32(ctx, LT_SHAPE(2, 4), tok + 2)));
        ts_assert_error(ctx, LT_ERR_INDEX, "token -1", NULL);
        assert_null(m.logits(ctx, &m, lt_zeros(ctx, LT_F32, LT_SHAPE(2, 4))));
        ts_assert_error(ctx, LT_ERR_DTYPE, name, "I32", NULL);
        assert_null(m.logits(ctx, &m, lt_zeros(ctx, LT_I32, LT_SHAPE(8))));
        ts_assert_error(ctx, LT_ERR_SHAPE, name, "(8)", NULL);
        /* T shorter than the block works */
        lt_tensor *y = m.logits(ctx, &m, lt_from_i32(ctx, LT_SHAPE(2, 2), tok));
        assert_non_null(y);
        ts_assert_shape(y, LT_SHAPE(2, 2, 5));
        mm_model_free(&m);
        lt_ctx_reset(ctx);
    }
    lt_ctx_free(ctx);
}

/* n_layer 0 is a valid makemore.py Transformer: embeddings, ln_f, lm_head. */
static void test_transformer_without_blocks(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    mm_config cfg = config_of(MM_TRANSFORMER, 7, 5);
    cfg.n_layer = 0;
    lt_rng g;
    lt_rng_seed(&g, 3);
    mm_model m;
    assert_true(mm_model_create(ctx, &cfg, &g, &m));
    assert_int_equal(m.n_param, 5);
    assert_string_equal(m.name[2], "transformer.ln_f.weight");
    assert_string_equal(m.name[4], "lm_head.weight");
    assert_int_equal(mm_param_count(&m), 7 * 64 + 5 * 64 + 2 * 64 + 64 * 7);
    int32_t tok[6] = {0, 1, 2, 3, 4, 5};
    lt_tensor *y = m.logits(ctx, &m, lt_from_i32(ctx, LT_SHAPE(2, 3), tok));
    assert_non_null(y);
    ts_assert_shape(y, LT_SHAPE(2, 3, 7));
    mm_model_free(&m);
    lt_ctx_free(ctx);
}

/* ---- training steps: no allocation in the steady state, any thread count --- */

/* Three AdamW steps of case c's batch on `threads` threads; the logits of
 * the last step into out (when given). Checks that steps 2 and 3 allocate
 * nothing. */
static void train_steps(int c, int threads, float *out)
{
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    assert_true(lt_set_threads(ctx, threads));
    mm_model m;
    create_case(ctx, c, &m);
    lt_optim_config oc = lt_optim_defaults(LT_OPTIM_ADAMW, 5e-4f);
    oc.beta2 = 0.99f;
    lt_optim *opt = lt_optim_new(ctx, &oc, m.param, m.n_param);
    assert_non_null(opt);
    size_t allocations = 0;
    lt_tensor *logits = NULL;
    for (int step = 0; step < 3; step++) {
        if (step == 1)
            allocations = lt_ctx_arena_allocations(ctx);
        lt_ctx_reset(ctx);
        lt_optim_zero_grad(opt);
        lt_tensor *loss = case_loss(ctx, &m, c, &logits);
        assert_true(loss && lt_backward(ctx, loss) && lt_optim_step(opt));
    }
    if (lt_ctx_arena_allocations(ctx) != allocations)
        fail_msg("case %d (%s): steps 2 and 3 allocated (%zu -> %zu)", c, G_MM_CASES[c].type, allocations,
                 lt_ctx_arena_allocations(ctx));
    if (out)
        lt_copy_out_f32(logits, out);
    lt_optim_free(opt);
    mm_model_free(&m);
    lt_ctx_free(ctx);
}

static void test_training_steps_allocate_nothing_and_ignore_threads(void **state)
{
    (void)state;
    for (int c = 0; c < G_MM_N_CASES / 2; c++) {
        size_t n = (size_t)G_MM_B * (size_t)G_MM_CASES[c].T * (size_t)G_MM_CASES[c].vocab;
        float *one = malloc(n * sizeof *one), *two = malloc(n * sizeof *two);
        assert_true(one && two);
        train_steps(c, 1, one);
        train_steps(c, 2, two);
        char what[64];
        snprintf(what, sizeof what, "case %d (%s) logits on 2 threads", c, G_MM_CASES[c].type);
        assert_floats_identical(two, one, (int64_t)n, what);
        free(one);
        free(two);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_match_pytorch),
        cmocka_unit_test(test_forward_backward_match_pytorch),
        cmocka_unit_test(test_gradcheck_tiny_models),
        cmocka_unit_test(test_config_errors_name_the_value),
        cmocka_unit_test(test_logits_errors_name_the_input),
        cmocka_unit_test(test_transformer_without_blocks),
        cmocka_unit_test(test_training_steps_allocate_nothing_and_ignore_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
