/* gemm_split.c - lt_sgemm_par: one product split into row (or column)
 * blocks, one lt_sgemm call per block, run on the context's threads. */
#include "kernels/gemm_split.h"

#include "kernels/threads.h"

/* Row (and column) blocks start at multiples of this. Any boundary would
 * give the same bits: every kernel computes each element of C on its own,
 * as one sum over the inner dimension in the same order (depth blocks of a
 * fixed size, then a fixed order within a block) whatever tile it falls in
 * and wherever that tile starts (tests/test_threads.c checks it at odd
 * boundaries on every ISA path). 16 floats are a cache line, so a column
 * block's part of each row of C starts on a line of its own when the rows
 * do; and it is fine enough that the WIDE model's 256 rows split 128 + 128
 * (48, the widest tile, split them 144 + 112: 56% of the work on one
 * thread, a 1.78x ceiling on 2). */
#define GEMM_ALIGN 16

typedef struct {
    int64_t m, n, k;
    lt_mat a, b;
    lt_mat_out c;
    bool accumulate, by_rows;
    const float *bias; /* NULL: none */
    float *work;
    size_t work_floats; /* per task */
} gemm_job;

static void gemm_task(void *arg, int task, int64_t begin, int64_t end)
{
    const gemm_job *g = arg;
    float *w = g->work + (size_t)task * g->work_floats;
    int64_t len = end - begin;
    lt_mat a = g->a, b = g->b;
    lt_mat_out c = g->c;
    const float *bias = g->bias;
    int64_t m = g->m, n = g->n;
    if (g->by_rows) { /* C[begin:end, :] (+)= op(A)[begin:end, :] @ op(B) */
        a.data += begin * a.rs;
        c.data += begin * c.rs;
        m = len;
    } else { /* C[:, begin:end] (+)= op(A) @ op(B)[:, begin:end] */
        b.data += begin * b.cs;
        c.data += begin * c.cs;
        bias = bias ? bias + begin : NULL;
        n = len;
    }
    if (bias)
        lt_sgemm_bias(m, n, g->k, a, b, c, bias, w);
    else
        lt_sgemm(m, n, g->k, a, b, c, g->accumulate, w);
}

/* Scratch floats rounded up to whole 64-byte lines, so that the tasks'
 * slices stay as aligned as the arena block. */
static size_t work_floats(int64_t m, int64_t n, int64_t k)
{
    size_t f = lt_sgemm_work_floats(m, n, k);
    return f ? (f + 15) / 16 * 16 : 16;
}

/* How a product is split: tasks, rows or columns, scratch floats per task.
 * A pure function of the thread count, the sizes and op(B)'s layout. */
typedef struct {
    int tasks;
    bool by_rows;
    size_t per_task;
} gemm_plan;

static gemm_plan plan_of(const lt_ctx *ctx, int64_t m, int64_t n, int64_t k, bool b_column_major)
{
    double work = 2.0 * (double)m * (double)n * (double)k;
    /* Along C's longer side: every task reads all of the operand the split
     * does not cut (op(B) for rows, op(A) for columns), and packs it when
     * it is op(B) (gemm.c reads op(A) in place, packs a large or
     * column-major op(B)), so a wide C (the forward (256,256) @ (256,2048),
     * dW1 = x^T dH) must not have every task pack all of a B 8 times the
     * size of its A. A square C is split along its columns when op(B) is
     * column-major (dX1 = dH W1^T, (256,2048) @ (2048,256): each task would
     * otherwise transpose all of W1), else its rows. The other side when
     * that one gives one task only. */
    bool rows_first = m > n || (m == n && !b_column_major);
    int64_t first = rows_first ? m : n, second = rows_first ? n : m;
    gemm_plan p = {lt_par_tasks(ctx, first, GEMM_ALIGN, work), rows_first, 0};
    if (p.tasks == 1 && (p.tasks = lt_par_tasks(ctx, second, GEMM_ALIGN, work)) > 1)
        p.by_rows = !rows_first;
    int64_t len = p.by_rows ? m : n;
    for (int t = 0; t < p.tasks; t++) { /* sized for the largest block */
        int64_t begin, end;
        lt_par_block(t, p.tasks, len, GEMM_ALIGN, &begin, &end);
        size_t f = p.by_rows ? work_floats(end - begin, n, k) : work_floats(m, end - begin, k);
        p.per_task = f > p.per_task ? f : p.per_task;
    }
    return p;
}

bool lt_sgemm_par(lt_ctx *ctx, int64_t m, int64_t n, int64_t k, lt_mat a, lt_mat b, lt_mat_out c, bool accumulate,
                  const float *bias)
{
    gemm_plan p = plan_of(ctx, m, n, k, b.rs == 1 && b.cs != 1);
    float *work = lt_arena_alloc(ctx, sizeof(float) * p.per_task * (size_t)p.tasks);
    if (!work)
        return false;
    gemm_job g = {m, n, k, a, b, c, accumulate, p.by_rows, bias, work, p.per_task};
    lt_par_run(ctx, p.tasks, p.by_rows ? m : n, GEMM_ALIGN, gemm_task, &g);
    return true;
}
