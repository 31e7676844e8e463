/* text_data.h - makemore.py's data on any UTF-8 text: items are the lines
 * (Python's str.splitlines) stripped of Unicode white space (str.strip),
 * empty ones dropped; the vocabulary is the sorted set of code points, token
 * i + 1 for the i-th, token 0 the start/stop token (no character); every item
 * becomes one padded sequence pair as makemore.py's CharDataset:
 *
 *     item "emma", block 6:  x = 0 e m m a 0     y = e m m a 0 -1
 *
 * and the split is makemore.py's (torch.randperm, the last min(1000, 10%)
 * items to test) or the notebook's (Python's shuffle with seed 42,
 * 80/10/10). Invalid UTF-8 is an error naming the line and the column, and
 * so is the NUL character (binary data, and a checkpoint's vocabulary, a C
 * string, cannot hold it). */
#ifndef EX_TEXT_DATA_H
#define EX_TEXT_DATA_H

#include "libtensor.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TD_ERR_SIZE 512
#define TD_IGNORE (-1) /* a target after the stop token: not counted in the loss */
#define TD_MAX_CODE_POINT 0x10FFFFu
#define TD_NUL_MESSAGE "the NUL character (U+0000) is not text (a checkpoint's vocabulary cannot store it)"

/* The items, as UTF-8 back to back (the file's own bytes, stripped in
 * place: one byte of memory per byte of text). */
typedef struct td_items {
    char *text;     /* every item's UTF-8, valid, no NUL, not NUL-terminated */
    size_t *start;  /* item i is text[start[i] .. start[i + 1]); n + 1 entries */
    size_t n;       /* items */
    size_t max_len; /* longest item, in code points */
} td_items;

/* Parses text[0..len) (name: the file's name in messages). 0, or -1 with
 * a message in err: "names.txt:3:5: invalid UTF-8 (byte 0xff)" (line and
 * column from 1, the column in characters), the same place and
 * TD_NUL_MESSAGE for a NUL character, "names.txt: no items (the
 * file is empty or has only blank lines)", out of memory. */
int td_parse(const char *text, size_t len, const char *name, td_items *out, char err[TD_ERR_SIZE]);
/* Reads path with the programs' rules (files.h: ex_read_input, at most
 * max_bytes, a non-regular file read without blocking) and parses it. The
 * UTF-8 is checked chunk by chunk as it is read, so a bad byte stops the
 * read there, with td_parse's message. */
int td_read(const char *path, size_t max_bytes, td_items *out, char err[TD_ERR_SIZE]);
void td_free_items(td_items *it);
/* Item i's UTF-8 and its length in bytes. */
static inline const char *td_item(const td_items *it, size_t i) { return it->text + it->start[i]; }
static inline size_t td_bytes(const td_items *it, size_t i) { return it->start[i + 1] - it->start[i]; }
/* Item i's length in code points (counted: O(its bytes)). */
size_t td_len(const td_items *it, size_t i);

/* The code point at *p, in UTF-8 known to be valid (an item's text);
 * moves *p past it. Walk an item with
 *     for (const char *p = td_item(it, i), *end = p + td_bytes(it, i); p < end;) {
 *         uint32_t c = td_next_char(&p); ...
 *     } */
static inline uint32_t td_next_char(const char **p)
{
    const unsigned char *s = (const unsigned char *)*p;
    if (s[0] < 0x80) {
        *p += 1;
        return s[0];
    }
    int n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : 2;
    uint32_t c = s[0] & (0x7Fu >> n);
    for (int k = 1; k < n; k++)
        c = c << 6 | (s[k] & 0x3Fu);
    *p += n;
    return c;
}

/* The vocabulary: chars[t - 1] is token t's code point, sorted ascending. */
typedef struct td_vocab {
    uint32_t *chars;
    int n;    /* distinct code points */
} td_vocab;

/* The sorted set of the items' code points. 0, or -1 when out of memory. */
int td_build_vocab(const td_items *it, td_vocab *v);
/* From the UTF-8 string of its characters in order (a checkpoint's
 * "vocab"): 0, or -1 unless it is valid UTF-8, strictly ascending, non-empty. */
int td_vocab_from_utf8(const char *s, td_vocab *v);
/* The characters as a NUL-terminated UTF-8 string to free; NULL when out of memory. */
char *td_vocab_utf8(const td_vocab *v);
void td_free_vocab(td_vocab *v);
/* vocab size as makemore.py's: characters + 1. */
static inline int td_vocab_size(const td_vocab *v) { return v->n + 1; }
/* Token of code point c (1..n), or -1 when c is not in v. */
int td_token(const td_vocab *v, uint32_t c);

/* Writes code point c as UTF-8 into out (at least 4 bytes); returns the bytes written. */
int td_utf8_put(uint32_t c, char *out);

/* Rows for items order[0..count): x and y (count, block) as CharDataset:
 * x = [0, t1..tL, 0...], y = [t1..tL, 0, -1...]. 0; -1 with a message in
 * err naming the item when a character is not in v or an item is longer
 * than block - 1. */
int td_encode(const td_items *it, const size_t *order, size_t count, const td_vocab *v, int block, int32_t *x,
              int32_t *y, char err[TD_ERR_SIZE]);

/* makemore.py's split: with g seeded as torch.manual_seed(seed),
 * torch.randperm(n) from g; test = its last min(1000, int(0.1 n)) items,
 * train the rest, in permutation order. order gets the permutation (n
 * entries), *n_train the train count. False when n < 10 (no test item:
 * makemore.py would train on nothing) or n > LT_RANDPERM_MAX or out of memory. */
bool td_split_makemore(lt_rng *g, size_t n, size_t *order, size_t *n_train);
/* The notebook's split: order = 0..n-1 shuffled as Python's random.seed(seed);
 * random.shuffle; train [0, n1), dev [n1, n2), test [n2, n) with n1 =
 * int(0.8 n), n2 = int(0.9 n). */
void td_split_notebook(uint64_t seed, size_t n, size_t *order, size_t *n1, size_t *n2);
/* The notebook's split points alone: n1 = int(0.8 n), n2 = int(0.9 n) (Python, in double). */
void td_split_points(size_t n, size_t *n1, size_t *n2);

/* Whether the tokens tok[0..len) spell an item of the sorted set (see
 * td_sort_items): makemore.py's "contains". */
typedef struct td_item_set {
    const td_items *it;
    const td_vocab *v;
    size_t *sorted; /* item numbers sorted by their code points */
    size_t n;
} td_item_set;
/* The set of items order[0..count); false when out of memory. */
bool td_item_set_init(td_item_set *s, const td_items *it, const td_vocab *v, const size_t *order, size_t count);
bool td_item_set_has(const td_item_set *s, const int32_t *tok, size_t len);
void td_item_set_free(td_item_set *s);

#endif
