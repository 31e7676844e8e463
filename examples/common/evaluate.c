/* evaluate.c - see evaluate.h. */
#include "evaluate.h"

#include <math.h>

/* "nan", "inf", "-inf" (glibc prints a negative NaN as "-nan"). */
static const char *nonfinite_name(double v) { return isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"; }

bool ex_split_loss(lt_ctx *ectx, const ex_model *m, lt_tensor *x, lt_tensor *y, const char *name, double *loss)
{
    int64_t n = x->shape[0];
    double total = 0, targets = 0;
    if (n == 0) {
        lt_fail(ectx, LT_ERR_ARG, "the %s split is empty: there is no %s loss", name, name);
        return false;
    }
    for (int64_t r = 0; r < n; r += EX_EVAL_CHUNK) {
        int64_t rows = n - r < EX_EVAL_CHUNK ? n - r : EX_EVAL_CHUNK;
        lt_ctx_reset(ectx);
        lt_tensor *logits = m->logits(ectx, m->self, lt_narrow(ectx, x, 0, r, rows));
        lt_tensor *yc = lt_narrow(ectx, y, 0, r, rows);
        if (logits && logits->ndim == 3) { /* every position of every row */
            logits = lt_view(ectx, logits, LT_SHAPE(-1, logits->shape[2]));
            yc = lt_view(ectx, yc, LT_SHAPE(-1));
        }
        lt_tensor *chunk = lt_cross_entropy(ectx, logits, yc);
        if (!chunk)
            return false;
        double count = (double)lt_numel(yc);
        total += (double)lt_item(ectx, chunk) * count;
        targets += count;
    }
    lt_ctx_reset(ectx);
    *loss = total / targets;
    if (!isfinite(*loss)) {
        lt_fail(ectx, LT_ERR_GRAPH, "the %s loss is %s (a parameter or an output is not finite)", name,
                nonfinite_name(*loss));
        return false;
    }
    return true;
}
