/* test_zeroshot.c — what rung 2 (GPT-2 zero-shot) promises, one property per
 * test. The rung is included whole (TESTING hides its main), so the tests
 * call its functions: load_tasks, rank_item, evaluate.
 *
 *   1. The task file is read as data/README.md describes it, and the
 *      evaluation counts what the table reports: items, chance, the two
 *      scoring rules, which candidate won; calibration removes a label bias.
 *   2. A prompt longer than the model's context keeps its end (where the
 *      task is posed) and still gets an answer.
 *   3. The program runs end to end with --fast on a tiny model, and refuses
 *      bad input with one "error: ..." line naming the file (and line).
 *
 * The group setup trains a small BPE tokenizer on data/pretrain_excerpt.txt
 * and saves two tiny untrained models (T = 128 and T = 32) built with
 * gpt_build: the rung's plumbing does not need a model that knows anything.
 */
#include "testutil.h"

/* main's helpers are unused under TESTING; that is no reason for a warning */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../src/gpt2_zeroshot.c"
#pragma GCC diagnostic pop

/* ---- the group's files ---- */

typedef struct {
    char merges[256], model[256], short_model[256];
} Fixture;

static Fixture fx;

static int group_setup(void **state) {
    (void)state;
    temp_path(fx.merges, sizeof fx.merges, "zs-tok.merges");
    temp_path(fx.model, sizeof fx.model, "zs-model.bin");
    temp_path(fx.short_model, sizeof fx.short_model, "zs-short.bin");
    size_t len;
    char *text = read_file_or_die("data/pretrain_excerpt.txt", &len);
    Tokenizer tok;
    tokenizer_train(&tok, text, len, 400);
    tokenizer_save_merges(&tok, fx.merges);
    GPT m;
    gpt_build(&m, gpt_config(128, tok.vocab_size, 1, 2, 16), 1);
    m.tokenizer_id = tokenizer_id(&tok);  /* as every checkpoint this project writes */
    gpt_save(&m, fx.model);
    gpt_free(&m);
    gpt_build(&m, gpt_config(32, tok.vocab_size, 1, 2, 16), 2);
    m.tokenizer_id = tokenizer_id(&tok);
    gpt_save(&m, fx.short_model);
    gpt_free(&m);
    tokenizer_free(&tok);
    free(text);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    remove(fx.merges);
    remove(fx.model);
    remove(fx.short_model);
    return 0;
}

static void write_text(const char *path, const char *text) {
    write_bytes(path, text, strlen(text));
}

/* ---- 1. reading and counting ---- */

static const char *const small_tsv =
    "task\tprompt\tanswer\tcandidates\n"
    "sentiment\tit was fun . in short :\tgood\tgood|bad\n"
    "sentiment\tit was dull . in short :\tbad\tgood|bad\n"
    "sentiment_nohint\tit was fun .\tgood\tgood|bad\n"
    "colour\tthe fox is\tred\tred|blue|green|yellow|black|white|brown|pink\n"
    "colour\tthe owl is\twhite\tred|blue|green|yellow|black|white|brown|pink\n"
    "colour\tthe cat is\tblack\tred|blue|green|yellow|black|white|brown|pink\n";

static void test_task_file_is_read_into_tasks_in_file_order(void **state) {
    (void)state;
    char path[256];
    temp_path(path, sizeof path, "zs-small.tsv");
    write_text(path, small_tsv);
    Tokenizer tok;
    tokenizer_load(&tok, fx.merges);
    TaskSet ts;
    load_tasks(&ts, &tok, path, 0);
    assert_int_equal(ts.n, 6);
    assert_int_equal(ts.ntasks, 3);
    assert_string_equal(ts.names[0], "sentiment");
    assert_string_equal(ts.names[1], "sentiment_nohint");
    assert_string_equal(ts.names[2], "colour");
    assert_int_equal(ts.items[4].task, 2);
    assert_int_equal(ts.items[4].answer_idx, 5);  /* white */
    assert_int_equal(ts.items[4].line, 6);
    free_tasks(&ts);
    /* --limit keeps the first N items of each task */
    load_tasks(&ts, &tok, path, 1);
    assert_int_equal(ts.n, 3);
    assert_string_equal(ts.items[2].prompt, "the fox is");
    free_tasks(&ts);
    tokenizer_free(&tok);
    remove(path);
}

/* The accounting behind the table: per task, items, the mean chance
 * (1 / candidates), right answers by each rule (never more than the items),
 * and the winners' histogram (it sums to the items). The sum and the mean
 * can disagree only on items whose candidates differ in length (with this
 * small tokenizer some colour words are two tokens). */
static void test_evaluation_counts_items_chance_and_picks_per_task(void **state) {
    (void)state;
    char path[256];
    temp_path(path, sizeof path, "zs-count.tsv");
    write_text(path, small_tsv);
    Tokenizer tok;
    tokenizer_load(&tok, fx.merges);
    GPT m;
    gpt_load(&m, fx.model);
    TaskSet ts;
    load_tasks(&ts, &tok, path, 0);
    TaskResult res[MAX_TASKS];
    evaluate(&m, &tok, &ts, 0, res);
    int want_items[3] = {2, 1, 3};
    double want_chance[3] = {0.5, 0.5, 0.125};
    for (int t = 0; t < 3; t++) {
        assert_int_equal(res[t].items, want_items[t]);
        assert_float_equal(res[t].chance / res[t].items, want_chance[t], 1e-12);
        assert_true(res[t].correct_sum <= res[t].items);
        int picks = 0;
        for (int c = 0; c < SCORE_MAX_CANDIDATES; c++) picks += res[t].picks[c];
        assert_int_equal(picks, res[t].items);
        /* the two rules can only disagree where candidates differ in length */
        assert_true(res[t].disagree <= res[t].uneven);
        if (res[t].uneven == 0) assert_int_equal(res[t].correct_sum, res[t].correct_mean);
        assert_int_equal(res[t].cut, 0);
    }
    /* and each item's pick is the argmax of its scores */
    Score s[SCORE_MAX_CANDIDATES];
    rank_item(&m, &tok, &ts.items[3], s);
    int best = 0;
    for (int c = 1; c < ts.items[3].cands.n; c++) if (s[c].sum > s[best].sum) best = c;
    assert_int_equal(score_best(s, ts.items[3].cands.n, 0), best);
    free_tasks(&ts);
    gpt_free(&m);
    tokenizer_free(&tok);
    remove(path);
}

/* Calibration tells a label bias from ignorance. Two reviews, one good, one
 * bad; the model prefers "bad" for both (raw accuracy 1/2), but prefers
 * "good" relatively more for the good review. Subtracting each candidate's
 * mean over the task's items makes both right. A task whose items offer
 * different candidates cannot be calibrated (-1). */
static void test_calibration_removes_a_bias_towards_one_label(void **state) {
    (void)state;
    char path[256];
    temp_path(path, sizeof path, "zs-cal.tsv");
    write_text(path, "task\tprompt\tanswer\tcandidates\n"
                     "sentiment\tit was fun .\tgood\tgood|bad\n"
                     "sentiment\tit was dull .\tbad\tgood|bad\n"
                     "mixed\tthe fox is\tred\tred|blue\n"
                     "mixed\tthe owl is\twhite\twhite|blue\n");
    Tokenizer tok;
    tokenizer_load(&tok, fx.merges);
    TaskSet ts;
    load_tasks(&ts, &tok, path, 0);
    float scores[4 * SCORE_MAX_CANDIDATES] = {0};
    scores[0 * SCORE_MAX_CANDIDATES + 0] = -1.0f;  /* good review: good */
    scores[0 * SCORE_MAX_CANDIDATES + 1] = -0.5f;  /*              bad (picked raw) */
    scores[1 * SCORE_MAX_CANDIDATES + 0] = -2.0f;  /* bad review:  good */
    scores[1 * SCORE_MAX_CANDIDATES + 1] = -0.6f;  /*              bad */
    TaskResult res[MAX_TASKS];
    memset(res, 0, sizeof res);
    calibrate(&ts, scores, res);
    assert_int_equal(res[0].correct_cal, 2);
    assert_int_equal(res[1].correct_cal, -1);
    free_tasks(&ts);
    tokenizer_free(&tok);
    remove(path);
}

/* ---- 2. the context rule ---- */

/* A review far longer than T = 32: its start is cut, its end kept. The
 * scores then equal those of the prompt's last (32 - longest candidate)
 * tokens scored directly. */
static void test_a_prompt_longer_than_the_context_keeps_its_end(void **state) {
    (void)state;
    Tokenizer tok;
    tokenizer_load(&tok, fx.merges);
    GPT m;
    gpt_load(&m, fx.short_model);
    Item it = {0};
    it.prompt = "sue joined the class . everything was perfect . it was fun . it took an hour . "
                "i was not bored at all . i loved every minute . in short :";
    it.answer = "good";
    candidates_parse(&it.cands, &tok, "good|bad", "test");
    Score s[2];
    int cut = rank_item(&m, &tok, &it, s);
    assert_true(cut > 0);
    int n;
    int *full = encode_prompt(&tok, it.prompt, &n);
    int keep = 32 - it.cands.maxlen;
    assert_int_equal(n - cut, keep);
    Score direct = score_continuation(&m, full + n - keep, keep, it.cands.tokens[1], it.cands.len[1]);
    check_close("the kept end scored directly", &s[1].sum, &direct.sum, 1, 1e-5, 1e-5);
    free(full);
    candidates_free(&it.cands);
    gpt_free(&m);
    tokenizer_free(&tok);
}

/* ---- 3. the program ---- */

static void run_ok(const char **args) { expect_program_ok("gpt2_zeroshot", args); }

static void run_refuses(const char **args, const char *phrase, const char *also) {
    expect_program_refuses("gpt2_zeroshot", args, phrase, also);
}

static void test_zeroshot_runs_end_to_end_with_fast_on_a_tiny_model(void **state) {
    (void)state;
    char log[256];
    temp_path(log, sizeof log, "zs-log.tsv");
    const char *args[] = {"--fast", "--model", fx.model, "--tokenizer", fx.merges, "--data",
                          "data/zeroshot_test.tsv", "--log", log, "--threads", "1", NULL};
    run_ok(args);
    /* the log: a header and one row per task of data/zeroshot_test.tsv */
    size_t len;
    char *text = read_file_or_die(log, &len);
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    assert_int_equal(lines, 1 + 4);
    const char *header = "task\titems\tchance\tacc_sum\tacc_mean\tdisagree\tacc_calibrated\tprompts_cut\n";
    assert_int_equal(strncmp(text, header, strlen(header)), 0);
    assert_non_null(strstr(text, "\nsentiment_nohint\t6\t0.50000\t"));
    free(text);
    /* the short model cuts the long reviews and still runs */
    const char *short_args[] = {"--fast", "--model", fx.short_model, "--tokenizer", fx.merges,
                                "--log", log, "--threads", "1", NULL};
    run_ok(short_args);
    remove(log);
    const char *help[] = {"--help", NULL};
    run_ok(help);
}

static void test_zeroshot_refuses_a_missing_file_or_an_unknown_flag(void **state) {
    (void)state;
    char log[256];  /* never the default under out/try: a test leaves the checkout as it was */
    temp_path(log, sizeof log, "zs-refused.tsv");
    const char *missing[] = {"--model", fx.model, "--tokenizer", fx.merges, "--data", "build/tmp/no-such.tsv",
                             "--log", log, NULL};
    run_refuses(missing, "build/tmp/no-such.tsv", NULL);
    const char *no_model[] = {"--model", "build/tmp/no-such.bin", "--tokenizer", fx.merges, "--log", log, NULL};
    run_refuses(no_model, "build/tmp/no-such.bin", NULL);
    const char *flag[] = {"--model", fx.model, "--bogus", NULL};
    run_refuses(flag, "unknown flag --bogus", NULL);
    const char *value[] = {"--show", "many", NULL};
    run_refuses(value, "--show", "not an integer");
    /* the log is written at the end: a folder that does not exist is
     * refused before any scoring */
    const char *nodir[] = {"--model", fx.model, "--tokenizer", fx.merges, "--log", "build/tmp/no-such-folder/zs.tsv",
                           NULL};
    run_refuses(nodir, "folder build/tmp/no-such-folder does not exist", NULL);
}

static void test_zeroshot_refuses_a_malformed_line_naming_file_and_line(void **state) {
    (void)state;
    char path[256];
    temp_path(path, sizeof path, "zs-bad.tsv");
    char log[256];
    temp_path(log, sizeof log, "zs-bad-log.tsv");
    const char *args[] = {"--model", fx.model, "--tokenizer", fx.merges, "--data", path, "--log", log, NULL};
    char where[300];
    snprintf(where, sizeof where, "%s:3", path);

    write_text(path, "task\tprompt\tanswer\tcandidates\n"
                     "colour\tthe fox is\tred\tred|blue\n"
                     "colour\tthe owl is\twhite\n");
    run_refuses(args, where, "expected at least 4 tab-separated fields");

    write_text(path, "task\tprompt\tanswer\tcandidates\n"
                     "colour\tthe fox is\tred\tred|blue\n"
                     "colour\tthe owl is\twhite\tred|blue\n");
    run_refuses(args, where, "the answer 'white' is not among the candidates");

    write_text(path, "task\tprompt\tanswer\tcandidates\n"
                     "colour\tthe fox is\tred\tred|blue\n"
                     "colour\t\twhite\twhite|blue\n");
    run_refuses(args, where, "the prompt is empty");

    write_text(path, "task\tprompt\tanswer\tcandidates\n"
                     "colour\tthe fox is\tred\tred|blue\n"
                     "colour\tthe owl is\twhite\twhite||blue\n");
    run_refuses(args, where, "candidate 2");
    remove(path);
}

/* A model trained with another vocabulary cannot read this tokenizer's ids;
 * one trained with another tokenizer of the same size would read them as
 * other words. Both are refused in one line (gpt_check_tokenizer). */
static void test_zeroshot_refuses_a_tokenizer_that_does_not_match_the_model(void **state) {
    (void)state;
    char other[256], log[256];
    temp_path(other, sizeof other, "zs-other.bin");
    temp_path(log, sizeof log, "zs-other.tsv");
    GPT m;
    gpt_build(&m, gpt_config(32, 300, 1, 2, 16), 3);
    gpt_save(&m, other);
    gpt_free(&m);
    const char *args[] = {"--model", other, "--tokenizer", fx.merges, "--log", log, NULL};
    run_refuses(args, "has a vocabulary of 300 tokens, but the tokenizer", "they do not belong together");
    GPT same;
    gpt_load(&same, fx.model);
    same.tokenizer_id = 0x12345678u;
    gpt_save(&same, other);
    gpt_free(&same);
    run_refuses(args, "was trained with another tokenizer (id 12345678)", NULL);
    remove(other);
}

/* The log is written as PATH.tmp and renamed over PATH only when the run
 * succeeds: a run that fails keeps the previous log, and a log that cannot
 * be written (a device) is refused before any scoring. */
static void test_zeroshot_keeps_the_previous_log_when_a_run_fails(void **state) {
    (void)state;
    char log[256], tmp[300];
    temp_path(log, sizeof log, "zs-kept.tsv");
    snprintf(tmp, sizeof tmp, "%s.tmp", log);
    static const char earlier[] = "task\titems\nsentiment\t6\n";
    write_bytes(log, earlier, sizeof earlier - 1);
    const char *bad[] = {"--fast", "--model", fx.model, "--tokenizer", fx.merges, "--data", "build/tmp/no-such.tsv",
                         "--log", log, "--threads", "1", NULL};
    run_refuses(bad, "build/tmp/no-such.tsv", NULL);
    size_t len;
    char *kept = read_file_or_die(log, &len);
    assert_int_equal(len, sizeof earlier - 1);
    assert_memory_equal(kept, earlier, len);
    free(kept);
    assert_false(file_exists(tmp));
    const char *full[] = {"--fast", "--model", fx.model, "--tokenizer", fx.merges, "--log", "/dev/full", NULL};
    run_refuses(full, "cannot write /dev/full: it is a device", NULL);
    /* a run that succeeds replaces it, and leaves no .tmp */
    const char *good[] = {"--fast", "--model", fx.model, "--tokenizer", fx.merges, "--log", log, "--threads", "1", NULL};
    run_ok(good);
    kept = read_file_or_die(log, &len);
    assert_true(strncmp(kept, "task\titems\tchance\t", 18) == 0);
    free(kept);
    assert_false(file_exists(tmp));
    remove(log);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_file_is_read_into_tasks_in_file_order),
        cmocka_unit_test(test_evaluation_counts_items_chance_and_picks_per_task),
        cmocka_unit_test(test_calibration_removes_a_bias_towards_one_label),
        cmocka_unit_test(test_a_prompt_longer_than_the_context_keeps_its_end),
        cmocka_unit_test(test_zeroshot_runs_end_to_end_with_fast_on_a_tiny_model),
        cmocka_unit_test(test_zeroshot_refuses_a_missing_file_or_an_unknown_flag),
        cmocka_unit_test(test_zeroshot_refuses_a_malformed_line_naming_file_and_line),
        cmocka_unit_test(test_zeroshot_refuses_a_tokenizer_that_does_not_match_the_model),
        cmocka_unit_test(test_zeroshot_keeps_the_previous_log_when_a_run_fails),
    };
    return cmocka_run_group_tests_name("gpt2_zeroshot", tests, group_setup, group_teardown);
}
