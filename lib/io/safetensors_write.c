/* safetensors_write.c - lt_safetensors_save: a checkpoint in the
 * safetensors format (layout in safetensors.h), written atomically.
 *
 * Writing follows the reference writer (compact JSON, "__metadata__" first
 * and only when there is metadata, space padding), with the tensors in the
 * caller's order. The file appears at its path only once complete: it is
 * written to a fresh temporary beside it, flushed to disk and renamed. */
#define _POSIX_C_SOURCE 200809L /* fsync, fileno, open, getpid */
#include "io/json.h"
#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A bad argument to lt_safetensors_save. */
#define SAVE_FAIL(ctx, ...) lt_st_fail(ctx, LT_ERR_ARG, "save", __VA_ARGS__)

/* Byte size of a tensor's data on disk (F32/I32: 4 bytes an element). */
static uint64_t tensor_bytes(const lt_tensor *t) { return (uint64_t)lt_numel(t) * lt_dtype_size(t->dtype); }

static bool check_tensor_args(lt_ctx *ctx, const lt_named_tensor *tensors, int n)
{
    char b[ST_SHOWN_SIZE];
    if (n < 0)
        return SAVE_FAIL(ctx, "n = %d tensors is negative", n);
    if (n > 0 && !tensors)
        return SAVE_FAIL(ctx, "the tensor array is NULL (n = %d)", n);
    for (int i = 0; i < n; i++) {
        const char *name = tensors[i].name;
        const lt_tensor *t = tensors[i].tensor;
        if (!name)
            return SAVE_FAIL(ctx, "tensor %d has a NULL name", i);
        if (!name[0])
            return SAVE_FAIL(ctx, "tensor %d has an empty name", i);
        if (!json_valid_utf8(name))
            return SAVE_FAIL(ctx, "tensor %d's name '%s' is not valid UTF-8", i, lt_st_shown(name, b));
        if (strcmp(name, "__metadata__") == 0)
            return SAVE_FAIL(ctx, "tensor %d: the name '__metadata__' is reserved for metadata", i);
        if (!t)
            return SAVE_FAIL(ctx, "tensor '%s' is NULL", lt_st_shown(name, b));
        if (t->dtype != LT_F32 && t->dtype != LT_I32)
            return SAVE_FAIL(ctx, "tensor '%s' has unsupported dtype %d", lt_st_shown(name, b), (int)t->dtype);
        if (!lt_live(ctx, t)) {
            char what[ST_SHOWN_SIZE + 16];
            snprintf(what, sizeof what, "tensor '%s'", lt_st_shown(name, b));
            return lt_check_live_as(ctx, "safetensors: save", what, t);
        }
    }
    return true;
}

static bool check_meta_args(lt_ctx *ctx, const char *const *meta, int n_meta)
{
    char b[ST_SHOWN_SIZE];
    if (n_meta < 0)
        return SAVE_FAIL(ctx, "n_meta = %d is negative", n_meta);
    if (n_meta > 0 && !meta)
        return SAVE_FAIL(ctx, "the metadata array is NULL (n_meta = %d)", n_meta);
    for (int i = 0; i < n_meta; i++) {
        const char *key = meta[2 * i], *value = meta[2 * i + 1];
        if (!key || !value)
            return SAVE_FAIL(ctx, "metadata entry %d has a NULL %s", i, key ? "value" : "key");
        if (!json_valid_utf8(key))
            return SAVE_FAIL(ctx, "metadata key %d ('%s') is not valid UTF-8", i, lt_st_shown(key, b));
        if (!json_valid_utf8(value))
            return SAVE_FAIL(ctx, "metadata value for '%s' is not valid UTF-8", lt_st_shown(key, b));
    }
    return true;
}

/* Rejects a name used twice (tensors) or a key used twice (metadata). */
static bool check_unique(lt_ctx *ctx, const lt_named_tensor *tensors, int n, const char *const *meta, int n_meta)
{
    int most = n > n_meta ? n : n_meta;
    name_ref *refs = malloc(sizeof *refs * (size_t)(most ? most : 1));
    if (!refs)
        return lt_fail(ctx, LT_ERR_MEMORY, "safetensors: save: out of memory"), false;
    char b[ST_SHOWN_SIZE];
    const char *dup;
    bool ok = true;
    for (int i = 0; i < n; i++)
        refs[i] = (name_ref){tensors[i].name, NULL, i};
    if ((dup = lt_st_sort_find_duplicate(refs, n)) != NULL)
        ok = SAVE_FAIL(ctx, "duplicate tensor name '%s'", lt_st_shown(dup, b));
    for (int i = 0; ok && i < n_meta; i++)
        refs[i] = (name_ref){meta[2 * i], NULL, i};
    if (ok && (dup = lt_st_sort_find_duplicate(refs, n_meta)) != NULL)
        ok = SAVE_FAIL(ctx, "duplicate metadata key '%s'", lt_st_shown(dup, b));
    free(refs);
    return ok;
}

/* The JSON header, padded with spaces to a multiple of 8 bytes:
 * {"__metadata__":{"k":"v"},"W1":{"dtype":"F32","shape":[30,200],"data_offsets":[0,24000]}} */
static json_buf build_header(const lt_named_tensor *tensors, int n, const char *const *meta, int n_meta)
{
    json_buf b = {0};
    json_buf_puts(&b, "{");
    if (n_meta > 0) {
        json_buf_puts(&b, "\"__metadata__\":{");
        for (int i = 0; i < n_meta; i++) {
            json_buf_puts(&b, i ? "," : "");
            json_buf_string(&b, meta[2 * i]);
            json_buf_puts(&b, ":");
            json_buf_string(&b, meta[2 * i + 1]);
        }
        json_buf_puts(&b, n > 0 ? "}," : "}");
    }
    uint64_t offset = 0;
    for (int i = 0; i < n; i++) {
        const lt_tensor *t = tensors[i].tensor;
        json_buf_puts(&b, i ? "," : "");
        json_buf_string(&b, tensors[i].name);
        json_buf_puts(&b, ":{\"dtype\":\"");
        json_buf_puts(&b, lt_st_dtype_name(t->dtype));
        json_buf_puts(&b, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            json_buf_puts(&b, d ? "," : "");
            json_buf_u64(&b, (uint64_t)t->shape[d]);
        }
        json_buf_puts(&b, "],\"data_offsets\":[");
        json_buf_u64(&b, offset);
        json_buf_puts(&b, ",");
        offset += tensor_bytes(t);
        json_buf_u64(&b, offset);
        json_buf_puts(&b, "]}");
    }
    json_buf_puts(&b, "}");
    while (!b.failed && b.len % 8 != 0)
        json_buf_puts(&b, " ");
    return b;
}

/* Writes t's elements densely in row-major order, little-endian. */
static bool write_tensor(FILE *f, const lt_tensor *t)
{
    const size_t es = lt_dtype_size(t->dtype);
    const int64_t n = lt_numel(t);
    const unsigned char *base = (const unsigned char *)t->storage->data + (size_t)t->offset * es;
    if (n == 0)
        return true;
    if (lt_is_contiguous(t) && lt_st_host_little_endian())
        return fwrite(base, es, (size_t)n, f) == (size_t)n;
    unsigned char chunk[16384];
    size_t used = 0;
    lt_walk w;
    lt_walk_tensor(&w, t);
    for (int64_t done = 0; done < n; done += w.len, lt_walk_next(&w))
        for (int64_t j = 0; j < w.len; j++) {
            memcpy(chunk + used, base + (size_t)(w.off[0] + j * w.step[0]) * es, es);
            lt_st_swap_to_host(chunk + used, es);
            used += es;
            if (used + es > sizeof chunk) {
                if (fwrite(chunk, 1, used, f) != used)
                    return false;
                used = 0;
            }
        }
    return used == 0 || fwrite(chunk, 1, used, f) == used;
}

/* Creates path.tmp.<pid>.<k> exclusively (a fresh name, never someone
 * else's file); returns the descriptor and the name, or -1 with errno. */
static int create_temp(const char *path, char *tmp, size_t size)
{
    static atomic_uint counter;
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(tmp, size, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&counter, 1u));
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1; /* errno is EEXIST */
}

/* Makes the rename durable; best effort (some file systems refuse). */
static void sync_directory(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) < sizeof dir)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else
        return;
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Writes header + data to f; returns the failed step, or NULL. */
static const char *write_all(FILE *f, const json_buf *header, const lt_named_tensor *tensors, int n)
{
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)header->len >> (8 * i));
    if (fwrite(len, 1, 8, f) != 8 || fwrite(header->data, 1, header->len, f) != header->len)
        return "writing the header";
    for (int i = 0; i < n; i++)
        if (!write_tensor(f, tensors[i].tensor))
            return "writing tensor data";
    if (fflush(f) != 0)
        return "writing tensor data";
    if (fsync(fileno(f)) != 0)
        return "fsync of the temporary file";
    return NULL;
}

/* Temporary file, write, fsync, close, rename; on failure the temporary is
 * removed and the file at path is untouched. */
static bool write_atomically(lt_ctx *ctx, const char *path, const json_buf *header, const lt_named_tensor *tensors,
                             int n)
{
    size_t tmp_size = strlen(path) + 48;
    char *tmp = malloc(tmp_size);
    if (!tmp)
        return lt_fail(ctx, LT_ERR_MEMORY, "safetensors: cannot save %s: out of memory", path), false;
    int fd = create_temp(path, tmp, tmp_size);
    int err = errno;
    if (fd < 0) {
        free(tmp);
        lt_fail(ctx, LT_ERR_IO, "safetensors: cannot save %s: creating a temporary file beside it: %s", path,
                strerror(err));
        return false;
    }
    const char *step = NULL;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        step = "opening the temporary file";
        err = errno;
        close(fd);
    } else if ((step = write_all(f, header, tensors, n)) != NULL) {
        err = errno;
        fclose(f);
    } else if (fclose(f) != 0) {
        step = "closing the temporary file";
        err = errno;
    } else if (rename(tmp, path) != 0) {
        step = "renaming the temporary file over it";
        err = errno;
    }
    if (!step) {
        sync_directory(path);
        free(tmp);
        return true;
    }
    unlink(tmp);
    free(tmp);
    lt_fail(ctx, LT_ERR_IO, "safetensors: cannot save %s: %s: %s", path, step, strerror(err ? err : EIO));
    return false;
}

bool lt_safetensors_save(lt_ctx *ctx, const char *path, const lt_named_tensor *tensors, int n, const char *const *meta,
                         int n_meta)
{
    if (!ctx || ctx->status != LT_OK)
        return false;
    if (!path || !path[0])
        return SAVE_FAIL(ctx, "the path is %s", path ? "empty" : "NULL");
    if (!check_tensor_args(ctx, tensors, n) || !check_meta_args(ctx, meta, n_meta) ||
        !check_unique(ctx, tensors, n, meta, n_meta))
        return false;
    json_buf header = build_header(tensors, n, meta, n_meta);
    if (header.failed) {
        json_buf_free(&header);
        return lt_fail(ctx, LT_ERR_MEMORY, "safetensors: cannot save %s: out of memory for the header", path), false;
    }
    bool ok = write_atomically(ctx, path, &header, tensors, n);
    json_buf_free(&header);
    return ok;
}
