/* checkpoint.h - the example programs' checkpoints: safetensors files whose
 * metadata names the program's format ("libtensor-mlp-names/1"), its
 * vocabulary and its shape hyperparameters, read back with one set of
 * checks and messages ("ck.st: metadata 'n_embd' is missing or not a
 * positive integer"). */
#ifndef EX_CHECKPOINT_H
#define EX_CHECKPOINT_H

#include "libtensor.h"

#include <stdbool.h>

#define EX_META_MAX 32

/* Metadata to write, as key/value pairs in order (the file keeps it). String
 * values are kept by pointer (they must outlive the save); numbers are
 * formatted into text. At most EX_META_MAX pairs (more are dropped). */
typedef struct ex_meta {
    const char *kv[2 * EX_META_MAX];
    char text[EX_META_MAX][32];
    int n; /* pairs */
} ex_meta;

/* Starts m with "format" = format. */
void ex_meta_init(ex_meta *m, const char *format);
void ex_meta_str(ex_meta *m, const char *key, const char *value);
void ex_meta_long(ex_meta *m, const char *key, long value);     /* "%ld" */
void ex_meta_double(ex_meta *m, const char *key, double value); /* "%g" */

/* Writes the tensors with m's metadata: an atomic save (lt_safetensors_save)
 * of the file path names, through ex_replace (files.h): a symbolic link is
 * kept and its target replaced, an existing file keeps its permissions,
 * anything but a regular file is refused. */
bool ex_checkpoint_save(lt_ctx *ctx, const char *path, const ex_meta *m, const lt_named_tensor *t, int n);

/* Loads path (a regular file: anything else is refused without waiting on
 * it, ex_open_input) and checks its "format" metadata; what names the
 * expected kind in the message ("an mlp_names checkpoint"). NULL + ctx's
 * error otherwise. */
lt_safetensors *ex_checkpoint_open(lt_ctx *ctx, const char *path, const char *format, const char *what);

/* An integer metadata field in 1..max (max: the limit of the flag that sets
 * it, so that a checkpoint cannot ask for more than a command line can);
 * false + LT_ERR_FORMAT when missing or not a positive integer ("metadata
 * 'n_embd' is missing or not a positive integer") or over max ("metadata
 * 'block_size' is 1000, over the limit of 64"). */
bool ex_meta_int(lt_ctx *ctx, const lt_safetensors *st, const char *path, const char *key, int max, int *out);

/* A metadata field naming one of names[0..n-1]: its index into *out. When
 * the key is missing, fallback if >= 0 (fields added in a later version of a
 * format), else an error; an unknown value is an error ("metadata 'act' is
 * 'swish', not tanh, relu or gelu"). */
bool ex_meta_choice(lt_ctx *ctx, const lt_safetensors *st, const char *path, const char *key,
                    const char *const *names, int n, int fallback, int *out);

/* Every names[i] must be in the file, F32, of shape shapes[i]; why says
 * where the shapes come from ("the metadata (vocab 27, block 3, emb 10,
 * hidden 200)"). Run it before allocating the model, so that metadata cannot
 * make a program allocate more than the file holds. */
bool ex_checkpoint_check(lt_ctx *ctx, const lt_safetensors *st, const char *path, const char *const *names,
                         const lt_shape *shapes, int n, const char *why);

/* Copies the file's tensor names[i] into tensors[i] (F32, contiguous, of
 * the file's shape), each checked finite: a NaN or an infinity is an error
 * naming the tensor and the element ("ck.st: tensor 'W1' element 37 is nan
 * (a checkpoint must hold finite values)"). */
bool ex_checkpoint_read(lt_ctx *ctx, const lt_safetensors *st, const char *path, const char *const *names,
                        lt_tensor *const *tensors, int n);

#endif
