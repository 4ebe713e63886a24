/* testutil.h — what every gptladder test file shares.
 *
 *   check_close      compare two float arrays with a relative + absolute
 *                    tolerance; on failure print the name, the worst index
 *                    and both values, then fail the test.
 *   expect_death     run a function in a child process (fork) and check that
 *                    it exits non-zero with a message on stderr containing a
 *                    given phrase: how we test "bad input gets one clear line".
 *   run_program      run one of our programs (build/NAME, or $GPTLADDER_BIN/NAME)
 *                    with arguments, capture exit status and stderr.
 *   temp_path        a fresh file name under build/tmp/ for scratch files.
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
#include <unistd.h>

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

/* Reads everything from fd into a malloc'd NUL-terminated string. */
static inline char *testutil_slurp(int fd) {
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while ((r = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)r;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    return buf;
}

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

/* Runs $GPTLADDER_BIN/prog (default build/prog) with NULL-terminated argv
 * (argv[0] is filled in), stdout to /dev/null. Returns the exit status
 * (128+signal if killed); *err_out (if non-NULL) receives stderr, to free. */
static inline int run_program(const char *prog, const char **args, char **err_out) {
    const char *bin = getenv("GPTLADDER_BIN");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", bin ? bin : "build", prog);
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
        if (!freopen("/dev/null", "w", stdout)) _exit(99);
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
    if (err_out) *err_out = err; else free(err);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Writes a fresh path "build/tmp/<pid>-<tag>" into buf (creating build/tmp). */
static inline const char *temp_path(char *buf, size_t n, const char *tag) {
    mkdir("build", 0755);
    mkdir("build/tmp", 0755);
    snprintf(buf, n, "build/tmp/%d-%s", (int)getpid(), tag);
    return buf;
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
