/* policy_eval.h — what the two preference-tuning rungs share: answers
 * sampled from a policy on the PPO prompts, the hidden rule's judgement of
 * them, and their KL to the SFT model.
 *
 * Rung 6 (ppo.c) samples its rollouts, scores them and measures their
 * log-probabilities under the policy and the reference with these functions
 * (its steps 1-3); rung 6b (dpo.c) never samples to train, but judges its
 * policy with exactly the same code, prompts, temperature and seeds, so that
 * the two rungs' numbers can be set side by side:
 *
 *   greedy_eval    the hidden rule's mean score of the greedy answers
 *   sampled_eval   many sampled answers per prompt: the reward model's and the
 *                  hidden rule's mean score, the KL to the reference, and the
 *                  reward hack counted (a where-question answered with a colour)
 *   start_eval     all of it once, for the starting (SFT) policy
 *
 * Shapes: n rollouts, R the longest response (tokens), S = maxT room per
 * sequence, M rollouts per batch, T the longest sequence of a batch, K the
 * response tokens of a batch, V vocabulary, Vp V padded.
 */
#ifndef GPTLADDER_POLICY_EVAL_H
#define GPTLADDER_POLICY_EVAL_H

#include "gpt.h"
#include "head.h"
#include "instruct.h"
#include "tokenizer.h"

/* ---- the prompts: set <tab> prompt (data/ppo_prompts.tsv) ---- */

typedef struct {
    int n;
    char **text;   /* (n) the prompt as in the file */
    Chat *ctx;     /* (n) its context in the chat format: what the policy is given */
} PromptSet;

/* Reads the rows whose set is `set` ("ppo" or "heldout"); dies on a row of
 * another set or an empty prompt. Every context must leave room for
 * max_response tokens within maxT. Free with free_prompts. */
PromptSet load_prompts(Tokenizer *tok, const char *path, const char *set, int max_response, int maxT);
void free_prompts(PromptSet *s);

/* ---- rollouts: one sampled response per row ---- */

typedef struct {
    int n, R, S;       /* rollouts, longest response, room per sequence (S = maxT) */
    int *prompt;       /* (n) index into the PromptSet */
    int *seq;          /* (n, S) the context, then the response */
    int *ctx_len;      /* (n) tokens of context */
    int *len;          /* (n) tokens of response, the end-of-text included if there is one */
    int *ended;        /* (n) 1 if the response ends with end-of-text */
    char **text;       /* (n) the decoded response (without end-of-text) */
    float *score;      /* (n) the reward model's score, or the penalty */
    float *rule;       /* (n) the hidden rule's score: logged, never seen by the policy */
    /* per response token, (n, R): element b*R + i is the i-th token of rollout b */
    float *logp;       /* log pi_old(a_i | s_i), at the sampling temperature */
    float *ref_logp;   /* log pi_ref(a_i | s_i) */
    float *values;     /* V_old(s_i): the value head before the update (PPO) */
    float *rewards;    /* r_i (PPO) */
    float *adv;        /* A_i, whitened (PPO) */
    float *returns;    /* A_i + V_old(s_i), before whitening: the value target (PPO) */
} Rollouts;

void rollouts_alloc(Rollouts *ro, int n, int R, int S);
void rollouts_free(Rollouts *ro);

/* Two estimates of KL(pi || pi_ref) from one sampled token a ~ pi (Schulman,
 * "Approximating KL divergence", 2020). Both are unbiased: their mean over
 * a ~ pi is the KL exactly.
 *   k1 = log pi(a) - log pi_ref(a)           what PPO's per-token penalty uses;
 *                                            one sample can be negative
 *   k3 = (rho - 1) - log rho, rho = pi_ref(a)/pi(a)   never negative, lower variance */
float kl_k1(float logp, float ref_logp);
float kl_k3(float logp, float ref_logp);

/* Entropy of softmax(logits[:V] / temperature), in nats. */
float row_entropy(const float *logits, int V, float temperature);

/* ---- the response tokens of M rollouts, as one batch ---- */

/* The response tokens of M rollouts laid out as one right-padded (M, T)
 * batch, in a flat list of K tokens: token k is the i-th response token of
 * rollout b, predicted by the logits at row[k] = m*T + ctx_len_b - 1 + i (the
 * position BEFORE it), where PPO's value head also reads V(s_i). */
typedef struct {
    int M, T, K, cap_k, cap_bt;
    int *inputs;       /* (M, T) the sequences, right-padded with end-of-text */
    int *row;          /* (K) */
    int *action;       /* (K) the token a_i */
    int *src;          /* (K) b*R + i: where the token lives in the Rollouts' (n, R) arrays */
    float *logp, *value;                       /* (K) the model's, filled by forward_tokens */
    float *old_logp, *old_value, *adv, *ret;   /* (K) gathered from the Rollouts */
    float *dlogp, *dvalue;                     /* (K) the loss's gradient (PPO) */
} TokenBatch;

/* Lays out rollouts idx[0..M) as one batch (growing tb; start from a zeroed
 * TokenBatch) and gathers their per-token data. */
void layout_batch(TokenBatch *tb, const Rollouts *ro, const int *idx, int M, int eot);
void token_batch_free(TokenBatch *tb);

/* One forward of `m` over the batch:
 *     tb->logp[k] = log softmax(logits[row[k]] / tau)[action[k]]
 * and, if vhead is not NULL, tb->value[k] = the value head at row[k]. If
 * entropy is not NULL, adds the entropy of each token's distribution to it. */
void forward_tokens(GPT *m, const LinearHead *vhead, TokenBatch *tb, float temperature, double *entropy);

/* ---- sample, score, measure ---- */

/* Samples one response per rollout from the sampler's model at the given
 * temperature, at most R tokens, stopping after end-of-text. ro->prompt must
 * be set. Fills seq, ctx_len, len, ended, text. The n rollouts are sampled
 * as one batch through the key/value cache (gpt_sampler_run_batch), each
 * from its own Rng seeded from `rng` in rollout order. */
void rollout(GPTSampler *sampler, const Tokenizer *tok, const PromptSet *ps, Rollouts *ro, float temperature,
             Rng *rng);

/* The hidden rule's score of every rollout (rule), and the reward model's of
 * each ended one (score; prompt + response read at its end-of-text); a
 * rollout that never reached end-of-text gets `penalty` instead. rm NULL:
 * no reward model, every score is NAN. */
void score_rollouts(RewardModel *rm, const PromptSet *ps, Rollouts *ro, float penalty, int eot);

/* Runs the policy (with its value head, if vhead is not NULL) and the
 * reference over every rollout, M at a time, and stores each response
 * token's log-probabilities (and value). Returns the policy's mean entropy
 * per response token. */
float evaluate_rollouts(GPT *policy, const LinearHead *vhead, GPT *reference, Rollouts *ro, int M,
                        float temperature, TokenBatch *tb, int eot);

/* 1 if `prompt` asks where something is and `response` names a colour but no
 * place: the reward hack PPO finds without a KL penalty. */
int place_answered_with_colour(const char *prompt, const char *response);

/* The means over a set of rollouts whose logp and ref_logp evaluate_rollouts
 * has filled (the KL of a response is the sum over its tokens). */
typedef struct {
    double rm, rule, k1, k3, len, ended;  /* means per rollout */
    int hacked, places;  /* place questions answered with a colour, of all place questions */
} RolloutStats;

RolloutStats rollout_stats(const Rollouts *ro, const PromptSet *ps);

/* ---- judging a policy ---- */

/* How a policy is judged: the same prompts, sampling and seed for every
 * rung that asks. The pointers are borrowed. */
typedef struct {
    Tokenizer *tok;
    const PromptSet *train, *heldout;  /* the ppo prompts, and the held-out ones */
    RewardModel *rm;        /* scores sampled answers; NULL: not scored (NAN) */
    GPT *reference;         /* sampled answers' KL to it; NULL: not measured (NAN) */
    int max_response;       /* tokens an answer may take */
    int samples;            /* sampled answers per prompt in start_eval */
    float temperature;      /* of the sampled answers */
    float penalty;          /* the reward model's score of an answer that never ends */
    int seed;               /* sampled answers are drawn with seed + 4242: the same before and after */
    const int *val_tokens;  /* held-out pretraining text for lm_loss; NULL: not measured */
    size_t val_n;
} Judge;

typedef struct {
    float score;    /* mean score_response of the greedy answers */
    int hacked;     /* place questions answered with a colour */
    int places;     /* place questions */
} Greedy;

/* The policy's greedy answers to every prompt of the set (chat_answers at
 * temperature 0). If answers is not NULL it receives them (malloc'd), and
 * answers_ended whether each ended. */
Greedy greedy_eval(GPT *m, Tokenizer *tok, const PromptSet *ps, int max_response, char **answers,
                   int *answers_ended);

/* Many sampled answers, judged: a low-noise measure of a policy. */
typedef struct {
    float rm, rule;      /* mean reward-model score (penalty included), mean hidden-rule score */
    float kl;            /* mean over answers of sum_i k1 over its tokens: KL(policy || reference) per answer */
    int hacked, places;  /* place questions answered with a colour, of all place questions */
} Sampled;

/* Samples per_prompt answers to every prompt of ps from `policy` (seed
 * j->seed + 4242) and judges them. */
Sampled sampled_eval(GPT *policy, const Judge *j, const PromptSet *ps, int per_prompt);

/* The language model's loss on held-out pretraining text (gpt_eval_loss over
 * the windows of rung 1's validation loss, batches of LM_VAL_B x maxT). NAN
 * when j->val_tokens is NULL. */
#define LM_VAL_B 8
float lm_loss(GPT *m, const Judge *j);

/* Loads the held-out pretraining tokens lm_loss reads (vocabulary and
 * length checked for m: at least one batch). Returns NULL when path is "". */
int *load_lm_val(const char *path, size_t *n, const GPT *m);

/* The starting policy judged once; every run from it shares this. */
typedef struct {
    Sampled sampled, sampled_held;  /* many sampled answers: ppo prompts, held-out prompts */
    Greedy greedy, greedy_held;     /* greedy answers */
    float lm;                       /* lm_loss */
    int n;                          /* the ppo prompts */
    char **answers;                 /* its greedy answers to them */
    int *answers_ended;
} StartEval;

StartEval start_eval(GPT *policy, const Judge *j);
void start_eval_free(StartEval *s);

/* Prints the first `show` prompts with the greedy answers before and after,
 * under "[NAME] what the policy learned to say (...), SFT -> WHAT:". */
void print_answers(const char *name, const char *what, const PromptSet *ps, int show, char **before,
                   const int *before_ended, char **after, const int *after_ended);

#endif
