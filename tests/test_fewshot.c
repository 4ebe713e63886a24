/* test_fewshot.c — what rung 3 (GPT-3 few-shot, chain of thought) promises,
 * one property per test. The rung is included whole (TESTING hides its
 * main), so the tests call build_prompt, draw_shots, encode_fitting,
 * parse_final_number and prompt_token_at (score.c) directly.
 *
 *   1. The prompt builder writes exactly the formats of data/README.md.
 *   2. The shots: k in, k in the prompt; never the query's own answer line
 *      (or its reverse, or the same sum) — except pairing, where the query's
 *      definition is among the shots exactly once and the other keys differ;
 *      drawn deterministically from the seed.
 *   3. The context rule (stated in --help): a prompt too long loses its
 *      oldest shots, never the pairing definition.
 *   4. The chain-of-thought parser takes the final number, and finds none in
 *      text without digits.
 *   5. The program runs end to end with --fast on a tiny model, writes both
 *      logs, and refuses bad input with one "error: ..." line naming the
 *      file and line.
 *
 * The group setup trains a small BPE tokenizer on data/pretrain_excerpt.txt
 * and saves a tiny untrained model (gpt_build + gpt_save); the data are the
 * committed data/fewshot_pool.tsv and data/fewshot_test.tsv.
 */
#include "testutil.h"

/* main's helpers are unused under TESTING; that is no reason for a warning */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../src/gpt3_fewshot.c"
#pragma GCC diagnostic pop

/* ---- the group's files ---- */

typedef struct {
    char merges[256], model[256];
    Tokenizer tok;
    RowSet pool, test;
    Task tasks[MAX_TASKS];
    int nt;
} Fixture;

static Fixture fx;

static int group_setup(void **state) {
    (void)state;
    temp_path(fx.merges, sizeof fx.merges, "fs-tok.merges");
    temp_path(fx.model, sizeof fx.model, "fs-model.bin");
    size_t len;
    char *text = read_file_or_die("data/pretrain_excerpt.txt", &len);
    tokenizer_train(&fx.tok, text, len, 400);
    tokenizer_save_merges(&fx.tok, fx.merges);
    free(text);
    GPT m;
    gpt_build(&m, gpt_config(128, fx.tok.vocab_size, 1, 2, 16), 1);
    m.tokenizer_id = tokenizer_id(&fx.tok);  /* as every checkpoint this project writes */
    gpt_save(&m, fx.model);
    gpt_free(&m);
    load_rows(&fx.pool, &fx.tok, "data/fewshot_pool.tsv");
    load_rows(&fx.test, &fx.tok, "data/fewshot_test.tsv");
    fx.nt = find_tasks(fx.tasks, &fx.pool, &fx.test);
    return fx.nt == 4 ? 0 : -1;  /* colour, opposite, pairing, arith */
}

static int group_teardown(void **state) {
    (void)state;
    for (int i = 0; i < fx.nt; i++) {
        free(fx.tasks[i].pool);
        free(fx.tasks[i].test);
    }
    free_rows(&fx.pool);
    free_rows(&fx.test);
    tokenizer_free(&fx.tok);
    remove(fx.merges);
    remove(fx.model);
    return 0;
}

static const Task *task_named(const char *name) {
    for (int i = 0; i < fx.nt; i++) if (strcmp(fx.tasks[i].name, name) == 0) return &fx.tasks[i];
    fail_msg("no task %s", name);
    return NULL;
}

static int task_index_of(const Task *t) { return (int)(t - fx.tasks); }

/* ---- 1. the prompt builder ---- */

static void expect_prompt(const Row *const *shots, int k, const Row *q, Format f, const char *want) {
    char *got = build_prompt(shots, k, q, f, NULL);
    assert_string_equal(got, want);
    free(got);
}

static void test_prompt_builder_writes_the_documented_formats(void **state) {
    (void)state;
    Row fox = {.task = "colour", .input = "fox", .answer = "red", .worked = ""};
    Row owl = {.task = "colour", .input = "owl", .answer = "white", .worked = ""};
    Row cat = {.task = "colour", .input = "cat", .answer = "black", .worked = ""};
    const Row *two[2] = {&fox, &owl};
    expect_prompt(two, 2, &cat, FMT_ARROW, "fox -> red . owl -> white . cat ->");
    expect_prompt(two, 0, &cat, FMT_ARROW, "cat ->");
    expect_prompt(two, 2, &cat, FMT_PLAIN, "fox red . owl white . cat");

    Row sum = {.task = "arith", .input = "53 + 38", .answer = "91",
               .worked = "3 + 8 + 0 = 11 , 5 + 3 + 1 = 9 , so 91"};
    Row query = {.task = "arith", .input = "31 + 54", .answer = "85",
                 .worked = "1 + 4 + 0 = 5 , 3 + 5 + 0 = 8 , so 85"};
    const Row *one[1] = {&sum};
    expect_prompt(one, 1, &query, FMT_DIRECT, "53 + 38 = 91 . 31 + 54 =");
    expect_prompt(one, 1, &query, FMT_WORKED,
                  "53 + 38 = ? 3 + 8 + 0 = 11 , 5 + 3 + 1 = 9 , so 91 . 31 + 54 = ?");
    expect_prompt(one, 0, &query, FMT_WORKED, "31 + 54 = ?");

    /* answer_at points at each shot's answer in the text */
    int at[2];
    char *text = build_prompt(two, 2, &cat, FMT_ARROW, at);
    assert_int_equal(strncmp(text + at[0], "red .", 5), 0);
    assert_int_equal(strncmp(text + at[1], "white .", 7), 0);
    free(text);
}

/* ---- 2. the shots ---- */

/* Does `text` contain `needle` as whole words (bounded by start/end or a
 * space)? */
static int count_phrase(const char *text, const char *needle) {
    int n = 0;
    size_t len = strlen(needle);
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle)) {
        int starts = p == text || p[-1] == ' ';
        int ends = p[len] == '\0' || p[len] == ' ';
        n += starts && ends;
    }
    return n;
}

/* For every query of colour, opposite and arith and every k: k shots in
 * (when the pool has that many), distinct rows, none that gives the answer
 * away, and the prompt never holds the query's own line "input -> answer". */
static void test_shots_never_include_the_query_answer_line(void **state) {
    (void)state;
    const char *names[] = {"colour", "opposite", "arith"};
    const Row *shots[MAX_K];
    int ks[] = {1, 2, 4, 8};
    for (int ni = 0; ni < 3; ni++) {
        const Task *t = task_named(names[ni]);
        Format f = t->generate ? FMT_DIRECT : FMT_ARROW;
        for (int qi = 0; qi < t->ntest; qi++) {
            const Row *q = &fx.test.rows[t->test[qi]];
            for (int ki = 0; ki < 4; ki++) {
                Rng rng;
                rng_seed(&rng, draw_seed(1, task_index_of(t), ks[ki], qi, 0));
                int ns = draw_shots(t, &fx.pool, q, ks[ki], &rng, shots);
                assert_int_equal(ns, ks[ki] < t->npool ? ks[ki] : t->npool);
                for (int i = 0; i < ns; i++) {
                    assert_true(shots[i] != q);
                    assert_false(gives_away(shots[i], q));
                    for (int j = 0; j < i; j++) assert_true(shots[i] != shots[j]);
                }
                char line[128];
                snprintf(line, sizeof line, "%s %s %s", q->input, f == FMT_DIRECT ? "=" : "->", q->answer);
                char *prompt = build_prompt(shots, ns, q, f, NULL);
                assert_int_equal(count_phrase(prompt, line), 0);
                free(prompt);
            }
        }
    }
}

/* A pool that holds the query's own line, its reverse and its sum the other
 * way round: none of them is ever drawn, whatever the seed. */
static void test_a_row_that_gives_the_answer_away_is_never_drawn(void **state) {
    (void)state;
    Row pool_rows[6] = {
        {.task = "t", .input = "hot", .answer = "cold"},     /* the query itself */
        {.task = "t", .input = "cold", .answer = "hot"},     /* its reverse */
        {.task = "t", .input = "38 + 53", .answer = "91"},   /* a sum the other way round */
        {.task = "t", .input = "big", .answer = "small"},
        {.task = "t", .input = "wet", .answer = "dry"},
        {.task = "t", .input = "up", .answer = "down"},
    };
    RowSet pool = {.path = "pool", .rows = pool_rows, .n = 6};
    int idx[6] = {0, 1, 2, 3, 4, 5};
    Task t = {.name = "t", .pool = idx, .npool = 6};
    Row hot = {.task = "t", .input = "hot", .answer = "cold"};
    Row sum = {.task = "t", .input = "53 + 38", .answer = "91"};
    const Row *shots[MAX_K];
    for (int seed = 0; seed < 50; seed++) {
        Rng rng;
        rng_seed(&rng, (uint64_t)seed);
        int ns = draw_shots(&t, &pool, &hot, 6, &rng, shots);
        assert_int_equal(ns, 4);  /* all the eligible rows */
        for (int i = 0; i < ns; i++) assert_true(shots[i] != &pool_rows[0] && shots[i] != &pool_rows[1]);
        ns = draw_shots(&t, &pool, &sum, 6, &rng, shots);
        assert_int_equal(ns, 5);
        for (int i = 0; i < ns; i++) assert_true(shots[i] != &pool_rows[2]);
    }
}

/* Pairing: the answer is only in the prompt. The query's definition is one
 * of the k shots, exactly once, at a random place (not always last, or
 * recency would solve it); the other keys differ from it and each other. */
static void test_pairing_shots_hold_the_query_definition_once_among_distinct_keys(void **state) {
    (void)state;
    const Task *t = task_named("pairing");
    assert_true(t->defined);
    const Row *shots[MAX_K];
    int last = 0, total = 0;
    for (int qi = 0; qi < t->ntest; qi++) {
        const Row *q = &fx.test.rows[t->test[qi]];
        for (int k = 1; k <= 8; k *= 2) {
            Rng rng;
            rng_seed(&rng, draw_seed(1, task_index_of(t), k, qi, 0));
            int ns = draw_shots(t, &fx.pool, q, k, &rng, shots);
            assert_int_equal(ns, k);
            int defs = 0;
            for (int i = 0; i < ns; i++) {
                defs += shots[i] == q;
                for (int j = 0; j < i; j++) assert_string_not_equal(shots[i]->input, shots[j]->input);
            }
            assert_int_equal(defs, 1);
            if (k > 1) {
                last += shots[ns - 1] == q;
                total++;
            }
            char line[128];
            snprintf(line, sizeof line, "%s -> %s", q->input, q->answer);
            char *prompt = build_prompt(shots, ns, q, FMT_ARROW, NULL);
            assert_int_equal(count_phrase(prompt, line), 1);
            size_t len = strlen(prompt), qlen = strlen(q->input) + 3;
            assert_int_equal(strncmp(prompt + len - qlen, q->input, strlen(q->input)), 0);
            free(prompt);
        }
    }
    /* the definition is last about 1/k of the time, not always */
    assert_true(last > 0 && last < total / 2);
}

static void test_shots_are_drawn_deterministically_from_the_seed(void **state) {
    (void)state;
    const Task *t = task_named("opposite");
    const Row *a[MAX_K], *b[MAX_K];
    int differ = 0;
    for (int qi = 0; qi < 10; qi++) {
        const Row *q = &fx.test.rows[t->test[qi]];
        Rng r1, r2;
        rng_seed(&r1, draw_seed(7, 1, 4, qi, 0));
        rng_seed(&r2, draw_seed(7, 1, 4, qi, 0));
        int n1 = draw_shots(t, &fx.pool, q, 4, &r1, a), n2 = draw_shots(t, &fx.pool, q, 4, &r2, b);
        assert_int_equal(n1, n2);
        assert_memory_equal(a, b, sizeof(a[0]) * (size_t)n1);
        rng_seed(&r2, draw_seed(8, 1, 4, qi, 0));
        draw_shots(t, &fx.pool, q, 4, &r2, b);
        differ += memcmp(a, b, sizeof(a[0]) * 4) != 0;
    }
    assert_true(differ >= 8);  /* another seed, other shots */
}

/* ---- 3. the context rule ---- */

/* With maxT = 40 and 8 tokens of room, eight colour shots do not fit: the
 * oldest go first, the newest stay in order, and prompt + room fits. For
 * pairing, the definition survives even when it is the oldest shot. */
static void test_a_prompt_too_long_for_the_context_drops_its_oldest_shots(void **state) {
    (void)state;
    const Task *t = task_named("colour");
    const Row *q = &fx.test.rows[t->test[0]];
    const Row *shots[MAX_K], *orig[MAX_K];
    for (int i = 0; i < 8; i++) shots[i] = orig[i] = &fx.pool.rows[t->pool[i]];
    int n, kept, cut;
    int *tokens = encode_fitting(&fx.tok, shots, 8, q, FMT_ARROW, 8, 40, &n, &kept, &cut);
    assert_true(kept > 0 && kept < 8);
    assert_true(n + 8 <= 40);
    assert_int_equal(cut, 0);
    for (int i = 0; i < kept; i++) assert_true(shots[i] == orig[8 - kept + i]);
    free(tokens);

    const Task *p = task_named("pairing");
    const Row *pq = &fx.test.rows[p->test[0]];
    shots[0] = pq;  /* the definition, oldest */
    for (int i = 1; i < 8; i++) shots[i] = &fx.pool.rows[p->pool[i]];
    tokens = encode_fitting(&fx.tok, shots, 8, pq, FMT_ARROW, 4, 30, &n, &kept, &cut);
    assert_true(kept >= 1 && kept < 8);
    assert_true(shots[0] == pq);
    free(tokens);
}

/* ---- 4. the answer parser ---- */

static void test_the_answer_parser_takes_the_final_number(void **state) {
    (void)state;
    long v = -1;
    assert_int_equal(parse_final_number("3 + 8 + 0 = 11 , 5 + 3 + 1 = 9 , so 91 .", &v), 1);
    assert_int_equal(v, 91);
    assert_int_equal(parse_final_number("91", &v), 1);
    assert_int_equal(v, 91);
    assert_int_equal(parse_final_number(" so 192", &v), 1);
    assert_int_equal(v, 192);
    assert_int_equal(parse_final_number("4 + 5 + 0 = 9 , 1 + 1", &v), 1);  /* cut short: its last number */
    assert_int_equal(v, 1);
    v = -1;
    assert_int_equal(parse_final_number("the fox is red .", &v), 0);
    assert_int_equal(parse_final_number("", &v), 0);
    assert_int_equal(v, -1);  /* untouched */
}

/* prompt_token_at maps a byte of the prompt text to the token that holds it, so the
 * induction probe reads the attention at each shot's value. */
static void test_token_at_finds_the_token_of_each_shot_answer(void **state) {
    (void)state;
    Row fox = {.input = "fox", .answer = "red"}, owl = {.input = "owl", .answer = "white"};
    Row cat = {.input = "cat", .answer = "black"};
    const Row *two[2] = {&fox, &owl};
    int at[2], n;
    char *text = build_prompt(two, 2, &cat, FMT_ARROW, at);
    int *tokens = encode_prompt(&fx.tok, text, &n);
    for (int i = 0; i < 2; i++) {
        int pos = prompt_token_at(&fx.tok, tokens, n, at[i]);
        assert_true(pos > 0);
        size_t len;
        char *rest = tokenizer_decode(&fx.tok, tokens + pos, (size_t)(n - pos), &len);
        const char *ans = two[i]->answer;
        char spaced[64];
        snprintf(spaced, sizeof spaced, " %s", ans);
        assert_true(strncmp(rest, ans, strlen(ans)) == 0 || strncmp(rest, spaced, strlen(spaced)) == 0);
        free(rest);
    }
    assert_int_equal(prompt_token_at(&fx.tok, tokens, n, 10000), -1);
    free(tokens);
    free(text);
}

/* ---- 5. the program ---- */

static void run_ok(const char **args) { expect_program_ok("gpt3_fewshot", args); }

static void run_refuses(const char **args, const char *phrase, const char *also) {
    expect_program_refuses("gpt3_fewshot", args, phrase, also);
}

static int count_lines(const char *path) {
    size_t len;
    char *text = read_file_or_die(path, &len);
    int n = 0;
    for (size_t i = 0; i < len; i++) n += text[i] == '\n';
    free(text);
    return n;
}

static void test_fewshot_runs_end_to_end_with_fast_and_writes_both_logs(void **state) {
    (void)state;
    char log[256], cot_log[256];
    temp_path(log, sizeof log, "fs.tsv");
    temp_path(cot_log, sizeof cot_log, "fs-cot.tsv");
    const char *args[] = {"--fast", "--model", fx.model, "--tokenizer", fx.merges, "--log", log,
                          "--cot-log", cot_log, "--threads", "1", NULL};
    run_ok(args);
    assert_int_equal(count_lines(log), 1 + 4 * 3);      /* header, 4 tasks x k in {0,1,2} */
    assert_int_equal(count_lines(cot_log), 1 + 2 * 2);  /* header, direct/worked x k in {0,1} */
    size_t len;
    char *text = read_file_or_die(log, &len);
    const char *header = "task\tk\tevals\tcorrect\taccuracy\tchance\tshots_used\tpicks_last_shot\n";
    assert_int_equal(strncmp(text, header, strlen(header)), 0);
    assert_non_null(strstr(text, "\npairing\t2\t"));
    free(text);
    /* --plain runs too */
    const char *plain[] = {"--fast", "--plain", "--model", fx.model, "--tokenizer", fx.merges, "--log", log,
                           "--cot-log", cot_log, "--threads", "1", "--cot-ks", "0", NULL};
    run_ok(plain);
    const char *help[] = {"--help", NULL};
    run_ok(help);
    remove(log);
    remove(cot_log);
}

static void test_fewshot_refuses_a_missing_file_or_an_unknown_flag(void **state) {
    (void)state;
    char log[256], cot_log[256];  /* never the defaults under out/try: a test leaves the checkout as it was */
    temp_path(log, sizeof log, "fs-refused.tsv");
    temp_path(cot_log, sizeof cot_log, "fs-refused-cot.tsv");
    const char *missing[] = {"--model", fx.model, "--tokenizer", fx.merges, "--pool", "build/tmp/no-pool.tsv",
                             "--log", log, "--cot-log", cot_log, NULL};
    run_refuses(missing, "build/tmp/no-pool.tsv", NULL);
    const char *flag[] = {"--bogus", NULL};
    run_refuses(flag, "unknown flag --bogus", NULL);
    const char *ks[] = {"--ks", "0,x", "--log", log, "--cot-log", cot_log, NULL};
    run_refuses(ks, "--ks", "not an integer");
}

static void test_fewshot_refuses_a_malformed_line_naming_file_and_line(void **state) {
    (void)state;
    char pool[256], test[256], log[256], cot_log[256];
    temp_path(pool, sizeof pool, "fs-bad-pool.tsv");
    temp_path(test, sizeof test, "fs-bad-test.tsv");
    temp_path(log, sizeof log, "fs-bad.tsv");
    temp_path(cot_log, sizeof cot_log, "fs-bad-cot.tsv");
    const char *args[] = {"--fast", "--model", fx.model, "--tokenizer", fx.merges, "--pool", pool, "--test", test,
                          "--log", log, "--cot-log", cot_log, NULL};
    const char *header = "task\tinput\tanswer\tworked\tcandidates\n";
    char buf[1024], where[300];
    snprintf(where, sizeof where, "%s:3", test);
    snprintf(buf, sizeof buf, "%scolour\tboat\tblue\t\tred|blue\n", header);
    write_bytes(pool, buf, strlen(buf));

    snprintf(buf, sizeof buf, "%scolour\tfox\tred\t\tred|blue\ncolour\towl\twhite\n", header);
    write_bytes(test, buf, strlen(buf));
    run_refuses(args, where, "expected at least 5 tab-separated fields");

    snprintf(buf, sizeof buf, "%scolour\tfox\tred\t\tred|blue\ncolour\towl\twhite\t\tred|blue\n", header);
    write_bytes(test, buf, strlen(buf));
    run_refuses(args, where, "the answer 'white' is not among the candidates");

    snprintf(buf, sizeof buf, "%scolour\tfox\tred\t\tred|blue\ncolour\towl\t\t\tred|blue\n", header);
    write_bytes(test, buf, strlen(buf));
    run_refuses(args, where, "the answer is empty");

    /* a task the pool cannot give shots for */
    snprintf(buf, sizeof buf, "%scolour\tfox\tred\t\tred|blue\nsound\tdog\tbarks\t\tbarks|moos\n", header);
    write_bytes(test, buf, strlen(buf));
    run_refuses(args, "has no 'sound' rows", where);

    /* a task both ranked and generated */
    snprintf(buf, sizeof buf, "%scolour\tfox\tred\t\tred|blue\ncolour\towl\twhite\t\t\n", header);
    write_bytes(test, buf, strlen(buf));
    run_refuses(args, where, "has no candidates here");
    remove(pool);
    remove(test);
    remove(log);
    remove(cot_log);
}

/* A checkpoint trained with another tokenizer, of another size or of the
 * same one, is refused in one line (gpt_check_tokenizer). */
static void test_fewshot_refuses_a_model_of_another_tokenizer(void **state) {
    (void)state;
    char other[256], log[256], cot_log[256];
    temp_path(other, sizeof other, "fs-other.bin");
    temp_path(log, sizeof log, "fs-other.tsv");
    temp_path(cot_log, sizeof cot_log, "fs-other-cot.tsv");
    GPT m;
    gpt_build(&m, gpt_config(32, 300, 1, 2, 16), 3);
    gpt_save(&m, other);
    gpt_free(&m);
    const char *args[] = {"--fast", "--model", other, "--tokenizer", fx.merges, "--log", log, "--cot-log", cot_log, NULL};
    run_refuses(args, "has a vocabulary of 300 tokens, but the tokenizer", "they do not belong together");
    gpt_load(&m, fx.model);
    m.tokenizer_id = 0x12345678u;
    gpt_save(&m, other);
    gpt_free(&m);
    run_refuses(args, "was trained with another tokenizer (id 12345678)", NULL);
    assert_false(file_exists(log));
    assert_false(file_exists(cot_log));
    remove(other);
}

/* Both logs are written as PATH.tmp and renamed over PATH only when the run
 * succeeds: a failed run keeps the previous ones. A log on a device, or the
 * two logs naming one file, is refused before any question is asked. */
static void test_fewshot_keeps_the_previous_logs_when_a_run_fails(void **state) {
    (void)state;
    char log[256], cot_log[256], tmp[300];
    temp_path(log, sizeof log, "fs-kept.tsv");
    temp_path(cot_log, sizeof cot_log, "fs-kept-cot.tsv");
    static const char earlier[] = "task\tk\ncolour\t0\n";
    write_bytes(log, earlier, sizeof earlier - 1);
    write_bytes(cot_log, earlier, sizeof earlier - 1);
    const char *bad[] = {"--fast", "--model", fx.model, "--tokenizer", fx.merges, "--test", "build/tmp/no-test.tsv",
                         "--log", log, "--cot-log", cot_log, NULL};
    run_refuses(bad, "build/tmp/no-test.tsv", NULL);
    const char *paths[] = {log, cot_log};
    for (int i = 0; i < 2; i++) {
        size_t len;
        char *kept = read_file_or_die(paths[i], &len);
        assert_int_equal(len, sizeof earlier - 1);
        assert_memory_equal(kept, earlier, len);
        free(kept);
        snprintf(tmp, sizeof tmp, "%s.tmp", paths[i]);
        assert_false(file_exists(tmp));
    }
    const char *full[] = {"--fast", "--model", fx.model, "--tokenizer", fx.merges, "--log", log, "--cot-log",
                          "/dev/full", NULL};
    run_refuses(full, "cannot write /dev/full: it is a device", NULL);
    const char *same[] = {"--fast", "--model", fx.model, "--tokenizer", fx.merges, "--log", log, "--cot-log", log, NULL};
    run_refuses(same, "is also --cot-log", NULL);
    remove(log);
    remove(cot_log);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prompt_builder_writes_the_documented_formats),
        cmocka_unit_test(test_shots_never_include_the_query_answer_line),
        cmocka_unit_test(test_a_row_that_gives_the_answer_away_is_never_drawn),
        cmocka_unit_test(test_pairing_shots_hold_the_query_definition_once_among_distinct_keys),
        cmocka_unit_test(test_shots_are_drawn_deterministically_from_the_seed),
        cmocka_unit_test(test_a_prompt_too_long_for_the_context_drops_its_oldest_shots),
        cmocka_unit_test(test_the_answer_parser_takes_the_final_number),
        cmocka_unit_test(test_token_at_finds_the_token_of_each_shot_answer),
        cmocka_unit_test(test_fewshot_runs_end_to_end_with_fast_and_writes_both_logs),
        cmocka_unit_test(test_fewshot_refuses_a_missing_file_or_an_unknown_flag),
        cmocka_unit_test(test_fewshot_refuses_a_malformed_line_naming_file_and_line),
        cmocka_unit_test(test_fewshot_refuses_a_model_of_another_tokenizer),
        cmocka_unit_test(test_fewshot_keeps_the_previous_logs_when_a_run_fails),
    };
    return cmocka_run_group_tests_name("gpt3_fewshot", tests, group_setup, group_teardown);
}
