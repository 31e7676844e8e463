/* profile.h - the op profiler's state and the hooks the tape calls
 * (internal; the API is lt_profile_* in libtensor.h, profile.c).
 *
 * Two files so that the library's call graph stays acyclic
 * (tools/check_lib_cycles.py): profile_hooks.c is called by error.c
 * (lt_check_args) and autograd.c (records, backward) and calls no other
 * file of the library; profile.c, the API, may call anything. */
#ifndef LT_PROFILE_H
#define LT_PROFILE_H

#include "core/internal.h"

/* Rows of a profile: the first LT_PROFILE_ROWS - 1 names get one each, the
 * rest share the last, named LT_PROFILE_OTHER. Every op of this library and
 * of the bundled programs fits many times over. LT_PROFILE_KEYS lt_op
 * constants are remembered; past them a record finds its row by name. */
#define LT_PROFILE_ROWS 128
#define LT_PROFILE_KEYS (2 * LT_PROFILE_ROWS)
#define LT_PROFILE_OTHER "(other ops)"

struct lt_profile {
    lt_profile_row rows[LT_PROFILE_ROWS];
    int n_rows;
    const lt_op *keys[LT_PROFILE_KEYS]; /* lt_op constants seen, ... */
    int key_row[LT_PROFILE_KEYS];       /* ... and the row of each */
    int n_keys;
    bool running;
    double started, stopped; /* seconds on the monotonic clock */
    double window;           /* when the current op's forward began */
};

/* Seconds on the monotonic clock. */
double lt_profile_now(void);

/* Each hook is called behind `if (ctx->profile)`, so a context that never
 * profiled pays one test per op. */
/* An op's entry (lt_check_args): its forward window opens when one of the
 * n tensors needs a gradient, i.e. when the op may record. */
void lt_profile_enter(lt_ctx *ctx, int n, lt_tensor *const *ts);
/* op was recorded: the window's time goes to op, and the next one opens. */
void lt_profile_recorded(lt_ctx *ctx, const lt_op *op);
/* The clock for a backward call (0 when not running), and the call's end. */
double lt_profile_clock(const lt_ctx *ctx);
void lt_profile_backward(lt_ctx *ctx, const lt_op *op, double since);

#endif
