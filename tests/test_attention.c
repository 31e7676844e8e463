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
    inputs in = {{ts_random(ctx, sq, seed, -1, 1), ts_random(ctx, sk, seed + 1, -1, 1), ts_random(ctx, sv, seed + 2, -1, 1)},
                 3, plain_views};
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
        check_plain(LT_SHAPE(3), 7, 7, 3, 5, causal, 0.7f, 3); /* Ev != E */
        check_plain(LT_SHAPE0, 6, 6, 8, 8, causal, NAN, 4);    /* rank 2 */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_small),
        cmocka_unit_test(test_reference_blocks),
        cmocka_unit_test(test_reference_scales),
        cmocka_unit_test(test_reference_model_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
