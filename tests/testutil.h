/* testutil.h — what every gptladder test file shares.
 *
 *   check_close      compare two float arrays with a relative + absolute
 *                    tolerance; on failure print the name, the worst index
 *                    and both values, then fail the test.
 *   expect_death     run a function in a child process (fork) and check that
 *                    it exits non-zero with a message on stderr containing a
 *                    given phrase: how we test "bad input gets one clear line".
 *   run_program      run one of our programs (build/NAME, or $GPTLADDER_BIN/NAME)
 *                    with arguments, capture exit status and stderr;
 *                    run_program_io also feeds stdin from a file and
 *                    captures stdout.
 *   temp_path        a fresh file name under build/tmp/ for scratch files.
 *   test_seed, test_uniform, test_below, random_floats, copy_floats
 *                    the tests' own seeded random numbers and buffers.
 *
 * cmocka 1.1.x wants these headers first, in this order. */
#ifndef GPTLADDER_TESTUTIL_H
#define GPTLADDER_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

/* ---- the tests' own random numbers ----
 * splitmix64 (Vigna): one state word, good enough to fill test tensors, and
 * independent of tensor.c's Rng, so that a change there cannot change what a
 * test feeds in. */

static uint64_t test_rng = 1;

static inline void test_seed(uint64_t seed) { test_rng = seed; }

static inline uint64_t test_u64(void) {
    uint64_t z = (test_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline float test_uniform(float lo, float hi) {
    return lo + (hi - lo) * (float)((double)(test_u64() >> 11) / 9007199254740992.0);
}

static inline int test_below(int n) { return (int)(test_u64() % (uint64_t)n); }

/* n floats uniform in [lo, hi), malloc'd (to free). */
static inline float *random_floats(size_t n, float lo, float hi) {
    float *x = malloc(n * sizeof(float));
    assert_non_null(x);
    for (size_t i = 0; i < n; i++) x[i] = test_uniform(lo, hi);
    return x;
}

static inline float *copy_floats(const float *x, size_t n) {
    float *y = malloc(n * sizeof(float));
    assert_non_null(y);
    memcpy(y, x, n * sizeof(float));
    return y;
}

/* Fails the test unless |got[i] - want[i]| <= atol + rtol * |want[i]| for all i. */
static inline void check_close(const char *name, const float *got, const float *want, size_t n,
                               double rtol, double atol) {
    size_t worst = 0;
    double worst_excess = -1.0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        double excess = fabs(g - w) - (atol + rtol * fabs(w));
        if (!(excess <= 0.0)) bad = 1;  /* also catches NaN */
        if (!(excess <= worst_excess)) { worst_excess = excess; worst = i; }
    }
    if (bad) {
        print_error("%s: mismatch at index %zu: got %.9g, want %.9g (|diff| %.3g, rtol %.1g, atol %.1g)\n",
                    name, worst, (double)got[worst], (double)want[worst],
                    fabs((double)got[worst] - (double)want[worst]), rtol, atol);
        fail();
    }
}

/* Reads everything from fd into a malloc'd NUL-terminated string; its length
 * (which counts any NUL bytes inside) goes to *len_out if that is non-NULL. */
static inline char *testutil_slurp_len(int fd, size_t *len_out) {
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while ((r = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)r;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    if (len_out) *len_out = len;
    return buf;
}

static inline char *testutil_slurp(int fd) { return testutil_slurp_len(fd, NULL); }

/* Runs fn(arg) in a forked child with stderr captured. Passes when the child
 * exits with a non-zero status (not a signal: a crash is a bug) and its stderr
 * contains `phrase` on a single line starting with "error: ". */
static inline void expect_death(void (*fn)(void *), void *arg, const char *phrase) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        if (!freopen("/dev/null", "w", stdout)) _exit(99);
        fn(arg);
        _exit(0);  /* it survived: the test will fail */
    }
    close(fds[1]);
    char *err = testutil_slurp(fds[0]);
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status)) {
        print_error("expected a clean exit with an error, but the child died of signal %d; stderr:\n%s",
                    WTERMSIG(status), err);
        free(err);
        fail();
    }
    if (WEXITSTATUS(status) == 0) {
        print_error("expected failure mentioning '%s', but it succeeded; stderr:\n%s", phrase, err);
        free(err);
        fail();
    }
    if (!strstr(err, "error: ") || !strstr(err, phrase)) {
        print_error("expected an 'error: ...' line mentioning '%s'; stderr was:\n%s", phrase, err);
        free(err);
        fail();
    }
    free(err);
}

/* Writes a fresh path "build/tmp/<pid>-<tag>" into buf (creating build/tmp). */
static inline const char *temp_path(char *buf, size_t n, const char *tag) {
    mkdir("build", 0755);
    mkdir("build/tmp", 0755);
    snprintf(buf, n, "build/tmp/%d-%s", (int)getpid(), tag);
    return buf;
}

/* No program a test runs takes this long (an hour: not even under the
 * sanitizers on a loaded machine); one that hangs (reading a FIFO) is killed
 * then, and the test fails instead of hanging. A test that
 * expects a quick refusal may lower it. */
static unsigned test_program_limit_s = 3600;

/* Runs $GPTLADDER_BIN/prog (default build/prog) with NULL-terminated args
 * (argv[0] is filled in) and returns its exit status (128 + the signal if it
 * was killed, 128 + SIGALRM after test_program_limit_s seconds). Its stderr goes into *err_out (if non-NULL; to free).
 *   stdin_path  standard input is read from this file (NULL: inherited)
 *   out         receives its stdout (to free), with the length in *out_len
 *               if out_len is non-NULL; NULL sends stdout to /dev/null.
 * Stdout goes through a file, so that a long output cannot fill a pipe while
 * stderr is being read. */
static inline int run_program_io(const char *prog, const char **args, const char *stdin_path,
                                 char **out, size_t *out_len, char **err_out) {
    const char *bin = getenv("GPTLADDER_BIN");
    char path[512], out_path[256];
    snprintf(path, sizeof path, "%s/%s", bin ? bin : "build", prog);
    temp_path(out_path, sizeof out_path, "stdout");
    int n = 0;
    while (args && args[n]) n++;
    char **argv = calloc((size_t)n + 2, sizeof(char *));
    argv[0] = path;
    for (int i = 0; i < n; i++) argv[i + 1] = (char *)args[i];
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        if (stdin_path && !freopen(stdin_path, "r", stdin)) _exit(98);
        if (!freopen(out ? out_path : "/dev/null", "w", stdout)) _exit(99);
        alarm(test_program_limit_s);  /* kept across exec: a program that hangs dies of SIGALRM */
        execv(path, argv);
        fprintf(stderr, "cannot run %s\n", path);
        _exit(127);
    }
    close(fds[1]);
    char *err = testutil_slurp(fds[0]);
    close(fds[0]);
    free(argv);
    int status;
    waitpid(pid, &status, 0);
    if (out) {
        int fd = open(out_path, O_RDONLY);
        assert_true(fd >= 0);
        *out = testutil_slurp_len(fd, out_len);
        close(fd);
        remove(out_path);
    }
    if (err_out) *err_out = err; else free(err);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The same with stdout discarded and stdin inherited. */
static inline int run_program(const char *prog, const char **args, char **err_out) {
    return run_program_io(prog, args, NULL, NULL, NULL, err_out);
}

/* Runs prog with args and fails the test, showing its stderr, unless it
 * exits 0. */
static inline void expect_program_ok(const char *prog, const char **args) {
    char *err = NULL;
    int status = run_program(prog, args, &err);
    if (status != 0) {
        print_error("%s %s exited with status %d%s; stderr:\n%s", prog, args[0] ? args[0] : "", status,
                    status > 128 ? " (killed by a signal: a crash)" : "", err);
        free(err);
        fail();
    }
    free(err);
}

/* Runs prog expecting it to refuse its input the way every program must: exit
 * status 1 (not a crash), and stderr exactly one line, "error: ..." containing
 * `phrase` (and `also`, unless NULL). */
static inline void expect_program_refuses(const char *prog, const char **args, const char *phrase,
                                          const char *also) {
    char *err = NULL;
    int status = run_program(prog, args, &err);
    int lines = 0;
    for (const char *p = err; *p; p++) lines += *p == '\n';
    if (status != 1 || strncmp(err, "error: ", 7) != 0 || lines != 1 || !strstr(err, phrase) ||
        (also && !strstr(err, also))) {
        print_error("expected %s %s to exit with status 1 and one 'error: ...' line mentioning '%s'%s%s%s;\n"
                    "got status %d and stderr:\n%s", prog, args[0] ? args[0] : "", phrase,
                    also ? " and '" : "", also ? also : "", also ? "'" : "", status, err);
        free(err);
        fail();
    }
    free(err);
}

/* Writes `len` bytes to path (test fixtures). */
static inline void write_bytes(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len) assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static inline int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

#endif
