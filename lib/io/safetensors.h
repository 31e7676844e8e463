/* safetensors.h - what the safetensors reader, writer and checker share
 * (internal; not installed): the file layout, the dtype table, the loaded
 * file's structure, names in messages, sorted name lookup and byte order.
 *
 * Layout (https://github.com/huggingface/safetensors, "Format"):
 *   8 bytes   N, little-endian u64
 *   N bytes   UTF-8 JSON: {"__metadata__": {"k": "v", ...},
 *                          "name": {"dtype": "F32", "shape": [2, 3],
 *                                   "data_offsets": [begin, end]}, ...}
 *             padded with spaces so that the data starts 8-byte aligned
 *   the rest  the byte buffer; offsets are relative to its start
 *
 * Element bytes are little-endian on disk; on a big-endian host they are
 * swapped on the way in and out (untested there). The files:
 * safetensors_write.c (lt_safetensors_save), safetensors_read.c (loading and
 * the accessors), safetensors_check.c (validating a header), and
 * safetensors_format.c (this header's functions). */
#ifndef LT_SAFETENSORS_H
#define LT_SAFETENSORS_H

#include "core/internal.h"

#define ST_MAX_HEADER 100000000u /* the reference reader's limit */
#define ST_MAX_DEPTH 32          /* a valid header nests 3 deep */
#define ST_NAME_SHOWN 40         /* bytes of a name quoted in a message */
#define ST_SHOWN_SIZE (ST_NAME_SHOWN + 4)

/* A safetensors dtype: its name, element size, and libtensor's dtype
 * (LT_F32 / LT_I32, or -1 when libtensor has no such dtype). */
typedef struct st_dtype {
    const char *name;
    size_t size;
    int lt;
} st_dtype;

/* One tensor of a loaded file. */
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

/* The dtype named name ("F32", "BF16", ...), or NULL. */
const st_dtype *lt_st_find_dtype(const char *name);
/* "F32" or "I32". */
const char *lt_st_dtype_name(lt_dtype dt);

bool lt_st_host_little_endian(void);
/* Converts one element between little-endian and host order (its own
 * inverse). */
void lt_st_swap_to_host(unsigned char *p, size_t size);

/* A printable, bounded form of a (possibly hostile) name for messages. */
const char *lt_st_shown(const char *s, char buf[ST_SHOWN_SIZE]);
/* Sorts refs by name; returns the first name that occurs twice, or NULL. */
const char *lt_st_sort_find_duplicate(name_ref *refs, int n);
/* The ref named name in refs sorted by lt_st_sort_find_duplicate, or NULL. */
const name_ref *lt_st_lookup(const name_ref *refs, int n, const char *name);

/* Records "safetensors: <what>: <message>" with status s (what: "save", or
 * the file's path) and returns false. */
bool lt_st_fail(lt_ctx *ctx, lt_status s, const char *what, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Validates a parsed header against st->data_len and fills st's entries,
 * names and metadata (pointing into doc's strings); false with
 * LT_ERR_FORMAT (or LT_ERR_MEMORY) naming st->path and the problem. */
struct json_doc;
bool lt_st_check_header(lt_ctx *ctx, lt_safetensors *st, const struct json_doc *doc);

#endif
