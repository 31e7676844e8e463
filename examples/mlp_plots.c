/* mlp_plots.c - the two mlp_names plots (see mlp_plots.h). */
#include "mlp_plots.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pca.h"

bool mp_history_init(mp_history *h, long steps, long eval_every)
{
    *h = (mp_history){0};
    h->cap = steps > 0 ? steps : 0;
    h->cap_dev = eval_every > 0 && steps > 0 ? (steps + eval_every - 1) / eval_every : 0;
    h->loss = malloc(sizeof(float) * (size_t)(h->cap + 1));
    h->dev_step = malloc(sizeof(long) * (size_t)(h->cap_dev + 1));
    h->dev_loss = malloc(sizeof(float) * (size_t)(h->cap_dev + 1));
    if (!h->loss || !h->dev_step || !h->dev_loss) {
        mp_history_free(h);
        return false;
    }
    return true;
}

void mp_history_free(mp_history *h)
{
    free(h->loss);
    free(h->dev_step);
    free(h->dev_loss);
    *h = (mp_history){0};
}

void mp_history_add_loss(mp_history *h, double loss)
{
    if (h->n < h->cap)
        h->loss[h->n++] = (float)loss;
}

void mp_history_add_dev(mp_history *h, long step, double loss)
{
    if (h->n_dev < h->cap_dev) {
        h->dev_step[h->n_dev] = step;
        h->dev_loss[h->n_dev++] = (float)loss;
    }
}

bool mp_write_loss_svg(const char *path, const mp_history *h, char err[SP_ERR_SIZE])
{
    size_t n = (size_t)h->n, nd = (size_t)h->n_dev;
    double *buf = malloc(sizeof(double) * (3 * n + 2 * nd + 2));
    if (!buf) {
        snprintf(err, SP_ERR_SIZE, "%s: out of memory", path);
        return false;
    }
    double *step = buf, *lg = buf + n, *mean = buf + 2 * n, *dx = buf + 3 * n, *dy = dx + nd;
    double window_sum = 0;
    for (size_t i = 0; i < n; i++) {
        step[i] = (double)i;
        lg[i] = log10(h->loss[i]);
        window_sum += lg[i];
        if (i >= MP_MEAN_WINDOW)
            window_sum -= lg[i - MP_MEAN_WINDOW];
        mean[i] = window_sum / (double)(i < MP_MEAN_WINDOW ? i + 1 : MP_MEAN_WINDOW);
    }
    for (size_t i = 0; i < nd; i++) {
        dx[i] = (double)h->dev_step[i];
        dy[i] = log10(h->dev_loss[i]);
    }
    const sp_series series[] = {
        {step, lg, n, SP_LINE, "#9ecae1", 1.0, "batch loss"},
        {step, mean, n, SP_LINE, "#08519c", 2.0, "mean of 1000 steps"},
        {dx, dy, nd, SP_POINTS, "#e6550d", 3.5, "dev loss"},
    };
    const sp_chart chart = {"Training loss", "step", "log10(loss)", series, 3};
    bool ok = sp_write_chart(path, &chart, err);
    free(buf);
    return ok;
}

bool mp_write_embedding_svg(const char *path, const float *C, int vocab, int emb, const char *const *labels,
                            char err[SP_ERR_SIZE])
{
    size_t n = vocab > 0 ? (size_t)vocab : 0;
    double *xy = malloc(sizeof(double) * 2 * (n + 1));
    bool ok = xy && emb > 0;
    if (ok && emb <= 2) {
        for (size_t i = 0; i < n; i++) {
            xy[2 * i] = C[i * (size_t)emb];
            xy[2 * i + 1] = emb == 2 ? C[i * (size_t)emb + 1] : 0.0;
        }
    } else if (ok) {
        ok = pca_project2(C, n, (size_t)emb, xy, NULL) == 0;
    }
    if (!ok) {
        snprintf(err, SP_ERR_SIZE, "%s: out of memory", path);
    } else {
        double *x = malloc(sizeof(double) * (n + 1)), *y = malloc(sizeof(double) * (n + 1));
        ok = x && y;
        for (size_t i = 0; ok && i < n; i++) {
            x[i] = xy[2 * i], y[i] = xy[2 * i + 1];
        }
        char title[96];
        snprintf(title, sizeof title, "Character embeddings (%d dims%s)", emb, emb > 2 ? ", first two principal components" : "");
        const char *xl = emb > 2 ? "PC 1" : "C[:, 0]", *yl = emb > 2 ? "PC 2" : emb == 2 ? "C[:, 1]" : "";
        ok = ok ? sp_write_labelled_scatter(path, title, xl, yl, x, y, labels, n, err)
                : (snprintf(err, SP_ERR_SIZE, "%s: out of memory", path), false);
        free(x);
        free(y);
    }
    free(xy);
    return ok;
}
