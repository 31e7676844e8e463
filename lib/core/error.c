/* error.c - the sticky error state of a context. */
#include "core/internal.h"
#include "core/profile.h"

#include <stdio.h>

void *lt_fail(lt_ctx *ctx, lt_status s, const char *fmt, ...)
{
    if (!ctx || ctx->status != LT_OK)
        return NULL; /* keep the first error: it names the real cause */
    ctx->status = s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->message, sizeof ctx->message, fmt, ap);
    va_end(ap);
    return NULL;
}

lt_status lt_status_of(const lt_ctx *ctx) { return ctx ? ctx->status : LT_ERR_ARG; }

const char *lt_error_message(const lt_ctx *ctx)
{
    if (!ctx)
        return "no context (NULL)";
    return ctx->message;
}

void lt_clear_error(lt_ctx *ctx)
{
    if (!ctx)
        return;
    ctx->status = LT_OK;
    ctx->message[0] = '\0';
}

const char *lt_status_name(lt_status s)
{
    switch (s) {
    case LT_OK: return "ok";
    case LT_ERR_ARG: return "invalid argument";
    case LT_ERR_SHAPE: return "shape error";
    case LT_ERR_INDEX: return "index out of range";
    case LT_ERR_DTYPE: return "wrong dtype";
    case LT_ERR_MEMORY: return "out of memory";
    case LT_ERR_GRAPH: return "autograd error";
    case LT_ERR_IO: return "I/O error";
    case LT_ERR_FORMAT: return "bad file format";
    }
    return "unknown status";
}

bool lt_check_live_as(lt_ctx *ctx, const char *op, const char *what, const lt_tensor *t)
{
    if (lt_live(ctx, t))
        return true;
    /* memory of ctx's own arena: an earlier generation (its header may have
     * been overwritten since, so the header cannot tell) */
    if (lt_arena_holds(&ctx->arena, t))
        lt_fail(ctx, LT_ERR_ARG,
                "%s: %s is a temporary from before lt_ctx_reset (temporaries live until the next reset)", op, what);
    else
        lt_fail(ctx, LT_ERR_ARG,
                "%s: %s belongs to another context (a temporary is usable only in the context that made it)", op, what);
    return false;
}

bool lt_fail_not_live(lt_ctx *ctx, const char *op, int argno, const lt_tensor *t)
{
    char what[32];
    snprintf(what, sizeof what, "argument %d", argno);
    return lt_check_live_as(ctx, op, what, t);
}

bool lt_check_args(lt_ctx *ctx, const char *op, int n, lt_tensor *const *ts)
{
    if (!ctx || ctx->status != LT_OK)
        return false;
    for (int i = 0; i < n; i++) {
        if (!ts[i]) {
            lt_fail(ctx, LT_ERR_ARG, "%s: argument %d is NULL", op, i + 1);
            return false;
        }
        if (!lt_check_live(ctx, op, i + 1, ts[i]))
            return false;
    }
    if (ctx->profile)
        lt_profile_enter(ctx, n, ts);
    return true;
}

int lt_resolve_dim(lt_ctx *ctx, const char *op, int dim, int ndim)
{
    int d = dim < 0 ? dim + ndim : dim;
    if (d < 0 || d >= ndim) {
        lt_fail(ctx, LT_ERR_INDEX, "%s: dim %d out of range for a tensor of rank %d", op, dim, ndim);
        return -1;
    }
    return d;
}
