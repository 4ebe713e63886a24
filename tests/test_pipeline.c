/* test_pipeline.c — the whole ladder end to end, as `make run FAST=1` runs it.
 *
 * The unit tests check each piece; this checks that the pieces fit: the toy
 * world is generated, the tokenizer trained, and every rung runs in order on
 * the previous rung's files, each leaving its checkpoint, its log and its
 * summary line. It runs in a copy of the project under build/tmp/, so your
 * own data/, out/ and plots/ are never touched. FAST=1 uses tiny settings:
 * what is checked is that everything runs and every number is finite, not
 * what the numbers are (that is the notes' job, from a real `make run`).
 */
#include "testutil.h"

#include <ctype.h>

/* The rungs' outputs, in the order make run produces them. */
static const char *outs[] = {
    "gpt1_pretrain.out", "gpt1_finetune.out", "gpt2_zeroshot.out", "gpt3_fewshot.out",
    "sft.out", "reward.out", "ppo.out",
};
static const char *checkpoints[] = {"gpt1.bin", "gpt1_classifier.bin", "gpt1_classifier.head",
                                    "sft.bin", "reward.bin", "reward.head", "ppo.bin", "ppo_beta0.bin"};

static int sh(const char *cmd) {
    fflush(stdout);
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Every field of every data row of a TSV log is a finite number, "-" (not
 * measured at that step) or a word (a run or task name): never nan or inf. */
static void check_log_is_finite(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) { print_error("missing log %s\n", path); fail(); }
    char line[4096];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (lineno == 1) continue;  /* header */
        for (char *tok = strtok(line, "\t\n"); tok; tok = strtok(NULL, "\t\n")) {
            char lower[64];
            size_t n = strlen(tok) < sizeof lower - 1 ? strlen(tok) : sizeof lower - 1;
            for (size_t i = 0; i < n; i++) lower[i] = (char)tolower((unsigned char)tok[i]);
            lower[n] = '\0';
            if (strstr(lower, "nan") || strstr(lower, "inf")) {
                print_error("%s:%d: a field is '%s'\n", path, lineno, tok);
                fclose(f);
                fail();
            }
        }
    }
    fclose(f);
    assert_true(lineno >= 2);
}

static void test_make_run_fast_runs_every_rung_and_leaves_finite_logs(void **state) {
    (void)state;
    char dir[256], cmd[8192];
    temp_path(dir, sizeof dir, "pipeline");
    /* a copy of what `make run` reads; build/ comes along so nothing recompiles */
    snprintf(cmd, sizeof cmd,
             "rm -rf %s && mkdir -p %s/build %s/plots && cp -rp Makefile src bench data tools %s/ && "
             "cp -p plots/*.gp %s/plots/ && cp -rp build/obj build/libladder.a build/.deps-ok %s/build/ && "
             "for p in build/*; do [ -f \"$p\" ] && [ -x \"$p\" ] && cp -p \"$p\" %s/build/; done; "
             "rm -f %s/data/pretrain.txt",
             dir, dir, dir, dir, dir, dir, dir, dir);
    assert_int_equal(sh(cmd), 0);
    snprintf(cmd, sizeof cmd, "make -C %s --no-print-directory run FAST=1 > %s.log 2>&1", dir, dir);
    int status = sh(cmd);
    if (status != 0) {
        print_error("make run FAST=1 failed (status %d); its output is in %s.log\n", status, dir);
        fail();
    }
    char path[512];
    for (size_t i = 0; i < sizeof checkpoints / sizeof *checkpoints; i++) {
        snprintf(path, sizeof path, "%s/out/fast/%s", dir, checkpoints[i]);
        if (!file_exists(path)) { print_error("missing checkpoint %s\n", path); fail(); }
    }
    for (size_t i = 0; i < sizeof outs / sizeof *outs; i++) {
        snprintf(path, sizeof path, "%s/out/fast/%s", dir, outs[i]);
        snprintf(cmd, sizeof cmd, "grep -q '^summary' %s", path);
        if (sh(cmd) != 0) { print_error("%s has no summary line\n", path); fail(); }
    }
    /* every log the rungs wrote */
    snprintf(cmd, sizeof cmd, "ls %s/out/fast/*.tsv > %s.logs", dir, dir);
    assert_int_equal(sh(cmd), 0);
    snprintf(path, sizeof path, "%s.logs", dir);
    FILE *list = fopen(path, "r");
    assert_non_null(list);
    char log[512];
    int nlogs = 0;
    while (fgets(log, sizeof log, list)) {
        log[strcspn(log, "\n")] = '\0';
        check_log_is_finite(log);
        nlogs++;
    }
    fclose(list);
    assert_true(nlogs >= 4);
    /* the summary table at the end of the run */
    snprintf(cmd, sizeof cmd, "grep -q '== gptladder: what each rung showed' %s.log", dir);
    assert_int_equal(sh(cmd), 0);
    /* a second run with nothing changed trains nothing */
    snprintf(cmd, sizeof cmd,
             "make -C %s --no-print-directory run FAST=1 2>&1 | grep -E 'build/(gpt1|gpt2_zeroshot|gpt3_fewshot|sft|reward|ppo) ' > /dev/null",
             dir);
    assert_int_not_equal(sh(cmd), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s %s.log %s.logs", dir, dir, dir);
    sh(cmd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_make_run_fast_runs_every_rung_and_leaves_finite_logs),
    };
    return cmocka_run_group_tests_name("pipeline", tests, NULL, NULL);
}
