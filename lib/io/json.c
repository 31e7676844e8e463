/* json.c - the strict JSON reader described in json.h.
 *
 * Recursive descent over the text; recursion depth is bounded by max_depth,
 * the value array grows by doubling (each value consumes at least one byte of
 * text, so it never outgrows the text), and decoded strings are never longer
 * than their quoted source, so one buffer of len + 1 bytes holds them all.
 * The writing helpers at the end produce the same compact form as serde_json
 * (the reference safetensors writer). */
#include "io/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    json_doc *doc;
    int max_depth;
    size_t str_used; /* bytes used in doc->strings */
} parser;

static bool fail_at(parser *p, size_t pos, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static bool fail_at(parser *p, size_t pos, const char *fmt, ...)
{
    json_doc *d = p->doc;
    if (d->err[0] || d->out_of_memory)
        return false; /* keep the innermost (first) error */
    d->err_pos = pos;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, sizeof d->err, fmt, ap);
    va_end(ap);
    return false;
}

/* Describes the byte at pos for a message: 'x', 0x0a or "end of input". */
static const char *describe(const parser *p, size_t pos, char *buf, size_t size)
{
    if (pos >= p->len)
        snprintf(buf, size, "end of input");
    else if (p->s[pos] >= 0x21 && p->s[pos] < 0x7f)
        snprintf(buf, size, "'%c'", p->s[pos]);
    else
        snprintf(buf, size, "byte 0x%02x", p->s[pos]);
    return buf;
}

static bool unexpected(parser *p, const char *wanted)
{
    char b[24];
    return fail_at(p, p->pos, "expected %s, found %s", wanted, describe(p, p->pos, b, sizeof b));
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        p->pos++;
    }
}

/* Appends a value and returns its index, or SIZE_MAX when out of memory. */
static size_t push(parser *p, json_type type)
{
    json_doc *d = p->doc;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        json_value *v = cap <= SIZE_MAX / sizeof *v ? realloc(d->v, cap * sizeof *v) : NULL;
        if (!v) {
            d->out_of_memory = true;
            return SIZE_MAX;
        }
        d->v = v;
        d->cap = cap;
    }
    d->v[d->n] = (json_value){.type = type, .pos = p->pos, .end = d->n + 1};
    return d->n++;
}

static bool parse_value(parser *p, int depth);

/* ---- literals and numbers ------------------------------------------------- */

static bool parse_literal(parser *p, const char *word, json_type type)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return fail_at(p, p->pos, "invalid literal (expected '%s')", word);
    if (push(p, type) == SIZE_MAX)
        return false;
    p->pos += n;
    return true;
}

static bool is_digit(const parser *p, size_t pos) { return pos < p->len && p->s[pos] >= '0' && p->s[pos] <= '9'; }

static size_t skip_digits(const parser *p, size_t pos)
{
    while (is_digit(p, pos))
        pos++;
    return pos;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool parse_number(parser *p)
{
    size_t start = p->pos, q = p->pos;
    if (q < p->len && p->s[q] == '-')
        q++;
    if (!is_digit(p, q))
        return fail_at(p, start, "invalid number: no digits");
    if (p->s[q] == '0' && is_digit(p, q + 1))
        return fail_at(p, start, "invalid number: leading zero");
    q = skip_digits(p, q);
    if (q < p->len && p->s[q] == '.') {
        if (!is_digit(p, q + 1))
            return fail_at(p, start, "invalid number: no digits after '.'");
        q = skip_digits(p, q + 1);
    }
    if (q < p->len && (p->s[q] == 'e' || p->s[q] == 'E')) {
        q++;
        if (q < p->len && (p->s[q] == '+' || p->s[q] == '-'))
            q++;
        if (!is_digit(p, q))
            return fail_at(p, start, "invalid number: no digits in the exponent");
        q = skip_digits(p, q);
    }
    size_t i = push(p, JSON_NUMBER);
    if (i == SIZE_MAX)
        return false;
    p->doc->v[i].str = (const char *)p->s + start;
    p->doc->v[i].len = q - start;
    p->pos = q;
    return true;
}

json_int json_get_u64(const json_value *v, uint64_t *out)
{
    if (!v || v->type != JSON_NUMBER)
        return JSON_INT_NOT_NUMBER;
    for (size_t i = 0; i < v->len; i++)
        if (v->str[i] == '.' || v->str[i] == 'e' || v->str[i] == 'E')
            return JSON_INT_NOT_INTEGER;
    if (v->str[0] == '-')
        return JSON_INT_NEGATIVE;
    uint64_t x = 0;
    for (size_t i = 0; i < v->len; i++) {
        uint64_t d = (uint64_t)(v->str[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return JSON_INT_TOO_LARGE;
        x = x * 10 + d;
    }
    *out = x;
    return JSON_INT_OK;
}

/* ---- strings ------------------------------------------------------------ */

size_t json_utf8_length(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else
        return 0;
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

bool json_valid_utf8(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t avail = strlen(str);
    while (avail > 0) {
        size_t k = *s < 0x80 ? 1 : json_utf8_length(s, avail);
        if (k == 0)
            return false;
        s += k;
        avail -= k;
    }
    return true;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits after "\u" at pos; -1 when malformed. */
static long read_hex4(const parser *p, size_t pos)
{
    if (p->len - pos < 4)
        return -1;
    long v = 0;
    for (size_t i = 0; i < 4; i++) {
        int h = hex_value(p->s[pos + i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static void put_utf8(char *out, size_t *n, unsigned long cp)
{
    if (cp < 0x80) {
        out[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*n)++] = (char)(0xC0 | (cp >> 6));
        out[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*n)++] = (char)(0xE0 | (cp >> 12));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        out[(*n)++] = (char)(0xF0 | (cp >> 18));
        out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*n)++] = (char)(0x80 | (cp & 0x3F));
    }
}

/* Decodes the escape whose backslash is at p->pos into out; advances pos. A
 * \u escape takes 6 bytes of source and yields at most 3 bytes of UTF-8 (a
 * surrogate pair: 12 bytes -> 4), so the output never outruns the input. */
static bool decode_escape(parser *p, char *out, size_t *n)
{
    size_t at = p->pos;
    if (at + 1 >= p->len)
        return fail_at(p, at, "unterminated string");
    unsigned char e = p->s[at + 1];
    const char *simple = strchr("\"\\/bfnrt", e);
    if (e != 'u') {
        if (!simple || e == '\0') {
            char b[24];
            return fail_at(p, at, "invalid escape '\\' followed by %s", describe(p, at + 1, b, sizeof b));
        }
        static const char decoded[] = "\"\\/\b\f\n\r\t";
        out[(*n)++] = decoded[simple - "\"\\/bfnrt"];
        p->pos += 2;
        return true;
    }
    long cp = read_hex4(p, at + 2);
    if (cp < 0)
        return fail_at(p, at, "invalid \\u escape (needs 4 hex digits)");
    p->pos += 6;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail_at(p, at, "unpaired low surrogate \\u%04lx", (unsigned long)cp);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        long lo = p->len - p->pos >= 2 && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u'
                      ? read_hex4(p, p->pos + 2)
                      : -1;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return fail_at(p, at, "unpaired high surrogate \\u%04lx", (unsigned long)cp);
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        p->pos += 6;
    }
    put_utf8(out, n, (unsigned long)cp);
    return true;
}

static bool parse_string(parser *p)
{
    size_t start = p->pos;
    char *out = p->doc->strings + p->str_used;
    size_t n = 0;
    p->pos++; /* opening quote */
    for (;;) {
        if (p->pos >= p->len)
            return fail_at(p, start, "unterminated string");
        unsigned char c = p->s[p->pos];
        if (c == '"')
            break;
        if (c == '\\') {
            if (!decode_escape(p, out, &n))
                return false;
        } else if (c < 0x20) {
            return fail_at(p, p->pos, "raw control character 0x%02x in a string (must be escaped)", c);
        } else if (c < 0x80) {
            out[n++] = (char)c;
            p->pos++;
        } else {
            size_t k = json_utf8_length(p->s + p->pos, p->len - p->pos);
            if (k == 0)
                return fail_at(p, p->pos, "invalid UTF-8 byte 0x%02x in a string", c);
            memcpy(out + n, p->s + p->pos, k);
            n += k;
            p->pos += k;
        }
    }
    p->pos++; /* closing quote */
    out[n] = '\0';
    /* the value's pos is the opening quote, for messages */
    size_t saved = p->pos;
    p->pos = start;
    size_t i = push(p, JSON_STRING);
    p->pos = saved;
    if (i == SIZE_MAX)
        return false;
    p->doc->v[i].str = out;
    p->doc->v[i].len = n;
    p->str_used += n + 1;
    return true;
}

/* ---- containers --------------------------------------------------------- */

static bool enter(parser *p, int depth)
{
    if (depth >= p->max_depth)
        return fail_at(p, p->pos, "nesting deeper than %d levels", p->max_depth);
    return true;
}

/* After a member of an array or object: ',' means another follows (1), the
 * closing bracket ends the container (0, left for the caller to consume),
 * anything else is an error (-1). */
static int next_member(parser *p, char close, const char *expected)
{
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ',') {
        p->pos++;
        return 1;
    }
    if (p->pos < p->len && p->s[p->pos] == close)
        return 0;
    unexpected(p, expected);
    return -1;
}

/* An object member's key and the ':' after it. */
static bool parse_key(parser *p)
{
    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != '"')
        return unexpected(p, "a string key");
    if (!parse_string(p))
        return false;
    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != ':')
        return unexpected(p, "':' after a key");
    p->pos++;
    return true;
}

/* An array ('[' .. ']') or an object ('{' .. '}'): the same walk, objects
 * read a key before each value. */
static bool parse_container(parser *p, int depth, json_type type, char close)
{
    if (!enter(p, depth))
        return false;
    size_t self = push(p, type);
    if (self == SIZE_MAX)
        return false;
    p->pos++;
    skip_ws(p);
    int more = !(p->pos < p->len && p->s[p->pos] == close);
    while (more > 0) {
        if (type == JSON_OBJECT && !parse_key(p))
            return false;
        if (!parse_value(p, depth + 1))
            return false;
        p->doc->v[self].count++;
        more = next_member(p, close, close == ']' ? "',' or ']'" : "',' or '}'");
    }
    if (more < 0)
        return false;
    p->pos++; /* the closing bracket */
    p->doc->v[self].end = p->doc->n;
    return true;
}

static bool parse_value(parser *p, int depth)
{
    skip_ws(p);
    if (p->pos >= p->len)
        return unexpected(p, "a value");
    switch (p->s[p->pos]) {
    case '{': return parse_container(p, depth, JSON_OBJECT, '}');
    case '[': return parse_container(p, depth, JSON_ARRAY, ']');
    case '"': return parse_string(p);
    case 't': return parse_literal(p, "true", JSON_TRUE);
    case 'f': return parse_literal(p, "false", JSON_FALSE);
    case 'n': return parse_literal(p, "null", JSON_NULL);
    default:
        if (p->s[p->pos] == '-' || is_digit(p, p->pos))
            return parse_number(p);
        return unexpected(p, "a value");
    }
}

bool json_parse(json_doc *doc, const char *text, size_t len, int max_depth)
{
    memset(doc, 0, sizeof *doc);
    doc->strings = malloc(len + 1);
    if (!doc->strings) {
        doc->out_of_memory = true;
        return false;
    }
    parser p = {.s = (const unsigned char *)text, .len = len, .doc = doc, .max_depth = max_depth};
    if (!parse_value(&p, 0))
        return false;
    skip_ws(&p);
    if (p.pos != len)
        return unexpected(&p, "end of input after the top-level value");
    return true;
}

void json_free(json_doc *doc)
{
    if (!doc)
        return;
    free(doc->v);
    free(doc->strings);
    memset(doc, 0, sizeof *doc);
}

/* ---- writing ------------------------------------------------------------ */

void json_buf_put(json_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (n > SIZE_MAX / 2 - b->len) {
        b->failed = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->failed = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void json_buf_puts(json_buf *b, const char *s) { json_buf_put(b, s, strlen(s)); }

void json_buf_u64(json_buf *b, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    json_buf_put(b, tmp, (size_t)n);
}

void json_buf_string(json_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    json_buf_put(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        const char *esc = NULL;
        switch (*c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: break;
        }
        if (esc) {
            json_buf_puts(b, esc);
        } else if (*c < 0x20) {
            char u[6] = {'\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15]};
            json_buf_put(b, u, sizeof u);
        } else {
            json_buf_put(b, (const char *)c, 1);
        }
    }
    json_buf_put(b, "\"", 1);
}

void json_buf_free(json_buf *b)
{
    free(b->data);
    *b = (json_buf){0};
}
