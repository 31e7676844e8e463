/* mlp_plots.h - what mlp_names --plot-loss / --plot-emb draw: the
 * notebook's plt.plot(stepi, lossi) and the lecture's scatter of the
 * characters in embedding space. */
#ifndef MLP_PLOTS_H
#define MLP_PLOTS_H

#include <stdbool.h>
#include <stddef.h>

#include "svg_plot.h"

/* The loss history of one run. All memory is allocated by mp_history_init,
 * before training: recording a step never allocates. */
typedef struct mp_history {
    float *loss;       /* batch loss of step i */
    long n, cap;
    long *dev_step;    /* steps at which the dev loss was measured */
    float *dev_loss;
    long n_dev, cap_dev;
} mp_history;

/* Room for `steps` batch losses and one dev loss every `eval_every` steps
 * (0 = none). Returns false when out of memory. */
bool mp_history_init(mp_history *h, long steps, long eval_every);
void mp_history_free(mp_history *h);
/* Records the next step's batch loss / a dev loss; silently ignores values
 * beyond the capacity given to mp_history_init. */
void mp_history_add_loss(mp_history *h, double loss);
void mp_history_add_dev(mp_history *h, long step, double loss);

/* The running mean window of the loss plot, in steps. */
#define MP_MEAN_WINDOW 1000

/* log10 of the batch loss per step, its trailing MP_MEAN_WINDOW-step mean
 * (over the steps so far while fewer), and the dev-loss points. */
bool mp_write_loss_svg(const char *path, const mp_history *h, char err[SP_ERR_SIZE]);

/* The vocab rows of the embedding table C (vocab x emb, row-major), each
 * labelled with labels[i] (UTF-8, escaped for SVG): the two coordinates when
 * emb == 2 (one and 0 when emb == 1), otherwise the first two principal
 * components. */
bool mp_write_embedding_svg(const char *path, const float *C, int vocab, int emb, const char *const *labels,
                            char err[SP_ERR_SIZE]);

#endif
