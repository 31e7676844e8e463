/* files.c - see files.h. */
#define _XOPEN_SOURCE 700 /* lstat, readlink, realpath(path, NULL) */

#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LINK_HOPS 40 /* as Linux's limit on symbolic links in one lookup */
#define READ_CHUNK (1u << 20)

/* One message into err (a bounded, possibly truncated line); returns false
 * so that a check can `return say(...)`. */
static bool say(char *err, size_t size, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static bool say(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return false;
}

/* What a file that is not a regular file is, for messages. */
static const char *kind_of(mode_t m)
{
    return S_ISDIR(m)    ? "a directory"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISSOCK(m) ? "a socket"
           : S_ISLNK(m)  ? "a symbolic link"
                         : "of an unknown kind";
}

/* ---- resolving paths -------------------------------------------------------------- */

/* Follows symbolic links in path's last component to the file they name
 * (which need not exist): out is that file's path. False + message on a
 * loop or a path longer than EX_PATH_SIZE. */
static bool resolve_links(const char *path, char *out, char *err, size_t size)
{
    if (strlen(path) >= EX_PATH_SIZE)
        return say(err, size, "%s: the path is too long", path);
    strcpy(out, path);
    for (int hop = 0; hop < MAX_LINK_HOPS; hop++) {
        struct stat st;
        if (lstat(out, &st) != 0 || !S_ISLNK(st.st_mode))
            return true; /* not a link (or nothing there yet) */
        char link[EX_PATH_SIZE];
        ssize_t k = readlink(out, link, sizeof link - 1);
        if (k < 0)
            return say(err, size, "%s: cannot read the symbolic link: %s", out, strerror(errno));
        link[k] = '\0';
        const char *slash = strrchr(out, '/');
        size_t keep = link[0] == '/' || !slash ? 0 : (size_t)(slash - out) + 1; /* a relative link: beside out */
        if (keep + (size_t)k >= EX_PATH_SIZE)
            return say(err, size, "%s: the path is too long", path);
        memcpy(out + keep, link, (size_t)k + 1);
    }
    return say(err, size, "%s: %s", path, strerror(ELOOP));
}

/* Where a file that does not exist yet would be created: its directory,
 * resolved (realpath), and its name. False + message when the directory
 * cannot be resolved or the path names a directory. */
static bool future_place(const char *path, char *out, char *err, size_t size)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char dir[EX_PATH_SIZE];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash == path ? 1 : slash - path) : 1, slash ? path : ".");
    if (!*base)
        return say(err, size, "%s: names a directory, not a file", path);
    char *real = realpath(dir, NULL);
    if (!real)
        return say(err, size, "%s: cannot write there: %s: %s", path, dir, strerror(errno));
    bool fits = (size_t)snprintf(out, EX_PATH_SIZE, "%s/%s", strcmp(real, "/") ? real : "", base) < EX_PATH_SIZE;
    free(real);
    if (!fits)
        say(err, size, "%s: the path is too long", path);
    return fits;
}

/* ---- the command line's files -------------------------------------------------------- */

/* What identifies a file: its device and inode when it exists, else the
 * place it would be created at. */
typedef struct file_id {
    enum { ID_NONE, ID_EXISTS, ID_FUTURE } kind;
    dev_t dev;
    ino_t ino;
    char place[EX_PATH_SIZE];
} file_id;

static bool same_file(const file_id *a, const file_id *b)
{
    if (a->kind != b->kind || a->kind == ID_NONE)
        return false;
    return a->kind == ID_EXISTS ? a->dev == b->dev && a->ino == b->ino : !strcmp(a->place, b->place);
}

/* Identifies f's file and checks what its use needs; false + message (the
 * flag first) when it cannot be used. */
static bool identify(const ex_file *f, file_id *id, char *err, size_t size)
{
    char msg[EX_FILE_ERR_SIZE], target[EX_PATH_SIZE];
    struct stat st;
    id->kind = ID_NONE;
    if (!*f->path)
        return say(err, size, "%s: the path is empty", f->flag);
    if (stat(f->path, &st) == 0) {
        id->kind = ID_EXISTS;
        id->dev = st.st_dev;
        id->ino = st.st_ino;
        if (S_ISREG(st.st_mode) || f->use == EX_INPUT)
            return true; /* a directory given as data is reported by its read */
        return say(err, size, "%s %s: not a regular file (%s)%s", f->flag, f->path, kind_of(st.st_mode),
                   f->use == EX_OUTPUT ? "; outputs are written only to regular files or new paths" : "");
    }
    if (f->use != EX_OUTPUT)
        return true; /* a missing input: its open says so */
    if (errno != ENOENT)
        return say(err, size, "%s %s: cannot write there: %s", f->flag, f->path, strerror(errno));
    if (!resolve_links(f->path, target, msg, sizeof msg) || !future_place(target, id->place, msg, sizeof msg))
        return say(err, size, "%s %s", f->flag, msg);
    id->kind = ID_FUTURE;
    return true;
}

bool ex_files_problem(const ex_file *files, int n, char *why, size_t size)
{
    file_id *ids = calloc((size_t)(n > 0 ? n : 1), sizeof *ids);
    if (!ids) {
        say(why, size, "out of memory");
        return true;
    }
    bool problem = false;
    for (int i = 0; i < n && !problem; i++)
        problem = files[i].path && !identify(&files[i], &ids[i], why, size);
    for (int j = 1; j < n && !problem; j++)
        for (int i = 0; i < j && !problem; i++) {
            const ex_file *a = &files[j], *b = &files[i];
            if ((a->use != EX_OUTPUT && b->use != EX_OUTPUT) || !same_file(&ids[i], &ids[j]))
                continue;
            if (a->use != EX_OUTPUT) { /* name the output first: it is what would be lost */
                a = &files[i];
                b = &files[j];
            }
            if (b->use != EX_OUTPUT && a->updates && !strcmp(a->updates, b->flag))
                continue; /* declared: --save over --load */
            say(why, size, "%s %s is the same file as %s %s", a->flag, a->path, b->flag, b->path);
            problem = true;
        }
    free(ids);
    return problem;
}

bool ex_files_check(const char *prog, const ex_file *files, int n)
{
    char why[EX_FILE_ERR_SIZE];
    if (!ex_files_problem(files, n, why, sizeof why))
        return true;
    fprintf(stderr, "%s: %s\n", prog, why);
    return false;
}

/* ---- inputs ------------------------------------------------------------------------ */

int ex_open_input(const char *path, bool regular_only, struct stat *st, char *err, size_t size)
{
    struct stat own;
    st = st ? st : &own;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC); /* a FIFO with no writer: no wait */
    if (fd < 0) {
        int e = errno;
        say(err, size, "%s: cannot open: %s", path, strerror(e));
        errno = e; /* the caller may look (names.txt missing) */
        return -1;
    }
    int flags = fcntl(fd, F_GETFL);
    if (fstat(fd, st) != 0)
        say(err, size, "%s: cannot stat: %s", path, strerror(errno));
    else if (regular_only && !S_ISREG(st->st_mode))
        say(err, size, "%s: not a regular file (%s)", path, kind_of(st->st_mode));
    else if (S_ISDIR(st->st_mode))
        say(err, size, "%s: read error: %s", path, strerror(EISDIR));
    else if (flags == -1 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
        say(err, size, "%s: cannot open: %s", path, strerror(errno));
    else
        return fd;
    close(fd);
    return -1;
}

/* The message of an input over max_bytes; returns false. */
static bool too_big(const char *path, size_t max_bytes, char *err, size_t size)
{
    if (max_bytes % (1u << 20) == 0)
        return say(err, size, "%s: more than %zu MiB of data (the limit of %s; raise it to read a larger file)", path,
                   max_bytes >> 20, EX_MAX_DATA_FLAG);
    return say(err, size, "%s: more than %zu bytes of data (the limit of %s; raise it to read a larger file)", path,
               max_bytes, EX_MAX_DATA_FLAG);
}

/* Reads fd to its end into *buf (capacity *cap, grown up to max_bytes + 1
 * so that one byte too many is seen), checking each chunk; *n bytes read. */
static bool read_chunks(int fd, const char *path, size_t max_bytes, ex_chunk_check check, void *user, char **buf,
                        size_t *cap, size_t *n, char *err, size_t size)
{
    for (;;) {
        if (*n == *cap) {
            size_t grown = *cap > (max_bytes + 1) / 2 ? max_bytes + 1 : 2 * *cap;
            char *p = realloc(*buf, grown + 1);
            if (!p)
                return say(err, size, "%s: out of memory", path);
            *buf = p;
            *cap = grown;
        }
        size_t want = *cap - *n < READ_CHUNK ? *cap - *n : READ_CHUNK;
        ssize_t got = read(fd, *buf + *n, want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return say(err, size, "%s: read error: %s", path, strerror(errno));
        if (got == 0)
            return !check || check(user, NULL, 0, err, size);
        if (*n + (size_t)got > max_bytes)
            return too_big(path, max_bytes, err, size);
        if (check && !check(user, *buf + *n, (size_t)got, err, size))
            return false;
        *n += (size_t)got;
    }
}

char *ex_read_input(const char *path, size_t max_bytes, ex_chunk_check check, void *user, size_t *len, char *err,
                    size_t size)
{
    struct stat st;
    int fd = ex_open_input(path, false, &st, err, size);
    if (fd < 0)
        return NULL;
    size_t cap = 1u << 16; /* a pipe or a device: grown as it gives more */
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max_bytes) {
        too_big(path, max_bytes, err, size);
        close(fd);
        return NULL;
    }
    if (S_ISREG(st.st_mode))
        cap = (size_t)st.st_size + 1; /* one more: the end is seen without growing */
    size_t n = 0;
    char *buf = malloc(cap + 1);
    bool ok = buf != NULL;
    if (!ok)
        say(err, size, "%s: out of memory", path);
    ok = ok && read_chunks(fd, path, max_bytes, check, user, &buf, &cap, &n, err, size);
    close(fd);
    if (!ok) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* ---- outputs ----------------------------------------------------------------------- */

FILE *ex_open_output(const char *path, char *err, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0666);
    if (fd < 0) {
        if (errno == ENXIO) /* O_NONBLOCK: a FIFO nobody reads */
            say(err, size, "%s: not a regular file (a FIFO)", path);
        else
            say(err, size, "%s: cannot open for writing: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    int flags = fcntl(fd, F_GETFL);
    FILE *f = NULL;
    if (fstat(fd, &st) != 0)
        say(err, size, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        say(err, size, "%s: not a regular file (%s); outputs are written only to regular files or new paths", path,
            kind_of(st.st_mode));
    else if (ftruncate(fd, 0) != 0 || flags == -1 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
        say(err, size, "%s: cannot write: %s", path, strerror(errno));
    else if (!(f = fdopen(fd, "w")))
        say(err, size, "%s: cannot write: %s", path, strerror(errno));
    if (!f)
        close(fd);
    return f;
}

bool ex_replace_begin(const char *path, ex_replace *r, char *err, size_t size)
{
    *r = (ex_replace){0};
    struct stat st;
    if (!resolve_links(path, r->target, err, size))
        return false;
    r->existed = stat(r->target, &st) == 0;
    if (!r->existed && errno != ENOENT)
        return say(err, size, "%s: cannot write there: %s", path, strerror(errno));
    if (r->existed && !S_ISREG(st.st_mode))
        return say(err, size, "%s: not a regular file (%s); outputs are written only to regular files or new paths",
                   path, kind_of(st.st_mode));
    r->mode = r->existed ? st.st_mode & 07777 : 0;
    r->umask = umask(0);
    umask(r->existed ? r->umask | (~r->mode & 0777) : r->umask);
    return true;
}

bool ex_replace_end(ex_replace *r, bool written, char *err, size_t size)
{
    umask(r->umask);
    if (!written || !r->existed || chmod(r->target, r->mode) == 0)
        return true;
    say(err, size, "%s: written, but its permissions (%04o) could not be restored: %s", r->target, (unsigned)r->mode,
        strerror(errno));
    return false;
}
