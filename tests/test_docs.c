/* test_docs.c — every command in the README and the notes runs, like a doctest.
 *
 * A note's command that no longer runs (a renamed flag, a program that moved)
 * is a note that lies. This test reads README.md, every notes/NN-*.md and
 * data/README.md in order and runs what a learner would type:
 *
 *   ```sh       every line is shell (continued with \ as usual);
 *   ```console  the lines starting "$ " are shell, the rest is their output;
 *   ```gdb      a debugger recipe: "gdb --args PROG ARGS", then "(gdb) CMD"
 *               lines, run with gdb -batch against the -O0 build of `make
 *               debug` (skipped, with a message, when gdb is missing);
 *   `./build/PROG ...`  an inline span in the text: one command.
 *
 * Any other fenced block is text, and holds no line that looks like a command
 * (test_no_command_hides_in_a_block_that_is_not_run). Numbers in the notes
 * are not checked: they come from the full `make run`; this proves the
 * commands.
 *
 * Everything runs in a scratch copy of the project, build/tmp/docs/: build/
 * (a link to the real one), the toy world regenerated small (200k tokens of
 * pretraining text), the committed plots/ logs, and an out/ holding the whole
 * ladder trained at --fast size (about 10 s). Every program runs with
 * GPTLADDER_FAST=1 (the --fast preset); "/tmp/" in a command becomes the
 * scratch copy's tmp/; a few flags that set a length are capped (--steps 5,
 * --epochs 1, --evals 4, --iters 2, --tokens 100000). The files are read in
 * order (README.md,
 * notes/ by name, data/README.md) and share the scratch copy, so a command
 * may use what an earlier one wrote, as a reader's would. `my.txt` and
 * `my_val.txt`, the README's "your own text", are cut from the toy corpus.
 *
 * Not run (the `skips` table says why): make's own targets, and what needs
 * tools the suite does not assume (valgrind, PyTorch, libFuzzer builds).
 * Set GPTLADDER_DOCS_VERBOSE=1 to print every command with its time, and
 * GPTLADDER_DOCS_TIMEOUT=S to stop a command after S seconds (default 120).
 */
#include "testutil.h"

#include <ctype.h>
#include <glob.h>
#include <sched.h>
#include <sys/time.h>

#define DOCS_DIR "build/tmp/docs"

/* What is not run, and why. A block holding one of these is skipped whole. */
static const struct { const char *prefix, *why; } skips[] = {
    {"make", "make's targets build or train the whole ladder; make run FAST=1 is tests/test_pipeline.c"},
    {"valgrind", "valgrind is not assumed (notes/09 gives its numbers)"},
    {"tar ", "part of the valgrind recipe"},
    {"cd ", "leaves the scratch copy"},
    {"build/fuzz/", "needs make fuzz (clang, libFuzzer)"},
    {"bash bench/compare.sh", "needs PyTorch"},
    {"python", "no Python in the suite"},
    {"GPTLADDER_SHOW_MESSAGES=1 build/test_badinput", "the bad-input suite itself (make test runs it)"},
    {"for l in 0 1 2 3; do", "reads all four blocks of rung 1's full model (the scratch ladder is --fast: two)"},
};

/* Flags that set how long a command runs, capped to keep the suite short. */
static const struct { const char *flag; long cap; } caps[] = {
    {"--steps", 5}, {"--epochs", 1}, {"--evals", 4}, {"--iters", 2}, {"--tokens", 100000},
};

/* What one pass over the docs found (the group setup runs it once). */
static struct {
    char root[512];   /* absolute path of the repository */
    char scratch[600];
    int have_gdb, have_gnuplot;
    int timeout;       /* seconds a unit may run */
    int commands, failed, skipped;
    int recipes, recipes_failed;
    int hidden;        /* command-like lines in blocks that are not run */
    double seconds;
} run;

static int sh(const char *cmd) {
    fflush(stdout);
    fflush(stderr);
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static double wall(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
}

static int starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static const char *skip_reason(const char *cmd) {
    while (*cmd == ' ') cmd++;
    if (!run.have_gnuplot && starts(cmd, "gnuplot ")) return "gnuplot is not installed";
    for (size_t i = 0; i < sizeof skips / sizeof *skips; i++) {
        size_t n = strlen(skips[i].prefix);
        if (strncmp(cmd, skips[i].prefix, n) == 0 && (cmd[n] == '\0' || cmd[n] == ' ' || cmd[n - 1] == ' '
                                                       || cmd[n - 1] == '/'))
            return skips[i].why;
    }
    return NULL;
}

/* ---- rewriting a command for the scratch copy ---- */

/* Appends s to the growing buffer *buf. */
static void put(char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
    if (*len + n + 1 > *cap) {
        *cap = 2 * (*len + n + 1);
        *buf = realloc(*buf, *cap);
        assert_non_null(*buf);
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

/* text with "/tmp/" pointing into the scratch copy and the length flags
 * capped (a malloc'd string). */
static char *rewrite(const char *text) {
    char *out = NULL, tmp[700];
    size_t len = 0, cap = 0;
    snprintf(tmp, sizeof tmp, "%s/tmp/", run.scratch);
    put(&out, &len, &cap, "", 0);
    for (const char *p = text; *p;) {
        if (starts(p, "/tmp/")) {
            put(&out, &len, &cap, tmp, strlen(tmp));
            p += 5;
            continue;
        }
        int capped = 0;
        for (size_t i = 0; i < sizeof caps / sizeof *caps && !capped; i++) {
            size_t n = strlen(caps[i].flag);
            if (!starts(p, caps[i].flag) || p[n] != ' ' || !isdigit((unsigned char)p[n + 1])) continue;
            char *end;
            long v = strtol(p + n + 1, &end, 10);
            if (*end != ' ' && *end != '\0' && *end != '\n' && *end != '`') continue;
            char num[64];
            snprintf(num, sizeof num, "%s %ld", caps[i].flag, v < caps[i].cap ? v : caps[i].cap);
            put(&out, &len, &cap, num, strlen(num));
            p = end;
            capped = 1;
        }
        if (!capped) put(&out, &len, &cap, p++, 1);
    }
    return out;
}

/* ---- running one unit: a shell block, an inline command, a gdb recipe ---- */

static void report(const char *doc, int line, const char *what, const char *log) {
    printf("docs: %s:%d: %s\n", doc, line, what);
    char cmd[16384];
    snprintf(cmd, sizeof cmd,
             "grep -E -m1 'unknown (flag|command)|does not take|No such file' %s | sed 's/^/      /'; "
             "grep -v '^__DOCS_' %s | tail -n 6 | sed 's/^/    | /'", log, log);
    sh(cmd);
}

/* The number after the last "MARKER N" in the file log, or -1. */
static int last_marker(const char *log, const char *marker) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "grep -o '%s [0-9]*' %s | tail -1 | cut -d' ' -f2", marker, log);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p && fscanf(p, "%d", &n) != 1) n = -1;
    if (p) pclose(p);
    return n;
}

/* Runs script (shell, its line k is line first+k-1 of doc) in the scratch copy. */
static void run_shell(const char *doc, int first, const char *script, int ncommands) {
    char path[4096], log[4096], cmd[16384];
    snprintf(path, sizeof path, "%s/.docs/unit.sh", run.scratch);
    snprintf(log, sizeof log, "%s/.docs/unit.log", run.scratch);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    /* line 1 is the prologue; the unit's lines follow, so LINENO maps back */
    fprintf(f, "set -eo pipefail; trap 'echo __DOCS_FAILED_LINE $LINENO' ERR\n%s\n", script);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cd %s && GPTLADDER_FAST=1 OMP_NUM_THREADS=1 timeout %d bash .docs/unit.sh "
             "< /dev/null > %s 2>&1", run.scratch, run.timeout, log);
    double t0 = wall();
    int status = sh(cmd);
    run.commands += ncommands;
    if (getenv("GPTLADDER_DOCS_VERBOSE")) printf("docs: %s:%d: %.1f s\n", doc, first, wall() - t0);
    if (status == 0) return;
    run.failed++;
    int k = last_marker(log, "__DOCS_FAILED_LINE"), line = k >= 2 ? first + k - 2 : first;
    char what[128];
    if (status == 124) snprintf(what, sizeof what, "a command ran past %d s", run.timeout);
    else snprintf(what, sizeof what, "a command failed (exit %d)", status);
    report(doc, line, what, log);
}

/* A gdb recipe: "gdb --args PROG ARGS" on line first, its (gdb) commands in
 * cmds[0..n-1] from lines lines[0..n-1]. The program's own output goes to a
 * file, so that gdb's stderr holds only gdb's complaints. */
static void run_gdb(const char *doc, int first, const char *args_line, char **cmds, int *lines, int n) {
    run.recipes++;
    if (!run.have_gdb) return;
    char *args = rewrite(args_line + strlen("gdb --args "));
    char prog[256] = "";
    sscanf(args, "%255s", prog);
    char path[4096], log[4096], err[4096], cmd[16384];
    snprintf(path, sizeof path, "%s/.docs/recipe.gdb", run.scratch);
    snprintf(log, sizeof log, "%s/.docs/recipe.log", run.scratch);
    snprintf(err, sizeof err, "%s/.docs/recipe.err", run.scratch);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "set pagination off\nset confirm off\nset args %s > %s/.docs/inferior.log 2>&1\n",
            args + strlen(prog), run.scratch);
    for (int i = 0; i < n; i++) fprintf(f, "echo __DOCS_LINE %d\\n\n%s\n", lines[i], cmds[i]);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cd %s && GPTLADDER_FAST=1 OMP_NUM_THREADS=1 timeout %d gdb -nx -batch -x %s %s "
             "< /dev/null > %s 2> %s", run.scratch, 2 * run.timeout, path, prog, log, err);
    int status = sh(cmd);
    /* gdb's complaints, warnings aside (a container may forbid turning off ASLR) */
    snprintf(cmd, sizeof cmd, "grep -v -e '^warning:' -e '^$' %s > /dev/null", err);
    int complained = sh(cmd) == 0;
    if (status == 0 && !complained) { free(args); return; }
    run.recipes_failed++;
    int line = last_marker(log, "__DOCS_LINE");
    if (line < 0) line = first;
    report(doc, line, "the gdb recipe failed here", err);
    free(args);
}

/* ---- reading one markdown file ---- */

typedef enum { TEXT, SHELL, CONSOLE, GDB, OTHER } Fence;

static Fence fence_kind(const char *info) {
    while (*info == ' ') info++;
    if (starts(info, "sh") || starts(info, "bash")) return SHELL;
    if (starts(info, "console")) return CONSOLE;
    if (starts(info, "gdb")) return GDB;
    return OTHER;
}

/* A line in a block that is not run, but reads like a command. */
static int looks_like_command(const char *s) {
    while (*s == ' ') s++;
    return starts(s, "$ ") || starts(s, "./build/") || starts(s, "gdb --args") || starts(s, "(gdb) ")
           || starts(s, "make ");
}

typedef struct {
    const char *doc;
    Fence kind;
    int first;            /* line of the opening fence */
    int indent;           /* its indentation, taken off every line */
    char *script;         /* shell: the block's lines, one per line */
    size_t len, cap;
    int ncommands;
    const char *skipped;  /* why the block is not run */
    char *gdb_args;       /* gdb: the "gdb --args" line */
    char *gdb_cmds[64];
    int gdb_lines[64], ngdb;
} Block;

static void block_line(Block *b, const char *line, int lineno) {
    char *body = NULL;
    if (b->kind == SHELL || b->kind == CONSOLE) {
        const char *cmd = line;
        if (b->kind == CONSOLE) cmd = starts(line, "$ ") ? line + 2 : NULL;
        if (cmd && *cmd && *cmd != '#') {
            b->ncommands++;
            if (!b->skipped) b->skipped = skip_reason(cmd);
        }
        body = rewrite(cmd ? cmd : "");
        put(&b->script, &b->len, &b->cap, body, strlen(body));
        put(&b->script, &b->len, &b->cap, "\n", 1);
    } else if (b->kind == GDB) {
        if (starts(line, "gdb --args ")) {
            b->gdb_args = strdup(line);
        } else if (starts(line, "(gdb) ") && b->ngdb < 64) {
            char *c = rewrite(line + 6);
            char *hash = strstr(c, "  #");   /* a comment after the command */
            if (hash) *hash = '\0';
            for (size_t n = strlen(c); n > 0 && c[n - 1] == ' '; n--) c[n - 1] = '\0';
            b->gdb_lines[b->ngdb] = lineno;
            b->gdb_cmds[b->ngdb++] = c;
        }
    } else if (looks_like_command(line)) {
        printf("docs: %s:%d: a command in a block that is not run (tag the block sh, console or gdb): %s\n",
               b->doc, lineno, line);
        run.hidden++;
    }
    free(body);
}

static void block_end(Block *b) {
    if (b->kind == SHELL || b->kind == CONSOLE) {
        if (b->skipped && b->ncommands) {
            run.skipped += b->ncommands;
            printf("docs: %s:%d: not run (%s)\n", b->doc, b->first, b->skipped);
        } else if (b->ncommands) {
            run_shell(b->doc, b->first + 1, b->script, b->ncommands);
        }
    } else if (b->kind == GDB) {
        if (!b->gdb_args) {
            printf("docs: %s:%d: a gdb block without its 'gdb --args PROG ARGS' line\n", b->doc, b->first);
            run.recipes_failed++;
        } else {
            run_gdb(b->doc, b->first, b->gdb_args, b->gdb_cmds, b->gdb_lines, b->ngdb);
        }
    }
    free(b->script);
    free(b->gdb_args);
    for (int i = 0; i < b->ngdb; i++) free(b->gdb_cmds[i]);
}

/* The `./build/...` spans of one paragraph line (a span may run onto the
 * next lines: they are joined with spaces by the caller). */
static void inline_commands(const char *doc, int lineno, const char *text) {
    for (const char *p = strchr(text, '`'); p; p = strchr(p + 1, '`')) {
        const char *end = strchr(p + 1, '`');
        if (!end) return;
        if (starts(p + 1, "./build/")) {
            char *cmd = strndup(p + 1, (size_t)(end - p - 1));
            char *script = rewrite(cmd);
            run_shell(doc, lineno, script, 1);
            free(script);
            free(cmd);
        }
        p = end;
    }
}

static int backticks(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '`';
    return n;
}

static void run_doc(const char *doc) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", run.root, doc);
    FILE *f = fopen(path, "r");
    if (!f) return;   /* a note not written yet on this branch */
    char line[8192], para[32768];
    int lineno = 0, in_block = 0, para_line = 0;
    Block b;
    para[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\n")] = '\0';
        /* a fence may be indented (a block inside a list item); so are its lines */
        int indent = (int)strspn(line, " ");
        if (starts(line + indent, "```")) {
            if (!in_block) {
                memset(&b, 0, sizeof b);
                b.doc = doc;
                b.first = lineno;
                b.indent = indent;
                b.kind = fence_kind(line + indent + 3);
                put(&b.script, &b.len, &b.cap, "", 0);
            } else {
                block_end(&b);
            }
            in_block = !in_block;
            continue;
        }
        if (in_block) {
            block_line(&b, line + (indent < b.indent ? indent : b.indent), lineno);
            continue;
        }
        /* text: join lines while a code span is open */
        if (para[0] == '\0') para_line = lineno;
        else strncat(para, " ", sizeof para - strlen(para) - 1);
        strncat(para, line, sizeof para - strlen(para) - 1);
        if (backticks(para) % 2 == 0 || line[0] == '\0') {
            inline_commands(doc, para_line, para);
            para[0] = '\0';
        }
    }
    if (in_block) printf("docs: %s:%d: a block that never ends\n", doc, b.first);
    fclose(f);
}

/* ---- the scratch copy ---- */

static int make_scratch(void) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "set -e; S=%s; rm -rf $S; mkdir -p $S/tmp $S/out/try $S/plots $S/data $S/.docs; "
             "ln -s %s/build $S/build; cp -p plots/*.gp plots/*.tsv $S/plots/ 2>/dev/null || true; "
             "cd $S; export GPTLADDER_FAST=1 OMP_NUM_THREADS=1; "
             "./build/toydata --out data --seed 1 --pretrain-tokens 200000; "
             "head -c 200000 data/pretrain.txt > my.txt; head -c 50000 data/val.txt > my_val.txt; "
             "./build/tokenizer train --data data/pretrain.txt --vocab 512 --out out/tokenizer; "
             "for f in pretrain val induction_train; do ./build/tokenizer encode --model out/tokenizer.merges "
             "  --data data/$f.txt --out out/$f.bin; done; "
             "L=out/try; F='--fast --threads 1'; "
             "./build/gpt1 pretrain $F --out out/gpt1.bin --log $L/p.tsv; "
             "./build/gpt1 finetune $F --model out/gpt1.bin --out out/gpt1_classifier.bin --log $L/f.tsv; "
             "./build/sft $F --model out/gpt1.bin --out out/sft.bin --log $L/sft.tsv; "
             "./build/reward train $F --model out/sft.bin --out out/reward.bin --log $L/r.tsv; "
             "./build/ppo $F --model out/sft.bin --reward out/reward.bin --out out/ppo.bin "
             "  --hack-out out/ppo_beta0.bin --log $L/ppo.tsv",
             run.scratch, run.root);
    char log[4096];
    snprintf(log, sizeof log, "%s.setup.log", run.scratch);
    char full[16384];
    snprintf(full, sizeof full, "(%s) > %s 2>&1", cmd, log);
    if (sh(full) != 0) {
        printf("docs: making the scratch copy failed; its output is in %s\n", log);
        return -1;
    }
    return 0;
}

/* Every command runs on one core. A program's threads default to all cores
 * (omp_get_num_procs, which counts the cores this process may use), and on a
 * machine busy with other work two spinning OpenMP threads made a --fast run
 * 40 times slower than one thread. The programs inherit this affinity. */
static void one_cpu(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return;
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, &set)) continue;
        CPU_ZERO(&set);
        CPU_SET(c, &set);
        sched_setaffinity(0, sizeof set, &set);
        return;
    }
}

static int setup(void **state) {
    (void)state;
    setvbuf(stdout, NULL, _IOLBF, 0);   /* each finding as it comes, also into a file */
    one_cpu();
    assert_non_null(getcwd(run.root, sizeof run.root));
    snprintf(run.scratch, sizeof run.scratch, "%s/%s", run.root, DOCS_DIR);
    const char *t = getenv("GPTLADDER_DOCS_TIMEOUT");
    run.timeout = t && atoi(t) > 0 ? atoi(t) : 120;
    run.have_gdb = sh("command -v gdb > /dev/null") == 0;
    run.have_gnuplot = sh("command -v gnuplot > /dev/null") == 0;
    double t0 = wall();
    mkdir("build", 0755);
    mkdir("build/tmp", 0755);
    if (make_scratch() != 0) return -1;
    if (run.have_gdb && sh("make --no-print-directory debug > " DOCS_DIR ".debug.log 2>&1") != 0) {
        printf("docs: make debug failed (%s.debug.log)\n", DOCS_DIR);
        return -1;
    }
    if (!run.have_gdb) printf("docs: gdb is not installed: the gdb recipes are not run\n");
    run_doc("README.md");
    glob_t notes;   /* every note, in name order (glob sorts) */
    if (glob("notes/*.md", 0, NULL, &notes) == 0) {
        for (size_t i = 0; i < notes.gl_pathc; i++) run_doc(notes.gl_pathv[i]);
        globfree(&notes);
    }
    run_doc("data/README.md");
    run.seconds = wall() - t0;
    printf("docs: %d commands run (%d failed), %d not run, %d gdb recipes%s (%d failed), in %.0f s\n",
           run.commands, run.failed, run.skipped, run.recipes, run.have_gdb ? "" : " (not run: no gdb)",
           run.recipes_failed, run.seconds);
    return 0;
}

/* ---- the tests ---- */

static void test_every_shell_command_in_the_readme_and_the_notes_runs(void **state) {
    (void)state;
    assert_true(run.commands > 0);
    assert_int_equal(run.failed, 0);
}

static void test_every_gdb_recipe_in_the_notes_runs_against_the_debug_build(void **state) {
    (void)state;
    if (!run.have_gdb) skip();
    assert_true(run.recipes > 0);
    assert_int_equal(run.recipes_failed, 0);
}

static void test_no_command_hides_in_a_block_that_is_not_run(void **state) {
    (void)state;
    assert_int_equal(run.hidden, 0);
}

/* The repository stands alone: nothing in it points at files it does not hold. */
static void test_no_file_refers_to_notes_outside_the_repository(void **state) {
    (void)state;
    /* grep's status, not a pipe's: a pipe into sed would always succeed. The
     * brackets keep the pattern from matching this line itself, so tests/ can
     * be searched too: a folder beside the repository, or a prototype's
     * notes page of its own. */
    int found = sh("cd \"$(git rev-parse --show-toplevel 2>/dev/null || pwd)\" && "
                   "grep -rnE 'shar[e]d/|[A-Z]+-NOTE[S]' README.md notes data/README.md src tests "
                   "Makefile plots/*.gp tools bench .ci > build/tmp/outside.txt 2>/dev/null");
    if (found == 0) sh("sed 's/^/docs: outside the repository: /' build/tmp/outside.txt");
    assert_int_not_equal(found, 0);   /* grep found nothing */
}

/* ---- make run's record of its checkpoints (tools/ladder.sh) ---- */

/* A ladder of stub files, recorded rung by rung as the Makefile's rules do. */
static void ladder_fixture(const char *dir) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "set -e; rm -rf %s; mkdir -p %s/out; cd %s; cp %s/tools/ladder.sh .; "
             "for f in gpt1.bin gpt1_classifier.bin gpt1_classifier.head sft.bin reward.bin reward.head "
             "ppo.bin ppo.head ppo_beta0.bin ppo_beta0.head; do echo \"$f\" > out/$f; done; "
             "for r in gpt1_pretrain gpt1_finetune gpt2_zeroshot gpt3_fewshot sft reward ppo; do "
             "echo \"summary $r\" > out/$r.out; done; "
             "./ladder.sh record out gpt1_pretrain out/gpt1.bin; "
             "./ladder.sh record out gpt1_finetune out/gpt1_classifier.bin out/gpt1_classifier.head; "
             "./ladder.sh record out sft out/sft.bin; ./ladder.sh record out reward out/reward.bin out/reward.head; "
             "./ladder.sh record out ppo out/ppo.bin out/ppo.head out/ppo_beta0.bin out/ppo_beta0.head",
             dir, dir, dir, run.root);
    assert_int_equal(sh(cmd), 0);
}

/* Runs a shell check in the fixture; on failure prints what the script said. */
static void in_fixture(const char *dir, const char *check) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd %s && %s", dir, check);
    if (sh(cmd) != 0) {
        snprintf(cmd, sizeof cmd, "cat %s/said.txt 2>/dev/null", dir);
        sh(cmd);
        fail_msg("in the ladder fixture: %s", check);
    }
}

static void test_make_run_redoes_a_rung_whose_checkpoint_was_replaced_by_hand(void **state) {
    (void)state;
    char dir[256], cmd[512];
    temp_path(dir, sizeof dir, "ladder");
    ladder_fixture(dir);
    /* one line saying what happens; the learner's file kept in out/try; the
     * rung undone (make redoes it, and the rungs built on it by their times) */
    in_fixture(dir, "echo mine > out/sft.bin && ./ladder.sh check out > said.txt && "
               "grep -qx 'out/sft.bin changed since make run made it: redoing sft and every rung built on it "
               "(your file is now out/try/sft.bin.replaced)' said.txt && [ $(wc -l < said.txt) = 1 ] && "
               "grep -qx mine out/try/sft.bin.replaced && [ ! -e out/sft.bin ] && [ ! -e out/sft.out ] && "
               "[ ! -e out/sft.sha256 ] && [ -e out/reward.out ] && [ -e out/gpt1.bin ]");
    /* pre-training's result is its checkpoint: removing it makes make redo it */
    ladder_fixture(dir);
    in_fixture(dir, "echo mine > out/gpt1.bin && ./ladder.sh check out > said.txt && "
               "grep -q '^out/gpt1.bin changed since make run made it: redoing gpt1 pretrain and every rung "
               "built on it' said.txt && [ ! -e out/gpt1.bin ] && [ ! -e out/gpt1_pretrain.out ]");
    /* a file that vanished undoes its rung too, the rung's other files with it */
    ladder_fixture(dir);
    in_fixture(dir, "rm out/reward.head && ./ladder.sh check out > said.txt && "
               "grep -qx 'out/reward.head is gone since make run made it: redoing reward and every rung built on it' "
               "said.txt && [ ! -e out/reward.bin ] && [ ! -e out/reward.out ] && [ -e out/ppo.out ]");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    sh(cmd);
}

static void test_make_run_leaves_an_unchanged_ladder_alone(void **state) {
    (void)state;
    char dir[256], cmd[512];
    temp_path(dir, sizeof dir, "ladder");
    ladder_fixture(dir);
    in_fixture(dir, "./ladder.sh check out > said.txt && [ ! -s said.txt ] && [ $(ls out/*.out | wc -l) = 7 ] && "
               "[ $(ls out/*.bin out/*.head | wc -l) = 10 ] && sha256sum --quiet -c out/*.sha256");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    sh(cmd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_make_run_redoes_a_rung_whose_checkpoint_was_replaced_by_hand),
        cmocka_unit_test(test_make_run_leaves_an_unchanged_ladder_alone),
        cmocka_unit_test(test_no_file_refers_to_notes_outside_the_repository),
        cmocka_unit_test(test_no_command_hides_in_a_block_that_is_not_run),
        cmocka_unit_test(test_every_shell_command_in_the_readme_and_the_notes_runs),
        cmocka_unit_test(test_every_gdb_recipe_in_the_notes_runs_against_the_debug_build),
    };
    return cmocka_run_group_tests_name("docs", tests, setup, NULL);
}
