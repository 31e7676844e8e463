/* test_threads.c - lt_set_threads and the worker pool (lib/kernels/threads.h).
 *
 * Results must not depend on the thread count: every split op (matmul and
 * linear products forward and backward, tanh/exp, cross-entropy) is run with
 * 1, 2 and 3 threads on every ISA path the machine has, and the outputs and
 * gradients are compared bit for bit, at the shapes of mlp_names' dev
 * evaluation (4096-row chunks) and at odd sizes. lt_par_jobs shows that the
 * large ops really were split and that a training step's small ones were
 * not. The pool itself: blocks cover the range once, contiguously, at
 * aligned boundaries, one task per thread; thousands of hand-offs, with
 * pauses long enough that workers and caller go to sleep; changes of the
 * thread count; argument errors. Run under valgrind and TSan as well. */
#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/cpu.h"
#include "kernels/threads.h"

/* ---- helpers ---------------------------------------------------------------- */

/* A heap copy of n floats (the test frees it). */
static float *copy_floats(const float *src, int64_t n)
{
    float *d = malloc(sizeof(float) * (size_t)(n ? n : 1));
    assert_non_null(d);
    memcpy(d, src, sizeof(float) * (size_t)n);
    return d;
}

/* Everything a computation produced, flattened: outputs then gradients. */
typedef struct {
    float *v;
    int64_t n;
    uint64_t jobs; /* pool jobs the computation ran */
} result;

static void append(result *r, const float *src, int64_t n)
{
    r->v = realloc(r->v, sizeof(float) * (size_t)(r->n + n));
    assert_non_null(r->v);
    memcpy(r->v + r->n, src, sizeof(float) * (size_t)n);
    r->n += n;
}

static void append_tensor(result *r, const lt_tensor *t)
{
    float *tmp = malloc(sizeof(float) * (size_t)lt_numel(t));
    assert_non_null(tmp);
    lt_copy_out_f32(t, tmp);
    append(r, tmp, lt_numel(t));
    free(tmp);
}

static void append_grad(result *r, lt_tensor *t)
{
    assert_non_null(lt_grad_f32(t));
    append(r, lt_grad_f32(t), lt_numel(t));
}

/* Bitwise equality (NaNs included), reporting the first difference. */
static void assert_same_bits(const result *a, const result *b, const char *what, int threads)
{
    assert_int_equal(a->n, b->n);
    if (memcmp(a->v, b->v, sizeof(float) * (size_t)a->n) != 0) {
        for (int64_t i = 0; i < a->n; i++)
            if (memcmp(&a->v[i], &b->v[i], sizeof(float)) != 0) {
                fail_msg("%s: %d threads differ from 1 at element %lld: %.9g vs %.9g", what, threads, (long long)i,
                         (double)b->v[i], (double)a->v[i]);
            }
    }
}

/* A computation run in a fresh context with `threads` threads. */
typedef void (*computation)(lt_ctx *ctx, result *r, const void *arg);

static result run_with(computation f, const void *arg, int threads)
{
    lt_ctx *ctx = lt_ctx_new();
    assert_non_null(ctx);
    assert_true(lt_set_threads(ctx, threads));
    result r = {NULL, 0, 0};
    f(ctx, &r, arg);
    assert_int_equal(lt_status_of(ctx), LT_OK);
    r.jobs = lt_par_jobs(ctx);
    lt_ctx_free(ctx);
    return r;
}

/* Runs f with 1 to max_threads threads on every ISA path; asserts identical
 * results and that the multi-threaded runs split (split_expected) or not.
 * (Sizes in this file are kept near the smallest that split, so that the
 * program stays quick under valgrind.) */
static void check_thread_independent(computation f, const void *arg, const char *what, bool split_expected,
                                     int max_threads)
{
    lt_isa saved = lt_cpu_isa();
    for (int isa = LT_ISA_GENERIC; isa <= (int)lt_cpu_isa_supported(); isa++) {
        lt_cpu_force_isa((lt_isa)isa);
        result one = run_with(f, arg, 1);
        assert_int_equal(one.jobs, 0);
        for (int t = 2; t <= max_threads; t++) {
            result many = run_with(f, arg, t);
            if (split_expected && many.jobs == 0)
                fail_msg("%s [%s]: expected the work to be split across %d threads", what,
                         lt_isa_name((lt_isa)isa), t);
            if (!split_expected && many.jobs != 0)
                fail_msg("%s [%s]: expected no split, got %llu jobs", what, lt_isa_name((lt_isa)isa),
                         (unsigned long long)many.jobs);
            assert_same_bits(&one, &many, what, t);
            free(many.v);
        }
        free(one.v);
    }
    lt_cpu_force_isa(saved);
}

/* Backward from sum(y * w), w random with the given seed, so that every
 * gradient element is distinct; then y is appended to r. */
static void backward_weighted(lt_ctx *ctx, result *r, lt_tensor *y, uint64_t seed)
{
    assert_non_null(y);
    lt_tensor *w = ts_random(ctx, lt_shape_of(y), seed, -1, 1);
    assert_true(lt_backward(ctx, lt_sum(ctx, lt_mul(ctx, y, w))));
    append_tensor(r, y);
}

/* ---- matmul forward and backward ------------------------------------------------ */

typedef struct {
    int64_t batch_a, batch_b, n, k, m; /* batch 0: rank 2 */
    bool transpose_b;                  /* B given as lt_transpose of an (m,k) tensor */
} mm_case;

static lt_shape batched(int64_t batch, int64_t r, int64_t c)
{
    return batch ? LT_SHAPE(batch, r, c) : LT_SHAPE(r, c);
}

/* C = A @ B; loss = sum(C * R) so every gradient element is distinct. */
static void matmul_fwd_bwd(lt_ctx *ctx, result *r, const void *varg)
{
    const mm_case *c = varg;
    lt_tensor *a = lt_requires_grad(ctx, ts_random(ctx, batched(c->batch_a, c->n, c->k), 1, -1, 1), true);
    lt_tensor *b0 = c->transpose_b ? ts_random(ctx, batched(c->batch_b, c->m, c->k), 2, -1, 1)
                                   : ts_random(ctx, batched(c->batch_b, c->k, c->m), 2, -1, 1);
    lt_tensor *b = lt_requires_grad(ctx, b0, true);
    lt_tensor *bv = c->transpose_b ? lt_transpose(ctx, b, -1, -2) : b;
    backward_weighted(ctx, r, lt_matmul(ctx, a, bv), 3);
    append_grad(r, a);
    append_grad(r, b);
}

static void test_matmul_eval_shapes(void **state)
{
    (void)state;
    /* mlp_names' evaluation chunk: (4096,30) @ (30,200) and (4096,200) @
     * (200,27); backward: dA has 4096 rows (row split), dB = A^T dC has 30
     * rows (column split) or 200 rows (row split) */
    const mm_case first = {0, 0, 4096, 30, 200, false}, second = {0, 0, 4096, 200, 27, false};
    check_thread_independent(matmul_fwd_bwd, &first, "matmul (4096,30)@(30,200)", true, 2);
    check_thread_independent(matmul_fwd_bwd, &second, "matmul (4096,200)@(200,27)", true, 2);
}

static void test_matmul_odd_layouts(void **state)
{
    (void)state;
    const mm_case cases[] = {
        {0, 0, 301, 77, 101, false}, /* ragged against every tile and block */
        {0, 0, 250, 64, 150, true},  /* B transposed: column-major in place */
        {0, 0, 40, 100, 700, false}, /* too few rows: the columns are split */
        {4, 0, 200, 30, 200, false}, /* batch folded into rows */
        {3, 3, 200, 64, 200, true},  /* a batch of splittable products */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_thread_independent(matmul_fwd_bwd, &cases[i], "matmul (odd shapes and layouts)", true, 3);
}

/* N-d products: broadcast batch dims ((2,1) with (2,): dA and dB summed
 * over the dim each was broadcast along) with B transposed in its last two
 * dims, and a 4-D A folded into one product with a shared 2-D B. Each
 * product is just large enough to split. */
typedef struct {
    lt_shape sa, sb;
    bool transpose_b;
} mm_nd_case;

static void matmul_nd_fwd_bwd(lt_ctx *ctx, result *r, const void *varg)
{
    const mm_nd_case *c = varg;
    lt_tensor *a = lt_requires_grad(ctx, ts_random(ctx, c->sa, 1, -1, 1), true);
    lt_tensor *b = lt_requires_grad(ctx, ts_random(ctx, c->sb, 2, -1, 1), true);
    backward_weighted(ctx, r, lt_matmul(ctx, a, c->transpose_b ? lt_transpose(ctx, b, -2, -1) : b), 3);
    append_grad(r, a);
    append_grad(r, b);
}

static void test_matmul_nd(void **state)
{
    (void)state;
    const mm_nd_case bcast = {LT_SHAPE(2, 1, 96, 64), LT_SHAPE(2, 336, 64), true}; /* -> (2,2,96,336) */
    const mm_nd_case fold = {LT_SHAPE(2, 2, 96, 64), LT_SHAPE(64, 100), false};    /* (384,64) @ (64,100) */
    check_thread_independent(matmul_nd_fwd_bwd, &bcast, "matmul (2,1,96,64) @ (2,64,336)", true, 2);
    check_thread_independent(matmul_nd_fwd_bwd, &fold, "matmul (2,2,96,64) @ (64,100)", true, 2);
}

/* lt_linear (bias folded into the product) forward and backward, split at
 * boundaries that are multiples of 16 but not of the tile sizes (6 and 8
 * rows, 48 and 64 columns): a wide layer's shape, scaled down, splits its
 * columns (x W: 1000 columns, 496 + 504 on 2 threads; dX = dY W^T: 100
 * columns, 48 + 52 or 32 + 32 + 36), and a tall one its rows (500 rows: 256
 * + 244, or 160 + 176 + 164); a square one (200: 96 + 104, or 64 + 64 +
 * 72) splits dX = dY W^T, whose W^T is column-major, by columns and its
 * other two products by rows. */
typedef struct {
    int64_t n, k, m;
} linear_case;

static void linear_fwd_bwd(lt_ctx *ctx, result *r, const void *varg)
{
    const linear_case *c = varg;
    lt_tensor *x = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(c->n, c->k), 1, -1, 1), true);
    lt_tensor *w = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(c->k, c->m), 2, -1, 1), true);
    lt_tensor *b = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(c->m), 3, -1, 1), true);
    backward_weighted(ctx, r, lt_linear(ctx, x, w, b), 4);
    append_grad(r, x);
    append_grad(r, w);
    append_grad(r, b);
}

static void test_linear_splits_off_tile_boundaries(void **state)
{
    (void)state;
    const linear_case wide = {64, 100, 1000}, tall = {500, 100, 64}, square = {200, 200, 200};
    check_thread_independent(linear_fwd_bwd, &wide, "linear (64,100) @ (100,1000) + b", true, 3);
    check_thread_independent(linear_fwd_bwd, &tall, "linear (500,100) @ (100,64) + b", true, 3);
    check_thread_independent(linear_fwd_bwd, &square, "linear (200,200) @ (200,200) + b", true, 3);
    /* the bias's column sums split by columns too once dy is large: (512,300)
     * is 19 blocks of 16 and a 12-column tail, shared 144 + 156 */
    const linear_case bias_split = {512, 32, 300};
    check_thread_independent(linear_fwd_bwd, &bias_split, "linear (512,32) @ (32,300) + b", true, 3);
}

/* The split result is also right, not only equal to itself: against a
 * double-precision reference. */
static void test_matmul_split_matches_reference(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_true(lt_set_threads(ctx, 2));
    const int64_t n = 1500, k = 70, m = 130;
    lt_tensor *a = ts_random(ctx, LT_SHAPE(n, k), 11, -1, 1), *b = ts_random(ctx, LT_SHAPE(m, k), 12, -1, 1);
    lt_tensor *c = lt_matmul(ctx, a, lt_transpose(ctx, b, 0, 1)); /* (n,k) @ (k,m) */
    assert_non_null(c);
    assert_true(lt_par_jobs(ctx) > 0);
    float *want = malloc(sizeof(float) * (size_t)(n * m));
    assert_non_null(want);
    const float *ad = lt_data_f32(a), *bd = lt_data_f32(b);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < m; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += (double)ad[i * k + p] * bd[j * k + p];
            want[i * m + j] = (float)s;
        }
    ts_assert_near(c, want, n * m, 1e-4, 1e-5);
    free(want);
    lt_ctx_free(ctx);
}

/* ---- the evaluation and training of mlp_names ------------------------------------- */

typedef struct {
    int64_t rows;
    bool grad; /* record and back-propagate (training) or not (evaluation) */
} mlp_case;

/* emb = C[X] -> view -> linear -> tanh -> linear -> cross_entropy, with
 * mlp_names' sizes (vocab 27, block 3, emb 10, hidden 200). */
static void mlp_chunk(lt_ctx *ctx, result *r, const void *varg)
{
    const mlp_case *c = varg;
    lt_tensor *C = ts_random(ctx, LT_SHAPE(27, 10), 21, -2, 2), *W1 = ts_random(ctx, LT_SHAPE(30, 200), 22, -1, 1);
    lt_tensor *b1 = ts_random(ctx, LT_SHAPE(200), 23, -1, 1), *W2 = ts_random(ctx, LT_SHAPE(200, 27), 24, -1, 1);
    lt_tensor *b2 = ts_random(ctx, LT_SHAPE(27), 25, -1, 1);
    lt_tensor *params[5] = {C, W1, b1, W2, b2};
    for (int i = 0; i < 5; i++)
        assert_non_null(lt_requires_grad(ctx, params[i], true));
    int32_t *x = malloc(sizeof(int32_t) * (size_t)(c->rows * 4));
    assert_non_null(x);
    ts_rand g = ts_rand_new(26);
    for (int64_t i = 0; i < c->rows * 4; i++)
        x[i] = (int32_t)ts_uniform(&g, 0, 27);
    lt_tensor *X = lt_new_from(ctx, LT_I32, LT_SHAPE(c->rows, 3), x);
    lt_tensor *Y = lt_new_from(ctx, LT_I32, LT_SHAPE(c->rows), x + c->rows * 3);
    free(x);
    lt_set_grad_enabled(ctx, c->grad);
    lt_tensor *flat = lt_view(ctx, lt_index(ctx, C, X), LT_SHAPE(-1, 30));
    lt_tensor *h = lt_tanh(ctx, lt_linear(ctx, flat, W1, b1));
    lt_tensor *logits = lt_linear(ctx, h, W2, b2);
    lt_tensor *loss = lt_cross_entropy(ctx, logits, Y);
    assert_non_null(loss);
    append_tensor(r, h);
    append_tensor(r, logits);
    append_tensor(r, loss);
    if (c->grad) {
        assert_true(lt_backward(ctx, loss));
        for (int i = 0; i < 5; i++)
            append_grad(r, params[i]);
    }
}

static void test_mlp_evaluation_chunk(void **state)
{
    (void)state;
    const mlp_case full = {4096, false}, last = {22655 % 4096, false}; /* a chunk, the dev set's last one */
    check_thread_independent(mlp_chunk, &full, "mlp evaluation chunk (4096 rows)", true, 2);
    check_thread_independent(mlp_chunk, &last, "mlp evaluation chunk (2175 rows)", true, 3);
}

static void test_mlp_large_batch_training(void **state)
{
    (void)state;
    const mlp_case big = {2048, true}; /* forward + backward of every split op */
    check_thread_independent(mlp_chunk, &big, "mlp training, batch 2048", true, 3);
}

static void test_training_step_stays_single_threaded(void **state)
{
    (void)state;
    const mlp_case step = {32, true}; /* the notebook's minibatch: nothing may split */
    check_thread_independent(mlp_chunk, &step, "mlp training step, batch 32", false, 3);
}

/* ---- elementwise and cross-entropy --------------------------------------------------- */

static void exp_tanh_ce(lt_ctx *ctx, result *r, const void *varg)
{
    int64_t rows = *(const int64_t *)varg;
    lt_tensor *a = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(rows, 201), 31, -12, 12), true);
    lt_tensor *e = lt_exp(ctx, a), *t = lt_tanh(ctx, a);
    lt_tensor *logits = lt_narrow(ctx, lt_mul_scalar(ctx, t, 3.0f), 1, 0, 27); /* strided: made contiguous */
    lt_tensor *y = lt_new(ctx, LT_I32, LT_SHAPE(rows));
    for (int64_t i = 0; i < rows; i++)
        lt_data_i32(y)[i] = (int32_t)(i * 7 % 27);
    lt_tensor *loss = lt_cross_entropy(ctx, logits, y);
    assert_non_null(loss);
    assert_true(lt_backward(ctx, lt_add(ctx, loss, lt_mean(ctx, e))));
    append_tensor(r, e);
    append_tensor(r, t);
    append_tensor(r, loss);
    append_grad(r, a);
}

static void test_elementwise_and_cross_entropy(void **state)
{
    (void)state;
    const int64_t rows = 2003; /* 402,603 elements; 2003 rows of 27 logits */
    check_thread_independent(exp_tanh_ce, &rows, "exp, tanh, cross_entropy", true, 3);
}

/* add, sub, mul and div over long dense operands (one row: split), a
 * same-tensor product (x * x: both passes into one buffer), a scalar tensor
 * stretched over the row (its gradient a sum: never split) and a strided
 * operand; forward and backward. */
static void binary_ops(lt_ctx *ctx, result *r, const void *varg)
{
    int64_t n = *(const int64_t *)varg;
    lt_tensor *a = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(n), 41, -2, 2), true);
    lt_tensor *b = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(n), 42, 0.5, 2), true);
    lt_tensor *c = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(1), 43, -1, 1), true);
    lt_tensor *wide = lt_requires_grad(ctx, ts_random(ctx, LT_SHAPE(n, 2), 44, -1, 1), true);
    lt_tensor *col = lt_select(ctx, wide, 1, 1); /* stride 2 */
    lt_tensor *s = lt_add(ctx, a, b), *d = lt_sub(ctx, lt_mul(ctx, s, a), col);
    lt_tensor *q = lt_div(ctx, lt_add(ctx, d, lt_mul(ctx, a, a)), b);
    backward_weighted(ctx, r, lt_add(ctx, q, c), 45); /* (n) + (1): c stretched */
    append_grad(r, a);
    append_grad(r, b);
    append_grad(r, c);
    append_grad(r, wide);
}

static void test_binary_ops(void **state)
{
    (void)state;
    const int64_t n = 50021; /* odd: the last block is ragged; 3 tasks on 3 threads */
    check_thread_independent(binary_ops, &n, "add, sub, mul, div", true, 3);
}

/* ---- the pool: blocks, hand-offs, thresholds -------------------------------------------- */

#define MAX_N 5000

typedef struct {
    int64_t n;
    int owner[MAX_N];     /* task that visited each item, -1 if none */
    int visits[MAX_N];
    pthread_t thread[LT_MAX_THREADS];
    int64_t begin[LT_MAX_THREADS], end[LT_MAX_THREADS];
    int slow_task;        /* this task sleeps first (-1: none) */
} visit_log;

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void record_visits(void *arg, int task, int64_t begin, int64_t end)
{
    visit_log *v = arg;
    if (task == v->slow_task)
        sleep_us(1000); /* longer than the spin: the other side sleeps */
    v->thread[task] = pthread_self();
    v->begin[task] = begin;
    v->end[task] = end;
    for (int64_t i = begin; i < end; i++) {
        v->owner[i] = task;
        v->visits[i]++;
    }
}

/* Runs one job and checks its blocks: every item once, contiguous blocks in
 * task order, interior boundaries at multiples of align, one thread each
 * (task 0 on the caller). */
static void check_job(lt_ctx *ctx, visit_log *v, int tasks, int64_t n, int64_t align)
{
    memset(v->visits, 0, sizeof v->visits);
    for (int64_t i = 0; i < n; i++)
        v->owner[i] = -1;
    v->n = n;
    for (int t = 0; t < tasks; t++)
        v->begin[t] = v->end[t] = -1;
    lt_par_run(ctx, tasks, n, align, record_visits, v);
    for (int64_t i = 0; i < n; i++) {
        assert_int_equal(v->visits[i], 1);
        assert_true(i == 0 || v->owner[i] >= v->owner[i - 1]);
    }
    int64_t next = 0;
    for (int t = 0; t < tasks; t++) {
        if (v->begin[t] < 0) /* an empty block (n < tasks * align) */
            continue;
        assert_int_equal(v->begin[t], next);
        assert_true(v->begin[t] % align == 0);
        next = v->end[t];
        for (int u = 0; u < t; u++)
            if (v->begin[u] >= 0)
                assert_false(pthread_equal(v->thread[u], v->thread[t]));
    }
    assert_int_equal(next, n);
    if (v->begin[0] >= 0)
        assert_true(pthread_equal(v->thread[0], pthread_self()));
}

static void test_blocks_cover_range(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    visit_log *v = calloc(1, sizeof *v);
    assert_non_null(v);
    v->slow_task = -1;
    assert_true(lt_set_threads(ctx, 4));
    const int64_t sizes[] = {1, 3, 47, 48, 49, 100, 1000, 4096, 4999}, aligns[] = {1, 16, 17, 48};
    for (int tasks = 1; tasks <= 4; tasks++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
            for (size_t al = 0; al < sizeof aligns / sizeof *aligns; al++)
                check_job(ctx, v, tasks, sizes[s], aligns[al]);
    check_job(ctx, v, 9, 1000, 1); /* more tasks than threads: clamped to 4 */
    assert_true(lt_par_jobs(ctx) > 0);
    free(v);
    lt_ctx_free(ctx);
}

/* Many jobs in a row, some with pauses long enough for the workers to go
 * to sleep and some where a worker is slow enough for the caller to. */
static void test_many_handoffs(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    visit_log *v = calloc(1, sizeof *v);
    assert_non_null(v);
    assert_true(lt_set_threads(ctx, 3));
    for (int i = 0; i < 3000; i++) {
        v->slow_task = i % 500 == 7 ? 1 + i % 2 : i % 500 == 8 ? 0 : -1;
        check_job(ctx, v, 2 + i % 2, 1 + i % MAX_N, 1 + i % 16);
        if (i % 300 == 0)
            sleep_us(2000); /* the workers have stopped spinning */
    }
    assert_int_equal(lt_par_jobs(ctx), 3000);
    free(v);
    lt_ctx_free(ctx);
}

static void test_task_counts(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    assert_int_equal(lt_par_tasks(ctx, 1 << 20, 1, 1e12), 1); /* default: one thread */
    assert_true(lt_set_threads(ctx, 8));
    assert_int_equal(lt_par_tasks(ctx, 1 << 20, 1, 1e12), 8);
    assert_int_equal(lt_par_tasks(ctx, 1 << 20, 1, 2 * LT_PAR_TASK_WORK - 1), 1); /* too little work */
    assert_int_equal(lt_par_tasks(ctx, 1 << 20, 1, 3 * LT_PAR_TASK_WORK), 3);
    assert_int_equal(lt_par_tasks(ctx, 100, 48, 1e12), 3); /* 3 units of 48 */
    assert_int_equal(lt_par_tasks(ctx, 0, 1, 1e12), 1);
    /* the sizes of mlp_names: a training product does not split, an
     * evaluation product does */
    assert_int_equal(lt_par_tasks(ctx, 32, 48, 2.0 * 32 * 30 * 200), 1);
    assert_int_equal(lt_par_tasks(ctx, 4096, 48, 2.0 * 4096 * 30 * 200), 8);
    lt_ctx_free(ctx);
}

/* ---- the public setting ---------------------------------------------------------------- */

static void test_set_threads(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *t = lt_new(ctx, LT_F32, LT_SHAPE(2));
    assert_int_equal(lt_get_threads(ctx), 1);
    assert_int_equal(lt_get_threads(NULL), 1);
    assert_false(lt_set_threads(NULL, 2));
    assert_true(lt_set_threads(ctx, 2));
    assert_int_equal(lt_get_threads(ctx), 2);
    assert_true(lt_set_threads(ctx, LT_MAX_THREADS));
    assert_int_equal(lt_get_threads(ctx), 64);

    assert_false(lt_set_threads(ctx, 0));
    assert_int_equal(lt_get_threads(ctx), 64); /* unchanged */
    /* sticky, like every error: the next op fails */
    assert_null(lt_neg(ctx, t));
    ts_assert_error(ctx, LT_ERR_ARG, "set_threads", "0 threads", "1..64", NULL);
    assert_false(lt_set_threads(ctx, 65));
    ts_assert_error(ctx, LT_ERR_ARG, "set_threads", "65", NULL);
    assert_false(lt_set_threads(ctx, -3));
    ts_assert_error(ctx, LT_ERR_ARG, "set_threads", "-3", NULL);
    lt_ctx_free(ctx);
}

/* Changing the count replaces the pool; going back to 1 stops using it. */
static void test_change_thread_count(void **state)
{
    (void)state;
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = ts_random(ctx, LT_SHAPE(500, 100), 41, -1, 1), *b = ts_random(ctx, LT_SHAPE(100, 100), 42, -1, 1);
    float *want = NULL;
    const int counts[] = {1, 2, 3, 2, 1, 4, 4};
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
        assert_true(lt_set_threads(ctx, counts[i]));
        uint64_t before = lt_par_jobs(ctx);
        lt_tensor *c = lt_matmul(ctx, a, b);
        assert_non_null(c);
        if (counts[i] == 1)
            assert_int_equal(lt_par_jobs(ctx), before); /* no split with one thread */
        else
            assert_int_equal(lt_par_jobs(ctx), before + 1);
        if (!want)
            want = copy_floats(lt_data_f32(c), lt_numel(c));
        else
            assert_memory_equal(want, lt_data_f32(c), sizeof(float) * (size_t)lt_numel(c));
        lt_ctx_reset(ctx);
    }
    free(want);
    lt_ctx_free(ctx); /* joins the 3 workers of the last pool */

    lt_ctx *idle = lt_ctx_new(); /* threads set, never used: no pool at all */
    assert_true(lt_set_threads(idle, 8));
    assert_int_equal(lt_par_jobs(idle), 0);
    lt_ctx_free(idle);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_threads),
        cmocka_unit_test(test_task_counts),
        cmocka_unit_test(test_blocks_cover_range),
        cmocka_unit_test(test_many_handoffs),
        cmocka_unit_test(test_change_thread_count),
        cmocka_unit_test(test_matmul_eval_shapes),
        cmocka_unit_test(test_matmul_odd_layouts),
        cmocka_unit_test(test_matmul_nd),
        cmocka_unit_test(test_matmul_split_matches_reference),
        cmocka_unit_test(test_linear_splits_off_tile_boundaries),
        cmocka_unit_test(test_mlp_evaluation_chunk),
        cmocka_unit_test(test_mlp_large_batch_training),
        cmocka_unit_test(test_training_step_stays_single_threaded),
        cmocka_unit_test(test_elementwise_and_cross_entropy),
        cmocka_unit_test(test_binary_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
