/* test_optim.c - SGD (plain, weight decay, momentum, Nesterov), Adam (with
 * L2) and AdamW against PyTorch 1.13 golden values after one and three
 * steps; clipping by global norm; steps allocate nothing; error paths;
 * Adam and AdamW on a long parameter give the bits of the documented rule
 * on every instruction-set path and thread count; lt_optim_finite sees every
 * non-finite value a step writes. */
#include "test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../data/golden_optim.h"
#include "kernels/cpu.h"
#include "kernels/threads.h"

typedef struct {
    const char *name;
    lt_optim_config cfg;
    const float *step1, *step3;
} golden_case;

static golden_case make_case(const char *name, lt_optim_kind kind, float lr, const float *s1, const float *s3)
{
    golden_case c = {name, lt_optim_defaults(kind, lr), s1, s3};
    return c;
}

/* The configurations of tools/golden_optim.py, in its order. */
static int golden_cases(golden_case *out)
{
    int n = 0;
    out[n++] = make_case("sgd", LT_OPTIM_SGD, 0.1f, golden_sgd_step1, golden_sgd_step3);
    out[n] = make_case("sgd_wd", LT_OPTIM_SGD, 0.1f, golden_sgd_wd_step1, golden_sgd_wd_step3);
    out[n++].cfg.weight_decay = 0.05f;
    out[n] = make_case("momentum", LT_OPTIM_SGD, 0.1f, golden_momentum_step1, golden_momentum_step3);
    out[n++].cfg.momentum = 0.9f;
    out[n] = make_case("nesterov", LT_OPTIM_SGD, 0.1f, golden_nesterov_step1, golden_nesterov_step3);
    out[n].cfg.momentum = 0.9f;
    out[n].cfg.nesterov = true;
    out[n++].cfg.weight_decay = 0.01f;
    out[n++] = make_case("adam", LT_OPTIM_ADAM, 0.01f, golden_adam_step1, golden_adam_step3);
    out[n] = make_case("adam_wd", LT_OPTIM_ADAM, 0.01f, golden_adam_wd_step1, golden_adam_wd_step3);
    out[n].cfg.beta1 = 0.8f;
    out[n].cfg.beta2 = 0.99f;
    out[n].cfg.eps = 1e-6f;
    out[n++].cfg.weight_decay = 0.1f;
    out[n] = make_case("adamw", LT_OPTIM_ADAMW, 0.01f, golden_adamw_step1, golden_adamw_step3);
    out[n++].cfg.weight_decay = 0.1f;
    return n;
}

static void set_grad(lt_tensor *p, const float *g)
{
    memcpy(lt_grad_f32(p), g, sizeof(float) * (size_t)lt_numel(p));
}

static void test_golden_steps(void **state)
{
    (void)state;
    golden_case cases[8];
    int n = golden_cases(cases);
    const float *grads[3] = {golden_opt_g1, golden_opt_g2, golden_opt_g3};
    for (int c = 0; c < n; c++) {
        lt_ctx *ctx = lt_ctx_new();
        lt_tensor *p = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(4, 3), golden_opt_p0), true);
        lt_optim *opt = lt_optim_new(ctx, &cases[c].cfg, &p, 1);
        assert_non_null(opt);
        for (int s = 0; s < 3; s++) {
            set_grad(p, grads[s]);
            assert_true(lt_optim_step(opt));
            if (s == 0) {
                print_message("%s step 1\n", cases[c].name);
                ts_assert_near(p, cases[c].step1, 12, 1e-6, 1e-5);
            }
        }
        print_message("%s step 3\n", cases[c].name);
        ts_assert_near(p, cases[c].step3, 12, 1e-6, 1e-5);
        assert_int_equal(lt_optim_steps(opt), 3);
        lt_optim_free(opt);
        lt_ctx_free(ctx);
    }
}

/* Hand-computed first Adam step: m = 0.1 g, v = 0.001 g^2, so the update is
 * lr * g / (|g| + eps') = lr * sign(g) (up to eps); AdamW also shrinks p. */
static void test_adamw_by_hand(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    const float p0[2] = {1.0f, -2.0f}, g[2] = {0.5f, -3.0f};
    lt_tensor *p = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(2), p0), true);
    lt_optim_config cfg = lt_optim_defaults(LT_OPTIM_ADAMW, 0.1f);
    cfg.weight_decay = 0.5f;
    lt_optim *opt = lt_optim_new(ctx, &cfg, &p, 1);
    set_grad(p, g);
    assert_true(lt_optim_step(opt));
    /* p * (1 - 0.1*0.5) - 0.1 * sign(g) */
    const float want[2] = {1.0f * 0.95f - 0.1f, -2.0f * 0.95f + 0.1f};
    ts_assert_near(p, want, 2, 1e-6, 1e-6);
    lt_optim_free(opt);
    lt_ctx_free(ctx);
}

/* Three steps of the documented Adam / AdamW rule, element by element, in
 * the order of float operations optim.c documents. */
static void adam_by_rule(const lt_optim_config *c, float *w, const float *g, int64_t n)
{
    float *m = calloc((size_t)n, sizeof *m), *v = calloc((size_t)n, sizeof *v);
    assert_non_null(m);
    assert_non_null(v);
    for (int t = 1; t <= 3; t++) {
        const double bc1 = 1.0 - pow(c->beta1, t), bc2 = 1.0 - pow(c->beta2, t);
        const float step = (float)(c->lr / bc1), rbc2 = (float)sqrt(bc2);
        const float l2 = c->kind == LT_OPTIM_ADAM ? c->weight_decay : 0.0f;
        const float shrink = c->kind == LT_OPTIM_ADAMW ? 1.0f - c->lr * c->weight_decay : 1.0f;
        for (int64_t i = 0; i < n; i++) {
            w[i] *= shrink;
            float d = g[i] + l2 * w[i];
            m[i] = c->beta1 * m[i] + (1.0f - c->beta1) * d;
            v[i] = c->beta2 * v[i] + (1.0f - c->beta2) * d * d;
            w[i] -= step * m[i] / (sqrtf(v[i]) / rbc2 + c->eps);
        }
    }
    free(m);
    free(v);
}

/* Three steps of the documented SGD rule with the same gradient, element
 * by element, in optim.c's order of float operations. */
static void sgd_by_rule(const lt_optim_config *c, float *w, const float *g, int64_t n)
{
    float *buf = calloc((size_t)n, sizeof *buf);
    assert_non_null(buf);
    for (int t = 1; t <= 3; t++)
        for (int64_t i = 0; i < n; i++) {
            float d = g[i] + c->weight_decay * w[i];
            if (c->momentum > 0.0f) {
                buf[i] = t == 1 ? d : c->momentum * buf[i] + d;
                d = c->nesterov ? d + c->momentum * buf[i] : buf[i];
            }
            w[i] -= c->lr * d;
        }
    free(buf);
}

static void update_by_rule(const lt_optim_config *c, float *w, const float *g, int64_t n)
{
    if (c->kind == LT_OPTIM_SGD)
        sgd_by_rule(c, w, g, n);
    else
        adam_by_rule(c, w, g, n);
}

/* The rules the path and thread tests run: Adam, AdamW, and SGD plain,
 * with momentum and weight decay, and Nesterov. */
static lt_optim_config rule_config(int k)
{
    static const lt_optim_kind kinds[5] = {LT_OPTIM_ADAM, LT_OPTIM_ADAMW, LT_OPTIM_SGD, LT_OPTIM_SGD, LT_OPTIM_SGD};
    lt_optim_config cfg = lt_optim_defaults(kinds[k], 0.01f);
    cfg.weight_decay = k == 2 ? 0.0f : 0.1f;
    cfg.momentum = k >= 3 ? 0.9f : cfg.momentum;
    cfg.nesterov = k == 4;
    return cfg;
}
#define N_RULES 5

/* A parameter long enough to split (and no multiple of the vector width):
 * three steps equal the rule bit for bit on every path, 1 and 2 threads. */
static void test_every_rule_path_and_threads(void **state)
{
    (void)state;
    const int64_t n = 300007;
    for (int k = 0; k < N_RULES; k++) {
        lt_ctx *ref_ctx = lt_ctx_new();
        lt_tensor *w0 = ts_random(ref_ctx, LT_SHAPE(n), 11, -2, 2), *g = ts_random(ref_ctx, LT_SHAPE(n), 12, -1, 1);
        lt_optim_config cfg = rule_config(k);
        float *want = malloc(sizeof(float) * (size_t)n);
        assert_non_null(want);
        memcpy(want, lt_data_f32(w0), sizeof(float) * (size_t)n);
        update_by_rule(&cfg, want, lt_data_f32(g), n);
        for (int isa = LT_ISA_GENERIC; isa <= (int)lt_cpu_isa_supported(); isa++)
            for (int threads = 1; threads <= 2; threads++) {
                lt_cpu_force_isa((lt_isa)isa);
                lt_ctx *ctx = lt_ctx_new();
                assert_true(lt_set_threads(ctx, threads));
                lt_tensor *p = lt_requires_grad(ctx, lt_new_copy(ctx, w0), true);
                lt_optim *opt = lt_optim_new(ctx, &cfg, &p, 1);
                assert_non_null(opt);
                uint64_t jobs = lt_par_jobs(ctx);
                for (int t = 0; t < 3; t++) {
                    set_grad(p, lt_data_f32(g));
                    assert_true(lt_optim_step(opt));
                }
                assert_true((lt_par_jobs(ctx) > jobs) == (threads > 1)); /* split when it may */
                assert_memory_equal(lt_data_f32(p), want, sizeof(float) * (size_t)n);
                lt_optim_free(opt);
                lt_free(p);
                lt_ctx_free(ctx);
            }
        lt_cpu_force_isa(lt_cpu_isa_supported());
        free(want);
        lt_ctx_free(ref_ctx);
    }
}

/* lt_optim_finite: true before any step and after finite ones; false after
 * a step that wrote an infinity or a NaN, wherever it falls: in the vector
 * body of the first task, in the second task's block (2 threads) or in the
 * scalar tail, from an inf or NaN gradient (every rule), or from a finite
 * gradient whose update overflows (SGD at lr 1e38). Every path, 1 and 2
 * threads; the parameters not hit keep the rule's bits. */
static void finite_case(const lt_optim_config *cfg, int threads, int64_t n, int64_t at, float bad_grad)
{
    lt_ctx *ctx = lt_ctx_new();
    assert_true(lt_set_threads(ctx, threads));
    lt_tensor *p = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(n), 21, -2, 2), true);
    lt_tensor *g = ts_random(ctx, LT_SHAPE(n), 22, -1, 1);
    lt_optim *opt = lt_optim_new(ctx, cfg, &p, 1);
    assert_non_null(opt);
    assert_true(lt_optim_finite(opt)); /* nothing written yet */
    set_grad(p, lt_data_f32(g));
    assert_true(lt_optim_step(opt));
    assert_true(lt_optim_finite(opt));
    lt_data_f32(g)[at] = bad_grad;
    set_grad(p, lt_data_f32(g));
    assert_true(lt_optim_step(opt));
    if (lt_optim_finite(opt))
        fail_msg("%s, %d thread(s), %s: a non-finite value at %lld went unseen", lt_optim_kind_name(cfg->kind),
                 threads, lt_isa_name(lt_cpu_isa()), (long long)at);
    assert_false(isfinite(lt_data_f32(p)[at]));
    assert_true(isfinite(lt_data_f32(p)[at == 0 ? 1 : at - 1]));
    lt_optim_free(opt);
    lt_free(p);
    lt_ctx_free(ctx);
}

static void test_finite_flag(void **state)
{
    (void)state;
    const int64_t n = 300007, where[3] = {5, n / 2 + 17, n - 1};
    const float grads[2] = {INFINITY, NAN};
    lt_optim_config huge = lt_optim_defaults(LT_OPTIM_SGD, 1e38f); /* lr * 1e10: inf */
    for (int isa = LT_ISA_GENERIC; isa <= (int)lt_cpu_isa_supported(); isa++) {
        lt_cpu_force_isa((lt_isa)isa);
        for (int threads = 1; threads <= 2; threads++)
            for (int w = 0; w < 3; w++) {
                for (int k = 0; k < N_RULES; k++) {
                    lt_optim_config cfg = rule_config(k);
                    finite_case(&cfg, threads, n, where[w], grads[(k + w) % 2]);
                }
                finite_case(&huge, threads, n, where[w], 1e10f);
            }
    }
    lt_cpu_force_isa(lt_cpu_isa_supported());
    assert_false(lt_optim_finite(NULL));
}

/* Many small parameters, none large enough to split alone (an empty one
 * and one whose gradient is only marked zero by lt_zero_grad among them):
 * one step updates them all in one loop, which splits on 2 and 3 threads,
 * cutting through parameters, and still equals the rule bit for bit on
 * every path; AdamW and SGD with Nesterov momentum. */
static void many_small_params(const lt_optim_config *cfg, int scale);

static void test_many_small_params(void **state)
{
    (void)state;
    const lt_optim_config adamw = rule_config(1), nesterov = rule_config(4);
    many_small_params(&adamw, 1);
    many_small_params(&nesterov, 2); /* less work per element: more elements to split */
}

/* scale: a factor on every parameter's size. */
static void many_small_params(const lt_optim_config *cfg, int scale)
{
    enum { NP = 41, ZEROED = 3 };
    int64_t first[NP + 1] = {0};
    for (int i = 0; i < NP; i++)
        first[i + 1] = first[i] + (i == 7 ? 0 : (int64_t)(i * 7919 % 9001 + 1) * scale);
    const int64_t total = first[NP];
    lt_ctx *ref_ctx = lt_ctx_new();
    lt_tensor *w0 = ts_random(ref_ctx, LT_SHAPE(total), 21, -2, 2), *g = ts_random(ref_ctx, LT_SHAPE(total), 22, -1, 1);
    float *g_rule = malloc(sizeof(float) * (size_t)total), *want = malloc(sizeof(float) * (size_t)total);
    assert_true(g_rule && want);
    memcpy(g_rule, lt_data_f32(g), sizeof(float) * (size_t)total);
    memset(g_rule + first[ZEROED], 0, sizeof(float) * (size_t)(first[ZEROED + 1] - first[ZEROED]));
    memcpy(want, lt_data_f32(w0), sizeof(float) * (size_t)total);
    update_by_rule(cfg, want, g_rule, total);
    for (int isa = LT_ISA_GENERIC; isa <= (int)lt_cpu_isa_supported(); isa++)
        for (int threads = 1; threads <= 3; threads++) {
            lt_cpu_force_isa((lt_isa)isa);
            lt_ctx *ctx = lt_ctx_new();
            assert_true(lt_set_threads(ctx, threads));
            lt_tensor *p[NP];
            for (int i = 0; i < NP; i++) {
                lt_tensor *part = lt_narrow(ctx, w0, 0, first[i], first[i + 1] - first[i]);
                p[i] = lt_requires_grad(ctx, lt_new_copy(ctx, part), true);
            }
            lt_optim *opt = lt_optim_new(ctx, cfg, p, NP);
            assert_non_null(opt);
            uint64_t jobs = lt_par_jobs(ctx);
            for (int t = 0; t < 3; t++) {
                for (int i = 0; i < NP; i++) {
                    set_grad(p[i], lt_data_f32(g) + first[i]);
                    if (i == ZEROED) /* marked zero, its buffer still holding g */
                        lt_zero_grad(p[i]);
                }
                assert_true(lt_optim_step(opt));
            }
            assert_true((lt_par_jobs(ctx) > jobs) == (threads > 1)); /* split when it may */
            for (int i = 0; i < NP; i++) {
                assert_memory_equal(lt_data_f32(p[i]), want + first[i], sizeof(float) * (size_t)lt_numel(p[i]));
                lt_free(p[i]);
            }
            lt_optim_free(opt);
            lt_ctx_free(ctx);
        }
    lt_cpu_force_isa(lt_cpu_isa_supported());
    free(g_rule);
    free(want);
    lt_ctx_free(ref_ctx);
}

static void test_momentum_by_hand(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *p = lt_requires_grad(ctx, lt_new(ctx, LT_F32, LT_SHAPE(1)), true);
    lt_optim_config cfg = lt_optim_defaults(LT_OPTIM_SGD, 1.0f);
    cfg.momentum = 0.5f;
    lt_optim *opt = lt_optim_new(ctx, &cfg, &p, 1);
    /* constant gradient 1: buf = 1, 1.5, 1.75 -> p = -1, -2.5, -4.25 */
    const float want[3] = {-1.0f, -2.5f, -4.25f};
    for (int s = 0; s < 3; s++) {
        lt_fill(ctx, lt_grad(ctx, p), 1.0f);
        assert_true(lt_optim_step(opt));
        assert_float_equal(lt_get_f32(p, 0), want[s], 1e-6);
    }
    lt_optim_zero_grad(opt);
    assert_float_equal(lt_grad_get(p, 0), 0.0f, 0.0);
    lt_optim_free(opt);
    lt_ctx_free(ctx);
}

/* The two parameters of tools/golden_optim.py's clipping cases, (5,) and
 * (2,3), with its gradients. */
static void clip_params(lt_ctx *ctx, lt_tensor *ps[2])
{
    ps[0] = lt_requires_grad(ctx, lt_new(ctx, LT_F32, LT_SHAPE(5)), true);
    ps[1] = lt_requires_grad(ctx, lt_new(ctx, LT_F32, LT_SHAPE(2, 3)), true);
    set_grad(ps[0], golden_clip_a);
    set_grad(ps[1], golden_clip_b);
}

static void test_clip_golden(void **state)
{
    (void)state;
    struct {
        float max_norm, norm;
        const float *a, *b;
    } cases[2] = {{1.5f, golden_clip_tight_norm, golden_clip_tight_a, golden_clip_tight_b},
                  {1000.0f, golden_clip_loose_norm, golden_clip_loose_a, golden_clip_loose_b}};
    for (int c = 0; c < 2; c++) {
        lt_ctx *ctx = lt_ctx_new();
        lt_tensor *ps[2];
        clip_params(ctx, ps);
        float norm = lt_clip_grad_norm(ctx, ps, 2, cases[c].max_norm);
        assert_float_equal(norm, cases[c].norm, 1e-5 * cases[c].norm);
        ts_assert_near(lt_grad(ctx, ps[0]), cases[c].a, 5, 1e-6, 1e-5);
        ts_assert_near(lt_grad(ctx, ps[1]), cases[c].b, 6, 1e-6, 1e-5);
        lt_ctx_free(ctx);
    }
}

/* Bit for bit, except that any NaN matches any NaN. */
static void assert_same_floats(const lt_tensor *t, const float *want, int64_t n)
{
    assert_int_equal(lt_numel(t), n);
    for (int64_t i = 0; i < n; i++) {
        float got = lt_get_f32(t, i);
        if (isnan(want[i]) ? !isnan(got) : memcmp(&got, &want[i], sizeof got) != 0)
            fail_msg("element %lld: got %.9g, expected %.9g", (long long)i, (double)got, (double)want[i]);
    }
}

/* A NaN or infinite gradient: PyTorch 1.13 multiplies every gradient by
 * min(max_norm / (norm + 1e-6), 1), which is NaN for a NaN norm (every
 * gradient becomes NaN, so the blow-up cannot go unnoticed) and 0 for an
 * infinite one (the infinite element becomes NaN, the rest 0). */
static void test_clip_nonfinite_golden(void **state)
{
    (void)state;
    struct {
        float bad, norm;
        const float *a, *b;
    } cases[2] = {{NAN, golden_clip_nan_norm, golden_clip_nan_a, golden_clip_nan_b},
                  {INFINITY, golden_clip_inf_norm, golden_clip_inf_a, golden_clip_inf_b}};
    for (int c = 0; c < 2; c++) {
        lt_ctx *ctx = lt_ctx_new();
        lt_tensor *ps[2];
        clip_params(ctx, ps);
        lt_grad_f32(ps[0])[1] = cases[c].bad;
        float norm = lt_clip_grad_norm(ctx, ps, 2, 1.5f);
        assert_true(isnan(cases[c].norm) ? isnan(norm) : norm == cases[c].norm);
        assert_int_equal(lt_status_of(ctx), LT_OK); /* a result, not an error: as PyTorch's default */
        assert_same_floats(lt_grad(ctx, ps[0]), cases[c].a, 5);
        assert_same_floats(lt_grad(ctx, ps[1]), cases[c].b, 6);
        lt_ctx_free(ctx);
    }
}

/* 3-4-5: norm 5, clipped to 1 gives (0.6, 0.8) up to the 1e-6 guard. */
static void test_clip_by_hand(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *p = lt_requires_grad(ctx, lt_new(ctx, LT_F32, LT_SHAPE(2)), true);
    set_grad(p, (const float[2]){3.0f, 4.0f});
    assert_float_equal(lt_clip_grad_norm(ctx, &p, 1, 1.0f), 5.0f, 1e-6);
    ts_assert_near(lt_grad(ctx, p), (const float[2]){0.6f, 0.8f}, 2, 1e-6, 1e-6);
    /* already within the limit: untouched */
    assert_float_equal(lt_clip_grad_norm(ctx, &p, 1, 2.0f), 1.0f, 1e-6);
    ts_assert_near(lt_grad(ctx, p), (const float[2]){0.6f, 0.8f}, 2, 1e-6, 1e-6);
    lt_ctx_free(ctx);
}

/* The same parameter twice, or two overlapping views of one storage, would
 * be stepped twice per lt_optim_step: refused, naming both. Disjoint views
 * of one storage are separate parameters. */
static void test_shared_parameters(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *w = lt_requires_grad(ctx, lt_new(ctx, LT_F32, LT_SHAPE(4, 2)), true);
    lt_tensor *b = lt_requires_grad(ctx, lt_new(ctx, LT_F32, LT_SHAPE(2)), true);
    lt_optim_config cfg = lt_optim_defaults(LT_OPTIM_SGD, 1.0f);
    assert_null(lt_optim_new(ctx, &cfg, (lt_tensor *[]){w, b, w}, 3));
    ts_assert_error(ctx, LT_ERR_ARG, "optim_new: parameters 0 and 2 share memory", "twice", NULL);
    lt_tensor *rows = lt_narrow(ctx, w, 0, 1, 2); /* rows 1..2, contiguous */
    assert_null(lt_optim_new(ctx, &cfg, (lt_tensor *[]){b, w, rows}, 3));
    ts_assert_error(ctx, LT_ERR_ARG, "parameters 1 and 2 share memory", NULL);
    assert_null(lt_optim_new(ctx, &cfg, (lt_tensor *[]){lt_narrow(ctx, w, 0, 0, 2), rows}, 2));
    ts_assert_error(ctx, LT_ERR_ARG, "parameters 0 and 1", NULL);
    /* rows 0..1 and 2..3: one step each */
    lt_tensor *top = lt_narrow(ctx, w, 0, 0, 2), *bottom = lt_narrow(ctx, w, 0, 2, 2);
    lt_optim *opt = lt_optim_new(ctx, &cfg, (lt_tensor *[]){top, bottom}, 2);
    assert_non_null(opt);
    for (int i = 0; i < 8; i++)
        lt_grad_f32(w)[i] = 1.0f;
    assert_true(lt_optim_step(opt));
    ts_assert_near(w, (const float[8]){-1, -1, -1, -1, -1, -1, -1, -1}, 8, 0, 0);
    lt_optim_free(opt);
    lt_ctx_free(ctx);
}

/* A training loop's steps allocate nothing in the arena. */
static void test_no_steady_state_allocation(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *w = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(8, 4), 1, -1, 1), true);
    lt_tensor *x = ts_random(ctx, LT_SHAPE(16, 8), 2, -1, 1);
    lt_optim_config cfg = lt_optim_defaults(LT_OPTIM_ADAMW, 0.01f);
    lt_optim *opt = lt_optim_new(ctx, &cfg, &w, 1);
    size_t allocs = 0;
    float first = 0, last = 0;
    for (int s = 0; s < 20; s++) {
        lt_ctx_reset(ctx);
        lt_optim_zero_grad(opt);
        lt_tensor *loss = lt_mean(ctx, lt_pow(ctx, lt_matmul(ctx, x, w), 2.0f));
        assert_true(lt_backward(ctx, loss));
        lt_clip_grad_norm(ctx, &w, 1, 1.0f);
        assert_true(lt_optim_step(opt));
        if (s == 0)
            first = lt_item(ctx, loss);
        last = lt_item(ctx, loss);
        if (s == 1)
            allocs = lt_ctx_arena_allocations(ctx);
    }
    assert_int_equal(lt_ctx_arena_allocations(ctx), allocs);
    assert_true(last < first); /* and it optimises */
    lt_optim_free(opt);
    lt_ctx_free(ctx);
}

static void test_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *nograd = lt_new(ctx, LT_F32, LT_SHAPE(3));
    lt_tensor *p = lt_requires_grad(ctx, lt_new(ctx, LT_F32, LT_SHAPE(3, 2)), true);
    lt_optim_config cfg = lt_optim_defaults(LT_OPTIM_ADAM, 0.1f);
    assert_null(lt_optim_new(ctx, &cfg, &nograd, 1));
    ts_assert_error(ctx, LT_ERR_GRAPH, "optim_new", "parameter 0 has no gradient", NULL);
    assert_null(lt_optim_new(ctx, &cfg, &p, 0));
    ts_assert_error(ctx, LT_ERR_ARG, "optim_new", "0 parameters", NULL);
    cfg.beta1 = 1.0f;
    assert_null(lt_optim_new(ctx, &cfg, &p, 1));
    ts_assert_error(ctx, LT_ERR_ARG, "betas (1, 0.999)", NULL);
    cfg = lt_optim_defaults(LT_OPTIM_SGD, -1.0f);
    assert_null(lt_optim_new(ctx, &cfg, &p, 1));
    ts_assert_error(ctx, LT_ERR_ARG, "lr -1", NULL);
    cfg = lt_optim_defaults(LT_OPTIM_SGD, 0.1f);
    cfg.nesterov = true;
    assert_null(lt_optim_new(ctx, &cfg, &p, 1));
    ts_assert_error(ctx, LT_ERR_ARG, "nesterov needs sgd with momentum", NULL);
    assert_null(lt_optim_new(ctx, NULL, &p, 1));
    ts_assert_error(ctx, LT_ERR_ARG, "config is NULL", NULL);
    lt_tensor *t = lt_transpose(ctx, p, 0, 1);
    cfg = lt_optim_defaults(LT_OPTIM_SGD, 0.1f);
    assert_null(lt_optim_new(ctx, &cfg, &t, 1));
    ts_assert_error(ctx, LT_ERR_ARG, "parameter 0 is not contiguous", NULL);
    assert_true(isnan(lt_clip_grad_norm(ctx, &p, 1, 0.0f)));
    ts_assert_error(ctx, LT_ERR_ARG, "clip_grad_norm", "max_norm 0", NULL);
    assert_true(isnan(lt_clip_grad_norm(ctx, &nograd, 1, 1.0f)));
    ts_assert_error(ctx, LT_ERR_GRAPH, "clip_grad_norm", "no gradient", NULL);
    cfg = lt_optim_defaults(LT_OPTIM_ADAMW, INFINITY);
    assert_null(lt_optim_new(ctx, &cfg, &p, 1));
    ts_assert_error(ctx, LT_ERR_ARG, "lr inf", "must be finite and >= 0", NULL);
    /* a bad rate from a schedule: refused, kept, and the next step fails */
    cfg = lt_optim_defaults(LT_OPTIM_SGD, 0.1f);
    lt_optim *opt = lt_optim_new(ctx, &cfg, &p, 1);
    assert_non_null(opt);
    lt_optim_set_lr(opt, NAN);
    assert_true(lt_optim_lr(opt) == 0.1f);
    assert_false(lt_optim_step(opt));
    ts_assert_error(ctx, LT_ERR_ARG, "optim_set_lr: lr nan must be finite and >= 0", NULL);
    lt_optim_set_lr(opt, -0.5f);
    ts_assert_error(ctx, LT_ERR_ARG, "optim_set_lr: lr -0.5", NULL);
    lt_optim_set_lr(opt, 0.0f); /* zero is a rate */
    assert_true(lt_optim_lr(opt) == 0.0f);
    assert_true(lt_optim_step(opt));
    assert_int_equal(lt_optim_steps(opt), 1);
    lt_optim_free(opt);
    lt_optim_free(NULL);
    lt_optim_set_lr(NULL, 1.0f);
    assert_false(lt_optim_step(NULL));
    lt_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_steps),
        cmocka_unit_test(test_adamw_by_hand),
        cmocka_unit_test(test_every_rule_path_and_threads),
        cmocka_unit_test(test_many_small_params),
        cmocka_unit_test(test_finite_flag),
        cmocka_unit_test(test_momentum_by_hand),
        cmocka_unit_test(test_clip_golden),
        cmocka_unit_test(test_clip_by_hand),
        cmocka_unit_test(test_no_steady_state_allocation),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_clip_nonfinite_golden),
        cmocka_unit_test(test_shared_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
