/* text_data.c - see text_data.h. */
#include "text_data.h"

#include "files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 ------------------------------------------------------------------- */

/* Decodes one code point of s[0..len) as Python's strict UTF-8 codec does
 * (no overlong forms, no surrogates, nothing above U+10FFFF): its byte count,
 * or 0 when the bytes there are not valid UTF-8. */
static int utf8_get(const unsigned char *s, size_t len, uint32_t *c)
{
    if (s[0] < 0x80) {
        *c = s[0];
        return 1;
    }
    int n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (n == 0 || s[0] > 0xF4 || (size_t)n > len)
        return 0;
    uint32_t v = s[0] & (0x7Fu >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3Fu);
    }
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < least[n] || v > TD_MAX_CODE_POINT || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *c = v;
    return n;
}

int td_utf8_put(uint32_t c, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (c < 0x80) {
        o[0] = (unsigned char)c;
        return 1;
    }
    int n = c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    static const unsigned char lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
    for (int i = n - 1; i > 0; i--, c >>= 6)
        o[i] = (unsigned char)(0x80 | (c & 0x3F));
    o[0] = (unsigned char)(lead[n] | c);
    return n;
}

/* Python's str.splitlines boundaries (after universal newlines). */
static bool is_line_break(uint32_t c)
{
    return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E) || c == 0x85 ||
           c == 0x2028 || c == 0x2029;
}

/* Python's str.isspace, which str.strip removes. */
static bool is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

/* ---- items ---------------------------------------------------------------------- */

/* The parse works in place: each kept item is written over the text it
 * comes from. An item is never longer than its line, so the write position
 * never passes the read position, and the file's buffer is the only copy
 * of the text (a 100 MB line costs 100 MB, not four times that as code
 * points would). The current line's kept bytes are text[line_begin .. w);
 * keep_end is the end of its last non-space character, keep_chars the
 * characters up to there; start[n] == line_begin. */
typedef struct parser {
    td_items *out;
    size_t start_cap, line_begin, w, chars, keep_end, keep_chars;
} parser;

static bool grow(size_t **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t cap2 = *cap ? *cap : 1024;
    while (cap2 < need)
        cap2 *= 2;
    size_t *q = realloc(*p, cap2 * sizeof *q);
    if (!q)
        return false;
    *p = q;
    *cap = cap2;
    return true;
}

/* Ends the current line: keeps it, trailing white space cut, as an item
 * when something is left. */
static bool end_line(parser *p)
{
    td_items *o = p->out;
    if (p->keep_end > p->line_begin) {
        if (!grow(&o->start, &p->start_cap, o->n + 2))
            return false;
        o->start[++o->n] = p->keep_end;
        if (p->keep_chars > o->max_len)
            o->max_len = p->keep_chars;
    }
    p->w = p->keep_end = p->line_begin = o->start[o->n]; /* an empty line keeps nothing */
    p->chars = p->keep_chars = 0;
    return true;
}

/* Moves character c (its n bytes at src, at or after the write position)
 * onto the current line; leading white space is dropped. */
static void put(parser *p, const char *src, int n, uint32_t c)
{
    bool space = is_space(c);
    if (space && p->w == p->line_begin)
        return;
    memmove(p->out->text + p->w, src, (size_t)n);
    p->w += (size_t)n;
    p->chars++;
    if (!space) {
        p->keep_end = p->w;
        p->keep_chars = p->chars;
    }
}

/* td_parse on text[0..len), which it owns from here on: it becomes
 * out->text, or is freed on failure. */
static int parse_in_place(char *text, size_t len, const char *name, td_items *out, char err[TD_ERR_SIZE])
{
    memset(out, 0, sizeof *out);
    out->text = text;
    parser p = {.out = out};
    const unsigned char *s = (const unsigned char *)text;
    size_t line = 1, column = 1;
    bool ok = grow(&out->start, &p.start_cap, 2);
    if (ok)
        out->start[0] = 0;
    for (size_t i = 0; ok && i < len;) {
        uint32_t c;
        int n = utf8_get(s + i, len - i, &c);
        if (n == 0 || c == 0) {
            if (n == 0)
                snprintf(err, TD_ERR_SIZE, "%s:%zu:%zu: invalid UTF-8 (byte 0x%02x); the data must be UTF-8 text",
                         name, line, column, s[i]);
            else
                snprintf(err, TD_ERR_SIZE, "%s:%zu:%zu: " TD_NUL_MESSAGE, name, line, column);
            td_free_items(out);
            return -1;
        }
        if (!is_line_break(c)) {
            put(&p, text + i, n, c);
            i += (size_t)n;
            column++;
            continue;
        }
        i += (size_t)n;
        if (c == '\r' && i < len && s[i] == '\n')
            i++; /* CRLF: one break */
        if (c == '\n' || c == '\r') {
            line++;
            column = 1;
        } else {
            column++;
        }
        ok = end_line(&p);
    }
    ok = ok && end_line(&p);
    if (!ok) {
        snprintf(err, TD_ERR_SIZE, "%s: out of memory", name);
        td_free_items(out);
        return -1;
    }
    if (out->n == 0) {
        snprintf(err, TD_ERR_SIZE, "%s: no items (the file is empty or has only blank lines)", name);
        td_free_items(out);
        return -1;
    }
    char *fit = realloc(out->text, out->start[out->n]); /* give back what was cut; fine if it cannot */
    if (fit)
        out->text = fit;
    return 0;
}

int td_parse(const char *text, size_t len, const char *name, td_items *out, char err[TD_ERR_SIZE])
{
    memset(out, 0, sizeof *out);
    char *copy = malloc(len ? len : 1);
    if (!copy) {
        snprintf(err, TD_ERR_SIZE, "%s: out of memory", name);
        return -1;
    }
    memcpy(copy, text, len);
    return parse_in_place(copy, len, name, out, err);
}

size_t td_len(const td_items *it, size_t i)
{
    const unsigned char *s = (const unsigned char *)td_item(it, i);
    size_t chars = 0;
    for (size_t k = 0, n = td_bytes(it, i); k < n; k++)
        chars += (s[k] & 0xC0) != 0x80; /* every byte but a continuation byte starts a character */
    return chars;
}

/* The UTF-8 check of the bytes as they are read, chunk by chunk (files.h),
 * so that a bad byte fails before the rest of a large file is read, with
 * td_parse's message. A character cut by the end of a chunk waits in
 * pending for the next one. */
typedef struct utf8_check {
    const char *path;
    size_t line, column;      /* of the next character, from 1 */
    bool cr;                  /* the last character was a CR (a CRLF is one line break) */
    unsigned char pending[4]; /* the first bytes of a character cut by a chunk's end */
    int have, need;
} utf8_check;

static bool utf8_bad(const utf8_check *c, unsigned char lead, char *err, size_t size)
{
    snprintf(err, size, "%s:%zu:%zu: invalid UTF-8 (byte 0x%02x); the data must be UTF-8 text", c->path, c->line,
             c->column, lead);
    return false;
}

/* Moves past character ch, as td_parse counts lines and columns. */
static void utf8_advance(utf8_check *c, uint32_t ch)
{
    bool after_cr = c->cr;
    c->cr = ch == '\r';
    if (ch == '\n' && after_cr)
        return; /* the LF of a CRLF */
    if (ch == '\n' || ch == '\r') {
        c->line++;
        c->column = 1;
    } else {
        c->column++;
    }
}

/* The length a lead byte announces, or 0 for a byte that cannot start a character. */
static int utf8_length(unsigned char b)
{
    return b < 0x80 ? 1 : b >= 0xC2 && b <= 0xF4 ? (b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2) : 0;
}

static bool check_utf8_chunk(void *user, const char *bytes, size_t n, char *err, size_t size)
{
    utf8_check *c = user;
    const unsigned char *s = (const unsigned char *)bytes;
    if (n == 0) /* the end: a character still cut is cut short */
        return c->have == 0 || utf8_bad(c, c->pending[0], err, size);
    size_t i = 0;
    uint32_t ch;
    while (c->have > 0 && i < n) { /* complete the character cut by the last chunk */
        if ((s[i] & 0xC0) != 0x80 || c->have >= c->need || c->have >= (int)sizeof c->pending)
            return utf8_bad(c, c->pending[0], err, size);
        c->pending[c->have++] = s[i++];
        if (c->have == c->need) {
            if (utf8_get(c->pending, (size_t)c->have, &ch) == 0)
                return utf8_bad(c, c->pending[0], err, size);
            utf8_advance(c, ch);
            c->have = 0;
        }
    }
    while (i < n) {
        int len = utf8_length(s[i]);
        if (len == 0)
            return utf8_bad(c, s[i], err, size);
        if ((size_t)len > n - i) { /* cut by the chunk's end: what is there must be continuation bytes */
            for (size_t k = i + 1; k < n; k++)
                if ((s[k] & 0xC0) != 0x80)
                    return utf8_bad(c, s[i], err, size);
            c->have = (int)(n - i);
            c->need = len;
            memcpy(c->pending, s + i, n - i);
            return true;
        }
        if (utf8_get(s + i, n - i, &ch) == 0)
            return utf8_bad(c, s[i], err, size);
        if (ch == 0)
            return snprintf(err, size, "%s:%zu:%zu: " TD_NUL_MESSAGE, c->path, c->line, c->column), false;
        utf8_advance(c, ch);
        i += (size_t)len;
    }
    return true;
}

int td_read(const char *path, size_t max_bytes, td_items *out, char err[TD_ERR_SIZE])
{
    memset(out, 0, sizeof *out);
    size_t len;
    utf8_check check = {.path = path, .line = 1, .column = 1};
    char *text = ex_read_input(path, max_bytes, check_utf8_chunk, &check, &len, err, TD_ERR_SIZE);
    if (!text)
        return -1;
    return parse_in_place(text, len, path, out, err);
}

void td_free_items(td_items *it)
{
    free(it->text);
    free(it->start);
    memset(it, 0, sizeof *it);
}

/* ---- vocabulary ------------------------------------------------------------------- */

int td_build_vocab(const td_items *it, td_vocab *v)
{
    /* one bit a code point (136 KiB), so a file of any size costs the same */
    enum { WORDS = (TD_MAX_CODE_POINT + 64) / 64 };
    uint64_t *seen = calloc(WORDS, sizeof *seen);
    v->n = 0;
    v->chars = NULL;
    if (!seen)
        return -1;
    size_t distinct = 0;
    const char *p = it->text, *end = it->text + it->start[it->n];
    while (p < end) {
        uint32_t c = td_next_char(&p);
        uint64_t bit = (uint64_t)1 << (c % 64);
        distinct += (seen[c / 64] & bit) == 0;
        seen[c / 64] |= bit;
    }
    v->chars = malloc((distinct ? distinct : 1) * sizeof *v->chars);
    for (uint32_t w = 0; v->chars && w < WORDS; w++) /* in ascending order */
        for (uint32_t b = 0; seen[w] && b < 64; b++)
            if (seen[w] >> b & 1)
                v->chars[v->n++] = w * 64 + b;
    free(seen);
    return v->chars ? 0 : -1;
}

int td_vocab_from_utf8(const char *s, td_vocab *v)
{
    size_t len = strlen(s);
    v->n = 0;
    v->chars = malloc((len ? len : 1) * sizeof *v->chars);
    if (!v->chars || len == 0) {
        td_free_vocab(v);
        return -1;
    }
    for (size_t i = 0; i < len;) {
        uint32_t c;
        int n = utf8_get((const unsigned char *)s + i, len - i, &c);
        if (n == 0 || (v->n > 0 && c <= v->chars[v->n - 1])) {
            td_free_vocab(v);
            return -1;
        }
        v->chars[v->n++] = c;
        i += (size_t)n;
    }
    return 0;
}

char *td_vocab_utf8(const td_vocab *v)
{
    char *s = malloc(4 * (size_t)v->n + 1), *p = s;
    for (int i = 0; s && i < v->n; i++)
        p += td_utf8_put(v->chars[i], p);
    if (s)
        *p = '\0';
    return s;
}

void td_free_vocab(td_vocab *v)
{
    free(v->chars);
    v->chars = NULL;
    v->n = 0;
}

int td_token(const td_vocab *v, uint32_t c)
{
    int lo = 0, hi = v->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (v->chars[mid] == c)
            return mid + 1;
        if (v->chars[mid] < c)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* ---- sequences ---------------------------------------------------------------------- */

int td_encode(const td_items *it, const size_t *order, size_t count, const td_vocab *v, int block, int32_t *x,
              int32_t *y, char err[TD_ERR_SIZE])
{
    for (size_t r = 0; r < count; r++) {
        size_t i = order[r], len = td_len(it, i);
        int32_t *xr = x + r * (size_t)block, *yr = y + r * (size_t)block;
        if (len + 1 > (size_t)block) {
            snprintf(err, TD_ERR_SIZE, "item %zu has %zu characters, more than the block size %d allows (%d)", i + 1,
                     len, block, block - 1);
            return -1;
        }
        xr[0] = 0;
        const char *p = td_item(it, i);
        for (size_t k = 0; k < len; k++) {
            uint32_t c = td_next_char(&p);
            int t = td_token(v, c);
            if (t < 0) {
                snprintf(err, TD_ERR_SIZE, "item %zu: character U+%04X is not in the vocabulary", i + 1, (unsigned)c);
                return -1;
            }
            xr[k + 1] = yr[k] = t;
        }
        for (size_t k = len + 1; k < (size_t)block; k++)
            xr[k] = 0;
        yr[len] = 0; /* stop */
        for (size_t k = len + 1; k < (size_t)block; k++)
            yr[k] = TD_IGNORE;
    }
    return 0;
}

/* ---- splits ------------------------------------------------------------------------- */

bool td_split_makemore(lt_rng *g, size_t n, size_t *order, size_t *n_train)
{
    size_t test = (size_t)((double)n * 0.1); /* int(len(words) * 0.1) */
    test = test < 1000 ? test : 1000;
    if (test == 0 || n > (size_t)LT_RANDPERM_MAX)
        return false;
    int32_t *perm = malloc(n * sizeof *perm);
    if (!perm || !lt_rng_randperm(g, perm, (int64_t)n)) {
        free(perm);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = (size_t)perm[i];
    free(perm);
    *n_train = n - test;
    return true;
}

void td_split_notebook(uint64_t seed, size_t n, size_t *order, size_t *n1, size_t *n2)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    lt_pyrandom r;
    lt_pyrandom_seed(&r, seed);
    lt_pyrandom_shuffle(&r, order, n, sizeof *order);
    td_split_points(n, n1, n2);
}

void td_split_points(size_t n, size_t *n1, size_t *n2)
{
    *n1 = (size_t)(0.8 * (double)n);
    *n2 = (size_t)(0.9 * (double)n);
}

/* ---- item sets ------------------------------------------------------------------------ */

static const td_items *sort_items; /* qsort has no user pointer; the sets are built one at a time */

/* UTF-8's byte order is its code points' order, so items compare as bytes. */
static int cmp_utf8(const char *a, size_t na, const char *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    return c ? c : (na > nb) - (na < nb);
}

static int cmp_item(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const td_items *it = sort_items;
    return cmp_utf8(td_item(it, i), td_bytes(it, i), td_item(it, j), td_bytes(it, j));
}

bool td_item_set_init(td_item_set *s, const td_items *it, const td_vocab *v, const size_t *order, size_t count)
{
    *s = (td_item_set){.it = it, .v = v, .n = count};
    s->sorted = malloc((count ? count : 1) * sizeof *s->sorted);
    if (!s->sorted)
        return false;
    memcpy(s->sorted, order, count * sizeof *order);
    sort_items = it;
    qsort(s->sorted, count, sizeof *s->sorted, cmp_item);
    return true;
}

bool td_item_set_has(const td_item_set *s, const int32_t *tok, size_t len)
{
    for (size_t k = 0; k < len; k++)
        if (tok[k] < 1 || tok[k] > s->v->n)
            return false; /* the stop token or no token: in no item */
    char stack[4 * 256], *utf8 = len <= 256 ? stack : malloc(4 * len);
    if (!utf8)
        return false;
    size_t bytes = 0;
    for (size_t k = 0; k < len; k++)
        bytes += (size_t)td_utf8_put(s->v->chars[tok[k] - 1], utf8 + bytes);
    size_t lo = 0, hi = s->n;
    bool found = false;
    while (lo < hi && !found) {
        size_t mid = lo + (hi - lo) / 2, i = s->sorted[mid];
        int c = cmp_utf8(td_item(s->it, i), td_bytes(s->it, i), utf8, bytes);
        found = c == 0;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (utf8 != stack)
        free(utf8);
    return found;
}

void td_item_set_free(td_item_set *s)
{
    free(s->sorted);
    s->sorted = NULL;
}
