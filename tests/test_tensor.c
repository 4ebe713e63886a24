/* test_tensor.c — what the tensor module promises, checked one property per test.
 *
 * Every backward pass is checked against central finite differences, the
 * numerical derivative a learner could compute by hand:
 *
 *   1. Pick a fixed random tensor R the shape of the op's output and the scalar
 *      objective L(x) = sum(out(x) * R), summed in double. Its gradient with
 *      respect to out is R itself, so running backward with dout = R must give
 *      dL/dx for every input x.
 *   2. For each input element x_i, nudge it up and down by h and measure
 *          dL/dx_i ~ (L(x_i + h) - L(x_i - h)) / 2h
 *      The error of this central difference is O(h^2); it comes from the
 *      third derivative and is ~1e-6 here.
 *   3. Compare with the analytic gradient, element by element, ALL elements
 *      (the sizes are small: B=2, T=5, C=8, NH=2, OC=6, V=7, Vp=8).
 *
 * Why h = 1e-3 and rtol 1e-2 / atol 1e-3: the forward passes run in float32,
 * so each output carries a rounding error of a few parts in 1e7. Subtracting
 * two nearly equal L values and dividing by 2h = 2e-3 magnifies that error by
 * 500, to a few times 1e-4 in the worst case: hence atol 1e-3. A smaller h
 * would drown the difference in rounding; a larger one would let the O(h^2)
 * term grow. A wrong gradient (a missing term, a wrong sign, a factor of 2)
 * is off by far more than 1%: rtol 1e-2 still catches it. We divide by the
 * step actually taken, (float)(x+h) - (float)(x-h), not by 2h, so the
 * rounding of x+h in float does not count against the op.
 *
 * Also here: the fast matmul against the naive loops, hand-computed
 * cross-entropy and AdamW steps, gradient clipping, the learning-rate
 * schedule, the random generator and sampler, the causal mask, and the
 * promise that results do not depend on the number of threads.
 *
 * The inputs come from the test's own small generator (splitmix64), so a bug
 * in the module's Rng cannot hide a bug in an op, or the other way round.
 */
#include "testutil.h"
#include "tensor.h"
#include "util.h"

static double dot_double(const float *a, const float *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

/* ---- gradient-check cases: one op, its inputs, its objective ---- */

/* Small sizes: every element of every input is checked. */
enum { GB = 2, GT = 5, GC = 8, GNH = 2, GOC = 6, GV = 7, GVP = 8, GN = GB * GT };

#define FD_H 1e-3f
#define FD_RTOL 1e-2
#define FD_ATOL 1e-3

#define MAX_IN 3
#define MAX_MEM 24

typedef struct Case Case;
struct Case {
    const char *op;
    int n_in;                     /* inputs we differentiate with respect to */
    const char *in_name[MAX_IN];
    float *in[MAX_IN];
    float *grad[MAX_IN];          /* same shapes as in[] */
    size_t in_len[MAX_IN];
    double (*objective)(Case *c); /* forward, then L = sum(out * R) in double */
    void (*backward)(Case *c);    /* forward (for caches), then backward with dout = R */
    /* what the ops need besides their inputs */
    int *tokens;                  /* embedding tokens, crossentropy targets, logprob tokens */
    float *out, *R;               /* the output and the fixed random dout */
    float *save1, *save2;         /* mean/rstd, preatt/att, probs/losses */
    float *scratch1, *scratch2;   /* attention's dpreatt/datt */
    float *weights;               /* crossentropy position weights */
    float temperature, dloss;
    void *mem[MAX_MEM];
    int n_mem;
};

static void *case_keep(Case *c, void *p) {
    assert_true(c->n_mem < MAX_MEM);
    c->mem[c->n_mem++] = p;
    return p;
}

static float *case_floats(Case *c, size_t n, float lo, float hi) {
    return case_keep(c, random_floats(n, lo, hi));
}

static float *case_zeros(Case *c, size_t n) {
    return case_keep(c, calloc_or_die(n, sizeof(float), "test zeros"));
}

static int *case_ints(Case *c, size_t n, int below) {
    int *x = case_keep(c, malloc_or_die(n * sizeof(int), "test ints"));
    for (size_t i = 0; i < n; i++) x[i] = (int)(test_u64() % (uint64_t)below);
    return x;
}

static void case_input(Case *c, const char *name, size_t n, float lo, float hi) {
    assert_true(c->n_in < MAX_IN);
    c->in_name[c->n_in] = name;
    c->in[c->n_in] = case_floats(c, n, lo, hi);
    c->grad[c->n_in] = case_zeros(c, n);
    c->in_len[c->n_in] = n;
    c->n_in++;
}

static void case_start(Case *c, const char *op, uint64_t seed) {
    memset(c, 0, sizeof *c);
    c->op = op;
    test_seed(seed);
}

static void case_free(Case *c) {
    for (int i = 0; i < c->n_mem; i++) free(c->mem[i]);
}

static void case_zero_grads(Case *c) {
    for (int k = 0; k < c->n_in; k++) memset(c->grad[k], 0, c->in_len[k] * sizeof(float));
}

/* The check described at the top of the file, for every element of every input. */
static void check_against_finite_differences(Case *c) {
    case_zero_grads(c);
    c->backward(c);
    for (int k = 0; k < c->n_in; k++) {
        float *x = c->in[k];
        float *numeric = malloc_or_die(c->in_len[k] * sizeof(float), "numeric gradient");
        for (size_t i = 0; i < c->in_len[k]; i++) {
            float x0 = x[i], xp = x0 + FD_H, xm = x0 - FD_H;
            x[i] = xp;
            double lp = c->objective(c);
            x[i] = xm;
            double lm = c->objective(c);
            x[i] = x0;
            numeric[i] = (float)((lp - lm) / ((double)xp - (double)xm));
        }
        char name[96];
        snprintf(name, sizeof name, "%s backward, d%s vs finite differences", c->op, c->in_name[k]);
        check_close(name, c->grad[k], numeric, c->in_len[k], FD_RTOL, FD_ATOL);
        free(numeric);
    }
}

/* Backward adds into the gradient (+=): a second call with the same dout
 * must double it. An op that overwrote (=) would leave it unchanged. */
static void check_backward_accumulates(Case *c) {
    case_zero_grads(c);
    c->backward(c);
    float *twice[MAX_IN];
    for (int k = 0; k < c->n_in; k++) {
        twice[k] = copy_floats(c->grad[k], c->in_len[k]);
        for (size_t i = 0; i < c->in_len[k]; i++) twice[k][i] *= 2.0f;
    }
    c->backward(c);
    for (int k = 0; k < c->n_in; k++) {
        char name[96];
        snprintf(name, sizeof name, "%s backward called twice, d%s vs 2x once", c->op, c->in_name[k]);
        check_close(name, c->grad[k], twice[k], c->in_len[k], 1e-5, 1e-6);
        free(twice[k]);
    }
}

/* -- embedding: inputs wte (Vp,C), wpe (maxT,C); out (B,T,C) -- */

static double embedding_objective(Case *c) {
    embedding_forward(c->out, c->tokens, c->in[0], c->in[1], GB, GT, GC);
    return dot_double(c->out, c->R, (size_t)GB * GT * GC);
}
static void embedding_grad(Case *c) {
    embedding_backward(c->grad[0], c->grad[1], c->R, c->tokens, GB, GT, GC);
}
static void build_embedding(Case *c) {
    case_start(c, "embedding", 101);
    case_input(c, "wte", (size_t)GVP * GC, -1, 1);
    /* maxT = T + 1: the unused last row of wpe must get no gradient */
    case_input(c, "wpe", (size_t)(GT + 1) * GC, -1, 1);
    c->tokens = case_ints(c, GN, GV);
    c->tokens[3] = c->tokens[0];  /* a repeated token: its row gets both gradients */
    c->tokens[7] = c->tokens[0];
    c->out = case_zeros(c, (size_t)GN * GC);
    c->R = case_floats(c, (size_t)GN * GC, -1, 1);
    c->objective = embedding_objective;
    c->backward = embedding_grad;
}

/* -- matmul: inputs inp (N,C), weight (OC,C), bias (OC); out (N,OC) -- */

static double matmul_objective(Case *c) {
    matmul_forward(c->out, c->in[0], c->in[1], c->in[2], GN, GC, GOC);
    return dot_double(c->out, c->R, (size_t)GN * GOC);
}
static void matmul_grad(Case *c) {
    matmul_backward(c->grad[0], c->grad[1], c->grad[2], c->R, c->in[0], c->in[1], GN, GC, GOC);
}
static void build_matmul(Case *c) {
    case_start(c, "matmul", 102);
    case_input(c, "inp", (size_t)GN * GC, -1, 1);
    case_input(c, "weight", (size_t)GOC * GC, -1, 1);
    case_input(c, "bias", GOC, -1, 1);
    c->out = case_zeros(c, (size_t)GN * GOC);
    c->R = case_floats(c, (size_t)GN * GOC, -1, 1);
    c->objective = matmul_objective;
    c->backward = matmul_grad;
}

/* -- layernorm: inputs inp (N,C), weight (C), bias (C); out (N,C) -- */

static double layernorm_objective(Case *c) {
    layernorm_forward(c->out, c->save1, c->save2, c->in[0], c->in[1], c->in[2], GN, GC);
    return dot_double(c->out, c->R, (size_t)GN * GC);
}
static void layernorm_grad(Case *c) {
    layernorm_forward(c->out, c->save1, c->save2, c->in[0], c->in[1], c->in[2], GN, GC);
    layernorm_backward(c->grad[0], c->grad[1], c->grad[2], c->R, c->in[0], c->in[1],
                       c->save1, c->save2, GN, GC);
}
static void build_layernorm(Case *c) {
    case_start(c, "layernorm", 103);
    case_input(c, "inp", (size_t)GN * GC, -2, 2);
    case_input(c, "weight", GC, 0.5f, 1.5f);
    case_input(c, "bias", GC, -1, 1);
    c->out = case_zeros(c, (size_t)GN * GC);
    c->save1 = case_zeros(c, GN);  /* mean */
    c->save2 = case_zeros(c, GN);  /* rstd */
    c->R = case_floats(c, (size_t)GN * GC, -1, 1);
    c->objective = layernorm_objective;
    c->backward = layernorm_grad;
}

/* -- gelu: input inp (N*C); out (N*C) -- */

static double gelu_objective(Case *c) {
    gelu_forward(c->out, c->in[0], (size_t)GN * GC);
    return dot_double(c->out, c->R, (size_t)GN * GC);
}
static void gelu_grad(Case *c) {
    gelu_backward(c->grad[0], c->R, c->in[0], (size_t)GN * GC);
}
static void build_gelu(Case *c) {
    case_start(c, "gelu", 104);
    case_input(c, "inp", (size_t)GN * GC, -4, 4);  /* both tails and the bend near 0 */
    c->out = case_zeros(c, (size_t)GN * GC);
    c->R = case_floats(c, (size_t)GN * GC, -1, 1);
    c->objective = gelu_objective;
    c->backward = gelu_grad;
}

/* -- attention: input inp (B,T,3C); out (B,T,C); preatt, att (B,NH,T,T) -- */

static double attention_objective(Case *c) {
    attention_forward(c->out, c->save1, c->save2, c->in[0], GB, GT, GC, GNH);
    return dot_double(c->out, c->R, (size_t)GN * GC);
}
static void attention_grad(Case *c) {
    attention_forward(c->out, c->save1, c->save2, c->in[0], GB, GT, GC, GNH);
    attention_backward(c->grad[0], c->scratch1, c->scratch2, c->R, c->in[0], c->save2,
                       GB, GT, GC, GNH);
}
static void build_attention(Case *c) {
    size_t natt = (size_t)GB * GNH * GT * GT;
    case_start(c, "attention", 105);
    /* range 2 so that q.k spreads out and the softmax is far from uniform */
    case_input(c, "inp", (size_t)GN * 3 * GC, -2, 2);
    c->out = case_zeros(c, (size_t)GN * GC);
    c->save1 = case_zeros(c, natt);     /* preatt */
    c->save2 = case_zeros(c, natt);     /* att */
    /* scratch that backward overwrites: fill it with garbage to prove it */
    c->scratch1 = case_floats(c, natt, -9, 9);
    c->scratch2 = case_floats(c, natt, -9, 9);
    c->R = case_floats(c, (size_t)GN * GC, -1, 1);
    c->objective = attention_objective;
    c->backward = attention_grad;
}

/* -- residual: inputs a, b (N*C); out (N*C) -- */

static double residual_objective(Case *c) {
    residual_forward(c->out, c->in[0], c->in[1], (size_t)GN * GC);
    return dot_double(c->out, c->R, (size_t)GN * GC);
}
static void residual_grad(Case *c) {
    residual_backward(c->grad[0], c->grad[1], c->R, (size_t)GN * GC);
}
static void build_residual(Case *c) {
    case_start(c, "residual", 106);
    case_input(c, "a", (size_t)GN * GC, -1, 1);
    case_input(c, "b", (size_t)GN * GC, -1, 1);
    c->out = case_zeros(c, (size_t)GN * GC);
    c->R = case_floats(c, (size_t)GN * GC, -1, 1);
    c->objective = residual_objective;
    c->backward = residual_grad;
}

/* -- crossentropy: input logits (N,Vp); the output is one number, the weighted
 *    mean loss, so "R" is a single scalar dloss and L = dloss * loss -- */

static double crossentropy_objective(Case *c) {
    float loss = crossentropy_forward(c->save1, c->save2, c->in[0], c->tokens, c->weights,
                                      GN, GV, GVP);
    return (double)c->dloss * (double)loss;
}
static void crossentropy_grad(Case *c) {
    crossentropy_forward(c->save1, c->save2, c->in[0], c->tokens, c->weights, GN, GV, GVP);
    crossentropy_backward(c->grad[0], c->save1, c->tokens, c->weights, c->dloss, GN, GV, GVP);
}
static void build_crossentropy(Case *c) {
    /* zero weights (prompt tokens in SFT), a double weight and a half weight */
    static const float w[GN] = {1, 0, 2, 1, 0, 0.5f, 1, 1, 0, 1};
    case_start(c, "crossentropy", 107);
    case_input(c, "logits", (size_t)GN * GVP, -2, 2);
    c->tokens = case_ints(c, GN, GV);  /* targets */
    c->weights = case_keep(c, copy_floats(w, GN));
    c->save1 = case_zeros(c, (size_t)GN * GVP);  /* probs */
    c->save2 = case_zeros(c, GN);               /* losses */
    c->dloss = 0.7f;
    c->objective = crossentropy_objective;
    c->backward = crossentropy_grad;
}

/* -- logprob: input logits (N,Vp); out logp (N), temperature 0.7 -- */

static double logprob_objective(Case *c) {
    logprob_forward(c->out, c->in[0], c->tokens, c->temperature, GN, GV, GVP);
    return dot_double(c->out, c->R, GN);
}
static void logprob_grad(Case *c) {
    logprob_backward(c->grad[0], c->R, c->in[0], c->tokens, c->temperature, GN, GV, GVP);
}
static void build_logprob(Case *c) {
    case_start(c, "logprob", 108);
    case_input(c, "logits", (size_t)GN * GVP, -2, 2);
    c->tokens = case_ints(c, GN, GV);
    c->temperature = 0.7f;  /* != 1, so a missing 1/temperature factor shows */
    c->out = case_zeros(c, GN);
    c->R = case_floats(c, GN, -1, 1);
    c->objective = logprob_objective;
    c->backward = logprob_grad;
}

static void finite_differences(void (*build)(Case *)) {
    Case c;
    build(&c);
    check_against_finite_differences(&c);
    case_free(&c);
}

/* ---- 1. every backward matches finite differences ---- */

/* Embedding is a lookup, so its gradient is a scatter: a token used at two
 * positions collects both rows of dout; wpe's unused rows get nothing. */
static void test_embedding_backward_matches_finite_differences(void **state) {
    (void)state;
    finite_differences(build_embedding);
}

/* out = inp W^T + b: dinp = dout W, dW = dout^T inp, db = column sums of dout. */
static void test_matmul_backward_matches_finite_differences(void **state) {
    (void)state;
    finite_differences(build_matmul);
}

/* The mean and the variance depend on every input of the row, so each dinp
 * has two extra terms beyond weight * rstd * dout; this checks all of them. */
static void test_layernorm_backward_matches_finite_differences(void **state) {
    (void)state;
    finite_differences(build_layernorm);
}

static void test_gelu_backward_matches_finite_differences(void **state) {
    (void)state;
    finite_differences(build_gelu);
}

/* Through v, through the softmax, through q and k: the longest backward. */
static void test_attention_backward_matches_finite_differences(void **state) {
    (void)state;
    finite_differences(build_attention);
}

/* A sum passes its gradient unchanged to both terms. */
static void test_residual_backward_matches_finite_differences(void **state) {
    (void)state;
    finite_differences(build_residual);
}

/* softmax + cross-entropy's gradient is probs - onehot(target), scaled by each
 * position's share of the weights; zero-weight rows and padding columns get 0. */
static void test_crossentropy_backward_matches_finite_differences(void **state) {
    (void)state;
    finite_differences(build_crossentropy);
}

/* With temperature, logits are divided by it, so the gradient is too. */
static void test_logprob_backward_matches_finite_differences(void **state) {
    (void)state;
    finite_differences(build_logprob);
}

/* Accumulating (+=) is what lets a tied embedding (used as input and output
 * layer) collect both gradients; it is also why grads must be zeroed by hand. */
static void test_every_backward_accumulates_so_calling_it_twice_doubles_the_gradient(void **state) {
    (void)state;
    void (*builds[])(Case *) = {build_embedding, build_matmul,       build_layernorm,
                                build_gelu,      build_attention,    build_residual,
                                build_crossentropy, build_logprob};
    for (size_t i = 0; i < sizeof builds / sizeof builds[0]; i++) {
        Case c;
        builds[i](&c);
        check_backward_accumulates(&c);
        case_free(&c);
    }
}

/* ---- 2. the fast matmul agrees with the naive loops ---- */

/* A cache-blocked kernel has edge cases wherever a size is not a multiple of
 * its tile; sizes like 37, 19, 23 and 1 hit all of them. The two versions sum
 * in different orders, so they may differ by float rounding: a sum of K terms
 * of size <= 1 can drift by about K * 6e-8 in the worst case, hence rtol 1e-5
 * plus atol 1e-6 * K for results that happen to land near zero. */
static void compare_fast_and_naive_matmul(int N, int C, int OC) {
    char name[96];
    size_t nin = (size_t)N * C, nw = (size_t)OC * C, nout = (size_t)N * OC;
    float *inp = random_floats(nin, -1, 1), *weight = random_floats(nw, -1, 1);
    float *bias = random_floats(OC, -1, 1), *dout = random_floats(nout, -1, 1);
    float *out_fast = random_floats(nout, -9, 9), *out_naive = random_floats(nout, -9, 9);

    matmul_forward(out_fast, inp, weight, bias, N, C, OC);
    matmul_forward_naive(out_naive, inp, weight, bias, N, C, OC);
    snprintf(name, sizeof name, "matmul forward N=%d C=%d OC=%d", N, C, OC);
    check_close(name, out_fast, out_naive, nout, 1e-5, 1e-6 * C);

    matmul_forward(out_fast, inp, weight, NULL, N, C, OC);
    matmul_forward_naive(out_naive, inp, weight, NULL, N, C, OC);
    snprintf(name, sizeof name, "matmul forward without bias N=%d C=%d OC=%d", N, C, OC);
    check_close(name, out_fast, out_naive, nout, 1e-5, 1e-6 * C);

    /* start both from the same non-zero gradients, so += is compared too */
    float *dinp_fast = random_floats(nin, -1, 1), *dinp_naive = copy_floats(dinp_fast, nin);
    float *dw_fast = random_floats(nw, -1, 1), *dw_naive = copy_floats(dw_fast, nw);
    float *db_fast = random_floats(OC, -1, 1), *db_naive = copy_floats(db_fast, OC);
    matmul_backward(dinp_fast, dw_fast, db_fast, dout, inp, weight, N, C, OC);
    matmul_backward_naive(dinp_naive, dw_naive, db_naive, dout, inp, weight, N, C, OC);
    snprintf(name, sizeof name, "matmul backward dinp N=%d C=%d OC=%d", N, C, OC);
    check_close(name, dinp_fast, dinp_naive, nin, 1e-5, 1e-6 * (OC + 1));
    snprintf(name, sizeof name, "matmul backward dweight N=%d C=%d OC=%d", N, C, OC);
    check_close(name, dw_fast, dw_naive, nw, 1e-5, 1e-6 * (N + 1));
    snprintf(name, sizeof name, "matmul backward dbias N=%d C=%d OC=%d", N, C, OC);
    check_close(name, db_fast, db_naive, OC, 1e-5, 1e-6 * (N + 1));

    free(inp); free(weight); free(bias); free(dout); free(out_fast); free(out_naive);
    free(dinp_fast); free(dinp_naive); free(dw_fast); free(dw_naive);
    free(db_fast); free(db_naive);
}

static void test_matmul_fast_kernel_matches_naive_loops_on_awkward_sizes(void **state) {
    (void)state;
    static const int sizes[][3] = {
        {37, 19, 23}, {1, 19, 23}, {1, 1, 1}, {5, 3, 1}, {64, 64, 64}, {130, 96, 200},
    };
    test_seed(201);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        compare_fast_and_naive_matmul(sizes[i][0], sizes[i][1], sizes[i][2]);
}

/* The first layer needs no dinp; a frozen layer needs no dweight. Passing
 * NULL must skip that output and leave the others exactly as with all three. */
static void test_matmul_backward_skips_gradients_passed_as_null(void **state) {
    (void)state;
    const int N = 37, C = 19, OC = 23;
    size_t nin = (size_t)N * C, nw = (size_t)OC * C, nout = (size_t)N * OC;
    test_seed(202);
    float *inp = random_floats(nin, -1, 1), *weight = random_floats(nw, -1, 1);
    float *dout = random_floats(nout, -1, 1);
    float *dinp = calloc_or_die(nin, sizeof(float), "dinp");
    float *dw = calloc_or_die(nw, sizeof(float), "dw");
    float *db = calloc_or_die(OC, sizeof(float), "db");
    matmul_backward(dinp, dw, db, dout, inp, weight, N, C, OC);

    size_t nmax = nin > nw ? nin : nw;  /* one buffer for each gradient in turn */
    float *only = calloc_or_die(nmax, sizeof(float), "one gradient");
    matmul_backward(only, NULL, NULL, dout, inp, weight, N, C, OC);
    check_close("matmul backward with only dinp", only, dinp, nin, 1e-6, 1e-6);
    memset(only, 0, nmax * sizeof(float));
    matmul_backward(NULL, only, NULL, dout, inp, weight, N, C, OC);
    check_close("matmul backward with only dweight", only, dw, nw, 1e-6, 1e-6);
    memset(only, 0, nmax * sizeof(float));
    matmul_backward(NULL, NULL, only, dout, inp, weight, N, C, OC);
    check_close("matmul backward with only dbias", only, db, OC, 1e-6, 1e-6);
    memset(only, 0, nmax * sizeof(float));
    matmul_backward_naive(only, NULL, NULL, dout, inp, weight, N, C, OC);
    check_close("naive matmul backward with only dinp", only, dinp, nin, 1e-5, 1e-6 * OC);
    memset(only, 0, nmax * sizeof(float));
    matmul_backward_naive(NULL, only, NULL, dout, inp, weight, N, C, OC);
    check_close("naive matmul backward with only dweight", only, dw, nw, 1e-5, 1e-6 * N);
    memset(only, 0, nmax * sizeof(float));
    matmul_backward_naive(NULL, NULL, only, dout, inp, weight, N, C, OC);
    check_close("naive matmul backward with only dbias", only, db, OC, 1e-5, 1e-6 * N);

    free(inp); free(weight); free(dout); free(dinp); free(dw); free(db); free(only);
}

/* ---- 3. cross-entropy by hand ---- */

/* Row 0: logits [1, 2, 3], target 2:
 *   softmax = [e^1, e^2, e^3] / (e^1 + e^2 + e^3) = [0.09003057, 0.24472847, 0.66524096]
 *   loss    = -log(e^3 / (e^1+e^2+e^3)) = log(e^1 + e^2 + e^3) - 3 = 0.40760596
 * Row 1: logits [0, 0, 0], target 0: softmax = 1/3 each, loss = log 3 = 1.09861229
 * The mean is (0.40760596 + 1.09861229) / 2 = 0.75310913.
 * V = 3, Vp = 4: the padding column holds 100, which would dominate the
 * softmax if it were read; it must be ignored and its prob set to 0. */
static void test_crossentropy_matches_a_hand_computed_softmax_and_ignores_padding(void **state) {
    (void)state;
    const float logits[2 * 4] = {1, 2, 3, 100, 0, 0, 0, 100};
    const int targets[2] = {2, 0};
    float probs[2 * 4], losses[2];
    memset(probs, 0x7f, sizeof probs);  /* garbage, so "set to 0" is checked */
    float mean = crossentropy_forward(probs, losses, logits, targets, NULL, 2, 3, 4);

    const float want_probs[2 * 4] = {0.09003057f, 0.24472847f, 0.66524096f, 0,
                                     1.0f / 3,    1.0f / 3,    1.0f / 3,    0};
    const float want_losses[2] = {0.40760596f, 1.09861229f};
    check_close("crossentropy probs", probs, want_probs, 8, 1e-6, 1e-7);
    check_close("crossentropy losses", losses, want_losses, 2, 1e-6, 1e-7);
    float want_mean = 0.75310913f;
    check_close("crossentropy mean", &mean, &want_mean, 1, 1e-6, 1e-7);

    /* dlogits = (probs - onehot) / N for dloss = 1, and 0 in the padding */
    float dlogits[2 * 4] = {0};
    crossentropy_backward(dlogits, probs, targets, NULL, 1.0f, 2, 3, 4);
    const float want_d[2 * 4] = {0.09003057f / 2, 0.24472847f / 2, (0.66524096f - 1) / 2, 0,
                                 (1.0f / 3 - 1) / 2, 1.0f / 6, 1.0f / 6, 0};
    check_close("crossentropy dlogits", dlogits, want_d, 8, 1e-6, 1e-7);
}

/* The same two rows as above, with a third row of weight 0 between them
 * whose target is -1: a weighted mean over weight 0 must not see that row at
 * all (the contract says its target is not even read). Then weights {2, 0, 1}
 * give (2 * 0.40760596 + 1.09861229) / 3 = 0.63794140. */
static void test_crossentropy_zero_weight_positions_do_not_change_the_mean(void **state) {
    (void)state;
    const float logits[3 * 4] = {1, 2, 3, 100, 5, -5, 7, 100, 0, 0, 0, 100};
    const int targets[3] = {2, -1, 0};
    float probs[3 * 4], losses[3];
    const float w_ones[3] = {1, 0, 1};
    float mean = crossentropy_forward(probs, losses, logits, targets, w_ones, 3, 3, 4);
    float want = 0.75310913f;
    check_close("crossentropy mean with a zero-weight row", &mean, &want, 1, 1e-6, 1e-7);

    const float w_two[3] = {2, 0, 1};
    mean = crossentropy_forward(probs, losses, logits, targets, w_two, 3, 3, 4);
    want = 0.63794140f;
    check_close("crossentropy mean with weights 2, 0, 1", &mean, &want, 1, 1e-6, 1e-7);

    /* the zero-weight row gets no gradient at all */
    float dlogits[3 * 4] = {0};
    crossentropy_backward(dlogits, probs, targets, w_two, 1.0f, 3, 3, 4);
    const float zero4[4] = {0};
    check_close("crossentropy dlogits of the zero-weight row", dlogits + 4, zero4, 4, 0, 0);
}

/* Nothing to learn from (a batch of prompts only): the loss is 0, not 0/0,
 * and backward adds nothing. */
static void test_crossentropy_with_all_zero_weights_returns_zero(void **state) {
    (void)state;
    const float logits[2 * 4] = {1, 2, 3, 100, 0, 0, 0, 100};
    const int targets[2] = {2, 0};
    const float w[2] = {0, 0};
    float probs[2 * 4], losses[2];
    float mean = crossentropy_forward(probs, losses, logits, targets, w, 2, 3, 4);
    assert_true(mean == 0.0f);  /* exactly, and not NaN */
    float dlogits[2 * 4] = {0};
    crossentropy_backward(dlogits, probs, targets, w, 1.0f, 2, 3, 4);
    const float zero8[8] = {0};
    check_close("crossentropy dlogits with all-zero weights", dlogits, zero8, 8, 0, 0);
}

/* ---- 4. AdamW by hand ---- */

/* At step t = 1 the moments start at 0, so m = (1-b1) g and v = (1-b2) g^2,
 * and the bias corrections undo exactly those factors: m^ = g, v^ = g^2. The
 * update is then lr * (g / (|g| + eps) + wd * p): a step of size lr in the
 * direction of -sign(g), whatever the gradient's scale, plus the decay.
 * With lr 0.01, wd 0.1:
 *   p =  1.0, g =  0.1:  1.0 - 0.01 * ( 1 + 0.1 *  1.0) =  0.989
 *   p = -2.0, g = -0.2: -2.0 - 0.01 * (-1 + 0.1 * -2.0) = -1.988
 *   p =  0.5, g =  0.0:  0.5 - 0.01 * ( 0 + 0.1 *  0.5) =  0.4995 (decay only)
 *   p =  3.0, g = 1000:  3.0 - 0.01 * ( 1 + 0.1 *  3.0) =  2.987 (same step as g = 0.1) */
static void test_adamw_first_step_moves_each_parameter_by_lr_plus_decay(void **state) {
    (void)state;
    const AdamWConfig cfg = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f};
    const float g[4] = {0.1f, -0.2f, 0.0f, 1000.0f};
    float p[4] = {1.0f, -2.0f, 0.5f, 3.0f}, m[4] = {0}, v[4] = {0};
    adamw_update(p, g, m, v, 4, &cfg, 0.01f, 1, 1);
    const float want_p[4] = {0.989f, -1.988f, 0.4995f, 2.987f};
    const float want_m[4] = {0.01f, -0.02f, 0.0f, 100.0f};   /* (1 - 0.9) g */
    const float want_v[4] = {1e-5f, 4e-5f, 0.0f, 1000.0f};   /* (1 - 0.999) g^2 */
    check_close("adamw params after step 1", p, want_p, 4, 1e-6, 1e-6);
    check_close("adamw first moment after step 1", m, want_m, 4, 1e-5, 1e-9);
    check_close("adamw second moment after step 1", v, want_v, 4, 1e-4, 1e-11);
}

/* decay = 0 (biases, LayerNorm gains): only the Adam step, no wd * p term.
 *   1.0 - 0.01 = 0.99;  -2.0 + 0.01 = -1.99;  0.5 stays 0.5 (g = 0). */
static void test_adamw_without_decay_leaves_the_decay_term_out(void **state) {
    (void)state;
    const AdamWConfig cfg = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f};
    const float g[3] = {0.1f, -0.2f, 0.0f};
    float p[3] = {1.0f, -2.0f, 0.5f}, m[3] = {0}, v[3] = {0};
    adamw_update(p, g, m, v, 3, &cfg, 0.01f, 1, 0);
    const float want_p[3] = {0.99f, -1.99f, 0.5f};
    check_close("adamw params with decay = 0", p, want_p, 3, 1e-6, 1e-6);
}

/* ---- 5. gradient norm and clipping ---- */

/* {3, 4} has norm 5. Clipping to 1 scales by 1/5: {0.6, 0.8}, norm 1.
 * The returned value is the norm before clipping, for the training log. */
static void test_grad_clip_scales_to_exactly_max_norm_when_above(void **state) {
    (void)state;
    float g[2] = {3, 4};
    float norm = grad_clip(g, 2, 1.0f);
    assert_float_equal(norm, 5.0f, 1e-6);
    const float want[2] = {0.6f, 0.8f};
    check_close("clipped {3, 4}", g, want, 2, 1e-6, 0);

    /* a larger random buffer: its norm after clipping is max_norm */
    size_t n = 10007;
    test_seed(501);
    float *big = random_floats(n, -1, 1);
    float before = grad_clip(big, n, 2.5f);
    assert_true(before > 2.5f);
    float after = grad_norm(big, n);
    float want_after = 2.5f;
    check_close("norm after clipping to 2.5", &after, &want_after, 1, 1e-5, 0);
    free(big);
}

static void test_grad_clip_leaves_gradients_alone_below_max_norm_or_when_disabled(void **state) {
    (void)state;
    float g[2] = {3, 4};
    float norm = grad_clip(g, 2, 10.0f);
    assert_float_equal(norm, 5.0f, 1e-6);
    assert_true(g[0] == 3.0f && g[1] == 4.0f);
    norm = grad_clip(g, 2, 0.0f);  /* max_norm <= 0: clipping off */
    assert_float_equal(norm, 5.0f, 1e-6);
    assert_true(g[0] == 3.0f && g[1] == 4.0f);
}

/* Summing in per-thread partial sums would make the norm (and so the clip
 * factor, and so training) depend on the thread count. The contract is a
 * fixed order of fixed chunks: bit-identical for 1, 2 or 3 threads. */
static void test_grad_norm_is_bit_identical_for_any_thread_count(void **state) {
    (void)state;
    size_t n = (1u << 20) + 12345;  /* big enough to be split, not a round number */
    test_seed(502);
    float *g = random_floats(n, -1, 1);
    double ref = sqrt(dot_double(g, g, n));
    int saved = get_threads();
    set_threads(1);
    float n1 = grad_norm(g, n);
    set_threads(2);
    float n2 = grad_norm(g, n);
    set_threads(3);
    float n3 = grad_norm(g, n);
    set_threads(saved);
    /* float sums of a million squares drift a little from the exact value */
    float want = (float)ref;
    check_close("grad_norm vs a double sum", &n1, &want, 1, 1e-4, 0);
    if (memcmp(&n1, &n2, sizeof n1) != 0 || memcmp(&n1, &n3, sizeof n1) != 0) {
        print_error("grad_norm: 1 thread %.9g, 2 threads %.9g, 3 threads %.9g\n",
                    (double)n1, (double)n2, (double)n3);
        fail();
    }
    free(g);
}

/* ---- 6. the learning-rate schedule ---- */

/* 1000 steps, 100 of warm-up, from 6e-4 down to 6e-5:
 *   steps 0..99:   6e-4 * (step + 1) / 100, a straight line up to the peak;
 *   steps 100..:   cosine down from the peak, never rising, ending at 6e-5. */
static void test_lr_cosine_warms_up_linearly_then_decays_to_min_lr(void **state) {
    (void)state;
    const int total = 1000, warmup = 100;
    const float max_lr = 6e-4f, min_lr = 6e-5f;
    for (int s = 0; s < warmup; s++) {
        float got = lr_cosine(s, total, warmup, max_lr, min_lr);
        float want = max_lr * (float)(s + 1) / (float)warmup;
        char name[64];
        snprintf(name, sizeof name, "lr at warm-up step %d", s);
        check_close(name, &got, &want, 1, 1e-5, 0);
    }
    float peak = 0;
    for (int s = 0; s < total; s++) {
        float lr = lr_cosine(s, total, warmup, max_lr, min_lr);
        if (lr > peak) peak = lr;
        assert_true(lr <= max_lr * (1 + 1e-6f));
        if (s >= warmup) assert_true(lr >= min_lr * (1 - 1e-6f));  /* warm-up starts below */
        if (s > warmup) {  /* steps warmup-1 and warmup are both the peak, give or take 1 ulp */
            float prev = lr_cosine(s - 1, total, warmup, max_lr, min_lr);
            if (!(lr <= prev)) {
                print_error("lr rises after warm-up: step %d %.9g, step %d %.9g\n", s - 1,
                            (double)prev, s, (double)lr);
                fail();
            }
        }
    }
    check_close("peak lr", &peak, &max_lr, 1, 1e-6, 0);
    /* the last step lands on min_lr (to within 0.1% of the range: whether the
     * cosine reaches 0 at step total-1 or total is a matter of convention) */
    float last = lr_cosine(total - 1, total, warmup, max_lr, min_lr);
    check_close("lr at the last step", &last, &min_lr, 1, 0, 1e-3 * (max_lr - min_lr));
}

/* ---- 7. random numbers and sampling ---- */

/* Reproducibility: a seed fixes the whole run (init, batches, samples). */
static void test_rng_same_seed_gives_the_same_sequence(void **state) {
    (void)state;
    Rng a, b, c;
    rng_seed(&a, 1337);
    rng_seed(&b, 1337);
    rng_seed(&c, 1338);
    int same_as_other_seed = 0;
    for (int i = 0; i < 1000; i++) {
        uint32_t x = rng_u32(&a), y = rng_u32(&b), z = rng_u32(&c);
        assert_int_equal(x, y);
        same_as_other_seed += (x == z);
    }
    assert_true(same_as_other_seed < 5);
    /* xorshift's state must never be 0 (it would stay 0): seed 0 must still work */
    Rng zero;
    rng_seed(&zero, 0);
    uint32_t first = rng_u32(&zero);
    int changed = 0;
    for (int i = 0; i < 100; i++) changed |= (rng_u32(&zero) != first);
    assert_true(changed);
}

/* [0, 1), never 1: code like (int)(u * n) relies on it to stay below n. */
static void test_rng_uniform_stays_in_zero_to_one_excluding_one(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 7);
    double sum = 0;
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        float u = rng_uniform(&r);
        assert_true(u >= 0.0f && u < 1.0f);
        sum += u;
    }
    /* the mean of n uniforms has standard deviation 0.29/sqrt(n) ~ 0.001 */
    assert_true(fabs(sum / n - 0.5) < 0.01);
}

static void test_rng_below_hits_every_value_below_n_and_nothing_else(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 8);
    int count[7] = {0};
    for (int i = 0; i < 7000; i++) {
        int k = rng_below(&r, 7);
        assert_true(k >= 0 && k < 7);
        count[k]++;
    }
    for (int k = 0; k < 7; k++) assert_true(count[k] > 800 && count[k] < 1200);  /* ~1000 each */
}

/* Weights are initialised from rng_normal, so its scale matters. Over 100k
 * draws the sample mean has standard deviation 1/sqrt(1e5) ~ 0.003 and the
 * sample variance about sqrt(2/1e5) ~ 0.0045: the bounds are 6+ of those. */
static void test_rng_normal_has_mean_zero_and_variance_one(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 9);
    const int n = 100000;
    double sum = 0, sumsq = 0;
    for (int i = 0; i < n; i++) {
        float x = rng_normal(&r);
        assert_true(isfinite(x));
        sum += x;
        sumsq += (double)x * x;
    }
    double mean = sum / n, var = sumsq / n - mean * mean;
    if (!(fabs(mean) < 0.02 && fabs(var - 1) < 0.03)) {
        print_error("rng_normal over %d draws: mean %.4f, variance %.4f\n", n, mean, var);
        fail();
    }
}

/* Greedy decoding: temperature 0 (or below) picks the largest logit, the
 * lowest index on a tie; it draws nothing random. */
static void test_sample_logits_with_temperature_zero_is_the_argmax(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 10);
    const float logits[6] = {0.5f, 2.0f, -1.0f, 3.0f, 3.0f, 1.0f};
    for (int i = 0; i < 100; i++) {
        assert_int_equal(sample_logits(&r, logits, 6, 0.0f, 0), 3);
        assert_int_equal(sample_logits(&r, logits, 6, -1.0f, 0), 3);
        assert_int_equal(sample_logits(&r, logits, 6, 0.0f, 2), 3);
    }
}

/* top_k = 1 keeps one candidate, so even at temperature 1 it is greedy. */
static void test_sample_logits_with_top_k_one_is_the_argmax(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 11);
    const float logits[6] = {0.5f, 2.0f, -1.0f, 2.9f, 3.0f, 1.0f};
    for (int i = 0; i < 1000; i++) assert_int_equal(sample_logits(&r, logits, 6, 1.0f, 1), 4);
}

/* top_k = 2 keeps the two largest logits (indices 3 and 4), renormalised:
 * P(4) = e^3 / (e^3 + e^2.5) = 1 / (1 + e^-0.5) = 0.6225. */
static void test_sample_logits_with_top_k_two_never_leaves_the_top_two(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 12);
    const float logits[6] = {0.5f, 2.0f, -1.0f, 2.5f, 3.0f, 1.0f};
    const int n = 20000;
    int count4 = 0;
    for (int i = 0; i < n; i++) {
        int k = sample_logits(&r, logits, 6, 1.0f, 2);
        if (k != 3 && k != 4) {
            print_error("top_k = 2 sampled token %d, not one of the top two (3, 4)\n", k);
            fail();
        }
        count4 += (k == 4);
    }
    double freq = (double)count4 / n, want = 1.0 / (1.0 + exp(-0.5));
    if (fabs(freq - want) > 0.02) {
        print_error("top_k = 2: token 4 drawn %.4f of the time, want %.4f\n", freq, want);
        fail();
    }
}

/* Sampling draws token i with probability softmax(logits / temperature)[i].
 * Over 100k draws each frequency has standard deviation <= 0.0016, so 0.01
 * is a loose bound. Temperature 0.5 sharpens: it doubles the logits' gaps. */
static void test_sample_logits_frequencies_match_the_softmax(void **state) {
    (void)state;
    const float logits[5] = {1.0f, 2.0f, 0.5f, 3.0f, -1.0f};
    const float temps[2] = {1.0f, 0.5f};
    const int n = 100000;
    Rng r;
    rng_seed(&r, 13);
    for (int ti = 0; ti < 2; ti++) {
        double p[5], z = 0;
        for (int i = 0; i < 5; i++) z += (p[i] = exp(logits[i] / temps[ti]));
        int count[5] = {0};
        for (int i = 0; i < n; i++) {
            int k = sample_logits(&r, logits, 5, temps[ti], 0);
            assert_true(k >= 0 && k < 5);
            count[k]++;
        }
        for (int i = 0; i < 5; i++) {
            double freq = (double)count[i] / n, want = p[i] / z;
            if (fabs(freq - want) > 0.01) {
                print_error("temperature %.1f: token %d drawn %.4f of the time, softmax says %.4f\n",
                            (double)temps[ti], i, freq, want);
                fail();
            }
        }
    }
}

/* ---- 8. the causal mask ---- */

/* Position t must not see the future: changing q, k and v at position t+1
 * (and beyond) leaves every output at positions <= t exactly as it was. This
 * is what lets one forward pass train all T next-token predictions at once. */
static void test_causal_mask_hides_future_tokens_in_attention(void **state) {
    (void)state;
    const int B = 2, T = 6, C = 8, NH = 2;
    size_t nin = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, natt = (size_t)B * NH * T * T;
    test_seed(801);
    float *inp = random_floats(nin, -2, 2), *out = calloc_or_die(nout, sizeof(float), "out");
    float *preatt = calloc_or_die(natt, sizeof(float), "preatt");
    float *att = calloc_or_die(natt, sizeof(float), "att");
    attention_forward(out, preatt, att, inp, B, T, C, NH);

    /* att rows: a probability distribution over positions <= t, exactly 0 after */
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const float *row = att + (((size_t)b * NH + h) * T + t) * T;
                double sum = 0;
                for (int s = 0; s <= t; s++) {
                    assert_true(row[s] >= 0.0f);
                    sum += row[s];
                }
                if (fabs(sum - 1.0) > 1e-5) {
                    print_error("att[b=%d,h=%d,t=%d] sums to %.9g over s <= t\n", b, h, t, sum);
                    fail();
                }
                for (int s = t + 1; s < T; s++) {
                    if (row[s] != 0.0f) {
                        print_error("att[b=%d,h=%d,t=%d,s=%d] = %g, want 0 (future)\n", b, h, t,
                                    s, (double)row[s]);
                        fail();
                    }
                }
            }

    float *inp2 = malloc_or_die(nin * sizeof(float), "inp2");
    float *out2 = calloc_or_die(nout, sizeof(float), "out2");
    for (int t = 0; t + 1 < T; t++) {
        memcpy(inp2, inp, nin * sizeof(float));
        for (int b = 0; b < B; b++)
            for (int i = 0; i < 3 * C; i++) inp2[((size_t)b * T + t + 1) * 3 * C + i] += 1.5f;
        attention_forward(out2, preatt, att, inp2, B, T, C, NH);
        for (int b = 0; b < B; b++) {
            size_t past = ((size_t)t + 1) * C;  /* positions 0..t */
            const float *a = out + (size_t)b * T * C, *a2 = out2 + (size_t)b * T * C;
            if (memcmp(a, a2, past * sizeof(float)) != 0) {
                print_error("changing position %d changed an output at positions <= %d (batch %d)\n",
                            t + 1, t, b);
                fail();
            }
            /* and the change is visible from t+1 on: the test would catch a leak */
            assert_true(memcmp(a + past, a2 + past, (size_t)C * sizeof(float)) != 0);
        }
    }
    free(inp); free(out); free(preatt); free(att); free(inp2); free(out2);
}

/* ---- 9. results do not depend on the number of threads ---- */

/* Each thread writes a disjoint slice and no sum is split across threads, so
 * 1 and 2 threads should give identical results; we allow 1e-5 relative. */
static void test_attention_is_the_same_with_one_or_two_threads(void **state) {
    (void)state;
    const int B = 4, T = 16, C = 32, NH = 4;
    size_t nin = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, natt = (size_t)B * NH * T * T;
    test_seed(901);
    float *inp = random_floats(nin, -2, 2), *dout = random_floats(nout, -1, 1);
    float *out[2], *att[2], *dinp[2];
    float *preatt = malloc_or_die(natt * sizeof(float), "preatt");
    float *dpreatt = malloc_or_die(natt * sizeof(float), "dpreatt");
    float *datt = malloc_or_die(natt * sizeof(float), "datt");
    int saved = get_threads();
    for (int k = 0; k < 2; k++) {
        set_threads(k + 1);
        out[k] = calloc_or_die(nout, sizeof(float), "out");
        att[k] = calloc_or_die(natt, sizeof(float), "att");
        dinp[k] = calloc_or_die(nin, sizeof(float), "dinp");
        attention_forward(out[k], preatt, att[k], inp, B, T, C, NH);
        attention_backward(dinp[k], dpreatt, datt, dout, inp, att[k], B, T, C, NH);
    }
    set_threads(saved);
    check_close("attention out, 2 threads vs 1", out[1], out[0], nout, 1e-5, 0);
    check_close("attention att, 2 threads vs 1", att[1], att[0], natt, 1e-5, 0);
    check_close("attention dinp, 2 threads vs 1", dinp[1], dinp[0], nin, 1e-5, 0);
    for (int k = 0; k < 2; k++) {
        free(out[k]); free(att[k]); free(dinp[k]);
    }
    free(inp); free(dout); free(preatt); free(dpreatt); free(datt);
}

static void test_matmul_is_the_same_with_one_or_two_threads(void **state) {
    (void)state;
    const int N = 130, C = 96, OC = 200;
    size_t nin = (size_t)N * C, nw = (size_t)OC * C, nout = (size_t)N * OC;
    test_seed(902);
    float *inp = random_floats(nin, -1, 1), *weight = random_floats(nw, -1, 1);
    float *bias = random_floats(OC, -1, 1), *dout = random_floats(nout, -1, 1);
    float *out[2], *dinp[2], *dw[2], *db[2];
    int saved = get_threads();
    for (int k = 0; k < 2; k++) {
        set_threads(k + 1);
        out[k] = calloc_or_die(nout, sizeof(float), "out");
        dinp[k] = calloc_or_die(nin, sizeof(float), "dinp");
        dw[k] = calloc_or_die(nw, sizeof(float), "dw");
        db[k] = calloc_or_die(OC, sizeof(float), "db");
        matmul_forward(out[k], inp, weight, bias, N, C, OC);
        matmul_backward(dinp[k], dw[k], db[k], dout, inp, weight, N, C, OC);
    }
    set_threads(saved);
    check_close("matmul out, 2 threads vs 1", out[1], out[0], nout, 1e-5, 0);
    check_close("matmul dinp, 2 threads vs 1", dinp[1], dinp[0], nin, 1e-5, 0);
    check_close("matmul dweight, 2 threads vs 1", dw[1], dw[0], nw, 1e-5, 0);
    check_close("matmul dbias, 2 threads vs 1", db[1], db[0], OC, 1e-5, 0);
    for (int k = 0; k < 2; k++) {
        free(out[k]); free(dinp[k]); free(dw[k]); free(db[k]);
    }
    free(inp); free(weight); free(bias); free(dout);
}

/* The model clears ~100 MB of gradients every step with zero_floats, split
 * across threads. Every element must end at zero -- including the ragged last
 * part -- and nothing past the end may be touched. */
static void test_zero_floats_clears_exactly_n_elements_with_two_threads(void **state) {
    (void)state;
    const size_t n = 100003;  /* above the parallel threshold, not a multiple of anything */
    test_seed(903);
    float *x = random_floats(n + 1, 1, 2);  /* every value in [1, 2): none is zero yet */
    float sentinel = x[n];
    int saved = get_threads();
    set_threads(2);
    zero_floats(x, n);
    set_threads(saved);
    size_t nonzero = 0;
    for (size_t i = 0; i < n; i++) nonzero += x[i] != 0.0f;
    assert_int_equal(nonzero, 0);
    assert_true(x[n] == sentinel);
    free(x);
}

/* transpose copies in 16x16 tiles; shapes that are not multiples of the
 * tile (and one above the parallel threshold, on two threads) must still
 * move every element to its mirrored place and write nothing past the end. */
static void test_transpose_mirrors_every_element_of_awkward_shapes(void **state) {
    (void)state;
    static const int shapes[][2] = {{1, 1}, {1, 37}, {37, 1}, {16, 16}, {17, 33}, {384, 128}, {700, 300}};
    int saved = get_threads();
    set_threads(2);
    test_seed(905);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int R = shapes[k][0], Cn = shapes[k][1];
        size_t n = (size_t)R * Cn;
        float *src = random_floats(n, -1, 1), *dst = random_floats(n + 1, 2, 3);
        float sentinel = dst[n];
        transpose(dst, src, R, Cn);
        for (int r = 0; r < R; r++)
            for (int c = 0; c < Cn; c++) assert_true(dst[(size_t)c * R + r] == src[(size_t)r * Cn + c]);
        assert_true(dst[n] == sentinel);
        free(src);
        free(dst);
    }
    set_threads(saved);
}

/* ---- main ---- */

int main(void) {
    const struct CMUnitTest tests[] = {
        /* 1. backward vs finite differences, and += */
        cmocka_unit_test(test_embedding_backward_matches_finite_differences),
        cmocka_unit_test(test_matmul_backward_matches_finite_differences),
        cmocka_unit_test(test_layernorm_backward_matches_finite_differences),
        cmocka_unit_test(test_gelu_backward_matches_finite_differences),
        cmocka_unit_test(test_attention_backward_matches_finite_differences),
        cmocka_unit_test(test_residual_backward_matches_finite_differences),
        cmocka_unit_test(test_crossentropy_backward_matches_finite_differences),
        cmocka_unit_test(test_logprob_backward_matches_finite_differences),
        cmocka_unit_test(test_every_backward_accumulates_so_calling_it_twice_doubles_the_gradient),
        /* 2. fast matmul vs naive */
        cmocka_unit_test(test_matmul_fast_kernel_matches_naive_loops_on_awkward_sizes),
        cmocka_unit_test(test_matmul_backward_skips_gradients_passed_as_null),
        cmocka_unit_test(test_transpose_mirrors_every_element_of_awkward_shapes),
        /* 3. cross-entropy */
        cmocka_unit_test(test_crossentropy_matches_a_hand_computed_softmax_and_ignores_padding),
        cmocka_unit_test(test_crossentropy_zero_weight_positions_do_not_change_the_mean),
        cmocka_unit_test(test_crossentropy_with_all_zero_weights_returns_zero),
        /* 4. AdamW */
        cmocka_unit_test(test_adamw_first_step_moves_each_parameter_by_lr_plus_decay),
        cmocka_unit_test(test_adamw_without_decay_leaves_the_decay_term_out),
        /* 5. gradient norm and clipping */
        cmocka_unit_test(test_grad_clip_scales_to_exactly_max_norm_when_above),
        cmocka_unit_test(test_grad_clip_leaves_gradients_alone_below_max_norm_or_when_disabled),
        cmocka_unit_test(test_grad_norm_is_bit_identical_for_any_thread_count),
        /* 6. learning rate */
        cmocka_unit_test(test_lr_cosine_warms_up_linearly_then_decays_to_min_lr),
        /* 7. random numbers and sampling */
        cmocka_unit_test(test_rng_same_seed_gives_the_same_sequence),
        cmocka_unit_test(test_rng_uniform_stays_in_zero_to_one_excluding_one),
        cmocka_unit_test(test_rng_below_hits_every_value_below_n_and_nothing_else),
        cmocka_unit_test(test_rng_normal_has_mean_zero_and_variance_one),
        cmocka_unit_test(test_sample_logits_with_temperature_zero_is_the_argmax),
        cmocka_unit_test(test_sample_logits_with_top_k_one_is_the_argmax),
        cmocka_unit_test(test_sample_logits_with_top_k_two_never_leaves_the_top_two),
        cmocka_unit_test(test_sample_logits_frequencies_match_the_softmax),
        /* 8. the causal mask */
        cmocka_unit_test(test_causal_mask_hides_future_tokens_in_attention),
        /* 9. threads */
        cmocka_unit_test(test_attention_is_the_same_with_one_or_two_threads),
        cmocka_unit_test(test_matmul_is_the_same_with_one_or_two_threads),
        cmocka_unit_test(test_zero_floats_clears_exactly_n_elements_with_two_threads),
    };
    return cmocka_run_group_tests_name("tensor", tests, NULL, NULL);
}
