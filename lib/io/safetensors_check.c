/* safetensors_check.c - validating a safetensors header (safetensors.h)
 * before anything of the file is used.
 *
 * Besides F32 and I32, the other safetensors dtypes (F64, BF16, U8, ...) are
 * accepted so that such a file still loads; reading one of them into a
 * tensor is a dtype error. Tensors of rank above LT_MAX_DIMS are rejected.
 * As the specification asks, the byte buffer must be covered exactly: no
 * overlaps, no holes, no trailing bytes. Every failure is LT_ERR_FORMAT
 * naming the file, the tensor and the problem. */
#include "io/json.h"
#include "io/safetensors.h"

#include <stdlib.h>
#include <string.h>

/* The shape of an entry as an lt_shape, for messages. */
static lt_shape entry_shape(const st_entry *e)
{
    lt_shape s = {e->ndim, {0}};
    memcpy(s.d, e->shape, sizeof(int64_t) * (size_t)e->ndim);
    return s;
}

/* Everything the header checks need. */
typedef struct loader {
    lt_ctx *ctx;
    const char *path;
    const json_doc *doc;
    lt_safetensors *st;
} loader;

#define FORMAT_FAIL(L, ...) lt_st_fail((L)->ctx, LT_ERR_FORMAT, (L)->path, __VA_ARGS__)

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
    if (overflow)
        return FORMAT_FAIL(L, TFMT "shape %s has an element count that overflows", nm, LT_SHAPE_TEXT(entry_shape(e)));
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
        char kb[ST_SHOWN_SIZE];
        if (f == 3 || has_nul(key))
            return FORMAT_FAIL(L, TFMT "unknown field '%s'", nm, lt_st_shown(key->str, kb));
        if (seen[f])
            return FORMAT_FAIL(L, TFMT "field '%s' appears twice", nm, FIELDS[f]);
        seen[f] = true;
        if (f == 0) {
            if (val->type != JSON_STRING)
                return FORMAT_FAIL(L, TFMT "dtype is not a string", nm);
            if (!(e->dtype = lt_st_find_dtype(val->str)) || has_nul(val))
                return FORMAT_FAIL(L, TFMT "unknown dtype '%s'", nm, lt_st_shown(val->str, kb));
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
    char nb[ST_SHOWN_SIZE];
    const char *nm = lt_st_shown(d->v[key].str, nb);
    if (has_nul(&d->v[key]))
        return FORMAT_FAIL(L, "tensor name '%s' contains a NUL character", nm);
    if (d->v[key + 1].type != JSON_OBJECT)
        return FORMAT_FAIL(L, TFMT "the entry is not a JSON object", nm);
    e->name = d->v[key].str;
    if (!parse_fields(L, key + 1, e, nm))
        return false;
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
                           (unsigned long long)(e->end - e->begin), e->dtype->name, LT_SHAPE_TEXT(entry_shape(e)),
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
        return lt_st_fail(L->ctx, LT_ERR_MEMORY, L->path, "out of memory");
    char b[ST_SHOWN_SIZE];
    for (size_t i = json_first(d, obj), m = 0; m < d->v[obj].count; m++, i = d->v[i + 1].end) {
        const json_value *key = &d->v[i], *val = &d->v[i + 1];
        if (val->type != JSON_STRING)
            return FORMAT_FAIL(L, "metadata value for '%s' is not a string", lt_st_shown(key->str, b));
        if (has_nul(key) || has_nul(val))
            return FORMAT_FAIL(L, "metadata entry '%s' contains a NUL character", lt_st_shown(key->str, b));
        st->meta[st->n_meta++] = (name_ref){key->str, val->str, (int)m};
    }
    const char *dup = lt_st_sort_find_duplicate(st->meta, st->n_meta);
    if (dup)
        return FORMAT_FAIL(L, "duplicate metadata key '%s'", lt_st_shown(dup, b));
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
        return lt_st_fail(L->ctx, LT_ERR_MEMORY, L->path, "out of memory");
    for (int i = 0; i < st->n; i++)
        r[i] = (range_ref){st->entries[i].begin, st->entries[i].end, i};
    if (st->n > 1)
        qsort(r, (size_t)st->n, sizeof *r, compare_ranges);
    uint64_t covered = 0;
    bool ok = true;
    char a[ST_SHOWN_SIZE], b[ST_SHOWN_SIZE];
    for (int i = 0; ok && i < st->n; i++) {
        if (r[i].begin < covered)
            ok = FORMAT_FAIL(L, "tensor '%s' (bytes %llu..%llu) overlaps tensor '%s' (bytes %llu..%llu)",
                             lt_st_shown(st->entries[r[i].index].name, a), (unsigned long long)r[i].begin,
                             (unsigned long long)r[i].end, lt_st_shown(st->entries[r[i - 1].index].name, b),
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
        return lt_st_fail(L->ctx, LT_ERR_MEMORY, L->path, "out of memory");
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
    char b[ST_SHOWN_SIZE];
    const char *dup = lt_st_sort_find_duplicate(st->by_name, st->n);
    if (dup)
        return FORMAT_FAIL(L, "duplicate tensor name '%s'", lt_st_shown(dup, b));
    return check_layout(L);
}

bool lt_st_check_header(lt_ctx *ctx, lt_safetensors *st, const json_doc *doc)
{
    loader L = {ctx, st->path, doc, st};
    return parse_header(&L);
}
