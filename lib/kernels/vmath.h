/* vmath.h - vectorised elementwise tanh, exp, tanh-form GELU and relu
 * (internal; not installed).
 *
 * Float kernels with three implementations chosen at run time from
 * lt_cpu_isa() (cpu.h): AVX-512, AVX2+FMA and portable C (which gcc
 * auto-vectorises with the baseline SSE2). All three use the same algorithms
 * and coefficients and are accurate over the whole float range (measured
 * maximum errors against double-precision libm are in the bounds below and
 * in tests/test_vmath.c, which checks every path the machine has):
 *
 *   exp:  x = n*ln2 + r, |r| <= ln2/2 (Cody-Waite split of ln2), degree-7
 *         minimax polynomial for e^r, scaled by 2^n in two steps so that
 *         overflow gives +inf and the denormal range is rounded once.
 *   tanh: |x| < 1: x + x^3 P(x^2), P a degree-7 minimax polynomial;
 *         otherwise 1 - 2e/(1 + e) with e = exp(-2|x|) (never overflows;
 *         exactly 1 once |x| > 9.01); the sign of x is put back last, so
 *         tanh(-0) = -0.
 *
 * Edge values: tanh(+-inf) = +-1, tanh(NaN) = NaN; exp(x > 88.7228...) = +inf,
 * exp(-inf) = 0, exp(x < -103.97...) = 0, denormal results rounded normally,
 * exp(NaN) = NaN. No function reads or writes outside [0, n).
 *
 * y and x may be the same array (in place); they must not otherwise overlap.
 * Results do not depend on n or on alignment, only on the path. */
#ifndef LT_VMATH_H
#define LT_VMATH_H

#include <stdbool.h>
#include <stdint.h>

/* Bounds on the error in ulps of the exact result (a denormal's ulp is
 * 2^-149; +inf counts as 2^128 next to the overflow threshold). Measured over
 * all 2^32 inputs (LT_VMATH_EXHAUSTIVE=1 tests/test_vmath):
 *            generic   avx2    avx512
 *   tanh     1.130     1.028   1.028
 *   exp      0.956     0.988   0.988
 * (the FMA paths round differently, not always better). */
#define LT_VTANH_MAX_ULP 1.2
#define LT_VEXP_MAX_ULP 1.0

/* y[i] = tanh(x[i]) for i < n. */
void lt_vtanh(float *y, const float *x, int64_t n);

/* tanh's gradient from its output: dx[i] = dy[i] * (1 - y[i] * y[i]), or
 * dx[i] += that when accumulate, for i < n. Unlike the functions above this
 * one never uses a fused multiply-add: every path gives the bits of the
 * plain C expression. dx must not overlap y or dy. */
void lt_vtanh_grad(float *dx, const float *y, const float *dy, int64_t n, bool accumulate);

/* GELU, tanh form (F.gelu(approximate="tanh"), GPT-2's NewGELU), in one
 * pass: t[i] = tanh(sqrt(2/pi) (x[i] + 0.044715 x[i]^3)) and y[i] = 0.5 x[i]
 * (1 + t[i]) for i < n, in PyTorch's order of operations. The tanh is this
 * path's lt_vtanh, to the bit; everything else uses no fused multiply-add,
 * so every path gives the bits of lt_vtanh over the scalar argument followed
 * by the scalar expression. t may be NULL (only y is wanted); y, t and x
 * must not overlap. */
void lt_vgelu_tanh(float *y, float *t, const float *x, int64_t n);

/* GELU's (tanh form) gradient from x and the t the forward saved:
 * dx[i] = dy[i] * slope, or dx[i] += that when accumulate, with slope =
 * 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2) in
 * PyTorch's order of operations; no fused multiply-add on any path (the bits
 * of the plain C expression). dx must not overlap x, t or dy. */
void lt_vgelu_tanh_grad(float *dx, const float *x, const float *t, const float *dy, int64_t n, bool accumulate);

/* relu: y[i] = x[i] < 0 ? 0 : x[i] for i < n (NaN and -0 pass through),
 * the bits of that C expression on every path. y and x may be the same
 * array; they must not otherwise overlap. */
void lt_vrelu(float *y, const float *x, int64_t n);

/* relu's gradient from its output: dx[i] = y[i] <= 0 ? 0 : dy[i] (NaN
 * passes the gradient), or dx[i] += that when accumulate (0 is added, so
 * a -0 in dx becomes +0, as the C expression does), for i < n; the bits of
 * the C expression on every path. dx must not overlap y or dy. */
void lt_vrelu_grad(float *dx, const float *y, const float *dy, int64_t n, bool accumulate);

/* y[i] = exp(x[i]) for i < n. */
void lt_vexp(float *y, const float *x, int64_t n);

/* y[i] = exp(x[i] - shift) for i < n, and returns the sum of the y[i]
 * (accumulated in double). The difference is formed exactly (a double shift
 * is split into two floats and the rounding error of x[i] - shift is folded
 * into the reduced argument), so the result is as accurate as lt_vexp of an
 * exact argument: softmax and cross-entropy use it with shift = the row
 * maximum or log-sum-exp. y may be NULL (only the sum is wanted). */
double lt_vexp_shift_sum(float *y, const float *x, double shift, int64_t n);

#endif
