/* internal.h - definitions shared by the library's own files (not installed). */
#ifndef LT_INTERNAL_H
#define LT_INTERNAL_H

#include "libtensor.h"

#include <stdarg.h>

#define LT_ERRMSG_SIZE 256
#define LT_ALIGN 64

/* Arena: a list of chunks reused in order after every reset. A step that
 * makes the same allocations as the previous one touches no malloc. */
typedef struct lt_chunk {
    struct lt_chunk *next;
    size_t size, used;
    unsigned char *base; /* LT_ALIGN-aligned start of usable memory */
} lt_chunk;

typedef struct lt_arena {
    lt_chunk *first, *current;
    size_t reserved;     /* bytes in all chunks */
    size_t allocations;  /* number of chunks ever made */
} lt_arena;

void lt_arena_init(lt_arena *a);
void *lt_arena_take(lt_arena *a, size_t bytes); /* NULL when out of memory */
void lt_arena_reset(lt_arena *a);
void lt_arena_release(lt_arena *a);

struct lt_ctx {
    lt_arena arena;
    lt_status status;
    char message[LT_ERRMSG_SIZE];
    bool grad_enabled;
    bool backward_done;   /* the tape was already walked */
    /* the tape: node pointers in execution order. The array is heap memory
     * that only grows (kept across resets); the nodes live in the arena. */
    lt_node **tape;
    size_t tape_len, tape_cap;
    lt_tensor *owned;     /* persistent tensors, doubly linked */
    int threads;          /* lt_set_threads (0 = never set: 1) */
    struct lt_pool *pool; /* threads.c: workers, started by the first large op */
    bool pool_failed;     /* starting them failed: run inline */
};

/* --- tensors ------------------------------------------------------------ */
size_t lt_dtype_size(lt_dtype dt);
const char *lt_dtype_name(lt_dtype dt);
/* Contiguous temporary with uninitialised data (internal form of lt_empty
 * that skips argument checks). */
lt_tensor *lt_alloc_temp(lt_ctx *ctx, lt_dtype dt, int ndim, const int64_t *shape);
/* A temporary header viewing t's storage (copy of t's layout). */
lt_tensor *lt_alias(lt_ctx *ctx, const lt_tensor *t);
void lt_set_contiguous_strides(lt_tensor *t);
/* Largest product of a shape's sizes (zeros counted as 1). */
#define LT_MAX_SPAN (INT64_C(1) << 40)
/* Validates sizes: non-negative, ndim within range, product within
 * LT_MAX_SPAN. */
bool lt_check_shape(lt_ctx *ctx, const char *op, lt_shape s);
/* lt_check_shape for the shape an op is about to produce from its inputs'
 * (x.shape + c.shape[1:], (n,k)@(k,m), broadcasting): each input within the
 * limit does not make the result so. */
bool lt_check_result_shape(lt_ctx *ctx, const char *op, int ndim, const int64_t *shape);
int64_t lt_shape_numel(int ndim, const int64_t *shape);
/* "(32,3,10)" for a tensor. */
char *lt_tensor_shape_str(const lt_tensor *t, char *buf, size_t size);
/* Storage offset of logical element i. */
int64_t lt_offset_of(const lt_tensor *t, int64_t i);

static inline float *lt_f32(const lt_tensor *t) { return (float *)t->storage->data + t->offset; }
static inline int32_t *lt_i32(const lt_tensor *t) { return (int32_t *)t->storage->data + t->offset; }
/* Gradient at element (0..0) of a tensor whose buffer is known to exist. */
static inline float *lt_g(const lt_tensor *t) { return t->storage->grad + t->offset; }

/* --- strided copies ---------------------------------------------------- */
/* dst (contiguous, numel of src) <- src (any strides). */
void lt_gather_f32(float *dst, const lt_tensor *src);
/* dst (any strides, through ptr base) += src (contiguous). Used to route a
 * contiguous gradient back into a strided gradient view. */
void lt_scatter_add_f32(float *dst_base, const lt_tensor *layout, const float *src);

/* --- op helpers ---------------------------------------------------------- */
/* Records a node when needed; returns false only on error. */
bool lt_maybe_record(lt_ctx *ctx, const lt_op *op, lt_tensor *out, int n_in,
                     lt_tensor *const *in, lt_node **node);
bool lt_want_grad(const lt_tensor *t); /* F32 and requires_grad */
/* Elementwise one-input f32 ops (ops/unary.c, ops/activation.c): validates *a
 * for op `name`, replaces it by a contiguous version (a recorded copy when it
 * is a strided view) and returns a fresh dense output of its shape; NULL on
 * error. */
lt_tensor *lt_unary_begin(lt_ctx *ctx, const char *name, lt_tensor **a);
/* Their backward: the dense gradient of the node's one input, or NULL when
 * it needs none (or on an allocation error, already recorded). */
float *lt_unary_input_grad(lt_ctx *ctx, lt_node *node);

#endif
