/* gpt3_fewshot.c — rung 3: GPT-3, "Language Models are Few-Shot Learners"
 * (Brown et al. 2020), and chain-of-thought prompting ("Chain-of-Thought
 * Prompting Elicits Reasoning in Large Language Models", Wei et al. 2022).
 *
 * GPT-3's claim (§2): "Few-Shot (FS) is the term we will use in this work to
 * refer to the setting where the model is given a few demonstrations of the
 * task at inference time as conditioning, but no weight updates are
 * allowed." K "can be any value from 0 to the maximum amount allowed by the
 * model's context window". The method (§2.4), as this file does it:
 *
 *   "we evaluate each example in the evaluation set by randomly drawing K
 *   examples from that task's training set as conditioning"
 *       -> draw_shots: k rows of data/fewshot_pool.tsv, seeded per query;
 *          never the query itself. (For the pairing task the query's own
 *          definition is one of the k, since nothing else could tell it.)
 *   "delimited by 1 or 2 newlines depending on the task"
 *       -> build_prompt: our corpus ends a document at a newline and ends a
 *          sentence with " . ", so the shots are joined by " . " (the format
 *          data/README.md documents): "fox -> red . owl -> white . cat ->".
 *   "we provide K examples of context plus correct completion, followed by
 *   one example of context only, and compare the LM likelihood of each
 *   completion"
 *       -> rank_query: the candidates ranked by score_candidates (score.c),
 *          by the summed log-probability; GPT-3 uses the per-token mean, the
 *          same ranking here, where every candidate is one word.
 *   free-form completion ("beam search" in the paper)
 *       -> generate_query: greedy decoding up to " .", compared exactly.
 *
 * Accuracy is measured for k in {0, 1, 2, 4, 8} per task (after GPT-3's
 * Figure 1.2), written to plots/gpt3_fewshot.tsv. For the pairing task,
 * whose answer only an induction head can look up, the attention of every
 * head is probed for that lookup (induction_add).
 *
 * Chain of thought (Wei et al. §2): "a chain of thought — a series of
 * intermediate natural language reasoning steps that lead to the final
 * output". The sums are asked with k direct shots ("53 + 38 = 91") and with
 * k worked shots ("53 + 38 = ? 3 + 8 + 0 = 11 , 5 + 3 + 1 = 9 , so 91"), the
 * same rows drawn for both; the model continues greedily and
 * parse_final_number reads its answer (cot, plots/gpt3_cot.tsv).
 *
 * Left out: beam search, GPT-3's unconditional-probability normalisation,
 * and anything that trains: there is no optimizer in this file.
 */
#include "gpt.h"
#include "score.h"
#include "tokenizer.h"
#include "util.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- constants ---- */

#define MAX_TASKS 16
#define MAX_KS 16
#define MAX_K 64               /* the most shots one prompt may ask for */
#define SHOT_SEP " . "         /* between shots, and before the query */
#define PAIRING_TASK "pairing" /* its answer is defined only inside the prompt */

/* ---- options ---- */

typedef struct {
    const char *model, *tokenizer, *pool, *test, *log, *cot_log;
    int ks[MAX_KS], nks;          /* shot counts for the few-shot table */
    int cot_ks[MAX_KS], ncot_ks;  /* shot counts for chain of thought */
    int evals;                    /* evaluations per task and k (queries x draws) */
    int cot_limit;                /* queries for chain of thought, 0 = all */
    int max_new, cot_max_new;     /* generation budgets: direct answer, worked answer */
    int show, seed, threads;
    int plain;                    /* ranked tasks as "car four", not "car -> four" */
} Options;

/* Parses "0,1,2,4,8" into ks; dies on anything else. */
static int parse_ks(const char *flag, const char *s, int *ks) {
    int n = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (n == MAX_KS) die("--%s: at most %d values", flag, MAX_KS);
        ks[n++] = (int)parse_long_flag(flag, tok, 0, MAX_K);
    }
    if (n == 0) die("--%s: expected a list like 0,1,2,4,8", flag);
    return n;
}

/* Defaults: the whole few-shot table and chain of thought at k = 0, 1, 2 on
 * every arithmetic query, about a minute on two cores. Worked shots are ~30
 * tokens each: with 32 tokens of room for the answer, k = 3 no longer fits
 * T = 128 (the trimming rule below would silently make k = 4 into k = 2). */
static Options defaults(void) {
    Options o = {0};
    o.model = "out/gpt1.bin";
    o.tokenizer = "out/tokenizer.merges";
    o.pool = "data/fewshot_pool.tsv";
    o.test = "data/fewshot_test.tsv";
    o.log = "plots/gpt3_fewshot.tsv";
    o.cot_log = "plots/gpt3_cot.tsv";
    o.nks = parse_ks("ks", "0,1,2,4,8", o.ks);
    o.ncot_ks = parse_ks("cot-ks", "0,1,2", o.cot_ks);
    o.evals = 192;
    o.cot_limit = 0;
    o.max_new = 8;
    o.cot_max_new = 32;
    o.show = 1;
    o.seed = 1;
    /* One thread: each forward pass here is a single prompt of a few dozen
     * tokens, too little work to split. With 2 threads on 2 busy cores the
     * zero-shot run took 66 s instead of 6 s (OpenMP threads spin while they
     * wait for each other); on idle cores the gain is small either way. */
    o.threads = 1;
    return o;
}

/* The tiny preset for tests: every code path, a few queries. */
static void apply_fast(Options *o) {
    o->nks = parse_ks("ks", "0,1,2", o->ks);
    o->ncot_ks = parse_ks("cot-ks", "0,1", o->cot_ks);
    o->evals = 4;
    o->cot_limit = 3;
    o->cot_max_new = 12;
    o->max_new = 4;
    o->show = 0;
}

/* ---- the task files: task <TAB> input <TAB> answer <TAB> worked <TAB> candidates ---- */

typedef struct {
    const char *task, *input, *answer, *worked;
    Candidates cands;  /* n == 0: an open question, answered by generation */
    int line;
} Row;

typedef struct {
    const char *path;
    Tsv tsv;           /* owns the strings */
    Row *rows;
    int n;
} RowSet;

static void load_rows(RowSet *rs, Tokenizer *tok, const char *path) {
    memset(rs, 0, sizeof *rs);
    rs->path = path;
    tsv_read(&rs->tsv, path, 5);
    rs->rows = calloc_or_die((size_t)rs->tsv.nrows, sizeof(Row), "rows");
    for (int i = 0; i < rs->tsv.nrows; i++) {
        const TsvRow *r = &rs->tsv.rows[i];
        Row *w = &rs->rows[rs->n++];
        char where[512];
        snprintf(where, sizeof where, "%s:%d", path, r->line);
        w->task = r->fields[0];
        w->input = r->fields[1];
        w->answer = r->fields[2];
        w->worked = r->fields[3];
        w->line = r->line;
        if (!w->task[0]) die("%s: the task name is empty", where);
        if (!w->input[0]) die("%s: the input is empty", where);
        if (!w->answer[0]) die("%s: the answer is empty", where);
        if (r->fields[4][0]) {
            candidates_parse(&w->cands, tok, r->fields[4], where);
            if (candidates_find(&w->cands, w->answer) < 0) {
                die("%s: the answer '%s' is not among the candidates '%s'", where, w->answer, r->fields[4]);
            }
        }
    }
}

static void free_rows(RowSet *rs) {
    for (int i = 0; i < rs->n; i++) candidates_free(&rs->rows[i].cands);
    free(rs->rows);
    tsv_free(&rs->tsv);
}

/* The rows of one task: indices into the pool and the test set. */
typedef struct {
    const char *name;
    int *pool, npool;
    int *test, ntest;
    int generate;      /* no candidates: answered by generation, "IN = OUT" format */
    int defined;       /* the query's own line goes among the shots (pairing) */
} Task;

static int *rows_of(const RowSet *rs, const char *task, int *n) {
    int *idx = malloc_or_die(sizeof(int) * (size_t)(rs->n + 1), "task rows");
    *n = 0;
    for (int i = 0; i < rs->n; i++) if (strcmp(rs->rows[i].task, task) == 0) idx[(*n)++] = i;
    return idx;
}

/* The tasks in the order of the test file; every test task needs pool rows,
 * and a task is either all ranked (candidates) or all generated. */
static int find_tasks(Task *tasks, const RowSet *pool, const RowSet *test) {
    int nt = 0;
    for (int i = 0; i < test->n; i++) {
        const Row *r = &test->rows[i];
        int known = 0;
        for (int t = 0; t < nt; t++) known |= strcmp(tasks[t].name, r->task) == 0;
        if (known) continue;
        if (nt == MAX_TASKS) die("%s:%d: more than %d tasks", test->path, r->line, MAX_TASKS);
        Task *t = &tasks[nt++];
        t->name = r->task;
        t->test = rows_of(test, r->task, &t->ntest);
        t->pool = rows_of(pool, r->task, &t->npool);
        t->generate = r->cands.n == 0;
        t->defined = strcmp(r->task, PAIRING_TASK) == 0;
        if (t->npool == 0) die("%s has no '%s' rows to draw shots from (%s:%d asks one)", pool->path, r->task, test->path, r->line);
        const RowSet *sets[2] = {pool, test};
        const int *idx[2] = {t->pool, t->test}, counts[2] = {t->npool, t->ntest};
        for (int s = 0; s < 2; s++) {
            for (int j = 0; j < counts[s]; j++) {
                const Row *x = &sets[s]->rows[idx[s][j]];
                if ((x->cands.n == 0) != t->generate) {
                    die("%s:%d: task '%s' %s candidates here, unlike %s:%d", sets[s]->path, x->line, r->task,
                        x->cands.n ? "has" : "has no", test->path, r->line);
                }
            }
        }
    }
    return nt;
}

/* ---- drawing the shots ---- */

/* Two inputs of the form "A + B" that are the same sum in either order. */
static int same_sum(const char *a, const char *b) {
    int a1, a2, b1, b2;
    if (sscanf(a, "%d + %d", &a1, &a2) != 2 || sscanf(b, "%d + %d", &b1, &b2) != 2) return 0;
    return (a1 == b1 && a2 == b2) || (a1 == b2 && a2 == b1);
}

/* A pool row may not be a shot for `q` if it asks the same question or its
 * reverse: the same input ("hot -> cold" for "hot ->"), the input that is q's
 * answer ("cold -> hot" gives "hot ->" away), or the same sum. */
static int gives_away(const Row *shot, const Row *q) {
    return strcmp(shot->input, q->input) == 0 || strcmp(shot->input, q->answer) == 0 ||
           same_sum(shot->input, q->input);
}

/* The random stream of one (task, k, query, draw): every evaluation draws its
 * shots from its own seed, so a run is reproducible, the direct and worked
 * chain-of-thought prompts see the same rows, and --evals or --ks changes
 * nothing else. */
static uint64_t draw_seed(int seed, int task, int k, int query, int draw) {
    return (uint64_t)seed * 0x9E3779B97F4A7C15ull ^ ((uint64_t)task << 48) ^ ((uint64_t)k << 40) ^
           ((uint64_t)query << 16) ^ (uint64_t)draw;
}

/* Draws up to k shots for test row q of task t into shots[] (pointers to
 * rows, in prompt order) and returns how many: k, or fewer if the pool has
 * fewer eligible rows. Without replacement; never a row that gives the answer
 * away. For the pairing task the query's own line (q itself) is one of the k,
 * at a random place, and the other k-1 have keys different from q's and from
 * each other: only the prompt can tell which number goes with the key. */
static int draw_shots(const Task *t, const RowSet *pool, const Row *q, int k, Rng *rng, const Row **shots) {
    if (k == 0) return 0;
    int *order = malloc_or_die(sizeof(int) * (size_t)t->npool, "shot order");
    for (int i = 0; i < t->npool; i++) order[i] = t->pool[i];
    int want = t->defined ? k - 1 : k, n = 0;
    /* a Fisher-Yates shuffle, stopped as soon as enough rows are taken */
    for (int i = 0; i < t->npool && n < want; i++) {
        int j = i + rng_below(rng, t->npool - i);
        int tmp = order[i]; order[i] = order[j]; order[j] = tmp;
        const Row *r = &pool->rows[order[i]];
        if (gives_away(r, q)) continue;
        int clash = 0;
        for (int s = 0; s < n && t->defined; s++) clash |= strcmp(shots[s]->input, r->input) == 0;
        if (clash) continue;
        shots[n++] = r;
    }
    free(order);
    if (t->defined) {
        int at = rng_below(rng, n + 1);
        memmove(shots + at + 1, shots + at, sizeof(shots[0]) * (size_t)(n - at));
        shots[at] = q;
        n++;
    }
    return n;
}

/* ---- the prompt ---- */

/* How a shot and the query are written, per format:
 *   FMT_ARROW   "fox -> red"     query "cat ->"      the ranked tasks
 *   FMT_PLAIN   "car four"       query "car"         --plain: pairings as the corpus writes them
 *   FMT_DIRECT  "53 + 38 = 91"   query "31 + 54 ="   sums, direct answer
 *   FMT_WORKED  "53 + 38 = ? 3 + 8 + 0 = 11 , 5 + 3 + 1 = 9 , so 91"   query "31 + 54 = ?" */
typedef enum { FMT_ARROW, FMT_PLAIN, FMT_DIRECT, FMT_WORKED } Format;
static const char *const SHOT_MID[] = {" -> ", " ", " = ", " = ? "};
static const char *const QUERY_END[] = {" ->", "", " =", " = ?"};

static void append(char **buf, size_t *len, size_t *cap, const char *s) {
    size_t n = strlen(s);
    while (*len + n + 1 > *cap) {
        *cap = *cap ? 2 * *cap : 256;
        *buf = realloc_or_die(*buf, *cap, "prompt");
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
}

/* The k-shot prompt (data/README.md): the shots, then the query, joined by
 * " . ": "fox -> red . owl -> white . cat ->". The query has no answer:
 * "cat ->", "53 + 38 =", "53 + 38 = ?". Returns a malloc'd string; if
 * answer_at is not NULL, answer_at[i] is the offset in it where shot i's
 * answer (or worked steps) begins. */
static char *build_prompt(const Row *const *shots, int k, const Row *q, Format f, int *answer_at) {
    char *buf = NULL;
    size_t len = 0, cap = 0;
    append(&buf, &len, &cap, "");
    for (int i = 0; i < k; i++) {
        append(&buf, &len, &cap, shots[i]->input);
        append(&buf, &len, &cap, SHOT_MID[f]);
        if (answer_at) answer_at[i] = (int)len;
        append(&buf, &len, &cap, f == FMT_WORKED ? shots[i]->worked : shots[i]->answer);
        append(&buf, &len, &cap, SHOT_SEP);
    }
    append(&buf, &len, &cap, q->input);
    append(&buf, &len, &cap, QUERY_END[f]);
    return buf;
}

/* The context rule stated in --help: the prompt plus `room` tokens (the
 * longest candidate, or the generation budget) must fit in the model's
 * context. Shots are dropped, oldest first, until it does (never the pairing
 * query's own definition); if the query alone is still too long, its
 * oldest tokens are cut (score_fit). Returns the prompt's tokens (malloc'd,
 * length in *n), the shots kept in *kept (shots[] is compacted) and the
 * tokens cut in *cut. */
static int *encode_fitting(Tokenizer *tok, const Row **shots, int k, const Row *q, Format f, int room,
                           int maxT, int *n, int *kept, int *cut) {
    for (;;) {
        char *text = build_prompt(shots, k, q, f, NULL);
        int *tokens = encode_prompt(tok, text, n);
        free(text);
        int cap = room > maxT / 2 ? maxT / 2 : room;
        int droppable = -1;
        for (int i = 0; i < k && droppable < 0; i++) if (shots[i] != q) droppable = i;
        if (*n + cap <= maxT || droppable < 0) {
            *cut = score_fit(tokens, n, room, maxT);
            *kept = k;
            return tokens;
        }
        free(tokens);
        memmove(shots + droppable, shots + droppable + 1, sizeof(shots[0]) * (size_t)(k - droppable - 1));
        k--;
    }
}

/* ---- what one question gives ---- */

typedef struct {
    int correct;
    int answered;   /* generation: a number could be read (chain of thought) */
    int picks_last; /* ranking: the pick is the most recent shot's answer (recency) */
    int steps_right;/* worked: every step of the chain is exactly the true one */
    int kept;       /* shots that fit in the prompt */
    char pick[128]; /* what the model answered, for --show */
} Outcome;

/* ---- looking for an induction head ---- */

/* In a pairing prompt "car -> four . owl -> seven . car ->" the answer is the
 * token after the earlier "car ->". An induction head does exactly that
 * lookup: at the last position it attends to the token that followed the
 * previous occurrence of the current context. So for every block and head
 * we sum the attention from the prompt's last position to the matching
 * definition's value ("four"), and, for contrast, the mean attention to the
 * other shots' values ("seven"). A head that has formed puts most of its
 * weight on the match and little on the others. */
typedef struct {
    double *match, *other;  /* (L*NH) summed attention */
    double uniform;         /* summed 1/(positions seen): what attending evenly gives */
    int n, nother;          /* prompts summed (with at least two shots, for other) */
} Induction;

/* The index in tokens[0..n) (from encode_prompt: <|endoftext|>, then "\n"
 * and the text) of the token that holds byte `at` of the text, or -1. */
static int token_at(const Tokenizer *tok, const int *tokens, int n, int at) {
    int off = 0;  /* bytes of "\n" + text before tokens[i] */
    for (int i = 1; i < n; i++) {
        int len;
        tokenizer_token_bytes(tok, tokens[i], &len);
        if (at + 1 >= off && at + 1 < off + len) return i;
        off += len;
    }
    return -1;
}

/* Adds the attention of the last forward (row 0; the prompt ctx[0..n)) to
 * ind, for a prompt whose shots[0..k) are written in format f. */
static void induction_add(Induction *ind, const GPT *m, const Tokenizer *tok, const int *ctx, int n,
                          const Row **shots, int k, const Row *q, Format f) {
    int at[MAX_K], pos[MAX_K], def = -1;
    char *text = build_prompt(shots, k, q, f, at);
    free(text);
    for (int i = 0; i < k; i++) {
        pos[i] = token_at(tok, ctx, n, at[i]);
        if (pos[i] < 0) return;
        if (shots[i] == q) def = i;
    }
    if (def < 0) return;
    int T = m->T, L = m->config.L, NH = m->config.NH, last = n - 1;
    for (int l = 0; l < L; l++) {
        for (int h = 0; h < NH; h++) {
            const float *row = score_attention(m, l, 0, h) + (size_t)last * T;  /* what the last position attends to */
            ind->match[l * NH + h] += row[pos[def]];
            double other = 0.0;
            for (int i = 0; i < k; i++) if (i != def) other += row[pos[i]];
            if (k > 1) ind->other[l * NH + h] += other / (k - 1);
        }
    }
    ind->uniform += 1.0 / (last + 1);
    ind->n++;
    ind->nother += k > 1;
}

static void print_induction(const Induction *ind, int k, int L, int NH) {
    if (ind->n == 0) return;
    int best = 0;
    for (int i = 1; i < L * NH; i++) if (ind->match[i] > ind->match[best]) best = i;
    printf("  k=%d: attention of the last position to the matching value: best head l%d h%d %.3f",
           k, best / NH, best % NH, ind->match[best] / ind->n);
    if (ind->nother) printf(", to the other values %.3f", ind->other[best] / ind->nother);
    printf(" (attending evenly: %.3f)\n", ind->uniform / ind->n);
}

static void print_induction_grid(const Induction *ind, int k, int L, int NH) {
    if (ind->n == 0 || ind->nother == 0) return;
    printf("  k=%d, every head: attention to the matching value / to the other values\n      ", k);
    for (int h = 0; h < NH; h++) printf("     head %-4d", h);
    printf("\n");
    for (int l = 0; l < L; l++) {
        printf("  block %d", l);
        for (int h = 0; h < NH; h++) {
            printf("   %.3f/%.3f", ind->match[l * NH + h] / ind->n, ind->other[l * NH + h] / ind->nother);
        }
        printf("\n");
    }
}

/* ---- answering: rank the candidates, or generate ---- */

static Outcome rank_query(GPT *m, Tokenizer *tok, const Row *q, const Row **shots, int k, Format f,
                          Induction *ind) {
    Outcome o = {0};
    int n, cut;
    int *ctx = encode_fitting(tok, shots, k, q, f, q->cands.maxlen, m->config.maxT, &n, &o.kept, &cut);
    Score s[SCORE_MAX_CANDIDATES];
    score_candidates(m, ctx, n, q->cands.tokens, q->cands.len, q->cands.n, s);
    if (ind && cut == 0) induction_add(ind, m, tok, ctx, n, shots, o.kept, q, f);
    int best = score_best(s, q->cands.n, 0);  /* single-token words: sum and mean agree */
    const char *pick = q->cands.text[best];
    o.correct = strcmp(pick, q->answer) == 0;
    o.picks_last = o.kept > 0 && strcmp(pick, shots[o.kept - 1]->answer) == 0;
    snprintf(o.pick, sizeof o.pick, "%s", pick);
    free(ctx);
    return o;
}

/* The number a generated answer ends with: the last run of digits in text
 * ("3 + 8 + 0 = 11 , 5 + 3 + 1 = 9 , so 91 ." -> 91). Returns 1 and sets
 * *value, or 0 if the text holds no digit (no answer). */
static int parse_final_number(const char *text, long *value) {
    const char *end = NULL;
    for (const char *p = text; *p; p++) if (isdigit((unsigned char)*p)) end = p;
    if (!end) return 0;
    const char *start = end;
    while (start > text && isdigit((unsigned char)start[-1])) start--;
    long v = 0;
    for (const char *p = start; p <= end; p++) {
        if (v > 100000000L) return 0;  /* absurdly long: no answer */
        v = v * 10 + (*p - '0');
    }
    *value = v;
    return 1;
}

/* Greedy continuation up to a stop token (" .", a newline, end-of-text),
 * decoded; the stop token itself is left out. Returns malloc'd text. */
static char *generate_text(GPT *m, Tokenizer *tok, const int *ctx, int n, int max_new, const unsigned char *stop) {
    int *out = malloc_or_die(sizeof(int) * (size_t)max_new, "generated tokens");
    int k = generate_greedy(m, ctx, n, out, max_new, stop);
    if (k > 0 && stop[out[k - 1]]) k--;
    size_t len;
    char *text = tokenizer_decode(tok, out, (size_t)k, &len);
    free(out);
    return text;
}

/* exact: the generation, spaces trimmed, must equal the answer ("91");
 * otherwise its final number must (chain of thought). */
static Outcome generate_query(GPT *m, Tokenizer *tok, const Row *q, const Row **shots, int k, Format f,
                              int max_new, const unsigned char *stop, int exact) {
    Outcome o = {0};
    int n, cut;
    int *ctx = encode_fitting(tok, shots, k, q, f, max_new, m->config.maxT, &n, &o.kept, &cut);
    char *text = generate_text(m, tok, ctx, n, max_new, stop);
    char *s = text;
    while (*s == ' ') s++;
    size_t len = strlen(s);
    while (len > 0 && s[len - 1] == ' ') s[--len] = '\0';
    long got, want;
    o.answered = parse_final_number(s, &got);
    if (exact) o.correct = strcmp(s, q->answer) == 0;
    else o.correct = o.answered && parse_final_number(q->answer, &want) && got == want;
    o.steps_right = f == FMT_WORKED && strcmp(s, q->worked) == 0;
    snprintf(o.pick, sizeof o.pick, "%s", s);
    free(text);
    free(ctx);
    return o;
}

/* ---- few-shot accuracy against k ---- */

typedef struct {
    int evals, correct, answered, picks_last, steps_right;
    double kept, chance;
} Tally;

static void tally_add(Tally *t, const Outcome *o, double chance) {
    t->evals++;
    t->correct += o->correct;
    t->answered += o->answered;
    t->picks_last += o->picks_last;
    t->steps_right += o->steps_right;
    t->kept += o->kept;
    t->chance += chance;
}

/* One line for --show: the prompt, what the model answered, the answer.
 * Kept (malloc'd) and printed under the accuracy line it belongs to. */
static char *show_line(const Row **shots, int kept, const Row *q, Format f, const Outcome *o) {
    char *text = build_prompt(shots, kept, q, f, NULL);
    size_t n = strlen(text) + strlen(o->pick) + strlen(q->answer) + 64;
    char *line = malloc_or_die(n, "a shown prompt");
    snprintf(line, n, "    | %s  ==> %s (answer %s%s)", text, o->pick, q->answer, o->correct ? ", right" : "");
    free(text);
    return line;
}

static void print_shown(char **lines, int n) {
    for (int i = 0; i < n; i++) {
        printf("%s\n", lines[i]);
        free(lines[i]);
    }
}

/* Every (task, k): each query asked `draws` times with fresh shots, where
 * draws = max(1, evals / queries) and queries = min(evals, all), so that each
 * task gets about `evals` evaluations whatever its size. */
static void fewshot(GPT *m, Tokenizer *tok, const Task *tasks, int nt, const RowSet *pool, const RowSet *test,
                    const Options *o, Tally (*res)[MAX_KS], const unsigned char *stop, FILE *log) {
    fprintf(log, "task\tk\tevals\tcorrect\taccuracy\tchance\tshots_used\tpicks_last_shot\n");
    const Row **shots = malloc_or_die(sizeof(Row *) * MAX_K, "shots");
    char **shown = malloc_or_die(sizeof(char *) * (size_t)(o->show + 1), "shown prompts");
    int heads = m->config.L * m->config.NH;
    Induction ind[MAX_KS];
    for (int ti = 0; ti < nt; ti++) {
        const Task *t = &tasks[ti];
        Format f = t->generate ? FMT_DIRECT : o->plain ? FMT_PLAIN : FMT_ARROW;
        int queries = t->ntest < o->evals ? t->ntest : o->evals;
        int draws = o->evals / queries > 1 ? o->evals / queries : 1;
        for (int ki = 0; ki < o->nks; ki++) {
            int k = o->ks[ki];
            double t0 = now_seconds();
            int nshown = 0;
            Tally *r = &res[ti][ki];
            memset(r, 0, sizeof *r);
            memset(&ind[ki], 0, sizeof ind[ki]);
            if (t->defined) {
                ind[ki].match = calloc_or_die((size_t)heads, sizeof(double), "induction scores");
                ind[ki].other = calloc_or_die((size_t)heads, sizeof(double), "induction scores");
            }
            for (int qi = 0; qi < queries; qi++) {
                const Row *q = &test->rows[t->test[qi]];
                for (int d = 0; d < draws; d++) {
                    Rng rng;
                    rng_seed(&rng, draw_seed(o->seed, ti, k, qi, d));
                    int ns = draw_shots(t, pool, q, k, &rng, shots);
                    Outcome out = t->generate ? generate_query(m, tok, q, shots, ns, f, o->max_new, stop, 1)
                                              : rank_query(m, tok, q, shots, ns, f, t->defined ? &ind[ki] : NULL);
                    tally_add(r, &out, t->generate ? 0.0 : 1.0 / q->cands.n);
                    if (qi < o->show && d == 0) shown[nshown++] = show_line(shots, out.kept, q, f, &out);
                }
            }
            double acc = (double)r->correct / r->evals;
            printf("%-9s k=%d: accuracy %.3f (%d/%d)", t->name, k, acc, r->correct, r->evals);
            if (!t->generate) printf("  chance %.3f", r->chance / r->evals);
            printf("  shots used %.2f  [%.1f s]\n", r->kept / r->evals, now_seconds() - t0);
            print_shown(shown, nshown);
            fprintf(log, "%s\t%d\t%d\t%d\t%.5f\t", t->name, k, r->evals, r->correct, acc);
            if (t->generate) fprintf(log, "-\t"); else fprintf(log, "%.5f\t", r->chance / r->evals);
            fprintf(log, "%.3f\t", r->kept / r->evals);
            if (t->generate || k == 0) fprintf(log, "-\n");
            else fprintf(log, "%.5f\n", (double)r->picks_last / r->evals);
            fflush(log);
        }
        if (t->defined) {
            printf("looking for an induction head in %s (the attention of the prompt's last token):\n", t->name);
            for (int ki = 0; ki < o->nks; ki++) print_induction(&ind[ki], o->ks[ki], m->config.L, m->config.NH);
            print_induction_grid(&ind[o->nks - 1], o->ks[o->nks - 1], m->config.L, m->config.NH);
            for (int ki = 0; ki < o->nks; ki++) {
                free(ind[ki].match);
                free(ind[ki].other);
            }
        }
    }
    free(shown);
    free(shots);
}

static void print_fewshot_table(const Task *tasks, int nt, const Options *o, Tally (*res)[MAX_KS]) {
    printf("\nfew-shot accuracy against k (GPT-3 Figure 1.2; no gradient step)\n%-9s %7s", "task", "chance");
    for (int ki = 0; ki < o->nks; ki++) printf("   k=%-3d", o->ks[ki]);
    printf("\n");
    for (int ti = 0; ti < nt; ti++) {
        printf("%-9s ", tasks[ti].name);
        if (tasks[ti].generate) printf("%7s", "-");
        else printf("%7.3f", res[ti][0].chance / res[ti][0].evals);
        for (int ki = 0; ki < o->nks; ki++) printf("   %.3f", (double)res[ti][ki].correct / res[ti][ki].evals);
        printf("\n");
        int last = o->nks - 1;
        printf("summary gpt3 fewshot: %s accuracy k=%d %.3f, k=%d %.3f\n", tasks[ti].name, o->ks[0],
               (double)res[ti][0].correct / res[ti][0].evals, o->ks[last],
               (double)res[ti][last].correct / res[ti][last].evals);
        if (tasks[ti].defined) {
            printf("%-9s %7s", "  recency", "");
            for (int ki = 0; ki < o->nks; ki++) {
                int k = o->ks[ki];
                if (k == 0) printf("   %5s", "-");
                else printf("   %.3f", (double)res[ti][ki].picks_last / res[ti][ki].evals);
            }
            printf("   <- picked the LAST shot's number (1/k of the time that is also right)\n");
        }
    }
}

/* ---- chain of thought ---- */

/* Every generation task whose pool rows have worked steps: each query with
 * k direct shots and with k worked shots (the same rows), greedy, final
 * number compared. */
static void cot(GPT *m, Tokenizer *tok, const Task *tasks, int nt, const RowSet *pool, const RowSet *test,
                const Options *o, const unsigned char *stop, FILE *log) {
    fprintf(log, "task\tprompt\tk\tevals\tcorrect\taccuracy\tanswered\tsteps_right\tshots_used\n");
    const Row **shots = malloc_or_die(sizeof(Row *) * MAX_K, "shots");
    char **shown = malloc_or_die(sizeof(char *) * (size_t)(o->show + 1), "shown prompts");
    double acc[2][MAX_KS] = {{0}};
    int ran = 0;
    for (int ti = 0; ti < nt; ti++) {
        const Task *t = &tasks[ti];
        if (!t->generate) continue;
        int worked = 1;
        for (int i = 0; i < t->npool; i++) worked &= pool->rows[t->pool[i]].worked[0] != '\0';
        if (!worked) continue;
        ran = 1;
        int queries = o->cot_limit > 0 && o->cot_limit < t->ntest ? o->cot_limit : t->ntest;
        printf("\nchain of thought on %s (Wei et al. 2022): %d quer%s, greedy, up to %d / %d new tokens\n",
               t->name, queries, queries == 1 ? "y" : "ies", o->max_new, o->cot_max_new);
        for (int mode = 0; mode < 2; mode++) {
            Format f = mode ? FMT_WORKED : FMT_DIRECT;
            int max_new = mode ? o->cot_max_new : o->max_new;
            for (int ki = 0; ki < o->ncot_ks; ki++) {
                int k = o->cot_ks[ki];
                double t0 = now_seconds();
                int nshown = 0;
                Tally r = {0};
                for (int qi = 0; qi < queries; qi++) {
                    const Row *q = &test->rows[t->test[qi]];
                    Rng rng;
                    rng_seed(&rng, draw_seed(o->seed, ti, k, qi, 0));  /* the same rows as the few-shot table */
                    int ns = draw_shots(t, pool, q, k, &rng, shots);
                    Outcome out = generate_query(m, tok, q, shots, ns, f, max_new, stop, 0);
                    tally_add(&r, &out, 0.0);
                    if (qi < o->show) shown[nshown++] = show_line(shots, out.kept, q, f, &out);
                }
                acc[mode][ki] = (double)r.correct / r.evals;
                printf("%-6s k=%d: accuracy %.3f (%d/%d)  a number read %.2f", mode ? "worked" : "direct", k,
                       acc[mode][ki], r.correct, r.evals, (double)r.answered / r.evals);
                if (mode) printf("  every step right %.2f", (double)r.steps_right / r.evals);
                printf("  shots used %.2f  [%.1f s]\n", r.kept / r.evals, now_seconds() - t0);
                print_shown(shown, nshown);
                fprintf(log, "%s\t%s\t%d\t%d\t%d\t%.5f\t%.5f\t", t->name, mode ? "worked" : "direct", k,
                        r.evals, r.correct, acc[mode][ki], (double)r.answered / r.evals);
                if (mode) fprintf(log, "%.5f", (double)r.steps_right / r.evals); else fputc('-', log);
                fprintf(log, "\t%.3f\n", r.kept / r.evals);
                fflush(log);
            }
        }
        printf("%-9s", "k");
        for (int ki = 0; ki < o->ncot_ks; ki++) printf("   k=%-3d", o->cot_ks[ki]);
        printf("\n%-9s", "direct");
        for (int ki = 0; ki < o->ncot_ks; ki++) printf("   %.3f", acc[0][ki]);
        printf("\n%-9s", "worked");
        for (int ki = 0; ki < o->ncot_ks; ki++) printf("   %.3f", acc[1][ki]);
        printf("\n");
        printf("summary gpt3 chain of thought (%s):", t->name);
        for (int ki = 0; ki < o->ncot_ks; ki++) printf(" k=%d worked %.3f vs direct %.3f%s", o->cot_ks[ki],
                                                       acc[1][ki], acc[0][ki], ki + 1 < o->ncot_ks ? ";" : "");
        printf("\n");
    }
    if (!ran) printf("\nchain of thought: no generation task with worked steps in %s\n", pool->path);
    free(shown);
    free(shots);
}

/* ---- main ---- */

static void usage(void) {
    Options d = defaults();
    printf("usage: gpt3_fewshot [flags]\n"
           "Few-shot prompting (GPT-3) and chain of thought (Wei et al.) with the pretrained model.\n"
           "For each test query, k shots are drawn from the pool (seeded per query; never the query's\n"
           "own row or its reverse; for 'pairing' the query's own definition is one of the k) and\n"
           "joined by \" . \": \"fox -> red . owl -> white . cat ->\". Tasks with candidates are ranked\n"
           "by summed log-probability; tasks without are generated greedily up to \" .\" and compared\n"
           "exactly (\"53 + 38 =\" -> \"91\"). Chain of thought asks the same sums with k direct shots\n"
           "(\"53 + 38 = 91\") and k worked shots (\"53 + 38 = ? 3 + 8 + 0 = 11 , ... , so 91\") and\n"
           "compares the final number of the greedy continuation.\n"
           "Context rule: a prompt whose tokens plus room for the answer (the longest candidate, or\n"
           "the generation budget) exceed the model's context loses shots, oldest first, until it\n"
           "fits; the output reports the mean number of shots used.\n"
           "flags (default):\n"
           "  --model PATH       pretrained checkpoint from gpt1 pretrain (%s)\n"
           "  --tokenizer PATH   tokenizer merges (%s)\n"
           "  --pool PATH        shots: task<TAB>input<TAB>answer<TAB>worked<TAB>candidates (%s)\n"
           "  --test PATH        queries, same columns (%s)\n"
           "  --log PATH         TSV: accuracy per task and k (%s)\n"
           "  --cot-log PATH     TSV: chain-of-thought accuracy per prompt style and k (%s)\n"
           "  --ks LIST          shot counts for the few-shot table (0,1,2,4,8)\n"
           "  --cot-ks LIST      shot counts for chain of thought (0,1,2)\n"
           "  --evals N          evaluations per task and k, about: a task with fewer queries asks\n"
           "                     each one N / queries times, with fresh shots each time (%d)\n"
           "  --cot-limit N      chain-of-thought queries, 0 = all (%d)\n"
           "  --max-new N        tokens generated for a direct answer (%d)\n"
           "  --cot-max-new N    tokens generated for a worked answer (%d)\n"
           "  --show N           print the first N prompts of every task and k with the answer (%d)\n"
           "  --seed N           seed of the shot draws (%d)\n"
           "  --threads N        OpenMP threads, 0 = all cores (%d: one prompt at a time is too\n"
           "                     little work to split; spin-waiting threads made it slower)\n"
           "  --plain            write ranked shots as \"car four\" (how the corpus writes pairings)\n"
           "                     instead of \"car -> four\" (off)\n"
           "  --fast             tiny settings for tests: --ks 0,1,2 --cot-ks 0,1 --evals 4\n"
           "                     --cot-limit 3 --max-new 4 --cot-max-new 12 --show 0\n"
           "  --help             this text\n",
           d.model, d.tokenizer, d.pool, d.test, d.log, d.cot_log, d.evals, d.cot_limit, d.max_new,
           d.cot_max_new, d.show, d.seed, d.threads);
}

enum {
    OPT_MODEL = 256, OPT_TOKENIZER, OPT_POOL, OPT_TEST, OPT_LOG, OPT_COTLOG, OPT_KS, OPT_COTKS,
    OPT_EVALS, OPT_COTLIMIT, OPT_MAXNEW, OPT_COTMAXNEW, OPT_SHOW, OPT_SEED, OPT_THREADS, OPT_PLAIN,
    OPT_FAST, OPT_HELP
};

/* --fast is applied first, so that explicit flags still win over it. */
static void parse_flags(Options *o, int argc, char **argv) {
    static const struct option longopts[] = {
        {"model", 1, 0, OPT_MODEL}, {"tokenizer", 1, 0, OPT_TOKENIZER}, {"pool", 1, 0, OPT_POOL},
        {"test", 1, 0, OPT_TEST}, {"log", 1, 0, OPT_LOG}, {"cot-log", 1, 0, OPT_COTLOG},
        {"ks", 1, 0, OPT_KS}, {"cot-ks", 1, 0, OPT_COTKS}, {"evals", 1, 0, OPT_EVALS},
        {"cot-limit", 1, 0, OPT_COTLIMIT}, {"max-new", 1, 0, OPT_MAXNEW},
        {"cot-max-new", 1, 0, OPT_COTMAXNEW}, {"show", 1, 0, OPT_SHOW}, {"seed", 1, 0, OPT_SEED},
        {"threads", 1, 0, OPT_THREADS}, {"plain", 0, 0, OPT_PLAIN}, {"fast", 0, 0, OPT_FAST},
        {"help", 0, 0, OPT_HELP}, {0, 0, 0, 0}};
    for (int i = 1; i < argc; i++) if (strcmp(argv[i], "--fast") == 0) apply_fast(o);
    int opt;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        const char *a = optarg;
        switch (opt) {
        case OPT_MODEL: o->model = a; break;
        case OPT_TOKENIZER: o->tokenizer = a; break;
        case OPT_POOL: o->pool = a; break;
        case OPT_TEST: o->test = a; break;
        case OPT_LOG: o->log = a; break;
        case OPT_COTLOG: o->cot_log = a; break;
        case OPT_KS: o->nks = parse_ks("ks", a, o->ks); break;
        case OPT_COTKS: o->ncot_ks = parse_ks("cot-ks", a, o->cot_ks); break;
        case OPT_EVALS: o->evals = (int)parse_long_flag("evals", a, 1, 1000000); break;
        case OPT_COTLIMIT: o->cot_limit = (int)parse_long_flag("cot-limit", a, 0, 1000000); break;
        case OPT_MAXNEW: o->max_new = (int)parse_long_flag("max-new", a, 1, 1024); break;
        case OPT_COTMAXNEW: o->cot_max_new = (int)parse_long_flag("cot-max-new", a, 1, 1024); break;
        case OPT_SHOW: o->show = (int)parse_long_flag("show", a, 0, 1000000); break;
        case OPT_SEED: o->seed = (int)parse_long_flag("seed", a, 0, 2147483647); break;
        case OPT_THREADS: o->threads = (int)parse_long_flag("threads", a, 0, 1024); break;
        case OPT_PLAIN: o->plain = 1; break;
        case OPT_FAST: break;  /* applied above */
        case OPT_HELP: usage(); exit(0);
        case ':': die("%s needs a value (see gpt3_fewshot --help)", argv[optind - 1]);
        default: die("unknown flag %s (see gpt3_fewshot --help)", argv[optind - 1]);
        }
    }
    if (optind < argc) die("unexpected argument '%s' (see gpt3_fewshot --help)", argv[optind]);
}

static void run(const Options *o) {
    Tokenizer tok;
    tokenizer_load(&tok, o->tokenizer);
    GPT m;
    gpt_load(&m, o->model);
    if (m.config.V != tok.vocab_size) {
        die("the tokenizer %s has %d tokens but the model %s was trained with V = %d", o->tokenizer,
            tok.vocab_size, o->model, m.config.V);
    }
    RowSet pool, test;
    load_rows(&pool, &tok, o->pool);
    load_rows(&test, &tok, o->test);
    Task tasks[MAX_TASKS];
    int nt = find_tasks(tasks, &pool, &test);
    printf("gpt3_fewshot: %s (L=%d C=%d T=%d); %d pool rows, %d test rows, %d tasks\n", o->model, m.config.L,
           m.config.C, m.config.maxT, pool.n, test.n, nt);
    /* both logs are opened before the work, so a bad path fails at once;
     * rows are flushed as they come, like a training log */
    FILE *log = fopen_or_die(o->log, "w");
    FILE *cot_log = fopen_or_die(o->cot_log, "w");
    double t0 = now_seconds();
    unsigned char *stop = stop_tokens(&tok, ".\n", 1);
    Tally (*res)[MAX_KS] = calloc_or_die((size_t)nt, sizeof(*res), "results");
    fewshot(&m, &tok, tasks, nt, &pool, &test, o, res, stop, log);
    print_fewshot_table(tasks, nt, o, res);
    cot(&m, &tok, tasks, nt, &pool, &test, o, stop, cot_log);
    fclose(log);
    fclose(cot_log);
    printf("\nlogs: %s, %s; done in %.1f s\n", o->log, o->cot_log, now_seconds() - t0);
    free(res);
    free(stop);
    for (int i = 0; i < nt; i++) {
        free(tasks[i].pool);
        free(tasks[i].test);
    }
    free_rows(&pool);
    free_rows(&test);
    gpt_free(&m);
    tokenizer_free(&tok);
}

#ifndef TESTING
int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);  /* progress lines appear as they happen, even in a pipe */
    Options o = defaults();
    parse_flags(&o, argc, argv);
    set_threads(o.threads);
    run(&o);
    return 0;
}
#endif
