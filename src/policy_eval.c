/* policy_eval.c — sampling answers to the PPO prompts, judging them, and
 * their KL to the SFT model: what ppo.c and dpo.c share. See policy_eval.h. */
#include "policy_eval.h"
#include "toyworld.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the prompts: set <tab> prompt ---- */

/* Reads the rows of data/ppo_prompts.tsv whose set is `set` ("ppo" or
 * "heldout"). Every context must leave room for max_response tokens. */
PromptSet load_prompts(Tokenizer *tok, const char *path, const char *set, int max_response, int maxT) {
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

void free_prompts(PromptSet *s) {
    for (int i = 0; i < s->n; i++) {
        free(s->text[i]);
        chat_free(&s->ctx[i]);
    }
    free(s->text);
    free(s->ctx);
}

/* ---- rollouts ---- */

void rollouts_alloc(Rollouts *ro, int n, int R, int S) {
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

void rollouts_free(Rollouts *ro) {
    for (int b = 0; b < ro->n; b++) free(ro->text[b]);
    free(ro->prompt); free(ro->seq); free(ro->ctx_len); free(ro->len); free(ro->ended);
    free(ro->text); free(ro->score); free(ro->rule);
    free(ro->logp); free(ro->ref_logp); free(ro->values); free(ro->rewards); free(ro->adv);
    free(ro->returns);
    memset(ro, 0, sizeof *ro);
}

/* ---- per-token formulas ---- */

float kl_k1(float logp, float ref_logp) { return logp - ref_logp; }

float kl_k3(float logp, float ref_logp) {
    float log_rho = ref_logp - logp;
    return expf(log_rho) - 1.0f - log_rho;
}

/* Entropy of softmax(logits[:V] / temperature), in nats. */
float row_entropy(const float *logits, int V, float temperature) {
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

/* Lays out rollouts idx[0..M) as one batch and gathers their per-token data. */
void layout_batch(TokenBatch *tb, const Rollouts *ro, const int *idx, int M, int eot) {
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

void token_batch_free(TokenBatch *tb) {
    free(tb->inputs); free(tb->row); free(tb->action); free(tb->src);
    free(tb->logp); free(tb->value); free(tb->old_logp); free(tb->old_value);
    free(tb->adv); free(tb->ret); free(tb->dlogp); free(tb->dvalue);
    memset(tb, 0, sizeof *tb);
}

/* One forward of `m` over the batch:
 *     tb->logp[k] = log softmax(logits[row[k]] / tau)[action[k]]
 * and, if vhead is not NULL, tb->value[k] = the value head at row[k]. If
 * entropy is not NULL, adds the entropy of each token's distribution to it. */
void forward_tokens(GPT *m, const LinearHead *vhead, TokenBatch *tb, float temperature, double *entropy) {
    int V = m->config.V, Vp = m->config.Vp;
    gpt_forward(m, tb->inputs, tb->M, tb->T);
    for (int k = 0; k < tb->K; k++) {
        const float *logits = m->acts.logits + (size_t)tb->row[k] * Vp;
        logprob_forward(&tb->logp[k], logits, &tb->action[k], temperature, 1, V, Vp);
        if (entropy) *entropy += row_entropy(logits, V, temperature);
    }
    if (vhead) head_forward(vhead, tb->value, m->acts.lnf, tb->row, tb->K);
}

/* ---- sample (PPO step 1) ---- */

/* Samples one response per rollout from the policy at the given temperature
 * (through the sampler's key/value cache, made from the policy's current
 * weights), at most R tokens, stopping after end-of-text. ro->prompt must be
 * set. Fills seq, ctx_len, len, ended, text.
 * All n rollouts are sampled together (gpt_sampler_run_batch): their prompts
 * go through the model as one pass, then each step sends one row per
 * unfinished rollout through each matmul. Rollout b draws from its own Rng,
 * seeded from `rng` in rollout order, so its tokens do not depend on which
 * other rollouts share the batch (or on the thread count). */
void rollout(GPTSampler *sampler, const Tokenizer *tok, const PromptSet *ps, Rollouts *ro, float temperature,
             Rng *rng) {
    int eot = tokenizer_special_id(tok, TOK_EOT), n = ro->n;
    const int **prompts = malloc_or_die(sizeof(int *) * (size_t)n, "rollout prompts");
    int **outs = malloc_or_die(sizeof(int *) * (size_t)n, "rollout outputs");
    Rng *rngs = malloc_or_die(sizeof(Rng) * (size_t)n, "rollout rngs");
    for (int b = 0; b < n; b++) {
        const Chat *ctx = &ps->ctx[ro->prompt[b]];
        int *seq = ro->seq + (size_t)b * ro->S;
        memcpy(seq, ctx->tokens, sizeof(int) * (size_t)ctx->len);
        ro->ctx_len[b] = ctx->len;
        prompts[b] = ctx->tokens;
        outs[b] = seq + ctx->len;
    }
    rng_split(rng, rngs, n);
    gpt_sampler_run_batch(sampler, n, prompts, ro->ctx_len, outs, ro->len, ro->R, eot, temperature, 0, rngs);
    for (int b = 0; b < n; b++) {
        free(ro->text[b]);
        ro->text[b] = chat_decode_response(tok, outs[b], ro->len[b], &ro->ended[b]);
    }
    free(prompts);
    free(outs);
    free(rngs);
}

/* ---- score (PPO step 2) ---- */

/* The reward model's score of each ended rollout (prompt + response, read at
 * its end-of-text, as the reward model was trained); a rollout that never
 * reached end-of-text gets `penalty` instead ("the N implementation details
 * of RLHF", Huang et al. 2024). Also the hidden rule's score, for the log.
 * rm NULL (a rung without a reward model): every score is NAN. */
void score_rollouts(RewardModel *rm, const PromptSet *ps, Rollouts *ro, float penalty, int eot) {
    Chat *chats = malloc_or_die(sizeof(Chat) * (size_t)ro->n, "rollout chats");
    const Chat **ptrs = malloc_or_die(sizeof(Chat *) * (size_t)ro->n, "rollout chat pointers");
    int *which = malloc_or_die(sizeof(int) * (size_t)ro->n, "ended rollouts");
    float *scores = malloc_or_die(sizeof(float) * (size_t)ro->n, "rollout scores");
    int ne = 0;
    for (int b = 0; b < ro->n; b++) {
        ro->rule[b] = score_response(ps->text[ro->prompt[b]], ro->text[b], ro->ended[b]);
        ro->score[b] = rm ? penalty : NAN;
        if (!rm || !ro->ended[b]) continue;
        /* a view of the rollout's tokens, not a copy: never chat_free'd */
        chats[ne] = (Chat){ro->seq + (size_t)b * ro->S, ro->ctx_len[b] + ro->len[b], ro->ctx_len[b]};
        ptrs[ne] = &chats[ne];
        which[ne++] = b;
    }
    if (ne > 0) reward_model_score_chats(rm, ptrs, ne, eot, scores);
    for (int j = 0; j < ne; j++) ro->score[which[j]] = scores[j];
    free(chats); free(ptrs); free(which); free(scores);
}

/* ---- log-probabilities under the policy and the reference (PPO step 3) ---- */

/* Runs the policy (with its value head, if any) and the reference over every
 * rollout, M at a time, and stores each response token's log-probabilities
 * and value. These are recomputed with a full forward, not kept from the
 * sampler: the update's ratio must compare like with like. Returns the mean
 * entropy per response token of the policy. */
float evaluate_rollouts(GPT *policy, const LinearHead *vhead, GPT *reference, Rollouts *ro, int M,
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
            if (vhead) ro->values[tb->src[k]] = tb->value[k];
        }
        tokens += tb->K;
    }
    free(idx);
    return (float)(entropy / (tokens > 0 ? tokens : 1));
}

RolloutStats rollout_stats(const Rollouts *ro, const PromptSet *ps) {
    RolloutStats st = {0};
    for (int b = 0; b < ro->n; b++) {
        st.rm += ro->score[b];
        st.rule += ro->rule[b];
        st.len += ro->len[b];
        st.ended += ro->ended[b];
        for (int i = 0; i < ro->len[b]; i++) {  /* the KL of a response is the sum over its tokens */
            st.k1 += kl_k1(ro->logp[b * ro->R + i], ro->ref_logp[b * ro->R + i]);
            st.k3 += kl_k3(ro->logp[b * ro->R + i], ro->ref_logp[b * ro->R + i]);
        }
        st.places += toy_parse_prompt(ps->text[ro->prompt[b]]).kind == TOY_Q_PLACE;
        st.hacked += place_answered_with_colour(ps->text[ro->prompt[b]], ro->text[b]);
    }
    double n = ro->n;
    st.rm /= n; st.rule /= n; st.k1 /= n; st.k3 /= n; st.len /= n; st.ended /= n;
    return st;
}

/* ---- the hack, counted ---- */

/* 1 if `prompt` asks where something is and `response` names a colour but no
 * place: the reward hack the prototype found without a KL penalty. */
int place_answered_with_colour(const char *prompt, const char *response) {
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

/* The policy's greedy answers to every prompt of the set (chat_answers at
 * temperature 0). If answers is not NULL it receives them (malloc'd), and
 * answers_ended whether each ended. */
Greedy greedy_eval(GPT *m, Tokenizer *tok, const PromptSet *ps, int max_response, char **answers,
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

/* ---- many sampled answers, judged ---- */

#define SAMPLED_BATCH 64  /* answers per forward when measuring their KL */

Sampled sampled_eval(GPT *policy, const Judge *j, const PromptSet *ps, int per_prompt) {
    Sampled s = {0};
    s.kl = NAN;
    if (ps->n == 0 || per_prompt == 0) { s.rm = s.rule = NAN; return s; }
    Rollouts ro;
    rollouts_alloc(&ro, ps->n * per_prompt, j->max_response, policy->config.maxT);
    for (int b = 0; b < ro.n; b++) ro.prompt[b] = b % ps->n;
    Rng rng;
    rng_seed(&rng, (uint64_t)j->seed + 4242);
    GPTSampler sampler;
    gpt_sampler_init(&sampler, policy);
    rollout(&sampler, j->tok, ps, &ro, j->temperature, &rng);
    gpt_sampler_free(&sampler);
    int eot = tokenizer_special_id(j->tok, TOK_EOT);
    score_rollouts(j->rm, ps, &ro, j->penalty, eot);
    if (j->reference) {  /* log pi and log pi_ref of every answer token, for the KL */
        TokenBatch tb = {0};
        evaluate_rollouts(policy, NULL, j->reference, &ro, SAMPLED_BATCH, j->temperature, &tb, eot);
        token_batch_free(&tb);
    }
    RolloutStats st = rollout_stats(&ro, ps);
    s.rm = (float)st.rm;
    s.rule = (float)st.rule;
    s.kl = j->reference ? (float)st.k1 : NAN;
    s.hacked = st.hacked;
    s.places = st.places;
    rollouts_free(&ro);
    return s;
}

float lm_loss(GPT *m, const Judge *j) {
    if (!j->val_tokens) return NAN;
    int B = LM_VAL_B, T = m->config.maxT;
    int *inputs = malloc_or_die(sizeof(int) * (size_t)B * T, "lm inputs");
    int *targets = malloc_or_die(sizeof(int) * (size_t)B * T, "lm targets");
    float loss = gpt_eval_loss(m, j->val_tokens, j->val_n, B, T, GPT_EVAL_BATCHES, inputs, targets);
    free(inputs);
    free(targets);
    return loss;
}

int *load_lm_val(const char *path, size_t *n, const GPT *m) {
    *n = 0;
    if (!path[0]) return NULL;
    int *tokens = tokens_load(path, n, m->config.V);
    size_t need = (size_t)LM_VAL_B * m->config.maxT + 1;
    if (*n < need) die("%s: %zu tokens, fewer than one batch of %zu", path, *n, need);
    return tokens;
}

/* ---- the starting policy ---- */

StartEval start_eval(GPT *policy, const Judge *j) {
    StartEval s;
    s.n = j->train->n;
    s.answers = calloc_or_die((size_t)s.n, sizeof(char *), "greedy answers before");
    s.answers_ended = calloc_or_die((size_t)s.n, sizeof(int), "greedy ends before");
    s.greedy = greedy_eval(policy, j->tok, j->train, j->max_response, s.answers, s.answers_ended);
    s.greedy_held = greedy_eval(policy, j->tok, j->heldout, j->max_response, NULL, NULL);
    s.sampled = sampled_eval(policy, j, j->train, j->samples);
    s.sampled_held = sampled_eval(policy, j, j->heldout, j->samples);
    s.lm = lm_loss(policy, j);
    return s;
}

void start_eval_free(StartEval *s) {
    for (int i = 0; i < s->n; i++) free(s->answers[i]);
    free(s->answers);
    free(s->answers_ended);
}

void print_answers(const char *name, const char *what, const PromptSet *ps, int show, char **before,
                   const int *before_ended, char **after, const int *after_ended) {
    printf("[%s] what the policy learned to say (greedy answers, hidden-rule score), SFT -> %s:\n", name, what);
    for (int i = 0; i < ps->n && i < show; i++) {
        printf("  %-28s %+.1f %-26s -> %+.1f %s\n", ps->text[i],
               (double)score_response(ps->text[i], before[i], before_ended[i]), before[i],
               (double)score_response(ps->text[i], after[i], after_ended[i]), after[i]);
    }
}
