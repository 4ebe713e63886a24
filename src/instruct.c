/* instruct.c — the chat format, answer generation and the reward model that
 * sft, reward, ppo and chat share. See instruct.h. */
#include "instruct.h"
#include "gpt_sample.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the chat format ---- */

/* s without its leading and trailing spaces: a pointer into s and a length. */
static const char *trim(const char *s, size_t *n) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' || s[len - 1] == '\r')) len--;
    *n = len;
    return s;
}

/* Appends the tokens of the text prefix + body[0..nbody) to c. */
static void append_text(Chat *c, int *cap, Tokenizer *tok, const char *prefix, const char *body, size_t nbody) {
    size_t np = strlen(prefix), n;
    char *text = malloc_or_die(np + nbody + 1, "chat text");
    memcpy(text, prefix, np);
    memcpy(text + np, body, nbody);
    text[np + nbody] = '\0';
    int *ids = tokenizer_encode(tok, text, np + nbody, &n);
    if (c->len + (int)n > *cap) {
        *cap = 2 * (c->len + (int)n) + 8;
        c->tokens = realloc_or_die(c->tokens, sizeof(int) * (size_t)*cap, "chat tokens");
    }
    memcpy(c->tokens + c->len, ids, sizeof(int) * n);
    c->len += (int)n;
    free(ids);
    free(text);
}

static void append_id(Chat *c, int *cap, int id) {
    if (c->len + 1 > *cap) {
        *cap = 2 * c->len + 8;
        c->tokens = realloc_or_die(c->tokens, sizeof(int) * (size_t)*cap, "chat tokens");
    }
    c->tokens[c->len++] = id;
}

/* <|prompt|> "q : " prompt <|answer|> " a :" */
static void encode_context(Chat *c, int *cap, Tokenizer *tok, const char *prompt) {
    size_t n;
    const char *p = trim(prompt, &n);
    append_id(c, cap, tokenizer_special_id(tok, TOK_PROMPT));
    append_text(c, cap, tok, CHAT_PROMPT_PREFIX, p, n);
    append_id(c, cap, tokenizer_special_id(tok, TOK_ANSWER));
    append_text(c, cap, tok, CHAT_ANSWER_PREFIX, "", 0);
    c->context_len = c->len;
}

Chat chat_encode_prompt(Tokenizer *tok, const char *prompt) {
    Chat c = {0};
    int cap = 0;
    encode_context(&c, &cap, tok, prompt);
    return c;
}

Chat chat_encode_pair(Tokenizer *tok, const char *prompt, const char *response) {
    Chat c = {0};
    int cap = 0;
    encode_context(&c, &cap, tok, prompt);
    size_t n;
    const char *r = trim(response, &n);
    append_text(&c, &cap, tok, " ", r, n);
    append_id(&c, &cap, tokenizer_special_id(tok, TOK_EOT));
    return c;
}

void chat_free(Chat *c) {
    free(c->tokens);
    memset(c, 0, sizeof *c);
}

char *chat_decode_response(const Tokenizer *tok, const int *tokens, int n, int *ended) {
    int eot = tokenizer_special_id(tok, TOK_EOT), k = 0;
    while (k < n && tokens[k] != eot) k++;
    if (ended) *ended = k < n;
    size_t len;
    char *text = tokenizer_decode(tok, tokens, (size_t)k, &len);
    size_t m;
    const char *t = trim(text, &m);
    memmove(text, t, m);
    text[m] = '\0';
    return text;
}

char *chat_answer(GPT *m, Tokenizer *tok, const char *prompt, int max_new, float temperature,
                  Rng *rng, int *ended) {
    Chat c = chat_encode_prompt(tok, prompt);
    int *out = malloc_or_die(sizeof(int) * (size_t)(max_new > 0 ? max_new : 1), "an answer");
    int n = max_new > 0 ? gpt_sample(m, c.tokens, c.len, out, max_new, tokenizer_special_id(tok, TOK_EOT),
                                     temperature, 0, rng) : 0;
    char *text = chat_decode_response(tok, out, n, ended);
    free(out);
    chat_free(&c);
    return text;
}

void chat_answers(GPT *m, Tokenizer *tok, const char *const *prompts, int n, int max_new,
                  float temperature, Rng *rng, char **answers, int *ended) {
    if (n <= 0) return;
    int eot = tokenizer_special_id(tok, TOK_EOT), maxT = m->config.maxT;
    Chat *c = malloc_or_die(sizeof(Chat) * (size_t)n, "chats");
    Rng *own = malloc_or_die(sizeof(Rng) * (size_t)n, "chat rngs");
    if (rng) rng_split(rng, own, n);  /* chat i's stream, seeded in prompt order */
    else for (int i = 0; i < n; i++) rng_seed(&own[i], 0);  /* greedy: never drawn from */

    /* The chats with room for max_new tokens go first, together; then, one
     * at a time, those whose prompt leaves less room before the context maxT
     * (they stop there, not ended). Slot j holds chat order[j]. */
    int *order = malloc_or_die(sizeof(int) * (size_t)n, "chat order");
    int B = 0, last = n;
    for (int i = 0; i < n; i++) {
        c[i] = chat_encode_prompt(tok, prompts[i]);
        if (maxT - c[i].len >= max_new) order[B++] = i;
        else order[--last] = i;
    }
    const int **ctx = malloc_or_die(sizeof(int *) * (size_t)n, "chat contexts");
    int *plen = malloc_or_die(sizeof(int) * (size_t)n, "chat lengths");
    int **outs = malloc_or_die(sizeof(int *) * (size_t)n, "chat answers");
    int *produced = calloc_or_die((size_t)n, sizeof(int), "answer lengths");
    Rng *rngs = malloc_or_die(sizeof(Rng) * (size_t)n, "chat rngs, in slot order");
    for (int j = 0; j < n; j++) {
        int i = order[j];
        ctx[j] = c[i].tokens;
        plen[j] = c[i].len;
        outs[j] = malloc_or_die(sizeof(int) * (size_t)(max_new > 0 ? max_new : 1), "an answer");
        rngs[j] = own[i];
    }

    GPTSampler s;
    gpt_sampler_init(&s, m);
    gpt_sampler_run_batch(&s, B, ctx, plen, outs, produced, max_new, eot, temperature, 0, rngs);
    for (int j = B; j < n; j++) {
        int room = maxT - plen[j];
        if (room > 0) produced[j] = gpt_sampler_run(&s, ctx[j], plen[j], outs[j], room, eot, temperature, 0,
                                                    &rngs[j], NULL, NULL);
    }
    gpt_sampler_free(&s);

    for (int j = 0; j < n; j++) {
        int i = order[j];
        answers[i] = chat_decode_response(tok, outs[j], produced[j], ended ? &ended[i] : NULL);
        free(outs[j]);
        chat_free(&c[i]);
    }
    free(c); free(own); free(order); free(ctx); free(plen); free(outs); free(produced); free(rngs);
}

/* ---- a batch of chats ---- */

void chat_batch_fill(ChatBatch *bt, const Chat *const *chats, int n, int eot) {
    int T = 1;
    for (int b = 0; b < n; b++) if (chats[b]->len > T) T = chats[b]->len;
    size_t need = (size_t)n * T;
    if (need > bt->cap_bt) {
        bt->cap_bt = need;
        bt->inputs = realloc_or_die(bt->inputs, sizeof(int) * need, "batch inputs");
        bt->targets = realloc_or_die(bt->targets, sizeof(int) * need, "batch targets");
        bt->weights = realloc_or_die(bt->weights, sizeof(float) * need, "batch weights");
    }
    if (n > bt->cap_b) {
        bt->cap_b = n;
        bt->last = realloc_or_die(bt->last, sizeof(int) * (size_t)n, "batch last rows");
    }
    bt->B = n;
    bt->T = T;
    for (int b = 0; b < n; b++) {
        const Chat *c = chats[b];
        for (int t = 0; t < T; t++) {
            int i = b * T + t;
            bt->inputs[i] = t < c->len ? c->tokens[t] : eot;
            bt->targets[i] = t + 1 < c->len ? c->tokens[t + 1] : eot;
            /* position t predicts token t+1: a response token or the final
             * end-of-text when t+1 >= context_len (and t+1 < len) */
            bt->weights[i] = (t + 1 >= c->context_len && t + 1 < c->len) ? 1.0f : 0.0f;
        }
        bt->last[b] = b * T + c->len - 1;
    }
}

void chat_batch_free(ChatBatch *bt) {
    free(bt->inputs);
    free(bt->targets);
    free(bt->weights);
    free(bt->last);
    memset(bt, 0, sizeof *bt);
}

/* ---- checks ---- */

void instruct_check_fits(const Chat *c, const GPT *m, const char *where) {
    if (c->len > m->config.maxT) {
        die("%s: the chat is %d tokens, longer than the model's context (%d)", where, c->len, m->config.maxT);
    }
}

/* ---- the reward model ---- */

void reward_model_from_trunk(RewardModel *rm, const char *trunk_path, float init_std, uint64_t seed) {
    memset(rm, 0, sizeof *rm);
    gpt_load(&rm->gpt, trunk_path);
    head_build(&rm->head, 1, rm->gpt.config.C, init_std, seed);
}

void reward_model_load(RewardModel *rm, const char *path) {
    memset(rm, 0, sizeof *rm);
    gpt_load(&rm->gpt, path);
    char *hpath = head_path_for(path);
    head_load(&rm->head, hpath, rm->gpt.config.C);
    if (rm->head.K != 1) die("%s has K=%d outputs: a reward head has exactly one", hpath, rm->head.K);
    free(hpath);
}

void reward_model_save(const RewardModel *rm, const char *path) {
    gpt_save(&rm->gpt, path);
    char *hpath = head_path_for(path);
    head_save(&rm->head, hpath);
    free(hpath);
}

void reward_model_free(RewardModel *rm) {
    gpt_free(&rm->gpt);
    head_free(&rm->head);
    chat_batch_free(&rm->batch);
}

void reward_model_forward(RewardModel *rm, const ChatBatch *bt, float *raw) {
    gpt_forward(&rm->gpt, bt->inputs, bt->B, bt->T);
    head_forward(&rm->head, raw, rm->gpt.acts.lnf, bt->last, bt->B);
}

void reward_model_backward(RewardModel *rm, const ChatBatch *bt, const float *draw) {
    GPT *m = &rm->gpt;
    /* forward: raw[b] = w . lnf[last[b]] + b;  backward: dw += draw lnf[last],
     * dlnf[last[b]] += draw[b] w, and 0 at every other position */
    memset(m->dhidden, 0, sizeof(float) * (size_t)bt->B * bt->T * m->config.C);
    head_backward(&rm->head, m->dhidden, draw, m->acts.lnf, bt->last, bt->B);
    gpt_backward(m, NULL, m->dhidden);
}

float reward_normalise(const LinearHead *h, float raw) { return h->gain * raw + h->shift; }

void reward_set_normalisation(LinearHead *h, const float *raw, int n) {
    if (n < 2) die("normalising a reward needs at least 2 rewards, got %d", n);
    double mean = 0.0, var = 0.0;
    for (int i = 0; i < n; i++) mean += raw[i];
    mean /= n;
    for (int i = 0; i < n; i++) var += (raw[i] - mean) * (raw[i] - mean);
    double sd = sqrt(var / n);  /* the population std: the one the mean-0/std-1 claim is about */
    h->gain = sd > 0.0 ? (float)(1.0 / sd) : 1.0f;
    h->shift = (float)(-mean * h->gain);
}

#define REWARD_SCORE_BATCH 64  /* chats per forward when scoring */

void reward_model_score_chats(RewardModel *rm, const Chat *const *chats, int n, int eot, float *out) {
    for (int i0 = 0; i0 < n; i0 += REWARD_SCORE_BATCH) {
        int nb = n - i0 < REWARD_SCORE_BATCH ? n - i0 : REWARD_SCORE_BATCH;
        chat_batch_fill(&rm->batch, chats + i0, nb, eot);
        reward_model_forward(rm, &rm->batch, out + i0);
        for (int b = 0; b < nb; b++) out[i0 + b] = reward_normalise(&rm->head, out[i0 + b]);
    }
}

void reward_model_score(RewardModel *rm, Tokenizer *tok, const char *const *prompts,
                        const char *const *responses, int n, float *out) {
    Chat *chats = malloc_or_die(sizeof(Chat) * (size_t)(n > 0 ? n : 1), "chats");
    const Chat **ptrs = malloc_or_die(sizeof(Chat *) * (size_t)(n > 0 ? n : 1), "chat pointers");
    for (int i = 0; i < n; i++) {
        chats[i] = chat_encode_pair(tok, prompts[i], responses[i]);
        char where[64];
        snprintf(where, sizeof where, "pair %d", i + 1);
        instruct_check_fits(&chats[i], &rm->gpt, where);
        ptrs[i] = &chats[i];
    }
    reward_model_score_chats(rm, ptrs, n, tokenizer_special_id(tok, TOK_EOT), out);
    for (int i = 0; i < n; i++) chat_free(&chats[i]);
    free(chats);
    free(ptrs);
}
