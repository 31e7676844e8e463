/* mlp_config.h - the command line of mlp_names: options, named presets and
 * the learning-rate schedule they describe. */
#ifndef MLP_CONFIG_H
#define MLP_CONFIG_H

#include "libtensor.h"

#include <stdbool.h>

typedef enum mlp_activation { ACT_TANH, ACT_RELU, ACT_NONE } mlp_activation;
#define MLP_N_ACTIVATIONS 3
extern const char *const MLP_ACTIVATIONS[MLP_N_ACTIVATIONS]; /* their names, in enum order */
typedef enum mlp_init { INIT_NOTEBOOK, INIT_SCALED } mlp_init;
typedef enum mlp_sampling { SAMPLING_RANDOM, SAMPLING_SHUFFLE } mlp_sampling;

/* The largest model the flags (and so a checkpoint's metadata) may ask for. */
#define MLP_MAX_BLOCK 64
#define MLP_MAX_EMB 4096
#define MLP_MAX_HIDDEN 65536

typedef struct options {
    const char *data, *save, *load, *log, *result, *preset;
    const char *plot_loss, *plot_emb; /* SVG files, or NULL */
    long steps, batch, block, emb, hidden, eval_every, samples, threads;
    long decay_step, warmup;  /* decay_step < 0: steps/2 */
    long max_data_mb;         /* --max-data-mb: the most data read, in MiB */
    double lr, lr_final, lr_factor, weight_decay, momentum, dropout;
    double init_gain;         /* --init scaled: W1 gain; 0 = that of the activation */
    double init_emb;          /* --init scaled: C scale (W1 divided by it) */
    int lr_kind;              /* lt_lr_kind */
    const char *milestones;   /* "N,N%,..." or NULL: one drop to lr_final at decay_step */
    int activation;           /* mlp_activation */
    int init;                 /* mlp_init */
    int sampling;             /* mlp_sampling: --sampling random|shuffle */
    unsigned long long seed, batch_seed, sample_seed;
    bool quiet, no_test;
    bool set_block, set_emb, set_hidden, set_activation; /* given on the command line */
    lt_lr_schedule schedule;  /* built from the flags above */
} options;

/* Parses argv (a --preset first, then every other flag, which overrides the
 * preset wherever it appears) with the flag table of mlp_config.c
 * (common/cli_args.h). Returns 0 to run, 1 after --help, 2 on a usage error
 * (message printed on stderr). */
int mlp_parse_options(int argc, char **argv, options *o);

const char *mlp_activation_name(mlp_activation a);

/* The flags of a named preset ("" for notebook), or NULL when unknown. */
const char *mlp_preset_args(const char *name);

#endif
