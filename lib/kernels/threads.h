/* threads.h - a context's worker threads and the parallel loops ops use
 * (internal; not installed).
 *
 * lt_set_threads(ctx, n) (libtensor.h) sets how many threads the context's
 * large ops may use. With n > 1 the first op large enough to split creates a
 * pool of n - 1 persistent workers (the calling thread is the n-th); later
 * ops reuse it, so no thread is created per op. lt_ctx_free (or a new
 * lt_set_threads) joins and frees the workers.
 *
 * The only primitive is a parallel for over [0, n) in contiguous blocks:
 * task t gets the t-th block, runs on a fixed thread (task 0 on the caller),
 * and every task has finished when the call returns. An op splits only when
 * its estimated work (in flops, roughly: see LT_PAR_TASK_WORK) pays for
 * waking a worker, so the small products of a training step stay on one
 * thread. Because blocks are contiguous and each element is computed by the
 * same code whatever block it falls in, results do not depend on the number
 * of threads: callers must keep it that way (no per-block partial sums
 * combined in a thread-dependent order; reduce per-row results on the
 * caller, in order, instead).
 *
 * Tasks must not touch the context (no arena allocation, no errors, no
 * recording): allocate before the loop, on the calling thread. A context is
 * used by one thread at a time, as always; the workers only ever run tasks
 * handed to them. */
#ifndef LT_THREADS_H
#define LT_THREADS_H

#include "core/internal.h"

/* Largest thread count lt_set_threads accepts. */
#define LT_MAX_THREADS 64

/* Minimum estimated work (flops) per task: some 6 µs of the gemm kernel,
 * several times a hand-off to a spinning worker (about 1 µs here,
 * bench/bench_threads). A (32,30) @ (30,200) training product (0.38 MFLOP)
 * never splits; a (4096,30) @ (30,200) evaluation product (49 MFLOP) does,
 * and so do the transformer's GELU and attention backward passes (2e6 kept
 * them on one thread: 2 threads ran makemore's transformer 15-20% slower).
 * docs/performance.md has the measurements behind this and the costs below. */
#ifndef LT_PAR_TASK_WORK /* -DLT_PAR_TASK_WORK=... to try another threshold */
#define LT_PAR_TASK_WORK 1e6
#endif

/* How long (ns) a worker looks for the next job, and the caller for the
 * end of its job, before sleeping (threads.c): long enough to cover the
 * gaps between the split ops of a training step or an evaluation chunk.
 * bench/bench_threads prints what a hand-off costs either side of it. */
#ifndef LT_SPIN_NS /* -DLT_SPIN_NS=... to try another */
#define LT_SPIN_NS 200000
#endif

/* Rough costs for the work estimates, in the same unit (one flop of the
 * gemm kernel), measured on the evaluation chunk (4096 rows). */
#define LT_WORK_TANH 24.0  /* per element */
#define LT_WORK_EXP 16.0   /* per element */
#define LT_WORK_ROW 2000.0 /* fixed cost of a softmax / cross-entropy row */

/* Task t of a parallel loop: items [begin, end) of the loop's range. */
typedef void (*lt_par_fn)(void *arg, int task, int64_t begin, int64_t end);

/* How many tasks a loop over n items, of estimated total `work` flops, is
 * split into: at most the context's thread count, at most one per `align`
 * items (blocks start at multiples of align), at least LT_PAR_TASK_WORK
 * flops each; 1 means "run it inline". */
int lt_par_tasks(const lt_ctx *ctx, int64_t n, int64_t align, double work);

/* Block t of `tasks` over [0, n): align-sized units shared out evenly, the
 * remainder going to the last blocks; the last block ends at n. */
void lt_par_block(int t, int tasks, int64_t n, int64_t align, int64_t *begin, int64_t *end);

/* Runs fn over [0, n) split into `tasks` contiguous blocks whose boundaries
 * are multiples of align (the last block takes the rest), and returns when
 * all have finished. tasks <= 1, or a pool that cannot be started (out of
 * memory or threads), runs fn(arg, 0, 0, n) inline: threads only ever
 * change the speed, never the outcome. */
void lt_par_run(lt_ctx *ctx, int tasks, int64_t n, int64_t align, lt_par_fn fn, void *arg);

/* Jobs the context's pool has run since it was started (0 without a pool):
 * tests check with it that a product was, or was not, split. */
uint64_t lt_par_jobs(const lt_ctx *ctx);

/* lt_par_tasks + lt_par_run. */
void lt_parallel_for(lt_ctx *ctx, int64_t n, int64_t align, double work, lt_par_fn fn, void *arg);

/* y[i] = f(x[i]) for i < n with an elementwise kernel f (lt_vtanh, lt_vexp)
 * whose results do not depend on where a block starts; split when n *
 * work_per_elem is large. */
void lt_par_map(lt_ctx *ctx, void (*f)(float *y, const float *x, int64_t n), float *y, const float *x, int64_t n,
                double work_per_elem);

/* Joins and frees the context's workers (lt_ctx_free). */
void lt_threads_release(lt_ctx *ctx);

#endif
