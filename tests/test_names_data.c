/* test_names_data.c - the makemore data pipeline of the examples: reading,
 * vocabulary, Python-compatible shuffle and split, examples. */
#include "test_support.h"

#include "names_data.h"

#include <stdio.h>
#include <string.h>

static const char *TEN = "emma\nolivia\nava\nisabella\nsophia\ncharlotte\nmia\namelia\nharper\nevelyn\n";

static void test_read_and_vocab(void **state)
{
    (void)state;
    char err[ND_ERR_SIZE];
    nd_words w;
    /* CRLF, blank lines and a missing final newline are all fine */
    assert_int_equal(nd_read_words(ts_temp_file(0, "emma\r\n\r\nava\n\nbob"), &w, err), 0);
    assert_int_equal(w.n, 3);
    assert_string_equal(w.word[0], "emma");
    assert_string_equal(w.word[1], "ava");
    assert_string_equal(w.word[2], "bob");
    nd_vocab v;
    nd_build_vocab(&w, &v);
    assert_int_equal(v.size, 7); /* . a b e m o v */
    assert_memory_equal(v.itos, ".abemov", 7);
    assert_int_equal(v.stoi['a'], 1);
    assert_int_equal(v.stoi['o'], 5);
    assert_int_equal(v.stoi['z'], -1);
    nd_vocab back;
    assert_int_equal(nd_vocab_from_chars("abemov", &back), 0);
    assert_memory_equal(back.itos, v.itos, 7);
    assert_int_equal(nd_vocab_from_chars("ba", &back), -1);  /* not sorted */
    assert_int_equal(nd_vocab_from_chars("a.b", &back), -1); /* reserved */
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
    assert_non_null(strstr(err, "no words"));
    assert_int_equal(nd_read_words(ts_temp_file(0, "\n\r\n\n"), &w, err), -1);
    assert_non_null(strstr(err, "no words"));
    assert_int_equal(nd_read_words(ts_temp_file(0, "emma\nst.john\n"), &w, err), -1);
    assert_non_null(strstr(err, ":2: the character '.' is reserved"));
    assert_int_equal(nd_read_words(ts_temp_file(0, "emma\nab\x01x\n"), &w, err), -1);
    assert_non_null(strstr(err, ":2: unreadable byte 0x01 at column 3"));
    assert_int_equal(nd_read_words(ts_temp_file(0, "caf\xc3\xa9\n"), &w, err), -1);
    assert_non_null(strstr(err, "unreadable byte 0xc3"));
}

static void test_shuffle_split_examples(void **state)
{
    (void)state;
    char err[ND_ERR_SIZE];
    nd_words w;
    assert_int_equal(nd_read_words(ts_temp_file(0, TEN), &w, err), 0);
    nd_shuffle_words(&w, 42);
    /* python3: random.seed(42); random.shuffle(ten) */
    const char *want[] = {"amelia", "isabella", "ava", "harper", "charlotte", "mia", "evelyn", "sophia", "emma", "olivia"};
    for (int i = 0; i < 10; i++)
        assert_string_equal(w.word[i], want[i]);
    size_t n1, n2;
    nd_split_points(10, &n1, &n2);
    assert_int_equal(n1, 8);
    assert_int_equal(n2, 9);
    nd_split_points(32033, &n1, &n2);
    assert_int_equal(n1, 25626);
    assert_int_equal(n2, 28829);
    nd_vocab v;
    nd_build_vocab(&w, &v);
    nd_dataset d;
    assert_int_equal(nd_build_dataset(&w, 2, 3, &v, 3, &d), 0); /* "ava" */
    assert_int_equal(d.n, 4);
    int a = v.stoi['a'], vv = v.stoi['v'];
    const int32_t x[] = {0, 0, 0, 0, 0, a, 0, a, vv, a, vv, a};
    const int32_t y[] = {a, vv, a, 0};
    assert_memory_equal(d.x, x, sizeof x);
    assert_memory_equal(d.y, y, sizeof y);
    nd_free_dataset(&d);
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
    nd_build_vocab(&w, &v);
    assert_int_equal(v.size, 27);
    nd_shuffle_words(&w, 42);
    const char *first[] = {"yuheng", "diondre", "xavien", "jori", "juanluis"};
    for (int i = 0; i < 5; i++)
        assert_string_equal(w.word[i], first[i]);
    assert_string_equal(w.word[w.n - 1], "yovani");
    size_t n1, n2;
    nd_split_points(w.n, &n1, &n2);
    size_t want[3] = {182625, 22655, 22866}, bounds[4] = {0, n1, n2, w.n};
    for (int s = 0; s < 3; s++) {
        nd_dataset d;
        assert_int_equal(nd_build_dataset(&w, bounds[s], bounds[s + 1], &v, 3, &d), 0);
        assert_int_equal(d.n, want[s]);
        nd_free_dataset(&d);
    }
    nd_free_words(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_and_vocab),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_shuffle_split_examples),
        cmocka_unit_test(test_names_txt_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
