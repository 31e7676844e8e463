#define _DEFAULT_SOURCE /* mkdtemp, wait4 */
/* ts_programs.c - running the example programs on scratch data: see the
 * "programs" part of test_support.h. */
#include "test_support.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *const ts_names[TS_N_NAMES] = {
    "emma",   "olivia",   "ava",      "isabella", "sophia",   "charlotte", "mia",      "amelia",
    "harper", "evelyn",   "abigail",  "emily",    "elizabeth", "mila",     "ella",     "avery",
    "sofia",  "camila",   "aria",     "scarlett", "victoria", "madison",   "luna",     "grace",
    "chloe",  "penelope", "layla",    "riley",    "zoey",     "nora",      "lily",     "eleanor",
    "hannah", "lillian",  "addison",  "aubrey",   "ellie",    "stella",    "natalie",  "zoe"};

const char *const ts_utf8_names[TS_N_UTF8_NAMES] = {
    "zoé",   "chloé", "renée",  "josé",  "maël",  "anaïs",  "björn", "søren", "ñuño",  "łucja", "ágnes", "çelik",
    "日本",  "李娜",  "王芳",   "张伟",  "さくら", "ゆい",   "иван",  "ольга", "mia",   "ava",   "emma",  "zoë"};

void ts_write_utf8_names(const char *dir, const char *name, int reps, int with_dot)
{
    FILE *f = fopen(ts_path(dir, name), "wb");
    assert_non_null(f);
    for (int r = 0; r < reps; r++) {
        for (int i = 0; i < TS_N_UTF8_NAMES; i++)
            fprintf(f, "%s\n", ts_utf8_names[i]);
        if (with_dot)
            fprintf(f, "%s\n", TS_UTF8_DOT_NAME);
    }
    assert_int_equal(fclose(f), 0);
}

/* The length of the UTF-8 character at s (1..4), or 0 when it is not one. */
static int utf8_char_len(const unsigned char *s)
{
    int n = s[0] < 0x80 ? 1 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
          : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

/* Whether the character c (n bytes) is one of the names' characters or '.'. */
static bool known_char(const char *c, int n)
{
    char one[8] = "";
    memcpy(one, c, (size_t)n);
    if (!strcmp(one, ".") || strstr(TS_UTF8_DOT_NAME, one))
        return true;
    for (int i = 0; i < TS_N_UTF8_NAMES; i++)
        if (strstr(ts_utf8_names[i], one))
            return true;
    return false;
}

int ts_check_utf8_samples(const char *out, const char *prefix, const char *stop, int lines)
{
    int seen = 0, stopped = 0;
    size_t stop_len = strlen(stop);
    for (const char *line = out; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : line + strlen(line)) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (*prefix ? strncmp(line, prefix, strlen(prefix)) != 0 : memchr(line, ':', len) != NULL)
            continue; /* not a sample (the summary lines have a ':') */
        const char *p = line + strlen(prefix), *end = line + len;
        if (end - p >= (long)stop_len && !memcmp(end - stop_len, stop, stop_len)) {
            end -= stop_len;
            stopped++;
        }
        for (int n; p < end; p += n) {
            n = utf8_char_len((const unsigned char *)p);
            if (n == 0 || p + n > end || !known_char(p, n))
                fail_msg("sample \"%.*s\": byte %ld is not a character of the data", (int)len, line, (long)(p - line));
        }
        seen++;
    }
    assert_int_equal(seen, lines);
    return stopped;
}

int ts_make_dir(char dir[TS_DIR_SIZE], const char *prefix)
{
    if (snprintf(dir, TS_DIR_SIZE, "/tmp/%s_XXXXXX", prefix) >= TS_DIR_SIZE)
        return -1;
    return mkdtemp(dir) ? 0 : -1;
}

int ts_remove_dir(const char *dir)
{
    char cmd[TS_DIR_SIZE + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

const char *ts_path(const char *dir, const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) & 3;
    if (snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name) >= (int)sizeof buf[k])
        fail_msg("ts_path: '%s/%s' is too long", dir, name);
    return buf[k];
}

void ts_write_text(const char *dir, const char *name, const char *text)
{
    FILE *f = fopen(ts_path(dir, name), "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

size_t ts_read_text(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, size - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    return n;
}

int ts_run_capture(const char *dir, const char *bin, const char *args, char *out, size_t out_size, char *err,
                   size_t err_size)
{
    char cmd[8192];
    if (snprintf(cmd, sizeof cmd, "cd %s && %s %s >out.txt 2>err.txt", dir, bin, args) >= (int)sizeof cmd)
        fail_msg("ts_run_capture: command line too long: %s %s", bin, args);
    int st = system(cmd);
    ts_read_text(ts_path(dir, "out.txt"), out, out_size);
    ts_read_text(ts_path(dir, "err.txt"), err, err_size);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The child: dir, stdin from /dev/null, stdout and stderr to dir/out.txt and
 * dir/err.txt, then argv. */
static void exec_captured(const char *dir, char *const argv[])
{
    int in = open("/dev/null", O_RDONLY);
    if (chdir(dir) != 0 || in < 0 || !freopen("out.txt", "w", stdout) || !freopen("err.txt", "w", stderr))
        _exit(126);
    dup2(in, 0);
    close(in);
    execv(argv[0], argv);
    fprintf(stderr, "ts_run_argv: cannot run %s\n", argv[0]);
    _exit(127);
}

ts_run ts_run_argv(const char *dir, char *const argv[], double timeout, char *out, size_t out_size, char *err,
                   size_t err_size)
{
    ts_run r = {.status = -1};
    double start = now();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        exec_captured(dir, argv);
    assert_true(pid > 0);
    int st = 0;
    struct rusage ru;
    pid_t done;
    while ((done = wait4(pid, &st, WNOHANG, &ru)) == 0) {
        if (now() - start > timeout) {
            kill(pid, SIGKILL);
            r.timed_out = true;
            done = wait4(pid, &st, 0, &ru);
            break;
        }
        struct timespec pause = {0, 5000000}; /* 5 ms */
        nanosleep(&pause, NULL);
    }
    assert_int_equal(done, pid);
    r.seconds = now() - start;
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.max_rss_kb = ru.ru_maxrss;
    ts_read_text(ts_path(dir, "out.txt"), out, out_size);
    ts_read_text(ts_path(dir, "err.txt"), err, err_size);
    return r;
}

/* The value of key after the edit e, or src's. */
static const char *edited_meta(const lt_safetensors *st, const char *key, const ts_edit *e)
{
    for (int i = 0; e->meta[i] && e->meta[i + 1]; i += 2)
        if (!strcmp(e->meta[i], key))
            return e->meta[i + 1];
    return lt_safetensors_meta(st, key);
}

void ts_edit_checkpoint(const char *dir, const char *src, const char *dst, const char *const *keys, int n_keys,
                        const ts_edit *e)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_safetensors *st = lt_safetensors_load(ctx, ts_path(dir, src));
    assert_non_null(st);
    int n = lt_safetensors_count(st);
    lt_named_tensor t[128];
    const char *meta[64];
    assert_true(n <= 128 && n_keys <= 32);
    for (int i = 0; i < n; i++) {
        const char *dtype, *name = lt_safetensors_name(st, i);
        lt_shape shape;
        assert_true(lt_safetensors_info(st, i, &dtype, &shape));
        lt_tensor *x = lt_new(ctx, LT_F32, shape);
        assert_true(lt_safetensors_read(ctx, st, name, x));
        for (int64_t k = 0; e->tensor && !strcmp(name, e->tensor) && k < lt_numel(x); k++)
            if (e->element < 0 || k == e->element)
                lt_data_f32(x)[k] = e->value;
        t[i] = (lt_named_tensor){name, x};
    }
    for (int k = 0; k < n_keys; k++) {
        meta[2 * k] = keys[k];
        meta[2 * k + 1] = edited_meta(st, keys[k], e);
        assert_non_null(meta[2 * k + 1]);
    }
    assert_true(lt_safetensors_save(ctx, ts_path(dir, dst), t, n, meta, n_keys));
    lt_safetensors_free(st);
    lt_ctx_free(ctx);
}
