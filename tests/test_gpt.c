/* test_gpt.c — what the GPT-2 model promises, checked one property per test.
 *
 * The strongest check comes first: the model agrees with an independent
 * PyTorch implementation (tests/reference/, see its README) on the logits,
 * the loss and the gradient of every parameter, for a tiny model whose
 * parameters are all random and of order 1. The ops are each checked against
 * finite differences in test_tensor.c; this file checks that gpt.c wires them
 * together into GPT-2: the right shapes, the right order, the residual
 * stream, the tied embedding getting both of its gradients.
 *
 * Then the properties a learner would ask about: the causal mask, the
 * parameter count, a whole-model gradient check, overfitting one batch,
 * checkpoints (round trip and every way a file can be wrong), determinism and
 * threads, the gradient path the heads of later rungs use (dhidden), and
 * greedy sampling.
 *
 * Random test data comes from the test's own splitmix64, so a bug in the
 * module's Rng cannot hide a bug in the model.
 */
#include "testutil.h"
#include "gpt.h"
#include "util.h"

static void random_tokens(int *x, size_t n, int V) {
    for (size_t i = 0; i < n; i++) x[i] = test_below(V);
}

/* ---- helpers ---- */

static const char *const param_names[NUM_PARAM_TENSORS] = {
    "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb",
};

/* Where parameter tensor i starts in params_memory (and grads_memory). */
static size_t param_offset(const GPT *m, int i) {
    size_t off = 0;
    for (int k = 0; k < i; k++) off += m->param_sizes[k];
    return off;
}

/* Replaces GPT-2's initialisation (weights N(0, 0.02), biases 0, gains 1) by
 * random values of order 1, as the PyTorch reference does: attention scores,
 * GELU inputs and logits are then far from the linear regime, and biases and
 * LayerNorm gains are not at special values, so a gradient check sees every
 * term of every op. Padded wte rows stay zero, as gpt_build leaves them. */
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
        default: lo = -0.2f; hi = 0.2f;  /* biases and LayerNorm shifts */
        }
        for (size_t j = 0; j < m->param_sizes[i]; j++) w[j] = test_uniform(lo, hi);
    }
    const GPTConfig *c = &m->config;
    memset(m->params.wte + (size_t)c->V * c->C, 0, sizeof(float) * (size_t)(c->Vp - c->V) * c->C);
}

static float max_abs(const float *x, size_t n) {
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) if (fabsf(x[i]) > m) m = fabsf(x[i]);
    return m;
}

static float train_step(GPT *m, const int *inputs, const int *targets, int B, int T, float lr,
                        const AdamWConfig *opt) {
    float loss = gpt_lm_step(m, inputs, targets, NULL, B, T);
    gpt_clip_grad(m, 1.0f);
    gpt_update(m, lr, opt);
    return loss;
}

static void load_into_scratch(void *path) {
    GPT m;
    gpt_load(&m, (const char *)path);
    gpt_free(&m);
}

/* ---- 1. agreement with PyTorch ---- */

#define REFERENCE_PATH "tests/reference/gpt2_tiny_reference.bin"
#define REF_MAGIC 20240327
#define REF_VERSION 1

/* The reference file is an llm.c checkpoint followed by a section holding a
 * batch and PyTorch's answers for it (layout: tests/reference/README.md).
 * PyTorch computed in float64 on the float32 parameters, so the answers are
 * exact up to one rounding; our float32 forward and backward differ from them
 * by accumulated rounding only, a few parts in 1e6 here. We allow 1e-4 on the
 * logits and the loss (absolute and relative), and 1e-4 of each gradient
 * tensor's largest magnitude on its elements: a missing term, a wrong
 * transpose or a gradient sent to the wrong place is off by far more. */
static void test_model_matches_pytorch_reference(void **state) {
    (void)state;
    size_t len;
    char *file = read_file_or_die(REFERENCE_PATH, &len);
    int header[GPT_HEADER_INTS];
    assert_true(len >= sizeof header);
    memcpy(header, file, sizeof header);
    assert_int_equal(header[0], GPT_MAGIC);
    assert_int_equal(header[1], GPT_VERSION);
    GPTConfig cfg = {.maxT = header[2], .V = header[3], .L = header[4], .NH = header[5],
                     .C = header[6], .Vp = header[7]};
    size_t nparams = gpt_num_parameters(&cfg);
    size_t ckpt_bytes = sizeof header + sizeof(float) * nparams;

    /* the checkpoint part alone is a file gpt_load accepts, as llm.c would */
    char path[256];
    temp_path(path, sizeof path, "reference-checkpoint.bin");
    write_bytes(path, file, ckpt_bytes);
    GPT m;
    gpt_load(&m, path);
    remove(path);
    assert_int_equal(m.config.maxT, cfg.maxT);
    assert_int_equal(m.config.V, cfg.V);
    assert_int_equal(m.config.Vp, cfg.Vp);
    assert_int_equal(m.config.L, cfg.L);
    assert_int_equal(m.config.NH, cfg.NH);
    assert_int_equal(m.config.C, cfg.C);
    assert_int_equal(m.num_parameters, nparams);
    assert_memory_equal(m.params_memory, file + sizeof header, sizeof(float) * nparams);

    /* the reference section */
    const char *p = file + ckpt_bytes;
    int sec[4];
    assert_true(len >= ckpt_bytes + sizeof sec);
    memcpy(sec, p, sizeof sec);
    p += sizeof sec;
    assert_int_equal(sec[0], REF_MAGIC);
    assert_int_equal(sec[1], REF_VERSION);
    int B = sec[2], T = sec[3];
    size_t BT = (size_t)B * T, nlogits = BT * cfg.Vp;
    assert_int_equal(len, ckpt_bytes + sizeof sec + 2 * BT * sizeof(int) +
                          (nlogits + 1 + nparams) * sizeof(float));
    int *inputs = malloc_or_die(BT * sizeof(int), "inputs");
    int *targets = malloc_or_die(BT * sizeof(int), "targets");
    float *want_logits = malloc_or_die(nlogits * sizeof(float), "logits");
    float *want_grads = malloc_or_die(nparams * sizeof(float), "grads");
    float want_loss;
    memcpy(inputs, p, BT * sizeof(int)); p += BT * sizeof(int);
    memcpy(targets, p, BT * sizeof(int)); p += BT * sizeof(int);
    memcpy(want_logits, p, nlogits * sizeof(float)); p += nlogits * sizeof(float);
    memcpy(&want_loss, p, sizeof(float)); p += sizeof(float);
    memcpy(want_grads, p, nparams * sizeof(float));

    float loss = gpt_lm_step(&m, inputs, targets, NULL, B, T);
    check_close("logits vs PyTorch (padded columns included)", m.acts.logits, want_logits,
                nlogits, 1e-4, 1e-4);
    check_close("mean loss vs PyTorch", &loss, &want_loss, 1, 1e-4, 1e-4);
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        size_t off = param_offset(&m, i), n = m.param_sizes[i];
        char name[96];
        snprintf(name, sizeof name, "gradient of %s vs PyTorch", param_names[i]);
        check_close(name, m.grads_memory + off, want_grads + off, n, 0.0,
                    1e-4 * max_abs(want_grads + off, n));
    }
    gpt_free(&m);
    free(inputs); free(targets); free(want_logits); free(want_grads); free(file);
}

/* ---- 2. the causal mask ---- */

/* Position t must not see the future: changing the token at t+1 leaves the
 * logits at positions 0..t exactly as they were (every op works row by row
 * except attention, whose mask gives future keys weight exactly 0), and does
 * change the logits at t+1. This is what lets one forward pass train all T
 * next-token predictions at once. */
static void test_causal_mask_hides_future_tokens(void **state) {
    (void)state;
    const int B = 2, T = 8;
    GPT m;
    gpt_build(&m, gpt_config(T, 30, 2, 2, 16), 11);
    randomize_params(&m, 12);
    int Vp = m.config.Vp, inputs[2 * 8], changed[2 * 8];
    random_tokens(inputs, (size_t)B * T, m.config.V);
    gpt_forward(&m, inputs, B, T);
    float *before = copy_floats(m.acts.logits, (size_t)B * T * Vp);
    for (int t = 0; t + 1 < T; t++) {
        memcpy(changed, inputs, sizeof inputs);
        for (int b = 0; b < B; b++) {
            int *tok = &changed[b * T + t + 1];
            *tok = (*tok + 1 + test_below(m.config.V - 1)) % m.config.V;  /* a different token */
        }
        gpt_forward(&m, changed, B, T);
        for (int b = 0; b < B; b++) {
            const float *a = before + (size_t)b * T * Vp, *a2 = m.acts.logits + (size_t)b * T * Vp;
            size_t past = (size_t)(t + 1) * Vp;  /* the logits of positions 0..t */
            if (memcmp(a, a2, past * sizeof(float)) != 0) {
                print_error("changing the token at %d changed a logit at a position <= %d (batch %d)\n",
                            t + 1, t, b);
                fail();
            }
            /* and the change is visible at t+1: the test would catch a leak */
            assert_true(memcmp(a + past, a2 + past, (size_t)Vp * sizeof(float)) != 0);
        }
    }
    free(before);
    gpt_free(&m);
}

/* ---- 3. the parameter count ---- */

/* gpt.h gives the count in closed form: Vp C + maxT C + L (12 C^2 + 13 C) + 2 C
 * (per block: qkv 3C^2 + 3C, attention projection C^2 + C, MLP 8C^2 + 5C, two
 * LayerNorms 4C). It must equal the sum of the tensor sizes actually laid
 * out, the count worked by hand for one config, and llm.c's count for GPT-2
 * small (124M, with Vp = 50304). */
static void test_parameter_count_matches_the_closed_form(void **state) {
    (void)state;
    GPTConfig cfg = gpt_config(16, 60, 2, 2, 16);
    assert_int_equal(cfg.Vp, 64);
    GPT m;
    gpt_build(&m, cfg, 1);
    size_t sum = 0;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) sum += m.param_sizes[i];
    /* by hand: wte 64*16 + wpe 16*16 + 2 blocks * (12*256 + 13*16) + lnf 2*16 */
    size_t by_hand = 1024 + 256 + 2 * (3072 + 208) + 32;
    assert_int_equal(by_hand, 7872);
    assert_int_equal(gpt_num_parameters(&cfg), by_hand);
    assert_int_equal(m.num_parameters, by_hand);
    assert_int_equal(sum, by_hand);
    /* the tensors lie back to back in the enum's order, ending at the buffer's end */
    assert_ptr_equal(m.params.wpe, m.params.wte + m.param_sizes[P_WTE]);
    assert_ptr_equal(m.params.lnfb + m.param_sizes[P_LNFB], m.params_memory + by_hand);
    gpt_free(&m);

    GPTConfig small = gpt_config(1024, 50257, 12, 12, 768);
    assert_int_equal(small.Vp, 50304);
    assert_int_equal(gpt_num_parameters(&small), 124475904);
    /* Vp rounds up to the next multiple of 64, and leaves multiples alone */
    assert_int_equal(gpt_config(8, 64, 1, 1, 8).Vp, 64);
    assert_int_equal(gpt_config(8, 65, 1, 1, 8).Vp, 128);
}

/* ---- 4. whole-model gradient check ---- */

/* The gradient of the mean loss from gpt_backward against central differences
 * (L(p+h) - L(p-h)) / 2h on a sample of parameters from every tensor: the
 * largest-gradient element of each tensor (so each check has something to
 * see) and random ones, including wte rows of tokens that appear in the input
 * (which get a gradient from both the embedding and the output layer), rows
 * that do not (output layer only), and wpe rows of positions < T.
 *
 * Why h = 1e-2 and atol 2e-4 + rtol 2e-2: the loss is computed in float32,
 * with a rounding error of about 1e-6 (a few ulps of a loss near 3); dividing
 * by 2h = 2e-2 turns that into ~5e-5 of noise on the numerical derivative.
 * The truncation error of a central difference is h^2/6 f''', ~1e-5 here.
 * A smaller h drowns the signal in rounding, a larger one in curvature.
 * Gradients of interest are 1e-3..1e-1; a wrong one is off by its own size.
 * (Some are exactly 0 and that is right: the key bias adds the same q.b to
 * every score of a query, which the softmax cannot see.) */
#define GC_H 1e-2f
#define GC_RTOL 2e-2
#define GC_ATOL 2e-4

static void test_whole_model_gradient_matches_finite_differences(void **state) {
    (void)state;
    enum { B = 2, T = 8 };
    GPT m;
    gpt_build(&m, gpt_config(T, 30, 2, 2, 16), 21);
    randomize_params(&m, 22);
    int V = m.config.V, C = m.config.C, inputs[B * T], targets[B * T];
    random_tokens(inputs, B * T, V);
    random_tokens(targets, B * T, V);
    gpt_lm_step(&m, inputs, targets, NULL, B, T);
    float *grads = copy_floats(m.grads_memory, m.num_parameters);

    int in_input[64] = {0};
    for (int i = 0; i < B * T; i++) in_input[inputs[i]] = 1;
    int unused = 0;
    while (in_input[unused]) unused++;  /* 16 tokens cannot cover 30 */

    size_t sample[64];
    int ns = 0;
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        size_t off = param_offset(&m, i), n = m.param_sizes[i], worst = 0;
        for (size_t j = 0; j < n; j++) if (fabsf(grads[off + j]) > fabsf(grads[off + worst])) worst = j;
        sample[ns++] = off + worst;
        if (i == P_WTE) {
            sample[ns++] = off + (size_t)inputs[3] * C + (size_t)test_below(C);
            sample[ns++] = off + (size_t)inputs[B * T - 1] * C + (size_t)test_below(C);
            sample[ns++] = off + (size_t)unused * C + (size_t)test_below(C);
        } else if (i == P_WPE) {
            sample[ns++] = off + (size_t)test_below(T * C);
            sample[ns++] = off + (size_t)test_below(T * C);
        } else {
            sample[ns++] = off + (size_t)test_below((int)n);
            sample[ns++] = off + (size_t)test_below((int)n);
        }
    }
    float analytic[64], numeric[64];
    for (int s = 0; s < ns; s++) {
        float *x = m.params_memory + sample[s], x0 = *x, xp = x0 + GC_H, xm = x0 - GC_H;
        *x = xp;
        gpt_forward(&m, inputs, B, T);
        double lp = gpt_lm_loss(&m, targets, NULL);
        *x = xm;
        gpt_forward(&m, inputs, B, T);
        double lm = gpt_lm_loss(&m, targets, NULL);
        *x = x0;
        analytic[s] = grads[sample[s]];
        numeric[s] = (float)((lp - lm) / ((double)xp - (double)xm));
    }
    /* one check per tensor, so that a failure names the tensor */
    for (int s = 0, i = 0; i < NUM_PARAM_TENSORS; i++) {
        int first = s;
        size_t end = param_offset(&m, i) + m.param_sizes[i];
        while (s < ns && sample[s] < end) s++;
        char name[96];
        snprintf(name, sizeof name, "d loss / d %s (sample %d..%d) vs finite differences",
                 param_names[i], first, s - 1);
        check_close(name, analytic + first, numeric + first, (size_t)(s - first), GC_RTOL, GC_ATOL);
    }
    free(grads);
    gpt_free(&m);
}

/* ---- 5. learning ---- */

/* A model with far more parameters than targets must memorise one small batch
 * of random tokens: the loss falls from ln(V) ~ 3.4 to below 0.1. If the
 * gradient pointed the wrong way anywhere that mattered, it would not. */
static void test_model_overfits_a_single_small_batch(void **state) {
    (void)state;
    enum { B = 2, T = 8 };
    GPT m;
    gpt_build(&m, gpt_config(T, 30, 2, 2, 32), 31);
    int inputs[B * T], targets[B * T];
    test_seed(32);
    random_tokens(inputs, B * T, m.config.V);
    random_tokens(targets, B * T, m.config.V);
    AdamWConfig opt = {0.9f, 0.95f, 1e-8f, 0.0f};
    float first = 0.0f, loss = 0.0f;
    int step;
    for (step = 0; step < 400; step++) {
        loss = train_step(&m, inputs, targets, B, T, 3e-3f, &opt);
        if (step == 0) first = loss;
        if (loss < 0.1f) break;
    }
    if (!(loss < 0.1f)) {
        print_error("loss %.4f after %d steps (started at %.4f), want < 0.1\n", (double)loss, step,
                    (double)first);
        fail();
    }
    assert_true(fabsf(first - logf(30.0f)) < 0.5f);  /* it started near uniform */
    gpt_free(&m);
}

/* ---- 6. checkpoints ---- */

/* What is saved is what is loaded, bit for bit; the file is exactly the
 * header plus the parameters (what llm.c expects); the temporary file used
 * for the atomic write is gone. */
static void test_save_then_load_round_trips_bit_identically(void **state) {
    (void)state;
    GPT m, m2;
    gpt_build(&m, gpt_config(12, 50, 2, 4, 16), 41);
    randomize_params(&m, 42);
    char path[256], tmp[300];
    temp_path(path, sizeof path, "roundtrip.bin");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    gpt_save(&m, path);
    assert_false(file_exists(tmp));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((size_t)st.st_size, 1024 + 4 * m.num_parameters);

    size_t len;
    char *bytes = read_file_or_die(path, &len);
    int header[GPT_HEADER_INTS];
    memcpy(header, bytes, sizeof header);
    int want[8] = {GPT_MAGIC, GPT_VERSION, 12, 50, 2, 4, 16, 64};
    assert_memory_equal(header, want, sizeof want);
    for (int i = 8; i < GPT_HEADER_INTS; i++) assert_int_equal(header[i], 0);
    free(bytes);

    gpt_load(&m2, path);
    assert_memory_equal(&m2.config, &m.config, sizeof m.config);
    assert_int_equal(m2.num_parameters, m.num_parameters);
    assert_memory_equal(m2.params_memory, m.params_memory, sizeof(float) * m.num_parameters);
    remove(path);
    gpt_free(&m);
    gpt_free(&m2);
}

/* Writes a valid checkpoint of a small model to path, with `mutate` applied
 * to its bytes first and `extra` bytes added (negative: removed) at the end. */
static void write_bad_checkpoint(const char *path, void (*mutate)(int *header), long extra) {
    GPT m;
    gpt_build(&m, gpt_config(8, 20, 1, 2, 8), 51);
    gpt_save(&m, path);
    gpt_free(&m);
    size_t len;
    char *bytes = read_file_or_die(path, &len);
    bytes = realloc_or_die(bytes, len + (extra > 0 ? (size_t)extra : 0), "bytes");
    if (mutate) mutate((int *)bytes);
    if (extra > 0) memset(bytes + len, 0, (size_t)extra);
    write_bytes(path, bytes, (size_t)((long)len + extra));
    free(bytes);
}

static void set_bad_magic(int *h) { h[0] = 20240520; }  /* a token file's magic */
static void set_version_2(int *h) { h[1] = 2; }
static void set_version_5(int *h) { h[1] = 5; }
static void set_nh_3(int *h) { h[5] = 3; }              /* C = 8 */

/* Every way a checkpoint can be wrong ends in one "error: " line that names
 * the problem, before anything is allocated from a bad header. */
static void test_bad_checkpoints_are_refused_with_a_clear_message(void **state) {
    (void)state;
    char path[256];
    temp_path(path, sizeof path, "bad.bin");

    write_bad_checkpoint(path, NULL, -100);
    expect_death(load_into_scratch, path, "truncated");
    write_bytes(path, "GPT", 3);
    expect_death(load_into_scratch, path, "shorter than the 1024-byte header");
    write_bad_checkpoint(path, set_bad_magic, 0);
    expect_death(load_into_scratch, path, "magic number 20240520, expected 20240326");
    write_bad_checkpoint(path, set_version_2, 0);
    expect_death(load_into_scratch, path, "version 2");
    write_bad_checkpoint(path, set_version_5, 0);
    expect_death(load_into_scratch, path, "bfloat16");
    write_bad_checkpoint(path, set_nh_3, 0);
    expect_death(load_into_scratch, path, "C (8) is not divisible by NH (3)");
    write_bad_checkpoint(path, NULL, 4);
    expect_death(load_into_scratch, path, "wrong size");
    /* the reference file is a checkpoint with a section appended: not a checkpoint */
    expect_death(load_into_scratch, REFERENCE_PATH, "wrong size");
    expect_death(load_into_scratch, "build/tmp/no-such-checkpoint.bin", "no-such-checkpoint.bin");
    remove(path);
}

/* ---- 7. determinism and threads ---- */

/* Three AdamW steps of a small model on random tokens, from one seed, on
 * `threads` threads; what they leave behind, for comparing bit for bit. */
typedef struct {
    float loss[3];
    float *logits, *grads, *params;
    size_t nlogits, np;
} Trained;

static Trained train_three_steps(int threads) {
    enum { B = 3, T = 16 };
    AdamWConfig opt = {0.9f, 0.95f, 1e-8f, 0.1f};
    Trained r;
    int saved = get_threads();
    set_threads(threads);
    GPT m;
    gpt_build(&m, gpt_config(T, 100, 2, 4, 32), 71);
    randomize_params(&m, 72);
    test_seed(73);
    for (int s = 0; s < 3; s++) {
        int inputs[B * T], targets[B * T];
        random_tokens(inputs, B * T, m.config.V);
        random_tokens(targets, B * T, m.config.V);
        r.loss[s] = train_step(&m, inputs, targets, B, T, 1e-3f, &opt);
    }
    set_threads(saved);
    r.nlogits = (size_t)B * T * m.config.Vp;
    r.np = m.num_parameters;
    r.logits = copy_floats(m.acts.logits, r.nlogits);
    r.grads = copy_floats(m.grads_memory, r.np);
    r.params = copy_floats(m.params_memory, r.np);
    gpt_free(&m);
    return r;
}

static void assert_trained_alike_and_free(Trained *a, Trained *b) {
    assert_memory_equal(a->loss, b->loss, sizeof a->loss);
    assert_memory_equal(a->logits, b->logits, sizeof(float) * a->nlogits);
    assert_memory_equal(a->grads, b->grads, sizeof(float) * a->np);
    assert_memory_equal(a->params, b->params, sizeof(float) * a->np);
    Trained *t[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        free(t[k]->logits);
        free(t[k]->grads);
        free(t[k]->params);
    }
}

/* Same seed, same data, same thread count: the same losses, bit for bit, and
 * the same parameters afterwards. Nothing in training may depend on timing. */
static void test_training_is_bit_identical_for_the_same_seed(void **state) {
    (void)state;
    Trained a = train_three_steps(get_threads()), b = train_three_steps(get_threads());
    assert_trained_alike_and_free(&a, &b);
}

/* One and two threads split the work differently, but every sum keeps its
 * order whatever the thread count: each matmul block, attention row and
 * LayerNorm channel band is summed by one thread, and the gradient norm in
 * fixed chunks (tensor.h). So a training step gives the same bits on one or
 * two threads: losses, logits, gradients and the parameters after AdamW.
 * That is what lets `make run` train two rungs side by side on one thread
 * each and still print the numbers the notes quote. */
static void test_training_gives_the_same_bits_on_one_or_two_threads(void **state) {
    (void)state;
    Trained one = train_three_steps(1), two = train_three_steps(2);
    assert_trained_alike_and_free(&one, &two);
}

/* ---- 8. the path the heads use: a gradient on the hidden states ---- */

/* A classifier, reward or value head reads acts.lnf and hands gpt_backward a
 * gradient on it, with no logits involved. For the objective sum(lnf * R) that
 * gradient is R itself; the parameter gradients must match finite differences.
 * The objective is a sum of 256 terms of order 1, so its float rounding is
 * ~1e-6 and the noise on a difference with h = 1e-2 is ~1e-4: atol 5e-4,
 * rtol 2e-2 (the gradients here are of order 0.1..10). */
static double hidden_objective(GPT *m, const int *inputs, const float *R, int B, int T) {
    gpt_forward(m, inputs, B, T);
    double s = 0.0;
    for (size_t i = 0; i < (size_t)B * T * m->config.C; i++) s += (double)m->acts.lnf[i] * R[i];
    return s;
}

static void test_backward_from_hidden_states_alone_matches_finite_differences(void **state) {
    (void)state;
    enum { B = 2, T = 8 };
    GPT m;
    gpt_build(&m, gpt_config(T, 30, 2, 2, 16), 81);
    randomize_params(&m, 82);
    int inputs[B * T];
    random_tokens(inputs, B * T, m.config.V);
    size_t nh = (size_t)B * T * m.config.C;
    float *R = malloc_or_die(nh * sizeof(float), "R");
    for (size_t i = 0; i < nh; i++) R[i] = test_uniform(-1, 1);

    gpt_forward(&m, inputs, B, T);
    gpt_zero_grad(&m);
    gpt_backward(&m, NULL, R);

    /* every tensor but the padded part of wte: the largest-gradient element
     * and one random one; wte only through the embedding here */
    for (int i = 0; i < NUM_PARAM_TENSORS; i++) {
        size_t off = param_offset(&m, i), n = m.param_sizes[i], worst = 0;
        const float *g = m.grads_memory + off;
        for (size_t j = 0; j < n; j++) if (fabsf(g[j]) > fabsf(g[worst])) worst = j;
        size_t idx[2] = {worst, 0};
        if (i == P_WTE) idx[1] = (size_t)inputs[5] * m.config.C + (size_t)test_below(m.config.C);
        else if (i == P_WPE) idx[1] = (size_t)test_below(T * m.config.C);
        else idx[1] = (size_t)test_below((int)n);
        float analytic[2], numeric[2];
        for (int s = 0; s < 2; s++) {
            float *x = m.params_memory + off + idx[s], x0 = *x, xp = x0 + GC_H, xm = x0 - GC_H;
            *x = xp;
            double lp = hidden_objective(&m, inputs, R, B, T);
            *x = xm;
            double lm = hidden_objective(&m, inputs, R, B, T);
            *x = x0;
            analytic[s] = m.grads_memory[off + idx[s]];
            numeric[s] = (float)((lp - lm) / ((double)xp - (double)xm));
        }
        char name[96];
        snprintf(name, sizeof name, "d sum(lnf*R) / d %s vs finite differences", param_names[i]);
        check_close(name, analytic, numeric, 2, 2e-2, 5e-4);
    }
    /* a token that is not in the input gets no gradient without the output layer */
    int seen[64] = {0};
    for (int i = 0; i < B * T; i++) seen[inputs[i]] = 1;
    for (int v = 0; v < m.config.Vp; v++) {
        if (v < m.config.V && seen[v]) continue;
        for (int c = 0; c < m.config.C; c++) assert_true(m.grads.wte[(size_t)v * m.config.C + c] == 0.0f);
    }
    free(R);
    gpt_free(&m);
}

/* gpt_backward ADDS into the gradients (so the LM loss and a head's loss can
 * be backpropagated one after the other); a second identical call doubles
 * them, up to float rounding: adding into a nonzero sum rounds differently
 * from doubling it, a few parts in 1e6. */
static void test_backward_adds_into_the_parameter_gradients(void **state) {
    (void)state;
    enum { B = 2, T = 8 };
    GPT m;
    gpt_build(&m, gpt_config(T, 30, 1, 2, 16), 91);
    randomize_params(&m, 92);
    int inputs[B * T], targets[B * T];
    random_tokens(inputs, B * T, m.config.V);
    random_tokens(targets, B * T, m.config.V);
    gpt_lm_step(&m, inputs, targets, NULL, B, T);
    float *once = copy_floats(m.grads_memory, m.num_parameters);
    for (size_t i = 0; i < m.num_parameters; i++) once[i] *= 2.0f;
    gpt_backward(&m, m.dlogits, NULL);
    check_close("gradients after two backward calls vs 2x one", m.grads_memory, once,
                m.num_parameters, 1e-5, 1e-6 * max_abs(once, m.num_parameters));
    free(once);
    gpt_free(&m);
}

/* ---- 9. sampling ---- */

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return best;
}

/* With temperature 0, sampling is greedy: each new token is the argmax of the
 * real-vocabulary logits at the last position, computed here by hand from
 * gpt_forward, over the last maxT tokens once the sequence outgrows the
 * context. It is the same every time, uses no randomness, and stops right
 * after the stop token. */
/* The KV cache is only a saving of work: each new token's query attends to
 * keys and values remembered from earlier positions instead of recomputing
 * them. So sampling with and without the cache, from the same seed, must
 * produce exactly the same tokens — at temperature 1, where any numerical
 * difference in the logits would soon change a draw. */
static void test_sampling_with_the_kv_cache_gives_the_same_tokens_as_without(void **state) {
    (void)state;
    GPT m;
    gpt_build(&m, gpt_config(32, 50, 2, 2, 16), 11);
    int prompt[5] = {3, 14, 15, 9, 2};
    int a[26], b[26];
    for (int trial = 0; trial < 3; trial++) {
        Rng r1, r2;
        rng_seed(&r1, 100 + trial);
        rng_seed(&r2, 100 + trial);
        int na = gpt_sample(&m, prompt, 5, a, 26, -1, 1.0f, 0, &r1);
        int nb = gpt_sample_uncached(&m, prompt, 5, b, 26, -1, 1.0f, 0, &r2);
        assert_int_equal(na, 26);
        assert_int_equal(nb, 26);
        assert_memory_equal(a, b, sizeof a);
    }
    /* past maxT the window slides; the cached sampler falls back and still agrees */
    int c[40], d[40];
    Rng r3, r4;
    rng_seed(&r3, 7);
    rng_seed(&r4, 7);
    gpt_sample(&m, prompt, 5, c, 40, -1, 1.0f, 0, &r3);
    gpt_sample_uncached(&m, prompt, 5, d, 40, -1, 1.0f, 0, &r4);
    assert_memory_equal(c, d, sizeof c);
    gpt_free(&m);
}

/* A kept sampler (what PPO's rollouts use) must sample exactly what
 * gpt_sample samples, call after call; after an optimiser step, once
 * refreshed, exactly what gpt_sample samples from the new weights. */
typedef struct { int seen[40], n, stop_at; } TokenLog;

static int log_token(void *ctx, int token) {
    TokenLog *t = ctx;
    t->seen[t->n++] = token;
    return t->n == t->stop_at;
}

static void sample_with_stale_weights(void *sampler) {
    int prompt[1] = {1}, out[2];
    Rng r;
    rng_seed(&r, 1);
    gpt_sampler_run(sampler, prompt, 1, out, 2, -1, 1.0f, 0, &r, NULL, NULL);
}

static void sample_past_the_context(void *sampler) {
    GPTSampler *s = sampler;
    int maxT = s->m->config.maxT, prompt[4] = {1, 2, 3, 4}, out[64];
    Rng r;
    rng_seed(&r, 1);
    gpt_sampler_run(s, prompt, 4, out, maxT - 2, -1, 1.0f, 0, &r, NULL, NULL);  /* 4 + maxT-2 = maxT+2 */
}

static void test_a_kept_sampler_samples_what_gpt_sample_does_before_and_after_an_update(void **state) {
    (void)state;
    enum { N = 4, NEW = 20, MAXT = 32 };
    GPT m;
    gpt_build(&m, gpt_config(MAXT, 50, 2, 2, 16), 13);
    randomize_params(&m, 14);
    int prompt[N] = {7, 1, 30, 2};
    GPTSampler s;
    gpt_sampler_init(&s, &m);
    AdamWConfig opt = {0.9f, 0.95f, 1e-8f, 0.0f};
    int inputs[8] = {1, 2, 3, 4, 5, 6, 7, 8}, targets[8] = {2, 3, 4, 5, 6, 7, 8, 9};
    int first[2][NEW];  /* each round's tokens from seed 50 */
    for (int round = 0; round < 2; round++) {
        if (round == 1) {
            train_step(&m, inputs, targets, 1, 8, 0.05f, &opt);
            expect_death(sample_with_stale_weights, &s, "call gpt_sampler_refresh");
            gpt_sampler_refresh(&s);
        }
        for (int trial = 0; trial < 2; trial++) {
            Rng r1, r2;
            rng_seed(&r1, 50 + (uint64_t)trial);
            rng_seed(&r2, 50 + (uint64_t)trial);
            int a[NEW], b[NEW];
            int na = gpt_sample(&m, prompt, N, a, NEW, -1, 1.0f, 0, &r1);
            int nb = gpt_sampler_run(&s, prompt, N, b, NEW, -1, 1.0f, 0, &r2, NULL, NULL);
            assert_int_equal(na, NEW);
            assert_int_equal(nb, NEW);
            assert_memory_equal(a, b, sizeof a);
            if (trial == 0) memcpy(first[round], a, sizeof a);
        }
    }
    /* the update changed what is sampled, so the comparison above could fail
     * if the refresh were missing */
    assert_true(memcmp(first[0], first[1], sizeof first[0]) != 0);

    /* the longest run the cache allows, prompt + new = maxT + 1, is still
     * the reference sampler's; one more token is refused */
    enum { LONG = MAXT + 1 - N };
    Rng r1, r2;
    rng_seed(&r1, 60);
    rng_seed(&r2, 60);
    int a[LONG], b[LONG];
    assert_int_equal(gpt_sample_uncached(&m, prompt, N, a, LONG, -1, 1.0f, 0, &r1), LONG);
    assert_int_equal(gpt_sampler_run(&s, prompt, N, b, LONG, -1, 1.0f, 0, &r2, NULL, NULL), LONG);
    assert_memory_equal(a, b, sizeof a);
    expect_death(sample_past_the_context, &s, "outgrow");

    /* the token callback sees every token in order; a nonzero return stops
     * after that token, and so does the stop token (chat uses both) */
    TokenLog log = {.n = 0, .stop_at = 6};
    int c[NEW];
    rng_seed(&r2, 60);
    assert_int_equal(gpt_sampler_run(&s, prompt, N, c, NEW, -1, 1.0f, 0, &r2, log_token, &log), 6);
    assert_int_equal(log.n, 6);
    assert_memory_equal(log.seen, a, sizeof(int) * 6);
    assert_memory_equal(c, a, sizeof(int) * 6);
    int stop = a[3], at = 0;  /* the first occurrence of the 4th token */
    while (a[at] != stop) at++;
    TokenLog all = {.n = 0, .stop_at = -1};
    rng_seed(&r2, 60);
    assert_int_equal(gpt_sampler_run(&s, prompt, N, c, NEW, stop, 1.0f, 0, &r2, log_token, &all), at + 1);
    assert_int_equal(all.n, at + 1);
    assert_memory_equal(all.seen, a, sizeof(int) * (size_t)(at + 1));
    gpt_sampler_free(&s);
    gpt_free(&m);
}

/* A batch of sequences sampled together (PPO's rollouts) must give each
 * sequence exactly the tokens the one-sequence sampler gives it from a copy
 * of the same Rng: each sequence draws from its own Rng, every op computes
 * each row on its own, and the matmul kernels give the same bits for any
 * number of rows. Checked at temperature > 0, where a difference in the last
 * bit of a logit would soon change a draw; with top-k; with a stop token
 * that some sequences reach early (they drop out of the batch while others
 * go on); on one and two threads; with more sequences than the sampler
 * takes at once (GPT_SAMPLER_SEQS), and so many prompt tokens that the
 * prefill is cut into passes (GPT_SAMPLER_ROWS) in the middle of a prompt. */
enum { BATCH_MAXT = 32, BATCH_NEW = 10, BATCH_SEQS = GPT_SAMPLER_SEQS + 20 };

/* Samples prompts[0..nseq) as one batch, then each alone from a copy of the
 * same Rng, and compares; returns how many stopped before BATCH_NEW tokens. */
static int check_batch_matches_single(GPTSampler *s, int nseq, const int *const *prompts, const int *plen,
                                      int stop, float temperature, int top_k, uint64_t seed) {
    static int batch[BATCH_SEQS][BATCH_NEW];
    int *outs[BATCH_SEQS] = {0}, produced[BATCH_SEQS], single[BATCH_NEW], early = 0;
    Rng rngs[BATCH_SEQS];
    for (int i = 0; i < nseq; i++) {
        rng_seed(&rngs[i], seed + (uint64_t)i);
        outs[i] = batch[i];
    }
    gpt_sampler_run_batch(s, nseq, prompts, plen, outs, produced, BATCH_NEW, stop, temperature, top_k, rngs);
    for (int i = 0; i < nseq; i++) {
        Rng copy;
        rng_seed(&copy, seed + (uint64_t)i);
        int n = gpt_sampler_run(s, prompts[i], plen[i], single, BATCH_NEW, stop, temperature, top_k, &copy,
                                NULL, NULL);
        assert_int_equal(produced[i], n);
        assert_memory_equal(batch[i], single, sizeof(int) * (size_t)n);
        assert_true(rngs[i].state == copy.state);  /* the same draws, no more */
        early += n < BATCH_NEW;
    }
    return early;
}

static void test_a_batch_samples_for_each_sequence_exactly_what_it_samples_alone(void **state) {
    (void)state;
    GPT m;
    gpt_build(&m, gpt_config(BATCH_MAXT, 50, 2, 2, 16), 21);
    randomize_params(&m, 22);
    static int tokens[BATCH_SEQS][BATCH_MAXT];
    const int *prompts[BATCH_SEQS];
    int plen[BATCH_SEQS], rows = 0;
    test_seed(23);
    for (int i = 0; i < BATCH_SEQS; i++) {
        plen[i] = 1 + test_below(BATCH_MAXT + 1 - BATCH_NEW);  /* 1..22 tokens */
        random_tokens(tokens[i], (size_t)plen[i], m.config.V);
        prompts[i] = tokens[i];
        rows += plen[i];
    }
    assert_true(rows > 2 * GPT_SAMPLER_ROWS);  /* the prefill takes more than one pass */
    GPTSampler s;
    gpt_sampler_init(&s, &m);
    int saved = get_threads();
    for (int threads = 1; threads <= 2; threads++) {
        set_threads(threads);
        /* a small batch first, then the cache grows to the large one */
        assert_int_equal(check_batch_matches_single(&s, 5, prompts, plen, -1, 1.0f, 0, 100), 0);
        assert_int_equal(check_batch_matches_single(&s, BATCH_SEQS, prompts, plen, -1, 1.0f, 0, 200), 0);
        check_batch_matches_single(&s, BATCH_SEQS, prompts, plen, -1, 0.7f, 5, 300);
        /* a stop token: the third token sampled for the first prompt */
        Rng r;
        rng_seed(&r, 400);
        int first[BATCH_NEW];
        gpt_sampler_run(&s, prompts[0], plen[0], first, BATCH_NEW, -1, 1.0f, 0, &r, NULL, NULL);
        int early = check_batch_matches_single(&s, BATCH_SEQS, prompts, plen, first[2], 1.0f, 0, 400);
        assert_true(early > 0 && early < BATCH_SEQS);  /* some stop early, some go on */
    }
    set_threads(saved);
    gpt_sampler_free(&s);
    gpt_free(&m);
}

static void test_greedy_sampling_is_the_argmax_continuation_and_stops_at_the_stop_token(void **state) {
    (void)state;
    enum { MAXT = 8, N = 3, NEW = 12 };
    GPT m;
    gpt_build(&m, gpt_config(MAXT, 30, 2, 2, 16), 101);
    randomize_params(&m, 102);
    int V = m.config.V, Vp = m.config.Vp;
    int prompt[N] = {4, 17, 9};

    int seq[N + NEW], want[NEW];
    memcpy(seq, prompt, sizeof prompt);
    for (int k = 0; k < NEW; k++) {
        int len = N + k, start = len > MAXT ? len - MAXT : 0, T = len - start;
        gpt_forward(&m, seq + start, 1, T);
        want[k] = seq[len] = argmax(m.acts.logits + (size_t)(T - 1) * Vp, V);
    }

    Rng rng;
    rng_seed(&rng, 7);
    Rng rng0 = rng;
    int got[NEW], again[NEW];
    assert_int_equal(gpt_sample(&m, prompt, N, got, NEW, -1, 0.0f, 0, &rng), NEW);
    assert_memory_equal(got, want, sizeof want);
    assert_int_equal(gpt_sample(&m, prompt, N, again, NEW, -1, 0.0f, 0, &rng), NEW);
    assert_memory_equal(again, want, sizeof want);
    assert_true(rng.state == rng0.state);  /* greedy draws no random numbers */

    /* stop after the first occurrence of the token that comes 5th */
    int stop = want[4], first = 0;
    while (want[first] != stop) first++;
    int stopped[NEW];
    assert_int_equal(gpt_sample(&m, prompt, N, stopped, NEW, stop, 0.0f, 0, &rng), first + 1);
    assert_memory_equal(stopped, want, sizeof(int) * (size_t)(first + 1));
    gpt_free(&m);
}

/* ---- main ---- */

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_matches_pytorch_reference),
        cmocka_unit_test(test_causal_mask_hides_future_tokens),
        cmocka_unit_test(test_parameter_count_matches_the_closed_form),
        cmocka_unit_test(test_whole_model_gradient_matches_finite_differences),
        cmocka_unit_test(test_model_overfits_a_single_small_batch),
        cmocka_unit_test(test_save_then_load_round_trips_bit_identically),
        cmocka_unit_test(test_bad_checkpoints_are_refused_with_a_clear_message),
        cmocka_unit_test(test_training_is_bit_identical_for_the_same_seed),
        cmocka_unit_test(test_training_gives_the_same_bits_on_one_or_two_threads),
        cmocka_unit_test(test_backward_from_hidden_states_alone_matches_finite_differences),
        cmocka_unit_test(test_backward_adds_into_the_parameter_gradients),
        cmocka_unit_test(test_greedy_sampling_is_the_argmax_continuation_and_stops_at_the_stop_token),
        cmocka_unit_test(test_sampling_with_the_kv_cache_gives_the_same_tokens_as_without),
        cmocka_unit_test(test_a_kept_sampler_samples_what_gpt_sample_does_before_and_after_an_update),
        cmocka_unit_test(test_a_batch_samples_for_each_sequence_exactly_what_it_samples_alone),
    };
    return cmocka_run_group_tests_name("gpt", tests, NULL, NULL);
}
