/* A program outside the libtensor tree, built against an installed (or
 * add_subdirectory'd) libtensor by tools/consumer_test.sh: a small forward
 * and backward pass, and a check that header and library versions agree. */
#include <libtensor.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    if (strcmp(lt_version(), LT_VERSION_STRING) != 0) {
        fprintf(stderr, "consumer: header %s, library %s\n", LT_VERSION_STRING, lt_version());
        return 1;
    }
    lt_ctx *ctx = lt_ctx_new();
    if (!ctx)
        return 1;
    const float w[] = {1, 2, 3, 4, 5, 6};
    lt_tensor *W = lt_requires_grad(ctx, lt_new_from(ctx, LT_F32, LT_SHAPE(2, 3), w), true);
    lt_tensor *x = lt_ones(ctx, LT_SHAPE(1, 2));
    lt_tensor *loss = lt_sum(ctx, lt_tanh(ctx, lt_matmul(ctx, x, W))); /* sum(tanh([5, 7, 9])) */
    if (!loss || !lt_backward(ctx, loss)) {
        fprintf(stderr, "consumer: %s\n", lt_error_message(ctx));
        lt_ctx_free(ctx);
        return 1;
    }
    double want = tanh(5.0) + tanh(7.0) + tanh(9.0);
    float value = lt_item(ctx, loss), g = lt_grad_get(W, 0); /* 1 - tanh(5)^2 */
    int ok = fabs(value - want) < 1e-5 && fabs(g - (1 - tanh(5.0) * tanh(5.0))) < 1e-5;
    printf("consumer: libtensor %s, loss %.6f, dW[0,0] %.3g: %s\n", lt_version(), value, g, ok ? "ok" : "WRONG");
    lt_ctx_free(ctx);
    return ok ? 0 : 1;
}
