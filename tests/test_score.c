/* test_score.c — the scoring module of rungs 2 and 3 (src/score.[ch]),
 * checked one property per test:
 *
 *   1. A candidate's score is what the paper says: the sum over its tokens of
 *      log softmax(logits) at the token, computed here by hand (in double)
 *      from gpt_forward's logits; the mean is the sum over the token count.
 *      The batched scorer gives the same numbers as one candidate at a time.
 *   2. The best candidate is the argmax (ties to the lowest index), and the
 *      sum and the mean can pick differently (a constructed case).
 *   3. Greedy generation is the argmax token by token and stops at the first
 *      token of the stop set; the stop table marks every token that holds a
 *      stop byte, and end-of-text.
 *   4. Prompts start like a document (<|endoftext|> "\n"), candidates are
 *      parsed with one clear error per problem, the context rule keeps a
 *      long prompt's end, and the attention accessor reads the right slice.
 *
 * The model is tiny (V from a tokenizer trained here, L=2, C=16) with order-1
 * random weights, so the softmaxes are far from uniform. Random test data
 * comes from the test's own splitmix64.
 */
#include "testutil.h"

#include "gpt.h"
#include "score.h"
#include "tokenizer.h"
#include "util.h"

/* ---- a tiny model ---- */

enum { TV = 40, TMAXT = 24, TL = 2, TNH = 2, TC = 16 };

/* Every parameter random and of order 1 (GPT-2's N(0, 0.02) would make every
 * softmax nearly uniform, and a wrong row would still look right). */
static void tiny_model(GPT *m, uint64_t seed) {
    gpt_build(m, gpt_config(TMAXT, TV, TL, TNH, TC), seed);
    test_seed(seed + 7);
    size_t off = 0;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        size_t n = m->param_sizes[i];
        float lo = -0.5f, hi = 0.5f;
        if (i == P_WTE || i == P_WPE) { lo = -1.0f; hi = 1.0f; }
        if (i == P_LN1W || i == P_LN2W || i == P_LNFW) { lo = 0.7f; hi = 1.3f; }
        if (i == P_WTE) n = (size_t)TV * TC;  /* padded rows stay zero */
        for (size_t j = 0; j < n; j++) m->params_memory[off + j] = test_uniform(lo, hi);
        off += m->param_sizes[i];
    }
}

static void random_tokens(int *t, int n) {
    for (int i = 0; i < n; i++) t[i] = test_below(TV);
}

/* log P(cand | ctx) by hand: one forward over ctx+cand, then for each
 * candidate token the log-softmax of its row, in double. */
static double hand_logprob(GPT *m, const int *ctx, int nctx, const int *cand, int ncand) {
    int seq[TMAXT];
    memcpy(seq, ctx, sizeof(int) * (size_t)nctx);
    memcpy(seq + nctx, cand, sizeof(int) * (size_t)ncand);
    gpt_forward(m, seq, 1, nctx + ncand);
    double total = 0.0;
    for (int i = 0; i < ncand; i++) {
        const float *z = m->acts.logits + (size_t)(nctx - 1 + i) * m->config.Vp;
        double mx = -1e300, sum = 0.0;
        for (int v = 0; v < TV; v++) if (z[v] > mx) mx = z[v];
        for (int v = 0; v < TV; v++) sum += exp((double)z[v] - mx);
        total += (double)z[cand[i]] - mx - log(sum);
    }
    return total;
}

/* ---- 1. the score is the summed log-softmax ---- */

static void test_score_equals_the_hand_computed_log_softmax_of_the_logits(void **state) {
    (void)state;
    GPT m;
    tiny_model(&m, 11);
    for (int trial = 0; trial < 5; trial++) {
        int ctx[8], cand[4];
        int nctx = 1 + test_below(8), ncand = 1 + test_below(4);
        random_tokens(ctx, nctx);
        random_tokens(cand, ncand);
        Score s = score_continuation(&m, ctx, nctx, cand, ncand);
        float want = (float)hand_logprob(&m, ctx, nctx, cand, ncand);
        float want_mean = want / (float)ncand;
        assert_int_equal(s.ntokens, ncand);
        check_close("sum of log-probabilities", &s.sum, &want, 1, 1e-5, 1e-4);
        check_close("mean log-probability", &s.mean, &want_mean, 1, 1e-5, 1e-4);
        assert_true(s.sum < 0.0f);
    }
    gpt_free(&m);
}

/* The batched scorer (one forward, B = candidates, right-padded) gives each
 * candidate the score it gets alone: padding after a candidate is invisible
 * to it under causal attention. */
static void test_batched_candidates_score_the_same_as_one_at_a_time(void **state) {
    (void)state;
    GPT m;
    tiny_model(&m, 12);
    int ctx[6], c0[1], c1[3], c2[2];
    random_tokens(ctx, 6);
    random_tokens(c0, 1);
    random_tokens(c1, 3);
    random_tokens(c2, 2);
    int *cands[3] = {c0, c1, c2};
    int lens[3] = {1, 3, 2};
    Score batched[3];
    score_candidates(&m, ctx, 6, cands, lens, 3, batched);
    for (int i = 0; i < 3; i++) {
        Score alone = score_continuation(&m, ctx, 6, cands[i], lens[i]);
        char name[64];
        snprintf(name, sizeof name, "candidate %d: batched vs alone", i);
        check_close(name, &batched[i].sum, &alone.sum, 1, 1e-5, 1e-5);
        assert_int_equal(batched[i].ntokens, lens[i]);
    }
    gpt_free(&m);
}

/* When every candidate is one token (the labels, colours and places of rungs
 * 2 and 3), all are read from the logits after the prompt, so the prompt
 * goes through the model once. Each still gets the score it gets alone. */
static void test_one_token_candidates_share_one_forward_and_score_as_alone(void **state) {
    (void)state;
    GPT m;
    tiny_model(&m, 14);
    int ctx[7];
    random_tokens(ctx, 7);
    enum { N = 5 };
    int toks[N];
    random_tokens(toks, N);
    int *cands[N], lens[N];
    for (int i = 0; i < N; i++) { cands[i] = &toks[i]; lens[i] = 1; }
    Score s[N];
    score_candidates(&m, ctx, 7, cands, lens, N, s);
    for (int i = 0; i < N; i++) {
        Score alone = score_continuation(&m, ctx, 7, cands[i], 1);
        check_close("one-token candidate: shared forward vs alone", &s[i].sum, &alone.sum, 1, 1e-6, 1e-6);
        assert_true(fabs(s[i].sum - hand_logprob(&m, ctx, 7, cands[i], 1)) < 1e-4);
        assert_int_equal(s[i].ntokens, 1);
    }
    gpt_free(&m);
}

/* ---- 2. choosing ---- */

static void test_the_best_candidate_is_the_argmax_of_the_scores(void **state) {
    (void)state;
    GPT m;
    tiny_model(&m, 13);
    int ctx[5];
    random_tokens(ctx, 5);
    enum { N = 12 };
    int toks[N], lens[N];
    int *cands[N];
    for (int i = 0; i < N; i++) { toks[i] = i; cands[i] = &toks[i]; lens[i] = 1; }
    Score s[N];
    score_candidates(&m, ctx, 5, cands, lens, N, s);
    int want = 0;
    double best = -1e300;
    for (int i = 0; i < N; i++) {
        double lp = hand_logprob(&m, ctx, 5, cands[i], 1);
        if (lp > best) { best = lp; want = i; }
    }
    assert_int_equal(score_best(s, N, 0), want);
    assert_int_equal(score_best(s, N, 1), want);  /* one token each: the mean agrees */
    /* a tie goes to the lowest index */
    Score tie[3] = {{-2.0f, -2.0f, 1}, {-1.0f, -1.0f, 1}, {-1.0f, -1.0f, 1}};
    assert_int_equal(score_best(tie, 3, 0), 1);
    gpt_free(&m);
}

/* GPT-2 sums, GPT-3 averages per token. A short answer with a lower total
 * can lose on the mean to a long one whose tokens are each likelier:
 *   A: 1 token,  log P = -2.0  (mean -2.0)
 *   B: 3 tokens, log P = -3.0  (mean -1.0)
 * The sum picks A; the mean picks B. */
static void test_sum_and_mean_can_pick_different_candidates(void **state) {
    (void)state;
    Score s[2] = {{-2.0f, -2.0f, 1}, {-3.0f, -1.0f, 3}};
    assert_int_equal(score_best(s, 2, 0), 0);
    assert_int_equal(score_best(s, 2, 1), 1);
}

/* ---- 3. greedy generation ---- */

static int argmax(const float *z, int n) {
    int b = 0;
    for (int i = 1; i < n; i++) if (z[i] > z[b]) b = i;
    return b;
}

/* Token by token by hand: a forward over everything so far, the argmax of
 * the last row. generate_greedy must produce the same tokens, and with a
 * stop set holding the third of them it must stop right there. */
static void test_greedy_generation_is_the_argmax_and_stops_at_a_stop_token(void **state) {
    (void)state;
    GPT m;
    tiny_model(&m, 14);
    int seq[TMAXT];
    random_tokens(seq, 4);
    int want[6];
    for (int i = 0; i < 6; i++) {
        gpt_forward(&m, seq, 1, 4 + i);
        want[i] = argmax(m.acts.logits + (size_t)(3 + i) * m.config.Vp, TV);
        seq[4 + i] = want[i];
    }
    int out[6];
    assert_int_equal(generate_greedy(&m, seq, 4, out, 6, NULL), 6);
    assert_memory_equal(out, want, sizeof want);

    /* stop at the first token that is in the set: the first occurrence of
     * want[2] (it may occur earlier, too) */
    unsigned char stop[TV] = {0};
    stop[want[2]] = 1;
    int first = 0;
    while (want[first] != want[2]) first++;
    int n = generate_greedy(&m, seq, 4, out, 6, stop);
    assert_int_equal(n, first + 1);
    assert_memory_equal(out, want, sizeof(int) * (size_t)n);
    gpt_free(&m);
}

/* ---- 4. text: prompts, stop tokens, candidates ---- */

static Tokenizer small_tokenizer(void) {
    const char *text = "the fox is red . the owl is white . in short : good . in short : bad .\n"
                       "53 + 38 = 91 . the cat is black . hen -> red . owl -> white .\n";
    char buf[4096];
    size_t n = 0;
    for (int i = 0; i < 12; i++) n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", text);
    Tokenizer tok;
    tokenizer_train(&tok, buf, n, 300);
    return tok;
}

static void test_a_prompt_starts_like_a_document_in_the_corpus(void **state) {
    (void)state;
    Tokenizer tok = small_tokenizer();
    int n;
    int *t = encode_prompt(&tok, "the fox is", &n);
    assert_int_equal(t[0], tokenizer_special_id(&tok, TOK_EOT));
    size_t len;
    char *text = tokenizer_decode(&tok, t + 1, (size_t)n - 1, &len);
    assert_string_equal(text, "\nthe fox is");
    free(text);
    free(t);
    /* a candidate is " " + the word, as it follows a prompt in the text */
    int *a = encode_answer(&tok, "red", &n);
    text = tokenizer_decode(&tok, a, (size_t)n, &len);
    assert_string_equal(text, " red");
    free(text);
    free(a);
    tokenizer_free(&tok);
}

static void test_stop_tokens_mark_every_token_holding_a_stop_byte_and_end_of_text(void **state) {
    (void)state;
    Tokenizer tok = small_tokenizer();
    unsigned char *stop = stop_tokens(&tok, ".\n", 1);
    int marked = 0;
    for (int id = 0; id < tokenizer_special_id(&tok, 0); id++) {
        int len;
        const unsigned char *b = tokenizer_token_bytes(&tok, id, &len);
        int has = memchr(b, '.', (size_t)len) || memchr(b, '\n', (size_t)len);
        assert_int_equal(stop[id], has);
        marked += has;
    }
    assert_true(marked >= 3);  /* '.', '\n' and at least " ." */
    assert_int_equal(stop[tokenizer_special_id(&tok, TOK_EOT)], 1);
    assert_int_equal(stop[tokenizer_special_id(&tok, TOK_PROMPT)], 0);
    int n;
    int *dot = encode_answer(&tok, ".", &n);
    assert_int_equal(n, 1);
    assert_int_equal(stop[dot[0]], 1);
    free(dot);
    int *red = encode_answer(&tok, "red", &n);
    for (int i = 0; i < n; i++) assert_int_equal(stop[red[i]], 0);
    free(red);
    free(stop);
    tokenizer_free(&tok);
}

static void test_candidates_are_parsed_from_a_bar_separated_field(void **state) {
    (void)state;
    Tokenizer tok = small_tokenizer();
    Candidates c;
    candidates_parse(&c, &tok, "good|bad|white", "x.tsv:2");
    assert_int_equal(c.n, 3);
    assert_string_equal(c.text[1], "bad");
    assert_int_equal(candidates_find(&c, "white"), 2);
    assert_int_equal(candidates_find(&c, "red"), -1);
    int maxlen = 0;
    for (int i = 0; i < c.n; i++) if (c.len[i] > maxlen) maxlen = c.len[i];
    assert_int_equal(c.maxlen, maxlen);
    candidates_free(&c);
    tokenizer_free(&tok);
}

typedef struct { const char *field; } ParseArg;

static void parse_in_child(void *arg) {
    Tokenizer tok = small_tokenizer();
    Candidates c;
    candidates_parse(&c, &tok, ((ParseArg *)arg)->field, "data/x.tsv:7");
}

static void test_bad_candidates_die_naming_the_file_and_line(void **state) {
    (void)state;
    ParseArg empty = {""}, hole = {"good||bad"}, dup = {"good|bad|good"};
    expect_death(parse_in_child, &empty, "data/x.tsv:7: the candidates field is empty");
    expect_death(parse_in_child, &hole, "data/x.tsv:7: candidate 2");
    expect_death(parse_in_child, &dup, "data/x.tsv:7: candidate 'good' appears twice");
}

/* ---- the context window and the attention ---- */

static void test_a_long_prompt_keeps_its_end_and_room_for_the_answer(void **state) {
    (void)state;
    int t[40];
    for (int i = 0; i < 40; i++) t[i] = i;
    int n = 40;
    assert_int_equal(score_fit(t, &n, 3, 32), 11);  /* keep 32 - 3 = 29 */
    assert_int_equal(n, 29);
    assert_int_equal(t[0], 11);
    assert_int_equal(t[28], 39);
    n = 10;
    assert_int_equal(score_fit(t, &n, 3, 32), 0);  /* fits: untouched */
    assert_int_equal(n, 10);
    n = 40;
    for (int i = 0; i < 40; i++) t[i] = i;
    assert_int_equal(score_fit(t, &n, 100, 32), 24);  /* room capped at maxT/2 = 16 */
    assert_int_equal(n, 16);
    assert_int_equal(t[15], 39);
}

/* After a forward that grew the buffers (B=3, T=20), a smaller one (B=2,
 * T=7): score_attention must read that forward's weights. Each row is a
 * distribution over positions <= t (causal), and row b equals the weights of
 * the same sequence run alone. */
static void test_attention_accessor_reads_causal_rows_of_the_last_forward(void **state) {
    (void)state;
    GPT m;
    tiny_model(&m, 15);
    int big[3 * 20], two[2 * 7];
    random_tokens(big, 60);
    random_tokens(two, 14);
    gpt_forward(&m, big, 3, 20);
    gpt_forward(&m, two, 2, 7);
    float saved[TL][TNH][7 * 7];
    for (int l = 0; l < TL; l++) {
        for (int h = 0; h < TNH; h++) {
            const float *a = score_attention(&m, l, 1, h);
            for (int t = 0; t < 7; t++) {
                double sum = 0.0;
                for (int s = 0; s < 7; s++) {
                    if (s > t) assert_true(a[t * 7 + s] == 0.0f);
                    sum += a[t * 7 + s];
                }
                assert_float_equal(sum, 1.0, 1e-5);
            }
            memcpy(saved[l][h], a, sizeof saved[l][h]);
        }
    }
    gpt_forward(&m, two + 7, 1, 7);
    for (int l = 0; l < TL; l++) {
        for (int h = 0; h < TNH; h++) {
            check_close("row 1 of a batch vs alone", score_attention(&m, l, 0, h), saved[l][h], 49, 1e-5, 1e-6);
        }
    }
    gpt_free(&m);
}

/* The induction probe adds, per block and head, the attention from the last
 * position to the matching value, and the mean attention to the other
 * values; two prompts add up; "attending evenly" is 1/(positions seen). */
static void test_induction_probe_sums_the_attention_to_the_matching_and_other_values(void **state) {
    (void)state;
    GPT m;
    tiny_model(&m, 16);
    int tokens[12], pos[3] = {2, 5, 8};
    random_tokens(tokens, 12);
    gpt_forward(&m, tokens, 1, 12);
    Induction ind;
    induction_init(&ind, &m.config);
    induction_add(&ind, &m, 11, pos, 3, 1);
    induction_add(&ind, &m, 11, pos, 1, 0);  /* one shot: no other values */
    assert_int_equal(ind.n, 2);
    assert_int_equal(ind.nother, 1);
    assert_float_equal(ind.uniform, 2.0 / 12.0, 1e-12);
    for (int l = 0; l < TL; l++) {
        for (int h = 0; h < TNH; h++) {
            const float *row = score_attention(&m, l, 0, h) + 11 * 12;
            assert_float_equal(ind.match[l * TNH + h], (double)row[5] + row[2], 1e-9);
            assert_float_equal(ind.other[l * TNH + h], ((double)row[2] + row[8]) / 2, 1e-9);
        }
    }
    induction_free(&ind);
    gpt_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_score_equals_the_hand_computed_log_softmax_of_the_logits),
        cmocka_unit_test(test_batched_candidates_score_the_same_as_one_at_a_time),
        cmocka_unit_test(test_one_token_candidates_share_one_forward_and_score_as_alone),
        cmocka_unit_test(test_the_best_candidate_is_the_argmax_of_the_scores),
        cmocka_unit_test(test_sum_and_mean_can_pick_different_candidates),
        cmocka_unit_test(test_greedy_generation_is_the_argmax_and_stops_at_a_stop_token),
        cmocka_unit_test(test_a_prompt_starts_like_a_document_in_the_corpus),
        cmocka_unit_test(test_stop_tokens_mark_every_token_holding_a_stop_byte_and_end_of_text),
        cmocka_unit_test(test_candidates_are_parsed_from_a_bar_separated_field),
        cmocka_unit_test(test_bad_candidates_die_naming_the_file_and_line),
        cmocka_unit_test(test_a_long_prompt_keeps_its_end_and_room_for_the_answer),
        cmocka_unit_test(test_attention_accessor_reads_causal_rows_of_the_last_forward),
        cmocka_unit_test(test_induction_probe_sums_the_attention_to_the_matching_and_other_values),
    };
    return cmocka_run_group_tests_name("score", tests, NULL, NULL);
}
