/* context.c - creating, resetting and freeing a context; grad mode. */
#include "core/internal.h"
#include "kernels/threads.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* A new id for each context, 1..2^30-1 (wrapping after a billion contexts):
 * the high half of its generations, so that a temporary of one context is
 * told apart from another's (internal.h). */
static uint64_t next_context_id(void)
{
    static _Atomic uint32_t counter;
    return (uint64_t)(atomic_fetch_add(&counter, 1) % 0x3fffffffu) + 1;
}

lt_ctx *lt_ctx_new(void)
{
    lt_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    lt_arena_init(&ctx->arena);
    ctx->generation = next_context_id() << 32 | 1u;
    ctx->grad_enabled = true;
    return ctx;
}

void lt_ctx_free(lt_ctx *ctx)
{
    if (!ctx)
        return;
    lt_threads_release(ctx);
    lt_profile_release(ctx);
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
    ctx->generation++; /* every temporary made so far is now refused (lt_check_live) */
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
