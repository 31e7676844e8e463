/* bench_threads.c - what a hand-off to the worker pool costs (threads.h):
 * the wall time of one lt_par_run job of 2 near-empty tasks, minus nothing,
 * after the caller has been busy for a gap of G µs since the previous job.
 * While G is below the spin time (LT_SPIN_NS) the worker is still spinning
 * and the job costs about a cache-line round trip; above it the worker
 * sleeps and the job pays for waking it (in a VM: for the host to run the
 * idle vCPU again). The split threshold LT_PAR_TASK_WORK must pay for the
 * first case; the second is why split ops that follow each other closely
 * are cheaper than isolated ones.
 *
 *   bench_threads [--threads N] [--jobs N]
 *
 * Prints, per gap, the best and the median over 5 rounds of the mean job
 * time. Figures only; nothing asserted. */
#include "bench_common.h"
#include "kernels/threads.h"
#include "libtensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile double sink;

/* a few additions: the job's cost is the hand-off, not the task */
static void tiny_task(void *arg, int task, int64_t begin, int64_t end)
{
    (void)arg;
    (void)task;
    double s = 0;
    for (int64_t i = begin; i < end; i++)
        s += (double)i * 0.5;
    sink = s;
}

/* the caller's own work between jobs */
static void busy_for(double us)
{
    double t0 = bench_now();
    while ((bench_now() - t0) * 1e6 < us)
        ;
}

/* Mean seconds of one job of `tasks` tasks, each job after `gap_us` of busy work. */
static double job_time(lt_ctx *ctx, int tasks, double gap_us, int jobs)
{
    double total = 0;
    for (int i = 0; i < jobs; i++) {
        busy_for(gap_us);
        double t0 = bench_now();
        lt_par_run(ctx, tasks, tasks, 1, tiny_task, NULL);
        total += bench_now() - t0;
    }
    return total / jobs;
}

int main(int argc, char **argv)
{
    int threads = 2, jobs = 2000;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--jobs") == 0)
            jobs = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_threads [--threads N] [--jobs N]\n");
            return 2;
        }
    }
    if (threads < 2 || threads > LT_MAX_THREADS || jobs < 10) {
        fprintf(stderr, "bench_threads: --threads must be 2..%d and --jobs at least 10\n", LT_MAX_THREADS);
        return 2;
    }
    lt_ctx *ctx = lt_ctx_new();
    if (!ctx || !lt_set_threads(ctx, threads)) {
        fprintf(stderr, "bench_threads: cannot start %d threads\n", threads);
        lt_ctx_free(ctx);
        return 1;
    }
    char load[128];
    bench_load_average(load, sizeof load);
    printf("bench_threads: %d threads, spin %.0f us, split threshold %.0f flops a task; load average %s\n", threads,
           LT_SPIN_NS / 1e3, (double)LT_PAR_TASK_WORK, load);
    job_time(ctx, threads, 0, jobs); /* starts the pool, warms up */
    const double gaps[] = {0, 20, 100, 150, 300, 1000, 3000};
    for (size_t g = 0; g < sizeof gaps / sizeof *gaps; g++) {
        int n = gaps[g] >= 300 ? jobs / 10 : jobs; /* the long gaps take their time anyway */
        double t[5];
        for (int r = 0; r < 5; r++)
            t[r] = job_time(ctx, threads, gaps[g], n);
        double best = t[0];
        for (int r = 1; r < 5; r++)
            best = t[r] < best ? t[r] : best;
        printf("gap %6.0f us (%s): job of %d tasks %8.2f us best, %8.2f us median\n", gaps[g],
               gaps[g] * 1e3 < LT_SPIN_NS ? "worker spinning" : "worker asleep  ", threads, best * 1e6,
               bench_median(t, 5) * 1e6);
    }
    printf("inline job (1 task): %.3f us\n", job_time(ctx, 1, 0, jobs) * 1e6);
    lt_ctx_free(ctx);
    return 0;
}
