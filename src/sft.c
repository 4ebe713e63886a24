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

/* Defaults: lr 1e-4, batch 32 and 150 steps; the curve in notes/05-sft.md is
 * what these give here (its peak comes earlier, and the note says why). */
static Options defaults(void) {
    Options o = {0};
    o.tokenizer = "out/tokenizer.merges";
    o.model = "out/gpt1.bin";
    o.train = "data/sft_train.tsv";
    o.test = "data/sft_test.tsv";
    o.out = TRY_DIR "/sft.bin";
    o.log = TRY_DIR "/sft.tsv";
    o.steps = 150; o.batch = 32; o.warmup = 10; o.eval_every = 10;
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
    gpt_forward(m, bt->inputs, bt->B, bt->T);
    float loss = gpt_lm_loss(m, bt->targets, bt->weights);
    gpt_zero_grad(m);
    gpt_lm_loss_backward(m, bt->targets, bt->weights, 1.0f);
    gpt_backward(m, m->dlogits, NULL);
    return loss;
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

static void sft(const Options *o) {
    Tokenizer tok;
    tokenizer_load(&tok, o->tokenizer);
    GPT m;
    gpt_load(&m, o->model);
    instruct_check_vocab(&m, o->model, &tok, o->tokenizer);
    PairSet train = load_pairs(&tok, o->train, &m);
    PairSet test = load_pairs(&tok, o->test, &m);
    int eot = tokenizer_special_id(&tok, TOK_EOT);
    printf("sft: %d demonstrations (%s), %d held-out prompts (%s), from %s (%zu parameters)\n",
           train.n, o->train, test.n, o->test, o->model, m.num_parameters);

    AtomicFile log;
    log_open(&log, o->log, 0);
    fprintf(log.f, "step\ttrain_loss\ttrain_loss_ema\ttest_loss\ttrain_score\ttest_score\t"
                 "test_colour\ttest_place\ttest_sum\ttest_unknown\tlr\n");
    ChatBatch bt = {0};

    /* before: the pretrained model, asked in the chat format */
    char **before = malloc_or_die(sizeof(char *) * (size_t)test.n, "answers");
    int *before_ended = malloc_or_die(sizeof(int) * (size_t)test.n, "answer ends");
    double t_start = now_seconds();
    Eval train0 = evaluate(&m, &tok, &train, &bt, o->max_answer, NULL, NULL);
    Eval test0 = evaluate(&m, &tok, &test, &bt, o->max_answer, before, before_ended);
    printf("before SFT (the pretrained model), greedy answers (%.1f s):\n", now_seconds() - t_start);
    print_eval("demonstrated prompts", &train0);
    print_eval("held-out prompts", &test0);
    log_row(&log, 0, NAN, NAN, &train0, &test0, 0.0f);

    /* training: batches drawn without replacement from a reshuffled order */
    int B = o->batch < train.n ? o->batch : train.n;
    int *order = malloc_or_die(sizeof(int) * (size_t)train.n, "order");
    for (int i = 0; i < train.n; i++) order[i] = i;
    int next = train.n;  /* forces a shuffle before the first batch */
    const Chat **ptrs = malloc_or_die(sizeof(Chat *) * (size_t)B, "batch chats");
    Rng rng;
    rng_seed(&rng, (uint64_t)o->seed + 4000);
    AdamWConfig adam = {0.9f, 0.999f, 1e-8f, o->weight_decay};
    float ema = 0.0f;
    Eval tr = train0, te = test0;
    /* the last evaluation keeps its answers, to set beside the ones before */
    char **after = calloc_or_die((size_t)test.n, sizeof(char *), "answers");
    int *after_ended = calloc_or_die((size_t)test.n, sizeof(int), "answer ends");
    t_start = now_seconds();
    for (int step = 1; step <= o->steps; step++) {
        double t0 = now_seconds();
        for (int b = 0; b < B; b++) {
            if (next == train.n) {
                rng_shuffle(&rng, order, train.n);
                next = 0;
            }
            ptrs[b] = &train.chats[order[next++]];
        }
        chat_batch_fill(&bt, ptrs, B, eot);
        float loss = sft_step(&m, &bt);
        die_if_not_finite("the SFT loss", loss, step);
        float norm = gpt_clip_grad(&m, o->clip);
        die_if_not_finite("the gradient norm", norm, step);
        float lr = lr_cosine(step - 1, o->steps, o->warmup, o->lr, o->lr * o->min_lr_frac);
        gpt_update(&m, lr, &adam);
        double tok_per_s = bt.B * bt.T / (now_seconds() - t0);  /* before evaluate() reuses bt */
        ema = step == 1 ? loss : 0.9f * ema + 0.1f * loss;

        int evaluated = step % o->eval_every == 0 || step == o->steps;
        if (evaluated) {
            tr = evaluate(&m, &tok, &train, &bt, o->max_answer, NULL, NULL);
            int last = step == o->steps;
            te = evaluate(&m, &tok, &test, &bt, o->max_answer, last ? after : NULL, last ? after_ended : NULL);
            die_if_not_finite("the held-out loss", te.loss, step);
        }
        double elapsed = now_seconds() - t_start, left = elapsed / step * (o->steps - step);
        printf("step %4d/%d | loss %.4f (ema %.4f) | lr %.2e | norm %.2f | %6.0f tok/s | %.0f s left\n",
               step, o->steps, loss, ema, lr, norm, tok_per_s, left);
        if (evaluated) {
            printf("  held-out: answer loss %.4f, score %+.3f | demonstrated: score %+.3f\n",
                   te.loss, te.score, tr.score);
        }
        log_row(&log, step, loss, ema, &tr, evaluated ? &te : NULL, lr);
    }
    gpt_save(&m, o->out);
    log_commit(&log);

    /* after: the same held-out prompts, side by side with the answers before */
    printf("SFT done in %.1f s; checkpoint %s\n", now_seconds() - t_start, o->out);
    int show = o->show < test.n ? o->show : test.n;
    if (show > 0) printf("held-out prompts (score: before -> after):\n");
    for (int i = 0; i < show; i++) {
        printf("  %s\n    before %+.1f: %s%s\n    after  %+.1f: %s%s\n", test.prompts[i],
               score_response(test.prompts[i], before[i], before_ended[i]), before[i],
               before_ended[i] ? "" : " ...(no end)",
               score_response(test.prompts[i], after[i], after_ended[i]), after[i],
               after_ended[i] ? "" : " ...(no end)");
    }
    printf("results (held-out %s, greedy answers, mean score_response in [-1.5, +1.5]):\n", o->test);
    print_eval("before (pretrained)", &test0);
    print_eval("after SFT", &te);
    printf("  demonstrated prompts: score %+.3f -> %+.3f\n", train0.score, tr.score);
    printf("summary sft: held-out hidden-rule score %+.3f (pretrained) -> %+.3f (SFT); answer loss %.3f -> %.3f\n",
           test0.score, te.score, test0.loss, te.loss);

    for (int i = 0; i < test.n; i++) {
        free(before[i]);
        free(after[i]);
    }
    free(before);
    free(before_ended);
    free(after);
    free(after_ended);
    free(order);
    free(ptrs);
    chat_batch_free(&bt);
    free_pairs(&train);
    free_pairs(&test);
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
    sft(&o);
    return 0;
}
#endif
