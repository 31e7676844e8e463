/* test_profile.c - the op profiler (lt_profile_*): what it counts, what it
 * leaves out, its order, its table, and its limits. */
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

/* One training-like step on (8,16) @ (16,4): matmul, tanh, sum, backward. */
static void small_step(lt_ctx *ctx, lt_tensor *x, lt_tensor *w)
{
    lt_tensor *loss = lt_sum(ctx, lt_tanh(ctx, lt_matmul(ctx, x, w)));
    assert_non_null(loss);
    assert_true(lt_backward(ctx, loss));
    lt_ctx_reset(ctx);
}

/* The row named op, or NULL. */
static const lt_profile_row *find_row(const lt_profile_row *rows, int n, const char *op)
{
    for (int r = 0; r < n; r++)
        if (strcmp(rows[r].op, op) == 0)
            return &rows[r];
    return NULL;
}

typedef struct {
    lt_ctx *ctx;
    lt_tensor *x, *w;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->ctx = lt_ctx_new();
    f->x = lt_requires_grad(f->ctx, lt_new_copy(f->ctx, ts_random(f->ctx, LT_SHAPE(8, 16), 1, -1, 1)), true);
    f->w = lt_requires_grad(f->ctx, lt_new_copy(f->ctx, ts_random(f->ctx, LT_SHAPE(16, 4), 2, -1, 1)), true);
    *state = f;
    return f->x && f->w ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    lt_ctx_free(f->ctx);
    free(f);
    return 0;
}

static void test_nothing_before_start(void **state)
{
    fixture *f = *state;
    small_step(f->ctx, f->x, f->w);
    assert_int_equal(lt_profile_rows(f->ctx, NULL, 0), 0);
    assert_true(lt_profile_seconds(f->ctx) == 0.0);
    assert_false(lt_profile_print(f->ctx, stdout));
    /* NULL contexts are refused, not crashed on */
    assert_false(lt_profile_start(NULL));
    lt_profile_stop(NULL);
    assert_int_equal(lt_profile_rows(NULL, NULL, 0), 0);
    assert_true(lt_profile_seconds(NULL) == 0.0);
    assert_false(lt_profile_print(NULL, stdout));
}

static void test_counts_forward_and_backward_calls(void **state)
{
    fixture *f = *state;
    assert_true(lt_profile_start(f->ctx));
    for (int s = 0; s < 3; s++)
        small_step(f->ctx, f->x, f->w);
    lt_profile_stop(f->ctx);
    lt_profile_row rows[8];
    int n = lt_profile_rows(f->ctx, rows, 8);
    assert_int_equal(n, 3);
    const char *ops[] = {"matmul", "tanh", "sum"};
    double in_ops = 0.0;
    for (int i = 0; i < 3; i++) {
        const lt_profile_row *r = find_row(rows, n, ops[i]);
        assert_non_null(r);
        assert_int_equal(r->calls, 3);
        assert_int_equal(r->backward_calls, 3);
        assert_true(r->forward_s >= 0.0 && r->backward_s >= 0.0);
        in_ops += r->forward_s + r->backward_s;
    }
    assert_true(in_ops <= lt_profile_seconds(f->ctx));
}

/* Only recorded calls are timed: grad mode off, or no input that needs a
 * gradient, leaves the profile empty. */
static void test_unrecorded_calls_are_not_timed(void **state)
{
    fixture *f = *state;
    assert_true(lt_profile_start(f->ctx));
    bool was = lt_set_grad_enabled(f->ctx, false);
    assert_non_null(lt_tanh(f->ctx, lt_matmul(f->ctx, f->x, f->w)));
    lt_set_grad_enabled(f->ctx, was);
    lt_tensor *c = ts_random(f->ctx, LT_SHAPE(4, 4), 3, -1, 1); /* needs no gradient */
    assert_non_null(lt_tanh(f->ctx, c));
    assert_int_equal(lt_profile_rows(f->ctx, NULL, 0), 0);
    lt_ctx_reset(f->ctx);
}

static void test_stop_freezes_and_start_clears(void **state)
{
    fixture *f = *state;
    assert_true(lt_profile_start(f->ctx));
    small_step(f->ctx, f->x, f->w);
    lt_profile_stop(f->ctx);
    double seconds = lt_profile_seconds(f->ctx);
    small_step(f->ctx, f->x, f->w); /* not counted */
    lt_profile_row rows[8];
    int n = lt_profile_rows(f->ctx, rows, 8);
    assert_int_equal(n, 3);
    assert_int_equal(find_row(rows, n, "matmul")->calls, 1);
    assert_true(lt_profile_seconds(f->ctx) == seconds);
    assert_true(lt_profile_start(f->ctx)); /* a new profile */
    assert_int_equal(lt_profile_rows(f->ctx, NULL, 0), 0);
    lt_profile_stop(f->ctx);
}

/* The most expensive first: a (192,192) @ (192,192) product (14 MFLOP, a
 * millisecond or so) against tanh on 4 elements; rows are cut at max while
 * the count stays whole. */
static void test_rows_most_expensive_first(void **state)
{
    fixture *f = *state;
    lt_tensor *a = lt_requires_grad(f->ctx, lt_new_copy(f->ctx, ts_random(f->ctx, LT_SHAPE(192, 192), 4, -1, 1)), true);
    lt_tensor *t = lt_requires_grad(f->ctx, lt_new_copy(f->ctx, ts_random(f->ctx, LT_SHAPE(4), 5, -1, 1)), true);
    assert_true(lt_profile_start(f->ctx));
    for (int s = 0; s < 5; s++) {
        assert_non_null(lt_matmul(f->ctx, a, a));
        assert_non_null(lt_tanh(f->ctx, t));
        lt_ctx_reset(f->ctx);
    }
    lt_profile_stop(f->ctx);
    lt_profile_row rows[2];
    assert_int_equal(lt_profile_rows(f->ctx, rows, 2), 2);
    assert_string_equal(rows[0].op, "matmul");
    assert_string_equal(rows[1].op, "tanh");
    assert_true(rows[0].forward_s > rows[1].forward_s);
    assert_int_equal(rows[0].backward_calls, 0); /* no backward ran */
    lt_profile_row one;
    assert_int_equal(lt_profile_rows(f->ctx, &one, 1), 2);
    assert_string_equal(one.op, "matmul");
    lt_free(a);
    lt_free(t);
}

static void test_print_writes_the_table(void **state)
{
    fixture *f = *state;
    assert_true(lt_profile_start(f->ctx));
    small_step(f->ctx, f->x, f->w);
    lt_profile_stop(f->ctx);
    FILE *out = tmpfile();
    assert_non_null(out);
    assert_true(lt_profile_print(f->ctx, out));
    rewind(out);
    char text[2048];
    size_t len = fread(text, 1, sizeof text - 1, out);
    text[len] = '\0';
    fclose(out);
    assert_non_null(strstr(text, "forward ms"));
    assert_non_null(strstr(text, "\nmatmul "));
    assert_non_null(strstr(text, "\ntanh "));
    assert_non_null(strstr(text, "\nsum "));
    assert_non_null(strstr(text, "\n(outside ops) "));
    assert_non_null(strstr(text, "\n(profiled time) "));
    assert_false(lt_profile_print(f->ctx, NULL));
}

/* ---- user ops: many names, and two lt_op constants of one name ------------ */

static void pass_backward(lt_ctx *ctx, lt_node *node)
{
    float *dx = lt_grad_buffer(ctx, node->in[0]);
    const float *dy = lt_grad_f32(node->out);
    if (dx)
        for (int64_t i = 0; i < lt_numel(node->out); i++)
            dx[i] += dy[i];
}

#define N_USER_OPS 130
static char user_names[N_USER_OPS][16];
static lt_op user_ops[N_USER_OPS];

/* y = x through user op k (a copy), recorded. */
static lt_tensor *user_op(lt_ctx *ctx, int k, lt_tensor *x)
{
    if (!lt_check_args(ctx, user_ops[k].name, 1, &x))
        return NULL;
    lt_tensor *y = lt_empty(ctx, LT_F32, lt_shape_of(x));
    if (!y)
        return NULL;
    memcpy(lt_data_f32(y), lt_data_f32(x), sizeof(float) * (size_t)lt_numel(x));
    return lt_record(ctx, &user_ops[k], y, 1, &x) ? y : NULL;
}

static void test_names_past_the_table_share_a_row(void **state)
{
    fixture *f = *state;
    for (int k = 0; k < N_USER_OPS; k++) {
        snprintf(user_names[k], sizeof user_names[k], "user%03d", k);
        user_ops[k] = (lt_op){user_names[k], pass_backward, LT_SAVES_NONE};
    }
    lt_op twin = {"user000", pass_backward, LT_SAVES_NONE}; /* a second constant of one name */
    lt_tensor *x = lt_requires_grad(f->ctx, lt_new_copy(f->ctx, ts_random(f->ctx, LT_SHAPE(4), 6, -1, 1)), true);
    assert_true(lt_profile_start(f->ctx));
    lt_tensor *y = x;
    for (int k = 0; k < N_USER_OPS; k++)
        y = user_op(f->ctx, k, y);
    assert_non_null(y);
    assert_non_null(lt_record(f->ctx, &twin, lt_empty(f->ctx, LT_F32, LT_SHAPE(4)), 1, &x));
    assert_true(lt_backward(f->ctx, lt_sum(f->ctx, y)));
    lt_profile_stop(f->ctx);
    static lt_profile_row rows[256];
    int n = lt_profile_rows(f->ctx, rows, 256);
    assert_int_equal(n, 128); /* 127 names (user000..user126), and the rest */
    const lt_profile_row *first = find_row(rows, n, "user000");
    assert_non_null(first);
    assert_int_equal(first->calls, 2);          /* both constants */
    assert_int_equal(first->backward_calls, 1); /* the twin's output got no gradient */
    const lt_profile_row *rest = find_row(rows, n, "(other ops)");
    assert_non_null(rest);
    assert_int_equal(rest->calls, N_USER_OPS - 127 + 1); /* user127..user129, and sum */
    assert_non_null(find_row(rows, n, "user126"));
    assert_null(find_row(rows, n, "user127"));
    assert_null(find_row(rows, n, "sum"));
    lt_ctx_reset(f->ctx);
    lt_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nothing_before_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts_forward_and_backward_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unrecorded_calls_are_not_timed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_freezes_and_start_clears, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_most_expensive_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_print_writes_the_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_past_the_table_share_a_row, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
