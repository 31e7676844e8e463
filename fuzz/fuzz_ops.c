/* fuzz_ops.c - the public op API driven by arbitrary bytes.
 *
 * The input is decoded into a sequence of calls on one context: create
 * tensors of fuzzed shapes and values (small integers, so most results are
 * exact, and now and then +-inf, NaN, +-1e30, denormals), take views with
 * fuzzed dims and ranges (including huge and negative ones), index, matmul
 * (every rank, torch.matmul's rules), linear, cat, softmax, cross-entropy
 * (both forms), reductions (var, std and logsumexp too), broadcasting
 * arithmetic, unary ops (sqrt, rsqrt, abs, clamp, gelu_tanh, softplus, s - x,
 * s / x too), attention, where, masked_fill, tril/triu, gather, one_hot, expand, stack,
 * roll, backward, reset. A small pool of live tensors feeds the calls.
 *
 * The oracle is written from the header's rules, independently of the
 * library's code: for every call it predicts either the result's shape, or
 * the set of error statuses that the arguments violate. The call must then
 * succeed with exactly that shape (and, for views, copies, indexing, cat,
 * matmul on small integers, arithmetic and max, exactly the expected
 * values; softmax/cross-entropy of finite logits must be finite; attention
 * on small integers averages each value column), or fail
 * with one of those statuses and a message naming the op. Crashes, UB and
 * leaks are caught by the sanitizers. */
#include "fuzz_support.h"
#include "libtensor.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define POOL 8
#define MAX_CALLS 96
#define MAX_KEPT 4096        /* elements of a tensor kept in the pool */
#define MAX_WORK (1 << 18)   /* elements (or multiply-adds) of one call */
#define E(s) (1u << (s))

typedef struct fz {
    const uint8_t *p;
    size_t n;
    lt_ctx *ctx;
    lt_tensor *pool[POOL];
    bool grad_on;
} fz;

static unsigned take(fz *f)
{
    if (!f->n)
        return 0;
    f->n--;
    return *f->p++;
}

/* A live tensor from the pool (the chosen slot or the next filled one); NULL
 * only when the pool is empty. */
static lt_tensor *pick(fz *f)
{
    unsigned k = take(f);
    for (unsigned i = 0; i < POOL; i++)
        if (f->pool[(k + i) % POOL])
            return f->pool[(k + i) % POOL];
    return NULL;
}

/* Keeps t for later calls, unless it is large enough to make the checks
 * slow (broadcasting and cat could otherwise grow tensors without bound). */
static void put(fz *f, lt_tensor *t)
{
    if (t && lt_numel(t) <= MAX_KEPT)
        f->pool[take(f) % POOL] = t;
}

/* A dim argument: mostly in range, sometimes far outside. */
static int take_dim(fz *f)
{
    unsigned b = take(f);
    return b < 240 ? (int)(b % 13) - 6 : (b & 1 ? 1000000 : -1000000);
}

/* A size, start or index: small, or one of the values that overflow. */
static int64_t take_i64(fz *f)
{
    static const int64_t odd[] = {INT64_MAX, INT64_MIN, INT64_MAX - 1, (int64_t)1 << 32, (int64_t)1 << 62,
                                  -((int64_t)1 << 62), INT32_MAX, (int64_t)INT32_MAX + 1, -7};
    unsigned b = take(f);
    return b < 230 ? (int64_t)(b % 10) - 2 : odd[b % (sizeof odd / sizeof *odd)];
}

static float value_of(unsigned b)
{
    static const float odd[] = {INFINITY, -INFINITY, NAN, 1e30f, -1e30f, 0.5f, -0.0f, FLT_MAX, FLT_MIN, 1e-45f};
    return b < 230 ? (float)((int)(b % 9) - 4) : odd[b % (sizeof odd / sizeof *odd)];
}

/* ---- checked int64 arithmetic for the oracle ---------------------------- */

static bool mul_ok(int64_t a, int64_t b, int64_t *r)
{
    if (a < 0 || b < 0)
        return false;
    if (a != 0 && b > INT64_MAX / a)
        return false;
    *r = a * b;
    return true;
}

/* The shape rule of the header: sizes >= 0 multiplying (zeros as 1) to at
 * most 2^40. */
static bool shape_allowed(lt_shape s)
{
    int64_t span = 1;
    for (int i = 0; i < s.ndim; i++)
        if (s.d[i] < 0 || !mul_ok(span, s.d[i] > 1 ? s.d[i] : 1, &span) || span > ((int64_t)1 << 40))
            return false;
    return true;
}

static int resolve(int dim, int ndim)
{
    int d = dim < 0 ? dim + ndim : dim;
    return d < 0 || d >= ndim ? -1 : d;
}

/* numel(s) * factor, in double: the oracle's own size estimates must not
 * overflow either. */
static bool too_much_work(lt_shape s, int64_t factor)
{
    double w = (double)factor;
    for (int i = 0; i < s.ndim; i++)
        w *= (double)s.d[i];
    return w > MAX_WORK;
}

static int64_t numel_of(lt_shape s)
{
    int64_t n = 1;
    for (int i = 0; i < s.ndim; i++)
        n *= s.d[i];
    return n;
}

/* ---- element access by multi-index ------------------------------------- */

static int64_t ravel(const int64_t *idx, const lt_shape *s)
{
    int64_t lin = 0;
    for (int d = 0; d < s->ndim; d++)
        lin = lin * s->d[d] + idx[d];
    return lin;
}

static void unravel(int64_t lin, const lt_shape *s, int64_t *idx)
{
    for (int d = s->ndim - 1; d >= 0; d--) {
        idx[d] = s->d[d] ? lin % s->d[d] : 0;
        lin = s->d[d] ? lin / s->d[d] : 0;
    }
}

static bool same_bits(float x, float y) { return (isnan(x) && isnan(y)) || memcmp(&x, &y, sizeof x) == 0; }

static bool same_elem(const lt_tensor *a, int64_t i, const lt_tensor *b, int64_t j)
{
    if (a->dtype != b->dtype)
        return false;
    if (a->dtype == LT_I32)
        return lt_get_i32(a, i) == lt_get_i32(b, j);
    return same_bits(lt_get_f32(a, i), lt_get_f32(b, j));
}

/* How an output multi-index maps to the source's. */
typedef enum { MAP_SAME, MAP_PERM, MAP_NARROW, MAP_SELECT } map_kind;
typedef struct {
    map_kind kind;
    int perm[LT_MAX_DIMS]; /* out dim k is source dim perm[k] */
    int dim;
    int64_t at;
} mapping;

/* Every element of out equals the mapped element of src. */
static void check_mapped(const char *op, const lt_tensor *out, const lt_tensor *src, const mapping *m)
{
    lt_shape so = lt_shape_of(out), ss = lt_shape_of(src);
    for (int64_t i = 0; i < lt_numel(out); i++) {
        int64_t oi[LT_MAX_DIMS] = {0}, si[LT_MAX_DIMS] = {0}, j = i;
        if (m->kind != MAP_SAME) {
            unravel(i, &so, oi);
            for (int d = 0, k = 0; d < ss.ndim; d++) {
                if (m->kind == MAP_PERM)
                    si[m->perm[d]] = oi[d];
                else if (m->kind == MAP_NARROW)
                    si[d] = oi[d] + (d == m->dim ? m->at : 0);
                else
                    si[d] = d == m->dim ? m->at : oi[k++];
            }
            j = ravel(si, &ss);
        }
        FUZZ_CHECK(same_elem(out, i, src, j), "%s: element %lld differs from source element %lld", op, (long long)i,
                   (long long)j);
    }
}

/* ---- outcome check -------------------------------------------------------- */

/* errors == 0: the call must succeed with shape *want. Otherwise it must
 * fail with one of the statuses in errors and a message naming op. */
static lt_tensor *expect(fz *f, const char *op, lt_tensor *r, unsigned errors, const lt_shape *want)
{
    lt_ctx *ctx = f->ctx;
    char a[128], b[128];
    if (!errors) {
        FUZZ_CHECK(r && lt_status_of(ctx) == LT_OK, "%s: failed unexpectedly: %s", op, lt_error_message(ctx));
        FUZZ_CHECK(!want || lt_shape_equal(lt_shape_of(r), *want), "%s: shape %s, want %s", op,
                   lt_shape_str(lt_shape_of(r), a, sizeof a), lt_shape_str(*want, b, sizeof b));
        return r;
    }
    FUZZ_CHECK(!r, "%s: succeeded with shape %s, but should fail with one of statuses 0x%x", op,
               lt_shape_str(lt_shape_of(r), a, sizeof a), errors);
    lt_status s = lt_status_of(ctx);
    FUZZ_CHECK(errors & E(s), "%s: status '%s' (%s) is not one the arguments violate (0x%x)", op, lt_status_name(s),
               lt_error_message(ctx), errors);
    FUZZ_CHECK(strncmp(lt_error_message(ctx), op, strlen(op)) == 0, "%s: the message does not name the op: '%s'", op,
               lt_error_message(ctx));
    lt_clear_error(ctx);
    return NULL;
}

static unsigned need_f32(const lt_tensor *t) { return t->dtype == LT_F32 ? 0 : E(LT_ERR_DTYPE); }

static bool all_small_ints(const lt_tensor *t)
{
    for (int64_t i = 0; i < lt_numel(t); i++) {
        float v = lt_get_f32(t, i);
        if (!(fabsf(v) <= 4) || v != floorf(v))
            return false;
    }
    return true;
}

static bool all_finite(const lt_tensor *t)
{
    for (int64_t i = 0; i < lt_numel(t); i++)
        if (!isfinite(lt_get_f32(t, i)))
            return false;
    return true;
}

/* ---- creation --------------------------------------------------------------- */

static lt_shape take_shape(fz *f, int max_rank)
{
    lt_shape s = {(int)(take(f) % (unsigned)(max_rank + 1)), {0}};
    for (int i = 0; i < s.ndim; i++) {
        unsigned b = take(f);
        s.d[i] = b < 250 ? (int64_t)(b % 5) : (int64_t)(b % 3) + 5;
    }
    return s;
}

static void op_new(fz *f)
{
    unsigned how = take(f);
    lt_dtype dt = how % 6 == 0 ? LT_I32 : LT_F32;
    lt_shape s = take_shape(f, 4);
    if (how % 17 == 1 && s.ndim > 0) { /* a negative size */
        s.d[0] = -1 - (int64_t)(how % 3);
        expect(f, "new", lt_new(f->ctx, dt, s), E(LT_ERR_SHAPE), NULL);
        return;
    }
    if (how % 17 == 2 && s.ndim > 1) { /* empty, with huge other sizes */
        s.d[0] = 0;
        for (int i = 1; i < s.ndim; i++)
            s.d[i] = take_i64(f);
        if (!shape_allowed(s)) {
            expect(f, "new", lt_new(f->ctx, dt, s), E(LT_ERR_SHAPE), NULL);
            return;
        }
    }
    lt_tensor *t = expect(f, "new", lt_new(f->ctx, dt, s), 0, &s);
    for (int64_t i = 0; i < lt_numel(t); i++) {
        unsigned b = take(f);
        if (dt == LT_I32)
            lt_set_i32(t, i, (int32_t)(b % 13) - 6);
        else
            lt_set_f32(t, i, value_of(b));
    }
    if (dt == LT_F32 && how & 0x40)
        FUZZ_CHECK(lt_requires_grad(f->ctx, t, true) == t, "requires_grad failed: %s", lt_error_message(f->ctx));
    put(f, t);
}

/* ---- views ------------------------------------------------------------------ */

static void op_transpose(fz *f, lt_tensor *t)
{
    int d0 = take_dim(f), d1 = take_dim(f);
    int a = resolve(d0, t->ndim), b = resolve(d1, t->ndim);
    lt_shape want = lt_shape_of(t);
    mapping m = {MAP_PERM, {0}, 0, 0};
    for (int i = 0; i < t->ndim; i++)
        m.perm[i] = i;
    if (a >= 0 && b >= 0) {
        want.d[a] = t->shape[b];
        want.d[b] = t->shape[a];
        m.perm[a] = b;
        m.perm[b] = a;
    }
    lt_tensor *r = expect(f, "transpose", lt_transpose(f->ctx, t, d0, d1), a < 0 || b < 0 ? E(LT_ERR_INDEX) : 0, &want);
    if (r)
        check_mapped("transpose", r, t, &m), put(f, r);
}

static void op_permute(fz *f, lt_tensor *t)
{
    int dims[LT_MAX_DIMS];
    unsigned errors = 0;
    bool seen[LT_MAX_DIMS] = {false};
    mapping m = {MAP_PERM, {0}, 0, 0};
    lt_shape want = lt_shape_of(t);
    for (int i = 0; i < t->ndim; i++) {
        dims[i] = (take(f) & 3) ? (int)(take(f) % (unsigned)t->ndim) : take_dim(f);
        int d = resolve(dims[i], t->ndim);
        if (d < 0)
            errors |= E(LT_ERR_INDEX);
        else if (seen[d])
            errors |= E(LT_ERR_ARG);
        else {
            seen[d] = true;
            want.d[i] = t->shape[d];
            m.perm[i] = d;
        }
    }
    lt_tensor *r = expect(f, "permute", lt_permute(f->ctx, t, dims), errors, &want);
    if (r)
        check_mapped("permute", r, t, &m), put(f, r);
}

static void op_narrow(fz *f, lt_tensor *t)
{
    int dim = take_dim(f);
    int64_t start = take_i64(f), len = take_i64(f);
    int d = resolve(dim, t->ndim);
    unsigned errors = 0;
    lt_shape want = lt_shape_of(t);
    if (d < 0 || start < 0 || len < 0 || start > t->shape[d] || len > t->shape[d] - start)
        errors = E(LT_ERR_INDEX);
    else
        want.d[d] = len;
    lt_tensor *r = expect(f, "narrow", lt_narrow(f->ctx, t, dim, start, len), errors, &want);
    mapping m = {MAP_NARROW, {0}, d, start};
    if (r)
        check_mapped("narrow", r, t, &m), put(f, r);
}

static void op_select(fz *f, lt_tensor *t)
{
    int dim = take_dim(f);
    int64_t index = take_i64(f);
    int d = resolve(dim, t->ndim);
    unsigned errors = 0;
    lt_shape want = {0, {0}};
    int64_t i = -1;
    if (d < 0)
        errors = E(LT_ERR_INDEX);
    else {
        i = index < 0 ? (index >= -t->shape[d] ? index + t->shape[d] : -1) : index;
        if (i < 0 || i >= t->shape[d])
            errors = E(LT_ERR_INDEX);
        for (int k = 0; k < t->ndim; k++)
            if (k != d)
                want.d[want.ndim++] = t->shape[k];
    }
    lt_tensor *r = expect(f, "select", lt_select(f->ctx, t, dim, index), errors, &want);
    mapping m = {MAP_SELECT, {0}, d, i};
    if (r)
        check_mapped("select", r, t, &m), put(f, r);
}

static void op_squeeze(fz *f, lt_tensor *t, bool squeeze)
{
    int dim = take_dim(f);
    lt_shape want = lt_shape_of(t);
    unsigned errors = 0;
    if (squeeze) {
        int d = resolve(dim, t->ndim);
        if (d < 0)
            errors = E(LT_ERR_INDEX);
        else if (t->shape[d] != 1)
            errors = E(LT_ERR_SHAPE);
        else {
            want.ndim--;
            memmove(want.d + d, want.d + d + 1, sizeof(int64_t) * (size_t)(want.ndim - d));
        }
    } else {
        int d = resolve(dim, t->ndim + 1);
        if (t->ndim >= LT_MAX_DIMS)
            errors = E(LT_ERR_SHAPE) | E(LT_ERR_INDEX);
        else if (d < 0)
            errors = E(LT_ERR_INDEX);
        else {
            memmove(want.d + d + 1, want.d + d, sizeof(int64_t) * (size_t)(want.ndim - d));
            want.d[d] = 1;
            want.ndim++;
        }
    }
    const char *op = squeeze ? "squeeze" : "unsqueeze";
    lt_tensor *r = expect(f, op, squeeze ? lt_squeeze(f->ctx, t, dim) : lt_unsqueeze(f->ctx, t, dim), errors, &want);
    mapping m = {MAP_SAME, {0}, 0, 0};
    if (r)
        check_mapped(op, r, t, &m), put(f, r);
}

/* view / reshape to a fuzzed shape with at most one -1. */
static void op_view(fz *f, lt_tensor *t, bool reshape)
{
    lt_shape s = {(int)(take(f) % 5), {0}};
    for (int i = 0; i < s.ndim; i++)
        s.d[i] = take_i64(f);
    /* the rule: one -1 is inferred, other sizes >= 0, product = numel */
    unsigned errors = 0;
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < s.ndim && !errors; i++) {
        if (s.d[i] == -1 && infer < 0)
            infer = i;
        else if (!mul_ok(known, s.d[i], &known))
            errors = E(LT_ERR_SHAPE);
    }
    int64_t n = lt_numel(t);
    lt_shape want = s;
    if (!errors && infer >= 0) {
        if (known == 0 || n % known != 0)
            errors = E(LT_ERR_SHAPE);
        else
            want.d[infer] = n / known, known = n;
    }
    if (!errors && (known != n || !shape_allowed(want)))
        errors = E(LT_ERR_SHAPE);
    const char *op = reshape ? "reshape" : "view";
    lt_tensor *r = reshape ? lt_reshape(f->ctx, t, s) : lt_view(f->ctx, t, s);
    if (!reshape && !errors && !r && !lt_is_contiguous(t)) /* strides that allow no view */
        errors = E(LT_ERR_SHAPE);
    r = expect(f, op, r, errors, &want);
    mapping m = {MAP_SAME, {0}, 0, 0};
    if (r)
        check_mapped(op, r, t, &m), put(f, r);
}

static void op_contiguous(fz *f, lt_tensor *t, bool clone)
{
    const char *op = clone ? "clone" : "contiguous";
    lt_shape want = lt_shape_of(t);
    lt_tensor *r = expect(f, op, clone ? lt_clone(f->ctx, t) : lt_contiguous(f->ctx, t), 0, &want);
    FUZZ_CHECK(lt_is_contiguous(r), "%s: result is not contiguous", op);
    mapping m = {MAP_SAME, {0}, 0, 0};
    check_mapped(op, r, t, &m);
    put(f, r);
}

/* unbind: shape[dim] views, each the select at its index. */
static void op_unbind(fz *f, lt_tensor *t)
{
    int dim = take_dim(f), count = -1;
    int d = resolve(dim, t->ndim);
    if (d >= 0 && t->shape[d] > MAX_KEPT) /* as many views as the size: the caller's choice */
        return;
    lt_tensor **parts = lt_unbind(f->ctx, t, dim, &count);
    if (d < 0) {
        FUZZ_CHECK(!parts && count == 0, "unbind: a bad dim gave %d parts", count);
        expect(f, "unbind", NULL, E(LT_ERR_INDEX), NULL);
        return;
    }
    FUZZ_CHECK(parts && count == t->shape[d], "unbind: %d parts of %lld (%s)", count, (long long)t->shape[d],
               lt_error_message(f->ctx));
    for (int i = 0; i < count; i++) {
        mapping m = {MAP_SELECT, {0}, d, i};
        check_mapped("unbind", parts[i], t, &m);
    }
    if (count > 0)
        put(f, parts[take(f) % (unsigned)count]);
}

/* A persistent copy: same shape, same elements, contiguous. */
static void op_new_copy(fz *f, lt_tensor *t)
{
    lt_shape want = lt_shape_of(t);
    lt_tensor *c = expect(f, "new_copy", lt_new_copy(f->ctx, t), 0, &want);
    mapping m = {MAP_SAME, {0}, 0, 0};
    check_mapped("new_copy", c, t, &m);
    FUZZ_CHECK(lt_is_contiguous(c) && c->owner, "new_copy: not a contiguous persistent tensor");
    put(f, c);
}

/* ---- indexing and cat --------------------------------------------------------- */

static void op_index(fz *f, lt_tensor *c, lt_tensor *x)
{
    unsigned errors = 0;
    lt_shape want = lt_shape_of(x);
    if (x->dtype != LT_I32)
        errors |= E(LT_ERR_DTYPE);
    if (c->ndim < 1 || x->ndim + c->ndim - 1 > LT_MAX_DIMS)
        errors |= E(LT_ERR_SHAPE);
    if (!errors) {
        for (int64_t i = 0; i < lt_numel(x); i++) {
            int64_t r = lt_get_i32(x, i);
            if (r < -c->shape[0] || r >= c->shape[0])
                errors |= E(LT_ERR_INDEX);
        }
        for (int d = 1; d < c->ndim; d++)
            want.d[want.ndim++] = c->shape[d];
        if (!shape_allowed(want)) /* x.shape + c.shape[1:] past 2^40 */
            errors |= E(LT_ERR_SHAPE);
        else if (too_much_work(want, 1))
            return;
    }
    lt_tensor *r = expect(f, "index", lt_index(f->ctx, c, x), errors, &want);
    if (!r)
        return;
    int64_t row = 1;
    for (int d = 1; d < c->ndim; d++)
        row *= c->shape[d];
    for (int64_t i = 0; i < lt_numel(x); i++) {
        int64_t k = lt_get_i32(x, i);
        k = k < 0 ? k + c->shape[0] : k;
        for (int64_t j = 0; j < row; j++)
            FUZZ_CHECK(same_elem(r, i * row + j, c, k * row + j), "index: element (%lld,%lld) differs",
                       (long long)i, (long long)j);
    }
    put(f, r);
}

static void op_cat(fz *f)
{
    int n = 1 + (int)(take(f) % 3), dim = take_dim(f);
    lt_tensor *ts[3];
    for (int k = 0; k < n; k++)
        if (!(ts[k] = pick(f)))
            return;
    unsigned errors = 0;
    lt_shape want = lt_shape_of(ts[0]);
    int d = resolve(dim, ts[0]->ndim);
    if (ts[0]->ndim == 0)
        errors = E(LT_ERR_SHAPE);
    else if (d < 0)
        errors = E(LT_ERR_INDEX);
    for (int k = 1; k < n && !errors; k++) {
        if (ts[k]->dtype != ts[0]->dtype)
            errors |= E(LT_ERR_DTYPE);
        if (ts[k]->ndim != ts[0]->ndim)
            errors |= E(LT_ERR_SHAPE);
        for (int i = 0; i < ts[0]->ndim && ts[k]->ndim == ts[0]->ndim; i++)
            if (i != d && ts[k]->shape[i] != ts[0]->shape[i])
                errors |= E(LT_ERR_SHAPE);
        want.d[d] += ts[k]->shape[d];
    }
    if (!errors && !shape_allowed(want)) /* sizes add up past 2^40 */
        errors = E(LT_ERR_SHAPE);
    lt_tensor *r = expect(f, "cat", lt_cat(f->ctx, ts, n, dim), errors, &want);
    if (!r)
        return;
    int64_t idx[LT_MAX_DIMS];
    for (int64_t i = 0; i < lt_numel(r); i++) {
        unravel(i, &want, idx);
        int k = 0;
        while (idx[d] >= ts[k]->shape[d])
            idx[d] -= ts[k++]->shape[d];
        lt_shape sk = lt_shape_of(ts[k]);
        FUZZ_CHECK(same_elem(r, i, ts[k], ravel(idx, &sk)), "cat: element %lld differs", (long long)i);
    }
    put(f, r);
}

/* ---- products ------------------------------------------------------------------ */

/* Broadcasts shape s into *acc (right-aligned, size 1 stretches); false
 * when a dim's sizes differ and neither is 1. */
static bool broadcast_into(lt_shape *acc, const int64_t *s, int n)
{
    lt_shape r = {acc->ndim > n ? acc->ndim : n, {0}};
    for (int d = 0; d < r.ndim; d++) {
        int ka = d - (r.ndim - acc->ndim), kb = d - (r.ndim - n);
        int64_t da = ka < 0 ? 1 : acc->d[ka], db = kb < 0 ? 1 : s[kb];
        if (da != db && da != 1 && db != 1)
            return false;
        r.d[d] = da == 1 ? db : da;
    }
    *acc = r;
    return true;
}

/* The logical index in t (shape ts, right-aligned within an nb-dim prefix
 * of the index idx, size-1 dims broadcast) of output element idx's operand
 * element, whose last `tail` dims are given in last[]. */
static int64_t operand_index(const lt_tensor *t, int nb, const int64_t *idx, int tail, const int64_t *last)
{
    int lead = t->ndim - tail; /* t's batch dims */
    int64_t lin = 0;
    for (int d = 0; d < lead; d++)
        lin = lin * t->shape[d] + (t->shape[d] == 1 ? 0 : idx[d + nb - lead]);
    for (int d = 0; d < tail; d++)
        lin = lin * t->shape[lead + d] + last[d];
    return lin;
}

/* torch.matmul's rules: 1-D operands become a row (a) or a column (b),
 * removed from the result; batch dims broadcast. */
static void op_matmul(fz *f, lt_tensor *a, lt_tensor *b)
{
    unsigned errors = need_f32(a) | need_f32(b);
    lt_shape want = {0, {0}}, batch = {0, {0}};
    int64_t n = 1, k = 0, m = 1;
    int ta = a->ndim >= 2 ? 2 : 1, tb = b->ndim >= 2 ? 2 : 1; /* matrix dims of each */
    if (a->ndim < 1 || b->ndim < 1)
        errors |= E(LT_ERR_SHAPE);
    else {
        n = a->ndim >= 2 ? a->shape[a->ndim - 2] : 1;
        k = a->shape[a->ndim - 1];
        m = b->ndim >= 2 ? b->shape[b->ndim - 1] : 1;
        if (k != b->shape[b->ndim - tb] || !broadcast_into(&batch, a->shape, a->ndim - ta) ||
            !broadcast_into(&batch, b->shape, b->ndim - tb))
            errors |= E(LT_ERR_SHAPE);
        want = batch;
        if (a->ndim >= 2)
            want.d[want.ndim++] = n;
        if (b->ndim >= 2)
            want.d[want.ndim++] = m;
        if (!errors && !shape_allowed(want)) /* (2^40, 0) @ (0, 2^40) */
            errors |= E(LT_ERR_SHAPE);
        if (!errors && too_much_work(want, k + 1))
            return;
    }
    lt_tensor *r = expect(f, "matmul", lt_matmul(f->ctx, a, b), errors, &want);
    if (!r)
        return;
    if (n > 0 && m > 0 && all_small_ints(a) && all_small_ints(b)) { /* exact in float; no loop over an empty batch */
        int64_t nbatch = numel_of(batch), idx[LT_MAX_DIMS];
        for (int64_t q = 0; q < nbatch; q++) {
            unravel(q, &batch, idx);
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < m; j++) {
                    float s = 0;
                    for (int64_t l = 0; l < k; l++)
                        s += lt_get_f32(a, operand_index(a, batch.ndim, idx, ta,
                                                         ta == 2 ? (int64_t[]){i, l} : (int64_t[]){l})) *
                             lt_get_f32(b, operand_index(b, batch.ndim, idx, tb,
                                                         tb == 2 ? (int64_t[]){l, j} : (int64_t[]){l}));
                    float got = lt_get_f32(r, (q * n + i) * m + j);
                    FUZZ_CHECK(got == s, "matmul: element (%lld,%lld,%lld) is %g, want %g", (long long)q, (long long)i,
                               (long long)j, (double)got, (double)s);
                }
        }
    }
    put(f, r);
}

/* x (..., K) @ w (K, M) + b (M) -> (..., M): x of any rank >= 1, as F.linear. */
static void op_linear(fz *f, lt_tensor *x, lt_tensor *w, lt_tensor *b)
{
    unsigned errors = need_f32(x) | need_f32(w) | (b ? need_f32(b) : 0);
    lt_shape want = {2, {0, 0}};
    int64_t k = x->ndim >= 1 ? x->shape[x->ndim - 1] : -1;
    if (x->ndim < 1 || w->ndim != 2 || k != w->shape[0] || (b && (b->ndim != 1 || b->shape[0] != w->shape[1]))) {
        errors |= E(LT_ERR_SHAPE);
    } else {
        want.ndim = x->ndim;
        for (int d = 0; d < x->ndim - 1; d++)
            want.d[d] = x->shape[d];
        want.d[x->ndim - 1] = w->shape[1];
    }
    if (!errors && !shape_allowed(want))
        errors |= E(LT_ERR_SHAPE);
    if (!errors && too_much_work(want, k + 1))
        return;
    lt_tensor *r = expect(f, "linear", lt_linear(f->ctx, x, w, b), errors, &want);
    if (!r)
        return;
    int64_t rows = k > 0 ? lt_numel(x) / k : lt_numel(r) / (w->shape[1] > 0 ? w->shape[1] : 1);
    int64_t m = w->shape[1];
    if (all_small_ints(x) && all_small_ints(w) && (!b || all_small_ints(b)))
        for (int64_t i = 0; i < rows && m > 0; i++)
            for (int64_t j = 0; j < m; j++) {
                float s = b ? lt_get_f32(b, j) : 0;
                for (int64_t l = 0; l < k; l++)
                    s += lt_get_f32(x, i * k + l) * lt_get_f32(w, l * m + j);
                FUZZ_CHECK(lt_get_f32(r, i * m + j) == s, "linear: element (%lld,%lld) is %g, want %g", (long long)i,
                           (long long)j, (double)lt_get_f32(r, i * m + j), (double)s);
            }
    put(f, r);
}

/* ---- selection, masking and shape ------------------------------------------------------ */

/* cond's element as a truth value: nonzero (NaN included) is true. */
static bool truth_at(const lt_tensor *c, int64_t i)
{
    return c->dtype == LT_I32 ? lt_get_i32(c, i) != 0 : lt_get_f32(c, i) != 0.0f;
}

/* where(c, a, b), or (fill) masked_fill(a, c, value). */
static void op_where(fz *f, lt_tensor *c, lt_tensor *a, lt_tensor *b, bool fill)
{
    const char *op = fill ? "masked_fill" : "where";
    float value = value_of(take(f));
    unsigned errors = fill ? need_f32(a) : (a->dtype == b->dtype ? 0 : E(LT_ERR_DTYPE));
    lt_shape want = {0, {0}};
    if (!broadcast_into(&want, a->shape, a->ndim) || !broadcast_into(&want, c->shape, c->ndim) ||
        (!fill && !broadcast_into(&want, b->shape, b->ndim)))
        errors |= E(LT_ERR_SHAPE);
    if (!errors && !shape_allowed(want))
        errors |= E(LT_ERR_SHAPE);
    if (!errors && too_much_work(want, 1))
        return;
    lt_tensor *r = expect(f, op, fill ? lt_masked_fill(f->ctx, a, c, value) : lt_where(f->ctx, c, a, b), errors, &want);
    if (!r)
        return;
    int64_t idx[LT_MAX_DIMS];
    for (int64_t i = 0; i < lt_numel(r); i++) {
        unravel(i, &want, idx);
        bool t = truth_at(c, operand_index(c, want.ndim, idx, 0, NULL));
        int64_t ia = operand_index(a, want.ndim, idx, 0, NULL);
        if (fill)
            FUZZ_CHECK(same_bits(lt_get_f32(r, i), t ? value : lt_get_f32(a, ia)), "masked_fill: element %lld",
                       (long long)i);
        else
            FUZZ_CHECK(t ? same_elem(r, i, a, ia) : same_elem(r, i, b, operand_index(b, want.ndim, idx, 0, NULL)),
                       "where: element %lld", (long long)i);
    }
    put(f, r);
}

static void op_triangle(fz *f, lt_tensor *t, bool upper)
{
    const char *op = upper ? "triu" : "tril";
    int64_t diag = take_i64(f);
    lt_shape want = lt_shape_of(t);
    lt_tensor *r = expect(f, op, upper ? lt_triu(f->ctx, t, diag) : lt_tril(f->ctx, t, diag),
                          t->ndim < 2 ? E(LT_ERR_SHAPE) : 0, &want);
    if (!r)
        return;
    int64_t idx[LT_MAX_DIMS];
    for (int64_t i = 0; i < lt_numel(r); i++) {
        unravel(i, &want, idx);
        int64_t off = idx[t->ndim - 1] - idx[t->ndim - 2]; /* column - row */
        bool keep = upper ? off >= diag : off <= diag;
        bool zero = r->dtype == LT_I32 ? lt_get_i32(r, i) == 0 : same_bits(lt_get_f32(r, i), 0.0f);
        FUZZ_CHECK(keep ? same_elem(r, i, t, i) : zero, "%s: element %lld (diagonal %lld)", op, (long long)i,
                   (long long)diag);
    }
    put(f, r);
}

static void op_gather(fz *f, lt_tensor *t, lt_tensor *index)
{
    int dim = take_dim(f), d = resolve(dim, t->ndim ? t->ndim : 1);
    unsigned errors = index->dtype == LT_I32 ? 0 : E(LT_ERR_DTYPE);
    if (d < 0)
        errors |= E(LT_ERR_INDEX);
    if (index->ndim != t->ndim)
        errors |= E(LT_ERR_SHAPE);
    for (int i = 0; i < t->ndim && index->ndim == t->ndim; i++)
        if (i != d && index->shape[i] > t->shape[i])
            errors |= E(LT_ERR_SHAPE);
    int64_t len = t->ndim ? (d >= 0 ? t->shape[d] : 0) : 1;
    for (int64_t i = 0; !errors && i < lt_numel(index); i++)
        if (lt_get_i32(index, i) < 0 || lt_get_i32(index, i) >= len)
            errors |= E(LT_ERR_INDEX);
    lt_shape want = lt_shape_of(index), st = lt_shape_of(t);
    lt_tensor *r = expect(f, "gather", lt_gather(f->ctx, t, dim, index), errors, &want);
    if (!r)
        return;
    int64_t idx[LT_MAX_DIMS];
    for (int64_t i = 0; i < lt_numel(r); i++) {
        unravel(i, &want, idx);
        if (t->ndim)
            idx[d] = lt_get_i32(index, i);
        FUZZ_CHECK(same_elem(r, i, t, t->ndim ? ravel(idx, &st) : 0), "gather: element %lld", (long long)i);
    }
    put(f, r);
}

static void op_one_hot(fz *f, lt_tensor *index)
{
    unsigned b = take(f);
    int64_t classes = b < 240 ? (int64_t)(b % 8) - 1 : take_i64(f);
    unsigned errors = index->dtype == LT_I32 ? 0 : E(LT_ERR_DTYPE);
    if (index->ndim >= LT_MAX_DIMS)
        errors |= E(LT_ERR_SHAPE);
    int64_t n = lt_numel(index), hi = -1, lo = 0;
    for (int64_t i = 0; !errors && i < n; i++) {
        int64_t v = lt_get_i32(index, i);
        hi = v > hi ? v : hi;
        lo = v < lo ? v : lo;
    }
    if (!errors && classes == -1 && n == 0)
        errors |= E(LT_ERR_ARG);
    int64_t nc = classes == -1 ? hi + 1 : classes;
    if (!errors && nc < 0)
        errors |= E(LT_ERR_ARG);
    if (!errors && (lo < 0 || hi >= nc))
        errors |= E(LT_ERR_INDEX);
    lt_shape want = lt_shape_of(index);
    if (!errors) {
        want.d[want.ndim++] = nc;
        if (!shape_allowed(want))
            errors |= E(LT_ERR_SHAPE);
        else if (too_much_work(want, 1))
            return;
    }
    lt_tensor *r = expect(f, "one_hot", lt_one_hot(f->ctx, index, classes), errors, &want);
    if (!r)
        return;
    for (int64_t i = 0; i < lt_numel(r); i++)
        FUZZ_CHECK(lt_get_f32(r, i) == (lt_get_i32(index, i / nc) == i % nc ? 1.0f : 0.0f), "one_hot: element %lld",
                   (long long)i);
    put(f, r);
}

static void op_expand(fz *f, lt_tensor *t)
{
    unsigned how = take(f);
    int extra = (int)(how % 3);
    if (t->ndim + extra > LT_MAX_DIMS)
        extra = LT_MAX_DIMS - t->ndim;
    lt_shape s = {t->ndim + extra, {0}}, want = s;
    unsigned errors = 0;
    if (how % 13 == 12 && t->ndim > 0) { /* fewer dims than t */
        s.ndim = want.ndim = t->ndim - 1;
        errors |= E(LT_ERR_SHAPE);
    }
    for (int d = 0; d < s.ndim; d++) {
        int k = d - extra;
        unsigned b = take(f);
        int64_t size = k >= 0 && k < t->ndim ? t->shape[k] : 1;
        s.d[d] = b < 64 ? size : b < 128 ? -1 : b < 240 ? (int64_t)(b % 5) : take_i64(f);
        want.d[d] = s.d[d] == -1 ? size : s.d[d];
        if ((s.d[d] == -1 && k < 0) || want.d[d] < 0 || (want.d[d] != size && size != 1))
            errors |= E(LT_ERR_SHAPE);
    }
    if (!errors && !shape_allowed(want))
        errors |= E(LT_ERR_SHAPE);
    if (!errors && too_much_work(want, 1))
        return;
    lt_tensor *r = expect(f, "expand", lt_expand(f->ctx, t, s), errors, &want);
    if (!r)
        return;
    int64_t idx[LT_MAX_DIMS];
    for (int64_t i = 0; i < lt_numel(r); i++) {
        unravel(i, &want, idx);
        FUZZ_CHECK(same_elem(r, i, t, operand_index(t, want.ndim, idx, 0, NULL)), "expand: element %lld", (long long)i);
    }
    put(f, r);
}

static void op_stack(fz *f)
{
    lt_tensor *ts[3];
    int n = (int)(take(f) % 3) + 1, dim = take_dim(f);
    for (int k = 0; k < n; k++)
        if (!(ts[k] = pick(f)))
            return;
    unsigned errors = 0;
    for (int k = 1; k < n; k++) {
        if (ts[k]->dtype != ts[0]->dtype)
            errors |= E(LT_ERR_DTYPE);
        if (!lt_shape_equal(lt_shape_of(ts[k]), lt_shape_of(ts[0])))
            errors |= E(LT_ERR_SHAPE);
    }
    int nd = ts[0]->ndim + 1, d = resolve(dim, nd);
    if (nd > LT_MAX_DIMS)
        errors |= E(LT_ERR_SHAPE);
    if (d < 0)
        errors |= E(LT_ERR_INDEX);
    lt_shape want = {0, {0}}, s0 = lt_shape_of(ts[0]);
    if (!errors) {
        want.ndim = nd;
        for (int i = 0, j = 0; i < nd; i++)
            want.d[i] = i == d ? n : s0.d[j++];
        if (!shape_allowed(want))
            errors |= E(LT_ERR_SHAPE);
        else if (too_much_work(want, 1))
            return;
    }
    lt_tensor *r = expect(f, "stack", lt_stack(f->ctx, ts, n, dim), errors, &want);
    if (!r)
        return;
    int64_t idx[LT_MAX_DIMS], src[LT_MAX_DIMS];
    for (int64_t i = 0; i < lt_numel(r); i++) {
        unravel(i, &want, idx);
        for (int a = 0, j = 0; a < nd; a++)
            if (a != d)
                src[j++] = idx[a];
        FUZZ_CHECK(same_elem(r, i, ts[idx[d]], ravel(src, &s0)), "stack: element %lld", (long long)i);
    }
    put(f, r);
}

static void op_roll(fz *f, lt_tensor *t)
{
    int64_t shift = take_i64(f);
    int dim = take_dim(f), d = resolve(dim, t->ndim);
    lt_shape want = lt_shape_of(t);
    lt_tensor *r = expect(f, "roll", lt_roll(f->ctx, t, shift, dim), d < 0 ? E(LT_ERR_INDEX) : 0, &want);
    if (!r)
        return;
    int64_t len = t->shape[d], s = len ? (shift % len + len) % len : 0, idx[LT_MAX_DIMS];
    for (int64_t i = 0; i < lt_numel(r); i++) {
        unravel(i, &want, idx);
        idx[d] = (idx[d] - s + len) % len; /* y[(j + s) mod len] = t[j] */
        FUZZ_CHECK(same_elem(r, i, t, ravel(idx, &want)), "roll: element %lld (shift %lld)", (long long)i,
                   (long long)shift);
    }
    put(f, r);
}

/* ---- softmax and cross-entropy ---------------------------------------------------- */

static void op_softmax(fz *f, lt_tensor *t, bool log_form)
{
    int dim = take_dim(f);
    const char *op = log_form ? "log_softmax" : "softmax";
    unsigned errors = need_f32(t);
    int d = resolve(dim, t->ndim ? t->ndim : 1);
    if (d < 0)
        errors |= E(LT_ERR_INDEX);
    lt_shape want = lt_shape_of(t);
    lt_tensor *r = expect(f, op, log_form ? lt_log_softmax(f->ctx, t, dim) : lt_softmax(f->ctx, t, dim), errors, &want);
    if (!r)
        return;
    if (all_finite(t)) { /* stable for any finite input: probabilities in [0,1] summing to 1, logs <= 0 */
        for (int64_t i = 0; i < lt_numel(r); i++) {
            float v = lt_get_f32(r, i);
            FUZZ_CHECK(log_form ? (v <= 0 && !isnan(v)) : (v >= 0 && v <= 1), "%s: element %lld is %g for finite "
                       "input", op, (long long)i, (double)v);
        }
        int64_t len = t->ndim ? t->shape[d] : 1, inner = 1;
        for (int i = d + 1; i < t->ndim; i++)
            inner *= t->shape[i];
        for (int64_t o = 0; !log_form && len > 0 && o < lt_numel(r) / len; o++) {
            double sum = 0;
            for (int64_t j = 0; j < len; j++)
                sum += lt_get_f32(r, ((o / inner) * len + j) * inner + o % inner);
            FUZZ_CHECK(fabs(sum - 1) < 1e-5, "softmax: slice %lld sums to %.9g", (long long)o, sum);
        }
    }
    put(f, r);
}

static void op_cross_entropy(fz *f, lt_tensor *logits, lt_tensor *targets)
{
    unsigned errors = need_f32(logits) | (targets->dtype == LT_I32 ? 0 : E(LT_ERR_DTYPE));
    if (logits->ndim != 2 || targets->ndim != 1 || logits->shape[0] != targets->shape[0] || logits->shape[0] == 0)
        errors |= E(LT_ERR_SHAPE);
    else if (targets->dtype == LT_I32)
        for (int64_t i = 0; i < targets->shape[0]; i++) {
            int32_t c = lt_get_i32(targets, i);
            if (c < 0 || c >= logits->shape[1])
                errors |= E(LT_ERR_INDEX);
        }
    lt_shape want = {0, {0}};
    lt_tensor *r = expect(f, "cross_entropy", lt_cross_entropy(f->ctx, logits, targets), errors, &want);
    if (!r)
        return;
    float v = lt_get_f32(r, 0);
    /* at finite logits: never NaN, >= 0, and finite while the loss fits in a float (|logits| <= 1e30) */
    bool fits = true;
    for (int64_t i = 0; i < lt_numel(logits); i++)
        fits &= fabsf(lt_get_f32(logits, i)) <= 1e30f;
    if (all_finite(logits))
        FUZZ_CHECK(!isnan(v) && v >= 0 && (isfinite(v) || !fits), "cross_entropy: loss %g for finite logits",
                   (double)v);
    put(f, r);
}

/* ---- attention ------------------------------------------------------------------- */

/* lt_scaled_dot_product_attention: shapes (..., L, E), (..., S, E), (..., S,
 * Ev) -> (..., L, Ev). On small integers (bounded scores) every output is a
 * weighted average of its column of v over the visible keys: within that
 * column's range (0 with no key). */
static void op_attention(fz *f, lt_tensor *q, lt_tensor *k, lt_tensor *v)
{
    unsigned how = take(f);
    bool causal = how & 1;
    float scale = (how >> 1) % 3 == 0 ? NAN : value_of(take(f)); /* NaN: 1/sqrt(E) */
    unsigned errors = need_f32(q) | need_f32(k) | need_f32(v);
    int r = q->ndim;
    lt_shape want = lt_shape_of(q);
    bool ranks = r >= 2 && k->ndim == r && v->ndim == r;
    for (int i = 0; ranks && i < r - 2; i++)
        ranks = q->shape[i] == k->shape[i] && q->shape[i] == v->shape[i];
    if (!ranks || q->shape[r - 1] != k->shape[r - 1] || k->shape[r - 2] != v->shape[r - 2]) {
        errors |= E(LT_ERR_SHAPE);
    } else {
        want.d[r - 1] = v->shape[r - 1];
        if (!shape_allowed(want))
            errors |= E(LT_ERR_SHAPE);
    }
    if (isinf(scale))
        errors |= E(LT_ERR_ARG);
    if (!errors && too_much_work(want, k->shape[r - 2] * (q->shape[r - 1] + 2) + 1))
        return;
    lt_tensor *y = expect(f, "scaled_dot_product_attention", lt_scaled_dot_product_attention(f->ctx, q, k, v,
                          causal, scale), errors, &want);
    if (!y)
        return;
    if (all_small_ints(q) && all_small_ints(k) && all_small_ints(v) && !(fabsf(scale) > 4)) {
        int64_t L = want.d[r - 2], S = k->shape[r - 2], Ev = want.d[r - 1];
        for (int64_t o = 0; L * Ev > 0 && o < lt_numel(y); o++) {
            int64_t slice = o / (L * Ev), i = o / Ev % L, e = o % Ev, keys = causal && i + 1 < S ? i + 1 : S;
            float lo = keys ? INFINITY : 0, hi = keys ? -INFINITY : 0, got = lt_get_f32(y, o);
            for (int64_t j = 0; j < keys; j++) {
                float x = lt_get_f32(v, (slice * S + j) * Ev + e);
                lo = x < lo ? x : lo;
                hi = x > hi ? x : hi;
            }
            FUZZ_CHECK(got >= lo - 1e-4f && got <= hi + 1e-4f, "scaled_dot_product_attention: element %lld is %g, "
                       "outside its values' range [%g, %g]", (long long)o, (double)got, (double)lo, (double)hi);
        }
    }
    put(f, y);
}

/* ---- reductions -------------------------------------------------------------------- */

static void op_reduce(fz *f, lt_tensor *t, unsigned kind)
{
    static const char *const names[] = {"sum", "mean", "sum_dim", "mean_dim", "max_dim"};
    const char *op = names[kind % 5];
    unsigned errors = need_f32(t);
    lt_shape want = {0, {0}};
    int dim = take_dim(f);
    bool keep = take(f) & 1;
    int d = -1;
    if (kind % 5 >= 2) {
        d = resolve(dim, t->ndim ? t->ndim : 1);
        if (d < 0)
            errors |= E(LT_ERR_INDEX);
        else if (kind % 5 == 4 && t->ndim && (t->shape[d] == 0 || t->shape[d] > INT32_MAX))
            errors |= E(LT_ERR_SHAPE); /* nothing to take the max of; or argmax indices beyond i32 */
        for (int i = 0; i < t->ndim; i++)
            if (i != d || keep)
                want.d[want.ndim++] = i == d ? 1 : t->shape[i];
    }
    if (!errors && too_much_work(want, 1)) /* (0, 2^20, 2^20) summed over dim 0 */
        return;
    lt_tensor *idx = NULL, *r;
    switch (kind % 5) {
    case 0: r = lt_sum(f->ctx, t); break;
    case 1: r = lt_mean(f->ctx, t); break;
    case 2: r = lt_sum_dim(f->ctx, t, dim, keep); break;
    case 3: r = lt_mean_dim(f->ctx, t, dim, keep); break;
    default: r = lt_max_dim(f->ctx, t, dim, keep, &idx); break;
    }
    r = expect(f, op, r, errors, &want);
    if (!r)
        return;
    if (kind % 5 == 0 && all_small_ints(t)) {
        float s = 0;
        for (int64_t i = 0; i < lt_numel(t); i++)
            s += lt_get_f32(t, i);
        FUZZ_CHECK(lt_get_f32(r, 0) == s, "sum: %g, want %g", (double)lt_get_f32(r, 0), (double)s);
    }
    if (idx) { /* each index points at its row's maximum */
        FUZZ_CHECK(idx->dtype == LT_I32 && lt_shape_equal(lt_shape_of(idx), want), "max_dim: indices shape");
        int64_t len = t->ndim ? t->shape[d] : 1, inner = 1;
        for (int i = d + 1; i < t->ndim; i++)
            inner *= t->shape[i];
        for (int64_t o = 0; o < lt_numel(r); o++) {
            int64_t at = lt_get_i32(idx, o), outer = o / inner, in = o % inner;
            FUZZ_CHECK(at >= 0 && at < len, "max_dim: index %lld outside 0..%lld", (long long)at, (long long)len);
            float best = lt_get_f32(t, (outer * len + at) * inner + in);
            FUZZ_CHECK(same_bits(lt_get_f32(r, o), best), "max_dim: value is not at its index");
            for (int64_t j = 0; j < len; j++) {
                float v = lt_get_f32(t, (outer * len + j) * inner + in);
                FUZZ_CHECK(isnan(best) || !(v > best || isnan(v) || (v == best && j < at)),
                           "max_dim: %g at %lld beats %g (first maximum, NaN wins)",
                           (double)v, (long long)j, (double)best);
            }
        }
    }
    put(f, r);
}

/* ---- elementwise ------------------------------------------------------------------------ */

static float apply(unsigned kind, float a, float b)
{
    switch (kind % 4) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    default: return a / b;
    }
}

static void op_binary(fz *f, lt_tensor *a, lt_tensor *b, unsigned kind)
{
    static const char *const names[] = {"add", "sub", "mul", "div"};
    const char *op = names[kind % 4];
    unsigned errors = need_f32(a) | need_f32(b);
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    lt_shape want = {n, {0}};
    for (int d = 0; d < n; d++) {
        int ka = d - (n - a->ndim), kb = d - (n - b->ndim);
        int64_t da = ka < 0 ? 1 : a->shape[ka], db = kb < 0 ? 1 : b->shape[kb];
        if (da != db && da != 1 && db != 1)
            errors |= E(LT_ERR_SHAPE);
        want.d[d] = da == 1 ? db : da;
    }
    if (!errors && !shape_allowed(want)) /* (2^40, 1) + (1, 2^40) */
        errors |= E(LT_ERR_SHAPE);
    if (!errors && too_much_work(want, 1))
        return;
    lt_tensor *r;
    switch (kind % 4) {
    case 0: r = lt_add(f->ctx, a, b); break;
    case 1: r = lt_sub(f->ctx, a, b); break;
    case 2: r = lt_mul(f->ctx, a, b); break;
    default: r = lt_div(f->ctx, a, b); break;
    }
    r = expect(f, op, r, errors, &want);
    if (!r)
        return;
    lt_shape sa = lt_shape_of(a), sb = lt_shape_of(b);
    int64_t idx[LT_MAX_DIMS], ia[LT_MAX_DIMS], ib[LT_MAX_DIMS];
    for (int64_t i = 0; i < lt_numel(r); i++) { /* IEEE results: exactly a op b */
        unravel(i, &want, idx);
        for (int d = 0; d < a->ndim; d++)
            ia[d] = a->shape[d] == 1 ? 0 : idx[d + n - a->ndim];
        for (int d = 0; d < b->ndim; d++)
            ib[d] = b->shape[d] == 1 ? 0 : idx[d + n - b->ndim];
        float want_v = apply(kind, lt_get_f32(a, ravel(ia, &sa)), lt_get_f32(b, ravel(ib, &sb)));
        FUZZ_CHECK(same_bits(lt_get_f32(r, i), want_v), "%s: element %lld is %g, want %g", op, (long long)i,
                   (double)lt_get_f32(r, i), (double)want_v);
    }
    put(f, r);
}

static void op_unary(fz *f, lt_tensor *t, unsigned kind)
{
    static const char *const names[] = {"neg", "tanh", "exp", "log", "relu", "pow", "add_scalar", "mul_scalar",
                                        "div_scalar"};
    const char *op = names[kind % 9];
    float s = value_of(take(f));
    lt_tensor *r;
    switch (kind % 9) {
    case 0: r = lt_neg(f->ctx, t); break;
    case 1: r = lt_tanh(f->ctx, t); break;
    case 2: r = lt_exp(f->ctx, t); break;
    case 3: r = lt_log(f->ctx, t); break;
    case 4: r = lt_relu(f->ctx, t); break;
    case 5: r = lt_pow(f->ctx, t, s); break;
    case 6: r = lt_add_scalar(f->ctx, t, s); break;
    case 7: r = lt_mul_scalar(f->ctx, t, s); break;
    default: r = lt_div_scalar(f->ctx, t, s); break;
    }
    lt_shape want = lt_shape_of(t);
    r = expect(f, op, r, need_f32(t), &want);
    if (!r)
        return;
    for (int64_t i = 0; i < lt_numel(r); i++) {
        float x = lt_get_f32(t, i), y = lt_get_f32(r, i);
        switch (kind % 9) {
        case 0: FUZZ_CHECK(same_bits(y, -x), "neg: %g of %g", (double)y, (double)x); break;
        case 1: FUZZ_CHECK(isnan(x) ? isnan(y) : fabsf(y) <= 1, "tanh: %g of %g", (double)y, (double)x); break;
        case 2: FUZZ_CHECK(isnan(x) ? isnan(y) : y >= 0, "exp: %g of %g", (double)y, (double)x); break;
        case 4: FUZZ_CHECK(isnan(x) ? isnan(y) : y == (x > 0 ? x : 0.0f), "relu: %g of %g", (double)y,
                           (double)x); break;
        case 6: FUZZ_CHECK(same_bits(y, x + s), "add_scalar: %g", (double)y); break;
        case 7: FUZZ_CHECK(same_bits(y, x * s), "mul_scalar: %g", (double)y); break;
        case 8: FUZZ_CHECK(same_bits(y, x / s), "div_scalar: %g", (double)y); break;
        default: break;
        }
    }
    put(f, r);
}

/* The newer elementwise ops: exact IEEE results where the header promises
 * them (sqrt, rsqrt as 1/sqrt, abs, s - x, s / x as (1/x) * s, clamp), ranges
 * otherwise (gelu_tanh of a finite x is finite, in [-0.2, max(x, 0)];
 * softplus is >= 0, and x itself above the threshold). */
static void op_math(fz *f, lt_tensor *t, unsigned kind)
{
    static const char *const names[] = {"sqrt", "rsqrt", "abs", "scalar_sub", "scalar_div", "clamp", "gelu_tanh",
                                        "softplus"};
    const char *op = names[kind % 8];
    float s = value_of(take(f)), hi = value_of(take(f));
    unsigned errors = need_f32(t);
    if (kind % 8 == 5 && (isnan(s) || isnan(hi)))
        errors |= E(LT_ERR_ARG);
    lt_tensor *r;
    switch (kind % 8) {
    case 0: r = lt_sqrt(f->ctx, t); break;
    case 1: r = lt_rsqrt(f->ctx, t); break;
    case 2: r = lt_abs(f->ctx, t); break;
    case 3: r = lt_scalar_sub(f->ctx, s, t); break;
    case 4: r = lt_scalar_div(f->ctx, s, t); break;
    case 5: r = lt_clamp(f->ctx, t, s, hi); break;
    case 6: r = lt_gelu_tanh(f->ctx, t); break;
    default: r = lt_softplus(f->ctx, t, 1.0f, 20.0f); break;
    }
    lt_shape want = lt_shape_of(t);
    r = expect(f, op, r, errors, &want);
    if (!r)
        return;
    for (int64_t i = 0; i < lt_numel(r); i++) {
        float x = lt_get_f32(t, i), y = lt_get_f32(r, i);
        bool ok = true;
        switch (kind % 8) {
        case 0: ok = same_bits(y, sqrtf(x)); break;
        case 1: ok = same_bits(y, 1.0f / sqrtf(x)); break;
        case 2: ok = same_bits(y, fabsf(x)); break;
        case 3: ok = same_bits(y, s - x); break;
        case 4: ok = same_bits(y, (1.0f / x) * s); break;
        case 5:
            ok = isnan(x) ? isnan(y)
                 : s > hi ? y == hi
                          : y >= s && y <= hi && y == (x < s ? s : x > hi ? hi : x);
            break;
        case 6: ok = !isfinite(x) || (isfinite(y) && y >= -0.2f && y <= (x > 0 ? x : 0.0f)); break;
        default: ok = isnan(x) ? isnan(y) : y >= 0 && (x <= 20.0f || y == x); break;
        }
        FUZZ_CHECK(ok, "%s: %g of %g (s %g, hi %g)", op, (double)y, (double)x, (double)s, (double)hi);
    }
    put(f, r);
}

/* var, std and logsumexp along a dim: the reduction's shape; var and std
 * are >= 0 or NaN; logsumexp of a finite slice is at least its maximum. */
static void op_stats(fz *f, lt_tensor *t, unsigned kind)
{
    static const char *const names[] = {"var_dim", "std_dim", "logsumexp"};
    const char *op = names[kind % 3];
    int dim = take_dim(f);
    unsigned flags = take(f);
    bool keep = flags & 1, unbiased = flags & 2;
    unsigned errors = need_f32(t);
    lt_shape want = {0, {0}};
    int d = resolve(dim, t->ndim ? t->ndim : 1);
    if (d < 0)
        errors |= E(LT_ERR_INDEX);
    for (int i = 0; i < t->ndim; i++)
        if (i != d || keep)
            want.d[want.ndim++] = i == d ? 1 : t->shape[i];
    if (!errors && too_much_work(want, 1)) /* (0, 2^20, 2^20) reduced over dim 0 */
        return;
    lt_tensor *r = kind % 3 == 0   ? lt_var_dim(f->ctx, t, dim, unbiased, keep)
                   : kind % 3 == 1 ? lt_std_dim(f->ctx, t, dim, unbiased, keep)
                                   : lt_logsumexp(f->ctx, t, dim, keep);
    r = expect(f, op, r, errors, &want);
    if (!r)
        return;
    int64_t len = t->ndim ? t->shape[d] : 1, inner = 1;
    for (int i = d + 1; i < t->ndim; i++)
        inner *= t->shape[i];
    for (int64_t o = 0; o < lt_numel(r); o++) {
        float y = lt_get_f32(r, o), m = -INFINITY;
        bool finite = true;
        for (int64_t j = 0; j < len; j++) {
            float v = lt_get_f32(t, ((o / inner) * len + j) * inner + o % inner);
            finite &= isfinite(v) != 0;
            m = v > m ? v : m;
        }
        if (kind % 3 < 2)
            FUZZ_CHECK(isnan(y) || y >= 0, "%s: %g is negative", op, (double)y);
        else if (finite)
            FUZZ_CHECK(y >= m && !isnan(y), "logsumexp: %g below the slice maximum %g", (double)y, (double)m);
    }
    put(f, r);
}

/* lt_cross_entropy_ignore: logits (..., C) and targets of the logits' shape
 * without the last dim; a target out of range and not the ignore index is
 * LT_ERR_INDEX. NaN exactly when nothing is counted (for finite logits). */
static void op_cross_entropy_ignore(fz *f, lt_tensor *logits, lt_tensor *targets)
{
    int32_t ignore = (int32_t)(take(f) % 5) - 2;
    unsigned errors = need_f32(logits) | (targets->dtype == LT_I32 ? 0 : E(LT_ERR_DTYPE));
    bool fits = logits->ndim >= 1 && targets->ndim == logits->ndim - 1;
    for (int i = 0; fits && i < targets->ndim; i++)
        fits = targets->shape[i] == logits->shape[i];
    int64_t counted = 0;
    if (!fits)
        errors |= E(LT_ERR_SHAPE);
    else if (targets->dtype == LT_I32)
        for (int64_t i = 0; i < lt_numel(targets); i++) {
            int32_t c = lt_get_i32(targets, i);
            if (c == ignore)
                continue;
            counted++;
            if (c < 0 || c >= logits->shape[logits->ndim - 1])
                errors |= E(LT_ERR_INDEX);
        }
    lt_shape want = {0, {0}};
    lt_tensor *r = expect(f, "cross_entropy_ignore", lt_cross_entropy_ignore(f->ctx, logits, targets, ignore), errors,
                          &want);
    if (!r)
        return;
    float v = lt_get_f32(r, 0);
    if (counted == 0)
        FUZZ_CHECK(isnan(v), "cross_entropy_ignore: %g with every target skipped", (double)v);
    else if (all_finite(logits))
        FUZZ_CHECK(!isnan(v) && v >= 0, "cross_entropy_ignore: loss %g for finite logits", (double)v);
    put(f, r);
}

/* ---- autograd and context -------------------------------------------------------------- */

/* Drops every temporary from the pool and releases them. */
static void reset(fz *f)
{
    lt_ctx_reset(f->ctx);
    for (int i = 0; i < POOL; i++)
        if (f->pool[i] && !f->pool[i]->owner)
            f->pool[i] = NULL;
}

static void op_backward(fz *f, lt_tensor *t, bool with_grad)
{
    if (t->dtype != LT_F32)
        return;
    /* backward_grad starts at t itself; backward at sum(t), recorded only in grad mode */
    bool has_graph = t->requires_grad && (with_grad || f->grad_on);
    bool ok;
    if (with_grad) {
        lt_tensor *g = lt_full(f->ctx, lt_shape_of(t), 1.0f);
        FUZZ_CHECK(g != NULL, "full failed: %s", lt_error_message(f->ctx));
        ok = lt_backward_grad(f->ctx, t, g);
    } else {
        lt_tensor *loss = lt_sum(f->ctx, t);
        FUZZ_CHECK(loss != NULL, "sum failed: %s", lt_error_message(f->ctx));
        ok = lt_backward(f->ctx, loss);
    }
    if (has_graph) {
        FUZZ_CHECK(ok, "backward failed: %s", lt_error_message(f->ctx));
        for (int i = 0; i < POOL; i++) { /* every leaf that requires grad has a gradient of its shape */
            lt_tensor *p = f->pool[i];
            if (p && p->owner && p->requires_grad) {
                lt_tensor *g = lt_grad(f->ctx, p);
                FUZZ_CHECK(g && lt_shape_equal(lt_shape_of(g), lt_shape_of(p)), "grad of a leaf: %s",
                           lt_error_message(f->ctx));
                FUZZ_CHECK(lt_sgd_step(f->ctx, p, 0.0f), "sgd_step: %s", lt_error_message(f->ctx));
            }
        }
    } else {
        FUZZ_CHECK(!ok && lt_status_of(f->ctx) == LT_ERR_GRAPH, "backward without a graph: ok=%d status %d '%s'", ok,
                   (int)lt_status_of(f->ctx), lt_error_message(f->ctx));
        lt_clear_error(f->ctx);
    }
    reset(f); /* the tape was walked: start over */
}

static void zero_grads(fz *f)
{
    for (int i = 0; i < POOL; i++)
        if (f->pool[i] && f->pool[i]->owner)
            lt_zero_grad(f->pool[i]);
}

/* ---- the driver ---------------------------------------------------------------------------- */

static void one_call(fz *f)
{
    unsigned op = take(f) % 33;
    lt_tensor *t = pick(f);
    if (op == 0 || !t) {
        op_new(f);
        return;
    }
    switch (op) {
    case 1: op_transpose(f, t); break;
    case 2: op_permute(f, t); break;
    case 3: op_narrow(f, t); break;
    case 4: op_select(f, t); break;
    case 5: op_squeeze(f, t, true); break;
    case 6: op_squeeze(f, t, false); break;
    case 7: op_view(f, t, false); break;
    case 8: op_view(f, t, true); break;
    case 9: {
        unsigned how = take(f) % 4;
        if (how < 2)
            op_contiguous(f, t, how == 1);
        else if (how == 2)
            op_unbind(f, t);
        else
            op_new_copy(f, t);
        break;
    }
    case 10: {
        lt_tensor *x = pick(f);
        if (x)
            op_index(f, t, x);
        break;
    }
    case 11: op_cat(f); break;
    case 12: case 13: {
        lt_tensor *b = pick(f);
        if (b)
            op_matmul(f, t, b);
        break;
    }
    case 14: {
        lt_tensor *w = pick(f), *b = (take(f) & 1) ? pick(f) : NULL;
        if (w)
            op_linear(f, t, w, b);
        break;
    }
    case 15: op_softmax(f, t, take(f) & 1); break;
    case 16: {
        lt_tensor *y = pick(f);
        if (y)
            op_cross_entropy(f, t, y);
        break;
    }
    case 17: case 18: op_reduce(f, t, take(f)); break;
    case 19: case 20: case 21: {
        lt_tensor *b = pick(f);
        if (b)
            op_binary(f, t, b, take(f));
        break;
    }
    case 22: case 23: op_unary(f, t, take(f)); break;
    case 24: op_backward(f, t, take(f) & 1); break;
    case 25: reset(f); break;
    case 26: lt_set_grad_enabled(f->ctx, f->grad_on = !f->grad_on); break;
    case 27: zero_grads(f); break;
    case 28: { /* selection and masking */
        unsigned how = take(f) % 6;
        lt_tensor *x = pick(f), *y = pick(f);
        if (how < 2 && x && y)
            op_where(f, t, x, y, how == 1);
        else if (how < 4)
            op_triangle(f, t, how == 3);
        else if (how == 4 && x)
            op_gather(f, t, x);
        else if (how == 5)
            op_one_hot(f, t);
        break;
    }
    case 29: { /* shape */
        unsigned how = take(f) % 3;
        if (how == 0)
            op_expand(f, t);
        else if (how == 1)
            op_stack(f);
        else
            op_roll(f, t);
        break;
    }
    case 30: op_math(f, t, take(f)); break;
    case 31: {
        unsigned how = take(f) % 4;
        lt_tensor *y = how == 3 ? pick(f) : NULL;
        if (how < 3)
            op_stats(f, t, how);
        else if (y)
            op_cross_entropy_ignore(f, t, y);
        break;
    }
    case 32: {
        lt_tensor *k = pick(f), *v = pick(f);
        if (k && v)
            op_attention(f, t, k, v);
        break;
    }
    default: op_new(f); break;
    }
}

int fuzz_ops(const uint8_t *data, size_t size)
{
    fz f = {data, size, lt_ctx_new(), {NULL}, true};
    if (!f.ctx)
        return 0;
    for (int call = 0; call < MAX_CALLS && f.n > 0; call++) {
        one_call(&f);
        FUZZ_CHECK(lt_status_of(f.ctx) == LT_OK, "an error was left behind: %s", lt_error_message(f.ctx));
    }
    lt_ctx_free(f.ctx);
    return 0;
}

FUZZ_ENTRY(fuzz_ops)
