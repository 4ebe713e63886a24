/* failing_runs.h — what the training rungs' tests (test_sft, test_reward)
 * share to check that a run fails well: nothing lost, nothing hung.
 *
 *   run_limited       run one of our programs with a time limit (an alarm
 *                     that survives exec): a program that hangs on a FIFO
 *                     is killed and the test fails instead of hanging.
 *   kill_when_logging start a program, wait until its log's temporary
 *                     (PATH.tmp) holds a few rows, and kill -9 it: a run
 *                     killed in the middle.
 *   expect_refused_before_work
 *                     a run that must stop with one "error: ..." line before
 *                     it prints or writes anything: its stdout is empty and
 *                     the previous log is byte for byte as it was.
 *
 * Include after testutil.h. */
#ifndef GPTLADDER_FAILING_RUNS_H
#define GPTLADDER_FAILING_RUNS_H

#include <signal.h>
#include <time.h>

#define RUN_LIMIT_S 60   /* far above any refusal (milliseconds); only a hang reaches it */

/* build/prog with args (NULL-terminated, argv[0] filled in), killed by
 * SIGALRM after limit_s seconds. Returns the exit status (128 + signal if
 * killed); *out and *err (to free, each may be NULL) receive stdout and
 * stderr. */
static inline int run_limited(const char *prog, const char **args, int limit_s, char **out, char **err) {
    const char *bin = getenv("GPTLADDER_BIN");
    char path[512], out_path[256];
    snprintf(path, sizeof path, "%s/%s", bin ? bin : "build", prog);
    temp_path(out_path, sizeof out_path, "limited-stdout");
    int n = 0;
    while (args[n]) n++;
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
        if (!freopen("/dev/null", "r", stdin) || !freopen(out_path, "w", stdout)) _exit(99);
        alarm((unsigned)limit_s);  /* pending across exec: a hang ends in SIGALRM */
        execv(path, argv);
        _exit(127);
    }
    close(fds[1]);
    char *e = testutil_slurp(fds[0]);
    close(fds[0]);
    free(argv);
    int status;
    waitpid(pid, &status, 0);
    int fd = open(out_path, O_RDONLY);
    assert_true(fd >= 0);
    char *o = testutil_slurp(fd);
    close(fd);
    remove(out_path);
    if (out) *out = o; else free(o);
    if (err) *err = e; else free(e);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static inline int count_newlines(const char *path) {
    FILE *f = fopen(path, "r");
    int n = 0, c;
    if (!f) return 0;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

/* Starts build/prog with args, waits until `tmp_log` (the run's PATH.tmp)
 * holds at least `rows` lines, then kills it with SIGKILL. Fails the test if
 * the program ends by itself first, or no row comes within RUN_LIMIT_S. */
static inline void kill_when_logging(const char *prog, const char **args, const char *tmp_log, int rows) {
    const char *bin = getenv("GPTLADDER_BIN");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", bin ? bin : "build", prog);
    int n = 0;
    while (args[n]) n++;
    char **argv = calloc((size_t)n + 2, sizeof(char *));
    argv[0] = path;
    for (int i = 0; i < n; i++) argv[i + 1] = (char *)args[i];
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(99);
        alarm(RUN_LIMIT_S);
        execv(path, argv);
        _exit(127);
    }
    free(argv);
    int status, waited = 0;
    struct timespec tick = {0, 5 * 1000 * 1000};  /* polls the log every 5 ms */
    while (count_newlines(tmp_log) < rows) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            print_error("%s ended (status %d) before %s held %d rows\n", prog, status, tmp_log, rows);
            fail();
        }
        nanosleep(&tick, NULL);
        if (++waited > RUN_LIMIT_S * 200) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            print_error("%s wrote no %d rows to %s within %d s\n", prog, rows, tmp_log, RUN_LIMIT_S);
            fail();
        }
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* Runs build/prog with args and checks that it refused in one line
 * containing `phrase` (exit 1), before doing anything: nothing on stdout,
 * and the file `log` (written beforehand with known text) unchanged. */
static inline void expect_refused_before_work(const char *prog, const char **args, const char *phrase,
                                              const char *log) {
    static const char previous[] = "step\tprevious\n1\t0.5\n";
    write_bytes(log, previous, sizeof previous - 1);
    char *out, *err;
    int status = run_limited(prog, args, RUN_LIMIT_S, &out, &err);
    int lines = 0;
    for (const char *p = err; *p; p++) lines += *p == '\n';
    size_t len;
    char *kept = read_file_or_die(log, &len);
    int log_kept = len == sizeof previous - 1 && memcmp(kept, previous, len) == 0;
    if (status != 1 || strncmp(err, "error: ", 7) != 0 || lines != 1 || !strstr(err, phrase) || out[0] != '\0' ||
        !log_kept) {
        print_error("expected %s to refuse with one line mentioning '%s' before any work (exit 1, no stdout, "
                    "the log kept);\ngot status %d%s, log %s, stderr:\n%s\nstdout:\n%.300s\n", prog, phrase, status,
                    status == 128 + SIGALRM ? " (it hung)" : "", log_kept ? "kept" : "CHANGED", err, out);
        fail();
    }
    free(kept);
    free(out);
    free(err);
}

#endif
