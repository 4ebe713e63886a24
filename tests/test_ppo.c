/* test_ppo.c — what rung 6 (PPO against the reward model) promises, one
 * property per test. The rung is included whole (TESTING hides its main),
 * so the tests call its formulas and its steps directly.
 *
 *   1. PPO's clipped surrogate: for a positive advantage the gradient is 0
 *      once the ratio exceeds 1 + eps, for a negative one once it falls
 *      below 1 - eps; inside the band (and on the side where the clip does
 *      not bind) it is the unclipped gradient -A rho. The same for the
 *      clipped value loss.
 *   2. GAE on a hand-worked three-step example; with lambda = gamma = 1 the
 *      advantage is the return minus the value.
 *   3. KL: k1 and k3 are 0 when the policy is the reference (through real
 *      forward passes), and both average to the exact KL on a tiny case.
 *   4. Rewards: the score lands on the last real token, never on padding;
 *      a response without end-of-text gets the penalty, an ended one the
 *      reward model's score of prompt + response.
 *   5. The hand-written PPO loss gradient (surrogate + value loss) matches
 *      finite differences on the logits and on the values; one PPO step of a
 *      tiny model lowers the loss of its minibatch.
 *   6. The program: `ppo --fast` on tiny files runs both runs into one log,
 *      each starting from the SFT model (KL 0 at iteration 0), and writes
 *      both policies; bad input ends in one "error: ..." line, an output
 *      that is also an input (--out = --model, --hack-out = --model, --out =
 *      --reward) is refused before anything is written, and so is a model
 *      trained with another tokenizer.
 */
#include "testutil.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../src/ppo.c"
#pragma GCC diagnostic pop

#include "chat_fixture.h"

#define EPS 0.2f

/* ---- 1. the clipped surrogate and the clipped value loss ---- */

/* log pi such that the ratio to old_logp = 0 is rho */
static float logp_for_ratio(float rho) { return logf(rho); }

static void test_surrogate_gradient_is_zero_above_the_band_for_a_positive_advantage(void **state) {
    (void)state;
    for (float rho = 1.25f; rho < 3.0f; rho += 0.25f) {
        Surrogate s = clipped_surrogate(logp_for_ratio(rho), 0.0f, 0.7f, EPS);
        assert_true(s.clipped);
        assert_true(s.dlogp == 0.0f);
        assert_float_equal(s.loss, -0.7f * (1.0f + EPS), 1e-6f);  /* flat at the clipped value */
    }
}

static void test_surrogate_gradient_is_zero_below_the_band_for_a_negative_advantage(void **state) {
    (void)state;
    for (float rho = 0.1f; rho < 0.79f; rho += 0.1f) {
        Surrogate s = clipped_surrogate(logp_for_ratio(rho), 0.0f, -1.3f, EPS);
        assert_true(s.clipped);
        assert_true(s.dlogp == 0.0f);
        assert_float_equal(s.loss, 1.3f * (1.0f - EPS), 1e-6f);
    }
}

static void test_surrogate_gradient_is_the_unclipped_one_inside_the_band(void **state) {
    (void)state;
    const float advs[] = {1.1f, -0.4f};
    for (int a = 0; a < 2; a++) {
        for (float rho = 0.82f; rho < 1.19f; rho += 0.04f) {
            Surrogate s = clipped_surrogate(logp_for_ratio(rho), 0.0f, advs[a], EPS);
            assert_false(s.clipped);
            assert_float_equal(s.loss, -advs[a] * rho, 1e-6f);
            assert_float_equal(s.dlogp, -advs[a] * rho, 1e-6f);  /* d(-A rho)/dlogp = -A rho */
        }
    }
    /* outside the band on the side the clip does not guard, the unclipped
     * term is the larger and still pulls: a positive advantage at a low
     * ratio, a negative one at a high ratio */
    Surrogate lo = clipped_surrogate(logp_for_ratio(0.5f), 0.0f, 1.0f, EPS);
    Surrogate hi = clipped_surrogate(logp_for_ratio(1.6f), 0.0f, -1.0f, EPS);
    assert_false(lo.clipped);
    assert_false(hi.clipped);
    assert_float_equal(lo.dlogp, -0.5f, 1e-6f);
    assert_float_equal(hi.dlogp, 1.6f, 1e-5f);
}

static void test_value_clip_stops_the_gradient_outside_the_band_and_not_inside(void **state) {
    (void)state;
    float v_old = 0.5f;
    /* the value moved up past the band (v = 1.5, v_old = 0.5: v_clip = 0.7)
     * towards a target R = 1.4 between them: (v_clip - R)^2 = 0.49 beats
     * (v - R)^2 = 0.01, the clipped term is the larger, and v gets nothing */
    ValueLoss out = clipped_value_loss(1.5f, v_old, 1.4f, EPS);  /* v_clip = 0.7, R = 1.4 */
    assert_true(out.clipped);
    assert_true(out.dv == 0.0f);
    assert_float_equal(out.loss, 0.5f * 0.7f * 0.7f, 1e-6f);
    /* the same below the band */
    out = clipped_value_loss(-0.5f, v_old, -0.4f, EPS);  /* v_clip = 0.3 */
    assert_true(out.clipped);
    assert_true(out.dv == 0.0f);
    /* outside the band with the unclipped term larger: the gradient is v - R */
    out = clipped_value_loss(1.5f, v_old, -1.0f, EPS);
    assert_false(out.clipped);
    assert_float_equal(out.dv, 2.5f, 1e-6f);
    /* inside the band the two terms are equal: the unclipped gradient */
    for (float v = 0.35f; v < 0.69f; v += 0.05f) {
        ValueLoss in = clipped_value_loss(v, v_old, 2.0f, EPS);
        assert_false(in.clipped);
        assert_float_equal(in.loss, 0.5f * (v - 2.0f) * (v - 2.0f), 1e-6f);
        assert_float_equal(in.dv, v - 2.0f, 1e-6f);
    }
}

/* ---- 2. GAE ---- */

static void test_gae_matches_a_hand_worked_three_step_example(void **state) {
    (void)state;
    /* rewards (0, 0, 1), values (0.5, 0.2, 0.1), gamma 1, lambda 0.95:
     *   delta_2 = 1 + 0   - 0.1 =  0.9      A_2 = 0.9
     *   delta_1 = 0 + 0.1 - 0.2 = -0.1      A_1 = -0.1 + 0.95 * 0.9    = 0.755
     *   delta_0 = 0 + 0.2 - 0.5 = -0.3      A_0 = -0.3 + 0.95 * 0.755  = 0.41725
     * returns = A + V = (0.91725, 0.955, 1.0) */
    float r[3] = {0.0f, 0.0f, 1.0f}, v[3] = {0.5f, 0.2f, 0.1f}, adv[3], ret[3];
    gae(adv, ret, r, v, 3, 1.0f, 0.95f);
    float want_adv[3] = {0.41725f, 0.755f, 0.9f}, want_ret[3] = {0.91725f, 0.955f, 1.0f};
    check_close("advantages", adv, want_adv, 3, 1e-5, 1e-6);
    check_close("returns", ret, want_ret, 3, 1e-5, 1e-6);
    /* and with a discount: gamma 0.5, lambda 0.5
     *   delta_2 = 0.9                       A_2 = 0.9
     *   delta_1 = 0 + 0.05 - 0.2 = -0.15    A_1 = -0.15 + 0.25 * 0.9   = 0.075
     *   delta_0 = 0 + 0.1  - 0.5 = -0.4     A_0 = -0.4  + 0.25 * 0.075 = -0.38125 */
    gae(adv, ret, r, v, 3, 0.5f, 0.5f);
    float want2[3] = {-0.38125f, 0.075f, 0.9f};
    check_close("discounted advantages", adv, want2, 3, 1e-5, 1e-6);
}

static void test_gae_with_lambda_one_and_gamma_one_is_return_minus_value(void **state) {
    (void)state;
    test_seed(11);
    enum { n = 9 };
    float r[n], v[n], adv[n], ret[n], want[n];
    for (int i = 0; i < n; i++) { r[i] = test_uniform(-1, 1); v[i] = test_uniform(-2, 2); }
    gae(adv, ret, r, v, n, 1.0f, 1.0f);
    for (int i = 0; i < n; i++) {
        float G = 0.0f;  /* the return from i on */
        for (int j = i; j < n; j++) G += r[j];
        want[i] = G - v[i];
    }
    check_close("A = G - V", adv, want, n, 1e-5, 1e-5);
    for (int i = 0; i < n; i++) want[i] += v[i];
    check_close("returns = G", ret, want, n, 1e-5, 1e-5);
}

/* ---- fixtures: prompts, a tiny policy, rollouts ---- */

static void write_prompts(const char *path) {
    FILE *f = fopen_or_die(path, "w");
    fprintf(f, "set\tprompt\nppo\twhat colour is the fox ?\nppo\twhere is the owl ?\n"
               "ppo\twhat colour is the cup ?\nheldout\twhere is the dog ?\n");
    fclose(f);
}

static PromptSet fixture_prompts(const char *set, int max_response, int maxT) {
    char path[256];
    temp_path(path, sizeof path, "ppo-prompts.tsv");
    write_prompts(path);
    PromptSet ps = load_prompts(&tok, path, set, max_response, maxT);
    remove(path);
    return ps;
}

static void tiny_model(GPT *m, uint64_t seed) {
    gpt_build(m, gpt_config(64, tok.vocab_size, 2, 2, 16), 3);
    fx_randomize_params(m, seed);
}

/* ppo's rollout at temperature 1, through a sampler made for the occasion. */
static void sample_rollouts(GPT *policy, const PromptSet *ps, Rollouts *ro, Rng *rng) {
    GPTSampler sampler;
    gpt_sampler_init(&sampler, policy);
    rollout(&sampler, &tok, ps, ro, 1.0f, rng);
    gpt_sampler_free(&sampler);
}

/* ---- 3. KL ---- */

static void test_kl_is_zero_when_the_policy_equals_the_reference(void **state) {
    (void)state;
    GPT policy, reference;
    tiny_model(&policy, 21);
    tiny_model(&reference, 21);  /* the same weights */
    LinearHead vh;
    head_build(&vh, 1, policy.config.C, 0.0f, 1);
    PromptSet ps = fixture_prompts("ppo", 8, policy.config.maxT);
    Rollouts ro;
    rollouts_alloc(&ro, 6, 8, policy.config.maxT);
    for (int b = 0; b < ro.n; b++) ro.prompt[b] = b % ps.n;
    Rng rng;
    rng_seed(&rng, 5);
    sample_rollouts(&policy, &ps, &ro, &rng);
    for (int b = 0; b < ro.n; b++) ro.score[b] = 0.5f * b;
    TokenBatch tb = {0};
    int eot = tokenizer_special_id(&tok, TOK_EOT);
    evaluate_rollouts(&policy, &vh, &reference, &ro, 4, 1.0f, &tb, eot);
    compute_advantages(&ro, 0.3f, 1.0f, 0.95f);
    int tokens = 0;
    for (int b = 0; b < ro.n; b++) {
        for (int i = 0; i < ro.len[b]; i++, tokens++) {
            float lp = ro.logp[b * ro.R + i], rl = ro.ref_logp[b * ro.R + i];
            assert_true(lp == rl);
            assert_true(kl_k1(lp, rl) == 0.0f);
            assert_true(kl_k3(lp, rl) == 0.0f);
            assert_true(lp <= 0.0f && isfinite(lp));
            /* no KL term: the only reward is the score, at the last token */
            assert_true(ro.rewards[b * ro.R + i] == (i == ro.len[b] - 1 ? ro.score[b] : 0.0f));
        }
    }
    assert_true(tokens > ro.n);
    token_batch_free(&tb);
    rollouts_free(&ro);
    free_prompts(&ps);
    head_free(&vh);
    gpt_free(&policy);
    gpt_free(&reference);
}

static void test_k1_and_k3_both_average_to_the_exact_kl_on_a_tiny_case(void **state) {
    (void)state;
    /* one step, four actions: E_{a~p}[k1] = E_{a~p}[k3] = KL(p || q) exactly */
    const double p[4] = {0.5, 0.25, 0.15, 0.10}, q[4] = {0.3, 0.3, 0.2, 0.2};
    double kl = 0.0, e1 = 0.0, e3 = 0.0;
    for (int a = 0; a < 4; a++) {
        kl += p[a] * log(p[a] / q[a]);
        e1 += p[a] * kl_k1((float)log(p[a]), (float)log(q[a]));
        e3 += p[a] * kl_k3((float)log(p[a]), (float)log(q[a]));
        assert_true(kl_k3((float)log(p[a]), (float)log(q[a])) >= 0.0f);  /* k3 is never negative */
    }
    assert_true(kl > 0.05);
    assert_float_equal(e1, kl, 1e-6);
    assert_float_equal(e3, kl, 1e-6);
    /* while single samples of k1 can be negative */
    assert_true(kl_k1((float)log(p[3]), (float)log(q[3])) < 0.0f);
}

/* ---- 4. rewards on the right token ---- */

static void test_the_score_lands_on_the_last_real_token_not_on_padding(void **state) {
    (void)state;
    enum { R = 6 };
    float logp[R] = {-0.1f, -0.5f, -0.2f, -9, -9, -9}, ref[R] = {-0.3f, -0.5f, -0.1f, -1, -1, -1};
    float rw[R];
    token_rewards(rw, logp, ref, 3, R, 2.0f, 0.5f);
    float want[R] = {-0.5f * 0.2f, 0.0f, -0.5f * -0.1f + 2.0f, 0, 0, 0};
    check_close("rewards", rw, want, R, 1e-6, 1e-7);

    /* in a batch of two rollouts of different lengths, row[k] + 1 holds the
     * action (the row predicts the token after it), and the last token of
     * the shorter rollout is followed only by padding that no token reads */
    int eot = tokenizer_special_id(&tok, TOK_EOT);
    Chat a = chat_encode_pair(&tok, "what colour is the fox ?", "it is red ."),
         b = chat_encode_pair(&tok, "where is the owl ?", "it is in the barn . it is in the barn .");
    Rollouts ro;
    rollouts_alloc(&ro, 2, 20, 64);
    const Chat *cs[2] = {&a, &b};
    for (int r = 0; r < 2; r++) {
        memcpy(ro.seq + r * ro.S, cs[r]->tokens, sizeof(int) * (size_t)cs[r]->len);
        ro.ctx_len[r] = cs[r]->context_len;
        ro.len[r] = cs[r]->len - cs[r]->context_len;
        ro.ended[r] = 1;
        for (int i = 0; i < ro.len[r]; i++) ro.logp[r * ro.R + i] = ro.ref_logp[r * ro.R + i] = -0.1f;
        ro.score[r] = 1.0f + r;
    }
    TokenBatch tb = {0};
    int idx[2] = {0, 1};
    layout_batch(&tb, &ro, idx, 2, eot);
    assert_int_equal(tb.K, ro.len[0] + ro.len[1]);
    assert_int_equal(tb.T, b.len);
    for (int k = 0; k < tb.K; k++) {
        assert_int_equal(tb.inputs[tb.row[k] + 1], tb.action[k]);
        assert_true(tb.row[k] % tb.T + 1 < (tb.row[k] / tb.T == 0 ? a.len : b.len));
    }
    assert_int_equal(tb.action[ro.len[0] - 1], eot);  /* rollout 0's last token: its end-of-text */
    compute_advantages(&ro, 0.0f, 1.0f, 1.0f);
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < ro.R; i++) {
            float want_r = i == ro.len[r] - 1 ? ro.score[r] : 0.0f;
            assert_true(ro.rewards[r * ro.R + i] == want_r);
        }
    }
    token_batch_free(&tb);
    rollouts_free(&ro);
    chat_free(&a);
    chat_free(&b);
}

static void test_a_response_without_end_of_text_gets_the_penalty(void **state) {
    (void)state;
    int eot = tokenizer_special_id(&tok, TOK_EOT);
    RewardModel rm;
    memset(&rm, 0, sizeof rm);
    tiny_model(&rm.gpt, 31);
    head_build(&rm.head, 1, rm.gpt.config.C, 0.5f, 2);
    rm.head.gain = 2.0f;
    rm.head.shift = -0.25f;
    PromptSet ps = fixture_prompts("ppo", 8, 64);
    /* rollout 0 ended (its end-of-text sampled), rollout 1 was cut at the limit */
    Chat c0 = chat_encode_pair(&tok, ps.text[0], "it is red ."), c1 = chat_encode_prompt(&tok, ps.text[1]);
    Rollouts ro;
    rollouts_alloc(&ro, 2, 8, 64);
    ro.prompt[0] = 0;
    ro.prompt[1] = 1;
    memcpy(ro.seq, c0.tokens, sizeof(int) * (size_t)c0.len);
    ro.ctx_len[0] = c0.context_len;
    ro.len[0] = c0.len - c0.context_len;
    ro.ended[0] = 1;
    ro.text[0] = strdup_or_die("it is red .");
    memcpy(ro.seq + ro.S, c1.tokens, sizeof(int) * (size_t)c1.len);
    for (int i = 0; i < 8; i++) ro.seq[ro.S + c1.len + i] = c0.tokens[c0.context_len];  /* " it" x 8 */
    ro.ctx_len[1] = c1.len;
    ro.len[1] = 8;
    ro.ended[1] = 0;
    ro.text[1] = strdup_or_die("it it it it it it it it");
    score_rollouts(&rm, &ps, &ro, -7.0f, eot);
    assert_true(ro.score[1] == -7.0f);
    /* the ended one: the reward model's normalised score of prompt + response,
     * exactly what rung 5 computes for the pair */
    const char *prompts[1] = {ps.text[0]}, *responses[1] = {"it is red ."};
    float want;
    reward_model_score(&rm, &tok, prompts, responses, 1, &want);
    assert_float_equal(ro.score[0], want, 1e-5f);
    assert_true(ro.score[0] != -7.0f);
    /* the hidden rule is scored too (for the log), with the end flag */
    assert_true(ro.rule[0] == score_response(ps.text[0], "it is red .", 1));
    assert_true(ro.rule[1] == score_response(ps.text[1], ro.text[1], 0));
    rollouts_free(&ro);
    chat_free(&c0);
    chat_free(&c1);
    free_prompts(&ps);
    reward_model_free(&rm);
}

static void test_whitened_advantages_have_mean_zero_and_unit_std(void **state) {
    (void)state;
    Rollouts ro;
    rollouts_alloc(&ro, 3, 5, 32);
    test_seed(3);
    int lens[3] = {5, 2, 4};
    for (int b = 0; b < 3; b++) {
        ro.len[b] = lens[b];
        ro.score[b] = test_uniform(-2, 2);
        for (int i = 0; i < 5; i++) {
            ro.logp[b * 5 + i] = test_uniform(-2, 0);
            ro.ref_logp[b * 5 + i] = test_uniform(-2, 0);
            ro.values[b * 5 + i] = test_uniform(-1, 1);
        }
    }
    compute_advantages(&ro, 0.3f, 1.0f, 0.95f);
    double s = 0, ss = 0;
    int n = 0;
    for (int b = 0; b < 3; b++) {
        float raw[5], ret[5], rw[5];
        token_rewards(rw, ro.logp + b * 5, ro.ref_logp + b * 5, lens[b], 5, ro.score[b], 0.3f);
        gae(raw, ret, rw, ro.values + b * 5, lens[b], 1.0f, 0.95f);
        check_close("returns keep the raw advantages", ro.returns + b * 5, ret, (size_t)lens[b], 1e-6, 1e-6);
        for (int i = 0; i < lens[b]; i++, n++) { s += ro.adv[b * 5 + i]; ss += ro.adv[b * 5 + i] * ro.adv[b * 5 + i]; }
    }
    assert_float_equal(s / n, 0.0, 1e-5);
    assert_float_equal(ss / n, 1.0, 1e-4);
    rollouts_free(&ro);
}

/* ---- 5. the loss's gradient ---- */

static double loss_at(TokenBatch *tb, const float *logits, int V, int Vp) {
    return ppo_loss(tb, logits, V, Vp, 0.8f, EPS, EPS, 0.5f, NULL).loss;
}

static void test_ppo_loss_gradient_matches_finite_differences(void **state) {
    (void)state;
    enum { K = 6, V = 7, Vp = 8 };
    float logits[K * Vp];
    test_seed(17);
    for (int i = 0; i < K * Vp; i++) logits[i] = (i % Vp) < V ? test_uniform(-1.5f, 1.5f) : 0.0f;
    TokenBatch tb = {0};
    tb.K = K;
    int row[K], action[K];
    float lp[K], value[K], old_logp[K], old_value[K], adv[K], ret[K], dlogp[K], dvalue[K];
    tb.row = row; tb.action = action; tb.logp = lp; tb.value = value; tb.old_logp = old_logp;
    tb.old_value = old_value; tb.adv = adv; tb.ret = ret; tb.dlogp = dlogp; tb.dvalue = dvalue;
    /* every regime of the two clips, each well away from its kinks:
     * ratio 1.05 (inside), 1.6 with A > 0 (clipped), 0.5 with A < 0 (clipped),
     * 1.6 with A < 0 and 0.5 with A > 0 (unclipped outside), 0.9 inside */
    const float rho[K] = {1.05f, 1.6f, 0.5f, 1.6f, 0.5f, 0.9f};
    const float A[K] = {0.8f, 1.2f, -0.7f, -0.9f, 1.1f, -0.3f};
    /* values: inside the band; clipped with the clipped term larger; outside
     * with the unclipped larger */
    const float v[K] = {0.1f, 1.5f, -0.5f, 1.5f, 0.3f, -0.2f}, v_old[K] = {0.0f, 0.5f, 0.5f, 0.5f, 0.25f, -0.1f};
    const float R[K] = {1.0f, 1.4f, -0.4f, -1.0f, 2.0f, -1.5f};
    for (int k = 0; k < K; k++) {
        row[k] = k;
        action[k] = (3 * k + 1) % V;
        logprob_forward(&lp[k], logits + k * Vp, &action[k], 0.8f, 1, V, Vp);
        old_logp[k] = lp[k] - logf(rho[k]);
        adv[k] = A[k];
        value[k] = v[k];
        old_value[k] = v_old[k];
        ret[k] = R[k];
    }
    float dlogits[K * Vp];
    memset(dlogits, 0, sizeof dlogits);
    LossStats st = ppo_loss(&tb, logits, V, Vp, 0.8f, EPS, EPS, 0.5f, dlogits);
    assert_float_equal(st.clipfrac, 2.0f / K, 1e-6f);  /* the two clipped surrogate terms */
    for (int k = 0; k < K; k++) for (int c = V; c < Vp; c++) assert_true(dlogits[k * Vp + c] == 0.0f);
    float fd[K * Vp], got_dv[K], fd_dv[K];
    const float h = 1e-2f;
    for (int i = 0; i < K * Vp; i++) {
        if (i % Vp >= V) { fd[i] = 0.0f; continue; }
        float keep = logits[i];
        logits[i] = keep + h;
        double up = loss_at(&tb, logits, V, Vp);
        logits[i] = keep - h;
        double down = loss_at(&tb, logits, V, Vp);
        logits[i] = keep;
        fd[i] = (float)((up - down) / (2.0 * h));
    }
    check_close("dL/dlogits", dlogits, fd, K * Vp, 2e-2, 2e-4);
    /* the tokens whose surrogate is clipped get no gradient at all */
    for (int c = 0; c < Vp; c++) assert_true(dlogits[1 * Vp + c] == 0.0f && dlogits[2 * Vp + c] == 0.0f);
    ppo_loss(&tb, logits, V, Vp, 0.8f, EPS, EPS, 0.5f, NULL);
    memcpy(got_dv, dvalue, sizeof got_dv);
    for (int k = 0; k < K; k++) {
        float keep = value[k];
        value[k] = keep + h;
        double up = loss_at(&tb, logits, V, Vp);
        value[k] = keep - h;
        double down = loss_at(&tb, logits, V, Vp);
        value[k] = keep;
        fd_dv[k] = (float)((up - down) / (2.0 * h));
    }
    check_close("dL/dV", got_dv, fd_dv, K, 2e-2, 2e-4);
    assert_true(got_dv[1] == 0.0f);           /* the clipped value term */
    assert_true(fabsf(got_dv[3]) > 0.1f);     /* outside the band, unclipped */
}

/* A minibatch of 8 rollouts of a tiny policy, laid out for ppo_minibatch:
 * the same every time it is built. */
typedef struct {
    GPT policy, reference;
    LinearHead vh;
    PromptSet ps;
    Rollouts ro;
    TokenBatch tb;
} Minibatch;

static void minibatch_build(Minibatch *mb) {
    memset(mb, 0, sizeof *mb);
    tiny_model(&mb->policy, 41);
    tiny_model(&mb->reference, 41);
    head_build(&mb->vh, 1, mb->policy.config.C, 0.0f, 1);
    mb->ps = fixture_prompts("ppo", 6, mb->policy.config.maxT);
    rollouts_alloc(&mb->ro, 8, 6, mb->policy.config.maxT);
    for (int b = 0; b < mb->ro.n; b++) mb->ro.prompt[b] = b % mb->ps.n;
    Rng rng;
    rng_seed(&rng, 9);
    sample_rollouts(&mb->policy, &mb->ps, &mb->ro, &rng);
    for (int b = 0; b < mb->ro.n; b++) mb->ro.score[b] = (b % 3) - 1.0f;
    int eot = tokenizer_special_id(&tok, TOK_EOT);
    evaluate_rollouts(&mb->policy, &mb->vh, &mb->reference, &mb->ro, 8, 1.0f, &mb->tb, eot);
    compute_advantages(&mb->ro, 0.1f, 1.0f, 0.95f);
    int idx[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    layout_batch(&mb->tb, &mb->ro, idx, 8, eot);
}

static void minibatch_free(Minibatch *mb) {
    token_batch_free(&mb->tb);
    rollouts_free(&mb->ro);
    free_prompts(&mb->ps);
    head_free(&mb->vh);
    gpt_free(&mb->policy);
    gpt_free(&mb->reference);
}

static void test_a_ppo_step_lowers_the_loss_of_its_minibatch(void **state) {
    (void)state;
    Minibatch mb;
    minibatch_build(&mb);
    Options o = defaults();
    o.lr = 1e-3f;
    o.value_lr = 1e-3f;
    AdamWConfig adam = {0.9f, 0.999f, 1e-8f, 0.0f};
    LossStats before = ppo_minibatch(&mb.policy, &mb.vh, &mb.tb, &o, &adam, 1, NULL);
    assert_float_equal(before.approx_kl, 0.0f, 1e-9f);  /* first step: pi = pi_old */
    gpt_forward(&mb.policy, mb.tb.inputs, mb.tb.M, mb.tb.T);
    head_forward(&mb.vh, mb.tb.value, mb.policy.acts.lnf, mb.tb.row, mb.tb.K);
    LossStats after = ppo_loss(&mb.tb, mb.policy.acts.logits, mb.policy.config.V, mb.policy.config.Vp, 1.0f,
                               o.clip_eps, o.vf_clip, o.vf_coef, NULL);
    assert_true(after.loss < before.loss - 1e-4f);
    assert_true(after.pg_loss < before.pg_loss);
    assert_true(after.approx_kl > 0.0f);
    minibatch_free(&mb);
}

/* ---- PPO-ptx ---- */

/* A stream of n tokens that repeats a short sentence: something to model. */
static int *ptx_stream(size_t n) {
    int *t = malloc_or_die(sizeof(int) * n, "ptx tokens");
    for (size_t i = 0; i < n; i++) t[i] = (int)((i * 7) % 23);
    return t;
}

/* ptx_gradient ADDS gamma times the language-model gradient of its windows
 * to whatever gradient is already there (the PPO loss's): after it, the
 * gradient is exactly G0 + gamma * dLM/dtheta, and it returns that LM loss. */
static void test_ptx_adds_gamma_times_the_lm_gradient_to_the_ppo_gradient(void **state) {
    (void)state;
    GPT m;
    tiny_model(&m, 51);
    size_t n = 500, P = m.num_parameters;
    int *data = ptx_stream(n);
    int inputs[2 * PTX_T], targets[2 * PTX_T];
    Ptx ptx = {.coef = 2.5f, .B = 2, .T = PTX_T, .data = data, .n = n, .inputs = inputs, .targets = targets};
    rng_seed(&ptx.rng, 3);
    /* the LM gradient alone, on the windows ptx_gradient is about to draw */
    Rng same = ptx.rng;
    int in2[2 * PTX_T], tg2[2 * PTX_T];
    gpt_random_windows(data, n, 2, PTX_T, in2, tg2, &same);
    gpt_zero_grad(&m);
    gpt_forward(&m, in2, 2, PTX_T);
    float lm = gpt_lm_loss(&m, tg2, NULL);
    gpt_lm_loss_backward(&m, tg2, NULL, 1.0f);
    gpt_backward(&m, m.dlogits, NULL);
    float *g_lm = copy_floats(m.grads_memory, P);
    /* a gradient already there, as the PPO loss leaves it */
    test_seed(52);
    float *g0 = random_floats(P, -0.01f, 0.01f);
    memcpy(m.grads_memory, g0, sizeof(float) * P);
    float loss = ptx_gradient(&m, &ptx);
    assert_float_equal(loss, lm, 1e-6f);
    /* equal up to float rounding: the sums inside gpt_backward run over the
     * scaled terms, so compare against the largest gradient, not each one */
    double worst = 0.0, largest = 0.0;
    for (size_t i = 0; i < P; i++) {
        double want = (double)g0[i] + 2.5 * (double)g_lm[i];
        double d = fabs(m.grads_memory[i] - want);
        if (d > worst) worst = d;
        if (fabs(2.5 * g_lm[i]) > largest) largest = fabs(2.5 * g_lm[i]);
    }
    assert_true(largest > 1e-3);
    assert_true(worst < 1e-5 * largest);
    free(g0);
    free(g_lm);
    free(data);
    gpt_free(&m);
}

/* The pretraining term runs its own forward after the PPO backward. Were it
 * run before, it would overwrite the activations the PPO gradient is computed
 * from. With a vanishing gamma the step must be the plain PPO step. */
static void test_ptx_with_a_vanishing_gamma_leaves_the_ppo_step_unchanged(void **state) {
    (void)state;
    Minibatch a, b;
    minibatch_build(&a);
    minibatch_build(&b);
    Options o = defaults();
    o.lr = 1e-3f;
    o.value_lr = 1e-3f;
    AdamWConfig adam = {0.9f, 0.999f, 1e-8f, 0.0f};
    size_t n = 500, P = a.policy.num_parameters;
    int *data = ptx_stream(n);
    int inputs[4 * PTX_T], targets[4 * PTX_T];
    Ptx ptx = {.coef = 1e-12f, .B = 4, .T = PTX_T, .data = data, .n = n, .inputs = inputs, .targets = targets};
    rng_seed(&ptx.rng, 3);
    LossStats plain = ppo_minibatch(&a.policy, &a.vh, &a.tb, &o, &adam, 1, NULL);
    LossStats mixed = ppo_minibatch(&b.policy, &b.vh, &b.tb, &o, &adam, 1, &ptx);
    assert_float_equal(plain.loss, mixed.loss, 0.0f);
    assert_true(mixed.ptx_loss > 0.0f);  /* the pretraining term did run */
    double worst = 0.0;
    for (size_t i = 0; i < P; i++) {
        double d = fabs(a.policy.params_memory[i] - b.policy.params_memory[i]);
        if (d > worst) worst = d;
    }
    assert_true(worst < 1e-7);
    free(data);
    minibatch_free(&a);
    minibatch_free(&b);
}

static void test_a_place_question_answered_with_a_colour_is_counted_as_the_hack(void **state) {
    (void)state;
    assert_true(place_answered_with_colour("where is the wolf ?", "it is brown ."));
    assert_false(place_answered_with_colour("where is the wolf ?", "it is in the forest ."));
    assert_false(place_answered_with_colour("where is the wolf ?", "it is brown . it is in the forest ."));
    assert_false(place_answered_with_colour("what colour is the wolf ?", "it is brown ."));
    assert_false(place_answered_with_colour("where is the wolf ?", "we can play later ."));
}

/* ---- 6. the program ---- */

/* Tiny files for an end-to-end run: an SFT stand-in, a reward model with a
 * random head, and the prompts. */
typedef struct { char model[256], reward[256], rhead[256], prompts[256], log[256], out[256], hack[256], val[256]; } Files;

static void write_files(Files *f) {
    temp_path(f->model, sizeof f->model, "ppo-sft.bin");
    temp_path(f->reward, sizeof f->reward, "ppo-rm.bin");
    temp_path(f->rhead, sizeof f->rhead, "ppo-rm.head");
    temp_path(f->prompts, sizeof f->prompts, "ppo-prompts-e2e.tsv");
    temp_path(f->log, sizeof f->log, "ppo.tsv");
    temp_path(f->out, sizeof f->out, "ppo-out.bin");
    temp_path(f->hack, sizeof f->hack, "ppo-beta0.bin");
    temp_path(f->val, sizeof f->val, "ppo-val.bin");  /* stands in for out/val.bin, which a clean clone lacks */
    int *val = ptx_stream(2000);
    tokens_save(f->val, val, 2000);
    free(val);
    fx_write_model(f->model, tok.vocab_size, 64);
    fx_write_model(f->reward, tok.vocab_size, 64);
    LinearHead h;
    head_build(&h, 1, 32, 0.5f, 3);
    head_save(&h, f->rhead);
    head_free(&h);
    write_prompts(f->prompts);
}

static void remove_files(const Files *f) {
    const char *all[] = {f->model, f->reward, f->rhead, f->prompts, f->log, f->out, f->hack, f->val};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) remove(all[i]);
    char *h = head_path_for(f->out);
    remove(h);
    free(h);
    h = head_path_for(f->hack);
    remove(h);
    free(h);
}

static int count_lines_starting(const char *text, const char *prefix) {
    int n = 0;
    size_t len = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, prefix, len) == 0) n++;
    }
    return n;
}

/* Field `col` (1-based) of the first line starting with prefix, in a static buffer. */
static const char *log_field(const char *text, const char *prefix, int col) {
    static char field[64];
    const char *p = text;
    size_t len = strlen(prefix);
    while (p && strncmp(p, prefix, len) != 0) p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL;
    assert_non_null(p);
    for (int c = 1; c < col; c++) p = strchr(p, '\t') + 1;
    size_t n = strcspn(p, "\t\n");
    assert_true(n < sizeof field);
    memcpy(field, p, n);
    field[n] = '\0';
    return field;
}

/* --ptx-coef mixes the pretraining loss into every policy step: the run
 * reads the token file, reports the LM loss per iteration, and still
 * writes its log and policy. */
static void test_ppo_fast_with_ptx_reports_the_pretraining_loss(void **state) {
    (void)state;
    Files f;
    write_files(&f);
    char data[256];
    temp_path(data, sizeof data, "ppo-ptx.bin");
    int *t = ptx_stream(300);
    tokens_save(data, t, 300);
    free(t);
    const char *args[] = {"--fast", "--model", f.model, "--reward", f.reward, "--tokenizer", merges,
                          "--prompts", f.prompts, "--log", f.log, "--out", f.out, "--no-hack-run",
                          "--ptx-coef", "1", "--ptx-data", data, "--lm-val", "", "--threads", "1", NULL};
    char *out = NULL, *err = NULL;
    int status = run_program_io("ppo", args, NULL, &out, NULL, &err);
    if (status != 0) print_error("ppo failed (%d): %s\n", status, err);
    assert_int_equal(status, 0);
    assert_non_null(strstr(out, "| ptx LM "));
    assert_null(strstr(out, "language model on held-out"));  /* --lm-val "": not measured */
    assert_true(file_exists(f.out));
    free(out);
    free(err);
    remove(data);
    remove_files(&f);
}

static void test_ppo_fast_runs_both_runs_into_one_log_and_saves_both_policies(void **state) {
    (void)state;
    Files f;
    write_files(&f);
    const char *args[] = {"--fast", "--model", f.model, "--reward", f.reward, "--tokenizer", merges,
                          "--prompts", f.prompts, "--log", f.log, "--out", f.out, "--hack-out", f.hack,
                          "--lm-val", f.val, "--threads", "1", NULL};
    char *out = NULL, *err = NULL;
    int status = run_program_io("ppo", args, NULL, &out, NULL, &err);
    if (status != 0) print_error("ppo failed (%d): %s\n", status, err);
    assert_int_equal(status, 0);
    free(err);
    /* each run reports what it cost the language model on held-out text */
    assert_int_equal(count_lines_starting(out, "[beta0.3]   language model on held-out pretraining text"), 1);
    assert_int_equal(count_lines_starting(out, "[beta0]   language model on held-out pretraining text"), 1);
    assert_null(strstr(out, "nan"));
    free(out);
    size_t len;
    char *log = read_file_or_die(f.log, &len);
    assert_true(strncmp(log, "run\titer\tbeta\trm_score\trule_score\tkl_k1\tkl_k3", 44) == 0);
    /* --fast: 3 iterations, so rows 0..3 for each run */
    assert_int_equal(count_lines_starting(log, "beta0.3\t"), 4);
    assert_int_equal(count_lines_starting(log, "beta0\t"), 4);
    /* both runs start from the SFT model itself: at iteration 0 the policy is
     * the reference, and the KL (column 6) is exactly 0 */
    assert_string_equal(log_field(log, "beta0.3\t0\t", 6), "0.0000");
    assert_string_equal(log_field(log, "beta0\t0\t", 6), "0.0000");
    free(log);
    GPT m;
    gpt_load(&m, f.out);
    gpt_free(&m);
    gpt_load(&m, f.hack);
    LinearHead vh;
    char *h = head_path_for(f.hack);
    head_load(&vh, h, m.config.C);
    assert_int_equal(vh.K, 1);
    free(h);
    head_free(&vh);
    gpt_free(&m);
    remove_files(&f);
}

static void expect_error(const char *const *args, const char *phrase) {
    expect_program_refuses("ppo", (const char **)args, phrase, NULL);
}

static void test_ppo_refuses_bad_input_with_one_line(void **state) {
    (void)state;
    Files f;
    write_files(&f);
    /* every output goes into build/tmp: a clean clone has no out/ folder, and
     * ppo refuses a missing output folder before it reads any input */
    const char *missing_rm[] = {"--fast", "--model", f.model, "--reward", "build/tmp/no-such-rm.bin",
                                "--tokenizer", merges, "--prompts", f.prompts, "--log", f.log,
                                "--out", f.out, "--hack-out", f.hack, NULL};
    expect_error(missing_rm, "no-such-rm.bin");
    const char *missing_model[] = {"--fast", "--model", "build/tmp/no-such-sft.bin", "--reward", f.reward,
                                   "--tokenizer", merges, "--prompts", f.prompts, "--log", f.log, "--out", f.out,
                                   "--hack-out", f.hack, NULL};
    expect_error(missing_model, "no-such-sft.bin");
    const char *missing_ptx[] = {"--fast", "--model", f.model, "--reward", f.reward, "--tokenizer", merges,
                                 "--prompts", f.prompts, "--log", f.log, "--out", f.out, "--hack-out", f.hack,
                                 "--lm-val", f.val, "--ptx-coef", "1", "--ptx-data", "build/tmp/no-such-tokens.bin",
                                 NULL};
    expect_error(missing_ptx, "no-such-tokens.bin");
    const char *missing_val[] = {"--fast", "--model", f.model, "--reward", f.reward, "--tokenizer", merges,
                                 "--prompts", f.prompts, "--log", f.log, "--out", f.out, "--hack-out", f.hack,
                                 "--lm-val", "build/tmp/no-such-val.bin", NULL};
    expect_error(missing_val, "no-such-val.bin");
    const char *bad_flag[] = {"--fast", "--no-such-flag", NULL};
    expect_error(bad_flag, "--no-such-flag");
    const char *bad_split[] = {"--fast", "--rollouts", "10", "--minibatches", "4", NULL};
    expect_error(bad_split, "multiple");
    FILE *p = fopen_or_die(f.prompts, "w");
    fprintf(p, "set\tprompt\nppo\twhere is the owl ?\ntrain\twhat colour is the fox ?\n");
    fclose(p);
    const char *bad_set[] = {"--fast", "--model", f.model, "--reward", f.reward, "--tokenizer", merges,
                             "--prompts", f.prompts, "--log", f.log, "--out", f.out, "--hack-out", f.hack, NULL};
    expect_error(bad_set, ":3: set 'train'");
    /* a reward model of another vocabulary */
    fx_write_model(f.reward, tok.vocab_size + 4, 64);
    write_prompts(f.prompts);
    expect_error(bad_set, "do not belong together");
    /* either policy's path into a folder that does not exist: refused before
     * the first rollout, so not even the log is written */
    remove(f.log);
    const char *nodir[] = {"--fast", "--model", f.model, "--reward", f.reward, "--tokenizer", merges,
                           "--prompts", f.prompts, "--log", f.log, "--out", f.out,
                           "--hack-out", "build/tmp/no-such-folder/ppo_beta0.bin", NULL};
    expect_error(nodir, "folder build/tmp/no-such-folder does not exist");
    assert_false(file_exists(f.log));
    assert_false(file_exists(f.out));
    remove_files(&f);
}

/* The beta = 0 run reads --model again after the first run has written
 * --out: were they one file, it would start from the first run's policy.
 * The flag table refuses every output that is also an input (or another
 * output) before anything is read or written. */
static void test_ppo_refuses_an_output_that_is_also_an_input(void **state) {
    (void)state;
    Files f;
    write_files(&f);
    size_t before_len, after_len;
    char *before = read_file_or_die(f.model, &before_len);
    const char *out_is_model[] = {"--fast", "--model", f.model, "--reward", f.reward, "--tokenizer", merges,
                                  "--prompts", f.prompts, "--log", f.log, "--out", f.model, "--hack-out", f.hack, NULL};
    expect_error(out_is_model, "is also --model");
    const char *hack_is_model[] = {"--fast", "--model", f.model, "--reward", f.reward, "--tokenizer", merges,
                                   "--prompts", f.prompts, "--log", f.log, "--out", f.out, "--hack-out", f.model, NULL};
    expect_error(hack_is_model, "is also --model");
    const char *out_is_reward[] = {"--fast", "--model", f.model, "--reward", f.reward, "--tokenizer", merges,
                                   "--prompts", f.prompts, "--log", f.log, "--out", f.reward, "--hack-out", f.hack,
                                   NULL};
    expect_error(out_is_reward, "is also --reward");
    const char *out_is_hack[] = {"--fast", "--model", f.model, "--reward", f.reward, "--tokenizer", merges,
                                 "--prompts", f.prompts, "--log", f.log, "--out", f.hack, "--hack-out", f.hack, NULL};
    expect_error(out_is_hack, "is also --hack-out");
    char *after = read_file_or_die(f.model, &after_len);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len);
    assert_false(file_exists(f.log));
    assert_false(file_exists(f.out));
    free(before);
    free(after);
    remove_files(&f);
}

/* A policy whose checkpoint records another tokenizer than --tokenizer
 * (the same vocabulary size) is refused: its token ids mean other words. */
static void test_ppo_refuses_a_model_trained_with_another_tokenizer(void **state) {
    (void)state;
    Files f;
    write_files(&f);
    GPT m;
    gpt_load(&m, f.model);
    m.tokenizer_id = tokenizer_id(&tok) ^ 0x5a5a5a5au;
    gpt_save(&m, f.model);
    gpt_free(&m);
    const char *args[] = {"--fast", "--model", f.model, "--reward", f.reward, "--tokenizer", merges,
                          "--prompts", f.prompts, "--log", f.log, "--out", f.out, "--hack-out", f.hack, NULL};
    expect_error(args, "another tokenizer");
    assert_false(file_exists(f.log));
    remove_files(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_surrogate_gradient_is_zero_above_the_band_for_a_positive_advantage),
        cmocka_unit_test(test_surrogate_gradient_is_zero_below_the_band_for_a_negative_advantage),
        cmocka_unit_test(test_surrogate_gradient_is_the_unclipped_one_inside_the_band),
        cmocka_unit_test(test_value_clip_stops_the_gradient_outside_the_band_and_not_inside),
        cmocka_unit_test(test_gae_matches_a_hand_worked_three_step_example),
        cmocka_unit_test(test_gae_with_lambda_one_and_gamma_one_is_return_minus_value),
        cmocka_unit_test(test_kl_is_zero_when_the_policy_equals_the_reference),
        cmocka_unit_test(test_k1_and_k3_both_average_to_the_exact_kl_on_a_tiny_case),
        cmocka_unit_test(test_the_score_lands_on_the_last_real_token_not_on_padding),
        cmocka_unit_test(test_a_response_without_end_of_text_gets_the_penalty),
        cmocka_unit_test(test_whitened_advantages_have_mean_zero_and_unit_std),
        cmocka_unit_test(test_ppo_loss_gradient_matches_finite_differences),
        cmocka_unit_test(test_a_ppo_step_lowers_the_loss_of_its_minibatch),
        cmocka_unit_test(test_ptx_adds_gamma_times_the_lm_gradient_to_the_ppo_gradient),
        cmocka_unit_test(test_ptx_with_a_vanishing_gamma_leaves_the_ppo_step_unchanged),
        cmocka_unit_test(test_a_place_question_answered_with_a_colour_is_counted_as_the_hack),
        cmocka_unit_test(test_ppo_fast_runs_both_runs_into_one_log_and_saves_both_policies),
        cmocka_unit_test(test_ppo_fast_with_ptx_reports_the_pretraining_loss),
        cmocka_unit_test(test_ppo_refuses_bad_input_with_one_line),
        cmocka_unit_test(test_ppo_refuses_an_output_that_is_also_an_input),
        cmocka_unit_test(test_ppo_refuses_a_model_trained_with_another_tokenizer),
    };
    return cmocka_run_group_tests_name("ppo", tests, fx_group_setup, fx_group_teardown);
}
