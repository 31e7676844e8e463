/* test_topk.c - lt_topk against torch.topk (PyTorch 1.13): values and
 * indices, bit for bit, on rows full of ties, NaNs and signed zeros, through
 * both of PyTorch's algorithms (partial_sort when k * 64 <= n, nth_element +
 * sort otherwise) and nth_element's heap-select fallback; every layout and
 * error path. Golden indices: tests/data/golden_topk.h (tools/golden_topk.py). */
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

#include "data/golden_topk.h"

#define COUNT(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

/* A case's input as tools/golden_topk.py makes it (see the header's modes
 * and layouts): a persistent tensor, or a transposed view of one. */
static lt_tensor *golden_input(lt_ctx *ctx, int c)
{
    int64_t rows = G_TOPK_ROWS[c], n = G_TOPK_N[c], levels = G_TOPK_LEVELS[c];
    int mode = G_TOPK_MODE[c], layout = G_TOPK_LAYOUT[c];
    lt_tensor *x = layout == 0 ? lt_new(ctx, LT_F32, LT_SHAPE(rows, n)) : lt_new(ctx, LT_F32, LT_SHAPE(n, rows));
    assert_non_null(x);
    float *d = lt_data_f32(x);
    int64_t numel = rows * n;
    lt_rng g;
    lt_rng_seed(&g, G_TOPK_SEED[c]);
    if (mode == 3) {
        for (int64_t i = 0; i < numel; i++)
            d[i] = lt_rng_uniform(&g);
    } else {
        int32_t *r = malloc((size_t)numel * sizeof *r);
        assert_non_null(r);
        lt_rng_randint(&g, 0, mode == 2 ? 2 : levels, r, numel);
        for (int64_t i = 0; i < numel; i++) {
            if (mode == 0)
                d[i] = (float)r[i] - (float)(levels / 2);
            else if (mode == 1)
                d[i] = r[i] == levels - 1 ? NAN : (float)r[i];
            else
                d[i] = r[i] == 0 ? 0.0f : -0.0f;
        }
        free(r);
    }
    return layout == 2 ? lt_transpose(ctx, x, 0, 1) : x;
}

/* Element (i, j) of a rank-2 tensor through its strides. */
static float at2(const lt_tensor *t, int64_t i, int64_t j)
{
    const float *base = (const float *)t->storage->data + t->offset;
    return base[i * t->stride[0] + j * t->stride[1]];
}

/* values[r, j] (or [j, r] along dim 0) must be the input's element at the
 * returned index, bit for bit (torch copies it), and the index torch's. */
static void check_result(const lt_tensor *x, const lt_tensor *values, const lt_tensor *ix, int dim,
                         const int32_t *want, const char *what)
{
    assert_int_equal(values->ndim, 2);
    assert_int_equal(ix->dtype, LT_I32);
    int64_t n_out = lt_numel(values);
    for (int64_t e = 0; e < n_out; e++) {
        int32_t got = lt_get_i32(ix, e);
        if (got != want[e])
            fail_msg("%s: index %lld is %d, torch's %d", what, (long long)e, got, want[e]);
        int64_t i = e / values->shape[1], j = e % values->shape[1];
        float expected = dim == 1 ? at2(x, i, got) : at2(x, got, j);
        float v = lt_get_f32(values, e);
        if (memcmp(&v, &expected, sizeof v) != 0)
            fail_msg("%s: value %lld is %a, the input there is %a", what, (long long)e, (double)v,
                     (double)expected);
    }
}

static void test_topk_matches_torch(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    lt_set_grad_enabled(ctx, false);
    int64_t offset = 0;
    for (int c = 0; c < G_TOPK_CASES; c++) {
        lt_tensor *x = golden_input(ctx, c);
        int dim = G_TOPK_LAYOUT[c] == 1 ? 0 : 1;
        lt_tensor *ix = NULL;
        lt_tensor *values = lt_topk(ctx, x, G_TOPK_K[c], dim, G_TOPK_LARGEST[c] != 0, &ix);
        if (!values)
            fail_msg("case %d: %s", c, lt_error_message(ctx));
        assert_non_null(ix);
        assert_int_equal(values->shape[dim], G_TOPK_K[c]);
        assert_int_equal(values->shape[1 - dim], G_TOPK_ROWS[c]);
        assert_true(lt_shape_equal(lt_shape_of(values), lt_shape_of(ix)));
        char what[96];
        snprintf(what, sizeof what, "case %d (seed %llu, n %lld, k %lld, %s)", c,
                 (unsigned long long)G_TOPK_SEED[c], (long long)G_TOPK_N[c], (long long)G_TOPK_K[c],
                 G_TOPK_LARGEST[c] ? "largest" : "smallest");
        check_result(x, values, ix, dim, G_TOPK_INDICES + offset, what);
        offset += lt_numel(ix);
        lt_ctx_reset(ctx);
    }
    assert_int_equal(offset, COUNT(G_TOPK_INDICES));
    lt_ctx_free(ctx);
}

/* Inputs that exhaust nth_element's quickselect depth (heap-select fallback). */
static void test_topk_adversarial_inputs(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    int64_t vo = 0, io = 0;
    for (int c = 0; c < G_TOPK_ADV_CASES; c++) {
        int64_t n = G_TOPK_ADV_N[c], k = G_TOPK_ADV_K[c];
        lt_tensor *x = lt_empty(ctx, LT_F32, LT_SHAPE(1, n));
        lt_tensor *neg = lt_empty(ctx, LT_F32, LT_SHAPE(1, n));
        for (int64_t i = 0; i < n; i++) {
            lt_set_f32(x, i, (float)G_TOPK_ADV_VALUES[vo + i]);
            lt_set_f32(neg, i, -(float)G_TOPK_ADV_VALUES[vo + i]);
        }
        lt_tensor *ix;
        lt_tensor *v = lt_topk(ctx, x, k, -1, false, &ix);
        assert_non_null(v);
        check_result(x, v, ix, 1, G_TOPK_ADV_INDICES + io, "adversarial, smallest");
        io += k;
        v = lt_topk(ctx, neg, k, -1, true, &ix);
        assert_non_null(v);
        check_result(neg, v, ix, 1, G_TOPK_ADV_INDICES + io, "adversarial negated, largest");
        io += k;
        vo += n;
    }
    assert_int_equal(io, COUNT(G_TOPK_ADV_INDICES));
    lt_ctx_free(ctx);
}

/* makemore's use: the k-th largest logit of each row is the cut-off, and
 * topk(probs, 1) is the greedy choice. Values sorted, NaN first. */
static void test_topk_small_examples(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    const float logits[2][5] = {{0.5f, 2.0f, -1.0f, 2.0f, 1.0f}, {NAN, 3.0f, -INFINITY, 7.0f, 3.0f}};
    lt_tensor *x = lt_from_f32(ctx, LT_SHAPE(2, 5), &logits[0][0]);
    lt_tensor *ix;
    lt_tensor *v = lt_topk(ctx, x, 3, 1, true, &ix);
    assert_non_null(v);
    const float want_v[6] = {2.0f, 2.0f, 1.0f, NAN, 7.0f, 3.0f};
    const int32_t want_i[6] = {1, 3, 4, 0, 3, 4}; /* torch.topk prints these */
    for (int e = 0; e < 6; e++) {
        assert_int_equal(lt_get_i32(ix, e), want_i[e]);
        float got = lt_get_f32(v, e);
        assert_true(isnan(want_v[e]) ? isnan(got) : got == want_v[e]);
    }
    v = lt_topk(ctx, x, 2, -1, false, NULL); /* the indices are optional */
    assert_non_null(v);
    assert_true(lt_get_f32(v, 0) == -1.0f && lt_get_f32(v, 1) == 0.5f);
    assert_true(lt_get_f32(v, 2) == -INFINITY && lt_get_f32(v, 3) == 3.0f);
    /* k = 0: empty results of the right shape */
    v = lt_topk(ctx, x, 0, 1, true, &ix);
    assert_non_null(v);
    assert_int_equal(v->shape[0], 2);
    assert_int_equal(v->shape[1], 0);
    assert_int_equal(ix->shape[1], 0);
    /* rank 1 and rank 3 */
    v = lt_topk(ctx, lt_from_f32(ctx, LT_SHAPE(5), logits[0]), 1, 0, true, &ix);
    assert_non_null(v);
    assert_int_equal(v->ndim, 1);
    assert_int_equal(lt_get_i32(ix, 0), 1);
    const float cube[2][3][2] = {{{1, 6}, {5, 2}, {3, 4}}, {{9, 0}, {8, 8}, {7, 9}}};
    lt_tensor *x3 = lt_from_f32(ctx, LT_SHAPE(2, 3, 2), &cube[0][0][0]);
    v = lt_topk(ctx, x3, 2, 1, true, &ix); /* along the middle dim */
    assert_non_null(v);
    const int32_t want3[8] = {1, 0, 2, 2, 0, 2, 1, 1};
    for (int e = 0; e < 8; e++)
        assert_int_equal(lt_get_i32(ix, e), want3[e]);
    lt_ctx_free(ctx);
}

static void expect_topk_error(lt_ctx *ctx, lt_tensor *x, int64_t k, int dim, lt_status want, const char *needle)
{
    lt_tensor *ix = (lt_tensor *)&ix; /* must come back NULL */
    assert_null(lt_topk(ctx, x, k, dim, true, &ix));
    assert_null(ix);
    assert_int_equal(lt_status_of(ctx), want);
    if (!strstr(lt_error_message(ctx), needle))
        fail_msg("message '%s' lacks '%s'", lt_error_message(ctx), needle);
    lt_clear_error(ctx);
}

static void test_topk_rejects_bad_input(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    lt_tensor *x = lt_ones(ctx, LT_SHAPE(4, 5));
    expect_topk_error(ctx, x, 6, 1, LT_ERR_INDEX, "topk: k = 6 out of range for dim 1 of (4,5)");
    expect_topk_error(ctx, x, -1, 1, LT_ERR_INDEX, "k = -1");
    expect_topk_error(ctx, x, 5, 0, LT_ERR_INDEX, "dim 0 of (4,5)");
    expect_topk_error(ctx, x, 1, 2, LT_ERR_INDEX, "topk: dim 2 out of range for a tensor of rank 2");
    expect_topk_error(ctx, x, 1, -3, LT_ERR_INDEX, "dim -3");
    expect_topk_error(ctx, lt_arange(ctx, 5), 1, 0, LT_ERR_DTYPE, "f32");
    expect_topk_error(ctx, lt_full(ctx, LT_SHAPE0, 1.0f), 1, 0, LT_ERR_SHAPE, "scalar");
    expect_topk_error(ctx, NULL, 1, 0, LT_ERR_ARG, "topk: argument 1 is NULL");
    /* no gradient: refused while the input requires one and grad mode is on */
    lt_tensor *w = lt_requires_grad(ctx, lt_new(ctx, LT_F32, LT_SHAPE(3, 4)), true);
    assert_non_null(w);
    size_t tape = lt_tape_size(ctx);
    expect_topk_error(ctx, w, 2, 1, LT_ERR_GRAPH, "topk: has no gradient");
    expect_topk_error(ctx, lt_mul_scalar(ctx, w, 2.0f), 2, 1, LT_ERR_GRAPH, "lt_set_grad_enabled");
    lt_set_grad_enabled(ctx, false);
    assert_non_null(lt_topk(ctx, w, 2, 1, true, NULL));
    assert_int_equal(lt_tape_size(ctx), tape + 1); /* only the lt_mul_scalar above */
    lt_set_grad_enabled(ctx, true);
    /* sticky: a context holding an error refuses and keeps its message */
    lt_fail(ctx, LT_ERR_SHAPE, "earlier: failed");
    assert_null(lt_topk(ctx, x, 1, 1, true, NULL));
    assert_string_equal(lt_error_message(ctx), "earlier: failed");
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topk_matches_torch),
        cmocka_unit_test(test_topk_adversarial_inputs),
        cmocka_unit_test(test_topk_small_examples),
        cmocka_unit_test(test_topk_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
