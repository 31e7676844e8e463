/* test_lifetimes.c - where a tensor may be used: a temporary only in the
 * context that made it and only until that context's next lt_ctx_reset
 * (refused with a message otherwise); a persistent tensor in any context
 * until it is freed. */
#include "test_support.h"

#include <math.h>
#include <stdio.h>

/* The simplest case: used right after the reset. */
static void test_temporary_after_reset(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *t = lt_ones(ctx, LT_SHAPE(3));
    lt_ctx_reset(ctx);
    assert_null(lt_add(ctx, t, t));
    ts_assert_error(ctx, LT_ERR_ARG, "add: argument 1 is a temporary from before lt_ctx_reset", NULL);
    assert_false(lt_fill(ctx, t, 1.0f));
    ts_assert_error(ctx, LT_ERR_ARG, "fill: argument 1 is a temporary from before lt_ctx_reset", NULL);
    assert_true(isnan(lt_item(ctx, lt_view(ctx, t, LT_SHAPE(-1)))));
    ts_assert_error(ctx, LT_ERR_ARG, "view: argument 1", NULL);
    lt_ctx_free(ctx);
}

/* The usual mistake: a constant made once, before the loop, used in the
 * steps after the reset that starts each. The step's own temporaries have
 * reused its memory by then; it is refused at the first use all the same
 * (and the error is sticky: a program stops there. A later use is not
 * always caught: by then a new temporary may sit at the same address). */
static void test_temporary_kept_across_steps(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *w = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(4, 4), 1, -1, 1), true);
    lt_tensor *x = ts_random(ctx, LT_SHAPE(8, 4), 2, -1, 1);
    lt_tensor *half = lt_full(ctx, LT_SHAPE(4), 0.5f); /* made before the loop: wrong */
    for (int step = 0; step < 3; step++) {
        lt_ctx_reset(ctx);
        lt_tensor *h = lt_tanh(ctx, lt_matmul(ctx, x, w));
        lt_tensor *loss = lt_sum(ctx, lt_mul(ctx, h, half));
        if (!loss)
            break;
        assert_true(lt_backward(ctx, loss));
    }
    ts_assert_error(ctx, LT_ERR_ARG, "mul: argument 2 is a temporary from before lt_ctx_reset", NULL);
    assert_int_equal(lt_tape_size(ctx), 2); /* refused in the first step, after matmul and tanh */
    /* made inside the step, it works */
    for (int step = 0; step < 3; step++) {
        lt_ctx_reset(ctx);
        half = lt_full(ctx, LT_SHAPE(4), 0.5f);
        lt_tensor *h = lt_tanh(ctx, lt_matmul(ctx, x, w));
        assert_true(lt_backward(ctx, lt_sum(ctx, lt_mul(ctx, h, half))));
    }
    lt_ctx_free(ctx);
}

/* Views, gradients as tensors and op results are temporaries, even of a
 * persistent tensor; the persistent tensor itself outlives every reset. */
static void test_views_and_grads_are_temporaries(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *w = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(3, 2), 3, -1, 1), true);
    lt_tensor *wt = lt_transpose(ctx, w, 0, 1), *g = lt_grad(ctx, w);
    lt_ctx_reset(ctx);
    assert_null(lt_matmul(ctx, lt_ones(ctx, LT_SHAPE(4, 2)), wt));
    ts_assert_error(ctx, LT_ERR_ARG, "matmul: argument 2 is a temporary from before lt_ctx_reset", NULL);
    assert_false(lt_assign(ctx, w, g));
    ts_assert_error(ctx, LT_ERR_ARG, "assign: argument 2 is a temporary", NULL);
    for (int i = 0; i < 5; i++)
        lt_ctx_reset(ctx);
    assert_non_null(lt_matmul(ctx, lt_ones(ctx, LT_SHAPE(4, 3)), w)); /* persistent: fine */
    assert_non_null(lt_transpose(ctx, w, 0, 1));
    assert_int_equal(lt_status_of(ctx), LT_OK);
    lt_ctx_free(ctx);
}

/* Arguments that are not lt_check_args'd by name in every op: optional
 * inputs, arrays, parameters, checkpoint entries, the loss. */
static void test_every_kind_of_argument(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = ts_random(ctx, LT_SHAPE(4, 3), 4, -1, 1), *w = ts_random(ctx, LT_SHAPE(3, 3), 5, -1, 1);
    lt_requires_grad(ctx, w, true);
    lt_tensor *old = lt_ones(ctx, LT_SHAPE(3));
    lt_tensor *stale_param = lt_requires_grad(ctx, lt_zeros(ctx, LT_F32, LT_SHAPE(3)), true);
    lt_tensor *loss = lt_sum(ctx, lt_matmul(ctx, x, w));
    lt_optim_config cfg = lt_optim_defaults(LT_OPTIM_SGD, 0.1f);
    lt_optim *opt = lt_optim_new(ctx, &cfg, &stale_param, 1); /* a temporary parameter: valid until the reset */
    assert_non_null(opt);
    lt_ctx_reset(ctx);
    assert_null(lt_linear(ctx, x, w, old));
    ts_assert_error(ctx, LT_ERR_ARG, "linear: argument 3 is a temporary from before lt_ctx_reset", NULL);
    assert_null(lt_batchnorm(ctx, x, old, NULL, NULL, NULL, true, 0.1f, 1e-5f));
    ts_assert_error(ctx, LT_ERR_ARG, "batchnorm: argument 2 is a temporary", NULL);
    assert_null(lt_batchnorm(ctx, x, NULL, old, NULL, NULL, true, 0.1f, 1e-5f));
    ts_assert_error(ctx, LT_ERR_ARG, "batchnorm: argument 3 is a temporary", NULL);
    assert_null(lt_batchnorm(ctx, x, NULL, NULL, old, NULL, true, 0.1f, 1e-5f));
    ts_assert_error(ctx, LT_ERR_ARG, "batchnorm: argument 4 is a temporary", NULL);
    assert_null(lt_layernorm(ctx, x, NULL, old, 1e-5f));
    ts_assert_error(ctx, LT_ERR_ARG, "layernorm: argument 3 is a temporary", NULL);
    assert_null(lt_cat(ctx, (lt_tensor *[]){lt_view(ctx, x, LT_SHAPE(-1)), old}, 2, 0));
    ts_assert_error(ctx, LT_ERR_ARG, "cat: tensor 1 of 2 is a temporary from before lt_ctx_reset", NULL);
    assert_false(lt_optim_step(opt));
    ts_assert_error(ctx, LT_ERR_ARG, "optim_step: parameter 0 is a temporary from before lt_ctx_reset", NULL);
    assert_false(lt_backward(ctx, loss));
    ts_assert_error(ctx, LT_ERR_ARG, "backward: argument 1 is a temporary", NULL);
    const char *file = ts_temp_file(1, "");
    assert_false(lt_safetensors_save(ctx, file, &(lt_named_tensor){"b", old}, 1, NULL, 0));
    ts_assert_error(ctx, LT_ERR_ARG, "safetensors: save: tensor 'b' is a temporary from before lt_ctx_reset", NULL);
    assert_true(lt_safetensors_save(ctx, file, &(lt_named_tensor){"b", w}, 1, NULL, 0));
    lt_safetensors *st = lt_safetensors_load(ctx, file);
    assert_non_null(st);
    lt_tensor *dst = lt_zeros(ctx, LT_F32, LT_SHAPE(3, 3));
    lt_ctx_reset(ctx);
    assert_false(lt_safetensors_read(ctx, st, "b", dst));
    ts_assert_error(ctx, LT_ERR_ARG, "safetensors: read: the destination tensor is a temporary", NULL);
    lt_safetensors_free(st);
    remove(file);
    lt_rng g;
    lt_rng_seed(&g, 1);
    assert_false(lt_randn_fill(ctx, &g, old));
    ts_assert_error(ctx, LT_ERR_ARG, "randn_fill: argument 1 is a temporary", NULL);
    lt_optim_free(opt);
    lt_ctx_free(ctx);
}

/* y = 2x, an op outside the library: lt_check_args and lt_record check too. */
static void twice_backward(lt_ctx *ctx, lt_node *node)
{
    float *dx = lt_grad_buffer(ctx, node->in[0]);
    for (int64_t i = 0; dx && i < lt_numel(node->out); i++)
        dx[i] += 2.0f * lt_grad_f32(node->out)[i];
}

static const lt_op twice_op = {"twice", twice_backward, LT_SAVES_NONE};

static void test_user_defined_op(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(3), 6, -1, 1), true);
    lt_tensor *old = lt_add(ctx, x, x);
    lt_ctx_reset(ctx);
    assert_false(lt_check_args(ctx, "twice", 1, &old));
    ts_assert_error(ctx, LT_ERR_ARG, "twice: argument 1 is a temporary from before lt_ctx_reset", NULL);
    lt_tensor *y = lt_empty(ctx, LT_F32, LT_SHAPE(3));
    assert_null(lt_record(ctx, &twice_op, y, 1, &old));
    ts_assert_error(ctx, LT_ERR_ARG, "twice: argument 1 is a temporary", NULL);
    assert_int_equal(lt_tape_size(ctx), 0);
    lt_ctx_free(ctx);
}

/* A temporary of one context in another: refused (it was a partial gradient
 * before, and a use after free once its context was freed). A persistent
 * tensor works in any context: the example programs evaluate their
 * parameters in a second context. */
static void test_two_contexts(void **state)
{
    (void)state;
    lt_ctx *a = lt_ctx_new(), *b = lt_ctx_new();
    lt_tensor *w = lt_requires_grad(a, lt_new_from(a, LT_F32, LT_SHAPE(2), (float[]){1, 2}), true);
    lt_tensor *h = lt_mul(a, w, w); /* a's temporary, on a's tape */
    assert_null(lt_sum(b, h));
    ts_assert_error(b, LT_ERR_ARG, "sum: argument 1 belongs to another context", NULL);
    assert_null(lt_add(b, lt_ones(b, LT_SHAPE(2)), h));
    ts_assert_error(b, LT_ERR_ARG, "add: argument 2 belongs to another context", NULL);
    assert_false(lt_backward(b, lt_sum(a, h)));
    ts_assert_error(b, LT_ERR_ARG, "backward: argument 1 belongs to another context", NULL);
    lt_ctx_reset(a);
    assert_null(lt_sum(b, h)); /* now stale as well: still another context's */
    ts_assert_error(b, LT_ERR_ARG, "belongs to another context", NULL);
    /* the persistent parameter in b, with b's tape: the gradient reaches w */
    assert_true(lt_backward(b, lt_sum(b, lt_mul(b, w, w))));
    ts_assert_near(lt_grad(b, w), (float[]){2, 4}, 2, 0, 0);
    lt_ctx_free(a); /* frees w: b's temporaries stay usable, w is gone */
    assert_non_null(lt_ones(b, LT_SHAPE(2)));
    assert_int_equal(lt_status_of(b), LT_OK);
    lt_ctx_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_temporary_after_reset),
        cmocka_unit_test(test_temporary_kept_across_steps),
        cmocka_unit_test(test_views_and_grads_are_temporaries),
        cmocka_unit_test(test_every_kind_of_argument),
        cmocka_unit_test(test_user_defined_op),
        cmocka_unit_test(test_two_contexts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
