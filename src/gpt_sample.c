/* gpt_sample.c — sampling from the GPT of gpt.c: the reference sampler, and
 * the key/value-cache sampler for one sequence or a batch. See gpt_sample.h.
 *
 * The cached sampler runs "rows" through the model: a row is one token at one
 * position of one sequence. A pass sends up to GPT_SAMPLER_ROWS rows through
 * each block together (one matmul over all of them); each row's key and
 * value go into its sequence's cache, and its query attends to that
 * sequence's cached positions 0..pos (attention_forward_one). The prompt
 * prefill is a pass over every prompt token of every sequence; each sampling
 * step is a pass over one row per live sequence.
 */
#include "gpt_sample.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* The reference sampler: no cache, the whole window is recomputed for every
 * new token, O(T^2) per token. Kept because it is obviously right; the tests
 * check that the cached sampler below produces the same tokens. */
int gpt_sample_uncached(GPT *m, const int *tokens, int n, int *out, int max_new, int stop_token,
                        float temperature, int top_k, Rng *rng) {
    const GPTConfig *c = &m->config;
    if (n < 1) die("gpt_sample needs at least one prompt token");
    int *seq = malloc_or_die(sizeof(int) * (size_t)(n + max_new), "the sampled sequence");
    memcpy(seq, tokens, sizeof(int) * (size_t)n);
    int len = n, produced = 0;
    while (produced < max_new) {
        int start = len > c->maxT ? len - c->maxT : 0, T = len - start;
        gpt_forward(m, seq + start, 1, T);
        const float *logits = m->acts.logits + (size_t)(T - 1) * c->Vp;
        int next = sample_logits(rng, logits, c->V, temperature, top_k);
        seq[len++] = next;
        out[produced++] = next;
        if (next == stop_token) break;
    }
    free(seq);
    return produced;
}

/* ---- the key/value-cache sampler ---- */

/* Every weight matrix is transposed once, into the layout the few-row
 * kernel reads (matmul_forward_wt); every pass then reads the copies. */
static void transpose_weights(GPTSampler *s) {
    const GPTConfig *c = &s->m->config;
    const ParamTensors *p = &s->m->params;
    size_t C = c->C;
    for (size_t l = 0; l < (size_t)c->L; l++) {
        transpose(s->qkvwt + l * 3 * C * C, p->qkvw + l * 3 * C * C, 3 * (int)C, (int)C);
        transpose(s->attprojwt + l * C * C, p->attprojw + l * C * C, (int)C, (int)C);
        transpose(s->fcwt + l * 4 * C * C, p->fcw + l * 4 * C * C, 4 * (int)C, (int)C);
        transpose(s->fcprojwt + l * 4 * C * C, p->fcprojw + l * 4 * C * C, (int)C, 4 * (int)C);
    }
    transpose(s->wtet, p->wte, c->Vp, (int)C);
    s->step = s->m->step;
}

/* Lays out the cache for nseq sequences, sequence i with room for plen[i] +
 * max_new positions in each layer, growing the buffers if needed (their
 * contents are not kept: every run fills the cache from its prompts). */
static void sampler_layout(GPTSampler *s, int nseq, const int *plen, int max_new) {
    const GPTConfig *c = &s->m->config;
    if (nseq > s->cap_seq) {
        int out_rows = nseq < GPT_SAMPLER_ROWS ? nseq : GPT_SAMPLER_ROWS;
        free(s->logits);
        free(s->rowlogits);
        free(s->seq_kv);
        free(s->seq_room);
        s->logits = malloc_or_die(sizeof(float) * (size_t)nseq * c->Vp, "the sampler's logits");
        s->rowlogits = malloc_or_die(sizeof(float) * (size_t)out_rows * c->Vp, "the sampler's logits");
        s->seq_kv = malloc_or_die(sizeof(size_t) * (size_t)nseq, "the cache's layout");
        s->seq_room = malloc_or_die(sizeof(int) * (size_t)nseq, "the cache's layout");
        s->cap_seq = nseq;
    }
    size_t need = 0;
    for (int i = 0; i < nseq; i++) {
        s->seq_kv[i] = need;
        s->seq_room[i] = plen[i] + max_new;
        need += (size_t)c->L * s->seq_room[i] * 2 * c->C;
    }
    if (need > s->cap_kv) {
        free(s->kv);
        s->kv = malloc_or_die(sizeof(float) * need, "the KV cache");
        s->cap_kv = need;
    }
}

void gpt_sampler_init(GPTSampler *s, GPT *m) {
    const GPTConfig *c = &m->config;
    size_t C = c->C, L = c->L, R = GPT_SAMPLER_ROWS;
    memset(s, 0, sizeof *s);
    s->m = m;
    s->wt = malloc_or_die(sizeof(float) * (L * 12 * C * C + C * c->Vp), "the transposed weights");
    s->qkvwt = s->wt;
    s->attprojwt = s->qkvwt + L * 3 * C * C;
    s->fcwt = s->attprojwt + L * C * C;
    s->fcprojwt = s->fcwt + L * 4 * C * C;
    s->wtet = s->fcprojwt + L * 4 * C * C;
    s->x = malloc_or_die(sizeof(float) * R * (11 * C + (size_t)c->NH * c->maxT + 2), "the sampler's scratch");
    s->ln = s->x + R * C;
    s->qkv = s->ln + R * C;
    s->atty = s->qkv + R * 3 * C;
    s->proj = s->atty + R * C;
    s->fch = s->proj + R * C;      /* 4C a row, then reused for gelu in place */
    s->att = s->fch + R * 4 * C;   /* NH * maxT a row */
    s->mean = s->att + R * c->NH * c->maxT;
    s->rstd = s->mean + R;
    s->row_seq = malloc_or_die(sizeof(int) * 4 * R, "the sampler's rows");
    s->row_pos = s->row_seq + R;
    s->row_tok = s->row_pos + R;
    s->row_out = s->row_tok + R;
    transpose_weights(s);
}

void gpt_sampler_refresh(GPTSampler *s) { transpose_weights(s); }

void gpt_sampler_free(GPTSampler *s) {
    free(s->kv);
    free(s->logits);
    free(s->rowlogits);
    free(s->seq_kv);
    free(s->seq_room);
    free(s->x);
    free(s->row_seq);
    free(s->wt);
    memset(s, 0, sizeof *s);
}

/* Layer l's keys and values of sequence seq at position pos: 2C floats. */
static float *cache_at(const GPTSampler *s, int seq, int l, int pos) {
    size_t C = s->m->config.C;
    return s->kv + s->seq_kv[seq] + ((size_t)l * s->seq_room[seq] + pos) * 2 * C;
}

/* Below this many multiply-adds the rows' attention runs on one thread. */
#define ATTENTION_PARALLEL_MIN_WORK 32768

/* Block l on the pass's rows (s->x, in place): the same ops as block_forward
 * in gpt.c, each row attending to its own sequence's cache. */
static void kv_block(GPTSampler *s, int l, int rows) {
    const GPTConfig *c = &s->m->config;
    int C = c->C, NH = c->NH, maxT = c->maxT;
    size_t C2 = (size_t)C * C;
    LayerParams p = gpt_layer_params(&s->m->params, c, l);
    layernorm_forward(s->ln, s->mean, s->rstd, s->x, p.ln1w, p.ln1b, rows, C);
    matmul_forward_wt(s->qkv, s->ln, s->qkvwt + l * 3 * C2, p.qkvb, rows, C, 3 * C);
    for (int r = 0; r < rows; r++) {  /* every row's key and value first: later rows attend to them */
        memcpy(cache_at(s, s->row_seq[r], l, s->row_pos[r]), s->qkv + (size_t)r * 3 * C + C, sizeof(float) * 2 * C);
    }
    size_t work = 0;
    for (int r = 0; r < rows; r++) work += (size_t)(s->row_pos[r] + 1) * 2 * C;
    #pragma omp parallel for schedule(dynamic, 8) if (rows > 1 && work > ATTENTION_PARALLEL_MIN_WORK)
    for (int r = 0; r < rows; r++) {
        const float *cache = cache_at(s, s->row_seq[r], l, 0);
        attention_forward_one(s->atty + (size_t)r * C, s->att + (size_t)r * NH * maxT, s->qkv + (size_t)r * 3 * C,
                              cache, cache + C, 2 * C, s->row_pos[r] + 1, C, NH);
    }
    matmul_forward_wt(s->proj, s->atty, s->attprojwt + l * C2, p.attprojb, rows, C, C);
    residual_forward(s->x, s->x, s->proj, (size_t)rows * C);
    layernorm_forward(s->ln, s->mean, s->rstd, s->x, p.ln2w, p.ln2b, rows, C);
    matmul_forward_wt(s->fch, s->ln, s->fcwt + l * 4 * C2, p.fcb, rows, C, 4 * C);
    gelu_forward(s->fch, s->fch, (size_t)rows * 4 * C);
    matmul_forward_wt(s->proj, s->fch, s->fcprojwt + l * 4 * C2, p.fcprojb, rows, 4 * C, C);
    residual_forward(s->x, s->x, s->proj, (size_t)rows * C);
}

/* Runs the pass's rows (row_seq, row_pos, row_tok) through the model. A row
 * with row_out >= 0 is the last of its sequence so far: its next-token
 * logits go to s->logits row row_out (the output layer runs on those rows
 * only: a prompt's other positions need none). */
static void kv_pass(GPTSampler *s, int rows) {
    const GPTConfig *c = &s->m->config;
    const ParamTensors *p = &s->m->params;
    int C = c->C, Vp = c->Vp, k = 0;
    for (int r = 0; r < rows; r++) {
        const float *te = p->wte + (size_t)s->row_tok[r] * C, *pe = p->wpe + (size_t)s->row_pos[r] * C;
        for (int i = 0; i < C; i++) s->x[(size_t)r * C + i] = te[i] + pe[i];
    }
    for (int l = 0; l < c->L; l++) kv_block(s, l, rows);
    for (int r = 0; r < rows; r++) {  /* gather the output rows */
        if (s->row_out[r] >= 0) memcpy(s->proj + (size_t)k++ * C, s->x + (size_t)r * C, sizeof(float) * C);
    }
    if (k == 0) return;
    layernorm_forward(s->ln, s->mean, s->rstd, s->proj, p->lnfw, p->lnfb, k, C);
    matmul_forward_wt(s->rowlogits, s->ln, s->wtet, NULL, k, C, Vp);
    k = 0;
    for (int r = 0; r < rows; r++) {
        if (s->row_out[r] < 0) continue;
        memcpy(s->logits + (size_t)s->row_out[r] * Vp, s->rowlogits + (size_t)k++ * Vp, sizeof(float) * Vp);
    }
}

/* Appends a row to the pass being built; runs the pass when it is full. */
static void push_row(GPTSampler *s, int *rows, int seq, int pos, int token, int out) {
    s->row_seq[*rows] = seq;
    s->row_pos[*rows] = pos;
    s->row_tok[*rows] = token;
    s->row_out[*rows] = out;
    if (++*rows == GPT_SAMPLER_ROWS) {
        kv_pass(s, *rows);
        *rows = 0;
    }
}

/* Fills the cache from the prompts: every prompt token of every sequence,
 * GPT_SAMPLER_ROWS rows a pass (a pass may end inside a prompt: its later
 * positions attend to the earlier ones already cached). Leaves each
 * sequence's next-token logits in s->logits. */
static void kv_prefill(GPTSampler *s, int nseq, const int *const *prompts, const int *plen) {
    int V = s->m->config.V, rows = 0;
    for (int i = 0; i < nseq; i++) {
        for (int t = 0; t < plen[i]; t++) {
            int token = prompts[i][t];
            if (token < 0 || token >= V) die("token %d at position %d is outside the vocabulary [0, %d)", token, t, V);
            push_row(s, &rows, i, t, token, t == plen[i] - 1 ? i : -1);
        }
    }
    if (rows > 0) kv_pass(s, rows);
}

static void check_run(const GPTSampler *s, const char *who, int n, int max_new) {
    const GPTConfig *c = &s->m->config;
    if (n < 1) die("%s needs at least one prompt token", who);
    if (s->step != s->m->step) {
        die("%s: the model took an optimiser step after the sampler copied its weights "
            "(call gpt_sampler_refresh after gpt_update)", who);
    }
    if (n + max_new > c->maxT + 1) die("%s: %d prompt + %d new tokens outgrow the %d-token "
                                       "context (gpt_sample slides the window instead)", who, n, max_new, c->maxT);
}

int gpt_sampler_run(GPTSampler *s, const int *tokens, int n, int *out, int max_new, int stop_token,
                    float temperature, int top_k, Rng *rng, GPTTokenFn on_token, void *ctx) {
    check_run(s, "gpt_sampler_run", n, max_new);
    if (max_new <= 0) return 0;
    sampler_layout(s, 1, &n, max_new);
    kv_prefill(s, 1, &tokens, &n);
    int produced = 0;
    for (;;) {
        int next = sample_logits(rng, s->logits, s->m->config.V, temperature, top_k);
        out[produced++] = next;
        int stop = on_token ? on_token(ctx, next) : 0;
        if (stop || next == stop_token || produced == max_new) break;
        int rows = 0;
        push_row(s, &rows, 0, n + produced - 1, next, 0);
        kv_pass(s, rows);
    }
    return produced;
}

/* gpt_sampler_run_batch for at most GPT_SAMPLER_SEQS sequences. */
static void sample_group(GPTSampler *s, int nseq, const int *const *prompts, const int *plen, int *const *outs,
                         int *produced, int max_new, int stop_token, float temperature, int top_k, Rng *rngs) {
    int V = s->m->config.V, Vp = s->m->config.Vp;
    sampler_layout(s, nseq, plen, max_new);
    kv_prefill(s, nseq, prompts, plen);
    int *live = malloc_or_die(sizeof(int) * (size_t)nseq, "the live sequences");
    int nlive = nseq;
    for (int i = 0; i < nseq; i++) live[i] = i;
    while (nlive > 0) {
        int kept = 0, rows = 0;
        for (int j = 0; j < nlive; j++) {  /* each live sequence draws from its own logits and rng */
            int i = live[j];
            int next = sample_logits(&rngs[i], s->logits + (size_t)i * Vp, V, temperature, top_k);
            outs[i][produced[i]++] = next;
            if (next != stop_token && produced[i] < max_new) live[kept++] = i;
        }
        nlive = kept;
        for (int j = 0; j < nlive; j++) {  /* then one row each through the model */
            int i = live[j];
            push_row(s, &rows, i, plen[i] + produced[i] - 1, outs[i][produced[i] - 1], i);
        }
        if (rows > 0) kv_pass(s, rows);
    }
    free(live);
}

void gpt_sampler_run_batch(GPTSampler *s, int nseq, const int *const *prompts, const int *plen,
                           int *const *outs, int *produced, int max_new, int stop_token,
                           float temperature, int top_k, Rng *rngs) {
    for (int i = 0; i < nseq; i++) {
        check_run(s, "gpt_sampler_run_batch", plen[i], max_new);
        produced[i] = 0;
    }
    if (max_new <= 0) return;
    for (int i0 = 0; i0 < nseq; i0 += GPT_SAMPLER_SEQS) {
        int n = nseq - i0 < GPT_SAMPLER_SEQS ? nseq - i0 : GPT_SAMPLER_SEQS;
        sample_group(s, n, prompts + i0, plen + i0, outs + i0, produced + i0, max_new, stop_token, temperature,
                     top_k, rngs + i0);
    }
}

int gpt_sample(GPT *m, const int *tokens, int n, int *out, int max_new, int stop_token,
               float temperature, int top_k, Rng *rng) {
    /* once the sequence outgrows the context, every position shifts and a
     * cache is no use: the reference sampler handles that case */
    if (n + max_new > m->config.maxT + 1) {
        return gpt_sample_uncached(m, tokens, n, out, max_new, stop_token, temperature, top_k, rng);
    }
    GPTSampler s;
    gpt_sampler_init(&s, m);
    int produced = gpt_sampler_run(&s, tokens, n, out, max_new, stop_token, temperature, top_k, rng, NULL, NULL);
    gpt_sampler_free(&s);
    return produced;
}
