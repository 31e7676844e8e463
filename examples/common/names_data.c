/* names_data.c - see names_data.h. */
#include "names_data.h"

#include "files.h"
#include "libtensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nd_read_words_max(const char *path, size_t max_bytes, nd_words *out, char err[ND_ERR_SIZE])
{
    memset(out, 0, sizeof *out);
    if (td_read(path, max_bytes, &out->items, err) != 0)
        return -1;
    out->n = out->items.n;
    out->order = malloc(out->n * sizeof *out->order);
    if (!out->order) {
        td_free_items(&out->items);
        snprintf(err, ND_ERR_SIZE, "%s: out of memory", path);
        return -1;
    }
    for (size_t i = 0; i < out->n; i++)
        out->order[i] = i;
    return 0;
}

int nd_read_words(const char *path, nd_words *out, char err[ND_ERR_SIZE])
{
    return nd_read_words_max(path, (size_t)EX_MAX_DATA_MB_DEFAULT << 20, out, err);
}

void nd_free_words(nd_words *w)
{
    td_free_items(&w->items);
    free(w->order);
    memset(w, 0, sizeof *w);
}

void nd_word_utf8(const nd_words *w, size_t i, char *out, size_t size)
{
    if (size == 0)
        return;
    const char *word = nd_word(w, i);
    size_t used = nd_word_bytes(w, i);
    if (used >= size) { /* cut before the character that does not fit */
        used = size - 1;
        while (used > 0 && ((unsigned char)word[used] & 0xC0) == 0x80)
            used--;
    }
    memcpy(out, word, used);
    out[used] = '\0';
}

/* Completes v from its characters: the size and how token 0 is shown. */
static int vocab_finish(nd_vocab *v)
{
    v->size = td_vocab_size(&v->chars);
    v->stop = td_token(&v->chars, '.') > 0 ? ND_STOP_MARK : ND_STOP_DOT;
    return 0;
}

int nd_build_vocab(const nd_words *w, nd_vocab *v)
{
    memset(v, 0, sizeof *v);
    return td_build_vocab(&w->items, &v->chars) == 0 ? vocab_finish(v) : -1;
}

int nd_vocab_from_chars(const char *chars, nd_vocab *v)
{
    memset(v, 0, sizeof *v);
    return td_vocab_from_utf8(chars, &v->chars) == 0 ? vocab_finish(v) : -1;
}

char *nd_vocab_chars(const nd_vocab *v) { return td_vocab_utf8(&v->chars); }

void nd_free_vocab(nd_vocab *v)
{
    td_free_vocab(&v->chars);
    memset(v, 0, sizeof *v);
}

int nd_token_text(const nd_vocab *v, int32_t t, char *out)
{
    if (t <= 0 || t >= v->size) { /* 0; anything else is a caller's bug, shown as the stop */
        size_t n = strlen(v->stop);
        memcpy(out, v->stop, n);
        return (int)n;
    }
    return td_utf8_put(v->chars.chars[t - 1], out);
}

void nd_shuffle_words(nd_words *w, uint64_t seed, size_t *n1, size_t *n2)
{
    td_split_notebook(seed, w->n, w->order, n1, n2);
}

int nd_build_dataset(const nd_words *w, size_t begin, size_t end, const nd_vocab *v, int block,
                     nd_dataset *out)
{
    memset(out, 0, sizeof *out);
    if (block < 1 || block > ND_MAX_BLOCK) /* the context buffer below holds ND_MAX_BLOCK */
        return -1;
    size_t n = 0;
    for (size_t i = begin; i < end; i++)
        n += nd_word_len(w, i) + 1;
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
        const char *p = nd_word(w, i), *word_end = p + nd_word_bytes(w, i);
        for (bool more = true; more;) { /* the word's characters, then the end token */
            more = p < word_end;
            int32_t ix = more ? td_token(&v->chars, td_next_char(&p)) : 0;
            if (ix < 0) {
                nd_free_dataset(out);
                return -1;
            }
            memcpy(out->x + row * (size_t)block, context, sizeof(int32_t) * (size_t)block);
            out->y[row++] = ix;
            memmove(context, context + 1, sizeof(int32_t) * (size_t)(block - 1));
            context[block - 1] = ix;
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
