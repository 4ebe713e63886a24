/* test_own_text.c — the README's "Your own text" recipe, run as written on a
 * small text of its own (not the toy world), with tiny settings:
 *
 *   tokenizer train  --data my.txt --vocab 300 --out D/my
 *   tokenizer encode --model D/my.merges --data my.txt     --out D/my.bin
 *   tokenizer encode --model D/my.merges --data my_val.txt --out D/my_val.bin
 *   gpt1 pretrain --tokenizer D/my.merges --data D/my.bin --val D/my_val.bin
 *                 --out D/my_gpt.bin --log D/my_pretrain.tsv   (+ tiny flags)
 *   chat --plain --model D/my_gpt.bin --tokenizer D/my.merges   (a line on stdin)
 *
 * The property: every step succeeds and no step overwrites a file an earlier
 * step wrote (the decode table of `tokenizer train` used to be D/my.bin, which
 * the next line replaced with the tokens); `tokenizer decode` gives the text
 * back; the token files record the tokenizer; chat continues the typed text.
 */
#include "testutil.h"

#include "tokenizer.h"
#include "util.h"

#include <dirent.h>

static char dir[256];

static const char *at(const char *name) {
    static char buf[8][512];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

/* Fortune-cookie sentences: a text of one's own, a few tens of KB. */
static char *own_text(int n, unsigned seed, size_t *len) {
    static const char *who[] = {"you", "a friend", "your neighbour", "a stranger", "the cat"};
    static const char *act[] = {"will find", "will lose", "is thinking of", "will soon bring", "dreams of"};
    static const char *what[] = {"a small fortune", "an old letter", "a warm meal", "a long journey",
                                 "a quiet evening", "a lucky number"};
    static const char *when[] = {"tomorrow", "this week", "before the rain", "after sunset", "in spring"};
    size_t cap = (size_t)n * 96, k = 0;
    char *s = malloc(cap);
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = seed >> 8;
        k += (size_t)snprintf(s + k, cap - k, "%s %s %s %s.%s", who[r % 5], act[(r / 5) % 5], what[(r / 25) % 6],
                              when[(r / 150) % 5], i % 4 == 3 ? "<|endoftext|>\n" : " ");
    }
    *len = k;
    return s;
}

/* ---- "no file overwritten": a record of every file in D ---- */

typedef struct {
    char name[256];
    size_t size;
    long long mtime_ns;
    uint64_t hash;
} Seen;

static uint64_t hash_bytes(const char *b, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)b[i]) * 1099511628211ull;
    return h;
}

static int record(Seen *seen, int max) {
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort), k = 0;
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        struct stat st;
        const char *path = at(names[i]->d_name);
        if (names[i]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode) && k < max) {
            size_t len;
            char *b = read_file_or_die(path, &len);
            snprintf(seen[k].name, sizeof seen[k].name, "%s", names[i]->d_name);
            seen[k].size = len;
            seen[k].mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec;
            seen[k].hash = hash_bytes(b, len);
            free(b);
            k++;
        }
        free(names[i]);
    }
    free(names);
    return k;
}

/* Fails unless every file of `before` is still there, unchanged. */
static void nothing_overwritten(const char *step, const Seen *before, int nb) {
    Seen after[64];
    int na = record(after, 64);
    for (int i = 0; i < nb; i++) {
        int same = 0;
        for (int j = 0; j < na; j++) {
            if (strcmp(before[i].name, after[j].name) != 0) continue;
            same = before[i].size == after[j].size && before[i].hash == after[j].hash &&
                   before[i].mtime_ns == after[j].mtime_ns;
        }
        if (!same) {
            print_error("'%s' overwrote or removed %s, written by an earlier step\n", step, before[i].name);
            fail();
        }
    }
}

/* Runs one step of the recipe; it must succeed, leave every earlier file
 * as it was, and create `made` (NULL-terminated names in D). */
static void step(const char *what, const char *prog, const char **args, const char *stdin_path, char **out,
                 const char *const *made) {
    Seen before[64];
    int nb = record(before, 64);
    char *err;
    int status = run_program_io(prog, args, stdin_path, out, NULL, &err);
    if (status != 0) {
        print_error("'%s' failed with status %d:\n%s\n", what, status, err);
        fail();
    }
    free(err);
    nothing_overwritten(what, before, nb);
    for (int i = 0; made && made[i]; i++) {
        if (!file_exists(at(made[i]))) {
            print_error("'%s' did not write %s\n", what, made[i]);
            fail();
        }
    }
}

static void test_the_own_text_recipe_runs_as_written_and_overwrites_nothing(void **state) {
    (void)state;
    temp_path(dir, sizeof dir, "owntext");
    mkdir(dir, 0755);
    size_t len, vlen;
    char *text = own_text(600, 7, &len), *val = own_text(120, 99, &vlen);
    char my_txt[512], my_val_txt[512], prefix[512], merges[512];
    snprintf(my_txt, sizeof my_txt, "%s", at("my.txt"));
    snprintf(my_val_txt, sizeof my_val_txt, "%s", at("my_val.txt"));
    snprintf(prefix, sizeof prefix, "%s", at("my"));
    snprintf(merges, sizeof merges, "%s", at("my.merges"));
    write_bytes(my_txt, text, len);
    write_bytes(my_val_txt, val, vlen);
    char my_bin[512], my_val_bin[512], gpt[512], log[512], line[512];
    snprintf(my_bin, sizeof my_bin, "%s", at("my.bin"));
    snprintf(my_val_bin, sizeof my_val_bin, "%s", at("my_val.bin"));
    snprintf(gpt, sizeof gpt, "%s", at("my_gpt.bin"));
    snprintf(log, sizeof log, "%s", at("my_pretrain.tsv"));
    snprintf(line, sizeof line, "%s", at("line.txt"));

    const char *train[] = {"train", "--data", my_txt, "--vocab", "300", "--out", prefix, NULL};
    const char *const train_made[] = {"my.merges", "my.llmc-tokenizer.bin", NULL};
    step("tokenizer train", "tokenizer", train, NULL, NULL, train_made);
    const char *enc[] = {"encode", "--model", merges, "--data", my_txt, "--out", my_bin, NULL};
    const char *const enc_made[] = {"my.bin", NULL};
    step("tokenizer encode my.txt", "tokenizer", enc, NULL, NULL, enc_made);
    const char *enc_val[] = {"encode", "--model", merges, "--data", my_val_txt, "--out", my_val_bin, NULL};
    const char *const enc_val_made[] = {"my_val.bin", NULL};
    step("tokenizer encode my_val.txt", "tokenizer", enc_val, NULL, NULL, enc_val_made);

    /* the tokens decode back to the text, and the file records the tokenizer */
    char *back;
    size_t back_len;
    const char *dec[] = {"decode", "--model", merges, "--data", my_val_bin, NULL};
    assert_int_equal(run_program_io("tokenizer", dec, NULL, &back, &back_len, NULL), 0);
    assert_int_equal(back_len, vlen);
    assert_memory_equal(back, val, vlen);
    free(back);
    Tokenizer tok;
    tokenizer_load(&tok, merges);
    int32_t header[4];
    FILE *f = fopen_or_die(my_bin, "rb");
    fread_or_die(header, sizeof header[0], 4, f, my_bin, "the header");
    fclose(f);
    assert_int_equal((uint32_t)header[TOKENS_HEADER_TOKENIZER], tokenizer_id(&tok));
    tokenizer_free(&tok);

    const char *pretrain[] = {"pretrain", "--tokenizer", merges, "--data", my_bin, "--val", my_val_bin,
                              "--out", gpt, "--log", log, "--fast", "--seq", "32", "--steps", "6",
                              "--eval-every", "3", "--samples", "0", "--threads", "1", NULL};
    const char *const pretrain_made[] = {"my_gpt.bin", "my_pretrain.tsv", NULL};
    step("gpt1 pretrain", "gpt1", pretrain, NULL, NULL, pretrain_made);

    write_bytes(line, "you will find\n", 14);
    const char *chat[] = {"--plain", "--model", gpt, "--tokenizer", merges, "--max-reply", "8",
                          "--threads", "1", NULL};
    char *out;
    step("chat --plain", "chat", chat, line, &out, NULL);
    assert_non_null(strstr(out, "plain continuation"));
    assert_null(strstr(out, "toy world"));
    assert_non_null(strstr(out, "my_gpt> you will find"));
    free(out);

    free(text);
    free(val);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_own_text_recipe_runs_as_written_and_overwrites_nothing),
    };
    return cmocka_run_group_tests_name("own_text", tests, NULL, NULL);
}
