/* run.c - see run.h. */
#define _POSIX_C_SOURCE 200809L /* isatty, fileno, clock_gettime */

#include "run.h"

#include "files.h"

#include <math.h>
#include <time.h>
#include <unistd.h>

bool ex_run_start(ex_run *r, const char *prog, long threads)
{
    *r = (ex_run){.prog = prog, .ctx = lt_ctx_new(), .ectx = lt_ctx_new()};
    if (!r->ctx || !r->ectx) {
        fprintf(stderr, "%s: out of memory\n", prog);
        lt_ctx_free(r->ectx);
        lt_ctx_free(r->ctx);
        return false;
    }
    lt_set_grad_enabled(r->ectx, false);
    lt_set_threads(r->ctx, (int)threads);
    lt_set_threads(r->ectx, (int)threads);
    return true;
}

bool ex_run_open_log(ex_run *r, const char *path, const char *header)
{
    char err[EX_FILE_ERR_SIZE];
    if (!(r->log = ex_open_output(path, err, sizeof err))) {
        lt_fail(r->ctx, LT_ERR_IO, "%s", err);
        return false;
    }
    r->log_path = path;
    fputs(header, r->log);
    return true;
}

int ex_run_finish(ex_run *r, bool ok)
{
    if (!ok) {
        lt_ctx *bad = lt_status_of(r->ctx) != LT_OK ? r->ctx : r->ectx;
        fprintf(stderr, "%s: %s\n", r->prog, lt_status_of(bad) != LT_OK ? lt_error_message(bad) : "failed");
    }
    if (r->log && fclose(r->log) != 0 && ok) {
        fprintf(stderr, "%s: %s: write error\n", r->prog, r->log_path);
        ok = false;
    }
    lt_ctx_free(r->ectx);
    lt_ctx_free(r->ctx);
    *r = (ex_run){0};
    return ok ? 0 : 1;
}

double ex_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ex_progress_start(ex_progress *p, bool quiet)
{
    *p = (ex_progress){.live = isatty(fileno(stderr)) != 0, .quiet = quiet, .start = ex_now(), .eval_name = "dev"};
}

void ex_progress_show(ex_progress *p, long step, long total, double batch_loss, double dev_loss, bool evaluated)
{
    if (p->quiet)
        return;
    double t = ex_now(), elapsed = t - p->start, rate = step > 0 ? (double)step / elapsed : 0;
    if (p->live) {
        if (!evaluated && t - p->last_draw < 0.1 && (total <= 0 || step < total))
            return;
        p->last_draw = t;
        double eta = rate > 0 ? (double)(total - step) / rate : 0;
        char dev[32] = "-"; /* before the first evaluation (or with none) */
        if (!isnan(dev_loss))
            snprintf(dev, sizeof dev, "%.4f", dev_loss);
        if (total > 0)
            fprintf(stderr, "\rstep %ld/%ld  loss %.4f  %s %s  %.0f steps/s  ETA %.0f s   ", step, total, batch_loss,
                    p->eval_name, dev, rate, eta);
        else
            fprintf(stderr, "\rstep %ld  loss %.4f  %s %s  %.0f steps/s   ", step, batch_loss, p->eval_name, dev, rate);
        fflush(stderr);
    } else if (evaluated) {
        if (total > 0)
            fprintf(stderr, "step %ld/%ld loss %.4f %s %.4f %.0f steps/s\n", step, total, batch_loss, p->eval_name,
                    dev_loss, rate);
        else
            fprintf(stderr, "step %ld loss %.4f %s %.4f %.0f steps/s\n", step, batch_loss, p->eval_name, dev_loss, rate);
    }
}

double ex_progress_end(ex_progress *p)
{
    double seconds = ex_now() - p->start;
    if (p->live && !p->quiet)
        fputc('\n', stderr);
    return seconds;
}
