/* fuzz_names_data.c - the notebook's view of the text data
 * (examples/common/names_data.c, on text_data.c) on arbitrary bytes: read
 * the words, build the vocabulary, round-trip it through its checkpoint
 * form, shuffle, split and build the context-window examples, with the
 * invariants every later stage relies on checked. The UTF-8 reading itself
 * is fuzz_text_data's.
 *
 * Input: byte 0 = context length - 1 (mod 64, as mlp_names allows 1..64),
 * byte 1 = shuffle seed, the rest = the file's contents. */
#include "fuzz_support.h"
#include "names_data.h"

#include <stdlib.h>
#include <string.h>

/* Word i's code points into a new array (nd_word_len of them). */
static uint32_t *word_chars(const nd_words *w, size_t i)
{
    uint32_t *cp = malloc(sizeof *cp * (nd_word_len(w, i) + 1));
    FUZZ_CHECK(cp != NULL, "out of memory");
    size_t k = 0;
    for (const char *p = nd_word(w, i), *end = p + nd_word_bytes(w, i); p < end;)
        cp[k++] = td_next_char(&p);
    FUZZ_CHECK(k == nd_word_len(w, i), "word %zu: %zu characters decoded, nd_word_len %zu", i, k, nd_word_len(w, i));
    return cp;
}

static void check_words(const nd_words *w)
{
    FUZZ_CHECK(w->n > 0, "nd_read_words succeeded with no words");
    for (size_t i = 0; i < w->n; i++)
        FUZZ_CHECK(nd_word_len(w, i) > 0, "word %zu is empty", i);
}

static void check_vocab(const nd_words *w, const nd_vocab *v)
{
    FUZZ_CHECK(v->size >= 2 && v->size == v->chars.n + 1, "vocabulary size %d", v->size);
    bool dot = false;
    for (int t = 1; t < v->size; t++) {
        FUZZ_CHECK(td_token(&v->chars, v->chars.chars[t - 1]) == t, "token/character disagree at %d", t);
        FUZZ_CHECK(t == 1 || v->chars.chars[t - 2] < v->chars.chars[t - 1], "characters not sorted at %d", t);
        dot = dot || v->chars.chars[t - 1] == '.';
    }
    FUZZ_CHECK(!strcmp(v->stop, dot ? ND_STOP_MARK : ND_STOP_DOT), "token 0 shown as '%s'", v->stop);
    for (size_t i = 0; i < w->n; i++) {
        uint32_t *cp = word_chars(w, i);
        for (size_t k = 0; k < nd_word_len(w, i); k++)
            FUZZ_CHECK(td_token(&v->chars, cp[k]) > 0, "character U+%04X of word %zu not in the vocabulary",
                       (unsigned)cp[k], i);
        free(cp);
    }
    /* the checkpoint form (the characters as UTF-8) gives the same vocabulary */
    char *chars = nd_vocab_chars(v);
    FUZZ_CHECK(chars != NULL, "out of memory");
    nd_vocab back;
    FUZZ_CHECK(nd_vocab_from_chars(chars, &back) == 0, "vocabulary '%s' does not round-trip", chars);
    FUZZ_CHECK(back.size == v->size && !strcmp(back.stop, v->stop) &&
                   memcmp(back.chars.chars, v->chars.chars, (size_t)v->chars.n * sizeof *v->chars.chars) == 0,
               "vocabulary '%s' round-trips differently", chars);
    nd_free_vocab(&back);
    free(chars);
}

static void check_dataset(const nd_words *w, size_t begin, size_t end, const nd_vocab *v, int block)
{
    nd_dataset d;
    FUZZ_CHECK(nd_build_dataset(w, begin, end, v, block, &d) == 0, "nd_build_dataset failed");
    size_t want = 0, row = 0;
    for (size_t i = begin; i < end; i++)
        want += nd_word_len(w, i) + 1;
    FUZZ_CHECK(d.n == want && d.block == block, "dataset has %zu rows (want %zu)", d.n, want);
    for (size_t i = begin; i < end; i++) {
        size_t len = nd_word_len(w, i);
        uint32_t *cp = word_chars(w, i);
        for (size_t k = 0; k <= len; k++, row++) { /* context = the previous `block` characters */
            int32_t y = k < len ? td_token(&v->chars, cp[k]) : 0;
            FUZZ_CHECK(d.y[row] == y, "row %zu: target %d, want %d", row, d.y[row], y);
            for (int c = 0; c < block; c++) {
                long src = (long)k - block + c;
                int32_t x = src < 0 ? 0 : td_token(&v->chars, cp[src]);
                FUZZ_CHECK(d.x[row * (size_t)block + (size_t)c] == x, "row %zu col %d: %d, want %d", row, c,
                           d.x[row * (size_t)block + (size_t)c], x);
            }
        }
        free(cp);
    }
    nd_free_dataset(&d);
}

/* nd_vocab_from_chars on arbitrary text: refuses, or gives a consistent
 * vocabulary whose tokens are shown as the string's characters. */
static void check_vocab_from_chars(const uint8_t *data, size_t size)
{
    char s[300];
    size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
    memcpy(s, data, n);
    s[n] = '\0';
    nd_vocab v;
    if (nd_vocab_from_chars(s, &v) != 0)
        return;
    char shown[sizeof s + 1] = "";
    size_t len = 0;
    for (int t = 1; t < v.size; t++)
        len += (size_t)nd_token_text(&v, t, shown + len);
    FUZZ_CHECK(len == strlen(s) && memcmp(shown, s, len) == 0, "vocab_from_chars shows '%.*s' for '%s'", (int)len,
               shown, s);
    nd_free_vocab(&v);
}

int fuzz_names_data(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int block = 1 + data[0] % 64;
    uint64_t seed = data[1];
    data += 2;
    size -= 2;
    check_vocab_from_chars(data, size);
    const char *path = fuzz_scratch_file(data, size);
    if (!path)
        return 0;
    char err[ND_ERR_SIZE] = "";
    nd_words w;
    if (nd_read_words(path, &w, err) != 0) {
        FUZZ_CHECK(err[0] != '\0' && strstr(err, path) != NULL, "failure without a message naming the file: '%s'",
                   err);
        FUZZ_CHECK(w.n == 0 && !w.order && !w.items.text, "failed read left words behind");
        return 0;
    }
    check_words(&w);
    nd_vocab v;
    FUZZ_CHECK(nd_build_vocab(&w, &v) == 0, "out of memory");
    check_vocab(&w, &v);
    size_t n1, n2;
    nd_shuffle_words(&w, seed, &n1, &n2);
    FUZZ_CHECK(n1 <= n2 && n2 <= w.n, "split points %zu %zu of %zu", n1, n2, w.n);
    check_dataset(&w, 0, n1, &v, block);
    check_dataset(&w, n1, n2, &v, block);
    check_dataset(&w, n2, w.n, &v, block);
    nd_free_vocab(&v);
    nd_free_words(&w);
    return 0;
}

FUZZ_ENTRY(fuzz_names_data)
