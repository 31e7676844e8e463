/* test_attention.c - lt_scaled_dot_product_attention: forward and every
 * gradient against a double-precision reference written here, PyTorch 1.13
 * golden values (tests/data/golden_attention.h, made by
 * tools/golden_attention.py: the composed ops), finite-difference gradient
 * checks, causal and not, sizes that are not multiples of the query block,
 * strided, shared and overlapping inputs, threads (bit-identical results),
 * every ISA's kernels, extreme scores, error paths. */
#include "test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/golden_attention.h"
#include "kernels/cpu.h"
#include "kernels/threads.h"

/* ======================================================================== */
/* the double-precision reference                                           */
/* ======================================================================== */

/* One problem: batch slices of q (L,E), k (S,E), v (S,Ev), dense. */
typedef struct {
    int64_t batch, L, S, E, Ev;
    bool causal;
    double scale;
} problem;

/* y = softmax(scale q k^T, masked) v and, for the upstream gradient g, dq,
 * dk, dv, all in double from float inputs (dense (batch, rows, cols)). */
static void reference(const problem *p, const float *q, const float *k, const float *v, const float *g, double *y,
                      double *dq, double *dk, double *dv)
{
    int64_t L = p->L, S = p->S, E = p->E, Ev = p->Ev;
    double *P = malloc(sizeof(double) * (size_t)(L * S + 1)), *dP = malloc(sizeof(double) * (size_t)(L * S + 1));
    assert_non_null(P);
    assert_non_null(dP);
    for (int64_t b = 0; b < p->batch; b++) {
        const float *qb = q + b * L * E, *kb = k + b * S * E, *vb = v + b * S * Ev, *gb = g + b * L * Ev;
        double *yb = y + b * L * Ev, *dqb = dq + b * L * E, *dkb = dk + b * S * E, *dvb = dv + b * S * Ev;
        for (int64_t i = 0; i < L; i++) {
            int64_t keys = p->causal ? (i + 1 < S ? i + 1 : S) : S;
            double m = -INFINITY, sum = 0;
            for (int64_t j = 0; j < keys; j++) {
                double s = 0;
                for (int64_t e = 0; e < E; e++)
                    s += (double)qb[i * E + e] * kb[j * E + e];
                P[i * S + j] = s * p->scale;
                m = fmax(m, P[i * S + j]);
            }
            for (int64_t j = 0; j < S; j++) {
                P[i * S + j] = j < keys ? exp(P[i * S + j] - m) : 0;
                sum += P[i * S + j];
            }
            for (int64_t j = 0; j < S; j++)
                P[i * S + j] /= sum;
            for (int64_t e = 0; e < Ev; e++) {
                double acc = 0;
                for (int64_t j = 0; j < S; j++)
                    acc += P[i * S + j] * vb[j * Ev + e];
                yb[i * Ev + e] = acc;
            }
        }
        /* backward */
        memset(dqb, 0, sizeof(double) * (size_t)(L * E));
        memset(dkb, 0, sizeof(double) * (size_t)(S * E));
        memset(dvb, 0, sizeof(double) * (size_t)(S * Ev));
        for (int64_t i = 0; i < L; i++) {
            double delta = 0;
            for (int64_t j = 0; j < S; j++) {
                double acc = 0;
                for (int64_t e = 0; e < Ev; e++) {
                    acc += (double)gb[i * Ev + e] * vb[j * Ev + e];
                    dvb[j * Ev + e] += P[i * S + j] * gb[i * Ev + e];
                }
                dP[i * S + j] = acc;
                delta += acc * P[i * S + j];
            }
            for (int64_t j = 0; j < S; j++) {
                double ds = P[i * S + j] * (dP[i * S + j] - delta) * p->scale;
                for (int64_t e = 0; e < E; e++) {
                    dqb[i * E + e] += ds * kb[j * E + e];
                    dkb[j * E + e] += ds * qb[i * E + e];
                }
            }
        }
    }
    free(P);
    free(dP);
}

/* ======================================================================== */
/* running the op on views and comparing with the reference                  */
/* ======================================================================== */

/* Storage offset of logical element i of t (any strides). */
static int64_t storage_index(const lt_tensor *t, int64_t i)
{
    int64_t off = t->offset;
    for (int d = t->ndim - 1; d >= 0; d--) {
        off += (i % t->shape[d]) * t->stride[d];
        i /= t->shape[d];
    }
    return off;
}

/* Dense float copy of t's elements in logical order (malloc). */
static float *dense_copy(const lt_tensor *t)
{
    float *x = malloc(sizeof(float) * (size_t)(lt_numel(t) + 1));
    assert_non_null(x);
    lt_copy_out_f32(t, x);
    return x;
}

/* Adds the dense gradient g of view t into want[storage index]: what the
 * storage's gradient buffer must hold once every view's share is in. */
static void add_through_view(double *want, const lt_tensor *t, const double *g)
{
    for (int64_t i = 0; i < lt_numel(t); i++)
        want[storage_index(t, i)] += g[i];
}

/* |got - want| <= tol * (1 + |want|) for every element. */
static void assert_close(const char *what, const float *got, const double *want, int64_t n, double tol)
{
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= tol * (1 + fabs(want[i]))))
            fail_msg("%s element %lld: got %.9g, expected %.9g", what, (long long)i, (double)got[i], want[i]);
}

/* Float error allowed against the double reference: inputs in [-1, 1],
 * sums of up to a few hundred terms. */
#define REF_TOL 2e-6

/* The problem the (batch..., L, E) views q, k, v pose. */
static problem problem_of(const lt_tensor *q, const lt_tensor *k, const lt_tensor *v, bool causal, float scale)
{
    int r = q->ndim;
    problem p = {1, q->shape[r - 2], k->shape[r - 2], q->shape[r - 1], v->shape[r - 1], causal, scale};
    for (int d = 0; d < r - 2; d++)
        p.batch *= q->shape[d];
    if (isnan(scale))
        p.scale = (float)(1.0 / sqrt((double)p.E));
    return p;
}

/* A case's inputs: persistent bases (requiring grad) and how q, k and v are
 * taken from them (views, or the bases themselves). */
typedef void (*views_fn)(lt_ctx *ctx, lt_tensor *const *bases, lt_tensor **q, lt_tensor **k, lt_tensor **v);

typedef struct {
    lt_tensor *bases[3];
    int n_bases;
    views_fn views;
} inputs;

/* What a run produced: y in logical order, each base's gradient buffer in
 * storage order (malloc'd). */
typedef struct {
    float *y;
    int64_t ny;
    float *grad[3];
} outcome;

static void outcome_free(outcome *o)
{
    free(o->y);
    for (int i = 0; i < 3; i++)
        free(o->grad[i]);
}

/* The upstream gradient: fixed uniform values. */
static lt_tensor *upstream(lt_ctx *ctx, const lt_tensor *y)
{
    lt_tensor *g = lt_empty(ctx, LT_F32, lt_shape_of(y));
    assert_non_null(g);
    ts_rand r = ts_rand_new(99);
    for (int64_t i = 0; i < lt_numel(g); i++)
        lt_data_f32(g)[i] = (float)ts_uniform(&r, -1, 1);
    return g;
}

/* Forward and backward (with `upstream`) on `threads` threads. */
static outcome run_op(lt_ctx *ctx, const inputs *in, bool causal, float scale, int threads)
{
    lt_ctx_reset(ctx);
    assert_true(lt_set_threads(ctx, threads));
    for (int i = 0; i < in->n_bases; i++)
        lt_zero_grad(in->bases[i]);
    lt_tensor *q, *k, *v;
    in->views(ctx, in->bases, &q, &k, &v);
    lt_tensor *y = lt_scaled_dot_product_attention(ctx, q, k, v, causal, scale);
    if (!y)
        fail_msg("attention: %s", lt_error_message(ctx));
    if (!lt_backward_grad(ctx, y, upstream(ctx, y)))
        fail_msg("backward: %s", lt_error_message(ctx));
    outcome o = {dense_copy(y), lt_numel(y), {NULL, NULL, NULL}};
    for (int i = 0; i < in->n_bases; i++) {
        int64_t n = in->bases[i]->storage->numel;
        o.grad[i] = malloc(sizeof(float) * (size_t)(n + 1));
        assert_non_null(o.grad[i]);
        memcpy(o.grad[i], in->bases[i]->storage->grad, sizeof(float) * (size_t)n);
    }
    return o;
}

/* Checks o against the double reference for the same inputs. */
static void check_reference(lt_ctx *ctx, const inputs *in, bool causal, float scale, const outcome *o, double tol)
{
    lt_ctx_reset(ctx);
    lt_tensor *q, *k, *v;
    in->views(ctx, in->bases, &q, &k, &v);
    problem p = problem_of(q, k, v, causal, scale);
    float *qd = dense_copy(q), *kd = dense_copy(k), *vd = dense_copy(v);
    int64_t ny = p.batch * p.L * p.Ev;
    assert_int_equal(o->ny, ny);
    lt_tensor *g = upstream(ctx, lt_empty(ctx, LT_F32, LT_SHAPE(ny)));
    double *y = calloc((size_t)ny + 1, sizeof(double)), *dq = calloc((size_t)lt_numel(q) + 1, sizeof(double)),
           *dk = calloc((size_t)lt_numel(k) + 1, sizeof(double)), *dv = calloc((size_t)lt_numel(v) + 1, sizeof(double));
    reference(&p, qd, kd, vd, lt_data_f32(g), y, dq, dk, dv);
    assert_close("y", o->y, y, ny, tol);
    const lt_tensor *views[3] = {q, k, v};
    const double *grads[3] = {dq, dk, dv};
    for (int b = 0; b < in->n_bases; b++) {
        int64_t n = in->bases[b]->storage->numel;
        double *want = calloc((size_t)n + 1, sizeof(double));
        for (int i = 0; i < 3; i++)
            if (views[i]->storage == in->bases[b]->storage)
                add_through_view(want, views[i], grads[i]);
        char what[32];
        snprintf(what, sizeof what, "gradient of base %d", b);
        assert_close(what, o->grad[b], want, n, tol);
        free(want);
    }
    free(qd), free(kd), free(vd), free(y), free(dq), free(dk), free(dv);
}

/* run_op + check_reference, and the same run on 2 threads bit for bit. */
static void check_case(const inputs *in, bool causal, float scale)
{
    lt_ctx *ctx = lt_ctx_new();
    outcome one = run_op(ctx, in, causal, scale, 1);
    check_reference(ctx, in, causal, scale, &one, REF_TOL);
    outcome two = run_op(ctx, in, causal, scale, 2);
    assert_memory_equal(one.y, two.y, sizeof(float) * (size_t)one.ny);
    for (int i = 0; i < in->n_bases; i++)
        assert_memory_equal(one.grad[i], two.grad[i], sizeof(float) * (size_t)in->bases[i]->storage->numel);
    outcome_free(&one);
    outcome_free(&two);
    lt_ctx_free(ctx);
}

/* ======================================================================== */
/* against the reference                                                     */
/* ======================================================================== */

static void plain_views(lt_ctx *ctx, lt_tensor *const *b, lt_tensor **q, lt_tensor **k, lt_tensor **v)
{
    (void)ctx;
    *q = b[0], *k = b[1], *v = b[2];
}

/* Contiguous q (batch..., L, E), k (batch..., S, E), v (batch..., S, Ev). */
static void check_plain(lt_shape batch, int64_t L, int64_t S, int64_t E, int64_t Ev, bool causal, float scale,
                        uint64_t seed)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_shape sq = batch, sk = batch, sv = batch;
    sq.ndim = sk.ndim = sv.ndim = batch.ndim + 2;
    sq.d[batch.ndim] = L, sq.d[batch.ndim + 1] = E;
    sk.d[batch.ndim] = S, sk.d[batch.ndim + 1] = E;
    sv.d[batch.ndim] = S, sv.d[batch.ndim + 1] = Ev;
    inputs in = {
        {ts_random(ctx, sq, seed, -1, 1), ts_random(ctx, sk, seed + 1, -1, 1), ts_random(ctx, sv, seed + 2, -1, 1)},
        3,
        plain_views};
    for (int i = 0; i < 3; i++)
        assert_non_null(lt_requires_grad(ctx, in.bases[i], true));
    check_case(&in, causal, scale);
    lt_ctx_free(ctx);
}

static void test_reference_small(void **state)
{
    (void)state;
    for (int causal = 0; causal < 2; causal++) {
        check_plain(LT_SHAPE(2, 3), 5, 5, 4, 4, causal, NAN, 1);
        check_plain(LT_SHAPE(1), 1, 1, 1, 1, causal, NAN, 2);
        check_plain(LT_SHAPE(3), 7, 7, 3, 5, causal, 0.7f, 3);         /* Ev != E */
        check_plain(LT_SHAPE0, 6, 6, 8, 8, causal, NAN, 4);            /* rank 2 */
        check_plain(LT_SHAPE(2, 1, 2, 1), 3, 3, 2, 2, causal, NAN, 5); /* rank 6 */
    }
}

/* Query counts around the block size (48) and key counts that differ from
 * them (causal is then top-left aligned). */
static void test_reference_blocks(void **state)
{
    (void)state;
    for (int causal = 0; causal < 2; causal++) {
        check_plain(LT_SHAPE(2, 2), 47, 47, 16, 16, causal, NAN, 10);
        check_plain(LT_SHAPE(2), 48, 48, 16, 16, causal, NAN, 11);
        check_plain(LT_SHAPE(2), 49, 49, 8, 8, causal, NAN, 12);
        check_plain(LT_SHAPE(1), 100, 100, 17, 9, causal, NAN, 13);
        check_plain(LT_SHAPE(2), 37, 60, 8, 8, causal, NAN, 14); /* L < S */
        check_plain(LT_SHAPE(2), 60, 37, 8, 8, causal, NAN, 15); /* L > S */
    }
}

static void test_reference_scales(void **state)
{
    (void)state;
    check_plain(LT_SHAPE(2), 9, 9, 4, 4, true, 0.0f, 20); /* uniform over the visible keys */
    check_plain(LT_SHAPE(2), 9, 9, 4, 4, false, -1.5f, 21);
    check_plain(LT_SHAPE(2), 9, 9, 4, 4, true, 3.0f, 22);
}

/* The transformer's shapes: makemore's block (B 32 would be slow in double:
 * B 4), and a long sequence. */
static void test_reference_model_shapes(void **state)
{
    (void)state;
    check_plain(LT_SHAPE(4, 4), 16, 16, 16, 16, true, NAN, 30);
    check_plain(LT_SHAPE(1, 2), 256, 256, 64, 64, true, NAN, 31);
    check_plain(LT_SHAPE(1, 1), 256, 256, 64, 64, false, NAN, 32);
}

/* ======================================================================== */
/* layouts: views read in place, copies, shared and overlapping inputs       */
/* ======================================================================== */

/* makemore's CausalSelfAttention: c_attn's output (B, T, 3C) split into q,
 * k, v (B, T, C), each viewed as (B, T, H, D) and transposed to (B, H, T,
 * D): strided views of one storage, read in place. H = 4. */
static void c_attn_views(lt_ctx *ctx, lt_tensor *const *b, lt_tensor **q, lt_tensor **k, lt_tensor **v)
{
    lt_shape s = lt_shape_of(b[0]);
    int64_t B = s.d[0], T = s.d[1], C = s.d[2] / 3, H = 4;
    lt_tensor **out[3] = {q, k, v};
    for (int i = 0; i < 3; i++)
        *out[i] = lt_transpose(ctx, lt_view(ctx, lt_narrow(ctx, b[0], 2, i * C, C), LT_SHAPE(B, T, H, C / H)), 1, 2);
}

/* q (B,H,L,E) as the transpose of a (B,H,E,L) tensor: its last dim is not
 * unit-stride, so the op copies it (a recorded copy). */
static void transposed_views(lt_ctx *ctx, lt_tensor *const *b, lt_tensor **q, lt_tensor **k, lt_tensor **v)
{
    *q = lt_transpose(ctx, b[0], -2, -1);
    *k = b[1], *v = b[2];
}

/* q = k = v: one tensor whose gradient gets all three shares. */
static void shared_views(lt_ctx *ctx, lt_tensor *const *b, lt_tensor **q, lt_tensor **k, lt_tensor **v)
{
    (void)ctx;
    *q = *k = *v = b[0];
}

/* k = q with its two batch dims swapped (B == H): slice (b, h) of k is
 * slice (h, b) of q, so two slices write one gradient: backward must not
 * split them across threads. */
static void overlapping_views(lt_ctx *ctx, lt_tensor *const *b, lt_tensor **q, lt_tensor **k, lt_tensor **v)
{
    *q = b[0];
    *k = lt_transpose(ctx, b[0], 0, 1);
    *v = b[1];
}

/* Narrowed along the sequence (an offset) and along the batch. */
static void narrowed_views(lt_ctx *ctx, lt_tensor *const *b, lt_tensor **q, lt_tensor **k, lt_tensor **v)
{
    *q = lt_narrow(ctx, lt_narrow(ctx, b[0], 2, 3, 40), 0, 1, 2);
    *k = lt_narrow(ctx, lt_narrow(ctx, b[1], 2, 0, 50), 0, 0, 2);
    *v = lt_narrow(ctx, b[2], 0, 1, 2);
}

static inputs new_inputs(lt_ctx *ctx, views_fn views, int n, const lt_shape *shapes, uint64_t seed)
{
    inputs in = {{NULL, NULL, NULL}, n, views};
    for (int i = 0; i < n; i++)
        in.bases[i] = lt_requires_grad(ctx, ts_random(ctx, shapes[i], seed + (uint64_t)i, -1, 1), true);
    return in;
}

static void test_layouts(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    for (int causal = 0; causal < 2; causal++) {
        inputs c_attn = new_inputs(ctx, c_attn_views, 1, (lt_shape[]){LT_SHAPE(3, 16, 3 * 64)}, 70);
        check_case(&c_attn, causal, NAN);
        inputs c_attn_long = new_inputs(ctx, c_attn_views, 1, (lt_shape[]){LT_SHAPE(2, 53, 3 * 32)}, 71);
        check_case(&c_attn_long, causal, NAN);
        inputs tr = new_inputs(ctx, transposed_views, 3,
                               (lt_shape[]){LT_SHAPE(2, 3, 8, 20), LT_SHAPE(2, 3, 20, 8), LT_SHAPE(2, 3, 20, 5)}, 72);
        check_case(&tr, causal, NAN);
        inputs shared = new_inputs(ctx, shared_views, 1, (lt_shape[]){LT_SHAPE(2, 3, 19, 6)}, 73);
        check_case(&shared, causal, NAN);
        inputs over =
            new_inputs(ctx, overlapping_views, 2, (lt_shape[]){LT_SHAPE(3, 3, 30, 8), LT_SHAPE(3, 3, 30, 8)}, 74);
        check_case(&over, causal, NAN);
        inputs nar = new_inputs(ctx, narrowed_views, 3,
                                (lt_shape[]){LT_SHAPE(3, 2, 50, 8), LT_SHAPE(3, 2, 60, 8), LT_SHAPE(3, 2, 50, 4)}, 75);
        check_case(&nar, causal, NAN);
    }
    lt_ctx_free(ctx);
}

/* A view read in place gives the same bits as a contiguous copy of it. */
static void test_in_place_equals_copy(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    inputs in = new_inputs(ctx, c_attn_views, 1, (lt_shape[]){LT_SHAPE(2, 16, 3 * 64)}, 80);
    lt_tensor *q, *k, *v;
    c_attn_views(ctx, in.bases, &q, &k, &v);
    assert_false(lt_is_contiguous(q));
    lt_tensor *y = lt_scaled_dot_product_attention(ctx, q, k, v, true, NAN);
    lt_tensor *yc = lt_scaled_dot_product_attention(ctx, lt_contiguous(ctx, q), lt_contiguous(ctx, k),
                                                    lt_contiguous(ctx, v), true, NAN);
    assert_non_null(y);
    assert_non_null(yc);
    /* y is laid out as q: heads side by side, (B,T,H,D) dense; yc as its contiguous q */
    assert_false(lt_is_contiguous(y));
    assert_true(lt_is_contiguous(lt_transpose(ctx, y, 1, 2)));
    assert_true(lt_is_contiguous(yc));
    float *a = dense_copy(y), *b = dense_copy(yc);
    assert_memory_equal(a, b, sizeof(float) * (size_t)lt_numel(y));
    free(a), free(b);
    lt_ctx_free(ctx);
}

/* Large enough to split: forward always splits the slices; backward only
 * when their gradients are disjoint (the c_attn views, with the
 * probabilities kept or recomputed), never for the overlapping layout.
 * Results are compared bit for bit with one thread's, on 2 and 3 threads. */
static void test_threads_split(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_true(lt_set_threads(ctx, 2));
    for (int c = 0; c < 3; c++) {
        inputs in = c == 0   ? new_inputs(ctx, c_attn_views, 1, (lt_shape[]){LT_SHAPE(4, 128, 3 * 128)}, 90)
                    : c == 1 ? new_inputs(ctx, c_attn_views, 1, (lt_shape[]){LT_SHAPE(2, 200, 3 * 64)}, 91)
                             : new_inputs(ctx, overlapping_views, 2,
                                          (lt_shape[]){LT_SHAPE(4, 4, 128, 32), LT_SHAPE(4, 4, 128, 32)}, 92);
        lt_ctx_reset(ctx);
        lt_tensor *q, *k, *v;
        in.views(ctx, in.bases, &q, &k, &v);
        uint64_t jobs0 = lt_par_jobs(ctx);
        lt_tensor *y = lt_scaled_dot_product_attention(ctx, q, k, v, true, NAN);
        assert_non_null(y);
        uint64_t jobs1 = lt_par_jobs(ctx);
        assert_int_equal(jobs1, jobs0 + 1);
        assert_true(lt_backward_grad(ctx, y, upstream(ctx, y)));
        assert_int_equal(lt_par_jobs(ctx), jobs1 + (c == 2 ? 0 : 1));
        check_case(&in, true, NAN);
        lt_ctx *c1 = lt_ctx_new();
        outcome one = run_op(c1, &in, true, NAN, 1), three = run_op(c1, &in, true, NAN, 3);
        assert_memory_equal(one.y, three.y, sizeof(float) * (size_t)one.ny);
        for (int i = 0; i < in.n_bases; i++)
            assert_memory_equal(one.grad[i], three.grad[i], sizeof(float) * (size_t)in.bases[i]->storage->numel);
        outcome_free(&one);
        outcome_free(&three);
        lt_ctx_free(c1);
        for (int i = 0; i < in.n_bases; i++)
            lt_free(in.bases[i]);
    }
    lt_ctx_free(ctx);
}

/* Every ISA's gemm tiles and loops (the portable kernel through lt_sgemm). */
static void test_every_isa(void **state)
{
    (void)state;
    lt_isa saved = lt_cpu_isa();
    lt_ctx *ctx = lt_ctx_new();
    inputs small = new_inputs(ctx, c_attn_views, 1, (lt_shape[]){LT_SHAPE(2, 16, 3 * 64)}, 100);
    inputs big =
        new_inputs(ctx, plain_views, 3,
                   (lt_shape[]){LT_SHAPE(1, 2, 300, 40), LT_SHAPE(1, 2, 300, 40), LT_SHAPE(1, 2, 300, 24)}, 101);
    for (int isa = LT_ISA_GENERIC; isa <= (int)lt_cpu_isa_supported(); isa++) {
        lt_cpu_force_isa((lt_isa)isa);
        for (int causal = 0; causal < 2; causal++) {
            check_case(&small, causal, NAN);
            check_case(&big, causal, NAN); /* keys > 256: the products' depth blocks */
        }
    }
    lt_cpu_force_isa(saved);
    lt_ctx_free(ctx);
}

/* ======================================================================== */
/* edges, extremes, grad mode                                                */
/* ======================================================================== */

static void test_empty_and_degenerate(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    /* no keys: every output row is an empty sum, 0; q gets no gradient */
    lt_tensor *q = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(2, 3, 4), 110, -1, 1), true);
    lt_tensor *k0 = lt_requires_grad(ctx, lt_new(ctx, LT_F32, LT_SHAPE(2, 0, 4)), true);
    lt_tensor *v0 = lt_requires_grad(ctx, lt_new(ctx, LT_F32, LT_SHAPE(2, 0, 5)), true);
    for (int causal = 0; causal < 2; causal++) {
        lt_ctx_reset(ctx);
        lt_zero_grad(q);
        lt_tensor *y = lt_scaled_dot_product_attention(ctx, q, k0, v0, causal, NAN);
        ts_assert_shape(y, LT_SHAPE(2, 3, 5));
        ts_assert_near(y, (float[30]){0}, 30, 0, 0);
        assert_true(lt_backward(ctx, lt_sum(ctx, y)));
        ts_assert_near(lt_grad(ctx, q), (float[24]){0}, 24, 0, 0);
    }
    /* no queries, and a value width of 0: empty outputs */
    lt_ctx_reset(ctx);
    lt_tensor *k = ts_random(ctx, LT_SHAPE(2, 6, 4), 111, -1, 1), *v = ts_random(ctx, LT_SHAPE(2, 6, 3), 112, -1, 1);
    ts_assert_shape(lt_scaled_dot_product_attention(ctx, lt_new(ctx, LT_F32, LT_SHAPE(2, 0, 4)), k, v, true, NAN),
                    LT_SHAPE(2, 0, 3));
    ts_assert_shape(lt_scaled_dot_product_attention(ctx, q, k, lt_new(ctx, LT_F32, LT_SHAPE(2, 6, 0)), true, NAN),
                    LT_SHAPE(2, 3, 0));
    assert_int_equal(lt_status_of(ctx), LT_OK);
    /* E = 0: every score is 0, so y is the mean of the visible values */
    lt_tensor *y = lt_scaled_dot_product_attention(ctx, lt_new(ctx, LT_F32, LT_SHAPE(1, 3, 0)),
                                                   lt_new(ctx, LT_F32, LT_SHAPE(1, 3, 0)),
                                                   lt_from_f32(ctx, LT_SHAPE(1, 3, 1), (float[]){3, 6, 9}), true, NAN);
    ts_assert_near(y, (float[]){3, 4.5f, 6}, 3, 1e-6, 1e-6);
    lt_ctx_free(ctx);
}

/* Sharp softmaxes (scores in the thousands) and non-finite inputs. */
static void test_extremes(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    inputs sharp =
        new_inputs(ctx, plain_views, 3, (lt_shape[]){LT_SHAPE(2, 20, 8), LT_SHAPE(2, 20, 8), LT_SHAPE(2, 20, 8)}, 120);
    for (int causal = 0; causal < 2; causal++) {
        lt_ctx *c = lt_ctx_new();
        outcome o = run_op(c, &sharp, causal, 1000.0f, 1);
        check_reference(c, &sharp, causal, 1000.0f, &o, 1e-4); /* scores of ~1e3: float rounding of ~1e-4 */
        outcome_free(&o);
        lt_ctx_free(c);
    }
    /* NaN in the last key: causal queries before it never see it (as
     * masked_fill(-inf) hides it in PyTorch); the last query's row is NaN */
    lt_tensor *q = ts_random(ctx, LT_SHAPE(1, 5, 4), 121, -1, 1), *k = ts_random(ctx, LT_SHAPE(1, 5, 4), 122, -1, 1);
    lt_tensor *v = ts_random(ctx, LT_SHAPE(1, 5, 4), 123, -1, 1);
    lt_set_f32(k, 17, NAN);
    lt_tensor *y = lt_scaled_dot_product_attention(ctx, q, k, v, true, NAN);
    for (int64_t i = 0; i < 20; i++)
        assert_true(i < 16 ? isfinite(lt_get_f32(y, i)) : isnan(lt_get_f32(y, i)));
    y = lt_scaled_dot_product_attention(ctx, q, k, v, false, NAN); /* unmasked: every row */
    for (int64_t i = 0; i < 20; i++)
        assert_true(isnan(lt_get_f32(y, i)));
    lt_ctx_free(ctx);
}

static void test_grad_mode(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *q = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(2, 7, 4), 130, -1, 1), true);
    lt_tensor *k = ts_random(ctx, LT_SHAPE(2, 7, 4), 131, -1, 1), *v = ts_random(ctx, LT_SHAPE(2, 7, 4), 132, -1, 1);
    lt_set_grad_enabled(ctx, false);
    lt_tensor *y0 = lt_scaled_dot_product_attention(ctx, q, k, v, true, NAN);
    assert_int_equal(lt_tape_size(ctx), 0);
    assert_false(y0->requires_grad);
    lt_set_grad_enabled(ctx, true);
    lt_tensor *y1 = lt_scaled_dot_product_attention(ctx, q, k, v, true, NAN); /* only q wants a gradient */
    assert_int_equal(lt_tape_size(ctx), 1);
    float *a = dense_copy(y0), *b = dense_copy(y1);
    assert_memory_equal(a, b, sizeof(float) * 56);
    free(a), free(b);
    assert_true(lt_backward(ctx, lt_sum(ctx, y1)));
    assert_null(lt_grad_f32(k));
    assert_non_null(lt_grad_f32(q));
    /* nothing requires a gradient: nothing recorded */
    lt_ctx_reset(ctx);
    lt_scaled_dot_product_attention(ctx, k, k, v, false, NAN);
    assert_int_equal(lt_tape_size(ctx), 0);
    lt_ctx_free(ctx);
}

/* Backward reads q, k and v: writing one of them in place after the
 * forward is refused; writing y is harmless (backward never reads it). */
static void test_saved_versions(void **state)
{
    (void)state;
    for (int which = 0; which < 4; which++) {
        lt_ctx *ctx = lt_ctx_new();
        lt_tensor *in[3] = {ts_random(ctx, LT_SHAPE(2, 5, 4), 140, -1, 1),
                            ts_random(ctx, LT_SHAPE(2, 5, 4), 141, -1, 1),
                            ts_random(ctx, LT_SHAPE(2, 5, 4), 142, -1, 1)};
        for (int i = 0; i < 3; i++)
            lt_requires_grad(ctx, in[i], true);
        lt_tensor *y = lt_scaled_dot_product_attention(ctx, in[0], in[1], in[2], true, NAN);
        assert_non_null(y);
        lt_set_f32(which < 3 ? in[which] : y, 0, 0.5f);
        bool ok = lt_backward(ctx, lt_sum(ctx, y));
        if (which < 3) {
            assert_false(ok);
            ts_assert_error(ctx, LT_ERR_GRAPH, "scaled_dot_product_attention's input", "modified in place", NULL);
        } else {
            assert_true(ok);
        }
        lt_ctx_free(ctx);
    }
}

/* ======================================================================== */
/* errors                                                                    */
/* ======================================================================== */

static void test_errors(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *q = lt_new(ctx, LT_F32, LT_SHAPE(2, 3, 5, 4)), *k = lt_new(ctx, LT_F32, LT_SHAPE(2, 3, 6, 4));
    lt_tensor *v = lt_new(ctx, LT_F32, LT_SHAPE(2, 3, 6, 7));
    const char *op = "scaled_dot_product_attention: ";

    assert_null(lt_scaled_dot_product_attention(ctx, q, NULL, v, true, NAN));
    ts_assert_error(ctx, LT_ERR_ARG, op, "argument 2 is NULL", NULL);
    assert_null(lt_scaled_dot_product_attention(NULL, q, k, v, true, NAN));

    assert_null(lt_scaled_dot_product_attention(ctx, q, k, lt_new(ctx, LT_I32, LT_SHAPE(2, 3, 6, 7)), true, NAN));
    ts_assert_error(ctx, LT_ERR_DTYPE, op, "v (2,3,6,7) must be f32, got i32", NULL);

    lt_tensor *r1 = lt_new(ctx, LT_F32, LT_SHAPE(4));
    assert_null(lt_scaled_dot_product_attention(ctx, r1, r1, r1, false, NAN));
    ts_assert_error(ctx, LT_ERR_SHAPE, op, "q (4), k (4), v (4)", "rank >= 2", NULL);

    assert_null(lt_scaled_dot_product_attention(ctx, q, lt_new(ctx, LT_F32, LT_SHAPE(6, 6, 4)), v, false, NAN));
    ts_assert_error(ctx, LT_ERR_SHAPE, op, "q (2,3,5,4), k (6,6,4), v (2,3,6,7)", "of one rank", NULL);

    assert_null(lt_scaled_dot_product_attention(ctx, q, lt_new(ctx, LT_F32, LT_SHAPE(2, 4, 6, 4)), v, false, NAN));
    ts_assert_error(ctx, LT_ERR_SHAPE, op, "k (2,4,6,4)", "the batch dims differ", NULL);

    assert_null(lt_scaled_dot_product_attention(ctx, q, k, lt_new(ctx, LT_F32, LT_SHAPE(1, 3, 6, 7)), false, NAN));
    ts_assert_error(ctx, LT_ERR_SHAPE, op, "v (1,3,6,7)", "the batch dims differ", NULL);

    assert_null(lt_scaled_dot_product_attention(ctx, q, lt_new(ctx, LT_F32, LT_SHAPE(2, 3, 6, 5)), v, false, NAN));
    ts_assert_error(ctx, LT_ERR_SHAPE, op, "q (2,3,5,4), k (2,3,6,5)", "q and k differ in their last size (E)", NULL);

    assert_null(lt_scaled_dot_product_attention(ctx, q, k, lt_new(ctx, LT_F32, LT_SHAPE(2, 3, 5, 7)), false, NAN));
    ts_assert_error(ctx, LT_ERR_SHAPE, op, "v (2,3,5,7)", "k and v differ in their number of keys (S)", NULL);

    assert_null(lt_scaled_dot_product_attention(ctx, q, k, v, true, INFINITY));
    ts_assert_error(ctx, LT_ERR_ARG, op, "scale inf must be finite", NULL);
    assert_null(lt_scaled_dot_product_attention(ctx, q, k, v, true, -INFINITY));
    ts_assert_error(ctx, LT_ERR_ARG, op, "scale -inf must be finite", NULL);

    /* sticky: an earlier error makes the op return NULL at once */
    lt_fail(ctx, LT_ERR_INDEX, "earlier");
    assert_null(lt_scaled_dot_product_attention(ctx, q, k, v, true, NAN));
    ts_assert_error(ctx, LT_ERR_INDEX, "earlier", NULL);

    assert_non_null(lt_scaled_dot_product_attention(ctx, q, k, v, true, NAN));
    lt_ctx_free(ctx);
}

/* ======================================================================== */
/* PyTorch 1.13 golden values (the composed ops)                             */
/* ======================================================================== */

typedef struct {
    const char *name;
    lt_shape q, k, v;
    bool causal;
    float scale;
    const float *qd, *kd, *vd, *y, *g, *dq, *dk, *dv;
} golden_case;

#define GOLDEN(NAME, SQ, SK, SV, CAUSAL, SCALE)                                                                   \
    {                                                                                                             \
#NAME, SQ, SK, SV, CAUSAL, SCALE, golden_attn_##NAME##_q, golden_attn_##NAME##_k, golden_attn_##NAME##_v, \
            golden_attn_##NAME##_y, golden_attn_##NAME##_g, golden_attn_##NAME##_dq, golden_attn_##NAME##_dk,     \
            golden_attn_##NAME##_dv                                                                               \
    }

/* float kernels against PyTorch's float kernels */
#define GOLDEN_ATOL 2e-6
#define GOLDEN_RTOL 2e-5

static void test_golden(void **state)
{
    (void)state;
    const golden_case cases[] = {
        GOLDEN(small, LT_SHAPE(2, 3, 5, 4), LT_SHAPE(2, 3, 5, 4), LT_SHAPE(2, 3, 5, 4), false, NAN),
        GOLDEN(causal, LT_SHAPE(2, 3, 7, 4), LT_SHAPE(2, 3, 7, 4), LT_SHAPE(2, 3, 7, 4), true, NAN),
        GOLDEN(head, LT_SHAPE(1, 2, 16, 16), LT_SHAPE(1, 2, 16, 16), LT_SHAPE(1, 2, 16, 16), true, NAN),
        GOLDEN(rect, LT_SHAPE(3, 5, 3), LT_SHAPE(3, 9, 3), LT_SHAPE(3, 9, 6), true, 0.3f),
        GOLDEN(tall, LT_SHAPE(2, 9, 5), LT_SHAPE(2, 4, 5), LT_SHAPE(2, 4, 2), true, NAN),
        GOLDEN(long, LT_SHAPE(1, 1, 70, 8), LT_SHAPE(1, 1, 70, 8), LT_SHAPE(1, 1, 70, 8), true, NAN),
        GOLDEN(negscale, LT_SHAPE(2, 6, 4), LT_SHAPE(2, 6, 4), LT_SHAPE(2, 6, 4), false, -0.7f),
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const golden_case *g = &cases[c];
        lt_ctx *ctx = lt_ctx_new();
        lt_tensor *q = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, g->q, g->qd), true);
        lt_tensor *k = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, g->k, g->kd), true);
        lt_tensor *v = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, g->v, g->vd), true);
        lt_tensor *y = lt_scaled_dot_product_attention(ctx, q, k, v, g->causal, g->scale);
        if (!y)
            fail_msg("%s: %s", g->name, lt_error_message(ctx));
        lt_shape sy = g->q;
        sy.d[sy.ndim - 1] = g->v.d[g->v.ndim - 1];
        ts_assert_shape(y, sy);
        ts_assert_near(y, g->y, lt_numel(y), GOLDEN_ATOL, GOLDEN_RTOL);
        assert_true(lt_backward_grad(ctx, y, lt_from_f32(ctx, sy, g->g)));
        ts_assert_near(lt_grad(ctx, q), g->dq, lt_numel(q), GOLDEN_ATOL, GOLDEN_RTOL);
        ts_assert_near(lt_grad(ctx, k), g->dk, lt_numel(k), GOLDEN_ATOL, GOLDEN_RTOL);
        ts_assert_near(lt_grad(ctx, v), g->dv, lt_numel(v), GOLDEN_ATOL, GOLDEN_RTOL);
        lt_ctx_free(ctx);
    }
}

/* ======================================================================== */
/* gradients written fresh: q, k, v views covering one temporary storage     */
/* ======================================================================== */

/* The layout of split_views: q (B,H,L,E), k (B,H,S,E), v (B,H,S,Ev) side by
 * side in the last dim of one (B, H, L*E + S*(E + Ev)) tensor. */
static int64_t split_L, split_S, split_E, split_Ev;

static void split_of(lt_ctx *ctx, lt_tensor *t, lt_tensor **q, lt_tensor **k, lt_tensor **v)
{
    lt_shape s = lt_shape_of(t);
    int64_t B = s.d[0], H = s.d[1], nq = split_L * split_E, nk = split_S * split_E;
    *q = lt_view(ctx, lt_narrow(ctx, t, 2, 0, nq), LT_SHAPE(B, H, split_L, split_E));
    *k = lt_view(ctx, lt_narrow(ctx, t, 2, nq, nk), LT_SHAPE(B, H, split_S, split_E));
    *v = lt_view(ctx, lt_narrow(ctx, t, 2, nq + nk, split_S * split_Ev), LT_SHAPE(B, H, split_S, split_Ev));
}

static void split_views(lt_ctx *ctx, lt_tensor *const *b, lt_tensor **q, lt_tensor **k, lt_tensor **v)
{
    split_of(ctx, b[0], q, k, v);
}

/* The same views of a temporary copy of the base (x * 1: the same bits,
 * and its gradient 1 * the temporary's): attention's backward is the first
 * to reach that storage and its q, k, v cover it, so it writes their
 * gradients instead of clearing and adding to them. */
static void fresh_split_views(lt_ctx *ctx, lt_tensor *const *b, lt_tensor **q, lt_tensor **k, lt_tensor **v)
{
    split_of(ctx, lt_mul_scalar(ctx, b[0], 1.0f), q, k, v);
}

static void fresh_c_attn_views(lt_ctx *ctx, lt_tensor *const *b, lt_tensor **q, lt_tensor **k, lt_tensor **v)
{
    lt_tensor *t = lt_mul_scalar(ctx, b[0], 1.0f);
    c_attn_views(ctx, &t, q, k, v);
}

/* Leaves the context's arena full of NaN, so that a gradient element a
 * fresh backward fails to write shows in the next run's results. */
static void poison_arena(lt_ctx *ctx)
{
    lt_ctx_reset(ctx);
    assert_non_null(lt_full(ctx, LT_SHAPE(1 << 20), NAN));
}

/* run_op with views and with fresh views of the same base, after the arena
 * was poisoned: the same bits (fresh writes C = 0 + sum, as adding to a
 * cleared buffer), the plain views' right (check_case), so both are. */
static void check_fresh(views_fn plain, views_fn fresh, lt_shape base, bool causal, uint64_t seed)
{
    lt_ctx *ctx = lt_ctx_new();
    inputs a = new_inputs(ctx, plain, 1, &base, seed), b = a;
    b.views = fresh;
    check_case(&a, causal, NAN);
    for (int threads = 1; threads <= 2; threads++) {
        poison_arena(ctx);
        outcome o_fresh = run_op(ctx, &b, causal, NAN, threads);
        poison_arena(ctx);
        outcome o_plain = run_op(ctx, &a, causal, NAN, threads);
        assert_int_equal(o_fresh.ny, o_plain.ny);
        assert_memory_equal(o_fresh.y, o_plain.y, sizeof(float) * (size_t)o_plain.ny);
        assert_memory_equal(o_fresh.grad[0], o_plain.grad[0], sizeof(float) * (size_t)a.bases[0]->storage->numel);
        outcome_free(&o_fresh);
        outcome_free(&o_plain);
    }
    lt_free(a.bases[0]);
    lt_ctx_free(ctx);
}

static void test_fresh_gradients(void **state)
{
    (void)state;
    /* L, S, E, Ev: odd T, several blocks of queries, S > L (causal: keys no
     * query sees get zero gradients), S < L */
    static const int64_t splits[][4] = {{13, 13, 5, 3}, {53, 53, 4, 4}, {13, 21, 5, 3}, {50, 70, 3, 2}, {21, 9, 2, 3}};
    for (int causal = 0; causal < 2; causal++) {
        for (size_t c = 0; c < sizeof splits / sizeof splits[0]; c++) {
            split_L = splits[c][0], split_S = splits[c][1], split_E = splits[c][2], split_Ev = splits[c][3];
            lt_shape base = LT_SHAPE(2, 3, split_L * split_E + split_S * (split_E + split_Ev));
            check_fresh(split_views, fresh_split_views, base, causal, 200 + c);
        }
        /* makemore's layout: T 16, odd T 21, T 53 (two blocks) */
        check_fresh(c_attn_views, fresh_c_attn_views, LT_SHAPE(3, 16, 3 * 64), causal, 210);
        check_fresh(c_attn_views, fresh_c_attn_views, LT_SHAPE(2, 21, 3 * 32), causal, 211);
        check_fresh(c_attn_views, fresh_c_attn_views, LT_SHAPE(2, 53, 3 * 16), causal, 212);
    }
}

/* A fresh split through finite differences (the gradient reaches the
 * base through x * 1). */
static lt_tensor *fresh_split_fn(lt_ctx *ctx, lt_tensor **in, void *user)
{
    const bool *causal = user;
    lt_tensor *q, *k, *v;
    fresh_split_views(ctx, in, &q, &k, &v);
    return lt_scaled_dot_product_attention(ctx, q, k, v, *causal, NAN);
}

static void test_fresh_gradcheck(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    split_L = 5, split_S = 7, split_E = 3, split_Ev = 2;
    for (int c = 0; c < 2; c++) {
        bool causal = c;
        lt_tensor *base = lt_requires_grad(
            ctx, ts_random(ctx, LT_SHAPE(2, 2, split_L * split_E + split_S * (split_E + split_Ev)), 220 + c, -1, 1),
            true);
        ts_gradcheck(fresh_split_fn, &base, 1, &causal, 1e-2, 1e-3, 1e-2);
    }
    lt_ctx_free(ctx);
}

/* A new tensor of ctx holding t's values (dense). */
static lt_tensor *copy_of(lt_ctx *ctx, const lt_tensor *t)
{
    assert_non_null(t);
    lt_tensor *c = lt_new(ctx, LT_F32, lt_shape_of(t));
    assert_non_null(c);
    float *d = dense_copy(t);
    memcpy(lt_data_f32(c), d, sizeof(float) * (size_t)lt_numel(t));
    free(d);
    return c;
}

/* Causal query i's output and q gradient are, bit for bit, those of an
 * unmasked single query over keys 0..i: the products sum only the keys a
 * query sees, in the same order. Odd T, several blocks, strided q, k, v. */
static void test_causal_rows_equal_unmasked_prefix(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    static const int64_t Ts[] = {7, 16, 21, 53};
    for (size_t c = 0; c < sizeof Ts / sizeof Ts[0]; c++) {
        int64_t T = Ts[c], C = 24, H = 4, D = C / H;
        inputs in = new_inputs(ctx, c_attn_views, 1, (lt_shape[]){LT_SHAPE(2, T, 3 * C)}, 230 + c);
        lt_ctx_reset(ctx);
        lt_zero_grad(in.bases[0]);
        lt_tensor *q, *k, *v;
        c_attn_views(ctx, in.bases, &q, &k, &v);
        lt_tensor *y = lt_scaled_dot_product_attention(ctx, q, k, v, true, NAN);
        assert_non_null(y);
        lt_tensor *g = upstream(ctx, y);
        assert_true(lt_backward_grad(ctx, y, g));
        float *yd = dense_copy(y), *dqd = dense_copy(lt_grad(ctx, q)), *gd = dense_copy(g);
        for (int64_t i = 0; i < T; i += (i < 3 ? 1 : 5)) {
            lt_ctx *c1 = lt_ctx_new();
            /* q[..., i:i+1, :], k and v [..., :i+1, :], copied so only they want gradients */
            lt_tensor *qi = lt_requires_grad(c1, copy_of(c1, lt_narrow(ctx, q, 2, i, 1)), true);
            lt_tensor *ki = copy_of(c1, lt_narrow(ctx, k, 2, 0, i + 1));
            lt_tensor *vi = copy_of(c1, lt_narrow(ctx, v, 2, 0, i + 1));
            lt_tensor *yi = lt_scaled_dot_product_attention(c1, qi, ki, vi, false, NAN);
            assert_non_null(yi);
            lt_tensor *gi = lt_empty(c1, LT_F32, lt_shape_of(yi));
            for (int64_t bh = 0; bh < 2 * H; bh++)
                memcpy(lt_data_f32(gi) + bh * D, gd + (bh * T + i) * D, sizeof(float) * (size_t)D);
            assert_true(lt_backward_grad(c1, yi, gi));
            float *yid = dense_copy(yi), *dqi = dense_copy(lt_grad(c1, qi));
            for (int64_t bh = 0; bh < 2 * H; bh++) {
                assert_memory_equal(yid + bh * D, yd + (bh * T + i) * D, sizeof(float) * (size_t)D);
                assert_memory_equal(dqi + bh * D, dqd + (bh * T + i) * D, sizeof(float) * (size_t)D);
            }
            free(yid), free(dqi);
            lt_free(qi), lt_free(ki), lt_free(vi);
            lt_ctx_free(c1);
        }
        free(yd), free(dqd), free(gd);
        lt_free(in.bases[0]);
    }
    lt_ctx_free(ctx);
}

/* ======================================================================== */
/* finite differences                                                        */
/* ======================================================================== */

typedef struct {
    bool causal;
    float scale;
} attn_args;

static lt_tensor *attention_fn(lt_ctx *ctx, lt_tensor **in, void *user)
{
    const attn_args *a = user;
    return lt_scaled_dot_product_attention(ctx, in[0], in[1], in[2], a->causal, a->scale);
}

/* q, k, v as (B, T, H*D) projections seen as (B, H, T, D): strided views. */
static lt_tensor *heads_fn(lt_ctx *ctx, lt_tensor **in, void *user)
{
    const attn_args *a = user;
    lt_tensor *qkv[3];
    for (int i = 0; i < 3; i++) {
        lt_shape s = lt_shape_of(in[i]); /* (B, T, H*D) with H = 2 */
        qkv[i] = lt_transpose(ctx, lt_view(ctx, in[i], LT_SHAPE(s.d[0], s.d[1], 2, s.d[2] / 2)), 1, 2);
    }
    return lt_scaled_dot_product_attention(ctx, qkv[0], qkv[1], qkv[2], a->causal, a->scale);
}

static void test_gradcheck(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    attn_args a_causal = {true, NAN};
    for (int causal = 0; causal < 2; causal++) {
        attn_args a = {causal, NAN};
        inputs in =
            new_inputs(ctx, plain_views, 3, (lt_shape[]){LT_SHAPE(2, 5, 3), LT_SHAPE(2, 6, 3), LT_SHAPE(2, 6, 4)},
                       40 + 3 * (uint64_t)causal);
        ts_gradcheck(attention_fn, in.bases, 3, &a, 1e-2, 1e-3, 1e-2);
        /* strided (B, H, T, D) views of (B, T, H*D) tensors */
        inputs p =
            new_inputs(ctx, plain_views, 3, (lt_shape[]){LT_SHAPE(2, 4, 6), LT_SHAPE(2, 4, 6), LT_SHAPE(2, 4, 4)},
                       50 + 3 * (uint64_t)causal);
        ts_gradcheck(heads_fn, p.bases, 3, &a, 1e-2, 1e-3, 1e-2);
    }
    attn_args scaled = {true, 2.5f}; /* sharper softmax */
    inputs in =
        new_inputs(ctx, plain_views, 3, (lt_shape[]){LT_SHAPE(1, 4, 2), LT_SHAPE(1, 4, 2), LT_SHAPE(1, 4, 2)}, 60);
    ts_gradcheck(attention_fn, in.bases, 3, &scaled, 1e-2, 1e-3, 1e-2);
    /* keys beyond 2 (E + Ev): probabilities recomputed in backward */
    inputs longer =
        new_inputs(ctx, plain_views, 3, (lt_shape[]){LT_SHAPE(1, 9, 1), LT_SHAPE(1, 9, 1), LT_SHAPE(1, 9, 2)}, 63);
    ts_gradcheck(attention_fn, longer.bases, 3, &a_causal, 1e-2, 1e-3, 1e-2);
    lt_ctx_free(ctx);
}

/* ======================================================================== */
/* against the composed ops                                                  */
/* ======================================================================== */

/* The attention as a user composes it from the library's ops, op for op
 * makemore.py's CausalSelfAttention (bench/bench_attention.c times the
 * same): 4-D matmul, scale, masked_fill with a triu(ones, 1) mask, softmax,
 * matmul. */
static lt_tensor *composed_attention(lt_ctx *ctx, lt_tensor *q, lt_tensor *k, lt_tensor *v, bool causal)
{
    lt_shape s = lt_shape_of(q);
    int64_t T = s.d[2], D = s.d[3];
    lt_tensor *att = lt_mul_scalar(ctx, lt_matmul(ctx, q, lt_transpose(ctx, k, -2, -1)), 1.0f / sqrtf((float)D));
    if (causal)
        att = lt_masked_fill(ctx, att, lt_triu(ctx, lt_ones(ctx, LT_SHAPE(T, T)), 1), -INFINITY);
    return lt_matmul(ctx, lt_softmax(ctx, att, -1), v);
}

/* y and the three gradients of the fused op or of the composed ops
 * (malloc'd, dense). */
static void run_either(lt_ctx *ctx, lt_tensor *const qkv[3], bool causal, bool composed, float *out[4])
{
    lt_ctx_reset(ctx);
    for (int i = 0; i < 3; i++)
        lt_zero_grad(qkv[i]);
    lt_tensor *y = composed ? composed_attention(ctx, qkv[0], qkv[1], qkv[2], causal)
                            : lt_scaled_dot_product_attention(ctx, qkv[0], qkv[1], qkv[2], causal, NAN);
    if (!y || !lt_backward_grad(ctx, y, upstream(ctx, y)))
        fail_msg("%s: %s", composed ? "composed" : "fused", lt_error_message(ctx));
    const lt_tensor *t[4] = {y, lt_grad(ctx, qkv[0]), lt_grad(ctx, qkv[1]), lt_grad(ctx, qkv[2])};
    for (int i = 0; i < 4; i++) {
        assert_non_null(t[i]);
        out[i] = dense_copy(t[i]);
    }
}

/* The fused op's y and gradients equal the composed ops' within float32
 * rounding: makemore's shape, blocks of queries, and head size 64 (the
 * wide gemm tile on AVX-512). */
static void test_equals_composed(void **state)
{
    (void)state;
    static const int64_t shapes[][4] = {{4, 4, 16, 16}, {2, 2, 50, 8}, {1, 2, 70, 64}};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++)
        for (int causal = 0; causal < 2; causal++) {
            lt_ctx *ctx = lt_ctx_new();
            lt_shape s = LT_SHAPE(shapes[c][0], shapes[c][1], shapes[c][2], shapes[c][3]);
            lt_tensor *qkv[3];
            for (int i = 0; i < 3; i++)
                qkv[i] = lt_requires_grad(ctx, ts_random(ctx, s, 70 + 3 * c + (uint64_t)i, -2, 2), true);
            float *fused[4], *composed[4];
            run_either(ctx, qkv, causal, false, fused);
            run_either(ctx, qkv, causal, true, composed);
            lt_tensor *got = lt_new(ctx, LT_F32, s);
            for (int i = 0; i < 4; i++) {
                memcpy(lt_data_f32(got), fused[i], sizeof(float) * (size_t)lt_numel(got));
                ts_assert_near(got, composed[i], lt_numel(got), 1e-6, 2e-5);
                free(fused[i]);
                free(composed[i]);
            }
            lt_ctx_free(ctx);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_small),
        cmocka_unit_test(test_reference_blocks),
        cmocka_unit_test(test_reference_scales),
        cmocka_unit_test(test_reference_model_shapes),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_equals_composed),
        cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_in_place_equals_copy),
        cmocka_unit_test(test_fresh_gradients),
        cmocka_unit_test(test_fresh_gradcheck),
        cmocka_unit_test(test_causal_rows_equal_unmasked_prefix),
        cmocka_unit_test(test_threads_split),
        cmocka_unit_test(test_every_isa),
        cmocka_unit_test(test_empty_and_degenerate),
        cmocka_unit_test(test_extremes),
        cmocka_unit_test(test_grad_mode),
        cmocka_unit_test(test_saved_versions),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
