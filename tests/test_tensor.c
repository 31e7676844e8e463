#define _POSIX_C_SOURCE 200809L /* fmemopen, getpid */
/* test_tensor.c - creation, element access, in-place helpers, printing,
 * persistent/temporary memory and the arena's steady state. */
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_creation_values(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *z = lt_zeros(ctx, LT_F32, LT_SHAPE(2, 3));
    ts_assert_shape(z, LT_SHAPE(2, 3));
    ts_assert_near(z, (float[]){0, 0, 0, 0, 0, 0}, 6, 0, 0);
    ts_assert_near(lt_ones(ctx, LT_SHAPE(3)), (float[]){1, 1, 1}, 3, 0, 0);
    ts_assert_near(lt_full(ctx, LT_SHAPE(2), 2.5f), (float[]){2.5f, 2.5f}, 2, 0, 0);
    float v[] = {1, 2, 3, 4, 5, 6};
    lt_tensor *a = lt_from_f32(ctx, LT_SHAPE(3, 2), v);
    v[0] = 100; /* the tensor holds a copy */
    ts_assert_near(a, (float[]){1, 2, 3, 4, 5, 6}, 6, 0, 0);
    lt_tensor *ix = lt_from_i32(ctx, LT_SHAPE(2, 2), (int32_t[]){4, 3, 2, 1});
    assert_int_equal(ix->dtype, LT_I32);
    assert_int_equal(lt_get_i32(ix, 2), 2);
    lt_tensor *r = lt_arange(ctx, 5);
    assert_int_equal(lt_get_i32(r, 4), 4);
    lt_tensor *s = lt_zeros(ctx, LT_F32, LT_SHAPE0);
    assert_int_equal(s->ndim, 0);
    assert_int_equal(lt_numel(s), 1);
    assert_int_equal(lt_status_of(ctx), LT_OK);
    lt_ctx_free(ctx);
}

static void test_persistent_tensors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *p = lt_new_from(ctx, LT_F32, LT_SHAPE(2, 2), (float[]){1, 2, 3, 4});
    lt_tensor *q = lt_new(ctx, LT_I32, LT_SHAPE(4));
    lt_tensor *t = lt_transpose(ctx, p, 0, 1);
    lt_tensor *c = lt_new_copy(ctx, t); /* a copy of a view is dense */
    ts_assert_near(c, (float[]){1, 3, 2, 4}, 4, 0, 0);
    assert_true(lt_is_contiguous(c));
    lt_ctx_reset(ctx); /* persistent tensors survive a reset */
    ts_assert_near(p, (float[]){1, 2, 3, 4}, 4, 0, 0);
    assert_int_equal(lt_get_i32(q, 3), 0);
    lt_free(q);
    lt_free(c);
    lt_free(NULL);
    lt_ctx_free(ctx); /* frees p: valgrind checks there is no leak */
}

static void test_element_access(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_from_f32(ctx, LT_SHAPE(2, 3), (float[]){0, 1, 2, 3, 4, 5});
    lt_tensor *t = lt_transpose(ctx, a, 0, 1); /* (3,2): 0 3 / 1 4 / 2 5 */
    assert_float_equal(lt_get_f32(t, 1), 3.0f, 0);
    lt_set_f32(t, 1, 30.0f);
    assert_float_equal(lt_get_f32(a, 3), 30.0f, 0); /* written through the view */
    assert_true(isnan(lt_get_f32(a, 6)));           /* out of range: NaN, no crash */
    assert_true(isnan(lt_get_f32(lt_arange(ctx, 3), 0)));
    float out[6];
    lt_copy_out_f32(t, out);
    assert_float_equal(out[1], 30.0f, 0);
    assert_float_equal(out[5], 5.0f, 0);
    assert_true(isnan(lt_item(ctx, lt_narrow(ctx, a, 1, 2, 1) /* (2,1) */)));
    ts_assert_error(ctx, LT_ERR_SHAPE, "item", "(2,1)", NULL);
    assert_float_equal(lt_item(ctx, lt_select(ctx, lt_select(ctx, a, 0, 1), 0, 2)), 5.0f, 0);
    lt_ctx_free(ctx);
}

static void test_fill_assign_sgd(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_new(ctx, LT_F32, LT_SHAPE(2, 2));
    assert_true(lt_fill(ctx, lt_select(ctx, a, 1, 0), 7.0f)); /* a column */
    ts_assert_near(a, (float[]){7, 0, 7, 0}, 4, 0, 0);
    lt_tensor *src = lt_from_f32(ctx, LT_SHAPE(2, 2), (float[]){1, 2, 3, 4});
    assert_true(lt_assign(ctx, lt_transpose(ctx, a, 0, 1), src));
    ts_assert_near(a, (float[]){1, 3, 2, 4}, 4, 0, 0);
    assert_false(lt_assign(ctx, a, lt_ones(ctx, LT_SHAPE(4))));
    ts_assert_error(ctx, LT_ERR_SHAPE, "assign", "(2,2)", "(4)", NULL);
    assert_false(lt_sgd_step(ctx, a, 0.1f));
    ts_assert_error(ctx, LT_ERR_GRAPH, "sgd_step", NULL);
    lt_requires_grad(ctx, a, true);
    float *g = lt_grad_f32(a);
    g[0] = 10;
    g[3] = -10;
    assert_true(lt_sgd_step(ctx, a, 0.1f));
    ts_assert_near(a, (float[]){0, 3, 2, 5}, 4, 1e-6, 0);
    lt_zero_grad(a);
    assert_float_equal(lt_grad_get(a, 0), 0.0f, 0);
    lt_ctx_free(ctx);
}

/* Source and destination views of one storage: the result is as if every
 * source element were read before any is written (NumPy's semantics; PyTorch
 * refuses these). Element by element in place gave x[1:] = x[:-1] ->
 * [0,0,0,0,0] and y = y.T -> [[0,2],[2,3]]. */
static void test_assign_overlap(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_new_from(ctx, LT_F32, LT_SHAPE(5), (float[]){0, 1, 2, 3, 4});
    assert_true(lt_assign(ctx, lt_narrow(ctx, x, 0, 1, 4), lt_narrow(ctx, x, 0, 0, 4))); /* x[1:] = x[:-1] */
    ts_assert_near(x, (float[]){0, 0, 1, 2, 3}, 5, 0, 0);
    assert_true(lt_assign(ctx, lt_narrow(ctx, x, 0, 0, 4), lt_narrow(ctx, x, 0, 1, 4))); /* x[:-1] = x[1:] */
    ts_assert_near(x, (float[]){0, 1, 2, 3, 3}, 5, 0, 0);
    lt_tensor *y = lt_new_from(ctx, LT_F32, LT_SHAPE(2, 2), (float[]){0, 1, 2, 3});
    assert_true(lt_assign(ctx, y, lt_transpose(ctx, y, 0, 1))); /* y = y.T */
    ts_assert_near(y, (float[]){0, 2, 1, 3}, 4, 0, 0);
    lt_tensor *z = lt_new_from(ctx, LT_F32, LT_SHAPE(3, 3), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8});
    assert_true(lt_assign(ctx, lt_transpose(ctx, z, 0, 1), z)); /* z.T = z */
    ts_assert_near(z, (float[]){0, 3, 6, 1, 4, 7, 2, 5, 8}, 9, 0, 0);
    assert_true(lt_assign(ctx, z, z)); /* the same view: unchanged */
    ts_assert_near(z, (float[]){0, 3, 6, 1, 4, 7, 2, 5, 8}, 9, 0, 0);
    /* i32 too: a reversed row through a permutation of the columns of a (1,4) view */
    lt_tensor *ix = lt_new_from(ctx, LT_I32, LT_SHAPE(2, 2), (int32_t[]){1, 2, 3, 4});
    assert_true(lt_assign(ctx, ix, lt_transpose(ctx, ix, 0, 1)));
    int32_t got[4];
    lt_copy_out_i32(ix, got);
    assert_memory_equal(got, ((int32_t[]){1, 3, 2, 4}), sizeof got);
    /* disjoint views of one storage copy directly */
    lt_tensor *w = lt_new_from(ctx, LT_F32, LT_SHAPE(6), (float[]){0, 1, 2, 3, 4, 5});
    assert_true(lt_assign(ctx, lt_narrow(ctx, w, 0, 0, 2), lt_narrow(ctx, w, 0, 4, 2)));
    ts_assert_near(w, (float[]){4, 5, 2, 3, 4, 5}, 6, 0, 0);
    /* a destination with one memory location for several elements (stride 0,
     * as an expanded view) is refused: which source element would win? */
    lt_tensor one = *lt_narrow(ctx, w, 0, 0, 1);
    one.shape[0] = 3;
    one.stride[0] = 0;
    assert_false(lt_assign(ctx, &one, lt_narrow(ctx, w, 0, 0, 3)));
    ts_assert_error(ctx, LT_ERR_ARG, "assign: the destination (3) has stride 0 along dim 0", NULL);
    assert_int_equal(lt_get_f32(w, 0), 4);
    lt_ctx_free(ctx);
}

static void test_print(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    char buf[4096] = {0};
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    assert_non_null(f);
    lt_tensor *a = lt_from_f32(ctx, LT_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6.5f});
    lt_print(f, a, "a");
    lt_print(f, lt_arange(ctx, 20), "r");
    lt_print(f, NULL, "n");
    fclose(f);
    assert_non_null(strstr(buf, "a = tensor (2,3) f32"));
    assert_non_null(strstr(buf, "[[1.0000, 2.0000, 3.0000],\n [4.0000, 5.0000, 6.5000]]"));
    assert_non_null(strstr(buf, "[0, 1, 2, ..., 17, 18, 19]"));
    assert_non_null(strstr(buf, "n = (null tensor)"));
    lt_ctx_free(ctx);
}

static void test_shape_helpers(void **state)
{
    (void)state;
    char b[64];
    assert_string_equal(lt_shape_str(LT_SHAPE(32, 3, 10), b, sizeof b), "(32,3,10)");
    assert_string_equal(lt_shape_str(LT_SHAPE0, b, sizeof b), "()");
    assert_string_equal(lt_shape_str(LT_SHAPE(123456, 7), b, 6), "(1234");
    assert_true(lt_shape_equal(LT_SHAPE(2, 3), LT_SHAPE(2, 3)));
    assert_false(lt_shape_equal(LT_SHAPE(2, 3), LT_SHAPE(3, 2)));
    assert_false(lt_shape_equal(LT_SHAPE(2), LT_SHAPE(2, 1)));
}

/* A rank outside 0..LT_MAX_DIMS is printed as invalid and equals nothing;
 * it used to be read past the sizes (UBSan: index 6 out of bounds). */
static void test_shape_invalid_rank(void **state)
{
    (void)state;
    char b[64];
    lt_shape big = {LT_MAX_DIMS + 3, {1, 2, 3, 4, 5, 6}}, negative = {-1, {0}};
    assert_string_equal(lt_shape_str(big, b, sizeof b), "(invalid shape: rank 9)");
    assert_string_equal(lt_shape_str(negative, b, sizeof b), "(invalid shape: rank -1)");
    assert_string_equal(lt_shape_str(big, b, 9), "(invalid");
    assert_false(lt_shape_equal(big, big));
    assert_false(lt_shape_equal(negative, negative));
    lt_ctx *ctx = lt_ctx_new();
    assert_null(lt_new(ctx, LT_F32, big));
    ts_assert_error(ctx, LT_ERR_SHAPE, "new: rank 9 outside 0..6", NULL);
    /* a damaged header (the fields are public) keeps its rank, not its sizes */
    lt_tensor bad = *lt_zeros(ctx, LT_F32, LT_SHAPE(2, 3));
    bad.ndim = LT_MAX_DIMS + 1;
    assert_int_equal(lt_shape_of(&bad).ndim, 7);
    assert_string_equal(lt_shape_str(lt_shape_of(&bad), b, sizeof b), "(invalid shape: rank 7)");
    lt_ctx_free(ctx);
}

/* The same step twice: the second must not reach malloc through the arena. */
static void one_step(lt_ctx *ctx, lt_tensor *w)
{
    lt_ctx_reset(ctx);
    for (int i = 0; i < 50; i++) {
        lt_tensor *t = lt_zeros(ctx, LT_F32, LT_SHAPE(200, 100 + i));
        assert_non_null(t);
        lt_tensor *c = lt_clone(ctx, lt_transpose(ctx, w, 0, 1));
        assert_non_null(c);
    }
}

static void test_arena_steady_state(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *w = ts_random(ctx, LT_SHAPE(30, 200), 1, -1, 1);
    lt_requires_grad(ctx, w, true);
    one_step(ctx, w);
    size_t chunks = lt_ctx_arena_allocations(ctx), reserved = lt_ctx_arena_reserved(ctx);
    assert_true(reserved >= 50 * 200 * 100 * sizeof(float));
    for (int k = 0; k < 5; k++)
        one_step(ctx, w);
    assert_int_equal(lt_ctx_arena_allocations(ctx), chunks);
    assert_int_equal(lt_ctx_arena_reserved(ctx), reserved);
    assert_true(lt_tape_size(ctx) == 50); /* one copy node per clone */
    lt_ctx_reset(ctx);
    assert_int_equal(lt_tape_size(ctx), 0);
    /* a bigger request grows the arena once, then it is reused */
    assert_non_null(lt_zeros(ctx, LT_F32, LT_SHAPE(4000, 1000)));
    size_t grown = lt_ctx_arena_allocations(ctx);
    lt_ctx_reset(ctx);
    assert_non_null(lt_zeros(ctx, LT_F32, LT_SHAPE(4000, 1000)));
    assert_int_equal(lt_ctx_arena_allocations(ctx), grown);
    lt_ctx_free(ctx);
}

static void test_creation_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_null(lt_zeros(ctx, LT_F32, LT_SHAPE(2, -3)));
    ts_assert_error(ctx, LT_ERR_SHAPE, "empty", "negative size", "(2,-3)", NULL);
    assert_null(lt_new(ctx, (lt_dtype)7, LT_SHAPE(2)));
    ts_assert_error(ctx, LT_ERR_DTYPE, "new", "7", NULL);
    assert_null(lt_from_f32(ctx, LT_SHAPE(2), NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "from_f32", "NULL", NULL);
    assert_null(lt_new_from(ctx, LT_F32, LT_SHAPE(2), NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "new_from", NULL);
    assert_null(lt_arange(ctx, -1));
    ts_assert_error(ctx, LT_ERR_ARG, "arange", "-1", NULL);
    assert_null(lt_new(ctx, LT_F32, LT_SHAPE(1 << 20, 1 << 20, 1 << 20)));
    ts_assert_error(ctx, LT_ERR_SHAPE, "new", "too many elements", NULL);
    lt_tensor *ix = lt_arange(ctx, 3);
    assert_null(lt_requires_grad(ctx, ix, true));
    ts_assert_error(ctx, LT_ERR_DTYPE, "requires_grad", "i32", NULL);
    assert_null(lt_requires_grad(ctx, NULL, true));
    ts_assert_error(ctx, LT_ERR_ARG, "requires_grad", "argument 1 is NULL", NULL);
    assert_false(lt_fill(ctx, ix, 1.0f));
    ts_assert_error(ctx, LT_ERR_DTYPE, "fill", NULL);
    assert_null(lt_grad(ctx, lt_ones(ctx, LT_SHAPE(2))));
    ts_assert_error(ctx, LT_ERR_GRAPH, "grad", "no gradient", NULL);
    /* NULL context: no crash, NULL results */
    assert_null(lt_zeros(NULL, LT_F32, LT_SHAPE(2)));
    assert_null(lt_view(NULL, NULL, LT_SHAPE(2)));
    assert_int_equal(lt_status_of(NULL), LT_ERR_ARG);
    assert_non_null(lt_error_message(NULL));
    lt_ctx_free(NULL);
    lt_ctx_reset(NULL);
    lt_ctx_free(ctx);
}

static void test_sticky_error(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_ones(ctx, LT_SHAPE(2, 3));
    lt_tensor *v = lt_view(ctx, a, LT_SHAPE(4, -1)); /* fails */
    assert_null(v);
    /* later calls return NULL at once and keep the first message */
    assert_null(lt_transpose(ctx, a, 0, 1));
    assert_null(lt_ones(ctx, LT_SHAPE(2)));
    assert_null(lt_clone(ctx, v));
    ts_assert_error(ctx, LT_ERR_SHAPE, "view", "(4,-1)", "(2,3)", NULL);
    assert_non_null(lt_transpose(ctx, a, 0, 1)); /* usable again */
    assert_string_equal(lt_status_name(LT_ERR_INDEX), "index out of range");
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_creation_values),
        cmocka_unit_test(test_persistent_tensors),
        cmocka_unit_test(test_element_access),
        cmocka_unit_test(test_fill_assign_sgd),
        cmocka_unit_test(test_print),
        cmocka_unit_test(test_shape_helpers),
        cmocka_unit_test(test_arena_steady_state),
        cmocka_unit_test(test_creation_errors),
        cmocka_unit_test(test_sticky_error),
        cmocka_unit_test(test_assign_overlap),
        cmocka_unit_test(test_shape_invalid_rank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
