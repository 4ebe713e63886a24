/* induction.c — rung 3b: watching an induction head form, after Olsson et
 * al. 2022, "In-context Learning and Induction Heads".
 *
 * The claim (§1): induction heads "implement a simple algorithm to complete
 * token sequences like [A][B] ... [A] -> [B]", with two heads in two layers:
 * a previous-token head writes "the token before me was A" into each
 * position; the induction head, one layer up, looks for the position whose
 * previous token is the current token (prefix matching) and copies the token
 * it finds there (copying). They form in a sudden "phase change", and
 * in-context learning improves at the same moment. Step by step:
 *
 *   1. Train a small GPT on the toy corpus with synthetic repeated-block
 *      documents mixed in (toydata's induction_train.txt): train, gpt_lm_step.
 *   2. Every evaluation, on held-out "random block, then the same block"
 *      documents (data/induction_test.txt): the loss on each half
 *      (eval_docs). Only an induction head makes the repeated half cheap.
 *   3. Every head's two scores and its previous-token score:
 *      prefix matching (head_attention_scores: attention from a repeated
 *      token to the token after its earlier occurrence), copying
 *      (head_copy_scores: does the head raise the logit of the token it
 *      attends to), previous token (attention to the position before).
 *   4. In-context learning in the corpus's own words: pairings defined only
 *      in the prompt, "car four . owl seven . car" -> four, with k = 1, 2,
 *      4, 8 shots (pairing_accuracy; chance 1/12).
 *   5. The phase change: the first evaluation at which a head's prefix
 *      matching reaches PHASE_PREFIX.
 *
 * --attention writes any checkpoint's attention (any block, head, prompt)
 * as a heatmap TSV (attention_mode), rung 1's model included.
 *
 * Left out: ablating heads, larger models, and the eigenvalue form of the
 * copying score (measured here on the held-out documents instead).
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

/* ---- constants ---- */

#define MAX_HEADS 64         /* L * NH */
#define NUM_KS 4
static const int KS[NUM_KS] = {1, 2, 4, 8};
#define PHASE_PREFIX 0.5f    /* a head with this prefix-matching score has formed */
#define EVAL_BATCH 64        /* held-out documents per forward */
#define PAIRING_SEED 77      /* the same pairing prompts for every run and seed */
#define PAIRING_TASK "pairing"
#define EMA_DECAY 0.9f

/* ---- options ---- */

typedef struct {
    const char *data, *test, *pool, *queries, *tokenizer, *out, *log, *heads_log, *heatmap;
    const char *model, *prompt;          /* --attention */
    int attention, layer, head;
    int layers, nheads, channels, seq, steps, batch, warmup, eval_every, eval_docs, nqueries;
    int seed, threads;
    float lr, min_lr_frac, weight_decay, clip;
} Options;

/* The recipe: a 2-layer model with a short context, a big batch, a high
 * learning rate and no weight decay (notes/04b-induction.md measures it). */
static Options defaults(void) {
    return (Options){
        .data = "out/induction_train.bin", .test = "data/induction_test.txt", .pool = "data/fewshot_pool.tsv",
        .queries = "data/fewshot_test.tsv", .tokenizer = "out/tokenizer.merges", .out = TRY_DIR "/induction.bin",
        .log = TRY_DIR "/induction.tsv", .heads_log = TRY_DIR "/induction_heads.tsv",
        .heatmap = TRY_DIR "/induction_heatmap.tsv", .model = "out/induction.bin", .prompt = "", .layer = 1,
        .layers = 2, .nheads = 2, .channels = 64, .seq = 32, .steps = 2000, .batch = 64, .warmup = 50,
        .eval_every = 50, .eval_docs = 256, .nqueries = 100, .lr = 5e-3f, .min_lr_frac = 0.1f, .clip = 1.0f,
        .seed = 1};
}

static void parse_flags(Options *o, int argc, char **argv) {
    const Flag flags[] = {
        FLAG_IN("data", &o->data, "training tokens: the mixed corpus (make data)"),
        FLAG_IN("test", &o->test, "held-out documents: a block, then the same block"),
        FLAG_IN("pool", &o->pool, "few-shot pool: the pairing shots"),
        FLAG_IN("queries", &o->queries, "few-shot test: the pairing queries"),
        FLAG_TOKENIZER(&o->tokenizer),
        FLAG_OUT("out", &o->out, "checkpoint to write, llm.c layout"),
        FLAG_LOG(&o->log),
        FLAG_OUT("heads-log", &o->heads_log, "TSV, one row per evaluation: every head's three scores"),
        FLAG_OUT("heatmap", &o->heatmap, "TSV heatmaps: the induction and previous-token heads (--attention: one)"),
        FLAG_INT("layers", &o->layers, 1, 16, "blocks", NULL),
        FLAG_INT("heads", &o->nheads, 1, 16, "attention heads per block", NULL),
        FLAG_INT("channels", &o->channels, 8, 1024, "channels C", NULL),
        FLAG_INT("seq", &o->seq, 8, 1024, "context length T", NULL),
        FLAG_INT("steps", &o->steps, 1, 10000000, "optimisation steps", "30"),
        FLAG_INT("batch", &o->batch, 1, 4096, "sequences per step", "8"),
        FLAG_FLOAT("lr", &o->lr, 0, 1, "peak learning rate", NULL),
        FLAG_INT("warmup", &o->warmup, 0, 10000000, "warm-up steps", "5"),
        FLAG_FLOAT("min-lr-frac", &o->min_lr_frac, 0, 1, "final lr as a fraction of the peak, cosine decay", NULL),
        FLAG_FLOAT("weight-decay", &o->weight_decay, 0, 10, "AdamW decay on 2-D weights", NULL),
        FLAG_FLOAT("clip", &o->clip, 0, 1e6, "gradient-norm clip", NULL),
        FLAG_INT("eval-every", &o->eval_every, 1, 10000000, "evaluate every N steps", "10"),
        FLAG_INT("eval-docs", &o->eval_docs, 1, 100000, "held-out documents evaluated", "16"),
        FLAG_INT("pairing-queries", &o->nqueries, 1, 100000, "pairing queries per k", "10"),
        FLAG_ON("attention", &o->attention, "only write the heatmap of --model, --layer, --head on --prompt"),
        FLAG_TEXT("model", &o->model, "PATH", "--attention: the checkpoint to look into"),
        FLAG_INT("layer", &o->layer, 0, 1023, "--attention: the block", NULL),
        FLAG_INT("head", &o->head, 0, 1023, "--attention: the head", NULL),
        FLAG_TEXT("prompt", &o->prompt, "TEXT", "--attention: the text (empty: the first held-out document)"),
        FLAG_END};
    Cli cli = {"induction", "rung 3b: train a small GPT until an induction head forms, and watch it\n"
                            "                    (Olsson et al. 2022); --attention draws any head's pattern",
               flags, &o->seed, &o->threads, NULL};
    cli_parse(&cli, argc, argv);
}

/* ---- the held-out documents: a random block, then the same block ---- */

/* tokens: <|endoftext|> "\n" block block, n of them; the repeat starts at half */
typedef struct { int *tokens, n, half; } Doc;
typedef struct { Doc *d; int n; } DocSet;

/* Encodes one line "w1 .. wm w1 .. wm" as a document start, and finds where
 * its second half begins. Dies with PATH:LINE on a line that is not a block
 * followed by the same block, or that does not fit the context maxT. */
static Doc encode_doc(Tokenizer *tok, char *line, const char *path, int lineno, int maxT) {
    size_t len = strlen(line), mid = len / 2;
    if (len < 3 || len % 2 == 0 || line[mid] != ' ' || strncmp(line, line + mid + 1, mid) != 0) {
        die("%s:%d: not a block followed by the same block", path, lineno);
    }
    Doc d;
    d.tokens = encode_prompt(tok, line, &d.n);
    line[mid] = '\0';
    int *first = encode_prompt(tok, line, &d.half);
    line[mid] = ' ';
    if (d.half >= d.n || memcmp(first, d.tokens, sizeof(int) * (size_t)d.half) != 0) {
        die("%s:%d: the two halves do not tokenize apart", path, lineno);
    }
    free(first);
    if (d.n > maxT + 1) {
        die("%s:%d: the document has %d tokens; the model's context is %d (the model is too short for it)",
            path, lineno, d.n, maxT);
    }
    return d;
}

/* The first `limit` documents of PATH, one per line. */
static DocSet load_docs(Tokenizer *tok, const char *path, int limit, int maxT) {
    char *text = read_file_or_die(path, NULL);
    DocSet s = {malloc_or_die(sizeof(Doc) * (size_t)limit, "documents"), 0};
    int lineno = 0;
    for (char *line = text, *next; line && *line && s.n < limit; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        lineno++;
        if (*line) s.d[s.n++] = encode_doc(tok, line, path, lineno, maxT);
    }
    free(text);
    if (s.n == 0) die("%s has no documents", path);
    return s;
}

static void free_docs(DocSet *s) {
    for (int i = 0; i < s->n; i++) free(s->d[i].tokens);
    free(s->d);
}

/* ---- the pairing prompts: "car four . owl seven . car" -> four ---- */

typedef struct {
    int **tokens[NUM_KS]; /* [k][query]: the prompt's tokens */
    int *len[NUM_KS];     /* [k][query] */
    int *answer;          /* (nq) index among the candidates */
    int nq;
    Candidates cands;     /* one .. twelve */
} Pairing;

/* The pairing rows of a few-shot file (task, input, answer, worked, candidates). */
static int pairing_rows(const Tsv *t, const TsvRow **rows) {
    int n = 0;
    for (int i = 0; i < t->nrows; i++) if (strcmp(t->rows[i].fields[0], PAIRING_TASK) == 0) rows[n++] = &t->rows[i];
    if (n == 0) die("%s has no '%s' rows", t->path, PAIRING_TASK);
    return n;
}

/* The k-shot prompt of query q, as gpt3_fewshot --plain writes it: k - 1
 * pool definitions with other keys, all different, and q's own definition at
 * a random place, then q's key. Deterministic in (k, query). */
static char *pairing_prompt(const TsvRow *q, const TsvRow **pool, int npool, int k, int query) {
    Rng r;
    rng_seed(&r, (uint64_t)PAIRING_SEED * 1000003u + (uint64_t)k * 1009u + (uint64_t)query);
    const TsvRow *shots[8 * NUM_KS];
    int n = 0, at = rng_below(&r, k);
    int *order = malloc_or_die(sizeof(int) * (size_t)npool, "shot order");
    for (int i = 0; i < npool; i++) order[i] = i;
    rng_shuffle(&r, order, npool);
    for (int i = 0; i < npool && n < k - 1; i++) {
        const TsvRow *s = pool[order[i]];
        int clash = strcmp(s->fields[1], q->fields[1]) == 0;
        for (int j = 0; j < n; j++) clash |= strcmp(shots[j]->fields[1], s->fields[1]) == 0;
        if (!clash) shots[n++] = s;
    }
    free(order);
    if (n < k - 1) die("the pool has too few pairing rows with distinct keys for k = %d", k);
    memmove(shots + at + 1, shots + at, sizeof(shots[0]) * (size_t)(n - at));
    shots[at] = q;
    char *text = malloc_or_die(64 * (size_t)(k + 1), "pairing prompt");
    text[0] = '\0';
    for (int i = 0; i < k; i++) {
        snprintf(text + strlen(text), 64, "%.28s %.28s . ", shots[i]->fields[1], shots[i]->fields[2]);
    }
    snprintf(text + strlen(text), 64, "%.28s", q->fields[1]);
    return text;
}

static Pairing load_pairing(Tokenizer *tok, const char *pool_path, const char *test_path, int limit, int maxT) {
    Tsv pool, test;
    tsv_read(&pool, pool_path, 5);
    tsv_read(&test, test_path, 5);
    const TsvRow **prow = malloc_or_die(sizeof(TsvRow *) * (size_t)pool.nrows, "pool rows");
    const TsvRow **qrow = malloc_or_die(sizeof(TsvRow *) * (size_t)test.nrows, "query rows");
    int npool = pairing_rows(&pool, prow), nq = pairing_rows(&test, qrow);
    Pairing p = {.nq = nq < limit ? nq : limit};
    char where[300];
    snprintf(where, sizeof where, "%s:%d", test_path, qrow[0]->line);
    candidates_parse(&p.cands, tok, qrow[0]->fields[4], where);
    p.answer = malloc_or_die(sizeof(int) * (size_t)p.nq, "answers");
    for (int i = 0; i < p.nq; i++) {
        p.answer[i] = candidates_find(&p.cands, qrow[i]->fields[2]);
        if (p.answer[i] < 0) die("%s:%d: the answer is not a candidate", test_path, qrow[i]->line);
    }
    for (int j = 0; j < NUM_KS; j++) {
        p.tokens[j] = malloc_or_die(sizeof(int *) * (size_t)p.nq, "prompts");
        p.len[j] = malloc_or_die(sizeof(int) * (size_t)p.nq, "prompt lengths");
        for (int i = 0; i < p.nq; i++) {
            char *text = pairing_prompt(qrow[i], prow, npool, KS[j], i);
            p.tokens[j][i] = encode_prompt(tok, text, &p.len[j][i]);
            free(text);
            if (p.len[j][i] + p.cands.maxlen > maxT) {
                die("a %d-shot pairing prompt (%s:%d) takes %d tokens and its answer %d; the model's context is %d "
                    "(the model is too short for the prompts)", KS[j], test_path, qrow[i]->line, p.len[j][i],
                    p.cands.maxlen, maxT);
            }
        }
    }
    free(prow);
    free(qrow);
    tsv_free(&pool);
    tsv_free(&test);
    return p;
}

static void free_pairing(Pairing *p) {
    for (int j = 0; j < NUM_KS; j++) {
        for (int i = 0; i < p->nq; i++) free(p->tokens[j][i]);
        free(p->tokens[j]);
        free(p->len[j]);
    }
    free(p->answer);
    candidates_free(&p->cands);
}

/* ---- the head scores ---- */

/* One head's scores: sums over the positions counted, and their counts. */
typedef struct { double prefix, prev, copy; int nprefix, nprev, ncopy; } HeadTally;

/* Where an induction head should look from position t: the position after
 * the one earlier occurrence s of tokens[t]. -1 when tokens[t] did not occur
 * before, occurred more than once (the target is ambiguous), or just before
 * (s + 1 == t: that is the previous token, not a lookup). */
static int after_earlier(const int *tokens, int t) {
    int found = -1;
    for (int s = 0; s < t; s++) {
        if (tokens[s] != tokens[t]) continue;
        if (found >= 0) return -1;
        found = s;
    }
    return found >= 0 && found + 1 < t ? found + 1 : -1;
}

/* Adds one head's attention on one document tokens[0..n) to ht. att is the
 * head's (T, T) pattern, row = query. Previous token: the weight on t - 1,
 * over every t >= 1. Prefix matching (Olsson et al. §2): the weight on
 * after_earlier(t), over the positions t >= half that have one. */
static void head_attention_scores(const float *att, int T, const int *tokens, int n, int half, HeadTally *ht) {
    for (int t = 1; t < n; t++) {
        ht->prev += att[(size_t)t * T + t - 1];
        ht->nprev++;
    }
    for (int t = half; t < n; t++) {
        int target = after_earlier(tokens, t);
        if (target < 0) continue;
        ht->prefix += att[(size_t)t * T + target];
        ht->nprefix++;
    }
}

/* Copying: where token y ranks, by how much the head raised its logit
 * (raise, indexed by token), among the other tokens of the context
 * tokens[0..n): the fraction of them raised less. 1: the head raises the
 * token it attends to above everything else it could copy; about 0.5: no
 * preference. (Among the context's tokens, not all V: the tokens the corpus
 * never uses all sit low, which would flatter any head.) */
static float copy_rank(const float *raise, const int *tokens, int n, int y) {
    int below = 0, others = 0;
    for (int i = 0; i < n; i++) {
        int v = tokens[i], seen = v == y;
        for (int j = 0; j < i && !seen; j++) seen = tokens[j] == v;  /* count each token once */
        if (seen) continue;
        others++;
        below += raise[v] < raise[y];
    }
    return others ? (float)below / (float)others : 0.5f;
}

/* The direct effect on the next-token logits of what head h of block l wrote
 * at batch row b, position t of the last forward: its slice of atty through
 * its columns of attprojw (o, C), centred and scaled by the final LayerNorm's
 * gain (its 1/std is one positive factor, which no rank sees), then the tied
 * unembedding: raise[v] = wte[v] . o, for the tokens v of tokens[0..n).
 * o is scratch of C floats; raise has room for V. */
static void head_logit_raise(const GPT *m, int l, int h, int b, int t, const int *tokens, int n, float *o,
                             float *raise) {
    const GPTConfig *c = &m->config;
    int C = c->C, hs = C / c->NH;
    const float *y = score_head_outputs(m, l, b) + (size_t)t * C + (size_t)h * hs;
    LayerParams lp = gpt_layer_params(&m->params, c, l);
    double mean = 0.0;
    for (int i = 0; i < C; i++) {
        const float *w = lp.attprojw + (size_t)i * C + (size_t)h * hs;
        float s = 0.0f;
        for (int j = 0; j < hs; j++) s += w[j] * y[j];
        o[i] = s;
        mean += s;
    }
    mean /= C;
    for (int i = 0; i < C; i++) o[i] = (o[i] - (float)mean) * m->params.lnfw[i];
    for (int k = 0; k < n; k++) {
        const float *e = m->params.wte + (size_t)tokens[k] * C;
        float s = 0.0f;
        for (int i = 0; i < C; i++) s += e[i] * o[i];
        raise[tokens[k]] = s;
    }
}

/* The copying score of every head at the repeated half of document row b:
 * the token each position attends to most, ranked by copy_rank. */
static void head_copy_scores(const GPT *m, int b, const int *tokens, int n, int half, HeadTally *ht, float *scratch) {
    const GPTConfig *c = &m->config;
    float *o = scratch, *raise = scratch + c->C;
    for (int l = 0; l < c->L; l++) {
        for (int h = 0; h < c->NH; h++) {
            const float *att = score_attention(m, l, b, h);
            for (int t = half; t < n; t++) {
                const float *row = att + (size_t)t * m->T;
                int top = 0;
                for (int s = 1; s <= t; s++) if (row[s] > row[top]) top = s;
                head_logit_raise(m, l, h, b, t, tokens, n, o, raise);
                ht[l * c->NH + h].copy += copy_rank(raise, tokens, n, tokens[top]);
                ht[l * c->NH + h].ncopy++;
            }
        }
    }
}

/* ---- evaluation ---- */

typedef struct {
    float loss_fresh, loss_repeated;    /* held-out, nats per token */
    float acc[NUM_KS];                  /* pairing accuracy at KS[j] */
    float prefix[MAX_HEADS], copy[MAX_HEADS], prev[MAX_HEADS];  /* head l*NH+h */
    int best;                           /* the head with the highest prefix-matching score */
    int best_prev;                      /* the highest previous-token score, other than best */
} Eval;

/* Scratch for a batch of held-out documents. */
typedef struct {
    int *inputs, *targets;   /* (B, T) */
    float *fresh, *repeated; /* (B, T) loss weights of the two halves */
    float *scratch;          /* C + V */
} EvalBuf;

/* Fills the batch with documents d[0..B): inputs are tokens[0..n-1), targets
 * tokens[1..n), padded with end-of-text at weight 0. Returns T. */
static int fill_docs(EvalBuf *eb, const Doc *d, int B, int pad) {
    int T = 1;
    for (int b = 0; b < B; b++) if (d[b].n - 1 > T) T = d[b].n - 1;
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            int i = b * T + t, real = t + 1 < d[b].n;
            eb->inputs[i] = t < d[b].n ? d[b].tokens[t] : pad;
            eb->targets[i] = real ? d[b].tokens[t + 1] : pad;
            /* fresh: the first block's words after the first (position 2 follows "\n") */
            eb->fresh[i] = real && t + 1 > 2 && t + 1 < d[b].half;
            eb->repeated[i] = real && t + 1 >= d[b].half;
        }
    }
    return T;
}

/* The two halves' losses and every head's scores on the held-out documents. */
static void eval_docs(GPT *m, const DocSet *ds, EvalBuf *eb, int pad, Eval *e) {
    const GPTConfig *c = &m->config;
    HeadTally ht[MAX_HEADS] = {{0}};
    double loss[2] = {0, 0}, weight[2] = {0, 0};
    for (int i0 = 0; i0 < ds->n; i0 += EVAL_BATCH) {
        int B = ds->n - i0 < EVAL_BATCH ? ds->n - i0 : EVAL_BATCH;
        int T = fill_docs(eb, ds->d + i0, B, pad);
        gpt_forward(m, eb->inputs, B, T);
        float *w[2] = {eb->fresh, eb->repeated};
        for (int k = 0; k < 2; k++) {
            double wsum = 0;
            for (int i = 0; i < B * T; i++) wsum += w[k][i];
            loss[k] += wsum > 0 ? gpt_lm_loss(m, eb->targets, w[k]) * wsum : 0.0;
            weight[k] += wsum;
        }
        for (int b = 0; b < B; b++) {
            const Doc *d = &ds->d[i0 + b];
            for (int h = 0; h < c->L * c->NH; h++) {
                head_attention_scores(score_attention(m, h / c->NH, b, h % c->NH), T, d->tokens, d->n - 1,
                                      d->half, &ht[h]);
            }
            head_copy_scores(m, b, d->tokens, d->n - 1, d->half, ht, eb->scratch);
        }
    }
    e->loss_fresh = (float)(loss[0] / weight[0]);
    e->loss_repeated = (float)(loss[1] / weight[1]);
    e->best = 0;
    for (int h = 0; h < c->L * c->NH; h++) {
        e->prefix[h] = ht[h].nprefix ? (float)(ht[h].prefix / ht[h].nprefix) : 0.0f;
        e->prev[h] = ht[h].nprev ? (float)(ht[h].prev / ht[h].nprev) : 0.0f;
        e->copy[h] = ht[h].ncopy ? (float)(ht[h].copy / ht[h].ncopy) : 0.0f;
        if (e->prefix[h] > e->prefix[e->best]) e->best = h;
    }
    e->best_prev = e->best == 0 && c->L * c->NH > 1 ? 1 : 0;
    for (int h = 0; h < c->L * c->NH; h++) {
        if (h != e->best && e->prev[h] > e->prev[e->best_prev]) e->best_prev = h;
    }
}

/* In-context learning: the share of pairing queries whose defined value is
 * the likeliest candidate (score_candidates, summed log-probability). */
static void pairing_accuracy(GPT *m, const Pairing *p, Eval *e) {
    Score s[SCORE_MAX_CANDIDATES];
    for (int j = 0; j < NUM_KS; j++) {
        int right = 0;
        for (int i = 0; i < p->nq; i++) {
            score_candidates(m, p->tokens[j][i], p->len[j][i], p->cands.tokens, p->cands.len, p->cands.n, s);
            right += score_best(s, p->cands.n, 0) == p->answer[i];
        }
        e->acc[j] = (float)right / (float)p->nq;
    }
}

/* ---- the run's world: tokenizer, data, model ---- */

typedef struct {
    Tokenizer tok;
    GPT m;
    int *train;        /* (ntrain) training tokens */
    size_t ntrain;
    DocSet docs;
    Pairing pairing;
    EvalBuf eb;
    int eot;
} World;

static void world_open(World *w, const Options *o) {
    tokenizer_load(&w->tok, o->tokenizer);
    int V = w->tok.vocab_size;
    w->train = tokens_load(o->data, &w->ntrain, V);
    if (w->ntrain <= (size_t)o->seq + 1) die("%s has %zu tokens: too few for one sequence of %d", o->data, w->ntrain, o->seq + 1);
    if (o->layers * o->nheads > MAX_HEADS) die("--layers x --heads: at most %d heads", MAX_HEADS);
    gpt_build(&w->m, gpt_config(o->seq, V, o->layers, o->nheads, o->channels), (uint64_t)o->seed);
    w->m.tokenizer_id = tokenizer_id(&w->tok);
    w->docs = load_docs(&w->tok, o->test, o->eval_docs, o->seq);
    w->pairing = load_pairing(&w->tok, o->pool, o->queries, o->nqueries, o->seq);
    w->eot = tokenizer_special_id(&w->tok, TOK_EOT);
    size_t BT = (size_t)(o->batch > EVAL_BATCH ? o->batch : EVAL_BATCH) * (size_t)o->seq;
    w->eb.inputs = malloc_or_die(sizeof(int) * 2 * BT, "inputs and targets");  /* one bag of ints, one of floats */
    w->eb.targets = w->eb.inputs + BT;
    w->eb.fresh = malloc_or_die(sizeof(float) * (2 * BT + (size_t)(o->channels + V)), "weights and scratch");
    w->eb.repeated = w->eb.fresh + BT;
    w->eb.scratch = w->eb.repeated + BT;
}

static void world_close(World *w) {
    free(w->eb.inputs);
    free(w->eb.fresh);
    free_pairing(&w->pairing);
    free_docs(&w->docs);
    free(w->train);
    gpt_free(&w->m);
    tokenizer_free(&w->tok);
}

static Eval evaluate(World *w) {
    Eval e = {0};
    eval_docs(&w->m, &w->docs, &w->eb, w->eot, &e);
    pairing_accuracy(&w->m, &w->pairing, &e);
    return e;
}

/* ---- logs and heatmaps ---- */

static void head_name(char *buf, size_t n, int h, int NH) { snprintf(buf, n, "l%dh%d", h / NH, h % NH); }

/* The run's logs and its phase-change detector. */
typedef struct {
    AtomicFile log, heads;
    int nh, NH;        /* heads in all, heads per block */
    int phase_step;    /* the first evaluation with a head at PHASE_PREFIX; -1: none yet */
    double t_start;
} Report;

/* Opens both logs (kept until the run succeeds) and writes their headers. */
static void report_open(Report *r, const Options *o) {
    *r = (Report){.nh = o->layers * o->nheads, .NH = o->nheads, .phase_step = -1, .t_start = now_seconds()};
    log_open(&r->log, o->log, 0);
    log_open(&r->heads, o->heads_log, 0);
    AtomicFile *log = &r->log, *heads = &r->heads;
    fprintf(log->f, "step\ttrain_loss\ttrain_loss_ema\tlr\tloss_fresh\tloss_repeated\tacc_k1\tacc_k2\tacc_k4\tacc_k8\t"
                    "best_prefix\tbest_copy\n");
    fprintf(heads->f, "step");
    const char *kinds[3] = {"prefix", "copy", "prev"};
    char name[32];
    for (int k = 0; k < 3; k++) {
        for (int h = 0; h < r->nh; h++) {
            head_name(name, sizeof name, h, r->NH);
            fprintf(heads->f, "\t%s_%s", kinds[k], name);
        }
    }
    fputc('\n', heads->f);
    log_flush(log);
    log_flush(heads);
}

/* Every step: a line on stdout and a row of the log ("-" in the evaluation
 * columns between evaluations). Every evaluation (e not NULL): a line, a row
 * of the heads log, and the phase-change check. */
static void log_iteration(Report *r, int step, int steps, float loss, float ema, float lr, float norm, const Eval *e) {
    FILE *f = r->log.f;
    if (step > 0) {
        double elapsed = now_seconds() - r->t_start;
        printf("step %4d/%d | loss %.4f (ema %.4f) | lr %.2e | norm %.2f | %.0f s left\n", step, steps, loss, ema,
               lr, norm, elapsed / step * (steps - step));
        fprintf(f, "%d\t%.5f\t%.5f\t%.6g", step, loss, ema, lr);
    } else {
        fprintf(f, "0\t-\t-\t0");
    }
    if (!e) {
        fputs("\t-\t-\t-\t-\t-\t-\t-\t-\n", f);
        log_flush(&r->log);
        return;
    }
    fprintf(f, "\t%.5f\t%.5f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\n", e->loss_fresh, e->loss_repeated, e->acc[0],
            e->acc[1], e->acc[2], e->acc[3], e->prefix[e->best], e->copy[e->best]);
    log_flush(&r->log);
    fprintf(r->heads.f, "%d", step);
    const float *score[3] = {e->prefix, e->copy, e->prev};
    for (int k = 0; k < 3; k++) for (int h = 0; h < r->nh; h++) fprintf(r->heads.f, "\t%.4f", score[k][h]);
    fputc('\n', r->heads.f);
    log_flush(&r->heads);
    if (r->phase_step < 0 && e->prefix[e->best] >= PHASE_PREFIX) r->phase_step = step;
    char name[32];
    head_name(name, sizeof name, e->best, r->NH);
    printf("  eval %d: held-out loss fresh %.3f, repeated %.3f | pairing k=1/2/4/8 %.2f %.2f %.2f %.2f | "
           "best head %s: prefix %.2f copy %.2f\n", step, e->loss_fresh, e->loss_repeated, e->acc[0], e->acc[1],
           e->acc[2], e->acc[3], name, e->prefix[e->best], e->copy[e->best]);
}

/* The induction head and the previous-token head on the first held-out
 * document, as two blocks of one file (gnuplot: index 0 and index 1). */
static void write_heatmaps(World *w, const Eval *e, const char *path) {
    const Doc *d = &w->docs.d[0];
    gpt_forward(&w->m, d->tokens, 1, d->n - 1);
    int NH = w->m.config.NH;
    AtomicFile af;
    atomic_open(&af, path);
    score_write_attention(af.f, &w->m, &w->tok, d->tokens, e->best / NH, e->best % NH, "induction head");
    fputs("\n\n", af.f);  /* the next gnuplot index */
    score_write_attention(af.f, &w->m, &w->tok, d->tokens, e->best_prev / NH, e->best_prev % NH, "previous-token head");
    atomic_commit(&af);
}

/* ---- training ---- */


static void print_results(const World *w, const Eval *e, int phase_step, double seconds) {
    int NH = w->m.config.NH;
    char best[32], prev[32];
    head_name(best, sizeof best, e->best, NH);
    head_name(prev, sizeof prev, e->best_prev, NH);
    printf("induction done in %.1f s\n", seconds);
    printf("heads (prefix matching / copying / previous token):\n");
    for (int h = 0; h < w->m.config.L * NH; h++) {
        char name[32];
        head_name(name, sizeof name, h, NH);
        printf("  %s  %.3f / %.3f / %.3f\n", name, e->prefix[h], e->copy[h], e->prev[h]);
    }
    char phase[64] = "none (no head reached prefix matching 0.5)";
    if (phase_step >= 0) snprintf(phase, sizeof phase, "step %d", phase_step);
    printf("summary induction: phase change %s; pairing k=8 %.2f (k=1/2/4: %.2f %.2f %.2f, chance 0.08); "
           "best head %s prefix %.2f copy %.2f (previous-token head %s %.2f); held-out loss repeated %.2f vs fresh %.2f\n",
           phase, e->acc[3], e->acc[0], e->acc[1], e->acc[2], best, e->prefix[e->best], e->copy[e->best], prev,
           e->prev[e->best_prev], e->loss_repeated, e->loss_fresh);
}

static void train(const Options *o) {
    World w = {0};
    world_open(&w, o);
    GPT *m = &w.m;
    int B = o->batch, T = o->seq;
    printf("induction: %zu training tokens (%s), %d held-out documents, %d pairing queries per k\n", w.ntrain,
           o->data, w.docs.n, w.pairing.nq);
    printf("model: L=%d C=%d NH=%d T=%d, %zu parameters\n", o->layers, o->channels, o->nheads, T, m->num_parameters);
    Report r;
    report_open(&r, o);
    Eval e = evaluate(&w);
    log_iteration(&r, 0, o->steps, NAN, NAN, 0.0f, NAN, &e);
    Rng rng;
    rng_seed(&rng, (uint64_t)o->seed + 1000);
    AdamWConfig adam = {0.9f, 0.95f, 1e-8f, o->weight_decay};
    float ema = 0.0f;
    for (int step = 1; step <= o->steps; step++) {
        gpt_random_windows(w.train, w.ntrain, B, T, w.eb.inputs, w.eb.targets, &rng);
        float loss = gpt_lm_step(m, w.eb.inputs, w.eb.targets, NULL, B, T);
        die_if_not_finite("the training loss", loss, step);
        float norm = gpt_clip_grad(m, o->clip);
        die_if_not_finite("the gradient norm", norm, step);
        float lr = lr_cosine(step - 1, o->steps, o->warmup, o->lr, o->lr * o->min_lr_frac);
        gpt_update(m, lr, &adam);
        ema = step == 1 ? loss : EMA_DECAY * ema + (1.0f - EMA_DECAY) * loss;
        int evaluated = step % o->eval_every == 0 || step == o->steps;
        if (evaluated) {
            e = evaluate(&w);  /* held-out halves, every head's scores, pairing accuracy */
            die_if_not_finite("the held-out loss", e.loss_repeated, step);
        }
        log_iteration(&r, step, o->steps, loss, ema, lr, norm, evaluated ? &e : NULL);
    }
    gpt_save(m, o->out);
    write_heatmaps(&w, &e, o->heatmap);
    log_commit(&r.log);
    log_commit(&r.heads);
    print_results(&w, &e, r.phase_step, now_seconds() - r.t_start);
    printf("checkpoint: %s; heatmaps: %s\n", o->out, o->heatmap);
    world_close(&w);
}

/* ---- --attention: any checkpoint, block, head and prompt ---- */

static void attention_mode(const Options *o) {
    Tokenizer tok;
    tokenizer_load(&tok, o->tokenizer);
    GPT m;
    gpt_load(&m, o->model);
    gpt_check_tokenizer(&m, o->model, &tok, o->tokenizer);
    const GPTConfig *c = &m.config;
    if (o->layer >= c->L) die("--layer %d: %s has blocks 0..%d", o->layer, o->model, c->L - 1);
    if (o->head >= c->NH) die("--head %d: %s has heads 0..%d", o->head, o->model, c->NH - 1);
    char *text = o->prompt[0] ? strdup_or_die(o->prompt) : read_file_or_die(o->test, NULL);
    text[strcspn(text, "\n")] = '\0';  /* the default: the first held-out document */
    int n;
    int *tokens = encode_prompt(&tok, text, &n);
    if (n > c->maxT) die("the prompt has %d tokens; %s's context is %d", n, o->model, c->maxT);
    gpt_forward(&m, tokens, 1, n);
    AtomicFile af;
    atomic_open(&af, o->heatmap);
    score_write_attention(af.f, &m, &tok, tokens, o->layer, o->head, text);
    atomic_commit(&af);
    printf("attention of block %d head %d over %d tokens of \"%s\": %s\n", o->layer, o->head, n, text, o->heatmap);
    free(tokens);
    free(text);
    gpt_free(&m);
    tokenizer_free(&tok);
}

/* ---- main ---- */

#ifndef TESTING
int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);  /* progress lines appear as they happen, even in a pipe */
    Options o = defaults();
    parse_flags(&o, argc, argv);
    set_threads(o.threads);
    if (o.attention) attention_mode(&o);
    else train(&o);
    return 0;
}
#endif
