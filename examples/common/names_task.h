/* names_task.h - what the names programs (mlp_names, deep_names) do around
 * their models, once: read the words and split them as the notebook does
 * (with the checks every program needs), open a checkpoint with its
 * vocabulary, report the final losses, print sampled names. Built on
 * names_data.h (the pipeline) and the generic helpers evaluate.h, sample.h
 * and checkpoint.h, which a program on other data uses directly. */
#ifndef EX_NAMES_TASK_H
#define EX_NAMES_TASK_H

#include "libtensor.h"
#include "model.h"
#include "names_data.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ex_names {
    nd_words words;           /* shuffled with seed 42 */
    nd_vocab vocab;           /* built from the words, or a checkpoint's */
    nd_split train, dev, test; /* 80/10/10, context windows of block tokens */
} ex_names;

/* Reads path (any UTF-8 text, one word per line, at most max_bytes:
 * nd_read_words_max),
 * builds n->vocab from the words (or, when vocab_given, checks every
 * character is in n->vocab), shuffles as Python's random.shuffle(words)
 * with seed 42 and builds the three splits as persistent tensors of ctx. False + ctx's error when the file is unusable
 * (a missing "names.txt" says where to get it), a character is outside the
 * given vocabulary, or the training or the dev split would be empty (both
 * are always evaluated), before any split is built. */
bool ex_names_load(lt_ctx *ctx, const char *path, size_t max_bytes, int block, bool vocab_given, ex_names *n);
/* Frees the words and the vocabulary (also one a checkpoint gave). */
void ex_names_free(ex_names *n);

/* "split: train 182625 dev 22655 test 22866" (examples per split). */
void ex_names_print_split(const ex_names *n);

/* ex_checkpoint_open, then the "vocab" metadata (the characters after token
 * 0, UTF-8) into v (to free with nd_free_vocab, or ex_names_free); NULL + ctx's error when either is wrong. */
lt_safetensors *ex_names_checkpoint_open(lt_ctx *ctx, const char *path, const char *format, const char *what,
                                         nd_vocab *v);

/* Evaluates train, dev and, with with_test, test (ex_split_loss: an empty
 * split or a non-finite loss is an error) and prints
 * "final: train 2.1000 dev 2.1500[ test 2.1600]". loss[] gets the values
 * (loss[2] NaN without with_test). */
bool ex_names_final(lt_ctx *ectx, const ex_model *m, const ex_names *n, bool with_test, double loss[3]);

/* Prints count names sampled from the model (block, v->size tokens) with a
 * generator seeded with seed, one per line: prefix, the name, and '.' when
 * show_stop and the stop token ended it (the notebook prints it; "<stop>"
 * when '.' is a character of the data: nd_vocab.stop). Printed as UTF-8. */
bool ex_names_sample(lt_ctx *ctx, const ex_model *m, const nd_vocab *v, int block, uint64_t seed, long count,
                     const char *prefix, bool show_stop);

#endif
