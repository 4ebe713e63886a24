/* scaling.c — rung 3c: what scale buys. GPT-1 -> GPT-2 -> GPT-3 stacked more
 * layers, had more parameters and saw more data, and got better, until tasks
 * could be asked for in the prompt. The papers behind that trend:
 *   GPT-2 (Radford et al. 2019), Figure 1: zero-shot performance rises with size.
 *   GPT-3 (Brown et al. 2020), Figure 1.2 and §3: "larger models make
 *       increasingly efficient use of in-context information": the gap
 *       between few-shot (k = 8 here) and zero-shot (k = 0) grows with size.
 *   Kaplan et al. 2020, "Scaling Laws for Neural Language Models": the test
 *       loss follows a power law in the non-embedding parameters N,
 *       L(N) = (N_c / N)^alpha_N (we add a floor L_inf: a toy world has one),
 *       in data, and in compute C ~ 6 N D.
 *   Hoffmann et al. 2022 (Chinchilla): for a fixed compute budget, the best
 *       model is neither the largest nor the smallest: N and D grow together.
 *
 * The experiment, as this file does it (scaling):
 *   1. a family of sizes (--sizes, L layers x C channels, a fixed head size
 *      and context), each trained from scratch on the same token budget D
 *      (train_run: rung 1's pre-training loop, with no window seen twice);
 *   2. a data sweep: one mid-size model (--data-model) trained on 1/8, 1/4,
 *      1/2 and all of D, each run's cosine schedule ending at its own budget;
 *   3. for every run: validation loss along the way (the compute curves), and
 *      at the end zero-shot accuracy (rung 2's sentiment-with-hint and colour
 *      questions) and few-shot accuracy at k = 0 and k = 8 (rung 3's colour
 *      task), asked through score.c (accuracy);
 *   4. the fit L(N) = (N_c/N)^alpha + L_inf by least squares (fit_power_law),
 *      the same for L(D), 6ND per run, and the compute-optimal size for each
 *      budget (print_frontier).
 * Runs are independent: --jobs worker processes (one thread each by default)
 * train them side by side, the small models' best use of two cores.
 *
 * Left out: a learning rate tuned per size (one for all), embedding FLOPs in
 * C (Kaplan's convention), and repeated data (a budget beyond the corpus is refused).
 */
#include "cli.h"
#include "gpt.h"
#include "score.h"
#include "tokenizer.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- constants ---- */

#define MAX_SIZES 16
#define NUM_FRACTIONS 4          /* the data sweep: D/8, D/4, D/2, D */
#define MAX_RUNS (MAX_SIZES + NUM_FRACTIONS)
#define MAX_POINTS 64            /* validation points per run */
#define FIRST_EVAL 8             /* the first validation after this many steps ... */
#define EVAL_GROWTH 1.5          /* ... then each after 1.5x as many: even on a log axis */
#define MAX_SHOTS 8              /* the few-shot k */
#define WEIGHT_DECAY 0.1f        /* rung 1's AdamW and clip, for every size */
#define CLIP 1.0f
#define SHOT_SEP " . "           /* rung 3's format: "fox -> red . owl -> white . cat ->" */
#define SHOT_MID " -> "

static const char *const DEFAULT_SIZES = "1x32,2x64,3x96,4x128,5x160", *const DEFAULT_DATA_MODEL = "3x96";
static const char *const FAST_SIZES = "1x8,2x16,2x24,3x32,4x48", *const FAST_DATA_MODEL = "2x24";

/* ---- options ---- */

typedef struct {
    const char *data, *val, *tokenizer, *zeroshot, *pool, *fewshot;
    const char *params_log, *data_log, *compute_log, *accuracy_log;
    const char *sizes, *data_model;   /* left at the defaults under --fast: the tiny family */
    int tokens, head_size, seq, batch, jobs, threads, seed, draws, fast;
    float lr, min_lr_frac, warmup_frac;
} Options;

/* Defaults sized for two cores: five sizes from 12 thousand to 1.5 million
 * non-embedding parameters, each on 2^20 tokens (half the corpus). */
static Options defaults(void) {
    Options o = {0};
    o.data = "out/pretrain.bin"; o.val = "out/val.bin"; o.tokenizer = "out/tokenizer.merges";
    o.zeroshot = "data/zeroshot_test.tsv"; o.pool = "data/fewshot_pool.tsv"; o.fewshot = "data/fewshot_test.tsv";
    o.params_log = TRY_DIR "/scaling_params.tsv", o.data_log = TRY_DIR "/scaling_data.tsv";
    o.compute_log = TRY_DIR "/scaling_compute.tsv", o.accuracy_log = TRY_DIR "/scaling_accuracy.tsv";
    o.sizes = DEFAULT_SIZES; o.data_model = DEFAULT_DATA_MODEL; o.tokens = 1 << 20;
    o.head_size = 32; o.seq = 128; o.batch = 8; o.jobs = 2; o.threads = 1; o.seed = 1; o.draws = 8;
    o.lr = 3e-3f; o.min_lr_frac = 0.1f; o.warmup_frac = 0.1f;
    return o;
}

static void parse_flags(Options *o, int argc, char **argv) {
    const Flag flags[] = {
        FLAG_IN("data", &o->data, "pre-training tokens"),
        FLAG_IN("val", &o->val, "validation tokens"),
        FLAG_TOKENIZER(&o->tokenizer),
        FLAG_IN("zeroshot", &o->zeroshot, "rung 2's questions (sentiment, colour are asked)"),
        FLAG_IN("pool", &o->pool, "rung 3's shots (colour rows are used)"),
        FLAG_IN("fewshot", &o->fewshot, "rung 3's test questions (colour rows are asked)"),
        FLAG_OUT("params-log", &o->params_log, "TSV: loss against parameters, and the fit"),
        FLAG_OUT("data-log", &o->data_log, "TSV: loss against tokens (the data sweep)"),
        FLAG_OUT("compute-log", &o->compute_log, "TSV: every run's validation curve against 6ND"),
        FLAG_OUT("accuracy-log", &o->accuracy_log, "TSV: zero- and few-shot accuracy against parameters"),
        FLAG_TEXT("sizes", &o->sizes, "LIST", "the family, LxC or LxCxNH, comma-separated (--fast: 1x8,...,4x48)"),
        FLAG_TEXT("data-model", &o->data_model, "LxC", "the data sweep's model (--fast: 2x24)"),
        FLAG_INT("tokens", &o->tokens, 1, 2147483647, "token budget D of every family run", "4096"),
        FLAG_INT("head-size", &o->head_size, 1, 4096, "channels per head (NH = C / head size)", "8"),
        FLAG_INT("seq", &o->seq, 2, 4096, "context T, the same for every size", "32"),
        FLAG_INT("batch", &o->batch, 1, 4096, "sequences per step", "4"),
        FLAG_FLOAT("lr", &o->lr, 0, 1, "peak learning rate, every size", NULL),
        FLAG_FLOAT("min-lr-frac", &o->min_lr_frac, 0, 1, "final lr as a fraction of the peak, cosine", NULL),
        FLAG_FLOAT("warmup-frac", &o->warmup_frac, 0, 1, "warm-up as a fraction of a run's steps", NULL),
        FLAG_INT("draws", &o->draws, 1, 1000, "few-shot prompts drawn per question", "2"),
        FLAG_INT("jobs", &o->jobs, 1, 64, "runs trained side by side (worker processes)", NULL),
        FLAG_END};
    Cli cli = {"scaling", "train a family of GPT sizes and a data sweep; fit L(N) = (Nc/N)^alpha + Linf",
               flags, &o->seed, &o->threads, &o->fast};
    cli_parse(&cli, argc, argv);
    if (o->fast && o->sizes == DEFAULT_SIZES) o->sizes = FAST_SIZES;   /* not given: the tiny family */
    if (o->fast && o->data_model == DEFAULT_DATA_MODEL) o->data_model = FAST_DATA_MODEL;
}

/* ---- sizes and their cost ---- */

typedef struct { int L, C, NH; } Shape;

/* Kaplan's N, the parameters outside the embeddings, in closed form: per
 * block qkv 3C^2+3C, attention projection C^2+C, MLP 4C^2+4C and 4C^2+C, two
 * LayerNorms 4C, so 12C^2 + 13C; then the final LayerNorm, 2C. The token
 * table (shared with the output layer) and the position table are left out:
 * they grow with V and T, not with depth, and bend the trend at small N. */
static double non_embedding_params(Shape s) {
    return (double)s.L * (12.0 * s.C * s.C + 13.0 * s.C) + 2.0 * s.C;
}

/* Training compute: a forward pass costs 2 FLOPs per parameter per token
 * (a multiply and an add), the backward pass twice that: C = 6 N D. */
static double training_flops(double n_params, double tokens) { return 6.0 * n_params * tokens; }

/* Parses one "LxC" or "LxCxNH" (NH defaults to C / head_size); dies naming
 * the flag and the item if it is malformed or the heads do not divide C. */
static Shape parse_shape(const char *flag, const char *item, int head_size) {
    Shape s = {0, 0, 0};
    int used = 0;
    int got = sscanf(item, "%dx%dx%d%n", &s.L, &s.C, &s.NH, &used);
    if (got < 3) { used = 0; s.NH = 0; got = sscanf(item, "%dx%d%n", &s.L, &s.C, &used); }
    if (got < 2 || item[used] != '\0' || s.L < 1 || s.C < 1 || s.NH < 0)
        die("--%s: '%s' is not a size LxC or LxCxNH (e.g. 2x64)", flag, item);
    if (s.NH == 0) {
        if (s.C % head_size) die("--%s: %s: width %d is not a multiple of the head size %d", flag, item, s.C, head_size);
        s.NH = s.C / head_size;
    }
    if (s.C % s.NH) die("--%s: %s: %d heads do not divide the width %d", flag, item, s.NH, s.C);
    return s;
}

/* Parses the comma-separated family into shapes[] and returns how many. */
static int parse_sizes(const char *list, int head_size, Shape *shapes) {
    char buf[1024];
    if (strlen(list) >= sizeof buf) die("--sizes is too long");
    snprintf(buf, sizeof buf, "%s", list);
    int n = 0;
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (n == MAX_SIZES) die("--sizes: more than %d sizes", MAX_SIZES);
        shapes[n++] = parse_shape("sizes", item, head_size);
    }
    if (n == 0) die("--sizes is empty: give at least one size, e.g. --sizes 1x32,2x64");
    return n;
}

/* ---- the data: windows of the corpus, none seen twice ---- */

/* The corpus cut into nwin windows of T+1 tokens (the last token of one is the
 * first of the next), visited in one random order. A run takes the next B
 * windows per step from the start of the order, so a run of D <= nwin * T
 * tokens never sees a window twice, and a data-sweep run on D/8 sees the
 * first eighth of what the run on D sees. */
typedef struct { const int *tokens; int *order /* (nwin) */, nwin, T; } Windows;

static void windows_init(Windows *w, const int *tokens, size_t n, int T, uint64_t seed) {
    w->tokens = tokens;
    w->T = T;
    w->nwin = n > (size_t)T ? (int)((n - 1) / (size_t)T) : 0;
    w->order = malloc_or_die(sizeof(int) * (size_t)(w->nwin ? w->nwin : 1), "window order");
    for (int i = 0; i < w->nwin; i++) w->order[i] = i;
    Rng rng;
    rng_seed(&rng, seed);
    rng_shuffle(&rng, w->order, w->nwin);
}

/* The batch of step `step`: windows order[step*B .. step*B+B). */
static void windows_batch(const Windows *w, int step, int B, int *inputs, int *targets) {
    for (int b = 0; b < B; b++) {
        const int *src = w->tokens + (size_t)w->order[(size_t)step * B + b] * w->T;
        memcpy(inputs + (size_t)b * w->T, src, sizeof(int) * (size_t)w->T);
        memcpy(targets + (size_t)b * w->T, src + 1, sizeof(int) * (size_t)w->T);
    }
}

/* ---- questions: rung 2's and rung 3's, encoded once ---- */

typedef struct {
    int *ctx, n;        /* the prompt's tokens */
    Candidates cands;   /* and the answer: cands.text[answer] */
    int answer;
} Question;

typedef struct { Question *q; int n; } QuestionSet;

static void add_question(QuestionSet *s, Tokenizer *tok, const char *prompt, const char *answer,
                         const char *cands, const char *where, int maxT) {
    Question *q = &s->q[s->n++];
    q->ctx = encode_prompt(tok, prompt, &q->n);
    candidates_parse(&q->cands, tok, cands, where);
    q->answer = candidates_find(&q->cands, answer);
    if (q->answer < 0) die("%s: the answer '%s' is not among the candidates '%s'", where, answer, cands);
    score_fit(q->ctx, &q->n, q->cands.maxlen, maxT);  /* keep the end, where the question is */
}

/* Rung 2's rows of one task: task <TAB> prompt <TAB> answer <TAB> candidates. */
static QuestionSet load_zeroshot(Tokenizer *tok, const char *path, const char *task, int maxT) {
    Tsv t;
    tsv_read(&t, path, 4);
    QuestionSet s = {calloc_or_die((size_t)t.nrows, sizeof(Question), "questions"), 0};
    for (int i = 0; i < t.nrows; i++) {
        const TsvRow *r = &t.rows[i];
        if (strcmp(r->fields[0], task) != 0) continue;
        char where[600];
        snprintf(where, sizeof where, "%s:%d", path, r->line);
        add_question(&s, tok, r->fields[1], r->fields[2], r->fields[3], where, maxT);
    }
    if (s.n == 0) die("%s has no '%s' questions", path, task);
    tsv_free(&t);
    return s;
}

/* Rung 3's colour task at k shots: for every test row and draw, up to k pool
 * rows in a random order (never one that asks the same thing or whose input
 * is the answer), written "fox -> red . owl -> white . cat ->". Rows are
 * task <TAB> input <TAB> answer <TAB> worked <TAB> candidates. */
static QuestionSet load_fewshot(Tokenizer *tok, const Tsv *pool, const Tsv *test, int k, int draws,
                                uint64_t seed, int maxT) {
    QuestionSet s = {calloc_or_die((size_t)test->nrows * draws, sizeof(Question), "questions"), 0};
    Rng rng;
    rng_seed(&rng, seed + 77u * (uint64_t)k);
    int *order = malloc_or_die(sizeof(int) * (size_t)pool->nrows, "shot order");
    for (int i = 0; i < test->nrows; i++) {
        char **q = test->rows[i].fields, prompt[2048], where[600];
        for (int d = 0; d < draws && !strcmp(q[0], "colour"); d++) {
            size_t len = 0;
            for (int j = 0; j < pool->nrows; j++) order[j] = j;
            rng_shuffle(&rng, order, pool->nrows);
            for (int j = 0, used = 0; j < pool->nrows && used < k && len < 1024; j++) {
                char **p = pool->rows[order[j]].fields;
                /* a colour row, and not one that gives the answer away */
                if (strcmp(p[0], "colour") || !strcmp(p[1], q[1]) || !strcmp(p[1], q[2])) continue;
                len += (size_t)snprintf(prompt + len, sizeof prompt - len, "%s" SHOT_MID "%s" SHOT_SEP, p[1], p[2]);
                used++;
            }
            snprintf(prompt + len, sizeof prompt - len, "%s ->", q[1]);
            snprintf(where, sizeof where, "%s:%d", test->path, test->rows[i].line);
            add_question(&s, tok, prompt, q[2], q[4], where, maxT);
        }
    }
    free(order);
    if (s.n == 0) die("%s has no colour questions", test->path);
    return s;
}

static void free_questions(QuestionSet *s) {
    for (int i = 0; i < s->n; i++) { free(s->q[i].ctx); candidates_free(&s->q[i].cands); }
    free(s->q);
}

/* The fraction answered right: the candidate with the highest summed
 * log-probability (score.c, as rungs 2 and 3 rank). */
static float accuracy(GPT *m, const QuestionSet *s) {
    int right = 0;
    Score sc[SCORE_MAX_CANDIDATES];
    for (int i = 0; i < s->n; i++) {
        const Question *q = &s->q[i];
        score_candidates(m, q->ctx, q->n, q->cands.tokens, q->cands.len, q->cands.n, sc);
        right += score_best(sc, q->cands.n, 0) == q->answer;
    }
    return (float)right / (float)s->n;
}

/* ---- the runs ---- */

/* Everything shared between the runs: read once, before the workers fork. */
typedef struct {
    Tokenizer tok;
    int *val;           /* (nval) validation tokens */
    size_t nval;
    Windows win;        /* the training tokens */
    QuestionSet sentiment, colour, k0, k8;   /* zero-shot: rung 2; few-shot: rung 3 at k = 0 and 8 */
} Shared;

typedef struct { double tokens, loss; } CurvePoint;

/* One training run. The array of runs lives in memory shared with the
 * worker processes: each worker fills in the runs it trains. */
typedef struct {
    Shape shape;
    int family;               /* 1: one of the sizes; 0: a data-sweep run */
    int steps;                /* D = steps * B * T */
    double tokens, n_params;  /* D, and N (non-embedding) */
    float val_loss, zs_sentiment, zs_colour, fs_k0, fs_k8;  /* at the end */
    double seconds;
    int npoints, done;
    CurvePoint curve[MAX_POINTS];  /* validation loss along the way */
} Run;

/* Rung 1's pre-training loop (gpt1.c) for one size and budget: AdamW, cosine
 * schedule ending at the run's own last step, the next B unseen windows per
 * step; the validation loss at geometrically spaced steps. Then the
 * questions. Deterministic for the seed and thread count, whichever worker
 * trains it. */
static void train_run(Run *r, const Options *o, Shared *sh) {
    const Shape *s = &r->shape;
    GPT m;
    gpt_build(&m, gpt_config(o->seq, sh->tok.vocab_size, s->L, s->NH, s->C),
              (uint64_t)o->seed * 1000003u + (uint64_t)(s->L * 4096 + s->C));
    m.tokenizer_id = tokenizer_id(&sh->tok);
    int B = o->batch, T = o->seq, warmup = (int)(o->warmup_frac * r->steps);
    int *inputs = malloc_or_die(sizeof(int) * (size_t)B * T, "inputs");
    int *targets = malloc_or_die(sizeof(int) * (size_t)B * T, "targets");
    AdamWConfig adam = {0.9f, 0.95f, 1e-8f, WEIGHT_DECAY};
    char name[96];
    snprintf(name, sizeof name, "L%d C%d NH%d D=%.0f", s->L, s->C, s->NH, r->tokens);
    double t0 = now_seconds(), next_eval = FIRST_EVAL;
    for (int step = 0; step < r->steps; step++) {
        windows_batch(&sh->win, step, B, inputs, targets);
        float loss = gpt_lm_step(&m, inputs, targets, NULL, B, T);
        die_if_not_finite("the training loss", loss, step);
        gpt_clip_grad(&m, CLIP);
        gpt_update(&m, lr_cosine(step, r->steps, warmup, o->lr, o->lr * o->min_lr_frac), &adam);
        if (step + 1 >= next_eval || step + 1 == r->steps) {
            float val = gpt_eval_loss(&m, sh->val, sh->nval, B, T, GPT_EVAL_BATCHES, inputs, targets);
            die_if_not_finite("the validation loss", val, step);
            if (r->npoints < MAX_POINTS) r->curve[r->npoints++] = (CurvePoint){(double)(step + 1) * B * T, val};
            r->val_loss = val;
            while (next_eval <= step + 1) next_eval = ceil(next_eval * EVAL_GROWTH);
            printf("[%s] step %d/%d | loss %.4f | val %.4f | %.0f s\n", name, step + 1, r->steps, loss, val,
                   now_seconds() - t0);
        }
    }
    r->zs_sentiment = accuracy(&m, &sh->sentiment);
    r->zs_colour = accuracy(&m, &sh->colour);
    r->fs_k0 = accuracy(&m, &sh->k0);
    r->fs_k8 = accuracy(&m, &sh->k8);
    r->seconds = now_seconds() - t0;
    r->done = 1;
    printf("[%s] done in %.1f s: val %.4f, zero-shot sentiment %.3f colour %.3f, few-shot k=0 %.3f k=8 %.3f\n",
           name, r->seconds, r->val_loss, r->zs_sentiment, r->zs_colour, r->fs_k0, r->fs_k8);
    free(inputs);
    free(targets);
    gpt_free(&m);
}

/* Trains every run, on `jobs` worker processes (fork) each with `threads`
 * threads; jobs == 1 trains them here, one after another (the way to step
 * through it in a debugger). Work goes to the least loaded worker, largest
 * run first (cost N * D). The runs array must be in shared memory. */
static double run_cost(const Run *r) { return r->n_params * r->tokens; }

static void train_all(Run *runs, int nruns, const Options *o, Shared *sh) {
    if (o->jobs == 1) {
        set_threads(o->threads);
        for (int i = 0; i < nruns; i++) train_run(&runs[i], o, sh);
        return;
    }
    int worker[MAX_RUNS], taken[MAX_RUNS] = {0};
    double load[64] = {0};
    for (int k = 0; k < nruns; k++) {   /* the most expensive run left goes to the least loaded worker */
        int next = -1, w = 0;
        for (int i = 0; i < nruns; i++)
            if (!taken[i] && (next < 0 || run_cost(&runs[i]) > run_cost(&runs[next]))) next = i;
        for (int v = 1; v < o->jobs; v++) if (load[v] < load[w]) w = v;
        taken[next] = 1, worker[next] = w, load[w] += run_cost(&runs[next]);
    }
    pid_t pids[64];
    fflush(NULL);  /* or every child would print what is still buffered */
    for (int w = 0; w < o->jobs; w++) {
        pids[w] = fork();
        if (pids[w] < 0) die("cannot start worker %d: fork failed", w);
        if (pids[w] == 0) {  /* the worker: its runs, one thread each (no OpenMP before the fork) */
            set_threads(o->threads);
            for (int i = 0; i < nruns; i++) if (worker[i] == w) train_run(&runs[i], o, sh);
            fflush(NULL);
            _exit(0);
        }
    }
    int failed = 0, status;
    for (int w = 0; w < o->jobs; w++)
        failed |= waitpid(pids[w], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    if (failed) die("a training worker failed (its error is above); no log written");
}

/* ---- the fit: L(x) = (x_c / x)^alpha + L_inf ---- */

typedef struct {
    double alpha, xc, linf;  /* the power law */
    double rss;              /* sum of squared residuals, in nats^2 */
    int ok, edge;            /* ok 0: under 3 points, or the loss does not fall with x;
                                edge 1: alpha at the edge of the search, no floor visible */
} PowerFit;

/* For a fixed alpha, write a = (x_c/g)^alpha and u = (x/g)^-alpha (g the
 * geometric mean of the x, so u stays near 1): the model y = a u + L_inf is
 * a straight line in u, and ordinary least squares gives its slope and
 * intercept in closed form,
 *     a = cov(u, y) / var(u),     L_inf = mean(y) - a mean(u).
 * Returns the residual sum of squares. */
static double fit_at_alpha(const double *xs, const double *y, int n, double alpha, double *a, double *linf) {
    double u[MAX_RUNS], mu = 0.0, my = 0.0, suu = 0.0, suy = 0.0, rss = 0.0;
    for (int i = 0; i < n; i++) { u[i] = pow(xs[i], -alpha); mu += u[i] / n; my += y[i] / n; }
    for (int i = 0; i < n; i++) { suu += (u[i] - mu) * (u[i] - mu); suy += (u[i] - mu) * (y[i] - my); }
    *a = suu > 0.0 ? suy / suu : 0.0;
    *linf = my - *a * mu;
    for (int i = 0; i < n; i++) rss += (y[i] - *a * u[i] - *linf) * (y[i] - *a * u[i] - *linf);
    return rss;
}

/* Least squares over all three parameters: the closed form above leaves one
 * unknown, alpha, found by a grid over [0.01, 3] in steps of 0.001 and then
 * a grid 100x finer around the best. Only a > 0 counts (a loss that falls
 * with x). When the points lie on a straight line in log x, the best alpha
 * runs to the small edge (L = c - k log x is the limit alpha -> 0, L_inf ->
 * -infinity): edge says so. n <= MAX_RUNS. */
#define ALPHA_MIN 0.01
#define ALPHA_MAX 3.0
static PowerFit fit_power_law(const double *x, const double *y, int n) {
    PowerFit f = {0.0, 0.0, 0.0, INFINITY, 0, 0};
    if (n < 3) return f;
    double g = 0.0, xs[MAX_RUNS], a_best = 0.0;
    for (int i = 0; i < n; i++) g += log(x[i]) / n;
    g = exp(g);
    for (int i = 0; i < n; i++) xs[i] = x[i] / g;
    double lo = ALPHA_MIN, hi = ALPHA_MAX, step = 0.001;
    for (int pass = 0; pass < 2; pass++) {
        for (double alpha = lo; alpha <= hi + 1e-12; alpha += step) {
            double a, linf, rss = fit_at_alpha(xs, y, n, alpha, &a, &linf);
            if (a > 0.0 && rss < f.rss) { f = (PowerFit){alpha, 0.0, linf, rss, 1, 0}; a_best = a; }
        }
        if (!f.ok) return f;
        lo = fmax(f.alpha - step, ALPHA_MIN); hi = fmin(f.alpha + step, ALPHA_MAX); step /= 100;
    }
    f.edge = f.alpha < ALPHA_MIN + 1e-6 || f.alpha > ALPHA_MAX - 1e-6;
    f.xc = g * pow(a_best, 1.0 / f.alpha);   /* a = (x_c/g)^alpha */
    return f;
}

static double power_law(const PowerFit *f, double x) { return pow(f->xc / x, f->alpha) + f->linf; }

/* For the logs: the fit's value at x, or "-" where there is no usable fit
 * (then the logged alpha, x_c and L_inf are 0). */
static int usable(const PowerFit *f) { return f->ok && isfinite(f->xc) && f->xc > 0.0; }
static const char *fit_text(char *buf, size_t n, const PowerFit *f, double x) {
    if (usable(f)) snprintf(buf, n, "%.5f", power_law(f, x)); else snprintf(buf, n, "-");
    return buf;
}

/* ---- compute: the lowest loss for a budget ---- */

/* The lowest validation loss run r reached within c FLOPs (its last curve
 * point with 6 N D <= c), or INFINITY if none. */
static double loss_within(const Run *r, double c) {
    double best = INFINITY;
    for (int p = 0; p < r->npoints; p++)
        if (training_flops(r->n_params, r->curve[p].tokens) <= c * (1 + 1e-9)) best = fmin(best, r->curve[p].loss);
    return best;
}

/* For every family run's budget C = 6 N D: which size, stopped anywhere
 * along its curve, reached the lowest loss within C. Kaplan's frontier; a
 * run stopped mid-way has not finished its cosine decay, so this is an
 * upper bound on what a run planned for that budget would reach. */
static void print_frontier(const Run *runs, int nfam, int nruns) {
    printf("\ncompute (6 N D, N non-embedding) and the size that reaches the lowest loss within it:\n");
    for (int j = 0; j < nfam; j++) {
        double c = training_flops(runs[j].n_params, runs[j].tokens), best = INFINITY;
        int at = -1;
        for (int i = 0; i < nruns; i++)
            if (runs[i].family && loss_within(&runs[i], c) < best) { best = loss_within(&runs[i], c); at = i; }
        printf("  C = %.2e FLOPs (L%d C%d's full run, loss %.4f): best L%d C%d, loss %.4f\n", c,
               runs[j].shape.L, runs[j].shape.C, runs[j].val_loss, runs[at].shape.L, runs[at].shape.C, best);
    }
}

/* ---- logs (TSV, one header line; plots/scaling_*.gp draw them) ---- */

/* The family: loss, size and fit (params), and the questions (accuracy). */
static void write_family_logs(const Options *o, const Run *runs, int nfam, const PowerFit *f, int V) {
    AtomicFile log, acc;
    log_open(&log, o->params_log, 0);
    log_open(&acc, o->accuracy_log, 0);
    fprintf(log.f, "L\tC\tNH\tn_params\tn_total\ttokens\tflops\tval_loss\tfit_loss\tseconds\talpha\tn_c\tl_inf\n");
    fprintf(acc.f, "L\tC\tn_params\tzs_sentiment\tzs_colour\tfs_k0\tfs_k8\tfs_gain\n");
    for (int i = 0; i < nfam; i++) {
        const Run *r = &runs[i];
        GPTConfig cfg = gpt_config(o->seq, V, r->shape.L, r->shape.NH, r->shape.C);
        char fit[32];
        fprintf(log.f, "%d\t%d\t%d\t%.0f\t%zu\t%.0f\t%.4g\t%.5f\t%s\t%.1f\t%.5f\t%.5g\t%.5f\n", r->shape.L,
                r->shape.C, r->shape.NH, r->n_params, gpt_num_parameters(&cfg), r->tokens,
                training_flops(r->n_params, r->tokens), r->val_loss, fit_text(fit, sizeof fit, f, r->n_params),
                r->seconds, usable(f) ? f->alpha : 0.0, usable(f) ? f->xc : 0.0, usable(f) ? f->linf : 0.0);
        fprintf(acc.f, "%d\t%d\t%.0f\t%.5f\t%.5f\t%.5f\t%.5f\t%.5f\n", r->shape.L, r->shape.C, r->n_params,
                r->zs_sentiment, r->zs_colour, r->fs_k0, r->fs_k8, r->fs_k8 - r->fs_k0);
        log_flush(&log);
        log_flush(&acc);
    }
    log_commit(&log);
    log_commit(&acc);
}

static void write_data_log(const char *path, Run *const *sweep, const PowerFit *f) {
    AtomicFile log;
    log_open(&log, path, 0);
    fprintf(log.f, "L\tC\tfraction\ttokens\tflops\tval_loss\tfit_loss\tseconds\tbeta\td_c\tl_inf\n");
    for (int i = 0; i < NUM_FRACTIONS; i++) {
        const Run *r = sweep[i];
        char fit[32];
        fprintf(log.f, "%d\t%d\t%.5f\t%.0f\t%.4g\t%.5f\t%s\t%.1f\t%.5f\t%.5g\t%.5f\n", r->shape.L, r->shape.C,
                r->tokens / sweep[NUM_FRACTIONS - 1]->tokens, r->tokens, training_flops(r->n_params, r->tokens),
                r->val_loss, fit_text(fit, sizeof fit, f, r->tokens), r->seconds, usable(f) ? f->alpha : 0.0,
                usable(f) ? f->xc : 0.0, usable(f) ? f->linf : 0.0);
        log_flush(&log);
    }
    log_commit(&log);
}

/* Every validation point of every run (run = its index, from 1), and the
 * frontier: the lowest loss any run reached within the point's compute. */
static void write_compute_log(const char *path, const Run *runs, int nruns) {
    AtomicFile log;
    log_open(&log, path, 0);
    fprintf(log.f, "run\tL\tC\tfamily\tn_params\ttokens\tflops\tval_loss\tfrontier_loss\n");
    for (int i = 0; i < nruns; i++) {
        const Run *r = &runs[i];
        for (int p = 0; p < r->npoints; p++) {
            double c = training_flops(r->n_params, r->curve[p].tokens), front = INFINITY;
            for (int j = 0; j < nruns; j++) front = fmin(front, loss_within(&runs[j], c));
            fprintf(log.f, "%d\t%d\t%d\t%d\t%.0f\t%.0f\t%.4g\t%.5f\t%.5f\n", i + 1, r->shape.L, r->shape.C,
                    r->family, r->n_params, r->curve[p].tokens, c, r->curve[p].loss, front);
        }
        log_flush(&log);
    }
    log_commit(&log);
}

/* ---- the report ---- */

static void print_family(const Run *runs, int nfam, const PowerFit *f) {
    printf("\nthe family: every size on the same %.0f tokens\n", runs[0].tokens);
    printf("  L    C  NH  non-emb N   6ND FLOPs  val loss  fit      zs sent  zs col  k=0    k=8    k8-k0  seconds\n");
    for (int i = 0; i < nfam; i++) {
        const Run *r = &runs[i];
        printf("%3d %4d %3d %10.0f  %10.3e  %8.4f  %7.4f  %6.3f   %6.3f  %5.3f  %5.3f  %+5.3f  %6.1f\n",
               r->shape.L, r->shape.C, r->shape.NH, r->n_params, training_flops(r->n_params, r->tokens),
               r->val_loss, f->ok ? power_law(f, r->n_params) : NAN, r->zs_sentiment, r->zs_colour, r->fs_k0,
               r->fs_k8, r->fs_k8 - r->fs_k0, r->seconds);
    }
    if (!f->ok) printf("fit L(N): none (%s)\n", nfam < 3 ? "needs at least 3 sizes" : "the loss does not fall with N");
    else printf("fit L(N) = (N_c / N)^alpha + L_inf: alpha = %.3f, N_c = %.3g, L_inf = %.3f nats (rms residual %.4f)\n",
                f->alpha, f->xc, f->linf, sqrt(f->rss / nfam));
    if (f->ok && f->edge) printf("  (alpha at the edge of the search: the points show no floor to fit)\n");
}

static double print_data_sweep(Run *const *sweep, const PowerFit *f) {
    const Run *a = sweep[0], *b = sweep[NUM_FRACTIONS - 1];
    printf("\nthe data sweep: L%d C%d on 1/8, 1/4, 1/2 and all of %.0f tokens (each schedule ends at its budget)\n",
           b->shape.L, b->shape.C, b->tokens);
    for (int i = 0; i < NUM_FRACTIONS; i++)
        printf("  D = %9.0f  val loss %.4f  (%.1f s)\n", sweep[i]->tokens, sweep[i]->val_loss, sweep[i]->seconds);
    double slope = -log(b->val_loss / a->val_loss) / log(b->tokens / a->tokens);   /* -d log L / d log D */
    printf("log-log slope from D/8 to D: %.3f", slope);
    if (f->ok) printf("; fit L(D) = (D_c / D)^beta + L_inf: beta = %.3f, D_c = %.3g, L_inf = %.3f", f->alpha, f->xc, f->linf);
    printf("\n");
    return slope;
}

static void print_summary(const Run *runs, int nfam, const PowerFit *f, double data_slope) {
    const Run *s = &runs[0], *l = &runs[nfam - 1];
    printf("summary scaling: %d sizes, N %.3g to %.3g (%.0fx) on %.3g tokens; alpha %.3f (L_inf %.3f); "
           "val loss %.3f -> %.3f; colour k=8 minus k=0 %+.3f -> %+.3f; data-sweep slope %.3f\n",
           nfam, s->n_params, l->n_params, l->n_params / s->n_params, s->tokens, f->ok ? f->alpha : NAN,
           f->ok ? f->linf : NAN, s->val_loss, l->val_loss, s->fs_k8 - s->fs_k0, l->fs_k8 - l->fs_k0, data_slope);
}

/* ---- the experiment ---- */

/* Reads the corpus, the validation stream and the questions, and checks the
 * budget: steps * B windows must exist unseen, and D/8 must be a step. */
static void load_shared(Shared *sh, const Options *o, int steps) {
    tokenizer_load(&sh->tok, o->tokenizer);
    int V = sh->tok.vocab_size, T = o->seq;
    size_t n;
    int *tokens = tokens_load(o->data, &n, V);
    sh->val = tokens_load(o->val, &sh->nval, V);
    if (n > 0x7fffffff) die("%s has %zu tokens; this loader takes at most 2^31", o->data, n);
    if (sh->nval < (size_t)o->batch * T + 1)
        die("%s has %zu tokens: too few for one validation batch of %d x %d", o->val, sh->nval, o->batch, T);
    windows_init(&sh->win, tokens, n, T, (uint64_t)o->seed + 1000);
    if ((long long)steps * o->batch > sh->win.nwin)
        die("--tokens %d: %s holds %d windows of %d tokens (%lld tokens); a larger budget would repeat data, "
            "which scaling never does (at most --tokens %lld)", o->tokens, o->data, sh->win.nwin, T,
            (long long)sh->win.nwin * T, (long long)sh->win.nwin * T);
    sh->sentiment = load_zeroshot(&sh->tok, o->zeroshot, "sentiment", T);
    sh->colour = load_zeroshot(&sh->tok, o->zeroshot, "colour", T);
    Tsv pool, test;
    tsv_read(&pool, o->pool, 5);
    tsv_read(&test, o->fewshot, 5);
    sh->k0 = load_fewshot(&sh->tok, &pool, &test, 0, 1, (uint64_t)o->seed, T);   /* k = 0: one prompt each */
    sh->k8 = load_fewshot(&sh->tok, &pool, &test, MAX_SHOTS, o->draws, (uint64_t)o->seed, T);
    tsv_free(&pool);
    tsv_free(&test);
}

static void free_shared(Shared *sh) {
    free((void *)sh->win.tokens);
    free(sh->win.order);
    free(sh->val);
    QuestionSet *sets[] = {&sh->sentiment, &sh->colour, &sh->k0, &sh->k8};
    for (int i = 0; i < 4; i++) free_questions(sets[i]);
    tokenizer_free(&sh->tok);
}

static Run new_run(Shape s, int family, int steps, int B, int T) {
    return (Run){.shape = s, .family = family, .steps = steps, .tokens = (double)steps * B * T,
                 .n_params = non_embedding_params(s)};
}

/* Lays out the runs: the family first, then the data sweep's D/8, D/4, D/2
 * (and D, unless the data model is one of the family: then its run is the
 * sweep's last point). sweep[] points at the sweep's four runs. Returns the
 * number of runs. */
static int plan_runs(Run *runs, const Shape *fam, int nfam, Shape dm, int steps, const Options *o, Run **sweep) {
    int n = 0, in_family = -1;
    for (int i = 0; i < nfam; i++) {
        runs[n++] = new_run(fam[i], 1, steps, o->batch, o->seq);
        if (fam[i].L == dm.L && fam[i].C == dm.C && fam[i].NH == dm.NH) in_family = i;
    }
    for (int f = 0; f < NUM_FRACTIONS - 1; f++) {
        runs[n] = new_run(dm, 0, steps >> (NUM_FRACTIONS - 1 - f), o->batch, o->seq);
        sweep[f] = &runs[n++];
    }
    if (in_family < 0) runs[n] = new_run(dm, 0, steps, o->batch, o->seq);
    sweep[NUM_FRACTIONS - 1] = in_family >= 0 ? &runs[in_family] : &runs[n++];
    return n;
}

static void scaling(const Options *o) {
    Shape fam[MAX_SIZES];
    int nfam = parse_sizes(o->sizes, o->head_size, fam);
    Shape dm = parse_shape("data-model", o->data_model, o->head_size);
    int steps = (int)((long long)o->tokens / ((long long)o->batch * o->seq));
    if (steps < 1 << (NUM_FRACTIONS - 1))
        die("--tokens %d is less than %d steps of %d x %d tokens: the data sweep's D/%d run would not take one",
            o->tokens, 1 << (NUM_FRACTIONS - 1), o->batch, o->seq, 1 << (NUM_FRACTIONS - 1));
    Shared sh;
    load_shared(&sh, o, steps);
    Run *runs = mmap(NULL, sizeof(Run) * MAX_RUNS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (runs == MAP_FAILED) die("cannot map %zu bytes for the runs' results", sizeof(Run) * MAX_RUNS);
    Run *sweep[NUM_FRACTIONS];
    int nruns = plan_runs(runs, fam, nfam, dm, steps, o, sweep);
    printf("scaling: %d sizes and a data sweep, %d runs of up to %d steps of %d x %d tokens, %d at a time "
           "(%d thread%s each)\n", nfam, nruns, steps, o->batch, o->seq, o->jobs, o->threads, o->threads == 1 ? "" : "s");
    double t0 = now_seconds();
    train_all(runs, nruns, o, &sh);
    for (int i = 0; i < nruns; i++) if (!runs[i].done) die("run %d was not trained", i);
    double x[MAX_RUNS], y[MAX_RUNS];
    for (int i = 0; i < nfam; i++) { x[i] = runs[i].n_params; y[i] = runs[i].val_loss; }
    PowerFit fn = fit_power_law(x, y, nfam);
    for (int i = 0; i < NUM_FRACTIONS; i++) { x[i] = sweep[i]->tokens; y[i] = sweep[i]->val_loss; }
    PowerFit fd = fit_power_law(x, y, NUM_FRACTIONS);
    print_family(runs, nfam, &fn);
    double slope = print_data_sweep(sweep, &fd);
    print_frontier(runs, nfam, nruns);
    write_family_logs(o, runs, nfam, &fn, sh.tok.vocab_size);
    write_data_log(o->data_log, sweep, &fd);
    write_compute_log(o->compute_log, runs, nruns);
    printf("\nlogs: %s %s %s %s; done in %.1f s\n", o->params_log, o->accuracy_log, o->data_log, o->compute_log, now_seconds() - t0);
    print_summary(runs, nfam, &fn, slope);
    munmap(runs, sizeof(Run) * MAX_RUNS);
    free_shared(&sh);
}

/* ---- main ---- */

#ifndef TESTING
int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);  /* progress lines appear as they happen, even in a pipe */
    Options o = defaults();
    parse_flags(&o, argc, argv);
    scaling(&o);
    return 0;
}
#endif
