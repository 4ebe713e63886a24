/* test_head.c — what the linear head promises, checked one property per test.
 *
 * The head is out = hidden[rows] @ w^T + b, read at a few chosen rows of the
 * trunk's final hidden states (GPT-1's classifier, the reward model, PPO's
 * value head). So we check:
 *
 *   1. head_backward against central finite differences, for every element of
 *      hidden, w and b, with rows that repeat (head.h allows it: both
 *      gradients must land in the row, added);
 *   2. head_backward adds (+=) into dw, db and dhidden, as head.h says;
 *   3. head_forward against a hand-written loop, and that it reads the
 *      selected rows and nothing else;
 *   4. the companion file: a bit-identical round trip (gain and shift too),
 *      and every way a file can be wrong refused with one clear line;
 *   5. head_clip_together clips trunk and head as ONE vector;
 *   6. head_path_for puts the head beside the checkpoint.
 *
 * The finite-difference method is the one explained at the top of
 * test_tensor.c: objective L = sum(out * R) in double for a fixed random R, so
 * dL/dout = R and backward with dout = R must give dL/dx. The head is linear
 * in each of hidden, w and b, so the central difference has no truncation
 * error at all; what is left is float32 rounding of the forward pass (a few
 * parts in 1e7 of outputs of order 1) divided by 2h = 2e-3: ~1e-4 at worst.
 * Hence h = 1e-3, atol 1e-3, rtol 1e-2; a wrong gradient (a missing row, a
 * transposed w, an overwrite instead of an add) is off by its own size.
 */
#include "testutil.h"
#include "head.h"
#include "util.h"

/* A head with every parameter random and of order 1 (b too: head_build
 * leaves it at 0, where a wrong db could hide). */
static void random_head(LinearHead *h, int K, int C, uint64_t seed) {
    head_build(h, K, C, 0.0f, 0);
    test_seed(seed);
    for (size_t i = 0; i < (size_t)K * C + K; i++) h->w[i] = test_uniform(-1.0f, 1.0f);
}

/* ---- 1, 2. backward ---- */

/* N = 6 rows of hidden states; the head reads 5 of them: row 4 twice, row 2
 * not at all (rows 2 and 5 must get no gradient). */
enum { HN = 6, HC = 8, HK = 3, HR = 5 };
static const int head_rows[HR] = {4, 1, 4, 0, 3};

#define FD_H 1e-3f
#define FD_RTOL 1e-2
#define FD_ATOL 1e-3

static double head_objective(const LinearHead *h, const float *hidden, const float *R) {
    float out[HR * HK];
    head_forward(h, out, hidden, head_rows, HR);
    double s = 0.0;
    for (int i = 0; i < HR * HK; i++) s += (double)out[i] * R[i];
    return s;
}

/* Central differences of head_objective with respect to every element of x. */
static void numeric_gradient(float *numeric, float *x, size_t n, const LinearHead *h,
                             const float *hidden, const float *R) {
    for (size_t i = 0; i < n; i++) {
        float x0 = x[i], xp = x0 + FD_H, xm = x0 - FD_H;
        x[i] = xp;
        double lp = head_objective(h, hidden, R);
        x[i] = xm;
        double lm = head_objective(h, hidden, R);
        x[i] = x0;
        numeric[i] = (float)((lp - lm) / ((double)xp - (double)xm));
    }
}

static void test_head_backward_matches_finite_differences_with_repeated_rows(void **state) {
    (void)state;
    LinearHead h;
    random_head(&h, HK, HC, 11);
    float *hidden = random_floats(HN * HC, -2.0f, 2.0f);
    float *R = random_floats(HR * HK, -1.0f, 1.0f);
    float *dhidden = calloc_or_die(HN * HC, sizeof(float), "dhidden");

    head_zero_grad(&h);
    head_backward(&h, dhidden, R, hidden, head_rows, HR);

    float numeric[HN * HC];
    numeric_gradient(numeric, hidden, HN * HC, &h, hidden, R);
    check_close("head backward, dhidden vs finite differences", dhidden, numeric, HN * HC, FD_RTOL, FD_ATOL);
    numeric_gradient(numeric, h.w, (size_t)HK * HC, &h, hidden, R);
    check_close("head backward, dw vs finite differences", h.dw, numeric, (size_t)HK * HC, FD_RTOL, FD_ATOL);
    numeric_gradient(numeric, h.b, HK, &h, hidden, R);
    check_close("head backward, db vs finite differences", h.db, numeric, HK, FD_RTOL, FD_ATOL);

    /* The finite differences already see both reads of row 4; say it in
     * plain words too: row 4's gradient is the SUM of R[0] @ w and R[2] @ w,
     * and the rows nobody read get exactly nothing. */
    for (int c = 0; c < HC; c++) {
        double want = 0.0;
        for (int k = 0; k < HK; k++) want += ((double)R[0 * HK + k] + R[2 * HK + k]) * h.w[k * HC + c];
        assert_true(fabs(dhidden[4 * HC + c] - want) <= 1e-5 * (1.0 + fabs(want)));
        assert_true(dhidden[2 * HC + c] == 0.0f);
        assert_true(dhidden[5 * HC + c] == 0.0f);
    }
    head_free(&h);
    free(hidden);
    free(R);
    free(dhidden);
}

/* Gradients accumulate: the trunk's dhidden may already hold another loss's
 * gradient (GPT-1 adds the classifier's to nothing, but PPO's value loss
 * shares the buffer), and dw/db are zeroed only by head_zero_grad. A second
 * call with the same dout must double all three; an overwrite would leave
 * them as they were. */
static void test_head_backward_adds_into_the_gradients(void **state) {
    (void)state;
    LinearHead h;
    random_head(&h, HK, HC, 21);
    float *hidden = random_floats(HN * HC, -2.0f, 2.0f);
    float *R = random_floats(HR * HK, -1.0f, 1.0f);
    float *dhidden = calloc_or_die(HN * HC, sizeof(float), "dhidden");
    head_zero_grad(&h);
    head_backward(&h, dhidden, R, hidden, head_rows, HR);
    size_t np = (size_t)HK * HC + HK;
    float *dp2 = copy_floats(h.dw, np), *dh2 = copy_floats(dhidden, HN * HC);
    for (size_t i = 0; i < np; i++) dp2[i] *= 2.0f;
    for (size_t i = 0; i < HN * HC; i++) dh2[i] *= 2.0f;
    head_backward(&h, dhidden, R, hidden, head_rows, HR);
    check_close("head backward twice, dw and db vs 2x once", h.dw, dp2, np, 1e-5, 1e-6);
    check_close("head backward twice, dhidden vs 2x once", dhidden, dh2, HN * HC, 1e-5, 1e-6);

    /* and head_zero_grad clears dw and db (both: they share one buffer) */
    head_zero_grad(&h);
    for (size_t i = 0; i < np; i++) assert_true(h.dw[i] == 0.0f);
    head_free(&h);
    free(hidden);
    free(R);
    free(dhidden);
    free(dp2);
    free(dh2);
}

/* ---- 3. forward ---- */

/* out[i] = hidden[rows[i]] @ w^T + b, by the definition, summed in double;
 * then every row the head does not name is rewritten, and the output must not
 * change by a single bit: the classifier must not see the padding after the
 * extract token, whatever it holds. Rewriting a named row must change it. */
static void test_head_forward_reads_only_the_selected_rows(void **state) {
    (void)state;
    LinearHead h;
    random_head(&h, HK, HC, 31);
    float *hidden = random_floats(HN * HC, -2.0f, 2.0f);
    float out[HR * HK], want[HR * HK], again[HR * HK];
    head_forward(&h, out, hidden, head_rows, HR);
    for (int i = 0; i < HR; i++) {
        for (int k = 0; k < HK; k++) {
            double s = h.b[k];
            for (int c = 0; c < HC; c++) s += (double)hidden[head_rows[i] * HC + c] * h.w[k * HC + c];
            want[i * HK + k] = (float)s;
        }
    }
    check_close("head forward vs the definition", out, want, HR * HK, 1e-5, 1e-5);

    /* rows 2 and 5 are not read */
    for (int c = 0; c < HC; c++) {
        hidden[2 * HC + c] = 1000.0f + (float)c;
        hidden[5 * HC + c] = -1000.0f;
    }
    head_forward(&h, again, hidden, head_rows, HR);
    assert_memory_equal(again, out, sizeof out);

    /* row 1 is (by output 1 only) */
    hidden[1 * HC + 3] += 1.0f;
    head_forward(&h, again, hidden, head_rows, HR);
    for (int i = 0; i < HR; i++) {
        for (int k = 0; k < HK; k++) {
            if (i == 1) assert_true(again[i * HK + k] != out[i * HK + k]);
            else assert_true(again[i * HK + k] == out[i * HK + k]);
        }
    }
    head_free(&h);
    free(hidden);
}

/* ---- 4. the companion file ---- */

/* Everything that defines the head's output comes back bit for bit: K, C,
 * w, b, and the reward model's affine calibration (gain, shift). */
static void test_head_save_then_load_round_trips_bit_identically(void **state) {
    (void)state;
    char path[256];
    temp_path(path, sizeof path, "roundtrip.head");
    LinearHead h, g;
    random_head(&h, 2, 16, 41);
    h.gain = 1.7f;
    h.shift = -0.3f;
    head_save(&h, path);
    head_load(&g, path, 16);
    assert_int_equal(g.K, 2);
    assert_int_equal(g.C, 16);
    assert_memory_equal(g.w, h.w, sizeof(float) * (2 * 16 + 2));
    assert_memory_equal(g.b, h.b, sizeof(float) * 2);
    assert_memory_equal(&g.gain, &h.gain, sizeof(float));
    assert_memory_equal(&g.shift, &h.shift, sizeof(float));
    /* a loaded head starts with clean gradients, ready to train */
    for (int i = 0; i < 2 * 16 + 2; i++) assert_true(g.dw[i] == 0.0f);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_false(file_exists(tmp));  /* the atomic write left no temporary behind */
    head_free(&h);
    head_free(&g);
    remove(path);
}

typedef struct {
    const char *path;
    int expect_C;
} LoadArgs;

static void load_head(void *arg) {
    const LoadArgs *a = arg;
    LinearHead h;
    head_load(&h, a->path, a->expect_C);
}

/* Reads a whole small file into a malloc'd buffer. */
static unsigned char *slurp_file(const char *path, size_t *n) {
    return (unsigned char *)read_file_or_die(path, n);
}

/* Every damaged file dies with one line naming the file and the problem,
 * before anything is allocated from its header. */
static void test_bad_head_files_are_refused_with_a_clear_message(void **state) {
    (void)state;
    char good[256], bad[256], msg[320];
    temp_path(good, sizeof good, "good.head");
    temp_path(bad, sizeof bad, "bad.head");
    LinearHead h;
    random_head(&h, 3, 8, 51);
    head_save(&h, good);
    head_free(&h);
    size_t n;
    unsigned char *bytes = slurp_file(good, &n);
    assert_int_equal(n, HEAD_HEADER_INTS * 4 + 2 * 4 + (3 * 8 + 3) * 4);

    /* wrong magic: e.g. a GPT checkpoint passed where a head was expected */
    unsigned char *copy = malloc_or_die(n, "a copy");
    memcpy(copy, bytes, n);
    int magic = 20240326;
    memcpy(copy, &magic, sizeof magic);
    write_bytes(bad, copy, n);
    LoadArgs a = {bad, 8};
    snprintf(msg, sizeof msg, "%s is not a head file: magic number 20240326", bad);
    expect_death(load_head, &a, msg);

    /* wrong version */
    memcpy(copy, bytes, n);
    int version = HEAD_VERSION + 1;
    memcpy(copy + 4, &version, sizeof version);
    write_bytes(bad, copy, n);
    expect_death(load_head, &a, "head version");

    /* a head for another trunk width */
    LoadArgs wrong_c = {good, 16};
    snprintf(msg, sizeof msg, "%s is a head for C=8 channels, but the model has C=16", good);
    expect_death(load_head, &wrong_c, msg);

    /* truncated: one float short, then shorter than the header */
    write_bytes(bad, bytes, n - 4);
    snprintf(msg, sizeof msg, "%s has the wrong size", bad);
    expect_death(load_head, &a, msg);
    write_bytes(bad, bytes, 10);
    expect_death(load_head, &a, "is not a head file: only 10 bytes");

    /* one float too many is wrong too: the size must be exact */
    unsigned char *longer = malloc_or_die(n + 4, "a longer copy");
    memcpy(longer, bytes, n);
    memset(longer + n, 0, 4);
    write_bytes(bad, longer, n + 4);
    expect_death(load_head, &a, "has the wrong size");

    /* no file at all */
    LoadArgs missing = {"build/tmp/no-such-file.head", 8};
    expect_death(load_head, &missing, "cannot open build/tmp/no-such-file.head");

    free(bytes);
    free(copy);
    free(longer);
    remove(good);
    remove(bad);
}

/* ---- 5. clipping trunk and head together ---- */

static double norm_of(const float *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s);
}

/* The trunk's gradient has norm 3 and the head's 4, so together 5. Clipping
 * to 1 must scale BOTH by 1/5 (trunk 0.6, head 0.8): the step keeps the
 * direction of the whole gradient. Clipping each part to 1 on its own would
 * give 1 and 1 — a different direction. */
static void test_head_clip_together_clips_trunk_and_head_jointly(void **state) {
    (void)state;
    LinearHead h;
    head_build(&h, 2, 3, 0.0f, 0);
    /* head gradient (dw then db, 8 floats) of norm 4; trunk (5 floats) of norm 3 */
    const float head_g[8] = {2.0f, 0.0f, 0.0f, -2.0f, 0.0f, 2.0f, 0.0f, -2.0f};
    float trunk[5] = {1.0f, -2.0f, 0.0f, 2.0f, 0.0f};
    memcpy(h.dw, head_g, sizeof head_g);
    float trunk0[5], head0[8];
    memcpy(trunk0, trunk, sizeof trunk);
    memcpy(head0, h.dw, sizeof head0);

    float norm = head_clip_together(&h, trunk, 5, 1.0f);
    assert_float_equal(norm, 5.0f, 1e-5f);  /* the norm before clipping */
    assert_float_equal(norm_of(trunk, 5), 0.6f, 1e-5f);
    assert_float_equal(norm_of(h.dw, 8), 0.8f, 1e-5f);
    float want_t[5], want_h[8];
    for (int i = 0; i < 5; i++) want_t[i] = trunk0[i] / 5.0f;
    for (int i = 0; i < 8; i++) want_h[i] = head0[i] / 5.0f;
    check_close("clipped trunk gradient vs g / 5", trunk, want_t, 5, 1e-6, 1e-7);
    check_close("clipped head gradient vs g / 5", h.dw, want_h, 8, 1e-6, 1e-7);

    /* under the limit, or with clipping off (max_norm <= 0), nothing changes */
    memcpy(trunk, trunk0, sizeof trunk);
    memcpy(h.dw, head0, sizeof head0);
    assert_float_equal(head_clip_together(&h, trunk, 5, 10.0f), 5.0f, 1e-5f);
    assert_memory_equal(trunk, trunk0, sizeof trunk);
    assert_memory_equal(h.dw, head0, sizeof head0);
    assert_float_equal(head_clip_together(&h, trunk, 5, 0.0f), 5.0f, 1e-5f);
    assert_memory_equal(trunk, trunk0, sizeof trunk);
    assert_memory_equal(h.dw, head0, sizeof head0);
    head_free(&h);
}

/* ---- 6. where the head file lives ---- */

static void check_head_path(const char *model, const char *want) {
    char *p = head_path_for(model);
    assert_string_equal(p, want);
    free(p);
}

/* The extension is replaced, not appended; a dot in a folder name is not an
 * extension; a name without one gets ".head" added. */
static void test_head_path_for_puts_the_head_beside_the_checkpoint(void **state) {
    (void)state;
    check_head_path("out/x.bin", "out/x.head");
    check_head_path("out/gpt1_classifier.bin", "out/gpt1_classifier.head");
    check_head_path("model", "model.head");
    check_head_path("out.d/model", "out.d/model.head");
    check_head_path("a/b.c.bin", "a/b.c.head");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_backward_matches_finite_differences_with_repeated_rows),
        cmocka_unit_test(test_head_backward_adds_into_the_gradients),
        cmocka_unit_test(test_head_forward_reads_only_the_selected_rows),
        cmocka_unit_test(test_head_save_then_load_round_trips_bit_identically),
        cmocka_unit_test(test_bad_head_files_are_refused_with_a_clear_message),
        cmocka_unit_test(test_head_clip_together_clips_trunk_and_head_jointly),
        cmocka_unit_test(test_head_path_for_puts_the_head_beside_the_checkpoint),
    };
    return cmocka_run_group_tests_name("head", tests, NULL, NULL);
}
