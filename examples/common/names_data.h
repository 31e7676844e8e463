/* names_data.h - the makemore data pipeline shared by the example programs:
 * read a one-item-per-line text file, build the character vocabulary, split
 * the words as the notebook does, and turn words into (context, next char)
 * examples. */
#ifndef NAMES_DATA_H
#define NAMES_DATA_H

#include "libtensor.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ND_MAX_VOCAB 256
#define ND_ERR_SIZE 512
#define ND_MAX_BLOCK 256 /* longest context nd_build_dataset accepts */

typedef struct nd_words {
    char *text;     /* all words, each NUL-terminated */
    char **word;    /* n pointers into text */
    size_t n;
} nd_words;

typedef struct nd_vocab {
    int size;                /* 1 + number of distinct characters */
    char itos[ND_MAX_VOCAB]; /* index -> character; itos[0] = '.' */
    int stoi[256];           /* character -> index, -1 when absent */
} nd_vocab;

typedef struct nd_dataset {
    int32_t *x;  /* n * block contexts, row-major */
    int32_t *y;  /* n next-character targets */
    size_t n;
    int block;
} nd_dataset;

/* Reads a text file: one item per line, CRLF or LF, blank lines skipped.
 * Only printable ASCII other than '.' is accepted ('.' is the end token).
 * The bytes are checked chunk by chunk as they are read (a bad byte deep in
 * a large file fails before the rest is read) and at most max_bytes are
 * read (files.h: ex_read_input; a pipe or a device is read like a file, a
 * FIFO with no writer gives no words instead of a wait). Returns 0, or -1
 * with a one-line message in err naming the file and line, or the limit. */
int nd_read_words_max(const char *path, size_t max_bytes, nd_words *out, char err[ND_ERR_SIZE]);
/* nd_read_words_max with the programs' default limit, EX_MAX_DATA_MB_DEFAULT MiB. */
int nd_read_words(const char *path, nd_words *out, char err[ND_ERR_SIZE]);
void nd_free_words(nd_words *w);

/* Sorted unique characters of all words; '.' = 0, the rest 1.. in order. */
void nd_build_vocab(const nd_words *w, nd_vocab *v);
/* Builds a vocabulary from the string of its characters (itos[1..]) as
 * stored in a checkpoint; returns -1 when the string is not valid. */
int nd_vocab_from_chars(const char *chars, nd_vocab *v);
/* The inverse: v's characters (itos[1..]) as a NUL-terminated string. */
void nd_vocab_chars(const nd_vocab *v, char chars[ND_MAX_VOCAB + 1]);

/* random.seed(seed); random.shuffle(words) with Python's exact algorithm. */
void nd_shuffle_words(nd_words *w, uint64_t seed);

/* The notebook's 80/10/10 split points: n1 = int(0.8 n), n2 = int(0.9 n). */
void nd_split_points(size_t n, size_t *n1, size_t *n2);

/* Examples of words[begin, end): every word of length L gives L + 1
 * (context, next) pairs. Returns 0, or -1 when out of memory or block is
 * outside 1..ND_MAX_BLOCK. */
int nd_build_dataset(const nd_words *w, size_t begin, size_t end, const nd_vocab *v, int block,
                     nd_dataset *out);
void nd_free_dataset(nd_dataset *d);

/* The examples of words[begin, end) as two persistent tensors of ctx
 * (owned by it, freed with it): x (n, block) and y (n,), both I32. */
typedef struct nd_split {
    lt_tensor *x, *y;
} nd_split;

/* Builds s from nd_build_dataset; false with ctx's error set when out of
 * memory (or block is outside 1..ND_MAX_BLOCK). */
bool nd_make_split(lt_ctx *ctx, const nd_words *w, size_t begin, size_t end, const nd_vocab *v, int block,
                   nd_split *s);

#endif
