/* profile_hooks.c - what the tape calls while an op profile runs
 * (profile.h): the clock, the forward windows, the backward calls, and the
 * row each op's time goes to.
 *
 * Forward: an op's time runs from its entry, the last lt_check_args that
 * could lead to a record (it has an input that needs a gradient), to its
 * record on the tape; a record also opens the next window, so an op whose
 * first step was another op (linear's lt_contiguous of a strided x) counts
 * from that op's record. Time between ops (the optimiser, data loading,
 * the caller's own code) belongs to no op. Backward: each node's call,
 * timed in walk_tape.
 *
 * Rows are kept per name (an op may have several lt_op constants of one
 * name); the lookup goes through a short table of lt_op pointers, so a
 * record costs two clock reads and a scan of pointers. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include "core/profile.h"

#include <string.h>
#include <time.h>

double lt_profile_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* lt_needs_grad's test (autograd.c), here so that this file calls no other
 * file of the library. */
static bool may_record(const lt_ctx *ctx, int n, lt_tensor *const *ts)
{
    if (!ctx->grad_enabled)
        return false;
    for (int i = 0; i < n; i++)
        if (ts[i] && ts[i]->dtype == LT_F32 && ts[i]->requires_grad)
            return true;
    return false;
}

/* The row for op's name, made on first sight (LT_PROFILE_OTHER for the
 * names past the first LT_PROFILE_ROWS - 1). */
static lt_profile_row *row_for(struct lt_profile *p, const lt_op *op)
{
    for (int k = 0; k < p->n_keys; k++)
        if (p->keys[k] == op)
            return &p->rows[p->key_row[k]];
    const char *name = op->name ? op->name : "?";
    int r = 0;
    while (r < p->n_rows && strcmp(p->rows[r].op, name) != 0)
        r++;
    if (r == p->n_rows && p->n_rows < LT_PROFILE_ROWS - 1) {
        p->rows[p->n_rows++].op = name;
    } else if (r >= LT_PROFILE_ROWS - 1) { /* the rest's row, opened by the first name past the others */
        r = LT_PROFILE_ROWS - 1;
        p->rows[r].op = LT_PROFILE_OTHER;
        p->n_rows = LT_PROFILE_ROWS;
    }
    if (p->n_keys < LT_PROFILE_KEYS) {
        p->keys[p->n_keys] = op;
        p->key_row[p->n_keys++] = r;
    }
    return &p->rows[r];
}

void lt_profile_enter(lt_ctx *ctx, int n, lt_tensor *const *ts)
{
    if (ctx->profile->running && may_record(ctx, n, ts))
        ctx->profile->window = lt_profile_now();
}

void lt_profile_recorded(lt_ctx *ctx, const lt_op *op)
{
    struct lt_profile *p = ctx->profile;
    if (!p->running)
        return;
    double t = lt_profile_now();
    lt_profile_row *row = row_for(p, op);
    row->calls++;
    row->forward_s += t - p->window;
    p->window = t;
}

double lt_profile_clock(const lt_ctx *ctx) { return ctx->profile->running ? lt_profile_now() : 0.0; }

void lt_profile_backward(lt_ctx *ctx, const lt_op *op, double since)
{
    struct lt_profile *p = ctx->profile;
    if (!p->running)
        return;
    lt_profile_row *row = row_for(p, op);
    row->backward_calls++;
    row->backward_s += lt_profile_now() - since;
}
