/* gpt3_fewshot.c — rung 3: GPT-3, "Language Models are Few-Shot Learners"
 * (Brown et al. 2020), and chain-of-thought prompting ("Chain-of-Thought
 * Prompting Elicits Reasoning in Large Language Models", Wei et al. 2022).
 *
 * GPT-3's claim (§2): "Few-Shot (FS) is the term we will use in this work to
 * refer to the setting where the model is given a few demonstrations of the
 * task at inference time as conditioning, but no weight updates are
 * allowed." The method (§2.4), as this file does it:
 *
 *   "we evaluate each example in the evaluation set by randomly drawing K
 *   examples from that task's training set as conditioning"
 *       -> draw_shots: k rows of data/fewshot_pool.tsv, seeded per query,
 *          never the query itself (but for the pairing task, whose query's
 *          own definition is one of the k: nothing else could tell it).
 *   "delimited by 1 or 2 newlines depending on the task"
 *       -> build_prompt: our corpus ends a sentence with " . ", so the shots
 *          are joined by it: "fox -> red . owl -> white . cat ->".
 *   "we provide K examples of context plus correct completion, followed by
 *   one example of context only, and compare the LM likelihood of each
 *   completion"
 *       -> rank_query: the candidates ranked by score_candidates (score.c),
 *          by the summed log-probability (the per-token mean GPT-3 uses
 *          ranks the same here: every candidate is one word).
 *   free-form completion ("beam search" in the paper)
 *       -> generate_query: greedy decoding up to " .", compared exactly.
 *
 * fewshot measures accuracy for k in {0, 1, 2, 4, 8} per task (GPT-3's
 * Figure 1.2), and for the pairing task, which only an induction head can
 * answer, probes every head for that lookup (probe_induction).
 *
 * Chain of thought (Wei et al. §2): "a series of intermediate natural
 * language reasoning steps that lead to the final output". cot asks the sums
 * with k direct shots ("53 + 38 = 91") and k worked shots ("53 + 38 = ? 3 +
 * 8 + 0 = 11 , 5 + 3 + 1 = 9 , so 91"), the same rows for both; the model
 * continues greedily and parse_final_number reads its answer.
 *
 * Left out: beam search, GPT-3's unconditional-probability normalisation,
 * and anything that trains: there is no optimizer in this file.
 */
#include "cli.h"
#include "gpt.h"
#include "score.h"
#include "tokenizer.h"
#include "util.h"

#include <ctype.h>
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
    const char *ks_text, *cot_ks_text;  /* the two lists as given: "0,1,2,4,8" */
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
    Options o = {.model = "out/gpt1.bin", .tokenizer = "out/tokenizer.merges", .pool = "data/fewshot_pool.tsv",
                 .test = "data/fewshot_test.tsv", .log = TRY_DIR "/gpt3_fewshot.tsv", .cot_log = TRY_DIR "/gpt3_cot.tsv",
                 .ks_text = "0,1,2,4,8", .cot_ks_text = "0,1,2", .evals = 192, .max_new = 8, .cot_max_new = 32,
                 .show = 1, .seed = 1, .threads = 1};  /* one thread: a single prompt is too little work to split (notes/10) */
    return o;
}

/* The flags, as data (cli.h); the last field of a number (and of the two
 * lists) is its value under --fast: every code path, a few queries. */
static void parse_flags(Options *o, int argc, char **argv) {
    const Flag flags[] = {
        FLAG_MODEL(&o->model, "pretrained checkpoint from gpt1 pretrain"),
        FLAG_TOKENIZER(&o->tokenizer),
        FLAG_IN("pool", &o->pool, "shots: task<TAB>input<TAB>answer<TAB>worked<TAB>candidates"),
        FLAG_IN("test", &o->test, "queries, same columns"),
        FLAG_OUT("log", &o->log, "TSV: accuracy per task and k; kept until the run succeeds"),
        FLAG_OUT("cot-log", &o->cot_log, "TSV: chain-of-thought accuracy per prompt style and k"),
        {"ks", CLI_TEXT, &o->ks_text, 0, 0, "shot counts for the few-shot table", "0,1,2", "LIST"},
        {"cot-ks", CLI_TEXT, &o->cot_ks_text, 0, 0, "shot counts for chain of thought", "0,1", "LIST"},
        FLAG_INT("evals", &o->evals, 1, 1000000, "evaluations per task and k (fewer queries: fresh shots each time)", "4"),
        FLAG_INT("cot-limit", &o->cot_limit, 0, 1000000, "chain-of-thought queries, 0 = all", "3"),
        FLAG_INT("max-new", &o->max_new, 1, 1024, "tokens generated for a direct answer", "4"),
        FLAG_INT("cot-max-new", &o->cot_max_new, 1, 1024, "tokens generated for a worked answer", "12"),
        FLAG_INT("show", &o->show, 0, 1000000, "print the first N prompts of every task and k with the answer", "0"),
        FLAG_ON("plain", &o->plain, "write ranked shots as \"car four\" (as the corpus does), not \"car -> four\""),
        FLAG_END};
    Cli cli = {"gpt3_fewshot", "few-shot prompting (GPT-3) and chain of thought (Wei et al.) with the\n"
               "  pretrained model: k shots from the pool, \"fox -> red . owl -> white . cat ->\"; candidates\n"
               "  ranked by log-probability, open answers generated greedily. A prompt too long for the\n"
               "  context loses shots, oldest first; the output reports the mean number of shots used.",
               flags, &o->seed, &o->threads, NULL};
    cli_parse(&cli, argc, argv);
    o->nks = parse_ks("ks", o->ks_text, o->ks);
    o->ncot_ks = parse_ks("cot-ks", o->cot_ks_text, o->cot_ks);
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
        *w = (Row){.task = r->fields[0], .input = r->fields[1], .answer = r->fields[2], .worked = r->fields[3],
                   .line = r->line};
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

/* The k-shot prompt (data/README.md): the shots, then the query, joined by
 * " . ": "fox -> red . owl -> white . cat ->". The query has no answer:
 * "cat ->", "53 + 38 =", "53 + 38 = ?". Returns a malloc'd string; if
 * answer_at is not NULL, answer_at[i] is the offset in it where shot i's
 * answer (or worked steps) begins. */
static char *build_prompt(const Row *const *shots, int k, const Row *q, Format f, int *answer_at) {
    size_t cap = strlen(q->input) + strlen(QUERY_END[f]) + 1, len = 0;
    for (int i = 0; i < k; i++) {
        const char *answer = f == FMT_WORKED ? shots[i]->worked : shots[i]->answer;
        cap += strlen(shots[i]->input) + strlen(SHOT_MID[f]) + strlen(answer) + strlen(SHOT_SEP);
    }
    char *buf = malloc_or_die(cap, "a prompt");
    for (int i = 0; i < k; i++) {
        len += (size_t)sprintf(buf + len, "%s%s", shots[i]->input, SHOT_MID[f]);
        if (answer_at) answer_at[i] = (int)len;
        len += (size_t)sprintf(buf + len, "%s%s", f == FMT_WORKED ? shots[i]->worked : shots[i]->answer, SHOT_SEP);
    }
    sprintf(buf + len, "%s%s", q->input, QUERY_END[f]);
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

/* Adds the attention of the last forward (row 0; the prompt ctx[0..n)) to
 * the probe (score.h), for a prompt whose shots[0..k) are written in format
 * f: the positions of the shots' values, the query's own definition being
 * the one that answers it. */
static void probe_induction(Induction *ind, const GPT *m, const Tokenizer *tok, const int *ctx, int n,
                            const Row **shots, int k, const Row *q, Format f) {
    int at[MAX_K], pos[MAX_K], def = -1;
    char *text = build_prompt(shots, k, q, f, at);
    free(text);
    for (int i = 0; i < k; i++) {
        pos[i] = prompt_token_at(tok, ctx, n, at[i]);
        if (pos[i] < 0) return;
        if (shots[i] == q) def = i;
    }
    if (def >= 0) induction_add(ind, m, n - 1, pos, k, def);
}

/* ---- answering: rank the candidates, or generate ---- */

static Outcome rank_query(GPT *m, Tokenizer *tok, const Row *q, const Row **shots, int k, Format f,
                          Induction *ind) {
    Outcome o = {0};
    int n, cut;
    int *ctx = encode_fitting(tok, shots, k, q, f, q->cands.maxlen, m->config.maxT, &n, &o.kept, &cut);
    Score s[SCORE_MAX_CANDIDATES];
    score_candidates(m, ctx, n, q->cands.tokens, q->cands.len, q->cands.n, s);
    if (ind && cut == 0) probe_induction(ind, m, tok, ctx, n, shots, o.kept, q, f);
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

/* Greedy continuation up to a stop token (" .", a newline, end-of-text; the
 * stop token left out). exact: the generation, spaces trimmed, must equal
 * the answer ("91"); otherwise its final number must (chain of thought). */
static Outcome generate_query(GPT *m, Tokenizer *tok, const Row *q, const Row **shots, int k, Format f,
                              int max_new, const unsigned char *stop, int exact) {
    Outcome o = {0};
    int n, cut;
    int *ctx = encode_fitting(tok, shots, k, q, f, max_new, m->config.maxT, &n, &o.kept, &cut);
    int *out = malloc_or_die(sizeof(int) * (size_t)max_new, "generated tokens");
    int nout = generate_greedy(m, ctx, n, out, max_new, stop);
    if (nout > 0 && stop[out[nout - 1]]) nout--;
    size_t len;
    char *text = tokenizer_decode(tok, out, (size_t)nout, &len);
    free(out);
    char *s = text;
    while (*s == ' ') s++;
    len = strlen(s);
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

/* What every question of a run needs: the model, the rows, the settings;
 * and its scratch: one prompt's shots, one cell's --show lines. */
typedef struct {
    GPT *m;
    Tokenizer *tok;
    const RowSet *pool, *test;
    const Options *o;
    const unsigned char *stop;  /* (V) tokens that end a generated answer */
    const Row **shots;          /* (MAX_K) */
    char **shown;               /* (show + 1) lines, printed under their accuracy line */
    int nshown;
} Run;

/* Keeps one line for --show: the prompt, what the model answered, the answer. */
static void show_add(Run *run, int kept, const Row *q, Format f, const Outcome *o) {
    char *text = build_prompt(run->shots, kept, q, f, NULL);
    size_t n = strlen(text) + strlen(o->pick) + strlen(q->answer) + 64;
    char *line = malloc_or_die(n, "a shown prompt");
    snprintf(line, n, "    | %s  ==> %s (answer %s%s)", text, o->pick, q->answer, o->correct ? ", right" : "");
    free(text);
    run->shown[run->nshown++] = line;
}

static void print_shown(Run *run) {
    for (int i = 0; i < run->nshown; i++) {
        printf("%s\n", run->shown[i]);
        free(run->shown[i]);
    }
    run->nshown = 0;
}

/* One cell of the table, task t with k shots: each query is asked `draws`
 * times with fresh shots, where draws = max(1, evals / queries) and queries =
 * min(evals, all), so that each task gets about `evals` evaluations whatever
 * its size. Ranked tasks add their attention to ind (pairing) if not NULL. */
static Tally fewshot_cell(Run *run, const Task *t, int ti, int k, Induction *ind) {
    const Options *o = run->o;
    Format f = t->generate ? FMT_DIRECT : o->plain ? FMT_PLAIN : FMT_ARROW;
    int queries = t->ntest < o->evals ? t->ntest : o->evals;
    int draws = o->evals / queries > 1 ? o->evals / queries : 1;
    Tally r = {0};
    for (int qi = 0; qi < queries; qi++) {
        const Row *q = &run->test->rows[t->test[qi]];
        for (int d = 0; d < draws; d++) {
            Rng rng;
            rng_seed(&rng, draw_seed(o->seed, ti, k, qi, d));
            int ns = draw_shots(t, run->pool, q, k, &rng, run->shots);
            Outcome out = t->generate ? generate_query(run->m, run->tok, q, run->shots, ns, f, o->max_new, run->stop, 1)
                                      : rank_query(run->m, run->tok, q, run->shots, ns, f, ind);
            tally_add(&r, &out, t->generate ? 0.0 : 1.0 / q->cands.n);
            if (qi < o->show && d == 0) show_add(run, out.kept, q, f, &out);
        }
    }
    return r;
}

/* A cell's line on stdout (with its --show lines) and its row in the log. */
static void report_fewshot_cell(Run *run, AtomicFile *log, const Task *t, int k, const Tally *r, double seconds) {
    printf("%-9s k=%d: accuracy %.3f (%d/%d)", t->name, k, (double)r->correct / r->evals, r->correct, r->evals);
    if (!t->generate) printf("  chance %.3f", r->chance / r->evals);
    printf("  shots used %.2f  [%.1f s]\n", r->kept / r->evals, seconds);
    print_shown(run);
    FILE *f = log->f;
    fprintf(f, "%s\t%d\t%d\t%d\t%.5f\t", t->name, k, r->evals, r->correct, (double)r->correct / r->evals);
    if (t->generate) fprintf(f, "-\t"); else fprintf(f, "%.5f\t", r->chance / r->evals);
    fprintf(f, "%.3f\t", r->kept / r->evals);
    if (t->generate || k == 0) fprintf(f, "-\n");
    else fprintf(f, "%.5f\n", (double)r->picks_last / r->evals);
    log_flush(log);
}

static void report_induction(Induction *ind, const char *task, const Options *o) {
    printf("looking for an induction head in %s (the attention of the prompt's last token):\n", task);
    for (int ki = 0; ki < o->nks; ki++) induction_print(&ind[ki], o->ks[ki]);
    induction_print_grid(&ind[o->nks - 1], o->ks[o->nks - 1]);
    for (int ki = 0; ki < o->nks; ki++) induction_free(&ind[ki]);
}

/* GPT-3's Figure 1.2 as a table: accuracy of every task at every k. */
static void fewshot(Run *run, const Task *tasks, int nt, Tally (*res)[MAX_KS], AtomicFile *log) {
    const Options *o = run->o;
    fprintf(log->f, "task\tk\tevals\tcorrect\taccuracy\tchance\tshots_used\tpicks_last_shot\n");
    Induction ind[MAX_KS];
    for (int ti = 0; ti < nt; ti++) {
        const Task *t = &tasks[ti];
        for (int ki = 0; ki < o->nks; ki++) {
            double t0 = now_seconds();
            if (t->defined) induction_init(&ind[ki], &run->m->config);
            res[ti][ki] = fewshot_cell(run, t, ti, o->ks[ki], t->defined ? &ind[ki] : NULL);
            report_fewshot_cell(run, log, t, o->ks[ki], &res[ti][ki], now_seconds() - t0);
        }
        if (t->defined) report_induction(ind, t->name, o);
    }
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
                if (o->ks[ki] == 0) printf("   %5s", "-");
                else printf("   %.3f", (double)res[ti][ki].picks_last / res[ti][ki].evals);
            }
            printf("   <- picked the LAST shot's number (1/k of the time that is also right)\n");
        }
    }
}

/* ---- chain of thought ---- */

/* One cell: the first `queries` queries of t with k shots written as f
 * (direct or worked), each with the rows the few-shot table's first draw
 * used, answered greedily; the final number is compared. */
static Tally cot_cell(Run *run, const Task *t, int ti, int k, Format f, int queries) {
    int max_new = f == FMT_WORKED ? run->o->cot_max_new : run->o->max_new;
    Tally r = {0};
    for (int qi = 0; qi < queries; qi++) {
        const Row *q = &run->test->rows[t->test[qi]];
        Rng rng;
        rng_seed(&rng, draw_seed(run->o->seed, ti, k, qi, 0));  /* the rows of the few-shot table's first draw */
        int ns = draw_shots(t, run->pool, q, k, &rng, run->shots);
        Outcome out = generate_query(run->m, run->tok, q, run->shots, ns, f, max_new, run->stop, 0);
        tally_add(&r, &out, 0.0);
        if (qi < run->o->show) show_add(run, out.kept, q, f, &out);
    }
    return r;
}

/* A cell's line on stdout (with its --show lines) and its row in the log. */
static void report_cot_cell(Run *run, AtomicFile *log, const Task *t, Format f, int k, const Tally *r, double seconds) {
    printf("%-6s k=%d: accuracy %.3f (%d/%d)  a number read %.2f", f == FMT_WORKED ? "worked" : "direct", k,
           (double)r->correct / r->evals, r->correct, r->evals, (double)r->answered / r->evals);
    if (f == FMT_WORKED) printf("  every step right %.2f", (double)r->steps_right / r->evals);
    printf("  shots used %.2f  [%.1f s]\n", r->kept / r->evals, seconds);
    print_shown(run);
    fprintf(log->f, "%s\t%s\t%d\t%d\t%d\t%.5f\t%.5f\t", t->name, f == FMT_WORKED ? "worked" : "direct", k, r->evals,
            r->correct, (double)r->correct / r->evals, (double)r->answered / r->evals);
    if (f == FMT_WORKED) fprintf(log->f, "%.5f", (double)r->steps_right / r->evals); else fputc('-', log->f);
    fprintf(log->f, "\t%.3f\n", r->kept / r->evals);
    log_flush(log);
}

static void print_cot_table(const Task *t, const Options *o, double acc[2][MAX_KS]) {
    printf("%-9s", "k");
    for (int ki = 0; ki < o->ncot_ks; ki++) printf("   k=%-3d", o->cot_ks[ki]);
    for (int mode = 0; mode < 2; mode++) {
        printf("\n%-9s", mode ? "worked" : "direct");
        for (int ki = 0; ki < o->ncot_ks; ki++) printf("   %.3f", acc[mode][ki]);
    }
    printf("\nsummary gpt3 chain of thought (%s):", t->name);
    for (int ki = 0; ki < o->ncot_ks; ki++) {
        printf(" k=%d worked %.3f vs direct %.3f%s", o->cot_ks[ki], acc[1][ki], acc[0][ki], ki + 1 < o->ncot_ks ? ";" : "");
    }
    printf("\n");
}

/* Wei et al.'s comparison: every task with worked steps, asked with k direct
 * shots and with k worked shots (the same rows), greedy, final number compared. */
static void cot(Run *run, const Task *tasks, int nt, AtomicFile *log) {
    const Options *o = run->o;
    fprintf(log->f, "task\tprompt\tk\tevals\tcorrect\taccuracy\tanswered\tsteps_right\tshots_used\n");
    int ran = 0;
    for (int ti = 0; ti < nt; ti++) {
        const Task *t = &tasks[ti];
        int worked = t->generate;  /* a generation task whose every pool row has worked steps */
        for (int i = 0; i < t->npool; i++) worked &= run->pool->rows[t->pool[i]].worked[0] != '\0';
        if (!worked) continue;
        ran = 1;
        int queries = o->cot_limit > 0 && o->cot_limit < t->ntest ? o->cot_limit : t->ntest;
        printf("\nchain of thought on %s (Wei et al. 2022): %d quer%s, greedy, up to %d / %d new tokens\n",
               t->name, queries, queries == 1 ? "y" : "ies", o->max_new, o->cot_max_new);
        double acc[2][MAX_KS] = {{0}};
        for (int mode = 0; mode < 2; mode++) {  /* direct answers, then worked ones */
            Format f = mode ? FMT_WORKED : FMT_DIRECT;
            for (int ki = 0; ki < o->ncot_ks; ki++) {
                double t0 = now_seconds();
                Tally r = cot_cell(run, t, ti, o->cot_ks[ki], f, queries);
                acc[mode][ki] = (double)r.correct / r.evals;
                report_cot_cell(run, log, t, f, o->cot_ks[ki], &r, now_seconds() - t0);
            }
        }
        print_cot_table(t, o, acc);
    }
    if (!ran) printf("\nchain of thought: no generation task with worked steps in %s\n", run->pool->path);
}

/* ---- main ---- */

static void run(const Options *o) {
    Tokenizer tok;
    tokenizer_load(&tok, o->tokenizer);
    GPT m;
    gpt_load(&m, o->model);
    gpt_check_tokenizer(&m, o->model, &tok, o->tokenizer);
    RowSet pool, test;
    load_rows(&pool, &tok, o->pool);
    load_rows(&test, &tok, o->test);
    Task tasks[MAX_TASKS];
    int nt = find_tasks(tasks, &pool, &test);
    printf("gpt3_fewshot: %s (L=%d C=%d T=%d); %d pool rows, %d test rows, %d tasks\n", o->model, m.config.L,
           m.config.C, m.config.maxT, pool.n, test.n, nt);
    AtomicFile log, cot_log;  /* each PATH.tmp, renamed over PATH when the run has succeeded */
    log_open(&log, o->log, 0);
    log_open(&cot_log, o->cot_log, 0);
    double t0 = now_seconds();
    Run r = {&m, &tok, &pool, &test, o, stop_tokens(&tok, ".\n", 1),
             malloc_or_die(sizeof(Row *) * MAX_K, "shots"),
             malloc_or_die(sizeof(char *) * (size_t)(o->show + 1), "shown prompts"), 0};
    Tally (*res)[MAX_KS] = calloc_or_die((size_t)nt, sizeof(*res), "results");
    fewshot(&r, tasks, nt, res, &log);
    print_fewshot_table(tasks, nt, o, res);
    cot(&r, tasks, nt, &cot_log);
    log_commit(&log);
    log_commit(&cot_log);
    printf("\nlogs: %s, %s; done in %.1f s\n", o->log, o->cot_log, now_seconds() - t0);
    free(res);
    free((void *)r.stop);
    free(r.shots);
    free(r.shown);
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
