/* names_data.h - the notebook's view of the makemore data (text_data.h):
 * the items of any UTF-8 text file as words, the code-point vocabulary
 * with token 0 the start/end token shown as '.', the notebook's shuffle and
 * 80/10/10 split, and words turned into (context window, next token)
 * examples. The reading, the checks and the vocabulary are text_data's. */
#ifndef NAMES_DATA_H
#define NAMES_DATA_H

#include "libtensor.h"
#include "text_data.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ND_ERR_SIZE TD_ERR_SIZE
#define ND_MAX_BLOCK 256 /* longest context nd_build_dataset accepts */
#define ND_STOP_DOT "."         /* how token 0 is shown: the notebook's '.' ... */
#define ND_STOP_MARK "<stop>"   /* ... or this when '.' is a character of the data */

/* The words: word i is item order[i] of items (the file's order until
 * nd_shuffle_words). */
typedef struct nd_words {
    td_items items;
    size_t *order;
    size_t n;
} nd_words;

/* Token t >= 1 is chars.chars[t - 1] (sorted code points), token 0 the
 * start/end token: for names.txt '.' = 0, 'a' = 1 ... as the notebook. */
typedef struct nd_vocab {
    td_vocab chars;
    int size;       /* chars.n + 1 */
    const char *stop; /* token 0 shown: ND_STOP_DOT, or ND_STOP_MARK when '.' is in chars */
} nd_vocab;

typedef struct nd_dataset {
    int32_t *x;  /* n * block contexts, row-major */
    int32_t *y;  /* n next-token targets */
    size_t n;
    int block;
} nd_dataset;

/* td_read: any UTF-8 text, one item per line (stripped, blank lines
 * dropped), at most max_bytes, invalid UTF-8 named by line and column.
 * Returns 0, or -1 with a one-line message in err. */
int nd_read_words_max(const char *path, size_t max_bytes, nd_words *out, char err[ND_ERR_SIZE]);
/* nd_read_words_max with the programs' default limit, EX_MAX_DATA_MB_DEFAULT MiB. */
int nd_read_words(const char *path, nd_words *out, char err[ND_ERR_SIZE]);
void nd_free_words(nd_words *w);
/* Word i's length in code points; its UTF-8 (walk it with td_next_char)
 * and that in bytes. */
static inline size_t nd_word_len(const nd_words *w, size_t i) { return td_len(&w->items, w->order[i]); }
static inline const char *nd_word(const nd_words *w, size_t i) { return td_item(&w->items, w->order[i]); }
static inline size_t nd_word_bytes(const nd_words *w, size_t i) { return td_bytes(&w->items, w->order[i]); }

/* Word i as a NUL-terminated UTF-8 string in out (size bytes; cut at a
 * character when it does not fit). */
void nd_word_utf8(const nd_words *w, size_t i, char *out, size_t size);

/* The sorted set of the words' code points (td_build_vocab). 0, or -1 when out of memory. */
int nd_build_vocab(const nd_words *w, nd_vocab *v);
/* From the UTF-8 string of its characters, as stored in a checkpoint's
 * "vocab" (old checkpoints' ASCII strings read the same); -1 when invalid. */
int nd_vocab_from_chars(const char *chars, nd_vocab *v);
/* The inverse: the characters as a UTF-8 string to free; NULL when out of memory. */
char *nd_vocab_chars(const nd_vocab *v);
void nd_free_vocab(nd_vocab *v);
/* Writes token t (0..size-1) as shown (UTF-8, or v->stop for 0) at out,
 * which holds at least 8 bytes; returns the bytes written (no NUL). */
int nd_token_text(const nd_vocab *v, int32_t t, char *out);

/* The notebook's shuffle and split of the words (td_split_notebook:
 * Python's random.seed(seed); random.shuffle(words)), and its points
 * n1 = int(0.8 n), n2 = int(0.9 n). */
void nd_shuffle_words(nd_words *w, uint64_t seed, size_t *n1, size_t *n2);

/* Examples of words[begin, end): every word of length L gives L + 1
 * (context, next) pairs. Returns 0, or -1 when out of memory, block is
 * outside 1..ND_MAX_BLOCK or a character is not in v. */
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
