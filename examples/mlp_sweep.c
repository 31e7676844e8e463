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
 * printed as a ready mlp_names command line. */
#define _POSIX_C_SOURCE 200809L

#include "cli_args.h"

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
#define MAX_TRIALS 4096
#define ARGS_LEN 512

typedef enum { DIM_LIST, DIM_LOG, DIM_UNIFORM, DIM_INT } dim_kind;

typedef struct dim {
    char flag[48];
    dim_kind kind;
    int n;                          /* DIM_LIST */
    char values[MAX_VALUES][32];
    double lo, hi;                  /* ranges */
} dim;

typedef struct trial {
    char args[ARGS_LEN];            /* the trial's own flags, its identity */
    char values[MAX_DIMS][32];
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
    int jobs, n_trials_wanted;
    unsigned long long seed;
    int n_fixed;
    char **fixed;                   /* flags after "--" */
    dim dims[MAX_DIMS];
    int n_dims;
    trial *trials;
    int n_trials;
} sweep;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) { interrupted = sig; }

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
    FILE *f = fopen(s->space, "r");
    if (!f) {
        fprintf(stderr, "mlp_sweep: %s: %s\n", s->space, strerror(errno));
        return false;
    }
    char line[1024];
    bool ok = true;
    for (int n = 1; ok && fgets(line, sizeof line, f); n++)
        ok = parse_dim(s, line, n);
    fclose(f);
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

static void join_args(const sweep *s, trial *t)
{
    size_t len = 0;
    t->args[0] = '\0';
    for (int i = 0; i < s->n_dims; i++)
        len += (size_t)snprintf(t->args + len, sizeof t->args - len, "%s%s %s", i ? " " : "", s->dims[i].flag,
                                t->values[i]);
}

static bool add_trial(sweep *s, trial *t)
{
    join_args(s, t);
    for (int i = 0; i < s->n_trials; i++)
        if (!strcmp(s->trials[i].args, t->args))
            return true; /* a duplicate draw */
    if (s->n_trials == MAX_TRIALS)
        return false;
    t->dev = t->train = t->seconds = NAN;
    s->trials[s->n_trials++] = *t;
    return true;
}

/* Grid: the product of the lists, the last flag varying fastest. */
static void make_grid(sweep *s)
{
    long total = 1;
    for (int i = 0; i < s->n_dims; i++)
        total *= s->dims[i].n;
    for (long k = 0; k < total && s->n_trials < MAX_TRIALS; k++) {
        trial t = {0};
        long rest = k;
        for (int i = s->n_dims - 1; i >= 0; i--) {
            snprintf(t.values[i], sizeof t.values[i], "%s", s->dims[i].values[rest % s->dims[i].n]);
            rest /= s->dims[i].n;
        }
        add_trial(s, &t);
    }
}

static void make_random(sweep *s)
{
    uint64_t x = s->seed;
    for (int k = 0; k < 50 * s->n_trials_wanted && s->n_trials < s->n_trials_wanted; k++) {
        trial t = {0};
        for (int i = 0; i < s->n_dims; i++)
            draw(&s->dims[i], &x, t.values[i], sizeof t.values[i]);
        if (!add_trial(s, &t))
            break;
    }
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
    uint64_t h = 1469598103934665603ull;
    for (const char *c = t->args; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ull;
    char name[64];
    snprintf(name, sizeof name, "logs/%016llx.%s", (unsigned long long)h, ext);
    return out_path(s, name);
}

/* trials.csv rows: dev_loss,train_loss,seconds,params,status,"args". */
static void load_done(sweep *s)
{
    FILE *f = fopen(out_path(s, "trials.csv"), "r");
    if (!f)
        return;
    char line[ARGS_LEN + 256];
    while (fgets(line, sizeof line, f)) {
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
        for (int i = 0; i < s->n_trials; i++) {
            trial *t = &s->trials[i];
            if (!t->done && !strcmp(t->args, line + at)) {
                t->done = true;
                t->failed = strcmp(status, "ok") != 0;
                t->dev = dev, t->train = train, t->seconds = secs, t->params = params;
            }
        }
    }
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

static pid_t start_trial(const sweep *s, trial *t)
{
    char buf[ARGS_LEN], *argv[256];
    int n = 0;
    argv[n++] = (char *)s->bin;
    for (int i = 0; i < s->n_fixed && n < 200; i++)
        argv[n++] = s->fixed[i];
    snprintf(buf, sizeof buf, "%s", t->args);
    for (char *save = NULL, *a = strtok_r(buf, " ", &save); a && n < 240; a = strtok_r(NULL, " ", &save))
        argv[n++] = a;
    const char *tail[] = {"--no-test", "--eval-every", "0", "--samples", "0", "--quiet", "--result",
                          trial_file(s, t, "result")};
    for (size_t i = 0; i < sizeof tail / sizeof *tail; i++)
        argv[n++] = (char *)tail[i];
    argv[n] = NULL;
    unlink(trial_file(s, t, "result"));
    const char *log = trial_file(s, t, "log");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
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
    return pid;
}

static trial *by_pid(sweep *s, pid_t pid)
{
    for (int i = 0; i < s->n_trials; i++)
        if (s->trials[i].pid == pid)
            return &s->trials[i];
    return NULL;
}

static void finish(sweep *s, trial *t, int status, int *count, int todo)
{
    t->pid = 0;
    t->done = true;
    t->failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    read_result(s, t);
    if (!append_done(s, t))
        fprintf(stderr, "mlp_sweep: %s: cannot append: %s\n", out_path(s, "trials.csv"), strerror(errno));
    ++*count;
    if (t->failed)
        printf("[%d/%d] failed (see %s)  %s\n", *count, todo, trial_file(s, t, "log"), t->args);
    else
        printf("[%d/%d] dev %.4f  train %.4f  %6.1f s  %s\n", *count, todo, t->dev, t->train, t->seconds, t->args);
    fflush(stdout);
}

/* Runs every trial not done yet, up to jobs at a time. After a signal it
 * stops the running trials (they are not recorded) and returns false. */
static bool run_trials(sweep *s)
{
    int todo = 0, count = 0, running = 0, next = 0;
    for (int i = 0; i < s->n_trials; i++)
        todo += !s->trials[i].done;
    printf("mlp_sweep: %d trials, %d done before, %d to run, %d at a time\n", s->n_trials, s->n_trials - todo, todo,
           s->jobs);
    fflush(stdout);
    while (!interrupted && (running > 0 || next < s->n_trials)) {
        for (; !interrupted && running < s->jobs && next < s->n_trials; next++) {
            if (s->trials[next].done)
                continue;
            if ((s->trials[next].pid = start_trial(s, &s->trials[next])) < 0) {
                /* out of processes: stop as on a signal; a re-run retries the rest */
                fprintf(stderr, "mlp_sweep: cannot start a trial: %s\n", strerror(errno));
                interrupted = SIGTERM;
                break;
            }
            running++;
        }
        if (running == 0)
            break;
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        trial *t = pid > 0 ? by_pid(s, pid) : NULL;
        if (t) {
            running--;
            finish(s, t, status, &count, todo);
        }
    }
    for (int i = 0; i < s->n_trials; i++)
        if (s->trials[i].pid > 0)
            kill(s->trials[i].pid, SIGTERM);
    while (running > 0 && wait(NULL) > 0)
        running--;
    return !interrupted;
}

/* ---- the tables -------------------------------------------------------------------- */

static int by_dev(const void *a, const void *b)
{
    const trial *x = a, *y = b;
    double dx = x->failed ? INFINITY : x->dev, dy = y->failed ? INFINITY : y->dev;
    return (dx > dy) - (dx < dy);
}

/* The value of flag in a trial's args ("" when absent). */
static const char *value_of(const trial *t, const char *flag, char *buf, size_t size)
{
    const char *p = t->args;
    size_t n = strlen(flag);
    buf[0] = '\0';
    while ((p = strstr(p, flag)) != NULL) {
        if ((p == t->args || p[-1] == ' ') && p[n] == ' ') {
            size_t len = strcspn(p + n + 1, " ");
            snprintf(buf, size, "%.*s", (int)(len < size ? len : size - 1), p + n + 1);
            break;
        }
        p += n;
    }
    return buf;
}

static void write_tables(sweep *s)
{
    trial *done = malloc(sizeof *done * (size_t)(s->n_trials ? s->n_trials : 1));
    int n = 0;
    for (int i = 0; i < s->n_trials; i++)
        if (s->trials[i].done)
            done[n++] = s->trials[i];
    qsort(done, (size_t)n, sizeof *done, by_dev);
    FILE *csv = fopen(out_path(s, "results.csv"), "w"), *md = fopen(out_path(s, "results.md"), "w");
    if (csv && md) {
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
        for (int i = 0; i < n; i++) {
            const trial *t = &done[i];
            char v[64];
            fprintf(csv, "%d,%.6f,%.6f,%.3f,%lld", i + 1, t->failed ? NAN : t->dev, t->train, t->seconds, t->params);
            char dev[32] = "failed";
            if (!t->failed)
                snprintf(dev, sizeof dev, "%.4f", t->dev);
            fprintf(md, "| %d | %s | %.4f | %.1f | %lld |", i + 1, dev, t->train, t->seconds, t->params);
            for (int d = 0; d < s->n_dims; d++) {
                value_of(t, s->dims[d].flag, v, sizeof v);
                fprintf(csv, ",%s", v);
                fprintf(md, " %s |", v);
            }
            fprintf(csv, ",\"%s\"\n", t->args);
            fprintf(md, "\n");
        }
    }
    if (csv)
        fclose(csv);
    if (md)
        fclose(md);
    printf("mlp_sweep: %d trials in %s and %s\n", n, out_path(s, "results.csv"), out_path(s, "results.md"));
    if (n > 0 && !done[0].failed) {
        printf("best: dev %.4f\n%s", done[0].dev, s->bin);
        for (int i = 0; i < s->n_fixed; i++)
            printf(" %s", s->fixed[i]);
        printf(" %s\n", done[0].args);
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
        s->n_trials_wanted = (int)n;
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

int main(int argc, char **argv)
{
    sweep s;
    int r = parse_args(&s, argc, argv);
    if (r)
        return r == 1 ? 0 : 2;
    if (!read_space(&s))
        return 2;
    if ((mkdir(s.out, 0755) != 0 && errno != EEXIST) || (mkdir(out_path(&s, "logs"), 0755) != 0 && errno != EEXIST))
        return die("%s: cannot create: %s", s.out, strerror(errno));
    if (!(s.trials = calloc(MAX_TRIALS, sizeof *s.trials)))
        return die("out of memory%s%s", "", "");
    s.random ? make_random(&s) : make_grid(&s);
    load_done(&s);
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: waitpid returns */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    bool complete = run_trials(&s);
    write_tables(&s);
    free(s.trials);
    if (!complete)
        fprintf(stderr, "mlp_sweep: interrupted; finished trials are kept, run again to resume\n");
    return complete ? 0 : 130;
}
