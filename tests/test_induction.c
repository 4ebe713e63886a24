/* test_induction.c — what rung 3b (induction heads) promises, one property
 * per test. The rung is included whole (TESTING hides its main), so the
 * tests can call the head scores on hand-built attention patterns.
 *
 *   1. The head scores mean what the note says: a pure previous-token head
 *      scores 1 on previous-token attention and 0 on prefix matching; a pure
 *      induction head the other way round; an even head 1/(t+1); copying
 *      ranks the attended token among the context's tokens.
 *   2. The generator's documents: the held-out lines are a block of 12
 *      distinct one-token words and then the same block; the training mix is
 *      pretrain.txt with repeated-block documents among its documents, at
 *      the share asked for, and nothing else when the share is 0.
 *   3. The program end to end with --fast, and --attention on its checkpoint.
 *   4. Bad input: a model too short for the prompts, a missing data file, a
 *      head the checkpoint does not have, a line that is not a repeated block.
 */
#include "testutil.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../src/induction.c"
#pragma GCC diagnostic pop

#include "toyworld.h"

#include <sys/stat.h>

/* ---- 1. the head scores on hand-built patterns ---- */

/* A document like the held-out ones: two start tokens, a block of `m`
 * distinct tokens, then the same block. Returns n; *half is where the
 * repeat starts. */
static int repeated_doc(int *tokens, int m, int *half) {
    tokens[0] = 500;  /* <|endoftext|> */
    tokens[1] = 10;   /* "\n" */
    for (int i = 0; i < m; i++) tokens[2 + i] = tokens[2 + m + i] = 100 + 7 * i;
    tokens[2] = 99;   /* the first word follows "\n" without its space: another token */
    *half = 2 + m;
    return 2 + 2 * m;
}

static void test_previous_token_head_scores_one_on_its_score_and_zero_on_prefix_matching(void **state) {
    (void)state;
    int tokens[64], half, n = repeated_doc(tokens, 12, &half);
    float *att = calloc((size_t)n * n, sizeof(float));
    att[0] = 1.0f;
    for (int t = 1; t < n; t++) att[t * n + t - 1] = 1.0f;
    HeadTally ht = {0};
    head_attention_scores(att, n, tokens, n, half, &ht);
    assert_int_equal(ht.nprev, n - 1);
    assert_int_equal(ht.nprefix, 12 - 1);  /* the repeat's first token has no earlier copy */
    assert_float_equal(ht.prev / ht.nprev, 1.0, 1e-9);
    assert_float_equal(ht.prefix / ht.nprefix, 0.0, 1e-9);
    free(att);
}

static void test_induction_head_scores_one_on_prefix_matching_and_almost_zero_on_previous_token(void **state) {
    (void)state;
    int tokens[64], half, n = repeated_doc(tokens, 12, &half);
    float *att = calloc((size_t)n * n, sizeof(float));
    for (int t = 0; t < n; t++) {
        int target = t >= half ? after_earlier(tokens, t) : -1;
        att[t * n + (target >= 0 ? target : 0)] = 1.0f;  /* else: rest on the first token */
    }
    HeadTally ht = {0};
    head_attention_scores(att, n, tokens, n, half, &ht);
    assert_float_equal(ht.prefix / ht.nprefix, 1.0, 1e-9);
    /* only position 1 (whose previous token is the first) counts as previous-token */
    assert_float_equal(ht.prev / ht.nprev, 1.0 / (n - 1), 1e-9);
    free(att);
}

static void test_an_even_head_scores_one_over_the_positions_it_sees(void **state) {
    (void)state;
    int tokens[64], half, n = repeated_doc(tokens, 5, &half);
    float *att = calloc((size_t)n * n, sizeof(float));
    for (int t = 0; t < n; t++) for (int s = 0; s <= t; s++) att[t * n + s] = 1.0f / (t + 1);
    HeadTally ht = {0};
    head_attention_scores(att, n, tokens, n, half, &ht);
    double want = 0.0;
    for (int t = half + 1; t < n; t++) want += 1.0 / (t + 1);
    assert_float_equal(ht.prefix, want, 1e-6);
    free(att);
}

static void test_the_induction_target_is_the_token_after_the_single_earlier_occurrence(void **state) {
    (void)state;
    int a[] = {1, 2, 3, 1};
    assert_int_equal(after_earlier(a, 3), 1);
    int twice[] = {1, 2, 1, 3, 1};  /* two earlier 1s: ambiguous */
    assert_int_equal(after_earlier(twice, 4), -1);
    int adjacent[] = {4, 4};        /* the token after the match is this very position */
    assert_int_equal(after_earlier(adjacent, 1), -1);
    int fresh[] = {1, 2, 3};
    assert_int_equal(after_earlier(fresh, 2), -1);
}

static void test_copying_ranks_the_attended_token_among_the_context_tokens(void **state) {
    (void)state;
    float raise[16] = {0};
    int ctx[] = {3, 5, 7, 5, 9};  /* four distinct tokens, 5 twice (counted once) */
    raise[3] = 0.1f; raise[5] = 0.9f; raise[7] = -0.4f; raise[9] = 0.2f;
    raise[11] = 100.0f;           /* not in the context: never counted */
    assert_float_equal(copy_rank(raise, ctx, 5, 5), 1.0, 1e-6);
    assert_float_equal(copy_rank(raise, ctx, 5, 7), 0.0, 1e-6);
    assert_float_equal(copy_rank(raise, ctx, 5, 9), 2.0 / 3.0, 1e-6);
}

/* What head_logit_raise reads as one head's output is that head's share of
 * the block's attention output: with the final LayerNorm's gain 1, the
 * centred outputs of the heads add up to the block's (centred) attproj, and
 * the raise of a token is its embedding's dot product with it. */
static void test_head_outputs_add_up_to_the_blocks_attention_output(void **state) {
    (void)state;
    enum { C = 16, NH = 2, V = 40, N = 8 };
    GPT m;
    gpt_build(&m, gpt_config(16, V, 2, NH, C), 5);
    for (int i = 0; i < C; i++) m.params.lnfw[i] = 1.0f;
    int tokens[N] = {1, 4, 9, 16, 25, 36, 4, 9};
    gpt_forward(&m, tokens, 1, N);
    float o[NH][C], raise[V];
    for (int t = 0; t < N; t++) {
        for (int h = 0; h < NH; h++) head_logit_raise(&m, 0, h, 0, t, tokens, N, o[h], raise);
        const float *proj = m.acts.attproj + (size_t)t * C;  /* block 0, row 0 */
        float mean = 0.0f;
        for (int c = 0; c < C; c++) mean += proj[c] / C;
        for (int c = 0; c < C; c++) assert_float_equal(o[0][c] + o[1][c], proj[c] - mean, 1e-5);
        for (int k = 0; k < N; k++) {  /* the last head's raise, token by token */
            float dot = 0.0f;
            for (int c = 0; c < C; c++) dot += m.params.wte[tokens[k] * C + c] * o[1][c];
            assert_float_equal(raise[tokens[k]], dot, 1e-5);
        }
    }
    gpt_free(&m);
}

/* ---- the shared fixture: the generator's files, a tokenizer, tokens ---- */

static struct {
    char dir[256], merges[256], train_bin[256], zero_dir[256];
} fx;

static char *in(char *buf, const char *dir, const char *file) {
    snprintf(buf, 512, "%s/%s", dir, file);
    return buf;
}

static void run_toydata(const char *dir, const char *share) {
    const char *args[] = {"--out", dir, "--pretrain-tokens", "20000", "--induction-share", share, NULL};
    expect_program_ok("toydata", args);
}

static int group_setup(void **state) {
    (void)state;
    temp_path(fx.dir, sizeof fx.dir, "induction-data");
    temp_path(fx.zero_dir, sizeof fx.zero_dir, "induction-data-0");
    temp_path(fx.merges, sizeof fx.merges, "induction-tok.merges");
    temp_path(fx.train_bin, sizeof fx.train_bin, "induction-train.bin");
    run_toydata(fx.dir, "0.3");
    run_toydata(fx.zero_dir, "0");
    char path[512];
    size_t len, n;
    char *text = read_file_or_die(in(path, fx.dir, "pretrain.txt"), &len);
    Tokenizer tok;
    tokenizer_train(&tok, text, len, 512);
    tokenizer_save_merges(&tok, fx.merges);
    free(text);
    text = read_file_or_die(in(path, fx.dir, "induction_train.txt"), &len);
    int *tokens = tokenizer_encode_with_special(&tok, text, len, &n);
    tokens_save(fx.train_bin, tokens, n);
    free(tokens);
    free(text);
    tokenizer_free(&tok);
    return 0;
}

static void remove_dir(const char *dir) {
    static const char *const files[] = {
        "pretrain.txt", "pretrain_excerpt.txt", "val.txt", "induction_train.txt", "induction_test.txt",
        "classify_train.tsv", "classify_test.tsv", "zeroshot_test.tsv", "fewshot_pool.tsv", "fewshot_test.tsv",
        "sft_train.tsv", "sft_test.tsv", "prefs_train.tsv", "prefs_test.tsv", "ppo_prompts.tsv"};
    char path[512];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) remove(in(path, dir, files[i]));
    rmdir(dir);
}

static int group_teardown(void **state) {
    (void)state;
    remove_dir(fx.dir);
    remove_dir(fx.zero_dir);
    remove(fx.merges);
    remove(fx.train_bin);
    return 0;
}

/* ---- 2. the generator's documents ---- */

/* Splits a line into words (in place); returns how many. */
static int words_of(char *line, char **w, int max) {
    int n = 0;
    for (char *p = strtok(line, " "); p && n < max; p = strtok(NULL, " ")) w[n++] = p;
    return n;
}

static int is_block_word(const char *w) {
    static const char *const numbers[] = {"one", "two", "three", "four", "five", "six", "seven", "eight",
                                          "nine", "ten", "eleven", "twelve"};
    for (int i = 0; i < TOY_NUM_OBJECTS; i++) if (strcmp(w, TOY_OBJECTS[i].name) == 0) return 1;
    for (int i = 0; i < 8; i++) if (!strcmp(w, TOY_COLOURS[i]) || !strcmp(w, TOY_PLACES[i])) return 1;
    for (int i = 0; i < 12; i++) if (strcmp(w, numbers[i]) == 0) return 1;
    return 0;
}

/* The number of distinct words that repeat with a period: 0 unless w[i] ==
 * w[i % p] for every i, with w[0..p) distinct block words. */
static int block_period(char **w, int n) {
    for (int p = 1; p <= n; p++) {
        int ok = 1;
        for (int i = 0; i < n && ok; i++) ok = strcmp(w[i], w[i % p]) == 0;
        if (!ok) continue;
        for (int i = 0; i < p; i++) {
            if (!is_block_word(w[i])) return 0;
            for (int j = 0; j < i; j++) if (strcmp(w[i], w[j]) == 0) return 0;
        }
        return p;
    }
    return 0;
}

static void test_held_out_documents_are_a_block_of_twelve_then_the_same_block(void **state) {
    (void)state;
    char path[512];
    char *text = read_file_or_die(in(path, fx.dir, "induction_test.txt"), NULL);
    int lines = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        assert_non_null(next);
        *next++ = '\0';
        char *w[64];
        int n = words_of(line, w, 64);
        assert_int_equal(n, 24);
        assert_int_equal(block_period(w, n), 12);
        lines++;
    }
    assert_int_equal(lines, 256);
    free(text);
    /* the committed file is what seed 1 writes (it does not depend on --pretrain-tokens) */
    char *committed = read_file_or_die("data/induction_test.txt", NULL);
    char *fresh = read_file_or_die(in(path, fx.dir, "induction_test.txt"), NULL);
    assert_string_equal(committed, fresh);
    free(committed);
    free(fresh);
}

/* Reads the induction mix back: every line that is not a repeated-block
 * document must be the next line of pretrain.txt, in order. */
static void check_mix(const char *dir, double want_share) {
    char path[512];
    char *mix = read_file_or_die(in(path, dir, "induction_train.txt"), NULL);
    char *pre = read_file_or_die(in(path, dir, "pretrain.txt"), NULL);
    char *p = pre;
    long synthetic_words = 0, natural_bytes = 0, synthetic_docs = 0;
    for (char *line = mix, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        assert_non_null(next);
        *next++ = '\0';
        size_t len = strlen(line);
        if (strncmp(line, p, len) == 0 && p[len] == '\n') {  /* the next natural document */
            p += len + 1;
            natural_bytes += (long)len;
            continue;
        }
        const char *eot = "<|endoftext|>";
        assert_true(len > strlen(eot) && strcmp(line + len - strlen(eot), eot) == 0);
        line[len - strlen(eot)] = '\0';
        char *w[128];
        int n = words_of(line, w, 128), period = block_period(w, n);
        assert_int_equal(n, 64);
        assert_true(period >= 2 && period <= 16);
        synthetic_words += n;
        synthetic_docs++;
    }
    assert_int_equal(*p, '\0');  /* every natural document, none skipped */
    if (want_share == 0.0) {
        assert_int_equal(synthetic_docs, 0);
    } else {
        /* the share is of estimated tokens: a synthetic word is one, natural
         * text about 3 bytes (toydata's estimate, end-of-text counted) */
        double share = synthetic_words / (synthetic_words + natural_bytes / 3.0);
        if (fabs(share - want_share) > 0.03) fail_msg("share %.3f, want %.3f", share, want_share);
    }
    free(mix);
    free(pre);
}

static void test_training_mix_is_pretrain_text_with_repeated_blocks_at_the_share_asked(void **state) {
    (void)state;
    check_mix(fx.dir, 0.3);
}

static void test_training_mix_at_share_zero_is_pretrain_text_alone(void **state) {
    (void)state;
    check_mix(fx.zero_dir, 0.0);
}

/* ---- 3. the program end to end ---- */

typedef struct {
    char out[256], log[256], heads[256], heatmap[256], attn[256];
} Outputs;

static void outputs(Outputs *o, const char *tag) {
    char t[64];
    snprintf(t, sizeof t, "%s.bin", tag); temp_path(o->out, sizeof o->out, t);
    snprintf(t, sizeof t, "%s.tsv", tag); temp_path(o->log, sizeof o->log, t);
    snprintf(t, sizeof t, "%s-heads.tsv", tag); temp_path(o->heads, sizeof o->heads, t);
    snprintf(t, sizeof t, "%s-heatmap.tsv", tag); temp_path(o->heatmap, sizeof o->heatmap, t);
    snprintf(t, sizeof t, "%s-attn.tsv", tag); temp_path(o->attn, sizeof o->attn, t);
}

static void remove_outputs(const Outputs *o) {
    remove(o->out);
    remove(o->log);
    remove(o->heads);
    remove(o->heatmap);
    remove(o->attn);
}

static int count_lines_starting(const char *text, const char *prefix) {
    int n = 0;
    for (const char *p = text; p; p = strchr(p, '\n')) {
        if (*p == '\n') p++;
        if (strncmp(p, prefix, strlen(prefix)) == 0) n++;
    }
    return n;
}

static void test_fast_run_trains_logs_every_head_and_saves_a_checkpoint(void **state) {
    (void)state;
    Outputs o;
    outputs(&o, "ind-fast");
    const char *args[] = {"--fast", "--threads", "1", "--seq", "64", "--data", fx.train_bin, "--tokenizer",
                          fx.merges, "--out", o.out, "--log", o.log, "--heads-log", o.heads, "--heatmap",
                          o.heatmap, NULL};
    char *out = NULL, *err = NULL;
    int status = run_program_io("induction", args, NULL, &out, NULL, &err);
    if (status != 0) print_error("induction --fast failed (%d): %s\n", status, err);
    assert_int_equal(status, 0);
    assert_non_null(strstr(out, "summary induction: phase change "));
    assert_non_null(strstr(out, "pairing k=8 "));
    /* one row per step, a header, and evaluations at 0, 10, 20, 30 in the heads log */
    char *log = read_file_or_die(o.log, NULL), *heads = read_file_or_die(o.heads, NULL);
    assert_int_equal(count_lines_starting(log, "step\t"), 1);
    assert_non_null(strstr(log, "\n30\t"));
    assert_non_null(strstr(heads, "step\tprefix_l0h0\tprefix_l0h1\tprefix_l1h0\tprefix_l1h1\tcopy_l0h0"));
    assert_non_null(strstr(heads, "\n20\t"));
    /* two heatmaps, each a square of the first held-out document's positions */
    char *hm = read_file_or_die(o.heatmap, NULL);
    assert_int_equal(count_lines_starting(hm, "# induction head"), 1);
    assert_int_equal(count_lines_starting(hm, "# previous-token head"), 1);
    assert_int_equal(count_lines_starting(hm, "query\tkey\tweight"), 2);
    /* the checkpoint loads and records its tokenizer */
    GPT m;
    gpt_load(&m, o.out);
    Tokenizer tok;
    tokenizer_load(&tok, fx.merges);
    assert_true(m.tokenizer_id == tokenizer_id(&tok));
    assert_int_equal(m.config.L, 2);
    tokenizer_free(&tok);
    gpt_free(&m);
    /* --attention on it: one heatmap, rows summing to one */
    const char *attn[] = {"--attention", "--model", o.out, "--tokenizer", fx.merges, "--layer", "1", "--head",
                          "0", "--prompt", "fox two barn fox two barn", "--heatmap", o.attn, NULL};
    expect_program_ok("induction", attn);
    char *a = read_file_or_die(o.attn, NULL);
    assert_int_equal(count_lines_starting(a, "query\tkey\tweight"), 1);
    double row_sum = 0.0;
    for (const char *p = strstr(a, "\n3\t"); p && strncmp(p, "\n3\t", 3) == 0; p = strchr(p + 1, '\n')) {
        int q, k;
        double wgt;
        assert_int_equal(sscanf(p + 1, "%d\t%d\t%lf", &q, &k, &wgt), 3);
        row_sum += wgt;
    }
    assert_float_equal(row_sum, 1.0, 1e-3);
    free(a);
    free(hm);
    free(log);
    free(heads);
    free(out);
    free(err);
    remove_outputs(&o);
}

/* ---- 4. bad input ---- */

static void test_a_model_too_short_for_the_prompts_is_refused_before_training(void **state) {
    (void)state;
    Outputs o;
    outputs(&o, "ind-short");
    const char *args[] = {"--fast", "--seq", "16", "--data", fx.train_bin, "--tokenizer", fx.merges, "--out", o.out,
                          "--log", o.log, "--heads-log", o.heads, "--heatmap", o.heatmap, NULL};
    expect_program_refuses("induction", args, "too short", NULL);
    assert_false(file_exists(o.out));
    assert_false(file_exists(o.log));
    remove_outputs(&o);
}

static void test_a_missing_data_file_is_refused(void **state) {
    (void)state;
    Outputs o;
    outputs(&o, "ind-missing");
    const char *args[] = {"--fast", "--data", "build/tmp/no-such-tokens.bin", "--tokenizer", fx.merges, "--out",
                          o.out, "--log", o.log, "--heads-log", o.heads, "--heatmap", o.heatmap, NULL};
    expect_program_refuses("induction", args, "no-such-tokens.bin", NULL);
    const char *test_missing[] = {"--fast", "--seq", "64", "--data", fx.train_bin, "--tokenizer", fx.merges,
                                  "--test", "build/tmp/no-such-docs.txt", "--out", o.out, "--log", o.log,
                                  "--heads-log", o.heads, "--heatmap", o.heatmap, NULL};
    expect_program_refuses("induction", test_missing, "no-such-docs.txt", NULL);
    assert_false(file_exists(o.out));
    remove_outputs(&o);
}

static void test_a_line_that_is_not_a_repeated_block_is_refused_with_its_line(void **state) {
    (void)state;
    Outputs o;
    outputs(&o, "ind-badline");
    char bad[256];
    temp_path(bad, sizeof bad, "induction-bad.txt");
    const char *text = "fox two fox two\nfox two barn fox two cup\n";
    write_bytes(bad, text, strlen(text));
    const char *args[] = {"--fast", "--seq", "64", "--data", fx.train_bin, "--tokenizer", fx.merges, "--test", bad,
                          "--out", o.out, "--log", o.log, "--heads-log", o.heads, "--heatmap", o.heatmap, NULL};
    expect_program_refuses("induction", args, ":2: not a block followed by the same block", NULL);
    remove(bad);
    remove_outputs(&o);
}

static void test_attention_on_a_head_the_checkpoint_lacks_is_refused(void **state) {
    (void)state;
    char model[256], out[256];
    temp_path(model, sizeof model, "induction-small.bin");
    temp_path(out, sizeof out, "induction-small-attn.tsv");
    Tokenizer tok;
    tokenizer_load(&tok, fx.merges);
    GPT m;
    gpt_build(&m, gpt_config(32, tok.vocab_size, 1, 2, 16), 1);
    m.tokenizer_id = tokenizer_id(&tok);
    gpt_save(&m, model);
    const char *args[] = {"--attention", "--model", model, "--tokenizer", fx.merges, "--layer", "0", "--head", "2",
                          "--heatmap", out, NULL};
    expect_program_refuses("induction", args, "--head 2", "heads 0..1");
    assert_false(file_exists(out));
    const char *longp[] = {"--attention", "--model", model, "--tokenizer", fx.merges, "--layer", "0", "--prompt",
                           "fox two barn cup hat key lamp bell fox two barn cup hat key lamp bell fox two barn cup "
                           "hat key lamp bell fox two barn cup hat key lamp bell", "--heatmap", out, NULL};
    expect_program_refuses("induction", longp, "context is 32", NULL);
    gpt_free(&m);
    tokenizer_free(&tok);
    remove(model);
}

int main(void) {
    const struct CMUnitTest scores[] = {
        cmocka_unit_test(test_previous_token_head_scores_one_on_its_score_and_zero_on_prefix_matching),
        cmocka_unit_test(test_induction_head_scores_one_on_prefix_matching_and_almost_zero_on_previous_token),
        cmocka_unit_test(test_an_even_head_scores_one_over_the_positions_it_sees),
        cmocka_unit_test(test_the_induction_target_is_the_token_after_the_single_earlier_occurrence),
        cmocka_unit_test(test_copying_ranks_the_attended_token_among_the_context_tokens),
        cmocka_unit_test(test_head_outputs_add_up_to_the_blocks_attention_output),
    };
    const struct CMUnitTest program[] = {
        cmocka_unit_test(test_held_out_documents_are_a_block_of_twelve_then_the_same_block),
        cmocka_unit_test(test_training_mix_is_pretrain_text_with_repeated_blocks_at_the_share_asked),
        cmocka_unit_test(test_training_mix_at_share_zero_is_pretrain_text_alone),
        cmocka_unit_test(test_fast_run_trains_logs_every_head_and_saves_a_checkpoint),
        cmocka_unit_test(test_a_model_too_short_for_the_prompts_is_refused_before_training),
        cmocka_unit_test(test_a_missing_data_file_is_refused),
        cmocka_unit_test(test_a_line_that_is_not_a_repeated_block_is_refused_with_its_line),
        cmocka_unit_test(test_attention_on_a_head_the_checkpoint_lacks_is_refused),
    };
    int failed = cmocka_run_group_tests_name("head scores", scores, NULL, NULL);
    failed += cmocka_run_group_tests_name("induction program", program, group_setup, group_teardown);
    return failed;
}
