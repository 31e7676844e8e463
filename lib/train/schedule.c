/* schedule.c - learning-rate schedules: constant, step decay at milestones,
 * cosine annealing, each with an optional linear warm-up. Pure functions of
 * the step number, so a run can resume at any step and every optimiser can
 * share them. */
#include "core/internal.h"

#include <math.h>

static const char *kind_name(lt_lr_kind k)
{
    switch (k) {
    case LT_LR_CONSTANT: return "constant";
    case LT_LR_STEP: return "step";
    case LT_LR_COSINE: return "cosine";
    }
    return "unknown";
}

static bool rate_ok(double r) { return isfinite(r) && r >= 0; }

static bool check_milestones(lt_ctx *ctx, const lt_lr_schedule *s)
{
    if (s->n_milestones < 0 || s->n_milestones > LT_LR_MAX_MILESTONES)
        return lt_fail(ctx, LT_ERR_ARG, "lr schedule: %d milestones, expected 0..%d", s->n_milestones,
                       LT_LR_MAX_MILESTONES), false;
    for (int i = 0; i < s->n_milestones; i++) {
        if (s->milestones[i] < 0 || (i > 0 && s->milestones[i] < s->milestones[i - 1]))
            return lt_fail(ctx, LT_ERR_ARG,
                           "lr schedule: milestone %d is step %ld; milestones must be >= 0 and in increasing order", i,
                           s->milestones[i]), false;
        if (s->explicit_rates && !rate_ok(s->rates[i]))
            return lt_fail(ctx, LT_ERR_ARG, "lr schedule: rate %g after milestone %d must be finite and >= 0",
                           s->rates[i], i), false;
    }
    if (!s->explicit_rates && (!isfinite(s->factor) || s->factor <= 0))
        return lt_fail(ctx, LT_ERR_ARG, "lr schedule: step factor %g must be finite and > 0", s->factor), false;
    return true;
}

bool lt_lr_check(lt_ctx *ctx, const lt_lr_schedule *s)
{
    if (!ctx)
        return false;
    if (!s)
        return lt_fail(ctx, LT_ERR_ARG, "lr schedule: NULL schedule"), false;
    if (!rate_ok(s->base))
        return lt_fail(ctx, LT_ERR_ARG, "lr schedule: base rate %g must be finite and >= 0", s->base), false;
    if (s->warmup < 0)
        return lt_fail(ctx, LT_ERR_ARG, "lr schedule: warm-up of %ld steps must be >= 0", s->warmup), false;
    switch (s->kind) {
    case LT_LR_CONSTANT: return true;
    case LT_LR_STEP: return check_milestones(ctx, s);
    case LT_LR_COSINE:
        if (!rate_ok(s->final))
            return lt_fail(ctx, LT_ERR_ARG, "lr schedule: cosine final rate %g must be finite and >= 0", s->final),
                   false;
        if (s->total <= s->warmup)
            return lt_fail(ctx, LT_ERR_ARG, "lr schedule: cosine over %ld steps must end after the %ld warm-up steps",
                           s->total, s->warmup), false;
        return true;
    }
    return lt_fail(ctx, LT_ERR_ARG, "lr schedule: unknown kind %d (%s)", (int)s->kind, kind_name(s->kind)), false;
}

/* Step decay: the rate of the last milestone passed (step >= milestone);
 * equal milestones (percentages of a short run) each apply their drop. */
static double step_rate(const lt_lr_schedule *s, long step)
{
    double r = s->base;
    for (int i = 0; i < s->n_milestones && step >= s->milestones[i]; i++)
        r = s->explicit_rates ? s->rates[i] : r * s->factor;
    return r;
}

/* Half a cosine from base (end of warm-up) to final (step total), then final. */
static double cosine_rate(const lt_lr_schedule *s, long step)
{
    if (step >= s->total)
        return s->final;
    long from = step < s->warmup ? s->warmup : step;
    double t = (double)(from - s->warmup) / (double)(s->total - s->warmup);
    return s->final + 0.5 * (s->base - s->final) * (1.0 + cos(3.14159265358979323846 * t));
}

double lt_lr_at(const lt_lr_schedule *s, long step)
{
    if (!s || step < 0)
        return NAN;
    double r;
    switch (s->kind) {
    case LT_LR_CONSTANT: r = s->base; break;
    case LT_LR_STEP: r = step_rate(s, step); break;
    case LT_LR_COSINE: r = cosine_rate(s, step); break;
    default: return NAN;
    }
    /* linear ramp (step+1)/warmup: the first step already moves the weights */
    if (step < s->warmup)
        r *= (double)(step + 1) / (double)s->warmup;
    return r;
}
