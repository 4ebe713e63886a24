/* fuzz.h — what every libFuzzer target in tests/fuzz/ shares.
 *
 * The loaders take a path and report bad input by calling die(). A fuzzer
 * must survive millions of bad inputs in one process, so:
 *
 *   fuzz_file      writes the input into an in-memory file (memfd) and
 *                  returns a path to it ("/proc/self/fd/N"): the loaders read
 *                  it like any file, nothing touches the disk. If memfd is not
 *                  available it falls back to /tmp/gptladder-fuzz-PID-NAME.
 *   fuzz_call      runs fn(arg) with die_jump_to() set, so that die() longjmps
 *                  back here instead of exiting; returns 1 if fn returned, 0 if
 *                  it died.
 *
 * What a longjmp out of a loader loses. die() does not unwind: the buffers the
 * loader had allocated and the FILE it had open are simply forgotten. Over a
 * long run that would exhaust file descriptors (then every input dies at
 * fopen and the fuzzer learns nothing) and grow the heap until libFuzzer's
 * RSS limit calls it a crash. So the library's objects are linked with
 * -Wl,--wrap=malloc,calloc,realloc,free,fopen,fdopen,fclose (see the Makefile's fuzz
 * section): while a fuzz_call is running, every allocation and every open
 * FILE is recorded, and after a die() the ones made since the call began are
 * released. On a normal return the records are dropped (nothing is freed:
 * what the call returned belongs to the caller). The allocations libc makes
 * inside fopen are released by fclose. The fuzzers still run with
 * -detect_leaks=0, as a longjmp out of a nested call may leave pointers the
 * outer call already stored.
 *
 * Each target is a .c file that includes this header once and defines
 * LLVMFuzzerTestOneInput (and LLVMFuzzerInitialize if it needs a fixture).
 */
#ifndef GPTLADDER_FUZZ_H
#define GPTLADDER_FUZZ_H

#include <fcntl.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util.h"

/* ---- records of what a call allocated and opened (see above) ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
FILE *__real_fopen(const char *path, const char *mode);
FILE *__real_fdopen(int fd, const char *mode);
int __real_fclose(FILE *f);

typedef struct {
    void **item;
    size_t n, cap;
} FuzzRecord;

static FuzzRecord fuzz_mem, fuzz_files;
static int fuzz_depth;  /* fuzz_calls in progress: records are kept only when > 0 */

static void fuzz_record_add(FuzzRecord *r, void *p) {
    if (!p || fuzz_depth == 0) return;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 1024;
        r->item = __real_realloc(r->item, r->cap * sizeof(void *));
        if (!r->item) abort();
    }
    r->item[r->n++] = p;
}

/* Forgets p, keeping the order of the rest (marks are positions). Searches
 * from the newest: what a loader frees is usually what it allocated last. */
static int fuzz_record_remove(FuzzRecord *r, void *p) {
    for (size_t i = r->n; i-- > 0;) {
        if (r->item[i] == p) {
            memmove(r->item + i, r->item + i + 1, (r->n - i - 1) * sizeof(void *));
            r->n--;
            return 1;
        }
    }
    return 0;
}

/* Replaces old by new in place (a realloc keeps the allocation's age). */
static void fuzz_record_replace(FuzzRecord *r, void *old, void *new) {
    for (size_t i = r->n; i-- > 0;) {
        if (r->item[i] == old) { r->item[i] = new; return; }
    }
    fuzz_record_add(r, new);
}

void *__wrap_malloc(size_t n) {
    void *p = __real_malloc(n);
    fuzz_record_add(&fuzz_mem, p);
    return p;
}

void *__wrap_calloc(size_t n, size_t size) {
    void *p = __real_calloc(n, size);
    fuzz_record_add(&fuzz_mem, p);
    return p;
}

void *__wrap_realloc(void *old, size_t n) {
    void *p = __real_realloc(old, n);
    if (!p) return p;  /* old is still allocated and still recorded */
    if (!old) fuzz_record_add(&fuzz_mem, p);
    else if (fuzz_depth > 0) fuzz_record_replace(&fuzz_mem, old, p);
    else fuzz_record_remove(&fuzz_mem, old);
    return p;
}

void __wrap_free(void *p) {
    if (p && fuzz_mem.n) fuzz_record_remove(&fuzz_mem, p);
    __real_free(p);
}

FILE *__wrap_fopen(const char *path, const char *mode) {
    FILE *f = __real_fopen(path, mode);
    fuzz_record_add(&fuzz_files, f);
    return f;
}

/* fopen_or_die opens inputs with open() + fdopen (to refuse FIFOs) */
FILE *__wrap_fdopen(int fd, const char *mode) {
    FILE *f = __real_fdopen(fd, mode);
    fuzz_record_add(&fuzz_files, f);
    return f;
}

int __wrap_fclose(FILE *f) {
    if (f && fuzz_files.n) fuzz_record_remove(&fuzz_files, f);
    return __real_fclose(f);
}

/* ---- running a loader that may die ---- */

/* Runs fn(arg). Returns 1 if it returned, 0 if it called die(); in that case
 * everything it allocated or opened is released. Calls nest. */
__attribute__((unused)) static int fuzz_call(void (*fn)(void *), void *arg) {
    jmp_buf env;
    size_t mem_mark = fuzz_mem.n, file_mark = fuzz_files.n;
    fuzz_depth++;
    die_jump_to(&env);
    if (setjmp(env) == 0) {
        fn(arg);
        fuzz_depth--;
        die_jump_to(NULL);
        if (fuzz_depth == 0) fuzz_mem.n = fuzz_files.n = 0;  /* the caller owns what is left */
        return 1;
    }
    /* die() jumped here: release what fn left behind, newest first */
    fuzz_depth--;
    die_jump_to(NULL);
    while (fuzz_files.n > file_mark) __real_fclose(fuzz_files.item[--fuzz_files.n]);
    while (fuzz_mem.n > mem_mark) __real_free(fuzz_mem.item[--fuzz_mem.n]);
    if (fuzz_depth == 0) fuzz_mem.n = fuzz_files.n = 0;
    return 0;
}

/* ---- the input as a file ---- */

/* Writes data[0..size) to this process's scratch file and returns its path
 * (static storage). Aborts if it cannot: that is the harness's fault. */
__attribute__((unused)) static const char *fuzz_file(const uint8_t *data, size_t size, const char *name) {
    static int fd = -1;
    static char path[256];
    if (fd < 0) {
        fd = memfd_create(name, 0);
        if (fd >= 0) {
            snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        } else {
            snprintf(path, sizeof path, "/tmp/gptladder-fuzz-%d-%s", (int)getpid(), name);
            fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
            if (fd < 0) { perror(path); abort(); }
        }
    }
    if (ftruncate(fd, 0) != 0) { perror("ftruncate"); abort(); }
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
        if (w <= 0) { perror("pwrite"); abort(); }
        done += (size_t)w;
    }
    return path;
}

#endif
