/* test_attention_ops.c - a causal self-attention block written with the
 * general ops, end to end: 4-D matmul on head views (no loop over heads),
 * masked_fill with a triu mask (no host loop), softmax along -1, and gather
 * to pick the target probabilities (no host index arithmetic). Its loss and
 * every gradient match PyTorch (tools/golden_select.py), and a finite-
 * difference check covers the whole block. */
#include "test_support.h"

#include <math.h>

#include "data/golden_select.h"

/* The sizes tools/golden_select.py uses. */
enum { B = 2, T = 5, C = 8, NH = 2, HS = C / NH, V = 7 };

enum { X, WQ, WK, WV, WO, N_IN };

/* (B,T,C) -> (B,nh,T,hs): a view of the heads, no copy. */
static lt_tensor *heads(lt_ctx *ctx, lt_tensor *t)
{
    return lt_transpose(ctx, lt_view(ctx, t, LT_SHAPE(B, T, NH, HS)), 1, 2);
}

/* The attention probabilities (B,nh,T,T), for the caller to inspect. */
static lt_tensor *last_att;

/* loss = mean over (B,T) of -log softmax(attention(x) @ Wo)[target] */
static lt_tensor *attention_loss(lt_ctx *ctx, lt_tensor **in, void *user)
{
    lt_tensor *targets = user;
    lt_tensor *q = heads(ctx, lt_matmul(ctx, in[X], in[WQ])); /* (B,T,C) @ (C,C), folded */
    lt_tensor *k = heads(ctx, lt_matmul(ctx, in[X], in[WK]));
    lt_tensor *v = heads(ctx, lt_matmul(ctx, in[X], in[WV]));
    lt_tensor *att = lt_mul_scalar(ctx, lt_matmul(ctx, q, lt_transpose(ctx, k, -2, -1)), 1.0f / sqrtf((float)HS));
    lt_tensor *future = lt_triu(ctx, lt_ones(ctx, LT_SHAPE(T, T)), 1); /* 1 above the diagonal */
    att = lt_softmax(ctx, lt_masked_fill(ctx, att, future, -INFINITY), -1);
    last_att = att;
    lt_tensor *y = lt_matmul(ctx, att, v);                                         /* (B,nh,T,hs) */
    y = lt_reshape(ctx, lt_transpose(ctx, y, 1, 2), LT_SHAPE(B, T, C));            /* heads side by side */
    lt_tensor *probs = lt_softmax(ctx, lt_matmul(ctx, y, in[WO]), -1);             /* (B,T,V) */
    lt_tensor *picked = lt_gather(ctx, probs, -1, lt_unsqueeze(ctx, targets, -1)); /* (B,T,1) */
    return lt_neg(ctx, lt_mean(ctx, lt_log(ctx, picked)));
}

static void inputs(lt_ctx *ctx, lt_tensor *in[N_IN], lt_tensor **targets)
{
    in[X] = lt_new_from(ctx, LT_F32, LT_SHAPE(B, T, C), golden_attn_x);
    in[WQ] = lt_new_from(ctx, LT_F32, LT_SHAPE(C, C), golden_attn_wq);
    in[WK] = lt_new_from(ctx, LT_F32, LT_SHAPE(C, C), golden_attn_wk);
    in[WV] = lt_new_from(ctx, LT_F32, LT_SHAPE(C, C), golden_attn_wv);
    in[WO] = lt_new_from(ctx, LT_F32, LT_SHAPE(C, V), golden_attn_wo);
    for (int i = 0; i < N_IN; i++)
        assert_non_null(lt_requires_grad(ctx, in[i], true));
    *targets = lt_new_from(ctx, LT_I32, LT_SHAPE(B, T), golden_attn_targets);
}

static void test_attention_matches_pytorch(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *in[N_IN], *targets;
    inputs(ctx, in, &targets);
    lt_tensor *loss = attention_loss(ctx, in, targets);
    if (!loss)
        fail_msg("%s", lt_error_message(ctx));
    assert_float_equal(lt_item(ctx, loss), golden_attn_loss, 2e-6);
    ts_assert_near(last_att, golden_attn_att, B * NH * T * T, 1e-6, 1e-5);
    /* causal: every weight above the diagonal is exactly 0 */
    for (int64_t i = 0; i < B * NH * T * T; i++)
        if (i % T > (i / T) % T)
            assert_true(lt_get_f32(last_att, i) == 0.0f);
    assert_true(lt_backward(ctx, loss));
    const float *want[N_IN] = {golden_attn_dx, golden_attn_dwq, golden_attn_dwk, golden_attn_dwv, golden_attn_dwo};
    for (int i = 0; i < N_IN; i++)
        ts_assert_near(lt_grad(ctx, in[i]), want[i], lt_numel(in[i]), 1e-6, 1e-4);
    lt_ctx_free(ctx);
}

/* The whole block against central differences. */
static void test_attention_gradcheck(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *in[N_IN], *targets;
    inputs(ctx, in, &targets);
    ts_gradcheck(attention_loss, in, N_IN, targets, 1e-2, 5e-4, 1e-3);
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_matches_pytorch),
        cmocka_unit_test(test_attention_gradcheck),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
