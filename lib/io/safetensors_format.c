/* safetensors_format.c - what the safetensors reader, writer and checker
 * share (safetensors.h): the dtype table, byte order, names in messages,
 * sorted name lookup and the error prefix. */
#include "io/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- dtypes ------------------------------------------------------------- */

static const st_dtype DTYPES[] = {
    {"F32", 4, LT_F32}, {"I32", 4, LT_I32}, {"F64", 8, -1},  {"F16", 2, -1},     {"BF16", 2, -1},
    {"I64", 8, -1},     {"I16", 2, -1},     {"I8", 1, -1},   {"U64", 8, -1},     {"U32", 4, -1},
    {"U16", 2, -1},     {"U8", 1, -1},      {"BOOL", 1, -1}, {"F8_E4M3", 1, -1}, {"F8_E5M2", 1, -1},
};

const st_dtype *lt_st_find_dtype(const char *name)
{
    for (size_t i = 0; i < sizeof DTYPES / sizeof *DTYPES; i++)
        if (strcmp(DTYPES[i].name, name) == 0)
            return &DTYPES[i];
    return NULL;
}

const char *lt_st_dtype_name(lt_dtype dt) { return dt == LT_I32 ? "I32" : "F32"; }

/* ---- small helpers ------------------------------------------------------ */

bool lt_st_host_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

void lt_st_swap_to_host(unsigned char *p, size_t size)
{
    if (lt_st_host_little_endian())
        return;
    for (size_t i = 0; i < size / 2; i++) {
        unsigned char t = p[i];
        p[i] = p[size - 1 - i];
        p[size - 1 - i] = t;
    }
}

const char *lt_st_shown(const char *s, char buf[ST_SHOWN_SIZE])
{
    size_t i = 0;
    for (; s[i] && i < ST_NAME_SHOWN; i++)
        buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    if (s[i]) { /* truncated: do not cut a UTF-8 sequence */
        while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
            i--;
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

static int compare_refs(const void *a, const void *b)
{
    return strcmp(((const name_ref *)a)->name, ((const name_ref *)b)->name);
}

const char *lt_st_sort_find_duplicate(name_ref *refs, int n)
{
    if (n > 1)
        qsort(refs, (size_t)n, sizeof *refs, compare_refs);
    for (int i = 1; i < n; i++)
        if (strcmp(refs[i - 1].name, refs[i].name) == 0)
            return refs[i].name;
    return NULL;
}

const name_ref *lt_st_lookup(const name_ref *refs, int n, const char *name)
{
    if (n == 0)
        return NULL;
    name_ref key = {name, NULL, 0};
    return bsearch(&key, refs, (size_t)n, sizeof *refs, compare_refs);
}

bool lt_st_fail(lt_ctx *ctx, lt_status s, const char *what, const char *fmt, ...)
{
    char msg[LT_ERRMSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lt_fail(ctx, s, "safetensors: %s: %s", what, msg);
    return false;
}
