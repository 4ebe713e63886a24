/* reward.c — rung 5: InstructGPT step 2, the reward model (RM), from
 * "Training language models to follow instructions with human feedback"
 * (Ouyang et al. 2022), §3.5:
 *
 *   "Reward modeling (RM). Starting from the SFT model with the final
 *    unembedding layer removed, we trained a model to take in a prompt and
 *    response, and output a scalar reward. [...] we present labelers with
 *    anywhere between K = 4 and K = 9 responses to rank. This produces C(K,2)
 *    comparisons for each prompt [...]. Since comparisons are very correlated
 *    within each labeling task, we found that if we simply shuffle the
 *    comparisons into one dataset, a single pass over the dataset caused the
 *    reward model to overfit. Instead, we train on all C(K,2) comparisons
 *    from each prompt as a single batch element. This is much more
 *    computationally efficient because it only requires a single forward
 *    pass of the RM for each completion [...]"
 *
 *       loss(theta) = - 1/C(K,2) E_(x, y_w, y_l)~D [ log sigma(r(x, y_w) - r(x, y_l)) ]
 *
 *   "[...] since the RM loss is invariant to shifts in reward, we normalize
 *    the reward model using a bias [...] before doing RL."
 *
 * Here:
 *   the model     RewardModel (instruct.h): the SFT trunk and a scalar
 *                 LinearHead read at the end-of-text of prompt + response;
 *   the data      data/prefs_train.tsv, a prompt and K responses ranked best
 *                 first by the hidden rule (the stand-in for labellers);
 *   the loss      ranking_loss: one prompt's C(K,2) pairs, the gradient
 *                 written by hand; ranking_step: a batch of prompts, each of
 *                 them ONE batch element (K forward passes, all pairs), the
 *                 loss their mean;
 *   normalising   after training, a gain and shift on the head so that the
 *                 SFT model's own sampled answers get rewards of mean 0 and
 *                 std 1 (what PPO will see), saved in the .head file
 *                 (normalise);
 *   measured      pairwise accuracy and top-1 agreement with the rule on
 *                 data/prefs_test.tsv, prompts the RM never compared.
 *
 * `reward score --prompt P --response R` prints the reward of any pair.
 *
 * Left out: the paper's 6B RM, and its data (33k prompts). Each response is
 * scored as followed by end-of-text, as the data's rule scores it.
 */
#include "gpt.h"
#include "head.h"
#include "instruct.h"
#include "tokenizer.h"
#include "toyworld.h"
#include "util.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- options ---- */

typedef struct {
    const char *tokenizer, *model, *train, *test, *out, *log;
    const char *prompt, *response;          /* reward score */
    int epochs, batch, warmup, eval_every, seed, threads, norm_samples, max_answer;
    int pairs_apart;                        /* the ablation: every pair its own batch element */
    float lr, min_lr_frac, weight_decay, clip, head_init, norm_temperature;
} Options;

/* Defaults. InstructGPT trains one epoch; here one epoch of 192 rankings
 * leaves the model unable to tell a right fact from a wrong one (a plateau
 * at loss (3/6) log 2, three of six pairs tied), and it takes ~10 epochs of
 * small batches (480 steps of 4 prompts; RLHF-NOTES.md found ~500 steps) to
 * learn the facts of its own prompts. notes/06-reward-model.md has the
 * numbers; --epochs 1 shows the plateau. */
static Options train_defaults(void) {
    Options o = {0};
    o.tokenizer = "out/tokenizer.merges";
    o.model = "out/sft.bin";
    o.train = "data/prefs_train.tsv";
    o.test = "data/prefs_test.tsv";
    o.out = "out/reward.bin";
    o.log = "plots/reward.tsv";
    o.epochs = 10; o.batch = 4; o.warmup = 10; o.eval_every = 24;
    o.lr = 3e-4f; o.min_lr_frac = 0.1f; o.weight_decay = 0.01f; o.clip = 1.0f;
    o.head_init = 0.0f; o.seed = 1;
    o.norm_samples = 4; o.norm_temperature = 1.0f; o.max_answer = CHAT_MAX_ANSWER;
    return o;
}

static Options score_defaults(void) {
    Options o = {0};
    o.tokenizer = "out/tokenizer.merges";
    o.model = "out/reward.bin";
    return o;
}

/* The tiny preset the end-to-end test uses: same code paths, seconds. */
static void apply_fast(Options *o) {
    o->epochs = 1; o->batch = 8; o->warmup = 2; o->eval_every = 12; o->norm_samples = 1;
}

/* ---- the comparisons: prompt <tab> r1 <tab> r2 ... (best first) ---- */

typedef struct {
    char *prompt;
    int K;             /* responses, K >= 2 */
    char **responses;  /* (K) best first */
    Chat *chats;       /* (K) prompt + response k in the chat format */
} Ranking;

typedef struct {
    int n;
    Ranking *r;        /* (n) */
    int Kmax;
} RankingSet;

/* Reads a TSV of rankings. Every row needs a prompt and at least two
 * responses, none empty, each fitting the model's context. */
static RankingSet load_rankings(Tokenizer *tok, const char *path, const GPT *m) {
    Tsv tsv;
    tsv_read(&tsv, path, 2);
    RankingSet s = {tsv.nrows, malloc_or_die(sizeof(Ranking) * (size_t)tsv.nrows, "rankings"), 0};
    for (int i = 0; i < s.n; i++) {
        const TsvRow *row = &tsv.rows[i];
        int K = row->nfields - 1;
        if (K < 2) die("%s:%d: a ranking needs a prompt and at least 2 responses, found %d", path, row->line, K);
        if (row->fields[0][0] == '\0') die("%s:%d: the prompt is empty", path, row->line);
        Ranking *r = &s.r[i];
        r->prompt = strdup_or_die(row->fields[0]);
        r->K = K;
        r->responses = malloc_or_die(sizeof(char *) * (size_t)K, "responses");
        r->chats = malloc_or_die(sizeof(Chat) * (size_t)K, "chats");
        for (int k = 0; k < K; k++) {
            if (row->fields[k + 1][0] == '\0') die("%s:%d: response %d is empty", path, row->line, k + 1);
            r->responses[k] = strdup_or_die(row->fields[k + 1]);
            r->chats[k] = chat_encode_pair(tok, r->prompt, r->responses[k]);
            char where[300];
            snprintf(where, sizeof where, "%s:%d", path, row->line);
            instruct_check_fits(&r->chats[k], m, where);
        }
        if (K > s.Kmax) s.Kmax = K;
    }
    tsv_free(&tsv);
    return s;
}

static void free_rankings(RankingSet *s) {
    for (int i = 0; i < s->n; i++) {
        Ranking *r = &s->r[i];
        for (int k = 0; k < r->K; k++) {
            free(r->responses[k]);
            chat_free(&r->chats[k]);
        }
        free(r->responses);
        free(r->chats);
        free(r->prompt);
    }
    free(s->r);
}

/* The ablation InstructGPT argues against: every one of a prompt's C(K,2)
 * comparisons becomes a ranking of its own (K = 2), shuffled into one
 * dataset of pairs. A response of a K-way ranking then appears in K-1
 * elements and gets K-1 separate updates per epoch. The pairs share the
 * rankings' text and tokens (free with free_pair_set, before the rankings). */
static RankingSet split_into_pairs(const RankingSet *s) {
    int n = 0;
    for (int i = 0; i < s->n; i++) n += s->r[i].K * (s->r[i].K - 1) / 2;
    RankingSet p = {n, malloc_or_die(sizeof(Ranking) * (size_t)n, "pairs"), 2};
    int k = 0;
    for (int i = 0; i < s->n; i++) {
        const Ranking *r = &s->r[i];
        for (int a = 0; a < r->K; a++) {
            for (int b = a + 1; b < r->K; b++, k++) {
                p.r[k].prompt = r->prompt;
                p.r[k].K = 2;
                p.r[k].responses = malloc_or_die(sizeof(char *) * 2, "a pair");
                p.r[k].chats = malloc_or_die(sizeof(Chat) * 2, "a pair");
                p.r[k].responses[0] = r->responses[a];
                p.r[k].responses[1] = r->responses[b];
                p.r[k].chats[0] = r->chats[a];  /* shallow: the tokens stay the ranking's */
                p.r[k].chats[1] = r->chats[b];
            }
        }
    }
    return p;
}

static void free_pair_set(RankingSet *p) {
    for (int i = 0; i < p->n; i++) {
        free(p->r[i].responses);
        free(p->r[i].chats);
    }
    free(p->r);
}

/* ---- the loss: all C(K,2) pairs of one prompt ---- */

/* log sigma(x), computed without overflow for large |x| */
static double log_sigmoid(double x) { return x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x)); }
static double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

/* The pairwise ranking loss of one prompt, rewards r (K) best first:
 *     L = - 1/C(K,2) sum_{i<j} log sigma(r_i - r_j)
 * and its gradient, written by hand into dr (K) (overwritten). For one pair
 * (w = i, l = j), with s = sigma(r_w - r_l):
 *     dL/dr_w = -(1 - s) / C(K,2),    dL/dr_l = +(1 - s) / C(K,2).
 * A well-ranked pair (s near 1) has almost no gradient; a reversed one pulls
 * the two rewards apart with a force near 1/C(K,2). */
static float ranking_loss(const float *r, int K, float *dr) {
    double pairs = 0.5 * K * (K - 1), loss = 0.0;
    for (int k = 0; k < K; k++) dr[k] = 0.0f;
    for (int i = 0; i < K; i++) {
        for (int j = i + 1; j < K; j++) {
            double diff = (double)r[i] - r[j];
            loss -= log_sigmoid(diff) / pairs;
            double g = (1.0 - sigmoid(diff)) / pairs;
            dr[i] -= (float)g;
            dr[j] += (float)g;
        }
    }
    return (float)loss;
}

/* What one forward over a batch of rankings measured. */
typedef struct {
    float loss;       /* mean over the batch's prompts of ranking_loss */
    double right;     /* pairs ranked as the rule ranks them (a tie counts 1/2) */
    int pairs;        /* pairs seen */
    double top1;      /* prompts whose highest reward went to response 1 (a tie of m for the top counts 1/m) */
    int n;            /* prompts */
} RankStats;

/* Forwards the K_i chats of nb rankings as one batch of sum K_i sequences,
 * one forward pass per response, and computes the mean ranking loss. With
 * backward != 0 the gradient of that mean goes through the head and the
 * trunk into rm's (zeroed) gradients. If pair_right is not NULL (Kmax x Kmax),
 * pair_right[i*Kmax+j] += 1 for each pair i<j ranked right. rewards_out (sum
 * K_i), if not NULL, receives the raw rewards. */
static RankStats ranking_step(RewardModel *rm, const Ranking *const *rk, int nb, ChatBatch *bt,
                              int eot, int backward, double *pair_right, int Kmax, float *rewards_out) {
    int total = 0;
    for (int b = 0; b < nb; b++) total += rk[b]->K;
    const Chat **ptrs = malloc_or_die(sizeof(Chat *) * (size_t)total, "batch chats");
    float *raw = malloc_or_die(sizeof(float) * (size_t)total, "rewards");
    float *draw = malloc_or_die(sizeof(float) * (size_t)total, "reward gradients");
    for (int b = 0, s = 0; b < nb; b++) for (int k = 0; k < rk[b]->K; k++) ptrs[s++] = &rk[b]->chats[k];
    chat_batch_fill(bt, ptrs, total, eot);
    reward_model_forward(rm, bt, raw);

    RankStats st = {0};
    st.n = nb;
    double loss = 0.0;
    for (int b = 0, s = 0; b < nb; s += rk[b]->K, b++) {
        int K = rk[b]->K;
        const float *r = raw + s;
        loss += ranking_loss(r, K, draw + s);
        /* the batch loss is the mean over prompts: scale each prompt's gradient */
        for (int k = 0; k < K; k++) draw[s + k] /= (float)nb;
        int ties = 0;
        for (int i = 0; i < K; i++) {
            ties += r[i] == r[0];
            if (r[i] > r[0]) ties = K + 1;  /* response 1 is not on top */
            for (int j = i + 1; j < K; j++) {
                double right = r[i] > r[j] ? 1.0 : r[i] == r[j] ? 0.5 : 0.0;
                st.right += right;
                st.pairs++;
                if (pair_right && i < Kmax && j < Kmax) pair_right[i * Kmax + j] += right;
            }
        }
        if (ties <= K) st.top1 += 1.0 / ties;
    }
    st.loss = (float)(loss / nb);
    if (backward) {
        gpt_zero_grad(&rm->gpt);
        head_zero_grad(&rm->head);
        reward_model_backward(rm, bt, draw);
    }
    if (rewards_out) memcpy(rewards_out, raw, sizeof(float) * (size_t)total);
    free(ptrs);
    free(raw);
    free(draw);
    return st;
}

#define EVAL_PROMPTS 16  /* prompts per forward when evaluating (64 sequences for K = 4) */

/* The whole set, forward only, in batches of `batch` prompts. Fills pair_n
 * with how many pairs of each rank pair were seen, if not NULL. */
static RankStats evaluate(RewardModel *rm, const RankingSet *set, ChatBatch *bt, int eot, int batch,
                          double *pair_right, double *pair_n) {
    RankStats all = {0};
    const Ranking **rk = malloc_or_die(sizeof(Ranking *) * (size_t)batch, "rankings");
    double loss = 0.0;
    for (int i0 = 0; i0 < set->n; i0 += batch) {
        int nb = set->n - i0 < batch ? set->n - i0 : batch;
        for (int b = 0; b < nb; b++) rk[b] = &set->r[i0 + b];
        RankStats st = ranking_step(rm, rk, nb, bt, eot, 0, pair_right, set->Kmax, NULL);
        loss += (double)st.loss * nb;
        all.right += st.right;
        all.pairs += st.pairs;
        all.top1 += st.top1;
        all.n += nb;
        if (pair_n) {
            for (int b = 0; b < nb; b++)
                for (int i = 0; i < rk[b]->K; i++)
                    for (int j = i + 1; j < rk[b]->K; j++) pair_n[i * set->Kmax + j] += 1.0;
        }
    }
    all.loss = (float)(loss / all.n);
    free(rk);
    return all;
}

static float accuracy(const RankStats *s) { return s->pairs ? (float)(s->right / s->pairs) : NAN; }

/* ---- normalising: the SFT model's own answers get mean 0, std 1 ---- */

/* Samples `samples` answers (temperature; 0 = one greedy answer) from the
 * SFT model for every distinct prompt of set, scores them with the RM, and
 * sets the head's gain and shift so that those rewards have mean 0 and std 1.
 * Prints what the rewards say next to what the hidden rule says. */
static void normalise(RewardModel *rm, GPT *sft, Tokenizer *tok, const RankingSet *set, const Options *o) {
    int per = o->norm_temperature > 0.0f ? o->norm_samples : 1;
    int cap = set->n * per, n = 0;
    char **prompts = malloc_or_die(sizeof(char *) * (size_t)cap, "prompts");
    char **answers = malloc_or_die(sizeof(char *) * (size_t)cap, "answers");
    float *rule = malloc_or_die(sizeof(float) * (size_t)cap, "rule scores");
    float *raw = malloc_or_die(sizeof(float) * (size_t)cap, "rewards");
    Rng rng;
    rng_seed(&rng, (uint64_t)o->seed + 5000);
    for (int i = 0; i < set->n; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = strcmp(set->r[j].prompt, set->r[i].prompt) == 0;
        if (seen) continue;
        for (int s = 0; s < per; s++) prompts[n++] = set->r[i].prompt;
    }
    if (n < 2) die("normalising needs at least 2 answers; %s has %d distinct prompts", o->train, n / per);
    int *ended = malloc_or_die(sizeof(int) * (size_t)n, "answer ends");
    chat_answers(sft, tok, (const char *const *)prompts, n, o->max_answer, o->norm_temperature, &rng, answers, ended);
    for (int i = 0; i < n; i++) rule[i] = score_response(prompts[i], answers[i], ended[i]);
    free(ended);
    /* raw rewards: gain 1, shift 0 while scoring */
    rm->head.gain = 1.0f;
    rm->head.shift = 0.0f;
    reward_model_score(rm, tok, (const char *const *)prompts, (const char *const *)answers, n, raw);
    reward_set_normalisation(&rm->head, raw, n);
    double mean = 0, var = 0, rmean = 0, rvar = 0, cov = 0;
    for (int i = 0; i < n; i++) mean += reward_normalise(&rm->head, raw[i]), rmean += rule[i];
    mean /= n;
    rmean /= n;
    for (int i = 0; i < n; i++) {
        double a = reward_normalise(&rm->head, raw[i]) - mean, b = rule[i] - rmean;
        var += a * a;
        rvar += b * b;
        cov += a * b;
    }
    double corr = (var > 0 && rvar > 0) ? cov / sqrt(var * rvar) : NAN;
    printf("normalised on %d answers of the SFT model (%d %s per prompt, for the %d distinct prompts of %s):\n"
           "  reward = %.4f * raw %+.4f  -> mean %+.4f, std %.4f; hidden-rule mean %+.3f;\n"
           "  correlation of reward and rule on these answers %.3f\n",
           n, per, o->norm_temperature > 0.0f ? "sampled" : "greedy", n / per, o->train,
           (double)rm->head.gain, (double)rm->head.shift, mean, sqrt(var / n), rmean, corr);
    /* the answers it likes least and most (insertion sort of indices by reward) */
    int *idx = malloc_or_die(sizeof(int) * (size_t)n, "indices");
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && raw[idx[j - 1]] > raw[i]) { idx[j] = idx[j - 1]; j--; }
        idx[j] = i;
    }
    for (int k = 0; k < 6 && k < n; k++) {
        int i = k < 3 ? idx[k] : idx[n - 6 + k];
        printf("  %s %-26s -> %-36s reward %+.2f, rule %+.1f\n", k < 3 ? "lowest " : "highest", prompts[i],
               answers[i], (double)reward_normalise(&rm->head, raw[i]), (double)rule[i]);
    }
    free(idx);
    for (int i = 0; i < n; i++) free(answers[i]);
    free(prompts);
    free(answers);
    free(rule);
    free(raw);
}

/* ---- reward train ---- */

static void print_pair_table(const double *right, const double *count, int Kmax) {
    printf("  accuracy by rank pair (r1 = the rule's best):");
    for (int i = 0; i < Kmax; i++)
        for (int j = i + 1; j < Kmax; j++)
            if (count[i * Kmax + j] > 0) printf(" r%d>r%d %.2f", i + 1, j + 1, right[i * Kmax + j] / count[i * Kmax + j]);
    printf("\n");
}

static void train(const Options *o) {
    require_folder_of(o->out);  /* before anything is written, the log included */
    require_folder_of(o->log);
    Tokenizer tok;
    tokenizer_load(&tok, o->tokenizer);
    RewardModel rm;
    reward_model_from_trunk(&rm, o->model, o->head_init, (uint64_t)o->seed);
    instruct_check_vocab(&rm.gpt, o->model, &tok, o->tokenizer);
    RankingSet trainset = load_rankings(&tok, o->train, &rm.gpt);
    RankingSet testset = load_rankings(&tok, o->test, &rm.gpt);
    int eot = tokenizer_special_id(&tok, TOK_EOT);
    /* what the optimiser steps through: the rankings (InstructGPT), or with
     * --pairs-apart each comparison on its own */
    RankingSet pairs = {0};
    if (o->pairs_apart) pairs = split_into_pairs(&trainset);
    const RankingSet *fit = o->pairs_apart ? &pairs : &trainset;
    int B = o->batch < fit->n ? o->batch : fit->n;
    int steps_per_epoch = (fit->n + B - 1) / B, steps = steps_per_epoch * o->epochs;
    printf("reward: %d rankings (%s, K up to %d), %d held-out (%s); trunk %s\n", trainset.n, o->train,
           trainset.Kmax, testset.n, o->test, o->model);
    printf("training on %d %s: %d epochs x %d steps of %d\n", fit->n,
           o->pairs_apart ? "pairs, each its own batch element (--pairs-apart)" : "rankings, all pairs of one in one batch element",
           o->epochs, steps_per_epoch, B);

    FILE *log = fopen_or_die(o->log, "w");
    fprintf(log, "step\tepoch\tloss\tloss_ema\tbatch_acc\ttest_loss\ttest_acc\ttest_top1\tlr\n");
    ChatBatch bt = {0};
    RankStats te = evaluate(&rm, &testset, &bt, eot, EVAL_PROMPTS, NULL, NULL);
    printf("step 0: held-out loss %.4f (log 2 = %.4f when every reward ties), pair accuracy %.3f\n",
           te.loss, 0.693147, accuracy(&te));
    fprintf(log, "0\t0\t-\t-\t-\t%.5f\t%.4f\t%.4f\t0\n", te.loss, accuracy(&te), (float)te.top1 / te.n);

    int *order = malloc_or_die(sizeof(int) * (size_t)fit->n, "order");
    for (int i = 0; i < fit->n; i++) order[i] = i;
    const Ranking **rk = malloc_or_die(sizeof(Ranking *) * (size_t)B, "batch rankings");
    /* held-out accuracy by rank pair (right / count at [i*Kmax + j]) */
    int K2 = testset.Kmax * testset.Kmax;
    double *right = calloc_or_die((size_t)K2, sizeof(double), "pair table");
    double *count = calloc_or_die((size_t)K2, sizeof(double), "pair table");
    Rng rng;
    rng_seed(&rng, (uint64_t)o->seed + 6000);
    AdamWConfig adam = {0.9f, 0.999f, 1e-8f, o->weight_decay};
    float ema = 0.0f;
    double t_start = now_seconds();
    int step = 0;
    for (int epoch = 1; epoch <= o->epochs; epoch++) {
        /* each epoch sees every element once, in a new order */
        rng_shuffle(&rng, order, fit->n);
        for (int i0 = 0; i0 < fit->n; i0 += B) {
            step++;
            double t0 = now_seconds();
            int nb = fit->n - i0 < B ? fit->n - i0 : B;
            for (int b = 0; b < nb; b++) rk[b] = &fit->r[order[i0 + b]];
            RankStats st = ranking_step(&rm, rk, nb, &bt, eot, 1, NULL, 0, NULL);
            die_if_not_finite("the ranking loss", st.loss, step);
            float norm = head_clip_together(&rm.head, rm.gpt.grads_memory, rm.gpt.num_parameters, o->clip);
            die_if_not_finite("the gradient norm", norm, step);
            float lr = lr_cosine(step - 1, steps, o->warmup, o->lr, o->lr * o->min_lr_frac);
            gpt_update(&rm.gpt, lr, &adam);
            head_update(&rm.head, lr, &adam);
            double seq_per_s = bt.B / (now_seconds() - t0);  /* before evaluate() reuses bt */
            ema = step == 1 ? st.loss : 0.9f * ema + 0.1f * st.loss;
            int evaluated = step % o->eval_every == 0 || step == steps;
            if (evaluated) {  /* the last evaluation also fills the table by rank pair */
                int last = step == steps;
                te = evaluate(&rm, &testset, &bt, eot, EVAL_PROMPTS, last ? right : NULL, last ? count : NULL);
            }
            double elapsed = now_seconds() - t_start, left = elapsed / step * (steps - step);
            printf("step %4d/%d (epoch %d) | loss %.4f (ema %.4f) | pair acc %.2f | lr %.2e | norm %.2f | "
                   "%5.0f seq/s | %.0f s left\n",
                   step, steps, epoch, st.loss, ema, accuracy(&st), lr, norm, seq_per_s, left);
            if (evaluated) printf("  held-out: loss %.4f, pair accuracy %.3f, top-1 %.3f\n", te.loss, accuracy(&te), (float)te.top1 / te.n);
            fprintf(log, "%d\t%d\t%.5f\t%.5f\t%.4f\t", step, epoch, st.loss, ema, accuracy(&st));
            if (evaluated) fprintf(log, "%.5f\t%.4f\t%.4f", te.loss, accuracy(&te), (float)te.top1 / te.n);
            else fputs("-\t-\t-", log);
            fprintf(log, "\t%.6g\n", lr);
            fflush(log);
        }
    }
    fclose(log);
    double train_time = now_seconds() - t_start;

    /* how it ranks its own prompts (the held-out ones: te, from the last step) */
    RankStats tr = evaluate(&rm, &trainset, &bt, eot, EVAL_PROMPTS, NULL, NULL);

    /* the scale PPO will see */
    GPT sft;
    gpt_load(&sft, o->model);
    normalise(&rm, &sft, &tok, &trainset, o);
    gpt_free(&sft);
    reward_model_save(&rm, o->out);
    char *hpath = head_path_for(o->out);
    printf("reward model trained in %.1f s; saved %s and its head %s\n", train_time, o->out, hpath);
    free(hpath);
    printf("summary reward: held-out pair accuracy %.3f (chance 0.5), top-1 agreement with the rule %.3f "
           "(chance %.2f)\n", accuracy(&te), (float)te.top1 / te.n, 1.0 / testset.Kmax);
    printf("results after %d steps (%d epochs%s):\n", steps, o->epochs, o->pairs_apart ? ", pairs apart" : "");
    printf("  held-out prompts (%s): pair accuracy %.3f (chance 0.5), top-1 agreement with the rule %.3f "
           "(chance %.2f), loss %.4f\n",
           o->test, accuracy(&te), (float)te.top1 / te.n, 1.0 / testset.Kmax, te.loss);
    print_pair_table(right, count, testset.Kmax);
    printf("  its own prompts (%s): pair accuracy %.3f, top-1 %.3f, loss %.4f\n", o->train, accuracy(&tr),
           (float)tr.top1 / tr.n, tr.loss);

    free(right);
    free(count);
    free(order);
    free(rk);
    chat_batch_free(&bt);
    if (o->pairs_apart) free_pair_set(&pairs);
    free_rankings(&trainset);
    free_rankings(&testset);
    reward_model_free(&rm);
    tokenizer_free(&tok);
}

/* ---- reward score ---- */

static void score(const Options *o) {
    if (!o->prompt) die("'reward score' needs --prompt TEXT (see reward --help)");
    if (!o->response) die("'reward score' needs --response TEXT (see reward --help)");
    Tokenizer tok;
    tokenizer_load(&tok, o->tokenizer);
    RewardModel rm;
    reward_model_load(&rm, o->model);
    instruct_check_vocab(&rm.gpt, o->model, &tok, o->tokenizer);
    float r;
    reward_model_score(&rm, &tok, &o->prompt, &o->response, 1, &r);
    printf("reward %+.3f   (the hidden rule says %+.1f)\n", (double)r,
           (double)score_response(o->prompt, o->response, 1));
    reward_model_free(&rm);
    tokenizer_free(&tok);
}

/* ---- main ---- */

static void usage(void) {
    Options t = train_defaults(), s = score_defaults();
    printf("usage: reward train [flags]   train a reward model on ranked responses (InstructGPT step 2)\n"
           "       reward score [flags]   print the reward of one prompt and response\n"
           "train flags (default):\n"
           "  --model PATH         the SFT checkpoint: the trunk to start from, and the policy\n"
           "                       whose answers set the reward's scale (%s)\n"
           "  --tokenizer PATH     tokenizer merges (%s)\n"
           "  --train PATH         rankings, prompt<TAB>best<TAB>...<TAB>worst (%s)\n"
           "  --test PATH          held-out rankings (%s)\n"
           "  --out PATH           reward model to write; its head goes beside it as .head (%s)\n"
           "  --log PATH           TSV log, one row per step (%s)\n"
           "  --epochs N           passes over the rankings (%d)\n"
           "  --batch N            prompts per step, each with all its K responses (%d)\n"
           "  --lr X               peak learning rate (%g)\n"
           "  --warmup N           warm-up steps (%d)\n"
           "  --min-lr-frac X      final lr as a fraction of the peak, cosine decay (%g)\n"
           "  --weight-decay X     AdamW decay on 2-D weights (%g)\n"
           "  --clip X             gradient-norm clip (%g)\n"
           "  --head-init X        std of the head's initial weights; 0 = all rewards tie (%g)\n"
           "  --pairs-apart        ablation: each of the C(K,2) pairs its own batch element\n"
           "  --eval-every N       held-out accuracy every N steps (%d)\n"
           "  --norm-samples N     SFT answers per prompt that set mean 0 / std 1 (%d)\n"
           "  --norm-temperature X their sampling temperature; 0 = one greedy answer (%g)\n"
           "  --max-answer N       tokens an SFT answer may take (%d)\n"
           "score flags (default):\n"
           "  --model PATH         reward model (%s, with its .head)\n"
           "  --tokenizer PATH     tokenizer merges (%s)\n"
           "  --prompt TEXT        the question, e.g. \"where is the owl ?\" (required)\n"
           "  --response TEXT      the answer, e.g. \"it is in the barn .\" (required)\n"
           "common flags:\n"
           "  --seed N             random seed (%d)\n"
           "  --threads N          OpenMP threads, 0 = all cores (0)\n"
           "  --fast               tiny settings for tests (seconds)\n"
           "  --help               this text\n",
           t.model, t.tokenizer, t.train, t.test, t.out, t.log, t.epochs, t.batch, (double)t.lr,
           t.warmup, (double)t.min_lr_frac, (double)t.weight_decay, (double)t.clip,
           (double)t.head_init, t.eval_every, t.norm_samples, (double)t.norm_temperature,
           t.max_answer, s.model, s.tokenizer, t.seed);
}

enum {
    OPT_MODEL = 256, OPT_TOKENIZER, OPT_TRAIN, OPT_TEST, OPT_OUT, OPT_LOG, OPT_EPOCHS, OPT_BATCH,
    OPT_LR, OPT_WARMUP, OPT_MINLR, OPT_WD, OPT_CLIP, OPT_HEADINIT, OPT_PAIRS, OPT_EVAL, OPT_NORMS, OPT_NORMT,
    OPT_MAXANS, OPT_PROMPT, OPT_RESPONSE, OPT_SEED, OPT_THREADS, OPT_FAST, OPT_HELP
};

/* Parses argv (after the sub-command) into o; --fast is applied first so that
 * explicit flags win. Flags of the other sub-command are refused. */
static void parse_flags(Options *o, int is_train, int argc, char **argv) {
    static const struct option longopts[] = {
        {"model", 1, 0, OPT_MODEL}, {"tokenizer", 1, 0, OPT_TOKENIZER}, {"train", 1, 0, OPT_TRAIN},
        {"test", 1, 0, OPT_TEST}, {"out", 1, 0, OPT_OUT}, {"log", 1, 0, OPT_LOG},
        {"epochs", 1, 0, OPT_EPOCHS}, {"batch", 1, 0, OPT_BATCH}, {"lr", 1, 0, OPT_LR},
        {"warmup", 1, 0, OPT_WARMUP}, {"min-lr-frac", 1, 0, OPT_MINLR},
        {"weight-decay", 1, 0, OPT_WD}, {"clip", 1, 0, OPT_CLIP}, {"head-init", 1, 0, OPT_HEADINIT},
        {"pairs-apart", 0, 0, OPT_PAIRS},
        {"eval-every", 1, 0, OPT_EVAL}, {"norm-samples", 1, 0, OPT_NORMS},
        {"norm-temperature", 1, 0, OPT_NORMT}, {"max-answer", 1, 0, OPT_MAXANS},
        {"prompt", 1, 0, OPT_PROMPT}, {"response", 1, 0, OPT_RESPONSE}, {"seed", 1, 0, OPT_SEED},
        {"threads", 1, 0, OPT_THREADS}, {"fast", 0, 0, OPT_FAST}, {"help", 0, 0, OPT_HELP},
        {0, 0, 0, 0}};
    if (is_train) for (int i = 1; i < argc; i++) if (strcmp(argv[i], "--fast") == 0) apply_fast(o);
    const char *mode = is_train ? "train" : "score";
    int opt, idx = 0;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
        const char *a = optarg;
        int common = opt == OPT_MODEL || opt == OPT_TOKENIZER || opt == OPT_SEED || opt == OPT_THREADS ||
                     opt == OPT_FAST || opt == OPT_HELP || opt == '?' || opt == ':';
        int score_only = opt == OPT_PROMPT || opt == OPT_RESPONSE;
        if (!common && (is_train ? score_only : !score_only)) {
            die("--%s is a flag of 'reward %s', not 'reward %s' (see reward --help)", longopts[idx].name,
                is_train ? "score" : "train", mode);
        }
        switch (opt) {
        case OPT_MODEL: o->model = a; break;
        case OPT_TOKENIZER: o->tokenizer = a; break;
        case OPT_TRAIN: o->train = a; break;
        case OPT_TEST: o->test = a; break;
        case OPT_OUT: o->out = a; break;
        case OPT_LOG: o->log = a; break;
        case OPT_EPOCHS: o->epochs = (int)parse_long_flag("epochs", a, 1, 1000000); break;
        case OPT_BATCH: o->batch = (int)parse_long_flag("batch", a, 1, 4096); break;
        case OPT_LR: o->lr = parse_float_flag("lr", a, 0.0f, 1.0f); break;
        case OPT_WARMUP: o->warmup = (int)parse_long_flag("warmup", a, 0, 10000000); break;
        case OPT_MINLR: o->min_lr_frac = parse_float_flag("min-lr-frac", a, 0.0f, 1.0f); break;
        case OPT_WD: o->weight_decay = parse_float_flag("weight-decay", a, 0.0f, 10.0f); break;
        case OPT_CLIP: o->clip = parse_float_flag("clip", a, 0.0f, 1e6f); break;
        case OPT_PAIRS: o->pairs_apart = 1; break;
        case OPT_HEADINIT: o->head_init = parse_float_flag("head-init", a, 0.0f, 10.0f); break;
        case OPT_EVAL: o->eval_every = (int)parse_long_flag("eval-every", a, 1, 10000000); break;
        case OPT_NORMS: o->norm_samples = (int)parse_long_flag("norm-samples", a, 1, 10000); break;
        case OPT_NORMT: o->norm_temperature = parse_float_flag("norm-temperature", a, 0.0f, 10.0f); break;
        case OPT_MAXANS: o->max_answer = (int)parse_long_flag("max-answer", a, 1, 4096); break;
        case OPT_PROMPT: o->prompt = a; break;
        case OPT_RESPONSE: o->response = a; break;
        case OPT_SEED: o->seed = (int)parse_long_flag("seed", a, 0, 2147483647); break;
        case OPT_THREADS: o->threads = (int)parse_long_flag("threads", a, 0, 1024); break;
        case OPT_FAST: break;  /* applied above */
        case OPT_HELP: usage(); exit(0);
        case ':': die("%s needs a value (see reward --help)", argv[optind - 1]);
        default: die("unknown flag %s for reward %s (see reward --help)", argv[optind - 1], mode);
        }
    }
    if (optind < argc) die("unexpected argument '%s' (see reward --help)", argv[optind]);
}

#ifndef TESTING
int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);  /* progress lines appear as they happen, even in a pipe */
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage();
        return argc < 2 ? 1 : 0;
    }
    int is_train = strcmp(argv[1], "train") == 0;
    if (!is_train && strcmp(argv[1], "score") != 0) {
        die("unknown command '%s': expected train or score (see reward --help)", argv[1]);
    }
    Options o = is_train ? train_defaults() : score_defaults();
    parse_flags(&o, is_train, argc - 1, argv + 1);
    set_threads(o.threads);
    if (is_train) train(&o); else score(&o);
    return 0;
}
#endif
