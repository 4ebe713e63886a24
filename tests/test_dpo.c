/* test_dpo.c — what rung 6b (DPO) promises, one property per test. The rung
 * is included whole (TESTING hides its main), so the tests call its loss,
 * its sequence log-probabilities and its step directly.
 *
 *   1. The loss -log sigma(beta [(logp_w - ref_w) - (logp_l - ref_l)]): log 2
 *      when the two log-ratios are equal, whatever beta; its hand-written
 *      gradient matches finite differences on both log-probabilities, and
 *      then through logprob_backward on the logits of both sequences (tau = 1).
 *   2. log pi(y|x) sums exactly the answer's tokens and the end-of-text (SFT's
 *      mask): the masked positions' targets are the answer, and a logit at a
 *      prompt or padding position changes nothing.
 *   3. Training: a few DPO steps lower the loss of their batch, move the
 *      policy, and leave the reference (its weights and its log-probabilities)
 *      exactly as they were.
 *   4. The program: `dpo --fast` on tiny files runs the main run and a sweep
 *      run into one log, prints the summary and saves the policy; bad input
 *      (a ranking with a missing answer, an empty answer, beta <= 0, a
 *      reference of another vocabulary, --out = --model) ends in one
 *      "error: ..." line with nothing written.
 */
#include "testutil.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../src/dpo.c"
#pragma GCC diagnostic pop

#include "chat_fixture.h"

/* ---- 1. the loss ---- */

static void test_dpo_loss_is_log2_when_the_log_ratios_are_equal(void **state) {
    (void)state;
    const float betas[] = {0.03f, 0.1f, 1.0f, 10.0f};
    for (int i = 0; i < 4; i++) {
        /* the policy likes y_w more than the reference does, by exactly as
         * much as it likes y_l more: no preference expressed */
        PairLoss p = dpo_pair_loss(-3.0f, -4.5f, -20.0f, -21.5f, betas[i]);
        assert_float_equal(p.loss, log(2.0), 1e-7);
        assert_float_equal(p.dw, -0.5 * betas[i], 1e-7);  /* -beta sigma(0) */
        assert_float_equal(p.dl, 0.5 * betas[i], 1e-7);
    }
    /* a whole batch with the policy equal to the reference: every pair ties */
    float logp[8] = {-1, -2, -3, -4, -5, -6, -7, -8}, dlogp[8];
    DpoStats st = dpo_loss(logp, logp, 2, 4, 0.1f, dlogp);
    assert_float_equal(st.loss, logf(2.0f), 1e-6f);
    assert_float_equal(st.accuracy, 0.5f, 0.0f);
    assert_float_equal(st.margin, 0.0f, 0.0f);
}

static void test_dpo_pair_loss_gradient_matches_finite_differences(void **state) {
    (void)state;
    test_seed(11);
    for (int trial = 0; trial < 50; trial++) {
        float w = test_uniform(-30, -1), rw = test_uniform(-30, -1), l = test_uniform(-30, -1),
              rl = test_uniform(-30, -1), beta = test_uniform(0.01f, 2.0f);
        PairLoss p = dpo_pair_loss(w, rw, l, rl, beta);
        double h = 1e-3;
        double dw = (dpo_pair_loss(w + h, rw, l, rl, beta).loss - dpo_pair_loss(w - h, rw, l, rl, beta).loss) / (2 * h);
        double dl = (dpo_pair_loss(w, rw, l + h, rl, beta).loss - dpo_pair_loss(w, rw, l - h, rl, beta).loss) / (2 * h);
        assert_float_equal(p.dw, dw, 1e-5 + 1e-3 * fabs(dw));
        assert_float_equal(p.dl, dl, 1e-5 + 1e-3 * fabs(dl));
        /* the loss is the pair's: -log sigma(z), finite far out */
        assert_float_equal(p.loss, log1p(exp(-p.z)), 1e-6 * (1 + fabs(p.z)));
    }
    PairLoss far = dpo_pair_loss(-200.0f, 0.0f, 0.0f, 0.0f, 1.0f);
    assert_float_equal(far.loss, 200.0, 1e-6);
}

/* ---- fixtures: a tiny policy, rankings, a batch ---- */

static void tiny_model(GPT *m, uint64_t seed) {
    gpt_build(m, gpt_config(128, tok.vocab_size, 2, 2, 16), 3);
    fx_randomize_params(m, seed);
    m->tokenizer_id = tokenizer_id(&tok);
}

static Prefs fixture_prefs(const GPT *m, int n) {
    char path[256];
    temp_path(path, sizeof path, "dpo-prefs.tsv");
    fx_write_prefs(path, 0, n);
    Prefs p;
    load_prefs(&p, &tok, path, m);
    remove(path);
    return p;
}

/* Rankings 0..nb-1 of p as one batch, with their reference log-probs. */
static void fill_rankings(Batch *b, const Prefs *p, int nb) {
    const Chat *ptrs[64];
    for (int k = 0; k < nb * p->K; k++) ptrs[k] = &p->chats[k];
    batch_fill(b, ptrs, nb * p->K, tokenizer_special_id(&tok, TOK_EOT));
    memcpy(b->ref, p->ref_logp, sizeof(float) * (size_t)nb * p->K);
}

static double loss_of_logits(GPT *m, Batch *b, int nb, int K, float beta) {
    sequence_logps(m, &b->bt, b->tok, b->logp);
    return dpo_loss(b->logp, b->ref, nb, K, beta, NULL).loss;
}

/* The whole hand-written chain, dL/dlogp then logprob_backward, against
 * central differences on the logits of both sequences of every pair. */
static void test_dpo_loss_gradient_through_the_logits_matches_finite_differences(void **state) {
    (void)state;
    GPT m;
    tiny_model(&m, 21);
    Prefs p = fixture_prefs(&m, 2);
    test_seed(22);
    for (int i = 0; i < p.n * p.K; i++) p.ref_logp[i] = test_uniform(-40.0f, -5.0f);
    Batch b = {0};
    fill_rankings(&b, &p, 2);
    float beta = 0.5f;
    gpt_forward(&m, b.bt.inputs, b.bt.B, b.bt.T);
    sequence_logps(&m, &b.bt, b.tok, b.logp);
    dpo_loss(b.logp, b.ref, 2, p.K, beta, b.dlogp);
    size_t n = (size_t)b.bt.B * b.bt.T * m.config.Vp;
    float *dlogits = calloc(n, sizeof(float));
    sequence_logps_backward(dlogits, &m, &b.bt, b.dlogp, b.dtok);
    int checked = 0, V = m.config.V;
    for (int trial = 0; trial < 300; trial++) {
        int row = test_below(b.bt.B * b.bt.T), v = test_below(V);
        if (b.bt.weights[row] == 0.0f && trial % 4) continue;  /* mostly answer rows; some others (gradient 0) */
        float *z = m.acts.logits + (size_t)row * m.config.Vp + v, z0 = *z, h = 1e-2f;
        *z = z0 + h;
        double up = loss_of_logits(&m, &b, 2, p.K, beta);
        *z = z0 - h;
        double down = loss_of_logits(&m, &b, 2, p.K, beta);
        *z = z0;
        double fd = (up - down) / (2 * h), got = dlogits[(size_t)row * m.config.Vp + v];
        assert_float_equal(got, fd, 2e-4 + 2e-2 * fabs(fd));
        checked += b.bt.weights[row] != 0.0f;
    }
    assert_true(checked > 50);
    free(dlogits);
    batch_free(&b);
    free_prefs(&p);
    gpt_free(&m);
}

/* ---- 2. the mask ---- */

static void test_the_mask_covers_exactly_the_answer_tokens_and_the_end_of_text(void **state) {
    (void)state;
    GPT m;
    tiny_model(&m, 31);
    Prefs p = fixture_prefs(&m, 2);
    Batch b = {0};
    fill_rankings(&b, &p, 2);
    int eot = tokenizer_special_id(&tok, TOK_EOT), T = b.bt.T;
    for (int c = 0; c < b.bt.B; c++) {
        const Chat *ch = &p.chats[c];
        int masked = 0;
        for (int t = 0; t < T; t++) {
            if (b.bt.weights[c * T + t] == 0.0f) continue;
            /* position t predicts token t+1: an answer token, or the final end-of-text */
            assert_true(t + 1 >= ch->context_len && t + 1 < ch->len);
            assert_int_equal(b.bt.targets[c * T + t], ch->tokens[t + 1]);
            masked++;
        }
        assert_int_equal(masked, ch->len - ch->context_len);
        assert_int_equal(ch->tokens[ch->len - 1], eot);
    }
    /* log pi(y|x) reads only those positions: a logit elsewhere changes nothing */
    gpt_forward(&m, b.bt.inputs, b.bt.B, b.bt.T);
    float before[8], after[8];
    sequence_logps(&m, &b.bt, b.tok, before);
    for (int i = 0; i < b.bt.B * T; i++) {
        if (b.bt.weights[i] == 0.0f) m.acts.logits[(size_t)i * m.config.Vp + b.bt.targets[i]] += 5.0f;
    }
    sequence_logps(&m, &b.bt, b.tok, after);
    for (int c = 0; c < b.bt.B; c++) assert_float_equal(after[c], before[c], 0.0f);
    /* and the sum is the answer tokens' log-probabilities, one by one */
    for (int c = 0; c < b.bt.B; c++) {
        double sum = 0.0;
        for (int t = 0; t < T; t++) {
            if (b.bt.weights[c * T + t] == 0.0f) continue;
            float lp;
            logprob_forward(&lp, m.acts.logits + (size_t)(c * T + t) * m.config.Vp, &b.bt.targets[c * T + t], 1.0f,
                            1, m.config.V, m.config.Vp);
            sum += lp;
        }
        assert_float_equal(after[c], sum, 1e-4);
    }
    batch_free(&b);
    free_prefs(&p);
    gpt_free(&m);
}

/* ---- 3. training ---- */

static void test_dpo_steps_lower_the_loss_and_leave_the_reference_frozen(void **state) {
    (void)state;
    GPT policy, reference;
    tiny_model(&policy, 41);
    tiny_model(&reference, 41);
    Prefs p = fixture_prefs(&policy, 4);
    int eot = tokenizer_special_id(&tok, TOK_EOT);
    Batch b = {0};
    answer_logps(&reference, &p, &b, eot, p.ref_logp);
    size_t P = reference.num_parameters;
    float *ref_params = copy_floats(reference.params_memory, P);
    float *ref_logp = copy_floats(p.ref_logp, (size_t)p.n * p.K);
    AdamWConfig adam = {0.9f, 0.999f, 1e-8f, 0.0f};
    float first = 0.0f, last = 0.0f;
    for (int step = 0; step < 5; step++) {
        fill_rankings(&b, &p, 4);
        DpoStats st = dpo_step(&policy, &b, 4, p.K, 0.5f);
        if (step == 0) {
            first = st.loss;
            assert_float_equal(st.loss, logf(2.0f), 1e-5f);  /* the policy starts as the reference */
        }
        last = st.loss;
        gpt_update(&policy, 1e-3f, &adam);
    }
    assert_true(last < first - 1e-3f);
    /* the reference: not one bit moved, and it still gives the stored log-probs */
    assert_memory_equal(reference.params_memory, ref_params, P * sizeof(float));
    float *again = malloc(sizeof(float) * (size_t)p.n * p.K);
    answer_logps(&reference, &p, &b, eot, again);
    assert_memory_equal(again, ref_logp, sizeof(float) * (size_t)p.n * p.K);
    assert_memory_equal(p.ref_logp, ref_logp, sizeof(float) * (size_t)p.n * p.K);
    /* while the policy did move */
    double moved = 0.0;
    for (size_t i = 0; i < P; i++) moved += fabs(policy.params_memory[i] - reference.params_memory[i]);
    assert_true(moved > 0.0);
    free(again);
    free(ref_params);
    free(ref_logp);
    batch_free(&b);
    free_prefs(&p);
    gpt_free(&policy);
    gpt_free(&reference);
}

/* ---- 4. the program ---- */

typedef struct { char model[256], train[256], test[256], prompts[256], log[256], out[256]; } Files;

static void write_files(Files *f) {
    temp_path(f->model, sizeof f->model, "dpo-sft.bin");
    temp_path(f->train, sizeof f->train, "dpo-train.tsv");
    temp_path(f->test, sizeof f->test, "dpo-test.tsv");
    temp_path(f->prompts, sizeof f->prompts, "dpo-prompts.tsv");
    temp_path(f->log, sizeof f->log, "dpo.tsv");
    temp_path(f->out, sizeof f->out, "dpo-out.bin");
    fx_write_model(f->model, tok.vocab_size, 128);
    fx_write_prefs(f->train, 0, 6);
    fx_write_prefs(f->test, 6, 3);
    FILE *p = fopen_or_die(f->prompts, "w");
    fprintf(p, "set\tprompt\nppo\twhat colour is the fox ?\nppo\twhere is the owl ?\nheldout\twhere is the dog ?\n");
    fclose(p);
}

static void remove_files(const Files *f) {
    const char *all[] = {f->model, f->train, f->test, f->prompts, f->log, f->out};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) remove(all[i]);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", f->log);
    remove(tmp);
}

static int count_lines_starting(const char *text, const char *prefix) {
    int n = 0;
    size_t len = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, prefix, len) == 0) n++;
    }
    return n;
}

static void test_dpo_fast_runs_a_sweep_into_one_log_and_saves_the_policy(void **state) {
    (void)state;
    Files f;
    write_files(&f);
    const char *args[] = {"--fast", "--model", f.model, "--tokenizer", merges, "--train", f.train, "--test", f.test,
                          "--prompts", f.prompts, "--reward", "", "--lm-val", "", "--log", f.log, "--out", f.out,
                          "--sweep", "1", "--threads", "1", NULL};
    char *out = NULL, *err = NULL;
    int status = run_program_io("dpo", args, NULL, &out, NULL, &err);
    if (status != 0) print_error("dpo failed (%d): %s\n", status, err);
    assert_int_equal(status, 0);
    assert_int_equal(count_lines_starting(out, "summary dpo beta0.3: hidden rule "), 1);
    assert_int_equal(count_lines_starting(out, "result dpo beta1: "), 1);
    assert_int_equal(count_lines_starting(out, "dpo: beta sweep"), 1);
    assert_null(strstr(out, "nan"));
    free(out);
    free(err);
    size_t len;
    char *log = read_file_or_die(f.log, &len);
    assert_true(strncmp(log, "run\tstep\tbeta\tloss\t", 19) == 0);
    /* --fast: 4 steps, so rows 0..4 for each run */
    assert_int_equal(count_lines_starting(log, "beta0.3\t"), 5);
    assert_int_equal(count_lines_starting(log, "beta1\t"), 5);
    assert_null(strstr(log, "nan"));
    /* row 0 is the SFT model: its implicit reward ties every pair */
    assert_non_null(strstr(log, "beta0.3\t0\t0.3000\t-\t-\t-\t-\t-\t-\t0.69315\t0.50000\t"));
    free(log);
    GPT m;
    gpt_load(&m, f.out);
    assert_int_equal((int)m.tokenizer_id, (int)tokenizer_id(&tok));  /* it records its tokenizer */
    gpt_free(&m);
    remove_files(&f);
}

static void expect_error(const char *const *args, const char *phrase) {
    expect_program_refuses("dpo", (const char **)args, phrase, NULL);
}

static void test_dpo_refuses_bad_input_with_one_line_and_writes_nothing(void **state) {
    (void)state;
    Files f;
    write_files(&f);
    const char *args[] = {"--fast", "--model", f.model, "--tokenizer", merges, "--train", f.train, "--test", f.test,
                          "--prompts", f.prompts, "--reward", "", "--lm-val", "", "--log", f.log, "--out", f.out, NULL};
    /* a ranking with a missing answer */
    FILE *p = fopen_or_die(f.train, "w");
    fprintf(p, "prompt\tr1\tr2\tr3\tr4\nwhere is the owl ?\ta\tb\tc\td\nwhere is the fox ?\ta\tb\tc\n");
    fclose(p);
    expect_error(args, ":3: expected a prompt and 4 ranked answers, found 3");
    /* an empty one */
    p = fopen_or_die(f.train, "w");
    fprintf(p, "prompt\tr1\tr2\tr3\tr4\nwhere is the owl ?\ta\t\tc\td\n");
    fclose(p);
    expect_error(args, ":2: answer 2 is empty");
    fx_write_prefs(f.train, 0, 6);
    /* beta must be positive: it divides the reward (r = beta log pi/pi_ref) */
    const char *zero_beta[] = {"--fast", "--beta", "0", NULL};
    expect_error(zero_beta, "--beta");
    const char *neg_sweep[] = {"--fast", "--model", f.model, "--tokenizer", merges, "--train", f.train, "--test",
                               f.test, "--prompts", f.prompts, "--reward", "", "--lm-val", "", "--log", f.log, "--out",
                               f.out, "--sweep", "0.3,-1", NULL};
    expect_error(neg_sweep, "--sweep: '-1'");
    /* a reference of another vocabulary */
    char other[256];
    temp_path(other, sizeof other, "dpo-other.bin");
    fx_write_model(other, tok.vocab_size + 4, 128);
    const char *bad_ref[] = {"--fast", "--model", f.model, "--reference", other, "--tokenizer", merges, "--train",
                             f.train, "--test", f.test, "--prompts", f.prompts, "--reward", "", "--lm-val", "",
                             "--log", f.log, "--out", f.out, NULL};
    expect_error(bad_ref, "do not belong together");
    remove(other);
    /* the policy written over the model it starts from */
    const char *out_is_model[] = {"--fast", "--model", f.model, "--tokenizer", merges, "--train", f.train, "--test",
                                  f.test, "--prompts", f.prompts, "--reward", "", "--log", f.log, "--out", f.model,
                                  NULL};
    expect_error(out_is_model, "is also --model");
    assert_false(file_exists(f.log));
    assert_false(file_exists(f.out));
    remove_files(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dpo_loss_is_log2_when_the_log_ratios_are_equal),
        cmocka_unit_test(test_dpo_pair_loss_gradient_matches_finite_differences),
        cmocka_unit_test(test_dpo_loss_gradient_through_the_logits_matches_finite_differences),
        cmocka_unit_test(test_the_mask_covers_exactly_the_answer_tokens_and_the_end_of_text),
        cmocka_unit_test(test_dpo_steps_lower_the_loss_and_leave_the_reference_frozen),
        cmocka_unit_test(test_dpo_fast_runs_a_sweep_into_one_log_and_saves_the_policy),
        cmocka_unit_test(test_dpo_refuses_bad_input_with_one_line_and_writes_nothing),
    };
    return cmocka_run_group_tests_name("dpo", tests, fx_group_setup, fx_group_teardown);
}
