#define _POSIX_C_SOURCE 200809L /* mkdtemp */
/* test_safetensors_truncated.c - a checkpoint cut at every possible length
 * (a copy interrupted, a full disk) is rejected with the message that fits
 * where the cut fell, and never loads; bytes appended to it are rejected
 * too. Complements the hand-made hostile headers of test_safetensors.c. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], path[128], cut[128];

static unsigned char *read_all(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    unsigned char *buf = malloc(1 << 16);
    assert_non_null(buf);
    *n = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

static void write_prefix(const unsigned char *bytes, size_t n)
{
    FILE *f = fopen(cut, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void test_every_truncation(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/lt_trunc_XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    snprintf(cut, sizeof cut, "%s/cut.safetensors", dir);
    lt_ctx *ctx = lt_ctx_new();
    lt_tensor *a = ts_random(ctx, LT_SHAPE(3, 4), 1, -1, 1), *b = ts_random(ctx, LT_SHAPE(5), 2, -1, 1);
    lt_tensor *ix = lt_new_from(ctx, LT_I32, LT_SHAPE(2), (int32_t[]){7, -7});
    lt_named_tensor t[] = {{"a", a}, {"b", b}, {"ix", ix}};
    const char *meta[] = {"format", "test"};
    assert_true(lt_safetensors_save(ctx, path, t, 3, meta, 1));
    size_t size;
    unsigned char *bytes = read_all(path, &size);
    uint64_t header = 0;
    for (int i = 7; i >= 0; i--)
        header = header << 8 | bytes[i];
    assert_int_equal(size, 8 + header + (12 + 5 + 2) * 4);

    int kinds[3] = {0, 0, 0};
    for (size_t n = 0; n < size; n++) {
        write_prefix(bytes, n);
        lt_safetensors *st = lt_safetensors_load(ctx, cut);
        if (st)
            fail_msg("a file cut to %zu of %zu bytes loaded", n, size);
        const char *msg = lt_error_message(ctx);
        char want[256];
        if (n < 8)
            snprintf(want, sizeof want, "safetensors: %s: file is %zu bytes, too short for the 8-byte header length",
                     cut, n);
        else if (n < 8 + header && header > n)
            snprintf(want, sizeof want, "safetensors: %s: header length %llu exceeds file size %zu", cut,
                     (unsigned long long)header, n);
        else if (n < 8 + header)
            snprintf(want, sizeof want,
                     "safetensors: %s: header length %llu exceeds file size %zu minus the 8-byte length field", cut,
                     (unsigned long long)header, n);
        else
            snprintf(want, sizeof want, "lie outside the %llu bytes of data", (unsigned long long)(n - 8 - header));
        kinds[n < 8 ? 0 : n < 8 + header ? 1 : 2]++;
        if (lt_status_of(ctx) != LT_ERR_FORMAT || !strstr(msg, want) || !strstr(msg, cut))
            fail_msg("cut to %zu bytes: status '%s', \"%s\"; want \"%s\"", n, lt_status_name(lt_status_of(ctx)), msg,
                     want);
        if (n == 4 || n == 8 + header / 2 || n == size - 1)
            printf("  cut to %4zu of %zu bytes: %s\n", n, size, msg);
        lt_clear_error(ctx);
    }
    printf("  %d cuts inside the length field, %d inside the header, %d inside the data: all rejected\n", kinds[0],
           kinds[1], kinds[2]);

    /* the whole file loads; one byte more does not */
    lt_safetensors *st = lt_safetensors_load(ctx, path);
    assert_non_null(st);
    lt_safetensors_free(st);
    unsigned char *longer = malloc(size + 1);
    assert_non_null(longer);
    memcpy(longer, bytes, size);
    longer[size] = 0;
    write_prefix(longer, size + 1);
    assert_null(lt_safetensors_load(ctx, cut));
    char want[128];
    snprintf(want, sizeof want, "data bytes %zu..%zu are not covered by any tensor", size - 8 - (size_t)header,
             size + 1 - 8 - (size_t)header);
    ts_assert_error(ctx, LT_ERR_FORMAT, cut, want, NULL);
    free(longer);
    free(bytes);
    lt_ctx_free(ctx);
    unlink(path);
    unlink(cut);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
