/* train_guard.h - the numerical guard of a training loop: the batch loss is
 * checked before backward, the updated parameters after the step, and a
 * failure stops training with the step and the tensor named.
 *
 * tg_sgd_step applies p -= lr * grad(p) to every parameter, exactly as
 * lt_sgd_step does, and in the same pass checks that every updated value is
 * finite. A NaN or infinite gradient always makes its update non-finite
 * (lr * inf is inf, or NaN when lr = 0), so one check covers both; on a
 * failure the gradients are looked at again to say which it was. The check
 * adds a few tenths of a microsecond to the update of mlp_names' 11,897
 * parameters (docs/mlp_names.md has the figures). After a failure the
 * parameters hold non-finite values: the caller must stop (tg_stop) and must
 * not save them (the programs leave their --save file untouched; see
 * docs/mlp_names.md, "Numerical guards"). */
#ifndef TRAIN_GUARD_H
#define TRAIN_GUARD_H

#include "libtensor.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum tg_problem {
    TG_FINITE = 0,   /* every updated value is finite */
    TG_BAD_GRADIENT, /* a gradient element is NaN or infinite */
    TG_BAD_UPDATE    /* p - lr * grad overflowed (the learning rate is too large) */
} tg_problem;

typedef struct tg_report {
    tg_problem problem;
    int param;       /* index of the first parameter with the problem, or -1 */
    int64_t element; /* its first bad element (logical order), or -1 */
    float value;     /* the bad gradient, or the bad updated value */
} tg_report;

/* One SGD step on params[0..n-1] (F32 with gradient buffers; parameters
 * without a gradient are skipped) with learning rate lr, checked. */
tg_report tg_sgd_step(lt_ctx *ctx, lt_tensor *const *params, int n, float lr);

/* For any other optimiser, after its step: the first parameter holding a
 * non-finite value (contiguous parameters only), and why (its gradient, or
 * the update). */
tg_report tg_check_params(lt_tensor *const *params, int n);

/* After the steps of the optimisers opts[0..n_opts-1], which update
 * params[0..n-1]: tg_check_params, but only when an optimiser saw a
 * non-finite value as it wrote them (lt_optim_finite); otherwise TG_FINITE
 * without a pass over the parameters (a wide MLP's 585K parameters took
 * 90-113 µs a step to check). */
tg_report tg_check_step(lt_optim *const *opts, int n_opts, lt_tensor *const *params, int n);

/* "gradient of W1 is not finite (element 37 is inf)" or "the update of W2
 * is not finite (element 3 is -inf; is the learning rate 1e+30 too
 * large?)" into buf. */
void tg_describe(const tg_report *r, const char *const *names, float lr, char *buf, size_t size);

/* The guard on a batch loss, before backward: true when it is finite, else
 * false with "loss is nan" ("inf", "-inf") in buf. */
bool tg_loss_finite(double loss, char *buf, size_t size);

/* Stops training: records LT_ERR_GRAPH on ctx, "step 12: WHAT; training
 * stopped" and, when save is not NULL, ", SAVE not written (an existing file
 * is unchanged)": a program never saves parameters after a stop. */
void tg_stop(lt_ctx *ctx, long step, const char *what, const char *save);

#endif
