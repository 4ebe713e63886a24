/* ppo.c — rung 6: InstructGPT step 3, reinforcement learning against the
 * reward model with PPO, from "Training language models to follow
 * instructions with human feedback" (Ouyang et al. 2022), §3.5:
 *
 *   "Reinforcement learning (RL). Once again following Stiennon et al.
 *    (2020), we fine-tuned the SFT model on our environment using PPO
 *    (Schulman et al., 2017). The environment is a bandit environment which
 *    presents a random customer prompt and expects a response to the prompt.
 *    Given the prompt and response, it produces a reward determined by the
 *    reward model and ends the episode. In addition, we add a per-token KL
 *    penalty from the SFT model at each token to mitigate over-optimization
 *    of the reward model. The value function is initialized from the RM."
 *
 *       objective(phi) = E_(x,y)~pi_phi [ r_theta(x, y) - beta log( pi_phi(y|x) / pi_SFT(y|x) ) ]
 *
 * Four models, named as the literature names them:
 *   policy      pi_phi, the model being trained; starts as a copy of SFT
 *   reference   pi_SFT, the frozen SFT model the KL penalty measures against
 *   reward      r_theta, the frozen reward model of rung 5
 *   value       V(s), a scalar head on the POLICY's trunk, zero-initialised
 *               (TRL's choice, not InstructGPT's; notes/07-ppo.md says why)
 *
 * One PPO iteration (the loop of ppo_run), InstructGPT's Figure 2, step 3:
 *   1. rollout    sample a response to each of N prompts from the policy at
 *                 temperature tau (rollout)
 *   2. score      the reward model's score of prompt + response; a response
 *                 that never reached end-of-text gets a fixed penalty
 *                 instead (score_rollouts)
 *   3. evaluate   log pi_old, log pi_ref and V_old at every response token,
 *                 one forward of each model over the whole sequences
 *                 (evaluate_rollouts)
 *   4. rewards    r_t = -beta (log pi_old(a_t) - log pi_ref(a_t)), plus the
 *                 score on the last real token (token_rewards); advantages
 *                 by GAE, returns = advantages + values, advantages whitened
 *                 (gae, compute_advantages)
 *   5. update     several epochs of minibatches of PPO's clipped surrogate
 *                 plus a clipped value loss, the gradients written out by
 *                 hand into the logits and the value head (ppo_loss,
 *                 ppo_minibatch), then through gpt_backward
 *
 * A second run with beta = 0 (no KL penalty) shows reward hacking: the
 * reward model's score climbs while the hidden rule's falls (Gao et al.
 * 2022's proxy vs gold reward). Both runs log to one TSV, each row labelled.
 *
 * Shapes: N rollouts per iteration, R the longest response (tokens), M
 * rollouts per minibatch, T the longest sequence of a batch, K the response
 * tokens of a batch, C channels, V vocabulary, Vp V padded.
 *
 * Optional (--ptx-coef): PPO-ptx, InstructGPT's pretraining mix (ptx_gradient).
 *
 * Left out: an entropy bonus, a separate value network, reward whitening; the paper's 256k
 * episodes (here a few thousand).
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
    const char *tokenizer, *model, *reference, *reward, *prompts, *out, *hack_out, *log, *run_name;
    int iters, rollouts, max_response, epochs, minibatches;
    int value_warmup;      /* the first iterations train only the value head */
    int eval_every, eval_samples, show, seed, threads;
    int hack_run;          /* also run beta = 0 (the reward-hacking run) */
    float temperature, lr, value_lr, adam_eps, grad_clip;
    float clip_eps, vf_clip, vf_coef, gamma, lambda;
    float beta;            /* the KL penalty's coefficient */
    float kl_target;       /* > 0: adapt beta towards this KL (Ziegler et al. 2019) */
    int kl_horizon;        /* ... over this many rollouts */
    float penalty;         /* the score of a response with no end-of-text */
    float ptx_coef;        /* PPO-ptx: weight of the pretraining LM loss, 0 = off */
    const char *ptx_data;  /* ... the pretraining tokens it is computed on */
    int ptx_batch;         /* ... windows of PTX_T tokens per policy step */
    const char *lm_val;    /* held-out pretraining tokens: forgetting, measured ("" = skip) */
} Options;

/* Defaults: what RLHF-NOTES.md found at our scale (64 rollouts, responses of
 * at most 16 tokens, temperature 1, 4 epochs x 4 minibatches, lr 5e-5, clip
 * 0.2, value coefficient 0.5, gamma 1, lambda 0.95, beta 0.3), 120
 * iterations: about two minutes per run on two cores. Ours on top, each
 * explained in notes/07-ppo.md: Adam's epsilon 1e-5 (OpenAI's PPO, baselines'
 * ppo2; PyTorch's default is 1e-8), a value head with its own learning rate
 * and five iterations of warm-up, and a penalty of -5 (about the reward
 * model's score of a wrong answer) for a response that never ends. */
static Options defaults(void) {
    Options o = {0};
    o.tokenizer = "out/tokenizer.merges";
    o.model = "out/sft.bin";
    o.reference = NULL;          /* NULL: the same file as --model */
    o.reward = "out/reward.bin";
    o.prompts = "data/ppo_prompts.tsv";
    o.out = "out/ppo.bin";
    o.hack_out = "out/ppo_beta0.bin";
    o.log = "plots/ppo.tsv";
    o.run_name = NULL;           /* NULL: "beta" followed by the value of --beta */
    o.iters = 120; o.rollouts = 64; o.max_response = 16; o.epochs = 4; o.minibatches = 4;
    o.value_warmup = 5;
    o.eval_every = 5; o.eval_samples = 32; o.show = 8; o.seed = 1; o.hack_run = 1;
    o.temperature = 1.0f; o.lr = 5e-5f; o.value_lr = 3e-3f; o.adam_eps = 1e-5f; o.grad_clip = 1.0f;
    o.clip_eps = 0.2f; o.vf_clip = 0.2f; o.vf_coef = 0.5f; o.gamma = 1.0f; o.lambda = 0.95f;
    o.beta = 0.3f; o.kl_target = 0.0f; o.kl_horizon = 640;
    o.penalty = -5.0f;
    o.ptx_coef = 0.0f; o.ptx_data = "out/pretrain.bin"; o.ptx_batch = 4;
    o.lm_val = "out/val.bin";
    return o;
}

/* The tiny preset the end-to-end test uses: same code paths, seconds. */
static void apply_fast(Options *o) {
    o->iters = 3; o->rollouts = 8; o->max_response = 8; o->epochs = 2; o->minibatches = 2;
    o->value_warmup = 1; o->eval_every = 2; o->eval_samples = 2; o->show = 2;
}

/* ---- the prompts: set <tab> prompt ---- */

typedef struct {
    int n;
    char **text;   /* (n) the prompt as in the file */
    Chat *ctx;     /* (n) its context in the chat format: what the policy is given */
} PromptSet;

/* Reads the rows of data/ppo_prompts.tsv whose set is `set` ("ppo" or
 * "heldout"). Every context must leave room for max_response tokens. */
static PromptSet load_prompts(Tokenizer *tok, const char *path, const char *set, int max_response, int maxT) {
    Tsv tsv;
    tsv_read(&tsv, path, 2);
    PromptSet s = {0, NULL, NULL};
    s.text = malloc_or_die(sizeof(char *) * (size_t)tsv.nrows, "prompts");
    s.ctx = malloc_or_die(sizeof(Chat) * (size_t)tsv.nrows, "prompt contexts");
    for (int i = 0; i < tsv.nrows; i++) {
        const TsvRow *r = &tsv.rows[i];
        if (strcmp(r->fields[0], "ppo") != 0 && strcmp(r->fields[0], "heldout") != 0) {
            die("%s:%d: set '%s' is neither ppo nor heldout", path, r->line, r->fields[0]);
        }
        if (strcmp(r->fields[0], set) != 0) continue;
        if (r->fields[1][0] == '\0') die("%s:%d: the prompt is empty", path, r->line);
        Chat c = chat_encode_prompt(tok, r->fields[1]);
        if (c.len + max_response > maxT) {
            die("%s:%d: the prompt is %d tokens; with a %d-token response it does not fit the model's context (%d)",
                path, r->line, c.len, max_response, maxT);
        }
        s.text[s.n] = strdup_or_die(r->fields[1]);
        s.ctx[s.n++] = c;
    }
    tsv_free(&tsv);
    return s;
}

static void free_prompts(PromptSet *s) {
    for (int i = 0; i < s->n; i++) {
        free(s->text[i]);
        chat_free(&s->ctx[i]);
    }
    free(s->text);
    free(s->ctx);
}

/* ---- the rollouts of one iteration ---- */

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
    float *values;     /* V_old(s_i): the value head before the update */
    float *rewards;    /* r_i */
    float *adv;        /* A_i (whitened) */
    float *returns;    /* A_i + V_old(s_i), before whitening: the value target */
} Rollouts;

static void rollouts_alloc(Rollouts *ro, int n, int R, int S) {
    memset(ro, 0, sizeof *ro);
    ro->n = n; ro->R = R; ro->S = S;
    ro->prompt = calloc_or_die((size_t)n, sizeof(int), "rollout prompts");
    ro->seq = calloc_or_die((size_t)n * S, sizeof(int), "rollout tokens");
    ro->ctx_len = calloc_or_die((size_t)n, sizeof(int), "rollout contexts");
    ro->len = calloc_or_die((size_t)n, sizeof(int), "rollout lengths");
    ro->ended = calloc_or_die((size_t)n, sizeof(int), "rollout ends");
    ro->text = calloc_or_die((size_t)n, sizeof(char *), "rollout texts");
    ro->score = calloc_or_die((size_t)n, sizeof(float), "rollout scores");
    ro->rule = calloc_or_die((size_t)n, sizeof(float), "rollout rule scores");
    float **per_token[] = {&ro->logp, &ro->ref_logp, &ro->values, &ro->rewards, &ro->adv, &ro->returns};
    for (size_t k = 0; k < sizeof per_token / sizeof *per_token; k++) {
        *per_token[k] = calloc_or_die((size_t)n * R, sizeof(float), "per-token rollout data");
    }
}

static void rollouts_free(Rollouts *ro) {
    for (int b = 0; b < ro->n; b++) free(ro->text[b]);
    free(ro->prompt); free(ro->seq); free(ro->ctx_len); free(ro->len); free(ro->ended);
    free(ro->text); free(ro->score); free(ro->rule);
    free(ro->logp); free(ro->ref_logp); free(ro->values); free(ro->rewards); free(ro->adv);
    free(ro->returns);
    memset(ro, 0, sizeof *ro);
}

/* ---- the formulas, one token at a time ---- */

/* Two estimates of KL(pi || pi_ref) from one sampled token a ~ pi (Schulman,
 * "Approximating KL divergence", 2020). Both are unbiased: their mean over
 * a ~ pi is the KL exactly.
 *   k1 = log pi(a) - log pi_ref(a)           what the per-token penalty uses;
 *                                            one sample can be negative
 *   k3 = (rho - 1) - log rho, rho = pi_ref(a)/pi(a)   never negative, lower variance */
static float kl_k1(float logp, float ref_logp) { return logp - ref_logp; }

static float kl_k3(float logp, float ref_logp) {
    float log_rho = ref_logp - logp;
    return expf(log_rho) - 1.0f - log_rho;
}

/* The per-token reward of one response of n tokens, the objective above
 * spread over its tokens (Ziegler et al. 2019; TRL):
 *     r_i = -beta (log pi_old(a_i) - log pi_ref(a_i))  +  [i == n-1] score
 * The score lands on the LAST REAL token (the end-of-text, or the last token
 * of a response cut at the length limit), never on padding after it (a bug
 * users found in TRL). rewards (R): positions n..R-1 are set to 0. */
static void token_rewards(float *rewards, const float *logp, const float *ref_logp, int n, int R,
                          float score, float beta) {
    for (int i = 0; i < R; i++) rewards[i] = i < n ? -beta * kl_k1(logp[i], ref_logp[i]) : 0.0f;
    if (n > 0) rewards[n - 1] += score;
}

/* Generalised advantage estimation (Schulman et al. 2016) over one response
 * of n tokens, from the last token back:
 *     delta_i = r_i + gamma V(s_{i+1}) - V(s_i)     (V(s_n) = 0: the episode ends)
 *     A_i     = delta_i + gamma lambda A_{i+1}
 *     R_i     = A_i + V(s_i)                         (the value head's target)
 * lambda = 1 gives A_i = (the discounted rewards from i on) - V(s_i);
 * lambda = 0 the one-step TD error. adv, returns (n). */
static void gae(float *adv, float *returns, const float *rewards, const float *values, int n,
                float gamma, float lambda) {
    float next_adv = 0.0f, next_value = 0.0f;
    for (int i = n - 1; i >= 0; i--) {
        float delta = rewards[i] + gamma * next_value - values[i];
        adv[i] = delta + gamma * lambda * next_adv;
        returns[i] = adv[i] + values[i];
        next_adv = adv[i];
        next_value = values[i];
    }
}

/* PPO's clipped surrogate (Schulman et al. 2017, eq. 7) for one token, as a
 * loss to minimise, and its derivative with respect to log pi(a):
 *     rho  = exp(logp - old_logp)
 *     loss = max(-A rho, -A clip(rho, 1 - eps, 1 + eps))
 * Where the clipped term is the larger, the loss is flat in logp and the
 * gradient is 0: that is exactly A > 0 with rho > 1 + eps, or A < 0 with
 * rho < 1 - eps (the update has already moved this token as far as the
 * trust region allows in the direction the advantage asks for). Elsewhere
 * d loss / d logp = -A rho   (d rho / d logp = rho). */
typedef struct {
    float loss, dlogp;
    int clipped;       /* the clipped term was chosen (and the gradient is 0) */
} Surrogate;

static Surrogate clipped_surrogate(float logp, float old_logp, float adv, float eps) {
    float rho = expf(logp - old_logp);
    float rho_clip = rho < 1.0f - eps ? 1.0f - eps : rho > 1.0f + eps ? 1.0f + eps : rho;
    float unclipped = -adv * rho, clipped = -adv * rho_clip;
    Surrogate s;
    s.clipped = clipped > unclipped;
    s.loss = s.clipped ? clipped : unclipped;
    s.dlogp = s.clipped ? 0.0f : -adv * rho;
    return s;
}

/* The clipped value loss for one token (OpenAI baselines' ppo2, TRL):
 *     v_clip = v_old + clip(v - v_old, -eps, eps)
 *     loss   = 1/2 max((v - R)^2, (v_clip - R)^2)
 * d loss / dv = v - R where the unclipped term is the larger (inside the band
 * the two are equal); 0 where the clipped term is the larger (v_clip does not
 * move with v outside the band). */
typedef struct {
    float loss, dv;
    int clipped;
} ValueLoss;

static ValueLoss clipped_value_loss(float v, float v_old, float ret, float eps) {
    float dv_old = v - v_old;
    float v_clip = v_old + (dv_old < -eps ? -eps : dv_old > eps ? eps : dv_old);
    float unclipped = 0.5f * (v - ret) * (v - ret), clipped = 0.5f * (v_clip - ret) * (v_clip - ret);
    ValueLoss l;
    l.clipped = clipped > unclipped;
    l.loss = l.clipped ? clipped : unclipped;
    l.dv = l.clipped ? 0.0f : v - ret;
    return l;
}

/* Entropy of softmax(logits[:V] / temperature), in nats. */
static float row_entropy(const float *logits, int V, float temperature) {
    float mx = -INFINITY;
    for (int v = 0; v < V; v++) if (logits[v] / temperature > mx) mx = logits[v] / temperature;
    double sum = 0.0, sum_ez = 0.0;
    for (int v = 0; v < V; v++) {
        double z = logits[v] / temperature - mx, e = exp(z);
        sum += e;
        sum_ez += e * z;
    }
    return (float)(log(sum) - sum_ez / sum);  /* H = log Z - E[z] */
}

/* ---- a batch of rollouts, and its response tokens flattened ---- */

/* The response tokens of M rollouts laid out as one right-padded (M, T)
 * batch, in a flat list of K tokens: token k is the i-th response token of
 * rollout b, predicted by the logits at row[k] = m*T + ctx_len_b - 1 + i (the
 * position BEFORE it), where the value head also reads V(s_i). */
typedef struct {
    int M, T, K, cap_k, cap_bt;
    int *inputs;       /* (M, T) the sequences, right-padded with end-of-text */
    int *row;          /* (K) */
    int *action;       /* (K) the token a_i */
    int *src;          /* (K) b*R + i: where the token lives in the Rollouts' (n, R) arrays */
    float *logp, *value;                       /* (K) the model's, filled by forward_tokens */
    float *old_logp, *old_value, *adv, *ret;   /* (K) gathered from the Rollouts */
    float *dlogp, *dvalue;                     /* (K) the loss's gradient */
} TokenBatch;

/* Lays out rollouts idx[0..M) as one batch and gathers their per-token data. */
static void layout_batch(TokenBatch *tb, const Rollouts *ro, const int *idx, int M, int eot) {
    int T = 1, K = 0;
    for (int m = 0; m < M; m++) {
        int b = idx[m];
        if (ro->ctx_len[b] + ro->len[b] > T) T = ro->ctx_len[b] + ro->len[b];
        K += ro->len[b];
    }
    if ((size_t)M * T > (size_t)tb->cap_bt) {
        tb->cap_bt = M * T;
        tb->inputs = realloc_or_die(tb->inputs, sizeof(int) * (size_t)tb->cap_bt, "batch inputs");
    }
    if (K > tb->cap_k) {
        tb->cap_k = K;
        int **ints[] = {&tb->row, &tb->action, &tb->src};
        float **floats[] = {&tb->logp, &tb->value, &tb->old_logp, &tb->old_value, &tb->adv, &tb->ret,
                            &tb->dlogp, &tb->dvalue};
        for (size_t j = 0; j < 3; j++) *ints[j] = realloc_or_die(*ints[j], sizeof(int) * (size_t)K, "tokens");
        for (size_t j = 0; j < 8; j++) *floats[j] = realloc_or_die(*floats[j], sizeof(float) * (size_t)K, "tokens");
    }
    tb->M = M; tb->T = T; tb->K = K;
    int k = 0;
    for (int m = 0; m < M; m++) {
        int b = idx[m], ctx = ro->ctx_len[b];
        const int *seq = ro->seq + (size_t)b * ro->S;
        for (int t = 0; t < T; t++) tb->inputs[m * T + t] = t < ctx + ro->len[b] ? seq[t] : eot;
        for (int i = 0; i < ro->len[b]; i++, k++) {
            tb->row[k] = m * T + ctx - 1 + i;
            tb->action[k] = seq[ctx + i];
            tb->src[k] = b * ro->R + i;
            tb->old_logp[k] = ro->logp[tb->src[k]];
            tb->old_value[k] = ro->values[tb->src[k]];
            tb->adv[k] = ro->adv[tb->src[k]];
            tb->ret[k] = ro->returns[tb->src[k]];
        }
    }
}

static void token_batch_free(TokenBatch *tb) {
    free(tb->inputs); free(tb->row); free(tb->action); free(tb->src);
    free(tb->logp); free(tb->value); free(tb->old_logp); free(tb->old_value);
    free(tb->adv); free(tb->ret); free(tb->dlogp); free(tb->dvalue);
    memset(tb, 0, sizeof *tb);
}

/* One forward of `m` over the batch:
 *     tb->logp[k] = log softmax(logits[row[k]] / tau)[action[k]]
 * and, if vhead is not NULL, tb->value[k] = the value head at row[k]. If
 * entropy is not NULL, adds the entropy of each token's distribution to it. */
static void forward_tokens(GPT *m, const LinearHead *vhead, TokenBatch *tb, float temperature, double *entropy) {
    int V = m->config.V, Vp = m->config.Vp;
    gpt_forward(m, tb->inputs, tb->M, tb->T);
    for (int k = 0; k < tb->K; k++) {
        const float *logits = m->acts.logits + (size_t)tb->row[k] * Vp;
        logprob_forward(&tb->logp[k], logits, &tb->action[k], temperature, 1, V, Vp);
        if (entropy) *entropy += row_entropy(logits, V, temperature);
    }
    if (vhead) head_forward(vhead, tb->value, m->acts.lnf, tb->row, tb->K);
}

/* ---- the PPO loss of a minibatch, with its gradient written out ---- */

typedef struct {
    float loss, pg_loss, vf_loss;  /* means over the batch's tokens */
    float clipfrac;                /* fraction of tokens where the surrogate was clipped */
    float approx_kl;               /* mean 1/2 (log pi - log pi_old)^2: how far the policy has moved */
    float ptx_loss;                /* PPO-ptx: the LM loss on the pretraining windows (0 when off) */
} LossStats;

/* Given the logits (M*T, Vp) and tb->value of the current policy, the loss
 *     L = 1/K sum_k [ surrogate_k + vf_coef * value_loss_k ]
 * and, if dlogits is not NULL, its gradient: dL/dlogp_k through
 * logprob_backward into dlogits (ADDED; zero it first), and dL/dV_k into
 * tb->dvalue for the value head's backward. */
static LossStats ppo_loss(TokenBatch *tb, const float *logits, int V, int Vp, float temperature,
                          float clip_eps, float vf_clip, float vf_coef, float *dlogits) {
    LossStats st = {0};
    double pg = 0.0, vf = 0.0, akl = 0.0;
    int nclip = 0;
    float inv_k = 1.0f / (float)tb->K;
    for (int k = 0; k < tb->K; k++) {
        const float *lg = logits + (size_t)tb->row[k] * Vp;
        logprob_forward(&tb->logp[k], lg, &tb->action[k], temperature, 1, V, Vp);
        Surrogate s = clipped_surrogate(tb->logp[k], tb->old_logp[k], tb->adv[k], clip_eps);
        ValueLoss l = clipped_value_loss(tb->value[k], tb->old_value[k], tb->ret[k], vf_clip);
        pg += s.loss;
        vf += l.loss;
        nclip += s.clipped;
        float d = tb->logp[k] - tb->old_logp[k];
        akl += 0.5 * d * d;
        /* L = 1/K sum_k (surrogate_k + c value_k):
         * dL/dlogp_k = dsurrogate_k/dlogp_k / K,   dL/dV_k = c dvalue_k/dV_k / K */
        tb->dlogp[k] = s.dlogp * inv_k;
        tb->dvalue[k] = vf_coef * l.dv * inv_k;
        /* logp = log softmax(logits / tau)[a]:  dlogits += dlogp / tau ([v == a] - p_v) */
        if (dlogits) logprob_backward(dlogits + (size_t)tb->row[k] * Vp, &tb->dlogp[k], lg, &tb->action[k],
                                      temperature, 1, V, Vp);
    }
    st.pg_loss = (float)(pg / tb->K);
    st.vf_loss = (float)(vf / tb->K);
    st.loss = st.pg_loss + vf_coef * st.vf_loss;
    st.clipfrac = (float)nclip / (float)tb->K;
    st.approx_kl = (float)(akl / tb->K);
    return st;
}

/* ---- PPO-ptx: the pretraining mix ---- */

/* InstructGPT (Ouyang et al. 2022, eq. 2) adds gamma times the pretraining
 * log-likelihood to the objective,
 *     objective(phi) = E[ r - beta log(pi/pi_SFT) ] + gamma E_{x ~ pretrain}[ log pi(x) ],
 * so that PPO does not wear away what it never asks about. Here each policy
 * step also takes gamma times the language-modelling loss of a few random
 * windows of the pretraining corpus. Off by default (notes/07-ppo.md). */
#define PTX_T 64  /* tokens per window (fewer if the context is shorter) */

typedef struct {
    float coef;              /* gamma; 0 = off */
    int B, T;                /* windows per policy step, tokens per window */
    const int *data;         /* the pretraining tokens */
    size_t n;
    int *inputs, *targets;   /* (B, T) */
    Rng rng;                 /* its own: the rollouts draw the same with or without it */
} Ptx;

/* ADDS coef * dLM/dtheta of B fresh windows to the policy's gradients and
 * returns the LM loss. Call it after the PPO loss's gpt_backward: its forward
 * overwrites the activations that backward reads. */
static float ptx_gradient(GPT *policy, Ptx *p) {
    gpt_random_windows(p->data, p->n, p->B, p->T, p->inputs, p->targets, &p->rng);
    gpt_forward(policy, p->inputs, p->B, p->T);
    float loss = gpt_lm_loss(policy, p->targets, NULL);
    gpt_lm_loss_backward(policy, p->targets, NULL, p->coef);
    gpt_backward(policy, policy->dlogits, NULL);
    return loss;
}

/* One optimisation step on a minibatch: forward, ppo_loss, the value head's
 * backward into the hidden states, gpt_backward from both, with PPO-ptx the
 * pretraining term's gradient added (ptx may be NULL), clip, AdamW. */
static LossStats ppo_minibatch(GPT *policy, LinearHead *vhead, TokenBatch *tb, const Options *o,
                               const AdamWConfig *adam, int train_policy, Ptx *ptx) {
    const GPTConfig *c = &policy->config;
    size_t BT = (size_t)tb->M * tb->T;
    gpt_forward(policy, tb->inputs, tb->M, tb->T);
    head_forward(vhead, tb->value, policy->acts.lnf, tb->row, tb->K);
    zero_floats(policy->dlogits, BT * c->Vp);
    LossStats st = ppo_loss(tb, policy->acts.logits, c->V, c->Vp, o->temperature, o->clip_eps, o->vf_clip,
                            o->vf_coef, policy->dlogits);
    gpt_zero_grad(policy);
    head_zero_grad(vhead);
    /* value[k] = w . lnf[row[k]] + b:  dw += dvalue lnf,  dlnf[row[k]] += dvalue w */
    zero_floats(policy->dhidden, BT * c->C);
    head_backward(vhead, policy->dhidden, tb->dvalue, policy->acts.lnf, tb->row, tb->K);
    /* the policy's gradient arrives through the logits, the value's through the hidden states */
    if (train_policy) {
        gpt_backward(policy, policy->dlogits, policy->dhidden);
        if (ptx && ptx->coef > 0.0f) st.ptx_loss = ptx_gradient(policy, ptx);
        head_clip_together(vhead, policy->grads_memory, policy->num_parameters, o->grad_clip);
        gpt_update(policy, o->lr, adam);
    } else {
        head_clip_together(vhead, NULL, 0, o->grad_clip);
    }
    head_update(vhead, o->value_lr, adam);
    return st;
}

/* ---- 1. rollout ---- */

/* Samples one response per rollout from the policy at the given temperature
 * (through the sampler's key/value cache, made from the policy's current
 * weights), at most R tokens, stopping after end-of-text. ro->prompt must be
 * set. Fills seq, ctx_len, len, ended, text.
 * Runs on ONE thread: the cache sends a single row through each op, too
 * little work to share, and on a busy two-core machine OpenMP's waiting
 * threads made the whole run 20x slower (notes/07-ppo.md). */
static void rollout(GPTSampler *sampler, const Tokenizer *tok, const PromptSet *ps, Rollouts *ro,
                    float temperature, Rng *rng) {
    int eot = tokenizer_special_id(tok, TOK_EOT), threads = get_threads();
    set_threads(1);
    for (int b = 0; b < ro->n; b++) {
        const Chat *ctx = &ps->ctx[ro->prompt[b]];
        int *seq = ro->seq + (size_t)b * ro->S;
        memcpy(seq, ctx->tokens, sizeof(int) * (size_t)ctx->len);
        ro->ctx_len[b] = ctx->len;
        ro->len[b] = gpt_sampler_run(sampler, ctx->tokens, ctx->len, seq + ctx->len, ro->R, eot, temperature, 0,
                                     rng, NULL, NULL);
        free(ro->text[b]);
        ro->text[b] = chat_decode_response(tok, seq + ctx->len, ro->len[b], &ro->ended[b]);
    }
    set_threads(threads);
}

/* ---- 2. score ---- */

/* The reward model's score of each ended rollout (prompt + response, read at
 * its end-of-text, as the reward model was trained); a rollout that never
 * reached end-of-text gets `penalty` instead ("the N implementation details
 * of RLHF", Huang et al. 2024). Also the hidden rule's score, for the log. */
static void score_rollouts(RewardModel *rm, const PromptSet *ps, Rollouts *ro, float penalty, int eot) {
    Chat *chats = malloc_or_die(sizeof(Chat) * (size_t)ro->n, "rollout chats");
    const Chat **ptrs = malloc_or_die(sizeof(Chat *) * (size_t)ro->n, "rollout chat pointers");
    int *which = malloc_or_die(sizeof(int) * (size_t)ro->n, "ended rollouts");
    float *scores = malloc_or_die(sizeof(float) * (size_t)ro->n, "rollout scores");
    int ne = 0;
    for (int b = 0; b < ro->n; b++) {
        ro->rule[b] = score_response(ps->text[ro->prompt[b]], ro->text[b], ro->ended[b]);
        ro->score[b] = penalty;
        if (!ro->ended[b]) continue;
        /* a view of the rollout's tokens, not a copy: never chat_free'd */
        chats[ne] = (Chat){ro->seq + (size_t)b * ro->S, ro->ctx_len[b] + ro->len[b], ro->ctx_len[b]};
        ptrs[ne] = &chats[ne];
        which[ne++] = b;
    }
    if (ne > 0) reward_model_score_chats(rm, ptrs, ne, eot, scores);
    for (int j = 0; j < ne; j++) ro->score[which[j]] = scores[j];
    free(chats); free(ptrs); free(which); free(scores);
}

/* ---- 3. evaluate: log pi_old, log pi_ref, V_old ---- */

/* Runs the policy (with its value head) and the reference over every
 * rollout, M at a time, and stores each response token's log-probabilities
 * and value. These are recomputed with a full forward, not kept from the
 * sampler: the update's ratio must compare like with like. Returns the mean
 * entropy per response token of the policy. */
static float evaluate_rollouts(GPT *policy, const LinearHead *vhead, GPT *reference, Rollouts *ro, int M,
                               float temperature, TokenBatch *tb, int eot) {
    int *idx = malloc_or_die(sizeof(int) * (size_t)ro->n, "rollout indices");
    double entropy = 0.0;
    int tokens = 0;
    for (int b = 0; b < ro->n; b++) idx[b] = b;
    for (int i0 = 0; i0 < ro->n; i0 += M) {
        int mb = ro->n - i0 < M ? ro->n - i0 : M;
        layout_batch(tb, ro, idx + i0, mb, eot);
        forward_tokens(reference, NULL, tb, temperature, NULL);
        for (int k = 0; k < tb->K; k++) ro->ref_logp[tb->src[k]] = tb->logp[k];
        forward_tokens(policy, vhead, tb, temperature, &entropy);
        for (int k = 0; k < tb->K; k++) {
            ro->logp[tb->src[k]] = tb->logp[k];
            ro->values[tb->src[k]] = tb->value[k];
        }
        tokens += tb->K;
    }
    free(idx);
    return (float)(entropy / (tokens > 0 ? tokens : 1));
}

/* ---- 4. rewards and advantages ---- */

/* token_rewards and gae for every rollout, then the advantages whitened
 * (mean 0, std 1 over all response tokens of the iteration, TRL's
 * masked_whiten); the returns keep the raw advantages. */
static void compute_advantages(Rollouts *ro, float beta, float gamma, float lambda) {
    double sum = 0.0, sumsq = 0.0;
    int count = 0;
    for (int b = 0; b < ro->n; b++) {
        size_t o = (size_t)b * ro->R;
        token_rewards(ro->rewards + o, ro->logp + o, ro->ref_logp + o, ro->len[b], ro->R, ro->score[b], beta);
        gae(ro->adv + o, ro->returns + o, ro->rewards + o, ro->values + o, ro->len[b], gamma, lambda);
        for (int i = 0; i < ro->len[b]; i++) {
            sum += ro->adv[o + i];
            sumsq += (double)ro->adv[o + i] * ro->adv[o + i];
            count++;
        }
    }
    double mean = sum / count, var = sumsq / count - mean * mean;
    float inv_std = (float)(1.0 / sqrt((var > 0.0 ? var : 0.0) + 1e-8));
    for (int b = 0; b < ro->n; b++) {
        for (int i = 0; i < ro->len[b]; i++) {
            float *a = &ro->adv[(size_t)b * ro->R + i];
            *a = (float)((*a - mean) * inv_std);
        }
    }
}

/* ---- the hack, counted ---- */

/* 1 if `prompt` asks where something is and `response` names a colour but no
 * place: the reward hack the prototype found without a KL penalty. */
static int place_answered_with_colour(const char *prompt, const char *response) {
    if (toy_parse_prompt(prompt).kind != TOY_Q_PLACE) return 0;
    int colour = 0, place = 0;
    char word[32];
    const char *p = response;
    while (*p) {
        int n = 0;
        while (*p && !((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))) p++;
        while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) {
            if (n < (int)sizeof word - 1) word[n++] = *p;
            p++;
        }
        word[n] = '\0';
        if (n == 0) continue;
        colour |= toy_colour_index(word) >= 0;
        place |= toy_place_index(word) >= 0;
    }
    return colour && !place;
}

/* ---- evaluation: greedy answers, judged by the hidden rule ---- */

typedef struct {
    float score;    /* mean score_response of the greedy answers */
    int hacked;     /* place questions answered with a colour */
    int places;     /* place questions */
} Greedy;

/* The policy's greedy answers to every prompt of the set (chat_answers at
 * temperature 0). If answers is not NULL it receives them (malloc'd), and
 * answers_ended whether each ended. */
static Greedy greedy_eval(GPT *m, Tokenizer *tok, const PromptSet *ps, int max_response, char **answers,
                          int *answers_ended) {
    Greedy g = {0};
    if (ps->n == 0) { g.score = NAN; return g; }
    char **a = malloc_or_die(sizeof(char *) * (size_t)ps->n, "answers");
    int *ended = malloc_or_die(sizeof(int) * (size_t)ps->n, "answer ends");
    chat_answers(m, tok, (const char *const *)ps->text, ps->n, max_response, 0.0f, NULL, a, ended);
    double total = 0.0;
    for (int i = 0; i < ps->n; i++) {
        total += score_response(ps->text[i], a[i], ended[i]);
        g.places += toy_parse_prompt(ps->text[i]).kind == TOY_Q_PLACE;
        g.hacked += place_answered_with_colour(ps->text[i], a[i]);
        if (answers) { answers[i] = a[i]; answers_ended[i] = ended[i]; } else free(a[i]);
    }
    g.score = (float)(total / ps->n);
    free(a);
    free(ended);
    return g;
}

/* ---- one PPO run ---- */

/* What the runs share: the tokenizer, the two frozen models, the prompts. */
typedef struct {
    Tokenizer tok;
    GPT reference;        /* pi_SFT, frozen */
    RewardModel rm;       /* r_theta, frozen */
    PromptSet train, heldout;
    int eot;
    int *ptx_tokens;      /* PPO-ptx's pretraining tokens (NULL when off) */
    size_t ptx_n;
    int *val_tokens;      /* held-out pretraining text, for lm_loss (NULL: not measured) */
    size_t val_n;
} World;

/* Many sampled answers, judged: a low-noise measure of a policy, taken with
 * the same seed before and after training. */
typedef struct {
    float rm, rule;      /* mean reward-model score (penalty included), mean hidden-rule score */
    int hacked, places;  /* place questions answered with a colour, of all place questions */
} Sampled;

/* Samples per_prompt answers to every prompt of ps from `policy` and scores
 * them with the reward model and the hidden rule. */
static Sampled sampled_eval(GPT *policy, World *w, const PromptSet *ps, int per_prompt, const Options *o) {
    Sampled s = {0};
    if (ps->n == 0 || per_prompt == 0) { s.rm = s.rule = NAN; return s; }
    Rollouts ro;
    rollouts_alloc(&ro, ps->n * per_prompt, o->max_response, policy->config.maxT);
    for (int b = 0; b < ro.n; b++) ro.prompt[b] = b % ps->n;
    Rng rng;
    rng_seed(&rng, (uint64_t)o->seed + 4242);
    GPTSampler sampler;
    gpt_sampler_init(&sampler, policy);
    rollout(&sampler, &w->tok, ps, &ro, o->temperature, &rng);
    gpt_sampler_free(&sampler);
    score_rollouts(&w->rm, ps, &ro, o->penalty, w->eot);
    double rm = 0.0, rule = 0.0;
    for (int b = 0; b < ro.n; b++) {
        rm += ro.score[b];
        rule += ro.rule[b];
        s.places += toy_parse_prompt(ps->text[ro.prompt[b]]).kind == TOY_Q_PLACE;
        s.hacked += place_answered_with_colour(ps->text[ro.prompt[b]], ro.text[b]);
    }
    s.rm = (float)(rm / ro.n);
    s.rule = (float)(rule / ro.n);
    rollouts_free(&ro);
    return s;
}

/* What PPO costs the language model: its loss on held-out pretraining text
 * (gpt_eval_loss over the same windows as rung 1's validation loss with its
 * default batch of 8 x 128). NAN when not measured (--lm-val ""). */
#define LM_VAL_B 8
static float lm_loss(GPT *m, const World *w) {
    if (!w->val_tokens) return NAN;
    int B = LM_VAL_B, T = m->config.maxT;
    int *inputs = malloc_or_die(sizeof(int) * (size_t)B * T, "lm inputs");
    int *targets = malloc_or_die(sizeof(int) * (size_t)B * T, "lm targets");
    float loss = gpt_eval_loss(m, w->val_tokens, w->val_n, B, T, GPT_EVAL_BATCHES, inputs, targets);
    free(inputs);
    free(targets);
    return loss;
}

/* The starting policy judged once. Every run starts from the same --model
 * (the SFT model), so the runs share its evaluation. */
typedef struct {
    Sampled sampled, sampled_held;  /* many sampled answers: ppo prompts, held-out prompts */
    Greedy greedy, greedy_held;     /* greedy answers */
    float lm;                       /* lm_loss */
    int n;                          /* the ppo prompts */
    char **answers;                 /* its greedy answers to them, for print_answers */
    int *answers_ended;
} StartEval;

static StartEval start_eval(World *w, const Options *o) {
    StartEval s;
    GPT policy;
    gpt_load(&policy, o->model);
    gpt_check_tokenizer(&policy, o->model, &w->tok, o->tokenizer);
    if (policy.config.C != w->reference.config.C || policy.config.L != w->reference.config.L ||
        policy.config.maxT != w->reference.config.maxT) {
        die("%s and the reference %s are different shapes: the reference must be the policy's starting point",
            o->model, o->reference ? o->reference : o->model);
    }
    s.n = w->train.n;
    s.answers = calloc_or_die((size_t)s.n, sizeof(char *), "greedy answers before");
    s.answers_ended = calloc_or_die((size_t)s.n, sizeof(int), "greedy ends before");
    s.greedy = greedy_eval(&policy, &w->tok, &w->train, o->max_response, s.answers, s.answers_ended);
    s.greedy_held = greedy_eval(&policy, &w->tok, &w->heldout, o->max_response, NULL, NULL);
    s.sampled = sampled_eval(&policy, w, &w->train, o->eval_samples, o);
    s.sampled_held = sampled_eval(&policy, w, &w->heldout, o->eval_samples, o);
    s.lm = lm_loss(&policy, w);
    gpt_free(&policy);
    return s;
}

static void start_eval_free(StartEval *s) {
    for (int i = 0; i < s->n; i++) free(s->answers[i]);
    free(s->answers);
    free(s->answers_ended);
}

/* Adaptive KL controller (Ziegler et al. 2019, §2.2, as in TRL): nudges
 * beta so that the KL to the reference tracks a target,
 *     e = clip(KL / target - 1, -0.2, 0.2),   beta <- beta (1 + e N / horizon)
 * N rollouts per iteration; horizon = 10 N gives Ziegler's K_beta = 0.1. */
static float adapt_beta(float beta, float kl, float target, int n, int horizon) {
    float e = kl / target - 1.0f;
    e = e < -0.2f ? -0.2f : e > 0.2f ? 0.2f : e;
    return beta * (1.0f + e * (float)n / (float)horizon);
}

static void check_finite(const char *what, float x, const char *run, int iter) {
    if (!isfinite(x)) {
        die("run %s, iteration %d: %s is %g; stopping (no checkpoint written)", run, iter, what, (double)x);
    }
}

#define EMA_DECAY 0.9f  /* smoothing of the noisy per-iteration means, for the plot */

static void write_log_header(FILE *log) {
    fputs("run\titer\tbeta\trm_score\trule_score\tkl_k1\tkl_k3\tentropy\tresp_len\tended\twhere_colour\t"
          "pg_loss\tvf_loss\tclipfrac\tapprox_kl\tgreedy_ppo\tgreedy_heldout\trm_ema\trule_ema\tkl_ema\tseconds\n",
          log);
    fflush(log);
}

/* The means over one iteration's rollouts. */
typedef struct {
    double rm, rule, k1, k3, len, ended, where_colour;
} RolloutStats;

static RolloutStats rollout_stats(const Rollouts *ro, const PromptSet *ps) {
    RolloutStats st = {0};
    int places = 0;
    for (int b = 0; b < ro->n; b++) {
        st.rm += ro->score[b];
        st.rule += ro->rule[b];
        st.len += ro->len[b];
        st.ended += ro->ended[b];
        for (int i = 0; i < ro->len[b]; i++) {  /* the KL of a response is the sum over its tokens */
            st.k1 += kl_k1(ro->logp[b * ro->R + i], ro->ref_logp[b * ro->R + i]);
            st.k3 += kl_k3(ro->logp[b * ro->R + i], ro->ref_logp[b * ro->R + i]);
        }
        places += toy_parse_prompt(ps->text[ro->prompt[b]]).kind == TOY_Q_PLACE;
        st.where_colour += place_answered_with_colour(ps->text[ro->prompt[b]], ro->text[b]);
    }
    double n = ro->n;
    st.rm /= n; st.rule /= n; st.k1 /= n; st.k3 /= n; st.len /= n; st.ended /= n;
    st.where_colour = places ? st.where_colour / places : 0.0;
    return st;
}

/* Prints the first `show` prompts with the greedy answers before and after. */
static void print_answers(const char *name, const PromptSet *ps, int show, char **before, const int *before_ended,
                          char **after, const int *after_ended) {
    printf("[%s] what the policy learned to say (greedy answers, hidden-rule score), SFT -> PPO:\n", name);
    for (int i = 0; i < ps->n && i < show; i++) {
        printf("  %-28s %+.1f %-26s -> %+.1f %s\n", ps->text[i],
               (double)score_response(ps->text[i], before[i], before_ended[i]), before[i],
               (double)score_response(ps->text[i], after[i], after_ended[i]), after[i]);
    }
}

/* Trains a fresh policy (a copy of --model) with the given beta for
 * o->iters iterations, logging every row under `name`, and saves it to
 * `out`. Row i describes the policy after i updates: its rollouts, its KL,
 * and (every eval_every rows) its greedy answers; the update columns are
 * those of the update made from row i's rollouts (none on the last row). */
static void ppo_run(World *w, const StartEval *start, const Options *o, const char *name, float beta,
                    const char *out, FILE *log) {
    GPT policy;
    gpt_load(&policy, o->model);  /* checked against the tokenizer and the reference by start_eval */
    /* the value model: a scalar head on the policy's own trunk, zero-initialised
     * (V = 0 everywhere at first); notes/07-ppo.md says why */
    LinearHead vhead;
    head_build(&vhead, 1, policy.config.C, 0.0f, (uint64_t)o->seed);
    AdamWConfig adam = {0.9f, 0.999f, o->adam_eps, 0.0f};  /* no decay: the KL penalty is the regulariser */
    Rng rng;
    rng_seed(&rng, (uint64_t)o->seed * 7919 + 1);  /* the same prompts and draws for every run */
    Rollouts ro;
    rollouts_alloc(&ro, o->rollouts, o->max_response, policy.config.maxT);
    TokenBatch tb = {0};
    int ptx_T = PTX_T < policy.config.maxT ? PTX_T : policy.config.maxT;
    Ptx ptx = {.coef = o->ptx_coef, .B = o->ptx_batch, .T = ptx_T, .data = w->ptx_tokens, .n = w->ptx_n};
    if (ptx.coef > 0.0f) {
        ptx.inputs = malloc_or_die(sizeof(int) * (size_t)ptx.B * ptx.T, "ptx inputs");
        ptx.targets = malloc_or_die(sizeof(int) * (size_t)ptx.B * ptx.T, "ptx targets");
        rng_seed(&ptx.rng, (uint64_t)o->seed * 7919 + 2);
    }
    int P = w->train.n, M = o->rollouts / o->minibatches;
    int *perm = malloc_or_die(sizeof(int) * (size_t)ro.n, "rollout order");
    char **after = calloc_or_die((size_t)P, sizeof(char *), "greedy answers after");
    int *after_ended = calloc_or_die((size_t)P, sizeof(int), "greedy ends after");
    Greedy g_train = {0}, g_held = {0}, g_first = start->greedy, g_first_held = start->greedy_held;
    Sampled s_first = start->sampled, s_first_held = start->sampled_held;
    GPTSampler sampler;  /* the rollouts' key/value cache and weight copies, kept across iterations */
    gpt_sampler_init(&sampler, &policy);
    double ema_rm = 0.0, ema_rule = 0.0, ema_kl = 0.0;
    double t0 = now_seconds();

    printf("[%s] beta %g: %d iterations of %d rollouts (%d prompts), %d epochs x %d minibatches, lr %g%s\n",
           name, (double)beta, o->iters, o->rollouts, P, o->epochs, o->minibatches, (double)o->lr,
           o->kl_target > 0.0f ? ", adaptive beta" : "");
    for (int iter = 0; iter <= o->iters; iter++) {
        int last = iter == o->iters;
        int evaluated = iter % o->eval_every == 0 || last;
        if (evaluated && iter == 0) {  /* the starting policy, judged once for all runs */
            g_train = g_first;
            g_held = g_first_held;
        } else if (evaluated) {
            g_train = greedy_eval(&policy, &w->tok, &w->train, o->max_response, last ? after : NULL, after_ended);
            g_held = greedy_eval(&policy, &w->tok, &w->heldout, o->max_response, NULL, NULL);
        }
        /* 1. rollout: the prompts in turn, continuing where the last iteration
         * stopped (every prompt rollouts/P times when P divides rollouts) */
        for (int b = 0; b < ro.n; b++) ro.prompt[b] = (int)(((long)iter * ro.n + b) % P);
        gpt_sampler_refresh(&sampler);  /* the policy's weights after the last iteration's updates */
        rollout(&sampler, &w->tok, &w->train, &ro, o->temperature, &rng);
        /* 2. score */
        score_rollouts(&w->rm, &w->train, &ro, o->penalty, w->eot);
        /* 3. evaluate: log pi_old, log pi_ref, V_old */
        float entropy = evaluate_rollouts(&policy, &vhead, &w->reference, &ro, M, o->temperature, &tb, w->eot);
        /* 4. rewards and advantages */
        compute_advantages(&ro, beta, o->gamma, o->lambda);
        RolloutStats st = rollout_stats(&ro, &w->train);
        check_finite("the KL to the reference", (float)st.k1, name, iter);
        float a = iter == 0 ? 0.0f : EMA_DECAY;
        ema_rm = a * ema_rm + (1 - a) * st.rm;
        ema_rule = a * ema_rule + (1 - a) * st.rule;
        ema_kl = a * ema_kl + (1 - a) * st.k1;

        /* 5. update: epochs x minibatches of the clipped PPO loss; during the
         * value warm-up only the value head learns */
        LossStats sum = {0};
        int steps = 0;
        for (int epoch = 0; epoch < o->epochs && !last; epoch++) {
            for (int b = 0; b < ro.n; b++) perm[b] = b;
            rng_shuffle(&rng, perm, ro.n);
            for (int i0 = 0; i0 + M <= ro.n; i0 += M) {
                layout_batch(&tb, &ro, perm + i0, M, w->eot);
                LossStats l = ppo_minibatch(&policy, &vhead, &tb, o, &adam, iter >= o->value_warmup, &ptx);
                check_finite("the PPO loss", l.loss, name, iter + 1);
                check_finite("the PPO-ptx loss", l.ptx_loss, name, iter + 1);
                sum.pg_loss += l.pg_loss; sum.vf_loss += l.vf_loss; sum.ptx_loss += l.ptx_loss;
                sum.clipfrac += l.clipfrac; sum.approx_kl += l.approx_kl;
                steps++;
            }
        }

        double secs = now_seconds() - t0;
        fprintf(log, "%s\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.3f\t%.3f\t%.3f\t", name, iter, (double)beta,
                st.rm, st.rule, st.k1, st.k3, (double)entropy, st.len, st.ended, st.where_colour);
        if (steps) {
            fprintf(log, "%.5f\t%.5f\t%.4f\t%.6f\t", (double)sum.pg_loss / steps, (double)sum.vf_loss / steps,
                    (double)sum.clipfrac / steps, (double)sum.approx_kl / steps);
        } else {
            fputs("-\t-\t-\t-\t", log);
        }
        if (evaluated) fprintf(log, "%.4f\t%.4f\t", (double)g_train.score, (double)g_held.score);
        else fputs("-\t-\t", log);
        fprintf(log, "%.4f\t%.4f\t%.4f\t%.1f\n", ema_rm, ema_rule, ema_kl, secs);
        fflush(log);
        printf("[%s] iter %3d/%d | RM %+.3f | rule %+.3f | KL k1 %.3f k3 %.3f | H %.3f | len %.1f | "
               "clip %.3f | vf %.4f | beta %.3f",
               name, iter, o->iters, st.rm, st.rule, st.k1, st.k3, (double)entropy, st.len,
               steps ? (double)sum.clipfrac / steps : 0.0, steps ? (double)sum.vf_loss / steps : 0.0, (double)beta);
        if (ptx.coef > 0.0f && steps && iter >= o->value_warmup) {
            printf(" | ptx LM %.3f", (double)sum.ptx_loss / steps);
        }
        if (evaluated) printf(" | greedy ppo %+.3f heldout %+.3f", (double)g_train.score, (double)g_held.score);
        printf(" | %.0f s\n", secs);
        if (o->kl_target > 0.0f && !last) beta = adapt_beta(beta, (float)st.k1, o->kl_target, ro.n, o->kl_horizon);
    }

    Sampled s_last = sampled_eval(&policy, w, &w->train, o->eval_samples, o);
    Sampled s_last_held = sampled_eval(&policy, w, &w->heldout, o->eval_samples, o);
    printf("summary ppo %s: reward model %+.3f -> %+.3f, hidden rule %+.3f -> %+.3f (sampled, ppo prompts); "
           "KL to SFT %.3f; where-questions answered with a colour %d/%d -> %d/%d\n", name, (double)s_first.rm,
           (double)s_last.rm, (double)s_first.rule, (double)s_last.rule, ema_kl, s_first.hacked,
           s_first.places, s_last.hacked, s_last.places);
    printf("[%s] results, SFT -> PPO after %d iterations (%.0f s):\n"
           "[%s]   %d sampled answers per prompt (temperature %g, one seed): reward model %+.3f -> %+.3f, "
           "hidden rule %+.3f -> %+.3f (held-out prompts %+.3f -> %+.3f)\n"
           "[%s]   greedy answers, hidden rule: ppo prompts %+.3f -> %+.3f, held-out prompts %+.3f -> %+.3f\n"
           "[%s]   KL to SFT per response (EMA): %.3f; place questions answered with a colour: sampled %d/%d -> %d/%d, "
           "greedy %d/%d -> %d/%d\n",
           name, o->iters, now_seconds() - t0, name, o->eval_samples, (double)o->temperature, (double)s_first.rm,
           (double)s_last.rm, (double)s_first.rule, (double)s_last.rule, (double)s_first_held.rule,
           (double)s_last_held.rule, name, (double)g_first.score, (double)g_train.score, (double)g_first_held.score,
           (double)g_held.score, name, ema_kl, s_first.hacked, s_first.places, s_last.hacked, s_last.places,
           g_first.hacked, g_first.places, g_train.hacked, g_train.places);
    if (w->val_tokens) {
        printf("[%s]   language model on held-out pretraining text (%s): loss %.3f -> %.3f nats/token\n", name,
               o->lm_val, (double)start->lm, (double)lm_loss(&policy, w));
    }
    print_answers(name, &w->train, o->show, start->answers, start->answers_ended, after, after_ended);
    gpt_save(&policy, out);
    char *hpath = head_path_for(out);
    head_save(&vhead, hpath);
    printf("[%s] saved the policy %s and its value head %s\n", name, out, hpath);
    free(hpath);

    for (int i = 0; i < P; i++) free(after[i]);
    free(after);
    free(after_ended);
    free(perm);
    token_batch_free(&tb);
    free(ptx.inputs);
    free(ptx.targets);
    rollouts_free(&ro);
    gpt_sampler_free(&sampler);
    head_free(&vhead);
    gpt_free(&policy);
}

/* ---- main ---- */

static void usage(void) {
    Options d = defaults();
    printf("usage: ppo [flags]   InstructGPT step 3: PPO against the reward model, with a per-token KL\n"
           "                     penalty to the SFT model; then the same with beta = 0 (reward hacking)\n"
           "flags (default):\n"
           "  --model PATH         the SFT checkpoint: the policy's start (%s)\n"
           "  --reference PATH     the frozen reference for the KL penalty (the --model file)\n"
           "  --reward PATH        the reward model, with its .head beside it (%s)\n"
           "  --tokenizer PATH     tokenizer merges (%s)\n"
           "  --prompts PATH       set<TAB>prompt; trains on set ppo, measures heldout too (%s)\n"
           "  --out PATH           the trained policy; its value head goes beside it as .head (%s)\n"
           "  --log PATH           TSV log, one row per iteration and run (%s)\n"
           "  --run-name NAME      the main run's label in the log (beta<value of --beta>)\n"
           "  --iters N            PPO iterations per run (%d)\n"
           "  --value-warmup N     first N iterations train only the value head (%d)\n"
           "  --rollouts N         responses sampled per iteration (%d)\n"
           "  --max-response N     tokens a response may take (%d)\n"
           "  --temperature X      sampling temperature of the rollouts (%g)\n"
           "  --epochs N           passes over each iteration's rollouts (%d)\n"
           "  --minibatches N      minibatches per epoch (%d)\n"
           "  --lr X               the policy's learning rate, constant (%g)\n"
           "  --value-lr X         learning rate of the value head (%g)\n"
           "  --adam-eps X         AdamW's epsilon (%g)\n"
           "  --clip-eps X         PPO's clip range epsilon (%g)\n"
           "  --vf-clip X          the value loss's clip range (%g)\n"
           "  --vf-coef X          weight of the value loss (%g)\n"
           "  --gamma X            discount (%g)\n"
           "  --lambda X           GAE lambda (%g)\n"
           "  --beta X             KL penalty coefficient (%g)\n"
           "  --kl-target X        > 0: adapt beta towards this KL per response, 0 = fixed beta (%g)\n"
           "  --kl-horizon N       the adaptive controller's horizon, in rollouts (%d)\n"
           "  --penalty X          score of a response with no end-of-text (%g)\n"
           "  --ptx-coef X         PPO-ptx: weight gamma of the pretraining LM loss, 0 = off (%g)\n"
           "  --ptx-data PATH      PPO-ptx: the pretraining tokens (%s)\n"
           "  --ptx-batch N        PPO-ptx: windows of %d tokens per policy step (%d)\n"
           "  --lm-val PATH        held-out pretraining tokens: the LM loss before/after, \"\" = skip (%s)\n"
           "  --grad-clip X        gradient-norm clip (%g)\n"
           "  --eval-every N       greedy answers judged every N iterations (%d)\n"
           "  --eval-samples N     sampled answers per prompt judged before and after (%d)\n"
           "  --show N             greedy answers printed before/after (%d)\n"
           "  --hack-out PATH      where the beta = 0 run's policy goes (%s)\n"
           "  --no-hack-run        skip the beta = 0 run\n"
           "  --seed N             random seed (%d)\n"
           "  --threads N          OpenMP threads, 0 = all cores (0)\n"
           "  --fast               tiny settings for tests (seconds)\n"
           "  --help               this text\n",
           d.model, d.reward, d.tokenizer, d.prompts, d.out, d.log, d.iters, d.value_warmup, d.rollouts,
           d.max_response, (double)d.temperature, d.epochs, d.minibatches, (double)d.lr, (double)d.value_lr,
           (double)d.adam_eps, (double)d.clip_eps, (double)d.vf_clip, (double)d.vf_coef, (double)d.gamma,
           (double)d.lambda, (double)d.beta, (double)d.kl_target, d.kl_horizon, (double)d.penalty,
           (double)d.ptx_coef, d.ptx_data, PTX_T, d.ptx_batch, d.lm_val,
           (double)d.grad_clip, d.eval_every, d.eval_samples, d.show, d.hack_out, d.seed);
}

enum {
    OPT_MODEL = 256, OPT_REFERENCE, OPT_REWARD, OPT_TOKENIZER, OPT_PROMPTS, OPT_OUT, OPT_LOG, OPT_RUNNAME,
    OPT_ITERS, OPT_VWARMUP, OPT_ROLLOUTS, OPT_MAXRESP, OPT_TEMP, OPT_EPOCHS, OPT_MINIBATCHES, OPT_LR,
    OPT_VALUELR, OPT_ADAMEPS, OPT_CLIPEPS, OPT_VFCLIP, OPT_VFCOEF, OPT_GAMMA, OPT_LAMBDA, OPT_BETA,
    OPT_KLTARGET, OPT_KLHORIZON, OPT_PENALTY, OPT_GRADCLIP, OPT_EVAL, OPT_EVALSAMPLES, OPT_SHOW, OPT_HACKOUT,
    OPT_NOHACK, OPT_SEED, OPT_THREADS, OPT_FAST, OPT_HELP, OPT_PTXCOEF, OPT_PTXDATA, OPT_PTXBATCH, OPT_LMVAL
};

/* Parses argv into o; --fast is applied first so that explicit flags win. */
static void parse_flags(Options *o, int argc, char **argv) {
    static const struct option longopts[] = {
        {"model", 1, 0, OPT_MODEL}, {"reference", 1, 0, OPT_REFERENCE}, {"reward", 1, 0, OPT_REWARD},
        {"tokenizer", 1, 0, OPT_TOKENIZER}, {"prompts", 1, 0, OPT_PROMPTS}, {"out", 1, 0, OPT_OUT},
        {"log", 1, 0, OPT_LOG}, {"run-name", 1, 0, OPT_RUNNAME}, {"iters", 1, 0, OPT_ITERS},
        {"value-warmup", 1, 0, OPT_VWARMUP}, {"rollouts", 1, 0, OPT_ROLLOUTS}, {"max-response", 1, 0, OPT_MAXRESP},
        {"temperature", 1, 0, OPT_TEMP}, {"epochs", 1, 0, OPT_EPOCHS}, {"minibatches", 1, 0, OPT_MINIBATCHES},
        {"lr", 1, 0, OPT_LR}, {"value-lr", 1, 0, OPT_VALUELR}, {"adam-eps", 1, 0, OPT_ADAMEPS},
        {"clip-eps", 1, 0, OPT_CLIPEPS}, {"vf-clip", 1, 0, OPT_VFCLIP}, {"vf-coef", 1, 0, OPT_VFCOEF},
        {"gamma", 1, 0, OPT_GAMMA}, {"lambda", 1, 0, OPT_LAMBDA}, {"beta", 1, 0, OPT_BETA},
        {"kl-target", 1, 0, OPT_KLTARGET}, {"kl-horizon", 1, 0, OPT_KLHORIZON}, {"penalty", 1, 0, OPT_PENALTY},
        {"grad-clip", 1, 0, OPT_GRADCLIP}, {"eval-every", 1, 0, OPT_EVAL}, {"eval-samples", 1, 0, OPT_EVALSAMPLES},
        {"show", 1, 0, OPT_SHOW}, {"hack-out", 1, 0, OPT_HACKOUT}, {"no-hack-run", 0, 0, OPT_NOHACK},
        {"seed", 1, 0, OPT_SEED}, {"threads", 1, 0, OPT_THREADS}, {"fast", 0, 0, OPT_FAST},
        {"ptx-coef", 1, 0, OPT_PTXCOEF}, {"ptx-data", 1, 0, OPT_PTXDATA}, {"ptx-batch", 1, 0, OPT_PTXBATCH},
        {"lm-val", 1, 0, OPT_LMVAL},
        {"help", 0, 0, OPT_HELP}, {0, 0, 0, 0}};
    for (int i = 1; i < argc; i++) if (strcmp(argv[i], "--fast") == 0) apply_fast(o);
    int opt;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        const char *a = optarg;
        switch (opt) {
        case OPT_MODEL: o->model = a; break;
        case OPT_REFERENCE: o->reference = a; break;
        case OPT_REWARD: o->reward = a; break;
        case OPT_TOKENIZER: o->tokenizer = a; break;
        case OPT_PROMPTS: o->prompts = a; break;
        case OPT_OUT: o->out = a; break;
        case OPT_LOG: o->log = a; break;
        case OPT_RUNNAME: o->run_name = a; break;
        case OPT_ITERS: o->iters = (int)parse_long_flag("iters", a, 1, 1000000); break;
        case OPT_VWARMUP: o->value_warmup = (int)parse_long_flag("value-warmup", a, 0, 1000000); break;
        case OPT_ROLLOUTS: o->rollouts = (int)parse_long_flag("rollouts", a, 1, 65536); break;
        case OPT_MAXRESP: o->max_response = (int)parse_long_flag("max-response", a, 1, 4096); break;
        case OPT_TEMP: o->temperature = parse_float_flag("temperature", a, 0.05f, 10.0f); break;
        case OPT_EPOCHS: o->epochs = (int)parse_long_flag("epochs", a, 1, 1000); break;
        case OPT_MINIBATCHES: o->minibatches = (int)parse_long_flag("minibatches", a, 1, 65536); break;
        case OPT_LR: o->lr = parse_float_flag("lr", a, 0.0f, 1.0f); break;
        case OPT_VALUELR: o->value_lr = parse_float_flag("value-lr", a, 0.0f, 1.0f); break;
        case OPT_ADAMEPS: o->adam_eps = parse_float_flag("adam-eps", a, 0.0f, 1.0f); break;
        case OPT_CLIPEPS: o->clip_eps = parse_float_flag("clip-eps", a, 0.0f, 10.0f); break;
        case OPT_VFCLIP: o->vf_clip = parse_float_flag("vf-clip", a, 0.0f, 1e6f); break;
        case OPT_VFCOEF: o->vf_coef = parse_float_flag("vf-coef", a, 0.0f, 100.0f); break;
        case OPT_GAMMA: o->gamma = parse_float_flag("gamma", a, 0.0f, 1.0f); break;
        case OPT_LAMBDA: o->lambda = parse_float_flag("lambda", a, 0.0f, 1.0f); break;
        case OPT_BETA: o->beta = parse_float_flag("beta", a, 0.0f, 100.0f); break;
        case OPT_KLTARGET: o->kl_target = parse_float_flag("kl-target", a, 0.0f, 1000.0f); break;
        case OPT_KLHORIZON: o->kl_horizon = (int)parse_long_flag("kl-horizon", a, 1, 100000000); break;
        case OPT_PENALTY: o->penalty = parse_float_flag("penalty", a, -100.0f, 100.0f); break;
        case OPT_PTXCOEF: o->ptx_coef = parse_float_flag("ptx-coef", a, 0.0f, 1000.0f); break;
        case OPT_PTXDATA: o->ptx_data = a; break;
        case OPT_LMVAL: o->lm_val = a; break;
        case OPT_PTXBATCH: o->ptx_batch = (int)parse_long_flag("ptx-batch", a, 1, 256); break;
        case OPT_GRADCLIP: o->grad_clip = parse_float_flag("grad-clip", a, 0.0f, 1e6f); break;
        case OPT_EVAL: o->eval_every = (int)parse_long_flag("eval-every", a, 1, 1000000); break;
        case OPT_EVALSAMPLES: o->eval_samples = (int)parse_long_flag("eval-samples", a, 0, 100000); break;
        case OPT_SHOW: o->show = (int)parse_long_flag("show", a, 0, 1000); break;
        case OPT_HACKOUT: o->hack_out = a; break;
        case OPT_NOHACK: o->hack_run = 0; break;
        case OPT_SEED: o->seed = (int)parse_long_flag("seed", a, 0, 2147483647); break;
        case OPT_THREADS: o->threads = (int)parse_long_flag("threads", a, 0, 1024); break;
        case OPT_FAST: break;  /* applied above */
        case OPT_HELP: usage(); exit(0);
        case ':': die("%s needs a value (see ppo --help)", argv[optind - 1]);
        default: die("unknown flag %s (see ppo --help)", argv[optind - 1]);
        }
    }
    if (optind < argc) die("unexpected argument '%s' (see ppo --help)", argv[optind]);
    if (o->rollouts % o->minibatches != 0) {
        die("--rollouts %d is not a multiple of --minibatches %d", o->rollouts, o->minibatches);
    }
}

/* Loads everything the runs share: tokenizer, reference, reward model, prompts. */
static void load_world(World *w, const Options *o) {
    memset(w, 0, sizeof *w);
    tokenizer_load(&w->tok, o->tokenizer);
    const char *ref = o->reference ? o->reference : o->model;
    gpt_load(&w->reference, ref);
    gpt_check_tokenizer(&w->reference, ref, &w->tok, o->tokenizer);
    reward_model_load(&w->rm, o->reward);
    gpt_check_tokenizer(&w->rm.gpt, o->reward, &w->tok, o->tokenizer);
    w->train = load_prompts(&w->tok, o->prompts, "ppo", o->max_response, w->reference.config.maxT);
    w->heldout = load_prompts(&w->tok, o->prompts, "heldout", o->max_response, w->reference.config.maxT);
    if (w->train.n == 0) die("%s has no prompts of set ppo to train on", o->prompts);
    w->eot = tokenizer_special_id(&w->tok, TOK_EOT);
    if (o->lm_val[0]) {
        w->val_tokens = tokens_load(o->lm_val, &w->val_n, w->tok.vocab_size);
        size_t need = (size_t)LM_VAL_B * w->reference.config.maxT + 1;
        if (w->val_n < need) die("%s: %zu tokens, fewer than one batch of %zu", o->lm_val, w->val_n, need);
    }
    if (o->ptx_coef > 0.0f) {
        w->ptx_tokens = tokens_load(o->ptx_data, &w->ptx_n, w->tok.vocab_size);
        if (w->ptx_n <= PTX_T) die("%s: %zu tokens, fewer than one window of %d + 1", o->ptx_data, w->ptx_n, PTX_T);
    }
}

static void free_world(World *w) {
    free(w->ptx_tokens);
    free(w->val_tokens);
    free_prompts(&w->train);
    free_prompts(&w->heldout);
    reward_model_free(&w->rm);
    gpt_free(&w->reference);
    tokenizer_free(&w->tok);
}

#ifndef TESTING
int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);  /* progress lines appear as they happen, even in a pipe */
    Options o = defaults();
    parse_flags(&o, argc, argv);
    require_folder_of(o.out);  /* before anything is written, the log included */
    require_folder_of(o.log);
    if (o.hack_run && o.beta != 0.0f) require_folder_of(o.hack_out);  /* the condition of the run below */
    set_threads(o.threads);
    World w;
    load_world(&w, &o);
    printf("ppo: policy and reference %s, reward model %s, %d ppo prompts, %d held-out prompts\n", o.model,
           o.reward, w.train.n, w.heldout.n);
    FILE *log = fopen_or_die(o.log, "w");
    write_log_header(log);
    char name[64];
    if (o.run_name) snprintf(name, sizeof name, "%s", o.run_name);
    else snprintf(name, sizeof name, "beta%g", (double)o.beta);
    double t0 = now_seconds();
    StartEval start = start_eval(&w, &o);
    printf("ppo: the starting policy judged once for both runs in %.0f s (greedy, and %d sampled answers per "
           "prompt)\n", now_seconds() - t0, o.eval_samples);
    t0 = now_seconds();
    ppo_run(&w, &start, &o, name, o.beta, o.out, log);
    printf("ppo: the %s run took %.0f s\n", name, now_seconds() - t0);
    if (o.hack_run && o.beta != 0.0f) {
        /* the same loop without the KL penalty: reward hacking */
        Options h = o;
        h.kl_target = 0.0f;
        t0 = now_seconds();
        ppo_run(&w, &start, &h, "beta0", 0.0f, o.hack_out, log);
        printf("ppo: the beta0 run took %.0f s\n", now_seconds() - t0);
    }
    fclose(log);
    start_eval_free(&start);
    free_world(&w);
    return 0;
}
#endif
