/* cli_args.h - parsing of command-line values shared by the example
 * programs (mlp_names, deep_names, mlp_sweep, bench_mlp) and of the
 * metadata of their checkpoints: strict, whole-string, range-checked. */
#ifndef CLI_ARGS_H
#define CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

/* Decimal integer in [lo, hi]; false on junk, overflow or range. */
bool cli_parse_long(const char *s, long lo, long hi, long *out);

/* Finite number >= 0; false on junk, overflow, NaN/inf or a negative. */
bool cli_parse_double(const char *s, double *out);

/* Unsigned 64-bit seed; a '-' anywhere (which strtoull would wrap) is junk. */
bool cli_parse_seed(const char *s, unsigned long long *out);

/* Index of s in names[0..n-1], or -1. */
int cli_lookup(const char *s, const char *const *names, int n);

/* "tanh, relu or gelu" into buf (truncated to size). */
void cli_join_names(const char *const *names, int n, char *buf, size_t size);

#endif
