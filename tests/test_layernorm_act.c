/* test_layernorm_act.c - lt_layernorm_act_dropout, layernorm -> relu ->
 * dropout as one op: the bits of the three ops (forward, dx, dgain, dbias
 * and the generator's state) in every configuration, on every
 * instruction-set path and thread count (including the backward's
 * column pass for the gain and bias); values against a double reference;
 * central-difference gradients; what the backward reads (the bias, with
 * relu); and the error paths. */
#include "test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/threads.h"

#define EPS 1e-5f

/* One configuration of the op. */
typedef struct {
    lt_act act;
    float p;
    bool training, affine, x_grad; /* x_grad false: only gain and bias want gradients */
} la_case;

/* The outputs of one forward and backward, copied out (malloc): y, dx,
 * dgain, dbias (NULL when not computed), and the generator's next draw. */
typedef struct {
    float *t[4];
    int64_t n[4];
    uint32_t next_draw;
    bool split;
} la_result;

static float *copy_out(const lt_tensor *t, int64_t *n)
{
    if (!t) {
        *n = 0;
        return NULL;
    }
    *n = lt_numel(t);
    float *d = malloc(sizeof(float) * (size_t)(*n ? *n : 1));
    assert_non_null(d);
    lt_copy_out_f32(t, d);
    return d;
}

/* x, gain, bias, up (persistent, in src) through the fused op (fused) or
 * lt_layernorm, lt_relu, lt_dropout, on `threads` threads, g seeded 99. */
static la_result run(const la_case *c, bool fused, int threads, lt_tensor *const src[4])
{
    lt_ctx *ctx = lt_ctx_new();
    assert_true(lt_set_threads(ctx, threads));
    lt_tensor *in[3];
    for (int i = 0; i < 3; i++)
        in[i] = lt_requires_grad(ctx, lt_new_copy(ctx, src[i]), i == 0 ? c->x_grad : c->affine);
    lt_tensor *gain = c->affine ? in[1] : NULL, *bias = c->affine ? in[2] : NULL;
    lt_rng g;
    lt_rng_seed(&g, 99);
    uint64_t jobs = lt_par_jobs(ctx);
    lt_tensor *x = lt_mul_scalar(ctx, in[0], 1.0f); /* a recorded input: dx may be added to */
    lt_tensor *y;
    if (fused) {
        y = lt_layernorm_act_dropout(ctx, x, gain, bias, EPS, c->act, c->p, c->training, &g);
    } else {
        y = lt_layernorm(ctx, x, gain, bias, EPS);
        if (c->act == LT_ACT_RELU)
            y = lt_relu(ctx, y);
        y = lt_dropout(ctx, y, c->p, c->training, &g);
    }
    assert_non_null(y);
    assert_true(lt_backward_grad(ctx, y, src[3]));
    la_result r = {.next_draw = lt_rng_u32(&g), .split = lt_par_jobs(ctx) > jobs};
    r.t[0] = copy_out(y, &r.n[0]);
    for (int i = 0; i < 3; i++)
        r.t[i + 1] = copy_out(lt_grad(ctx, in[i]), &r.n[i + 1]);
    lt_ctx_free(ctx);
    return r;
}

static void free_result(la_result *r)
{
    for (int i = 0; i < 4; i++)
        free(r->t[i]);
}

static void assert_same_bits(const la_result *a, const la_result *b, const char *what)
{
    static const char *const names[4] = {"y", "dx", "dgain", "dbias"};
    assert_int_equal(a->next_draw, b->next_draw);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(a->n[i], b->n[i]);
        if (a->n[i] && memcmp(a->t[i], b->t[i], sizeof(float) * (size_t)a->n[i]) != 0)
            fail_msg("%s: %s differs from the three ops'", what, names[i]);
    }
}

/* x, gain, bias and the upstream gradient for shape (rows, c). */
static void make_inputs(lt_ctx *ctx, int64_t rows, int64_t c, uint64_t seed, lt_tensor *src[4])
{
    src[0] = ts_random(ctx, LT_SHAPE(rows, c), seed, -2, 2);
    src[1] = ts_random(ctx, LT_SHAPE(c), seed + 1, 0.5, 1.5);
    src[2] = ts_random(ctx, LT_SHAPE(c), seed + 2, -1, 1);
    src[3] = ts_random(ctx, LT_SHAPE(rows, c), seed + 3, -1, 1);
}

/* Every configuration on a small tensor (5 rows: no whole block of the
 * backward's 8; 13 features: a scalar tail), one thread: the fused op's
 * bits are the three ops'. */
static void test_same_bits_as_three_ops(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *src[4];
    make_inputs(ctx, 5, 13, 7, src);
    const float ps[] = {0.0f, 0.4f, 1.0f};
    for (int act = 0; act < 2; act++)
        for (int k = 0; k < 3; k++)
            for (int mode = 0; mode < 8; mode++) {
                la_case c = {(lt_act)act, ps[k], mode & 1, (mode & 2) != 0, (mode & 4) == 0};
                if (!c.affine && !c.x_grad)
                    continue; /* nothing wants a gradient */
                char what[96];
                snprintf(what, sizeof what, "act %d p %g training %d affine %d x_grad %d", act, (double)c.p,
                         c.training, c.affine, c.x_grad);
                la_result a = run(&c, true, 1, src), b = run(&c, false, 1, src);
                assert_same_bits(&a, &b, what);
                free_result(&a);
                free_result(&b);
            }
    lt_ctx_free(ctx);
}

/* Degenerate shapes: no rows, rows of one feature (layernorm's output is
 * then the bias alone), one row: the bits of the three ops. */
static void test_small_shapes(void **state)
{
    (void)state;
    const int64_t shapes[][2] = {{0, 4}, {3, 1}, {1, 7}};
    const la_case c = {LT_ACT_RELU, 0.5f, true, true, true};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        lt_ctx *ctx = lt_ctx_new();
        lt_tensor *src[4];
        make_inputs(ctx, shapes[k][0], shapes[k][1], 81 + k, src);
        la_result a = run(&c, true, 2, src), b = run(&c, false, 1, src);
        assert_same_bits(&a, &b, "small shape");
        free_result(&a);
        free_result(&b);
        lt_ctx_free(ctx);
    }
}

/* A wide layer's size, split across 1-3 threads on every instruction-set
 * path, against the three ops on one thread of the portable path: rows and
 * the forward's tail by blocks of rows, the gain and bias gradients by
 * columns from the stored gradient at the affine output (also when x wants
 * none). 301 rows, 2061 features: no multiple of a block or a vector. */
static void test_threads_and_paths(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *src[4];
    make_inputs(ctx, 301, 2061, 21, src);
    const la_case cases[] = {{LT_ACT_RELU, 0.4f, true, true, true},
                             {LT_ACT_RELU, 0.4f, true, true, false},
                             {LT_ACT_NONE, 0.25f, true, true, true},
                             {LT_ACT_RELU, 0.0f, true, true, true}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        lt_cpu_force_isa(LT_ISA_GENERIC);
        la_result want = run(&cases[k], false, 1, src);
        for (int r = 0; r < 3 * ((int)lt_cpu_isa_supported() + 1); r++) {
            int threads = 1 + r % 3;
            lt_cpu_force_isa((lt_isa)(r / 3));
            la_result got = run(&cases[k], true, threads, src);
            char what[64];
            snprintf(what, sizeof what, "case %zu, isa %d, %d threads", k, r / 3, threads);
            assert_true(got.split == (threads > 1));
            assert_same_bits(&got, &want, what);
            free_result(&got);
        }
        free_result(&want);
    }
    lt_cpu_force_isa(lt_cpu_isa_supported());
    lt_ctx_free(ctx);
}

/* The values, without dropout, against layernorm and relu computed in
 * double from their definitions (y, and the gradients of sum(y * up)). */
static void test_values_against_double(void **state)
{
    (void)state;
    enum { R = 3, C = 6 };
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *src[4];
    make_inputs(ctx, R, C, 41, src);
    la_case c = {LT_ACT_RELU, 0.0f, true, true, true};
    la_result got = run(&c, true, 1, src);
    float x[R * C], g[C], b[C], up[R * C];
    lt_copy_out_f32(src[0], x);
    lt_copy_out_f32(src[1], g);
    lt_copy_out_f32(src[2], b);
    lt_copy_out_f32(src[3], up);
    double dgain[C] = {0}, dbias[C] = {0};
    int positive = 0;
    for (int r = 0; r < R; r++) {
        const float *xr = x + r * C;
        double mean = 0, var = 0, xh[C], dxh[C], sd = 0, sdx = 0;
        for (int j = 0; j < C; j++)
            mean += xr[j] / (double)C;
        for (int j = 0; j < C; j++)
            var += (xr[j] - mean) * (xr[j] - mean) / C;
        double is = 1.0 / sqrt(var + (double)EPS);
        for (int j = 0; j < C; j++) {
            xh[j] = (xr[j] - mean) * is;
            double z = xh[j] * g[j] + b[j];
            double dz = z > 0 ? up[r * C + j] : 0.0;
            positive += z > 0;
            ts_assert_value("y", got.t[0][r * C + j], z > 0 ? z : 0.0, 1e-5, 1e-5);
            dxh[j] = dz * g[j];
            dgain[j] += dz * xh[j];
            dbias[j] += dz;
            sd += dxh[j];
            sdx += dxh[j] * xh[j];
        }
        for (int j = 0; j < C; j++)
            ts_assert_value("dx", got.t[1][r * C + j], is * (dxh[j] - sd / C - xh[j] * sdx / C), 1e-5, 1e-4);
    }
    for (int j = 0; j < C; j++) {
        ts_assert_value("dgain", got.t[2][j], dgain[j], 1e-5, 1e-4);
        ts_assert_value("dbias", got.t[3][j], dbias[j], 1e-5, 1e-4);
    }
    assert_true(positive > 0 && positive < R * C); /* relu's two sides */
    free_result(&got);
    lt_ctx_free(ctx);
}

/* The gradient check reseeds the generator for every evaluation, so each
 * sees the same mask. */
typedef struct {
    lt_act act;
    float p;
    bool strided;
} gc_case;

static lt_tensor *gc_fn(lt_ctx *ctx, lt_tensor **in, void *user)
{
    const gc_case *c = user;
    lt_rng g;
    lt_rng_seed(&g, 5);
    lt_tensor *x = c->strided ? lt_transpose(ctx, in[0], 0, 1) : in[0];
    return lt_layernorm_act_dropout(ctx, x, in[1], in[2], EPS, c->act, c->p, true, &g);
}

static void test_gradcheck(void **state)
{
    (void)state;
    const gc_case cases[] = {{LT_ACT_RELU, 0.3f, false}, {LT_ACT_RELU, 0.0f, true}, {LT_ACT_NONE, 0.5f, false}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        lt_ctx *ctx = lt_ctx_new();
        int64_t rows = 4, c = 5;
        lt_tensor *in[3] = {ts_random(ctx, cases[k].strided ? LT_SHAPE(c, rows) : LT_SHAPE(rows, c), 60 + k, -2, 3),
                            ts_random(ctx, LT_SHAPE(c), 70, 0.5, 2), ts_random(ctx, LT_SHAPE(c), 71, -1, 1)};
        for (int i = 0; i < 3; i++)
            lt_requires_grad(ctx, in[i], true);
        print_message("layernorm_act_dropout gradcheck case %zu\n", k);
        ts_gradcheck(gc_fn, in, 3, (void *)&cases[k], 1e-3, 2e-3, 2e-2);
        lt_ctx_free(ctx);
    }
}

/* With relu the backward recomputes the affine output, so it reads the
 * bias: a write to the bias between forward and backward is refused,
 * naming the op. Without an activation the bias is not read. */
static void test_bias_write_refused_with_relu(void **state)
{
    (void)state;
    for (int act = 0; act < 2; act++) {
        lt_ctx *ctx = lt_ctx_new();
        lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(3, 4), 3, -2, 2), true);
        lt_tensor *bias = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(4), 4, -1, 1), true);
        lt_rng g;
        lt_rng_seed(&g, 1);
        lt_tensor *y = lt_layernorm_act_dropout(ctx, x, NULL, bias, EPS, (lt_act)act, 0.2f, true, &g);
        assert_non_null(y);
        assert_true(lt_fill(ctx, bias, 0.5f));
        bool ok = lt_backward_grad(ctx, y, lt_ones(ctx, lt_shape_of(y)));
        if (act == LT_ACT_RELU) {
            assert_false(ok);
            ts_assert_error(ctx, LT_ERR_GRAPH, "layernorm_act_dropout", "modified in place", NULL);
        } else {
            assert_true(ok);
        }
        lt_ctx_free(ctx);
    }
}

static void test_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *x = lt_zeros(ctx, LT_F32, LT_SHAPE(2, 3));
    lt_rng g;
    lt_rng_seed(&g, 1);
    assert_null(lt_layernorm_act_dropout(ctx, x, NULL, NULL, EPS, (lt_act)7, 0.1f, true, &g));
    ts_assert_error(ctx, LT_ERR_ARG, "layernorm_act_dropout: unknown activation 7", NULL);
    assert_null(lt_layernorm_act_dropout(ctx, x, NULL, NULL, EPS, LT_ACT_RELU, 1.5f, true, &g));
    ts_assert_error(ctx, LT_ERR_ARG, "layernorm_act_dropout: dropout probability 1.5 outside [0, 1]", NULL);
    assert_null(lt_layernorm_act_dropout(ctx, x, NULL, NULL, EPS, LT_ACT_RELU, NAN, true, &g));
    ts_assert_error(ctx, LT_ERR_ARG, "layernorm_act_dropout: dropout probability nan", NULL);
    assert_null(lt_layernorm_act_dropout(ctx, x, NULL, NULL, EPS, LT_ACT_RELU, 0.5f, true, NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "layernorm_act_dropout: training with dropout needs a generator", NULL);
    assert_null(lt_layernorm_act_dropout(ctx, x, lt_ones(ctx, LT_SHAPE(4)), NULL, EPS, LT_ACT_RELU, 0.5f, true, &g));
    ts_assert_error(ctx, LT_ERR_SHAPE, "layernorm_act_dropout: gain (4) does not fit 3 features", NULL);
    assert_null(lt_layernorm_act_dropout(ctx, x, NULL, NULL, -1.0f, LT_ACT_NONE, 0.0f, false, NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "layernorm_act_dropout: eps -1", NULL);
    /* evaluation and p = 0 need no generator and draw nothing */
    assert_non_null(lt_layernorm_act_dropout(ctx, x, NULL, NULL, EPS, LT_ACT_RELU, 0.5f, false, NULL));
    assert_non_null(lt_layernorm_act_dropout(ctx, x, NULL, NULL, EPS, LT_ACT_RELU, 0.0f, true, NULL));
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_bits_as_three_ops), cmocka_unit_test(test_small_shapes),
        cmocka_unit_test(test_threads_and_paths),
        cmocka_unit_test(test_values_against_double),  cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_bias_write_refused_with_relu), cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
