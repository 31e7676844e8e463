/* cli_args.h - the example programs' command lines: strict, whole-string,
 * range-checked values (also used for checkpoint metadata, mlp_sweep and
 * bench_mlp), and a parser driven by a table of flags, so that a program
 * declares its flags and one piece of code reads them, with the same
 * messages in every program ("deep_names: --layers 0: expected an integer in
 * 1..16"). */
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

/* ---- flag tables ---------------------------------------------------------------- */

typedef enum cli_kind {
    CLI_LONG,   /* long field, a value in [lo, hi] */
    CLI_DOUBLE, /* double field, a finite value >= 0 (cli_parse_double) */
    CLI_SEED,   /* unsigned long long field (cli_parse_seed) */
    CLI_STRING, /* const char * field: the argument itself */
    CLI_CHOICE, /* int field: the index of the value in choices */
    CLI_SWITCH  /* bool field set to true; the flag takes no value */
} cli_kind;

typedef struct cli_flag {
    const char *name;           /* "--steps" */
    cli_kind kind;
    size_t offset;              /* of the field in the program's options struct */
    long lo, hi;                /* CLI_LONG: the range */
    const char *const *choices; /* CLI_CHOICE: the accepted values */
    int n_choices;
} cli_flag;

#define CLI_LONG_FLAG(name, type, field, lo, hi) {name, CLI_LONG, offsetof(type, field), lo, hi, NULL, 0}
#define CLI_DOUBLE_FLAG(name, type, field) {name, CLI_DOUBLE, offsetof(type, field), 0, 0, NULL, 0}
#define CLI_SEED_FLAG(name, type, field) {name, CLI_SEED, offsetof(type, field), 0, 0, NULL, 0}
#define CLI_STRING_FLAG(name, type, field) {name, CLI_STRING, offsetof(type, field), 0, 0, NULL, 0}
#define CLI_CHOICE_FLAG(name, type, field, choices, n) {name, CLI_CHOICE, offsetof(type, field), 0, 0, choices, n}
#define CLI_SWITCH_FLAG(name, type, field) {name, CLI_SWITCH, offsetof(type, field), 0, 0, NULL, 0}

typedef struct cli_spec {
    const char *prog;      /* the messages' prefix: "mlp_names" */
    const char *usage;     /* printed after an unexpected argument, an unknown flag, a missing value */
    const cli_flag *flags;
    int n_flags;
    /* called after each flag is applied (value: its argument, NULL for a
     * switch), or NULL: limits beyond the table's, or noting what was given;
     * returns false after printing why the value is refused */
    bool (*check)(void *opts, const cli_flag *f, const char *value);
} cli_spec;

/* Applies args[0..n-1] (flags with their values, switches) in order to
 * the fields of opts. Returns 0; 1 on reaching --help or -h (the caller
 * prints its help); 2 after printing one line on stderr: "prog: --steps -5:
 * expected an integer in 0..1000000000", "prog: --act swish: expected tanh,
 * relu or gelu", "prog: unknown option '--x'" (and the usage), ... */
int cli_parse(const cli_spec *spec, int n, char *const *args, void *opts);

#endif
