/* safetensors_read.c - loading a safetensors checkpoint (layout in
 * safetensors.h) and reading its tensors.
 *
 * Loading validates the whole file (safetensors_check.c) before returning
 * anything, and allocates only in proportion to the bytes actually present
 * in the file: the header length is checked against the file size (and a
 * 100 MB cap, as the reference reader) before the header is read. */
#define _POSIX_C_SOURCE 200809L /* fileno, fstat */
#include "io/json.h"
#include "io/safetensors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Reads exactly n bytes; false on a short read (errno, or 0 at EOF). */
static bool read_exact(FILE *f, void *buf, size_t n)
{
    errno = 0;
    return fread(buf, 1, n, f) == n;
}

static bool io_fail(lt_ctx *ctx, const char *path, const char *what)
{
    int err = errno;
    return lt_st_fail(ctx, LT_ERR_IO, path, "%s: %s", what,
                      err ? strerror(err) : "unexpected end of file (did the file change?)");
}

/* Opens path, checks it is a regular file and reads the header length. */
static FILE *open_checked(lt_ctx *ctx, const char *path, uint64_t *file_size, uint64_t *header_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return io_fail(ctx, path, "cannot open"), NULL;
    struct stat sb;
    unsigned char len[8];
    if (fstat(fileno(f), &sb) != 0)
        io_fail(ctx, path, "cannot stat");
    else if (!S_ISREG(sb.st_mode))
        lt_st_fail(ctx, LT_ERR_IO, path, "not a regular file");
    else if ((*file_size = (uint64_t)sb.st_size) < 8)
        lt_st_fail(ctx, LT_ERR_FORMAT, path, "file is %llu bytes, too short for the 8-byte header length",
                   (unsigned long long)*file_size);
    else if (!read_exact(f, len, 8))
        io_fail(ctx, path, "reading the header length");
    else {
        *header_len = 0;
        for (int i = 7; i >= 0; i--)
            *header_len = *header_len << 8 | len[i];
        if (*header_len > *file_size)
            lt_st_fail(ctx, LT_ERR_FORMAT, path, "header length %llu exceeds file size %llu",
                       (unsigned long long)*header_len, (unsigned long long)*file_size);
        else if (*header_len > *file_size - 8)
            lt_st_fail(ctx, LT_ERR_FORMAT, path,
                       "header length %llu exceeds file size %llu minus the 8-byte length field",
                       (unsigned long long)*header_len, (unsigned long long)*file_size);
        else if (*header_len > ST_MAX_HEADER)
            lt_st_fail(ctx, LT_ERR_FORMAT, path, "header length %llu exceeds the limit of %u bytes",
                       (unsigned long long)*header_len, ST_MAX_HEADER);
        else
            return f;
    }
    fclose(f);
    return NULL;
}

/* Parses and validates the header text, then reads the data. */
static bool load_body(lt_ctx *ctx, lt_safetensors *st, FILE *f, const char *header, size_t header_len)
{
    json_doc doc;
    bool ok = json_parse(&doc, header, header_len, ST_MAX_DEPTH);
    if (!ok && doc.out_of_memory)
        lt_st_fail(ctx, LT_ERR_MEMORY, st->path, "out of memory parsing the header");
    else if (!ok)
        lt_st_fail(ctx, LT_ERR_FORMAT, st->path, "malformed header JSON at byte %zu: %s", doc.err_pos, doc.err);
    if (ok) {
        ok = lt_st_check_header(ctx, st, &doc);
        st->strings = doc.strings; /* names and metadata point into it */
        doc.strings = NULL;
    }
    json_free(&doc);
    if (!ok)
        return false;
    st->data = malloc(st->data_len ? (size_t)st->data_len : 1);
    if (!st->data)
        return lt_st_fail(ctx, LT_ERR_MEMORY, st->path, "out of memory for %llu bytes of data",
                          (unsigned long long)st->data_len);
    if (!read_exact(f, st->data, (size_t)st->data_len))
        return io_fail(ctx, st->path, "reading the data");
    return true;
}

lt_safetensors *lt_safetensors_load(lt_ctx *ctx, const char *path)
{
    if (!ctx || ctx->status != LT_OK)
        return NULL;
    if (!path)
        return lt_fail(ctx, LT_ERR_ARG, "safetensors: load: the path is NULL");
    uint64_t file_size = 0, header_len = 0;
    FILE *f = open_checked(ctx, path, &file_size, &header_len);
    if (!f)
        return NULL;
    size_t path_len = strlen(path);
    lt_safetensors *st = calloc(1, sizeof *st + path_len + 1);
    char *header = malloc((size_t)header_len + 1);
    bool ok = st && header;
    if (!ok)
        lt_fail(ctx, LT_ERR_MEMORY, "safetensors: %s: out of memory", path);
    else {
        memcpy(st->path, path, path_len + 1);
        st->data_len = file_size - 8 - header_len;
        if (SIZE_MAX < UINT64_MAX && st->data_len > SIZE_MAX)
            ok = lt_st_fail(ctx, LT_ERR_MEMORY, path, "%llu bytes of data do not fit in memory",
                            (unsigned long long)st->data_len);
        else if (!(ok = read_exact(f, header, (size_t)header_len)))
            io_fail(ctx, path, "reading the header");
        else
            ok = load_body(ctx, st, f, header, (size_t)header_len);
    }
    free(header);
    fclose(f);
    if (!ok) {
        lt_safetensors_free(st);
        return NULL;
    }
    return st;
}

void lt_safetensors_free(lt_safetensors *st)
{
    if (!st)
        return;
    free(st->entries);
    free(st->by_name);
    free(st->meta);
    free(st->strings);
    free(st->data);
    free(st);
}

int lt_safetensors_count(const lt_safetensors *st) { return st ? st->n : 0; }

const char *lt_safetensors_name(const lt_safetensors *st, int i)
{
    return st && i >= 0 && i < st->n ? st->entries[i].name : NULL;
}

bool lt_safetensors_info(const lt_safetensors *st, int i, const char **dtype, lt_shape *shape)
{
    if (!st || i < 0 || i >= st->n)
        return false;
    const st_entry *e = &st->entries[i];
    if (dtype)
        *dtype = e->dtype->name;
    if (shape) {
        *shape = (lt_shape){e->ndim, {0}};
        memcpy(shape->d, e->shape, sizeof(int64_t) * (size_t)e->ndim);
    }
    return true;
}

const char *lt_safetensors_meta(const lt_safetensors *st, const char *key)
{
    if (!st || !key)
        return NULL;
    const name_ref *r = lt_st_lookup(st->meta, st->n_meta, key);
    return r ? r->value : NULL;
}

/* Copies the dense little-endian bytes src into dst (any strides). */
static void copy_into(lt_tensor *dst, const unsigned char *src)
{
    const size_t es = lt_dtype_size(dst->dtype);
    const int64_t n = lt_numel(dst);
    unsigned char *base = (unsigned char *)dst->storage->data + (size_t)dst->offset * es;
    if (n == 0)
        return;
    if (lt_is_contiguous(dst) && lt_st_host_little_endian()) {
        memcpy(base, src, (size_t)n * es);
        return;
    }
    lt_walk w;
    lt_walk_tensor(&w, dst);
    for (int64_t done = 0; done < n; done += w.len, lt_walk_next(&w))
        for (int64_t j = 0; j < w.len; j++) {
            unsigned char elem[8];
            memcpy(elem, src + (size_t)(done + j) * es, es);
            lt_st_swap_to_host(elem, es);
            memcpy(base + (size_t)(w.off[0] + j * w.step[0]) * es, elem, es);
        }
}

bool lt_safetensors_read(lt_ctx *ctx, const lt_safetensors *st, const char *name, lt_tensor *dst)
{
    if (!ctx || ctx->status != LT_OK)
        return false;
    if (!st || !name || !dst)
        return lt_fail(ctx, LT_ERR_ARG, "safetensors: read: the %s is NULL",
                       !st     ? "checkpoint"
                       : !name ? "name"
                               : "destination tensor"),
               false;
    if (!lt_check_live_as(ctx, "safetensors: read", "the destination tensor", dst))
        return false;
    char nb[ST_SHOWN_SIZE];
    const name_ref *r = lt_st_lookup(st->by_name, st->n, name);
    if (!r)
        return lt_fail(ctx, LT_ERR_FORMAT, "safetensors: no tensor named '%s' in %s", lt_st_shown(name, nb), st->path),
               false;
    const st_entry *e = &st->entries[r->index];
    if (e->dtype->lt != (int)dst->dtype)
        return lt_fail(ctx, LT_ERR_FORMAT, "safetensors: tensor '%s' has dtype %s but the destination is %s",
                       lt_st_shown(name, nb), e->dtype->name, lt_st_dtype_name(dst->dtype)),
               false;
    lt_shape file_shape = {e->ndim, {0}};
    memcpy(file_shape.d, e->shape, sizeof(int64_t) * (size_t)e->ndim);
    if (!lt_shape_equal(file_shape, lt_shape_of(dst)))
        return lt_fail(ctx, LT_ERR_FORMAT, "safetensors: tensor '%s' has shape %s but the destination is %s",
                       lt_st_shown(name, nb), LT_SHAPE_TEXT(file_shape), LT_TENSOR_SHAPE(dst)),
               false;
    lt_bump(dst);
    copy_into(dst, st->data + e->begin);
    return true;
}
