/* names_task.c - see names_task.h. */
#include "names_task.h"

#include "checkpoint.h"
#include "evaluate.h"
#include "sample.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static bool read_words(lt_ctx *ctx, const char *path, size_t max_bytes, nd_words *w)
{
    char err[ND_ERR_SIZE];
    if (nd_read_words_max(path, max_bytes, w, err) == 0)
        return true;
    if (errno == ENOENT && !strcmp(path, "names.txt"))
        lt_fail(ctx, LT_ERR_IO,
                "%s (download names.txt from https://github.com/karpathy/makemore, or pass --data FILE)", err);
    else
        lt_fail(ctx, LT_ERR_IO, "%s", err);
    return false;
}

/* Builds n->vocab from the words, or checks them against a given one. */
static bool vocabulary(lt_ctx *ctx, const char *path, bool vocab_given, ex_names *n)
{
    if (!vocab_given) {
        if (nd_build_vocab(&n->words, &n->vocab) == 0)
            return true;
        lt_fail(ctx, LT_ERR_MEMORY, "%s: out of memory", path);
        return false;
    }
    const td_items *it = &n->words.items;
    for (const char *p = it->text, *end = p + it->start[it->n]; p < end;) {
        uint32_t c = td_next_char(&p);
        if (td_token(&n->vocab.chars, c) < 0) {
            char ch[5] = {0};
            td_utf8_put(c, ch);
            lt_fail(ctx, LT_ERR_FORMAT, "%s: character '%s' is not in the checkpoint's vocabulary (U+%04X)", path, ch,
                    (unsigned)c);
            return false;
        }
    }
    return true;
}

/* The fewest words for which the training split (dev: the dev split) of
 * td_split_points is not empty; it stays non-empty for more words. */
static size_t fewest_words(bool dev)
{
    size_t n = 1, n1, n2;
    for (;; n++) {
        td_split_points(n, &n1, &n2);
        if ((dev ? n2 - n1 : n1) > 0)
            return n;
    }
}

/* Both splits are evaluated by every program; checked before any dataset
 * is built (a single 100 MB line fails here). */
static bool check_split_sizes(lt_ctx *ctx, const char *path, size_t words, size_t n1, size_t n2)
{
    if (n1 == 0) {
        lt_fail(ctx, LT_ERR_FORMAT, "%s: %zu word(s) leave the training split (80%%) empty; training needs at least "
                "%zu words", path, words, fewest_words(false));
        return false;
    }
    if (n2 == n1) {
        lt_fail(ctx, LT_ERR_FORMAT, "%s: %zu word(s) leave the dev split (10%%) empty; the dev loss needs at least "
                "%zu words", path, words, fewest_words(true));
        return false;
    }
    return true;
}

bool ex_names_load(lt_ctx *ctx, const char *path, size_t max_bytes, int block, bool vocab_given, ex_names *n)
{
    if (!read_words(ctx, path, max_bytes, &n->words) || !vocabulary(ctx, path, vocab_given, n))
        return false;
    size_t n1, n2, all = n->words.n;
    nd_shuffle_words(&n->words, 42, &n1, &n2);
    return check_split_sizes(ctx, path, all, n1, n2) &&
           nd_make_split(ctx, &n->words, 0, n1, &n->vocab, block, &n->train) &&
           nd_make_split(ctx, &n->words, n1, n2, &n->vocab, block, &n->dev) &&
           nd_make_split(ctx, &n->words, n2, all, &n->vocab, block, &n->test);
}

void ex_names_free(ex_names *n)
{
    nd_free_words(&n->words);
    nd_free_vocab(&n->vocab);
}

void ex_names_print_split(const ex_names *n)
{
    printf("split: train %lld dev %lld test %lld\n", (long long)n->train.y->shape[0], (long long)n->dev.y->shape[0],
           (long long)n->test.y->shape[0]);
}

lt_safetensors *ex_names_checkpoint_open(lt_ctx *ctx, const char *path, const char *format, const char *what,
                                         nd_vocab *v)
{
    lt_safetensors *st = ex_checkpoint_open(ctx, path, format, what);
    if (!st)
        return NULL;
    const char *chars = lt_safetensors_meta(st, "vocab");
    if (!chars || nd_vocab_from_chars(chars, v) != 0) {
        lt_fail(ctx, LT_ERR_FORMAT, "%s: metadata 'vocab' is missing or invalid", path);
        lt_safetensors_free(st);
        return NULL;
    }
    return st;
}

bool ex_names_final(lt_ctx *ectx, const ex_model *m, const ex_names *n, bool with_test, double loss[3])
{
    loss[2] = NAN;
    if (!ex_split_loss(ectx, m, n->train.x, n->train.y, "train", &loss[0]) ||
        !ex_split_loss(ectx, m, n->dev.x, n->dev.y, "dev", &loss[1]) ||
        (with_test && !ex_split_loss(ectx, m, n->test.x, n->test.y, "test", &loss[2])))
        return false;
    printf("final: train %.4f dev %.4f", loss[0], loss[1]);
    if (with_test)
        printf(" test %.4f", loss[2]);
    printf("\n");
    return true;
}

bool ex_names_sample(lt_ctx *ctx, const ex_model *m, const nd_vocab *v, int block, uint64_t seed, long count,
                     const char *prefix, bool show_stop)
{
    const ex_sampling s = {.block = block, .vocab = v->size, .max_len = EX_MAX_SAMPLE_LEN};
    int32_t tokens[EX_MAX_SAMPLE_LEN];
    char name[4 * EX_MAX_SAMPLE_LEN + sizeof ND_STOP_MARK]; /* UTF-8: 4 bytes a character at most */
    lt_rng g;
    lt_rng_seed(&g, seed);
    for (long k = 0; k < count; k++) {
        int len, bytes = 0;
        bool stopped;
        if (!ex_sample(ctx, m, &s, &g, tokens, &len, &stopped))
            return false;
        for (int i = 0; i < len; i++)
            bytes += nd_token_text(v, tokens[i], name + bytes);
        if (show_stop && stopped)
            bytes += nd_token_text(v, 0, name + bytes);
        printf("%s", prefix);
        fwrite(name, 1, (size_t)bytes, stdout); /* a NUL of the data is a character */
        printf("\n");
    }
    return true;
}
