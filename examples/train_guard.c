/* train_guard.c - see train_guard.h. */
#include "train_guard.h"

#include <math.h>
#include <stdio.h>

/* "nan", "inf", "-inf" (glibc prints a negative NaN as "-nan"). */
static const char *nonfinite_name(float v) { return isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"; }

/* x - x is 0 for every finite x and NaN for +-inf and NaN: a test that
 * vectorises (no branch, no reduction that needs reassociation). */
static int first_bad(const float *p, const float *g, int64_t n, float lr, bool *bad_grad)
{
    int grad_flags = 0, update_flags = 0;
    for (int64_t i = 0; i < n; i++) {
        float u = p[i] - lr * g[i]; /* exactly what lt_sgd_step writes */
        grad_flags |= (g[i] - g[i]) != 0.0f;
        update_flags |= (u - u) != 0.0f;
    }
    *bad_grad = grad_flags != 0;
    return grad_flags | update_flags;
}

/* The element that failed (a second, slow pass: only on failure). */
static int64_t locate(const float *p, const float *g, int64_t n, float lr, bool grad, float *value)
{
    for (int64_t i = 0; i < n; i++) {
        float v = grad ? g[i] : p[i] - lr * g[i];
        if (!isfinite(v)) {
            *value = v;
            return i;
        }
    }
    return -1;
}

tg_report tg_check_sgd(lt_tensor *const *params, int n, float lr)
{
    tg_report r = {TG_FINITE, -1, -1, 0.0f};
    for (int k = 0; k < n; k++) {
        const float *p = lt_data_f32(params[k]), *g = lt_grad_f32(params[k]);
        int64_t count = lt_numel(params[k]);
        bool bad_grad;
        if (!p || !g || !first_bad(p, g, count, lr, &bad_grad))
            continue;
        r.problem = bad_grad ? TG_BAD_GRADIENT : TG_BAD_UPDATE;
        r.param = k;
        r.element = locate(p, g, count, lr, bad_grad, &r.value);
        return r;
    }
    return r;
}

void tg_describe(const tg_report *r, const char *const *names, float lr, char *buf, size_t size)
{
    if (r->problem == TG_BAD_GRADIENT)
        snprintf(buf, size, "gradient of %s is not finite (element %lld is %s)", names[r->param],
                 (long long)r->element, nonfinite_name(r->value));
    else if (r->problem == TG_BAD_UPDATE)
        snprintf(buf, size, "the update of %s is not finite (element %lld would be %s; is the learning rate %g too "
                 "large?)", names[r->param], (long long)r->element, nonfinite_name(r->value), (double)lr);
    else
        snprintf(buf, size, "all finite");
}
