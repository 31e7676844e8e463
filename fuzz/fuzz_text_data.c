/* fuzz_text_data.c - makemore's text data (examples/common/text_data.c) on
 * arbitrary bytes: parse them (and read them back from a file, chunk-checked),
 * build the vocabulary, round-trip it through its checkpoint form, encode
 * every item as makemore.py's padded rows, split them, and look every item up
 * in its set, with the invariants every later stage relies on checked.
 *
 * Input: byte 0 = split seed, the rest = the file's contents. */
#include "fuzz_support.h"
#include "text_data.h"

#include <stdlib.h>
#include <string.h>

/* Python's str.isspace subset that str.strip removes at the ends. */
static int is_stripped(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

/* Item i's code points into cp (td_len(it, i) of them); each one written
 * back as UTF-8 must give the item's bytes again (canonical, valid UTF-8). */
static void decode_item(const td_items *it, size_t i, uint32_t *cp)
{
    const char *p = td_item(it, i), *end = p + td_bytes(it, i);
    size_t k = 0;
    while (p < end) {
        const char *at = p;
        char back[4];
        cp[k] = td_next_char(&p);
        int n = td_utf8_put(cp[k], back);
        FUZZ_CHECK(p <= end && p - at == n && memcmp(back, at, (size_t)n) == 0,
                   "item %zu: character %zu is not canonical UTF-8", i, k);
        k++;
    }
    FUZZ_CHECK(k == td_len(it, i), "item %zu: td_len %zu, decoded %zu", i, td_len(it, i), k);
}

static void check_items(const td_items *it)
{
    FUZZ_CHECK(it->n > 0, "td_parse succeeded with no items");
    size_t longest = 0;
    uint32_t *cp = malloc(sizeof *cp * (it->max_len + 1));
    FUZZ_CHECK(cp != NULL, "out of memory");
    for (size_t i = 0; i < it->n; i++) {
        size_t len = td_len(it, i);
        FUZZ_CHECK(len <= it->max_len, "item %zu: %zu characters, max_len %zu", i, len, it->max_len);
        decode_item(it, i, cp);
        FUZZ_CHECK(len > 0 && it->start[i + 1] > it->start[i], "item %zu is empty", i);
        FUZZ_CHECK(!is_stripped(cp[0]) && !is_stripped(cp[len - 1]), "item %zu is not stripped", i);
        for (size_t k = 0; k < len; k++)
            FUZZ_CHECK(cp[k] <= TD_MAX_CODE_POINT && !(cp[k] >= 0xD800 && cp[k] <= 0xDFFF) && cp[k] != '\n' &&
                           cp[k] != '\r' && cp[k] != 0x2028,
                       "item %zu has code point U+%04X", i, (unsigned)cp[k]);
        longest = len > longest ? len : longest;
    }
    free(cp);
    FUZZ_CHECK(longest == it->max_len, "max_len %zu, longest item %zu", it->max_len, longest);
}

static void check_vocab(const td_items *it, const td_vocab *v)
{
    for (int t = 1; t < v->n; t++)
        FUZZ_CHECK(v->chars[t - 1] < v->chars[t], "vocabulary not sorted at %d", t);
    size_t seen = 0; /* every character has its token, and every token is some character's */
    for (int t = 1; t <= v->n; t++) {
        bool found = false;
        for (const char *p = it->text, *end = p + it->start[it->n]; p < end && !found;)
            found = td_next_char(&p) == v->chars[t - 1];
        seen += found;
    }
    FUZZ_CHECK(seen == (size_t)v->n, "%zu of %d vocabulary characters occur in the items", seen, v->n);
    for (const char *p = it->text, *end = p + it->start[it->n]; p < end;) {
        uint32_t c = td_next_char(&p);
        int t = td_token(v, c);
        FUZZ_CHECK(t >= 1 && t <= v->n && v->chars[t - 1] == c, "U+%04X has token %d", (unsigned)c, t);
    }
    char *s = td_vocab_utf8(v);
    FUZZ_CHECK(s != NULL, "td_vocab_utf8 failed");
    td_vocab back;
    /* no NUL character (refused by the parse): the string form round-trips */
    FUZZ_CHECK(v->chars[0] != 0, "U+0000 in the vocabulary");
    FUZZ_CHECK(td_vocab_from_utf8(s, &back) == 0 && back.n == v->n &&
                   memcmp(back.chars, v->chars, sizeof *v->chars * (size_t)v->n) == 0,
               "vocabulary does not round-trip");
    td_free_vocab(&back);
    free(s);
}

static void check_rows(const td_items *it, const td_vocab *v, const size_t *order, size_t count)
{
    int block = (int)it->max_len + 1;
    int32_t *x = malloc(sizeof *x * (count ? count : 1) * (size_t)block);
    int32_t *y = malloc(sizeof *y * (count ? count : 1) * (size_t)block);
    char err[TD_ERR_SIZE];
    FUZZ_CHECK(x && y && td_encode(it, order, count, v, block, x, y, err) == 0, "td_encode failed: %s", err);
    for (size_t r = 0; r < count; r++) {
        size_t len = td_len(it, order[r]);
        const int32_t *xr = x + r * (size_t)block, *yr = y + r * (size_t)block;
        FUZZ_CHECK(xr[0] == 0 && yr[len] == 0, "row %zu: start or stop token missing", r);
        for (size_t k = 0; k < (size_t)block; k++) {
            if (k < len)
                FUZZ_CHECK(yr[k] >= 1 && xr[k + 1] == yr[k], "row %zu position %zu: x and y disagree", r, k);
            if (k > len)
                FUZZ_CHECK(yr[k] == TD_IGNORE && xr[k] == 0, "row %zu position %zu: padding", r, k);
        }
    }
    free(x);
    free(y);
}

int fuzz_text_data(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    td_items it, again;
    char err[TD_ERR_SIZE] = "", err2[TD_ERR_SIZE] = "";
    int parsed = td_parse(text, len, "fuzz", &it, err);
    const char *path = fuzz_scratch_file(data + 1, len);
    if (path) { /* the chunk-checked read agrees with the parse */
        int read = td_read(path, (size_t)1 << 20, &again, err2);
        FUZZ_CHECK(read == parsed, "td_read %d, td_parse %d (%s / %s)", read, parsed, err2, err);
        if (read == 0) {
            FUZZ_CHECK(again.n == it.n && memcmp(again.start, it.start, sizeof *it.start * (it.n + 1)) == 0 &&
                           memcmp(again.text, it.text, it.start[it.n]) == 0,
                       "td_read and td_parse give other items");
            td_free_items(&again);
        }
    }
    if (parsed != 0) {
        FUZZ_CHECK(err[0] != '\0', "td_parse failed without a message");
        return 0;
    }
    check_items(&it);
    td_vocab v;
    FUZZ_CHECK(td_build_vocab(&it, &v) == 0 && v.n >= 1, "td_build_vocab failed");
    check_vocab(&it, &v);
    size_t *order = malloc(sizeof *order * it.n), n_train = 0;
    FUZZ_CHECK(order != NULL, "out of memory");
    lt_rng g;
    lt_rng_seed(&g, data[0]);
    if (td_split_makemore(&g, it.n, order, &n_train)) {
        size_t tenth = (size_t)((double)it.n * 0.1), want = tenth < 1000 ? tenth : 1000;
        FUZZ_CHECK(it.n - n_train == want, "test split of %zu items (want %zu)", it.n - n_train, want);
    } else {
        FUZZ_CHECK(it.n < 10, "no makemore split of %zu items", it.n);
        size_t n1, n2;
        td_split_notebook(data[0], it.n, order, &n1, &n2);
        n_train = it.n;
    }
    check_rows(&it, &v, order, it.n);
    td_item_set set;
    FUZZ_CHECK(td_item_set_init(&set, &it, &v, order, n_train), "td_item_set_init failed");
    for (size_t r = 0; r < n_train; r++) { /* every training item is found by its tokens */
        size_t i = order[r], n = td_len(&it, i);
        int32_t *tok = malloc(sizeof *tok * n);
        FUZZ_CHECK(tok != NULL, "out of memory");
        const char *p = td_item(&it, i);
        for (size_t k = 0; k < n; k++)
            tok[k] = td_token(&v, td_next_char(&p));
        FUZZ_CHECK(td_item_set_has(&set, tok, n), "training item %zu not found in its set", i);
        free(tok);
    }
    td_item_set_free(&set);
    free(order);
    td_free_vocab(&v);
    td_free_items(&it);
    return 0;
}

FUZZ_ENTRY(fuzz_text_data)
