/* sft.c — rung 4: InstructGPT step 1, supervised fine-tuning (SFT), from
 * "Training language models to follow instructions with human feedback"
 * (Ouyang et al. 2022), §3.5:
 *
 *   "Supervised fine-tuning (SFT). We fine-tune GPT-3 on our labeler
 *    demonstrations using supervised learning. We trained for 16 epochs,
 *    using a cosine learning rate decay [...]. We do our final SFT model
 *    selection based on the RM score on the validation set. [...] we find
 *    that our SFT models overfit on validation loss after 1 epoch; however,
 *    we find that training for more epochs helps both the RM score and human
 *    preference ratings, despite this overfitting."
 *
 * Here the labellers' demonstrations are data/sft_train.tsv: prompts about
 * the toy world with the correct, concise answer. Each becomes one chat
 * (instruct.h):
 *
 *     <|prompt|> q : where is the owl ? <|answer|> a : it is in the barn .<|endoftext|>
 *
 * and the model is trained with the next-token cross-entropy on the response
 * tokens and the end-of-text only (the prompt is context, not a target; TRL's
 * default), the weighted mean over the batch's response tokens:
 *
 *     L_SFT = - sum_t w_t log P(x_{t+1} | x_<=t) / sum_t w_t,
 *     w_t = 1 if x_{t+1} is a response token or the end-of-text, else 0
 *
 * (sft_step; the weights come from chat_batch_fill, the loss is gpt_lm_loss).
 * Learning to stop (the end-of-text) is half of what SFT teaches here: the
 * hidden rule pays +0.5 for a concise answer that ends.
 *
 * Measured before (the pretrained model) and after, on data/sft_test.tsv —
 * prompts never demonstrated: the held-out LM loss on the answers, and the
 * hidden rule's score (score_response) of the model's own greedy answers,
 * per kind of question (evaluate). The model is selected by a fixed step
 * count, not by the test set.
 *
 * Left out: dropout, the paper's 16 epochs over 13k prompts, and selection
 * by reward-model score (there is no reward model yet at this rung).
 */
#include "cli.h"
#include "gpt.h"
#include "instruct.h"
#include "tokenizer.h"
#include "toyworld.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- options ---- */

typedef struct {
    const char *tokenizer, *model, *train, *test, *out, *log;
    int steps, batch, warmup, eval_every, seed, threads, max_answer, show;
    float lr, min_lr_frac, weight_decay, clip;
} Options;

/* Defaults: lr 1e-4, batch 32 and 40 steps: enough to teach the chat
 * format, short enough to leave PPO mistakes to fix (notes/05-sft.md shows
 * what 150 steps add; notes/07-ppo.md what each start leaves PPO). */
static Options defaults(void) {
    Options o = {0};
    o.tokenizer = "out/tokenizer.merges";
    o.model = "out/gpt1.bin";
    o.train = "data/sft_train.tsv";
    o.test = "data/sft_test.tsv";
    o.out = TRY_DIR "/sft.bin";
    o.log = TRY_DIR "/sft.tsv";
    o.steps = 40; o.batch = 32; o.warmup = 10; o.eval_every = 10;
    o.lr = 1e-4f; o.min_lr_frac = 0.1f; o.weight_decay = 0.01f; o.clip = 1.0f;
    o.seed = 1; o.max_answer = CHAT_MAX_ANSWER; o.show = 8;
    return o;
}

/* The flags, as data (cli.h); the last field is the --fast preset. */
static void parse_flags(Options *o, int argc, char **argv) {
    const Flag flags[] = {
        FLAG_MODEL(&o->model, "pretrained checkpoint"),
        FLAG_TOKENIZER(&o->tokenizer),
        FLAG_IN("train", &o->train, "demonstrations, prompt<TAB>response"),
        FLAG_IN("test", &o->test, "held-out prompts and answers"),
        FLAG_OUT("out", &o->out, "SFT checkpoint to write, llm.c layout"),
        FLAG_LOG(&o->log),
        FLAG_INT("steps", &o->steps, 1, 10000000, "optimisation steps", "20"),
        FLAG_INT("batch", &o->batch, 1, 4096, "demonstrations per step", "8"),
        FLAG_FLOAT("lr", &o->lr, 0, 1, "peak learning rate", NULL),
        FLAG_INT("warmup", &o->warmup, 0, 10000000, "warm-up steps", "2"),
        FLAG_FLOAT("min-lr-frac", &o->min_lr_frac, 0, 1, "final lr as a fraction of the peak, cosine decay", NULL),
        FLAG_FLOAT("weight-decay", &o->weight_decay, 0, 10, "AdamW decay on 2-D weights", NULL),
        FLAG_FLOAT("clip", &o->clip, 0, 1e6, "gradient-norm clip", NULL),
        FLAG_INT("eval-every", &o->eval_every, 1, 10000000, "score greedy answers every N steps", "10"),
        FLAG_INT("max-answer", &o->max_answer, 1, 4096, "tokens a generated answer may take", NULL),
        FLAG_INT("show", &o->show, 0, 100000, "held-out answers printed before/after", "2"),
        FLAG_END};
    Cli cli = {"sft", "fine-tune a pretrained GPT on prompt/answer demonstrations\n"
                      "                    (InstructGPT step 1), loss on the answer and end-of-text only",
               flags, &o->seed, &o->threads, NULL};
    cli_parse(&cli, argc, argv);
}

/* ---- the demonstrations: prompt <tab> response ---- */

typedef struct {
    int n;
    char **prompts;    /* (n) the prompt text, as in the file */
    char **responses;  /* (n) the demonstrated answer */
    Chat *chats;       /* (n) each pair in the chat format */
} PairSet;

/* Reads a TSV of `prompt <tab> response` rows; every pair must fit the
 * model's context. Dies with "PATH:LINE: ..." on a bad row. */
static PairSet load_pairs(Tokenizer *tok, const char *path, const GPT *m) {
    Tsv tsv;
    tsv_read(&tsv, path, 2);
    PairSet s = {tsv.nrows, NULL, NULL, NULL};
    s.prompts = malloc_or_die(sizeof(char *) * (size_t)s.n, "prompts");
    s.responses = malloc_or_die(sizeof(char *) * (size_t)s.n, "responses");
    s.chats = malloc_or_die(sizeof(Chat) * (size_t)s.n, "chats");
    for (int i = 0; i < s.n; i++) {
        const TsvRow *r = &tsv.rows[i];
        if (r->fields[0][0] == '\0') die("%s:%d: the prompt is empty", path, r->line);
        if (r->fields[1][0] == '\0') die("%s:%d: the response is empty", path, r->line);
        s.prompts[i] = strdup_or_die(r->fields[0]);
        s.responses[i] = strdup_or_die(r->fields[1]);
        s.chats[i] = chat_encode_pair(tok, s.prompts[i], s.responses[i]);
        char where[300];
        snprintf(where, sizeof where, "%s:%d", path, r->line);
        instruct_check_fits(&s.chats[i], m, where);
    }
    tsv_free(&tsv);
    return s;
}

static void free_pairs(PairSet *s) {
    for (int i = 0; i < s->n; i++) {
        free(s->prompts[i]);
        free(s->responses[i]);
        chat_free(&s->chats[i]);
    }
    free(s->prompts);
    free(s->responses);
    free(s->chats);
}

/* ---- one step of SFT ---- */

/* Forward, the answer-only loss, backward: leaves the gradient in m->grads
 * and returns L_SFT of the batch. The optimiser step is the caller's. */
static float sft_step(GPT *m, const ChatBatch *bt) {
    return gpt_lm_step(m, bt->inputs, bt->targets, bt->weights, bt->B, bt->T);
}

/* ---- evaluation: held-out answer loss, and the hidden rule on greedy answers ---- */

/* The kinds of question reported apart (toy_parse_prompt's kinds). */
static const char *const KIND_NAMES[] = {"other", "colour", "place", "sum", "unknown"};
enum { NUM_KINDS = 5 };

typedef struct {
    float loss;                 /* answer-token cross-entropy over the whole set */
    float score;                /* mean score_response of the greedy answers */
    float kind_score[NUM_KINDS];
    int kind_n[NUM_KINDS];
} Eval;

#define EVAL_CHATS 64  /* chats per forward when evaluating the loss */

/* The weighted-mean LM loss of the whole set, in batches of EVAL_CHATS,
 * each batch's mean weighted by its number of answer tokens. */
static float answer_loss(GPT *m, const PairSet *s, ChatBatch *bt, int eot) {
    double sum = 0.0, weight = 0.0;
    const Chat *ptrs[EVAL_CHATS];
    for (int i0 = 0; i0 < s->n; i0 += EVAL_CHATS) {
        int nb = s->n - i0 < EVAL_CHATS ? s->n - i0 : EVAL_CHATS;
        for (int b = 0; b < nb; b++) ptrs[b] = &s->chats[i0 + b];
        chat_batch_fill(bt, ptrs, nb, eot);
        gpt_forward(m, bt->inputs, bt->B, bt->T);
        float w = 0.0f;
        for (int i = 0; i < bt->B * bt->T; i++) w += bt->weights[i];
        sum += (double)gpt_lm_loss(m, bt->targets, bt->weights) * w;
        weight += w;
    }
    return (float)(sum / weight);
}

/* Greedy answers to every prompt of s, scored by the hidden rule. If answers
 * is not NULL it receives each answer (malloc'd) and ended its end flag. */
static Eval evaluate(GPT *m, Tokenizer *tok, const PairSet *s, ChatBatch *bt, int max_answer,
                     char **answers, int *ended_out) {
    Eval e = {0};
    e.loss = answer_loss(m, s, bt, tokenizer_special_id(tok, TOK_EOT));
    char **a = malloc_or_die(sizeof(char *) * (size_t)s->n, "answers");
    int *ended = malloc_or_die(sizeof(int) * (size_t)s->n, "answer ends");
    chat_answers(m, tok, (const char *const *)s->prompts, s->n, max_answer, 0.0f, NULL, a, ended);
    double total = 0.0;
    for (int i = 0; i < s->n; i++) {
        float sc = score_response(s->prompts[i], a[i], ended[i]);
        int k = (int)toy_parse_prompt(s->prompts[i]).kind;
        e.kind_score[k] += sc;
        e.kind_n[k]++;
        total += sc;
        if (answers) { answers[i] = a[i]; ended_out[i] = ended[i]; } else free(a[i]);
    }
    free(a);
    free(ended);
    for (int k = 0; k < NUM_KINDS; k++) if (e.kind_n[k]) e.kind_score[k] /= (float)e.kind_n[k];
    e.score = (float)(total / s->n);
    return e;
}

static float kind_or_nan(const Eval *e, int k) { return e->kind_n[k] ? e->kind_score[k] : NAN; }

static void log_row(AtomicFile *af, int step, float train_loss, float ema, const Eval *train, const Eval *test, float lr) {
    FILE *log = af->f;
    fprintf(log, "%d\t", step);
    if (isnan(train_loss)) fputs("-\t-\t", log); else fprintf(log, "%.5f\t%.5f\t", train_loss, ema);
    if (test) {
        fprintf(log, "%.5f\t%.4f\t%.4f", test->loss, train->score, test->score);
        for (int k = TOY_Q_COLOUR; k <= TOY_Q_UNKNOWN; k++) {
            float v = kind_or_nan(test, k);
            if (isnan(v)) fputs("\t-", log); else fprintf(log, "\t%.4f", v);
        }
    } else {
        fputs("-\t-\t-\t-\t-\t-\t-", log);
    }
    fprintf(log, "\t%.6g\n", lr);
    log_flush(af);
}

static void print_eval(const char *name, const Eval *e) {
    printf("  %-22s answer loss %.4f | score %+.3f |", name, e->loss, e->score);
    for (int k = 0; k < NUM_KINDS; k++) {
        if (e->kind_n[k]) printf(" %s %+.2f (%d)", KIND_NAMES[k], e->kind_score[k], e->kind_n[k]);
    }
    printf("\n");
}

/* ---- the run ---- */

/* Everything one SFT run holds: the tokenizer, the model, the data and the
 * held-out answers before and after (to set side by side at the end). */
typedef struct {
    Tokenizer tok;
    GPT m;
    PairSet train, test;
    ChatBatch bt;
    int eot;
    AtomicFile log;
    char **before, **after;       /* (test.n) greedy answers of the pretrained and the SFT model */
    int *before_ended, *after_ended;
} Run;

/* Loads the tokenizer, the model (checking that they belong together) and
 * the demonstrations, and opens the log (kept until the run succeeds). */
static void run_open(Run *r, const Options *o) {
    memset(r, 0, sizeof *r);
    tokenizer_load(&r->tok, o->tokenizer);
    gpt_load(&r->m, o->model);
    gpt_check_tokenizer(&r->m, o->model, &r->tok, o->tokenizer);
    r->m.tokenizer_id = tokenizer_id(&r->tok);  /* the SFT checkpoint records its tokenizer */
    r->train = load_pairs(&r->tok, o->train, &r->m);
    r->test = load_pairs(&r->tok, o->test, &r->m);
    r->eot = tokenizer_special_id(&r->tok, TOK_EOT);
    printf("sft: %d demonstrations (%s), %d held-out prompts (%s), from %s (%zu parameters)\n",
           r->train.n, o->train, r->test.n, o->test, o->model, r->m.num_parameters);
    log_open(&r->log, o->log, 0);
    fprintf(r->log.f, "step\ttrain_loss\ttrain_loss_ema\ttest_loss\ttrain_score\ttest_score\t"
                      "test_colour\ttest_place\ttest_sum\ttest_unknown\tlr\n");
    size_t n = (size_t)r->test.n;
    r->before = calloc_or_die(n, sizeof(char *), "answers");
    r->after = calloc_or_die(n, sizeof(char *), "answers");
    r->before_ended = calloc_or_die(n, sizeof(int), "answer ends");
    r->after_ended = calloc_or_die(n, sizeof(int), "answer ends");
}

static void run_free(Run *r) {
    for (int i = 0; i < r->test.n; i++) {
        free(r->before[i]);
        free(r->after[i]);
    }
    free(r->before);
    free(r->after);
    free(r->before_ended);
    free(r->after_ended);
    chat_batch_free(&r->bt);
    free_pairs(&r->train);
    free_pairs(&r->test);
    gpt_free(&r->m);
    tokenizer_free(&r->tok);
}

/* Batches drawn without replacement from an order reshuffled whenever it
 * runs out: every demonstration is seen once before any is seen twice. */
typedef struct {
    int *order, next, n;
    Rng rng;
} Sampler;

static void sampler_init(Sampler *s, int n, int seed) {
    s->order = malloc_or_die(sizeof(int) * (size_t)n, "order");
    for (int i = 0; i < n; i++) s->order[i] = i;
    s->n = n;
    s->next = n;  /* forces a shuffle before the first batch */
    rng_seed(&s->rng, (uint64_t)seed + 4000);
}

static void draw_batch(Sampler *s, const PairSet *train, const Chat **ptrs, int B) {
    for (int b = 0; b < B; b++) {
        if (s->next == s->n) {
            rng_shuffle(&s->rng, s->order, s->n);
            s->next = 0;
        }
        ptrs[b] = &train->chats[s->order[s->next++]];
    }
}

/* One line of progress on stdout (and the held-out line after an evaluation). */
static void print_step(int step, int steps, float loss, float ema, float lr, float norm, double tok_per_s,
                       double elapsed, const Eval *tr, const Eval *te) {
    printf("step %4d/%d | loss %.4f (ema %.4f) | lr %.2e | norm %.2f | %6.0f tok/s | %.0f s left\n",
           step, steps, loss, ema, lr, norm, tok_per_s, elapsed / step * (steps - step));
    if (te) printf("  held-out: answer loss %.4f, score %+.3f | demonstrated: score %+.3f\n",
                   te->loss, te->score, tr->score);
}

/* The end of the run: the held-out answers before and after, side by side,
 * the scores by kind of question, and the summary line `make run` collects. */
static void print_results(const Run *r, const Options *o, const Eval *train0, const Eval *test0,
                          const Eval *tr, const Eval *te, double seconds) {
    const PairSet *test = &r->test;
    printf("SFT done in %.1f s; checkpoint %s\n", seconds, o->out);
    int show = o->show < test->n ? o->show : test->n;
    if (show > 0) printf("held-out prompts (score: before -> after):\n");
    for (int i = 0; i < show; i++) {
        printf("  %s\n    before %+.1f: %s%s\n    after  %+.1f: %s%s\n", test->prompts[i],
               score_response(test->prompts[i], r->before[i], r->before_ended[i]), r->before[i],
               r->before_ended[i] ? "" : " ...(no end)",
               score_response(test->prompts[i], r->after[i], r->after_ended[i]), r->after[i],
               r->after_ended[i] ? "" : " ...(no end)");
    }
    printf("results (held-out %s, greedy answers, mean score_response in [-1.5, +1.5]):\n", o->test);
    print_eval("before (pretrained)", test0);
    print_eval("after SFT", te);
    printf("  demonstrated prompts: score %+.3f -> %+.3f\n", train0->score, tr->score);
    printf("summary sft: held-out hidden-rule score %+.3f (pretrained) -> %+.3f (SFT); answer loss %.3f -> %.3f\n",
           test0->score, te->score, test0->loss, te->loss);
}

/* InstructGPT step 1: measure the pretrained model, then for each step draw
 * a batch of demonstrations, take one AdamW step on the answer-only loss,
 * evaluate every eval_every steps and log; save; report. */
static void sft(const Options *o) {
    Run r;
    run_open(&r, o);
    double t_start = now_seconds();
    Eval train0 = evaluate(&r.m, &r.tok, &r.train, &r.bt, o->max_answer, NULL, NULL);
    Eval test0 = evaluate(&r.m, &r.tok, &r.test, &r.bt, o->max_answer, r.before, r.before_ended);
    printf("before SFT (the pretrained model), greedy answers (%.1f s):\n", now_seconds() - t_start);
    print_eval("demonstrated prompts", &train0);
    print_eval("held-out prompts", &test0);
    log_row(&r.log, 0, NAN, NAN, &train0, &test0, 0.0f);

    int B = o->batch < r.train.n ? o->batch : r.train.n;
    const Chat **ptrs = malloc_or_die(sizeof(Chat *) * (size_t)B, "batch chats");
    Sampler sampler;
    sampler_init(&sampler, r.train.n, o->seed);
    AdamWConfig adam = {0.9f, 0.999f, 1e-8f, o->weight_decay};
    float ema = 0.0f;
    Eval tr = train0, te = test0;
    t_start = now_seconds();
    for (int step = 1; step <= o->steps; step++) {
        double t0 = now_seconds();
        draw_batch(&sampler, &r.train, ptrs, B);                 /* a batch of demonstrations */
        chat_batch_fill(&r.bt, ptrs, B, r.eot);
        float loss = sft_step(&r.m, &r.bt);                       /* L_SFT and its gradient */
        die_if_not_finite("the SFT loss", loss, step);
        float norm = gpt_clip_grad(&r.m, o->clip);
        die_if_not_finite("the gradient norm", norm, step);
        float lr = lr_cosine(step - 1, o->steps, o->warmup, o->lr, o->lr * o->min_lr_frac);
        gpt_update(&r.m, lr, &adam);                              /* one AdamW step */
        double tok_per_s = r.bt.B * r.bt.T / (now_seconds() - t0);  /* before evaluate() reuses bt */
        ema = step == 1 ? loss : 0.9f * ema + 0.1f * loss;
        int evaluated = step % o->eval_every == 0 || step == o->steps, last = step == o->steps;
        if (evaluated) {                                          /* held-out loss and score */
            tr = evaluate(&r.m, &r.tok, &r.train, &r.bt, o->max_answer, NULL, NULL);
            te = evaluate(&r.m, &r.tok, &r.test, &r.bt, o->max_answer, last ? r.after : NULL,
                          last ? r.after_ended : NULL);
            die_if_not_finite("the held-out loss", te.loss, step);
        }
        print_step(step, o->steps, loss, ema, lr, norm, tok_per_s, now_seconds() - t_start, &tr,
                   evaluated ? &te : NULL);
        log_row(&r.log, step, loss, ema, &tr, evaluated ? &te : NULL, lr);
    }
    gpt_save(&r.m, o->out);
    log_commit(&r.log);
    print_results(&r, o, &train0, &test0, &tr, &te, now_seconds() - t_start);
    free(sampler.order);
    free(ptrs);
    run_free(&r);
}

/* ---- main ---- */

#ifndef TESTING
int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);  /* progress lines appear as they happen, even in a pipe */
    Options o = defaults();
    parse_flags(&o, argc, argv);
    set_threads(o.threads);
    sft(&o);
    return 0;
}
#endif
