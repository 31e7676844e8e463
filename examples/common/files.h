/* files.h - the example programs' files, one rule for all of them:
 *
 *   - every program declares its inputs and outputs (flag and path) in one
 *     table and calls ex_files_check before any work: an output that is the
 *     same file as an input or as another output (same device and inode, or,
 *     for a path that does not exist yet, the same place once symbolic links
 *     and the directory are resolved) is refused, naming both flags (the one
 *     exception: a checkpoint saved over the one it was loaded from, which
 *     the table declares, ex_file.updates); so is
 *     an output that exists and is not a regular file (a device, a FIFO, a
 *     directory), an output in a directory that does not exist, and a
 *     checkpoint input that is not a regular file;
 *   - inputs are opened without blocking (a FIFO with no writer cannot hang
 *     the program) and their type checked before anything is read; text
 *     data is read in chunks, each checked as it arrives, up to a size limit
 *     (--max-data-mb) that names itself when it is reached;
 *   - outputs never replace anything but a regular file: a symbolic link is
 *     kept and its target rewritten, an existing file keeps its permissions,
 *     and a checkpoint is still replaced atomically (lt_safetensors_save on
 *     the resolved target, see ex_replace_begin).
 *
 * Errors are one line in a caller's buffer ("--save names.txt is the same
 * file as --data names.txt"), so that programs without a context (mlp_sweep)
 * and the data reader (text_data.c) use the same code. */
#ifndef EX_FILES_H
#define EX_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#define EX_FILE_ERR_SIZE 512
#define EX_PATH_SIZE 4096

/* --max-data-mb: the most text data a program reads, in MiB (2^20 bytes).
 * 256 MiB is over 1,000 times names.txt and above the largest files the
 * programs are documented to train on (docs/robustness.md: 100 MB); at 16
 * bytes per example of a 3-character context its examples alone would
 * take 4 GiB, so a larger file is a mistake more often than a plan. */
#define EX_MAX_DATA_FLAG "--max-data-mb"
#define EX_MAX_DATA_MB_DEFAULT 256
#define EX_MAX_DATA_MB_LIMIT (1L << 20) /* the flag's largest value: 1 TiB */

typedef enum ex_file_use {
    EX_INPUT,         /* read once: a regular file, a pipe or a device (text data) */
    EX_INPUT_REGULAR, /* read from a regular file only (checkpoints) */
    EX_OUTPUT         /* written: replaced atomically, or truncated and rewritten */
} ex_file_use;

/* One file a program reads or writes, as its command line names it. */
typedef struct ex_file {
    const char *flag; /* "--save": messages name the file by its flag */
    const char *path; /* NULL when the flag is not given: skipped */
    ex_file_use use;
    /* EX_OUTPUT: the flag of the one input this output may be, or NULL.
     * "--load" for --save: a checkpoint is read whole before training and
     * replaced atomically after it, so training on from a checkpoint and
     * saving over it loses nothing (and is what resuming means). */
    const char *updates;
} ex_file;

/* Table entries: EX_IN("--data", o->data), EX_OUT_OVER("--save", o->save, "--load"), ... */
#define EX_IN(flag, path) {flag, path, EX_INPUT, NULL}
#define EX_IN_REGULAR(flag, path) {flag, path, EX_INPUT_REGULAR, NULL}
#define EX_OUT(flag, path) {flag, path, EX_OUTPUT, NULL}
#define EX_OUT_OVER(flag, path, input_flag) {flag, path, EX_OUTPUT, input_flag}

/* The checks above on files[0..n-1]; true when they pass, else false with
 * one line in why: "--log ck.st is the same file as --load ck.st", "--save
 * /dev/null: not a regular file (a character device); outputs are written
 * only to regular files or new paths", "--load fifo: not a regular file (a
 * FIFO)", "--save out/x.st: cannot write there: out: No such file or
 * directory". Looks at the file system only (stat, lstat, readlink,
 * realpath): never opens a file, so a FIFO cannot block it. An input that
 * does not exist is left for its open to report. */
bool ex_files_problem(const ex_file *files, int n, char *why, size_t size);

/* ex_files_problem, printing "prog: why" on stderr when a check fails; the
 * program then exits with status 2 (its command line cannot be run). */
bool ex_files_check(const char *prog, const ex_file *files, int n);

/* ---- inputs ------------------------------------------------------------------- */

/* Opens path for reading with O_NONBLOCK (then cleared: reads block as
 * usual), checks its type with fstat: a directory is refused ("path: read
 * error: Is a directory"), and with regular_only anything but a regular file
 * ("path: not a regular file (a FIFO)"). Returns the descriptor, or -1 with
 * the message in err. st (may be NULL) gets the fstat result. */
int ex_open_input(const char *path, bool regular_only, struct stat *st, char *err, size_t size);

/* Checks one chunk of an input as it is read (bytes[0..n-1]; n == 0 once at
 * the end of the input); false with a message in err stops the read. */
typedef bool (*ex_chunk_check)(void *user, const char *bytes, size_t n, char *err, size_t size);

/* Reads all of path (ex_open_input, then chunks of at most 1 MiB, each
 * passed to check when it is not NULL) into a NUL-terminated buffer to free
 * (*len bytes before the NUL). NULL with a message in err when it cannot be
 * opened or read, when check refuses a chunk, when out of memory, or when
 * it holds more than max_bytes: "path: more than 256 MiB of data (the limit
 * of --max-data-mb; raise it to read a larger file)" (a regular file's size
 * is known before its first byte is read). */
char *ex_read_input(const char *path, size_t max_bytes, ex_chunk_check check, void *user, size_t *len, char *err,
                    size_t size);

/* ---- outputs ------------------------------------------------------------------ */

/* Opens path for writing from the start: created (0666 less the umask) when
 * it does not exist; else it must be a regular file, which is truncated and
 * keeps its permissions (a symbolic link is followed and kept). O_NONBLOCK
 * while opening, so a FIFO is refused instead of blocking. NULL with a
 * message in err otherwise. */
FILE *ex_open_output(const char *path, char *err, size_t size);

/* Replacing a file atomically (write a temporary beside it, rename it over)
 * without losing what the user set up: ex_replace_begin follows symbolic
 * links to the file they name (target: pass it to the writer, so the link
 * is kept and its target replaced), refuses a target that exists and is
 * not a regular file, and notes the permissions of an existing target;
 * until ex_replace_end the process umask also masks the bits that file did
 * not have, so the temporary is never more open than the file it replaces.
 * ex_replace_end restores the umask and gives the new file the old
 * permissions. */
typedef struct ex_replace {
    char target[EX_PATH_SIZE]; /* the file to write: path with its links resolved */
    bool existed;              /* target existed (a regular file) */
    mode_t mode;               /* its permission bits */
    mode_t umask;              /* the process umask before ex_replace_begin */
} ex_replace;

bool ex_replace_begin(const char *path, ex_replace *r, char *err, size_t size);
/* written: whether the writer succeeded (the permissions are set only then).
 * False with a message in err when they could not be set. */
bool ex_replace_end(ex_replace *r, bool written, char *err, size_t size);

#endif
