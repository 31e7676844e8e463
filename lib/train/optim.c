/* optim.c - optimisers (SGD with momentum/Nesterov, Adam, AdamW), plain
 * SGD on one parameter (lt_sgd_step) and gradient clipping by global norm.
 *
 * The update rules are PyTorch 1.13's (torch.optim.SGD / Adam / AdamW with
 * their default foreach=False paths), so one step can be compared with
 * PyTorch to rounding error:
 *   SGD:   g = grad + wd*p; buf = g (first step) or mu*buf + g;
 *          g = g + mu*buf (Nesterov) or buf; p -= lr*g
 *   Adam:  g = grad + wd*p (L2 penalty in the gradient);
 *          m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
 *          p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)
 *   AdamW: p *= 1 - lr*wd (decoupled decay), then Adam without the L2 term.
 *
 * The state (one or two buffers per parameter) is allocated once by
 * lt_optim_new, in one block, so a training loop's steps allocate nothing. */
#include "core/internal.h"
#include "kernels/cpu.h"
#include "kernels/vsgd.h"
#include "kernels/threads.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every path must give the same bits: no fused multiply-add, also where
 * clang would contract a portable loop inlined into an AVX-512 function
 * (gcc contracts nothing in ISO C mode). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

struct lt_optim {
    lt_ctx *ctx;
    lt_optim_config cfg;
    int n;
    lt_tensor **params; /* borrowed: the caller owns the parameters */
    float **m, **v;     /* per-parameter state (NULL when the rule needs none) */
    float *state;       /* the one block behind m and v */
    int64_t *first;     /* first[i]: elements of the parameters before i; first[n]: all */
    float **grads;      /* each parameter's gradient, gathered by every step */
    int64_t steps;      /* updates done (Adam's t) */
    bool finite;        /* every value the last step wrote is finite */
};

const char *lt_optim_kind_name(lt_optim_kind kind)
{
    switch (kind) {
    case LT_OPTIM_SGD: return "sgd";
    case LT_OPTIM_ADAM: return "adam";
    case LT_OPTIM_ADAMW: return "adamw";
    }
    return "?";
}

lt_optim_config lt_optim_defaults(lt_optim_kind kind, float lr)
{
    lt_optim_config c = {kind, lr, 0.0f, false, 0.0f, 0.9f, 0.999f, 1e-8f};
    if (kind == LT_OPTIM_ADAMW)
        c.weight_decay = 0.01f; /* torch.optim.AdamW's default */
    return c;
}

/* A rate, decay or epsilon: finite and >= 0 (NaN fails both tests). */
static bool rate_ok(float x) { return x >= 0.0f && isfinite(x); }

static bool config_ok(lt_ctx *ctx, const lt_optim_config *c)
{
    if (c->kind != LT_OPTIM_SGD && c->kind != LT_OPTIM_ADAM && c->kind != LT_OPTIM_ADAMW)
        return lt_fail(ctx, LT_ERR_ARG, "optim_new: unknown optimiser kind %d", (int)c->kind), false;
    if (!rate_ok(c->lr) || !rate_ok(c->weight_decay) || !rate_ok(c->momentum) || !rate_ok(c->eps))
        return lt_fail(ctx, LT_ERR_ARG, "optim_new: lr %g, weight_decay %g, momentum %g, eps %g: must be finite and >= 0",
                       (double)c->lr, (double)c->weight_decay, (double)c->momentum, (double)c->eps),
               false;
    if (!(c->beta1 >= 0.0f && c->beta1 < 1.0f) || !(c->beta2 >= 0.0f && c->beta2 < 1.0f))
        return lt_fail(ctx, LT_ERR_ARG, "optim_new: betas (%g, %g) must be in [0, 1)", (double)c->beta1,
                       (double)c->beta2),
               false;
    if (c->nesterov && (c->kind != LT_OPTIM_SGD || c->momentum <= 0.0f))
        return lt_fail(ctx, LT_ERR_ARG, "optim_new: nesterov needs sgd with momentum > 0"), false;
    return true;
}

/* The error for parameter i, which ctx may not use (lt_check_live_as). */
static bool param_not_live(lt_ctx *ctx, const char *op, int i, const lt_tensor *p)
{
    char what[32];
    snprintf(what, sizeof what, "parameter %d", i);
    return lt_check_live_as(ctx, op, what, p);
}

static bool params_ok(lt_ctx *ctx, const char *op, lt_tensor *const *params, int n)
{
    if (n < 1 || !params)
        return lt_fail(ctx, LT_ERR_ARG, "%s: %d parameters: need at least one", op, n), false;
    for (int i = 0; i < n; i++) {
        lt_tensor *p = params[i];
        if (!p)
            return lt_fail(ctx, LT_ERR_ARG, "%s: parameter %d is NULL", op, i), false;
        if (!lt_live(ctx, p))
            return param_not_live(ctx, op, i, p);
        if (p->dtype != LT_F32 || !p->storage->grad)
            return lt_fail(ctx, LT_ERR_GRAPH, "%s: parameter %d has no gradient (lt_requires_grad it first)", op, i),
                   false;
        if (!lt_is_contiguous(p))
            return lt_fail(ctx, LT_ERR_ARG, "%s: parameter %d is not contiguous", op, i), false;
    }
    return true;
}

/* No two parameters share memory (the same tensor twice, or views of one
 * storage that overlap): each would be stepped twice per lt_optim_step. */
static bool params_distinct(lt_ctx *ctx, lt_tensor *const *params, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (lt_may_overlap(params[i], params[j]))
                return lt_fail(ctx, LT_ERR_ARG,
                               "optim_new: parameters %d and %d share memory (the same tensor, or views of one): "
                               "each step would update it twice",
                               i, j),
                       false;
    return true;
}

/* How many state buffers per parameter the rule keeps. */
static int buffers_per_param(const lt_optim_config *c)
{
    if (c->kind == LT_OPTIM_SGD)
        return c->momentum > 0.0f ? 1 : 0;
    return 2;
}

lt_optim *lt_optim_new(lt_ctx *ctx, const lt_optim_config *cfg, lt_tensor *const *params, int n)
{
    if (!ctx)
        return NULL;
    if (lt_status_of(ctx) != LT_OK)
        return NULL;
    if (!cfg)
        return lt_fail(ctx, LT_ERR_ARG, "optim_new: config is NULL");
    if (!config_ok(ctx, cfg) || !params_ok(ctx, "optim_new", params, n) || !params_distinct(ctx, params, n))
        return NULL;
    size_t count = (size_t)(n > 0 ? n : 1); /* n >= 1 (params_ok); spelled out for gcc's allocation-size check */
    int nb = buffers_per_param(cfg);
    int64_t total = 0;
    for (int i = 0; i < n; i++)
        total += lt_numel(params[i]);
    lt_optim *o = calloc(1, sizeof *o);
    if (o) {
        o->params = malloc(sizeof *o->params * count);
        o->m = calloc(count, sizeof *o->m);
        o->v = calloc(count, sizeof *o->v);
        o->first = malloc(sizeof *o->first * (count + 1));
        o->grads = malloc(sizeof *o->grads * count);
        o->state = nb ? calloc((size_t)(total * nb), sizeof(float)) : NULL;
    }
    if (!o || !o->params || !o->m || !o->v || !o->first || !o->grads || (nb && !o->state)) {
        lt_optim_free(o);
        return lt_fail(ctx, LT_ERR_MEMORY, "optim_new: out of memory for %lld state floats", (long long)(total * nb));
    }
    o->ctx = ctx;
    o->cfg = *cfg;
    o->n = n;
    o->finite = true; /* no step has written anything yet */
    memcpy(o->params, params, sizeof *o->params * count);
    o->first[0] = 0;
    for (int i = 0; i < n; i++)
        o->first[i + 1] = o->first[i] + lt_numel(params[i]);
    float *s = o->state;
    for (int i = 0; i < n && nb; i++) {
        int64_t k = lt_numel(params[i]);
        o->m[i] = s;
        s += k;
        if (nb == 2) {
            o->v[i] = s;
            s += k;
        }
    }
    return o;
}

void lt_optim_free(lt_optim *o)
{
    if (!o)
        return;
    free(o->state);
    free(o->grads);
    free(o->first);
    free(o->m);
    free(o->v);
    free(o->params);
    free(o);
}

void lt_optim_set_lr(lt_optim *o, float lr)
{
    if (!o)
        return;
    if (rate_ok(lr))
        o->cfg.lr = lr;
    else /* the rate stays; the error makes the next step fail, so it is not missed */
        lt_fail(o->ctx, LT_ERR_ARG, "optim_set_lr: lr %g must be finite and >= 0", (double)lr);
}

float lt_optim_lr(const lt_optim *o) { return o ? o->cfg.lr : NAN; }
int64_t lt_optim_steps(const lt_optim *o) { return o ? o->steps : 0; }
bool lt_optim_finite(const lt_optim *o) { return o && o->finite; }

void lt_optim_zero_grad(lt_optim *o)
{
    if (!o)
        return;
    for (int i = 0; i < o->n; i++)
        lt_zero_grad(o->params[i]);
}

/* 1 for an infinity or a NaN (every exponent bit set). Integer operations:
 * a loop ORs them up in any order, so the compiler vectorises it. */
static inline unsigned not_finite(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (u & 0x7f800000u) == 0x7f800000u;
}

/* The SGD update of elements [0, n), in this order of float operations
 * (the vector paths below do the same lane by lane). buf: the momentum
 * buffer, NULL without momentum; first: the first step, which sets it.
 * Every update kernel returns whether it wrote a non-finite parameter value:
 * the training loop's guard then needs no pass of its own (lt_optim_finite). */
static bool sgd_generic(const lt_optim_config *c, bool first, float *restrict w, const float *restrict g,
                        float *restrict buf, int64_t n)
{
    const float lr = c->lr, wd = c->weight_decay, mu = c->momentum;
    unsigned bad = 0;
    for (int64_t i = 0; i < n; i++) {
        float d = g[i] + wd * w[i];
        if (buf) {
            buf[i] = first ? d : mu * buf[i] + d;
            d = c->nesterov ? d + mu * buf[i] : buf[i];
        }
        w[i] -= lr * d;
        bad |= not_finite(w[i]);
    }
    return bad != 0;
}

/* The per-element constants of one Adam / AdamW step. */
typedef struct adam_coef {
    float shrink, l2, b1, b2, step, rbc2, eps;
} adam_coef;

static adam_coef adam_coef_of(const lt_optim_config *c, int64_t t)
{
    const double bc1 = 1.0 - pow(c->beta1, (double)t), bc2 = 1.0 - pow(c->beta2, (double)t);
    return (adam_coef){c->kind == LT_OPTIM_ADAMW ? 1.0f - c->lr * c->weight_decay : 1.0f,
                       c->kind == LT_OPTIM_ADAM ? c->weight_decay : 0.0f,
                       c->beta1,
                       c->beta2,
                       (float)(c->lr / bc1),
                       (float)sqrt(bc2),
                       c->eps};
}

/* The update of elements [0, n), in this order of float operations (every
 * path: the vector ones below do the same operations lane by lane, without
 * fused multiply-adds, so all give the same bits). */
static bool adam_generic(const adam_coef *c, float *restrict w, const float *restrict g, float *restrict m,
                         float *restrict v, int64_t n)
{
    const float b1 = c->b1, b2 = c->b2;
    unsigned bad = 0;
    for (int64_t i = 0; i < n; i++) {
        w[i] *= c->shrink;
        float d = g[i] + c->l2 * w[i];
        m[i] = b1 * m[i] + (1.0f - b1) * d;
        v[i] = b2 * v[i] + (1.0f - b2) * d * d;
        w[i] -= c->step * m[i] / (sqrtf(v[i]) / c->rbc2 + c->eps);
        bad |= not_finite(w[i]);
    }
    return bad != 0;
}

#if LT_HAVE_X86_KERNELS
#include <immintrin.h>

/* x - x is NaN exactly when x is not finite: MARK_BAD folds that into the
 * function's `bad` (a vector of compare results, or a mask). */
#define MARK_BAD256(x) (bad = _mm256_or_ps(bad, _mm256_cmp_ps(_mm256_sub_ps(x, x), _mm256_sub_ps(x, x), _CMP_UNORD_Q)))
#define MARK_BAD512(x) (bad |= _mm512_cmp_ps_mask(_mm512_sub_ps(x, x), _mm512_sub_ps(x, x), _CMP_UNORD_Q))

/* One vector of adam_generic's loop body, for a vector type V of 8 or 16
 * floats: the same operations in the same order. */
#define ADAM_BODY(V, P, MARK_BAD)                                                                               \
    do {                                                                                                        \
        V wv = P##_mul_ps(P##_loadu_ps(w + i), shrink);                                                        \
        V d = P##_add_ps(P##_loadu_ps(g + i), P##_mul_ps(l2, wv));                                             \
        V mv = P##_add_ps(P##_mul_ps(b1, P##_loadu_ps(m + i)), P##_mul_ps(one_b1, d));                         \
        V vv = P##_add_ps(P##_mul_ps(b2, P##_loadu_ps(v + i)), P##_mul_ps(P##_mul_ps(one_b2, d), d));          \
        V den = P##_add_ps(P##_div_ps(P##_sqrt_ps(vv), rbc2), eps);                                            \
        P##_storeu_ps(m + i, mv);                                                                               \
        P##_storeu_ps(v + i, vv);                                                                               \
        V wn = P##_sub_ps(wv, P##_div_ps(P##_mul_ps(step, mv), den));                                          \
        P##_storeu_ps(w + i, wn);                                                                               \
        MARK_BAD(wn);                                                                                           \
    } while (0)

#define ADAM_CONSTANTS(V, SET1)                                                                                 \
    const V shrink = SET1(c->shrink), l2 = SET1(c->l2), b1 = SET1(c->b1), b2 = SET1(c->b2);                    \
    const V one_b1 = SET1(1.0f - c->b1), one_b2 = SET1(1.0f - c->b2), step = SET1(c->step), rbc2 = SET1(c->rbc2), \
            eps = SET1(c->eps)

__attribute__((target("avx2"))) static bool adam_avx2(const adam_coef *c, float *w, const float *g, float *m, float *v,
                                                      int64_t n)
{
    ADAM_CONSTANTS(__m256, _mm256_set1_ps);
    __m256 bad = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        ADAM_BODY(__m256, _mm256, MARK_BAD256);
    return adam_generic(c, w + i, g + i, m + i, v + i, n - i) || _mm256_movemask_ps(bad) != 0;
}

__attribute__((target("avx512f"))) static bool adam_avx512(const adam_coef *c, float *w, const float *g, float *m,
                                                           float *v, int64_t n)
{
    ADAM_CONSTANTS(__m512, _mm512_set1_ps);
    __mmask16 bad = 0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        ADAM_BODY(__m512, _mm512, MARK_BAD512);
    return adam_generic(c, w + i, g + i, m + i, v + i, n - i) || bad != 0;
}

/* One vector of sgd_generic's loop body: the same operations in the same
 * order. */
#define SGD_BODY(V, P, MARK_BAD)                                                                                \
    do {                                                                                                        \
        V wv = P##_loadu_ps(w + i);                                                                             \
        V d = P##_add_ps(P##_loadu_ps(g + i), P##_mul_ps(wd, wv));                                             \
        if (buf) {                                                                                              \
            V bv = first ? d : P##_add_ps(P##_mul_ps(mu, P##_loadu_ps(buf + i)), d);                           \
            P##_storeu_ps(buf + i, bv);                                                                         \
            d = c->nesterov ? P##_add_ps(d, P##_mul_ps(mu, bv)) : bv;                                          \
        }                                                                                                       \
        V wn = P##_sub_ps(wv, P##_mul_ps(lr, d));                                                              \
        P##_storeu_ps(w + i, wn);                                                                               \
        MARK_BAD(wn);                                                                                           \
    } while (0)

__attribute__((target("avx2"))) static bool sgd_avx2(const lt_optim_config *c, bool first, float *w, const float *g,
                                                     float *buf, int64_t n)
{
    const __m256 lr = _mm256_set1_ps(c->lr), wd = _mm256_set1_ps(c->weight_decay), mu = _mm256_set1_ps(c->momentum);
    __m256 bad = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        SGD_BODY(__m256, _mm256, MARK_BAD256);
    return sgd_generic(c, first, w + i, g + i, buf ? buf + i : NULL, n - i) || _mm256_movemask_ps(bad) != 0;
}

__attribute__((target("avx512f"))) static bool sgd_avx512(const lt_optim_config *c, bool first, float *w,
                                                          const float *g, float *buf, int64_t n)
{
    const __m512 lr = _mm512_set1_ps(c->lr), wd = _mm512_set1_ps(c->weight_decay), mu = _mm512_set1_ps(c->momentum);
    __mmask16 bad = 0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        SGD_BODY(__m512, _mm512, MARK_BAD512);
    return sgd_generic(c, first, w + i, g + i, buf ? buf + i : NULL, n - i) || bad != 0;
}
#endif

/* SGD on elements [begin, end) of one parameter; true when it wrote a
 * non-finite value. */
static bool sgd_range(const lt_optim_config *c, bool first, float *w, const float *g, float *buf, int64_t begin,
                      int64_t end)
{
    w += begin, g += begin, buf = buf ? buf + begin : NULL;
#if LT_HAVE_X86_KERNELS
    switch (lt_cpu_isa()) {
    case LT_ISA_AVX512: return sgd_avx512(c, first, w, g, buf, end - begin);
    case LT_ISA_AVX2: return sgd_avx2(c, first, w, g, buf, end - begin);
    default: break;
    }
#endif
    return sgd_generic(c, first, w, g, buf, end - begin);
}

/* Adam / AdamW on elements [begin, end) of one parameter; true when it
 * wrote a non-finite value. */
static bool adam_range(const adam_coef *c, float *w, const float *g, float *m, float *v, int64_t begin, int64_t end)
{
    w += begin, g += begin, m += begin, v += begin;
#if LT_HAVE_X86_KERNELS
    switch (lt_cpu_isa()) {
    case LT_ISA_AVX512: return adam_avx512(c, w, g, m, v, end - begin);
    case LT_ISA_AVX2: return adam_avx2(c, w, g, m, v, end - begin);
    default: break;
    }
#endif
    return adam_generic(c, w, g, m, v, end - begin);
}

/* All parameters' updates as one loop over their elements in order, so
 * that many small tensors (a transformer's) split across threads as well as
 * one large one: task blocks cut through parameters anywhere, which changes
 * no bit, every element's update being its own. */
typedef struct update_job {
    const lt_optim *o;
    const adam_coef *adam;    /* NULL: SGD */
    bool first;               /* SGD's first step */
    bool bad[LT_MAX_THREADS]; /* per task: it wrote a non-finite value */
} update_job;

static void update_task(void *arg, int task, int64_t begin, int64_t end)
{
    update_job *j = arg;
    const lt_optim *o = j->o;
    bool bad = false;
    for (int i = 0; i < o->n && begin < end; i++) {
        int64_t lo = o->first[i], hi = o->first[i + 1];
        if (hi <= begin)
            continue;
        int64_t stop = end < hi ? end : hi;
        float *w = lt_f32(o->params[i]);
        if (j->adam)
            bad |= adam_range(j->adam, w, o->grads[i], o->m[i], o->v[i], begin - lo, stop - lo);
        else
            bad |= sgd_range(&o->cfg, j->first, w, o->grads[i], o->m[i], begin - lo, stop - lo);
        begin = stop;
    }
    j->bad[task] = bad;
}

/* Per element: Adam's loads, stores, a square root and two divisions;
 * SGD's pass over memory with a few multiplies (dropout's estimate). */
#define WORK_ADAM 24.0
#define WORK_SGD 8.0

/* Gathers the gradients on the calling thread (lt_grad_f32 may clear a
 * lazily zeroed one), then updates every parameter in one parallel loop. */
static void update_all(lt_optim *o, const adam_coef *adam)
{
    for (int i = 0; i < o->n; i++) {
        lt_bump(o->params[i]);
        o->grads[i] = lt_grad_f32(o->params[i]);
    }
    int64_t total = o->first[o->n];
    update_job j = {o, adam, o->steps == 1, {false}};
    lt_parallel_for(o->ctx, total, 16, (double)total * (adam ? WORK_ADAM : WORK_SGD), update_task, &j);
    o->finite = true;
    for (int t = 0; t < LT_MAX_THREADS; t++)
        o->finite = o->finite && !j.bad[t];
}

bool lt_optim_step(lt_optim *o)
{
    if (!o)
        return false;
    if (lt_status_of(o->ctx) != LT_OK)
        return false;
    if (!params_ok(o->ctx, "optim_step", o->params, o->n))
        return false;
    o->steps++;
    if (o->cfg.kind == LT_OPTIM_SGD) {
        update_all(o, NULL);
        return true;
    }
    const adam_coef coef = adam_coef_of(&o->cfg, o->steps);
    update_all(o, &coef);
    return true;
}

/* ---- plain SGD on one parameter ------------------------------------------------- */

bool lt_sgd_step(lt_ctx *ctx, lt_tensor *p, float lr)
{
    if (!lt_check_args(ctx, "sgd_step", 1, &p))
        return false;
    if (p->dtype != LT_F32 || !p->storage->grad) {
        lt_fail(ctx, LT_ERR_GRAPH, "sgd_step: the parameter has no gradient");
        return false;
    }
    lt_bump(p);
    float *w = lt_f32(p);
    const float *g = lt_grad_f32(p); /* the same strides as w */
    if (lt_is_contiguous(p)) { /* w[i] -= lr * g[i], vectorised (the finiteness answer unused) */
        (void)lt_vsgd_finite(w, g, lt_numel(p), lr);
        return true;
    }
    lt_walk walk;
    lt_walk_tensor(&walk, p);
    for (int64_t done = 0, n = lt_numel(p); done < n; done += walk.len, lt_walk_next(&walk))
        for (int64_t j = 0; j < walk.len; j++) {
            int64_t o = walk.off[0] + j * walk.step[0];
            w[o] -= lr * g[o];
        }
    return true;
}

/* ---- clipping ----------------------------------------------------------------- */

float lt_clip_grad_norm(lt_ctx *ctx, lt_tensor *const *params, int n, float max_norm)
{
    if (!ctx || lt_status_of(ctx) != LT_OK)
        return NAN;
    if (!(max_norm > 0.0f)) {
        lt_fail(ctx, LT_ERR_ARG, "clip_grad_norm: max_norm %g must be > 0", (double)max_norm);
        return NAN;
    }
    if (!params_ok(ctx, "clip_grad_norm", params, n))
        return NAN;
    double sq = 0.0; /* in double: many small squares */
    for (int i = 0; i < n; i++) {
        const float *g = lt_grad_f32(params[i]);
        for (int64_t j = 0, k = lt_numel(params[i]); j < k; j++)
            sq += (double)g[j] * g[j];
    }
    float norm = (float)sqrt(sq);
    /* torch.nn.utils.clip_grad_norm_ (1.13) multiplies every gradient by
     * min(max/(norm + 1e-6), 1): by 1 (no change) unless the coefficient is
     * below 1 or NaN; a NaN norm makes every gradient NaN, so a blow-up is
     * seen at the next step instead of being applied at full size */
    float coef = max_norm / (norm + 1e-6f);
    if (!(coef >= 1.0f))
        for (int i = 0; i < n; i++) {
            float *g = lt_grad_f32(params[i]);
            for (int64_t j = 0, k = lt_numel(params[i]); j < k; j++)
                g[j] *= coef;
        }
    return norm;
}
