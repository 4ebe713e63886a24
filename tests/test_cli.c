/* test_cli.c — what the flag table (src/cli.[ch]) and the file checks under
 * it (src/util.c) promise every program, one property per test:
 *
 *   1. A flag's value lands in its variable, in either spelling (--steps 5,
 *      --steps=5); the default is whatever the variable held.
 *   2. --fast (or GPTLADDER_FAST=1) applies each flag's preset first, so an
 *      explicit flag still wins over it.
 *   3. Every refusal is one line: an unknown flag, a missing value, a flag
 *      given twice, a value out of range, a stray argument.
 *   4. Outputs are proven writable before any work: a missing folder, a
 *      folder that is a file, an output that is a folder or a device.
 *   5. A run never writes a file it reads: --out equal to an input (also by
 *      another spelling of the same path) is refused, and so are two outputs
 *      naming one file.
 *   6. Inputs are regular files: a FIFO is refused at once instead of hanging.
 *   7. A log survives a failed run: log_open writes PATH.tmp, and PATH keeps
 *      its old contents until log_commit.
 */
#include "testutil.h"
#include "cli.h"
#include "util.h"

#include <fcntl.h>
#include <sys/stat.h>

/* The little program every test parses for: a few flags of each kind. */
typedef struct {
    int steps, seed, threads, on, fast;
    float lr;
    const char *model, *out, *log, *name;
} Opts;

static Opts opts_default(void) {
    Opts o = {0};
    o.steps = 100; o.seed = 1; o.on = 0; o.lr = 0.5f;
    o.model = "tests/cli_model_that_need_not_exist.bin";
    o.out = "build/tmp/cli-out.bin";
    o.log = "build/tmp/cli-log.tsv";
    o.name = "x";
    return o;
}

static void parse(Opts *o, int argc, char **argv) {
    const Flag flags[] = {
        FLAG_INT("steps", &o->steps, 1, 1000, "steps", "3"),
        FLAG_FLOAT("lr", &o->lr, 0, 1, "learning rate", "0.25"),
        FLAG_MODEL(&o->model, "checkpoint to read"),
        FLAG_OUT("out", &o->out, "checkpoint to write"),
        FLAG_LOG(&o->log),
        FLAG_TEXT("name", &o->name, "S", "a name"),
        FLAG_ON("on", &o->on, "a switch"),
        FLAG_END};
    Cli cli = {"toy", "a test program", flags, &o->seed, &o->threads, &o->fast};
    cli_parse(&cli, argc, argv);
}

/* argv from a NULL-terminated list, argv[0] = "toy" */
#define ARGV(...) (char *[]){"toy", __VA_ARGS__, NULL}
static int count(char **argv) { int n = 0; while (argv[n]) n++; return n; }

static void setup_tmp(void) { char buf[64]; temp_path(buf, sizeof buf, "x"); }

/* ---- 1. values and defaults ---- */

static void test_flags_land_in_their_variables_and_defaults_stay(void **state) {
    (void)state;
    setup_tmp();
    Opts o = opts_default();
    char **argv = ARGV("--steps", "7", "--lr=0.125", "--on", "--name", "bob");
    parse(&o, count(argv), argv);
    assert_int_equal(o.steps, 7);
    assert_true(o.lr == 0.125f);
    assert_int_equal(o.on, 1);
    assert_string_equal(o.name, "bob");
    assert_int_equal(o.seed, 1);  /* untouched: the default */
    assert_int_equal(o.fast, 0);
}

/* ---- 2. --fast ---- */

static void test_fast_applies_presets_but_an_explicit_flag_wins(void **state) {
    (void)state;
    setup_tmp();
    Opts o = opts_default();
    char **argv = ARGV("--lr", "0.75", "--fast");  /* --fast after: still loses to --lr */
    parse(&o, count(argv), argv);
    assert_int_equal(o.steps, 3);
    assert_true(o.lr == 0.75f);
    assert_int_equal(o.fast, 1);
}

static void test_gptladder_fast_in_the_environment_acts_as_fast(void **state) {
    (void)state;
    setup_tmp();
    setenv("GPTLADDER_FAST", "1", 1);
    Opts o = opts_default();
    char **argv = ARGV("--seed", "2");
    parse(&o, count(argv), argv);
    unsetenv("GPTLADDER_FAST");
    assert_int_equal(o.steps, 3);
    assert_int_equal(o.seed, 2);
}

/* ---- 3. one-line refusals ---- */

typedef struct { char **argv; } Args;
static void parse_args(void *p) {
    Args *a = p;
    Opts o = opts_default();
    parse(&o, count(a->argv), a->argv);
}
static void refuses(char **argv, const char *phrase) {
    Args a = {argv};
    expect_death(parse_args, &a, phrase);
}

static void test_every_bad_command_line_is_refused_in_one_line(void **state) {
    (void)state;
    setup_tmp();
    refuses(ARGV("--epochs", "3"), "unknown flag --epochs for toy (see toy --help)");
    refuses(ARGV("--steps"), "--steps needs a value");
    refuses(ARGV("--steps", "--on"), "--steps needs a value");  /* the next word is a flag */
    refuses(ARGV("--steps", "3", "--steps", "4"), "--steps given twice");
    refuses(ARGV("--steps", "0"), "--steps: '0' is not an integer in [1, 1000]");
    refuses(ARGV("--steps", "ten"), "--steps: 'ten' is not an integer");
    refuses(ARGV("--lr", "nan"), "--lr: 'nan' is not a number in [0, 1]");
    refuses(ARGV("--on=1"), "--on takes no value");
    refuses(ARGV("train"), "unexpected argument 'train'");
}

/* ---- 4. outputs proven writable before any work ---- */

static void test_an_output_that_cannot_be_written_is_refused_before_any_work(void **state) {
    (void)state;
    char file[64];
    temp_path(file, sizeof file, "plain-file");
    write_bytes(file, "x", 1);
    char inside[96];
    snprintf(inside, sizeof inside, "%s/model.bin", file);
    refuses(ARGV("--out", "build/tmp/no/such/folder/m.bin"), "folder build/tmp/no/such/folder does not exist");
    refuses(ARGV("--out", inside), "is not a folder");
    refuses(ARGV("--out", "build/tmp"), "it is a folder");
    refuses(ARGV("--log", "/dev/full"), "cannot write /dev/full: it is a device");
    refuses(ARGV("--out", "/proc/gptladder-test.bin"), "cannot write /proc/gptladder-test.bin");
    remove(file);
}

/* ---- 5. a run never writes what it reads ---- */

static void test_an_output_naming_an_input_or_another_output_is_refused(void **state) {
    (void)state;
    char model[64], other[96];
    temp_path(model, sizeof model, "model.bin");
    write_bytes(model, "m", 1);
    refuses(ARGV("--model", model, "--out", model), "is also --model");
    snprintf(other, sizeof other, "build/../%s", model);  /* the same file, spelt differently */
    refuses(ARGV("--model", model, "--out", other), "is also --model");
    refuses(ARGV("--out", "build/tmp/same.bin", "--log", "build/tmp/same.bin"), "is also --log");
    remove(model);
}

/* ---- 6. inputs are regular files ---- */

static void open_fifo(void *path) { FILE *f = fopen_or_die(path, "rb"); fclose(f); }

static void test_a_fifo_given_as_an_input_is_refused_without_waiting(void **state) {
    (void)state;
    char fifo[64];
    temp_path(fifo, sizeof fifo, "fifo");
    remove(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    expect_death(open_fifo, fifo, "it is a FIFO, not a regular file");  /* a hang would time the suite out */
    expect_death(open_fifo, "build/tmp", "it is a folder, not a regular file");
    remove(fifo);
}

/* ---- 7. logs ---- */

static void test_a_log_keeps_its_old_contents_until_the_new_run_commits(void **state) {
    (void)state;
    char path[64];
    temp_path(path, sizeof path, "log.tsv");
    write_bytes(path, "old\n", 4);
    AtomicFile log;
    log_open(&log, path, 0);
    fprintf(log.f, "new\n");
    log_flush(&log);
    size_t n;
    char *text = read_file_or_die(path, &n);
    assert_string_equal(text, "old\n");  /* a kill -9 here would leave the old log */
    free(text);
    log_commit(&log);
    text = read_file_or_die(path, &n);
    assert_string_equal(text, "new\n");
    free(text);
    remove(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags_land_in_their_variables_and_defaults_stay),
        cmocka_unit_test(test_fast_applies_presets_but_an_explicit_flag_wins),
        cmocka_unit_test(test_gptladder_fast_in_the_environment_acts_as_fast),
        cmocka_unit_test(test_every_bad_command_line_is_refused_in_one_line),
        cmocka_unit_test(test_an_output_that_cannot_be_written_is_refused_before_any_work),
        cmocka_unit_test(test_an_output_naming_an_input_or_another_output_is_refused),
        cmocka_unit_test(test_a_fifo_given_as_an_input_is_refused_without_waiting),
        cmocka_unit_test(test_a_log_keeps_its_old_contents_until_the_new_run_commits),
    };
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
