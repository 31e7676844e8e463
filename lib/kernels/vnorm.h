/* vnorm.h - the row loops of layernorm, the column loops of batchnorm
 * (lib/ops/norm.c) and of linear's bias gradient, vectorised (internal; not
 * installed).
 *
 * Each function has a portable path and AVX2 / AVX-512 paths chosen with
 * lt_cpu_isa(). The vector paths do the same float operations in the same
 * order on each element (no fused multiply-add, the same lane layout for the
 * partial sums), so every path gives the same bits: the ISA changes the
 * speed, never a result. */
#ifndef LT_VNORM_H
#define LT_VNORM_H

#include <stdint.h>

/* Independent float partial sums of a row's moment (lt_vrows_moment). */
#define LT_MOMENT_LANES 16
/* Most rows lt_vrows_moment takes at once. */
#define LT_MOMENT_ROWS 8

/* For rows q < rows (at most LT_MOMENT_ROWS; row q at x + q * ld): out[q] =
 * the sum of (x[j] - shift[q])^power over j < c (power 1 or 2; shift NULL
 * for 0). Lane k of LT_MOMENT_LANES float accumulators takes the terms j =
 * k mod LANES of the whole blocks of LANES; the total is, in double, the
 * tail's terms (from double differences) then the lanes in order. A row's
 * result does not depend on the rows beside it; taking several at once lets
 * their double additions overlap, which is most of a narrow row's time. */
void lt_vrows_moment(const float *x, int64_t ld, int rows, int64_t c, const float *shift, int power, double *out);

/* y[j] = (x[j] - mu) * is * g[j] + b[j] for j < c (the layernorm output). */
void lt_vrow_affine(float *y, const float *x, int64_t c, float mu, float is, const float *g, const float *b);

/* One row of the layernorm backward in one pass, for j < c:
 * xh[j] = (x[j] - mu) * is, dh[j] = dy[j] * g[j] (dy[j] when g is NULL),
 * dgain[j] += dy[j] * xh[j] and dbias[j] += dy[j] (each skipped when NULL). */
void lt_vrow_ln_terms(float *xh, float *dh, float *dgain, float *dbias, const float *x, const float *dy,
                      const float *g, float mu, float is, int64_t c);

/* dx[j] (+)= is * (dh[j] - md - xh[j] * mdx) for j < c: written when fresh,
 * else added. */
void lt_vrow_ln_dx(float *dx, const float *xh, const float *dh, float is, float md, float mdx, int64_t c, int fresh);

/* Rows lt_vln_sums takes at once. */
#define LT_LN_SUM_ROWS 8

/* For each row q < LT_LN_SUM_ROWS of a block (xh, dh: rows of c floats, one
 * after the other): sd[q] = the sum of dh[q][j], sdx[q] = the sum of the
 * float products dh[q][j] * xh[q][j], each in double over j in order (the
 * vector paths transpose 8 x 8 tiles so that one vector holds a column of
 * the 8 rows: 8 sums advance at once, each still in its row's order). */
void lt_vln_sums(const float *xh, const float *dh, int64_t c, double *sd, double *sdx);

/* ---- column sums over (m, n) blocks of rows of stride ld --------------------------- */

/* Layernorm's gain and bias gradients over m rows (mean, invstd: per row):
 * dgain[j] += dy[r * ld + j] * ((x[r * ld + j] - mean[r]) * invstd[r]) and
 * dbias[j] += dy[r * ld + j], float, for r < m in order (each skipped when
 * NULL), j < n. The vector paths keep a block of columns' sums in registers
 * across the rows: the same additions in the same order. */
void lt_vcol_ln_params(float *dgain, float *dbias, const float *x, const float *dy, int64_t m, int64_t ld, int64_t n,
                       const float *mean, const float *invstd);

/* sums[j] += y[r * ld + j], float, for r < m in order, j < n (linear's bias
 * gradient: the column sums of dy added to db). */
void lt_vcol_sums_add(float *sums, const float *y, int64_t m, int64_t ld, int64_t n);

/* ---- batchnorm: (m, n) blocks of rows of stride ld, n channels ---------------- */

/* Channels the batchnorm column sums take at once on any path (a multiple
 * of every vector width): splits across threads start at multiples of it. */
#define LT_BN_COLS 32

/* mean[j] = the sum of x[r * ld + j] over rows r < m in order, in double,
 * / m; var[j] = the sum of the squares of the double differences
 * x[r * ld + j] - mean[j] in row order, / m; for j < n. The vector paths add
 * a vector of channels per row, each lane its channel's sum in row order. */
void lt_vcol_stats(const float *x, int64_t m, int64_t ld, int64_t n, double *mean, double *var);

/* y[r * ld + j] = x[r * ld + j] * scale[j] + shift[j] (float). */
void lt_vcol_affine(float *y, const float *x, int64_t m, int64_t ld, int64_t n, const float *scale,
                    const float *shift);

/* With xhat = (x - mean[j]) * invstd[j] (float): sdy[j] = the sum of dy,
 * sdyx[j] = the sum of the float products dy * xhat, each in double over the
 * rows in order. */
void lt_vcol_bn_sums(const float *x, const float *dy, int64_t m, int64_t ld, int64_t n, const float *mean,
                     const float *invstd, double *sdy, double *sdyx);

/* dx (+)= k[j] * (dy - (a[j] + xhat * b[j])) per element (written when
 * fresh, else added); a NULL (fixed statistics): dx (+)= k[j] * dy. */
void lt_vcol_bn_dx(float *dx, const float *x, const float *dy, int64_t m, int64_t ld, int64_t n, const float *mean,
                   const float *invstd, const float *k, const float *a, const float *b, int fresh);

#endif
