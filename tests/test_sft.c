/* test_sft.c — what rung 4 (supervised fine-tuning) promises, one property
 * per test. The rung is included whole (TESTING hides its main), so the
 * tests can call sft_step and load_pairs directly.
 *
 *   1. Answer-only masking: the loss and its gradient do not see the target
 *      of any prompt position (or of the padding): changing one changes
 *      nothing, to the bit; changing an answer token's target changes the
 *      loss. The loss is the mean over answer tokens and end-of-text only.
 *   2. The program learns: a few SFT steps of a tiny model on toy
 *      demonstrations lower the held-out answer loss; the checkpoint loads.
 *   3. Bad input (a missing column, an empty response, a missing file, a
 *      chat longer than the context, a checkpoint of another vocabulary, an
 *      unknown flag) ends in one "error: ..." line naming the file (and
 *      line), exit status 1, and no checkpoint written.
 *   4. Nothing lost, nothing hung: a run killed with kill -9 leaves the
 *      previous log as it was; an output that cannot be written (a folder,
 *      a device, /proc, a folder that is a file, the --model itself), a FIFO
 *      as an input, or a checkpoint of another tokenizer is refused before
 *      any work, in one line, with the previous log kept.
 */
#include "testutil.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../src/sft.c"
#pragma GCC diagnostic pop

#include "chat_fixture.h"
#include "failing_runs.h"

/* ---- 1. answer-only masking ---- */

static void test_sft_loss_ignores_prompt_targets_and_counts_answer_targets(void **state) {
    (void)state;
    GPT m;
    gpt_build(&m, gpt_config(64, tok.vocab_size, 2, 2, 16), 3);
    fx_randomize_params(&m, 4);
    Chat c[2] = {chat_encode_pair(&tok, "what colour is the fox ?", "it is red ."),
                 chat_encode_pair(&tok, "where is the owl ?", "it is in the barn .")};
    const Chat *ptrs[2] = {&c[0], &c[1]};
    ChatBatch bt = {0};
    chat_batch_fill(&bt, ptrs, 2, tokenizer_special_id(&tok, TOK_EOT));
    int N = bt.B * bt.T;

    float loss0 = sft_step(&m, &bt);
    float *g0 = malloc_or_die(sizeof(float) * m.num_parameters, "grads");
    memcpy(g0, m.grads_memory, sizeof(float) * m.num_parameters);

    /* the loss is the plain mean of -log p(target) over the weighted positions */
    double sum = 0.0;
    int weighted = 0;
    for (int i = 0; i < N; i++) if (bt.weights[i] != 0.0f) { sum += m.acts.losses[i]; weighted++; }
    assert_int_equal(weighted, (c[0].len - c[0].context_len) + (c[1].len - c[1].context_len));
    assert_float_equal(loss0, (float)(sum / weighted), 1e-5f);

    /* every unweighted target (prompt positions, padding) becomes another token */
    int changed = 0;
    for (int i = 0; i < N; i++) {
        if (bt.weights[i] == 0.0f) {
            bt.targets[i] = (bt.targets[i] + 7) % tok.vocab_size;
            changed++;
        }
    }
    assert_true(changed > 10);
    float loss1 = sft_step(&m, &bt);
    assert_true(loss1 == loss0);
    assert_memory_equal(m.grads_memory, g0, sizeof(float) * m.num_parameters);

    /* one answer token's target: the loss moves */
    int i = c[0].context_len;  /* predicts the second response token */
    assert_true(bt.weights[i] == 1.0f);
    bt.targets[i] = (bt.targets[i] + 7) % tok.vocab_size;
    float loss2 = sft_step(&m, &bt);
    assert_true(loss2 != loss0);

    free(g0);
    chat_batch_free(&bt);
    chat_free(&c[0]);
    chat_free(&c[1]);
    gpt_free(&m);
}

/* ---- 2. the program learns ---- */

typedef struct {
    char model[256], train[256], test[256], out[256], log[256], bad[256];
} Files;

static void make_files(Files *f, const char *tag) {
    char name[64];
#define FILE_NAME(field, suffix) \
    snprintf(name, sizeof name, "%s-" suffix, tag); \
    temp_path(f->field, sizeof f->field, name);
    FILE_NAME(model, "gpt.bin")
    FILE_NAME(train, "sft_train.tsv")
    FILE_NAME(test, "sft_test.tsv")
    FILE_NAME(out, "sft.bin")
    FILE_NAME(log, "sft.tsv")
    FILE_NAME(bad, "bad.tsv")
#undef FILE_NAME
    fx_write_model(f->model, tok.vocab_size, 128);
    fx_write_sft(f->train, 0, 24);   /* objects 0..11 */
    fx_write_sft(f->test, 16, 8);    /* objects 16..19: never demonstrated */
}

static void remove_files(const Files *f) {
    remove(f->model);
    remove(f->train);
    remove(f->test);
    remove(f->out);
    remove(f->log);
    remove(f->bad);
}

static void run_ok(const char **args) { expect_program_ok("sft", args); }

static void run_refuses(const char **args, const char *phrase, const char *also) {
    expect_program_refuses("sft", args, phrase, also);
}

/* 40 steps from a random init at lr 3e-3: the answers' forms ("it is X .",
 * "it is in the P .") are learned from the demonstrations, so the held-out
 * answer loss (prompts never demonstrated) must fall by at least 1.5 nats
 * from ln(300) = 5.7, a uniform guess. */
static void test_a_few_sft_steps_lower_the_held_out_answer_loss_on_a_tiny_model(void **state) {
    (void)state;
    Files f;
    make_files(&f, "ok");
    const char *args[] = {"--fast", "--model", f.model, "--tokenizer", merges, "--train", f.train, "--test", f.test,
                          "--out", f.out, "--log", f.log, "--steps", "40", "--lr", "3e-3", "--eval-every", "20",
                          "--max-answer", "8", "--threads", "1", NULL};
    run_ok(args);
    Tsv tsv;
    tsv_read(&tsv, f.log, 11);
    assert_int_equal(tsv.nrows, 41);  /* step 0 (before), then 40 steps */
    const TsvRow *first = &tsv.rows[0], *last = &tsv.rows[tsv.nrows - 1];
    assert_string_equal(first->fields[0], "0");
    assert_string_equal(last->fields[0], "40");
    double before = atof(first->fields[3]), after = atof(last->fields[3]);
    double ema = atof(last->fields[2]), loss1 = atof(tsv.rows[1].fields[1]);
    print_message("held-out answer loss %.3f -> %.3f; train loss %.3f -> ema %.3f\n", before, after, loss1, ema);
    assert_true(fabs(before - log((double)FX_VOCAB)) < 1.0);
    assert_true(after < before - 1.5);
    assert_true(ema < loss1 - 1.5);
    tsv_free(&tsv);

    GPT m;
    gpt_load(&m, f.out);
    assert_int_equal(m.config.V, tok.vocab_size);
    assert_int_equal(m.config.maxT, 128);
    gpt_free(&m);
    remove_files(&f);
}

/* ---- 3. bad input ---- */

static void test_sft_refuses_bad_input_with_one_line(void **state) {
    (void)state;
    Files f;
    make_files(&f, "bad");
    const char *base[] = {"--fast", "--model", f.model, "--tokenizer", merges, "--train", f.bad, "--test", f.test,
                          "--out", f.out, "--log", f.log, "--threads", "1", NULL};
    char where[300];

    /* a missing column: the prompt alone, on line 3 */
    FILE *fp = fopen_or_die(f.bad, "w");
    fprintf(fp, "prompt\tresponse\nwhat colour is the fox ?\tit is red .\nwhere is the owl ?\n");
    fclose(fp);
    snprintf(where, sizeof where, "%s:3", f.bad);
    run_refuses(base, where, "expected at least 2");

    /* an empty response */
    fp = fopen_or_die(f.bad, "w");
    fprintf(fp, "prompt\tresponse\nwhat colour is the fox ?\t\n");
    fclose(fp);
    snprintf(where, sizeof where, "%s:2", f.bad);
    run_refuses(base, where, "the response is empty");

    /* a demonstration longer than the model's context */
    fp = fopen_or_die(f.bad, "w");
    fprintf(fp, "prompt\tresponse\nwhat colour is the fox ?\tit is red .");
    for (int i = 0; i < 60; i++) fprintf(fp, " it is red .");
    fprintf(fp, "\n");
    fclose(fp);
    run_refuses(base, where, "longer than the model's context");

    /* a missing file */
    remove(f.bad);
    run_refuses(base, f.bad, "cannot open");

    /* a checkpoint whose vocabulary is not the tokenizer's */
    fx_write_model(f.model, tok.vocab_size + 5, 128);
    const char *vocab[] = {"--model", f.model, "--tokenizer", merges, "--train", f.train, "--test", f.test,
                           "--out", f.out, "--log", f.log, NULL};
    run_refuses(vocab, f.model, "vocabulary");

    /* flags */
    const char *unknown[] = {"--epochs", "3", NULL};
    run_refuses(unknown, "unknown flag --epochs", NULL);
    const char *bad_value[] = {"--steps", "many", NULL};
    run_refuses(bad_value, "--steps", "not an integer");
    const char *extra[] = {"train", NULL};
    run_refuses(extra, "unexpected argument 'train'", NULL);

    /* a checkpoint path into a folder that does not exist: refused before
     * training, so not even the log is written */
    fx_write_model(f.model, tok.vocab_size, 128);
    remove(f.log);
    const char *nodir[] = {"--fast", "--model", f.model, "--tokenizer", merges, "--train", f.train, "--test", f.test,
                           "--out", "build/tmp/no-such-folder/sft.bin", "--log", f.log, NULL};
    run_refuses(nodir, "folder build/tmp/no-such-folder does not exist", NULL);
    assert_false(file_exists(f.log));

    assert_false(file_exists(f.out));
    remove_files(&f);
}


/* ---- 4. nothing lost, nothing hung ---- */

static void test_sft_killed_mid_run_leaves_the_previous_log_intact(void **state) {
    (void)state;
    Files f;
    make_files(&f, "kill");
    const char *args[] = {"--fast", "--model", f.model, "--tokenizer", merges, "--train", f.train, "--test", f.test,
                          "--out", f.out, "--log", f.log, "--steps", "1000000", "--eval-every", "1000000",
                          "--threads", "1", NULL};
    expect_log_kept_after_kill("sft", args, f.log, 4);  /* the header, step 0 and two steps */
    assert_false(file_exists(f.out));
    remove_files(&f);
}

static void test_sft_refuses_an_output_it_cannot_write_or_an_input_that_is_not_a_file_before_any_work(void **state) {
    (void)state;
    Files f;
    make_files(&f, "outs");
    char fifo[300], under_file[300], other_tok[300];
    temp_path(fifo, sizeof fifo, "sft-fifo");
    remove(fifo);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    snprintf(under_file, sizeof under_file, "%s/sft.bin", f.train);  /* its folder is a regular file */
    temp_path(other_tok, sizeof other_tok, "sft-other-tok.bin");
    fx_write_model(other_tok, tok.vocab_size, 128);
    GPT m;
    gpt_load(&m, other_tok);
    m.tokenizer_id = fx_tok_id ^ 0x5a5a5a5au;  /* a checkpoint of another tokenizer of the same size */
    gpt_save(&m, other_tok);
    gpt_free(&m);
    struct { const char *flag, *value, *phrase; } cases[] = {
        {"--out", "build/tmp", "cannot write build/tmp: it is a folder"},
        {"--out", "/dev/full", "cannot write /dev/full: it is a device"},
        {"--out", "/proc/x.bin", "cannot create /proc/x.bin.tmp"},
        {"--out", under_file, "is not a folder"},
        {"--out", f.model, "is also --model"},
        {"--log", "/dev/full", "cannot write /dev/full: it is a device"},
        {"--train", fifo, "it is a FIFO, not a regular file"},
        {"--model", fifo, "it is a FIFO, not a regular file"},
        {"--model", other_tok, "was trained with another tokenizer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[] = {"--fast", "--model", f.model, "--tokenizer", merges, "--train", f.train, "--test",
                              f.test, "--out", f.out, "--log", f.log, "--threads", "1", NULL};
        for (int a = 0; args[a]; a++) if (strcmp(args[a], cases[i].flag) == 0) args[a + 1] = cases[i].value;
        const char *log = strcmp(cases[i].flag, "--log") == 0 ? f.bad : f.log;  /* a log that must be kept */
        expect_refused_before_work("sft", args, cases[i].phrase, log);
    }
    assert_false(file_exists(f.out));
    remove(fifo);
    remove(other_tok);
    remove_files(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sft_loss_ignores_prompt_targets_and_counts_answer_targets),
        cmocka_unit_test(test_a_few_sft_steps_lower_the_held_out_answer_loss_on_a_tiny_model),
        cmocka_unit_test(test_sft_refuses_bad_input_with_one_line),
        cmocka_unit_test(test_sft_killed_mid_run_leaves_the_previous_log_intact),
        cmocka_unit_test(test_sft_refuses_an_output_it_cannot_write_or_an_input_that_is_not_a_file_before_any_work),
    };
    return cmocka_run_group_tests_name("sft", tests, fx_group_setup, fx_group_teardown);
}
