/* test_reward.c — what rung 5 (the reward model) promises, one property per
 * test. The rung is included whole (TESTING hides its main), so the tests
 * call ranking_loss, ranking_step and load_rankings directly.
 *
 *   1. The pairwise loss -log sigma(r_w - r_l): log 2 when the rewards tie,
 *      falling as r_w - r_l grows; its hand-written gradient matches finite
 *      differences, on the rewards and then through the head and the trunk
 *      of a tiny model.
 *   2. InstructGPT's batching: the K responses of one prompt as ONE batch
 *      element give the same loss and gradient as the C(K,2) pairs taken one
 *      by one and averaged.
 *   3. The program: `reward train --fast` on tiny files trains, writes the
 *      model and its head with a normalised scale; `reward score` prints a
 *      score; bad input (a ranking with one response, a missing column or
 *      file, a checkpoint of another vocabulary, an unknown flag) ends in
 *      one "error: ..." line naming the file and line, exit status 1, and no
 *      model written.
 *   4. Nothing lost, nothing hung: `reward train` killed with kill -9
 *      leaves the previous log as it was; an output that cannot be written
 *      (a folder, a device, /proc, a folder that is a file, the --model
 *      itself, a head that would land on the log), a FIFO as an input, or a
 *      checkpoint of another tokenizer is refused before any work, in one
 *      line, with the previous log kept; `reward score` refuses a reward
 *      model of another tokenizer.
 */
#include "testutil.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../src/reward.c"
#pragma GCC diagnostic pop

#include "chat_fixture.h"
#include "failing_runs.h"

/* ---- 1. the pairwise loss ---- */

static void test_pairwise_loss_is_log2_when_rewards_tie(void **state) {
    (void)state;
    for (int K = 2; K <= 5; K++) {
        float r[5] = {0.3f, 0.3f, 0.3f, 0.3f, 0.3f}, dr[5];
        float loss = ranking_loss(r, K, dr);
        assert_float_equal(loss, logf(2.0f), 1e-6f);
        /* each tied pair pulls with sigma(0) = 1/2, over C(K,2) pairs: response
         * i is the winner of K-1-i pairs and the loser of i */
        float P = 0.5f * K * (K - 1);
        for (int i = 0; i < K; i++) assert_float_equal(dr[i], -0.5f * (K - 1 - i) / P + 0.5f * i / P, 1e-6f);
    }
}

static void test_pairwise_loss_falls_as_the_winners_margin_grows(void **state) {
    (void)state;
    float prev = INFINITY, dr[2];
    for (int k = -8; k <= 8; k++) {
        float d = 0.5f * k, r[2] = {d, 0.0f};
        float loss = ranking_loss(r, 2, dr);
        assert_float_equal(loss, (float)log1p(exp(-(double)d)), 1e-6f);  /* -log sigma(d) */
        assert_true(loss < prev);
        prev = loss;
        /* dL/dr_w = -(1 - sigma(d)), dL/dr_l = +(1 - sigma(d)) */
        float pull = (float)(1.0 - 1.0 / (1.0 + exp(-(double)d)));
        assert_float_equal(dr[0], -pull, 1e-6f);
        assert_float_equal(dr[1], pull, 1e-6f);
    }
    /* and stays finite far out, where a naive log(sigmoid) would not */
    float r[2] = {-100.0f, 100.0f};
    assert_float_equal(ranking_loss(r, 2, dr), 200.0f, 1e-3f);
    r[0] = 100.0f;
    r[1] = -100.0f;
    assert_true(ranking_loss(r, 2, dr) >= 0.0f && ranking_loss(r, 2, dr) < 1e-6f);
}

static void test_pairwise_loss_gradient_matches_finite_differences_on_the_rewards(void **state) {
    (void)state;
    float r[5] = {0.4f, -1.2f, 0.9f, 0.1f, -0.3f}, dr[5], scratch[5];
    ranking_loss(r, 5, dr);
    float numeric[5];
    for (int i = 0; i < 5; i++) {
        double h = 1e-3, r0 = r[i];
        r[i] = (float)(r0 + h);
        double lp = ranking_loss(r, 5, scratch);
        r[i] = (float)(r0 - h);
        double lm = ranking_loss(r, 5, scratch);
        r[i] = (float)r0;
        numeric[i] = (float)((lp - lm) / (2 * h));
    }
    check_close("dL/dr vs finite differences", dr, numeric, 5, 1e-3, 1e-4);
}

/* ---- a tiny reward model and tiny rankings, in tokens ---- */

typedef struct {
    RewardModel rm;
    Ranking r[2];
    ChatBatch bt;
    int eot;
} Tiny;

/* Two prompts, with K = 3 and K = 4 responses (K may differ per prompt). */
static void tiny_build(Tiny *t, uint64_t seed) {
    memset(t, 0, sizeof *t);
    gpt_build(&t->rm.gpt, gpt_config(64, tok.vocab_size, 2, 2, 16), seed);
    fx_randomize_params(&t->rm.gpt, seed + 1);
    head_build(&t->rm.head, 1, 16, 0.0f, 0);
    test_seed(seed + 2);
    for (int c = 0; c < 16; c++) t->rm.head.w[c] = test_uniform(-0.5f, 0.5f);
    t->rm.head.b[0] = 0.1f;
    static const char *p[2] = {"what colour is the fox ?", "where is the owl ?"};
    static const char *resp[2][4] = {
        {"it is red .", "it is red . it is red .", "it is blue .", NULL},
        {"it is in the barn .", "it is in the barn and it is in the barn .", "it is in the park .",
         "we can play later . let us talk about cake ."}};
    for (int i = 0; i < 2; i++) {
        Ranking *r = &t->r[i];
        r->prompt = (char *)p[i];
        r->K = i == 0 ? 3 : 4;
        r->responses = (char **)resp[i];
        r->chats = malloc_or_die(sizeof(Chat) * 4, "chats");
        for (int k = 0; k < r->K; k++) r->chats[k] = chat_encode_pair(&tok, p[i], resp[i][k]);
    }
    t->eot = tokenizer_special_id(&tok, TOK_EOT);
}

static void tiny_free(Tiny *t) {
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < t->r[i].K; k++) chat_free(&t->r[i].chats[k]);
        free(t->r[i].chats);
    }
    chat_batch_free(&t->bt);
    reward_model_free(&t->rm);
}

static RankStats tiny_step(Tiny *t, int backward) {
    const Ranking *rk[2] = {&t->r[0], &t->r[1]};
    return ranking_step(&t->rm, rk, 2, &t->bt, t->eot, backward, NULL, 0, NULL);
}

/* ---- 1 (cont.). the gradient through head and trunk ---- */

/* Central differences of the batch loss that ranking_step reports, against
 * the gradient it leaves in the trunk and the head. h = 1e-2, atol 2e-4,
 * rtol 2e-2, for the reasons test_gpt1.c gives: float32 rounding of a loss
 * of order 1 is ~1e-7, /2h ~5e-6; the truncation error h^2/6 f''' ~1e-5. A
 * wrong gradient (a sign, the 1/C(K,2), the mean over prompts, the head read
 * at the wrong row) is off by its own size. */
#define GC_H 1e-2f
#define GC_RTOL 2e-2
#define GC_ATOL 2e-4

static float numeric_derivative(Tiny *t, float *x) {
    float x0 = *x, xp = x0 + GC_H, xm = x0 - GC_H;
    *x = xp;
    double lp = tiny_step(t, 0).loss;
    *x = xm;
    double lm = tiny_step(t, 0).loss;
    *x = x0;
    return (float)((lp - lm) / ((double)xp - (double)xm));
}

static void test_ranking_gradient_matches_finite_differences_through_head_and_trunk(void **state) {
    (void)state;
    Tiny t;
    tiny_build(&t, 31);
    RankStats st = tiny_step(&t, 1);
    assert_true(st.loss > 0.05f);
    GPT *m = &t.rm.gpt;
    float *grads = malloc_or_die(sizeof(float) * m->num_parameters, "grads");
    memcpy(grads, m->grads_memory, sizeof(float) * m->num_parameters);
    float head_grads[17];
    memcpy(head_grads, t.rm.head.dw, sizeof head_grads);

    /* the whole head */
    float numeric[17];
    for (int i = 0; i < 17; i++) numeric[i] = numeric_derivative(&t, t.rm.head.w + i);
    check_close("ranking loss: d/d head w, b vs finite differences", head_grads, numeric, 17, GC_RTOL, GC_ATOL);

    /* every trunk tensor: its largest gradient and two random elements */
    test_seed(77);
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        size_t off = fx_param_offset(m, i), n = m->param_sizes[i], worst = 0;
        if (i == P_WTE) n = (size_t)m->config.V * m->config.C;
        if (i == P_WPE) n = (size_t)t.bt.T * m->config.C;
        for (size_t j = 0; j < n; j++) if (fabsf(grads[off + j]) > fabsf(grads[off + worst])) worst = j;
        size_t sample[3] = {worst, (size_t)test_below((int)n), (size_t)test_below((int)n)};
        float analytic[3], num[3];
        for (int s = 0; s < 3; s++) {
            analytic[s] = grads[off + sample[s]];
            num[s] = numeric_derivative(&t, m->params_memory + off + sample[s]);
        }
        char name[96];
        snprintf(name, sizeof name, "ranking loss: d/d trunk tensor %d vs finite differences", i);
        check_close(name, analytic, num, 3, GC_RTOL, GC_ATOL);
    }
    free(grads);
    tiny_free(&t);
}

/* ---- 2. K responses as one batch element ---- */

/* The prompt with K = 4 responses as one element, against its C(4,2) = 6
 * pairs, each a ranking of K = 2 of its own, averaged: the same loss, and
 * the same gradient in the head and the trunk. */
static void test_k_responses_in_one_element_give_the_loss_of_their_pairs_averaged(void **state) {
    (void)state;
    Tiny t;
    tiny_build(&t, 41);
    const Ranking *one[1] = {&t.r[1]};
    RankStats whole = ranking_step(&t.rm, one, 1, &t.bt, t.eot, 1, NULL, 0, NULL);
    GPT *m = &t.rm.gpt;
    size_t np = m->num_parameters;
    float *g_whole = malloc_or_die(sizeof(float) * np, "grads");
    memcpy(g_whole, m->grads_memory, sizeof(float) * np);
    float h_whole[17];
    memcpy(h_whole, t.rm.head.dw, sizeof h_whole);

    float *g_pairs = calloc_or_die(np, sizeof(float), "grads");
    float h_pairs[17] = {0};
    double loss_pairs = 0.0;
    int npairs = 0;
    /* the pairs as --pairs-apart makes them: (r1,r2) (r1,r3) ... (r3,r4), best first */
    RankingSet set = {1, &t.r[1], 4};
    RankingSet pairs = split_into_pairs(&set);
    for (int p = 0; p < pairs.n; p++) {
        assert_int_equal(pairs.r[p].K, 2);
        const Ranking *pp[1] = {&pairs.r[p]};
        RankStats st = ranking_step(&t.rm, pp, 1, &t.bt, t.eot, 1, NULL, 0, NULL);
        loss_pairs += st.loss;
        for (size_t k = 0; k < np; k++) g_pairs[k] += m->grads_memory[k] / 6.0f;
        for (int k = 0; k < 17; k++) h_pairs[k] += t.rm.head.dw[k] / 6.0f;
        npairs++;
    }
    /* the first pair is (r1, r2), the last (r3, r4) */
    assert_memory_equal(pairs.r[0].chats[1].tokens, t.r[1].chats[1].tokens, sizeof(int) * (size_t)t.r[1].chats[1].len);
    assert_memory_equal(pairs.r[5].chats[0].tokens, t.r[1].chats[2].tokens, sizeof(int) * (size_t)t.r[1].chats[2].len);
    free_pair_set(&pairs);
    assert_int_equal(npairs, 6);
    loss_pairs /= npairs;
    print_message("one element: loss %.7f; six pairs averaged: %.7f\n", (double)whole.loss, loss_pairs);
    assert_float_equal(whole.loss, (float)loss_pairs, 1e-5f);
    check_close("head gradient: one element vs pairs averaged", h_whole, h_pairs, 17, 1e-4, 1e-6);
    check_close("trunk gradient: one element vs pairs averaged", g_whole, g_pairs, np, 1e-3, 1e-6);
    /* and it took 4 forward passes, not 12 */
    assert_int_equal(whole.pairs, 6);
    free(g_whole);
    free(g_pairs);
    tiny_free(&t);
}

/* A batch of prompts: its loss is the mean of the prompts' losses. */
static void test_a_batch_loss_is_the_mean_over_its_prompts(void **state) {
    (void)state;
    Tiny t;
    tiny_build(&t, 51);
    float both = tiny_step(&t, 0).loss;
    const Ranking *a[1] = {&t.r[0]}, *b[1] = {&t.r[1]};
    float la = ranking_step(&t.rm, a, 1, &t.bt, t.eot, 0, NULL, 0, NULL).loss;
    float lb = ranking_step(&t.rm, b, 1, &t.bt, t.eot, 0, NULL, 0, NULL).loss;
    assert_float_equal(both, 0.5f * (la + lb), 1e-5f);
    tiny_free(&t);
}

/* With every reward equal (a zero head), a pair is a coin toss and the top
 * is shared: accuracy 1/2, top-1 1/K, not the 1 that "r1 is the first
 * maximum" would give. */
static void test_tied_rewards_count_as_chance_in_accuracy_and_top1(void **state) {
    (void)state;
    Tiny t;
    tiny_build(&t, 61);
    memset(t.rm.head.w, 0, sizeof(float) * 17);
    RankStats st = tiny_step(&t, 0);
    assert_int_equal(st.pairs, 3 + 6);
    assert_float_equal(st.right / st.pairs, 0.5, 1e-12);
    assert_float_equal(st.top1, 1.0 / 3 + 1.0 / 4, 1e-12);
    assert_float_equal(st.loss, logf(2.0f), 1e-6f);
    tiny_free(&t);
}

/* ---- 3. the program ---- */

typedef struct {
    char model[256], train[256], test[256], out[256], head[256], log[256], bad[256];
} Files;

static void make_files(Files *f, const char *tag) {
    char name[64];
#define FILE_NAME(field, suffix) \
    snprintf(name, sizeof name, "%s-" suffix, tag); \
    temp_path(f->field, sizeof f->field, name);
    FILE_NAME(model, "sft.bin")
    FILE_NAME(train, "prefs_train.tsv")
    FILE_NAME(test, "prefs_test.tsv")
    FILE_NAME(out, "reward.bin")
    FILE_NAME(head, "reward.head")
    FILE_NAME(log, "reward.tsv")
    FILE_NAME(bad, "bad.tsv")
#undef FILE_NAME
    fx_write_model(f->model, tok.vocab_size, 128);
    fx_write_prefs(f->train, 0, 12);
    fx_write_prefs(f->test, 20, 4);
}

static void remove_files(const Files *f) {
    remove(f->model);
    remove(f->train);
    remove(f->test);
    remove(f->out);
    remove(f->head);
    remove(f->log);
    remove(f->bad);
}

static void run_ok(const char **args) { expect_program_ok("reward", args); }

static void run_refuses(const char **args, const char *phrase, const char *also) {
    expect_program_refuses("reward", args, phrase, also);
}

static void test_reward_train_fast_writes_a_normalised_model_that_reward_score_reads(void **state) {
    (void)state;
    Files f;
    make_files(&f, "ok");
    const char *args[] = {"train", "--fast", "--model", f.model, "--tokenizer", merges, "--train", f.train,
                          "--test", f.test, "--out", f.out, "--log", f.log, "--epochs", "3", "--lr", "1e-3",
                          "--threads", "1", NULL};
    run_ok(args);
    Tsv tsv;
    tsv_read(&tsv, f.log, 9);
    /* step 0, then 3 epochs of ceil(12 / 8) = 2 steps */
    assert_int_equal(tsv.nrows, 1 + 6);
    /* every reward starts equal (a zero head): the held-out loss is log 2 */
    assert_float_equal(atof(tsv.rows[0].fields[5]), log(2.0), 1e-4);
    double first = atof(tsv.rows[1].fields[2]), last = atof(tsv.rows[tsv.nrows - 1].fields[2]);
    print_message("ranking loss %.4f -> %.4f\n", first, last);
    assert_true(last < first);
    tsv_free(&tsv);

    RewardModel rm;
    reward_model_load(&rm, f.out);
    assert_int_equal(rm.head.K, 1);
    assert_true(rm.head.gain > 0.0f && rm.head.gain != 1.0f);  /* normalised */
    reward_model_free(&rm);

    /* the ablation: 12 rankings of K = 4 become 72 pairs, 9 steps of 8 */
    const char *apart[] = {"train", "--fast", "--pairs-apart", "--model", f.model, "--tokenizer", merges,
                           "--train", f.train, "--test", f.test, "--out", f.out, "--log", f.log,
                           "--threads", "1", NULL};
    run_ok(apart);
    tsv_read(&tsv, f.log, 9);
    assert_int_equal(tsv.nrows, 1 + 9);
    tsv_free(&tsv);

    const char *score_args[] = {"score", "--model", f.out, "--tokenizer", merges, "--prompt",
                                "what colour is the fox ?", "--response", "it is red .", NULL};
    run_ok(score_args);
    remove_files(&f);
}

static void test_reward_refuses_bad_input_with_one_line(void **state) {
    (void)state;
    Files f;
    make_files(&f, "bad");
    const char *base[] = {"train", "--fast", "--model", f.model, "--tokenizer", merges, "--train", f.bad,
                          "--test", f.test, "--out", f.out, "--log", f.log, "--threads", "1", NULL};

    /* a ranking with one response (K < 2), on line 3 */
    FILE *fp = fopen_or_die(f.bad, "w");
    fprintf(fp, "prompt\tr1\tr2\nwhat colour is the fox ?\tit is red .\tit is blue .\nwhere is the owl ?\tit is in the barn .\n");
    fclose(fp);
    char where[300];
    snprintf(where, sizeof where, "%s:3", f.bad);
    run_refuses(base, where, "at least 2 responses");

    /* a missing column: a row with the prompt only */
    fp = fopen_or_die(f.bad, "w");
    fprintf(fp, "prompt\tr1\tr2\nwhat colour is the fox ?\n");
    fclose(fp);
    snprintf(where, sizeof where, "%s:2", f.bad);
    run_refuses(base, where, "fields");

    /* an empty response */
    fp = fopen_or_die(f.bad, "w");
    fprintf(fp, "prompt\tr1\tr2\nwhat colour is the fox ?\tit is red .\t\n");
    fclose(fp);
    run_refuses(base, where, "response 2 is empty");

    /* a missing file */
    remove(f.bad);
    run_refuses(base, f.bad, "cannot open");

    /* an output into a folder that does not exist: refused before training,
     * so not even the log is written */
    remove(f.log);
    const char *nodir[] = {"train", "--fast", "--model", f.model, "--tokenizer", merges, "--train", f.train,
                           "--test", f.test, "--out", "build/tmp/no-such-folder/rm.bin", "--log", f.log, NULL};
    run_refuses(nodir, "folder build/tmp/no-such-folder does not exist", NULL);
    assert_false(file_exists(f.log));

    /* a checkpoint whose vocabulary is not the tokenizer's */
    fx_write_model(f.model, tok.vocab_size + 5, 128);
    const char *vocab[] = {"train", "--model", f.model, "--tokenizer", merges, "--train", f.train,
                           "--test", f.test, "--out", f.out, "--log", f.log, NULL};
    run_refuses(vocab, f.model, "vocabulary");

    /* flags */
    const char *unknown[] = {"train", "--nonsense", NULL};
    run_refuses(unknown, "unknown flag --nonsense", NULL);
    const char *wrong_mode[] = {"score", "--epochs", "3", NULL};
    run_refuses(wrong_mode, "unknown flag --epochs for reward score", NULL);
    const char *no_prompt[] = {"score", "--response", "it is red .", NULL};
    run_refuses(no_prompt, "needs --prompt", NULL);
    const char *no_command[] = {"rank", NULL};
    run_refuses(no_command, "unknown command 'rank'", NULL);

    /* nothing was written by any of these */
    assert_false(file_exists(f.out));
    assert_false(file_exists(f.head));
    remove_files(&f);
}


/* ---- 4. nothing lost, nothing hung ---- */

static void test_reward_train_killed_mid_run_leaves_the_previous_log_intact(void **state) {
    (void)state;
    Files f;
    make_files(&f, "kill");
    const char *args[] = {"train", "--fast", "--model", f.model, "--tokenizer", merges, "--train", f.train,
                          "--test", f.test, "--out", f.out, "--log", f.log, "--epochs", "100000",
                          "--eval-every", "1000000", "--batch", "2", "--threads", "1", NULL};
    expect_log_kept_after_kill("reward", args, f.log, 4);  /* the header, step 0 and two steps */
    assert_false(file_exists(f.out));
    assert_false(file_exists(f.head));
    remove_files(&f);
}

/* f.model rewritten to record a tokenizer other than the fixture's (same size). */
static void record_another_tokenizer(const char *path) {
    GPT m;
    gpt_load(&m, path);
    m.tokenizer_id = fx_tok_id ^ 0x5a5a5a5au;
    gpt_save(&m, path);
    gpt_free(&m);
}

static void test_reward_refuses_an_output_it_cannot_write_or_an_input_that_is_not_a_file_before_any_work(void **state) {
    (void)state;
    Files f;
    make_files(&f, "outs");
    char fifo[300], under_file[300], other_tok[300], head_log[300], head_out[300];
    temp_path(fifo, sizeof fifo, "reward-fifo");
    remove(fifo);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    snprintf(under_file, sizeof under_file, "%s/reward.bin", f.train);
    temp_path(other_tok, sizeof other_tok, "reward-other-tok.bin");
    fx_write_model(other_tok, tok.vocab_size, 128);
    record_another_tokenizer(other_tok);
    temp_path(head_log, sizeof head_log, "reward-x.head");   /* the log where --out's head would go */
    temp_path(head_out, sizeof head_out, "reward-x.bin");
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
        const char *args[] = {"train", "--fast", "--model", f.model, "--tokenizer", merges, "--train", f.train,
                              "--test", f.test, "--out", f.out, "--log", f.log, "--threads", "1", NULL};
        for (int a = 0; args[a]; a++) if (strcmp(args[a], cases[i].flag) == 0) args[a + 1] = cases[i].value;
        const char *log = strcmp(cases[i].flag, "--log") == 0 ? f.bad : f.log;  /* a log that must be kept */
        expect_refused_before_work("reward", args, cases[i].phrase, log);
    }
    const char *head_on_log[] = {"train", "--fast", "--model", f.model, "--tokenizer", merges, "--train", f.train,
                                 "--test", f.test, "--out", head_out, "--log", head_log, "--threads", "1", NULL};
    expect_refused_before_work("reward", head_on_log, "would write its head to", head_log);
    assert_false(file_exists(f.out));
    assert_false(file_exists(head_out));

    /* reward score: a reward model (with its head) of another tokenizer */
    fx_write_model(f.out, tok.vocab_size, 128);
    record_another_tokenizer(f.out);
    LinearHead h;
    head_build(&h, 1, 32, 0.1f, 1);
    head_save(&h, f.head);
    head_free(&h);
    const char *score_args[] = {"score", "--model", f.out, "--tokenizer", merges, "--prompt", "where is the owl ?",
                                "--response", "it is in the barn .", NULL};
    expect_refused_before_work("reward", score_args, "was trained with another tokenizer", f.bad);
    remove(fifo);
    remove(other_tok);
    remove(head_log);
    remove_files(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairwise_loss_is_log2_when_rewards_tie),
        cmocka_unit_test(test_pairwise_loss_falls_as_the_winners_margin_grows),
        cmocka_unit_test(test_pairwise_loss_gradient_matches_finite_differences_on_the_rewards),
        cmocka_unit_test(test_ranking_gradient_matches_finite_differences_through_head_and_trunk),
        cmocka_unit_test(test_k_responses_in_one_element_give_the_loss_of_their_pairs_averaged),
        cmocka_unit_test(test_a_batch_loss_is_the_mean_over_its_prompts),
        cmocka_unit_test(test_tied_rewards_count_as_chance_in_accuracy_and_top1),
        cmocka_unit_test(test_reward_train_fast_writes_a_normalised_model_that_reward_score_reads),
        cmocka_unit_test(test_reward_refuses_bad_input_with_one_line),
        cmocka_unit_test(test_reward_train_killed_mid_run_leaves_the_previous_log_intact),
        cmocka_unit_test(test_reward_refuses_an_output_it_cannot_write_or_an_input_that_is_not_a_file_before_any_work),
    };
    return cmocka_run_group_tests_name("reward", tests, fx_group_setup, fx_group_teardown);
}
