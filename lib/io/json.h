/* json.h - a small strict JSON reader (RFC 8259) for file headers, and the
 * few writing helpers a header writer needs.
 *
 * The whole text is parsed into a flat array of values in document order: a
 * container is followed by its children, and an object's children alternate
 * key (a STRING value) and member value. Every value records the index just
 * past its subtree, so siblings are reached without recursion:
 *
 *     for (size_t i = json_first(doc, obj), m = 0; m < doc->v[obj].count; m++) {
 *         const json_value *key = &doc->v[i], *val = &doc->v[i + 1];
 *         ...
 *         i = val->end;                    // next key
 *     }
 *
 * Strict means: no comments, no trailing commas, no single quotes, no leading
 * zeros, no raw control characters or invalid UTF-8 inside strings, no lone
 * surrogates in \u escapes, nothing but whitespace after the top-level value,
 * and a nesting limit. Memory is proportional to the text's length (never to
 * a number found in it). Internal to the library. */
#ifndef LT_JSON_H
#define LT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The library is linked into other people's programs: its external symbols
 * must all carry the lt_ prefix (tools/check_header.sh, the header_hygiene
 * test), so these internal functions are renamed at the symbol level while
 * the code keeps short names. */
#define json_parse lt__json_parse
#define json_free lt__json_free
#define json_get_u64 lt__json_get_u64
#define json_utf8_length lt__json_utf8_length
#define json_valid_utf8 lt__json_valid_utf8
#define json_buf_put lt__json_buf_put
#define json_buf_puts lt__json_buf_puts
#define json_buf_u64 lt__json_buf_u64
#define json_buf_string lt__json_buf_string
#define json_buf_free lt__json_buf_free

typedef enum json_type {
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
} json_type;

typedef struct json_value {
    json_type type;
    size_t count; /* ARRAY: elements; OBJECT: members (key/value pairs) */
    size_t end;   /* index one past this value's last descendant */
    size_t pos;   /* byte offset of the value in the text (for messages) */
    /* STRING: the decoded bytes, NUL-terminated (may hold an embedded NUL
     * from \u0000: compare len with strlen to detect it). NUMBER: the literal
     * as written, pointing into the parsed text (valid while it is). */
    const char *str;
    size_t len;
} json_value;

typedef struct json_doc {
    json_value *v; /* v[0] is the top-level value */
    size_t n, cap;
    char *strings; /* storage for every decoded string (malloc'd) */
    bool out_of_memory;
    size_t err_pos;
    char err[96];  /* "" on success */
} json_doc;

/* Parses text[0..len). On failure returns false with doc->err and
 * doc->err_pos set (or doc->out_of_memory); the doc must be freed with
 * json_free either way. max_depth bounds the nesting of arrays/objects. */
bool json_parse(json_doc *doc, const char *text, size_t len, int max_depth);
void json_free(json_doc *doc);

/* Index of the first child of container i (its first key for an object). */
static inline size_t json_first(const json_doc *doc, size_t i)
{
    (void)doc;
    return i + 1;
}

typedef enum json_int {
    JSON_INT_OK,
    JSON_INT_NOT_NUMBER,
    JSON_INT_NEGATIVE,     /* a valid integer below zero */
    JSON_INT_NOT_INTEGER,  /* has a fraction or an exponent */
    JSON_INT_TOO_LARGE     /* above UINT64_MAX */
} json_int;

/* The value of an integer literal without sign, fraction or exponent. */
json_int json_get_u64(const json_value *v, uint64_t *out);

/* Length of the valid UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) at s, of which avail bytes exist; 0
 * when invalid. */
size_t json_utf8_length(const unsigned char *s, size_t avail);
/* True when the NUL-terminated s is valid UTF-8. */
bool json_valid_utf8(const char *s);

/* ---- writing ------------------------------------------------------------ */

/* A growing text buffer; after an allocation failure every append is a
 * no-op and failed is set, so a writer checks once at the end. */
typedef struct json_buf {
    char *data;
    size_t len, cap;
    bool failed;
} json_buf;

void json_buf_put(json_buf *b, const char *s, size_t n);
void json_buf_puts(json_buf *b, const char *s);
void json_buf_u64(json_buf *b, uint64_t v);
/* s (valid UTF-8) as a quoted JSON string: '"' and '\\' escaped, control
 * characters as \n, \t, ... or \u00XX, everything else (incl. UTF-8) raw. */
void json_buf_string(json_buf *b, const char *s);
void json_buf_free(json_buf *b);

#endif
