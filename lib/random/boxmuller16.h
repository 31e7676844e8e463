/* boxmuller16.h - torch's 16-float Box-Muller block (normal_fill_16_AVX2) in
 * portable scalar C, bit for bit (internal; not installed). */
#ifndef LT_BOXMULLER16_H
#define LT_BOXMULLER16_H

/* The block size of torch's vectorised normal_fill: 8 pairs (d[j], d[j+8]). */
#define LT_BOXMULLER_BLOCK 16

/* d[0..15] holds 16 float uniforms in [0, 1) (torch's 24-bit ones); on return
 * d[j] = fma(r*cos(t), std, mean) and d[j+8] = fma(r*sin(t), std, mean) with
 * r = sqrt(-2 log(1 - d[j])) and t = float(2 pi) * d[j+8], evaluated with the
 * same float operations, in the same order and with the same fused
 * multiply-adds as PyTorch 1.13's AVX2 kernel as built by GCC 12 (Debian),
 * so the results are identical to the last bit. */
void lt_boxmuller16(float d[LT_BOXMULLER_BLOCK], float mean, float std);

/* The kernel's two functions, exposed for the tests: its natural log (for
 * x in (0, 1]; NaN for x <= 0) and its sine and cosine (for 0 <= x < 8192). */
float lt_boxmuller_logf(float x);
void lt_boxmuller_sincosf(float x, float *s, float *c);

#endif
