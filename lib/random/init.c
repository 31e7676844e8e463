/* init.c - Tensor.uniform_ and the default initialisations of nn.Linear and
 * nn.Embedding, drawing exactly what PyTorch 1.13 draws on the CPU.
 *
 * A model whose parameters are initialised here in the order PyTorch
 * constructs its modules (the order of the module tree's __init__ calls)
 * starts from PyTorch's numbers for the same torch.manual_seed. Modules that
 * draw nothing (nn.LayerNorm's ones and zeros, nn.Parameter(torch.zeros(..)),
 * registered buffers) need no call. */
#include "core/internal.h"
#include "random/rng_internal.h"

#include <float.h>
#include <math.h>

/* torch's uniform_kernel for float: from and to rounded to float, then per
 * element x * (to - from) + from with x = lt_rng_uniform(g). The AVX2 build
 * contracts that multiply-add into one fused operation, which rounds
 * differently from a product then a sum in about 2 values out of 5. */
void lt_rng_uniform_range(lt_rng *g, float *out, int64_t n, double a, double b)
{
    float from = (float)a;
    float width = (float)b - from;
    for (int64_t i = 0; i < n; i++)
        out[i] = fmaf(lt_rng_uniform(g), width, from);
}

/* torch's uniform_ refuses from > to (and NaN) and a width beyond float;
 * an end beyond float (which torch would round to an infinity, making NaNs)
 * is refused too. */
static bool check_range(lt_ctx *ctx, const char *op, double a, double b)
{
    if (!(a <= b) || !(b - a <= FLT_MAX) || !(fabs(a) <= FLT_MAX) || !(fabs(b) <= FLT_MAX)) {
        lt_fail(ctx, LT_ERR_ARG, "%s: range [%g, %g) must be within float with a <= b and b - a <= FLT_MAX",
                op, a, b);
        return false;
    }
    return true;
}

bool lt_rng_uniform_fill(lt_ctx *ctx, lt_rng *g, lt_tensor *t, double a, double b)
{
    if (!lt_rng_check_fill(ctx, "uniform_fill", g, t) || !check_range(ctx, "uniform_fill", a, b))
        return false;
    lt_bump(t);
    lt_rng_uniform_range(g, lt_data_f32(t), lt_numel(t), a, b);
    return true;
}

/* nn.init.kaiming_uniform_(w, a=sqrt(5)) for fan_in inputs, in Python's
 * double arithmetic: gain = sqrt(2 / (1 + a**2)) (a**2 is 5 + 1 ulp, exactly
 * as a*a rounds), std = gain / sqrt(fan_in), bound = sqrt(3) * std. */
static double kaiming_bound(int64_t fan_in)
{
    double a = sqrt(5.0);
    double gain = sqrt(2.0 / (1.0 + a * a));
    double std = gain / sqrt((double)fan_in);
    return sqrt(3.0) * std;
}

static bool check_rank2(lt_ctx *ctx, const char *op, const char *what, const lt_tensor *t)
{
    if (t->ndim != 2) {
        char buf[64];
        lt_fail(ctx, LT_ERR_SHAPE, "%s: %s %s must be rank 2", op, what, lt_tensor_shape_str(t, buf, sizeof buf));
        return false;
    }
    return true;
}

/* Everything is checked before the first draw, so a refused call leaves
 * the generator where it was. */
static bool check_linear(lt_ctx *ctx, lt_rng *g, lt_tensor *weight, lt_tensor *bias)
{
    if (!lt_rng_check_fill(ctx, "init_linear", g, weight) || !check_rank2(ctx, "init_linear", "weight", weight))
        return false;
    if (!bias)
        return true;
    if (!lt_rng_check_fill(ctx, "init_linear", g, bias))
        return false;
    if (bias->ndim != 1 || bias->shape[0] != weight->shape[0]) {
        char wb[64], bb[64];
        lt_fail(ctx, LT_ERR_SHAPE, "init_linear: bias %s does not fit weight %s (out,in): expected (%lld,)",
                lt_tensor_shape_str(bias, bb, sizeof bb), lt_tensor_shape_str(weight, wb, sizeof wb),
                (long long)weight->shape[0]);
        return false;
    }
    return true;
}

bool lt_init_linear(lt_ctx *ctx, lt_rng *g, lt_tensor *weight, lt_tensor *bias)
{
    if (!check_linear(ctx, g, weight, bias))
        return false;
    int64_t fan_in = weight->shape[1];
    lt_bump(weight);
    if (bias)
        lt_bump(bias);
    /* kaiming_uniform_ leaves a tensor with no elements alone (no draw) */
    if (lt_numel(weight) > 0) {
        double bound = kaiming_bound(fan_in);
        lt_rng_uniform_range(g, lt_data_f32(weight), lt_numel(weight), -bound, bound);
    }
    if (bias) {
        double bound = fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0.0;
        lt_rng_uniform_range(g, lt_data_f32(bias), lt_numel(bias), -bound, bound);
    }
    return true;
}

bool lt_init_embedding(lt_ctx *ctx, lt_rng *g, lt_tensor *weight)
{
    if (!lt_rng_check_fill(ctx, "init_embedding", g, weight) || !check_rank2(ctx, "init_embedding", "weight", weight))
        return false;
    lt_bump(weight);
    lt_rng_normal(g, lt_data_f32(weight), lt_numel(weight), 0.0, 1.0);
    return true;
}
