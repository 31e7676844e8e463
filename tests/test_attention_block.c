/* test_attention_block.c - makemore's causal self-attention block written
 * with the library's ops in PyTorch's (B, nh, T, hs) layout, no loop over
 * heads and no index arithmetic: c_attn, split, view and transpose to heads,
 * attention, heads back side by side, c_proj. Its loss and the gradients of
 * the input and of every parameter against PyTorch 1.13
 * (tests/data/golden_attention_block.h, made by
 * tools/golden_attention_block.py, which checks its block against
 * makemore.py's CausalSelfAttention). The inputs and parameters are drawn
 * here with the library's PyTorch-exact generator, as the script drew them. */
#include "test_support.h"

#include <math.h>
#include <string.h>

#include "data/golden_attention_block.h"

/* The block's parameters, stored as PyTorch stores them: weights (out, in). */
typedef struct {
    lt_tensor *c_attn_w, *c_attn_b; /* (3C, C), (3C) */
    lt_tensor *c_proj_w, *c_proj_b; /* (C, C), (C) */
    int n_head;
} block_params;

/* x (B, T, C) @ W^T + b for a PyTorch-style Linear (W (out, in)). */
static lt_tensor *linear3(lt_ctx *ctx, lt_tensor *x, lt_tensor *w, lt_tensor *b)
{
    lt_shape s = lt_shape_of(x);
    lt_tensor *flat = lt_view(ctx, x, LT_SHAPE(s.d[0] * s.d[1], s.d[2]));
    lt_tensor *y = lt_linear(ctx, flat, lt_transpose(ctx, w, 0, 1), b);
    return lt_view(ctx, y, LT_SHAPE(s.d[0], s.d[1], -1));
}

/* (B, T, C) -> (B, nh, T, hs): a view, as PyTorch's view + transpose(1, 2). */
static lt_tensor *to_heads(lt_ctx *ctx, lt_tensor *t, int n_head)
{
    lt_shape s = lt_shape_of(t);
    return lt_transpose(ctx, lt_view(ctx, t, LT_SHAPE(s.d[0], s.d[1], n_head, s.d[2] / n_head)), 1, 2);
}

/* makemore's CausalSelfAttention.forward: x (B, T, C) -> (B, T, C). */
static lt_tensor *causal_self_attention(lt_ctx *ctx, const block_params *p, lt_tensor *x)
{
    lt_shape s = lt_shape_of(x);
    int64_t C = s.d[2];
    lt_tensor *qkv = linear3(ctx, x, p->c_attn_w, p->c_attn_b); /* (B, T, 3C) */
    lt_tensor *q = to_heads(ctx, lt_narrow(ctx, qkv, 2, 0, C), p->n_head);
    lt_tensor *k = to_heads(ctx, lt_narrow(ctx, qkv, 2, C, C), p->n_head);
    lt_tensor *v = to_heads(ctx, lt_narrow(ctx, qkv, 2, 2 * C, C), p->n_head);
    lt_tensor *y = lt_scaled_dot_product_attention(ctx, q, k, v, true, NAN); /* (B, nh, T, hs) */
    y = lt_view(ctx, lt_contiguous(ctx, lt_transpose(ctx, y, 1, 2)), s);     /* heads side by side */
    return linear3(ctx, y, p->c_proj_w, p->c_proj_b);
}

/* What the test needs: inputs and parameters drawn as the golden script drew
 * them (torch.manual_seed, randn, two nn.Linear, randn). */
typedef struct {
    lt_tensor *x, *target;
    block_params p;
} block_case;

static block_case draw_case(lt_ctx *ctx)
{
    int64_t B = GOLDEN_BLOCK_B, T = GOLDEN_BLOCK_T, C = GOLDEN_BLOCK_C;
    block_case c = {lt_new(ctx, LT_F32, LT_SHAPE(B, T, C)),
                    lt_new(ctx, LT_F32, LT_SHAPE(B, T, C)),
                    {lt_new(ctx, LT_F32, LT_SHAPE(3 * C, C)), lt_new(ctx, LT_F32, LT_SHAPE(3 * C)),
                     lt_new(ctx, LT_F32, LT_SHAPE(C, C)), lt_new(ctx, LT_F32, LT_SHAPE(C)), GOLDEN_BLOCK_NH}};
    lt_rng g;
    lt_rng_seed(&g, GOLDEN_BLOCK_SEED);
    assert_true(lt_randn_fill(ctx, &g, c.x));
    assert_true(lt_init_linear(ctx, &g, c.p.c_attn_w, c.p.c_attn_b));
    assert_true(lt_init_linear(ctx, &g, c.p.c_proj_w, c.p.c_proj_b));
    assert_true(lt_randn_fill(ctx, &g, c.target));
    /* the generator agrees with the script's before anything is compared */
    const lt_tensor *drawn[6] = {c.x, c.p.c_attn_w, c.p.c_attn_b, c.p.c_proj_w, c.p.c_proj_b, c.target};
    const float *want[6] = {golden_block_head_x,        golden_block_head_c_attn_w, golden_block_head_c_attn_b,
                            golden_block_head_c_proj_w, golden_block_head_c_proj_b, golden_block_head_target};
    for (int i = 0; i < 6; i++)
        for (int64_t j = 0; j < 8; j++)
            if (lt_get_f32(drawn[i], j) != want[i][j])
                fail_msg("input %d value %lld: drawn %.9g, the script drew %.9g", i, (long long)j,
                         (double)lt_get_f32(drawn[i], j), (double)want[i][j]);
    lt_tensor *params[5] = {c.x, c.p.c_attn_w, c.p.c_attn_b, c.p.c_proj_w, c.p.c_proj_b};
    for (int i = 0; i < 5; i++)
        assert_non_null(lt_requires_grad(ctx, params[i], true));
    return c;
}

/* mean((block(x) - target)^2) */
static lt_tensor *block_loss(lt_ctx *ctx, const block_case *c, lt_tensor **y)
{
    *y = causal_self_attention(ctx, &c->p, c->x);
    lt_tensor *d = lt_sub(ctx, *y, c->target);
    return lt_mean(ctx, lt_mul(ctx, d, d));
}

/* float32 rounding through a dozen ops: a few ulps of the largest values */
#define BLOCK_ATOL 1e-6
#define BLOCK_RTOL 2e-5

static void test_block_matches_pytorch(void **state)
{
    (void)state;
    for (int threads = 1; threads <= 2; threads++) {
        lt_ctx *ctx = lt_ctx_new();
        assert_true(lt_set_threads(ctx, threads));
        block_case c = draw_case(ctx);
        lt_tensor *y, *loss = block_loss(ctx, &c, &y);
        if (!loss)
            fail_msg("block: %s", lt_error_message(ctx));
        ts_assert_shape(y, LT_SHAPE(GOLDEN_BLOCK_B, GOLDEN_BLOCK_T, GOLDEN_BLOCK_C));
        ts_assert_near(y, golden_block_y, lt_numel(y), BLOCK_ATOL, BLOCK_RTOL);
        ts_assert_near(loss, &golden_block_loss, 1, 0, 2e-6);
        assert_true(lt_backward(ctx, loss));
        ts_assert_near(lt_grad(ctx, c.x), golden_block_dx, lt_numel(c.x), BLOCK_ATOL, BLOCK_RTOL);
        ts_assert_near(lt_grad(ctx, c.p.c_attn_w), golden_block_dc_attn_w, lt_numel(c.p.c_attn_w), BLOCK_ATOL,
                       BLOCK_RTOL);
        ts_assert_near(lt_grad(ctx, c.p.c_attn_b), golden_block_dc_attn_b, lt_numel(c.p.c_attn_b), BLOCK_ATOL,
                       BLOCK_RTOL);
        ts_assert_near(lt_grad(ctx, c.p.c_proj_w), golden_block_dc_proj_w, lt_numel(c.p.c_proj_w), BLOCK_ATOL,
                       BLOCK_RTOL);
        ts_assert_near(lt_grad(ctx, c.p.c_proj_b), golden_block_dc_proj_b, lt_numel(c.p.c_proj_b), BLOCK_ATOL,
                       BLOCK_RTOL);
        lt_ctx_free(ctx);
    }
}

/* The block reads q, k and v in place, and attention lays y out as q's
 * (B,T,nh,hs) storage, so contiguous() after the transpose back is free: no
 * copy on the tape. */
static void test_block_tape(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    block_case c = draw_case(ctx);
    lt_tensor *y = causal_self_attention(ctx, &c.p, c.x);
    assert_non_null(y);
    /* linear, attention, linear */
    assert_int_equal(lt_tape_size(ctx), 3);
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_matches_pytorch),
        cmocka_unit_test(test_block_tape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
