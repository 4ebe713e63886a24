/* util.c — checked allocation and I/O, atomic writes, the TSV reader.
 * See util.h for the contracts. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- failing with one clear line ---- */

/* The temporaries of AtomicFiles that are open right now. die() removes them
 * so that a failure mid-write never leaves "PATH.tmp" lying around. This and
 * the fuzzers' jump target below are the project's only global state; only
 * die() reads them. */
#define MAX_OPEN_ATOMIC 16
static AtomicFile *open_atomic[MAX_OPEN_ATOMIC];

static jmp_buf *die_target;

void die_jump_to(jmp_buf *target) { die_target = target; }

void die_if_not_finite(const char *what, float x, int step) {
    if (!isfinite(x)) die("step %d: %s is %g; stopping (no checkpoint written)", step, what, (double)x);
}

void die(const char *fmt, ...) {
    if (die_target) longjmp(*die_target, 1);
    fflush(stdout);
    fputs("error: ", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    for (int i = 0; i < MAX_OPEN_ATOMIC; i++) {
        if (open_atomic[i] && open_atomic[i]->tmp) remove(open_atomic[i]->tmp);
    }
    exit(1);
}

/* ---- checked allocation ---- */

void *malloc_or_die(size_t bytes, const char *what) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) die("out of memory allocating %zu bytes for %s", bytes, what);
    return p;
}

void *calloc_or_die(size_t count, size_t size, const char *what) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) die("out of memory allocating %zu x %zu bytes for %s", count, size, what);
    return p;
}

void *realloc_or_die(void *ptr, size_t bytes, const char *what) {
    void *p = realloc(ptr, bytes ? bytes : 1);
    if (!p) die("out of memory growing %s to %zu bytes", what, bytes);
    return p;
}

char *strdup_or_die(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc_or_die(n, "a string");
    memcpy(p, s, n);
    return p;
}

/* ---- checked file I/O ---- */

/* What kind of thing st is, for a message: "a folder", "a FIFO", ... */
static const char *kind_of(const struct stat *st) {
    if (S_ISDIR(st->st_mode)) return "a folder";
    if (S_ISFIFO(st->st_mode)) return "a FIFO";
    if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) return "a device";
    if (S_ISSOCK(st->st_mode)) return "a socket";
    return "not a regular file";
}

FILE *fopen_or_die(const char *path, const char *mode) {
    if (mode[0] != 'r') {
        FILE *f = fopen(path, mode);
        if (!f) die("cannot open %s for writing: %s", path, strerror(errno));
        return f;
    }
    /* Opened without blocking, so that a FIFO named as an input is refused
     * instead of waiting forever for a writer; only regular files are read. */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) die("cannot open %s for reading: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) die("cannot stat %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        die("cannot read %s: it is %s, not a regular file", path, kind_of(&st));
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    FILE *f = fdopen(fd, mode);
    if (!f) die("cannot open %s for reading: %s", path, strerror(errno));
    return f;
}

void fread_or_die(void *buf, size_t size, size_t count, FILE *f, const char *path,
                  const char *what) {
    size_t got = fread(buf, size, count, f);
    if (got == count) return;
    if (ferror(f)) die("cannot read %s from %s: %s", what, path, strerror(errno));
    die("%s is truncated: expected %zu bytes of %s, found %zu", path, size * count, what,
        size * got);
}

void fwrite_or_die(const void *buf, size_t size, size_t count, FILE *f, const char *path) {
    if (fwrite(buf, size, count, f) != count) die("cannot write %s: %s", path, strerror(errno));
}

size_t file_size_or_die(FILE *f, const char *path) {
    struct stat st;
    if (fstat(fileno(f), &st) != 0) die("cannot stat %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) die("%s is not a regular file", path);
    return (size_t)st.st_size;
}

/* The folder part of path ("." when it has none); the caller frees it. */
static char *folder_of(const char *path) {
    char *dir = strdup_or_die(path);
    char *slash = strrchr(dir, '/');
    if (!slash) { free(dir); return strdup_or_die("."); }
    if (slash == dir) slash[1] = '\0'; else *slash = '\0';
    return dir;
}

void require_folder_of(const char *path) {
    char *dir = folder_of(path);
    struct stat st;
    if (stat(dir, &st) != 0) die("cannot write %s: folder %s does not exist (mkdir -p %s)", path, dir, dir);
    if (!S_ISDIR(st.st_mode)) die("cannot write %s: %s is not a folder", path, dir);
    free(dir);
}

void require_writable(const char *path) {
    require_folder_of(path);
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        die("cannot write %s: it is %s; name a file", path, kind_of(&st));
    }
    /* a file can be created beside it (the PATH.tmp every write goes through) */
    size_t n = strlen(path) + 5;
    char *tmp = malloc_or_die(n, "a file name");
    snprintf(tmp, n, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NONBLOCK, 0644);
    int made = fd >= 0;
    if (fd < 0 && errno == EEXIST) {  /* left by a killed run: it is overwritten later */
        if (stat(tmp, &st) == 0 && !S_ISREG(st.st_mode)) die("cannot write %s: %s is %s", path, tmp, kind_of(&st));
        fd = open(tmp, O_WRONLY | O_NONBLOCK);
    }
    if (fd < 0) die("cannot write %s: cannot create %s: %s", path, tmp, strerror(errno));
    close(fd);
    if (made) remove(tmp);
    free(tmp);
}

void make_folder(const char *dir) {
    char *p = strdup_or_die(dir);
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) die("cannot make folder %s: %s", p, strerror(errno));
        *s = c;
        if (c == '\0') break;
    }
    free(p);
}

/* path with its folder resolved (realpath) and its last part kept as given */
static char *canonical(const char *path) {
    char *dir = folder_of(path), *real = realpath(dir, NULL);
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    size_t n = (real ? strlen(real) : strlen(dir)) + strlen(base) + 2;
    char *out = malloc_or_die(n, "a file name");
    snprintf(out, n, "%s/%s", real ? real : dir, base);
    free(real);
    free(dir);
    return out;
}

int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char *ca = canonical(a), *cb = canonical(b);
    int same = strcmp(ca, cb) == 0;
    free(ca);
    free(cb);
    return same;
}

char *read_file_or_die(const char *path, size_t *len) {
    FILE *f = fopen_or_die(path, "rb");
    size_t n = file_size_or_die(f, path);
    char *buf = malloc_or_die(n + 1, path);
    if (n > 0) fread_or_die(buf, 1, n, f, path, "text");
    buf[n] = '\0';
    fclose(f);
    if (len) *len = n;
    return buf;
}

/* ---- atomic writes ---- */

void atomic_open(AtomicFile *af, const char *path) {
    af->path = strdup_or_die(path);
    size_t n = strlen(path) + 5;
    af->tmp = malloc_or_die(n, "a file name");
    snprintf(af->tmp, n, "%s.tmp", path);
    af->f = fopen(af->tmp, "wb");
    if (!af->f) {
        int e = errno;
        char *tmp = af->tmp;
        af->tmp = NULL;  /* nothing to clean up */
        die("cannot open %s for writing: %s", tmp, strerror(e));
    }
    for (int i = 0; i < MAX_OPEN_ATOMIC; i++) {
        if (!open_atomic[i]) { open_atomic[i] = af; break; }
    }
}

static void atomic_forget(AtomicFile *af) {
    for (int i = 0; i < MAX_OPEN_ATOMIC; i++) {
        if (open_atomic[i] == af) open_atomic[i] = NULL;
    }
    free(af->path);
    free(af->tmp);
    af->path = af->tmp = NULL;
    af->f = NULL;
}

void atomic_commit(AtomicFile *af) {
    if (fflush(af->f) != 0 || fsync(fileno(af->f)) != 0) {
        die("cannot write %s: %s", af->tmp, strerror(errno));
    }
    if (fclose(af->f) != 0) {
        af->f = NULL;
        die("cannot write %s: %s", af->tmp, strerror(errno));
    }
    af->f = NULL;
    if (rename(af->tmp, af->path) != 0) {
        die("cannot rename %s to %s: %s", af->tmp, af->path, strerror(errno));
    }
    atomic_forget(af);
}

void atomic_abort(AtomicFile *af) {
    if (af->f) fclose(af->f);
    if (af->tmp) remove(af->tmp);
    atomic_forget(af);
}

/* ---- logs: kept until the run that replaces them succeeds ---- */

void log_open(AtomicFile *log, const char *path, int append) {
    log->path = strdup_or_die(path);
    size_t n = strlen(path) + 5;
    log->tmp = malloc_or_die(n, "a file name");
    snprintf(log->tmp, n, "%s.tmp", path);
    log->f = fopen(log->tmp, append ? "a" : "w");
    if (!log->f) die("cannot open %s for writing: %s", log->tmp, strerror(errno));
    /* not registered with die(): a failed run's log stays as PATH.tmp */
}

void log_flush(AtomicFile *log) {
    if (fflush(log->f) != 0 || ferror(log->f)) die("cannot write %s: %s", log->tmp, strerror(errno));
}

void log_commit(AtomicFile *log) { atomic_commit(log); }

/* ---- TSV files ---- */

/* Splits one line (NUL-terminated, in place) at tabs into row->fields. */
static void tsv_split(TsvRow *row, char *line, int lineno) {
    int n = 1;
    for (char *p = line; *p; p++) n += (*p == '\t');
    row->fields = malloc_or_die(sizeof(char *) * (size_t)n, "TSV fields");
    row->nfields = n;
    row->line = lineno;
    int k = 0;
    row->fields[k++] = line;
    for (char *p = line; *p; p++) {
        if (*p == '\t') { *p = '\0'; row->fields[k++] = p + 1; }
    }
}

void tsv_read(Tsv *t, const char *path, int min_fields) {
    size_t len;
    t->path = strdup_or_die(path);
    t->buf = read_file_or_die(path, &len);
    if (memchr(t->buf, '\0', len)) die("%s contains a NUL byte: not a text file", path);
    t->rows = NULL;
    t->nrows = 0;
    int cap = 0, lineno = 0;
    char *p = t->buf, *end = t->buf + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line_end = nl ? nl : end;
        *line_end = '\0';
        if (line_end > p && line_end[-1] == '\r') line_end[-1] = '\0';
        lineno++;
        char *line = p;
        p = nl ? nl + 1 : end;
        if (line[0] == '\0') continue;  /* blank line */
        TsvRow row;
        tsv_split(&row, line, lineno);
        if (row.nfields < min_fields) {
            free(row.fields);
            die("%s:%d: expected at least %d tab-separated fields, found %d", path, lineno,
                min_fields, row.nfields);
        }
        if (lineno == 1) { free(row.fields); continue; }  /* the header */
        if (t->nrows == cap) {
            cap = cap ? 2 * cap : 64;
            t->rows = realloc_or_die(t->rows, sizeof(TsvRow) * (size_t)cap, "TSV rows");
        }
        t->rows[t->nrows++] = row;
    }
    if (t->nrows == 0) die("%s has no records", path);
}

void tsv_free(Tsv *t) {
    for (int i = 0; i < t->nrows; i++) free(t->rows[i].fields);
    free(t->rows);
    free(t->buf);
    free(t->path);
    t->rows = NULL;
    t->buf = t->path = NULL;
    t->nrows = 0;
}

long tsv_int(const Tsv *t, const TsvRow *r, int field, long lo, long hi) {
    const char *s = r->fields[field];
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (s[0] == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi) {
        die("%s:%d: field %d: '%s' is not an integer in [%ld, %ld]", t->path, r->line,
            field + 1, s, lo, hi);
    }
    return v;
}

/* ---- time and memory ---- */

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;  /* Linux reports KiB */
}

/* ---- flags ---- */

long parse_long_flag(const char *name, const char *s, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (s[0] == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi) {
        die("--%s: '%s' is not an integer in [%ld, %ld]", name, s, lo, hi);
    }
    return v;
}

float parse_float_flag(const char *name, const char *s, float lo, float hi) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (s[0] == '\0' || *end != '\0' || errno != 0 || !(v >= lo && v <= hi)) {
        die("--%s: '%s' is not a number in [%g, %g]", name, s, (double)lo, (double)hi);
    }
    return v;
}
