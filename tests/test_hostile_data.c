#define _POSIX_C_SOURCE 200809L /* clock_gettime, getrusage */
/* test_hostile_data.c - the names programs' data loader (names_data.c on
 * text_data.c) and the programs (mlp_names, deep_names) on hostile files:
 * empty, blank, a directory, a missing path, invalid UTF-8 of every kind
 * (stray, overlong, surrogate, too high, cut short), the bytes that are
 * ordinary text (NUL, control characters, '.', UTF-8), a single 1 MB line,
 * a million lines, files too small for a training or a dev split. Each gives one clear message naming the
 * file (and line and column), or works in memory proportional to the data.
 *
 * With LT_HOSTILE_BIG=line (=lines) it also runs a 100 MB line (10 million
 * lines) through the whole pipeline (read, vocabulary, shuffle, examples) and prints
 * the time and the peak RSS; tools/hostile_data.sh runs that mode under
 * /usr/bin/time -v from .ci/run. */
#include "test_support.h"

#include "names_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[TS_DIR_SIZE];

static const char *write_bytes(const char *name, const char *bytes, size_t n)
{
    const char *path = ts_path(dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    return path;
}

static int setup(void **state)
{
    (void)state;
    return ts_make_dir(dir, "lt_hostile");
}

static int teardown(void **state)
{
    (void)state;
    return ts_remove_dir(dir);
}

typedef struct bad_file {
    const char *name, *bytes;
    size_t len;
    const char *message; /* after "<path>" */
} bad_file;

#define B(s) s, sizeof s - 1
#define NO_ITEMS ": no items (the file is empty or has only blank lines)"
static const bad_file BAD[] = {
    {"empty.txt", B(""), NO_ITEMS},
    {"blank.txt", B("\n\r\n\n\r\n"), NO_ITEMS},
    {"spaces.txt", B("  \n\t\n\xc2\xa0\n"), NO_ITEMS}, /* stripped as Python's str.strip: nothing left */
    {"invalid_utf8.txt", B("\xff\xfe" "ab\n"), ":1:1: invalid UTF-8 (byte 0xff); the data must be UTF-8 text"},
    {"high.txt", B("abc\x80\n"), ":1:4: invalid UTF-8 (byte 0x80)"},
    {"latin1.txt", B("zoe\nz\xf6" "e\n"), ":2:2: invalid UTF-8 (byte 0xf6)"},
    {"overlong.txt", B("a\xc0\xae\n"), ":1:2: invalid UTF-8 (byte 0xc0)"},
    {"surrogate.txt", B("ok\nab\xed\xa0\x80\n"), ":2:3: invalid UTF-8 (byte 0xed)"},
    {"too_high.txt", B("\xf4\x90\x80\x80\n"), ":1:1: invalid UTF-8 (byte 0xf4)"},
    {"nul.txt", B("emma\nab\0cd\n"), ":2:3: the NUL character (U+0000) is not text"},
    {"only_nul.bin", B("\0\0\0\0"), ":1:1: the NUL character (U+0000) is not text"},
    {"cut_at_end.txt", B("ab\xe6\x97"), ":1:3: invalid UTF-8 (byte 0xe6)"},
};

/* Bytes the ASCII-only reader refused and text_data reads as makemore.py
 * does: control characters but NUL, DEL, '.', lone CRs (a line break), UTF-8. */
static const struct {
    const char *name, *bytes;
    size_t len, words;
} ACCEPTED[] = {
    {"del.txt", B("ab\x7f\n"), 1},
    {"tab.txt", B("ann\tbob\n"), 1},            {"lone_cr.txt", B("ann\rbob\n"), 2},
    {"escape.txt", B("a\x1b[31mred\n"), 1},     {"dot.txt", B("emma\n.\n"), 2},
    {"utf8.txt", B("zoe\nz\xc3\xb6" "e\n"), 2}, {"cjk.txt", B("\xe6\x97\xa5\xe6\x9c\xac\n"), 1},
};

static void test_bad_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        const char *path = write_bytes(BAD[i].name, BAD[i].bytes, BAD[i].len);
        char err[ND_ERR_SIZE] = "", want[ND_ERR_SIZE];
        nd_words w;
        assert_int_equal(nd_read_words(path, &w, err), -1);
        snprintf(want, sizeof want, "%s%s", path, BAD[i].message);
        if (strncmp(err, want, strlen(want)) != 0)
            fail_msg("%s: \"%s\", want \"%s\"", BAD[i].name, err, want);
        assert_null(w.order);
        printf("  %-18s %s\n", BAD[i].name, err);
    }
    for (size_t i = 0; i < sizeof ACCEPTED / sizeof *ACCEPTED; i++) {
        const char *path = write_bytes(ACCEPTED[i].name, ACCEPTED[i].bytes, ACCEPTED[i].len);
        char err[ND_ERR_SIZE] = "";
        nd_words w;
        if (nd_read_words(path, &w, err) != 0)
            fail_msg("%s: %s", ACCEPTED[i].name, err);
        assert_int_equal(w.n, ACCEPTED[i].words);
        nd_free_words(&w);
    }
}

/* A context longer than the builder's buffer is refused, not overrun. */
static void test_block_limits(void **state)
{
    (void)state;
    char err[ND_ERR_SIZE];
    nd_words w;
    assert_int_equal(nd_read_words(write_bytes("two.txt", B("ab\ncd\n")), &w, err), 0);
    nd_vocab v;
    assert_int_equal(nd_build_vocab(&w, &v), 0);
    nd_dataset d;
    assert_int_equal(nd_build_dataset(&w, 0, 2, &v, ND_MAX_BLOCK + 1, &d), -1);
    assert_null(d.x);
    assert_int_equal(nd_build_dataset(&w, 0, 2, &v, 0, &d), -1);
    assert_int_equal(nd_build_dataset(&w, 0, 2, &v, ND_MAX_BLOCK, &d), 0);
    assert_int_equal(d.n, 6);
    nd_free_dataset(&d);
    nd_free_vocab(&v);
    nd_free_words(&w);
}

static void test_paths(void **state)
{
    (void)state;
    char err[ND_ERR_SIZE], want[ND_ERR_SIZE];
    nd_words w;
    assert_int_equal(nd_read_words(dir, &w, err), -1); /* a directory */
    snprintf(want, sizeof want, "%s: read error: Is a directory", dir);
    assert_string_equal(err, want);
    printf("  directory          %s\n", err);
    const char *missing = ts_path(dir, "missing.txt");
    assert_int_equal(nd_read_words(missing, &w, err), -1);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", missing);
    assert_string_equal(err, want);
    printf("  missing            %s\n", err);
    assert_int_equal(nd_read_words("/dev/null", &w, err), -1); /* a device: empty */
    assert_string_equal(err, "/dev/null" NO_ITEMS);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Writes `lines` lines of `len` letters each (cycling a..z). */
static const char *write_lines(const char *name, size_t lines, size_t len)
{
    const char *path = ts_path(dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    char *line = malloc(len + 1);
    assert_non_null(line);
    for (size_t i = 0; i < lines; i++) {
        for (size_t k = 0; k < len; k++)
            line[k] = (char)('a' + (i + k) % 26);
        line[len] = '\n';
        assert_int_equal(fwrite(line, 1, len + 1, f), len + 1);
    }
    free(line);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* The whole pipeline on path: read, vocabulary, shuffle, split, examples
 * (each split built and freed in turn, as mlp_names does). */
static void pipeline(const char *what, const char *path, size_t want_words, size_t want_chars)
{
    double t0 = now();
    char err[ND_ERR_SIZE];
    nd_words w;
    if (nd_read_words(path, &w, err) != 0)
        fail_msg("%s: %s", what, err);
    assert_int_equal(w.n, want_words);
    nd_vocab v;
    assert_int_equal(nd_build_vocab(&w, &v), 0);
    assert_int_equal(v.size, 27);
    size_t n1, n2, rows = 0;
    nd_shuffle_words(&w, 42, &n1, &n2);
    size_t cuts[4] = {0, n1, n2, w.n};
    for (int s = 0; s < 3; s++) {
        nd_dataset d;
        assert_int_equal(nd_build_dataset(&w, cuts[s], cuts[s + 1], &v, 3, &d), 0);
        rows += d.n;
        nd_free_dataset(&d);
    }
    assert_int_equal(rows, want_chars + want_words); /* one example per character and one per end */
    nd_free_vocab(&v);
    nd_free_words(&w);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    printf("  %-26s %9.1f MB file: %zu words, %zu examples in %.2f s; peak RSS so far %ld MB\n", what,
           (double)sb.st_size / 1e6, want_words, rows, now() - t0, peak_rss_kb() / 1024);
}

static void test_long_line_and_many_lines(void **state)
{
    (void)state;
    pipeline("one 1 MB line", write_lines("long.txt", 1, 1000000), 1, 1000000);
    pipeline("1 million lines", write_lines("many.txt", 1000000, 5), 1000000, 5000000);
}

static void test_big(void **state)
{
    (void)state;
    const char *big = getenv("LT_HOSTILE_BIG");
    if (!big) {
        printf("  SKIPPED: set LT_HOSTILE_BIG=line or =lines for the 100 MB line or the 10 million lines "
               "(tools/hostile_data.sh)\n");
        return;
    }
    if (!strcmp(big, "line")) {
        pipeline("one 100 MB line", write_lines("long100.txt", 1, 100000000), 1, 100000000);
        unlink(ts_path(dir, "long100.txt"));
    } else {
        pipeline("10 million lines", write_lines("many10m.txt", 10000000, 5), 10000000, 50000000);
        unlink(ts_path(dir, "many10m.txt"));
    }
}

/* The programs themselves: one line on stderr naming the file, exit status
 * 1, never a crash, and the same message from both. Every program evaluates
 * the training and the dev split, so a file too small for either fails
 * before anything is built, with or without training; a two-word file once
 * printed "dev nan" (mlp_names) or "dev -nan" (deep_names) with status 0. */
static void expect_program_errors(const char *prog, const char *bin)
{
    write_bytes("one_word.txt", B("abc\n"));
    write_bytes("two_words.txt", B("emma\nolivia\n"));
    write_bytes("five_words.txt", B("emma\nolivia\nava\nmia\nzoe\n"));
    struct {
        const char *data, *args, *message;
    } cases[] = {
        {"invalid_utf8.txt", "--steps 10", ":1:1: invalid UTF-8 (byte 0xff)"},
        {"nul.txt", "--steps 10", ":2:3: the NUL character (U+0000) is not text"},
        {"latin1.txt", "--steps 10", ":2:2: invalid UTF-8 (byte 0xf6)"},
        {"empty.txt", "--steps 10", ": no items"},
        {".", "--steps 10", ": read error: Is a directory"},
        {"missing.txt", "--steps 10", ": cannot open: No such file or directory"},
        {"long.txt", "--steps 10", "long.txt: 1 word(s) leave the training split (80%) empty; training needs at "
                                   "least 2 words"},
        {"one_word.txt", "--steps 1", "one_word.txt: 1 word(s) leave the training split"},
        {"one_word.txt", "--steps 0", "one_word.txt: 1 word(s) leave the training split"},
        {"two_words.txt", "--steps 0", "two_words.txt: 2 word(s) leave the dev split (10%) empty; the dev loss "
                                       "needs at least 6 words"},
        {"two_words.txt", "--steps 5", "two_words.txt: 2 word(s) leave the dev split"},
        {"five_words.txt", "--steps 5", "five_words.txt: 5 word(s) leave the dev split"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char args[512], out[1024], err[1024], want[1100];
        snprintf(args, sizeof args, "--data %s %s --quiet --samples 1 --batch 4", cases[i].data, cases[i].args);
        int st = ts_run_capture(dir, bin, args, out, sizeof out, err, sizeof err);
        snprintf(want, sizeof want, "%s: ", prog);
        if (st != 1 || !strstr(err, cases[i].message) || strncmp(err, want, strlen(want)) || strstr(out, "nan"))
            fail_msg("%s --data %s %s: status %d, stderr \"%s\", want \"%s\"", prog, cases[i].data, cases[i].args,
                     st, err, cases[i].message);
    }
    /* six words: every split has a word, and both programs run */
    write_bytes("six_words.txt", B("emma\nolivia\nava\nmia\nzoe\nlily\n"));
    char out[2048], err[1024];
    int st = ts_run_capture(dir, bin, "--data six_words.txt --steps 5 --batch 4 --samples 1 --quiet", out, sizeof out,
                            err, sizeof err);
    if (st != 0 || strstr(out, "nan"))
        fail_msg("%s --data six_words.txt: status %d, stdout \"%s\", stderr \"%s\"", prog, st, out, err);
}

#ifdef MLP_NAMES_BIN
static void test_mlp_names(void **state)
{
    (void)state;
    expect_program_errors("mlp_names", MLP_NAMES_BIN);
}
#endif

#ifdef DEEP_NAMES_BIN
static void test_deep_names(void **state)
{
    (void)state;
    expect_program_errors("deep_names", DEEP_NAMES_BIN);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_block_limits),
        cmocka_unit_test(test_long_line_and_many_lines),
        cmocka_unit_test(test_big),
#ifdef MLP_NAMES_BIN
        cmocka_unit_test(test_mlp_names),
#endif
#ifdef DEEP_NAMES_BIN
        cmocka_unit_test(test_deep_names),
#endif
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
