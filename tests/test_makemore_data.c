/* test_makemore_data.c - makemore's data (examples/common/text_data): items,
 * vocabulary, padded rows and splits equal to what makemore.py's own code
 * makes (tests/data/golden_makemore_data.h, from tools/golden_makemore_data.py
 * with PyTorch 1.13), invalid UTF-8 named by line and column, and the
 * refusals (no items, too few for a split, characters outside a vocabulary,
 * items longer than the block). */
#include "test_support.h"

#include "data/golden_makemore_data.h"
#include "text_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void parse_golden(td_items *it)
{
    char err[TD_ERR_SIZE] = "";
    int r = td_parse(G_MM_TEXT, sizeof G_MM_TEXT - 1, "g.txt", it, err);
    if (r != 0)
        fail_msg("%s", err);
}

static void test_items_and_vocab_as_makemore(void **state)
{
    (void)state;
    td_items it;
    parse_golden(&it);
    assert_int_equal(it.n, G_MM_ITEMS);
    for (size_t i = 0; i < it.n; i++)
        assert_int_equal(td_len(&it, i), G_MM_LEN[i]);
    assert_int_equal(it.max_len + 1, G_MM_BLOCK);
    /* "  Émile \r\n": stripped; "Mary Ann" keeps its inner space */
    const char *first = td_item(&it, 0);
    assert_int_equal(td_next_char(&first), 0xC9);
    td_vocab v;
    assert_int_equal(td_build_vocab(&it, &v), 0);
    assert_int_equal(v.n, (int)(sizeof G_MM_VOCAB / sizeof *G_MM_VOCAB));
    assert_memory_equal(v.chars, G_MM_VOCAB, sizeof G_MM_VOCAB);
    assert_int_equal(td_vocab_size(&v), v.n + 1);
    assert_int_equal(td_token(&v, ' '), 1);
    assert_int_equal(td_token(&v, '.'), 2); /* '.' is a character like any other: token 0 is none */
    assert_int_equal(td_token(&v, 0x674E), td_token(&v, 0x5C0F) + 1);
    assert_int_equal(td_token(&v, 'q'), -1);
    /* the vocabulary as a checkpoint stores it, and back */
    char *s = td_vocab_utf8(&v);
    assert_non_null(s);
    td_vocab back;
    assert_int_equal(td_vocab_from_utf8(s, &back), 0);
    assert_int_equal(back.n, v.n);
    assert_memory_equal(back.chars, v.chars, sizeof *v.chars * (size_t)v.n);
    free(s);
    td_free_vocab(&back);
    assert_int_equal(td_vocab_from_utf8("ba", &back), -1);       /* not sorted */
    assert_int_equal(td_vocab_from_utf8("aa", &back), -1);       /* repeated */
    assert_int_equal(td_vocab_from_utf8("a\xff", &back), -1);    /* not UTF-8 */
    assert_int_equal(td_vocab_from_utf8("", &back), -1);         /* empty */
    td_free_vocab(&v);
    td_free_items(&it);
}

/* Checks rows x, y of count items against the golden ones. */
static void assert_rows(const int32_t *x, const int32_t *y, const int32_t *gx, const int32_t *gy, size_t count)
{
    for (size_t k = 0; k < count * G_MM_BLOCK; k++) {
        if (x[k] != gx[k] || y[k] != gy[k])
            fail_msg("row %zu position %zu: x %d y %d, makemore.py has x %d y %d", k / G_MM_BLOCK, k % G_MM_BLOCK,
                     x[k], y[k], gx[k], gy[k]);
    }
}

static void test_split_and_rows_as_makemore(void **state)
{
    (void)state;
    td_items it;
    td_vocab v;
    parse_golden(&it);
    assert_int_equal(td_build_vocab(&it, &v), 0);
    lt_rng g;
    lt_rng_seed(&g, G_MM_SEED);
    size_t order[G_MM_ITEMS], n_train;
    assert_true(td_split_makemore(&g, it.n, order, &n_train));
    assert_int_equal(n_train, G_MM_N_TRAIN);
    assert_int_equal(it.n - n_train, G_MM_N_TEST);
    for (size_t k = 0; k < n_train; k++)
        assert_int_equal(order[k], G_MM_TRAIN_ITEMS[k]);
    for (size_t k = n_train; k < it.n; k++)
        assert_int_equal(order[k], G_MM_TEST_ITEMS[k - n_train]);
    int32_t x[G_MM_ITEMS * G_MM_BLOCK], y[G_MM_ITEMS * G_MM_BLOCK];
    char err[TD_ERR_SIZE];
    assert_int_equal(td_encode(&it, order, n_train, &v, G_MM_BLOCK, x, y, err), 0);
    assert_rows(x, y, G_MM_TRAIN_X, G_MM_TRAIN_Y, n_train);
    assert_int_equal(td_encode(&it, order + n_train, G_MM_N_TEST, &v, G_MM_BLOCK, x, y, err), 0);
    assert_rows(x, y, G_MM_TEST_X, G_MM_TEST_Y, G_MM_N_TEST);

    /* a longer block pads more; a shorter one refuses the longest item, naming it */
    assert_int_equal(td_encode(&it, order, 1, &v, G_MM_BLOCK + 2, x, y, err), 0);
    assert_int_equal(y[G_MM_BLOCK + 1], TD_IGNORE);
    assert_int_equal(td_encode(&it, order, n_train, &v, G_MM_BLOCK - 1, x, y, err), -1);
    assert_non_null(strstr(err, "more than the block size"));

    /* makemore.py's "contains": train items are found, others not */
    td_item_set set;
    assert_true(td_item_set_init(&set, &it, &v, order, n_train));
    int32_t emma[4] = {td_token(&v, 'e'), td_token(&v, 'm'), td_token(&v, 'm'), td_token(&v, 'a')};
    bool emma_in_train = false;
    for (size_t k = 0; k < n_train; k++)
        emma_in_train |= order[k] == G_MM_ITEMS - 1; /* "emma" is the last line */
    assert_int_equal(td_item_set_has(&set, emma, 4), emma_in_train);
    assert_false(td_item_set_has(&set, emma, 3)); /* "emm" */
    assert_false(td_item_set_has(&set, emma, 0));
    td_item_set_free(&set);
    td_free_vocab(&v);
    td_free_items(&it);
}

static void test_randperm_splits(void **state)
{
    (void)state;
    for (int c = 0; c < G_MM_SPLITS; c++) {
        size_t n = (size_t)G_MM_SPLIT_N[c], n_train;
        size_t *order = malloc(n * sizeof *order);
        assert_non_null(order);
        lt_rng g;
        lt_rng_seed(&g, G_MM_SPLIT_SEED[c]);
        assert_true(td_split_makemore(&g, n, order, &n_train));
        size_t test = n - n_train;
        assert_int_equal(test, G_MM_SPLIT_TEST[c]);
        for (size_t k = 0; k < 8; k++) {
            if (G_MM_SPLIT_HEAD[c * 8 + k] >= 0)
                assert_int_equal(order[n_train + k], G_MM_SPLIT_HEAD[c * 8 + k]);
            if (G_MM_SPLIT_TAIL[c * 8 + k] >= 0)
                assert_int_equal(order[n - 8 + k], G_MM_SPLIT_TAIL[c * 8 + k]);
        }
        free(order);
    }
    /* fewer than 10 items leave no test item: refused (makemore.py would train on nothing) */
    size_t order[9], n_train;
    lt_rng g;
    lt_rng_seed(&g, 1);
    assert_false(td_split_makemore(&g, 9, order, &n_train));
}

static void test_notebook_split(void **state)
{
    (void)state;
    size_t order[G_MM_NOTEBOOK_N], n1, n2;
    td_split_notebook(42, G_MM_NOTEBOOK_N, order, &n1, &n2);
    for (size_t k = 0; k < G_MM_NOTEBOOK_N; k++)
        assert_int_equal(order[k], G_MM_NOTEBOOK_ORDER[k]);
    assert_int_equal(n1, 45); /* int(0.8 * 57) */
    assert_int_equal(n2, 51); /* int(0.9 * 57) */
}

/* text must be refused with a message containing want. */
static void assert_refused(const char *text, const char *want)
{
    td_items it;
    char err[TD_ERR_SIZE] = "";
    assert_int_equal(td_parse(text, strlen(text), "d.txt", &it, err), -1);
    if (!strstr(err, want))
        fail_msg("'%s' does not contain '%s'", err, want);
    assert_null(it.text);
}

/* The items are the file's own bytes, stripped in place: white space of
 * several bytes at either end (U+3000, U+2003, U+00A0) goes, white space
 * inside stays, and every line break Python's splitlines knows (CRLF,
 * U+2028, U+0085) ends an item. */
static void test_items_stripped_in_place(void **state)
{
    (void)state;
    const char text[] = "\xe3\x80\x80 \xc3\x89mile \xe2\x80\x83\r\nMary\xc2\xa0" "Ann\xe2\x80\xa8x\xc2\x85\xc2\xa0\n"
                        "\xe6\x9d\x8e\xe2\x80\x83";
    const char *want[] = {"\xc3\x89mile", ("Mary\xc2\xa0" "Ann"), "x", "\xe6\x9d\x8e"};
    const size_t chars[] = {5, 8, 1, 1};
    td_items it;
    char err[TD_ERR_SIZE];
    assert_int_equal(td_parse(text, sizeof text - 1, "s.txt", &it, err), 0);
    assert_int_equal(it.n, 4);
    for (size_t i = 0; i < it.n; i++) {
        assert_int_equal(td_bytes(&it, i), strlen(want[i]));
        assert_memory_equal(td_item(&it, i), want[i], strlen(want[i]));
        assert_int_equal(td_len(&it, i), chars[i]);
    }
    assert_int_equal(it.max_len, 8);
    /* the item set orders by code point: U+00C9 before 'M' would be wrong */
    td_vocab v;
    assert_int_equal(td_build_vocab(&it, &v), 0);
    size_t order[] = {0, 1, 2, 3};
    td_item_set set;
    assert_true(td_item_set_init(&set, &it, &v, order, 4));
    int32_t x[] = {td_token(&v, 'x')}, li[] = {td_token(&v, 0x674E)}, m[] = {td_token(&v, 'M')};
    int32_t stop[] = {0}, emile[] = {td_token(&v, 0xC9), td_token(&v, 'm'), td_token(&v, 'i'), td_token(&v, 'l'),
                                     td_token(&v, 'e')};
    assert_true(td_item_set_has(&set, x, 1));
    assert_true(td_item_set_has(&set, li, 1));
    assert_true(td_item_set_has(&set, emile, 5));
    assert_false(td_item_set_has(&set, emile, 4));
    assert_false(td_item_set_has(&set, m, 1));
    assert_false(td_item_set_has(&set, stop, 1));
    td_item_set_free(&set);
    td_free_vocab(&v);
    td_free_items(&it);
}

static void test_invalid_utf8_named(void **state)
{
    (void)state;
    assert_refused("ab\ncd\xff" "e\n", "d.txt:2:3: invalid UTF-8 (byte 0xff)");
    assert_refused("\xc3\xa9\xe6\x9d\x8e\x80\n", "d.txt:1:3:");        /* columns count characters */
    assert_refused("a\r\nb\rc\xc0\xaf\n", "d.txt:3:2: invalid UTF-8 (byte 0xc0)"); /* overlong '/' */
    assert_refused("ok\n\xed\xa0\x80\n", "d.txt:2:1:");                /* a surrogate */
    assert_refused("\xf4\x90\x80\x80", "d.txt:1:1:");                  /* above U+10FFFF */
    assert_refused("abc\xe6\x9d", "d.txt:1:4:");                       /* cut short at the end */
    assert_refused("\xe6" "a\x8e", "d.txt:1:1:");                      /* a lead byte without its tail */
    assert_refused("", "d.txt: no items");
    assert_refused(" \n\t\r\n\xe3\x80\x80\n", "d.txt: no items");     /* only white space (U+3000 too) */
}

static void assert_read_as_parsed(const char *text, size_t len);

static void test_read_file(void **state)
{
    (void)state;
    td_items it;
    char err[TD_ERR_SIZE];
    /* a tab inside an item is a character; the last line needs no newline */
    const char *path = ts_temp_file(0, "a\tb\n\nzz");
    assert_int_equal(td_read(path, 1 << 20, &it, err), 0);
    assert_int_equal(it.n, 2);
    assert_int_equal(td_len(&it, 0), 3);
    assert_int_equal(td_bytes(&it, 0), 3);
    assert_memory_equal(td_item(&it, 0), "a\tb", 3);
    assert_memory_equal(td_item(&it, 1), "zz", 2);
    td_free_items(&it);
    assert_int_equal(td_read(path, 4, &it, err), -1); /* over the size limit, named */
    assert_non_null(strstr(err, "--max-data-mb"));
    assert_int_equal(td_read("/nonexistent/x.txt", 1 << 20, &it, err), -1);
    assert_non_null(strstr(err, "/nonexistent/x.txt"));
    char nul[] = { /* a NUL is not: refused where it is, by the parse and the read */'a', '\n', 'b', '\0', '\n'};
    assert_int_equal(td_parse(nul, sizeof nul, "n", &it, err), -1);
    assert_string_equal(err, "n:2:2: " TD_NUL_MESSAGE);
    assert_read_as_parsed(nul, sizeof nul);
}

/* Writes text[0..len) to a file and reads it back: td_read's verdict (and
 * message) must be td_parse's, whatever chunk the bytes arrive in. */
static void assert_read_as_parsed(const char *text, size_t len)
{
    const char *path = ts_temp_file(1, "");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    td_items a, b;
    char ea[TD_ERR_SIZE] = "", eb[TD_ERR_SIZE] = "";
    int ra = td_read(path, 64 << 20, &a, ea), rb = td_parse(text, len, path, &b, eb);
    assert_int_equal(ra, rb);
    assert_string_equal(ea, eb);
    if (ra == 0) {
        assert_int_equal(a.n, b.n);
        assert_memory_equal(a.start, b.start, sizeof *a.start * (a.n + 1));
        assert_memory_equal(a.text, b.text, a.start[a.n]);
        td_free_items(&a);
        td_free_items(&b);
    }
}

static void test_read_checks_chunks(void **state)
{
    (void)state;
    /* files are read in chunks of 1 MiB: put characters across the first boundary */
    const size_t chunk = 1u << 20, len = chunk + 64;
    char *text = malloc(len);
    assert_non_null(text);
    for (size_t k = 0; k < len; k++)
        text[k] = k % 7 == 6 ? '\n' : (k % 3 == 2 ? '\r' : 'a');
    static const char *const AT_BOUNDARY[] = {
        "\xe6\x9d\x8e",     /* a CJK character: valid */
        "\xf0\x9f\x98\x80", /* 4 bytes: valid */
        "\xe6" "a" "\x8e",   /* a lead byte without its tail */
        "\xe0\x80\x80",     /* an overlong form */
        "\xed\xa0\x80",     /* a surrogate */
        "\r\n",             /* a CRLF cut in two: one line break */
        "\xff",              /* a byte that is never UTF-8 */
    };
    for (size_t c = 0; c < sizeof AT_BOUNDARY / sizeof *AT_BOUNDARY; c++) {
        size_t n = strlen(AT_BOUNDARY[c]);
        for (size_t shift = 1; shift < n || (n == 1 && shift == 1); shift++) {
            char *t = malloc(len);
            assert_non_null(t);
            memcpy(t, text, len);
            memcpy(t + chunk - shift, AT_BOUNDARY[c], n);
            assert_read_as_parsed(t, len);
            free(t);
        }
    }
    /* a character cut short by the end of the file, after a full chunk */
    memcpy(text + len - 2, "\xe6\x9d", 2);
    assert_read_as_parsed(text, len);
    free(text);
}

static void test_utf8_put(void **state)
{
    (void)state;
    char buf[4];
    assert_int_equal(td_utf8_put('a', buf), 1);
    assert_int_equal(td_utf8_put(0xE9, buf), 2);
    assert_memory_equal(buf, "\xc3\xa9", 2);
    assert_int_equal(td_utf8_put(0x674E, buf), 3);
    assert_memory_equal(buf, "\xe6\x9d\x8e", 3);
    assert_int_equal(td_utf8_put(0x1F600, buf), 4);
    assert_memory_equal(buf, "\xf0\x9f\x98\x80", 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_items_and_vocab_as_makemore),
        cmocka_unit_test(test_split_and_rows_as_makemore),
        cmocka_unit_test(test_randperm_splits),
        cmocka_unit_test(test_notebook_split),
        cmocka_unit_test(test_items_stripped_in_place),
        cmocka_unit_test(test_invalid_utf8_named),
        cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_read_checks_chunks),
        cmocka_unit_test(test_utf8_put),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
