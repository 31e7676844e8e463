/* vsgd.h - plain SGD's update p -= lr * g over a contiguous block, checked
 * finite in the same pass, and the finiteness test alone, vectorised
 * (internal; not installed: lt_sgd_step and the examples' training guard,
 * examples/common/train_guard.c, call them).
 *
 * Every path (portable, AVX2, AVX-512, chosen by lt_cpu_isa) computes each
 * element as u = p - lr * g, one float multiply then one subtract, never a
 * fused multiply-add, so all give the bits of the scalar expression. The
 * finiteness answer is the same on every path too: true exactly when no
 * result (or value) is NaN or infinite. */
#ifndef LT_VSGD_H
#define LT_VSGD_H

#include <stdbool.h>
#include <stdint.h>

/* p[i] -= lr * g[i] for i < n; true when every updated p[i] is finite.
 * p and g must not overlap. */
bool lt_vsgd_finite(float *p, const float *g, int64_t n, float lr);

/* True when every p[i], i < n, is finite. */
bool lt_vall_finite(const float *p, int64_t n);

#endif
