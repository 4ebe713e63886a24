/* test_scaling.c — what rung 3c (scaling) promises, one property per test.
 * The rung is included whole (TESTING hides its main).
 *
 *   1. The fit: least squares recovers alpha, N_c and L_inf of a power law
 *      from exact synthetic points, and close to them from noisy ones; a loss
 *      that rises with size gets no fit.
 *   2. The counts: N in closed form is the allocated model minus its
 *      embeddings; 6 N D is six FLOPs per weight of the block's matmuls per
 *      token, up to the biases and LayerNorms.
 *   3. The data: no window of the corpus is seen twice, and a data-sweep run
 *      sees a prefix of what the full run sees.
 *   4. The program end to end under --fast, on a tiny corpus, writes its four
 *      logs and its summary line.
 *   5. Bad input: an empty size list, heads that do not divide the width, a
 *      budget that would repeat data (refused: scaling never repeats).
 */
#include "testutil.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../src/scaling.c"
#pragma GCC diagnostic pop

/* ---- 1. the fit ---- */

static void test_power_law_fit_recovers_alpha_and_l_inf_from_synthetic_points(void **state) {
    (void)state;
    double x[6], y[6];
    for (int i = 0; i < 6; i++) {
        x[i] = 1e4 * pow(3.0, i);                 /* 10^4 .. 2.4 10^6: the family's span */
        y[i] = pow(2e5 / x[i], 0.35) + 1.10;
    }
    PowerFit f = fit_power_law(x, y, 6);
    assert_true(f.ok);
    assert_false(f.edge);
    assert_float_equal(f.alpha, 0.35, 1e-4);
    assert_float_equal(f.linf, 1.10, 1e-4);
    assert_true(fabs(f.xc / 2e5 - 1.0) < 1e-2);
    assert_true(f.rss < 1e-9);
    assert_float_equal(power_law(&f, 5e4), pow(4.0, 0.35) + 1.10, 1e-4);

    /* noise of +-0.005 nats, the size of a validation loss's wobble */
    double noise[6] = {0.004, -0.005, 0.002, 0.005, -0.003, -0.004};
    for (int i = 0; i < 6; i++) y[i] += noise[i];
    f = fit_power_law(x, y, 6);
    assert_true(f.ok);
    assert_true(fabs(f.alpha - 0.35) < 0.1);
    assert_true(fabs(f.linf - 1.10) < 0.1);
}

static void test_power_law_fit_gives_none_for_a_loss_that_rises_with_size_or_too_few_points(void **state) {
    (void)state;
    double x[4] = {1e3, 1e4, 1e5, 1e6}, rising[4] = {1.0, 1.1, 1.3, 1.6};
    assert_false(fit_power_law(x, rising, 4).ok);
    double y[2] = {2.0, 1.5};
    assert_false(fit_power_law(x, y, 2).ok);
    /* a straight line in log N has no floor: the fit says so */
    double line[4] = {3.0, 2.5, 2.0, 1.5};
    PowerFit f = fit_power_law(x, line, 4);
    assert_true(f.ok);
    assert_true(f.edge);
}

/* ---- 2. the counts ---- */

static void test_non_embedding_parameters_are_the_model_minus_its_embeddings(void **state) {
    (void)state;
    Shape shapes[] = {{1, 32, 1}, {2, 64, 2}, {3, 96, 3}, {5, 160, 5}, {1, 8, 1}};
    for (int i = 0; i < 5; i++) {
        Shape s = shapes[i];
        GPT m;
        gpt_build(&m, gpt_config(128, 512, s.L, s.NH, s.C), 1);
        size_t embeddings = m.param_sizes[P_WTE] + m.param_sizes[P_WPE];
        assert_int_equal((size_t)non_embedding_params(s), m.num_parameters - embeddings);
        /* Kaplan's 12 L C^2 is the same to within the biases and LayerNorms */
        assert_true(fabs(non_embedding_params(s) / (12.0 * s.L * s.C * s.C) - 1.0) < 2.0 / s.C);
        gpt_free(&m);
    }
}

/* 6 N D: per token, a forward pass does one multiply and one add per weight
 * of every block matmul (qkv, attention projection, MLP up and down), and the
 * backward pass twice that (gradients of the input and of the weight). */
static void test_training_flops_are_six_per_matmul_weight_per_token(void **state) {
    (void)state;
    Shape s = {4, 128, 4};
    GPT m;
    gpt_build(&m, gpt_config(128, 512, s.L, s.NH, s.C), 1);
    double weights = (double)(m.param_sizes[P_QKVW] + m.param_sizes[P_ATTPROJW] + m.param_sizes[P_FCW] +
                              m.param_sizes[P_FCPROJW]);
    assert_float_equal(weights, 12.0 * s.L * s.C * s.C, 0.5);
    double D = 1 << 20, counted = (2.0 + 4.0) * weights * D;
    double closed = training_flops(non_embedding_params(s), D);
    assert_float_equal(closed, 6.0 * non_embedding_params(s) * D, 1.0);
    assert_true(closed >= counted && closed / counted - 1.0 < 13.0 / (12.0 * s.C) + 1e-3);
    gpt_free(&m);
}

/* ---- 3. the data ---- */

static void test_windows_are_a_permutation_and_a_short_run_sees_a_prefix(void **state) {
    (void)state;
    enum { N = 1000, T = 16, B = 4 };
    int tokens[N];
    for (int i = 0; i < N; i++) tokens[i] = i;  /* a token's value is its position */
    Windows w;
    windows_init(&w, tokens, N, T, 7);
    assert_int_equal(w.nwin, (N - 1) / T);
    int seen[(N - 1) / T] = {0};
    for (int i = 0; i < w.nwin; i++) seen[w.order[i]]++;
    for (int i = 0; i < w.nwin; i++) assert_int_equal(seen[i], 1);
    int in[B * T], tg[B * T];
    for (int step = 0; step < w.nwin / B; step++) {
        windows_batch(&w, step, B, in, tg);
        for (int b = 0; b < B; b++) {
            assert_int_equal(in[b * T], w.order[step * B + b] * T);  /* the window it names */
            for (int t = 0; t < T; t++) assert_int_equal(tg[b * T + t], in[b * T + t] + 1);
        }
    }
    free(w.order);
}

/* ---- 4. end to end, and 5. bad input ---- */

typedef struct { char merges[256], data[256], val[256], logs[4][256]; } Files;
static Files fx;

/* A 300-token tokenizer and token files from the committed corpus excerpt. */
static int group_setup(void **state) {
    (void)state;
    size_t len, n;
    char *text = read_file_or_die("data/pretrain_excerpt.txt", &len);
    Tokenizer tok;
    tokenizer_train(&tok, text, len, 300);
    temp_path(fx.merges, sizeof fx.merges, "sc-tok.merges");
    temp_path(fx.data, sizeof fx.data, "sc-data.bin");
    temp_path(fx.val, sizeof fx.val, "sc-val.bin");
    const char *names[4] = {"sc-params.tsv", "sc-data.tsv", "sc-compute.tsv", "sc-accuracy.tsv"};
    for (int i = 0; i < 4; i++) temp_path(fx.logs[i], sizeof fx.logs[i], names[i]);
    tokenizer_save_merges(&tok, fx.merges);
    int *ids = tokenizer_encode_with_special(&tok, text, len, &n);
    tokens_save(fx.data, ids, n);
    tokens_save(fx.val, ids, n / 4);
    free(ids);
    free(text);
    tokenizer_free(&tok);
    return n > 4200 ? 0 : -1;  /* --fast takes 4096 tokens */
}

static int group_teardown(void **state) {
    (void)state;
    remove(fx.merges);
    remove(fx.data);
    remove(fx.val);
    for (int i = 0; i < 4; i++) remove(fx.logs[i]);
    return 0;
}

#define BASE_ARGS "--fast", "--tokenizer", fx.merges, "--data", fx.data, "--val", fx.val, "--params-log", \
    fx.logs[0], "--data-log", fx.logs[1], "--compute-log", fx.logs[2], "--accuracy-log", fx.logs[3]

static void test_scaling_runs_end_to_end_with_fast_and_writes_every_log(void **state) {
    (void)state;
    const char *args[] = {BASE_ARGS, NULL};
    char *out = NULL, *err = NULL;
    int status = run_program_io("scaling", args, NULL, &out, NULL, &err);
    if (status != 0) print_error("scaling exited %d; stderr:\n%s", status, err);
    assert_int_equal(status, 0);
    assert_non_null(strstr(out, "summary scaling: 5 sizes"));
    assert_non_null(strstr(out, "compute (6 N D"));
    Tsv t;
    tsv_read(&t, fx.logs[0], 13);
    assert_int_equal(t.nrows, 5);
    double first = atof(t.rows[0].fields[7]), last = atof(t.rows[4].fields[7]);
    assert_true(last < first);  /* 127x the parameters on the same 4096 tokens: a lower loss */
    tsv_free(&t);
    tsv_read(&t, fx.logs[1], 11);
    assert_int_equal(t.nrows, NUM_FRACTIONS);
    assert_string_equal(t.rows[0].fields[3], "512");
    assert_string_equal(t.rows[NUM_FRACTIONS - 1].fields[3], "4096");
    tsv_free(&t);
    tsv_read(&t, fx.logs[2], 9);
    assert_true(t.nrows >= 5 * 5 + 3);  /* 8 runs: the family's five points each, the sweep's fewer */
    for (int i = 0; i < t.nrows; i++) assert_true(atof(t.rows[i].fields[8]) <= atof(t.rows[i].fields[7]));
    tsv_free(&t);
    tsv_read(&t, fx.logs[3], 8);
    assert_int_equal(t.nrows, 5);
    tsv_free(&t);
    free(out);
    free(err);
}

/* The same runs in this process (--jobs 1) and in two workers give the same
 * numbers: each run is seeded by its shape, not by who trains it. */
static void test_results_do_not_depend_on_the_number_of_workers(void **state) {
    (void)state;
    char params2[256];
    temp_path(params2, sizeof params2, "sc-params2.tsv");
    const char *one[] = {BASE_ARGS, "--jobs", "1", NULL};
    expect_program_ok("scaling", one);
    const char *two[] = {"--fast", "--tokenizer", fx.merges, "--data", fx.data, "--val", fx.val, "--params-log",
                         params2, "--data-log", fx.logs[1], "--compute-log", fx.logs[2], "--accuracy-log",
                         fx.logs[3], "--jobs", "2", NULL};
    expect_program_ok("scaling", two);
    Tsv a, b;
    tsv_read(&a, fx.logs[0], 13);
    tsv_read(&b, params2, 13);
    for (int i = 0; i < a.nrows; i++) assert_string_equal(a.rows[i].fields[7], b.rows[i].fields[7]);
    tsv_free(&a);
    tsv_free(&b);
    remove(params2);
}

static void test_scaling_refuses_bad_sizes_and_a_budget_that_would_repeat_data(void **state) {
    (void)state;
    for (int i = 0; i < 4; i++) remove(fx.logs[i]);
    const char *empty[] = {BASE_ARGS, "--sizes", "", NULL};
    expect_program_refuses("scaling", empty, "--sizes is empty", NULL);
    const char *commas[] = {BASE_ARGS, "--sizes", ",,", NULL};
    expect_program_refuses("scaling", commas, "--sizes is empty", NULL);
    const char *heads[] = {BASE_ARGS, "--sizes", "1x8,2x16x3", NULL};
    expect_program_refuses("scaling", heads, "3 heads do not divide the width 16", NULL);
    const char *width[] = {BASE_ARGS, "--sizes", "1x8,2x20", NULL};
    expect_program_refuses("scaling", width, "width 20 is not a multiple of the head size 8", NULL);
    const char *junk[] = {BASE_ARGS, "--sizes", "2by16", NULL};
    expect_program_refuses("scaling", junk, "'2by16' is not a size", NULL);
    const char *model[] = {BASE_ARGS, "--data-model", "2x12x5", NULL};
    expect_program_refuses("scaling", model, "--data-model", "5 heads do not divide");
    const char *repeat[] = {BASE_ARGS, "--tokens", "10000000", NULL};
    expect_program_refuses("scaling", repeat, "would repeat data", "at most --tokens");
    const char *tiny[] = {BASE_ARGS, "--tokens", "100", NULL};
    expect_program_refuses("scaling", tiny, "--tokens 100", "would not take one");
    const char *unknown[] = {"--layers", "3", NULL};
    expect_program_refuses("scaling", unknown, "unknown flag --layers", NULL);
    for (int i = 0; i < 4; i++) assert_false(file_exists(fx.logs[i]));  /* nothing half-written */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_power_law_fit_recovers_alpha_and_l_inf_from_synthetic_points),
        cmocka_unit_test(test_power_law_fit_gives_none_for_a_loss_that_rises_with_size_or_too_few_points),
        cmocka_unit_test(test_non_embedding_parameters_are_the_model_minus_its_embeddings),
        cmocka_unit_test(test_training_flops_are_six_per_matmul_weight_per_token),
        cmocka_unit_test(test_windows_are_a_permutation_and_a_short_run_sees_a_prefix),
        cmocka_unit_test(test_scaling_runs_end_to_end_with_fast_and_writes_every_log),
        cmocka_unit_test(test_results_do_not_depend_on_the_number_of_workers),
        cmocka_unit_test(test_scaling_refuses_bad_sizes_and_a_budget_that_would_repeat_data),
    };
    return cmocka_run_group_tests_name("scaling", tests, group_setup, group_teardown);
}
