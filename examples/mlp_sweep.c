/* mlp_sweep.c - hyperparameter search over mlp_names.
 *
 *   mlp_sweep --space FILE --out DIR [-j N] [--mode grid|random] [--trials N]
 *             [--seed N] [--mlp-names PATH] [-- FLAGS FOR EVERY TRIAL...]
 *
 * --mlp-names defaults to the mlp_names beside this program.
 *
 * The space file declares one mlp_names flag per line with its candidates:
 *
 *   --lr 0.05 0.1 0.2          a list (grid: every value; random: one of them)
 *   --lr ~log 0.02 0.5         random only: log-uniform in [lo, hi]
 *   --emb ~int 8 32            random only: an integer in [lo, hi]
 *   --lr-final ~uniform 0 0.01 random only: uniform in [lo, hi]
 *
 * Each trial is one mlp_names process (up to N at a time) trained on the
 * train split and scored on dev only (--no-test). A finished trial is
 * appended at once to DIR/trials.csv, so an interrupt loses only the running
 * trials, and a re-run skips every trial already there (the trial list is a
 * function of the space, mode and seed). At the end DIR/results.csv and
 * DIR/results.md hold every trial sorted by dev loss, and the best one is
 * printed as a ready mlp_names command line.
 *
 * Every trial's command is an argument vector (no joined strings, no
 * length limit); a sweep has at most MAX_TRIALS trials, and a larger grid
 * (or --trials) is refused with that number. */
#define _POSIX_C_SOURCE 200809L

#include "cli_args.h"
#include "files.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#define MAX_DIMS 16
#define MAX_VALUES 32
#define VALUE_SIZE 32
/* The most trials of one sweep, grid or random: each is a training run, so
 * more would take months even at a few seconds a trial. */
#define MAX_TRIALS 100000L
#define SPACE_MAX_BYTES (1u << 20) /* a space file: 16 flags of 32 values fit in a few KiB */

typedef enum { DIM_LIST, DIM_LOG, DIM_UNIFORM, DIM_INT } dim_kind;

typedef struct dim {
    char flag[48];
    dim_kind kind;
    int n;                          /* DIM_LIST */
    char values[MAX_VALUES][VALUE_SIZE];
    double lo, hi;                  /* ranges */
} dim;

typedef struct trial {
    const char *value[MAX_DIMS]; /* each flag's value: into the dims (grid) or into drawn */
    char *drawn;                 /* random: the drawn values (owned), else NULL */
    char *args;                  /* "--lr 0.1 --hidden 8": its identity in trials.csv and file names */
    double dev, train, seconds;
    long long params;
    bool done, failed;
    pid_t pid;
} trial;

typedef struct sweep {
    const char *space, *out, *bin;
    char bin_buf[1024];
    bool bin_given;
    bool random;
    int jobs;
    long n_trials_wanted;
    unsigned long long seed;
    int n_fixed;
    char **fixed;                   /* flags after "--" */
    dim dims[MAX_DIMS];
    int n_dims;
    trial *trials;
    long n_trials, cap_trials;
    long *index; /* open addressing on the args' hash: trial numbers, -1 = free */
    size_t index_mask;
} sweep;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) { interrupted = sig; }
static void on_child(int sig) { (void)sig; } /* only ends sigsuspend */

/* SIGINT, SIGTERM and SIGCHLD are blocked while trials run, except inside
 * sigsuspend (wait_child): a signal is then never lost between a test of
 * the flag and the wait. Trials start with the mask the sweep was given. */
static sigset_t mask_given, mask_waiting;

static void install_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal}, child = {.sa_handler = on_child};
    sigemptyset(&sa.sa_mask);
    sigemptyset(&child.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGCHLD, &child, NULL);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &mask_given);
    mask_waiting = mask_given;
    sigdelset(&mask_waiting, SIGINT);
    sigdelset(&mask_waiting, SIGTERM);
    sigdelset(&mask_waiting, SIGCHLD);
}

static int die(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "mlp_sweep: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return 2;
}

/* ---- the space --------------------------------------------------------------- */

static bool parse_range(dim *d, char *kind, char *lo, char *hi)
{
    d->kind = !strcmp(kind, "~log") ? DIM_LOG : !strcmp(kind, "~int") ? DIM_INT : DIM_UNIFORM;
    char *e1, *e2;
    d->lo = lo ? strtod(lo, &e1) : NAN;
    d->hi = hi ? strtod(hi, &e2) : NAN;
    return lo && hi && !*e1 && !*e2 && d->lo <= d->hi && (d->kind != DIM_LOG || d->lo > 0) &&
           (!strcmp(kind, "~log") || !strcmp(kind, "~int") || !strcmp(kind, "~uniform"));
}

/* False for a flag that names an output of mlp_names: in a sweep, every
 * trial would write (and -j N trials at once) the same file. */
static bool trial_flag_ok(const char *flag)
{
    static const char *const OUTPUTS[] = {"--save", "--log", "--result", "--plot-loss", "--plot-emb"};
    return cli_lookup(flag, OUTPUTS, (int)(sizeof OUTPUTS / sizeof *OUTPUTS)) < 0;
}

/* One line: "--flag v1 v2 ..." or "--flag ~kind lo hi". */
static bool parse_dim(sweep *s, char *line, int lineno)
{
    char *save = NULL, *flag = strtok_r(line, " \t\r\n", &save);
    if (!flag || *flag == '#')
        return true;
    if (s->n_dims == MAX_DIMS || strncmp(flag, "--", 2) != 0 || strlen(flag) >= sizeof s->dims[0].flag) {
        fprintf(stderr, "mlp_sweep: %s:%d: expected '--flag values...' (at most %d flags)\n", s->space, lineno,
                MAX_DIMS);
        return false;
    }
    if (!trial_flag_ok(flag)) {
        fprintf(stderr,
                "mlp_sweep: %s:%d: %s: every trial would write the same file (each trial gets its own "
                "--result; its output is in the logs)\n",
                s->space, lineno, flag);
        return false;
    }
    dim *d = &s->dims[s->n_dims++];
    *d = (dim){.kind = DIM_LIST};
    snprintf(d->flag, sizeof d->flag, "%s", flag);
    for (char *v = strtok_r(NULL, " \t\r\n", &save); v; v = strtok_r(NULL, " \t\r\n", &save)) {
        if (*v == '#')
            break;
        if (*v == '~' && d->n == 0) {
            char *lo = strtok_r(NULL, " \t\r\n", &save), *hi = strtok_r(NULL, " \t\r\n", &save);
            if (parse_range(d, v, lo, hi))
                return true;
            fprintf(stderr, "mlp_sweep: %s:%d: expected %s ~log|~uniform|~int LO HI (LO <= HI)\n", s->space,
                    lineno, flag);
            return false;
        }
        if (d->n == MAX_VALUES || strlen(v) >= sizeof d->values[0]) {
            fprintf(stderr, "mlp_sweep: %s:%d: at most %d values of under 32 characters\n", s->space, lineno,
                    MAX_VALUES);
            return false;
        }
        snprintf(d->values[d->n++], sizeof d->values[0], "%s", v);
    }
    if (d->n == 0) {
        fprintf(stderr, "mlp_sweep: %s:%d: %s has no values\n", s->space, lineno, flag);
        return false;
    }
    return true;
}

static bool read_space(sweep *s)
{
    char err[EX_FILE_ERR_SIZE];
    size_t len;
    char *text = ex_read_input(s->space, SPACE_MAX_BYTES, NULL, NULL, &len, err, sizeof err); /* a FIFO: no wait */
    if (!text) {
        fprintf(stderr, "mlp_sweep: %s\n", err);
        return false;
    }
    bool ok = true;
    char *line = text;
    for (int n = 1; ok && line < text + len; n++) { /* lines of any length */
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        ok = parse_dim(s, line, n);
        line = end ? end + 1 : text + len;
    }
    free(text);
    if (ok && s->n_dims == 0) {
        fprintf(stderr, "mlp_sweep: %s: declares no flags\n", s->space);
        return false;
    }
    for (int i = 0; ok && i < s->n_dims; i++)
        if (!s->random && s->dims[i].kind != DIM_LIST) {
            fprintf(stderr, "mlp_sweep: %s: a range (%s) needs --mode random\n", s->space, s->dims[i].flag);
            return false;
        }
    return ok;
}

/* ---- the trials ---------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform01(uint64_t *x) { return (double)(splitmix(x) >> 11) * 0x1.0p-53; }

/* A random value of d, printed with 3 significant digits: readable command
 * lines, and nearby draws that are really the same trial coincide. */
static void draw(const dim *d, uint64_t *x, char *out, size_t size)
{
    double u = uniform01(x);
    switch (d->kind) {
    case DIM_LIST: snprintf(out, size, "%s", d->values[(int)(u * d->n) % d->n]); break;
    case DIM_INT: snprintf(out, size, "%ld", (long)floor(d->lo + u * (d->hi - d->lo + 1))); break;
    case DIM_LOG: snprintf(out, size, "%.3g", exp(log(d->lo) + u * (log(d->hi) - log(d->lo)))); break;
    case DIM_UNIFORM: snprintf(out, size, "%.3g", d->lo + u * (d->hi - d->lo)); break;
    }
}

/* FNV-1a of s: the trial's log file names and its slot in the index. */
static uint64_t hash_of(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *c = s; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ull;
    return h;
}

/* "--lr 0.1 --hidden 8" for values[0..n_dims-1], allocated (NULL when out
 * of memory). */
static char *join_args(const sweep *s, const char *const *values)
{
    size_t len = 1;
    for (int i = 0; i < s->n_dims; i++)
        len += strlen(s->dims[i].flag) + strlen(values[i]) + 2;
    char *args = malloc(len), *p = args;
    for (int i = 0; args && i < s->n_dims; i++)
        p += sprintf(p, "%s%s %s", i ? " " : "", s->dims[i].flag, values[i]); /* len counted above */
    if (args)
        *p = '\0';
    return args;
}

/* The trial whose args are args, or -1; *slot: where it is or would go. */
static long find_trial(const sweep *s, const char *args, size_t *slot)
{
    size_t k = (size_t)hash_of(args) & s->index_mask;
    for (; s->index[k] >= 0; k = (k + 1) & s->index_mask)
        if (!strcmp(s->trials[s->index[k]].args, args))
            break;
    *slot = k;
    return s->index[k];
}

/* Room for cap trials and their index (a power of two, at least twice cap). */
static bool reserve_trials(sweep *s, long cap)
{
    size_t slots = 2;
    while (slots < 2 * (size_t)cap)
        slots *= 2;
    s->trials = calloc((size_t)cap, sizeof *s->trials);
    s->index = malloc(slots * sizeof *s->index);
    if (!s->trials || !s->index)
        return false;
    for (size_t i = 0; i < slots; i++)
        s->index[i] = -1;
    s->index_mask = slots - 1;
    s->cap_trials = cap;
    return true;
}

/* Adds the trial of values (copied into drawn storage when copy); a
 * duplicate is skipped. False when out of memory or out of room. */
static bool add_trial(sweep *s, const char *const *values, bool copy)
{
    char *args = join_args(s, values);
    size_t slot;
    if (!args)
        return false;
    if (find_trial(s, args, &slot) >= 0 || s->n_trials == s->cap_trials) {
        bool duplicate = s->n_trials < s->cap_trials;
        free(args);
        return duplicate; /* a duplicate draw, or a repeated value in a list */
    }
    trial *t = &s->trials[s->n_trials];
    *t = (trial){.args = args, .dev = NAN, .train = NAN, .seconds = NAN};
    if (copy && !(t->drawn = malloc((size_t)s->n_dims * VALUE_SIZE))) {
        free(args);
        return false;
    }
    for (int i = 0; i < s->n_dims; i++) {
        if (copy)
            snprintf(t->drawn + i * VALUE_SIZE, VALUE_SIZE, "%s", values[i]);
        t->value[i] = copy ? t->drawn + i * VALUE_SIZE : values[i];
    }
    s->index[slot] = s->n_trials++;
    return true;
}

/* The number of grid points, or -1 (with the message printed) when it is
 * over MAX_TRIALS; the product is never formed past the limit. */
static long grid_points(const sweep *s)
{
    long total = 1;
    double approx = 1; /* for the message: 32^16 overflows a long */
    bool over = false;
    for (int i = 0; i < s->n_dims; i++) {
        approx *= s->dims[i].n;
        over = over || total > MAX_TRIALS / s->dims[i].n;
        total = over ? total : total * s->dims[i].n;
    }
    if (!over && total <= MAX_TRIALS)
        return total;
    fprintf(stderr,
            "mlp_sweep: %s: the grid has %.0f points, over the limit of %ld trials (fewer values, or "
            "--mode random)\n",
            s->space, approx, MAX_TRIALS);
    return -1;
}

/* Grid: the product of the lists, the last flag varying fastest. */
static bool make_grid(sweep *s)
{
    long total = grid_points(s);
    if (total < 0)
        return false;
    if (!reserve_trials(s, total)) {
        fprintf(stderr, "mlp_sweep: out of memory\n");
        return false;
    }
    for (long k = 0; k < total; k++) {
        const char *values[MAX_DIMS];
        long rest = k;
        for (int i = s->n_dims - 1; i >= 0; i--) {
            values[i] = s->dims[i].values[rest % s->dims[i].n];
            rest /= s->dims[i].n;
        }
        if (!add_trial(s, values, false)) {
            fprintf(stderr, "mlp_sweep: out of memory\n");
            return false;
        }
    }
    return true;
}

static bool make_random(sweep *s)
{
    uint64_t x = s->seed;
    if (!reserve_trials(s, s->n_trials_wanted)) {
        fprintf(stderr, "mlp_sweep: out of memory\n");
        return false;
    }
    for (long k = 0; k < 50 * s->n_trials_wanted && s->n_trials < s->n_trials_wanted; k++) {
        char drawn[MAX_DIMS][VALUE_SIZE];
        const char *values[MAX_DIMS];
        for (int i = 0; i < s->n_dims; i++) {
            draw(&s->dims[i], &x, drawn[i], sizeof drawn[i]);
            values[i] = drawn[i];
        }
        if (!add_trial(s, values, true)) {
            fprintf(stderr, "mlp_sweep: out of memory\n");
            return false;
        }
    }
    return true;
}

static void free_trials(sweep *s)
{
    for (long i = 0; i < s->n_trials; i++) {
        free(s->trials[i].args);
        free(s->trials[i].drawn);
    }
    free(s->trials);
    free(s->index);
}

/* ---- files ----------------------------------------------------------------------- */

static const char *out_path(const sweep *s, const char *name)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) & 3;
    snprintf(buf[k], sizeof buf[k], "%s/%s", s->out, name);
    return buf[k];
}

/* A trial's file name stem: a hash of its flags, stable across runs. */
static const char *trial_file(const sweep *s, const trial *t, const char *ext)
{
    char name[64];
    snprintf(name, sizeof name, "logs/%016llx.%s", (unsigned long long)hash_of(t->args), ext);
    return out_path(s, name);
}

/* trials.csv rows: dev_loss,train_loss,seconds,params,status,"args" (any
 * length). */
static void load_done(sweep *s)
{
    FILE *f = fopen(out_path(s, "trials.csv"), "r");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0, slot;
    while (getline(&line, &cap, f) >= 0) {
        double dev, train, secs;
        long long params;
        char status[16];
        int at = 0;
        if (sscanf(line, "%lf,%lf,%lf,%lld,%15[a-z],\"%n", &dev, &train, &secs, &params, status, &at) < 5 || !at)
            continue; /* the header, or a torn last line */
        char *end = strrchr(line + at, '"');
        if (!end)
            continue;
        *end = '\0';
        long i = find_trial(s, line + at, &slot);
        if (i < 0 || s->trials[i].done)
            continue;
        trial *t = &s->trials[i];
        t->done = true;
        t->failed = strcmp(status, "ok") != 0;
        t->dev = dev;
        t->train = train;
        t->seconds = secs;
        t->params = params;
    }
    free(line);
    fclose(f);
}

static bool append_done(const sweep *s, const trial *t)
{
    const char *path = out_path(s, "trials.csv");
    bool fresh = access(path, F_OK) != 0;
    FILE *f = fopen(path, "a");
    if (!f)
        return false;
    if (fresh)
        fprintf(f, "dev_loss,train_loss,seconds,params,status,args\n");
    fprintf(f, "%.6f,%.6f,%.3f,%lld,%s,\"%s\"\n", t->dev, t->train, t->seconds, t->params,
            t->failed ? "failed" : "ok", t->args);
    return fclose(f) == 0;
}

/* Reads the --result file of a finished trial. */
static void read_result(const sweep *s, trial *t)
{
    FILE *f = fopen(trial_file(s, t, "result"), "r");
    char line[128];
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "dev_loss=%lf", &t->dev);
        sscanf(line, "train_loss=%lf", &t->train);
        sscanf(line, "seconds=%lf", &t->seconds);
        sscanf(line, "params=%lld", &t->params);
    }
    if (f)
        fclose(f);
    t->failed |= !isfinite(t->dev);
}

/* ---- running ---------------------------------------------------------------------- */

/* The trial's command: the program, the flags for every trial, the
 * trial's own flags, then the sweep's (dev only, its own --result), as one
 * argument vector: NULL-terminated, allocated (NULL when out of memory). */
static char **trial_argv(const sweep *s, const trial *t, const char *result)
{
    static const char *const TAIL[] = {"--no-test", "--eval-every", "0", "--samples", "0", "--quiet", "--result"};
    size_t n_tail = sizeof TAIL / sizeof *TAIL, n = 0;
    char **argv = malloc(sizeof *argv * (1 + (size_t)s->n_fixed + 2 * (size_t)s->n_dims + n_tail + 2));
    if (!argv)
        return NULL;
    argv[n++] = (char *)s->bin;
    for (int i = 0; i < s->n_fixed; i++)
        argv[n++] = s->fixed[i];
    for (int i = 0; i < s->n_dims; i++) {
        argv[n++] = (char *)s->dims[i].flag;
        argv[n++] = (char *)t->value[i];
    }
    for (size_t i = 0; i < n_tail; i++)
        argv[n++] = (char *)TAIL[i];
    argv[n++] = (char *)result;
    argv[n] = NULL;
    return argv;
}

static pid_t start_trial(const sweep *s, trial *t)
{
    const char *result = trial_file(s, t, "result"), *log = trial_file(s, t, "log");
    char **argv = trial_argv(s, t, result);
    if (!argv) {
        errno = ENOMEM;
        return -1;
    }
    unlink(result);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* the sweep's handlers would swallow a SIGTERM sent before the exec */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGCHLD, SIG_DFL);
        sigprocmask(SIG_SETMASK, &mask_given, NULL); /* exec keeps the mask */
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execvp(s->bin, argv); /* a name without '/' is looked up in PATH */
        fprintf(stderr, "mlp_sweep: cannot run %s: %s\n", s->bin, strerror(errno));
        _exit(127);
    }
    free(argv);
    return pid;
}

/* The running trial of pid (among running[0..n-1]), removed from the list. */
static trial *take_running(sweep *s, long *running, int *n, pid_t pid)
{
    for (int i = 0; i < *n; i++)
        if (s->trials[running[i]].pid == pid) {
            trial *t = &s->trials[running[i]];
            running[i] = running[--*n];
            return t;
        }
    return NULL;
}

static void finish(sweep *s, trial *t, int status, long *count, long todo)
{
    t->pid = 0;
    t->done = true;
    t->failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    read_result(s, t);
    if (!append_done(s, t))
        fprintf(stderr, "mlp_sweep: %s: cannot append: %s\n", out_path(s, "trials.csv"), strerror(errno));
    ++*count;
    if (t->failed)
        printf("[%ld/%ld] failed (see %s)  %s\n", *count, todo, trial_file(s, t, "log"), t->args);
    else
        printf("[%ld/%ld] dev %.4f  train %.4f  %6.1f s  %s\n", *count, todo, t->dev, t->train, t->seconds, t->args);
    fflush(stdout);
}

/* The next trial to end (its pid and status), or -1 once interrupted (a
 * signal pending before the call ends it at once). */
static pid_t wait_child(int *status)
{
    for (;;) {
        pid_t pid = waitpid(-1, status, WNOHANG);
        if (pid != 0)
            return pid; /* a trial, or -1: none left (or an error) */
        if (interrupted)
            return -1;
        sigsuspend(&mask_waiting); /* until a trial ends or a signal comes */
    }
}

/* Runs every trial not done yet, up to jobs at a time. After a signal it
 * stops the running trials (they are not recorded) and returns false. */
static bool run_trials(sweep *s)
{
    long todo = 0, count = 0, next = 0;
    long running[64]; /* trial numbers; jobs <= 64 */
    int n_running = 0;
    for (long i = 0; i < s->n_trials; i++)
        todo += !s->trials[i].done;
    printf("mlp_sweep: %ld trials, %ld done before, %ld to run, %d at a time\n", s->n_trials, s->n_trials - todo, todo,
           s->jobs);
    fflush(stdout);
    while (!interrupted && (n_running > 0 || next < s->n_trials)) {
        for (; !interrupted && n_running < s->jobs && next < s->n_trials; next++) {
            if (s->trials[next].done)
                continue;
            if ((s->trials[next].pid = start_trial(s, &s->trials[next])) < 0) {
                /* out of processes: stop as on a signal; a re-run retries the rest */
                fprintf(stderr, "mlp_sweep: cannot start a trial: %s\n", strerror(errno));
                interrupted = SIGTERM;
                break;
            }
            running[n_running++] = next;
        }
        if (n_running == 0)
            break;
        int status;
        pid_t pid = wait_child(&status);
        trial *t = pid > 0 ? take_running(s, running, &n_running, pid) : NULL;
        if (t)
            finish(s, t, status, &count, todo);
    }
    for (int i = 0; i < n_running; i++)
        kill(s->trials[running[i]].pid, SIGTERM);
    while (n_running > 0 && wait(NULL) > 0)
        n_running--;
    return !interrupted;
}

/* ---- the tables -------------------------------------------------------------------- */

static int by_dev(const void *a, const void *b)
{
    const trial *x = *(const trial *const *)a, *y = *(const trial *const *)b;
    double dx = x->failed ? INFINITY : x->dev, dy = y->failed ? INFINITY : y->dev;
    return (dx > dy) - (dx < dy);
}

/* arg as a shell word: as it is when it has only characters no shell
 * treats specially, else in single quotes. */
static void print_word(const char *arg)
{
    if (*arg &&
        strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789%+,-./:=@_") == strlen(arg)) {
        printf(" %s", arg);
        return;
    }
    printf(" '");
    for (const char *c = arg; *c; c++)
        *c == '\'' ? printf("'\\''") : putchar(*c);
    putchar('\'');
}

static void write_row(const sweep *s, FILE *csv, FILE *md, long rank, const trial *t)
{
    fprintf(csv, "%ld,%.6f,%.6f,%.3f,%lld", rank, t->failed ? NAN : t->dev, t->train, t->seconds, t->params);
    char dev[32] = "failed";
    if (!t->failed)
        snprintf(dev, sizeof dev, "%.4f", t->dev);
    fprintf(md, "| %ld | %s | %.4f | %.1f | %lld |", rank, dev, t->train, t->seconds, t->params);
    for (int d = 0; d < s->n_dims; d++) {
        fprintf(csv, ",%s", t->value[d]);
        fprintf(md, " %s |", t->value[d]);
    }
    fprintf(csv, ",\"%s\"\n", t->args);
    fprintf(md, "\n");
}

/* DIR/name rewritten in place (ex_open_output), or NULL after saying why. */
static FILE *open_table(const sweep *s, const char *name)
{
    char err[EX_FILE_ERR_SIZE];
    FILE *f = ex_open_output(out_path(s, name), err, sizeof err);
    if (!f)
        fprintf(stderr, "mlp_sweep: %s\n", err);
    return f;
}

static void write_tables(sweep *s)
{
    const trial **done = malloc(sizeof *done * (size_t)(s->n_trials ? s->n_trials : 1));
    long n = 0;
    for (long i = 0; done && i < s->n_trials; i++)
        if (s->trials[i].done)
            done[n++] = &s->trials[i];
    qsort(done, (size_t)n, sizeof *done, by_dev);
    FILE *csv = open_table(s, "results.csv"), *md = open_table(s, "results.md");
    if (done && csv && md) {
        fprintf(csv, "rank,dev_loss,train_loss,seconds,params");
        fprintf(md, "| rank | dev | train | s | params |");
        for (int d = 0; d < s->n_dims; d++) {
            fprintf(csv, ",%s", s->dims[d].flag + 2);
            fprintf(md, " %s |", s->dims[d].flag + 2);
        }
        fprintf(csv, ",args\n");
        fprintf(md, "\n|---:|---:|---:|---:|---:|");
        for (int d = 0; d < s->n_dims; d++)
            fprintf(md, "---|");
        fprintf(md, "\n");
        for (long i = 0; i < n; i++)
            write_row(s, csv, md, i + 1, done[i]);
    }
    if (csv)
        fclose(csv);
    if (md)
        fclose(md);
    printf("mlp_sweep: %ld trials in %s and %s\n", n, out_path(s, "results.csv"), out_path(s, "results.md"));
    if (n > 0 && !done[0]->failed) {
        printf("best: dev %.4f\n%s", done[0]->dev, s->bin);
        for (int i = 0; i < s->n_fixed; i++)
            print_word(s->fixed[i]);
        for (int d = 0; d < s->n_dims; d++) {
            print_word(s->dims[d].flag);
            print_word(done[0]->value[d]);
        }
        printf("\n");
    }
    free(done);
}

/* ---- main --------------------------------------------------------------------------- */

static const char USAGE[] =
    "usage: mlp_sweep --space FILE --out DIR [-j N] [--mode grid|random] [--trials N] [--seed N]\n"
    "                 [--mlp-names PATH] [-- FLAGS FOR EVERY TRIAL...]\n"
    "  --mlp-names defaults to the mlp_names beside this program (or in PATH).\n"
    "  The space file has one mlp_names flag per line: '--flag v1 v2 ...' (grid and random) or\n"
    "  '--flag ~log|~uniform|~int LO HI' (random). Trials are scored on dev only; finished ones\n"
    "  are kept in DIR/trials.csv and skipped when the sweep runs again.\n";

/* One "flag value" pair; false when the flag is unknown or the value bad. */
static bool parse_pair(sweep *s, const char *a, const char *v)
{
    long n;
    if (!strcmp(a, "--space"))
        s->space = v;
    else if (!strcmp(a, "--out"))
        s->out = v;
    else if (!strcmp(a, "--mlp-names")) {
        s->bin = v;
        s->bin_given = true;
    } else if (!strcmp(a, "--mode") && (!strcmp(v, "grid") || !strcmp(v, "random")))
        s->random = v[0] == 'r';
    else if (!strcmp(a, "-j") && cli_parse_long(v, 1, 64, &n))
        s->jobs = (int)n;
    else if (!strcmp(a, "--trials") && cli_parse_long(v, 1, MAX_TRIALS, &n))
        s->n_trials_wanted = n;
    else
        return !strcmp(a, "--seed") && cli_parse_seed(v, &s->seed);
    return true;
}

/* Returns 0 to run, 1 after --help, 2 on a usage error (message printed). */
static int parse_args(sweep *s, int argc, char **argv)
{
    *s = (sweep){.jobs = 1, .n_trials_wanted = 20, .seed = 1, .bin = "mlp_names"};
    for (int i = 1; i < argc; i += 2) { /* "flag value" pairs, until "--" */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--")) {
            s->fixed = argv + i + 1;
            s->n_fixed = argc - i - 1;
            for (int k = 0; k < s->n_fixed; k++)
                if (!trial_flag_ok(s->fixed[k]))
                    return die("-- %s: every trial would write the same file (each trial gets its own --result; "
                               "its output is in the logs)%s",
                               s->fixed[k], "");
            break;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(USAGE, stdout);
            return 1;
        }
        if (!v)
            return die("%s needs a value%s", a, "");
        if (!parse_pair(s, a, v))
            return die("%s %s: unknown flag or bad value (see --help)", a, v);
    }
    if (!s->bin_given) { /* the mlp_names built beside this program */
        const char *slash = strrchr(argv[0], '/');
        if (slash) {
            snprintf(s->bin_buf, sizeof s->bin_buf, "%.*s/mlp_names", (int)(slash - argv[0]), argv[0]);
            s->bin = s->bin_buf;
        }
    }
    if (!s->space || !s->out) {
        die("--space and --out are required%s%s", "", "");
        fputs(USAGE, stderr);
        return 2;
    }
    return 0;
}

/* The space file is never one of the tables (files.h); they are checked
 * only when --out exists (a new directory holds nothing to lose). */
static bool files_usable(const sweep *s)
{
    struct stat st;
    bool out = stat(s->out, &st) == 0 && S_ISDIR(st.st_mode);
    char trials[1024], csv[1024], md[1024];
    snprintf(trials, sizeof trials, "%s", out_path(s, "trials.csv"));
    snprintf(csv, sizeof csv, "%s", out_path(s, "results.csv"));
    snprintf(md, sizeof md, "%s", out_path(s, "results.md"));
    const ex_file files[] = {
        EX_IN("--space", s->space),
        EX_OUT("--out", out ? trials : NULL),
        EX_OUT("--out", out ? csv : NULL),
        EX_OUT("--out", out ? md : NULL),
    };
    return ex_files_check("mlp_sweep", files, (int)(sizeof files / sizeof *files));
}

int main(int argc, char **argv)
{
    sweep s;
    int r = parse_args(&s, argc, argv);
    if (r)
        return r == 1 ? 0 : 2;
    if (!read_space(&s) || !files_usable(&s))
        return 2;
    if ((mkdir(s.out, 0755) != 0 && errno != EEXIST) || (mkdir(out_path(&s, "logs"), 0755) != 0 && errno != EEXIST))
        return die("%s: cannot create: %s", s.out, strerror(errno));
    if (!(s.random ? make_random(&s) : make_grid(&s))) {
        free_trials(&s);
        return 2;
    }
    load_done(&s);
    install_signals();
    bool complete = run_trials(&s);
    sigprocmask(SIG_SETMASK, &mask_given, NULL);
    write_tables(&s);
    free_trials(&s);
    if (!complete)
        fprintf(stderr, "mlp_sweep: interrupted; finished trials are kept, run again to resume\n");
    return complete ? 0 : 130;
}
