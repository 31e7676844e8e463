/* test_program_files.c - the programs' files (examples/common/files.c), end
 * to end through mlp_names and deep_names: an output that is the same file
 * as an input or another output is refused before any work, naming both
 * flags, and the file is left as it was (also through a symbolic link, a
 * hard link, and for paths that do not exist yet); an output that exists and
 * is not a regular file (a device, a FIFO, a directory) is refused and left
 * alone; a save through a symbolic link keeps the link and replaces its
 * target, with the target's permissions; a FIFO as --load or --data cannot
 * hang a program, /dev/zero as --data fails at its first byte, a file over
 * --max-data-mb fails before it is read and a bad byte deep in a large file
 * fails before the rest is read; a deep_names checkpoint whose metadata asks
 * for a huge model is refused before any model memory is allocated. Every
 * program runs with a time limit (ts_run_argv), so a regression fails
 * instead of hanging. */
#define _DEFAULT_SOURCE /* mkfifo, mknod, lstat, readlink, symlink, link */

#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define TIMEOUT 60.0              /* seconds: far above any run here; only a hang reaches it */
#define SMALL_RSS_KB (150 * 1024) /* a run that allocates no model memory stays well below */

static char dir[TS_DIR_SIZE];
static char out_text[1 << 16], err_text[1 << 12];

/* Runs prog (MLP_NAMES_BIN or DEEP_NAMES_BIN) with "--data names.txt
 * --quiet" (unless the args give their own --data) and up to 16 more
 * arguments, NULL-terminated. */
static ts_run run_prog(const char *prog, const char *first, ...)
{
    char *argv[24];
    int n = 0;
    argv[n++] = (char *)prog;
    argv[n++] = "--quiet";
    va_list ap;
    va_start(ap, first);
    bool data = false;
    for (const char *a = first; a && n < 22; a = va_arg(ap, const char *)) {
        data |= !strcmp(a, "--data");
        argv[n++] = (char *)a;
    }
    va_end(ap);
    if (!data && n < 22) {
        argv[n++] = "--data";
        argv[n++] = "names.txt";
    }
    argv[n] = NULL;
    return ts_run_argv(dir, argv, TIMEOUT, out_text, sizeof out_text, err_text, sizeof err_text);
}
#define MLP(...) run_prog(MLP_NAMES_BIN, __VA_ARGS__, (const char *)NULL)
#define DEEP(...) run_prog(DEEP_NAMES_BIN, __VA_ARGS__, (const char *)NULL)

/* Fails unless the run ended by itself with status and a stderr holding want. */
static void expect(ts_run r, int status, const char *want)
{
    if (r.timed_out)
        fail_msg("the program was still running after %.0f s (killed)", TIMEOUT);
    if (r.status != status || !strstr(err_text, want))
        fail_msg("exit %d (want %d), stderr \"%s\" (want \"%s\")", r.status, status, err_text, want);
    printf("  -> %s", err_text[0] ? err_text : "(nothing on stderr)\n");
}

/* The whole of dir/name (up to 1 MiB) for before/after comparisons. */
static char *contents(const char *name, size_t *len)
{
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = ts_read_text(ts_path(dir, name), buf, 1 << 20);
    return buf;
}

static void assert_unchanged(const char *name, const char *before, size_t len)
{
    size_t now_len;
    char *now = contents(name, &now_len);
    if (now_len != len || memcmp(now, before, len) != 0)
        fail_msg("%s changed (%zu bytes, was %zu)", name, now_len, len);
    free(now);
}

static mode_t mode_of(const char *name, bool follow)
{
    struct stat st;
    assert_int_equal(follow ? stat(ts_path(dir, name), &st) : lstat(ts_path(dir, name), &st), 0);
    return st.st_mode;
}

static bool exists(const char *name)
{
    struct stat st;
    return lstat(ts_path(dir, name), &st) == 0;
}

static int setup(void **state)
{
    (void)state;
    if (ts_make_dir(dir, "lt_files") != 0)
        return -1;
    FILE *f = fopen(ts_path(dir, "names.txt"), "wb");
    if (!f)
        return -1;
    for (int rep = 0; rep < 5; rep++)
        for (int i = 0; i < TS_N_NAMES; i++)
            fprintf(f, "%s\n", ts_names[i]);
    fclose(f);
    /* a small checkpoint of each program */
    ts_run a = MLP("--steps", "20", "--samples", "0", "--save", "mlp.st");
    ts_run b = DEEP("--steps", "5", "--emb", "8", "--hidden", "16", "--samples", "0", "--save", "deep.st");
    return a.status == 0 && b.status == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return ts_remove_dir(dir);
}

/* ---- an output that is an input, or another output ---------------------------------- */

static void test_output_is_an_input(void **state)
{
    (void)state;
    size_t data_len, ck_len, deep_len;
    char *data = contents("names.txt", &data_len), *ck = contents("mlp.st", &ck_len);
    char *deep = contents("deep.st", &deep_len);
    assert_int_equal(symlink("mlp.st", ts_path(dir, "link.st")), 0);
    assert_int_equal(link(ts_path(dir, "mlp.st"), ts_path(dir, "hard.st")), 0);

    /* --save over --data replaced the data with a checkpoint; the rest truncated the trained checkpoint */
    expect(MLP("--steps", "5", "--save", "names.txt"), 2,
           "mlp_names: --save names.txt is the same file as --data names.txt\n");
    expect(MLP("--steps", "0", "--load", "mlp.st", "--log", "mlp.st"), 2,
           "mlp_names: --log mlp.st is the same file as --load mlp.st\n");
    expect(MLP("--steps", "0", "--load", "mlp.st", "--result", "./mlp.st"), 2,
           "mlp_names: --result ./mlp.st is the same file as --load mlp.st\n");
    expect(MLP("--steps", "0", "--load", "mlp.st", "--plot-loss", "mlp.st"), 2,
           "--plot-loss mlp.st is the same file as --load mlp.st");
    expect(MLP("--steps", "0", "--load", "mlp.st", "--plot-emb", "link.st"), 2, /* a symbolic link */
           "--plot-emb link.st is the same file as --load mlp.st");
    expect(MLP("--steps", "0", "--load", "hard.st", "--log", "mlp.st"), 2, /* a hard link */
           "--log mlp.st is the same file as --load hard.st");
    expect(MLP("--steps", "0", "--data", "link.st", "--save", "hard.st"), 2, /* the data, through both */
           "--save hard.st is the same file as --data link.st");
    expect(DEEP("--steps", "5", "--log", "names.txt"), 2, /* deep_names --log truncated the data */
           "deep_names: --log names.txt is the same file as --data names.txt\n");
    expect(DEEP("--steps", "5", "--save", "names.txt"), 2, "--save names.txt is the same file as --data names.txt");
    expect(DEEP("--steps", "0", "--load", "deep.st", "--log", "deep.st"), 2,
           "deep_names: --log deep.st is the same file as --load deep.st\n");
    assert_unchanged("names.txt", data, data_len);
    assert_unchanged("mlp.st", ck, ck_len);
    assert_unchanged("deep.st", deep, deep_len);

    /* two outputs, one file (neither exists yet: the same place once resolved) */
    expect(MLP("--steps", "5", "--log", "out.csv", "--result", "./out.csv"), 2,
           "mlp_names: --result ./out.csv is the same file as --log out.csv\n");
    assert_int_equal(symlink("later.csv", ts_path(dir, "dangling")), 0);
    expect(DEEP("--steps", "5", "--save", "dangling", "--log", "later.csv"), 2,
           "deep_names: --log later.csv is the same file as --save dangling\n");
    assert_false(exists("out.csv"));
    assert_false(exists("later.csv"));

    /* the one declared exception: training on from a checkpoint and saving over it */
    expect(MLP("--steps", "5", "--samples", "0", "--load", "hard.st", "--save", "hard.st"), 0, "");
    free(data);
    free(ck);
    free(deep);
}

/* ---- outputs that are not regular files ------------------------------------------------ */

static void test_outputs_not_regular(void **state)
{
    (void)state;
    assert_int_equal(mkfifo(ts_path(dir, "fifo"), 0644), 0);
    assert_int_equal(mkdir(ts_path(dir, "adir"), 0755), 0);
    /* a FIFO was replaced by a regular file (--save) or blocked the program (--log: no reader) */
    expect(MLP("--steps", "5", "--save", "fifo"), 2,
           "mlp_names: --save fifo: not a regular file (a FIFO); outputs are written only to regular files or new "
           "paths\n");
    expect(MLP("--steps", "5", "--log", "fifo"), 2, "--log fifo: not a regular file (a FIFO)");
    expect(DEEP("--steps", "5", "--save", "fifo"), 2, "--save fifo: not a regular file (a FIFO)");
    expect(DEEP("--steps", "5", "--log", "fifo"), 2, "--log fifo: not a regular file (a FIFO)");
    assert_true(S_ISFIFO(mode_of("fifo", false)));
    expect(MLP("--steps", "5", "--log", "/dev/null"), 2, "--log /dev/null: not a regular file (a character device)");
    expect(MLP("--steps", "5", "--save", "adir"), 2, "--save adir: not a regular file (a directory)");
    expect(MLP("--steps", "5", "--save", "adir/"), 2, "--save adir/: not a regular file (a directory)");
    expect(MLP("--steps", "5", "--save", "new/"), 2, "--save new/: names a directory, not a file");
    expect(MLP("--steps", "5", "--save", "nodir/x.st"), 2, "--save nodir/x.st: cannot write there: nodir: No such");
    expect(MLP("--steps", "5", "--save", ""), 2, "--save: the path is empty");
    /* a device node (root only: mknod): once replaced by a regular file */
    if (mknod(ts_path(dir, "null"), S_IFCHR | 0666, makedev(1, 3)) == 0) {
        expect(MLP("--steps", "5", "--save", "null"), 2, "--save null: not a regular file (a character device)");
        expect(DEEP("--steps", "5", "--save", "null"), 2, "--save null: not a regular file (a character device)");
        assert_true(S_ISCHR(mode_of("null", false)));
    } else {
        printf("  (not root: no device node of our own to save onto; /dev/null stands for it above)\n");
    }
}

/* ---- a save through a symbolic link, and permissions ------------------------------------ */

/* Whether the temporary files of a save are all gone. */
static bool no_temporaries(void)
{
    char cmd[3 * TS_DIR_SIZE];
    snprintf(cmd, sizeof cmd, "ls %s %s/sub | grep -q '\\.tmp\\.'", dir, dir);
    return system(cmd) != 0;
}

static void test_link_and_mode_kept(void **state)
{
    (void)state;
    assert_int_equal(mkdir(ts_path(dir, "sub"), 0755), 0);
    ts_run r = MLP("--steps", "5", "--samples", "0", "--save", "secret.st");
    assert_int_equal(r.status, 0);
    assert_int_equal(chmod(ts_path(dir, "secret.st"), 0600), 0);
    assert_int_equal(symlink("secret.st", ts_path(dir, "alias.st")), 0);
    assert_int_equal(symlink("../secret.st", ts_path(dir, "sub/rel.st")), 0);
    size_t len;
    char *before = contents("secret.st", &len);

    /* mlp_names through a link beside it, deep_names through a relative link in another directory */
    expect(MLP("--steps", "7", "--samples", "0", "--save", "alias.st"), 0, "");
    assert_true(S_ISLNK(mode_of("alias.st", false))); /* the link is kept ... */
    size_t len2;
    char *after = contents("secret.st", &len2); /* ... and its target replaced, */
    assert_true(len2 != len || memcmp(before, after, len) != 0);
    assert_int_equal(mode_of("secret.st", true) & 07777, 0600); /* with its permissions (was 0644) */
    expect(DEEP("--steps", "3", "--emb", "8", "--hidden", "16", "--samples", "0", "--save", "sub/rel.st"), 0, "");
    assert_true(S_ISLNK(mode_of("sub/rel.st", false)));
    assert_int_equal(mode_of("secret.st", true) & 07777, 0600);
    char text[64] = "";
    assert_true(readlink(ts_path(dir, "sub/rel.st"), text, sizeof text - 1) > 0);
    assert_string_equal(text, "../secret.st");
    ts_run load = DEEP("--steps", "0", "--samples", "0", "--load", "secret.st"); /* deep_names' checkpoint now */
    assert_int_equal(load.status, 0);
    assert_true(no_temporaries());

    /* a 0640 log keeps its mode too (it is rewritten in place) */
    ts_write_text(dir, "log.csv", "old\n");
    assert_int_equal(chmod(ts_path(dir, "log.csv"), 0640), 0);
    expect(MLP("--steps", "5", "--samples", "0", "--log", "log.csv"), 0, "");
    assert_int_equal(mode_of("log.csv", true) & 07777, 0640);
    free(before);
    free(after);
}

/* ---- inputs: FIFOs, endless devices, size limits ------------------------------------------ */

static void test_fifo_and_devices(void **state)
{
    (void)state;
    if (!exists("fifo"))
        assert_int_equal(mkfifo(ts_path(dir, "fifo"), 0644), 0);
    /* --load of a FIFO blocked forever in fopen; --data too */
    expect(MLP("--steps", "0", "--load", "fifo"), 2, "mlp_names: --load fifo: not a regular file (a FIFO)\n");
    expect(DEEP("--steps", "0", "--load", "fifo"), 2, "deep_names: --load fifo: not a regular file (a FIFO)\n");
    expect(MLP("--steps", "0", "--data", "fifo"), 1, "mlp_names: fifo: no items");
    expect(DEEP("--steps", "0", "--data", "fifo"), 1, "deep_names: fifo: no items");
    /* /dev/zero was read until memory ran out: its first byte is refused */
    ts_run r = MLP("--steps", "0", "--data", "/dev/zero");
    expect(r, 1, "mlp_names: /dev/zero:1:1: the NUL character (U+0000) is not text");
    assert_true(r.max_rss_kb < SMALL_RSS_KB);
    expect(DEEP("--steps", "0", "--data", "/dev/zero"), 1, "deep_names: /dev/zero:1:1: the NUL character (U+0000)");
    /* a device as a checkpoint */
    expect(MLP("--steps", "0", "--load", "/dev/zero"), 2, "--load /dev/zero: not a regular file (a character device)");
}

/* Writes dir/name: count copies of line, then the bytes of tail, then
 * zeros (a hole) up to size bytes. */
static void write_sparse(const char *name, const char *line, long count, const char *tail, long size)
{
    FILE *f = fopen(ts_path(dir, name), "wb");
    assert_non_null(f);
    for (long i = 0; i < count; i++)
        fputs(line, f);
    fputs(tail, f);
    assert_int_equal(fflush(f), 0);
    assert_int_equal(ftruncate(fileno(f), size), 0);
    fclose(f);
}

static void test_data_limits(void **state)
{
    (void)state;
    /* 300 MB: over the default 256 MiB, refused before a byte is read (it was read whole, then failed on
     * its first byte) */
    write_sparse("big.txt", "", 0, "", 300L << 20);
    ts_run r = MLP("--steps", "0", "--data", "big.txt");
    expect(r, 1,
           "mlp_names: big.txt: more than 256 MiB of data (the limit of --max-data-mb; raise it to read a "
           "larger file)\n");
    assert_true(r.max_rss_kb < SMALL_RSS_KB);
    expect(DEEP("--steps", "0", "--data", "big.txt"), 1, "big.txt: more than 256 MiB of data");
    /* raised, the file is read and its first bad byte reported */
    expect(MLP("--steps", "0", "--data", "big.txt", "--max-data-mb", "400"), 1, "big.txt:1:1: the NUL character (U+0000)");
    unlink(ts_path(dir, "big.txt"));

    /* a bad byte after 1 MiB of good lines, then 199 MiB: fails when its chunk is read */
    write_sparse("late.txt", "abcdefg\n", 1L << 17, "ann\xff\n", 200L << 20);
    r = MLP("--steps", "0", "--data", "late.txt");
    expect(r, 1, "mlp_names: late.txt:131073:4: invalid UTF-8 (byte 0xff)");
    assert_true(r.max_rss_kb < SMALL_RSS_KB);
    unlink(ts_path(dir, "late.txt"));

    /* the limit on good data: 1.5 MiB */
    write_sparse("words.txt", "abcdefg\n", 3L << 16, "", 3L << 19);
    expect(MLP("--steps", "0", "--samples", "0", "--data", "words.txt", "--max-data-mb", "1"), 1,
           "mlp_names: words.txt: more than 1 MiB of data (the limit of --max-data-mb");
    expect(DEEP("--steps", "0", "--samples", "0", "--data", "words.txt", "--max-data-mb", "1"), 1,
           "deep_names: words.txt: more than 1 MiB of data");
    expect(MLP("--steps", "0", "--samples", "0", "--emb", "2", "--hidden", "4", "--data", "words.txt", "--max-data-mb",
               "2"),
           0, "");
    expect(MLP("--max-data-mb", "0"), 2, "--max-data-mb 0: expected an integer in 1..1048576");
    unlink(ts_path(dir, "words.txt"));
}

/* ---- deep_names checkpoints asking for huge models ------------------------------------------ */

/* Copies deep.st to dst with metadata key set to value (and key2 to
 * value2 when key2 is not NULL). */
static void edit_meta(const char *dst, const char *key, const char *value, const char *key2, const char *value2)
{
    static const char *const KEYS[] = {"format", "vocab",    "kind",   "norm",    "act",  "block_size",
                                       "n_embd", "n_hidden", "layers", "dropout", "steps"};
    const ts_edit e = {.meta = {key, value, key2, value2, NULL}};
    ts_edit_checkpoint(dir, "deep.st", dst, KEYS, (int)(sizeof KEYS / sizeof *KEYS), &e);
}

static void test_deep_checkpoint_limits(void **state)
{
    (void)state;
    /* n_hidden 16384 beside 16-wide tensors: the model would take about 1 GB; it once allocated and
     * initialised it (seconds, a gigabyte) before the first tensor was compared */
    edit_meta("wide.st", "n_hidden", "16384", NULL, NULL);
    ts_run r = DEEP("--steps", "0", "--samples", "0", "--load", "wide.st");
    expect(r, 1, "deep_names: wide.st: tensor 'l0.w' is F32 (64,16) but the metadata (mlp, batchnorm, vocab ");
    assert_non_null(strstr(err_text, "hidden 16384, layers 2) needs F32 (64,16384)"));
    printf("     peak RSS %ld KiB, %.2f s\n", r.max_rss_kb, r.seconds);
    assert_true(r.max_rss_kb < SMALL_RSS_KB);
    /* over the flags' limits: said so (a block of 1000 was "dataset: out of memory") */
    edit_meta("block.st", "block_size", "1000", NULL, NULL);
    expect(DEEP("--steps", "0", "--load", "block.st"), 1,
           "deep_names: block.st: metadata 'block_size' is 1000, over "
           "the limit of 64\n");
    edit_meta("hidden.st", "n_hidden", "70000", NULL, NULL);
    expect(DEEP("--steps", "0", "--load", "hidden.st"), 1, "metadata 'n_hidden' is 70000, over the limit of 65536");
    edit_meta("layers.st", "layers", "17", NULL, NULL);
    expect(DEEP("--steps", "0", "--load", "layers.st"), 1, "metadata 'layers' is 17, over the limit of 16");
    /* a combination the flags refuse: a wavenet block that is not a power of two */
    edit_meta("kind.st", "kind", "wavenet", "block_size", "6");
    expect(DEEP("--steps", "0", "--load", "kind.st"), 1, "wavenet needs a block size that is a power of 2, got 6");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_is_an_input), cmocka_unit_test(test_outputs_not_regular),
        cmocka_unit_test(test_link_and_mode_kept), cmocka_unit_test(test_fifo_and_devices),
        cmocka_unit_test(test_data_limits),        cmocka_unit_test(test_deep_checkpoint_limits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
