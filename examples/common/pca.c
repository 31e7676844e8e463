/* pca.c - principal components by power iteration (see pca.h). The matrices
 * are tiny (d = the embedding size, tens), so clarity beats speed. */
#include "pca.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PCA_ITERATIONS 1000
#define PCA_TOLERANCE 1e-13

static double dot(const double *a, const double *b, size_t d)
{
    double s = 0;
    for (size_t i = 0; i < d; i++)
        s += a[i] * b[i];
    return s;
}

/* Flips v so that its largest-magnitude coordinate is positive. */
static void canonical_sign(double *v, size_t d)
{
    size_t big = 0;
    for (size_t i = 1; i < d; i++)
        if (fabs(v[i]) > fabs(v[big]))
            big = i;
    if (v[big] < 0)
        for (size_t i = 0; i < d; i++)
            v[i] = -v[i];
}

/* The dominant eigenvector of symmetric a (positive semi-definite, as a
 * covariance is) into v; returns its eigenvalue. The start vector has
 * distinct coordinates so it is not orthogonal to the answer by symmetry. */
static double power_iteration(const double *a, size_t d, double *v, double *tmp)
{
    for (size_t i = 0; i < d; i++)
        v[i] = 1.0 + 0.1 * (double)i;
    double norm = sqrt(dot(v, v, d)), lambda = 0;
    for (size_t i = 0; i < d; i++)
        v[i] /= norm;
    for (int it = 0; it < PCA_ITERATIONS; it++) {
        for (size_t r = 0; r < d; r++)
            tmp[r] = dot(a + r * d, v, d);
        norm = sqrt(dot(tmp, tmp, d));
        if (norm == 0) /* a is zero on the remaining space: any unit vector */
            return 0;
        double change = 0;
        for (size_t i = 0; i < d; i++) {
            double next = tmp[i] / norm;
            change += fabs(fabs(next) - fabs(v[i]));
            v[i] = next;
        }
        lambda = norm;
        if (change < PCA_TOLERANCE)
            break;
    }
    return lambda;
}

int pca_top_eigen(double *a, size_t d, int k, double *vectors, double *values)
{
    if (!a || d == 0 || k < 1 || k > 2 || !vectors || !values)
        return -1;
    double *tmp = malloc(sizeof(double) * d);
    if (!tmp)
        return -1;
    for (int c = 0; c < k; c++) {
        double *v = vectors + (size_t)c * d;
        values[c] = power_iteration(a, d, v, tmp);
        canonical_sign(v, d);
        for (size_t r = 0; r < d; r++) /* deflate: a -= lambda v v^T */
            for (size_t s = 0; s < d; s++)
                a[r * d + s] -= values[c] * v[r] * v[s];
    }
    free(tmp);
    return 0;
}

int pca_project2(const float *data, size_t n, size_t d, double *out, double variance[2])
{
    if (!data || !out || n == 0 || d == 0)
        return -1;
    double *mean = calloc(d, sizeof(double)), *cov = calloc(d * d, sizeof(double));
    double *vec = calloc(2 * d, sizeof(double));
    double values[2] = {0, 0};
    int rc = -1;
    if (!mean || !cov || !vec)
        goto done;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            mean[j] += data[i * d + j] / (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t r = 0; r < d; r++)
            for (size_t s = 0; s < d; s++)
                cov[r * d + s] += (data[i * d + r] - mean[r]) * (data[i * d + s] - mean[s]) / (double)n;
    if (pca_top_eigen(cov, d, d >= 2 ? 2 : 1, vec, values) != 0)
        goto done;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 2; c++) {
            double p = 0;
            for (size_t j = 0; c < (int)(d >= 2 ? 2 : 1) && j < d; j++)
                p += (data[i * d + j] - mean[j]) * vec[(size_t)c * d + j];
            out[2 * i + (size_t)c] = p;
        }
    if (variance)
        memcpy(variance, values, sizeof values);
    rc = 0;
done:
    free(mean);
    free(cov);
    free(vec);
    return rc;
}
