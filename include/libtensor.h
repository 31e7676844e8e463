/**
 * @file libtensor.h
 * @brief libtensor - a small C11 tensor library with tape-based reverse-mode autograd.
 *
 * One header, one prefix: every public name starts with lt_ / LT_. This
 * header is the manual; it reads top to bottom in this order:
 *
 *   1. Types                  tensors, shapes, dtypes, statuses
 *   2. Context and errors     the context, the sticky error, grad mode, threads
 *   3. Creation and access    persistent and temporary tensors, elements
 *   4. Views                  new headers over the same storage
 *   5. Ops                    elementwise, reductions, products, lookups,
 *                             softmax and cross-entropy, normalisation, dropout,
 *                             selection, masking and shape (where, gather, ...),
 *                             attention
 *   6. Autograd               backward, and reading gradients
 *   7. Extending              writing a new op outside the library
 *   8. Training               random numbers, optimisers, clipping, schedules
 *   9. Input and output       checkpoints in the safetensors format
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
 *     the next lt_ctx_reset() or lt_ctx_free(), and must never be freed. It
 *     belongs to the context that made it: another context refuses it, and
 *     so does its own after the reset ("add: argument 1 is a temporary from
 *     before lt_ctx_reset", LT_ERR_ARG). A persistent tensor may be used by
 *     any context (e.g. one for training, one for evaluation).
 *  3. A view shares its base's storage (data AND gradient). Writing through a
 *     view is seen by the base; a gradient that reaches a view is a gradient
 *     of the base. Views never copy.
 *  4. A persistent tensor's gradient buffer lives as long as the tensor.
 *     Gradients accumulate across lt_backward() calls until lt_zero_grad().
 *  5. Pointers from lt_data_f32() / lt_data_i32() / lt_grad_f32() point into
 *     the storage and share its lifetime.
 *  6. Writing a tensor in place between an op's forward and lt_backward()
 *     is refused by lt_backward() when the op's backward reads that tensor
 *     (LT_ERR_GRAPH naming the op and the tensor), never a wrong gradient;
 *     see "Saved tensors" under 7. Extending.
 *
 * What the checks of rules 2 and 6 cannot see, and stays undefined: a
 * temporary used by a function that takes no context (lt_get_f32,
 * lt_set_f32, lt_data_f32, lt_print, ...); a temporary kept over more than
 * one reset, or over one when the steps before and after it allocate
 * differently (a new temporary may then sit at its address, and the old
 * pointer reads it); any tensor after lt_free() or after its context's
 * lt_ctx_free() (freed memory: not even the check may read it); writes
 * through lt_data_f32()/lt_data_i32() not declared with lt_bump_version().
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
 *
 * Unless its documentation says otherwise, a function that returns a tensor
 * returns NULL on error, with the status and message recorded in ctx; the
 * per-function notes below list the errors particular to each.
 */
#ifndef LT_LIBTENSOR_H
#define LT_LIBTENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "libtensor_version.h" /* LT_VERSION_MAJOR/MINOR/PATCH/STRING/NUMBER */

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================== */
/* 1. Types                                                                 */
/* ======================================================================== */

/** The version the library binary was built as, "MAJOR.MINOR.PATCH"; equals
 *  LT_VERSION_STRING when header and library match. Static storage: never
 *  free it. Never fails. */
const char *lt_version(void);
/** The library binary's LT_VERSION_NUMBER (MAJOR * 10000 + MINOR * 100 + PATCH). */
int lt_version_number(void);

/** Largest rank a tensor may have. */
#define LT_MAX_DIMS 6

/** Element type of a tensor. */
typedef enum lt_dtype {
    LT_F32 = 0, /**< float: data, activations, parameters */
    LT_I32 = 1  /**< int32_t: indices and class targets (never differentiable) */
} lt_dtype;

/** What went wrong: the first error recorded in a context (lt_status_of). */
typedef enum lt_status {
    LT_OK = 0,     /**< no error */
    LT_ERR_ARG,    /**< NULL pointer or invalid argument value */
    LT_ERR_SHAPE,  /**< shapes do not fit the operation */
    LT_ERR_INDEX,  /**< an index or dimension out of range */
    LT_ERR_DTYPE,  /**< wrong element type */
    LT_ERR_MEMORY, /**< out of memory */
    LT_ERR_GRAPH,  /**< autograd misuse (backward on a non-scalar, no graph) */
    LT_ERR_IO,     /**< a file could not be read or written */
    LT_ERR_FORMAT  /**< a file's contents are malformed */
} lt_status;

/** A shape: rank and sizes. Build one with LT_SHAPE(27, 10). */
typedef struct lt_shape {
    int ndim;               /**< rank, 0..LT_MAX_DIMS (0: a scalar) */
    int64_t d[LT_MAX_DIMS]; /**< sizes d[0..ndim-1], outermost first */
} lt_shape;

/* LT__NARG counts LT_SHAPE's arguments (1 to 6). */
#define LT__NARG(...) LT__NARG_(__VA_ARGS__, 6, 5, 4, 3, 2, 1, 0)
#define LT__NARG_(a, b, c, d, e, f, n, ...) n
#ifdef __cplusplus /* C++ has no compound literals; braced init is the same */
#define LT_SHAPE(...) (lt_shape{LT__NARG(__VA_ARGS__), {__VA_ARGS__}})
#define LT_SHAPE0 (lt_shape{0, {0}})
#else
/** LT_SHAPE(a, b, ...): an lt_shape value with 1 to 6 sizes, e.g.
 *  LT_SHAPE(32, 3, 10); use -1 for "infer" in lt_view / lt_reshape. Works in
 *  C (compound literal) and C++ (braced initialisation). */
#define LT_SHAPE(...) ((lt_shape){LT__NARG(__VA_ARGS__), {__VA_ARGS__}})
/** The shape of a scalar (rank 0, one element). */
#define LT_SHAPE0 ((lt_shape){0, {0}})
#endif

/** A context: arena, tape, error state, persistent-tensor list, thread pool.
 *  Opaque; one context must not be used by two threads at once (separate
 *  contexts are independent). */
typedef struct lt_ctx lt_ctx;

/** Element memory shared by a tensor and all its views. */
typedef struct lt_storage {
    void *data;      /**< numel elements of dtype */
    float *grad;     /**< numel floats, or NULL until a gradient is needed */
    int64_t numel;   /**< number of elements */
    lt_dtype dtype;  /**< element type */
    bool persistent; /**< heap (lt_new*) or arena (temporary) */
    bool grad_zero;  /**< grad's values are stale and stand for zeros (lt_zero_grad of a whole persistent
                          tensor clears lazily): the first backward to reach it writes it instead of adding,
                          and lt_grad_f32, lt_grad and lt_grad_buffer clear it first; read grad through them */
    uint64_t version; /**< in-place writes to data so far (lt_data_version; checked by lt_backward) */
} lt_storage;

/** A strided view onto a storage. Fields are public so that new ops can be
 *  written outside the library; treat them as read-only. */
typedef struct lt_tensor {
    lt_storage *storage;          /**< the elements (shared with views) */
    int64_t offset;               /**< first element, in elements */
    int ndim;                     /**< 0 for a scalar */
    int64_t shape[LT_MAX_DIMS];   /**< sizes, outermost first */
    int64_t stride[LT_MAX_DIMS];  /**< in elements, PyTorch's order */
    lt_dtype dtype;               /**< element type (same as the storage's) */
    bool requires_grad;           /**< recorded ops on it go on the tape */
    struct lt_ctx *owner;         /**< owning context of a persistent tensor, NULL for temporaries */
    struct lt_tensor *prev_owned; /**< previous in the owner's list of persistent tensors */
    struct lt_tensor *next_owned; /**< next in the owner's list of persistent tensors */
    uint64_t generation;          /**< where the header may be used: a marker for a persistent tensor (any
                                       context), else its context's generation when it was made (lt_ctx_reset
                                       starts a new one) */
} lt_tensor;

/** PyTorch's random generator, a plain value (its fields and functions are
 *  under "8. Training"); lt_dropout takes one. */
typedef struct lt_rng lt_rng;

/* ======================================================================== */
/* 2. Context and errors                                                    */
/* ======================================================================== */

/** A new context (grad mode on, 1 thread, no error), or NULL when out of
 *  memory. Free it with lt_ctx_free(). */
lt_ctx *lt_ctx_new(void);
/** Frees the context, its arena and every persistent tensor it still owns;
 *  stops its worker threads. Every pointer obtained from it becomes invalid.
 *  NULL is fine. */
void lt_ctx_free(lt_ctx *ctx);
/** Releases every temporary and the tape in O(1); keeps arena memory for
 *  reuse. Persistent tensors and their gradients are untouched, and so is a
 *  recorded error. Call it once per training step. Starts a new generation:
 *  a temporary made before it is refused by every op (LT_ERR_ARG "...is a
 *  temporary from before lt_ctx_reset"; rule 2 says when that cannot be
 *  seen). */
void lt_ctx_reset(lt_ctx *ctx);
/** Bytes of arena memory reserved (for tests and benchmarks). */
size_t lt_ctx_arena_reserved(const lt_ctx *ctx);
/** Number of heap allocations the arena made since the context was created
 *  (constant over a steady-state training loop). */
size_t lt_ctx_arena_allocations(const lt_ctx *ctx);

/** LT_OK, or the status of the first error recorded in ctx (LT_ERR_ARG for
 *  NULL). */
lt_status lt_status_of(const lt_ctx *ctx);
/** The first error's message ("matmul: (32,30) @ (6,100): inner sizes
 *  differ"), "" when there is none. Owned by ctx; valid until the next
 *  lt_clear_error() or lt_ctx_free(). */
const char *lt_error_message(const lt_ctx *ctx);
/** Forgets the recorded error so the context can be used again. */
void lt_clear_error(lt_ctx *ctx);
/** A short English name of a status ("shape error", ...); static storage. */
const char *lt_status_name(lt_status s);
/** Records an error (if none is recorded yet) with a printf-style message,
 *  which by convention starts with the op's name and names the values
 *  ("matmul: (2,3) @ (4,5): inner sizes differ"). Always returns NULL so
 *  that an op may `return lt_fail(...)`. For use by new ops. */
void *lt_fail(lt_ctx *ctx, lt_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/** Grad mode: when disabled nothing is recorded on the tape (evaluation,
 *  sampling). Returns the previous setting so it can be restored. */
bool lt_set_grad_enabled(lt_ctx *ctx, bool enabled);
/** True when ops on tensors that require a gradient are being recorded. */
bool lt_grad_enabled(const lt_ctx *ctx);

/** How many threads (1..64, default 1) the context's ops may use. Ops large
 * enough to pay for it (matrix products of a few MFLOP and more, tanh/exp
 * and cross-entropy over large tensors: an evaluation over thousands of
 * rows) split their work into contiguous blocks; small ops (a training
 * step's minibatch) stay on the calling thread. Results are bit-identical
 * for every thread count. The n - 1 worker threads are started by the first
 * op that splits and are reused until lt_ctx_free or the next change of n.
 * Returns false with LT_ERR_ARG when n is outside 1..64 (the setting is then
 * unchanged). */
bool lt_set_threads(lt_ctx *ctx, int n);
/** The context's thread count (lt_set_threads); 1 for NULL. */
int lt_get_threads(const lt_ctx *ctx);

/* ======================================================================== */
/* 3. Creation and access                                                   */
/* ======================================================================== */

/** A persistent (rule 1), zero-filled, contiguous tensor of any rank
 *  0..LT_MAX_DIMS. Every shape (here, in lt_empty & co. and in
 *  lt_view/lt_reshape) must have sizes >= 0 whose product, zeros counted
 *  as 1, is at most 2^40. Errors: LT_ERR_SHAPE (negative size, rank out
 *  of range, too many elements), LT_ERR_DTYPE, LT_ERR_MEMORY. */
lt_tensor *lt_new(lt_ctx *ctx, lt_dtype dtype, lt_shape shape);
/** A persistent tensor holding a copy of numel elements of dtype read from
 *  the C array data (row-major). LT_ERR_ARG when data is NULL; else as lt_new. */
lt_tensor *lt_new_from(lt_ctx *ctx, lt_dtype dtype, lt_shape shape, const void *data);
/** A persistent, contiguous copy of t's elements (any layout; no gradient,
 *  not requiring grad). */
lt_tensor *lt_new_copy(lt_ctx *ctx, const lt_tensor *t);
/** Frees a persistent tensor and its gradient buffer. Temporaries and NULL
 *  are ignored (temporaries belong to the arena). Views of t become invalid. */
void lt_free(lt_tensor *t);

/** A temporary (rule 2) contiguous tensor whose data is uninitialised. */
lt_tensor *lt_empty(lt_ctx *ctx, lt_dtype dtype, lt_shape shape);
/** A temporary tensor of zeros. */
lt_tensor *lt_zeros(lt_ctx *ctx, lt_dtype dtype, lt_shape shape);
/** A temporary F32 tensor of ones. */
lt_tensor *lt_ones(lt_ctx *ctx, lt_shape shape);
/** A temporary F32 tensor with every element equal to value. */
lt_tensor *lt_full(lt_ctx *ctx, lt_shape shape, float value);
/** A temporary F32 tensor copied from numel floats at data (row-major);
 *  LT_ERR_ARG when data is NULL. */
lt_tensor *lt_from_f32(lt_ctx *ctx, lt_shape shape, const float *data);
/** A temporary I32 tensor copied from numel ints at data (row-major);
 *  LT_ERR_ARG when data is NULL. */
lt_tensor *lt_from_i32(lt_ctx *ctx, lt_shape shape, const int32_t *data);
/** A temporary I32 tensor (n,) holding 0..n-1; LT_ERR_ARG unless
 *  0 <= n <= INT32_MAX. */
lt_tensor *lt_arange(lt_ctx *ctx, int64_t n);

/** Marks t (a leaf) as requiring a gradient and gives it a zeroed gradient
 *  buffer (kept until the tensor is freed, rule 4); requires = false only
 *  clears the flag. Returns t, or NULL on error (LT_ERR_DTYPE: I32 tensors
 *  cannot require grad; LT_ERR_MEMORY). */
lt_tensor *lt_requires_grad(lt_ctx *ctx, lt_tensor *t, bool requires);

/** Number of elements (1 for a scalar, 0 for NULL). */
int64_t lt_numel(const lt_tensor *t);
/** True when t's strides are the row-major ones for its shape (size-1
 *  dimensions may have any stride). */
bool lt_is_contiguous(const lt_tensor *t);
/** t's shape as a value (rank 0 for NULL). */
lt_shape lt_shape_of(const lt_tensor *t);
/** True when a and b have the same rank and sizes; false when a rank is
 *  outside 0..LT_MAX_DIMS. */
bool lt_shape_equal(lt_shape a, lt_shape b);
/** Writes "(32,3,10)" into buf (always NUL-terminated, truncated to size);
 *  returns buf. A rank outside 0..LT_MAX_DIMS is written as "(invalid
 *  shape: rank 9)", its sizes unread. */
char *lt_shape_str(lt_shape s, char *buf, size_t size);

/** Element i (0..numel-1) of an F32 tensor, in row-major logical order
 *  (honours strides and offset). NaN when i is out of range or t is not F32. */
float lt_get_f32(const lt_tensor *t, int64_t i);
/** Element i of an I32 tensor in logical order; 0 when out of range or not I32. */
int32_t lt_get_i32(const lt_tensor *t, int64_t i);
/** Sets element i of an F32 tensor (logical order, through views); ignored
 *  when out of range or not F32. Not recorded on the tape; an in-place
 *  write (rule 6: the storage's version goes up). */
void lt_set_f32(lt_tensor *t, int64_t i, float v);
/** Sets element i of an I32 tensor; ignored when out of range or not I32.
 *  An in-place write (rule 6). */
void lt_set_i32(lt_tensor *t, int64_t i, int32_t v);
/** The single value of a one-element F32 tensor; NaN + LT_ERR_SHAPE otherwise. */
float lt_item(lt_ctx *ctx, const lt_tensor *t);

/** Pointer to element (0,...,0) of an F32 tensor's data (rule 5: valid as
 *  long as the storage). Index it with t's strides unless lt_is_contiguous.
 *  NULL for NULL or an I32 tensor. Writes through it are not seen by
 *  autograd's check: after writing into a tensor that a recorded op may
 *  have saved (before lt_backward), call lt_bump_version(t). */
float *lt_data_f32(lt_tensor *t);
/** Pointer to element (0,...,0) of an I32 tensor's data; NULL for NULL or
 *  F32. Writes through it are not tracked either (lt_bump_version). */
int32_t *lt_data_i32(lt_tensor *t);
/** Declares an in-place write to t's storage that the library did not make
 *  (through lt_data_f32/i32): its version goes up, so lt_backward refuses a
 *  recorded op that saved it ("Saved tensors" under 7. Extending). Every
 *  in-place function of the library does this itself. NULL is ignored. */
void lt_bump_version(lt_tensor *t);
/** How many in-place writes t's storage has had (shared by all its views,
 *  as PyTorch's t._version); 0 for NULL. */
uint64_t lt_data_version(const lt_tensor *t);
/** Copies t's numel elements, in logical order, into dst (numel floats);
 *  does nothing when t is NULL or not F32. */
void lt_copy_out_f32(const lt_tensor *t, float *dst);
/** Copies t's numel elements into dst (numel ints); nothing unless I32. */
void lt_copy_out_i32(const lt_tensor *t, int32_t *dst);

/** Sets every element of the F32 tensor t (through views) to value. In
 *  place (rule 6), never recorded (for initialisation). False with
 *  LT_ERR_DTYPE / LT_ERR_ARG. */
bool lt_fill(lt_ctx *ctx, lt_tensor *t, float value);
/** Copies src's elements into dst (same shape and dtype; any layouts). In
 *  place (rule 6), never recorded. When src and dst are views of one
 *  storage whose elements may overlap (x[1:] = x[:-1], y = y.T) the result
 *  is as if src were read whole before dst is written (NumPy's rule; PyTorch
 *  refuses): src goes through a dense copy in the arena. False with
 *  LT_ERR_SHAPE naming both when they differ, LT_ERR_ARG when dst repeats a
 *  memory location (a stride 0 along a dim of size > 1, as an expanded view:
 *  which source element would be kept is undefined). */
bool lt_assign(lt_ctx *ctx, lt_tensor *dst, const lt_tensor *src);

/** Prints a readable form ("tensor (2,3) f32 [[...]]") to f, eliding the
 *  middle of large dimensions. name may be NULL. */
void lt_print(FILE *f, const lt_tensor *t, const char *name);

/* ======================================================================== */
/* 4. Views                                                                 */
/* ======================================================================== */
/* Every view is a temporary header over t's storage (rules 2 and 3): it
 * never copies, and gradients flow back to the base through the shared
 * storage. Every dim argument (here and in the ops) may be negative,
 * counting from the end, as in PyTorch; an out-of-range dim is LT_ERR_INDEX
 * naming the dim and the rank. */

/** Same elements, new shape; one size may be -1 (inferred). Needs a layout
 *  that allows a view (as torch.view); otherwise LT_ERR_SHAPE naming the
 *  shapes (use lt_reshape). */
lt_tensor *lt_view(lt_ctx *ctx, lt_tensor *t, lt_shape shape);
/** Like lt_view, but copies (differentiably) when no view is possible. */
lt_tensor *lt_reshape(lt_ctx *ctx, lt_tensor *t, lt_shape shape);
/** t with dimensions dim0 and dim1 swapped (a view: strides swap). */
lt_tensor *lt_transpose(lt_ctx *ctx, lt_tensor *t, int dim0, int dim1);
/** t with its dimensions reordered: result dim i is t's dim dims[i]. dims:
 *  a permutation of 0..ndim-1, as in torch.permute; LT_ERR_ARG otherwise. */
lt_tensor *lt_permute(lt_ctx *ctx, lt_tensor *t, const int *dims);
/** Elements start..start+length-1 along dim (t[:, start:start+length]);
 *  LT_ERR_INDEX when the range leaves the dimension. */
lt_tensor *lt_narrow(lt_ctx *ctx, lt_tensor *t, int dim, int64_t start, int64_t length);
/** Index i along dim, removing the dimension (t[:, i]); LT_ERR_INDEX when
 *  out of range. */
lt_tensor *lt_select(lt_ctx *ctx, lt_tensor *t, int dim, int64_t index);
/** All selections along dim (torch.unbind): writes *count = shape[dim] and
 *  returns an arena array of *count views (temporary, like the views). */
lt_tensor **lt_unbind(lt_ctx *ctx, lt_tensor *t, int dim, int *count);
/** t with a size-1 dimension inserted at dim (0..ndim); LT_ERR_SHAPE when t
 *  already has LT_MAX_DIMS dimensions. */
lt_tensor *lt_unsqueeze(lt_ctx *ctx, lt_tensor *t, int dim);
/** t without dimension dim, which must have size 1 (LT_ERR_SHAPE otherwise). */
lt_tensor *lt_squeeze(lt_ctx *ctx, lt_tensor *t, int dim);
/** makemore part 5's FlattenConsecutive: (B,T,C) -> (B,T/n,C*n), n
 * consecutive steps side by side. A view (no copy) whenever lt_view can
 * make one, which includes every contiguous input; otherwise a recorded copy.
 * LT_ERR_SHAPE when x is not rank 3 or T is not divisible by n. The result
 * keeps a middle dim of 1 when T == n (lt_squeeze(.., 1) drops it). */
lt_tensor *lt_flatten_consecutive(lt_ctx *ctx, lt_tensor *x, int n);

/** t itself when already contiguous, else a differentiable contiguous copy. */
lt_tensor *lt_contiguous(lt_ctx *ctx, lt_tensor *t);
/** Always a fresh contiguous differentiable copy (a temporary). */
lt_tensor *lt_clone(lt_ctx *ctx, lt_tensor *t);

/* ======================================================================== */
/* 5. Ops                                                                   */
/* ======================================================================== */
/* Every op returns a new temporary (rule 2) and, when grad mode is on and an
 * F32 input requires a gradient, records itself on the tape; every one is
 * differentiable in its F32 inputs. Inputs may be strided views. Edge
 * values follow IEEE arithmetic and PyTorch. */

/** a + b, elementwise with NumPy/PyTorch broadcasting: shapes align on the
 *  right and a missing or size-1 dim stretches ((3,1)+(1,4) -> (3,4)); the
 *  gradient of a stretched input is summed over the stretched dims. a and b
 *  may be the same tensor (x * x). Both F32; LT_ERR_SHAPE naming both
 *  shapes when they do not broadcast. lt_sub, lt_mul and lt_div work the
 *  same way. */
lt_tensor *lt_add(lt_ctx *ctx, lt_tensor *a, lt_tensor *b);
/** a - b, elementwise with broadcasting (as lt_add). */
lt_tensor *lt_sub(lt_ctx *ctx, lt_tensor *a, lt_tensor *b);
/** a * b, elementwise with broadcasting (as lt_add). */
lt_tensor *lt_mul(lt_ctx *ctx, lt_tensor *a, lt_tensor *b);
/** a / b, elementwise with broadcasting (as lt_add); division by 0 gives
 *  inf or NaN. */
lt_tensor *lt_div(lt_ctx *ctx, lt_tensor *a, lt_tensor *b);
/** x + s for every element (same shape as x). */
lt_tensor *lt_add_scalar(lt_ctx *ctx, lt_tensor *x, float s);
/** x - s for every element. */
lt_tensor *lt_sub_scalar(lt_ctx *ctx, lt_tensor *x, float s);
/** x * s for every element. */
lt_tensor *lt_mul_scalar(lt_ctx *ctx, lt_tensor *x, float s);
/** x / s for every element (a true division, not a product with 1/s). */
lt_tensor *lt_div_scalar(lt_ctx *ctx, lt_tensor *x, float s);

/** -x, elementwise (same shape). */
lt_tensor *lt_neg(lt_ctx *ctx, lt_tensor *x);
/** tanh(x), elementwise; saturates to +-1 (within 1.2 ulp of the correctly
 *  rounded value). */
lt_tensor *lt_tanh(lt_ctx *ctx, lt_tensor *x);
/** exp(x), elementwise (inf above about 88.72). */
lt_tensor *lt_exp(lt_ctx *ctx, lt_tensor *x);
/** Natural log of x, elementwise: log(0) = -inf, log(x < 0) = NaN. */
lt_tensor *lt_log(lt_ctx *ctx, lt_tensor *x);
/** max(x, 0), elementwise (gradient 0 at 0, as PyTorch; NaN passes). */
lt_tensor *lt_relu(lt_ctx *ctx, lt_tensor *x);
/** x^exponent, elementwise: a negative base with a non-integer exponent is
 *  NaN, 0^p = inf for p < 0, and x^0 = 1 with gradient 0 for every x. */
lt_tensor *lt_pow(lt_ctx *ctx, lt_tensor *x, float exponent);
/** 1 / (1 + exp(-x)), elementwise; never overflows. */
lt_tensor *lt_sigmoid(lt_ctx *ctx, lt_tensor *x);
/** GELU: x * Phi(x), elementwise, the exact (erf) form (torch's default). */
lt_tensor *lt_gelu(lt_ctx *ctx, lt_tensor *x);

/** The sum of all elements of x as a scalar (rank 0). Every sum in the
 *  library accumulates in double. */
lt_tensor *lt_sum(lt_ctx *ctx, lt_tensor *x);
/** The mean of all elements as a scalar; NaN for an empty tensor, as in
 *  PyTorch. */
lt_tensor *lt_mean(lt_ctx *ctx, lt_tensor *x);
/** Sum along dim; keepdim keeps it as size 1 (as PyTorch). (N,C) with dim 1
 *  -> (N,) or (N,1). */
lt_tensor *lt_sum_dim(lt_ctx *ctx, lt_tensor *x, int dim, bool keepdim);
/** Mean along dim (as lt_sum_dim); NaN over an empty dimension. */
lt_tensor *lt_mean_dim(lt_ctx *ctx, lt_tensor *x, int dim, bool keepdim);
/** Max along dim: returns the values; *indices (if not NULL) receives an I32
 *  tensor (same shape as the values) of argmax positions (first maximum on
 *  ties; NaN counts as the maximum, as in PyTorch). The gradient goes to the
 *  argmax only. A dim of size 0, or longer than I32 indices reach
 *  (2^31-1), is LT_ERR_SHAPE. */
lt_tensor *lt_max_dim(lt_ctx *ctx, lt_tensor *x, int dim, bool keepdim, lt_tensor **indices);

/** Matrix product of any ranks 1..LT_MAX_DIMS, exactly as torch.matmul:
 *   (k,) @ (k,) -> ()                       dot product
 *   (n,k) @ (k,m) -> (n,m)
 *   (...,n,k) @ (k,) -> (...,n)             b as a column (k,1), removed after
 *   (k,) @ (...,k,m) -> (...,m)             a as a row (1,k), removed after
 *   (...A,n,k) @ (...B,k,m) -> (...C,n,m)   batch dims A and B broadcast to C
 * e.g. (2,1,4,5) @ (3,5,6) -> (2,3,4,6), and (B,nh,T,hs) @ (B,nh,hs,T) ->
 * (B,nh,T,T) for attention scores. Operands whose last two dims have a unit
 * stride in either direction (plain tensors, lt_transpose(t, -2, -1) of one,
 * narrowed ones, broadcast batches) are read in place, without a copy; the
 * gradient of a broadcast batch dim is summed. LT_ERR_SHAPE naming both
 * shapes when the inner sizes differ, the batch dims do not broadcast, or
 * an operand is a scalar; LT_ERR_DTYPE unless both are F32. */
lt_tensor *lt_matmul(lt_ctx *ctx, lt_tensor *a, lt_tensor *b);
/** The affine layer x @ w + b: x (N,K), w (K,M), b (M,) or NULL -> (N,M). The
 * same result as lt_add(lt_matmul(x, w), b), in one op: the bias is the
 * starting value of the product's accumulation (no second pass over the
 * output) and backward computes dx, dw and db together. w may be a
 * transposed view (a PyTorch-style (out,in) weight as lt_transpose(w)).
 * x may have any rank >= 1, as torch's F.linear: x (..., K) -> (..., M)
 * (rank 1: (K,) -> (M,)), computed as x seen as (N,K), N the product of the
 * leading sizes: read in place when those collapse into one stride (every
 * contiguous x, a narrowed last dim), else through a recorded copy.
 * LT_ERR_SHAPE naming the shapes when they do not fit. */
lt_tensor *lt_linear(lt_ctx *ctx, lt_tensor *x, lt_tensor *w, lt_tensor *b);

/** C[X]: rows of c picked by the I32 index tensor x (any shape); the result
 * has shape x.shape + c.shape[1:] (e.g. C (27,10) indexed by X (32,3) gives
 * (32,3,10)). Backward scatter-adds (repeated indices accumulate). As in
 * PyTorch a negative index counts from the end (-1 is the last row); an
 * index outside -rows..rows-1 is LT_ERR_INDEX; F32 indices are LT_ERR_DTYPE. */
lt_tensor *lt_index(lt_ctx *ctx, lt_tensor *c, lt_tensor *x);
/** Concatenation of n >= 1 tensors ts[0..n-1] along dim (all other sizes
 * equal; same dtype and rank; scalars cannot be concatenated: LT_ERR_SHAPE /
 * LT_ERR_DTYPE naming the offending tensor). I32 is allowed (no grad). */
lt_tensor *lt_cat(lt_ctx *ctx, lt_tensor *const *ts, int n, int dim);

/** softmax(x) along dim (exp(x - max) / sum), same shape as x. */
lt_tensor *lt_softmax(lt_ctx *ctx, lt_tensor *x, int dim);
/** log(softmax(x)) along dim, computed stably (x - max - log sum exp). */
lt_tensor *lt_log_softmax(lt_ctx *ctx, lt_tensor *x, int dim);
/** Mean cross-entropy of logits (N,C) against I32 class targets (N,), fused
 * and stable (F.cross_entropy). Returns a scalar. Targets must be in 0..C-1
 * (LT_ERR_INDEX otherwise; lt_cross_entropy_ignore below skips an ignore
 * index and takes logits of any rank); N must be >= 1; other shapes are
 * LT_ERR_SHAPE.
 * Extremes, as PyTorch: softmax/log_softmax/cross_entropy are exact for
 * logits up to +-FLT_MAX (softmax of [1e30, 1e30, -1e30] is [0.5, 0.5, 0]);
 * the loss is +inf only when it exceeds float (a target logit FLT_MAX below
 * the row maximum), and the gradient stays finite. A -inf logit has
 * probability 0; a row with +inf, all -inf, or a NaN gives NaN throughout. */
lt_tensor *lt_cross_entropy(lt_ctx *ctx, lt_tensor *logits, lt_tensor *targets);

/** Batch normalisation over everything but the last dim: x (N,C) or (N,T,C)
 * (any rank >= 2; the features are the last dim, as makemore part 5's
 * BatchNorm1d, not torch's (N,C,L) convention). gain, bias: (C,) or NULL
 * (1 and 0). running_mean, running_var: persistent (C,) tensors or NULL.
 * training: normalise with the batch mean and biased variance, and (when
 * given) update running = (1-momentum)*running + momentum*batch, with the
 * unbiased variance for running_var, as torch.nn.BatchNorm1d (momentum 0.1,
 * eps 1e-5 there); needs more than one row. Evaluation (training false):
 * normalise with the running statistics (both required). Differentiable in
 * x, gain and bias; the running statistics are updated in place (rule 6:
 * their version goes up), never recorded. batchnorm's own node keeps copies
 * of the statistics it used, so the updates never make it refuse a
 * backward; an op that saved a running statistic as its input does. */
lt_tensor *lt_batchnorm(lt_ctx *ctx, lt_tensor *x, lt_tensor *gain, lt_tensor *bias, lt_tensor *running_mean,
                        lt_tensor *running_var, bool training, float momentum, float eps);
/** Layer normalisation over the last dim (torch.nn.functional.layer_norm with
 * normalized_shape (C,)): biased variance, gain/bias (C,) or NULL. */
lt_tensor *lt_layernorm(lt_ctx *ctx, lt_tensor *x, lt_tensor *gain, lt_tensor *bias, float eps);
/** Inverted dropout with probability p in [0, 1]: in training each element
 * is kept with probability 1 - p (exact to 2^-16) and scaled by 1/(1-p), or
 * zeroed. Deterministic given g: each call takes one lt_rng_u64 draw as the
 * key of a counter-based hash (splitmix64) that gives 16 bits per element,
 * row-major (see lib/ops/dropout.c). When training is false or p is 0 it
 * returns x itself (no copy, no node; g may then be NULL). */
lt_tensor *lt_dropout(lt_ctx *ctx, lt_tensor *x, float p, bool training, lt_rng *g);
/** The activations lt_layernorm_act_dropout applies to the normalised rows. */
typedef enum lt_act { LT_ACT_NONE, LT_ACT_RELU } lt_act;
/** lt_dropout(act(lt_layernorm(x, gain, bias, eps)), p, training, g) as one
 * op, for a hidden layer's norm -> activation -> dropout: the same values,
 * gradients and use of g as those calls (the same bits, the same kernels in
 * the same order; one lt_rng_u64 draw when training with p > 0), with one
 * pass over memory forward and one backward instead of three each, and no
 * intermediate tensors: the backward recomputes the activation's input
 * from x and the mask from its key. act: LT_ACT_NONE or LT_ACT_RELU (other
 * values: LT_ERR_ARG). Errors are named "layernorm_act_dropout". */
lt_tensor *lt_layernorm_act_dropout(lt_ctx *ctx, lt_tensor *x, lt_tensor *gain, lt_tensor *bias, float eps,
                                    lt_act act, float p, bool training, lt_rng *g);

/* ---- selection, masking and shape: where, masked_fill, tril/triu, gather,
 * one_hot, stack, expand, roll ------------------------------------------------
 * The library has no bool dtype: a condition or mask is an I32 or F32 tensor
 * whose nonzero elements (NaN included) mean true. It never receives a
 * gradient. A causal mask needs no host loop: lt_triu(lt_ones(T,T), 1) is 1
 * above the diagonal, where scores are filled with -INFINITY. */

/** torch.where(cond, a, b): a where cond is nonzero, else b, elementwise,
 * with cond, a and b broadcast together (as lt_add). a and b: both F32
 * (differentiable: a's gradient is dy where cond is true, b's where it is
 * false, each summed over its broadcast dims) or both I32. cond: I32 or F32.
 * LT_ERR_DTYPE / LT_ERR_SHAPE naming the shapes otherwise. */
lt_tensor *lt_where(lt_ctx *ctx, lt_tensor *cond, lt_tensor *a, lt_tensor *b);
/** t.masked_fill(mask, value): value where mask is nonzero, else t; t and
 * mask broadcast together (the result has their broadcast shape, as
 * torch's out-of-place form). value may be -INFINITY (attention masks) or
 * NaN. t F32; mask I32 or F32 (nonzero = true; torch needs bool). The
 * gradient of t is dy where mask is zero, 0 at filled positions. */
lt_tensor *lt_masked_fill(lt_ctx *ctx, lt_tensor *t, lt_tensor *mask, float value);
/** torch.tril(t, diagonal): the lower triangle of the last two dims of t
 * (rank >= 2; every other dim is a batch), the rest zero: element (i,j) is
 * kept when j - i <= diagonal (0: the main diagonal, 1: one above, -1: one
 * below). F32 (differentiable: the gradient is masked the same way) or I32.
 * LT_ERR_SHAPE for rank < 2. */
lt_tensor *lt_tril(lt_ctx *ctx, lt_tensor *t, int64_t diagonal);
/** torch.triu(t, diagonal): the upper triangle, element (i,j) kept when
 * j - i >= diagonal; otherwise as lt_tril. */
lt_tensor *lt_triu(lt_ctx *ctx, lt_tensor *t, int64_t diagonal);
/** torch.gather(t, dim, index) (= torch.take_along_dim without its
 * broadcasting): out[i][j][k] = t[index[i][j][k]][j][k] for dim 0, and so on;
 * the result has index's shape. index: I32 of t's rank, with index.shape[d]
 * <= t.shape[d] for every d != dim, values in 0..t.shape[dim]-1 (negative
 * values are refused, as torch.gather does). t: F32 (the backward
 * scatter-adds: a position picked twice receives both gradients) or I32.
 * Picking target probabilities: lt_gather(probs (N,C), 1, targets as (N,1)).
 * LT_ERR_INDEX naming the first bad value; LT_ERR_SHAPE / LT_ERR_DTYPE. */
lt_tensor *lt_gather(lt_ctx *ctx, lt_tensor *t, int dim, lt_tensor *index);
/** F.one_hot(index, num_classes) as F32 (torch gives int64): index I32 of
 * any shape, result index.shape + (num_classes,), 1 at each index. num_classes
 * -1 infers max(index) + 1 (an empty index then is LT_ERR_ARG, as torch).
 * LT_ERR_INDEX for a negative value or one >= num_classes. No gradient. */
lt_tensor *lt_one_hot(lt_ctx *ctx, lt_tensor *index, int64_t num_classes);
/** torch.stack(ts, dim): n >= 1 tensors of one shape and dtype joined along
 * a new dim inserted at dim (0..rank; negative counts from the end of the
 * result). F32 (differentiable) or I32. LT_ERR_SHAPE / LT_ERR_DTYPE naming
 * the first tensor that differs from ts[0]. */
lt_tensor *lt_stack(lt_ctx *ctx, lt_tensor *const *ts, int n, int dim);
/** t.expand(shape): a view (no copy) with every size-1 dim stretched to the
 * given size by a stride of 0, and new leading dims (e.g. (3,1) to (2,3,4));
 * -1 keeps a dim's size (not allowed in a new leading dim). Its gradient is
 * summed back: every op adds the gradient of each position into the one
 * element it reads. lt_assign refuses an expanded destination (as torch
 * refuses in-place writes to one); lt_fill sets the shared elements.
 * LT_ERR_SHAPE naming both shapes when a dim is neither 1 nor the target
 * size. */
lt_tensor *lt_expand(lt_ctx *ctx, lt_tensor *t, lt_shape shape);
/** torch.roll(t, shift, dim): elements shifted by shift positions along dim,
 * those leaving at one end entering at the other (y[(i + shift) mod n] =
 * t[i]); shift may be negative or larger than the dim. F32 (differentiable)
 * or I32 (makemore's context window: lt_roll(idx, 1, 1), then column 0 set).
 * One dim (torch also takes several, or none for the flattened tensor). */
lt_tensor *lt_roll(lt_ctx *ctx, lt_tensor *t, int64_t shift, int dim);

/* ---- more math: roots, abs, clamp, scalar-on-the-left, softplus, the tanh
 * GELU, variance, log-sum-exp, cross-entropy with an ignore index ---------- */

/** s - x for every element (PyTorch's `s - x`, torch.rsub(x, s)); the name
 *  reads as the expression: lt_scalar_sub(ctx, 1.0f, p) is 1 - p. */
lt_tensor *lt_scalar_sub(lt_ctx *ctx, float s, lt_tensor *x);
/** s / x for every element, computed as PyTorch's `s / x` does:
 *  (1 / x) * s, two roundings, so values equal PyTorch's to the bit (and
 *  lt_mul_scalar(lt_pow(x, -1), s)); x = 0 gives +-inf, or NaN when s is
 *  0. Gradient -(dy * s) / x^2, written as PyTorch writes it. */
lt_tensor *lt_scalar_div(lt_ctx *ctx, float s, lt_tensor *x);
/** Square root, elementwise: sqrt(-0) = -0, sqrt(x < 0) = NaN; the gradient
 *  dy / (2 y) is +-inf at +-0. */
lt_tensor *lt_sqrt(lt_ctx *ctx, lt_tensor *x);
/** 1 / sqrt(x), elementwise (torch.rsqrt, a true division as PyTorch):
 *  +-inf at +-0, NaN below 0. */
lt_tensor *lt_rsqrt(lt_ctx *ctx, lt_tensor *x);
/** |x|, elementwise; the gradient is dy * sgn(x), 0 at 0 (and at NaN), as
 *  PyTorch. */
lt_tensor *lt_abs(lt_ctx *ctx, lt_tensor *x);
/** torch.clamp(x, min, max): min(max(x, min), max), elementwise. For one
 *  bound only pass -INFINITY as min or INFINITY as max (exactly
 *  torch.clamp(x, max=...) / (x, min=...), gradient included). The
 *  gradient passes where min <= x <= max, bounds included, and is 0
 *  elsewhere and at NaN (which stays NaN). min > max sets every element to
 *  max (gradient 0), as PyTorch. A NaN bound is LT_ERR_ARG (PyTorch 1.13
 *  ignores it or returns NaN depending on the call). */
lt_tensor *lt_clamp(lt_ctx *ctx, lt_tensor *x, float min, float max);
/** F.softplus(x, beta, threshold): log(1 + exp(beta x)) / beta, or x where
 *  beta x > threshold (PyTorch's defaults: beta 1, threshold 20); gradient
 *  sigmoid(beta x), 1 above the threshold. Unlike PyTorch it never
 *  overflows: with a threshold above 88 / beta, beta x > 88 also gives x
 *  and gradient 1 (PyTorch: inf and NaN past 88.7). LT_ERR_ARG when beta
 *  is 0 or not finite, or threshold is NaN. */
lt_tensor *lt_softplus(lt_ctx *ctx, lt_tensor *x, float beta, float threshold);
/** GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))),
 *  elementwise, as F.gelu(x, approximate="tanh") (GPT-2's and makemore's
 *  NewGELU); lt_gelu is the exact form. A separate function rather than a
 *  mode argument: PyTorch has exactly these two forms. Large tensors are
 *  split across threads (results do not depend on the thread count). */
lt_tensor *lt_gelu_tanh(lt_ctx *ctx, lt_tensor *x);

/** Variance along dim, as torch.var(x, dim, unbiased, keepdim): the mean
 *  squared deviation from the mean, divided by N - 1 when unbiased (Bessel's
 *  correction), else by N (two passes, in double). As PyTorch, N <= 1 with
 *  unbiased, or an empty dim, gives NaN (value and gradient). */
lt_tensor *lt_var_dim(lt_ctx *ctx, lt_tensor *x, int dim, bool unbiased, bool keepdim);
/** Standard deviation along dim, sqrt(lt_var_dim), as torch.std(x, dim,
 *  unbiased, keepdim); the gradient is 0 where the result is 0 (a constant
 *  slice), as PyTorch. */
lt_tensor *lt_std_dim(lt_ctx *ctx, lt_tensor *x, int dim, bool unbiased, bool keepdim);
/** log(sum(exp(x))) along dim, as torch.logsumexp(x, dim, keepdim), stable
 *  (the slice's maximum is subtracted first, sums in double). As PyTorch: a
 *  slice of -inf gives -inf, a +inf gives +inf, a NaN gives NaN, an empty
 *  dim gives -inf. The gradient is the softmax, dy * exp(x - y), NaN where
 *  x - y is inf - inf as in PyTorch; unlike PyTorch it stays the softmax
 *  when y has lost log(sum) to rounding (logsumexp of [1e30, 1e30]: PyTorch's
 *  gradient is [1, 1], here [0.5, 0.5]). */
lt_tensor *lt_logsumexp(lt_ctx *ctx, lt_tensor *x, int dim, bool keepdim);
/** Mean cross-entropy of logits (..., C), any rank >= 1 with the classes
 * LAST, against I32 targets of the logits' shape without that dim (...),
 * skipping every target equal to ignore_index: a skipped position adds
 * nothing, is left out of the mean's count and gets a zero gradient. Equal
 * to F.cross_entropy(logits.view(-1, C), targets.view(-1),
 * ignore_index=ignore_index) (makemore's (B,T,V) logits, ignore_index -1);
 * note that F.cross_entropy itself takes rank > 2 logits as (N, C, d1, ...).
 * As PyTorch, when every target is skipped (or there are none) the loss is
 * NaN (0/0) and the gradient 0. A skipped position's logits are never used:
 * its gradient is 0 even where they hold NaN or inf (PyTorch gives NaN
 * there). Any other target outside 0..C-1 is
 * LT_ERR_INDEX naming its position and value ("cross_entropy_ignore: target
 * 5 at (1,2) out of range for 4 classes (ignore_index -1)"); a targets shape
 * that does not fit is LT_ERR_SHAPE. The same fused, stable kernel and
 * extreme-value behaviour as lt_cross_entropy. */
lt_tensor *lt_cross_entropy_ignore(lt_ctx *ctx, lt_tensor *logits, lt_tensor *targets, int32_t ignore_index);

/* ---- attention (issue 13) ------------------------------------------------------ */

/** Scaled dot-product attention in one op, forward and backward:
 * y = softmax(scale * q @ k^T + mask, dim -1) @ v, for q (..., L, E), k
 * (..., S, E), v (..., S, Ev) -> y (..., L, Ev); in a transformer q, k and
 * v are (B, nh, T, hs). PyTorch 2's F.scaled_dot_product_attention(q, k, v,
 * is_causal=causal, scale=scale) without attn_mask and dropout, equal to
 * the composed ops within float rounding.
 *  - causal: query i sees keys 0..i only (torch.tril(ones(L, S)), top-left
 *    aligned when L != S).
 *  - scale: any finite value (0 and negative ones included, as PyTorch);
 *    NAN (math.h) means PyTorch's default 1/sqrt(E); +-inf is LT_ERR_ARG.
 *  - The batch dims (all but the last two) must be equal in q, k and v (no
 *    broadcasting); q's and k's last sizes must agree, and k's and v's
 *    number of keys S. Rank 2 to 6. LT_ERR_SHAPE naming the three shapes
 *    otherwise, LT_ERR_DTYPE for I32.
 *  - Views are read in place when their last dim is unit-stride (the
 *    (B,nh,T,hs) transpose of a view of a c_attn output costs no copy), and
 *    so are batch dims expanded by a stride of 0 (their gradient is summed,
 *    on one thread); other layouts (a transposed last dim, repeated rows)
 *    are copied, recorded, so the gradient still reaches them.
 *  - y is laid out as q (as torch.empty_like): its batch dims and L are
 *    stored in the order of q's strides, Ev innermost. A contiguous q gives
 *    a contiguous y; for the (B,nh,T,hs) transpose of a (B,T,nh,hs) view, y
 *    is the same transpose of a dense (B,T,nh,hs) tensor, so
 *    lt_contiguous(lt_transpose(y, 1, 2)) (the heads side by side) is free.
 *  - Memory kept for backward (nothing when nothing is recorded): the
 *    (..., L, S) probabilities when S <= 2 (E + Ev), i.e. when they are no
 *    larger than q, k, v and y together (makemore's T 16 with head size 16,
 *    T 256 with 64); for longer sequences two floats per query, from which
 *    backward recomputes them (flash-attention style), so memory stays
 *    linear in S. Threads (lt_set_threads) split the batch; results are
 *    bit-identical for every thread count.
 *  - S = 0 gives zeros (an empty sum), as the composed ops do. */
lt_tensor *lt_scaled_dot_product_attention(lt_ctx *ctx, lt_tensor *q, lt_tensor *k, lt_tensor *v, bool causal,
                                           float scale);

/* ======================================================================== */
/* 6. Autograd                                                              */
/* ======================================================================== */

/** Back-propagates from a scalar (one-element) tensor that was produced by a
 * recorded op: d(loss)/d(loss) = 1, then every node in reverse order,
 * accumulating (+=) into the gradients of every tensor that requires one.
 * Returns false with LT_ERR_GRAPH on a non-scalar or a tensor with no graph,
 * and before running a node whose saved tensor was written in place since
 * it was recorded ("backward: tanh's output (32,200) was modified in place
 * after it was recorded (version 3, saved at 2)"; the nodes after it in the
 * walk have then not run, and the gradients are partial: zero them before
 * the next try). The tape is kept until lt_ctx_reset() (backward may not be
 * called twice). */
bool lt_backward(lt_ctx *ctx, lt_tensor *loss);
/** Back-propagates from any output with a given upstream gradient of the same
 * shape (torch's out.backward(grad)); LT_ERR_SHAPE when the shapes differ,
 * otherwise as lt_backward. */
bool lt_backward_grad(lt_ctx *ctx, lt_tensor *out, const lt_tensor *grad);
/** Sets t's gradient to zero (no-op when it has none or t is NULL). For a
 *  whole persistent tensor the buffer is only marked (lt_storage.grad_zero):
 *  the next backward writes it instead of clearing then adding, and every
 *  reader (lt_grad_f32, lt_grad, lt_grad_get) sees zeros until then. */
void lt_zero_grad(lt_tensor *t);
/** Number of nodes on the tape (for tests and tools). */
size_t lt_tape_size(const lt_ctx *ctx);

/* ---- profiling: where a training step's time goes, op by op -------------
 *
 *     lt_profile_start(ctx);
 *     for (...) { forward; lt_backward; lt_optim_step; lt_ctx_reset; }
 *     lt_profile_stop(ctx);
 *     lt_profile_print(ctx, stdout);   // or lt_profile_rows for the numbers
 *
 * prints one row per op, the most expensive first:
 *
 *     op                               calls   forward ms  backward ms     total ms   share
 *     linear                            2176      147.093      289.266      436.359   64.8%
 *     gelu_tanh                          512       40.520       32.762       73.282   10.9%
 *     ...
 *     (outside ops)                                                          19.138    2.8%
 *     (profiled time)                                                       673.860
 *
 * (makemore's transformer, 128 steps on 1 thread: bench_makemore --profile).
 * An op's forward time runs from its entry to its record on the tape, so
 * only recorded calls are timed (an evaluation with grad mode off is not);
 * its backward time is its gradient rule's call. "(outside ops)" is the
 * rest of the profiled time: the optimiser, data loading, the caller's own
 * code. Work an op hands to the context's threads counts once, as the
 * calling thread's wait. Timing costs two clock reads per op; a context
 * never started costs nothing. Ops of one name share a row; the first 127
 * names get a row each, and any others share a row "(other ops)". */

/** What an op cost over a profile (lt_profile_rows). */
typedef struct lt_profile_row {
    const char *op;          /**< the op's name: lt_op.name itself (not a copy), so a user op's name must
                                  stay valid while the profile is read */
    uint64_t calls;          /**< forward calls recorded on the tape */
    uint64_t backward_calls; /**< backward calls (a node whose output got no gradient is skipped) */
    double forward_s;        /**< seconds in those forward calls */
    double backward_s;       /**< seconds in those backward calls */
} lt_profile_row;

/** Starts timing ctx's ops, clearing any earlier profile. The profile's
 *  memory (about 10 KiB) is allocated by the first start and freed by
 *  lt_ctx_free; nothing is allocated while profiling. false for a NULL ctx,
 *  or with LT_ERR_MEMORY. */
bool lt_profile_start(lt_ctx *ctx);
/** Stops timing; the profile stays readable until the next start. */
void lt_profile_stop(lt_ctx *ctx);
/** Seconds from lt_profile_start to lt_profile_stop (or to now while
 *  running); 0 when no profile was started. */
double lt_profile_seconds(const lt_ctx *ctx);
/** Copies up to max rows into rows (NULL with max 0 to count), the most
 *  expensive first (forward + backward seconds; ties by name). Returns the
 *  number of rows the profile has, which may exceed max; 0 when none was
 *  started. */
int lt_profile_rows(const lt_ctx *ctx, lt_profile_row *rows, int max);
/** Prints the profile as the table above; false when no profile was
 *  started, f is NULL or writing failed. */
bool lt_profile_print(const lt_ctx *ctx, FILE *f);

/* Reading a gradient after backward: lt_grad (a tensor, for ops and
 * printing), lt_grad_f32 (a pointer, for loops over a parameter) or
 * lt_grad_get (one element). Inside an op's backward, see "7. Extending":
 * lt_grad_f32(node->out) reads the output's gradient and lt_grad_buffer
 * gives an input's. */

/** The gradient of t as a temporary F32 tensor sharing the gradient buffer
 *  (same shape and strides); NULL with LT_ERR_GRAPH when t has none. */
lt_tensor *lt_grad(lt_ctx *ctx, lt_tensor *t);
/** Pointer to the gradient of element (0,...,0) (same strides as the data);
 *  NULL when t has no gradient buffer. */
float *lt_grad_f32(lt_tensor *t);
/** Gradient element i in logical order; 0 when there is no gradient. */
float lt_grad_get(const lt_tensor *t, int64_t i);

/* ======================================================================== */
/* 7. Extending: writing a new op                                           */
/* ======================================================================== */
/* An op is a forward function that computes its output and, when any input
 * requires a gradient, records a node whose op->backward reads the output's
 * gradient and accumulates (+=) into the inputs' gradients. It validates
 * with lt_check_args and reports errors with lt_fail. docs/extending.md
 * walks through one (tests/test_autograd.c defines `cube` this way). */

/** A node of the tape: one recorded op application (see struct lt_node). */
typedef struct lt_node lt_node;
/** An op's backward function: reads lt_grad_f32(node->out) and accumulates
 *  (+=) into the gradients of node->in[i] (lt_grad_buffer). May allocate
 *  from the arena; reports errors with lt_fail. */
typedef void (*lt_backward_fn)(lt_ctx *ctx, lt_node *node);

/* Saved tensors. A backward that reads a tensor's data (y = tanh(x) reads
 * y; x * w reads x and w) needs it unchanged since the forward. Every
 * in-place write bumps the storage's version (lt_data_version): lt_fill,
 * lt_assign, lt_set_f32/i32, lt_sgd_step, lt_optim_step, the running
 * statistics of lt_batchnorm, the random fills and initialisers,
 * lt_safetensors_read, and lt_bump_version after a write through
 * lt_data_f32/i32. lt_record keeps the version of each tensor the op's
 * `saves` names, and lt_backward fails (LT_ERR_GRAPH) before running a node
 * whose saved tensor changed: "backward: tanh's output (32,200) was
 * modified in place after it was recorded (version 3, saved at 2)". The
 * version belongs to the storage, as PyTorch's: a write through any view
 * counts, even to elements the op did not read. */

/** lt_op.saves: backward reads input i's data (i < 28). */
#define LT_SAVES_IN(i) (1u << (i))
/** lt_op.saves: backward reads the output's data. */
#define LT_SAVES_OUT (1u << 28)
/** lt_op.saves: inputs 0 and 1 of a product, each read only for the other's
 *  gradient (d(ab)/da = b): input 0 is checked only when input 1 requires a
 *  gradient, and vice versa. */
#define LT_SAVES_CROSS (1u << 29)
/** lt_op.saves: backward reads no tensor's data (only gradients, shapes and
 *  the node's own fparam/iparam/saved memory). */
#define LT_SAVES_NONE (1u << 30)
/** lt_op.saves when an op does not say (0, what an initializer without it
 *  gives): every input and the output, the safe choice when unsure (it may
 *  refuse a write to a tensor that the backward does not read). Inputs
 *  from 28 on are checked only under this setting. */
#define LT_SAVES_ALL 0u

/** An op's identity: a static constant shared by all its nodes. */
typedef struct lt_op {
    const char *name;        /**< used in error messages */
    lt_backward_fn backward; /**< the gradient rule */
    unsigned saves;          /**< which tensors backward reads: LT_SAVES_IN(i) | LT_SAVES_OUT ..., LT_SAVES_NONE,
                                  or LT_SAVES_ALL (0, the default) */
} lt_op;

/** The version recorded for a tensor the node does not check. */
#define LT_VERSION_UNCHECKED UINT64_MAX

/** One recorded op application on the tape (arena memory). */
struct lt_node {
    const lt_op *op;    /**< which op */
    lt_tensor *out;     /**< its output */
    lt_tensor **in;     /**< n_in inputs (arena) */
    int n_in;           /**< number of inputs */
    float fparam[4];    /**< op-specific constants (e.g. an exponent) */
    int64_t iparam[4];  /**< op-specific integers (e.g. a dim) */
    void *saved;        /**< op-specific arena memory saved by forward */
    uint64_t *versions; /**< n_in + 1 storage versions when recorded (inputs, then the output), or
                             LT_VERSION_UNCHECKED where op->saves does not name the tensor */
};

/** True when an op on these inputs must be recorded (grad mode is on and at
 * least one F32 input requires a gradient). */
bool lt_needs_grad(const lt_ctx *ctx, int n_in, lt_tensor *const *in);
/** Appends a node for op with output out and inputs in[0..n_in-1] (out
 *  becomes requires_grad), keeping the version of each tensor op->saves
 *  names (record after computing out: a later write to out counts as a
 *  modification). The node lives in the arena; fill its fparam, iparam and
 *  saved fields. NULL + error on out of memory, and LT_ERR_ARG for an input
 *  that ctx may not use (rule 2). */
lt_node *lt_record(lt_ctx *ctx, const lt_op *op, lt_tensor *out, int n_in, lt_tensor *const *in);
/** bytes of arena memory (64-byte aligned), released by lt_ctx_reset();
 *  NULL + LT_ERR_MEMORY when out of memory. */
void *lt_arena_alloc(lt_ctx *ctx, size_t bytes);
/** Gradient pointer of t at element (0,..,0), allocating a zeroed buffer for
 * its storage on first use: what a backward accumulates an input's gradient
 * into. NULL + error on out of memory. */
float *lt_grad_buffer(lt_ctx *ctx, lt_tensor *t);
/** Validates the arguments common to every op: ctx usable (no sticky error)
 * and no NULL tensor among the n given, each one that ctx may use (rule 2).
 * On failure records "<op>: argument <i> is NULL" (or "... is a temporary
 * from before lt_ctx_reset", "... belongs to another context") and returns
 * false. */
bool lt_check_args(lt_ctx *ctx, const char *op, int n, lt_tensor *const *ts);
/** Resolves a possibly negative dim for rank ndim; -1 + error when out of
 * range ("<op>: dim 3 out of range for a tensor of rank 2"). */
int lt_resolve_dim(lt_ctx *ctx, const char *op, int dim, int ndim);

/* ======================================================================== */
/* 8. Training: random numbers, optimisers, clipping, schedules             */
/* ======================================================================== */

/* ---- random numbers, bit-compatible with PyTorch and Python -------------- */

/* What matches PyTorch, and how exactly (docs/pytorch.md, section "Random
 * numbers, initialisation and sampling", has the details and how each fact
 * was established). The reference is PyTorch 1.13 on x86-64 running its
 * AVX2 kernels (its default CPU capability there); tests/test_rng.c,
 * test_rng_init.c and test_topk.c compare with values it produced.
 *  - Bit for bit, every value: lt_rng_u32/u64/uniform, lt_rng_randint,
 *    lt_rng_randperm / lt_randperm, lt_rng_randn / lt_randn_fill /
 *    lt_rng_normal_fill (every size: the vectorised path for n >= 16 is
 *    reproduced with its own log/sincos and fused multiply-adds),
 *    lt_rng_uniform_fill, lt_init_linear, lt_init_embedding, and the draws
 *    of lt_rng_multinomial / lt_multinomial; lt_topk's values and indices,
 *    ties included.
 *  - Draw for draw: every function consumes the generator exactly as the
 *    PyTorch call named in its documentation, so calls may be mixed and
 *    interleaved in any order and stay in step with the same calls in
 *    PyTorch (torch.manual_seed(s) seeds the global generator exactly as
 *    lt_rng_seed(g, s) seeds g).
 *  - The n < 16 normal path calls the C library's log, sin and cos in
 *    double, as PyTorch does; another libm than glibc could change a last
 *    bit there (never seen: the result is rounded to float).
 * Other PyTorch builds draw the same words, but one that runs other CPU
 * kernels (AVX-512 capability, ARM, x86 without AVX2) may round some floats
 * differently: normal_ for n >= 16 uses libm there (about one value in six
 * differs in the last bit or two), and uniform_ (so nn.Linear's init) may
 * not fuse its multiply-add (then about 2 values in 5 differ by 1 ulp).
 * Integers, permutations and multinomial's choices are the same; topk's
 * order among equal values is libstdc++'s (other C++ libraries differ). */

/** PyTorch's CPU generator (the lt_rng type): MT19937 as
 *  torch.Generator().manual_seed(seed). A plain value: copy it to fork a
 *  stream; no cleanup needed. */
struct lt_rng {
    uint32_t mt[624];       /**< Mersenne Twister state */
    int index;              /**< next word of mt to temper */
    bool has_cached_normal; /**< a cached second Box-Muller sample is pending */
    double cached_normal;   /**< that sample (the double path, n < 16) */
};

/** Seeds g exactly as torch.Generator().manual_seed(seed) (and as
 *  torch.manual_seed(seed) seeds the global generator): only the low 32
 *  bits of seed count. */
void lt_rng_seed(lt_rng *g, uint64_t seed);
/** The next 32-bit output of the generator. */
uint32_t lt_rng_u32(lt_rng *g);
/** The next 64-bit output (two 32-bit outputs, as torch's random64). */
uint64_t lt_rng_u64(lt_rng *g);
/** float uniform in [0,1): (u32 & 0xFFFFFF) * 2^-24, as torch.rand. */
float lt_rng_uniform(lt_rng *g);
/** n standard normal floats into out, bit for bit as torch.randn(n,
 *  generator=g) for every n: n >= 16 takes n + (16 if n % 16 else 0) 32-bit
 *  draws; n < 16 takes two 64-bit draws per pair of values and keeps the
 *  second of a pair in g for the next call, as PyTorch does. Nothing for
 *  g or out NULL or n <= 0. */
void lt_rng_randn(lt_rng *g, float *out, int64_t n);
/** n integers in [low, high) into out, as torch.randint(low, high, (n,),
 *  generator=g): one 32-bit draw per value (one 64-bit draw when high - low
 *  >= 2^32). A range outside int32 or low >= high writes zeros, draws nothing. */
void lt_rng_randint(lt_rng *g, int64_t low, int64_t high, int32_t *out, int64_t n);
/** Largest n the permutations reproduce (PyTorch switches to another
 *  algorithm from 2^32 / 20 on). */
#define LT_RANDPERM_MAX INT64_C(214748363)
/** A random permutation of 0..n-1 into out[0..n-1], bit for bit as
 *  torch.randperm(n, generator=g) (n - 1 32-bit draws). False, with nothing
 *  drawn or written, for g or out NULL or n outside 0..LT_RANDPERM_MAX. */
bool lt_rng_randperm(lt_rng *g, int32_t *out, int64_t n);
/** One draw from the categorical distribution probs[0..n-1] (need not be
 * normalised) as torch.multinomial(probs, 1, generator=g): n 64-bit draws
 * (an Exp(1) variate per category), the index of the largest probs[i] / q_i.
 * -1 with nothing drawn on bad input (NULL, n < 1, a negative, NaN or
 * infinite weight, no positive weight). */
int64_t lt_rng_multinomial(lt_rng *g, const float *probs, int64_t n);

/* The tensor forms below draw nothing when they refuse (every argument is
 * checked first) and refuse on a context holding an error (sticky). The
 * fills need a contiguous F32 tensor (persistent or temporary): PyTorch
 * fills a strided tensor in another order. A fill is an in-place write
 * (rule 6). */

/** Fills t with standard normals, bit for bit as torch.randn(t.shape,
 *  generator=g) (lt_rng_randn over its elements). False + LT_ERR_ARG (NULL,
 *  not contiguous) / LT_ERR_DTYPE. */
bool lt_randn_fill(lt_ctx *ctx, lt_rng *g, lt_tensor *t);
/** Fills t as t.normal_(mean, std, generator=g), bit for bit (nn.init.normal_).
 *  False + LT_ERR_ARG also for a non-finite mean or std or std < 0; else as
 *  lt_randn_fill. */
bool lt_rng_normal_fill(lt_ctx *ctx, lt_rng *g, lt_tensor *t, double mean, double std);
/** Fills t as t.uniform_(a, b, generator=g), bit for bit (nn.init.uniform_):
 *  one 32-bit draw per element, fma(u, float(b) - float(a), float(a)) with
 *  u = lt_rng_uniform. False + LT_ERR_ARG also unless a <= b and b - a <=
 *  FLT_MAX (as PyTorch) and both are within float range; else as
 *  lt_randn_fill. */
bool lt_rng_uniform_fill(lt_ctx *ctx, lt_rng *g, lt_tensor *t, double a, double b);
/** nn.Linear's initialisation (reset_parameters), bit for bit: weight
 *  (out,in), stored PyTorch's way (use lt_linear(x, lt_transpose(weight,
 *  0, 1), bias)), from kaiming_uniform_(a = sqrt(5)), i.e. uniform in
 *  +-sqrt(3) * sqrt(2 / (1 + 5)) / sqrt(in) = +-1/sqrt(in) computed as
 *  Python does; then bias (out,), or NULL for bias=False, uniform in
 *  +-1/sqrt(in). Call it where PyTorch constructs the nn.Linear. False +
 *  LT_ERR_SHAPE when weight is not rank 2 or bias is not (out,); else as
 *  lt_randn_fill. */
bool lt_init_linear(lt_ctx *ctx, lt_rng *g, lt_tensor *weight, lt_tensor *bias);
/** nn.Embedding's initialisation, bit for bit: weight (num, dim) from
 *  normal_(0, 1) (no padding_idx). Errors as lt_init_linear. */
bool lt_init_embedding(lt_ctx *ctx, lt_rng *g, lt_tensor *weight);
/** A random permutation of 0..n-1 as a temporary I32 tensor (n,), bit for
 *  bit as torch.randperm(n, generator=g) (lt_rng_randperm). NULL + LT_ERR_ARG
 *  for g NULL or n outside 0..LT_RANDPERM_MAX. */
lt_tensor *lt_randperm(lt_ctx *ctx, lt_rng *g, int64_t n);
/** One sample per row as torch.multinomial(probs, 1, generator=g), draw for
 * draw: probs F32 (N,C) gives an I32 (N,1) temporary, (C,) gives (1,); rows
 * need not be normalised. Draws N*C 64-bit values, row by row. probs must be
 * contiguous with 1 to 2^24 categories and at least one row. Errors, before
 * anything is drawn: LT_ERR_ARG for a weight that is negative, NaN or
 * infinite (naming it) or a row with no positive weight (naming the row),
 * LT_ERR_SHAPE, LT_ERR_DTYPE. No gradient (the result is an index). */
lt_tensor *lt_multinomial(lt_ctx *ctx, lt_rng *g, lt_tensor *probs);
/** torch.topk(t, k, dim, largest, sorted=True): the k largest (largest =
 * true) or smallest values along dim, sorted (largest first, or smallest
 * first), as a temporary F32 tensor of t's shape with size k at dim; *indices
 * (if not NULL) receives the I32 positions along dim. NaN counts as larger
 * than every number. Values and indices are PyTorch's, bit for bit, even
 * among equal values (its order there is libstdc++'s partial_sort /
 * nth_element + sort, reproduced). t may be strided; 0 <= k <= size of dim
 * (LT_ERR_INDEX otherwise). No gradient: LT_ERR_GRAPH when t requires one
 * and grad mode is on (sample under lt_set_grad_enabled(ctx, false)). */
lt_tensor *lt_topk(lt_ctx *ctx, lt_tensor *t, int64_t k, int dim, bool largest, lt_tensor **indices);

/** Python's random module (CPython 3): MT19937 seeded as random.seed(int).
 *  A plain value; no cleanup needed. */
typedef struct lt_pyrandom {
    uint32_t mt[624]; /**< Mersenne Twister state */
    int index;        /**< next word of mt to temper */
} lt_pyrandom;

/** Seeds r exactly as random.seed(seed) with an int seed. */
void lt_pyrandom_seed(lt_pyrandom *r, uint64_t seed);
/** The next 32-bit output (random.getrandbits(32)). */
uint32_t lt_pyrandom_u32(lt_pyrandom *r);
/** random.getrandbits(k) for 0 < k <= 32. */
uint32_t lt_pyrandom_getrandbits(lt_pyrandom *r, int k);
/** random._randbelow(n) for 0 < n <= 2^32: uniform in [0, n). */
uint64_t lt_pyrandom_randbelow(lt_pyrandom *r, uint64_t n);
/** random.shuffle(x) on n elements of elem_size bytes each at base. */
void lt_pyrandom_shuffle(lt_pyrandom *r, void *base, size_t n, size_t elem_size);

/* ---- optimisers and gradient clipping -------------------------------------- */

/** p -= lr * grad(p), elementwise (plain SGD on one parameter, any layout).
 *  In place (rule 6), not recorded. False with LT_ERR_GRAPH when p has no
 *  gradient buffer. lt_optim below does the same with momentum and the rest. */
bool lt_sgd_step(lt_ctx *ctx, lt_tensor *p, float lr);

/* PyTorch 1.13's update rules (torch.optim.SGD, Adam, AdamW):
 *   sgd:   g = grad + wd*p; with momentum mu > 0: buf = g on the first step,
 *          else mu*buf + g; g = buf (or g + mu*buf with nesterov); p -= lr*g
 *   adam:  g = grad + wd*p (an L2 penalty); m, v running moments;
 *          p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 *   adamw: p *= 1 - lr*wd (decoupled weight decay), then adam with wd = 0.
 * Ownership: the optimiser borrows the parameters (they must outlive it, be
 * contiguous F32 tensors with a gradient buffer: lt_requires_grad) and owns
 * its state, allocated once by lt_optim_new (heap, not the arena; steps
 * allocate nothing) and freed by lt_optim_free. Errors go to ctx (sticky). */

/** Which update rule an optimiser applies (the rules are above). */
typedef enum lt_optim_kind { LT_OPTIM_SGD, LT_OPTIM_ADAM, LT_OPTIM_ADAMW } lt_optim_kind;

/** An optimiser's settings: a plain value; start from lt_optim_defaults. */
typedef struct lt_optim_config {
    lt_optim_kind kind; /**< the update rule */
    float lr;           /**< learning rate (lt_optim_set_lr changes it later) */
    float momentum;     /**< sgd only; 0 = plain sgd */
    bool nesterov;      /**< sgd with momentum > 0 only */
    float weight_decay; /**< sgd/adam: L2 added to the gradient; adamw: decoupled */
    float beta1;        /**< adam/adamw: first-moment decay, in [0, 1) */
    float beta2;        /**< adam/adamw: second-moment decay, in [0, 1) */
    float eps;          /**< adam/adamw */
} lt_optim_config;

/** PyTorch's defaults for kind with learning rate lr (betas 0.9/0.999, eps
 * 1e-8, weight decay 0, or 0.01 for adamw). */
lt_optim_config lt_optim_defaults(lt_optim_kind kind, float lr);
/** "sgd", "adam" or "adamw" (static storage); "?" for an unknown kind. */
const char *lt_optim_kind_name(lt_optim_kind kind);

/** An optimiser: its parameters (borrowed) and its state (owned); opaque. */
typedef struct lt_optim lt_optim;
/** An optimiser over params[0..n-1] (the array is copied; the tensors are
 * borrowed and must outlive it). Its state is allocated here, once; free it
 * with lt_optim_free. NULL + LT_ERR_ARG/LT_ERR_GRAPH/LT_ERR_MEMORY on bad
 * input (a bad setting, a parameter that is not a contiguous F32 tensor with
 * a gradient buffer, two parameters that share memory: "optim_new:
 * parameters 0 and 2 share memory (the same tensor, or views of one)",
 * which each step would update twice; disjoint views of one storage are
 * fine). */
lt_optim *lt_optim_new(lt_ctx *ctx, const lt_optim_config *cfg, lt_tensor *const *params, int n);
/** Frees the optimiser's state (not the parameters); NULL is fine. */
void lt_optim_free(lt_optim *opt);
/** One update of every parameter, in place (rule 6), from its current
 *  gradient (not recorded on the tape; allocates nothing). False on error
 *  (NULL, the context holds an error, a parameter lost its gradient buffer
 *  or was a temporary that a reset released). */
bool lt_optim_step(lt_optim *opt);
/** Zeroes every parameter's gradient (lt_zero_grad on each); NULL is fine. */
void lt_optim_zero_grad(lt_optim *opt);
/** Sets the learning rate for the next steps (for schedules: lt_lr_at).
 *  A negative, infinite or NaN lr is refused: the rate stays and the
 *  optimiser's context records LT_ERR_ARG ("optim_set_lr: lr nan must be
 *  finite and >= 0"), so the next lt_optim_step fails. NULL is ignored. */
void lt_optim_set_lr(lt_optim *opt, float lr);
/** The current learning rate; NaN for NULL. */
float lt_optim_lr(const lt_optim *opt);
/** Number of updates done so far (0 for NULL). */
int64_t lt_optim_steps(const lt_optim *opt);
/** Whether every parameter value the last lt_optim_step wrote is finite
 *  (true before the first step; false for NULL). The update kernels note a
 *  NaN or an infinity as they store each value, so a training loop's guard
 *  can skip its own pass over the parameters and look at them only when
 *  this is false, to name the tensor and the element. A non-finite gradient
 *  always makes its parameter's update non-finite (Adam: inf/inf is NaN). */
bool lt_optim_finite(const lt_optim *opt);

/** torch.nn.utils.clip_grad_norm_ (1.13): the global 2-norm of all the
 * gradients (accumulated in double); every gradient is multiplied by
 * min(max_norm / (norm + 1e-6), 1), so it changes when the norm exceeds
 * max_norm, and a non-finite norm shows in every gradient (a NaN norm makes
 * them all NaN; an infinite one makes them 0, the infinite elements NaN)
 * instead of leaving the blow-up unscaled. Returns the norm before clipping
 * (NaN or inf then, without an error, as PyTorch's default), or NaN with an
 * error (max_norm <= 0, a parameter without gradient). */
float lt_clip_grad_norm(lt_ctx *ctx, lt_tensor *const *params, int n, float max_norm);

/* ---- learning-rate schedules -------------------------------------------------- */

/** Most milestones of a step schedule. */
#define LT_LR_MAX_MILESTONES 8

/** The shape of a learning-rate schedule. */
typedef enum lt_lr_kind {
    LT_LR_CONSTANT, /**< base throughout */
    LT_LR_STEP,     /**< base, then from step milestones[i] on: rates[i] when explicit_rates, else the
                         previous rate times factor */
    LT_LR_COSINE    /**< half a cosine from base (at step warmup) down to final (at step total), final after */
} lt_lr_kind;

/** A learning rate as a pure function of the step number (0-based), for any
 *  optimiser. A warm-up of w > 0 steps scales the rate of step s < w by
 *  (s+1)/w. The notebook: {.kind = LT_LR_STEP, .base = 0.1, .n_milestones = 1,
 *  .milestones = {100000}, .explicit_rates = true, .rates = {0.01}}. */
typedef struct lt_lr_schedule {
    lt_lr_kind kind;                       /**< constant, step or cosine */
    double base;                           /**< rate after warm-up, before any decay */
    long warmup;                           /**< linear warm-up steps (0 = none) */
    int n_milestones;                      /**< LT_LR_STEP: 0..LT_LR_MAX_MILESTONES */
    long milestones[LT_LR_MAX_MILESTONES]; /**< LT_LR_STEP: steps, non-decreasing (equal ones stack) */
    bool explicit_rates;                   /**< LT_LR_STEP: use rates[] instead of factor */
    double rates[LT_LR_MAX_MILESTONES];    /**< LT_LR_STEP: the rate from each milestone on */
    double factor;                         /**< LT_LR_STEP: multiplier at each milestone, e.g. 0.1 */
    long total;                            /**< LT_LR_COSINE: last step of the curve (> warmup) */
    double final;                          /**< LT_LR_COSINE: rate from step total on */
} lt_lr_schedule;

/** true when s is well formed; otherwise false and an LT_ERR_ARG on ctx
 *  naming the bad field and value ("lr schedule: milestone 1 is step 49; ..."). */
bool lt_lr_check(lt_ctx *ctx, const lt_lr_schedule *s);
/** The rate at a step of a checked schedule; NaN for a NULL schedule, an
 *  unknown kind or a negative step. */
double lt_lr_at(const lt_lr_schedule *s, long step);

/* ======================================================================== */
/* 9. Input and output: checkpoints in the safetensors format               */
/* ======================================================================== */
/* File layout: 8-byte little-endian header length N, N bytes of JSON
 * ({"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 * ..., "__metadata__": {"key": "value", ...}}), then the raw little-endian
 * tensor bytes. Readable by Python's safetensors and PyTorch. */

/** One entry of a checkpoint to write. */
typedef struct lt_named_tensor {
    const char *name;        /**< unique, valid UTF-8 */
    const lt_tensor *tensor; /**< F32 or I32, any layout (written dense) */
} lt_named_tensor;

/** Writes n tensors and n_meta string pairs (meta[2i] = key, meta[2i+1] =
 * value) to path atomically: a temporary file in the same directory, fsync,
 * rename. On any failure the old file at path is untouched, the temporary is
 * removed, and false is returned with LT_ERR_IO / LT_ERR_ARG. */
bool lt_safetensors_save(lt_ctx *ctx, const char *path, const lt_named_tensor *tensors, int n, const char *const *meta,
                         int n_meta);

/** A loaded checkpoint, fully validated when lt_safetensors_load returns it
 *  (opaque; owns its memory, independent of any context). */
typedef struct lt_safetensors lt_safetensors;

/** Reads and validates a whole file (header length within the file, JSON
 * well-formed, known dtypes, shapes and offsets consistent and inside the
 * data, no overlaps). NULL + LT_ERR_IO / LT_ERR_FORMAT with a message naming
 * the file and the problem. Free with lt_safetensors_free. */
lt_safetensors *lt_safetensors_load(lt_ctx *ctx, const char *path);
/** Frees a loaded checkpoint; NULL is fine. Names and metadata strings
 *  obtained from it become invalid. */
void lt_safetensors_free(lt_safetensors *st);
/** Number of tensors in the checkpoint. */
int lt_safetensors_count(const lt_safetensors *st);
/** Name of tensor i (0..count-1), owned by st; NULL out of range. */
const char *lt_safetensors_name(const lt_safetensors *st, int i);
/** The dtype ("F32", "I32", or another safetensors name such as "BF16") and
 *  shape of tensor i (header order); false when st is NULL or i out of range. */
bool lt_safetensors_info(const lt_safetensors *st, int i, const char **dtype, lt_shape *shape);
/** Metadata value for key (owned by st), or NULL when absent. */
const char *lt_safetensors_meta(const lt_safetensors *st, const char *key);
/** Copies the named tensor into dst, which must have the same dtype and
 * shape (any layout); an in-place write (rule 6). False + LT_ERR_FORMAT
 * naming both shapes otherwise, or naming the file when it has no tensor of
 * that name. */
bool lt_safetensors_read(lt_ctx *ctx, const lt_safetensors *st, const char *name, lt_tensor *dst);

#ifdef __cplusplus
}
#endif

#endif /* LT_LIBTENSOR_H */
