/* test_gpt1.c — what rung 1 (GPT-1) promises, checked one property per test.
 *
 * The rung is included whole (TESTING hides its main), so the tests can call
 * its static functions: make_batch, finetune_step, accuracy, parse_flags.
 *
 *   1. The gradient of the fine-tuning objective L3 = L2 + lambda L1 (GPT-1
 *      §3.2), as finetune_step computes it, matches central finite
 *      differences of the L3 it reports: for a sample of every trunk tensor
 *      and for ALL of the classifier head. With lambda = 0 the LM term is
 *      gone from the gradient, not merely small.
 *   2. The input transformation (§3.3): the classifier reads the hidden state
 *      at the extract token and nowhere else; the padding after it changes
 *      nothing; make_batch's LM weights cover exactly the text tokens.
 *   3. The programs learn: a few pre-training steps lower the loss on a tiny
 *      repetitive corpus; a few fine-tuning steps separate "yes" from "no".
 *   4. Bad input ends in one "error: ..." line, exit status 1, and no
 *      checkpoint written; and --fast never overrides an explicit flag.
 *   5. `gpt1 eval` prints the validation loss pretrain logged, digit for
 *      digit; `pretrain --init` continues any llm.c-layout checkpoint; a
 *      checkpoint of another vocabulary or tokenizer is refused by both.
 *   6. No output overwrites an input (finetune --out = --model), and a log
 *      that cannot be written is refused before any work.
 *   7. A run killed with SIGKILL keeps the previous log and its last
 *      checkpoint; --resume continues both to the uninterrupted run's
 *      parameters, bit for bit, and its log, row for row.
 *
 * The group setup writes a small corpus, trains a 300-token BPE tokenizer on
 * it and encodes it, through the library (the tokenizer program is tested in
 * test_tokenizer.c); the program runs use build/gpt1 with --threads 1.
 *
 * Random test data comes from the test's own splitmix64, so a bug in the
 * module's Rng cannot hide a bug in the rung.
 */
#include "testutil.h"
#include <signal.h>

/* pretrain, finetune and eval are only called from the main that
 * TESTING hides; some are unused here, and that is no reason for a warning. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../src/gpt1.c"
#pragma GCC diagnostic pop

/* The group's shared files (see group_setup): a tokenizer and token files. */
typedef struct {
    char train_bin[256], val_bin[256], merges[256];
    int V;
} Fixture;

static Fixture fx;

/* ---- a tiny model, a tiny head, a tiny batch ---- */

static const char *const param_names[NUM_PARAM_TENSORS] = {
    "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb",
};

static size_t param_offset(const GPT *m, int i) {
    size_t off = 0;
    for (int k = 0; k < i; k++) off += m->param_sizes[k];
    return off;
}

/* As in test_gpt.c: every parameter random and of order 1 instead of GPT-2's
 * N(0, 0.02), so that attention, GELU and both softmaxes are far from linear
 * and a gradient check sees every term. Padded wte rows stay zero. */
static void randomize_params(GPT *m, uint64_t seed) {
    test_seed(seed);
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        float *w = m->params_memory + param_offset(m, i);
        float lo, hi;
        switch (i) {
        case P_WTE: case P_WPE: lo = -1.0f; hi = 1.0f; break;
        case P_QKVW: case P_ATTPROJW: case P_FCW: lo = -0.5f; hi = 0.5f; break;
        case P_FCPROJW: lo = -0.25f; hi = 0.25f; break;
        case P_LN1W: case P_LN2W: case P_LNFW: lo = 0.7f; hi = 1.3f; break;
        default: lo = -0.2f; hi = 0.2f;
        }
        size_t n = i == P_WTE ? (size_t)m->config.V * m->config.C : m->param_sizes[i];
        for (size_t j = 0; j < n; j++) w[j] = test_uniform(lo, hi);
    }
}

/* A vocabulary of 24 tokens, the top three playing the special tokens. */
enum { GV = 24, GMAXT = 16, GL = 2, GNH = 2, GC = 16, GK = 3, GB = 3 };
enum { START = GV - 3, EXTRACT = GV - 2, PAD = GV - 1 };

/* Three examples of different lengths (<|start|> text <|extract|>): 4, 2 and
 * 6 text tokens, so the batch is 8 wide and examples 0 and 1 are padded. */
static int ex0_tokens[] = {START, 3, 7, 7, 1, EXTRACT};
static int ex1_tokens[] = {START, 5, 2, EXTRACT};
static int ex2_tokens[] = {START, 9, 4, 11, 6, 2, 8, EXTRACT};

typedef struct {
    GPT m;
    LinearHead h;
    Example ex[GB];
    Dataset d;
    Batch bt;
    float logits[GB * GK], probs[GB * GK], losses[GB];
} Tiny;

static void tiny_build(Tiny *t, uint64_t seed) {
    gpt_build(&t->m, gpt_config(GMAXT, GV, GL, GNH, GC), seed);
    randomize_params(&t->m, seed + 1);
    head_build(&t->h, GK, GC, 0.0f, 0);
    for (int i = 0; i < GK * GC; i++) t->h.w[i] = test_uniform(-0.5f, 0.5f);
    for (int k = 0; k < GK; k++) t->h.b[k] = test_uniform(-0.2f, 0.2f);
    t->ex[0] = (Example){ex0_tokens, (int)(sizeof ex0_tokens / sizeof(int)), 2};
    t->ex[1] = (Example){ex1_tokens, (int)(sizeof ex1_tokens / sizeof(int)), 0};
    t->ex[2] = (Example){ex2_tokens, (int)(sizeof ex2_tokens / sizeof(int)), 1};
    t->d = (Dataset){t->ex, GB, GK};
    alloc_batch(&t->bt, GB, GMAXT);
    int idx[GB] = {0, 1, 2};
    make_batch(&t->bt, &t->d, idx, GB, PAD);
}

static void tiny_free(Tiny *t) {
    free_batch(&t->bt);
    head_free(&t->h);
    gpt_free(&t->m);
}

static StepResult tiny_step(Tiny *t, float lambda) {
    return finetune_step(&t->m, &t->h, &t->bt, lambda, t->logits, t->probs, t->losses);
}

/* ---- 1. the gradient of L3 = L2 + lambda L1 ---- */

/* Central differences (L(p+h) - L(p-h)) / 2h of the loss finetune_step
 * reports, against the gradient it leaves in m.grads, h.dw and h.db.
 *
 * Why h = 1e-2 and atol 2e-4 + rtol 2e-2 (as in test_gpt.c): the loss is
 * float32, a mean of a few cross-entropies of order 1..5, so its rounding
 * error is a few times 1e-7; divided by 2h = 2e-2 that is ~5e-5 of noise on
 * the numerical derivative. The truncation error h^2/6 f''' is ~1e-5 for
 * parameters of order 1. A smaller h drowns the signal in rounding, a larger
 * one in curvature. A wrong gradient (the LM term not scaled by lambda, the
 * head's gradient at the wrong row, padding leaking in) is off by its own
 * size, far more than 2%. */
#define GC_H 1e-2f
#define GC_RTOL 2e-2
#define GC_ATOL 2e-4

static float loss_of(Tiny *t, float lambda, int l2_only) {
    StepResult r = tiny_step(t, lambda);
    return l2_only ? r.l2 : r.l3;
}

static float numeric_derivative(Tiny *t, float *x, float lambda, int l2_only) {
    float x0 = *x, xp = x0 + GC_H, xm = x0 - GC_H;
    *x = xp;
    double lp = loss_of(t, lambda, l2_only);
    *x = xm;
    double lm = loss_of(t, lambda, l2_only);
    *x = x0;
    return (float)((lp - lm) / ((double)xp - (double)xm));
}

/* Checks a sample of every trunk tensor: its largest-gradient element (so
 * each check has something to see) and two random ones; for wte also the rows
 * of <|start|>, <|extract|>, the padding token (whose embedding is used only
 * after the extract, where nothing reads it) and a text token; for wpe only
 * positions < T. `grads` is the analytic gradient of the trunk. */
static void check_trunk_sample(Tiny *t, const float *grads, float lambda, int l2_only, const char *what) {
    GPT *m = &t->m;
    int T = t->bt.T, C = GC;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        size_t off = param_offset(m, i), n = m->param_sizes[i], worst = 0;
        if (i == P_WTE) n = (size_t)GV * C;
        if (i == P_WPE) n = (size_t)T * C;
        for (size_t j = 0; j < n; j++) if (fabsf(grads[off + j]) > fabsf(grads[off + worst])) worst = j;
        size_t sample[8];
        int ns = 0;
        sample[ns++] = worst;
        sample[ns++] = (size_t)test_below((int)n);
        sample[ns++] = (size_t)test_below((int)n);
        if (i == P_WTE) {
            sample[ns++] = (size_t)START * C + (size_t)test_below(C);
            sample[ns++] = (size_t)EXTRACT * C + (size_t)test_below(C);
            sample[ns++] = (size_t)PAD * C + (size_t)test_below(C);
            sample[ns++] = (size_t)7 * C + (size_t)test_below(C);
        }
        float analytic[8], numeric[8];
        for (int s = 0; s < ns; s++) {
            analytic[s] = grads[off + sample[s]];
            numeric[s] = numeric_derivative(t, m->params_memory + off + sample[s], lambda, l2_only);
        }
        char name[128];
        snprintf(name, sizeof name, "%s: d/d %s (largest, random%s) vs finite differences", what,
                 param_names[i], i == P_WTE ? ", start, extract, pad, text rows" : "");
        check_close(name, analytic, numeric, (size_t)ns, GC_RTOL, GC_ATOL);
    }
}

/* Every parameter of the head: w (K x C) and b (K). */
static void check_whole_head(Tiny *t, const float *head_grads, float lambda, int l2_only, const char *what) {
    size_t n = (size_t)GK * GC + GK;
    float *numeric = malloc_or_die(n * sizeof(float), "numeric gradient");
    for (size_t i = 0; i < n; i++) numeric[i] = numeric_derivative(t, t->h.w + i, lambda, l2_only);
    char name[128];
    snprintf(name, sizeof name, "%s: d/d head w and b (all %zu) vs finite differences", what, n);
    check_close(name, head_grads, numeric, n, GC_RTOL, GC_ATOL);
    free(numeric);
}

static void test_finetune_gradient_of_the_combined_loss_matches_finite_differences(void **state) {
    (void)state;
    Tiny t;
    tiny_build(&t, 101);
    StepResult r = tiny_step(&t, 0.5f);
    /* the loss is what the paper says it is, and both parts are alive */
    assert_true(r.l2 > 0.1f && r.l1 > 0.1f);
    assert_float_equal(r.l3, r.l2 + 0.5f * r.l1, 1e-6f);
    float *grads = copy_floats(t.m.grads_memory, t.m.num_parameters);
    float *head_grads = copy_floats(t.h.dw, (size_t)GK * GC + GK);

    check_trunk_sample(&t, grads, 0.5f, 0, "L3 = L2 + 0.5 L1");
    check_whole_head(&t, head_grads, 0.5f, 0, "L3 = L2 + 0.5 L1");
    free(grads);
    free(head_grads);
    tiny_free(&t);
}

/* With lambda = 0 the auxiliary loss is still computed (the log reports it)
 * but must not reach the gradient at all: L3 is L2, the gradient matches the
 * finite differences of L2 alone, and scrambling the LM targets leaves it
 * unchanged to the bit (while with lambda = 0.5 the same scrambling moves it). */
static void test_finetune_with_lambda_zero_ignores_the_lm_term(void **state) {
    (void)state;
    Tiny t;
    tiny_build(&t, 201);
    StepResult r = tiny_step(&t, 0.0f);
    assert_true(r.l1 > 0.1f);
    assert_true(r.l3 == r.l2);
    size_t np = t.m.num_parameters, nh = (size_t)GK * GC + GK;
    float *grads = copy_floats(t.m.grads_memory, np);
    float *head_grads = copy_floats(t.h.dw, nh);

    check_trunk_sample(&t, grads, 0.0f, 1, "L2 alone (lambda 0)");
    check_whole_head(&t, head_grads, 0.0f, 1, "L2 alone (lambda 0)");

    /* the LM term's gradient with lambda = 0.5, for the contrast below */
    tiny_step(&t, 0.5f);
    float *grads_half = copy_floats(t.m.grads_memory, np);

    /* every weighted target becomes another token: L1 changes, its gradient
     * would too, but lambda = 0 must not see it */
    for (int i = 0; i < t.bt.B * t.bt.T; i++) {
        if (t.bt.weights[i] != 0.0f) t.bt.targets[i] = (t.bt.targets[i] + 5) % START;
    }
    StepResult r2 = tiny_step(&t, 0.0f);
    assert_true(r2.l1 != r.l1);
    assert_true(r2.l2 == r.l2);
    assert_memory_equal(t.m.grads_memory, grads, np * sizeof(float));
    assert_memory_equal(t.h.dw, head_grads, nh * sizeof(float));
    tiny_step(&t, 0.5f);
    assert_true(memcmp(t.m.grads_memory, grads_half, np * sizeof(float)) != 0);
    /* the head sees only L2, whatever lambda: its gradient never changes */
    assert_memory_equal(t.h.dw, head_grads, nh * sizeof(float));

    free(grads);
    free(grads_half);
    free(head_grads);
    tiny_free(&t);
}

/* ---- 2. the input transformation ---- */

/* make_batch right-pads to the longest example. For each sequence:
 *   inputs  = <|start|> text <|extract|> then padding;
 *   rows[b] = b*T + the extract token's position;
 *   weight 1 exactly where the next token is text: position t predicts token
 *   t+1, so positions 0 .. len-3 (predicting text tokens 1 .. len-2), and 0
 *   where it would predict <|extract|> (not text) and on all padding. */
static void test_make_batch_weights_cover_exactly_the_text_tokens(void **state) {
    (void)state;
    Tiny t;
    tiny_build(&t, 301);
    const Batch *bt = &t.bt;
    assert_int_equal(bt->B, GB);
    assert_int_equal(bt->T, 8);  /* the longest example */
    int weighted = 0, text_tokens = 0;
    for (int b = 0; b < GB; b++) {
        const Example *e = &t.ex[b];
        text_tokens += e->len - 2;
        assert_int_equal(bt->labels[b], e->label);
        assert_int_equal(bt->rows[b], b * bt->T + e->len - 1);
        assert_int_equal(bt->inputs[bt->rows[b]], EXTRACT);
        for (int tt = 0; tt < bt->T; tt++) {
            int i = b * bt->T + tt;
            assert_int_equal(bt->inputs[i], tt < e->len ? e->tokens[tt] : PAD);
            int predicts_text = tt + 1 <= e->len - 2;  /* token tt+1 is text: 1 .. len-2 */
            assert_true(bt->weights[i] == (predicts_text ? 1.0f : 0.0f));
            if (predicts_text) {
                weighted++;
                assert_int_equal(bt->targets[i], e->tokens[tt + 1]);
                assert_true(bt->targets[i] != START && bt->targets[i] != EXTRACT && bt->targets[i] != PAD);
            }
        }
    }
    assert_int_equal(weighted, text_tokens);  /* 4 + 2 + 6 */
    assert_int_equal(weighted, 12);
    tiny_free(&t);
}

/* The classifier reads the hidden state at the extract token. Causal
 * attention keeps every later position out of it, so rewriting the padding
 * after the extract must change neither the class logits nor L2 (nor L1:
 * padding has weight 0), to the bit. Rewriting a text token before the
 * extract must change that example's logits, and only that example's. */
static void test_classifier_reads_the_extract_token_and_not_the_padding(void **state) {
    (void)state;
    Tiny t;
    tiny_build(&t, 401);
    StepResult r0 = tiny_step(&t, 0.5f);
    float before[GB * GK];
    memcpy(before, t.logits, sizeof before);

    /* example 1 has 4 tokens: positions 4..7 are padding; example 0 has 6 */
    int T = t.bt.T;
    t.bt.inputs[1 * T + 4] = 7;
    t.bt.inputs[1 * T + 7] = START;
    t.bt.inputs[0 * T + 6] = EXTRACT;
    StepResult r1 = tiny_step(&t, 0.5f);
    assert_memory_equal(t.logits, before, sizeof before);
    assert_true(r1.l2 == r0.l2);
    assert_true(r1.l1 == r0.l1);

    /* a text token of example 1, before its extract */
    t.bt.inputs[1 * T + 2] = 9;
    StepResult r2 = tiny_step(&t, 0.5f);
    assert_true(r2.l2 != r0.l2);
    for (int k = 0; k < GK; k++) {
        assert_true(t.logits[1 * GK + k] != before[1 * GK + k]);
        assert_true(t.logits[0 * GK + k] == before[0 * GK + k]);
        assert_true(t.logits[2 * GK + k] == before[2 * GK + k]);
    }
    tiny_free(&t);
}

/* The same promise seen from outside: each example's class logits in the
 * padded batch equal its logits alone, in a batch of one with no padding.
 * (Up to float rounding: a different T may change how the matmul blocks.) */
static void test_an_example_is_classified_the_same_alone_and_in_a_padded_batch(void **state) {
    (void)state;
    Tiny t;
    tiny_build(&t, 501);
    tiny_step(&t, 0.5f);
    float batched[GB * GK];
    memcpy(batched, t.logits, sizeof batched);
    Batch one;
    alloc_batch(&one, 1, GMAXT);
    for (int b = 0; b < GB; b++) {
        int idx = b;
        make_batch(&one, &t.d, &idx, 1, PAD);
        assert_int_equal(one.T, t.ex[b].len);
        float alone[GK];
        gpt_forward(&t.m, one.inputs, 1, one.T);
        head_forward(&t.h, alone, t.m.acts.lnf, one.rows, 1);
        char name[64];
        snprintf(name, sizeof name, "example %d: logits alone vs in the batch", b);
        check_close(name, alone, batched + b * GK, GK, 1e-5, 1e-6);
    }
    free_batch(&one);
    tiny_free(&t);
}

/* encode_example wraps the tokenizer's tokens of the text as GPT-1's input
 * transformation says: <|start|> text <|extract|>, the label kept. */
static void test_encode_example_wraps_the_text_in_start_and_extract(void **state) {
    (void)state;
    Tokenizer tok;
    tokenizer_load(&tok, fx.merges);
    const char *text = "the cat sat on the mat.";
    size_t n;
    int *body = tokenizer_encode(&tok, text, strlen(text), &n);
    Example e = encode_example(&tok, text, 3);
    assert_int_equal(e.len, (int)n + 2);
    assert_int_equal(e.label, 3);
    assert_int_equal(e.tokens[0], tokenizer_special_id(&tok, TOK_START));
    assert_int_equal(e.tokens[e.len - 1], tokenizer_special_id(&tok, TOK_EXTRACT));
    assert_memory_equal(e.tokens + 1, body, n * sizeof(int));
    free(e.tokens);
    free(body);
    tokenizer_free(&tok);
}

/* ---- the shared fixture: a corpus, a tokenizer, token files ---- */

/* A few hundred short sentences from four small word lists: repetitive enough
 * that 60 steps of a tiny model learn a lot of it. */
static char *make_corpus(uint64_t seed, int sentences, size_t *len) {
    static const char *subj[] = {"the cat", "the dog", "a bird", "the fox"};
    static const char *verb[] = {"sat on", "ran to", "looked at", "jumped over"};
    static const char *obj[] = {"the mat", "the log", "a tree", "the fence"};
    size_t cap = (size_t)sentences * 40 + 1, n = 0;
    char *s = malloc_or_die(cap, "a corpus");
    test_seed(seed);
    for (int i = 0; i < sentences; i++) {
        n += (size_t)snprintf(s + n, cap - n, "%s %s %s. ", subj[test_below(4)], verb[test_below(4)],
                              obj[test_below(4)]);
    }
    *len = n;
    return s;
}

static void encode_to(Tokenizer *tok, const char *text, size_t len, const char *path) {
    size_t n;
    int *tokens = tokenizer_encode(tok, text, len, &n);
    tokens_save(path, tokens, n);
    free(tokens);
}

static int group_setup(void **state) {
    (void)state;
    temp_path(fx.train_bin, sizeof fx.train_bin, "train.bin");
    temp_path(fx.val_bin, sizeof fx.val_bin, "val.bin");
    temp_path(fx.merges, sizeof fx.merges, "tok.merges");
    size_t len, vlen;
    char *text = make_corpus(1, 600, &len), *val = make_corpus(2, 100, &vlen);
    Tokenizer tok;
    tokenizer_train(&tok, text, len, 300);
    tokenizer_save_merges(&tok, fx.merges);
    encode_to(&tok, text, len, fx.train_bin);
    encode_to(&tok, val, vlen, fx.val_bin);
    fx.V = tok.vocab_size;
    tokenizer_free(&tok);
    free(text);
    free(val);
    return fx.V == 300 ? 0 : -1;  /* the corpus has pairs enough for 38 merges */
}

static int group_teardown(void **state) {
    (void)state;
    remove(fx.train_bin);
    remove(fx.val_bin);
    remove(fx.merges);
    return 0;
}

/* ---- running the program ---- */

static void run_gpt1_ok(const char **args) { expect_program_ok("gpt1", args); }

static void run_gpt1_refuses_with(const char **args, const char *phrase, const char *also) {
    expect_program_refuses("gpt1", args, phrase, also);
}

static void run_gpt1_refuses(const char **args, const char *phrase) {
    run_gpt1_refuses_with(args, phrase, NULL);
}

static void assert_no_file(const char *path) {
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (file_exists(path) || file_exists(tmp)) {
        print_error("%s (or its .tmp) exists after a failed run\n", path);
        fail();
    }
}

/* ---- 3. the programs learn ---- */

/* 60 steps of pre-training with the --fast model (L=2, C=32, T=128) on the
 * tiny corpus. The loss starts near ln(300) = 5.7, the loss of a uniform
 * guess; the smoothed training loss must end at least 1.5 nats lower, and the
 * validation loss below the corpus's unigram entropy (~3.2 nats), the best a
 * model that ignores the context can do: the model has learned to use it. */
static void test_pretrain_for_a_few_steps_lowers_the_loss(void **state) {
    (void)state;
    char out[256], logp[256];
    temp_path(out, sizeof out, "pretrain.bin");
    temp_path(logp, sizeof logp, "pretrain.tsv");
    const char *args[] = {"pretrain", "--fast", "--data", fx.train_bin, "--val", fx.val_bin,
                          "--tokenizer", fx.merges, "--out", out, "--log", logp, "--steps", "60",
                          "--threads", "1", NULL};
    run_gpt1_ok(args);

    Tsv tsv;
    tsv_read(&tsv, logp, 7);
    assert_int_equal(tsv.nrows, 60);
    const TsvRow *first = &tsv.rows[0], *last = &tsv.rows[tsv.nrows - 1];
    assert_string_equal(first->fields[0], "1");
    assert_string_equal(last->fields[0], "60");
    double loss0 = atof(first->fields[1]), ema = atof(last->fields[2]);
    double val0 = atof(first->fields[3]), val = atof(last->fields[3]), unigram = atof(last->fields[6]);
    print_message("pretrain: loss %.3f -> ema %.3f; val %.3f -> %.3f; unigram entropy %.3f\n",
                  loss0, ema, val0, val, unigram);
    assert_true(fabs(loss0 - log(300.0)) < 0.5);
    assert_true(ema < loss0 - 1.5);
    assert_true(val < val0 - 1.5);
    assert_true(val < unigram);
    tsv_free(&tsv);

    /* the checkpoint is a valid llm.c file of the --fast shape */
    GPT m;
    gpt_load(&m, out);
    assert_int_equal(m.config.V, fx.V);
    assert_int_equal(m.config.L, 2);
    assert_int_equal(m.config.C, 32);
    assert_int_equal(m.config.NH, 2);
    assert_int_equal(m.config.maxT, 128);
    gpt_free(&m);
    char state_path[300];  /* the optimiser state saved beside it for --resume */
    snprintf(state_path, sizeof state_path, "%s.state", out);
    remove(state_path);
    remove(out);
    remove(logp);
}

/* A labelled TSV where label 1 texts are "yes" said 1..5 times and label 0
 * texts "no" said 1..5 times: separable by a glance at one token. */
static void write_yes_no(const char *path, int rows) {
    FILE *f = fopen_or_die(path, "w");
    fprintf(f, "label\ttext\n");
    test_seed(7);
    for (int i = 0; i < rows; i++) {
        int label = i % 2, n = 1 + test_below(5);
        fprintf(f, "%d\t", label);
        for (int k = 0; k < n; k++) fprintf(f, "%s%s", k ? " " : "", label ? "yes" : "no");
        fputc('\n', f);
    }
    fclose(f);
}

/* The identity of the fixture's tokenizer (tokenizer_id). */
static uint32_t fixture_tokenizer_id(void) {
    Tokenizer tok;
    tokenizer_load(&tok, fx.merges);
    uint32_t id = tokenizer_id(&tok);
    tokenizer_free(&tok);
    return id;
}

/* A checkpoint for the tokenizer's vocabulary, random init (the rung's
 * "no pre-training" ablation): fine-tuning must manage even from there. It
 * records the fixture's tokenizer, as every checkpoint this project writes
 * does (write_model_with_id: another one, or 0 for none, as llm.c's). */
static void write_model_with_id(const char *path, int V, uint32_t id) {
    GPT m;
    gpt_build(&m, gpt_config(32, V, 2, 2, 32), 5);
    m.tokenizer_id = id;
    gpt_save(&m, path);
    gpt_free(&m);
}

static void write_model(const char *path, int V) { write_model_with_id(path, V, fixture_tokenizer_id()); }

typedef struct {
    char model[256], train[256], out[256], head[256], log[256];
} FinetuneFiles;

static void finetune_files(FinetuneFiles *f, const char *tag) {
    char name[64];
    snprintf(name, sizeof name, "%s-model.bin", tag);
    temp_path(f->model, sizeof f->model, name);
    snprintf(name, sizeof name, "%s-train.tsv", tag);
    temp_path(f->train, sizeof f->train, name);
    snprintf(name, sizeof name, "%s-out.bin", tag);
    temp_path(f->out, sizeof f->out, name);
    snprintf(name, sizeof name, "%s-out.head", tag);
    temp_path(f->head, sizeof f->head, name);
    snprintf(name, sizeof name, "%s-finetune.tsv", tag);
    temp_path(f->log, sizeof f->log, name);
}

static void remove_finetune_files(const FinetuneFiles *f) {
    remove(f->model);
    remove(f->train);
    remove(f->out);
    remove(f->head);
    remove(f->log);
}

/* The last row of the fine-tuning log: its test_acc column. */
static double last_test_accuracy(const char *logp) {
    Tsv tsv;
    tsv_read(&tsv, logp, 7);
    const TsvRow *last = &tsv.rows[tsv.nrows - 1];
    assert_string_equal(last->fields[0], "pretrained");
    double acc = atof(last->fields[6]);
    tsv_free(&tsv);
    return acc;
}

/* 30 steps (--fast) on 24 yes/no examples, tested on the same file: the
 * classifier must get every one right. Then the saved checkpoint and its
 * head, loaded back, must still get every one right (accuracy()): what was
 * saved is what was trained. A batch of 24 keeps this test about learning;
 * the next one is about a test set larger than the batch. */
static void test_finetune_on_a_separable_toy_set_reaches_full_train_accuracy(void **state) {
    (void)state;
    FinetuneFiles f;
    finetune_files(&f, "yesno");
    write_yes_no(f.train, 24);
    write_model(f.model, fx.V);
    const char *args[] = {"finetune", "--fast", "--model", f.model, "--tokenizer", fx.merges,
                          "--train", f.train, "--test", f.train, "--out", f.out, "--log", f.log,
                          "--batch", "24", "--lr", "1e-3", "--no-ablations", "--threads", "1", NULL};
    run_gpt1_ok(args);
    assert_true(last_test_accuracy(f.log) == 1.0);

    Tokenizer tok;
    tokenizer_load(&tok, fx.merges);
    GPT m;
    gpt_load(&m, f.out);
    LinearHead h;
    head_load(&h, f.head, m.config.C);
    assert_int_equal(h.K, 2);
    Dataset d = load_dataset(&tok, f.train, m.config.maxT);
    Batch bt;
    alloc_batch(&bt, 8, m.config.maxT);
    float acc = accuracy(&m, &h, &d, &bt, 8, tokenizer_special_id(&tok, TOK_EOT));
    assert_true(acc == 1.0f);
    free_batch(&bt);
    free_dataset(&d);
    head_free(&h);
    gpt_free(&m);
    tokenizer_free(&tok);
    remove_finetune_files(&f);
}

/* The test set is usually larger than a training batch (the toy world's has
 * hundreds of rows; --batch is 16, or 8 with --fast). Evaluating it must work
 * for any --batch: here 2, with 40 test rows (more than one evaluation batch
 * of 32, the last one partial). */
static void test_finetune_evaluates_a_test_set_larger_than_the_training_batch(void **state) {
    (void)state;
    FinetuneFiles f;
    finetune_files(&f, "bigtest");
    write_yes_no(f.train, 40);
    write_model(f.model, fx.V);
    const char *args[] = {"finetune", "--fast", "--batch", "2", "--steps", "4", "--model", f.model,
                          "--tokenizer", fx.merges, "--train", f.train, "--test", f.train,
                          "--out", f.out, "--log", f.log, "--no-ablations", "--threads", "1", NULL};
    run_gpt1_ok(args);
    double acc = last_test_accuracy(f.log);
    assert_true(acc >= 0.0 && acc <= 1.0);
    assert_true(file_exists(f.out) && file_exists(f.head));
    remove_finetune_files(&f);
}

/* ---- 4. bad input: one clear line, nothing written ---- */

static void test_a_missing_data_file_is_refused_with_a_clear_message(void **state) {
    (void)state;
    char out[256], logp[256], missing[256], msg[300];
    temp_path(out, sizeof out, "missing-out.bin");
    temp_path(logp, sizeof logp, "missing.tsv");
    temp_path(missing, sizeof missing, "no-such-file.bin");
    snprintf(msg, sizeof msg, "cannot open %s for reading", missing);

    const char *pre[] = {"pretrain", "--fast", "--data", missing, "--val", fx.val_bin, "--tokenizer",
                         fx.merges, "--out", out, "--log", logp, "--threads", "1", NULL};
    run_gpt1_refuses(pre, msg);
    assert_no_file(out);

    FinetuneFiles f;
    finetune_files(&f, "missing");
    write_yes_no(f.train, 8);
    write_model(f.model, fx.V);
    const char *no_train[] = {"finetune", "--fast", "--model", f.model, "--tokenizer", fx.merges,
                              "--train", missing, "--test", f.train, "--out", f.out, "--log", f.log,
                              "--no-ablations", "--threads", "1", NULL};
    run_gpt1_refuses(no_train, msg);
    const char *no_model[] = {"finetune", "--fast", "--model", missing, "--tokenizer", fx.merges,
                              "--train", f.train, "--test", f.train, "--out", f.out, "--log", f.log,
                              "--no-ablations", "--threads", "1", NULL};
    run_gpt1_refuses(no_model, msg);
    assert_no_file(f.out);
    assert_no_file(f.head);
    remove_finetune_files(&f);
}

/* A checkpoint pre-trained with another tokenizer would run (its V rows of
 * wte are there) and be silently wrong: the rung refuses it by name. */
static void test_a_checkpoint_of_another_vocabulary_is_refused(void **state) {
    (void)state;
    FinetuneFiles f;
    finetune_files(&f, "vocab");
    write_yes_no(f.train, 8);
    write_model(f.model, fx.V + 20);
    const char *args[] = {"finetune", "--fast", "--model", f.model, "--tokenizer", fx.merges,
                          "--train", f.train, "--test", f.train, "--out", f.out, "--log", f.log,
                          "--no-ablations", "--threads", "1", NULL};
    char msg[700];
    snprintf(msg, sizeof msg, "%s has a vocabulary of %d tokens, but the tokenizer %s has %d",
             f.model, fx.V + 20, fx.merges, fx.V);
    run_gpt1_refuses(args, msg);
    assert_no_file(f.out);
    assert_no_file(f.head);
    remove_finetune_files(&f);
}

/* Runs finetune on a training TSV with the given contents; expects a refusal
 * naming "PATH:LINE: phrase" (line > 0) or "PATH phrase", and `also`
 * anywhere in the line unless NULL. */
static void check_bad_tsv(const char *contents, int line, const char *phrase, const char *also) {
    FinetuneFiles f;
    finetune_files(&f, "badtsv");
    write_bytes(f.train, contents, strlen(contents));
    write_model(f.model, fx.V);
    const char *args[] = {"finetune", "--fast", "--model", f.model, "--tokenizer", fx.merges,
                          "--train", f.train, "--test", f.train, "--out", f.out, "--log", f.log,
                          "--no-ablations", "--threads", "1", NULL};
    char msg[400];
    if (line > 0) snprintf(msg, sizeof msg, "%s:%d: %s", f.train, line, phrase);
    else snprintf(msg, sizeof msg, "%s %s", f.train, phrase);
    run_gpt1_refuses_with(args, msg, also);
    assert_no_file(f.out);
    assert_no_file(f.head);
    assert_no_file(f.log);
    remove_finetune_files(&f);
}

/* Line numbers count the header as line 1, as an editor does. */
static void test_malformed_tsv_lines_are_refused_naming_file_and_line(void **state) {
    (void)state;
    check_bad_tsv("label\ttext\n0\tno\nx\tyes\n1\tyes\n", 3, "field 1: 'x' is not an integer", NULL);
    check_bad_tsv("label\ttext\n0\tno\n1\tyes\n1\n", 4, "expected at least 2 tab-separated fields, found 1", NULL);
    check_bad_tsv("label\ttext\n0\tno\n1\t\n", 3, "the text is empty", NULL);
    check_bad_tsv("label\ttext\n0\tno\n-1\tyes\n", 3, "field 1: '-1' is not an integer in [0, 1000]", NULL);
    check_bad_tsv("label\ttext\n0\tno\n0\tno no\n", 0, "has only one class", NULL);
    /* longer than the checkpoint's context of 32 tokens with start and extract */
    char longer[512] = "label\ttext\n0\tno\n1\t7";
    for (int i = 0; i < 40; i++) strcat(longer, " 7");
    strcat(longer, "\n");
    check_bad_tsv(longer, 3, "the text is", "tokens with start and extract, longer than the model's context (32)");
}

/* Every refusal below is also given input files that do not exist and
 * outputs under build/tmp: should a flag slip through, the run still dies
 * before writing, and never touches out/ or plots/ (the defaults). */
typedef struct {
    char missing[256], out[256], logp[256];
} SafePaths;

static void safe_paths(SafePaths *p, const char *tag) {
    char name[64];
    snprintf(name, sizeof name, "%s-missing", tag);
    temp_path(p->missing, sizeof p->missing, name);
    snprintf(name, sizeof name, "%s-out.bin", tag);
    temp_path(p->out, sizeof p->out, name);
    snprintf(name, sizeof name, "%s-log.tsv", tag);
    temp_path(p->logp, sizeof p->logp, name);
}

static void assert_nothing_written(const SafePaths *p) {
    assert_no_file(p->out);
    assert_no_file(p->logp);
}

/* A flag is known only in full: --no-abl is not --no-ablations. */
static void test_an_unknown_flag_is_refused(void **state) {
    (void)state;
    SafePaths p;
    safe_paths(&p, "flags");
    const char *pre[] = {"pretrain", "--fast", "--data", p.missing, "--val", p.missing, "--tokenizer",
                         fx.merges, "--out", p.out, "--log", p.logp, "--bogus", "3", NULL};
    run_gpt1_refuses(pre, "unknown flag --bogus for gpt1 pretrain");
    const char *fin[] = {"finetune", "--fast", "--model", p.missing, "--tokenizer", fx.merges,
                         "--train", p.missing, "--test", p.missing, "--out", p.out, "--log", p.logp,
                         "--no-such-flag", NULL};
    run_gpt1_refuses(fin, "unknown flag --no-such-flag for gpt1 finetune");
    const char *prefix[] = {"finetune", "--fast", "--model", p.missing, "--tokenizer", fx.merges, "--train",
                            p.missing, "--test", p.missing, "--out", p.out, "--log", p.logp, "--no-abl", NULL};
    run_gpt1_refuses(prefix, "unknown flag --no-abl for gpt1 finetune");
    const char *eval_only[] = {"eval", "--model", p.missing, "--data", p.missing, "--steps", "3", NULL};
    run_gpt1_refuses(eval_only, "unknown flag --steps for gpt1 eval");
    const char *twice[] = {"pretrain", "--fast", "--data", p.missing, "--val", p.missing, "--tokenizer", fx.merges,
                           "--out", p.out, "--log", p.logp, "--steps", "3", "--steps", "4", NULL};
    run_gpt1_refuses(twice, "--steps given twice");
    const char *cmd[] = {"pretrian", "--out", p.out, "--log", p.logp, NULL};
    run_gpt1_refuses(cmd, "unknown command 'pretrian'");
    const char *num[] = {"pretrain", "--fast", "--data", p.missing, "--val", p.missing, "--tokenizer",
                         fx.merges, "--out", p.out, "--log", p.logp, "--steps", "ten", NULL};
    run_gpt1_refuses(num, "--steps: 'ten' is not an integer");
    assert_nothing_written(&p);
}

/* A known flag at the end of the line without its value is not an unknown
 * flag: the message must say what is missing. */
static void test_a_flag_without_its_value_says_so(void **state) {
    (void)state;
    SafePaths p;
    safe_paths(&p, "novalue");
    const char *args[] = {"pretrain", "--fast", "--data", p.missing, "--val", p.missing, "--tokenizer",
                          fx.merges, "--out", p.out, "--log", p.logp, "--steps", NULL};
    run_gpt1_refuses(args, "--steps needs a value");
    assert_nothing_written(&p);
}

static void test_channels_not_divisible_by_heads_is_refused_before_anything_is_written(void **state) {
    (void)state;
    char out[256], logp[256];
    temp_path(out, sizeof out, "heads-out.bin");
    temp_path(logp, sizeof logp, "heads.tsv");
    const char *args[] = {"pretrain", "--fast", "--data", fx.train_bin, "--val", fx.val_bin,
                          "--tokenizer", fx.merges, "--channels", "30", "--heads", "4", "--out", out,
                          "--log", logp, "--threads", "1", NULL};
    run_gpt1_refuses(args, "--channels 30 is not divisible by --heads 4");
    assert_no_file(out);
    assert_no_file(logp);
}

/* --fast is applied before the other flags, wherever it stands, so an
 * explicit flag always wins over it (the tests above rely on this). */
static void test_fast_sets_tiny_defaults_and_explicit_flags_win(void **state) {
    (void)state;
    Options o = defaults(CMD_PRETRAIN);
    char out[256], logp[256];
    temp_path(out, sizeof out, "fast-out.bin");
    temp_path(logp, sizeof logp, "fast-log.tsv");
    char *argv[] = {"pretrain", "--steps", "7", "--fast", "--channels", "64", "--out", out, "--log", logp, NULL};
    parse_flags(&o, CMD_PRETRAIN, 10, argv);
    assert_int_equal(o.steps, 7);
    assert_int_equal(o.channels, 64);
    assert_int_equal(o.layers, 2);  /* from --fast */
    assert_int_equal(o.seq, 128);
}

/* ---- 5. eval and --init: any checkpoint, any token file ---- */

/* Runs gpt1 with args, expecting exit 0; returns its stdout and stderr (to free). */
static char *run_gpt1_output(const char **args, char **err) {
    char *out = NULL;
    int status = run_program_io("gpt1", args, NULL, &out, NULL, err);
    if (status != 0) {
        print_error("gpt1 %s exited with status %d; stderr:\n%s", args[0], status, *err);
        fail();
    }
    return out;
}

/* The value after `key` in text, as a string up to the next space (for
 * comparing numbers digit for digit). */
static void value_after(const char *text, const char *key, char *buf, size_t n) {
    const char *p = strstr(text, key);
    if (!p) fail_msg("no '%s' in:\n%s", key, text);
    p += strlen(key);
    size_t k = strcspn(p, " \n");
    snprintf(buf, n, "%.*s", (int)(k < n ? k : n - 1), p);
}

/* A --fast pre-training of `steps` steps into out (its log into logp). */
static void pretrain_briefly(const char *out, const char *logp, const char *steps) {
    const char *args[] = {"pretrain", "--fast", "--data", fx.train_bin, "--val", fx.val_bin, "--tokenizer", fx.merges,
                          "--out", out, "--log", logp, "--steps", steps, "--samples", "0", "--threads", "1", NULL};
    run_gpt1_ok(args);
}

static void remove_checkpoint(const char *path) {
    char st[300];
    snprintf(st, sizeof st, "%s.state", path);
    remove(st);
    remove(path);
}

/* `gpt1 eval` is pre-training's validation, alone: on the checkpoint a run
 * saved at its last step and the same validation file, with pretrain's
 * batch, it prints the val_loss of the log's last row, digit for digit. */
static void test_eval_prints_the_validation_loss_that_pretrain_logged(void **state) {
    (void)state;
    char out[256], logp[256], want[32], got[32], ppl[32];
    temp_path(out, sizeof out, "eval.bin");
    temp_path(logp, sizeof logp, "eval.tsv");
    pretrain_briefly(out, logp, "20");
    Tsv tsv;
    tsv_read(&tsv, logp, 7);
    snprintf(want, sizeof want, "%s", tsv.rows[tsv.nrows - 1].fields[3]);
    tsv_free(&tsv);

    const char *args[] = {"eval", "--model", out, "--data", fx.val_bin, "--tokenizer", fx.merges, "--batch", "4",
                          "--threads", "1", NULL};
    char *err, *text = run_gpt1_output(args, &err);
    value_after(text, "summary gpt1 eval: loss ", got, sizeof got);
    value_after(text, "perplexity ", ppl, sizeof ppl);
    print_message("pretrain logged val_loss %s; eval: loss %s, perplexity %s\n", want, got, ppl);
    assert_string_equal(got, want);
    assert_true(fabs(atof(ppl) - exp(atof(want))) < 1e-3 * exp(atof(want)));
    assert_string_equal(err, "");  /* the checkpoint records its tokenizer: no note */
    free(text);
    free(err);
    remove_checkpoint(out);
    remove(logp);
}

/* --init M continues pre-training from any llm.c-layout checkpoint: here one
 * of ours with its tokenizer slot cleared, as llm.c writes it (accepted with
 * a one-line note). The shape comes from the file whatever the shape flags
 * say, the optimiser starts afresh (the step count saved in the new
 * checkpoint is this run's), the first loss is the trained model's, not a
 * fresh one's, and the new checkpoint records the tokenizer it was trained with. */
static void test_pretrain_init_continues_from_an_llmc_layout_checkpoint(void **state) {
    (void)state;
    char base[256], llmc[256], out[256], logp[256];
    temp_path(base, sizeof base, "init-base.bin");
    temp_path(llmc, sizeof llmc, "init-llmc.bin");
    temp_path(out, sizeof out, "init-out.bin");
    temp_path(logp, sizeof logp, "init.tsv");
    pretrain_briefly(base, logp, "60");
    GPT m;
    gpt_load(&m, base);
    m.tokenizer_id = 0;  /* llm.c's header has nothing in slot 9 */
    gpt_save(&m, llmc);
    gpt_free(&m);

    const char *args[] = {"pretrain", "--fast", "--init", llmc, "--data", fx.train_bin, "--val", fx.val_bin,
                          "--tokenizer", fx.merges, "--out", out, "--log", logp, "--steps", "10", "--layers", "3",
                          "--channels", "48", "--samples", "0", "--threads", "1", NULL};
    char *err, *text = run_gpt1_output(args, &err);
    assert_non_null(strstr(err, "records no tokenizer"));
    assert_non_null(strstr(text, "continuing pre-training of"));
    free(text);
    free(err);
    Tsv tsv;
    tsv_read(&tsv, logp, 7);
    assert_int_equal(tsv.nrows, 10);
    double loss0 = atof(tsv.rows[0].fields[1]);
    print_message("--init: first loss %.3f (a fresh model: ln 300 = %.3f)\n", loss0, log(300.0));
    assert_true(loss0 < log(300.0) - 1.5);
    tsv_free(&tsv);
    gpt_load(&m, out);
    assert_int_equal(m.config.L, 2);   /* --fast's shape, from the file, not --layers 3 */
    assert_int_equal(m.config.C, 32);
    assert_int_equal(m.saved_step, 10);  /* a fresh AdamW: 10 steps, not 60 + 10 */
    assert_true(m.tokenizer_id == fixture_tokenizer_id());
    gpt_free(&m);
    remove_checkpoint(base);
    remove(llmc);
    remove_checkpoint(out);
    remove(logp);
}

/* A checkpoint that does not belong to the tokenizer or to the token file
 * is refused in one line, by eval and by --init, before anything is written. */
static void test_a_checkpoint_of_another_vocabulary_is_refused_by_eval_and_init(void **state) {
    (void)state;
    char wide[256], narrow[256], other[256], out[256], logp[256], msg[700];
    temp_path(wide, sizeof wide, "voc-wide.bin");
    temp_path(narrow, sizeof narrow, "voc-narrow.bin");
    temp_path(other, sizeof other, "voc-other.bin");
    temp_path(out, sizeof out, "voc-out.bin");
    temp_path(logp, sizeof logp, "voc.tsv");
    write_model(wide, fx.V + 20);
    write_model_with_id(narrow, 100, 0);
    write_model_with_id(other, fx.V, 0x12345678u);

    snprintf(msg, sizeof msg, "%s has a vocabulary of %d tokens, but the tokenizer %s has %d", wide, fx.V + 20,
             fx.merges, fx.V);
    const char *eval_wide[] = {"eval", "--model", wide, "--data", fx.val_bin, "--tokenizer", fx.merges, NULL};
    run_gpt1_refuses(eval_wide, msg);
    const char *init_wide[] = {"pretrain", "--fast", "--init", wide, "--data", fx.train_bin, "--val", fx.val_bin,
                               "--tokenizer", fx.merges, "--out", out, "--log", logp, NULL};
    run_gpt1_refuses(init_wide, msg);
    /* the tokens name ids the model has no row for: the token file's own check */
    const char *eval_narrow[] = {"eval", "--model", narrow, "--data", fx.val_bin, NULL};
    run_gpt1_refuses(eval_narrow, "outside the vocabulary of 100 tokens");
    /* the same vocabulary size, another tokenizer */
    const char *eval_other[] = {"eval", "--model", other, "--data", fx.val_bin, "--tokenizer", fx.merges, NULL};
    run_gpt1_refuses(eval_other, "was trained with another tokenizer (id 12345678)");
    const char *init_other[] = {"pretrain", "--fast", "--init", other, "--data", fx.train_bin, "--val", fx.val_bin,
                                "--tokenizer", fx.merges, "--out", out, "--log", logp, NULL};
    run_gpt1_refuses(init_other, "was trained with another tokenizer");
    const char *both[] = {"pretrain", "--fast", "--init", other, "--resume", "--data", fx.train_bin, "--val",
                          fx.val_bin, "--tokenizer", fx.merges, "--out", out, "--log", logp, NULL};
    run_gpt1_refuses(both, "--resume continues --out; it cannot also start from --init");
    assert_no_file(out);
    assert_no_file(logp);
    remove(wide);
    remove(narrow);
    remove(other);
}

/* ---- 6. outputs never overwrite inputs; the previous log survives ---- */

/* finetune's lambda = 0 ablation reads --model again after the main run
 * has written --out: --out naming the same file (however spelt) is refused
 * before any work, and the model, the log and the head are untouched. */
static void test_finetune_refuses_an_out_that_is_its_model_before_any_work(void **state) {
    (void)state;
    FinetuneFiles f;
    finetune_files(&f, "same");
    write_yes_no(f.train, 8);
    write_model(f.model, fx.V);
    size_t n0, n1;
    char *before = read_file_or_die(f.model, &n0);
    char respelt[300];
    snprintf(respelt, sizeof respelt, "build/tmp/./%s", strrchr(f.model, '/') + 1);
    const char *args[] = {"finetune", "--fast", "--model", f.model, "--tokenizer", fx.merges, "--train", f.train,
                          "--test", f.train, "--out", respelt, "--log", f.log, "--threads", "1", NULL};
    char msg[400];
    snprintf(msg, sizeof msg, "--out %s is also --model", respelt);
    run_gpt1_refuses(args, msg);
    char *after = read_file_or_die(f.model, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    assert_no_file(f.log);
    char head[256];
    snprintf(head, sizeof head, "%s", f.model);
    strcpy(strrchr(head, '.'), ".head");
    assert_no_file(head);
    free(before);
    free(after);
    remove_finetune_files(&f);
}

/* A log that cannot be written is refused before the run, in one line. */
static void test_a_log_on_a_full_device_is_refused_in_one_line(void **state) {
    (void)state;
    FinetuneFiles f;
    finetune_files(&f, "full");
    write_yes_no(f.train, 8);
    write_model(f.model, fx.V);
    const char *pre[] = {"pretrain", "--fast", "--data", fx.train_bin, "--val", fx.val_bin, "--tokenizer",
                         fx.merges, "--out", f.out, "--log", "/dev/full", NULL};
    run_gpt1_refuses(pre, "cannot write /dev/full: it is a device");
    const char *fin[] = {"finetune", "--fast", "--model", f.model, "--tokenizer", fx.merges, "--train", f.train,
                         "--test", f.train, "--out", f.out, "--log", "/dev/full", NULL};
    run_gpt1_refuses(fin, "cannot write /dev/full: it is a device");
    assert_no_file(f.out);
    remove_finetune_files(&f);
}

/* ---- 7. interruption: SIGKILL, then --resume ---- */

/* Reads the file at path into a malloc'd buffer (for comparing checkpoints). */
static char *slurp_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(*len ? *len : 1);
    assert_int_equal(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

/* A run killed with SIGKILL half-way keeps its last checkpoint (saved
 * atomically at every evaluation, with AdamW's moments and the sampler's RNG
 * state beside it), and `--resume` continues from there. Because everything
 * the next step depends on was saved, the resumed run ends with exactly the
 * same parameters, bit for bit, as a run that was never interrupted, and its
 * log has every step once. The parent kills the child as soon as it has read
 * the progress line of step 60 from the child's stdout: no sleeping, no
 * timing. */
static void test_a_killed_pretraining_run_resumes_to_the_same_model(void **state) {
    (void)state;
    char straight[256], killed[256], log1[256], log2[256], st[300];
    temp_path(straight, sizeof straight, "straight.bin");
    temp_path(killed, sizeof killed, "killed.bin");
    temp_path(log1, sizeof log1, "straight.tsv");
    temp_path(log2, sizeof log2, "killed.tsv");
    snprintf(st, sizeof st, "%s.state", killed);
    const char *steps = "400";
    const char *a1[] = {"pretrain", "--fast", "--data", fx.train_bin, "--val", fx.val_bin,
                        "--tokenizer", fx.merges, "--out", straight, "--log", log1, "--steps", steps,
                        "--eval-every", "20", "--samples", "0", "--threads", "1", NULL};
    run_gpt1_ok(a1);

    /* the same run, killed after step 60, over the log of an earlier run */
    static const char earlier[] = "step\ttrain_loss\n1\t9.9\n";
    write_bytes(log2, earlier, sizeof earlier - 1);
    const char *bin = getenv("GPTLADDER_BIN");
    char path[512];
    snprintf(path, sizeof path, "%s/gpt1", bin ? bin : "build");
    char *argv[] = {path, "pretrain", "--fast", "--data", fx.train_bin, "--val", fx.val_bin,
                    "--tokenizer", fx.merges, "--out", killed, "--log", log2, "--steps", (char *)steps,
                    "--eval-every", "20", "--samples", "0", "--threads", "1", NULL};
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(path, argv);
        _exit(127);
    }
    close(fds[1]);
    FILE *out = fdopen(fds[0], "r");
    char line[512];
    int seen = 0;
    while (fgets(line, sizeof line, out)) {
        if (strncmp(line, "step   60/", 10) == 0) { seen = 1; kill(pid, SIGKILL); break; }
    }
    fclose(out);
    int status;
    waitpid(pid, &status, 0);
    assert_true(seen);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    /* the earlier log is intact; the killed run's rows are in log2.tmp */
    size_t len;
    char *kept = read_file_or_die(log2, &len);
    assert_int_equal(len, sizeof earlier - 1);
    assert_memory_equal(kept, earlier, len);
    free(kept);
    char log2_tmp[300];
    snprintf(log2_tmp, sizeof log2_tmp, "%s.tmp", log2);
    assert_true(file_exists(log2_tmp));

    /* what the kill left: a loadable checkpoint from an evaluation, not the end */
    GPT m;
    gpt_load(&m, killed);
    print_message("killed at step 60+; last checkpoint at step %d of %s\n", m.saved_step, steps);
    assert_true(m.saved_step >= 41 && m.saved_step < 400);
    /* loading alone starts a fresh optimiser (fine-tuning is a new run);
     * only --resume, reading the .state, continues the step count */
    assert_int_equal(m.step, 0);
    gpt_free(&m);
    /* (a kill during a save may leave killed.bin.tmp behind; the checkpoint
     * itself is only ever replaced by a complete file, by rename) */

    /* resume and finish */
    const char *a2[] = {"pretrain", "--fast", "--resume", "--data", fx.train_bin, "--val", fx.val_bin,
                        "--tokenizer", fx.merges, "--out", killed, "--log", log2, "--steps", steps,
                        "--eval-every", "20", "--samples", "0", "--threads", "1", NULL};
    run_gpt1_ok(a2);
    size_t n1, n2;
    char *b1 = slurp_file(straight, &n1), *b2 = slurp_file(killed, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    free(b1);
    free(b2);

    /* the resumed run continued the killed run's log: it has each step
     * exactly once, in order, and every column but the speed is the
     * uninterrupted run's; no .tmp is left */
    Tsv tsv, want;
    tsv_read(&tsv, log2, 7);
    tsv_read(&want, log1, 7);
    assert_int_equal(tsv.nrows, 400);
    assert_int_equal(want.nrows, 400);
    for (int i = 0; i < tsv.nrows; i++) {
        assert_int_equal(atoi(tsv.rows[i].fields[0]), i + 1);
        for (int k = 0; k < 7; k++) if (k != 5) assert_string_equal(tsv.rows[i].fields[k], want.rows[i].fields[k]);
    }
    tsv_free(&tsv);
    tsv_free(&want);
    assert_false(file_exists(log2_tmp));
    remove(straight);
    remove(killed);
    remove(st);
    remove(log1);
    remove(log2);
    char st1[300];
    snprintf(st1, sizeof st1, "%s.state", straight);
    remove(st1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        /* 1. the gradient of L3 = L2 + lambda L1 */
        cmocka_unit_test(test_finetune_gradient_of_the_combined_loss_matches_finite_differences),
        cmocka_unit_test(test_finetune_with_lambda_zero_ignores_the_lm_term),
        /* 2. the input transformation */
        cmocka_unit_test(test_make_batch_weights_cover_exactly_the_text_tokens),
        cmocka_unit_test(test_classifier_reads_the_extract_token_and_not_the_padding),
        cmocka_unit_test(test_an_example_is_classified_the_same_alone_and_in_a_padded_batch),
        cmocka_unit_test(test_encode_example_wraps_the_text_in_start_and_extract),
        /* 3. the programs learn */
        cmocka_unit_test(test_pretrain_for_a_few_steps_lowers_the_loss),
        cmocka_unit_test(test_finetune_on_a_separable_toy_set_reaches_full_train_accuracy),
        cmocka_unit_test(test_finetune_evaluates_a_test_set_larger_than_the_training_batch),
        /* 4. bad input */
        cmocka_unit_test(test_a_missing_data_file_is_refused_with_a_clear_message),
        cmocka_unit_test(test_a_checkpoint_of_another_vocabulary_is_refused),
        cmocka_unit_test(test_malformed_tsv_lines_are_refused_naming_file_and_line),
        cmocka_unit_test(test_an_unknown_flag_is_refused),
        cmocka_unit_test(test_a_flag_without_its_value_says_so),
        cmocka_unit_test(test_channels_not_divisible_by_heads_is_refused_before_anything_is_written),
        cmocka_unit_test(test_fast_sets_tiny_defaults_and_explicit_flags_win),
        /* 5. eval and --init */
        cmocka_unit_test(test_eval_prints_the_validation_loss_that_pretrain_logged),
        cmocka_unit_test(test_pretrain_init_continues_from_an_llmc_layout_checkpoint),
        cmocka_unit_test(test_a_checkpoint_of_another_vocabulary_is_refused_by_eval_and_init),
        /* 6. outputs and logs */
        cmocka_unit_test(test_finetune_refuses_an_out_that_is_its_model_before_any_work),
        cmocka_unit_test(test_a_log_on_a_full_device_is_refused_in_one_line),
        /* 7. interruption */
        cmocka_unit_test(test_a_killed_pretraining_run_resumes_to_the_same_model),
    };
    return cmocka_run_group_tests_name("gpt1", tests, group_setup, group_teardown);
}
