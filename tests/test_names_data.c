/* test_names_data.c - the names programs' view of the text data: reading
 * (text_data), the notebook's numbering and display of tokens, Python-
 * compatible shuffle and split, context-window examples. */
#include "test_support.h"

#include "names_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *TEN = "emma\nolivia\nava\nisabella\nsophia\ncharlotte\nmia\namelia\nharper\nevelyn\n";

/* Word i of w as UTF-8 (a static buffer: one use at a time). */
static const char *word(const nd_words *w, size_t i)
{
    static char buf[256];
    nd_word_utf8(w, i, buf, sizeof buf);
    return buf;
}

static void test_read_and_vocab(void **state)
{
    (void)state;
    char err[ND_ERR_SIZE];
    nd_words w;
    /* CRLF, blank lines, surrounding spaces and a missing final newline are all fine */
    assert_int_equal(nd_read_words(ts_temp_file(0, "emma\r\n\r\n  ava \n\nbob"), &w, err), 0);
    assert_int_equal(w.n, 3);
    assert_string_equal(word(&w, 0), "emma");
    assert_string_equal(word(&w, 1), "ava");
    assert_string_equal(word(&w, 2), "bob");
    nd_vocab v;
    assert_int_equal(nd_build_vocab(&w, &v), 0);
    assert_int_equal(v.size, 7); /* . a b e m o v: the notebook's numbering */
    assert_string_equal(v.stop, ".");
    const char *shown = ".abemov";
    for (int t = 0; t < 7; t++) {
        char ch[8];
        assert_int_equal(nd_token_text(&v, t, ch), 1);
        assert_int_equal(ch[0], shown[t]);
    }
    assert_int_equal(td_token(&v.chars, 'a'), 1);
    assert_int_equal(td_token(&v.chars, 'o'), 5);
    assert_int_equal(td_token(&v.chars, 'z'), -1);
    char *chars = nd_vocab_chars(&v);
    assert_string_equal(chars, "abemov"); /* the checkpoint form, as before */
    nd_vocab back;
    assert_int_equal(nd_vocab_from_chars(chars, &back), 0);
    assert_int_equal(back.size, 7);
    assert_memory_equal(back.chars.chars, v.chars.chars, 6 * sizeof *v.chars.chars);
    free(chars);
    nd_free_vocab(&back);
    assert_int_equal(nd_vocab_from_chars("ba", &back), -1); /* not sorted */
    assert_int_equal(nd_vocab_from_chars("", &back), -1);
    assert_int_equal(nd_vocab_from_chars("a\xff", &back), -1); /* not UTF-8 */
    nd_free_vocab(&v);
    nd_free_words(&w);
}

/* UTF-8 data: code points sorted as Python's sorted(set(...)); a '.' in the
 * data is an ordinary character, and token 0 is then shown as "<stop>". */
static void test_utf8_and_dot(void **state)
{
    (void)state;
    char err[ND_ERR_SIZE];
    nd_words w;
    assert_int_equal(nd_read_words(ts_temp_file(0, "zoé\n日本\nst.john\n"), &w, err), 0);
    assert_int_equal(w.n, 3);
    assert_string_equal(word(&w, 0), "zoé");
    assert_string_equal(word(&w, 1), "日本");
    nd_vocab v;
    assert_int_equal(nd_build_vocab(&w, &v), 0);
    assert_int_equal(v.size, 12); /* . h j n o s t z é 日 本 + token 0 */
    assert_string_equal(v.stop, ND_STOP_MARK);
    assert_int_equal(td_token(&v.chars, '.'), 1);
    char ch[8];
    assert_int_equal(nd_token_text(&v, 0, ch), 6);
    assert_memory_equal(ch, "<stop>", 6);
    assert_int_equal(nd_token_text(&v, 1, ch), 1);
    assert_int_equal(ch[0], '.');
    assert_int_equal(nd_token_text(&v, 9, ch), 2);
    assert_memory_equal(ch, "é", 2);
    assert_int_equal(nd_token_text(&v, 11, ch), 3);
    assert_memory_equal(ch, "本", 3);
    char *chars = nd_vocab_chars(&v);
    assert_string_equal(chars, ".hjnostzé日本");
    free(chars);
    nd_dataset d;
    assert_int_equal(nd_build_dataset(&w, 1, 2, &v, 2, &d), 0); /* "日本" */
    const int32_t x[] = {0, 0, 0, 10, 10, 11}, y[] = {10, 11, 0};
    assert_int_equal(d.n, 3);
    assert_memory_equal(d.x, x, sizeof x);
    assert_memory_equal(d.y, y, sizeof y);
    nd_free_dataset(&d);
    nd_free_vocab(&v);
    nd_free_words(&w);
}

static void test_bad_files(void **state)
{
    (void)state;
    char err[ND_ERR_SIZE];
    nd_words w;
    assert_int_equal(nd_read_words("/nonexistent/names.txt", &w, err), -1);
    assert_non_null(strstr(err, "/nonexistent/names.txt: cannot open"));
    assert_int_equal(nd_read_words(ts_temp_file(0, ""), &w, err), -1);
    assert_non_null(strstr(err, "no items"));
    assert_int_equal(nd_read_words(ts_temp_file(0, "\n\r\n \t\n"), &w, err), -1);
    assert_non_null(strstr(err, "no items"));
    assert_int_equal(nd_read_words(ts_temp_file(0, "emma\nab\xff x\n"), &w, err), -1);
    assert_non_null(strstr(err, ":2:3: invalid UTF-8 (byte 0xff)"));
    assert_int_equal(nd_read_words(ts_temp_file(0, "caf\xc3\n"), &w, err), -1); /* a cut character */
    assert_non_null(strstr(err, ":1:4: invalid UTF-8 (byte 0xc3)"));
}

static void test_shuffle_split_examples(void **state)
{
    (void)state;
    char err[ND_ERR_SIZE];
    nd_words w;
    assert_int_equal(nd_read_words(ts_temp_file(0, TEN), &w, err), 0);
    size_t n1, n2;
    nd_shuffle_words(&w, 42, &n1, &n2);
    /* python3: random.seed(42); random.shuffle(ten) */
    const char *want[] = {"amelia", "isabella", "ava", "harper", "charlotte", "mia", "evelyn", "sophia", "emma", "olivia"};
    for (int i = 0; i < 10; i++)
        assert_string_equal(word(&w, i), want[i]);
    assert_int_equal(n1, 8);
    assert_int_equal(n2, 9);
    td_split_points(32033, &n1, &n2);
    assert_int_equal(n1, 25626);
    assert_int_equal(n2, 28829);
    nd_vocab v;
    assert_int_equal(nd_build_vocab(&w, &v), 0);
    nd_dataset d;
    assert_int_equal(nd_build_dataset(&w, 2, 3, &v, 3, &d), 0); /* "ava" */
    assert_int_equal(d.n, 4);
    int a = td_token(&v.chars, 'a'), vv = td_token(&v.chars, 'v');
    const int32_t x[] = {0, 0, 0, 0, 0, a, 0, a, vv, a, vv, a};
    const int32_t y[] = {a, vv, a, 0};
    assert_memory_equal(d.x, x, sizeof x);
    assert_memory_equal(d.y, y, sizeof y);
    nd_free_dataset(&d);
    nd_free_vocab(&v);
    nd_free_words(&w);
}

/* The notebook's split of names.txt, when the file is here. */
static void test_names_txt_split(void **state)
{
    (void)state;
    const char *path = LT_SHARED_DIR "/data/names.txt";
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("SKIPPED: names.txt not found at %s\n", path);
        skip();
    }
    fclose(f);
    char err[ND_ERR_SIZE];
    nd_words w;
    assert_int_equal(nd_read_words(path, &w, err), 0);
    assert_int_equal(w.n, 32033);
    nd_vocab v;
    assert_int_equal(nd_build_vocab(&w, &v), 0);
    assert_int_equal(v.size, 27);
    size_t n1, n2;
    nd_shuffle_words(&w, 42, &n1, &n2);
    const char *first[] = {"yuheng", "diondre", "xavien", "jori", "juanluis"};
    for (int i = 0; i < 5; i++)
        assert_string_equal(word(&w, i), first[i]);
    assert_string_equal(word(&w, w.n - 1), "yovani");
    size_t want[3] = {182625, 22655, 22866}, bounds[4] = {0, n1, n2, w.n};
    for (int s = 0; s < 3; s++) {
        nd_dataset d;
        assert_int_equal(nd_build_dataset(&w, bounds[s], bounds[s + 1], &v, 3, &d), 0);
        assert_int_equal(d.n, want[s]);
        nd_free_dataset(&d);
    }
    nd_free_vocab(&v);
    nd_free_words(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_and_vocab),
        cmocka_unit_test(test_utf8_and_dot),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_shuffle_split_examples),
        cmocka_unit_test(test_names_txt_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
