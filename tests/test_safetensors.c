#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, setrlimit, truncate, strdup */
/* test_safetensors.c - checkpoints: round trips, the exact bytes on disk,
 * atomic saves that fail cleanly, and a corpus of hostile files. Every file
 * lives in a fresh directory under /tmp that each test removes. */
#include "test_support.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- file helpers --------------------------------------------------------- */

static char g_dir[64];
static char g_path[4][256];

/* A fresh empty directory for the test. */
static const char *make_dir(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/lt_st_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    return g_dir;
}

/* g_dir/name in one of four slots. */
static const char *in_dir(int slot, const char *name)
{
    snprintf(g_path[slot], sizeof g_path[slot], "%s/%s", g_dir, name);
    return g_path[slot];
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_dir(void) { assert_int_equal(nftw(g_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0); }

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* The whole file (malloc'd) and its length. */
static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len == cap) {
            cap = cap ? 2 * cap : 4096;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    fclose(f);
    *n = len;
    return buf;
}

/* Asserts the file's bytes equal want[0..n). */
static void assert_file_bytes(const char *path, const void *want, size_t n)
{
    size_t len;
    unsigned char *got = read_bytes(path, &len);
    if (len != n || memcmp(got, want, n) != 0) {
        free(got);
        fail_msg("%s: %zu bytes, expected %zu (or contents differ)", path, len, n);
    }
    free(got);
}

static int compare_strings(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Asserts the test directory holds exactly the given names (sorted,
 * NULL-ended): in particular that no temporary file was left behind. */
static void assert_dir_holds(const char *first, ...)
{
    DIR *d = opendir(g_dir);
    assert_non_null(d);
    char *names[16];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && n < 16)
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, compare_strings);
    char listing[1024] = "", want[1024] = "";
    for (int i = 0; i < n; i++) {
        strncat(listing, names[i], sizeof listing - strlen(listing) - 2);
        strcat(listing, " ");
        free(names[i]);
    }
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *)) {
        strncat(want, s, sizeof want - strlen(want) - 2);
        strcat(want, " ");
    }
    va_end(ap);
    if (strcmp(listing, want) != 0)
        fail_msg("directory %s holds \"%s\", expected \"%s\"", g_dir, listing, want);
}

/* A safetensors file from a header text and len zero data bytes. */
static void write_st(const char *path, const char *header, size_t hlen, size_t data_len)
{
    size_t n = 8 + hlen + data_len;
    unsigned char *buf = calloc(1, n);
    assert_non_null(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memcpy(buf + 8, header, hlen);
    write_bytes(path, buf, n);
    free(buf);
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Asserts a and b have the same shape, dtype and bit-identical elements. */
static void assert_same_bits(const lt_tensor *a, const lt_tensor *b)
{
    ts_assert_shape(b, lt_shape_of(a));
    assert_int_equal(a->dtype, b->dtype);
    for (int64_t i = 0, n = lt_numel(a); i < n; i++) {
        if (a->dtype == LT_F32 && f32_bits(lt_get_f32(a, i)) != f32_bits(lt_get_f32(b, i)))
            fail_msg("element %lld: %08x != %08x", (long long)i, f32_bits(lt_get_f32(a, i)), f32_bits(lt_get_f32(b, i)));
        if (a->dtype == LT_I32)
            assert_int_equal(lt_get_i32(a, i), lt_get_i32(b, i));
    }
}

/* ---- round trips ------------------------------------------------------------ */

static void test_round_trip(void **state)
{
    (void)state;
    make_dir();
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *W = ts_random(ctx, LT_SHAPE(3, 4), 1, -2, 2);
    lt_tensor *B = ts_random(ctx, LT_SHAPE(2, 3, 1, 4), 2, -1, 1);
    uint32_t nan_payload = 0x7fc01234u;
    float special[7] = {-0.0f, INFINITY, -INFINITY, 0, 1e-45f, 3.4028235e38f, 1.5f};
    memcpy(&special[3], &nan_payload, 4);
    lt_tensor *S = lt_new_from(ctx, LT_F32, LT_SHAPE(7), special);
    lt_tensor *scalar = lt_new_from(ctx, LT_F32, LT_SHAPE0, (float[]){-3.25f});
    lt_tensor *I = lt_new_from(ctx, LT_I32, LT_SHAPE(2, 3), (int32_t[]){INT32_MIN, -1, 0, 1, 7, INT32_MAX});
    lt_tensor *empty = lt_new(ctx, LT_F32, LT_SHAPE(0, 3));
    lt_tensor *Wt = lt_transpose(ctx, W, 0, 1);                  /* (4,3), not contiguous */
    lt_tensor *Wn = lt_narrow(ctx, W, 1, 1, 2);                  /* (3,2) with an offset */
    lt_tensor *Bp = lt_permute(ctx, B, (int[]){3, 1, 0, 2});     /* (4,3,2,1) */
    lt_tensor *It = lt_transpose(ctx, I, 0, 1);                  /* I32 view (3,2) */
    lt_tensor *Ws = lt_select(ctx, W, 1, 2);                     /* W[:,2]: (3,), stride 4 */
    assert_false(lt_is_contiguous(Wt) || lt_is_contiguous(Wn) || lt_is_contiguous(Bp) || lt_is_contiguous(It) ||
                 lt_is_contiguous(Ws));
    lt_named_tensor t[] = {{"W", W},         {"W.T", Wt},     {"W[:,1:3]", Wn}, {"B4", B},         {"B4.perm", Bp},
                           {"special", S},   {"scalar", scalar}, {"I", I},     {"I.T", It},       {"empty", empty},
                           {"W[:,2]", Ws},   {"n\xc3\xa4me \"q\" \\ \n", W}};
    int n = (int)(sizeof t / sizeof *t);
    const char *meta[] = {"vocab", "abcdefghijklmnopqrstuvwxyz.",
                          "quote\"key", "back\\slash \"q\" /",
                          "ctrl", "\x01\x02\t\n\r\b\f\x1f\x7f end",
                          "utf8", "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9f\x8e\x89",
                          "empty", "",
                          "", "the empty key"};
    int n_meta = (int)(sizeof meta / sizeof *meta / 2);
    const char *path = in_dir(0, "rt.safetensors");
    assert_true(lt_safetensors_save(ctx, path, t, n, meta, n_meta));
    assert_int_equal(lt_status_of(ctx), LT_OK);

    lt_safetensors *st = lt_safetensors_load(ctx, path);
    if (!st)
        fail_msg("load: %s", lt_error_message(ctx));
    assert_int_equal(lt_safetensors_count(st), n);
    for (int i = 0; i < n; i++) {
        assert_string_equal(lt_safetensors_name(st, i), t[i].name); /* in the order written */
        lt_tensor *back = lt_new(ctx, t[i].tensor->dtype, lt_shape_of(t[i].tensor));
        if (!lt_safetensors_read(ctx, st, t[i].name, back))
            fail_msg("read %s: %s", t[i].name, lt_error_message(ctx));
        assert_same_bits(t[i].tensor, back);
        lt_free(back);
    }
    for (int i = 0; i < n_meta; i++)
        assert_string_equal(lt_safetensors_meta(st, meta[2 * i]), meta[2 * i + 1]);
    assert_null(lt_safetensors_meta(st, "absent"));
    assert_null(lt_safetensors_name(st, -1));
    assert_null(lt_safetensors_name(st, n));

    /* reading into a strided destination: W into a transposed view */
    lt_tensor *base = lt_new(ctx, LT_F32, LT_SHAPE(4, 3));
    lt_tensor *view = lt_transpose(ctx, base, 0, 1); /* (3,4) */
    assert_true(lt_safetensors_read(ctx, st, "W", view));
    assert_same_bits(W, view);
    /* ... and the transposed data into a slice of a bigger tensor */
    lt_tensor *big = lt_new(ctx, LT_F32, LT_SHAPE(4, 5));
    lt_tensor *slice = lt_narrow(ctx, big, 1, 1, 3); /* (4,3) */
    assert_true(lt_safetensors_read(ctx, st, "W.T", slice));
    assert_same_bits(Wt, slice);
    for (int r = 0; r < 4; r++) /* untouched columns stay zero */
        assert_true(lt_get_f32(big, r * 5) == 0.0f && lt_get_f32(big, r * 5 + 4) == 0.0f);
    lt_safetensors_free(st);

    /* the loaded checkpoint holds its own copy: removing the file is fine */
    st = lt_safetensors_load(ctx, path);
    assert_non_null(st);
    assert_int_equal(remove(path), 0);
    lt_tensor *back = lt_new(ctx, LT_I32, LT_SHAPE(3, 2));
    assert_true(lt_safetensors_read(ctx, st, "I.T", back));
    assert_same_bits(It, back);
    lt_safetensors_free(st);
    lt_ctx_free(ctx);
    remove_dir();
}

/* An empty checkpoint, and metadata without tensors, both round trip. */
static void test_round_trip_empty(void **state)
{
    (void)state;
    make_dir();
    lt_ctx *ctx = lt_ctx_new();
    const char *path = in_dir(0, "empty.st");
    assert_true(lt_safetensors_save(ctx, path, NULL, 0, NULL, 0));
    assert_file_bytes(path, "\x08\0\0\0\0\0\0\0{}      ", 16);
    lt_safetensors *st = lt_safetensors_load(ctx, path);
    assert_non_null(st);
    assert_int_equal(lt_safetensors_count(st), 0);
    assert_null(lt_safetensors_meta(st, "k"));
    lt_safetensors_free(st);

    const char *meta[] = {"k", "v"};
    assert_true(lt_safetensors_save(ctx, path, NULL, 0, meta, 1));
    assert_file_bytes(path, "\x20\0\0\0\0\0\0\0{\"__metadata__\":{\"k\":\"v\"}}      ", 40);
    st = lt_safetensors_load(ctx, path);
    assert_non_null(st);
    assert_int_equal(lt_safetensors_count(st), 0);
    assert_string_equal(lt_safetensors_meta(st, "k"), "v");
    lt_safetensors_free(st);
    lt_ctx_free(ctx);
    remove_dir();
}

/* ---- exact bytes ---------------------------------------------------------- */

static void test_exact_bytes(void **state)
{
    (void)state;
    make_dir();
    lt_ctx *ctx = lt_ctx_new();
    const char *path = in_dir(0, "tiny.st");
    lt_tensor *a = lt_new_from(ctx, LT_F32, LT_SHAPE(2), (float[]){1.0f, -2.0f});
    lt_tensor *b = lt_new_from(ctx, LT_I32, LT_SHAPE0, (int32_t[]){7});
    const char *meta[] = {"k", "v"};
    assert_true(lt_safetensors_save(ctx, path, (lt_named_tensor[]){{"a", a}, {"b", b}}, 2, meta, 1));
    /* 132 bytes of JSON + 4 spaces = 136 = 0x88; data: 1.0f, -2.0f, 7 */
    static const char want[] = "\x88\0\0\0\0\0\0\0"
                               "{\"__metadata__\":{\"k\":\"v\"},"
                               "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                               "\"b\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[8,12]}}"
                               "    "
                               "\x00\x00\x80\x3f" "\x00\x00\x00\xc0" "\x07\x00\x00\x00";
    assert_int_equal(sizeof want - 1, 8 + 136 + 12);
    assert_file_bytes(path, want, sizeof want - 1);

    /* escaping: a name q"\ and a value with a newline, U+0001 and UTF-8 */
    lt_tensor *h = lt_new_from(ctx, LT_F32, LT_SHAPE(1), (float[]){0.5f});
    const char *meta2[] = {"s", "a\nb\x01\xc3\xa9"};
    assert_true(lt_safetensors_save(ctx, path, (lt_named_tensor[]){{"q\"\\", h}}, 1, meta2, 1));
    /* 94 bytes of JSON + 2 spaces = 96 = 0x60 */
    static const char want2[] = "\x60\0\0\0\0\0\0\0"
                                "{\"__metadata__\":{\"s\":\"a\\nb\\u0001\xc3\xa9\"},"
                                "\"q\\\"\\\\\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"
                                "  "
                                "\x00\x00\x00\x3f";
    assert_int_equal(sizeof want2 - 1, 8 + 96 + 4);
    assert_file_bytes(path, want2, sizeof want2 - 1);
    lt_safetensors *st = lt_safetensors_load(ctx, path);
    assert_non_null(st);
    assert_string_equal(lt_safetensors_name(st, 0), "q\"\\");
    assert_string_equal(lt_safetensors_meta(st, "s"), "a\nb\x01\xc3\xa9");
    lt_safetensors_free(st);
    lt_ctx_free(ctx);
    remove_dir();
}

/* A header as another writer may produce it: whitespace, members in another
 * order, metadata last, \u escapes and a surrogate pair, a zero-size tensor,
 * other dtypes, an unaligned F32. */
static void test_reads_foreign_layout(void **state)
{
    (void)state;
    make_dir();
    lt_ctx *ctx = lt_ctx_new();
    const char *path = in_dir(0, "foreign.st");
    static const char header[] =
        "{ \"d\" : { \"data_offsets\" : [0, 8], \"shape\" : [1], \"dtype\" : \"F64\" },\n"
        "  \"u\":{\"shape\":[3],\"dtype\":\"U8\",\"data_offsets\":[8,11]},\r\n"
        "\t\"\\u00e9\\ud83d\\ude00\\/x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[11,15]},"
        "  \"z\":{\"dtype\":\"I32\",\"shape\":[0,5],\"data_offsets\":[15,15]},"
        "  \"__metadata__\" : {\"k\":\"\\u0041\\t\"}  }        ";
    unsigned char file[8 + sizeof header - 1 + 15] = {0};
    for (int i = 0; i < 8; i++)
        file[i] = (unsigned char)((uint64_t)(sizeof header - 1) >> (8 * i));
    memcpy(file + 8, header, sizeof header - 1);
    memcpy(file + 8 + sizeof header - 1 + 11, "\x00\x00\x20\x41", 4); /* 10.0f at byte 11 */
    write_bytes(path, file, sizeof file);
    lt_safetensors *st = lt_safetensors_load(ctx, path);
    if (!st)
        fail_msg("load: %s", lt_error_message(ctx));
    assert_int_equal(lt_safetensors_count(st), 4);
    assert_string_equal(lt_safetensors_name(st, 2), "\xc3\xa9\xf0\x9f\x98\x80/x");
    assert_string_equal(lt_safetensors_meta(st, "k"), "A\t");
    lt_tensor *f = lt_new(ctx, LT_F32, LT_SHAPE(1));
    assert_true(lt_safetensors_read(ctx, st, "\xc3\xa9\xf0\x9f\x98\x80/x", f));
    assert_true(lt_get_f32(f, 0) == 10.0f);
    lt_tensor *z = lt_new(ctx, LT_I32, LT_SHAPE(0, 5));
    assert_true(lt_safetensors_read(ctx, st, "z", z));
    /* a dtype libtensor does not have loads, but cannot be read */
    assert_false(lt_safetensors_read(ctx, st, "d", f));
    ts_assert_error(ctx, LT_ERR_FORMAT, "safetensors: tensor 'd' has dtype F64 but the destination is F32", NULL);
    assert_false(lt_safetensors_read(ctx, st, "u", z));
    ts_assert_error(ctx, LT_ERR_FORMAT, "tensor 'u' has dtype U8 but the destination is I32", NULL);
    lt_safetensors_free(st);

    /* "__metadata__": null is no metadata */
    static const char h2[] = "{\"__metadata__\":null}";
    write_st(path, h2, sizeof h2 - 1, 0);
    st = lt_safetensors_load(ctx, path);
    assert_non_null(st);
    assert_int_equal(lt_safetensors_count(st), 0);
    lt_safetensors_free(st);
    lt_ctx_free(ctx);
    remove_dir();
}

/* ---- reading errors ------------------------------------------------------- */

static void test_read_errors(void **state)
{
    (void)state;
    make_dir();
    lt_ctx *ctx = lt_ctx_new();
    const char *path = in_dir(0, "ck.st");
    lt_tensor *W1 = ts_random(ctx, LT_SHAPE(30, 200), 3, -1, 1);
    lt_tensor *ix = lt_new_from(ctx, LT_I32, LT_SHAPE(2), (int32_t[]){4, 5});
    assert_true(lt_safetensors_save(ctx, path, (lt_named_tensor[]){{"W1", W1}, {"ix", ix}}, 2, NULL, 0));
    lt_safetensors *st = lt_safetensors_load(ctx, path);
    assert_non_null(st);

    lt_tensor *dst = lt_new(ctx, LT_F32, LT_SHAPE(30, 100));
    lt_fill(ctx, dst, 9.0f);
    assert_false(lt_safetensors_read(ctx, st, "W1", dst));
    ts_assert_error(ctx, LT_ERR_FORMAT, "safetensors: tensor 'W1' has shape (30,200) but the destination is (30,100)",
                    NULL);
    assert_true(lt_get_f32(dst, 0) == 9.0f && lt_get_f32(dst, 2999) == 9.0f); /* untouched */
    lt_tensor *t200 = lt_transpose(ctx, lt_new(ctx, LT_F32, LT_SHAPE(200, 30)), 0, 1);
    assert_true(lt_safetensors_read(ctx, st, "W1", t200)); /* same shape through a view is fine */
    assert_false(lt_safetensors_read(ctx, st, "W1", lt_transpose(ctx, t200, 0, 1)));
    ts_assert_error(ctx, LT_ERR_FORMAT, "has shape (30,200) but the destination is (200,30)", NULL);

    assert_false(lt_safetensors_read(ctx, st, "b3", dst));
    char want[400];
    snprintf(want, sizeof want, "safetensors: no tensor named 'b3' in %s", path);
    ts_assert_error(ctx, LT_ERR_FORMAT, want, NULL);

    lt_tensor *f2 = lt_new(ctx, LT_F32, LT_SHAPE(2));
    assert_false(lt_safetensors_read(ctx, st, "ix", f2));
    ts_assert_error(ctx, LT_ERR_FORMAT, "tensor 'ix' has dtype I32 but the destination is F32", NULL);
    lt_tensor *i2 = lt_new(ctx, LT_I32, LT_SHAPE(30, 200));
    assert_false(lt_safetensors_read(ctx, st, "W1", i2));
    ts_assert_error(ctx, LT_ERR_FORMAT, "tensor 'W1' has dtype F32 but the destination is I32", NULL);

    assert_false(lt_safetensors_read(ctx, NULL, "W1", dst));
    ts_assert_error(ctx, LT_ERR_ARG, "safetensors: read: the checkpoint is NULL", NULL);
    assert_false(lt_safetensors_read(ctx, st, NULL, dst));
    ts_assert_error(ctx, LT_ERR_ARG, "the name is NULL", NULL);
    assert_false(lt_safetensors_read(ctx, st, "W1", NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "the destination tensor is NULL", NULL);
    assert_false(lt_safetensors_read(NULL, st, "W1", dst));

    /* accessors on NULL */
    assert_int_equal(lt_safetensors_count(NULL), 0);
    assert_null(lt_safetensors_name(NULL, 0));
    assert_null(lt_safetensors_meta(NULL, "k"));
    assert_null(lt_safetensors_meta(st, NULL));
    lt_safetensors_free(NULL);

    /* a sticky error: nothing runs, the first message stays */
    lt_fail(ctx, LT_ERR_SHAPE, "earlier failure");
    assert_false(lt_safetensors_read(ctx, st, "W1", t200));
    assert_null(lt_safetensors_load(ctx, path));
    assert_false(lt_safetensors_save(ctx, in_dir(1, "other.st"), (lt_named_tensor[]){{"W1", W1}}, 1, NULL, 0));
    ts_assert_error(ctx, LT_ERR_SHAPE, "earlier failure", NULL);
    assert_int_equal(access(in_dir(1, "other.st"), F_OK), -1);
    assert_null(lt_safetensors_load(NULL, path));
    assert_false(lt_safetensors_save(NULL, path, NULL, 0, NULL, 0));

    lt_safetensors_free(st);
    lt_ctx_free(ctx);
    remove_dir();
}

/* ---- saving: bad arguments ----------------------------------------------- */

static void test_save_bad_arguments(void **state)
{
    (void)state;
    make_dir();
    lt_ctx *ctx = lt_ctx_new();
    const char *path = in_dir(0, "x.st");
    lt_tensor *a = lt_new(ctx, LT_F32, LT_SHAPE(2));
    lt_tensor bad = *a;
    bad.dtype = (lt_dtype)7;
    const char *ok_meta[] = {"k", "v"};
    struct {
        lt_named_tensor t[2];
        int n;
        const char *meta_pair[4];
        int n_meta;
        const char *message;
    } cases[] = {
        {{{NULL, a}}, 1, {0}, 0, "safetensors: save: tensor 0 has a NULL name"},
        {{{"", a}}, 1, {0}, 0, "safetensors: save: tensor 0 has an empty name"},
        {{{"a", a}, {"a", a}}, 2, {0}, 0, "safetensors: save: duplicate tensor name 'a'"},
        {{{"a", a}, {"b", NULL}}, 2, {0}, 0, "safetensors: save: tensor 'b' is NULL"},
        {{{"a", &bad}}, 1, {0}, 0, "safetensors: save: tensor 'a' has unsupported dtype 7"},
        {{{"__metadata__", a}}, 1, {0}, 0, "the name '__metadata__' is reserved"},
        {{{"bad\xff", a}}, 1, {0}, 0, "tensor 0's name 'bad\xff' is not valid UTF-8"},
        {{{"a", a}}, -1, {0}, 0, "n = -1 tensors is negative"},
        {{{"a", a}}, 1, {0}, 1, "the metadata array is NULL (n_meta = 1)"},
        {{{"a", a}}, 1, {0}, -2, "n_meta = -2 is negative"},
        {{{"a", a}}, 1, {NULL, "v"}, 1, "metadata entry 0 has a NULL key"},
        {{{"a", a}}, 1, {"k", NULL}, 1, "metadata entry 0 has a NULL value"},
        {{{"a", a}}, 1, {"k", "v", "k", "w"}, 2, "duplicate metadata key 'k'"},
        {{{"a", a}}, 1, {"k", "\xc0\xaf"}, 1, "metadata value for 'k' is not valid UTF-8"},
        {{{"a", a}}, 1, {"\xed\xa0\x80", "v"}, 1, "metadata key 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *const *meta = cases[i].meta_pair[0] || cases[i].meta_pair[1] ? cases[i].meta_pair : NULL;
        if (lt_safetensors_save(ctx, path, cases[i].t, cases[i].n, meta, cases[i].n_meta))
            fail_msg("case %zu saved", i);
        if (lt_status_of(ctx) != LT_ERR_ARG || !strstr(lt_error_message(ctx), cases[i].message))
            fail_msg("case %zu: status %d, message \"%s\", want \"%s\"", i, lt_status_of(ctx), lt_error_message(ctx),
                     cases[i].message);
        lt_clear_error(ctx);
    }
    assert_false(lt_safetensors_save(ctx, NULL, NULL, 0, ok_meta, 1));
    ts_assert_error(ctx, LT_ERR_ARG, "safetensors: save: the path is NULL", NULL);
    assert_false(lt_safetensors_save(ctx, "", NULL, 0, ok_meta, 1));
    ts_assert_error(ctx, LT_ERR_ARG, "safetensors: save: the path is empty", NULL);
    assert_false(lt_safetensors_save(ctx, path, NULL, 1, ok_meta, 1));
    ts_assert_error(ctx, LT_ERR_ARG, "the tensor array is NULL (n = 1)", NULL);
    assert_dir_holds(NULL); /* nothing was written */
    lt_ctx_free(ctx);
    remove_dir();
}

/* ---- atomic saves ------------------------------------------------------------ */

/* Saves a small valid checkpoint at path and returns its bytes. */
static unsigned char *save_v1(lt_ctx *ctx, const char *path, size_t *n)
{
    lt_tensor *v1 = lt_new_from(ctx, LT_F32, LT_SHAPE(2), (float[]){1, 2});
    assert_true(lt_safetensors_save(ctx, path, (lt_named_tensor[]){{"v", v1}}, 1, NULL, 0));
    lt_free(v1);
    return read_bytes(path, n);
}

static void test_save_replaces_old_file(void **state)
{
    (void)state;
    make_dir();
    lt_ctx *ctx = lt_ctx_new();
    const char *path = in_dir(0, "ck.st");
    size_t n1;
    free(save_v1(ctx, path, &n1));
    lt_tensor *v2 = lt_new_from(ctx, LT_F32, LT_SHAPE(3), (float[]){7, 8, 9});
    assert_true(lt_safetensors_save(ctx, path, (lt_named_tensor[]){{"v", v2}}, 1, NULL, 0));
    assert_dir_holds("ck.st", NULL); /* no temporary left */
    lt_safetensors *st = lt_safetensors_load(ctx, path);
    lt_tensor *back = lt_new(ctx, LT_F32, LT_SHAPE(3));
    assert_true(lt_safetensors_read(ctx, st, "v", back));
    ts_assert_near(back, (float[]){7, 8, 9}, 3, 0, 0);
    lt_safetensors_free(st);
    lt_ctx_free(ctx);
    remove_dir();
}

/* The target is a directory: the rename fails; the directory and what it
 * holds are untouched and the temporary is gone. */
static void test_save_onto_directory_fails_cleanly(void **state)
{
    (void)state;
    make_dir();
    lt_ctx *ctx = lt_ctx_new();
    const char *target = in_dir(0, "ck.st");
    assert_int_equal(mkdir(target, 0755), 0);
    write_bytes(in_dir(1, "ck.st/inner"), "keep me", 7);
    lt_tensor *a = lt_new(ctx, LT_F32, LT_SHAPE(5));
    assert_false(lt_safetensors_save(ctx, target, (lt_named_tensor[]){{"a", a}}, 1, NULL, 0));
    ts_assert_error(ctx, LT_ERR_IO, "safetensors: cannot save ", target, "renaming the temporary file over it",
                    strerror(EISDIR), NULL);
    assert_file_bytes(in_dir(1, "ck.st/inner"), "keep me", 7);
    assert_dir_holds("ck.st", NULL);
    lt_ctx_free(ctx);
    remove_dir();
}

/* The parent is a regular file or missing: creating the temporary fails and
 * the file in the way is untouched. */
static void test_save_bad_parent_fails_cleanly(void **state)
{
    (void)state;
    make_dir();
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = lt_new(ctx, LT_F32, LT_SHAPE(5));
    write_bytes(in_dir(0, "file"), "precious", 8);
    const char *under_file = in_dir(1, "file/x.st");
    assert_false(lt_safetensors_save(ctx, under_file, (lt_named_tensor[]){{"a", a}}, 1, NULL, 0));
    ts_assert_error(ctx, LT_ERR_IO, under_file, "creating a temporary file beside it", strerror(ENOTDIR), NULL);
    const char *missing = in_dir(2, "missing/x.st");
    assert_false(lt_safetensors_save(ctx, missing, (lt_named_tensor[]){{"a", a}}, 1, NULL, 0));
    ts_assert_error(ctx, LT_ERR_IO, missing, strerror(ENOENT), NULL);
    assert_file_bytes(in_dir(0, "file"), "precious", 8);
    assert_dir_holds("file", NULL);
    lt_ctx_free(ctx);
    remove_dir();
}

/* Saves one tensor under a file size limit (which binds root too) and
 * returns the outcome; the limit is lifted before anything is asserted. */
typedef struct limited_save {
    bool ok;
    lt_status status;
    char message[256];
} limited_save;

static limited_save save_with_size_limit(lt_ctx *ctx, const char *path, const char *name, const lt_tensor *t,
                                         rlim_t limit)
{
    struct rlimit saved, small;
    limited_save r;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small = saved;
    small.rlim_cur = limit;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN); /* EFBIG instead of a signal */
    int set = setrlimit(RLIMIT_FSIZE, &small);
    r.ok = lt_safetensors_save(ctx, path, (lt_named_tensor[]){{name, t}}, 1, NULL, 0);
    int reset = setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(set, 0);
    assert_int_equal(reset, 0);
    r.status = lt_status_of(ctx);
    snprintf(r.message, sizeof r.message, "%s", lt_error_message(ctx));
    lt_clear_error(ctx);
    return r;
}

/* A write that fails half-way: the old checkpoint stays byte-identical and
 * loadable, and no temporary is left. */
static void test_save_write_failure_keeps_old_file(void **state)
{
    (void)state;
    make_dir();
    lt_ctx *ctx = lt_ctx_new();
    const char *path = in_dir(0, "ck.st");
    size_t n1;
    unsigned char *old = save_v1(ctx, path, &n1);
    lt_tensor *big = ts_random(ctx, LT_SHAPE(100, 100), 4, -1, 1); /* 40000 bytes */
    struct {
        const char *name;
        const lt_tensor *t;
        rlim_t limit;
        const char *step;
    } cases[] = {
        {"big", big, 4096, "writing tensor data"},                            /* dense fwrite */
        {"bigt", lt_transpose(ctx, big, 0, 1), 4096, "writing tensor data"}, /* chunked strided copy */
        /* small enough to sit in stdio's buffer: the failure shows at the flush */
        {"row", lt_narrow(ctx, big, 0, 0, 1), 64, "writing tensor data"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        limited_save r = save_with_size_limit(ctx, path, cases[i].name, cases[i].t, cases[i].limit);
        if (r.ok || r.status != LT_ERR_IO || !strstr(r.message, path) || !strstr(r.message, cases[i].step) ||
            !strstr(r.message, strerror(EFBIG)))
            fail_msg("case %s: ok=%d status %d message \"%s\"", cases[i].name, r.ok, r.status, r.message);
        assert_file_bytes(path, old, n1);
        assert_dir_holds("ck.st", NULL);
    }
    lt_safetensors *st = lt_safetensors_load(ctx, path);
    assert_non_null(st);
    assert_string_equal(lt_safetensors_name(st, 0), "v");
    lt_safetensors_free(st);
    free(old);
    lt_ctx_free(ctx);
    remove_dir();
}

/* ---- hostile files ---------------------------------------------------------- */

typedef struct hostile {
    const char *what;
    const char *header; /* JSON text written after its length */
    size_t data_len;    /* zero bytes after the header */
    const char *message;
} hostile;

static const hostile HOSTILE[] = {
    /* malformed JSON */
    {"truncated JSON", "{\"a\":", 0, "malformed header JSON at byte 5: expected a value, found end of input"},
    {"empty header", "", 0, "malformed header JSON at byte 0: expected a value, found end of input"},
    {"trailing comma", "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},}", 4,
     "expected a string key, found '}'"},
    {"single quotes", "{'a':1}", 0, "malformed header JSON at byte 1: expected a string key, found '''"},
    {"comment", "{/*c*/}", 0, "expected a string key, found '/'"},
    {"missing colon", "{\"a\" 1}", 0, "expected ':' after a key, found '1'"},
    {"missing comma", "{\"a\":{} \"b\":{}}", 0, "expected ',' or '}', found '\"'"},
    {"unterminated string", "{\"abc", 0, "malformed header JSON at byte 1: unterminated string"},
    {"bad escape", "{\"a\\q\":1}", 0, "invalid escape '\\' followed by 'q'"},
    {"short \\u escape", "{\"a\\u12\":1}", 0, "invalid \\u escape (needs 4 hex digits)"},
    {"raw control character", "{\"a\tb\":1}", 0, "raw control character 0x09 in a string"},
    {"invalid UTF-8", "{\"\xff\":1}", 0, "invalid UTF-8 byte 0xff in a string"},
    {"overlong UTF-8", "{\"\xc0\xaf\":1}", 0, "invalid UTF-8 byte 0xc0"},
    {"UTF-8 surrogate", "{\"\xed\xa0\x80\":1}", 0, "invalid UTF-8 byte 0xed"},
    {"truncated UTF-8", "{\"\xe2\x9c\":1}", 0, "invalid UTF-8 byte 0xe2"},
    {"overlong 3-byte UTF-8", "{\"\xe0\x80\xaf\":1}", 0, "invalid UTF-8 byte 0xe0"},
    {"UTF-8 above U+10FFFF", "{\"\xf4\x90\x80\x80\":1}", 0, "invalid UTF-8 byte 0xf4"},
    {"lone high surrogate", "{\"\\ud800x\":1}", 0, "unpaired high surrogate \\ud800"},
    {"lone low surrogate", "{\"\\udc00\":1}", 0, "unpaired low surrogate \\udc00"},
    {"bad literal", "{\"__metadata__\":tru}", 0, "invalid literal (expected 'true')"},
    {"leading zero", "{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4,
     "invalid number: leading zero"},
    {"bare minus", "{\"a\":-}", 0, "invalid number: no digits"},
    {"no fraction digits", "{\"a\":1.}", 0, "invalid number: no digits after '.'"},
    {"no exponent digits", "{\"a\":1e+}", 0, "invalid number: no digits in the exponent"},
    {"plus sign", "{\"a\":+1}", 0, "expected a value, found '+'"},
    {"trailing garbage", "{} x", 0, "expected end of input after the top-level value, found 'x'"},
    {"two values", "{}{}", 0, "expected end of input after the top-level value, found '{'"},
    {"deep nesting",
     "{\"__metadata__\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", 0,
     "nesting deeper than 32 levels"},
    /* well-formed JSON, wrong schema */
    {"not an object", "[]", 0, "the header is not a JSON object"},
    {"entry not an object", "{\"a\":[1]}", 0, "tensor 'a': the entry is not a JSON object"},
    {"unknown dtype", "{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     "tensor 'a': unknown dtype 'F33'"},
    {"dtype not a string", "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     "tensor 'a': dtype is not a string"},
    {"missing field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "tensor 'a': missing field 'data_offsets'"},
    {"field twice", "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     "tensor 'a': field 'dtype' appears twice"},
    {"unknown field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":0}}", 4,
     "tensor 'a': unknown field 'extra'"},
    {"shape not an array", "{\"a\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}}", 16,
     "tensor 'a': shape is not an array"},
    {"negative shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,4]}}", 4,
     "tensor 'a': shape entry -1 is negative"},
    {"fractional shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
     "tensor 'a': shape entries must be non-negative integers"},
    {"nested shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[[1]],\"data_offsets\":[0,4]}}", 4,
     "tensor 'a': shape entries must be non-negative integers"},
    {"huge shape entry", "{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", 4,
     "tensor 'a': shape entry 99999999999999999999 is too large"},
    {"shape above int64", "{\"a\":{\"dtype\":\"U8\",\"shape\":[9223372036854775808],\"data_offsets\":[0,4]}}", 4,
     "shape entry 9223372036854775808 is too large"},
    {"overflowing shape",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
     "tensor 'a': shape (4294967296,4294967296,4294967296) has an element count that overflows"},
    {"overflow by dtype size", "{\"a\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,8]}}", 8,
     "has an element count that overflows"},
    {"rank 7", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
     "tensor 'a': rank 7 exceeds the maximum of 6 dimensions"},
    {"offsets not two", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8,
     "tensor 'a': data_offsets must be an array of two non-negative integers"},
    {"negative offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4,
     "tensor 'a': data_offsets must be an array of two non-negative integers"},
    {"reversed offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8,
     "tensor 'a': data_offsets [8,0] are reversed"},
    {"offsets out of range", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
     "tensor 'a': data_offsets [0,16] lie outside the 8 bytes of data"},
    {"offsets far out of range",
     "{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[18446744073709551608,18446744073709551615]}}", 8,
     "lie outside the 8 bytes of data"},
    {"wrong size", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
     "tensor 'a': data_offsets [0,8] hold 8 bytes but F32 (3) needs 12"},
    {"overlapping",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
     12, "tensor 'b' (bytes 4..12) overlaps tensor 'a' (bytes 0..8)"},
    {"same range twice",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
     4, "overlaps tensor"},
    {"hole between tensors",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
     12, "data bytes 4..8 are not covered by any tensor"},
    {"trailing data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
     "data bytes 4..8 are not covered by any tensor"},
    {"data without tensors", "{}", 4, "data bytes 0..4 are not covered by any tensor"},
    {"duplicate names",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
     8, "duplicate tensor name 'a'"},
    {"NUL in a name", "{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     "tensor name 'a' contains a NUL character"},
    /* metadata */
    {"metadata value not a string", "{\"__metadata__\":{\"k\":1}}", 0, "metadata value for 'k' is not a string"},
    {"metadata value an object", "{\"__metadata__\":{\"k\":{}}}", 0, "metadata value for 'k' is not a string"},
    {"metadata not an object", "{\"__metadata__\":[\"k\"]}", 0, "__metadata__ is not a JSON object"},
    {"metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate key '__metadata__'"},
    {"duplicate metadata key", "{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 0, "duplicate metadata key 'k'"},
    {"NUL in metadata", "{\"__metadata__\":{\"k\":\"v\\u0000\"}}", 0, "metadata entry 'k' contains a NUL character"},
};

/* Loads path and checks the failure; prints the message with ST_VERBOSE. */
static void expect_rejected(lt_ctx *ctx, const char *what, const char *path, lt_status status, const char *message)
{
    lt_safetensors *st = lt_safetensors_load(ctx, path);
    const char *msg = lt_error_message(ctx);
    if (st || lt_status_of(ctx) != status || !strstr(msg, message) || !strstr(msg, path)) {
        lt_safetensors_free(st);
        fail_msg("%s: loaded=%d status '%s' message \"%s\"; want '%s' with \"%s\"", what, st != NULL,
                 lt_status_name(lt_status_of(ctx)), msg, lt_status_name(status), message);
    }
    if (getenv("ST_VERBOSE"))
        printf("  %-28s %s\n", what, msg);
    lt_clear_error(ctx);
}

static void test_hostile_headers(void **state)
{
    (void)state;
    make_dir();
    lt_ctx *ctx = lt_ctx_new();
    const char *path = in_dir(0, "hostile.st");
    /* the builder makes loadable files: a valid control case */
    static const char good[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    write_st(path, good, sizeof good - 1, 4);
    lt_safetensors *st = lt_safetensors_load(ctx, path);
    assert_non_null(st);
    lt_safetensors_free(st);
    for (size_t i = 0; i < sizeof HOSTILE / sizeof *HOSTILE; i++) {
        write_st(path, HOSTILE[i].header, strlen(HOSTILE[i].header), HOSTILE[i].data_len);
        expect_rejected(ctx, HOSTILE[i].what, path, LT_ERR_FORMAT, HOSTILE[i].message);
    }
    /* a NUL byte inside the header text */
    write_st(path, "{\0}", 3, 0);
    expect_rejected(ctx, "NUL byte in the header", path, LT_ERR_FORMAT, "expected a string key, found byte 0x00");
    lt_ctx_free(ctx);
    remove_dir();
}

static void test_hostile_lengths(void **state)
{
    (void)state;
    make_dir();
    lt_ctx *ctx = lt_ctx_new();
    const char *path = in_dir(0, "hostile.st");
    unsigned char buf[120] = {0};

    write_bytes(path, buf, 0);
    expect_rejected(ctx, "empty file", path, LT_ERR_FORMAT, "file is 0 bytes, too short for the 8-byte header length");
    write_bytes(path, buf, 5);
    expect_rejected(ctx, "5-byte file", path, LT_ERR_FORMAT, "file is 5 bytes, too short");

    memcpy(buf, "\x3f\x42\x0f\0\0\0\0\0", 8); /* 999999 */
    write_bytes(path, buf, 120);
    char want[400];
    snprintf(want, sizeof want, "safetensors: %s: header length 999999 exceeds file size 120", path);
    expect_rejected(ctx, "header length > file", path, LT_ERR_FORMAT, want);

    memset(buf, 0xff, 8); /* 2^64 - 1 */
    write_bytes(path, buf, 120);
    expect_rejected(ctx, "header length 2^64-1", path, LT_ERR_FORMAT,
                    "header length 18446744073709551615 exceeds file size 120");

    memcpy(buf, "\x71\0\0\0\0\0\0\0", 8); /* 113: one byte more than follows */
    write_bytes(path, buf, 120);
    expect_rejected(ctx, "header length = size - 7", path, LT_ERR_FORMAT,
                    "header length 113 exceeds file size 120 minus the 8-byte length field");

    /* a (sparse) file larger than the 100 MB header limit */
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite("\x01\xe1\xf5\x05\0\0\0\0", 1, 8, f), 8); /* 100000001 */
    assert_int_equal(fclose(f), 0);
    assert_int_equal(truncate(path, 8 + 100663296), 0); /* 96 MiB of holes */
    expect_rejected(ctx, "header above the limit", path, LT_ERR_FORMAT,
                    "header length 100000001 exceeds the limit of 100000000 bytes");

    /* open/read failures are I/O errors */
    expect_rejected(ctx, "missing file", in_dir(1, "nothere.st"), LT_ERR_IO, "cannot open: No such file or directory");
    expect_rejected(ctx, "a directory", g_dir, LT_ERR_IO, "not a regular file");
    assert_null(lt_safetensors_load(ctx, NULL));
    ts_assert_error(ctx, LT_ERR_ARG, "safetensors: load: the path is NULL", NULL);
    lt_ctx_free(ctx);
    remove_dir();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_empty),
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_reads_foreign_layout),
        cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_save_bad_arguments),
        cmocka_unit_test(test_save_replaces_old_file),
        cmocka_unit_test(test_save_onto_directory_fails_cleanly),
        cmocka_unit_test(test_save_bad_parent_fails_cleanly),
        cmocka_unit_test(test_save_write_failure_keeps_old_file),
        cmocka_unit_test(test_hostile_headers),
        cmocka_unit_test(test_hostile_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
