/* gpt1.c — rung 1: GPT-1, "Improving Language Understanding by Generative
 * Pre-Training" (Radford, Narasimhan, Salimans, Sutskever 2018), in one file.
 *
 * The paper's method has two stages, and so does this program:
 *
 *   gpt1 pretrain   §3.1 unsupervised pre-training. Maximise the likelihood of
 *                   a corpus U under a Transformer decoder:
 *                       L1(U) = sum_i log P(u_i | u_{i-k}, ..., u_{i-1})
 *                   (the loop in pretrain; the loss is gpt_lm_loss, in gpt_lm_step).
 *   gpt1 finetune   §3.2 supervised fine-tuning. A linear layer W_y on the last
 *                   hidden state h_l^m of a labelled input x^1..x^m:
 *                       P(y | x) = softmax(h_l^m W_y)
 *                       L2(C) = sum_(x,y) log P(y | x)
 *                   trained together with the language-modelling loss on the
 *                   same inputs as an auxiliary objective:
 *                       L3(C) = L2(C) + lambda * L1(C),  lambda = 0.5
 *                   (finetune_step: L2 is classifier_loss, L1 is the masked
 *                   gpt_lm_loss, and both gradients meet in gpt_backward).
 *                   §3.3 input transformation: the text is wrapped as
 *                   <|start|> text <|extract|>, and the classifier reads the
 *                   hidden state at the extract token (encode_example).
 *   gpt1 eval       pre-training's validation loss (and perplexity) of any
 *                   llm.c-layout checkpoint on any token file.
 *
 * The paper's ablations (§5, Table 5) run by the same command, on the same
 * steps and seed, into the same log: fine-tuning a randomly initialised model
 * (no pre-training), and lambda = 0 (no auxiliary LM loss). `pretrain --init
 * M` continues pre-training from any checkpoint (shape from the file, fresh
 * AdamW); `--resume` continues an interrupted run exactly.
 *
 * Left out: dropout (our toy model does not overfit the corpus in one pass),
 * the paper's 12-layer 768-wide model, and every task but classification.
 */
#include "cli.h"
#include "gpt.h"
#include "head.h"
#include "tokenizer.h"
#include "util.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- options ---- */

enum { CMD_PRETRAIN, CMD_FINETUNE, CMD_EVAL, NUM_COMMANDS };
static const char *const COMMANDS[NUM_COMMANDS] = {"pretrain", "finetune", "eval"};

typedef struct {
    const char *data, *val, *tokenizer, *model, *init, *out, *log, *train, *test;
    int layers, heads, channels, seq;      /* model shape (pretrain) */
    int steps, batch, warmup, eval_every, seed, threads, samples;
    float lr, min_lr_frac, weight_decay, clip, lambda;
    int ablations, train_size;             /* finetune: the two ablations too; the first N examples (0: all) */
    int resume, batches;                   /* pretrain: continue --out and its .state; eval: 0 = all */
} Options;

/* Defaults sized for the toy world on two cores: ~2M tokens of pretraining
 * in about two minutes (the README's table gives the time `make run` took).
 * Outputs go under TRY_DIR: `make run` names the ladder's own files. */
static Options defaults(int cmd) {
    Options o = {.tokenizer = "out/tokenizer.merges", .model = "out/gpt1.bin", .init = "", .seed = 1, .clip = 1.0f};
    if (cmd == CMD_PRETRAIN) {
        o.data = "out/pretrain.bin"; o.val = "out/val.bin";
        o.out = TRY_DIR "/gpt1.bin"; o.log = TRY_DIR "/gpt1_pretrain.tsv";
        o.layers = 4; o.heads = 4; o.channels = 128; o.seq = 128; o.samples = 4;
        o.steps = 2000; o.batch = 8; o.warmup = 100; o.eval_every = 100;
        o.lr = 3e-3f; o.min_lr_frac = 0.1f; o.weight_decay = 0.1f;
    } else if (cmd == CMD_FINETUNE) {
        o.train = "data/classify_train.tsv"; o.test = "data/classify_test.tsv";
        o.out = TRY_DIR "/gpt1_classifier.bin"; o.log = TRY_DIR "/gpt1_finetune.tsv";
        o.steps = 100; o.batch = 16; o.warmup = 10; o.eval_every = 5; o.train_size = 100;
        o.lr = 3e-4f; o.min_lr_frac = 0.0f; o.weight_decay = 0.01f; o.lambda = 0.5f; o.ablations = 1;
    } else {
        o.data = "out/val.bin";
        o.tokenizer = "";  /* a token file does not say which tokenizer made it */
        o.batch = 8; o.batches = GPT_EVAL_BATCHES;
    }
    return o;
}

/* The flags pretrain and finetune share; a number's last field is its --fast value (cli.h). */
#define TRAINING_FLAGS(o, steps_fast, batch_fast, warmup_fast, eval_help, eval_fast)                          \
    FLAG_INT("steps", &(o)->steps, 1, 10000000, "optimisation steps", steps_fast),                           \
    FLAG_INT("batch", &(o)->batch, 1, 4096, "sequences per step", batch_fast),                               \
    FLAG_FLOAT("lr", &(o)->lr, 0, 1, "peak learning rate", NULL),                                             \
    FLAG_INT("warmup", &(o)->warmup, 0, 10000000, "warm-up steps", warmup_fast),                             \
    FLAG_FLOAT("min-lr-frac", &(o)->min_lr_frac, 0, 1, "final lr as a fraction of the peak, cosine decay", NULL), \
    FLAG_FLOAT("weight-decay", &(o)->weight_decay, 0, 10, "AdamW decay on 2-D weights", NULL),                \
    FLAG_FLOAT("clip", &(o)->clip, 0, 1e6, "gradient-norm clip", NULL),                                       \
    FLAG_INT("eval-every", &(o)->eval_every, 1, 10000000, eval_help, eval_fast)

/* Parses argv (after the sub-command) into o, or with argv NULL prints the
 * command's --help. --fast is applied first, so explicit flags still win. */
static void parse_flags(Options *o, int cmd, int argc, char **argv) {
    const Flag pretrain[] = {
        FLAG_IN("data", &o->data, "training tokens"),
        FLAG_IN("val", &o->val, "validation tokens"),
        FLAG_TOKENIZER(&o->tokenizer),
        FLAG_IN("init", &o->init, "start from this checkpoint (any llm.c-layout file): its shape, fresh AdamW"),
        FLAG_OUT("out", &o->out, "checkpoint to write, llm.c layout, saved at every evaluation"),
        FLAG_LOG(&o->log),
        FLAG_INT("layers", &o->layers, 1, 64, "transformer blocks L", "2"),
        FLAG_INT("heads", &o->heads, 1, 256, "attention heads NH", "2"),
        FLAG_INT("channels", &o->channels, 1, 4096, "width C", "32"),
        FLAG_INT("seq", &o->seq, 2, 4096, "context length T", NULL),
        TRAINING_FLAGS(o, "40", "4", "5", "validate and checkpoint every N steps", "10"),
        FLAG_INT("samples", &o->samples, 0, 1000, "text samples printed at the end", "1"),
        FLAG_ON("resume", &o->resume, "continue from --out and --out.state; the shape comes from the checkpoint"),
        FLAG_END};
    const Flag finetune[] = {
        FLAG_MODEL(&o->model, "pre-trained checkpoint"),
        FLAG_TOKENIZER(&o->tokenizer),
        FLAG_IN("train", &o->train, "labelled training TSV: label<TAB>text"),
        FLAG_IN("test", &o->test, "labelled test TSV"),
        FLAG_OUT("out", &o->out, "fine-tuned checkpoint; its head goes beside it as .head"),
        FLAG_LOG(&o->log),
        TRAINING_FLAGS(o, "30", "8", "3", "test accuracy every N steps", "10"),
        FLAG_FLOAT("lambda", &o->lambda, 0, 100, "weight of the auxiliary LM loss L1", NULL),
        FLAG_INT("train-size", &o->train_size, 0, 100000000, "use only the first N labelled examples, 0 = all", NULL),
        FLAG_OFF("no-ablations", &o->ablations, "run only the main fine-tuning run"),
        FLAG_END};
    const Flag eval[] = {
        FLAG_MODEL(&o->model, "checkpoint to evaluate (any llm.c-layout file)"),
        FLAG_IN("data", &o->data, "token file"),
        FLAG_IN("tokenizer", &o->tokenizer, "merges the tokens were made with; checked against the model if given"),
        FLAG_INT("batch", &o->batch, 1, 4096, "windows per batch (pretrain's --batch gives its exact val loss)", "4"),
        FLAG_INT("batches", &o->batches, 0, 100000000, "batches from the start of the file, 0 = all", NULL),
        FLAG_END};
    const Cli clis[NUM_COMMANDS] = {
        {"gpt1 pretrain", "train a GPT on a token file (GPT-1 section 3.1)", pretrain, &o->seed, &o->threads, NULL},
        {"gpt1 finetune", "add a linear classifier, train with L3 = L2 + lambda L1 (3.2),\n"
                          "                               then the two ablations (random init; lambda = 0)",
         finetune, &o->seed, &o->threads, NULL},
        {"gpt1 eval", "loss and perplexity of a checkpoint on a token file (rung 1's validation)", eval, NULL,
         &o->threads, NULL}};
    if (!argv) {
        cli_help(&clis[cmd]);
        return;
    }
    cli_parse(&clis[cmd], argc, argv);
    if (cmd == CMD_PRETRAIN && o->channels % o->heads != 0) {
        die("--channels %d is not divisible by --heads %d", o->channels, o->heads);
    }
}

/* ---- pre-training: the run's state and its log ---- */

/* Entropy of the corpus's unigram distribution, in nats per token: the loss
 * of the best model that ignores context. Pre-training must go far below it. */
static double unigram_entropy(const int *tokens, size_t n, int V) {
    long *count = calloc_or_die((size_t)V, sizeof(long), "unigram counts");
    for (size_t i = 0; i < n; i++) count[tokens[i]]++;
    double h = 0.0;
    for (int v = 0; v < V; v++) {
        if (count[v] == 0) continue;
        double p = (double)count[v] / (double)n;
        h -= p * log(p);
    }
    free(count);
    return h;
}

typedef struct {
    Tokenizer tok;
    int *tokens, *val;       /* the corpus U and the validation stream */
    size_t n, nval;
    double h_unigram;        /* the corpus's unigram entropy: the loss to beat */
    GPT m;
    Rng rng;                 /* draws the batches, then the samples */
    float ema;               /* the smoothed training loss, as logged */
    int first_step;          /* 0, or the step --resume continues from */
    char *state_path;        /* --out.state: AdamW's moments and rng, for --resume */
    int *inputs, *targets;   /* (B, T) one batch, in one allocation */
    AtomicFile log;
} Pretrain;
#define EMA_DECAY 0.95f  /* smoothing of the logged training loss */

/* Loads the tokenizer, the token files and the model to train: a new one,
 * --init's checkpoint (its shape, a fresh optimiser) or, with --resume, --out
 * and its state as saved (the run goes on as if it had never stopped).
 * Returns 0, having said so, when a resumed run has no step left to take. */
static int pretrain_open(Pretrain *p, const Options *o) {
    memset(p, 0, sizeof *p);
    if (o->resume && *o->init) die("--resume continues --out; it cannot also start from --init %s", o->init);
    tokenizer_load(&p->tok, o->tokenizer);
    p->tokens = tokens_load(o->data, &p->n, p->tok.vocab_size);  /* every token must be below V */
    p->val = tokens_load(o->val, &p->nval, p->tok.vocab_size);
    if (p->n > 0x7fffffff) die("%s has %zu tokens; this loader takes at most 2^31", o->data, p->n);
    p->state_path = malloc_or_die(strlen(o->out) + 7, "a file name");
    sprintf(p->state_path, "%s.state", o->out);
    const char *from = o->resume ? o->out : o->init;
    if (*from) {
        gpt_load(&p->m, from);
        gpt_check_tokenizer(&p->m, from, &p->tok, o->tokenizer);
    } else {
        gpt_build(&p->m, gpt_config(o->seq, p->tok.vocab_size, o->layers, o->heads, o->channels), (uint64_t)o->seed);
    }
    p->m.tokenizer_id = tokenizer_id(&p->tok);  /* every checkpoint it writes names its tokenizer */
    if (o->resume) p->rng.state = gpt_load_state(&p->m, p->state_path, &p->ema);
    else rng_seed(&p->rng, (uint64_t)o->seed + 1000);
    p->first_step = p->m.step;  /* 0 but after --resume: gpt_load starts a fresh optimiser */
    int T = p->m.config.maxT;
    if (p->n <= (size_t)T + 1) die("%s has %zu tokens: too few for one sequence of %d", o->data, p->n, T + 1);
    if (p->nval <= (size_t)T + 1) die("%s has %zu tokens: too few for one validation sequence of %d", o->val, p->nval, T + 1);
    if (p->first_step >= o->steps) {
        printf("%s is already at step %d of %d: nothing left to train\n", o->out, p->first_step, o->steps);
        return 0;
    }
    if (o->resume) printf("resuming %s at step %d\n", o->out, p->first_step);
    if (*o->init) printf("continuing pre-training of %s: its shape, fresh AdamW moments\n", o->init);
    p->inputs = malloc_or_die(sizeof(int) * 2 * (size_t)o->batch * T, "inputs and targets");
    p->targets = p->inputs + (size_t)o->batch * T;
    return 1;
}

static void pretrain_free(Pretrain *p) {
    free(p->inputs);  /* and the targets after them */
    free(p->tokens);
    free(p->val);
    free(p->state_path);
    gpt_free(&p->m);
    tokenizer_free(&p->tok);
}

/* Opens the log as PATH.tmp, renamed over PATH when the run succeeds. A
 * resumed run continues the log of the run it resumes (its PATH.tmp, or PATH
 * if that run had finished) up to the step it resumes from: rows after the
 * last checkpoint were never saved in the model, so they go. */
static void pretrain_open_log(AtomicFile *log, const char *path, int keep_until_step) {
    size_t len = strlen(path) + 5;
    char *tmp = malloc_or_die(len, "a file name");
    snprintf(tmp, len, "%s.tmp", path);
    const char *from = keep_until_step == 0 ? NULL : access(tmp, F_OK) == 0 ? tmp : access(path, F_OK) == 0 ? path : NULL;
    char *old = from ? read_file_or_die(from, NULL) : NULL;
    AtomicFile kept;  /* PATH.tmp itself is replaced atomically: a kill here loses no row */
    atomic_open(&kept, tmp);
    fputs("step\ttrain_loss\ttrain_loss_ema\tval_loss\tlr\ttokens_per_s\tunigram_entropy\n", kept.f);
    for (char *line = old ? strchr(old, '\n') : NULL; line && *++line;) {  /* the rows after the header */
        char *end = strchr(line, '\n');
        if (!end) break;  /* a half-written last line */
        if (atoi(line) <= keep_until_step) fwrite_or_die(line, 1, (size_t)(end - line + 1), kept.f, kept.tmp);
        line = end;
    }
    atomic_commit(&kept);
    free(old);
    free(tmp);
    log_open(log, path, 1);
}

/* What one step reports: stdout's progress line and the log's row. */
typedef struct {
    int step;                            /* 0-based */
    float loss, val, lr, norm;           /* val: NAN when the step did not validate */
    double tokens_per_s;
} StepReport;

static void log_step(Pretrain *p, const Options *o, const StepReport *r, double t_start) {
    double elapsed = now_seconds() - t_start;
    double left = elapsed / (r->step + 1 - p->first_step) * (o->steps - r->step - 1);
    char val_text[16] = "  -   ";
    if (!isnan(r->val)) snprintf(val_text, sizeof val_text, "%.4f", r->val);
    printf("step %4d/%d | loss %.4f (ema %.4f) | val %s | lr %.2e | norm %.2f | %6.0f tok/s | %.0f s left\n",
           r->step + 1, o->steps, r->loss, p->ema, val_text, r->lr, r->norm, r->tokens_per_s, left);
    FILE *f = p->log.f;
    fprintf(f, "%d\t%.5f\t%.5f\t", r->step + 1, r->loss, p->ema);
    if (!isnan(r->val)) fprintf(f, "%.5f", r->val); else fputc('-', f);
    fprintf(f, "\t%.6g\t%.0f\t%.5f\n", r->lr, r->tokens_per_s, p->h_unigram);
    log_flush(&p->log);
}

static void print_sample(GPT *m, Tokenizer *tok, int max_new, float temperature, Rng *rng) {
    int eot = tokenizer_special_id(tok, TOK_EOT);
    int prompt[1] = {eot};
    int *out = malloc_or_die(sizeof(int) * (size_t)max_new, "a sample");
    int n = gpt_sample(m, prompt, 1, out, max_new, eot, temperature, 0, rng);
    if (n > 0 && out[n - 1] == eot) n--;
    size_t len;
    char *text = tokenizer_decode(tok, out, (size_t)n, &len);
    const char *start = text;
    while (*start == '\n') start++;  /* documents begin on a new line after <|endoftext|> */
    printf("  | %s\n", start);
    free(text);
    free(out);
}

static void print_pretrain_results(Pretrain *p, const Options *o, float val_loss, double t_start) {
    printf("pretrain done in %.1f s\n", now_seconds() - t_start);
    printf("summary gpt1 pretrain: val loss %.3f nats/token vs unigram entropy %.3f\n", val_loss, p->h_unigram);
    printf("checkpoint: %s (llm.c layout)\n", o->out);
    printf("samples (temperature 0.8), each starting from <|endoftext|>:\n");
    for (int s = 0; s < o->samples; s++) print_sample(&p->m, &p->tok, 48, 0.8f, &p->rng);
}

/* ---- pre-training: the method ---- */

/* Stops the run on a NaN, naming the step and (unlike die_if_not_finite) the checkpoint kept. */
static void check_finite(const char *what, float x, int step, const char *ckpt) {
    if (!isfinite(x)) die("step %d: %s is %g; stopping (the last good checkpoint, %s, is kept)", step, what, (double)x, ckpt);
}


/* The validation loss, on the same windows of the validation file every time. */
static float validate(Pretrain *p, const Options *o, int step) {
    float val = gpt_eval_loss(&p->m, p->val, p->nval, o->batch, p->m.config.maxT, GPT_EVAL_BATCHES, p->inputs, p->targets);
    check_finite("the validation loss", val, step, o->out);
    return val;
}

/* The checkpoint and its optimiser state, each replaced atomically, after the
 * step's log row: the last good checkpoint is always on disk, and the log a
 * resumed run continues holds every step that checkpoint has taken. */
static void save_checkpoint(Pretrain *p, const Options *o) {
    gpt_save(&p->m, o->out);
    gpt_save_state(&p->m, p->state_path, p->rng.state, p->ema);
}

static void pretrain(const Options *o) {
    Pretrain p;
    if (!pretrain_open(&p, o)) {
        pretrain_free(&p);
        return;
    }
    GPT *m = &p.m;
    int V = p.tok.vocab_size, B = o->batch, T = m->config.maxT;
    p.h_unigram = unigram_entropy(p.tokens, p.n, V);
    printf("pretrain: %zu training tokens, %zu validation tokens, V=%d\n", p.n, p.nval, V);
    printf("model: L=%d C=%d NH=%d T=%d, %zu parameters\n", m->config.L, m->config.C, m->config.NH, T, m->num_parameters);
    printf("unigram entropy of the corpus: %.3f nats/token (the loss to beat)\n", p.h_unigram);
    pretrain_open_log(&p.log, o->log, p.first_step);
    AdamWConfig adam = {0.9f, 0.95f, 1e-8f, o->weight_decay};
    float val_loss = NAN;
    double t_start = now_seconds();
    for (int step = p.first_step; step < o->steps; step++) {
        double t0 = now_seconds();
        /* maximise L1(U): B random windows of the corpus, one AdamW step */
        gpt_random_windows(p.tokens, p.n, B, T, p.inputs, p.targets, &p.rng);
        float loss = gpt_lm_step(m, p.inputs, p.targets, NULL, B, T);  /* L1 on one batch */
        check_finite("the training loss", loss, step, o->out);
        float norm = gpt_clip_grad(m, o->clip);
        check_finite("the gradient norm", norm, step, o->out);
        float lr = lr_cosine(step, o->steps, o->warmup, o->lr, o->lr * o->min_lr_frac);
        gpt_update(m, lr, &adam);
        double dt = now_seconds() - t0;
        p.ema = step == 0 ? loss : EMA_DECAY * p.ema + (1.0f - EMA_DECAY) * loss;
        int evaluated = step % o->eval_every == 0 || step == o->steps - 1;
        if (evaluated) val_loss = validate(&p, o, step);
        StepReport r = {step, loss, evaluated ? val_loss : NAN, lr, norm, B * T / dt};
        log_step(&p, o, &r, t_start);
        if (evaluated) save_checkpoint(&p, o);
    }
    log_commit(&p.log);
    print_pretrain_results(&p, o, val_loss, t_start);
    pretrain_free(&p);
}

/* ---- eval: rung 1's validation loss, for any checkpoint and token file ---- */

static void eval(const Options *o) {
    GPT m;
    gpt_load(&m, o->model);
    if (*o->tokenizer) {
        Tokenizer tok;
        tokenizer_load(&tok, o->tokenizer);
        gpt_check_tokenizer(&m, o->model, &tok, o->tokenizer);
        tokenizer_free(&tok);
    }
    size_t n;
    int *tokens = tokens_load(o->data, &n, m.config.V);  /* a token the model cannot read: one line */
    int B = o->batch, T = m.config.maxT;
    size_t full = n > 0 ? (n - 1) / (size_t)T / (size_t)B : 0;  /* batches of B windows of T + 1 tokens */
    if (full == 0) die("%s has %zu tokens: too few for one batch of %d windows of %d + 1 (try a smaller --batch)",
                       o->data, n, B, T);
    int nb = o->batches > 0 && (size_t)o->batches < full ? o->batches : full > INT_MAX ? INT_MAX : (int)full;
    int *inputs = malloc_or_die(sizeof(int) * 2 * (size_t)B * T, "inputs and targets");
    int *targets = inputs + (size_t)B * T;
    printf("eval: %s (L=%d C=%d NH=%d T=%d, %zu parameters) on %s (%zu tokens)\n", o->model, m.config.L,
           m.config.C, m.config.NH, T, m.num_parameters, o->data, n);
    float loss = gpt_eval_loss(&m, tokens, n, B, T, nb, inputs, targets);
    printf("%d batch%s of %d x %d tokens from the start of the file (as pretrain validates)\n", nb, nb == 1 ? "" : "es", B, T);
    printf("unigram entropy of the file: %.3f nats/token (the loss of a model that ignores context)\n",
           unigram_entropy(tokens, n, m.config.V));
    printf("summary gpt1 eval: loss %.5f nats/token, perplexity %.3f\n", loss, exp(loss));
    free(inputs);
    free(tokens);
    gpt_free(&m);
}

/* ---- fine-tuning data: <|start|> text <|extract|> ---- */

typedef struct {
    int *tokens;  /* <|start|> text <|extract|> */
    int len;
    int label;
} Example;

typedef struct {
    Example *ex;
    int n;
    int num_classes;  /* 1 + the largest label */
} Dataset;

/* GPT-1's input transformation for classification (§3.3, Figure 1). */
static Example encode_example(Tokenizer *tok, const char *text, int label) {
    size_t n;
    int *body = tokenizer_encode(tok, text, strlen(text), &n);
    Example e;
    e.len = (int)n + 2;
    e.tokens = malloc_or_die(sizeof(int) * (size_t)e.len, "an example");
    e.tokens[0] = tokenizer_special_id(tok, TOK_START);
    memcpy(e.tokens + 1, body, sizeof(int) * n);
    e.tokens[e.len - 1] = tokenizer_special_id(tok, TOK_EXTRACT);
    e.label = label;
    free(body);
    return e;
}

/* Reads a TSV of `label <tab> text` rows. Every row must fit the context. */
static Dataset load_dataset(Tokenizer *tok, const char *path, int maxT) {
    Tsv tsv;
    tsv_read(&tsv, path, 2);
    Dataset d = {malloc_or_die(sizeof(Example) * (size_t)tsv.nrows, "examples"), tsv.nrows, 0};
    for (int i = 0; i < tsv.nrows; i++) {
        const TsvRow *r = &tsv.rows[i];
        int label = (int)tsv_int(&tsv, r, 0, 0, 1000);
        if (r->fields[1][0] == '\0') die("%s:%d: the text is empty", path, r->line);
        d.ex[i] = encode_example(tok, r->fields[1], label);
        if (d.ex[i].len > maxT) {
            die("%s:%d: the text is %d tokens with start and extract, longer than the model's context (%d)",
                path, r->line, d.ex[i].len, maxT);
        }
        if (label + 1 > d.num_classes) d.num_classes = label + 1;
    }
    tsv_free(&tsv);
    if (d.num_classes < 2) die("%s has only one class; a classifier needs at least two", path);
    return d;
}

static void free_dataset(Dataset *d) {
    for (int i = 0; i < d->n; i++) free(d->ex[i].tokens);
    free(d->ex);
}

/* A batch of examples, right-padded with end-of-text to the longest one.
 * Padding sits after the extract token, so causal attention keeps it from
 * changing anything the classifier reads. */
typedef struct {
    int B, T;
    int *inputs;     /* (B, T) */
    int *targets;    /* (B, T) next tokens, for the auxiliary LM loss */
    float *weights;  /* (B, T) 1 where the LM loss counts: predicting the text */
    int *rows;       /* (B)    b*T + position of the extract token */
    int *labels;     /* (B)    */
} Batch;

static void make_batch(Batch *bt, const Dataset *d, const int *idx, int B, int pad) {
    int T = 0;
    for (int b = 0; b < B; b++) if (d->ex[idx[b]].len > T) T = d->ex[idx[b]].len;
    bt->B = B;
    bt->T = T;
    for (int b = 0; b < B; b++) {
        const Example *e = &d->ex[idx[b]];
        for (int t = 0; t < T; t++) {
            int i = b * T + t;
            bt->inputs[i] = t < e->len ? e->tokens[t] : pad;
            /* position t predicts text token t+1; the last text token's
             * target would be <|extract|>, which is not text: weight 0 */
            int predicts_text = t + 1 < e->len - 1;
            bt->targets[i] = predicts_text ? e->tokens[t + 1] : pad;
            bt->weights[i] = predicts_text ? 1.0f : 0.0f;
        }
        bt->rows[b] = b * T + e->len - 1;
        bt->labels[b] = e->label;
    }
}

static void alloc_batch(Batch *bt, int B, int maxT) {
    size_t n = (size_t)B * maxT;
    bt->inputs = malloc_or_die(sizeof(int) * n, "batch inputs");
    bt->targets = malloc_or_die(sizeof(int) * n, "batch targets");
    bt->weights = malloc_or_die(sizeof(float) * n, "batch weights");
    bt->rows = malloc_or_die(sizeof(int) * (size_t)B, "batch rows");
    bt->labels = malloc_or_die(sizeof(int) * (size_t)B, "batch labels");
}

static void free_batch(Batch *bt) {
    free(bt->inputs);
    free(bt->targets);
    free(bt->weights);
    free(bt->rows);
    free(bt->labels);
}

/* ---- fine-tuning: L3 = L2 + lambda * L1 ---- */

typedef struct {
    float l3, l2, l1;  /* the combined loss and its two parts */
    int correct;       /* batch examples classified right */
} StepResult;

/* L2: the classifier's cross-entropy, P(y|x) = softmax(W_y h_l^m + b).
 * Writes the class logits (B, K) and the softmax (B, K); returns the mean loss. */
static float classifier_loss(const LinearHead *h, GPT *m, const Batch *bt, float *logits,
                             float *probs, float *losses) {
    head_forward(h, logits, m->acts.lnf, bt->rows, bt->B);
    return crossentropy_forward(probs, losses, logits, bt->labels, NULL, bt->B, h->K, h->K);
}

/* One step of fine-tuning on a batch, up to (not including) the update. */
static StepResult finetune_step(GPT *m, LinearHead *h, const Batch *bt, float lambda,
                                float *logits, float *probs, float *losses) {
    StepResult r = {0};
    gpt_forward(m, bt->inputs, bt->B, bt->T);
    r.l2 = classifier_loss(h, m, bt, logits, probs, losses);
    r.l1 = gpt_lm_loss(m, bt->targets, bt->weights);
    r.l3 = r.l2 + lambda * r.l1;
    for (int b = 0; b < bt->B; b++) {
        int arg = 0;
        for (int k = 1; k < h->K; k++) if (logits[b * h->K + k] > logits[b * h->K + arg]) arg = k;
        r.correct += arg == bt->labels[b];
    }
    /* backward: dL3/dlogits_cls = dL2;  dL3/dlogits_lm = lambda dL1 */
    gpt_zero_grad(m);
    head_zero_grad(h);
    float *dcls = calloc_or_die((size_t)bt->B * h->K, sizeof(float), "classifier gradients");
    crossentropy_backward(dcls, probs, bt->labels, NULL, 1.0f, bt->B, h->K, h->K);
    memset(m->dhidden, 0, sizeof(float) * (size_t)bt->B * bt->T * m->config.C);
    head_backward(h, m->dhidden, dcls, m->acts.lnf, bt->rows, bt->B);
    free(dcls);
    if (lambda > 0.0f) gpt_lm_loss_backward(m, bt->targets, bt->weights, lambda);
    gpt_backward(m, lambda > 0.0f ? m->dlogits : NULL, m->dhidden);
    return r;
}

/* Accuracy of the classifier over a whole dataset, EVAL_BATCH examples at a time. */
#define EVAL_BATCH 32

static float accuracy(GPT *m, const LinearHead *h, const Dataset *d, Batch *bt, int B, int pad) {
    int correct = 0;
    int *idx = malloc_or_die(sizeof(int) * (size_t)B, "indices");
    float *logits = malloc_or_die(sizeof(float) * (size_t)B * h->K, "logits");
    for (int i0 = 0; i0 < d->n; i0 += B) {
        int nb = d->n - i0 < B ? d->n - i0 : B;
        for (int b = 0; b < nb; b++) idx[b] = i0 + b;
        make_batch(bt, d, idx, nb, pad);
        gpt_forward(m, bt->inputs, nb, bt->T);
        head_forward(h, logits, m->acts.lnf, bt->rows, nb);
        for (int b = 0; b < nb; b++) {
            int arg = 0;
            for (int k = 1; k < h->K; k++) if (logits[b * h->K + k] > logits[b * h->K + arg]) arg = k;
            correct += arg == bt->labels[b];
        }
    }
    free(idx);
    free(logits);
    return (float)correct / (float)d->n;
}


/* One fine-tuning run (the main one or an ablation), logged under `name`.
 * Returns the final test accuracy; leaves the trained model in m and h. */
static float finetune_run(const char *name, GPT *m, LinearHead *h, const Dataset *train,
                          const Dataset *test, float lambda, int pad, const Options *o, AtomicFile *log) {
    int B = o->batch, K = h->K;
    Batch bt;  /* shared by training batches (B) and evaluation batches (EVAL_BATCH) */
    alloc_batch(&bt, B > EVAL_BATCH ? B : EVAL_BATCH, m->config.maxT);
    int *idx = malloc_or_die(sizeof(int) * (size_t)B, "indices");
    float *logits = malloc_or_die(sizeof(float) * (size_t)B * (2 * K + 1), "class logits, probs, losses");
    float *probs = logits + (size_t)B * K, *losses = probs + (size_t)B * K;  /* (B, K), (B, K), (B) */
    Rng rng;
    rng_seed(&rng, (uint64_t)o->seed + 2000);  /* the same batches for every run */
    AdamWConfig adam = {0.9f, 0.999f, 1e-8f, o->weight_decay};
    float acc = accuracy(m, h, test, &bt, EVAL_BATCH, pad);
    printf("[%s] lambda=%.2f  step 0: test accuracy %.3f\n", name, lambda, acc);
    fprintf(log->f, "%s\t0\t-\t-\t-\t-\t%.4f\n", name, acc);
    log_flush(log);
    for (int step = 1; step <= o->steps; step++) {
        for (int b = 0; b < B; b++) idx[b] = rng_below(&rng, train->n);
        make_batch(&bt, train, idx, B, pad);
        StepResult r = finetune_step(m, h, &bt, lambda, logits, probs, losses);
        die_if_not_finite("the fine-tuning loss", r.l3, step);
        float norm = head_clip_together(h, m->grads_memory, m->num_parameters, o->clip);
        die_if_not_finite("the gradient norm", norm, step);
        float lr = lr_cosine(step - 1, o->steps, o->warmup, o->lr, o->lr * o->min_lr_frac);
        gpt_update(m, lr, &adam);
        head_update(h, lr, &adam);
        int evaluated = step % o->eval_every == 0 || step == o->steps;
        if (evaluated) {
            acc = accuracy(m, h, test, &bt, EVAL_BATCH, pad);
            printf("[%s] step %3d/%d | L3 %.4f = L2 %.4f + %.2f x L1 %.4f | batch acc %.2f | test acc %.3f\n",
                   name, step, o->steps, r.l3, r.l2, lambda, r.l1, (float)r.correct / B, acc);
        }
        fprintf(log->f, "%s\t%d\t%.5f\t%.5f\t%.5f\t%.4f\t", name, step, r.l3, r.l2, r.l1, (float)r.correct / B);
        if (evaluated) fprintf(log->f, "%.4f\n", acc); else fputs("-\n", log->f);
        log_flush(log);
    }
    free(idx);
    free(logits);
    free_batch(&bt);
    return acc;
}

/* The main run, then the two ablations on the same steps and batches. The
 * lambda = 0 run reads --model again: the flag table has made sure that
 * --out is another file, so it starts from the pre-trained model, never
 * from the one the main run just wrote. */
static void finetune(const Options *o) {
    Tokenizer tok;
    tokenizer_load(&tok, o->tokenizer);
    GPT m;
    gpt_load(&m, o->model);
    gpt_check_tokenizer(&m, o->model, &tok, o->tokenizer);
    Dataset train = load_dataset(&tok, o->train, m.config.maxT);
    if (o->train_size > 0 && o->train_size < train.n) {
        /* GPT-1's setting: plenty of unlabelled text, few labels */
        for (int i = o->train_size; i < train.n; i++) free(train.ex[i].tokens);
        train.n = o->train_size;
    }
    Dataset test = load_dataset(&tok, o->test, m.config.maxT);
    int pad = tokenizer_special_id(&tok, TOK_EOT);  /* any token would do: padding is never read */
    int K = train.num_classes > test.num_classes ? train.num_classes : test.num_classes;
    printf("finetune: %d training and %d test examples, %d classes, from %s\n", train.n, test.n, K, o->model);
    AtomicFile log;
    log_open(&log, o->log, 0);
    fprintf(log.f, "run\tstep\tl3\tl2_classifier\tl1_lm\tbatch_acc\ttest_acc\n");

    /* the main run: pre-trained trunk, lambda as given */
    LinearHead h;
    head_build(&h, K, m.config.C, 0.02f, (uint64_t)o->seed);
    float acc_main = finetune_run("pretrained", &m, &h, &train, &test, o->lambda, pad, o, &log);
    gpt_save(&m, o->out);
    char *hpath = head_path_for(o->out);
    head_save(&h, hpath);
    printf("saved %s and its classifier head %s\n", o->out, hpath);
    free(hpath);
    head_free(&h);
    gpt_free(&m);

    if (o->ablations) {
        /* ablation 1: no auxiliary LM loss */
        gpt_load(&m, o->model);
        head_build(&h, K, m.config.C, 0.02f, (uint64_t)o->seed);
        float acc_nolm = finetune_run("pretrained_lambda0", &m, &h, &train, &test, 0.0f, pad, o, &log);
        GPTConfig cfg = m.config;
        head_free(&h);
        gpt_free(&m);
        /* ablation 2: no pre-training (same architecture, random init) */
        gpt_build(&m, cfg, (uint64_t)o->seed);
        head_build(&h, K, cfg.C, 0.02f, (uint64_t)o->seed);
        float acc_rand = finetune_run("random_init", &m, &h, &train, &test, o->lambda, pad, o, &log);
        head_free(&h);
        gpt_free(&m);
        printf("summary gpt1 finetune: test accuracy after %d steps: pretrained %.3f | lambda=0 %.3f | "
               "random init %.3f (chance %.3f)\n", o->steps, acc_main, acc_nolm, acc_rand, 1.0 / K);
    } else {
        printf("summary gpt1 finetune: test accuracy after %d steps: pretrained %.3f (chance %.3f)\n",
               o->steps, acc_main, 1.0 / K);
    }
    log_commit(&log);
    free_dataset(&train);
    free_dataset(&test);
    tokenizer_free(&tok);
}

/* ---- main ---- */

#ifndef TESTING
int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);  /* progress lines appear as they happen, even in a pipe */
    int cmd = cli_command(argc, argv, "gpt1", COMMANDS, NUM_COMMANDS);
    if (cmd < 0) {  /* no command, or --help: every command's flags */
        for (int c = 0; c < NUM_COMMANDS; c++) {
            Options d = defaults(c);
            if (c > 0) printf("\n");
            parse_flags(&d, c, 0, NULL);
        }
        return argc < 2 ? 1 : 0;
    }
    Options o = defaults(cmd);
    parse_flags(&o, cmd, argc - 1, argv + 1);
    set_threads(o.threads);
    if (cmd == CMD_PRETRAIN) pretrain(&o);
    else if (cmd == CMD_FINETUNE) finetune(&o);
    else eval(&o);
    return 0;
}
#endif
