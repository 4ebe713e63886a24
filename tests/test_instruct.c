/* test_instruct.c — what the shared instruction module (src/instruct.[ch])
 * promises, one property per test:
 *
 *   1. The chat format: <|prompt|> q : PROMPT <|answer|> a : RESPONSE <eot>,
 *      by id for the markers and by the tokenizer for the text; with the
 *      markers taken out, the text tokens are exactly those of the
 *      pretraining dialogue "q : PROMPT a : RESPONSE .<|endoftext|>".
 *   2. The loss weights are 1 exactly on the response tokens and the
 *      end-of-text (as targets), 0 everywhere else, padding included.
 *   3. Decoding stops at the end-of-text; the batched generator gives the
 *      same greedy answers as gpt_sample one prompt at a time.
 *   4. The reward is read at the end-of-text: padding after it changes
 *      nothing (to the bit); a response token before it changes that chat's
 *      reward and no other.
 *   5. Normalisation gives mean 0 and std 1 on the answers it was given, and
 *      survives a save and load.
 *
 * The tokenizer is trained in the group setup on the fixture's small corpus
 * (chat_fixture.h); models are tiny (L=2, C=16..32) and random.
 */
#include "testutil.h"
#include "instruct.h"
#include "chat_fixture.h"

static int *encode(const char *text, size_t *n) { return tokenizer_encode(&tok, text, strlen(text), n); }

/* ---- 1. the chat format ---- */

static void test_chat_encoding_puts_the_markers_around_the_dialogue_words(void **state) {
    (void)state;
    Chat c = chat_encode_pair(&tok, "what colour is the fox ?", "it is red .");
    size_t nq, na, nr;
    int *q = encode("q : what colour is the fox ?", &nq);
    int *a = encode(" a :", &na);
    int *r = encode(" it is red .", &nr);
    int expect_len = 1 + (int)nq + 1 + (int)na + (int)nr + 1;
    assert_int_equal(c.len, expect_len);
    assert_int_equal(c.context_len, 1 + (int)nq + 1 + (int)na);
    int k = 0;
    assert_int_equal(c.tokens[k++], tokenizer_special_id(&tok, TOK_PROMPT));
    assert_memory_equal(c.tokens + k, q, nq * sizeof(int));
    k += (int)nq;
    assert_int_equal(c.tokens[k++], tokenizer_special_id(&tok, TOK_ANSWER));
    assert_memory_equal(c.tokens + k, a, na * sizeof(int));
    k += (int)na;
    assert_memory_equal(c.tokens + k, r, nr * sizeof(int));
    k += (int)nr;
    assert_int_equal(c.tokens[k], tokenizer_special_id(&tok, TOK_EOT));

    /* the context alone is the pair's first context_len tokens; extra
     * spaces around the prompt and response change nothing */
    Chat p = chat_encode_prompt(&tok, "  what colour is the fox ?  ");
    assert_int_equal(p.len, c.context_len);
    assert_int_equal(p.context_len, c.context_len);
    assert_memory_equal(p.tokens, c.tokens, (size_t)p.len * sizeof(int));
    Chat c2 = chat_encode_pair(&tok, " what colour is the fox ?", "it is red .  ");
    assert_int_equal(c2.len, c.len);
    assert_memory_equal(c2.tokens, c.tokens, (size_t)c.len * sizeof(int));
    free(q);
    free(a);
    free(r);
    chat_free(&p);
    chat_free(&c2);
    chat_free(&c);
}

/* The pretrained model learned "q : ... ? a : it is ... .<|endoftext|>" as
 * documents; the chat format must give it those very tokens, only with the
 * two markers added. */
static void test_chat_text_tokens_are_the_pretraining_dialogues_tokens(void **state) {
    (void)state;
    Chat c = chat_encode_pair(&tok, "where is the owl ?", "it is in the barn .");
    const char *dialogue = "q : where is the owl ? a : it is in the barn .<|endoftext|>";
    size_t n;
    int *d = tokenizer_encode_with_special(&tok, dialogue, strlen(dialogue), &n);
    int *text = malloc_or_die(sizeof(int) * (size_t)c.len, "tokens");
    int m = 0, prompt_id = tokenizer_special_id(&tok, TOK_PROMPT), answer_id = tokenizer_special_id(&tok, TOK_ANSWER);
    for (int i = 0; i < c.len; i++) if (c.tokens[i] != prompt_id && c.tokens[i] != answer_id) text[m++] = c.tokens[i];
    assert_int_equal(m, (int)n);
    assert_memory_equal(text, d, n * sizeof(int));
    free(text);
    free(d);
    chat_free(&c);
}

/* ---- 2. the loss weights ---- */

static void test_chat_batch_weights_are_one_exactly_on_the_response_and_end_of_text(void **state) {
    (void)state;
    Chat c[3] = {chat_encode_pair(&tok, "what colour is the fox ?", "it is red ."),
                 chat_encode_pair(&tok, "where is the owl ?", "it is in the barn . it is in the barn ."),
                 chat_encode_prompt(&tok, "what colour is the cat ?")};
    const Chat *ptrs[3] = {&c[0], &c[1], &c[2]};
    int eot = tokenizer_special_id(&tok, TOK_EOT);
    ChatBatch bt = {0};
    chat_batch_fill(&bt, ptrs, 3, eot);
    assert_int_equal(bt.B, 3);
    assert_int_equal(bt.T, c[1].len);
    for (int b = 0; b < 3; b++) {
        int weighted = 0;
        for (int t = 0; t < bt.T; t++) {
            int i = b * bt.T + t;
            assert_int_equal(bt.inputs[i], t < c[b].len ? c[b].tokens[t] : eot);
            /* position t predicts token t+1: a response token or the final
             * end-of-text exactly when context_len <= t+1 < len */
            int is_target = t + 1 >= c[b].context_len && t + 1 < c[b].len;
            if (bt.weights[i] != (is_target ? 1.0f : 0.0f)) {
                print_error("chat %d position %d: weight %g, expected %d\n", b, t, (double)bt.weights[i], is_target);
                fail();
            }
            if (is_target) {
                assert_int_equal(bt.targets[i], c[b].tokens[t + 1]);
                weighted++;
            }
        }
        /* every response token and the end-of-text: len - context_len of them */
        assert_int_equal(weighted, c[b].len - c[b].context_len);
        assert_int_equal(bt.last[b], b * bt.T + c[b].len - 1);
    }
    /* the pairs' last tokens are their end-of-text, and so are their last targets */
    assert_int_equal(bt.inputs[bt.last[0]], eot);
    assert_int_equal(bt.inputs[bt.last[1]], eot);
    assert_int_equal(bt.targets[bt.last[0] - 1], eot);
    assert_true(bt.weights[bt.last[0] - 1] == 1.0f);
    assert_true(bt.weights[bt.last[0]] == 0.0f);
    /* a prompt without a response has nothing to learn */
    assert_int_equal(c[2].len - c[2].context_len, 0);
    chat_batch_free(&bt);
    for (int b = 0; b < 3; b++) chat_free(&c[b]);
}

/* ---- 3. decoding and generation ---- */

static void test_decoding_an_answer_stops_at_the_end_of_text(void **state) {
    (void)state;
    size_t n;
    int *r = encode(" it is red . ", &n);
    int eot = tokenizer_special_id(&tok, TOK_EOT);
    int *seq = malloc_or_die(sizeof(int) * (n + 3), "tokens");
    memcpy(seq, r, n * sizeof(int));
    seq[n] = eot;
    seq[n + 1] = r[0];
    seq[n + 2] = r[1];
    int ended = -1;
    char *a = chat_decode_response(&tok, seq, (int)n + 3, &ended);
    assert_string_equal(a, "it is red .");
    assert_int_equal(ended, 1);
    free(a);
    a = chat_decode_response(&tok, seq, (int)n, &ended);
    assert_string_equal(a, "it is red .");
    assert_int_equal(ended, 0);
    free(a);
    a = chat_decode_response(&tok, seq + n, 3, &ended);
    assert_string_equal(a, "");
    assert_int_equal(ended, 1);
    free(a);
    free(seq);
    free(r);
}

/* The four prompts of the next two tests, answered by chat_answers together
 * and by chat_answer one at a time, at `temperature`; with seed != 0 the
 * batch draws from an rng seeded with it and prompt i alone from stream i of
 * rng_split of the same seed. Fails on the first answer that differs;
 * returns how many sampled answers differ from the greedy one. */
static int batched_against_one_at_a_time(float temperature, uint64_t seed) {
    GPT m;
    gpt_build(&m, gpt_config(64, tok.vocab_size, 2, 2, 32), 7);
    fx_randomize_params(&m, 8);
    const char *prompts[4] = {"what colour is the fox ?", "where is the owl ?", "what is 12 + 34 ?", "hello"};
    char *batched[4];
    int ended[4], not_greedy = 0;
    Rng rng, streams[4];
    rng_seed(&rng, seed);
    chat_answers(&m, &tok, prompts, 4, 12, temperature, seed ? &rng : NULL, batched, ended);
    rng_seed(&rng, seed);
    rng_split(&rng, streams, 4);
    for (int i = 0; i < 4; i++) {
        int e1;
        char *one = chat_answer(&m, &tok, prompts[i], 12, temperature, seed ? &streams[i] : NULL, &e1);
        if (strcmp(one, batched[i]) != 0 || e1 != ended[i]) {
            print_error("prompt %d: alone '%s' (ended %d), batched '%s' (ended %d)\n", i, one, e1, batched[i], ended[i]);
            fail();
        }
        char *greedy = chat_answer(&m, &tok, prompts[i], 12, 0.0f, NULL, NULL);
        not_greedy += strcmp(greedy, one) != 0;
        free(greedy);
        free(one);
        free(batched[i]);
    }
    gpt_free(&m);
    return not_greedy;
}

/* chat_answers runs many prompts together; chat_answer runs one through
 * gpt_sample. Greedy, they must agree answer for answer. */
static void test_batched_greedy_answers_match_gpt_sample_one_prompt_at_a_time(void **state) {
    (void)state;
    assert_int_equal(batched_against_one_at_a_time(0.0f, 0), 0);
}

/* Sampled at a temperature, chat i draws from its own stream (rng_split of
 * the caller's rng, in prompt order): its answer is the one chat_answer
 * gives from that stream alone, whatever the other prompts of the call.
 * (At least one answer must differ from the greedy one, or the test would
 * not be testing the sampling.) */
static void test_each_sampled_answer_draws_from_its_own_stream_so_the_batch_does_not_change_it(void **state) {
    (void)state;
    assert_true(batched_against_one_at_a_time(1.0f, 99) > 0);
}

/* ---- 4. the reward is read at the end-of-text ---- */

/* A tiny reward model for the tokenizer's vocabulary, random and of order 1. */
static void tiny_reward_model(RewardModel *rm, uint64_t seed) {
    memset(rm, 0, sizeof *rm);
    gpt_build(&rm->gpt, gpt_config(64, tok.vocab_size, 2, 2, 16), seed);
    fx_randomize_params(&rm->gpt, seed + 1);
    head_build(&rm->head, 1, 16, 0.5f, seed + 2);
    rm->head.b[0] = 0.1f;
}

static void test_reward_is_read_at_the_end_of_text_and_padding_after_it_changes_nothing(void **state) {
    (void)state;
    RewardModel rm;
    tiny_reward_model(&rm, 11);
    Chat c[3] = {chat_encode_pair(&tok, "what colour is the fox ?", "it is red ."),
                 chat_encode_pair(&tok, "where is the owl ?", "it is in the barn . it is in the barn ."),
                 chat_encode_pair(&tok, "where is the fox ?", "it is in the forest .")};
    const Chat *ptrs[3] = {&c[0], &c[1], &c[2]};
    int eot = tokenizer_special_id(&tok, TOK_EOT);
    ChatBatch bt = {0};
    chat_batch_fill(&bt, ptrs, 3, eot);
    float r0[3], r1[3], r2[3];
    reward_model_forward(&rm, &bt, r0);
    assert_true(c[0].len < bt.T && c[2].len < bt.T);  /* chats 0 and 2 are padded */

    /* rewrite every padding token after chats 0 and 2's end-of-text */
    for (int b = 0; b < 3; b += 2)
        for (int t = c[b].len; t < bt.T; t++) bt.inputs[b * bt.T + t] = 3 + (t % 50);
    reward_model_forward(&rm, &bt, r1);
    assert_memory_equal(r1, r0, sizeof r0);

    /* the same chat alone, unpadded: the same reward up to float rounding */
    for (int b = 0; b < 3; b++) {
        ChatBatch one = {0};
        chat_batch_fill(&one, &ptrs[b], 1, eot);
        float alone;
        reward_model_forward(&rm, &one, &alone);
        check_close("reward alone vs in a padded batch", &alone, &r0[b], 1, 1e-5, 1e-6);
        chat_batch_free(&one);
    }

    /* a response token of chat 0, before its end-of-text: its reward moves, no other */
    int t = c[0].len - 2;
    bt.inputs[t] = bt.inputs[t] == 5 ? 6 : 5;
    reward_model_forward(&rm, &bt, r2);
    assert_true(r2[0] != r0[0]);
    assert_true(r2[1] == r0[1] && r2[2] == r0[2]);

    chat_batch_free(&bt);
    for (int b = 0; b < 3; b++) chat_free(&c[b]);
    reward_model_free(&rm);
}

/* ---- 5. normalisation ---- */

static void test_normalisation_gives_mean_zero_and_std_one_on_the_given_answers(void **state) {
    (void)state;
    RewardModel rm;
    tiny_reward_model(&rm, 21);
    const char *prompts[6] = {"what colour is the fox ?", "what colour is the fox ?", "where is the owl ?",
                              "where is the owl ?", "what colour is the cat ?", "where is the cat ?"};
    const char *answers[6] = {"it is red .", "it is blue .", "it is in the barn .",
                              "it is in the barn . it is in the barn .", "it is black .", "i do not know ."};
    float raw[6], out[6];
    reward_model_score(&rm, &tok, prompts, answers, 6, raw);  /* gain 1, shift 0: raw */
    reward_set_normalisation(&rm.head, raw, 6);
    reward_model_score(&rm, &tok, prompts, answers, 6, out);
    double mean = 0.0, var = 0.0;
    for (int i = 0; i < 6; i++) mean += out[i];
    mean /= 6;
    for (int i = 0; i < 6; i++) var += (out[i] - mean) * (out[i] - mean);
    print_message("raw %.4f %.4f %.4f ... -> gain %.4f shift %.4f; mean %.2e std %.6f\n", (double)raw[0],
                  (double)raw[1], (double)raw[2], (double)rm.head.gain, (double)rm.head.shift, mean, sqrt(var / 6));
    assert_true(fabs(mean) < 1e-4);
    assert_true(fabs(sqrt(var / 6) - 1.0) < 1e-4);
    /* the order of answers is kept: normalising is increasing (gain > 0) */
    assert_true(rm.head.gain > 0.0f);
    for (int i = 1; i < 6; i++) assert_true((raw[i] > raw[0]) == (out[i] > out[0]));

    /* the scale is part of the model: it survives a save and a load */
    char path[256];
    temp_path(path, sizeof path, "rm.bin");
    reward_model_save(&rm, path);
    RewardModel back;
    reward_model_load(&back, path);
    float again[6];
    reward_model_score(&back, &tok, prompts, answers, 6, again);
    assert_memory_equal(again, out, sizeof out);
    char *hpath = head_path_for(path);
    remove(path);
    remove(hpath);
    free(hpath);
    reward_model_free(&back);
    reward_model_free(&rm);
}

static void test_normalising_equal_rewards_keeps_the_gain_at_one(void **state) {
    (void)state;
    LinearHead h;
    head_build(&h, 1, 4, 0.0f, 0);
    float raw[3] = {0.25f, 0.25f, 0.25f};
    reward_set_normalisation(&h, raw, 3);
    assert_true(h.gain == 1.0f);
    assert_float_equal(reward_normalise(&h, 0.25f), 0.0f, 1e-7f);
    head_free(&h);
}

/* A reward model's head has one output; a classifier's head (K = 3) beside
 * the checkpoint is refused with one line. */
static void load_three_class_head(void *arg) {
    RewardModel rm;
    reward_model_load(&rm, (const char *)arg);
}

static void test_loading_a_reward_model_refuses_a_head_with_several_outputs(void **state) {
    (void)state;
    char path[256];
    temp_path(path, sizeof path, "cls.bin");
    GPT m;
    gpt_build(&m, gpt_config(16, tok.vocab_size, 1, 2, 16), 3);
    gpt_save(&m, path);
    LinearHead h;
    head_build(&h, 3, 16, 0.02f, 1);
    char *hpath = head_path_for(path);
    head_save(&h, hpath);
    expect_death(load_three_class_head, path, "a reward head has exactly one");
    remove(hpath);
    /* and a missing head file names the file */
    expect_death(load_three_class_head, path, hpath);
    remove(path);
    free(hpath);
    head_free(&h);
    gpt_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_encoding_puts_the_markers_around_the_dialogue_words),
        cmocka_unit_test(test_chat_text_tokens_are_the_pretraining_dialogues_tokens),
        cmocka_unit_test(test_chat_batch_weights_are_one_exactly_on_the_response_and_end_of_text),
        cmocka_unit_test(test_decoding_an_answer_stops_at_the_end_of_text),
        cmocka_unit_test(test_batched_greedy_answers_match_gpt_sample_one_prompt_at_a_time),
        cmocka_unit_test(test_each_sampled_answer_draws_from_its_own_stream_so_the_batch_does_not_change_it),
        cmocka_unit_test(test_reward_is_read_at_the_end_of_text_and_padding_after_it_changes_nothing),
        cmocka_unit_test(test_normalisation_gives_mean_zero_and_std_one_on_the_given_answers),
        cmocka_unit_test(test_normalising_equal_rewards_keeps_the_gain_at_one),
        cmocka_unit_test(test_loading_a_reward_model_refuses_a_head_with_several_outputs),
    };
    return cmocka_run_group_tests_name("instruct", tests, fx_group_setup, fx_group_teardown);
}
