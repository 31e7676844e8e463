/* autograd.c - the tape: record in execution order, walk backward,
 * accumulate with +=. */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

bool lt_needs_grad(const lt_ctx *ctx, int n_in, lt_tensor *const *in)
{
    if (!ctx || !ctx->grad_enabled)
        return false;
    for (int i = 0; i < n_in; i++)
        if (lt_want_grad(in[i]))
            return true;
    return false;
}

static bool tape_push(lt_ctx *ctx, lt_node *node)
{
    if (ctx->tape_len == ctx->tape_cap) {
        size_t cap = ctx->tape_cap ? 2 * ctx->tape_cap : 64;
        lt_node **grown = realloc(ctx->tape, cap * sizeof *grown);
        if (!grown) {
            lt_fail(ctx, LT_ERR_MEMORY, "tape: out of memory growing to %zu nodes", cap);
            return false;
        }
        ctx->tape = grown;
        ctx->tape_cap = cap;
    }
    ctx->tape[ctx->tape_len++] = node;
    return true;
}

lt_node *lt_record(lt_ctx *ctx, const lt_op *op, lt_tensor *out, int n_in, lt_tensor *const *in)
{
    if (!ctx || ctx->status != LT_OK)
        return NULL;
    if (!op || !op->backward || !out || n_in < 0 || (n_in > 0 && !in))
        return lt_fail(ctx, LT_ERR_ARG, "record: invalid node (op %s)", op && op->name ? op->name : "?");
    if (ctx->backward_done)
        return lt_fail(ctx, LT_ERR_GRAPH, "%s: the tape was already walked by backward; call lt_ctx_reset first",
                       op->name);
    lt_node *node = lt_arena_alloc(ctx, sizeof *node);
    lt_tensor **ins = lt_arena_alloc(ctx, sizeof *ins * (size_t)(n_in ? n_in : 1));
    if (!node || !ins)
        return NULL;
    memset(node, 0, sizeof *node);
    if (n_in)
        memcpy(ins, in, sizeof *ins * (size_t)n_in);
    node->op = op;
    node->out = out;
    node->in = ins;
    node->n_in = n_in;
    if (!tape_push(ctx, node))
        return NULL;
    out->requires_grad = true;
    return node;
}

bool lt_maybe_record(lt_ctx *ctx, const lt_op *op, lt_tensor *out, int n_in, lt_tensor *const *in,
                     lt_node **node)
{
    if (node)
        *node = NULL;
    if (!lt_needs_grad(ctx, n_in, in))
        return true;
    lt_node *n = lt_record(ctx, op, out, n_in, in);
    if (node)
        *node = n;
    return n != NULL;
}

size_t lt_tape_size(const lt_ctx *ctx) { return ctx ? ctx->tape_len : 0; }

/* Checks that `out` may start a backward pass. */
static bool can_start(lt_ctx *ctx, lt_tensor *out, const char *op)
{
    if (out->dtype != LT_F32 || !out->requires_grad) {
        lt_fail(ctx, LT_ERR_GRAPH, "%s: the tensor has no graph (no input requires grad, or grad mode was off)", op);
        return false;
    }
    if (ctx->backward_done) {
        lt_fail(ctx, LT_ERR_GRAPH, "%s: the tape was already walked; call lt_ctx_reset and run forward again", op);
        return false;
    }
    return true;
}

/* Walks the tape from the newest node to the oldest. A node whose output
 * received no gradient is skipped: nothing depends on it. */
static bool walk_tape(lt_ctx *ctx)
{
    ctx->backward_done = true;
    for (size_t i = ctx->tape_len; i-- > 0;) {
        lt_node *node = ctx->tape[i];
        if (!node->out->storage->grad)
            continue;
        node->op->backward(ctx, node);
        if (ctx->status != LT_OK)
            return false;
    }
    return true;
}

bool lt_backward(lt_ctx *ctx, lt_tensor *loss)
{
    if (!lt_check_args(ctx, "backward", 1, &loss))
        return false;
    if (loss->dtype != LT_F32 || lt_numel(loss) != 1) {
        char b[96];
        lt_fail(ctx, LT_ERR_GRAPH, "backward: needs a scalar (one-element) f32 tensor, got %s %s",
                lt_dtype_name(loss->dtype), lt_tensor_shape_str(loss, b, sizeof b));
        return false;
    }
    if (!can_start(ctx, loss, "backward"))
        return false;
    float *seed = lt_grad_buffer(ctx, loss);
    if (!seed)
        return false;
    *seed += 1.0f;
    return walk_tape(ctx);
}

bool lt_backward_grad(lt_ctx *ctx, lt_tensor *out, const lt_tensor *grad)
{
    if (!lt_check_args(ctx, "backward_grad", 2, (lt_tensor *const[]){out, (lt_tensor *)grad}))
        return false;
    if (grad->dtype != LT_F32 || !lt_shape_equal(lt_shape_of(out), lt_shape_of(grad))) {
        char a[96], b[96];
        lt_fail(ctx, LT_ERR_SHAPE, "backward_grad: gradient %s %s does not match the output %s",
                lt_dtype_name(grad->dtype), lt_tensor_shape_str(grad, a, sizeof a),
                lt_tensor_shape_str(out, b, sizeof b));
        return false;
    }
    if (!can_start(ctx, out, "backward_grad") || !lt_grad_buffer(ctx, out))
        return false;
    if (lt_is_contiguous(out) && lt_is_contiguous(grad)) {
        float *g = lt_g(out);
        const float *src = lt_f32(grad);
        for (int64_t i = 0, n = lt_numel(out); i < n; i++)
            g[i] += src[i];
    } else {
        for (int64_t i = 0, n = lt_numel(out); i < n; i++)
            out->storage->grad[lt_offset_of(out, i)] += lt_get_f32(grad, i);
    }
    return walk_tape(ctx);
}
