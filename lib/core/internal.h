/* internal.h - the context's inside and the tensor helpers shared by the
 * library's own files (not installed). Ops also include core/opkit.h. */
#ifndef LT_INTERNAL_H
#define LT_INTERNAL_H

#include "libtensor.h"

#include <stdarg.h>

#define LT_ERRMSG_SIZE 256
#define LT_ALIGN 64

/* --- the arena (arena.c) -------------------------------------------------- */
/* A list of chunks reused in order after every reset. A step that makes the
 * same allocations as the previous one touches no malloc. lt_arena_alloc
 * (libtensor.h) is the context's form, which records an error. */
typedef struct lt_chunk {
    struct lt_chunk *next;
    size_t size, used;
    unsigned char *base; /* LT_ALIGN-aligned start of usable memory */
} lt_chunk;

typedef struct lt_arena {
    lt_chunk *first, *current;
    size_t reserved;    /* bytes in all chunks */
    size_t allocations; /* number of chunks ever made */
    size_t shift;       /* 0 or LT_ALIGN, swapped by every reset (arena.c: why) */
} lt_arena;

void lt_arena_init(lt_arena *a);
void *lt_arena_take(lt_arena *a, size_t bytes); /* NULL when out of memory */
void lt_arena_reset(lt_arena *a);
/* Whether p points into one of a's chunks (a walk over the chunks: for
 * error messages only). */
static inline bool lt_arena_holds(const lt_arena *a, const void *p)
{
    uintptr_t at = (uintptr_t)p;
    for (const lt_chunk *c = a->first; c; c = c->next)
        if (at >= (uintptr_t)c->base && at < (uintptr_t)c->base + c->size + LT_ALIGN) /* + the shift */
            return true;
    return false;
}
void lt_arena_release(lt_arena *a);

/* --- the context (context.c) ---------------------------------------------- */
struct lt_ctx {
    lt_arena arena;
    /* the generation temporaries are stamped with: this context's id in the
     * high 32 bits, the number of resets + 1 in the low ones (context.c) */
    uint64_t generation;
    lt_status status;
    char message[LT_ERRMSG_SIZE];
    bool grad_enabled;
    bool backward_done; /* the tape was already walked */
    /* the tape: node pointers in execution order. The array is heap memory
     * that only grows (kept across resets); the nodes live in the arena. */
    lt_node **tape;
    size_t tape_len, tape_cap;
    lt_tensor *owned;     /* persistent tensors, doubly linked */
    int threads;          /* lt_set_threads (0 = never set: 1) */
    struct lt_pool *pool; /* threads.c: workers, started by the first large op */
    bool pool_failed;     /* starting them failed: run inline */
    struct lt_profile *profile; /* profile.c: NULL until lt_profile_start */
};

/* Frees the op profile (profile.c; lt_ctx_free). The hooks the tape calls
 * are in core/profile.h. */
void lt_profile_release(lt_ctx *ctx);

/* --- lifetimes and versions (context.c, error.c, tensor.c) ----------------
 * A tensor header's generation says where it may be used (lt_live): a
 * persistent tensor's is LT_GEN_PERSISTENT (any context, until lt_free); a
 * temporary's is its context's generation when it was made, so it is
 * refused after lt_ctx_reset and by any other context. Context ids stay
 * below 2^30, so no context's generation equals the marker. */
#define LT_GEN_PERSISTENT UINT64_C(0x5045525349535421) /* "PERSIST!" */

/* True when ctx may use t: persistent, or a temporary of ctx's current
 * generation. */
static inline bool lt_live(const lt_ctx *ctx, const lt_tensor *t)
{
    return t->generation == ctx->generation || t->generation == LT_GEN_PERSISTENT;
}
/* lt_live, or false with LT_ERR_ARG naming the tensor as `what` ("argument
 * 2", "tensor 1 of 3", "parameter 0"): "<op>: <what> is a temporary from
 * before lt_ctx_reset" when ctx's arena holds it, else "... belongs to
 * another context". */
bool lt_check_live_as(lt_ctx *ctx, const char *op, const char *what, const lt_tensor *t);
/* lt_check_live_as for "argument <argno>"; always false. */
bool lt_fail_not_live(lt_ctx *ctx, const char *op, int argno, const lt_tensor *t);
/* lt_live, or lt_fail_not_live: the check inline, the message out of line. */
static inline bool lt_check_live(lt_ctx *ctx, const char *op, int argno, const lt_tensor *t)
{
    return lt_live(ctx, t) || lt_fail_not_live(ctx, op, argno, t);
}

/* Every in-place write to a tensor's data calls this: a recorded op that
 * saved the storage sees the new version at backward (autograd.c). */
static inline void lt_bump(lt_tensor *t) { t->storage->version++; }

/* True when a and b may share memory: the same storage and overlapping
 * element ranges [first, last] (conservative for interleaved strides). */
bool lt_may_overlap(const lt_tensor *a, const lt_tensor *b);

/* True when t's elements are every element of its storage, each once: a
 * contiguous view of all of it, or a whole permuted one such as
 * lt_transpose(W) (writing t element by element then writes the storage). */
bool lt_covers_storage(const lt_tensor *t);

/* True when no two indices of t address the same element. */
bool lt_non_overlapping(const lt_tensor *t);

/* True when a and b (same storage, each non-overlapping) provably share no
 * element (conservative: false when it cannot tell). */
bool lt_elements_disjoint(const lt_tensor *a, const lt_tensor *b);

/* --- layout (shape.c) ------------------------------------------------------ */
size_t lt_dtype_size(lt_dtype dt);
const char *lt_dtype_name(lt_dtype dt);
int64_t lt_shape_numel(int ndim, const int64_t *shape);
void lt_set_contiguous_strides(lt_tensor *t);
/* Storage offset of logical element i (random access; loops over a strided
 * tensor use a walk, below). */
int64_t lt_offset_of(const lt_tensor *t, int64_t i);
/* Largest product of a shape's sizes (zeros counted as 1). */
#define LT_MAX_SPAN (INT64_C(1) << 40)
/* Validates sizes: non-negative, ndim within range, product within
 * LT_MAX_SPAN. */
bool lt_check_shape(lt_ctx *ctx, const char *op, lt_shape s);
/* lt_check_shape for the shape an op is about to produce from its inputs'
 * (x.shape + c.shape[1:], (n,k)@(k,m), broadcasting): each input within the
 * limit does not make the result so. */
bool lt_check_result_shape(lt_ctx *ctx, const char *op, int ndim, const int64_t *shape);
/* "(32,3,10)" for a tensor. */
char *lt_tensor_shape_str(const lt_tensor *t, char *buf, size_t size);

/* Room for the text of any shape: "(", six sizes of up to 20 characters,
 * five commas, ")" and the NUL. */
#define LT_SHAPE_STR_SIZE 128
/* The text of an lt_shape, for a message: lt_fail(ctx, .., "%s",
 * LT_SHAPE_TEXT(s)). The buffer is a compound literal, alive until the end
 * of the enclosing block. */
#define LT_SHAPE_TEXT(s) lt_shape_str((s), (char[LT_SHAPE_STR_SIZE]){""}, LT_SHAPE_STR_SIZE)
/* The same for a tensor's shape. */
#define LT_TENSOR_SHAPE(t) LT_SHAPE_TEXT(lt_shape_of(t))

/* A tensor seen as (outer, len, inner) around dim: outer is the product of
 * the sizes before dim, len = shape[dim], inner the product after it, so
 * element (o, j, i) of a contiguous tensor is at (o * len + j) * inner + i.
 * A scalar is (1, 1, 1). dim must be resolved (0..ndim-1). */
typedef struct lt_split {
    int64_t outer, len, inner;
} lt_split;
lt_split lt_split_around(const lt_tensor *t, int dim);

/* --- temporaries (tensor.c) ----------------------------------------------- */
/* Contiguous temporary with uninitialised data (internal form of lt_empty
 * that skips argument checks). */
lt_tensor *lt_alloc_temp(lt_ctx *ctx, lt_dtype dt, int ndim, const int64_t *shape);
/* A temporary header viewing t's storage (copy of t's layout). */
lt_tensor *lt_alias(lt_ctx *ctx, const lt_tensor *t);

static inline float *lt_f32(const lt_tensor *t) { return (float *)t->storage->data + t->offset; }
static inline int32_t *lt_i32(const lt_tensor *t) { return (int32_t *)t->storage->data + t->offset; }

/* --- walking strided tensors (strided.c) ----------------------------------
 * The one loop over strided memory: up to LT_WALK_MAX operands of one shape,
 * each with its own strides (0 along a broadcast dim), visited row by row in
 * row-major order. Size-1 dims are dropped and neighbouring dims that every
 * operand steps through linearly are merged first, so a contiguous tensor is
 * a single row and a bias broadcast over (N,M) is N rows of M:
 *
 *     lt_walk w;
 *     lt_walk_tensor(&w, t);
 *     for (int64_t done = 0, n = lt_numel(t); done < n; done += w.len, lt_walk_next(&w))
 *         for (int64_t j = 0; j < w.len; j++)
 *             use(base[w.off[0] + j * w.step[0]]);   // element done + j
 *
 * Offsets are in elements from each operand's first element (add
 * t->offset, or use lt_f32(t), for the storage position). */
#define LT_WALK_MAX 3
typedef struct lt_walk {
    int ndim;                   /* dims of the loop nest (>= 1); the last is the row */
    int n;                      /* operands */
    int64_t shape[LT_MAX_DIMS]; /* sizes of the loop nest */
    int64_t stride[LT_WALK_MAX][LT_MAX_DIMS];
    int64_t len;               /* elements per row: shape[ndim - 1] */
    int64_t step[LT_WALK_MAX]; /* each operand's stride along a row */
    int64_t idx[LT_MAX_DIMS];  /* the current row's index (dims 0..ndim-2) */
    int64_t off[LT_WALK_MAX];  /* each operand's offset at the current row's start */
} lt_walk;

/* Plans a walk of n operands over shape[0..ndim-1]; strides[k][d] is operand
 * k's stride along dim d. */
void lt_walk_init(lt_walk *w, int ndim, const int64_t *shape, int n, const int64_t *const *strides);
/* The walk of one tensor's elements. */
void lt_walk_tensor(lt_walk *w, const lt_tensor *t);
/* The walk of two tensors of the same shape, element by element. */
void lt_walk_pair(lt_walk *w, const lt_tensor *a, const lt_tensor *b);

/* Moves to the next row. */
static inline void lt_walk_next(lt_walk *w)
{
    for (int d = w->ndim - 2; d >= 0; d--) {
        for (int k = 0; k < w->n; k++)
            w->off[k] += w->stride[k][d];
        if (++w->idx[d] < w->shape[d])
            return;
        for (int k = 0; k < w->n; k++)
            w->off[k] -= w->stride[k][d] * w->shape[d];
        w->idx[d] = 0;
    }
}

/* dst (dense, numel of src) <- src (any strides); F32 or I32. */
void lt_copy_to_dense(void *dst, const lt_tensor *src);
/* dst (any strides, base pointer at element offset 0 of the storage)
 * += src (dense). Routes a dense gradient back into a strided gradient. */
void lt_scatter_add_f32(float *dst_base, const lt_tensor *layout, const float *src);

/* --- broadcasting (broadcast.c) ---------------------------------------------
 * NumPy/PyTorch rules: shapes align on the right, a missing or size-1 dim
 * stretches. A stretched operand is read through stride 0; a backward that
 * adds (+=) through that layout one position after another sums its
 * gradient (never write such a gradient from several threads, or through a
 * kernel that keeps a tile of C in registers: gemm). */

/* The broadcast of shapes a (rank na) and b (rank nb) into out[0..*ndim-1];
 * false, with *bad_dim the first result dim whose sizes differ and neither
 * is 1, when they do not broadcast. No context: for ops that word their own
 * message (matmul's batch dims). */
bool lt_broadcast_shapes(int na, const int64_t *a, int nb, const int64_t *b, int *ndim, int64_t *out, int *bad_dim);
/* Stride of t along dim d of a rank-ndim broadcast result (t right-aligned);
 * 0 where t lacks the dim or stretches a size-1 dim. */
int64_t lt_broadcast_stride(const lt_tensor *t, int ndim, int d);
/* The broadcast shape of ts[0..n-1] (n <= LT_WALK_MAX), checked against the
 * size limit, or LT_ERR_SHAPE naming every shape: "<op>: shapes (2,3) and
 * (4) cannot broadcast (dim 1: 3 vs 4)". */
bool lt_broadcast_result(lt_ctx *ctx, const char *op, int n, lt_tensor *const *ts, int *ndim, int64_t *shape);
/* The walk over a contiguous result of shape[0..ndim-1] with operands
 * ts[0..n-1] broadcast to it (operand k is w->off[k], w->step[k]; the
 * result's own element is `done + j`). */
void lt_walk_broadcast(lt_walk *w, int ndim, const int64_t *shape, int n, lt_tensor *const *ts);

#endif
