/* test_examples_files.c - examples/common/files.c on its own: which files of
 * a command line are refused and with which message (the same file through
 * links and unresolved paths, non-regular outputs, the declared --save over
 * --load), inputs read chunk by chunk with a size limit (also across chunk
 * boundaries in the names reader's CRLF check), outputs rewritten in place
 * with their mode, and an atomic replacement keeping a link and the mode
 * while the umask is narrowed only in between. The programs' use of it is
 * tested end to end in test_program_files. */
#define _DEFAULT_SOURCE /* mkfifo, symlink, umask */

#include "test_support.h"

#include "files.h"
#include "names_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[TS_DIR_SIZE];

static int setup(void **state)
{
    (void)state;
    return ts_make_dir(dir, "lt_exfiles");
}

static int teardown(void **state)
{
    (void)state;
    return ts_remove_dir(dir);
}

/* ex_files_problem's message for files[0..n-1], or "" when they pass. */
static const char *problem(const ex_file *files, int n)
{
    static char why[EX_FILE_ERR_SIZE];
    why[0] = '\0';
    if (!ex_files_problem(files, n, why, sizeof why))
        why[0] = '\0';
    return why;
}

static void test_same_files(void **state)
{
    (void)state;
    ts_write_text(dir, "data.txt", "ann\n");
    ts_write_text(dir, "ck.st", "x");
    assert_int_equal(symlink("ck.st", ts_path(dir, "link.st")), 0);
    char data[256], ck[256], link[256], other[256], again[256];
    snprintf(data, sizeof data, "%s", ts_path(dir, "data.txt"));
    snprintf(ck, sizeof ck, "%s", ts_path(dir, "ck.st"));
    snprintf(link, sizeof link, "%s", ts_path(dir, "link.st"));
    snprintf(other, sizeof other, "%s/./new.csv", dir);
    snprintf(again, sizeof again, "%s", ts_path(dir, "new.csv"));

    const ex_file fine[] = {EX_IN("--data", data), EX_IN_REGULAR("--load", ck), EX_OUT_OVER("--save", link, "--load"),
                            EX_OUT("--log", other), EX_OUT("--result", NULL)};
    assert_string_equal(problem(fine, 5), "");
    const ex_file save_over_data[] = {EX_IN("--data", data), EX_OUT("--save", data)};
    char want[1024];
    snprintf(want, sizeof want, "--save %s is the same file as --data %s", data, data);
    assert_string_equal(problem(save_over_data, 2), want);
    /* the output is named first whatever the order of the table */
    const ex_file log_first[] = {EX_OUT("--log", link), EX_IN_REGULAR("--load", ck)};
    snprintf(want, sizeof want, "--log %s is the same file as --load %s", link, ck);
    assert_string_equal(problem(log_first, 2), want);
    /* --save over --load is allowed only where declared */
    const ex_file undeclared[] = {EX_IN_REGULAR("--load", ck), EX_OUT("--save", link)};
    assert_non_null(strstr(problem(undeclared, 2), "is the same file as --load"));
    const ex_file wrong_flag[] = {EX_IN("--data", ck), EX_OUT_OVER("--save", link, "--load")};
    assert_non_null(strstr(problem(wrong_flag, 2), "is the same file as --data"));
    /* two new outputs at one place */
    const ex_file two_new[] = {EX_OUT("--log", other), EX_OUT("--result", again)};
    snprintf(want, sizeof want, "--result %s is the same file as --log %s", again, other);
    assert_string_equal(problem(two_new, 2), want);
    /* two inputs may be one file; a missing input is left to its open */
    const ex_file inputs[] = {EX_IN("--data", ck), EX_IN_REGULAR("--load", link), EX_IN("--x", "/nonexistent/x")};
    assert_string_equal(problem(inputs, 3), "");
}

static void test_unusable_files(void **state)
{
    (void)state;
    char fifo[256];
    snprintf(fifo, sizeof fifo, "%s", ts_path(dir, "fifo"));
    assert_int_equal(mkfifo(fifo, 0644), 0);
    const ex_file out_fifo[] = {EX_OUT("--save", fifo)};
    assert_non_null(strstr(problem(out_fifo, 1), ": not a regular file (a FIFO); outputs are written only to regular "
                                                 "files or new paths"));
    const ex_file load_fifo[] = {EX_IN_REGULAR("--load", fifo)};
    assert_non_null(strstr(problem(load_fifo, 1), ": not a regular file (a FIFO)"));
    const ex_file data_fifo[] = {EX_IN("--data", fifo)}; /* text may come from a pipe */
    assert_string_equal(problem(data_fifo, 1), "");
    const ex_file dev[] = {EX_OUT("--log", "/dev/null")};
    assert_string_equal(problem(dev, 1), "--log /dev/null: not a regular file (a character device); outputs are "
                                         "written only to regular files or new paths");
    const ex_file empty[] = {EX_OUT("--save", "")};
    assert_string_equal(problem(empty, 1), "--save: the path is empty");
    const ex_file no_dir[] = {EX_OUT("--save", "/nonexistent/dir/x.st")};
    assert_string_equal(
        problem(no_dir, 1),
        "--save /nonexistent/dir/x.st: cannot write there: /nonexistent/dir: No such file or directory");
    const ex_file slash[] = {EX_OUT("--save", "newdir/")};
    assert_string_equal(problem(slash, 1), "--save newdir/: names a directory, not a file");
    char loop[256];
    snprintf(loop, sizeof loop, "%s", ts_path(dir, "loop"));
    assert_int_equal(symlink("loop", loop), 0);
    const ex_file looped[] = {EX_OUT("--log", loop)};
    assert_non_null(strstr(problem(looped, 1), "Too many levels of symbolic links"));
}

/* ---- inputs ----------------------------------------------------------------------- */

typedef struct chunks {
    size_t calls, bytes;
    bool ended;
    size_t refuse_after; /* refuse the chunk that passes this many bytes (0: never) */
} chunks;

static bool count_chunk(void *user, const char *bytes, size_t n, char *err, size_t size)
{
    chunks *c = user;
    (void)bytes;
    c->calls++;
    c->ended |= n == 0;
    c->bytes += n;
    if (c->refuse_after && c->bytes > c->refuse_after) {
        snprintf(err, size, "refused at %zu", c->bytes);
        return false;
    }
    return true;
}

/* dir/name: size bytes of 'a'. */
static const char *write_size(const char *name, size_t size)
{
    const char *path = ts_path(dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < size; i++)
        fputc('a', f);
    fclose(f);
    return path;
}

static void test_read_input(void **state)
{
    (void)state;
    char err[EX_FILE_ERR_SIZE];
    size_t len;
    const char *path = write_size("three.txt", 3u << 20); /* 3 MiB: three chunks */
    chunks c = {0};
    char *text = ex_read_input(path, 3u << 20, count_chunk, &c, &len, err, sizeof err);
    assert_non_null(text);
    assert_int_equal(len, 3u << 20);
    assert_int_equal(c.bytes, 3u << 20);
    assert_true(c.calls >= 4 && c.ended); /* at least 3 chunks, then the end */
    assert_int_equal(text[len], '\0');
    free(text);
    /* one byte over the limit: refused before reading */
    c = (chunks){0};
    assert_null(ex_read_input(path, (3u << 20) - 1, count_chunk, &c, &len, err, sizeof err));
    assert_int_equal(c.calls, 0);
    assert_non_null(strstr(err, "three.txt: more than 3145727 bytes of data (the limit of --max-data-mb"));
    assert_null(ex_read_input(path, 2u << 20, NULL, NULL, &len, err, sizeof err));
    assert_non_null(strstr(err, "three.txt: more than 2 MiB of data (the limit of --max-data-mb; raise it to read"));
    /* the check stops the read at the chunk it refuses */
    c = (chunks){.refuse_after = 1};
    assert_null(ex_read_input(path, 3u << 20, count_chunk, &c, &len, err, sizeof err));
    assert_string_equal(err, "refused at 1048576");
    assert_int_equal(c.calls, 1);
    /* a pipe has no size: the limit is found while reading */
    assert_null(ex_read_input("/dev/zero", 1u << 20, NULL, NULL, &len, err, sizeof err));
    assert_string_equal(err, "/dev/zero: more than 1 MiB of data (the limit of --max-data-mb; raise it to read a "
                             "larger file)");
    /* a directory, a missing file, and the type check for checkpoints */
    assert_null(ex_read_input(dir, 1u << 20, NULL, NULL, &len, err, sizeof err));
    assert_non_null(strstr(err, ": read error: Is a directory"));
    assert_int_equal(ex_open_input("/dev/null", true, NULL, err, sizeof err), -1);
    assert_string_equal(err, "/dev/null: not a regular file (a character device)");
    int fd = ex_open_input(path, true, NULL, err, sizeof err);
    assert_true(fd >= 0);
    close(fd);
}

/* The names programs' reader (text_data) checks bytes as they come: a CRLF
 * split across two chunks is one line end (the line numbers after it say so),
 * a lone CR ends a line (Python's splitlines), wherever it is. */
static void test_names_across_chunks(void **state)
{
    (void)state;
    char err[ND_ERR_SIZE], last[8];
    nd_words w;
    for (int lone = 0; lone < 2; lone++) {
        const char *path = ts_path(dir, "crlf.txt");
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        for (int i = 0; i < 262143; i++) /* 1048572 bytes */
            fputs("abc\n", f);
        fputs("abc\r", f); /* the CR is byte 1048575, the last of the first chunk */
        fputs(lone ? "x\n" : "\nzz\n", f);
        fclose(f);
        assert_int_equal(nd_read_words_max(path, 2u << 20, &w, err), 0);
        assert_int_equal(w.n, 262145);
        nd_word_utf8(&w, w.n - 2, last, sizeof last);
        assert_string_equal(last, "abc");
        nd_word_utf8(&w, w.n - 1, last, sizeof last);
        assert_string_equal(last, lone ? "x" : "zz");
        nd_free_words(&w);
        f = fopen(path, "ab"); /* a bad byte after it: the line counts the CRLF once, a lone CR as a line */
        assert_non_null(f);
        fputs("\xff\n", f);
        fclose(f);
        assert_int_equal(nd_read_words_max(path, 2u << 20, &w, err), -1);
        assert_non_null(strstr(err, "crlf.txt:262146:1: invalid UTF-8"));
    }
    assert_int_equal(nd_read_words_max(ts_temp_file(0, "ann\r"), 1u << 20, &w, err), 0); /* a final CR */
    nd_word_utf8(&w, 0, last, sizeof last);
    assert_string_equal(last, "ann");
    nd_free_words(&w);
}

/* ---- outputs -------------------------------------------------------------------------- */

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void test_open_output(void **state)
{
    (void)state;
    char err[EX_FILE_ERR_SIZE];
    const char *path = ts_path(dir, "out.csv");
    ts_write_text(dir, "out.csv", "old contents\n");
    assert_int_equal(chmod(path, 0640), 0);
    FILE *f = ex_open_output(path, err, sizeof err);
    assert_non_null(f);
    fputs("new\n", f);
    assert_int_equal(fclose(f), 0);
    char text[64];
    ts_read_text(path, text, sizeof text);
    assert_string_equal(text, "new\n");
    assert_int_equal(mode_of(path), 0640);
    const char *fifo = ts_path(dir, "wfifo");
    assert_int_equal(mkfifo(fifo, 0644), 0);
    assert_null(ex_open_output(fifo, err, sizeof err)); /* no reader: refused at once, not waited on */
    assert_non_null(strstr(err, "wfifo: not a regular file (a FIFO)"));
    assert_null(ex_open_output("/dev/null", err, sizeof err));
    assert_string_equal(err, "/dev/null: not a regular file (a character device); outputs are written only to "
                             "regular files or new paths");
}

static void test_replace(void **state)
{
    (void)state;
    char err[EX_FILE_ERR_SIZE], link[256], target[256];
    snprintf(target, sizeof target, "%s", ts_path(dir, "model.st"));
    snprintf(link, sizeof link, "%s", ts_path(dir, "current.st"));
    ts_write_text(dir, "model.st", "old");
    assert_int_equal(chmod(target, 0600), 0);
    assert_int_equal(symlink("model.st", link), 0);
    mode_t old_umask = umask(022);
    ex_replace r;
    assert_true(ex_replace_begin(link, &r, err, sizeof err));
    assert_string_equal(r.target, target); /* the link's target is what gets replaced */
    assert_true(r.existed);
    assert_int_equal(r.mode, 0600);
    mode_t during = umask(0);
    umask(during);
    assert_int_equal(during, 0177); /* a new file is created at most 0600 */
    /* what a writer does: a new file beside the target, renamed over it */
    char tmp[EX_PATH_SIZE + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", r.target);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs("new", f);
    fclose(f);
    assert_int_equal(mode_of(tmp), 0600);
    assert_int_equal(rename(tmp, r.target), 0);
    assert_true(ex_replace_end(&r, true, err, sizeof err));
    assert_int_equal(umask(old_umask), 022); /* restored */
    assert_int_equal(mode_of(target), 0600);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));

    /* a new file: the umask is left alone */
    assert_true(ex_replace_begin(ts_path(dir, "fresh.st"), &r, err, sizeof err));
    assert_false(r.existed);
    assert_true(ex_replace_end(&r, false, err, sizeof err));
    /* a FIFO is never replaced */
    assert_false(ex_replace_begin(ts_path(dir, "wfifo"), &r, err, sizeof err));
    assert_non_null(strstr(err, "wfifo: not a regular file (a FIFO)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_files),  cmocka_unit_test(test_unusable_files),
        cmocka_unit_test(test_read_input),  cmocka_unit_test(test_names_across_chunks),
        cmocka_unit_test(test_open_output), cmocka_unit_test(test_replace),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
