/* threads.c - the context's worker pool and the parallel loops of threads.h.
 *
 * Worker t (1..n-1) runs task t of every job that has more than t tasks;
 * the caller runs task 0 itself, then waits until the others have reported.
 * Static assignment keeps block t on the same thread every time (its part
 * of a tensor stays in that core's cache from one op to the next) and needs
 * no work queue.
 *
 * Hand-off: a job is published by bumping an atomic word holding a
 * generation number and the job's task count; completion is an atomic count
 * of outstanding tasks. Both sides spin for a short while (LT_SPIN_NS) before
 * falling back to a mutex and condition variables. Spinning matters: an
 * evaluation runs a dozen split ops in a row, and waking a sleeping thread
 * costs more than the gap between them (more in a virtual machine, where the
 * idle vCPU has to be woken by the host; docs/performance.md). A worker that
 * has spun for LT_SPIN_NS without a job goes to sleep, so a context that is not
 * running large ops costs no CPU. */
#define _POSIX_C_SOURCE 200809L

#include "kernels/threads.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

typedef struct lt_pool lt_pool;

typedef struct {
    lt_pool *pool;
    int id; /* task number this worker runs: 1..workers */
} worker_arg;

struct lt_pool {
    /* generation << 8 | tasks of the current job (tasks <= LT_MAX_THREADS) */
    _Atomic uint64_t job;
    _Atomic int pending;   /* tasks 1..tasks-1 not yet finished */
    _Atomic int sleepers;  /* workers waiting on `wake` */
    _Atomic bool caller_sleeping, stop;
    pthread_mutex_t mu;
    pthread_cond_t wake;   /* workers: a new job or stop */
    pthread_cond_t done;   /* caller: pending reached 0 */
    int workers;           /* threads started */
    uint64_t jobs;         /* jobs run on the pool (lt_par_jobs) */
    pthread_t *threads;
    worker_arg *args;
    /* the current job: written before `job` is bumped, stable until
     * pending is 0 (read only by the workers that take part) */
    lt_par_fn fn;
    void *arg;
    int tasks;
    int64_t n, align;
};

/* ---- blocks --------------------------------------------------------------- */

void lt_par_block(int t, int tasks, int64_t n, int64_t align, int64_t *begin, int64_t *end)
{
    int64_t units = (n + align - 1) / align;
    int64_t u0 = units * t / tasks, u1 = units * (t + 1) / tasks;
    *begin = u0 * align < n ? u0 * align : n;
    *end = u1 * align < n ? u1 * align : n;
}

static void run_task(lt_pool *p, int t)
{
    int64_t begin, end;
    lt_par_block(t, p->tasks, p->n, p->align, &begin, &end);
    if (begin < end)
        p->fn(p->arg, t, begin, end);
}

/* ---- spinning ------------------------------------------------------------------ */

static inline void cpu_relax(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_ia32_pause();
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
    __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spins until *word differs from old or LT_SPIN_NS have passed; returns the
 * last value read. */
static uint64_t spin_while_equal(_Atomic uint64_t *word, uint64_t old)
{
    int64_t deadline = 0;
    for (unsigned i = 1;; i++) {
        uint64_t v = atomic_load_explicit(word, memory_order_acquire);
        if (v != old)
            return v;
        cpu_relax();
        if (i % 64 == 0) { /* look at the clock now and then only */
            sched_yield();   /* lets a thread with work run when cores are oversubscribed */
            int64_t t = now_ns();
            if (!deadline)
                deadline = t + LT_SPIN_NS;
            else if (t > deadline)
                return v;
        }
    }
}

/* ---- the pool ----------------------------------------------------------------- */

/* Waits for a job newer than `seen` (or stop); returns its job word. */
static uint64_t next_job(lt_pool *p, uint64_t seen)
{
    uint64_t v = spin_while_equal(&p->job, seen);
    if (v != seen || atomic_load(&p->stop))
        return v;
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->sleepers, 1); /* seq_cst: see lt_par_run */
    while ((v = atomic_load(&p->job)) == seen && !atomic_load(&p->stop))
        pthread_cond_wait(&p->wake, &p->mu);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->mu);
    return v;
}

static void *worker_main(void *varg)
{
    worker_arg *w = varg;
    lt_pool *p = w->pool;
    uint64_t seen = 0;
    for (;;) {
        seen = next_job(p, seen);
        if (atomic_load(&p->stop))
            return NULL;
        if (w->id >= (int)(seen & 0xff)) /* this job is smaller than the pool */
            continue;
        run_task(p, w->id);
        if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->caller_sleeping)) {
            pthread_mutex_lock(&p->mu); /* the caller is in (or entering) its wait */
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

/* The caller's side of a job: wait until every worker task has finished. */
static void wait_done(lt_pool *p)
{
    int64_t deadline = 0;
    for (unsigned i = 1; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++) {
        cpu_relax();
        if (i % 64 == 0) {
            sched_yield();
            int64_t t = now_ns();
            if (!deadline) {
                deadline = t + LT_SPIN_NS;
            } else if (t > deadline) {
                pthread_mutex_lock(&p->mu);
                atomic_store(&p->caller_sleeping, true);
                while (atomic_load(&p->pending) > 0)
                    pthread_cond_wait(&p->done, &p->mu);
                atomic_store(&p->caller_sleeping, false);
                pthread_mutex_unlock(&p->mu);
                return;
            }
        }
    }
}

/* Stops and joins the started workers and frees the pool. */
static void pool_free(lt_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->workers; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p->args);
    free(p);
}

/* A pool of n - 1 workers, or NULL when memory or threads are short. */
static lt_pool *pool_new(int n)
{
    lt_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    atomic_init(&p->job, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->caller_sleeping, false);
    atomic_init(&p->stop, false);
    p->threads = calloc((size_t)n, sizeof *p->threads);
    p->args = calloc((size_t)n, sizeof *p->args);
    bool ok = p->threads && p->args && pthread_mutex_init(&p->mu, NULL) == 0;
    if (ok && pthread_cond_init(&p->wake, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        ok = false;
    }
    if (ok && pthread_cond_init(&p->done, NULL) != 0) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->mu);
        ok = false;
    }
    if (!ok) {
        free(p->threads);
        free(p->args);
        free(p);
        return NULL;
    }
    for (int i = 0; i < n - 1; i++) {
        p->args[i] = (worker_arg){p, i + 1};
        if (pthread_create(&p->threads[i], NULL, worker_main, &p->args[i]) != 0) {
            pool_free(p); /* joins the ones already running */
            return NULL;
        }
        p->workers = i + 1;
    }
    return p;
}

/* The context's pool, started on first use. */
static lt_pool *pool_of(lt_ctx *ctx)
{
    if (!ctx->pool && !ctx->pool_failed) {
        ctx->pool = pool_new(ctx->threads);
        ctx->pool_failed = !ctx->pool; /* don't retry on every op */
    }
    return ctx->pool;
}

void lt_threads_release(lt_ctx *ctx)
{
    pool_free(ctx->pool);
    ctx->pool = NULL;
    ctx->pool_failed = false;
}

/* ---- public settings ---------------------------------------------------------------- */

bool lt_set_threads(lt_ctx *ctx, int n)
{
    if (!ctx)
        return false;
    if (n < 1 || n > LT_MAX_THREADS)
        return lt_fail(ctx, LT_ERR_ARG, "set_threads: %d threads: expected 1..%d", n, LT_MAX_THREADS), false;
    if (n != lt_get_threads(ctx))
        lt_threads_release(ctx); /* the next large op starts a pool of the new size */
    ctx->threads = n;
    return true;
}

int lt_get_threads(const lt_ctx *ctx) { return ctx && ctx->threads > 1 ? ctx->threads : 1; }

/* ---- parallel loops ------------------------------------------------------------------ */

int lt_par_tasks(const lt_ctx *ctx, int64_t n, int64_t align, double work)
{
    int threads = lt_get_threads(ctx);
    if (threads == 1 || n <= 0 || !(work >= 2 * LT_PAR_TASK_WORK))
        return 1;
    if (align < 1)
        align = 1;
    double by_work = work / LT_PAR_TASK_WORK;
    int64_t units = (n + align - 1) / align;
    int64_t t = threads;
    if ((double)t > by_work)
        t = (int64_t)by_work;
    if (t > units)
        t = units;
    return t > 1 ? (int)t : 1;
}

void lt_par_run(lt_ctx *ctx, int tasks, int64_t n, int64_t align, lt_par_fn fn, void *arg)
{
    if (n <= 0)
        return;
    if (align < 1)
        align = 1;
    if (tasks > lt_get_threads(ctx))
        tasks = lt_get_threads(ctx);
    lt_pool *p = tasks > 1 ? pool_of(ctx) : NULL;
    if (!p) {
        fn(arg, 0, 0, n);
        return;
    }
    p->jobs++;
    p->fn = fn;
    p->arg = arg;
    p->tasks = tasks;
    p->n = n;
    p->align = align;
    atomic_store(&p->pending, tasks - 1);
    uint64_t gen = (atomic_load_explicit(&p->job, memory_order_relaxed) >> 8) + 1;
    /* seq_cst store, then load of sleepers: a worker that is about to sleep
     * either sees the new job or is seen and woken (it re-checks under the
     * mutex, which the broadcast takes) */
    atomic_store(&p->job, gen << 8 | (uint64_t)tasks);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    run_task(p, 0);
    wait_done(p);
}

uint64_t lt_par_jobs(const lt_ctx *ctx) { return ctx && ctx->pool ? ctx->pool->jobs : 0; }

void lt_parallel_for(lt_ctx *ctx, int64_t n, int64_t align, double work, lt_par_fn fn, void *arg)
{
    lt_par_run(ctx, lt_par_tasks(ctx, n, align, work), n, align, fn, arg);
}

/* ---- elementwise map ------------------------------------------------------------------ */

typedef struct {
    void (*f)(float *, const float *, int64_t);
    float *y;
    const float *x;
} map_job;

static void map_task(void *arg, int task, int64_t begin, int64_t end)
{
    (void)task;
    const map_job *j = arg;
    j->f(j->y + begin, j->x + begin, end - begin);
}

/* Blocks of 16 floats: every block but the last starts 64-byte aligned when
 * the arrays do, so each thread writes whole cache lines. */
void lt_par_map(lt_ctx *ctx, void (*f)(float *y, const float *x, int64_t n), float *y, const float *x, int64_t n,
                double work_per_elem)
{
    map_job j = {f, y, x};
    lt_parallel_for(ctx, n, 16, (double)n * work_per_elem, map_task, &j);
}
