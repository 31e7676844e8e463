/* test_notebook_small.c - the notebook's small example: X (32,3) and Y (32,)
 * from the first five names, emb = C[X] with a (27,2) table, and the three
 * ways to flatten emb to (32,6) (cat of selects, cat of unbind, view), which
 * must agree exactly, in value and in the gradient they send back to C. */
#include "test_support.h"

#include <string.h>

#include "data/golden_softmax.h"

#define BLOCK 3
#define N_EXAMPLES 32

/* names.txt[:5], hard-coded so the test needs no file */
static const char *const words[] = {"emma", "olivia", "ava", "isabella", "sophia"};

/* '.' is 0, 'a'..'z' are 1..26 */
static int32_t stoi(char ch) { return ch == '.' ? 0 : (int32_t)(ch - 'a' + 1); }

/* The notebook's build_dataset: every name of length L gives L+1 examples of
 * (previous BLOCK characters) -> next character. Returns the count. */
static int build_dataset(int32_t x[][BLOCK], int32_t *y, int cap)
{
    int n = 0;
    for (size_t w = 0; w < sizeof words / sizeof *words; w++) {
        int32_t context[BLOCK] = {0, 0, 0};
        size_t len = strlen(words[w]);
        for (size_t k = 0; k <= len && n < cap; k++) {
            int32_t ix = k < len ? stoi(words[w][k]) : stoi('.');
            memcpy(x[n], context, sizeof context);
            y[n++] = ix;
            memmove(context, context + 1, sizeof(int32_t) * (BLOCK - 1));
            context[BLOCK - 1] = ix;
        }
    }
    return n;
}

typedef struct {
    lt_ctx *ctx;
    lt_tensor *x, *y, *c;
} fixture;

static int setup(void **state)
{
    static int32_t xs[64][BLOCK], ys[64];
    static fixture f;
    int n = build_dataset(xs, ys, 64);
    f.ctx = lt_ctx_new();
    if (!f.ctx || n != N_EXAMPLES)
        return -1;
    f.x = lt_new_from(f.ctx, LT_I32, LT_SHAPE(n, BLOCK), xs);
    f.y = lt_new_from(f.ctx, LT_I32, LT_SHAPE(n), ys);
    f.c = lt_requires_grad(f.ctx, ts_random(f.ctx, LT_SHAPE(27, 2), 2147483647, -2, 2), true);
    *state = &f;
    return f.x && f.y && f.c ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    lt_ctx_free(f->ctx);
    return 0;
}

static void test_dataset(void **state)
{
    fixture *f = *state;
    ts_assert_shape(f->x, LT_SHAPE(32, 3));
    ts_assert_shape(f->y, LT_SHAPE(32));
    /* "..." -> e, "..e" -> m, "emm" -> a, "mma" -> '.', then olivia starts */
    int32_t rows[][4] = {{0, 0, 0, 5}, {0, 0, 5, 13}, {5, 13, 13, 1}, {13, 13, 1, 0}, {0, 0, 0, 15}};
    int at[] = {0, 1, 3, 4, 5};
    for (int r = 0; r < 5; r++) {
        for (int j = 0; j < 3; j++)
            assert_int_equal(lt_get_i32(f->x, at[r] * 3 + j), rows[r][j]);
        assert_int_equal(lt_get_i32(f->y, at[r]), rows[r][3]);
    }
    /* last example: "hia" -> '.' (end of sophia) */
    assert_int_equal(lt_get_i32(f->x, 31 * 3 + 0), stoi('h'));
    assert_int_equal(lt_get_i32(f->x, 31 * 3 + 2), stoi('a'));
    assert_int_equal(lt_get_i32(f->y, 31), 0);
    /* and the whole thing matches PyTorch's build_dataset */
    for (int i = 0; i < 96; i++)
        assert_int_equal(lt_get_i32(f->x, i), golden_nb_x[i]);
    for (int i = 0; i < 32; i++)
        assert_int_equal(lt_get_i32(f->y, i), golden_nb_y[i]);
}

enum { FLAT_CAT_SELECT, FLAT_CAT_UNBIND, FLAT_VIEW, N_FLAT };

/* emb (32,3,2) -> (32,6), three ways */
static lt_tensor *flatten(lt_ctx *ctx, lt_tensor *emb, int how)
{
    switch (how) {
    case FLAT_CAT_SELECT: {
        lt_tensor *parts[3] = {lt_select(ctx, emb, 1, 0), lt_select(ctx, emb, 1, 1), lt_select(ctx, emb, 1, 2)};
        return lt_cat(ctx, parts, 3, 1);
    }
    case FLAT_CAT_UNBIND: {
        int count = 0;
        lt_tensor **parts = lt_unbind(ctx, emb, 1, &count);
        assert_int_equal(count, 3);
        return lt_cat(ctx, parts, count, 1);
    }
    default:
        return lt_view(ctx, emb, LT_SHAPE(-1, 6));
    }
}

static void test_embedding_and_flattenings(void **state)
{
    fixture *f = *state;
    lt_ctx *ctx = f->ctx;
    lt_ctx_reset(ctx);
    lt_tensor *emb = lt_index(ctx, f->c, f->x);
    ts_assert_shape(emb, LT_SHAPE(32, 3, 2));
    lt_tensor *flat[N_FLAT];
    for (int k = 0; k < N_FLAT; k++) {
        flat[k] = flatten(ctx, emb, k);
        ts_assert_shape(flat[k], LT_SHAPE(32, 6));
    }
    ts_assert_tensors_near(flat[FLAT_CAT_SELECT], flat[FLAT_VIEW], 0);
    ts_assert_tensors_near(flat[FLAT_CAT_UNBIND], flat[FLAT_VIEW], 0);
    /* the notebook's row 3 ("emm"): C[e], C[m], C[m] side by side */
    int32_t ctxt[3] = {stoi('e'), stoi('m'), stoi('m')};
    for (int j = 0; j < 3; j++)
        for (int e = 0; e < 2; e++)
            assert_float_equal(lt_get_f32(flat[FLAT_VIEW], 3 * 6 + j * 2 + e), lt_get_f32(f->c, ctxt[j] * 2 + e), 0);
    assert_int_equal(lt_status_of(ctx), LT_OK);
}

/* dC through each flattening, with the same upstream weighting W (32,6). */
static void test_flattening_gradients(void **state)
{
    fixture *f = *state;
    lt_ctx *ctx = f->ctx;
    float w[32 * 6], grads[N_FLAT][27 * 2];
    ts_rand r = ts_rand_new(7);
    for (int i = 0; i < 32 * 6; i++)
        w[i] = (float)ts_uniform(&r, -1, 1);
    for (int k = 0; k < N_FLAT; k++) {
        lt_ctx_reset(ctx);
        lt_zero_grad(f->c);
        lt_tensor *out = flatten(ctx, lt_index(ctx, f->c, f->x), k);
        assert_true(lt_backward_grad(ctx, out, lt_from_f32(ctx, LT_SHAPE(32, 6), w)));
        for (int i = 0; i < 54; i++)
            grads[k][i] = lt_grad_get(f->c, i);
    }
    for (int i = 0; i < 54; i++) {
        assert_float_equal(grads[FLAT_CAT_SELECT][i], grads[FLAT_VIEW][i], 0);
        assert_float_equal(grads[FLAT_CAT_UNBIND][i], grads[FLAT_VIEW][i], 0);
    }
    /* and it is the scatter-add: dC[r] = sum of W[i, 2j:2j+2] over X[i,j] == r */
    double want[54] = {0};
    for (int i = 0; i < 32; i++)
        for (int j = 0; j < 3; j++)
            for (int e = 0; e < 2; e++)
                want[lt_get_i32(f->x, i * 3 + j) * 2 + e] += w[i * 6 + j * 2 + e];
    for (int i = 0; i < 54; i++)
        assert_float_equal(grads[FLAT_VIEW][i], want[i], 1e-5);
    /* '.' (row 0) starts every name: it has a gradient; 'z' (26) never occurs */
    assert_true(grads[FLAT_VIEW][0] != 0.0f);
    assert_float_equal(grads[FLAT_VIEW][52], 0, 0);
    assert_float_equal(grads[FLAT_VIEW][53], 0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dataset),
        cmocka_unit_test(test_embedding_and_flattenings),
        cmocka_unit_test(test_flattening_gradients),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
