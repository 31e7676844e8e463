/* fuzz_names_data.c - the makemore text pipeline (examples/common/names_data.c) on
 * arbitrary bytes: read the words, build the vocabulary, round-trip it
 * through its checkpoint form, shuffle, split and build the examples, with
 * the invariants every later stage relies on checked.
 *
 * Input: byte 0 = context length - 1 (mod 64, as mlp_names allows 1..64),
 * byte 1 = shuffle seed, the rest = the file's contents. */
#include "fuzz_support.h"
#include "names_data.h"

#include <stdlib.h>
#include <string.h>

static void check_words(const nd_words *w)
{
    FUZZ_CHECK(w->n > 0, "nd_read_words succeeded with no words");
    for (size_t i = 0; i < w->n; i++) {
        size_t len = strlen(w->word[i]);
        FUZZ_CHECK(len > 0, "word %zu is empty", i);
        for (size_t k = 0; k < len; k++) {
            unsigned char c = (unsigned char)w->word[i][k];
            FUZZ_CHECK(c >= 0x20 && c <= 0x7e && c != '.', "word %zu has byte 0x%02x", i, c);
        }
    }
}

static void check_vocab(const nd_words *w, const nd_vocab *v)
{
    FUZZ_CHECK(v->size >= 2 && v->size <= ND_MAX_VOCAB, "vocabulary size %d", v->size);
    FUZZ_CHECK(v->itos[0] == '.' && v->stoi['.'] == 0, "'.' is not index 0");
    for (int i = 1; i < v->size; i++) {
        FUZZ_CHECK(v->stoi[(unsigned char)v->itos[i]] == i, "stoi/itos disagree at %d", i);
        FUZZ_CHECK(i == 1 || (unsigned char)v->itos[i - 1] < (unsigned char)v->itos[i], "itos not sorted at %d", i);
    }
    for (size_t i = 0; i < w->n; i++)
        for (const unsigned char *p = (const unsigned char *)w->word[i]; *p; p++)
            FUZZ_CHECK(v->stoi[*p] > 0, "character 0x%02x of word %zu not in the vocabulary", *p, i);
    /* the checkpoint form (itos[1..] as a string) gives the same vocabulary */
    char chars[ND_MAX_VOCAB + 1];
    memcpy(chars, v->itos + 1, (size_t)v->size - 1);
    chars[v->size - 1] = '\0';
    nd_vocab back;
    FUZZ_CHECK(nd_vocab_from_chars(chars, &back) == 0, "vocabulary '%s' does not round-trip", chars);
    FUZZ_CHECK(back.size == v->size && memcmp(back.itos, v->itos, (size_t)v->size) == 0 &&
                   memcmp(back.stoi, v->stoi, sizeof v->stoi) == 0,
               "vocabulary '%s' round-trips differently", chars);
}

static void check_dataset(const nd_words *w, size_t begin, size_t end, const nd_vocab *v, int block)
{
    nd_dataset d;
    FUZZ_CHECK(nd_build_dataset(w, begin, end, v, block, &d) == 0, "nd_build_dataset failed");
    size_t want = 0, row = 0;
    for (size_t i = begin; i < end; i++)
        want += strlen(w->word[i]) + 1;
    FUZZ_CHECK(d.n == want && d.block == block, "dataset has %zu rows (want %zu)", d.n, want);
    for (size_t i = begin; i < end; i++) {
        size_t len = strlen(w->word[i]);
        for (size_t k = 0; k <= len; k++, row++) { /* context = the previous `block` characters */
            int32_t y = k < len ? v->stoi[(unsigned char)w->word[i][k]] : 0;
            FUZZ_CHECK(d.y[row] == y, "row %zu: target %d, want %d", row, d.y[row], y);
            for (int c = 0; c < block; c++) {
                long src = (long)k - block + c;
                int32_t x = src < 0 ? 0 : v->stoi[(unsigned char)w->word[i][src]];
                FUZZ_CHECK(d.x[row * (size_t)block + (size_t)c] == x, "row %zu col %d: %d, want %d", row, c,
                           d.x[row * (size_t)block + (size_t)c], x);
            }
        }
    }
    nd_free_dataset(&d);
}

/* nd_vocab_from_chars on arbitrary text: refuses, or gives a consistent vocabulary. */
static void check_vocab_from_chars(const uint8_t *data, size_t size)
{
    char s[300];
    size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
    memcpy(s, data, n);
    s[n] = '\0';
    nd_vocab v;
    if (nd_vocab_from_chars(s, &v) != 0)
        return;
    FUZZ_CHECK(v.size == (int)strlen(s) + 1, "vocab_from_chars size %d for %zu characters", v.size, strlen(s));
    for (int i = 1; i < v.size; i++)
        FUZZ_CHECK(v.stoi[(unsigned char)v.itos[i]] == i && v.itos[i] != '.', "vocab_from_chars inconsistent at %d",
                   i);
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
        FUZZ_CHECK(w.n == 0 && !w.word && !w.text, "failed read left words behind");
        return 0;
    }
    check_words(&w);
    nd_vocab v;
    nd_build_vocab(&w, &v);
    check_vocab(&w, &v);
    nd_shuffle_words(&w, seed);
    size_t n1, n2;
    nd_split_points(w.n, &n1, &n2);
    FUZZ_CHECK(n1 <= n2 && n2 <= w.n, "split points %zu %zu of %zu", n1, n2, w.n);
    check_dataset(&w, 0, n1, &v, block);
    check_dataset(&w, n1, n2, &v, block);
    check_dataset(&w, n2, w.n, &v, block);
    nd_free_words(&w);
    return 0;
}

FUZZ_ENTRY(fuzz_names_data)
