/* cli.c — the flag table: parsing, ranges, --help, output checks. See cli.h. */
#include "cli.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --seed, --threads and --fast, declared once for every program; --help is
 * handled before the table is searched. */
enum { MAX_FLAGS = 96 };

static int is_numeric(FlagKind k) { return k == CLI_INT || k == CLI_FLOAT; }
static int takes_value(FlagKind k) { return k != CLI_ON && k != CLI_OFF; }

/* The table with the common flags appended; returns the number of flags. */
static int all_flags(const Cli *cli, Flag *out, int *fast_dummy) {
    int n = 0;
    for (const Flag *f = cli->flags; f && f->name; f++) {
        if (n == MAX_FLAGS - 3) die("internal: %s declares too many flags", cli->program);
        out[n++] = *f;
    }
    if (cli->seed) out[n++] = (Flag)FLAG_INT("seed", cli->seed, 0, 2147483647, "random seed", NULL);
    if (cli->threads) {
        out[n++] = (Flag)FLAG_INT("threads", cli->threads, 0, 1024, "OpenMP threads, 0 = all cores", NULL);
    }
    out[n++] = (Flag)FLAG_ON("fast", fast_dummy, "tiny settings for tests (seconds, not minutes)");
    return n;
}

/* Stores text (a flag's value) into f's variable, checking its range. */
static void set_value(const Flag *f, const char *text) {
    switch (f->kind) {
    case CLI_INT: *(int *)f->value = (int)parse_long_flag(f->name, text, (long)f->lo, (long)f->hi); break;
    case CLI_FLOAT: *(float *)f->value = parse_float_flag(f->name, text, (float)f->lo, (float)f->hi); break;
    case CLI_TEXT: case CLI_IN: case CLI_OUT: *(const char **)f->value = text; break;
    case CLI_ON: *(int *)f->value = 1; break;
    case CLI_OFF: *(int *)f->value = 0; break;
    }
}

/* ---- --help ---- */

static const char *meta_of(const Flag *f) {
    if (f->meta) return f->meta;
    switch (f->kind) {
    case CLI_INT: return "N";
    case CLI_FLOAT: return "X";
    case CLI_TEXT: return "S";
    case CLI_IN: case CLI_OUT: return "PATH";
    default: return "";
    }
}

void cli_help(const Cli *cli) {
    Flag flags[MAX_FLAGS];
    int fast = 0;
    int n = all_flags(cli, flags, &fast);
    printf("usage: %s [flags]   %s\nflags (default; under --fast):\n", cli->program, cli->purpose);
    for (int i = 0; i < n; i++) {
        const Flag *f = &flags[i];
        char left[64];
        snprintf(left, sizeof left, "--%s %s", f->name, meta_of(f));
        printf("  %-22s %s", left, f->help);
        switch (f->kind) {
        case CLI_INT: printf(" (%d", *(int *)f->value); break;
        case CLI_FLOAT: printf(" (%g", (double)*(float *)f->value); break;
        case CLI_TEXT: case CLI_IN: case CLI_OUT: {
            const char *s = *(const char **)f->value;
            printf(" (%s", s && *s ? s : "none");
            break;
        }
        default: break;
        }
        if (is_numeric(f->kind) && f->fast) printf("; %s", f->fast);
        if (takes_value(f->kind)) printf(")");
        printf("\n");
    }
    printf("  %-22s this text\n", "--help");
}

/* ---- parsing ---- */

static const Flag *find(const Flag *flags, int n, const char *name, size_t len) {
    for (int i = 0; i < n; i++) {
        if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0) return &flags[i];
    }
    return NULL;
}

/* Every output is proven writable, and no two paths of the run (an output
 * and an input, or two outputs) may name the same file. */
static void check_paths(const Cli *cli, const Flag *flags, int n) {
    for (int i = 0; i < n; i++) {
        if (flags[i].kind != CLI_OUT) continue;
        const char *out = *(const char **)flags[i].value;
        if (!out || !*out) continue;
        if (strncmp(out, TRY_DIR "/", strlen(TRY_DIR) + 1) == 0) make_folder(TRY_DIR);
        require_writable(out);
        for (int j = 0; j < n; j++) {
            if (j == i || (flags[j].kind != CLI_IN && flags[j].kind != CLI_OUT)) continue;
            if (flags[j].kind == CLI_OUT && j < i) continue;  /* each pair of outputs once */
            const char *other = *(const char **)flags[j].value;
            if (!other || !*other || !same_file(out, other)) continue;
            die("--%s %s is also --%s: a run never writes the file it %s (see %s --help)",
                flags[i].name, out, flags[j].name,
                flags[j].kind == CLI_IN ? "reads" : "writes elsewhere", cli->program);
        }
    }
}

void cli_parse(const Cli *cli, int argc, char **argv) {
    Flag flags[MAX_FLAGS];
    int fast = 0;
    int n = all_flags(cli, flags, &fast);
    int given[MAX_FLAGS] = {0};
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
            cli_help(cli);
            exit(0);
        }
    }
    /* --fast first, so that an explicit flag still wins over the preset */
    const char *env = getenv("GPTLADDER_FAST");
    int fast_wanted = env && strcmp(env, "1") == 0;
    for (int a = 1; a < argc; a++) fast_wanted |= strcmp(argv[a], "--fast") == 0;
    if (fast_wanted) {
        for (int i = 0; i < n; i++) if (flags[i].fast) set_value(&flags[i], flags[i].fast);
        if (cli->fast) *cli->fast = 1;
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            die("unexpected argument '%s' (see %s --help)", arg, cli->program);
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const Flag *f = find(flags, n, name, len);
        if (!f) die("unknown flag --%.*s for %s (see %s --help)", (int)len, name, cli->program, cli->program);
        int idx = (int)(f - flags);
        if (given[idx]++) die("--%s given twice (see %s --help)", f->name, cli->program);
        if (!takes_value(f->kind)) {
            if (eq) die("--%s takes no value (see %s --help)", f->name, cli->program);
            set_value(f, NULL);
            continue;
        }
        const char *text = eq ? eq + 1 : NULL;
        if (!text) {
            /* `--steps --fast`: the next word is a flag, not the value */
            int next_is_flag = a + 1 < argc && strncmp(argv[a + 1], "--", 2) == 0 &&
                               find(flags, n, argv[a + 1] + 2, strcspn(argv[a + 1] + 2, "=")) != NULL;
            if (a + 1 >= argc || next_is_flag) die("--%s needs a value (see %s --help)", f->name, cli->program);
            text = argv[++a];
        }
        set_value(f, text);
    }
    check_paths(cli, flags, n);
}

int cli_command(int argc, char **argv, const char *program, const char *const *names, int n) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) return -1;
    for (int i = 0; i < n; i++) if (strcmp(argv[1], names[i]) == 0) return i;
    char expected[256] = "";
    for (int i = 0; i < n; i++) {
        size_t used = strlen(expected);
        snprintf(expected + used, sizeof expected - used, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ",
                 names[i]);
    }
    die("unknown command '%s': expected %s (see %s --help)", argv[1], expected, program);
}
