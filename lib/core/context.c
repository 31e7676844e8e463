/* context.c - creating, resetting and freeing a context; grad mode. */
#include "core/internal.h"
#include "kernels/threads.h"

#include <stdlib.h>
#include <string.h>

lt_ctx *lt_ctx_new(void)
{
    lt_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    lt_arena_init(&ctx->arena);
    ctx->grad_enabled = true;
    return ctx;
}

void lt_ctx_free(lt_ctx *ctx)
{
    if (!ctx)
        return;
    lt_threads_release(ctx);
    while (ctx->owned)
        lt_free(ctx->owned);
    lt_arena_release(&ctx->arena);
    free(ctx->tape);
    free(ctx);
}

void lt_ctx_reset(lt_ctx *ctx)
{
    if (!ctx)
        return;
    lt_arena_reset(&ctx->arena);
    ctx->tape_len = 0;
    ctx->backward_done = false;
}

size_t lt_ctx_arena_reserved(const lt_ctx *ctx) { return ctx ? ctx->arena.reserved : 0; }
size_t lt_ctx_arena_allocations(const lt_ctx *ctx) { return ctx ? ctx->arena.allocations : 0; }

bool lt_set_grad_enabled(lt_ctx *ctx, bool enabled)
{
    if (!ctx)
        return false;
    bool old = ctx->grad_enabled;
    ctx->grad_enabled = enabled;
    return old;
}

bool lt_grad_enabled(const lt_ctx *ctx) { return ctx && ctx->grad_enabled; }
