/* tutorial.c - the program of docs/tutorial.md: Andrej Karpathy's makemore
 * MLP notebook (shared/reference/mlp_notebook.txt) rebuilt cell by cell in
 * C with libtensor. Every fenced C block of the tutorial is a verbatim
 * excerpt of this file (the tutorial_in_sync test checks it), and this file
 * is built and run by the tests, so the tutorial's code compiles and works.
 *
 * usage: tutorial [names.txt [steps]]   (defaults: names.txt, 200000) */
#include "libtensor.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE 3 /* context length: how many characters predict the next one */
#define EMB 10
#define HIDDEN 200
#define BATCH 32

static int failed(lt_ctx *ctx)
{
    fprintf(stderr, "tutorial: %s\n", lt_status_of(ctx) != LT_OK ? lt_error_message(ctx) : "out of memory");
    return 1;
}

/* ---- words = open('names.txt').read().splitlines() ---------------------- */

typedef struct words {
    char *text; /* the whole file; each line NUL-terminated in place */
    char **w;   /* n pointers into text */
    size_t n;
} words;

static bool read_words(const char *path, words *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    if (size < 0) {
        fclose(f);
        return false;
    }
    out->text = malloc((size_t)size + 1);
    out->w = malloc(sizeof(char *) * ((size_t)size / 2 + 1)); /* a line is >= 2 bytes */
    out->n = 0;
    if (!out->text || !out->w || fread(out->text, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        return false;
    }
    fclose(f);
    out->text[size] = '\0';
    for (char *line = strtok(out->text, "\r\n"); line; line = strtok(NULL, "\r\n"))
        out->w[out->n++] = line; /* strtok skips empty lines */
    return true;
}

/* ---- the vocabulary: chars = sorted(set(''.join(words))), '.' = 0 ------- */

typedef struct vocab {
    int size;       /* 27 for names.txt */
    char itos[256]; /* index -> character */
    int stoi[256];  /* character -> index */
} vocab;

static void build_vocab(const words *ws, vocab *v)
{
    bool seen[256] = {false};
    for (size_t i = 0; i < ws->n; i++)
        for (const char *p = ws->w[i]; *p; p++)
            seen[(unsigned char)*p] = true;
    v->itos[0] = '.';
    v->stoi['.'] = 0;
    v->size = 1;
    for (int c = 0; c < 256; c++) /* sorted, as Python's sorted() on ASCII */
        if (seen[c] && c != '.') {
            v->stoi[c] = v->size;
            v->itos[v->size++] = (char)c;
        }
}

/* ---- build_dataset(words): X (n, block_size) contexts, Y (n,) next chars - */

static bool build_dataset(lt_ctx *ctx, const words *ws, size_t begin, size_t end, const vocab *v,
                          lt_tensor **X, lt_tensor **Y)
{
    size_t n = 0;
    for (size_t i = begin; i < end; i++)
        n += strlen(ws->w[i]) + 1; /* every character, then '.' */
    int32_t *x = malloc(sizeof(int32_t) * BLOCK_SIZE * (n + 1)), *y = malloc(sizeof(int32_t) * (n + 1));
    size_t row = 0;
    for (size_t i = begin; x && y && i < end; i++) {
        int32_t context[BLOCK_SIZE] = {0};
        for (const char *p = ws->w[i];; p++) {
            int32_t ix = *p ? v->stoi[(unsigned char)*p] : 0; /* for ch in w + '.' */
            memcpy(x + row * BLOCK_SIZE, context, sizeof context);
            y[row++] = ix;
            memmove(context, context + 1, sizeof(int32_t) * (BLOCK_SIZE - 1)); /* crop and append */
            context[BLOCK_SIZE - 1] = ix;
            if (!*p)
                break;
        }
    }
    *X = x ? lt_new_from(ctx, LT_I32, LT_SHAPE((int64_t)n, BLOCK_SIZE), x) : NULL;
    *Y = y ? lt_new_from(ctx, LT_I32, LT_SHAPE((int64_t)n), y) : NULL;
    free(x);
    free(y);
    if (*X && *Y)
        printf("X (%zu, %d)  Y (%zu)\n", n, BLOCK_SIZE, n);
    return *X && *Y;
}

/* ---- cells 6-25: one forward pass on the first five words ---------------- */

static bool first_look(lt_ctx *ctx, const words *ws, const vocab *v, lt_rng *g)
{
    lt_tensor *X, *Y;
    if (!build_dataset(ctx, ws, 0, 5, v, &X, &Y)) /* X (32, 3) */
        return false;
    lt_tensor *C = lt_new(ctx, LT_F32, LT_SHAPE(v->size, 2)); /* C = torch.randn([27, 2]) */
    lt_randn_fill(ctx, g, C);
    lt_tensor *emb = lt_index(ctx, C, X); /* emb = C[X]: (32, 3, 2) */

    /* three ways to turn each (3, 2) context into one row of 6 numbers */
    lt_tensor *cols[BLOCK_SIZE] = {lt_select(ctx, emb, 1, 0), lt_select(ctx, emb, 1, 1), lt_select(ctx, emb, 1, 2)};
    lt_tensor *cat = lt_cat(ctx, cols, BLOCK_SIZE, 1); /* torch.cat([emb[:, 0, :], ...], dim=1) */
    int n;
    lt_tensor **slices = lt_unbind(ctx, emb, 1, &n);
    lt_tensor *unbound = lt_cat(ctx, slices, n, 1);      /* torch.cat(torch.unbind(emb, 1), 1) */
    lt_tensor *flat = lt_view(ctx, emb, LT_SHAPE(-1, 6)); /* emb.view(-1, 6): no copy at all */
    lt_print(stdout, lt_select(ctx, flat, 0, 3), "emb.view(-1, 6)[3]");
    for (int64_t i = 0; flat && i < lt_numel(flat); i++)
        if (lt_get_f32(cat, i) != lt_get_f32(flat, i) || lt_get_f32(unbound, i) != lt_get_f32(flat, i)) {
            lt_fail(ctx, LT_ERR_ARG, "first_look: the three flattenings differ at %lld", (long long)i);
            return false;
        }

    /* the hidden layer: h = torch.tanh(emb.view(-1, 6) @ W1 + b) */
    lt_tensor *W1 = lt_new(ctx, LT_F32, LT_SHAPE(6, 100)), *b = lt_new(ctx, LT_F32, LT_SHAPE(100));
    lt_randn_fill(ctx, g, W1);
    lt_randn_fill(ctx, g, b);
    lt_tensor *h = lt_tanh(ctx, lt_add(ctx, lt_matmul(ctx, flat, W1), b)); /* (32, 100) */

    /* the output layer and the loss */
    lt_tensor *W2 = lt_new(ctx, LT_F32, LT_SHAPE(100, v->size)), *b2 = lt_new(ctx, LT_F32, LT_SHAPE(v->size));
    lt_randn_fill(ctx, g, W2);
    lt_randn_fill(ctx, g, b2);
    lt_tensor *logits = lt_add(ctx, lt_matmul(ctx, h, W2), b2); /* (32, 27) */
    lt_tensor *counts = lt_exp(ctx, logits);
    lt_tensor *prob = lt_div(ctx, counts, lt_sum_dim(ctx, counts, 1, true));
    /* prob[torch.arange(32), Y]: row i, column Y[i] is element i * 27 + Y[i] */
    int32_t *picks = lt_arena_alloc(ctx, sizeof(int32_t) * (size_t)lt_numel(Y)); /* freed by lt_ctx_reset */
    for (int64_t i = 0; picks && i < lt_numel(Y); i++)
        picks[i] = (int32_t)(i * v->size + lt_get_i32(Y, i));
    lt_tensor *picked = lt_index(ctx, lt_view(ctx, prob, LT_SHAPE(-1, 1)), lt_from_i32(ctx, LT_SHAPE(lt_numel(Y)), picks));
    lt_tensor *manual = lt_neg(ctx, lt_mean(ctx, lt_log(ctx, picked)));
    lt_tensor *loss = lt_cross_entropy(ctx, logits, Y); /* F.cross_entropy(logits, Y) */
    if (!picks || !manual || !loss)
        return false;
    printf("loss %.4f (by hand %.4f)\n", lt_item(ctx, loss), lt_item(ctx, manual));
    lt_tensor *persistent[] = {X, Y, C, W1, b, W2, b2};
    for (size_t i = 0; i < sizeof persistent / sizeof *persistent; i++)
        lt_free(persistent[i]);
    lt_ctx_reset(ctx);
    return true;
}

/* ---- the model: parameters = [C, W1, b1, W2, b2] ------------------------- */

enum { P_C, P_W1, P_B1, P_W2, P_B2, N_PARAMS };

static bool init_parameters(lt_ctx *ctx, int vocab_size, lt_tensor *p[N_PARAMS])
{
    lt_rng g;
    lt_rng_seed(&g, 2147483647); /* g = torch.Generator().manual_seed(2147483647) */
    p[P_C] = lt_new(ctx, LT_F32, LT_SHAPE(vocab_size, EMB));
    p[P_W1] = lt_new(ctx, LT_F32, LT_SHAPE(BLOCK_SIZE * EMB, HIDDEN));
    p[P_B1] = lt_new(ctx, LT_F32, LT_SHAPE(HIDDEN));
    p[P_W2] = lt_new(ctx, LT_F32, LT_SHAPE(HIDDEN, vocab_size));
    p[P_B2] = lt_new(ctx, LT_F32, LT_SHAPE(vocab_size));
    int64_t count = 0;
    for (int i = 0; i < N_PARAMS; i++) { /* randn in the notebook's order, then requires_grad */
        if (!lt_randn_fill(ctx, &g, p[i]) || !lt_requires_grad(ctx, p[i], true))
            return false;
        count += lt_numel(p[i]);
    }
    printf("parameters: %lld\n", (long long)count); /* 11897 */
    return true;
}

/* The model's forward pass on contexts x (n, block_size) -> logits (n, 27). */
static lt_tensor *forward(lt_ctx *ctx, lt_tensor *const p[N_PARAMS], lt_tensor *x)
{
    lt_tensor *emb = lt_index(ctx, p[P_C], x);                           /* (n, 3, 10) */
    lt_tensor *flat = lt_view(ctx, emb, LT_SHAPE(-1, BLOCK_SIZE * EMB)); /* (n, 30) */
    lt_tensor *h = lt_tanh(ctx, lt_add(ctx, lt_matmul(ctx, flat, p[P_W1]), p[P_B1])); /* (n, 200) */
    return lt_add(ctx, lt_matmul(ctx, h, p[P_W2]), p[P_B2]);            /* (n, 27) */
}

/* compute_loss(X, Y, ...): the loss on a whole split, no graph recorded. */
static double compute_loss(lt_ctx *ctx, lt_tensor *const p[N_PARAMS], lt_tensor *X, lt_tensor *Y)
{
    bool was = lt_set_grad_enabled(ctx, false);
    lt_tensor *loss = lt_cross_entropy(ctx, forward(ctx, p, X), Y);
    double value = loss ? lt_item(ctx, loss) : NAN;
    lt_set_grad_enabled(ctx, was);
    lt_ctx_reset(ctx); /* drop the split's activations */
    return value;
}

/* ---- the training loop ------------------------------------------------------ */

static bool train(lt_ctx *ctx, lt_tensor *const p[N_PARAMS], lt_tensor *Xtr, lt_tensor *Ytr, lt_tensor *Xdev,
                  lt_tensor *Ydev, long steps, float *lossi)
{
    lt_rng batches;
    lt_rng_seed(&batches, 42);
    lt_tensor *ix = lt_new(ctx, LT_I32, LT_SHAPE(BATCH)); /* allocated once, refilled every step */
    for (long i = 0; ix && i < steps; i++) {
        if (i % 1000 == 0)
            printf("%ld %f\n", i, compute_loss(ctx, p, Xdev, Ydev));
        lt_ctx_reset(ctx); /* last step's temporaries and tape, released in O(1) */

        /* minibatch construct: ix = torch.randint(0, Xtr.shape[0], (batch_size,)) */
        lt_rng_randint(&batches, 0, Xtr->shape[0], lt_data_i32(ix), BATCH);

        /* forward pass */
        lt_tensor *logits = forward(ctx, p, lt_index(ctx, Xtr, ix)); /* C[Xtr[ix]] ... (32, 27) */
        lt_tensor *loss = lt_cross_entropy(ctx, logits, lt_index(ctx, Ytr, ix));

        /* backward pass */
        for (int k = 0; k < N_PARAMS; k++)
            lt_zero_grad(p[k]); /* p.grad = None */
        if (!loss || !lt_backward(ctx, loss))
            return false;

        /* update */
        float lr = i < steps / 2 ? 0.1f : 0.01f; /* 0.1 if i < 100000 else 0.01 */
        for (int k = 0; k < N_PARAMS; k++)
            lt_sgd_step(ctx, p[k], lr); /* p.data += -lr * p.grad */

        /* track stats */
        lossi[i] = log10f(lt_item(ctx, loss));
    }
    lt_free(ix);
    return lt_status_of(ctx) == LT_OK;
}

/* ---- sample from the model ------------------------------------------------------ */

static bool sample(lt_ctx *ctx, lt_tensor *const p[N_PARAMS], const vocab *v, int count)
{
    lt_rng g;
    lt_rng_seed(&g, 2147483647ull + 10);
    lt_tensor *context = lt_new(ctx, LT_I32, LT_SHAPE(1, BLOCK_SIZE)); /* torch.tensor([context]) */
    bool was = lt_set_grad_enabled(ctx, false);
    for (int s = 0; context && s < count; s++) {
        int32_t *c = lt_data_i32(context);
        memset(c, 0, sizeof(int32_t) * BLOCK_SIZE); /* context = [0] * block_size */
        char out[256];
        int len = 0;
        for (;;) {
            lt_ctx_reset(ctx);
            lt_tensor *probs = lt_softmax(ctx, forward(ctx, p, context), 1); /* (1, 27) */
            float pr[256];
            lt_copy_out_f32(probs, pr);
            int64_t ix = probs ? lt_rng_multinomial(&g, pr, v->size) : -1; /* torch.multinomial */
            if (ix < 0)
                return false;
            memmove(c, c + 1, sizeof(int32_t) * (BLOCK_SIZE - 1));
            c[BLOCK_SIZE - 1] = (int32_t)ix;
            out[len++] = v->itos[ix];
            if (ix == 0 || len == (int)sizeof out - 1)
                break;
        }
        printf("%.*s\n", len, out);
    }
    lt_set_grad_enabled(ctx, was);
    lt_free(context);
    return true;
}

/* ---- the notebook, in order ---------------------------------------------------------- */

static bool run(lt_ctx *ctx, const char *path, long steps, words *ws)
{
    if (!read_words(path, ws)) {
        lt_fail(ctx, LT_ERR_IO, "%s: %s", path, strerror(errno));
        return false;
    }
    vocab v;
    build_vocab(ws, &v);
    lt_rng g;
    lt_rng_seed(&g, 2147483647);
    if (ws->n < 5 || !first_look(ctx, ws, &v, &g)) {
        lt_fail(ctx, LT_ERR_ARG, "%s: needs at least 5 words", path);
        return false;
    }

    /* random.seed(42); random.shuffle(words); the 80/10/10 split */
    lt_pyrandom r;
    lt_pyrandom_seed(&r, 42);
    lt_pyrandom_shuffle(&r, ws->w, ws->n, sizeof *ws->w);
    size_t n1 = (size_t)(0.8 * (double)ws->n), n2 = (size_t)(0.9 * (double)ws->n);
    lt_tensor *Xtr, *Ytr, *Xdev, *Ydev, *Xte, *Yte;
    if (!build_dataset(ctx, ws, 0, n1, &v, &Xtr, &Ytr) || !build_dataset(ctx, ws, n1, n2, &v, &Xdev, &Ydev) ||
        !build_dataset(ctx, ws, n2, ws->n, &v, &Xte, &Yte))
        return false;

    lt_tensor *p[N_PARAMS];
    float *lossi = malloc(sizeof(float) * (size_t)(steps + 1)); /* lossi = [] */
    bool ok = lossi && init_parameters(ctx, v.size, p) && train(ctx, p, Xtr, Ytr, Xdev, Ydev, steps, lossi);
    if (ok && steps > 0) {
        double mean = 0;
        long tail = steps < 1000 ? steps : 1000;
        for (long i = steps - tail; i < steps; i++)
            mean += lossi[i] / (double)tail;
        printf("last %ld steps: mean log10(loss) %.4f\n", tail, mean);
    }
    free(lossi);
    if (ok)
        printf("train %.4f  dev %.4f  test %.4f\n", compute_loss(ctx, p, Xtr, Ytr), compute_loss(ctx, p, Xdev, Ydev),
               compute_loss(ctx, p, Xte, Yte));
    return ok && sample(ctx, p, &v, 20);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "names.txt";
    long steps = argc > 2 ? strtol(argv[2], NULL, 10) : 200000;
    lt_ctx *ctx = lt_ctx_new();
    if (!ctx) {
        fprintf(stderr, "tutorial: out of memory\n");
        return 1;
    }
    words ws = {0};
    bool ok = steps >= 0 && run(ctx, path, steps, &ws);
    int rc = ok ? 0 : steps < 0 ? (fprintf(stderr, "tutorial: steps must be >= 0\n"), 2) : failed(ctx);
    free(ws.text);
    free(ws.w);
    lt_ctx_free(ctx); /* frees every persistent tensor too */
    return rc;
}
