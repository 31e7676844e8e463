/* opkit.h - the internal op kit: how every op in lib/ops begins, ends and
 * reaches its gradients, so that an op file holds only its math (not
 * installed; an op outside the library uses the public "Extending" API of
 * libtensor.h instead, see docs/extending.md).
 *
 * The shape of an op (lib/ops/dropout.c, written out):
 *
 *     static void dropout_backward(lt_ctx *ctx, lt_node *node)
 *     {
 *         bool fresh;                                  // a new buffer, or one to add to
 *         float *dx = lt_input_grad_fresh(ctx, node, 0, &fresh); // NULL: x needs none
 *         if (!dx)
 *             return;
 *         ... dx = (fresh ? 0 : dx) + dy * mask ...     // the mask recomputed from the saved key
 *     }
 *     static const lt_op dropout_op = {"dropout", dropout_backward, LT_SAVES_NONE};
 *
 *     lt_tensor *lt_dropout(lt_ctx *ctx, lt_tensor *x, ...)
 *     {
 *         if (!lt_check_f32(ctx, "dropout", x))       // arguments and dtype
 *             return NULL;
 *         ... check p; in evaluation return x ...
 *         x = lt_contiguous(ctx, x);                   // a recorded copy if strided
 *         lt_tensor *y = x ? lt_alloc_temp(ctx, LT_F32, x->ndim, x->shape) : NULL;
 *         ... draw the mask's key from g; y = x * mask ...
 *         return lt_op_end(ctx, &dropout_op, y, 1, &x, &(lt_node_data){.saved = key});
 *     }
 *
 * The third field of the lt_op says which tensors' data the backward reads
 * (here none: the key is the node's own memory), so that lt_backward can
 * refuse a node whose saved tensor was written in place since the forward:
 * LT_SAVES_OUT for tanh (it reads y), LT_SAVES_IN(0) for log (x),
 * LT_SAVES_CROSS for products (a for db, b for da), LT_SAVES_NONE for add.
 * Left out it is LT_SAVES_ALL: correct, but it may refuse a harmless write.
 *
 * An elementwise one is two lines (lib/ops/unary.c):
 *
 *     LT_UNARY_BACKWARD(exp_backward, dy * y)
 *     lt_tensor *lt_exp(..) { return lt_unary_op(ctx, &exp_op, x, lt_vexp, LT_WORK_EXP); }
 *
 * Names: an op's result is y; its inputs are x (one input), a and b (two
 * symmetric ones), or what they are (x, w, b for linear; logits). In a
 * backward the gradient of a tensor t is dt: dy for the output, dx, da, db,
 * dw, dgain, dbias for the inputs.
 *
 * Where things live: the begin helpers in opkit.c, lt_op_end and
 * lt_input_grad in autograd.c (next to lt_record, which view.c's copies use
 * too), lt_split_around and LT_SHAPE_TEXT in shape.c / internal.h. */
#ifndef LT_OPKIT_H
#define LT_OPKIT_H

#include "core/internal.h"

/* ---- beginning ---------------------------------------------------------- */

/* lt_check_args for one input, then "<op>: needs an f32 tensor, got i32"
 * (LT_ERR_DTYPE) unless x is F32. */
bool lt_check_f32(lt_ctx *ctx, const char *op, lt_tensor *x);
/* lt_check_f32, then x made contiguous (a recorded copy when it is a strided
 * view, through which the gradient reaches the base); NULL on error. */
lt_tensor *lt_dense_f32(lt_ctx *ctx, const char *op, lt_tensor *x);
/* The start of an elementwise one-input op: *x replaced by lt_dense_f32(*x)
 * and a fresh dense output of its shape returned; NULL on error. */
lt_tensor *lt_unary_begin(lt_ctx *ctx, const char *op, lt_tensor **x);

/* An elementwise kernel over dense memory: y[i] = f(x[i]) for i < n. */
typedef void (*lt_map_fn)(float *y, const float *x, int64_t n);
/* A whole elementwise one-input op from its kernel: lt_unary_begin, y =
 * map(x) (split across the context's threads when n * work_per_elem is
 * large, threads.h; 0: never), lt_op_end. Errors are named after op. */
lt_tensor *lt_unary_op(lt_ctx *ctx, const lt_op *op, lt_tensor *x, lt_map_fn map, double work_per_elem);

/* ---- ending -------------------------------------------------------------- */

/* What a node keeps for its backward: node->fparam, iparam and saved. */
typedef struct lt_node_data {
    float f[4];
    int64_t i[4];
    void *saved; /* arena memory */
} lt_node_data;

/* The one way an op ends: when grad mode is on and an input wants a
 * gradient, records y on the tape with the inputs in[0..n_in-1] (NULL
 * entries allowed: an absent optional input), the versions of those that
 * op->saves names, and a copy of *data (NULL for none); returns y, or NULL
 * when y is NULL or recording failed. Either way every input must be one
 * ctx may use (lt_check_live: an optional input the op did not pass to
 * lt_check_args is checked here). An op that
 * saves memory only its backward needs computes it under
 * lt_needs_grad(ctx, n_in, in). */
lt_tensor *lt_op_end(lt_ctx *ctx, const lt_op *op, lt_tensor *y, int n_in, lt_tensor *const *in,
                     const lt_node_data *data);

/* ---- gradients, in a backward ------------------------------------------------- */

/* dy: the gradient of the node's output (always dense: every op writes a
 * fresh contiguous output, and backward runs only once it has a gradient). */
static inline const float *lt_output_grad(const lt_node *node) { return node->out->storage->grad + node->out->offset; }

/* dx: the gradient of input i at its element (0,..,0), with the input's own
 * strides (dense when the op made the input contiguous), allocated and
 * zeroed on first use. NULL when that input needs none (absent, I32, or not
 * requiring a gradient), and NULL with the error recorded when out of
 * memory: either way the backward skips it. */
float *lt_input_grad(lt_ctx *ctx, lt_node *node, int i);

/* lt_input_grad, for a backward that can write its whole input gradient
 * instead of adding to it: *fresh is true when the buffer was allocated by
 * this call and left uncleared, and the caller must then set (=) every
 * element of input i's gradient (through the input's strides), never add.
 * That happens only for the first backward to reach a temporary's storage
 * (nothing accumulated yet) or a persistent one whose gradient lt_zero_grad
 * marked as zero, and when input i is a view of all of that storage laid out
 * densely in some order of its dims (contiguous, or a whole transposed
 * tensor), so that writing the input writes the whole buffer; otherwise
 * *fresh is false and the buffer holds the gradient so far, as
 * lt_input_grad's. Saves clearing the buffer and reading the zeros back:
 * most temporaries and parameters have one consumer. */
float *lt_input_grad_fresh(lt_ctx *ctx, lt_node *node, int i, bool *fresh);

/* lt_input_grad_fresh for inputs 0..n-1 that are views of one storage
 * (attention's q, k, v split from one c_attn output): grad[i] is input i's
 * gradient buffer (its strides), and the result is true when the buffer
 * was allocated by this call and left uncleared, so the caller must set (=)
 * every element of every input's gradient, never add. That happens only
 * when all n inputs want a gradient, share a temporary storage no backward
 * has reached yet, and, as this function checks, hold each of its elements
 * exactly once between them. Otherwise false and grad[i] is lt_input_grad's
 * (NULL: not wanted, or out of memory). */
bool lt_inputs_grad_fresh(lt_ctx *ctx, lt_node *node, int n, float **grad);

/* The backward of an elementwise one-input op (inputs made dense by
 * lt_unary_begin): dx[i] += EXPR for every element (= when the buffer is
 * fresh: lt_input_grad_fresh), where EXPR reads x, y
 * and dy, element i of the input, the output and the output's gradient. */
#define LT_UNARY_BACKWARD(name, EXPR)                                                                \
    static void name(lt_ctx *ctx, lt_node *node)                                                     \
    {                                                                                                \
        bool fresh;                                                                                  \
        float *dx = lt_input_grad_fresh(ctx, node, 0, &fresh);                                       \
        if (!dx)                                                                                     \
            return;                                                                                  \
        const float *xv = lt_f32(node->in[0]), *yv = lt_f32(node->out), *dyv = lt_output_grad(node); \
        int64_t n = lt_numel(node->out);                                                             \
        if (fresh)                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                        \
                const float x = xv[i], y = yv[i], dy = dyv[i];                                       \
                (void)x, (void)y;                                                                    \
                dx[i] = (EXPR);                                                                      \
            }                                                                                        \
        else                                                                                         \
            for (int64_t i = 0; i < n; i++) {                                                        \
                const float x = xv[i], y = yv[i], dy = dyv[i];                                       \
                (void)x, (void)y;                                                                    \
                dx[i] += (EXPR);                                                                     \
            }                                                                                        \
    }

#endif
