/* score.c — ranking candidate answers by log-probability, greedy generation
 * with stop tokens, and the induction-head probe: no gradient anywhere. See
 * score.h for the contracts.
 *
 * What to step through: score_candidates, which rungs 2 and 3 call for every
 * question (rank_item in gpt2_zeroshot.c, rank_query in gpt3_fewshot.c). One
 * forward pass over prompt+answer; row t of the logits is the model's
 * distribution over the token at t+1; the answer's tokens sit at positions
 * nctx .. nctx+ncand-1, so rows nctx-1 .. nctx+ncand-2 predict them, and
 * log-softmax picks out their log-probabilities (score_row). The rungs ask
 * all candidates at once, one row of the batch each; score_continuation does
 * the same for one candidate in ten lines, the plain reference the batched
 * version is tested against (tests/test_score.c).
 */
#include "score.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- ranking candidates ---- */

/* log P(cand | ctx) for the sequence in row b of the last forward (width T).
 * The rows that predict the candidate are contiguous: one logprob_forward. */
static Score score_row(const GPT *m, int b, int T, int nctx, const int *cand, int ncand) {
    const GPTConfig *c = &m->config;
    float *logp = malloc_or_die(sizeof(float) * (size_t)ncand, "candidate log-probabilities");
    const float *rows = m->acts.logits + ((size_t)b * T + (size_t)(nctx - 1)) * c->Vp;
    logprob_forward(logp, rows, cand, 1.0f, ncand, c->V, c->Vp);
    Score s = {0.0f, 0.0f, ncand};
    double sum = 0.0;  /* double: a sum of several negative floats */
    for (int i = 0; i < ncand; i++) sum += logp[i];
    s.sum = (float)sum;
    s.mean = (float)(sum / ncand);
    free(logp);
    return s;
}

static void check_lengths(const GPT *m, int nctx, int ncand) {
    if (nctx < 1) die("score: the prompt is empty (a prompt needs at least one token)");
    if (ncand < 1) die("score: a candidate answer has no tokens");
    if (nctx + ncand > m->config.maxT) {
        die("score: prompt (%d tokens) + candidate (%d) is longer than the model's context (%d)",
            nctx, ncand, m->config.maxT);
    }
}

Score score_continuation(GPT *m, const int *ctx, int nctx, const int *cand, int ncand) {
    check_lengths(m, nctx, ncand);
    int T = nctx + ncand;
    int *seq = malloc_or_die(sizeof(int) * (size_t)T, "prompt + candidate");
    memcpy(seq, ctx, sizeof(int) * (size_t)nctx);
    memcpy(seq + nctx, cand, sizeof(int) * (size_t)ncand);
    gpt_forward(m, seq, 1, T);
    Score s = score_row(m, 0, T, nctx, cand, ncand);
    free(seq);
    return s;
}

void score_candidates(GPT *m, const int *ctx, int nctx, int *const *cands, const int *lens, int n,
                      Score *out) {
    if (n < 1) die("score: no candidates to rank");
    int maxlen = 0;
    for (int b = 0; b < n; b++) {
        check_lengths(m, nctx, lens[b]);
        if (lens[b] > maxlen) maxlen = lens[b];
    }
    if (maxlen == 1) {
        /* every candidate is one token, read from the same logits (those
         * after the prompt): the prompt goes through the model once, not
         * once per candidate */
        gpt_forward(m, ctx, 1, nctx);
        for (int b = 0; b < n; b++) out[b] = score_row(m, 0, nctx, nctx, cands[b], 1);
        return;
    }
    int T = nctx + maxlen;
    int *seq = malloc_or_die(sizeof(int) * (size_t)n * T, "prompt + candidates");
    for (int b = 0; b < n; b++) {
        int *row = seq + (size_t)b * T;
        memcpy(row, ctx, sizeof(int) * (size_t)nctx);
        memcpy(row + nctx, cands[b], sizeof(int) * (size_t)lens[b]);
        /* padding after the candidate: any valid token; causal attention
         * hides it from every position we read */
        for (int t = nctx + lens[b]; t < T; t++) row[t] = ctx[0];
    }
    gpt_forward(m, seq, n, T);
    for (int b = 0; b < n; b++) out[b] = score_row(m, b, T, nctx, cands[b], lens[b]);
    free(seq);
}

int score_best(const Score *s, int n, int by_mean) {
    int best = 0;
    for (int i = 1; i < n; i++) {
        float v = by_mean ? s[i].mean : s[i].sum, w = by_mean ? s[best].mean : s[best].sum;
        if (v > w) best = i;
    }
    return best;
}

/* ---- attention weights ---- */

const float *score_attention(const GPT *m, int l, int b, int h) {
    const GPTConfig *c = &m->config;
    if (l < 0 || l >= c->L || b < 0 || b >= m->B || h < 0 || h >= c->NH) {
        die("score_attention: block %d, row %d, head %d is outside the last forward (L=%d, B=%d, NH=%d)",
            l, b, h, c->L, m->B, c->NH);
    }
    size_t layer = (size_t)m->Bmax * c->NH * m->Tmax * m->Tmax;
    size_t T = (size_t)m->T;
    return m->acts.att + (size_t)l * layer + ((size_t)b * c->NH + (size_t)h) * T * T;
}

/* ---- the induction-head probe ---- */

void induction_init(Induction *ind, const GPTConfig *c) {
    memset(ind, 0, sizeof *ind);
    ind->L = c->L;
    ind->NH = c->NH;
    ind->match = calloc_or_die((size_t)c->L * c->NH, sizeof(double), "induction scores");
    ind->other = calloc_or_die((size_t)c->L * c->NH, sizeof(double), "induction scores");
}

void induction_free(Induction *ind) {
    free(ind->match);
    free(ind->other);
    ind->match = ind->other = NULL;
}

void induction_add(Induction *ind, const GPT *m, int last, const int *pos, int k, int match) {
    int T = m->T, NH = ind->NH;
    for (int l = 0; l < ind->L; l++) {
        for (int h = 0; h < NH; h++) {
            const float *row = score_attention(m, l, 0, h) + (size_t)last * T;  /* what the last position attends to */
            ind->match[l * NH + h] += row[pos[match]];
            double other = 0.0;
            for (int i = 0; i < k; i++) if (i != match) other += row[pos[i]];
            if (k > 1) ind->other[l * NH + h] += other / (k - 1);
        }
    }
    ind->uniform += 1.0 / (last + 1);
    ind->n++;
    ind->nother += k > 1;
}

void induction_print(const Induction *ind, int k) {
    if (ind->n == 0) return;
    int best = 0, NH = ind->NH;
    for (int i = 1; i < ind->L * NH; i++) if (ind->match[i] > ind->match[best]) best = i;
    printf("  k=%d: attention of the last position to the matching value: best head l%d h%d %.3f",
           k, best / NH, best % NH, ind->match[best] / ind->n);
    if (ind->nother) printf(", to the other values %.3f", ind->other[best] / ind->nother);
    printf(" (attending evenly: %.3f)\n", ind->uniform / ind->n);
}

void induction_print_grid(const Induction *ind, int k) {
    if (ind->n == 0 || ind->nother == 0) return;
    int NH = ind->NH;
    printf("  k=%d, every head: attention to the matching value / to the other values\n      ", k);
    for (int h = 0; h < NH; h++) printf("     head %-4d", h);
    printf("\n");
    for (int l = 0; l < ind->L; l++) {
        printf("  block %d", l);
        for (int h = 0; h < NH; h++) {
            printf("   %.3f/%.3f", ind->match[l * NH + h] / ind->n, ind->other[l * NH + h] / ind->nother);
        }
        printf("\n");
    }
}

/* ---- greedy generation ---- */

int generate_sampled(GPT *m, const int *ctx, int nctx, int *out, int max_new, const unsigned char *stop,
                     float temperature, int top_k, Rng *rng) {
    if (nctx < 1) die("generate: the prompt is empty (it needs at least one token)");
    /* gpt_sample stops at ONE token and we stop at a SET of them, so it runs
     * the whole budget and the output is cut after the first stop token.
     * The tokens before the cut are exactly those of stopping there (each
     * token depends only on the ones before it); the extra ones are cheap
     * with gpt_sample's key/value cache. */
    int n = gpt_sample(m, ctx, nctx, out, max_new, -1, temperature, top_k, rng);
    for (int i = 0; i < n; i++) {
        if (stop && stop[out[i]]) return i + 1;
    }
    return n;
}

int generate_greedy(GPT *m, const int *ctx, int nctx, int *out, int max_new, const unsigned char *stop) {
    Rng rng;  /* greedy decoding draws no random numbers; gpt_sample wants one */
    rng_seed(&rng, 0);
    return generate_sampled(m, ctx, nctx, out, max_new, stop, 0.0f, 0, &rng);
}

unsigned char *stop_tokens(const Tokenizer *tok, const char *chars, int with_eot) {
    int V = tok->vocab_size;
    unsigned char *stop = calloc_or_die((size_t)V, 1, "stop tokens");
    int eot = tokenizer_special_id(tok, TOK_EOT);
    int first_special = tokenizer_special_id(tok, 0);
    for (int id = 0; id < first_special; id++) {
        int len;
        const unsigned char *b = tokenizer_token_bytes(tok, id, &len);
        for (int i = 0; i < len && !stop[id]; i++) {
            if (b[i] != '\0' && strchr(chars, b[i])) stop[id] = 1;
        }
    }
    if (with_eot) stop[eot] = 1;
    return stop;
}

/* ---- prompts and candidates ---- */

int *encode_prompt(Tokenizer *tok, const char *text, int *n) {
    size_t len = strlen(text), nt;
    char *doc = malloc_or_die(len + 2, "prompt text");
    doc[0] = '\n';
    memcpy(doc + 1, text, len + 1);
    int *body = tokenizer_encode(tok, doc, len + 1, &nt);
    int *tokens = malloc_or_die(sizeof(int) * (nt + 1), "prompt tokens");
    tokens[0] = tokenizer_special_id(tok, TOK_EOT);
    memcpy(tokens + 1, body, sizeof(int) * nt);
    *n = (int)nt + 1;
    free(body);
    free(doc);
    return tokens;
}

int prompt_token_at(const Tokenizer *tok, const int *tokens, int n, int at) {
    int off = 0;  /* bytes of "\n" + text before tokens[i] */
    for (int i = 1; i < n; i++) {
        int len;
        tokenizer_token_bytes(tok, tokens[i], &len);
        if (at + 1 >= off && at + 1 < off + len) return i;
        off += len;
    }
    return -1;
}

int *encode_answer(Tokenizer *tok, const char *word, int *n) {
    size_t len = strlen(word), nt;
    char *text = malloc_or_die(len + 2, "answer text");
    text[0] = ' ';
    memcpy(text + 1, word, len + 1);
    int *tokens = tokenizer_encode(tok, text, len + 1, &nt);
    free(text);
    *n = (int)nt;
    return tokens;
}

void candidates_parse(Candidates *c, Tokenizer *tok, const char *field, const char *where) {
    memset(c, 0, sizeof *c);
    if (field[0] == '\0') die("%s: the candidates field is empty", where);
    int n = 1;
    for (const char *p = field; *p; p++) n += *p == '|';
    if (n > SCORE_MAX_CANDIDATES) die("%s: %d candidates, at most %d", where, n, SCORE_MAX_CANDIDATES);
    c->text = calloc_or_die((size_t)n, sizeof(char *), "candidates");
    c->tokens = calloc_or_die((size_t)n, sizeof(int *), "candidate tokens");
    c->len = calloc_or_die((size_t)n, sizeof(int), "candidate lengths");
    const char *p = field;
    for (int i = 0; i < n; i++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == 0) {
            candidates_free(c);
            die("%s: candidate %d of '%s' is empty", where, i + 1, field);
        }
        c->text[i] = malloc_or_die(len + 1, "a candidate");
        memcpy(c->text[i], p, len);
        c->text[i][len] = '\0';
        c->n = i + 1;
        for (int j = 0; j < i; j++) {
            if (strcmp(c->text[j], c->text[i]) == 0) {
                char dup[128];
                snprintf(dup, sizeof dup, "%s", c->text[i]);
                candidates_free(c);
                die("%s: candidate '%s' appears twice", where, dup);
            }
        }
        c->tokens[i] = encode_answer(tok, c->text[i], &c->len[i]);
        if (c->len[i] > c->maxlen) c->maxlen = c->len[i];
        p = bar ? bar + 1 : p + len;
    }
}

void candidates_free(Candidates *c) {
    for (int i = 0; i < c->n; i++) {
        free(c->text[i]);
        free(c->tokens[i]);
    }
    free(c->text);
    free(c->tokens);
    free(c->len);
    memset(c, 0, sizeof *c);
}

int candidates_find(const Candidates *c, const char *answer) {
    for (int i = 0; i < c->n; i++) if (strcmp(c->text[i], answer) == 0) return i;
    return -1;
}

/* ---- the context window ---- */

int score_fit(int *tokens, int *n, int room, int maxT) {
    if (room > maxT / 2) room = maxT / 2;
    int keep = maxT - room;
    if (*n <= keep) return 0;
    int cut = *n - keep;
    memmove(tokens, tokens + cut, sizeof(int) * (size_t)keep);
    *n = keep;
    return cut;
}
