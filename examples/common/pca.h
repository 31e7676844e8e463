/* pca.h - the first principal components of a small data matrix, by power
 * iteration on the covariance with deflation (no linear-algebra library).
 * Used to place the characters' embeddings on a 2-D plot. */
#ifndef PCA_H
#define PCA_H

#include <stddef.h>

/* Projects the n rows of data (n x d, row-major) onto their first two
 * principal components: out[2*i] and out[2*i + 1] for row i. The components
 * are unit vectors, ordered by variance (written to variance[0..1] when not
 * NULL), each with its largest-magnitude coordinate positive so the result
 * is deterministic. When d == 1 the second coordinate is 0; when d == 2 use
 * the data as is (the caller decides). Returns 0, or -1 when n == 0, d == 0
 * or out of memory. */
int pca_project2(const float *data, size_t n, size_t d, double *out, double variance[2]);

/* The leading k (1 or 2) unit eigenvectors (k x d, row-major, sign as above)
 * of the symmetric d x d matrix a, with their eigenvalues; a is
 * overwritten (deflated). Exposed for tests. Returns 0, or -1 on bad input. */
int pca_top_eigen(double *a, size_t d, int k, double *vectors, double *values);

#endif
