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
 *                 temperature tau, all N as one batch (rollout, policy_eval.c)
 *   2. score      the reward model's score of prompt + response; a response
 *                 that never reached end-of-text gets a fixed penalty
 *                 instead (score_rollouts, policy_eval.c)
 *   3. evaluate   log pi_old, log pi_ref and V_old at every response token,
 *                 one forward of each model over the whole sequences
 *                 (evaluate_rollouts, policy_eval.c)
 *   4. rewards    r_t = -beta (log pi_old(a_t) - log pi_ref(a_t)), plus the
 *                 score on the last real token (token_rewards); advantages
 *                 by GAE, returns = advantages + values, advantages whitened
 *                 (gae, compute_advantages)
 *   5. update     several epochs of minibatches of PPO's clipped surrogate
 *                 plus a clipped value loss, the gradients written out by
 *                 hand into the logits and the value head (ppo_loss,
 *                 ppo_minibatch, ppo_update), then through gpt_backward
 *
 * A second run with beta = 0 (no KL penalty) shows reward hacking: the
 * reward model's score climbs while the hidden rule's falls (Gao et al.
 * 2022's proxy vs gold reward). Both runs log to one TSV, each row labelled.
 * The policy is judged before and after (greedy and sampled answers, the
 * hidden rule) by policy_eval.c, which rung 6b (dpo.c) judges with too.
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
#include "cli.h"
#include "policy_eval.h"  /* gpt.h, head.h, instruct.h, tokenizer.h */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- options ---- */

typedef struct {  /* each field is a flag: parse_flags says what it means */
    const char *tokenizer, *model, *reference, *reward, *prompts, *out, *hack_out, *log, *run_name;
    const char *ptx_data, *lm_val;
    int iters, rollouts, max_response, epochs, minibatches, value_warmup, eval_every, eval_samples, show;
    int seed, threads, hack_run, kl_horizon, ptx_batch;
    float temperature, lr, value_lr, adam_eps, grad_clip, clip_eps, vf_clip, vf_coef, gamma, lambda;
    float beta, kl_target, penalty, ptx_coef;
} Options;

/* Defaults, measured at our scale (notes/07-ppo.md): 64 rollouts, responses
 * of at most 16 tokens, temperature 1, 4 epochs x 4 minibatches, lr 5e-5,
 * clip 0.2, value coefficient 0.5, gamma 1, lambda 0.95, beta 0.3, and 60
 * iterations (the beta = 0.3 run has made its gain by then: 120 end at the
 * same hidden-rule score): about 25 s per run on two cores. Ours on top, each
 * explained in the note: Adam's epsilon 1e-5 (OpenAI's PPO, baselines'
 * ppo2; PyTorch's default is 1e-8), a value head with its own learning rate
 * and five iterations of warm-up, and a penalty of -5 (about the reward
 * model's score of a wrong answer) for a response that never ends. */
static Options defaults(void) {
    Options o = {0};
    o.tokenizer = "out/tokenizer.merges";
    o.model = "out/sft.bin";
    o.reward = "out/reward.bin";
    o.prompts = "data/ppo_prompts.tsv";
    o.out = TRY_DIR "/ppo.bin";
    o.hack_out = TRY_DIR "/ppo_beta0.bin";
    o.log = TRY_DIR "/ppo.tsv";
    o.iters = 60; o.rollouts = 64; o.max_response = 16; o.epochs = 4; o.minibatches = 4;
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

/* The flags, as data (cli.h); the last field is the --fast preset (the
 * end-to-end test's: same code paths, seconds). The flag table refuses an
 * output that is also an input (--out = --model, --hack-out = --model,
 * --out = --reward, ...): the beta = 0 run reads --model again after the
 * first run has written --out. */
static void parse_flags(Options *o, int argc, char **argv) {
    const Flag flags[] = {
        FLAG_MODEL(&o->model, "the SFT checkpoint: the policy's start"),
        FLAG_IN("reference", &o->reference, "the frozen reference for the KL penalty; none: the --model file"),
        FLAG_IN("reward", &o->reward, "the reward model, with its .head beside it"),
        FLAG_TOKENIZER(&o->tokenizer),
        FLAG_IN("prompts", &o->prompts, "set<TAB>prompt; trains on set ppo, measures heldout too"),
        FLAG_OUT("out", &o->out, "the trained policy; its value head goes beside it as .head"),
        FLAG_OUT("hack-out", &o->hack_out, "where the beta = 0 run's policy goes"),
        FLAG_LOG(&o->log),
        FLAG_TEXT("run-name", &o->run_name, "NAME", "the main run's label in the log; none: beta<value of --beta>"),
        FLAG_INT("iters", &o->iters, 1, 1000000, "PPO iterations per run", "3"),
        FLAG_INT("value-warmup", &o->value_warmup, 0, 1000000, "first N iterations train only the value head", "1"),
        FLAG_INT("rollouts", &o->rollouts, 1, 65536, "responses sampled per iteration", "8"),
        FLAG_INT("max-response", &o->max_response, 1, 4096, "tokens a response may take", "8"),
        FLAG_FLOAT("temperature", &o->temperature, 0.05, 10, "sampling temperature of the rollouts", NULL),
        FLAG_INT("epochs", &o->epochs, 1, 1000, "passes over each iteration's rollouts", "2"),
        FLAG_INT("minibatches", &o->minibatches, 1, 65536, "minibatches per epoch", "2"),
        FLAG_FLOAT("lr", &o->lr, 0, 1, "the policy's learning rate, constant", NULL),
        FLAG_FLOAT("value-lr", &o->value_lr, 0, 1, "learning rate of the value head", NULL),
        FLAG_FLOAT("adam-eps", &o->adam_eps, 0, 1, "AdamW's epsilon", NULL),
        FLAG_FLOAT("clip-eps", &o->clip_eps, 0, 10, "PPO's clip range epsilon", NULL),
        FLAG_FLOAT("vf-clip", &o->vf_clip, 0, 1e6, "the value loss's clip range", NULL),
        FLAG_FLOAT("vf-coef", &o->vf_coef, 0, 100, "weight of the value loss", NULL),
        FLAG_FLOAT("gamma", &o->gamma, 0, 1, "discount", NULL),
        FLAG_FLOAT("lambda", &o->lambda, 0, 1, "GAE lambda", NULL),
        FLAG_FLOAT("beta", &o->beta, 0, 100, "KL penalty coefficient", NULL),
        FLAG_FLOAT("kl-target", &o->kl_target, 0, 1000, "> 0: adapt beta towards this KL per response; 0: fixed", NULL),
        FLAG_INT("kl-horizon", &o->kl_horizon, 1, 100000000, "the adaptive controller's horizon, in rollouts", NULL),
        FLAG_FLOAT("penalty", &o->penalty, -100, 100, "score of a response with no end-of-text", NULL),
        FLAG_FLOAT("ptx-coef", &o->ptx_coef, 0, 1e3, "PPO-ptx: weight gamma of the pretraining LM loss; 0: off", NULL),
        FLAG_IN("ptx-data", &o->ptx_data, "PPO-ptx: the pretraining tokens"),
        FLAG_INT("ptx-batch", &o->ptx_batch, 1, 256, "PPO-ptx: pretraining windows per policy step", NULL),
        FLAG_IN("lm-val", &o->lm_val, "held-out pretraining tokens: the LM loss before/after; \"\" = skip"),
        FLAG_FLOAT("grad-clip", &o->grad_clip, 0, 1e6, "gradient-norm clip", NULL),
        FLAG_INT("eval-every", &o->eval_every, 1, 1000000, "greedy answers judged every N iterations", "2"),
        FLAG_INT("eval-samples", &o->eval_samples, 0, 100000, "sampled answers per prompt judged before/after", "2"),
        FLAG_INT("show", &o->show, 0, 1000, "greedy answers printed before/after", "2"),
        FLAG_OFF("no-hack-run", &o->hack_run, "skip the beta = 0 run"),
        FLAG_END};
    Cli cli = {.program = "ppo", .flags = flags, .seed = &o->seed, .threads = &o->threads,
               .purpose = "InstructGPT step 3: PPO against the reward model, with a per-token KL\n"
                          "                    penalty to the SFT model; then the same with beta = 0 (reward hacking)"};
    cli_parse(&cli, argc, argv);
    if (o->rollouts % o->minibatches != 0) {
        die("--rollouts %d is not a multiple of --minibatches %d", o->rollouts, o->minibatches);
    }
}

/* ---- the formulas, one token at a time (KL's estimates: policy_eval.h) ---- */

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

/* ---- the PPO loss of a minibatch, with its gradient written out ---- */

typedef struct {
    float loss, pg_loss, vf_loss;  /* means over the batch's tokens */
    float clipfrac;                /* fraction of tokens where the surrogate was clipped */
    float approx_kl;               /* mean 1/2 (log pi - log pi_old)^2: how far the policy has moved */
    float ptx_loss;                /* PPO-ptx: the LM loss on the pretraining windows (0 when off) */
    int steps;                     /* ppo_update: the minibatches summed into the above */
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

/* ---- 5. update ---- */

/* What a run keeps across its iterations. */
typedef struct {
    GPT policy;
    LinearHead vhead;        /* the value model: a scalar head on the policy's own trunk */
    AdamWConfig adam;
    Rng rng;                 /* the rollouts' seeds (one Rng each) and the minibatch order */
    Rollouts ro;
    TokenBatch tb;
    Ptx ptx;
    GPTSampler sampler;      /* the rollouts' key/value cache and weight copies, kept across iterations */
    int *perm;               /* (N) the minibatch order */
    Greedy greedy, greedy_held;  /* the latest greedy evaluation */
    char **after; int *after_ended;  /* the final greedy answers to the ppo prompts */
    double ema_rm, ema_rule, ema_kl, t0;
} Run;

/* Epochs x minibatches of the clipped PPO loss over this iteration's
 * rollouts, each minibatch a new random draw of them; during the value
 * warm-up only the value head learns. Returns the minibatches' sums. */
static LossStats ppo_update(Run *r, const Options *o, int iter, int eot) {
    LossStats u = {0};
    int M = o->rollouts / o->minibatches;
    for (int epoch = 0; epoch < o->epochs; epoch++) {
        for (int b = 0; b < r->ro.n; b++) r->perm[b] = b;
        rng_shuffle(&r->rng, r->perm, r->ro.n);
        for (int i0 = 0; i0 + M <= r->ro.n; i0 += M) {
            layout_batch(&r->tb, &r->ro, r->perm + i0, M, eot);
            LossStats l = ppo_minibatch(&r->policy, &r->vhead, &r->tb, o, &r->adam, iter >= o->value_warmup, &r->ptx);
            die_if_not_finite("the PPO loss", l.loss, iter + 1);
            die_if_not_finite("the PPO-ptx loss", l.ptx_loss, iter + 1);
            u.pg_loss += l.pg_loss; u.vf_loss += l.vf_loss; u.ptx_loss += l.ptx_loss;
            u.clipfrac += l.clipfrac; u.approx_kl += l.approx_kl;
            u.steps++;
        }
    }
    return u;
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

/* ---- the models and the prompts ---- */

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
    Judge judge;          /* how policies are judged (policy_eval.h): points into the above */
} World;

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
    w->val_tokens = load_lm_val(o->lm_val, &w->val_n, &w->reference);
    if (o->ptx_coef > 0.0f) {
        w->ptx_tokens = tokens_load(o->ptx_data, &w->ptx_n, w->tok.vocab_size);
        if (w->ptx_n <= PTX_T) die("%s: %zu tokens, fewer than one window of %d + 1", o->ptx_data, w->ptx_n, PTX_T);
    }
    w->judge = (Judge){.tok = &w->tok, .train = &w->train, .heldout = &w->heldout, .rm = &w->rm,
                       .reference = NULL,  /* PPO's KL is its rollouts' */
                       .max_response = o->max_response, .samples = o->eval_samples, .temperature = o->temperature,
                       .penalty = o->penalty, .seed = o->seed, .val_tokens = w->val_tokens, .val_n = w->val_n};
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

/* The starting policy (--model) judged once: every run starts from it. */
static StartEval judge_start(World *w, const Options *o) {
    GPT policy;
    gpt_load(&policy, o->model);
    gpt_check_tokenizer(&policy, o->model, &w->tok, o->tokenizer);
    if (policy.config.C != w->reference.config.C || policy.config.L != w->reference.config.L ||
        policy.config.maxT != w->reference.config.maxT) {
        die("%s and the reference %s are different shapes: the reference must be the policy's starting point",
            o->model, o->reference ? o->reference : o->model);
    }
    StartEval s = start_eval(&policy, &w->judge);
    gpt_free(&policy);
    return s;
}

/* ---- logging and the report ---- */

#define EMA_DECAY 0.9f  /* smoothing of the noisy per-iteration means, for the plot */

static void write_log_header(AtomicFile *log) {
    fputs("run\titer\tbeta\trm_score\trule_score\tkl_k1\tkl_k3\tentropy\tresp_len\tended\twhere_colour\t"
          "pg_loss\tvf_loss\tclipfrac\tapprox_kl\tgreedy_ppo\tgreedy_heldout\trm_ema\trule_ema\tkl_ema\tseconds\n",
          log->f);
    log_flush(log);
}

/* One row of the log and one line of progress for iteration `iter`: its
 * rollouts (st), the update made from them (u), and, if `evaluated`, the
 * greedy answers. */
static void log_iteration(Run *r, const Options *o, AtomicFile *log, const char *name, int iter, float beta,
                          const RolloutStats *st, float entropy, const LossStats *sum, int evaluated) {
    float a = iter == 0 ? 0.0f : EMA_DECAY;
    r->ema_rm = a * r->ema_rm + (1 - a) * st->rm;
    r->ema_rule = a * r->ema_rule + (1 - a) * st->rule;
    r->ema_kl = a * r->ema_kl + (1 - a) * st->k1;
    double secs = now_seconds() - r->t0;
    int steps = sum->steps;
    fprintf(log->f, "%s\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.3f\t%.3f\t%.3f\t", name, iter, (double)beta,
            st->rm, st->rule, st->k1, st->k3, (double)entropy, st->len, st->ended,
            st->places ? (double)st->hacked / st->places : 0.0);
    if (steps) {
        fprintf(log->f, "%.5f\t%.5f\t%.4f\t%.6f\t", (double)sum->pg_loss / steps, (double)sum->vf_loss / steps,
                (double)sum->clipfrac / steps, (double)sum->approx_kl / steps);
    } else {
        fputs("-\t-\t-\t-\t", log->f);
    }
    if (evaluated) fprintf(log->f, "%.4f\t%.4f\t", (double)r->greedy.score, (double)r->greedy_held.score);
    else fputs("-\t-\t", log->f);
    fprintf(log->f, "%.4f\t%.4f\t%.4f\t%.1f\n", r->ema_rm, r->ema_rule, r->ema_kl, secs);
    log_flush(log);
    printf("[%s] iter %3d/%d | RM %+.3f | rule %+.3f | KL k1 %.3f k3 %.3f | H %.3f | len %.1f | "
           "clip %.3f | vf %.4f | beta %.3f",
           name, iter, o->iters, st->rm, st->rule, st->k1, st->k3, (double)entropy, st->len,
           steps ? (double)sum->clipfrac / steps : 0.0, steps ? (double)sum->vf_loss / steps : 0.0, (double)beta);
    if (r->ptx.coef > 0.0f && steps && iter >= o->value_warmup) {
        printf(" | ptx LM %.3f", (double)sum->ptx_loss / steps);
    }
    if (evaluated) printf(" | greedy ppo %+.3f heldout %+.3f", (double)r->greedy.score, (double)r->greedy_held.score);
    printf(" | %.0f s\n", secs);
}

/* The run's results, SFT -> PPO: many sampled answers judged by the reward
 * model and the hidden rule, the greedy answers, the KL, the reward hack
 * counted, and what it cost the language model. */
static void print_results(Run *r, World *w, const StartEval *start, const Options *o, const char *name) {
    const Sampled *s0 = &start->sampled;
    const Greedy *g0 = &start->greedy;
    Sampled s1 = sampled_eval(&r->policy, &w->judge, &w->train, o->eval_samples);
    Sampled s1_held = sampled_eval(&r->policy, &w->judge, &w->heldout, o->eval_samples);
    printf("summary ppo %s: reward model %+.3f -> %+.3f, hidden rule %+.3f -> %+.3f (sampled, ppo prompts); "
           "KL to SFT %.3f; where-questions answered with a colour %d/%d -> %d/%d\n", name, (double)s0->rm,
           (double)s1.rm, (double)s0->rule, (double)s1.rule, r->ema_kl, s0->hacked, s0->places, s1.hacked,
           s1.places);
    printf("[%s] results, SFT -> PPO after %d iterations (%.0f s):\n"
           "[%s]   %d sampled answers per prompt (temperature %g, one seed): reward model %+.3f -> %+.3f, "
           "hidden rule %+.3f -> %+.3f (held-out prompts %+.3f -> %+.3f)\n"
           "[%s]   greedy answers, hidden rule: ppo prompts %+.3f -> %+.3f, held-out prompts %+.3f -> %+.3f\n"
           "[%s]   KL to SFT per response (EMA): %.3f; place questions answered with a colour: sampled %d/%d -> %d/%d, "
           "greedy %d/%d -> %d/%d\n",
           name, o->iters, now_seconds() - r->t0, name, o->eval_samples, (double)o->temperature, (double)s0->rm,
           (double)s1.rm, (double)s0->rule, (double)s1.rule, (double)start->sampled_held.rule,
           (double)s1_held.rule, name, (double)g0->score, (double)r->greedy.score, (double)start->greedy_held.score,
           (double)r->greedy_held.score, name, r->ema_kl, s0->hacked, s0->places, s1.hacked, s1.places,
           g0->hacked, g0->places, r->greedy.hacked, r->greedy.places);
    if (w->val_tokens) {
        printf("[%s]   language model on held-out pretraining text (%s): loss %.3f -> %.3f nats/token\n", name,
               o->lm_val, (double)start->lm, (double)lm_loss(&r->policy, &w->judge));
    }
    print_answers(name, "PPO", &w->train, o->show, start->answers, start->answers_ended, r->after, r->after_ended);
}

/* ---- one PPO run ---- */

/* A fresh policy (a copy of --model), its zero-initialised value head
 * (V = 0 everywhere at first; notes/07-ppo.md says why), the optimiser,
 * the buffers. */
static void run_start(Run *r, const World *w, const Options *o) {
    memset(r, 0, sizeof *r);
    gpt_load(&r->policy, o->model);  /* checked against the tokenizer and the reference by judge_start */
    head_build(&r->vhead, 1, r->policy.config.C, 0.0f, (uint64_t)o->seed);
    r->adam = (AdamWConfig){0.9f, 0.999f, o->adam_eps, 0.0f};  /* no decay: the KL penalty is the regulariser */
    rng_seed(&r->rng, (uint64_t)o->seed * 7919 + 1);  /* the same prompts and draws for every run */
    rollouts_alloc(&r->ro, o->rollouts, o->max_response, r->policy.config.maxT);
    int ptx_T = PTX_T < r->policy.config.maxT ? PTX_T : r->policy.config.maxT;
    r->ptx = (Ptx){.coef = o->ptx_coef, .B = o->ptx_batch, .T = ptx_T, .data = w->ptx_tokens, .n = w->ptx_n};
    if (r->ptx.coef > 0.0f) {
        r->ptx.inputs = malloc_or_die(sizeof(int) * (size_t)r->ptx.B * r->ptx.T, "ptx inputs");
        r->ptx.targets = malloc_or_die(sizeof(int) * (size_t)r->ptx.B * r->ptx.T, "ptx targets");
        rng_seed(&r->ptx.rng, (uint64_t)o->seed * 7919 + 2);
    }
    r->perm = malloc_or_die(sizeof(int) * (size_t)r->ro.n, "rollout order");
    r->after = calloc_or_die((size_t)w->train.n, sizeof(char *), "greedy answers after");
    r->after_ended = calloc_or_die((size_t)w->train.n, sizeof(int), "greedy ends after");
    gpt_sampler_init(&r->sampler, &r->policy);
    r->t0 = now_seconds();
}

static void run_free(Run *r, int P) {
    for (int i = 0; i < P; i++) free(r->after[i]);
    free(r->after);
    free(r->after_ended);
    free(r->perm);
    token_batch_free(&r->tb);
    free(r->ptx.inputs);
    free(r->ptx.targets);
    rollouts_free(&r->ro);
    gpt_sampler_free(&r->sampler);
    head_free(&r->vhead);
    gpt_free(&r->policy);
}

/* The greedy answers of the policy after `iter` updates, judged; the
 * starting policy's were judged once for every run. The last evaluation
 * keeps the answers to the ppo prompts. */
static void judge_greedy(Run *r, World *w, const StartEval *start, const Options *o, int iter, int last) {
    if (iter == 0) {
        r->greedy = start->greedy;
        r->greedy_held = start->greedy_held;
        return;
    }
    r->greedy = greedy_eval(&r->policy, &w->tok, &w->train, o->max_response, last ? r->after : NULL, r->after_ended);
    r->greedy_held = greedy_eval(&r->policy, &w->tok, &w->heldout, o->max_response, NULL, NULL);
}

/* Trains a fresh policy (a copy of --model) with the given beta for
 * o->iters iterations, logging every row under `name`, and saves it to
 * `out`. Row i describes the policy after i updates: its rollouts, its KL,
 * and (every eval_every rows) its greedy answers; the update columns are
 * those of the update made from row i's rollouts (none on the last row). */
static void ppo_run(World *w, const StartEval *start, const Options *o, const char *name, float beta,
                    const char *out, AtomicFile *log) {
    Run r;
    run_start(&r, w, o);
    int P = w->train.n, M = o->rollouts / o->minibatches;
    printf("[%s] beta %g: %d iterations of %d rollouts (%d prompts), %d epochs x %d minibatches, lr %g%s\n",
           name, (double)beta, o->iters, o->rollouts, P, o->epochs, o->minibatches, (double)o->lr,
           o->kl_target > 0.0f ? ", adaptive beta" : "");
    for (int iter = 0; iter <= o->iters; iter++) {
        int last = iter == o->iters, evaluated = iter % o->eval_every == 0 || last;
        if (evaluated) judge_greedy(&r, w, start, o, iter, last);
        /* 1. rollout: the prompts in turn, continuing where the last iteration
         * stopped (every prompt rollouts/P times when P divides rollouts) */
        for (int b = 0; b < r.ro.n; b++) r.ro.prompt[b] = (int)(((long)iter * r.ro.n + b) % P);
        gpt_sampler_refresh(&r.sampler);  /* the policy's weights after the last iteration's updates */
        rollout(&r.sampler, &w->tok, &w->train, &r.ro, o->temperature, &r.rng);
        /* 2. score */
        score_rollouts(&w->rm, &w->train, &r.ro, o->penalty, w->eot);
        /* 3. evaluate: log pi_old, log pi_ref, V_old */
        float entropy = evaluate_rollouts(&r.policy, &r.vhead, &w->reference, &r.ro, M, o->temperature, &r.tb, w->eot);
        /* 4. rewards and advantages */
        compute_advantages(&r.ro, beta, o->gamma, o->lambda);
        RolloutStats st = rollout_stats(&r.ro, &w->train);
        die_if_not_finite("the KL to the reference", (float)st.k1, iter);
        /* 5. update (none after the last rollouts: they only measure the final policy) */
        LossStats u = last ? (LossStats){0} : ppo_update(&r, o, iter, w->eot);
        log_iteration(&r, o, log, name, iter, beta, &st, entropy, &u, evaluated);
        if (o->kl_target > 0.0f && !last) beta = adapt_beta(beta, (float)st.k1, o->kl_target, r.ro.n, o->kl_horizon);
    }
    print_results(&r, w, start, o, name);
    gpt_save(&r.policy, out);
    char *hpath = head_path_for(out);
    head_save(&r.vhead, hpath);
    printf("[%s] saved the policy %s and its value head %s\n", name, out, hpath);
    free(hpath);
    run_free(&r, P);
}

/* ---- main ---- */

#ifndef TESTING
int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);  /* progress lines appear as they happen, even in a pipe */
    Options o = defaults();
    parse_flags(&o, argc, argv);
    set_threads(o.threads);
    World w;
    load_world(&w, &o);
    printf("ppo: policy and reference %s, reward model %s, %d ppo prompts, %d held-out prompts\n", o.model,
           o.reward, w.train.n, w.heldout.n);
    AtomicFile log;
    log_open(&log, o.log, 0);
    write_log_header(&log);
    char name[64];
    if (o.run_name) snprintf(name, sizeof name, "%s", o.run_name);
    else snprintf(name, sizeof name, "beta%g", (double)o.beta);
    double t0 = now_seconds();
    StartEval start = judge_start(&w, &o);
    printf("ppo: the starting policy judged once for both runs in %.0f s (greedy, and %d sampled answers per "
           "prompt)\n", now_seconds() - t0, o.eval_samples);
    t0 = now_seconds();
    ppo_run(&w, &start, &o, name, o.beta, o.out, &log);
    printf("ppo: the %s run took %.0f s\n", name, now_seconds() - t0);
    if (o.hack_run && o.beta != 0.0f) {
        /* the same loop without the KL penalty: reward hacking */
        Options h = o;
        h.kl_target = 0.0f;
        t0 = now_seconds();
        ppo_run(&w, &start, &h, "beta0", 0.0f, o.hack_out, &log);
        printf("ppo: the beta0 run took %.0f s\n", now_seconds() - t0);
    }
    log_commit(&log);
    start_eval_free(&start);
    free_world(&w);
    return 0;
}
#endif
