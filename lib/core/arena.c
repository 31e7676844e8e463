/* arena.c - the bump allocator behind every temporary, released in O(1),
 * and lt_arena_alloc, the context's form of it.
 *
 * Chunks are kept after a reset and handed out again in the same order, so
 * the second and later steps of a loop that repeats its work reuse the first
 * step's memory: no malloc in the steady state, and no size to guess.
 *
 * Every reset also moves all allocations of the next generation by LT_ALIGN
 * bytes (shift 0 or LT_ALIGN, alternating; each chunk keeps LT_ALIGN spare
 * bytes for it, so both generations pack the same way). A temporary's header
 * is larger than LT_ALIGN, so when a step repeats the previous one's
 * allocations no new header starts where an old one did: a pointer kept
 * across lt_ctx_reset lands inside other memory, whose bytes do not hold the
 * new generation, and lt_check_live refuses it instead of reading the
 * tensor that now lives there. */
#include "core/internal.h"

#include <stdint.h>
#include <stdlib.h>

#define LT_FIRST_CHUNK ((size_t)1 << 20)

void lt_arena_init(lt_arena *a)
{
    a->first = a->current = NULL;
    a->reserved = 0;
    a->allocations = 0;
    a->shift = 0;
}

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

static lt_chunk *chunk_new(size_t size)
{
    unsigned char *raw = malloc(sizeof(lt_chunk) + LT_ALIGN + size + LT_ALIGN); /* alignment, size, the shift */
    if (!raw)
        return NULL;
    lt_chunk *c = (lt_chunk *)raw;
    uintptr_t start = (uintptr_t)(raw + sizeof(lt_chunk));
    c->base = (unsigned char *)round_up(start, LT_ALIGN);
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

/* The next chunk able to hold `bytes`: a kept one if it is big enough,
 * otherwise a new one (twice the reserved total, so chunks stay few). */
static lt_chunk *next_chunk(lt_arena *a, size_t bytes)
{
    lt_chunk *after = a->current ? a->current->next : a->first;
    if (after && after->size >= bytes)
        return after;
    size_t size = a->reserved > LT_FIRST_CHUNK ? a->reserved : LT_FIRST_CHUNK;
    if (size < bytes)
        size = round_up(bytes, LT_FIRST_CHUNK);
    lt_chunk *c = chunk_new(size);
    if (!c)
        return NULL;
    a->reserved += size;
    a->allocations++;
    /* insert after current, keeping any later (smaller) chunks for reuse */
    if (a->current) {
        c->next = a->current->next;
        a->current->next = c;
    } else {
        c->next = a->first;
        a->first = c;
    }
    return c;
}

void *lt_arena_take(lt_arena *a, size_t bytes)
{
    bytes = round_up(bytes ? bytes : 1, LT_ALIGN);
    if (a->current && a->current->size - a->current->used >= bytes) {
        void *p = a->current->base + a->shift + a->current->used;
        a->current->used += bytes;
        return p;
    }
    lt_chunk *c = next_chunk(a, bytes);
    if (!c)
        return NULL;
    c->used = bytes;
    a->current = c;
    return c->base + a->shift;
}

/* O(1): chunks are emptied as they are reached again (lt_arena_take sets
 * `used` when it moves to a chunk). */
void lt_arena_reset(lt_arena *a)
{
    a->current = NULL;
    a->shift = a->shift ? 0 : LT_ALIGN;
}

void lt_arena_release(lt_arena *a)
{
    lt_chunk *c = a->first;
    while (c) {
        lt_chunk *next = c->next;
        free(c);
        c = next;
    }
    lt_arena_init(a);
}

void *lt_arena_alloc(lt_ctx *ctx, size_t bytes)
{
    if (!ctx)
        return NULL;
    void *p = lt_arena_take(&ctx->arena, bytes);
    if (!p)
        lt_fail(ctx, LT_ERR_MEMORY, "arena: out of memory allocating %zu bytes", bytes);
    return p;
}
