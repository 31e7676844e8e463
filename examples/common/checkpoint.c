/* checkpoint.c - see checkpoint.h. */
#include "checkpoint.h"

#include "cli_args.h"

#include <stdio.h>
#include <string.h>

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
    return lt_safetensors_save(ctx, path, t, n, m->kv, m->n);
}

lt_safetensors *ex_checkpoint_open(lt_ctx *ctx, const char *path, const char *format, const char *what)
{
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

bool ex_meta_int(lt_ctx *ctx, const lt_safetensors *st, const char *path, const char *key, int *out)
{
    const char *s = lt_safetensors_meta(st, key);
    long v;
    if (!s || !cli_parse_long(s, 1, 1 << 20, &v)) {
        lt_fail(ctx, LT_ERR_FORMAT, "%s: metadata '%s' is missing or not a positive integer", path, key);
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

bool ex_checkpoint_read(lt_ctx *ctx, const lt_safetensors *st, const char *const *names, lt_tensor *const *tensors,
                        int n)
{
    for (int i = 0; i < n; i++)
        if (!lt_safetensors_read(ctx, st, names[i], tensors[i]))
            return false;
    return true;
}
