/* safetensors.c - checkpoints in the safetensors format.
 *
 * Layout (https://github.com/huggingface/safetensors, "Format"):
 *   8 bytes   N, little-endian u64
 *   N bytes   UTF-8 JSON: {"__metadata__": {"k": "v", ...},
 *                          "name": {"dtype": "F32", "shape": [2, 3],
 *                                   "data_offsets": [begin, end]}, ...}
 *             padded with spaces so that the data starts 8-byte aligned
 *   the rest  the byte buffer; offsets are relative to its start
 *
 * Writing follows the reference writer (compact JSON, "__metadata__" first
 * and only when there is metadata, space padding), with the tensors in the
 * caller's order. Element bytes are little-endian on disk; on a big-endian
 * host they are swapped on the way in and out (untested there).
 *
 * Reading validates the whole file before returning anything, and allocates
 * only in proportion to the bytes actually present in the file: the header
 * length is checked against the file size (and a 100 MB cap, as the
 * reference reader) before the header is read. Besides F32 and I32, the other
 * safetensors dtypes (F64, BF16, U8, ...) are accepted so that such a file
 * still loads; reading one of them into a tensor is a dtype error. Tensors
 * of rank above LT_MAX_DIMS are rejected. As the specification asks, the
 * byte buffer must be covered exactly: no overlaps, no holes, no trailing
 * bytes. */
#define _POSIX_C_SOURCE 200809L /* fsync, fileno, fstat, open, getpid */
#include "core/internal.h"
#include "io/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER 100000000u /* the reference reader's limit */
#define ST_MAX_DEPTH 32          /* a valid header nests 3 deep */
#define ST_NAME_SHOWN 40         /* bytes of a name quoted in a message */

/* ---- dtypes ------------------------------------------------------------- */

typedef struct st_dtype {
    const char *name;
    size_t size;
    int lt; /* LT_F32 / LT_I32, or -1 when libtensor has no such dtype */
} st_dtype;

static const st_dtype DTYPES[] = {
    {"F32", 4, LT_F32},    {"I32", 4, LT_I32},    {"F64", 8, -1},  {"F16", 2, -1},  {"BF16", 2, -1},
    {"I64", 8, -1},        {"I16", 2, -1},        {"I8", 1, -1},   {"U64", 8, -1},  {"U32", 4, -1},
    {"U16", 2, -1},        {"U8", 1, -1},         {"BOOL", 1, -1}, {"F8_E4M3", 1, -1},
    {"F8_E5M2", 1, -1},
};

static const st_dtype *find_dtype(const char *name)
{
    for (size_t i = 0; i < sizeof DTYPES / sizeof *DTYPES; i++)
        if (strcmp(DTYPES[i].name, name) == 0)
            return &DTYPES[i];
    return NULL;
}

static const char *st_dtype_name(lt_dtype dt) { return dt == LT_I32 ? "I32" : "F32"; }

/* ---- the loaded file ---------------------------------------------------- */

typedef struct st_entry {
    const char *name;
    const st_dtype *dtype;
    int ndim;
    int64_t shape[LT_MAX_DIMS];
    uint64_t begin, end; /* byte range in the data buffer */
} st_entry;

/* A (name, value) pair sorted for lookup: tensors by name (value unused,
 * index into entries) and metadata by key. */
typedef struct name_ref {
    const char *name;
    const char *value;
    int index;
} name_ref;

struct lt_safetensors {
    int n, n_meta;
    st_entry *entries;   /* header order */
    name_ref *by_name;   /* n, sorted by name */
    name_ref *meta;      /* n_meta, sorted by key */
    char *strings;       /* decoded header strings, owned */
    unsigned char *data; /* the byte buffer */
    uint64_t data_len;
    char path[];
};

/* ---- small helpers ------------------------------------------------------ */

static bool host_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Converts one element between little-endian and host order (its own
 * inverse). */
static void swap_to_host(unsigned char *p, size_t size)
{
    if (host_little_endian())
        return;
    for (size_t i = 0; i < size / 2; i++) {
        unsigned char t = p[i];
        p[i] = p[size - 1 - i];
        p[size - 1 - i] = t;
    }
}

/* A printable, bounded form of a (possibly hostile) name for messages. */
static const char *shown(const char *s, char buf[ST_NAME_SHOWN + 4])
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

/* Sorts refs by name; returns the first name that occurs twice, or NULL. */
static const char *sort_find_duplicate(name_ref *refs, int n)
{
    if (n > 1)
        qsort(refs, (size_t)n, sizeof *refs, compare_refs);
    for (int i = 1; i < n; i++)
        if (strcmp(refs[i - 1].name, refs[i].name) == 0)
            return refs[i].name;
    return NULL;
}

static const name_ref *lookup(const name_ref *refs, int n, const char *name)
{
    if (n == 0)
        return NULL;
    name_ref key = {name, NULL, 0};
    return bsearch(&key, refs, (size_t)n, sizeof *refs, compare_refs);
}

/* Visits the storage offsets of a tensor's elements in row-major order. */
typedef struct walker {
    const lt_tensor *t;
    int64_t idx[LT_MAX_DIMS];
    int64_t off;
} walker;

static walker walker_start(const lt_tensor *t) { return (walker){.t = t, .idx = {0}, .off = t->offset}; }

static int64_t walker_next(walker *w)
{
    int64_t cur = w->off;
    const lt_tensor *t = w->t;
    for (int d = t->ndim - 1; d >= 0; d--) {
        w->off += t->stride[d];
        if (++w->idx[d] < t->shape[d])
            break;
        w->off -= t->stride[d] * t->shape[d];
        w->idx[d] = 0;
    }
    return cur;
}

/* Byte size of a tensor's data on disk (F32/I32: 4 bytes an element). */
static uint64_t tensor_bytes(const lt_tensor *t) { return (uint64_t)lt_numel(t) * lt_dtype_size(t->dtype); }

/* ======================================================================== */
/* Writing                                                                  */
/* ======================================================================== */

static bool save_fail(lt_ctx *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static bool save_fail(lt_ctx *ctx, const char *fmt, ...)
{
    char msg[LT_ERRMSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lt_fail(ctx, LT_ERR_ARG, "safetensors: save: %s", msg);
    return false;
}

static bool check_tensor_args(lt_ctx *ctx, const lt_named_tensor *tensors, int n)
{
    char b[ST_NAME_SHOWN + 4];
    if (n < 0)
        return save_fail(ctx, "n = %d tensors is negative", n);
    if (n > 0 && !tensors)
        return save_fail(ctx, "the tensor array is NULL (n = %d)", n);
    for (int i = 0; i < n; i++) {
        const char *name = tensors[i].name;
        const lt_tensor *t = tensors[i].tensor;
        if (!name)
            return save_fail(ctx, "tensor %d has a NULL name", i);
        if (!name[0])
            return save_fail(ctx, "tensor %d has an empty name", i);
        if (!json_valid_utf8(name))
            return save_fail(ctx, "tensor %d's name '%s' is not valid UTF-8", i, shown(name, b));
        if (strcmp(name, "__metadata__") == 0)
            return save_fail(ctx, "tensor %d: the name '__metadata__' is reserved for metadata", i);
        if (!t)
            return save_fail(ctx, "tensor '%s' is NULL", shown(name, b));
        if (t->dtype != LT_F32 && t->dtype != LT_I32)
            return save_fail(ctx, "tensor '%s' has unsupported dtype %d", shown(name, b), (int)t->dtype);
    }
    return true;
}

static bool check_meta_args(lt_ctx *ctx, const char *const *meta, int n_meta)
{
    char b[ST_NAME_SHOWN + 4];
    if (n_meta < 0)
        return save_fail(ctx, "n_meta = %d is negative", n_meta);
    if (n_meta > 0 && !meta)
        return save_fail(ctx, "the metadata array is NULL (n_meta = %d)", n_meta);
    for (int i = 0; i < n_meta; i++) {
        const char *key = meta[2 * i], *value = meta[2 * i + 1];
        if (!key || !value)
            return save_fail(ctx, "metadata entry %d has a NULL %s", i, key ? "value" : "key");
        if (!json_valid_utf8(key))
            return save_fail(ctx, "metadata key %d ('%s') is not valid UTF-8", i, shown(key, b));
        if (!json_valid_utf8(value))
            return save_fail(ctx, "metadata value for '%s' is not valid UTF-8", shown(key, b));
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
    char b[ST_NAME_SHOWN + 4];
    const char *dup;
    bool ok = true;
    for (int i = 0; i < n; i++)
        refs[i] = (name_ref){tensors[i].name, NULL, i};
    if ((dup = sort_find_duplicate(refs, n)) != NULL)
        ok = save_fail(ctx, "duplicate tensor name '%s'", shown(dup, b));
    for (int i = 0; ok && i < n_meta; i++)
        refs[i] = (name_ref){meta[2 * i], NULL, i};
    if (ok && (dup = sort_find_duplicate(refs, n_meta)) != NULL)
        ok = save_fail(ctx, "duplicate metadata key '%s'", shown(dup, b));
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
        json_buf_puts(&b, st_dtype_name(t->dtype));
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
    const unsigned char *base = t->storage->data;
    if (n == 0)
        return true;
    if (lt_is_contiguous(t) && host_little_endian())
        return fwrite(base + (size_t)t->offset * es, es, (size_t)n, f) == (size_t)n;
    unsigned char chunk[16384];
    size_t used = 0;
    walker w = walker_start(t);
    for (int64_t i = 0; i < n; i++) {
        memcpy(chunk + used, base + (size_t)walker_next(&w) * es, es);
        swap_to_host(chunk + used, es);
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

bool lt_safetensors_save(lt_ctx *ctx, const char *path, const lt_named_tensor *tensors, int n,
                         const char *const *meta, int n_meta)
{
    if (!ctx || ctx->status != LT_OK)
        return false;
    if (!path || !path[0])
        return save_fail(ctx, "the path is %s", path ? "empty" : "NULL");
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

/* ======================================================================== */
/* Reading                                                                  */
/* ======================================================================== */

/* Everything the header checks need. */
typedef struct loader {
    lt_ctx *ctx;
    const char *path;
    const json_doc *doc;
    lt_safetensors *st;
} loader;

static bool load_fail_status(lt_ctx *ctx, lt_status s, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static bool load_fail_status(lt_ctx *ctx, lt_status s, const char *path, const char *fmt, ...)
{
    char msg[LT_ERRMSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lt_fail(ctx, s, "safetensors: %s: %s", path, msg);
    return false;
}

#define FORMAT_FAIL(L, ...) load_fail_status((L)->ctx, LT_ERR_FORMAT, (L)->path, __VA_ARGS__)

/* "tensor 'W1': " prefix for entry messages. */
#define TFMT "tensor '%s': "

static bool has_nul(const json_value *s) { return strlen(s->str) != s->len; }

/* shape: at most LT_MAX_DIMS non-negative integers whose product (times the
 * element size) fits in 63 bits. */
static bool parse_shape(loader *L, size_t i, st_entry *e, const char *nm)
{
    const json_doc *d = L->doc;
    const json_value *a = &d->v[i];
    if (a->type != JSON_ARRAY)
        return FORMAT_FAIL(L, TFMT "shape is not an array", nm);
    if (a->count > LT_MAX_DIMS)
        return FORMAT_FAIL(L, TFMT "rank %zu exceeds the maximum of %d dimensions", nm, a->count, LT_MAX_DIMS);
    e->ndim = (int)a->count;
    uint64_t bytes = e->dtype->size;
    bool overflow = false;
    for (int k = 0; k < e->ndim; k++) {
        /* consecutive indices: every earlier element was a number (a single
         * value), else we would have failed on it */
        const json_value *x = &d->v[i + 1 + (size_t)k];
        uint64_t v;
        json_int r = json_get_u64(x, &v);
        if (r == JSON_INT_NEGATIVE)
            return FORMAT_FAIL(L, TFMT "shape entry %.*s is negative", nm, (int)(x->len > 24 ? 24 : x->len), x->str);
        if (r == JSON_INT_NOT_NUMBER || r == JSON_INT_NOT_INTEGER)
            return FORMAT_FAIL(L, TFMT "shape entries must be non-negative integers", nm);
        if (r == JSON_INT_TOO_LARGE || v > INT64_MAX)
            return FORMAT_FAIL(L, TFMT "shape entry %.*s is too large", nm, (int)(x->len > 24 ? 24 : x->len), x->str);
        e->shape[k] = (int64_t)v;
        /* as the reference: any intermediate overflow is an error */
        if (v != 0 && bytes > (uint64_t)INT64_MAX / v)
            overflow = true;
        else
            bytes *= v;
    }
    if (overflow) {
        char s[160];
        lt_shape sh = {e->ndim, {0}};
        memcpy(sh.d, e->shape, sizeof(int64_t) * (size_t)e->ndim);
        return FORMAT_FAIL(L, TFMT "shape %s has an element count that overflows", nm, lt_shape_str(sh, s, sizeof s));
    }
    return true;
}

static bool parse_offsets(loader *L, size_t i, st_entry *e, const char *nm)
{
    const json_doc *d = L->doc;
    const json_value *a = &d->v[i];
    uint64_t v[2];
    /* the second element is at i + 2 only when the first is a number: the
     * || stops at the first failure */
    if (a->type != JSON_ARRAY || a->count != 2 || json_get_u64(&d->v[i + 1], &v[0]) != JSON_INT_OK ||
        json_get_u64(&d->v[i + 2], &v[1]) != JSON_INT_OK)
        return FORMAT_FAIL(L, TFMT "data_offsets must be an array of two non-negative integers", nm);
    e->begin = v[0];
    e->end = v[1];
    return true;
}

/* The "dtype", "shape" and "data_offsets" members of one tensor, each
 * exactly once and nothing else. */
static bool parse_fields(loader *L, size_t obj, st_entry *e, const char *nm)
{
    const json_doc *d = L->doc;
    size_t shape_at = 0;
    bool seen[3] = {false, false, false};
    static const char *const FIELDS[3] = {"dtype", "shape", "data_offsets"};
    for (size_t i = json_first(d, obj), m = 0; m < d->v[obj].count; m++, i = d->v[i + 1].end) {
        const json_value *key = &d->v[i], *val = &d->v[i + 1];
        int f = 0;
        while (f < 3 && strcmp(key->str, FIELDS[f]) != 0)
            f++;
        char kb[ST_NAME_SHOWN + 4];
        if (f == 3 || has_nul(key))
            return FORMAT_FAIL(L, TFMT "unknown field '%s'", nm, shown(key->str, kb));
        if (seen[f])
            return FORMAT_FAIL(L, TFMT "field '%s' appears twice", nm, FIELDS[f]);
        seen[f] = true;
        if (f == 0) {
            if (val->type != JSON_STRING)
                return FORMAT_FAIL(L, TFMT "dtype is not a string", nm);
            if (!(e->dtype = find_dtype(val->str)) || has_nul(val))
                return FORMAT_FAIL(L, TFMT "unknown dtype '%s'", nm, shown(val->str, kb));
        } else if (f == 1) {
            shape_at = i + 1;
        } else if (!parse_offsets(L, i + 1, e, nm)) {
            return false;
        }
    }
    for (int f = 0; f < 3; f++)
        if (!seen[f])
            return FORMAT_FAIL(L, TFMT "missing field '%s'", nm, FIELDS[f]);
    return parse_shape(L, shape_at, e, nm); /* after the dtype: needs its size */
}

/* One tensor entry: fields, then its byte range against the data size. */
static bool parse_entry(loader *L, size_t key, st_entry *e)
{
    const json_doc *d = L->doc;
    char nb[ST_NAME_SHOWN + 4];
    const char *nm = shown(d->v[key].str, nb);
    if (has_nul(&d->v[key]))
        return FORMAT_FAIL(L, "tensor name '%s' contains a NUL character", nm);
    if (d->v[key + 1].type != JSON_OBJECT)
        return FORMAT_FAIL(L, TFMT "the entry is not a JSON object", nm);
    e->name = d->v[key].str;
    if (!parse_fields(L, key + 1, e, nm))
        return false;
    char s[160];
    lt_shape sh = {e->ndim, {0}};
    memcpy(sh.d, e->shape, sizeof(int64_t) * (size_t)e->ndim);
    uint64_t need = (uint64_t)lt_shape_numel(e->ndim, e->shape) * e->dtype->size;
    if (e->begin > e->end)
        return FORMAT_FAIL(L, TFMT "data_offsets [%llu,%llu] are reversed", nm, (unsigned long long)e->begin,
                           (unsigned long long)e->end);
    if (e->end > L->st->data_len)
        return FORMAT_FAIL(L, TFMT "data_offsets [%llu,%llu] lie outside the %llu bytes of data", nm,
                           (unsigned long long)e->begin, (unsigned long long)e->end,
                           (unsigned long long)L->st->data_len);
    if (e->end - e->begin != need)
        return FORMAT_FAIL(L, TFMT "data_offsets [%llu,%llu] hold %llu bytes but %s %s needs %llu", nm,
                           (unsigned long long)e->begin, (unsigned long long)e->end,
                           (unsigned long long)(e->end - e->begin), e->dtype->name, lt_shape_str(sh, s, sizeof s),
                           (unsigned long long)need);
    return true;
}

/* "__metadata__": null, or an object of string values. */
static bool parse_metadata(loader *L, size_t obj)
{
    const json_doc *d = L->doc;
    lt_safetensors *st = L->st;
    if (d->v[obj].type == JSON_NULL)
        return true;
    if (d->v[obj].type != JSON_OBJECT)
        return FORMAT_FAIL(L, "__metadata__ is not a JSON object");
    st->meta = malloc(sizeof *st->meta * (d->v[obj].count ? d->v[obj].count : 1));
    if (!st->meta)
        return load_fail_status(L->ctx, LT_ERR_MEMORY, L->path, "out of memory");
    char b[ST_NAME_SHOWN + 4];
    for (size_t i = json_first(d, obj), m = 0; m < d->v[obj].count; m++, i = d->v[i + 1].end) {
        const json_value *key = &d->v[i], *val = &d->v[i + 1];
        if (val->type != JSON_STRING)
            return FORMAT_FAIL(L, "metadata value for '%s' is not a string", shown(key->str, b));
        if (has_nul(key) || has_nul(val))
            return FORMAT_FAIL(L, "metadata entry '%s' contains a NUL character", shown(key->str, b));
        st->meta[st->n_meta++] = (name_ref){key->str, val->str, (int)m};
    }
    const char *dup = sort_find_duplicate(st->meta, st->n_meta);
    if (dup)
        return FORMAT_FAIL(L, "duplicate metadata key '%s'", shown(dup, b));
    return true;
}

typedef struct range_ref {
    uint64_t begin, end;
    int index;
} range_ref;

static int compare_ranges(const void *a, const void *b)
{
    const range_ref *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* The tensors must tile the data exactly: sorted by offset, each begins
 * where the previous one ended, and the last ends at the end of the data. */
static bool check_layout(loader *L)
{
    lt_safetensors *st = L->st;
    range_ref *r = malloc(sizeof *r * (size_t)(st->n ? st->n : 1));
    if (!r)
        return load_fail_status(L->ctx, LT_ERR_MEMORY, L->path, "out of memory");
    for (int i = 0; i < st->n; i++)
        r[i] = (range_ref){st->entries[i].begin, st->entries[i].end, i};
    if (st->n > 1)
        qsort(r, (size_t)st->n, sizeof *r, compare_ranges);
    uint64_t covered = 0;
    bool ok = true;
    char a[ST_NAME_SHOWN + 4], b[ST_NAME_SHOWN + 4];
    for (int i = 0; ok && i < st->n; i++) {
        if (r[i].begin < covered)
            ok = FORMAT_FAIL(L, "tensor '%s' (bytes %llu..%llu) overlaps tensor '%s' (bytes %llu..%llu)",
                             shown(st->entries[r[i].index].name, a), (unsigned long long)r[i].begin,
                             (unsigned long long)r[i].end, shown(st->entries[r[i - 1].index].name, b),
                             (unsigned long long)r[i - 1].begin, (unsigned long long)r[i - 1].end);
        else if (r[i].begin > covered)
            ok = FORMAT_FAIL(L, "data bytes %llu..%llu are not covered by any tensor", (unsigned long long)covered,
                             (unsigned long long)r[i].begin);
        covered = r[i].end;
    }
    if (ok && covered != st->data_len)
        ok = FORMAT_FAIL(L, "data bytes %llu..%llu are not covered by any tensor", (unsigned long long)covered,
                         (unsigned long long)st->data_len);
    free(r);
    return ok;
}

/* Walks the top-level object: tensors and metadata, then names and layout. */
static bool parse_header(loader *L)
{
    const json_doc *d = L->doc;
    lt_safetensors *st = L->st;
    if (d->v[0].type != JSON_OBJECT)
        return FORMAT_FAIL(L, "the header is not a JSON object");
    size_t members = d->v[0].count;
    st->entries = calloc(members ? members : 1, sizeof *st->entries);
    st->by_name = malloc(sizeof *st->by_name * (members ? members : 1));
    if (!st->entries || !st->by_name)
        return load_fail_status(L->ctx, LT_ERR_MEMORY, L->path, "out of memory");
    bool seen_meta = false;
    for (size_t i = json_first(d, 0), m = 0; m < members; m++, i = d->v[i + 1].end) {
        if (strcmp(d->v[i].str, "__metadata__") == 0 && !has_nul(&d->v[i])) {
            if (seen_meta)
                return FORMAT_FAIL(L, "duplicate key '__metadata__'");
            seen_meta = true;
            if (!parse_metadata(L, i + 1))
                return false;
            continue;
        }
        st_entry *e = &st->entries[st->n];
        if (!parse_entry(L, i, e))
            return false;
        st->by_name[st->n] = (name_ref){e->name, NULL, st->n};
        st->n++;
    }
    char b[ST_NAME_SHOWN + 4];
    const char *dup = sort_find_duplicate(st->by_name, st->n);
    if (dup)
        return FORMAT_FAIL(L, "duplicate tensor name '%s'", shown(dup, b));
    return check_layout(L);
}

/* Reads exactly n bytes; false on a short read (errno, or 0 at EOF). */
static bool read_exact(FILE *f, void *buf, size_t n)
{
    errno = 0;
    return fread(buf, 1, n, f) == n;
}

static bool io_fail(lt_ctx *ctx, const char *path, const char *what)
{
    int err = errno;
    return load_fail_status(ctx, LT_ERR_IO, path, "%s: %s", what,
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
        load_fail_status(ctx, LT_ERR_IO, path, "not a regular file");
    else if ((*file_size = (uint64_t)sb.st_size) < 8)
        load_fail_status(ctx, LT_ERR_FORMAT, path, "file is %llu bytes, too short for the 8-byte header length",
                         (unsigned long long)*file_size);
    else if (!read_exact(f, len, 8))
        io_fail(ctx, path, "reading the header length");
    else {
        *header_len = 0;
        for (int i = 7; i >= 0; i--)
            *header_len = *header_len << 8 | len[i];
        if (*header_len > *file_size)
            load_fail_status(ctx, LT_ERR_FORMAT, path, "header length %llu exceeds file size %llu",
                             (unsigned long long)*header_len, (unsigned long long)*file_size);
        else if (*header_len > *file_size - 8)
            load_fail_status(ctx, LT_ERR_FORMAT, path,
                             "header length %llu exceeds file size %llu minus the 8-byte length field",
                             (unsigned long long)*header_len, (unsigned long long)*file_size);
        else if (*header_len > ST_MAX_HEADER)
            load_fail_status(ctx, LT_ERR_FORMAT, path, "header length %llu exceeds the limit of %u bytes",
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
        load_fail_status(ctx, LT_ERR_MEMORY, st->path, "out of memory parsing the header");
    else if (!ok)
        load_fail_status(ctx, LT_ERR_FORMAT, st->path, "malformed header JSON at byte %zu: %s", doc.err_pos,
                         doc.err);
    if (ok) {
        loader L = {ctx, st->path, &doc, st};
        ok = parse_header(&L);
        st->strings = doc.strings; /* names and metadata point into it */
        doc.strings = NULL;
    }
    json_free(&doc);
    if (!ok)
        return false;
    st->data = malloc(st->data_len ? (size_t)st->data_len : 1);
    if (!st->data)
        return load_fail_status(ctx, LT_ERR_MEMORY, st->path, "out of memory for %llu bytes of data",
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
            ok = load_fail_status(ctx, LT_ERR_MEMORY, path, "%llu bytes of data do not fit in memory",
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
    const name_ref *r = lookup(st->meta, st->n_meta, key);
    return r ? r->value : NULL;
}

/* Copies the dense little-endian bytes src into dst (any strides). */
static void copy_into(lt_tensor *dst, const unsigned char *src)
{
    const size_t es = lt_dtype_size(dst->dtype);
    const int64_t n = lt_numel(dst);
    unsigned char *base = dst->storage->data;
    if (n == 0)
        return;
    if (lt_is_contiguous(dst) && host_little_endian()) {
        memcpy(base + (size_t)dst->offset * es, src, (size_t)n * es);
        return;
    }
    walker w = walker_start(dst);
    for (int64_t i = 0; i < n; i++) {
        unsigned char elem[8];
        memcpy(elem, src + (size_t)i * es, es);
        swap_to_host(elem, es);
        memcpy(base + (size_t)walker_next(&w) * es, elem, es);
    }
}

bool lt_safetensors_read(lt_ctx *ctx, const lt_safetensors *st, const char *name, lt_tensor *dst)
{
    if (!ctx || ctx->status != LT_OK)
        return false;
    if (!st || !name || !dst)
        return lt_fail(ctx, LT_ERR_ARG, "safetensors: read: the %s is NULL",
                       !st ? "checkpoint" : !name ? "name" : "destination tensor"),
               false;
    char nb[ST_NAME_SHOWN + 4];
    const name_ref *r = lookup(st->by_name, st->n, name);
    if (!r)
        return lt_fail(ctx, LT_ERR_FORMAT, "safetensors: no tensor named '%s' in %s", shown(name, nb), st->path),
               false;
    const st_entry *e = &st->entries[r->index];
    if (e->dtype->lt != (int)dst->dtype)
        return lt_fail(ctx, LT_ERR_FORMAT, "safetensors: tensor '%s' has dtype %s but the destination is %s",
                       shown(name, nb), e->dtype->name, st_dtype_name(dst->dtype)),
               false;
    lt_shape file_shape = {e->ndim, {0}};
    memcpy(file_shape.d, e->shape, sizeof(int64_t) * (size_t)e->ndim);
    if (!lt_shape_equal(file_shape, lt_shape_of(dst))) {
        char a[96], b[96];
        return lt_fail(ctx, LT_ERR_FORMAT, "safetensors: tensor '%s' has shape %s but the destination is %s",
                       shown(name, nb), lt_shape_str(file_shape, a, sizeof a), lt_tensor_shape_str(dst, b, sizeof b)),
               false;
    }
    copy_into(dst, st->data + e->begin);
    return true;
}
