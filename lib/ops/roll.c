/* roll.c - torch.roll along one dim: y[(i + shift) mod n] = x[i].
 *
 * The input is made contiguous and seen as (outer, len, inner) around dim
 * (lt_split_around). With s = shift mod len, every outer slice is two block
 * copies: x's first len - s positions go to y's last ones, x's last s to
 * y's first; the backward adds the same blocks of dy back. F32 and I32
 * (makemore's context window rolls an I32 tensor of indices). */
#include "core/opkit.h"

#include <string.h>

/* dx[o, j] += dy[o, (j + s) mod len] for every outer slice o (dense). */
static void roll_backward(lt_ctx *ctx, lt_node *node)
{
    float *dx = lt_input_grad(ctx, node, 0);
    if (!dx)
        return;
    lt_split sp = lt_split_around(node->out, (int)node->iparam[0]);
    int64_t s = node->iparam[1], row = sp.len * sp.inner, head = (sp.len - s) * sp.inner, tail = s * sp.inner;
    const float *dy = lt_output_grad(node);
    for (int64_t o = 0; o < sp.outer && row > 0; o++, dx += row, dy += row) {
        for (int64_t j = 0; j < head; j++) /* x[0, len-s) went to y[s, len) */
            dx[j] += dy[tail + j];
        for (int64_t j = 0; j < tail; j++) /* x[len-s, len) went to y[0, s) */
            dx[head + j] += dy[j];
    }
}

static const lt_op roll_op = {"roll", roll_backward, LT_SAVES_NONE};

lt_tensor *lt_roll(lt_ctx *ctx, lt_tensor *t, int64_t shift, int dim)
{
    if (!lt_check_args(ctx, "roll", 1, &t))
        return NULL;
    int d = lt_resolve_dim(ctx, "roll", dim, t->ndim);
    lt_tensor *x = d < 0 ? NULL : lt_contiguous(ctx, t);
    lt_tensor *y = x ? lt_alloc_temp(ctx, x->dtype, x->ndim, x->shape) : NULL;
    if (!y)
        return NULL;
    lt_split sp = lt_split_around(x, d);
    int64_t s = sp.len ? (shift % sp.len + sp.len) % sp.len : 0;
    size_t es = lt_dtype_size(x->dtype);
    size_t row = (size_t)(sp.len * sp.inner) * es, head = (size_t)((sp.len - s) * sp.inner) * es,
           tail = (size_t)(s * sp.inner) * es;
    const unsigned char *xv = (const unsigned char *)x->storage->data + (size_t)x->offset * es;
    unsigned char *yv = y->storage->data;
    for (int64_t o = 0; o < sp.outer && row > 0; o++, xv += row, yv += row) {
        memcpy(yv + tail, xv, head);
        memcpy(yv, xv + head, tail);
    }
    return lt_op_end(ctx, &roll_op, y, 1, &x, &(lt_node_data){.i = {d, s}});
}
