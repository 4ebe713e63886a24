/* util.h — the few helpers every gptladder file leans on.
 *
 * Failing well: every problem a user can cause (a missing file, a truncated
 * checkpoint, a malformed TSV line, a bad flag) ends in one line on stderr,
 * "error: <what and where>", and exit status 1. Nothing half-written is left
 * behind: files are written to "<path>.tmp" and renamed into place only when
 * complete (AtomicFile).
 *
 * Also here: checked allocation and I/O, a whole-file reader, a TSV reader
 * (every rung reads TSV data), a wall clock, and the peak-RSS probe used by
 * the benchmarks. Deliberately absent: logging frameworks, global state.
 */
#ifndef GPTLADDER_UTIL_H
#define GPTLADDER_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- failing with one clear line ---- */

/* Prints "error: <message>" and a newline to stderr, then exit(1).
 * Removes any AtomicFile temporaries still open (see below) first. */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* For the fuzzers only (tests/fuzz/): when set, die() prints nothing and
 * longjmps here instead of exiting, so one process can try millions of bad
 * inputs. Memory the failed call had allocated is then lost, which is why
 * nothing but a fuzzer may use it. NULL (the default) restores exit(1). */
#include <setjmp.h>
void die_jump_to(jmp_buf *target);

/* Training that saves only at its end stops here when a number went bad
 * (NaN or infinite): "error: step N: WHAT is nan; stopping (no checkpoint
 * written)". */
void die_if_not_finite(const char *what, float x, int step);

/* ---- checked allocation ---- */

/* malloc/calloc that never return NULL: on failure they die naming `what`
 * and the number of bytes. A zero-byte request returns a valid pointer. */
void *malloc_or_die(size_t bytes, const char *what);
void *calloc_or_die(size_t count, size_t size, const char *what);
void *realloc_or_die(void *ptr, size_t bytes, const char *what);
char *strdup_or_die(const char *s);

/* ---- checked file I/O ---- */

/* fopen that dies with "cannot open PATH for reading: <strerror>". Reading
 * opens only regular files, without blocking: a FIFO, a folder or a device
 * named as an input is refused ("cannot read PATH: it is a FIFO, not a
 * regular file") instead of hanging. */
FILE *fopen_or_die(const char *path, const char *mode);

/* Reads exactly count items or dies, telling a short file ("PATH is truncated:
 * expected N bytes of WHAT") from a read error. */
void fread_or_die(void *buf, size_t size, size_t count, FILE *f, const char *path, const char *what);

/* Writes exactly count items or dies ("cannot write PATH: <strerror>"). */
void fwrite_or_die(const void *buf, size_t size, size_t count, FILE *f, const char *path);

/* Size in bytes of an open file (via fstat); dies if it cannot be read. */
size_t file_size_or_die(FILE *f, const char *path);

/* Dies with "cannot write PATH: folder DIR does not exist (mkdir -p DIR)"
 * (or "DIR is not a folder") unless the folder PATH would be written into
 * exists. */
void require_folder_of(const char *path);

/* Proves, before any work, that PATH can be written: its folder exists, PATH
 * is not a folder, a device or a FIFO ("cannot write PATH: it is a device"),
 * and PATH.tmp can be created beside it. The flag table (cli.c) calls it for
 * every output; a typo or a read-only folder costs nothing already computed. */
void require_writable(const char *path);

/* mkdir -p DIR; dies with the reason if a part cannot be made. */
void make_folder(const char *dir);

/* 1 when paths a and b name the same file (the same inode when both exist,
 * the same resolved path when one does not). */
int same_file(const char *a, const char *b);

/* Reads a whole file into a NUL-terminated buffer (the NUL is not counted in
 * *len). The caller frees the buffer. Dies if the file cannot be read. */
char *read_file_or_die(const char *path, size_t *len);

/* ---- atomic writes: write to PATH.tmp, then rename ---- */

typedef struct {
    FILE *f;       /* write through this */
    char *path;    /* the final name */
    char *tmp;     /* PATH.tmp, removed by die() if the program fails mid-write */
} AtomicFile;

/* Opens PATH.tmp for writing ("wb"); dies if it cannot. */
void atomic_open(AtomicFile *af, const char *path);
/* Flushes, fsyncs, closes and renames PATH.tmp to PATH; dies on any failure
 * (and then PATH still holds its previous contents, if any). */
void atomic_commit(AtomicFile *af);
/* Closes and removes PATH.tmp without touching PATH. */
void atomic_abort(AtomicFile *af);

/* ---- logs: kept until the run that replaces them succeeds ----
 *
 * A training log is written to PATH.tmp, flushed after every row (a crash
 * loses nothing), and renamed over PATH only when the run has succeeded: a
 * failed or killed run leaves the previous log intact and its own partial
 * one as PATH.tmp (die() keeps it, unlike a checkpoint's temporary). */
void log_open(AtomicFile *log, const char *path, int append);  /* append: continue PATH.tmp (--resume) */
void log_flush(AtomicFile *log);    /* after each row; dies with "cannot write PATH.tmp: ..." */
void log_commit(AtomicFile *log);   /* at the end of a successful run: PATH.tmp -> PATH */

/* ---- TSV files: one record per line, fields separated by tabs ---- */

typedef struct {
    char **fields;   /* (nfields) pointers into the Tsv's buffer, NUL-terminated */
    int nfields;
    int line;        /* 1-based line number in the file, for error messages */
} TsvRow;

typedef struct {
    char *path;
    char *buf;       /* the file's bytes, tabs and newlines replaced by NULs */
    TsvRow *rows;    /* (nrows) */
    int nrows;
} Tsv;

/* Reads PATH. The first line is a header (skipped, but it must have at least
 * min_fields fields); blank lines are skipped; a trailing '\r' is stripped.
 * Every record must have at least min_fields fields, or the program dies with
 * "PATH:LINE: expected at least N tab-separated fields, found M". An empty
 * field is allowed; a file with no records dies with "PATH has no records".
 * Free with tsv_free. */
void tsv_read(Tsv *t, const char *path, int min_fields);
void tsv_free(Tsv *t);

/* Parses an integer field, dying with "PATH:LINE: field N: '...' is not an
 * integer" if it is not one (or lies outside [lo, hi]). */
long tsv_int(const Tsv *t, const TsvRow *r, int field, long lo, long hi);

/* ---- time and memory ---- */

double now_seconds(void);       /* monotonic wall clock, in seconds */
double peak_rss_mb(void);       /* peak resident set size of this process, MiB */

/* Parses a whole decimal string as a long in [lo, hi], or dies with
 * "--NAME: '...' is not an integer in [lo, hi]". For command-line flags. */
long parse_long_flag(const char *name, const char *s, long lo, long hi);
/* The same for a float in [lo, hi] (finite). */
float parse_float_flag(const char *name, const char *s, float lo, float hi);

#endif
