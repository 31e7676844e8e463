/* fuzz_safetensors.c - the checkpoint loader (lib/io/safetensors.c) on arbitrary
 * file contents. A file is either rejected with an error naming it, or it
 * loads and every tensor it lists can be read into a tensor of its dtype and
 * shape (contiguous and through a transposed view, with the same values),
 * and reading it into a wrong shape is a format error. */
#include "fuzz_support.h"
#include "libtensor.h"

#include <string.h>

/* Element i of a and b has the same bits (NaN payloads included). */
static bool same_element(const lt_tensor *a, const lt_tensor *b, int64_t i)
{
    if (a->dtype == LT_I32)
        return lt_get_i32(a, i) == lt_get_i32(b, i);
    float x = lt_get_f32(a, i), y = lt_get_f32(b, i);
    return memcmp(&x, &y, sizeof x) == 0;
}

/* Reads tensor name into a fresh tensor of its shape, then into the
 * transpose of a tensor of the swapped shape: the elements must agree. */
static void check_read(lt_ctx *ctx, const lt_safetensors *st, const char *name, lt_dtype dt, lt_shape shape)
{
    lt_tensor *a = lt_new(ctx, dt, shape);
    FUZZ_CHECK(a != NULL, "lt_new for tensor '%s' failed: %s", name, lt_error_message(ctx));
    FUZZ_CHECK(lt_safetensors_read(ctx, st, name, a), "reading '%s' failed: %s", name, lt_error_message(ctx));
    if (shape.ndim >= 2) {
        lt_shape swapped = shape;
        swapped.d[0] = shape.d[1];
        swapped.d[1] = shape.d[0];
        lt_tensor *b = lt_new(ctx, dt, swapped);
        lt_tensor *bt = lt_transpose(ctx, b, 0, 1);
        FUZZ_CHECK(bt && lt_safetensors_read(ctx, st, name, bt), "strided read of '%s' failed: %s", name,
                   lt_error_message(ctx));
        for (int64_t i = 0; i < lt_numel(a); i++) {
            FUZZ_CHECK(same_element(a, bt, i), "tensor '%s' element %lld differs between a dense and a strided read", name,
                       (long long)i);
        }
        lt_ctx_reset(ctx);
        lt_free(b);
    }
    /* one more element than the file has: a format error naming both shapes */
    lt_shape wrong = shape.ndim ? shape : (lt_shape){1, {1}};
    wrong.d[0] += shape.ndim ? 1 : 0;
    lt_tensor *c = lt_new(ctx, dt, wrong);
    FUZZ_CHECK(c && !lt_safetensors_read(ctx, st, name, c) && lt_status_of(ctx) == LT_ERR_FORMAT &&
                   strstr(lt_error_message(ctx), "has shape"),
               "reading '%s' into a wrong shape: status %d '%s'", name, (int)lt_status_of(ctx), lt_error_message(ctx));
    lt_clear_error(ctx);
    lt_free(c);
    lt_free(a);
}

int fuzz_safetensors(const uint8_t *data, size_t size)
{
    const char *path = fuzz_scratch_file(data, size);
    lt_ctx *ctx = path ? lt_ctx_new() : NULL;
    if (!ctx)
        return 0;
    lt_safetensors *st = lt_safetensors_load(ctx, path);
    if (!st) {
        lt_status s = lt_status_of(ctx);
        FUZZ_CHECK(s == LT_ERR_FORMAT || s == LT_ERR_IO, "load failed with status %d: '%s'", (int)s,
                   lt_error_message(ctx));
        FUZZ_CHECK(strstr(lt_error_message(ctx), path) != NULL, "message does not name the file: '%s'",
                   lt_error_message(ctx));
        lt_ctx_free(ctx);
        return 0;
    }
    FUZZ_CHECK(lt_status_of(ctx) == LT_OK, "load succeeded with an error set");
    int n = lt_safetensors_count(st);
    FUZZ_CHECK(lt_safetensors_name(st, n) == NULL && lt_safetensors_name(st, -1) == NULL, "name out of range");
    (void)lt_safetensors_meta(st, "format");
    for (int i = 0; i < n; i++) {
        const char *name = lt_safetensors_name(st, i), *dtype = NULL;
        lt_shape shape;
        FUZZ_CHECK(name && lt_safetensors_info(st, i, &dtype, &shape), "tensor %d has no name or info", i);
        FUZZ_CHECK(shape.ndim >= 0 && shape.ndim <= LT_MAX_DIMS, "tensor '%s' has rank %d", name, shape.ndim);
        int64_t numel = 1;
        for (int d = 0; d < shape.ndim; d++) {
            FUZZ_CHECK(shape.d[d] >= 0, "tensor '%s' has a negative size", name);
            numel *= shape.d[d];
        }
        bool f32 = strcmp(dtype, "F32") == 0, i32 = strcmp(dtype, "I32") == 0;
        if ((f32 || i32) && numel <= (1 << 20))
            check_read(ctx, st, name, f32 ? LT_F32 : LT_I32, shape);
        else if (!f32 && !i32) { /* another safetensors dtype: loads, but cannot be read */
            lt_tensor *t = lt_new(ctx, LT_F32, (lt_shape){1, {1}});
            FUZZ_CHECK(t && !lt_safetensors_read(ctx, st, name, t) && lt_status_of(ctx) == LT_ERR_FORMAT,
                       "reading a %s tensor into F32 did not fail", dtype);
            lt_clear_error(ctx);
            lt_free(t);
        }
    }
    lt_safetensors_free(st);
    lt_ctx_free(ctx);
    return 0;
}

FUZZ_ENTRY(fuzz_safetensors)
