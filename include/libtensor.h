/*
 * libtensor.h - a small C11 tensor library with tape-based reverse-mode autograd.
 *
 * One header, one prefix: every public name starts with lt_ / LT_.
 *
 * ------------------------------------------------------------------------
 * THE MODEL IN ONE PARAGRAPH
 * ------------------------------------------------------------------------
 * All work happens inside a context (lt_ctx). A context owns two kinds of
 * memory:
 *   - persistent tensors (parameters, data sets): made with lt_new*(), they
 *     live until lt_free() or lt_ctx_free();
 *   - temporaries (every tensor an op returns, views, tape nodes, gradients of
 *     temporaries): carved from the context's arena and all released at once,
 *     in O(1), by lt_ctx_reset(). The arena grows on demand and is reused, so a
 *     training loop that does the same work each step allocates nothing after
 *     its first step, and there is no size to guess.
 * Ops on tensors that require a gradient are recorded on the context's tape in
 * execution order; lt_backward() walks the tape in reverse and accumulates
 * (+=) into every gradient, as PyTorch does.
 *
 * ------------------------------------------------------------------------
 * OWNERSHIP RULES
 * ------------------------------------------------------------------------
 *  1. A tensor returned by lt_new / lt_new_from / lt_new_copy is owned by the
 *     caller (through the context): free it with lt_free(), or let
 *     lt_ctx_free() free it.
 *  2. Every other tensor pointer returned by the library (op results, views,
 *     lt_grad(), lt_zeros() and friends) is a temporary: it stays valid until
 *     the next lt_ctx_reset() or lt_ctx_free(), and must never be freed.
 *  3. A view shares its base's storage (data AND gradient). Writing through a
 *     view is seen by the base; a gradient that reaches a view is a gradient
 *     of the base. Views never copy.
 *  4. A persistent tensor's gradient buffer lives as long as the tensor.
 *     Gradients accumulate across lt_backward() calls until lt_zero_grad().
 *  5. Pointers from lt_data_f32() / lt_data_i32() / lt_grad_f32() point into
 *     the storage and share its lifetime.
 *
 * ------------------------------------------------------------------------
 * ERRORS
 * ------------------------------------------------------------------------
 * The library never aborts or exits. A failing call records a status and a
 * message in the context ("matmul: (32,30) @ (6,100): inner sizes differ")
 * and returns NULL (or a documented failure value). The error is sticky:
 * every later op on that context returns NULL at once, so a training loop may
 * check once, at the loss:
 *
 *     lt_tensor *loss = lt_cross_entropy(ctx, logits, y);
 *     if (!loss) { fprintf(stderr, "%s\n", lt_error_message(ctx)); ... }
 *
 * lt_clear_error() makes the context usable again.
 */
#ifndef LIBTENSOR_H
#define LIBTENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LT_VERSION_MAJOR 0
#define LT_VERSION_MINOR 1
#define LT_VERSION_PATCH 0
#define LT_VERSION_STRING "0.1.0"

/* Largest rank a tensor may have. */
#define LT_MAX_DIMS 6

/* ======================================================================== */
/* Types                                                                    */
/* ======================================================================== */

typedef enum lt_dtype {
    LT_F32 = 0, /* float: data, activations, parameters */
    LT_I32 = 1  /* int32_t: indices and class targets (never differentiable) */
} lt_dtype;

typedef enum lt_status {
    LT_OK = 0,
    LT_ERR_ARG,    /* NULL pointer or invalid argument value */
    LT_ERR_SHAPE,  /* shapes do not fit the operation */
    LT_ERR_INDEX,  /* an index or dimension out of range */
    LT_ERR_DTYPE,  /* wrong element type */
    LT_ERR_MEMORY, /* out of memory */
    LT_ERR_GRAPH,  /* autograd misuse (backward on a non-scalar, no graph) */
    LT_ERR_IO,     /* a file could not be read or written */
    LT_ERR_FORMAT  /* a file's contents are malformed */
} lt_status;

/* A shape: rank and sizes. Build one with LT_SHAPE(27, 10). */
typedef struct lt_shape {
    int ndim;
    int64_t d[LT_MAX_DIMS];
} lt_shape;

/* LT_SHAPE(a, b, ...) -> lt_shape with 1 to 6 sizes (use -1 for "infer" in
 * lt_view/lt_reshape). LT_SHAPE0 is the shape of a scalar (rank 0). */
#define LT__NARG(...) LT__NARG_(__VA_ARGS__, 6, 5, 4, 3, 2, 1, 0)
#define LT__NARG_(a, b, c, d, e, f, n, ...) n
#ifdef __cplusplus /* C++ has no compound literals; braced init is the same */
#define LT_SHAPE(...) (lt_shape{LT__NARG(__VA_ARGS__), {__VA_ARGS__}})
#define LT_SHAPE0 (lt_shape{0, {0}})
#else
#define LT_SHAPE(...) ((lt_shape){LT__NARG(__VA_ARGS__), {__VA_ARGS__}})
#define LT_SHAPE0 ((lt_shape){0, {0}})
#endif

typedef struct lt_ctx lt_ctx;

/* Element memory shared by a tensor and all its views. */
typedef struct lt_storage {
    void *data;       /* numel elements of dtype */
    float *grad;      /* numel floats, or NULL until a gradient is needed */
    int64_t numel;
    lt_dtype dtype;
    bool persistent;  /* heap (lt_new*) or arena (temporary) */
} lt_storage;

/* A strided view onto a storage. Fields are public so that new ops can be
 * written outside the library; treat them as read-only. */
typedef struct lt_tensor {
    lt_storage *storage;
    int64_t offset;                /* first element, in elements */
    int ndim;                      /* 0 for a scalar */
    int64_t shape[LT_MAX_DIMS];
    int64_t stride[LT_MAX_DIMS];   /* in elements, PyTorch's order */
    lt_dtype dtype;
    bool requires_grad;
    /* library bookkeeping for persistent tensors (NULL for temporaries) */
    struct lt_ctx *owner;
    struct lt_tensor *prev_owned, *next_owned;
} lt_tensor;

/* ======================================================================== */
/* Context, errors, grad mode                                               */
/* ======================================================================== */

/* A new context, or NULL when out of memory. */
lt_ctx *lt_ctx_new(void);
/* Frees the context, its arena and every persistent tensor it still owns. */
void lt_ctx_free(lt_ctx *ctx);
/* Releases every temporary and the tape in O(1); keeps arena memory for
 * reuse. Persistent tensors and their gradients are untouched. */
void lt_ctx_reset(lt_ctx *ctx);
/* Bytes of arena memory reserved (for tests and benchmarks). */
size_t lt_ctx_arena_reserved(const lt_ctx *ctx);
/* Number of heap allocations the arena made since the context was created. */
size_t lt_ctx_arena_allocations(const lt_ctx *ctx);

lt_status lt_status_of(const lt_ctx *ctx);  /* LT_OK, or the first error */
const char *lt_error_message(const lt_ctx *ctx); /* "" when no error */
void lt_clear_error(lt_ctx *ctx);
const char *lt_status_name(lt_status s);    /* "shape error", ... */
/* Records an error (if none is recorded yet); always returns NULL so that
 * an op may `return lt_fail(...)`. For use by new ops. */
void *lt_fail(lt_ctx *ctx, lt_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Grad mode: when disabled nothing is recorded on the tape (evaluation).
 * Returns the previous setting so it can be restored. */
bool lt_set_grad_enabled(lt_ctx *ctx, bool enabled);
bool lt_grad_enabled(const lt_ctx *ctx);

/* Threads: how many threads (1..64, default 1) the context's ops may use.
 * Ops large enough to pay for it (matrix products of a few MFLOP and more,
 * tanh/exp and cross-entropy over large tensors: an evaluation over
 * thousands of rows) split their work into contiguous blocks; small ops (a
 * training step's minibatch) stay on the calling thread. Results are
 * bit-identical for every thread count. The n - 1 worker threads are
 * started by the first op that splits and are reused until lt_ctx_free or
 * the next change of n. Returns false with LT_ERR_ARG when n is outside
 * 1..64 (the setting is then unchanged). */
bool lt_set_threads(lt_ctx *ctx, int n);
int lt_get_threads(const lt_ctx *ctx); /* 1 for NULL */

/* ======================================================================== */
/* Creation                                                                 */
/* ======================================================================== */

/* Persistent tensors (rule 1). Zero-filled; from a C array; copy of t.
 * Every shape (here, in lt_empty & co. and in lt_view/lt_reshape) must have
 * sizes >= 0 whose product, zeros counted as 1, is at most 2^40; otherwise
 * LT_ERR_SHAPE. */
lt_tensor *lt_new(lt_ctx *ctx, lt_dtype dtype, lt_shape shape);
lt_tensor *lt_new_from(lt_ctx *ctx, lt_dtype dtype, lt_shape shape, const void *data);
lt_tensor *lt_new_copy(lt_ctx *ctx, const lt_tensor *t);
void lt_free(lt_tensor *t); /* persistent tensors only; NULL is fine */

/* Temporaries (rule 2). lt_empty leaves the data uninitialised. */
lt_tensor *lt_empty(lt_ctx *ctx, lt_dtype dtype, lt_shape shape);
lt_tensor *lt_zeros(lt_ctx *ctx, lt_dtype dtype, lt_shape shape);
lt_tensor *lt_ones(lt_ctx *ctx, lt_shape shape);
lt_tensor *lt_full(lt_ctx *ctx, lt_shape shape, float value);
lt_tensor *lt_from_f32(lt_ctx *ctx, lt_shape shape, const float *data);
lt_tensor *lt_from_i32(lt_ctx *ctx, lt_shape shape, const int32_t *data);
lt_tensor *lt_arange(lt_ctx *ctx, int64_t n); /* I32 0..n-1 */

/* Marks t (a leaf) as requiring a gradient and gives it a zeroed gradient
 * buffer. Returns t, or NULL on error (I32 tensors cannot require grad). */
lt_tensor *lt_requires_grad(lt_ctx *ctx, lt_tensor *t, bool requires);

/* ======================================================================== */
/* Inspection and element access                                            */
/* ======================================================================== */

int64_t lt_numel(const lt_tensor *t);
bool lt_is_contiguous(const lt_tensor *t);
lt_shape lt_shape_of(const lt_tensor *t);
bool lt_shape_equal(lt_shape a, lt_shape b);
/* Writes "(32,3,10)" into buf (always NUL-terminated); returns buf. */
char *lt_shape_str(lt_shape s, char *buf, size_t size);

/* Element i in row-major logical order (honours strides and offset). */
float lt_get_f32(const lt_tensor *t, int64_t i);
int32_t lt_get_i32(const lt_tensor *t, int64_t i);
void lt_set_f32(lt_tensor *t, int64_t i, float v);
void lt_set_i32(lt_tensor *t, int64_t i, int32_t v);
/* Gradient element i in logical order; 0 when there is no gradient. */
float lt_grad_get(const lt_tensor *t, int64_t i);
/* The single value of a one-element F32 tensor; NaN + error otherwise. */
float lt_item(lt_ctx *ctx, const lt_tensor *t);

/* Raw pointers to element (0,...,0) (rule 5). NULL on dtype mismatch. */
float *lt_data_f32(lt_tensor *t);
int32_t *lt_data_i32(lt_tensor *t);
float *lt_grad_f32(lt_tensor *t); /* NULL when t has no gradient buffer */
/* The gradient of t as a temporary F32 tensor sharing the gradient buffer
 * (same shape and strides); NULL with an error when t has none. */
lt_tensor *lt_grad(lt_ctx *ctx, lt_tensor *t);

/* Copies logical elements of t into dst (numel floats / ints). */
void lt_copy_out_f32(const lt_tensor *t, float *dst);
void lt_copy_out_i32(const lt_tensor *t, int32_t *dst);

/* In-place, never recorded on the tape (use outside the graph: init,
 * optimiser updates). Return false with an error on bad input. */
bool lt_fill(lt_ctx *ctx, lt_tensor *t, float value);
bool lt_assign(lt_ctx *ctx, lt_tensor *dst, const lt_tensor *src); /* same shape */
/* p -= lr * grad(p), elementwise (plain SGD on one parameter). */
bool lt_sgd_step(lt_ctx *ctx, lt_tensor *p, float lr);

/* Prints a readable form ("tensor (2,3) f32 [[...]]"), eliding the middle of
 * large dimensions. name may be NULL. */
void lt_print(FILE *f, const lt_tensor *t, const char *name);

/* ======================================================================== */
/* Views (never copy; gradients flow back to the base through shared storage)*/
/* ======================================================================== */

/* Same elements, new shape; one size may be -1. Needs a layout that allows a
 * view (as torch.view); otherwise an error naming the shapes. */
lt_tensor *lt_view(lt_ctx *ctx, lt_tensor *t, lt_shape shape);
/* Like lt_view, but copies (differentiably) when no view is possible. */
lt_tensor *lt_reshape(lt_ctx *ctx, lt_tensor *t, lt_shape shape);
lt_tensor *lt_transpose(lt_ctx *ctx, lt_tensor *t, int dim0, int dim1);
/* dims: a permutation of 0..ndim-1, as in torch.permute. */
lt_tensor *lt_permute(lt_ctx *ctx, lt_tensor *t, const int *dims);
/* Elements start..start+length-1 along dim (t[:, start:start+length]). */
lt_tensor *lt_narrow(lt_ctx *ctx, lt_tensor *t, int dim, int64_t start, int64_t length);
/* Index i along dim, removing the dimension (t[:, i]). */
lt_tensor *lt_select(lt_ctx *ctx, lt_tensor *t, int dim, int64_t index);
/* All selections along dim: writes *count = shape[dim] and returns an
 * arena array of views (torch.unbind). */
lt_tensor **lt_unbind(lt_ctx *ctx, lt_tensor *t, int dim, int *count);
lt_tensor *lt_unsqueeze(lt_ctx *ctx, lt_tensor *t, int dim);
lt_tensor *lt_squeeze(lt_ctx *ctx, lt_tensor *t, int dim);
/* Negative dims count from the end in every dim argument, as in PyTorch. */

/* t itself when already contiguous, else a differentiable contiguous copy. */
lt_tensor *lt_contiguous(lt_ctx *ctx, lt_tensor *t);
/* Always a fresh contiguous differentiable copy. */
lt_tensor *lt_clone(lt_ctx *ctx, lt_tensor *t);

/* ======================================================================== */
/* Ops (every one differentiable in its F32 inputs)                         */
/* ======================================================================== */

/* Elementwise with NumPy/PyTorch broadcasting: shapes align on the right and
 * a missing or size-1 dim stretches ((3,1)+(1,4) -> (3,4)); the gradient of
 * a stretched input is summed over the stretched dims. Inputs may be strided
 * views and may be the same tensor (x*x). Division by 0 follows IEEE. */
lt_tensor *lt_add(lt_ctx *ctx, lt_tensor *a, lt_tensor *b);
lt_tensor *lt_sub(lt_ctx *ctx, lt_tensor *a, lt_tensor *b);
lt_tensor *lt_mul(lt_ctx *ctx, lt_tensor *a, lt_tensor *b);
lt_tensor *lt_div(lt_ctx *ctx, lt_tensor *a, lt_tensor *b);
/* Scalar forms: a + s, a - s, a * s, a / s. */
lt_tensor *lt_add_scalar(lt_ctx *ctx, lt_tensor *a, float s);
lt_tensor *lt_sub_scalar(lt_ctx *ctx, lt_tensor *a, float s);
lt_tensor *lt_mul_scalar(lt_ctx *ctx, lt_tensor *a, float s);
lt_tensor *lt_div_scalar(lt_ctx *ctx, lt_tensor *a, float s);

/* Unary. Edge values as in PyTorch: log(0) = -inf, log(x<0) = NaN, tanh
 * saturates to +-1; lt_pow of a negative base with a non-integer exponent is
 * NaN, 0^p = inf for p < 0, and x^0 = 1 with gradient 0 for every x. */
lt_tensor *lt_neg(lt_ctx *ctx, lt_tensor *a);
lt_tensor *lt_tanh(lt_ctx *ctx, lt_tensor *a);
lt_tensor *lt_exp(lt_ctx *ctx, lt_tensor *a);
lt_tensor *lt_log(lt_ctx *ctx, lt_tensor *a);
lt_tensor *lt_relu(lt_ctx *ctx, lt_tensor *a);
lt_tensor *lt_pow(lt_ctx *ctx, lt_tensor *a, float exponent); /* a^exponent */

/* Reductions. The _dim forms take a dim (negative counts from the end) and
 * keepdim as in PyTorch. lt_sum/lt_mean reduce everything to a scalar. Sums
 * accumulate in double. The mean of nothing is NaN, as in PyTorch. */
lt_tensor *lt_sum(lt_ctx *ctx, lt_tensor *a);
lt_tensor *lt_mean(lt_ctx *ctx, lt_tensor *a);
lt_tensor *lt_sum_dim(lt_ctx *ctx, lt_tensor *a, int dim, bool keepdim);
lt_tensor *lt_mean_dim(lt_ctx *ctx, lt_tensor *a, int dim, bool keepdim);
/* Max along dim: returns the values; *indices (if not NULL) receives an I32
 * tensor of argmax positions (first maximum on ties; NaN counts as the
 * maximum, as in PyTorch). The gradient goes to the argmax only. A dim of
 * size 0, or longer than I32 indices reach (2^31-1), is LT_ERR_SHAPE. */
lt_tensor *lt_max_dim(lt_ctx *ctx, lt_tensor *a, int dim, bool keepdim, lt_tensor **indices);

/* Matrix product.
 *   (n,k) @ (k,m) -> (n,m)
 *   (B,n,k) @ (B,k,m) -> (B,n,m), where either batch size may be 1 (broadcast)
 *   (B,n,k) @ (k,m) -> (B,n,m), and (n,k) @ (B,k,m) -> (B,n,m)
 * Transposed views (e.g. lt_transpose(W)) are used in place, without a copy. */
lt_tensor *lt_matmul(lt_ctx *ctx, lt_tensor *a, lt_tensor *b);

/* The affine layer x @ w + b: x (N,K), w (K,M), b (M,) or NULL -> (N,M). The
 * same result as lt_add(lt_matmul(x, w), b), in one op: the bias is the
 * starting value of the product's accumulation (no second pass over the
 * output) and backward computes dx, dw and db together. w may be a
 * transposed view (a PyTorch-style (out,in) weight as lt_transpose(w)). */
lt_tensor *lt_linear(lt_ctx *ctx, lt_tensor *x, lt_tensor *w, lt_tensor *b);

/* C[X]: rows of c picked by the I32 index tensor x (any shape); the result
 * has shape x.shape + c.shape[1:]. Backward scatter-adds (repeated indices
 * accumulate). As in PyTorch a negative index counts from the end (-1 is the
 * last row); an index outside -rows..rows-1 is LT_ERR_INDEX. */
lt_tensor *lt_index(lt_ctx *ctx, lt_tensor *c, lt_tensor *x);

/* Concatenation of n >= 1 tensors along dim (all other sizes equal; same
 * dtype and rank; scalars cannot be concatenated). I32 is allowed (no grad). */
lt_tensor *lt_cat(lt_ctx *ctx, lt_tensor *const *ts, int n, int dim);

lt_tensor *lt_softmax(lt_ctx *ctx, lt_tensor *a, int dim);
lt_tensor *lt_log_softmax(lt_ctx *ctx, lt_tensor *a, int dim);
/* Mean cross-entropy of logits (N,C) against I32 class targets (N,), fused
 * and stable for any finite logits. Returns a scalar. Targets must be in
 * 0..C-1 (no ignore_index); N must be >= 1.
 * Extremes, as PyTorch: softmax/log_softmax/cross_entropy are exact for
 * logits up to +-FLT_MAX (softmax of [1e30, 1e30, -1e30] is [0.5, 0.5, 0]);
 * the loss is +inf only when it exceeds float (a target logit FLT_MAX below
 * the row maximum), and the gradient stays finite. A -inf logit has
 * probability 0; a row with +inf, all -inf, or a NaN gives NaN throughout. */
lt_tensor *lt_cross_entropy(lt_ctx *ctx, lt_tensor *logits, lt_tensor *targets);

/* ======================================================================== */
/* Autograd                                                                 */
/* ======================================================================== */

/* Back-propagates from a scalar (one-element) tensor that was produced by a
 * recorded op: d(loss)/d(loss) = 1, then every node in reverse order. Returns
 * false with LT_ERR_GRAPH on a non-scalar or a tensor with no graph. The tape
 * is kept until lt_ctx_reset() (backward may not be called twice). */
bool lt_backward(lt_ctx *ctx, lt_tensor *loss);
/* Back-propagates from any output with a given upstream gradient of the same
 * shape (torch's out.backward(grad)). */
bool lt_backward_grad(lt_ctx *ctx, lt_tensor *out, const lt_tensor *grad);
/* Sets t's gradient to zero (no-op when it has none). */
void lt_zero_grad(lt_tensor *t);
/* Number of nodes on the tape (for tests and tools). */
size_t lt_tape_size(const lt_ctx *ctx);

/* ======================================================================== */
/* Extending: writing a new op                                              */
/* ======================================================================== */
/* An op is a forward function that computes its output and, when any input
 * requires a gradient, records a node whose op->backward reads the output's
 * gradient and accumulates (+=) into the inputs' gradients. See
 * docs/design.md ("How to add an op") for a complete example. */

typedef struct lt_node lt_node;
typedef void (*lt_backward_fn)(lt_ctx *ctx, lt_node *node);

typedef struct lt_op {
    const char *name;        /* used in error messages and lt_tape_dump */
    lt_backward_fn backward;
} lt_op;

struct lt_node {
    const lt_op *op;
    lt_tensor *out;
    lt_tensor **in;   /* n_in inputs (arena) */
    int n_in;
    float fparam[4];  /* op-specific constants (e.g. an exponent) */
    int64_t iparam[4];/* op-specific integers (e.g. a dim) */
    void *saved;      /* op-specific arena memory saved by forward */
};

/* True when an op on these inputs must be recorded (grad mode is on and at
 * least one F32 input requires a gradient). */
bool lt_needs_grad(const lt_ctx *ctx, int n_in, lt_tensor *const *in);
/* Appends a node (out becomes requires_grad). NULL + error on out of memory. */
lt_node *lt_record(lt_ctx *ctx, const lt_op *op, lt_tensor *out, int n_in, lt_tensor *const *in);
/* Arena memory (64-byte aligned), released by lt_ctx_reset(). */
void *lt_arena_alloc(lt_ctx *ctx, size_t bytes);
/* Gradient pointer of t at element (0,..,0), allocating a zeroed buffer for
 * its storage on first use. NULL + error on out of memory. */
float *lt_grad_buffer(lt_ctx *ctx, lt_tensor *t);
/* Validates the arguments common to every op: ctx usable (no sticky error)
 * and no NULL tensor among the n given. On failure records
 * "<op>: argument <i> is NULL" and returns false. */
bool lt_check_args(lt_ctx *ctx, const char *op, int n, lt_tensor *const *ts);
/* Resolves a possibly negative dim for rank ndim; -1 + error when out of
 * range ("<op>: dim 3 out of range for a tensor of rank 2"). */
int lt_resolve_dim(lt_ctx *ctx, const char *op, int dim, int ndim);

/* ======================================================================== */
/* Checkpoints: the safetensors format                                      */
/* ======================================================================== */
/* File layout: 8-byte little-endian header length N, N bytes of JSON
 * ({"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 * ..., "__metadata__": {"key": "value", ...}}), then the raw little-endian
 * tensor bytes. Readable by Python's safetensors and PyTorch. */

typedef struct lt_named_tensor {
    const char *name;
    const lt_tensor *tensor; /* F32 or I32, any layout (written dense) */
} lt_named_tensor;

/* Writes n tensors and n_meta string pairs (meta[2i] = key, meta[2i+1] =
 * value) to path atomically: a temporary file in the same directory, fsync,
 * rename. On any failure the old file at path is untouched, the temporary is
 * removed, and false is returned with LT_ERR_IO / LT_ERR_ARG. */
bool lt_safetensors_save(lt_ctx *ctx, const char *path, const lt_named_tensor *tensors, int n,
                         const char *const *meta, int n_meta);

/* A loaded checkpoint, fully validated when lt_safetensors_load returns it. */
typedef struct lt_safetensors lt_safetensors;

/* Reads and validates a whole file (header length within the file, JSON
 * well-formed, known dtypes, shapes and offsets consistent and inside the
 * data, no overlaps). NULL + LT_ERR_IO / LT_ERR_FORMAT with a message naming
 * the file and the problem. Free with lt_safetensors_free. */
lt_safetensors *lt_safetensors_load(lt_ctx *ctx, const char *path);
void lt_safetensors_free(lt_safetensors *st);
int lt_safetensors_count(const lt_safetensors *st);
const char *lt_safetensors_name(const lt_safetensors *st, int i); /* NULL out of range */
/* The dtype ("F32", "I32", or another safetensors name such as "BF16") and
 * shape of tensor i (header order); false when st is NULL or i out of range. */
bool lt_safetensors_info(const lt_safetensors *st, int i, const char **dtype, lt_shape *shape);
/* Metadata value for key, or NULL when absent. */
const char *lt_safetensors_meta(const lt_safetensors *st, const char *key);
/* Copies the named tensor into dst, which must have the same dtype and
 * shape (any layout); false + LT_ERR_FORMAT naming both shapes otherwise. */
bool lt_safetensors_read(lt_ctx *ctx, const lt_safetensors *st, const char *name, lt_tensor *dst);

/* ======================================================================== */
/* Random numbers compatible with PyTorch and Python                        */
/* ======================================================================== */

/* PyTorch's CPU generator: MT19937 as torch.Generator().manual_seed(seed). */
typedef struct lt_rng {
    uint32_t mt[624];
    int index;
    /* cached second sample of the double Box-Muller path (numel < 16) */
    bool has_cached_normal;
    double cached_normal;
} lt_rng;

void lt_rng_seed(lt_rng *g, uint64_t seed);
uint32_t lt_rng_u32(lt_rng *g);
uint64_t lt_rng_u64(lt_rng *g);
/* float uniform in [0,1): (u32 & 0xFFFFFF) * 2^-24, as torch.rand. */
float lt_rng_uniform(lt_rng *g);
/* n standard normal floats exactly as torch.randn(n, generator=g). */
void lt_rng_randn(lt_rng *g, float *out, int64_t n);
/* n integers in [low, high) as torch.randint(low, high, (n,), generator=g). */
void lt_rng_randint(lt_rng *g, int64_t low, int64_t high, int32_t *out, int64_t n);
/* One draw from the categorical distribution probs[0..n-1] (need not be
 * normalised) as torch.multinomial(probs, 1, generator=g). -1 on bad input. */
int64_t lt_rng_multinomial(lt_rng *g, const float *probs, int64_t n);
/* Fills a persistent or temporary F32 tensor (contiguous) with randn. */
bool lt_randn_fill(lt_ctx *ctx, lt_rng *g, lt_tensor *t);

/* Python's random module (CPython 3): MT19937 seeded as random.seed(int). */
typedef struct lt_pyrandom {
    uint32_t mt[624];
    int index;
} lt_pyrandom;

void lt_pyrandom_seed(lt_pyrandom *r, uint64_t seed);
uint32_t lt_pyrandom_u32(lt_pyrandom *r);
/* random.getrandbits(k) for 0 < k <= 32. */
uint32_t lt_pyrandom_getrandbits(lt_pyrandom *r, int k);
/* random._randbelow(n) for 0 < n <= 2^32. */
uint64_t lt_pyrandom_randbelow(lt_pyrandom *r, uint64_t n);
/* random.shuffle(x) on n elements of elem_size bytes each. */
void lt_pyrandom_shuffle(lt_pyrandom *r, void *base, size_t n, size_t elem_size);

#ifdef __cplusplus
}
#endif

#endif /* LIBTENSOR_H */
