/* cli_args.c - see cli_args.h. */
#include "cli_args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cli_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool cli_parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0)
        return false;
    *out = v;
    return true;
}

bool cli_parse_seed(const char *s, unsigned long long *out)
{
    if (strchr(s, '-')) /* also after leading white space, which strtoull skips */
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end)
        return false;
    *out = v;
    return true;
}

int cli_lookup(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

void cli_join_names(const char *const *names, int n, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
}

/* Parses v into flag f's field of opts; false after printing why not. */
static bool apply_value(const cli_spec *spec, const cli_flag *f, const char *v, void *opts)
{
    void *field = (char *)opts + f->offset;
    int k;
    switch (f->kind) {
    case CLI_LONG:
        if (cli_parse_long(v, f->lo, f->hi, field))
            return true;
        fprintf(stderr, "%s: %s %s: expected an integer in %ld..%ld\n", spec->prog, f->name, v, f->lo, f->hi);
        return false;
    case CLI_DOUBLE:
        if (cli_parse_double(v, field))
            return true;
        fprintf(stderr, "%s: %s %s: expected a non-negative number\n", spec->prog, f->name, v);
        return false;
    case CLI_SEED:
        if (cli_parse_seed(v, field))
            return true;
        fprintf(stderr, "%s: %s %s: expected a non-negative integer\n", spec->prog, f->name, v);
        return false;
    case CLI_STRING:
        *(const char **)field = v;
        return true;
    case CLI_CHOICE:
        if ((k = cli_lookup(v, f->choices, f->n_choices)) >= 0) {
            *(int *)field = k;
            return true;
        }
        char list[256];
        cli_join_names(f->choices, f->n_choices, list, sizeof list);
        fprintf(stderr, "%s: %s %s: expected %s\n", spec->prog, f->name, v, list);
        return false;
    case CLI_SWITCH:
        break;
    }
    return false;
}

static const cli_flag *find_flag(const cli_spec *spec, const char *name)
{
    for (int i = 0; i < spec->n_flags; i++)
        if (!strcmp(spec->flags[i].name, name))
            return &spec->flags[i];
    return NULL;
}

int cli_parse(const cli_spec *spec, int n, char *const *args, void *opts)
{
    for (int i = 0; i < n; i++) {
        const char *a = args[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return 1;
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "%s: unexpected argument '%s'\n%s", spec->prog, a, spec->usage);
            return 2;
        }
        const cli_flag *f = find_flag(spec, a);
        const char *v = NULL;
        if (f && f->kind == CLI_SWITCH) {
            *(bool *)((char *)opts + f->offset) = true;
        } else if (i + 1 >= n) {
            fprintf(stderr, "%s: %s needs a value\n%s", spec->prog, a, spec->usage);
            return 2;
        } else if (!f) {
            fprintf(stderr, "%s: unknown option '%s'\n%s", spec->prog, a, spec->usage);
            return 2;
        } else if (!apply_value(spec, f, v = args[++i], opts)) {
            return 2;
        }
        if (spec->check && !spec->check(opts, f, v))
            return 2;
    }
    return 0;
}
