/* train_guard.c - see train_guard.h. */
#include "train_guard.h"

/* the library's internal SGD kernel (vectorised, the finiteness check in the
 * same pass; the same bits as lt_sgd_step on every instruction set) */
#include "kernels/vsgd.h"

#include <math.h>
#include <stdio.h>

/* "nan", "inf", "-inf" (glibc prints a negative NaN as "-nan"). */
static const char *nonfinite_name(float v) { return isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"; }

/* After a failure: the first non-finite gradient, else the first
 * non-finite updated value. */
static tg_report locate(int param, const float *p, const float *g, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(g[i]))
            return (tg_report){TG_BAD_GRADIENT, param, i, g[i]};
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(p[i]))
            return (tg_report){TG_BAD_UPDATE, param, i, p[i]};
    return (tg_report){TG_BAD_UPDATE, param, -1, NAN}; /* not reached */
}

tg_report tg_sgd_step(lt_ctx *ctx, lt_tensor *const *params, int n, float lr)
{
    tg_report r = {TG_FINITE, -1, -1, 0.0f};
    for (int k = 0; k < n; k++) {
        lt_tensor *t = params[k];
        float *p = lt_data_f32(t), *g = lt_grad_f32(t);
        if (!p || !g)
            continue;
        int64_t count = lt_numel(t);
        bool ok;
        if (lt_is_contiguous(t)) {
            ok = lt_vsgd_finite(p, g, count, lr);
            lt_bump_version(t); /* an in-place write, as the library's steps declare theirs */
        } else { /* not in mlp_names: the library's step, then a look at the result */
            lt_sgd_step(ctx, t, lr);
            ok = true;
            for (int64_t i = 0; i < count; i++)
                ok &= isfinite(lt_get_f32(t, i)) != 0;
        }
        if (!ok && r.problem == TG_FINITE)
            r = lt_is_contiguous(t) ? locate(k, p, g, count) : (tg_report){TG_BAD_UPDATE, k, -1, NAN};
    }
    return r;
}

tg_report tg_check_params(lt_tensor *const *params, int n)
{
    for (int k = 0; k < n; k++) {
        const float *p = lt_data_f32(params[k]), *g = lt_grad_f32(params[k]);
        int64_t count = lt_numel(params[k]);
        if (!p || !g || !lt_is_contiguous(params[k]))
            continue;
        if (!lt_vall_finite(p, count))
            return locate(k, p, g, count);
    }
    return (tg_report){TG_FINITE, -1, -1, 0.0f};
}

tg_report tg_check_step(lt_optim *const *opts, int n_opts, lt_tensor *const *params, int n)
{
    for (int i = 0; i < n_opts; i++)
        if (!lt_optim_finite(opts[i]))
            return tg_check_params(params, n);
    return (tg_report){TG_FINITE, -1, -1, 0.0f};
}

void tg_describe(const tg_report *r, const char *const *names, float lr, char *buf, size_t size)
{
    if (r->problem == TG_BAD_GRADIENT)
        snprintf(buf, size, "gradient of %s is not finite (element %lld is %s)", names[r->param],
                 (long long)r->element, nonfinite_name(r->value));
    else if (r->problem == TG_BAD_UPDATE)
        snprintf(buf, size, "the update of %s is not finite (element %lld is %s; is the learning rate %g too large?)",
                 names[r->param], (long long)r->element, nonfinite_name(r->value), (double)lr);
    else
        snprintf(buf, size, "all finite");
}

bool tg_loss_finite(double loss, char *buf, size_t size)
{
    if (isfinite(loss))
        return true;
    snprintf(buf, size, "loss is %s", nonfinite_name((float)loss));
    return false;
}

void tg_stop(lt_ctx *ctx, long step, const char *what, const char *save)
{
    lt_fail(ctx, LT_ERR_GRAPH, "step %ld: %s; training stopped%s%s%s", step, what, save ? ", " : "", save ? save : "",
            save ? " not written (an existing file is unchanged)" : "");
}
