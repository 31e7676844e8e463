/* run.h - the frame every example program runs in: a training context and an
 * evaluation context (grad mode off), an optional CSV log, wall time, a live
 * progress line, and the exit: one line "program: message" on stderr and
 * status 1 when something failed (library errors are sticky on the contexts,
 * so the program only passes "ok" along). */
#ifndef EX_RUN_H
#define EX_RUN_H

#include "libtensor.h"

#include <stdbool.h>
#include <stdio.h>

typedef struct ex_run {
    const char *prog;     /* the error line's prefix: "mlp_names" */
    lt_ctx *ctx;          /* training: the graph of each step */
    lt_ctx *ectx;         /* evaluation and sampling: grad mode off */
    FILE *log;            /* ex_run_open_log's file, or NULL */
    const char *log_path;
} ex_run;

/* Creates both contexts with `threads` threads each. False (after printing
 * "prog: out of memory") when they cannot be created. */
bool ex_run_start(ex_run *r, const char *prog, long threads);

/* Opens path for writing (ex_open_output: a regular file or a new one) and
 * writes header (one CSV line with its newline); false + LT_ERR_IO on
 * r->ctx when it cannot be opened. */
bool ex_run_open_log(ex_run *r, const char *path, const char *header);

/* Ends the run: when !ok prints "prog: <the first context error>" (or
 * "prog: failed"), closes the log (a write error fails the run), frees both
 * contexts. Returns the exit status: 0, or 1. */
int ex_run_finish(ex_run *r, bool ok);

/* Monotonic wall time in seconds. */
double ex_now(void);

/* The progress line of a training loop on stderr: on a terminal one line
 * redrawn at most ten times a second (and at each evaluation), with rate and
 * ETA ("dev -" until a dev loss is measured; no ETA when total <= 0, an
 * open-ended run); otherwise one line per
 * evaluation. Quiet: nothing. */
typedef struct ex_progress {
    bool live, quiet;
    double start, last_draw;
    const char *eval_name; /* the evaluated split's name on the line: "dev" unless the program sets it */
} ex_progress;

void ex_progress_start(ex_progress *p, bool quiet);
void ex_progress_show(ex_progress *p, long step, long total, double batch_loss, double dev_loss, bool evaluated);
/* Ends the live line (a newline); returns the seconds since the start. */
double ex_progress_end(ex_progress *p);

#endif
