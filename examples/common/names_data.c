/* names_data.c - see names_data.h. */
#include "names_data.h"

#include "files.h"
#include "libtensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The check of the bytes as they are read, chunk by chunk (files.h), so
 * that a bad byte fails before the rest of a large file is read: printable
 * ASCII other than '.', lines ending in LF or CRLF. A CR is accepted only
 * just before an LF or at the very end; its verdict waits for the next
 * byte, which may be in the next chunk. */
typedef struct line_check {
    const char *path;
    size_t line, column; /* of the last byte seen, from 1 */
    bool cr;             /* the last byte seen was a CR */
} line_check;

static bool bad_byte(const line_check *c, unsigned char b, size_t column, char *err, size_t size)
{
    if (b == '.')
        snprintf(err, size,
                 "%s:%zu: the character '.' is reserved as the start/end token and cannot appear in the data", c->path,
                 c->line);
    else
        snprintf(err, size, "%s:%zu: unreadable byte 0x%02x at column %zu (only printable ASCII is accepted)", c->path,
                 c->line, b, column);
    return false;
}

static bool check_chunk(void *user, const char *bytes, size_t n, char *err, size_t size)
{
    line_check *c = user;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)bytes[i];
        if (c->cr && b != '\n')
            return bad_byte(c, '\r', c->column, err, size); /* a CR inside a line */
        c->cr = false;
        if (b == '\n') {
            c->line++;
            c->column = 0;
            continue;
        }
        c->column++;
        if (b == '\r')
            c->cr = true;
        else if (b == '.' || b < 0x20 || b > 0x7e)
            return bad_byte(c, b, c->column, err, size);
    }
    return true; /* n == 0, the end: a final CR ends the last line */
}

int nd_read_words_max(const char *path, size_t max_bytes, nd_words *out, char err[ND_ERR_SIZE])
{
    memset(out, 0, sizeof *out);
    size_t len;
    line_check check = {.path = path, .line = 1};
    char *text = ex_read_input(path, max_bytes, check_chunk, &check, &len, err, ND_ERR_SIZE);
    if (!text)
        return -1;
    size_t cap = 1024, n = 0;
    char **word = malloc(cap * sizeof *word);
    bool oom = !word;
    for (char *p = text; !oom && p < text + len;) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        char *end = nl ? nl : text + len;
        size_t l = (size_t)(end - p);
        if (l > 0 && p[l - 1] == '\r')
            l--; /* CRLF */
        p[l] = '\0';
        if (l > 0 && n == cap) {
            char **grown = realloc(word, 2 * cap * sizeof *word);
            oom = !grown;
            word = grown ? grown : word;
            cap *= 2;
        }
        if (l > 0 && !oom)
            word[n++] = p;
        p = end + 1;
    }
    if (oom) {
        free(word);
        free(text);
        snprintf(err, ND_ERR_SIZE, "%s: out of memory", path);
        return -1;
    }
    if (n == 0) {
        free(word);
        free(text);
        snprintf(err, ND_ERR_SIZE, "%s: no words (the file is empty or has only blank lines)", path);
        return -1;
    }
    out->text = text;
    out->word = word;
    out->n = n;
    return 0;
}

int nd_read_words(const char *path, nd_words *out, char err[ND_ERR_SIZE])
{
    return nd_read_words_max(path, (size_t)EX_MAX_DATA_MB_DEFAULT << 20, out, err);
}

void nd_free_words(nd_words *w)
{
    free(w->word);
    free(w->text);
    memset(w, 0, sizeof *w);
}

static void vocab_clear(nd_vocab *v)
{
    memset(v, 0, sizeof *v);
    for (int c = 0; c < 256; c++)
        v->stoi[c] = -1;
    v->itos[0] = '.';
    v->stoi['.'] = 0;
    v->size = 1;
}

void nd_build_vocab(const nd_words *w, nd_vocab *v)
{
    bool seen[256] = {false};
    for (size_t i = 0; i < w->n; i++)
        for (const unsigned char *p = (const unsigned char *)w->word[i]; *p; p++)
            seen[*p] = true;
    vocab_clear(v);
    for (int c = 0; c < 256; c++) /* byte order = Python's sorted() for ASCII */
        if (seen[c] && c != '.') {
            v->stoi[c] = v->size;
            v->itos[v->size++] = (char)c;
        }
}

int nd_vocab_from_chars(const char *chars, nd_vocab *v)
{
    vocab_clear(v);
    int prev = -1;
    for (const unsigned char *p = (const unsigned char *)chars; *p; p++) {
        if (*p <= prev || *p == '.' || *p < 0x20 || *p > 0x7e || v->size >= ND_MAX_VOCAB)
            return -1; /* must be sorted, unique, printable */
        prev = *p;
        v->stoi[*p] = v->size;
        v->itos[v->size++] = (char)*p;
    }
    return v->size > 1 ? 0 : -1;
}

void nd_shuffle_words(nd_words *w, uint64_t seed)
{
    lt_pyrandom r;
    lt_pyrandom_seed(&r, seed);
    lt_pyrandom_shuffle(&r, w->word, w->n, sizeof *w->word);
}

void nd_split_points(size_t n, size_t *n1, size_t *n2)
{
    /* Python: int(0.8 * len(words)) in double precision */
    *n1 = (size_t)(0.8 * (double)n);
    *n2 = (size_t)(0.9 * (double)n);
}

int nd_build_dataset(const nd_words *w, size_t begin, size_t end, const nd_vocab *v, int block,
                     nd_dataset *out)
{
    memset(out, 0, sizeof *out);
    if (block < 1 || block > ND_MAX_BLOCK) /* the context buffer below holds ND_MAX_BLOCK */
        return -1;
    size_t n = 0;
    for (size_t i = begin; i < end; i++)
        n += strlen(w->word[i]) + 1;
    out->x = malloc((n ? n : 1) * (size_t)block * sizeof *out->x);
    out->y = malloc((n ? n : 1) * sizeof *out->y);
    if (!out->x || !out->y) {
        nd_free_dataset(out);
        return -1;
    }
    out->n = n;
    out->block = block;
    size_t row = 0;
    int32_t context[ND_MAX_BLOCK];
    for (size_t i = begin; i < end; i++) {
        memset(context, 0, sizeof(int32_t) * (size_t)block);
        for (const unsigned char *p = (const unsigned char *)w->word[i];; p++) {
            int32_t ix = *p ? v->stoi[*p] : 0;
            memcpy(out->x + row * (size_t)block, context, sizeof(int32_t) * (size_t)block);
            out->y[row++] = ix;
            memmove(context, context + 1, sizeof(int32_t) * (size_t)(block - 1));
            context[block - 1] = ix;
            if (!*p)
                break;
        }
    }
    return 0;
}

void nd_free_dataset(nd_dataset *d)
{
    free(d->x);
    free(d->y);
    memset(d, 0, sizeof *d);
}

bool nd_make_split(lt_ctx *ctx, const nd_words *w, size_t begin, size_t end, const nd_vocab *v, int block,
                   nd_split *s)
{
    nd_dataset d;
    if (nd_build_dataset(w, begin, end, v, block, &d) != 0) {
        lt_fail(ctx, LT_ERR_MEMORY, "dataset: out of memory");
        return false;
    }
    s->x = lt_new_from(ctx, LT_I32, LT_SHAPE((int64_t)d.n, block), d.x);
    s->y = lt_new_from(ctx, LT_I32, LT_SHAPE((int64_t)d.n), d.y);
    nd_free_dataset(&d);
    return s->x && s->y;
}

void nd_vocab_chars(const nd_vocab *v, char chars[ND_MAX_VOCAB + 1])
{
    memcpy(chars, v->itos + 1, (size_t)v->size - 1);
    chars[v->size - 1] = '\0';
}
