/* failing_runs.h — what the tests of sft, reward and chat
 * share to check that a run fails well: nothing lost, nothing hung.
 *
 *   expect_log_kept_after_kill
 *                     start a program, wait until its log's temporary
 *                     (PATH.tmp) holds a few rows, kill -9 it (a run killed
 *                     in the middle), and check that the previous log is
 *                     byte for byte as it was.
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
#include <sys/stat.h>

#define RUN_LIMIT_S 60      /* kill_when_logging: far above the few steps it waits for */
#define REFUSAL_LIMIT_S 30  /* expect_refused_before_work: far above any refusal */

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

/* Writes a previous log at `log`, runs build/prog with args (which must
 * name `log` as its --log and run long), kills it once its PATH.tmp holds
 * `rows` lines, and fails unless the previous log is exactly as it was. */
static inline void expect_log_kept_after_kill(const char *prog, const char **args, const char *log, int rows) {
    static const char previous[] = "step\tprevious\n1\t0.5\n";
    write_bytes(log, previous, sizeof previous - 1);
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s.tmp", log);
    kill_when_logging(prog, args, tmp, rows);
    size_t len;
    char *kept = read_file_or_die(log, &len);
    assert_int_equal(len, sizeof previous - 1);
    assert_memory_equal(kept, previous, len);
    free(kept);
    remove(tmp);
}

/* Runs build/prog with args and checks that it refused in one line
 * containing `phrase` (exit 1), before doing anything: nothing on stdout,
 * and the file `log` (written beforehand with known text) unchanged. */
static inline void expect_refused_before_work(const char *prog, const char **args, const char *phrase,
                                              const char *log) {
    static const char previous[] = "step\tprevious\n1\t0.5\n";
    write_bytes(log, previous, sizeof previous - 1);
    char *out, *err;
    unsigned limit = test_program_limit_s;
    test_program_limit_s = REFUSAL_LIMIT_S;  /* a refusal takes milliseconds; a hang ends here */
    int status = run_program_io(prog, args, "/dev/null", &out, NULL, &err);
    test_program_limit_s = limit;
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
