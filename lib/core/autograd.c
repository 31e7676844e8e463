/* autograd.c - the tape: record in execution order, walk backward,
 * accumulate with += (or write a temporary's fresh buffer:
 * lt_input_grad_fresh). */
#include "core/opkit.h"
#include "core/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* F32 and marked as requiring a gradient (NULL: an absent optional input). */
static bool wants_grad(const lt_tensor *t) { return t && t->dtype == LT_F32 && t->requires_grad; }

bool lt_needs_grad(const lt_ctx *ctx, int n_in, lt_tensor *const *in)
{
    if (!ctx || !ctx->grad_enabled)
        return false;
    for (int i = 0; i < n_in; i++)
        if (wants_grad(in[i]))
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

/* Inputs (NULL: absent) that ctx may use: persistent, or its own
 * temporaries of this generation (lt_check_live names the argument). */
static bool inputs_live(lt_ctx *ctx, const lt_op *op, int n_in, lt_tensor *const *in)
{
    for (int i = 0; i < n_in; i++)
        if (in[i] && !lt_check_live(ctx, op->name, i + 1, in[i]))
            return false;
    return true;
}

/* Whether op's backward reads the data of input i, or of the output when
 * i == n_in (lt_op.saves). */
static bool reads_data(const lt_op *op, int i, int n_in, lt_tensor *const *in)
{
    unsigned m = op->saves;
    if (m == LT_SAVES_ALL)
        return true;
    if (i == n_in)
        return m & LT_SAVES_OUT;
    if ((m & LT_SAVES_CROSS) && i < 2 && n_in >= 2 && wants_grad(in[1 - i]))
        return true;
    return i < 28 && (m & LT_SAVES_IN(i));
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
    if (!inputs_live(ctx, op, n_in, in))
        return NULL;
    lt_node *node = lt_arena_alloc(ctx, sizeof *node);
    /* the inputs, then n_in + 1 versions (one block: 64 bytes up to 3 inputs) */
    lt_tensor **ins = lt_arena_alloc(ctx, (sizeof *ins + sizeof(uint64_t)) * (size_t)n_in + sizeof(uint64_t));
    if (!node || !ins)
        return NULL;
    memset(node, 0, sizeof *node);
    uint64_t *versions = (uint64_t *)(ins + n_in);
    for (int i = 0; i < n_in; i++) {
        ins[i] = in[i];
        versions[i] = in[i] && reads_data(op, i, n_in, in) ? in[i]->storage->version : LT_VERSION_UNCHECKED;
    }
    versions[n_in] = reads_data(op, n_in, n_in, in) ? out->storage->version : LT_VERSION_UNCHECKED;
    node->op = op;
    node->out = out;
    node->in = ins;
    node->n_in = n_in;
    node->versions = versions;
    if (!tape_push(ctx, node))
        return NULL;
    out->requires_grad = true;
    if (ctx->profile)
        lt_profile_recorded(ctx, op);
    return node;
}

lt_tensor *lt_op_end(lt_ctx *ctx, const lt_op *op, lt_tensor *y, int n_in, lt_tensor *const *in,
                     const lt_node_data *data)
{
    if (!y)
        return NULL;
    if (!lt_needs_grad(ctx, n_in, in)) /* recording checks this itself */
        return inputs_live(ctx, op, n_in, in) ? y : NULL;
    lt_node *node = lt_record(ctx, op, y, n_in, in);
    if (!node)
        return NULL;
    if (data) {
        memcpy(node->fparam, data->f, sizeof node->fparam);
        memcpy(node->iparam, data->i, sizeof node->iparam);
        node->saved = data->saved;
    }
    return y;
}

float *lt_input_grad(lt_ctx *ctx, lt_node *node, int i)
{
    lt_tensor *x = node->in[i];
    return wants_grad(x) ? lt_grad_buffer(ctx, x) : NULL;
}

float *lt_input_grad_fresh(lt_ctx *ctx, lt_node *node, int i, bool *fresh)
{
    lt_tensor *x = node->in[i];
    lt_storage *s = x ? x->storage : NULL;
    *fresh = false;
    if (!wants_grad(x))
        return NULL;
    if (s->grad && s->grad_zero && lt_covers_storage(x)) {
        /* zeroed lazily (lt_zero_grad): the caller's writes replace the stale values */
        s->grad_zero = false;
        *fresh = true;
        return s->grad;
    }
    if (s->grad || s->persistent || !lt_covers_storage(x))
        return lt_grad_buffer(ctx, x);
    /* the first backward to reach this storage: no contribution to keep, so
     * the buffer is left uncleared for the caller to write */
    s->grad = lt_arena_alloc(ctx, (size_t)(s->numel ? s->numel : 1) * sizeof(float));
    if (!s->grad)
        return NULL;
    *fresh = true;
    return s->grad;
}

/* Inputs 0..n-1 are views of storage s that hold each of its elements
 * exactly once between them: each non-overlapping, pairwise disjoint, and
 * as many elements in all as s has. */
static bool inputs_cover(const lt_node *node, int n, const lt_storage *s)
{
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        const lt_tensor *x = node->in[i];
        if (x->storage != s || !lt_non_overlapping(x))
            return false;
        for (int j = 0; j < i; j++)
            if (!lt_elements_disjoint(x, node->in[j]))
                return false;
        total += lt_numel(x);
    }
    return total == s->numel;
}

bool lt_inputs_grad_fresh(lt_ctx *ctx, lt_node *node, int n, float **grad)
{
    lt_storage *s = n > 0 && node->in[0] ? node->in[0]->storage : NULL;
    bool shared = s && !s->grad && !s->persistent;
    for (int i = 0; i < n && shared; i++)
        shared = wants_grad(node->in[i]);
    if (!shared || !inputs_cover(node, n, s)) {
        for (int i = 0; i < n; i++)
            grad[i] = lt_input_grad(ctx, node, i);
        return false;
    }
    /* the first backward to reach this storage, which the inputs cover:
     * left uncleared for the caller to write */
    s->grad = lt_arena_alloc(ctx, (size_t)(s->numel ? s->numel : 1) * sizeof(float));
    for (int i = 0; i < n; i++)
        grad[i] = s->grad ? s->grad + node->in[i]->offset : NULL;
    return s->grad != NULL;
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

/* Every tensor the node's backward reads still has the version it had when
 * the node was recorded; otherwise the error names the op and the tensor. */
static bool saved_unchanged(lt_ctx *ctx, const lt_node *node, const char *caller)
{
    for (int i = 0; i <= node->n_in; i++) {
        const lt_tensor *t = i < node->n_in ? node->in[i] : node->out;
        uint64_t saved = node->versions[i];
        if (saved == LT_VERSION_UNCHECKED || t->storage->version == saved)
            continue;
        char what[32] = "output";
        if (i < node->n_in)
            snprintf(what, sizeof what, "input %d", i + 1);
        lt_fail(ctx, LT_ERR_GRAPH,
                "%s: %s's %s %s was modified in place after it was recorded (version %llu, saved at %llu)", caller,
                node->op->name, what, LT_TENSOR_SHAPE(t), (unsigned long long)t->storage->version,
                (unsigned long long)saved);
        return false;
    }
    return true;
}

/* Walks the tape from the newest node to the oldest. A node whose output
 * received no gradient is skipped: nothing depends on it. */
static bool walk_tape(lt_ctx *ctx, const char *caller)
{
    ctx->backward_done = true;
    for (size_t i = ctx->tape_len; i-- > 0;) {
        lt_node *node = ctx->tape[i];
        if (!node->out->storage->grad)
            continue;
        if (node->out->storage->grad_zero && !lt_grad_buffer(ctx, node->out)) /* the marked zeros, cleared */
            return false;
        if (!saved_unchanged(ctx, node, caller))
            return false;
        double since = ctx->profile ? lt_profile_clock(ctx) : 0.0;
        node->op->backward(ctx, node);
        if (ctx->profile)
            lt_profile_backward(ctx, node->op, since);
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
        lt_fail(ctx, LT_ERR_GRAPH, "backward: needs a scalar (one-element) f32 tensor, got %s %s",
                lt_dtype_name(loss->dtype), LT_TENSOR_SHAPE(loss));
        return false;
    }
    if (!can_start(ctx, loss, "backward"))
        return false;
    float *seed = lt_grad_buffer(ctx, loss);
    if (!seed)
        return false;
    *seed += 1.0f;
    return walk_tape(ctx, "backward");
}

bool lt_backward_grad(lt_ctx *ctx, lt_tensor *out, const lt_tensor *grad)
{
    if (!lt_check_args(ctx, "backward_grad", 2, (lt_tensor *const[]){out, (lt_tensor *)grad}))
        return false;
    if (grad->dtype != LT_F32 || !lt_shape_equal(lt_shape_of(out), lt_shape_of(grad))) {
        lt_fail(ctx, LT_ERR_SHAPE, "backward_grad: gradient %s %s does not match the output %s",
                lt_dtype_name(grad->dtype), LT_TENSOR_SHAPE(grad), LT_TENSOR_SHAPE(out));
        return false;
    }
    if (!can_start(ctx, out, "backward_grad"))
        return false;
    float *dy = lt_grad_buffer(ctx, out); /* out's strides */
    if (!dy)
        return false;
    const float *src = lt_f32(grad);
    lt_walk w;
    lt_walk_pair(&w, out, grad);
    for (int64_t done = 0, n = lt_numel(out); done < n; done += w.len, lt_walk_next(&w))
        for (int64_t j = 0; j < w.len; j++)
            dy[w.off[0] + j * w.step[0]] += src[w.off[1] + j * w.step[1]];
    return walk_tape(ctx, "backward_grad");
}
