/* gpt1.c — rung 1: GPT-1, "Improving Language Understanding by Generative
 * Pre-Training" (Radford, Narasimhan, Salimans, Sutskever 2018), in one file.
 *
 * The paper's method has two stages, and so does this program:
 *
 *   gpt1 pretrain   §3.1 unsupervised pre-training. Maximise the likelihood of
 *                   a corpus U under a Transformer decoder:
 *                       L1(U) = sum_i log P(u_i | u_{i-k}, ..., u_{i-1})
 *                   (pretrain_step; the loss is gpt_lm_loss).
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
 *
 * The paper's ablations (§5, Table 5) run by the same command, on the same
 * steps and seed, into the same log: fine-tuning a randomly initialised model
 * (no pre-training), and lambda = 0 (no auxiliary LM loss).
 *
 * Left out: dropout (our toy model does not overfit the corpus in one pass),
 * the paper's 12-layer 768-wide model, and every task but classification.
 */
#include "gpt.h"
#include "head.h"
#include "tokenizer.h"
#include "util.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- options ---- */

typedef struct {
    const char *data, *val, *tokenizer, *model, *out, *log, *train, *test;
    int layers, heads, channels, seq;      /* model shape (pretrain) */
    int steps, batch, warmup, eval_every, seed, threads, samples;
    float lr, min_lr_frac, weight_decay, clip, lambda;
    int ablations;                         /* finetune: also run the two ablations */
    int train_size;                        /* finetune: use only the first N labelled examples (0: all) */
    int resume;                            /* pretrain: continue from --out and its .state */
} Options;

/* Defaults sized for the toy world on two cores (TOYWORLD-NOTES.md):
 * ~2M tokens of pretraining in about two minutes. */
static Options pretrain_defaults(void) {
    Options o = {0};
    o.data = "out/pretrain.bin";
    o.val = "out/val.bin";
    o.tokenizer = "out/tokenizer.merges";
    o.out = "out/gpt1.bin";
    o.log = "plots/gpt1_pretrain.tsv";
    o.layers = 4; o.heads = 4; o.channels = 128; o.seq = 128;
    o.steps = 2000; o.batch = 8; o.warmup = 100; o.eval_every = 100;
    o.lr = 3e-3f; o.min_lr_frac = 0.1f; o.weight_decay = 0.1f; o.clip = 1.0f;
    o.seed = 1; o.samples = 4;
    return o;
}

static Options finetune_defaults(void) {
    Options o = {0};
    o.tokenizer = "out/tokenizer.merges";
    o.model = "out/gpt1.bin";
    o.train = "data/classify_train.tsv";
    o.test = "data/classify_test.tsv";
    o.out = "out/gpt1_classifier.bin";
    o.log = "plots/gpt1_finetune.tsv";
    o.steps = 100; o.batch = 16; o.warmup = 10; o.eval_every = 5; o.train_size = 100;
    o.lr = 3e-4f; o.min_lr_frac = 0.0f; o.weight_decay = 0.01f; o.clip = 1.0f;
    o.lambda = 0.5f; o.seed = 1; o.ablations = 1;
    return o;
}

/* The tiny preset the end-to-end test uses: same code paths, seconds. */
static void apply_fast(Options *o, int pretrain) {
    if (pretrain) {
        o->layers = 2; o->heads = 2; o->channels = 32; o->seq = 128;  /* the longest reviews are ~70 tokens */
        o->steps = 40; o->batch = 4; o->warmup = 5; o->eval_every = 10; o->samples = 1;
    } else {
        o->steps = 30; o->batch = 8; o->warmup = 3; o->eval_every = 10;
    }
}

/* ---- the token stream (pre-training data) ---- */

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

/* ---- pre-training ---- */

/* Stops the run if a number went bad, naming the step; the checkpoint saved
 * at the last evaluation is left as it was. */
static void check_finite(const char *what, float x, int step, const char *ckpt) {
    if (!isfinite(x)) die("step %d: %s is %g; stopping (the last good checkpoint, %s, is kept)", step, what, (double)x, ckpt);
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

#define EMA_DECAY 0.95f  /* smoothing of the logged training loss */

/* Opens the pre-training log. A fresh run starts it with its header; a
 * resumed run keeps the header and the rows up to the step it resumes from
 * (rows after the last checkpoint were never saved in the model, so they go)
 * and appends from there. */
static FILE *open_log(const char *path, int keep_until_step) {
    static const char *header = "step\ttrain_loss\ttrain_loss_ema\tval_loss\tlr\ttokens_per_s\tunigram_entropy\n";
    if (keep_until_step == 0) {
        FILE *f = fopen_or_die(path, "w");
        fputs(header, f);
        return f;
    }
    FILE *probe = fopen(path, "r");
    if (!probe) return open_log(path, 0);  /* no log to continue: start one */
    fclose(probe);
    size_t len;
    char *old = read_file_or_die(path, &len);
    AtomicFile af;
    atomic_open(&af, path);
    fputs(header, af.f);
    char *line = strchr(old, '\n');  /* skip the old header */
    while (line && *++line) {
        char *end = strchr(line, '\n');
        if (!end) break;  /* a half-written last line */
        if (atoi(line) <= keep_until_step) fwrite_or_die(line, 1, (size_t)(end - line + 1), af.f, af.tmp);
        line = end;
    }
    atomic_commit(&af);
    free(old);
    return fopen_or_die(path, "a");
}

static void pretrain(const Options *o) {
    require_folder_of(o->out);  /* before anything is written, the log included */
    require_folder_of(o->log);
    Tokenizer tok;
    tokenizer_load(&tok, o->tokenizer);
    int V = tok.vocab_size;
    size_t n, nval;
    int *tokens = tokens_load(o->data, &n, V);
    int *val = tokens_load(o->val, &nval, V);
    if (n <= (size_t)o->seq + 1) die("%s has %zu tokens: too few for one sequence of %d", o->data, n, o->seq + 1);
    if (nval <= (size_t)o->seq + 1) die("%s has %zu tokens: too few for one validation sequence of %d", o->val, nval, o->seq + 1);
    if (n > 0x7fffffff) die("%s has %zu tokens; this loader takes at most 2^31", o->data, n);

    GPT m;
    Rng rng;
    float ema = 0.0f, val_loss = NAN;
    int first_step = 0;
    char *state_path = malloc_or_die(strlen(o->out) + 7, "a file name");
    sprintf(state_path, "%s.state", o->out);
    if (o->resume) {
        /* the checkpoint, AdamW's moments and the sampler's RNG state: the
         * run continues exactly as if it had never stopped */
        gpt_load(&m, o->out);
        if (m.config.V != V) die("%s has V=%d but the tokenizer has V=%d", o->out, m.config.V, V);
        rng.state = gpt_load_state(&m, state_path, &ema);
        first_step = m.step;
        if (first_step >= o->steps) {
            printf("%s is already at step %d of %d: nothing left to train\n", o->out, first_step, o->steps);
            free(state_path);
            free(tokens);
            free(val);
            gpt_free(&m);
            tokenizer_free(&tok);
            return;
        }
        printf("resuming %s at step %d\n", o->out, first_step);
    } else {
        gpt_build(&m, gpt_config(o->seq, V, o->layers, o->heads, o->channels), (uint64_t)o->seed);
        rng_seed(&rng, (uint64_t)o->seed + 1000);
    }
    const GPTConfig *cfg = &m.config;
    double h_unigram = unigram_entropy(tokens, n, V);
    printf("pretrain: %zu training tokens, %zu validation tokens, V=%d\n", n, nval, V);
    printf("model: L=%d C=%d NH=%d T=%d, %zu parameters\n", cfg->L, cfg->C, cfg->NH, cfg->maxT, m.num_parameters);
    printf("unigram entropy of the corpus: %.3f nats/token (the loss to beat)\n", h_unigram);

    FILE *log = open_log(o->log, first_step);
    int B = o->batch, T = cfg->maxT;
    int *inputs = malloc_or_die(sizeof(int) * (size_t)B * T, "inputs");
    int *targets = malloc_or_die(sizeof(int) * (size_t)B * T, "targets");
    AdamWConfig adam = {0.9f, 0.95f, 1e-8f, o->weight_decay};
    double t_start = now_seconds();
    for (int step = first_step; step < o->steps; step++) {
        double t0 = now_seconds();
        /* L1: next-token cross-entropy on a random batch of the corpus */
        gpt_random_windows(tokens, n, B, T, inputs, targets, &rng);
        gpt_forward(&m, inputs, B, T);
        float loss = gpt_lm_loss(&m, targets, NULL);
        check_finite("the training loss", loss, step, o->out);
        gpt_zero_grad(&m);
        gpt_lm_loss_backward(&m, targets, NULL, 1.0f);
        gpt_backward(&m, m.dlogits, NULL);
        float norm = gpt_clip_grad(&m, o->clip);
        check_finite("the gradient norm", norm, step, o->out);
        float lr = lr_cosine(step, o->steps, o->warmup, o->lr, o->lr * o->min_lr_frac);
        gpt_update(&m, lr, &adam);
        double dt = now_seconds() - t0;
        ema = step == 0 ? loss : EMA_DECAY * ema + (1.0f - EMA_DECAY) * loss;

        int last = step == o->steps - 1;
        int evaluated = (step % o->eval_every == 0) || last;
        if (evaluated) {
            val_loss = gpt_eval_loss(&m, val, nval, B, T, GPT_EVAL_BATCHES, inputs, targets);
            check_finite("the validation loss", val_loss, step, o->out);
            gpt_save(&m, o->out);  /* the last good checkpoint, replaced atomically */
            gpt_save_state(&m, state_path, rng.state, ema);
        }
        double elapsed = now_seconds() - t_start;
        double left = elapsed / (step + 1 - first_step) * (o->steps - step - 1);
        char val_text[16] = "  -   ";
        if (evaluated) snprintf(val_text, sizeof val_text, "%.4f", val_loss);
        printf("step %4d/%d | loss %.4f (ema %.4f) | val %s | lr %.2e | norm %.2f | %6.0f tok/s | %.0f s left\n",
               step + 1, o->steps, loss, ema, val_text, lr, norm, B * T / dt, left);
        fprintf(log, "%d\t%.5f\t%.5f\t", step + 1, loss, ema);
        if (evaluated) fprintf(log, "%.5f", val_loss); else fputc('-', log);
        fprintf(log, "\t%.6g\t%.0f\t%.5f\n", lr, B * T / dt, h_unigram);
        fflush(log);
    }
    fclose(log);
    printf("pretrain done in %.1f s\n", now_seconds() - t_start);
    printf("summary gpt1 pretrain: val loss %.3f nats/token vs unigram entropy %.3f\n", val_loss, h_unigram);
    printf("checkpoint: %s (llm.c layout)\n", o->out);
    printf("samples (temperature 0.8), each starting from <|endoftext|>:\n");
    for (int s = 0; s < o->samples; s++) print_sample(&m, &tok, 48, 0.8f, &rng);

    free(inputs);
    free(targets);
    free(tokens);
    free(val);
    free(state_path);
    gpt_free(&m);
    tokenizer_free(&tok);
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
                          const Dataset *test, float lambda, int pad, const Options *o, FILE *log) {
    int B = o->batch, K = h->K;
    Batch bt;  /* shared by training batches (B) and evaluation batches (EVAL_BATCH) */
    alloc_batch(&bt, B > EVAL_BATCH ? B : EVAL_BATCH, m->config.maxT);
    int *idx = malloc_or_die(sizeof(int) * (size_t)B, "indices");
    float *logits = malloc_or_die(sizeof(float) * (size_t)B * K, "logits");
    float *probs = malloc_or_die(sizeof(float) * (size_t)B * K, "probs");
    float *losses = malloc_or_die(sizeof(float) * (size_t)B, "losses");
    Rng rng;
    rng_seed(&rng, (uint64_t)o->seed + 2000);  /* the same batches for every run */
    AdamWConfig adam = {0.9f, 0.999f, 1e-8f, o->weight_decay};
    float acc = accuracy(m, h, test, &bt, EVAL_BATCH, pad);
    printf("[%s] lambda=%.2f  step 0: test accuracy %.3f\n", name, lambda, acc);
    fprintf(log, "%s\t0\t-\t-\t-\t-\t%.4f\n", name, acc);
    for (int step = 1; step <= o->steps; step++) {
        for (int b = 0; b < B; b++) idx[b] = rng_below(&rng, train->n);
        make_batch(&bt, train, idx, B, pad);
        StepResult r = finetune_step(m, h, &bt, lambda, logits, probs, losses);
        check_finite("the fine-tuning loss", r.l3, step, o->out);
        float norm = head_clip_together(h, m->grads_memory, m->num_parameters, o->clip);
        check_finite("the gradient norm", norm, step, o->out);
        float lr = lr_cosine(step - 1, o->steps, o->warmup, o->lr, o->lr * o->min_lr_frac);
        gpt_update(m, lr, &adam);
        head_update(h, lr, &adam);
        int evaluated = step % o->eval_every == 0 || step == o->steps;
        if (evaluated) acc = accuracy(m, h, test, &bt, EVAL_BATCH, pad);
        if (evaluated) {
            printf("[%s] step %3d/%d | L3 %.4f = L2 %.4f + %.2f x L1 %.4f | batch acc %.2f | test acc %.3f\n",
                   name, step, o->steps, r.l3, r.l2, lambda, r.l1, (float)r.correct / B, acc);
        }
        fprintf(log, "%s\t%d\t%.5f\t%.5f\t%.5f\t%.4f\t", name, step, r.l3, r.l2, r.l1, (float)r.correct / B);
        if (evaluated) fprintf(log, "%.4f\n", acc); else fputs("-\n", log);
        fflush(log);
    }
    free(idx);
    free(logits);
    free(probs);
    free(losses);
    free_batch(&bt);
    return acc;
}

static void finetune(const Options *o) {
    require_folder_of(o->out);
    require_folder_of(o->log);
    Tokenizer tok;
    tokenizer_load(&tok, o->tokenizer);
    GPT m;
    gpt_load(&m, o->model);
    if (m.config.V != tok.vocab_size) {
        die("%s has a vocabulary of %d tokens, but the tokenizer %s has %d: they do not belong together",
            o->model, m.config.V, o->tokenizer, tok.vocab_size);
    }
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
    FILE *log = fopen_or_die(o->log, "w");
    fprintf(log, "run\tstep\tl3\tl2_classifier\tl1_lm\tbatch_acc\ttest_acc\n");

    /* the main run: pre-trained trunk, lambda as given */
    LinearHead h;
    head_build(&h, K, m.config.C, 0.02f, (uint64_t)o->seed);
    float acc_main = finetune_run("pretrained", &m, &h, &train, &test, o->lambda, pad, o, log);
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
        float acc_nolm = finetune_run("pretrained_lambda0", &m, &h, &train, &test, 0.0f, pad, o, log);
        GPTConfig cfg = m.config;
        head_free(&h);
        gpt_free(&m);
        /* ablation 2: no pre-training (same architecture, random init) */
        gpt_build(&m, cfg, (uint64_t)o->seed);
        head_build(&h, K, cfg.C, 0.02f, (uint64_t)o->seed);
        float acc_rand = finetune_run("random_init", &m, &h, &train, &test, o->lambda, pad, o, log);
        head_free(&h);
        gpt_free(&m);
        printf("summary gpt1 finetune: test accuracy after %d steps: pretrained %.3f | lambda=0 %.3f | "
               "random init %.3f (chance %.3f)\n", o->steps, acc_main, acc_nolm, acc_rand, 1.0 / K);
    } else {
        printf("summary gpt1 finetune: test accuracy after %d steps: pretrained %.3f (chance %.3f)\n",
               o->steps, acc_main, 1.0 / K);
    }
    fclose(log);
    free_dataset(&train);
    free_dataset(&test);
    tokenizer_free(&tok);
}

/* ---- main ---- */

static void usage(void) {
    Options p = pretrain_defaults(), f = finetune_defaults();
    printf("usage: gpt1 pretrain [flags]   train a GPT on the toy corpus (GPT-1 section 3.1)\n"
           "       gpt1 finetune [flags]   add a linear classifier, train with L3 = L2 + lambda L1 (3.2),\n"
           "                               then the two ablations (random init; lambda = 0)\n"
           "pretrain flags (default):\n"
           "  --data PATH        training tokens (%s)\n"
           "  --val PATH         validation tokens (%s)\n"
           "  --tokenizer PATH   tokenizer merges (%s)\n"
           "  --out PATH         checkpoint to write, llm.c layout (%s)\n"
           "  --log PATH         TSV log, one row per step (%s)\n"
           "  --layers N         transformer blocks L (%d)\n"
           "  --heads N          attention heads NH (%d)\n"
           "  --channels N       width C (%d)\n"
           "  --seq N            context length T (%d)\n"
           "  --steps N          optimisation steps (%d)\n"
           "  --batch N          sequences per step (%d)\n"
           "  --lr X             peak learning rate (%g)\n"
           "  --warmup N         warm-up steps (%d)\n"
           "  --min-lr-frac X    final lr as a fraction of the peak, cosine decay (%g)\n"
           "  --weight-decay X   AdamW decay on 2-D weights (%g)\n"
           "  --clip X           gradient-norm clip (%g)\n"
           "  --eval-every N     validate and checkpoint every N steps (%d)\n"
           "  --samples N        text samples printed at the end (%d)\n"
           "  --resume           continue from --out and --out.state (saved at every evaluation);\n"
           "                     the shape flags are then read from the checkpoint\n"
           "finetune flags (default):\n"
           "  --model PATH       pre-trained checkpoint (%s)\n"
           "  --train PATH       labelled training TSV: label<TAB>text (%s)\n"
           "  --test PATH        labelled test TSV (%s)\n"
           "  --out PATH         fine-tuned checkpoint; its head goes beside it as .head (%s)\n"
           "  --log PATH         TSV log of all runs (%s)\n"
           "  --steps N (%d)  --batch N (%d)  --lr X (%g)  --warmup N (%d)  --eval-every N (%d)\n"
           "  --weight-decay X (%g)  --clip X (%g)\n"
           "  --lambda X         weight of the auxiliary LM loss L1 (%g)\n"
           "  --train-size N     use only the first N labelled examples, 0 = all (%d)\n"
           "  --no-ablations     run only the main fine-tuning run\n"
           "common flags:\n"
           "  --seed N           random seed (%d)\n"
           "  --threads N        OpenMP threads, 0 = all cores (0)\n"
           "  --fast             tiny settings for tests (seconds, not minutes)\n"
           "  --help             this text\n",
           p.data, p.val, p.tokenizer, p.out, p.log, p.layers, p.heads, p.channels, p.seq, p.steps,
           p.batch, (double)p.lr, p.warmup, (double)p.min_lr_frac, (double)p.weight_decay,
           (double)p.clip, p.eval_every, p.samples, f.model, f.train, f.test, f.out, f.log, f.steps,
           f.batch, (double)f.lr, f.warmup, f.eval_every, (double)f.weight_decay, (double)f.clip,
           (double)f.lambda, f.train_size, p.seed);
}

enum {
    OPT_DATA = 256, OPT_VAL, OPT_TOKENIZER, OPT_MODEL, OPT_OUT, OPT_LOG, OPT_TRAIN, OPT_TEST,
    OPT_LAYERS, OPT_HEADS, OPT_CHANNELS, OPT_SEQ, OPT_STEPS, OPT_BATCH, OPT_LR, OPT_WARMUP,
    OPT_MINLR, OPT_WD, OPT_CLIP, OPT_EVAL, OPT_SAMPLES, OPT_LAMBDA, OPT_NOABL, OPT_SEED,
    OPT_THREADS, OPT_FAST, OPT_HELP, OPT_TRAINSIZE, OPT_RESUME
};

/* Parses argv (after the sub-command) into o; --fast is applied first so that
 * explicit flags still win over it. */
static void parse_flags(Options *o, int pretrain_mode, int argc, char **argv) {
    static const struct option longopts[] = {
        {"data", 1, 0, OPT_DATA}, {"val", 1, 0, OPT_VAL}, {"tokenizer", 1, 0, OPT_TOKENIZER},
        {"model", 1, 0, OPT_MODEL}, {"out", 1, 0, OPT_OUT}, {"log", 1, 0, OPT_LOG},
        {"train", 1, 0, OPT_TRAIN}, {"test", 1, 0, OPT_TEST}, {"layers", 1, 0, OPT_LAYERS},
        {"heads", 1, 0, OPT_HEADS}, {"channels", 1, 0, OPT_CHANNELS}, {"seq", 1, 0, OPT_SEQ},
        {"steps", 1, 0, OPT_STEPS}, {"batch", 1, 0, OPT_BATCH}, {"lr", 1, 0, OPT_LR},
        {"warmup", 1, 0, OPT_WARMUP}, {"min-lr-frac", 1, 0, OPT_MINLR},
        {"weight-decay", 1, 0, OPT_WD}, {"clip", 1, 0, OPT_CLIP}, {"eval-every", 1, 0, OPT_EVAL},
        {"samples", 1, 0, OPT_SAMPLES}, {"lambda", 1, 0, OPT_LAMBDA},
        {"no-ablations", 0, 0, OPT_NOABL}, {"train-size", 1, 0, OPT_TRAINSIZE},
        {"resume", 0, 0, OPT_RESUME}, {"seed", 1, 0, OPT_SEED},
        {"threads", 1, 0, OPT_THREADS}, {"fast", 0, 0, OPT_FAST}, {"help", 0, 0, OPT_HELP},
        {0, 0, 0, 0}};
    for (int i = 1; i < argc; i++) if (strcmp(argv[i], "--fast") == 0) apply_fast(o, pretrain_mode);
    const char *mode = pretrain_mode ? "pretrain" : "finetune";
    int opt;
    opterr = 0;
    /* the leading ':' makes getopt return ':' for a flag missing its value */
    while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        const char *a = optarg;
        switch (opt) {
        case OPT_DATA: o->data = a; break;
        case OPT_VAL: o->val = a; break;
        case OPT_TOKENIZER: o->tokenizer = a; break;
        case OPT_MODEL: o->model = a; break;
        case OPT_OUT: o->out = a; break;
        case OPT_LOG: o->log = a; break;
        case OPT_TRAIN: o->train = a; break;
        case OPT_TEST: o->test = a; break;
        case OPT_LAYERS: o->layers = (int)parse_long_flag("layers", a, 1, 64); break;
        case OPT_HEADS: o->heads = (int)parse_long_flag("heads", a, 1, 256); break;
        case OPT_CHANNELS: o->channels = (int)parse_long_flag("channels", a, 1, 4096); break;
        case OPT_SEQ: o->seq = (int)parse_long_flag("seq", a, 2, 4096); break;
        case OPT_STEPS: o->steps = (int)parse_long_flag("steps", a, 1, 10000000); break;
        case OPT_BATCH: o->batch = (int)parse_long_flag("batch", a, 1, 4096); break;
        case OPT_LR: o->lr = parse_float_flag("lr", a, 0.0f, 1.0f); break;
        case OPT_WARMUP: o->warmup = (int)parse_long_flag("warmup", a, 0, 10000000); break;
        case OPT_MINLR: o->min_lr_frac = parse_float_flag("min-lr-frac", a, 0.0f, 1.0f); break;
        case OPT_WD: o->weight_decay = parse_float_flag("weight-decay", a, 0.0f, 10.0f); break;
        case OPT_CLIP: o->clip = parse_float_flag("clip", a, 0.0f, 1e6f); break;
        case OPT_EVAL: o->eval_every = (int)parse_long_flag("eval-every", a, 1, 10000000); break;
        case OPT_SAMPLES: o->samples = (int)parse_long_flag("samples", a, 0, 1000); break;
        case OPT_LAMBDA: o->lambda = parse_float_flag("lambda", a, 0.0f, 100.0f); break;
        case OPT_NOABL: o->ablations = 0; break;
        case OPT_RESUME: o->resume = 1; break;
        case OPT_TRAINSIZE: o->train_size = (int)parse_long_flag("train-size", a, 0, 100000000); break;
        case OPT_SEED: o->seed = (int)parse_long_flag("seed", a, 0, 2147483647); break;
        case OPT_THREADS: o->threads = (int)parse_long_flag("threads", a, 0, 1024); break;
        case OPT_FAST: break;  /* applied above */
        case OPT_HELP: usage(); exit(0);
        case ':': die("%s needs a value (see gpt1 --help)", argv[optind - 1]);
        default: die("unknown flag %s for gpt1 %s (see gpt1 --help)", argv[optind - 1], mode);
        }
    }
    if (optind < argc) die("unexpected argument '%s' (see gpt1 --help)", argv[optind]);
    if (pretrain_mode && o->channels % o->heads != 0) {
        die("--channels %d is not divisible by --heads %d", o->channels, o->heads);
    }
}

#ifndef TESTING
int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);  /* progress lines appear as they happen, even in a pipe */
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage();
        return argc < 2 ? 1 : 0;
    }
    int is_pretrain = strcmp(argv[1], "pretrain") == 0;
    if (!is_pretrain && strcmp(argv[1], "finetune") != 0) {
        die("unknown command '%s': expected pretrain or finetune (see gpt1 --help)", argv[1]);
    }
    Options o = is_pretrain ? pretrain_defaults() : finetune_defaults();
    parse_flags(&o, is_pretrain, argc - 1, argv + 1);
    set_threads(o.threads);
    if (is_pretrain) pretrain(&o); else finetune(&o);
    return 0;
}
#endif
