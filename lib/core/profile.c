/* profile.c - the op profiler's API (lt_profile_* in libtensor.h): start,
 * stop, the rows sorted, the table. What is timed, and how, is in
 * profile_hooks.c. Everything is allocated by lt_profile_start: nothing
 * while profiling. */
#include "core/profile.h"

#include <stdlib.h>
#include <string.h>

bool lt_profile_start(lt_ctx *ctx)
{
    if (!ctx)
        return false;
    if (!ctx->profile) {
        ctx->profile = malloc(sizeof *ctx->profile);
        if (!ctx->profile) {
            lt_fail(ctx, LT_ERR_MEMORY, "profile_start: out of memory (%zu bytes)", sizeof *ctx->profile);
            return false;
        }
    }
    memset(ctx->profile, 0, sizeof *ctx->profile);
    ctx->profile->running = true;
    ctx->profile->started = ctx->profile->window = lt_profile_now();
    return true;
}

void lt_profile_stop(lt_ctx *ctx)
{
    if (!ctx || !ctx->profile || !ctx->profile->running)
        return;
    ctx->profile->running = false;
    ctx->profile->stopped = lt_profile_now();
}

void lt_profile_release(lt_ctx *ctx)
{
    free(ctx->profile);
    ctx->profile = NULL;
}

double lt_profile_seconds(const lt_ctx *ctx)
{
    if (!ctx || !ctx->profile)
        return 0.0;
    const struct lt_profile *p = ctx->profile;
    return (p->running ? lt_profile_now() : p->stopped) - p->started;
}

static double total_of(const lt_profile_row *r) { return r->forward_s + r->backward_s; }

/* The most expensive first; ties by name, so the order is reproducible. */
static int by_cost(const void *a, const void *b)
{
    const lt_profile_row *x = a, *y = b;
    double tx = total_of(x), ty = total_of(y);
    if (tx != ty)
        return tx < ty ? 1 : -1;
    return strcmp(x->op, y->op);
}

int lt_profile_rows(const lt_ctx *ctx, lt_profile_row *rows, int max)
{
    if (!ctx || !ctx->profile)
        return 0;
    const struct lt_profile *p = ctx->profile;
    lt_profile_row sorted[LT_PROFILE_ROWS];
    memcpy(sorted, p->rows, sizeof(lt_profile_row) * (size_t)p->n_rows);
    qsort(sorted, (size_t)p->n_rows, sizeof *sorted, by_cost);
    for (int r = 0; rows && r < max && r < p->n_rows; r++)
        rows[r] = sorted[r];
    return p->n_rows;
}

bool lt_profile_print(const lt_ctx *ctx, FILE *f)
{
    if (!ctx || !ctx->profile || !f)
        return false;
    lt_profile_row rows[LT_PROFILE_ROWS];
    int n = lt_profile_rows(ctx, rows, LT_PROFILE_ROWS);
    double wall = lt_profile_seconds(ctx), in_ops = 0.0;
    for (int r = 0; r < n; r++)
        in_ops += total_of(&rows[r]);
    double share_of = wall > 0.0 ? 100.0 / wall : 0.0;
    fprintf(f, "%-28s %9s %12s %12s %12s %7s\n", "op", "calls", "forward ms", "backward ms", "total ms", "share");
    for (int r = 0; r < n; r++)
        fprintf(f, "%-28s %9llu %12.3f %12.3f %12.3f %6.1f%%\n", rows[r].op, (unsigned long long)rows[r].calls,
                1e3 * rows[r].forward_s, 1e3 * rows[r].backward_s, 1e3 * total_of(&rows[r]),
                share_of * total_of(&rows[r]));
    fprintf(f, "%-28s %9s %12s %12s %12.3f %6.1f%%\n", "(outside ops)", "", "", "", 1e3 * (wall - in_ops),
            share_of * (wall - in_ops));
    fprintf(f, "%-28s %9s %12s %12s %12.3f\n", "(profiled time)", "", "", "", 1e3 * wall);
    return !ferror(f);
}
