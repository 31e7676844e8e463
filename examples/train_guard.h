/* train_guard.h - numerical guards for a plain-SGD training loop.
 *
 * Before a step's update is applied, one pass over every parameter checks
 * that its gradient is finite and that the value the update would write,
 * p - lr * grad, is finite too. A loop that stops on the first failure
 * therefore never holds a non-finite parameter: what it has is the last
 * finite state, and it is never written over a checkpoint (see
 * docs/mlp_names.md, "Numerical guards"). */
#ifndef TRAIN_GUARD_H
#define TRAIN_GUARD_H

#include "libtensor.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum tg_problem {
    TG_FINITE = 0,   /* every gradient and every updated value is finite */
    TG_BAD_GRADIENT, /* a gradient element is NaN or infinite */
    TG_BAD_UPDATE    /* p - lr * grad overflows (the learning rate is too large) */
} tg_problem;

typedef struct tg_report {
    tg_problem problem;
    int param;       /* index of the first parameter with the problem */
    int64_t element; /* its first bad element (logical order) */
    float value;     /* the bad gradient or updated value */
} tg_report;

/* Checks params[0..n-1] (contiguous F32 with gradients) for an SGD step with
 * learning rate lr. Parameters without a gradient buffer are skipped. */
tg_report tg_check_sgd(lt_tensor *const *params, int n, float lr);

/* "gradient of W1 is not finite (element 37 is inf)" or "the update of W2
 * is not finite (element 3 would be -inf; is the learning rate 1e+30 too
 * large?)" into buf. */
void tg_describe(const tg_report *r, const char *const *names, float lr, char *buf, size_t size);

#endif
