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
#include "cli.h"
#include "gpt.h"
#include "head.h"
#include "instruct.h"
#include "tokenizer.h"
#include "toyworld.h"
#include "util.h"

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
 * small batches (480 steps of 4 prompts) to learn the facts of its own
 * prompts. notes/06-reward-model.md has the numbers; --epochs 1 shows the
 * plateau. */
static Options defaults(void) {
    Options o = {0};
    o.tokenizer = "out/tokenizer.merges";
    o.model = "out/sft.bin";
    o.train = "data/prefs_train.tsv";
    o.test = "data/prefs_test.tsv";
    o.out = TRY_DIR "/reward.bin";
    o.log = TRY_DIR "/reward.tsv";
    o.epochs = 10; o.batch = 4; o.warmup = 10; o.eval_every = 24;
    o.lr = 3e-4f; o.min_lr_frac = 0.1f; o.weight_decay = 0.01f; o.clip = 1.0f;
    o.head_init = 0.0f; o.seed = 1;
    o.norm_samples = 4; o.norm_temperature = 1.0f; o.max_answer = CHAT_MAX_ANSWER;
    return o;
}

/* The flags of `reward train`, as data (cli.h); the last field is the --fast
 * preset, the tiny settings the end-to-end test uses. */
static void train_flags(Options *o, int argc, char **argv) {
    const Flag flags[] = {
        FLAG_MODEL(&o->model, "the SFT checkpoint: the trunk to start from, and the policy whose answers set "
                              "the reward's scale"),
        FLAG_TOKENIZER(&o->tokenizer),
        FLAG_IN("train", &o->train, "rankings, prompt<TAB>best<TAB>...<TAB>worst"),
        FLAG_IN("test", &o->test, "held-out rankings"),
        FLAG_OUT("out", &o->out, "reward model to write; its head goes beside it as .head"),
        FLAG_LOG(&o->log),
        FLAG_INT("epochs", &o->epochs, 1, 1000000, "passes over the rankings", "1"),
        FLAG_INT("batch", &o->batch, 1, 4096, "prompts per step, each with all its K responses", "8"),
        FLAG_FLOAT("lr", &o->lr, 0, 1, "peak learning rate", NULL),
        FLAG_INT("warmup", &o->warmup, 0, 10000000, "warm-up steps", "2"),
        FLAG_FLOAT("min-lr-frac", &o->min_lr_frac, 0, 1, "final lr as a fraction of the peak, cosine decay", NULL),
        FLAG_FLOAT("weight-decay", &o->weight_decay, 0, 10, "AdamW decay on 2-D weights", NULL),
        FLAG_FLOAT("clip", &o->clip, 0, 1e6, "gradient-norm clip", NULL),
        FLAG_FLOAT("head-init", &o->head_init, 0, 10, "std of the head's initial weights; 0 = all rewards tie", NULL),
        FLAG_ON("pairs-apart", &o->pairs_apart, "ablation: each of the C(K,2) pairs its own batch element"),
        FLAG_INT("eval-every", &o->eval_every, 1, 10000000, "held-out accuracy every N steps", "12"),
        FLAG_INT("norm-samples", &o->norm_samples, 1, 10000, "SFT answers per prompt that set mean 0 / std 1", "1"),
        FLAG_FLOAT("norm-temperature", &o->norm_temperature, 0, 10,
                   "their sampling temperature; 0 = one greedy answer", NULL),
        FLAG_INT("max-answer", &o->max_answer, 1, 4096, "tokens an SFT answer may take", NULL),
        FLAG_END};
    Cli cli = {"reward train", "train a reward model on ranked responses (InstructGPT step 2)",
               flags, &o->seed, &o->threads, NULL};
    if (argc < 0) { cli_help(&cli); return; }
    cli_parse(&cli, argc, argv);
}

/* The flags of `reward score` (argc < 0: print its help instead). */
static void score_flags(Options *o, int argc, char **argv) {
    const Flag flags[] = {
        FLAG_MODEL(&o->model, "reward model, with its .head beside it"),
        FLAG_TOKENIZER(&o->tokenizer),
        FLAG_TEXT("prompt", &o->prompt, "TEXT", "the question, e.g. \"where is the owl ?\" (required)"),
        FLAG_TEXT("response", &o->response, "TEXT", "the answer, e.g. \"it is in the barn .\" (required)"),
        FLAG_END};
    Cli cli = {"reward score", "print the reward of one prompt and response", flags, NULL, &o->threads, NULL};
    if (argc < 0) { cli_help(&cli); return; }
    cli_parse(&cli, argc, argv);
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

/* The SFT model's answers the scale is set on, with the rule's and the RM's
 * view of each. prompts[i] points into the RankingSet (not owned). */
typedef struct {
    int n, per;        /* answers; answers per distinct prompt */
    char **prompts;    /* (n) */
    char **answers;    /* (n) malloc'd */
    float *rule;       /* (n) the hidden rule's score */
    float *raw;        /* (n) the RM's raw reward (gain 1, shift 0) */
} NormSample;

static void free_norm_sample(NormSample *s) {
    for (int i = 0; i < s->n; i++) free(s->answers[i]);
    free(s->prompts);
    free(s->answers);
    free(s->rule);
    free(s->raw);
}

/* Prints what the normalised rewards say next to what the hidden rule says:
 * their mean and spread, their correlation, and the answers the RM likes
 * least and most. */
static void report_normalisation(const RewardModel *rm, const NormSample *s, const Options *o) {
    int n = s->n;
    double mean = 0, var = 0, rmean = 0, rvar = 0, cov = 0;
    for (int i = 0; i < n; i++) mean += reward_normalise(&rm->head, s->raw[i]), rmean += s->rule[i];
    mean /= n;
    rmean /= n;
    for (int i = 0; i < n; i++) {
        double a = reward_normalise(&rm->head, s->raw[i]) - mean, b = s->rule[i] - rmean;
        var += a * a;
        rvar += b * b;
        cov += a * b;
    }
    double corr = (var > 0 && rvar > 0) ? cov / sqrt(var * rvar) : NAN;
    printf("normalised on %d answers of the SFT model (%d %s per prompt, for the %d distinct prompts of %s):\n"
           "  reward = %.4f * raw %+.4f  -> mean %+.4f, std %.4f; hidden-rule mean %+.3f;\n"
           "  correlation of reward and rule on these answers %.3f\n",
           n, s->per, o->norm_temperature > 0.0f ? "sampled" : "greedy", n / s->per, o->train,
           (double)rm->head.gain, (double)rm->head.shift, mean, sqrt(var / n), rmean, corr);
    /* the answers it likes least and most (insertion sort of indices by reward) */
    int *idx = malloc_or_die(sizeof(int) * (size_t)n, "indices");
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && s->raw[idx[j - 1]] > s->raw[i]) { idx[j] = idx[j - 1]; j--; }
        idx[j] = i;
    }
    for (int k = 0; k < 6 && k < n; k++) {
        int i = k < 3 ? idx[k] : idx[n - 6 + k];
        printf("  %s %-26s -> %-36s reward %+.2f, rule %+.1f\n", k < 3 ? "lowest " : "highest", s->prompts[i],
               s->answers[i], (double)reward_normalise(&rm->head, s->raw[i]), (double)s->rule[i]);
    }
    free(idx);
}

/* Samples norm_samples answers (at norm_temperature; 0 = one greedy answer)
 * from the SFT model for every distinct prompt of set, scores them with the
 * RM, and sets the head's gain and shift so that those rewards have mean 0
 * and std 1; then reports how they compare with the hidden rule. */
static void normalise(RewardModel *rm, GPT *sft, Tokenizer *tok, const RankingSet *set, const Options *o) {
    NormSample s = {0, o->norm_temperature > 0.0f ? o->norm_samples : 1, NULL, NULL, NULL, NULL};
    size_t cap = (size_t)set->n * (size_t)s.per;
    s.prompts = malloc_or_die(sizeof(char *) * cap, "prompts");
    s.answers = malloc_or_die(sizeof(char *) * cap, "answers");
    s.rule = malloc_or_die(sizeof(float) * cap, "rule scores");
    s.raw = malloc_or_die(sizeof(float) * cap, "rewards");
    for (int i = 0; i < set->n; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = strcmp(set->r[j].prompt, set->r[i].prompt) == 0;
        if (seen) continue;
        for (int k = 0; k < s.per; k++) s.prompts[s.n++] = set->r[i].prompt;
    }
    if (s.n < 2) die("normalising needs at least 2 answers; %s has %d distinct prompts", o->train, s.n / s.per);
    Rng rng;
    rng_seed(&rng, (uint64_t)o->seed + 5000);
    int *ended = malloc_or_die(sizeof(int) * (size_t)s.n, "answer ends");
    chat_answers(sft, tok, (const char *const *)s.prompts, s.n, o->max_answer, o->norm_temperature, &rng,
                 s.answers, ended);
    for (int i = 0; i < s.n; i++) s.rule[i] = score_response(s.prompts[i], s.answers[i], ended[i]);
    free(ended);
    rm->head.gain = 1.0f;  /* raw rewards: gain 1, shift 0 while scoring */
    rm->head.shift = 0.0f;
    reward_model_score(rm, tok, (const char *const *)s.prompts, (const char *const *)s.answers, s.n, s.raw);
    reward_set_normalisation(&rm->head, s.raw, s.n);
    report_normalisation(rm, &s, o);
    free_norm_sample(&s);
}

/* ---- reward train ---- */

/* Everything one training run holds. */
typedef struct {
    Tokenizer tok;
    RewardModel rm;
    RankingSet trainset, testset;
    RankingSet pairs;       /* --pairs-apart: every comparison its own element */
    const RankingSet *fit;  /* what the optimiser steps through: trainset or pairs */
    ChatBatch bt;
    int eot;
    AtomicFile log;
    double *right, *count;  /* (Kmax x Kmax) held-out accuracy by rank pair, filled at the last step */
} Run;

/* Loads the tokenizer, the SFT trunk (checking that they belong together)
 * with a fresh head, and the rankings; opens the log (kept until the run
 * succeeds). */
static void run_open(Run *r, const Options *o) {
    memset(r, 0, sizeof *r);
    tokenizer_load(&r->tok, o->tokenizer);
    reward_model_from_trunk(&r->rm, o->model, o->head_init, (uint64_t)o->seed);
    gpt_check_tokenizer(&r->rm.gpt, o->model, &r->tok, o->tokenizer);
    r->rm.gpt.tokenizer_id = tokenizer_id(&r->tok);  /* the reward model records its tokenizer */
    r->trainset = load_rankings(&r->tok, o->train, &r->rm.gpt);
    r->testset = load_rankings(&r->tok, o->test, &r->rm.gpt);
    r->eot = tokenizer_special_id(&r->tok, TOK_EOT);
    if (o->pairs_apart) r->pairs = split_into_pairs(&r->trainset);
    r->fit = o->pairs_apart ? &r->pairs : &r->trainset;
    int K2 = r->testset.Kmax * r->testset.Kmax;
    r->right = calloc_or_die((size_t)K2, sizeof(double), "pair table");
    r->count = calloc_or_die((size_t)K2, sizeof(double), "pair table");
    printf("reward: %d rankings (%s, K up to %d), %d held-out (%s); trunk %s\n", r->trainset.n, o->train,
           r->trainset.Kmax, r->testset.n, o->test, o->model);
    log_open(&r->log, o->log, 0);
    fprintf(r->log.f, "step\tepoch\tloss\tloss_ema\tbatch_acc\ttest_loss\ttest_acc\ttest_top1\tlr\n");
}

static void run_free(Run *r, const Options *o) {
    free(r->right);
    free(r->count);
    chat_batch_free(&r->bt);
    if (o->pairs_apart) free_pair_set(&r->pairs);
    free_rankings(&r->trainset);
    free_rankings(&r->testset);
    reward_model_free(&r->rm);
    tokenizer_free(&r->tok);
}

static void print_pair_table(const double *right, const double *count, int Kmax) {
    printf("  accuracy by rank pair (r1 = the rule's best):");
    for (int i = 0; i < Kmax; i++)
        for (int j = i + 1; j < Kmax; j++)
            if (count[i * Kmax + j] > 0) printf(" r%d>r%d %.2f", i + 1, j + 1, right[i * Kmax + j] / count[i * Kmax + j]);
    printf("\n");
}

static float top1(const RankStats *s) { return (float)s->top1 / s->n; }

/* One step's line on stdout and its row in the log; te is NULL when the
 * step did not evaluate. */
static void log_step(AtomicFile *log, int step, int steps, int epoch, const RankStats *st, float ema, float lr,
                     float norm, double seq_per_s, double elapsed, const RankStats *te) {
    printf("step %4d/%d (epoch %d) | loss %.4f (ema %.4f) | pair acc %.2f | lr %.2e | norm %.2f | "
           "%5.0f seq/s | %.0f s left\n",
           step, steps, epoch, st->loss, ema, accuracy(st), lr, norm, seq_per_s, elapsed / step * (steps - step));
    if (te) printf("  held-out: loss %.4f, pair accuracy %.3f, top-1 %.3f\n", te->loss, accuracy(te), top1(te));
    fprintf(log->f, "%d\t%d\t%.5f\t%.5f\t%.4f\t", step, epoch, st->loss, ema, accuracy(st));
    if (te) fprintf(log->f, "%.5f\t%.4f\t%.4f", te->loss, accuracy(te), top1(te));
    else fputs("-\t-\t-", log->f);
    fprintf(log->f, "\t%.6g\n", lr);
    log_flush(log);
}

/* The end of the run: the summary line `make run` collects, then held-out
 * and own-prompt accuracy (te from the last step, tr measured after). */
static void print_results(const Run *r, const Options *o, int steps, const RankStats *te, const RankStats *tr,
                          double train_time) {
    char *hpath = head_path_for(o->out);
    printf("reward model trained in %.1f s; saved %s and its head %s\n", train_time, o->out, hpath);
    free(hpath);
    printf("summary reward: held-out pair accuracy %.3f (chance 0.5), top-1 agreement with the rule %.3f "
           "(chance %.2f)\n", accuracy(te), top1(te), 1.0 / r->testset.Kmax);
    printf("results after %d steps (%d epochs%s):\n", steps, o->epochs, o->pairs_apart ? ", pairs apart" : "");
    printf("  held-out prompts (%s): pair accuracy %.3f (chance 0.5), top-1 agreement with the rule %.3f "
           "(chance %.2f), loss %.4f\n", o->test, accuracy(te), top1(te), 1.0 / r->testset.Kmax, te->loss);
    print_pair_table(r->right, r->count, r->testset.Kmax);
    printf("  its own prompts (%s): pair accuracy %.3f, top-1 %.3f, loss %.4f\n", o->train, accuracy(tr),
           top1(tr), tr->loss);
}

/* InstructGPT step 2: for each epoch, for each batch of rankings (all
 * C(K,2) pairs of a prompt in one element): the ranking loss, one AdamW
 * step of trunk and head, an evaluation every eval_every steps, a log row.
 * Then the scale PPO will see (normalise), the checkpoint, the report. */
static void train(const Options *o) {
    Run r;
    run_open(&r, o);
    const RankingSet *fit = r.fit;
    int B = o->batch < fit->n ? o->batch : fit->n;
    int steps_per_epoch = (fit->n + B - 1) / B, steps = steps_per_epoch * o->epochs;
    printf("training on %d %s: %d epochs x %d steps of %d\n", fit->n,
           o->pairs_apart ? "pairs, each its own batch element (--pairs-apart)" : "rankings, all pairs of one in one batch element",
           o->epochs, steps_per_epoch, B);
    RankStats te = evaluate(&r.rm, &r.testset, &r.bt, r.eot, EVAL_PROMPTS, NULL, NULL);
    printf("step 0: held-out loss %.4f (log 2 = %.4f when every reward ties), pair accuracy %.3f\n",
           te.loss, 0.693147, accuracy(&te));
    fprintf(r.log.f, "0\t0\t-\t-\t-\t%.5f\t%.4f\t%.4f\t0\n", te.loss, accuracy(&te), top1(&te));
    log_flush(&r.log);

    int *order = malloc_or_die(sizeof(int) * (size_t)fit->n, "order");
    for (int i = 0; i < fit->n; i++) order[i] = i;
    const Ranking **rk = malloc_or_die(sizeof(Ranking *) * (size_t)B, "batch rankings");
    Rng rng;
    rng_seed(&rng, (uint64_t)o->seed + 6000);
    AdamWConfig adam = {0.9f, 0.999f, 1e-8f, o->weight_decay};
    float ema = 0.0f;
    double t_start = now_seconds();
    for (int epoch = 1, step = 0; epoch <= o->epochs; epoch++) {
        rng_shuffle(&rng, order, fit->n);  /* each epoch sees every element once, in a new order */
        for (int i0 = 0; i0 < fit->n; i0 += B) {
            step++;
            double t0 = now_seconds();
            int nb = fit->n - i0 < B ? fit->n - i0 : B, last = step == steps;
            for (int b = 0; b < nb; b++) rk[b] = &fit->r[order[i0 + b]];            /* a batch of rankings */
            RankStats st = ranking_step(&r.rm, rk, nb, &r.bt, r.eot, 1, NULL, 0, NULL);  /* loss, gradient */
            die_if_not_finite("the ranking loss", st.loss, step);
            float norm = head_clip_together(&r.rm.head, r.rm.gpt.grads_memory, r.rm.gpt.num_parameters, o->clip);
            die_if_not_finite("the gradient norm", norm, step);
            float lr = lr_cosine(step - 1, steps, o->warmup, o->lr, o->lr * o->min_lr_frac);
            gpt_update(&r.rm.gpt, lr, &adam);                                       /* trunk and head */
            head_update(&r.rm.head, lr, &adam);
            double seq_per_s = r.bt.B / (now_seconds() - t0);  /* before evaluate() reuses bt */
            ema = step == 1 ? st.loss : 0.9f * ema + 0.1f * st.loss;
            int evaluated = step % o->eval_every == 0 || last;
            if (evaluated)  /* held-out; the last evaluation also fills the table by rank pair */
                te = evaluate(&r.rm, &r.testset, &r.bt, r.eot, EVAL_PROMPTS, last ? r.right : NULL,
                              last ? r.count : NULL);
            log_step(&r.log, step, steps, epoch, &st, ema, lr, norm, seq_per_s, now_seconds() - t_start,
                     evaluated ? &te : NULL);
        }
    }
    double train_time = now_seconds() - t_start;
    RankStats tr = evaluate(&r.rm, &r.trainset, &r.bt, r.eot, EVAL_PROMPTS, NULL, NULL);  /* its own prompts */
    GPT sft;
    gpt_load(&sft, o->model);
    normalise(&r.rm, &sft, &r.tok, &r.trainset, o);  /* the scale PPO will see */
    gpt_free(&sft);
    reward_model_save(&r.rm, o->out);
    log_commit(&r.log);
    print_results(&r, o, steps, &te, &tr, train_time);
    free(order);
    free(rk);
    run_free(&r, o);
}

/* ---- reward score ---- */

static void score(const Options *o) {
    if (!o->prompt) die("'reward score' needs --prompt TEXT (see reward score --help)");
    if (!o->response) die("'reward score' needs --response TEXT (see reward score --help)");
    Tokenizer tok;
    tokenizer_load(&tok, o->tokenizer);
    RewardModel rm;
    reward_model_load(&rm, o->model);
    gpt_check_tokenizer(&rm.gpt, o->model, &tok, o->tokenizer);
    float r;
    reward_model_score(&rm, &tok, &o->prompt, &o->response, 1, &r);
    printf("reward %+.3f   (the hidden rule says %+.1f)\n", (double)r,
           (double)score_response(o->prompt, o->response, 1));
    reward_model_free(&rm);
    tokenizer_free(&tok);
}

/* ---- main ---- */

/* `reward score` reads the trained reward model by default. */
static Options score_defaults(void) {
    Options o = defaults();
    o.model = "out/reward.bin";
    return o;
}

/* The head goes beside --out: it too is proven writable before any work,
 * and may not be a file the run reads. */
static void check_head_out(const Options *o) {
    char *hpath = head_path_for(o->out);
    require_writable(hpath);
    if (same_file(hpath, o->model) || same_file(hpath, o->train) || same_file(hpath, o->test) ||
        same_file(hpath, o->tokenizer) || same_file(hpath, o->log)) {
        die("--out %s would write its head to %s, a file this run reads or writes (see reward train --help)",
            o->out, hpath);
    }
    free(hpath);
}

#ifndef TESTING
int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);  /* progress lines appear as they happen, even in a pipe */
    static const char *const commands[] = {"train", "score"};
    int command = cli_command(argc, argv, "reward", commands, 2);
    if (command < 0) {  /* no command, or --help: the help of both */
        Options t = defaults(), s = score_defaults();
        train_flags(&t, -1, NULL);
        score_flags(&s, -1, NULL);
        return argc < 2 ? 1 : 0;
    }
    Options o = command == 0 ? defaults() : score_defaults();
    if (command == 0) train_flags(&o, argc - 1, argv + 1); else score_flags(&o, argc - 1, argv + 1);
    set_threads(o.threads);
    if (command == 0) {
        check_head_out(&o);
        train(&o);
    } else {
        score(&o);
    }
    return 0;
}
#endif
