/* fuzz_support.h - shared by the fuzz targets (fuzz/fuzz_*.c).
 *
 * Each target is a plain function fuzz_<name>(data, size) so that the same
 * code runs under libFuzzer (built with -DLT_LIBFUZZER, see tools/fuzz.sh)
 * and in the normal test suite, which replays the seed corpus and every kept
 * regression input (tests/test_fuzz_regressions.c). A broken invariant is a
 * crash on purpose: FUZZ_CHECK prints what failed and aborts, which libFuzzer
 * reports as a finding and the replay test as a failed test. */
#ifndef LT_FUZZ_SUPPORT_H
#define LT_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

int fuzz_names_data(const uint8_t *data, size_t size);
int fuzz_safetensors(const uint8_t *data, size_t size);
int fuzz_ops(const uint8_t *data, size_t size);
int fuzz_text_data(const uint8_t *data, size_t size);

/* Reports a broken invariant and aborts. */
void fuzz_fail(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4), noreturn))
#endif
    ;
#define FUZZ_CHECK(cond, ...)                                                                                          \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            fuzz_fail(__FILE__, __LINE__, __VA_ARGS__);                                                                \
    } while (0)

/* Writes data to this process's scratch file (created on first use in
 * $TMPDIR or /tmp, removed at exit) and returns its path; NULL on failure. */
const char *fuzz_scratch_file(const uint8_t *data, size_t size);

/* The libFuzzer entry point of a target (only in -DLT_LIBFUZZER builds). */
#ifdef LT_LIBFUZZER
#define FUZZ_ENTRY(fn)                                                                                                 \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                                                      \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fn(data, size); }
#else
#define FUZZ_ENTRY(fn)
#endif

#endif
