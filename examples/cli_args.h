/* cli_args.h - parsing of command-line values shared by the example
 * programs (mlp_names, deep_names): strict, whole-string, range-checked. */
#ifndef CLI_ARGS_H
#define CLI_ARGS_H

#include <stdbool.h>

/* Decimal integer in [lo, hi]; false on junk, overflow or range. */
bool cli_parse_long(const char *s, long lo, long hi, long *out);

/* Finite number >= 0; false on junk, overflow, NaN/inf or a negative. */
bool cli_parse_double(const char *s, double *out);

/* Unsigned 64-bit seed; a leading '-' (which strtoull would wrap) is junk. */
bool cli_parse_seed(const char *s, unsigned long long *out);

/* Index of s in names[0..n-1], or -1. */
int cli_lookup(const char *s, const char *const *names, int n);

#endif
