/* test_versions.c - version counters: an in-place write to a tensor that a
 * recorded op saved for its backward makes lt_backward fail, naming the op
 * and the tensor, instead of returning a wrong gradient; writes to tensors
 * that no backward reads stay allowed (as in PyTorch). */
#include "test_support.h"

#include <math.h>
#include <string.h>

static lt_tensor *param(lt_ctx *ctx, lt_shape shape, uint64_t seed)
{
    return lt_requires_grad(ctx, ts_random(ctx, shape, seed, -1, 1), true);
}

/* The issue's example: x = [1, 2], loss = sum(x * x), d loss / dx = 2x =
 * [2, 4]. Filling x with 10 between forward and backward gave [20, 20]. */
static void test_issue_example(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(2), (float[]){1, 2}), true);
    assert_true(lt_backward(ctx, lt_sum(ctx, lt_mul(ctx, x, x))));
    ts_assert_near(lt_grad(ctx, x), (float[]){2, 4}, 2, 0, 0);
    lt_zero_grad(x);
    lt_ctx_reset(ctx);
    lt_tensor *loss = lt_sum(ctx, lt_mul(ctx, x, x));
    assert_true(lt_fill(ctx, x, 10.0f));
    assert_false(lt_backward(ctx, loss));
    ts_assert_error(ctx, LT_ERR_GRAPH,
                    "backward: mul's input 1 (2) was modified in place after it was recorded (version 1, saved at 0)",
                    NULL);
    ts_assert_near(lt_grad(ctx, x), (float[]){0, 0}, 2, 0, 0); /* the node did not run */
    lt_ctx_free(ctx);
}

/* tanh's backward reads its output: a write to it, directly or through a
 * view, is refused by both backward entry points. */
static void test_saved_output(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = param(ctx, LT_SHAPE(2, 3), 1);
    lt_tensor *h = lt_tanh(ctx, x);
    lt_tensor *loss = lt_sum(ctx, h);
    lt_set_f32(h, 4, 0.5f);
    assert_false(lt_backward(ctx, loss));
    ts_assert_error(ctx, LT_ERR_GRAPH, "backward: tanh's output (2,3) was modified in place", "(version 1, saved at 0)",
                    NULL);
    lt_ctx_reset(ctx);
    h = lt_tanh(ctx, x);
    assert_true(lt_fill(ctx, lt_select(ctx, lt_narrow(ctx, h, 1, 1, 2), 0, 1), 0.0f)); /* a view of a view */
    assert_int_equal(lt_data_version(h), 1);
    assert_false(lt_backward_grad(ctx, h, lt_ones(ctx, LT_SHAPE(2, 3))));
    ts_assert_error(ctx, LT_ERR_GRAPH, "backward_grad: tanh's output (2,3) was modified in place", NULL);
    lt_ctx_free(ctx);
}

/* Which write to a (2,3) parameter x, saved by mul(x, x). */
enum {
    W_FILL,
    W_ASSIGN,
    W_SET,
    W_SGD,
    W_OPTIM,
    W_RANDN,
    W_NORMAL,
    W_UNIFORM,
    W_LINEAR,
    W_EMBEDDING,
    W_READ,
    W_RAW,
    W_N
};

static void write_in_place(lt_ctx *ctx, int how, lt_tensor *x, const char *file)
{
    lt_rng g;
    lt_rng_seed(&g, 7);
    lt_optim_config cfg = lt_optim_defaults(LT_OPTIM_ADAM, 0.1f);
    switch (how) {
    case W_FILL: assert_true(lt_fill(ctx, x, 3.0f)); break;
    case W_ASSIGN: assert_true(lt_assign(ctx, x, lt_ones(ctx, LT_SHAPE(2, 3)))); break;
    case W_SET: lt_set_f32(x, 5, 1.0f); break;
    case W_SGD: assert_true(lt_sgd_step(ctx, x, 0.1f)); break;
    case W_OPTIM: {
        lt_optim *opt = lt_optim_new(ctx, &cfg, &x, 1);
        assert_true(lt_optim_step(opt));
        lt_optim_free(opt);
        break;
    }
    case W_RANDN: assert_true(lt_randn_fill(ctx, &g, x)); break;
    case W_NORMAL: assert_true(lt_rng_normal_fill(ctx, &g, x, 1.0, 2.0)); break;
    case W_UNIFORM: assert_true(lt_rng_uniform_fill(ctx, &g, x, -1.0, 1.0)); break;
    case W_LINEAR: assert_true(lt_init_linear(ctx, &g, x, NULL)); break;
    case W_EMBEDDING: assert_true(lt_init_embedding(ctx, &g, x)); break;
    case W_READ: {
        lt_safetensors *st = lt_safetensors_load(ctx, file);
        assert_non_null(st);
        assert_true(lt_safetensors_read(ctx, st, "x", x));
        lt_safetensors_free(st);
        break;
    }
    default: /* a write through the raw pointer, declared */
        lt_data_f32(x)[0] = 9.0f;
        lt_bump_version(x);
        break;
    }
}

/* Every in-place writer of the library bumps the version, so each is seen. */
static void test_every_writer_is_seen(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    const char *file = ts_temp_file(0, "");
    lt_tensor *saved = lt_new(ctx, LT_F32, LT_SHAPE(2, 3));
    assert_true(lt_safetensors_save(ctx, file, &(lt_named_tensor){"x", saved}, 1, NULL, 0));
    for (int how = 0; how < W_N; how++) {
        lt_ctx_reset(ctx);
        lt_tensor *x = param(ctx, LT_SHAPE(2, 3), 2);
        lt_tensor *loss = lt_sum(ctx, lt_mul(ctx, x, x));
        uint64_t before = lt_data_version(x);
        write_in_place(ctx, how, x, file);
        assert_int_equal(lt_status_of(ctx), LT_OK);
        if (lt_data_version(x) <= before)
            fail_msg("writer %d did not change the version", how);
        assert_false(lt_backward(ctx, loss));
        ts_assert_error(ctx, LT_ERR_GRAPH, "backward: mul's input 1 (2,3) was modified in place", NULL);
        lt_free(x);
    }
    remove(file);
    lt_ctx_free(ctx);
}

/* What reads a tensor, or writes only its gradient, leaves the version. */
static void test_readers_keep_the_version(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = param(ctx, LT_SHAPE(2, 3), 3);
    lt_tensor *loss = lt_sum(ctx, lt_tanh(ctx, lt_mul(ctx, x, lt_transpose(ctx, lt_transpose(ctx, x, 0, 1), 0, 1))));
    assert_true(lt_backward(ctx, loss));
    lt_clip_grad_norm(ctx, &x, 1, 0.01f);
    lt_zero_grad(x);
    float out[6];
    lt_copy_out_f32(x, out);
    lt_free(lt_new_copy(ctx, x));
    (void)lt_grad(ctx, x);
    (void)lt_data_f32(x); /* handing out the pointer is not a write */
    assert_int_equal(lt_data_version(x), 0);
    assert_int_equal(lt_data_version(NULL), 0);
    lt_bump_version(NULL); /* ignored */
    lt_ctx_free(ctx);
}

/* An optimiser step between forward and backward (the usual order swapped):
 * the second layer's weight was saved for the hidden layer's gradient. */
static void test_optimiser_step_before_backward(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *ps[4] = {param(ctx, LT_SHAPE(4, 8), 4), param(ctx, LT_SHAPE(8), 5), param(ctx, LT_SHAPE(8, 5), 6),
                        param(ctx, LT_SHAPE(5), 7)};
    lt_tensor *x = ts_random(ctx, LT_SHAPE(6, 4), 8, -1, 1);
    lt_tensor *y = lt_new_from(ctx, LT_I32, LT_SHAPE(6), (int32_t[]){0, 1, 2, 3, 4, 0});
    lt_optim_config cfg = lt_optim_defaults(LT_OPTIM_SGD, 0.1f);
    lt_optim *opt = lt_optim_new(ctx, &cfg, ps, 4);
    for (int order = 0; order < 2; order++) {
        lt_ctx_reset(ctx);
        lt_optim_zero_grad(opt);
        lt_tensor *h = lt_tanh(ctx, lt_linear(ctx, x, ps[0], ps[1]));
        lt_tensor *loss = lt_cross_entropy(ctx, lt_linear(ctx, h, ps[2], ps[3]), y);
        if (order == 0) { /* backward, then step: the right order */
            assert_true(lt_backward(ctx, loss));
            assert_true(lt_optim_step(opt));
        } else {
            assert_true(lt_optim_step(opt));
            assert_false(lt_backward(ctx, loss));
            ts_assert_error(ctx, LT_ERR_GRAPH, "backward: linear's input 2 (8,5) was modified in place",
                            "(version 2, saved at 1)", NULL);
        }
    }
    lt_optim_free(opt);
    lt_ctx_free(ctx);
}

/* A product reads each operand only for the other's gradient (PyTorch
 * saves the same): x @ W with a constant x needs x for dW, never W, so
 * stepping W before backward still gives dW = x^T dy. */
static void test_products_read_only_what_they_need(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_new_from(ctx, LT_F32, LT_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6}); /* data: no gradient */
    lt_tensor *w = param(ctx, LT_SHAPE(3, 2), 9);
    for (int op = 0; op < 2; op++) {
        lt_ctx_reset(ctx);
        lt_zero_grad(w);
        lt_tensor *loss = lt_sum(ctx, op == 0 ? lt_matmul(ctx, x, w) : lt_linear(ctx, x, w, NULL));
        assert_true(lt_sgd_step(ctx, w, 0.5f));
        assert_true(lt_backward(ctx, loss));
        /* dW[k][j] = sum over rows of x[., k] */
        ts_assert_near(lt_grad(ctx, w), (float[]){5, 5, 7, 7, 9, 9}, 6, 0, 0);
    }
    /* mul: a requires a gradient, b does not; da = dy * b reads b, not a */
    lt_tensor *a = param(ctx, LT_SHAPE(3), 10);
    lt_tensor *b = lt_new_from(ctx, LT_F32, LT_SHAPE(3), (float[]){2, 3, 4});
    lt_ctx_reset(ctx);
    lt_tensor *loss = lt_sum(ctx, lt_mul(ctx, a, b));
    assert_true(lt_fill(ctx, a, 100.0f));
    assert_true(lt_backward(ctx, loss));
    ts_assert_near(lt_grad(ctx, a), (float[]){2, 3, 4}, 3, 0, 0);
    lt_ctx_reset(ctx);
    loss = lt_sum(ctx, lt_mul(ctx, a, b));
    assert_true(lt_fill(ctx, b, 100.0f));
    assert_false(lt_backward(ctx, loss));
    ts_assert_error(ctx, LT_ERR_GRAPH, "mul's input 2 (3) was modified in place", NULL);
    lt_ctx_free(ctx);
}

/* Ops whose backward reads no input data: writing the inputs after the
 * forward is harmless (PyTorch allows it too), and the gradient is the one
 * of the forward that ran. */
static void test_unread_inputs_may_change(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(2, 2), (float[]){0, 1, 2, 3}), true);
    lt_tensor *table = param(ctx, LT_SHAPE(4, 2), 11);
    lt_tensor *rows = lt_new_from(ctx, LT_I32, LT_SHAPE(3), (int32_t[]){1, 3, 1});
    lt_tensor *targets = lt_new_from(ctx, LT_I32, LT_SHAPE(2), (int32_t[]){0, 1});
    lt_tensor *terms[] = {
        lt_add(ctx, x, x),                                            /* reads nothing */
        lt_mul_scalar(ctx, x, 2.0f),                                  /* nothing */
        lt_exp(ctx, x),                                               /* its output */
        lt_relu(ctx, x),                                              /* its output */
        lt_softmax(ctx, x, 1),                                        /* its output */
        lt_max_dim(ctx, x, 0, false, NULL),                           /* its own indices */
        lt_cat(ctx, (lt_tensor *[]){x, x}, 2, 0),                     /* nothing */
        lt_contiguous(ctx, lt_transpose(ctx, x, 0, 1)),               /* nothing */
        lt_index(ctx, table, rows),                                   /* its own rows */
        lt_view(ctx, lt_cross_entropy(ctx, x, targets), LT_SHAPE(1)), /* its own probabilities */
    };
    int n = (int)(sizeof terms / sizeof terms[0]);
    lt_tensor *total = lt_sum(ctx, terms[0]);
    for (int i = 1; i < n; i++)
        total = lt_add(ctx, total, lt_sum(ctx, terms[i]));
    /* the same graph's gradient, computed before any write, for reference */
    assert_true(lt_fill(ctx, x, -5.0f));
    assert_true(lt_fill(ctx, table, 7.0f));
    lt_set_i32(rows, 0, 0);
    lt_set_i32(targets, 0, 1);
    assert_true(lt_backward(ctx, total));
    /* d/dx: add 2, mul_scalar 2, exp e^x, relu [x > 0], softmax 0, max over
     * dim 0 picks row 1, cat 2, contiguous 1, cross-entropy (p - onehot)/2 */
    float e[4] = {expf(0), expf(1), expf(2), expf(3)};
    float p0 = 1 / (1 + expf(1)), p1 = 1 / (1 + expf(1)); /* softmax of (0,1) and (2,3): first entries */
    float want[4] = {2 + 2 + e[0] + 0 + 0 + 0 + 2 + 1 + (p0 - 1) / 2, 2 + 2 + e[1] + 1 + 0 + 0 + 2 + 1 + (1 - p0) / 2,
                     2 + 2 + e[2] + 1 + 0 + 1 + 2 + 1 + p1 / 2, 2 + 2 + e[3] + 1 + 0 + 1 + 2 + 1 + (-p1) / 2};
    ts_assert_near(lt_grad(ctx, x), want, 4, 1e-5, 1e-5);
    ts_assert_near(lt_grad(ctx, table), (float[]){0, 0, 2, 2, 0, 0, 1, 1}, 8, 0, 0);
    lt_ctx_free(ctx);
}

/* The running statistics that batchnorm updates in place are no input of
 * its node: training steps are never refused because of them, and an
 * evaluation node keeps its own copy of them. An op that did save one sees
 * the update. */
static void test_batchnorm_running_stats(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *w = param(ctx, LT_SHAPE(4, 3), 12), *gain = param(ctx, LT_SHAPE(3), 13),
              *bias = param(ctx, LT_SHAPE(3), 14);
    lt_tensor *mean = lt_new(ctx, LT_F32, LT_SHAPE(3)), *var = lt_new(ctx, LT_F32, LT_SHAPE(3));
    assert_true(lt_fill(ctx, var, 1.0f));
    lt_tensor *x = ts_random(ctx, LT_SHAPE(5, 4), 15, -1, 1);
    for (int step = 0; step < 3; step++) {
        lt_ctx_reset(ctx);
        lt_tensor *h = lt_batchnorm(ctx, lt_matmul(ctx, x, w), gain, bias, mean, var, true, 0.1f, 1e-5f);
        /* a second batch through the same layer updates the statistics again */
        lt_tensor *h2 = lt_batchnorm(ctx, lt_matmul(ctx, x, w), gain, bias, mean, var, true, 0.1f, 1e-5f);
        assert_true(lt_backward(ctx, lt_sum(ctx, lt_tanh(ctx, lt_add(ctx, h, h2)))));
    }
    assert_int_equal(lt_data_version(mean), 6);
    assert_int_equal(lt_data_version(var), 7); /* and its fill */
    /* evaluation with the running statistics, then a training update */
    lt_ctx_reset(ctx);
    lt_tensor *h = lt_batchnorm(ctx, lt_matmul(ctx, x, w), gain, bias, mean, var, false, 0.1f, 1e-5f);
    lt_batchnorm(ctx, lt_matmul(ctx, x, w), NULL, NULL, mean, var, true, 0.5f, 1e-5f);
    assert_true(lt_backward(ctx, lt_sum(ctx, h)));
    /* a product that saved the running mean is refused after the update */
    lt_ctx_reset(ctx);
    lt_tensor *scaled = lt_mul(ctx, lt_matmul(ctx, x, w), mean);
    lt_batchnorm(ctx, lt_matmul(ctx, x, w), NULL, NULL, mean, var, true, 0.1f, 1e-5f);
    assert_false(lt_backward(ctx, lt_sum(ctx, scaled)));
    ts_assert_error(ctx, LT_ERR_GRAPH, "backward: mul's input 2 (3) was modified in place", NULL);
    lt_ctx_free(ctx);
}

/* ---- ops defined outside the library ------------------------------------------ */

/* y = x^2 through lt_record; its backward reads x. */
static void square_backward(lt_ctx *ctx, lt_node *node)
{
    float *dx = lt_grad_buffer(ctx, node->in[0]);
    const float *x = lt_data_f32(node->in[0]), *dy = lt_grad_f32(node->out);
    for (int64_t i = 0; dx && i < lt_numel(node->out); i++)
        dx[i] += 2.0f * x[i] * dy[i];
}

/* Says nothing about what it saves (LT_SAVES_ALL): checked conservatively. */
static const lt_op square_unsaid = {.name = "square", .backward = square_backward};
/* Says exactly: input 0. */
static const lt_op square_said = {"square_x", square_backward, LT_SAVES_IN(0)};

static lt_tensor *square(lt_ctx *ctx, const lt_op *op, lt_tensor *x, lt_node **node)
{
    if (!lt_check_args(ctx, op->name, 1, &x))
        return NULL;
    x = lt_contiguous(ctx, x);
    lt_tensor *y = x ? lt_empty(ctx, LT_F32, lt_shape_of(x)) : NULL;
    if (!y)
        return NULL;
    for (int64_t i = 0; i < lt_numel(x); i++)
        lt_data_f32(y)[i] = lt_data_f32(x)[i] * lt_data_f32(x)[i];
    *node = lt_needs_grad(ctx, 1, &x) ? lt_record(ctx, op, y, 1, &x) : NULL;
    return y;
}

static void test_user_defined_ops(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(3), (float[]){1, 2, 3}), true);
    lt_node *node;
    const lt_op *ops[2] = {&square_unsaid, &square_said};
    for (int k = 0; k < 2; k++) {
        /* the input: refused either way */
        lt_ctx_reset(ctx);
        lt_tensor *y = square(ctx, ops[k], x, &node);
        assert_int_equal(node->versions[0], lt_data_version(x));
        lt_set_f32(x, 1, 2.0f); /* the same value: still a write */
        assert_false(lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(3))));
        ts_assert_error(ctx, LT_ERR_GRAPH, ops[k]->name, "'s input 1 (3) was modified in place", NULL);
        /* the output: refused only when the op did not say what it reads */
        lt_ctx_reset(ctx);
        lt_zero_grad(x);
        y = square(ctx, ops[k], x, &node);
        assert_true(node->versions[1] == (k == 0 ? 0 : LT_VERSION_UNCHECKED));
        assert_true(lt_fill(ctx, y, 0.0f));
        bool ok = lt_backward_grad(ctx, y, lt_ones(ctx, LT_SHAPE(3)));
        if (k == 0) {
            assert_false(ok);
            ts_assert_error(ctx, LT_ERR_GRAPH, "backward_grad: square's output (3) was modified in place", NULL);
        } else {
            assert_true(ok);
            ts_assert_near(lt_grad(ctx, x), (float[]){2, 4, 6}, 3, 0, 0);
        }
    }
    lt_ctx_free(ctx);
}

/* A write through lt_data_f32 is not seen unless declared with
 * lt_bump_version: the documented limit of the check. */
static void test_raw_pointer_writes(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(2), (float[]){1, 2}), true);
    lt_tensor *loss = lt_sum(ctx, lt_log(ctx, x));
    lt_data_f32(x)[0] = 4.0f;
    assert_int_equal(lt_data_version(x), 0);
    lt_bump_version(x);
    assert_int_equal(lt_data_version(x), 1);
    assert_int_equal(lt_data_version(lt_narrow(ctx, x, 0, 1, 1)), 1); /* views share the storage's version */
    assert_false(lt_backward(ctx, loss));
    ts_assert_error(ctx, LT_ERR_GRAPH, "backward: log's input 1 (2) was modified in place", "(version 1, saved at 0)",
                    NULL);
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_example),
        cmocka_unit_test(test_saved_output),
        cmocka_unit_test(test_every_writer_is_seen),
        cmocka_unit_test(test_readers_keep_the_version),
        cmocka_unit_test(test_optimiser_step_before_backward),
        cmocka_unit_test(test_products_read_only_what_they_need),
        cmocka_unit_test(test_unread_inputs_may_change),
        cmocka_unit_test(test_batchnorm_running_stats),
        cmocka_unit_test(test_user_defined_ops),
        cmocka_unit_test(test_raw_pointer_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
