/* evaluate.h - the mean loss of a whole split, in chunks of rows, and the
 * one rule for a result that is not a number: an empty split or a loss that
 * is not finite is an error with a clear message (the program exits 1),
 * never a "nan" printed as a result. */
#ifndef EX_EVALUATE_H
#define EX_EVALUATE_H

#include "model.h"

#include <stdbool.h>

#define EX_EVAL_CHUNK 4096 /* rows per chunk: bounds the temporary memory */

/* Mean cross-entropy of the model's logits for x (n, T) against targets y:
 * (n,) for (B, vocab) logits, (n, T) for (B, T, vocab) ones; each chunk is
 * weighted by its number of targets. ectx must have grad mode off; it is
 * reset. False with ectx's error set on a library error, or when the split
 * is empty ("the dev split is empty") or the loss is not finite ("the dev
 * loss is nan"); name ("dev") names the split. */
bool ex_split_loss(lt_ctx *ectx, const ex_model *m, lt_tensor *x, lt_tensor *y, const char *name, double *loss);

#endif
