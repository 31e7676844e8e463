/* fuzz_support.c - see fuzz_support.h. */
#define _POSIX_C_SOURCE 200809L /* mkstemp, ftruncate, pwrite */
#include "fuzz_support.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void fuzz_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FUZZ INVARIANT BROKEN at %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static char scratch_path[512];
static int scratch_fd = -1;

static void remove_scratch(void)
{
    if (scratch_fd >= 0) {
        close(scratch_fd);
        unlink(scratch_path);
        scratch_fd = -1;
    }
}

const char *fuzz_scratch_file(const uint8_t *data, size_t size)
{
    if (scratch_fd < 0) {
        const char *dir = getenv("TMPDIR");
        snprintf(scratch_path, sizeof scratch_path, "%s/lt_fuzz_XXXXXX", dir && *dir ? dir : "/tmp");
        if ((scratch_fd = mkstemp(scratch_path)) < 0)
            return NULL;
        atexit(remove_scratch);
    }
    if (ftruncate(scratch_fd, 0) != 0)
        return NULL;
    for (size_t done = 0; done < size;) {
        ssize_t w = pwrite(scratch_fd, data + done, size - done, (off_t)done);
        if (w <= 0)
            return NULL;
        done += (size_t)w;
    }
    return scratch_path;
}
