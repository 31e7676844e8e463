/* checkpoint.c - see checkpoint.h. */
#define _POSIX_C_SOURCE 200809L /* close */
#include "checkpoint.h"

#include "cli_args.h"
#include "files.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void ex_meta_init(ex_meta *m, const char *format)
{
    m->n = 0;
    ex_meta_str(m, "format", format);
}

void ex_meta_str(ex_meta *m, const char *key, const char *value)
{
    if (m->n == EX_META_MAX)
        return; /* programs write short fixed lists: not reached */
    m->kv[2 * m->n] = key;
    m->kv[2 * m->n + 1] = value;
    m->n++;
}

void ex_meta_long(ex_meta *m, const char *key, long value)
{
    if (m->n < EX_META_MAX) {
        snprintf(m->text[m->n], sizeof m->text[0], "%ld", value);
        ex_meta_str(m, key, m->text[m->n]);
    }
}

void ex_meta_double(ex_meta *m, const char *key, double value)
{
    if (m->n < EX_META_MAX) {
        snprintf(m->text[m->n], sizeof m->text[0], "%g", value);
        ex_meta_str(m, key, m->text[m->n]);
    }
}

bool ex_checkpoint_save(lt_ctx *ctx, const char *path, const ex_meta *m, const lt_named_tensor *t, int n)
{
    char err[EX_FILE_ERR_SIZE];
    ex_replace r;
    if (lt_status_of(ctx) != LT_OK)
        return false;
    if (!ex_replace_begin(path, &r, err, sizeof err)) {
        lt_fail(ctx, LT_ERR_IO, "%s", err);
        return false;
    }
    bool saved = lt_safetensors_save(ctx, r.target, t, n, m->kv, m->n);
    if (!ex_replace_end(&r, saved, err, sizeof err)) {
        lt_fail(ctx, LT_ERR_IO, "%s", err);
        return false;
    }
    return saved;
}

lt_safetensors *ex_checkpoint_open(lt_ctx *ctx, const char *path, const char *format, const char *what)
{
    char err[EX_FILE_ERR_SIZE];
    int fd = ex_open_input(path, true, NULL, err, sizeof err); /* a FIFO or a device: refused, not waited on */
    if (fd < 0) {
        lt_fail(ctx, LT_ERR_IO, "%s", err);
        return NULL;
    }
    close(fd);
    lt_safetensors *st = lt_safetensors_load(ctx, path);
    if (!st)
        return NULL;
    const char *found = lt_safetensors_meta(st, "format");
    if (!found || strcmp(found, format) != 0) {
        lt_fail(ctx, LT_ERR_FORMAT, "%s: not %s (metadata format is '%s', expected '%s')", path, what,
                found ? found : "(missing)", format);
        lt_safetensors_free(st);
        return NULL;
    }
    return st;
}

bool ex_meta_int(lt_ctx *ctx, const lt_safetensors *st, const char *path, const char *key, int max, int *out)
{
    const char *s = lt_safetensors_meta(st, key);
    long v;
    if (!s || !cli_parse_long(s, 1, LONG_MAX, &v)) {
        lt_fail(ctx, LT_ERR_FORMAT, "%s: metadata '%s' is missing or not a positive integer", path, key);
        return false;
    }
    if (v > max) {
        lt_fail(ctx, LT_ERR_FORMAT, "%s: metadata '%s' is %ld, over the limit of %d", path, key, v, max);
        return false;
    }
    *out = (int)v;
    return true;
}

bool ex_meta_choice(lt_ctx *ctx, const lt_safetensors *st, const char *path, const char *key,
                    const char *const *names, int n, int fallback, int *out)
{
    const char *s = lt_safetensors_meta(st, key);
    int v = s ? cli_lookup(s, names, n) : fallback;
    if (v >= 0) {
        *out = v;
        return true;
    }
    if (!s) {
        lt_fail(ctx, LT_ERR_FORMAT, "%s: metadata '%s' is missing", path, key);
        return false;
    }
    char list[256];
    cli_join_names(names, n, list, sizeof list);
    lt_fail(ctx, LT_ERR_FORMAT, "%s: metadata '%s' is '%s', not %s", path, key, s, list);
    return false;
}

bool ex_checkpoint_check(lt_ctx *ctx, const lt_safetensors *st, const char *path, const char *const *names,
                         const lt_shape *shapes, int n, const char *why)
{
    for (int i = 0; i < n; i++) {
        int k = 0;
        const char *dtype = NULL, *name;
        lt_shape got;
        while ((name = lt_safetensors_name(st, k)) != NULL && strcmp(name, names[i]) != 0)
            k++;
        if (!lt_safetensors_info(st, k, &dtype, &got)) {
            lt_fail(ctx, LT_ERR_FORMAT, "%s: tensor '%s' is missing", path, names[i]);
            return false;
        }
        if (strcmp(dtype, "F32") != 0 || !lt_shape_equal(got, shapes[i])) {
            char a[96], b[96];
            lt_fail(ctx, LT_ERR_FORMAT, "%s: tensor '%s' is %s %s but %s needs F32 %s", path, names[i], dtype,
                    lt_shape_str(got, a, sizeof a), why, lt_shape_str(shapes[i], b, sizeof b));
            return false;
        }
    }
    return true;
}

/* The first element of t (F32, contiguous) that is not finite, or -1. */
static int64_t first_non_finite(lt_tensor *t)
{
    const float *d = lt_data_f32(t);
    for (int64_t i = 0, n = lt_numel(t); i < n; i++)
        if (!isfinite(d[i]))
            return i;
    return -1;
}

bool ex_checkpoint_read(lt_ctx *ctx, const lt_safetensors *st, const char *path, const char *const *names,
                        lt_tensor *const *tensors, int n)
{
    for (int i = 0; i < n; i++) {
        if (!lt_safetensors_read(ctx, st, names[i], tensors[i]))
            return false;
        int64_t bad = first_non_finite(tensors[i]);
        if (bad >= 0) {
            float v = lt_data_f32(tensors[i])[bad];
            lt_fail(ctx, LT_ERR_FORMAT, "%s: tensor '%s' element %lld is %s (a checkpoint must hold finite values)",
                    path, names[i], (long long)bad,
                    isnan(v) ? "nan"
                    : v > 0  ? "inf"
                             : "-inf");
            return false;
        }
    }
    return true;
}
