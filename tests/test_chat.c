/* test_chat.c — what rung 7 (the terminal chat) promises. The program is
 * included whole (TESTING hides its main), so the tests can call
 * speaker_turn and fit_window directly, and run build/chat with a scripted
 * conversation on its standard input.
 *
 *   1. A turn is the chat format's context for the line, the reply, and an
 *      end-of-text, appended to the conversation; the next turn sees it.
 *   2. When the window is full the oldest turns are dropped, whole, and the
 *      program says so.
 *   3. The program answers a scripted conversation from standard input and
 *      exits cleanly at end of file; --compare answers with both
 *      checkpoints; a missing or mismatched checkpoint ends in one
 *      "error: ..." line.
 *   4. The tokenizer comes with the checkpoint: without --tokenizer, chat
 *      finds the .merges beside the model whose id the checkpoint records
 *      (another tokenizer of the same size beside it is passed over); a
 *      checkpoint of another tokenizer, or a FIFO as the model, is refused
 *      in one line without hanging; an old checkpoint that records none
 *      is used with a one-line note.
 *   5. --plain continues the typed text itself: no chat markers, no toy
 *      world in the banner.
 */
#include "testutil.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../src/chat.c"
#pragma GCC diagnostic pop

#include "chat_fixture.h"
#include "failing_runs.h"

static char model[256], model_other[256];

/* the fixture's tokenizer, and two tiny checkpoints: one that matches it, one
 * with another vocabulary */
static int group_setup(void **state) {
    if (fx_group_setup(state) != 0) return -1;
    temp_path(model, sizeof model, "chat-model.bin");
    fx_write_model(model, tok.vocab_size, 64);
    temp_path(model_other, sizeof model_other, "chat-model-other-vocab.bin");
    fx_write_model(model_other, tok.vocab_size + 8, 64);
    return 0;
}

static int group_teardown(void **state) {
    remove(model);
    remove(model_other);
    return fx_group_teardown(state);
}

/* ---- running the program with a scripted standard input ---- */

/* build/chat with args, standard input from the file stdin_path; *out and
 * *err (to free) receive its stdout and stderr. */
static int run_with_stdin(const char *prog, const char **args, const char *stdin_path, char **out, char **err) {
    return run_program_io(prog, args, stdin_path, out, NULL, err);
}

static int count_lines_starting(const char *text, const char *prefix) {
    int n = 0;
    size_t len = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, prefix, len) == 0) n++;
    }
    return n;
}

/* Lines whose speaker label (the text before the first "> ") ends with
 * `label`: the fixtures' files are named build/tmp/<pid>-NAME.bin, so the
 * program calls them "<pid>-NAME". `rest` (may be "") must follow "> ". */
static int count_replies(const char *text, const char *label, const char *rest) {
    int n = 0;
    size_t ll = strlen(label), lr = strlen(rest);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        const char *gt = strstr(p, "> ");
        const char *eol = strchr(p, '\n');
        if (!gt || (eol && gt > eol) || (size_t)(gt - p) < ll) continue;
        if (strncmp(gt - ll, label, ll) == 0 && strncmp(gt + 2, rest, lr) == 0) n++;
    }
    return n;
}

static const char *SCRIPT = "where is the owl ?\nwhat colour is the fox ?\n\nwhat colour is it ?\n"
                            "where is the dog ?\nwhat is 12 + 34 ?\nwhat colour is the cup ?\n";

static void write_script(const char *path, const char *text) { write_bytes(path, text, strlen(text)); }

/* ---- 1. a turn ---- */

static void test_a_turn_is_the_prompt_in_chat_format_then_the_reply_then_end_of_text(void **state) {
    (void)state;
    Speaker s;
    speaker_load(&s, model, &tok, merges);
    Options o = defaults();
    o.temperature = 0.0f;
    o.max_reply = 6;
    Rng rng;
    rng_seed(&rng, 1);
    FILE *sink = fopen("/dev/null", "w");
    assert_int_equal(speaker_turn(&s, &tok, "where is the owl ?", &o, &rng, sink), 0);
    int eot = tokenizer_special_id(&tok, TOK_EOT);
    Chat q = chat_encode_prompt(&tok, "where is the owl ?");
    assert_int_equal(s.nturns, 1);
    assert_int_equal(s.turn_len[0], s.len);
    assert_memory_equal(s.ctx, q.tokens, sizeof(int) * (size_t)q.len);
    assert_int_equal(s.ctx[s.len - 1], eot);
    assert_true(s.len - q.len - 1 <= o.max_reply);
    for (int i = q.len; i < s.len - 1; i++) assert_true(s.ctx[i] != eot);  /* the reply itself */
    /* the second turn follows the first in the context */
    int first = s.len;
    assert_int_equal(speaker_turn(&s, &tok, "what colour is it ?", &o, &rng, sink), 0);
    chat_free(&q);
    q = chat_encode_prompt(&tok, "what colour is it ?");
    assert_int_equal(s.nturns, 2);
    assert_memory_equal(s.ctx + first, q.tokens, sizeof(int) * (size_t)q.len);
    assert_int_equal(s.turn_len[0] + s.turn_len[1], s.len);
    fclose(sink);
    chat_free(&q);
    speaker_free(&s);
}

/* A reply that uses all max_reply tokens without an end-of-text is cut
 * there, marked as cut in the transcript, and still closed with an
 * end-of-text in the context; one that ends is not marked. Which case
 * happens is decided by the reference: the greedy tokens gpt_sample draws. */
static void test_a_reply_without_end_of_text_is_cut_marked_and_closed(void **state) {
    (void)state;
    Speaker s;
    speaker_load(&s, model, &tok, merges);
    Options o = defaults();
    o.temperature = 0.0f;
    int eot = tokenizer_special_id(&tok, TOK_EOT), cuts = 0;
    for (o.max_reply = 1; o.max_reply <= 4; o.max_reply++) {
        speaker_reset(&s);
        Chat q = chat_encode_prompt(&tok, "where is the owl ?");
        int want[4];
        Rng rng;
        rng_seed(&rng, 1);
        int n = gpt_sample_uncached(&s.m, q.tokens, q.len, want, o.max_reply, eot, 0.0f, 0, &rng);
        int ended = want[n - 1] == eot;
        char path[256];
        temp_path(path, sizeof path, "chat-cut.txt");
        FILE *f = fopen_or_die(path, "w");
        assert_int_equal(speaker_turn(&s, &tok, "where is the owl ?", &o, &rng, f), 0);
        fclose(f);
        size_t len;
        char *text = read_file_or_die(path, &len);
        char mark[64];
        snprintf(mark, sizeof mark, "[cut: no end-of-text after %d tokens]", o.max_reply);
        assert_int_equal(strstr(text, mark) != NULL, !ended);
        int reply = ended ? n - 1 : n;  /* the reply's tokens, the end-of-text left out */
        assert_int_equal(s.len, q.len + reply + 1);
        assert_memory_equal(s.ctx + q.len, want, sizeof(int) * (size_t)reply);
        assert_int_equal(s.ctx[s.len - 1], eot);
        cuts += !ended;
        free(text);
        remove(path);
        chat_free(&q);
    }
    assert_true(cuts > 0);  /* the random fixture model rambles: the cut case did happen */
    speaker_free(&s);
}

/* ---- 2. the window ---- */

static void test_a_full_window_drops_the_oldest_turns_whole(void **state) {
    (void)state;
    Speaker s;
    speaker_load(&s, model, &tok, merges);  /* maxT = 64 */
    /* three fake turns of 20, 25 and 10 tokens, each token its turn's number */
    int lens[3] = {20, 25, 10};
    for (int t = 0; t < 3; t++) {
        for (int i = 0; i < lens[t]; i++) s.ctx[s.len++] = t;
        s.turn_len[s.nturns++] = lens[t];
    }
    assert_int_equal(fit_window(&s, 9), 0);    /* 55 + 9 = 64 fits */
    assert_int_equal(fit_window(&s, 10), 1);   /* 65: the first turn goes */
    assert_int_equal(s.len, 35);
    assert_int_equal(s.nturns, 2);
    assert_int_equal(s.ctx[0], 1);
    assert_int_equal(s.ctx[34], 2);
    assert_int_equal(fit_window(&s, 60), 2);   /* everything goes */
    assert_int_equal(s.len, 0);
    assert_int_equal(s.nturns, 0);
    speaker_free(&s);
}

/* ---- 3. the program ---- */

static void test_chat_answers_a_scripted_conversation_and_exits_cleanly_at_eof(void **state) {
    (void)state;
    char in[256];
    temp_path(in, sizeof in, "chat-script.txt");
    write_script(in, SCRIPT);
    const char *args[] = {"--model", model, "--tokenizer", merges, "--max-reply", "8", "--threads", "1", NULL};
    char *out, *err;
    int status = run_with_stdin("chat", args, in, &out, &err);
    if (status != 0) print_error("chat failed (%d): %s\n", status, err);
    assert_int_equal(status, 0);
    assert_string_equal(err, "");
    /* six questions (the blank line is skipped), each echoed and answered */
    assert_int_equal(count_lines_starting(out, "you> "), 6);
    assert_non_null(strstr(out, "you> where is the owl ?\n"));
    assert_non_null(strstr(out, "you> what colour is the cup ?\n"));
    int replies = count_replies(out, "chat-model", "");
    int notices = count_replies(out, "chat-model", "(the conversation outgrew");
    assert_int_equal(replies - notices, 6);
    /* 6 turns of ~12 prompt tokens + up to 8 + 1 cannot share 64 tokens */
    assert_true(notices >= 1);
    free(out);
    free(err);
    /* the same script, greedy, twice: the same transcript */
    const char *greedy[] = {"--model", model, "--tokenizer", merges, "--temperature", "0", "--threads", "1", NULL};
    char *out1, *out2;
    assert_int_equal(run_with_stdin("chat", greedy, in, &out1, &err), 0);
    free(err);
    assert_int_equal(run_with_stdin("chat", greedy, in, &out2, &err), 0);
    free(err);
    assert_string_equal(out1, out2);
    free(out1);
    free(out2);
    /* an empty standard input: a clean exit, nothing answered */
    write_script(in, "");
    assert_int_equal(run_with_stdin("chat", args, in, &out, &err), 0);
    assert_int_equal(count_lines_starting(out, "you> "), 0);
    free(out);
    free(err);
    remove(in);
}

static void test_chat_compare_answers_every_line_with_both_checkpoints(void **state) {
    (void)state;
    char in[256], second[256];
    temp_path(in, sizeof in, "chat-compare.txt");
    temp_path(second, sizeof second, "chat-second.bin");
    fx_write_model(second, tok.vocab_size, 64);
    write_script(in, "where is the owl ?\nwhat colour is the fox ?\n");
    const char *args[] = {"--compare", model, second, "--tokenizer", merges, "--no-history", "--threads", "1", NULL};
    char *out, *err;
    int status = run_with_stdin("chat", args, in, &out, &err);
    if (status != 0) print_error("chat --compare failed (%d): %s\n", status, err);
    assert_int_equal(status, 0);
    assert_int_equal(count_replies(out, "chat-model", ""), 2);
    assert_int_equal(count_replies(out, "chat-second", ""), 2);
    /* each line is answered by A, then by B */
    const char *a = strstr(out, "you> what colour is the fox ?\n");
    assert_non_null(a);
    a = strstr(a, "chat-model> ");
    assert_non_null(a);
    assert_non_null(strstr(a, "chat-second> "));
    free(out);
    free(err);
    remove(in);
    remove(second);
}

static void expect_chat_error(const char **args, const char *phrase) {
    char in[256];
    temp_path(in, sizeof in, "chat-err.txt");
    write_script(in, "where is the owl ?\n");
    char *out, *err;
    int status = run_with_stdin("chat", args, in, &out, &err);
    if (status != 1 || !strstr(err, "error: ") || !strstr(err, phrase)) {
        print_error("expected exit 1 and 'error: ...%s...', got %d and:\n%s", phrase, status, err);
        fail();
    }
    free(out);
    free(err);
    remove(in);
}

static void test_chat_refuses_a_missing_or_mismatched_checkpoint_with_one_line(void **state) {
    (void)state;
    const char *missing[] = {"--model", "build/tmp/no-such-model.bin", "--tokenizer", merges, NULL};
    expect_chat_error(missing, "cannot read the checkpoint build/tmp/no-such-model.bin");
    const char *other_vocab[] = {"--model", model_other, "--tokenizer", merges, NULL};
    expect_chat_error(other_vocab, "do not belong together");
    const char *compare_one[] = {"--compare", model, "--tokenizer", merges, NULL};
    expect_chat_error(compare_one, "--compare needs two checkpoints");
    const char *bad_flag[] = {"--model", model, "--loud", NULL};
    expect_chat_error(bad_flag, "--loud");
    const char *missing_tok[] = {"--model", model, "--tokenizer", "build/tmp/no-such.merges", NULL};
    expect_chat_error(missing_tok, "no-such.merges");
}


/* ---- 4. the tokenizer comes with the checkpoint ---- */

/* A folder build/tmp/PID-NAME (made fresh) and a path in it. */
static const char *in_folder(char *buf, size_t n, const char *folder, const char *name) {
    char dir[256];
    temp_path(dir, sizeof dir, folder);
    mkdir(dir, 0755);
    snprintf(buf, n, "%s/%s", dir, name);
    return buf;
}

/* A tokenizer of the fixture's size trained on other text: another id. */
static void save_other_tokenizer(const char *path) {
    size_t len;
    char *text = fx_corpus(&len);
    for (size_t i = 0; i < len; i++) if (text[i] == 'o') text[i] = 'u';
    Tokenizer other;
    tokenizer_train(&other, text, len, FX_VOCAB);
    assert_int_equal(other.vocab_size, tok.vocab_size);
    assert_true(tokenizer_id(&other) != tokenizer_id(&tok));
    tokenizer_save_merges(&other, path);
    tokenizer_free(&other);
    free(text);
}

static void test_chat_finds_the_tokenizer_its_checkpoint_records_beside_it(void **state) {
    (void)state;
    char m[300], mine[300], decoy[300], in[256];
    in_folder(m, sizeof m, "chat-find", "my_gpt.bin");
    in_folder(decoy, sizeof decoy, "chat-find", "a_decoy.merges");  /* first in name order, the wrong id */
    in_folder(mine, sizeof mine, "chat-find", "my.merges");
    fx_write_model(m, tok.vocab_size, 64);
    save_other_tokenizer(decoy);
    tokenizer_save_merges(&tok, mine);
    temp_path(in, sizeof in, "chat-find.txt");
    write_script(in, "where is the owl ?\n");
    const char *args[] = {"--model", m, "--temperature", "0", "--threads", "1", NULL};
    char *out, *err;
    int status = run_with_stdin("chat", args, in, &out, &err);
    if (status != 0) print_error("chat failed (%d): %s\n", status, err);
    assert_int_equal(status, 0);
    assert_string_equal(err, "");
    /* the same transcript as with --tokenizer named */
    const char *named[] = {"--model", m, "--tokenizer", mine, "--temperature", "0", "--threads", "1", NULL};
    char *out2, *err2;
    assert_int_equal(run_with_stdin("chat", named, in, &out2, &err2), 0);
    assert_string_equal(out, out2);
    free(out);
    free(err);
    free(out2);
    free(err2);

    /* no tokenizer with that id beside it, nor out/tokenizer.merges: one line naming what was tried */
    remove(mine);
    char *dir = strdup_or_die(m);
    *strrchr(dir, '/') = '\0';
    char phrase[400];
    snprintf(phrase, sizeof phrase, "none of the 1 .merges files in %s nor out/tokenizer.merges", dir);
    const char *none[] = {"--model", m, "--threads", "1", NULL};
    expect_refused_before_work("chat", none, phrase, in);
    free(dir);
    remove(m);
    remove(decoy);
    remove(in);
}

static void test_chat_refuses_another_tokenizer_and_a_fifo_model_in_one_line(void **state) {
    (void)state;
    char other[300], fifo[300], sink[256];
    temp_path(other, sizeof other, "chat-other-tok.merges");
    save_other_tokenizer(other);
    temp_path(sink, sizeof sink, "chat-sink.txt");
    const char *mismatch[] = {"--model", model, "--tokenizer", other, NULL};
    expect_refused_before_work("chat", mismatch, "was trained with another tokenizer", sink);
    temp_path(fifo, sizeof fifo, "chat-fifo");
    remove(fifo);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    const char *fifo_model[] = {"--model", fifo, "--tokenizer", merges, NULL};
    expect_refused_before_work("chat", fifo_model, "it is a FIFO, not a regular file", sink);
    const char *fifo_found[] = {"--model", fifo, NULL};
    expect_refused_before_work("chat", fifo_found, "it is a FIFO, not a regular file", sink);
    remove(fifo);
    remove(other);
    remove(sink);
}

static void test_an_old_checkpoint_that_records_no_tokenizer_is_used_with_a_note(void **state) {
    (void)state;
    char old[256], in[256];
    temp_path(old, sizeof old, "chat-old.bin");
    GPT m;
    gpt_build(&m, gpt_config(64, tok.vocab_size, 2, 2, 32), 5);
    gpt_save(&m, old);  /* tokenizer_id 0: written before checkpoints recorded one */
    gpt_free(&m);
    temp_path(in, sizeof in, "chat-old.txt");
    write_script(in, "where is the owl ?\n");
    const char *args[] = {"--model", old, "--tokenizer", merges, "--threads", "1", NULL};
    char *out, *err;
    assert_int_equal(run_with_stdin("chat", args, in, &out, &err), 0);
    assert_non_null(strstr(err, "note: "));
    assert_non_null(strstr(err, "records no tokenizer"));
    assert_int_equal(count_replies(out, "chat-old", ""), 1);
    free(out);
    free(err);
    remove(old);
    remove(in);
}

/* ---- 5. --plain ---- */

static void test_plain_continues_the_typed_text_without_the_chat_format(void **state) {
    (void)state;
    Speaker s;
    speaker_load(&s, model, &tok, merges);
    Options o = defaults();
    o.plain = 1;
    o.temperature = 0.0f;
    o.max_reply = 5;
    Rng rng;
    rng_seed(&rng, 1);
    char path[256];
    temp_path(path, sizeof path, "chat-plain.txt");
    FILE *f = fopen_or_die(path, "w");
    assert_int_equal(speaker_turn(&s, &tok, "the owl is in the", &o, &rng, f), 0);
    /* the context is <|endoftext|> then the text's own tokens: no markers */
    size_t n;
    int *text = tokenizer_encode(&tok, "the owl is in the", strlen("the owl is in the"), &n);
    int eot = tokenizer_special_id(&tok, TOK_EOT);
    assert_int_equal(s.ctx[0], eot);
    assert_memory_equal(s.ctx + 1, text, sizeof(int) * n);
    for (int i = 0; i < s.len; i++) {
        assert_true(s.ctx[i] != tokenizer_special_id(&tok, TOK_PROMPT));
        assert_true(s.ctx[i] != tokenizer_special_id(&tok, TOK_ANSWER));
    }
    /* the continuation is greedy gpt_sample's, printed after the text itself */
    int want[5];
    int got = gpt_sample_uncached(&s.m, s.ctx, (int)n + 1, want, o.max_reply, eot, 0.0f, 0, &rng);
    int reply = want[got - 1] == eot ? got - 1 : got;
    assert_memory_equal(s.ctx + n + 1, want, sizeof(int) * (size_t)reply);
    /* a second line starts afresh (no history) */
    assert_int_equal(speaker_turn(&s, &tok, "the owl is in the", &o, &rng, f), 0);
    assert_int_equal(s.nturns, 1);
    fclose(f);
    size_t len;
    char *shown = read_file_or_die(path, &len);
    assert_non_null(strstr(shown, "chat-model> the owl is in the"));
    free(shown);
    free(text);
    remove(path);
    speaker_free(&s);

    /* the program: its banner does not speak of the toy world */
    char in[256];
    temp_path(in, sizeof in, "chat-plain-in.txt");
    write_script(in, "the owl is in the\n");
    const char *args[] = {"--plain", "--model", model, "--tokenizer", merges, "--threads", "1", NULL};
    char *out, *err;
    assert_int_equal(run_with_stdin("chat", args, in, &out, &err), 0);
    assert_null(strstr(out, "toy world"));
    assert_non_null(strstr(out, "plain continuation"));
    assert_non_null(strstr(out, "chat-model> the owl is in the"));
    free(out);
    free(err);
    remove(in);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_turn_is_the_prompt_in_chat_format_then_the_reply_then_end_of_text),
        cmocka_unit_test(test_a_reply_without_end_of_text_is_cut_marked_and_closed),
        cmocka_unit_test(test_a_full_window_drops_the_oldest_turns_whole),
        cmocka_unit_test(test_chat_answers_a_scripted_conversation_and_exits_cleanly_at_eof),
        cmocka_unit_test(test_chat_compare_answers_every_line_with_both_checkpoints),
        cmocka_unit_test(test_chat_refuses_a_missing_or_mismatched_checkpoint_with_one_line),
        cmocka_unit_test(test_chat_finds_the_tokenizer_its_checkpoint_records_beside_it),
        cmocka_unit_test(test_chat_refuses_another_tokenizer_and_a_fifo_model_in_one_line),
        cmocka_unit_test(test_an_old_checkpoint_that_records_no_tokenizer_is_used_with_a_note),
        cmocka_unit_test(test_plain_continues_the_typed_text_without_the_chat_format),
    };
    return cmocka_run_group_tests_name("chat", tests, group_setup, group_teardown);
}
