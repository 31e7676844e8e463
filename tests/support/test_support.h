/* test_support.h - helpers shared by the cmocka tests: random tensors,
 * comparisons, a finite-difference gradient checker, error assertions. */
#ifndef LT_TEST_SUPPORT_H
#define LT_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "libtensor.h"

/* Deterministic uniform numbers in [lo, hi) for test inputs. */
typedef struct { uint64_t s; } ts_rand;
ts_rand ts_rand_new(uint64_t seed);
double ts_uniform(ts_rand *r, double lo, double hi);

/* A persistent F32 tensor of the given shape filled with uniform [lo, hi). */
lt_tensor *ts_random(lt_ctx *ctx, lt_shape shape, uint64_t seed, double lo, double hi);

/* Asserts every element of t is within atol + rtol*|expected| of expected. */
void ts_assert_near(const lt_tensor *t, const float *expected, int64_t n, double atol, double rtol);
/* Asserts two tensors have equal shapes and near-equal elements. */
void ts_assert_tensors_near(const lt_tensor *a, const lt_tensor *b, double atol);
void ts_assert_shape(const lt_tensor *t, lt_shape expected);
/* Asserts one value: NaN matches only NaN, an infinity only the same
 * infinity, anything else must be within atol + rtol*|want| (cmocka's
 * assert_float_equal lets a NaN through). what names it in the message. */
void ts_assert_value(const char *what, double got, double want, double atol, double rtol);

/* A persistent tensor of shape s holding data (numel(s) elements of dt, in
 * logical order), contiguous or (strided) laid out non-contiguously: rank >= 2
 * stored with its last two dims swapped and seen through lt_transpose, rank 1
 * as every other element of an (n,2) tensor. An F32 one requires a gradient
 * (marked on the base, before the view copies the flag), which lands in the
 * base through the view. */
lt_tensor *ts_tensor_in_layout(lt_ctx *ctx, lt_dtype dt, lt_shape s, const void *data, bool strided);
/* Backward from y with the upstream gradient g (numel(y) floats, y's shape);
 * fails the test when it fails. */
void ts_backward_with(lt_ctx *ctx, lt_tensor *y, const float *g);

/* The function under a gradient check: builds its output from the inputs
 * (persistent tensors; it may take views of them). */
typedef lt_tensor *(*ts_fn)(lt_ctx *ctx, lt_tensor **inputs, void *user);

/* Checks d(sum(f(inputs) * R))/d(input) against central differences for
 * every element of every input that requires grad, where R is a fixed random
 * weighting (so all output elements matter). The loss is accumulated in
 * double. Fails the test when |analytic - numeric| > atol + rtol*|numeric|. */
void ts_gradcheck(ts_fn f, lt_tensor **inputs, int n_inputs, void *user, double eps, double atol, double rtol);

/* Checks what the backward of y = f(x) reads against its lt_op's saves: x
 * (persistent, requiring grad) or y written in place between forward and
 * backward must make backward fail naming op ("<op>'s input 1 ...
 * modified in place", "<op>'s output ...") when reads_x / reads_y says
 * the backward reads it, and must leave the gradient of the unwritten
 * forward otherwise. x's values are restored. */
void ts_check_saves(ts_fn f, lt_tensor *x, void *user, const char *op, bool reads_x, bool reads_y);

/* Asserts ctx holds an error of the given status whose message contains
 * every one of the NULL-terminated substrings; then clears it. */
void ts_assert_error(lt_ctx *ctx, lt_status status, ...);

/* Writes text to a fresh temporary file and returns its path (static buffer
 * per call slot 0..3). */
const char *ts_temp_file(int slot, const char *text);

/* ---- programs: running the example programs on scratch data (ts_programs.c) ---- */

/* 40 common first names, lowercase a-z: small training data for the CLIs. */
#define TS_N_NAMES 40
extern const char *const ts_names[TS_N_NAMES];

/* 24 names in UTF-8 (accents, Cyrillic, CJK) for the programs' UTF-8 data
 * tests; TS_UTF8_DOT_NAME has a '.' too. */
#define TS_N_UTF8_NAMES 24
extern const char *const ts_utf8_names[TS_N_UTF8_NAMES];
#define TS_UTF8_DOT_NAME "st.jérôme"
/* Writes dir/name: reps copies of ts_utf8_names, one per line, plus
 * TS_UTF8_DOT_NAME per copy when with_dot. */
void ts_write_utf8_names(const char *dir, const char *name, int reps, int with_dot);
/* Checks the sample lines of out (those starting with prefix, which may be
 * ""; at least one expected): valid UTF-8, every character one of
 * ts_utf8_names' (or '.'), each ending with stop when the stop token ended
 * it. Returns how many lines ended with stop. */
int ts_check_utf8_samples(const char *out, const char *prefix, const char *stop, int lines);

#define TS_DIR_SIZE 64
/* Creates a fresh directory /tmp/<prefix>_XXXXXX, its path in dir; 0 or -1. */
int ts_make_dir(char dir[TS_DIR_SIZE], const char *prefix);
/* Removes dir and everything in it (rm -rf); 0 or -1. */
int ts_remove_dir(const char *dir);

/* "dir/name" in a static buffer, one of 4 used in turn (so up to 4 paths
 * may be alive at once). */
const char *ts_path(const char *dir, const char *name);
/* Writes text to dir/name (fails the test when it cannot). */
void ts_write_text(const char *dir, const char *name, const char *text);
/* Reads at most size - 1 bytes of path into buf, NUL-terminated, and returns
 * the count (binary files too: the count tells where they end); a missing
 * file reads as "" (0). */
size_t ts_read_text(const char *path, char *buf, size_t size);

/* Runs `bin args` through the shell in dir, with stdout and stderr captured
 * in dir/out.txt and dir/err.txt and read back into out and err. Returns the
 * exit status, or -1 when the program did not exit normally. */
int ts_run_capture(const char *dir, const char *bin, const char *args, char *out, size_t out_size, char *err,
                   size_t err_size);

/* A change to a copied checkpoint (ts_edit_checkpoint): up to two metadata
 * values (meta: key, value, key, value; NULL ends the list), and element
 * `element` of tensor `tensor` (every element when element < 0; tensor
 * NULL: none) set to value. */
typedef struct ts_edit {
    const char *meta[5];
    const char *tensor;
    int64_t element;
    float value;
} ts_edit;

/* Copies the F32 checkpoint dir/src to dir/dst with the metadata keys[0..n_keys-1]
 * (each present in src) and the change e. */
void ts_edit_checkpoint(const char *dir, const char *src, const char *dst, const char *const *keys, int n_keys,
                        const ts_edit *e);

/* How a program run by ts_run_argv ended. */
typedef struct ts_run {
    int status;      /* exit status, or -1 when it did not exit normally */
    bool timed_out;  /* killed (SIGKILL) after the time limit */
    long max_rss_kb; /* its peak resident memory (wait4), in KiB */
    double seconds;  /* wall time */
} ts_run;

/* Runs argv (argv[0] the program's path, NULL-terminated; no shell) in dir
 * with stdin from /dev/null and stdout and stderr captured as by
 * ts_run_capture, killing it after timeout seconds: a program that would
 * hang (a FIFO, an endless input) ends the test instead of blocking it. */
ts_run ts_run_argv(const char *dir, char *const argv[], double timeout, char *out, size_t out_size, char *err,
                   size_t err_size);

#endif
