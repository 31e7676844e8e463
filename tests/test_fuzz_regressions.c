#define _POSIX_C_SOURCE 200809L /* opendir */
/* test_fuzz_regressions.c - replays every file of fuzz/corpus/<target>/ (the
 * seed corpus) and fuzz/regressions/<target>/ (inputs that once crashed or
 * broke an invariant, kept after the fix) through the same entry points the
 * libFuzzer targets use, so the normal, ASan and valgrind runs of the test
 * suite cover them. A broken invariant aborts (see fuzz/fuzz_support.h). */
#include "test_support.h"

#include "fuzz_support.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_DIR LT_TEST_DATA_DIR "/../../fuzz"

typedef int (*entry_fn)(const uint8_t *, size_t);

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 4096;
    unsigned char *buf = malloc(cap);
    *n = 0;
    for (size_t got; buf && (got = fread(buf + *n, 1, cap - *n, f)) > 0;) {
        *n += got;
        if (*n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    assert_non_null(buf);
    return buf;
}

/* Runs every regular file of dir through fn; returns how many. */
static int replay_dir(const char *dir, entry_fn fn)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int count = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t n;
        unsigned char *data = read_all(path, &n);
        fn(data, n);
        free(data);
        count++;
    }
    closedir(d);
    return count;
}

static void replay(const char *target, entry_fn fn, int min_seeds)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/corpus/%s", FUZZ_DIR, target);
    int seeds = replay_dir(dir, fn);
    snprintf(dir, sizeof dir, "%s/regressions/%s", FUZZ_DIR, target);
    int kept = replay_dir(dir, fn);
    printf("  %s: %d seed inputs, %d regression inputs replayed\n", target, seeds, kept);
    assert_true(seeds >= min_seeds); /* the corpus is where we think it is */
}

static void test_names_data(void **state)
{
    (void)state;
    replay("names_data", fuzz_names_data, 3);
}

static void test_safetensors(void **state)
{
    (void)state;
    replay("safetensors", fuzz_safetensors, 3);
}

static void test_ops(void **state)
{
    (void)state;
    replay("ops", fuzz_ops, 3);
}

static void test_text_data(void **state)
{
    (void)state;
    replay("text_data", fuzz_text_data, 3);
}

/* The entry points accept the degenerate inputs libFuzzer starts with. */
static void test_empty_inputs(void **state)
{
    (void)state;
    static const uint8_t zeros[64] = {0};
    entry_fn fns[] = {fuzz_names_data, fuzz_safetensors, fuzz_ops, fuzz_text_data};
    for (size_t i = 0; i < sizeof fns / sizeof *fns; i++) {
        assert_int_equal(fns[i](zeros, 0), 0);
        assert_int_equal(fns[i](zeros, 1), 0);
        assert_int_equal(fns[i](zeros, sizeof zeros), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_data),
        cmocka_unit_test(test_safetensors),
        cmocka_unit_test(test_ops),
        cmocka_unit_test(test_text_data),
        cmocka_unit_test(test_empty_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
