/* gpt2_zeroshot.c — rung 2: GPT-2, "Language Models are Unsupervised
 * Multitask Learners" (Radford, Wu, Child, Luan, Amodei, Sutskever 2019).
 *
 * The paper's claim (§2): "a general system should be able to perform many
 * different tasks ... it should model p(output | input, task)", and "language
 * provides a flexible way to specify tasks, inputs, and outputs all as a
 * sequence of symbols". A language model trained on enough text has already
 * seen tasks posed in its text, so it can do them with no gradient step and
 * no new parameters: pose the task in the corpus's own words and read the
 * answer off the model's probabilities.
 *
 * This program takes rung 1's pretrained model, untouched, and asks it the
 * tasks of data/zeroshot_test.tsv:
 *
 *   ranking (§3.3, the Children's Book Test): "compute the probability of
 *       each choice and the rest of the sentence conditioned on this choice
 *       according to the LM, and predict the one with the highest
 *       probability". Each candidate answer a is appended to the prompt x and
 *       scored by log P(a | x), summed over its tokens (rank_item, with
 *       score_candidates from score.c); GPT-3's per-token mean is reported
 *       beside it, with the items where the two pick differently (evaluate).
 *   the task hint (§3.6): GPT-2 wrote "TL;DR:" after an article to make the
 *       model summarise it, and measured the drop when the hint was removed.
 *       Our corpus's reviews sometimes end "in short : good", so the same
 *       held-out reviews are asked with the hint (task sentiment) and without
 *       it (sentiment_nohint): print_hint_comparison. A calibrated accuracy
 *       (calibrate) tells whether a task failed because the model always
 *       prefers one label or because it does not know.
 *   generation (--generate N): "we add the text TL;DR: after the article and
 *       generate ... with Top-k random sampling with k = 2" — the same here,
 *       after each prompt (sample_after_prompts).
 *
 * Left out: the paper's datasets and tasks, and everything that would
 * train: there is no optimizer in this file.
 */
#include "cli.h"
#include "gpt.h"
#include "score.h"
#include "tokenizer.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- options ---- */

typedef struct {
    const char *model, *tokenizer, *data, *log;
    int limit;         /* items per task, 0 = all */
    int show;          /* items per task printed with every candidate's log-probability */
    int generate;      /* items per task to continue by sampling */
    int top_k, max_new, seed, threads;
    float temperature;
} Options;

static Options defaults(void) {
    Options o = {0};
    o.model = "out/gpt1.bin";
    o.tokenizer = "out/tokenizer.merges";
    o.data = "data/zeroshot_test.tsv";
    o.log = TRY_DIR "/gpt2_zeroshot.tsv";
    o.show = 2;
    o.top_k = 2;          /* GPT-2's TL;DR experiment */
    o.max_new = 12;
    o.temperature = 1.0f;
    o.seed = 1;
    /* One thread: each forward pass here is a single prompt of a few dozen
     * tokens, too little work to split, and OpenMP threads that spin while
     * they wait for each other make it slower on busy cores (notes/10). */
    o.threads = 1;
    return o;
}

/* The flags, as data (cli.h); the last field of a number is its value under
 * --fast, the tiny preset the tests use: a few items per task, every path. */
static void parse_flags(Options *o, int argc, char **argv) {
    const Flag flags[] = {
        FLAG_MODEL(&o->model, "pretrained checkpoint from gpt1 pretrain"),
        FLAG_TOKENIZER(&o->tokenizer),
        FLAG_IN("data", &o->data, "tasks: task<TAB>prompt<TAB>answer<TAB>cand|cand|..."),
        FLAG_OUT("log", &o->log, "TSV: the accuracy table, one row per task; kept until the run succeeds"),
        FLAG_INT("limit", &o->limit, 0, 1000000, "items per task, 0 = all", "6"),
        FLAG_INT("show", &o->show, 0, 1000000, "items per task printed with every candidate's log-prob", "1"),
        FLAG_INT("generate", &o->generate, 0, 1000000, "items per task continued by top-k sampling, 0 = none", "1"),
        FLAG_INT("top-k", &o->top_k, 0, 65536, "sampling: keep the N likeliest tokens, 0 = all", NULL),
        FLAG_FLOAT("temperature", &o->temperature, 0, 100, "sampling temperature", NULL),
        FLAG_INT("max-new", &o->max_new, 1, 4096, "sampling: most tokens per continuation", "4"),
        FLAG_END};
    Cli cli = {"gpt2_zeroshot",
               "zero-shot tasks (GPT-2): each candidate answer is appended to the prompt\n"
               "  and scored by its log-probability under the pretrained model, summed over its tokens (and\n"
               "  the per-token mean beside it); the best candidate is the answer. No gradient step.\n"
               "  Context rule: a prompt longer than the context minus the longest candidate keeps its last\n"
               "  tokens (the end, where the task is posed); the table counts such prompts.",
               flags, &o->seed, &o->threads, NULL};
    cli_parse(&cli, argc, argv);
}

/* ---- the task file: task <TAB> prompt <TAB> answer <TAB> candidates ---- */

#define MAX_TASKS 32

typedef struct {
    int task;          /* index into TaskSet.names */
    const char *prompt, *answer;
    Candidates cands;
    int answer_idx;    /* the answer's index among the candidates */
    int line;          /* line in the file, for messages */
} Item;

typedef struct {
    Tsv tsv;                      /* owns the strings the items point into */
    Item *items;
    int n;
    const char *names[MAX_TASKS];
    int ntasks;
} TaskSet;

static int task_index(TaskSet *ts, const char *name, const char *path, int line) {
    for (int i = 0; i < ts->ntasks; i++) if (strcmp(ts->names[i], name) == 0) return i;
    if (ts->ntasks == MAX_TASKS) die("%s:%d: more than %d tasks", path, line, MAX_TASKS);
    ts->names[ts->ntasks] = name;
    return ts->ntasks++;
}

/* Reads every row, checking that it is usable: a task name, a prompt, and an
 * answer that is one of its candidates. Keeps at most `limit` items per task
 * (0: all), in file order. */
static void load_tasks(TaskSet *ts, Tokenizer *tok, const char *path, int limit) {
    memset(ts, 0, sizeof *ts);
    tsv_read(&ts->tsv, path, 4);
    ts->items = calloc_or_die((size_t)ts->tsv.nrows, sizeof(Item), "items");
    int per_task[MAX_TASKS] = {0};
    for (int i = 0; i < ts->tsv.nrows; i++) {
        const TsvRow *r = &ts->tsv.rows[i];
        char where[512];
        snprintf(where, sizeof where, "%s:%d", path, r->line);
        if (r->fields[0][0] == '\0') die("%s: the task name is empty", where);
        if (r->fields[1][0] == '\0') die("%s: the prompt is empty", where);
        int t = task_index(ts, r->fields[0], path, r->line);
        if (limit > 0 && per_task[t] >= limit) continue;
        per_task[t]++;
        Item *it = &ts->items[ts->n++];
        it->task = t;
        it->prompt = r->fields[1];
        it->answer = r->fields[2];
        it->line = r->line;
        candidates_parse(&it->cands, tok, r->fields[3], where);
        it->answer_idx = candidates_find(&it->cands, it->answer);
        if (it->answer_idx < 0) die("%s: the answer '%s' is not among the candidates '%s'", where, it->answer, r->fields[3]);
    }
}

static void free_tasks(TaskSet *ts) {
    for (int i = 0; i < ts->n; i++) candidates_free(&ts->items[i].cands);
    free(ts->items);
    tsv_free(&ts->tsv);
}

/* ---- zero-shot ranking ---- */

typedef struct {
    int items;
    int correct_sum, correct_mean;  /* picked right by the summed / mean log-prob */
    int disagree;                   /* the two rules picked different candidates */
    int cut;                        /* prompts trimmed to fit the context */
    int uneven;                     /* items whose candidates differ in length (tokens) */
    int correct_cal;                /* right after calibration; -1: candidates differ between items */
    double chance;                  /* sum over items of 1 / #candidates */
    int picks[SCORE_MAX_CANDIDATES];/* how often each candidate index won (by sum) */
} TaskResult;

/* Ranks one item's candidates. Writes every candidate's score to s and
 * returns the number of prompt tokens cut to fit the context (0 usually). */
static int rank_item(GPT *m, Tokenizer *tok, const Item *it, Score *s) {
    int n;
    int *ctx = encode_prompt(tok, it->prompt, &n);
    /* the context rule: keep the END of a long prompt, where the task is posed */
    int cut = score_fit(ctx, &n, it->cands.maxlen, m->config.maxT);
    score_candidates(m, ctx, n, it->cands.tokens, it->cands.len, it->cands.n, s);
    free(ctx);
    return cut;
}

static void print_item(const TaskSet *ts, const Item *it, const Score *s, int cut) {
    int best_sum = score_best(s, it->cands.n, 0), best_mean = score_best(s, it->cands.n, 1);
    printf("[%s] line %d: %s%s\n", ts->names[it->task], it->line, cut ? "(start cut) " : "", it->prompt);
    for (int c = 0; c < it->cands.n; c++) {
        printf("    %-16s log P = %8.3f  mean %8.3f  (%d token%s)%s%s%s\n", it->cands.text[c],
               (double)s[c].sum, (double)s[c].mean, s[c].ntokens, s[c].ntokens == 1 ? "" : "s",
               c == best_sum ? "  <- picked (sum)" : "", c == best_mean && best_mean != best_sum ? "  <- picked (mean)" : "",
               c == it->answer_idx ? "  [answer]" : "");
    }
}

/* Does item a offer the same candidates, in the same order, as item b? */
static int same_candidates(const Item *a, const Item *b) {
    if (a->cands.n != b->cands.n) return 0;
    for (int c = 0; c < a->cands.n; c++) if (strcmp(a->cands.text[c], b->cands.text[c]) != 0) return 0;
    return 1;
}

/* Is a wrong answer a bias towards one label, or does the model not know?
 * Calibration removes the bias: each candidate's log-probability minus its
 * mean over the task's items (a simple form of the prior correction GPT-3
 * applies to some tasks, and of Zhao et al. 2021's contextual calibration).
 * If the model ranks the right answer relatively higher, calibrated accuracy
 * is high even when one label always wins. Needs every item of the task to
 * offer the same candidates; otherwise correct_cal is -1. scores is (n, MAX). */
static void calibrate(const TaskSet *ts, const float *scores, TaskResult *res) {
    for (int t = 0; t < ts->ntasks; t++) {
        const Item *first = NULL;
        double mean[SCORE_MAX_CANDIDATES] = {0};
        int n = 0, ok = 1;
        for (int i = 0; i < ts->n; i++) {
            const Item *it = &ts->items[i];
            if (it->task != t) continue;
            if (!first) first = it;
            ok &= same_candidates(it, first);
            for (int c = 0; c < it->cands.n && ok; c++) mean[c] += scores[(size_t)i * SCORE_MAX_CANDIDATES + c];
            n++;
        }
        res[t].correct_cal = -1;
        if (!ok || n == 0) continue;
        res[t].correct_cal = 0;
        for (int i = 0; i < ts->n; i++) {
            const Item *it = &ts->items[i];
            if (it->task != t) continue;
            int best = 0;
            double best_v = -1e300;
            for (int c = 0; c < it->cands.n; c++) {
                double v = scores[(size_t)i * SCORE_MAX_CANDIDATES + c] - mean[c] / n;
                if (v > best_v) { best_v = v; best = c; }
            }
            res[t].correct_cal += best == it->answer_idx;
        }
    }
}

static void evaluate(GPT *m, Tokenizer *tok, const TaskSet *ts, int show, TaskResult *res) {
    memset(res, 0, sizeof(TaskResult) * (size_t)ts->ntasks);
    Score s[SCORE_MAX_CANDIDATES];
    float *scores = malloc_or_die(sizeof(float) * (size_t)ts->n * SCORE_MAX_CANDIDATES, "all scores");
    int shown[MAX_TASKS] = {0};
    for (int i = 0; i < ts->n; i++) {
        const Item *it = &ts->items[i];
        TaskResult *r = &res[it->task];
        int cut = rank_item(m, tok, it, s);
        for (int c = 0; c < it->cands.n; c++) scores[(size_t)i * SCORE_MAX_CANDIDATES + c] = s[c].sum;
        int by_sum = score_best(s, it->cands.n, 0), by_mean = score_best(s, it->cands.n, 1);
        r->items++;
        r->correct_sum += by_sum == it->answer_idx;
        r->correct_mean += by_mean == it->answer_idx;
        r->disagree += by_sum != by_mean;
        r->cut += cut > 0;
        int uneven = 0;
        for (int c = 1; c < it->cands.n; c++) uneven |= it->cands.len[c] != it->cands.len[0];
        r->uneven += uneven;
        r->chance += 1.0 / it->cands.n;
        r->picks[by_sum]++;
        if (shown[it->task] < show) {
            shown[it->task]++;
            print_item(ts, it, s, cut);
        }
    }
    calibrate(ts, scores, res);
    free(scores);
}

/* ---- the report ---- */

static void print_table(const TaskSet *ts, const TaskResult *res) {
    printf("\nzero-shot accuracy (no gradient step; the best candidate by log-probability)\n");
    printf("%-18s %6s %7s %9s %10s %9s %11s  %s\n", "task", "items", "chance", "acc(sum)", "acc(mean)",
           "disagree", "calibrated", "most picked (by sum)");
    for (int t = 0; t < ts->ntasks; t++) {
        const TaskResult *r = &res[t];
        if (r->items == 0) continue;
        /* the first item of the task names the candidates */
        const Item *first = NULL;
        for (int i = 0; i < ts->n && !first; i++) if (ts->items[i].task == t) first = &ts->items[i];
        int top = 0;
        for (int c = 1; c < SCORE_MAX_CANDIDATES; c++) if (r->picks[c] > r->picks[top]) top = c;
        printf("%-18s %6d %7.3f %9.3f %10.3f %9d ", ts->names[t], r->items, r->chance / r->items,
               (double)r->correct_sum / r->items, (double)r->correct_mean / r->items, r->disagree);
        if (r->correct_cal >= 0) printf("%11.3f", (double)r->correct_cal / r->items);
        else printf("%11s", "-");
        printf("  %s %.0f%%", top < first->cands.n ? first->cands.text[top] : "?", 100.0 * r->picks[top] / r->items);
        if (r->cut) printf("  (%d prompts cut to fit)", r->cut);
        printf("\n");
    }
    int disagree = 0, uneven = 0;
    for (int t = 0; t < ts->ntasks; t++) {
        disagree += res[t].disagree;
        uneven += res[t].uneven;
    }
    if (uneven == 0) {
        printf("sum and mean cannot disagree here: within every item the candidates are the same number "
               "of tokens, so the mean is the sum divided by a constant.\n");
    } else {
        printf("%d items have candidates of different lengths; sum and mean picked differently on %d.\n",
               uneven, disagree);
    }
}

/* The same table as data: one row per task. */
static void write_log(AtomicFile *log, const TaskSet *ts, const TaskResult *res) {
    FILE *f = log->f;
    fprintf(f, "task\titems\tchance\tacc_sum\tacc_mean\tdisagree\tacc_calibrated\tprompts_cut\n");
    for (int t = 0; t < ts->ntasks; t++) {
        const TaskResult *r = &res[t];
        if (r->items == 0) continue;
        fprintf(f, "%s\t%d\t%.5f\t%.5f\t%.5f\t%d\t", ts->names[t], r->items, r->chance / r->items,
                (double)r->correct_sum / r->items, (double)r->correct_mean / r->items, r->disagree);
        if (r->correct_cal >= 0) fprintf(f, "%.5f", (double)r->correct_cal / r->items);
        else fputc('-', f);
        fprintf(f, "\t%d\n", r->cut);
    }
    log_flush(log);
}

/* GPT-2 §3.6: the same items with and without the task hint. Any task X
 * that has a twin X_nohint in the file is compared with it. */
static void print_hint_comparison(const TaskSet *ts, const TaskResult *res) {
    for (int t = 0; t < ts->ntasks; t++) {
        char twin[256];
        snprintf(twin, sizeof twin, "%s_nohint", ts->names[t]);
        for (int u = 0; u < ts->ntasks; u++) {
            if (strcmp(ts->names[u], twin) != 0 || res[t].items == 0 || res[u].items == 0) continue;
            printf("\nthe task hint (GPT-2's \"TL;DR:\", here \"in short :\"), %s:\n", ts->names[t]);
            printf("  with the hint     %.3f", (double)res[t].correct_sum / res[t].items);
            if (res[t].correct_cal >= 0) printf("   (calibrated %.3f)", (double)res[t].correct_cal / res[t].items);
            printf("\n  without the hint  %.3f", (double)res[u].correct_sum / res[u].items);
            if (res[u].correct_cal >= 0) printf("   (calibrated %.3f)", (double)res[u].correct_cal / res[u].items);
            printf("\n  chance            %.3f\n", res[t].chance / res[t].items);
            printf("summary gpt2 zeroshot: %s with the hint %.3f, without %.3f (chance %.3f)\n", ts->names[t],
                   (double)res[t].correct_sum / res[t].items, (double)res[u].correct_sum / res[u].items,
                   res[t].chance / res[t].items);
        }
    }
}

/* ---- generation after the prompt (GPT-2 §3.6: top-k sampling) ---- */

static void sample_after_prompts(GPT *m, Tokenizer *tok, const TaskSet *ts, const Options *o) {
    printf("\nsampled continuations (top-k %d, temperature %g, up to %d tokens, stop at '.' or end-of-text):\n",
           o->top_k, (double)o->temperature, o->max_new);
    unsigned char *stop = stop_tokens(tok, ".\n", 1);
    int *out = malloc_or_die(sizeof(int) * (size_t)o->max_new, "a continuation");
    Rng rng;
    rng_seed(&rng, (uint64_t)o->seed);
    int done[MAX_TASKS] = {0};
    for (int i = 0; i < ts->n; i++) {
        const Item *it = &ts->items[i];
        if (done[it->task] >= o->generate) continue;
        done[it->task]++;
        int n;
        int *ctx = encode_prompt(tok, it->prompt, &n);
        score_fit(ctx, &n, o->max_new, m->config.maxT);
        int k = generate_sampled(m, ctx, n, out, o->max_new, stop, o->temperature, o->top_k, &rng);
        size_t len;
        char *text = tokenizer_decode(tok, out, (size_t)k, &len);
        printf("[%s] %s ->%s   (answer: %s)\n", ts->names[it->task], it->prompt, text, it->answer);
        free(text);
        free(ctx);
    }
    free(out);
    free(stop);
}

/* ---- main ---- */

/* Loads the tokenizer and the model and checks that they belong together. */
static void load_model(GPT *m, Tokenizer *tok, const char *model_path, const char *tok_path) {
    tokenizer_load(tok, tok_path);
    gpt_load(m, model_path);
    gpt_check_tokenizer(m, model_path, tok, tok_path);
}

static void zeroshot(const Options *o) {
    Tokenizer tok;
    GPT m;
    load_model(&m, &tok, o->model, o->tokenizer);
    TaskSet ts;
    load_tasks(&ts, &tok, o->data, o->limit);
    printf("gpt2_zeroshot: %s (L=%d C=%d T=%d), %d items in %d tasks from %s\n", o->model, m.config.L,
           m.config.C, m.config.maxT, ts.n, ts.ntasks, o->data);
    AtomicFile log;  /* PATH.tmp, renamed over PATH when the run has succeeded */
    log_open(&log, o->log, 0);
    double t0 = now_seconds();
    TaskResult *res = malloc_or_die(sizeof(TaskResult) * (size_t)ts.ntasks, "results");
    evaluate(&m, &tok, &ts, o->show, res);
    print_table(&ts, res);
    write_log(&log, &ts, res);
    print_hint_comparison(&ts, res);
    if (o->generate > 0) sample_after_prompts(&m, &tok, &ts, o);
    log_commit(&log);
    printf("\nlog: %s; done in %.1f s\n", o->log, now_seconds() - t0);
    free(res);
    free_tasks(&ts);
    gpt_free(&m);
    tokenizer_free(&tok);
}

#ifndef TESTING
int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);  /* progress lines appear as they happen, even in a pipe */
    Options o = defaults();
    parse_flags(&o, argc, argv);
    set_threads(o.threads);
    zeroshot(&o);
    return 0;
}
#endif
