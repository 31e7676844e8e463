/* vnorm.h - the row loops of layernorm (lib/ops/norm.c), vectorised
 * (internal; not installed).
 *
 * Each function has a portable path and AVX2 / AVX-512 paths chosen with
 * lt_cpu_isa(). The vector paths do the same float operations in the same
 * order on each element (no fused multiply-add, the same lane layout for the
 * partial sums), so every path gives the same bits: the ISA changes the
 * speed, never a result. */
#ifndef LT_VNORM_H
#define LT_VNORM_H

#include <stdint.h>

/* Independent float partial sums of lt_vrow_moment. */
#define LT_MOMENT_LANES 16

/* The sum of (x[j] - shift)^power over j < c (power 1 or 2): lane k of
 * LT_MOMENT_LANES float accumulators takes the terms j = k mod LANES of the
 * whole blocks of LANES; the total is, in double, the tail's terms (from
 * double differences) then the lanes in order. */
double lt_vrow_moment(const float *x, int64_t c, float shift, int power);

/* y[j] = (x[j] - mu) * is * g[j] + b[j] for j < c (the layernorm output). */
void lt_vrow_affine(float *y, const float *x, int64_t c, float mu, float is, const float *g, const float *b);

/* xh[j] = (x[j] - mu) * is and dh[j] = dy[j] * g[j] (dy[j] when g is NULL)
 * for j < c. */
void lt_vrow_xhat_dxhat(float *xh, float *dh, const float *x, const float *dy, const float *g, float mu, float is,
                        int64_t c);

/* dx[j] (+)= is * (dh[j] - md - xh[j] * mdx) for j < c: written when fresh,
 * else added. */
void lt_vrow_ln_dx(float *dx, const float *xh, const float *dh, float is, float md, float mdx, int64_t c, int fresh);

#endif
